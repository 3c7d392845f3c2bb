//! Install, upgrade, diff, rollback, uninstall, status and history of an app in a cluster,
//! online or from an air-gap bundle: the deploy engine (berth-deploy) fed with the rendered
//! app (see [`crate::prepare`]) and, for air-gapped installs, the relocated images (see
//! [`crate::airgap`]).

use crate::airgap::{self, AirgapInput, Relocation, Signed};
use crate::error::{Error, Result};
use crate::prepare::{ConfigInput, live_render_options, prepare_input, resolve};
use crate::progress::{Cancel, DeployProgress, Discard, Event, Sink, Step, step, step_sync};
use berth_deploy::engine::{DeployError, HistoryEntry, Mode, Options, Report, StatusReport};
use berth_deploy::inventory::{Revision, Status};
use berth_deploy::plan::Plan;
use berth_deploy::{Cluster, ConnectOptions, Engine, Manifest};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Which cluster and namespace an operation works on.
#[derive(Clone)]
pub struct Target {
    /// Path to the kubeconfig (default: $KUBECONFIG, ~/.kube/config, then in-cluster config).
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context.
    pub context: Option<String>,
    /// Namespace of the app (its revisions and lock live here). Default: the namespace of
    /// the kubeconfig's current context, else `default`.
    pub namespace: Option<String>,
    /// How long to wait for readiness and for a held lock.
    pub timeout: Duration,
    /// An already connected cluster (a long-running front end keeps one); when set, the
    /// kubeconfig fields are not read.
    pub cluster: Option<Arc<Cluster>>,
}

impl Default for Target {
    fn default() -> Target {
        Target {
            kubeconfig: None,
            context: None,
            namespace: None,
            timeout: Duration::from_secs(300),
            cluster: None,
        }
    }
}

impl Target {
    /// A target over a connected cluster.
    pub fn connected(cluster: Arc<Cluster>, namespace: impl Into<String>) -> Target {
        Target {
            namespace: Some(namespace.into()),
            cluster: Some(cluster),
            ..Target::default()
        }
    }

    /// Connect (or reuse the connected cluster), and pick the namespace: the given one, else
    /// the kubeconfig context's (as kubectl).
    pub async fn connect(&self) -> Result<(Arc<Cluster>, String)> {
        let cluster = match &self.cluster {
            Some(c) => c.clone(),
            None => Arc::new(
                Cluster::connect(&ConnectOptions {
                    kubeconfig: self.kubeconfig.clone(),
                    context: self.context.clone(),
                })
                .await?,
            ),
        };
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| cluster.client().default_namespace().to_string());
        Ok((cluster, namespace))
    }

    pub(crate) fn engine(
        &self,
        cluster: Arc<Cluster>,
        namespace: &str,
        sink: Arc<dyn Sink>,
        tune: impl FnOnce(&mut Options),
    ) -> Engine {
        let mut opts = Options {
            namespace: namespace.to_string(),
            timeout: self.timeout,
            ..Options::default()
        };
        tune(&mut opts);
        Engine::new(cluster, opts, Arc::new(DeployProgress(sink)))
    }
}

