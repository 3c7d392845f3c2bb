//! Two `berth vendor serve` processes on one PostgreSQL database and one S3 bucket (SeaweedFS,
//! real SigV4) serve the same data: a release pushed through one is downloaded through the
//! other, which has never seen its blobs; one is killed (SIGKILL) in the middle of a download
//! and of a push, and the other serves the whole release while the half push stays invisible
//! and resumes.

#[path = "../../berth-vendor/tests/pg/mod.rs"]
mod pg;

use berth_oci::layout::Layout;
use berth_oci::model::{self, Descriptor};
use berth_oci::release::{ReleaseMeta, write_app_entry};
use berth_s3::testing::Seaweed;
use berth_vendor::client::{Client, ReleasePush};
use berth_vendor::model::NewCustomer;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A `berth vendor serve` process, killed when dropped.
struct Replica {
    child: Child,
    url: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    fn start(data: &Path, db: &str, storage: &str) -> Replica {
        let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["vendor", "serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .args(["--database-url", db, "--storage", storage])
            .env("AWS_ACCESS_KEY_ID", berth_s3::testing::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", berth_s3::testing::SECRET_KEY)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start berth vendor serve");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert!(!line.trim().is_empty(), "the server printed no address");
        Replica {
            child,
            url: format!("http://{}", line.trim()),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A release of app `hello` with one image whose single layer is `layer_mib` MiB of seeded
/// noise (incompressible, so transfers take a while).
fn release(dir: &Path, version: &str, layer_mib: usize, seed: u64) -> PathBuf {
    let out = dir.join(format!("hello-{version}.release"));
    let layout = Layout::create(&out).unwrap();
    let mut x = seed | 1;
    let layer: Vec<u8> = (0..layer_mib << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let desc = |d, size: usize, mt: &str| Descriptor {
        media_type: mt.into(),
        digest: d,
        size: size as u64,
        platform: None,
        annotations: Default::default(),
    };
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": model::OCI_MANIFEST,
        "config": desc(layout.put_blob(config).unwrap(), config.len(), model::OCI_CONFIG),
        "layers": [desc(layout.put_blob(&layer).unwrap(), layer.len(), model::OCI_LAYER_GZIP)],
    });
    let mbytes = serde_json::to_vec(&manifest).unwrap();
    let mut entry = desc(
        layout.put_blob(&mbytes).unwrap(),
        mbytes.len(),
        model::OCI_MANIFEST,
    );
    let source = "registry.example.com/hello/web:1";
    for (k, v) in [
        (model::ANNOTATION_SOURCE, source),
        (model::ANNOTATION_REF_NAME, source),
        (model::ANNOTATION_KIND, "image"),
    ] {
        entry.annotations.insert(k.into(), v.into());
    }
    layout.add_entry(entry.clone()).unwrap();
    let meta = ReleaseMeta {
        format: 1,
        app: "hello".into(),
        version: version.into(),
        images: vec![berth_oci::release::ReleaseImage {
            source: source.into(),
            digest: entry.digest.clone(),
            media_type: model::OCI_MANIFEST.into(),
        }],
    };
    let files = [(
        "berth.yaml".to_string(),
        format!("# hello {version}\n").into_bytes(),
    )];
    write_app_entry(&layout, &meta, &files).unwrap();
    out
}

/// The biggest blob of a release directory (its layer) and its bytes.
fn biggest_blob(dir: &Path) -> (String, Vec<u8>) {
    let blobs = dir.join("blobs/sha256");
    let mut best = (String::new(), Vec::new());
    for e in std::fs::read_dir(blobs).unwrap() {
        let e = e.unwrap();
        let data = std::fs::read(e.path()).unwrap();
        if data.len() > best.1.len() {
            best = (format!("sha256:{}", e.file_name().to_string_lossy()), data);
        }
    }
    best
}

fn blob_count(data: &Path) -> usize {
    std::fs::read_dir(data.join("blobs/sha256"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn customer() -> NewCustomer {
    NewCustomer {
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
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_postgres_and_one_bucket() {
    let seed: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("seed {seed}");
    let weed = match Seaweed::start() {
        Ok(w) => w,
        Err(e) if std::env::var("BERTH_TEST_ALLOW_SKIP").as_deref() == Ok("1") => {
            eprintln!("SKIPPED: {e}");
            return;
        }
        Err(e) => panic!("{e} (or set BERTH_TEST_ALLOW_SKIP=1 to skip)"),
    };
    weed.client("vendor", "").await.unwrap();
    let storage = weed.url("vendor", "releases");
    let pg = pg::Postgres::start();
    let tmp = tempfile::tempdir().unwrap();
    let (d1, d2) = (tmp.path().join("r1"), tmp.path().join("r2"));
    let mut r1 = Replica::start(&d1, &pg.url(), &storage);
    let r2 = Replica::start(&d2, &pg.url(), &storage);
    let token = std::fs::read_to_string(d1.join("admin-token")).unwrap();
    let a1 = Client::new(&r1.url, token.trim()).unwrap();
    let a2 = Client::new(&r2.url, token.trim()).unwrap();

    // Written through the first, read through the second.
    a1.create_app("hello").await.unwrap();
    let rel = release(tmp.path(), "1.0.0", 24, seed);
    let push = |v: &str| ReleasePush {
        notes: format!("{v} notes"),
        required: false,
        eol_at: None,
    };
    a1.push_release(&rel, push("1.0.0")).await.unwrap();
    assert!(a2.promote("hello", "stable", "1.0.0").await.unwrap());
    a2.create_customer(&customer()).await.unwrap();
    let lic =
        berth_license::License::parse(&a1.issue_license("acme").await.unwrap(), "license").unwrap();
    assert_eq!(blob_count(&d2), 0, "the second replica holds no blob yet");
    let c2 = Client::new(&r2.url, &lic.bearer()).unwrap();
    let dl = tmp.path().join("dl2");
    c2.download_release("1.0.0", &dl).await.unwrap();
    let opened = berth_oci::release::Release::open(&dl).unwrap();
    assert_eq!(opened.meta.version, "1.0.0");
    let (layer, bytes) = biggest_blob(&rel);
    assert_eq!(
        biggest_blob(&dl).1,
        bytes,
        "the layer came whole through replica 2"
    );
    assert!(
        blob_count(&d2) >= 4,
        "replica 2 filled its cache from the bucket"
    );

    // Replica 1 killed in the middle of streaming the layer: the download breaks, and the
    // same request through replica 2 gets every byte.
    let http = reqwest::Client::new();
    let path = format!("/api/v1/license/releases/1.0.0/blobs/{layer}");
    let mut resp = http
        .get(format!("{}{path}", r1.url))
        .bearer_auth(lic.bearer())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(!first.is_empty() && first.len() < bytes.len());
    r1.kill();
    let mut got = first.len();
    let broke = loop {
        match resp.chunk().await {
            Ok(Some(c)) => got += c.len(),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(
        broke || got < bytes.len(),
        "the first download must break off"
    );
    let whole = http
        .get(format!("{}{path}", r2.url))
        .bearer_auth(lic.bearer())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(whole.as_ref(), bytes.as_slice());

    // A push killed half way (the replica dies under it) leaves no visible release; pushing
    // again through the other replica completes it.
    let mut r1 = Replica::start(&d1, &pg.url(), &storage);
    let a1 = Client::new(&r1.url, token.trim()).unwrap();
    let rel2 = release(tmp.path(), "1.1.0", 24, seed.wrapping_add(1));
    let dir2 = rel2.clone();
    let pushing = tokio::spawn(async move { a1.push_release(&dir2, push("1.1.0")).await });
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    r1.kill();
    let half = pushing.await.unwrap();
    eprintln!("push under a killed replica: {half:?}");
    let versions = || {
        let (http, url, token) = (http.clone(), r2.url.clone(), token.trim().to_string());
        async move {
            let list: Vec<serde_json::Value> = http
                .get(format!("{url}/api/v1/apps/hello/releases"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let mut v: Vec<String> = list
                .iter()
                .filter_map(|r| r["version"].as_str().map(String::from))
                .collect();
            v.sort();
            v
        }
    };
    if half.is_err() {
        assert_eq!(versions().await, ["1.0.0"], "a broken push shows nothing");
    }
    a2.push_release(&rel2, push("1.1.0")).await.unwrap();
    assert_eq!(versions().await, ["1.0.0", "1.1.0"]);
}
