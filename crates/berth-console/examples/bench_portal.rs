//! The vendor portal's page times on a large vendor database.
//!
//! `cargo run -p berth-console --example bench_portal -- [RUNS] [SEED]`
//!
//! Builds a SQLite vendor database in a temp dir: one app with 200 releases on its three
//! channels (each with a kept scan, so every row shows a scan summary), 1,000 customers each
//! with a license (created and issued through the service, as the API does), and 5,000
//! instances reported by update checks through the service (written in one batch, as the
//! server does). Then it calls the portal's router in-process (no network; logged in with the
//! admin token) RUNS times per page, beside a bare axum handler answering a constant page
//! (the framework's floor on this machine), and prints p50/p95 server time per page with the
//! capability's 50 ms budget as a ratio. Release versions of instances come from a seeded
//! generator (the seed is printed; pass it to repeat a run).

use berth_vendor::db::{Param, now_ms};
use berth_vendor::model::*;
use berth_vendor::service::{Actor, Service};
use std::sync::Arc;
use std::time::Instant;

const RELEASES: usize = 200;
const CUSTOMERS: usize = 1000;
const INSTANCES: usize = 5000;

#[path = "common/mod.rs"]
mod common;
use common::{Res, percentile, session, time_page};

/// A small deterministic generator (xorshift64*), so a run can be repeated from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn version(i: usize) -> String {
    format!("{}.{}.{}", 1 + i / 100, (i / 10) % 10, i % 10)
}

/// A kept scan: one image, one finding (fixable every third release, so some block).
fn scan(i: usize) -> String {
    use berth_scan::osv::{FixState, Severity};
    use berth_scan::report::{Finding, ScanReport, TargetReport};
    let report = ScanReport {
        targets: vec![TargetReport {
            name: format!("registry.example.com/hello/web:{}", version(i)),
            digest: None,
            distro: None,
            packages: vec![],
            findings: vec![Finding {
                package: "libexample1".into(),
                version: "1.0-1".into(),
                matched_name: "libexample".into(),
                matched_version: "1.0-1".into(),
                ecosystem: "Debian:12".into(),
                advisory: format!("CVE-2026-{:05}", 10000 + i),
                aliases: vec![],
                summary: None,
                severity: Severity::High,
                fix: if i.is_multiple_of(3) {
                    FixState::Fixed("1.0-2".into())
                } else {
                    FixState::NotFixed
                },
                path: "var/lib/dpkg/status".into(),
                layer: None,
                vex: None,
            }],
            not_scanned: vec![],
        }],
    };
    serde_json::to_string(&report).unwrap_or_default()
}

/// 200 releases, on stable (every second), beta (the newest 100) and unstable (the newest
/// 50), each with a kept scan for the server's scanner key.
async fn releases(svc: &Service, scanner_key: &str) -> Res<()> {
    let now = now_ms();
    for i in 0..RELEASES {
        let v = version(i);
        let index = format!("sha256:{:064x}", i + 1);
        let eol = (i < 20).then_some(now - 86_400_000);
        svc.db
            .exec(
                "INSERT INTO releases (app, version, index_digest, notes, required, eol_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    Param::Text("hello"),
                    Param::Text(&v),
                    Param::Text(&index),
                    Param::Text(&format!("Release {v}: fixes and improvements.")),
                    Param::Int(i.is_multiple_of(25) as i64),
                    Param::OptInt(eol),
                    Param::Int(now - (RELEASES - i) as i64 * 3_600_000),
                ],
            )
            .await?;
        let mut chans = vec![];
        if i.is_multiple_of(2) {
            chans.push("stable");
        }
        if i >= RELEASES - 100 {
            chans.push("beta");
        }
        if i >= RELEASES - 50 {
            chans.push("unstable");
        }
        for ch in chans {
            svc.db
                .exec(
                    "INSERT INTO channel_releases (app, channel, version, promoted_at) VALUES ($1, $2, $3, $4)",
                    &[Param::Text("hello"), Param::Text(ch), Param::Text(&v), Param::Int(now)],
                )
                .await?;
        }
        svc.db
            .exec(
                "INSERT INTO release_scans (index_digest, scanner, scanned_at, report) VALUES ($1, $2, $3, $4)",
                &[
                    Param::Text(&index),
                    Param::Text(scanner_key),
                    Param::Int(now),
                    Param::Text(&scan(i)),
                ],
            )
            .await?;
    }
    svc.invalidate();
    Ok(())
}

