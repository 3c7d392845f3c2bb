//! Missing references a real cluster stalls on: a pod naming a ServiceAccount that does not
//! exist is refused by the ServiceAccount admission plugin; a pod mounting a missing Secret or
//! ConfigMap waits in ContainerCreating (`FailedMount`); a container taking env from a missing
//! one (or a missing key) waits with `CreateContainerConfigError`. `optional: true` references
//! never stall. The wording is the API server's and the kubelet's.

use crate::status::ApiError;
use crate::store::Store;
use serde_json::{Value, json};

/// The ServiceAccount admission check: `Some(error)` when the pod's ServiceAccount is missing.
/// `shown` is the name the error quotes (the generateName prefix for controller-made pods).
pub fn service_account_error(
    store: &Store,
    ns: &str,
    pod: &Value,
    shown: &str,
) -> Option<ApiError> {
    let spec = &pod["spec"];
    let sa = spec["serviceAccountName"]
        .as_str()
        .or_else(|| spec["serviceAccount"].as_str())
        .filter(|s| !s.is_empty())
        .unwrap_or("default");
    // The namespace controller creates `default` within a tick of the namespace; a real
    // apiserver retries a live lookup for it, so a fresh namespace does not refuse pods.
    if sa == "default" || store.get_core("serviceaccounts", ns, sa).is_some() {
        return None;
    }
    Some(
        ApiError::new(
            403,
            "Forbidden",
            format!(
                "pods \"{shown}\" is forbidden: error looking up service account {ns}/{sa}: serviceaccount \"{sa}\" not found"
            ),
        )
        .with_details(json!({"name": shown, "kind": "pods"})),
    )
}

/// (volume name, kind word, object name, items) of Secret/ConfigMap volume sources that are
/// not optional, including those inside projected volumes.
fn volume_sources(pod: &Value) -> Vec<(String, &'static str, String, Vec<String>)> {
    let mut out = Vec::new();
    let keys = |src: &Value| -> Vec<String> {
        src["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["key"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    for v in pod["spec"]["volumes"].as_array().into_iter().flatten() {
        let vname = v["name"].as_str().unwrap_or("").to_string();
        let mut push = |src: &Value, kind: &'static str, name_key: &str| {
            if src.is_object()
                && src["optional"] != true
                && let Some(n) = src[name_key].as_str()
            {
                out.push((vname.clone(), kind, n.to_string(), keys(src)));
            }
        };
        push(&v["secret"], "secret", "secretName");
        push(&v["configMap"], "configmap", "name");
        for s in v["projected"]["sources"].as_array().into_iter().flatten() {
            push(&s["secret"], "secret", "name");
            push(&s["configMap"], "configmap", "name");
        }
    }
    out
}

fn lookup(store: &Store, kind: &str, ns: &str, name: &str) -> Option<std::sync::Arc<Value>> {
    let plural = if kind == "secret" {
        "secrets"
    } else {
        "configmaps"
    };
    store.get_core(plural, ns, name)
}

fn has_key(obj: &Value, key: &str) -> bool {
    obj["data"].get(key).is_some()
        || obj["binaryData"].get(key).is_some()
        || obj["stringData"].get(key).is_some()
}

/// Kubelet `FailedMount` messages for the pod's volumes that cannot be set up.
pub fn mount_errors(store: &Store, ns: &str, pod: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (vname, kind, name, items) in volume_sources(pod) {
        let detail = match lookup(store, kind, ns, &name) {
            None => format!("{kind} \"{name}\" not found"),
            Some(obj) => match items.iter().find(|k| !has_key(&obj, k)) {
                Some(k) if kind == "secret" => {
                    format!("references non-existent secret key: {k}")
                }
                Some(k) => format!("configmap references non-existent config key: {k}"),
                None => continue,
            },
        };
        out.push(format!(
            "MountVolume.SetUp failed for volume \"{vname}\" : {detail}"
        ));
    }
    out
}

