//! Simulator throughput and latency: server-side applies (direct HTTP and through real
//! kubectl), lists of 5,000 objects (JSON and Table), and watch fan-out.
//!
//! There is no real API server on these machines to compare with, so the table reports
//! absolute figures and puts kubectl-driven work beside direct HTTP (the ratio shows how
//! much of a kubectl-driven workflow the simulator itself costs).
//!
//! Run: `cargo run --release -p berth-kube-sim --example bench_sim [-- N]`
//! (kubectl rows need BERTH_TEST_KUBECTL or kubectl on PATH).

use berth_kube_sim::{SimOptions, Simulator};
use serde_json::json;
use std::time::{Duration, Instant};

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn cm(i: usize) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("cm-{i:05}"), "namespace": "default", "labels": {"app": "bench", "shard": (i % 10).to_string()}},
        "data": {"key": format!("value-{i}"), "config.yaml": "replicas: 3\nimage: shop/api:1.4.2\nfeatures: [a, b, c]\n"}})
}

fn deployment(i: usize) -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": format!("web-{i:04}"), "namespace": "default", "labels": {"app": "bench"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": format!("web-{i}")}},
            "template": {"metadata": {"labels": {"app": format!("web-{i}")}},
                "spec": {"containers": [{"name": "app", "image": "shop/api:1.4.2", "ports": [{"containerPort": 8080}],
                    "env": [{"name": "MODE", "value": "prod"}], "resources": {"requests": {"cpu": "1m"}}}]}}}})
}

