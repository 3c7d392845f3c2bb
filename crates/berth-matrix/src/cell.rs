//! One cell, start to end, on its own fresh in-process simulated cluster: preflight,
//! install (air-gapped: through the signed bundle, pushed into a registry only this cell's
//! cluster can pull from), readiness, upgrade, the app's test hooks, a support bundle with
//! its analysis, uninstall. Each step's outcome is recorded; the first failure stops the
//! steps that depend on it, and its diagnosis (berth's cause and fix) becomes the cell's.

use crate::app::{self, Checks};
use crate::report::{CellDiagnosis, CellResult, StepResult, StepStatus};
use crate::stage::Staged;
use crate::{Shared, diagnose, distro, exposure, tests};
use berth_deploy::engine::{Event, Mode, Options, Progress};
use berth_deploy::inventory::RegistryRecord;
use berth_deploy::{Cluster, Engine, Release, Report};
use berth_kube_sim::profile::RegistryProfile;
use berth_kube_sim::{SimOptions, Simulator};
use berth_oci::auth::Credentials;
use berth_oci::relocate::{self, Mapping, PULL_SECRET, Target};
use berth_oci::{Client, ClientConfig, server, transfer};
use berth_render::expose::ExposePlan;
use berth_troubleshoot::analyze::{self, Outcome};
use berth_troubleshoot::run::{self, CollectOptions, RunOptions};
use berth_troubleshoot::spec::Specs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Engine events, kept as the cell's log lines.
struct LogProgress(Mutex<Vec<String>>);

impl LogProgress {
    fn push(&self, line: String) {
        if let Ok(mut l) = self.0.lock() {
            l.push(line);
        }
    }
    fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }
}

impl Progress for LogProgress {
    fn event(&self, e: Event) {
        let line = match e {
            Event::Phase(p) => format!("phase: {p}"),
            Event::Object { object, what } => format!("{what}: {object}"),
            Event::Waiting {
                ready,
                total,
                waiting,
            } => match waiting.first() {
                Some((r, why)) => format!("{ready}/{total} ready; waiting for {r}: {why}"),
                None => format!("{ready}/{total} ready"),
            },
            Event::Note(n) => format!("note: {n}"),
            Event::Hook { event, object } => format!("{event} hook: {object}"),
        };
        self.push(line);
    }
}

/// What a step returns: passed with a detail, or failed with a detail and maybe a diagnosis.
pub(crate) type StepOutcome = Result<String, (String, Option<CellDiagnosis>)>;

/// The running state of one cell.
struct Run {
    shared: Arc<Shared>,
    dir: PathBuf,
    steps: Vec<StepResult>,
    failure: Option<(String, Option<CellDiagnosis>)>,
    log: Arc<LogProgress>,
    cell: crate::plan::Cell,
}

impl Run {
    /// Record a step (skipped when an earlier one failed and `after_failure` is false).
    async fn step<F>(&mut self, name: &str, after_failure: bool, f: F)
    where
        F: std::future::Future<Output = Option<StepOutcome>>,
    {
        if self.failure.is_some() && !after_failure {
            self.steps.push(StepResult {
                step: name.into(),
                status: StepStatus::Skipped,
                seconds: 0.0,
                detail: "skipped: an earlier step failed".into(),
            });
            return;
        }
        let t = Instant::now();
        self.log.push(format!("== {name}"));
        let out = f.await;
        let seconds = t.elapsed().as_secs_f64();
        let (status, detail) = match out {
            None => (StepStatus::Skipped, "nothing to do".to_string()),
            Some(Ok(d)) => (StepStatus::Passed, d),
            Some(Err((d, diag))) => {
                if self.failure.is_none() {
                    self.failure = Some((name.to_string(), diag));
                }
                (StepStatus::Failed, d)
            }
        };
        self.log
            .push(format!("{name}: {status:?} ({seconds:.2}s)\n{detail}"));
        self.steps.push(StepResult {
            step: name.into(),
            status,
            seconds,
            detail,
        });
    }
}

