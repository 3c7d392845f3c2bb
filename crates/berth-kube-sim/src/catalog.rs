//! The catalog of served resource types: built-in kinds (filtered by the profile's
//! Kubernetes version, so removed APIs really disappear) plus kinds defined by Established CRDs.

use serde_json::{Value, json};

/// One served resource type (a group/version/plural triple and its metadata).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Subresources served: "status", "scale", "log", "exec".
    pub subresources: Vec<String>,
    /// For CRDs: additionalPrinterColumns and list-map keys read from the schema.
    pub crd: Option<CrdInfo>,
}

/// What the simulator keeps from a CRD version.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CrdInfo {
    pub printer_columns: Vec<Value>,
    pub status_subresource: bool,
}

impl ResourceType {
    /// `deployments.apps` or `configmaps` (the "qualified resource" used in Status messages).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
    /// `Deployment.apps` or `ConfigMap` (the "qualified kind" used in Invalid messages).
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    pub fn verbs(&self) -> Vec<&'static str> {
        vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
    /// Storage key: all versions of one group/resource share one store.
    pub fn storage_key(&self) -> (String, String) {
        (self.group.clone(), self.plural.clone())
    }
}

/// A built-in entry: (group, version, plural, singular, kind, namespaced, shortNames,
/// in "all" category, subresources, first served minor, last served minor).
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    bool,
    &'static [&'static str],
    u32,
    u32,
);

const ST: &[&str] = &["status"];
const SS: &[&str] = &["status", "scale"];
const NONE: &[&str] = &[];
const MAXV: u32 = 999;

