//! `berth install|upgrade|diff|rollback|status|history|uninstall`: wiring of `berth-deploy`.
//! Loads `berth.yaml` (berth-spec), resolves the customer's config, renders every component
//! (berth-render), then hands the objects to the deploy engine. Exit codes: crate::exit.

use crate::output::{self, Format};
use anyhow::{Context as _, Result, anyhow};
use berth_deploy::engine::{
    DeployError, Event, Mode, Options, Outcome, Progress, Quiet, Release, Report,
};
use berth_deploy::object::{Manifest, set_annotation};
use berth_deploy::order::ANNOTATION_WEIGHT;
use berth_deploy::policy::UpgradePolicy;
use berth_deploy::{Cluster, ConnectOptions, Engine};
use berth_spec::config::ResolvedConfig;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Exit code: the operation failed.
const FAILED: u8 = 1;
/// Exit code: bad input.
const BAD_INPUT: u8 = 2;

/// Cluster connection and engine flags shared by every deploy command.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// Path to the kubeconfig (default: $KUBECONFIG, ~/.kube/config, then in-cluster config).
    #[arg(long, value_name = "PATH", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Namespace of the app (its revisions and lock live here). Default: the namespace of the
    /// kubeconfig's current context (as kubectl and Helm), else `default`.
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// How long to wait for readiness and for a held lock (30s, 5m, 1h).
    #[arg(long, default_value = "5m", value_parser = parse_duration, global = true)]
    pub timeout: Duration,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "table", global = true)]
    pub output: Format,
}

/// Flags of commands that change objects.
#[derive(clap::Args, Debug, Clone)]
pub struct ApplyFlags {
    /// The app directory (holding berth.yaml; default: the current directory). Not with
    /// --airgap-bundle or --release, whose signed app files are installed.
    pub app_dir: Option<PathBuf>,
    /// Render this app directory instead of the signed app files of --airgap-bundle or
    /// --release (development only: the install is then not the one the vendor signed).
    #[arg(long = "app-dir", value_name = "DIR", conflicts_with = "app_dir")]
    pub dev_app_dir: Option<PathBuf>,
    /// Config values (a YAML mapping of config item names to values); repeatable, later
    /// files win.
    #[arg(
        long = "config",
        short = 'f',
        visible_alias = "values",
        value_name = "FILE"
    )]
    pub config: Vec<PathBuf>,
    /// Set a config item (ITEM=VALUE; several as a,b), after the files, parsed as Helm's --set.
    #[arg(long, value_name = "ITEM=VALUE")]
    pub set: Vec<String>,
    /// Set a config item to a string (ITEM=VALUE), as Helm's --set-string.
    #[arg(long, value_name = "ITEM=VALUE")]
    pub set_string: Vec<String>,
    /// Set a config item to a file's contents (ITEM=PATH), as Helm's --set-file.
    #[arg(long, value_name = "ITEM=PATH")]
    pub set_file: Vec<String>,
    /// Pull images from the vendor's registries again: drop the private registry recorded
    /// by an earlier air-gapped install.
    #[arg(long)]
    pub no_relocate: bool,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Take over fields that another field manager owns (server-side apply conflicts).
    #[arg(long)]
    pub force_conflicts: bool,
    /// Objects applied at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Skip the server-side validation (dry-run apply) of changed objects before the first change.
    #[arg(long)]
    pub no_validate: bool,
}

/// `berth install`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  berth install examples/hello --config values.yaml -n hello\n  berth install examples/hello --dry-run\n  berth install --airgap-bundle hello-1.0.0.bundle --pubkey vendor.pub \\\n    --registry registry.corp:5000/hello -n hello --config values.yaml\n  berth install --license acme.license.yaml -n hello --version 1.0.0\n\nAn air-gapped install renders the app files signed in the bundle (no app directory) and \
records the registry: later installs, upgrades, diffs and rollbacks keep using it (--no-relocate goes back to the vendor's registries). Re-running the same install changes nothing. An install that was interrupted (killed, \
lost connection) is repaired by running it again."
)]
pub struct InstallArgs {
    #[command(flatten)]
    apply: ApplyFlags,
    #[command(flatten)]
    airgap: crate::cmd::airgap::AirgapFlags,
    #[command(flatten)]
    online: crate::cmd::online::InstallOnline,
    #[command(flatten)]
    common: Common,
}

