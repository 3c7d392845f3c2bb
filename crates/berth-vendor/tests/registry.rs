//! The vendor server's pull-only registry endpoint (`/v2/`), authenticated with licenses:
//! skopeo copies through it with the license credential, and one license never reaches another
//! app's, another channel's or a refused license's images, whatever the path says.

use berth_oci::digest::Digest;
use berth_oci::layout::Layout;
use berth_oci::model::{self, Descriptor};
use berth_oci::release::{ReleaseImage, ReleaseMeta, write_app_entry};
use berth_vendor::client::{Client, ReleasePush};
use berth_vendor::model::*;
use berth_vendor::service::Service;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The path of a test tool from its BERTH_TEST_* variable; None (printed) only when
/// BERTH_TEST_ALLOW_SKIP=1.
fn tool(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ if std::env::var("BERTH_TEST_ALLOW_SKIP").as_deref() == Ok("1") => {
            eprintln!("SKIPPED: {var} is not set");
            None
        }
        _ => panic!(
            "{var} is not set: run scripts/setup.d/30-registry.sh (or set BERTH_TEST_ALLOW_SKIP=1 to skip)"
        ),
    }
}

struct Server {
    url: String,
    host: String,
    admin: Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start(data: &Path) -> Server {
    std::fs::create_dir_all(data).unwrap();
    let db = berth_vendor::db::Db::connect(None, data).await.unwrap();
    let store = berth_vendor::store::Store::open(data, 1 << 30).unwrap();
    let (svc, first) = Service::start(db, store, data).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}");
    let app = berth_vendor::http::router(svc, url.clone(), 1000.0);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let token = std::fs::read_to_string(first.unwrap()).unwrap();
    Server {
        admin: Client::new(&url, token.trim()).unwrap(),
        url,
        host: addr.to_string(),
        task,
    }
}

/// Deterministic pseudo-random bytes (xorshift), so a failure can be replayed.
fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A release of `app` holding one image `source` with one layer of `layer` bytes.
fn release(dir: &Path, app: &str, version: &str, source: &str, layer: &[u8]) -> (PathBuf, Image) {
    let out = dir.join(format!("{app}-{version}.release"));
    let layout = Layout::create(&out).unwrap();
    let desc = |d: Digest, size: usize, mt: &str| Descriptor {
        media_type: mt.into(),
        digest: d,
        size: size as u64,
        platform: None,
        annotations: Default::default(),
    };
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        Digest::of(layer)
    );
    let config_d = layout.put_blob(config.as_bytes()).unwrap();
    let layer_d = layout.put_blob(layer).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": model::OCI_MANIFEST,
        "config": desc(config_d.clone(), config.len(), model::OCI_CONFIG),
        "layers": [desc(layer_d.clone(), layer.len(), "application/vnd.oci.image.layer.v1.tar")],
    });
    let mbytes = serde_json::to_vec(&manifest).unwrap();
    let mut entry = desc(
        layout.put_blob(&mbytes).unwrap(),
        mbytes.len(),
        model::OCI_MANIFEST,
    );
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
        app: app.into(),
        version: version.into(),
        images: vec![ReleaseImage {
            source: source.into(),
            digest: entry.digest.clone(),
            media_type: model::OCI_MANIFEST.into(),
        }],
    };
    write_app_entry(
        &layout,
        &meta,
        &[("berth.yaml".into(), format!("# {app}\n").into_bytes())],
    )
    .unwrap();
    (
        out,
        Image {
            manifest: entry.digest,
            layer: layer_d,
            config: config_d,
        },
    )
}

#[derive(Clone)]
struct Image {
    manifest: Digest,
    layer: Digest,
    config: Digest,
}

fn customer(name: &str, app: &str, channel: &str, expires: Option<&str>) -> NewCustomer {
    NewCustomer {
        name: name.into(),
        app: app.into(),
        channels: vec![channel.into()],
        license_type: "paid".into(),
        expires_at: expires.map(Into::into),
        airgap: false,
        snapshots: false,
        support_bundle_upload: false,
        cluster_id: None,
        entitlements: vec![],
    }
}

/// A server with: hello 1.0.0 on stable (image web:1.0), hello 2.0.0 on beta only (web:2.0),
/// other 1.0.0 on stable (db:1); customers a (hello/stable), b (other/stable), old (expired).
struct World {
    s: Server,
    web1: Image,
    web2: Image,
    db1: Image,
    a: berth_license::License,
    b: berth_license::License,
    old: berth_license::License,
    _tmp: tempfile::TempDir,
}

