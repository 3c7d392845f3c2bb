//! The simulated control plane and kubelet. Every tick (100 ms) moves objects towards what a
//! real cluster would show: Deployments -> ReplicaSets -> Pods, StatefulSets (pods and PVCs),
//! DaemonSets, Jobs and CronJobs, the scheduler (node allocatable minus requests), the
//! kubelet (image pulls, crash loops, readiness), PVC binding, Services, Ingresses,
//! Namespaces, CRDs, and the garbage collector. Faults come from `faults`.

use crate::Shared;
use crate::catalog::ResourceType;
use crate::defaults;
use crate::faults::{self, Fail};
use crate::profile::WAIT_FOR_FIRST_CONSUMER;
use crate::registry::PullState;
use crate::selector::LabelSelector;
use crate::store::{Gr, Store, now_str, random_suffix};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub const TICK: Duration = Duration::from_millis(100);

pub(crate) fn gr(g: &str, p: &str) -> Gr {
    (g.to_string(), p.to_string())
}

fn md_str<'a>(o: &'a Value, k: &str) -> &'a str {
    o["metadata"][k].as_str().unwrap_or_default()
}

/// `app=web,tier=fe` for a LabelSelector object.
pub fn selector_string(sel: &Value) -> String {
    let mut parts: Vec<String> = sel["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(exprs) = sel["matchExpressions"].as_array() {
        for e in exprs {
            let k = e["key"].as_str().unwrap_or_default();
            let vals: Vec<&str> = e["values"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            parts.push(match e["operator"].as_str().unwrap_or_default() {
                "In" => format!("{k} in ({})", vals.join(",")),
                "NotIn" => format!("{k} notin ({})", vals.join(",")),
                "Exists" => k.to_string(),
                _ => format!("!{k}"),
            });
        }
    }
    if parts.is_empty() && sel.is_object() && !sel["matchLabels"].is_object() {
        // Service-style plain map.
        if let Some(m) = sel.as_object() {
            return m
                .iter()
                .filter(|(k, _)| *k != "matchExpressions")
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",");
        }
    }
    parts.join(",")
}

// ---------- quantities ----------

/// CPU in millicores.
pub fn cpu_milli(q: &str) -> i64 {
    let q = q.trim();
    if let Some(m) = q.strip_suffix('m') {
        return m.parse::<f64>().map(|v| v as i64).unwrap_or(0);
    }
    q.parse::<f64>().map(|v| (v * 1000.0) as i64).unwrap_or(0)
}

/// Memory (or storage) in bytes.
pub fn bytes_of(q: &str) -> i64 {
    let q = q.trim();
    const UNITS: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("k", 1e3),
        ("K", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("m", 1e-3),
    ];
    for (u, f) in UNITS {
        if let Some(n) = q.strip_suffix(u) {
            return n.parse::<f64>().map(|v| (v * f) as i64).unwrap_or(0);
        }
    }
    q.parse::<f64>().map(|v| v as i64).unwrap_or(0)
}

fn qty_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn pod_requests(p: &Value) -> (i64, i64) {
    let mut cpu = 0;
    let mut mem = 0;
    for c in p["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let r = &c["resources"]["requests"];
        let l = &c["resources"]["limits"];
        let cq = if r["cpu"].is_null() {
            &l["cpu"]
        } else {
            &r["cpu"]
        };
        let mq = if r["memory"].is_null() {
            &l["memory"]
        } else {
            &r["memory"]
        };
        cpu += cpu_milli(&qty_value(cq));
        mem += bytes_of(&qty_value(mq));
    }
    (cpu, mem)
}

// ---------- seeding ----------

pub(crate) fn put_new(store: &mut Store, g: &Gr, mut obj: Value) {
    let ns = md_str(&obj, "namespace").to_string();
    let name = md_str(&obj, "name").to_string();
    if store.get(g, &ns, &name).is_some() {
        return;
    }
    store.prepare_create(&mut obj);
    if let Some(rt) = store.type_for(&g.0, &g.1) {
        defaults::apply(store, &rt, &mut obj, None);
    }
    store.commit(g, obj, None);
}

fn node_object(store: &Store, n: &crate::profile::NodeProfile, idx: usize) -> Value {
    let (_, _, git) = store
        .profile
        .version_parts()
        .unwrap_or((1, 32, "v1.32.0".into()));
    let ip = if n.internal_ip.is_empty() {
        format!("172.18.0.{}", idx + 2)
    } else {
        n.internal_ip.clone()
    };
    let mut labels = serde_json::Map::new();
    labels.insert("kubernetes.io/hostname".into(), json!(n.name));
    labels.insert("kubernetes.io/os".into(), json!("linux"));
    labels.insert("kubernetes.io/arch".into(), json!(n.architecture));
    labels.insert("beta.kubernetes.io/os".into(), json!("linux"));
    labels.insert("beta.kubernetes.io/arch".into(), json!(n.architecture));
    if idx == 0 && n.labels.is_empty() && store.profile.distribution == "vanilla" {
        labels.insert("node-role.kubernetes.io/control-plane".into(), json!(""));
    }
    for (k, v) in &n.labels {
        labels.insert(k.clone(), json!(v));
    }
    let now = now_str();
    let mut taints = n.taints.clone();
    if !n.ready {
        taints.push(json!({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule", "timeAdded": now}));
    }
    let ready = if n.ready {
        json!({"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now})
    } else {
        json!({"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown", "message": "Kubelet stopped posting node status.", "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    let cap = json!({"cpu": n.cpu, "memory": n.memory, "pods": n.pods, "ephemeral-storage": n.ephemeral_storage, "hugepages-2Mi": "0"});
    let mut spec = json!({"podCIDR": format!("10.244.{idx}.0/24"), "podCIDRs": [format!("10.244.{idx}.0/24")], "providerID": format!("berth-sim://{}", n.name)});
    if !taints.is_empty() {
        spec["taints"] = Value::Array(taints);
    }
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": n.name, "labels": labels, "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": spec,
        "status": {
            "capacity": cap, "allocatable": cap,
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available", "lastHeartbeatTime": now, "lastTransitionTime": now},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure", "lastHeartbeatTime": now, "lastTransitionTime": now},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "message": "kubelet has sufficient PID available", "lastHeartbeatTime": now, "lastTransitionTime": now},
                ready,
            ],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": n.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": format!("{:032x}", idx as u128 + 0xbe47),
                "systemUUID": uuid::Uuid::new_v4().to_string(),
                "bootID": uuid::Uuid::new_v4().to_string(),
                "kernelVersion": n.kernel_version, "osImage": n.os_image,
                "containerRuntimeVersion": n.container_runtime_version,
                "kubeletVersion": git, "kubeProxyVersion": git,
                "operatingSystem": "linux", "architecture": n.architecture,
            },
        },
    })
}

/// Populate a fresh cluster from the profile.
pub fn seed(store: &mut Store) {
    let nsg = gr("", "namespaces");
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        put_new(
            store,
            &nsg,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        );
    }
    let profile = store.profile.clone();
    let mut nodes = profile.nodes.clone();
    if nodes.is_empty() {
        nodes.push(crate::profile::NodeProfile::default());
    }
    for (i, n) in nodes.iter().enumerate() {
        let obj = node_object(store, n, i);
        put_new(store, &gr("", "nodes"), obj);
        // The node heartbeat `kubectl describe node` shows.
        let renew = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%S.%6fZ")
            .to_string();
        put_new(
            store,
            &gr("coordination.k8s.io", "leases"),
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": n.name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": n.name, "leaseDurationSeconds": 40, "renewTime": renew}}),
        );
    }
    for sc in &profile.storage_classes {
        let mode = if sc.volume_binding_mode.is_empty() {
            "Immediate"
        } else {
            sc.volume_binding_mode.as_str()
        };
        let mut o = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": sc.name}, "provisioner": sc.provisioner, "reclaimPolicy": "Delete", "volumeBindingMode": mode, "allowVolumeExpansion": true});
        if sc.default {
            o["metadata"]["annotations"] =
                json!({"storageclass.kubernetes.io/is-default-class": "true"});
        }
        put_new(store, &gr("storage.k8s.io", "storageclasses"), o);
    }
    if store.minor >= 19 {
        for ic in &profile.ingress_classes {
            let mut o = json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": ic.name}, "spec": {"controller": ic.controller}});
            if ic.default {
                o["metadata"]["annotations"] =
                    json!({"ingressclass.kubernetes.io/is-default-class": "true"});
            }
            put_new(store, &gr("networking.k8s.io", "ingressclasses"), o);
        }
    }
    put_new(
        store,
        &gr("", "services"),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
               "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}}),
    );
    put_new(
        store,
        &gr("scheduling.k8s.io", "priorityclasses"),
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "system-cluster-critical"}, "value": 2000000000, "description": "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."}),
    );
    if profile.distribution == "openshift" {
        for scc in ["restricted-v2", "anyuid", "privileged"] {
            put_new(
                store,
                &gr("security.openshift.io", "securitycontextconstraints"),
                json!({"apiVersion": "security.openshift.io/v1", "kind": "SecurityContextConstraints", "metadata": {"name": scc}, "allowPrivilegedContainer": scc == "privileged", "runAsUser": {"type": if scc == "restricted-v2" { "MustRunAsRange" } else { "RunAsAny" }}, "seLinuxContext": {"type": "MustRunAs"}}),
            );
        }
    }
    crate::csi::seed(store);
    for crd in profile
        .crds
        .iter()
        .cloned()
        .chain(crate::routing::profile_crds(&profile))
        .chain(crate::snapshots::profile_crds(&profile))
    {
        let mut c = crd;
        c["apiVersion"] = json!("apiextensions.k8s.io/v1");
        c["kind"] = json!("CustomResourceDefinition");
        put_new(
            store,
            &gr("apiextensions.k8s.io", "customresourcedefinitions"),
            c,
        );
    }
    // Establish pre-installed CRDs right away, so they are served from the first request.
    crds(store);
    crate::routing::seed(store);
    crate::snapshots::seed(store);
}

// ---------- the loop ----------

/// How soon after a change the controllers look again (a real cluster's controllers react to
/// watch events within milliseconds, not on a timer).
pub const FOLLOW: Duration = Duration::from_millis(5);

/// A pass a controller asked for comes no sooner than this after the last one.
const WAKE_MIN: Duration = Duration::from_millis(1);

/// At most this many passes in a row come early; then the loop waits a whole [`TICK`], so a
/// controller that changes something on every pass cannot spin.
const MAX_EARLY: u32 = 50;

pub fn spawn(sh: Arc<Shared>, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // The controllers pass every TICK (time-driven work: probe delays, Job durations,
        // backoffs), and sooner — FOLLOW after the store moved — while one write leads to the
        // next (a Deployment's ReplicaSet, its pods, their readiness, the rollout's status).
        let mut last_rv = 0u64;
        let mut moved = false;
        let mut early = 0u32;
        let mut pass_took = Duration::ZERO;
        let mut last_pass = tokio::time::Instant::now();
        let mut wake: Option<std::time::Instant> = None;
        loop {
            // A whole tick after the last pass, or when a controller asked to look again.
            let mut deadline = last_pass + TICK;
            if let Some(w) = wake {
                let w = tokio::time::Instant::from_std(w).max(last_pass + WAKE_MIN);
                deadline = deadline.min(w);
            }
            loop {
                let soon = tokio::time::Instant::now() + FOLLOW.max(pass_took);
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline.min(soon)) => {}
                    _ = stop.changed() => return,
                }
                if tokio::time::Instant::now() >= deadline {
                    early = 0;
                    break;
                }
                if early < MAX_EARLY && (moved || sh.read().rv != last_rv) {
                    early += 1;
                    break;
                }
            }
            let started = std::time::Instant::now();
            let mut store = sh.write();
            let before = store.rv;
            tick(&mut store, &sh);
            moved = store.rv != before;
            last_rv = store.rv;
            wake = store.wake.take();
            drop(store);
            pass_took = started.elapsed();
            last_pass = tokio::time::Instant::now();
        }
    })
}

/// Index of objects by owner uid.
type Owned = HashMap<String, Vec<Arc<Value>>>;

fn owned_index(store: &Store, g: &Gr) -> Owned {
    let mut idx: Owned = HashMap::new();
    if let Some(m) = store.objects.get(g) {
        for o in m.values() {
            if let Some(refs) = o["metadata"]["ownerReferences"].as_array() {
                for r in refs {
                    if let Some(uid) = r["uid"].as_str() {
                        idx.entry(uid.to_string()).or_default().push(o.clone());
                    }
                }
            }
        }
    }
    idx
}

