//! `berth demo`: the end-to-end tour. Starts a simulated cluster in-process, installs
//! `examples/hello`, shows its status, upgrades it, shows a failed upgrade (an injected image
//! pull fault) rolling itself back, …, and last snapshots the app with its volume data,
//! deletes its namespace and restores it into a new one; it prints what happened with timings.
//!
//! The tour is a list of [`Step`]s; later capabilities add theirs to [`STEPS`].

use crate::cmd::deploy::{prepare, render_report, render_status};
use anyhow::{Context as _, Result, anyhow};
use berth_deploy::engine::{Mode, Options, Outcome};
use berth_deploy::{Cluster, ConnectOptions, Engine};
use berth_kube_sim::{SimOptions, Simulator};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Run the tour against an in-process simulated cluster.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  cargo run --release -- demo\n  berth demo --keep   # keep the simulated cluster running for kubectl"
)]
pub struct Args {
    /// The app to install.
    #[arg(long, default_value = "examples/hello")]
    app: PathBuf,
    /// Keep the simulated cluster running after the tour (until Ctrl-C), for kubectl.
    #[arg(long)]
    keep: bool,
    /// After the tour, serve the admin console on the simulated cluster (until Ctrl-C).
    #[arg(long)]
    console: bool,
}

/// State shared by the steps.
pub struct Demo {
    app: PathBuf,
    work: tempfile::TempDir,
    sim: Option<Simulator>,
    kubeconfig: PathBuf,
    engine: Option<Engine>,
    namespace: String,
}

type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<String>> + 'a>>;

/// One step of the tour: a title and what it does (returns what to show).
pub struct Step {
    /// Shown before the step runs.
    pub title: &'static str,
    /// The step.
    pub run: for<'a> fn(&'a mut Demo) -> StepFuture<'a>,
}

/// The tour, in order.
pub const STEPS: &[Step] = &[
    Step {
        title: "start a simulated Kubernetes cluster",
        run: |d| Box::pin(start_cluster(d)),
    },
    Step {
        title: "install the app (version from berth.yaml)",
        run: |d| Box::pin(install(d)),
    },
    Step {
        title: "show its status",
        run: |d| Box::pin(status(d)),
    },
    Step {
        title: "install again: nothing to change",
        run: |d| Box::pin(reinstall(d)),
    },
    Step {
        title: "upgrade to a changed version (more replicas, new greeting)",
        run: |d| Box::pin(upgrade(d)),
    },
    Step {
        title: "upgrade to a broken version (an image missing from the registry): it rolls itself back",
        run: |d| Box::pin(failed_upgrade(d)),
    },
    Step {
        title: "show the revision history",
        run: |d| Box::pin(history(d)),
    },
    Step {
        title: "air-gapped: release, signed bundle, push into the customer's registry, install relocated",
        run: |d| {
            Box::pin(crate::cmd::demo_airgap::demo_step(
                d.work.path().to_path_buf(),
                d.app.clone(),
            ))
        },
    },
    Step {
        title: "vendor server: releases 1.0 and 1.1, a license; online install of 1.0, `berth updates`, upgrade; the vendor sees 1.1",
        run: |d| {
            Box::pin(crate::cmd::demo_vendor::demo_step(
                d.work.path().to_path_buf(),
                d.app.clone(),
            ))
        },
    },
    Step {
        title: "CVE gate: a release with a fixable CVE is refused, the patched image passes",
        run: |d| {
            Box::pin(crate::cmd::demo_scan::demo_step(
                d.work.path().to_path_buf(),
            ))
        },
    },
    Step {
        title: "preflight checks, then a support bundle with its analysis",
        run: |d| {
            Box::pin(crate::cmd::troubleshoot::demo_step(
                d.kubeconfig.clone(),
                d.namespace.clone(),
                d.work.path().to_path_buf(),
            ))
        },
    },
    Step {
        title: "a small support matrix: Kubernetes versions x distributions x online/air-gapped",
        run: |d| {
            Box::pin(crate::cmd::matrix::demo_step(
                d.work.path().to_path_buf(),
                d.app.clone(),
            ))
        },
    },
    Step {
        title: "the cluster changes under the app (a node's kernel, the default StorageClass): berth drift names both",
        run: |d| {
            Box::pin(crate::cmd::demo_drift::demo_step(
                d.kubeconfig.clone(),
                d.namespace.clone(),
            ))
        },
    },
    Step {
        title: "snapshot the app with its volume data, delete its namespace, restore it into a new one",
        run: |d| Box::pin(snapshot_restore(d)),
    },
];

