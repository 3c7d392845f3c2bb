//! Redaction throughput over a realistic support bundle held in memory: pod logs, pretty
//! cluster-resources JSON (pods with env and args, ConfigMaps embedding YAML config files),
//! YAML manifests, and `run` collector output (`kubectl config view --raw`, `kubectl get
//! secret -o yaml`, plain command output). Every file goes through `Redactor::redact`, as the
//! bundle sink does.
//!
//! ```text
//! cargo run -p berth-troubleshoot --example bench_redact_bundle -- [MiB, default 8] [rounds, default 3]
//! ```
//!
//! Prints bytes, files, redactions, how many planted secrets are left (checked before timing)
//! and the best round's MB/s (wall and CPU).

use berth_troubleshoot::redact::Redactor;
use std::fmt::Write as _;
use std::time::Instant;

/// A tiny deterministic generator (xorshift), so every run redacts the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn pod_log(rng: &mut Rng, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 256);
    let mut n = 0u64;
    while s.len() < bytes {
        n += 1;
        let h = rng.next() >> 40;
        let ts = format!(
            "2026-12-04T10:{:02}:{:02}.{:06}Z",
            (n / 6000) % 60,
            (n / 100) % 60,
            n % 1_000_000
        );
        let _ = match rng.below(400) {
            0 => writeln!(s, "{ts} DEBUG login user=svc{h} password=Pw-{h:x} retry=0"),
            1 => writeln!(
                s,
                "{ts} INFO connecting to postgres://app:Pg-{h:x}@db.acme.svc:5432/acme"
            ),
            2 => writeln!(
                s,
                "{ts} WARN values {{\"auth\":{{\"apiKey\":\"key-{h:x}\"}},\"replicas\":3}}"
            ),
            3..=120 => writeln!(
                s,
                "{ts} INFO GET /api/v1/orders/{h} 200 {}ms bytes={} ua=\"Mozilla/5.0 (X11; Linux x86_64)\"",
                h % 500,
                h % 9000
            ),
            121..=250 => writeln!(
                s,
                "{{\"ts\":\"{ts}\",\"level\":\"info\",\"msg\":\"order processed\",\"order\":{h},\"cache_key\":\"orders/{h}\",\"latency_ms\":{}}}",
                h % 90
            ),
            251..=300 => writeln!(
                s,
                "{ts} ERROR request failed: upstream timeout after 30s (attempt {})",
                h % 5
            ),
            _ => writeln!(
                s,
                "{ts} INFO worker-{} processed batch {h} in {} ms (queue depth {})",
                h % 8,
                h % 300,
                h % 50
            ),
        };
    }
    s
}

fn pods_json(rng: &mut Rng, count: usize) -> Vec<u8> {
    let items: Vec<serde_json::Value> = (0..count)
        .map(|i| {
            let h = rng.next() >> 40;
            serde_json::json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("api-{i}-{h:x}"), "namespace": "acme",
                    "labels": {"app": "api", "pod-template-hash": format!("{h:x}")},
                    "annotations": {"checksum/config": format!("{:064x}", h)}},
                "spec": {
                    "serviceAccountName": "api", "automountServiceAccountToken": false,
                    "containers": [{
                        "name": "api", "image": "registry.acme.io/api:2.0.1",
                        "args": ["--port=8080", "--log-level=info", "--db-host=db.acme.svc"],
                        "env": [
                            {"name": "LOG_LEVEL", "value": "info"},
                            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                            {"name": "CACHE_TTL", "value": "30s"}
                        ],
                        "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}},
                        "volumeMounts": [{"name": "tls", "mountPath": "/etc/tls", "readOnly": true}]
                    }],
                    "volumes": [{"name": "tls", "secret": {"secretName": "api-tls"}}]
                },
                "status": {"phase": "Running", "podIP": format!("10.0.{}.{}", h % 250, i % 250)}
            })
        })
        .collect();
    serde_json::to_vec_pretty(&serde_json::json!({"kind": "PodList", "items": items}))
        .unwrap_or_default()
}

fn configmaps_json(rng: &mut Rng, count: usize) -> Vec<u8> {
    let items: Vec<serde_json::Value> = (0..count)
        .map(|i| {
            let h = rng.next() >> 40;
            let cfg = format!(
                "server:\n  port: 8080\n  host: 0.0.0.0\nfeatures:\n  checkout: true\n  search: {}\ncache:\n  ttl: 30s\n  size: {}\n",
                h.is_multiple_of(2),
                h % 1000
            );
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("cfg-{i}"), "namespace": "acme"},
                "data": {"app.yaml": cfg, "LOG_LEVEL": "info"}})
        })
        .collect();
    serde_json::to_vec_pretty(&serde_json::json!({"kind": "ConfigMapList", "items": items}))
        .unwrap_or_default()
}