/// One pass of every controller.
pub fn tick(store: &mut Store, sh: &Shared) {
    namespaces(store);
    crds(store);
    deployments(store);
    replicasets(store);
    statefulsets(store);
    daemonsets(store);
    cronjobs(store);
    jobs(store);
    crate::snapshots::tick(store, sh);
    pvcs(store, sh);
    kubelet(store, sh);
    services(store);
    crate::aggregation::controller(store);
    ingresses(store);
    crate::routing::tick(store);
    if store.need_gc {
        store.need_gc = false;
        gc(store);
    }
}

pub(crate) fn set_status(store: &mut Store, g: &Gr, old: &Arc<Value>, status: Value) {
    if old["status"] == status {
        return;
    }
    let mut o = (**old).clone();
    o["status"] = status;
    store.commit(g, o, Some(old.clone()));
}

pub(crate) fn cond(typ: &str, status: bool, reason: &str, message: &str, prev: &Value) -> Value {
    let s = if status { "True" } else { "False" };
    let now = now_str();
    let old = prev
        .as_array()
        .and_then(|a| a.iter().find(|c| c["type"] == typ));
    let transition = match old {
        Some(c) if c["status"] == s => c["lastTransitionTime"].clone(),
        _ => json!(now),
    };
    let update = match old {
        Some(c) if c["status"] == s && c["reason"] == reason => c["lastUpdateTime"].clone(),
        _ => json!(now),
    };
    json!({"type": typ, "status": s, "lastUpdateTime": update, "lastTransitionTime": transition, "reason": reason, "message": message})
}

fn pod_cond(
    typ: &str,
    status: bool,
    reason: Option<&str>,
    message: Option<&str>,
    prev: &Value,
) -> Value {
    let mut c = cond(
        typ,
        status,
        reason.unwrap_or(""),
        message.unwrap_or(""),
        prev,
    );
    if let Some(m) = c.as_object_mut() {
        m.remove("lastUpdateTime");
        if reason.is_none() {
            m.remove("reason");
        }
        if message.is_none() {
            m.remove("message");
        }
        m.insert("lastProbeTime".into(), Value::Null);
    }
    c
}

fn owner_ref(o: &Value) -> Value {
    json!({"apiVersion": o["apiVersion"], "kind": o["kind"], "name": o["metadata"]["name"], "uid": o["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true})
}

/// Stable short hash of a JSON value (pod-template-hash style: 10 safe characters).
fn template_hash(v: &Value) -> String {
    // Key order must not matter (clients reorder maps), so hash a canonical form.
    fn canon(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                // Null and absent are the same field to the Go structs upstream hashes.
                let mut keys: Vec<&String> = m
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, _)| k)
                    .collect();
                keys.sort();
                out.push('{');
                for k in keys {
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    canon(&m[k], out);
                    out.push(',');
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for x in a {
                    canon(x, out);
                    out.push(',');
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut s = String::new();
    canon(v, &mut s);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    const A: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut out = String::new();
    for _ in 0..10 {
        out.push(A[(h % A.len() as u64) as usize] as char);
        h /= A.len() as u64;
    }
    out
}

fn is_deleting(o: &Value) -> bool {
    o["metadata"].get("deletionTimestamp").is_some()
}

/// Copy `sim.berth.dev/*` annotations from an owner to a pod template's metadata.
fn inherit_faults(owner: &Value, meta: &mut Value) {
    if let Some(anns) = owner["metadata"]["annotations"].as_object() {
        for (k, v) in anns {
            if k.starts_with("sim.berth.dev/") {
                if !meta["annotations"].is_object() {
                    meta["annotations"] = json!({});
                }
                if meta["annotations"].get(k).is_none() {
                    meta["annotations"][k] = v.clone();
                }
            }
        }
    }
}

fn create_pod(
    store: &mut Store,
    owner: &Value,
    template: &Value,
    name: &str,
    extra_labels: &[(&str, String)],
) -> Option<Arc<Value>> {
    let ns = md_str(owner, "namespace").to_string();
    let mut meta = template["metadata"].clone();
    if !meta.is_object() {
        meta = json!({});
    }
    inherit_faults(owner, &mut meta);
    if !meta["labels"].is_object() {
        meta["labels"] = json!({});
    }
    for (k, v) in extra_labels {
        meta["labels"][*k] = json!(v);
    }
    meta["name"] = json!(name);
    meta["namespace"] = json!(ns);
    meta["ownerReferences"] = json!([owner_ref(owner)]);
    if let Some(m) = meta.as_object_mut() {
        m.remove("creationTimestamp");
    }
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"].clone()});
    let g = gr("", "pods");
    if store.get(&g, &ns, name).is_some() {
        return None;
    }
    if refused_by_admission(store, owner, &pod, name) {
        return None;
    }
    store.prepare_create(&mut pod);
    if let Some(rt) = store.type_for("", "pods") {
        defaults::apply(store, &rt, &mut pod, None);
    }
    Some(store.commit(&g, pod, None))
}

/// The admission checks a controller's pod create goes through; a refusal becomes the
/// owner's `FailedCreate` event (retried every tick, recorded at most every few seconds).
fn refused_by_admission(store: &mut Store, owner: &Value, pod: &Value, name: &str) -> bool {
    let ns = md_str(owner, "namespace").to_string();
    let owner_name = md_str(owner, "name");
    let kind = owner["kind"].as_str().unwrap_or("");
    // Controllers other than the StatefulSet's create pods by generateName.
    let shown = if kind == "StatefulSet" {
        name.to_string()
    } else {
        format!("{owner_name}-")
    };
    let Some(err) = crate::references::service_account_error(store, &ns, pod, &shown)
        .or_else(|| crate::pod_security::admission_error(store, &ns, pod, &shown))
        .or_else(|| crate::quota::admission_error(store, &ns, pod, &shown))
    else {
        return false;
    };
    let (msg, component) = match kind {
        "StatefulSet" => (
            format!(
                "create Pod {name} in StatefulSet {owner_name} failed error: {}",
                err.message
            ),
            "statefulset-controller",
        ),
        "DaemonSet" => (
            format!("Error creating: {}", err.message),
            "daemonset-controller",
        ),
        "Job" => (format!("Error creating: {}", err.message), "job-controller"),
        _ => (
            format!("Error creating: {}", err.message),
            "replicaset-controller",
        ),
    };
    store.record_event_every(owner, true, "FailedCreate", &msg, component, EVENT_EVERY);
    true
}

/// How often a repeating warning (a retried create, a retried mount) is recorded again.
/// The claim annotation through which the scheduler hands a WaitForFirstConsumer claim's node
/// to the volume controller.
const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";

const EVENT_EVERY: Duration = Duration::from_secs(5);

fn delete_now(store: &mut Store, g: &Gr, o: &Value) {
    let ns = md_str(o, "namespace").to_string();
    let name = md_str(o, "name").to_string();
    let has_finalizers = o["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|a| !a.is_empty());
    if has_finalizers {
        if !is_deleting(o)
            && let Some(old) = store.get(g, &ns, &name)
        {
            let mut n = (*old).clone();
            n["metadata"]["deletionTimestamp"] = json!(now_str());
            store.commit(g, n, Some(old));
        }
    } else {
        store.remove(g, &ns, &name);
    }
}

// ---------- namespaces, CRDs ----------

fn namespaces(store: &mut Store) {
    let nsg = gr("", "namespaces");
    for ns in store.list(&nsg, None) {
        let name = md_str(&ns, "name").to_string();
        if is_deleting(&ns) {
            // Delete everything in it; remove it when empty.
            let namespaced: Vec<ResourceType> = store
                .types
                .iter()
                .filter(|t| t.namespaced)
                .cloned()
                .collect();
            let mut remaining = 0;
            let mut seen = std::collections::HashSet::new();
            for t in namespaced {
                let g = t.storage_key();
                if !seen.insert(g.clone()) {
                    continue;
                }
                for o in store.list(&g, Some(&name)) {
                    remaining += 1;
                    delete_now(store, &g, &o);
                }
            }
            if remaining == 0 {
                store.remove(&nsg, "", &name);
            } else if ns["status"]["phase"] != "Terminating" {
                set_status(store, &nsg, &ns, json!({"phase": "Terminating"}));
            }
            continue;
        }
        let sa = gr("", "serviceaccounts");
        if store.get(&sa, &name, "default").is_none() {
            put_new(
                store,
                &sa,
                json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}}),
            );
        }
        let cm = gr("", "configmaps");
        if store.get(&cm, &name, "kube-root-ca.crt").is_none() {
            put_new(
                store,
                &cm,
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": name, "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}}, "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nberth-sim (not a real CA)\n-----END CERTIFICATE-----\n"}}),
            );
        }
    }
}

