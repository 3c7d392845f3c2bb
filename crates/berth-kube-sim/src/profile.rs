//! Cluster profiles: the Kubernetes version, distribution flavour, nodes, storage and ingress
//! classes, pre-installed CRDs, registries and cluster-wide faults a simulator starts with.
//! The YAML format is documented in docs/formats/sim-profile.md.

use crate::SimError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A simulated cluster's shape.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    /// Profile name (informational).
    pub name: String,
    /// Kubernetes version, e.g. `1.32.0` (discovery and served APIs follow it).
    pub kubernetes_version: String,
    /// Distribution flavour: vanilla, k3s, eks, gke, openshift, rke2.
    pub distribution: String,
    /// Nodes; at least one is created if the list is empty.
    pub nodes: Vec<NodeProfile>,
    /// StorageClasses; PVCs bind only with a matching or default class.
    pub storage_classes: Vec<StorageClassProfile>,
    /// IngressClasses; Ingresses get an address only when their class exists.
    pub ingress_classes: Vec<IngressClassProfile>,
    /// The `snapshot.storage.k8s.io` API (the external-snapshotter's CRDs) and its snapshot
    /// controller; implied by `volume_snapshot_classes`. Default false.
    pub volume_snapshots: bool,
    /// VolumeSnapshotClasses installed at start (each with a CSIDriver for its driver).
    pub volume_snapshot_classes: Vec<VolumeSnapshotClassProfile>,
    /// CustomResourceDefinition manifests installed at start.
    pub crds: Vec<Value>,
    /// The Gateway API's standard CRDs (GatewayClass, Gateway, HTTPRoute) are installed.
    pub gateway_api: bool,
    /// Gateways (with their GatewayClass) installed at start; implies `gateway_api`.
    pub gateways: Vec<GatewayProfile>,
    /// Istio: `networking.istio.io` CRDs and the `istio-ingressgateway` Service.
    pub istio: bool,
    /// Registries the simulated kubelet may reach with `registry_check`.
    pub registries: Vec<RegistryProfile>,
    /// Cluster-wide faults.
    pub faults: ProfileFaults,
    /// How much faster than real time Kubernetes durations from manifests (probe
    /// `initialDelaySeconds`, `periodSeconds`) pass: 10 means a 5 s delay takes 0.5 s.
    /// 1 is real time. Default 10.
    pub time_scale: f64,
    /// Pod Security admission defaults (namespaces without the enforce label).
    pub pod_security: PodSecurityProfile,
    /// OpenShift's SecurityContextConstraints admission: pods may use only `restricted-v2`
    /// (no fixed UID or fsGroup outside the namespace's range, no privilege). Default false.
    pub security_context_constraints: bool,
    /// A load-balancer controller gives `type: LoadBalancer` Services an address (clouds,
    /// k3s's ServiceLB). false models bare metal without MetalLB: they stay `<pending>`, with
    /// no service-controller event. Default true.
    pub load_balancers: bool,
    /// A ResourceQuota (and optionally a LimitRange) put into every namespace created through
    /// the API, as multi-tenant clusters do with project templates or policy engines. None by
    /// default.
    pub namespace_quota: Option<NamespaceQuotaProfile>,
    /// A NetworkPolicy `default-deny` put into every namespace created through the API, as
    /// hardened clusters do with policy engines or project templates. None by default.
    pub network_policy: Option<NetworkPolicyProfile>,
}

/// What every new namespace gets (`networkPolicy`; docs/formats/sim-profile.md §16).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicyProfile {
    /// `policyTypes` of the NetworkPolicy `default-deny` (podSelector `{}`, no rules):
    /// `[Ingress]` or `[Ingress, Egress]`.
    pub default_deny: Vec<String>,
}

/// What every new namespace gets (`namespaceQuota`; docs/formats/sim-profile.md §13).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceQuotaProfile {
    /// `spec.hard` of the ResourceQuota `namespace-quota` (e.g. `limits.cpu: "2"`).
    pub hard: BTreeMap<String, String>,
    /// `default` limits of a LimitRange `namespace-limits` of type Container; with
    /// `defaultRequest` empty too, no LimitRange is created.
    pub limit_default: BTreeMap<String, String>,
    /// `defaultRequest` of that LimitRange.
    pub limit_default_request: BTreeMap<String, String>,
}