/// A cell's private registry and what relocation needs.
struct Airgap {
    server: server::RunningServer,
    host: String,
    /// The registry's one user, when it requires one (`--registry-auth`).
    credentials: Option<Credentials>,
}

/// The cluster a cell runs on: its own simulator, or a real cluster (`--kubeconfig`).
enum ClusterHandle {
    Sim(Simulator),
    Live {
        /// The API server's URL, for the log.
        url: String,
    },
}

impl ClusterHandle {
    fn url(&self) -> String {
        match self {
            ClusterHandle::Sim(s) => s.url(),
            ClusterHandle::Live { url } => url.clone(),
        }
    }

    async fn shutdown(self) {
        if let ClusterHandle::Sim(s) = self {
            s.shutdown().await;
        }
    }
}

/// The user of a cell registry that requires one.
const REGISTRY_USER: &str = "berth-matrix";

/// Run the cell; never fails (a failure is a result).
pub async fn run_cell(cell: crate::plan::Cell, shared: Arc<Shared>) -> CellResult {
    let t0 = Instant::now();
    let id = cell.id();
    let dir = shared.out_dir.join("cells").join(&id);
    let _ = std::fs::create_dir_all(&dir);
    let log = Arc::new(LogProgress(Mutex::new(Vec::new())));
    let mut run = Run {
        shared: shared.clone(),
        dir: dir.clone(),
        steps: Vec::new(),
        failure: None,
        log: log.clone(),
        cell: cell.clone(),
    };
    let mut server_version = String::new();
    let mut support_bundle = None;
    let setup = start_cluster(&cell, &shared, &dir).await;
    match setup {
        Err(e) => {
            run.failure = Some((
                "cluster".into(),
                Some(CellDiagnosis {
                    object: String::new(),
                    cause: match &cell.kubeconfig {
                        Some(k) => format!("cannot reach the cluster of {}: {e}", k.display()),
                        None => format!("the simulated cluster did not start: {e}"),
                    },
                    fix: match &cell.kubeconfig {
                        Some(_) => "check the kubeconfig's server and credentials (kubectl --kubeconfig FILE get ns), then run the matrix again".into(),
                        None => "free a 127.0.0.1 port and memory, then run the matrix again".into(),
                    },
                }),
            ));
            run.steps.push(StepResult {
                step: "cluster".into(),
                status: StepStatus::Failed,
                seconds: 0.0,
                detail: e,
            });
        }
        Ok((sim, airgap, engine)) => {
            server_version = engine.cluster().git_version().await.unwrap_or_default();
            if run.cell.kubeconfig.is_some()
                && let Some(minor) = berth_spec::deprecations::minor_of(&server_version)
            {
                // A real cluster's cell is judged against the version it runs.
                run.cell.minor = minor;
                run.cell.kube = format!("1.{minor}");
            }
            run.steps.push(StepResult {
                step: "cluster".into(),
                status: StepStatus::Passed,
                seconds: t0.elapsed().as_secs_f64(),
                detail: format!(
                    "{} {server_version} at {}{}",
                    cell.distribution,
                    sim.url(),
                    airgap
                        .as_ref()
                        .map(|a| format!("; private registry {}", a.host))
                        .unwrap_or_default()
                ),
            });
            support_bundle = steps(&mut run, &engine, airgap.as_ref()).await;
            if let Some(a) = airgap {
                a.server.shutdown().await;
            }
            if matches!(sim, ClusterHandle::Live { .. }) {
                remove_namespace(&mut run, &engine).await;
            }
            sim.shutdown().await;
        }
    }
    let (failed_step, diagnosis) = match run.failure.take() {
        Some((s, d)) => (Some(s), d),
        None => (None, None),
    };
    let log_rel = format!("cells/{id}/log.txt");
    let mut text = log.take().join("\n");
    text.push('\n');
    if let Some(d) = &diagnosis {
        text.push_str(&format!(
            "\nfailed step: {}\ncause: {}\nfix: {}\n",
            failed_step.as_deref().unwrap_or("?"),
            d.cause,
            d.fix
        ));
    }
    let _ = std::fs::write(dir.join("log.txt"), text);
    CellResult {
        id,
        passed: failed_step.is_none(),
        failed_step,
        diagnosis,
        server_version,
        steps: run.steps,
        seconds: t0.elapsed().as_secs_f64(),
        log: log_rel,
        support_bundle,
        // With a live cluster's version filled in.
        cell: run.cell,
    }
}