fn crds(store: &mut Store) {
    let g = gr("apiextensions.k8s.io", "customresourcedefinitions");
    for crd in store.list(&g, None) {
        if is_deleting(&crd) {
            // Remove the instances, then the CRD (customresourcecleanup finalizer).
            let group = crd["spec"]["group"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let plural = crd["spec"]["names"]["plural"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let cg = gr(&group, &plural);
            let items = store.list(&cg, None);
            for o in &items {
                delete_now(store, &cg, o);
            }
            if items.is_empty() {
                let fins: Vec<Value> = crd["metadata"]["finalizers"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|f| f != "customresourcecleanup.apiextensions.k8s.io")
                    .collect();
                if fins.is_empty() {
                    store.remove(&g, "", md_str(&crd, "name"));
                } else {
                    let mut n = (*crd).clone();
                    n["metadata"]["finalizers"] = Value::Array(fins);
                    store.commit(&g, n, Some(crd.clone()));
                }
            }
            continue;
        }
        let prev = &crd["status"]["conditions"];
        let conds = json!([
            cond(
                "NamesAccepted",
                true,
                "NoConflicts",
                "no conflicts found",
                prev
            ),
            cond(
                "Established",
                true,
                "InitialNamesAccepted",
                "the initial names have been accepted",
                prev
            ),
        ]);
        let mut conds = conds;
        for c in conds.as_array_mut().into_iter().flatten() {
            if let Some(m) = c.as_object_mut() {
                m.remove("lastUpdateTime");
            }
        }
        let stored: Vec<Value> = crd["spec"]["versions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|v| v["storage"] == true)
            .map(|v| v["name"].clone())
            .collect();
        let status = json!({"conditions": conds, "acceptedNames": crd["spec"]["names"], "storedVersions": stored});
        if crd["status"] != status {
            let mut n = (*crd).clone();
            n["status"] = status;
            let fins = n["metadata"]["finalizers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !fins
                .iter()
                .any(|f| f == "customresourcecleanup.apiextensions.k8s.io")
            {
                let mut f = fins;
                f.push(json!("customresourcecleanup.apiextensions.k8s.io"));
                n["metadata"]["finalizers"] = Value::Array(f);
            }
            store.commit(&g, n, Some(crd.clone()));
        }
    }
}

// ---------- workloads ----------

fn int_or_percent(v: &Value, total: i64, round_up: bool) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => match s.strip_suffix('%') {
            Some(p) => {
                let p: i64 = p.parse().unwrap_or(25);
                if round_up {
                    (total * p + 99) / 100
                } else {
                    total * p / 100
                }
            }
            None => s.parse().unwrap_or(0),
        },
        _ => 0,
    }
}

fn deployments(store: &mut Store) {
    let dg = gr("apps", "deployments");
    let rsg = gr("apps", "replicasets");
    let owned = owned_index(store, &rsg);
    for d in store.list(&dg, None) {
        if is_deleting(&d) {
            continue;
        }
        let uid = md_str(&d, "uid").to_string();
        let ns = md_str(&d, "namespace").to_string();
        let dname = md_str(&d, "name").to_string();
        let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
        let paused = d["spec"]["paused"] == true;
        let hash = template_hash(&d["spec"]["template"]);
        let rs_name = format!("{dname}-{hash}");
        let rss = owned.get(&uid).cloned().unwrap_or_default();
        let max_rev = rss
            .iter()
            .filter_map(|r| {
                r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                    .as_str()
                    .and_then(|s| s.parse::<i64>().ok())
            })
            .max()
            .unwrap_or(0);
        let mut new_rs = rss.iter().find(|r| md_str(r, "name") == rs_name).cloned();
        if new_rs.is_none() && !paused {
            let mut tmpl = d["spec"]["template"].clone();
            if !tmpl["metadata"]["labels"].is_object() {
                tmpl["metadata"]["labels"] = json!({});
            }
            tmpl["metadata"]["labels"]["pod-template-hash"] = json!(hash);
            let mut sel = d["spec"]["selector"].clone();
            if !sel["matchLabels"].is_object() {
                sel["matchLabels"] = json!({});
            }
            sel["matchLabels"]["pod-template-hash"] = json!(hash);
            let mut labels = tmpl["metadata"]["labels"].clone();
            labels["pod-template-hash"] = json!(hash);
            let mut anns = json!({"deployment.kubernetes.io/desired-replicas": replicas.to_string(), "deployment.kubernetes.io/max-replicas": (replicas + int_or_percent(&d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], replicas, true)).to_string(), "deployment.kubernetes.io/revision": (max_rev + 1).to_string()});
            inherit_faults(&d, &mut json!({}));
            if let Some(a) = d["metadata"]["annotations"].as_object() {
                for (k, v) in a {
                    if k.starts_with("sim.berth.dev/") {
                        anns[k] = v.clone();
                    }
                }
            }
            let mut rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": rs_name, "namespace": ns, "labels": labels, "annotations": anns, "ownerReferences": [owner_ref(&d)]}, "spec": {"replicas": replicas, "minReadySeconds": d["spec"]["minReadySeconds"].as_i64().unwrap_or(0), "selector": sel, "template": tmpl}});
            store.prepare_create(&mut rs);
            if let Some(rt) = store.type_for("apps", "replicasets") {
                defaults::apply(store, &rt, &mut rs, None);
            }
            let rs = store.commit(&rsg, rs, None);
            store.record_event(
                &d,
                false,
                "ScalingReplicaSet",
                &format!("Scaled up replica set {rs_name} from 0 to {replicas}"),
                "deployment-controller",
            );
            new_rs = Some(rs);
        }
        let Some(new_rs) = new_rs else { continue };
        // A template that matches an old ReplicaSet (rollout undo) makes it the newest revision.
        let rev_of = |r: &Value| {
            r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                .as_str()
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let max_other = rss
            .iter()
            .filter(|r| md_str(r, "name") != rs_name)
            .map(|r| rev_of(r))
            .max()
            .unwrap_or(0);
        let new_rs = if rev_of(&new_rs) <= max_other {
            let mut n = (*new_rs).clone();
            n["metadata"]["annotations"]["deployment.kubernetes.io/revision"] =
                json!((max_other + 1).to_string());
            store.commit(&rsg, n, Some(new_rs.clone()))
        } else {
            new_rs
        };
        // Keep the new ReplicaSet at the desired size; retire old ones once it is ready.
        if new_rs["spec"]["replicas"].as_i64() != Some(replicas) {
            let mut n = (*new_rs).clone();
            let from = n["spec"]["replicas"].as_i64().unwrap_or(0);
            n["spec"]["replicas"] = json!(replicas);
            n["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] =
                json!(replicas.to_string());
            store.commit(&rsg, n, Some(new_rs.clone()));
            let verb = if replicas > from { "up" } else { "down" };
            store.record_event(
                &d,
                false,
                "ScalingReplicaSet",
                &format!("Scaled {verb} replica set {rs_name} from {from} to {replicas}"),
                "deployment-controller",
            );
        }
        let new_ready = new_rs["status"]["availableReplicas"].as_i64().unwrap_or(0);
        let recreate = d["spec"]["strategy"]["type"] == "Recreate";
        for old in rss.iter().filter(|r| md_str(r, "name") != rs_name) {
            let cur = old["spec"]["replicas"].as_i64().unwrap_or(0);
            if cur > 0 && (new_ready >= replicas || recreate) {
                let mut n = (**old).clone();
                n["spec"]["replicas"] = json!(0);
                store.commit(&rsg, n, Some(old.clone()));
                store.record_event(
                    &d,
                    false,
                    "ScalingReplicaSet",
                    &format!(
                        "Scaled down replica set {} from {cur} to 0",
                        md_str(old, "name")
                    ),
                    "deployment-controller",
                );
            }
        }
        // Status from the ReplicaSets.
        let mut names: Vec<String> = rss.iter().map(|r| md_str(r, "name").to_string()).collect();
        if !names.contains(&rs_name) {
            names.push(rs_name.clone());
        }
        let rss: Vec<Arc<Value>> = names
            .iter()
            .filter_map(|n| store.get(&rsg, &ns, n))
            .collect();
        let sum = |k: &str| {
            rss.iter()
                .map(|r| r["status"][k].as_i64().unwrap_or(0))
                .sum::<i64>()
        };
        let new_now = rss.iter().find(|r| md_str(r, "name") == rs_name).cloned();
        let updated = new_now
            .as_ref()
            .map(|r| r["status"]["replicas"].as_i64().unwrap_or(0))
            .unwrap_or(0);
        let new_avail = new_now
            .as_ref()
            .map(|r| r["status"]["availableReplicas"].as_i64().unwrap_or(0))
            .unwrap_or(0);
        let total = sum("replicas");
        let ready = sum("readyReplicas");
        let available = sum("availableReplicas");
        let max_unavail = int_or_percent(
            &d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
            replicas,
            false,
        );
        let prev = &d["status"]["conditions"];
        let avail_ok = available >= replicas - if recreate { 0 } else { max_unavail };
        let available_c = if avail_ok {
            cond(
                "Available",
                true,
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                prev,
            )
        } else {
            cond(
                "Available",
                false,
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                prev,
            )
        };
        let complete = updated == replicas && new_avail == replicas && total == replicas;
        let deadline = d["spec"]["progressDeadlineSeconds"].as_i64().unwrap_or(600);
        let started = new_rs["metadata"]["creationTimestamp"]
            .as_str()
            .and_then(|s| s.parse::<jiff::Timestamp>().ok());
        let elapsed = started
            .map(|t| (jiff::Timestamp::now() - t).get_seconds())
            .unwrap_or(0);
        let progressing_c = if complete {
            cond(
                "Progressing",
                true,
                "NewReplicaSetAvailable",
                &format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
                prev,
            )
        } else if elapsed > deadline {
            cond(
                "Progressing",
                false,
                "ProgressDeadlineExceeded",
                &format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
                prev,
            )
        } else {
            let reason = if prev
                .as_array()
                .is_some_and(|a| a.iter().any(|c| c["type"] == "Progressing"))
            {
                "ReplicaSetUpdated"
            } else {
                "NewReplicaSetCreated"
            };
            let msg = if reason == "NewReplicaSetCreated" {
                format!("Created new replica set \"{rs_name}\"")
            } else {
                format!("ReplicaSet \"{rs_name}\" is progressing.")
            };
            cond("Progressing", true, reason, &msg, prev)
        };
        if progressing_c["reason"] == "ProgressDeadlineExceeded"
            && !prev
                .as_array()
                .is_some_and(|a| a.iter().any(|c| c["reason"] == "ProgressDeadlineExceeded"))
        {
            store.record_event(
                &d,
                true,
                "ProgressDeadlineExceeded",
                &format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
                "deployment-controller",
            );
        }
        let mut status = json!({
            "observedGeneration": d["metadata"]["generation"],
            "replicas": total, "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": available,
            "conditions": [available_c, progressing_c],
        });
        if replicas - available > 0 {
            status["unavailableReplicas"] = json!(replicas - available);
        }
        for k in [
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
        ] {
            if status[k] == 0
                && let Some(m) = status.as_object_mut()
            {
                m.remove(k);
            }
        }
        if let Some(cur) = store.get(&dg, &ns, &dname) {
            // The controller records the current revision on the Deployment (rollout undo
            // patches this annotation).
            let rev = new_now
                .as_ref()
                .and_then(|r| {
                    r["metadata"]["annotations"]["deployment.kubernetes.io/revision"].as_str()
                })
                .map(String::from);
            let cur = match rev {
                Some(rev)
                    if cur["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                        != rev.as_str() =>
                {
                    let mut n = (*cur).clone();
                    if !n["metadata"]["annotations"].is_object() {
                        n["metadata"]["annotations"] = json!({});
                    }
                    n["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!(rev);
                    store.commit(&dg, n, Some(cur.clone()))
                }
                _ => cur,
            };
            set_status(store, &dg, &cur, status);
        }
        if complete && !paused {
            cleanup_old_replicasets(store, &rsg, &d, &rs_name, &rss);
        }
    }
}

/// The deployment controller's cleanup once a rollout is complete: of the old ReplicaSets
/// (`rss` but `current`), all but the newest `spec.revisionHistoryLimit` (default 10) are
/// deleted, oldest revision first, skipping any that still has replicas. Without it every
/// rollout adds one ReplicaSet for good, and clients that read a Deployment's ReplicaSets
/// (Helm's kstatus wait) slow down rollout after rollout.
fn cleanup_old_replicasets(
    store: &mut Store,
    rsg: &Gr,
    d: &Value,
    current: &str,
    rss: &[Arc<Value>],
) {
    let limit = d["spec"]["revisionHistoryLimit"]
        .as_i64()
        .unwrap_or(10)
        .max(0) as usize;
    let mut old: Vec<&Arc<Value>> = rss
        .iter()
        .filter(|r| md_str(r, "name") != current && !is_deleting(r))
        .collect();
    if old.len() <= limit {
        return;
    }
    let revision = |r: &Value| {
        r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            .as_str()
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };
    old.sort_by_key(|r| revision(r));
    let excess = old.len() - limit;
    for r in old.into_iter().take(excess) {
        let scaled_down = r["spec"]["replicas"].as_i64().unwrap_or(0) == 0
            && r["status"]["replicas"].as_i64().unwrap_or(0) == 0;
        if scaled_down {
            delete_now(store, rsg, r);
        }
    }
}

fn pod_ready(p: &Value) -> bool {
    p["status"]["conditions"].as_array().is_some_and(|a| {
        a.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn pod_finished(p: &Value) -> bool {
    matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
}

fn replicasets(store: &mut Store) {
    let rsg = gr("apps", "replicasets");
    let pg = gr("", "pods");
    let owned = owned_index(store, &pg);
    for rs in store.list(&rsg, None) {
        if is_deleting(&rs) {
            continue;
        }
        let uid = md_str(&rs, "uid").to_string();
        let want = rs["spec"]["replicas"].as_i64().unwrap_or(1);
        let mut pods: Vec<Arc<Value>> = owned
            .get(&uid)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !is_deleting(p) && !pod_finished(p))
            .collect();
        let have = pods.len() as i64;
        let rs_name = md_str(&rs, "name").to_string();
        if have < want {
            for _ in have..want {
                let name = format!("{rs_name}-{}", random_suffix(5));
                if let Some(p) = create_pod(store, &rs, &rs["spec"]["template"], &name, &[]) {
                    store.record_event(
                        &rs,
                        false,
                        "SuccessfulCreate",
                        &format!("Created pod: {name}"),
                        "replicaset-controller",
                    );
                    pods.push(p);
                }
            }
        } else if have > want {
            // Delete not-ready pods first, newest first.
            pods.sort_by_key(|p| {
                (
                    pod_ready(p),
                    std::cmp::Reverse(
                        p["metadata"]["creationTimestamp"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                    ),
                )
            });
            let excess: Vec<Arc<Value>> = pods.drain(..(have - want) as usize).collect();
            for p in excess {
                store.remove(&pg, md_str(&p, "namespace"), md_str(&p, "name"));
                store.record_event(
                    &rs,
                    false,
                    "SuccessfulDelete",
                    &format!("Deleted pod: {}", md_str(&p, "name")),
                    "replicaset-controller",
                );
            }
        }
        let ready = pods.iter().filter(|p| pod_ready(p)).count() as i64;
        let mut status = json!({"replicas": pods.len(), "fullyLabeledReplicas": pods.len(), "readyReplicas": ready, "availableReplicas": ready, "observedGeneration": rs["metadata"]["generation"]});
        for k in ["readyReplicas", "availableReplicas", "fullyLabeledReplicas"] {
            if status[k] == 0
                && let Some(m) = status.as_object_mut()
            {
                m.remove(k);
            }
        }
        if let Some(cur) = store.get(&rsg, md_str(&rs, "namespace"), &rs_name) {
            set_status(store, &rsg, &cur, status);
        }
    }
}

fn statefulsets(store: &mut Store) {
    let sg = gr("apps", "statefulsets");
    let pg = gr("", "pods");
    let pvcg = gr("", "persistentvolumeclaims");
    let owned = owned_index(store, &pg);
    for s in store.list(&sg, None) {
        if is_deleting(&s) {
            continue;
        }
        let uid = md_str(&s, "uid").to_string();
        let ns = md_str(&s, "namespace").to_string();
        let name = md_str(&s, "name").to_string();
        let want = s["spec"]["replicas"].as_i64().unwrap_or(1);
        let rev = format!("{name}-{}", template_hash(&s["spec"]["template"]));
        let parallel = s["spec"]["podManagementPolicy"] == "Parallel";
        let pods: Vec<Arc<Value>> = owned.get(&uid).cloned().unwrap_or_default();
        // Replace pods of an old revision (rolling update, highest ordinal first).
        let mut replaced = false;
        for p in pods.iter().rev() {
            if p["metadata"]["labels"]["controller-revision-hash"].as_str() != Some(rev.as_str()) {
                store.remove(&pg, &ns, md_str(p, "name"));
                replaced = true;
                break;
            }
        }
        if replaced {
            continue;
        }
        let mut all_ready_so_far = true;
        for i in 0..want {
            let pname = format!("{name}-{i}");
            match store.get(&pg, &ns, &pname) {
                Some(p) => {
                    if !pod_ready(&p) {
                        all_ready_so_far = false;
                    }
                }
                None => {
                    if !all_ready_so_far && !parallel {
                        break;
                    }
                    let mut tmpl = s["spec"]["template"].clone();
                    // PVCs from volumeClaimTemplates, mounted by the pod.
                    for vct in s["spec"]["volumeClaimTemplates"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                    {
                        let vname = vct["metadata"]["name"]
                            .as_str()
                            .unwrap_or("data")
                            .to_string();
                        let claim = format!("{vname}-{name}-{i}");
                        if store.get(&pvcg, &ns, &claim).is_none() {
                            let mut labels = s["spec"]["selector"]["matchLabels"].clone();
                            if !labels.is_object() {
                                labels = json!({});
                            }
                            let mut pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim, "namespace": ns, "labels": labels}, "spec": vct["spec"].clone()});
                            inherit_faults(&s, &mut pvc["metadata"]);
                            if let Some(a) = vct["metadata"]["annotations"].as_object() {
                                for (k, v) in a {
                                    pvc["metadata"]["annotations"][k] = v.clone();
                                }
                            }
                            store.prepare_create(&mut pvc);
                            if let Some(rt) = store.type_for("", "persistentvolumeclaims") {
                                defaults::apply(store, &rt, &mut pvc, None);
                            }
                            store.commit(&pvcg, pvc, None);
                            store.record_event(
                                &s,
                                false,
                                "SuccessfulCreate",
                                &format!(
                                    "create Claim {claim} Pod {pname} in StatefulSet {name} success"
                                ),
                                "statefulset-controller",
                            );
                        }
                        if !tmpl["spec"]["volumes"].is_array() {
                            tmpl["spec"]["volumes"] = json!([]);
                        }
                        if let Some(vs) = tmpl["spec"]["volumes"].as_array_mut()
                            && !vs.iter().any(|v| v["name"] == vname.as_str())
                        {
                            vs.push(json!({"name": vname, "persistentVolumeClaim": {"claimName": claim}}));
                        }
                    }
                    let labels = [
                        ("controller-revision-hash", rev.clone()),
                        ("statefulset.kubernetes.io/pod-name", pname.clone()),
                        ("apps.kubernetes.io/pod-index", i.to_string()),
                    ];
                    tmpl["spec"]["hostname"] = json!(pname);
                    if let Some(svc) = s["spec"]["serviceName"].as_str() {
                        tmpl["spec"]["subdomain"] = json!(svc);
                    }
                    if create_pod(store, &s, &tmpl, &pname, &labels).is_some() {
                        store.record_event(
                            &s,
                            false,
                            "SuccessfulCreate",
                            &format!("create Pod {pname} in StatefulSet {name} successful"),
                            "statefulset-controller",
                        );
                    }
                    all_ready_so_far = false;
                    if !parallel {
                        break;
                    }
                }
            }
        }
        // Scale down: remove ordinals >= replicas.
        for p in &pods {
            let ord: i64 = md_str(p, "name")
                .rsplit('-')
                .next()
                .and_then(|x| x.parse().ok())
                .unwrap_or(0);
            if ord >= want {
                store.remove(&pg, &ns, md_str(p, "name"));
            }
        }
        let upper = want.max(pods.len() as i64);
        let pods: Vec<Arc<Value>> = (0..upper)
            .filter_map(|i| store.get(&pg, &ns, &format!("{name}-{i}")))
            .filter(|p| {
                p["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|r| r["uid"] == uid.as_str()))
            })
            .collect();
        let n = pods.len() as i64;
        let ready = pods.iter().filter(|p| pod_ready(p)).count() as i64;
        let mut status = json!({"observedGeneration": s["metadata"]["generation"], "replicas": n, "readyReplicas": ready, "currentReplicas": n, "updatedReplicas": n, "availableReplicas": ready, "currentRevision": rev, "updateRevision": rev, "collisionCount": 0});
        if ready == 0
            && let Some(m) = status.as_object_mut()
        {
            m.remove("readyReplicas");
        }
        if let Some(cur) = store.get(&sg, &ns, &name) {
            set_status(store, &sg, &cur, status);
        }
    }
}

fn node_schedulable_names(store: &Store) -> Vec<Arc<Value>> {
    store.list(&gr("", "nodes"), None)
}

fn daemonsets(store: &mut Store) {
    let dg = gr("apps", "daemonsets");
    let pg = gr("", "pods");
    let owned = owned_index(store, &pg);
    let nodes = node_schedulable_names(store);
    for ds in store.list(&dg, None) {
        if is_deleting(&ds) {
            continue;
        }
        let uid = md_str(&ds, "uid").to_string();
        let ns = md_str(&ds, "namespace").to_string();
        let name = md_str(&ds, "name").to_string();
        let sel = LabelSelector::from_map(&ds["spec"]["template"]["spec"]["nodeSelector"]);
        let targets: Vec<&Arc<Value>> = nodes.iter().filter(|n| sel.matches(n)).collect();
        let pods = owned.get(&uid).cloned().unwrap_or_default();
        let hash = template_hash(&ds["spec"]["template"]);
        for p in &pods {
            if p["metadata"]["labels"]["controller-revision-hash"].as_str() != Some(hash.as_str()) {
                store.remove(&pg, &ns, md_str(p, "name"));
            }
        }
        for n in &targets {
            let nname = md_str(n, "name");
            let exists = pods.iter().any(|p| {
                p["spec"]["nodeName"] == nname
                    && p["metadata"]["labels"]["controller-revision-hash"].as_str()
                        == Some(hash.as_str())
            });
            if !exists {
                let mut tmpl = ds["spec"]["template"].clone();
                tmpl["spec"]["nodeName"] = json!(nname);
                let pname = format!("{name}-{}", random_suffix(5));
                if create_pod(
                    store,
                    &ds,
                    &tmpl,
                    &pname,
                    &[
                        ("controller-revision-hash", hash.clone()),
                        (
                            "pod-template-generation",
                            ds["metadata"]["generation"].to_string(),
                        ),
                    ],
                )
                .is_some()
                {
                    store.record_event(
                        &ds,
                        false,
                        "SuccessfulCreate",
                        &format!("Created pod: {pname}"),
                        "daemonset-controller",
                    );
                }
            }
        }
        // Status from this tick's view (new pods count from the next tick).
        let pods: Vec<Arc<Value>> = pods
            .iter()
            .filter_map(|p| store.get(&pg, &ns, md_str(p, "name")))
            .collect();
        let ready = pods.iter().filter(|p| pod_ready(p)).count();
        let want = targets.len();
        let mut status = json!({"currentNumberScheduled": pods.len(), "desiredNumberScheduled": want, "numberMisscheduled": 0, "numberReady": ready, "observedGeneration": ds["metadata"]["generation"], "updatedNumberScheduled": pods.len(), "numberAvailable": ready});
        if want > ready {
            status["numberUnavailable"] = json!(want - ready);
        }
        if let Some(cur) = store.get(&dg, &ns, &name) {
            set_status(store, &dg, &cur, status);
        }
    }
}

fn cron_field_matches(field: &str, v: u32) -> bool {
    field.split(',').any(|part| {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().unwrap_or(1).max(1)),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (0, 59)
        } else if let Some((a, b)) = range.split_once('-') {
            (a.parse().unwrap_or(0), b.parse().unwrap_or(0))
        } else {
            let x: u32 = range.parse().unwrap_or(u32::MAX);
            (x, if step > 1 { 59 } else { x })
        };
        v >= lo && v <= hi && (v - lo).is_multiple_of(step)
    })
}

/// Does a 5-field cron schedule fire at this minute?
pub fn cron_matches(schedule: &str, t: &jiff::civil::DateTime) -> bool {
    let s = match schedule.trim() {
        "@hourly" => "0 * * * *",
        "@daily" | "@midnight" => "0 0 * * *",
        "@weekly" => "0 0 * * 0",
        "@monthly" => "0 0 1 * *",
        "@yearly" | "@annually" => "0 0 1 1 *",
        other => other,
    };
    let f: Vec<&str> = s.split_whitespace().collect();
    if f.len() != 5 {
        return false;
    }
    let dow = t.weekday().to_sunday_zero_offset() as u32;
    cron_field_matches(f[0], t.minute() as u32)
        && cron_field_matches(f[1], t.hour() as u32)
        && cron_field_matches(f[2], t.day() as u32)
        && cron_field_matches(f[3], t.month() as u32)
        && cron_field_matches(f[4], dow)
}

fn cronjobs(store: &mut Store) {
    let cg = gr("batch", "cronjobs");
    let jg = gr("batch", "jobs");
    let now = jiff::Timestamp::now();
    let civil = now.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let minute_key = now.as_second() / 60;
    let owned = owned_index(store, &jg);
    for cj in store.list(&cg, None) {
        if is_deleting(&cj) || cj["spec"]["suspend"] == true {
            continue;
        }
        let ns = md_str(&cj, "namespace").to_string();
        let name = md_str(&cj, "name").to_string();
        let last = cj["status"]["lastScheduleTime"]
            .as_str()
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_second() / 60);
        let run_now =
            faults::annotation(&cj, "sim.berth.dev/run-now") == Some("true") && last.is_none();
        let due = cron_matches(cj["spec"]["schedule"].as_str().unwrap_or(""), &civil)
            && last != Some(minute_key);
        let mut status = cj["status"].clone();
        if !status.is_object() {
            status = json!({});
        }
        if due || run_now {
            let jname = format!("{name}-{}", minute_key);
            let mut job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": cj["spec"]["jobTemplate"]["metadata"].clone(), "spec": cj["spec"]["jobTemplate"]["spec"].clone()});
            if !job["metadata"].is_object() {
                job["metadata"] = json!({});
            }
            job["metadata"]["name"] = json!(jname);
            job["metadata"]["namespace"] = json!(ns);
            job["metadata"]["ownerReferences"] = json!([owner_ref(&cj)]);
            inherit_faults(&cj, &mut job["metadata"]);
            if store.get(&jg, &ns, &jname).is_none() {
                store.prepare_create(&mut job);
                if let Some(rt) = store.type_for("batch", "jobs") {
                    defaults::apply(store, &rt, &mut job, None);
                }
                store.commit(&jg, job, None);
                store.record_event(
                    &cj,
                    false,
                    "SuccessfulCreate",
                    &format!("Created job {jname}"),
                    "cronjob-controller",
                );
            }
            status["lastScheduleTime"] = json!(now_str());
        }
        let jobs = owned.get(md_str(&cj, "uid")).cloned().unwrap_or_default();
        let active: Vec<Value> = jobs.iter().filter(|j| !j["status"]["conditions"].as_array().is_some_and(|a| a.iter().any(|c| (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True"))).map(|j| json!({"kind": "Job", "namespace": ns, "name": j["metadata"]["name"], "uid": j["metadata"]["uid"], "apiVersion": "batch/v1", "resourceVersion": j["metadata"]["resourceVersion"]})).collect();
        if active.is_empty() {
            if let Some(m) = status.as_object_mut() {
                m.remove("active");
            }
        } else {
            status["active"] = Value::Array(active);
        }
        if let Some(t) = jobs
            .iter()
            .filter_map(|j| j["status"]["completionTime"].as_str())
            .max()
        {
            status["lastSuccessfulTime"] = json!(t);
        }
        set_status(store, &cg, &cj, status);
    }
}

fn jobs(store: &mut Store) {
    let jg = gr("batch", "jobs");
    let pg = gr("", "pods");
    let owned = owned_index(store, &pg);
    for j in store.list(&jg, None) {
        if is_deleting(&j) {
            continue;
        }
        let ns = md_str(&j, "namespace").to_string();
        let name = md_str(&j, "name").to_string();
        let uid = md_str(&j, "uid").to_string();
        let prev = &j["status"]["conditions"];
        let finished = prev.as_array().is_some_and(|a| {
            a.iter().any(|c| {
                (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True"
            })
        });
        if finished {
            continue;
        }
        let completions = j["spec"]["completions"].as_i64().unwrap_or(1);
        let parallelism = j["spec"]["parallelism"].as_i64().unwrap_or(1);
        let backoff = j["spec"]["backoffLimit"].as_i64().unwrap_or(6);
        let suspended = j["spec"]["suspend"] == true;
        let pods = owned.get(&uid).cloned().unwrap_or_default();
        let succeeded = pods
            .iter()
            .filter(|p| p["status"]["phase"] == "Succeeded")
            .count() as i64;
        let failed_pods = pods
            .iter()
            .filter(|p| p["status"]["phase"] == "Failed")
            .count() as i64;
        let restarts: i64 = pods
            .iter()
            .map(|p| {
                p["status"]["containerStatuses"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                            .sum::<i64>()
                    })
                    .unwrap_or(0)
            })
            .sum();
        let failed = failed_pods
            + if j["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure" {
                restarts
            } else {
                0
            };
        let active: Vec<&Arc<Value>> = pods.iter().filter(|p| !pod_finished(p)).collect();
        let ready = active.iter().filter(|p| pod_ready(p)).count() as i64;
        let mut status = j["status"].clone();
        if !status.is_object() {
            status = json!({});
        }
        if status.get("startTime").is_none() && !suspended {
            status["startTime"] = json!(now_str());
        }
        let now = now_str();
        if failed > backoff {
            for p in &active {
                store.remove(&pg, &ns, md_str(p, "name"));
            }
            status["conditions"] = json!([
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastProbeTime": now, "lastTransitionTime": now},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastProbeTime": now, "lastTransitionTime": now},
            ]);
            status["failed"] = json!(failed);
            status["active"] = json!(0);
            status["ready"] = json!(0);
            if let Some(m) = status.as_object_mut() {
                m.remove("active");
            }
            store.record_event(
                &j,
                true,
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                "job-controller",
            );
        } else if succeeded >= completions {
            status["conditions"] = json!([
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": now, "lastTransitionTime": now},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": now, "lastTransitionTime": now},
            ]);
            status["succeeded"] = json!(succeeded);
            status["completionTime"] = json!(now);
            status["ready"] = json!(0);
            if let Some(m) = status.as_object_mut() {
                m.remove("active");
            }
            store.record_event(&j, false, "Completed", "Job completed", "job-controller");
        } else if !suspended {
            let want_active = parallelism.min(completions - succeeded);
            let mut n_active = active.len() as i64;
            while n_active < want_active {
                let pname = format!("{name}-{}", random_suffix(5));
                if create_pod(store, &j, &j["spec"]["template"], &pname, &[]).is_some() {
                    store.record_event(
                        &j,
                        false,
                        "SuccessfulCreate",
                        &format!("Created pod: {pname}"),
                        "job-controller",
                    );
                }
                n_active += 1;
            }
            status["active"] = json!(n_active);
            status["ready"] = json!(ready);
            if succeeded > 0 {
                status["succeeded"] = json!(succeeded);
            }
            if failed > 0 {
                status["failed"] = json!(failed);
            }
        }
        status["uncountedTerminatedPods"] = json!({});
        status["terminating"] = json!(0);
        if let Some(cur) = store.get(&jg, &ns, &name) {
            set_status(store, &jg, &cur, status);
        }
    }
}

// ---------- storage, services, ingress ----------

fn pvcs(store: &mut Store, sh: &Shared) {
    let pvcg = gr("", "persistentvolumeclaims");
    let pvg = gr("", "persistentvolumes");
    let scg = gr("storage.k8s.io", "storageclasses");
    let never = store.profile.faults.pvc_never_bind;
    for pvc in store.list(&pvcg, None) {
        if pvc["status"]["phase"] == "Bound" || is_deleting(&pvc) {
            continue;
        }
        let ns = md_str(&pvc, "namespace").to_string();
        let name = md_str(&pvc, "name").to_string();
        let class = pvc["spec"]["storageClassName"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let sc = if class.is_empty() {
            None
        } else {
            store.get(&scg, "", &class)
        };
        if class.is_empty() {
            store.record_event(
                &pvc,
                false,
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
                "persistentvolume-controller",
            );
            continue;
        }
        let Some(sc) = sc else {
            store.record_event(
                &pvc,
                true,
                "ProvisioningFailed",
                &format!("storageclass.storage.k8s.io \"{class}\" not found"),
                "persistentvolume-controller",
            );
            continue;
        };
        let provisioner = sc["provisioner"].as_str().unwrap_or("").to_string();
        let selected_node = pvc["metadata"]["annotations"][SELECTED_NODE]
            .as_str()
            .map(str::to_string);
        if sc["volumeBindingMode"] == WAIT_FOR_FIRST_CONSUMER && selected_node.is_none() {
            store.record_event(
                &pvc,
                false,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
                "persistentvolume-controller",
            );
            continue;
        }
        if never || faults::has(&pvc, Fail::PvcPending) {
            store.record_event(&pvc, false, "ExternalProvisioning", &format!("Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered."), "persistentvolume-controller");
            continue;
        }
        let size = pvc["spec"]["resources"]["requests"]["storage"]
            .as_str()
            .unwrap_or("1Gi")
            .to_string();
        let modes = pvc["spec"]["accessModes"].clone();
        let pv_name = format!("pvc-{}", md_str(&pvc, "uid"));
        // A claim from a VolumeSnapshot waits until its directory holds the snapshot's copy.
        let target = sh.volumes.root().join(&pv_name);
        if !crate::snapshots::prefill(store, sh, &pvc, &class, &provisioner, &target) {
            continue;
        }
        // A real directory: mover processes and tests read and write the volume's files there.
        let dir = sh.volumes.provision(&pv_name);
        let (source_key, source) =
            crate::csi::pv_source(store, &provisioner, &pv_name, md_str(&pvc, "uid"), &dir);
        let mut pv = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv_name, "annotations": {"pv.kubernetes.io/provisioned-by": provisioner}, "finalizers": ["kubernetes.io/pv-protection"]},
            "spec": {"capacity": {"storage": size}, "accessModes": modes, "persistentVolumeReclaimPolicy": sc["reclaimPolicy"].as_str().unwrap_or("Delete"), "storageClassName": class, "volumeMode": pvc["spec"]["volumeMode"].as_str().unwrap_or("Filesystem"),
                "claimRef": {"kind": "PersistentVolumeClaim", "namespace": ns, "name": name, "uid": pvc["metadata"]["uid"], "apiVersion": "v1", "resourceVersion": pvc["metadata"]["resourceVersion"]},
                source_key: source},
            "status": {"phase": "Bound"}});
        if let Some(node) = &selected_node {
            // Provisioned for the node the scheduler chose, as topology-aware provisioners do.
            pv["spec"]["nodeAffinity"] = json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}});
        }
        if store.get(&pvg, "", &pv_name).is_none() {
            store.prepare_create(&mut pv);
            store.commit(&pvg, pv, None);
        }
        store.record_event(
            &pvc,
            false,
            "ProvisioningSucceeded",
            &format!("Successfully provisioned volume {pv_name}"),
            &format!("{provisioner}_berth-sim"),
        );
        let mut n = (*pvc).clone();
        n["spec"]["volumeName"] = json!(pv_name);
        if !n["metadata"]["annotations"].is_object() {
            n["metadata"]["annotations"] = json!({});
        }
        n["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] = json!("yes");
        n["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] = json!("yes");
        n["metadata"]["annotations"]["volume.kubernetes.io/storage-provisioner"] =
            json!(provisioner);
        let fins = n["metadata"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !fins.iter().any(|f| f == "kubernetes.io/pvc-protection") {
            let mut f = fins;
            f.push(json!("kubernetes.io/pvc-protection"));
            n["metadata"]["finalizers"] = Value::Array(f);
        }
        n["status"] =
            json!({"phase": "Bound", "accessModes": modes, "capacity": {"storage": size}});
        store.commit(&pvcg, n, Some(pvc.clone()));
    }
    // A deleted claim releases its volume (reclaim policy Delete) once other controllers'
    // finalizers (a snapshot being cut from it) are gone.
    for pvc in store.list(&pvcg, None) {
        if is_deleting(&pvc) {
            let fins: Vec<Value> = pvc["metadata"]["finalizers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let others: Vec<Value> = fins
                .iter()
                .filter(|f| *f != "kubernetes.io/pvc-protection")
                .cloned()
                .collect();
            let mut n = (*pvc).clone();
            n["metadata"]["finalizers"] = Value::Array(others.clone());
            store.commit(&pvcg, n, Some(pvc.clone()));
            if !others.is_empty() {
                continue;
            }
            store.remove(&pvcg, md_str(&pvc, "namespace"), md_str(&pvc, "name"));
            sh.volumes.forget_copy(
                &sh.volumes
                    .root()
                    .join(format!("pvc-{}", md_str(&pvc, "uid"))),
            );
            if let Some(v) = pvc["spec"]["volumeName"].as_str() {
                if let Some(pv) = store.get(&pvg, "", v)
                    && pv["spec"]["persistentVolumeReclaimPolicy"] != "Retain"
                    && let Some(path) = crate::csi::volume_dir(&pv)
                {
                    sh.volumes.release(&path.display().to_string());
                }
                store.remove(&pvg, "", v);
            }
        }
    }
}

fn services(store: &mut Store) {
    let sg = gr("", "services");
    let eg = gr("", "endpoints");
    let pg = gr("", "pods");
    let eks = store.profile.distribution == "eks";
    let pods_changed = store.pods_gen != store.endpoints_gen;
    store.endpoints_gen = store.pods_gen;
    for svc in store.list(&sg, None) {
        let ns = md_str(&svc, "namespace").to_string();
        let name = md_str(&svc, "name").to_string();
        if svc["spec"]["type"] == "LoadBalancer"
            && store.profile.load_balancers
            && svc["status"]["loadBalancer"]["ingress"].is_null()
        {
            store.next_ip += 1;
            let ing = if eks {
                json!([{"hostname": format!("a{}-{}.us-east-1.elb.amazonaws.com", md_str(&svc, "uid").replace('-', "").get(..16).unwrap_or("0"), store.next_ip)}])
            } else {
                json!([{"ip": format!("172.18.255.{}", 200 + store.next_ip % 50), "ipMode": "VIP"}])
            };
            set_status(store, &sg, &svc, json!({"loadBalancer": {"ingress": ing}}));
            store.record_event(
                &svc,
                false,
                "EnsuredLoadBalancer",
                "Ensured load balancer",
                "service-controller",
            );
        }
        let svc_rv = svc["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let svc_uid = md_str(&svc, "uid").to_string();
        if !pods_changed && store.endpoints_seen.get(&svc_uid) == Some(&svc_rv) {
            continue;
        }
        store.endpoints_seen.insert(svc_uid, svc_rv);
        let Some(sel) = svc["spec"]["selector"]
            .as_object()
            .filter(|m| !m.is_empty())
        else {
            continue;
        };
        let sel = LabelSelector::from_map(&Value::Object(sel.clone()));
        let pods: Vec<Arc<Value>> = store
            .list(&pg, Some(&ns))
            .into_iter()
            .filter(|p| sel.matches(p) && p["status"]["podIP"].is_string())
            .collect();
        let addr = |p: &Arc<Value>| json!({"ip": p["status"]["podIP"], "nodeName": p["spec"]["nodeName"], "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"], "uid": p["metadata"]["uid"]}});
        let ready: Vec<Value> = pods.iter().filter(|p| pod_ready(p)).map(addr).collect();
        let not_ready: Vec<Value> = pods.iter().filter(|p| !pod_ready(p)).map(addr).collect();
        let ports: Vec<Value> = svc["spec"]["ports"].as_array().cloned().unwrap_or_default().iter().map(|p| {
            let mut e = json!({"port": p["targetPort"].as_i64().or(p["port"].as_i64()).unwrap_or(0), "protocol": p["protocol"].as_str().unwrap_or("TCP")});
            if let Some(n) = p["name"].as_str() {
                e["name"] = json!(n);
            }
            e
        }).collect();
        let mut subset = json!({"ports": ports});
        if !ready.is_empty() {
            subset["addresses"] = Value::Array(ready);
        }
        if !not_ready.is_empty() {
            subset["notReadyAddresses"] = Value::Array(not_ready);
        }
        let subsets = if pods.is_empty() {
            json!([])
        } else {
            json!([subset])
        };
        match store.get(&eg, &ns, &name) {
            Some(ep) => {
                if ep["subsets"] != subsets {
                    let mut n = (*ep).clone();
                    n["subsets"] = subsets;
                    store.commit(&eg, n, Some(ep.clone()));
                }
            }
            None => {
                let mut ep = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns, "labels": svc["metadata"]["labels"].clone()}, "subsets": subsets});
                if ep["metadata"]["labels"].is_null()
                    && let Some(m) = ep["metadata"].as_object_mut()
                {
                    m.remove("labels");
                }
                store.prepare_create(&mut ep);
                store.commit(&eg, ep, None);
            }
        }
    }
}

fn ingresses(store: &mut Store) {
    for g in [
        gr("networking.k8s.io", "ingresses"),
        gr("extensions", "ingresses"),
    ] {
        for ing in store.list(&g, None) {
            if !ing["status"]["loadBalancer"]["ingress"].is_null() {
                continue;
            }
            let class = ing["spec"]["ingressClassName"]
                .as_str()
                .or(ing["metadata"]["annotations"]["kubernetes.io/ingress.class"].as_str())
                .unwrap_or("")
                .to_string();
            if class.is_empty()
                || store
                    .get(&gr("networking.k8s.io", "ingressclasses"), "", &class)
                    .is_none()
            {
                continue;
            }
            set_status(
                store,
                &g,
                &ing,
                json!({"loadBalancer": {"ingress": [{"ip": "172.18.0.2"}]}}),
            );
            store.record_event(
                &ing,
                false,
                "Sync",
                "Scheduled for sync",
                "nginx-ingress-controller",
            );
        }
    }
}

// ---------- scheduler + kubelet ----------

struct NodeFit {
    name: String,
    ready: bool,
    cpu: i64,
    mem: i64,
    pods: i64,
    labels: Value,
    taints: Vec<Value>,
}

/// Requests already placed on each node: (cpu millis, memory bytes, pods).
pub type Usage = HashMap<String, (i64, i64, i64)>;

fn node_usage(store: &Store) -> Usage {
    let mut used: Usage = HashMap::new();
    if let Some(m) = store.objects.get(&gr("", "pods")) {
        for p in m.values() {
            if let Some(n) = p["spec"]["nodeName"].as_str()
                && !pod_finished(p)
            {
                let (c, mem) = pod_requests(p);
                let e = used.entry(n.to_string()).or_default();
                e.0 += c;
                e.1 += mem;
                e.2 += 1;
            }
        }
    }
    used
}

fn schedule(store: &Store, pod: &Value, used: &Usage) -> Result<String, String> {
    let nodes: Vec<NodeFit> = store
        .list(&gr("", "nodes"), None)
        .iter()
        .map(|n| NodeFit {
            name: md_str(n, "name").to_string(),
            ready: n["status"]["conditions"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            }),
            cpu: cpu_milli(&qty_value(&n["status"]["allocatable"]["cpu"])),
            mem: bytes_of(&qty_value(&n["status"]["allocatable"]["memory"])),
            pods: n["status"]["allocatable"]["pods"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(110),
            labels: n["metadata"]["labels"].clone(),
            taints: n["spec"]["taints"].as_array().cloned().unwrap_or_default(),
        })
        .collect();
    let total = nodes.len();
    // Unbound PVCs block scheduling.
    for v in pod["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        if let Some(claim) = v["persistentVolumeClaim"]["claimName"].as_str() {
            let found = store.get_core("persistentvolumeclaims", md_str(pod, "namespace"), claim);
            let bound = found
                .as_ref()
                .is_some_and(|c| c["status"]["phase"] == "Bound");
            // A claim that waits for its first consumer binds once this pod has a node.
            let waits = found.is_some_and(|c| binds_on_first_consumer(store, &c));
            if !bound && !waits {
                let exists = store
                    .get_core("persistentvolumeclaims", md_str(pod, "namespace"), claim)
                    .is_some();
                return Err(if exists {
                    format!(
                        "0/{total} nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
                    )
                } else {
                    format!(
                        "0/{total} nodes are available: persistentvolumeclaim \"{claim}\" not found. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
                    )
                });
            }
        }
    }
    let (mut cpu_req, mut mem_req) = pod_requests(pod);
    if faults::has(pod, Fail::Unschedulable) {
        // Ask for more than any node has.
        cpu_req = cpu_req.max(nodes.iter().map(|n| n.cpu).max().unwrap_or(0) + 1000);
        let _ = &mut mem_req;
    }
    let node_sel = LabelSelector::from_map(&pod["spec"]["nodeSelector"]);
    let tolerations = pod["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let tolerates = |t: &Value| {
        tolerations.iter().any(|tol| {
            (tol["operator"] == "Exists" && tol["key"].is_null())
                || (tol["key"] == t["key"]
                    && (tol["effect"].is_null() || tol["effect"] == t["effect"]))
        })
    };
    let mut reasons: HashMap<String, usize> = HashMap::new();
    for n in &nodes {
        let (uc, um, up) = used.get(&n.name).copied().unwrap_or_default();
        let mut why = Vec::new();
        let untolerated = n
            .taints
            .iter()
            .find(|t| (t["effect"] == "NoSchedule" || t["effect"] == "NoExecute") && !tolerates(t));
        if let Some(t) = untolerated {
            why.push(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t["key"].as_str().unwrap_or(""),
                t["value"].as_str().unwrap_or("")
            ));
        } else if !node_sel.matches_labels(&n.labels) {
            why.push("node(s) didn't match Pod's node affinity/selector".to_string());
        } else {
            if uc + cpu_req > n.cpu {
                why.push("Insufficient cpu".to_string());
            }
            if um + mem_req > n.mem {
                why.push("Insufficient memory".to_string());
            }
            if up + 1 > n.pods {
                why.push("Too many pods".to_string());
            }
        }
        if why.is_empty() && n.ready {
            return Ok(n.name.clone());
        }
        for w in why {
            *reasons.entry(w).or_default() += 1;
        }
    }
    let mut parts: Vec<String> = reasons.iter().map(|(w, c)| format!("{c} {w}")).collect();
    parts.sort();
    let preempt_all = reasons
        .keys()
        .all(|w| w.starts_with("Insufficient") || w == "Too many pods");
    let preempt = if preempt_all && !reasons.is_empty() {
        format!(
            "0/{total} nodes are available: {total} No preemption victims found for incoming pod."
        )
    } else {
        format!("0/{total} nodes are available: {total} Preemption is not helpful for scheduling.")
    };
    Err(format!(
        "0/{total} nodes are available: {}. preemption: {preempt}",
        parts.join(", ")
    ))
}

