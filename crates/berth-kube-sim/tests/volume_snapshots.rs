//! VolumeSnapshots (docs/formats/sim-profile.md, section 14): the external-snapshotter's API,
//! its controller's statuses and texts, real copies of volume directories, claims provisioned
//! from snapshots, deletion policies, faults, the built-in profiles, and real kubectl.

mod common;
use berth_kube_sim::profile::{StorageClassProfile, VolumeSnapshotClassProfile};
use berth_kube_sim::{Profile, Simulator, volume_dir};
use common::{Http, Kubectl, eventually, start_with};
use serde_json::{Value, json};
use std::path::PathBuf;

const DRIVER: &str = "hostpath.csi.k8s.io";
const VS: &str = "/apis/snapshot.storage.k8s.io/v1/namespaces/default/volumesnapshots";
const PVC: &str = "/api/v1/namespaces/default/persistentvolumeclaims";

/// The default cluster plus a CSI class (`csi`, Immediate binding), its default
/// VolumeSnapshotClass, and a Retain class of the same driver.
fn csi_profile() -> Profile {
    let mut p = Profile::default();
    p.storage_classes.push(StorageClassProfile {
        name: "csi".into(),
        provisioner: DRIVER.into(),
        default: false,
        volume_binding_mode: String::new(),
    });
    p.volume_snapshot_classes = vec![
        VolumeSnapshotClassProfile::default_for("csi-hostpath-snapclass", DRIVER),
        VolumeSnapshotClassProfile {
            name: "keep".into(),
            driver: DRIVER.into(),
            deletion_policy: "Retain".into(),
            default: false,
        },
    ];
    p
}

fn claim(name: &str, class: &str, size: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
        "spec": {"storageClassName": class, "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}}}})
}

fn snapshot(name: &str, claim: &str, class: Option<&str>) -> Value {
    let mut s = json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "metadata": {"name": name}, "spec": {"source": {"persistentVolumeClaimName": claim}}});
    if let Some(c) = class {
        s["spec"]["volumeSnapshotClassName"] = json!(c);
    }
    s
}

/// A bound claim's PersistentVolume.
async fn bound_volume(http: &Http, name: &str) -> Value {
    let pv = eventually(&format!("claim {name} bound"), || async {
        let (_, c) = http.get(&format!("{PVC}/{name}")).await;
        (c["status"]["phase"] == "Bound").then(|| c["spec"]["volumeName"].clone())
    })
    .await;
    let (_, pv) = http
        .get(&format!(
            "/api/v1/persistentvolumes/{}",
            pv.as_str().unwrap()
        ))
        .await;
    pv
}

async fn status_of(http: &Http, name: &str) -> Value {
    http.get(&format!("{VS}/{name}")).await.1["status"].clone()
}

async fn error_of(http: &Http, name: &str) -> String {
    eventually(&format!("an error on {name}"), || async {
        status_of(http, name).await["error"]["message"]
            .as_str()
            .map(String::from)
    })
    .await
}

async fn ready(http: &Http, name: &str) -> Value {
    eventually(&format!("{name} ready"), || async {
        let s = status_of(http, name).await;
        (s["readyToUse"] == true).then_some(s)
    })
    .await
}