/// The cell's simulator (with its private registry when air-gapped) and an engine on it, or
/// for a `--kubeconfig` cell the real cluster and an engine on a throwaway namespace.
async fn start_cluster(
    cell: &crate::plan::Cell,
    shared: &Shared,
    dir: &Path,
) -> Result<(ClusterHandle, Option<Airgap>, Engine), String> {
    if let Some(kubeconfig) = &cell.kubeconfig {
        return connect_live(kubeconfig, shared).await;
    }
    let mut profile = distro::profile(cell);
    if let Some(tweak) = &shared.opts.profile {
        tweak(cell, &mut profile);
    }
    let airgap = if cell.airgapped {
        Some(cell_registry(shared, dir, &mut profile).await?)
    } else {
        None
    };
    let sim = Simulator::start(SimOptions {
        profile,
        registry_check: cell.airgapped,
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let uri = sim
        .url()
        .parse()
        .map_err(|e| format!("simulator URL {}: {e}", sim.url()))?;
    let client = kube::Client::try_from(kube::Config::new(uri)).map_err(|e| e.to_string())?;
    let cluster = Arc::new(Cluster::from_client(client));
    let engine = cell_engine(cluster, shared, shared.namespace.clone());
    Ok((ClusterHandle::Sim(sim), airgap, engine))
}

/// A real cluster from its kubeconfig, and an engine on a namespace of this run alone
/// (`<app>-matrix-<random>`), so the cell never touches what the cluster already runs.
async fn connect_live(
    kubeconfig: &Path,
    shared: &Shared,
) -> Result<(ClusterHandle, Option<Airgap>, Engine), String> {
    let cluster = Cluster::connect(&berth_deploy::ConnectOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        context: None,
    })
    .await
    .map_err(|e| e.to_string())?;
    let url = format!("the cluster of kubeconfig {}", kubeconfig.display());
    let suffix = rand::random::<u32>() & 0xff_ffff;
    let namespace = format!("{}-matrix-{suffix:06x}", shared.namespace);
    let engine = cell_engine(Arc::new(cluster), shared, namespace);
    Ok((ClusterHandle::Live { url }, None, engine))
}

/// The cell's private registry (with a login under `--registry-auth`); the profile's only
/// reachable registry becomes it.
async fn cell_registry(
    shared: &Shared,
    dir: &Path,
    profile: &mut berth_kube_sim::Profile,
) -> Result<Airgap, String> {
    let mut config =
        server::ServerConfig::new(dir.join("registry"), SocketAddr::from(([127, 0, 0, 1], 0)));
    let credentials = if shared.opts.registry_auth {
        // The lowest bcrypt cost: the password is random and lives as long as the cell.
        let (password, line) = server::access::generated_user(REGISTRY_USER, 4)
            .map_err(|e| format!("private registry user: {e}"))?;
        let htpasswd = dir.join("registry-htpasswd");
        std::fs::write(&htpasswd, line)
            .map_err(|e| format!("writing {}: {e}", htpasswd.display()))?;
        config.htpasswd = Some(htpasswd);
        Some(Credentials {
            username: REGISTRY_USER.to_string(),
            password,
        })
    } else {
        None
    };
    let server = server::start(config)
        .await
        .map_err(|e| format!("private registry: {e}"))?;
    let host = server.addr.to_string();
    // The only registry this cluster's kubelet can reach.
    profile.registries = vec![RegistryProfile {
        host: host.clone(),
        insecure: true,
        insecure_skip_tls_verify: false,
    }];
    Ok(Airgap {
        server,
        host,
        credentials,
    })
}

fn cell_engine(cluster: Arc<Cluster>, shared: &Shared, namespace: String) -> Engine {
    let opts = Options {
        namespace,
        timeout: shared.opts.timeout,
        fail_fast: Some(shared.opts.fail_fast),
        ..Options::default()
    };
    Engine::new(cluster, opts, Arc::new(berth_deploy::Quiet))
}

/// Remove a live cell's throwaway namespace (after uninstall) and record it as a step.
async fn remove_namespace(run: &mut Run, engine: &Engine) {
    let ns = engine.options().namespace.clone();
    let r = berth_deploy::object::ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: String::new(),
        name: ns.clone(),
    };
    let cluster = engine.cluster().clone();
    run.step("cleanup", true, async move {
        Some(match cluster.delete(&r).await {
            Ok(_) => Ok(format!("namespace {ns} deleted")),
            Err(e) => Err((
                format!("deleting namespace {ns}: {e}"),
                Some(CellDiagnosis {
                    object: format!("namespace/{ns}"),
                    cause: format!("the cell's throwaway namespace {ns} could not be deleted: {e}"),
                    fix: format!("delete it by hand: kubectl delete namespace {ns}"),
                }),
            )),
        })
    })
    .await;
}

