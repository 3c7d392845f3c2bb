//! The engine: install, upgrade, rollback, uninstall, status and history, built from the pure
//! parts (plan, order, readiness, diagnose, inventory, policy, lock) and the cluster edge.
//!
//! Crash safety rests on one rule: a revision (with every object it may create) is written
//! as `pending` before the first object is applied. Whatever a killed run left behind is
//! therefore listed in some revision, and the next run prunes or adopts it.

use crate::cluster::{Cluster, ClusterError};
use crate::diagnose::{Diagnosis, Evidence, diagnose};
use crate::hooks::{DeletePolicy, Hook, HookEvent, hooks_for, split_hooks};
use crate::inventory::{self, DiagnosisRecord, InventoryError, Operation, Revision, Status};
use crate::lock::{self, LockState};
use crate::object::{self, LABEL_APP, Manifest, ObjectRef, object_ref};
use crate::order::{self, Batch};
use crate::plan::{self, Action, Key, Plan};
use crate::policy::{self, UpgradePolicy};
use crate::readiness::{Readiness, readiness_in};
use futures::StreamExt as _;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What an interrupted run records and prints.
const INTERRUPTED: &str = "interrupted (Ctrl-C): stopped at a safe point; run the same command again to finish, or `berth rollback`";

/// Engine settings (CLI flags).
#[derive(Debug, Clone)]
pub struct Options {
    /// The app's namespace (revisions and the lock live here; objects without one land here).
    pub namespace: String,
    /// How long to wait for readiness (and for a held lock).
    pub timeout: Duration,
    /// Objects applied at once.
    pub concurrency: usize,
    /// Take over fields owned by other managers.
    pub force_conflicts: bool,
    /// Roll a failed upgrade back automatically.
    pub rollback_on_failure: bool,
    /// Lock lease duration in seconds (renewed every third of it). Default 60, or
    /// `BERTH_LOCK_TTL_SECONDS` when set (tests use a short lease).
    pub lock_ttl: u32,
    /// Revisions kept in the cluster.
    pub history_max: usize,
    /// Fail the wait early once a diagnosis has held for this long (None: wait for the timeout).
    pub fail_fast: Option<Duration>,
    /// Ask the server to validate every changed object (dry-run apply) before changing anything.
    pub validate: bool,
    /// Uninstall only: delete PersistentVolumeClaims too.
    pub delete_data: bool,
    /// Private registry the objects were relocated to, recorded in install/upgrade revisions
    /// (a rollback records the registry of the revision it restores).
    pub registry: Option<inventory::RegistryRecord>,
    /// Record this host's facts (host collectors) in the baseline too: for installs run on
    /// the cluster's own machine (embedded clusters, VMs).
    pub baseline_host: bool,
    /// The readiness and hook waits re-read pending objects after [`Options::wait_poll_min`]
    /// (100 ms, or a quarter of this when that is less), then back off up to this. Default
    /// 1 s; the dev loop uses 100 ms (first re-read after 25 ms), where a second of lag is
    /// most of the budget.
    pub wait_poll_max: Duration,
}

impl Options {
    /// The first re-read of a wait: 100 ms, or a quarter of [`Options::wait_poll_max`].
    pub fn wait_poll_min(&self) -> Duration {
        Duration::from_millis(100).min(self.wait_poll_max / 4)
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            namespace: "default".into(),
            timeout: Duration::from_secs(300),
            concurrency: 32,
            force_conflicts: false,
            rollback_on_failure: true,
            lock_ttl: std::env::var("BERTH_LOCK_TTL_SECONDS")
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .filter(|v| *v > 0)
                .unwrap_or(60),
            history_max: 10,
            fail_fast: Some(Duration::from_secs(10)),
            validate: true,
            delete_data: false,
            registry: None,
            baseline_host: false,
            wait_poll_max: Duration::from_secs(1),
        }
    }
}

/// Progress the engine reports while it works. Serialized as
/// `{"kind": "phase"|"object"|"waiting"|"note", "data": ...}` (the admin console streams it).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", content = "data", rename_all = "camelCase")]
pub enum Event {
    /// A new phase started.
    Phase(String),
    /// One object was applied, pruned or deleted.
    Object {
        /// The object.
        object: ObjectRef,
        /// What happened (`created`, `configured`, `pruned`, `deleted`...).
        what: String,
    },
    /// Readiness progress.
    Waiting {
        /// Ready objects.
        ready: usize,
        /// All objects waited on.
        total: usize,
        /// The first few objects still waited on, with why.
        waiting: Vec<(ObjectRef, String)>,
    },
    /// A note (lock taken over, repair of an interrupted run...).
    Note(String),
    /// A hook starts (after the `running <event> hook <object>` phase).
    Hook {
        /// `pre-install`, `post-upgrade`, `pre-delete`...
        event: String,
        /// The hook object.
        object: ObjectRef,
    },
}

/// Receives progress events (the CLI draws them; tests ignore them).
pub trait Progress: Send + Sync {
    /// One event.
    fn event(&self, e: Event);
}

/// Ignores progress.
pub struct Quiet;
impl Progress for Quiet {
    fn event(&self, _: Event) {}
}

/// What to install: rendered objects plus what berth.yaml says about them.
#[derive(Debug, Clone)]
pub struct Release {
    /// App name (labels, Secret and Lease names).
    pub app: String,
    /// App version.
    pub version: String,
    /// Rendered objects, hooks included.
    pub objects: Vec<Manifest>,
    /// Config values (validated, generated values included).
    pub config: Value,
    /// Upgrade policy.
    pub policy: UpgradePolicy,
    /// berth.yaml's `spec.snapshot` (hooks), as JSON; kept in the revision so app snapshots
    /// (also scheduled ones, in the cluster) find it. Null: none.
    pub snapshot: Value,
}

/// A rendered object and where it goes: its source file, its component's namespace (for
/// objects that name none) and its component's install weight.
#[derive(Debug, Clone)]
pub struct Placed {
    pub object: Value,
    pub source: String,
    pub namespace: String,
    pub weight: i32,
}

impl Release {
    /// The release of an app from its rendered objects: each namespaced object in its
    /// component's namespace unless it names one, each component's weight kept as an
    /// annotation, and the upgrade policy berth.yaml declares.
    pub fn of_app(
        app: &berth_spec::manifest::Application,
        objects: impl IntoIterator<Item = Placed>,
        config: Value,
    ) -> Release {
        let objects = objects
            .into_iter()
            .map(|p| {
                let mut m = Manifest::new(p.object, p.source);
                if m.object.pointer("/metadata/namespace").is_none()
                    && let Some(meta) = m.object.get_mut("metadata").and_then(Value::as_object_mut)
                {
                    meta.insert("namespace".into(), json!(p.namespace));
                }
                if p.weight != 0 && m.annotation(order::ANNOTATION_WEIGHT).is_none() {
                    object::set_annotation(
                        &mut m.object,
                        order::ANNOTATION_WEIGHT,
                        &p.weight.to_string(),
                    );
                }
                m
            })
            .collect();
        let upgrades = app.spec.upgrades.as_ref();
        Release {
            app: app.metadata.name.clone(),
            version: app
                .metadata
                .version
                .clone()
                .unwrap_or_else(|| "0.0.0".into()),
            objects,
            config,
            snapshot: app
                .spec
                .snapshot
                .as_ref()
                .and_then(|sn| serde_json::to_value(sn).ok())
                .unwrap_or(Value::Null),
            policy: UpgradePolicy {
                min_upgrade_from: upgrades.and_then(|u| u.minimum_version.clone()),
                required_releases: upgrades.map(|u| u.required.clone()).unwrap_or_default(),
                kubernetes: app
                    .spec
                    .compatibility
                    .as_ref()
                    .and_then(|c| c.kubernetes.clone()),
            },
        }
    }
}

/// Which operation the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `berth install`.
    Install,
    /// `berth upgrade`.
    Upgrade,
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Applied and ready.
    Deployed,
    /// Nothing to change; no revision written.
    Unchanged,
    /// Plan only.
    DryRun,
    /// Failed; left as is (`--no-rollback`, or nothing to roll back to).
    Failed,
    /// Failed, then rolled back automatically.
    RolledBack,
    /// Failed, and the automatic rollback failed too.
    RollbackFailed,
    /// Stopped by the user (Ctrl-C) at a safe point; the revision is recorded as interrupted.
    Interrupted,
    /// Uninstalled.
    Uninstalled,
}

/// The result of an operation.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// App name.
    pub app: String,
    /// Namespace.
    pub namespace: String,
    /// The operation.
    pub operation: Operation,
    /// The outcome.
    pub outcome: Outcome,
    /// The revision written (none for dry runs and no-ops).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
    /// The version.
    pub version: String,
    /// The plan that was (or would be) carried out.
    pub plan: Plan,
    /// The failure in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Diagnoses of what was not ready.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<Diagnosis>,
    /// The automatic rollback, when one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Box<Report>>,
    /// Hooks that ran, in order (`event: kind/name`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hooks_run: Vec<String>,
    /// Seconds per phase.
    pub timings: Vec<(String, f64)>,
}

impl Report {
    /// Whether the operation reached its goal.
    pub fn ok(&self) -> bool {
        matches!(
            self.outcome,
            Outcome::Deployed | Outcome::Unchanged | Outcome::DryRun | Outcome::Uninstalled
        )
    }
}

