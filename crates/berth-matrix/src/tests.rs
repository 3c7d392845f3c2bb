//! The app's test hooks (`helm.sh/hook: test`, as `helm test` runs them): each test Pod or
//! Job of the installed release is created, waited for until it succeeds or fails, and
//! deleted. A failing test fails the step with its last log lines.

use crate::report::CellDiagnosis;
use crate::{Shared, cell::StepOutcome};
use berth_deploy::test_hooks::{TestOutcome, run_test};
use berth_deploy::{Engine, Release};
use serde_json::Value;

/// The test hook objects of `release`, by hook weight.
pub fn test_hooks(release: &Release) -> Vec<Value> {
    berth_deploy::test_hooks::test_hooks(&release.objects)
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
        let run = run_test(cluster, t, shared.opts.timeout, shared.opts.fail_fast).await;
        let r = &run.object;
        let secs = run.seconds;
        let logs = &run.logs;
        let what = match run.outcome {
            TestOutcome::Passed => {
                lines.push(format!("test {r} passed ({secs:.2}s)"));
                continue;
            }
            TestOutcome::NotCreated(e) => {
                return Some(Err((
                    format!("creating test {r}: {e}"),
                    crate::diagnose::of_message(&e),
                )));
            }
            TestOutcome::Diagnosed(d) => {
                return Some(Err((
                    format!("{}\ntest {r}: {}", lines.join("\n"), d.cause),
                    Some(crate::diagnose::from_engine(&d)),
                )));
            }
            TestOutcome::TimedOut => "did not finish in time",
            TestOutcome::Failed => "failed",
        };
        let detail = format!("{}\ntest {r} {what} ({secs:.2}s){logs}", lines.join("\n"));
        // NetworkPolicies that refuse the test's connection name the cause and the fix.
        if let Some(d) = &run.network {
            return Some(Err((
                detail,
                Some(CellDiagnosis {
                    object: r.to_string(),
                    cause: format!("{}; the test {what}{logs}", d.cause),
                    fix: d.fix.clone(),
                }),
            )));
        }
        return Some(Err((
            detail,
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
    Some(Ok(lines.join("\n")))
}
