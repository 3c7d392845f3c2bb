//! Crash-consistent app snapshots through CSI VolumeSnapshots, against the simulator with real
//! mover processes and real files (docs/formats/snapshot.md, section 13): the copy is the
//! volume at the cut (files written afterwards are not in it), the VolumeSnapshots and the
//! temporary claims are gone afterwards (also after a timeout), claims without a
//! VolumeSnapshotClass are copied live and the snapshot says so, a schedule's run may take
//! VolumeSnapshots, and a restore brings the cut's files back.
#![allow(clippy::field_reassign_with_default)]

use berth_deploy::object::ObjectRef;
use berth_deploy::{Cluster, ConnectOptions};
use berth_kube_sim::profile::{StorageClassProfile, VolumeSnapshotClassProfile};
use berth_kube_sim::{Profile, SimOptions, Simulator};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "csi snapshot test password";
const CLAIM: &str = "data-hello-postgresql-0";
const DRIVER: &str = "hostpath.csi.k8s.io";
const VS_API: &str = "snapshot.storage.k8s.io/v1";

struct Env {
    rt: tokio::runtime::Runtime,
    sim: Option<Simulator>,
    dir: tempfile::TempDir,
    kc: PathBuf,
}

/// A cluster whose default class is a CSI driver's; `class_annotations` go on its (default)
/// VolumeSnapshotClass; without `snapshots` the API is served but no class exists.
fn csi_profile(snapshots: bool) -> Profile {
    let mut p = Profile::default();
    p.storage_classes = vec![
        StorageClassProfile {
            name: "csi-hostpath".into(),
            provisioner: DRIVER.into(),
            default: true,
            volume_binding_mode: String::new(),
        },
        StorageClassProfile {
            name: "standard".into(),
            provisioner: "rancher.io/local-path".into(),
            default: false,
            volume_binding_mode: String::new(),
        },
    ];
    p.volume_snapshots = true;
    if snapshots {
        p.volume_snapshot_classes = vec![VolumeSnapshotClassProfile::default_for(
            "csi-hostpath-snapclass",
            DRIVER,
        )];
    }
    p
}