async fn apply_all(
    client: &reqwest::Client,
    base: &str,
    objs: Vec<serde_json::Value>,
    conc: usize,
) -> (Duration, Vec<Duration>) {
    let start = Instant::now();
    let chunks: Vec<Vec<serde_json::Value>> = {
        let mut c: Vec<Vec<serde_json::Value>> = (0..conc).map(|_| vec![]).collect();
        for (i, o) in objs.into_iter().enumerate() {
            c[i % conc].push(o);
        }
        c
    };
    let mut handles = vec![];
    for chunk in chunks {
        let client = client.clone();
        let base = base.to_string();
        handles.push(tokio::spawn(async move {
            let mut lat = vec![];
            for o in chunk {
                let (group_path, plural) = if o["kind"] == "Deployment" { ("/apis/apps/v1", "deployments") } else { ("/api/v1", "configmaps") };
                let url = format!("{base}{group_path}/namespaces/default/{plural}/{}?fieldManager=bench&force=true", o["metadata"]["name"].as_str().unwrap());
                let t = Instant::now();
                let r = client.patch(url).header("Content-Type", "application/apply-patch+yaml").body(o.to_string()).send().await.expect("apply");
                assert!(r.status().is_success(), "apply failed: {}", r.status());
                let _ = r.bytes().await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = vec![];
    for h in handles {
        lat.extend(h.await.expect("task"));
    }
    (start.elapsed(), lat)
}

fn kubectl() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("BERTH_TEST_KUBECTL") {
        return Some(p.into());
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("kubectl"))
            .find(|p| p.exists())
    })
}

struct Row(String, String, String);

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let mut rows: Vec<Row> = vec![];
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");

    // 1. SSA applies over HTTP (ConfigMaps, then Deployments which also drive controllers).
    let sim = Simulator::start(SimOptions::default()).await.expect("sim");
    let base = sim.url();
    let (t, mut lat) = apply_all(&client, &base, (0..n).map(cm).collect(), 8).await;
    let direct_cm_rate = n as f64 / t.as_secs_f64();
    rows.push(Row(
        format!("SSA apply {n} ConfigMaps, HTTP, 8 concurrent"),
        format!("{direct_cm_rate:.0} obj/s"),
        format!(
            "p50 {:.2} ms, p99 {:.2} ms",
            pct(&mut lat, 0.5).as_secs_f64() * 1e3,
            pct(&mut lat, 0.99).as_secs_f64() * 1e3
        ),
    ));
    let (t, mut lat) = apply_all(&client, &base, (0..n).map(cm).collect(), 8).await;
    rows.push(Row(
        format!("SSA re-apply {n} unchanged ConfigMaps (no-op)"),
        format!("{:.0} obj/s", n as f64 / t.as_secs_f64()),
        format!(
            "p50 {:.2} ms, p99 {:.2} ms",
            pct(&mut lat, 0.5).as_secs_f64() * 1e3,
            pct(&mut lat, 0.99).as_secs_f64() * 1e3
        ),
    ));
    let nd = n / 4;
    let (t, mut lat) = apply_all(&client, &base, (0..nd).map(deployment).collect(), 8).await;
    rows.push(Row(
        format!("SSA apply {nd} Deployments (controllers running)"),
        format!("{:.0} obj/s", nd as f64 / t.as_secs_f64()),
        format!(
            "p50 {:.2} ms, p99 {:.2} ms",
            pct(&mut lat, 0.5).as_secs_f64() * 1e3,
            pct(&mut lat, 0.99).as_secs_f64() * 1e3
        ),
    ));
    let t0 = Instant::now();
    loop {
        let v: serde_json::Value = client
            .get(format!(
                "{base}/apis/apps/v1/namespaces/default/deployments"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ready = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["status"]["availableReplicas"] == 1)
            .count();
        if ready == nd || t0.elapsed() > Duration::from_secs(300) {
            rows.push(Row(
                format!("{nd} Deployments to Available (RS + Pod each)"),
                format!("{:.2} s", t0.elapsed().as_secs_f64()),
                format!("{ready}/{nd} available"),
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sim.shutdown().await;

    // 2. The same apply through real kubectl.
    if let Some(kbin) = kubectl() {
        let sim = Simulator::start(SimOptions::default()).await.expect("sim");
        let dir = tempfile::tempdir().expect("tmp");
        let kc = dir.path().join("kc");
        sim.write_kubeconfig(&kc).expect("kubeconfig");
        let list = json!({"apiVersion": "v1", "kind": "List", "items": (0..n).map(cm).collect::<Vec<_>>()});
        let file = dir.path().join("all.json");
        std::fs::write(&file, list.to_string()).expect("write");
        let t = Instant::now();
        let out = std::process::Command::new(&kbin)
            .env("HOME", dir.path())
            .args([
                "--kubeconfig",
                kc.to_str().unwrap(),
                "apply",
                "--server-side",
                "-f",
                file.to_str().unwrap(),
            ])
            .output()
            .expect("kubectl");
        let el = t.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rate = n as f64 / el.as_secs_f64();
        rows.push(Row(
            format!("kubectl apply --server-side, {n} ConfigMaps, one file"),
            format!("{rate:.0} obj/s"),
            format!(
                "{:.2} s total; direct HTTP is {:.1}x faster",
                el.as_secs_f64(),
                direct_cm_rate / rate
            ),
        ));
        let t = Instant::now();
        let out = std::process::Command::new(&kbin)
            .env("HOME", dir.path())
            .args([
                "--kubeconfig",
                kc.to_str().unwrap(),
                "get",
                "configmaps",
                "-l",
                "app=bench",
            ])
            .output()
            .expect("kubectl");
        assert!(out.status.success());
        let lines = String::from_utf8_lossy(&out.stdout).lines().count();
        rows.push(Row(
            format!("kubectl get configmaps ({n}, Table, paged by 500)"),
            format!("{:.0} ms", t.elapsed().as_secs_f64() * 1e3),
            format!("{} rows", lines - 1),
        ));
        sim.shutdown().await;
    } else {
        rows.push(Row(
            "kubectl rows".into(),
            "skipped".into(),
            "kubectl not found".into(),
        ));
    }

    // 3. Lists of 5,000 objects.
    let sim = Simulator::start(SimOptions::default()).await.expect("sim");
    let base = sim.url();
    apply_all(&client, &base, (0..5000).map(cm).collect(), 8).await;
    for (label, accept) in [
        ("JSON", "application/json"),
        (
            "Table",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        ),
    ] {
        let mut lat = vec![];
        let mut bytes = 0;
        for _ in 0..20 {
            let t = Instant::now();
            let b = client
                .get(format!("{base}/api/v1/namespaces/default/configmaps"))
                .header("Accept", accept)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            lat.push(t.elapsed());
            bytes = b.len();
        }
        rows.push(Row(
            format!("list 5,000 ConfigMaps ({label}), 20 runs"),
            format!("p50 {:.1} ms", pct(&mut lat, 0.5).as_secs_f64() * 1e3),
            format!(
                "{:.1} MB per list, p99 {:.1} ms",
                bytes as f64 / 1e6,
                pct(&mut lat, 0.99).as_secs_f64() * 1e3
            ),
        ));
    }
    let mut lat = vec![];
    for i in 0..20 {
        let t = Instant::now();
        let v: serde_json::Value = client
            .get(format!(
                "{base}/api/v1/namespaces/default/configmaps?labelSelector=shard%3D{}",
                i % 10
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        lat.push(t.elapsed());
        assert_eq!(v["items"].as_array().unwrap().len(), 500);
    }
    rows.push(Row(
        "list with labelSelector (500 of 5,000)".into(),
        format!("p50 {:.1} ms", pct(&mut lat, 0.5).as_secs_f64() * 1e3),
        String::new(),
    ));

    // 4. Watch fan-out: W watchers, K writes; time until every watcher saw every event.
    let watchers = 50;
    let k = 1000;
    let rv = sim.resource_version();
    let mut hs = vec![];
    for _ in 0..watchers {
        let client = client.clone();
        let url = format!(
            "{base}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&labelSelector=app%3Dfanout&timeoutSeconds=120"
        );
        hs.push(tokio::spawn(async move {
            use futures::StreamExt;
            let mut s = client.get(url).send().await.unwrap().bytes_stream();
            let mut seen = 0;
            let mut buf = Vec::new();
            while seen < k {
                let Some(Ok(chunk)) = s.next().await else {
                    break;
                };
                buf.extend_from_slice(&chunk);
                while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    buf.drain(..=pos);
                    seen += 1;
                }
            }
            (seen, Instant::now())
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    let objs: Vec<serde_json::Value> = (0..k)
        .map(|i| {
            let mut o = cm(100_000 + i);
            o["metadata"]["labels"]["app"] = json!("fanout");
            o
        })
        .collect();
    apply_all(&client, &base, objs, 8).await;
    let mut last = t;
    let mut total = 0;
    for h in hs {
        let (seen, at) = h.await.unwrap();
        total += seen;
        last = last.max(at);
    }
    let el = (last - t).as_secs_f64();
    rows.push(Row(
        format!("watch fan-out: {watchers} watchers x {k} writes"),
        format!("{:.0} events/s delivered", total as f64 / el),
        format!("{total} events in {el:.2} s"),
    ));
    sim.shutdown().await;

    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(10);
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(10);
    println!("{:w0$}  {:w1$}  notes", "benchmark", "result");
    println!("{}", "-".repeat(w0 + w1 + 40));
    for r in rows {
        println!("{:w0$}  {:w1$}  {}", r.0, r.1, r.2);
    }
}
