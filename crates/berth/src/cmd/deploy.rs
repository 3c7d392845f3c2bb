//! `berth install|upgrade|diff|rollback|status|history|uninstall`: flags → the typed inputs
//! of `berth-ops` → its operation → the report printed. Exit codes: crate::exit.

use crate::output::{self, Format};
use anyhow::{Context as _, Result};
use berth_deploy::engine::{Event, Mode, Outcome, Progress, Quiet, Report};
use berth_ops::Cancel;
use berth_ops::Event as OpsEvent;
use berth_ops::deploy::{ApplyInput, Target, app_name};
use berth_ops::prepare::{ConfigInput, SetExprs};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Exit code: the operation failed.
const FAILED: u8 = 1;

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
    /// Set a config item to a JSON value (ITEM=JSON), as Helm's --set-json (applied first).
    #[arg(long, value_name = "ITEM=JSON")]
    pub set_json: Vec<String>,
    /// Set a config item to the rest of the expression, commas included, as Helm's
    /// --set-literal (applied last).
    #[arg(long, value_name = "ITEM=TEXT")]
    pub set_literal: Vec<String>,
    #[command(flatten)]
    pub post: crate::cmd::chart::PostRenderFlags,
    /// Chart cache for chart dependencies from oci:// and https:// repositories (default:
    /// $XDG_CACHE_HOME/berth/charts).
    #[arg(long, value_name = "DIR")]
    pub chart_cache: Option<PathBuf>,
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
    /// Record this host's facts in the revision's baseline too (run on a cluster node).
    #[arg(long)]
    pub host_baseline: bool,
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

