//! Scheduled app snapshots (`berth snapshot schedule`): a CronJob in the app's namespace
//! whose pod, of berth's mover image, runs `berth snapshot mover scheduled`: the same
//! [`super::create`] as an interactive `berth snapshot create -n`, from inside the cluster
//! with its own ServiceAccount, then the schedule's retention over this app's snapshots and
//! a prune. The objects, their names and rights: `docs/formats/snapshot.md`, section 14.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use berth_deploy::Cluster;
use berth_deploy::object::{LABEL_KIND, ObjectRef};
use berth_snapshot as snap;
use serde::Serialize;
use serde_json::{Value, json};

use super::{
    AppSnapshotInput, AppSnapshotReport, RepoAccess, TAG_APP, TAG_KIND, TAG_NAMESPACE, deployed,
    note, snap_err, snapshots_allowed, volume_snapshots,
};
use crate::deploy::Target;
use crate::{Error, Result, Sink};

/// `berth.dev/kind` of every object of a schedule.
pub const KIND_SCHEDULE: &str = "snapshot-schedule";
/// The label naming the app a schedule's objects belong to (not `berth.dev/app`: these
/// objects are not part of the app's revisions).
pub const LABEL_SNAPSHOT_OF: &str = "berth.dev/snapshot-of";
/// The CronJob's annotation holding the repository location (not secret; shown by `--list`).
pub const ANNOTATION_REPO: &str = "berth.dev/repo";
/// The CronJob's annotation holding the retention (`keep-daily=7,keep-weekly=4`).
pub const ANNOTATION_RETENTION: &str = "berth.dev/retention";
/// Longest app name a schedule supports: a CronJob's name has at most 52 characters.
const MAX_APP_NAME: usize = 52 - "berth-snapshot-".len();

/// What `berth snapshot schedule` installs.
#[derive(Debug, Clone)]
pub struct ScheduleInput {
    /// The app; `None`: the one app installed in the namespace.
    pub app: Option<String>,
    /// The 5-field cron expression (or `@daily` and the like).
    pub cron: String,
    /// What each run keeps of this app's snapshots (empty: all).
    pub retention: snap::RetentionPolicy,
    /// The mover image.
    pub mover_image: String,
}

/// An installed schedule, as `berth snapshot schedule --list` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScheduleInfo {
    /// The app.
    pub app: String,
    /// The namespace.
    pub namespace: String,
    /// The cron expression.
    pub cron: String,
    /// The retention (`keep-daily=7,…`; empty: every snapshot is kept).
    pub retention: String,
    /// The repository location.
    pub repo: String,
    /// The mover image.
    pub mover_image: String,
    /// When the CronJob last started a run.
    pub last_schedule_time: Option<String>,
    /// When a run last completed.
    pub last_successful_time: Option<String>,
    /// Runs going on now.
    pub active: usize,
    /// The objects of the schedule (`kind/name`).
    pub objects: Vec<String>,
}

/// The name of every object of the schedule of `app`.
pub fn schedule_name(app: &str) -> String {
    format!("berth-snapshot-{app}")
}

const FIELDS: [(&str, &str, u32, u32); 5] = [
    ("minute", "1st", 0, 59),
    ("hour", "2nd", 0, 23),
    ("day-of-month", "3rd", 1, 31),
    ("month", "4th", 1, 12),
    ("day-of-week", "5th", 0, 7),
];
const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const CRON_HELP: &str = "a schedule is 5 fields, minute hour day-of-month month day-of-week, e.g. \"0 3 * * *\" (03:00 every day, in the time zone of the cluster's controller manager, usually UTC), or @hourly, @daily, @weekly, @monthly";

