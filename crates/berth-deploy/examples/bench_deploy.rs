//! Benchmark: install of 500 and 2,000 objects into the simulator, berth versus real
//! `kubectl apply --server-side -f` of the same objects, side by side in one run; then the
//! upgrade that changes 10% of them, and the unchanged re-apply.
//!
//! Run: `cargo run --release -p berth-deploy --example bench_deploy [-- 500 2000]`.
//! kubectl is taken from `$BERTH_TEST_KUBECTL`, else `kubectl` on PATH.

use berth_deploy::engine::{Mode, Options, Quiet, Release};
use berth_deploy::policy::UpgradePolicy;
use berth_deploy::render::parse_documents;
use berth_deploy::{Cluster, ConnectOptions, Engine};
use berth_kube_sim::{SimOptions, Simulator};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `n` objects: 40% ConfigMaps, 20% Secrets, 20% Services, 20% ServiceAccounts.
/// `changed` objects (the first ones) carry a different value.
fn objects(n: usize, generation: u32, changed: usize) -> String {
    let mut docs = Vec::with_capacity(n);
    for i in 0..n {
        let g = if i < changed { generation } else { 0 };
        docs.push(match i % 5 {
            0 | 1 => format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  key: \"value-{i}-{g}\"\n  other: \"static\"\n"),
            2 => format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s-{i}\nstringData:\n  token: \"t-{i}-{g}\"\n"),
            3 => format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\n  labels: {{gen: \"g{g}\"}}\nspec:\n  selector: {{app: a{i}}}\n  ports: [{{port: 80, targetPort: 8080}}]\n"),
            _ => format!("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa-{i}\n  labels: {{gen: \"g{g}\"}}\n"),
        });
    }
    docs.join("---\n")
}

fn kubectl_bin() -> String {
    std::env::var("BERTH_TEST_KUBECTL").unwrap_or_else(|_| "kubectl".into())
}

fn kubectl_apply(
    kubeconfig: &Path,
    home: &Path,
    file: &Path,
    ns: &str,
) -> Result<Duration, String> {
    let t = Instant::now();
    let out = Command::new(kubectl_bin())
        .args(["apply", "--server-side", "-f"])
        .arg(file)
        .args(["-n", ns, "--kubeconfig"])
        .arg(kubeconfig)
        .env("HOME", home)
        .output()
        .map_err(|e| format!("cannot run kubectl: {e}"))?;
    let d = t.elapsed();
    if !out.status.success() {
        return Err(format!(
            "kubectl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(d)
}

async fn berth_apply(
    kubeconfig: &Path,
    yaml: &str,
    ns: &str,
    version: &str,
    mode: Mode,
) -> Result<(Duration, String), String> {
    let t = Instant::now();
    // A fresh client each time: discovery is part of the cost, as it is for kubectl.
    let cluster = Cluster::connect(&ConnectOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        context: None,
    })
    .await
    .map_err(|e| e.to_string())?;
    let engine = Engine::new(
        Arc::new(cluster),
        Options {
            namespace: ns.into(),
            ..Options::default()
        },
        Arc::new(Quiet),
    );
    let rel = Release {
        app: "bench".into(),
        version: version.into(),
        objects: parse_documents(yaml, "bench.yaml").map_err(|e| e.to_string())?,
        config: json!({}),
        policy: UpgradePolicy::default(),
        snapshot: serde_json::Value::Null,
    };
    let rep = engine
        .deploy(rel, mode, false)
        .await
        .map_err(|e| e.to_string())?;
    let d = t.elapsed();
    if !rep.ok() {
        return Err(format!("berth failed: {:?}", rep.error));
    }
    Ok((d, format!("{:?}", rep.outcome).to_lowercase()))
}

async fn create_ns(kubeconfig: &Path, ns: &str) -> Result<(), String> {
    let c = Cluster::connect(&ConnectOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        context: None,
    })
    .await
    .map_err(|e| e.to_string())?;
    c.create(&json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name": ns}}))
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn main() -> Result<(), String> {
    let sizes: Vec<usize> = {
        let a: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|s| s.parse().ok())
            .collect();
        if a.is_empty() { vec![500, 2000] } else { a }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let sim = Simulator::start(SimOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let kc = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kc).map_err(|e| e.to_string())?;
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        // Warm kubectl's discovery cache once, so it is not charged to the first measurement.
        let _ = Command::new(kubectl_bin())
            .args(["get", "ns", "--kubeconfig"])
            .arg(&kc)
            .env("HOME", &home)
            .output();
        let version = Command::new(kubectl_bin())
            .args(["version", "--client"])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default();
        println!(
            "berth deploy engine vs {version} (kubectl apply --server-side), simulator in-process"
        );
        println!(
            "{:<34} {:>8} {:>11} {:>11} {:>9}",
            "scenario", "objects", "kubectl s", "berth s", "speedup"
        );
        for n in sizes {
            let write = |name: &str, text: &str| -> Result<PathBuf, String> {
                let p = dir.path().join(name);
                std::fs::write(&p, text).map_err(|e| e.to_string())?;
                Ok(p)
            };
            let v1 = objects(n, 1, 0);
            let v2 = objects(n, 2, n / 10);
            let f1 = write(&format!("v1-{n}.yaml"), &v1)?;
            let f2 = write(&format!("v2-{n}.yaml"), &v2)?;
            let (kns, bns) = (format!("kubectl-{n}"), format!("berth-{n}"));
            create_ns(&kc, &kns).await?;
            let rows: [(&str, &Path, &str, &str, Mode); 3] = [
                ("install", &f1, &v1, "1.0.0", Mode::Install),
                (
                    "upgrade, 10% of objects changed",
                    &f2,
                    &v2,
                    "1.1.0",
                    Mode::Upgrade,
                ),
                ("unchanged re-apply", &f2, &v2, "1.1.0", Mode::Install),
            ];
            for (name, file, yaml, version, mode) in rows {
                let k = kubectl_apply(&kc, &home, file, &kns)?;
                let (b, outcome) = berth_apply(&kc, yaml, &bns, version, mode).await?;
                println!(
                    "{:<34} {:>8} {:>11.3} {:>11.3} {:>8.1}x   (berth: {outcome})",
                    name,
                    n,
                    k.as_secs_f64(),
                    b.as_secs_f64(),
                    k.as_secs_f64() / b.as_secs_f64().max(1e-9)
                );
            }
        }
        sim.shutdown().await;
        Ok(())
    })
}
