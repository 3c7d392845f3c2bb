//! Turning rendered template files into Kubernetes objects the way Helm v4 does:
//! split each file on `---` (Helm's `SplitManifests`), read each document's head
//! (apiVersion, kind, metadata), separate hooks (`helm.sh/hook`), and sort both by
//! Helm's install order of kinds.

use crate::error::ChartError;
use regex::Regex;
use serde_json::Value;
use std::sync::Arc;
use std::sync::OnceLock;

/// What sorting reads of a document: its kind, `metadata.name` and the `helm.sh/hook*`
/// annotations, and the object when it had to be read in full.
struct DocHead {
    kind: String,
    name: String,
    annotations: Vec<(String, String)>,
    object: Option<Value>,
}

/// One rendered Kubernetes object (a document of a template file).
///
/// Sorting reads only a document's head (see `head.rs`); the object tree is built when a
/// consumer asks for it ([`Manifest::object`], [`Manifest::into_object`]).
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The template that produced it, e.g. `web/templates/deployment.yaml`.
    pub source_path: String,
    /// The document text exactly as Helm keeps it (left-trimmed).
    pub yaml_text: String,
    /// Its `kind` (empty when absent).
    pub kind: String,
    /// The parsed object, once read (null for a comment-only document).
    object: OnceLock<Value>,
}

impl PartialEq for Manifest {
    fn eq(&self, o: &Manifest) -> bool {
        self.source_path == o.source_path && self.yaml_text == o.yaml_text && self.kind == o.kind
    }
}

impl Manifest {
    /// A manifest of `yaml_text` from `source_path`, with its kind and, when already read,
    /// its object.
    pub fn new(
        source_path: String,
        yaml_text: String,
        kind: String,
        object: Option<Value>,
    ) -> Self {
        let cell = OnceLock::new();
        if let Some(v) = object {
            let _ = cell.set(v);
        }
        Manifest {
            source_path,
            yaml_text,
            kind,
            object: cell,
        }
    }

    fn parse(&self) -> Result<Value, ChartError> {
        crate::yaml::parse_object(&self.yaml_text).map_err(|message| ChartError::Manifest {
            path: self.source_path.clone(),
            message,
        })
    }

    /// The parsed object (null for a comment-only document), read on first use. Integers
    /// stay integers, as in Kubernetes JSON.
    pub fn object(&self) -> Result<&Value, ChartError> {
        if let Some(v) = self.object.get() {
            return Ok(v);
        }
        let v = self.parse()?;
        Ok(self.object.get_or_init(|| v))
    }

    /// The parsed object, consuming the manifest.
    pub fn into_object(self) -> Result<Value, ChartError> {
        match self.object.into_inner() {
            Some(v) => Ok(v),
            None => {
                crate::yaml::parse_object(&self.yaml_text).map_err(|message| ChartError::Manifest {
                    path: self.source_path,
                    message,
                })
            }
        }
    }
}

/// A hook: a document annotated with `helm.sh/hook`.
#[derive(Clone, Debug, PartialEq)]
pub struct Hook {
    /// The rendered document.
    pub manifest: Manifest,
    /// `metadata.name`.
    pub name: String,
    /// Lower-cased events, e.g. `pre-install`.
    pub events: Vec<String>,
    /// `helm.sh/hook-weight` (0 when absent or not an integer).
    pub weight: i64,
    /// `helm.sh/hook-delete-policy` entries.
    pub delete_policies: Vec<String>,
    /// `helm.sh/hook-output-log-policy` entries.
    pub output_log_policies: Vec<String>,
}

/// Helm's install order of kinds; unknown kinds go last, sorted by name.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];

fn separator() -> &'static Regex {
    static SEP: OnceLock<Regex> = OnceLock::new();
    // RE2's \s is ASCII [\t\n\f\r ]; spell it out so Unicode spaces do not count.
    SEP.get_or_init(|| {
        Regex::new(r"(?:^|[\t\n\x0C\r ]*\n)---[\t\n\x0C\r ]*").unwrap_or_else(|_| unreachable!())
    })
}