async fn steps(run: &mut Run, engine: &Engine, airgap: Option<&Airgap>) -> Option<String> {
    let shared = run.shared.clone();
    let engine = Engine::new(
        engine.cluster().clone(),
        engine.options().clone(),
        run.log.clone(),
    );
    let first = shared.from.as_ref().unwrap_or(&shared.target).clone();
    let cell = run.cell.clone();
    run.step(
        "preflight",
        false,
        preflight(&engine, &shared, &first, &cell),
    )
    .await;
    let deployed = Mutex::new(None);
    run.step(
        "install",
        false,
        deploy(
            &engine,
            &shared,
            &first,
            airgap,
            Mode::Install,
            &cell,
            &deployed,
        ),
    )
    .await;
    run.step("readiness", false, readiness(&engine, &first.app))
        .await;
    if shared.from.is_some() {
        let target = shared.target.clone();
        run.step(
            "upgrade",
            false,
            deploy(
                &engine,
                &shared,
                &target,
                airgap,
                Mode::Upgrade,
                &cell,
                &deployed,
            ),
        )
        .await;
    }
    let (release, plans) = match deployed.lock().ok().and_then(|mut d| d.take()) {
        Some((r, p)) => (Some(r), p),
        None => (None, Vec::new()),
    };
    if let Some(r) = &release {
        run.step(
            "expose",
            false,
            exposure::check(engine.cluster(), r, &plans, cell.ingress.as_deref()),
        )
        .await;
    }
    run.step("test", false, tests::run_tests(&engine, &shared, release))
        .await;
    let mut bundle = None;
    let dir = run.dir.clone();
    run.step(
        "support-bundle",
        true,
        support_bundle(&engine, &shared.checks, &dir, &mut bundle),
    )
    .await;
    let app = shared.target.app.clone();
    run.step("uninstall", false, uninstall(&engine, &app)).await;
    bundle
}