/// Pod Security admission's cluster-wide defaults (an AdmissionConfiguration's `defaults`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct PodSecurityProfile {
    /// Level enforced in namespaces without a `pod-security.kubernetes.io/enforce` label:
    /// `privileged` (or empty, the default), `baseline` or `restricted`.
    pub enforce: String,
}

/// The default [`Profile::time_scale`]: fast enough for test suites, slow enough that a
/// pod visibly waits out its probe delay.
pub const DEFAULT_TIME_SCALE: f64 = 10.0;

/// One node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeProfile {
    pub name: String,
    pub cpu: String,
    pub memory: String,
    pub pods: String,
    pub ephemeral_storage: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Value>,
    pub kernel_version: String,
    pub os_image: String,
    pub container_runtime_version: String,
    pub architecture: String,
    /// false: the node reports Ready=False (NodeNotReady fault).
    pub ready: bool,
    pub internal_ip: String,
}

impl Default for NodeProfile {
    fn default() -> Self {
        NodeProfile {
            name: "berth-sim-node".into(),
            cpu: "4".into(),
            memory: "8Gi".into(),
            // Real kubelets default to 110; the simulator's single default node takes the
            // thousands of pods berth's own benchmarks create. Profiles may set "110".
            pods: "5000".into(),
            ephemeral_storage: "100Gi".into(),
            labels: BTreeMap::new(),
            taints: vec![],
            kernel_version: "6.1.0-28-amd64".into(),
            os_image: "Debian GNU/Linux 12 (bookworm)".into(),
            container_runtime_version: "containerd://1.7.24".into(),
            architecture: "amd64".into(),
            ready: true,
            internal_ip: String::new(),
        }
    }
}

/// A StorageClass.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageClassProfile {
    pub name: String,
    pub provisioner: String,
    pub default: bool,
    /// `Immediate` (also when empty) or `WaitForFirstConsumer`.
    pub volume_binding_mode: String,
}

/// A VolumeSnapshotClass.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeSnapshotClassProfile {
    pub name: String,
    /// The CSI driver whose volumes it snapshots, e.g. `ebs.csi.aws.com`.
    pub driver: String,
    /// `Delete` (also when empty) or `Retain`.
    pub deletion_policy: String,
    /// Annotated `snapshot.storage.kubernetes.io/is-default-class: "true"`.
    pub default: bool,
}

/// The binding mode that makes a claim wait for its first pod.
pub const WAIT_FOR_FIRST_CONSUMER: &str = "WaitForFirstConsumer";

/// An IngressClass.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressClassProfile {
    pub name: String,
    pub controller: String,
    pub default: bool,
}

/// A Gateway API Gateway (an HTTP listener on port 80 that admits routes from every
/// namespace) and the GatewayClass it names.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayProfile {
    pub name: String,
    pub namespace: String,
    pub gateway_class_name: String,
    /// The GatewayClass's `spec.controllerName`, e.g. `gateway.envoyproxy.io/gatewayclass-controller`.
    pub controller_name: String,
}

/// A registry the kubelet checks images against.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistryProfile {
    /// host[:port] as written in image references.
    pub host: String,
    /// Plain http instead of https.
    pub insecure: bool,
    /// https without verifying the certificate (self-signed test registries).
    pub insecure_skip_tls_verify: bool,
}

