//! `berth registry serve` refuses strangers: users and roles checked with real clients
//! (skopeo and berth's own), bounded and expiring uploads, and error bodies without paths.

mod common;

use berth_oci::auth::Credentials;
use berth_oci::server::{self, ServerConfig};
use berth_oci::transfer::{self, NoProgress, PushItem};
use berth_oci::{Client, ClientConfig, Reference};
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

const ADMIN: (&str, &str) = ("admin", "admin-Pa55");
const READER: (&str, &str) = ("reader", "reader-Pa55");

fn users(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let ht = dir.join("htpasswd");
    let mut text = String::new();
    for (u, p) in [ADMIN, READER] {
        text.push_str(&format!("{u}:{}\n", bcrypt::hash(p, 5).unwrap()));
    }
    std::fs::write(&ht, text).unwrap();
    let perms = dir.join("permissions");
    std::fs::write(&perms, "admin push\nreader pull vendor\n").unwrap();
    (ht, perms)
}

fn client(t: &Tls, dir: &Path, who: Option<(&str, &str)>) -> Client {
    Client::new(ClientConfig {
        docker_config: Some(dir.join("none.json")),
        ca_file: Some(t.ca_pem.clone()),
        credentials: who.map(|(u, p)| Credentials {
            username: u.into(),
            password: p.into(),
        }),
        retries: 0,
        ..Default::default()
    })
    .unwrap()
}

fn push(
    rt: &tokio::runtime::Runtime,
    c: &Client,
    imgs: &Images,
    target: &str,
) -> berth_oci::Result<()> {
    let mut d = imgs.worker.clone();
    d.annotations.clear();
    let item = PushItem {
        descriptor: d,
        target: Reference::parse(target).unwrap(),
    };
    rt.block_on(transfer::push_images(c, &imgs.layout, &[item], &NoProgress))
        .map(|_| ())
}

/// Send a request on the test runtime: status, Location header, body.
fn send(rt: &tokio::runtime::Runtime, rb: reqwest::RequestBuilder) -> (u16, String, String) {
    rt.block_on(async {
        let r = rb.send().await.unwrap();
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (r.status().as_u16(), loc, r.text().await.unwrap())
    })
}

fn skopeo_copy(
    sk: &Path,
    t: &Tls,
    creds: Option<(&str, &str)>,
    src: String,
    dest: &str,
) -> std::process::Output {
    let mut args = vec![
        "copy".to_string(),
        "--quiet".into(),
        format!("--dest-cert-dir={}", t.cert_dir.display()),
    ];
    match creds {
        Some((u, p)) => args.push(format!("--dest-creds={u}:{p}")),
        None => args.push("--dest-no-creds".into()),
    }
    args.push(src);
    args.push(format!("docker://{dest}"));
    std::process::Command::new(sk)
        .args(&args)
        .env("HOME", std::env::temp_dir())
        .output()
        .unwrap()
}