/// Errors that stop an operation before it changes anything (or the cluster is unreachable).
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// Talking to the cluster failed.
    #[error(transparent)]
    Cluster(Box<ClusterError>),
    /// Bad objects.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    /// The upgrade policy refuses the operation.
    #[error("upgrade refused, nothing was changed:\n  - {}", .0.join("\n  - "))]
    Refused(Vec<String>),
    /// Another berth holds the lock.
    #[error(
        "another berth operation on {app} is running (lock held by {holder}, expires in {remaining:.0}s unless renewed); wait for it to finish, or re-run after it expires"
    )]
    Locked {
        /// App.
        app: String,
        /// Holder identity.
        holder: String,
        /// Seconds left.
        remaining: f64,
    },
    /// A revision Secret is damaged.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// Upgrade/rollback/status of an app that is not installed.
    #[error("{app} is not installed in namespace {namespace}; run `berth install` first")]
    NotInstalled {
        /// App.
        app: String,
        /// Namespace.
        namespace: String,
    },
    /// Install over a different installed version.
    #[error(
        "{app} {installed} is already installed in namespace {namespace}; run `berth upgrade` to move to {wanted}"
    )]
    AlreadyInstalled {
        /// App.
        app: String,
        /// Namespace.
        namespace: String,
        /// Installed version.
        installed: String,
        /// Requested version.
        wanted: String,
    },
    /// Rollback to a revision that does not exist or cannot be used.
    #[error("cannot roll back {app} to revision {revision}: {why} (see `berth history`)")]
    BadRevision {
        /// App.
        app: String,
        /// Revision.
        revision: u32,
        /// Why.
        why: String,
    },
}

impl From<ClusterError> for DeployError {
    fn from(e: ClusterError) -> Self {
        DeployError::Cluster(Box::new(e))
    }
}

/// One object's state for `berth status`.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectStatus {
    /// The object.
    pub object: ObjectRef,
    /// `ready`, `pending`, `failed` or `missing`.
    pub state: String,
    /// Why not ready.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// `berth status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// App.
    pub app: String,
    /// Namespace.
    pub namespace: String,
    /// Current version.
    pub version: String,
    /// Current revision.
    pub revision: u32,
    /// Revision status.
    pub status: Status,
    /// Every object.
    pub objects: Vec<ObjectStatus>,
    /// The last failed revision's message, if any after the current one or the latest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
    /// Diagnoses of objects not ready now.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<Diagnosis>,
    /// The newest revision when it is `pending` or `interrupted` (a run is going on, was
    /// killed or was stopped with Ctrl-C): what it is and what to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsettled: Option<String>,
    /// "drift since last good revision (N): M changes (top: …)", when a revision carries a
    /// baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<String>,
}

/// One line of `berth history`.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    /// Number.
    pub revision: u32,
    /// Version.
    pub version: String,
    /// Status.
    pub status: Status,
    /// Operation.
    pub operation: Operation,
    /// Start.
    pub started_at: String,
    /// End.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Objects.
    pub objects: usize,
    /// Outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The deploy engine bound to one cluster.
pub struct Engine {
    cluster: Arc<Cluster>,
    opts: Options,
    progress: Arc<dyn Progress>,
    me: String,
    interrupted: Arc<AtomicBool>,
}

struct LockGuard {
    renew: tokio::task::JoinHandle<()>,
    watch: Arc<lock::LockWatch>,
}

struct Timer {
    start: Instant,
    phases: Vec<(String, f64)>,
    last: Instant,
}

impl Timer {
    fn new() -> Timer {
        let now = Instant::now();
        Timer {
            start: now,
            phases: Vec::new(),
            last: now,
        }
    }
    fn lap(&mut self, name: &str) {
        let now = Instant::now();
        self.phases
            .push((name.to_string(), (now - self.last).as_secs_f64()));
        self.last = now;
    }
    fn done(mut self) -> Vec<(String, f64)> {
        self.phases
            .push(("total".into(), self.start.elapsed().as_secs_f64()));
        self.phases
    }
}

struct WaitFailure {
    message: String,
    diagnoses: Vec<Diagnosis>,
}

