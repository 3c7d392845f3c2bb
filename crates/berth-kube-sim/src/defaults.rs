//! Defaulting and admission-time fill-ins that a real API server applies on write
//! (pod spec defaults, Service cluster IPs and node ports, default StorageClass and
//! IngressClass, Namespace finalizers and labels, Secret stringData).

use crate::catalog::ResourceType;
use crate::store::Store;
use serde_json::{Value, json};

/// The DefaultStorageClass admission plugin's choice: among the StorageClass objects annotated
/// `storageclass.kubernetes.io/is-default-class: "true"` now (an admin may have moved the
/// default since the cluster started), the newest; none when no class is the default.
fn default_storage_class(store: &Store) -> Option<String> {
    let scs = store.list(
        &("storage.k8s.io".to_string(), "storageclasses".to_string()),
        None,
    );
    scs.iter()
        .filter(|sc| {
            sc.pointer("/metadata/annotations/storageclass.kubernetes.io~1is-default-class")
                .and_then(Value::as_str)
                == Some("true")
        })
        .max_by(|a, b| {
            let key = |o: &Value| {
                (
                    o.pointer("/metadata/creationTimestamp")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    o.pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                )
            };
            key(a).cmp(&key(b))
        })
        .and_then(|sc| {
            sc.pointer("/metadata/name")
                .and_then(Value::as_str)
                .map(String::from)
        })
}

fn set_if_absent(obj: &mut Value, key: &str, v: Value) {
    if let Some(m) = obj.as_object_mut()
        && !m.contains_key(key)
    {
        m.insert(key.to_string(), v);
    }
}

/// Pod spec defaults (also applied to workload templates).
pub fn pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    set_if_absent(spec, "restartPolicy", json!("Always"));
    set_if_absent(spec, "terminationGracePeriodSeconds", json!(30));
    set_if_absent(spec, "dnsPolicy", json!("ClusterFirst"));
    set_if_absent(spec, "securityContext", json!({}));
    set_if_absent(spec, "schedulerName", json!("default-scheduler"));
    for list in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs {
                let image = c["image"].as_str().unwrap_or_default().to_string();
                let tag_latest = {
                    let last = image.rsplit('/').next().unwrap_or("");
                    !image.contains('@') && (!last.contains(':') || last.ends_with(":latest"))
                };
                set_if_absent(
                    c,
                    "imagePullPolicy",
                    json!(if tag_latest { "Always" } else { "IfNotPresent" }),
                );
                set_if_absent(c, "terminationMessagePath", json!("/dev/termination-log"));
                set_if_absent(c, "terminationMessagePolicy", json!("File"));
                set_if_absent(c, "resources", json!({}));
                if let Some(ps) = c.get_mut("ports").and_then(Value::as_array_mut) {
                    for p in ps {
                        set_if_absent(p, "protocol", json!("TCP"));
                    }
                }
            }
        }
    }
}

fn template(obj: &mut Value) {
    if obj["spec"]["template"].is_object() {
        if !obj["spec"]["template"]["metadata"].is_object() {
            obj["spec"]["template"]["metadata"] = json!({});
        }
        pod_spec(&mut obj["spec"]["template"]["spec"]);
    }
}

