//! `berth demo --console`: after the tour, the admin console serves the simulated cluster,
//! prints its address, answers over HTTPS with the tour's app installed, and stops on Ctrl-C.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn demo_console_serves_the_tour_app_until_ctrl_c() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .current_dir("../..")
        .env("NO_COLOR", "1")
        .env("BERTH_CONSOLE_PASSWORD", "demo-console-test")
        .args(["demo", "--console"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("berth demo --console");
    let stdout = child.stdout.take().expect("stdout");
    // Read lines until the console's address (the tour takes a while on a loaded machine).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut url = None;
    let mut seen = String::new();
    while url.is_none() {
        let line = match rx.recv_timeout(Duration::from_secs(600)) {
            Ok(l) => l,
            Err(e) => {
                let _ = child.kill();
                panic!("no console address ({e}); the demo printed:\n{seen}");
            }
        };
        seen.push_str(&line);
        seen.push('\n');
        // The tour ends with the app restored from its snapshot into hello-restored.
        if let Some(rest) = line.strip_prefix("berth console for namespace hello-restored: ") {
            url = Some(rest.trim().to_string());
        }
    }
    let url = url.expect("url");
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    assert!(
        !seen.contains("admin password"),
        "a password given in the environment is not printed"
    );

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dashboard = rt.block_on(async {
        let c = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .cookie_store(true)
            .build()
            .expect("client");
        let login = c
            .get(format!("{url}login"))
            .send()
            .await
            .expect("login page")
            .text()
            .await
            .expect("body");
        let at = login.find("name=\"csrf\" value=\"").expect("token") + 19;
        let token = login[at..].split('"').next().expect("token").to_string();
        c.post(format!("{url}login"))
            .form(&[("csrf", token.as_str()), ("password", "demo-console-test")])
            .send()
            .await
            .expect("log in")
            .text()
            .await
            .expect("dashboard")
    });
    // The tour left hello at 1.1.0 (its upgrade, then the rolled-back failure), then restored
    // it from its snapshot into another namespace.
    assert!(dashboard.contains("id=\"version\">1.1.0<"), "{dashboard}");
    assert!(dashboard.contains("id=\"last-operation\""), "{dashboard}");

    // Ctrl-C, as a terminal sends it.
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill -INT failed");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "berth demo --console ended with {status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the console did not stop on Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
