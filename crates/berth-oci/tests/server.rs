//! `berth registry serve` (the library server) with skopeo copying to and from it, and
//! berth's own client pushing and pulling through it, plain and with TLS + basic auth.

mod common;

use berth_oci::server::{self, ServerConfig};
use berth_oci::transfer::{self, NoProgress, PushItem};
use berth_oci::{Client, ClientConfig, Layout, Reference};
use common::*;

fn run(secure: bool) {
    let Some(sk) = tool("BERTH_TEST_SKOPEO") else {
        return;
    };
    let rt = rt();
    let work = tempfile::tempdir().unwrap();
    let tls = secure.then(|| make_tls(work.path()));
    let htpasswd = secure.then(|| {
        let p = work.path().join("htpasswd");
        write_htpasswd(&p);
        p
    });
    let srv = rt
        .block_on(server::start(ServerConfig {
            tls: tls.as_ref().map(|t| (t.cert.clone(), t.key.clone())),
            htpasswd,
            ..ServerConfig::new(work.path().join("root"), "127.0.0.1:0".parse().unwrap())
        }))
        .unwrap();
    let host = format!("127.0.0.1:{}", srv.addr.port());
    let flags = |side: &str| -> Vec<String> {
        match &tls {
            Some(t) => vec![
                format!("--{side}cert-dir={}", t.cert_dir.display()),
                format!("--{side}creds={USER}:{PASSWORD}"),
            ],
            None => vec![format!("--{side}tls-verify=false")],
        }
    };
    let imgs = make_images(&work.path().join("src"), 70, 200_000);
    // skopeo → berth registry (chunked or monolithic, skopeo decides), multi-arch included.
    for name in ["app", "worker", "multi"] {
        let mut args = vec![
            "copy".to_string(),
            "--quiet".into(),
            "--all".into(),
            "--preserve-digests".into(),
        ];
        args.extend(flags("dest-"));
        args.push(format!("oci:{}:{name}", imgs.layout.root().display()));
        args.push(format!("docker://{host}/vendor/{name}:v1"));
        skopeo(&sk, &args);
    }
    // skopeo reads it back with the same digests.
    let mut args = vec!["inspect".to_string(), "--raw".into()];
    args.extend(flags(""));
    args.push(format!("docker://{host}/vendor/multi:v1"));
    let raw = skopeo(&sk, &args);
    assert_eq!(berth_oci::Digest::of(raw.as_bytes()), imgs.multi.digest);
    let mut args = vec!["copy".to_string(), "--quiet".into(), "--all".into()];
    args.extend(flags("src-"));
    args.push(format!("docker://{host}/vendor/app:v1"));
    args.push(format!("oci:{}:app", work.path().join("back").display()));
    skopeo(&sk, &args);
    assert!(
        Layout::open(work.path().join("back"))
            .unwrap()
            .has_blob(&imgs.base_layer)
    );
    // The base layer is stored once for three repositories.
    let blobs = std::fs::read_dir(work.path().join("root/blobs/sha256"))
        .unwrap()
        .count();
    let distinct = imgs.layout.list_blobs().unwrap().len();
    assert!(
        blobs <= distinct,
        "{blobs} blob files for {distinct} distinct blobs"
    );
    // berth's client pushes and pulls through it (chunked uploads, mounts).
    let mut cfg = ClientConfig {
        docker_config: Some(work.path().join("none.json")),
        chunk_size: 50_000,
        chunked_uploads: !secure,
        ..Default::default()
    };
    match &tls {
        Some(t) => {
            cfg.ca_file = Some(t.ca_pem.clone());
            cfg.credentials = Some(berth_oci::auth::Credentials {
                username: USER.into(),
                password: PASSWORD.into(),
            });
        }
        None => cfg.insecure = true,
    }
    let client = Client::new(cfg.clone()).unwrap();
    let mut d = imgs.worker.clone();
    d.annotations.clear();
    let item = PushItem {
        descriptor: d,
        target: Reference::parse(&format!("{host}/other/worker:v2")).unwrap(),
    };
    let stats = rt
        .block_on(transfer::push_images(
            &client,
            &imgs.layout,
            &[item],
            &NoProgress,
        ))
        .unwrap();
    assert!(
        stats.blobs_skipped >= 1,
        "the base layer should already be there: {stats:?}"
    );
    let dest = Layout::create(work.path().join("pulled")).unwrap();
    let r = Reference::parse(&format!("{host}/other/worker:v2")).unwrap();
    let (p, _) = rt
        .block_on(transfer::pull_images(
            &client,
            &[r],
            &dest,
            &[],
            &NoProgress,
        ))
        .unwrap();
    assert_eq!(p[0].descriptor.digest, imgs.worker.digest);
    let mut tags = rt
        .block_on(client.list_tags(&host, "vendor/multi"))
        .unwrap();
    tags.sort();
    assert_eq!(tags, vec!["v1"]);
    if secure {
        let mut bad = cfg;
        bad.credentials = Some(berth_oci::auth::Credentials {
            username: USER.into(),
            password: "nope".into(),
        });
        let e = rt
            .block_on(Client::new(bad).unwrap().ping(&host))
            .unwrap_err();
        assert!(matches!(e, berth_oci::Error::Auth { .. }), "{e}");
    }
    rt.block_on(srv.shutdown());
}

#[test]
fn berth_registry_plain_with_skopeo() {
    run(false);
}

#[test]
fn berth_registry_tls_auth_with_skopeo() {
    run(true);
}

#[test]
fn berth_registry_rejects_bad_uploads() {
    let rt = rt();
    let work = tempfile::tempdir().unwrap();
    let srv = rt
        .block_on(server::start(ServerConfig::new(
            work.path().join("root"),
            "127.0.0.1:0".parse().unwrap(),
        )))
        .unwrap();
    let base = format!("http://127.0.0.1:{}", srv.addr.port());
    berth_oci::client::install_crypto_provider();
    let http = reqwest::Client::new();
    rt.block_on(async {
        // Content that does not match the digest is refused and not stored.
        let r = http.post(format!("{base}/v2/a/blobs/uploads/")).send().await.unwrap();
        assert_eq!(r.status(), 202);
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        let wrong = berth_oci::Digest::of(b"other");
        let r = http.put(format!("{base}{loc}?digest={wrong}")).body("payload").send().await.unwrap();
        assert_eq!(r.status(), 400);
        let r = http.head(format!("{base}/v2/a/blobs/{wrong}")).send().await.unwrap();
        assert_eq!(r.status(), 404);
        // A manifest pointing at missing blobs is refused.
        let m = serde_json::json!({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":wrong,"size":5},"layers":[]});
        let r = http.put(format!("{base}/v2/a/manifests/v1")).body(m.to_string()).send().await.unwrap();
        assert_eq!(r.status(), 400);
        // Traversal in names is refused.
        let r = http.get(format!("{base}/v2/../../etc/manifests/latest")).send().await.unwrap();
        assert!(r.status().is_client_error());
        let r = http.get(format!("{base}/v2/a/blobs/sha256:..%2f..%2fetc")).send().await.unwrap();
        assert_eq!(r.status(), 400);
    });
    rt.block_on(srv.shutdown());
}