async fn snapshot_restore(d: &mut Demo) -> Result<String> {
    let out = crate::cmd::demo_snapshot::demo_step(
        d.kubeconfig.clone(),
        d.namespace.clone(),
        d.work.path().to_path_buf(),
    )
    .await?;
    // The app now lives in the restored namespace (for --console and --keep).
    d.namespace = crate::cmd::demo_snapshot::RESTORED.to_string();
    Ok(out)
}

fn engine(d: &Demo) -> Result<&Engine> {
    d.engine
        .as_ref()
        .ok_or_else(|| anyhow!("the cluster step did not run"))
}

async fn start_cluster(d: &mut Demo) -> Result<String> {
    let sim = Simulator::start(SimOptions::default()).await?;
    // The snapshot step's mover Jobs run berth's own image: this binary.
    sim.set_mover_bin(std::env::current_exe().ok());
    sim.write_kubeconfig(&d.kubeconfig)?;
    let cluster = Cluster::connect(&ConnectOptions {
        kubeconfig: Some(d.kubeconfig.clone()),
        context: None,
    })
    .await?;
    let opts = Options {
        namespace: d.namespace.clone(),
        timeout: Duration::from_secs(120),
        fail_fast: Some(Duration::from_secs(4)),
        ..Options::default()
    };
    d.engine = Some(Engine::new(
        Arc::new(cluster),
        opts,
        crate::cmd::deploy::quiet(),
    ));
    let url = sim.url();
    d.sim = Some(sim);
    Ok(format!(
        "API server at {url}; kubeconfig {}",
        d.kubeconfig.display()
    ))
}

