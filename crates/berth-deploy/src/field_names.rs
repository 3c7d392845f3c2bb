//! Which fields a built-in Kubernetes object may have at a given path, for suggesting the
//! field a typo meant (`spec.replica` → `spec.replicas`) when the API server refuses an
//! unknown field.
//!
//! The field trees are the simulator's, generated from the published Kubernetes OpenAPI
//! specifications by `scripts/gen_kube_fields.py` (one file, one source of truth; see
//! `crates/berth-kube-sim/src/schema.rs` for the encoding). Version ranges are ignored here:
//! a suggestion names a field that exists in some Kubernetes version, which is what a person
//! fixing a typo needs.

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::sync::OnceLock;

static DATA: &[u8] = include_bytes!("../../berth-kube-sim/data/kube-fields.json.gz");

struct Tree {
    /// `apps/v1/Deployment` → type name.
    kinds: HashMap<String, String>,
    /// type name → field → encoded type (`T`, `[T`, `{T`; empty for scalars).
    types: HashMap<String, HashMap<String, String>>,
}

fn load() -> Option<Tree> {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(DATA)
        .read_to_end(&mut raw)
        .ok()?;
    let doc: Value = serde_json::from_slice(&raw).ok()?;
    let kinds = doc["kinds"]
        .as_object()?
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect();
    let types = doc["types"]
        .as_object()?
        .iter()
        .map(|(t, fields)| {
            let fs = fields
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(f, e)| {
                            let e = e.as_str().unwrap_or("");
                            // `@lo-hi|T`: the field exists in some minors only.
                            let ty = match e.strip_prefix('@') {
                                Some(rest) => rest.split_once('|').map_or("", |(_, t)| t),
                                None => e,
                            };
                            (f.clone(), ty.to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            (t.clone(), fs)
        })
        .collect();
    Some(Tree { kinds, types })
}

fn tree() -> Option<&'static Tree> {
    static TREE: OnceLock<Option<Tree>> = OnceLock::new();
    TREE.get_or_init(load).as_ref()
}

/// The field names declared next to the last segment of `path` (its siblings' names) in
/// objects of `api_version`/`kind`; `None` for kinds or paths without a known schema.
pub fn siblings(api_version: &str, kind: &str, path: &[String]) -> Option<BTreeSet<String>> {
    let tree = tree()?;
    let mut ty = tree.kinds.get(&format!("{api_version}/{kind}"))?.as_str();
    let (_, parents) = path.split_last()?;
    let mut segs = parents.iter();
    while let Some(seg) = segs.next() {
        let enc = tree.types.get(ty)?.get(seg)?.as_str();
        ty = if let Some(inner) = enc.strip_prefix('{') {
            segs.next()?; // the map key
            inner
        } else {
            enc.trim_start_matches('[')
        };
    }
    Some(tree.types.get(ty)?.keys().cloned().collect())
}

/// The declared field closest to `unknown` by edit distance (case differences count half),
/// when it is close enough to be a typo of it.
pub fn closest<'a>(
    unknown: &str,
    candidates: impl IntoIterator<Item = &'a String>,
) -> Option<&'a String> {
    let limit = (unknown.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .filter(|c| c.as_str() != unknown)
        .map(|c| (distance(unknown, c), c))
        .filter(|(d, _)| *d <= limit * 2)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

/// Levenshtein distance in half-steps: a substitution that only changes case costs 1, any
/// other edit 2.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).map(|j| j * 2).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![(i + 1) * 2; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = if ca == cb {
                0
            } else if ca.eq_ignore_ascii_case(cb) {
                1
            } else {
                2
            };
            cur[j + 1] = (prev[j] + sub).min(prev[j + 1] + 2).min(cur[j] + 2);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        s.split('.').map(String::from).collect()
    }

    #[test]
    fn siblings_follow_lists_and_maps() {
        let spec = siblings("apps/v1", "Deployment", &p("spec.replica")).expect("known");
        assert!(
            spec.contains("replicas") && spec.contains("strategy"),
            "{spec:?}"
        );
        let c = siblings(
            "apps/v1",
            "Deployment",
            &p("spec.template.spec.containers.port"),
        )
        .expect("known");
        assert!(c.contains("ports") && c.contains("image"), "{c:?}");
        // Top-level fields.
        let cm = siblings("v1", "ConfigMap", &p("dta")).expect("known");
        assert!(cm.contains("data") && cm.contains("binaryData"), "{cm:?}");
        assert!(siblings("example.com/v1", "Widget", &p("spec.x")).is_none());
        assert!(siblings("apps/v1", "Deployment", &p("spec.nosuch.x")).is_none());
    }

    #[test]
    fn closest_takes_typos_not_strangers() {
        let c = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let spec = c(&["replicas", "selector", "strategy", "template", "paused"]);
        assert_eq!(
            closest("replica", &spec).map(String::as_str),
            Some("replicas")
        );
        assert_eq!(
            closest("Replicas", &spec).map(String::as_str),
            Some("replicas")
        );
        assert_eq!(
            closest("selectr", &spec).map(String::as_str),
            Some("selector")
        );
        assert_eq!(closest("image", &spec), None);
        assert_eq!(closest("x", &spec), None);
        let ctr = c(&["ports", "image", "name"]);
        assert_eq!(closest("port", &ctr).map(String::as_str), Some("ports"));
        assert_eq!(closest("containerPort", &ctr), None);
    }
}
