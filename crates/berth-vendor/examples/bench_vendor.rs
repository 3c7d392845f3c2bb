//! Update-check throughput of the vendor server against the physical limit of this machine: a
//! bare axum handler that answers a constant, both driven by `wrk` (64 connections) side by
//! side in one run. Also: blob download through the license-authenticated endpoint against
//! docker-registry serving the same blob (when BERTH_TEST_DOCKER_REGISTRY is set).
//!
//! `cargo run --release -p berth-vendor --example bench_vendor -- [SECONDS]`
//! Needs `wrk` (Debian) on PATH; PostgreSQL rows need BERTH_TEST_POSTGRES_BIN.
//!
//! Each row runs wrk for `BERTH_BENCH_WARMUP` seconds (default 1) before the measured run.
//! `BERTH_BENCH_PG_RUNS=N` measures the PostgreSQL row N times on the same server.
//!
//! `BERTH_BENCH_SPLIT_CPUS=1` (needs `taskset`, util-linux, and at least two CPUs): the
//! servers (this process, its threads, and the PostgreSQL it starts) are pinned to CPU 0 and
//! wrk runs one thread pinned to CPU 1, so the load generator does not take the servers'
//! core — the nearest this machine gets to a load generator on another host.

use berth_oci::layout::Layout;
use berth_oci::release::{ReleaseMeta, write_app_entry};
use berth_vendor::client::{Client, ReleasePush};
use berth_vendor::model::*;
use std::path::Path;
use std::process::Command;

#[path = "../tests/pg/mod.rs"]
mod pg;

struct Row {
    name: String,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Runtime stalls during the run: timer wake-ups over 10 ms, and the longest.
    stalls: (u64, f64),
}

/// How many times the PostgreSQL row runs, one after the other on the same server
/// (`BERTH_BENCH_PG_RUNS`, default 1): the first starts seconds after PostgreSQL does.
fn pg_runs() -> u32 {
    std::env::var("BERTH_BENCH_PG_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1)
}

fn split_cpus() -> bool {
    std::env::var("BERTH_BENCH_SPLIT_CPUS").is_ok_and(|v| v == "1")
}

/// With [`split_cpus`]: every thread of this process (and what it starts later) on CPU 0.
fn pin_servers() {
    if !split_cpus() {
        return;
    }
    let pid = std::process::id().to_string();
    let ok = Command::new("taskset")
        .args(["-a", "-c", "-p", "0", &pid])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "taskset could not pin the servers to CPU 0");
}

/// Lateness of a 1 ms timer on the servers' runtime: whether the whole runtime stalls (no
/// task runs) while wrk measures, as opposed to requests waiting on something.
struct StallProbe {
    /// Timer wake-ups later than 10 ms, and the latest one, in µs.
    over_10ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    max_us: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl StallProbe {
    fn start() -> StallProbe {
        use std::sync::atomic::Ordering::Relaxed;
        let p = StallProbe {
            over_10ms: Default::default(),
            max_us: Default::default(),
        };
        let (over, max) = (p.over_10ms.clone(), p.max_us.clone());
        tokio::spawn(async move {
            loop {
                let t = std::time::Instant::now();
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                let late = t.elapsed().as_micros() as u64;
                if late > 10_000 {
                    over.fetch_add(1, Relaxed);
                }
                max.fetch_max(late, Relaxed);
            }
        });
        p
    }

    /// (wake-ups over 10 ms, longest in ms) since the last call.
    fn take(&self) -> (u64, f64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.over_10ms.swap(0, Relaxed),
            self.max_us.swap(0, Relaxed) as f64 / 1000.0,
        )
    }
}

/// Seconds of load before each measured row (`BERTH_BENCH_WARMUP`, default 1), not
/// counted: a server's first second after start (its connection pool filling, caches empty,
/// PostgreSQL's first sessions) is not the steady state the row measures.
fn warmup_secs() -> u64 {
    std::env::var("BERTH_BENCH_WARMUP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// Warm up, then measure (the probe's stalls are those of the measured run).
fn wrk(url: &str, script: &Path, secs: u64, probe: &StallProbe) -> Row {
    if warmup_secs() > 0 {
        wrk_once(url, script, warmup_secs());
    }
    probe.take();
    let mut r = wrk_once(url, script, secs);
    r.stalls = probe.take();
    r
}

fn wrk_once(url: &str, script: &Path, secs: u64) -> Row {
    let mut cmd = if split_cpus() {
        let mut c = Command::new("taskset");
        c.args(["-c", "1", "wrk", "-t1"]);
        c
    } else {
        let mut c = Command::new("wrk");
        c.arg("-t2");
        c
    };
    let out = cmd
        .args(["-c64", &format!("-d{secs}s"), "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |label: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} in wrk output:\n{text}"));
        let v = line.split_whitespace().nth(1).unwrap_or("0");
        parse_latency_or_number(v)
    };
    assert!(!text.contains("Non-2xx"), "wrk saw errors:\n{text}");
    Row {
        name: String::new(),
        rps: field("Requests/sec:"),
        p50_ms: field("50%"),
        p99_ms: field("99%"),
        stalls: (0, 0.0),
    }
}

fn parse_latency_or_number(v: &str) -> f64 {
    for (suffix, ms) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] {
        if let Some(n) = v.strip_suffix(suffix) {
            return n.parse::<f64>().unwrap_or(0.0) * ms;
        }
    }
    v.parse().unwrap_or(0.0)
}

