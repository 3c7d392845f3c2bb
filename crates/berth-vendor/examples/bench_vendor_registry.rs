//! Image blob download through the vendor server's license-authenticated registry endpoint
//! (`/v2/`) against docker-registry (Debian's, no auth) serving the same blobs, side by side in
//! one run, as a ratio. The image goes into docker-registry by `skopeo copy` from the vendor
//! endpoint, so both serve byte-identical layers.
//!
//! `cargo run --release -p berth-vendor --example bench_vendor_registry -- [MIB_PER_LAYER] [ROUNDS]`
//! Needs BERTH_TEST_DOCKER_REGISTRY and BERTH_TEST_SKOPEO (scripts/setup.d/30-registry.sh).

use base64::Engine as _;
use berth_oci::digest::Digest;
use berth_oci::layout::Layout;
use berth_oci::model::{self, Descriptor};
use berth_oci::release::{ReleaseImage, ReleaseMeta, write_app_entry};
use berth_vendor::client::{Client, ReleasePush};
use berth_vendor::model::NewCustomer;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LAYERS: usize = 4;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn docker_registry(bin: &Path, dir: &Path) -> (Kill, String) {
    let port = free_port();
    let cfg = format!(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
        dir.join("data").display()
    );
    std::fs::create_dir_all(dir).expect("registry dir");
    std::fs::write(dir.join("config.yml"), cfg).expect("registry config");
    let child = Command::new(bin)
        .arg("serve")
        .arg(dir.join("config.yml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry starts");
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (Kill(child), format!("127.0.0.1:{port}"))
}

/// Pseudo-random bytes (xorshift; incompressible like real layers), seeded.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// A release of `hello` 1.0.0 with one image of LAYERS layers of `size` bytes each.
fn release(dir: &Path, size: usize, seed: u64) -> (std::path::PathBuf, Vec<Digest>) {
    let layout = Layout::create(dir).expect("layout");
    let desc = |d: Digest, size: usize, mt: &str| Descriptor {
        media_type: mt.into(),
        digest: d,
        size: size as u64,
        platform: None,
        annotations: Default::default(),
    };
    let mut layers = vec![];
    for i in 0..LAYERS {
        let data = noise(seed + i as u64, size);
        layers.push(desc(
            layout.put_blob(&data).expect("layer"),
            size,
            model::OCI_LAYER_GZIP,
        ));
    }
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": model::OCI_MANIFEST,
        "config": desc(layout.put_blob(config).expect("config"), config.len(), model::OCI_CONFIG),
        "layers": layers,
    });
    let mbytes = serde_json::to_vec(&manifest).expect("json");
    let mut entry = desc(
        layout.put_blob(&mbytes).expect("manifest"),
        mbytes.len(),
        model::OCI_MANIFEST,
    );
    let source = "docker.io/library/bench:1";
    for (k, v) in [
        (model::ANNOTATION_SOURCE, source),
        (model::ANNOTATION_REF_NAME, source),
        (model::ANNOTATION_KIND, "image"),
    ] {
        entry.annotations.insert(k.into(), v.into());
    }
    layout.add_entry(entry.clone()).expect("entry");
    let meta = ReleaseMeta {
        format: 1,
        app: "hello".into(),
        version: "1.0.0".into(),
        images: vec![ReleaseImage {
            source: source.into(),
            digest: entry.digest.clone(),
            media_type: model::OCI_MANIFEST.into(),
        }],
    };
    write_app_entry(
        &layout,
        &meta,
        &[("berth.yaml".into(), b"# hello\n".to_vec())],
    )
    .expect("app entry");
    (
        dir.to_path_buf(),
        layers.into_iter().map(|d| d.digest).collect(),
    )
}