/// Whether a claim is still unbound and its StorageClass binds on first consumer.
fn binds_on_first_consumer(store: &Store, claim: &Value) -> bool {
    if claim["status"]["phase"] == "Bound" {
        return false;
    }
    let class = claim["spec"]["storageClassName"].as_str().unwrap_or("");
    !class.is_empty()
        && store
            .get(&gr("storage.k8s.io", "storageclasses"), "", class)
            .is_some_and(|sc| sc["volumeBindingMode"] == WAIT_FOR_FIRST_CONSUMER)
}

/// The scheduler's volume binding step: the pod's unbound WaitForFirstConsumer claims get the
/// chosen node in their `selected-node` annotation. True when some claim still has to bind
/// (the pod is then bound to the node on a later pass, after the volume controller's turn).
fn select_node_for_claims(store: &mut Store, pod: &Value, node: &str) -> bool {
    let ns = md_str(pod, "namespace").to_string();
    let pvcg = gr("", "persistentvolumeclaims");
    let mut waiting = false;
    for v in pod["spec"]["volumes"].as_array().into_iter().flatten() {
        let Some(claim) = v["persistentVolumeClaim"]["claimName"].as_str() else {
            continue;
        };
        let Some(c) = store.get(&pvcg, &ns, claim) else {
            continue;
        };
        if !binds_on_first_consumer(store, &c) {
            continue;
        }
        waiting = true;
        if c["metadata"]["annotations"][SELECTED_NODE].is_string() {
            continue;
        }
        let mut n = (*c).clone();
        if !n["metadata"]["annotations"].is_object() {
            n["metadata"]["annotations"] = json!({});
        }
        n["metadata"]["annotations"][SELECTED_NODE] = json!(node);
        store.commit(&pvcg, n, Some(c.clone()));
    }
    waiting
}

