//! App-aware snapshots: back up an installed app (its deployed revision record, its live
//! objects and the data of its PersistentVolumeClaims) into a snapshot repository, and
//! restore it into another namespace or cluster. Layout and mover protocol:
//! `docs/formats/snapshot.md`, section 13.
//!
//! Volume data never passes through this process: for each claim a Job of berth's own image
//! (the mover) mounts the claim and runs `berth snapshot mover backup|restore`, reading or
//! writing the repository itself. Here the Jobs are created, waited for and cleaned up, and
//! the movers' volume snapshots are folded into one app snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_deploy::Cluster;
use berth_deploy::engine::{Mode, Release, Report};
use berth_deploy::inventory::{RegistryRecord, Revision, Status};
use berth_deploy::object::{LABEL_APP, LABEL_KIND, Manifest, ObjectRef, object_ref};
use berth_deploy::policy::UpgradePolicy;
use berth_snapshot as snap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::deploy::{Target, not_installed};

mod exec_hook;
pub mod hooks;
pub mod schedule;
pub mod volume_snapshots;
use crate::{Cancel, Discard, Error, Event, Result, Sink};
use volume_snapshots::{Consistency, Plan};

/// Repository path of berth's mover image; the tag is berth's version.
pub const MOVER_IMAGE_REPOSITORY: &str = "registry.berth.dev/berth/mover";
/// Where a mover container mounts its claim.
pub const MOUNT_PATH: &str = "/berth/volume";
/// Tag keys of app and volume snapshots.
pub const TAG_KIND: &str = "berth.dev/kind";
/// Namespace tag.
pub const TAG_NAMESPACE: &str = "berth.dev/namespace";
/// App tag.
pub const TAG_APP: &str = "berth.dev/app";
/// Version tag.
pub const TAG_VERSION: &str = "berth.dev/version";
/// Revision tag.
pub const TAG_REVISION: &str = "berth.dev/revision";
/// A mover run's tag on its volume snapshots.
pub const TAG_RUN: &str = "berth.dev/run";
/// The claim a volume snapshot holds.
pub const TAG_CLAIM: &str = "berth.dev/claim";
/// How an app snapshot's volumes were copied: crash-consistent, live or mixed.
pub const TAG_CONSISTENCY: &str = "berth.dev/consistency";
/// Largest `app/revision.json` / `app/claims.json` read back.
const MAX_RECORD: u64 = 256 * 1024 * 1024;

/// The default mover image: berth's own, at this version.
pub fn default_mover_image() -> String {
    format!("{MOVER_IMAGE_REPOSITORY}:{}", env!("CARGO_PKG_VERSION"))
}

/// The image a mover Job runs, and the pull Secret its pod references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoverImage {
    /// The image reference.
    pub image: String,
    /// An image pull Secret in the app's namespace.
    pub pull_secret: Option<String>,
}

impl MoverImage {
    /// Reference the pull Secret, if any, from a pod spec.
    pub(crate) fn add_pull_secret(&self, pod_spec: &mut Value) {
        if let Some(secret) = &self.pull_secret {
            pod_spec["imagePullSecrets"] = json!([{ "name": secret }]);
        }
    }
}

/// The mover image for an app whose deployed revision records `registry` (an air-gapped
/// install): the default image becomes its relocated copy in that registry when the release
/// carried it (docs/formats/release.md, "The mover image"), and an image in that registry is
/// pulled with the revision's pull Secret. Otherwise `requested` as it is.
pub fn mover_image_for(requested: &str, registry: Option<&RegistryRecord>) -> MoverImage {
    let plain = MoverImage {
        image: requested.to_string(),
        pull_secret: None,
    };
    let Some(rec) = registry else {
        return plain;
    };
    let Ok(target) = berth_oci::relocate::Target::parse(&rec.registry) else {
        return plain;
    };
    let mut image = requested.to_string();
    if let Ok(src) = berth_oci::Reference::parse(requested)
        && let Some(digest) = rec.images.get(&src.to_string())
        && let Ok(d) = berth_oci::digest::Digest::parse(digest)
    {
        let mut to = target.map(&src);
        to.tag = None;
        to.digest = Some(d);
        image = to.to_string();
    }
    let in_registry =
        berth_oci::Reference::parse(&image).is_ok_and(|r| r.registry == target.registry);
    MoverImage {
        pull_secret: rec.pull_secret.clone().filter(|_| in_registry),
        image,
    }
}

/// An opened repository and what a mover needs to open it too (handed over in a Secret).
pub struct RepoAccess {
    /// The opened repository.
    pub repo: snap::Repository,
    /// The `--repo` location, as the mover's pods must reach it.
    pub url: String,
    /// The repository password.
    pub password: String,
    /// What else the pods need to open the store (S3: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), handed over in the same Secret.
    pub credentials: BTreeMap<String, String>,
}

