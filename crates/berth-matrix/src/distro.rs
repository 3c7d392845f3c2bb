//! The simulated cluster of a cell: the simulator's built-in profile of the distribution
//! (its StorageClasses, IngressClasses, nodes, API groups) at the cell's Kubernetes version,
//! written the way that distribution reports it (`v1.32.3+k3s1`, `v1.31.4-eks-2d5f260`).

use crate::plan::Cell;
use berth_kube_sim::Profile;
use berth_kube_sim::profile::{
    GatewayProfile, IngressClassProfile, NodeProfile, StorageClassProfile,
    VolumeSnapshotClassProfile, WAIT_FOR_FIRST_CONSUMER,
};

/// The profile a cell's cluster starts from.
pub fn profile(cell: &Cell) -> Profile {
    let minor = cell.minor;
    let (builtin, version) = match cell.distribution.as_str() {
        "k3s" => ("k3s", format!("1.{minor}.3+k3s1")),
        "rke2" => ("rke2", format!("1.{minor}.3+rke2r1")),
        "eks" => ("eks", format!("1.{minor}.3-eks-2d5f260")),
        "gke" => ("gke", format!("1.{minor}.3-gke.1023000")),
        "openshift" => ("openshift", format!("1.{minor}.3")),
        "aks" => ("default", format!("1.{minor}.3")),
        _ => ("default", format!("1.{minor}.3")),
    };
    let mut p = Profile::builtin(builtin).unwrap_or_default();
    p.name = cell.id();
    p.kubernetes_version = version;
    match cell.distribution.as_str() {
        "aks" => aks(&mut p),
        // OpenShift admits pods through its SecurityContextConstraints (restricted-v2).
        "openshift" => p.security_context_constraints = true,
        // kubeadm and RKE2 on bare metal: no load-balancer provider unless one is installed.
        "generic" | "rke2" => p.load_balancers = false,
        _ => {}
    }
    if let Some(i) = &cell.ingress {
        offer_ingress(&mut p, i);
    }
    p
}

/// The cluster offers only `flavour`: its controller's IngressClass (the default one), a
/// Gateway API Gateway, OpenShift's Routes (the openshift profile serves them) or Istio.
pub fn offer_ingress(p: &mut Profile, flavour: &str) {
    use berth_render::expose::Flavour;
    let Some(f) = Flavour::parse(flavour) else {
        return;
    };
    match f {
        Flavour::GatewayApi => {
            p.ingress_classes.clear();
            p.gateways = vec![GatewayProfile {
                name: "public".into(),
                namespace: "gateway-system".into(),
                gateway_class_name: "eg".into(),
                controller_name: "gateway.envoyproxy.io/gatewayclass-controller".into(),
            }];
        }
        Flavour::Istio => {
            p.ingress_classes.clear();
            p.istio = true;
        }
        Flavour::OpenshiftRoute => {}
        f => {
            if let Some((name, controller)) = f.usual_ingress_class() {
                p.ingress_classes = vec![IngressClassProfile {
                    name: name.into(),
                    controller: controller.into(),
                    default: true,
                }];
            }
        }
    }
}

