//! The console's operations: thin calls into berth-ops (the same library, inputs and
//! revision records as the CLI), with its typed progress events turned into the lines the
//! page shows. Only what is particular to a web page lives here: field-level validation of
//! the config screen (berth-spec), and the rendered-object diff shown before a deploy.

use berth_deploy::engine::{HistoryEntry, Report, StatusReport};
use berth_deploy::inventory::{Revision, Status};
use berth_deploy::object::Manifest;
use berth_deploy::plan::Plan;
use berth_deploy::{Cluster, Engine};
use berth_ops::deploy::{ApplyInput, Target};
use berth_ops::prepare::ConfigInput;
use berth_ops::snapshot::RepoAccess;
use berth_ops::troubleshoot::{KubeTarget, PreflightInput, SupportBundleInput};
use berth_ops::{Cancel, ErrorClass};
use berth_spec::LoadedApp;
use berth_spec::config::{ConfigProblem, ResolvedConfig};
use berth_troubleshoot::analyze::{AnalyzeResult, Outcome};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A progress line of any operation (what the page shows live, over server-sent events).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OpEvent {
    /// A new phase started.
    Phase {
        /// What the phase is.
        text: String,
    },
    /// One object changed, or one collector ended.
    Object {
        /// `kind/name what`.
        text: String,
    },
    /// Readiness progress.
    Waiting {
        /// `ready/total` and what is waited on.
        text: String,
    },
    /// A note or warning.
    Note {
        /// The note.
        text: String,
    },
    /// The operation ended.
    Done {
        /// Whether it succeeded.
        ok: bool,
        /// The result in words.
        text: String,
    },
}

/// Where the page's events go.
pub type Sink = Arc<dyn Fn(OpEvent) + Send + Sync>;

/// berth-ops' event as a line on the page (`None`: not worth a line).
pub fn op_event(e: berth_ops::Event) -> Option<OpEvent> {
    use berth_deploy::engine::Event as D;
    use berth_ops::Event as E;
    let word = |step: berth_ops::Step| {
        serde_json::to_value(step)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    Some(match e {
        E::StepStarted { step } => OpEvent::Phase { text: word(step) },
        E::StepFinished { ok: true, .. } => return None,
        E::StepFinished { step, ok: false } => OpEvent::Note {
            text: format!("{} failed", word(step)),
        },
        E::Deploy { event } => match event {
            D::Phase(p) => OpEvent::Phase { text: p },
            D::Object { object, what } => OpEvent::Object {
                text: format!("{}/{} {what}", object.kind.to_lowercase(), object.name),
            },
            D::Waiting {
                ready,
                total,
                waiting,
            } => {
                let first = waiting
                    .first()
                    .map(|(r, why)| {
                        format!("; waiting for {}/{}: {why}", r.kind.to_lowercase(), r.name)
                    })
                    .unwrap_or_default();
                OpEvent::Waiting {
                    text: format!("{ready}/{total} ready{first}"),
                }
            }
            D::Note(n) => OpEvent::Note { text: n },
            // The phase line before it already says which hook runs.
            D::Hook { .. } => return None,
        },
        E::ImageStarted { image, bytes } => OpEvent::Object {
            text: format!("pushing {image} ({bytes} bytes)"),
        },
        E::BytesPushed { .. } => return None,
        E::ImageDone { image } => OpEvent::Object {
            text: format!("{image} pushed"),
        },
        E::Relocated { summary } => OpEvent::Note { text: summary },
        E::Exposed { summary } => OpEvent::Note { text: summary },
        E::CollectorStarted { title, .. } => OpEvent::Object {
            text: format!("collecting {title}"),
        },
        E::CollectorFinished {
            title,
            status,
            error,
            ..
        } => OpEvent::Object {
            text: match error {
                Some(e) => format!("{title} {status}: {e}"),
                None if status == "ok" => format!("{title} collected"),
                None => format!("{title} {status}"),
            },
        },
        E::SpecProblem { severity, message } => OpEvent::Note {
            text: format!("{severity}: {message}"),
        },
        E::Warning { message } => OpEvent::Note {
            text: format!("warning: {message}"),
        },
        E::Note { message } => OpEvent::Note { text: message },
        // The console does not run the dev loop.
        E::Dev { .. } => return None,
    })
}

/// A berth-ops sink that feeds the page's sink.
fn ops_sink(sink: Sink) -> Arc<dyn berth_ops::Sink> {
    Arc::new(move |e: berth_ops::Event| {
        if let Some(ev) = op_event(e) {
            sink(ev)
        }
    })
}

/// Errors of console operations, in words for the page.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The app directory cannot be read.
    #[error("{0}")]
    App(String),
    /// The config values have problems (shown at their fields).
    #[error("the configuration has {} problem(s)", .0.len())]
    Config(Vec<ConfigProblem>),
    /// An operation failed.
    #[error(transparent)]
    Ops(Box<berth_ops::Error>),
}

