//! ResourceQuota admission for pods, as kube-apiserver's ResourceQuota plugin answers: a pod
//! whose containers do not state a compute resource a quota tracks is refused
//! (`failed quota: NAME: must specify limits.cpu for: web`), and a pod that would take usage
//! past a hard limit is refused (`exceeded quota: NAME, requested: …, used: …, limited: …`).
//! LimitRange container defaults count as stated, as the LimitRanger plugin (which runs first)
//! would have set them. Usage is what the namespace's non-terminal pods ask for.
//! docs/formats/sim-profile.md §12.

use crate::controllers::{bytes_of, cpu_milli};
use crate::status::ApiError;
use crate::store::Store;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The compute resources each container must state when a quota tracks them.
const VALIDATED: [&str; 6] = [
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// A quantity in its base unit: millicores for cpu, bytes for memory, a count for pods.
fn amount(resource: &str, q: &str) -> i64 {
    if resource.ends_with("cpu") {
        cpu_milli(q)
    } else if resource == "pods" {
        q.trim().parse().unwrap_or(0)
    } else {
        bytes_of(q)
    }
}

/// A base-unit amount written as Kubernetes writes quantities.
fn quantity(resource: &str, n: i64) -> String {
    if resource.ends_with("cpu") {
        return if n % 1000 == 0 {
            (n / 1000).to_string()
        } else {
            format!("{n}m")
        };
    }
    if resource == "pods" {
        return n.to_string();
    }
    for (unit, size) in [("Gi", 1i64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if n != 0 && n % size == 0 {
            return format!("{}{unit}", n / size);
        }
    }
    n.to_string()
}

/// The LimitRange `default` (limits) and `defaultRequest` (requests) for containers.
fn limit_range_defaults(
    store: &Store,
    ns: &str,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let (mut limits, mut requests) = (BTreeMap::new(), BTreeMap::new());
    for lr in store.list(&(String::new(), "limitranges".into()), Some(ns)) {
        for item in lr["spec"]["limits"].as_array().into_iter().flatten() {
            if item["type"].as_str() != Some("Container") {
                continue;
            }
            for (field, out) in [("default", &mut limits), ("defaultRequest", &mut requests)] {
                for (k, v) in item[field].as_object().into_iter().flatten() {
                    if let Some(v) = v.as_str() {
                        out.entry(k.clone()).or_insert_with(|| v.to_string());
                    }
                }
            }
        }
    }
    // LimitRanger sets a missing request to the limit (given or defaulted).
    for (k, v) in &limits {
        requests.entry(k.clone()).or_insert_with(|| v.clone());
    }
    (limits, requests)
}

/// One container's (requests, limits) after LimitRange defaults.
fn container_resources(
    c: &Value,
    defaults: &(BTreeMap<String, String>, BTreeMap<String, String>),
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let read = |field: &str| -> BTreeMap<String, String> {
        c["resources"][field]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| {
                Some((
                    k.clone(),
                    v.as_str()
                        .map(String::from)
                        .or_else(|| Some(v.to_string()))?,
                ))
            })
            .collect()
    };
    let (mut requests, mut limits) = (read("requests"), read("limits"));
    for (k, v) in &defaults.0 {
        limits.entry(k.clone()).or_insert_with(|| v.clone());
    }
    // A stated limit is the request when none is stated; then the LimitRange's request.
    for (k, v) in &limits {
        requests.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for (k, v) in &defaults.1 {
        requests.entry(k.clone()).or_insert_with(|| v.clone());
    }
    (requests, limits)
}

/// What a pod counts against a quota, in base units: `pods`, `requests.*` (also under the
/// bare names) and `limits.*`; the larger of the containers' sum and any init container.
fn pod_usage(
    pod: &Value,
    defaults: &(BTreeMap<String, String>, BTreeMap<String, String>),
) -> BTreeMap<String, i64> {
    let spec = &pod["spec"];
    let sum = |list: &str| -> BTreeMap<String, i64> {
        let mut out = BTreeMap::new();
        for c in spec[list].as_array().into_iter().flatten() {
            let (req, lim) = container_resources(c, defaults);
            for (prefix, m) in [("requests", &req), ("limits", &lim)] {
                for r in ["cpu", "memory"] {
                    if let Some(q) = m.get(r) {
                        let n = amount(r, q);
                        if list == "initContainers" {
                            let e = out.entry(format!("{prefix}.{r}")).or_insert(0);
                            *e = (*e).max(n);
                        } else {
                            *out.entry(format!("{prefix}.{r}")).or_insert(0) += n;
                        }
                    }
                }
            }
        }
        out
    };
    let mut usage = sum("containers");
    for (k, v) in sum("initContainers") {
        let e = usage.entry(k).or_insert(0);
        *e = (*e).max(v);
    }
    for r in ["cpu", "memory"] {
        if let Some(v) = usage.get(&format!("requests.{r}")).copied() {
            usage.insert(r.to_string(), v);
        }
    }
    usage.insert("pods".into(), 1);
    usage
}

fn terminal(pod: &Value) -> bool {
    matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded") | Some("Failed")
    )
}

fn forbidden(shown: &str, msg: String) -> ApiError {
    ApiError::new(
        403,
        "Forbidden",
        format!("pods \"{shown}\" is forbidden: {msg}"),
    )
    .with_details(json!({"name": shown, "kind": "pods"}))
}

/// The containers (and init containers) that do not state `resource` after defaults.
fn missing(
    pod: &Value,
    resource: &str,
    defaults: &(BTreeMap<String, String>, BTreeMap<String, String>),
) -> Vec<String> {
    let (field, name) = match resource.split_once('.') {
        Some((f, n)) => (f, n),
        None => ("requests", resource),
    };
    let mut names: Vec<String> = ["containers", "initContainers"]
        .iter()
        .flat_map(|l| pod["spec"][*l].as_array().into_iter().flatten())
        .filter(|c| {
            let (req, lim) = container_resources(c, defaults);
            let m = if field == "limits" { lim } else { req };
            !m.contains_key(name)
        })
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

/// The profile's `namespaceQuota` objects for a namespace just created through the API: the
/// ResourceQuota `namespace-quota` and, when defaults are given, the LimitRange
/// `namespace-limits`. Created in the same write as the namespace, so no pod can come first.
pub fn namespace_defaults(store: &mut Store, ns: &str) {
    let Some(q) = store.profile.namespace_quota.clone() else {
        return;
    };
    let labels = json!({"app.kubernetes.io/managed-by": "cluster-policy"});
    if !q.hard.is_empty() {
        crate::controllers::put_new(
            store,
            &(String::new(), "resourcequotas".into()),
            json!({"apiVersion": "v1", "kind": "ResourceQuota",
                "metadata": {"name": "namespace-quota", "namespace": ns, "labels": labels},
                "spec": {"hard": q.hard}}),
        );
    }
    if !q.limit_default.is_empty() || !q.limit_default_request.is_empty() {
        let mut limit = json!({"type": "Container"});
        if !q.limit_default.is_empty() {
            limit["default"] = json!(q.limit_default);
        }
        if !q.limit_default_request.is_empty() {
            limit["defaultRequest"] = json!(q.limit_default_request);
        }
        crate::controllers::put_new(
            store,
            &(String::new(), "limitranges".into()),
            json!({"apiVersion": "v1", "kind": "LimitRange",
                "metadata": {"name": "namespace-limits", "namespace": ns, "labels": labels},
                "spec": {"limits": [limit]}}),
        );
    }
}

/// The quota refusal of a new pod in `ns`, if any (`shown` is the name in the message).
pub fn admission_error(store: &Store, ns: &str, pod: &Value, shown: &str) -> Option<ApiError> {
    let quotas = store.list(&(String::new(), "resourcequotas".into()), Some(ns));
    if quotas.is_empty() {
        return None;
    }
    let defaults = limit_range_defaults(store, ns);
    let requested = pod_usage(pod, &defaults);
    let mut used: BTreeMap<String, i64> = BTreeMap::new();
    for p in store.list(&(String::new(), "pods".into()), Some(ns)) {
        if !terminal(&p) {
            for (k, v) in pod_usage(&p, &defaults) {
                *used.entry(k).or_insert(0) += v;
            }
        }
    }
    for q in quotas {
        let name = q["metadata"]["name"].as_str().unwrap_or_default();
        let hard: BTreeMap<String, i64> = q["spec"]["hard"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), amount(k, v.as_str()?))))
            .collect();
        let must: Vec<String> = VALIDATED
            .iter()
            .filter(|r| hard.contains_key(**r))
            .filter_map(|r| {
                let m = missing(pod, r, &defaults);
                (!m.is_empty()).then(|| format!("{r} for: {}", m.join(",")))
            })
            .collect();
        if !must.is_empty() {
            return Some(forbidden(
                shown,
                format!("failed quota: {name}: must specify {}", must.join("; ")),
            ));
        }
        let exceeded: Vec<&String> = hard
            .keys()
            .filter(|r| {
                requested
                    .get(*r)
                    .is_some_and(|n| *n > 0 && used.get(*r).copied().unwrap_or(0) + n > hard[*r])
            })
            .collect();
        if !exceeded.is_empty() {
            let list = |m: &dyn Fn(&str) -> i64| {
                exceeded
                    .iter()
                    .map(|r| format!("{r}={}", quantity(r, m(r))))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            return Some(forbidden(
                shown,
                format!(
                    "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
                    list(&|r| requested[r]),
                    list(&|r| used.get(r).copied().unwrap_or(0)),
                    list(&|r| hard[r]),
                ),
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_and_print_as_kubernetes_writes_them() {
        assert_eq!(
            quantity("limits.cpu", amount("limits.cpu", "1500m")),
            "1500m"
        );
        assert_eq!(quantity("requests.cpu", amount("requests.cpu", "2")), "2");
        assert_eq!(
            quantity("limits.memory", amount("limits.memory", "512Mi")),
            "512Mi"
        );
        assert_eq!(quantity("memory", amount("memory", "1Gi")), "1Gi");
        assert_eq!(quantity("pods", amount("pods", "10")), "10");
    }

    #[test]
    fn usage_sums_containers_takes_the_largest_init_and_uses_limits_as_requests() {
        let pod = json!({"spec": {
        "initContainers": [{"name": "init", "resources": {"requests": {"cpu": "2"}}}],
        "containers": [
            {"name": "a", "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}},
            {"name": "b", "resources": {"requests": {"cpu": "250m"}}}
        ]}});
        let u = pod_usage(&pod, &Default::default());
        assert_eq!(u["requests.cpu"], 2000, "the init container asks for more");
        assert_eq!(u["limits.cpu"], 500);
        assert_eq!(u["requests.memory"], 128 << 20);
        assert_eq!(u["pods"], 1);
        assert_eq!(
            missing(&pod, "limits.cpu", &Default::default()),
            ["b", "init"]
        );
    }
}