/// A vendor server holding the release on stable and a licensed customer; returns its host
/// and the license's `id:credential`.
async fn vendor(data: &Path, rel: &Path) -> (String, String) {
    std::fs::create_dir_all(data).expect("data dir");
    let db = berth_vendor::db::Db::connect(None, data).await.expect("db");
    let store = berth_vendor::store::Store::open(data, 1 << 34).expect("store");
    let (svc, first) = berth_vendor::service::Service::start(db, store, data)
        .await
        .expect("start");
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let host = l.local_addr().expect("addr").to_string();
    let url = format!("http://{host}");
    let app = berth_vendor::http::router(svc, url.clone(), 1e9);
    tokio::spawn(async move { axum::serve(l, app).await });
    let admin = std::fs::read_to_string(first.expect("new database")).expect("token");
    let c = Client::new(&url, admin.trim()).expect("client");
    c.create_app("hello").await.expect("app");
    c.push_release(rel, ReleasePush::default())
        .await
        .expect("push");
    c.promote("hello", "stable", "1.0.0")
        .await
        .expect("promote");
    c.create_customer(&NewCustomer {
        name: "acme".into(),
        app: "hello".into(),
        channels: vec!["stable".into()],
        license_type: "paid".into(),
        expires_at: None,
        airgap: false,
        snapshots: false,
        support_bundle_upload: false,
        cluster_id: None,
        entitlements: vec![],
    })
    .await
    .expect("customer");
    let lic = berth_license::License::parse(&c.issue_license("acme").await.expect("license"), "l")
        .expect("parse");
    (
        host,
        format!("{}:{}", lic.spec.license_id, lic.spec.credential),
    )
}

fn next(q: &std::sync::Mutex<Vec<String>>) -> Option<String> {
    q.lock().ok().and_then(|mut q| q.pop())
}

/// Download every URL `rounds` times over `conns` concurrent connections; MiB/s.
async fn download(urls: &[String], auth: Option<&str>, conns: usize, rounds: usize) -> f64 {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(conns)
        .build()
        .expect("http client");
    let jobs: Vec<String> = (0..rounds).flat_map(|_| urls.iter().cloned()).collect();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(jobs));
    let t = Instant::now();
    let mut tasks = vec![];
    for _ in 0..conns {
        let (http, queue, auth) = (http.clone(), queue.clone(), auth.map(String::from));
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while let Some(u) = next(&queue) {
                let mut rb = http.get(&u);
                if let Some(a) = &auth {
                    rb = rb.header("authorization", a);
                }
                let mut r = rb.send().await.expect("request");
                assert!(r.status().is_success(), "{u}: {}", r.status());
                while let Some(c) = r.chunk().await.expect("body") {
                    n += c.len() as u64;
                }
            }
            n
        }));
    }
    let mut bytes = 0;
    for t in tasks {
        bytes += t.await.expect("task");
    }
    bytes as f64 / 1048576.0 / t.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let arg = |i: usize, d: usize| {
        std::env::args()
            .nth(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or(d)
    };
    let (mib, rounds) = (arg(1, 32), arg(2, 4));
    let (Some(reg_bin), Some(skopeo)) = (
        std::env::var_os("BERTH_TEST_DOCKER_REGISTRY"),
        std::env::var_os("BERTH_TEST_SKOPEO"),
    ) else {
        eprintln!(
            "set BERTH_TEST_DOCKER_REGISTRY and BERTH_TEST_SKOPEO (scripts/setup.d/30-registry.sh)"
        );
        std::process::exit(2);
    };
    let seed = 0xB10B_5EED;
    println!("seed {seed:#x}, {LAYERS} layers of {mib} MiB, {rounds} rounds");
    let tmp = tempfile::tempdir().expect("tmp");
    let (rel, layers) = release(&tmp.path().join("rel"), mib << 20, seed);
    let (host, creds) = vendor(&tmp.path().join("vendor"), &rel).await;
    std::fs::remove_dir_all(&rel).expect("free the release copy");
    let (_reg, reg) = docker_registry(Path::new(&reg_bin), &tmp.path().join("registry"));
    let out = Command::new(&skopeo)
        .env("HOME", tmp.path())
        .args([
            "--insecure-policy",
            "copy",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &format!("--src-creds={creds}"),
            &format!("docker://{host}/hello/library/bench:1"),
            &format!("docker://{reg}/hello/library/bench:1"),
        ])
        .output()
        .expect("skopeo");
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let urls = |h: &str| -> Vec<String> {
        layers
            .iter()
            .map(|d| format!("http://{h}/v2/hello/library/bench/blobs/{d}"))
            .collect()
    };
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(&creds)
    );
    println!(
        "\n| connections | docker-registry MiB/s | berth vendor /v2/ MiB/s | berth / docker-registry |"
    );
    println!("|---|---|---|---|");
    for conns in [1, 8] {
        // Alternate and keep each side's best of two, so neither gets only a cold cache.
        let (mut d, mut b) = (0f64, 0f64);
        for _ in 0..2 {
            d = d.max(download(&urls(&reg), None, conns, rounds).await);
            b = b.max(download(&urls(&host), Some(&basic), conns, rounds).await);
        }
        println!("| {conns} | {d:.0} | {b:.0} | {:.2} |", b / d);
    }
}
