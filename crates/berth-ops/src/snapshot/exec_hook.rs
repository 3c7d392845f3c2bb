//! Exec hooks: a command run in a container of a ready pod of the app through the API's
//! `pods/exec` (kube's WebSocket client), its output collected and its exit code read from
//! the exec status. Format: `docs/formats/berth-yaml.md` (snapshot) and
//! `docs/formats/snapshot.md` (section 13).

use std::time::Duration;

use berth_deploy::Cluster;
use berth_spec::manifest::{HookExec, SnapshotHook};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams, ListParams};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::hooks::{DEFAULT_TIMEOUT, HookRecord};
use super::note;
use crate::{Error, Result, Sink};

/// How much of each of stdout and stderr is kept (the end).
const OUTPUT_KEEP: usize = 64 * 1024;

/// How the command ended.
#[derive(Debug, PartialEq)]
pub(super) enum Outcome {
    Exit(i32),
    /// The API refused or broke off the exec (its message).
    Refused(String),
}

/// Runs one exec hook; an error when no pod is ready, the exec fails, the command exits
/// non-zero or runs out of time.
pub(super) async fn run(
    cluster: &Cluster,
    ns: &str,
    phase: &str,
    h: &SnapshotHook,
    e: &HookExec,
    sink: &dyn Sink,
    records: &mut Vec<HookRecord>,
) -> Result<()> {
    let api: Api<Pod> = Api::namespaced(cluster.client().clone(), ns);
    let what = format!("the {phase}-snapshot hook {}", h.name);
    let (pod, container) = target(&api, ns, &what, e).await?;
    note(
        sink,
        format!(
            "{phase}-snapshot hook {}: exec in pod/{pod} container {container} (namespace {ns})",
            h.name
        ),
    );
    let secs = h.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT);
    let ran = tokio::time::timeout(
        Duration::from_secs(u64::from(secs)),
        exec(&api, &pod, &container, &e.command),
    )
    .await;
    let mut record = HookRecord {
        phase: phase.into(),
        name: h.name.clone(),
        job: String::new(),
        pod: pod.clone(),
        container: container.clone(),
        outcome: "failed".into(),
    };
    let (outcome, out, err) = match ran {
        Ok(Ok(x)) => x,
        Ok(Err(msg)) => (Outcome::Refused(msg), String::new(), String::new()),
        Err(_) => {
            records.push(record);
            return Err(Error::Failed(format!(
                "{what} (exec in pod/{pod} container {container}) did not end within {secs}s (timeoutSeconds); raise spec.snapshot.hooks timeoutSeconds in berth.yaml if it needs longer; no snapshot was written"
            )));
        }
    };
    for line in out.lines().chain(err.lines()) {
        note(sink, format!("{phase}-snapshot hook {} | {line}", h.name));
    }
    let failure = match outcome {
        Outcome::Exit(0) => None,
        Outcome::Exit(code) => Some(format!("exited with code {code}")),
        Outcome::Refused(msg) => Some(format!("could not run: {msg}")),
    };
    record.outcome = if failure.is_none() {
        "succeeded"
    } else {
        "failed"
    }
    .into();
    records.push(record);
    match failure {
        None => Ok(()),
        Some(f) => {
            let tail = last_lines(&out, &err, 10);
            Err(Error::Failed(format!(
                "{what} (exec of {:?} in pod/{pod} container {container}, namespace {ns}) {f}{tail}; no snapshot was written",
                e.command
            )))
        }
    }
}

/// The pod (first by name among the running, ready, not deleted ones the selector picks)
/// and the container to run in.
async fn target(api: &Api<Pod>, ns: &str, what: &str, e: &HookExec) -> Result<(String, String)> {
    let selector: Vec<String> = e.selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let selector = selector.join(",");
    let pods = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|err| {
            Error::Failed(format!(
                "{what}: cannot list the pods of namespace {ns} with labels {selector}: {err}"
            ))
        })?;
    let Some(pod) = pick(&pods.items) else {
        return Err(Error::Failed(format!(
            "{what}: no running and ready pod in namespace {ns} has the labels {selector} ({} pod(s) match but are not ready); check the exec hook's selector in berth.yaml and `kubectl -n {ns} get pods -l {selector}`; no snapshot was written",
            pods.items.len()
        )));
    };
    let name = pod.metadata.name.clone().unwrap_or_default();
    let names: Vec<String> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter().map(|c| c.name.clone()))
        .collect();
    let container = match &e.container {
        Some(c) if names.contains(c) => c.clone(),
        Some(c) => {
            return Err(Error::Failed(format!(
                "{what}: pod/{name} has no container {c} (it has: {}); fix the exec hook's container in berth.yaml",
                names.join(", ")
            )));
        }
        None => names
            .first()
            .cloned()
            .ok_or_else(|| Error::Failed(format!("{what}: pod/{name} has no containers")))?,
    };
    Ok((name, container))
}