/// Apply defaults for `rt`'s kind to a new or updated object.
pub fn apply(store: &mut Store, rt: &ResourceType, obj: &mut Value, old: Option<&Value>) {
    if rt.crd.is_some() {
        return;
    }
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => {
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if !obj["metadata"]["labels"].is_object() {
                obj["metadata"]["labels"] = json!({});
            }
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            if !obj["spec"].is_object() {
                obj["spec"] = json!({});
            }
            set_if_absent(&mut obj["spec"], "finalizers", json!(["kubernetes"]));
            if obj["status"]["phase"].is_null() {
                obj["status"] = json!({"phase": "Active"});
            }
        }
        ("", "Pod") => {
            if !obj["spec"].is_object() {
                obj["spec"] = json!({});
            }
            set_if_absent(&mut obj["spec"], "serviceAccountName", json!("default"));
            set_if_absent(&mut obj["spec"], "serviceAccount", json!("default"));
            set_if_absent(&mut obj["spec"], "enableServiceLinks", json!(true));
            set_if_absent(&mut obj["spec"], "priority", json!(0));
            pod_spec(&mut obj["spec"]);
            if obj["status"].is_null() {
                obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
            }
        }
        ("", "Service") => service(store, obj, old),
        ("", "Secret") => {
            set_if_absent(obj, "type", json!("Opaque"));
            if let Some(sd) = obj.get("stringData").and_then(Value::as_object).cloned() {
                use base64::Engine;
                if !obj["data"].is_object() {
                    obj["data"] = json!({});
                }
                for (k, v) in sd {
                    obj["data"][k] = json!(
                        base64::engine::general_purpose::STANDARD
                            .encode(v.as_str().unwrap_or_default())
                    );
                }
                if let Some(m) = obj.as_object_mut() {
                    m.remove("stringData");
                }
            }
        }
        ("", "PersistentVolumeClaim") => {
            if !obj["spec"].is_object() {
                obj["spec"] = json!({});
            }
            set_if_absent(&mut obj["spec"], "volumeMode", json!("Filesystem"));
            if old.is_none()
                && obj["spec"].get("storageClassName").is_none()
                && let Some(sc) = default_storage_class(store)
            {
                obj["spec"]["storageClassName"] = json!(sc);
            }
            if old.is_none() {
                obj["status"] = json!({"phase": "Pending"});
                crate::snapshots::normalize_data_sources(&mut obj["spec"]);
            }
        }
        ("apps", "Deployment") => {
            set_if_absent(&mut obj["spec"], "replicas", json!(1));
            set_if_absent(&mut obj["spec"], "revisionHistoryLimit", json!(10));
            set_if_absent(&mut obj["spec"], "progressDeadlineSeconds", json!(600));
            set_if_absent(
                &mut obj["spec"],
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
            );
            template(obj);
        }
        ("apps", "ReplicaSet") => {
            set_if_absent(&mut obj["spec"], "replicas", json!(1));
            template(obj);
        }
        ("apps", "StatefulSet") => {
            set_if_absent(&mut obj["spec"], "replicas", json!(1));
            set_if_absent(
                &mut obj["spec"],
                "podManagementPolicy",
                json!("OrderedReady"),
            );
            set_if_absent(&mut obj["spec"], "revisionHistoryLimit", json!(10));
            set_if_absent(
                &mut obj["spec"],
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            );
            template(obj);
        }
        ("apps", "DaemonSet") => {
            set_if_absent(&mut obj["spec"], "revisionHistoryLimit", json!(10));
            set_if_absent(
                &mut obj["spec"],
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
            );
            template(obj);
        }
        ("batch", "Job") => {
            let indexed = obj["spec"]["completionMode"] == "Indexed";
            let _ = indexed;
            set_if_absent(&mut obj["spec"], "parallelism", json!(1));
            set_if_absent(&mut obj["spec"], "completions", json!(1));
            set_if_absent(&mut obj["spec"], "backoffLimit", json!(6));
            set_if_absent(&mut obj["spec"], "completionMode", json!("NonIndexed"));
            set_if_absent(&mut obj["spec"], "suspend", json!(false));
            // The job controller labels its pods with the job's uid.
            if old.is_none() && obj["spec"].get("selector").is_none() {
                let uid = obj["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let name = obj["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                obj["spec"]["selector"] =
                    json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
                if !obj["spec"]["template"]["metadata"]["labels"].is_object() {
                    obj["spec"]["template"]["metadata"]["labels"] = json!({});
                }
                let l = &mut obj["spec"]["template"]["metadata"]["labels"];
                l["batch.kubernetes.io/controller-uid"] = json!(uid);
                l["batch.kubernetes.io/job-name"] = json!(name);
                l["controller-uid"] = json!(uid);
                l["job-name"] = json!(name);
            }
            template(obj);
        }
        ("batch", "CronJob") => {
            set_if_absent(&mut obj["spec"], "concurrencyPolicy", json!("Allow"));
            set_if_absent(&mut obj["spec"], "suspend", json!(false));
            set_if_absent(&mut obj["spec"], "successfulJobsHistoryLimit", json!(3));
            set_if_absent(&mut obj["spec"], "failedJobsHistoryLimit", json!(1));
        }
        ("networking.k8s.io" | "extensions", "Ingress") => {
            if old.is_none()
                && obj["spec"].get("ingressClassName").is_none()
                && obj["metadata"]["annotations"]
                    .get("kubernetes.io/ingress.class")
                    .is_none()
                && let Some(c) = store.profile.ingress_classes.iter().find(|c| c.default)
            {
                obj["spec"]["ingressClassName"] = json!(c.name);
            }
        }
        _ => {}
    }
}

