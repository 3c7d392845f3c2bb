//! Benchmark: load + render of realistic charts, berth vs Helm v4 side by side.
//!
//!     export BERTH_TEST_HELM_PYTHON=~/.cache/berth-venv-helm/bin/python   # scripts/setup.d/10-helm-oracle.sh
//!     cargo run --release -p berth-chart --example bench_render [-- RUNS]
//!     cargo run --release -p berth-chart --example bench_render -- RUNS --public
//!
//! With `--public` it measures the public chart corpus instead (tests/public-charts/, every
//! chart both renderers accept with default values): per chart the median of RUNS warm runs
//! on each side, and the sum of those medians over all charts (Helm v4 times every chart in
//! one Python process, `helm_oracle.py --batch --bench`).
//!
//! Both sides are warm (3 untimed runs first) and do the same work per run:
//! read the chart directory, coalesce values, render every template. Helm v4 runs
//! in-process through helm-python-sdk (`Chart.load` + `helm_render`, timed inside
//! Python by `scripts/helm_oracle.py --bench`). Reported: median (and min) per run.
//!
//! `BERTH_BENCH_CHART=SUBSTR` measures only the charts whose name contains SUBSTR.
//!
//! berth is measured twice: "first" clears the process's parse memos before every run
//! (`berth_chart::clear_caches`: what a one-shot `berth template` pays), "again" keeps them
//! (what `berth dev`, the vendor server or the console pay to render an unchanged chart
//! again: the files are still read, values and templates are not parsed again).

