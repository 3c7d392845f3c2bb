//! Ctrl-C and waiting, as an admin meets them: a real `berth install` gets SIGINT in the middle
//! of applying (it pauses itself at a chosen write, `BERTH_TEST_STOP_AT_WRITE`, so the signal
//! lands mid-run whatever the machine's speed), stops at a safe point, records the revision as
//! interrupted, releases the lock and says what to do; `status` says it too and exits non-zero;
//! the same command again repairs. A run that finds the lock held says whom it waits for and
//! until when, and waits up to `--timeout` even when that is shorter than the lease.

mod process;
use berth_kube_sim::{SimOptions, Simulator};
use process::{signal, wait_stopped};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

fn write_app(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("manifests")).expect("app dir");
    std::fs::write(
        dir.join("berth.yaml"),
        format!(
            "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  version: 1.0.0\nspec:\n  components:\n    - name: main\n      manifests:\n        path: manifests\n"
        ),
    )
    .expect("berth.yaml");
    let mut docs: Vec<String> = (0..12)
        .map(|i| {
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg-{i}\ndata:\n  k: v\n")
        })
        .collect();
    docs.push("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n".into());
    std::fs::write(dir.join("manifests/all.yaml"), docs.join("---\n")).expect("manifests");
    dir
}

fn berth(args: &[&str], ns: &str, kc: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
    c.args(args)
        .args(["--kubeconfig", &kc.display().to_string(), "-n", ns]);
    if args.first() == Some(&"install") {
        c.args(["--concurrency", "1"]);
    }
    c.env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Stored (revision, status) pairs and whether the lock Lease exists.
fn stored(rt: &tokio::runtime::Runtime, kc: &Path, app: &str) -> (Vec<(u32, String)>, bool) {
    rt.block_on(async {
        let c = berth_deploy::Cluster::connect(&berth_deploy::ConnectOptions {
            kubeconfig: Some(kc.to_path_buf()),
            context: None,
        })
        .await
        .expect("connect");
        let sel = format!("berth.dev/app={app},berth.dev/kind=revision");
        let mut revs: Vec<(u32, String)> = c
            .list("v1", "Secret", app, Some(&sel))
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
        let lease = c
            .get(&berth_deploy::object::ObjectRef {
                api_version: "coordination.k8s.io/v1".into(),
                kind: "Lease".into(),
                namespace: app.into(),
                name: format!("berth.{app}.lock"),
            })
            .await
            .expect("lease")
            .is_some();
        (revs, lease)
    })
}

fn sim() -> (tokio::runtime::Runtime, Simulator) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt
        .block_on(Simulator::start(SimOptions::default()))
        .expect("simulator");
    (rt, sim)
}

#[test]
fn ctrl_c_stops_at_a_safe_point_records_the_revision_and_the_next_run_repairs() {
    let (rt, sim) = sim();
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).expect("kubeconfig");
    let app = write_app(dir.path(), "intr");
    let app_s = app.display().to_string();

    // Paused after the namespace, the Lease, the pending revision and two objects.
    let mut child = berth(&["install", &app_s], "intr", &kc)
        .env("BERTH_TEST_STOP_AT_WRITE", "6")
        .spawn()
        .expect("spawn");
    wait_stopped(&mut child, "berth");
    signal(&child, "-INT");
    signal(&child, "-CONT");
    let out = child.wait_with_output().expect("install ends");
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("interrupted: stopping at the next safe point"),
        "the first Ctrl-C is acknowledged: {t}"
    );
    assert!(
        t.contains("install of intr 1.0.0 in namespace intr was interrupted (revision 1)")
            && t.contains("run the same command again"),
        "{t}"
    );
    let (revs, lease) = stored(&rt, &kc, "intr");
    assert_eq!(revs, vec![(1, "interrupted".to_string())]);
    assert!(!lease, "the lock is released");

    // status names the interrupted revision and what to run, and is not a success.
    let st = berth(&["status", "intr"], "intr", &kc)
        .output()
        .expect("status");
    let t = text(&st);
    assert!(!st.status.success(), "{t}");
    assert!(
        t.contains("revision 1 (1.0.0, install) was interrupted (Ctrl-C); run `berth install APP_DIR` again"),
        "{t}"
    );

    // The same command again repairs.
    let again = berth(&["install", &app_s], "intr", &kc)
        .output()
        .expect("install");
    assert!(again.status.success(), "{}", text(&again));
    let (revs, _) = stored(&rt, &kc, "intr");
    assert_eq!(
        revs,
        vec![(1, "interrupted".to_string()), (2, "deployed".to_string())]
    );
    let st = berth(&["status", "intr"], "intr", &kc)
        .output()
        .expect("status");
    assert!(st.status.success(), "{}", text(&st));
    assert!(!text(&st).contains("unfinished"), "{}", text(&st));

    // A killed run leaves a pending revision: status says so too.
    let mut child = berth(
        &[
            "install",
            &write_app(dir.path(), "killed").display().to_string(),
        ],
        "killed",
        &kc,
    )
    .env("BERTH_TEST_EXIT_AT_WRITE", "5")
    .spawn()
    .expect("spawn");
    assert_eq!(child.wait().expect("ends").code(), Some(137));
    let st = berth(&["status", "killed"], "killed", &kc)
        .output()
        .expect("status");
    let t = text(&st);
    assert!(!st.status.success(), "{t}");
    assert!(
        t.contains("revision 1 (1.0.0, install) is pending") && t.contains("berth install APP_DIR"),
        "{t}"
    );
    drop(sim);
}