impl RepoAccess {
    /// The repository at `url` (`--repo`) for app snapshots, opened by `open`, with what the
    /// mover pods need to open it too: the password, for S3 the keys this process has
    /// (`AWS_*` from the environment), a relative directory made absolute. SFTP is refused
    /// before anything is opened: a pod has neither the login key nor the known hosts.
    pub fn for_movers<E: From<Error>>(
        url: &str,
        password: String,
        open: impl FnOnce() -> Result<snap::Repository, E>,
    ) -> Result<RepoAccess, E> {
        let mut credentials = BTreeMap::new();
        let location = snap::RepoLocation::parse(url).ok();
        match &location {
            Some(snap::RepoLocation::Sftp(_)) => {
                return Err(Error::BadInput(
                    "app snapshots need a repository the mover pods open with the password alone: a directory they reach at the same path, or s3://…; sftp:// repositories (key files and known hosts) are not handed to pods yet".into(),
                )
                .into());
            }
            Some(snap::RepoLocation::S3(_)) => {
                if let Ok(c) = berth_s3::Credentials::from_env() {
                    credentials.insert("AWS_ACCESS_KEY_ID".into(), c.access_key);
                    credentials.insert("AWS_SECRET_ACCESS_KEY".into(), c.secret_key);
                    if let Some(t) = c.session_token {
                        credentials.insert("AWS_SESSION_TOKEN".into(), t);
                    }
                }
            }
            _ => {}
        }
        let repo = open()?;
        // A relative directory means nothing to a pod: hand over the absolute path.
        let url = match location {
            Some(snap::RepoLocation::Local(p)) => std::fs::canonicalize(&p)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| url.to_string()),
            _ => url.to_string(),
        };
        Ok(RepoAccess {
            repo,
            url,
            password,
            credentials,
        })
    }

    /// Open the repository at `url` with `password` for app snapshots (as
    /// [`RepoAccess::for_movers`]): a directory or `s3://…`, whose keys come from
    /// `credentials` (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, as a
    /// schedule's Secret holds them) or, when `None`, from this process's environment.
    /// Blocking (the password's key derivation and the store's first reads): call it where
    /// blocking is allowed.
    pub fn open(
        url: &str,
        password: String,
        credentials: Option<BTreeMap<String, String>>,
    ) -> Result<RepoAccess> {
        let s3 = match &credentials {
            Some(c) => match (c.get("AWS_ACCESS_KEY_ID"), c.get("AWS_SECRET_ACCESS_KEY")) {
                (Some(a), Some(k)) => Some(snap::S3Credentials {
                    access_key: a.clone(),
                    secret_key: k.clone(),
                    session_token: c.get("AWS_SESSION_TOKEN").cloned(),
                }),
                _ => None,
            },
            None => snap::S3Credentials::from_env().ok(),
        };
        let pw = password.clone();
        let mut access = Self::for_movers(url, password, || {
            let loc = snap::RepoLocation::parse(url).map_err(snap_err)?;
            let opts = snap::BackendOptions {
                s3,
                sftp: None,
                retry_budget: Some(Duration::from_secs(30)),
            };
            let backend = snap::open_backend(&loc, &opts, false).map_err(snap_err)?;
            snap::Repository::open(backend, &snap::Secret::Password(pw)).map_err(snap_err)
        })?;
        if let Some(c) = credentials {
            access.credentials = c
                .into_iter()
                .filter(|(k, _)| k.starts_with("AWS_"))
                .collect();
        }
        Ok(access)
    }

    /// The Secret's data: `BERTH_REPO`, `BERTH_REPO_PASSWORD` and the store's credentials.
    pub fn secret_data(&self) -> BTreeMap<String, String> {
        let mut m = self.credentials.clone();
        m.insert("BERTH_REPO".into(), self.url.clone());
        m.insert("BERTH_REPO_PASSWORD".into(), self.password.clone());
        m
    }

    /// A container's `env`: each key of [`RepoAccess::secret_data`] from Secret `secret`.
    pub fn env_from(&self, secret: &str) -> Vec<Value> {
        self.secret_data()
            .keys()
            .map(|k| json!({"name": k, "valueFrom": {"secretKeyRef": {"name": secret, "key": k}}}))
            .collect()
    }
}

/// What `berth snapshot create -n NS` backs up.
#[derive(Debug, Clone)]
pub struct AppSnapshotInput {
    /// The app; `None`: the one app installed in the namespace.
    pub app: Option<String>,
    /// The mover image.
    pub mover_image: String,
    /// Extra tags.
    pub tags: Vec<String>,
    /// StorageClass → VolumeSnapshotClass, for claims whose driver or classes this account
    /// may not read (a scheduled run; recorded by `berth snapshot schedule`).
    pub volume_snapshot_classes: BTreeMap<String, String>,
}

/// One claim as recorded in `app/claims.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClaimRecord {
    /// The claim's name.
    pub name: String,
    /// accessModes, resources, storageClassName, volumeMode.
    pub spec: Value,
    /// The claim's labels.
    #[serde(default)]
    pub labels: Value,
    /// Files backed up.
    pub files: u64,
    /// Bytes backed up.
    pub bytes: u64,
    /// How the files were read: from a VolumeSnapshot, or live.
    #[serde(default)]
    pub consistency: Consistency,
    /// The VolumeSnapshotClass of a crash-consistent copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_snapshot_class: Option<String>,
    /// Why a live copy was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_reason: Option<String>,
}

/// What `berth snapshot create -n NS` did.
#[derive(Debug, Clone, Serialize)]
pub struct AppSnapshotReport {
    /// The snapshot id.
    pub snapshot_id: String,
    /// The app.
    pub app: String,
    /// The namespace.
    pub namespace: String,
    /// The deployed version.
    pub version: String,
    /// The deployed revision.
    pub revision: u32,
    /// Objects stored.
    pub objects: usize,
    /// Claims and their data.
    pub claims: Vec<ClaimRecord>,
    /// The hooks that ran.
    pub hooks: Vec<hooks::HookRecord>,
}

