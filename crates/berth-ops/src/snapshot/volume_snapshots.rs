//! Crash-consistent copies of an app's claims: a CSI VolumeSnapshot of each claim whose volume
//! has a VolumeSnapshotClass, all taken at nearly the same moment, then a temporary claim
//! made from each snapshot for the mover to read instead of the live volume. Claims without
//! one are read live, and the snapshot says so. `docs/formats/snapshot.md`, section 13.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use berth_deploy::Cluster;
use berth_deploy::object::{LABEL_KIND, ObjectRef, object_ref};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{TAG_CLAIM, TAG_RUN, note};
use crate::{Error, Result, Sink};

/// The VolumeSnapshot API.
pub const API_VERSION: &str = "snapshot.storage.k8s.io/v1";
/// The annotation marking a driver's default VolumeSnapshotClass.
pub const DEFAULT_CLASS: &str = "snapshot.storage.kubernetes.io/is-default-class";

/// How a claim's files were read (`consistency` in `app/claims.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Consistency {
    /// From a VolumeSnapshot: the volume as it was at one instant.
    CrashConsistent,
    /// From the live volume, file by file (also: recorded before the field existed).
    #[default]
    Live,
}

/// What berth does with one claim.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// A VolumeSnapshot of this class; `retain`: the class keeps its snapshots
    /// (`deletionPolicy: Retain`), None when unknown.
    Snapshot { class: String, retain: Option<bool> },
    /// Read live, and why.
    Live { reason: String },
}

impl Plan {
    fn live(reason: impl Into<String>) -> Plan {
        Plan::Live {
            reason: reason.into(),
        }
    }

    /// The consistency this plan gives.
    pub fn consistency(&self) -> Consistency {
        match self {
            Plan::Snapshot { .. } => Consistency::CrashConsistent,
            Plan::Live { .. } => Consistency::Live,
        }
    }
}

/// The `berth.dev/consistency` tag's value for these plans (None without claims).
pub fn consistency_tag(plans: &[Plan]) -> Option<&'static str> {
    let snap = plans
        .iter()
        .filter(|p| matches!(p, Plan::Snapshot { .. }))
        .count();
    match (plans.len(), snap) {
        (0, _) => None,
        (n, s) if s == n => Some("crash-consistent"),
        (_, 0) => Some("live"),
        _ => Some("mixed"),
    }
}

fn is_default(class: &Value) -> bool {
    class["metadata"]["annotations"][DEFAULT_CLASS] == "true"
}

/// The class for `driver`'s volumes: the one marked default, else the only one.
pub fn choose_class(classes: &[Value], driver: &str) -> std::result::Result<Plan, String> {
    let of: Vec<&Value> = classes.iter().filter(|c| c["driver"] == driver).collect();
    let defaults: Vec<&&Value> = of.iter().filter(|c| is_default(c)).collect();
    let pick = |c: &Value| Plan::Snapshot {
        class: c["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        retain: Some(c["deletionPolicy"] == "Retain"),
    };
    match (defaults.len(), of.len()) {
        (1, _) => Ok(pick(defaults[0])),
        (0, 1) => Ok(pick(of[0])),
        (0, 0) => Err(format!("no VolumeSnapshotClass for driver {driver}")),
        (0, n) => Err(format!(
            "{n} VolumeSnapshotClasses for driver {driver} and none is marked default ({DEFAULT_CLASS}: \"true\")"
        )),
        (n, _) => Err(format!(
            "{n} VolumeSnapshotClasses for driver {driver} are marked default"
        )),
    }
}

fn cluster_ref(api_version: &str, kind: &str, ns: &str, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: ns.into(),
        name: name.into(),
    }
}

/// Some(object) / None when absent / Err(()) when this account may not read it.
async fn get_readable(
    cluster: &Cluster,
    r: &ObjectRef,
) -> Result<std::result::Result<Option<Value>, ()>> {
    match cluster.get(r).await {
        Ok(v) => Ok(Ok(v)),
        Err(e) if e.code() == 403 => Ok(Err(())),
        Err(e) => Err(Error::other(e)),
    }
}