#[test]
fn a_second_ctrl_c_exits_at_once_and_the_next_run_repairs() {
    let (rt, sim) = sim();
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).expect("kubeconfig");
    let app = write_app(dir.path(), "twice");
    let app_s = app.display().to_string();
    // Paused twice in the same batch of objects: the first Ctrl-C asks for a safe point (the
    // end of the batch), the second one comes before it.
    let mut child = berth(&["install", &app_s], "twice", &kc)
        .env("BERTH_TEST_STOP_AT_WRITE", "5,7")
        .spawn()
        .expect("spawn");
    wait_stopped(&mut child, "berth");
    signal(&child, "-INT");
    signal(&child, "-CONT");
    wait_stopped(&mut child, "berth");
    signal(&child, "-INT");
    signal(&child, "-CONT");
    let out = child.wait_with_output().expect("install ends");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(130), "{t}");
    assert!(t.contains("interrupted again: exiting now"), "{t}");
    let (revs, _) = stored(&rt, &kc, "twice");
    assert_eq!(
        revs,
        vec![(1, "pending".to_string())],
        "nothing settled: {t}"
    );
    let again = berth(&["install", &app_s], "twice", &kc)
        .output()
        .expect("install");
    assert!(again.status.success(), "{}", text(&again));
    let (revs, lease) = stored(&rt, &kc, "twice");
    assert_eq!(
        revs,
        vec![(1, "failed".to_string()), (2, "deployed".to_string())]
    );
    assert!(!lease);
    drop(sim);
}

#[test]
fn a_run_waiting_for_the_lock_says_for_whom_and_waits_up_to_its_timeout() {
    let (_rt, sim) = sim();
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).expect("kubeconfig");
    let app = write_app(dir.path(), "waits");
    let app_s = app.display().to_string();
    // The holder pauses with the lock (60 s lease) in hand.
    let mut holder = berth(&["install", &app_s], "waits", &kc)
        .env("BERTH_TEST_STOP_AT_WRITE", "4")
        .spawn()
        .expect("spawn");
    wait_stopped(&mut holder, "berth");
    let t0 = Instant::now();
    let out = berth(&["install", &app_s, "--timeout", "2s"], "waits", &kc)
        .output()
        .expect("second run");
    let waited = t0.elapsed();
    let t = text(&out);
    signal(&holder, "-KILL");
    signal(&holder, "-CONT");
    let _ = holder.wait();
    assert!(!out.status.success(), "{t}");
    let who = format!("/{}/", holder.id());
    assert!(
        t.contains("waiting for the lock of waits: another berth run (berth@")
            && t.contains(&who)
            && t.contains(" UTC unless it renews it"),
        "{t}"
    );
    // It waited for its --timeout (shorter than the 60 s lease) instead of giving up at once.
    assert!(t.contains("s (--timeout)"), "{t}");
    eprintln!("gave up after {waited:?}");
    assert!(t.contains("lock held by berth@"), "{t}");
    drop(sim);
}
