//! Baselines and drift: a compact, redacted record of the cluster (and host) an app last
//! worked on, recorded in every successful revision, and a ranked list of what changed since
//! — against the live cluster and this host, or between two support bundles offline.
//!
//! Pure data and decisions in [`model`], [`capture`], [`host`] and [`compare`]; I/O at the
//! edges in [`live`] (the Kubernetes API) and [`bundle`] (support bundles). Format and change
//! classes: docs/formats/baseline.md.

pub mod bundle;
pub mod capture;
pub mod compare;
pub mod host;
pub mod live;
pub mod model;

pub use compare::{Change, compare};
pub use live::AppShape;
pub use model::{Baseline, FORMAT};

use serde::Serialize;
use serde_json::Value;

/// Errors reading baselines.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// A baseline file or field is not a baseline.
    #[error(
        "{place}: not a berth baseline ({reason}); expected JSON with \"format\": \"{FORMAT}\" (docs/formats/baseline.md)"
    )]
    NotBaseline {
        /// Where it came from.
        place: String,
        /// Why.
        reason: String,
    },
}

/// Size bounds (docs/formats/baseline.md, "Size and redaction").
const MAX_NODES: usize = 32;
const MAX_CLASSES: usize = 64;
const MAX_IMAGES: usize = 128;
const MAX_INTERFACES: usize = 64;
const MAX_PACKAGES: usize = 128;
/// The largest baseline JSON stored.
pub const MAX_JSON: usize = 64 * 1024;

fn cut<T>(v: &mut Vec<T>, max: usize, name: &str, truncated: &mut Vec<String>) {
    if v.len() > max {
        v.truncate(max);
        truncated.push(name.to_string());
    }
}

fn cut_map<V>(
    m: &mut std::collections::BTreeMap<String, V>,
    max: usize,
    name: &str,
    truncated: &mut Vec<String>,
) {
    if m.len() > max {
        let keep: Vec<String> = m.keys().take(max).cloned().collect();
        m.retain(|k, _| keep.contains(k));
        truncated.push(name.to_string());
    }
}

impl Baseline {
    /// A baseline of these facts, captured now.
    pub fn new(cluster: Option<model::ClusterFacts>, host: Option<model::HostFacts>) -> Baseline {
        Baseline {
            format: FORMAT.to_string(),
            captured_at: jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
            cluster,
            host,
            ..Default::default()
        }
    }

    /// Cut lists to the bounds and pass the whole through the support bundle redactor: what
    /// is stored or shipped. Returns the JSON value.
    pub fn finish(mut self) -> Value {
        let t = &mut self.truncated;
        if let Some(c) = &mut self.cluster {
            cut(&mut c.nodes, MAX_NODES, "cluster.nodes", t);
            cut(
                &mut c.storage_classes,
                MAX_CLASSES,
                "cluster.storage_classes",
                t,
            );
            cut(
                &mut c.ingress_classes,
                MAX_CLASSES,
                "cluster.ingress_classes",
                t,
            );
            cut(&mut c.crds, MAX_CLASSES, "cluster.crds", t);
            cut(&mut c.webhooks, MAX_CLASSES, "cluster.webhooks", t);
            cut_map(&mut c.images, MAX_IMAGES, "cluster.images", t);
            cut_map(&mut c.apis, MAX_CLASSES, "cluster.apis", t);
        }
        if let Some(h) = &mut self.host {
            cut_map(&mut h.interfaces, MAX_INTERFACES, "host.interfaces", t);
            cut_map(&mut h.packages, MAX_PACKAGES, "host.packages", t);
            cut(&mut h.disks, MAX_INTERFACES, "host.disks", t);
        }
        let mut v = serde_json::to_value(&self).unwrap_or(Value::Null);
        if serde_json::to_vec(&v).map_or(0, |b| b.len()) > MAX_JSON {
            // Still too big: nodes and packages go first (the summary of what remains counts).
            if let Some(c) = v.get_mut("cluster") {
                c["nodes"] = Value::Array(Vec::new());
            }
            if let Some(h) = v.get_mut("host") {
                h["packages"] = Value::Object(Default::default());
            }
            if let Some(t) = v.get_mut("truncated").and_then(Value::as_array_mut) {
                t.push(Value::String("size".into()));
            } else {
                v["truncated"] = serde_json::json!(["size"]);
            }
        }
        redact(v)
    }

    /// Read a baseline from JSON, naming `place` in errors.
    pub fn parse(place: &str, v: &Value) -> Result<Baseline, DriftError> {
        let b: Baseline =
            serde_json::from_value(v.clone()).map_err(|e| DriftError::NotBaseline {
                place: place.to_string(),
                reason: e.to_string(),
            })?;
        if b.format != FORMAT {
            return Err(DriftError::NotBaseline {
                place: place.to_string(),
                reason: format!("format is {:?}", b.format),
            });
        }
        Ok(b)
    }
}

/// Run the support bundle's default redaction over a baseline's JSON.
fn redact(v: Value) -> Value {
    let Ok(r) = berth_troubleshoot::redact::Redactor::new(&[]) else {
        return v;
    };
    let Ok(bytes) = serde_json::to_vec_pretty(&v) else {
        return v;
    };
    let (out, _) = r.redact("berth/baseline.json", &bytes);
    serde_json::from_slice(&out).unwrap_or(v)
}

/// A drift report: which baseline, and what changed since.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The baseline compared against (app, revision, captured_at).
    pub baseline: Value,
    /// Changes, most likely to break first.
    pub changes: Vec<Change>,
}

impl Report {
    /// Compare `old` with `new`.
    pub fn new(old: &Baseline, new: &Baseline) -> Report {
        Report {
            baseline: serde_json::json!({
                "app": old.app, "revision": old.revision, "captured_at": old.captured_at,
            }),
            changes: compare(old, new),
        }
    }

    /// Changes grouped under High, Medium and Low, one line each, for a terminal.
    pub fn render(&self) -> String {
        let mut s = String::new();
        if self.changes.is_empty() {
            s.push_str("no drift: the cluster matches the baseline\n");
            return s;
        }
        for band in ["High", "Medium", "Low"] {
            let cs: Vec<&Change> = self.changes.iter().filter(|c| c.band() == band).collect();
            if cs.is_empty() {
                continue;
            }
            s.push_str(&format!("{band} ({}):\n", cs.len()));
            for c in cs {
                let seen = c
                    .first_seen
                    .as_ref()
                    .map(|t| format!(" [first seen {t}]"))
                    .unwrap_or_default();
                s.push_str(&format!("  {:<30} {}{seen}\n", c.class, c.message));
            }
        }
        s
    }
}