#[rustfmt::skip]
fn builtins() -> Vec<(&'static str, Builtin)> {
    // (group, (version, plural, singular? derived, kind, namespaced, short, all, subs, min, max))
    vec![
        ("", ("v1", "namespaces", "Namespace", "", false, &["ns"], false, &["status", "finalize"], 0, MAXV)),
        ("", ("v1", "pods", "Pod", "", true, &["po"], true, &["status", "log", "exec", "attach", "portforward", "eviction", "binding"], 0, MAXV)),
        ("", ("v1", "services", "Service", "", true, &["svc"], true, &["status", "proxy"], 0, MAXV)),
        ("", ("v1", "configmaps", "ConfigMap", "", true, &["cm"], false, NONE, 0, MAXV)),
        ("", ("v1", "secrets", "Secret", "", true, &[], false, NONE, 0, MAXV)),
        ("", ("v1", "serviceaccounts", "ServiceAccount", "", true, &["sa"], false, &["token"], 0, MAXV)),
        ("", ("v1", "persistentvolumeclaims", "PersistentVolumeClaim", "", true, &["pvc"], false, ST, 0, MAXV)),
        ("", ("v1", "persistentvolumes", "PersistentVolume", "", false, &["pv"], false, ST, 0, MAXV)),
        ("", ("v1", "nodes", "Node", "", false, &["no"], false, &["status", "proxy"], 0, MAXV)),
        ("", ("v1", "events", "Event", "", true, &["ev"], false, NONE, 0, MAXV)),
        ("", ("v1", "endpoints", "Endpoints", "", true, &["ep"], false, NONE, 0, MAXV)),
        ("", ("v1", "replicationcontrollers", "ReplicationController", "", true, &["rc"], true, SS, 0, MAXV)),
        ("", ("v1", "limitranges", "LimitRange", "", true, &["limits"], false, NONE, 0, MAXV)),
        ("", ("v1", "resourcequotas", "ResourceQuota", "", true, &["quota"], false, ST, 0, MAXV)),
        ("", ("v1", "podtemplates", "PodTemplate", "", true, &[], false, NONE, 0, MAXV)),
        ("apps", ("v1", "deployments", "Deployment", "", true, &["deploy"], true, SS, 0, MAXV)),
        ("apps", ("v1", "replicasets", "ReplicaSet", "", true, &["rs"], true, SS, 0, MAXV)),
        ("apps", ("v1", "statefulsets", "StatefulSet", "", true, &["sts"], true, SS, 0, MAXV)),
        ("apps", ("v1", "daemonsets", "DaemonSet", "", true, &["ds"], true, ST, 0, MAXV)),
        ("apps", ("v1", "controllerrevisions", "ControllerRevision", "", true, &[], false, NONE, 0, MAXV)),
        ("batch", ("v1", "jobs", "Job", "", true, &[], true, ST, 0, MAXV)),
        ("batch", ("v1", "cronjobs", "CronJob", "", true, &["cj"], true, ST, 21, MAXV)),
        ("batch", ("v1beta1", "cronjobs", "CronJob", "", true, &["cj"], true, ST, 0, 24)),
        ("autoscaling", ("v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", "", true, &["hpa"], true, ST, 23, MAXV)),
        ("autoscaling", ("v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", "", true, &["hpa"], true, ST, 0, MAXV)),
        ("autoscaling", ("v2beta2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", "", true, &["hpa"], true, ST, 0, 25)),
        ("networking.k8s.io", ("v1", "ingresses", "Ingress", "", true, &["ing"], false, ST, 19, MAXV)),
        ("networking.k8s.io", ("v1", "ingressclasses", "IngressClass", "", false, &[], false, NONE, 19, MAXV)),
        ("networking.k8s.io", ("v1", "networkpolicies", "NetworkPolicy", "", true, &["netpol"], false, NONE, 0, MAXV)),
        ("networking.k8s.io", ("v1beta1", "ingresses", "Ingress", "", true, &["ing"], false, ST, 0, 21)),
        ("extensions", ("v1beta1", "ingresses", "Ingress", "", true, &["ing"], false, ST, 0, 21)),
        ("policy", ("v1", "poddisruptionbudgets", "PodDisruptionBudget", "", true, &["pdb"], false, ST, 21, MAXV)),
        ("policy", ("v1beta1", "poddisruptionbudgets", "PodDisruptionBudget", "", true, &["pdb"], false, ST, 0, 24)),
        ("policy", ("v1beta1", "podsecuritypolicies", "PodSecurityPolicy", "", false, &["psp"], false, NONE, 0, 24)),
        ("rbac.authorization.k8s.io", ("v1", "roles", "Role", "", true, &[], false, NONE, 0, MAXV)),
        ("rbac.authorization.k8s.io", ("v1", "rolebindings", "RoleBinding", "", true, &[], false, NONE, 0, MAXV)),
        ("rbac.authorization.k8s.io", ("v1", "clusterroles", "ClusterRole", "", false, &[], false, NONE, 0, MAXV)),
        ("rbac.authorization.k8s.io", ("v1", "clusterrolebindings", "ClusterRoleBinding", "", false, &[], false, NONE, 0, MAXV)),
        ("storage.k8s.io", ("v1", "storageclasses", "StorageClass", "", false, &["sc"], false, NONE, 0, MAXV)),
        ("storage.k8s.io", ("v1", "csidrivers", "CSIDriver", "", false, &[], false, NONE, 0, MAXV)),
        ("storage.k8s.io", ("v1", "volumeattachments", "VolumeAttachment", "", false, &[], false, ST, 0, MAXV)),
        ("apiextensions.k8s.io", ("v1", "customresourcedefinitions", "CustomResourceDefinition", "", false, &["crd", "crds"], false, ST, 0, MAXV)),
        ("coordination.k8s.io", ("v1", "leases", "Lease", "", true, &[], false, NONE, 0, MAXV)),
        ("scheduling.k8s.io", ("v1", "priorityclasses", "PriorityClass", "", false, &["pc"], false, NONE, 0, MAXV)),
        ("node.k8s.io", ("v1", "runtimeclasses", "RuntimeClass", "", false, &[], false, NONE, 20, MAXV)),
        ("discovery.k8s.io", ("v1", "endpointslices", "EndpointSlice", "", true, &[], false, NONE, 21, MAXV)),
        ("events.k8s.io", ("v1", "events", "Event", "", true, &["ev"], false, NONE, 19, MAXV)),
        ("certificates.k8s.io", ("v1", "certificatesigningrequests", "CertificateSigningRequest", "", false, &["csr"], false, &["status", "approval"], 19, MAXV)),
        ("admissionregistration.k8s.io", ("v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", "", false, &[], false, NONE, 16, MAXV)),
        ("admissionregistration.k8s.io", ("v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", "", false, &[], false, NONE, 16, MAXV)),
        ("apiregistration.k8s.io", ("v1", "apiservices", "APIService", "", false, &[], false, ST, 0, MAXV)),
        ("flowcontrol.apiserver.k8s.io", ("v1", "flowschemas", "FlowSchema", "", false, &[], false, ST, 29, MAXV)),
        ("flowcontrol.apiserver.k8s.io", ("v1", "prioritylevelconfigurations", "PriorityLevelConfiguration", "", false, &[], false, ST, 29, MAXV)),
        ("flowcontrol.apiserver.k8s.io", ("v1beta3", "flowschemas", "FlowSchema", "", false, &[], false, ST, 26, 31)),
        ("flowcontrol.apiserver.k8s.io", ("v1beta3", "prioritylevelconfigurations", "PriorityLevelConfiguration", "", false, &[], false, ST, 26, 31)),
        ("flowcontrol.apiserver.k8s.io", ("v1beta2", "flowschemas", "FlowSchema", "", false, &[], false, ST, 23, 28)),
        ("flowcontrol.apiserver.k8s.io", ("v1beta2", "prioritylevelconfigurations", "PriorityLevelConfiguration", "", false, &[], false, ST, 23, 28)),
    ]
}

