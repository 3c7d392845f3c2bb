//! The admin console against the in-process Kubernetes simulator: a real Chromium driven by
//! Playwright for Python (tests/browser.py) through every page, and the refusals (CSRF,
//! viewer, lock-out, forged cookies) over plain HTTPS with reqwest.

use berth_console::{ConsoleOptions, Running, auth::PasswordInput};
use berth_deploy::{Cluster, ConnectOptions};
use berth_kube_sim::{SimOptions, Simulator};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const ADMIN: &str = "admin-pass-for-tests";
const VIEWER: &str = "viewer-pass-for-tests";

fn hello_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello")
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

struct Env {
    sim: Simulator,
    console: Running,
    cluster: Arc<Cluster>,
    _dir: tempfile::TempDir,
}

async fn start(namespace: &str) -> Env {
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
    let console = berth_console::start_with(
        cluster.clone(),
        ConsoleOptions {
            namespace: namespace.into(),
            app_dir: hello_dir(),
            addr: "127.0.0.1:0".parse().expect("addr"),
            kubeconfig: Some(kc),
            context: None,
            tls: None,
            passwords: PasswordInput {
                admin: Some(ADMIN.into()),
                viewer: Some(VIEWER.into()),
            },
            timeout: Duration::from_secs(120),
            data_dir: Some(dir.path().join("data")),
            vendor_url: None,
            snapshot_repo: None,
            mover_image: None,
        },
    )
    .await
    .expect("console");
    Env {
        sim,
        console,
        cluster,
        _dir: dir,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The hidden `csrf` field of a page.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    html[at..].split('"').next().expect("token").to_string()
}

/// Log in with `password`; returns the session's CSRF token.
async fn login(c: &reqwest::Client, url: &str, password: &str) -> reqwest::StatusCode {
    let page = c
        .get(format!("{url}login"))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("body");
    let token = csrf_of(&page);
    c.post(format!("{url}login"))
        .form(&[("csrf", token.as_str()), ("password", password)])
        .send()
        .await
        .expect("login")
        .status()
}

async fn page_csrf(c: &reqwest::Client, url: &str) -> String {
    let html = c
        .get(format!("{url}versions"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    csrf_of(&html)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refusals_over_https_csrf_viewer_lockout_forged_cookie() {
    let env = start("auth").await;
    let url = env.console.url.clone();

    // The login Secret holds Argon2id hashes, not passwords.
    let secret = env
        .cluster
        .get(&berth_deploy::object::ObjectRef {
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: "auth".into(),
            name: berth_console::auth::SECRET_NAME.into(),
        })
        .await
        .expect("get")
        .expect("the login Secret exists");
    let text = secret.to_string();
    assert!(
        !text.contains(ADMIN) && text.contains("session-key"),
        "{text}"
    );

    // Pages need a login.
    let c = client();
    let r = c.get(&url).send().await.expect("get");
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");

    // A login without the form's token is refused before the password is looked at.
    let r = c
        .post(format!("{url}login"))
        .form(&[("password", ADMIN)])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);

    // Admin logs in; the cookie is HttpOnly, Secure, SameSite=Strict.
    let page = c.get(format!("{url}login")).send().await.expect("get");
    let token = csrf_of(&page.text().await.expect("body"));
    let r = c
        .post(format!("{url}login"))
        .form(&[("csrf", token.as_str()), ("password", ADMIN)])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 303);
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("berth_console="))
        .expect("session cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(session.contains(attr), "{session}");
    }

    // Every POST without the session's CSRF token is refused (403) and does nothing.
    let csrf = page_csrf(&c, &url).await;
    for path in [
        "deploy",
        "rollback",
        "preflight",
        "troubleshoot/bundle",
        "logout",
    ] {
        let r = c
            .post(format!("{url}{path}"))
            .form(&[("revision", "1")])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 403, "POST /{path} without a token");
        let r = c
            .post(format!("{url}{path}"))
            .form(&[("csrf", "wrong"), ("revision", "1")])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 403, "POST /{path} with a wrong token");
    }
    let form = reqwest::multipart::Form::new().text("replicas", "3");
    let r = c
        .post(format!("{url}configure"))
        .multipart(form)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403, "POST /configure without a token");
    let r = c
        .post(format!("{url}configure/visibility"))
        .json(&serde_json::json!({"tls_enabled": "true"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403, "visibility without the header");
    let r = c
        .post(format!("{url}configure/visibility"))
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({"tls_enabled": "true", "ingress_enabled": "true"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.expect("json");
    assert!(
        v["items"]
            .as_array()
            .expect("items")
            .contains(&"tls_cert".into())
    );
    // Nothing was started by the refused requests.
    let jobs = c.get(format!("{url}jobs/1")).send().await.expect("get");
    assert_eq!(jobs.status(), 404);

    // A forged cookie (changed MAC) is treated as logged out.
    let forged = client();
    let value = session
        .trim_start_matches("berth_console=")
        .split(';')
        .next()
        .expect("value");
    let mut bad = value.to_string();
    let last = bad.pop().expect("char");
    bad.push(if last == 'A' { 'B' } else { 'A' });
    let r = forged
        .get(&url)
        .header("cookie", format!("berth_console={bad}"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 303, "a forged cookie must not log in");
    let r = forged
        .get(&url)
        .header("cookie", format!("berth_console={value}"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200, "the genuine cookie works");

    // A viewer reads, but changes nothing, even with its own valid token.
    let v = client();
    assert_eq!(login(&v, &url, VIEWER).await, 303);
    let vcsrf = page_csrf(&v, &url).await;
    for path in ["rollback", "preflight", "deploy"] {
        let r = v
            .post(format!("{url}{path}"))
            .form(&[("csrf", vcsrf.as_str()), ("revision", "1")])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 403, "viewer POST /{path}");
    }

    // Lock-out: 5 wrong passwords, then even the right one is refused (429).
    let l = client();
    for _ in 0..5 {
        assert_eq!(login(&l, &url, "wrong").await, 401);
    }
    assert_eq!(login(&l, &url, ADMIN).await, 429);

    env.console.shutdown().await;
    env.sim.shutdown().await;
}

#[test]
fn browser_walkthrough_in_chromium() {
    let Some(python) = tool(
        "BERTH_TEST_PLAYWRIGHT_PYTHON",
        "browser_walkthrough_in_chromium",
    ) else {
        return;
    };
    let Some(chromium) = tool("BERTH_TEST_CHROMIUM", "browser_walkthrough_in_chromium") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let env = rt.block_on(start("hello"));
    // Screenshots and the downloaded bundle are kept as artefacts under the target dir.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-browser");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("artefact dir");
    let ck =
        rcgen::generate_simple_self_signed(vec!["hello.example.com".to_string()]).expect("cert");
    let cert = out.join("tls.crt");
    let key = out.join("tls.key");
    std::fs::write(&cert, ck.cert.pem()).expect("cert");
    std::fs::write(&key, ck.signing_key.serialize_pem()).expect("key");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(&env.console.url)
        .arg(ADMIN)
        .arg(VIEWER)
        .arg(&out)
        .arg(&chromium)
        .arg(&cert)
        .arg(&key)
        .output()
        .expect("run the Playwright script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    eprintln!("screenshots: {}", out.display());
    assert!(output.status.success(), "the browser walkthrough failed");
    assert!(stdout.contains("\nOK"), "the script did not finish");

    // What the browser did is in the same revision records the CLI reads.
    let history = rt.block_on(async {
        let engine = berth_deploy::Engine::new(
            env.cluster.clone(),
            berth_deploy::engine::Options {
                namespace: "hello".into(),
                ..Default::default()
            },
            Arc::new(berth_deploy::engine::Quiet),
        );
        engine.history("hello").await.expect("history")
    });
    let ops: Vec<String> = history
        .iter()
        .map(|h| format!("{:?}", h.operation).to_lowercase())
        .collect();
    assert_eq!(ops, ["install", "upgrade", "rollback"], "{history:?}");
    // A change made outside the console (the operation `berth rollback` runs) shows on the
    // running console's pages at the next request, without a restart.
    let versions = rt.block_on(async {
        let target = berth_ops::deploy::Target::connected(env.cluster.clone(), "hello");
        let r = berth_ops::deploy::rollback(
            &target,
            "hello",
            Some(2),
            false,
            Arc::new(berth_ops::Discard),
            &berth_ops::Cancel::new(),
        )
        .await
        .expect("rollback as the CLI does");
        assert!(r.ok(), "{r:?}");
        let c = client();
        assert_eq!(login(&c, &env.console.url, ADMIN).await, 303);
        c.get(format!("{}versions", env.console.url))
            .send()
            .await
            .expect("versions")
            .text()
            .await
            .expect("body")
    });
    assert!(
        versions.contains("data-revision=\"4\""),
        "revision 4 (made outside the console) is not on the page"
    );
    for name in [
        "01-login",
        "03-configure",
        "08-dashboard",
        "10-versions",
        "15-preflight",
        "17-troubleshoot",
    ] {
        assert!(
            out.join(format!("{name}.png")).is_file(),
            "screenshot {name}"
        );
    }
    rt.block_on(async {
        env.console.shutdown().await;
        env.sim.shutdown().await;
    });
}

/// A copy of examples/hello whose preflight always fails (a Kubernetes version no cluster has).
fn failing_preflight_app(dir: &Path) -> PathBuf {
    let src = hello_dir();
    let dst = dir.join("hello-strict");
    for e in walk(&src) {
        let rel = e.strip_prefix(&src).expect("under the app");
        let to = dst.join(rel);
        if e.is_dir() {
            std::fs::create_dir_all(&to).expect("dir");
        } else {
            std::fs::copy(&e, &to).expect("copy");
        }
    }
    let pf = dst.join("checks/preflight.yaml");
    let text = std::fs::read_to_string(&pf).expect("preflight");
    assert!(
        text.contains("< 1.27.0"),
        "examples/hello's preflight changed"
    );
    std::fs::write(&pf, text.replace("< 1.27.0", "< 99.0.0")).expect("write");
    dst
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    if dir.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for e in entries {
            out.extend(walk(&e));
        }
    }
    out
}

/// Follow a job's event stream until its `done` event.
async fn wait_job(c: &reqwest::Client, url: &str, location: &str) -> serde_json::Value {
    let body = c
        .get(format!("{url}{}/events", location.trim_start_matches('/')))
        .timeout(Duration::from_secs(240))
        .send()
        .await
        .expect("events")
        .text()
        .await
        .expect("the stream ends after done");
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d.trim()).ok())
        .find(|e| e["kind"] == "done")
        .expect("a done event")
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_preflight_blocks_deploy_until_a_reason_is_given() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let app = failing_preflight_app(dir.path());
    let sim = Simulator::start(SimOptions::default()).await.expect("sim");
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
    let console = berth_console::start_with(
        cluster.clone(),
        ConsoleOptions {
            namespace: "strict".into(),
            app_dir: app,
            addr: "127.0.0.1:0".parse().expect("addr"),
            kubeconfig: Some(kc),
            context: None,
            tls: None,
            passwords: PasswordInput {
                admin: Some(ADMIN.into()),
                viewer: None,
            },
            timeout: Duration::from_secs(120),
            data_dir: Some(dir.path().join("data")),
            vendor_url: None,
            snapshot_repo: None,
            mover_image: None,
        },
    )
    .await
    .expect("console");
    let url = console.url.clone();
    let c = client();
    assert_eq!(login(&c, &url, ADMIN).await, 303);
    let csrf = page_csrf(&c, &url).await;

    // The preflight runs and fails.
    let r = c
        .post(format!("{url}preflight"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 303);
    let done = wait_job(&c, &url, &location(&r)).await;
    assert!(
        done["text"].as_str().expect("text").contains("FAILED"),
        "{done}"
    );

    // Reviewing a change: the page asks for a reason.
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("hostname", "hello.example.com")
        .text("replicas", "1")
        .text("database", "embedded")
        .text("ingress_enabled", "true");
    let review = c
        .post(format!("{url}configure"))
        .multipart(form)
        .send()
        .await
        .expect("post")
        .text()
        .await
        .expect("body");
    assert!(review.contains("id=\"preflight-blocks\""), "{review}");
    let at = review.find("name=\"draft\" value=\"").expect("draft field") + 20;
    let draft = review[at..].split('"').next().expect("id").to_string();

    // Without a reason: refused, nothing installed.
    let r = c
        .post(format!("{url}deploy"))
        .form(&[("csrf", csrf.as_str()), ("draft", draft.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 409);
    let target = berth_ops::deploy::Target::connected(cluster.clone(), "strict");
    assert!(
        berth_ops::deploy::history(&target, "hello").await.is_err(),
        "nothing may be installed after a refused deploy"
    );

    // With a reason: it deploys, and the reason is in the job's events.
    let r = c
        .post(format!("{url}deploy"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("draft", draft.as_str()),
            ("override", "the version check is wrong for this cluster"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 303);
    let loc = location(&r);
    let done = wait_job(&c, &url, &loc).await;
    assert_eq!(done["ok"], true, "{done}");
    let page = c
        .get(format!("{url}{}", loc.trim_start_matches('/')))
        .send()
        .await
        .expect("job page")
        .text()
        .await
        .expect("body");
    assert!(
        page.contains("deploying anyway: the version check is wrong"),
        "{page}"
    );
    let h = berth_ops::deploy::history(&target, "hello")
        .await
        .expect("history");
    assert_eq!(h.len(), 1);
    console.shutdown().await;
    sim.shutdown().await;
}
