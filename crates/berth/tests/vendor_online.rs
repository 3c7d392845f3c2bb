//! The customer's online path as separate `berth` processes: `berth install --license`,
//! `berth updates -n`, `berth upgrade --latest` against a real `berth vendor serve` and the
//! simulator; entitlements reach templates and the cluster; end-of-life and forged licenses
//! are refused.

use berth_deploy::object::ObjectRef;
use berth_deploy::{Cluster, ConnectOptions};
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
        .env("NO_COLOR", "1")
        .env("BERTH_VENDOR_CONFIG", home.join("vendor.json"))
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

/// An app whose chart writes its version and the licensed seats into a ConfigMap.
fn app(dir: &Path) -> PathBuf {
    let a = dir.join("app");
    std::fs::create_dir_all(a.join("chart/templates")).expect("dirs");
    std::fs::write(
        a.join("berth.yaml"),
        "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: hello\n  version: 1.0.0\nspec:\n  components:\n    - name: hello\n      chart:\n        path: chart\n      releaseName: hello\n      values: |\n        seats: {{ .License.Entitlements.seats }}\n",
    )
    .expect("berth.yaml");
    std::fs::write(
        a.join("chart/Chart.yaml"),
        "apiVersion: v2\nname: hello\nversion: 1.0.0\n",
    )
    .expect("Chart.yaml");
    std::fs::write(
        a.join("chart/templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  seats: {{ .Values.seats | quote }}\n  tier: {{ .License.Entitlements.tier | quote }}\n",
    )
    .expect("template");
    a
}

async fn get(kc: &Path, kind: &str, ns: &str, name: &str) -> Option<serde_json::Value> {
    let c = Cluster::connect(&ConnectOptions {
        kubeconfig: Some(kc.to_path_buf()),
        context: None,
    })
    .await
    .expect("connect");
    c.get(&ObjectRef {
        api_version: "v1".into(),
        kind: kind.into(),
        namespace: ns.into(),
        name: name.into(),
    })
    .await
    .expect("get")
}

#[test]
fn install_with_a_license_then_upgrade_through_the_required_release() {
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
        token.to_str().unwrap(),
    ]));
    ok(b(&["vendor", "app", "create", "hello"]));
    let app = app(home);
    for (v, extra) in [
        ("0.9.0", &["--eol", "2001-01-01"][..]),
        ("1.0.0", &[][..]),
        ("1.1.0", &["--required", "--notes", "Schema migration"][..]),
        ("1.2.0", &[][..]),
    ] {
        let out = home.join(format!("hello-{v}.release"));
        ok(b(&[
            "release",
            "build",
            app.to_str().unwrap(),
            "--version",
            v,
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]));
        let mut args = vec![
            "vendor",
            "release",
            "push",
            out.to_str().unwrap(),
            "--channel",
            "stable",
        ];
        args.extend_from_slice(extra);
        ok(b(&args));
    }
    ok(b(&[
        "vendor",
        "customer",
        "create",
        "acme",
        "--app",
        "hello",
        "--channel",
        "stable",
        "--entitlement",
        "seats=int:50",
        "--entitlement",
        "tier=string:gold",
        "--airgap",
    ]));
    let lic = home.join("acme.license.yaml");
    std::fs::write(&lic, ok(b(&["vendor", "license", "issue", "acme"]))).expect("license");
    let lics = lic.to_str().unwrap();

    // refused: an end-of-life version, a forged credential
    let o = b(&[
        "install",
        "--license",
        lics,
        "--version",
        "0.9.0",
        "-n",
        "shop",
        "--kubeconfig",
        kcs,
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("end of life"), "{}", text(&o));
    let forged = home.join("forged.yaml");
    let t = std::fs::read_to_string(&lic).unwrap();
    let cred = t
        .lines()
        .find_map(|l| l.trim().strip_prefix("credential: "))
        .expect("credential line")
        .trim_matches('"')
        .to_string();
    std::fs::write(&forged, t.replace(&cred, &"0".repeat(64))).unwrap();
    let o = b(&[
        "install",
        "--license",
        forged.to_str().unwrap(),
        "--version",
        "1.0.0",
        "-n",
        "shop",
        "--kubeconfig",
        kcs,
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("401"), "{}", text(&o));
    assert!(!text(&o).contains(&cred), "the credential is never printed");
    assert!(
        rt.block_on(get(&kc, "ConfigMap", "shop", "hello"))
            .is_none(),
        "nothing installed"
    );

    // install 1.0.0: entitlements in the templates and in the cluster
    ok(b(&[
        "install",
        "--license",
        lics,
        "--version",
        "1.0.0",
        "-n",
        "shop",
        "--kubeconfig",
        kcs,
    ]));
    let cm = rt
        .block_on(get(&kc, "ConfigMap", "shop", "hello"))
        .expect("configmap");
    assert_eq!(cm["data"]["seats"], "50");
    assert_eq!(cm["data"]["tier"], "gold");
    let sec = rt
        .block_on(get(&kc, "Secret", "shop", "berth-license"))
        .expect("license secret");
    use base64::Engine as _;
    let ents = base64::engine::general_purpose::STANDARD
        .decode(sec["data"]["entitlements.json"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&ents).unwrap(),
        serde_json::json!({"seats": 50, "tier": "gold"})
    );

    // what is newer, from the namespace alone
    let up = ok(b(&["updates", "-n", "shop", "--kubeconfig", kcs]));
    assert!(up.contains("hello 1.1.0 (required)"), "{up}");
    assert!(up.contains("upgrade path: 1.1.0 -> 1.2.0"), "{up}");

    // an online flag without a target is refused, not taken for a directory upgrade
    let o = b(&[
        "upgrade",
        "-n",
        "shop",
        "--kubeconfig",
        kcs,
        "--license",
        lics,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--to VERSION or --latest"),
        "{}",
        text(&o)
    );
    // upgrade to the newest: through the required 1.1.0
    let o = ok(b(&[
        "upgrade",
        "--latest",
        "-n",
        "shop",
        "--kubeconfig",
        kcs,
        "--skip-preflights",
    ]));
    let h = ok(b(&[
        "history",
        "hello",
        "-n",
        "shop",
        "--kubeconfig",
        kcs,
        "-o",
        "json",
    ]));
    let h: serde_json::Value = serde_json::from_str(&h).expect("history json");
    let versions: Vec<&str> = h
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["version"].as_str())
        .collect();
    assert_eq!(versions, ["1.0.0", "1.1.0", "1.2.0"], "{o}");
    let up = ok(b(&["updates", "-n", "shop", "--kubeconfig", kcs]));
    assert!(up.contains("up to date"), "{up}");
    let inst = ok(b(&["vendor", "instances", "--app", "hello", "-o", "json"]));
    let inst: serde_json::Value = serde_json::from_str(&inst).expect("json");
    assert_eq!(inst[0]["appVersion"], "1.2.0", "{inst}");

    // the same customer air-gapped: a full bundle of 1.1.0 and a delta to 1.2.0, built and
    // signed by the server, verified with the key the vendor exports
    let pubkey = home.join("vendor.pub");
    std::fs::write(&pubkey, ok(b(&["vendor", "key", "export"]))).expect("pubkey");
    let p = |n: &str| home.join(n).to_str().unwrap().to_string();
    let full = ok(b(&[
        "vendor",
        "bundle",
        "acme",
        "--version",
        "1.1.0",
        "-f",
        &p("full.bundle"),
    ]));
    assert!(full.starts_with("full bundle for acme"), "{full}");
    let delta = ok(b(&[
        "vendor",
        "bundle",
        "acme",
        "--version",
        "1.2.0",
        "--since",
        "1.1.0",
        "-f",
        &p("delta.bundle"),
    ]));
    assert!(delta.starts_with("delta bundle for acme"), "{delta}");
    ok(b(&[
        "bundle",
        "verify",
        &p("full.bundle"),
        "--pubkey",
        &p("vendor.pub"),
        "--extract",
        &p("v110"),
    ]));
    ok(b(&[
        "bundle",
        "verify",
        &p("delta.bundle"),
        "--pubkey",
        &p("vendor.pub"),
        "--base",
        &p("full.bundle"),
        "--extract",
        &p("v120"),
    ]));
    let meta = berth_oci::release::Release::open(Path::new(&p("v120"))).expect("release");
    assert_eq!(meta.meta.version, "1.2.0");
    // an end-of-life version is no more bundled than installed
    let o = b(&[
        "vendor",
        "bundle",
        "acme",
        "--version",
        "0.9.0",
        "-f",
        &p("eol.bundle"),
    ]);
    assert!(
        !o.status.success() && text(&o).contains("end of life"),
        "{}",
        text(&o)
    );
    assert!(!home.join("eol.bundle").exists());
    drop(s);
    drop(sim);
}

/// A release whose preflight check fails is not upgraded to: the walk stops before it and the
/// installed version keeps running.
#[test]
fn a_failing_preflight_stops_the_online_upgrade_before_it_changes_anything() {
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
        token.to_str().unwrap(),
    ]));
    ok(b(&["vendor", "app", "create", "hello"]));
    let app = app(home);
    for v in ["1.0.0", "2.0.0"] {
        if v == "2.0.0" {
            // 2.0.0 needs a Kubernetes no cluster runs
            std::fs::create_dir_all(app.join("checks")).unwrap();
            std::fs::write(
                app.join("checks/preflight.yaml"),
                "apiVersion: troubleshoot.sh/v1beta2\nkind: Preflight\nmetadata:\n  name: hello\nspec:\n  analyzers:\n    - clusterVersion:\n        outcomes:\n          - fail:\n              when: \"< 99.0.0\"\n              message: hello 2.0.0 needs Kubernetes 99\n          - pass:\n              message: ok\n",
            )
            .unwrap();
            let y = std::fs::read_to_string(app.join("berth.yaml")).unwrap();
            std::fs::write(
                app.join("berth.yaml"),
                format!("{y}  checks:\n    preflights: [checks/preflight.yaml]\n"),
            )
            .unwrap();
        }
        let out = home.join(format!("hello-{v}.release"));
        ok(b(&[
            "release",
            "build",
            app.to_str().unwrap(),
            "--version",
            v,
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]));
        ok(b(&[
            "vendor",
            "release",
            "push",
            out.to_str().unwrap(),
            "--channel",
            "stable",
        ]));
    }
    ok(b(&[
        "vendor",
        "customer",
        "create",
        "acme",
        "--app",
        "hello",
        "--channel",
        "stable",
        "--entitlement",
        "seats=int:5",
    ]));
    let lic = home.join("acme.license.yaml");
    std::fs::write(&lic, ok(b(&["vendor", "license", "issue", "acme"]))).expect("license");
    ok(b(&[
        "install",
        "--license",
        lic.to_str().unwrap(),
        "--version",
        "1.0.0",
        "-n",
        "shop",
        "--kubeconfig",
        kcs,
    ]));
    let o = b(&["upgrade", "--latest", "-n", "shop", "--kubeconfig", kcs]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("preflight checks of 2.0.0 failed") && text(&o).contains("Kubernetes 99"),
        "{}",
        text(&o)
    );
    let h = ok(b(&[
        "history",
        "hello",
        "-n",
        "shop",
        "--kubeconfig",
        kcs,
        "-o",
        "json",
    ]));
    let h: serde_json::Value = serde_json::from_str(&h).expect("history json");
    assert_eq!(
        h.as_array().expect("list").len(),
        1,
        "no revision for 2.0.0: {h}"
    );
    drop(s);
    drop(sim);
}