use berth_chart::{Chart, RenderOptions};
/// The allocator of the `berth` binary, so the benchmark measures what it runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn floats(v: &Value) -> Value {
    match v {
        Value::Number(n) => serde_json::Number::from_f64(n.as_f64().unwrap_or(0.0))
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Value::Array(a) => Value::Array(a.iter().map(floats).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), floats(v))).collect()),
        other => other.clone(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn berth(
    dir: &Path,
    values: &Map<String, Value>,
    runs: usize,
    first: bool,
) -> Result<(f64, f64, usize), String> {
    let opts = RenderOptions {
        values: values.clone(),
        ..RenderOptions::default()
    };
    let once = || -> Result<usize, String> {
        let c = Chart::load(dir).map_err(|e| e.to_string())?;
        let r = berth_chart::render(&c, &opts).map_err(|e| e.to_string())?;
        Ok(r.manifests.len() + r.hooks.len())
    };
    let mut objects = 0;
    for _ in 0..3 {
        objects = once()?;
    }
    let mut times = Vec::with_capacity(runs);
    // For profiling one of the two: BERTH_BENCH_ONLY=first or =again times the other once.
    let only = std::env::var("BERTH_BENCH_ONLY").ok();
    let runs = match only.as_deref() {
        Some("first") if !first => 1,
        Some("again") if first => 1,
        _ => runs,
    };
    for _ in 0..runs {
        if first {
            berth_chart::clear_caches();
        }
        let t = Instant::now();
        once()?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let min = times.iter().copied().fold(f64::INFINITY, f64::min);
    Ok((median(times), min, objects))
}

fn helm(
    python: &str,
    dir: &Path,
    values: &Map<String, Value>,
    runs: usize,
) -> Result<(f64, f64), String> {
    let tmp = std::env::temp_dir().join(format!("berth-bench-values-{}.json", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec(values).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let out = std::process::Command::new(python)
        .arg(root().join("scripts/helm_oracle.py"))
        .arg(dir)
        .arg("--values")
        .arg(&tmp)
        .arg("--bench")
        .arg(runs.to_string())
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    let _ = std::fs::remove_file(&tmp);
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "oracle output: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    Ok((
        v["median_ms"].as_f64().ok_or("no median_ms")?,
        v["min_ms"].as_f64().ok_or("no min_ms")?,
    ))
}

#[path = "../../../testing/public_charts.rs"]
mod public_charts;

/// Helm's per-chart medians (ms) for `charts`, `None` where Helm fails.
fn helm_batch(
    python: &str,
    charts: &[public_charts::PublicChart],
    runs: usize,
) -> Vec<Option<f64>> {
    let jobs: Vec<Value> = charts
        .iter()
        .map(|c| serde_json::json!({ "chart": c.dir }))
        .collect();
    let list = std::env::temp_dir().join(format!("berth-bench-jobs-{}.json", std::process::id()));
    if std::fs::write(&list, serde_json::to_vec(&jobs).unwrap_or_default()).is_err() {
        return vec![None; charts.len()];
    }
    let out = std::process::Command::new(python)
        .arg(root().join("scripts/helm_oracle.py"))
        .args(["--batch".as_ref(), list.as_os_str()])
        .args(["--bench", &runs.to_string()])
        .output();
    let _ = std::fs::remove_file(&list);
    let parsed: Vec<Value> = out
        .ok()
        .and_then(|o| serde_json::from_slice(&o.stdout).ok())
        .unwrap_or_default();
    (0..charts.len())
        .map(|i| parsed.get(i).and_then(|v| v["median_ms"].as_f64()))
        .collect()
}

/// The public corpus: sum over charts of the per-chart medians, berth vs Helm v4.
fn public(runs: usize, python: Option<&str>) {
    let Ok(tmp) = tempfile::tempdir() else {
        eprintln!("cannot create a temporary directory");
        return;
    };
    let mut charts = public_charts::unpack(tmp.path());
    // BERTH_CORPUS_ONLY=SUBSTR measures only the charts whose id contains it.
    if let Ok(only) = std::env::var("BERTH_CORPUS_ONLY") {
        charts.retain(|c| c.id().contains(&only));
    }
    let helm: Vec<Option<f64>> = match python {
        Some(p) => helm_batch(p, &charts, runs),
        None => vec![None; charts.len()],
    };
    let (mut fsum, mut bsum, mut hsum, mut n) = (0.0, 0.0, 0.0, 0usize);
    let mut logs = (0.0, 0.0);
    // The same sums over the charts that generate no RSA key (whose time on both sides is
    // mostly a random prime search).
    let (mut kf, mut kb, mut kh, mut kn) = (0.0, 0.0, 0.0, 0usize);
    println!(
        "{:<44} {:>10} {:>10} {:>10} {:>7} {:>7}",
        "chart", "first ms", "again ms", "helm ms", "first", "again"
    );
    for (c, h) in charts.iter().zip(helm) {
        let keys_before = berth_template::rsa_keys_generated();
        let Ok((fm, _, _)) = berth(&c.dir, &Map::new(), runs, true) else {
            continue;
        };
        let makes_keys = berth_template::rsa_keys_generated() > keys_before;
        let Ok((bm, _, _)) = berth(&c.dir, &Map::new(), runs, false) else {
            continue;
        };
        match h {
            Some(hm) => {
                println!(
                    "{:<44} {fm:>10.3} {bm:>10.3} {hm:>10.3} {:>6.1}x {:>6.1}x{}",
                    c.id(),
                    hm / fm,
                    hm / bm,
                    if makes_keys { "  (RSA keys)" } else { "" }
                );
                if !makes_keys {
                    kf += fm;
                    kb += bm;
                    kh += hm;
                    kn += 1;
                }
                fsum += fm;
                bsum += bm;
                hsum += hm;
                logs.0 += (hm / fm).ln();
                logs.1 += (hm / bm).ln();
                n += 1;
            }
            None => println!("{:<44} {fm:>10.3} {bm:>10.3} {:>10}", c.id(), "-"),
        }
    }
    if n > 0 {
        println!(
            "total over {n} charts both render: berth first {fsum:.1} ms ({:.2}x), again {bsum:.1} ms ({:.2}x), helm v4 {hsum:.1} ms; geometric mean of ratios: first {:.2}x, again {:.2}x",
            hsum / fsum,
            hsum / bsum,
            (logs.0 / n as f64).exp(),
            (logs.1 / n as f64).exp()
        );
        println!(
            "total over the {kn} of them that generate no RSA key: berth first {kf:.1} ms ({:.2}x), again {kb:.1} ms ({:.2}x), helm v4 {kh:.1} ms",
            kh / kf,
            kh / kb
        );
    }
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let python = std::env::var("BERTH_TEST_HELM_PYTHON").ok();
    if std::env::args().any(|a| a == "--public") {
        public(runs, python.as_deref());
        return;
    }
    if python.is_none() {
        eprintln!(
            "BERTH_TEST_HELM_PYTHON is not set: measuring berth only (run scripts/setup.d/10-helm-oracle.sh)"
        );
    }
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let hello_values: Map<String, Value> =
        serde_json::from_str(r#"{"postgresql": {"password": "s3cret"}}"#).unwrap_or_default();
    let mut charts: Vec<(String, PathBuf, Map<String, Value>)> = [
        "real-webapp",
        "real-platform",
        "real-operator",
        "real-monitoring",
    ]
    .iter()
    .map(|n| (n.to_string(), corpus.join(n), Map::new()))
    .filter(|(_, p, _)| p.join("Chart.yaml").exists())
    .collect();
    let hello = root().join("examples/hello/chart");
    if hello.join("Chart.yaml").exists() {
        charts.push(("examples/hello".into(), hello, hello_values));
    }
    // For profiling one chart: BERTH_BENCH_CHART=SUBSTR.
    if let Ok(only) = std::env::var("BERTH_BENCH_CHART") {
        charts.retain(|(n, _, _)| n.contains(&only));
    }
    println!("load + render, warm, median of {runs} runs (min in brackets)");
    println!(
        "{:<18} {:>8} {:>18} {:>18} {:>18} {:>7} {:>7}",
        "chart", "objects", "berth first ms", "berth again ms", "helm v4 ms", "first", "again"
    );
    let mut ratios = Vec::new();
    let mut first_ratios = Vec::new();
    for (name, dir, values) in &charts {
        let values = floats(&Value::Object(values.clone()))
            .as_object()
            .cloned()
            .unwrap_or_default();
        let (fm, fmin, _) = match berth(dir, &values, runs, true) {
            Ok(x) => x,
            Err(e) => {
                println!("{name:<18} berth failed: {e}");
                continue;
            }
        };
        let (bm, bmin, objects) = match berth(dir, &values, runs, false) {
            Ok(x) => x,
            Err(e) => {
                println!("{name:<18} berth failed: {e}");
                continue;
            }
        };
        let first = format!("{fm:.3} [{fmin:.3}]");
        let again = format!("{bm:.3} [{bmin:.3}]");
        let helm = python.as_deref().map(|p| helm(p, dir, &values, runs));
        match helm {
            Some(Ok((hm, hmin))) => {
                ratios.push(hm / bm);
                first_ratios.push(hm / fm);
                println!(
                    "{name:<18} {objects:>8} {first:>18} {again:>18} {:>18} {:>6.1}x {:>6.1}x",
                    format!("{hm:.3} [{hmin:.3}]"),
                    hm / fm,
                    hm / bm
                );
            }
            Some(Err(e)) => {
                println!("{name:<18} {objects:>8} {first:>18} {again:>18} helm failed: {e}")
            }
            None => println!(
                "{name:<18} {objects:>8} {first:>18} {again:>18} {:>18}",
                "-"
            ),
        }
    }
    let geo = |r: &[f64]| (r.iter().map(|r| r.ln()).sum::<f64>() / r.len() as f64).exp();
    if !ratios.is_empty() {
        println!(
            "geometric mean speed-up over Helm v4: first {:.1}x, again {:.1}x",
            geo(&first_ratios),
            geo(&ratios)
        );
    }
}