impl OpError {
    /// The HTTP status a page answers with.
    pub fn status(&self) -> u16 {
        match self {
            OpError::App(_) => 500,
            OpError::Config(_) => 422,
            OpError::Ops(e) => match e.class() {
                ErrorClass::BadInput => 400,
                ErrorClass::NotInstalled => 404,
                ErrorClass::Failed => 502,
            },
        }
    }
}

impl From<berth_ops::Error> for OpError {
    fn from(e: berth_ops::Error) -> Self {
        OpError::Ops(Box::new(e))
    }
}

impl From<berth_deploy::engine::DeployError> for OpError {
    fn from(e: berth_deploy::engine::DeployError) -> Self {
        OpError::Ops(Box::new(e.into()))
    }
}

impl From<berth_deploy::cluster::ClusterError> for OpError {
    fn from(e: berth_deploy::cluster::ClusterError) -> Self {
        OpError::from(berth_deploy::engine::DeployError::from(e))
    }
}

/// Run `f`'s future on a blocking thread of this runtime: some engine futures hold
/// closures over borrowed data that the compiler cannot prove Send, and handlers must be.
async fn off_thread<T, F, Fut>(f: F) -> Result<T, OpError>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, OpError>>,
{
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || rt.block_on(f()))
        .await
        .map_err(|e| OpError::App(format!("the operation stopped: {e}")))?
}

/// The operations bound to one app in one namespace (cheap to clone).
#[derive(Clone)]
pub struct Ops {
    cluster: Arc<Cluster>,
    target: Target,
    kube: KubeTarget,
    namespace: String,
    app_dir: PathBuf,
    work_dir: PathBuf,
    /// berth.yaml as last read, with the file's modification time and size: pages read the
    /// app on every request, and loading it costs more than rendering most pages.
    app_cache: Arc<std::sync::Mutex<Option<(std::time::SystemTime, u64, LoadedApp)>>>,
    /// Reach the vendor server here instead of the license's URL.
    vendor_url: Option<String>,
    /// The snapshot repository given to the console (`--snapshot-repo`), if any.
    snapshot_repo: Option<RepoFlag>,
    /// The mover image of app snapshots and restores.
    mover_image: String,
    /// The last repository opened, by what opened it (opening derives the key from the
    /// password, which takes a while and 64 MiB: not on every page).
    repo_cache: Arc<std::sync::Mutex<Option<OpenedRepo>>>,
}

/// An opened repository and the key of what opened it.
type OpenedRepo = (String, Arc<RepoAccess>);

/// A snapshot repository given to the console itself (`berth console --snapshot-repo URL`,
/// the password from `BERTH_REPO_PASSWORD` or `--snapshot-password-file`, S3 keys from the
/// console's environment).
#[derive(Clone)]
pub struct RepoFlag {
    /// The repository: a directory or `s3://…`.
    pub url: String,
    /// Its password.
    pub password: String,
}

impl std::fmt::Debug for RepoFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RepoFlag {{ url: {:?}, .. }}", self.url)
    }
}

/// Where the Snapshots page's repository comes from.
#[derive(Debug, Clone)]
pub enum RepoSource {
    /// `--snapshot-repo`.
    Flag(String),
    /// The app's snapshot schedule (its Secret).
    Schedule {
        /// The repository location.
        url: String,
        /// `secret/berth-snapshot-APP in namespace NS`.
        secret: String,
    },
}

impl RepoSource {
    /// The repository location.
    pub fn url(&self) -> &str {
        match self {
            RepoSource::Flag(u) | RepoSource::Schedule { url: u, .. } => u,
        }
    }
}