/// Copy the app into the work directory with another version (and optional extra chart templates).
fn variant(d: &Demo, version: &str, extra: &[(&str, &str)]) -> Result<PathBuf> {
    let dst = d.work.path().join(format!("app-{version}"));
    for e in walkdir::WalkDir::new(&d.app) {
        let e = e?;
        let rel = e.path().strip_prefix(&d.app)?;
        let to = dst.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to)?;
        } else if e.file_type().is_file() {
            std::fs::copy(e.path(), &to)?;
        }
    }
    let manifest = dst.join("berth.yaml");
    let text = std::fs::read_to_string(&manifest)?;
    let mut done = false;
    let text: String = text
        .lines()
        .map(|l| {
            if !done
                && l.trim_start().starts_with("version:")
                && l.starts_with("  ")
                && !l.starts_with("    ")
            {
                done = true;
                format!("  version: {version}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&manifest, text + "\n")?;
    for (name, body) in extra {
        std::fs::write(dst.join("chart/templates").join(name), body)?;
    }
    Ok(dst)
}

async fn deploy(
    d: &Demo,
    dir: &Path,
    config: Option<&Path>,
    mode: Mode,
) -> Result<(berth_deploy::Report, String)> {
    let e = engine(d)?;
    let previous = e
        .revisions(&app_name(d)?)
        .await?
        .last()
        .map(|r| r.config.clone());
    let p = prepare(
        dir,
        config,
        Some(&d.namespace),
        previous.as_ref(),
        berth_render::AppRenderOptions {
            is_upgrade: mode == Mode::Upgrade,
            ..Default::default()
        },
    )?;
    let version = p.release.version.clone();
    let r = e.deploy(p.release, mode, false).await?;
    Ok((r, version))
}

fn app_name(d: &Demo) -> Result<String> {
    Ok(berth_spec::load(&d.app)?.app.metadata.name.clone())
}

async fn install(d: &mut Demo) -> Result<String> {
    let app = d.app.clone();
    let (r, _) = deploy(d, &app, None, Mode::Install).await?;
    if !r.ok() {
        return Err(anyhow!("{}", render_report(&r)));
    }
    Ok(render_report(&r))
}

async fn reinstall(d: &mut Demo) -> Result<String> {
    let app = d.app.clone();
    let (r, _) = deploy(d, &app, None, Mode::Install).await?;
    if r.outcome != Outcome::Unchanged {
        return Err(anyhow!("expected no change, got:\n{}", render_report(&r)));
    }
    Ok(render_report(&r))
}

async fn status(d: &mut Demo) -> Result<String> {
    let st = engine(d)?.status(&app_name(d)?).await?;
    Ok(render_status(&st))
}

async fn upgrade(d: &mut Demo) -> Result<String> {
    let dir = variant(d, "1.1.0", &[])?;
    let cfg = d.work.path().join("values-1.1.0.yaml");
    std::fs::write(&cfg, "replicas: 3\ngreeting: Hello again, from berth\n")?;
    let (r, _) = deploy(d, &dir, Some(&cfg), Mode::Upgrade).await?;
    if !r.ok() {
        return Err(anyhow!("{}", render_report(&r)));
    }
    Ok(format!(
        "(values: replicas 3, a new greeting)\n{}",
        render_report(&r)
    ))
}

const BROKEN_WORKER: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-worker
spec:
  replicas: 1
  selector:
    matchLabels: {app: {{ .Release.Name }}-worker}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-worker}
      annotations:
        # The simulator's fault injection: this image cannot be pulled.
        sim.berth.dev/fail: image-pull
    spec:
      containers:
      - name: worker
        image: registry.example.com/hello/worker:1.2.0
"#;

async fn failed_upgrade(d: &mut Demo) -> Result<String> {
    let dir = variant(d, "1.2.0", &[("worker.yaml", BROKEN_WORKER)])?;
    let cfg = d.work.path().join("values-1.1.0.yaml");
    let (r, _) = deploy(d, &dir, Some(&cfg), Mode::Upgrade).await?;
    if r.outcome != Outcome::RolledBack {
        return Err(anyhow!(
            "expected an automatic rollback, got:\n{}",
            render_report(&r)
        ));
    }
    Ok(render_report(&r))
}

async fn history(d: &mut Demo) -> Result<String> {
    let h = engine(d)?.history(&app_name(d)?).await?;
    let mut out = String::new();
    for e in h {
        out.push_str(&format!(
            "  revision {:>2}  {:<8} {:<12} {}\n",
            e.revision,
            e.version,
            e.status.as_str(),
            e.message.unwrap_or_default()
        ));
    }
    Ok(out)
}

/// `berth demo`.
pub fn run(a: Args) -> Result<u8> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        if !a.app.join("berth.yaml").is_file() {
            return Err(anyhow!(
                "{} has no berth.yaml; run the demo from the berth repository root or pass --app DIR",
                a.app.display()
            ));
        }
        let work = tempfile::tempdir()?;
        let kubeconfig = work.path().join("kubeconfig");
        let mut d = Demo { app: a.app.clone(), work, sim: None, kubeconfig, engine: None, namespace: String::new() };
        d.namespace = app_name(&d)?;
        let bold = |s: &str| if crate::output::color_stdout() { console::style(s).bold().to_string() } else { s.to_string() };
        // The work folder is removed when the demo ends: without --keep its paths would point
        // at nothing, so they are shown as a placeholder (with --keep they exist until Ctrl-C).
        let work_path = d.work.path().display().to_string();
        let shown = |line: &str| {
            if a.keep {
                line.to_string()
            } else {
                line.replace(&work_path, "<demo temp folder>")
            }
        };
        if !a.keep {
            println!("(files go to a temporary folder removed when the demo ends; --keep keeps them and the cluster until Ctrl-C)\n");
        }
        let mut timings = Vec::new();
        let total = Instant::now();
        for (i, step) in STEPS.iter().enumerate() {
            println!("{}", bold(&format!("[{}/{}] {}", i + 1, STEPS.len(), step.title)));
            let t = Instant::now();
            let res = (step.run)(&mut d).await;
            let secs = t.elapsed().as_secs_f64();
            match res {
                Ok(text) => {
                    for line in text.lines() {
                        println!("    {}", shown(line));
                    }
                    println!("    ({secs:.2}s)\n");
                    timings.push((step.title, secs));
                }
                Err(e) => {
                    println!("    step failed after {secs:.2}s");
                    return Err(e.context(format!("demo step {:?} failed", step.title)));
                }
            }
        }
        println!("{}", bold("what happened"));
        for (title, secs) in &timings {
            println!("  {secs:>7.2}s  {title}");
        }
        println!("  {:>7.2}s  total", total.elapsed().as_secs_f64());
        if a.console {
            crate::cmd::console::demo(&d.kubeconfig, &d.namespace, &d.app).await?;
        }
        if a.keep {
            println!("\nthe simulated cluster keeps running; try:\n  kubectl --kubeconfig {} get all -n {}\nCtrl-C to stop", d.kubeconfig.display(), d.namespace);
            tokio::signal::ctrl_c().await?;
        }
        if let Some(sim) = d.sim.take() {
            sim.shutdown().await;
        }
        Ok(0)
    })
}