fn manifests_yaml(rng: &mut Rng, count: usize) -> String {
    let mut s = String::new();
    for i in 0..count {
        let h = rng.next() >> 40;
        let _ = write!(
            s,
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\n  namespace: acme\nspec:\n  replicas: {}\n  selector:\n    matchLabels:\n      app: web-{i}\n  template:\n    metadata:\n      labels:\n        app: web-{i}\n    spec:\n      imagePullSecrets:\n      - name: regcred\n      containers:\n      - name: web\n        image: registry.acme.io/web:1.{}.0\n        ports:\n        - containerPort: 8080\n        env:\n        - name: API_TOKEN\n          valueFrom:\n            secretKeyRef:\n              name: web\n              key: token\n",
            h % 5,
            h % 30
        );
    }
    s
}

fn run_output(rng: &mut Rng) -> String {
    let h = rng.next() >> 40;
    format!(
        "$ kubectl config view --raw\napiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: LS0tQ0Et{h:x}\n    server: https://10.0.0.1:6443\n  name: prod\ncontexts:\n- context:\n    cluster: prod\n    user: admin\n  name: prod\ncurrent-context: prod\nkind: Config\nusers:\n- name: admin\n  user:\n    client-certificate-data: LS0tQ0VSVC0{h:x}\n    client-key-data: LS0tS0VZLQ{h:x}\n$ kubectl get secret db -o yaml\napiVersion: v1\ndata:\n  password: UGctc2VjcmV0LXtoOnh9{h:x}\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\n$ df -h\nFilesystem      Size  Used Avail Use% Mounted on\n/dev/sda1        50G   21G   27G  44% /\n"
    )
}

fn bundle(mib: usize) -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut files = Vec::new();
    let target = mib * 1024 * 1024;
    let mut total = 0;
    let mut i = 0;
    while total < target {
        let f: (String, Vec<u8>) = match i % 8 {
            0 => (
                format!("cluster-resources/pods/acme-{i}.json"),
                pods_json(&mut rng, 40),
            ),
            1 => (
                format!("cluster-resources/configmaps/acme-{i}.json"),
                configmaps_json(&mut rng, 60),
            ),
            2 => (
                format!("manifests/app-{i}.yaml"),
                manifests_yaml(&mut rng, 40).into_bytes(),
            ),
            3 => (
                format!("host-collectors/run-host/kubeconfig-{i}.txt"),
                run_output(&mut rng).into_bytes(),
            ),
            _ => (
                format!("cluster-resources/pods/logs/acme/api-{i}/api.log"),
                pod_log(&mut rng, 256 * 1024).into_bytes(),
            ),
        };
        total += f.1.len();
        files.push(f);
        i += 1;
    }
    files
}

/// CPU seconds (user + system) used by this process so far, from /proc/self/stat.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(8);
    let rounds: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let files = bundle(mib);
    let bytes: usize = files.iter().map(|(_, d)| d.len()).sum();
    let r = Redactor::new(&[])?;
    let (mut best_wall, mut best_cpu, mut redactions) = (f64::MAX, f64::MAX, 0);
    // Planted secrets, by the text right before them (password=Pw-…, client-key-data, …).
    let planted = [
        "password=Pw-",
        ":Pg-",
        "\"apiKey\":\"key-",
        "client-key-data: LS0t",
        "client-certificate-data: LS0t",
        "password: UGct",
    ];
    let mut survivors = 0;
    for (path, data) in &files {
        let out = String::from_utf8_lossy(&r.redact(path, data).0).into_owned();
        survivors += planted
            .iter()
            .map(|p| out.matches(p).count())
            .sum::<usize>();
    }
    for _ in 0..rounds {
        let (c, t) = (cpu_secs(), Instant::now());
        let mut n = 0;
        for (path, data) in &files {
            n += r.redact(path, data).1.len();
        }
        best_wall = best_wall.min(t.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_secs() - c);
        redactions = n;
    }
    println!("| bytes | files | redactions | planted secrets left | MB/s (wall) | MB/s (CPU) |");
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {bytes} | {} | {redactions} | {survivors} | {:.1} | {:.1} |",
        files.len(),
        bytes as f64 / 1e6 / best_wall,
        bytes as f64 / 1e6 / best_cpu.max(0.01)
    );
    Ok(())
}