/// What the Versions page knows about newer releases.
#[derive(Debug, Clone)]
pub enum UpdatesState {
    /// The app was not installed with a license from the vendor server (air-gapped, or from
    /// a release directory): updates come as bundles.
    NoLicense,
    /// The vendor server could not be reached (the message names its URL and why).
    Unreachable(String),
    /// The check failed otherwise (a revoked license, a refused channel...).
    Failed(String),
    /// The server's answer.
    Answer(Box<berth_ops::online::UpdatesReport>),
}

/// How long the Versions page waits for the vendor server.
pub const UPDATE_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// The Snapshots page's data.
#[derive(Debug, Clone, Default)]
pub struct SnapshotsState {
    /// Where the repository comes from (None: none is configured).
    pub source: Option<RepoSource>,
    /// The app's schedule.
    pub schedule: Option<berth_ops::snapshot::schedule::ScheduleInfo>,
    /// The app's snapshots, newest first.
    pub snapshots: Vec<berth_ops::snapshot::AppSnapshotSummary>,
    /// Why the repository could not be opened or listed.
    pub error: Option<String>,
    /// Why snapshots are refused here (the installed license), if they are.
    pub not_licensed: Option<String>,
}

/// A reviewed change: the config input berth-ops deploys, and what the page showed.
#[derive(Clone)]
pub struct Review {
    /// The config values (berth-ops resolves them again at deploy, as the CLI does).
    pub values: BTreeMap<String, Value>,
    /// Upgrade (an app is installed) or install.
    pub upgrade: bool,
    /// The version deployed.
    pub version: String,
    /// berth-ops' plan against the live cluster.
    pub plan: Plan,
    /// The rendered objects (for the object diff).
    pub objects: Vec<Manifest>,
}

/// The outcome of a preflight.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PreflightResult {
    /// One row per check.
    pub results: Vec<AnalyzeResult>,
    /// When it ran (RFC 3339).
    pub at: String,
}

impl PreflightResult {
    /// Whether any check failed (or could not run): deploy is blocked unless overridden.
    pub fn failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Fail | Outcome::Error))
    }
}

/// A written support bundle.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BundleResult {
    /// File name under the work directory (`<name>.tar.gz`).
    pub file: String,
    /// Size in bytes.
    pub size: u64,
    /// The analysis.
    pub results: Vec<AnalyzeResult>,
    /// Redacted files inside the bundle (relative paths).
    pub files: Vec<String>,
    /// When it was made (RFC 3339).
    pub at: String,
    /// Sent to the vendor: the id the vendor server gave it, and when.
    pub sent: Option<(String, String)>,
}

pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}

/// Where the console's cluster is, for the operations that read a kubeconfig themselves
/// (troubleshoot collectors).
#[derive(Debug, Clone, Default)]
pub struct KubeAccess {
    /// kubeconfig path (`None`: $KUBECONFIG, ~/.kube/config, in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context.
    pub context: Option<String>,
}

impl Ops {
    /// Operations on the app in `app_dir`, installed in `namespace` of `cluster`.
    pub fn new(
        cluster: Arc<Cluster>,
        access: KubeAccess,
        namespace: String,
        app_dir: PathBuf,
        timeout: Duration,
        work_dir: PathBuf,
    ) -> Ops {
        let mut target = Target::connected(cluster.clone(), namespace.clone());
        target.timeout = timeout;
        target.kubeconfig = access.kubeconfig.clone();
        target.context = access.context.clone();
        Ops {
            cluster,
            target,
            kube: KubeTarget {
                kubeconfig: access.kubeconfig,
                context: access.context,
                namespace: Some(namespace.clone()),
            },
            namespace,
            app_dir,
            work_dir,
            app_cache: Arc::default(),
            vendor_url: None,
            snapshot_repo: None,
            mover_image: berth_ops::snapshot::default_mover_image(),
            repo_cache: Arc::default(),
        }
    }

    /// Reach the vendor server at `url` instead of the license's (a proxy in between).
    pub fn with_vendor_url(mut self, url: Option<String>) -> Ops {
        self.vendor_url = url;
        self
    }

