//! Crash safety: kill `berth install` / `berth upgrade` at random points, then run the same
//! command again and check that it converges with no manual step and nothing orphaned: the
//! cluster holds exactly the objects of the deployed revision, every revision is settled, and
//! the lock is released. Runs against the simulator over HTTP with the real `berth` binary.

use berth_kube_sim::{SimOptions, Simulator};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TRIALS: usize = 50;
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
) -> (BTreeSet<(String, String)>, Vec<String>, bool) {
    rt.block_on(async {
        let cluster = berth_deploy::Cluster::connect(&berth_deploy::ConnectOptions {
            kubeconfig: Some(kubeconfig.to_path_buf()),
            context: None,
        })
        .await
        .expect("connect");
        let sel = format!("berth.dev/app={APP}");
        let mut objs = BTreeSet::new();
        for (av, k) in [
            ("v1", "ConfigMap"),
            ("apps/v1", "Deployment"),
            ("v1", "Service"),
            ("v1", "Secret"),
        ] {
            for o in cluster.list(av, k, NS, Some(&sel)).await.expect("list") {
                if o.pointer("/metadata/labels/berth.dev~1kind").is_some() {
                    continue; // revision Secrets
                }
                objs.insert((
                    k.to_string(),
                    o["metadata"]["name"].as_str().unwrap_or("").to_string(),
                ));
            }
        }
        let engine = berth_deploy::Engine::new(
            std::sync::Arc::new(cluster),
            berth_deploy::Options {
                namespace: NS.into(),
                ..Default::default()
            },
            std::sync::Arc::new(berth_deploy::Quiet),
        );
        let statuses = engine
            .history(APP)
            .await
            .expect("history")
            .iter()
            .map(|h| h.status.as_str().to_string())
            .collect();
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
        (objs, statuses, lease)
    })
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
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    eprintln!("crash-safety seed {seed}");
    let mut rng = Rng(seed);

    // Measure one full install to know where "random points" lie.
    let app0 = write_app(dir.path(), "1.0.0", 0);
    let t = Instant::now();
    run_ok(&["install", &app0.display().to_string()], &kc);
    let full = t.elapsed().as_millis().max(200) as u64;
    run_ok(&["uninstall", APP, "--delete-data"], &kc);

    let mut installed = false;
    let mut kills_mid_run = 0;
    for trial in 0..TRIALS {
        let version = format!("1.{}.0", trial + 1);
        let variant = trial % 2;
        let app = write_app(dir.path(), &version, variant);
        let verb = if installed { "upgrade" } else { "install" };
        let app_s = app.display().to_string();
        // Kill somewhere between the start and the end of a typical run.
        let delay = Duration::from_millis(rng.below(full + full / 4));
        let mut child = berth(&[verb, &app_s], &kc).spawn().expect("spawn berth");
        std::thread::sleep(delay);
        let finished_first = matches!(child.try_wait(), Ok(Some(_)));
        if !finished_first {
            kills_mid_run += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        // The same command again: converges without any manual step.
        let report = run_ok(&[verb, &app_s], &kc);
        let outcome = report["outcome"].as_str().unwrap_or("");
        assert!(
            outcome == "deployed" || outcome == "unchanged",
            "trial {trial}: {report}"
        );
        installed = true;
        let (objs, statuses, lease) = cluster_state(&rt, &kc);
        let want: BTreeSet<(String, String)> = objects(variant).into_iter().collect();
        assert_eq!(
            objs, want,
            "trial {trial} (seed {seed}, killed after {delay:?}): the cluster must hold exactly the new revision's objects"
        );
        assert!(
            !statuses.iter().any(|s| s == "pending"),
            "trial {trial}: unsettled revisions {statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| *s == "deployed").count(),
            1,
            "trial {trial}: {statuses:?}"
        );
        assert!(!lease, "trial {trial}: the lock was not released");
        // The objects carry the new version.
        let st = run_ok(&["status", APP], &kc);
        assert_eq!(st["version"], version.as_str(), "trial {trial}");
        assert!(
            st["objects"]
                .as_array()
                .is_some_and(|a| a.iter().all(|o| o["state"] == "ready")),
            "trial {trial}: {st}"
        );
    }
    eprintln!("{TRIALS} trials, {kills_mid_run} killed mid-run");
    assert!(
        kills_mid_run >= TRIALS / 4,
        "too few kills landed mid-run ({kills_mid_run}); the timing model is off"
    );
    drop(sim);
}
