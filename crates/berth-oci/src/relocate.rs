//! Relocation: the one deterministic mapping from an image's source reference to its place
//! in a customer registry, used both by `berth bundle push` (where to push) and at install
//! time (what to write into pod specs). References are rewritten by digest, so what runs
//! is exactly what the vendor released.
//!
//! Mapping rule: `<registry>/<prefix>/<source repository>` keeping the source repository
//! path (`docker.io/library/nginx:1.25` → `reg.corp:5000/apps/library/nginx@sha256:…`).
//! No hashes in names: admins can read and mirror them.

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::reference::Reference;
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A customer registry location: `host[:port][/prefix]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Host and optional port.
    pub registry: String,
    /// Repository prefix (may be empty).
    pub prefix: String,
}

impl Target {
    /// Parse `host[:port][/prefix]`.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim().trim_end_matches('/');
        let s = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .unwrap_or(s);
        let (registry, prefix) = s.split_once('/').unwrap_or((s, ""));
        let ok_host = !registry.is_empty()
            && registry
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
        let ok_prefix = prefix.is_empty()
            || prefix.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !ok_host || !ok_prefix {
            return Err(Error::Usage(format!(
                "invalid registry {s:?}: expected host[:port][/prefix] with a lowercase prefix, for example registry.corp:5000/vendor"
            )));
        }
        Ok(Target {
            registry: registry.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// Where `source` goes in this registry (tag and digest kept).
    pub fn map(&self, source: &Reference) -> Reference {
        let repository = if self.prefix.is_empty() {
            source.repository.clone()
        } else {
            format!("{}/{}", self.prefix, source.repository)
        };
        Reference {
            registry: self.registry.clone(),
            repository,
            tag: source.tag.clone(),
            digest: source.digest.clone(),
        }
    }
}

/// Source image → relocated reference, built from the images of a release.
#[derive(Clone, Debug, Default)]
pub struct Mapping {
    /// Normalised `registry/repo:tag` or `registry/repo@digest` → relocated `…@digest`.
    entries: BTreeMap<String, String>,
    /// Image pull secret to reference from every pod spec, when credentials are given.
    pub pull_secret: Option<String>,
}

impl Mapping {
    /// Build from `(source reference, resolved digest)` pairs of a release.
    pub fn new<'a>(
        target: &Target,
        images: impl IntoIterator<Item = (&'a Reference, &'a Digest)>,
    ) -> Self {
        let mut entries = BTreeMap::new();
        for (src, digest) in images {
            let mut to = target.map(src);
            to.tag = None;
            to.digest = Some(digest.clone());
            let to = to.to_string();
            let name = src.name();
            if let Some(t) = &src.tag {
                entries.insert(format!("{name}:{t}"), to.clone());
            }
            entries.insert(format!("{name}@{digest}"), to.clone());
            if let Some(d) = &src.digest {
                entries.insert(format!("{name}@{d}"), to);
            }
        }
        Mapping {
            entries,
            pull_secret: None,
        }
    }

    /// Reference a pull secret from every pod spec.
    pub fn with_pull_secret(mut self, name: &str) -> Self {
        self.pull_secret = Some(name.to_string());
        self
    }

    /// The relocated reference for an image string as written in a manifest.
    pub fn lookup(&self, image: &str) -> Option<&str> {
        let r = Reference::parse(image).ok()?;
        let name = r.name();
        if let Some(d) = &r.digest
            && let Some(v) = self.entries.get(&format!("{name}@{d}"))
        {
            return Some(v);
        }
        r.tag
            .as_ref()
            .and_then(|t| self.entries.get(&format!("{name}:{t}")))
            .map(String::as_str)
    }

    /// Number of source keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Where an image is used: `kind/name` plus the JSON path of the `image` field.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImageUse {
    /// The image string as written.
    pub image: String,
    /// `kind/name` of the object.
    pub object: String,
    /// JSON path of the field (`spec.template.spec.containers[0].image`).
    pub path: String,
}

fn object_id(obj: &Value) -> String {
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("object")
        .to_lowercase();
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    match obj.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) => format!("{kind}/{name} in namespace {ns}"),
        None => format!("{kind}/{name}"),
    }
}

/// Visit every pod spec in an object: any map holding a `containers` list (Pods, every
/// workload template, CronJob job templates, and custom resources that embed pod specs).
fn visit_pod_specs(
    v: &mut Value,
    path: &str,
    f: &mut dyn FnMut(&mut serde_json::Map<String, Value>, &str),
) {
    match v {
        Value::Object(m) => {
            if m.get("containers").is_some_and(Value::is_array) {
                f(m, path);
            }
            for (k, child) in m.iter_mut() {
                if child.is_object() || child.is_array() {
                    visit_pod_specs(
                        child,
                        &format!("{path}{}{k}", if path.is_empty() { "" } else { "." }),
                        f,
                    );
                }
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter_mut().enumerate() {
                visit_pod_specs(child, &format!("{path}[{i}]"), f);
            }
        }
        _ => {}
    }
}

const CONTAINER_LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// Every image used by pod specs in the objects (containers, initContainers,
/// ephemeralContainers, in every workload kind, hooks included). Pure.
pub fn collect_images(objects: &[Value]) -> Vec<ImageUse> {
    let mut out = Vec::new();
    for obj in objects {
        let id = object_id(obj);
        let mut copy = obj.clone();
        visit_pod_specs(&mut copy, "", &mut |spec, path| {
            for list in CONTAINER_LISTS {
                if let Some(Value::Array(cs)) = spec.get(list) {
                    for (i, c) in cs.iter().enumerate() {
                        if let Some(img) = c.get("image").and_then(Value::as_str) {
                            out.push(ImageUse {
                                image: img.to_string(),
                                object: id.clone(),
                                path: format!("{path}.{list}[{i}].image"),
                            });
                        }
                    }
                }
            }
        });
    }
    out
}

/// What relocation changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Image fields rewritten.
    pub rewritten: usize,
    /// Pod specs given the pull secret.
    pub secrets_added: usize,
}

/// Rewrite every image reference in rendered objects to the customer registry, by digest,
/// and reference the pull secret when the mapping names one. Fails, changing nothing, when
/// an image is not part of the release (it would not exist in the customer registry).
pub fn relocate_objects(objects: &mut [Value], mapping: &Mapping) -> Result<Report> {
    let missing: Vec<String> = collect_images(objects)
        .into_iter()
        .filter(|u| mapping.lookup(&u.image).is_none())
        .map(|u| format!("{} ({} at {})", u.image, u.object, u.path))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Release(format!(
            "these images are not in the release, so they would be missing from the customer registry: {}; add them to `images:` in berth.yaml and rebuild the release",
            missing.join(", ")
        )));
    }
    let mut report = Report::default();
    for obj in objects.iter_mut() {
        visit_pod_specs(obj, "", &mut |spec, _| {
            for list in CONTAINER_LISTS {
                if let Some(Value::Array(cs)) = spec.get_mut(list) {
                    for c in cs.iter_mut() {
                        let new = c
                            .get("image")
                            .and_then(Value::as_str)
                            .and_then(|i| mapping.lookup(i))
                            .map(String::from);
                        if let (Some(new), Some(m)) = (new, c.as_object_mut()) {
                            m.insert("image".into(), Value::String(new));
                            report.rewritten += 1;
                        }
                    }
                }
            }
            if let Some(secret) = &mapping.pull_secret {
                let list = spec
                    .entry("imagePullSecrets")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = list
                    && !a
                        .iter()
                        .any(|s| s.get("name").and_then(Value::as_str) == Some(secret))
                {
                    a.push(json!({ "name": secret }));
                    report.secrets_added += 1;
                }
            }
        });
    }
    Ok(report)
}

/// The name of the pull Secret berth creates for a customer registry that needs a login (in
/// every namespace whose pods it relocates), used by `berth install --pull-username` and the
/// support matrix's `--registry-auth` cells alike.
pub const PULL_SECRET: &str = "berth-registry";

/// A `kubernetes.io/dockerconfigjson` Secret for the customer registry.
pub fn pull_secret_object(
    name: &str,
    namespace: &str,
    registry: &str,
    username: &str,
    password: &str,
) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let auth = b64.encode(format!("{username}:{password}"));
    let cfg = json!({ "auths": { registry: { "username": username, "password": password, "auth": auth } } });
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": name, "namespace": namespace, "labels": { "app.kubernetes.io/managed-by": "berth" } },
        "type": "kubernetes.io/dockerconfigjson",
        "data": { ".dockerconfigjson": b64.encode(cfg.to_string()) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objs() -> Vec<Value> {
        vec![
            json!({"kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"spec":{
                "initContainers":[{"name":"init","image":"busybox:1.36"}],
                "containers":[{"name":"app","image":"ghcr.io/acme/web:2.0"}]}}}}),
            json!({"kind":"CronJob","metadata":{"name":"nightly","annotations":{"helm.sh/hook":"post-install"}},
                "spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"ghcr.io/acme/jobs:1"}]}}}}}}),
            json!({"kind":"Pod","metadata":{"name":"dbg"},"spec":{"containers":[{"name":"a","image":"ghcr.io/acme/web:2.0"}],
                "ephemeralContainers":[{"name":"e","image":"busybox:1.36"}]}}),
            json!({"kind":"ConfigMap","metadata":{"name":"c"},"data":{"image":"not-an-image-field"}}),
        ]
    }

    #[test]
    fn collects_all_workload_images() {
        let uses = collect_images(&objs());
        let imgs: Vec<&str> = uses.iter().map(|u| u.image.as_str()).collect();
        assert_eq!(
            imgs,
            [
                "busybox:1.36",
                "ghcr.io/acme/web:2.0",
                "ghcr.io/acme/jobs:1",
                "ghcr.io/acme/web:2.0",
                "busybox:1.36"
            ]
        );
        assert_eq!(
            uses[2].path,
            "spec.jobTemplate.spec.template.spec.containers[0].image"
        );
    }

    #[test]
    fn relocates_by_digest_and_adds_secret() {
        let t = Target::parse("reg.corp:5000/vendor").unwrap();
        let refs: Vec<(Reference, Digest)> = [
            "busybox:1.36",
            "ghcr.io/acme/web:2.0",
            "ghcr.io/acme/jobs:1",
        ]
        .iter()
        .map(|s| (Reference::parse(s).unwrap(), Digest::of(s.as_bytes())))
        .collect();
        let m = Mapping::new(&t, refs.iter().map(|(r, d)| (r, d))).with_pull_secret("regcred");
        let mut o = objs();
        let rep = relocate_objects(&mut o, &m).unwrap();
        assert_eq!(rep.rewritten, 5);
        assert_eq!(rep.secrets_added, 3);
        let web = o[0]
            .pointer("/spec/template/spec/containers/0/image")
            .unwrap()
            .as_str()
            .unwrap();
        assert_eq!(
            web,
            format!(
                "reg.corp:5000/vendor/acme/web@{}",
                Digest::of(b"ghcr.io/acme/web:2.0")
            )
        );
        let bb = o[2]
            .pointer("/spec/ephemeralContainers/0/image")
            .unwrap()
            .as_str()
            .unwrap();
        assert!(bb.starts_with("reg.corp:5000/vendor/library/busybox@sha256:"));
        // Same mapping as push.
        assert_eq!(
            t.map(&refs[0].0).name(),
            "reg.corp:5000/vendor/library/busybox"
        );
        // An image not in the release is an error and nothing changes.
        let mut extra = vec![
            json!({"kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","image":"other:1"}]}}),
        ];
        let before = extra.clone();
        let e = relocate_objects(&mut extra, &m).unwrap_err().to_string();
        assert!(e.contains("other:1") && e.contains("pod/x"), "{e}");
        assert_eq!(extra, before);
        assert!(Target::parse("bad host/x").is_err());
        let s = pull_secret_object("regcred", "shop", "reg.corp:5000", "u", "p");
        assert_eq!(s["type"], "kubernetes.io/dockerconfigjson");
    }
}
