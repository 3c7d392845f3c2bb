//! Snapshot hooks: berth.yaml's `spec.snapshot.hooks`, kept in each revision, run by every
//! app snapshot (interactive or scheduled) in the app's namespace — job hooks as Jobs, exec
//! hooks as `pods/exec` requests in a ready pod their selector picks — the `pre` ones before
//! the volumes are copied and the `post` ones after. Format: `docs/formats/berth-yaml.md`
//! (snapshot) and `docs/formats/snapshot.md` (section 13).

use std::time::{Duration, Instant};

use berth_deploy::Cluster;
use berth_deploy::inventory::Revision;
use berth_deploy::object::{LABEL_KIND, object_ref};
use berth_spec::manifest::{SnapshotHook, SnapshotHooks};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{TAG_RUN, note, wait_job};
use crate::{Error, Result, Sink};

/// A hook's default time limit.
pub(super) const DEFAULT_TIMEOUT: u32 = 600;

/// One hook that ran, as `app/hooks.json` records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HookRecord {
    /// `pre` or `post`.
    pub phase: String,
    /// The hook's name in berth.yaml.
    pub name: String,
    /// The Job that ran it (a job hook).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub job: String,
    /// The pod it ran in (an exec hook).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pod: String,
    /// The container it ran in (an exec hook).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container: String,
    /// `succeeded` or `failed`.
    pub outcome: String,
}

/// The hooks the revision recorded (none when its app declares none).
pub(super) fn of_revision(rev: &Revision) -> Result<SnapshotHooks> {
    if rev.snapshot.is_null() {
        return Ok(SnapshotHooks::default());
    }
    let spec: berth_spec::manifest::SnapshotSpec = serde_json::from_value(rev.snapshot.clone())
        .map_err(|e| {
            Error::Failed(format!(
                "revision {} of {} holds a snapshot section this berth cannot read ({e}); use the berth version that installed {} {}",
                rev.number, rev.app, rev.app, rev.version
            ))
        })?;
    Ok(spec.hooks)
}

/// The Job of one hook.
fn hook_job(ns: &str, run: &str, phase: &str, i: usize, h: &SnapshotHook) -> Option<Value> {
    let j = h.job.as_ref()?;
    let labels = json!({LABEL_KIND: "snapshot-hook", TAG_RUN: run});
    let mounts: Vec<Value> = j
        .mounts
        .iter()
        .enumerate()
        .map(|(m, x)| json!({"name": format!("m{m}"), "mountPath": x.mount_path}))
        .collect();
    let volumes: Vec<Value> = j
        .mounts
        .iter()
        .enumerate()
        .map(|(m, x)| json!({"name": format!("m{m}"), "persistentVolumeClaim": {"claimName": x.claim}}))
        .collect();
    let mut c = json!({"name": "hook", "image": j.image, "command": j.command,
        "terminationMessagePolicy": "FallbackToLogsOnError"});
    if !j.args.is_empty() {
        c["args"] = json!(j.args);
    }
    if !mounts.is_empty() {
        c["volumeMounts"] = json!(mounts);
    }
    let mut spec = json!({"restartPolicy": "Never", "containers": [c]});
    if !volumes.is_empty() {
        spec["volumes"] = json!(volumes);
    }
    Some(json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": format!("berth-hook-{run}-{phase}-{i}"), "namespace": ns,
            "labels": labels, "annotations": {"berth.dev/hook": h.name}},
        "spec": {"backoffLimit": 0, "ttlSecondsAfterFinished": 3600,
            "activeDeadlineSeconds": h.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT),
            "template": {"metadata": {"labels": labels}, "spec": spec}}}))
}

