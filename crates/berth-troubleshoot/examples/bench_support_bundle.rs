//! Benchmark: a support bundle of a simulated cluster with N namespaces and M pods, each pod
//! with a large log. Run:
//!
//!     cargo run --release -p berth-troubleshoot --example bench_support_bundle -- [NAMESPACES] [PODS] [LOG_MIB]
//!
//! (defaults 200 2000 1). The Kubernetes API simulator holds the objects; the simulator's own
//! pod logs are a few lines, so a small proxy in front of it answers `/log` requests with
//! LOG_MIB MiB of generated application log (a planted secret every 500 lines) and forwards
//! everything else. The collection runs in a child process (this binary with `--collect`) so
//! wall time and peak memory are berth's alone. The anchor is troubleshoot's published
//! figure for comparable bundles (3 to 12 minutes; collectors run one at a time there).

use berth_troubleshoot::bundle::BundleReader;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

const SPEC: &str = r#"apiVersion: troubleshoot.sh/v1beta2
kind: SupportBundle
metadata: {name: bench}
spec:
  collectors:
    - clusterInfo: {}
    - clusterResources: {}
    - logs: {name: all-logs}
  analyzers:
    - clusterPodStatuses:
        outcomes:
          - fail: {when: "!= Healthy", message: "{{ .Name }} is unhealthy"}
    - textAnalyze:
        checkName: errors in logs
        collectorName: all-logs
        fileName: "*/main.log"
        regex: "level=fatal"
        outcomes:
          - fail: {when: "true", message: fatal errors found}
          - pass: {when: "false", message: no fatal errors}
"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--collect") {
        return collect(&args[2], &args[3]);
    }
    let ns: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let pods: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let mib: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(parent(ns, pods, mib));
}

fn log_body(mib: usize) -> bytes::Bytes {
    let mut s = String::with_capacity(mib << 20);
    let mut i = 0u64;
    while s.len() < (mib << 20) {
        if i.is_multiple_of(500) {
            s.push_str(&format!(
                "2026-11-26T10:{:02}:{:02}.{:03}Z level=warn msg=\"retrying\" url=\"postgres://app:hunter2-{i}@db:5432/app\"\n",
                (i / 60000) % 60,
                (i / 1000) % 60,
                i % 1000
            ));
        } else {
            s.push_str(&format!(
                "2026-11-26T10:{:02}:{:02}.{:03}Z level=info msg=\"request served\" path=/api/v1/items/{} status=200 duration_ms={}\n",
                (i / 60000) % 60,
                (i / 1000) % 60,
                i % 1000,
                i * 7919 % 100000,
                i % 97
            ));
        }
        i += 1;
    }
    s.truncate(mib << 20);
    bytes::Bytes::from(s)
}