async fn events(http: &Http, ns: &str, reason: &str) -> Vec<String> {
    let (_, l) = http
        .get(&format!(
            "/api/v1/namespaces/{ns}/events?fieldSelector=reason%3D{reason}"
        ))
        .await;
    l["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str().map(String::from))
        .collect()
}

fn snapshot_copies(sim: &Simulator) -> Vec<String> {
    std::fs::read_dir(sim.volume_root().join(".snapshots"))
        .map(|d| {
            let mut v: Vec<String> = d
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.ends_with(".json"))
                .collect();
            v.sort();
            v
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_is_a_point_in_time_copy_and_a_claim_made_from_it_starts_with_it() {
    let sim = start_with(csi_profile()).await;
    let http = Http::new(&sim);
    let (code, _) = http.post(PVC, &claim("data", "csi", "1Gi")).await;
    assert_eq!(code, 201);
    let pv = bound_volume(&http, "data").await;
    // A CSI volume: the driver, a handle, and the directory behind it.
    assert_eq!(pv["spec"]["csi"]["driver"], DRIVER);
    assert!(pv["spec"]["hostPath"].is_null(), "{pv}");
    let dir: PathBuf = volume_dir(&pv).expect("a directory");
    assert!(dir.starts_with(sim.volume_root()));
    std::fs::create_dir_all(dir.join("base")).unwrap();
    std::fs::write(dir.join("base/table"), b"before").unwrap();
    std::os::unix::fs::symlink("base/table", dir.join("link")).unwrap();

    // No class named: the default class of the volume's driver is written into the spec.
    let (code, _) = http.post(VS, &snapshot("snap", "data", None)).await;
    assert_eq!(code, 201);
    let st = ready(&http, "snap").await;
    let (_, vs) = http.get(&format!("{VS}/snap")).await;
    assert_eq!(
        vs["spec"]["volumeSnapshotClassName"],
        "csi-hostpath-snapclass"
    );
    let fins = vs["metadata"]["finalizers"].to_string();
    assert!(
        fins.contains("volumesnapshot-as-source-protection")
            && fins.contains("volumesnapshot-bound-protection"),
        "{fins}"
    );
    let uid = vs["metadata"]["uid"].as_str().unwrap().to_string();
    assert_eq!(
        st["boundVolumeSnapshotContentName"],
        format!("snapcontent-{uid}")
    );
    assert_eq!(st["restoreSize"], "1Gi");
    assert!(st["creationTime"].as_str().unwrap().ends_with('Z'), "{st}");
    assert!(st["error"].is_null(), "{st}");
    let (_, content) = http
        .get(&format!(
            "/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/snapcontent-{uid}"
        ))
        .await;
    let spec = &content["spec"];
    assert_eq!(spec["driver"], DRIVER);
    assert_eq!(spec["deletionPolicy"], "Delete");
    assert_eq!(
        spec["source"]["volumeHandle"],
        pv["spec"]["csi"]["volumeHandle"]
    );
    assert_eq!(spec["volumeSnapshotRef"]["uid"], uid.as_str());
    assert_eq!(spec["volumeSnapshotClassName"], "csi-hostpath-snapclass");
    assert_eq!(content["status"]["readyToUse"], true);
    assert_eq!(content["status"]["restoreSize"], 1i64 << 30);
    assert!(content["status"]["creationTime"].as_i64().unwrap() > 0);
    let handle = content["status"]["snapshotHandle"].as_str().unwrap();
    assert_eq!(
        handle,
        format!("snapshot-{}", content["metadata"]["uid"].as_str().unwrap())
    );
    for reason in ["CreatingSnapshot", "SnapshotCreated", "SnapshotReady"] {
        assert!(
            !events(&http, "default", reason).await.is_empty(),
            "{reason}"
        );
    }
    // The claim's protection went once the snapshot was ready.
    let (_, c) = http.get(&format!("{PVC}/data")).await;
    assert!(
        !c["metadata"]["finalizers"]
            .to_string()
            .contains("pvc-as-source"),
        "{c}"
    );

    // Written after the cut: not in the snapshot.
    std::fs::write(dir.join("base/table"), b"after").unwrap();
    std::fs::write(dir.join("late"), b"late").unwrap();

    // A claim from the snapshot (dataSource only: the API server mirrors it to dataSourceRef).
    let mut restored = claim("restored", "csi", "2Gi");
    restored["spec"]["dataSource"] =
        json!({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"});
    let (code, created) = http.post(PVC, &restored).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["spec"]["dataSourceRef"]["name"], "snap");
    let rpv = bound_volume(&http, "restored").await;
    assert_eq!(rpv["spec"]["capacity"]["storage"], "2Gi");
    let rdir = volume_dir(&rpv).unwrap();
    assert_ne!(rdir, dir);
    assert_eq!(std::fs::read(rdir.join("base/table")).unwrap(), b"before");
    assert_eq!(
        std::fs::read_link(rdir.join("link")).unwrap(),
        PathBuf::from("base/table")
    );
    assert!(!rdir.join("late").exists());
    assert!(
        events(&http, "default", "Provisioning")
            .await
            .iter()
            .any(|m| m
                == "External provisioner is provisioning volume for claim \"default/restored\"")
    );

    // Smaller than the snapshot's restoreSize: refused with the external-provisioner's text.
    let mut small = claim("small", "csi", "512Mi");
    small["spec"]["dataSourceRef"] =
        json!({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"});
    http.post(PVC, &small).await;
    let m = eventually("ProvisioningFailed for small", || async {
        events(&http, "default", "ProvisioningFailed")
            .await
            .into_iter()
            .find(|m| m.contains("snap"))
    })
    .await;
    assert_eq!(
        m,
        "failed to provision volume with StorageClass \"csi\": error getting handle for DataSource Type VolumeSnapshot by Name snap: requested volume size 536870912 is less than the size 1073741824 for the source snapshot snap"
    );
    // While that claim waits for it, the snapshot cannot go.
    let (code, _) = http.delete(&format!("{VS}/snap")).await;
    assert_eq!(code, 202, "held by its finalizers");
    eventually("SnapshotDeletePending", || async {
        (!events(&http, "default", "SnapshotDeletePending")
            .await
            .is_empty())
        .then_some(())
    })
    .await;
    assert!(status_of(&http, "snap").await.is_object());
    // A non-CSI class cannot provision from a snapshot at all.
    let mut local = claim("local", "standard", "1Gi");
    local["spec"]["dataSourceRef"] =
        json!({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"});
    http.post(PVC, &local).await;
    eventually("non-CSI ProvisioningFailed", || async {
        events(&http, "default", "ProvisioningFailed").await.into_iter().find(|m| {
            m == "plugin \"rancher.io/local-path\" is not a CSI plugin. Only CSI plugin can provision a claim with a datasource"
        })
    })
    .await;

    // Deletion policy Delete: once nothing restores from it, snapshot, content and copy go.
    assert_eq!(snapshot_copies(&sim).len(), 1);
    for c in ["small", "local"] {
        http.delete(&format!("{PVC}/{c}")).await;
    }
    eventually("snapshot and content gone", || async {
        let (a, _) = http.get(&format!("{VS}/snap")).await;
        let (b, _) = http
            .get(&format!(
                "/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/snapcontent-{uid}"
            ))
            .await;
        (a == 404 && b == 404 && snapshot_copies(&sim).is_empty()).then_some(())
    })
    .await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_read_as_the_snapshot_controller_writes_them() {
    let sim = start_with(csi_profile()).await;
    let http = Http::new(&sim);
    http.post(PVC, &claim("data", "csi", "1Gi")).await;
    http.post(PVC, &claim("local", "standard", "1Gi")).await;
    let mut pending = claim("pending", "csi", "1Gi");
    pending["metadata"]["annotations"] = json!({"sim.berth.dev/fail": "pvc-pending"});
    http.post(PVC, &pending).await;
    bound_volume(&http, "data").await;
    bound_volume(&http, "local").await;

    for (name, claim, class, want) in [
        (
            "missing",
            "nothing",
            None,
            "Failed to set default snapshot class with error failed to retrieve PVC nothing from the lister: \"persistentvolumeclaim \\\"nothing\\\" not found\"",
        ),
        (
            "unbound",
            "pending",
            None,
            "Failed to set default snapshot class with error the PVC pending is not yet bound to a PV, will not attempt to take a snapshot",
        ),
        (
            "non-csi",
            "local",
            None,
            "Failed to set default snapshot class with error snapshotting non-CSI volumes is not supported, snapshot:default/non-csi",
        ),
        (
            "no-class",
            "data",
            Some("gold"),
            "Failed to get snapshot class with error volumesnapshotclass.snapshot.storage.k8s.io \"gold\" not found",
        ),
        (
            "named-missing",
            "nothing",
            Some("keep"),
            "Failed to create snapshot content with error snapshot controller failed to update named-missing on API server: cannot get claim from snapshot",
        ),
    ] {
        let (code, body) = http.post(VS, &snapshot(name, claim, class)).await;
        assert_eq!(code, 201, "{body}");
        assert_eq!(error_of(&http, name).await, want, "{name}");
    }
    // Class errors leave readyToUse unset; content errors set it to false.
    assert!(status_of(&http, "missing").await["readyToUse"].is_null());
    assert_eq!(status_of(&http, "named-missing").await["readyToUse"], false);
    assert!(
        events(&http, "default", "SetDefaultSnapshotClassFailed")
            .await
            .len()
            >= 3
    );
    // A second default class for the driver makes the choice ambiguous.
    let (code, _) = http
        .post(
            "/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses",
            &json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
                "metadata": {"name": "second", "annotations": {"snapshot.storage.kubernetes.io/is-default-class": "true"}},
                "driver": DRIVER, "deletionPolicy": "Delete"}),
        )
        .await;
    assert_eq!(code, 201);
    http.post(VS, &snapshot("ambiguous", "data", None)).await;
    assert_eq!(
        error_of(&http, "ambiguous").await,
        "Failed to set default snapshot class with error 2 default snapshot classes were found"
    );
    // Both sources, or none: refused by the controller.
    let mut both = snapshot("both", "data", Some("keep"));
    both["spec"]["source"]["volumeSnapshotContentName"] = json!("x");
    http.post(VS, &both).await;
    assert_eq!(
        error_of(&http, "both").await,
        "Exactly one of PersistentVolumeClaimName and VolumeSnapshotContentName should be specified"
    );

    // The storage system refuses: the sidecar's error reaches the snapshot; never ready.
    let mut refused = snapshot("refused", "data", Some("keep"));
    refused["metadata"]["annotations"] = json!({"sim.berth.dev/fail": "snapshot-failed"});
    http.post(VS, &refused).await;
    let e = error_of(&http, "refused").await;
    assert!(
        e.starts_with("Failed to create snapshot: failed to take snapshot of the volume pvc-")
            && e.contains("rpc error: code = Internal"),
        "{e}"
    );
    assert_eq!(status_of(&http, "refused").await["readyToUse"], false);
    assert!(
        !events(&http, "default", "SnapshotCreationFailed")
            .await
            .is_empty()
    );

    // Cut at once, ready later (a slow upload): creationTime set, readyToUse false.
    let mut slow = snapshot("slow", "data", Some("keep"));
    slow["metadata"]["annotations"] = json!({"sim.berth.dev/snapshot-ready-after": "1h"});
    http.post(VS, &slow).await;
    let st = eventually("slow cut", || async {
        let s = status_of(&http, "slow").await;
        s["creationTime"].is_string().then_some(s)
    })
    .await;
    assert_eq!(st["readyToUse"], false);
    assert_eq!(st["restoreSize"], "1Gi");
    // A claim from it waits: not Ready.
    let mut early = claim("early", "csi", "1Gi");
    early["spec"]["dataSourceRef"] =
        json!({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "slow"});
    http.post(PVC, &early).await;
    eventually("not Ready", || async {
        events(&http, "default", "ProvisioningFailed")
            .await
            .into_iter()
            .find(|m| m.ends_with("by Name slow: snapshot slow is not Ready"))
    })
    .await;
    // The source claim is protected while a snapshot is being cut from it.
    let (_, c) = http.get(&format!("{PVC}/data")).await;
    assert!(
        c["metadata"]["finalizers"]
            .to_string()
            .contains("pvc-as-source-protection"),
        "{c}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_contents_outlive_their_snapshot_and_bind_again() {
    let sim = start_with(csi_profile()).await;
    let http = Http::new(&sim);
    http.post(PVC, &claim("data", "csi", "1Gi")).await;
    let pv = bound_volume(&http, "data").await;
    let dir = volume_dir(&pv).unwrap();
    std::fs::write(dir.join("f"), b"kept").unwrap();
    http.post(VS, &snapshot("snap", "data", Some("keep"))).await;
    let st = ready(&http, "snap").await;
    let content = st["boundVolumeSnapshotContentName"]
        .as_str()
        .unwrap()
        .to_string();
    let cpath = format!("/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/{content}");
    let (_, c) = http.get(&cpath).await;
    let handle = c["status"]["snapshotHandle"].as_str().unwrap().to_string();
    http.delete(&format!("{VS}/snap")).await;
    eventually("snapshot gone", || async {
        (http.get(&format!("{VS}/snap")).await.0 == 404).then_some(())
    })
    .await;
    let (code, c) = http.get(&cpath).await;
    assert_eq!(code, 200, "a Retain content stays");
    assert_eq!(snapshot_copies(&sim).len(), 1);

    // A pre-provisioned content for the same storage snapshot, bound by a new VolumeSnapshot.
    let pre = json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
        "metadata": {"name": "imported"},
        "spec": {"deletionPolicy": "Delete", "driver": DRIVER,
            "source": {"snapshotHandle": handle},
            "volumeSnapshotRef": {"name": "again", "namespace": "default"}}});
    let (code, body) = http
        .post(
            "/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents",
            &pre,
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let again = json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "metadata": {"name": "again"}, "spec": {"source": {"volumeSnapshotContentName": "imported"}}});
    http.post(VS, &again).await;
    let st = ready(&http, "again").await;
    assert_eq!(st["boundVolumeSnapshotContentName"], "imported");
    assert_eq!(st["restoreSize"], "1Gi");
    let mut restored = claim("restored", "csi", "1Gi");
    restored["spec"]["dataSourceRef"] =
        json!({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "again"});
    http.post(PVC, &restored).await;
    let rpv = bound_volume(&http, "restored").await;
    assert_eq!(
        std::fs::read(volume_dir(&rpv).unwrap().join("f")).unwrap(),
        b"kept"
    );
    // A snapshot naming a content that names another snapshot does not bind.
    let stray = json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "metadata": {"name": "stray"}, "spec": {"source": {"volumeSnapshotContentName": "imported"}}});
    http.post(VS, &stray).await;
    assert_eq!(
        error_of(&http, "stray").await,
        "Snapshot failed to bind VolumeSnapshotContent, Could not bind snapshot stray and content imported, the VolumeSnapshotRef does not match"
    );
    // The old content still names the deleted snapshot (Retain keeps it as it was).
    assert_eq!(c["spec"]["volumeSnapshotRef"]["name"], "snap");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_serve_volume_snapshots_where_their_clusters_do() {
    for (name, served, classes) in [
        ("default", false, vec![]),
        ("k3s", false, vec![]),
        ("bare", false, vec![]),
        ("rke2", true, vec![]),
        ("eks", true, vec![("ebs-csi-snapclass", "ebs.csi.aws.com")]),
        (
            "gke",
            true,
            vec![("pd-csi-snapclass", "pd.csi.storage.gke.io")],
        ),
        ("openshift", true, vec![("csi-aws-vsc", "ebs.csi.aws.com")]),
    ] {
        let sim = start_with(Profile::builtin(name).unwrap()).await;
        let http = Http::new(&sim);
        let (code, l) = http
            .get("/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses")
            .await;
        assert_eq!(code == 200, served, "{name}: {code}");
        let got: Vec<(String, String, Value)> = l["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                (
                    c["metadata"]["name"].as_str().unwrap().to_string(),
                    c["driver"].as_str().unwrap().to_string(),
                    c["metadata"]["annotations"]["snapshot.storage.kubernetes.io/is-default-class"]
                        .clone(),
                )
            })
            .collect();
        let want: Vec<(String, String, Value)> = classes
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_string(), json!("true")))
            .collect();
        assert_eq!(got, want, "{name}");
        // Every class's driver is an installed CSI driver.
        for (_, d, _) in &got {
            let (code, _) = http
                .get(&format!("/apis/storage.k8s.io/v1/csidrivers/{d}"))
                .await;
            assert_eq!(code, 200, "{name}: CSIDriver {d}");
        }
        sim.shutdown().await;
    }
    // In-tree and hostPath provisioners stay hostPath volumes; eks's gp2 is in-tree.
    let mut p = Profile::builtin("eks").unwrap();
    for sc in &mut p.storage_classes {
        sc.volume_binding_mode = "Immediate".into();
    }
    let sim = start_with(p).await;
    let http = Http::new(&sim);
    http.post(PVC, &claim("gp2", "gp2", "1Gi")).await;
    http.post(PVC, &claim("gp3", "gp3", "1Gi")).await;
    let gp2 = bound_volume(&http, "gp2").await;
    let gp3 = bound_volume(&http, "gp3").await;
    assert!(gp2["spec"]["hostPath"]["path"].is_string(), "{gp2}");
    assert!(
        gp3["spec"]["csi"]["volumeHandle"]
            .as_str()
            .unwrap()
            .starts_with("vol-"),
        "{gp3}"
    );
    http.post(VS, &snapshot("gp2", "gp2", None)).await;
    http.post(VS, &snapshot("gp3", "gp3", None)).await;
    assert!(
        error_of(&http, "gp2")
            .await
            .ends_with("snapshotting non-CSI volumes is not supported, snapshot:default/gp2")
    );
    let st = ready(&http, "gp3").await;
    let (_, c) = http
        .get(&format!(
            "/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/{}",
            st["boundVolumeSnapshotContentName"].as_str().unwrap()
        ))
        .await;
    assert!(
        c["status"]["snapshotHandle"]
            .as_str()
            .unwrap()
            .starts_with("snap-"),
        "{c}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_survive_a_restart_on_the_same_state_dir() {
    let state = tempfile::tempdir().unwrap();
    let start = || async {
        Simulator::start(berth_kube_sim::SimOptions {
            profile: csi_profile(),
            state_dir: Some(state.path().to_path_buf()),
            ..Default::default()
        })
        .await
        .expect("simulator")
    };
    let sim = start().await;
    let http = Http::new(&sim);
    http.post(PVC, &claim("data", "csi", "1Gi")).await;
    let pv = bound_volume(&http, "data").await;
    std::fs::write(volume_dir(&pv).unwrap().join("f"), b"one").unwrap();
    http.post(VS, &snapshot("snap", "data", None)).await;
    ready(&http, "snap").await;
    sim.shutdown().await;
    let sim = start().await;
    let http = Http::new(&sim);
    assert_eq!(status_of(&http, "snap").await["readyToUse"], true);
    let mut restored = claim("restored", "csi", "1Gi");
    restored["spec"]["dataSourceRef"] =
        json!({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"});
    http.post(PVC, &restored).await;
    let rpv = bound_volume(&http, "restored").await;
    assert_eq!(
        std::fs::read(volume_dir(&rpv).unwrap().join("f")).unwrap(),
        b"one"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_creates_waits_for_and_lists_volume_snapshots() {
    let sim = start_with(csi_profile()).await;
    let Some(k) = Kubectl::new(&sim) else { return };
    let out = k
        .ok_stdin(
            &["apply", "-f", "-"],
            r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  storageClassName: csi
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: snap}
spec:
  source: {persistentVolumeClaimName: data}
"#,
        )
        .await;
    assert!(
        out.contains("volumesnapshot.snapshot.storage.k8s.io/snap created"),
        "{out}"
    );
    let out = k
        .ok(&[
            "wait",
            "--for=jsonpath={.status.readyToUse}=true",
            "volumesnapshot/snap",
            "--timeout=60s",
        ])
        .await;
    assert!(out.contains("condition met"), "{out}");
    // The CRDs' printer columns.
    let out = k.ok(&["get", "vs"]).await;
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READYTOUSE",
            "SOURCEPVC",
            "SOURCESNAPSHOTCONTENT",
            "RESTORESIZE",
            "SNAPSHOTCLASS",
            "SNAPSHOTCONTENT",
            "CREATIONTIME",
            "AGE"
        ]
    );
    let row = out.lines().nth(1).unwrap();
    assert!(
        row.contains("true")
            && row.contains("data")
            && row.contains("1Gi")
            && row.contains("csi-hostpath-snapclass")
            && row.contains("snapcontent-"),
        "{out}"
    );
    let out = k.ok(&["get", "volumesnapshotclass"]).await;
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "DRIVER", "DELETIONPOLICY", "AGE"]);
    assert!(
        out.contains("csi-hostpath-snapclass") && out.contains(DRIVER),
        "{out}"
    );
    let out = k.ok(&["get", "vsc"]).await;
    assert!(out.lines().next().unwrap().contains("READYTOUSE"), "{out}");
    assert!(out.contains("Delete") && out.contains(DRIVER), "{out}");
    // A restore through kubectl.
    let out = k
        .ok_stdin(
            &["apply", "-f", "-"],
            r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: restored}
spec:
  storageClassName: csi
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
  dataSourceRef: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: snap}