/// Docker-style fully qualified image reference (for pull messages).
pub fn full_image(image: &str) -> String {
    let first = image.split('/').next().unwrap_or("");
    let has_registry =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let with_repo = if has_registry {
        image.to_string()
    } else if image.contains('/') {
        format!("docker.io/{image}")
    } else {
        format!("docker.io/library/{image}")
    };
    let last = with_repo.rsplit('/').next().unwrap_or("");
    if with_repo.contains('@') || last.contains(':') {
        with_repo
    } else {
        format!("{with_repo}:latest")
    }
}

fn backoff_secs(restarts: i64) -> i64 {
    let mut b = 10i64;
    for _ in 1..restarts.max(1) {
        b = (b * 2).min(300);
    }
    b
}

fn kubelet(store: &mut Store, sh: &Shared) {
    let pg = gr("", "pods");
    let pods = store.list(&pg, None);
    let mut used = node_usage(store);
    for pod in pods {
        if is_deleting(&pod) {
            // Pods have no kubelet-held finalizers here; finish deletion.
            if pod["metadata"]["finalizers"]
                .as_array()
                .is_none_or(|a| a.is_empty())
            {
                store.remove(&pg, md_str(&pod, "namespace"), md_str(&pod, "name"));
            }
            continue;
        }
        if pod_finished(&pod) {
            continue;
        }
        // Settled pods (running, ready, no time-driven fault) need no work until they change.
        if store.settled.get(md_str(&pod, "uid")).map(String::as_str)
            == pod["metadata"]["resourceVersion"].as_str()
        {
            continue;
        }
        kubelet_pod(store, sh, &pod, &mut used);
    }
}

