//! The console's pages that reach beyond the cluster, against a real vendor server on
//! 127.0.0.1 and the in-process simulator: newer releases on the Versions page and the upgrade
//! through the required release (real Chromium, tests/browser_online.py), the Snapshots page
//! (the schedule's repository, a snapshot taken now, a restore into a new namespace behind its
//! confirmation), "Send to vendor" (the vendor downloads the very bytes, redacted); and over
//! plain HTTPS, what the Versions page says when the vendor server cannot help: unreachable,
//! the license expired, an install without a license.

use berth_console::{ConsoleOptions, Running, auth::PasswordInput};
use berth_deploy::{Cluster, ConnectOptions};
use berth_kube_sim::{SimOptions, Simulator};
use berth_oci::layout::Layout;
use berth_oci::release::{ReleaseMeta, write_app_entry};
use berth_ops::deploy::{ApplyInput, Target};
use berth_ops::online::LicenseText;
use berth_vendor::client::{Client, ReleasePush};
use berth_vendor::model::{CustomerChange, NewCustomer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const ADMIN: &str = "admin-pass-for-tests";
const VIEWER: &str = "viewer-pass-for-tests";
const REPO_PASSWORD: &str = "snapshot repo password for tests";
/// Planted in the support bundle's collected data: must never reach the vendor.
const PLANTED: &str = "planted-secret-4711";

/// The app: a ConfigMap, a preflight that passes, and a support bundle spec whose data holds
/// a password (the redactor must mask it).
fn app(dir: &Path, version: &str) -> PathBuf {
    let a = dir.join(format!("shop-{version}"));
    std::fs::create_dir_all(a.join("chart/templates")).expect("dirs");
    std::fs::create_dir_all(a.join("checks")).expect("dirs");
    std::fs::write(
        a.join("berth.yaml"),
        format!(
            "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: shop\n  version: {version}\n  title: Shop\nspec:\n  components:\n    - name: shop\n      chart:\n        path: chart\n      releaseName: shop\n  checks:\n    preflights: [checks/preflight.yaml]\n    supportBundles: [checks/support-bundle.yaml]\n"
        ),
    )
    .expect("berth.yaml");
    std::fs::write(
        a.join("chart/Chart.yaml"),
        format!("apiVersion: v2\nname: shop\nversion: {version}\n"),
    )
    .expect("Chart.yaml");
    std::fs::write(
        a.join("chart/templates/cm.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shop\ndata:\n  version: \"{version}\"\n"),
    )
    .expect("template");
    std::fs::write(
        a.join("checks/preflight.yaml"),
        "apiVersion: troubleshoot.sh/v1beta2\nkind: Preflight\nmetadata:\n  name: shop\nspec:\n  analyzers:\n    - clusterVersion:\n        outcomes:\n          - fail:\n              when: \"< 1.20.0\"\n              message: Shop needs Kubernetes 1.20 or later.\n          - pass:\n              message: The cluster's Kubernetes version is supported.\n",
    )
    .expect("preflight");
    std::fs::write(
        a.join("checks/support-bundle.yaml"),
        format!("apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: shop\nspec:\n  collectors:\n    - clusterInfo: {{}}\n    - clusterResources:\n        namespaces: [shop]\n    - data:\n        name: shop-config\n        data: |\n          db_password={PLANTED}\n          greeting=hello\n"),
    )
    .expect("support bundle");
    a
}

/// A release directory of the app (no images).
fn release(dir: &Path, version: &str) -> PathBuf {
    let out = dir.join(format!("shop-{version}.release"));
    let layout = Layout::create(&out).expect("layout");
    let meta = ReleaseMeta {
        format: 1,
        app: "shop".into(),
        version: version.into(),
        images: vec![],
    };
    let files = berth_oci::release::collect_app_files(&app(dir, version)).expect("files");
    write_app_entry(&layout, &meta, &files).expect("app entry");
    out
}

struct Env {
    sim: Simulator,
    cluster: Arc<Cluster>,
    kc: PathBuf,
    vendor_url: String,
    vendor: Client,
    vendor_task: tokio::task::JoinHandle<()>,
    app_dir: PathBuf,
    repo: PathBuf,
    dir: tempfile::TempDir,
}

impl Env {
    fn target(&self, ns: &str) -> Target {
        let mut t = Target::connected(self.cluster.clone(), ns);
        t.kubeconfig = Some(self.kc.clone());
        t.timeout = Duration::from_secs(120);
        t
    }

    async fn console(&self, ns: &str, vendor_url: Option<&str>) -> Running {
        berth_console::start_with(
            self.cluster.clone(),
            ConsoleOptions {
                namespace: ns.into(),
                app_dir: self.app_dir.clone(),
                addr: "127.0.0.1:0".parse().expect("addr"),
                kubeconfig: Some(self.kc.clone()),
                context: None,
                tls: None,
                passwords: PasswordInput {
                    admin: Some(ADMIN.into()),
                    viewer: Some(VIEWER.into()),
                },
                timeout: Duration::from_secs(120),
                data_dir: Some(self.dir.path().join(format!("console-{ns}"))),
                vendor_url: vendor_url.map(String::from),
                snapshot_repo: None,
                mover_image: None,
            },
        )
        .await
        .expect("console")
    }

    async fn shutdown(self) {
        self.vendor_task.abort();
        self.sim.shutdown().await;
    }
}

/// The simulator; a vendor server with shop 1.0.0, 1.1.0 (required) and 1.2.0 on stable and
/// customer acme (support bundle uploads, snapshots); shop 1.0.0 installed online with acme's
/// license in namespace `shop`; a snapshot schedule of it into a local repository.
async fn setup() -> Env {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = Simulator::start(SimOptions::default())
        .await
        .expect("simulator");
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).expect("kubeconfig");
    let cluster = Arc::new(
        Cluster::connect(&ConnectOptions {
            kubeconfig: Some(kc.clone()),
            context: None,
        })
        .await
        .expect("connect"),
    );

    // The vendor server, in this process, on 127.0.0.1.
    let data = dir.path().join("vendor");
    std::fs::create_dir_all(&data).expect("data dir");
    let db = berth_vendor::db::Db::connect(None, &data)
        .await
        .expect("db");
    let store = berth_vendor::store::Store::open(&data, 1 << 30).expect("store");
    let (svc, first) = berth_vendor::service::Service::start(db, store, &data)
        .await
        .expect("vendor service");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let vendor_url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = berth_vendor::http::router(svc, vendor_url.clone(), 1000.0);
    let vendor_task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let token = std::fs::read_to_string(first.expect("admin token")).expect("token");
    let vendor = Client::new(&vendor_url, token.trim()).expect("client");
    vendor.create_app("shop").await.expect("app");
    for (v, required, notes) in [
        ("1.0.0", false, "First release"),
        ("1.1.0", true, "Moves the orders to the new schema"),
        ("1.2.0", false, "Faster pages\nA new theme"),
    ] {
        vendor
            .push_release(
                &release(dir.path(), v),
                ReleasePush {
                    notes: notes.into(),
                    required,
                    eol_at: None,
                },
            )
            .await
            .expect("push");
        vendor.promote("shop", "stable", v).await.expect("promote");
    }
    vendor
        .create_customer(&NewCustomer {
            name: "acme".into(),
            app: "shop".into(),
            channels: vec!["stable".into()],
            license_type: "paid".into(),
            expires_at: Some("2099-12-31".into()),
            airgap: false,
            snapshots: true,
            support_bundle_upload: true,
            cluster_id: None,
            entitlements: vec![],
        })
        .await
        .expect("customer");
    let license = LicenseText {
        text: vendor.issue_license("acme").await.expect("license"),
        source: "acme.license.yaml".into(),
    };

    let mut env = Env {
        sim,
        cluster,
        kc,
        vendor_url,
        vendor,
        vendor_task,
        app_dir: PathBuf::new(),
        repo: PathBuf::new(),
        dir,
    };
    env.app_dir = app(env.dir.path(), "1.0.0");
    // Boxed: the install's future is large in a debug build.
    let r = Box::pin(berth_ops::online::install(
        &env.target("shop"),
        &ApplyInput::default(),
        &license,
        Some("1.0.0"),
        None,
        Arc::new(berth_ops::Discard),
        &berth_ops::Cancel::new(),
    ))
    .await
    .expect("online install");
    assert!(r.ok(), "{r:?}");

    // The snapshot schedule: its Secret is where the console finds the repository.
    env.repo = env.dir.path().join("repo");
    let repo = env.repo.clone();
    let access = tokio::task::spawn_blocking(move || {
        berth_snapshot::Repository::init(
            Arc::new(berth_snapshot::LocalBackend::new(&repo)),
            &berth_snapshot::Secret::Password(REPO_PASSWORD.into()),
            &berth_snapshot::InitOptions {
                kdf: berth_snapshot::KdfParams {
                    m_cost_kib: 1024,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .expect("init");
        berth_ops::snapshot::RepoAccess::open(
            &repo.display().to_string(),
            REPO_PASSWORD.into(),
            None,
        )
        .expect("open")
    })
    .await
    .expect("blocking");
    berth_ops::snapshot::schedule::schedule(
        &env.target("shop"),
        &access,
        &berth_ops::snapshot::schedule::ScheduleInput {
            app: None,
            cron: "0 3 * * *".into(),
            retention: berth_snapshot::RetentionPolicy {
                keep_daily: 7,
                ..Default::default()
            },
            mover_image: berth_ops::snapshot::default_mover_image(),
        },
        &berth_ops::Discard,
    )
    .await
    .expect("schedule");
    env
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn login(c: &reqwest::Client, url: &str, password: &str) {
    let page = c
        .get(format!("{url}login"))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("body");
    let at = page.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    let token = page[at..].split('"').next().expect("token");
    let r = c
        .post(format!("{url}login"))
        .form(&[("csrf", token), ("password", password)])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 303);
}

async fn get(c: &reqwest::Client, url: &str, path: &str) -> String {
    c.get(format!("{url}{path}"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body")
}

/// A tool from a BERTH_TEST_* variable; missing fails unless BERTH_TEST_ALLOW_SKIP=1.
fn tool(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(p) if !p.is_empty() && Path::new(&p).exists() => Some(p),
        _ if std::env::var("BERTH_TEST_ALLOW_SKIP").as_deref() == Ok("1") => {
            eprintln!("SKIPPED {test}: {var} is not set");
            None
        }
        _ => panic!(
            "{var} is not set (or does not exist): run scripts/setup.d/70-console.sh (or set BERTH_TEST_ALLOW_SKIP=1 to skip)"
        ),
    }
}

#[test]
fn updates_snapshots_and_support_upload_in_chromium() {
    let test = "updates_snapshots_and_support_upload_in_chromium";
    let Some(python) = tool("BERTH_TEST_PLAYWRIGHT_PYTHON", test) else {
        return;
    };
    let Some(chromium) = tool("BERTH_TEST_CHROMIUM", test) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let env = rt.block_on(Box::pin(setup()));
    let console = rt.block_on(env.console("shop", None));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-browser-online");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("artefact dir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser_online.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(&console.url)
        .arg(ADMIN)
        .arg(VIEWER)
        .arg(&out)
        .arg(&chromium)
        .output()
        .expect("run the Playwright script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    eprintln!("screenshots: {}", out.display());
    assert!(output.status.success(), "the browser walkthrough failed");
    assert!(stdout.contains("\nOK"), "the script did not finish");

    rt.block_on(async {
        // The upgrade walked the required release: the CLI's revision records say so.
        let h = berth_ops::deploy::history(&env.target("shop"), "shop")
            .await
            .expect("history");
        let steps: Vec<(String, String)> = h
            .iter()
            .map(|e| {
                (
                    format!("{:?}", e.operation).to_lowercase(),
                    e.version.clone(),
                )
            })
            .collect();
        assert_eq!(
            steps,
            [
                ("install".to_string(), "1.0.0".to_string()),
                ("upgrade".into(), "1.1.0".into()),
                ("upgrade".into(), "1.2.0".into()),
            ],
            "{h:?}"
        );
        // The vendor saw the instance on 1.2.0.
        let inst = env.vendor.instances("shop").await.expect("instances");
        assert!(inst.iter().any(|i| i.app_version == "1.2.0"), "{inst:?}");

        // The snapshot is in the schedule's repository, and the restore made a second install.
        let repo = env.repo.display().to_string();
        let listed = tokio::task::spawn_blocking(move || {
            let a = berth_ops::snapshot::RepoAccess::open(&repo, REPO_PASSWORD.into(), None)
                .expect("open");
            berth_ops::snapshot::list(&a.repo, Some("shop")).expect("list")
        })
        .await
        .expect("blocking");
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].version, "1.2.0");
        assert!(listed[0].tags.iter().any(|t| t == "berth.dev/console=true"));
        let restored = berth_ops::deploy::status(&env.target("shop-restored"), "shop")
            .await
            .expect("restored status");
        assert_eq!(restored.version, "1.2.0");

        // The support bundle reached the vendor: the same bytes, and the planted password is
        // not in any of its files.
        let ro = env
            .vendor
            .create_token("support", berth_vendor::model::Scope::ReadOnly)
            .await
            .expect("token");
        let support = Client::new(&env.vendor_url, &ro.token).expect("client");
        let got = support
            .support_bundles(Some("acme"), None)
            .await
            .expect("list");
        assert_eq!(got.len(), 1, "{got:?}");
        let local = env.dir.path().join("console-shop").join(&got[0].name);
        let down = env.dir.path().join("from-vendor.tar.gz");
        support
            .download_support_bundle(&got[0].id, Some(&down))
            .await
            .expect("download");
        assert_eq!(
            std::fs::read(&down).expect("downloaded"),
            std::fs::read(&local).expect("console's bundle")
        );
        let reader = berth_troubleshoot::bundle::open(&down).expect("bundle");
        let files = reader.glob("**");
        assert!(files.iter().any(|f| f.contains("shop-config")), "{files:?}");
        for f in &files {
            let text = String::from_utf8_lossy(&reader.read(f).unwrap_or_default()).into_owned();
            assert!(!text.contains(PLANTED), "{f} holds the planted secret");
        }
        console.shutdown().await;
    });
    rt.block_on(env.shutdown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn versions_page_says_why_there_are_no_updates() {
    // Boxed: the setup's futures (an online install, a schedule) are large in a debug build.
    let env = Box::pin(setup()).await;

    // The vendor server down (or out of reach): say so, and that air-gapped installs get
    // bundles.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let unreachable = env.console("shop", Some(&format!("http://{closed}"))).await;
    let c = client();
    login(&c, &unreachable.url, ADMIN).await;
    let page = get(&c, &unreachable.url, "versions").await;
    assert!(page.contains("data-state=\"unreachable\""), "{page}");
    assert!(page.contains("cannot be reached"), "{page}");
    assert!(page.contains("--airgap-bundle"), "{page}");
    // The rest of the page still works.
    assert!(page.contains("id=\"history\""), "{page}");
    unreachable.shutdown().await;

    // Reachable: the newer releases, newest first, the required one marked.
    let console = env.console("shop", None).await;
    let c = client();
    login(&c, &console.url, ADMIN).await;
    let page = get(&c, &console.url, "versions").await;
    assert!(page.contains("data-state=\"answer\""), "{page}");
    let (a, b) = (
        page.find("data-version=\"1.2.0\"").expect("1.2.0"),
        page.find("data-version=\"1.1.0\"").expect("1.1.0"),
    );
    assert!(a < b, "newest first");
    assert!(page.contains("id=\"upgrade-1.2.0\""), "{page}");
    assert!(page.contains("Installs 1.1.0 first (required)"), "{page}");
    // A version the server did not offer is refused without an operation.
    let csrf = {
        let at = page.find("name=\"csrf\" value=\"").expect("csrf") + 19;
        page[at..].split('"').next().expect("token").to_string()
    };
    let r = c
        .post(format!("{}versions/upgrade", console.url))
        .form(&[("csrf", csrf.as_str()), ("version", "9.9.9")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("is not a release the vendor server offers")
    );
    // A viewer sees the releases but no upgrade button, and cannot post one.
    let v = client();
    login(&v, &console.url, VIEWER).await;
    let vpage = get(&v, &console.url, "versions").await;
    assert!(vpage.contains("data-version=\"1.2.0\""));
    assert!(!vpage.contains("id=\"upgrade-1.2.0\""));
    let vcsrf = {
        let at = vpage.find("name=\"csrf\" value=\"").expect("csrf") + 19;
        vpage[at..].split('"').next().expect("token").to_string()
    };
    let r = v
        .post(format!("{}versions/upgrade", console.url))
        .form(&[("csrf", vcsrf.as_str()), ("version", "1.2.0")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
    for path in [
        "snapshots",
        "snapshots/restore",
        "snapshots/restore/confirm",
    ] {
        let r = v
            .post(format!("{}{path}", console.url))
            .form(&[("csrf", vcsrf.as_str())])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 403, "viewer POST /{path}");
    }

    // The license expired (the vendor's record): the releases are shown, the upgrade is not
    // offered, and the page says what to do.
    env.vendor
        .change_customer(
            "acme",
            &CustomerChange {
                expires_at: Some("2001-01-01".into()),
                ..Default::default()
            },
        )
        .await
        .expect("expire");
    let page = get(&c, &console.url, "versions?refresh=1").await;
    assert!(page.contains("id=\"license-expired\""), "{page}");
    assert!(page.contains("renews it"), "{page}");
    assert!(page.contains("data-version=\"1.2.0\""), "{page}");
    assert!(!page.contains("id=\"upgrade-1.2.0\""), "{page}");
    let r = c
        .post(format!("{}versions/upgrade", console.url))
        .form(&[("csrf", csrf.as_str()), ("version", "1.2.0")])
        .send()
        .await
        .expect("post");
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("is not a release the vendor server offers")
    );
    console.shutdown().await;

    // Installed without a license (from the app directory, as air-gapped installs are): no
    // vendor server to ask.
    let r = Box::pin(berth_ops::deploy::install(
        &env.target("plain"),
        &ApplyInput {
            app_dir: Some(env.app_dir.clone()),
            ..Default::default()
        },
        Arc::new(berth_ops::Discard),
        &berth_ops::Cancel::new(),
    ))
    .await
    .expect("install");
    assert!(r.ok());
    let plain = env.console("plain", None).await;
    let c = client();
    login(&c, &plain.url, ADMIN).await;
    let page = get(&c, &plain.url, "versions").await;
    assert!(page.contains("data-state=\"no-license\""), "{page}");
    assert!(page.contains("signed bundles"), "{page}");
    // No schedule, no flag: the Snapshots page says how to configure a repository.
    let page = get(&c, &plain.url, "snapshots").await;
    assert!(page.contains("id=\"no-repo\""), "{page}");
    assert!(page.contains("id=\"no-schedule\""), "{page}");
    assert!(!page.contains("id=\"take-snapshot\""), "{page}");
    plain.shutdown().await;
    env.shutdown().await;
}