/// What to install or upgrade, and how.
#[derive(Debug, Clone)]
pub struct ApplyInput {
    /// The app directory (holding berth.yaml). With `airgap` set, a directory rendered
    /// *instead of* the signed app files (development only: a [`Event::Warning`] says so).
    pub app_dir: Option<PathBuf>,
    /// The customer's config values.
    pub config: ConfigInput,
    /// Install from a signed bundle or release (air-gapped).
    pub airgap: Option<AirgapInput>,
    /// Pull images from the vendor's registries again: drop the private registry recorded
    /// by an earlier air-gapped install.
    pub no_relocate: bool,
    /// Compute the plan and change nothing.
    pub dry_run: bool,
    /// Take over fields another field manager owns.
    pub force_conflicts: bool,
    /// Objects applied at once.
    pub concurrency: usize,
    /// Validate changed objects server-side (dry-run apply) before the first change.
    pub validate: bool,
    /// Roll a failed upgrade back to the previous revision.
    pub rollback_on_failure: bool,
    /// Record this host's facts in the revision's baseline too (run on a cluster node).
    pub host_baseline: bool,
    /// The license of an online install ([`crate::online`]): templates see `.License` and the
    /// namespace gets `secret/berth-license`.
    pub license: Option<crate::online::LicenseInput>,
    /// End the readiness wait once a diagnosis has held this long (None: the engine's
    /// default). The dev loop uses a short one: a developer wants the cause at once.
    pub fail_fast: Option<Duration>,
    /// Longest pause between readiness reads (None: the engine's default, 1 s).
    pub wait_poll_max: Option<Duration>,
    /// A post-renderer (program, arguments) run on every chart component's manifests, after
    /// the component's own `chart.postRenderer`.
    pub post_renderer: Option<(PathBuf, Vec<String>)>,
    /// The chart cache remote chart dependencies are read from (None: the default cache).
    pub chart_cache: Option<PathBuf>,
}

impl Default for ApplyInput {
    fn default() -> ApplyInput {
        ApplyInput {
            app_dir: None,
            config: ConfigInput::default(),
            airgap: None,
            no_relocate: false,
            dry_run: false,
            force_conflicts: false,
            concurrency: 32,
            validate: true,
            rollback_on_failure: true,
            host_baseline: false,
            license: None,
            fail_fast: None,
            wait_poll_max: None,
            post_renderer: None,
            chart_cache: None,
        }
    }
}

/// Install the app (or repair an interrupted install; re-running changes nothing).
pub async fn install(
    target: &Target,
    input: &ApplyInput,
    sink: Arc<dyn Sink>,
    cancel: &Cancel,
) -> Result<Report> {
    match apply(target, input, Some(Mode::Install), sink, cancel).await? {
        Applied::Report(r) => Ok(r),
        Applied::Plan(_) => Err(Error::Failed("install produced no report".into())),
    }
}

/// Upgrade the installed app; the upgrade policy is checked before anything changes (or is
/// pushed), and a failed upgrade rolls back unless `rollback_on_failure` is false.
pub async fn upgrade(
    target: &Target,
    input: &ApplyInput,
    sink: Arc<dyn Sink>,
    cancel: &Cancel,
) -> Result<Report> {
    match apply(target, input, Some(Mode::Upgrade), sink, cancel).await? {
        Applied::Report(r) => Ok(r),
        Applied::Plan(_) => Err(Error::Failed("upgrade produced no report".into())),
    }
}

/// What an install or upgrade would change (nothing is pushed or changed).
pub async fn diff(target: &Target, input: &ApplyInput, sink: Arc<dyn Sink>) -> Result<Plan> {
    match apply(target, input, None, sink, &Cancel::new()).await? {
        Applied::Plan(p) => Ok(p),
        Applied::Report(_) => Err(Error::Failed("diff produced a report".into())),
    }
}

enum Applied {
    Plan(Plan),
    Report(Report),
}

/// Where the app files come from: the signed release (or the development override), or the
/// app directory. `None` mode is a diff.
fn app_source(input: &ApplyInput, signed: Option<&Signed>, sink: &dyn Sink) -> PathBuf {
    match (signed, &input.app_dir) {
        (Some(s), Some(dev)) => {
            sink.event(Event::Warning {
                message: format!(
                    "rendering {} (--app-dir) instead of the app files signed in {}: this install is NOT the one the vendor signed",
                    dev.display(),
                    s.source.display()
                ),
            });
            dev.clone()
        }
        (Some(s), None) => s.app_dir.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => PathBuf::from("."),
    }
}