/// OpenShift-like API groups served with the `openshift` distribution flavour.
#[rustfmt::skip]
fn openshift_types() -> Vec<(&'static str, Builtin)> {
    vec![
        ("route.openshift.io", ("v1", "routes", "Route", "", true, &[], true, ST, 0, MAXV)),
        ("security.openshift.io", ("v1", "securitycontextconstraints", "SecurityContextConstraints", "", false, &["scc"], false, NONE, 0, MAXV)),
        ("project.openshift.io", ("v1", "projects", "Project", "", false, &[], false, NONE, 0, MAXV)),
    ]
}

/// The built-in resource types served by Kubernetes 1.`minor`.
pub fn builtin_types(minor: u32, openshift: bool) -> Vec<ResourceType> {
    let mut all = builtins();
    if openshift {
        all.extend(openshift_types());
    }
    all.into_iter()
        .filter(|(_, b)| minor >= b.8 && minor <= b.9)
        .map(|(group, b)| ResourceType {
            group: group.to_string(),
            version: b.0.to_string(),
            plural: b.1.to_string(),
            singular: b.2.to_lowercase(),
            kind: b.2.to_string(),
            namespaced: b.4,
            short_names: b.5.iter().map(|s| s.to_string()).collect(),
            categories: if b.6 { vec!["all".to_string()] } else { vec![] },
            subresources: b.7.iter().map(|s| s.to_string()).collect(),
            crd: None,
        })
        .collect()
}