impl Env {
    fn new(profile: Profile) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let sim = rt
            .block_on(Simulator::start(SimOptions {
                profile,
                ..SimOptions::default()
            }))
            .expect("simulator");
        sim.set_mover_bin(Some(PathBuf::from(env!("CARGO_BIN_EXE_berth"))));
        let dir = tempfile::tempdir().expect("tempdir");
        let kc = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kc).expect("kubeconfig");
        let env = Env {
            rt,
            sim: Some(sim),
            dir,
            kc,
        };
        let out = env.snap(&["init", "--kdf-memory-mib", "8"]);
        assert!(out.status.success(), "{}", text(&out));
        env
    }

    fn repo(&self) -> String {
        self.dir.path().join("repo").display().to_string()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let cluster_cmd = args.first() != Some(&"snapshot")
            || matches!(
                args.get(1),
                Some(&"create") | Some(&"restore") | Some(&"schedule")
            );
        if cluster_cmd {
            all.push("--kubeconfig".into());
            all.push(self.kc.display().to_string());
        }
        let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
        c.args(&all)
            .env("NO_COLOR", "1")
            .env("BERTH_REPO_PASSWORD", PASSWORD)
            .env_remove("BERTH_REPO");
        c
    }

    fn berth(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("berth runs")
    }

    fn snap_args(&self, args: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = vec!["snapshot".into()];
        all.extend(args.iter().map(|a| a.to_string()));
        all.extend(["--repo".into(), self.repo()]);
        all
    }

    fn snap(&self, args: &[&str]) -> Output {
        let all = self.snap_args(args);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        self.berth(&refs)
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

    fn names(&self, api: &str, kind: &str, ns: &str) -> Vec<String> {
        self.list(api, kind, ns)
            .iter()
            .filter_map(|o| o["metadata"]["name"].as_str().map(String::from))
            .collect()
    }

    fn claim_dir(&self, ns: &str, claim: &str) -> PathBuf {
        let pvc = self
            .get("v1", "PersistentVolumeClaim", ns, claim)
            .expect("claim exists");
        let pv = self
            .get(
                "v1",
                "PersistentVolume",
                "",
                pvc["spec"]["volumeName"].as_str().expect("bound"),
            )
            .expect("volume exists");
        berth_kube_sim::volume_dir(&pv).expect("a simulator volume")
    }

    fn install(&self) -> PathBuf {
        let out = self.berth(&["install", &hello(), "-n", "hello", "--timeout", "60s"]);
        assert!(out.status.success(), "{}", text(&out));
        self.claim_dir("hello", CLAIM)
    }

    fn annotate_class(&self, key: &str, value: &str) {
        let c = self.cluster();
        let r = ObjectRef {
            api_version: VS_API.into(),
            kind: "VolumeSnapshotClass".into(),
            namespace: String::new(),
            name: "csi-hostpath-snapclass".into(),
        };
        for attempt in 0.. {
            let mut class = self.rt.block_on(c.get(&r)).expect("get").expect("class");
            class["metadata"]["annotations"][key] = value.into();
            match self.rt.block_on(c.replace(&class)) {
                Ok(_) => break,
                Err(e) if e.code() == 409 && attempt < 20 => continue,
                Err(e) => panic!("annotate: {e}"),
            }
        }
    }

    /// Nothing of a run is left: VolumeSnapshots, their contents and copies, temporary
    /// claims, mover Jobs and Secrets.
    fn assert_clean(&self) {
        let start = Instant::now();
        loop {
            let vs = self.names(VS_API, "VolumeSnapshot", "hello");
            let contents = self.names(VS_API, "VolumeSnapshotContent", "");
            let claims: Vec<String> = self
                .names("v1", "PersistentVolumeClaim", "hello")
                .into_iter()
                .filter(|n| n != CLAIM)
                .collect();
            let movers: Vec<String> = self
                .names("batch/v1", "Job", "hello")
                .into_iter()
                .chain(self.names("v1", "Secret", "hello"))
                .filter(|n| n.starts_with("berth-mover-"))
                .collect();
            let copies = std::fs::read_dir(self.volume_root().join(".snapshots"))
                .map(|d| d.count())
                .unwrap_or(0);
            if vs.is_empty()
                && contents.is_empty()
                && claims.is_empty()
                && movers.is_empty()
                && copies == 0
            {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "left behind: snapshots {vs:?}, contents {contents:?}, claims {claims:?}, movers {movers:?}, {copies} copies"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn volume_root(&self) -> PathBuf {
        self.sim.as_ref().expect("sim").volume_root()
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

fn seed(dir: &Path) {
    std::fs::create_dir_all(dir.join("base/1")).expect("mkdir");
    std::fs::write(dir.join("PG_VERSION"), "16\n").expect("write");
    std::fs::write(dir.join("base/1/16384"), b"table at the cut").expect("write");
    std::os::unix::fs::symlink("PG_VERSION", dir.join("version-link")).expect("link");
}

fn tags(env: &Env, id: &str) -> Vec<String> {
    let out = env.snap(&["show", id, "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).expect("json");
    shown["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t.as_str().map(String::from))
        .collect()
}

#[test]
fn a_snapshot_holds_the_volume_as_it_was_at_the_cut_and_restores_it() {
    let env = Env::new(csi_profile(true));
    let dir = env.install();
    seed(&dir);
    let at_cut = tree(&dir);
    // The cut is at once, readiness a moment later: time for the app to write more.
    env.annotate_class("sim.berth.dev/snapshot-ready-after", "3s");

    let args = env.snap_args(&["create", "-n", "hello", "-o", "json"]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = env
        .command(&refs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("berth runs");
    // Wait for the cut, then write to the live volume.
    let start = Instant::now();
    let vs = loop {
        let cut = env
            .list(VS_API, "VolumeSnapshot", "hello")
            .into_iter()
            .find(|v| v["status"]["creationTime"].is_string());
        if let Some(v) = cut {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no VolumeSnapshot was cut"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(vs["status"]["readyToUse"], false, "{vs}");
    assert_eq!(vs["metadata"]["annotations"]["berth.dev/claim"], CLAIM);
    assert_eq!(vs["metadata"]["labels"]["berth.dev/kind"], "mover");
    assert_eq!(
        vs["spec"]["volumeSnapshotClassName"],
        "csi-hostpath-snapclass"
    );
    std::fs::write(dir.join("base/1/16384"), b"table after the cut").expect("write");
    std::fs::write(dir.join("written-after-the-cut"), b"late").expect("write");

    let out = child.wait_with_output().expect("berth finishes");
    assert!(out.status.success(), "{}", text(&out));
    let rep: Value = serde_json::from_slice(&out.stdout).expect("json report");
    let c = &rep["claims"][0];
    assert_eq!(c["name"], CLAIM);
    assert_eq!(c["consistency"], "crash-consistent", "{rep}");
    assert_eq!(c["volume_snapshot_class"], "csi-hostpath-snapclass");
    assert!(c["live_reason"].is_null(), "{rep}");
    let id = rep["snapshot_id"].as_str().expect("id").to_string();
    assert!(tags(&env, &id).contains(&"berth.dev/consistency=crash-consistent".to_string()));
    env.assert_clean();

    // The snapshot holds the cut, not what came after.
    let target = env.dir.path().join("restored-dir");
    let out = env.snap(&[
        "restore",
        &id[..8],
        "--target",
        &target.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(tree(&target.join(format!("volumes/{CLAIM}"))), at_cut);
    let claims: Value = serde_json::from_slice(
        &std::fs::read(target.join("app/claims.json")).expect("claims.json"),
    )
    .expect("json");
    assert_eq!(claims[0]["consistency"], "crash-consistent");
    assert_eq!(
        claims[0]["name"], CLAIM,
        "only the app's own claim: {claims}"
    );
    assert_eq!(claims.as_array().map(Vec::len), Some(1), "{claims}");

    // And an app restore brings it back into a new namespace.
    let out = env.snap(&[
        "restore",
        &id[..8],
        "-n",
        "hello-restored",
        "--timeout",
        "60s",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(tree(&env.claim_dir("hello-restored", CLAIM)), at_cut);
    let out = env.snap(&["check", "--read-data"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn claims_without_a_volume_snapshot_class_are_copied_live_and_say_so() {
    // The API is served, the volume is CSI, but no class exists for its driver.
    let env = Env::new(csi_profile(false));
    let dir = env.install();
    seed(&dir);
    let out = env.snap(&["create", "-n", "hello"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains(&format!(
            "claim {CLAIM}: 2 files, 19 B, copied live: no VolumeSnapshotClass for driver {DRIVER}"
        )),
        "{t}"
    );
    let out = env.snap(&["list", "-o", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = list[0]["id"].as_str().expect("id").to_string();
    assert!(tags(&env, &id).contains(&"berth.dev/consistency=live".to_string()));
    assert!(env.list(VS_API, "VolumeSnapshot", "hello").is_empty());
    drop(env);

    // A cluster without the API at all (the default profile).
    let env = Env::new(Profile::default());
    let dir = env.install();
    seed(&dir);
    let out = env.snap(&["create", "-n", "hello", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let rep: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(rep["claims"][0]["consistency"], "live", "{rep}");
    assert_eq!(
        rep["claims"][0]["live_reason"],
        "the cluster does not serve snapshot.storage.k8s.io/v1 VolumeSnapshots"
    );
    assert!(rep["claims"][0]["volume_snapshot_class"].is_null());
}

#[test]
fn a_snapshot_that_is_not_ready_in_time_fails_and_leaves_nothing_behind() {
    let env = Env::new(csi_profile(true));
    let dir = env.install();
    seed(&dir);
    env.annotate_class("sim.berth.dev/snapshot-ready-after", "1h");
    let out = env.snap(&["create", "-n", "hello", "--timeout", "3s"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains(&format!(
            "of claim {CLAIM} in namespace hello was not ready to use within 3s (readyToUse: false)"
        )),
        "{t}"
    );
    assert!(
        t.contains("kubectl -n hello describe volumesnapshot berth-"),
        "{t}"
    );
    assert!(t.contains("--timeout"), "{t}");
    assert!(!t.contains(PASSWORD), "{t}");
    env.assert_clean();
    let out = env.snap(&["list", "-o", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");

    // The storage system refuses: the controller's error is in the message; nothing stays.
    env.annotate_class("sim.berth.dev/snapshot-ready-after", "0s");
    env.annotate_class("sim.berth.dev/fail", "snapshot-failed");
    let out = env.snap(&["create", "-n", "hello", "--timeout", "3s"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains(
            "status.error: Failed to create snapshot: failed to take snapshot of the volume"
        ),
        "{t}"
    );
    env.assert_clean();
}

#[test]
fn a_scheduled_run_may_snapshot_and_its_role_allows_it() {
    let env = Env::new(csi_profile(true));
    let dir = env.install();
    seed(&dir);
    let out = env.snap(&["schedule", "-n", "hello", "--cron", "0 3 * * *"]);
    assert!(out.status.success(), "{}", text(&out));
    let name = "berth-snapshot-hello";
    let role = env
        .get("rbac.authorization.k8s.io/v1", "Role", "hello", name)
        .expect("role");
    let rules = role["rules"].as_array().expect("rules");
    let rule = |group: &str, res: &str| {
        rules
            .iter()
            .find(|r| {
                r["apiGroups"][0] == group
                    && r["resources"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == res))
            })
            .map(|r| r["verbs"].to_string())
            .unwrap_or_default()
    };
    let vs = rule("snapshot.storage.k8s.io", "volumesnapshots");
    for v in ["get", "list", "create", "delete"] {
        assert!(vs.contains(v), "volumesnapshots {v}: {vs}");
    }
    let pvc = rule("", "persistentvolumeclaims");
    assert!(pvc.contains("create") && pvc.contains("delete"), "{pvc}");
    assert!(!role["rules"].to_string().contains("volumesnapshotcontents"));
    // The run may not look up classes: the schedule records them.
    let cj = env
        .get("batch/v1", "CronJob", "hello", name)
        .expect("cronjob");
    let args = cj
        .pointer("/spec/jobTemplate/spec/template/spec/containers/0/args")
        .expect("args")
        .to_string();
    assert!(
        args.contains("\"--volume-snapshot-class\",\"csi-hostpath=csi-hostpath-snapclass\""),
        "{args}"
    );

    // Fire it and wait for its snapshot: crash-consistent.
    for attempt in 0.. {
        let mut cj = env
            .get("batch/v1", "CronJob", "hello", name)
            .expect("cronjob");
        cj["metadata"]["annotations"]["sim.berth.dev/run-now"] = "true".into();
        match env.rt.block_on(env.cluster().replace(&cj)) {
            Ok(_) => break,
            Err(e) if e.code() == 409 && attempt < 20 => continue,
            Err(e) => panic!("annotate: {e}"),
        }
    }
    let start = Instant::now();
    let id = loop {
        let out = env.snap(&["list", "-o", "json"]);
        assert!(out.status.success(), "{}", text(&out));
        let list: Value = serde_json::from_slice(&out.stdout).expect("json");
        let app = list.as_array().into_iter().flatten().find(|s| {
            s["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|x| x == "berth.dev/kind=app"))
        });
        if let Some(s) = app {
            break s["id"].as_str().expect("id").to_string();
        }
        let failed = env.list("batch/v1", "Job", "hello").into_iter().find(|j| {
            j["status"]["conditions"]
                .as_array()
                .is_some_and(|a| a.iter().any(|c| c["type"] == "Failed"))
        });
        assert!(failed.is_none(), "the scheduled Job failed: {failed:?}");
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no scheduled snapshot"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let t = tags(&env, &id);
    assert!(t.contains(&"berth.dev/scheduled=true".to_string()), "{t:?}");
    assert!(
        t.contains(&"berth.dev/consistency=crash-consistent".to_string()),
        "{t:?}"
    );
    env.assert_clean();
}

#[test]
fn hooks_run_once_each_around_the_cut_and_a_restore_binds_claims_on_first_consumer() {
    // OpenShift's profile as it comes: gp3-csi binds on first consumer (the temporary claim
    // binds when its mover's pod is scheduled), csi-aws-vsc is its default class.
    let env = Env::new(Profile::builtin("openshift").expect("profile"));
    let mover = format!(
        "registry.berth.dev/berth/mover:{}",
        env!("CARGO_PKG_VERSION")
    );
    // The pre hook writes into the database's volume before the cut; the post hook runs as
    // soon as every volume is captured.
    let app = env.dir.path().join("hello-hooks");
    let st = Command::new("cp")
        .args(["-r", &hello(), &app.display().to_string()])
        .status()
        .expect("cp");
    assert!(st.success());
    let f = app.join("berth.yaml");
    let mut yaml = std::fs::read_to_string(&f).expect("read");
    yaml.push_str(&format!(
        "\n  snapshot:\n    hooks:\n      pre:\n        - name: dump\n          job:\n            image: {mover}\n            command: [/berth, init, /dump/starter]\n            mounts:\n              - claim: {CLAIM}\n                mountPath: /dump\n      post:\n        - name: resume\n          job:\n            image: {mover}\n            command: [/berth, schema]\n"
    ));
    std::fs::write(&f, yaml).expect("write");
    let out = env.berth(&[
        "install",
        &app.display().to_string(),
        "-n",
        "hello",
        "--set",
        "ingress_class=openshift-default",
        "--timeout",
        "60s",
    ]);
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
    assert_eq!(rep["claims"][0]["consistency"], "crash-consistent", "{rep}");
    assert_eq!(
        rep["claims"][0]["volume_snapshot_class"], "csi-aws-vsc",
        "{rep}"
    );
    let id = rep["snapshot_id"].as_str().expect("id");
    let out = env.snap(&["show", id, "-o", "json"]);
    let shown: Value = serde_json::from_slice(&out.stdout).expect("json");
    let paths: Vec<&str> = shown["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert!(
        paths.contains(&format!("volumes/{CLAIM}/starter/berth.yaml").as_str()),
        "{paths:?}"
    );
    env.assert_clean();

    // A restore where claims bind on first consumer: the restore's mover is that consumer.
    let before = tree(&env.claim_dir("hello", CLAIM));
    let out = env.snap(&[
        "restore",
        &id[..8],
        "-n",
        "hello-restored",
        "--timeout",
        "60s",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(tree(&env.claim_dir("hello-restored", CLAIM)), before);
}