/// Install, upgrade or (mode `None`) diff.
async fn apply(
    target: &Target,
    input: &ApplyInput,
    mode: Option<Mode>,
    sink: Arc<dyn Sink>,
    cancel: &Cancel,
) -> Result<Applied> {
    let signed_source = input.airgap.as_ref().is_some_and(|f| f.signed_source());
    // An upgrade from a bundle must be of the app installed in the namespace: the bundle is
    // checked against it before anything is extracted or pushed.
    let mut early = None;
    let mut expect_app = None;
    if signed_source && mode == Some(Mode::Upgrade) {
        let (cluster, ns) = step(&*sink, Step::Connect, target.connect()).await?;
        expect_app = installed_app(&cluster, &ns).await?;
        early = Some((cluster, ns));
    }
    let signed = match &input.airgap {
        Some(f) if f.signed_source() => step_sync(&*sink, Step::VerifyBundle, || {
            airgap::open_signed(f, expect_app.as_deref())
        })?,
        _ => None,
    };
    let app_dir = app_source(input, signed.as_ref(), &*sink);
    // Config problems are reported before touching the network. (Rendering waits for the
    // cluster: templates may read it with `lookup`.)
    let app = step_sync(&*sink, Step::Resolve, || {
        resolve(&app_dir, &input.config, None).map(|r| r.0.app.metadata.name)
    })?;
    if let Some(s) = &signed
        && s.release.meta.app != app
    {
        return Err(Error::BadInput(format!(
            "--app-dir {} holds app {app:?}, but {} is a release of {:?}",
            app_dir.display(),
            s.source.display(),
            s.release.meta.app
        )));
    }
    cancel.check()?;
    let (cluster, namespace) = match early {
        Some(c) => c,
        None => step(&*sink, Step::Connect, target.connect()).await?,
    };
    let probe = target.engine(cluster.clone(), &namespace, Arc::new(Discard), |_| {});
    let history = probe.revisions(&app).await?;
    let current = history.iter().rev().find(|r| r.status == Status::Deployed);
    let previous_config = history.last().map(|r| r.config.clone());
    let render = step(&*sink, Step::Render, async {
        let mut live = live_render_options(&probe, &history, current.is_some()).await?;
        live.license = input.license.as_ref().map(|l| l.template.clone());
        live.post_renderer = input.post_renderer.clone();
        live.chart_cache = input.chart_cache.clone();
        prepare_input(
            &app_dir,
            &input.config,
            Some(&namespace),
            previous_config.as_ref(),
            live,
        )
    });
    let mut prepared = render.await?;
    for plan in &prepared.exposed {
        sink.event(Event::Exposed {
            summary: format!("expose {}", plan.summary()),
        });
    }
    if let Some(s) = &signed
        && input.app_dir.is_none()
    {
        // The version the vendor signed is the one installed and checked by the policy.
        prepared.release.version = s.release.meta.version.clone();
    }
    if let Some(l) = &input.license {
        // The license and its entitlements, readable by the app (docs/formats/license.md).
        prepared.release.objects.insert(
            0,
            berth_deploy::object::Manifest::new(
                l.secret(&namespace),
                "berth: license (berth install --license)",
            ),
        );
    }
    if mode == Some(Mode::Upgrade) {
        let Some(current) = current else {
            return Err(Error::NotInstalled(
                not_installed(&cluster, &app, &namespace, false).await,
            ));
        };
        // The upgrade policy is checked before a bundle's images are pushed.
        step(&*sink, Step::Policy, async {
            let kube = cluster.server_version().await.ok();
            let refusals = berth_deploy::policy::check_upgrade(
                &current.version,
                &prepared.release.version,
                kube.as_deref(),
                &prepared.release.policy,
            );
            if refusals.is_empty() {
                Ok(())
            } else {
                Err(Error::BadInput(DeployError::Refused(refusals).to_string()))
            }
        })
        .await?;
    }
    warn_deprecated_apis(&cluster, &prepared.release.objects, &*sink).await;
    cancel.check()?;
    let push_dry = input.dry_run || mode.is_none();
    let relocation = relocation(
        input,
        signed.as_ref(),
        current,
        &history,
        &namespace,
        push_dry,
        &*sink,
    )
    .await?;
    if let Some(r) = &relocation {
        sink.event(Event::Relocated {
            summary: r.summary.clone(),
        });
        r.apply(&mut prepared.release.objects)?;
    }
    let record = relocation.as_ref().map(|r| r.record.clone());
    let engine = target.engine(cluster.clone(), &namespace, sink.clone(), |o| {
        o.force_conflicts = input.force_conflicts;
        o.concurrency = input.concurrency.max(1);
        o.rollback_on_failure = input.rollback_on_failure;
        o.validate = input.validate;
        o.registry = record;
        o.baseline_host = input.host_baseline;
        if let Some(f) = input.fail_fast {
            o.fail_fast = Some(f);
        }
        if let Some(p) = input.wait_poll_max {
            o.wait_poll_max = p;
        }
    });
    let Some(mode) = mode else {
        let plan = step(&*sink, Step::Plan, engine.diff(&prepared.release)).await?;
        return Ok(Applied::Plan(plan));
    };
    let res = step(
        &*sink,
        Step::Deploy,
        until_cancelled(
            &engine,
            cancel,
            engine.deploy(prepared.release, mode, input.dry_run),
        ),
    )
    .await;
    let report = locate(&cluster, res, false).await?;
    if !input.dry_run {
        keep_schedule_current(&engine, &cluster, &namespace, &app, &*sink).await;
    }
    Ok(Applied::Report(report))
}