/// What `berth snapshot restore ID -n NS` restores.
#[derive(Debug, Clone)]
pub struct AppRestoreInput {
    /// Snapshot id or unique prefix.
    pub snapshot: String,
    /// Restore over an installed app (objects re-applied; existing claims keep their data).
    pub force: bool,
    /// The mover image.
    pub mover_image: String,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct AppRestoreReport {
    /// The snapshot restored.
    pub snapshot_id: String,
    /// The namespace it was taken from.
    pub from_namespace: String,
    /// Claims created and filled from the snapshot.
    pub restored_claims: Vec<String>,
    /// Claims that existed and kept their data (`--force`).
    pub kept_claims: Vec<String>,
    /// The deploy engine's report (the revision recorded in the new namespace).
    pub deploy: Report,
}

fn snap_err(e: snap::Error) -> Error {
    use snap::Error as E;
    match e {
        E::WrongKey
        | E::NotARepository(_)
        | E::SnapshotNotFound(_)
        | E::AmbiguousSnapshot(_)
        | E::TargetNotEmpty(_)
        | E::Invalid(_) => Error::BadInput(e.to_string()),
        other => Error::other(other),
    }
}

fn note(sink: &dyn Sink, message: String) {
    sink.event(Event::Note { message });
}

/// A short random id for one run's Jobs, Secret and volume snapshots.
fn run_id() -> String {
    snap::Secret::new_key_file()[..5]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The one app with revisions in the namespace.
async fn find_app(cluster: &Cluster, ns: &str) -> Result<String> {
    let secrets = cluster
        .list("v1", "Secret", ns, Some(&format!("{LABEL_KIND}=revision")))
        .await
        .map_err(Error::other)?;
    let apps: std::collections::BTreeSet<String> = secrets
        .iter()
        .filter_map(|s| {
            s.pointer(&format!(
                "/metadata/labels/{}",
                LABEL_APP.replace('/', "~1")
            ))
            .and_then(Value::as_str)
            .map(String::from)
        })
        .collect();
    match apps.len() {
        0 => Err(Error::NotInstalled(format!(
            "no app is installed in namespace {ns}; pass the namespace of an installed app with -n (see `berth status APP -n NS`)"
        ))),
        1 => Ok(apps.into_iter().next().unwrap_or_default()),
        _ => Err(Error::BadInput(format!(
            "namespace {ns} holds several apps ({}); name one with --app",
            apps.into_iter().collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The app (named, or the one in the namespace) and its deployed revision.
async fn deployed(
    target: &Target,
    cluster: &Arc<Cluster>,
    ns: &str,
    app: Option<&str>,
) -> Result<(String, Revision)> {
    let app = match app {
        Some(a) => a.to_string(),
        None => find_app(cluster, ns).await?,
    };
    let engine = target.engine(cluster.clone(), ns, Arc::new(Discard), |_| {});
    let revs = engine.revisions(&app).await?;
    match revs.iter().rev().find(|r| r.status == Status::Deployed) {
        Some(rev) => Ok((app, rev.clone())),
        None => Err(Error::NotInstalled(
            not_installed(cluster, &app, ns, false).await,
        )),
    }
}

/// App snapshots are a licensed feature: refused when the namespace's installed license
/// (`secret/berth-license`, written by `berth install --license`) does not grant
/// `snapshots`; allowed when no license is installed.
pub async fn snapshots_allowed(cluster: &Cluster, ns: &str) -> Result<()> {
    let Some(license) = crate::online::installed_license_in(cluster, ns).await? else {
        return Ok(());
    };
    if license.spec.snapshots {
        return Ok(());
    }
    Err(Error::BadInput(format!(
        "the license installed in namespace {ns} ({} for {}) does not include snapshots; ask the vendor for a license with the snapshots entitlement and install it with `berth upgrade --license FILE`",
        license.spec.license_id, license.spec.customer
    )))
}

/// Back up the installed app of `target`'s namespace.
pub async fn create(
    target: &Target,
    access: &RepoAccess,
    input: &AppSnapshotInput,
    sink: &dyn Sink,
) -> Result<AppSnapshotReport> {
    let (cluster, ns) = target.connect().await?;
    snapshots_allowed(&cluster, &ns).await?;
    let (app, rev) = deployed(target, &cluster, &ns, input.app.as_deref()).await?;
    let objects = live_objects(&cluster, &rev, sink).await?;
    note(
        sink,
        format!(
            "{app} {} (revision {}) in namespace {ns}: {} objects",
            rev.version,
            rev.number,
            objects.len()
        ),
    );
    // The app's bound claims (not the temporary claims of a run going on beside this one).
    let claims: Vec<Value> = cluster
        .list("v1", "PersistentVolumeClaim", &ns, None)
        .await
        .map_err(Error::other)?
        .into_iter()
        .filter(|c| {
            c.pointer("/spec/volumeName")
                .and_then(Value::as_str)
                .is_some()
                && c["metadata"]["labels"][LABEL_KIND] != "mover"
        })
        .collect();
    let plans = volume_snapshots::plan(&cluster, &claims, &input.volume_snapshot_classes).await?;
    for (c, p) in claims.iter().zip(&plans) {
        if let Plan::Live { reason } = p {
            note(
                sink,
                format!(
                    "claim {} is copied live (not crash-consistent): {reason}",
                    object_ref(c).name
                ),
            );
        }
    }
    let run = run_id();
    let hook_specs = hooks::of_revision(&rev)?;
    let mut hook_records = Vec::new();
    let pre = hooks::run(
        &cluster,
        &ns,
        &run,
        "pre",
        &hook_specs.pre,
        sink,
        &mut hook_records,
    )
    .await;
    if let Err(e) = pre {
        // The post hooks resume what the pre hooks that did run paused; the pre hook's
        // failure is the error either way.
        if let Err(p) = hooks::run(
            &cluster,
            &ns,
            &run,
            "post",
            &hook_specs.post,
            sink,
            &mut hook_records,
        )
        .await
        {
            note(
                sink,
                format!("after the failed pre hook, a post hook failed too: {p}"),
            );
        }
        return Err(e);
    }
    let mut copy = VolumeCopy {
        cluster: &cluster,
        ns: &ns,
        run: &run,
        access,
        timeout: target.timeout,
        sink,
        snaps: volume_snapshots::Snapshots::new(&ns, &run),
        mover: mover_image_for(&input.mover_image, rev.registry.as_ref()),
        jobs: Vec::new(),
        post: None,
    };
    let done = copy
        .volumes(&claims, &plans, &hook_specs.post, &mut hook_records)
        .await;
    cleanup(&cluster, &ns, &run, &copy.jobs).await;
    copy.snaps.cleanup(&cluster, sink).await;
    // Post hooks run also when the copy failed: they resume what the pre hooks paused.
    let post = match copy.post.take() {
        Some(r) => r,
        None => {
            hooks::run(
                &cluster,
                &ns,
                &run,
                "post",
                &hook_specs.post,
                sink,
                &mut hook_records,
            )
            .await
        }
    };
    done?;
    post?;
    let jobs = copy.jobs;
    let mut tags = vec![
        format!("{TAG_KIND}=app"),
        format!("{TAG_NAMESPACE}={ns}"),
        format!("{TAG_APP}={app}"),
        format!("{TAG_VERSION}={}", rev.version),
        format!("{TAG_REVISION}={}", rev.number),
    ];
    tags.extend(hooks::tag(&hook_records));
    if let Some(c) = volume_snapshots::consistency_tag(&plans) {
        tags.push(format!("{TAG_CONSISTENCY}={c}"));
    }
    tags.extend(input.tags.iter().cloned());
    let record = AppRecord {
        path: format!("berth-app://{ns}/{app}"),
        rev: &rev,
        objects: &objects,
        claims: &claims,
        plans: &plans,
        hooks: &hook_records,
        tags,
    };
    let (snapshot_id, records) =
        blocking(|| write_app_snapshot(&access.repo, &record, &run, &jobs))?;
    Ok(AppSnapshotReport {
        snapshot_id,
        app,
        namespace: ns,
        version: rev.version,
        revision: rev.number,
        objects: objects.len(),
        claims: records,
        hooks: hook_records,
    })
}

/// An app snapshot as a list shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AppSnapshotSummary {
    /// The snapshot id.
    pub id: String,
    /// When it was taken (RFC 3339).
    pub time: String,
    /// The app.
    pub app: String,
    /// The namespace it was taken from.
    pub namespace: String,
    /// The version then deployed.
    pub version: String,
    /// The revision then deployed.
    pub revision: Option<u32>,
    /// Taken by the schedule's CronJob.
    pub scheduled: bool,
    /// The claims whose data it holds.
    pub claims: Vec<String>,
    /// Bytes of its items (objects and volume files).
    pub bytes: u64,
    /// Every tag.
    pub tags: Vec<String>,
}

/// The app snapshots in `repo` (of `app` when given), newest first. Directory snapshots and
/// the movers' volume snapshots are left out. Blocking.
pub fn list(repo: &snap::Repository, app: Option<&str>) -> Result<Vec<AppSnapshotSummary>> {
    let mut out: Vec<(jiff::Timestamp, AppSnapshotSummary)> = Vec::new();
    for s in repo.snapshots().map_err(snap_err)? {
        let tags = &s.snapshot.tags;
        let tag = |k: &str| {
            tags.iter()
                .find_map(|t| t.strip_prefix(&format!("{k}=")))
                .map(String::from)
        };
        if tag(TAG_KIND).as_deref() != Some("app") {
            continue;
        }
        let this_app = tag(TAG_APP).unwrap_or_default();
        if app.is_some_and(|a| a != this_app) {
            continue;
        }
        let claims = s
            .snapshot
            .items
            .iter()
            .filter(|i| i.kind == snap::ItemKind::Dir)
            .filter_map(|i| i.path.strip_prefix("volumes/"))
            .filter(|c| !c.contains('/'))
            .map(String::from)
            .collect();
        out.push((
            s.snapshot.time,
            AppSnapshotSummary {
                id: s.id.clone(),
                time: s
                    .snapshot
                    .time
                    .round(jiff::Unit::Second)
                    .map_or_else(|_| s.snapshot.time.to_string(), |t| t.to_string()),
                app: this_app,
                namespace: tag(TAG_NAMESPACE).unwrap_or_default(),
                version: tag(TAG_VERSION).unwrap_or_default(),
                revision: tag(TAG_REVISION).and_then(|r| r.parse().ok()),
                scheduled: tags.iter().any(|t| t == "berth.dev/scheduled=true"),
                claims,
                bytes: s.snapshot.items.iter().map(|i| i.size).sum(),
                tags: tags.clone(),
            },
        ));
    }
    out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    Ok(out.into_iter().map(|(_, s)| s).collect())
}

/// Reading the volumes of one `create`: VolumeSnapshots first, then the movers.
struct VolumeCopy<'a> {
    cluster: &'a Cluster,
    ns: &'a str,
    run: &'a str,
    access: &'a RepoAccess,
    timeout: Duration,
    sink: &'a dyn Sink,
    snaps: volume_snapshots::Snapshots,
    /// The image the mover Jobs run.
    mover: MoverImage,
    /// The mover Jobs created (by claim).
    jobs: Vec<(String, Value)>,
    /// The post hooks' outcome, when they ran early (every volume captured by a snapshot).
    post: Option<Result<()>>,
}

impl VolumeCopy<'_> {
    /// VolumeSnapshots of the planned claims, all at once; the post hooks as soon as no live
    /// volume remains to be read; temporary claims from the snapshots; then one mover per
    /// claim, reading the temporary claim or the live one.
    async fn volumes(
        &mut self,
        claims: &[Value],
        plans: &[Plan],
        post_hooks: &[berth_spec::manifest::SnapshotHook],
        hook_records: &mut Vec<hooks::HookRecord>,
    ) -> Result<()> {
        let deadline = Instant::now() + self.timeout;
        self.snaps
            .take(self.cluster, claims, plans, self.sink)
            .await?;
        self.snaps
            .wait(self.cluster, false, deadline, self.timeout)
            .await?;
        if !plans.is_empty() && plans.iter().all(|p| matches!(p, Plan::Snapshot { .. })) {
            note(
                self.sink,
                "every volume is captured by a VolumeSnapshot: the app may resume".into(),
            );
            self.post = Some(
                hooks::run(
                    self.cluster,
                    self.ns,
                    self.run,
                    "post",
                    post_hooks,
                    self.sink,
                    hook_records,
                )
                .await,
            );
        }
        self.snaps
            .wait(self.cluster, true, deadline, self.timeout)
            .await?;
        self.snaps.make_claims(self.cluster).await?;
        for (i, c) in claims.iter().enumerate() {
            let claim = object_ref(c).name;
            let mount = self
                .snaps
                .mount_claim(&claim)
                .unwrap_or_else(|| claim.clone());
            let args = vec![
                "snapshot".to_string(),
                "mover".into(),
                "backup".into(),
                "--source".into(),
                MOUNT_PATH.into(),
                "--run".into(),
                self.run.to_string(),
                "--claim".into(),
                claim.clone(),
            ];
            let job = mover_job(
                self.ns,
                self.run,
                i,
                &self.mover,
                args,
                &mount,
                true,
                self.access,
            );
            self.jobs.push((claim, job));
        }
        let done = run_movers(
            self.cluster,
            self.ns,
            self.run,
            self.access,
            &self.jobs,
            self.timeout,
            self.sink,
        )
        .await;
        match done {
            Err(Error::Failed(m)) if !self.snaps.is_empty() => {
                let why = self.snaps.claim_problems(self.cluster).await;
                Err(Error::Failed(if why.is_empty() {
                    m
                } else {
                    format!("{m}; {why}")
                }))
            }
            other => other,
        }
    }
}

/// Repository calls block (an S3 store drives its own runtime, which tokio refuses inside an
/// async worker): run them where blocking is allowed.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// What an app snapshot holds besides the volumes.
struct AppRecord<'a> {
    path: String,
    rev: &'a Revision,
    objects: &'a [(String, String)],
    claims: &'a [Value],
    /// How each claim was read (same order as `claims`).
    plans: &'a [Plan],
    hooks: &'a [hooks::HookRecord],
    tags: Vec<String>,
}

/// Writes the app snapshot (section 13 of docs/formats/snapshot.md) from the movers' volume
/// snapshots of `run`, then deletes those; returns its id and the claims' records.
fn write_app_snapshot(
    repo: &snap::Repository,
    a: &AppRecord,
    run: &str,
    jobs: &[(String, Value)],
) -> Result<(String, Vec<ClaimRecord>)> {
    let volume_snaps = find_volume_snapshots(repo, run, jobs)?;
    let mut w = repo.writer().map_err(snap_err)?;
    w.set_paths(vec![a.path.clone()]);
    let rev_json = serde_json::to_vec_pretty(a.rev).map_err(Error::other)?;
    w.add_stream("app/revision.json", &rev_json[..])
        .map_err(snap_err)?;
    for (path, yaml) in a.objects {
        w.add_stream(path, yaml.as_bytes()).map_err(snap_err)?;
    }
    let mut records = Vec::new();
    for (c, plan) in a.claims.iter().zip(a.plans) {
        let name = object_ref(c).name;
        let items = volume_snaps
            .get(&name)
            .map(|s| s.snapshot.items.as_slice())
            .unwrap_or_default();
        records.push(claim_record(c, items, plan));
    }
    let claims_json = serde_json::to_vec_pretty(&records).map_err(Error::other)?;
    w.add_stream("app/claims.json", &claims_json[..])
        .map_err(snap_err)?;
    if !a.hooks.is_empty() {
        let hooks_json = serde_json::to_vec_pretty(a.hooks).map_err(Error::other)?;
        w.add_stream("app/hooks.json", &hooks_json[..])
            .map_err(snap_err)?;
    }
    w.add_empty_dir("volumes", None).map_err(snap_err)?;
    for (claim, s) in &volume_snaps {
        let prefix = format!("volumes/{claim}");
        w.add_empty_dir(&prefix, None).map_err(snap_err)?;
        w.add_items(&prefix, &s.snapshot.items).map_err(snap_err)?;
    }
    let opts = snap::BackupOptions {
        tags: a.tags.clone(),
        ..Default::default()
    };
    let sum = w.finish(&opts).map_err(snap_err)?;
    // The app snapshot now references the movers' chunks: their own documents may go.
    for s in volume_snaps.values() {
        repo.remove_snapshot(&s.id).map_err(snap_err)?;
    }
    Ok((sum.snapshot_id, records))
}

fn claim_record(c: &Value, items: &[snap::Item], plan: &Plan) -> ClaimRecord {
    let spec = &c["spec"];
    let mut kept = json!({});
    for k in ["accessModes", "resources", "storageClassName", "volumeMode"] {
        if !spec[k].is_null() {
            kept[k] = spec[k].clone();
        }
    }
    ClaimRecord {
        name: object_ref(c).name,
        spec: kept,
        labels: c["metadata"]["labels"].clone(),
        files: items
            .iter()
            .filter(|i| i.kind == snap::ItemKind::File)
            .count() as u64,
        bytes: items.iter().map(|i| i.size).sum(),
        consistency: plan.consistency(),
        volume_snapshot_class: match plan {
            Plan::Snapshot { class, .. } => Some(class.clone()),
            Plan::Live { .. } => None,
        },
        live_reason: match plan {
            Plan::Live { reason } => Some(reason.clone()),
            Plan::Snapshot { .. } => None,
        },
    }
}

/// The volume snapshot each mover of `run` wrote, by claim.
fn find_volume_snapshots(
    repo: &snap::Repository,
    run: &str,
    jobs: &[(String, Value)],
) -> Result<BTreeMap<String, snap::SnapshotInfo>> {
    let run_tag = format!("{TAG_RUN}={run}");
    let mut out = BTreeMap::new();
    let all = repo.snapshots().map_err(snap_err)?;
    for (claim, job) in jobs {
        let claim_tag = format!("{TAG_CLAIM}={claim}");
        let s = all
            .iter()
            .find(|s| s.snapshot.tags.contains(&run_tag) && s.snapshot.tags.contains(&claim_tag))
            .ok_or_else(|| {
                Error::Failed(format!(
                    "the mover Job {} completed but left no volume snapshot for claim {claim} in {}; is the repository the pods reach the same as this one?",
                    object_ref(job).name,
                    repo.location()
                ))
            })?;
        out.insert(claim.clone(), s.clone());
    }
    Ok(out)
}

/// Each object of the revision as it is live, cleaned of server-set fields, as YAML by item
/// path.
///
/// An object this account may not read (a scheduled run's service account reads only the
/// kinds its Role names: those of the revision deployed when the Role was last written) is left out with a note: restores use the
/// revision's own copy (`app/revision.json`), the live copies are for inspection.
async fn live_objects(
    cluster: &Cluster,
    rev: &Revision,
    sink: &dyn Sink,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for m in &rev.objects {
        let r = m.reference();
        let live = match cluster.get(&r).await {
            Ok(l) => l,
            Err(e) if e.code() == 403 => {
                note(
                    sink,
                    format!(
                        "{} {} is not readable here ({e}); the snapshot keeps the revision's copy only",
                        r.kind, r.name
                    ),
                );
                continue;
            }
            Err(e) => return Err(Error::other(e)),
        };
        let Some(mut live) = live else {
            continue;
        };
        clean(&mut live);
        let group = match r.api_version.split_once('/') {
            Some((g, _)) => g.to_string(),
            None => "core".to_string(),
        };
        let path = format!("app/objects/{group}/{}/{}.yaml", r.kind, r.name);
        let yaml = serde_saphyr::to_string(&live).map_err(Error::other)?;
        out.push((path, yaml));
    }
    Ok(out)
}

/// Drops what the API server sets, so the object can be created again elsewhere.
fn clean(o: &mut Value) {
    if let Some(m) = o.as_object_mut() {
        m.remove("status");
    }
    if let Some(md) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "generation",
            "managedFields",
            "ownerReferences",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            md.remove(k);
        }
    }
}

/// The Secret that hands the repository location and password to the movers.
fn mover_secret(ns: &str, run: &str, access: &RepoAccess) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": format!("berth-mover-{run}"), "namespace": ns,
            "labels": {LABEL_KIND: "mover", TAG_RUN: run}},
        "type": "Opaque",
        "stringData": access.secret_data()})
}