/// Cluster-wide faults (per-object faults are annotations; see docs/formats/sim-profile.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileFaults {
    /// Fraction (0..1) of API requests (other than discovery/version) answered with an error.
    pub api_error_rate: f64,
    /// 500 (InternalError) or 429 (TooManyRequests); default 500.
    pub api_error_code: u16,
    /// Every pod becomes ready this long after it starts, e.g. `2s`.
    pub ready_delay: Option<String>,
    /// Images (exact or `prefix*`) that fail to pull.
    pub image_pull_fail: Vec<String>,
    /// Images (exact or `prefix*`) whose containers crash-loop.
    pub crashloop_images: Vec<String>,
    /// No PVC ever binds.
    pub pvc_never_bind: bool,
    /// How long Job pods run before they finish, e.g. `3s` (default 1s; the
    /// `sim.berth.dev/run-for` annotation wins).
    pub job_run_for: Option<String>,
    /// Jobs (by name: exact or `prefix*`) whose pods fail, as `sim.berth.dev/fail: job-failed`.
    pub fail_jobs: Vec<String>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            name: "default".into(),
            kubernetes_version: "1.32.0".into(),
            distribution: "vanilla".into(),
            nodes: vec![NodeProfile::default()],
            storage_classes: vec![StorageClassProfile {
                name: "standard".into(),
                provisioner: "rancher.io/local-path".into(),
                default: true,
                volume_binding_mode: String::new(),
            }],
            ingress_classes: vec![IngressClassProfile {
                name: "nginx".into(),
                controller: "k8s.io/ingress-nginx".into(),
                default: true,
            }],
            volume_snapshots: false,
            volume_snapshot_classes: vec![],
            crds: vec![],
            gateway_api: false,
            gateways: vec![],
            istio: false,
            registries: vec![],
            faults: ProfileFaults::default(),
            time_scale: DEFAULT_TIME_SCALE,
            pod_security: PodSecurityProfile::default(),
            security_context_constraints: false,
            load_balancers: true,
            namespace_quota: None,
            network_policy: None,
        }
    }
}

/// Names accepted by [`Profile::builtin`].
pub const BUILTIN_NAMES: &[&str] = &[
    "default",
    "k3s",
    "eks",
    "gke",
    "openshift",
    "rke2",
    "bare",
    "k8s-1.NN",
];