fn container_names(spec: &Value, list: &str) -> Vec<Value> {
    spec[list].as_array().cloned().unwrap_or_default()
}

fn kubelet_pod(store: &mut Store, sh: &Shared, pod: &Arc<Value>, used: &mut Usage) {
    let pg = gr("", "pods");
    let ns = md_str(pod, "namespace").to_string();
    let name = md_str(pod, "name").to_string();
    let uid = md_str(pod, "uid").to_string();
    let prev = pod["status"].clone();
    let prev_conds = &prev["conditions"];
    let now = now_str();
    let pfaults = store.profile.faults.clone();

    // 1. Scheduling.
    let node = match pod["spec"]["nodeName"].as_str() {
        Some(n) => n.to_string(),
        None => match schedule(store, pod, used) {
            Ok(n) if select_node_for_claims(store, pod, &n) => return,
            Ok(n) => {
                let (c, m) = pod_requests(pod);
                let e = used.entry(n.clone()).or_default();
                e.0 += c;
                e.1 += m;
                e.2 += 1;
                let mut p = (**pod).clone();
                p["spec"]["nodeName"] = json!(n);
                let stored = store.commit(&pg, p, Some(pod.clone()));
                store.record_event(
                    &stored,
                    false,
                    "Scheduled",
                    &format!("Successfully assigned {ns}/{name} to {n}"),
                    "default-scheduler",
                );
                return;
            }
            Err(msg) => {
                let status = json!({"phase": "Pending", "qosClass": prev["qosClass"].as_str().unwrap_or("BestEffort"),
                    "conditions": [pod_cond("PodScheduled", false, Some("Unschedulable"), Some(&msg), prev_conds)]});
                if prev["conditions"]
                    .as_array()
                    .and_then(|a| a.iter().find(|c| c["type"] == "PodScheduled"))
                    .and_then(|c| c["message"].as_str())
                    != Some(msg.as_str())
                {
                    store.record_event(pod, true, "FailedScheduling", &msg, "default-scheduler");
                }
                set_status(store, &pg, pod, status);
                return;
            }
        },
    };
    // Volumes: a missing Secret/ConfigMap keeps the pod in ContainerCreating until it appears.
    if !containers_started(&prev) {
        let failed = crate::references::mount_errors(store, &ns, pod);
        if !failed.is_empty() {
            stalled_on_mounts(store, pod, &node, &failed);
            return;
        }
    }
    let born = *store.born.entry(uid.clone()).or_insert_with(Instant::now);
    let elapsed = born.elapsed();
    let node_ip = store
        .get_core("nodes", "", &node)
        .and_then(|n| {
            n["status"]["addresses"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["type"] == "InternalIP"))
                .map(|x| x["address"].clone())
        })
        .unwrap_or(json!("172.18.0.2"));

    // 2. Images.
    let secrets: Vec<String> = pod["spec"]["imagePullSecrets"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut pull: Vec<(String, PullState)> = Vec::new();
    let all_containers: Vec<Value> = container_names(&pod["spec"], "initContainers")
        .into_iter()
        .chain(container_names(&pod["spec"], "containers"))
        .collect();
    for c in &all_containers {
        let image = c["image"].as_str().unwrap_or("").to_string();
        let state = if faults::has(pod, Fail::ImagePull)
            || faults::image_matches(&image, &pfaults.image_pull_fail)
        {
            PullState::Missing(format!(
                "failed to pull and unpack image \"{}\": failed to resolve reference \"{}\": {}: not found",
                full_image(&image),
                full_image(&image),
                full_image(&image)
            ))
        } else if sh.registry_check {
            let creds = crate::registry::pull_credentials(store, &ns, &secrets);
            let st = sh.registry.state(&image, creds);
            match (
                &st,
                crate::registry::platform_mismatch(store, pod, &sh.registry, &image),
            ) {
                (PullState::Present, Some(msg)) => PullState::Missing(msg),
                _ => st,
            }
        } else {
            PullState::Present
        };
        pull.push((c["name"].as_str().unwrap_or("").to_string(), state));
    }
    let is_job_pod = pod["spec"]["restartPolicy"] != "Always";
    let crash = faults::has(pod, Fail::CrashLoop)
        || all_containers.iter().any(|c| {
            faults::image_matches(c["image"].as_str().unwrap_or(""), &pfaults.crashloop_images)
        });
    let job_fail = faults::has(pod, Fail::JobFailed) || owner_job_matches(pod, &pfaults.fail_jobs);
    let time_scale = store.profile.time_scale;
    let readiness_fail = faults::has(pod, Fail::Readiness);
    let ready_after = faults::ready_after(pod, &pfaults);
    let run_for = faults::annotation(pod, faults::RUN_FOR)
        .or(pfaults.job_run_for.as_deref())
        .and_then(crate::parse_duration)
        .unwrap_or(Duration::from_secs(1));
    let exit_code: i64 = faults::annotation(pod, faults::EXIT_CODE)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let start_ts = |base: &Value| base.clone();

    let pod_ip = match prev["podIP"].as_str() {
        Some(ip) => json!(ip),
        None => {
            store.next_pod_ip += 1;
            let n = store.next_pod_ip;
            json!(format!("10.244.{}.{}", (n / 250) % 250, n % 250 + 1))
        }
    };
    let started_at = prev["startTime"]
        .as_str()
        .map(|s| json!(s))
        .unwrap_or(json!(now));
    let prev_cs = |list: &str, cname: &str| -> Value {
        prev[list]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["name"] == cname))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let mut events: Vec<(bool, String, String)> = Vec::new();
    let mut init_statuses = Vec::new();
    let mut init_done = true;
    let mut config_blocked = false;
    for c in container_names(&pod["spec"], "initContainers") {
        let cname = c["name"].as_str().unwrap_or("").to_string();
        let image = c["image"].as_str().unwrap_or("").to_string();
        let st = pull
            .iter()
            .find(|(n, _)| *n == cname)
            .map(|x| x.1.clone())
            .unwrap_or(PullState::Present);
        let old = prev_cs("initContainerStatuses", &cname);
        let base = json!({"name": cname, "image": image, "imageID": "", "restartCount": 0, "ready": false, "started": false});
        let mut s = base.clone();
        match st {
            PullState::Missing(msg) => {
                pull_failure(&mut s, &old, &image, &msg, elapsed, &mut events);
                init_done = false;
            }
            PullState::Checking => {
                s["state"] = json!({"waiting": {"reason": "PodInitializing"}});
                init_done = false;
            }
            PullState::Present => {
                let config_error = if init_done && !old["state"]["terminated"].is_object() {
                    crate::references::container_config_error(store, &ns, &c)
                } else {
                    None
                };
                if !init_done {
                    s["state"] = json!({"waiting": {"reason": "PodInitializing"}});
                } else if let Some(msg) = config_error {
                    config_waiting(&mut s, &old, &msg, &mut events);
                    config_blocked = true;
                    init_done = false;
                } else {
                    let fin = old["state"]["terminated"].clone();
                    let fin = if fin.is_object() {
                        fin
                    } else {
                        container_started_events(&mut events, &image, &cname);
                        json!({"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now, "containerID": format!("containerd://{}", &uuid::Uuid::new_v4().simple().to_string())})
                    };
                    s["state"] = json!({"terminated": fin});
                    s["ready"] = json!(true);
                    s["imageID"] = json!(format!(
                        "{}@sha256:{:064x}",
                        full_image(&image)
                            .rsplit_once(':')
                            .map(|x| x.0)
                            .unwrap_or(&image),
                        0xbe47u64
                    ));
                    s["containerID"] = s["state"]["terminated"]["containerID"].clone();
                }
            }
        }
        init_statuses.push(s);
    }

    // The connection a run-to-completion pod makes, decided once when its containers start.
    let refused = if is_job_pod && init_done {
        match store.network.get(&uid) {
            Some(r) => r.clone(),
            None => {
                let r = crate::network::refused(store, pod);
                store.network.insert(uid.clone(), r.clone());
                r
            }
        }
    } else {
        None
    };
    let mut statuses = Vec::new();
    let mut all_ready = init_done;
    let mut all_terminated_ok = true;
    let mut any_failed = false;
    for c in container_names(&pod["spec"], "containers") {
        let cname = c["name"].as_str().unwrap_or("").to_string();
        let image = c["image"].as_str().unwrap_or("").to_string();
        let st = pull
            .iter()
            .find(|(n, _)| *n == cname)
            .map(|x| x.1.clone())
            .unwrap_or(PullState::Present);
        let old = prev_cs("containerStatuses", &cname);
        let mut s = json!({"name": cname, "image": image, "imageID": "", "restartCount": old["restartCount"].as_i64().unwrap_or(0), "ready": false, "started": false});
        let image_id = json!(format!(
            "{}@sha256:{:064x}",
            full_image(&image)
                .rsplit_once(':')
                .map(|x| x.0)
                .unwrap_or(&image),
            template_hash(&json!(image)).len() as u64 + 0xbe47
        ));
        if !init_done {
            s["state"] = json!({"waiting": {"reason": "PodInitializing"}});
            all_ready = false;
            all_terminated_ok = false;
            statuses.push(s);
            continue;
        }
        match st {
            PullState::Missing(msg) => {
                pull_failure(&mut s, &old, &image, &msg, elapsed, &mut events);
                all_ready = false;
                all_terminated_ok = false;
            }
            PullState::Checking => {
                s["state"] = json!({"waiting": {"reason": "ContainerCreating"}});
                all_ready = false;
                all_terminated_ok = false;
            }
            PullState::Present => {
                s["imageID"] = image_id;
                let cid = old["containerID"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| format!("containerd://{}", uuid::Uuid::new_v4().simple()));
                let never_started = old["state"]["running"].is_null()
                    && old["state"]["terminated"].is_null()
                    && old["lastState"]["terminated"].is_null();
                if never_started
                    && let Some(msg) = crate::references::container_config_error(store, &ns, &c)
                {
                    s["imageID"] = json!("");
                    if let Some(m) = s.as_object_mut() {
                        m.remove("containerID");
                    }
                    config_waiting(&mut s, &old, &msg, &mut events);
                    config_blocked = true;
                    all_ready = false;
                    all_terminated_ok = false;
                    s["lastState"] = json!({});
                    statuses.push(s);
                    continue;
                }
                s["containerID"] = json!(cid);
                if never_started {
                    container_started_events(&mut events, &image, &cname);
                }
                let secs = elapsed.as_secs_f64();
                if crash || (job_fail && !is_job_pod) {
                    // Runs ~1s, exits, then backs off (10s, 20s, ... compressed 5x).
                    let mut t = 0.0;
                    let mut restarts = 0i64;
                    let running_since;
                    loop {
                        let crash_at = t + 0.5;
                        if secs < crash_at {
                            running_since = t;
                            break;
                        }
                        restarts += 1;
                        let next = crash_at + backoff_secs(restarts) as f64 / 5.0;
                        if secs < next {
                            running_since = -1.0;
                            t = crash_at;
                            break;
                        }
                        t = next;
                    }
                    let crashed_at = jiff::Timestamp::now()
                        - jiff::SignedDuration::from_secs_f64((secs - t).max(0.0));
                    let fin = crashed_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
                    let last = json!({"terminated": {"exitCode": exit_code, "reason": "Error", "startedAt": fin, "finishedAt": fin, "containerID": cid}});
                    s["restartCount"] = json!(restarts);
                    if running_since >= 0.0 {
                        s["state"] = json!({"running": {"startedAt": now}});
                        s["started"] = json!(true);
                        if restarts > 0 {
                            s["lastState"] = last;
                        }
                    } else {
                        s["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off {}s restarting failed container={cname} pod={name}_{ns}({uid})", backoff_secs(restarts).min(300))}});
                        s["lastState"] = last;
                        events.push((true, "BackOff".into(), format!("Back-off restarting failed container {cname} in pod {name}_{ns}({uid})")));
                    }
                    all_ready = false;
                    all_terminated_ok = false;
                } else if is_job_pod && crate::volumes::is_mover_image(&image) {
                    // berth's own image: a real process of the berth binary (volumes.rs).
                    match sh.volumes.mover(store, pod, &c) {
                        crate::volumes::MoverState::Running => {
                            s["state"] = json!({"running": {"startedAt": started_at}});
                            s["started"] = json!(true);
                            s["ready"] = json!(true);
                            all_terminated_ok = false;
                        }
                        crate::volumes::MoverState::Exited { code, message } => {
                            let fin = if old["state"]["terminated"].is_object() {
                                old["state"]["terminated"].clone()
                            } else {
                                let mut t = json!({"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" }, "startedAt": start_ts(&started_at), "finishedAt": now, "containerID": cid});
                                if code != 0
                                    && !message.is_empty()
                                    && c["terminationMessagePolicy"] == "FallbackToLogsOnError"
                                {
                                    t["message"] = json!(message);
                                }
                                t
                            };
                            if code != 0 {
                                any_failed = true;
                                all_terminated_ok = false;
                            }
                            s["state"] = json!({"terminated": fin});
                        }
                    }
                } else if is_job_pod {
                    // A connection the NetworkPolicies refuse ends the container at the
                    // client's timeout, with the client's exit code.
                    let (run_for, code) = match refused.as_ref().filter(|r| r.container == cname) {
                        Some(r) => (r.after, r.exit_code),
                        None => (run_for, if job_fail { exit_code } else { 0 }),
                    };
                    if elapsed >= run_for {
                        let fin = if old["state"]["terminated"].is_object() {
                            old["state"]["terminated"].clone()
                        } else {
                            json!({"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" }, "startedAt": start_ts(&started_at), "finishedAt": now, "containerID": cid})
                        };
                        if code != 0 {
                            any_failed = true;
                            all_terminated_ok = false;
                        }
                        s["state"] = json!({"terminated": fin});
                        all_ready = false;
                    } else {
                        s["state"] = json!({"running": {"startedAt": started_at}});
                        s["started"] = json!(true);
                        s["ready"] = json!(true);
                        all_terminated_ok = false;
                        store.wake_in(run_for - elapsed);
                    }
                } else {
                    let started = old["state"]["running"]["startedAt"].clone();
                    s["state"] = json!({"running": {"startedAt": if started.is_string() { started } else { json!(now) }}});
                    s["started"] = json!(true);
                    if let Some(l) = old
                        .get("lastState")
                        .filter(|l| !l.is_null() && l.as_object().is_some_and(|m| !m.is_empty()))
                    {
                        s["lastState"] = l.clone();
                    }
                    // Not Ready before the probes' delays have passed (scaled clock).
                    let gate = ready_after.max(crate::timing::ready_after(&c, time_scale));
                    let ready = !readiness_fail && elapsed >= gate;
                    s["ready"] = json!(ready);
                    if !ready && !readiness_fail {
                        store.wake_in(gate.saturating_sub(elapsed));
                    }
                    if !ready {
                        all_ready = false;
                        if readiness_fail && elapsed > Duration::from_secs(1) {
                            let probe = &c["readinessProbe"];
                            let msg = if probe["httpGet"].is_object() {
                                "Readiness probe failed: HTTP probe failed with statuscode: 503"
                                    .to_string()
                            } else if probe["tcpSocket"].is_object() {
                                format!(
                                    "Readiness probe failed: dial tcp {}:{}: connect: connection refused",
                                    pod_ip.as_str().unwrap_or(""),
                                    probe["tcpSocket"]["port"]
                                )
                            } else {
                                "Readiness probe failed: ".to_string()
                            };
                            events.push((true, "Unhealthy".into(), msg));
                        }
                    }
                    all_terminated_ok = false;
                }
            }
        }
        if s.get("lastState").is_none() {
            s["lastState"] = json!({});
        }
        statuses.push(s);
    }

    let phase = if any_failed {
        "Failed"
    } else if all_terminated_ok && is_job_pod {
        "Succeeded"
    } else if statuses.iter().any(|s| {
        s["state"]["running"].is_object()
            || s["state"]["terminated"].is_object()
            || s["lastState"]["terminated"].is_object()
    }) && init_done
    {
        "Running"
    } else {
        "Pending"
    };
    // OnFailure job pods with failing containers restart in place: count as failures for the Job.
    let finished = phase == "Succeeded" || phase == "Failed";
    let ready_c = if finished {
        pod_cond("Ready", false, Some("PodCompleted"), None, prev_conds)
    } else if all_ready {
        pod_cond("Ready", true, None, None, prev_conds)
    } else {
        let not_ready: Vec<String> = statuses
            .iter()
            .filter(|s| s["ready"] != true)
            .map(|s| s["name"].as_str().unwrap_or("").to_string())
            .collect();
        pod_cond(
            "Ready",
            false,
            Some("ContainersNotReady"),
            Some(&format!(
                "containers with unready status: [{}]",
                not_ready.join(" ")
            )),
            prev_conds,
        )
    };
    let mut cr = ready_c.clone();
    cr["type"] = json!("ContainersReady");
    let init_c = if init_done {
        pod_cond("Initialized", true, None, None, prev_conds)
    } else {
        let names: Vec<String> = init_statuses
            .iter()
            .filter(|s| s["ready"] != true)
            .map(|s| s["name"].as_str().unwrap_or("").to_string())
            .collect();
        pod_cond(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(&format!(
                "containers with incomplete status: [{}]",
                names.join(" ")
            )),
            prev_conds,
        )
    };
    let sandbox = pod_cond("PodReadyToStartContainers", true, None, None, prev_conds);
    let mut status = json!({
        "phase": phase,
        "conditions": [sandbox, init_c, ready_c, cr, pod_cond("PodScheduled", true, None, None, prev_conds)],
        "hostIP": node_ip, "hostIPs": [{"ip": node_ip}],
        "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
        "startTime": started_at,
        "containerStatuses": statuses,
        "qosClass": qos(pod),
    });
    if !init_statuses.is_empty() {
        status["initContainerStatuses"] = Value::Array(init_statuses);
    }
    let unchanged = pod["status"] == status;
    let settled = unchanged
        && !is_job_pod
        && phase == "Running"
        && all_ready
        && !crash
        && !job_fail
        && !readiness_fail
        && events.is_empty();
    if !unchanged {
        set_status(store, &pg, pod, status);
    }
    if let Some(cur) = store.get(&pg, &ns, &name) {
        for (warn, reason, msg) in events {
            store.record_event(&cur, warn, &reason, &msg, "kubelet");
        }
    }
    if settled && let Some(rv) = pod["metadata"]["resourceVersion"].as_str() {
        store.settled.insert(uid, rv.to_string());
    } else if config_blocked {
        // Delays (ready-after, probe delays) count from when the containers can start.
        store.born.remove(&uid);
    }
}