impl Engine {
    /// An engine over a connected cluster.
    pub fn new(cluster: Arc<Cluster>, opts: Options, progress: Arc<dyn Progress>) -> Engine {
        Engine {
            cluster,
            opts,
            progress,
            me: lock::identity(),
            interrupted: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Set this flag (from a Ctrl-C handler) to stop install, upgrade or rollback at the next
    /// safe point: between batches, before hooks and prune, or while waiting. The revision is
    /// recorded as `interrupted` and the lock released.
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        self.interrupted.clone()
    }

    fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    fn stop_if_interrupted(&self) -> Result<(), WaitFailure> {
        if self.is_interrupted() {
            return Err(WaitFailure {
                message: INTERRUPTED.into(),
                diagnoses: vec![],
            });
        }
        Ok(())
    }

    /// The cluster.
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    fn ns(&self) -> &str {
        &self.opts.namespace
    }

    fn note(&self, s: impl Into<String>) {
        self.progress.event(Event::Note(s.into()));
    }

    fn phase(&self, s: impl Into<String>) {
        self.progress.event(Event::Phase(s.into()));
    }

    // ---------------------------------------------------------------- history

    /// Every revision of `app`, oldest first, settled (at most one `deployed`, see
    /// [`inventory::settle`]).
    pub async fn revisions(&self, app: &str) -> Result<Vec<Revision>, DeployError> {
        let mut out = self.stored_revisions(app).await?;
        inventory::settle(&mut out);
        Ok(out)
    }

    /// Revisions settled, with every change written back: the first step of each locked
    /// operation, so a status change cut in half by a kill is finished by the next run.
    async fn repaired_revisions(&self, app: &str) -> Result<Vec<Revision>, DeployError> {
        let mut out = self.stored_revisions(app).await?;
        for i in inventory::settle(&mut out) {
            self.note(format!(
                "revision {} ({}) was left deployed by an interrupted run; marking it superseded",
                out[i].number, out[i].version
            ));
            self.write_revision(&out[i]).await?;
        }
        Ok(out)
    }

    /// Every revision of `app` as stored, oldest first.
    async fn stored_revisions(&self, app: &str) -> Result<Vec<Revision>, DeployError> {
        let secrets = self
            .cluster
            .list(
                "v1",
                "Secret",
                self.ns(),
                Some(&format!("{LABEL_APP}={app}")),
            )
            .await?;
        let mut firsts: BTreeMap<u32, Value> = BTreeMap::new();
        let mut parts: HashMap<String, Value> = HashMap::new();
        for s in secrets {
            let kind = object::label(&s, object::LABEL_KIND).unwrap_or("");
            let name = object_ref(&s).name;
            match kind {
                "revision" => {
                    if let Some(n) =
                        object::label(&s, inventory::LABEL_REVISION).and_then(|n| n.parse().ok())
                    {
                        firsts.insert(n, s);
                    }
                }
                "revision-part" => {
                    parts.insert(name, s);
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        for (_, first) in firsts {
            let base = object_ref(&first).name;
            let n = inventory::parts(&first);
            let mut all = vec![first];
            for i in 1..n {
                if let Some(p) = parts.get(&format!("{base}.p{i}")) {
                    all.push(p.clone());
                }
            }
            out.push(inventory::decode(&all)?);
        }
        Ok(out)
    }

    /// `berth history`.
    pub async fn history(&self, app: &str) -> Result<Vec<HistoryEntry>, DeployError> {
        Ok(self
            .revisions(app)
            .await?
            .into_iter()
            .map(|r| HistoryEntry {
                revision: r.number,
                version: r.version,
                status: r.status,
                operation: r.operation,
                started_at: r.started_at,
                finished_at: r.finished_at,
                objects: r.objects.len(),
                message: r.message,
            })
            .collect())
    }

    async fn write_revision(&self, rev: &Revision) -> Result<(), DeployError> {
        for s in inventory::encode(rev, self.ns())? {
            self.cluster.apply(&s, "", true).await?;
        }
        Ok(())
    }

    async fn delete_revision(&self, rev: &Revision) -> Result<(), DeployError> {
        let base = inventory::secret_name(&rev.app, rev.number);
        // parts first, so a half-deleted revision never looks complete
        let n = inventory::encode(rev, self.ns())
            .map(|v| v.len())
            .unwrap_or(1);
        for i in (0..n).rev() {
            let name = if i == 0 {
                base.clone()
            } else {
                format!("{base}.p{i}")
            };
            self.cluster
                .delete(&ObjectRef {
                    api_version: "v1".into(),
                    kind: "Secret".into(),
                    namespace: self.ns().into(),
                    name,
                })
                .await?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- lock

    async fn ensure_namespace(&self) -> Result<(), DeployError> {
        let r = ObjectRef {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: String::new(),
            name: self.ns().into(),
        };
        if self.cluster.get(&r).await?.is_none() {
            let ns = json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name": self.ns()}});
            match self.cluster.create(&ns).await {
                Ok(_) => {}
                Err(e) if e.code() == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn acquire(&self, app: &str) -> Result<LockGuard, DeployError> {
        self.ensure_namespace().await?;
        let r = ObjectRef {
            api_version: "coordination.k8s.io/v1".into(),
            kind: "Lease".into(),
            namespace: self.ns().into(),
            name: inventory::lease_name(app),
        };
        let deadline = Instant::now() + self.opts.timeout;
        let ttl = self.opts.lock_ttl.max(1);
        let mut told: Option<String> = None;
        loop {
            let live = self.cluster.get(&r).await?;
            let now = jiff::Timestamp::now();
            let transitions = live
                .as_ref()
                .and_then(|l| l.pointer("/spec/leaseTransitions"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let rv = live
                .as_ref()
                .and_then(|l| l.pointer("/metadata/resourceVersion"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let res = match lock::state(live.as_ref(), &self.me, now) {
                LockState::Free => self
                    .cluster
                    .create(&lock::lease(app, self.ns(), &self.me, ttl, now, 0, None))
                    .await
                    .map(|_| ()),
                LockState::Mine => Ok(()),
                LockState::Abandoned { holder } => {
                    self.note(format!("took over the lock of {app} from {holder} (expired or its process is gone); repairing from the inventory"));
                    self.cluster
                        .replace(&lock::lease(
                            app,
                            self.ns(),
                            &self.me,
                            ttl,
                            now,
                            transitions + 1,
                            rv.as_deref(),
                        ))
                        .await
                        .map(|_| ())
                }
                LockState::Held { holder, remaining } => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(DeployError::Locked {
                            app: app.into(),
                            holder,
                            remaining,
                        });
                    }
                    if told.as_deref() != Some(holder.as_str()) {
                        let until = jiff::Timestamp::now()
                            .checked_add(jiff::SignedDuration::from_secs_f64(remaining))
                            .map(|t| t.strftime("%H:%M:%S UTC").to_string())
                            .unwrap_or_default();
                        self.note(format!(
                            "waiting for the lock of {app}: another berth run ({holder}) holds it until {until} unless it renews it; waiting up to {}s (--timeout)",
                            left.as_secs()
                        ));
                        told = Some(holder.clone());
                    }
                    let step = Duration::from_secs_f64(remaining.clamp(0.2, 2.0)).min(left);
                    tokio::time::sleep(step).await;
                    continue;
                }
            };
            match res {
                Ok(()) => break,
                Err(e) if e.code() == 409 => continue, // raced with another run: decide again
                Err(e) => return Err(e.into()),
            }
        }
        let watch = Arc::new(lock::LockWatch::new(
            app,
            r,
            &self.me,
            Duration::from_secs(u64::from(ttl)),
        ));
        self.cluster.set_lock_watch(Some(watch.clone()));
        let cluster = self.cluster.clone();
        let renewing = watch.clone();
        let renew = tokio::spawn(async move {
            let every = Duration::from_secs_f64((ttl as f64 / 3.0).max(0.3));
            loop {
                tokio::time::sleep(every).await;
                if renewing.confirm(&cluster).await.is_err() {
                    return; // writes are refused from now on
                }
            }
        });
        Ok(LockGuard { renew, watch })
    }

    async fn release(&self, app: &str, guard: LockGuard) {
        guard.renew.abort();
        self.cluster.set_lock_watch(None);
        if guard.watch.lost().await.is_some() {
            return; // another run holds it now
        }
        let r = ObjectRef {
            api_version: "coordination.k8s.io/v1".into(),
            kind: "Lease".into(),
            namespace: self.ns().into(),
            name: inventory::lease_name(app),
        };
        if let Ok(Some(l)) = self.cluster.get(&r).await
            && l.pointer("/spec/holderIdentity").and_then(Value::as_str) == Some(self.me.as_str())
        {
            let _ = self.cluster.delete(&r).await;
        }
    }

    // ---------------------------------------------------------------- preparation

    /// Validate, split hooks, default namespaces and label objects. Errors list every problem.
    pub async fn prepare(
        &self,
        app: &str,
        objects: Vec<Manifest>,
    ) -> Result<(Vec<Manifest>, Vec<Hook>), DeployError> {
        let mut problems = Vec::new();
        for m in &objects {
            if let Err(e) = m.validate() {
                problems.push(e);
            }
        }
        if !problems.is_empty() {
            return Err(DeployError::Invalid(problems));
        }
        // CRDs in this release define kinds the cluster may not serve yet.
        let mut crd_kinds: HashMap<(String, String), bool> = HashMap::new();
        for m in &objects {
            if m.reference().kind == "CustomResourceDefinition" {
                let g = m
                    .object
                    .pointer("/spec/group")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let k = m
                    .object
                    .pointer("/spec/names/kind")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let namespaced =
                    m.object.pointer("/spec/scope").and_then(Value::as_str) != Some("Cluster");
                crd_kinds.insert((g.to_string(), k.to_string()), namespaced);
            }
        }
        let mut scope: HashMap<(String, String), Option<bool>> = HashMap::new();
        for m in &objects {
            let r = m.reference();
            let k = (r.api_version.clone(), r.kind.clone());
            if scope.contains_key(&k) {
                continue;
            }
            let s = match self.cluster.is_namespaced(&r.api_version, &r.kind).await? {
                Some(n) => Some(n),
                None => crd_kinds
                    .get(&(r.group().to_string(), r.kind.clone()))
                    .copied(),
            };
            if s.is_none() {
                let minor = self.cluster.git_version().await.ok();
                problems.push(crate::diagnose::unserved_kind(
                    &m.source,
                    &r,
                    minor
                        .as_deref()
                        .and_then(berth_spec::deprecations::minor_of),
                ));
            }
            scope.insert(k, s);
        }
        if !problems.is_empty() {
            return Err(DeployError::Invalid(problems));
        }
        let mut objects = objects;
        crate::render::default_namespace(&mut objects, self.ns(), |av, k| {
            scope
                .get(&(av.to_string(), k.to_string()))
                .copied()
                .flatten()
                == Some(false)
        });
        // cluster-scoped objects must not carry a namespace
        for m in &mut objects {
            let r = m.reference();
            if scope
                .get(&(r.api_version.clone(), r.kind.clone()))
                .copied()
                .flatten()
                == Some(false)
                && let Some(meta) = m.object.get_mut("metadata").and_then(Value::as_object_mut)
            {
                meta.remove("namespace");
            }
            object::set_label(&mut m.object, LABEL_APP, app);
        }
        let mut seen: HashMap<Key, String> = HashMap::new();
        for m in &objects {
            if let Some(prev) = seen.insert(m.reference().key(), m.source.clone()) {
                problems.push(format!(
                    "{} is defined twice: in {prev} and in {}; keep one",
                    m.reference(),
                    m.source
                ));
            }
        }
        if !problems.is_empty() {
            return Err(DeployError::Invalid(problems));
        }
        split_hooks(objects).map_err(|e| DeployError::Invalid(vec![e]))
    }

    fn scope_fn(objects: &[Manifest]) -> impl Fn(&str, &str) -> bool + '_ {
        // after prepare, an object without a namespace is cluster-scoped
        let cluster: HashSet<(String, String)> = objects
            .iter()
            .filter(|m| m.reference().namespace.is_empty())
            .map(|m| (m.reference().api_version, m.reference().kind))
            .collect();
        move |av: &str, k: &str| cluster.contains(&(av.to_string(), k.to_string()))
    }

    /// Live objects labelled for `app`, for every (apiVersion, kind, namespace) in `refs`.
    async fn live_for(
        &self,
        app: &str,
        refs: &[ObjectRef],
    ) -> Result<HashMap<Key, Value>, DeployError> {
        let groups: HashSet<(String, String, String)> = refs
            .iter()
            .map(|r| (r.api_version.clone(), r.kind.clone(), r.namespace.clone()))
            .collect();
        let sel = format!("{LABEL_APP}={app}");
        let results: Vec<Result<Vec<Value>, ClusterError>> = futures::stream::iter(groups)
            .map(|(av, k, ns)| {
                let sel = sel.clone();
                async move { self.cluster.list(&av, &k, &ns, Some(&sel)).await }
            })
            .buffer_unordered(self.opts.concurrency.max(1))
            .collect()
            .await;
        let mut out = HashMap::new();
        for r in results {
            for v in r? {
                out.insert(plan::key_of(&v), v);
            }
        }
        Ok(out)
    }

    // ---------------------------------------------------------------- operations

    /// Plan an install or upgrade without changing anything (`--dry-run`, `berth diff`).
    pub async fn diff(&self, rel: &Release) -> Result<Plan, DeployError> {
        let (objects, _) = self.prepare(&rel.app, rel.objects.clone()).await?;
        let history = self.revisions(&rel.app).await?;
        let previous = previous_objects(&history);
        let refs = refs_of(&objects, &previous);
        let live = self.live_for(&rel.app, &refs).await?;
        Ok(plan::plan(&ordered(&objects)?, &live, &previous, &rel.app))
    }

    /// `berth install` / `berth upgrade`.
    pub async fn deploy(
        &self,
        rel: Release,
        mode: Mode,
        dry_run: bool,
    ) -> Result<Report, DeployError> {
        let mut timer = Timer::new();
        let (objects, hooks) = self.prepare(&rel.app, rel.objects.clone()).await?;
        let guard = if dry_run {
            None
        } else {
            Some(self.acquire(&rel.app).await?)
        };
        let res = self
            .deploy_locked(&rel, objects, hooks, mode, dry_run, &mut timer)
            .await;
        if let Some(g) = guard {
            self.release(&rel.app, g).await;
        }
        res.map(|mut r| {
            r.timings = timer.done();
            r
        })
    }

    async fn deploy_locked(
        &self,
        rel: &Release,
        objects: Vec<Manifest>,
        hooks: Vec<Hook>,
        mode: Mode,
        dry_run: bool,
        timer: &mut Timer,
    ) -> Result<Report, DeployError> {
        let history = if dry_run {
            self.revisions(&rel.app).await?
        } else {
            self.repaired_revisions(&rel.app).await?
        };
        let current = history
            .iter()
            .rev()
            .find(|r| r.status == Status::Deployed)
            .cloned();
        let operation = match (&current, mode) {
            (None, Mode::Install) => Operation::Install,
            (None, Mode::Upgrade) => {
                return Err(DeployError::NotInstalled {
                    app: rel.app.clone(),
                    namespace: self.ns().into(),
                });
            }
            (Some(c), Mode::Install) if c.version != rel.version => {
                return Err(DeployError::AlreadyInstalled {
                    app: rel.app.clone(),
                    namespace: self.ns().into(),
                    installed: c.version.clone(),
                    wanted: rel.version.clone(),
                });
            }
            // Installing again over an installed app is an upgrade (as `helm upgrade --install`):
            // pre-/post-upgrade hooks, and an automatic rollback when it fails.
            (Some(_), Mode::Install | Mode::Upgrade) => Operation::Upgrade,
        };
        // Policy before anything changes.
        let kube_version = self.cluster.server_version().await.ok();
        let refusals = match &current {
            Some(c) if operation == Operation::Upgrade => policy::check_upgrade(
                &c.version,
                &rel.version,
                kube_version.as_deref(),
                &rel.policy,
            ),
            _ => policy::check_kubernetes(kube_version.as_deref(), &rel.policy),
        };
        if !refusals.is_empty() {
            return Err(DeployError::Refused(refusals));
        }
        let report = self
            .execute(
                &rel.app,
                &rel.version,
                objects,
                hooks,
                rel.config.clone(),
                rel.snapshot.clone(),
                operation,
                None,
                &history,
                dry_run,
                timer,
            )
            .await?;
        // A failed upgrade, or a failed re-install over an installed app, rolls back; a
        // failed first install has nothing to return to.
        if report.outcome != Outcome::Failed
            || current.is_none()
            || !self.opts.rollback_on_failure
            || dry_run
        {
            return Ok(report);
        }
        // Automatic rollback to the revision that was deployed before.
        let Some(target) = current else {
            return Ok(report);
        };
        self.phase(format!(
            "upgrade failed; rolling back to revision {} ({})",
            target.number, target.version
        ));
        let history = self.revisions(&rel.app).await?;
        let rb = self
            .execute(
                &rel.app,
                &target.version,
                target.objects.clone(),
                split_hooks(target.hooks.clone())
                    .map(|(_, h)| h)
                    .unwrap_or_default(),
                target.config.clone(),
                target.snapshot.clone(),
                Operation::Rollback,
                Some(target.number),
                &history,
                false,
                timer,
            )
            .await;
        let mut report = report;
        match rb {
            Ok(rb) => {
                let ok = rb.ok();
                // mark the failed revision as rolled back
                if ok
                    && let Some(n) = report.revision
                    && let Some(mut failed) = self
                        .revisions(&rel.app)
                        .await?
                        .into_iter()
                        .find(|r| r.number == n)
                {
                    failed.status = Status::RolledBack;
                    failed.message = Some(format!(
                        "{}; rolled back to revision {} ({})",
                        failed.message.clone().unwrap_or_default(),
                        target.number,
                        target.version
                    ));
                    self.write_revision(&failed).await?;
                    self.delete_hooks_of_failed(&failed, &target.hooks).await;
                }
                report.outcome = if ok {
                    Outcome::RolledBack
                } else {
                    Outcome::RollbackFailed
                };
                report.rollback = Some(Box::new(rb));
            }
            Err(e) => {
                report.outcome = Outcome::RollbackFailed;
                report.error = Some(format!(
                    "{}; the automatic rollback failed too: {e}",
                    report.error.clone().unwrap_or_default()
                ));
            }
        }
        Ok(report)
    }

    /// `berth rollback [REVISION]`: restore an earlier revision's objects and config.
    pub async fn rollback(
        &self,
        app: &str,
        to: Option<u32>,
        dry_run: bool,
    ) -> Result<Report, DeployError> {
        let mut timer = Timer::new();
        let guard = if dry_run {
            None
        } else {
            Some(self.acquire(app).await?)
        };
        let res = async {
            let history = if dry_run {
                self.revisions(app).await?
            } else {
                self.repaired_revisions(app).await?
            };
            let current = history
                .iter()
                .rev()
                .find(|r| r.status == Status::Deployed)
                .ok_or_else(|| DeployError::NotInstalled {
                    app: app.into(),
                    namespace: self.ns().into(),
                })?;
            let target = match to {
                Some(n) => history.iter().find(|r| r.number == n).ok_or_else(|| {
                    DeployError::BadRevision {
                        app: app.into(),
                        revision: n,
                        why: "no such revision".into(),
                    }
                })?,
                None => history
                    .iter()
                    .rev()
                    .find(|r| {
                        r.number < current.number
                            && matches!(r.status, Status::Superseded | Status::Deployed)
                    })
                    .ok_or_else(|| DeployError::BadRevision {
                        app: app.into(),
                        revision: current.number.saturating_sub(1),
                        why: "there is no earlier successful revision".into(),
                    })?,
            };
            if target.number == current.number {
                return Err(DeployError::BadRevision {
                    app: app.into(),
                    revision: target.number,
                    why: "it is the current revision".into(),
                });
            }
            let hooks = split_hooks(target.hooks.clone())
                .map(|(_, h)| h)
                .unwrap_or_default();
            self.execute(
                app,
                &target.version,
                target.objects.clone(),
                hooks,
                target.config.clone(),
                target.snapshot.clone(),
                Operation::Rollback,
                Some(target.number),
                &history,
                dry_run,
                &mut timer,
            )
            .await
        }
        .await;
        if let Some(g) = guard {
            self.release(app, g).await;
        }
        res.map(|mut r| {
            r.timings = timer.done();
            r
        })
    }

    /// The shared apply path of install, upgrade and rollback (called with the lock held).
    #[allow(clippy::too_many_arguments)]
    async fn execute(
        &self,
        app: &str,
        version: &str,
        objects: Vec<Manifest>,
        hooks: Vec<Hook>,
        config: Value,
        snapshot: Value,
        operation: Operation,
        source_revision: Option<u32>,
        history: &[Revision],
        dry_run: bool,
        timer: &mut Timer,
    ) -> Result<Report, DeployError> {
        let current = history.iter().rev().find(|r| r.status == Status::Deployed);
        let previous = previous_objects(history);
        let refs = refs_of(&objects, &previous);
        self.phase(format!("planning {} objects", objects.len()));
        let live = self.live_for(app, &refs).await?;
        let ordered_objects = ordered(&objects)?;
        let the_plan = plan::plan(&ordered_objects, &live, &previous, app);
        timer.lap("plan");
        let mut report = Report {
            app: app.into(),
            namespace: self.ns().into(),
            operation,
            outcome: Outcome::DryRun,
            revision: None,
            version: version.into(),
            plan: the_plan.clone(),
            error: None,
            diagnoses: Vec::new(),
            rollback: None,
            hooks_run: Vec::new(),
            timings: Vec::new(),
        };
        if dry_run {
            return Ok(report);
        }
        let leftovers = history.iter().any(|r| {
            r.status == Status::Pending
                || (r.status == Status::Interrupted && current.is_none_or(|c| r.number > c.number))
        }) || current.is_some_and(|c| {
            history.iter().any(|r| {
                r.number > c.number
                    && r.status == Status::Failed
                    && operation != Operation::Rollback
            })
        });
        let unchanged_release = current.is_some_and(|c| {
            c.version == version
                && c.config == config
                && c.snapshot == snapshot
                && operation != Operation::Rollback
        });
        if the_plan.is_noop() && unchanged_release && !leftovers {
            // Converged already: check readiness, write nothing.
            let wait = self
                .wait_ready(
                    app,
                    &ordered_objects,
                    &live,
                    Instant::now() + self.opts.timeout,
                )
                .await;
            timer.lap("wait");
            if let Err(mut f) = wait {
                // Nothing of the app changed: what changed under it matters most here.
                if let Some(d) = crate::baseline::drift(&self.cluster, history, false).await {
                    let extra = crate::baseline::related(&f.diagnoses, d.since, &d.report.changes);
                    f.diagnoses.extend(extra);
                }
                report.outcome = Outcome::Failed;
                report.error = Some(f.message);
                report.diagnoses = f.diagnoses;
            } else {
                report.outcome = Outcome::Unchanged;
                report.revision = current.map(|c| c.number);
            }
            return Ok(report);
        }
        // Interrupted runs: say so and mark them failed.
        for r in history.iter().filter(|r| r.status == Status::Pending) {
            self.note(format!(
                "revision {} ({}) was interrupted; repairing",
                r.number, r.version
            ));
            let mut r = r.clone();
            r.status = Status::Failed;
            r.finished_at = Some(inventory::now());
            r.message = Some("interrupted: the berth process applying it stopped before finishing; a later run repaired the cluster".into());
            self.write_revision(&r).await?;
        }
        let number = history.iter().map(|r| r.number).max().unwrap_or(0) + 1;
        let mut rev = Revision {
            app: app.into(),
            number,
            version: version.into(),
            status: Status::Pending,
            operation,
            started_at: inventory::now(),
            finished_at: None,
            source_revision,
            objects: ordered_objects.clone(),
            hooks: hooks.iter().map(|h| h.manifest.clone()).collect(),
            config,
            snapshot,
            message: None,
            diagnoses: Vec::new(),
            registry: match source_revision {
                Some(n) => history
                    .iter()
                    .find(|r| r.number == n)
                    .and_then(|r| r.registry.clone()),
                None => self.opts.registry.clone(),
            },
            // A rollback restores a state known to work: its baseline comes along.
            baseline: source_revision.and_then(|n| {
                history
                    .iter()
                    .find(|r| r.number == n)
                    .and_then(|r| r.baseline.clone())
            }),
        };
        report.revision = Some(number);
        // Server-side validation of every changed object before the first change.
        if self.opts.validate {
            self.phase("validating objects with the API server");
            let changed: Vec<&Manifest> = ordered_objects
                .iter()
                .zip(&the_plan.steps)
                .filter(|(_, s)| matches!(s.action, Action::Create | Action::Update { .. }))
                .map(|(m, _)| m)
                .collect();
            let errs = self.validate(&changed).await;
            if !errs.is_empty() {
                return Err(DeployError::Invalid(errs));
            }
            timer.lap("validate");
        }
        self.write_revision(&rev).await?;
        let result = self
            .apply_all(
                app,
                &ordered_objects,
                &hooks,
                &the_plan,
                &live,
                operation,
                &mut report,
                timer,
            )
            .await;
        rev.finished_at = Some(inventory::now());
        match result {
            Ok(()) => {
                rev.status = Status::Deployed;
                rev.message = Some(match operation {
                    Operation::Rollback => {
                        format!("rolled back to revision {}", source_revision.unwrap_or(0))
                    }
                    Operation::Upgrade => format!("upgraded to {version}"),
                    Operation::Install => format!("installed {version}"),
                });
                if operation != Operation::Rollback {
                    self.phase("recording the cluster's baseline");
                    rev.baseline = crate::baseline::capture(
                        &self.cluster,
                        self.ns(),
                        &rev,
                        self.opts.baseline_host,
                    )
                    .await;
                }
                self.write_revision(&rev).await?;
                // The previous deployed revisions are superseded. Read them again rather than
                // trusting the history read at the start: a write of a killed earlier run that
                // was still in flight may have landed since.
                for r in self.stored_revisions(app).await? {
                    if r.status == Status::Deployed && r.number != rev.number {
                        let mut r = r;
                        r.status = Status::Superseded;
                        self.write_revision(&r).await?;
                    }
                }
                report.outcome = Outcome::Deployed;
                self.trim_history(app).await;
            }
            Err(f) if self.is_interrupted() => {
                rev.status = Status::Interrupted;
                rev.message = Some(f.message.clone());
                self.write_revision(&rev).await?;
                report.outcome = Outcome::Interrupted;
                report.error = Some(f.message);
            }
            Err(mut f) => {
                // What changed under the app since it last worked, where it relates.
                if !f.diagnoses.is_empty()
                    && let Some(d) = crate::baseline::drift(&self.cluster, history, false).await
                {
                    let extra = crate::baseline::related(&f.diagnoses, d.since, &d.report.changes);
                    f.diagnoses.extend(extra);
                }
                rev.status = Status::Failed;
                rev.message = Some(f.message.clone());
                rev.diagnoses = f.diagnoses.iter().map(DiagnosisRecord::from).collect();
                self.write_revision(&rev).await?;
                report.outcome = Outcome::Failed;
                report.error = Some(f.message);
                report.diagnoses = f.diagnoses;
            }
        }
        Ok(report)
    }

    async fn validate(&self, objs: &[&Manifest]) -> Vec<String> {
        let results: Vec<Option<String>> = futures::stream::iter(objs.iter().copied())
            .map(|m| async move {
                let r = m.reference();
                // kinds whose CRD is not applied yet cannot be checked by the server now
                match self.cluster.is_namespaced(&r.api_version, &r.kind).await {
                    Ok(Some(_)) => {}
                    _ => return None,
                }
                match self
                    .cluster
                    .apply_dry_run(&m.object, &m.source, self.opts.force_conflicts)
                    .await
                {
                    Ok(_) => None,
                    Err(e) => Some(e.to_string()),
                }
            })
            .buffer_unordered(self.opts.concurrency.max(1))
            .collect()
            .await;
        let mut errs: Vec<String> = results.into_iter().flatten().collect();
        errs.sort();
        errs
    }

    async fn trim_history(&self, app: &str) {
        let Ok(revs) = self.revisions(app).await else {
            return;
        };
        if revs.len() <= self.opts.history_max.max(1) {
            return;
        }
        let extra = revs.len() - self.opts.history_max.max(1);
        for r in revs
            .iter()
            .take(extra)
            .filter(|r| r.status != Status::Deployed)
        {
            let _ = self.delete_revision(r).await;
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply_all(
        &self,
        app: &str,
        objects: &[Manifest],
        hooks: &[Hook],
        the_plan: &Plan,
        live: &HashMap<Key, Value>,
        operation: Operation,
        report: &mut Report,
        timer: &mut Timer,
    ) -> Result<(), WaitFailure> {
        let deadline = Instant::now() + self.opts.timeout;
        let (pre, post) = match operation {
            Operation::Install => (HookEvent::PreInstall, HookEvent::PostInstall),
            Operation::Upgrade => (HookEvent::PreUpgrade, HookEvent::PostUpgrade),
            Operation::Rollback => (HookEvent::PreRollback, HookEvent::PostRollback),
        };
        self.stop_if_interrupted()?;
        self.run_hooks(hooks, pre, deadline, &mut report.hooks_run)
            .await?;
        timer.lap("pre-hooks");
        let actions: HashMap<Key, &Action> = objects
            .iter()
            .zip(&the_plan.steps)
            .map(|(m, s)| (m.reference().key(), &s.action))
            .collect();
        let scope = Self::scope_fn(objects);
        let batches = order::batches(objects, &scope).map_err(|e| WaitFailure {
            message: e,
            diagnoses: vec![],
        })?;
        let mut live_now: HashMap<Key, Value> = live.clone();
        let mut since_wait: Vec<Manifest> = Vec::new();
        for (i, b) in batches.iter().enumerate() {
            self.stop_if_interrupted()?;
            self.phase(format!(
                "applying batch {} of {} ({} objects)",
                i + 1,
                batches.len(),
                b.objects.len()
            ));
            let applied = self.apply_batch(b, &actions).await?;
            for (k, v) in applied {
                live_now.insert(k, v);
            }
            since_wait.extend(b.objects.iter().cloned());
            if b.wait_after {
                timer.lap("apply");
                self.wait_ready(app, &since_wait, &live_now, deadline)
                    .await?;
                timer.lap("wait");
                since_wait.clear();
                if b.phase == order::Phase::Crds {
                    for m in &b.objects {
                        let g = m
                            .object
                            .pointer("/spec/group")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        for v in m
                            .object
                            .pointer("/spec/versions")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                        {
                            if let Some(name) = v.get("name").and_then(Value::as_str) {
                                self.cluster.invalidate(&format!("{g}/{name}"));
                            }
                        }
                    }
                }
            }
        }
        timer.lap("apply");
        self.wait_ready(app, &since_wait, &live_now, deadline)
            .await?;
        timer.lap("wait");
        self.stop_if_interrupted()?;
        // Prune what the new revision no longer has (only objects labelled for this app).
        let prunes: Vec<&ObjectRef> = the_plan
            .steps
            .iter()
            .filter(|s| s.action == Action::Prune)
            .map(|s| &s.object)
            .collect();
        if !prunes.is_empty() {
            self.phase(format!("pruning {} objects", prunes.len()));
            let mut vals: Vec<Value> = prunes.iter().map(|r| json!({"apiVersion": r.api_version, "kind": r.kind, "metadata": {"name": r.name, "namespace": r.namespace}})).collect();
            order::delete_order(&mut vals);
            for v in vals {
                let r = object_ref(&v);
                match self.cluster.delete(&r).await {
                    Ok(_) => self.progress.event(Event::Object {
                        object: r,
                        what: "pruned".into(),
                    }),
                    Err(e) => {
                        return Err(WaitFailure {
                            message: format!("cannot prune {r}: {e}"),
                            diagnoses: vec![],
                        });
                    }
                }
            }
            timer.lap("prune");
        }
        self.stop_if_interrupted()?;
        self.run_hooks(hooks, post, deadline, &mut report.hooks_run)
            .await?;
        timer.lap("post-hooks");
        Ok(())
    }

    async fn apply_batch(
        &self,
        b: &Batch,
        actions: &HashMap<Key, &Action>,
    ) -> Result<Vec<(Key, Value)>, WaitFailure> {
        let todo: Vec<&Manifest> = b
            .objects
            .iter()
            .filter(|m| !matches!(actions.get(&m.reference().key()), Some(Action::Unchanged)))
            .collect();
        let results: Vec<(ObjectRef, Result<Value, ClusterError>, String)> =
            futures::stream::iter(todo)
                .map(|m| async move {
                    let what = match m.reference().key() {
                        k if matches!(actions.get(&k), Some(Action::Create)) => "created",
                        _ => "configured",
                    };
                    (
                        m.reference(),
                        self.cluster
                            .apply(&m.object, &m.source, self.opts.force_conflicts)
                            .await,
                        what.to_string(),
                    )
                })
                .buffer_unordered(self.opts.concurrency.max(1))
                .collect()
                .await;
        let mut out = Vec::new();
        let mut errs = Vec::new();
        for (r, res, what) in results {
            match res {
                Ok(v) => {
                    self.progress.event(Event::Object {
                        object: r.clone(),
                        what,
                    });
                    out.push((r.key(), v));
                }
                Err(e) => errs.push(e.to_string()),
            }
        }
        if errs.is_empty() {
            Ok(out)
        } else {
            errs.sort();
            Err(WaitFailure {
                message: errs.join("\n"),
                diagnoses: vec![],
            })
        }
    }

    async fn run_hooks(
        &self,
        hooks: &[Hook],
        event: HookEvent,
        deadline: Instant,
        ran: &mut Vec<String>,
    ) -> Result<(), WaitFailure> {
        for h in hooks_for(hooks, event) {
            let r = h.manifest.reference();
            self.phase(format!("running {} hook {r}", event.as_str()));
            self.progress.event(Event::Hook {
                event: event.as_str().to_string(),
                object: r.clone(),
            });
            if h.has_policy(DeletePolicy::BeforeHookCreation) {
                self.delete_and_wait(&r, deadline).await?;
            }
            let applied = self
                .cluster
                .apply(&h.manifest.object, &h.manifest.source, true)
                .await
                .map_err(|e| WaitFailure {
                    message: format!("{} hook failed: {e}", event.as_str()),
                    diagnoses: vec![],
                })?;
            ran.push(format!(
                "{}: {}/{}",
                event.as_str(),
                r.kind.to_lowercase(),
                r.name
            ));
            let live: HashMap<Key, Value> = [(r.key(), applied)].into_iter().collect();
            let res = self
                .wait_objects(std::slice::from_ref(&h.manifest), &live, deadline)
                .await;
            match res {
                Ok(()) => {
                    if h.has_policy(DeletePolicy::HookSucceeded) {
                        let _ = self.cluster.delete(&r).await;
                    }
                }
                Err(mut f) => {
                    if h.has_policy(DeletePolicy::HookFailed) {
                        let _ = self.cluster.delete(&r).await;
                    }
                    f.message = format!("{} hook {r} failed: {}", event.as_str(), f.message);
                    return Err(f);
                }
            }
        }
        Ok(())
    }

    /// After an automatic rollback, delete the hook objects the failed attempt left (a failed
    /// migration Job and its pods): the rollback restored the previous revision, and the
    /// failure is kept in the failed revision's message and diagnoses. Objects that are also
    /// rollback hooks of the restored revision (just run by the rollback) are left alone.
    async fn delete_hooks_of_failed(&self, failed: &Revision, restored: &[Manifest]) {
        let (pre, post) = (HookEvent::PreUpgrade, HookEvent::PostUpgrade);
        // the rollback's own hooks (same names) stay
        let keep: HashSet<Key> = split_hooks(restored.to_vec())
            .map(|(_, hs)| hs)
            .unwrap_or_default()
            .iter()
            .filter(|h| {
                h.events.contains(&HookEvent::PreRollback)
                    || h.events.contains(&HookEvent::PostRollback)
            })
            .map(|h| h.manifest.reference().key())
            .collect();
        let Ok((_, hooks)) = split_hooks(failed.hooks.clone()) else {
            return;
        };
        for h in hooks
            .iter()
            .filter(|h| h.events.contains(&pre) || h.events.contains(&post))
            .filter(|h| !keep.contains(&h.manifest.reference().key()))
        {
            let r = h.manifest.reference();
            if let Ok(true) = self.cluster.delete(&r).await {
                self.note(format!(
                    "deleted {r}, a hook of the failed revision {}",
                    failed.number
                ));
            }
        }
    }

    async fn delete_and_wait(&self, r: &ObjectRef, deadline: Instant) -> Result<(), WaitFailure> {
        let fail = |e: ClusterError| WaitFailure {
            message: e.to_string(),
            diagnoses: vec![],
        };
        if !self.cluster.delete(r).await.map_err(fail)? {
            return Ok(());
        }
        let mut interval = self.opts.wait_poll_min();
        while self.cluster.get(r).await.map_err(fail)?.is_some() {
            if Instant::now() > deadline {
                return Err(WaitFailure {
                    message: format!("{r} was not deleted in time"),
                    diagnoses: vec![],
                });
            }
            tokio::time::sleep(interval).await;
            interval = (interval * 3 / 2).min(Duration::from_millis(100).max(interval));
        }
        Ok(())
    }

    /// The cluster's StorageClasses when some object is a claim (their binding modes decide
    /// whether a Pending claim waits for its first pod); none otherwise, or when they cannot
    /// be read (claims are then waited for until Bound).
    async fn storage_classes_for(&self, refs: impl Iterator<Item = ObjectRef>) -> Vec<Value> {
        let mut refs = refs;
        if !refs.any(|r| r.kind == "PersistentVolumeClaim" && r.group().is_empty()) {
            return Vec::new();
        }
        self.cluster
            .list("storage.k8s.io/v1", "StorageClass", "", None)
            .await
            .unwrap_or_default()
    }

    async fn wait_ready(
        &self,
        _app: &str,
        objects: &[Manifest],
        live: &HashMap<Key, Value>,
        deadline: Instant,
    ) -> Result<(), WaitFailure> {
        self.wait_objects(objects, live, deadline).await
    }

    /// Wait until every object is ready; fail on a terminal state, a diagnosis that persists
    /// (fail-fast), or the deadline.
    async fn wait_objects(
        &self,
        objects: &[Manifest],
        live: &HashMap<Key, Value>,
        deadline: Instant,
    ) -> Result<(), WaitFailure> {
        let total = objects.len();
        let mut pending: BTreeMap<Key, (ObjectRef, Readiness, Option<Value>)> = BTreeMap::new();
        // An Ingress whose class does not exist is served by no controller: fail it at once.
        let ingress_classes = if objects.iter().any(|m| m.reference().kind == "Ingress") {
            Some(
                self.cluster
                    .list("networking.k8s.io/v1", "IngressClass", "", None)
                    .await
                    .unwrap_or_default(),
            )
        } else {
            None
        };
        let storage_classes = self
            .storage_classes_for(objects.iter().map(|m| m.reference()))
            .await;
        for m in objects {
            let k = m.reference().key();
            let mut st = match live.get(&k) {
                Some(v) => readiness_in(v, &storage_classes),
                None => Readiness::Pending("not found".into()),
            };
            if let (Some(classes), Some(v)) = (&ingress_classes, live.get(&k))
                && let Some(problem) = crate::readiness::ingress_class_problem(v, classes)
            {
                st = Readiness::Failed(problem);
            }
            if !st.is_ready() {
                pending.insert(k.clone(), (m.reference(), st, live.get(&k).cloned()));
            }
        }
        let mut interval = self.opts.wait_poll_min();
        let mut diagnosed_since: Option<(Instant, Vec<Diagnosis>)> = None;
        let mut last_diag = Instant::now();
        loop {
            self.stop_if_interrupted()?;
            if pending.is_empty() {
                self.progress.event(Event::Waiting {
                    ready: total,
                    total,
                    waiting: vec![],
                });
                return Ok(());
            }
            let failed: Vec<(ObjectRef, String)> = pending
                .values()
                .filter_map(|(r, st, _)| match st {
                    Readiness::Failed(why) => Some((r.clone(), why.clone())),
                    _ => None,
                })
                .collect();
            let timed_out = Instant::now() > deadline;
            let fail_fast = match (&diagnosed_since, self.opts.fail_fast) {
                (Some((since, _)), Some(ff)) => since.elapsed() >= ff,
                _ => false,
            };
            if !failed.is_empty() || timed_out || fail_fast {
                // A fresh look: the state may have moved on since the last diagnosis.
                let mut diagnoses = self.diagnose_pending(&pending).await;
                if diagnoses.is_empty()
                    && let Some((_, d)) = diagnosed_since.take()
                {
                    diagnoses = d;
                }
                let message = if !failed.is_empty() {
                    failed
                        .iter()
                        .map(|(r, why)| format!("{r} failed: {why}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                } else {
                    let first: Vec<String> = pending
                        .values()
                        .take(5)
                        .map(|(r, st, _)| match st {
                            Readiness::Pending(w) => format!("{r} ({w})"),
                            _ => r.to_string(),
                        })
                        .collect();
                    let why = if timed_out {
                        "timed out".to_string()
                    } else {
                        "gave up early on a diagnosed failure".to_string()
                    };
                    format!(
                        "{why} waiting for {} of {total} objects to become ready: {}",
                        pending.len(),
                        first.join(", ")
                    )
                };
                return Err(WaitFailure { message, diagnoses });
            }
            self.progress.event(Event::Waiting {
                ready: total - pending.len(),
                total,
                waiting: pending
                    .values()
                    .take(5)
                    .map(|(r, st, _)| {
                        (
                            r.clone(),
                            match st {
                                Readiness::Pending(w) | Readiness::Failed(w) => w.clone(),
                                Readiness::Ready => String::new(),
                            },
                        )
                    })
                    .collect(),
            });
            tokio::time::sleep(interval).await;
            interval = (interval * 3 / 2).min(self.opts.wait_poll_max.max(interval));
            // Re-read pending objects, one list per (apiVersion, kind, namespace).
            let refs: Vec<ObjectRef> = pending.values().map(|(r, _, _)| r.clone()).collect();
            let mut groups: HashMap<(String, String, String), Vec<ObjectRef>> = HashMap::new();
            for r in refs {
                groups
                    .entry((r.api_version.clone(), r.kind.clone(), r.namespace.clone()))
                    .or_default()
                    .push(r);
            }
            let fetched: Vec<Result<Vec<Value>, ClusterError>> =
                futures::stream::iter(groups.keys().cloned().collect::<Vec<_>>())
                    .map(|(av, k, ns)| async move { self.cluster.list(&av, &k, &ns, None).await })
                    .buffer_unordered(self.opts.concurrency.max(1))
                    .collect()
                    .await;
            let mut now_live: HashMap<Key, Value> = HashMap::new();
            for f in fetched {
                match f {
                    Ok(vs) => {
                        for v in vs {
                            now_live.insert(plan::key_of(&v), v);
                        }
                    }
                    Err(e) => tracing::debug!("readiness poll failed: {e}"),
                }
            }
            let keys: Vec<Key> = pending.keys().cloned().collect();
            for k in keys {
                match now_live.get(&k) {
                    Some(v) => {
                        let st = readiness_in(v, &storage_classes);
                        if st.is_ready() {
                            pending.remove(&k);
                        } else if let Some(e) = pending.get_mut(&k) {
                            e.1 = st;
                            e.2 = Some(v.clone());
                        }
                    }
                    None => {
                        if let Some(e) = pending.get_mut(&k) {
                            e.1 = Readiness::Pending("not found".into());
                        }
                    }
                }
            }
            // Diagnose periodically; a diagnosis that persists triggers fail-fast.
            if self.opts.fail_fast.is_some()
                && last_diag.elapsed() >= Duration::from_secs(2)
                && !pending.is_empty()
            {
                last_diag = Instant::now();
                let d = self.diagnose_pending(&pending).await;
                if d.is_empty() {
                    diagnosed_since = None;
                } else {
                    let since = diagnosed_since
                        .as_ref()
                        .map(|(s, _)| *s)
                        .unwrap_or_else(Instant::now);
                    diagnosed_since = Some((since, d));
                }
            }
        }
    }

    async fn diagnose_pending(
        &self,
        pending: &BTreeMap<Key, (ObjectRef, Readiness, Option<Value>)>,
    ) -> Vec<Diagnosis> {
        let mut out = Vec::new();
        let mut cache = DiagCache::default();
        for (r, _, v) in pending.values().take(20) {
            let obj = match v {
                Some(v) => v.clone(),
                None => continue,
            };
            let ev = self.evidence(r, obj, &mut cache).await;
            if let Some(d) = diagnose(&ev) {
                out.push(d);
            }
        }
        out
    }

    /// Gather what [`diagnose`] needs about one object.
    async fn evidence(&self, r: &ObjectRef, object: Value, cache: &mut DiagCache) -> Evidence {
        let ns = r.namespace.clone();
        let pods_all = match cache.pods.get(&ns) {
            Some(p) => p.clone(),
            None => {
                let p = self
                    .cluster
                    .list("v1", "Pod", &ns, None)
                    .await
                    .unwrap_or_default();
                cache.pods.insert(ns.clone(), p.clone());
                p
            }
        };
        let events_all = match cache.events.get(&ns) {
            Some(e) => e.clone(),
            None => {
                let e = self
                    .cluster
                    .list("v1", "Event", &ns, None)
                    .await
                    .unwrap_or_default();
                cache.events.insert(ns.clone(), e.clone());
                e
            }
        };
        if cache.storage_classes.is_none() {
            cache.storage_classes = Some(
                self.cluster
                    .list("storage.k8s.io/v1", "StorageClass", "", None)
                    .await
                    .unwrap_or_default(),
            );
        }
        if cache.ingress_classes.is_none() {
            cache.ingress_classes = Some(
                self.cluster
                    .list("networking.k8s.io/v1", "IngressClass", "", None)
                    .await
                    .unwrap_or_default(),
            );
        }
        let pods: Vec<Value> = if r.kind == "Pod" {
            vec![object.clone()]
        } else {
            let sel = object
                .pointer("/spec/selector/matchLabels")
                .or_else(|| {
                    if r.kind == "Job" {
                        object.pointer("/spec/selector/matchLabels")
                    } else {
                        None
                    }
                })
                .and_then(Value::as_object)
                .cloned();
            let uid = object
                .pointer("/metadata/uid")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            pods_all
                .iter()
                .filter(|p| {
                    let by_sel = sel.as_ref().is_some_and(|s| {
                        !s.is_empty()
                            && s.iter().all(|(k, v)| {
                                p.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v)
                            })
                    });
                    let by_job =
                        r.kind == "Job" && object::label(p, "job-name") == Some(r.name.as_str());
                    let by_owner = !uid.is_empty()
                        && p.pointer("/metadata/ownerReferences")
                            .and_then(Value::as_array)
                            .is_some_and(|o| {
                                o.iter().any(|o| {
                                    o.get("uid").and_then(Value::as_str) == Some(uid.as_str())
                                })
                            });
                    by_sel || by_job || by_owner
                })
                .cloned()
                .collect()
        };
        let mut claim_names: HashSet<String> = HashSet::new();
        if r.kind == "PersistentVolumeClaim" {
            claim_names.insert(r.name.clone());
        }
        for p in &pods {
            for v in p
                .pointer("/spec/volumes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(c) = v
                    .pointer("/persistentVolumeClaim/claimName")
                    .and_then(Value::as_str)
                {
                    claim_names.insert(c.to_string());
                }
            }
        }
        for t in object
            .pointer("/spec/volumeClaimTemplates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = t.pointer("/metadata/name").and_then(Value::as_str) {
                let replicas = object
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                for i in 0..replicas.clamp(0, 20) {
                    claim_names.insert(format!("{n}-{}-{i}", r.name));
                }
            }
        }
        let mut pvcs = Vec::new();
        for c in &claim_names {
            if let Ok(Some(p)) = self
                .cluster
                .get(&ObjectRef {
                    api_version: "v1".into(),
                    kind: "PersistentVolumeClaim".into(),
                    namespace: ns.clone(),
                    name: c.clone(),
                })
                .await
            {
                pvcs.push(p);
            }
        }
        let mut names: HashSet<String> = pods
            .iter()
            .filter_map(|p| {
                p.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        names.insert(r.name.clone());
        names.extend(claim_names.iter().cloned());
        // ReplicaSets of a Deployment report quota failures.
        let prefix = format!("{}-", r.name);
        let events: Vec<Value> = events_all
            .iter()
            .filter(|e| {
                let n = e
                    .pointer("/involvedObject/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                names.contains(n) || (r.kind == "Deployment" && n.starts_with(&prefix))
            })
            .cloned()
            .collect();
        let mut logs = Vec::new();
        for p in &pods {
            let pname = p
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            for cs in ["/status/initContainerStatuses", "/status/containerStatuses"]
                .iter()
                .filter_map(|path| p.pointer(path).and_then(Value::as_array))
                .flatten()
            {
                let restarts = cs.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
                let crashing = cs.pointer("/state/waiting/reason").and_then(Value::as_str)
                    == Some("CrashLoopBackOff")
                    || cs
                        .pointer("/state/terminated/exitCode")
                        .and_then(Value::as_i64)
                        .is_some_and(|c| c != 0);
                if restarts > 0 || crashing {
                    let c = cs.get("name").and_then(Value::as_str).unwrap_or("");
                    let l = match self.cluster.logs(&ns, pname, c, 5, true).await {
                        Some(l) if !l.trim().is_empty() => Some(l),
                        _ => self.cluster.logs(&ns, pname, c, 5, false).await,
                    };
                    if let Some(l) = l {
                        logs.push((pname.to_string(), c.to_string(), l));
                    }
                }
            }
            if logs.len() >= 3 {
                break;
            }
        }
        Evidence {
            object,
            pods,
            events,
            logs,
            pvcs,
            storage_classes: cache.storage_classes.clone().unwrap_or_default(),
            ingress_classes: cache.ingress_classes.clone().unwrap_or_default(),
        }
    }

    /// `berth uninstall`: pre-delete hooks, delete every object of the app (PVCs kept unless
    /// `delete_data`; CRDs and `berth.dev/keep` objects kept), post-delete hooks, then forget
    /// the revisions.
    pub async fn uninstall(&self, app: &str, dry_run: bool) -> Result<Report, DeployError> {
        let mut timer = Timer::new();
        let guard = if dry_run {
            None
        } else {
            Some(self.acquire(app).await?)
        };
        let res = self.uninstall_locked(app, dry_run, &mut timer).await;
        if let Some(g) = guard {
            self.release(app, g).await;
        }
        res.map(|mut r| {
            r.timings = timer.done();
            r
        })
    }

    async fn uninstall_locked(
        &self,
        app: &str,
        dry_run: bool,
        timer: &mut Timer,
    ) -> Result<Report, DeployError> {
        let history = self.revisions(app).await?;
        if history.is_empty() {
            return Err(DeployError::NotInstalled {
                app: app.into(),
                namespace: self.ns().into(),
            });
        }
        let current = history
            .iter()
            .rev()
            .find(|r| r.status == Status::Deployed)
            .or(history.last());
        let version = current.map(|c| c.version.clone()).unwrap_or_default();
        let hooks = current
            .map(|c| {
                split_hooks(c.hooks.clone())
                    .map(|(_, h)| h)
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        let previous = previous_objects(&history);
        let refs: Vec<ObjectRef> = previous.iter().map(object_ref).collect();
        let live = self.live_for(app, &refs).await?;
        let mut steps = Vec::new();
        let mut doomed = Vec::new();
        for v in &previous {
            let k = plan::key_of(v);
            let Some(l) = live.get(&k) else { continue };
            let r = object_ref(l);
            let keep = match r.kind.as_str() {
                "PersistentVolumeClaim" => !self.opts.delete_data && object::is_kept(l),
                _ => object::is_kept(l),
            };
            steps.push(plan::Step {
                object: r,
                source: String::new(),
                action: if keep { Action::Keep } else { Action::Prune },
            });
            if !keep {
                doomed.push(l.clone());
            }
        }
        let mut report = Report {
            app: app.into(),
            namespace: self.ns().into(),
            operation: Operation::Install,
            outcome: Outcome::DryRun,
            revision: None,
            version,
            plan: Plan { steps },
            error: None,
            diagnoses: vec![],
            rollback: None,
            hooks_run: vec![],
            timings: vec![],
        };
        timer.lap("plan");
        if dry_run {
            return Ok(report);
        }
        let deadline = Instant::now() + self.opts.timeout;
        if let Err(f) = self
            .run_hooks(
                &hooks,
                HookEvent::PreDelete,
                deadline,
                &mut report.hooks_run,
            )
            .await
        {
            report.outcome = Outcome::Failed;
            report.error = Some(f.message);
            return Ok(report);
        }
        order::delete_order(&mut doomed);
        self.phase(format!("deleting {} objects", doomed.len()));
        let results: Vec<(ObjectRef, Result<bool, ClusterError>)> =
            futures::stream::iter(doomed.iter().map(object_ref))
                .map(|r| async move {
                    let res = self.cluster.delete(&r).await;
                    (r, res)
                })
                .buffer_unordered(self.opts.concurrency.max(1))
                .collect()
                .await;
        let mut errs = Vec::new();
        for (r, res) in results {
            match res {
                Ok(_) => self.progress.event(Event::Object {
                    object: r,
                    what: "deleted".into(),
                }),
                Err(e) => errs.push(e.to_string()),
            }
        }
        if !errs.is_empty() {
            report.outcome = Outcome::Failed;
            report.error = Some(errs.join("\n"));
            return Ok(report);
        }
        // wait until gone
        loop {
            let refs: Vec<ObjectRef> = doomed.iter().map(object_ref).collect();
            let still = self.live_for(app, &refs).await?;
            let left = doomed
                .iter()
                .filter(|d| still.contains_key(&plan::key_of(d)))
                .count();
            if left == 0 {
                break;
            }
            if Instant::now() > deadline {
                report.outcome = Outcome::Failed;
                report.error = Some(format!(
                    "timed out waiting for {left} objects to be deleted (finalizers?)"
                ));
                return Ok(report);
            }
            self.progress.event(Event::Waiting {
                ready: doomed.len() - left,
                total: doomed.len(),
                waiting: vec![],
            });
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        timer.lap("delete");
        if let Err(f) = self
            .run_hooks(
                &hooks,
                HookEvent::PostDelete,
                deadline,
                &mut report.hooks_run,
            )
            .await
        {
            report.outcome = Outcome::Failed;
            report.error = Some(f.message);
            return Ok(report);
        }
        for r in &history {
            self.delete_revision(r).await?;
        }
        report.outcome = Outcome::Uninstalled;
        Ok(report)
    }

    /// `berth status`.
    pub async fn status(&self, app: &str) -> Result<StatusReport, DeployError> {
        let history = self.revisions(app).await?;
        let current = history
            .iter()
            .rev()
            .find(|r| r.status == Status::Deployed)
            .or(history.last())
            .ok_or_else(|| DeployError::NotInstalled {
                app: app.into(),
                namespace: self.ns().into(),
            })?;
        let refs: Vec<ObjectRef> = current.objects.iter().map(|m| m.reference()).collect();
        let live = self.live_for(app, &refs).await?;
        let storage_classes = self.storage_classes_for(refs.iter().cloned()).await;
        let mut objects = Vec::new();
        let mut pending = BTreeMap::new();
        for r in refs {
            let k = r.key();
            let (state, detail) = match live.get(&k) {
                None => (
                    "missing".to_string(),
                    "not found in the cluster".to_string(),
                ),
                Some(v) => match readiness_in(v, &storage_classes) {
                    Readiness::Ready => ("ready".into(), String::new()),
                    Readiness::Pending(w) => {
                        pending.insert(
                            k.clone(),
                            (r.clone(), Readiness::Pending(w.clone()), Some(v.clone())),
                        );
                        ("pending".into(), w)
                    }
                    Readiness::Failed(w) => {
                        pending.insert(
                            k.clone(),
                            (r.clone(), Readiness::Failed(w.clone()), Some(v.clone())),
                        );
                        ("failed".into(), w)
                    }
                },
            };
            objects.push(ObjectStatus {
                object: r,
                state,
                detail,
            });
        }
        let diagnoses = if pending.is_empty() {
            vec![]
        } else {
            self.diagnose_pending(&pending).await
        };
        let last_failure = history
            .iter()
            .rev()
            .find(|r| matches!(r.status, Status::Failed | Status::RolledBack))
            .map(|r| {
                let mut s = format!(
                    "revision {} ({}, {}): {}",
                    r.number,
                    r.version,
                    r.status.as_str(),
                    r.message.clone().unwrap_or_default()
                );
                for d in &r.diagnoses {
                    s.push_str(&format!("\n  cause: {}\n  fix:   {}", d.cause, d.fix));
                }
                s
            });
        let unsettled = history
            .last()
            .filter(|r| matches!(r.status, Status::Pending | Status::Interrupted))
            .map(|r| {
                let verb = match (
                    r.operation,
                    history.iter().any(|h| h.status == Status::Deployed),
                ) {
                    (_, false) => "berth install APP_DIR",
                    (Operation::Rollback, true) => "berth rollback",
                    (_, true) => "berth upgrade APP_DIR",
                };
                let what = if r.status == Status::Pending {
                    "is pending: a berth run is applying it, or was killed"
                } else {
                    "was interrupted (Ctrl-C)"
                };
                format!(
                    "revision {} ({}, {}) {what}; run `{verb}` again to repair{}",
                    r.number,
                    r.version,
                    match r.operation {
                        Operation::Install => "install",
                        Operation::Upgrade => "upgrade",
                        Operation::Rollback => "rollback",
                    },
                    if history.iter().any(|h| h.status == Status::Deployed) {
                        ""
                    } else {
                        " (nothing was ever deployed: the app is not installed yet)"
                    }
                )
            });
        let drift = crate::baseline::drift(&self.cluster, &history, false)
            .await
            .map(|d| crate::baseline::summary(d.since, &d.report));
        Ok(StatusReport {
            drift,
            unsettled,
            app: app.into(),
            namespace: self.ns().into(),
            version: current.version.clone(),
            revision: current.number,
            status: current.status,
            objects,
            last_failure,
            diagnoses,
        })
    }
}

#[derive(Default)]
struct DiagCache {
    pods: HashMap<String, Vec<Value>>,
    events: HashMap<String, Vec<Value>>,
    storage_classes: Option<Vec<Value>>,
    ingress_classes: Option<Vec<Value>>,
}

/// Objects berth may have applied: the last deployed revision and every revision after it.
fn previous_objects(history: &[Revision]) -> Vec<Value> {
    let start = history
        .iter()
        .rposition(|r| r.status == Status::Deployed)
        .unwrap_or(0);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for r in &history[start..] {
        for m in &r.objects {
            if seen.insert(m.reference().key()) {
                out.push(m.object.clone());
            }
        }
    }
    // Objects of earlier failed revisions that were never pruned (a rollback that was interrupted).
    for r in &history[..start] {
        if matches!(
            r.status,
            Status::Failed | Status::Pending | Status::Interrupted
        ) {
            for m in &r.objects {
                if seen.insert(m.reference().key()) {
                    out.push(m.object.clone());
                }
            }
        }
    }
    out
}

fn refs_of(objects: &[Manifest], previous: &[Value]) -> Vec<ObjectRef> {
    objects
        .iter()
        .map(|m| m.reference())
        .chain(previous.iter().map(object_ref))
        .collect()
}

/// Objects in apply order (batches flattened).
fn ordered(objects: &[Manifest]) -> Result<Vec<Manifest>, DeployError> {
    let scope = Engine::scope_fn(objects);
    let b = order::batches(objects, &scope).map_err(|e| DeployError::Invalid(vec![e]))?;
    Ok(b.into_iter().flat_map(|b| b.objects).collect())
}