/// A mover Job for one claim, mounting `claim` (the claim itself, or its temporary claim
/// from a VolumeSnapshot).
#[allow(clippy::too_many_arguments)]
fn mover_job(
    ns: &str,
    run: &str,
    n: usize,
    mover: &MoverImage,
    args: Vec<String>,
    claim: &str,
    read_only: bool,
    access: &RepoAccess,
) -> Value {
    let env = access.env_from(&format!("berth-mover-{run}"));
    let image = &mover.image;
    let mut job = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": format!("berth-mover-{run}-{n}"), "namespace": ns,
            "labels": {LABEL_KIND: "mover", TAG_RUN: run}},
        "spec": {"backoffLimit": 0, "ttlSecondsAfterFinished": 3600,
            "template": {"metadata": {"labels": {LABEL_KIND: "mover", TAG_RUN: run}},
                "spec": {"restartPolicy": "Never",
                    "containers": [{"name": "mover", "image": image, "command": ["/berth"], "args": args,
                        "terminationMessagePolicy": "FallbackToLogsOnError",
                        "env": env,
                        "volumeMounts": [{"name": "data", "mountPath": MOUNT_PATH, "readOnly": read_only}]}],
                    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim, "readOnly": read_only}}]}}}});
    mover.add_pull_secret(&mut job["spec"]["template"]["spec"]);
    job
}