/// Anonymous push, a pull-only user's push and a wrong password are refused, by skopeo and
/// by berth's client alike; the admin pushes and the reader pulls what it may see.
#[test]
fn roles_and_passwords_are_enforced_for_real_clients() {
    let sk = tool("BERTH_TEST_SKOPEO").expect("BERTH_TEST_SKOPEO");
    let rt = rt();
    let work = tempfile::tempdir().unwrap();
    let t = make_tls(work.path());
    let (ht, perms) = users(work.path());
    let srv = rt
        .block_on(server::start(ServerConfig {
            tls: Some((t.cert.clone(), t.key.clone())),
            htpasswd: Some(ht),
            permissions: Some(perms),
            ..ServerConfig::new(work.path().join("root"), "127.0.0.1:0".parse().unwrap())
        }))
        .unwrap();
    let host = format!("127.0.0.1:{}", srv.addr.port());
    let imgs = make_images(&work.path().join("src"), 11, 20_000);
    let src = format!("oci:{}:app", imgs.layout.root().display());

    // skopeo: anonymous, pull-only and wrong password are refused; admin succeeds.
    let out = skopeo_copy(&sk, &t, None, src.clone(), &format!("{host}/vendor/app:v1"));
    assert!(!out.status.success(), "anonymous push accepted");
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        err.contains("unauthorized") || err.contains("authentication required"),
        "{err}"
    );
    let out = skopeo_copy(
        &sk,
        &t,
        Some(READER),
        src.clone(),
        &format!("{host}/vendor/app:v1"),
    );
    assert!(!out.status.success(), "pull-only user pushed");
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        err.contains("denied") || err.contains("may not push"),
        "{err}"
    );
    let out = skopeo_copy(
        &sk,
        &t,
        Some((ADMIN.0, "wrong")),
        src.clone(),
        &format!("{host}/vendor/app:v1"),
    );
    assert!(!out.status.success(), "wrong password accepted");
    let out = skopeo_copy(
        &sk,
        &t,
        Some(ADMIN),
        src.clone(),
        &format!("{host}/vendor/app:v1"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = skopeo_copy(&sk, &t, Some(ADMIN), src, &format!("{host}/private/app:v1"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // berth's client: the same refusals.
    let anon = client(&t, work.path(), None);
    let reader = client(&t, work.path(), Some(READER));
    let wrong = client(&t, work.path(), Some((READER.0, "nope")));
    let admin = client(&t, work.path(), Some(ADMIN));
    assert!(push(&rt, &anon, &imgs, &format!("{host}/vendor/worker:v1")).is_err());
    let e = push(&rt, &reader, &imgs, &format!("{host}/vendor/worker:v1")).unwrap_err();
    assert!(
        e.to_string().contains("403") || e.to_string().contains("may not push"),
        "{e}"
    );
    let e = rt.block_on(wrong.ping(&host)).unwrap_err();
    assert!(matches!(e, berth_oci::Error::Auth { .. }), "{e}");
    push(&rt, &admin, &imgs, &format!("{host}/vendor/worker:v1")).unwrap();
    // Nothing the refused pushes sent became a tag.
    let tags = rt
        .block_on(admin.list_tags(&host, "vendor/worker"))
        .unwrap();
    assert_eq!(tags, vec!["v1"]);

    // The reader pulls under its prefix only, and sees only those repositories.
    let got = rt
        .block_on(reader.head_manifest(&host, "vendor/app", "v1"))
        .unwrap();
    assert!(got.is_some());
    let e = rt
        .block_on(reader.head_manifest(&host, "private/app", "v1"))
        .unwrap_err();
    assert!(e.to_string().contains("403"), "{e}");
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&t.ca_pem).unwrap()).unwrap(),
        )
        .build()
        .unwrap();
    let (status, _, body) = send(
        &rt,
        http.get(format!("https://{host}/v2/_catalog"))
            .basic_auth(READER.0, Some(READER.1)),
    );
    assert_eq!(status, 200, "{body}");
    let cat: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        cat["repositories"],
        serde_json::json!(["vendor/app", "vendor/worker"])
    );
    rt.block_on(srv.shutdown());
}