/// Whether the pod belongs to a Job named by the profile's `faults.failJobs`.
fn owner_job_matches(pod: &Value, patterns: &[String]) -> bool {
    !patterns.is_empty()
        && pod["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| {
                r["kind"] == "Job"
                    && faults::image_matches(r["name"].as_str().unwrap_or(""), patterns)
            })
}

/// Whether any container of the pod has ever started (mounts are only checked before).
fn containers_started(status: &Value) -> bool {
    ["initContainerStatuses", "containerStatuses"]
        .iter()
        .any(|l| {
            status[*l].as_array().is_some_and(|a| {
                a.iter().any(|c| {
                    c["state"]["running"].is_object()
                        || c["state"]["terminated"].is_object()
                        || c["lastState"]["terminated"].is_object()
                })
            })
        })
}

/// A container the kubelet cannot configure: waiting `CreateContainerConfigError`.
fn config_waiting(s: &mut Value, old: &Value, msg: &str, events: &mut Vec<(bool, String, String)>) {
    s["state"] = json!({"waiting": {"reason": "CreateContainerConfigError", "message": msg}});
    if old["state"]["waiting"]["message"].as_str() != Some(msg) {
        events.push((true, "Failed".into(), format!("Error: {msg}")));
    }
}

/// A pod whose volumes cannot be set up: Pending, containers `ContainerCreating`, one
/// `FailedMount` event per volume (repeated as the kubelet retries).
fn stalled_on_mounts(store: &mut Store, pod: &Arc<Value>, node: &str, failed: &[String]) {
    let pg = gr("", "pods");
    let prev = &pod["status"];
    let prev_conds = &prev["conditions"];
    store.born.remove(md_str(pod, "uid"));
    let node_ip = store
        .get_core("nodes", "", node)
        .and_then(|n| {
            n["status"]["addresses"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["type"] == "InternalIP"))
                .map(|x| x["address"].clone())
        })
        .unwrap_or(json!("172.18.0.2"));
    let waiting = |list: &str, reason: &str| -> Vec<Value> {
        container_names(&pod["spec"], list)
            .iter()
            .map(|c| json!({"name": c["name"], "image": c["image"], "imageID": "", "restartCount": 0, "ready": false, "started": false, "lastState": {}, "state": {"waiting": {"reason": reason}}}))
            .collect()
    };
    let inits = waiting("initContainers", "PodInitializing");
    let names: Vec<String> = container_names(&pod["spec"], "containers")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or("").to_string())
        .collect();
    let unready = format!("containers with unready status: [{}]", names.join(" "));
    let init_c = if inits.is_empty() {
        pod_cond("Initialized", true, None, None, prev_conds)
    } else {
        let n: Vec<&str> = inits.iter().filter_map(|c| c["name"].as_str()).collect();
        let m = format!("containers with incomplete status: [{}]", n.join(" "));
        pod_cond(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(&m),
            prev_conds,
        )
    };
    let ready = pod_cond(
        "Ready",
        false,
        Some("ContainersNotReady"),
        Some(&unready),
        prev_conds,
    );
    let mut cr = ready.clone();
    cr["type"] = json!("ContainersReady");
    let mut status = json!({
        "phase": "Pending",
        "conditions": [pod_cond("PodReadyToStartContainers", false, None, None, prev_conds), init_c, ready, cr, pod_cond("PodScheduled", true, None, None, prev_conds)],
        "hostIP": node_ip, "hostIPs": [{"ip": node_ip}],
        "startTime": prev["startTime"].as_str().map(String::from).unwrap_or_else(now_str),
        "containerStatuses": waiting("containers", "ContainerCreating"),
        "qosClass": qos(pod),
    });
    if !inits.is_empty() {
        status["initContainerStatuses"] = Value::Array(inits);
    }
    set_status(store, &pg, pod, status);
    if let Some(cur) = store.get(&pg, md_str(pod, "namespace"), md_str(pod, "name")) {
        for msg in failed {
            store.record_event_every(&cur, true, "FailedMount", msg, "kubelet", EVENT_EVERY);
        }
    }
}

