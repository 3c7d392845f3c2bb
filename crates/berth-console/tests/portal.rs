//! The vendor's portal against a real vendor server (SQLite in a temp dir, the CVE gate with
//! a kept scan) over HTTP on 127.0.0.1: logins with each scope, the scope rules of the API,
//! CSRF, lock-out, revoked tokens, promotions and gate refusals, licenses that verify, forms
//! with bad values, and tampered paths.

use berth_oci::layout::Layout;
use berth_oci::release::{ReleaseMeta, write_app_entry};
use berth_scan::osv::{FixState, Severity};
use berth_scan::report::{Finding, ScanReport, TargetReport};
use berth_vendor::client::{Client, ReleasePush};
use berth_vendor::db::Param;
use berth_vendor::model::*;
use berth_vendor::service::Service;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const ADVISORY: &str = "CVE-2026-40001";

/// A vendor server with the portal, in this process until dropped.
struct Env {
    url: String,
    admin: String,
    svc: Service,
    _tmp: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A release directory as `berth release build` writes it (app files only).
fn release(dir: &Path, app: &str, version: &str) -> PathBuf {
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
            format!(
                "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: {app}\n"
            )
            .into_bytes(),
        ),
        (
            "chart/Chart.yaml".to_string(),
            format!("name: {app}\nversion: {version}\n").into_bytes(),
        ),
    ];
    write_app_entry(&layout, &meta, &files).unwrap();
    out
}

/// A scan of one image with one fixable finding (the default policy blocks it).
fn vulnerable_scan() -> ScanReport {
    ScanReport {
        targets: vec![TargetReport {
            name: "registry.example.com/hello/web:1.2.0".into(),
            digest: None,
            distro: None,
            packages: vec![],
            findings: vec![Finding {
                package: "libexample1".into(),
                version: "1.0-1".into(),
                matched_name: "libexample".into(),
                matched_version: "1.0-1".into(),
                ecosystem: "Debian:12".into(),
                advisory: ADVISORY.into(),
                aliases: vec![],
                summary: Some("a test advisory".into()),
                severity: Severity::High,
                fix: FixState::Fixed("1.0-2".into()),
                path: "var/lib/dpkg/status".into(),
                layer: None,
                vex: None,
            }],
            not_scanned: vec![],
        }],
    }
}