/// The app's Preflight specs against the cell's cluster; a failing check fails the step.
async fn preflight(
    engine: &Engine,
    shared: &Shared,
    staged: &Staged,
    cell: &crate::plan::Cell,
) -> Option<StepOutcome> {
    let api = api_versions(engine, shared, staged, cell).await;
    let checks = &shared.checks;
    if checks.preflights.is_empty() {
        return Some(
            api.map(|w| w.unwrap_or_else(|| "no Preflight specs; API versions checked".into())),
        );
    }
    let mut specs = Specs::default();
    for (path, text) in &checks.preflights {
        specs.add_text(path, text);
    }
    let work = match tempfile::tempdir() {
        Ok(w) => w,
        Err(e) => return Some(Err((format!("temporary directory: {e}"), None))),
    };
    let results = match analyse(
        engine,
        &specs.merge_preflight(),
        work.path(),
        "preflight",
        false,
    )
    .await
    {
        Ok((r, _)) => r,
        Err(e) => return Some(Err((e, None))),
    };
    let warned = match api {
        Err(failed) => return Some(Err(failed)),
        Ok(w) => w,
    };
    Some(judge("preflight", &results).map(|d| match warned {
        Some(w) => format!("{d}\n{w}"),
        None => d,
    }))
}

/// The app's objects against the cluster's Kubernetes version: an apiVersion it no longer
/// serves fails the preflight (before anything is installed), a deprecated one is a warning.
async fn api_versions(
    engine: &Engine,
    shared: &Shared,
    staged: &Staged,
    cell: &crate::plan::Cell,
) -> Result<Option<String>, (String, Option<CellDiagnosis>)> {
    let kube = engine.cluster().git_version().await.ok();
    let Some(minor) = kube.as_deref().and_then(berth_spec::deprecations::minor_of) else {
        return Ok(None);
    };
    let cluster = engine.cluster();
    let api = cluster.api_versions().await.ok();
    let opts = berth_render::AppRenderOptions {
        kube_version: kube.clone(),
        expose_offer: match &api {
            Some(a) => Some(exposure::offer(cluster, a).await),
            None => None,
        },
        ..Default::default()
    };
    let (release, plans) = match app::render_exposed(
        &staged.app_dir,
        &shared.opts.values_of(cell),
        &engine.options().namespace,
        None,
        opts,
    ) {
        Ok(r) => r,
        // What the cluster lacks for `expose` stops the cell before anything is installed.
        Err(e) if e.to_string().contains(": expose.") => {
            let msg = e.to_string();
            return Err((msg.clone(), diagnose::of_message(&msg)));
        }
        // Other render problems show in the install step with their full message.
        Err(_) => return Ok(None),
    };
    if let Some(d) = diagnose::of_objects(&release, minor) {
        return Err((format!("API versions: {}", d.cause), Some(d)));
    }
    let mut lines: Vec<String> = plans
        .iter()
        .map(|p| format!("expose {}", p.summary()))
        .collect();
    let warnings: Vec<String> = berth_deploy::diagnose::deprecated_apis(&release.objects, minor)
        .into_iter()
        .map(|w| format!("warning: {w}"))
        .collect();
    if !warnings.is_empty() {
        lines.push(format!("API versions: {}", warnings.join("; ")));
    }
    Ok((!lines.is_empty()).then(|| lines.join("\n")))
}

/// Collect `merged` from the cluster into `work` and analyse it.
async fn analyse(
    engine: &Engine,
    merged: &berth_troubleshoot::spec::Merged,
    work: &Path,
    name: &str,
    // Only what is kept needs redacting (as `berth preflight` without --bundle).
    redact: bool,
) -> Result<
    (
        Vec<analyze::AnalyzeResult>,
        berth_troubleshoot::bundle::BundleWriter,
    ),
    String,