fn is_go_space(c: char) -> bool {
    c.is_whitespace()
}

/// Helm v4's `SplitManifests`: the non-blank documents of a file, each left-trimmed.
pub fn split_manifests(text: &str) -> Vec<&str> {
    let text = text.trim_start_matches(is_go_space);
    separator()
        .split(text)
        .filter(|d| !d.trim_matches(is_go_space).is_empty())
        .map(|d| d.trim_start_matches(is_go_space))
        .collect()
}

fn kind_rank(kind: &str) -> Option<usize> {
    INSTALL_ORDER.iter().position(|k| *k == kind)
}

/// Helm's `lessByKind` as a total order usable by a stable sort.
pub fn kind_order(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (kind_rank(a), kind_rank(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Less,
        (None, Some(_)) => Greater,
        (None, None) => a.cmp(b),
    }
}

fn string_map(obj: &Value, path: &str) -> Result<Vec<(String, String)>, String> {
    let Some(ann) = obj.get("metadata").and_then(|m| m.get("annotations")) else {
        return Ok(Vec::new());
    };
    match ann {
        Value::Null => Ok(Vec::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Null => Ok((k.clone(), String::new())),
                other => Err(format!(
                    "{path}: annotation {k} must be a string, found {other}; quote it"
                )),
            })
            .collect(),
        _ => Err(format!("{path}: metadata.annotations must be a mapping")),
    }
}

/// Heads of rendered documents by text: a chart rendered again (`berth dev`, the console)
/// mostly renders the same documents, and finding one is cheaper than scanning it. Keyed by
/// the whole text, so an entry cannot be stale.
static HEADS: std::sync::LazyLock<berth_template::memo::Memo<Option<Arc<crate::head::Head>>>> =
    std::sync::LazyLock::new(|| berth_template::memo::Memo::new(16 << 20));

/// Forgets the heads kept (for measurements of a first render).
pub(crate) fn clear_heads() {
    HEADS.clear();
}

/// The head of one rendered document: from the one-pass scan when the document is in the
/// subset it checks, else from the full object (which is then kept).
fn doc_head(doc: &str, path: &str) -> Result<DocHead, ChartError> {
    let scanned = HEADS.get_or_try("", doc, || {
        match berth_template::bytes::yaml_utf8_error(doc) {
            Some(why) => Err(why),
            None => Ok(crate::head::scan(doc).map(Arc::new)),
        }
    });
    match scanned {
        // Helm writes the lone bytes of a cut character (`trunc`, `substr`, `abbrev` inside
        // a multi-byte character) into the manifest, and its YAML reader refuses them.
        Err(why) => Err(ChartError::Manifest {
            path: path.to_owned(),
            message: format!(
                "error converting YAML to JSON: yaml: {why} (a string cut inside a multi-byte character, e.g. by trunc, substr or abbrev, or bytes that are not UTF-8; quote or b64enc it, or cut at a character boundary)"
            ),
        }),
        Ok(Some(h)) => Ok(DocHead {
            kind: h.kind.clone(),
            name: h.name.clone(),
            annotations: h.hook_annotations.clone(),
            object: h.null.then_some(Value::Null),
        }),
        Ok(None) => full_head(doc, path),
    }
}