/// 1,000 customers with a license each, and 5,000 instances reported through update checks.
async fn customers(svc: &Service, actor: &Actor, rng: &mut Rng) -> Res<()> {
    let mut licensees = Vec::with_capacity(CUSTOMERS);
    for c in 0..CUSTOMERS {
        let name = format!("customer-{c:04}");
        svc.create_customer(
            actor,
            &NewCustomer {
                name: name.clone(),
                app: "hello".into(),
                channels: vec![
                    if c.is_multiple_of(5) {
                        "beta"
                    } else {
                        "stable"
                    }
                    .into(),
                ],
                license_type: "paid".into(),
                expires_at: Some(
                    if c.is_multiple_of(10) {
                        "2025-01-01"
                    } else {
                        "2030-01-01"
                    }
                    .into(),
                ),
                airgap: c.is_multiple_of(7),
                snapshots: false,
                support_bundle_upload: false,
                cluster_id: None,
                entitlements: vec!["seats=int:50".into()],
            },
        )
        .await?;
        let doc = svc.issue_license(actor, &name, "http://127.0.0.1").await?;
        let lic = berth_license::License::parse(&doc, "issued")?;
        licensees.push(lic.bearer());
    }
    for n in 0..INSTANCES {
        let who = svc
            .authenticate_license(&licensees[n % CUSTOMERS])
            .await?
            .ok_or("an issued license does not authenticate")?;
        let stable_version = version(2 * rng.below(RELEASES / 2));
        svc.check_updates(
            &who,
            &UpdateCheck {
                current_version: Some(stable_version),
                target_version: None,
                channel: None,
                instance: InstanceReport {
                    cluster_id: format!("{:08x}-0000-4000-8000-{n:012}", rng.next() as u32),
                    kube_version: format!("v1.{}.{}", 28 + rng.below(4), rng.below(10)),
                    distribution: ["k3s", "eks", "gke", "openshift"][rng.below(4)].into(),
                    ready: "ready".into(),
                    berth_version: "0.1.0".into(),
                },
            },
        )
        .await?;
    }
    svc.flush_instances().await?;
    Ok(())
}

fn main() -> Res<()> {
    // Pages are timed one at a time: the figures are server time, not throughput.
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let seed: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| now_ms() as u64 | 1);
    println!("seed {seed}, {runs} runs per page");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(runs, seed))
}

async fn run(runs: usize, seed: u64) -> Res<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let osv = dir.path().join("osv");
    std::fs::create_dir_all(&osv)?;
    std::fs::create_dir_all(&data)?;
    let db = berth_vendor::db::Db::connect(None, &data).await?;
    let store = berth_vendor::store::Store::open(&data, 1 << 30)?;
    let (mut svc, first) = Service::start(db, store, &data).await?;
    let gate = Arc::new(berth_vendor::scan_gate::ScanGate::load(&osv, None)?);
    svc.scanner = Some(gate.clone());
    let token = std::fs::read_to_string(first.ok_or("not a new database")?)?
        .trim()
        .to_string();
    let actor = svc
        .authenticate(&token)
        .await?
        .ok_or("the admin token does not authenticate")?;
    svc.create_app(&actor, "hello").await?;
    let t = Instant::now();
    releases(&svc, gate.key()).await?;
    customers(&svc, &actor, &mut Rng(seed)).await?;
    eprintln!(
        "database: {RELEASES} releases, {CUSTOMERS} customers with licenses, {INSTANCES} instances in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    let app = berth_console::portal::router(svc.clone(), "http://127.0.0.1".into(), false);
    let cookie = session(
        &app,
        "/portal/login",
        &format!("token={token}"),
        "berth_portal",
    )
    .await?;
    let bare = axum::Router::new().route(
        "/",
        axum::routing::get(|| async { axum::response::Html("<!doctype html><p>ok</p>") }),
    );
    let newest = version(RELEASES - 1);
    let pages: Vec<(String, String)> = vec![
        ("bare axum handler (floor)".into(), "/".into()),
        ("Apps `/portal/`".into(), "/portal/".into()),
        (
            format!("Releases `/portal/apps/hello` ({RELEASES} releases, 3 channels)"),
            "/portal/apps/hello".into(),
        ),
        (
            "Release `/portal/apps/hello/releases/V`".into(),
            format!("/portal/apps/hello/releases/{newest}"),
        ),
        (
            format!("Instances `/portal/apps/hello/instances` ({INSTANCES}, 200 a page)"),
            "/portal/apps/hello/instances".into(),
        ),
        (
            format!("Customers `/portal/customers` ({CUSTOMERS} rows)"),
            "/portal/customers".into(),
        ),
        (
            "Customer `/portal/customers/NAME`".into(),
            "/portal/customers/customer-0500".into(),
        ),
        ("Login `/portal/login`".into(), "/portal/login".into()),
    ];
    println!("| page | server p50 ms | server p95 ms | HTML bytes | p50 / 50 ms budget |");
    println!("|---|---|---|---|---|");
    for (i, (name, path)) in pages.iter().enumerate() {
        let router = if i == 0 { &bare } else { &app };
        // The login page is timed logged out (a session is sent on to the apps).
        let cookie = if path.ends_with("/login") {
            ""
        } else {
            cookie.as_str()
        };
        // One untimed request first (first reads of the scans fill the scanner's memory).
        time_page(router, path, cookie, 1).await?;
        let (ms, size) = time_page(router, path, cookie, runs).await?;
        let p50 = percentile(&ms, 0.5);
        println!(
            "| {name} | {p50:.2} | {:.2} | {size} | {:.0}% |",
            percentile(&ms, 0.95),
            p50 / 50.0 * 100.0
        );
    }
    // Where the instances page's time goes: the service's list alone.
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        svc.instances("hello").await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "\n`Service::instances` of {INSTANCES} instances alone: p50 {:.2} ms, p95 {:.2} ms",
        percentile(&ms, 0.5),
        percentile(&ms, 0.95)
    );
    Ok(())
}
