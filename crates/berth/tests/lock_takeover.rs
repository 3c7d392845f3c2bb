//! A run that lost its lock stops: run A is paused (SIGSTOP) in the middle of an upgrade for
//! longer than its lease, run B takes the lock over and is paused in turn, then A is resumed.
//! A must stop before its next write and name B; B then finishes and repairs A's revision.
//! Two real `berth` processes against the simulator; the pauses happen at chosen writes
//! (`BERTH_TEST_STOP_AT_WRITE`), so the interleaving does not depend on timing. Objects are
//! applied one at a time (`--concurrency 1`): a write already past the lock check when the
//! process is paused is on its way, and no lock without server-side fencing can call it back.

mod process;
use berth_kube_sim::{SimOptions, Simulator};
use process::{signal, wait_stopped};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const APP: &str = "locked";
const NS: &str = "locked";
const TTL: &str = "2";

fn write_app(root: &Path, version: &str) -> PathBuf {
    let dir = root.join(format!("app-{version}"));
    std::fs::create_dir_all(dir.join("manifests")).expect("app dir");
    std::fs::write(
        dir.join("berth.yaml"),
        format!(
            "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: {APP}\n  version: {version}\nspec:\n  components:\n    - name: main\n      manifests:\n        path: manifests\n"
        ),
    )
    .expect("berth.yaml");
    let docs: Vec<String> = (0..16)
        .map(|i| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg-{i}\ndata:\n  version: \"{version}\"\n"))
        .collect();
    std::fs::write(dir.join("manifests/all.yaml"), docs.join("---\n")).expect("manifests");
    dir
}

fn berth(args: &[&str], kc: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
    c.args(args)
        .args(["--kubeconfig", &kc.display().to_string(), "-n", NS])
        .args(["--timeout", "60s", "--concurrency", "1"])
        .env("NO_COLOR", "1")
        .env("BERTH_LOCK_TTL_SECONDS", TTL)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// (versions of the ConfigMaps, stored revision statuses by number)
fn state(rt: &tokio::runtime::Runtime, kc: &Path) -> (Vec<String>, Vec<(u32, String)>) {
    rt.block_on(async {
        let cluster = berth_deploy::Cluster::connect(&berth_deploy::ConnectOptions {
            kubeconfig: Some(kc.to_path_buf()),
            context: None,
        })
        .await
        .expect("connect");
        let sel = format!("berth.dev/app={APP}");
        let versions = cluster
            .list("v1", "ConfigMap", NS, Some(&sel))
            .await
            .expect("list")
            .iter()
            .map(|o| o["data"]["version"].as_str().unwrap_or("").to_string())
            .collect();
        let mut revs: Vec<(u32, String)> = cluster
            .list(
                "v1",
                "Secret",
                NS,
                Some(&format!("{sel},berth.dev/kind=revision")),
            )
            .await
            .expect("list")
            .iter()
            .map(|o| {
                let l = |k: &str| {
                    o.pointer(&format!("/metadata/labels/berth.dev~1{k}"))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                (l("revision").parse().unwrap_or(0), l("status"))
            })
            .collect();
        revs.sort();
        (versions, revs)
    })
}

#[test]
fn a_run_that_lost_its_lock_stops_and_names_the_run_that_took_over() {
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
    let v1 = write_app(dir.path(), "1.0.0");
    let v2 = write_app(dir.path(), "2.0.0");
    let v3 = write_app(dir.path(), "3.0.0");
    let out = berth(&["install", &v1.display().to_string()], &kc)
        .output()
        .expect("install");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A: writes its Lease (1) and pending revision 2 (2), applies one object (3), pauses at 4.
    let mut a = berth(&["upgrade", &v2.display().to_string()], &kc)
        .env("BERTH_TEST_STOP_AT_WRITE", "4")
        .spawn()
        .expect("spawn A");
    wait_stopped(&mut a, "run A");
    // Past A's lease (2 s), B takes the lock over; it repairs revision 2 and pauses later.
    std::thread::sleep(Duration::from_secs(3));
    let mut b = berth(&["upgrade", &v3.display().to_string()], &kc)
        .env("BERTH_TEST_STOP_AT_WRITE", "5")
        .spawn()
        .expect("spawn B");
    wait_stopped(&mut b, "run B");
    let (before, _) = state(&rt, &kc);

    // A wakes up holding nothing: it must stop before writing and say who holds the lock.
    signal(&a, "-CONT");
    let out_a = a.wait_with_output().expect("A ends");
    let err_a = String::from_utf8_lossy(&out_a.stderr).to_string();
    assert!(
        !out_a.status.success(),
        "A carried on as if it held the lock:\n{err_a}"
    );
    assert!(
        err_a.contains("lost the lock") && err_a.contains(&format!("/{}/", b.id())),
        "A must name the run that took over (pid {}):\n{err_a}",
        b.id()
    );
    let (after, revs) = state(&rt, &kc);
    let count = |vs: &[String], v: &str| vs.iter().filter(|x| *x == v).count();
    assert_eq!(
        count(&after, "2.0.0"),
        count(&before, "2.0.0"),
        "A applied objects after it lost the lock: before {before:?}, after {after:?}"
    );
    assert!(
        revs.iter().any(|(n, s)| *n == 2 && s == "failed"),
        "B marks A's interrupted revision failed: {revs:?}"
    );

    // B resumes, still holds the lock, and finishes.
    signal(&b, "-CONT");
    let out_b = b.wait_with_output().expect("B ends");
    assert!(
        out_b.status.success(),
        "B: {}",
        String::from_utf8_lossy(&out_b.stderr)
    );
    let (end, revs) = state(&rt, &kc);
    assert_eq!(count(&end, "3.0.0"), 16, "{end:?}");
    assert_eq!(
        revs,
        vec![
            (1, "superseded".to_string()),
            (2, "failed".to_string()),
            (3, "deployed".to_string())
        ]
    );
    drop(sim);
}
