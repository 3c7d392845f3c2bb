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
        // Traversal in digests is refused (names: berth_registry_refuses_traversal_in_raw_request_lines).
        let r = http.get(format!("{base}/v2/a/blobs/sha256:..%2f..%2fetc")).send().await.unwrap();
        assert_eq!(r.status(), 400);
    });
    rt.block_on(srv.shutdown());
}

fn open_server(rt: &tokio::runtime::Runtime, root: &std::path::Path) -> server::RunningServer {
    rt.block_on(server::start(ServerConfig::new(
        root,
        "127.0.0.1:0".parse().unwrap(),
    )))
    .unwrap()
}

/// Send one raw request line over TCP (no client-side normalisation) and return the answer.
fn raw_request(addr: std::net::SocketAddr, target: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: registry\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// `..` in a repository name reaches the server as sent (a raw request line; an HTTP client
/// would normalise it away) and is refused there, whatever the route.
#[test]
fn berth_registry_refuses_traversal_in_raw_request_lines() {
    let rt = rt();
    let work = tempfile::tempdir().unwrap();
    let srv = open_server(&rt, &work.path().join("root"));
    for target in [
        "/v2/../../etc/manifests/latest",
        "/v2/a/../../../etc/tags/list",
        "/v2/../blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "/v2/a/./b/blobs/uploads/",
        "/v2/%2e%2e/%2e%2e/etc/manifests/latest",
    ] {
        let answer = raw_request(srv.addr, target);
        assert!(
            answer.starts_with("HTTP/1.1 400") && answer.contains("NAME_INVALID"),
            "{target}: {answer}"
        );
    }
    // The same server answers a sound request line.
    assert!(raw_request(srv.addr, "/v2/").starts_with("HTTP/1.1 200"));
    rt.block_on(srv.shutdown());
}

/// Upload a blob monolithically; returns its digest.
async fn put_blob(
    http: &reqwest::Client,
    base: &str,
    repo: &str,
    data: &[u8],
) -> berth_oci::Digest {
    let d = berth_oci::Digest::of(data);
    let r = http
        .post(format!("{base}/v2/{repo}/blobs/uploads/?digest={d}"))
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    d
}

async fn put_manifest(
    http: &reqwest::Client,
    url: String,
    content_type: &str,
    doc: &serde_json::Value,
) -> (u16, String) {
    let r = http
        .put(url)
        .header("content-type", content_type)
        .body(doc.to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A manifest PUT is validated (media type, required fields, sizes, referenced blobs and
/// child manifests) and served back with its validated type and `nosniff`.
#[test]
fn berth_registry_serves_only_validated_manifests() {
    use berth_oci::model::{OCI_INDEX, OCI_MANIFEST};
    let rt = rt();
    let work = tempfile::tempdir().unwrap();
    let srv = open_server(&rt, &work.path().join("root"));
    let base = format!("http://{}", srv.addr);
    let http = reqwest::Client::new();
    rt.block_on(async {
        let config = put_blob(&http, &base, "a", b"{}").await;
        let layer = put_blob(&http, &base, "a", b"layer bytes").await;
        let manifest = |layer_size: u64| {
            serde_json::json!({"schemaVersion":2,"mediaType":OCI_MANIFEST,
                "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":config,"size":2},
                "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":layer,"size":layer_size}]})
        };
        let url = |r: &str| format!("{base}/v2/a/manifests/{r}");
        // A document that calls itself HTML, or is sent as HTML, is refused.
        let html = serde_json::json!({"schemaVersion":2,"mediaType":"text/html","config":{"mediaType":"x","digest":config,"size":2},"layers":[],"x":"<script>alert(1)</script>"});
        let (s, body) = put_manifest(&http, url("evil"), "text/html", &html).await;
        assert_eq!(s, 400, "{body}");
        assert!(body.contains("MANIFEST_INVALID"), "{body}");
        let (s, body) = put_manifest(&http, url("evil"), "text/html", &manifest(11)).await;
        assert_eq!(s, 400, "{body}");
        // Wrong layer size, missing config field.
        let (s, body) = put_manifest(&http, url("v1"), OCI_MANIFEST, &manifest(12)).await;
        assert!(s == 400 && body.contains("says 12"), "{body}");
        let mut no_config = manifest(11);
        no_config.as_object_mut().unwrap().remove("config");
        let (s, body) = put_manifest(&http, url("v1"), OCI_MANIFEST, &no_config).await;
        assert!(s == 400 && body.contains("config is missing"), "{body}");
        // A sound manifest is served with its type and nosniff.
        let (s, body) = put_manifest(&http, url("v1"), OCI_MANIFEST, &manifest(11)).await;
        assert_eq!(s, 201, "{body}");
        let r = http.get(url("v1")).send().await.unwrap();
        assert_eq!(r.headers()["content-type"], OCI_MANIFEST);
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let child = berth_oci::Digest::of(manifest(11).to_string().as_bytes());
        let child_size = manifest(11).to_string().len();
        // An index needs its children linked in the same repository.
        let index = serde_json::json!({"schemaVersion":2,"mediaType":OCI_INDEX,
            "manifests":[{"mediaType":OCI_MANIFEST,"digest":child,"size":child_size}]});
        let (s, body) = put_manifest(&http, format!("{base}/v2/b/manifests/i"), OCI_INDEX, &index).await;
        assert!(s == 400 && body.contains("MANIFEST_BLOB_UNKNOWN"), "{body}");
        let (s, body) = put_manifest(&http, url("i"), OCI_INDEX, &index).await;
        assert_eq!(s, 201, "{body}");
        let r = http.head(url("i")).send().await.unwrap();
        assert_eq!(r.headers()["content-type"], OCI_INDEX);
        // Errors carry the nosniff header too.
        let r = http.get(url("nope")).send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    });
    rt.block_on(srv.shutdown());
}

/// Repository names never meet the storage layout: `x/tags` and `x/manifests` are
/// repositories of their own, `x`'s tag list holds only its tags, and pushing twice works.
#[test]
fn berth_registry_names_do_not_collide_with_its_layout() {
    let rt = rt();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    let srv = open_server(&rt, &root);
    let host = srv.addr.to_string();
    let imgs = make_images(&work.path().join("src"), 41, 3_000);
    let client = Client::new(ClientConfig {
        insecure: true,
        docker_config: Some(work.path().join("none.json")),
        ..Default::default()
    })
    .unwrap();
    let push = |target: &str| {
        let mut d = imgs.worker.clone();
        d.annotations.clear();
        let item = PushItem {
            descriptor: d,
            target: Reference::parse(target).unwrap(),
        };
        rt.block_on(transfer::push_images(
            &client,
            &imgs.layout,
            &[item],
            &NoProgress,
        ))
        .map(|_| ())
    };
    push(&format!("{host}/x:v1")).unwrap();
    push(&format!("{host}/x/tags:v2")).unwrap();
    push(&format!("{host}/x/manifests:v3")).unwrap();
    push(&format!("{host}/x/tags:v4")).unwrap();
    let tags = |repo: &str| {
        let mut t = rt.block_on(client.list_tags(&host, repo)).unwrap();
        t.sort();
        t
    };
    assert_eq!(tags("x"), vec!["v1"]);
    assert_eq!(tags("x/tags"), vec!["v2", "v4"]);
    assert_eq!(tags("x/manifests"), vec!["v3"]);
    let cat: serde_json::Value = rt.block_on(async {
        reqwest::get(format!("http://{host}/v2/_catalog"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(
        cat["repositories"],
        serde_json::json!(["x", "x/manifests", "x/tags"])
    );
    // Internal folder names are not repository names.
    let r = raw_request(srv.addr, "/v2/x/_tags/tags/list");
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    rt.block_on(srv.shutdown());
}

/// A root written with the earlier layout (`manifests/`, `tags/`) is moved on start.
#[test]
fn berth_registry_migrates_the_earlier_layout() {
    let rt = rt();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    let doc = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    let d = berth_oci::Digest::of(doc);
    std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    std::fs::write(root.join("blobs/sha256").join(d.hex()), doc).unwrap();
    let repo = root.join("repositories/old/app");
    std::fs::create_dir_all(repo.join("manifests")).unwrap();
    std::fs::create_dir_all(repo.join("tags")).unwrap();
    std::fs::write(
        repo.join("manifests").join(d.hex()),
        berth_oci::model::OCI_INDEX,
    )
    .unwrap();
    std::fs::write(repo.join("tags/v1"), d.as_str()).unwrap();
    let srv = open_server(&rt, &root);
    let r = raw_request(srv.addr, "/v2/old/app/manifests/v1");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(repo.join("_manifests").is_dir() && !repo.join("manifests").exists());
    rt.block_on(srv.shutdown());
}