/// An upload past the blob cap is refused with 413 and its session deleted; berth's client
/// and skopeo both fail on it; and a session nobody touches expires.
#[test]
fn uploads_are_bounded_and_expire() {
    let sk = tool("BERTH_TEST_SKOPEO").expect("BERTH_TEST_SKOPEO");
    let rt = rt();
    let work = tempfile::tempdir().unwrap();
    let mut cfg = ServerConfig::new(work.path().join("root"), "127.0.0.1:0".parse().unwrap());
    cfg.limits.max_blob_bytes = 100_000;
    cfg.limits.upload_ttl = Duration::from_secs(2);
    let srv = rt.block_on(server::start(cfg)).unwrap();
    let host = format!("127.0.0.1:{}", srv.addr.port());
    let base = format!("http://{host}");
    let uploads = work.path().join("root/uploads");
    let http = reqwest::Client::new();

    // Chunked: the chunk that crosses the cap is refused and the session is gone.
    let (status, loc, _) = send(&rt, http.post(format!("{base}/v2/a/blobs/uploads/")));
    assert_eq!(status, 202);
    let chunk = || vec![7u8; 60_000];
    assert_eq!(
        send(&rt, http.patch(format!("{base}{loc}")).body(chunk())).0,
        202
    );
    let (status, _, body) = send(&rt, http.patch(format!("{base}{loc}")).body(chunk()));
    assert_eq!(status, 413, "{body}");
    assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 0);
    assert_eq!(send(&rt, http.get(format!("{base}{loc}"))).0, 404);
    // Monolithic, without a Content-Length the server could trust up front (streamed).
    let body = vec![1u8; 150_000];
    let d = berth_oci::Digest::of(&body);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(10_000).map(|c| Ok(c.to_vec())).collect();
    let r = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{base}/v2/a/blobs/uploads/?digest={d}"))
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(r, 413);
    assert_eq!(
        send(&rt, http.head(format!("{base}/v2/a/blobs/{d}"))).0,
        404
    );

    // Real clients pushing a layer over the cap fail.
    let imgs = make_images(&work.path().join("src"), 21, 300_000);
    let c = Client::new(ClientConfig {
        insecure: true,
        retries: 0,
        docker_config: Some(work.path().join("none.json")),
        ..Default::default()
    })
    .unwrap();
    let e = push(&rt, &c, &imgs, &format!("{host}/big/app:v1")).unwrap_err();
    assert!(e.to_string().contains("413"), "{e}");
    let out = std::process::Command::new(&sk)
        .args([
            "copy".to_string(),
            "--quiet".into(),
            "--dest-tls-verify=false".into(),
            format!("oci:{}:app", imgs.layout.root().display()),
            format!("docker://{host}/big/app:v2"),
        ])
        .env("HOME", std::env::temp_dir())
        .output()
        .unwrap();
    assert!(!out.status.success(), "skopeo pushed past the blob cap");

    // An abandoned session expires (ttl 2 s; the sweeper runs every second).
    let (_, loc, _) = send(&rt, http.post(format!("{base}/v2/a/blobs/uploads/")));
    assert_eq!(
        send(
            &rt,
            http.patch(format!("{base}{loc}")).body(vec![7u8; 1000])
        )
        .0,
        202
    );
    let id = loc.rsplit('/').next().unwrap().to_string();
    assert!(uploads.join(&id).is_file());
    let start = Instant::now();
    while uploads.join(&id).exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "session never expired"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        send(&rt, http.patch(format!("{base}{loc}")).body(vec![7u8; 10])).0,
        404
    );
    rt.block_on(srv.shutdown());
}

/// An internal failure answers 500 without the server's paths.
#[test]
fn internal_errors_do_not_name_server_paths() {
    let rt = rt();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    let srv = rt
        .block_on(server::start(ServerConfig::new(
            root.clone(),
            "127.0.0.1:0".parse().unwrap(),
        )))
        .unwrap();
    let host = format!("127.0.0.1:{}", srv.addr.port());
    let imgs = make_images(&work.path().join("src"), 31, 5_000);
    let c = Client::new(ClientConfig {
        insecure: true,
        docker_config: Some(work.path().join("none.json")),
        ..Default::default()
    })
    .unwrap();
    push(&rt, &c, &imgs, &format!("{host}/x/app:v1")).unwrap();
    // Break the stored manifest: its blob becomes a directory.
    let blob = root.join("blobs/sha256").join(imgs.worker.digest.hex());
    std::fs::remove_file(&blob).unwrap();
    std::fs::create_dir(&blob).unwrap();
    let (status, _, body) = send(
        &rt,
        reqwest::Client::new().get(format!("http://{host}/v2/x/app/manifests/v1")),
    );
    assert_eq!(status, 500, "{body}");
    assert!(!body.contains(root.to_str().unwrap()), "{body}");
    assert!(!body.contains("blobs/sha256"), "{body}");
    rt.block_on(srv.shutdown());
}
