//! `berth drift`, `berth status`'s drift line and `berth analyze --against` as a user runs
//! them, against the simulator.

use berth_kube_sim::{SimOptions, Simulator};
use std::path::Path;
use std::process::{Command, Output};

fn berth(args: &[&str], kubeconfig: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .args(["--kubeconfig", &kubeconfig.display().to_string()])
        .env("NO_COLOR", "1")
        .output()
        .expect("berth runs")
}

fn berth_plain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .env("NO_COLOR", "1")
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

#[test]
fn drift_status_and_analyze_against_on_the_simulator() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt
        .block_on(Simulator::start(SimOptions::default()))
        .expect("simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).expect("kubeconfig");
    let hello = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
    let out = berth(
        &["install", &hello.display().to_string(), "-n", "hello"],
        &kc,
    );
    assert!(out.status.success(), "{}", text(&out));

    // Nothing changed yet.
    let out = berth(&["drift", "-n", "hello"], &kc);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("no drift"), "{t}");
    let before = dir.path().join("before");
    let out = berth(
        &[
            "support-bundle",
            "-n",
            "hello",
            "--no-archive",
            "-o",
            "json",
            "--archive",
            &before.display().to_string(),
        ],
        &kc,
    );
    assert!(
        before.join("berth/baselines/hello.v1.json").is_file(),
        "{}",
        text(&out)
    );

    // A node's kernel changes under the app.
    let kubectl = std::env::var("BERTH_TEST_KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let patched = Command::new(&kubectl)
        .args([
            "--kubeconfig",
            &kc.display().to_string(),
            "patch",
            "node",
            "berth-sim-node",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"nodeInfo":{"kernelVersion":"6.1.0-31-amd64"}}}"#,
        ])
        .output();
    match patched {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!("kubectl patch: {}", text(&o)),
        Err(e) if std::env::var("BERTH_TEST_ALLOW_SKIP").is_ok() => {
            eprintln!("skipping: kubectl cannot run: {e}");
            return;
        }
        Err(e) => {
            panic!("kubectl ({kubectl}) cannot run: {e}; install kubectl or set BERTH_TEST_KUBECTL")
        }
    }

    let out = berth(&["drift", "-n", "hello"], &kc);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "a High change: {t}");
    assert!(t.contains("compared with revision 1"), "{t}");
    assert!(t.contains("High (1):"), "{t}");
    assert!(
        t.contains("kernel-changed                 node/berth-sim-node kernel: 6.1.0-28-amd64 → 6.1.0-31-amd64"),
        "{t}"
    );
    let out = berth(&["drift", "hello", "-n", "hello", "-o", "json"], &kc);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["changes"][0]["class"], "kernel-changed", "{v}");
    assert_eq!(v["baseline"]["revision"], 1, "{v}");

    let out = berth(&["status", "hello", "-n", "hello"], &kc);
    let t = text(&out);
    assert!(
        t.contains("drift since last good revision (1): 1 change (top: node/berth-sim-node kernel: 6.1.0-28-amd64 → 6.1.0-31-amd64"),
        "{t}"
    );

    let after = dir.path().join("after");
    berth(
        &[
            "support-bundle",
            "-n",
            "hello",
            "--no-archive",
            "-o",
            "json",
            "--archive",
            &after.display().to_string(),
        ],
        &kc,
    );
    let out = berth_plain(&[
        "analyze",
        &after.display().to_string(),
        "--against",
        &before.display().to_string(),
        "-o",
        "json",
    ]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!(out.status.code(), Some(3), "{v}");
    assert_eq!(v["changes"][0]["class"], "kernel-changed", "{v}");
    assert_eq!(v["changes"].as_array().map(Vec::len), Some(1), "{v}");
    let out = berth_plain(&[
        "analyze",
        &after.display().to_string(),
        "--baseline",
        &before
            .join("berth/baselines/hello.v1.json")
            .display()
            .to_string(),
    ]);
    let t = text(&out);
    assert!(t.contains("kernel-changed"), "{t}");
    // Host facts: none in revision 1's baseline, said so; an upgrade run here records them,
    // and this host compared with itself a moment later has not drifted.
    let out = berth(&["drift", "-n", "hello", "--host"], &kc);
    assert!(text(&out).contains("holds no host facts"), "{}", text(&out));
    let out = berth(
        &[
            "upgrade",
            &hello.display().to_string(),
            "-n",
            "hello",
            "--set",
            "replicas=3",
            "--host-baseline",
        ],
        &kc,
    );
    assert!(out.status.success(), "{}", text(&out));
    let saved = dir.path().join("now.json");
    let out = berth(
        &[
            "drift",
            "-n",
            "hello",
            "--host",
            "--save",
            &saved.display().to_string(),
        ],
        &kc,
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("compared with revision 2") && t.contains("no drift"),
        "{t}"
    );
    assert!(!t.contains("holds no host facts"), "{t}");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&saved).expect("saved")).expect("json");
    assert_eq!(saved["format"], "berth.dev/baseline.v1");
    assert!(
        saved["host"]["kernel"]
            .as_str()
            .is_some_and(|k| !k.is_empty()),
        "{saved}"
    );
    // A file that is not a baseline is an input error naming it.
    let bogus = dir.path().join("bogus.json");
    std::fs::write(&bogus, "{\"format\": \"something-else\"}").expect("write");
    let out = berth_plain(&[
        "analyze",
        &after.display().to_string(),
        "--baseline",
        &bogus.display().to_string(),
    ]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("bogus.json") && t.contains("not a berth baseline"),
        "{t}"
    );
}
