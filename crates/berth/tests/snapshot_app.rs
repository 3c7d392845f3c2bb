//! App snapshots through the real binary against the simulator: `berth snapshot create -n`
//! backs up examples/hello (objects, revision, the database claim's files via a mover Job
//! that the simulated kubelet runs as a process of this very binary), the namespace is
//! deleted (its volume directory goes with it), `restore -n` brings it back into a new
//! namespace; objects and file contents must match. Bad input names its fix.

use berth_deploy::object::ObjectRef;
use berth_deploy::{Cluster, ConnectOptions};
use berth_kube_sim::{SimOptions, Simulator};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A throwaway PostgreSQL server (BERTH_TEST_POSTGRES_BIN) for the pg_dump exec hook.
#[path = "../../berth-vendor/tests/pg/mod.rs"]
mod pg;
#[path = "../../../testing/tool.rs"]
mod tool;

const PASSWORD: &str = "app snapshot test password";

struct Env {
    rt: tokio::runtime::Runtime,
    sim: Option<Simulator>,
    dir: tempfile::TempDir,
    kc: PathBuf,
}

impl Env {
    fn new(mover: bool) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let sim = rt
            .block_on(Simulator::start(SimOptions::default()))
            .expect("simulator");
        sim.set_mover_bin(mover.then(|| PathBuf::from(env!("CARGO_BIN_EXE_berth"))));
        let dir = tempfile::tempdir().expect("tempdir");
        let kc = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kc).expect("kubeconfig");
        Env {
            rt,
            sim: Some(sim),
            dir,
            kc,
        }
    }

    fn repo(&self) -> String {
        self.dir.path().join("repo").display().to_string()
    }

    fn berth(&self, args: &[&str]) -> Output {
        self.berth_pw(args, PASSWORD)
    }

    /// berth ARGS --kubeconfig KC (commands that reach the cluster).
    fn berth_pw(&self, args: &[&str], password: &str) -> Output {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let cluster_cmd = args.first() != Some(&"snapshot")
            || matches!(
                args.get(1),
                Some(&"create") | Some(&"restore") | Some(&"schedule") | Some(&"unschedule")
            );
        if cluster_cmd {
            all.push("--kubeconfig".into());
            all.push(self.kc.display().to_string());
        }
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(&all)
            .env("NO_COLOR", "1")
            .env("BERTH_REPO_PASSWORD", password)
            .env_remove("BERTH_REPO")
            .output()
            .expect("berth runs")
    }

    fn snap(&self, args: &[&str]) -> Output {
        let mut all = vec!["snapshot"];
        all.extend_from_slice(args);
        let repo = self.repo();
        all.extend_from_slice(&["--repo", &repo]);
        self.berth(&all)
    }

    fn cluster(&self) -> Cluster {
        self.rt
            .block_on(Cluster::connect(&ConnectOptions {
                kubeconfig: Some(self.kc.clone()),
                context: None,
            }))
            .expect("connect")
    }

    fn get(&self, api: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let r = ObjectRef {
            api_version: api.into(),
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
        };
        self.rt.block_on(self.cluster().get(&r)).expect("get")
    }

    fn list(&self, api: &str, kind: &str, ns: &str) -> Vec<Value> {
        self.rt
            .block_on(self.cluster().list(api, kind, ns, None))
            .expect("list")
    }

    /// The directory of the volume bound to `claim` in `ns`.
    fn claim_dir(&self, ns: &str, claim: &str) -> PathBuf {
        let pvc = self
            .get("v1", "PersistentVolumeClaim", ns, claim)
            .expect("claim exists");
        let pv_name = pvc["spec"]["volumeName"].as_str().expect("bound");
        let pv = self
            .get("v1", "PersistentVolume", "", pv_name)
            .expect("volume exists");
        PathBuf::from(pv["spec"]["hostPath"]["path"].as_str().expect("hostPath"))
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(sim) = self.sim.take() {
            self.rt.block_on(sim.shutdown());
        }
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn hello() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/hello")
        .display()
        .to_string()
}

/// Every file (contents) and link (target) below `root`, by relative path.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).min_depth(1) {
        let e = e.expect("walk");
        let rel = e
            .path()
            .strip_prefix(root)
            .expect("below root")
            .display()
            .to_string();
        if e.file_type().is_symlink() {
            let t = std::fs::read_link(e.path()).expect("link");
            out.insert(format!("{rel} ->"), t.display().to_string().into_bytes());
        } else if e.file_type().is_file() {
            out.insert(rel, std::fs::read(e.path()).expect("read"));
        } else {
            out.insert(format!("{rel}/"), Vec::new());
        }
    }
    out
}

/// What must survive a restore: the parts of each object a user wrote.
fn essence(env: &Env, ns: &str) -> Vec<(String, Value)> {
    let pick = |api: &str, kind: &str, name: &str, field: &str| {
        let o = env
            .get(api, kind, ns, name)
            .unwrap_or_else(|| panic!("{kind}/{name} missing in {ns}"));
        (format!("{kind}/{name}.{field}"), o[field].clone())
    };
    vec![
        pick("v1", "Secret", "hello-db", "data"),
        pick("v1", "ConfigMap", "hello", "data"),
        pick("apps/v1", "Deployment", "hello", "spec"),
        pick("apps/v1", "StatefulSet", "hello-postgresql", "spec"),
        pick("networking.k8s.io/v1", "Ingress", "hello", "spec"),
    ]
}