/// [`doc_head`] through the full reader.
fn full_head(doc: &str, path: &str) -> Result<DocHead, ChartError> {
    let err = |message: String| ChartError::Manifest {
        path: path.to_owned(),
        message,
    };
    let object = crate::yaml::parse_object(doc).map_err(err)?;
    if !(object.is_null() || object.is_object()) {
        return Err(err(format!(
            "a document must be a mapping (a Kubernetes object), found {}",
            crate::yaml::kind_name(&object)
        )));
    }
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let annotations = string_map(&object, path).map_err(err)?;
    let name = object
        .get("metadata")
        .and_then(|x| x.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(DocHead {
        kind,
        name,
        annotations,
        object: Some(object),
    })
}

/// Test support: `None` when the one-pass head scan leaves `doc` to the full reader, else
/// whether the full reader accepts it with the same head.
#[doc(hidden)]
pub fn head_scan_check(doc: &str) -> Option<Result<(), String>> {
    let h = crate::head::scan(doc)?;
    Some(match full_head(doc, "doc") {
        Err(e) => Err(format!(
            "the scan accepts what the full reader refuses: {e}"
        )),
        Ok(f) => {
            let hooks: Vec<(String, String)> = f
                .annotations
                .into_iter()
                .filter(|(k, _)| k.starts_with("helm.sh/hook"))
                .collect();
            let null = f.object.as_ref().is_some_and(Value::is_null);
            if (
                h.kind.as_str(),
                h.name.as_str(),
                &h.hook_annotations,
                h.null,
            ) == (f.kind.as_str(), f.name.as_str(), &hooks, null)
            {
                Ok(())
            } else {
                Err(format!(
                    "heads differ: scan {h:?}, full reader kind {:?} name {:?} hooks {hooks:?} null {null}",
                    f.kind, f.name
                ))
            }
        }
    })
}

/// Splits, classifies and sorts rendered files (path → text), as Helm's
/// `SortManifests` with the install order. Files whose basename starts with `_`
/// and blank files are skipped. Returns (hooks, manifests).
pub fn sort_manifests(
    files: &[(String, String)],
) -> Result<(Vec<Hook>, Vec<Manifest>), ChartError> {
    let mut paths: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    paths.sort_by(|a, b| a.0.cmp(b.0));
    sort_files(paths.into_iter())
}

/// [`sort_manifests`] of files already in path order.
pub(crate) fn sort_files<'a>(
    files: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<(Vec<Hook>, Vec<Manifest>), ChartError> {
    let mut hooks = Vec::new();
    let mut generic = Vec::new();
    for (path, content) in files {
        let base = path.rsplit('/').next().unwrap_or(path);
        if base.starts_with('_') || content.trim_matches(is_go_space).is_empty() {
            continue;
        }
        for doc in split_manifests(content) {
            let DocHead {
                kind,
                name,
                annotations,
                object,
            } = doc_head(doc, path)?;
            let m = Manifest::new(path.to_owned(), doc.to_owned(), kind, object);
            let get = |k: &str| {
                annotations
                    .iter()
                    .find(|(a, _)| a == k)
                    .map(|(_, v)| v.as_str())
            };
            let Some(hook_types) = get("helm.sh/hook") else {
                generic.push(m);
                continue;
            };
            let mut events = Vec::new();
            let mut unknown = false;
            for t in hook_types.split(',') {
                let t = t.trim().to_lowercase();
                if !HOOK_EVENTS.contains(&t.as_str()) {
                    unknown = true;
                    break;
                }
                events.push(t);
            }
            if unknown {
                // Helm drops a document with an unknown hook event entirely.
                continue;
            }
            let list = |k: &str| -> Vec<String> {
                get(k)
                    .map(|v| v.split(',').map(|p| p.trim().to_lowercase()).collect())
                    .unwrap_or_default()
            };
            hooks.push(Hook {
                name,
                events,
                weight: get("helm.sh/hook-weight")
                    .and_then(|w| w.parse::<i64>().ok())
                    .unwrap_or(0),
                delete_policies: list("helm.sh/hook-delete-policy"),
                output_log_policies: list("helm.sh/hook-output-log-policy"),
                manifest: m,
            });
        }
    }
    generic.sort_by(|a, b| kind_order(&a.kind, &b.kind));
    hooks.sort_by(|a, b| kind_order(&a.manifest.kind, &b.manifest.kind));
    Ok((hooks, generic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_helm_v4() {
        assert_eq!(split_manifests("a: 1\n---\nb: 2\n"), vec!["a: 1", "b: 2\n"]);
        // As with Go's regexp, a separator's trailing whitespace swallows the newline
        // the next `---` would need, so that one stays in the document.
        assert_eq!(
            split_manifests("---\na: 1\n---   \n\n---\nb: 2"),
            vec!["a: 1", "---\nb: 2"]
        );
        assert_eq!(split_manifests("  \n"), Vec::<&str>::new());
        // `---` inside a line is not a separator.
        assert_eq!(split_manifests("a: x---y\n"), vec!["a: x---y\n"]);
    }

    #[test]
    fn sorts_by_kind_then_name_and_separates_hooks() {
        let files = vec![
            (
                "c/templates/b.yaml".to_owned(),
                "kind: Deployment\nmetadata: {name: d}\n---\nkind: Zed\n---\nkind: Alpha\n---\n# only a comment\n".to_owned(),
            ),
            ("c/templates/a.yaml".to_owned(), "kind: Service\n---\nkind: Namespace\n".to_owned()),
            (
                "c/templates/h.yaml".to_owned(),
                "kind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: Pre-Install, post-upgrade\n    helm.sh/hook-weight: \"-5\"\n---\nkind: Job\nmetadata:\n  annotations:\n    helm.sh/hook: pre-install,bogus\n".to_owned(),
            ),
            ("c/templates/_h.tpl".to_owned(), "kind: Secret\n".to_owned()),
        ];
        let (hooks, ms) = sort_manifests(&files).unwrap();
        let kinds: Vec<&str> = ms.iter().map(|m| m.kind.as_str()).collect();
        assert_eq!(
            kinds,
            vec!["Namespace", "Service", "Deployment", "", "Alpha", "Zed"]
        );
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].events, vec!["pre-install", "post-upgrade"]);
        assert_eq!(hooks[0].weight, -5);
        assert_eq!(hooks[0].name, "j");
    }

    #[test]
    fn bad_yaml_names_the_file() {
        let files = vec![("c/templates/x.yaml".to_owned(), "a: [1\n".to_owned())];
        let e = sort_manifests(&files).unwrap_err().to_string();
        assert!(
            e.starts_with("YAML parse error on c/templates/x.yaml"),
            "{e}"
        );
    }
}

/// `helm template --show-only`: keeps the documents of `output` (a `helm template`
/// stream) whose `# Source: <chart>/<path>` matches one of `patterns` (Go
/// `filepath.Match`, relative to the chart, e.g. `templates/deployment.yaml`).
/// Errors name a pattern that matches nothing.
pub fn show_only(output: &str, patterns: &[String]) -> Result<String, ChartError> {
    let docs = split_manifests(output);
    let mut out = String::new();
    for pat in patterns {
        let pat = pat.replace('\\', "/");
        let mut found = false;
        for d in &docs {
            let Some(src) = d
                .lines()
                .find_map(|l| l.strip_prefix("# Source: "))
                .and_then(|p| p.split_once('/').map(|(_, rest)| rest))
            else {
                continue;
            };
            if crate::ignore::go_match(&pat, src).unwrap_or(false) {
                out.push_str(&format!("---\n{d}\n"));
                found = true;
            }
        }
        if !found {
            return Err(ChartError::Template(format!(
                "could not find template {pat} in chart; --show-only takes a path such as templates/deployment.yaml"
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod show_only_tests {
    use super::show_only;

    #[test]
    fn filters_by_source_path() {
        let out = "---\n# Source: c/templates/a.yaml\nkind: A\n---\n# Source: c/charts/s/templates/b.yaml\nkind: B\n";
        let a = show_only(out, &["templates/a.yaml".into()]).unwrap();
        assert_eq!(a, "---\n# Source: c/templates/a.yaml\nkind: A\n");
        let b = show_only(out, &["charts/s/templates/*.yaml".into()]).unwrap();
        assert!(b.contains("kind: B") && !b.contains("kind: A"));
        assert!(show_only(out, &["templates/none.yaml".into()]).is_err());
    }
}