/// After an install, upgrade or rollback: the app's snapshot schedule, if it has one, gets the
/// rights to read the kinds of the revision deployed now (docs/formats/snapshot.md, section
/// 14). A failure here does not fail the deploy: it is a warning naming the fix.
async fn keep_schedule_current(
    engine: &Engine,
    cluster: &Cluster,
    ns: &str,
    app: &str,
    sink: &dyn Sink,
) {
    let Ok(revs) = engine.revisions(app).await else {
        return;
    };
    let Some(rev) = revs.iter().rev().find(|r| r.status == Status::Deployed) else {
        return;
    };
    if let Err(e) = crate::snapshot::schedule::follow_revision(cluster, ns, app, rev, sink).await {
        sink.event(Event::Warning {
            message: format!(
                "the Role of {app}'s snapshot schedule could not be updated for revision {} ({e}); scheduled snapshots may leave out the kinds it added until `berth snapshot schedule -n {ns} …` runs again",
                rev.number
            ),
        });
    }
}

/// The registry the images come from: the bundle's (pushed now unless `dry_run`), or the one
/// recorded by an earlier air-gapped install (unless `no_relocate`).
async fn relocation(
    input: &ApplyInput,
    signed: Option<&Signed>,
    current: Option<&Revision>,
    history: &[Revision],
    namespace: &str,
    dry_run: bool,
    sink: &dyn Sink,
) -> Result<Option<Relocation>> {
    if let (Some(s), Some(f)) = (signed, &input.airgap) {
        let pushing = s.from_bundle() && !dry_run;
        let r = if pushing {
            step(
                sink,
                Step::PushImages,
                airgap::relocate_signed(f, s, namespace, dry_run, sink),
            )
            .await?
        } else {
            airgap::relocate_signed(f, s, namespace, dry_run, sink).await?
        };
        return Ok(Some(r));
    }
    if input.no_relocate {
        return Ok(None);
    }
    let recorded = current
        .or(history.last())
        .and_then(|r| r.registry.as_ref().map(|rec| (rec, &r.objects)));
    match recorded {
        Some((rec, objects)) => Ok(Some(Relocation::from_record(rec, objects)?)),
        None => Ok(None),
    }
}

