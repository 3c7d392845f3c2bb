//! `meta.k8s.io/v1` Table output for `kubectl get`: the columns of upstream's printers
//! per kind (priority-1 columns show with `-o wide`), CRD additionalPrinterColumns, and
//! kubectl's age format.

use crate::api::Query;
use crate::catalog::ResourceType;
use crate::store::Store;
use serde_json::{Value, json};
use std::sync::Arc;

/// kubectl's HumanDuration.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    if s < 120 {
        return format!("{s}s");
    }
    let m = s / 60;
    if m < 10 {
        let r = s % 60;
        return if r == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{r}s")
        };
    }
    if m < 180 {
        return format!("{m}m");
    }
    let h = s / 3600;
    if h < 8 {
        let r = m % 60;
        return if r == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{r}m")
        };
    }
    if h < 48 {
        return format!("{h}h");
    }
    let d = h / 24;
    if h < 192 {
        let r = h % 24;
        return if r == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{r}h")
        };
    }
    if d < 730 {
        return format!("{d}d");
    }
    let y = d / 365;
    if y < 8 {
        let r = d % 365;
        return if r == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{r}d")
        };
    }
    format!("{y}y")
}

fn age_of(ts: &Value) -> String {
    match ts.as_str().and_then(|s| s.parse::<jiff::Timestamp>().ok()) {
        Some(t) => human_duration((jiff::Timestamp::now() - t).get_seconds()),
        None => "<unknown>".into(),
    }
}

fn age(o: &Value) -> String {
    age_of(&o["metadata"]["creationTimestamp"])
}

fn col(name: &str, typ: &str, priority: u8) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": typ, "format": format, "description": "", "priority": priority})
}