/// Checks a CronJob schedule as Kubernetes reads it: 5 fields of `*`, values, ranges
/// `a-b`, steps `/n` and lists `a,b`, each in its range (month and day names allowed), or a
/// macro. The error names the field and the fix.
pub fn validate_cron(expr: &str) -> std::result::Result<(), String> {
    let e = expr.trim();
    if e.starts_with('@') {
        return match e {
            "@hourly" | "@daily" | "@midnight" | "@weekly" | "@monthly" | "@yearly"
            | "@annually" => Ok(()),
            _ => Err(format!("--cron {expr:?}: unknown macro {e}; {CRON_HELP}")),
        };
    }
    let fields: Vec<&str> = e.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "--cron {expr:?}: {} fields; {CRON_HELP}",
            fields.len()
        ));
    }
    for (i, (f, (name, nth, lo, hi))) in fields.iter().zip(FIELDS).enumerate() {
        let names: &[&str] = match i {
            3 => &MONTHS,
            4 => &DAYS,
            _ => &[],
        };
        let bad = |why: String| {
            format!("--cron {expr:?}: the {name} field ({nth}) is {f:?}: {why}; {CRON_HELP}")
        };
        for part in f.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (part, None),
            };
            if let Some(s) = step {
                match s.parse::<u32>() {
                    Ok(n) if n >= 1 && n <= hi => {}
                    _ => return Err(bad(format!("the step {s:?} is not a number in 1-{hi}"))),
                }
            }
            if range == "*" || (range == "?" && i >= 2 && i != 3) {
                continue;
            }
            let value = |v: &str| -> std::result::Result<u32, String> {
                let n = match names.iter().position(|n| n.eq_ignore_ascii_case(v)) {
                    Some(p) if i == 3 => p as u32 + 1,
                    Some(p) => p as u32,
                    None => v.parse::<u32>().map_err(|_| {
                        format!(
                            "{v:?} is not a number{}",
                            if names.is_empty() { "" } else { " or a name" }
                        )
                    })?,
                };
                if n < lo || n > hi {
                    return Err(format!("{n} is outside {lo}-{hi}"));
                }
                Ok(n)
            };
            match range.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (value(a).map_err(bad)?, value(b).map_err(bad)?);
                    if a > b {
                        return Err(bad(format!("the range {a}-{b} runs backwards")));
                    }
                }
                None => {
                    value(range).map_err(bad)?;
                }
            }
        }
    }
    Ok(())
}

/// `keep-last=N,keep-daily=N,…` for the rules that are set.
pub fn retention_text(p: &snap::RetentionPolicy) -> String {
    [
        ("keep-last", p.keep_last),
        ("keep-daily", p.keep_daily),
        ("keep-weekly", p.keep_weekly),
        ("keep-monthly", p.keep_monthly),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(k, n)| format!("{k}={n}"))
    .collect::<Vec<_>>()
    .join(",")
}

fn labels(app: &str) -> Value {
    json!({"app.kubernetes.io/managed-by": "berth", LABEL_KIND: KIND_SCHEDULE, LABEL_SNAPSHOT_OF: app})
}

/// The Secret, ServiceAccount, Role, RoleBinding and CronJob of a schedule (in that order).
/// `classes`: StorageClass → VolumeSnapshotClass, for the run, which may not look them up.
fn schedule_objects(
    ns: &str,
    app: &str,
    access: &RepoAccess,
    input: &ScheduleInput,
    mover: &super::MoverImage,
    rules: Vec<Value>,
    classes: &BTreeMap<String, String>,
) -> Vec<Value> {
    let name = schedule_name(app);
    let md = |annotations: Value| {
        let mut m = json!({"name": name, "namespace": ns, "labels": labels(app)});
        if !annotations.is_null() {
            m["annotations"] = annotations;
        }
        m
    };
    let r = &input.retention;
    let mut args: Vec<String> = ["snapshot", "mover", "scheduled", "--namespace", ns]
        .iter()
        .map(|s| s.to_string())
        .chain(["--app".into(), app.into()])
        .chain(["--mover-image".into(), mover.image.clone()])
        .collect();
    for (flag, n) in [
        ("--keep-last", r.keep_last),
        ("--keep-daily", r.keep_daily),
        ("--keep-weekly", r.keep_weekly),
        ("--keep-monthly", r.keep_monthly),
    ] {
        if n > 0 {
            args.extend([flag.to_string(), n.to_string()]);
        }
    }
    for (sc, vsc) in classes {
        args.extend(["--volume-snapshot-class".to_string(), format!("{sc}={vsc}")]);
    }
    let mut objects = vec![
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": md(Value::Null), "type": "Opaque",
            "stringData": access.secret_data()}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": md(Value::Null)}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": md(Value::Null),
            "rules": rules}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": md(Value::Null),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}]}),
        json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": md(json!({ANNOTATION_REPO: access.url, ANNOTATION_RETENTION: retention_text(r)})),
            "spec": {"schedule": input.cron.trim(), "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 3600,
                "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
                "jobTemplate": {"metadata": {"labels": labels(app)},
                    "spec": {"backoffLimit": 0,
                        "template": {"metadata": {"labels": labels(app)},
                            "spec": {"restartPolicy": "Never", "serviceAccountName": name,
                                "containers": [{"name": "snapshot", "image": mover.image,
                                    "command": ["/berth"], "args": args,
                                    "terminationMessagePolicy": "FallbackToLogsOnError",
                                    "env": access.env_from(&name)}]}}}}}}),
    ];
    // The CronJob (last) pulls the mover image with the revision's pull Secret, if any.
    if let Some(cron) = objects.last_mut() {
        mover.add_pull_secret(&mut cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]);
    }
    objects
}