"#,
        )
        .await;
    assert!(
        out.contains("persistentvolumeclaim/restored created"),
        "{out}"
    );
    let out = k
        .ok(&[
            "wait",
            "--for=jsonpath={.status.phase}=Bound",
            "pvc/restored",
            "--timeout=60s",
        ])
        .await;
    assert!(out.contains("condition met"), "{out}");
    // Unknown fields are refused as the CRD's schema says.
    let err = k
        .fails_stdin(
            &["apply", "-f", "-"],
            "apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshot\nmetadata: {name: bad}\nspec:\n  source: {persistentVolumeClaimName: data}\n  sourcee: x\n",
        )
        .await;
    assert!(err.contains("unknown field \"spec.sourcee\""), "{err}");
    let out = k.ok(&["delete", "pvc/restored", "vs/snap"]).await;
    assert!(out.contains("deleted"), "{out}");
    // The content (deletionPolicy Delete) follows its snapshot.
    eventually("no snapshot or content left", || async {
        let out = k.ok(&["get", "vs,vsc", "-o", "name"]).await;
        out.trim().is_empty().then_some(())
    })
    .await;
    sim.shutdown().await;

    // Where the group is not served, kubectl says so.
    let sim = start_with(Profile::builtin("k3s").unwrap()).await;
    let Some(k) = Kubectl::new(&sim) else { return };
    let err = k.fails(&["get", "volumesnapshots"]).await;
    assert!(
        err.contains("the server doesn't have a resource type \"volumesnapshots\""),
        "{err}"
    );
    sim.shutdown().await;
}

#[test]
fn a_profile_file_names_its_volume_snapshot_classes() {
    let p = Profile::from_yaml_str(
        "storageClasses:\n  - {name: longhorn, provisioner: driver.longhorn.io, default: true}\nvolumeSnapshotClasses:\n  - {name: longhorn-snap, driver: driver.longhorn.io, deletionPolicy: Retain, default: true}\n",
    )
    .expect("profile");
    assert!(p.serves_volume_snapshots());
    assert_eq!(p.volume_snapshot_classes[0].deletion_policy, "Retain");
    let p = Profile::from_yaml_str("volumeSnapshots: true\n").expect("profile");
    assert!(p.serves_volume_snapshots() && p.volume_snapshot_classes.is_empty());
    let e = Profile::from_yaml_str(
        "volumeSnapshotClasses:\n  - {name: x, driver: d, deletionPolicy: Keep}\n",
    )
    .unwrap_err();
    assert!(e.contains("deletionPolicy must be Delete or Retain"), "{e}");
    let e = Profile::from_yaml_str("volumeSnapshotClasses:\n  - {name: x}\n").unwrap_err();
    assert!(e.contains("needs a name and a driver"), "{e}");
}
