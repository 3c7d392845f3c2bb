//! Benchmark of the vendor's inner loop (`berth dev`): from a template's write to "applied and
//! ready" on an in-process simulated cluster, over N edits (default 40) of examples/hello and
//! of a real public chart with 50+ templates (prometheus-community/prometheus, 78 templates
//! with its four subcharts). Each edit changes a pod label of one workload, so every change
//! is a rollout the loop waits on. Beside it, the anchor in the same run when
//! `BERTH_TEST_HELM_PYTHON` names a Python with helm-python-sdk: Helm v4's `upgrade` of the
//! same chart with the same edit, waiting for readiness (kstatus), timed from the same write.
//!
//! Besides the total, each berth change is split into the loop's own work (lint, render,
//! diff, apply: the change's time minus the engine's hook and readiness waits) and the time
//! the simulated cluster takes to run hooks and become ready, which no tool can shorten: the
//! simulator plays probe delays at `timeScale` and runs Job pods for `faults.jobRunFor`.
//! Without TIME_SCALE the cluster runs as `berth dev` starts it (`Profile::sped_up`: probe
//! delays 1000x faster, Job pods 10 ms); `10 1s` is the profile of `berth cluster sim`.
//!
//! Run: `cargo run --release -p berth-ops --example bench_dev [-- EDITS [TIME_SCALE [JOB_RUN_FOR]]]`.
//! JOB_RUN_FOR (e.g. `50ms`) is the profile's `faults.jobRunFor`: how long the simulator runs
//! a Job's pod (default 1 s of wall time, not scaled by `timeScale`), which hello's
//! `pre-upgrade` migration Job pays on every save.

#[path = "../../../testing/public_charts.rs"]
mod public_charts;

use berth_kube_sim::{SimOptions, Simulator};
use berth_ops::dev::{DevEvent, DevInput};
use berth_ops::{Cancel, Event};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The allocator of the `berth` binary, so the benchmark measures what it runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One benchmark case: a chart, the file edited and the line after which a label goes.
struct Case {
    name: &'static str,
    chart: PathBuf,
    template: &'static str,
    after: &'static str,
    indent: usize,
    /// Helm values the chart needs (JSON), for the Helm anchor.
    helm_values: &'static str,
}