> {
    let collected = run::collect_bundle(
        merged,
        CollectOptions {
            run: RunOptions {
                collector_timeout: Duration::from_secs(30),
                deadline: Duration::from_secs(60),
                concurrency: 8,
            },
            redact,
            tokenize: false,
            kube: Some(engine.cluster().client().clone()),
            kube_error: None,
            work_dir: work.to_path_buf(),
            name: name.into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let reader = collected.writer.reader().map_err(|e| e.to_string())?;
    let results = analyze::analyze_all(&merged.analyzers, &merged.host_analyzers, &reader);
    Ok((results, collected.writer))
}

/// Pass unless a check failed; the failing checks' messages become the diagnosis.
fn judge(what: &str, results: &[analyze::AnalyzeResult]) -> StepOutcome {
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    let mut detail = format!(
        "{what}: {} pass, {} warn, {} fail",
        count(Outcome::Pass),
        count(Outcome::Warn),
        count(Outcome::Fail) + count(Outcome::Error)
    );
    for r in results.iter().filter(|r| r.outcome != Outcome::Pass) {
        detail.push_str(&format!("\n{:?} {}: {}", r.outcome, r.check, r.message));
    }
    let failed: Vec<&analyze::AnalyzeResult> = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Fail | Outcome::Error))
        .collect();
    if failed.is_empty() {
        return Ok(detail);
    }
    let cause = failed
        .iter()
        .map(|r| format!("{}: {}", r.check, r.message))
        .collect::<Vec<_>>()
        .join("; ");
    let fix = failed
        .iter()
        .find_map(|r| r.uri.clone())
        .map(|u| format!("make the cluster meet the failing check (see {u})"))
        .unwrap_or_else(|| "make the cluster meet the failing checks, or change the app's config so it does not need them".into());
    Err((
        detail,
        Some(CellDiagnosis {
            object: String::new(),
            cause: format!("{what} check failed: {cause}"),
            fix,
        }),
    ))
}

/// Render against the live cluster (relocated when air-gapped) and install or upgrade.
async fn deploy(
    engine: &Engine,
    shared: &Shared,
    staged: &Staged,
    airgap: Option<&Airgap>,
    mode: Mode,
    cell: &crate::plan::Cell,
    deployed: &Mutex<Option<(Release, Vec<ExposePlan>)>>,
) -> Option<StepOutcome> {
    let history = engine.revisions(&staged.app).await.unwrap_or_default();
    let previous = history.last().map(|r| r.config.clone());
    let cluster = engine.cluster();
    let api = cluster.api_versions().await.ok();
    let live = berth_render::AppRenderOptions {
        revision: i64::from(history.iter().map(|r| r.number).max().unwrap_or(0)) + 1,
        is_upgrade: mode == Mode::Upgrade,
        kube_version: cluster.git_version().await.ok(),
        expose_offer: match &api {
            Some(a) => Some(exposure::offer(cluster, a).await),
            None => None,
        },
        live_api_versions: api,
        lookup: Some(cluster.template_lookup()),
        ..Default::default()
    };
    let rendered = app::render_exposed(
        &staged.app_dir,
        &shared.opts.values_of(cell),
        &engine.options().namespace,
        previous.as_ref(),
        live,
    );
    let (mut release, plans) = match rendered {
        Ok(r) => r,
        Err(e) => {
            let msg = e.to_string();
            return Some(Err((msg.clone(), diagnose::of_message(&msg))));
        }
    };
    let exposed_lines: String = plans
        .iter()
        .map(|p| format!("expose {}\n", p.summary()))
        .collect();
    release.version = staged.version.clone();
    let mut engine_opts = engine.options().clone();
    let mut pushed = String::new();
    if let Some(a) = airgap {
        match push_and_relocate(staged, a, &mut release).await {
            Ok((record, summary)) => {
                engine_opts.registry = Some(record);
                pushed = summary;
            }
            Err(e) => return Some(Err((e, None))),
        }
    }
    let engine = Engine::new(
        engine.cluster().clone(),
        engine_opts,
        Arc::new(berth_deploy::Quiet),
    );
    let res = engine.deploy(release.clone(), mode, false).await;
    Some(match res {
        Ok(r) if r.ok() => {
            // The namespace's NetworkPolicies may isolate pods of an app that ships none.
            let objects: Vec<serde_json::Value> =
                release.objects.iter().map(|m| m.object.clone()).collect();
            let note = berth_deploy::network::isolation_warning(
                engine.cluster(),
                &engine.options().namespace,
                &objects,
            )
            .await
            .map(|n| format!("\nwarning: {n}"))
            .unwrap_or_default();
            if let Ok(mut d) = deployed.lock() {
                *d = Some((release, plans));
            }
            Ok(format!("{pushed}{exposed_lines}{}{note}", summary(&r)))
        }
        Ok(r) => Err((
            format!("{pushed}{}", summary(&r)),
            diagnose::of_report(&r).or_else(|| diagnose::of_objects(&release, cell.minor)),
        )),
        Err(e) => {
            let msg = e.to_string();
            let diag =
                diagnose::of_objects(&release, cell.minor).or_else(|| diagnose::of_message(&msg));
            Err((msg, diag))
        }
    })
}

