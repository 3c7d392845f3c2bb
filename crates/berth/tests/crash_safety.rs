//! Crash safety: kill `berth install` / `berth upgrade` at random points, then run the same
//! command again and check that it converges with no manual step and nothing orphaned: the
//! cluster holds exactly the objects of the deployed revision, every revision is settled, and
//! the lock is released. Runs against the simulator over HTTP with the real `berth` binary.
//!
//! Two kinds of kill, interleaved: most runs end themselves just before a chosen write to the
//! cluster (`BERTH_TEST_EXIT_AT_WRITE`, exit 137 as after SIGKILL), so every write point is
//! reached deterministically and cheaply (200 of them); every [`KILL_EVERY`]th run gets a real
//! SIGKILL at a random time instead, for the points between writes.

use berth_kube_sim::{SimOptions, Simulator};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TRIALS: usize = 240;
const KILL_EVERY: usize = 6;
/// Write points tried by the exit trials: an install or upgrade of this app sends about 24
/// writes (the lock, revisions, 18 objects, prunes), so the last few points let it finish.
const WRITE_POINTS: u64 = 28;
const APP: &str = "crash";
const NS: &str = "crash";

/// A tiny deterministic PRNG (xorshift), seeded from the clock; the seed is printed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Objects of variant `v` (0 or 1): they differ by changed, added and removed objects.
fn objects(v: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for i in 0..12 {
        if v == 1 && i % 4 == 0 {
            continue; // removed in variant 1
        }
        out.push(("ConfigMap".to_string(), format!("cfg-{i}")));
    }
    if v == 1 {
        for i in 0..3 {
            out.push(("ConfigMap".to_string(), format!("extra-{i}")));
        }
    }
    out.push(("Deployment".to_string(), "web".to_string()));
    out.push(("Service".to_string(), "web".to_string()));
    out.push(("Secret".to_string(), "creds".to_string()));
    out
}

fn write_app(root: &Path, version: &str, v: usize) -> PathBuf {
    let dir = root.join(format!("app-{version}"));
    std::fs::create_dir_all(dir.join("manifests")).expect("app dir");
    std::fs::write(
        dir.join("berth.yaml"),
        format!(
            "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: {APP}\n  version: {version}\nspec:\n  components:\n    - name: main\n      manifests:\n        path: manifests\n"
        ),
    )
    .expect("berth.yaml");
    let mut docs = Vec::new();
    for (kind, name) in objects(v) {
        docs.push(match kind.as_str() {
            "ConfigMap" => format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  version: \"{version}\"\n  variant: \"{v}\"\n"),
            "Secret" => format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n  token: \"t-{v}\"\n"),
            "Service" => format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector: {{app: web}}\n  ports: [{{port: 80}}]\n"),
            _ => format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {}\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: busybox:1.{}\n", 1 + v, 30 + v),
        });
    }
    std::fs::write(dir.join("manifests/all.yaml"), docs.join("---\n")).expect("manifests");
    dir
}

