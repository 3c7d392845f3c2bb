//! Baselines in revisions, and drift in diagnoses and status: the engine's side of
//! berth-drift (docs/formats/baseline.md).

use crate::cluster::Cluster;
use crate::diagnose::Diagnosis;
use crate::inventory::{Revision, Status};
use berth_drift::{AppShape, Baseline, Change, Report};
use serde_json::Value;
use std::time::Duration;

/// A capture never holds up an operation longer than this; a slow or forbidden list leaves
/// the baseline without it rather than failing an install that succeeded.
const CAPTURE_TIMEOUT: Duration = Duration::from_secs(15);

/// The baseline recorded in a revision that has just become `deployed`.
pub async fn capture(
    cluster: &Cluster,
    namespace: &str,
    rev: &Revision,
    with_host: bool,
) -> Option<Value> {
    let shape = AppShape::of_objects(namespace, rev.objects.iter().map(|m| &m.object));
    let work = async {
        let (c, h) = tokio::join!(
            berth_drift::live::cluster_now(cluster.client(), &shape),
            async {
                if with_host {
                    berth_drift::host::collect_here().await
                } else {
                    None
                }
            }
        );
        let mut b = Baseline::new(Some(c), h);
        b.app = rev.app.clone();
        b.revision = Some(rev.number);
        b.finish()
    };
    match tokio::time::timeout(CAPTURE_TIMEOUT, work).await {
        Ok(v) => Some(v),
        Err(_) => {
            tracing::warn!("baseline capture took longer than {CAPTURE_TIMEOUT:?}; not recorded");
            None
        }
    }
}

/// The newest `deployed` (else `superseded`) revision that carries a baseline.
pub fn last_good(history: &[Revision]) -> Option<(&Revision, Baseline)> {
    let pick = |st: Status| {
        history
            .iter()
            .rev()
            .filter(|r| r.status == st)
            .find_map(|r| Some((r, Baseline::parse("revision", r.baseline.as_ref()?).ok()?)))
    };
    pick(Status::Deployed).or_else(|| pick(Status::Superseded))
}

/// The live state compared with the last good revision's baseline.
#[derive(Debug, Clone)]
pub struct Drift {
    /// The revision whose baseline was compared.
    pub since: u32,
    /// What changed.
    pub report: Report,
    /// The live state, as a baseline (for `berth drift --save`).
    pub now: Baseline,
    /// Whether the baseline holds host facts (recorded with `--host-baseline`).
    pub baseline_has_host: bool,
}

/// Drift of the live cluster (and this host, with `with_host`) from the last good
/// revision's baseline; `None` when no revision carries one.
pub async fn drift(cluster: &Cluster, history: &[Revision], with_host: bool) -> Option<Drift> {
    let (rev, old) = last_good(history)?;
    let shape = AppShape::of_baseline(&old);
    let (c, h) = tokio::join!(
        berth_drift::live::cluster_now(cluster.client(), &shape),
        async {
            if with_host {
                berth_drift::host::collect_here().await
            } else {
                None
            }
        }
    );
    let mut now = Baseline::new(Some(c), h);
    now.app = old.app.clone();
    Some(Drift {
        since: rev.number,
        report: Report::new(&old, &now),
        now,
        baseline_has_host: old.host.is_some(),
    })
}

/// The change classes that plausibly explain a diagnosis, by what the diagnosis says.
fn related_classes(cause: &str) -> &'static [&'static str] {
    let c = cause.to_ascii_lowercase();
    if c.contains("pull") || c.contains("image") && c.contains("registry") {
        &[
            "image-digest-changed",
            "dns-changed",
            "runtime-changed",
            "webhook-added",
            "webhook-changed",
            "mtu-changed",
            "package-changed",
            "interface-renamed",
        ]
    } else if c.contains("persistentvolumeclaim") || c.contains("storage") || c.contains("pvc") {
        &[
            "default-storageclass-changed",
            "storageclass-removed",
            "disk-layout-changed",
            "node-lost",
        ]
    } else if c.contains("schedul") || c.contains("nodes are available") {
        &[
            "node-lost",
            "node-not-ready",
            "taint-added",
            "allocatable-decreased",
            "node-label-changed",
        ]
    } else if c.contains("ingress") {
        &["ingressclass-removed", "default-ingressclass-changed"]
    } else if c.contains("webhook") || c.contains("forbidden") || c.contains("podsecurity") {
        &["webhook-added", "webhook-changed", "pod-security-tightened"]
    } else {
        // Crash loops, failed probes and jobs: the node under the container changed.
        &[
            "kernel-changed",
            "os-changed",
            "runtime-changed",
            "kernel-module-missing",
            "lsm-changed",
            "image-digest-changed",
            "pod-security-tightened",
            "mtu-changed",
            "dns-changed",
            "time-sync-lost",
        ]
    }
}