fn i(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

fn none_if_empty(x: String) -> String {
    if x.is_empty() { "<none>".into() } else { x }
}

fn containers_images(spec: &Value) -> (String, String) {
    let cs = spec["containers"].as_array().cloned().unwrap_or_default();
    (
        cs.iter()
            .map(|c| s(&c["name"]))
            .collect::<Vec<_>>()
            .join(","),
        cs.iter()
            .map(|c| s(&c["image"]))
            .collect::<Vec<_>>()
            .join(","),
    )
}

fn selector_str(sel: &Value) -> String {
    let sel = crate::controllers::selector_string(sel);
    none_if_empty(sel)
}

/// The STATUS column of `kubectl get pods`.
pub fn pod_status(p: &Value) -> String {
    let mut reason = p["status"]["reason"]
        .as_str()
        .or(p["status"]["phase"].as_str())
        .unwrap_or("Pending")
        .to_string();
    let init = p["status"]["initContainerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut initializing = false;
    for (n, c) in init.iter().enumerate() {
        let st = &c["state"];
        if st["terminated"]["exitCode"].as_i64() == Some(0) {
            continue;
        }
        initializing = true;
        reason = if let Some(r) = st["terminated"]["reason"].as_str() {
            format!("Init:{r}")
        } else if let Some(r) = st["waiting"]["reason"]
            .as_str()
            .filter(|r| *r != "PodInitializing")
        {
            format!("Init:{r}")
        } else {
            format!("Init:{}/{}", n, init.len())
        };
        break;
    }
    if !initializing {
        let mut has_running = false;
        for c in p["status"]["containerStatuses"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .rev()
        {
            let st = &c["state"];
            if let Some(r) = st["waiting"]["reason"].as_str() {
                reason = r.to_string();
            } else if let Some(r) = st["terminated"]["reason"].as_str() {
                reason = r.to_string();
            } else if st["terminated"].is_object() {
                reason = match st["terminated"]["signal"].as_i64() {
                    Some(sig) if sig != 0 => format!("Signal:{sig}"),
                    _ => format!("ExitCode:{}", i(&st["terminated"]["exitCode"])),
                };
            } else if c["ready"] == true && st["running"].is_object() {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".into();
        }
    }
    if p["metadata"].get("deletionTimestamp").is_some() {
        reason = "Terminating".into();
    }
    reason
}

/// (columns, cells) for an object of a built-in kind.
fn builtin(store: &Store, kind: &str, group: &str, o: &Value) -> Option<(Vec<Value>, Vec<Value>)> {
    let name = json!(s(&o["metadata"]["name"]));
    let st = &o["status"];
    let spec = &o["spec"];
    Some(match (group, kind) {
        ("apps", "Deployment") => {
            let (c, im) = containers_images(&spec["template"]["spec"]);
            (
                vec![
                    col("Name", "string", 0),
                    col("Ready", "string", 0),
                    col("Up-to-date", "string", 0),
                    col("Available", "string", 0),
                    col("Age", "string", 0),
                    col("Containers", "string", 1),
                    col("Images", "string", 1),
                    col("Selector", "string", 1),
                ],
                vec![
                    name,
                    json!(format!(
                        "{}/{}",
                        i(&st["readyReplicas"]),
                        spec["replicas"].as_i64().unwrap_or(1)
                    )),
                    json!(i(&st["updatedReplicas"])),
                    json!(i(&st["availableReplicas"])),
                    json!(age(o)),
                    json!(c),
                    json!(im),
                    json!(selector_str(&spec["selector"])),
                ],
            )
        }
        ("apps", "ReplicaSet") => {
            let (c, im) = containers_images(&spec["template"]["spec"]);
            (
                vec![
                    col("Name", "string", 0),
                    col("Desired", "integer", 0),
                    col("Current", "integer", 0),
                    col("Ready", "integer", 0),
                    col("Age", "string", 0),
                    col("Containers", "string", 1),
                    col("Images", "string", 1),
                    col("Selector", "string", 1),
                ],
                vec![
                    name,
                    json!(spec["replicas"].as_i64().unwrap_or(1)),
                    json!(i(&st["replicas"])),
                    json!(i(&st["readyReplicas"])),
                    json!(age(o)),
                    json!(c),
                    json!(im),
                    json!(selector_str(&spec["selector"])),
                ],
            )
        }
        ("apps", "StatefulSet") => {
            let (c, im) = containers_images(&spec["template"]["spec"]);
            (
                vec![
                    col("Name", "string", 0),
                    col("Ready", "string", 0),
                    col("Age", "string", 0),
                    col("Containers", "string", 1),
                    col("Images", "string", 1),
                ],
                vec![
                    name,
                    json!(format!(
                        "{}/{}",
                        i(&st["readyReplicas"]),
                        spec["replicas"].as_i64().unwrap_or(1)
                    )),
                    json!(age(o)),
                    json!(c),
                    json!(im),
                ],
            )
        }
        ("apps", "DaemonSet") => {
            let (c, im) = containers_images(&spec["template"]["spec"]);
            let ns = spec["template"]["spec"]["nodeSelector"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            (
                vec![
                    col("Name", "string", 0),
                    col("Desired", "integer", 0),
                    col("Current", "integer", 0),
                    col("Ready", "integer", 0),
                    col("Up-to-date", "integer", 0),
                    col("Available", "integer", 0),
                    col("Node Selector", "string", 0),
                    col("Age", "string", 0),
                    col("Containers", "string", 1),
                    col("Images", "string", 1),
                    col("Selector", "string", 1),
                ],
                vec![
                    name,
                    json!(i(&st["desiredNumberScheduled"])),
                    json!(i(&st["currentNumberScheduled"])),
                    json!(i(&st["numberReady"])),
                    json!(i(&st["updatedNumberScheduled"])),
                    json!(i(&st["numberAvailable"])),
                    json!(none_if_empty(ns)),
                    json!(age(o)),
                    json!(c),
                    json!(im),
                    json!(selector_str(&spec["selector"])),
                ],
            )
        }
        ("", "Pod") => {
            let cs = o["status"]["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let total = spec["containers"].as_array().map(|a| a.len()).unwrap_or(0);
            let ready = cs.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = cs.iter().map(|c| i(&c["restartCount"])).sum();
            let mut restarts_s = restarts.to_string();
            if restarts > 0
                && let Some(t) = cs
                    .iter()
                    .filter_map(|c| c["lastState"]["terminated"]["finishedAt"].as_str())
                    .max()
            {
                restarts_s = format!("{restarts} ({} ago)", age_of(&json!(t)));
            }
            (
                vec![
                    col("Name", "string", 0),
                    col("Ready", "string", 0),
                    col("Status", "string", 0),
                    col("Restarts", "string", 0),
                    col("Age", "string", 0),
                    col("IP", "string", 1),
                    col("Node", "string", 1),
                    col("Nominated Node", "string", 1),
                    col("Readiness Gates", "string", 1),
                ],
                vec![
                    name,
                    json!(format!("{ready}/{total}")),
                    json!(pod_status(o)),
                    json!(restarts_s),
                    json!(age(o)),
                    json!(none_if_empty(s(&st["podIP"]))),
                    json!(none_if_empty(s(&spec["nodeName"]))),
                    json!("<none>"),
                    json!("<none>"),
                ],
            )
        }
        ("", "Service") => {
            let typ = spec["type"].as_str().unwrap_or("ClusterIP").to_string();
            let ext = match typ.as_str() {
                "LoadBalancer" => {
                    let ips: Vec<String> = st["loadBalancer"]["ingress"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|x| {
                                    x["ip"]
                                        .as_str()
                                        .or(x["hostname"].as_str())
                                        .unwrap_or("")
                                        .to_string()
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    if ips.is_empty() {
                        "<pending>".to_string()
                    } else {
                        ips.join(",")
                    }
                }
                "ExternalName" => s(&spec["externalName"]),
                _ => "<none>".into(),
            };
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            let proto = p["protocol"].as_str().unwrap_or("TCP");
                            match p["nodePort"].as_i64() {
                                Some(np) => format!("{}:{}/{}", i(&p["port"]), np, proto),
                                None => format!("{}/{}", i(&p["port"]), proto),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            let sel = spec["selector"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            (
                vec![
                    col("Name", "string", 0),
                    col("Type", "string", 0),
                    col("Cluster-IP", "string", 0),
                    col("External-IP", "string", 0),
                    col("Port(s)", "string", 0),
                    col("Age", "string", 0),
                    col("Selector", "string", 1),
                ],
                vec![
                    name,
                    json!(typ),
                    json!(spec["clusterIP"].as_str().unwrap_or("<none>")),
                    json!(ext),
                    json!(none_if_empty(ports.join(","))),
                    json!(age(o)),
                    json!(none_if_empty(sel)),
                ],
            )
        }
        ("batch", "Job") => {
            let conds = st["conditions"].as_array().cloned().unwrap_or_default();
            let has = |t: &str| {
                conds
                    .iter()
                    .any(|c| c["type"] == t && c["status"] == "True")
            };
            let status = if has("Complete") {
                "Complete"
            } else if has("Failed") {
                "Failed"
            } else if has("FailureTarget") {
                "FailureTarget"
            } else if has("Suspended") {
                "Suspended"
            } else {
                "Running"
            };
            let dur = match (st["startTime"].as_str(), st["completionTime"].as_str()) {
                (Some(a), Some(b)) => {
                    match (a.parse::<jiff::Timestamp>(), b.parse::<jiff::Timestamp>()) {
                        (Ok(a), Ok(b)) => human_duration((b - a).get_seconds()),
                        _ => String::new(),
                    }
                }
                (Some(_), None) => age_of(&st["startTime"]),
                _ => String::new(),
            };
            let (c, im) = containers_images(&spec["template"]["spec"]);
            (
                vec![
                    col("Name", "string", 0),
                    col("Status", "string", 0),
                    col("Completions", "string", 0),
                    col("Duration", "string", 0),
                    col("Age", "string", 0),
                    col("Containers", "string", 1),
                    col("Images", "string", 1),
                    col("Selector", "string", 1),
                ],
                vec![
                    name,
                    json!(status),
                    json!(format!(
                        "{}/{}",
                        i(&st["succeeded"]),
                        spec["completions"].as_i64().unwrap_or(1)
                    )),
                    json!(dur),
                    json!(age(o)),
                    json!(c),
                    json!(im),
                    json!(selector_str(&spec["selector"])),
                ],
            )
        }
        ("batch", "CronJob") => (
            vec![
                col("Name", "string", 0),
                col("Schedule", "string", 0),
                col("Timezone", "string", 0),
                col("Suspend", "boolean", 0),
                col("Active", "integer", 0),
                col("Last Schedule", "string", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(s(&spec["schedule"])),
                json!(none_if_empty(s(&spec["timeZone"]))),
                json!(spec["suspend"].as_bool().unwrap_or(false)),
                json!(st["active"].as_array().map(|a| a.len()).unwrap_or(0)),
                json!(if st["lastScheduleTime"].is_string() {
                    age_of(&st["lastScheduleTime"])
                } else {
                    "<none>".into()
                }),
                json!(age(o)),
            ],
        ),
        ("", "Namespace") => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(st["phase"].as_str().unwrap_or("Active")),
                json!(age(o)),
            ],
        ),
        ("", "Node") => {
            let ready = st["conditions"]
                .as_array()
                .and_then(|a| a.iter().find(|c| c["type"] == "Ready"))
                .map(|c| c["status"] == "True")
                .unwrap_or(false);
            let mut status = if ready {
                "Ready".to_string()
            } else {
                "NotReady".to_string()
            };
            if spec["unschedulable"] == true {
                status.push_str(",SchedulingDisabled");
            }
            let roles: Vec<String> = o["metadata"]["labels"]
                .as_object()
                .map(|m| {
                    m.keys()
                        .filter_map(|k| {
                            k.strip_prefix("node-role.kubernetes.io/").map(String::from)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let addr = |t: &str| {
                st["addresses"]
                    .as_array()
                    .and_then(|a| a.iter().find(|x| x["type"] == t))
                    .map(|x| s(&x["address"]))
                    .unwrap_or_else(|| "<none>".into())
            };
            let ni = &st["nodeInfo"];
            (
                vec![
                    col("Name", "string", 0),
                    col("Status", "string", 0),
                    col("Roles", "string", 0),
                    col("Age", "string", 0),
                    col("Version", "string", 0),
                    col("Internal-IP", "string", 1),
                    col("External-IP", "string", 1),
                    col("OS-Image", "string", 1),
                    col("Kernel-Version", "string", 1),
                    col("Container-Runtime", "string", 1),
                ],
                vec![
                    name,
                    json!(status),
                    json!(none_if_empty(roles.join(","))),
                    json!(age(o)),
                    json!(s(&ni["kubeletVersion"])),
                    json!(addr("InternalIP")),
                    json!(addr("ExternalIP")),
                    json!(s(&ni["osImage"])),
                    json!(s(&ni["kernelVersion"])),
                    json!(s(&ni["containerRuntimeVersion"])),
                ],
            )
        }
        ("", "PersistentVolumeClaim") => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Volume", "string", 0),
                col("Capacity", "string", 0),
                col("Access Modes", "string", 0),
                col("StorageClass", "string", 0),
                col("VolumeAttributesClass", "string", 0),
                col("Age", "string", 0),
                col("VolumeMode", "string", 1),
            ],
            vec![
                name,
                json!(st["phase"].as_str().unwrap_or("Pending")),
                json!(s(&spec["volumeName"])),
                json!(s(&st["capacity"]["storage"])),
                json!(access_modes(&st["accessModes"])),
                json!(s(&spec["storageClassName"])),
                json!("<unset>"),
                json!(age(o)),
                json!(s(&spec["volumeMode"])),
            ],
        ),
        ("", "PersistentVolume") => (
            vec![
                col("Name", "string", 0),
                col("Capacity", "string", 0),
                col("Access Modes", "string", 0),
                col("Reclaim Policy", "string", 0),
                col("Status", "string", 0),
                col("Claim", "string", 0),
                col("StorageClass", "string", 0),
                col("VolumeAttributesClass", "string", 0),
                col("Reason", "string", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(s(&spec["capacity"]["storage"])),
                json!(access_modes(&spec["accessModes"])),
                json!(s(&spec["persistentVolumeReclaimPolicy"])),
                json!(s(&st["phase"])),
                json!(if spec["claimRef"].is_object() {
                    format!(
                        "{}/{}",
                        s(&spec["claimRef"]["namespace"]),
                        s(&spec["claimRef"]["name"])
                    )
                } else {
                    String::new()
                }),
                json!(s(&spec["storageClassName"])),
                json!("<unset>"),
                json!(s(&st["reason"])),
                json!(age(o)),
            ],
        ),
        ("", "ConfigMap") => (
            vec![
                col("Name", "string", 0),
                col("Data", "integer", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(
                    o["data"].as_object().map(|m| m.len()).unwrap_or(0)
                        + o["binaryData"].as_object().map(|m| m.len()).unwrap_or(0)
                ),
                json!(age(o)),
            ],
        ),
        ("", "Secret") => (
            vec![
                col("Name", "string", 0),
                col("Type", "string", 0),
                col("Data", "integer", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(s(&o["type"])),
                json!(o["data"].as_object().map(|m| m.len()).unwrap_or(0)),
                json!(age(o)),
            ],
        ),
        ("", "ServiceAccount") => (
            vec![
                col("Name", "string", 0),
                col("Secrets", "integer", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(o["secrets"].as_array().map(|a| a.len()).unwrap_or(0)),
                json!(age(o)),
            ],
        ),
        ("", "Event") => {
            let io = &o["involvedObject"];
            let last = if o["lastTimestamp"].is_string() {
                age_of(&o["lastTimestamp"])
            } else {
                age_of(&o["eventTime"])
            };
            (
                vec![
                    col("Last Seen", "string", 0),
                    col("Type", "string", 0),
                    col("Reason", "string", 0),
                    col("Object", "string", 0),
                    col("Subobject", "string", 1),
                    col("Source", "string", 1),
                    col("Message", "string", 0),
                    col("First Seen", "string", 1),
                    col("Count", "string", 1),
                    col("Name", "string", 1),
                ],
                vec![
                    json!(last),
                    json!(s(&o["type"])),
                    json!(s(&o["reason"])),
                    json!(format!(
                        "{}/{}",
                        s(&io["kind"]).to_lowercase(),
                        s(&io["name"])
                    )),
                    json!(s(&io["fieldPath"])),
                    json!(format!(
                        "{}{}",
                        s(&o["source"]["component"]),
                        o["source"]["host"]
                            .as_str()
                            .map(|h| format!(", {h}"))
                            .unwrap_or_default()
                    )),
                    json!(s(&o["message"])),
                    json!(age_of(&o["firstTimestamp"])),
                    json!(i(&o["count"]).to_string()),
                    name,
                ],
            )
        }
        ("networking.k8s.io" | "extensions", "Ingress") => {
            let hosts: Vec<String> = spec["rules"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|r| r["host"].as_str().unwrap_or("*").to_string())
                        .collect()
                })
                .unwrap_or_default();
            let addr: Vec<String> = st["loadBalancer"]["ingress"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| {
                            x["ip"]
                                .as_str()
                                .or(x["hostname"].as_str())
                                .unwrap_or("")
                                .to_string()
                        })
                        .collect()
                })
                .unwrap_or_default();
            let ports = if spec["tls"].as_array().is_some_and(|a| !a.is_empty()) {
                "80, 443"
            } else {
                "80"
            };
            (
                vec![
                    col("Name", "string", 0),
                    col("Class", "string", 0),
                    col("Hosts", "string", 0),
                    col("Address", "string", 0),
                    col("Ports", "string", 0),
                    col("Age", "string", 0),
                ],
                vec![
                    name,
                    json!(spec["ingressClassName"].as_str().unwrap_or("<none>")),
                    json!(if hosts.is_empty() {
                        "*".into()
                    } else {
                        hosts.join(",")
                    }),
                    json!(addr.join(",")),
                    json!(ports),
                    json!(age(o)),
                ],
            )
        }
        ("storage.k8s.io", "StorageClass") => {
            let default = o["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"]
                == "true";
            let n = if default {
                format!("{} (default)", s(&o["metadata"]["name"]))
            } else {
                s(&o["metadata"]["name"])
            };
            (
                vec![
                    col("Name", "string", 0),
                    col("Provisioner", "string", 0),
                    col("ReclaimPolicy", "string", 0),
                    col("VolumeBindingMode", "string", 0),
                    col("AllowVolumeExpansion", "string", 0),
                    col("Age", "string", 0),
                ],
                vec![
                    json!(n),
                    json!(s(&o["provisioner"])),
                    json!(o["reclaimPolicy"].as_str().unwrap_or("Delete")),
                    json!(o["volumeBindingMode"].as_str().unwrap_or("Immediate")),
                    json!(
                        o["allowVolumeExpansion"]
                            .as_bool()
                            .unwrap_or(false)
                            .to_string()
                    ),
                    json!(age(o)),
                ],
            )
        }
        ("networking.k8s.io", "IngressClass") => (
            vec![
                col("Name", "string", 0),
                col("Controller", "string", 0),
                col("Parameters", "string", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(s(&spec["controller"])),
                json!("<none>"),
                json!(age(o)),
            ],
        ),
        ("networking.k8s.io", "NetworkPolicy") => (
            vec![
                col("Name", "string", 0),
                col("Pod-Selector", "string", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(selector_str(&spec["podSelector"])),
                json!(age(o)),
            ],
        ),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => (
            vec![col("Name", "string", 0), col("Created At", "date", 0)],
            vec![name, json!(s(&o["metadata"]["creationTimestamp"]))],
        ),
        ("", "Endpoints") => (
            vec![
                col("Name", "string", 0),
                col("Endpoints", "string", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(none_if_empty(
                    o["subsets"]
                        .as_array()
                        .map(|ss| ss
                            .iter()
                            .flat_map(|ss| {
                                let ports: Vec<i64> = ss["ports"]
                                    .as_array()
                                    .map(|p| p.iter().map(|p| i(&p["port"])).collect())
                                    .unwrap_or_default();
                                ss["addresses"]
                                    .as_array()
                                    .cloned()
                                    .unwrap_or_default()
                                    .into_iter()
                                    .flat_map(move |a| {
                                        let ip = s(&a["ip"]);
                                        ports.clone().into_iter().map(move |p| format!("{ip}:{p}"))
                                    })
                            })
                            .collect::<Vec<_>>()
                            .join(","))
                        .unwrap_or_default()
                )),
                json!(age(o)),
            ],
        ),
        _ => {
            let _ = store;
            return None;
        }
    })
}

fn access_modes(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|m| match m.as_str().unwrap_or("") {
                    "ReadWriteOnce" => "RWO",
                    "ReadOnlyMany" => "ROX",
                    "ReadWriteMany" => "RWX",
                    "ReadWriteOncePod" => "RWOP",
                    other => other,
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// A minimal JSONPath for printer columns: `.a.b`, `.a[0].b`, `.a[?(@.type=="X")].b`.
pub fn json_path(o: &Value, path: &str) -> Value {
    let mut cur = o.clone();
    let p = path
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim_start_matches('$');
    let mut rest = p;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            cur = cur.get(&r[..end]).cloned().unwrap_or(Value::Null);
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return Value::Null;
            };
            let inner = &r[..end];
            rest = &r[end + 1..];
            if let Some(f) = inner.strip_prefix("?(@.").and_then(|x| x.strip_suffix(')')) {
                let Some((k, v)) = f.split_once("==") else {
                    return Value::Null;
                };
                let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                cur = cur
                    .as_array()
                    .and_then(|a| a.iter().find(|x| x[k.trim()].as_str() == Some(v)).cloned())
                    .unwrap_or(Value::Null);
            } else if let Ok(n) = inner.parse::<usize>() {
                cur = cur.get(n).cloned().unwrap_or(Value::Null);
            } else {
                return Value::Null;
            }
        } else {
            return Value::Null;
        }
    }
    cur
}

fn crd_row(rt: &ResourceType, o: &Value) -> (Vec<Value>, Vec<Value>) {
    let pcs = rt
        .crd
        .as_ref()
        .map(|c| c.printer_columns.clone())
        .unwrap_or_default();
    let mut cols = vec![col("Name", "string", 0)];
    let mut cells = vec![json!(s(&o["metadata"]["name"]))];
    let mut has_age = false;
    for pc in &pcs {
        let name = s(&pc["name"]);
        let typ = pc["type"].as_str().unwrap_or("string");
        let mut c = col(&name, typ, pc["priority"].as_i64().unwrap_or(0) as u8);
        c["description"] = pc["description"].clone();
        cols.push(c);
        let v = json_path(o, pc["jsonPath"].as_str().unwrap_or(""));
        let cell = if typ == "date" {
            if pc["jsonPath"] == ".metadata.creationTimestamp" {
                has_age = true;
            }
            if v.is_string() {
                json!(age_of(&v))
            } else {
                Value::Null
            }
        } else {
            v
        };
        cells.push(cell);
    }
    if pcs.is_empty() && !has_age {
        cols.push(col("Age", "date", 0));
        cells.push(json!(age(o)));
    }
    (cols, cells)
}

/// Build the Table for `objs`.
pub fn table(
    store: &Store,
    rt: &ResourceType,
    objs: &[Arc<Value>],
    _accept: &str,
    q: &Query,
) -> Value {
    let include_full = q.get("includeObject").is_some_and(|v| v == "Object");
    let mut columns: Option<Vec<Value>> = None;
    let mut rows = Vec::with_capacity(objs.len());
    for o in objs {
        let (cols, cells) = if rt.crd.is_some() {
            crd_row(rt, o)
        } else {
            builtin(store, &rt.kind, &rt.group, o).unwrap_or_else(|| {
                (
                    vec![col("Name", "string", 0), col("Age", "string", 0)],
                    vec![json!(s(&o["metadata"]["name"])), json!(age(o))],
                )
            })
        };
        if columns.is_none() {
            columns = Some(cols);
        }
        let object = if include_full {
            crate::api::output(o, rt)
        } else {
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]})
        };
        rows.push(json!({"cells": cells, "object": object}));
    }
    let columns = columns.unwrap_or_else(|| {
        if rt.crd.is_some() {
            crd_row(rt, &json!({})).0
        } else {
            builtin(store, &rt.kind, &rt.group, &json!({"metadata": {}}))
                .map(|x| x.0)
                .unwrap_or_else(|| vec![col("Name", "string", 0), col("Age", "string", 0)])
        }
    });
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": store.rv.to_string()},
        "columnDefinitions": columns,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ages() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(303), "5m3s");
        assert_eq!(human_duration(1500), "25m");
        assert_eq!(human_duration(5 * 3600 + 180), "5h3m");
        assert_eq!(human_duration(2 * 86400 + 3 * 3600), "2d3h");
    }
    #[test]
    fn jsonpath() {
        let o = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}, "spec": {"a": [1, 2]}});
        assert_eq!(
            json_path(&o, ".status.conditions[?(@.type==\"Ready\")].status"),
            json!("True")
        );
        assert_eq!(json_path(&o, ".spec.a[1]"), json!(2));
    }
}