/// A duration flag: a number with `ms`, `s` (or none), `m`, `h` or `d`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let bad = || format!("{s:?} is not a duration (examples: 0s, 30s, 5m, 1h, 7d)");
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Draws operation progress on a terminal (stderr); silent in pipes and with `-o json|yaml`
/// (except notes and warnings, which matter in logs and pipes too).
pub struct TermProgress {
    bar: Option<ProgressBar>,
    table: bool,
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
        TermProgress {
            bar,
            table: format == Format::Table,
        }
    }

    /// Remove the spinner.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    /// A line on stderr, above the spinner when there is one.
    fn line(&self, s: String) {
        match &self.bar {
            Some(b) => b.println(s),
            None => eprintln!("{s}"),
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
            Event::Object { .. } | Event::Hook { .. } => {}
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

impl berth_ops::Sink for TermProgress {
    fn event(&self, e: OpsEvent) {
        match e {
            OpsEvent::Deploy { event } => Progress::event(self, event),
            OpsEvent::Warning { message } => self.line(format!("warning: {message}")),
            // Notes (a snapshot hook's output, a claim copied live) matter in logs and pipes too.
            OpsEvent::Note { message } => self.line(format!("note: {message}")),
            OpsEvent::Relocated { summary } if self.table => self.line(summary),
            OpsEvent::Exposed { summary } if self.table => self.line(summary),
            OpsEvent::ImageStarted { image, .. } => {
                if let Some(b) = &self.bar {
                    b.set_message(format!("pushing {image}"));
                }
            }
            _ => {}
        }
    }
}

/// The cluster and namespace of the common flags.
pub(crate) fn target(common: &Common) -> Target {
    Target {
        kubeconfig: common.kubeconfig.clone(),
        context: common.context.clone(),
        namespace: common.namespace.clone(),
        timeout: common.timeout,
        cluster: None,
    }
}

pub use crate::exit::BadInput;
pub use berth_ops::prepare::Prepared;

/// Load berth.yaml, resolve config (keeping generated values of `previous`), render.
pub fn prepare(
    app_dir: &Path,
    config_file: Option<&Path>,
    namespace: Option<&str>,
    previous: Option<&Value>,
    render: berth_render::AppRenderOptions,
) -> Result<Prepared> {
    Ok(berth_ops::prepare::prepare(
        app_dir,
        config_file,
        namespace,
        previous,
        render,
    )?)
}

/// The first Ctrl-C asks the operation to stop at its next safe point (an engine records the
/// revision as interrupted and releases the lock); a second one exits at once.
async fn stop_on_ctrl_c(cancel: Cancel) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    cancel.cancel();
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

/// The typed input of install, upgrade and diff from the flags.
pub(crate) fn apply_input(
    apply: &ApplyFlags,
    airgap: Option<&crate::cmd::airgap::AirgapFlags>,
    no_rollback: bool,
) -> Result<ApplyInput> {
    let config = ConfigInput::read(
        &apply.config,
        &SetExprs {
            set: apply.set.clone(),
            set_string: apply.set_string.clone(),
            set_file: apply.set_file.clone(),
            set_json: apply.set_json.clone(),
            set_literal: apply.set_literal.clone(),
        },
    )?;
    check_sources(apply, airgap)?;
    let airgap = match airgap {
        Some(f) if f.signed_source() => Some(f.input()?),
        _ => None,
    };
    Ok(ApplyInput {
        app_dir: apply.dev_app_dir.clone().or_else(|| apply.app_dir.clone()),
        config,
        airgap,
        no_relocate: apply.no_relocate,
        dry_run: apply.dry_run,
        force_conflicts: apply.force_conflicts,
        concurrency: apply.concurrency.max(1),
        validate: !apply.no_validate,
        rollback_on_failure: !no_rollback,
        host_baseline: apply.host_baseline,
        license: None,
        fail_fast: None,
        wait_poll_max: None,
        post_renderer: apply.post.get(),
        chart_cache: apply.chart_cache.clone(),
    })
}

/// Run one deploy-family operation and return its exit code.
async fn apply_op(
    apply: ApplyFlags,
    common: Common,
    mode: Option<Mode>,
    no_rollback: bool,
    airgap: Option<crate::cmd::airgap::AirgapFlags>,
) -> Result<u8> {
    let input = apply_input(&apply, airgap.as_ref(), no_rollback)?;
    let progress = Arc::new(TermProgress::new(common.output));
    let sink = progress.clone() as Arc<dyn berth_ops::Sink>;
    let target = target(&common);
    let cancel = Cancel::new();
    let on_ctrl_c = tokio::spawn(stop_on_ctrl_c(cancel.clone()));
    let res = match mode {
        None => {
            let plan = berth_ops::deploy::diff(&target, &input, sink).await;
            on_ctrl_c.abort();
            progress.finish();
            let plan = plan?;
            if common.output == Format::Table {
                print!("{}", plan.render());
            } else {
                output::print_structured(&serde_json::to_value(&plan)?, common.output)?;
            }
            return Ok(0);
        }
        Some(Mode::Upgrade) => berth_ops::deploy::upgrade(&target, &input, sink, &cancel).await,
        Some(_) => berth_ops::deploy::install(&target, &input, sink, &cancel).await,
    };
    on_ctrl_c.abort();
    progress.finish();
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

/// Print an operation's report; the exit code says whether it succeeded.
pub(crate) fn finish(res: berth_ops::Result<Report>, format: Format) -> Result<u8> {
    let report = res?;
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
        return runtime()?.block_on(crate::cmd::online::install(
            &a.online, &a.apply, &a.common, &a.airgap,
        ));
    }
    runtime()?.block_on(apply_op(
        a.apply.clone(),
        a.common.clone(),
        Some(Mode::Install),
        false,
        Some(a.airgap.clone()),
    ))
}

/// `berth upgrade`.
pub fn upgrade(a: UpgradeArgs) -> Result<u8> {
    if a.online.active() {
        return runtime()?.block_on(crate::cmd::online::upgrade(
            &a.online,
            &a.apply,
            &a.common,
            a.no_rollback,
            &a.airgap,
        ));
    }
    runtime()?.block_on(apply_op(
        a.apply.clone(),
        a.common.clone(),
        Some(Mode::Upgrade),
        a.no_rollback,
        Some(a.airgap.clone()),
    ))
}

/// `berth diff`.
pub fn diff(a: DiffArgs) -> Result<u8> {
    runtime()?.block_on(apply_op(
        a.apply.clone(),
        a.common.clone(),
        None,
        false,
        None,
    ))
}

/// `berth rollback`.
pub fn rollback(a: RollbackArgs) -> Result<u8> {
    let app = app_name(&a.app)?;
    runtime()?.block_on(async {
        let progress = Arc::new(TermProgress::new(a.common.output));
        let cancel = Cancel::new();
        let on_ctrl_c = tokio::spawn(stop_on_ctrl_c(cancel.clone()));
        let res = berth_ops::deploy::rollback(
            &target(&a.common),
            &app,
            a.revision,
            a.dry_run,
            progress.clone(),
            &cancel,
        )
        .await;
        on_ctrl_c.abort();
        progress.finish();
        finish(res, a.common.output)
    })
}

/// `berth uninstall`.
pub fn uninstall(a: UninstallArgs) -> Result<u8> {
    let app = app_name(&a.app)?;
    runtime()?.block_on(async {
        let progress = Arc::new(TermProgress::new(a.common.output));
        let res = berth_ops::deploy::uninstall(
            &target(&a.common),
            &app,
            a.delete_data,
            a.dry_run,
            progress.clone(),
        )
        .await;
        progress.finish();
        finish(res, a.common.output)
    })
}

/// `berth status`.
pub fn status(a: AppArgs) -> Result<u8> {
    let app = app_name(&a.app)?;
    runtime()?.block_on(async {
        let st = berth_ops::deploy::status(&target(&a.common), &app).await?;
        let ready = st.objects.iter().all(|o| o.state == "ready") && st.unsettled.is_none();
        if a.common.output != Format::Table {
            output::print_structured(&serde_json::to_value(&st)?, a.common.output)?;
        } else {
            print!("{}", render_status(&st));
        }
        Ok(if ready { 0 } else { FAILED })
    })
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
    if let Some(d) = &st.drift {
        out.push_str(&format!("{d}\n"));
    }
    out
}

/// `berth history`.
pub fn history(a: AppArgs) -> Result<u8> {
    let app = app_name(&a.app)?;
    runtime()?.block_on(async {
        let h = berth_ops::deploy::history(&target(&a.common), &app).await?;
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
