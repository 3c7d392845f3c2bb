//! The vendor server over real HTTP on 127.0.0.1, with SQLite (embedded) and PostgreSQL
//! (Debian's server, started per test from BERTH_TEST_POSTGRES_BIN).

use berth_oci::layout::Layout;
use berth_oci::release::{ReleaseMeta, write_app_entry};
use berth_vendor::client::{Client, ReleasePush};
use berth_vendor::model::*;
use berth_vendor::service::{ReleaseGate, Service};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod pg;

/// A server running in this process until dropped.
struct Server {
    url: String,
    admin: String,
    data: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct DenyVersion(&'static str);
impl ReleaseGate for DenyVersion {
    fn name(&self) -> &str {
        "test-gate"
    }
    fn check(&self, release: &berth_vendor::service::GateInput) -> Vec<String> {
        let version = &release.version;
        // the gate reads the release through its layout
        assert!(berth_oci::release::Release::open(&release.layout).is_ok());
        if version == self.0 {
            vec![format!("{version} is denied by the test gate")]
        } else {
            vec![]
        }
    }
}

/// The support bundle limit of the test servers (the default is 512 MiB).
const MAX_SUPPORT_BUNDLE: u64 = 64 * 1024;

async fn start(data: &Path, db_url: Option<&str>, gates: Vec<Box<dyn ReleaseGate>>) -> Server {
    start_with(data, db_url, gates, None).await
}

/// [`start`], with a vulnerability database answering exposure questions.
async fn start_with(
    data: &Path,
    db_url: Option<&str>,
    gates: Vec<Box<dyn ReleaseGate>>,
    scanner: Option<Arc<berth_vendor::scan_gate::ScanGate>>,
) -> Server {
    let db = berth_vendor::db::Db::connect(db_url, data).await.unwrap();
    let store = berth_vendor::store::Store::open(data, 1 << 30).unwrap();
    let (mut svc, first) = Service::start(db, store, data).await.unwrap();
    svc.max_support_bundle = MAX_SUPPORT_BUNDLE;
    svc.gates = Arc::new(gates);
    svc.scanner = scanner;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}");
    let app = berth_vendor::http::router(svc, url.clone(), 1000.0);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let admin = match first {
        Some(p) => std::fs::read_to_string(p).unwrap().trim().to_string(),
        None => String::new(),
    };
    Server {
        url,
        admin,
        data: data.to_path_buf(),
        task,
    }
}

/// A release directory as `berth release build` writes it (no images: app files only).
fn release(dir: &Path, app: &str, version: &str, extra: &str) -> PathBuf {
    let out = dir.join(format!("{app}-{version}.release"));
    let layout = Layout::create(&out).unwrap();
    let meta = ReleaseMeta {
        format: 1,
        app: app.into(),
        version: version.into(),
        images: vec![],
    };
    let files = vec![
        (
            "berth.yaml".to_string(),
            format!("apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: {app}\n# {extra}\n").into_bytes(),
        ),
        ("chart/Chart.yaml".to_string(), format!("name: {app}\nversion: {version}\n").into_bytes()),
    ];
    write_app_entry(&layout, &meta, &files).unwrap();
    out
}

fn status(e: &berth_vendor::client::ClientError) -> u16 {
    e.status().unwrap_or_else(|| panic!("not a refusal: {e}"))
}

/// Everything a vendor does and everything a customer sees, on one database.
async fn vendor_to_customer(db_url: Option<&str>) {
    let tmp = tempfile::tempdir().unwrap();
    let s = start(tmp.path(), db_url, vec![Box::new(DenyVersion("1.3.0"))]).await;
    let admin = Client::new(&s.url, &s.admin).unwrap();
    assert_eq!(admin.whoami().await.unwrap().scope, Scope::Admin);
    admin.create_app("hello").await.unwrap();
    let pubkeys = admin.keys().await.unwrap();
    assert_eq!(pubkeys.len(), 1);

    // push 1.0.0, 1.1.0 (required), 1.2.0; a second push of 1.1.0 changes nothing
    let publisher = admin
        .create_token("ci", Scope::ReleasePublisher)
        .await
        .unwrap();
    let ci = Client::new(&s.url, &publisher.token).unwrap();
    for (v, required) in [
        ("1.0.0", false),
        ("1.1.0", true),
        ("1.2.0", false),
        ("1.3.0", false),
    ] {
        let r = ci
            .push_release(
                &release(tmp.path(), "hello", v, ""),
                ReleasePush {
                    required,
                    notes: format!("notes {v}"),
                    eol_at: None,
                },
            )
            .await
            .unwrap();
        assert!(r.created, "{v}");
        // index, manifest, config, 2 files; berth.yaml is the same in every version: stored once
        let expect = if v == "1.0.0" { (5, 0) } else { (4, 1) };
        assert_eq!((r.uploaded, r.present), expect, "{v}");
    }
    let again = ci
        .push_release(
            &tmp.path().join("hello-1.1.0.release"),
            ReleasePush {
                required: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (again.created, again.uploaded, again.present),
        (false, 0, 5)
    );
    // immutable: other content under a pushed version is refused
    let other = tempfile::tempdir().unwrap();
    let e = ci
        .push_release(
            &release(other.path(), "hello", "1.1.0", "changed"),
            ReleasePush::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(status(&e), 409, "{e}");

    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        assert!(ci.promote("hello", "stable", v).await.unwrap());
    }
    assert!(
        !ci.promote("hello", "stable", "1.2.0").await.unwrap(),
        "second promote is a no-op"
    );
    let e = ci.promote("hello", "stable", "1.3.0").await.unwrap_err();
    assert_eq!(status(&e), 422);
    assert!(e.to_string().contains("denied by the test gate"), "{e}");

    // customers and licenses
    admin
        .create_customer(&NewCustomer {
            name: "acme".into(),
            app: "hello".into(),
            channels: vec!["stable".into()],
            license_type: "paid".into(),
            expires_at: Some("2099-12-31".into()),
            airgap: true,
            snapshots: false,
            support_bundle_upload: false,
            cluster_id: None,
            entitlements: vec!["seats=int:50".into(), "tier=string:gold".into()],
        })
        .await
        .unwrap();
    let text = admin.issue_license("acme").await.unwrap();
    let lic = berth_license::License::parse(&text, "acme").unwrap();
    let key =
        ed25519_dalek::pkcs8::DecodePublicKey::from_public_key_pem(&pubkeys[0].public_pem).unwrap();
    lic.verify(&[key], &berth_license::Expect::now(), "acme")
        .unwrap();
    assert_eq!(lic.entitlements_json()["seats"], 50);

    // the customer: new install goes to the newest; an install on 1.0.0 must walk 1.1.0
    let cust = Client::new(&lic.spec.vendor_url, &lic.bearer()).unwrap();
    let check = |current: Option<&str>| UpdateCheck {
        current_version: current.map(Into::into),
        target_version: None,
        channel: None,
        instance: InstanceReport {
            cluster_id: "uid-1".into(),
            kube_version: "v1.33.1".into(),
            distribution: "generic".into(),
            ready: "ready".into(),
            berth_version: "0.1.0".into(),
        },
    };
    let a = cust.check_updates(&check(None)).await.unwrap();
    assert_eq!(a.path, ["1.2.0"]);
    let a = cust.check_updates(&check(Some("1.0.0"))).await.unwrap();
    assert_eq!(a.path, ["1.1.0", "1.2.0"]);
    assert_eq!(a.newer.len(), 2);
    assert!(a.newer[0].required);

    let inst = admin.instances("hello").await.unwrap();
    assert_eq!(inst.len(), 1);
    assert_eq!((inst[0].app_version.as_str(), inst[0].behind), ("1.0.0", 2));

    // download a licensed release and open it as berth would
    let dl = tmp.path().join("dl");
    cust.download_release("1.1.0", &dl).await.unwrap();
    let r = berth_oci::release::Release::open(&dl).unwrap();
    assert_eq!(r.meta.version, "1.1.0");
    // a release not promoted to the customer's channel is not theirs
    let e = cust
        .download_release("1.3.0", &tmp.path().join("dl2"))
        .await
        .unwrap_err();
    assert_eq!(status(&e), 404, "{e}");

    // scopes: a read-only token cannot push, promote or see customers' licenses
    let ro = admin
        .create_token("dashboard", Scope::ReadOnly)
        .await
        .unwrap();
    let ro = Client::new(&s.url, &ro.token).unwrap();
    assert_eq!(ro.channels("hello").await.unwrap().len(), 3);
    assert_eq!(
        status(&ro.promote("hello", "beta", "1.0.0").await.unwrap_err()),
        403
    );
    assert_eq!(status(&ro.issue_license("acme").await.unwrap_err()), 403);
    assert_eq!(
        status(
            &ci.create_customer(&NewCustomer {
                name: "x".into(),
                ..acme_like()
            })
            .await
            .unwrap_err()
        ),
        403
    );
    // a license is not a vendor token, and a vendor token is not a license
    assert_eq!(
        status(
            &Client::new(&s.url, &lic.bearer())
                .unwrap()
                .channels("hello")
                .await
                .unwrap_err()
        ),
        401
    );
    assert_eq!(
        status(
            &Client::new(&s.url, &s.admin)
                .unwrap()
                .check_updates(&check(None))
                .await
                .unwrap_err()
        ),
        401
    );

    // audit log names who did what
    let log = admin.audit().await.unwrap();
    assert!(
        log.iter()
            .any(|r| r.actor == "ci" && r.action == "release.promote"),
        "{log:?}"
    );
    drop(s);
}

fn acme_like() -> NewCustomer {
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

#[tokio::test]
async fn vendor_to_customer_on_sqlite() {
    vendor_to_customer(None).await;
}

#[tokio::test]
async fn vendor_to_customer_on_postgres() {
    let pg = pg::Postgres::start();
    vendor_to_customer(Some(&pg.url())).await;
}

#[tokio::test]
async fn first_start_writes_an_owner_only_admin_token_once() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let s = start(tmp.path(), None, vec![]).await;
    let f = s.data.join("admin-token");
    assert_eq!(
        std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(s.admin.starts_with("bvt_"));
    drop(s);
    // a restart on the same database creates no second admin token
    let s2 = start(tmp.path(), None, vec![]).await;
    assert!(s2.admin.is_empty());
    let admin = Client::new(&s2.url, std::fs::read_to_string(&f).unwrap().trim()).unwrap();
    let tokens = admin.create_token("t", Scope::ReadOnly).await.unwrap();
    admin.revoke_token(&tokens.id).await.unwrap();
    let revoked = Client::new(&s2.url, &tokens.token).unwrap();
    assert_eq!(status(&revoked.whoami().await.unwrap_err()), 401);
}

/// Customer A's license never reaches customer B's releases; revoked, expired and tampered
/// licenses get nothing; path tampering is refused.
#[tokio::test]
async fn licenses_stay_with_their_customer() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start(tmp.path(), None, vec![]).await;
    let admin = Client::new(&s.url, &s.admin).unwrap();
    for app in ["hello", "other"] {
        admin.create_app(app).await.unwrap();
        admin
            .push_release(
                &release(tmp.path(), app, "1.0.0", ""),
                ReleasePush::default(),
            )
            .await
            .unwrap();
        admin.promote(app, "stable", "1.0.0").await.unwrap();
    }
    admin
        .push_release(
            &release(tmp.path(), "hello", "2.0.0-beta.1", ""),
            ReleasePush::default(),
        )
        .await
        .unwrap();
    admin
        .promote("hello", "beta", "2.0.0-beta.1")
        .await
        .unwrap();
    let mk = |name: &str, app: &str, expires: Option<&str>| NewCustomer {
        name: name.into(),
        app: app.into(),
        expires_at: expires.map(Into::into),
        ..acme_like()
    };
    admin
        .create_customer(&mk("a", "hello", None))
        .await
        .unwrap();
    admin
        .create_customer(&mk("b", "other", None))
        .await
        .unwrap();
    admin
        .create_customer(&mk("old", "hello", Some("2001-01-01")))
        .await
        .unwrap();
    let lic = |t: String| berth_license::License::parse(&t, "l").unwrap();
    let a = lic(admin.issue_license("a").await.unwrap());
    let b = lic(admin.issue_license("b").await.unwrap());
    let old = lic(admin.issue_license("old").await.unwrap());
    let ca = Client::new(&s.url, &a.bearer()).unwrap();
    let cb = Client::new(&s.url, &b.bearer()).unwrap();
    let dir = |n: &str| tmp.path().join(n);

    ca.download_release("1.0.0", &dir("a1")).await.unwrap();
    assert_eq!(
        berth_oci::release::Release::open(&dir("a1"))
            .unwrap()
            .meta
            .app,
        "hello"
    );
    // b's license opens b's app only: the same version number is b's own release
    cb.download_release("1.0.0", &dir("b1")).await.unwrap();
    assert_eq!(
        berth_oci::release::Release::open(&dir("b1"))
            .unwrap()
            .meta
            .app,
        "other"
    );
    // a blob of hello's release is not reachable with b's license
    let hello_index = std::fs::read(dir("a1").join("index.json")).unwrap();
    let d = berth_oci::digest::Digest::of(&hello_index);
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/api/v1/license/releases/1.0.0/blobs/{d}", s.url))
        .bearer_auth(b.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // a channel the license lacks
    let e = ca
        .download_release("2.0.0-beta.1", &dir("a2"))
        .await
        .unwrap_err();
    assert_eq!(status(&e), 404, "{e}");
    let q = UpdateCheck {
        current_version: None,
        target_version: None,
        channel: Some("beta".into()),
        instance: InstanceReport {
            cluster_id: "c".into(),
            ..Default::default()
        },
    };
    assert_eq!(status(&ca.check_updates(&q).await.unwrap_err()), 403);
    // expired: no download, update check says why
    let co = Client::new(&s.url, &old.bearer()).unwrap();
    let e = co.download_release("1.0.0", &dir("o1")).await.unwrap_err();
    assert_eq!(status(&e), 403);
    assert!(e.to_string().contains("expired"), "{e}");
    let ans = co
        .check_updates(&UpdateCheck {
            channel: None,
            ..q.clone()
        })
        .await
        .unwrap();
    assert!(ans.path.is_empty() && ans.refused.unwrap().contains("expired"));
    // tampered credential, unknown id, traversal in paths
    let mut forged = a.clone();
    forged.spec.credential = "0".repeat(64);
    let cf = Client::new(&s.url, &forged.bearer()).unwrap();
    assert_eq!(
        status(&cf.download_release("1.0.0", &dir("f")).await.unwrap_err()),
        401
    );
    for path in [
        "/api/v1/license/releases/..%2F..%2Fetc/index",
        "/api/v1/license/releases/1.0.0/blobs/..%2F..%2Fvendor.db",
        "/api/v1/license/releases/1.0.0/blobs/sha256:..",
    ] {
        let r = http
            .get(format!("{}{path}", s.url))
            .bearer_auth(a.bearer())
            .send()
            .await
            .unwrap();
        assert!(
            r.status() == 400 || r.status() == 404,
            "{path}: {}",
            r.status()
        );
        let body = r.text().await.unwrap();
        assert!(!body.contains(&tmp.path().display().to_string()), "{body}");
    }
    // revoked: refused with the reason
    admin
        .change_customer(
            "a",
            &CustomerChange {
                revoked: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let e = ca.check_updates(&q).await.unwrap_err();
    assert_eq!(status(&e), 403);
    assert!(e.to_string().contains("revoked"), "{e}");
}

/// Two servers on one PostgreSQL database serve the same data; a server killed in the middle
/// of a request leaves the other serving and nothing half-written.
#[tokio::test]
async fn two_servers_share_one_postgres() {
    let pg = pg::Postgres::start();
    let url = pg.url();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // both start at once: migrations must not trip over each other
    let (s1, s2) = tokio::join!(
        start(d1.path(), Some(&url), vec![]),
        start(d2.path(), Some(&url), vec![])
    );
    let token = if s1.admin.is_empty() {
        s2.admin.clone()
    } else {
        s1.admin.clone()
    };
    let c1 = Client::new(&s1.url, &token).unwrap();
    let c2 = Client::new(&s2.url, &token).unwrap();
    c1.create_app("hello").await.unwrap();
    assert_eq!(c2.channels("hello").await.unwrap().len(), 3);
    c2.create_customer(&acme_like()).await.unwrap();
    assert_eq!(c1.customers(Some("hello")).await.unwrap().len(), 1);
    assert_eq!(status(&c1.create_app("hello").await.unwrap_err()), 409);

    // kill s1 while requests are in flight; s2 keeps answering and the data is whole
    let mut inflight = vec![];
    for i in 0..20 {
        let c = c1.clone();
        inflight.push(tokio::spawn(async move {
            c.create_channel(
                "hello",
                &NewChannel {
                    name: format!("c{i}"),
                    keep_minors: None,
                },
            )
            .await
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    drop(s1);
    let mut ok = 0;
    for t in inflight {
        if let Ok(Ok(())) = t.await {
            ok += 1;
        }
    }
    let chans = c2.channels("hello").await.unwrap();
    // every channel that exists is complete, and every acknowledged one exists
    assert!(
        chans.len() >= 3 + ok,
        "{} channels, {ok} acknowledged",
        chans.len()
    );
    c2.create_channel(
        "hello",
        &NewChannel {
            name: "after".into(),
            keep_minors: Some(2),
        },
    )
    .await
    .unwrap();
}

/// Bodies are capped and each license is rate-limited on its own.
#[tokio::test]
async fn bodies_are_capped_and_licenses_rate_limited() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let db = berth_vendor::db::Db::connect(None, data).await.unwrap();
    let store = berth_vendor::store::Store::open(data, 1024).unwrap();
    let (svc, first) = Service::start(db, store, data).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // one request a second per license, burst of two
    let app = berth_vendor::http::router(svc, url.clone(), 1.0);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let token = std::fs::read_to_string(first.unwrap())
        .unwrap()
        .trim()
        .to_string();
    let admin = Client::new(&url, &token).unwrap();
    admin.create_app("hello").await.unwrap();
    for name in ["a", "b"] {
        admin
            .create_customer(&NewCustomer {
                name: name.into(),
                ..acme_like()
            })
            .await
            .unwrap();
    }
    let http = reqwest::Client::new();
    // a JSON body over 1 MiB is refused before it is parsed
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = http
        .post(format!("{url}/api/v1/apps"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // a blob over the store's cap (1 KiB here) is refused and leaves nothing behind
    let blob = vec![7u8; 4096];
    let d = berth_oci::digest::Digest::of(&blob);
    let r = http
        .put(format!("{url}/api/v1/blobs/{d}"))
        .bearer_auth(&token)
        .body(blob)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let left: Vec<_> = std::fs::read_dir(data.join("blobs/sha256"))
        .unwrap()
        .flatten()
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // a blob whose bytes do not match its digest is refused
    let r = http
        .put(format!(
            "{url}/api/v1/blobs/{}",
            berth_oci::digest::Digest::of(b"other")
        ))
        .bearer_auth(&token)
        .body("bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let la = berth_license::License::parse(&admin.issue_license("a").await.unwrap(), "a").unwrap();
    let lb = berth_license::License::parse(&admin.issue_license("b").await.unwrap(), "b").unwrap();
    let q = UpdateCheck {
        current_version: None,
        target_version: None,
        channel: None,
        instance: InstanceReport {
            cluster_id: "c".into(),
            ..Default::default()
        },
    };
    let ca = Client::new(&url, &la.bearer()).unwrap();
    let mut statuses = vec![];
    for _ in 0..4 {
        statuses.push(ca.check_updates(&q).await.err().and_then(|e| e.status()));
    }
    assert!(statuses.contains(&Some(429)), "{statuses:?}");
    // another license is not slowed by a's
    let cb = Client::new(&url, &lb.bearer()).unwrap();
    let ans = cb.check_updates(&q).await.unwrap();
    assert_eq!(
        ans.refused.as_deref(),
        Some("the channel has no releases yet")
    );
    task.abort();
}

/// A release with one Debian 12 image whose glibc is `glibc_version`, as `berth release build`
/// lays it out (image entry + app entry).
fn release_with_image(dir: &Path, version: &str, glibc_version: &str) -> PathBuf {
    use berth_oci::model::{self, Descriptor};
    let out = dir.join(format!("hello-{version}.release"));
    let layout = Layout::create(&out).unwrap();
    let status = format!(
        "Package: libc6\nStatus: install ok installed\nPriority: optional\nSection: libs\nArchitecture: amd64\nSource: glibc\nVersion: {glibc_version}\nDescription: GNU C Library: Shared libraries\n\n"
    );
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, data) in [
        (
            "etc/os-release",
            &b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"[..],
        ),
        ("var/lib/dpkg/status", status.as_bytes()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, path, data).unwrap();
    }
    let layer = tar.into_inner().unwrap().finish().unwrap();
    let desc = |d: berth_oci::digest::Digest, size: usize, mt: &str| Descriptor {
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
    let source = "docker.io/library/debian:12";
    entry
        .annotations
        .insert(model::ANNOTATION_SOURCE.into(), source.into());
    entry
        .annotations
        .insert(model::ANNOTATION_REF_NAME.into(), source.into());
    entry
        .annotations
        .insert(model::ANNOTATION_KIND.into(), "image".into());
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
    write_app_entry(
        &layout,
        &meta,
        &[("berth.yaml".into(), b"# hello\n".to_vec())],
    )
    .unwrap();
    out
}

/// With the CVE gate on, a release whose image holds a glibc with a fixed advisory
/// (DSA-5514-1, fixed in 2.36-9+deb12u3) is not promoted, and says why; the patched release is.
#[tokio::test]
async fn the_cve_gate_refuses_a_release_with_a_fixable_advisory() {
    let tmp = tempfile::tempdir().unwrap();
    let osv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../berth-scan/tests/data/osv");
    let gate = berth_vendor::scan_gate::ScanGate::load(&osv, None).unwrap();
    assert!(gate.records() >= 5);
    let s = start(tmp.path(), None, vec![Box::new(gate)]).await;
    let admin = Client::new(&s.url, &s.admin).unwrap();
    admin.create_app("hello").await.unwrap();
    for (v, glibc) in [("1.0.0", "2.36-9+deb12u1"), ("1.0.1", "2.36-9+deb12u3")] {
        let dir = release_with_image(tmp.path(), v, glibc);
        berth_oci::release::Release::open(&dir).unwrap();
        admin
            .push_release(&dir, ReleasePush::default())
            .await
            .unwrap();
    }
    let e = admin.promote("hello", "stable", "1.0.0").await.unwrap_err();
    assert_eq!(status(&e), 422, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("cve-scan") && msg.contains("DSA-5514-1"),
        "{msg}"
    );
    assert!(
        admin.channels("hello").await.unwrap()[0]
            .releases
            .is_empty()
    );
    assert!(admin.promote("hello", "stable", "1.0.1").await.unwrap());
}

/// "Who is exposed to CVE-2023-4911?" Releases pushed and installed before the server had a
/// database are scanned when a server with one is asked: the affected release, the first that
/// fixes it, and the customer still running the affected one.
#[tokio::test]
async fn exposure_names_affected_releases_the_first_fix_and_who_runs_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let before = start(&data, None, vec![]).await;
    let admin = Client::new(&before.url, &before.admin).unwrap();
    admin.create_app("hello").await.unwrap();
    for (v, glibc) in [
        ("1.0.0", "2.36-9+deb12u1"),
        ("1.0.1", "2.36-9+deb12u3"),
        ("1.1.0", "2.36-9+deb12u3"),
    ] {
        let dir = release_with_image(tmp.path(), v, glibc);
        admin
            .push_release(&dir, ReleasePush::default())
            .await
            .unwrap();
        assert!(admin.promote("hello", "stable", v).await.unwrap());
    }
    for (customer, running) in [("acme", "1.0.0"), ("globex", "1.1.0")] {
        admin
            .create_customer(&NewCustomer {
                name: customer.into(),
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
            .unwrap();
        let text = admin.issue_license(customer).await.unwrap();
        let lic = berth_license::License::parse(&text, customer).unwrap();
        let cust = Client::new(&before.url, &lic.bearer()).unwrap();
        cust.check_updates(&UpdateCheck {
            current_version: Some(running.into()),
            target_version: None,
            channel: None,
            instance: InstanceReport {
                cluster_id: format!("uid-{customer}"),
                kube_version: "v1.33.1".into(),
                distribution: "generic".into(),
                ready: "ready".into(),
                berth_version: "0.1.0".into(),
            },
        })
        .await
        .unwrap();
    }
    assert_eq!(admin.instances("hello").await.unwrap().len(), 2);
    let e = admin.exposure("hello", "CVE-2023-4911").await.unwrap_err();
    assert_eq!(status(&e), 409, "no database yet: {e}");
    assert!(e.to_string().contains("--scan-db"), "{e}");
    let token = before.admin.clone();
    drop(before);

    let osv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../berth-scan/tests/data/osv");
    let gate = Arc::new(berth_vendor::scan_gate::ScanGate::load(&osv, None).unwrap());
    let after = start_with(&data, None, vec![], Some(gate)).await;
    let reader = Client::new(&after.url, &token).unwrap();
    let x = reader.exposure("hello", "CVE-2023-4911").await.unwrap();
    let affected: Vec<(&str, bool)> = x
        .releases
        .iter()
        .map(|r| (r.version.as_str(), r.affected))
        .collect();
    assert_eq!(
        affected,
        [("1.0.0", true), ("1.0.1", false), ("1.1.0", false)]
    );
    let p = &x.releases[0].packages;
    assert!(
        p.iter()
            .all(|p| p.advisory == "DSA-5514-1" && p.fix == "fixed in 2.36-9+deb12u3"),
        "{p:?}"
    );
    assert!(p.iter().any(|p| p.package == "libc6"), "{p:?}");
    assert_eq!(x.first_fixed.as_deref(), Some("1.0.1"));
    let who: Vec<(&str, &str)> = x
        .instances
        .iter()
        .map(|i| (i.customer.as_str(), i.app_version.as_str()))
        .collect();
    assert_eq!(who, [("acme", "1.0.0")]);
    // The advisory's own id and a lower-case alias give the same answer; others none.
    let by_id = reader.exposure("hello", "dsa-5514-1").await.unwrap();
    assert_eq!(by_id.instances.len(), 1);
    let none = reader.exposure("hello", "CVE-1999-0001").await.unwrap();
    assert!(none.releases.iter().all(|r| !r.affected) && none.instances.is_empty());
    assert_eq!(none.first_fixed, None);
    let e = reader.exposure("hello", "x%2F..").await.unwrap_err();
    assert!(matches!(status(&e), 400 | 422), "{e}");
    let e = reader.exposure("nope", "CVE-2023-4911").await.unwrap_err();
    assert_eq!(status(&e), 404, "{e}");
}

/// PostgreSQL crashes and comes back under load: requests in the gap fail with a clear error
/// (no hang, no half-written change), and the same server answers again without a restart.
#[tokio::test]
async fn the_server_recovers_when_postgres_restarts_under_load() {
    let mut pg = pg::Postgres::start();
    let tmp = tempfile::tempdir().unwrap();
    let s = start(tmp.path(), Some(&pg.url()), vec![]).await;
    let c = Client::new(&s.url, &s.admin).unwrap();
    c.create_app("hello").await.unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = vec![];
    for w in 0..4 {
        let (c, stop) = (c.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut i) = (0, vec![], 0);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let ch = NewChannel {
                    name: format!("w{w}-{i}"),
                    keep_minors: None,
                };
                match c.create_channel("hello", &ch).await {
                    Ok(()) => ok += 1,
                    Err(e) => failed.push(e.status()),
                }
            }
            (ok, failed)
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let pg = tokio::task::spawn_blocking(move || {
        pg.restart();
        pg
    })
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut failed) = (0, vec![]);
    for t in load {
        let (o, f) = t.await.unwrap();
        ok += o;
        failed.extend(f);
    }
    eprintln!(
        "{ok} changes acknowledged, {} refused during the restart",
        failed.len()
    );
    // Failures are answers (5xx), not hangs or dropped connections.
    assert!(
        failed.iter().all(|s| matches!(s, Some(500..=599))),
        "{failed:?}"
    );
    // The same server works again, and every acknowledged change is there.
    let ch = NewChannel {
        name: "after-restart".into(),
        keep_minors: None,
    };
    let mut tries = 0;
    while let Err(e) = c.create_channel("hello", &ch).await {
        tries += 1;
        assert!(tries < 50, "the server did not recover: {e}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let chans = c.channels("hello").await.unwrap();
    assert!(
        chans.len() > 3 + ok,
        "{} channels, {ok} acknowledged",
        chans.len()
    );
    drop(pg);
}

/// A gzip stream of `n` bytes of incompressible data (a support bundle's shape, as far as the
/// server looks).
fn gzip_bytes(n: usize, seed: u64) -> Vec<u8> {
    use std::io::Write as _;
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let data: Vec<u8> = (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    e.write_all(&data).unwrap();
    e.finish().unwrap()
}

/// `POST /api/v1/license/support-bundles` by hand: (status, body).
async fn raw_upload(
    url: &str,
    bearer: Option<&str>,
    name: Option<&str>,
    body: reqwest::Body,
    length: Option<usize>,
) -> (u16, serde_json::Value) {
    let mut u = reqwest::Url::parse(&format!("{url}/api/v1/license/support-bundles")).unwrap();
    if let Some(n) = name {
        u.query_pairs_mut().append_pair("name", n);
    }
    let mut rb = reqwest::Client::new()
        .post(u)
        .header("content-type", "application/gzip")
        .body(body);
    if let Some(b) = bearer {
        rb = rb.bearer_auth(b);
    }
    if let Some(n) = length {
        rb = rb.header("content-length", n);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let v = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, v)
}

/// Every file below `dir`, relative.
fn files_below(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Support bundles from customers: the license names the customer, the size limit holds with
/// and without a declared length, hostile file names stay names, only licensed customers
/// upload, and the vendor lists and downloads them with a token.
async fn support_bundles_from_customers(db_url: Option<&str>) {
    let tmp = tempfile::tempdir().unwrap();
    let s = start(tmp.path(), db_url, vec![]).await;
    let admin = Client::new(&s.url, &s.admin).unwrap();
    admin.create_app("hello").await.unwrap();
    for (name, upload) in [("acme", true), ("globex", false), ("initech", true)] {
        admin
            .create_customer(&NewCustomer {
                name: name.into(),
                support_bundle_upload: upload,
                ..acme_like()
            })
            .await
            .unwrap();
    }
    assert!(
        admin
            .customers(None)
            .await
            .unwrap()
            .iter()
            .any(|c| c.name == "acme" && c.support_bundle_upload)
    );
    let lic = |t: String| berth_license::License::parse(&t, "l").unwrap();
    let acme = lic(admin.issue_license("acme").await.unwrap());
    let globex = lic(admin.issue_license("globex").await.unwrap());
    let initech = lic(admin.issue_license("initech").await.unwrap());
    let ca = Client::new(&s.url, &acme.bearer()).unwrap();

    // The customer's client: streamed from the file, checked against what was stored.
    let bundle = tmp.path().join("support-bundle-2026-12-05T04_00_00.tar.gz");
    let bytes = gzip_bytes(40 * 1024, 1);
    std::fs::write(&bundle, &bytes).unwrap();
    let sent = ca.upload_support_bundle(&bundle).await.unwrap();
    assert_eq!(
        (sent.customer.as_str(), sent.app.as_str()),
        ("acme", "hello")
    );
    assert_eq!(sent.name, "support-bundle-2026-12-05T04_00_00.tar.gz");
    assert_eq!(sent.size, bytes.len() as u64);
    assert_eq!(sent.license_id, acme.spec.license_id);
    assert_eq!(
        sent.sha256,
        berth_oci::digest::Digest::of(&bytes).hex().to_string()
    );

    // Hostile names are data: cleaned, never a path; storage is under the server's ids.
    let hostile = [
        "../../../../etc/passwd",
        "..\\..\\windows\\evil.tgz",
        "a/b/../../../c.tar.gz",
        "\0nul\0.tar.gz",
        "x\r\nSet-Cookie: a=b",
        "%2e%2e%2f%2e%2e%2fescape",
        "..",
        "/",
        &"long".repeat(200),
    ];
    let i_lic = initech.bearer();
    for (n, name) in hostile.iter().enumerate() {
        let body = gzip_bytes(1000, n as u64 + 10);
        let (st, v) = raw_upload(&s.url, Some(&i_lic), Some(name), body.into(), None).await;
        assert_eq!(st, 201, "{name:?}: {v}");
        let got = v["name"].as_str().unwrap();
        assert!(
            got.ends_with(".tar.gz")
                && !got.starts_with('.')
                && got.len() <= 107
                && got
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "{name:?} -> {got:?}"
        );
        assert_eq!(v["customer"], "initech");
    }
    // Nothing was written anywhere but under its id.
    for f in files_below(&s.data.join("support-bundles")) {
        let id = f.strip_suffix(".tar.gz").unwrap_or_else(|| panic!("{f}"));
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{f}");
    }
    assert!(
        !files_below(&s.data)
            .iter()
            .any(|f| f.contains("passwd") || f.contains("evil") || f.contains("escape"))
    );

    // The size limit: a declared length over it is refused at once, and a streamed body
    // without one is cut off where it passes it; neither leaves a file or a row.
    let before = files_below(&s.data.join("support-bundles"));
    let big = gzip_bytes(MAX_SUPPORT_BUNDLE as usize + 10_000, 7);
    let (st, v) = raw_upload(
        &s.url,
        Some(&acme.bearer()),
        Some("big.tar.gz"),
        big.clone().into(),
        Some(big.len()),
    )
    .await;
    assert_eq!((st, v["code"].as_str()), (413, Some("too-large")), "{v}");
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = big
        .chunks(4096)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let (st, v) = raw_upload(
        &s.url,
        Some(&acme.bearer()),
        Some("big.tar.gz"),
        reqwest::Body::wrap_stream(futures::stream::iter(chunks)),
        None,
    )
    .await;
    assert_eq!((st, v["code"].as_str()), (413, Some("too-large")), "{v}");
    // Exactly at the limit is accepted.
    let mut exact = gzip_bytes(1000, 8);
    exact.resize(MAX_SUPPORT_BUNDLE as usize, 0);
    let (st, v) = raw_upload(&s.url, Some(&acme.bearer()), None, exact.into(), None).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["name"], "support-bundle.tar.gz");
    let exact_id = v["id"].as_str().unwrap().to_string();
    let after: Vec<String> = files_below(&s.data.join("support-bundles"))
        .into_iter()
        .filter(|f| !f.starts_with(&exact_id))
        .collect();
    assert_eq!(before, after, "a refused upload left a file");

    // Not gzip, or empty: refused.
    let (st, v) = raw_upload(
        &s.url,
        Some(&acme.bearer()),
        None,
        "PK\x03\x04zip".into(),
        None,
    )
    .await;
    assert_eq!((st, v["code"].as_str()), (400, Some("invalid")), "{v}");
    let (st, _) = raw_upload(&s.url, Some(&acme.bearer()), None, "".into(), None).await;
    assert_eq!(st, 400);

    // Credentials: none, a wrong credential, a vendor token, no entitlement, revoked.
    let ok = || -> reqwest::Body { gzip_bytes(100, 3).into() };
    assert_eq!(raw_upload(&s.url, None, None, ok(), None).await.0, 401);
    let forged = format!("lic.{}.{}", acme.spec.license_id, "0".repeat(64));
    assert_eq!(
        raw_upload(&s.url, Some(&forged), None, ok(), None).await.0,
        401
    );
    assert_eq!(
        raw_upload(&s.url, Some(&s.admin), None, ok(), None).await.0,
        401
    );
    let (st, v) = raw_upload(&s.url, Some(&globex.bearer()), None, ok(), None).await;
    assert_eq!(st, 403, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("support bundle uploads"),
        "{v}"
    );

    // The vendor's side: list (read-only token), filter, download checked by its digest.
    let ro = admin
        .create_token("support", Scope::ReadOnly)
        .await
        .unwrap();
    let support = Client::new(&s.url, &ro.token).unwrap();
    let all = support.support_bundles(None, None).await.unwrap();
    assert_eq!(all.len(), 1 + hostile.len() + 1);
    let mine = support.support_bundles(Some("acme"), None).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert!(mine.iter().all(|b| b.customer == "acme"));
    assert!(
        support
            .support_bundles(Some("acme"), Some("other"))
            .await
            .unwrap()
            .is_empty()
    );
    let out = tmp.path().join("downloaded.tar.gz");
    let d = support
        .download_support_bundle(&sent.id, Some(&out))
        .await
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    assert_eq!(d.sha256, sent.sha256);
    // Licenses and strangers cannot read them; ids are ids.
    assert_eq!(
        status(&ca.support_bundles(None, None).await.unwrap_err()),
        401
    );
    let http = reqwest::Client::new();
    for (id, want) in [
        ("not-a-uuid".to_string(), 400),
        ("..".to_string(), 404),
        (uuid::Uuid::now_v7().to_string(), 404),
    ] {
        let r = http
            .get(format!("{}/api/v1/support-bundles/{id}", s.url))
            .bearer_auth(&ro.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "{id}");
    }
    let r = http
        .get(format!("{}/api/v1/support-bundles/{}", s.url, sent.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // Revoked: refused with the reason.
    admin
        .change_customer(
            "acme",
            &CustomerChange {
                revoked: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (st, v) = raw_upload(&s.url, Some(&acme.bearer()), None, ok(), None).await;
    assert_eq!(st, 403, "{v}");

    // The audit log has both sides.
    let log = admin.audit().await.unwrap();
    assert!(
        log.iter().any(|r| r.action == "support-bundle.upload"
            && r.actor == format!("license:{}", acme.spec.license_id)),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|r| r.action == "support-bundle.download" && r.actor == "support"),
        "{log:?}"
    );
}

#[tokio::test]
async fn support_bundles_from_customers_on_sqlite() {
    support_bundles_from_customers(None).await;
}

#[tokio::test]
async fn support_bundles_from_customers_on_postgres() {
    let pg = pg::Postgres::start();
    support_bundles_from_customers(Some(&pg.url())).await;
}

/// A policy whose OpenVEX document says glibc's CVE-2023-4911 does not affect the libc6 of
/// release 1.0.0 (2.36-9+deb12u1), for the CVE gate and exposure alike.
fn vex_policy(dir: &Path) -> PathBuf {
    let vex = serde_json::json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://vex.example.com/hello/vex-1",
        "author": "Hello Security",
        "timestamp": "2026-01-10T09:00:00Z",
        "version": 1,
        "statements": [{
            "vulnerability": {"name": "CVE-2023-4911"},
            "products": [{"@id": "pkg:deb/debian/libc6@2.36-9%2Bdeb12u1"}],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path",
            "impact_statement": "no setuid binaries in the image"
        }]
    });
    std::fs::write(dir.join("hello.openvex.json"), vex.to_string()).unwrap();
    let p = dir.join("policy.yaml");
    std::fs::write(&p, "vex:\n  - hello.openvex.json\n").unwrap();
    p
}

fn osv_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../berth-scan/tests/data/osv")
}

/// A finding the server's VEX marks not_affected neither blocks the CVE gate nor makes the
/// release exposed: exposure lists it as suppressed, with the statement, and the release the
/// gate lets through is the release exposure calls unaffected.
#[tokio::test]
async fn exposure_honours_vex_like_the_gate() {
    let tmp = tempfile::tempdir().unwrap();
    let gate = Arc::new(
        berth_vendor::scan_gate::ScanGate::load(&osv_dir(), Some(&vex_policy(tmp.path()))).unwrap(),
    );
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let s = start_with(
        &data,
        None,
        vec![Box::new(gate.clone())],
        Some(gate.clone()),
    )
    .await;
    let admin = Client::new(&s.url, &s.admin).unwrap();
    admin.create_app("hello").await.unwrap();
    for (v, glibc) in [("1.0.0", "2.36-9+deb12u1"), ("1.0.1", "2.36-9+deb12u2")] {
        let dir = release_with_image(tmp.path(), v, glibc);
        admin
            .push_release(&dir, ReleasePush::default())
            .await
            .unwrap();
    }
    for id in ["CVE-2023-4911", "DSA-5514-1"] {
        let x = admin.exposure("hello", id).await.unwrap();
        let r0 = &x.releases[0];
        assert!(!r0.affected && r0.packages.is_empty(), "{id}: {r0:?}");
        assert_eq!(r0.suppressed.len(), 1, "{id}: {r0:?}");
        let vex = r0.suppressed[0].vex.as_deref().unwrap();
        assert!(
            vex.contains("not_affected") && vex.contains("vex-1"),
            "{vex}"
        );
        // deb12u2 is not named by the statement: still affected.
        assert!(x.releases[1].affected, "{id}: {:?}", x.releases[1]);
        assert_eq!(x.first_fixed, None);
    }
    // The gate agrees: 1.0.0 is promoted, 1.0.1 is refused for the same advisory.
    assert!(admin.promote("hello", "stable", "1.0.0").await.unwrap());
    let e = admin.promote("hello", "stable", "1.0.1").await.unwrap_err();
    assert_eq!(status(&e), 422, "{e}");
    assert!(e.to_string().contains("DSA-5514-1"), "{e}");
    assert_eq!(
        gate.scans_made(),
        2,
        "each release scanned once for both questions"
    );
}

async fn kept_scans(data: &Path, url: Option<&str>) -> Vec<(String, String)> {
    let db = berth_vendor::db::Db::connect(url, data).await.unwrap();
    let mut rows: Vec<(String, String)> = db
        .rows("SELECT index_digest, scanner FROM release_scans", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                berth_vendor::db::text(r, "index_digest"),
                berth_vendor::db::text(r, "scanner"),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Release scans are kept in the database: a restarted server answers exposure and runs
/// the CVE gate without scanning again; a server with another advisory database scans again
/// and replaces the kept scans.
#[tokio::test]
async fn release_scans_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let g1 = Arc::new(berth_vendor::scan_gate::ScanGate::load(&osv_dir(), None).unwrap());
    let s1 = start_with(&data, None, vec![Box::new(g1.clone())], Some(g1.clone())).await;
    let token = s1.admin.clone();
    let admin = Client::new(&s1.url, &token).unwrap();
    admin.create_app("hello").await.unwrap();
    for (v, glibc) in [
        ("1.0.0", "2.36-9+deb12u1"),
        ("1.0.1", "2.36-9+deb12u3"),
        ("1.1.0", "2.36-9+deb12u3"),
    ] {
        let dir = release_with_image(tmp.path(), v, glibc);
        admin
            .push_release(&dir, ReleasePush::default())
            .await
            .unwrap();
    }
    assert!(admin.promote("hello", "stable", "1.0.1").await.unwrap());
    assert_eq!(g1.scans_made(), 1, "the gate scanned 1.0.1");
    let before = admin.exposure("hello", "CVE-2023-4911").await.unwrap();
    assert_eq!(
        g1.scans_made(),
        3,
        "exposure scanned the two others, not 1.0.1 again"
    );
    let kept = kept_scans(&data, None).await;
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(kept.iter().all(|(_, k)| k == g1.key()));
    drop(s1);

    // Restart with the same advisory database: nothing is scanned again.
    let g2 = Arc::new(berth_vendor::scan_gate::ScanGate::load(&osv_dir(), None).unwrap());
    assert_eq!(g2.key(), g1.key());
    let s2 = start_with(&data, None, vec![Box::new(g2.clone())], Some(g2.clone())).await;
    let admin = Client::new(&s2.url, &token).unwrap();
    let after = admin.exposure("hello", "CVE-2023-4911").await.unwrap();
    assert_eq!(
        serde_json::to_value(&after.releases).unwrap(),
        serde_json::to_value(&before.releases).unwrap()
    );
    let e = admin.promote("hello", "stable", "1.0.0").await.unwrap_err();
    assert_eq!(status(&e), 422, "{e}");
    assert!(admin.promote("hello", "beta", "1.1.0").await.unwrap());
    assert_eq!(g2.scans_made(), 0, "gate and exposure read the kept scans");
    drop(s2);

    // Another advisory database (one more record): a new key, every release scanned again.
    let osv2 = tmp.path().join("osv2");
    std::fs::create_dir(&osv2).unwrap();
    for e in std::fs::read_dir(osv_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            std::fs::copy(&p, osv2.join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(
        osv2.join("X-1.json"),
        r#"{"id": "X-1", "affected": [{"package": {"ecosystem": "Debian:12", "name": "zlib"}, "versions": ["1"]}]}"#,
    )
    .unwrap();
    let g3 = Arc::new(berth_vendor::scan_gate::ScanGate::load(&osv2, None).unwrap());
    assert_ne!(g3.key(), g1.key());
    let s3 = start_with(&data, None, vec![], Some(g3.clone())).await;
    let admin = Client::new(&s3.url, &token).unwrap();
    admin.exposure("hello", "CVE-2023-4911").await.unwrap();
    assert_eq!(g3.scans_made(), 3);
    let kept = kept_scans(&data, None).await;
    assert_eq!(kept.len(), 3, "older scans replaced: {kept:?}");
    assert!(kept.iter().all(|(_, k)| k == g3.key()));
}

/// Two servers on one PostgreSQL share the kept scans: what one scanned, the other reads —
/// here a server whose store does not even hold the releases' blobs answers exposure.
#[tokio::test]
async fn two_servers_on_postgres_share_release_scans() {
    let pg = pg::Postgres::start();
    let url = pg.url();
    let tmp = tempfile::tempdir().unwrap();
    let (d1, d2) = (tmp.path().join("d1"), tmp.path().join("d2"));
    std::fs::create_dir(&d1).unwrap();
    std::fs::create_dir(&d2).unwrap();
    let g1 = Arc::new(berth_vendor::scan_gate::ScanGate::load(&osv_dir(), None).unwrap());
    let s1 = start_with(
        &d1,
        Some(&url),
        vec![Box::new(g1.clone())],
        Some(g1.clone()),
    )
    .await;
    let admin = Client::new(&s1.url, &s1.admin).unwrap();
    admin.create_app("hello").await.unwrap();
    for (v, glibc) in [("1.0.0", "2.36-9+deb12u1"), ("1.0.1", "2.36-9+deb12u3")] {
        let dir = release_with_image(tmp.path(), v, glibc);
        admin
            .push_release(&dir, ReleasePush::default())
            .await
            .unwrap();
    }
    assert!(admin.promote("hello", "stable", "1.0.1").await.unwrap());
    let x1 = admin.exposure("hello", "CVE-2023-4911").await.unwrap();
    assert_eq!(g1.scans_made(), 2);

    let g2 = Arc::new(berth_vendor::scan_gate::ScanGate::load(&osv_dir(), None).unwrap());
    let s2 = start_with(
        &d2,
        Some(&url),
        vec![Box::new(g2.clone())],
        Some(g2.clone()),
    )
    .await;
    let other = Client::new(&s2.url, &s1.admin).unwrap();
    let x2 = other.exposure("hello", "CVE-2023-4911").await.unwrap();
    assert_eq!(g2.scans_made(), 0, "read from the shared table");
    assert_eq!(
        serde_json::to_value(&x2.releases).unwrap(),
        serde_json::to_value(&x1.releases).unwrap()
    );
    assert_eq!(kept_scans(&d2, Some(&url)).await.len(), 2);
}