/// The first pod by name that runs, is ready and is not being deleted.
pub(super) fn pick(pods: &[Pod]) -> Option<&Pod> {
    let mut ready: Vec<&Pod> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.status.as_ref().is_some_and(|s| {
                s.phase.as_deref() == Some("Running")
                    && s.conditions
                        .iter()
                        .flatten()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        })
        .collect();
    ready.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    ready.first().copied()
}

/// Runs the command; its outcome and the kept end of its stdout and stderr.
async fn exec(
    api: &Api<Pod>,
    pod: &str,
    container: &str,
    command: &[String],
) -> std::result::Result<(Outcome, String, String), String> {
    let ap = AttachParams::default()
        .container(container)
        .stdin(false)
        .stdout(true)
        .stderr(true);
    let mut attached = api
        .exec(pod, command.iter().map(String::as_str), &ap)
        .await
        .map_err(|e| e.to_string())?;
    let status = attached.take_status();
    let (out, err) = tokio::join!(keep_end(attached.stdout()), keep_end(attached.stderr()));
    let status = match status {
        Some(s) => s.await,
        None => None,
    };
    let _ = attached.join().await;
    Ok((outcome(status), out, err))
}

/// The exit code the exec status carries (`Success`, or `NonZeroExitCode` with an
/// `ExitCode` cause); anything else is a refusal.
pub(super) fn outcome(status: Option<Status>) -> Outcome {
    let Some(s) = status else {
        return Outcome::Refused("the exec ended without a status".into());
    };
    if s.status.as_deref() == Some("Success") {
        return Outcome::Exit(0);
    }
    if s.reason.as_deref() == Some("NonZeroExitCode")
        && let Some(code) = s
            .details
            .iter()
            .flat_map(|d| d.causes.iter().flatten())
            .find(|c| c.reason.as_deref() == Some("ExitCode"))
            .and_then(|c| c.message.as_deref()?.parse().ok())
    {
        return Outcome::Exit(code);
    }
    Outcome::Refused(
        s.message
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "the exec failed without a message".into()),
    )
}

/// Reads a stream to its end, keeping its last [`OUTPUT_KEEP`] bytes.
async fn keep_end<R: AsyncRead + Unpin>(r: Option<R>) -> String {
    let Some(mut r) = r else {
        return String::new();
    };
    let mut kept: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 2 * OUTPUT_KEEP {
            kept.drain(..kept.len() - OUTPUT_KEEP);
        }
    }
    let start = kept.len().saturating_sub(OUTPUT_KEEP);
    String::from_utf8_lossy(&kept[start..]).into_owned()
}

/// `: its last lines: …` of the output, or nothing when there is none.
fn last_lines(out: &str, err: &str, n: usize) -> String {
    let lines: Vec<&str> = out
        .lines()
        .chain(err.lines())
        .filter(|l| !l.trim().is_empty())
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    format!(
        "; its last output lines: {}",
        lines[lines.len().saturating_sub(n)..].join(" | ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{StatusCause, StatusDetails};

    fn pod(name: &str, phase: &str, ready: bool) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "db"}]},
            "status": {"phase": phase, "conditions": [
                {"type": "Ready", "status": if ready { "True" } else { "False" }}]}
        }))
        .expect("pod")
    }

    #[test]
    fn the_first_running_ready_pod_by_name_is_picked() {
        let pods = vec![
            pod("db-2", "Running", true),
            pod("db-0", "Pending", false),
            pod("db-1", "Running", true),
            pod("db-00", "Running", false),
        ];
        assert_eq!(
            pick(&pods).and_then(|p| p.metadata.name.as_deref()),
            Some("db-1")
        );
        assert!(pick(&pods[1..2]).is_none());
    }

    #[test]
    fn the_exit_code_comes_from_the_status() {
        let ok = Status {
            status: Some("Success".into()),
            ..Default::default()
        };
        assert_eq!(outcome(Some(ok)), Outcome::Exit(0));
        let three = Status {
            status: Some("Failure".into()),
            reason: Some("NonZeroExitCode".into()),
            message: Some("command terminated with non-zero exit code".into()),
            details: Some(StatusDetails {
                causes: Some(vec![StatusCause {
                    reason: Some("ExitCode".into()),
                    message: Some("3".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(outcome(Some(three)), Outcome::Exit(3));
        let refused = Status {
            status: Some("Failure".into()),
            reason: Some("InternalError".into()),
            message: Some("no bwrap".into()),
            ..Default::default()
        };
        assert_eq!(outcome(Some(refused)), Outcome::Refused("no bwrap".into()));
        assert!(matches!(outcome(None), Outcome::Refused(_)));
    }
}
