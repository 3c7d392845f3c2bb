//! The cell's diagnosis: the deploy engine's own (cause and fix per object that did not get
//! ready), else one read from the objects (an API version this Kubernetes no longer serves),
//! else one read from an API error message (admission: Pod Security, webhooks).

use crate::report::CellDiagnosis;
use berth_deploy::diagnose::{Diagnosis, admission_hint};
use berth_deploy::{Release, Report};
use berth_spec::deprecations::{self, ApiState};
use serde_json::Value;

/// The engine's diagnosis, as the cell records it.
pub fn from_engine(d: &Diagnosis) -> CellDiagnosis {
    CellDiagnosis {
        object: d.object.to_string(),
        cause: d.cause.clone(),
        fix: d.fix.clone(),
    }
}

/// The first diagnosis of a failed report (or of its automatic rollback), else its error read
/// as an API message.
pub fn of_report(r: &Report) -> Option<CellDiagnosis> {
    r.diagnoses
        .first()
        .map(from_engine)
        .or_else(|| r.error.as_deref().and_then(of_message))
        .or_else(|| r.rollback.as_deref().and_then(of_report))
}

/// An object whose apiVersion Kubernetes 1.`minor` no longer serves.
pub fn of_objects(release: &Release, minor: u32) -> Option<CellDiagnosis> {
    for m in &release.objects {
        let o = &m.object;
        let av = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = o
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if let Some((ApiState::Removed, r)) = deprecations::check(av, kind, minor) {
            return Some(CellDiagnosis {
                object: format!("{}/{name}", kind.to_lowercase()),
                cause: format!(
                    "{}/{name} ({}) uses {av}, which Kubernetes 1.{minor} no longer serves: {}",
                    kind.to_lowercase(),
                    m.source,
                    r.describe(kind, ApiState::Removed)
                ),
                fix: if r.replacement.is_empty() {
                    format!("remove the {kind} from {}; {}", m.source, r.advice(kind))
                } else {
                    format!(
                        "in {} change apiVersion: {av} to apiVersion: {} ({}); `berth lint --kube 1.{minor}` lists every such object",
                        m.source,
                        r.replacement,
                        r.advice(kind)
                    )
                },
            });
        }
    }
    None
}

/// Cause and fix read from an API error message (admission refusals).
pub fn of_message(msg: &str) -> Option<CellDiagnosis> {
    if let Some(d) = pod_security(msg) {
        return Some(d);
    }
    // Render errors that carry their own fix (`expose`: nothing to expose through...).
    if let Some((cause, fix)) = msg.split_once("\n  fix: ") {
        return Some(CellDiagnosis {
            object: String::new(),
            cause: cause.trim().to_string(),
            fix: fix.trim().to_string(),
        });
    }
    let hint = admission_hint(msg)?;
    let hint = hint.trim_start_matches(';').trim();
    let (cause, fix) = hint.split_once(": ").unwrap_or((hint, hint));
    Some(CellDiagnosis {
        object: String::new(),
        cause: format!("{cause} ({})", first_line(msg)),
        fix: fix.to_string(),
    })
}

/// Pod Security admission or OpenShift SCC refusing pods, as the engine words it.
pub fn pod_security(msg: &str) -> Option<CellDiagnosis> {
    let (cause, fix) = berth_deploy::diagnose::pod_admission(msg)?;
    Some(CellDiagnosis {
        object: String::new(),
        cause,
        fix,
    })
}

fn first_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or("")
        .trim()
        .chars()
        .take(600)
        .collect()
}