/// Runs the hooks of one phase in order, each to completion; stops at the first failure.
/// A successful hook's Job is deleted; a failed one is kept (an hour) for its logs.
pub(super) async fn run(
    cluster: &Cluster,
    ns: &str,
    run: &str,
    phase: &str,
    hooks: &[SnapshotHook],
    sink: &dyn Sink,
    records: &mut Vec<HookRecord>,
) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        let start = Instant::now();
        match (hook_job(ns, run, phase, i, h), &h.exec) {
            (Some(job), _) => run_job(cluster, ns, phase, h, &job, sink, records).await?,
            (None, Some(e)) => {
                super::exec_hook::run(cluster, ns, phase, h, e, sink, records).await?
            }
            (None, None) => {
                return Err(Error::BadInput(format!(
                    "{phase} hook {} of the installed app has neither `job` nor `exec`; fix spec.snapshot.hooks.{phase}[{i}] in berth.yaml and upgrade",
                    h.name
                )));
            }
        }
        note(
            sink,
            format!(
                "{phase}-snapshot hook {} completed in {:.1}s",
                h.name,
                start.elapsed().as_secs_f64()
            ),
        );
    }
    Ok(())
}

/// Runs one job hook's Job to completion.
async fn run_job(
    cluster: &Cluster,
    ns: &str,
    phase: &str,
    h: &SnapshotHook,
    job: &Value,
    sink: &dyn Sink,
    records: &mut Vec<HookRecord>,
) -> Result<()> {
    let r = object_ref(job);
    note(
        sink,
        format!(
            "{phase}-snapshot hook {}: job/{} in namespace {ns}",
            h.name, r.name
        ),
    );
    cluster.create(job).await.map_err(Error::other)?;
    let timeout = Duration::from_secs(u64::from(h.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT)));
    let what = format!("the {phase}-snapshot hook {}", h.name);
    let done = wait_job(cluster, &r, &what, timeout).await;
    records.push(HookRecord {
        phase: phase.into(),
        name: h.name.clone(),
        job: r.name.clone(),
        pod: String::new(),
        container: String::new(),
        outcome: if done.is_ok() { "succeeded" } else { "failed" }.into(),
    });
    if let Err(e) = done {
        return Err(Error::Failed(format!(
            "{e}; its logs: `kubectl -n {ns} logs job/{}` (the Job is kept for an hour); no snapshot was written",
            r.name
        )));
    }
    let _ = cluster.delete(&r).await;
    Ok(())
}

/// The snapshot tag that lists the hooks that ran (`pre/dump,post/resume`).
pub(super) fn tag(records: &[HookRecord]) -> Option<String> {
    if records.is_empty() {
        return None;
    }
    let list: Vec<String> = records
        .iter()
        .map(|r| format!("{}/{}", r.phase, r.name))
        .collect();
    Some(format!("berth.dev/hooks={}", list.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_spec::manifest::{HookJob, HookMount};

    #[test]
    fn a_hook_job_runs_once_with_its_claims_mounted_and_its_name_kept() {
        let h = SnapshotHook {
            name: "dump".into(),
            job: Some(HookJob {
                image: "postgres:16".into(),
                command: vec!["pg_dump".into()],
                args: vec!["-f".into(), "/data/dump.sql".into()],
                mounts: vec![HookMount {
                    claim: "data-db-0".into(),
                    mount_path: "/data".into(),
                }],
            }),
            exec: None,
            timeout_seconds: Some(30),
        };
        let j = hook_job("shop", "0a1b", "pre", 0, &h).expect("a job");
        assert_eq!(j["metadata"]["name"], "berth-hook-0a1b-pre-0");
        assert_eq!(j["metadata"]["annotations"]["berth.dev/hook"], "dump");
        assert_eq!(j["spec"]["backoffLimit"], 0);
        assert_eq!(j["spec"]["activeDeadlineSeconds"], 30);
        let pod = &j["spec"]["template"]["spec"];
        assert_eq!(
            pod["containers"][0]["volumeMounts"][0]["mountPath"],
            "/data"
        );
        assert_eq!(
            pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
            "data-db-0"
        );
        let exec = SnapshotHook {
            name: "x".into(),
            ..Default::default()
        };
        assert!(hook_job("shop", "0a1b", "pre", 1, &exec).is_none());
    }
}