async fn api(
    client: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) {
    let r = client
        .request(method, format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .expect("simulator request");
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

async fn parent(ns: usize, pods: usize, mib: usize) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = berth_kube_sim::Simulator::start(berth_kube_sim::SimOptions::default())
        .await
        .expect("simulator");
    let base = sim.url();
    let http = reqwest::Client::new();
    let t = Instant::now();
    for n in 0..ns {
        api(&http, &base, reqwest::Method::POST, "/api/v1/namespaces",
            serde_json::json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name": format!("ns-{n:03}")}})).await;
    }
    let per = pods.div_ceil(ns.max(1));
    let mut created = 0;
    'outer: for n in 0..ns {
        for p in 0..per {
            if created == pods {
                break 'outer;
            }
            api(&http, &base, reqwest::Method::POST, &format!("/api/v1/namespaces/ns-{n:03}/pods"),
                serde_json::json!({"apiVersion":"v1","kind":"Pod",
                    "metadata":{"name": format!("app-{n:03}-{p:03}"), "labels": {"app": "bench"}},
                    "spec":{"containers":[{"name":"main","image":"registry.example/acme/app:1.0"}]}})).await;
            created += 1;
        }
    }
    eprintln!(
        "seeded {ns} namespaces, {created} pods in {:?}",
        t.elapsed()
    );
    // Let the simulated kubelet start the pods.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let body = log_body(mib);
    let upstream = base.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let body = body.clone();
        let upstream = upstream.clone();
        async move { proxy(req, body, &upstream).await }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let out = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let t = Instant::now();
    // Reaped by wait4 below, which also yields the child's peak memory.
    #[allow(clippy::zombie_processes)]
    let child = std::process::Command::new(exe)
        .args(["--collect", &proxy_url, &out.path().display().to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("child");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    // Wait in a blocking thread, collecting the child's resource usage (peak RSS).
    let (status, rusage) = tokio::task::spawn_blocking(move || {
        let mut status = 0i32;
        let mut ru: nix::libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 on our own child with valid out-pointers.
        unsafe { nix::libc::wait4(pid.as_raw(), &mut status, 0, &mut ru) };
        (status, ru)
    })
    .await
    .unwrap();
    let wall = t.elapsed();
    let mut stdout = String::new();
    if let Some(mut so) = child.stdout {
        use std::io::Read;
        let _ = so.read_to_string(&mut stdout);
    }
    let st = std::process::ExitStatus::from_raw(status);
    assert!(st.success(), "collection failed: {st}");
    let r: serde_json::Value = serde_json::from_str(stdout.trim()).expect("child report");
    let peak_mib = rusage.ru_maxrss as f64 / 1024.0;
    let size_mib = r["archive_bytes"].as_f64().unwrap_or(0.0) / 1048576.0;
    let logs_mib = r["log_bytes"].as_f64().unwrap_or(0.0) / 1048576.0;
    let secs = wall.as_secs_f64();
    println!("\nsupport bundle: {ns} namespaces, {created} pods, {mib} MiB log each (2 vCPU)\n");
    println!("| | berth | troubleshoot (published) | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| wall time | {secs:.1} s | 180–720 s | {:.0}–{:.0}x faster |",
        180.0 / secs,
        720.0 / secs
    );
    println!("| peak memory (RSS) | {peak_mib:.0} MiB | not published | |");
    println!("| bundle size (.tar.gz) | {size_mib:.1} MiB | not published | |");
    println!(
        "| logs collected | {logs_mib:.0} MiB in {} files | | |",
        r["log_files"]
    );
    println!(
        "| collection / analysis / packing | {:.1} s / {:.1} s / {:.1} s | | |",
        r["collect_ms"].as_f64().unwrap_or(0.0) / 1000.0,
        r["analyze_ms"].as_f64().unwrap_or(0.0) / 1000.0,
        r["pack_ms"].as_f64().unwrap_or(0.0) / 1000.0
    );
    println!("| redactions | {} | | |", r["redactions"]);
    println!(
        "| collectors ok / total | {} / {} | | |",
        r["ok"], r["total"]
    );
    sim.shutdown().await;
}

async fn proxy(
    req: axum::extract::Request,
    log: bytes::Bytes,
    upstream: &str,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = req.uri().path().to_string();
    if path.starts_with("/api/v1/namespaces/") && path.ends_with("/log") {
        let limit = req
            .uri()
            .query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("limitBytes=")))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(usize::MAX);
        let body = log.slice(..limit.min(log.len()));
        return ([("content-type", "text/plain")], body).into_response();
    }
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or(path);
    let method = req.method().clone();
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let client = reqwest::Client::new();
    let mut rb = client.request(method, format!("{upstream}{pq}")).body(body);
    for k in ["accept", "content-type"] {
        if let Some(v) = headers.get(k) {
            rb = rb.header(k, v.as_bytes());
        }
    }
    match rb.send().await {
        Ok(r) => {
            let status = r.status();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap_or("").to_string())
                .unwrap_or_default();
            let b = r.bytes().await.unwrap_or_default();
            (status, [("content-type", ct)], b).into_response()
        }
        Err(e) => (axum::http::StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

fn collect(url: &str, out: &str) {
    use berth_troubleshoot::run::{self, CollectOptions, RunOptions, Status};
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut cfg = kube::Config::new(url.parse().expect("url"));
        cfg.connect_timeout = Some(Duration::from_secs(10));
        let client = kube::Client::try_from(cfg).expect("client");
        let mut specs = berth_troubleshoot::spec::Specs::default();
        specs.add_text("bench.yaml", SPEC);
        let merged = specs.merge_support_bundle();
        let t = Instant::now();
        let c = run::collect_bundle(
            &merged,
            CollectOptions {
                run: RunOptions::default(),
                redact: true,
                tokenize: false,
                kube: Some(client),
                kube_error: None,
                work_dir: out.into(),
                name: "support-bundle-bench".into(),
                version: "bench".into(),
            },
        )
        .await
        .expect("collect");
        let collect_ms = t.elapsed().as_millis();
        let t = Instant::now();
        let reader = c.writer.reader().expect("reader");
        let results = berth_troubleshoot::analyze::analyze_all(
            &merged.analyzers,
            &merged.host_analyzers,
            &reader,
        );
        let analyze_ms = t.elapsed().as_millis();
        let t = Instant::now();
        let archive = std::path::Path::new(out).join("support-bundle-bench.tar.gz");
        let size = c.writer.pack(&archive).expect("pack");
        let pack_ms = t.elapsed().as_millis();
        let written = c.writer.reader().map(|_| ()).ok();
        let _ = written;
        let logs: Vec<_> = reader.glob("cluster-resources/pods/logs/**");
        let log_bytes: u64 = logs
            .iter()
            .filter_map(|p| std::fs::metadata(reader.root().join(p)).ok())
            .map(|m| m.len())
            .sum();
        let redactions: usize = c.redactions.redactions.by_file.values().map(Vec::len).sum();
        let ok = c
            .report
            .collectors
            .iter()
            .filter(|r| r.status == Status::Ok)
            .count();
        for r in c
            .report
            .collectors
            .iter()
            .filter(|r| r.status != Status::Ok)
        {
            eprintln!("collector {}: {:?} {:?}", r.title, r.status, r.error);
        }
        eprintln!("{} analyzer rows", results.len());
        println!(
            "{}",
            serde_json::json!({
                "collect_ms": collect_ms, "analyze_ms": analyze_ms, "pack_ms": pack_ms,
                "archive_bytes": size, "log_files": logs.len(), "log_bytes": log_bytes,
                "redactions": redactions, "ok": ok, "total": c.report.collectors.len(),
            })
        );
    });
}