async fn world(seed: u64, layer_size: usize) -> World {
    println!("seed {seed}");
    let tmp = tempfile::tempdir().unwrap();
    let s = start(&tmp.path().join("data")).await;
    let mut imgs = vec![];
    for (i, (app, v, src, ch)) in [
        ("hello", "1.0.0", "docker.io/library/web:1.0", "stable"),
        ("hello", "2.0.0", "docker.io/library/web:2.0", "beta"),
        ("other", "1.0.0", "docker.io/library/db:1", "stable"),
    ]
    .into_iter()
    .enumerate()
    {
        if s.admin.create_app(app).await.is_ok() {
            // created now
        }
        let (dir, img) = release(tmp.path(), app, v, src, &bytes(seed + i as u64, layer_size));
        s.admin
            .push_release(&dir, ReleasePush::default())
            .await
            .unwrap();
        s.admin.promote(app, ch, v).await.unwrap();
        imgs.push(img);
    }
    s.admin
        .create_customer(&customer("a", "hello", "stable", None))
        .await
        .unwrap();
    s.admin
        .create_customer(&customer("b", "other", "stable", None))
        .await
        .unwrap();
    s.admin
        .create_customer(&customer("old", "hello", "stable", Some("2001-01-01")))
        .await
        .unwrap();
    let lic = |t: String| berth_license::License::parse(&t, "license").unwrap();
    World {
        a: lic(s.admin.issue_license("a").await.unwrap()),
        b: lic(s.admin.issue_license("b").await.unwrap()),
        old: lic(s.admin.issue_license("old").await.unwrap()),
        web1: imgs[0].clone(),
        web2: imgs[1].clone(),
        db1: imgs[2].clone(),
        s,
        _tmp: tmp,
    }
}

fn creds(l: &berth_license::License) -> String {
    format!("{}:{}", l.spec.license_id, l.spec.credential)
}

fn skopeo(bin: &Path, args: &[String]) -> std::process::Output {
    Command::new(bin)
        .args(args)
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("run skopeo")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_copies_through_the_endpoint_with_the_license_only() {
    let Some(sk) = tool("BERTH_TEST_SKOPEO") else {
        return;
    };
    let w = world(0x5eed_0001, 3 << 20).await;
    let out = tempfile::tempdir().unwrap();
    let copy = |creds: Option<String>, src: String, name: &str| {
        let mut args = vec![
            "--insecure-policy".to_string(),
            "copy".into(),
            "--preserve-digests".into(),
            "--src-tls-verify=false".into(),
        ];
        if let Some(c) = creds {
            args.push(format!("--src-creds={c}"));
        }
        args.push(src);
        args.push(format!("oci:{}:{name}", out.path().join(name).display()));
        (sk.clone(), args)
    };
    // by tag and by digest, with the license id and credential as user name and password
    for (src, name) in [
        (
            format!("docker://{}/hello/library/web:1.0", w.s.host),
            "tag",
        ),
        (
            format!(
                "docker://{}/hello/library/web@{}",
                w.s.host, w.web1.manifest
            ),
            "digest",
        ),
    ] {
        let (bin, args) = copy(Some(creds(&w.a)), src, name);
        let o = tokio::task::spawn_blocking(move || skopeo(&bin, &args))
            .await
            .unwrap();
        assert!(
            o.status.success(),
            "skopeo: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let l = Layout::open(out.path().join(name)).unwrap();
        assert!(l.has_blob(&w.web1.layer) && l.has_blob(&w.web1.config));
        assert!(l.has_blob(&w.web1.manifest), "digests kept");
    }
    // refused: no credential, a wrong credential, another customer's license, an expired one,
    // and a's license for the beta-only image
    let mut wrong = w.a.clone();
    wrong.spec.credential = "0".repeat(64);
    for (c, src) in [
        (None, format!("docker://{}/hello/library/web:1.0", w.s.host)),
        (
            Some(creds(&wrong)),
            format!("docker://{}/hello/library/web:1.0", w.s.host),
        ),
        (
            Some(creds(&w.b)),
            format!("docker://{}/hello/library/web:1.0", w.s.host),
        ),
        (
            Some(creds(&w.old)),
            format!("docker://{}/hello/library/web:1.0", w.s.host),
        ),
        (
            Some(creds(&w.a)),
            format!("docker://{}/hello/library/web:2.0", w.s.host),
        ),
    ] {
        let (bin, args) = copy(c, src.clone(), "refused");
        let o = tokio::task::spawn_blocking(move || skopeo(&bin, &args))
            .await
            .unwrap();
        assert!(!o.status.success(), "{src} was copied");
    }
    assert!(
        !out.path()
            .join("refused")
            .join("blobs/sha256")
            .join(w.web2.layer.hex())
            .exists()
    );
}

async fn get(
    url: &str,
    auth: Option<&str>,
    range: Option<&str>,
) -> (u16, Vec<u8>, reqwest::header::HeaderMap) {
    let c = reqwest::Client::new();
    let mut rb = c.get(url);
    if let Some(a) = auth {
        rb = rb.header("authorization", a);
    }
    if let Some(r) = range {
        rb = rb.header("range", r);
    }
    let r = rb.send().await.unwrap();
    let st = r.status().as_u16();
    let h = r.headers().clone();
    (st, r.bytes().await.unwrap().to_vec(), h)
}

fn basic(l: &berth_license::License) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(creds(l))
    )
}