/// What the scheduled run needs and nothing more: read the app's revisions and Secrets,
/// list its claims and pods, read pod logs (hook failures), create and delete the mover
/// Jobs and their Secret, exec into pods (when the revision has exec hooks), the VolumeSnapshots and the temporary claims made from them
/// (when the cluster serves VolumeSnapshots), and `get` each namespaced kind of the app's
/// current revision.
pub(crate) async fn role_rules(
    cluster: &Cluster,
    rev: &berth_deploy::inventory::Revision,
) -> Result<Vec<Value>> {
    let mut read: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in &rev.objects {
        let r = m.reference();
        if let Ok(Some((ar, true))) = cluster.resolve(&r.api_version, &r.kind).await {
            read.entry(ar.group.clone()).or_default().insert(ar.plural);
        }
    }
    let mut rules = vec![
        json!({"apiGroups": [""], "resources": ["secrets"],
            "verbs": ["get", "list", "create", "patch", "delete"]}),
        json!({"apiGroups": [""], "resources": ["persistentvolumeclaims"],
            "verbs": ["get", "list", "create", "delete"]}),
        json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}),
        json!({"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}),
        json!({"apiGroups": [""], "resources": ["events"], "verbs": ["list"]}),
        json!({"apiGroups": ["batch"], "resources": ["jobs"],
            "verbs": ["get", "list", "create", "delete"]}),
    ];
    let hooks = super::hooks::of_revision(rev)?;
    if hooks
        .pre
        .iter()
        .chain(&hooks.post)
        .any(|h| h.exec.is_some())
    {
        // An exec over WebSocket is a GET: clusters authorize it as `get`, or as `create`
        // with AuthorizePodWebsocketUpgradeCreatePermission.
        rules.push(json!({"apiGroups": [""], "resources": ["pods/exec"],
            "verbs": ["get", "create"]}));
    }
    if volume_snapshots::served(cluster).await? {
        rules.push(
            json!({"apiGroups": ["snapshot.storage.k8s.io"], "resources": ["volumesnapshots"],
            "verbs": ["get", "list", "create", "delete"]}),
        );
    }
    for (group, resources) in read {
        rules.push(json!({"apiGroups": [group], "resources": resources, "verbs": ["get"]}));
    }
    Ok(rules)
}

/// Keeps an existing schedule's Role in step with the revision deployed now (after an
/// install, upgrade or rollback), so scheduled runs may read the kinds it added. Nothing
/// happens when the app has no schedule.
pub async fn follow_revision(
    cluster: &Cluster,
    ns: &str,
    app: &str,
    rev: &berth_deploy::inventory::Revision,
    sink: &dyn Sink,
) -> Result<()> {
    let name = schedule_name(app);
    let r = ObjectRef {
        api_version: "rbac.authorization.k8s.io/v1".into(),
        kind: "Role".into(),
        namespace: ns.into(),
        name: name.clone(),
    };
    let Some(role) = cluster.get(&r).await.map_err(Error::other)? else {
        return Ok(());
    };
    let l = &role["metadata"]["labels"];
    if l[LABEL_KIND] != KIND_SCHEDULE || l[LABEL_SNAPSHOT_OF] != app {
        return Ok(());
    }
    let rules = role_rules(cluster, rev).await?;
    if role["rules"] == Value::Array(rules.clone()) {
        return Ok(());
    }
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": name, "namespace": ns, "labels": labels(app)}, "rules": rules});
    cluster.apply(&role, "", true).await.map_err(Error::other)?;
    note(
        sink,
        format!(
            "role/{name} in namespace {ns}: the snapshot schedule now reads the kinds of revision {}",
            rev.number
        ),
    );
    Ok(())
}