fn summary(r: &Report) -> String {
    let mut s = format!(
        "{:?} {} {} (revision {})",
        r.outcome,
        r.app,
        r.version,
        r.revision.map(|n| n.to_string()).unwrap_or("-".into())
    );
    if let Some(e) = &r.error {
        s.push_str(&format!("\nerror: {e}"));
    }
    for d in &r.diagnoses {
        s.push_str(&format!("\n{}: {}\n  fix: {}", d.object, d.cause, d.fix));
    }
    if !r.hooks_run.is_empty() {
        s.push_str(&format!("\nhooks: {}", r.hooks_run.join(", ")));
    }
    s
}

/// Verify the signed bundle, push its images into the cell's registry, rewrite the
/// release's images to it by digest.
async fn push_and_relocate(
    staged: &Staged,
    a: &Airgap,
    release: &mut Release,
) -> Result<(RegistryRecord, String), String> {
    let t = Instant::now();
    let key = berth_oci::keys::read_verifying_key(&staged.pubkey).map_err(|e| e.to_string())?;
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dest = scratch.path().join("release");
    let (bundle, app, d2) = (staged.bundle.clone(), staged.app.clone(), dest.clone());
    tokio::task::spawn_blocking(move || {
        berth_oci::bundle::verify(
            &bundle,
            &key,
            &berth_oci::bundle::Expect { app: Some(app) },
            Some(&d2),
            None,
        )
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("bundle {}: {e}", staged.bundle.display()))?;
    let rel = berth_oci::release::Release::open(&dest).map_err(|e| e.to_string())?;
    let registry = format!("{}/{}", a.host, staged.app);
    let target = Target::parse(&registry).map_err(|e| e.to_string())?;
    let client = Client::new(ClientConfig {
        insecure: true,
        credentials: a.credentials.clone(),
        ..Default::default()
    })
    .map_err(|e| e.to_string())?;
    let items = rel.push_items(&target);
    transfer::push_images(&client, &rel.layout, &items, &transfer::NoProgress)
        .await
        .map_err(|e| format!("pushing into {registry}: {e}"))?;
    let mut mapping: Mapping = rel.mapping(&target);
    if a.credentials.is_some() {
        mapping = mapping.with_pull_secret(PULL_SECRET);
    }
    let mut values: Vec<serde_json::Value> =
        release.objects.iter().map(|m| m.object.clone()).collect();
    relocate::relocate_objects(&mut values, &mapping).map_err(|e| e.to_string())?;
    // Namespaces whose objects were rewritten (they run pods): each gets the pull Secret.
    let mut namespaces = std::collections::BTreeSet::new();
    for (m, v) in release.objects.iter_mut().zip(values) {
        if v != m.object
            && let Some(ns) = v
                .pointer("/metadata/namespace")
                .and_then(serde_json::Value::as_str)
        {
            namespaces.insert(ns.to_string());
        }
        m.object = v;
    }
    let mut secret_note = String::new();
    if let Some(c) = &a.credentials {
        add_pull_secrets(release, &namespaces, &a.host, c);
        secret_note = format!("; pull Secret {PULL_SECRET} for user {}", c.username);
    }
    let record = RegistryRecord {
        registry: registry.clone(),
        pull_secret: mapping.pull_secret.clone(),
        images: rel
            .images
            .iter()
            .map(|(r, d)| (r.to_string(), d.digest.to_string()))
            .collect(),
    };
    Ok((
        record,
        format!(
            "bundle verified; {} image(s) pushed into {registry} and referenced by digest{secret_note} ({:.2}s)\n",
            items.len(),
            t.elapsed().as_secs_f64()
        ),
    ))
}

/// The pull Secret in each of `namespaces`, first in the release (as `berth install
/// --registry-username` adds it).
fn add_pull_secrets(
    release: &mut Release,
    namespaces: &std::collections::BTreeSet<String>,
    registry_host: &str,
    c: &Credentials,
) {
    for ns in namespaces.iter().rev() {
        let secret =
            relocate::pull_secret_object(PULL_SECRET, ns, registry_host, &c.username, &c.password);
        release.objects.insert(
            0,
            berth_deploy::Manifest::new(secret, "berth: image pull secret for the cell registry"),
        );
    }
}

/// Every object of the app ready, per `berth status`.
async fn readiness(engine: &Engine, app: &str) -> Option<StepOutcome> {
    let st = match engine.status(app).await {
        Ok(s) => s,
        Err(e) => return Some(Err((e.to_string(), diagnose::of_message(&e.to_string())))),
    };
    let not_ready: Vec<String> = st
        .objects
        .iter()
        .filter(|o| o.state != "ready")
        .map(|o| format!("{} {}: {}", o.object, o.state, o.detail))
        .collect();
    let detail = format!(
        "{} {} revision {}: {} of {} objects ready{}",
        st.app,
        st.version,
        st.revision,
        st.objects.len() - not_ready.len(),
        st.objects.len(),
        if not_ready.is_empty() {
            String::new()
        } else {
            format!("\n{}", not_ready.join("\n"))
        }
    );
    if not_ready.is_empty() {
        return Some(Ok(detail));
    }
    let diag = st
        .diagnoses
        .first()
        .map(diagnose::from_engine)
        .unwrap_or(CellDiagnosis {
            object: String::new(),
            cause: format!("not ready: {}", not_ready.join("; ")),
            fix: "see the cell's log and support bundle".into(),
        });
    Some(Err((detail, Some(diag))))
}

/// The app's SupportBundle specs (redacted), analysed; written as the cell's archive.
async fn support_bundle(
    engine: &Engine,
    checks: &Checks,
    dir: &Path,
    out: &mut Option<String>,
) -> Option<StepOutcome> {
    let mut specs = Specs::default();
    for (path, text) in checks.support_bundles.iter().chain(&checks.redactors) {
        specs.add_text(path, text);
    }
    if checks.support_bundles.is_empty() {
        specs.add_text(
            "(berth default)",
            "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec: {}\n",
        );
    }
    let (results, writer) = match analyse(
        engine,
        &specs.merge_support_bundle(),
        dir,
        "support-bundle",
        true,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return Some(Err((e, None))),
    };
    let analysis = serde_json::to_vec_pretty(&results).unwrap_or_default();
    let _ = writer.write("analysis.json", &analysis);
    let archive = dir.join("support-bundle.tar.gz");
    if let Err(e) = writer.pack(&archive) {
        return Some(Err((format!("packing the support bundle: {e}"), None)));
    }
    let _ = std::fs::remove_dir_all(dir.join("support-bundle"));
    if let Some(name) = dir.file_name() {
        *out = Some(format!(
            "cells/{}/support-bundle.tar.gz",
            name.to_string_lossy()
        ));
    }
    Some(judge("support bundle analysis", &results))
}

async fn uninstall(engine: &Engine, app: &str) -> Option<StepOutcome> {
    Some(match engine.uninstall(app, false).await {
        Ok(r) if r.ok() => Ok(summary(&r)),
        Ok(r) => Err((summary(&r), diagnose::of_report(&r))),
        Err(e) => Err((e.to_string(), None)),
    })
}
