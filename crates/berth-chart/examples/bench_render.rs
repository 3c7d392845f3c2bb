//! Benchmark: load + render of realistic charts, berth vs Helm v4 side by side.
//!
//!     export BERTH_TEST_HELM_PYTHON=~/.cache/berth-venv-helm/bin/python   # scripts/setup.d/10-helm-oracle.sh
//!     cargo run --release -p berth-chart --example bench_render [-- RUNS]
//!
//! Both sides are warm (3 untimed runs first) and do the same work per run:
//! read the chart directory, coalesce values, render every template. Helm v4 runs
//! in-process through helm-python-sdk (`Chart.load` + `helm_render`, timed inside
//! Python by `scripts/helm_oracle.py --bench`). Reported: median (and min) per run.

use berth_chart::{Chart, RenderOptions};
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
    for _ in 0..runs {
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

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let python = std::env::var("BERTH_TEST_HELM_PYTHON").ok();
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
    println!("load + render, warm, median of {runs} runs (min in brackets)");
    println!(
        "{:<18} {:>8} {:>18} {:>18} {:>8}",
        "chart", "objects", "berth ms", "helm v4 ms", "ratio"
    );
    let mut ratios = Vec::new();
    for (name, dir, values) in &charts {
        let values = floats(&Value::Object(values.clone()))
            .as_object()
            .cloned()
            .unwrap_or_default();
        let (bm, bmin, objects) = match berth(dir, &values, runs) {
            Ok(x) => x,
            Err(e) => {
                println!("{name:<18} berth failed: {e}");
                continue;
            }
        };
        let helm = python.as_deref().map(|p| helm(p, dir, &values, runs));
        match helm {
            Some(Ok((hm, hmin))) => {
                let ratio = hm / bm;
                ratios.push(ratio);
                println!(
                    "{name:<18} {objects:>8} {:>18} {:>18} {:>7.1}x",
                    format!("{bm:.3} [{bmin:.3}]"),
                    format!("{hm:.3} [{hmin:.3}]"),
                    ratio
                );
            }
            Some(Err(e)) => println!("{name:<18} {objects:>8} {bm:>10.3} helm failed: {e}"),
            None => println!(
                "{name:<18} {objects:>8} {:>18} {:>18}",
                format!("{bm:.3} [{bmin:.3}]"),
                "-"
            ),
        }
    }
    if !ratios.is_empty() {
        let geo = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
        println!("geometric mean speed-up over Helm v4: {geo:.1}x");
    }
}