/// AKS: Azure Disk CSI classes (`default` is the default one; disk classes bind on first
/// consumer, Azure Files at once), no ingress controller until
/// the application-routing add-on is enabled, Ubuntu node pools.
fn aks(p: &mut Profile) {
    p.distribution = "aks".into();
    p.storage_classes = vec![
        StorageClassProfile {
            name: "default".into(),
            provisioner: "disk.csi.azure.com".into(),
            default: true,
            volume_binding_mode: WAIT_FOR_FIRST_CONSUMER.into(),
        },
        StorageClassProfile {
            name: "managed-csi-premium".into(),
            provisioner: "disk.csi.azure.com".into(),
            default: false,
            volume_binding_mode: WAIT_FOR_FIRST_CONSUMER.into(),
        },
        StorageClassProfile {
            name: "azurefile-csi".into(),
            provisioner: "file.csi.azure.com".into(),
            default: false,
            volume_binding_mode: "Immediate".into(),
        },
    ];
    // AKS installs these (its CSI drivers' snapshot classes, neither marked default).
    p.volume_snapshot_classes = ["disk", "file"]
        .iter()
        .map(|d| VolumeSnapshotClassProfile {
            name: format!("csi-azure{d}-vsc"),
            driver: format!("{d}.csi.azure.com"),
            deletion_policy: "Delete".into(),
            default: false,
        })
        .collect();
    p.ingress_classes = vec![IngressClassProfile {
        name: "webapprouting.kubernetes.azure.com".into(),
        controller: "webapprouting.kubernetes.azure.com/nginx".into(),
        default: false,
    }];
    let mut n = NodeProfile {
        name: "aks-nodepool1-12345678-vmss000000".into(),
        cpu: "4".into(),
        memory: "16Gi".into(),
        os_image: "Ubuntu 22.04.5 LTS".into(),
        kernel_version: "5.15.0-1079-azure".into(),
        container_runtime_version: "containerd://1.7.25-1".into(),
        internal_ip: "10.224.0.4".into(),
        ..NodeProfile::default()
    };
    n.labels
        .insert("kubernetes.azure.com/agentpool".into(), "nodepool1".into());
    n.labels.insert(
        "node.kubernetes.io/instance-type".into(),
        "Standard_D4s_v5".into(),
    );
    n.labels
        .insert("topology.kubernetes.io/zone".into(), "eastus-1".into());
    p.nodes = vec![n];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(d: &str, minor: u32) -> Cell {
        Cell {
            kube: format!("1.{minor}"),
            minor,
            distribution: d.into(),
            airgapped: false,
            ingress: None,
            kubeconfig: None,
        }
    }

    #[test]
    fn every_distribution_gets_its_version_and_shape() {
        for d in crate::plan::DISTRIBUTIONS {
            let p = profile(&cell(d, 29));
            let (_, minor, _) = p.version_parts().expect("version");
            assert_eq!(minor, 29, "{d}");
        }
        assert_eq!(profile(&cell("k3s", 30)).kubernetes_version, "1.30.3+k3s1");
        assert_eq!(profile(&cell("openshift", 30)).distribution, "openshift");
        assert!(profile(&cell("openshift", 30)).security_context_constraints);
        assert!(!profile(&cell("generic", 30)).security_context_constraints);
        let aks = profile(&cell("aks", 31));
        assert_eq!(aks.distribution, "aks");
        assert_eq!(aks.storage_classes[0].provisioner, "disk.csi.azure.com");
        assert_eq!(aks.volume_snapshot_classes[0].name, "csi-azuredisk-vsc");
        assert!(aks.serves_volume_snapshots());
        assert!(profile(&cell("rke2", 31)).storage_classes.is_empty());
    }

    #[test]
    fn an_ingress_cell_offers_only_its_flavour() {
        let with = |d: &str, i: &str| {
            profile(&Cell {
                ingress: Some(i.into()),
                ..cell(d, 32)
            })
        };
        let t = with("generic", "traefik");
        assert_eq!(t.ingress_classes.len(), 1);
        assert_eq!(
            t.ingress_classes[0].controller,
            "traefik.io/ingress-controller"
        );
        assert!(t.ingress_classes[0].default);
        let f5 = with("k3s", "f5-nginx");
        assert_eq!(
            f5.ingress_classes[0].controller,
            "nginx.org/ingress-controller"
        );
        let g = with("generic", "gateway-api");
        assert!(g.ingress_classes.is_empty() && g.gateways.len() == 1);
        let i = with("generic", "istio");
        assert!(i.ingress_classes.is_empty() && i.istio);
        assert_eq!(
            with("openshift", "openshift-route").distribution,
            "openshift"
        );
    }
}