#[tokio::test]
async fn one_license_never_reaches_another_licenses_images() {
    let w = world(0x5eed_0002, 64 * 1024).await;
    let base = format!("{}/v2", w.s.url);
    let (a, b) = (basic(&w.a), basic(&w.b));

    // the version check wants a license, and says how to log in
    let (st, _, h) = get(&format!("{base}/"), None, None).await;
    assert_eq!(st, 401);
    assert!(h["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    assert_eq!(get(&format!("{base}/"), Some(&a), None).await.0, 200);
    // berth's own bearer form works too
    assert_eq!(
        get(
            &format!("{base}/"),
            Some(&format!("Bearer {}", w.a.bearer())),
            None
        )
        .await
        .0,
        200
    );

    // a reads its own image
    let (st, body, h) = get(
        &format!("{base}/hello/library/web/manifests/1.0"),
        Some(&a),
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(Digest::of(&body), w.web1.manifest);
    assert_eq!(h["content-type"], model::OCI_MANIFEST);
    assert_eq!(h["docker-content-digest"], w.web1.manifest.to_string());
    let (st, layer, _) = get(
        &format!("{base}/hello/library/web/blobs/{}", w.web1.layer),
        Some(&a),
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(Digest::of(&layer), w.web1.layer);
    let (st, tags, _) = get(
        &format!("{base}/hello/library/web/tags/list"),
        Some(&a),
        None,
    )
    .await;
    assert_eq!(st, 200);
    let tags: serde_json::Value = serde_json::from_slice(&tags).unwrap();
    assert_eq!(
        tags["tags"],
        serde_json::json!(["1.0"]),
        "the beta tag is not listed"
    );

    // ranges: a part, an open end, a suffix, one past the end
    let blob = format!("{base}/hello/library/web/blobs/{}", w.web1.layer);
    let n = layer.len();
    let (st, part, h) = get(&blob, Some(&a), Some("bytes=100-199")).await;
    assert_eq!((st, &part[..]), (206, &layer[100..200]));
    assert_eq!(h["content-range"], format!("bytes 100-199/{n}"));
    let (st, part, _) = get(&blob, Some(&a), Some(&format!("bytes={}-", n - 10))).await;
    assert_eq!((st, &part[..]), (206, &layer[n - 10..]));
    let (st, part, _) = get(&blob, Some(&a), Some("bytes=-5")).await;
    assert_eq!((st, &part[..]), (206, &layer[n - 5..]));
    let (st, _, h) = get(&blob, Some(&a), Some(&format!("bytes={n}-"))).await;
    assert_eq!(st, 416);
    assert_eq!(h["content-range"], format!("bytes */{n}"));

    // every way a could try to reach b's or the beta channel's content is a 404, the same
    // answer as for something that does not exist
    let refused = [
        format!("{base}/other/library/db/manifests/1"),
        format!("{base}/other/library/db/manifests/{}", w.db1.manifest),
        format!("{base}/other/library/db/blobs/{}", w.db1.layer),
        // b's blob under a's own repository name
        format!("{base}/hello/library/web/blobs/{}", w.db1.layer),
        format!("{base}/hello/library/web/manifests/{}", w.db1.manifest),
        // the beta release's image, by tag, digest and blob
        format!("{base}/hello/library/web/manifests/2.0"),
        format!("{base}/hello/library/web/manifests/{}", w.web2.manifest),
        format!("{base}/hello/library/web/blobs/{}", w.web2.layer),
        // tampered names and digests
        format!(
            "{base}/hello/library/web%2F..%2F..%2Fother/library/db/blobs/{}",
            w.db1.layer
        ),
        format!("{base}/hello/library/web/blobs/sha256:..%2F..%2Fvendor.db"),
        format!("{base}/hello/library/web/blobs/{}%2F..", w.web1.layer),
        format!("{base}/hello/library/web/manifests/..%2F..%2Findex.json"),
        format!("{base}/hello/library/web/blobs/sha256:{}", "A".repeat(64)),
        format!("{base}/Hello/library/web/blobs/{}", w.web1.layer),
        format!("{base}/_catalog"),
    ];
    for u in &refused {
        let (st, body, _) = get(u, Some(&a), None).await;
        assert_eq!(st, 404, "{u}: {}", String::from_utf8_lossy(&body));
        let e: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(e["errors"][0]["code"].is_string(), "{u}");
        assert!(!String::from_utf8_lossy(&body).contains("/tmp"), "{u}");
    }
    // and b sees only its own app
    assert_eq!(
        get(
            &format!("{base}/other/library/db/blobs/{}", w.db1.layer),
            Some(&b),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        get(
            &format!("{base}/hello/library/web/blobs/{}", w.web1.layer),
            Some(&b),
            None
        )
        .await
        .0,
        404
    );
    // pull-only
    let c = reqwest::Client::new();
    for m in [
        reqwest::Method::PUT,
        reqwest::Method::POST,
        reqwest::Method::DELETE,
    ] {
        let r = c
            .request(
                m.clone(),
                format!("{base}/hello/library/web/blobs/uploads/"),
            )
            .header("authorization", &a)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{m}");
    }
    // an expired license: refused with the reason, before any content
    let (st, body, _) = get(
        &format!("{base}/hello/library/web/blobs/{}", w.web1.layer),
        Some(&basic(&w.old)),
        None,
    )
    .await;
    assert_eq!(st, 403);
    assert!(String::from_utf8_lossy(&body).contains("expired"));
    // a revoked customer: refused from the next request on
    w.s.admin
        .change_customer(
            "a",
            &CustomerChange {
                revoked: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (st, body, _) = get(&blob, Some(&a), None).await;
    assert_eq!(st, 403);
    assert!(String::from_utf8_lossy(&body).contains("revoked"));
}

/// `berth vendor bundle`: the server builds and signs full and delta bundles of stored releases
/// for one customer, verifiable with the vendor's public key; only for an air-gap customer,
/// only of releases its license could download.
#[tokio::test]
async fn bundles_for_a_customer_full_and_delta() {
    use berth_vendor::bundles::BundleRequest;
    let seed = 0x5eed_0003;
    let w = world(seed, 256 * 1024).await;
    let tmp = tempfile::tempdir().unwrap();
    // 1.1.0 keeps 1.0.0's layer (another tag, so another manifest)
    let (dir, _) = release(
        tmp.path(),
        "hello",
        "1.1.0",
        "docker.io/library/web:1.1",
        &bytes(seed, 256 * 1024),
    );
    w.s.admin
        .push_release(&dir, ReleasePush::default())
        .await
        .unwrap();
    w.s.admin.promote("hello", "stable", "1.1.0").await.unwrap();
    let mut air = customer("air", "hello", "stable", None);
    air.airgap = true;
    w.s.admin.create_customer(&air).await.unwrap();
    let pem = &w.s.admin.keys().await.unwrap()[0].public_pem;
    let key: ed25519_dalek::VerifyingKey =
        ed25519_dalek::pkcs8::DecodePublicKey::from_public_key_pem(pem).unwrap();
    let req = |v: &str, since: Option<&str>| BundleRequest {
        version: v.into(),
        since: since.map(Into::into),
    };
    let expect = berth_oci::bundle::Expect {
        app: Some("hello".into()),
    };

    let full = tmp.path().join("air-1.0.0.bundle");
    let d =
        w.s.admin
            .customer_bundle("air", &req("1.0.0", None), &full)
            .await
            .unwrap();
    assert_eq!((d.kind.as_str(), d.blobs_omitted), ("full", 0));
    assert_eq!(d.bytes, std::fs::metadata(&full).unwrap().len());
    let base = tmp.path().join("base");
    let ok = berth_oci::bundle::verify(&full, &key, &expect, Some(&base), None).unwrap();
    assert_eq!(ok.manifest.version, "1.0.0");
    let rel = berth_oci::release::Release::open(&base).unwrap();
    assert!(rel.layout.has_blob(&w.web1.layer));

    let delta = tmp.path().join("air-1.1.0.bundle");
    let d =
        w.s.admin
            .customer_bundle("air", &req("1.1.0", Some("1.0.0")), &delta)
            .await
            .unwrap();
    assert_eq!(d.kind, "delta");
    assert!(
        d.blobs_omitted >= 2,
        "the layer and berth.yaml are the base's"
    );
    assert!(
        d.bytes < 128 * 1024,
        "the 256 KiB layer is not in the delta"
    );
    let base_layout = Layout::open(&base).unwrap();
    let out = tmp.path().join("v110");
    berth_oci::bundle::verify(&delta, &key, &expect, Some(&out), Some(&base_layout)).unwrap();
    assert_eq!(
        berth_oci::release::Release::open(&out)
            .unwrap()
            .meta
            .version,
        "1.1.0"
    );
    // the customer's own download with its license
    let air_lic =
        berth_license::License::parse(&w.s.admin.issue_license("air").await.unwrap(), "l").unwrap();
    let c = Client::new(&w.s.url, &air_lic.bearer()).unwrap();
    let own = tmp.path().join("own.bundle");
    assert_eq!(
        c.license_bundle(&req("1.1.0", None), &own)
            .await
            .unwrap()
            .kind,
        "full"
    );
    berth_oci::bundle::verify(&own, &key, &expect, None, None).unwrap();

    // refusals: no air-gap entitlement, a channel the customer lacks, a base not older,
    // an unknown base, a token that may not sign, another customer's license
    let status = |e: berth_vendor::client::ClientError| e.status().unwrap();
    let no = tmp.path().join("no.bundle");
    for (cust, r, want) in [
        ("a", req("1.0.0", None), 403),
        ("air", req("2.0.0", None), 404),
        ("air", req("1.0.0", Some("1.1.0")), 400),
        ("air", req("1.1.0", Some("0.9.0")), 404),
        ("nobody", req("1.0.0", None), 404),
        ("../air", req("1.0.0", None), 404),
    ] {
        let e = w.s.admin.customer_bundle(cust, &r, &no).await.unwrap_err();
        assert_eq!(status(e), want, "{cust} {r:?}");
    }
    let ro =
        w.s.admin
            .create_token("dash", Scope::ReadOnly)
            .await
            .unwrap();
    let e = Client::new(&w.s.url, &ro.token)
        .unwrap()
        .customer_bundle("air", &req("1.0.0", None), &no)
        .await
        .unwrap_err();
    assert_eq!(status(e), 403);
    let e = Client::new(&w.s.url, &w.a.bearer())
        .unwrap()
        .license_bundle(&req("1.0.0", None), &no)
        .await
        .unwrap_err();
    assert_eq!(status(e), 403);
    assert!(!no.exists(), "nothing written for a refusal");
}

/// The online install's fetch: the newest release of the license's channel, its app files
/// only (the images stay on the registry endpoint), and the registry the cluster pulls from.
#[tokio::test]
async fn online_fetch_takes_the_app_files_and_leaves_images_on_the_registry() {
    use berth_vendor::online::Online;
    let w = world(0x5eed_0004, 64 * 1024).await;
    let tmp = tempfile::tempdir().unwrap();
    let on = Online::new(w.a.clone(), None).unwrap();
    assert_eq!(on.registry().unwrap(), format!("{}/hello", w.s.host));
    let inst = InstanceReport {
        cluster_id: "c".into(),
        ..Default::default()
    };
    let v = on.install_version(None, inst.clone()).await.unwrap();
    assert_eq!(v, "1.0.0", "2.0.0 is on beta only");
    let f = on.fetch(&v, tmp.path()).await.unwrap();
    let rel = berth_oci::release::Release::open(&f.release_dir).unwrap();
    assert_eq!(rel.images.len(), 1);
    assert!(rel.read_file("berth.yaml").unwrap().is_some());
    assert!(
        !rel.layout.has_blob(&w.web1.layer),
        "no image blob downloaded"
    );
    let e = on.fetch("2.0.0", tmp.path()).await.unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
    // a license of another app cannot fetch this one
    let ob = Online::new(w.b.clone(), None).unwrap();
    assert_eq!(ob.registry().unwrap(), format!("{}/other", w.s.host));
    let fb = ob.fetch("1.0.0", &tmp.path().join("b")).await.unwrap();
    assert_eq!(
        berth_oci::release::Release::open(&fb.release_dir)
            .unwrap()
            .meta
            .app,
        "other"
    );
}