    /// App snapshots into `repo` (None: the schedule's repository, if any), with `mover_image`.
    pub fn with_snapshots(mut self, repo: Option<RepoFlag>, mover_image: Option<String>) -> Ops {
        self.snapshot_repo = repo;
        if let Some(m) = mover_image {
            self.mover_image = m;
        }
        self
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The work directory (support bundles).
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    fn cluster(&self) -> Arc<Cluster> {
        self.cluster.clone()
    }

    /// berth.yaml, read again whenever the file changes (an edited app shows at once).
    pub fn app(&self) -> Result<LoadedApp, OpError> {
        let stamp = std::fs::metadata(self.app_dir.join("berth.yaml"))
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())));
        if let (Some((t, n)), Ok(cache)) = (stamp, self.app_cache.lock())
            && let Some((ct, cn, app)) = cache.as_ref()
            && *ct == t
            && *cn == n
        {
            return Ok(app.clone());
        }
        let app = berth_spec::load(&self.app_dir).map_err(|e| OpError::App(e.to_string()))?;
        if let (Some((t, n)), Ok(mut cache)) = (stamp, self.app_cache.lock()) {
            *cache = Some((t, n, app.clone()));
        }
        Ok(app)
    }

    /// Every revision, oldest first: the records the CLI writes and reads.
    pub async fn revisions(&self, app: &str) -> Result<Vec<Revision>, OpError> {
        let engine = Engine::new(
            self.cluster(),
            berth_deploy::engine::Options {
                namespace: self.namespace.clone(),
                ..Default::default()
            },
            Arc::new(berth_deploy::engine::Quiet),
        );
        Ok(engine.revisions(app).await?)
    }

    /// `berth history` (empty when not installed).
    pub async fn history(&self, app: &str) -> Result<Vec<HistoryEntry>, OpError> {
        match berth_ops::deploy::history(&self.target, app).await {
            Ok(h) => Ok(h),
            Err(e) if e.class() == ErrorClass::NotInstalled => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// `berth status`; `None` when the app is not installed.
    pub async fn status(&self, app: &str) -> Result<Option<StatusReport>, OpError> {
        let target = self.target.clone();
        let app = app.to_string();
        off_thread(move || async move {
            match berth_ops::deploy::status(&target, &app).await {
                Ok(s) => Ok(Some(s)),
                Err(e) if e.class() == ErrorClass::NotInstalled => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    /// The license the app was installed with (`secret/berth-license`), if any.
    pub async fn license(&self) -> Result<Option<berth_ops::online::LicenseSummary>, OpError> {
        let target = self.target.clone();
        off_thread(move || async move { Ok(berth_ops::online::installed_license(&target).await?) })
            .await
    }

    /// The config of the newest revision (values the screen starts from), if any.
    pub async fn current_config(&self, app: &str) -> Result<Option<ResolvedConfig>, OpError> {
        let revs = self.revisions(app).await?;
        Ok(revs
            .last()
            .and_then(|r| serde_json::from_value(r.config.clone()).ok()))
    }

    /// Check `input` against the config screen item by item (problems go to their fields),
    /// keeping generated values of the newest revision.
    pub fn resolve(
        &self,
        app: &LoadedApp,
        input: &BTreeMap<String, Value>,
        previous: Option<&ResolvedConfig>,
    ) -> Result<ResolvedConfig, OpError> {
        berth_spec::config::resolve(
            &app.app,
            input,
            previous,
            &mut berth_spec::config::generate_value,
        )
        .map_err(OpError::Config)
    }

    fn apply_input(&self, values: &BTreeMap<String, Value>) -> ApplyInput {
        ApplyInput {
            app_dir: Some(self.app_dir.clone()),
            config: ConfigInput {
                values: values.clone(),
                label: "the configuration".into(),
            },
            ..ApplyInput::default()
        }
    }

    /// What deploying `values` would do: berth-ops' plan against the live cluster, and the
    /// objects it renders (as `berth diff`).
    pub async fn review(&self, values: BTreeMap<String, Value>) -> Result<Review, OpError> {
        let me = self.clone();
        off_thread(move || async move {
            let input = me.apply_input(&values);
            let plan =
                berth_ops::deploy::diff(&me.target, &input, Arc::new(berth_ops::Discard)).await?;
            let name = me.app()?.app.metadata.name;
            let revs = me.revisions(&name).await?;
            let upgrade = revs.iter().any(|r| r.status == Status::Deployed);
            let engine = Engine::new(
                me.cluster(),
                berth_deploy::engine::Options {
                    namespace: me.namespace.clone(),
                    ..Default::default()
                },
                Arc::new(berth_deploy::engine::Quiet),
            );
            let live = berth_ops::prepare::live_render_options(&engine, &revs, upgrade).await?;
            let prepared = berth_ops::prepare::prepare_input(
                &me.app_dir,
                &input.config,
                Some(&me.namespace),
                revs.last().map(|r| &r.config),
                live,
            )?;
            Ok(Review {
                values,
                upgrade,
                version: prepared.release.version.clone(),
                plan,
                objects: prepared.release.objects,
            })
        })
        .await
    }

    /// Install or upgrade with the reviewed values (berth-ops; a failed upgrade rolls back
    /// by itself, as on the CLI).
    pub async fn deploy(&self, review: Review, sink: Sink) -> Result<Report, OpError> {
        let input = self.apply_input(&review.values);
        let sink = ops_sink(sink);
        let cancel = Cancel::new();
        let r = if review.upgrade {
            berth_ops::deploy::upgrade(&self.target, &input, sink, &cancel).await
        } else {
            berth_ops::deploy::install(&self.target, &input, sink, &cancel).await
        };
        Ok(r?)
    }

    /// Roll back to `revision` (default: the previous successful one).
    pub async fn rollback(
        &self,
        app: &str,
        revision: Option<u32>,
        sink: Sink,
    ) -> Result<Report, OpError> {
        Ok(berth_ops::deploy::rollback(
            &self.target,
            app,
            revision,
            false,
            ops_sink(sink),
            &Cancel::new(),
        )
        .await?)
    }

    /// The app's check files of one kind, as paths.
    fn check_files(
        &self,
        pick: impl Fn(&berth_spec::Checks) -> Vec<String>,
    ) -> Result<Vec<String>, OpError> {
        let app = self.app()?;
        Ok(app
            .app
            .spec
            .checks
            .iter()
            .flat_map(pick)
            .map(|f| app.path(&f).display().to_string())
            .collect())
    }

    /// Run the app's preflight checks (`spec.checks.preflights` and `hostPreflights`).
    pub async fn preflight(&self, sink: Sink) -> Result<PreflightResult, OpError> {
        let specs = self.check_files(|c| {
            c.preflights
                .iter()
                .chain(&c.host_preflights)
                .cloned()
                .collect()
        })?;
        let input = PreflightInput {
            specs,
            kube: self.kube.clone(),
            ..PreflightInput::default()
        };
        let sink = ops_sink(sink);
        let report = berth_ops::troubleshoot::preflight(&input, &*sink, &Cancel::new()).await?;
        Ok(PreflightResult {
            results: report.results,
            at: now(),
        })
    }

    /// Collect a redacted, analysed support bundle of the app (`spec.checks.supportBundles`
    /// and `redactors`) into the work directory.
    pub async fn support_bundle(&self, sink: Sink) -> Result<BundleResult, OpError> {
        let specs = self.check_files(|c| {
            c.support_bundles
                .iter()
                .chain(&c.redactors)
                .cloned()
                .collect()
        })?;
        let name = berth_troubleshoot::bundle::default_name("support-bundle", jiff::Zoned::now());
        let file = format!("{name}.tar.gz");
        let input = SupportBundleInput {
            specs,
            kube: self.kube.clone(),
            archive: Some(self.work_dir.join(&file)),
            ..SupportBundleInput::default()
        };
        let sink = ops_sink(sink);
        let report =
            berth_ops::troubleshoot::support_bundle(&input, &*sink, &Cancel::new()).await?;
        let path = report.path.clone();
        let files = tokio::task::spawn_blocking(move || {
            berth_troubleshoot::bundle::open(&path)
                .map(|r| {
                    let mut f = r.glob("**");
                    f.sort();
                    f
                })
                .unwrap_or_default()
        })
        .await
        .unwrap_or_default();
        Ok(BundleResult {
            file,
            size: report.size.unwrap_or(0),
            results: report.results,
            files,
            at: now(),
            sent: None,
        })
    }
}

impl Ops {
    /// The app's name (from berth.yaml).
    fn app_name(&self) -> Result<String, OpError> {
        Ok(self.app()?.app.metadata.name)
    }

    /// Ask the vendor server what is newer than the installed version: the same update check
    /// as `berth updates -n`, with the namespace's license.
    pub async fn updates(&self) -> UpdatesState {
        let target = self.target.clone();
        let input = berth_ops::online::UpdatesInput {
            vendor_url: self.vendor_url.clone(),
            timeout: Some(UPDATE_CHECK_TIMEOUT),
            ..Default::default()
        };
        let r = off_thread(move || async move {
            // No license Secret: not an online install; nothing to ask.
            if berth_ops::online::installed_license(&target)
                .await?
                .is_none()
            {
                return Ok(None);
            }
            Ok(Some(berth_ops::online::updates(&target, &input).await))
        })
        .await;
        match r {
            Ok(None) => UpdatesState::NoLicense,
            Ok(Some(Ok(rep))) => UpdatesState::Answer(Box::new(rep)),
            Ok(Some(Err(e))) if berth_ops::online::unreachable(&e) => {
                UpdatesState::Unreachable(e.to_string())
            }
            Ok(Some(Err(e))) => UpdatesState::Failed(e.to_string()),
            Err(e) => UpdatesState::Failed(e.to_string()),
        }
    }

    /// Upgrade to `version` from the vendor server: `berth upgrade --to VERSION` (every
    /// required release on the way, each fetched, preflighted and upgraded with automatic
    /// rollback); the reports of the steps run.
    pub async fn upgrade_to(&self, version: &str, sink: Sink) -> Result<Vec<Report>, OpError> {
        let input = ApplyInput::default();
        let to = berth_ops::online::UpgradeTo {
            version: Some(version.to_string()),
            vendor_url: self.vendor_url.clone(),
            ..Default::default()
        };
        Ok(
            berth_ops::online::upgrade(&self.target, &input, &to, ops_sink(sink), &Cancel::new())
                .await?,
        )
    }

    /// Send a support bundle of the work directory to the vendor server with the namespace's
    /// license (only a redacted berth bundle is sent: berth-ops checks).
    pub async fn send_bundle(
        &self,
        file: &str,
        sink: Sink,
    ) -> Result<berth_vendor::model::SupportBundleInfo, OpError> {
        let input = berth_ops::online::SendBundleInput {
            bundle: self.work_dir.join(file),
            license: None,
            vendor_url: self.vendor_url.clone(),
        };
        let sink = ops_sink(sink);
        Ok(berth_ops::online::send_support_bundle(&self.target, &input, &*sink).await?)
    }

    /// Where the snapshot repository comes from: `--snapshot-repo`, else the app's schedule
    /// Secret; with what opens it.
    async fn repo_settings(
        &self,
        app: &str,
    ) -> Result<Option<(RepoSource, String, Option<BTreeMap<String, String>>)>, OpError> {
        if let Some(f) = &self.snapshot_repo {
            return Ok(Some((
                RepoSource::Flag(f.url.clone()),
                f.password.clone(),
                None,
            )));
        }
        let stored = berth_ops::snapshot::schedule::stored_repository(&self.target, app).await?;
        Ok(stored.map(|s| {
            (
                RepoSource::Schedule {
                    url: s.url.clone(),
                    secret: s.source.clone(),
                },
                s.password,
                Some(s.credentials),
            )
        }))
    }

    /// The repository, opened (reused while its location, password and keys stay the same).
    async fn repository(
        &self,
        app: &str,
    ) -> Result<Option<(RepoSource, Arc<RepoAccess>)>, OpError> {
        let Some((source, password, creds)) = self.repo_settings(app).await? else {
            return Ok(None);
        };
        let key = blake3::hash(format!("{}\0{password}\0{creds:?}", source.url()).as_bytes())
            .to_hex()
            .to_string();
        if let Ok(c) = self.repo_cache.lock()
            && let Some((k, a)) = c.as_ref()
            && *k == key
        {
            return Ok(Some((source, a.clone())));
        }
        let url = source.url().to_string();
        let access = tokio::task::spawn_blocking(move || RepoAccess::open(&url, password, creds))
            .await
            .map_err(|e| OpError::App(format!("opening the repository stopped: {e}")))??;
        let access = Arc::new(access);
        if let Ok(mut c) = self.repo_cache.lock() {
            *c = Some((key, access.clone()));
        }
        Ok(Some((source, access)))
    }

    /// The Snapshots page: the repository, the schedule and the app's snapshots.
    pub async fn snapshots(&self) -> Result<SnapshotsState, OpError> {
        let app = self.app_name()?;
        let mut st = SnapshotsState {
            schedule: berth_ops::snapshot::schedule::show(&self.target, Some(&app)).await?,
            ..Default::default()
        };
        if let Err(e) = berth_ops::snapshot::snapshots_allowed(&self.cluster, &self.namespace).await
        {
            st.not_licensed = Some(e.to_string());
        }
        match self.repository(&app).await {
            Ok(None) => {}
            Ok(Some((source, access))) => {
                st.source = Some(source);
                let a = app.clone();
                match tokio::task::spawn_blocking(move || {
                    berth_ops::snapshot::list(&access.repo, Some(&a))
                })
                .await
                {
                    Ok(Ok(list)) => st.snapshots = list,
                    Ok(Err(e)) => st.error = Some(e.to_string()),
                    Err(e) => st.error = Some(e.to_string()),
                }
            }
            Err(e) => {
                st.source = self
                    .repo_settings(&app)
                    .await
                    .ok()
                    .flatten()
                    .map(|(s, _, _)| s);
                st.error = Some(e.to_string());
            }
        }
        Ok(st)
    }

    /// Take an app snapshot now (`berth snapshot create -n`).
    pub async fn take_snapshot(
        &self,
        sink: Sink,
    ) -> Result<berth_ops::snapshot::AppSnapshotReport, OpError> {
        let app = self.app_name()?;
        let (_, access) = self
            .repository(&app)
            .await?
            .ok_or_else(|| OpError::App(NO_REPOSITORY.into()))?;
        let input = berth_ops::snapshot::AppSnapshotInput {
            app: Some(app),
            mover_image: self.mover_image.clone(),
            tags: vec!["berth.dev/console=true".into()],
            // The console reads VolumeSnapshotClasses itself (it is not a scheduled pod).
            volume_snapshot_classes: Default::default(),
        };
        let sink = ops_sink(sink);
        Ok(berth_ops::snapshot::create(&self.target, &access, &input, &*sink).await?)
    }

    /// One app snapshot of the repository (for the restore confirmation).
    pub async fn snapshot(
        &self,
        id: &str,
    ) -> Result<Option<berth_ops::snapshot::AppSnapshotSummary>, OpError> {
        let st = self.snapshots().await?;
        if let Some(e) = st.error {
            return Err(OpError::App(e));
        }
        Ok(st.snapshots.into_iter().find(|s| s.id == id))
    }

    /// Restore an app snapshot into `namespace` (`berth snapshot restore ID -n NAMESPACE`;
    /// never over an installed app: no `--force` from the console).
    pub async fn restore_snapshot(
        &self,
        id: &str,
        namespace: &str,
        sink: Sink,
    ) -> Result<berth_ops::snapshot::AppRestoreReport, OpError> {
        let app = self.app_name()?;
        let (_, access) = self
            .repository(&app)
            .await?
            .ok_or_else(|| OpError::App(NO_REPOSITORY.into()))?;
        let mut target = Target::connected(self.cluster.clone(), namespace.to_string());
        target.timeout = self.target.timeout;
        target.kubeconfig = self.target.kubeconfig.clone();
        target.context = self.target.context.clone();
        let input = berth_ops::snapshot::AppRestoreInput {
            snapshot: id.to_string(),
            force: false,
            mover_image: self.mover_image.clone(),
        };
        Ok(
            berth_ops::snapshot::restore(&target, &access, &input, ops_sink(sink), &Cancel::new())
                .await?,
        )
    }

    /// Whether namespace `ns` exists.
    pub async fn namespace_exists(&self, ns: &str) -> Result<bool, OpError> {
        let r = berth_deploy::object::ObjectRef {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: String::new(),
            name: ns.into(),
        };
        Ok(self.cluster.get(&r).await?.is_some())
    }
}

/// What the Snapshots page says when no repository is configured.
pub const NO_REPOSITORY: &str = "no snapshot repository is configured for this app: schedule snapshots with `berth snapshot schedule -n NAMESPACE --repo … --cron …` (the console uses the schedule's repository), or start the console with --snapshot-repo";

/// `pass`, `warn`, `fail` or `error`.
pub fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Warn => "warn",
        Outcome::Fail => "fail",
        Outcome::Error => "error",
    }
}

/// One line of a unified diff between two texts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DiffLine {
    /// `+`, `-` or ` `.
    pub sign: char,
    /// The line.
    pub text: String,
}

/// The per-object differences between two sets of rendered objects (two revisions, or the
/// installed revision and a reviewed change), as YAML with Secrets' values hidden:
/// `(object, lines)` for each object added, removed or changed.
pub fn objects_diff(from: &[Manifest], to: &[Manifest]) -> Vec<(String, Vec<DiffLine>)> {
    let index = |objs: &[Manifest]| -> BTreeMap<String, String> {
        objs.iter()
            .map(|m| {
                let r = m.reference();
                (
                    format!("{}/{}", r.kind.to_lowercase(), r.name),
                    shown_yaml(&m.object),
                )
            })
            .collect()
    };
    let (a, b) = (index(from), index(to));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        let old = a.get(k).map(String::as_str).unwrap_or("");
        let new = b.get(k).map(String::as_str).unwrap_or("");
        if old != new {
            out.push((k.clone(), line_diff(old, new)));
        }
    }
    out
}

/// YAML of an object for display: a Secret's values are replaced by their length.
pub fn shown_yaml(obj: &Value) -> String {
    let mut o = obj.clone();
    if o.get("kind").and_then(Value::as_str) == Some("Secret") {
        for key in ["data", "stringData"] {
            if let Some(m) = o.get_mut(key).and_then(Value::as_object_mut) {
                for v in m.values_mut() {
                    let n = v.as_str().map_or(0, str::len);
                    *v = json!(format!("(hidden, {n} characters)"));
                }
            }
        }
    }
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
        // berth's own bookkeeping (labels the engine adds when it applies) is not a change
        // the customer made.
        for key in ["labels", "annotations"] {
            if let Some(map) = m.get_mut(key).and_then(Value::as_object_mut) {
                map.retain(|k, _| !k.starts_with("berth.dev/"));
            }
        }
    }
    serde_saphyr::to_string(&o).unwrap_or_default()
}