/// Resource types a CRD object defines (one per served version), once it is Established.
pub fn crd_types(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or_default();
    let kind = names["kind"].as_str().unwrap_or_default();
    if group.is_empty() || plural.is_empty() || kind.is_empty() {
        return vec![];
    }
    let singular = names["singular"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_lowercase());
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let mut out = Vec::new();
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    // Storage/preferred version first, like the real discovery order.
    let mut versions: Vec<Value> = versions
        .into_iter()
        .filter(|v| v["served"].as_bool().unwrap_or(true))
        .collect();
    versions.sort_by_key(|v| !v["storage"].as_bool().unwrap_or(false));
    for v in versions {
        let Some(name) = v["name"].as_str() else {
            continue;
        };
        let status = v["subresources"].get("status").is_some();
        let scale = v["subresources"].get("scale").is_some();
        let mut subs = vec![];
        if status {
            subs.push("status".to_string());
        }
        if scale {
            subs.push("scale".to_string());
        }
        out.push(ResourceType {
            group: group.to_string(),
            version: name.to_string(),
            plural: plural.to_string(),
            singular: singular.clone(),
            kind: kind.to_string(),
            namespaced,
            short_names: strs(&names["shortNames"]),
            categories: strs(&names["categories"]),
            subresources: subs,
            crd: Some(CrdInfo {
                printer_columns: v["additionalPrinterColumns"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
                status_subresource: status,
            }),
        });
    }
    out
}

/// Group order as a real API server lists it (core groups first, then the rest by name).
pub fn group_order(group: &str) -> (u32, String) {
    const ORDER: &[&str] = &[
        "",
        "apiregistration.k8s.io",
        "apps",
        "events.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "networking.k8s.io",
        "extensions",
        "policy",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "node.k8s.io",
        "discovery.k8s.io",
        "flowcontrol.apiserver.k8s.io",
    ];
    match ORDER.iter().position(|g| *g == group) {
        Some(i) => (i as u32, String::new()),
        None => (1000, group.to_string()),
    }
}

/// Version preference: v1 > v1beta3 > v1beta2 > v1beta1 (GA first, then newest beta).
pub fn version_rank(v: &str) -> (u32, i64) {
    // kube-like ordering: GA (0), beta (1), alpha (2); within, higher number first.
    let rest = v.trim_start_matches('v');
    let (major, kind, minor) = if let Some(i) = rest.find("beta") {
        (&rest[..i], 1, &rest[i + 4..])
    } else if let Some(i) = rest.find("alpha") {
        (&rest[..i], 2, &rest[i + 5..])
    } else {
        (rest, 0, "0")
    };
    let major: i64 = major.parse().unwrap_or(0);
    let minor: i64 = minor.parse().unwrap_or(0);
    (kind, -(major * 1000 + minor))
}

/// A JSON descriptor for an aggregated-discovery resource entry.
pub fn aggregated_resource(rt: &ResourceType) -> Value {
    let subs: Vec<Value> = rt
        .subresources
        .iter()
        .map(|s| {
            let verbs: &[&str] = match s.as_str() {
                "status" | "scale" | "finalize" | "approval" => &["get", "patch", "update"],
                "log" | "proxy" => &["get"],
                _ => &["create", "get"],
            };
            let mut e = json!({"subresource": s, "verbs": verbs});
            if s == "status" || s == "finalize" {
                e["responseKind"] =
                    json!({"group": rt.group, "version": rt.version, "kind": rt.kind});
            } else if s == "scale" {
                e["responseKind"] =
                    json!({"group": "autoscaling", "version": "v1", "kind": "Scale"});
            }
            e
        })
        .collect();
    let mut v = json!({
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": if rt.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": rt.singular,
        "verbs": rt.verbs(),
    });
    if !rt.short_names.is_empty() {
        v["shortNames"] = json!(rt.short_names);
    }
    if !rt.categories.is_empty() {
        v["categories"] = json!(rt.categories);
    }
    if !subs.is_empty() {
        v["subresources"] = Value::Array(subs);
    }
    v
}

/// Legacy discovery entries (the resource, then one per subresource).
pub fn legacy_resources(rt: &ResourceType) -> Vec<Value> {
    let mut main = json!({
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": rt.verbs(),
    });
    if !rt.short_names.is_empty() {
        main["shortNames"] = json!(rt.short_names);
    }
    if !rt.categories.is_empty() {
        main["categories"] = json!(rt.categories);
    }
    let mut out = vec![main];
    for s in &rt.subresources {
        let (kind, verbs): (&str, &[&str]) = match s.as_str() {
            "status" | "finalize" | "approval" => (&rt.kind, &["get", "patch", "update"]),
            "scale" => ("Scale", &["get", "patch", "update"]),
            "log" => ("Pod", &["get"]),
            "proxy" => (&rt.kind, &["get"]),
            _ => (&rt.kind, &["create", "get"]),
        };
        out.push(json!({
            "name": format!("{}/{}", rt.plural, s),
            "singularName": "",
            "namespaced": rt.namespaced,
            "kind": kind,
            "verbs": verbs,
        }));
    }
    out
}