fn qos(pod: &Value) -> &'static str {
    let cs = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let any = cs
        .iter()
        .any(|c| c["resources"]["requests"].is_object() || c["resources"]["limits"].is_object());
    if !any {
        return "BestEffort";
    }
    let guaranteed = cs.iter().all(|c| {
        let l = &c["resources"]["limits"];
        let r = &c["resources"]["requests"];
        l["cpu"].is_string()
            && l["memory"].is_string()
            && (r["cpu"].is_null() || r["cpu"] == l["cpu"])
            && (r["memory"].is_null() || r["memory"] == l["memory"])
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// ErrImagePull first, then ImagePullBackOff (with the events a kubelet records).
fn pull_failure(
    s: &mut Value,
    old: &Value,
    image: &str,
    msg: &str,
    elapsed: Duration,
    events: &mut Vec<(bool, String, String)>,
) {
    let was = old["state"]["waiting"]["reason"].as_str().unwrap_or("");
    // Cycle: ErrImagePull for 2s, then ImagePullBackOff for 4s, then retry.
    let phase = elapsed.as_secs() % 6;
    if phase < 2 {
        s["state"] = json!({"waiting": {"reason": "ErrImagePull", "message": msg}});
        if was != "ErrImagePull" {
            events.push((
                false,
                "Pulling".into(),
                format!("Pulling image \"{image}\""),
            ));
            events.push((
                true,
                "Failed".into(),
                format!("Failed to pull image \"{image}\": {msg}"),
            ));
            events.push((true, "Failed".into(), "Error: ErrImagePull".into()));
        }
    } else {
        s["state"] = json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\": ErrImagePull: {msg}")}});
        if was != "ImagePullBackOff" {
            events.push((
                false,
                "BackOff".into(),
                format!("Back-off pulling image \"{image}\""),
            ));
            events.push((true, "Failed".into(), "Error: ImagePullBackOff".into()));
        }
    }
}

// ---------- garbage collection ----------

pub fn has_dependents(store: &Store, uid: &str) -> bool {
    store.objects.values().any(|m| {
        m.values().any(|o| {
            o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|a| a.iter().any(|r| r["uid"] == uid))
        })
    })
}

/// Orphan deletion: strip owner references pointing at `uid`.
pub fn orphan_dependents(store: &mut Store, uid: &str) {
    let mut changes = Vec::new();
    for (g, m) in &store.objects {
        for o in m.values() {
            if o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|a| a.iter().any(|r| r["uid"] == uid))
            {
                changes.push((g.clone(), o.clone()));
            }
        }
    }
    for (g, o) in changes {
        let mut n = (*o).clone();
        let refs: Vec<Value> = n["metadata"]["ownerReferences"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r["uid"] != uid)
            .collect();
        if refs.is_empty() {
            if let Some(m) = n["metadata"].as_object_mut() {
                m.remove("ownerReferences");
            }
        } else {
            n["metadata"]["ownerReferences"] = Value::Array(refs);
        }
        store.commit(&g, n, Some(o));
    }
}

fn gc(store: &mut Store) {
    // Live uids, and owners being deleted in the foreground.
    let mut live: HashMap<String, bool> = HashMap::new();
    for m in store.objects.values() {
        for o in m.values() {
            if let Some(uid) = o["metadata"]["uid"].as_str() {
                let fg = is_deleting(o)
                    && o["metadata"]["finalizers"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|f| f == "foregroundDeletion"));
                live.insert(uid.to_string(), fg);
            }
        }
    }
    let mut doomed = Vec::new();
    let mut fg_owners_with_deps: std::collections::HashSet<String> = Default::default();
    for (g, m) in &store.objects {
        for o in m.values() {
            let Some(refs) = o["metadata"]["ownerReferences"].as_array() else {
                continue;
            };
            if refs.is_empty() {
                continue;
            }
            let mut all_gone = true;
            let mut owner_fg = false;
            for r in refs {
                let uid = r["uid"].as_str().unwrap_or("");
                if let Some(fg) = live.get(uid) {
                    all_gone = false;
                    if *fg {
                        owner_fg = true;
                        fg_owners_with_deps.insert(uid.to_string());
                    }
                }
            }
            if all_gone || owner_fg {
                doomed.push((g.clone(), o.clone()));
            }
        }
    }
    let did = !doomed.is_empty();
    for (g, o) in doomed {
        delete_now(store, &g, &o);
    }
    // Foreground owners without dependents left: drop the finalizer (and the object).
    let mut finish = Vec::new();
    for (g, m) in &store.objects {
        for o in m.values() {
            let uid = o["metadata"]["uid"].as_str().unwrap_or("");
            if live.get(uid) == Some(&true) && !fg_owners_with_deps.contains(uid) {
                finish.push((g.clone(), o.clone()));
            }
        }
    }
    let more = !finish.is_empty();
    for (g, o) in finish {
        let mut n = (*o).clone();
        let fins: Vec<Value> = n["metadata"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f != "foregroundDeletion")
            .collect();
        let empty = fins.is_empty();
        n["metadata"]["finalizers"] = Value::Array(fins);
        store.commit(&g, n, Some(o.clone()));
        if empty {
            store.remove(&g, md_str(&o, "namespace"), md_str(&o, "name"));
        }
    }
    if did || more {
        store.need_gc = true;
    }
}

/// The events a kubelet records when it starts a container whose image is present.
fn container_started_events(events: &mut Vec<(bool, String, String)>, image: &str, cname: &str) {
    events.push((
        false,
        "Pulled".into(),
        format!("Container image \"{image}\" already present on machine"),
    ));
    events.push((
        false,
        "Created".into(),
        format!("Created container: {cname}"),
    ));
    events.push((
        false,
        "Started".into(),
        format!("Started container {cname}"),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn quantities() {
        assert_eq!(cpu_milli("500m"), 500);
        assert_eq!(cpu_milli("2"), 2000);
        assert_eq!(bytes_of("1Gi"), 1 << 30);
        assert_eq!(bytes_of("128M"), 128_000_000);
    }
    #[test]
    fn images() {
        assert_eq!(full_image("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(full_image("127.0.0.1:5000/app:1"), "127.0.0.1:5000/app:1");
        assert_eq!(full_image("bitnami/redis:7"), "docker.io/bitnami/redis:7");
    }
    #[test]
    fn cron() {
        let t: jiff::civil::DateTime = "2026-01-05T10:15:00".parse().unwrap();
        assert!(cron_matches("*/5 * * * *", &t));
        assert!(cron_matches("15 10 * * 1", &t));
        assert!(!cron_matches("0 * * * *", &t));
    }
}
