//! The support-matrix benchmark: the 48-cell matrix of examples/hello (Kubernetes 1.28..1.35 ×
//! generic, k3s, eks × online/air-gapped), every cell on its own simulated cluster. Prints the
//! wall time, the sum of the cells' own times (what running them one after another would cost)
//! and the median and slowest time of every step.
//!
//! `cargo run -p berth-matrix --example matrix_bench [-- JOBS]` from the repository root.

use berth_matrix::{MatrixOptions, plan};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let jobs: usize = std::env::args()
        .nth(1)
        .and_then(|j| j.parse().ok())
        .unwrap_or(48);
    let out = tempfile::tempdir()?;
    let cells = plan::cells(
        &plan::parse_kube("1.28..1.35")?,
        &plan::parse_distributions("generic,k3s,eks")?,
        plan::AirgapMode::Both,
    );
    let mut values_for = BTreeMap::new();
    // examples/hello defaults to the nginx class; k3s ships Traefik, EKS the AWS ALB class.
    for (d, class) in [("k3s", "traefik"), ("eks", "alb")] {
        values_for.insert(
            d.to_string(),
            BTreeMap::from([("ingress_class".to_string(), json!(class))]),
        );
    }
    let opts = MatrixOptions {
        app_dir: "examples/hello".into(),
        upgrade_from: None,
        cells,
        jobs,
        out_dir: out.path().to_path_buf(),
        values: BTreeMap::new(),
        values_for,
        timeout: Duration::from_secs(120),
        fail_fast: Duration::from_secs(4),
        profile: None,
        registry_auth: false,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(berth_matrix::run(opts, &|_| {}))?;
    let serial: f64 = report.cells.iter().map(|c| c.seconds).sum();
    let cpu = cpu_seconds();
    let mut steps: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for c in &report.cells {
        for s in &c.steps {
            steps.entry(s.step.clone()).or_default().push(s.seconds);
        }
    }
    println!(
        "| matrix | cells | failed | jobs | wall s | CPU s (user+sys) | sum of cells s | speed-up |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| examples/hello 1.28..1.35 × generic,k3s,eks × online,air-gapped | {} | {} | {} | {:.1} | {} | {:.1} | {:.1}× |",
        report.cells.len(),
        report.failed(),
        report.jobs,
        report.seconds,
        cpu.map(|c| format!("{c:.1}")).unwrap_or("?".into()),
        serial,
        serial / report.seconds
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "\nload average at the end (other processes included): {}",
            load.trim()
        );
    }
    println!("\n| step | median s | max s |\n|---|---|---|");
    for (name, mut v) in steps {
        v.sort_by(|a, b| a.total_cmp(b));
        println!(
            "| {name} | {:.2} | {:.2} |",
            v[v.len() / 2],
            v.last().copied().unwrap_or(0.0)
        );
    }
    if report.failed() > 0 {
        for c in report.cells.iter().filter(|c| !c.passed) {
            eprintln!("failed: {} at {:?}: {:?}", c.id, c.failed_step, c.diagnosis);
        }
        return Err("some cells failed".into());
    }
    Ok(())
}

/// This process's user + system CPU time (Linux `/proc/self/stat`, in clock ticks of 1/100 s).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