/// Run `fut` (an engine operation); once `cancel` is set, the engine is asked to stop at its
/// next safe point (it records the revision as interrupted and releases the lock).
async fn until_cancelled<T>(
    engine: &Engine,
    cancel: &Cancel,
    fut: impl std::future::Future<Output = T>,
) -> T {
    let flag = engine.interrupt_flag();
    tokio::pin!(fut);
    tokio::select! {
        r = &mut fut => return r,
        () = cancel.cancelled() => flag.store(true, std::sync::atomic::Ordering::SeqCst),
    }
    fut.await
}

/// Return to an earlier revision (`None`: the previous successful one).
pub async fn rollback(
    target: &Target,
    app: &str,
    revision: Option<u32>,
    dry_run: bool,
    sink: Arc<dyn Sink>,
    cancel: &Cancel,
) -> Result<Report> {
    let (cluster, ns) = target.connect().await?;
    let engine = target.engine(cluster.clone(), &ns, sink.clone(), |_| {});
    let res = step(
        &*sink,
        Step::Deploy,
        until_cancelled(&engine, cancel, engine.rollback(app, revision, dry_run)),
    )
    .await;
    let report = locate(&cluster, res, false).await?;
    if !dry_run {
        keep_schedule_current(&engine, &cluster, &ns, app, &*sink).await;
    }
    Ok(report)
}

/// Remove the app; PersistentVolumeClaims only with `delete_data` (CRDs and objects marked
/// `berth.dev/keep` always stay).
pub async fn uninstall(
    target: &Target,
    app: &str,
    delete_data: bool,
    dry_run: bool,
    sink: Arc<dyn Sink>,
) -> Result<Report> {
    let (cluster, ns) = target.connect().await?;
    let engine = target.engine(cluster.clone(), &ns, sink.clone(), |o| {
        o.delete_data = delete_data
    });
    let res = step(&*sink, Step::Deploy, engine.uninstall(app, dry_run)).await;
    locate(&cluster, res, true).await
}

/// The app's version, revision, readiness of every object and the last failure.
pub async fn status(target: &Target, app: &str) -> Result<StatusReport> {
    let (cluster, ns) = target.connect().await?;
    let engine = target.engine(cluster.clone(), &ns, Arc::new(Discard), |_| {});
    let res = engine.status(app).await;
    locate(&cluster, res, false).await
}

/// The app's revisions, oldest first; not installed when it has none.
pub async fn history(target: &Target, app: &str) -> Result<Vec<HistoryEntry>> {
    let (cluster, ns) = target.connect().await?;
    let engine = target.engine(cluster.clone(), &ns, Arc::new(Discard), |_| {});
    let h = engine.history(app).await?;
    if h.is_empty() {
        return Err(Error::NotInstalled(
            not_installed(&cluster, app, &ns, false).await,
        ));
    }
    Ok(h)
}

/// What changed from revision `from` to revision `to` (objects created, updated with their
/// fields, removed); Secret values are redacted.
pub async fn revision_diff(target: &Target, app: &str, from: u32, to: u32) -> Result<Plan> {
    let (cluster, ns) = target.connect().await?;
    let engine = target.engine(cluster.clone(), &ns, Arc::new(Discard), |_| {});
    let revs = engine.revisions(app).await?;
    if revs.is_empty() {
        return Err(Error::NotInstalled(
            not_installed(&cluster, app, &ns, false).await,
        ));
    }
    let pick = |n: u32| {
        revs.iter().find(|r| r.number == n).ok_or_else(|| {
            let known: Vec<String> = revs.iter().map(|r| r.number.to_string()).collect();
            Error::BadInput(format!(
                "{app} has no revision {n} in namespace {ns}; its revisions are {}",
                known.join(", ")
            ))
        })
    };
    Ok(diff_revisions(pick(from)?, pick(to)?))
}

/// The plan that turns `from`'s objects into `to`'s (pure).
pub fn diff_revisions(from: &Revision, to: &Revision) -> Plan {
    let old: Vec<Value> = from.objects.iter().map(|m| m.object.clone()).collect();
    let live = old
        .iter()
        .map(|v| (berth_deploy::plan::key_of(v), v.clone()))
        .collect();
    berth_deploy::plan::plan(&to.objects, &live, &old, &to.app)
}