fn alloc_ip(store: &mut Store) -> String {
    store.next_ip += 1;
    let n = store.next_ip;
    format!("10.96.{}.{}", (n / 250) % 250, n % 250 + 1)
}

fn service(store: &mut Store, obj: &mut Value, old: Option<&Value>) {
    if !obj["spec"].is_object() {
        obj["spec"] = json!({});
    }
    set_if_absent(&mut obj["spec"], "type", json!("ClusterIP"));
    let typ = obj["spec"]["type"]
        .as_str()
        .unwrap_or("ClusterIP")
        .to_string();
    if typ != "ExternalName" {
        set_if_absent(&mut obj["spec"], "sessionAffinity", json!("None"));
        set_if_absent(&mut obj["spec"], "internalTrafficPolicy", json!("Cluster"));
        set_if_absent(&mut obj["spec"], "ipFamilies", json!(["IPv4"]));
        set_if_absent(&mut obj["spec"], "ipFamilyPolicy", json!("SingleStack"));
        let old_ip = old
            .and_then(|o| o["spec"]["clusterIP"].as_str())
            .map(String::from);
        if obj["spec"]["clusterIP"].as_str().is_none_or(str::is_empty) {
            let ip = old_ip.unwrap_or_else(|| alloc_ip(store));
            obj["spec"]["clusterIP"] = json!(ip);
        }
        let ip = obj["spec"]["clusterIP"].clone();
        obj["spec"]["clusterIPs"] = json!([ip]);
    }
    if typ == "LoadBalancer" || typ == "NodePort" {
        set_if_absent(&mut obj["spec"], "externalTrafficPolicy", json!("Cluster"));
    }
    let old_ports = old
        .and_then(|o| o["spec"]["ports"].as_array().cloned())
        .unwrap_or_default();
    if let Some(ps) = obj["spec"].get_mut("ports").and_then(Value::as_array_mut) {
        for p in ps.iter_mut() {
            set_if_absent(p, "protocol", json!("TCP"));
            if p.get("targetPort").is_none() {
                p["targetPort"] = p["port"].clone();
            }
            if (typ == "NodePort" || typ == "LoadBalancer") && p.get("nodePort").is_none() {
                let prev = old_ports
                    .iter()
                    .find(|o| o["port"] == p["port"] && o["nodePort"].is_number())
                    .map(|o| o["nodePort"].clone());
                let np = match prev {
                    Some(v) => v,
                    None => {
                        store.next_node_port += 1;
                        if store.next_node_port > 32767 {
                            store.next_node_port = 30001;
                        }
                        json!(store.next_node_port)
                    }
                };
                p["nodePort"] = np;
            }
        }
    }
    if obj["status"].is_null() {
        obj["status"] = json!({"loadBalancer": {}});
    }
}