/// Diagnosis lines for the drift that plausibly relates to the failures diagnosed (a removed
/// API version relates to anything), at most 3 per diagnosis.
pub fn related(diagnoses: &[Diagnosis], since: u32, changes: &[Change]) -> Vec<Diagnosis> {
    let mut out: Vec<Diagnosis> = Vec::new();
    for d in diagnoses {
        let classes = related_classes(&d.cause);
        for c in changes
            .iter()
            .filter(|c| classes.contains(&c.class.as_str()) || c.class == "api-version-removed")
            .take(3)
        {
            if out.iter().any(|o| o.cause.ends_with(&c.message)) {
                continue;
            }
            out.push(Diagnosis {
                object: d.object.clone(),
                cause: format!(
                    "changed since revision {since}, the last that worked ({}): {}",
                    c.class, c.message
                ),
                fix: format!(
                    "if this change is the cause, undo it or adapt the app's config to it; `berth drift -n {}` lists every change since revision {since}",
                    d.object.namespace
                ),
            });
        }
    }
    out
}

/// "drift since last good revision: N changes (top: …)" for `berth status`.
pub fn summary(since: u32, r: &Report) -> String {
    match r.changes.first() {
        None => format!("drift since last good revision ({since}): none"),
        Some(top) => format!(
            "drift since last good revision ({since}): {} change{} (top: {})",
            r.changes.len(),
            if r.changes.len() == 1 { "" } else { "s" },
            top.message
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::ObjectRef;

    fn change(class: &str, message: &str) -> Change {
        Change {
            class: class.into(),
            score: berth_drift::compare::score(class),
            subject: "s".into(),
            before: "a".into(),
            after: "b".into(),
            message: message.into(),
            first_seen: None,
        }
    }

    fn diag(cause: &str) -> Diagnosis {
        Diagnosis {
            object: ObjectRef {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: "shop".into(),
                name: "web".into(),
            },
            cause: cause.into(),
            fix: String::new(),
        }
    }

    #[test]
    fn related_drift_follows_the_diagnosis() {
        let changes = vec![
            change(
                "default-storageclass-changed",
                "default storageclass: a → b",
            ),
            change("kernel-changed", "node/n1 kernel: 6.1 → 6.8"),
            change("image-digest-changed", "image x: sha256:a → sha256:b"),
        ];
        let crash = related(
            &[diag("container app of pod/web-1 keeps crashing")],
            2,
            &changes,
        );
        let causes: Vec<&str> = crash.iter().map(|d| d.cause.as_str()).collect();
        assert_eq!(
            causes,
            vec![
                "changed since revision 2, the last that worked (kernel-changed): node/n1 kernel: 6.1 → 6.8",
                "changed since revision 2, the last that worked (image-digest-changed): image x: sha256:a → sha256:b"
            ]
        );
        let pvc = related(
            &[diag(
                "persistentvolumeclaim/data is Pending: no StorageClass",
            )],
            2,
            &changes,
        );
        assert_eq!(pvc.len(), 1, "{pvc:?}");
        assert!(pvc[0].cause.contains("default-storageclass-changed"));
        assert!(pvc[0].fix.contains("berth drift -n shop"));
        assert!(related(&[diag("image cannot be pulled")], 2, &changes[..2]).is_empty());
    }
}
