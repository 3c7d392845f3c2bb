//! Real Helm v4 (helm-python-sdk, BERTH_TEST_HELM_PYTHON) drives the simulator through the
//! whole life of 25 real public charts from the corpus (`testing/public_charts.rs`):
//! install, upgrade, rollback to revision 1 and uninstall, each in its own namespace; five of
//! them wait for readiness with kstatus (`wait="watcher"`) at every step. A chart passes when
//! every step succeeds; the few that a real cluster of the default profile would also refuse
//! are listed in `KNOWN` with the error they must give.

#[path = "../../../testing/public_charts.rs"]
mod public_charts;

mod common;
use common::{start, tool};
use std::collections::BTreeMap;

/// `source/chart`, and whether every step waits for readiness.
const CHARTS: &[(&str, bool)] = &[
    ("argo/argo-cd", false),
    ("argo/argo-events", false),
    ("argo/argo-rollouts", false),
    ("argo/argo-workflows", false),
    ("bitnami/kafka", false),
    ("bitnami/keycloak", false),
    ("bitnami/mongodb", false),
    ("bitnami/mysql", false),
    ("bitnami/nginx", true),
    ("bitnami/postgresql", true),
    ("bitnami/rabbitmq", false),
    ("bitnami/redis", false),
    ("bitnami/wordpress", false),
    ("dandydeveloper/redis-ha", false),
    ("grafana-community/grafana", true),
    ("grafana-community/tempo", false),
    ("prometheus-community/alertmanager", true),
    ("prometheus-community/kube-prometheus-stack", false),
    ("prometheus-community/kube-state-metrics", true),
    ("prometheus-community/prometheus", false),
    ("prometheus-community/prometheus-adapter", false),
    ("prometheus-community/prometheus-blackbox-exporter", false),
    ("prometheus-community/prometheus-node-exporter", false),
    ("prometheus-community/prometheus-statsd-exporter", false),
    ("prometheus-community/prometheus-pushgateway", false),
];

/// Charts a real cluster of the simulator's default profile refuses too, with the text of the
/// refusal that must appear.
const KNOWN: &[(&str, &str, &str)] = &[];

const SCRIPT: &str = r#"
import json, sys, time, helm_python as h
kc, root = sys.argv[1], sys.argv[2]
for spec in sys.argv[3:]:
    wait = "watcher" if spec.endswith("+wait") else None
    spec = spec.removesuffix("+wait")
    src, name = spec.split("/")
    ns = "lc-" + name[:40]
    cfg = h.Config(kubeconfig_path=kc, storage_driver="secret", namespace=ns)
    res = {"chart": spec}
    t0 = time.time()
    for step in ["install", "upgrade", "rollback", "uninstall"]:
        try:
            if step == "install":
                r = cfg.install(f"{root}/{src}/{name}", "r", {}, create_namespace=True, wait=wait, timeout=240)
            elif step == "upgrade":
                r = cfg.upgrade(f"{root}/{src}/{name}", "r", {"berthLifecycle": "2"}, wait=wait, timeout=240)
            elif step == "rollback":
                cfg.rollback("r", version=1, wait=wait, timeout=240)
            else:
                cfg.uninstall("r", wait="watcher", timeout=240)
            res[step] = "ok"
        except Exception as e:
            res[step] = str(e)
            break
    res["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(res), flush=True)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_five_public_charts_live_their_whole_life_under_helm_v4() {
    let Some(py) = tool("BERTH_TEST_HELM_PYTHON") else {
        return;
    };
    let sim = start().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let charts_dir = dir.path().join("charts");
    let corpus = public_charts::unpack(&charts_dir);
    let args: Vec<String> = CHARTS
        .iter()
        .map(|(c, wait)| {
            assert!(
                corpus.iter().any(|p| p.id() == *c),
                "{c} is not in the public chart corpus"
            );
            if *wait {
                format!("{c}+wait")
            } else {
                c.to_string()
            }
        })
        .collect();
    let out = tokio::process::Command::new(&py)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&kc)
        .arg(&charts_dir)
        .args(&args)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the Helm driver failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: BTreeMap<String, serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
        .map(|v| (v["chart"].as_str().unwrap_or_default().to_string(), v))
        .collect();
    assert_eq!(results.len(), CHARTS.len(), "{stdout}");
    let mut failures = vec![];
    let mut counts = BTreeMap::new();
    for (chart, r) in &results {
        let known = KNOWN.iter().find(|(c, _, _)| c == chart);
        for step in ["install", "upgrade", "rollback", "uninstall"] {
            let Some(s) = r[step].as_str() else { break };
            if s == "ok" {
                *counts.entry(step).or_insert(0) += 1;
            } else if let Some((_, text, _)) = known {
                assert!(
                    s.contains(text),
                    "{chart} {step}: expected {text:?}, got {s}"
                );
            } else {
                failures.push(format!("{chart} {step}: {s}"));
            }
        }
        if known.is_some() && r["uninstall"] == "ok" {
            failures.push(format!(
                "{chart} is listed as refused, but passed: drop it from KNOWN"
            ));
        }
    }
    eprintln!("steps passed: {counts:?}");
    for (c, r) in &results {
        eprintln!("{c}: {} s", r["seconds"]);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    sim.shutdown().await;
}
