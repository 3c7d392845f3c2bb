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
    /// Namespace of the app (its revisions and lock live here). Default: the app's name.
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
    /// The app directory (holding berth.yaml).
    #[arg(default_value = ".")]
    pub app_dir: PathBuf,
    /// Config values (a YAML mapping of config item names to values).
    #[arg(long = "config", short = 'f', value_name = "FILE")]
    pub config: Option<PathBuf>,
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
    after_help = "Example:\n  berth install examples/hello --config values.yaml -n hello\n  berth install examples/hello --dry-run\n\nRe-running the same install changes nothing. An install that was interrupted (killed, \
lost connection) is repaired by running it again."
)]
pub struct InstallArgs {
    #[command(flatten)]
    apply: ApplyFlags,
    #[command(flatten)]
    airgap: crate::cmd::airgap::AirgapFlags,
    #[command(flatten)]
    common: Common,
}

/// `berth upgrade`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  berth upgrade ./hello-1.1.0 --config values.yaml -n hello\n\nThe upgrade policy of berth.yaml (minimum version, required releases, supported Kubernetes) is \
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

fn runtime() -> Result<tokio::runtime::Runtime> {
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

/// Everything a deploy command needs: the engine, the app name.
struct Ctx {
    engine: Engine,
    progress: Arc<TermProgress>,
}

async fn connect(common: &Common, namespace: &str, tune: impl FnOnce(&mut Options)) -> Result<Ctx> {
    let cluster = Cluster::connect(&ConnectOptions {
        kubeconfig: common.kubeconfig.clone(),
        context: common.context.clone(),
    })
    .await?;
    let mut opts = Options {
        namespace: namespace.to_string(),
        timeout: common.timeout,
        ..Options::default()
    };
    tune(&mut opts);
    let progress = Arc::new(TermProgress::new(common.output));
    Ok(Ctx {
        engine: Engine::new(
            Arc::new(cluster),
            opts,
            progress.clone() as Arc<dyn Progress>,
        ),
        progress,
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

/// Load berth.yaml and resolve the config (keeping generated values of `previous`): every
/// problem the user can fix before berth touches the network.
fn resolve_config(
    app_dir: &Path,
    config_file: Option<&Path>,
    previous: Option<&Value>,
) -> Result<(berth_spec::LoadedApp, ResolvedConfig)> {
    let loaded = berth_spec::load(app_dir).map_err(|e| BadInput(e.to_string()))?;
    let app = &loaded.app;
    let input: BTreeMap<String, Value> = match config_file {
        None => BTreeMap::new(),
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| BadInput(format!("cannot read config file {}: {e}", f.display())))?;
            berth_spec::config::parse_values(&text)
                .map_err(|e| BadInput(format!("{}: {e}", f.display())))?
        }
    };
    let prev: Option<ResolvedConfig> =
        previous.and_then(|v| serde_json::from_value(v.clone()).ok());
    let resolved = berth_spec::config::resolve(
        app,
        &input,
        prev.as_ref(),
        &mut berth_spec::config::generate_value,
    )
    .map_err(|problems| {
        let src = config_file
            .map(|f| f.display().to_string())
            .unwrap_or_else(|| "config".into());
        BadInput(format!(
            "{src} has {} problem(s):\n{}",
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

/// Load berth.yaml, resolve config (keeping generated values of `previous`), render.
pub fn prepare(
    app_dir: &Path,
    config_file: Option<&Path>,
    namespace: Option<&str>,
    previous: Option<&Value>,
    render: berth_render::AppRenderOptions,
) -> Result<Prepared> {
    let (loaded, resolved) = resolve_config(app_dir, config_file, previous)?;
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
async fn apply_op(
    apply: ApplyFlags,
    common: Common,
    mode: Option<Mode>,
    no_rollback: bool,
    airgap: Option<crate::cmd::airgap::AirgapFlags>,
) -> Result<u8> {
    // Config and rendering problems are reported before touching the network; the app name
    // found here decides the default namespace.
    // (Rendering waits for the cluster: templates may read it with `lookup`.)
    let app = resolve_config(&apply.app_dir, apply.config.as_deref(), None)?
        .0
        .app
        .metadata
        .name;
    let namespace = common.namespace.clone().unwrap_or_else(|| app.clone());
    // Air-gap: verify the bundle and push its images before touching the cluster.
    let relocation = match &airgap {
        Some(f) => crate::cmd::airgap::prepare(f, apply.dry_run).await?,
        None => None,
    };
    if let Some(r) = &relocation
        && common.output == Format::Table
    {
        eprintln!("{}", r.summary);
    }
    let ctx = connect(&common, &namespace, |o| {
        o.force_conflicts = apply.force_conflicts;
        o.concurrency = apply.concurrency.max(1);
        o.rollback_on_failure = !no_rollback;
        o.validate = !apply.no_validate;
    })
    .await?;
    let history = ctx.engine.revisions(&app).await?;
    let previous_config = history.last().map(|r| r.config.clone());
    let is_upgrade = history
        .iter()
        .any(|r| r.status == berth_deploy::inventory::Status::Deployed);
    let live = live_render_options(&ctx.engine, &history, is_upgrade).await?;
    let mut prepared = prepare(
        &apply.app_dir,
        apply.config.as_deref(),
        Some(&namespace),
        previous_config.as_ref(),
        live,
    )?;
    if let Some(r) = &relocation {
        r.apply(&mut prepared.release.objects)
            .map_err(|e| BadInput(format!("{e:#}")))?;
    }
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
    finish(res, common.output)
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
    let ns = a.common.namespace.clone().unwrap_or_else(|| app.clone());
    runtime()?
        .block_on(async {
            let ctx = connect(&a.common, &ns, |_| {}).await?;
            let res = ctx.engine.rollback(&app, a.revision, a.dry_run).await;
            ctx.progress.finish();
            finish(res, a.common.output)
        })
        .or_else(bad_input)
}

/// `berth uninstall`.
pub fn uninstall(a: UninstallArgs) -> Result<u8> {
    let app = app_name(&a.app)?;
    let ns = a.common.namespace.clone().unwrap_or_else(|| app.clone());
    runtime()?
        .block_on(async {
            let ctx = connect(&a.common, &ns, |o| o.delete_data = a.delete_data).await?;
            let res = ctx.engine.uninstall(&app, a.dry_run).await;
            ctx.progress.finish();
            finish(res, a.common.output)
        })
        .or_else(bad_input)
}

/// `berth status`.
pub fn status(a: AppArgs) -> Result<u8> {
    let app = app_name(&a.app)?;
    let ns = a.common.namespace.clone().unwrap_or_else(|| app.clone());
    runtime()?
        .block_on(async {
            let ctx = connect(&a.common, &ns, |_| {}).await?;
            let st = ctx.engine.status(&app).await;
            ctx.progress.finish();
            let st = st?;
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
    let ns = a.common.namespace.clone().unwrap_or_else(|| app.clone());
    runtime()?.block_on(async {
        let ctx = connect(&a.common, &ns, |_| {}).await?;
        let h = ctx.engine.history(&app).await;
        ctx.progress.finish();
        let h = h?;
        if h.is_empty() {
            return Err(crate::exit::NotInstalled { app, namespace: ns }.into());
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