/// `berth upgrade`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  berth upgrade ./hello-1.1.0 --config values.yaml -n hello\n  berth upgrade -n hello --latest\n\nThe upgrade policy of berth.yaml (minimum version, required releases, supported Kubernetes) is \
checked before anything changes. A failed upgrade rolls back to the previous revision unless \
--no-rollback is given."
)]
pub struct UpgradeArgs {
    #[command(flatten)]
    apply: ApplyFlags,
    /// Keep the failed state for debugging instead of rolling back.
    #[arg(long)]
    no_rollback: bool,
    #[command(flatten)]
    airgap: crate::cmd::airgap::AirgapFlags,
    #[command(flatten)]
    online: crate::cmd::online::UpgradeOnline,
    #[command(flatten)]
    common: Common,
}

/// `berth diff`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  berth diff ./hello-1.1.0 --config values.yaml -n hello")]
pub struct DiffArgs {
    #[command(flatten)]
    apply: ApplyFlags,
    #[command(flatten)]
    common: Common,
}

/// `berth rollback`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  berth rollback hello        # to the previous successful revision\n  berth rollback hello 3      # to revision 3 (see `berth history hello`)"
)]
pub struct RollbackArgs {
    /// The app: its name, or its directory (holding berth.yaml).
    #[arg(default_value = ".")]
    app: String,
    /// The revision to return to (default: the previous successful one).
    revision: Option<u32>,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    common: Common,
}

/// `berth status`, `berth history`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  berth status hello -n hello\n  berth history hello -o json")]
pub struct AppArgs {
    /// The app: its name, or its directory (holding berth.yaml).
    #[arg(default_value = ".")]
    app: String,
    #[command(flatten)]
    common: Common,
}

