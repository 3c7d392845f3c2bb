//! The app's test hooks (`helm.sh/hook: test`), run as `helm test` runs them: each test Pod
//! or Job is created, waited for until it succeeds or fails, and deleted. Shared by the
//! support matrix (a test step per cell) and the vendor's dev loop (tests after each save).

use crate::cluster::Cluster;
use crate::diagnose::{Diagnosis, Evidence, diagnose};
use crate::object::{Manifest, ObjectRef, annotation, object_ref};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The test hook objects among `objects`, by hook weight.
pub fn test_hooks(objects: &[Manifest]) -> Vec<Value> {
    let mut tests: Vec<(i64, Value)> = objects
        .iter()
        .filter(|m| {
            annotation(&m.object, "helm.sh/hook").is_some_and(|h| {
                h.split(',')
                    .any(|e| matches!(e.trim(), "test" | "test-success"))
            })
        })
        .map(|m| {
            let w = annotation(&m.object, "helm.sh/hook-weight")
                .and_then(|w| w.trim().parse().ok())
                .unwrap_or(0);
            (w, m.object.clone())
        })
        .collect();
    tests.sort_by_key(|(w, _)| *w);
    tests.into_iter().map(|(_, o)| o).collect()
}

/// How a test object ended, if it has.
pub fn finished(obj: &Value) -> Option<bool> {
    match obj.get("kind").and_then(Value::as_str) {
        Some("Pod") => match obj.pointer("/status/phase").and_then(Value::as_str) {
            Some("Succeeded") => Some(true),
            Some("Failed") => Some(false),
            _ => None,
        },
        Some("Job") => {
            let conds = obj
                .pointer("/status/conditions")
                .and_then(Value::as_array)?;
            conds.iter().find_map(|c| {
                let ty = c.get("type").and_then(Value::as_str)?;
                let true_ = c.get("status").and_then(Value::as_str) == Some("True");
                match ty {
                    "Complete" if true_ => Some(true),
                    "Failed" if true_ => Some(false),
                    _ => None,
                }
            })
        }
        // Anything else a test hook creates (a ConfigMap for the test) is done once created.
        _ => Some(true),
    }
}

/// How one test ended.
#[derive(Debug, Clone)]
pub enum TestOutcome {
    /// It succeeded.
    Passed,
    /// It failed (or disappeared).
    Failed,
    /// It did not finish within the timeout.
    TimedOut,
    /// A diagnosis (an image that cannot be pulled) held longer than `fail_fast`.
    Diagnosed(Diagnosis),
    /// The API server refused to create it.
    NotCreated(String),
}

/// One test's run.
#[derive(Debug, Clone)]
pub struct TestRun {
    /// The test object.
    pub object: ObjectRef,
    /// How it ended.
    pub outcome: TestOutcome,
    /// Seconds from creation to the end.
    pub seconds: f64,
    /// The last log lines of a failed test Pod (`; last log lines: ...`), else empty.
    pub logs: String,
    /// Why a failed or unfinished test could not connect: the NetworkPolicies that refuse
    /// its connection to the Service it calls (`network`).
    pub network: Option<Diagnosis>,
}

impl TestRun {
    /// Whether the test passed.
    pub fn passed(&self) -> bool {
        matches!(self.outcome, TestOutcome::Passed)
    }
}

/// Create one test object (deleting a leftover first), wait until it ends, delete it.
pub async fn run_test(
    cluster: &Cluster,
    test: &Value,
    timeout: Duration,
    fail_fast: Duration,
) -> TestRun {
    let r = object_ref(test);
    let _ = cluster.delete(&r).await;
    let start = Instant::now();
    let done = |outcome, logs, network| TestRun {
        object: r.clone(),
        outcome,
        seconds: start.elapsed().as_secs_f64(),
        logs,
        network,
    };
    if let Err(e) = cluster.create(test).await {
        return done(TestOutcome::NotCreated(e.to_string()), String::new(), None);
    }
    // A diagnosis that holds (an image that cannot be pulled) ends the wait early.
    let mut diagnosed: Option<(Instant, Diagnosis)> = None;
    let outcome = loop {
        match cluster.get(&r).await {
            Ok(Some(o)) => {
                if let Some(ok) = finished(&o) {
                    break if ok {
                        TestOutcome::Passed
                    } else {
                        TestOutcome::Failed
                    };
                }
                let ev = Evidence {
                    object: o.clone(),
                    pods: vec![o],
                    ..Default::default()
                };
                match (diagnose(&ev), &diagnosed) {
                    (Some(d), None) => diagnosed = Some((Instant::now(), d)),
                    (Some(_), Some((since, d))) if since.elapsed() > fail_fast => {
                        break TestOutcome::Diagnosed(d.clone());
                    }
                    (None, _) => diagnosed = None,
                    _ => {}
                }
            }
            Ok(None) => break TestOutcome::Failed,
            Err(_) => {}
        }
        if start.elapsed() > timeout {
            break TestOutcome::TimedOut;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (logs, network) = match outcome {
        TestOutcome::Failed | TestOutcome::TimedOut => (
            test_logs(cluster, test).await,
            crate::network::diagnose_test(cluster, test).await,
        ),
        _ => (String::new(), None),
    };
    let _ = cluster.delete(&r).await;
    done(outcome, logs, network)
}

/// The last log lines of a test Pod's first container.
async fn test_logs(cluster: &Cluster, t: &Value) -> String {
    if t.get("kind").and_then(Value::as_str) != Some("Pod") {
        return String::new();
    }
    let r = object_ref(t);
    let container = t
        .pointer("/spec/containers/0/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    match cluster
        .logs(&r.namespace, &r.name, container, 5, false)
        .await
    {
        Some(l) if !l.trim().is_empty() => {
            format!("; last log lines: {}", l.trim().replace('\n', " | "))
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn test_hooks_are_found_and_ordered() {
        let o = |name: &str, hook: &str, w: &str| {
            Manifest::new(
                json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":name,"annotations":{"helm.sh/hook":hook,"helm.sh/hook-weight":w}}}),
                "t.yaml",
            )
        };
        let objects = vec![
            o("b", "test", "5"),
            o("m", "pre-install", "0"),
            o("a", "post-install, test-success", "-1"),
        ];
        let names: Vec<String> = test_hooks(&objects)
            .iter()
            .map(|t| object_ref(t).name)
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(
            finished(&json!({"kind":"Pod","status":{"phase":"Failed"}})),
            Some(false)
        );
        assert_eq!(
            finished(&json!({"kind":"Pod","status":{"phase":"Running"}})),
            None
        );
        assert_eq!(
            finished(
                &json!({"kind":"Job","status":{"conditions":[{"type":"Complete","status":"True"}]}})
            ),
            Some(true)
        );
    }
}