fn lua(dir: &Path, bearer: &str, body: &str) -> std::path::PathBuf {
    let p = dir.join("post.lua");
    let script = format!(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer {bearer}\"\nwrk.body = [[{body}]]\n"
    );
    std::fs::write(&p, script).expect("lua");
    p
}

async fn bare_handler() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    let app = axum::Router::new().route(
        "/api/v1/updates",
        axum::routing::post(|| async {
            axum::Json(serde_json::json!({"app": "hello", "path": ["1.2.0"]}))
        }),
    );
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://{addr}")
}

/// A vendor server with one app, three releases on stable and one licensed customer.
async fn vendor(data: &Path, db_url: Option<&str>) -> (String, String) {
    std::fs::create_dir_all(data).expect("data dir");
    let db = berth_vendor::db::Db::connect(db_url, data)
        .await
        .expect("db");
    let store = berth_vendor::store::Store::open(data, 1 << 32).expect("store");
    let (svc, first) = berth_vendor::service::Service::start(db, store, data)
        .await
        .expect("start");
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    let app = berth_vendor::http::router(svc, url.clone(), 1e9);
    tokio::spawn(async move { axum::serve(l, app).await });
    let admin = std::fs::read_to_string(first.expect("new database")).expect("token");
    let c = Client::new(&url, admin.trim()).expect("client");
    c.create_app("hello").await.expect("app");
    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        let dir = data.join(format!("r-{v}"));
        let layout = Layout::create(&dir).expect("layout");
        let meta = ReleaseMeta {
            format: 1,
            app: "hello".into(),
            version: v.into(),
            images: vec![],
        };
        write_app_entry(
            &layout,
            &meta,
            &[("berth.yaml".into(), format!("# {v}\n").into_bytes())],
        )
        .expect("entry");
        c.push_release(
            &dir,
            ReleasePush {
                required: v == "1.1.0",
                ..Default::default()
            },
        )
        .await
        .expect("push");
        c.promote("hello", "stable", v).await.expect("promote");
    }
    c.create_customer(&NewCustomer {
        name: "acme".into(),
        app: "hello".into(),
        channels: vec!["stable".into()],
        license_type: "paid".into(),
        expires_at: None,
        airgap: false,
        snapshots: false,
        support_bundle_upload: false,
        cluster_id: None,
        entitlements: vec![],
    })
    .await
    .expect("customer");
    let lic = berth_license::License::parse(&c.issue_license("acme").await.expect("license"), "l")
        .expect("parse");
    (url, lic.bearer())
}

#[tokio::main]
async fn main() {
    let probe = StallProbe::start();
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let tmp = tempfile::tempdir().expect("tmp");
    pin_servers();
    let body = r#"{"currentVersion":"1.0.0","instance":{"clusterId":"bench-cluster","kubeVersion":"v1.33.1","distribution":"generic","ready":"ready","berthVersion":"0.1.0"}}"#;
    let mut rows = vec![];

    let bare = bare_handler().await;
    let mut r = wrk(
        &format!("{bare}/api/v1/updates"),
        &lua(tmp.path(), "x", body),
        secs,
        &probe,
    );
    r.name = "bare axum handler (constant answer)".into();
    rows.push(r);

    let (url, bearer) = vendor(&tmp.path().join("sqlite"), None).await;
    let mut r = wrk(
        &format!("{url}/api/v1/updates"),
        &lua(tmp.path(), &bearer, body),
        secs,
        &probe,
    );
    r.name = "berth vendor, SQLite".into();
    rows.push(r);

    let _pg;
    if std::env::var("BERTH_TEST_POSTGRES_BIN").is_ok() {
        _pg = pg::Postgres::start();
        let (url, bearer) = vendor(&tmp.path().join("pg"), Some(&_pg.url())).await;
        for run in 1..=pg_runs() {
            let mut r = wrk(
                &format!("{url}/api/v1/updates"),
                &lua(tmp.path(), &bearer, body),
                secs,
                &probe,
            );
            r.name = "berth vendor, PostgreSQL".into();
            if run < pg_runs() {
                r.name.push_str(&format!(" (run {run})"));
            }
            rows.push(r);
        }
        let r = rows.pop().expect("a PostgreSQL row");
        // What PostgreSQL itself did meanwhile: statements over 50 ms, checkpoints, autovacuum.
        for l in _pg.log().lines().filter(|l| {
            l.contains("duration:") || l.contains("automatic") || l.contains("checkpoint")
        }) {
            eprintln!("postgres: {l}");
        }
        rows.push(r);
    }

    let base = rows[0].rps;
    if split_cpus() {
        println!("update check, servers on CPU 0, wrk -t1 -c64 -d{secs}s on CPU 1\n");
    } else {
        println!("update check, wrk -t2 -c64 -d{secs}s\n");
    }
    println!(
        "| server | requests/s | p50 ms | p99 ms | share of bare rps | runtime stalls > 10 ms (longest) |"
    );
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.0}% | {} ({:.1} ms) |",
            r.name,
            r.rps,
            r.p50_ms,
            r.p99_ms,
            100.0 * r.rps / base,
            r.stalls.0,
            r.stalls.1
        );
    }
}
