//! Cluster facts from API objects (pure: the same code reads a live cluster's lists and a
//! support bundle's `cluster-resources/` files).

use crate::model::{ClassFacts, ClusterFacts, CrdFacts, NamespaceFacts, NodeFacts, WebhookFacts};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The objects a cluster baseline is made from.
#[derive(Debug, Clone, Default)]
pub struct ClusterInput {
    /// `/version` (`gitVersion`).
    pub version: Value,
    pub nodes: Vec<Value>,
    pub storage_classes: Vec<Value>,
    pub ingress_classes: Vec<Value>,
    pub crds: Vec<Value>,
    pub validating_webhooks: Vec<Value>,
    pub mutating_webhooks: Vec<Value>,
    /// The app's Namespace object.
    pub namespace: Option<Value>,
    /// The app's namespace name (used when the Namespace object cannot be read).
    pub namespace_name: String,
    /// The app's pods (images, node selectors).
    pub pods: Vec<Value>,
    /// Served `group/version/Kind` and `group/version` (core: `v1/Pod`, `v1`).
    pub served: Vec<String>,
    /// `(group, kind)` of the app's objects (core group: empty).
    pub app_kinds: Vec<(String, String)>,
    /// CRD names the app ships.
    pub app_crds: Vec<String>,
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn arr<'a>(v: &'a Value, p: &str) -> &'a [Value] {
    v.pointer(p)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The newest time an object was written: its newest `managedFields` time, else creation.
pub fn changed_at(o: &Value) -> String {
    arr(o, "/metadata/managedFields")
        .iter()
        .map(|m| s(m, "/time"))
        .chain(std::iter::once(s(o, "/metadata/creationTimestamp")))
        .max()
        .unwrap_or("")
        .to_string()
}

fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(g, _)| g)
}

const NODE_LABELS: &[&str] = &[
    "kubernetes.io/os",
    "kubernetes.io/arch",
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
];

fn node(n: &Value, selected: &BTreeSet<String>) -> NodeFacts {
    let ni = |k: &str| s(n, &format!("/status/nodeInfo/{k}")).to_string();
    let conds = arr(n, "/status/conditions");
    let ready = conds
        .iter()
        .any(|c| s(c, "/type") == "Ready" && s(c, "/status") == "True");
    // A reboot into another kernel shows as a condition transition; an admin's edit as a
    // managedFields entry (the kubelet's own status writes are every few seconds: skipped).
    let changed_at = conds
        .iter()
        .map(|c| s(c, "/lastTransitionTime"))
        .chain(
            arr(n, "/metadata/managedFields")
                .iter()
                .filter(|m| {
                    let who = s(m, "/manager");
                    !who.contains("kubelet") && !who.contains("controller") && who != "k3s"
                })
                .map(|m| s(m, "/time")),
        )
        .max()
        .unwrap_or("")
        .to_string();
    let allocatable = ["cpu", "memory", "pods", "ephemeral-storage"]
        .iter()
        .filter_map(|k| {
            let v = s(n, &format!("/status/allocatable/{k}"));
            (!v.is_empty()).then(|| (k.to_string(), v.to_string()))
        })
        .collect();
    let labels = n
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| {
                    NODE_LABELS.contains(&k.as_str())
                        || k.starts_with("node-role.kubernetes.io/")
                        || selected.contains(k.as_str())
                })
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    let mut taints: Vec<String> = arr(n, "/spec/taints")
        .iter()
        // The simulator and kubelets add not-ready taints themselves; Ready says that already.
        .filter(|t| !s(t, "/key").starts_with("node.kubernetes.io/"))
        .map(|t| {
            let v = s(t, "/value");
            let kv = if v.is_empty() {
                s(t, "/key").to_string()
            } else {
                format!("{}={v}", s(t, "/key"))
            };
            format!("{kv}:{}", s(t, "/effect"))
        })
        .collect();
    taints.sort();
    NodeFacts {
        name: s(n, "/metadata/name").to_string(),
        ready,
        os_image: ni("osImage"),
        kernel: ni("kernelVersion"),
        runtime: ni("containerRuntimeVersion"),
        arch: ni("architecture"),
        kubelet: ni("kubeletVersion"),
        allocatable,
        labels,
        taints,
        changed_at,
    }
}

fn class(o: &Value, provisioner: &str, annotation: &str) -> ClassFacts {
    ClassFacts {
        name: s(o, "/metadata/name").to_string(),
        provisioner: s(o, provisioner).to_string(),
        default: o
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(annotation))
            .and_then(Value::as_str)
            == Some("true"),
        changed_at: changed_at(o),
    }
}

fn webhooks(configs: &[Value], kind: &str, out: &mut Vec<WebhookFacts>) {
    for c in configs {
        for w in arr(c, "/webhooks") {
            let target = if let Some(svc) = w.pointer("/clientConfig/service") {
                format!("service {}/{}", s(svc, "/namespace"), s(svc, "/name"))
            } else {
                let url = s(w, "/clientConfig/url");
                let host = url
                    .split("://")
                    .nth(1)
                    .unwrap_or(url)
                    .split(['/', '?'])
                    .next()
                    .unwrap_or("");
                // Never keep credentials of a `user:password@host` URL.
                let host = host.rsplit('@').next().unwrap_or(host);
                format!("url {host}")
            };
            out.push(WebhookFacts {
                kind: kind.to_string(),
                config: s(c, "/metadata/name").to_string(),
                name: s(w, "/name").to_string(),
                failure_policy: match s(w, "/failurePolicy") {
                    "" => "Fail".to_string(),
                    p => p.to_string(),
                },
                target,
                changed_at: changed_at(c),
            });
        }
    }
}