fn refs(ns: &str, app: &str) -> Vec<ObjectRef> {
    [
        ("batch/v1", "CronJob"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("v1", "ServiceAccount"),
        ("v1", "Secret"),
    ]
    .iter()
    .map(|(a, k)| ObjectRef {
        api_version: a.to_string(),
        kind: k.to_string(),
        namespace: ns.into(),
        name: schedule_name(app),
    })
    .collect()
}

/// Installs (or replaces) the schedule of the app in `target`'s namespace. The repository
/// was opened with the password first, so a wrong one fails now rather than at 03:00.
pub async fn schedule(
    target: &Target,
    access: &RepoAccess,
    input: &ScheduleInput,
    sink: &dyn Sink,
) -> Result<ScheduleInfo> {
    validate_cron(&input.cron).map_err(Error::BadInput)?;
    let (cluster, ns) = target.connect().await?;
    snapshots_allowed(&cluster, &ns).await?;
    let (app, rev) = deployed(target, &cluster, &ns, input.app.as_deref()).await?;
    if app.len() > MAX_APP_NAME {
        return Err(Error::BadInput(format!(
            "app name {app} is longer than {MAX_APP_NAME} characters: the schedule's CronJob {} would exceed Kubernetes' 52; snapshot it with `berth snapshot create -n {ns}` from a scheduler of your own",
            schedule_name(&app)
        )));
    }
    let rules = role_rules(&cluster, &rev).await?;
    let claims = cluster
        .list("v1", "PersistentVolumeClaim", &ns, None)
        .await
        .map_err(Error::other)?;
    let classes = volume_snapshots::schedule_hints(&cluster, &claims).await?;
    for (sc, vsc) in &classes {
        note(
            sink,
            format!("claims of StorageClass {sc} are snapshotted with VolumeSnapshotClass {vsc}"),
        );
    }
    let mover = super::mover_image_for(&input.mover_image, rev.registry.as_ref());
    for o in schedule_objects(&ns, &app, access, input, &mover, rules, &classes) {
        let r = berth_deploy::object::object_ref(&o);
        cluster.apply(&o, "", true).await.map_err(Error::other)?;
        note(
            sink,
            format!("{}/{} in namespace {ns}", r.kind.to_lowercase(), r.name),
        );
    }
    show(target, Some(&app)).await?.ok_or_else(|| {
        Error::Failed(format!(
            "the schedule of {app} in namespace {ns} vanished while it was installed"
        ))
    })
}

/// Deletes the schedule's objects; returns those that existed (`kind/name`).
pub async fn unschedule(target: &Target, app: Option<&str>) -> Result<Vec<String>> {
    let (cluster, ns) = target.connect().await?;
    let app = match app {
        Some(a) => a.to_string(),
        None => scheduled_app(&cluster, &ns).await?,
    };
    let mut gone = Vec::new();
    for r in refs(&ns, &app) {
        if cluster.delete(&r).await.map_err(Error::other)? {
            gone.push(format!("{}/{}", r.kind.to_lowercase(), r.name));
        }
    }
    if gone.is_empty() {
        return Err(Error::NotInstalled(format!(
            "no snapshot schedule of {app} in namespace {ns} (see `berth snapshot schedule -n {ns} --list`)"
        )));
    }
    Ok(gone)
}

/// The app of the one schedule in the namespace.
async fn scheduled_app(cluster: &Cluster, ns: &str) -> Result<String> {
    let apps = schedules(cluster, ns).await?;
    match apps.len() {
        1 => Ok(apps.into_keys().next().unwrap_or_default()),
        0 => Err(Error::NotInstalled(format!(
            "no snapshot schedule in namespace {ns}; install one with `berth snapshot schedule -n {ns} --repo … --cron …`"
        ))),
        _ => Err(Error::BadInput(format!(
            "namespace {ns} holds schedules of several apps ({}); name one with --app",
            apps.into_keys().collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The schedules' CronJobs in the namespace, by app.
async fn schedules(cluster: &Cluster, ns: &str) -> Result<BTreeMap<String, Value>> {
    let cjs = cluster
        .list(
            "batch/v1",
            "CronJob",
            ns,
            Some(&format!("{LABEL_KIND}={KIND_SCHEDULE}")),
        )
        .await
        .map_err(Error::other)?;
    Ok(cjs
        .into_iter()
        .filter_map(|c| {
            let app = c["metadata"]["labels"][LABEL_SNAPSHOT_OF]
                .as_str()?
                .to_string();
            Some((app, c))
        })
        .collect())
}

/// The schedule of `app` (or of the one scheduled app) in `target`'s namespace, if any.
pub async fn show(target: &Target, app: Option<&str>) -> Result<Option<ScheduleInfo>> {
    let (cluster, ns) = target.connect().await?;
    let all = schedules(&cluster, &ns).await?;
    let cj = match app {
        Some(a) => all.get(a).cloned(),
        None if all.len() > 1 => {
            return Err(Error::BadInput(format!(
                "namespace {ns} holds schedules of several apps ({}); name one with --app",
                all.into_keys().collect::<Vec<_>>().join(", ")
            )));
        }
        None => all.into_values().next(),
    };
    let Some(cj) = cj else {
        return Ok(None);
    };
    let app = cj["metadata"]["labels"][LABEL_SNAPSHOT_OF]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut objects = Vec::new();
    for r in refs(&ns, &app).into_iter().rev() {
        if cluster.get(&r).await.map_err(Error::other)?.is_some() {
            objects.push(format!("{}/{}", r.kind.to_lowercase(), r.name));
        }
    }
    let s = |p: &str| cj.pointer(p).and_then(Value::as_str).map(String::from);
    Ok(Some(ScheduleInfo {
        namespace: ns,
        cron: s("/spec/schedule").unwrap_or_default(),
        retention: s("/metadata/annotations/berth.dev~1retention").unwrap_or_default(),
        repo: s("/metadata/annotations/berth.dev~1repo").unwrap_or_default(),
        mover_image: s("/spec/jobTemplate/spec/template/spec/containers/0/image")
            .unwrap_or_default(),
        last_schedule_time: s("/status/lastScheduleTime"),
        last_successful_time: s("/status/lastSuccessfulTime"),
        active: cj["status"]["active"].as_array().map_or(0, Vec::len),
        app,
        objects,
    }))
}

/// A repository as a schedule's Secret stores it: the location, its password and the store's
/// keys (what the CronJob's pod gets), for other front ends to open the same repository.
#[derive(Clone)]
pub struct StoredRepository {
    /// `BERTH_REPO`.
    pub url: String,
    /// `BERTH_REPO_PASSWORD`.
    pub password: String,
    /// `AWS_*` keys, for an `s3://` repository.
    pub credentials: BTreeMap<String, String>,
    /// Where it was read (`secret/berth-snapshot-APP in namespace NS`).
    pub source: String,
}

impl std::fmt::Debug for StoredRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StoredRepository {{ url: {:?}, source: {:?}, .. }}",
            self.url, self.source
        )
    }
}

impl StoredRepository {
    /// Open it (blocking: see [`RepoAccess::open`]).
    pub fn open(&self) -> Result<RepoAccess> {
        RepoAccess::open(
            &self.url,
            self.password.clone(),
            Some(self.credentials.clone()),
        )
        .map_err(|e| match e {
            Error::BadInput(m) => Error::BadInput(format!("{} ({}): {m}", self.url, self.source)),
            e => e,
        })
    }
}

/// The repository the schedule of `app` in `target`'s namespace writes to, read from its
/// Secret (`berth-snapshot-APP`); `None` when the app has no schedule.
pub async fn stored_repository(target: &Target, app: &str) -> Result<Option<StoredRepository>> {
    use base64::Engine as _;
    let (cluster, ns) = target.connect().await?;
    let r = ObjectRef {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: ns.clone(),
        name: schedule_name(app),
    };
    let Some(secret) = cluster.get(&r).await.map_err(Error::other)? else {
        return Ok(None);
    };
    let source = format!("secret/{} in namespace {ns}", r.name);
    let mut data = BTreeMap::new();
    for (k, v) in secret["data"].as_object().into_iter().flatten() {
        let text = v
            .as_str()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok());
        if let Some(t) = text {
            data.insert(k.clone(), t);
        }
    }
    let mut take = |k: &str| {
        data.remove(k).filter(|v| !v.is_empty()).ok_or_else(|| {
            Error::BadInput(format!(
                "{source} has no {k}: install the schedule again (`berth snapshot schedule -n {ns} --repo … --cron …`)"
            ))
        })
    };
    let url = take("BERTH_REPO")?;
    let password = take("BERTH_REPO_PASSWORD")?;
    Ok(Some(StoredRepository {
        url,
        password,
        credentials: data,
        source,
    }))
}

/// What a scheduled run does (inside the CronJob's pod).
#[derive(Debug, Clone)]
pub struct ScheduledRunInput {
    /// The app.
    pub app: String,
    /// The image of the per-claim mover Jobs (the run's own).
    pub mover_image: String,
    /// What to keep of this app's snapshots.
    pub retention: snap::RetentionPolicy,
    /// The prune's grace period.
    pub grace: Duration,
    /// StorageClass → VolumeSnapshotClass, recorded by `schedule` (`--volume-snapshot-class`).
    pub volume_snapshot_classes: BTreeMap<String, String>,
}

/// What a scheduled run did.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduledRunReport {
    /// The new snapshot.
    pub snapshot: AppSnapshotReport,
    /// Snapshots of this app the retention removed.
    pub forgotten: Vec<String>,
    /// Snapshots of this app kept.
    pub kept: usize,
    /// Packs the prune deleted.
    pub deleted_packs: usize,
}

/// The scheduled run: an app snapshot as `berth snapshot create -n` takes it, then the
/// retention applied to this app's snapshots only (other apps and directory snapshots in the
/// same repository are left alone) and a prune.
pub async fn run(
    target: &Target,
    access: &RepoAccess,
    input: &ScheduledRunInput,
    sink: Arc<dyn Sink>,
) -> Result<ScheduledRunReport> {
    let snapshot = super::create(
        target,
        access,
        &AppSnapshotInput {
            app: Some(input.app.clone()),
            mover_image: input.mover_image.clone(),
            tags: vec!["berth.dev/scheduled=true".into()],
            volume_snapshot_classes: input.volume_snapshot_classes.clone(),
        },
        &*sink,
    )
    .await?;
    let mut report = ScheduledRunReport {
        snapshot,
        forgotten: Vec::new(),
        kept: 0,
        deleted_packs: 0,
    };
    if input.retention.is_empty() {
        return Ok(report);
    }
    let ns = report.snapshot.namespace.clone();
    super::blocking(|| retain(&access.repo, &ns, input, &mut report))?;
    note(
        &*sink,
        format!(
            "retention {}: kept {}, forgot {}",
            retention_text(&input.retention),
            report.kept,
            report.forgotten.len()
        ),
    );
    Ok(report)
}

/// The retention over this app's snapshots, and a prune when any was forgotten.
fn retain(
    repo: &snap::Repository,
    ns: &str,
    input: &ScheduledRunInput,
    report: &mut ScheduledRunReport,
) -> Result<()> {
    let want = [
        format!("{TAG_KIND}=app"),
        format!("{TAG_NAMESPACE}={ns}"),
        format!("{TAG_APP}={}", input.app),
    ];
    let mine: Vec<(String, jiff::Timestamp)> = repo
        .snapshots()
        .map_err(snap_err)?
        .into_iter()
        .filter(|s| want.iter().all(|t| s.snapshot.tags.contains(t)))
        .map(|s| (s.id, s.snapshot.time))
        .collect();
    for (id, keep) in snap::retention::apply(&mine, &input.retention) {
        if keep {
            report.kept += 1;
        } else {
            repo.remove_snapshot(&id).map_err(snap_err)?;
            report.forgotten.push(id);
        }
    }
    if !report.forgotten.is_empty() {
        let p = repo
            .prune(snap::PruneOptions { grace: input.grace })
            .map_err(snap_err)?;
        report.deleted_packs = p.deleted_packs;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_expressions_kubernetes_accepts_pass() {
        for ok in [
            "0 3 * * *",
            "*/15 * * * *",
            "0 0-6/2 1,15 * mon-fri",
            "30 2 * jan,jul 0",
            "0 0 ? * 7",
            "@daily",
            " 5 4 * * sun ",
        ] {
            assert_eq!(validate_cron(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn bad_cron_expressions_name_the_field_and_the_fix() {
        for (bad, want) in [
            (
                "0 25 * * *",
                "the hour field (2nd) is \"25\": 25 is outside 0-23",
            ),
            ("60 * * * *", "the minute field (1st)"),
            (
                "0 3 0 * *",
                "the day-of-month field (3rd) is \"0\": 0 is outside 1-31",
            ),
            ("0 3 * 13 *", "the month field (4th)"),
            ("0 3 * * 8", "the day-of-week field (5th)"),
            ("0 3 * * funday", "\"funday\" is not a number or a name"),
            ("0 3 * *", "4 fields"),
            ("*/0 * * * *", "the step \"0\""),
            ("0 5-2 * * *", "runs backwards"),
            ("@sometimes", "unknown macro"),
        ] {
            let e = validate_cron(bad).expect_err(bad);
            assert!(e.contains(want), "{bad}: {e}");
            assert!(e.contains("\"0 3 * * *\""), "{bad}: no example in {e}");
        }
    }

    #[test]
    fn the_schedule_objects_hand_the_password_to_the_pod_only_through_the_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let access = crate::snapshot::tests::test_access(
            dir.path(),
            "s3://backups/hello?endpoint=https://s3.example.com&region=eu",
            [
                ("AWS_ACCESS_KEY_ID".to_string(), "AKIDEXAMPLE".to_string()),
                (
                    "AWS_SECRET_ACCESS_KEY".to_string(),
                    "s3-secret-5678".to_string(),
                ),
            ]
            .into(),
        );
        let input = ScheduleInput {
            app: None,
            cron: "0 3 * * *".into(),
            retention: snap::RetentionPolicy {
                keep_daily: 7,
                ..Default::default()
            },
            mover_image: "registry.berth.dev/berth/mover:1".into(),
        };
        let classes: BTreeMap<String, String> =
            [("gp3-csi".to_string(), "csi-aws-vsc".to_string())].into();
        let mover = crate::snapshot::mover_image_for(&input.mover_image, None);
        let objs = schedule_objects("shop", "hello", &access, &input, &mover, vec![], &classes);
        let kinds: Vec<&str> = objs.iter().filter_map(|o| o["kind"].as_str()).collect();
        assert_eq!(
            kinds,
            ["Secret", "ServiceAccount", "Role", "RoleBinding", "CronJob"]
        );
        for o in &objs {
            assert_eq!(o["metadata"]["name"], "berth-snapshot-hello");
            assert_eq!(o["metadata"]["labels"][LABEL_SNAPSHOT_OF], "hello");
            if o["kind"] != "Secret" {
                for secret in ["pw-1234", "s3-secret-5678"] {
                    assert!(!o.to_string().contains(secret), "{o}");
                }
            }
        }
        let data = &objs[0]["stringData"];
        assert_eq!(data["BERTH_REPO_PASSWORD"], "pw-1234");
        assert_eq!(data["AWS_SECRET_ACCESS_KEY"], "s3-secret-5678");
        let cj = &objs[4];
        let args = cj
            .pointer("/spec/jobTemplate/spec/template/spec/containers/0/args")
            .expect("args")
            .to_string();
        assert!(args.contains("\"--keep-daily\",\"7\""), "{args}");
        assert!(
            args.contains("\"--volume-snapshot-class\",\"gp3-csi=csi-aws-vsc\""),
            "{args}"
        );
        assert!(!args.contains("--keep-last"), "{args}");
        assert_eq!(
            cj["metadata"]["annotations"][ANNOTATION_RETENTION],
            "keep-daily=7"
        );
        let env: Vec<(String, String)> = cj
            .pointer("/spec/jobTemplate/spec/template/spec/containers/0/env")
            .and_then(Value::as_array)
            .expect("env")
            .iter()
            .map(|e| {
                let r = &e["valueFrom"]["secretKeyRef"];
                let from = format!(
                    "{}/{}",
                    r["name"].as_str().unwrap_or(""),
                    r["key"].as_str().unwrap_or("")
                );
                (e["name"].as_str().unwrap_or("").to_string(), from)
            })
            .collect();
        let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "BERTH_REPO",
                "BERTH_REPO_PASSWORD"
            ]
        );
        for (n, from) in &env {
            assert_eq!(from, &format!("berth-snapshot-hello/{n}"));
        }
    }
}