/// The `CreateContainerConfigError` message for a container whose env or envFrom names a
/// missing Secret/ConfigMap or key, if any.
pub fn container_config_error(store: &Store, ns: &str, c: &Value) -> Option<String> {
    for e in c["envFrom"].as_array().into_iter().flatten() {
        for (field, kind) in [("secretRef", "secret"), ("configMapRef", "configmap")] {
            let r = &e[field];
            if let Some(name) = r["name"].as_str()
                && r["optional"] != true
                && lookup(store, kind, ns, name).is_none()
            {
                return Some(format!("{kind} \"{name}\" not found"));
            }
        }
    }
    for e in c["env"].as_array().into_iter().flatten() {
        for (field, kind, title) in [
            ("secretKeyRef", "secret", "Secret"),
            ("configMapKeyRef", "configmap", "ConfigMap"),
        ] {
            let r = &e["valueFrom"][field];
            let (Some(name), Some(key)) = (r["name"].as_str(), r["key"].as_str()) else {
                continue;
            };
            if r["optional"] == true {
                continue;
            }
            match lookup(store, kind, ns, name) {
                None => return Some(format!("{kind} \"{name}\" not found")),
                Some(obj) if !has_key(&obj, key) => {
                    return Some(format!("couldn't find key {key} in {title} {ns}/{name}"));
                }
                Some(_) => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    fn store_with(objs: &[Value]) -> Store {
        let mut s = Store::new(Profile::default());
        for o in objs {
            let plural = if o["kind"] == "Secret" {
                "secrets"
            } else if o["kind"] == "ServiceAccount" {
                "serviceaccounts"
            } else {
                "configmaps"
            };
            let mut o = o.clone();
            s.prepare_create(&mut o);
            s.commit(&(String::new(), plural.into()), o, None);
        }
        s
    }

    #[test]
    fn optional_references_never_stall() {
        let s = store_with(&[]);
        let pod = json!({"spec": {"serviceAccountName": "default", "volumes": [
            {"name": "a", "secret": {"secretName": "s", "optional": true}},
            {"name": "b", "projected": {"sources": [{"configMap": {"name": "c", "optional": true}}]}}]}});
        assert!(mount_errors(&s, "ns", &pod).is_empty());
        let c = json!({"envFrom": [{"secretRef": {"name": "s", "optional": true}}],
            "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k", "optional": true}}}]});
        assert_eq!(container_config_error(&s, "ns", &c), None);
        assert!(service_account_error(&s, "ns", &pod, "p").is_none());
    }

    #[test]
    fn missing_objects_and_keys_use_the_kubelet_wording() {
        let s = store_with(&[
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}, "data": {"a": "1"}}),
        ]);
        let pod = json!({"spec": {"volumes": [
            {"name": "creds", "secret": {"secretName": "s"}},
            {"name": "conf", "configMap": {"name": "c", "items": [{"key": "b", "path": "b"}]}}]}});
        assert_eq!(
            mount_errors(&s, "ns", &pod),
            vec![
                "MountVolume.SetUp failed for volume \"creds\" : secret \"s\" not found",
                "MountVolume.SetUp failed for volume \"conf\" : configmap references non-existent config key: b",
            ]
        );
        let c = json!({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}]});
        assert_eq!(
            container_config_error(&s, "ns", &c).as_deref(),
            Some("couldn't find key k in ConfigMap ns/c")
        );
        let c = json!({"envFrom": [{"secretRef": {"name": "db"}}]});
        assert_eq!(
            container_config_error(&s, "ns", &c).as_deref(),
            Some("secret \"db\" not found")
        );
        let pod = json!({"spec": {"serviceAccountName": "app"}});
        let e = service_account_error(&s, "ns", &pod, "web-abc-").map(|e| e.message);
        assert_eq!(
            e.as_deref(),
            Some(
                "pods \"web-abc-\" is forbidden: error looking up service account ns/app: serviceaccount \"app\" not found"
            )
        );
    }
}