fn copy_dir(src: &Path, dst: &Path) {
    for e in walk(src) {
        let to = dst.join(e.strip_prefix(src).expect("inside"));
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&e, &to).expect("copy");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The template with a pod label whose value is `n`.
fn edited(original: &str, case: &Case, n: usize) -> String {
    let at = original
        .find(case.after)
        .unwrap_or_else(|| panic!("{}: no {:?} in {}", case.name, case.after, case.template))
        + case.after.len();
    format!(
        "{}{}bench.berth.dev/edit: \"{n}\"\n{}",
        &original[..at],
        " ".repeat(case.indent),
        &original[at..]
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Seconds from each write to the dev loop's "applied and ready".
/// Seconds from each write to the dev loop's "applied and ready", and the loop's own seconds
/// of each change (without the waits for hooks and readiness).
async fn bench_berth(
    sim_kc: &Path,
    work: &Path,
    case: &Case,
    edits: usize,
) -> (Vec<f64>, Vec<f64>) {
    let app = work.join(format!("berth-{}", case.name));
    copy_dir(&case.chart, &app.join("chart"));
    if !app.join("berth.yaml").is_file() {
        std::fs::write(
            app.join("berth.yaml"),
            format!(
                "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: {0}\n  version: 1.0.0\nspec:\n  components:\n    - name: {0}\n      chart:\n        path: chart\n      releaseName: r\n",
                case.name
            ),
        )
        .expect("berth.yaml");
    }
    let template = app.join("chart").join(case.template);
    let original = std::fs::read_to_string(&template).expect("template");
    let target = berth_ops::deploy::Target {
        kubeconfig: Some(sim_kc.to_path_buf()),
        namespace: Some(format!("dev-{}", case.name)),
        timeout: Duration::from_secs(240),
        ..Default::default()
    };
    let input = DevInput {
        app_dir: app.clone(),
        max_iterations: Some(edits as u32),
        ..DevInput::default()
    };
    let (sink, mut rx) = berth_ops::channel();
    let cancel = Cancel::new();
    // The loop and the editor run on one task (the simulator on others), as in `berth dev`.
    let editor = async {
        let mut own = Vec::with_capacity(edits);
        let mut next_applied = async |iteration: u32| loop {
            match rx.recv().await {
                Some(Event::Dev {
                    event: DevEvent::Applied(a),
                }) if a.iteration == iteration => {
                    assert!(a.ok, "{}: change {iteration} failed: {a:?}", case.name);
                    if std::env::var_os("BENCH_DEV_PHASES").is_some() {
                        eprintln!("{} {iteration} {:.3} {:?}", case.name, a.seconds, a.phases);
                    }
                    let waits: f64 = a
                        .phases
                        .iter()
                        .filter(|(p, _)| matches!(p.as_str(), "wait" | "pre-hooks" | "post-hooks"))
                        .map(|(_, s)| s)
                        .sum();
                    return a.seconds - waits;
                }
                Some(Event::Dev {
                    event: DevEvent::Problems { problems, .. },
                }) => panic!("{}: {problems:?}", case.name),
                Some(_) => {}
                None => panic!("{}: the dev loop ended", case.name),
            }
        };
        next_applied(0).await;
        let mut out = Vec::with_capacity(edits);
        for n in 1..=edits {
            let text = edited(&original, case, n);
            let t = Instant::now();
            std::fs::write(&template, text).expect("write");
            own.push(next_applied(n as u32).await);
            out.push(t.elapsed().as_secs_f64());
        }
        (out, own)
    };
    let (res, out) = tokio::join!(berth_ops::dev::run(&target, &input, sink, &cancel), editor);
    res.expect("dev loop");
    out
}

const HELM_SCRIPT: &str = r#"
import sys, time, helm_python as h
import json
kc, chart, template, after, indent, edits, ns, values = sys.argv[1:9]
values = json.loads(values)
original = open(template).read()
at = original.index(after) + len(after)
cfg = h.Config(kubeconfig_path=kc, storage_driver="secret", namespace=ns)
cfg.install(chart, "r", values, create_namespace=True, wait="watcher", timeout=240)
for n in range(1, int(edits) + 1):
    text = original[:at] + " " * int(indent) + f'bench.berth.dev/edit: "{n}"\n' + original[at:]
    t = time.time()
    with open(template, "w") as f:
        f.write(text)
    cfg.upgrade(chart, "r", values, wait="watcher", timeout=240)
    print(time.time() - t, flush=True)
"#;

/// Seconds from each write to `helm upgrade --wait` returning (helm-python-sdk, warm).
fn bench_helm(py: &str, sim_kc: &Path, work: &Path, case: &Case, edits: usize) -> Vec<f64> {
    let chart = work.join(format!("helm-{}", case.name));
    copy_dir(&case.chart, &chart);
    let out = std::process::Command::new(py)
        .arg("-c")
        .arg(HELM_SCRIPT)
        .arg(sim_kc)
        .arg(&chart)
        .arg(chart.join(case.template))
        .arg(case.after)
        .arg(case.indent.to_string())
        .arg(edits.to_string())
        .arg(format!("helm-{}", case.name))
        .arg(case.helm_values)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "helm driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn row(name: &str, who: &str, v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let (p50, p95) = (percentile(v, 0.5), percentile(v, 0.95));
    println!(
        "| {name} | {who} | {} | {:.0} | {:.0} | {:.0} |",
        v.len(),
        p50 * 1000.0,
        p95 * 1000.0,
        v.last().copied().unwrap_or(f64::NAN) * 1000.0
    );
    (p50, p95)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let edits: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(40);
    // Without TIME_SCALE: the profile `berth dev` gives its simulated cluster.
    let (time_scale, job_run_for) = match std::env::args().nth(2).and_then(|a| a.parse().ok()) {
        Some(ts) => (ts, std::env::args().nth(3)),
        None => {
            let p = berth_kube_sim::Profile::default().sped_up(berth_ops::dev::DEV_SIM_SPEED);
            (p.time_scale, p.faults.job_run_for)
        }
    };
    println!(
        "simulator timeScale {time_scale}; Job pods run {}; {edits} edits per chart and tool\n",
        job_run_for.as_deref().unwrap_or("1s (default)")
    );
    let work = tempfile::tempdir().expect("tempdir");
    let corpus = public_charts::unpack(&work.path().join("corpus"));
    let prometheus = corpus
        .iter()
        .find(|c| c.id() == "prometheus-community/prometheus")
        .expect("prometheus-community/prometheus is in the corpus")
        .dir
        .clone();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let hello = work.path().join("hello-src");
    copy_dir(&root.join("examples/hello"), &hello);
    let cases = [
        Case {
            name: "hello",
            chart: hello.join("chart"),
            template: "templates/deployment.yaml",
            after: "        {{- include \"hello.selectorLabels\" . | nindent 8 }}\n",
            indent: 8,
            helm_values: r#"{"postgresql": {"password": "bench"}}"#,
        },
        Case {
            name: "prometheus",
            chart: prometheus,
            template: "templates/deploy.yaml",
            after: "        {{- include \"prometheus.server.labels\" . | nindent 8 }}\n",
            indent: 8,
            helm_values: "{}",
        },
    ];
    let helm_py = std::env::var("BERTH_TEST_HELM_PYTHON").ok();
    println!("| chart | tool | edits | p50 ms | p95 ms | max ms |");
    println!("|---|---|---:|---:|---:|---:|");
    for case in &cases {
        // examples/hello is the whole app (berth.yaml with its config); a public chart is
        // wrapped in a one-component berth.yaml.
        if case.name == "hello" {
            let app = work.path().join("berth-hello");
            copy_dir(&root.join("examples/hello"), &app);
        }
        // Each tool gets a fresh simulated cluster.
        let (sim, kc) = cluster(
            work.path(),
            &format!("{}-berth", case.name),
            time_scale,
            job_run_for.clone(),
        )
        .await;
        let (mut b, mut own) = bench_berth(&kc, work.path(), case, edits).await;
        sim.shutdown().await;
        let (_, b95) = row(case.name, "berth dev: save to applied and ready", &mut b);
        row(
            case.name,
            "berth dev: own work (lint, render, diff, apply)",
            &mut own,
        );
        if let Some(py) = &helm_py {
            let (sim, kc) = cluster(
                work.path(),
                &format!("{}-helm", case.name),
                time_scale,
                job_run_for.clone(),
            )
            .await;
            let mut h = bench_helm(py, &kc, work.path(), case, edits);
            sim.shutdown().await;
            let (_, h95) = row(case.name, "helm upgrade --wait", &mut h);
            println!(
                "| {} | p95 ratio helm / berth | | | {:.2}x | |",
                case.name,
                h95 / b95
            );
        }
    }
}

async fn cluster(
    work: &Path,
    name: &str,
    time_scale: f64,
    job_run_for: Option<String>,
) -> (Simulator, PathBuf) {
    let sim = Simulator::start(SimOptions {
        profile: berth_kube_sim::Profile {
            time_scale,
            faults: berth_kube_sim::profile::ProfileFaults {
                job_run_for,
                ..Default::default()
            },
            ..Default::default()
        },
        ..SimOptions::default()
    })
    .await
    .expect("simulator");
    let kc = work.join(format!("{name}.kubeconfig"));
    sim.write_kubeconfig(&kc).expect("kubeconfig");
    (sim, kc)
}