/// Whether the cluster serves VolumeSnapshots.
pub async fn served(cluster: &Cluster) -> Result<bool> {
    Ok(cluster
        .resolve(API_VERSION, "VolumeSnapshot")
        .await
        .map_err(Error::other)?
        .is_some())
}

/// The cluster's VolumeSnapshotClasses; None when this account may not list them.
async fn classes(cluster: &Cluster) -> Result<Option<Vec<Value>>> {
    match cluster
        .list(API_VERSION, "VolumeSnapshotClass", "", None)
        .await
    {
        Ok(l) => Ok(Some(l)),
        Err(e) if e.code() == 403 => Ok(None),
        Err(e) => Err(Error::other(e)),
    }
}

/// Decides, per bound claim, between a VolumeSnapshot and a live copy. `hints`
/// (StorageClass → VolumeSnapshotClass, recorded by `berth snapshot schedule`) stand in for
/// what this account may not read.
pub async fn plan(
    cluster: &Cluster,
    claims: &[Value],
    hints: &BTreeMap<String, String>,
) -> Result<Vec<Plan>> {
    if claims.is_empty() {
        return Ok(Vec::new());
    }
    if !served(cluster).await? {
        let why = "the cluster does not serve snapshot.storage.k8s.io/v1 VolumeSnapshots";
        return Ok(claims.iter().map(|_| Plan::live(why)).collect());
    }
    let classes = classes(cluster).await?;
    let mut out = Vec::new();
    for c in claims {
        let sc = c["spec"]["storageClassName"].as_str().unwrap_or("");
        let hinted = || match hints.get(sc) {
            Some(class) => Plan::Snapshot {
                class: class.clone(),
                retain: None,
            },
            None => Plan::live(format!(
                "this account may not read the volume's CSI driver or the VolumeSnapshotClasses, and the schedule recorded no VolumeSnapshotClass for StorageClass {sc:?} (run `berth snapshot schedule` again to record one)"
            )),
        };
        let pv_name = c["spec"]["volumeName"].as_str().unwrap_or("");
        // The driver: the volume's own (the truth), else its class's provisioner.
        let driver = match get_readable(
            cluster,
            &cluster_ref("v1", "PersistentVolume", "", pv_name),
        )
        .await?
        {
            Ok(Some(pv)) => match pv["spec"]["csi"]["driver"].as_str() {
                Some(d) => Some(d.to_string()),
                None => {
                    out.push(Plan::live(format!(
                        "volume {pv_name} is not a CSI volume (the snapshot controller snapshots CSI volumes only)"
                    )));
                    continue;
                }
            },
            Ok(None) => {
                out.push(Plan::live(format!("volume {pv_name} not found")));
                continue;
            }
            Err(()) => match get_readable(
                cluster,
                &cluster_ref("storage.k8s.io/v1", "StorageClass", "", sc),
            )
            .await?
            {
                Ok(Some(class)) => class["provisioner"].as_str().map(String::from),
                _ => None,
            },
        };
        let plan = match (&classes, driver) {
            (Some(cls), Some(d)) => choose_class(cls, &d).unwrap_or_else(Plan::live),
            _ => hinted(),
        };
        out.push(plan);
    }
    Ok(out)
}

