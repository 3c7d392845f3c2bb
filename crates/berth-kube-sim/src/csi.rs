//! CSI volumes: which provisioners are CSI drivers (those with a `storage.k8s.io/v1`
//! CSIDriver object of their name), the PersistentVolume source the simulated provisioner
//! writes for them (`spec.csi` with a volume handle in the driver's own form) and where a
//! provisioned volume's directory is. docs/formats/sim-profile.md, sections 12 and 14.

use crate::controllers::{gr, put_new};
use crate::store::Store;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The `volumeAttributes` key of a simulated CSI volume that holds its directory.
pub const PATH_ATTRIBUTE: &str = "sim.berth.dev/path";

/// External provisioners that are not CSI drivers (they make hostPath or local volumes).
const HOSTPATH_PROVISIONERS: &[&str] = &[
    "rancher.io/local-path",
    "k8s.io/minikube-hostpath",
    "microk8s.io/hostpath",
    "openebs.io/local",
    "docker.io/hostpath",
];

/// The Azure subscription and resource group of simulated Azure disk handles.
const AZURE_PREFIX: &str =
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mc_berth-sim_eastus";

/// Whether a profile's provisioner is taken for a CSI driver (and gets a CSIDriver object).
pub fn looks_like_csi(provisioner: &str) -> bool {
    !provisioner.is_empty()
        && !provisioner.starts_with("kubernetes.io/")
        && !HOSTPATH_PROVISIONERS.contains(&provisioner)
}

/// Whether `name` is an installed CSI driver: a CSIDriver object of that name exists.
pub fn is_driver(store: &Store, name: &str) -> bool {
    !name.is_empty()
        && store
            .get(&gr("storage.k8s.io", "csidrivers"), "", name)
            .is_some()
}

/// CSIDriver objects for the profile's CSI provisioners and snapshot classes' drivers.
pub fn seed(store: &mut Store) {
    let p = store.profile.clone();
    let drivers: Vec<String> = p
        .storage_classes
        .iter()
        .map(|c| c.provisioner.clone())
        .filter(|d| looks_like_csi(d))
        .chain(p.volume_snapshot_classes.iter().map(|c| c.driver.clone()))
        .collect();
    for d in drivers {
        put_new(
            store,
            &gr("storage.k8s.io", "csidrivers"),
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver",
                "metadata": {"name": d},
                "spec": {"attachRequired": true, "podInfoOnMount": false,
                    "fsGroupPolicy": "ReadWriteOnceWithFSType", "requiresRepublish": false,
                    "storageCapacity": false, "seLinuxMount": false,
                    "volumeLifecycleModes": ["Persistent"]}}),
        );
    }
}

/// 17 hex digits derived from a uid (the length of EBS volume and snapshot ids).
fn hex17(uid: &str) -> String {
    let mut h: String = uid
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .take(17)
        .collect();
    while h.len() < 17 {
        h.push('0');
    }
    h
}

/// The volume handle a driver gives the volume `pv_name` (of claim uid `uid`).
pub fn volume_handle(driver: &str, pv_name: &str, uid: &str) -> String {
    match driver {
        "ebs.csi.aws.com" => format!("vol-{}", hex17(uid)),
        "pd.csi.storage.gke.io" => {
            format!("projects/berth-sim/zones/us-central1-a/disks/{pv_name}")
        }
        "disk.csi.azure.com" => {
            format!("{AZURE_PREFIX}/providers/Microsoft.Compute/disks/{pv_name}")
        }
        _ => pv_name.to_string(),
    }
}

/// The snapshot handle a driver gives the snapshot of content uid `uid`.
pub fn snapshot_handle(driver: &str, uid: &str) -> String {
    match driver {
        "ebs.csi.aws.com" => format!("snap-{}", hex17(uid)),
        "pd.csi.storage.gke.io" => format!("projects/berth-sim/global/snapshots/snapshot-{uid}"),
        "disk.csi.azure.com" => {
            format!("{AZURE_PREFIX}/providers/Microsoft.Compute/snapshots/snapshot-{uid}")
        }
        _ => format!("snapshot-{uid}"),
    }
}