/// Creates the Secret and the Jobs, then waits for every Job to complete.
async fn run_movers(
    cluster: &Cluster,
    ns: &str,
    run: &str,
    access: &RepoAccess,
    jobs: &[(String, Value)],
    timeout: Duration,
    sink: &dyn Sink,
) -> Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    cluster
        .apply(&mover_secret(ns, run, access), "", true)
        .await
        .map_err(Error::other)?;
    for (claim, job) in jobs {
        note(
            sink,
            format!("mover job/{} for claim {claim}", object_ref(job).name),
        );
        cluster.create(job).await.map_err(Error::other)?;
    }
    for (claim, job) in jobs {
        let what = format!("the mover of claim {claim}");
        wait_job(cluster, &object_ref(job), &what, timeout).await?;
    }
    Ok(())
}

/// Waits for a Job's Complete condition; a Failed one is reported with its pod's termination
/// message (the mover's last output lines).
async fn wait_job(cluster: &Cluster, r: &ObjectRef, what: &str, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        let job = cluster.get(r).await.map_err(Error::other)?;
        let cond = |t: &str| {
            job.as_ref()
                .and_then(|j| j.pointer("/status/conditions"))
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|c| c["type"] == t && c["status"] == "True"))
        };
        if cond("Complete") {
            return Ok(());
        }
        if cond("Failed") {
            let why = job_failure(cluster, r, job.as_ref()).await;
            return Err(Error::Failed(format!(
                "job/{} ({what}) in namespace {} failed: {why}",
                r.name, r.namespace
            )));
        }
        if start.elapsed() > timeout {
            return Err(Error::Failed(format!(
                "job/{} ({what}) in namespace {} did not finish within {}s; see `kubectl -n {} describe job {}` (its image must be pullable: berth release build adds it to every release)",
                r.name,
                r.namespace,
                timeout.as_secs(),
                r.namespace,
                r.name
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The termination message of the Job's failed container, or the Job's condition message.
async fn job_failure(cluster: &Cluster, r: &ObjectRef, job: Option<&Value>) -> String {
    let uid = job
        .and_then(|j| j.pointer("/metadata/uid"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let pods = cluster
        .list("v1", "Pod", &r.namespace, None)
        .await
        .unwrap_or_default();
    for p in pods {
        let owned = p["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|a| a.iter().any(|o| o["uid"] == uid));
        if !owned {
            continue;
        }
        for cs in p["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let t = &cs["state"]["terminated"];
            if let Some(m) = t["message"].as_str().filter(|m| !m.trim().is_empty()) {
                return format!("exit code {}: {}", t["exitCode"], m.trim());
            }
            if t.is_object() {
                return format!("exit code {}", t["exitCode"]);
            }
        }
    }
    "BackoffLimitExceeded (no container status left)".to_string()
}

/// Deletes the run's Jobs (their pods follow) and Secret; failures only leave leftovers.
async fn cleanup(cluster: &Cluster, ns: &str, run: &str, jobs: &[(String, Value)]) {
    for (_, job) in jobs {
        let _ = cluster.delete(&object_ref(job)).await;
    }
    let secret = ObjectRef {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: ns.into(),
        name: format!("berth-mover-{run}"),
    };
    let _ = cluster.delete(&secret).await;
}

/// Restore an app snapshot into `target`'s namespace.
pub async fn restore(
    target: &Target,
    access: &RepoAccess,
    input: &AppRestoreInput,
    sink: Arc<dyn Sink>,
    cancel: &Cancel,
) -> Result<AppRestoreReport> {
    let repo = &access.repo;
    let info = blocking(|| repo.snapshot(&input.snapshot)).map_err(snap_err)?;
    let tag = |k: &str| {
        info.snapshot
            .tags
            .iter()
            .find_map(|t| t.strip_prefix(&format!("{k}=")))
            .map(String::from)
    };
    if tag(TAG_KIND).as_deref() != Some("app") {
        return Err(Error::BadInput(format!(
            "snapshot {} is not an app snapshot (it holds {}); restore it into a directory with --target DIR",
            &info.id[..8],
            info.snapshot.paths.join(", ")
        )));
    }
    let from_ns = tag(TAG_NAMESPACE).unwrap_or_default();
    let rev: Revision = serde_json::from_slice(
        &blocking(|| repo.read_item(&info, "app/revision.json", MAX_RECORD)).map_err(snap_err)?,
    )
    .map_err(|e| Error::Failed(format!("snapshot {}: app/revision.json: {e}", info.id)))?;
    let claims: Vec<ClaimRecord> = serde_json::from_slice(
        &blocking(|| repo.read_item(&info, "app/claims.json", MAX_RECORD)).map_err(snap_err)?,
    )
    .map_err(|e| Error::Failed(format!("snapshot {}: app/claims.json: {e}", info.id)))?;
    let (cluster, ns) = target.connect().await?;
    let engine = target.engine(cluster.clone(), &ns, sink.clone(), |_| {});
    let existing = engine.revisions(&rev.app).await?;
    if let Some(cur) = existing.iter().find(|r| r.status == Status::Deployed)
        && !input.force
    {
        return Err(Error::BadInput(format!(
            "{} is already installed in namespace {ns} (revision {}, version {}); restore into another namespace with -n NEW_NAMESPACE, or pass --force to re-apply the snapshot's objects over it (claims that exist keep their data)",
            rev.app, cur.number, cur.version
        )));
    }
    ensure_namespace(&cluster, &ns).await?;
    let mover = restore_mover(&cluster, &rev, &from_ns, &ns, &input.mover_image).await?;
    let (restored, kept) = restore_claims(
        &cluster,
        &ns,
        access,
        &info.id,
        &claims,
        &mover,
        target.timeout,
        &*sink,
    )
    .await?;
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let objects: Vec<Manifest> = rev
        .objects
        .iter()
        .chain(rev.hooks.iter())
        .map(|m| {
            Manifest::new(
                rewrite_namespace(&m.object, &from_ns, &ns),
                m.source.clone(),
            )
        })
        .collect();
    let rel = Release {
        app: rev.app.clone(),
        version: rev.version.clone(),
        objects,
        config: rev.config.clone(),
        policy: UpgradePolicy::default(),
        snapshot: rev.snapshot.clone(),
    };
    let mode = if existing.iter().any(|r| r.status == Status::Deployed) {
        Mode::Upgrade
    } else {
        Mode::Install
    };
    let deploy = engine.deploy(rel, mode, false).await?;
    Ok(AppRestoreReport {
        snapshot_id: info.id,
        from_namespace: from_ns,
        restored_claims: restored,
        kept_claims: kept,
        deploy,
    })
}

/// The restore movers' image: relocated as for [`mover_image_for`]; its pull Secret (a
/// revision object) is created first, since the movers run before the app's objects return.
async fn restore_mover(
    cluster: &Cluster,
    rev: &Revision,
    from_ns: &str,
    ns: &str,
    requested: &str,
) -> Result<MoverImage> {
    let mut mover = mover_image_for(requested, rev.registry.as_ref());
    if let Some(name) = mover.pull_secret.clone() {
        let secret = rev.objects.iter().find(|m| {
            m.object["kind"] == "Secret" && m.object["metadata"]["name"] == name.as_str()
        });
        match secret {
            Some(m) => {
                let o = rewrite_namespace(&m.object, from_ns, ns);
                cluster.apply(&o, "", true).await.map_err(Error::other)?;
            }
            None => mover.pull_secret = None,
        }
    }
    Ok(mover)
}

async fn ensure_namespace(cluster: &Cluster, ns: &str) -> Result<()> {
    let r = ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: String::new(),
        name: ns.into(),
    };
    if cluster.get(&r).await.map_err(Error::other)?.is_none() {
        let o = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        cluster.apply(&o, "", true).await.map_err(Error::other)?;
    }
    Ok(())
}

/// Creates the missing claims, waits until they are bound and fills them with mover Jobs;
/// returns (claims restored, claims that existed and were left alone).
#[allow(clippy::too_many_arguments)]
async fn restore_claims(
    cluster: &Cluster,
    ns: &str,
    access: &RepoAccess,
    snapshot_id: &str,
    claims: &[ClaimRecord],
    mover: &MoverImage,
    timeout: Duration,
    sink: &dyn Sink,
) -> Result<(Vec<String>, Vec<String>)> {
    let (mut restored, mut kept) = (Vec::new(), Vec::new());
    for c in claims {
        let obj = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": c.name, "namespace": ns, "labels": c.labels.clone()},
            "spec": c.spec.clone()});
        if cluster
            .get(&object_ref(&obj))
            .await
            .map_err(Error::other)?
            .is_some()
        {
            note(
                sink,
                format!(
                    "claim {} exists in namespace {ns}: it keeps its data",
                    c.name
                ),
            );
            kept.push(c.name.clone());
            continue;
        }
        let mut obj = obj;
        if obj["metadata"]["labels"].is_null() {
            obj["metadata"].as_object_mut().map(|m| m.remove("labels"));
        }
        cluster.create(&obj).await.map_err(Error::other)?;
        restored.push(c.name.clone());
    }
    for name in &restored {
        wait_bound(cluster, ns, name, timeout).await?;
    }
    let run = run_id();
    let jobs: Vec<(String, Value)> = restored
        .iter()
        .enumerate()
        .map(|(i, claim)| {
            let args = vec![
                "snapshot".to_string(),
                "mover".into(),
                "restore".into(),
                snapshot_id.to_string(),
                "--root".into(),
                format!("volumes/{claim}"),
                "--target".into(),
                MOUNT_PATH.into(),
                "--claim".into(),
                claim.clone(),
            ];
            (
                claim.clone(),
                mover_job(ns, &run, i, mover, args, claim, false, access),
            )
        })
        .collect();
    let done = run_movers(cluster, ns, &run, access, &jobs, timeout, sink).await;
    cleanup(cluster, ns, &run, &jobs).await;
    done?;
    Ok((restored, kept))
}

async fn wait_bound(cluster: &Cluster, ns: &str, name: &str, timeout: Duration) -> Result<()> {
    let r = ObjectRef {
        api_version: "v1".into(),
        kind: "PersistentVolumeClaim".into(),
        namespace: ns.into(),
        name: name.into(),
    };
    let start = Instant::now();
    loop {
        let c = cluster.get(&r).await.map_err(Error::other)?;
        if c.as_ref()
            .and_then(|c| c.pointer("/status/phase"))
            .and_then(Value::as_str)
            == Some("Bound")
        {
            return Ok(());
        }
        // A class that binds on first consumer binds when the mover's pod is scheduled.
        if let Some(class) = c
            .as_ref()
            .and_then(|c| c.pointer("/spec/storageClassName"))
            .and_then(Value::as_str)
        {
            let sc = ObjectRef {
                api_version: "storage.k8s.io/v1".into(),
                kind: "StorageClass".into(),
                namespace: String::new(),
                name: class.into(),
            };
            if let Ok(Some(sc)) = cluster.get(&sc).await
                && sc["volumeBindingMode"] == "WaitForFirstConsumer"
            {
                return Ok(());
            }
        }
        if start.elapsed() > timeout {
            return Err(Error::Failed(format!(
                "persistentvolumeclaim/{name} in namespace {ns} was not bound within {}s; see `kubectl -n {ns} describe pvc {name}` (is there a default StorageClass?)",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The object with `from` namespaces rewritten to `to`: `metadata.namespace` and the
/// `subjects[].namespace` of RoleBindings and ClusterRoleBindings.
pub fn rewrite_namespace(o: &Value, from: &str, to: &str) -> Value {
    let mut o = o.clone();
    if o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(from) {
        o["metadata"]["namespace"] = json!(to);
    }
    let kind = o["kind"].as_str().unwrap_or("");
    if (kind == "RoleBinding" || kind == "ClusterRoleBinding")
        && let Some(subjects) = o.get_mut("subjects").and_then(Value::as_array_mut)
    {
        for s in subjects {
            if s["namespace"].as_str() == Some(from) {
                s["namespace"] = json!(to);
            }
        }
    }
    o
}

/// The mover's backup: the directory as a volume snapshot tagged with the run and claim
/// (run inside the mover Job; see the module docs).
pub fn mover_backup(
    repo: &snap::Repository,
    source: &std::path::Path,
    run: &str,
    claim: &str,
) -> Result<snap::BackupSummary> {
    let opts = snap::BackupOptions {
        tags: vec![
            format!("{TAG_KIND}=volume"),
            format!("{TAG_RUN}={run}"),
            format!("{TAG_CLAIM}={claim}"),
        ],
        read_all: true,
        ..Default::default()
    };
    repo.backup_dir(source, &opts).map_err(snap_err)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_mover_of_an_air_gapped_install_is_its_relocated_copy() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let mut images = BTreeMap::new();
        images.insert(default_mover_image(), digest.clone());
        let rec = RegistryRecord {
            registry: "registry.corp:5000/hello".into(),
            pull_secret: Some("berth-registry".into()),
            images,
        };
        let m = mover_image_for(&default_mover_image(), Some(&rec));
        assert_eq!(
            m.image,
            format!("registry.corp:5000/hello/berth/mover@{digest}")
        );
        assert_eq!(m.pull_secret.as_deref(), Some("berth-registry"));
        let dir = tempfile::tempdir().expect("tempdir");
        let access = test_access(
            dir.path(),
            &dir.path().display().to_string(),
            BTreeMap::new(),
        );
        let job = mover_job("ns", "r1", 0, &m, vec![], "data", true, &access);
        assert_eq!(
            job["spec"]["template"]["spec"]["imagePullSecrets"],
            json!([{"name": "berth-registry"}])
        );
        // An image of the admin's choice elsewhere is used as given, without the Secret.
        let other = mover_image_for("mirror.example/berth/mover:9", Some(&rec));
        assert_eq!(other.image, "mirror.example/berth/mover:9");
        assert_eq!(other.pull_secret, None);
        // A release without the mover image: the default stays, pulled from the vendor.
        let rec2 = RegistryRecord {
            images: BTreeMap::new(),
            ..rec
        };
        let m = mover_image_for(&default_mover_image(), Some(&rec2));
        assert_eq!(m.image, default_mover_image());
        assert_eq!(m.pull_secret, None);
        let job = mover_job("ns", "r1", 0, &m, vec![], "data", true, &access);
        assert!(job["spec"]["template"]["spec"]["imagePullSecrets"].is_null());
        // Not air-gapped: as requested.
        assert_eq!(
            mover_image_for(&default_mover_image(), None).image,
            default_mover_image()
        );
    }

    use super::*;

    /// A repository in `dir` (cheap key derivation) handed over as `url` with `credentials`.
    pub(crate) fn test_access(
        dir: &std::path::Path,
        url: &str,
        credentials: BTreeMap<String, String>,
    ) -> RepoAccess {
        RepoAccess {
            repo: snap::Repository::init(
                Arc::new(snap::LocalBackend::new(dir)),
                &snap::Secret::Password("pw-1234".into()),
                &snap::InitOptions {
                    kdf: snap::KdfParams {
                        m_cost_kib: 1024,
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
            .expect("init"),
            url: url.to_string(),
            password: "pw-1234".into(),
            credentials,
        }
    }

    #[test]
    fn namespaces_are_rewritten_only_where_they_name_the_old_one() {
        let rb = json!({"kind": "RoleBinding", "metadata": {"name": "x", "namespace": "hello"},
            "subjects": [{"kind": "ServiceAccount", "name": "a", "namespace": "hello"},
                         {"kind": "ServiceAccount", "name": "b", "namespace": "other"}]});
        let out = rewrite_namespace(&rb, "hello", "restored");
        assert_eq!(out["metadata"]["namespace"], "restored");
        assert_eq!(out["subjects"][0]["namespace"], "restored");
        assert_eq!(out["subjects"][1]["namespace"], "other");
        let cr = json!({"kind": "ClusterRole", "metadata": {"name": "x"}});
        assert_eq!(rewrite_namespace(&cr, "hello", "restored"), cr);
    }

    #[test]
    fn cleaned_objects_lose_server_fields_and_keep_their_spec() {
        let mut o = json!({"kind": "ConfigMap", "metadata": {"name": "c", "uid": "u",
            "resourceVersion": "5", "managedFields": [], "labels": {"a": "b"}},
            "data": {"k": "v"}, "status": {}});
        clean(&mut o);
        assert_eq!(
            o,
            json!({"kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "b"}}, "data": {"k": "v"}})
        );
    }
}