/// For `berth snapshot schedule`: StorageClass → VolumeSnapshotClass for every class whose
/// provisioner is a CSI driver (a CSIDriver object, or a CSI volume of one of `claims`).
pub async fn schedule_hints(
    cluster: &Cluster,
    claims: &[Value],
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if !served(cluster).await? {
        return Ok(out);
    }
    let Some(classes) = classes(cluster).await? else {
        return Ok(out);
    };
    let list = |kind: &'static str, api: &'static str| async move {
        match cluster.list(api, kind, "", None).await {
            Ok(l) => Ok(l),
            Err(e) if e.code() == 403 => Ok(Vec::new()),
            Err(e) => Err(Error::other(e)),
        }
    };
    let mut drivers: Vec<String> = list("CSIDriver", "storage.k8s.io/v1")
        .await?
        .iter()
        .filter_map(|d| d["metadata"]["name"].as_str().map(String::from))
        .collect();
    for c in claims {
        let pv_name = c["spec"]["volumeName"].as_str().unwrap_or("");
        if let Ok(Some(pv)) =
            get_readable(cluster, &cluster_ref("v1", "PersistentVolume", "", pv_name)).await?
            && let Some(d) = pv["spec"]["csi"]["driver"].as_str()
        {
            drivers.push(d.to_string());
        }
    }
    for sc in list("StorageClass", "storage.k8s.io/v1").await? {
        let (Some(name), Some(prov)) =
            (sc["metadata"]["name"].as_str(), sc["provisioner"].as_str())
        else {
            continue;
        };
        if !drivers.iter().any(|d| d == prov) {
            continue;
        }
        if let Ok(Plan::Snapshot { class, .. }) = choose_class(&classes, prov) {
            out.insert(name.to_string(), class);
        }
    }
    Ok(out)
}

/// `STORAGECLASS=VSCLASS` as `--volume-snapshot-class` takes it.
pub fn parse_hint(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.to_string(), b.to_string())),
        _ => Err(format!(
            "{s:?} is not STORAGECLASS=VOLUMESNAPSHOTCLASS (e.g. gp3-csi=csi-aws-vsc)"
        )),
    }
}

/// One claim's VolumeSnapshot and temporary claim.
#[derive(Debug, Clone)]
struct Taken {
    /// The source claim.
    claim: String,
    /// The VolumeSnapshot's (and the temporary claim's) name.
    name: String,
    class: String,
    retain: Option<bool>,
    /// The source claim (its spec, for the temporary claim).
    source: Value,
    /// `status.restoreSize` once ready.
    restore_size: Option<String>,
    /// Created.
    temp_claim: bool,
    /// Cut (`status.creationTime`).
    cut: bool,
}

/// The VolumeSnapshots of one run.
pub struct Snapshots {
    ns: String,
    run: String,
    taken: Vec<Taken>,
}

/// Byte count of a Kubernetes quantity (`1Gi`, `500M`, `1073741824`); None when unreadable.
pub fn quantity_bytes(q: &str) -> Option<u128> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (num, unit) = q.split_at(split);
    let mult: u128 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        _ => return None,
    };
    let n: f64 = num.parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    Some((n * mult as f64).ceil() as u128)
}

impl Snapshots {
    /// Nothing taken yet.
    pub fn new(ns: &str, run: &str) -> Snapshots {
        Snapshots {
            ns: ns.into(),
            run: run.into(),
            taken: Vec::new(),
        }
    }

    fn labels(&self) -> Value {
        json!({LABEL_KIND: "mover", TAG_RUN: self.run})
    }

    /// The temporary claim the mover of `claim` reads, when it has one.
    pub fn mount_claim(&self, claim: &str) -> Option<String> {
        self.taken
            .iter()
            .find(|t| t.claim == claim && t.temp_claim)
            .map(|t| t.name.clone())
    }