/// The app's name from an argument that is a directory (holding berth.yaml) or a name.
pub fn app_name(arg: &str) -> Result<String> {
    let p = Path::new(arg);
    if p.join("berth.yaml").is_file() {
        let loaded = berth_spec::load(p).map_err(Error::other)?;
        return Ok(loaded.app.metadata.name.clone());
    }
    if arg == "." {
        return Err(Error::Failed(
            "no berth.yaml in the current directory; name the app (e.g. `berth status hello`)"
                .into(),
        ));
    }
    Ok(arg.to_string())
}

/// The "not installed" message, saying where the app is installed when it is elsewhere
/// (following "run berth install" there would make a second copy).
pub async fn not_installed(
    cluster: &Cluster,
    app: &str,
    namespace: &str,
    uninstall: bool,
) -> String {
    let selector = format!(
        "{}={app},{}=revision",
        berth_deploy::object::LABEL_APP,
        berth_deploy::object::LABEL_KIND
    );
    // Listing every namespace may be forbidden; then only the plain message is given.
    let elsewhere: BTreeSet<String> = cluster
        .list("v1", "Secret", "", Some(&selector))
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.pointer("/metadata/namespace").and_then(Value::as_str))
        .filter(|ns| *ns != namespace)
        .map(str::to_string)
        .collect();
    match elsewhere.len() {
        0 if uninstall => {
            format!("{app} is not installed in namespace {namespace}; nothing to uninstall")
        }
        0 => format!(
            "{app} is not installed in namespace {namespace}; install it with `berth install`"
        ),
        1 => {
            let ns = elsewhere
                .iter()
                .next()
                .map(String::as_str)
                .unwrap_or_default();
            format!(
                "{app} is not installed in namespace {namespace}; {app} is installed in namespace {ns}; pass -n {ns}"
            )
        }
        _ => format!(
            "{app} is not installed in namespace {namespace}; it is installed in namespaces {}; pass -n with one of them",
            elsewhere.into_iter().collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Turn "not installed" into a message that says where the app is.
async fn locate<T>(
    cluster: &Cluster,
    res: std::result::Result<T, DeployError>,
    uninstall: bool,
) -> Result<T> {
    match res {
        Err(DeployError::NotInstalled { app, namespace }) => Err(Error::NotInstalled(
            not_installed(cluster, &app, &namespace, uninstall).await,
        )),
        Err(e) => Err(e.into()),
        Ok(v) => Ok(v),
    }
}

/// The one app with revisions in `namespace`, if exactly one is installed there.
async fn installed_app(cluster: &Cluster, namespace: &str) -> Result<Option<String>> {
    let selector = format!("{}=revision", berth_deploy::object::LABEL_KIND);
    let apps: BTreeSet<String> = cluster
        .list("v1", "Secret", namespace, Some(&selector))
        .await?
        .iter()
        .filter_map(|s| berth_deploy::object::label(s, berth_deploy::object::LABEL_APP))
        .map(str::to_string)
        .collect();
    Ok(if apps.len() == 1 {
        apps.into_iter().next()
    } else {
        None
    })
}

/// Before anything is applied: a warning for each object whose apiVersion the live cluster's
/// Kubernetes release has deprecated (still served; a removed one fails at apply with its
/// replacement named). Nothing when the server's version cannot be read.
async fn warn_deprecated_apis(cluster: &Cluster, objects: &[Manifest], sink: &dyn Sink) {
    let Ok(version) = cluster.server_version().await else {
        return;
    };
    let Some(minor) = berth_spec::deprecations::minor_of(&version) else {
        return;
    };
    for w in berth_deploy::diagnose::deprecated_apis(objects, minor) {
        sink.event(Event::Warning {
            message: format!("Kubernetes {version}: {w}"),
        });
    }
}
