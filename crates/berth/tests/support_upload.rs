//! Support bundles reaching the vendor, as separate `berth` processes against a real
//! `berth vendor serve` and the simulator: `berth support-bundle -n NS --upload` sends the
//! redacted bundle with the namespace's license, `berth vendor support-bundles list|download`
//! gets the same bytes back; an unredacted bundle, a license without the entitlement and a
//! bad id are refused with their reason. Also `berth console --print-manifest`.

use berth_kube_sim::{SimOptions, Simulator};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

struct Serve(Child, String);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(data: &Path) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["vendor", "serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(["--max-support-bundle-mib", "16"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("berth vendor serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the server prints its address");
    Serve(child, format!("http://{}", line.trim()))
}

fn berth(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .current_dir(home)
        .env("NO_COLOR", "1")
        .env("BERTH_VENDOR_CONFIG", home.join("vendor.json"))
        .env_remove("BERTH_VENDOR_URL")
        .env_remove("BERTH_VENDOR_TOKEN")
        .output()
        .expect("berth runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        text(&o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// An app whose chart holds one ConfigMap (no images).
fn app(dir: &Path) -> PathBuf {
    let a = dir.join("app");
    std::fs::create_dir_all(a.join("chart/templates")).expect("dirs");
    std::fs::write(
        a.join("berth.yaml"),
        "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: shop\n  version: 1.0.0\nspec:\n  components:\n    - name: shop\n      chart:\n        path: chart\n      releaseName: shop\n",
    )
    .expect("berth.yaml");
    std::fs::write(
        a.join("chart/Chart.yaml"),
        "apiVersion: v2\nname: shop\nversion: 1.0.0\n",
    )
    .expect("Chart.yaml");
    std::fs::write(
        a.join("chart/templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shop\ndata:\n  db_password: planted-secret-0815\n",
    )
    .expect("template");
    a
}

#[test]
fn support_bundles_go_to_the_vendor_redacted_and_come_back_whole() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt
        .block_on(Simulator::start(SimOptions::default()))
        .expect("simulator");
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path();
    let kc = home.join("kubeconfig");
    sim.write_kubeconfig(&kc).expect("kubeconfig");
    let kcs = kc.to_str().expect("utf-8");
    let s = serve(&home.join("data"));
    let b = |args: &[&str]| berth(home, args);
    let token = home.join("data/admin-token");
    ok(b(&[
        "vendor",
        "login",
        &s.1,
        "--token-file",
        token.to_str().expect("utf-8"),
    ]));
    ok(b(&["vendor", "app", "create", "shop"]));
    let rel = home.join("shop-1.0.0.release");
    ok(b(&[
        "release",
        "build",
        app(home).to_str().expect("utf-8"),
        "--version",
        "1.0.0",
        "--quiet",
        "--out",
        rel.to_str().expect("utf-8"),
    ]));
    ok(b(&[
        "vendor",
        "release",
        "push",
        rel.to_str().expect("utf-8"),
        "--channel",
        "stable",
    ]));
    for (name, extra) in [
        ("acme", &["--support-bundle-upload"][..]),
        ("globex", &[][..]),
    ] {
        let mut args = vec![
            "vendor",
            "customer",
            "create",
            name,
            "--app",
            "shop",
            "--channel",
            "stable",
        ];
        args.extend_from_slice(extra);
        ok(b(&args));
    }
    let lic = home.join("acme.license.yaml");
    std::fs::write(&lic, ok(b(&["vendor", "license", "issue", "acme"]))).expect("license");
    let globex = home.join("globex.license.yaml");
    std::fs::write(&globex, ok(b(&["vendor", "license", "issue", "globex"]))).expect("license");
    ok(b(&[
        "install",
        "--license",
        lic.to_str().expect("utf-8"),
        "-n",
        "shop",
        "--kubeconfig",
        kcs,
    ]));

    // Collected with redaction, then sent with the license the install left in the namespace.
    let archive = home.join("acme-bundle.tar.gz");
    let out = b(&[
        "support-bundle",
        "-n",
        "shop",
        "--kubeconfig",
        kcs,
        "--archive",
        archive.to_str().expect("utf-8"),
        "--upload",
        "-o",
        "json",
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 3 | 4)),
        "exit {:?}: {}",
        out.status.code(),
        text(&out)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = doc["upload"]["id"]
        .as_str()
        .expect("an upload id")
        .to_string();
    assert_eq!(doc["upload"]["customer"], "acme");
    assert_eq!(doc["upload"]["name"], "acme-bundle.tar.gz");

    // The vendor lists it and downloads the very bytes; the planted password is not in them.
    let list = ok(b(&["vendor", "support-bundles", "list", "-o", "json"]));
    let rows: serde_json::Value = serde_json::from_str(&list).expect("json");
    assert_eq!(rows.as_array().expect("rows").len(), 1, "{rows}");
    assert_eq!(rows[0]["id"], id.as_str());
    let table = ok(b(&[
        "vendor",
        "support-bundles",
        "list",
        "--customer",
        "acme",
    ]));
    assert!(
        table.contains(&id) && table.contains("acme-bundle.tar.gz"),
        "{table}"
    );
    let dl = b(&["vendor", "support-bundles", "download", &id]);
    assert!(dl.status.success(), "{}", text(&dl));
    let got = home.join(format!("acme-{id}.tar.gz"));
    assert_eq!(
        std::fs::read(&got).expect("the default download name"),
        std::fs::read(&archive).expect("archive")
    );
    let dl = b(&[
        "vendor",
        "support-bundles",
        "download",
        &id,
        "-f",
        "mine.tar.gz",
    ]);
    assert!(dl.status.success(), "{}", text(&dl));
    assert!(home.join("mine.tar.gz").is_file());
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(&got).expect("open"));
    let mut all = Vec::new();
    std::io::Read::read_to_end(&mut gz, &mut all).expect("gunzip");
    let all = String::from_utf8_lossy(&all);
    // The ConfigMap is in the bundle, its password masked.
    assert!(
        all.contains("db_password") && all.contains("***HIDDEN***"),
        "the bundle does not hold the app's ConfigMap"
    );
    assert!(
        !all.contains("planted-secret-0815"),
        "the vendor received an unredacted password"
    );

    // Never unredacted: refused by the flags, and a bundle without berth's redaction report is
    // not sent.
    let o = b(&["support-bundle", "-n", "shop", "--upload", "--no-redact"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = b(&["support-bundle", "-n", "shop", "--upload", "--no-archive"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // A license without the entitlement: the bundle is written, not sent, and the reason given.
    let archive2 = home.join("globex-bundle.tar.gz");
    let o = b(&[
        "support-bundle",
        "-n",
        "shop",
        "--kubeconfig",
        kcs,
        "--archive",
        archive2.to_str().expect("utf-8"),
        "--upload",
        "--license",
        globex.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("does not include support bundle uploads"), "{t}");
    assert!(t.contains("was written but not sent"), "{t}");
    assert!(archive2.is_file());

    // Bad ids are refused before a request.
    let o = b(&["vendor", "support-bundles", "download", "../../etc/passwd"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("not a support bundle id"), "{}", text(&o));
    let list = ok(b(&["vendor", "support-bundles", "list", "-o", "json"]));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&list)
            .expect("json")
            .as_array()
            .expect("rows")
            .len(),
        1
    );
    drop(s);
    rt.block_on(sim.shutdown());
}

#[test]
fn console_print_manifest_runs_it_in_the_cluster() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = ok(berth(
        tmp.path(),
        &[
            "console",
            "-n",
            "shop",
            "--print-manifest",
            "--app-image",
            "registry.example.com/shop-app:1.0.0",
            "--vendor-url",
            "https://updates.example.com",
        ],
    ));
    for want in [
        "kind: ServiceAccount",
        "kind: Role",
        "kind: ClusterRole",
        "kind: Deployment",
        "kind: Service",
        "registry.example.com/shop-app:1.0.0",
        "https://updates.example.com",
        "namespace: shop",
    ] {
        assert!(out.contains(want), "{want} missing:\n{out}");
    }
    // Without the app image it says what is missing (a usage error, nothing printed).
    let o = berth(tmp.path(), &["console", "-n", "shop", "--print-manifest"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(o.stdout.is_empty());
}