/// Start a server whose CVE gate has an (empty) advisory database and a kept scan of 1.2.0
/// with a fixable finding; push hello 1.0.0-1.2.0 (1.0.0 and 1.1.0 on stable), and create
/// customer acme on stable with one reported instance running 1.0.0.
async fn start() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let osv = tmp.path().join("osv");
    std::fs::create_dir_all(&osv).unwrap();
    let db = berth_vendor::db::Db::connect(None, &data).await.unwrap();
    let store = berth_vendor::store::Store::open(&data, 1 << 30).unwrap();
    let (mut svc, first) = Service::start(db, store, &data).await.unwrap();
    let gate = Arc::new(berth_vendor::scan_gate::ScanGate::load(&osv, None).unwrap());
    svc.gates = Arc::new(vec![Box::new(gate.clone())]);
    svc.scanner = Some(gate.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // As `berth_vendor::serve` assembles it: the API, the portal merged beside it, and the
    // client's address recorded for the lock-out.
    let app = berth_vendor::http::router(svc.clone(), url.clone(), 1000.0).merge(
        berth_console::portal::router(svc.clone(), url.clone(), false),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    let admin = std::fs::read_to_string(first.unwrap())
        .unwrap()
        .trim()
        .to_string();
    let c = Client::new(&url, &admin).unwrap();
    c.create_app("hello").await.unwrap();
    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        c.push_release(
            &release(tmp.path(), "hello", v),
            ReleasePush {
                notes: format!("notes of {v}"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    for v in ["1.0.0", "1.1.0"] {
        c.promote("hello", "stable", v).await.unwrap();
    }
    // The kept scan of 1.2.0, as a server with this advisory database would have written it.
    let row = svc
        .db
        .row(
            "SELECT index_digest FROM releases WHERE app = 'hello' AND version = '1.2.0'",
            &[],
        )
        .await
        .unwrap()
        .unwrap();
    let index = berth_vendor::db::text(&row, "index_digest");
    let json = serde_json::to_string(&vulnerable_scan()).unwrap();
    svc.db
        .exec(
            "INSERT INTO release_scans (index_digest, scanner, scanned_at, report) VALUES ($1, $2, $3, $4)",
            &[
                Param::Text(&index),
                Param::Text(gate.key()),
                Param::Int(berth_vendor::db::now_ms()),
                Param::Text(&json),
            ],
        )
        .await
        .unwrap();
    c.create_customer(&NewCustomer {
        name: "acme".into(),
        app: "hello".into(),
        channels: vec!["stable".into()],
        license_type: "paid".into(),
        expires_at: Some("2030-01-01".into()),
        airgap: false,
        snapshots: false,
        support_bundle_upload: false,
        cluster_id: None,
        entitlements: vec!["seats=int:50".into()],
    })
    .await
    .unwrap();
    let lic =
        berth_license::License::parse(&c.issue_license("acme").await.unwrap(), "test").unwrap();
    Client::new(&url, &lic.bearer())
        .unwrap()
        .check_updates(&UpdateCheck {
            current_version: Some("1.0.0".into()),
            target_version: None,
            channel: None,
            instance: InstanceReport {
                cluster_id: "4f6c1d2e-aaaa-bbbb-cccc-000000000001".into(),
                kube_version: "v1.31.2".into(),
                distribution: "k3s".into(),
                ready: "ready".into(),
                berth_version: "0.1.0".into(),
            },
        })
        .await
        .unwrap();
    Env {
        url,
        admin,
        svc,
        _tmp: tmp,
        task,
    }
}

fn browser() -> reqwest::Client {
    // Each test may run in a process of its own: nothing else installs the TLS provider first.
    berth_oci::client::install_crypto_provider();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The first hidden `csrf` field of a page.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

async fn get(c: &reqwest::Client, url: &str) -> (u16, String) {
    let r = c.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(c: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
    c.post(url).form(form).send().await.unwrap()
}

/// Log in with `token`; the status of the answer (303 on success).
async fn login(c: &reqwest::Client, base: &str, token: &str) -> u16 {
    let (_, page) = get(c, &format!("{base}/portal/login")).await;
    let csrf = csrf_of(&page);
    post(
        c,
        &format!("{base}/portal/login"),
        &[("csrf", csrf.as_str()), ("token", token)],
    )
    .await
    .status()
    .as_u16()
}

/// A logged-in browser and the session's CSRF token.
async fn session(base: &str, token: &str) -> (reqwest::Client, String) {
    let c = browser();
    assert_eq!(login(&c, base, token).await, 303, "login");
    let (code, page) = get(&c, &format!("{base}/portal/")).await;
    assert_eq!(code, 200, "{page}");
    (c, csrf_of(&page))
}

async fn stable_versions(api: &Client) -> Vec<String> {
    let chs = api.channels("hello").await.unwrap();
    let stable = chs.iter().find(|c| c.name == "stable").unwrap();
    stable.releases.iter().map(|r| r.version.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_csrf_revoked_tokens_tampering_and_lockout() {
    let env = start().await;
    let base = env.url.clone();
    let api = Client::new(&base, &env.admin).unwrap();
    let ro = api.create_token("dash", Scope::ReadOnly).await.unwrap();
    let ci = api
        .create_token("ci", Scope::ReleasePublisher)
        .await
        .unwrap();

    // Not logged in: pages redirect to the login page; a forged cookie is not a session.
    let anon = browser();
    let r = anon.get(format!("{base}/portal/")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/portal/login");
    let r = anon
        .get(format!("{base}/portal/customers"))
        .header("cookie", "berth_portal=abc.AAAA")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);

    // The login form's cookie is HttpOnly, SameSite=Strict, scoped to /portal.
    let r = anon
        .get(format!("{base}/portal/login"))
        .send()
        .await
        .unwrap();
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/portal"),
        "{set}"
    );

    // Read-only: every page, no change button, and every change refused with 403.
    let (reader, rcsrf) = session(&base, &ro.token).await;
    let (code, page) = get(&reader, &format!("{base}/portal/apps/hello")).await;
    assert_eq!(code, 200);
    assert!(
        page.contains("1.2.0") && page.contains("Channel stable"),
        "{page}"
    );
    assert!(page.contains("(read-only)"), "{page}");
    assert!(
        !page.contains(">Promote<"),
        "read-only sees no promote button"
    );
    let (_, page) = get(&reader, &format!("{base}/portal/customers/acme")).await;
    assert!(page.contains("seats"), "{page}");
    assert!(
        !page.contains("Issue license") && !page.contains(">Renew<") && !page.contains(">Revoke<")
    );
    let r = post(
        &reader,
        &format!("{base}/portal/apps/hello/promote"),
        &[("csrf", &rcsrf), ("version", "1.2.0"), ("channel", "beta")],
    )
    .await;
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("has scope read-only; this needs release-publisher")
    );
    let r = post(
        &reader,
        &format!("{base}/portal/customers/acme/license"),
        &[("csrf", &rcsrf)],
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = post(
        &reader,
        &format!("{base}/portal/customers/acme/revoke"),
        &[("csrf", &rcsrf), ("revoked", "true")],
    )
    .await;
    assert_eq!(r.status(), 403);
    let beta = api.channels("hello").await.unwrap();
    assert!(
        beta.iter()
            .find(|c| c.name == "beta")
            .unwrap()
            .releases
            .is_empty()
    );
    assert_eq!(
        env.svc.licenses_of("acme").await.unwrap().len(),
        1,
        "no license issued"
    );
    assert!(!api.customers(None).await.unwrap()[0].revoked);

    // Release publisher: promote buttons, but customers and licenses are admin's (as in the API).
    let (publisher, pcsrf) = session(&base, &ci.token).await;
    let (_, page) = get(&publisher, &format!("{base}/portal/apps/hello")).await;
    assert!(page.contains(">Promote<"), "{page}");
    let (_, page) = get(&publisher, &format!("{base}/portal/customers/acme")).await;
    assert!(!page.contains("Issue license"));
    let r = post(
        &publisher,
        &format!("{base}/portal/customers/acme/license"),
        &[("csrf", &pcsrf)],
    )
    .await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("this needs admin"));

    // CSRF: the admin's change without the token, or with another session's, is refused.
    let (admin, acsrf) = session(&base, &env.admin).await;
    assert_ne!(acsrf, pcsrf);
    for bad in ["", pcsrf.as_str()] {
        let r = post(
            &admin,
            &format!("{base}/portal/apps/hello/promote"),
            &[("csrf", bad), ("version", "1.2.0"), ("channel", "beta")],
        )
        .await;
        assert_eq!(r.status(), 403);
        assert!(r.text().await.unwrap().contains("CSRF"));
    }
    let chs = api.channels("hello").await.unwrap();
    assert!(
        chs.iter()
            .find(|c| c.name == "beta")
            .unwrap()
            .releases
            .is_empty()
    );

    // Tampered paths and ids: 404 pages that name what was not found, never a 500.
    for (path, says) in [
        ("/portal/apps/nope", "no app nope"),
        ("/portal/apps/nope/instances", "no app nope"),
        ("/portal/apps/hello/releases/9.9.9", "no release 9.9.9"),
        (
            "/portal/apps/hello/releases/..%2F..%2Fetc%2Fpasswd",
            "no release",
        ),
        ("/portal/apps/Bad%20App", "not valid"),
        ("/portal/customers/ghost", "no customer ghost"),
        ("/portal/customers/..%2Fadmin", "not valid"),
        ("/portal/customers?app=nope", "no app nope"),
        (
            "/portal/customers/acme/licenses/0193-not-issued",
            "No license file",
        ),
        ("/portal/nothing/here", "no such page"),
        (
            "/portal/apps/hello/instances?page=9",
            "no page 9 of the instances of hello",
        ),
    ] {
        let (code, page) = get(&admin, &format!("{base}{path}")).await;
        assert_eq!(code, 404, "{path}: {page}");
        assert!(page.contains(says), "{path} should say {says:?}: {page}");
    }
    let r = post(
        &admin,
        &format!("{base}/portal/customers/ghost/renew"),
        &[("csrf", &acsrf), ("expires", "2031-01-01")],
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = post(
        &admin,
        &format!("{base}/portal/apps/hello/promote"),
        &[("csrf", &acsrf), ("version", "7.7.7"), ("channel", "beta")],
    )
    .await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("no release hello 7.7.7"));

    // A revoked token ends its session: pages go to the login page, changes are refused.
    let victim = api.create_token("temp", Scope::Admin).await.unwrap();
    let (v, vcsrf) = session(&base, &victim.token).await;
    api.revoke_token(&victim.id).await.unwrap();
    let r = v
        .get(format!("{base}/portal/apps/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/portal/login?ended=1");
    let r = post(
        &v,
        &format!("{base}/portal/customers/acme/license"),
        &[("csrf", &vcsrf)],
    )
    .await;
    assert_eq!(r.status(), 401);
    assert_eq!(env.svc.licenses_of("acme").await.unwrap().len(), 1);
    // ...and the revoked token cannot log in again.
    assert_eq!(login(&browser(), &base, &victim.token).await, 401);

    // Logging out ends the session.
    let r = post(
        &reader,
        &format!("{base}/portal/logout"),
        &[("csrf", &rcsrf)],
    )
    .await;
    assert_eq!(r.status(), 303);
    let r = reader.get(format!("{base}/portal/")).send().await.unwrap();
    assert_eq!(r.status(), 303);

    // Lock-out: five wrong tokens from one address, then even a right one is refused.
    assert_eq!(
        login(&browser(), &base, &env.admin).await,
        303,
        "a success clears the count"
    );
    let l = browser();
    for _ in 0..4 {
        assert_eq!(login(&l, &base, "bvt_wrong").await, 401);
    }
    assert_eq!(
        login(&l, &base, &env.admin).await,
        303,
        "four failures do not lock"
    );
    let l = browser();
    for _ in 0..5 {
        assert_eq!(login(&l, &base, "bvt_wrong").await, 401);
    }
    assert_eq!(login(&l, &base, &env.admin).await, 429);
    let (_, page) = get(&l, &format!("{base}/portal/login")).await;
    let csrf = csrf_of(&page);
    let r = post(
        &l,
        &format!("{base}/portal/login"),
        &[("csrf", csrf.as_str()), ("token", env.admin.as_str())],
    )
    .await;
    assert!(r.text().await.unwrap().contains("Too many failed logins"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_gate_licenses_forms_and_instances() {
    let env = start().await;
    let base = env.url.clone();
    let api = Client::new(&base, &env.admin).unwrap();
    let (admin, csrf) = session(&base, &env.admin).await;

    // The start page counts each app's releases (three pushed) and customers.
    let (_, page) = get(&admin, &format!("{base}/portal/")).await;
    let customers = api.customers(Some("hello")).await.unwrap().len();
    assert!(customers > 0);
    assert!(
        page.contains("3 release(s)") && page.contains(&format!("{customers} customer(s)")),
        "{page}"
    );

    // The releases page: channels with their releases, scan summaries, promote forms.
    let (code, page) = get(&admin, &format!("{base}/portal/apps/hello")).await;
    assert_eq!(code, 200);
    assert!(page.contains("1 blocking finding(s)"), "{page}");
    assert!(page.contains("Pushed, on no channel"), "{page}");

    // Promote through the page: the API reports it, the audit log names the token.
    let r = post(
        &admin,
        &format!("{base}/portal/apps/hello/promote"),
        &[("csrf", &csrf), ("version", "1.1.0"), ("channel", "beta")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    let (_, page) = get(&admin, &format!("{base}{to}")).await;
    assert!(page.contains("Promoted hello 1.1.0 to beta."), "{page}");
    // A link cannot make the page announce a promotion that did not happen.
    let (_, page) = get(
        &admin,
        &format!("{base}/portal/apps/hello?promoted=1.2.0&channel=stable"),
    )
    .await;
    assert!(!page.contains("Promoted hello"), "{page}");
    let chs = api.channels("hello").await.unwrap();
    let beta: Vec<&str> = chs
        .iter()
        .find(|c| c.name == "beta")
        .unwrap()
        .releases
        .iter()
        .map(|r| r.version.as_str())
        .collect();
    assert_eq!(beta, ["1.1.0"]);
    let audit = api.audit().await.unwrap();
    assert!(
        audit.iter().any(|a| a.action == "release.promote"
            && a.detail == "hello 1.1.0 -> beta"
            && a.actor == "initial admin"),
        "{audit:?}"
    );

    // The gate refuses 1.2.0: the page shows its reasons, nothing is promoted.
    let r = post(
        &admin,
        &format!("{base}/portal/apps/hello/promote"),
        &[("csrf", &csrf), ("version", "1.2.0"), ("channel", "stable")],
    )
    .await;
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains("was not promoted to stable"), "{page}");
    assert!(page.contains("The release gate refused it"), "{page}");
    assert!(
        page.contains(ADVISORY),
        "the gate's reason names the advisory: {page}"
    );
    assert_eq!(stable_versions(&api).await, ["1.0.0", "1.1.0"]);

    // The release page: notes, channels, the findings table.
    let (code, page) = get(&admin, &format!("{base}/portal/apps/hello/releases/1.2.0")).await;
    assert_eq!(code, 200);
    for want in [
        "notes of 1.2.0",
        "libexample1",
        ADVISORY,
        "high",
        "1.0-2",
        "fix available",
        "1 blocking finding(s)",
    ] {
        assert!(page.contains(want), "release page lacks {want:?}: {page}");
    }
    let (_, page) = get(&admin, &format!("{base}/portal/apps/hello/releases/1.1.0")).await;
    assert!(
        page.contains("stable (since") && page.contains("beta (since"),
        "{page}"
    );

    // Issue a license on the page, download it, verify it with the server's public key.
    let before = env.svc.licenses_of("acme").await.unwrap().len();
    let r = post(
        &admin,
        &format!("{base}/portal/customers/acme/license"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    let id = to.split("issued=").nth(1).unwrap().to_string();
    assert_eq!(env.svc.licenses_of("acme").await.unwrap().len(), before + 1);
    let (_, page) = get(&admin, &format!("{base}{to}")).await;
    assert!(page.contains(&format!("Download license {id}")), "{page}");
    let r = admin
        .get(format!("{base}/portal/customers/acme/licenses/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"acme-{id}.license.yaml\"").as_str()
    );
    assert_eq!(r.headers()["cache-control"], "no-store");
    let text = r.text().await.unwrap();
    let lic = berth_license::License::parse(&text, "downloaded").unwrap();
    lic.verify_signature(&api.verifying_keys().await.unwrap(), "downloaded")
        .unwrap();
    assert_eq!(lic.spec.license_id, id);
    assert_eq!(lic.spec.customer, "acme");
    assert_eq!(lic.spec.vendor_url, base);
    // The license works against the server (its credential is the real one).
    let who = Client::new(&base, &lic.bearer()).unwrap();
    assert!(
        who.download_app("1.1.0", &env._tmp.path().join("dl"))
            .await
            .is_ok()
    );
    // Another admin session cannot download it: the file is the issuing session's alone.
    let (other, _) = session(&base, &env.admin).await;
    let (code, _) = get(
        &other,
        &format!("{base}/portal/customers/acme/licenses/{id}"),
    )
    .await;
    assert_eq!(code, 404);

    // Bad form values come back at their field; good ones change what the API reports.
    let r = post(
        &admin,
        &format!("{base}/portal/customers/acme/renew"),
        &[("csrf", &csrf), ("expires", "next tuesday")],
    )
    .await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("id=\"expires-error\"") && page.contains("is not a date"),
        "{page}"
    );
    assert!(
        page.contains("value=\"next tuesday\""),
        "the rejected value is kept: {page}"
    );
    let r = post(
        &admin,
        &format!("{base}/portal/customers/acme/renew"),
        &[("csrf", &csrf), ("expires", "2031-06-30")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let acme = api.customers(Some("hello")).await.unwrap();
    assert_eq!(acme[0].expires_at.as_deref(), Some("2031-06-30T00:00:00Z"));
    let r = post(
        &admin,
        &format!("{base}/portal/customers/acme/channels"),
        &[("csrf", &csrf), ("channels", "stable, nightly")],
    )
    .await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("id=\"channels-error\"") && page.contains("no channel nightly"),
        "{page}"
    );
    let r = post(
        &admin,
        &format!("{base}/portal/customers/acme/channels"),
        &[("csrf", &csrf), ("channels", "beta, stable")],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        api.customers(None).await.unwrap()[0].channels,
        ["beta", "stable"]
    );

    // The customers list and the instances page.
    let (_, page) = get(&admin, &format!("{base}/portal/customers?app=hello")).await;
    assert!(
        page.contains("acme") && page.contains("beta, stable") && page.contains("paid"),
        "{page}"
    );
    let (code, page) = get(&admin, &format!("{base}/portal/apps/hello/instances")).await;
    assert_eq!(code, 200);
    for want in ["acme", "1.0.0", "v1.31.2", "k3s", "just now"] {
        assert!(page.contains(want), "instances page lacks {want:?}: {page}");
    }
    assert!(page.contains("release(s)"), "how far behind: {page}");
    assert!(page.contains("Showing 1–1 of 1."), "{page}");
    let (code, page) = get(
        &admin,
        &format!("{base}/portal/apps/hello/instances?page=0"),
    )
    .await;
    assert_eq!(code, 400, "{page}");

    // Revoke: the API reports it, and issuing is refused on the page with the reason.
    let r = post(
        &admin,
        &format!("{base}/portal/customers/acme/revoke"),
        &[("csrf", &csrf), ("revoked", "true")],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert!(api.customers(None).await.unwrap()[0].revoked);
    let r = post(
        &admin,
        &format!("{base}/portal/customers/acme/license"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("is revoked"));
    let audit = api.audit().await.unwrap();
    for action in ["license.issue", "customer.change"] {
        assert!(
            audit
                .iter()
                .any(|a| a.action == action && a.actor == "initial admin"),
            "{action}: {audit:?}"
        );
    }
}

/// `berth_vendor::serve` mounts the portal when given the hook, and not otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_by_the_vendor_server_unless_turned_off() {
    for portal in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let cfg = berth_vendor::ServeConfig {
            data_dir: tmp.path().to_path_buf(),
            addr: ([127, 0, 0, 1], 0).into(),
            database_url: None,
            storage: None,
            public_url: None,
            tls: None,
            max_blob: 1 << 20,
            license_rps: 20.0,
            scan: None,
            max_support_bundle: 1 << 20,
            extra_routes: portal.then_some(berth_console::portal::mount as _),
        };
        let task = tokio::spawn(berth_vendor::serve(
            cfg,
            move |s| {
                let _ = addr_tx.send(s.addr);
            },
            async {
                let _ = stop_rx.await;
            },
        ));
        let addr = addr_rx.await.unwrap();
        let c = browser();
        let (code, page) = get(&c, &format!("http://{addr}/portal/login")).await;
        if portal {
            assert_eq!(code, 200);
            assert!(page.contains("Vendor API token"), "{page}");
            let (code, css) = get(&c, &format!("http://{addr}/portal/assets/portal.css")).await;
            assert_eq!(code, 200);
            assert!(css.contains("system-ui"), "embedded styles, system fonts");
        } else {
            assert_eq!(code, 404);
        }
        // The API is there either way.
        let (code, _) = get(&c, &format!("http://{addr}/healthz")).await;
        assert_eq!(code, 200);
        let _ = stop_tx.send(());
        task.await.unwrap().unwrap();
    }
}

/// A tool from a BERTH_TEST_* variable; missing fails unless BERTH_TEST_ALLOW_SKIP=1.
fn tool(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(p) if !p.is_empty() && Path::new(&p).exists() => Some(p),
        _ if std::env::var("BERTH_TEST_ALLOW_SKIP").as_deref() == Ok("1") => {
            eprintln!("SKIPPED {test}: {var} is not set");
            if let Ok(log) = std::env::var("BERTH_TEST_SKIP_LOG") {
                use std::io::Write as _;
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                {
                    let _ = writeln!(f, "berth-console {test}: {var} is not set");
                }
            }
            None
        }
        _ => panic!(
            "{var} is not set (or does not exist): run scripts/setup.d/70-console.sh (or set BERTH_TEST_ALLOW_SKIP=1 to skip)"
        ),
    }
}

/// tests/browser_portal.py in Chromium: an admin promotes, meets the gate, issues and
/// downloads a license, views instances; a read-only login sees no change button.
#[test]
fn browser_walkthrough_of_the_portal() {
    let test = "browser_walkthrough_of_the_portal";
    let Some(python) = tool("BERTH_TEST_PLAYWRIGHT_PYTHON", test) else {
        return;
    };
    let Some(chromium) = tool("BERTH_TEST_CHROMIUM", test) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let env = rt.block_on(start());
    let api = Client::new(&env.url, &env.admin).unwrap();
    let reader = rt
        .block_on(api.create_token("dashboard", Scope::ReadOnly))
        .unwrap();
    // Screenshots and the downloaded license are kept as artefacts under the target dir.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("portal-browser");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser_portal.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(&env.url)
        .arg(&env.admin)
        .arg(&reader.token)
        .arg(&out)
        .arg(&chromium)
        .arg(ADVISORY)
        .output()
        .expect("run the Playwright script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    eprintln!("screenshots: {}", out.display());
    assert!(output.status.success(), "the browser walkthrough failed");
    assert!(stdout.contains("\nOK"), "the script did not finish");

    // What the browser did is what the API reports, and the license it saved verifies.
    let chs = rt.block_on(api.channels("hello")).unwrap();
    let beta = chs.iter().find(|c| c.name == "beta").unwrap();
    assert_eq!(beta.releases.len(), 1);
    assert_eq!(beta.releases[0].version, "1.1.0");
    assert_eq!(
        rt.block_on(stable_versions(&api)),
        ["1.0.0", "1.1.0"],
        "the gate kept 1.2.0 off stable"
    );
    let text = std::fs::read_to_string(out.join("acme.license.yaml")).unwrap();
    let lic = berth_license::License::parse(&text, "the downloaded license").unwrap();
    lic.verify_signature(
        &rt.block_on(api.verifying_keys()).unwrap(),
        "the downloaded license",
    )
    .unwrap();
    let acme = rt.block_on(api.customers(None)).unwrap();
    assert_eq!(acme[0].expires_at.as_deref(), Some("2031-06-30T00:00:00Z"));
    drop(env);
}
