//! The app's test hooks (`helm.sh/hook: test`, as `helm test` runs them): each test Pod or
//! Job of the installed release is created, waited for until it succeeds or fails, and
//! deleted. A failing test fails the step with its last log lines.

use crate::report::CellDiagnosis;
use crate::{Shared, cell::StepOutcome};
use berth_deploy::object::{annotation, object_ref};
use berth_deploy::{Engine, Release};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The test hook objects of `release`, by hook weight.
pub fn test_hooks(release: &Release) -> Vec<Value> {
    let mut tests: Vec<(i64, Value)> = release
        .objects
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
fn finished(obj: &Value) -> Option<bool> {
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

/// Run the tests of the release the install or upgrade step deployed.
pub async fn run_tests(
    engine: &Engine,
    shared: &Shared,
    release: Option<Release>,
) -> Option<StepOutcome> {
    let release = release?;
    let tests = test_hooks(&release);
    if tests.is_empty() {
        return None;
    }
    let cluster = engine.cluster();
    let mut lines = Vec::new();
    for t in &tests {
        let r = object_ref(t);
        let _ = cluster.delete(&r).await;
        if let Err(e) = cluster.create(t).await {
            return Some(Err((
                format!("creating test {r}: {e}"),
                crate::diagnose::of_message(&e.to_string()),
            )));
        }
        let start = Instant::now();
        // A diagnosis that holds (an image that cannot be pulled) ends the wait early.
        let mut diagnosed: Option<(Instant, berth_deploy::diagnose::Diagnosis)> = None;
        let outcome = loop {
            match cluster.get(&r).await {
                Ok(Some(o)) => {
                    if let Some(ok) = finished(&o) {
                        break Some(ok);
                    }
                    let ev = berth_deploy::diagnose::Evidence {
                        object: o.clone(),
                        pods: vec![o],
                        ..Default::default()
                    };
                    match (berth_deploy::diagnose::diagnose(&ev), &diagnosed) {
                        (Some(d), None) => diagnosed = Some((Instant::now(), d)),
                        (Some(_), Some((since, d))) if since.elapsed() > shared.opts.fail_fast => {
                            let _ = cluster.delete(&r).await;
                            return Some(Err((
                                format!("{}\ntest {r}: {}", lines.join("\n"), d.cause),
                                Some(crate::diagnose::from_engine(d)),
                            )));
                        }
                        (None, _) => diagnosed = None,
                        _ => {}
                    }
                }
                Ok(None) => break Some(false),
                Err(_) => {}
            }
            if start.elapsed() > shared.opts.timeout {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let secs = start.elapsed().as_secs_f64();
        match outcome {
            Some(true) => lines.push(format!("test {r} passed ({secs:.2}s)")),
            other => {
                let logs = test_logs(engine, t).await;
                let what = if other.is_none() {
                    "did not finish in time"
                } else {
                    "failed"
                };
                let _ = cluster.delete(&r).await;
                return Some(Err((
                    format!("{}\ntest {r} {what} ({secs:.2}s){logs}", lines.join("\n")),
                    Some(CellDiagnosis {
                        object: r.to_string(),
                        cause: format!("the app's test {r} {what}{logs}"),
                        fix: format!(
                            "read the test's log (kubectl logs {} -n {}) and fix the app or the test",
                            r.name, r.namespace
                        ),
                    }),
                )));
            }
        }
        let _ = cluster.delete(&r).await;
    }
    Some(Ok(lines.join("\n")))
}

/// The last log lines of a test Pod's first container.
async fn test_logs(engine: &Engine, t: &Value) -> String {
    if t.get("kind").and_then(Value::as_str) != Some("Pod") {
        return String::new();
    }
    let r = object_ref(t);
    let container = t
        .pointer("/spec/containers/0/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    match engine
        .cluster()
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
mod unit {
    use super::*;
    use berth_deploy::Manifest;
    use serde_json::json;

    #[test]
    fn test_hooks_are_found_and_ordered() {
        let o = |name: &str, hook: &str, w: &str| {
            Manifest::new(
                json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":name,"annotations":{"helm.sh/hook":hook,"helm.sh/hook-weight":w}}}),
                "t.yaml",
            )
        };
        let rel = Release {
            app: "a".into(),
            version: "1.0.0".into(),
            objects: vec![
                o("b", "test", "5"),
                o("m", "pre-install", "0"),
                o("a", "post-install, test-success", "-1"),
            ],
            config: Value::Null,
            policy: Default::default(),
        };
        let names: Vec<String> = test_hooks(&rel)
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
