//! Console page times with 2,000 objects in the app.
//!
//! `cargo run -p berth-console --example bench_console -- [RUNS]`
//!
//! Installs examples/hello plus 2,000 ConfigMaps into the in-process simulator (through
//! berth-ops, as the CLI would), then:
//! 1. server time of each page: the console's router called in-process (no network, no
//!    TLS), RUNS times per page, beside a bare axum handler answering a constant page (the
//!    floor of the framework on this machine);
//! 2. page load in Chromium (Playwright, the load event of the navigation timing) against
//!    the real HTTPS console, when BERTH_TEST_PLAYWRIGHT_PYTHON and BERTH_TEST_CHROMIUM are set.
//!
//! Prints one table per part with the budgets (50 ms server, 500 ms load) as ratios.

use berth_console::auth::PasswordInput;
use berth_console::ops::{KubeAccess, Ops};
use berth_deploy::{Cluster, ConnectOptions};
use berth_kube_sim::{SimOptions, Simulator};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const OBJECTS: usize = 2000;
const PASSWORD: &str = "bench-password";
const PAGES: &[&str] = &[
    "/",
    "/configure",
    "/versions",
    "/preflight",
    "/troubleshoot",
    "/snapshots",
    "/login",
];

#[path = "common/mod.rs"]
mod common;
use common::{Res, percentile, session, time_page};

fn copy_dir(src: &Path, dst: &Path) -> Res<()> {
    std::fs::create_dir_all(dst)?;
    for e in std::fs::read_dir(src)? {
        let e = e?;
        let to = dst.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &to)?;
        } else {
            std::fs::copy(e.path(), &to)?;
        }
    }
    Ok(())
}

/// examples/hello with a template that renders OBJECTS ConfigMaps.
fn big_app(dir: &Path) -> Res<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
    let dst = dir.join("hello-big");
    copy_dir(&src, &dst)?;
    std::fs::write(
        dst.join("chart/templates/bench-configmaps.yaml"),
        format!(
            "{{{{- range $i := until {OBJECTS} }}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench-{{{{ $i }}}}\ndata:\n  index: \"{{{{ $i }}}}\"\n{{{{- end }}}}\n"
        ),
    )?;
    Ok(dst)
}

fn main() -> Res<()> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(runs))
}

async fn run(runs: usize) -> Res<()> {
    let dir = tempfile::tempdir()?;
    let app_dir = big_app(dir.path())?;
    let sim = Simulator::start(SimOptions::default()).await?;
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc)?;
    let cluster = Arc::new(
        Cluster::connect(&ConnectOptions {
            kubeconfig: Some(kc.clone()),
            context: None,
        })
        .await?,
    );
    let target = berth_ops::deploy::Target::connected(cluster.clone(), "hello");
    let input = berth_ops::deploy::ApplyInput {
        app_dir: Some(app_dir.clone()),
        ..Default::default()
    };
    let t = Instant::now();
    let report = berth_ops::deploy::install(
        &target,
        &input,
        Arc::new(berth_ops::Discard),
        &berth_ops::Cancel::new(),
    )
    .await?;
    if !report.ok() {
        return Err(format!("install failed: {:?}", report.error).into());
    }
    eprintln!(
        "installed {} objects in {:.1}s",
        report.plan.steps.len(),
        t.elapsed().as_secs_f64()
    );

    // 1. Server time, in-process.
    let (loaded, _) = berth_console::auth::reconcile(
        None,
        &PasswordInput {
            admin: Some(PASSWORD.into()),
            viewer: None,
        },
    )?;
    let ops = Ops::new(
        cluster.clone(),
        KubeAccess {
            kubeconfig: Some(kc.clone()),
            context: None,
        },
        "hello".into(),
        app_dir.clone(),
        Duration::from_secs(120),
        dir.path().to_path_buf(),
    );
    // Where the dashboard's time goes: the operations it calls, alone.
    let mut parts = Vec::new();
    for (name, which) in [
        ("revisions (read)", 0),
        ("history (berth-ops)", 1),
        ("status (berth-ops)", 2),
    ] {
        let mut ms = Vec::new();
        for _ in 0..runs.min(5) {
            let t = Instant::now();
            match which {
                0 => drop(ops.revisions("hello").await?),
                1 => drop(ops.history("hello").await?),
                _ => drop(ops.status("hello").await?),
            }
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        parts.push((name, percentile(&ms, 0.5)));
    }
    let router =
        berth_console::server::router(berth_console::server::state(ops, loaded.credentials, false));
    let cookie = session(
        &router,
        "/login",
        &format!("password={PASSWORD}"),
        "berth_console",
    )
    .await?;
    let bare = axum::Router::new().route(
        "/",
        axum::routing::get(|| async { axum::response::Html("<!doctype html><p>ok</p>") }),
    );
    println!(
        "\nserver time per page, in-process ({OBJECTS} extra objects; {runs} runs; budget 50 ms)\n"
    );
    println!("| page | p50 ms | p95 ms | bytes | p50 / budget |");
    println!("|---|---|---|---|---|");
    let (ms, size) = time_page(&bare, "/", "", runs).await?;
    println!(
        "| bare axum handler (floor) | {:.2} | {:.2} | {size} | {:.0}% |",
        percentile(&ms, 0.5),
        percentile(&ms, 0.95),
        percentile(&ms, 0.5) / 50.0 * 100.0
    );
    for page in PAGES {
        // The login page is for logged-out visitors (a session is sent on).
        let c = if *page == "/login" {
            ""
        } else {
            cookie.as_str()
        };
        let (ms, size) = time_page(&router, page, c, runs).await?;
        println!(
            "| {page} | {:.2} | {:.2} | {size} | {:.0}% |",
            percentile(&ms, 0.5),
            percentile(&ms, 0.95),
            percentile(&ms, 0.5) / 50.0 * 100.0
        );
    }

    println!("\noperations the dashboard calls, alone (p50 ms):\n");
    for (name, ms) in parts {
        println!("- {name}: {ms:.1}");
    }

    // 2. Page load in Chromium against the real HTTPS console.
    let python = std::env::var("BERTH_TEST_PLAYWRIGHT_PYTHON").ok();
    let chromium = std::env::var("BERTH_TEST_CHROMIUM").ok();
    if let (Some(python), Some(chromium)) = (python, chromium) {
        let console = berth_console::start_with(
            cluster.clone(),
            berth_console::ConsoleOptions {
                namespace: "hello".into(),
                app_dir,
                addr: "127.0.0.1:0".parse()?,
                kubeconfig: Some(kc),
                context: None,
                tls: None,
                passwords: PasswordInput {
                    admin: Some(PASSWORD.into()),
                    viewer: None,
                },
                timeout: Duration::from_secs(120),
                data_dir: Some(dir.path().join("data")),
                vendor_url: None,
                snapshot_repo: None,
                mover_image: None,
            },
        )
        .await?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bench_console.py");
        let out = tokio::process::Command::new(python)
            .arg(script)
            .arg(&console.url)
            .arg(PASSWORD)
            .arg(chromium)
            .arg(runs.min(10).to_string())
            .output()
            .await?;
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            return Err("the Chromium measurement failed".into());
        }
        console.shutdown().await;
    } else {
        println!(
            "\n(page load in Chromium skipped: set BERTH_TEST_PLAYWRIGHT_PYTHON and BERTH_TEST_CHROMIUM)"
        );
    }
    sim.shutdown().await;
    Ok(())
}