/// The distribution, from the version string, node provider IDs and labels, and served groups.
pub fn distribution(git_version: &str, nodes: &[Value], served: &[String]) -> String {
    let v = git_version.to_ascii_lowercase();
    let provider = nodes
        .first()
        .map(|n| s(n, "/spec/providerID"))
        .unwrap_or("");
    let has_label = |p: &str| {
        nodes.iter().any(|n| {
            n.pointer("/metadata/labels")
                .and_then(Value::as_object)
                .is_some_and(|m| m.keys().any(|k| k.starts_with(p)))
        })
    };
    let d = if v.contains("+k3s") {
        "k3s"
    } else if v.contains("+rke2") {
        "rke2"
    } else if v.contains("-eks-") || has_label("eks.amazonaws.com/") {
        "eks"
    } else if v.contains("-gke.") || has_label("cloud.google.com/gke") {
        "gke"
    } else if provider.starts_with("azure://") || has_label("kubernetes.azure.com/") {
        "aks"
    } else if served.iter().any(|g| g.starts_with("config.openshift.io/")) {
        "openshift"
    } else {
        "vanilla"
    };
    d.to_string()
}

/// The digest part of a container status `imageID` (`…@sha256:…`), or the ID itself.
fn digest(image_id: &str) -> String {
    match image_id.rsplit_once('@') {
        Some((_, d)) => d.to_string(),
        None => image_id
            .trim_start_matches("docker-pullable://")
            .to_string(),
    }
}

/// Build the cluster facts from the objects.
pub fn cluster_facts(input: &ClusterInput) -> ClusterFacts {
    let selected: BTreeSet<String> = input
        .pods
        .iter()
        .filter_map(|p| p.pointer("/spec/nodeSelector").and_then(Value::as_object))
        .flat_map(|m| m.keys().cloned())
        .collect();
    let mut nodes: Vec<NodeFacts> = input.nodes.iter().map(|n| node(n, &selected)).collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let mut storage_classes: Vec<ClassFacts> = input
        .storage_classes
        .iter()
        .map(|o| {
            class(
                o,
                "/provisioner",
                "storageclass.kubernetes.io/is-default-class",
            )
        })
        .collect();
    storage_classes.sort_by(|a, b| a.name.cmp(&b.name));
    let mut ingress_classes: Vec<ClassFacts> = input
        .ingress_classes
        .iter()
        .map(|o| {
            class(
                o,
                "/spec/controller",
                "ingressclass.kubernetes.io/is-default-class",
            )
        })
        .collect();
    ingress_classes.sort_by(|a, b| a.name.cmp(&b.name));
    // The app's kinds: served versions of each, and the CRDs behind custom ones.
    let kinds: BTreeSet<(String, String)> = input.app_kinds.iter().cloned().collect();
    let mut apis: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (g, k) in &kinds {
        let mut versions: Vec<String> = input
            .served
            .iter()
            .filter_map(|e| {
                let (gv, kind) = e.rsplit_once('/')?;
                (kind == k && group_of(gv) == g && gv.contains('/') != g.is_empty())
                    .then(|| gv.rsplit('/').next().unwrap_or(gv).to_string())
            })
            .collect();
        versions.sort();
        versions.dedup();
        apis.insert(format!("{g}/{k}"), versions);
    }
    let mut crds: Vec<CrdFacts> = input
        .crds
        .iter()
        .filter(|c| {
            let g = s(c, "/spec/group");
            let k = s(c, "/spec/names/kind");
            kinds.contains(&(g.to_string(), k.to_string()))
                || input.app_crds.iter().any(|n| n == s(c, "/metadata/name"))
        })
        .map(|c| {
            let vs = arr(c, "/spec/versions");
            let mut versions: Vec<String> = vs
                .iter()
                .filter(|v| v.get("served").and_then(Value::as_bool) != Some(false))
                .map(|v| s(v, "/name").to_string())
                .collect();
            versions.sort();
            CrdFacts {
                name: s(c, "/metadata/name").to_string(),
                versions,
                storage: vs
                    .iter()
                    .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                    .map(|v| s(v, "/name").to_string())
                    .unwrap_or_default(),
                changed_at: changed_at(c),
            }
        })
        .collect();
    crds.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hooks = Vec::new();
    webhooks(&input.validating_webhooks, "validating", &mut hooks);
    webhooks(&input.mutating_webhooks, "mutating", &mut hooks);
    hooks.sort_by(|a, b| (&a.kind, &a.config, &a.name).cmp(&(&b.kind, &b.config, &b.name)));
    let namespace = match &input.namespace {
        Some(ns) => NamespaceFacts {
            name: s(ns, "/metadata/name").to_string(),
            pod_security: ns
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| {
                            let key = k.strip_prefix("pod-security.kubernetes.io/")?;
                            Some((key.to_string(), v.as_str().unwrap_or("").to_string()))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            changed_at: changed_at(ns),
        },
        None => NamespaceFacts {
            name: input.namespace_name.clone(),
            ..Default::default()
        },
    };
    let mut images = BTreeMap::new();
    for p in &input.pods {
        for st in ["/status/initContainerStatuses", "/status/containerStatuses"] {
            for c in arr(p, st) {
                let (image, id) = (s(c, "/image"), s(c, "/imageID"));
                if !image.is_empty() && !id.is_empty() {
                    images.insert(image.to_string(), digest(id));
                }
            }
        }
    }
    ClusterFacts {
        version: s(&input.version, "/gitVersion").to_string(),
        distribution: distribution(
            s(&input.version, "/gitVersion"),
            &input.nodes,
            &input.served,
        ),
        nodes,
        storage_classes,
        ingress_classes,
        crds,
        apis,
        webhooks: hooks,
        namespace,
        images,
    }
}
