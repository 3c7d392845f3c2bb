//! `berth vendor …`, `berth license …` and `berth updates` as the vendor and the customer run
//! them: a real `berth vendor serve` process on 127.0.0.1 (SQLite in a temporary directory).

use berth_oci::layout::Layout;
use berth_oci::release::{ReleaseMeta, write_app_entry};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

struct Serve {
    child: Child,
    url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path) -> Serve {
    serve_with(data, &[])
}

fn serve_with(data: &Path, extra: &[&str]) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["vendor", "serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("berth vendor serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the server prints its address");
    Serve {
        child,
        url: format!("http://{}", line.trim()),
    }
}

fn berth(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("BERTH_VENDOR_CONFIG", home.join("vendor.json"))
        .env_remove("BERTH_VENDOR_URL")
        .env_remove("BERTH_VENDOR_TOKEN")
        .output()
        .expect("berth runs")
}

fn ok(o: Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "exit {:?}: {text}", o.status.code());
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn release(dir: &Path, version: &str) -> PathBuf {
    let out = dir.join(format!("hello-{version}.release"));
    let layout = Layout::create(&out).expect("layout");
    let meta = ReleaseMeta {
        format: 1,
        app: "hello".into(),
        version: version.into(),
        images: vec![],
    };
    let files = vec![(
        "berth.yaml".to_string(),
        format!("# hello {version}\n").into_bytes(),
    )];
    write_app_entry(&layout, &meta, &files).expect("app entry");
    out
}