fn wait_gone(env: &Env, dir: &Path) {
    let start = Instant::now();
    while env.get("v1", "Namespace", "", "hello").is_some() || dir.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "namespace hello and its volume {} are still there",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_app_snapshot_restores_into_a_new_namespace_with_its_objects_and_volume_files() {
    let env = Env::new(true);
    let out = env.berth(&["install", &hello(), "-n", "hello", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let claim = "data-hello-postgresql-0";
    let dir = env.claim_dir("hello", claim);
    std::fs::create_dir_all(dir.join("base/1")).expect("mkdir");
    std::fs::write(dir.join("PG_VERSION"), "16\n").expect("write");
    let big: Vec<u8> = (0..700_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(dir.join("base/1/16384"), &big).expect("write");
    std::fs::write(dir.join("base/empty"), b"").expect("write");
    std::os::unix::fs::symlink("PG_VERSION", dir.join("version-link")).expect("link");
    let before = tree(&dir);
    let objects_before = essence(&env, "hello");

    let out = env.snap(&["init", "--kdf-memory-mib", "8"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.snap(&["create", "-n", "hello", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let rep: Value = serde_json::from_slice(&out.stdout).expect("json report");
    let id = rep["snapshot_id"].as_str().expect("id").to_string();
    assert_eq!(rep["app"], "hello");
    assert_eq!(rep["claims"][0]["name"], claim);
    assert_eq!(rep["claims"][0]["files"], 3, "{rep}");

    // One snapshot (the mover's volume snapshot was folded in), tagged; no Job or Secret left.
    let out = env.snap(&["list", "-o", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).expect("list json");
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let tags = list[0]["tags"].to_string();
    for t in [
        "berth.dev/kind=app",
        "berth.dev/namespace=hello",
        "berth.dev/app=hello",
        "berth.dev/version=1.0.0",
        "berth.dev/revision=1",
    ] {
        assert!(tags.contains(t), "{t} missing from {tags}");
    }
    let leftovers: Vec<String> = env
        .list("batch/v1", "Job", "hello")
        .iter()
        .chain(env.list("v1", "Secret", "hello").iter())
        .filter_map(|o| o["metadata"]["name"].as_str().map(String::from))
        .filter(|n| n.starts_with("berth-mover-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The repository holds the Secret's value only encrypted.
    use base64::Engine as _;
    let encoded = objects_before[0].1["password"]
        .as_str()
        .expect("password")
        .to_string();
    let plain = base64::engine::general_purpose::STANDARD
        .decode(&encoded)
        .expect("base64");
    assert!(plain.len() >= 8, "a generated password");
    for e in walkdir::WalkDir::new(env.repo()) {
        let e = e.expect("walk");
        if e.file_type().is_file() {
            let bytes = std::fs::read(e.path()).expect("read");
            for needle in [plain.as_slice(), encoded.as_bytes()] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{} holds the Secret's value in plaintext",
                    e.path().display()
                );
            }
        }
    }

    // Break it: the namespace goes, and with it the claim's volume directory.
    let r = ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: String::new(),
        name: "hello".into(),
    };
    env.rt.block_on(env.cluster().delete(&r)).expect("delete");
    wait_gone(&env, &dir);

    let out = env.snap(&[
        "restore",
        &id[..8],
        "-n",
        "hello-restored",
        "--timeout",
        "60s",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(claim), "{}", text(&out));
    let out = env.berth(&["status", "hello", "-n", "hello-restored"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("revision 1 (deployed)"),
        "{}",
        text(&out)
    );

    let new_dir = env.claim_dir("hello-restored", claim);
    assert_ne!(new_dir, dir);
    assert_eq!(tree(&new_dir), before, "volume files differ after restore");
    let mut objects_after = essence(&env, "hello-restored");
    let mut expected = objects_before.clone();
    // The StatefulSet's serviceName etc. are namespace-free; nothing else may differ.
    objects_after.sort_by(|a, b| a.0.cmp(&b.0));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(objects_after, expected);

    // Restoring over the installed app is refused and changes nothing.
    std::fs::write(new_dir.join("PG_VERSION"), "changed after restore\n").expect("write");
    let out = env.snap(&["restore", &id[..8], "-n", "hello-restored"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--force"), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(new_dir.join("PG_VERSION")).expect("read"),
        "changed after restore\n"
    );
    // With --force the objects are re-applied and the existing claim keeps its data.
    let out = env.snap(&["restore", &id[..8], "-n", "hello-restored", "--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("kept its data"), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(new_dir.join("PG_VERSION")).expect("read"),
        "changed after restore\n"
    );
    let out = env.snap(&["check", "--read-data"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn bad_input_and_a_failing_mover_name_the_fix() {
    // No mover binary: the simulated kubelet fails the mover container with exit code 127.
    let env = Env::new(false);
    let out = env.snap(&["init", "--kdf-memory-mib", "8"]);
    assert!(out.status.success(), "{}", text(&out));

    let out = env.snap(&["create", "-n", "nothing-here"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(
        text(&out).contains("no app is installed in namespace nothing-here"),
        "{}",
        text(&out)
    );

    let out = env.snap(&["restore", "0123abcd", "-n", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("berth snapshot list"), "{}", text(&out));

    let repo = env.repo();
    let out = env.berth_pw(&["snapshot", "create", "-n", "x", "--repo", &repo], "wrong");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("BERTH_REPO_PASSWORD"), "{}", text(&out));

    let key = env.dir.path().join("k.key");
    let out = env.snap(&[
        "create",
        "-n",
        "x",
        "--key-file",
        &key.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--password-file"), "{}", text(&out));

    // The mover pods could not open an SFTP store (no key file or known hosts in a pod).
    let out = env.berth(&[
        "snapshot",
        "create",
        "-n",
        "x",
        "--repo",
        "sftp://backup@127.0.0.1:22/srv/hello",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("sftp:// repositories"),
        "{}",
        text(&out)
    );

    // A directory snapshot is not an app snapshot.
    let data = env.dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(data.join("f"), "x").expect("write");
    let out = env.snap(&[
        "create",
        "--path",
        &data.display().to_string(),
        "-o",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let id = serde_json::from_slice::<Value>(&out.stdout).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let out = env.snap(&["restore", &id, "-n", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--target DIR"), "{}", text(&out));

    // The mover fails: the error names the Job, the claim and the cause; nothing is left.
    let out = env.berth(&["install", &hello(), "-n", "hello", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.snap(&["create", "-n", "hello", "--timeout", "60s"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("job/berth-mover-") && t.contains("data-hello-postgresql-0"),
        "{t}"
    );
    assert!(
        t.contains("exit code 127") && t.contains("BERTH_SIM_MOVER_BIN"),
        "{t}"
    );
    assert!(!t.contains(PASSWORD), "{t}");
    let out = env.snap(&["list", "-o", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).expect("list json");
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(1),
        "only the directory snapshot: {list}"
    );
    let leftovers = env
        .list("batch/v1", "Job", "hello")
        .iter()
        .chain(env.list("v1", "Secret", "hello").iter())
        .filter(|o| {
            o["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("berth-mover-"))
        })
        .count();
    assert_eq!(leftovers, 0);
}

fn snapshots(env: &Env) -> Vec<Value> {
    let out = env.snap(&["list", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice::<Value>(&out.stdout)
        .expect("list json")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn has_tag(s: &Value, tag: &str) -> bool {
    s["tags"]
        .as_array()
        .is_some_and(|t| t.iter().any(|x| x == tag))
}

const SCHEDULE: &str = "berth-snapshot-hello";

fn schedule_objects(env: &Env) -> Vec<String> {
    [
        ("v1", "Secret"),
        ("v1", "ServiceAccount"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("batch/v1", "CronJob"),
    ]
    .iter()
    .filter(|(a, k)| env.get(a, k, "hello", SCHEDULE).is_some())
    .map(|(_, k)| k.to_string())
    .collect()
}

#[test]
fn a_schedule_fires_in_the_cluster_snapshots_the_app_and_applies_its_retention() {
    let env = Env::new(true);
    let out = env.berth(&["install", &hello(), "-n", "hello", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let claim = "data-hello-postgresql-0";
    let dir = env.claim_dir("hello", claim);
    std::fs::write(dir.join("PG_VERSION"), "16\n").expect("write");
    let out = env.snap(&["init", "--kdf-memory-mib", "8"]);
    assert!(out.status.success(), "{}", text(&out));

    // A bad schedule names the field and writes nothing (no password needed to find out).
    let repo = env.repo();
    let out = env.berth_pw(
        &[
            "snapshot",
            "schedule",
            "-n",
            "hello",
            "--repo",
            &repo,
            "--cron",
            "0 25 * * *",
            "--keep-daily",
            "7",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("the hour field (2nd) is \"25\": 25 is outside 0-23"),
        "{}",
        text(&out)
    );
    assert!(schedule_objects(&env).is_empty());

    // Something for the retention to act on: an older app snapshot of hello, and a
    // directory snapshot that is not the schedule's to forget.
    let out = env.snap(&["create", "-n", "hello", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let older: Value = serde_json::from_slice(&out.stdout).expect("json");
    let older = older["snapshot_id"].as_str().expect("id").to_string();
    let data = env.dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(data.join("f"), "x").expect("write");
    let out = env.snap(&["create", "--path", &data.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out));

    let sched = |cron: &str, keep: &[&str]| {
        let mut args = vec!["schedule", "-n", "hello", "--cron", cron];
        args.extend_from_slice(keep);
        env.snap(&args)
    };
    let out = sched("0 3 * * *", &["--keep-daily", "7", "--keep-last", "2"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        schedule_objects(&env),
        ["Secret", "ServiceAccount", "Role", "RoleBinding", "CronJob"]
    );
    // Running it again replaces the schedule: one CronJob, the new cron and retention.
    let out = sched("30 2 * * *", &["--keep-last", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    let cronjobs = env.list("batch/v1", "CronJob", "hello");
    assert_eq!(cronjobs.len(), 1);
    let cj = &cronjobs[0];
    assert_eq!(cj["spec"]["schedule"], "30 2 * * *");
    assert!(!cj.to_string().contains(PASSWORD), "{cj}");
    let out = env.berth(&["snapshot", "schedule", "-n", "hello", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(shown["cron"], "30 2 * * *");
    assert_eq!(shown["retention"], "keep-last=1");
    assert_eq!(shown["app"], "hello");
    // The run's rights: namespaced, and reading the app's own kinds.
    let role = env
        .get("rbac.authorization.k8s.io/v1", "Role", "hello", SCHEDULE)
        .expect("role");
    let rules = role["rules"].to_string();
    assert!(rules.contains("\"statefulsets\""), "{rules}");
    assert!(rules.contains("\"jobs\""), "{rules}");
    assert!(!rules.contains("\"*\""), "{rules}");
    let binding = env
        .get(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "hello",
            SCHEDULE,
        )
        .expect("binding");
    assert_eq!(binding["subjects"][0]["name"], SCHEDULE);

    // Fire it now (the simulator's run-now annotation) and wait for its snapshot.
    let scheduled = fire_schedule(&env);
    for t in [
        "berth.dev/kind=app",
        "berth.dev/app=hello",
        "berth.dev/namespace=hello",
    ] {
        assert!(has_tag(&scheduled, t), "{t} missing: {scheduled}");
    }
    let id = scheduled["id"].as_str().expect("id");
    let out = env.snap(&["show", id, "-o", "json"]);
    let shown: Value = serde_json::from_slice(&out.stdout).expect("json");
    let paths: Vec<&str> = shown["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert!(
        paths.contains(&format!("volumes/{claim}/PG_VERSION").as_str()),
        "{paths:?}"
    );
    assert!(paths.contains(&"app/revision.json"), "{paths:?}");
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("app/objects/apps/StatefulSet/")),
        "{paths:?}"
    );
    // The retention (keep-last 1) forgot the older snapshot of hello, not the directory one.
    let start = Instant::now();
    loop {
        let all = snapshots(&env);
        let ids: Vec<&str> = all.iter().filter_map(|s| s["id"].as_str()).collect();
        if !ids.contains(&older.as_str()) {
            assert_eq!(all.len(), 2, "{all:?}");
            assert!(all.iter().any(|s| has_tag(s, "berth.dev/kind=app")));
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{all:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = env.snap(&["check", "--read-data"]);
    assert!(out.status.success(), "{}", text(&out));
    // --list reports the run.
    let start = Instant::now();
    loop {
        let out = env.berth(&[
            "snapshot", "schedule", "-n", "hello", "--list", "-o", "json",
        ]);
        assert!(out.status.success(), "{}", text(&out));
        let shown: Value = serde_json::from_slice(&out.stdout).expect("json");
        if shown["last_successful_time"].is_string() {
            assert!(shown["last_schedule_time"].is_string(), "{shown}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{shown}");
        std::thread::sleep(Duration::from_millis(300));
    }

    // --remove deletes all five; a second removal says there is nothing to remove.
    let out = env.snap(&["schedule", "-n", "hello", "--remove"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        schedule_objects(&env).is_empty(),
        "{:?}",
        schedule_objects(&env)
    );
    let out = env.berth(&["snapshot", "unschedule", "-n", "hello"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(
        text(&out).contains("no snapshot schedule"),
        "{}",
        text(&out)
    );
}

/// Installs `secret/berth-license` in namespace hello, as `berth install --license` does.
fn install_license(env: &Env, snapshots: bool) {
    use base64::Engine as _;
    let spec = berth_license::Spec {
        license_id: "lic-snapshots-test".into(),
        app: "hello".into(),
        customer: "acme".into(),
        vendor_url: "http://127.0.0.1:9".into(),
        channels: vec!["stable".into()],
        license_type: berth_license::LicenseType::Paid,
        issued_at: "2026-12-01T00:00:00Z".parse().expect("time"),
        expires_at: None,
        airgap: false,
        snapshots,
        support_bundle_upload: false,
        cluster_id: None,
        entitlements: BTreeMap::new(),
        credential: "ab".repeat(32),
    };
    let key = berth_oci::keys::SigningKey::from_bytes(&[9; 32]);
    let yaml = berth_license::sign(spec, &key).to_yaml();
    let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "berth-license", "namespace": "hello"}, "type": "Opaque",
        "data": {"license.yaml": base64::engine::general_purpose::STANDARD.encode(yaml)}});
    env.rt
        .block_on(env.cluster().apply(&secret, "", true))
        .expect("license secret");
}

#[test]
fn app_snapshots_need_a_license_that_grants_them_when_a_license_is_installed() {
    let env = Env::new(true);
    let out = env.berth(&["install", &hello(), "-n", "hello", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.snap(&["init", "--kdf-memory-mib", "8"]);
    assert!(out.status.success(), "{}", text(&out));

    install_license(&env, false);
    let out = env.snap(&["create", "-n", "hello"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("lic-snapshots-test for acme) does not include snapshots"),
        "{}",
        text(&out)
    );
    let out = env.snap(&["schedule", "-n", "hello", "--cron", "@daily"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("does not include snapshots"),
        "{}",
        text(&out)
    );
    // Refused before anything was written: no snapshot, no Job, no schedule.
    assert!(snapshots(&env).is_empty());
    assert!(env.list("batch/v1", "Job", "hello").is_empty());
    assert!(schedule_objects(&env).is_empty());

    install_license(&env, true);
    let out = env.snap(&["create", "-n", "hello", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(snapshots(&env).len(), 1);
}

/// examples/hello copied, with `spec.snapshot.hooks` appended.
fn hello_with_hooks(env: &Env, name: &str, hooks: &str) -> String {
    let dst = env.dir.path().join(name);
    let st = Command::new("cp")
        .args(["-r", &hello(), &dst.display().to_string()])
        .status()
        .expect("cp");
    assert!(st.success());
    let f = dst.join("berth.yaml");
    let mut text = std::fs::read_to_string(&f).expect("read");
    text.push_str("\n  snapshot:\n    hooks:\n");
    text.push_str(hooks);
    std::fs::write(&f, text).expect("write");
    dst.display().to_string()
}

#[test]
fn snapshot_hooks_run_as_jobs_before_and_after_the_copy_and_a_failing_one_stops_it() {
    let env = Env::new(true);
    let mover = format!(
        "registry.berth.dev/berth/mover:{}",
        env!("CARGO_PKG_VERSION")
    );
    // The pre hook writes files into the database's volume (berth's own image: `berth init`
    // writes a starter app), so the copy must hold them.
    let hooks = format!(
        "      pre:\n        - name: dump\n          job:\n            image: {mover}\n            command: [/berth, init, /dump/starter]\n            mounts:\n              - claim: data-hello-postgresql-0\n                mountPath: /dump\n      post:\n        - name: resume\n          job:\n            image: {mover}\n            command: [/berth, schema]\n"
    );
    let app = hello_with_hooks(&env, "hello-hooks", &hooks);
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["lint", &app])
        .output()
        .expect("lint");
    assert!(out.status.success(), "{}", text(&out));
    let out = env.berth(&["install", &app, "-n", "hello", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.snap(&["init", "--kdf-memory-mib", "8"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.snap(&["create", "-n", "hello", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let rep: Value = serde_json::from_slice(&out.stdout).expect("json");
    let ran: Vec<String> = rep["hooks"]
        .as_array()
        .expect("hooks")
        .iter()
        .map(|h| format!("{}/{}:{}", h["phase"], h["name"], h["outcome"]).replace('"', ""))
        .collect();
    assert_eq!(ran, ["pre/dump:succeeded", "post/resume:succeeded"]);
    let id = rep["snapshot_id"].as_str().expect("id").to_string();
    let out = env.snap(&["show", &id, "-o", "json"]);
    let shown: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        has_tag(&shown, "berth.dev/hooks=pre/dump,post/resume"),
        "{}",
        shown["tags"]
    );
    let paths: Vec<&str> = shown["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert!(
        paths.contains(&"volumes/data-hello-postgresql-0/starter/berth.yaml"),
        "{paths:?}"
    );
    assert!(paths.contains(&"app/hooks.json"), "{paths:?}");
    // Successful hook Jobs are gone.
    assert!(env.list("batch/v1", "Job", "hello").iter().all(|j| {
        !j["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .starts_with("berth-hook-")
    }));

    // A failing pre hook stops the snapshot: the error names the hook, its Job, the cause
    // and its logs; no snapshot is written and no mover ran.
    let hooks = format!(
        "      pre:\n        - name: broken\n          job:\n            image: {mover}\n            command: [/berth, lint, /nowhere/app]\n"
    );
    let app = hello_with_hooks(&env, "hello-broken", &hooks);
    let out = env.berth(&["upgrade", &app, "-n", "hello", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.snap(&["create", "-n", "hello"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("the pre-snapshot hook broken"), "{t}");
    assert!(
        t.contains("job/berth-hook-") && t.contains("exit code"),
        "{t}"
    );
    assert!(t.contains("/nowhere/app"), "{t}");
    assert!(t.contains("kubectl -n hello logs job/berth-hook-"), "{t}");
    assert_eq!(snapshots(&env).len(), 1);
    let jobs: Vec<String> = env
        .list("batch/v1", "Job", "hello")
        .iter()
        .filter_map(|j| j["metadata"]["name"].as_str().map(String::from))
        .collect();
    assert!(
        !jobs.iter().any(|j| j.starts_with("berth-mover-")),
        "{jobs:?}"
    );
    assert!(
        jobs.iter().any(|j| j.starts_with("berth-hook-")),
        "{jobs:?}"
    );
}

/// Whether the schedule's Role lets its run read `resource` of `group`.
fn role_reads(env: &Env, group: &str, resource: &str) -> bool {
    let role = env
        .get("rbac.authorization.k8s.io/v1", "Role", "hello", SCHEDULE)
        .expect("role");
    role["rules"].as_array().is_some_and(|rules| {
        rules.iter().any(|r| {
            r["apiGroups"]
                .as_array()
                .is_some_and(|g| g.iter().any(|x| x == group))
                && r["resources"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == resource))
        })
    })
}

#[test]
fn an_upgrade_that_adds_a_kind_extends_the_schedules_role_and_a_rollback_narrows_it() {
    let env = Env::new(true);
    let out = env.berth(&["install", &hello(), "-n", "hello", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.snap(&["init", "--kdf-memory-mib", "8"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.snap(&["schedule", "-n", "hello", "--cron", "@daily"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(role_reads(&env, "apps", "statefulsets"));
    assert!(!role_reads(&env, "networking.k8s.io", "networkpolicies"));

    // Version 2 adds a NetworkPolicy: the upgrade gives the schedule the right to read it.
    let app = env.dir.path().join("hello-netpol");
    let st = Command::new("cp")
        .args(["-r", &hello(), &app.display().to_string()])
        .status()
        .expect("cp");
    assert!(st.success());
    std::fs::write(
        app.join("chart/templates/netpol.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: hello-db\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n",
    )
    .expect("write");
    let out = env.berth(&[
        "upgrade",
        &app.display().to_string(),
        "-n",
        "hello",
        "--timeout",
        "60s",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(role_reads(&env, "networking.k8s.io", "networkpolicies"));

    // Back to revision 1: the Role follows.
    let out = env.berth(&["rollback", "hello", "-n", "hello", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!role_reads(&env, "networking.k8s.io", "networkpolicies"));
    assert!(role_reads(&env, "apps", "statefulsets"));
}

/// The database pod of examples/hello.
const DB_SELECTOR: &str = "{app.kubernetes.io/component: database}";

#[test]
fn exec_hooks_run_in_the_database_pod_and_what_they_write_is_in_the_snapshot() {
    if berth_bwrap().is_none() {
        return;
    }
    let env = Env::new(true);
    // The pre hook writes a checksum of the database password (the container's env, from its
    // Secret) into the database's volume through its mount path; the post hook marks the
    // volume after the copy.
    let hooks = format!(
        "      pre:\n        - name: dump\n          exec:\n            selector: {DB_SELECTOR}\n            container: postgresql\n            command: [sh, -c, 'printf %s \"$POSTGRES_PASSWORD\" | sha256sum > /var/lib/postgresql/data/dump.sha256 && echo dumped for $POSTGRES_USER']\n      post:\n        - name: resume\n          exec:\n            selector: {DB_SELECTOR}\n            command: [touch, /var/lib/postgresql/data/resumed]\n"
    );
    let app = hello_with_hooks(&env, "hello-exec", &hooks);
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["lint", &app])
        .output()
        .expect("lint");
    assert!(out.status.success(), "{}", text(&out));
    let out = env.berth(&["install", &app, "-n", "hello", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let claim = "data-hello-postgresql-0";
    let dir = env.claim_dir("hello", claim);
    let out = env.snap(&["init", "--kdf-memory-mib", "8"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.snap(&["create", "-n", "hello", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let rep: Value = serde_json::from_slice(&out.stdout).expect("json");
    let ran: Vec<String> = rep["hooks"]
        .as_array()
        .expect("hooks")
        .iter()
        .map(|h| {
            format!(
                "{}/{}:{}@{}/{}",
                h["phase"], h["name"], h["outcome"], h["pod"], h["container"]
            )
            .replace('"', "")
        })
        .collect();
    assert_eq!(
        ran,
        [
            "pre/dump:succeeded@hello-postgresql-0/postgresql",
            "post/resume:succeeded@hello-postgresql-0/postgresql"
        ]
    );
    // The hook's output is printed.
    assert!(
        text(&out).contains("pre-snapshot hook dump | dumped for hello"),
        "{}",
        text(&out)
    );

    // The dump is the password's checksum, on the volume and in the snapshot.
    use base64::Engine as _;
    use sha2::Digest as _;
    let secret = env
        .get("v1", "Secret", "hello", "hello-db")
        .expect("secret");
    let password = base64::engine::general_purpose::STANDARD
        .decode(secret["data"]["password"].as_str().expect("password"))
        .expect("base64");
    let digest: String = sha2::Sha256::digest(&password)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let want = format!("{digest}  -\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("dump.sha256")).expect("the dump on the volume"),
        want
    );
    assert!(dir.join("resumed").exists(), "the post hook ran");
    let id = rep["snapshot_id"].as_str().expect("id").to_string();
    let out = env.snap(&["show", &id, "-o", "json"]);
    let shown: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        has_tag(&shown, "berth.dev/hooks=pre/dump,post/resume"),
        "{}",
        shown["tags"]
    );

    // Restored into a new namespace, the volume holds the dump.
    let r = ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: String::new(),
        name: "hello".into(),
    };
    env.rt.block_on(env.cluster().delete(&r)).expect("delete");
    wait_gone(&env, &dir);
    let out = env.snap(&["restore", &id[..8], "-n", "hello-back", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let back = env.claim_dir("hello-back", claim);
    assert_eq!(
        std::fs::read_to_string(back.join("dump.sha256")).expect("the dump restored"),
        want
    );
}

#[test]
fn a_failing_exec_hook_stops_the_snapshot_and_the_post_hooks_still_run() {
    if berth_bwrap().is_none() {
        return;
    }
    let env = Env::new(true);
    let hooks = format!(
        "      pre:\n        - name: checkpoint\n          exec:\n            selector: {DB_SELECTOR}\n            command: [sh, -c, 'echo checkpoint refused >&2; exit 7']\n      post:\n        - name: resume\n          exec:\n            selector: {DB_SELECTOR}\n            command: [touch, /var/lib/postgresql/data/resumed]\n"
    );
    let app = hello_with_hooks(&env, "hello-exec-fails", &hooks);
    let out = env.berth(&["install", &app, "-n", "hello", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let dir = env.claim_dir("hello", "data-hello-postgresql-0");
    let out = env.snap(&["init", "--kdf-memory-mib", "8"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.snap(&["create", "-n", "hello"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("the pre-snapshot hook checkpoint"), "{t}");
    assert!(t.contains("exited with code 7"), "{t}");
    assert!(t.contains("checkpoint refused"), "{t}");
    assert!(t.contains("pod/hello-postgresql-0"), "{t}");
    assert!(dir.join("resumed").exists(), "the post hook ran: {t}");
    assert!(snapshots(&env).is_empty(), "nothing was recorded");
    let movers = env
        .list("batch/v1", "Job", "hello")
        .iter()
        .filter(|j| {
            j["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .starts_with("berth-mover-")
        })
        .count();
    assert_eq!(movers, 0, "no volume was copied");

    // A selector no pod matches is named in the error.
    let hooks = "      pre:\n        - name: dump\n          exec:\n            selector: {app: no-such-pod}\n            command: [\"true\"]\n";
    let app = hello_with_hooks(&env, "hello-exec-nopod", hooks);
    let out = env.berth(&["upgrade", &app, "-n", "hello", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.snap(&["create", "-n", "hello"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("no running and ready pod in namespace hello has the labels app=no-such-pod"),
        "{t}"
    );
    assert!(snapshots(&env).is_empty());

    // A container the pod does not have is named with the ones it has.
    let hooks = format!(
        "      pre:\n        - name: dump\n          exec:\n            selector: {DB_SELECTOR}\n            container: nope\n            command: [\"true\"]\n"
    );
    let app = hello_with_hooks(&env, "hello-exec-nocontainer", &hooks);
    let out = env.berth(&["upgrade", &app, "-n", "hello", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.snap(&["create", "-n", "hello"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("pod/hello-postgresql-0 has no container nope (it has: postgresql)"),
        "{t}"
    );

    // timeoutSeconds ends a command that runs too long.
    let hooks = format!(
        "      pre:\n        - name: slow\n          timeoutSeconds: 1\n          exec:\n            selector: {DB_SELECTOR}\n            command: [sleep, \"600\"]\n"
    );
    let app = hello_with_hooks(&env, "hello-exec-slow", &hooks);
    let out = env.berth(&["upgrade", &app, "-n", "hello", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.snap(&["create", "-n", "hello"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("the pre-snapshot hook slow") && t.contains("did not end within 1s"),
        "{t}"
    );
    assert!(snapshots(&env).is_empty());

    // A schedule of an app with exec hooks may exec into its pods.
    let out = env.snap(&["schedule", "-n", "hello", "--cron", "@daily"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(role_reads(&env, "", "pods/exec"));
}

/// bubblewrap, which the simulator runs exec'd commands in (scripts/setup.d/25-exec.sh).
fn berth_bwrap() -> Option<PathBuf> {
    tool::program_on_path("bwrap")
}

/// `psql` of BERTH_TEST_POSTGRES_BIN against `url`, its output (rows unaligned, tuples only).
fn psql(url: &str, sql_args: &[&str]) -> String {
    let bin = tool::tool("BERTH_TEST_POSTGRES_BIN").expect("BERTH_TEST_POSTGRES_BIN");
    let out = Command::new(bin.join("psql"))
        .args([url, "-v", "ON_ERROR_STOP=1", "-At"])
        .args(sql_args)
        .output()
        .expect("psql runs");
    assert!(out.status.success(), "psql {sql_args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_pg_dump_exec_hook_dumps_a_real_database_into_the_volume_and_the_dump_restores() {
    if berth_bwrap().is_none() {
        return;
    }
    let Some(bin) = tool::tool("BERTH_TEST_POSTGRES_BIN") else {
        return;
    };
    let db = pg::Postgres::start();
    let url = db.url();
    psql(
        &url,
        &[
            "-c",
            "create table items (id int primary key, name text); insert into items values (1, 'anchor'), (2, 'rope'), (3, 'sail')",
        ],
    );
    // The hook runs the host's pg_dump (the simulator has no image files) in the database
    // pod, writing into the pod's volume through its mount path.
    let port = url
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .expect("port");
    let hooks = format!(
        "      pre:\n        - name: pg-dump\n          exec:\n            selector: {DB_SELECTOR}\n            container: postgresql\n            command: [sh, -c, 'PGPASSWORD=vendor-pw {}/pg_dump -h 127.0.0.1 -p {port} -U postgres -f /var/lib/postgresql/data/dump.sql postgres && echo dump written']\n",
        bin.display()
    );
    let env = Env::new(true);
    let app = hello_with_hooks(&env, "hello-pg-dump", &hooks);
    let out = env.berth(&["install", &app, "-n", "hello", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let claim = "data-hello-postgresql-0";
    let dir = env.claim_dir("hello", claim);
    let out = env.snap(&["init", "--kdf-memory-mib", "8"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.snap(&["create", "-n", "hello", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("pre-snapshot hook pg-dump | dump written"),
        "{}",
        text(&out)
    );
    let rep: Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = rep["snapshot_id"].as_str().expect("id").to_string();
    let dump = std::fs::read_to_string(dir.join("dump.sql")).expect("the dump on the volume");
    assert!(dump.contains("CREATE TABLE public.items"), "{dump}");

    // Restore into a new namespace, then load the restored dump into a fresh database.
    let r = ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: String::new(),
        name: "hello".into(),
    };
    env.rt.block_on(env.cluster().delete(&r)).expect("delete");
    wait_gone(&env, &dir);
    let out = env.snap(&["restore", &id[..8], "-n", "hello-back", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let restored = env.claim_dir("hello-back", claim).join("dump.sql");
    assert_eq!(
        std::fs::read_to_string(&restored).expect("the dump restored"),
        dump
    );
    psql(&url, &["-c", "create database restored"]);
    let restored_url = url.replace("/postgres?", "/restored?");
    psql(&restored_url, &["-f", &restored.display().to_string()]);
    assert_eq!(
        psql(
            &restored_url,
            &["-c", "select id, name from items order by id"]
        ),
        "1|anchor\n2|rope\n3|sail\n"
    );
}

/// Fires the schedule now (the simulator's run-now annotation) and waits for the snapshot its
/// run writes.
fn fire_schedule(env: &Env) -> Value {
    let r = ObjectRef {
        api_version: "batch/v1".into(),
        kind: "CronJob".into(),
        namespace: "hello".into(),
        name: SCHEDULE.into(),
    };
    let c = env.cluster();
    let mut cj = env.rt.block_on(c.get(&r)).expect("get").expect("cronjob");
    cj["metadata"]["annotations"]["sim.berth.dev/run-now"] = "true".into();
    env.rt.block_on(c.replace(&cj)).expect("annotate");
    let start = Instant::now();
    loop {
        if let Some(s) = snapshots(env)
            .into_iter()
            .find(|s| has_tag(s, "berth.dev/scheduled=true"))
        {
            return s;
        }
        let jobs = env.list("batch/v1", "Job", "hello");
        let failed = jobs.iter().find(|j| {
            j["status"]["conditions"]
                .as_array()
                .is_some_and(|a| a.iter().any(|c| c["type"] == "Failed"))
        });
        if let Some(j) = failed {
            let pods = env.list("v1", "Pod", "hello");
            panic!("the scheduled Job failed: {j}\npods: {pods:?}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no scheduled snapshot; jobs: {jobs:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_scheduled_run_executes_the_exec_hooks_from_inside_the_cluster() {
    if berth_bwrap().is_none() {
        return;
    }
    let env = Env::new(true);
    let hooks = format!(
        "      pre:\n        - name: dump\n          exec:\n            selector: {DB_SELECTOR}\n            command: [sh, -c, 'echo dumped by the schedule > /var/lib/postgresql/data/scheduled-dump.txt']\n"
    );
    let app = hello_with_hooks(&env, "hello-exec-scheduled", &hooks);
    let out = env.berth(&["install", &app, "-n", "hello", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.snap(&["init", "--kdf-memory-mib", "8"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.snap(&["schedule", "-n", "hello", "--cron", "@daily"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(role_reads(&env, "", "pods/exec"));
    let scheduled = fire_schedule(&env);
    assert!(
        has_tag(&scheduled, "berth.dev/hooks=pre/dump"),
        "{scheduled}"
    );
    let id = scheduled["id"].as_str().expect("id");
    let out = env.snap(&[
        "restore",
        id,
        "--target",
        &env.dir.path().join("out").display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(
            env.dir
                .path()
                .join("out/volumes/data-hello-postgresql-0/scheduled-dump.txt")
        )
        .expect("the scheduled dump in the snapshot"),
        "dumped by the schedule\n"
    );
}
