//! VolumeSnapshots (`snapshot.storage.k8s.io/v1`): the external-snapshotter's CRDs, the common
//! snapshot controller and each CSI driver's `csi-snapshotter` sidecar, with the upstream
//! texts, and the external-provisioner's side of claims made from a snapshot. A snapshot of a
//! CSI volume is a copy of its directory under `<volume root>/.snapshots/`.
//! docs/formats/sim-profile.md, section 14.

use crate::Shared;
use crate::controllers::{gr, put_new};
use crate::csi;
use crate::faults;
use crate::store::{Gr, Store, now_str};
use crate::volumes::CopyProgress;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The API group.
pub const GROUP: &str = "snapshot.storage.k8s.io";
const API_VERSION: &str = "snapshot.storage.k8s.io/v1";
const DEFAULT_CLASS: &str = "snapshot.storage.kubernetes.io/is-default-class";
const AS_SOURCE: &str = "snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection";
const BOUND: &str = "snapshot.storage.kubernetes.io/volumesnapshot-bound-protection";
const CONTENT_BOUND: &str = "snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection";
const PVC_AS_SOURCE: &str = "snapshot.storage.kubernetes.io/pvc-as-source-protection";
const BEING_DELETED: &str = "snapshot.storage.kubernetes.io/volumesnapshot-being-deleted";
/// `sim.berth.dev/fail: snapshot-failed` on a VolumeSnapshot, its class or its source claim.
const FAIL_SNAPSHOT: &str = "snapshot-failed";
/// `sim.berth.dev/snapshot-ready-after: 10s`: readyToUse this long after the cut.
pub const READY_AFTER: &str = "sim.berth.dev/snapshot-ready-after";
const CONTROLLER: &str = "snapshot-controller";
/// How often a repeated failure is recorded again as an event.
const EVERY: Duration = Duration::from_secs(5);

static CRDS: [&str; 3] = [
    include_str!("../data/snapshot.storage.k8s.io_volumesnapshotclasses.yaml"),
    include_str!("../data/snapshot.storage.k8s.io_volumesnapshotcontents.yaml"),
    include_str!("../data/snapshot.storage.k8s.io_volumesnapshots.yaml"),
];

fn snapshots_gr() -> Gr {
    gr(GROUP, "volumesnapshots")
}
fn contents_gr() -> Gr {
    gr(GROUP, "volumesnapshotcontents")
}
fn classes_gr() -> Gr {
    gr(GROUP, "volumesnapshotclasses")
}
fn pvcs_gr() -> Gr {
    gr("", "persistentvolumeclaims")
}

fn md<'a>(o: &'a Value, k: &str) -> &'a str {
    o["metadata"][k].as_str().unwrap_or("")
}

fn deleting(o: &Value) -> bool {
    o["metadata"].get("deletionTimestamp").is_some()
}