/// `berth uninstall`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  berth uninstall hello -n hello\n  berth uninstall hello --delete-data   # PersistentVolumeClaims too\n\nCustomResourceDefinitions and \
objects annotated berth.dev/keep: \"true\" are always kept."
)]
pub struct UninstallArgs {
    /// The app: its name, or its directory (holding berth.yaml).
    #[arg(default_value = ".")]
    app: String,
    /// Delete PersistentVolumeClaims (the app's data) too.
    #[arg(long)]
    delete_data: bool,
    /// Print what would be deleted and change nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    common: Common,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (examples: 30s, 5m, 1h)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{s:?} is not a duration (examples: 30s, 5m, 1h)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Draws engine progress on a terminal (stderr); silent in pipes and with `-o json|yaml`.
pub struct TermProgress {
    bar: Option<ProgressBar>,
}

impl TermProgress {
    /// A spinner when stderr is a terminal and the output is a table.
    pub fn new(format: Format) -> TermProgress {
        let bar = (format == Format::Table && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        TermProgress { bar }
    }

    /// Remove the spinner.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for TermProgress {
    fn event(&self, e: Event) {
        let Some(b) = &self.bar else {
            // Notes (waiting for a lock, repairs) matter in logs and pipes too.
            if let Event::Note(n) = e {
                eprintln!("note: {n}");
            }
            return;
        };
        match e {
            Event::Phase(p) => b.set_message(p),
            Event::Object { .. } => {}
            Event::Waiting {
                ready,
                total,
                waiting,
            } => {
                let first = waiting
                    .first()
                    .map(|(r, why)| format!(" — waiting for {r}: {why}"))
                    .unwrap_or_default();
                b.set_message(format!("{ready}/{total} ready{first}"));
            }
            Event::Note(n) => b.println(format!("note: {n}")),
        }
    }
}

/// Everything a deploy command needs: the engine and the cluster it talks to.
struct Ctx {
    engine: Engine,
    cluster: Arc<Cluster>,
    namespace: String,
    progress: Arc<TermProgress>,
}

/// Connect, and pick the namespace: `-n`, else the kubeconfig context's (as kubectl).
pub(crate) async fn connect_cluster(common: &Common) -> Result<(Arc<Cluster>, String)> {
    let cluster = Cluster::connect(&ConnectOptions {
        kubeconfig: common.kubeconfig.clone(),
        context: common.context.clone(),
    })
    .await?;
    let namespace = common
        .namespace
        .clone()
        .unwrap_or_else(|| cluster.client().default_namespace().to_string());
    Ok((Arc::new(cluster), namespace))
}

fn engine_for(
    cluster: Arc<Cluster>,
    namespace: String,
    common: &Common,
    tune: impl FnOnce(&mut Options),
) -> Ctx {
    let mut opts = Options {
        namespace: namespace.clone(),
        timeout: common.timeout,
        ..Options::default()
    };
    tune(&mut opts);
    let progress = Arc::new(TermProgress::new(common.output));
    Ctx {
        engine: Engine::new(cluster.clone(), opts, progress.clone() as Arc<dyn Progress>),
        cluster,
        namespace,
        progress,
    }
}

async fn connect(common: &Common, tune: impl FnOnce(&mut Options)) -> Result<Ctx> {
    let (cluster, namespace) = connect_cluster(common).await?;
    Ok(engine_for(cluster, namespace, common, tune))
}

/// The "not installed" message, saying where the app is installed when it is elsewhere
/// (following "run berth install" there would make a second copy).
async fn not_installed(cluster: &Cluster, app: &str, namespace: &str, uninstall: bool) -> String {
    let selector = format!(
        "{}={app},{}=revision",
        berth_deploy::object::LABEL_APP,
        berth_deploy::object::LABEL_KIND
    );
    // Listing every namespace may be forbidden; then only the plain message is given.
    let elsewhere: std::collections::BTreeSet<String> = cluster
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
    ctx: &Ctx,
    res: std::result::Result<T, DeployError>,
    uninstall: bool,
) -> Result<std::result::Result<T, DeployError>> {
    match res {
        Err(DeployError::NotInstalled { app, namespace }) => Err(crate::exit::NotInstalled(
            not_installed(&ctx.cluster, &app, &namespace, uninstall).await,
        )
        .into()),
        other => Ok(other),
    }
}

/// The one app with revisions in `namespace`, if exactly one is installed there.
async fn installed_app(cluster: &Cluster, namespace: &str) -> Result<Option<String>> {
    let selector = format!("{}=revision", berth_deploy::object::LABEL_KIND);
    let apps: std::collections::BTreeSet<String> = cluster
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

/// The app's name from an argument that is a directory (holding berth.yaml) or a name.
fn app_name(arg: &str) -> Result<String> {
    let p = Path::new(arg);
    if p.join("berth.yaml").is_file() {
        let loaded = berth_spec::load(p)?;
        return Ok(loaded.app.metadata.name.clone());
    }
    if arg == "." {
        return Err(anyhow!(
            "no berth.yaml in the current directory; name the app (e.g. `berth status hello`)"
        ));
    }
    Ok(arg.to_string())
}

/// Rendered release, ready for the engine.
pub struct Prepared {
    /// What to deploy.
    pub release: Release,
}

pub use crate::exit::BadInput;

/// The customer's config input: the merged files, then `--set*`, and a label for messages.
pub struct ConfigInput {
    values: BTreeMap<String, Value>,
    label: String,
}

/// Read `-f/--config/--values` files (later ones win), then apply `--set`, `--set-string`
/// and `--set-file` with Helm's parsing.
fn config_input(a: &ApplyFlags) -> Result<ConfigInput> {
    let mut values = BTreeMap::new();
    for f in &a.config {
        let text = std::fs::read_to_string(f)
            .map_err(|e| BadInput(format!("cannot read config file {}: {e}", f.display())))?;
        let v = berth_spec::config::parse_values(&text)
            .map_err(|e| BadInput(format!("{}: {e}", f.display())))?;
        values.extend(v);
    }
    let mut map: serde_json::Map<String, Value> = values.into_iter().collect();
    let no_files =
        |_: &str| -> std::result::Result<String, String> { Err("not a file expression".into()) };
    let read = |p: &str| -> std::result::Result<String, String> {
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {p}: {e}"))
    };
    for (flag, exprs, kind) in [
        ("--set", &a.set, berth_chart::SetKind::Typed),
        ("--set-string", &a.set_string, berth_chart::SetKind::String),
        ("--set-file", &a.set_file, berth_chart::SetKind::File),
    ] {
        let reader: &dyn Fn(&str) -> std::result::Result<String, String> =
            if kind == berth_chart::SetKind::File {
                &read
            } else {
                &no_files
            };
        for e in exprs {
            berth_chart::parse_set_into(e, &mut map, kind, reader)
                .map_err(|m| BadInput(format!("{flag} {e}: {m}")))?;
        }
    }
    let mut sources: Vec<String> = a.config.iter().map(|f| f.display().to_string()).collect();
    if !(a.set.is_empty() && a.set_string.is_empty() && a.set_file.is_empty()) {
        sources.push("--set".into());
    }
    Ok(ConfigInput {
        values: map.into_iter().collect(),
        label: if sources.is_empty() {
            "config".into()
        } else {
            sources.join(" + ")
        },
    })
}

/// Load berth.yaml, resolve config (keeping generated values of `previous`), render.
pub fn prepare(
    app_dir: &Path,
    config_file: Option<&Path>,
    namespace: Option<&str>,
    previous: Option<&Value>,
    render: berth_render::AppRenderOptions,
) -> Result<Prepared> {
    let input = match config_file {
        None => ConfigInput {
            values: BTreeMap::new(),
            label: "config".into(),
        },
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| BadInput(format!("cannot read config file {}: {e}", f.display())))?;
            ConfigInput {
                values: berth_spec::config::parse_values(&text)
                    .map_err(|e| BadInput(format!("{}: {e}", f.display())))?,
                label: f.display().to_string(),
            }
        }
    };
    prepare_input(app_dir, &input, namespace, previous, render)
}

/// Load berth.yaml and resolve the config input (keeping generated values of `previous`):
/// every problem the user can fix before berth touches the network.
fn resolve_input(
    app_dir: &Path,
    config: &ConfigInput,
    previous: Option<&Value>,
) -> Result<(berth_spec::LoadedApp, ResolvedConfig)> {
    let loaded = berth_spec::load(app_dir).map_err(|e| BadInput(e.to_string()))?;
    let prev: Option<ResolvedConfig> =
        previous.and_then(|v| serde_json::from_value(v.clone()).ok());
    let resolved = berth_spec::config::resolve(
        &loaded.app,
        &config.values,
        prev.as_ref(),
        &mut berth_spec::config::generate_value,
    )
    .map_err(|problems| {
        BadInput(format!(
            "{} has {} problem(s):\n{}",
            config.label,
            problems.len(),
            problems
                .iter()
                .map(|p| format!("  - {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        ))
    })?;
    Ok((loaded, resolved))
}

/// [`prepare`] with config input already read.
fn prepare_input(
    app_dir: &Path,
    config: &ConfigInput,
    namespace: Option<&str>,
    previous: Option<&Value>,
    render: berth_render::AppRenderOptions,
) -> Result<Prepared> {
    let (loaded, resolved) = resolve_input(app_dir, config, previous)?;
    let app = &loaded.app;
    let namespace = namespace
        .map(str::to_string)
        .unwrap_or_else(|| app.metadata.name.clone());
    let opts = berth_render::AppRenderOptions {
        namespace: namespace.clone(),
        revision: render.revision.max(1),
        ..render
    };
    let comps =
        berth_render::render_app(&loaded, &resolved, &opts).map_err(|e| BadInput(e.to_string()))?;
    let mut objects = Vec::new();
    for c in comps {
        for o in c.objects {
            let mut m = Manifest::new(o.object, o.source);
            if m.object.pointer("/metadata/namespace").is_none()
                && let Some(meta) = m.object.get_mut("metadata").and_then(Value::as_object_mut)
            {
                meta.insert("namespace".into(), json!(c.namespace));
            }
            if c.weight != 0 && m.annotation(ANNOTATION_WEIGHT).is_none() {
                set_annotation(&mut m.object, ANNOTATION_WEIGHT, &c.weight.to_string());
            }
            objects.push(m);
        }
    }
    let policy = UpgradePolicy {
        min_upgrade_from: app
            .spec
            .upgrades
            .as_ref()
            .and_then(|u| u.minimum_version.clone()),
        required_releases: app
            .spec
            .upgrades
            .as_ref()
            .map(|u| u.required.clone())
            .unwrap_or_default(),
        kubernetes: app
            .spec
            .compatibility
            .as_ref()
            .and_then(|c| c.kubernetes.clone()),
    };
    Ok(Prepared {
        release: Release {
            app: app.metadata.name.clone(),
            version: app
                .metadata
                .version
                .clone()
                .unwrap_or_else(|| "0.0.0".into()),
            objects,
            config: serde_json::to_value(&resolved).unwrap_or(Value::Null),
            policy,
        },
    })
}

/// What templates see of the live cluster on install, upgrade and diff (as `helm install`):
/// the revision being written, the server's version and API versions, and `lookup`.
async fn live_render_options(
    engine: &Engine,
    history: &[berth_deploy::inventory::Revision],
    is_upgrade: bool,
) -> Result<berth_render::AppRenderOptions> {
    let cluster = engine.cluster();
    Ok(berth_render::AppRenderOptions {
        revision: i64::from(history.iter().map(|r| r.number).max().unwrap_or(0)) + 1,
        is_upgrade,
        kube_version: Some(cluster.git_version().await?),
        live_api_versions: Some(cluster.api_versions().await?),
        lookup: Some(cluster.template_lookup()),
        ..Default::default()
    })
}

/// The first Ctrl-C asks the engine to stop at its next safe point (it records the revision
/// as interrupted and releases the lock); a second one exits at once.
async fn stop_on_ctrl_c(flag: Arc<std::sync::atomic::AtomicBool>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    flag.store(true, std::sync::atomic::Ordering::SeqCst);
    eprintln!(
        "\ninterrupted: stopping at the next safe point, recording the revision as interrupted and releasing the lock (Ctrl-C again exits at once; running the same command again repairs either way)"
    );
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!(
            "interrupted again: exiting now; the revision stays pending and the lock expires, and running the same command again repairs both"
        );
        std::process::exit(130);
    }
}

/// Run one deploy-family operation and return its exit code.
pub(crate) async fn apply_op(
    apply: ApplyFlags,
    common: Common,
    mode: Option<Mode>,
    no_rollback: bool,
    airgap: Option<crate::cmd::airgap::AirgapFlags>,
) -> Result<u8> {
    let input = config_input(&apply)?;
    let signed_source = airgap.as_ref().is_some_and(|f| f.signed_source());
    check_sources(&apply, airgap.as_ref())?;
    // An upgrade from a bundle must be of the app installed in the namespace: the bundle is
    // checked against it before anything is extracted or pushed.
    let mut early = None;
    let mut expect_app = None;
    if signed_source && mode == Some(Mode::Upgrade) {
        let (cluster, ns) = connect_cluster(&common).await?;
        expect_app = installed_app(&cluster, &ns).await?;
        early = Some((cluster, ns));
    }
    let signed = match &airgap {
        Some(f) => crate::cmd::airgap::open_signed(f, expect_app.as_deref())?,
        None => None,
    };
    let app_dir = match (&signed, &apply.dev_app_dir, &apply.app_dir) {
        (Some(s), Some(dev), _) => {
            eprintln!(
                "warning: rendering {} (--app-dir) instead of the app files signed in {}: this install is NOT the one the vendor signed",
                dev.display(),
                s.source.display()
            );
            dev.clone()
        }
        (Some(s), None, _) => s.app_dir.clone(),
        (None, Some(d), _) | (None, None, Some(d)) => d.clone(),
        (None, None, None) => PathBuf::from("."),
    };
    // Config problems are reported before touching the network. (Rendering waits for the
    // cluster: templates may read it with `lookup`.)
    let app = resolve_input(&app_dir, &input, None)?.0.app.metadata.name;
    if let Some(s) = &signed
        && s.release.meta.app != app
    {
        return Err(BadInput(format!(
            "--app-dir {} holds app {app:?}, but {} is a release of {:?}",
            app_dir.display(),
            s.source.display(),
            s.release.meta.app
        ))
        .into());
    }
    let (cluster, namespace) = match early {
        Some(c) => c,
        None => connect_cluster(&common).await?,
    };
    let probe = engine_for(cluster.clone(), namespace.clone(), &common, |_| {});
    let history = probe.engine.revisions(&app).await?;
    let current = history
        .iter()
        .rev()
        .find(|r| r.status == berth_deploy::inventory::Status::Deployed);
    let previous_config = history.last().map(|r| r.config.clone());
    let is_upgrade = current.is_some();
    let mut live = live_render_options(&probe.engine, &history, is_upgrade).await?;
    let licensed = airgap.as_ref().and_then(|f| f.license.clone());
    if let Some(l) = &licensed {
        live.license = Some(l.template.clone());
    }
    let mut prepared = prepare_input(
        &app_dir,
        &input,
        Some(&namespace),
        previous_config.as_ref(),
        live,
    )?;
    if let Some(s) = &signed
        && apply.dev_app_dir.is_none()
    {
        // The version the vendor signed is the one installed and checked by the policy.
        prepared.release.version = s.release.meta.version.clone();
    }
    if let Some(l) = &licensed {
        // The license and its entitlements, readable by the app (docs/vendor-server.md).
        prepared.release.objects.insert(
            0,
            Manifest::new(
                l.secret(&namespace),
                "berth: license (berth install --license)",
            ),
        );
    }
    if mode == Some(Mode::Upgrade) {
        let Some(current) = current else {
            return Err(crate::exit::NotInstalled(
                not_installed(&cluster, &app, &namespace, false).await,
            )
            .into());
        };
        // The upgrade policy is checked before a bundle's images are pushed.
        let kube = cluster.server_version().await.ok();
        let refusals = berth_deploy::policy::check_upgrade(
            &current.version,
            &prepared.release.version,
            kube.as_deref(),
            &prepared.release.policy,
        );
        if !refusals.is_empty() {
            return Err(BadInput(DeployError::Refused(refusals).to_string()).into());
        }
    }
    // The registry: the bundle's (pushed now), or the one recorded by an air-gapped install.
    let recorded = current
        .or(history.last())
        .and_then(|r| r.registry.as_ref().map(|rec| (rec, &r.objects)));
    let relocation = match (&signed, &airgap) {
        (Some(s), Some(f)) => Some(
            crate::cmd::airgap::relocate_signed(f, s, &namespace, apply.dry_run || mode.is_none())
                .await?,
        ),
        _ if apply.no_relocate => None,
        _ => match recorded {
            Some((rec, objects)) => {
                Some(crate::cmd::airgap::Relocation::from_record(rec, objects)?)
            }
            None => None,
        },
    };
    if let Some(r) = &relocation {
        if common.output == Format::Table {
            eprintln!("{}", r.summary);
        }
        r.apply(&mut prepared.release.objects)?;
    }
    let record = relocation.as_ref().map(|r| r.record.clone());
    let ctx = engine_for(cluster, namespace, &common, |o| {
        o.force_conflicts = apply.force_conflicts;
        o.concurrency = apply.concurrency.max(1);
        o.rollback_on_failure = !no_rollback;
        o.validate = !apply.no_validate;
        o.registry = record;
    });
    let res = match mode {
        None => {
            let plan = ctx.engine.diff(&prepared.release).await;
            ctx.progress.finish();
            let plan = plan?;
            if common.output == Format::Table {
                print!("{}", plan.render());
            } else {
                output::print_structured(&serde_json::to_value(&plan)?, common.output)?;
            }
            return Ok(0);
        }
        Some(mode) => {
            let on_ctrl_c = tokio::spawn(stop_on_ctrl_c(ctx.engine.interrupt_flag()));
            let res = ctx
                .engine
                .deploy(prepared.release, mode, apply.dry_run)
                .await;
            on_ctrl_c.abort();
            res
        }
    };
    ctx.progress.finish();
    let res = locate(&ctx, res, false).await?;
    finish(res, common.output)
}

/// Where the app comes from: a bundle or release excludes a positional app directory
/// (only `--app-dir`, for development, may replace the signed files); --no-relocate
/// excludes a registry.
fn check_sources(
    apply: &ApplyFlags,
    airgap: Option<&crate::cmd::airgap::AirgapFlags>,
) -> Result<()> {
    let signed = airgap.is_some_and(|f| f.signed_source());
    if signed && let Some(d) = &apply.app_dir {
        return Err(BadInput(format!(
            "both an app directory ({}) and --airgap-bundle/--release were given: an air-gapped install renders the app files signed in the bundle, so drop the directory \
(to render a local directory anyway, for development, name it with --app-dir)",
            d.display()
        ))
        .into());
    }
    if !signed && apply.dev_app_dir.is_some() && apply.app_dir.is_some() {
        return Err(
            BadInput("give the app directory once (positional or --app-dir)".into()).into(),
        );
    }
    if let Some(f) = airgap {
        if f.registry.is_some() && !signed {
            return Err(BadInput(
                "--registry needs --airgap-bundle FILE (push and install) or --release DIR (images already pushed)".into(),
            )
            .into());
        }
        if apply.no_relocate && (signed || f.registry.is_some()) {
            return Err(BadInput(
                "--no-relocate (pull from the vendor's registries) cannot be combined with --airgap-bundle, --release or --registry".into(),
            )
            .into());
        }
    }
    Ok(())
}

fn finish(res: std::result::Result<Report, DeployError>, format: Format) -> Result<u8> {
    let report = match res {
        Ok(r) => r,
        Err(
            e @ (DeployError::Invalid(_)
            | DeployError::Refused(_)
            | DeployError::AlreadyInstalled { .. }
            | DeployError::BadRevision { .. }),
        ) => {
            return Err(BadInput(e.to_string()).into());
        }
        Err(e) => return Err(e.into()),
    };
    if format != Format::Table {
        output::print_structured(&serde_json::to_value(&report)?, format)?;
    } else {
        print!("{}", render_report(&report));
    }
    Ok(if report.ok() { 0 } else { FAILED })
}

/// The human-readable report of an operation.
pub fn render_report(r: &Report) -> String {
    let mut out = String::new();
    let total = r
        .timings
        .iter()
        .find(|(n, _)| n == "total")
        .map(|(_, s)| *s)
        .unwrap_or(0.0);
    let op = match r.operation {
        berth_deploy::inventory::Operation::Install => "install",
        berth_deploy::inventory::Operation::Upgrade => "upgrade",
        berth_deploy::inventory::Operation::Rollback => "rollback",
    };
    let rev = r
        .revision
        .map(|n| format!(" (revision {n})"))
        .unwrap_or_default();
    match r.outcome {
        Outcome::DryRun => {
            out.push_str(&format!(
                "dry run: {op} of {} {} in namespace {}\n",
                r.app, r.version, r.namespace
            ));
            out.push_str(&r.plan.render());
            return out;
        }
        Outcome::Unchanged => out.push_str(&format!(
            "{} {} is already installed in namespace {}{rev}; nothing to change ({total:.1}s)\n",
            r.app, r.version, r.namespace
        )),
        Outcome::Deployed => {
            let (c, u, _, p, _) = r.plan.counts();
            out.push_str(&format!("{op} of {} {} in namespace {} succeeded{rev} in {total:.1}s: {c} created, {u} updated, {p} pruned\n", r.app, r.version, r.namespace));
        }
        Outcome::Uninstalled => {
            let (_, _, _, p, k) = r.plan.counts();
            out.push_str(&format!(
                "uninstalled {} from namespace {} in {total:.1}s: {p} deleted, {k} kept\n",
                r.app, r.namespace
            ));
            for s in r
                .plan
                .steps
                .iter()
                .filter(|s| s.action == berth_deploy::plan::Action::Keep)
            {
                out.push_str(&format!("  kept {}\n", s.object));
            }
        }
        Outcome::Interrupted => out.push_str(&format!(
            "{op} of {} {} in namespace {} was interrupted{rev} after {total:.1}s: it stopped at a safe point, recorded the revision as interrupted and released the lock; run the same command again to finish it (or `berth rollback`)\n",
            r.app, r.version, r.namespace
        )),
        Outcome::Failed | Outcome::RolledBack | Outcome::RollbackFailed => {
            out.push_str(&format!(
                "{op} of {} {} in namespace {} FAILED{rev} after {total:.1}s\n",
                r.app, r.version, r.namespace
            ));
            if let Some(e) = &r.error {
                for line in e.lines() {
                    out.push_str(&format!("  {line}\n"));
                }
            }
            for d in &r.diagnoses {
                out.push_str(&format!("  cause: {}\n  fix:   {}\n", d.cause, d.fix));
            }
            if let Some(rb) = &r.rollback {
                match rb.outcome {
                    Outcome::Deployed => out.push_str(&format!(
                        "rolled back automatically to {} (revision {}): the app runs as before the upgrade\n",
                        rb.version,
                        rb.revision.map(|n| n.to_string()).unwrap_or_default()
                    )),
                    _ => out.push_str(&format!("the automatic rollback to {} FAILED too: {}\n", rb.version, rb.error.clone().unwrap_or_default())),
                }
            } else if r.outcome == Outcome::Failed
                && r.operation == berth_deploy::inventory::Operation::Upgrade
            {
                out.push_str("not rolled back (--no-rollback): fix the cause and run the upgrade again, or `berth rollback`\n");
            }
        }
    }
    if !r.hooks_run.is_empty() {
        out.push_str(&format!("hooks: {}\n", r.hooks_run.join(", ")));
    }
    out
}

/// `berth install`.
pub fn install(a: InstallArgs) -> Result<u8> {
    if a.online.license.is_some() {
        return runtime()?
            .block_on(crate::cmd::online::install(
                &a.online,
                a.apply.clone(),
                a.common.clone(),
                &a.airgap,
            ))
            .or_else(bad_input);
    }
    runtime()?
        .block_on(apply_op(
            a.apply.clone(),
            a.common.clone(),
            Some(Mode::Install),
            false,
            Some(a.airgap.clone()),
        ))
        .or_else(bad_input)
}

/// `berth upgrade`.
pub fn upgrade(a: UpgradeArgs) -> Result<u8> {
    if a.online.active() {
        return crate::cmd::online::upgrade(
            &a.online,
            a.apply.clone(),
            a.common.clone(),
            a.no_rollback,
            &a.airgap,
        )
        .or_else(bad_input);
    }
    runtime()?
        .block_on(apply_op(
            a.apply.clone(),
            a.common.clone(),
            Some(Mode::Upgrade),
            a.no_rollback,
            Some(a.airgap.clone()),
        ))
        .or_else(bad_input)
}

/// `berth diff`.
pub fn diff(a: DiffArgs) -> Result<u8> {
    runtime()?
        .block_on(apply_op(
            a.apply.clone(),
            a.common.clone(),
            None,
            false,
            None,
        ))
        .or_else(bad_input)
}

/// Bad input prints like any error but exits 2.
fn bad_input(e: anyhow::Error) -> Result<u8> {
    if e.downcast_ref::<BadInput>().is_some() {
        output::error(&e);
        return Ok(BAD_INPUT);
    }
    Err(e)
}

/// `berth rollback`.
pub fn rollback(a: RollbackArgs) -> Result<u8> {
    let app = app_name(&a.app)?;
    runtime()?
        .block_on(async {
            let ctx = connect(&a.common, |_| {}).await?;
            let res = ctx.engine.rollback(&app, a.revision, a.dry_run).await;
            ctx.progress.finish();
            let res = locate(&ctx, res, false).await?;
            finish(res, a.common.output)
        })
        .or_else(bad_input)
}

/// `berth uninstall`.
pub fn uninstall(a: UninstallArgs) -> Result<u8> {
    let app = app_name(&a.app)?;
    runtime()?
        .block_on(async {
            let ctx = connect(&a.common, |o| o.delete_data = a.delete_data).await?;
            let res = ctx.engine.uninstall(&app, a.dry_run).await;
            ctx.progress.finish();
            let res = locate(&ctx, res, true).await?;
            finish(res, a.common.output)
        })
        .or_else(bad_input)
}

/// `berth status`.
pub fn status(a: AppArgs) -> Result<u8> {
    let app = app_name(&a.app)?;
    runtime()?
        .block_on(async {
            let ctx = connect(&a.common, |_| {}).await?;
            let st = ctx.engine.status(&app).await;
            ctx.progress.finish();
            let st = locate(&ctx, st, false).await??;
            let ready = st.objects.iter().all(|o| o.state == "ready") && st.unsettled.is_none();
            if a.common.output != Format::Table {
                output::print_structured(&serde_json::to_value(&st)?, a.common.output)?;
            } else {
                print!("{}", render_status(&st));
            }
            Ok(if ready { 0 } else { FAILED })
        })
        .or_else(bad_input)
}

/// The human-readable status.
pub fn render_status(st: &berth_deploy::engine::StatusReport) -> String {
    let mut out = String::new();
    let ready = st.objects.iter().filter(|o| o.state == "ready").count();
    out.push_str(&format!(
        "{} {} in namespace {}: revision {} ({}), {ready}/{} objects ready\n",
        st.app,
        st.version,
        st.namespace,
        st.revision,
        st.status.as_str(),
        st.objects.len()
    ));
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::NOTHING);
    t.set_header(["OBJECT", "STATE", "DETAIL"]);
    for o in &st.objects {
        t.add_row([
            format!("{}/{}", o.object.kind.to_lowercase(), o.object.name),
            o.state.clone(),
            o.detail.clone(),
        ]);
    }
    out.push_str(&format!("{t}\n"));
    for d in &st.diagnoses {
        out.push_str(&format!("cause: {}\nfix:   {}\n", d.cause, d.fix));
    }
    if let Some(f) = &st.last_failure {
        out.push_str(&format!("last failure: {f}\n"));
    }
    if let Some(u) = &st.unsettled {
        out.push_str(&format!("unfinished: {u}\n"));
    }
    out
}

/// `berth history`.
pub fn history(a: AppArgs) -> Result<u8> {
    let app = app_name(&a.app)?;
    runtime()?.block_on(async {
        let ctx = connect(&a.common, |_| {}).await?;
        let ns = ctx.namespace.clone();
        let h = ctx.engine.history(&app).await;
        ctx.progress.finish();
        let h = h?;
        if h.is_empty() {
            return Err(crate::exit::NotInstalled(
                not_installed(&ctx.cluster, &app, &ns, false).await,
            )
            .into());
        }
        if a.common.output != Format::Table {
            output::print_structured(&serde_json::to_value(&h)?, a.common.output)?;
            return Ok(0);
        }
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::NOTHING);
        t.set_header([
            "REVISION",
            "VERSION",
            "STATUS",
            "OPERATION",
            "STARTED",
            "OBJECTS",
            "MESSAGE",
        ]);
        for e in &h {
            t.add_row([
                e.revision.to_string(),
                e.version.clone(),
                e.status.as_str().to_string(),
                format!("{:?}", e.operation).to_lowercase(),
                e.started_at.clone(),
                e.objects.to_string(),
                e.message.clone().unwrap_or_default(),
            ]);
        }
        println!("{t}");
        Ok(0)
    })
}

/// Make the engine quiet (used by the demo, which prints its own story).
pub fn quiet() -> Arc<dyn Progress> {
    Arc::new(Quiet)
}
