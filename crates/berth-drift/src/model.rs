//! The baseline: what the cluster and host looked like when the app last worked.
//! Format: docs/formats/baseline.md.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `format` of every baseline this crate writes.
pub const FORMAT: &str = "berth.dev/baseline.v1";

/// A baseline of the cluster (and host) at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Always [`FORMAT`].
    pub format: String,
    /// RFC 3339, seconds.
    pub captured_at: String,
    /// The app this baseline belongs to (empty for a bundle's live view).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app: String,
    /// The revision it was recorded in (absent for live captures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
    /// Cluster facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterFacts>,
    /// Host facts, where host collectors ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostFacts>,
    /// Lists cut to the size bounds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<String>,
}

/// What the cluster looked like.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterFacts {
    /// The API server's `gitVersion`.
    pub version: String,
    /// vanilla, k3s, rke2, eks, gke, aks, openshift.
    pub distribution: String,
    /// Nodes, by name.
    pub nodes: Vec<NodeFacts>,
    /// StorageClasses, by name.
    pub storage_classes: Vec<ClassFacts>,
    /// IngressClasses, by name.
    pub ingress_classes: Vec<ClassFacts>,
    /// CRDs of the app's custom kinds.
    pub crds: Vec<CrdFacts>,
    /// `group/Kind` of each kind the app uses → versions served.
    pub apis: BTreeMap<String, Vec<String>>,
    /// Admission webhooks.
    pub webhooks: Vec<WebhookFacts>,
    /// The app's namespace.
    pub namespace: NamespaceFacts,
    /// Image reference → digest the kubelet resolved.
    pub images: BTreeMap<String, String>,
}

/// One node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeFacts {
    pub name: String,
    pub ready: bool,
    pub os_image: String,
    pub kernel: String,
    pub runtime: String,
    pub arch: String,
    pub kubelet: String,
    /// cpu, memory, pods, ephemeral-storage.
    pub allocatable: BTreeMap<String, String>,
    /// Labels that change scheduling.
    pub labels: BTreeMap<String, String>,
    /// `key=value:Effect`.
    pub taints: Vec<String>,
    /// Newest condition transition: for "first seen" only, never compared.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub changed_at: String,
}

/// A StorageClass or IngressClass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClassFacts {
    pub name: String,
    /// StorageClass provisioner, IngressClass controller.
    pub provisioner: String,
    pub default: bool,
    /// Newest managedFields time or creation: for "first seen" only.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub changed_at: String,
}

/// A CRD the app uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CrdFacts {
    pub name: String,
    /// Served versions.
    pub versions: Vec<String>,
    /// The storage version.
    pub storage: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub changed_at: String,
}

/// One admission webhook.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookFacts {
    /// `validating` or `mutating`.
    pub kind: String,
    /// The configuration object's name.
    pub config: String,
    /// The webhook's name.
    pub name: String,
    pub failure_policy: String,
    /// `service NS/NAME` or the URL's host.
    pub target: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub changed_at: String,
}

/// The app's namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NamespaceFacts {
    pub name: String,
    /// `pod-security.kubernetes.io/<key>` labels, without the prefix.
    pub pod_security: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub changed_at: String,
}

/// What the host looked like (from host collectors).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostFacts {
    /// os-release `ID`.
    pub os_id: String,
    /// os-release `VERSION_ID`.
    pub os_version: String,
    /// os-release `PRETTY_NAME` when known.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub os_name: String,
    pub kernel: String,
    /// Interface name → MTU.
    pub interfaces: BTreeMap<String, u64>,
    pub dns: DnsFacts,
    pub time: TimeFacts,
    pub disks: Vec<DiskFacts>,
    /// `selinux`: enforcing/permissive/disabled/absent; `apparmor`: enabled/disabled/absent.
    pub lsm: BTreeMap<String, String>,
    /// Package → version, for packages that matter (runtime, kernel).
    pub packages: BTreeMap<String, String>,
    /// Loaded kernel modules that matter.
    pub kernel_modules: Vec<String>,
    /// Boot time, for "first seen" of kernel changes.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub booted_at: String,
    /// os-release modification time, for "first seen" of OS changes.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub os_changed_at: String,
}

/// Resolver configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsFacts {
    pub nameservers: Vec<String>,
    pub search: Vec<String>,
}

/// Time synchronisation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TimeFacts {
    pub timezone: String,
    pub ntp_synchronized: bool,
    pub ntp_active: bool,
}

/// One block device or partition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiskFacts {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub fstype: String,
    pub mountpoint: String,
    pub size: u64,
}