fn has_finalizer(o: &Value, f: &str) -> bool {
    o["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == f))
}

/// The external-snapshotter's CRDs, when the profile serves the API.
pub fn profile_crds(p: &crate::profile::Profile) -> Vec<Value> {
    if !p.serves_volume_snapshots() {
        return Vec::new();
    }
    CRDS.iter()
        .filter_map(|text| match serde_saphyr::from_str::<Value>(text) {
            Ok(mut v) => {
                if let Some(m) = v.as_object_mut() {
                    m.remove("status");
                }
                Some(v)
            }
            Err(e) => {
                tracing::error!("built-in VolumeSnapshot CRD does not parse: {e}");
                None
            }
        })
        .collect()
}

/// The profile's VolumeSnapshotClasses (after the CRDs are established).
pub fn seed(store: &mut Store) {
    let p = store.profile.clone();
    if !p.serves_volume_snapshots() {
        return;
    }
    for c in &p.volume_snapshot_classes {
        let mut o = json!({"apiVersion": API_VERSION, "kind": "VolumeSnapshotClass",
            "metadata": {"name": c.name}, "driver": c.driver,
            "deletionPolicy": if c.deletion_policy.is_empty() { "Delete" } else { c.deletion_policy.as_str() }});
        if c.default {
            o["metadata"]["annotations"] = json!({DEFAULT_CLASS: "true"});
        }
        put_new(store, &classes_gr(), o);
    }
}

/// The API server's `NormalizeDataSources` on a new claim: with only `dataSource` set,
/// `dataSourceRef` gets a copy; with only a local `dataSourceRef`, `dataSource` does.
pub fn normalize_data_sources(spec: &mut Value) {
    let ds = spec.get("dataSource").filter(|v| v.is_object()).cloned();
    let dsr = spec.get("dataSourceRef").filter(|v| v.is_object()).cloned();
    match (ds, dsr) {
        (Some(ds), None) => spec["dataSourceRef"] = ds,
        (None, Some(r)) if r["namespace"].as_str().is_none_or(str::is_empty) => {
            let mut local = r.clone();
            if let Some(m) = local.as_object_mut() {
                m.remove("namespace");
            }
            spec["dataSource"] = local;
        }
        _ => {}
    }
}

/// One pass of the snapshot controller and the drivers' sidecars.
pub fn tick(store: &mut Store, sh: &Shared) {
    if store.type_for(GROUP, "volumesnapshots").is_none() {
        return;
    }
    contents(store, sh);
    snapshots(store);
    release_claims(store);
}

fn commit(store: &mut Store, g: &Gr, old: &Arc<Value>, new: Value) -> Arc<Value> {
    store.commit(g, new, Some(old.clone()))
}

/// Drops finalizer `f`; a deleted object without finalizers goes.
fn remove_finalizer(store: &mut Store, g: &Gr, o: &Arc<Value>, f: &str) -> Option<Arc<Value>> {
    let fins: Vec<Value> = o["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|x| x != f)
        .collect();
    if deleting(o) && fins.is_empty() {
        store.remove(g, md(o, "namespace"), md(o, "name"));
        return None;
    }
    let mut n = (**o).clone();
    n["metadata"]["finalizers"] = Value::Array(fins);
    Some(commit(store, g, o, n))
}

fn add_finalizer(store: &mut Store, g: &Gr, o: &Arc<Value>, f: &str) -> Arc<Value> {
    if has_finalizer(o, f) {
        return o.clone();
    }
    let mut n = (**o).clone();
    let mut fins = n["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    fins.push(json!(f));
    n["metadata"]["finalizers"] = Value::Array(fins);
    commit(store, g, o, n)
}

/// Marks an object deleted (it has finalizers) or removes it.
fn delete_object(store: &mut Store, g: &Gr, o: &Arc<Value>) {
    if o["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|a| !a.is_empty())
    {
        if !deleting(o) {
            let mut n = (**o).clone();
            n["metadata"]["deletionTimestamp"] = json!(now_str());
            n["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            commit(store, g, o, n);
        }
    } else {
        store.remove(g, md(o, "namespace"), md(o, "name"));
    }
}

fn now_nanos() -> i64 {
    jiff::Timestamp::now().as_nanosecond() as i64
}

fn rfc3339_of_nanos(ns: i64) -> String {
    jiff::Timestamp::from_nanosecond(ns as i128)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| now_str())
}

/// A byte count as a binary-SI quantity, as `resource.NewQuantity(n, BinarySI)` prints it.
pub fn binary_quantity(n: i64) -> String {
    if n == 0 {
        return "0".into();
    }
    for (shift, suffix) in [
        (60, "Ei"),
        (50, "Pi"),
        (40, "Ti"),
        (30, "Gi"),
        (20, "Mi"),
        (10, "Ki"),
    ] {
        let unit = 1i64 << shift;
        if n % unit == 0 {
            return format!("{}{suffix}", n / unit);
        }
    }
    n.to_string()
}

// ---------- faults ----------

/// The objects whose `sim.berth.dev/*` annotations steer a snapshot: the VolumeSnapshot, its
/// class and its source claim.
fn fault_sources(store: &Store, content: &Value) -> Vec<Arc<Value>> {
    let r = &content["spec"]["volumeSnapshotRef"];
    let ns = r["namespace"].as_str().unwrap_or("");
    let mut out = Vec::new();
    if let Some(s) = store.get(&snapshots_gr(), ns, r["name"].as_str().unwrap_or("")) {
        if let Some(c) = s["spec"]["source"]["persistentVolumeClaimName"].as_str()
            && let Some(pvc) = store.get(&pvcs_gr(), ns, c)
        {
            out.push(pvc);
        }
        out.push(s);
    }
    if let Some(c) = content["spec"]["volumeSnapshotClassName"].as_str()
        && let Some(class) = store.get(&classes_gr(), "", c)
    {
        out.push(class);
    }
    out
}

fn fails(objs: &[Arc<Value>]) -> bool {
    objs.iter().any(|o| {
        faults::annotation(o, faults::FAIL)
            .is_some_and(|f| f.split(',').any(|x| x.trim() == FAIL_SNAPSHOT))
    })
}

fn ready_after(objs: &[Arc<Value>]) -> Duration {
    objs.iter()
        .find_map(|o| faults::annotation(o, READY_AFTER).and_then(crate::parse_duration))
        .unwrap_or(Duration::ZERO)
}

// ---------- contents: the common controller's part and the sidecar ----------

/// What a cut recorded beside the copy (`<id>.json`): when it began and the restore size.
fn write_meta(path: &Path, creation_ns: i64, restore_size: i64) {
    let meta = json!({"creationTime": creation_ns, "restoreSize": restore_size});
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::write(path, meta.to_string());
}

fn read_meta(path: &Path) -> Option<(i64, i64)> {
    let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    Some((v["creationTime"].as_i64()?, v["restoreSize"].as_i64()?))
}

/// The provisioned volume with this CSI handle: (its directory, its capacity in bytes).
fn volume_by_handle(store: &Store, driver: &str, handle: &str) -> Option<(PathBuf, i64)> {
    store
        .list(&gr("", "persistentvolumes"), None)
        .into_iter()
        .find(|pv| {
            pv["spec"]["csi"]["driver"] == driver && pv["spec"]["csi"]["volumeHandle"] == handle
        })
        .and_then(|pv| {
            let size = crate::controllers::bytes_of(
                pv["spec"]["capacity"]["storage"].as_str().unwrap_or("0"),
            );
            csi::volume_dir(&pv).map(|d| (d, size))
        })
}

/// The content's status error (and a Warning event on it), as the sidecar reports failures.
fn content_error(store: &mut Store, c: &Arc<Value>, reason: &str, message: &str) {
    store.record_event_every(c, true, reason, message, "csi-snapshotter", EVERY);
    if c["status"]["error"]["message"] == message {
        return;
    }
    let mut n = (**c).clone();
    if !n["status"].is_object() {
        n["status"] = json!({});
    }
    n["status"]["error"] = json!({"message": message, "time": now_str()});
    if n["status"]["readyToUse"].is_null() {
        n["status"]["readyToUse"] = json!(false);
    }
    commit(store, &contents_gr(), c, n);
}

fn contents(store: &mut Store, sh: &Shared) {
    let g = contents_gr();
    for c in store.list(&g, None) {
        let driver = c["spec"]["driver"].as_str().unwrap_or("").to_string();
        let policy = c["spec"]["deletionPolicy"].as_str().unwrap_or("Delete");
        let sidecar = csi::is_driver(store, &driver);
        if deleting(&c) {
            if policy == "Delete" {
                if !sidecar {
                    continue; // nobody deletes the storage system's snapshot: the finalizer stays
                }
                // The storage system's snapshot: cut, imported, or still being cut.
                let handle = c["status"]["snapshotHandle"]
                    .as_str()
                    .or(c["spec"]["source"]["snapshotHandle"].as_str())
                    .map(String::from)
                    .unwrap_or_else(|| csi::snapshot_handle(&driver, md(&c, "uid")));
                sh.volumes.remove_snapshot(&csi::snapshot_id(&handle));
            }
            remove_finalizer(store, &g, &c, CONTENT_BOUND);
            continue;
        }
        let vh = c["spec"]["source"]["volumeHandle"]
            .as_str()
            .map(String::from);
        let snap_handle = c["spec"]["source"]["snapshotHandle"]
            .as_str()
            .map(String::from);
        if vh.is_some() == snap_handle.is_some() {
            store.record_event_every(
                &c,
                true,
                "ContentValidationError",
                "Exactly one of VolumeHandle and SnapshotHandle should be specified",
                CONTROLLER,
                EVERY,
            );
            continue;
        }
        let c = add_finalizer(store, &g, &c, CONTENT_BOUND);
        // The snapshot it was bound to is gone: its storage goes with it unless retained.
        let r = &c["spec"]["volumeSnapshotRef"];
        if let Some(uid) = r["uid"].as_str().filter(|u| !u.is_empty()) {
            let snap = store.get(
                &snapshots_gr(),
                r["namespace"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or(""),
            );
            if snap.is_none_or(|s| md(&s, "uid") != uid) {
                if policy == "Delete" {
                    let mut n = (*c).clone();
                    n["metadata"]["annotations"][BEING_DELETED] = json!("yes");
                    let c = commit(store, &g, &c, n);
                    delete_object(store, &g, &c);
                }
                continue;
            }
        }
        if !sidecar || c["status"]["readyToUse"] == true {
            continue;
        }
        match (vh, snap_handle) {
            (_, Some(handle)) => pre_provisioned(store, sh, &c, &handle),
            (Some(vh), None) => cut(store, sh, &c, &driver, &vh),
            (None, None) => {}
        }
    }
}

/// A content naming an existing snapshot: ready when its copy exists.
fn pre_provisioned(store: &mut Store, sh: &Shared, c: &Arc<Value>, handle: &str) {
    let id = csi::snapshot_id(handle);
    let dir = sh.volumes.snapshot_dir(&id);
    if !dir.is_dir() {
        content_error(
            store,
            c,
            "SnapshotContentCheckandUpdateFailed",
            &format!(
                "Failed to check and update snapshot content: rpc error: code = NotFound desc = snapshot {handle} not found"
            ),
        );
        return;
    }
    let (created, size) = read_meta(&sh.volumes.snapshot_meta(&id)).unwrap_or((now_nanos(), 0));
    let mut n = (**c).clone();
    n["status"] = json!({"snapshotHandle": handle, "creationTime": created,
        "restoreSize": size, "readyToUse": true});
    commit(store, &contents_gr(), c, n);
}

/// CreateSnapshot: the cut is a copy of the volume's directory, begun at the first pass. The
/// status (handle, `creationTime` = when the copy began, restoreSize) appears once the copy
/// is complete, so a client that sees `creationTime` knows later writes are not in it;
/// readyToUse follows, after the fault delay if any.
fn cut(store: &mut Store, sh: &Shared, c: &Arc<Value>, driver: &str, vh: &str) {
    let objs = fault_sources(store, c);
    let failed = |why: &str| {
        format!("Failed to create snapshot: failed to take snapshot of the volume {vh}: {why:?}")
    };
    let ready_after = ready_after(&objs);
    if let Some(created) = c["status"]["creationTime"].as_i64() {
        // Cut; ready once the delay has passed.
        if now_nanos() >= created.saturating_add(ready_after.as_nanos() as i64) {
            let mut n = (**c).clone();
            n["status"]["readyToUse"] = json!(true);
            if let Some(m) = n["status"].as_object_mut() {
                m.remove("error");
            }
            commit(store, &contents_gr(), c, n);
        }
        return;
    }
    let handle = csi::snapshot_handle(driver, md(c, "uid"));
    let id = csi::snapshot_id(&handle);
    let (dir, meta) = (sh.volumes.snapshot_dir(&id), sh.volumes.snapshot_meta(&id));
    let src = volume_by_handle(store, driver, vh);
    let Some((created, size)) = read_meta(&meta) else {
        // The first pass: the cut begins now.
        if fails(&objs) {
            let m = failed(&format!(
                "rpc error: code = Internal desc = the storage system refused to snapshot {vh} (sim.berth.dev/fail: snapshot-failed)"
            ));
            content_error(store, c, "SnapshotCreationFailed", &m);
            return;
        }
        let Some((src, capacity)) = src else {
            let m = failed(&format!(
                "rpc error: code = NotFound desc = volume {vh} not found"
            ));
            content_error(store, c, "SnapshotCreationFailed", &m);
            return;
        };
        write_meta(&meta, now_nanos(), capacity);
        sh.volumes.copy_tree(&src, &dir);
        return;
    };
    // A copy begun before a restart of the simulator is taken again.
    let from = src.map(|(d, _)| d).unwrap_or_default();
    match sh.volumes.copy_tree(&from, &dir) {
        CopyProgress::Running => {}
        CopyProgress::Failed(e) => {
            sh.volumes.forget_copy(&dir);
            let _ = std::fs::remove_file(&meta);
            let why = if from.as_os_str().is_empty() {
                format!("rpc error: code = NotFound desc = volume {vh} not found")
            } else {
                format!("rpc error: code = Internal desc = {e}")
            };
            content_error(store, c, "SnapshotCreationFailed", &failed(&why));
        }
        CopyProgress::Done => {
            sh.volumes.forget_copy(&dir);
            let ready = now_nanos() >= created.saturating_add(ready_after.as_nanos() as i64);
            let mut n = (**c).clone();
            n["status"] = json!({"snapshotHandle": handle, "creationTime": created,
                "restoreSize": size, "readyToUse": ready});
            commit(store, &contents_gr(), c, n);
        }
    }
}

// ---------- snapshots: the common controller ----------

/// A VolumeSnapshot's error: `status.error` (and `readyToUse: false` when asked), plus a
/// Warning event; nothing is written when the same error is already set.
fn snapshot_error(
    store: &mut Store,
    s: &Arc<Value>,
    ready_false: bool,
    reason: &str,
    message: &str,
) {
    if s["status"]["error"]["message"] == message {
        return;
    }
    let mut n = (**s).clone();
    if !n["status"].is_object() {
        n["status"] = json!({});
    }
    n["status"]["error"] = json!({"message": message, "time": now_str()});
    if ready_false {
        n["status"]["readyToUse"] = json!(false);
    }
    let n = commit(store, &snapshots_gr(), s, n);
    store.record_event(&n, true, reason, message, CONTROLLER);
}

/// The bound PersistentVolume of a snapshot's source claim (the controller's
/// `getVolumeFromVolumeSnapshot`), or the controller's error text.
fn volume_of_claim(store: &Store, ns: &str, claim: &str) -> Result<Arc<Value>, String> {
    let pvc = store.get(&pvcs_gr(), ns, claim).ok_or_else(|| {
        format!(
            "failed to retrieve PVC {claim} from the lister: {:?}",
            format!("persistentvolumeclaim \"{claim}\" not found")
        )
    })?;
    if pvc["status"]["phase"] != "Bound" {
        return Err(format!(
            "the PVC {claim} is not yet bound to a PV, will not attempt to take a snapshot"
        ));
    }
    let pv_name = pvc["spec"]["volumeName"].as_str().unwrap_or("");
    let pv = store
        .get(&gr("", "persistentvolumes"), "", pv_name)
        .ok_or_else(|| {
            format!(
                "failed to retrieve PV {pv_name} from the API server: {:?}",
                format!("persistentvolumes \"{pv_name}\" not found")
            )
        })?;
    let r = &pv["spec"]["claimRef"];
    let uid_ok = r["uid"]
        .as_str()
        .is_none_or(|u| u.is_empty() || u == md(&pvc, "uid"));
    if r["name"] != claim || r["namespace"] != ns || !uid_ok {
        return Err("claim in dataSource not bound or invalid".into());
    }
    Ok(pv)
}

/// `SetDefaultSnapshotClass`: the default class of the volume's CSI driver.
fn default_class(store: &Store, ns: &str, name: &str, claim: &str) -> Result<String, String> {
    let pv = volume_of_claim(store, ns, claim)?;
    let Some(driver) = pv["spec"]["csi"]["driver"].as_str() else {
        return Err(format!(
            "snapshotting non-CSI volumes is not supported, snapshot:{ns}/{name}"
        ));
    };
    let defaults: Vec<String> = store
        .list(&classes_gr(), None)
        .iter()
        .filter(|c| c["metadata"]["annotations"][DEFAULT_CLASS] == "true" && c["driver"] == driver)
        .map(|c| md(c, "name").to_string())
        .collect();
    match defaults.len() {
        0 => Err("cannot find default snapshot class".into()),
        1 => Ok(defaults[0].clone()),
        n => Err(format!("{n} default snapshot classes were found")),
    }
}

fn snapshots(store: &mut Store) {
    let g = snapshots_gr();
    for s in store.list(&g, None) {
        if deleting(&s) {
            delete_snapshot(store, &s);
            continue;
        }
        let ns = md(&s, "namespace").to_string();
        let name = md(&s, "name").to_string();
        let claim = s["spec"]["source"]["persistentVolumeClaimName"]
            .as_str()
            .map(String::from);
        let content_name = s["spec"]["source"]["volumeSnapshotContentName"]
            .as_str()
            .map(String::from);
        // checkAndUpdateSnapshotClass, for dynamic snapshots.
        let mut s = s;
        if let (Some(claim), None) = (&claim, &content_name) {
            match s["spec"]["volumeSnapshotClassName"].as_str() {
                Some(cn) => {
                    if store.get(&classes_gr(), "", cn).is_none() {
                        let m = format!(
                            "Failed to get snapshot class with error volumesnapshotclass.snapshot.storage.k8s.io \"{cn}\" not found"
                        );
                        snapshot_error(store, &s, false, "GetSnapshotClassFailed", &m);
                        continue;
                    }
                }
                None => match default_class(store, &ns, &name, claim) {
                    Ok(cn) => {
                        let mut n = (*s).clone();
                        n["spec"]["volumeSnapshotClassName"] = json!(cn);
                        s = commit(store, &g, &s, n);
                    }
                    Err(e) => {
                        let m = format!("Failed to set default snapshot class with error {e}");
                        snapshot_error(store, &s, false, "SetDefaultSnapshotClassFailed", &m);
                        continue;
                    }
                },
            }
        }
        if claim.is_some() == content_name.is_some() {
            snapshot_error(
                store,
                &s,
                true,
                "SnapshotValidationError",
                "Exactly one of PersistentVolumeClaimName and VolumeSnapshotContentName should be specified",
            );
            continue;
        }
        let s = add_finalizer(store, &g, &s, AS_SOURCE);
        let bound = s["status"]["boundVolumeSnapshotContentName"]
            .as_str()
            .map(String::from);
        if s["status"]["readyToUse"] == true && bound.is_some() {
            let content = bound
                .as_deref()
                .and_then(|b| store.get(&contents_gr(), "", b));
            match content {
                None => snapshot_error(
                    store,
                    &s,
                    true,
                    "SnapshotContentMissing",
                    "VolumeSnapshotContent is missing",
                ),
                Some(_) => {
                    add_finalizer(store, &g, &s, BOUND);
                }
            }
            continue;
        }
        if let Some(cn) = content_name {
            // A pre-provisioned content.
            let Some(content) = store.get(&contents_gr(), "", &cn) else {
                snapshot_error(
                    store,
                    &s,
                    true,
                    "SnapshotContentMissing",
                    "VolumeSnapshotContent is missing",
                );
                continue;
            };
            let r = &content["spec"]["volumeSnapshotRef"];
            let uid = r["uid"].as_str().unwrap_or("");
            if r["name"] != name.as_str()
                || r["namespace"] != ns.as_str()
                || (!uid.is_empty() && uid != md(&s, "uid"))
            {
                let m = format!(
                    "Snapshot failed to bind VolumeSnapshotContent, Could not bind snapshot {name} and content {cn}, the VolumeSnapshotRef does not match"
                );
                snapshot_error(store, &s, true, "SnapshotBindFailed", &m);
                continue;
            }
            let content = if uid.is_empty() {
                let mut n = (*content).clone();
                n["spec"]["volumeSnapshotRef"]["uid"] = json!(md(&s, "uid"));
                commit(store, &contents_gr(), &content, n)
            } else {
                content
            };
            update_status(store, &s, &content);
            continue;
        }
        let cn = format!("snapcontent-{}", md(&s, "uid"));
        if let Some(content) = store.get(&contents_gr(), "", &cn) {
            update_status(store, &s, &content);
            continue;
        }
        match create_content(store, &s, &cn) {
            Ok(content) => {
                let m =
                    format!("Waiting for a snapshot {ns}/{name} to be created by the CSI driver.");
                store.record_event(&s, false, "CreatingSnapshot", &m, CONTROLLER);
                update_status(store, &s, &content);
            }
            Err(e) => {
                let m = format!("Failed to create snapshot content with error {e}");
                snapshot_error(store, &s, true, "SnapshotContentCreationFailed", &m);
            }
        }
    }
}

/// `createSnapshotContent`: protects the claim, then writes `snapcontent-<uid>`.
fn create_content(store: &mut Store, s: &Arc<Value>, cn: &str) -> Result<Arc<Value>, String> {
    let ns = md(s, "namespace").to_string();
    let name = md(s, "name").to_string();
    let claim = s["spec"]["source"]["persistentVolumeClaimName"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let fail_update = |what: &str, m: &str| {
        format!("snapshot controller failed to update {what} on API server: {m}")
    };
    let Some(pvc) = store.get(&pvcs_gr(), &ns, &claim) else {
        return Err(fail_update(&name, "cannot get claim from snapshot"));
    };
    if !has_finalizer(&pvc, PVC_AS_SOURCE) {
        if deleting(&pvc) {
            return Err(fail_update(
                &claim,
                "cannot add finalizer on claim because it is being deleted",
            ));
        }
        add_finalizer(store, &pvcs_gr(), &pvc, PVC_AS_SOURCE);
    }
    let input =
        |e: String| format!("failed to get input parameters to create snapshot {name}: {e:?}");
    let class_name = s["spec"]["volumeSnapshotClassName"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let class = store.get(&classes_gr(), "", &class_name).ok_or_else(|| {
        input(format!(
            "volumesnapshotclass.snapshot.storage.k8s.io \"{class_name}\" not found"
        ))
    })?;
    let pv = volume_of_claim(store, &ns, &claim).map_err(input)?;
    let Some(vh) = pv["spec"]["csi"]["volumeHandle"].as_str() else {
        return Err(format!(
            "cannot find CSI PersistentVolumeSource for volume {}",
            md(&pv, "name")
        ));
    };
    let mut content = json!({"apiVersion": API_VERSION, "kind": "VolumeSnapshotContent",
        "metadata": {"name": cn},
        "spec": {"volumeSnapshotRef": {"apiVersion": API_VERSION, "kind": "VolumeSnapshot",
                "name": name, "namespace": ns, "uid": md(s, "uid"),
                "resourceVersion": md(s, "resourceVersion")},
            "source": {"volumeHandle": vh},
            "volumeSnapshotClassName": class_name,
            "deletionPolicy": class["deletionPolicy"].as_str().unwrap_or("Delete"),
            "driver": class["driver"],
            "sourceVolumeMode": pv["spec"]["volumeMode"].as_str().unwrap_or("Filesystem")}});
    store.prepare_create(&mut content);
    Ok(store.commit(&contents_gr(), content, None))
}

/// `updateSnapshotStatus`: the snapshot's status follows its content's.
fn update_status(store: &mut Store, s: &Arc<Value>, content: &Value) {
    let cs = &content["status"];
    let mut st = if s["status"].is_object() {
        s["status"].clone()
    } else {
        json!({})
    };
    st["boundVolumeSnapshotContentName"] = json!(md(content, "name"));
    let newly_created = st["creationTime"].is_null() && cs["creationTime"].is_i64();
    if let Some(t) = cs["creationTime"].as_i64()
        && st["creationTime"].is_null()
    {
        st["creationTime"] = json!(rfc3339_of_nanos(t));
    }
    let ready = cs["readyToUse"] == true;
    let newly_ready = ready && st["readyToUse"] != true;
    st["readyToUse"] = json!(ready);
    if let Some(n) = cs["restoreSize"].as_i64()
        && (st["restoreSize"].is_null() || st["restoreSize"] == "0")
    {
        st["restoreSize"] = json!(binary_quantity(n));
    }
    match cs.get("error") {
        Some(e) if e.is_object() => st["error"] = e.clone(),
        _ => {
            if let Some(m) = st.as_object_mut() {
                m.remove("error");
            }
        }
    }
    if st == s["status"] {
        return;
    }
    let key = format!("{}/{}", md(s, "namespace"), md(s, "name"));
    let mut n = (**s).clone();
    n["status"] = st;
    let n = commit(store, &snapshots_gr(), s, n);
    let n = add_finalizer(store, &snapshots_gr(), &n, BOUND);
    if newly_created {
        let m = format!("Snapshot {key} was successfully created by the CSI driver.");
        store.record_event(&n, false, "SnapshotCreated", &m, CONTROLLER);
    }
    if newly_ready {
        let m = format!("Snapshot {key} is ready to use.");
        store.record_event(&n, false, "SnapshotReady", &m, CONTROLLER);
    }
}

/// A claim being provisioned from the snapshot (Pending, with it as its data source).
fn restoring_from(store: &Store, s: &Value) -> bool {
    store
        .list(&pvcs_gr(), Some(md(s, "namespace")))
        .iter()
        .any(|p| {
            p["status"]["phase"] == "Pending"
                && snapshot_source(p).is_some_and(|(group, n)| group == GROUP && n == md(s, "name"))
        })
}

/// A deleted VolumeSnapshot: its content goes with `deletionPolicy: Delete`, then its
/// finalizers.
fn delete_snapshot(store: &mut Store, s: &Arc<Value>) {
    if restoring_from(store, s) {
        store.record_event_every(
            s,
            true,
            "SnapshotDeletePending",
            "Snapshot is being used to restore a PVC",
            CONTROLLER,
            EVERY,
        );
        return;
    }
    let cn = s["status"]["boundVolumeSnapshotContentName"]
        .as_str()
        .or(s["spec"]["source"]["volumeSnapshotContentName"].as_str())
        .map(String::from);
    if let Some(cn) = cn
        && let Some(content) = store.get(&contents_gr(), "", &cn)
    {
        let r = &content["spec"]["volumeSnapshotRef"];
        let ours = r["name"] == md(s, "name") && r["namespace"] == md(s, "namespace");
        if ours && content["spec"]["deletionPolicy"] == "Delete" {
            let mut n = (*content).clone();
            n["metadata"]["annotations"][BEING_DELETED] = json!("yes");
            let content = commit(store, &contents_gr(), &content, n);
            delete_object(store, &contents_gr(), &content);
        }
    }
    let g = snapshots_gr();
    if let Some(s) = remove_finalizer(store, &g, s, AS_SOURCE) {
        remove_finalizer(store, &g, &s, BOUND);
    }
}

/// `checkandRemovePVCFinalizer`: a claim keeps its protection while a snapshot of it is not
/// ready yet.
fn release_claims(store: &mut Store) {
    for pvc in store.list(&pvcs_gr(), None) {
        if !has_finalizer(&pvc, PVC_AS_SOURCE) {
            continue;
        }
        let ns = md(&pvc, "namespace");
        let in_use = store.list(&snapshots_gr(), Some(ns)).iter().any(|s| {
            s["spec"]["source"]["persistentVolumeClaimName"] == md(&pvc, "name")
                && s["status"]["readyToUse"] != true
        });
        if !in_use {
            // A deleted claim is removed by the volume controller (it releases the volume).
            let mut n = (*pvc).clone();
            let fins: Vec<Value> = n["metadata"]["finalizers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|f| f != PVC_AS_SOURCE)
                .collect();
            n["metadata"]["finalizers"] = Value::Array(fins);
            commit(store, &pvcs_gr(), &pvc, n);
        }
    }
}

// ---------- claims from a snapshot: the external-provisioner ----------

/// The claim's snapshot data source: (apiGroup, name), from `dataSourceRef`, else
/// `dataSource`, when its kind is VolumeSnapshot.
fn snapshot_source(pvc: &Value) -> Option<(String, String)> {
    let spec = &pvc["spec"];
    let ds = if spec["dataSourceRef"].is_object() {
        &spec["dataSourceRef"]
    } else {
        &spec["dataSource"]
    };
    if ds["kind"] != "VolumeSnapshot" {
        return None;
    }
    Some((
        ds["apiGroup"].as_str().unwrap_or("").to_string(),
        ds["name"].as_str().unwrap_or("").to_string(),
    ))
}

/// `getSnapshotSource`: the directory of the snapshot's copy, or why it cannot be used.
fn snapshot_copy(
    store: &Store,
    sh: &Shared,
    pvc: &Value,
    class: &str,
    provisioner: &str,
    snap: &str,
) -> Result<PathBuf, String> {
    let ns = md(pvc, "namespace");
    if store.type_for(GROUP, "volumesnapshots").is_none() {
        return Err(format!(
            "error getting snapshot {snap} from api server: the server could not find the requested resource (get volumesnapshots.snapshot.storage.k8s.io {snap})"
        ));
    }
    let s = store.get(&snapshots_gr(), ns, snap).ok_or_else(|| {
        format!(
            "error getting snapshot {snap} from api server: volumesnapshots.snapshot.storage.k8s.io \"{snap}\" not found"
        )
    })?;
    if deleting(&s) && !has_finalizer(&s, AS_SOURCE) {
        return Err(format!("snapshot {snap} is being deleted"));
    }
    let Some(cn) = s["status"]["boundVolumeSnapshotContentName"].as_str() else {
        return Err(format!("snapshot {snap} not bound"));
    };
    let content = store
        .get(&contents_gr(), "", cn)
        .ok_or_else(|| format!("error getting snapshotcontent {cn} for snapshot {snap}"))?;
    let r = &content["spec"]["volumeSnapshotRef"];
    if r["uid"] != md(&s, "uid") || r["namespace"] != ns || r["name"] != snap {
        return Err(format!(
            "snapshotcontent {cn} for snapshot {snap} is bound to a different snapshot"
        ));
    }
    if content["spec"]["driver"] != provisioner {
        return Err(format!(
            "snapshotcontent {cn} for snapshot {snap} is not handled by CSI driver of StorageClass {class}"
        ));
    }
    if s["status"]["readyToUse"] != true {
        return Err(format!("snapshot {snap} is not Ready"));
    }
    let Some(handle) = content["status"]["snapshotHandle"].as_str() else {
        return Err(format!("snapshot handle {snap} is not available"));
    };
    if let Some(size) = s["status"]["restoreSize"].as_str() {
        let Some(req) = pvc["spec"]["resources"]["requests"]["storage"].as_str() else {
            return Err(format!(
                "error getting capacity for PVC {} when creating snapshot {snap}",
                md(pvc, "name")
            ));
        };
        let (want, have) = (
            crate::controllers::bytes_of(req),
            crate::controllers::bytes_of(size),
        );
        if want < have {
            return Err(format!(
                "requested volume size {want} is less than the size {have} for the source snapshot {snap}"
            ));
        }
    }
    Ok(sh.volumes.snapshot_dir(&csi::snapshot_id(handle)))
}

/// Before a claim is bound: when its data source is a VolumeSnapshot, fill `dir` (its new
/// volume's directory) with the snapshot's copy. true: go on binding; false: not yet (the
/// copy runs, or provisioning failed and an event says why).
pub fn prefill(
    store: &mut Store,
    sh: &Shared,
    pvc: &Arc<Value>,
    class: &str,
    provisioner: &str,
    dir: &Path,
) -> bool {
    let Some((group, snap)) = snapshot_source(pvc) else {
        return true;
    };
    let component = format!("{provisioner}_berth-sim");
    if !csi::is_driver(store, provisioner) {
        let m = format!(
            "plugin \"{provisioner}\" is not a CSI plugin. Only CSI plugin can provision a claim with a datasource"
        );
        store.record_event_every(
            pvc,
            true,
            "ProvisioningFailed",
            &m,
            "persistentvolume-controller",
            EVERY,
        );
        return false;
    }
    let key = format!("{}/{}", md(pvc, "namespace"), md(pvc, "name"));
    store.record_event_every(
        pvc,
        false,
        "Provisioning",
        &format!("External provisioner is provisioning volume for claim {key:?}"),
        &component,
        EVERY,
    );
    let failed =
        |cause: String| format!("failed to provision volume with StorageClass {class:?}: {cause}");
    if group != GROUP {
        let m = failed(format!(
            "the PVC source does not belong to the right APIGroup. Expected {GROUP}, Got {group}"
        ));
        store.record_event_every(pvc, true, "ProvisioningFailed", &m, &component, EVERY);
        return false;
    }
    let src = match snapshot_copy(store, sh, pvc, class, provisioner, &snap) {
        Ok(src) => src,
        Err(cause) => {
            let m = failed(format!(
                "error getting handle for DataSource Type VolumeSnapshot by Name {snap}: {cause}"
            ));
            store.record_event_every(pvc, true, "ProvisioningFailed", &m, &component, EVERY);
            return false;
        }
    };
    match sh.volumes.copy_tree(&src, dir) {
        CopyProgress::Running => false,
        CopyProgress::Done => {
            sh.volumes.forget_copy(dir);
            true
        }
        CopyProgress::Failed(e) => {
            sh.volumes.forget_copy(dir);
            let m = failed(format!("rpc error: code = Internal desc = {e}"));
            store.record_event_every(pvc, true, "ProvisioningFailed", &m, &component, EVERY);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_sizes_print_as_binary_quantities() {
        assert_eq!(binary_quantity(1 << 30), "1Gi");
        assert_eq!(binary_quantity(3 << 29), "1536Mi");
        assert_eq!(binary_quantity(1500), "1500");
        assert_eq!(binary_quantity(0), "0");
    }

    #[test]
    fn the_crds_parse_and_serve_v1_only() {
        let p = crate::profile::Profile {
            volume_snapshots: true,
            ..Default::default()
        };
        let crds = profile_crds(&p);
        assert_eq!(crds.len(), 3);
        for c in &crds {
            assert_eq!(c["spec"]["group"], GROUP);
            let served: Vec<&str> = c["spec"]["versions"]
                .as_array()
                .expect("versions")
                .iter()
                .filter(|v| v["served"] == true)
                .filter_map(|v| v["name"].as_str())
                .collect();
            assert_eq!(served, ["v1"]);
            assert!(c.get("status").is_none());
        }
        assert!(profile_crds(&crate::profile::Profile::default()).is_empty());
    }

    #[test]
    fn one_data_source_is_copied_to_the_other() {
        let mut spec =
            json!({"dataSource": {"apiGroup": GROUP, "kind": "VolumeSnapshot", "name": "s"}});
        normalize_data_sources(&mut spec);
        assert_eq!(spec["dataSourceRef"]["name"], "s");
        let mut spec =
            json!({"dataSourceRef": {"apiGroup": GROUP, "kind": "VolumeSnapshot", "name": "s"}});
        normalize_data_sources(&mut spec);
        assert_eq!(spec["dataSource"]["kind"], "VolumeSnapshot");
        let mut spec =
            json!({"dataSourceRef": {"kind": "VolumeSnapshot", "name": "s", "namespace": "x"}});
        normalize_data_sources(&mut spec);
        assert!(spec["dataSource"].is_null());
    }
}