impl Profile {
    /// A built-in profile: `default`, `k3s`, `eks`, `gke`, `openshift`, `rke2`, `bare`
    /// (no StorageClass, no IngressClass) or `k8s-1.NN` (the default cluster at that version).
    pub fn builtin(name: &str) -> Option<Profile> {
        let mut p = Profile {
            name: name.into(),
            ..Profile::default()
        };
        match name {
            "default" | "vanilla" => {}
            "k3s" => {
                p.distribution = "k3s".into();
                p.kubernetes_version = "1.32.3+k3s1".into();
                p.storage_classes = vec![StorageClassProfile {
                    name: "local-path".into(),
                    provisioner: "rancher.io/local-path".into(),
                    default: true,
                    volume_binding_mode: WAIT_FOR_FIRST_CONSUMER.into(),
                }];
                p.ingress_classes = vec![IngressClassProfile {
                    name: "traefik".into(),
                    controller: "traefik.io/ingress-controller".into(),
                    default: true,
                }];
                p.nodes[0].name = "k3s-server".into();
                p.nodes[0].container_runtime_version = "containerd://1.7.26-k3s1".into();
                p.nodes[0].labels.insert(
                    "node-role.kubernetes.io/control-plane".into(),
                    "true".into(),
                );
                p.nodes[0]
                    .labels
                    .insert("node.kubernetes.io/instance-type".into(), "k3s".into());
            }
            "eks" => {
                p.distribution = "eks".into();
                p.kubernetes_version = "1.31.4-eks-2d5f260".into();
                p.storage_classes = vec![
                    StorageClassProfile {
                        name: "gp2".into(),
                        provisioner: "kubernetes.io/aws-ebs".into(),
                        default: true,
                        volume_binding_mode: WAIT_FOR_FIRST_CONSUMER.into(),
                    },
                    // The EBS CSI driver add-on's class, as the EKS documentation creates it.
                    StorageClassProfile {
                        name: "gp3".into(),
                        provisioner: "ebs.csi.aws.com".into(),
                        default: false,
                        volume_binding_mode: WAIT_FOR_FIRST_CONSUMER.into(),
                    },
                ];
                p.volume_snapshot_classes = vec![VolumeSnapshotClassProfile::default_for(
                    "ebs-csi-snapclass",
                    "ebs.csi.aws.com",
                )];
                p.ingress_classes = vec![IngressClassProfile {
                    name: "alb".into(),
                    controller: "ingress.k8s.aws/alb".into(),
                    default: false,
                }];
                p.nodes = (0..3)
                    .map(|i| {
                        let mut n = NodeProfile {
                            name: format!("ip-10-0-{}-{}.ec2.internal", i + 1, 10 + i),
                            cpu: "2".into(),
                            memory: "7907Mi".into(),
                            os_image: "Amazon Linux 2023.6.20250115".into(),
                            kernel_version: "6.1.119-129.201.amzn2023.x86_64".into(),
                            container_runtime_version: "containerd://1.7.25".into(),
                            internal_ip: format!("10.0.{}.{}", i + 1, 10 + i),
                            ..NodeProfile::default()
                        };
                        n.labels
                            .insert("eks.amazonaws.com/nodegroup".into(), "default".into());
                        n.labels
                            .insert("node.kubernetes.io/instance-type".into(), "m5.large".into());
                        n.labels.insert(
                            "topology.kubernetes.io/zone".into(),
                            format!("us-east-1{}", ['a', 'b', 'c'][i]),
                        );
                        n
                    })
                    .collect();
            }
            "gke" => {
                p.distribution = "gke".into();
                p.kubernetes_version = "1.31.5-gke.1023000".into();
                p.storage_classes = vec![
                    StorageClassProfile {
                        name: "standard-rwo".into(),
                        provisioner: "pd.csi.storage.gke.io".into(),
                        default: true,
                        volume_binding_mode: WAIT_FOR_FIRST_CONSUMER.into(),
                    },
                    StorageClassProfile {
                        name: "premium-rwo".into(),
                        provisioner: "pd.csi.storage.gke.io".into(),
                        default: false,
                        volume_binding_mode: WAIT_FOR_FIRST_CONSUMER.into(),
                    },
                ];
                p.volume_snapshot_classes = vec![VolumeSnapshotClassProfile::default_for(
                    "pd-csi-snapclass",
                    "pd.csi.storage.gke.io",
                )];
                p.ingress_classes = vec![IngressClassProfile {
                    name: "gce".into(),
                    controller: "k8s-io/ingress-gce".into(),
                    default: false,
                }];
                p.nodes[0].name = "gke-cluster-default-pool-1a2b3c4d-x1y2".into();
                p.nodes[0].os_image = "Container-Optimized OS from Google".into();
                p.nodes[0].kernel_version = "6.1.112+".into();
                p.nodes[0].container_runtime_version = "containerd://1.7.24".into();
                p.nodes[0].labels.insert(
                    "cloud.google.com/gke-nodepool".into(),
                    "default-pool".into(),
                );
            }
            "openshift" => {
                p.distribution = "openshift".into();
                p.kubernetes_version = "1.31.6".into();
                p.storage_classes = vec![StorageClassProfile {
                    name: "gp3-csi".into(),
                    provisioner: "ebs.csi.aws.com".into(),
                    default: true,
                    volume_binding_mode: WAIT_FOR_FIRST_CONSUMER.into(),
                }];
                // Installed by OpenShift's AWS EBS CSI driver operator.
                p.volume_snapshot_classes = vec![VolumeSnapshotClassProfile::default_for(
                    "csi-aws-vsc",
                    "ebs.csi.aws.com",
                )];
                p.ingress_classes = vec![IngressClassProfile {
                    name: "openshift-default".into(),
                    controller: "openshift.io/ingress-to-route".into(),
                    default: false,
                }];
                p.nodes[0].name = "worker-0".into();
                p.nodes[0].os_image =
                    "Red Hat Enterprise Linux CoreOS 418.94.202501221327-0".into();
                p.nodes[0].kernel_version = "5.14.0-427.50.1.el9_4.x86_64".into();
                p.nodes[0].container_runtime_version =
                    "cri-o://1.31.4-3.rhaos4.18.gitd7c34a9.el9".into();
                p.nodes[0]
                    .labels
                    .insert("node-role.kubernetes.io/worker".into(), String::new());
            }
            "rke2" => {
                p.distribution = "rke2".into();
                p.kubernetes_version = "1.32.2+rke2r1".into();
                p.storage_classes = vec![];
                // RKE2 bundles the snapshot controller and its CRDs (no CSI driver, no class).
                p.volume_snapshots = true;
                p.ingress_classes = vec![IngressClassProfile {
                    name: "nginx".into(),
                    controller: "k8s.io/ingress-nginx".into(),
                    default: false,
                }];
                p.nodes[0].name = "rke2-server-0".into();
                p.nodes[0].os_image = "Ubuntu 22.04.5 LTS".into();
                p.nodes[0].kernel_version = "5.15.0-131-generic".into();
                p.nodes[0].container_runtime_version = "containerd://1.7.23-k3s2".into();
            }
            "bare" => {
                p.storage_classes = vec![];
                p.ingress_classes = vec![];
            }
            other => {
                let minor = other.strip_prefix("k8s-1.")?;
                let minor: u32 = minor.parse().ok()?;
                if !(16..=40).contains(&minor) {
                    return None;
                }
                p.kubernetes_version = format!("1.{minor}.0");
            }
        }
        Some(p)
    }