/// A line diff (longest common subsequence); only changed lines and 2 lines of context.
pub fn line_diff(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Objects are small; a table over a few thousand lines is cheap. Beyond that, show both whole.
    if a.len().saturating_mul(b.len()) > 4_000_000 {
        return a
            .iter()
            .map(|l| DiffLine {
                sign: '-',
                text: (*l).into(),
            })
            .chain(b.iter().map(|l| DiffLine {
                sign: '+',
                text: (*l).into(),
            }))
            .collect();
    }
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * (m + 1) + j] = if a[i] == b[j] {
                lcs[(i + 1) * (m + 1) + j + 1] + 1
            } else {
                lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
            };
        }
    }
    let mut all = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            all.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
            // Removals first, as unified diffs print them.
            all.push(('-', a[i]));
            i += 1;
        } else {
            all.push(('+', b[j]));
            j += 1;
        }
    }
    // Keep changes and two lines around each.
    let near = |k: usize| {
        let lo = k.saturating_sub(2);
        let hi = (k + 3).min(all.len());
        all[lo..hi].iter().any(|(s, _)| *s != ' ')
    };
    (0..all.len())
        .filter(|&k| all[k].0 != ' ' || near(k))
        .map(|k| DiffLine {
            sign: all[k].0,
            text: all[k].1.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_diff_marks_changes_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\n";
        let new = "a\nb\nc\nD\ne\nf\ng\nh\n";
        let d: Vec<String> = line_diff(old, new)
            .iter()
            .map(|l| format!("{}{}", l.sign, l.text))
            .collect();
        assert_eq!(d, vec![" b", " c", "-d", "+D", " e", " f", " g", "+h"]);
        assert!(line_diff("x\n", "x\n").is_empty());
    }

    #[test]
    fn secrets_are_shown_without_values() {
        let y = shown_yaml(&json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "labels": {"berth.dev/app": "x", "tier": "db"}},
            "data": {"password": "c2VjcmV0"}}));
        assert!(
            !y.contains("berth.dev/app") && y.contains("tier: db"),
            "{y}"
        );
        assert!(!y.contains("c2VjcmV0"), "{y}");
        assert!(y.contains("(hidden, 8 characters)"), "{y}");
    }
}