#[test]
fn vendor_publishes_customer_sees_updates_and_vendor_sees_the_instance() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path();
    let data = home.join("data");
    let s = serve(&data);
    let token_file = data.join("admin-token");
    let b = |args: &[&str]| berth(home, args);
    ok(b(&[
        "vendor",
        "login",
        &s.url,
        "--token-file",
        token_file.to_str().unwrap(),
    ]));
    ok(b(&["vendor", "app", "create", "hello"]));
    ok(b(&[
        "vendor",
        "channel",
        "create",
        "lts",
        "--app",
        "hello",
        "--keep-minors",
        "1",
    ]));
    for (v, extra) in [
        ("1.0.0", &[][..]),
        ("1.1.0", &["--required", "--notes", "Schema migration"][..]),
        ("1.2.0", &[][..]),
    ] {
        let dir = release(home, v);
        let mut args = vec![
            "vendor",
            "release",
            "push",
            dir.to_str().unwrap(),
            "--channel",
            "stable",
        ];
        args.extend_from_slice(extra);
        ok(b(&args));
    }
    let chans = ok(b(&["vendor", "channel", "ls", "--app", "hello"]));
    assert!(chans.contains("1.0.0, 1.1.0 (required), 1.2.0"), "{chans}");

    ok(b(&[
        "vendor",
        "customer",
        "create",
        "acme",
        "--app",
        "hello",
        "--channel",
        "stable",
        "--expires",
        "2099-12-31",
        "--airgap",
        "--entitlement",
        "seats=int:50",
    ]));
    let lic = ok(b(&["vendor", "license", "issue", "acme"]));
    let lic_path = home.join("acme.license.yaml");
    std::fs::write(&lic_path, &lic).expect("license");
    let pubkey = ok(b(&["vendor", "key", "export"]));
    let pub_path = home.join("vendor.pub");
    std::fs::write(&pub_path, &pubkey).expect("pub");

    // offline verification; a changed byte is refused with the reason
    ok(b(&[
        "license",
        "verify",
        lic_path.to_str().unwrap(),
        "--pubkey",
        pub_path.to_str().unwrap(),
        "--app",
        "hello",
    ]));
    let shown = ok(b(&["license", "show", lic_path.to_str().unwrap()]));
    assert!(
        shown.contains("entitlement seats = 50")
            && !shown.contains(&lic[lic.find("credential:").unwrap() + 12..][..64]),
        "{shown}"
    );
    let tampered = home.join("tampered.yaml");
    std::fs::write(&tampered, lic.replace("value: 50", "value: 5000")).expect("write");
    let o = b(&[
        "license",
        "verify",
        tampered.to_str().unwrap(),
        "--pubkey",
        pub_path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("changed after the vendor signed it"),
        "{o:?}"
    );
    let o = b(&[
        "license",
        "verify",
        lic_path.to_str().unwrap(),
        "--pubkey",
        pub_path.to_str().unwrap(),
        "--app",
        "other",
    ]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is for app hello, not other"),
        "{o:?}"
    );

    // the customer on 1.0.0 must pass through the required 1.1.0
    let up = ok(b(&[
        "updates",
        "--license",
        lic_path.to_str().unwrap(),
        "--current",
        "1.0.0",
        "--cluster-id",
        "kube-system-uid",
    ]));
    assert!(
        up.contains("hello 1.1.0 (required)") && up.contains("Schema migration"),
        "{up}"
    );
    assert!(up.contains("upgrade path: 1.1.0 -> 1.2.0"), "{up}");

    let inst = ok(b(&["vendor", "instances", "--app", "hello", "-o", "json"]));
    let v: serde_json::Value = serde_json::from_str(&inst).expect("json");
    assert_eq!(v[0]["customer"], "acme");
    assert_eq!(v[0]["appVersion"], "1.0.0");
    assert_eq!(v[0]["behind"], 2);

    // revoked: the next update check is refused and says why
    ok(b(&["vendor", "customer", "update", "acme", "--revoke"]));
    let o = b(&[
        "updates",
        "--license",
        lic_path.to_str().unwrap(),
        "--current",
        "1.0.0",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("revoked"),
        "{o:?}"
    );
}

/// A server killed with SIGKILL in the middle of a push shows no release; a restarted server
/// on the same data directory accepts the push again and completes it.
#[test]
fn a_push_cut_by_a_killed_server_resumes_after_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path();
    let data = home.join("data");
    let mut s = serve(&data);
    let token = std::fs::read_to_string(data.join("admin-token"))
        .expect("token")
        .trim()
        .to_string();
    let b = |args: &[&str]| berth(home, args);
    ok(b(&["vendor", "login", &s.url, "--token", &token]));
    ok(b(&["vendor", "app", "create", "hello"]));
    // a release with one large file, so the push is still running when the server dies
    let dir = home.join("big.release");
    let layout = Layout::create(&dir).expect("layout");
    let big: Vec<u8> = (0..64 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let meta = ReleaseMeta {
        format: 1,
        app: "hello".into(),
        version: "2.0.0".into(),
        images: vec![],
    };
    write_app_entry(
        &layout,
        &meta,
        &[
            ("berth.yaml".into(), b"# big\n".to_vec()),
            ("data.bin".into(), big),
        ],
    )
    .expect("entry");
    let push = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["vendor", "release", "push", dir.to_str().unwrap()])
        .env("BERTH_VENDOR_CONFIG", home.join("vendor.json"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("push starts");
    // kill the server once the large blob is half way in (its partial file is growing)
    let blobs = data.join("blobs/sha256");
    let t = std::time::Instant::now();
    loop {
        let growing = std::fs::read_dir(&blobs).unwrap().flatten().any(|e| {
            e.file_name().to_string_lossy().starts_with(".partial-")
                && e.metadata().map(|m| m.len() > 1024 * 1024).unwrap_or(false)
        });
        if growing {
            break;
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(60),
            "the upload never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let _ = s.child.kill();
    let _ = s.child.wait();
    let out = push.wait_with_output().expect("push ends");
    let port = s.url.rsplit(':').next().unwrap().to_string();
    drop(s);
    // restart on the same port and data: no release is visible yet
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args([
            "vendor",
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("restart");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _s2 = Serve {
        child,
        url: format!("http://{}", line.trim()),
    };
    let chans = ok(b(&[
        "vendor", "channel", "ls", "--app", "hello", "-o", "json",
    ]));
    assert!(!chans.contains("2.0.0"), "{chans}");
    assert!(
        !out.status.success(),
        "the push must fail when its server dies"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot reach the vendor server"),
        "{out:?}"
    );
    let again = b(&[
        "vendor",
        "release",
        "push",
        dir.to_str().unwrap(),
        "--channel",
        "stable",
    ]);
    let text = String::from_utf8_lossy(&again.stderr).to_string();
    assert!(
        again.status.success() && text.contains("pushed hello 2.0.0"),
        "{text}"
    );
    assert!(text.contains("promoted to channel stable"), "{text}");
    // no partial blob was left looking complete
    for e in std::fs::read_dir(data.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with(".partial-") {
            let bytes = std::fs::read(e.path()).unwrap();
            assert_eq!(
                berth_oci::digest::Digest::of(&bytes).hex(),
                name,
                "a stored blob must match its name"
            );
        }
    }
}

/// The status and body of a plain HTTP GET (no client library: one request, then close).
fn http_get(base: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut c = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).expect("answer");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
    (status, text)
}

#[test]
fn the_portal_is_served_beside_the_api_unless_turned_off() {
    let tmp = tempfile::tempdir().unwrap();
    let s = serve(&tmp.path().join("on"));
    let (status, page) = http_get(&s.url, "/portal/login");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Vendor API token"), "{page}");
    let (status, _) = http_get(&s.url, "/portal/apps/hello");
    assert_eq!(
        status, 303,
        "a page without a session goes to the login page"
    );
    let off = serve_with(&tmp.path().join("off"), &["--no-portal"]);
    assert_eq!(http_get(&off.url, "/portal/login").0, 404);
    assert_eq!(http_get(&off.url, "/healthz").0, 200);
}