    /// Creates the VolumeSnapshot of every claim planned for one, one right after the other.
    pub async fn take(
        &mut self,
        cluster: &Cluster,
        claims: &[Value],
        plans: &[Plan],
        sink: &dyn Sink,
    ) -> Result<()> {
        for (i, (c, p)) in claims.iter().zip(plans).enumerate() {
            let Plan::Snapshot { class, retain } = p else {
                continue;
            };
            let claim = object_ref(c).name;
            let name = format!("berth-{}-{i}", self.run);
            let vs = json!({"apiVersion": API_VERSION, "kind": "VolumeSnapshot",
                "metadata": {"name": name, "namespace": self.ns, "labels": self.labels(),
                    "annotations": {TAG_CLAIM: claim}},
                "spec": {"volumeSnapshotClassName": class,
                    "source": {"persistentVolumeClaimName": claim}}});
            cluster.create(&vs).await.map_err(Error::other)?;
            self.taken.push(Taken {
                claim,
                name,
                class: class.clone(),
                retain: *retain,
                source: c.clone(),
                restore_size: None,
                temp_claim: false,
                cut: false,
            });
        }
        if !self.taken.is_empty() {
            note(
                sink,
                format!(
                    "volume snapshots: {}",
                    self.taken
                        .iter()
                        .map(|t| format!(
                            "volumesnapshot/{} of claim {} (class {})",
                            t.name, t.claim, t.class
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        Ok(())
    }

    /// Whether any VolumeSnapshot was taken.
    pub fn is_empty(&self) -> bool {
        self.taken.is_empty()
    }

    /// Waits until every VolumeSnapshot is cut (`creationTime`), or, with `ready`, ready to
    /// use; gives up at `deadline`, naming the snapshot and its error.
    pub async fn wait(
        &mut self,
        cluster: &Cluster,
        ready: bool,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<()> {
        let what = if ready { "ready to use" } else { "cut" };
        loop {
            let mut pending = None;
            for t in &mut self.taken {
                let r = cluster_ref(API_VERSION, "VolumeSnapshot", &self.ns, &t.name);
                let Some(vs) = cluster.get(&r).await.map_err(Error::other)? else {
                    return Err(Error::Failed(format!(
                        "volumesnapshot/{} (of claim {}) in namespace {} was deleted while berth waited for it",
                        t.name, t.claim, self.ns
                    )));
                };
                let st = &vs["status"];
                t.cut |= st["creationTime"].is_string() || st["readyToUse"] == true;
                let done = if ready {
                    st["readyToUse"] == true
                } else {
                    t.cut
                };
                if done {
                    if let Some(s) = st["restoreSize"].as_str() {
                        t.restore_size = Some(s.to_string());
                    } else if let Some(n) = st["restoreSize"].as_u64() {
                        t.restore_size = Some(n.to_string());
                    }
                } else if pending.is_none() {
                    pending = Some((t.name.clone(), t.claim.clone(), vs.clone()));
                }
            }
            let Some((name, claim, vs)) = pending else {
                return Ok(());
            };
            if Instant::now() >= deadline {
                let st = &vs["status"];
                let ready_to_use = match &st["readyToUse"] {
                    Value::Bool(b) => b.to_string(),
                    _ => "not set".to_string(),
                };
                let error = st["error"]["message"]
                    .as_str()
                    .map(|m| format!("; status.error: {m}"))
                    .unwrap_or_default();
                return Err(Error::Failed(format!(
                    "volumesnapshot/{name} of claim {claim} in namespace {} was not {what} within {}s (readyToUse: {ready_to_use}{error}); see `kubectl -n {} describe volumesnapshot {name}`; a large volume may need a longer --timeout",
                    self.ns,
                    timeout.as_secs(),
                    self.ns
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Creates a claim from each VolumeSnapshot (ready by now), as large as the source claim
    /// or the snapshot's restoreSize, whichever is larger.
    pub async fn make_claims(&mut self, cluster: &Cluster) -> Result<()> {
        for t in &mut self.taken {
            let spec = &t.source["spec"];
            let request = spec["resources"]["requests"]["storage"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let size = match (&t.restore_size, quantity_bytes(&request)) {
                (Some(r), Some(req)) if quantity_bytes(r).is_some_and(|b| b > req) => r.clone(),
                (Some(r), None) => r.clone(),
                _ => request,
            };
            let mut pvc_spec = json!({"accessModes": spec["accessModes"],
                "resources": {"requests": {"storage": size}},
                "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": t.name}});
            for k in ["storageClassName", "volumeMode"] {
                if spec[k].is_string() {
                    pvc_spec[k] = spec[k].clone();
                }
            }
            let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": t.name, "namespace": self.ns,
                    "labels": {LABEL_KIND: "mover", TAG_RUN: self.run},
                    "annotations": {TAG_CLAIM: t.claim}},
                "spec": pvc_spec});
            cluster.create(&pvc).await.map_err(Error::other)?;
            t.temp_claim = true;
        }
        Ok(())
    }

    /// Why temporary claims are not bound: their latest Warning events.
    pub async fn claim_problems(&self, cluster: &Cluster) -> String {
        let events = cluster
            .list("v1", "Event", &self.ns, None)
            .await
            .unwrap_or_default();
        let mut out = Vec::new();
        for t in self.taken.iter().filter(|t| t.temp_claim) {
            let last = events
                .iter()
                .filter(|e| {
                    e["type"] == "Warning"
                        && e["involvedObject"]["kind"] == "PersistentVolumeClaim"
                        && e["involvedObject"]["name"] == t.name.as_str()
                })
                .max_by_key(|e| e["lastTimestamp"].as_str().unwrap_or("").to_string());
            if let Some(m) = last.and_then(|e| e["message"].as_str()) {
                out.push(format!(
                    "claim {} (from volumesnapshot/{} of claim {}): {m}",
                    t.name, t.name, t.claim
                ));
            }
        }
        out.join("; ")
    }

    /// Deletes the temporary claims, then the VolumeSnapshots; a content whose class retains
    /// its snapshots is switched to `Delete` first. Failures become notes.
    pub async fn cleanup(&self, cluster: &Cluster, sink: &dyn Sink) {
        for t in self.taken.iter().filter(|t| t.temp_claim) {
            let r = cluster_ref("v1", "PersistentVolumeClaim", &self.ns, &t.name);
            if let Err(e) = cluster.delete(&r).await {
                note(
                    sink,
                    format!("could not delete the temporary claim {}: {e}", t.name),
                );
            }
        }
        for t in &self.taken {
            let r = cluster_ref(API_VERSION, "VolumeSnapshot", &self.ns, &t.name);
            if t.retain != Some(false) {
                self.release_content(cluster, &r, t, sink).await;
            }
            if let Err(e) = cluster.delete(&r).await {
                note(
                    sink,
                    format!(
                        "could not delete volumesnapshot/{} in namespace {}: {e}; delete it with `kubectl -n {} delete volumesnapshot {}`",
                        t.name, self.ns, self.ns, t.name
                    ),
                );
            }
        }
    }

    /// Sets the bound content's `deletionPolicy` to `Delete`, so the storage system's snapshot
    /// goes with the VolumeSnapshot.
    async fn release_content(&self, cluster: &Cluster, r: &ObjectRef, t: &Taken, sink: &dyn Sink) {
        let Ok(Some(vs)) = cluster.get(r).await else {
            return;
        };
        let Some(content) = vs["status"]["boundVolumeSnapshotContentName"].as_str() else {
            return;
        };
        let cr = cluster_ref(API_VERSION, "VolumeSnapshotContent", "", content);
        let kept = |why: String| {
            format!(
                "volumesnapshotcontent/{content} keeps the storage system's snapshot (class {} has deletionPolicy Retain) and {why}; delete it with `kubectl patch volumesnapshotcontent {content} --type merge -p '{{\"spec\":{{\"deletionPolicy\":\"Delete\"}}}}' && kubectl delete volumesnapshotcontent {content}`",
                t.class
            )
        };
        for _ in 0..3 {
            let c = match cluster.get(&cr).await {
                Ok(Some(c)) => c,
                Ok(None) => return,
                Err(e) => {
                    if t.retain == Some(true) {
                        note(sink, kept(format!("berth could not read it ({e})")));
                    }
                    return;
                }
            };
            if c["spec"]["deletionPolicy"] != "Retain" {
                return;
            }
            let mut c = c;
            c["spec"]["deletionPolicy"] = json!("Delete");
            match cluster.replace(&c).await {
                Ok(_) => return,
                Err(e) if e.code() == 409 => continue,
                Err(e) => {
                    note(sink, kept(format!("berth could not change it ({e})")));
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, driver: &str, default: bool, policy: &str) -> Value {
        let mut c = json!({"metadata": {"name": name}, "driver": driver, "deletionPolicy": policy});
        if default {
            c["metadata"]["annotations"] = json!({DEFAULT_CLASS: "true"});
        }
        c
    }

    #[test]
    fn the_default_class_of_the_driver_wins_else_its_only_class() {
        let classes = vec![
            class("a", "ebs.csi.aws.com", false, "Delete"),
            class("b", "ebs.csi.aws.com", true, "Retain"),
            class("c", "disk.csi.azure.com", false, "Delete"),
            class("d", "file.csi.azure.com", false, "Delete"),
            class("e", "file.csi.azure.com", false, "Delete"),
            class("f", "x.csi", true, "Delete"),
            class("g", "x.csi", true, "Delete"),
        ];
        let snap = |c: &str, r: bool| {
            Ok(Plan::Snapshot {
                class: c.into(),
                retain: Some(r),
            })
        };
        assert_eq!(choose_class(&classes, "ebs.csi.aws.com"), snap("b", true));
        assert_eq!(
            choose_class(&classes, "disk.csi.azure.com"),
            snap("c", false)
        );
        let e = choose_class(&classes, "file.csi.azure.com").unwrap_err();
        assert!(
            e.contains(
                "2 VolumeSnapshotClasses for driver file.csi.azure.com and none is marked default"
            ),
            "{e}"
        );
        let e = choose_class(&classes, "x.csi").unwrap_err();
        assert!(e.contains("are marked default"), "{e}");
        assert_eq!(
            choose_class(&classes, "rancher.io/local-path").unwrap_err(),
            "no VolumeSnapshotClass for driver rancher.io/local-path"
        );
    }

    #[test]
    fn the_tag_says_how_the_volumes_were_copied() {
        let s = Plan::Snapshot {
            class: "c".into(),
            retain: None,
        };
        let l = Plan::live("x");
        assert_eq!(consistency_tag(&[]), None);
        assert_eq!(
            consistency_tag(std::slice::from_ref(&s)),
            Some("crash-consistent")
        );
        assert_eq!(consistency_tag(std::slice::from_ref(&l)), Some("live"));
        assert_eq!(consistency_tag(&[s, l]), Some("mixed"));
    }

    #[test]
    fn quantities_and_hints_parse() {
        assert_eq!(quantity_bytes("1Gi"), Some(1 << 30));
        assert_eq!(quantity_bytes("1536Mi"), Some(1536 << 20));
        assert_eq!(quantity_bytes("2G"), Some(2_000_000_000));
        assert_eq!(quantity_bytes("1073741824"), Some(1 << 30));
        assert_eq!(quantity_bytes("1.5Gi"), Some(3 << 29));
        assert_eq!(quantity_bytes("lots"), None);
        assert_eq!(
            parse_hint("gp3-csi=csi-aws-vsc"),
            Ok(("gp3-csi".into(), "csi-aws-vsc".into()))
        );
        assert!(parse_hint("gp3").unwrap_err().contains("STORAGECLASS="));
    }

    #[test]
    fn old_claim_records_read_as_live() {
        let c: Consistency = serde_json::from_value(json!("crash-consistent")).unwrap();
        assert_eq!(c, Consistency::CrashConsistent);
        assert_eq!(Consistency::default(), Consistency::Live);
    }
}