fn berth(args: &[&str], kubeconfig: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
    c.args(args)
        .args([
            "--kubeconfig",
            &kubeconfig.display().to_string(),
            "-n",
            NS,
            "-o",
            "json",
            "--timeout",
            "60s",
        ])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Run to completion; panics with the output on failure.
fn run_ok(args: &[&str], kubeconfig: &Path) -> Value {
    let out = berth(args, kubeconfig).output().expect("berth runs");
    assert!(
        out.status.success(),
        "berth {args:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// The app's objects and bookkeeping in the cluster, read with kube-free HTTP via the simulator.
fn cluster_state(
    rt: &tokio::runtime::Runtime,
    kubeconfig: &Path,
) -> (BTreeSet<(String, String)>, Vec<String>, bool, String) {
    rt.block_on(async {
        let cluster = berth_deploy::Cluster::connect(&berth_deploy::ConnectOptions {
            kubeconfig: Some(kubeconfig.to_path_buf()),
            context: None,
        })
        .await
        .expect("connect");
        let sel = format!("berth.dev/app={APP}");
        let mut objs = BTreeSet::new();
        let mut statuses = Vec::new();
        let mut version = String::new();
        for (av, k) in [
            ("v1", "ConfigMap"),
            ("apps/v1", "Deployment"),
            ("v1", "Service"),
            ("v1", "Secret"),
        ] {
            for o in cluster.list(av, k, NS, Some(&sel)).await.expect("list") {
                if o.pointer("/metadata/labels/berth.dev~1kind").is_some() {
                    if o.pointer("/metadata/labels/berth.dev~1kind")
                        == Some(&Value::from("revision"))
                    {
                        // the stored status, not the engine's settled reading of it
                        let label = |k: &str| {
                            o.pointer(&format!("/metadata/labels/berth.dev~1{k}"))
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string()
                        };
                        statuses.push((
                            label("revision").parse::<u32>().unwrap_or(0),
                            label("status"),
                        ));
                    }
                    continue; // revision Secrets
                }
                if k == "ConfigMap" && o["metadata"]["name"] == "cfg-1" {
                    version = o["data"]["version"].as_str().unwrap_or("").to_string();
                }
                objs.insert((
                    k.to_string(),
                    o["metadata"]["name"].as_str().unwrap_or("").to_string(),
                ));
            }
        }
        let c2 = berth_deploy::Cluster::connect(&berth_deploy::ConnectOptions {
            kubeconfig: Some(kubeconfig.to_path_buf()),
            context: None,
        })
        .await
        .expect("connect");
        let lease = c2
            .get(&berth_deploy::object::ObjectRef {
                api_version: "coordination.k8s.io/v1".into(),
                kind: "Lease".into(),
                namespace: NS.into(),
                name: format!("berth.{APP}.lock"),
            })
            .await
            .expect("get lease")
            .is_some();
        statuses.sort();
        let statuses = statuses
            .into_iter()
            .map(|(n, s)| format!("{n}:{s}"))
            .collect();
        (objs, statuses, lease, version)
    })
}

/// How a trial's first run is cut short.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// The run ends itself just before its Nth write.
    AtWrite(u64),
    /// SIGKILL after this long.
    After(Duration),
}

#[test]
fn killed_installs_and_upgrades_converge_on_the_next_run() {
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
    let seed = std::env::var("BERTH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
        | 1;
    eprintln!("crash-safety seed {seed} (re-run with BERTH_CRASH_SEED={seed})");
    let mut rng = Rng(seed);

    // Measure one full install to know where "random points" lie.
    let app0 = write_app(dir.path(), "1.0.0", 0);
    let t = Instant::now();
    run_ok(&["install", &app0.display().to_string()], &kc);
    let full = t.elapsed().as_millis().max(200) as u64;
    run_ok(&["uninstall", APP, "--delete-data"], &kc);

    let mut installed = false;
    let mut cut_short = 0;
    let mut points = BTreeSet::new();
    // BERTH_CRASH_TRIALS shortens a local run; CI runs all of them.
    let trials = std::env::var("BERTH_CRASH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(TRIALS);
    let mut exits = 0;
    for trial in 0..trials {
        let version = format!("1.{}.0", trial + 1);
        let variant = trial % 2;
        let app = write_app(dir.path(), &version, variant);
        let verb = if installed { "upgrade" } else { "install" };
        let app_s = app.display().to_string();
        let cut = if trial % KILL_EVERY != KILL_EVERY - 1 {
            exits += 1;
            Cut::AtWrite(1 + rng.below(WRITE_POINTS))
        } else {
            Cut::After(Duration::from_millis(rng.below(full + full / 4)))
        };
        let mut cmd = berth(&[verb, &app_s], &kc);
        let finished_first = match cut {
            Cut::AtWrite(n) => {
                let out = cmd
                    .env("BERTH_TEST_EXIT_AT_WRITE", n.to_string())
                    .output()
                    .expect("berth runs");
                if out.status.code() == Some(137) {
                    points.insert(n);
                    false
                } else {
                    true
                }
            }
            Cut::After(delay) => {
                let mut child = cmd.spawn().expect("spawn berth");
                std::thread::sleep(delay);
                let done = matches!(child.try_wait(), Ok(Some(_)));
                let _ = child.kill();
                let _ = child.wait();
                done
            }
        };
        if !finished_first {
            cut_short += 1;
        }
        let ctx = format!("trial {trial} (seed {seed}, {verb} cut {cut:?})");
        // The same command again: converges without any manual step.
        let report = run_ok(&[verb, &app_s], &kc);
        let outcome = report["outcome"].as_str().unwrap_or("");
        assert!(
            outcome == "deployed" || outcome == "unchanged",
            "{ctx}: {report}"
        );
        installed = true;
        let (objs, statuses, lease, live_version) = cluster_state(&rt, &kc);
        let want: BTreeSet<(String, String)> = objects(variant).into_iter().collect();
        assert_eq!(
            objs, want,
            "{ctx}: the cluster must hold exactly the new revision's objects"
        );
        assert!(
            !statuses.iter().any(|s| s.ends_with(":pending")),
            "{ctx}: unsettled revisions {statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| s.ends_with(":deployed")).count(),
            1,
            "{ctx}: stored statuses {statuses:?}\nhistory: {}",
            run_ok(&["history", APP], &kc)
        );
        assert!(!lease, "{ctx}: the lock was not released");
        assert_eq!(
            live_version, version,
            "{ctx}: the objects carry the new version"
        );
    }
    // The objects are ready and status agrees.
    let st = run_ok(&["status", APP], &kc);
    assert!(
        st["objects"]
            .as_array()
            .is_some_and(|a| a.iter().all(|o| o["state"] == "ready")),
        "{st}"
    );
    eprintln!(
        "{} trials, {cut_short} cut short; write points reached: {points:?}",
        trials
    );
    assert!(
        points.len() >= 15.min(exits / 4),
        "too few distinct write points were cut ({points:?}); WRITE_POINTS is off"
    );
    assert!(
        cut_short >= exits / 2,
        "too few runs were cut short ({cut_short}); the model is off"
    );
    drop(sim);
}