    /// Read a profile from a YAML file.
    pub fn from_yaml_file(path: &Path) -> Result<Profile, SimError> {
        let text = std::fs::read_to_string(path).map_err(|e| SimError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Profile::from_yaml_str(&text).map_err(|message| SimError::Profile {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parse a profile from YAML text.
    pub fn from_yaml_str(text: &str) -> Result<Profile, String> {
        let p: Profile = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        p.validate()?;
        Ok(p)
    }

    /// This profile with the app's own durations passing `speed` times faster than real
    /// time: durations from manifests (probe delays) through `timeScale`, and, unless the
    /// profile sets `faults.jobRunFor`, Job pods running 1 s / `speed` (at least 10 ms)
    /// instead of 1 s (docs/formats/sim-profile.md §8). `berth dev` runs its cluster so.
    /// A `speed` of 1 or less keeps the profile as it is.
    pub fn sped_up(mut self, speed: f64) -> Profile {
        if speed <= 1.0 || !speed.is_finite() {
            return self;
        }
        self.time_scale = speed;
        if self.faults.job_run_for.is_none() {
            let ms = (1000.0 / speed).max(10.0).round() as u64;
            self.faults.job_run_for = Some(format!("{ms}ms"));
        }
        self
    }

    /// Built-in name or a path to a YAML file.
    pub fn resolve(name_or_path: &str) -> Result<Profile, SimError> {
        if let Some(p) = Profile::builtin(name_or_path) {
            return Ok(p);
        }
        let path = Path::new(name_or_path);
        if path.exists() {
            return Profile::from_yaml_file(path);
        }
        Err(SimError::UnknownProfile(name_or_path.to_string()))
    }

    /// Whether the `snapshot.storage.k8s.io` API is served (docs/formats/sim-profile.md,
    /// section 14).
    pub fn serves_volume_snapshots(&self) -> bool {
        self.volume_snapshots || !self.volume_snapshot_classes.is_empty()
    }

    fn validate(&self) -> Result<(), String> {
        self.version_parts()?;
        if !matches!(
            self.pod_security.enforce.as_str(),
            "" | "privileged" | "baseline" | "restricted"
        ) {
            return Err(format!(
                "podSecurity.enforce must be privileged, baseline or restricted, got {:?}",
                self.pod_security.enforce
            ));
        }
        if !(0.0..=1.0).contains(&self.faults.api_error_rate) {
            return Err(format!(
                "faults.apiErrorRate must be between 0 and 1, got {}",
                self.faults.api_error_rate
            ));
        }
        if !matches!(self.faults.api_error_code, 0 | 500 | 429 | 503) {
            return Err(format!(
                "faults.apiErrorCode must be 500, 429 or 503, got {}",
                self.faults.api_error_code
            ));
        }
        if let Some(d) = &self.faults.ready_delay {
            crate::parse_duration(d).ok_or_else(|| {
                format!("faults.readyDelay: cannot read duration {d:?} (use e.g. 2s, 500ms, 1m)")
            })?;
        }
        if let Some(d) = &self.faults.job_run_for {
            crate::parse_duration(d).ok_or_else(|| {
                format!("faults.jobRunFor: cannot read duration {d:?} (use e.g. 3s, 500ms, 1m)")
            })?;
        }
        if !(self.time_scale.is_finite() && self.time_scale > 0.0 && self.time_scale <= 10_000.0) {
            return Err(format!(
                "timeScale must be a number above 0 and at most 10000 (1 = real time), got {}",
                self.time_scale
            ));
        }
        for (i, sc) in self.storage_classes.iter().enumerate() {
            if !matches!(
                sc.volume_binding_mode.as_str(),
                "" | "Immediate" | WAIT_FOR_FIRST_CONSUMER
            ) {
                return Err(format!(
                    "storageClasses[{i}].volumeBindingMode must be Immediate or \
                     WaitForFirstConsumer, got {:?}",
                    sc.volume_binding_mode
                ));
            }
        }
        for (i, c) in self.volume_snapshot_classes.iter().enumerate() {
            if c.name.is_empty() || c.driver.is_empty() {
                return Err(format!(
                    "volumeSnapshotClasses[{i}] needs a name and a driver (the CSI driver whose volumes it snapshots, e.g. ebs.csi.aws.com)"
                ));
            }
            if !matches!(c.deletion_policy.as_str(), "" | "Delete" | "Retain") {
                return Err(format!(
                    "volumeSnapshotClasses[{i}].deletionPolicy must be Delete or Retain, got {:?}",
                    c.deletion_policy
                ));
            }
        }
        for (i, g) in self.gateways.iter().enumerate() {
            for (field, v) in [
                ("name", &g.name),
                ("namespace", &g.namespace),
                ("gatewayClassName", &g.gateway_class_name),
                ("controllerName", &g.controller_name),
            ] {
                if v.is_empty() {
                    return Err(format!(
                        "gateways[{i}].{field} is empty: a Gateway needs a name, namespace, gatewayClassName and controllerName"
                    ));
                }
            }
        }
        if let Some(np) = &self.network_policy {
            let known = np
                .default_deny
                .iter()
                .all(|t| matches!(t.as_str(), "Ingress" | "Egress"));
            if np.default_deny.is_empty() || !known {
                return Err(format!(
                    "networkPolicy.defaultDeny must list Ingress, Egress or both (the policyTypes \
                     of the default-deny policy each new namespace gets), got {:?}",
                    np.default_deny
                ));
            }
        }
        match self.distribution.as_str() {
            "vanilla" | "k3s" | "eks" | "gke" | "openshift" | "rke2" => {}
            d => {
                return Err(format!(
                    "distribution {d:?} is not one of vanilla, k3s, eks, gke, openshift, rke2"
                ));
            }
        }
        Ok(())
    }

    /// (major, minor, gitVersion) from `kubernetesVersion`.
    pub fn version_parts(&self) -> Result<(u32, u32, String), String> {
        let v = self.kubernetes_version.trim_start_matches('v');
        let mut it = v.split(['.', '+', '-']);
        let major = it.next().and_then(|s| s.parse().ok());
        let minor = it.next().and_then(|s| s.parse().ok());
        match (major, minor) {
            (Some(a), Some(b)) => Ok((a, b, format!("v{v}"))),
            _ => Err(format!(
                "kubernetesVersion {:?} is not a version like 1.32.0",
                self.kubernetes_version
            )),
        }
    }
}

impl VolumeSnapshotClassProfile {
    /// A class marked default, deleting its snapshots with the VolumeSnapshot.
    pub fn default_for(name: &str, driver: &str) -> VolumeSnapshotClassProfile {
        VolumeSnapshotClassProfile {
            name: name.into(),
            driver: driver.into(),
            deletion_policy: "Delete".into(),
            default: true,
        }
    }
}

#[cfg(test)]
mod speed_tests {
    use super::*;

    #[test]
    fn sped_up_scales_manifest_durations_and_shortens_jobs_unless_the_profile_says() {
        let p = Profile::default().sped_up(1000.0);
        assert_eq!(p.time_scale, 1000.0);
        assert_eq!(p.faults.job_run_for.as_deref(), Some("10ms"));
        assert_eq!(
            Profile::default()
                .sped_up(20.0)
                .faults
                .job_run_for
                .as_deref(),
            Some("50ms")
        );
        let mut own = Profile::default();
        own.faults.job_run_for = Some("3s".into());
        assert_eq!(
            own.sped_up(1000.0).faults.job_run_for.as_deref(),
            Some("3s")
        );
        let same = Profile::default().sped_up(1.0);
        assert_eq!(same.time_scale, Profile::default().time_scale);
        assert_eq!(same.faults.job_run_for, None);
    }
}