/// The name of a snapshot's copy under `<volume root>/.snapshots`: the handle's last segment,
/// with anything but letters, digits, `.`, `_` and `-` replaced.
pub fn snapshot_id(handle: &str) -> String {
    let last = handle.rsplit('/').next().unwrap_or(handle);
    let id: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match id.trim_start_matches('.') {
        "" => "_".to_string(),
        s => s.to_string(),
    }
}

/// `<start ms>-8081-<driver>`, as the external-provisioner identifies itself.
fn provisioner_identity(driver: &str) -> String {
    static START: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let ms = START.get_or_init(|| jiff::Timestamp::now().as_millisecond());
    format!("{ms}-8081-{driver}")
}

/// The `spec` key and value of a new volume's source: `csi` for an installed CSI driver,
/// `hostPath` otherwise; both lead to `dir`.
pub fn pv_source(
    store: &Store,
    provisioner: &str,
    pv_name: &str,
    uid: &str,
    dir: &Path,
) -> (&'static str, Value) {
    let path = dir.display().to_string();
    if is_driver(store, provisioner) {
        (
            "csi",
            json!({"driver": provisioner, "volumeHandle": volume_handle(provisioner, pv_name, uid),
                "fsType": "ext4",
                "volumeAttributes": {"storage.kubernetes.io/csiProvisionerIdentity": provisioner_identity(provisioner),
                    PATH_ATTRIBUTE: path}}),
        )
    } else {
        (
            "hostPath",
            json!({"path": path, "type": "DirectoryOrCreate"}),
        )
    }
}

/// The directory of a PersistentVolume: its `hostPath`, or the simulator's path of a CSI
/// volume it provisioned. None for other volumes.
pub fn volume_dir(pv: &Value) -> Option<PathBuf> {
    let spec = &pv["spec"];
    spec["hostPath"]["path"]
        .as_str()
        .or_else(|| spec["csi"]["volumeAttributes"][PATH_ATTRIBUTE].as_str())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_take_each_drivers_form_and_name_a_safe_directory() {
        let uid = "4f1c2a9e-7b3d-4e5f-8a9b-0c1d2e3f4a5b";
        assert_eq!(
            volume_handle("ebs.csi.aws.com", "pvc-x", uid),
            "vol-4f1c2a9e7b3d4e5f8"
        );
        assert!(
            volume_handle("pd.csi.storage.gke.io", "pvc-x", uid)
                .ends_with("/zones/us-central1-a/disks/pvc-x")
        );
        assert_eq!(volume_handle("driver.longhorn.io", "pvc-x", uid), "pvc-x");
        let h = snapshot_handle("disk.csi.azure.com", uid);
        assert!(h.starts_with("/subscriptions/") && h.contains("/snapshots/snapshot-4f1c"));
        assert_eq!(snapshot_id(&h), format!("snapshot-{uid}"));
        assert_eq!(snapshot_id("../../etc"), "etc");
        assert_eq!(snapshot_id("a b"), "a_b");
        assert_eq!(snapshot_id(".."), "_");
    }

    #[test]
    fn in_tree_and_hostpath_provisioners_are_not_csi() {
        for no in ["kubernetes.io/aws-ebs", "rancher.io/local-path", ""] {
            assert!(!looks_like_csi(no), "{no}");
        }
        for yes in [
            "ebs.csi.aws.com",
            "driver.longhorn.io",
            "rook-ceph.rbd.csi.ceph.com",
        ] {
            assert!(looks_like_csi(yes), "{yes}");
        }
    }

    #[test]
    fn a_volume_directory_comes_from_host_path_or_the_csi_attribute() {
        let h = json!({"spec": {"hostPath": {"path": "/v/pvc-1"}}});
        assert_eq!(volume_dir(&h), Some(PathBuf::from("/v/pvc-1")));
        let c = json!({"spec": {"csi": {"driver": "d", "volumeHandle": "x",
            "volumeAttributes": {PATH_ATTRIBUTE: "/v/pvc-2"}}}});
        assert_eq!(volume_dir(&c), Some(PathBuf::from("/v/pvc-2")));
        assert_eq!(volume_dir(&json!({"spec": {"nfs": {}}})), None);
    }
}
