//! Diagnosis: from a failing object, its pods, events, container logs and a few cluster facts,
//! name the cause and the fix in one line each, in words a customer admin understands.
//! Pure functions over JSON; the engine gathers the inputs.

use crate::object::{ObjectRef, object_ref};
use crate::readiness::condition;
use serde::Serialize;
use serde_json::Value;

/// A cause and a fix, one line each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// The object that is not ready (e.g. the Deployment), or the pod when no owner is known.
    pub object: ObjectRef,
    /// What went wrong.
    pub cause: String,
    /// What to do about it.
    pub fix: String,
}

/// Everything the rules look at for one failing object.
#[derive(Debug, Default, Clone)]
pub struct Evidence {
    /// The failing object.
    pub object: Value,
    /// Pods that belong to it (for a Pod, the pod itself).
    pub pods: Vec<Value>,
    /// Events whose involvedObject is the object, its pods, or its PVCs/ReplicaSets.
    pub events: Vec<Value>,
    /// Last log lines per (pod, container) of crashing containers.
    pub logs: Vec<(String, String, String)>,
    /// PVCs the object's pods use (or the PVC itself).
    pub pvcs: Vec<Value>,
    /// The cluster's StorageClasses.
    pub storage_classes: Vec<Value>,
    /// The cluster's IngressClasses.
    pub ingress_classes: Vec<Value>,
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// The registry host of an image reference (`docker.io` when none is named).
pub fn image_registry(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => "docker.io",
    }
}

fn containers_statuses(pod: &Value) -> impl Iterator<Item = &Value> {
    ["/status/initContainerStatuses", "/status/containerStatuses"]
        .into_iter()
        .filter_map(move |p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
}

fn image_of(pod: &Value, container: &str) -> String {
    for p in ["/spec/initContainers", "/spec/containers"] {
        if let Some(cs) = pod.pointer(p).and_then(Value::as_array) {
            for c in cs {
                if c.get("name").and_then(Value::as_str) == Some(container) {
                    return s(c, "/image").to_string();
                }
            }
        }
    }
    String::new()
}

fn pod_name(pod: &Value) -> String {
    format!("pod/{}", s(pod, "/metadata/name"))
}

/// Run every rule; the first that matches wins (most specific first).
pub fn diagnose(ev: &Evidence) -> Option<Diagnosis> {
    let object = object_ref(&ev.object);
    let found = missing_reference(ev)
        .or_else(|| pod_admission_refused(ev))
        .or_else(|| image_pull(ev))
        .or_else(|| quota(ev))
        .or_else(|| storage(ev))
        .or_else(|| scheduling(ev))
        .or_else(|| crash_loop(ev))
        .or_else(|| readiness_probe(ev))
        .or_else(|| ingress_class(ev))
        .or_else(|| load_balancer(ev))
        .or_else(|| job_failed(ev))
        .or_else(|| apiservice_unavailable(ev));
    found.map(|(cause, fix)| Diagnosis { object, cause, fix })
}

/// Pods a controller cannot create because Pod Security admission or OpenShift's security
/// context constraints refuse them (the owner's `FailedCreate` event).
fn pod_admission_refused(ev: &Evidence) -> Option<(String, String)> {
    ev.events.iter().find_map(|e| {
        if s(e, "/reason") != "FailedCreate" {
            return None;
        }
        let (cause, fix) = pod_admission(s(e, "/message"))?;
        Some((
            format!(
                "{} {} cannot create pods: {cause}",
                s(e, "/involvedObject/kind").to_lowercase(),
                s(e, "/involvedObject/name")
            ),
            fix,
        ))
    })
}

/// Cause and fix of a pod refused by Pod Security admission (`violates PodSecurity
/// "restricted:latest": …`) or by OpenShift's SCC admission (`unable to validate against any
/// security context constraint`). `None` for other messages.
pub fn pod_admission(msg: &str) -> Option<(String, String)> {
    if let Some(rest) = msg.split("violates PodSecurity \"").nth(1) {
        let level = rest.split('"').next().unwrap_or("restricted:latest");
        let what = rest.split_once("\": ").map(|x| x.1).unwrap_or(rest);
        let bare = level.split(':').next().unwrap_or(level);
        return Some((
            format!(
                "Pod Security admission enforces the {level} level in this namespace and the pods break it: {}",
                first_line(what)
            ),
            format!(
                "give the pods a securityContext that meets the {bare} Pod Security Standard (for restricted: runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities.drop: [\"ALL\"], seccompProfile.type: RuntimeDefault), through the app's config or chart; or have the cluster admin label the namespace pod-security.kubernetes.io/enforce=baseline (or privileged) if the app needs more"
            ),
        ));
    }
    if msg.contains("unable to validate against any security context constraint") {
        let detail: Vec<&str> = msg
            .split("provider restricted-v2: ")
            .skip(1)
            .map(|p| p.split(", provider").next().unwrap_or(p))
            .collect();
        return Some((
            format!(
                "OpenShift's security context constraints refuse the pods (only restricted-v2 is usable: it assigns a UID from the namespace's range and forbids root and privilege): {}",
                if detail.is_empty() { first_line(msg) } else { detail.join("; ") }
            ),
            "do not pin runAsUser/runAsGroup/fsGroup (OpenShift assigns them from the namespace's range), drop privileged and allowPrivilegeEscalation; or have the admin grant the ServiceAccount another SCC (oc adm policy add-scc-to-user anyuid -z SERVICEACCOUNT -n NAMESPACE)".into(),
        ));
    }
    None
}

/// `kind "name" not found` inside a kubelet or admission message: (kind, name).
fn not_found_object(msg: &str) -> Option<(&'static str, String)> {
    for (word, kind) in [
        ("serviceaccount \"", "ServiceAccount"),
        ("secret \"", "Secret"),
        ("configmap \"", "ConfigMap"),
    ] {
        if let Some(i) = msg.find(word) {
            let rest = &msg[i + word.len()..];
            if let Some((name, tail)) = rest.split_once('"')
                && tail.starts_with(" not found")
            {
                return Some((kind, name.to_string()));
            }
        }
    }
    // `couldn't find key K in Secret NS/NAME`
    let rest = msg.split("couldn't find key ").nth(1)?;
    let (_, rest) = rest.split_once(" in ")?;
    let (kind, path) = rest.split_once(' ')?;
    let name = path.rsplit('/').next()?.trim().to_string();
    match kind {
        "Secret" => Some(("Secret", name)),
        "ConfigMap" => Some(("ConfigMap", name)),
        _ => None,
    }
}

/// How to bring a missing object into being, per kind.
fn create_hint(kind: &str, name: &str, ns: &str) -> String {
    match kind {
        "ServiceAccount" => format!(
            "create ServiceAccount {name} in namespace {ns} (kubectl create serviceaccount {name} -n {ns}, or enable the chart's serviceAccount.create value), or set the workload's serviceAccountName to one that exists"
        ),
        "Secret" => format!(
            "create Secret {name} in namespace {ns} (kubectl create secret generic {name} -n {ns} --from-literal=KEY=VALUE, or set the config value that makes the app create it) before the app starts, or mark the reference optional: true if the app can run without it"
        ),
        _ => format!(
            "create ConfigMap {name} in namespace {ns} (kubectl create configmap {name} -n {ns} --from-literal=KEY=VALUE) before the app starts, or mark the reference optional: true if the app can run without it"
        ),
    }
}

/// Pods refused or stalled because a ServiceAccount, Secret or ConfigMap they name is
/// missing: FailedCreate (admission), FailedMount (volumes), CreateContainerConfigError (env).
fn missing_reference(ev: &Evidence) -> Option<(String, String)> {
    let ns = |e: &Value| s(e, "/involvedObject/namespace").to_string();
    for pod in &ev.pods {
        for cs in containers_statuses(pod) {
            if s(cs, "/state/waiting/reason") != "CreateContainerConfigError" {
                continue;
            }
            let msg = s(cs, "/state/waiting/message");
            let Some((kind, name)) = not_found_object(msg) else {
                continue;
            };
            let pns = s(pod, "/metadata/namespace");
            let what = if msg.starts_with("couldn't find key") {
                format!(
                    "a key it needs is missing from {} {name}",
                    kind.to_lowercase()
                )
            } else {
                format!("{} {name} does not exist", kind.to_lowercase())
            };
            return Some((
                format!(
                    "container {} of {} cannot start: it takes environment variables from {kind} {name} in namespace {pns}, and {what} ({msg})",
                    s(cs, "/name"),
                    pod_name(pod)
                ),
                create_hint(kind, &name, pns),
            ));
        }
    }
    for e in &ev.events {
        let msg = s(e, "/message");
        match s(e, "/reason") {
            "FailedCreate" if msg.contains("error looking up service account") => {
                let Some((kind, name)) = not_found_object(msg) else {
                    continue;
                };
                let ns = ns(e);
                return Some((
                    format!(
                        "{} {} cannot create pods: ServiceAccount {name} does not exist in namespace {ns} ({})",
                        s(e, "/involvedObject/kind").to_lowercase(),
                        s(e, "/involvedObject/name"),
                        first_line(msg)
                    ),
                    create_hint(kind, &name, &ns),
                ));
            }
            "FailedMount" => {
                let Some((kind, name)) = not_found_object(msg) else {
                    continue;
                };
                let ns = ns(e);
                let volume = msg.split('"').nth(1).unwrap_or("?");
                return Some((
                    format!(
                        "pod/{} is stuck in ContainerCreating: volume {volume} mounts {kind} {name}, which does not exist in namespace {ns}",
                        s(e, "/involvedObject/name")
                    ),
                    create_hint(kind, &name, &ns),
                ));
            }
            _ => {}
        }
    }
    None
}

fn image_pull(ev: &Evidence) -> Option<(String, String)> {
    for pod in &ev.pods {
        for cs in containers_statuses(pod) {
            let reason = s(cs, "/state/waiting/reason");
            if matches!(
                reason,
                "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" | "ErrImageNeverPull"
            ) {
                let name = s(cs, "/name");
                let image = match s(cs, "/image") {
                    "" => image_of(pod, name),
                    i => i.to_string(),
                };
                let msg = s(cs, "/state/waiting/message");
                if msg.contains("no match for platform in manifest") {
                    let node = s(pod, "/spec/nodeName");
                    return Some((
                        format!(
                            "image {image} has no build for the platform of node {node}, where {} runs (container {name}): {}",
                            pod_name(pod),
                            first_line(msg)
                        ),
                        format!(
                            "publish {image} for every node architecture (a multi-platform image with linux/amd64 and linux/arm64), or keep the pods on nodes it supports (nodeSelector kubernetes.io/arch: amd64 in the app's config; kubectl get nodes -L kubernetes.io/arch)"
                        ),
                    ));
                }
                let registry = image_registry(&image);
                if let Some(d) = pull_refused(pod, &image, registry, name, msg) {
                    return Some(d);
                }
                let detail = if msg.is_empty() {
                    reason.to_string()
                } else {
                    first_line(msg)
                };
                return Some((
                    format!(
                        "image {image} cannot be pulled from registry {registry} for {} (container {name}): {detail}",
                        pod_name(pod)
                    ),
                    format!(
                        "make {image} reachable from the cluster's nodes: air-gapped, push the bundle's images into your private registry (`berth bundle push`) and install with its address; online, check the image name and the pull secret for {registry}"
                    ),
                ));
            }
        }
    }
    for e in &ev.events {
        let msg = s(e, "/message");
        if s(e, "/reason") == "Failed" && msg.contains("pull") && msg.contains("image") {
            let image = msg.split('"').nth(1).unwrap_or("the image").to_string();
            let registry = image_registry(&image);
            return Some((
                format!(
                    "image {image} cannot be pulled from registry {registry}: {}",
                    first_line(msg)
                ),
                format!(
                    "make {image} reachable from the cluster's nodes: air-gapped, push the bundle's images into your private registry (`berth bundle push`); online, check the image name and the pull secret for {registry}"
                ),
            ));
        }
    }
    None
}

/// A registry that answered the node's pull with "authorization required": the pod carries
/// no pull Secret the registry accepts.
fn pull_refused(
    pod: &Value,
    image: &str,
    registry: &str,
    container: &str,
    msg: &str,
) -> Option<(String, String)> {
    let refused = msg.contains("pull access denied")
        || msg.contains("401 Unauthorized")
        || msg.contains("authorization failed")
        || msg.contains("no basic auth credentials");
    if !refused {
        return None;
    }
    let ns = s(pod, "/metadata/namespace");
    let secrets: Vec<&str> = pod
        .pointer("/spec/imagePullSecrets")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let carried = if secrets.is_empty() {
        "the pod has no imagePullSecrets".to_string()
    } else {
        format!(
            "none of the pod's imagePullSecrets ({}) holds credentials the registry accepts",
            secrets.join(", ")
        )
    };
    Some((
        format!(
            "registry {registry} requires credentials to pull {image}, and {carried} ({}, container {container}): {}",
            pod_name(pod),
            first_line(msg)
        ),
        format!(
            "give the pods a pull Secret for {registry}: install with --registry {registry} --pull-username USER (password in BERTH_PULL_PASSWORD), which creates Secret berth-registry in every namespace of the app and references it from every pod; or create one yourself (kubectl -n {ns} create secret docker-registry NAME --docker-server={registry} --docker-username=USER --docker-password=…) and list it in the pods' imagePullSecrets or their ServiceAccount's"
        ),
    ))
}

fn quota(ev: &Evidence) -> Option<(String, String)> {
    for e in &ev.events {
        let msg = s(e, "/message");
        let ns = s(e, "/involvedObject/namespace");
        if let Some(rest) = msg.split("failed quota: ").nth(1) {
            // `failed quota: NAME: must specify limits.cpu for: web; limits.memory for: web`
            let (quota, what) = rest.split_once(": ").unwrap_or(("a ResourceQuota", rest));
            let what = what.trim_start_matches("must specify ");
            return Some((
                format!(
                    "ResourceQuota {quota} in namespace {ns} tracks compute resources, and a container does not state them: {what}"
                ),
                format!(
                    "set those requests/limits for the containers named (the chart's resources values), or have the cluster admin add a LimitRange with defaults to namespace {ns}"
                ),
            ));
        }
        if msg.contains("exceeded quota") {
            let quota = msg
                .split("exceeded quota: ")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .unwrap_or("a ResourceQuota");
            return Some((
                format!("a ResourceQuota blocks new pods: {}", first_line(msg)),
                format!(
                    "raise ResourceQuota {quota} in namespace {} (kubectl describe resourcequota -n {}) or lower the app's resource requests in its config",
                    s(e, "/involvedObject/namespace"),
                    s(e, "/involvedObject/namespace")
                ),
            ));
        }
    }
    None
}

fn storage(ev: &Evidence) -> Option<(String, String)> {
    let has_default = ev.storage_classes.iter().any(|sc| {
        matches!(
            crate::object::annotation(sc, "storageclass.kubernetes.io/is-default-class"),
            Some("true")
        )
    });
    for pvc in &ev.pvcs {
        if s(pvc, "/status/phase") == "Bound" {
            continue;
        }
        let name = s(pvc, "/metadata/name");
        let class = s(pvc, "/spec/storageClassName");
        if class.is_empty() && !has_default {
            return Some((
                format!("persistentvolumeclaim/{name} is Pending: it names no StorageClass and the cluster has no default StorageClass"),
                "mark a StorageClass as default (kubectl annotate storageclass NAME storageclass.kubernetes.io/is-default-class=true) or set the storage class in the app's config".to_string(),
            ));
        }
        if !class.is_empty()
            && !ev
                .storage_classes
                .iter()
                .any(|sc| s(sc, "/metadata/name") == class)
        {
            return Some((
                format!(
                    "persistentvolumeclaim/{name} is Pending: StorageClass {class} does not exist in the cluster"
                ),
                format!(
                    "create StorageClass {class} or set an existing one in the app's config (kubectl get storageclass)"
                ),
            ));
        }
        if let Some(e) = ev.events.iter().rev().find(|e| {
            s(e, "/reason") == "ExternalProvisioning" && s(e, "/involvedObject/name") == name
        }) {
            let prov = s(e, "/message")
                .split('\'')
                .nth(1)
                .unwrap_or("its provisioner");
            let class = if class.is_empty() { "(default)" } else { class };
            return Some((
                format!(
                    "persistentvolumeclaim/{name} is Pending: the provisioner {prov} of StorageClass {class} has not created a volume"
                ),
                format!(
                    "check that {prov} is running and healthy (kubectl get pods -A), or choose a StorageClass with a working provisioner in the app's config"
                ),
            ));
        }
        let msg = ev
            .events
            .iter()
            .filter(|e| {
                s(e, "/involvedObject/kind") == "PersistentVolumeClaim"
                    && s(e, "/type") == "Warning"
            })
            .map(|e| first_line(s(e, "/message")))
            .next_back();
        if let Some(msg) = msg {
            return Some((
                format!("persistentvolumeclaim/{name} is Pending: {msg}"),
                format!(
                    "check the provisioner of StorageClass {} (kubectl describe pvc {name})",
                    if class.is_empty() { "(default)" } else { class }
                ),
            ));
        }
    }
    None
}

fn scheduling(ev: &Evidence) -> Option<(String, String)> {
    for e in &ev.events {
        if s(e, "/reason") != "FailedScheduling" {
            continue;
        }
        let msg = s(e, "/message");
        let pod = s(e, "/involvedObject/name");
        let cpu = msg.contains("Insufficient cpu");
        let mem = msg.contains("Insufficient memory");
        if cpu || mem {
            let what = match (cpu, mem) {
                (true, true) => "CPU and memory",
                (true, false) => "CPU",
                _ => "memory",
            };
            return Some((
                format!(
                    "pod/{pod} cannot be scheduled: no node has enough free {what} ({})",
                    first_line(msg)
                ),
                format!(
                    "add nodes or free {what} on the existing ones, or lower the app's resource requests in its config"
                ),
            ));
        }
        if msg.contains("unbound") && msg.contains("PersistentVolumeClaim") {
            return Some((
                format!("pod/{pod} cannot be scheduled: its PersistentVolumeClaims are not bound ({})", first_line(msg)),
                "make sure the cluster has a default StorageClass whose provisioner works (kubectl get storageclass)".to_string(),
            ));
        }
        return Some((
            format!("pod/{pod} cannot be scheduled: {}", first_line(msg)),
            "check node taints, selectors and capacity (kubectl describe pod)".to_string(),
        ));
    }
    None
}

fn crash_loop(ev: &Evidence) -> Option<(String, String)> {
    for pod in &ev.pods {
        for cs in containers_statuses(pod) {
            let waiting = s(cs, "/state/waiting/reason");
            let restarts = cs.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
            let terminated_err = [
                "/state/terminated/exitCode",
                "/lastState/terminated/exitCode",
            ]
            .iter()
            .any(|p| {
                cs.pointer(p)
                    .and_then(Value::as_i64)
                    .is_some_and(|c| c != 0)
            });
            if waiting == "CrashLoopBackOff"
                || (restarts > 0 && terminated_err)
                || waiting == "CreateContainerConfigError"
            {
                let name = s(cs, "/name");
                let pname = s(pod, "/metadata/name");
                if waiting == "CreateContainerConfigError" {
                    return Some((
                        format!("{} container {name} cannot start: {}", pod_name(pod), s(cs, "/state/waiting/message")),
                        "create the Secret or ConfigMap it references, or fix the reference in the app's config".into(),
                    ));
                }
                let exit = cs
                    .pointer("/lastState/terminated/exitCode")
                    .or_else(|| cs.pointer("/state/terminated/exitCode"))
                    .and_then(Value::as_i64);
                let log = ev
                    .logs
                    .iter()
                    .find(|(p, c, _)| p == pname && c == name)
                    .map(|(_, _, l)| last_lines(l, 3))
                    .filter(|l| !l.is_empty());
                let mut cause = format!(
                    "{} container {name} keeps crashing ({restarts} restarts{})",
                    pod_name(pod),
                    exit.map(|c| format!(", exit code {c}")).unwrap_or_default()
                );
                if let Some(l) = log {
                    cause.push_str(&format!("; last log lines: {l}"));
                }
                return Some((
                    cause,
                    format!(
                        "fix the startup error in the container's log (kubectl logs {pname} -c {name} --previous); often a wrong config value or an unreachable database"
                    ),
                ));
            }
        }
    }
    None
}

fn readiness_probe(ev: &Evidence) -> Option<(String, String)> {
    for e in &ev.events {
        let msg = s(e, "/message");
        if s(e, "/reason") == "Unhealthy" && msg.starts_with("Readiness probe failed") {
            return Some((
                format!("pod/{} is running but its readiness probe fails: {}", s(e, "/involvedObject/name"), first_line(msg)),
                "check that the probe's path and port match what the app serves, and what the app logs while starting".into(),
            ));
        }
    }
    for pod in &ev.pods {
        // A container that just started is not ready yet; only a long wait counts.
        let running_for = pod
            .pointer("/status/startTime")
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| jiff::Timestamp::now().duration_since(t).as_secs())
            .unwrap_or(0);
        if s(pod, "/status/phase") != "Running" || running_for < 30 {
            continue;
        }
        for cs in containers_statuses(pod) {
            let ready = cs.get("ready").and_then(Value::as_bool).unwrap_or(false);
            let running = cs.pointer("/state/running").is_some();
            if running && !ready {
                return Some((
                    format!("{} container {} is running but not ready (its readiness probe does not pass)", pod_name(pod), s(cs, "/name")),
                    "check that the probe's path and port match what the app serves (kubectl describe pod)".into(),
                ));
            }
        }
    }
    None
}

fn ingress_class(ev: &Evidence) -> Option<(String, String)> {
    let r = object_ref(&ev.object);
    if r.kind != "Ingress" {
        return None;
    }
    let class = s(&ev.object, "/spec/ingressClassName");
    let annotated =
        crate::object::annotation(&ev.object, "kubernetes.io/ingress.class").unwrap_or("");
    let wanted = if class.is_empty() { annotated } else { class };
    let names: Vec<&str> = ev
        .ingress_classes
        .iter()
        .map(|c| s(c, "/metadata/name"))
        .collect();
    if wanted.is_empty() {
        let has_default = ev.ingress_classes.iter().any(|c| {
            crate::object::annotation(c, "ingressclass.kubernetes.io/is-default-class")
                == Some("true")
        });
        if !has_default {
            return Some((
                format!(
                    "ingress/{} names no ingress class and the cluster has no default IngressClass, so no controller serves it",
                    r.name
                ),
                if names.is_empty() {
                    "install an ingress controller (e.g. ingress-nginx) or set the ingress class in the app's config".into()
                } else {
                    format!(
                        "set the ingress class in the app's config to one of: {}",
                        names.join(", ")
                    )
                },
            ));
        }
    } else if !names.contains(&wanted) {
        return Some((
            format!(
                "ingress/{} uses ingress class {wanted}, which does not exist in the cluster",
                r.name
            ),
            if names.is_empty() {
                format!(
                    "install an ingress controller that provides class {wanted}, or set an existing class in the app's config"
                )
            } else {
                format!(
                    "set the ingress class in the app's config to one of: {}",
                    names.join(", ")
                )
            },
        ));
    }
    None
}

/// A `type: LoadBalancer` Service without an address and without any word from a
/// load-balancer controller (clouds record `EnsuringLoadBalancer` at once): nothing in the
/// cluster provides load balancers (bare metal without MetalLB or kube-vip).
fn load_balancer(ev: &Evidence) -> Option<(String, String)> {
    let r = object_ref(&ev.object);
    if r.kind != "Service" || s(&ev.object, "/spec/type") != "LoadBalancer" {
        return None;
    }
    if ev
        .object
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        return None;
    }
    if let Some(e) = ev
        .events
        .iter()
        .find(|e| s(e, "/reason") == "SyncLoadBalancerFailed")
    {
        return Some((
            format!(
                "service/{} gets no load balancer: {}",
                r.name,
                first_line(s(e, "/message"))
            ),
            "fix what the cloud's load-balancer controller reports (quotas, subnets, annotations), or expose the app through an Ingress".into(),
        ));
    }
    let controller_spoke = ev.events.iter().any(|e| {
        matches!(
            s(e, "/reason"),
            "EnsuringLoadBalancer" | "EnsuredLoadBalancer"
        )
    });
    if controller_spoke {
        return None;
    }
    Some((
        format!(
            "service/{} is type LoadBalancer but no load-balancer controller gave it an address (EXTERNAL-IP stays <pending>): the cluster has none, as bare-metal clusters without MetalLB or kube-vip",
            r.name
        ),
        format!(
            "set the service type to ClusterIP and expose the app through an Ingress, or to NodePort, in the app's config; or have the admin install a load-balancer provider (MetalLB, kube-vip) in namespace {}'s cluster",
            r.namespace
        ),
    ))
}

fn job_failed(ev: &Evidence) -> Option<(String, String)> {
    let r = object_ref(&ev.object);
    if r.kind != "Job" {
        return None;
    }
    let (st, reason, msg) = condition(&ev.object, "Failed")?;
    if st != "True" {
        return None;
    }
    let log = ev
        .logs
        .first()
        .map(|(_, _, l)| last_lines(l, 3))
        .unwrap_or_default();
    Some((
        format!(
            "job/{} failed: {} {}{}",
            r.name,
            reason,
            msg,
            if log.is_empty() {
                String::new()
            } else {
                format!("; last log lines: {log}")
            }
        ),
        format!(
            "read the job's log (kubectl logs job/{} -n {}) and fix the cause, then run the operation again",
            r.name, r.namespace
        ),
    ))
}

/// An aggregated API whose backend Service is missing or has no ready pods: its
/// group-version answers 503 and discovery clients warn about it.
fn apiservice_unavailable(ev: &Evidence) -> Option<(String, String)> {
    let r = object_ref(&ev.object);
    if r.kind != "APIService" {
        return None;
    }
    let (st, reason, msg) = condition(&ev.object, "Available")?;
    if st != "False" {
        return None;
    }
    let gv = format!(
        "{}/{}",
        s(&ev.object, "/spec/group"),
        s(&ev.object, "/spec/version")
    );
    let svc = s(&ev.object, "/spec/service/name");
    let ns = s(&ev.object, "/spec/service/namespace");
    let fix = match reason {
        "ServiceNotFound" => format!(
            "install the API's backend so that service/{svc} exists in namespace {ns} (the chart's component that serves {gv}), or delete apiservice/{} if the cluster should not serve {gv}",
            r.name
        ),
        "MissingEndpoints" => format!(
            "make the pods behind service/{svc} in namespace {ns} ready (kubectl get pods -n {ns}; kubectl describe service {svc} -n {ns} for its selector), or delete apiservice/{} if the cluster should not serve {gv}",
            r.name
        ),
        _ => format!(
            "check the backend of {gv} (service/{svc} in namespace {ns}) and its certificates, or delete apiservice/{}",
            r.name
        ),
    };
    Some((
        format!(
            "apiservice/{} is not available ({reason}: {msg}); requests for {gv} answer 503 \"the server is currently unable to handle the request\" and kubectl warns about it",
            r.name
        ),
        fix,
    ))
}

/// Cause and fix for an API error that admission (a webhook, or a missing ServiceAccount)
/// answered, as a hint appended to the error: `None` for other errors.
pub fn admission_hint(message: &str) -> Option<String> {
    let quoted = |after: &str| -> Option<String> {
        let rest = message.split(after).nth(1)?;
        rest.split('"').next().map(String::from)
    };
    if let Some(hook) = quoted("admission webhook \"")
        && message.contains("denied the request")
    {
        let why = message
            .split("denied the request")
            .nth(1)
            .map(|w| w.trim_start_matches(':').trim())
            .filter(|w| !w.is_empty() && *w != "without explanation")
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        return Some(format!(
            "; the cluster's admission webhook {hook} refused the object{why}: change the object (its config values) to satisfy that policy, or ask the admin who runs {hook} for an exception"
        ));
    }
    if let Some(hook) = quoted("failed calling webhook \"") {
        let url = quoted("Post \"").unwrap_or_default();
        // https://SVC.NS.svc:PORT/...
        let host = url
            .trim_start_matches("https://")
            .split([':', '/'])
            .next()
            .unwrap_or("");
        let mut parts = host.split('.');
        let (svc, ns) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let cause = if message.contains("not found") && host.ends_with(".svc") {
            format!("its Service {svc} does not exist in namespace {ns}")
        } else if message.contains("no endpoints available") {
            format!("its Service {svc} in namespace {ns} has no ready pods")
        } else if message.contains("deadline exceeded") {
            "it did not answer within its timeoutSeconds".to_string()
        } else {
            "the call failed".to_string()
        };
        let fix = if host.ends_with(".svc") {
            format!(
                "start the webhook's pods (kubectl get pods -n {ns}; kubectl describe service {svc} -n {ns}) and retry; if the component that served it was uninstalled, delete its leftover ValidatingWebhookConfiguration/MutatingWebhookConfiguration"
            )
        } else {
            format!("make {url} reachable from the API server and retry")
        };
        return Some(format!(
            "; admission webhook {hook} cannot be reached ({cause}) and its failurePolicy is Fail: {fix}"
        ));
    }
    if let Some((cause, fix)) = pod_admission(message) {
        return Some(format!("; {cause}: {fix}"));
    }
    if message.contains("does not support dry run") {
        return Some(
            "; a webhook with side effects cannot take a dry run: run without --dry-run, or ask its owner to declare sideEffects: None".into(),
        );
    }
    if message.contains("error looking up service account") {
        let (kind, name) = not_found_object(message)?;
        let ns = message
            .split("error looking up service account ")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or("");
        return Some(format!("; {}", create_hint(kind, &name, ns)));
    }
    None
}

/// The unknown-field paths in an API server refusal, as segments without list indexes or keys:
/// the strict decoder's `unknown field "spec.replica"` and server-side apply's
/// `.spec.template.spec.containers[name="web"].port: field not declared in schema`.
pub fn unknown_fields(message: &str) -> Vec<Vec<String>> {
    let mut raw: Vec<String> = message
        .split("unknown field \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(String::from))
        .collect();
    for line in message.lines() {
        if let Some(p) = line.trim().strip_suffix(": field not declared in schema") {
            // One error follows the message's prefix on the same line; several get a line each.
            let p = p.rsplit(": ").next().unwrap_or(p);
            raw.push(p.trim().to_string());
        }
    }
    raw.iter()
        .map(|p| {
            // Drop `[0]` and `[name="a.b"]` (keys may hold dots and brackets inside quotes).
            let (mut out, mut depth, mut quoted) = (String::new(), 0usize, false);
            for ch in p.chars() {
                match ch {
                    '"' if depth > 0 => quoted = !quoted,
                    '[' if !quoted => depth += 1,
                    ']' if !quoted && depth > 0 => depth -= 1,
                    _ if depth == 0 => out.push(ch),
                    _ => {}
                }
            }
            out.split('.')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .filter(|segs: &Vec<String>| !segs.is_empty())
        .collect()
}

/// Cause and fix for a strict field validation refusal (`unknown field "spec.replica"`), as a
/// hint appended to the error: which fields the object's kind does not declare, and the
/// declared field each one most likely meant. `None` for other errors.
pub fn unknown_field_hint(message: &str, api_version: &str, kind: &str) -> Option<String> {
    let fields = unknown_fields(message);
    if fields.is_empty() {
        return None;
    }
    let parts: Vec<String> = fields
        .iter()
        .map(|segs| {
            let path = segs.join(".");
            let suggestion = crate::field_names::siblings(api_version, kind, segs)
                .and_then(|sib| {
                    let last = segs.last()?;
                    crate::field_names::closest(last, &sib).cloned()
                })
                .map(|f| {
                    let mut s = segs.clone();
                    if let Some(l) = s.last_mut() {
                        *l = f;
                    }
                    format!(" (did you mean {}?)", s.join("."))
                })
                .unwrap_or_default();
            format!("{path}{suggestion}")
        })
        .collect();
    let (noun, pronoun) = if parts.len() == 1 {
        ("field", "it")
    } else {
        ("fields", "them")
    };
    Some(format!(
        "; {kind} {api_version} has no {noun} {} and the API server refuses unknown fields: correct or remove {pronoun} in the object's source (the chart template or the value that produces {pronoun})",
        parts.join(", ")
    ))
}

/// Objects whose apiVersion Kubernetes 1.`minor` has deprecated but still serves, in words
/// (`deployment/web (templates/web.yaml): apps/v1beta2 Deployment is deprecated in 1.9 and
/// removed in 1.16; use apps/v1 ...`), per the Kubernetes deprecation guide's table. Removed
/// apiVersions are not listed: applying them fails, with [`unserved_kind`]'s message.
pub fn deprecated_apis(objects: &[crate::Manifest], minor: u32) -> Vec<String> {
    use berth_spec::deprecations::{ApiState, check};
    objects
        .iter()
        .filter_map(|m| {
            let av = m.object.get("apiVersion").and_then(Value::as_str)?;
            let kind = m.object.get("kind").and_then(Value::as_str)?;
            let (state, r) = check(av, kind, minor)?;
            (state == ApiState::Deprecated).then(|| {
                let name = m
                    .object
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                format!(
                    "{}/{name} ({}): {}",
                    kind.to_lowercase(),
                    m.source,
                    r.describe(kind, state)
                )
            })
        })
        .collect()
}

/// Why the cluster does not serve an object's kind: an API version this Kubernetes release
/// no longer serves (from the Kubernetes deprecation guide's table, with the replacement), or
/// a kind whose CustomResourceDefinition is missing.
pub fn unserved_kind(source: &str, r: &ObjectRef, server_minor: Option<u32>) -> String {
    use berth_spec::deprecations::{ApiState, check};
    if let Some(minor) = server_minor
        && let Some((ApiState::Removed, removal)) = check(&r.api_version, &r.kind, minor)
    {
        let fix = if removal.replacement.is_empty() {
            format!("remove it; {}", removal.advice(&r.kind))
        } else {
            format!(
                "change its apiVersion to {} ({})",
                removal.replacement,
                removal.advice(&r.kind)
            )
        };
        return format!(
            "{source}: Kubernetes 1.{minor} no longer serves {} {} ({r}): it was removed in 1.{} (deprecated in 1.{}); {fix}",
            r.api_version, r.kind, removal.removed_in, removal.deprecated_in
        );
    }
    format!(
        "{source}: the cluster does not serve kind {} in {} ({r}); install its CustomResourceDefinition first or check apiVersion",
        r.kind, r.api_version
    )
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy() -> Value {
        json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop"}})
    }

    fn pod_with(status: Value) -> Value {
        json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-1","namespace":"shop"},
            "spec":{"containers":[{"name":"app","image":"registry.example.com/shop/web:1.2"}]},
            "status": status})
    }

    #[test]
    fn image_pull_names_image_and_registry() {
        let ev = Evidence {
            object: deploy(),
            pods: vec![pod_with(
                json!({"phase":"Pending","containerStatuses":[{"name":"app","ready":false,"restartCount":0,
                "state":{"waiting":{"reason":"ImagePullBackOff","message":"Back-off pulling image"}}}]}),
            )],
            ..Default::default()
        };
        let d = diagnose(&ev).unwrap();
        assert!(
            d.cause.contains("registry.example.com/shop/web:1.2"),
            "{}",
            d.cause
        );
        assert!(
            d.cause.contains("registry registry.example.com"),
            "{}",
            d.cause
        );
        assert!(d.fix.contains("berth bundle push"), "{}", d.fix);
        assert_eq!(d.object.name, "web");
    }

    #[test]
    fn a_pull_refused_for_want_of_credentials_names_the_pull_secret() {
        let msg = "failed to pull and unpack image \"registry.example.com/shop/web:1.2\": failed to resolve reference \"registry.example.com/shop/web:1.2\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed";
        let ev = Evidence {
            object: deploy(),
            pods: vec![pod_with(
                json!({"phase":"Pending","containerStatuses":[{"name":"app","ready":false,"restartCount":0,
                "state":{"waiting":{"reason":"ErrImagePull","message": msg}}}]}),
            )],
            ..Default::default()
        };
        let d = diagnose(&ev).unwrap();
        assert!(
            d.cause
                .contains("registry registry.example.com requires credentials")
                && d.cause.contains("the pod has no imagePullSecrets"),
            "{}",
            d.cause
        );
        assert!(
            d.fix.contains("--pull-username")
                && d.fix
                    .contains("kubectl -n shop create secret docker-registry"),
            "{}",
            d.fix
        );
        // A pod that carries a Secret the registry does not accept is told so.
        let mut pod = ev.pods[0].clone();
        pod["spec"]["imagePullSecrets"] = json!([{"name": "old-creds"}]);
        let ev = Evidence {
            pods: vec![pod],
            ..ev
        };
        let d = diagnose(&ev).unwrap();
        assert!(
            d.cause.contains("imagePullSecrets (old-creds)"),
            "{}",
            d.cause
        );
    }

    #[test]
    fn registry_parsing() {
        assert_eq!(image_registry("nginx:1"), "docker.io");
        assert_eq!(image_registry("library/nginx"), "docker.io");
        assert_eq!(image_registry("localhost:5000/x"), "localhost:5000");
        assert_eq!(image_registry("ghcr.io/a/b@sha256:00"), "ghcr.io");
    }

    #[test]
    fn pvc_without_default_storage_class() {
        let ev = Evidence {
            object: deploy(),
            pvcs: vec![
                json!({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data"},"spec":{},"status":{"phase":"Pending"}}),
            ],
            storage_classes: vec![json!({"metadata":{"name":"slow"}})],
            ..Default::default()
        };
        let d = diagnose(&ev).unwrap();
        assert!(d.cause.contains("no default StorageClass"), "{}", d.cause);
        assert!(d.fix.contains("is-default-class"), "{}", d.fix);
    }

    #[test]
    fn insufficient_memory() {
        let ev = Evidence {
            object: deploy(),
            events: vec![
                json!({"reason":"FailedScheduling","type":"Warning","involvedObject":{"kind":"Pod","name":"web-1"},
                "message":"0/3 nodes are available: 3 Insufficient memory."}),
            ],
            ..Default::default()
        };
        let d = diagnose(&ev).unwrap();
        assert!(d.cause.contains("enough free memory"), "{}", d.cause);
    }

    #[test]
    fn crash_loop_shows_last_log_lines() {
        let ev = Evidence {
            object: deploy(),
            pods: vec![pod_with(
                json!({"phase":"Running","containerStatuses":[{"name":"app","ready":false,"restartCount":4,
                "state":{"waiting":{"reason":"CrashLoopBackOff"}},"lastState":{"terminated":{"exitCode":1}}}]}),
            )],
            logs: vec![(
                "web-1".into(),
                "app".into(),
                "starting\nconnecting db\nerror: connection refused\n".into(),
            )],
            ..Default::default()
        };
        let d = diagnose(&ev).unwrap();
        assert!(d.cause.contains("4 restarts, exit code 1"), "{}", d.cause);
        assert!(d.cause.contains("error: connection refused"), "{}", d.cause);
        assert!(
            d.fix.contains("kubectl logs web-1 -c app --previous"),
            "{}",
            d.fix
        );
    }

    #[test]
    fn readiness_probe_quota_ingress() {
        let ev = Evidence {
            object: deploy(),
            events: vec![
                json!({"reason":"Unhealthy","involvedObject":{"name":"web-1"},"message":"Readiness probe failed: HTTP probe failed with statuscode: 503"}),
            ],
            ..Default::default()
        };
        assert!(
            diagnose(&ev)
                .unwrap()
                .cause
                .contains("readiness probe fails")
        );
        let ev = Evidence {
            object: deploy(),
            events: vec![
                json!({"reason":"FailedCreate","involvedObject":{"kind":"ReplicaSet","name":"web-1","namespace":"shop"},
                "message":"pods \"web-1-x\" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=4, limited: cpu=4"}),
            ],
            ..Default::default()
        };
        let d = diagnose(&ev).unwrap();
        assert!(
            d.fix.contains("ResourceQuota compute in namespace shop"),
            "{}",
            d.fix
        );
        let ev = Evidence {
            object: deploy(),
            events: vec![
                json!({"reason":"FailedCreate","involvedObject":{"kind":"ReplicaSet","name":"web-1","namespace":"shop"},
                "message":"Error creating: pods \"web-1-\" is forbidden: failed quota: compute: must specify limits.cpu for: app; limits.memory for: app"}),
            ],
            ..Default::default()
        };
        let d = diagnose(&ev).unwrap();
        assert!(
            d.cause.contains("ResourceQuota compute in namespace shop")
                && d.cause
                    .contains("limits.cpu for: app; limits.memory for: app"),
            "{}",
            d.cause
        );
        assert!(d.fix.contains("LimitRange"), "{}", d.fix);
        let ev = Evidence {
            object: json!({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"web"},"spec":{"ingressClassName":"nginx"}}),
            ingress_classes: vec![json!({"metadata":{"name":"traefik"}})],
            ..Default::default()
        };
        let d = diagnose(&ev).unwrap();
        assert!(d.cause.contains("ingress class nginx"), "{}", d.cause);
        assert!(d.fix.contains("traefik"), "{}", d.fix);
    }

    #[test]
    fn missing_references_name_the_object_and_the_fix() {
        let ev = Evidence {
            object: deploy(),
            events: vec![json!({"reason": "FailedCreate", "type": "Warning",
                "involvedObject": {"kind": "ReplicaSet", "name": "web-1", "namespace": "shop"},
                "message": "Error creating: pods \"web-1-\" is forbidden: error looking up service account shop/robot: serviceaccount \"robot\" not found"})],
            ..Evidence::default()
        };
        let d = diagnose(&ev).expect("diagnosis");
        assert!(
            d.cause
                .contains("ServiceAccount robot does not exist in namespace shop"),
            "{d:?}"
        );
        assert!(
            d.fix
                .contains("kubectl create serviceaccount robot -n shop"),
            "{d:?}"
        );
        let ev = Evidence {
            object: deploy(),
            events: vec![json!({"reason": "FailedMount", "type": "Warning",
                "involvedObject": {"kind": "Pod", "name": "web-1-x", "namespace": "shop"},
                "message": "MountVolume.SetUp failed for volume \"creds\" : secret \"db\" not found"})],
            ..Evidence::default()
        };
        let d = diagnose(&ev).expect("diagnosis");
        assert!(d.cause.contains("volume creds mounts Secret db"), "{d:?}");
        assert!(
            d.fix.contains("create Secret db in namespace shop"),
            "{d:?}"
        );
        let mut pod = pod_with(
            json!({"containerStatuses": [{"name": "app", "state": {"waiting": {
            "reason": "CreateContainerConfigError", "message": "couldn't find key password in Secret shop/db"}}}]}),
        );
        pod["metadata"]["namespace"] = json!("shop");
        let ev = Evidence {
            object: deploy(),
            pods: vec![pod],
            ..Evidence::default()
        };
        let d = diagnose(&ev).expect("diagnosis");
        assert!(
            d.cause.contains("a key it needs is missing from secret db"),
            "{d:?}"
        );
        assert!(
            d.fix.contains("create Secret db in namespace shop"),
            "{d:?}"
        );
    }

    #[test]
    fn unavailable_apiservice_names_the_service() {
        let ev = Evidence {
            object: json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                "metadata": {"name": "v1beta1.metrics.k8s.io"},
                "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "service": {"name": "metrics-server", "namespace": "kube-system"}},
                "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints",
                    "message": "endpoints for service/metrics-server in \"kube-system\" have no addresses with port name \"https\""}]}}),
            ..Evidence::default()
        };
        let d = diagnose(&ev).expect("diagnosis");
        assert!(
            d.cause
                .contains("apiservice/v1beta1.metrics.k8s.io is not available (MissingEndpoints"),
            "{d:?}"
        );
        assert!(
            d.fix
                .contains("service/metrics-server in namespace kube-system ready"),
            "{d:?}"
        );
    }

    #[test]
    fn admission_errors_get_a_cause_and_a_fix() {
        let h = admission_hint(
            "admission webhook \"deny.example.com\" denied the request: label deny is set",
        )
        .expect("hint");
        assert!(
            h.contains("webhook deny.example.com refused the object (label deny is set)"),
            "{h}"
        );
        let h = admission_hint("Internal error occurred: failed calling webhook \"v.cert-manager.io\": failed to call webhook: Post \"https://cm-webhook.cert-manager.svc:443/validate?timeout=10s\": no endpoints available for service \"cm-webhook\"").expect("hint");
        assert!(
            h.contains("its Service cm-webhook in namespace cert-manager has no ready pods"),
            "{h}"
        );
        assert!(h.contains("kubectl get pods -n cert-manager"), "{h}");
        let h = admission_hint("pods \"p\" is forbidden: error looking up service account shop/robot: serviceaccount \"robot\" not found").expect("hint");
        assert!(
            h.contains("create ServiceAccount robot in namespace shop"),
            "{h}"
        );
        assert_eq!(admission_hint("configmaps \"x\" not found"), None);
    }

    #[test]
    fn unknown_fields_are_named_with_the_field_they_meant() {
        // The strict decoder (create/update with fieldValidation=Strict).
        let h = unknown_field_hint("Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replica\", unknown field \"spec.template.spec.containers[0].port\"", "apps/v1", "Deployment").expect("hint");
        assert!(
            h.contains("Deployment apps/v1 has no fields spec.replica (did you mean spec.replicas?), spec.template.spec.containers.port (did you mean spec.template.spec.containers.ports?)"),
            "{h}"
        );
        // Server-side apply, one error and several.
        let h = unknown_field_hint("failed to create typed patch object (shop/web; apps/v1, Kind=Deployment): .spec.minReadySecond: field not declared in schema", "apps/v1", "Deployment").expect("hint");
        assert!(
            h.contains("no field spec.minReadySecond (did you mean spec.minReadySeconds?)"),
            "{h}"
        );
        let h = unknown_field_hint("failed to create typed patch object (shop/web; apps/v1, Kind=Deployment): errors:\n  .spec.replica: field not declared in schema\n  .spec.template.spec.containers[name=\"a.b[1]\"].imagePullPolicyy: field not declared in schema", "apps/v1", "Deployment").expect("hint");
        assert!(
            h.contains("spec.replica (did you mean spec.replicas?), spec.template.spec.containers.imagePullPolicyy (did you mean spec.template.spec.containers.imagePullPolicy?)"),
            "{h}"
        );
        // Nothing close: the field is named, no guess.
        let h = unknown_field_hint(
            "strict decoding error: unknown field \"spec.colour\"",
            "apps/v1",
            "Deployment",
        )
        .expect("hint");
        assert!(h.contains("has no field spec.colour and"), "{h}");
        // Custom kinds have no built-in schema: still named.
        let h = unknown_field_hint(
            "strict decoding error: unknown field \"spec.replica\"",
            "example.com/v1",
            "Widget",
        )
        .expect("hint");
        assert!(
            h.contains("Widget example.com/v1 has no field spec.replica and"),
            "{h}"
        );
        assert_eq!(
            unknown_field_hint("configmaps \"x\" not found", "v1", "ConfigMap"),
            None
        );
    }

    #[test]
    fn pod_security_and_scc_refusals_name_the_level_and_the_fix() {
        let ev = Evidence {
            object: deploy(),
            events: vec![
                json!({"reason":"FailedCreate","type":"Warning","involvedObject":{"kind":"ReplicaSet","name":"web-5d8f","namespace":"shop"},
                "message":"Error creating: pods \"web-5d8f-\" is forbidden: violates PodSecurity \"restricted:latest\": runAsNonRoot != true (pod or container \"web\" must set securityContext.runAsNonRoot=true)"}),
            ],
            ..Default::default()
        };
        let d = diagnose(&ev).expect("diagnosis");
        assert!(d.cause.starts_with("replicaset web-5d8f cannot create pods: Pod Security admission enforces the restricted:latest level"), "{}", d.cause);
        assert!(
            d.cause
                .contains("must set securityContext.runAsNonRoot=true"),
            "{}",
            d.cause
        );
        assert!(
            d.fix.contains("seccompProfile.type: RuntimeDefault"),
            "{}",
            d.fix
        );
        let scc = "pods \"web-\" is forbidden: unable to validate against any security context constraint: [provider \"anyuid\": Forbidden: not usable by user or serviceaccount, provider restricted-v2: .spec.securityContext.fsGroup: Invalid value: []int64{999}: 999 is not an allowed group, provider \"privileged\": Forbidden: not usable by user or serviceaccount]";
        let (cause, fix) = pod_admission(scc).expect("scc");
        assert!(
            cause.contains("fsGroup: Invalid value: []int64{999}: 999 is not an allowed group"),
            "{cause}"
        );
        assert!(fix.contains("do not pin runAsUser"), "{fix}");
        assert!(admission_hint(scc).is_some_and(|h| h.contains("restricted-v2")));
    }

    #[test]
    fn a_load_balancer_without_a_controller_is_diagnosed_but_a_cloud_one_being_made_is_not() {
        let svc = json!({"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop"},"spec":{"type":"LoadBalancer"}});
        let d = diagnose(&Evidence {
            object: svc.clone(),
            ..Default::default()
        })
        .expect("bare metal");
        assert!(
            d.cause.contains("no load-balancer controller"),
            "{}",
            d.cause
        );
        assert!(d.fix.contains("MetalLB"), "{}", d.fix);
        let ensuring = json!({"reason":"EnsuringLoadBalancer","type":"Normal","message":"Ensuring load balancer","involvedObject":{"kind":"Service","name":"web"}});
        assert!(
            diagnose(&Evidence {
                object: svc.clone(),
                events: vec![ensuring],
                ..Default::default()
            })
            .is_none()
        );
        let failed = json!({"reason":"SyncLoadBalancerFailed","type":"Warning","message":"Error syncing load balancer: failed to ensure load balancer: quota exceeded","involvedObject":{"kind":"Service","name":"web"}});
        let d = diagnose(&Evidence {
            object: svc,
            events: vec![failed],
            ..Default::default()
        })
        .expect("cloud failure");
        assert!(d.cause.contains("quota exceeded"), "{}", d.cause);
        let with_ip = json!({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"type":"LoadBalancer"},"status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}}});
        assert!(
            diagnose(&Evidence {
                object: with_ip,
                ..Default::default()
            })
            .is_none()
        );
    }

    #[test]
    fn removed_api_versions_name_the_release_and_the_replacement() {
        let r = object_ref(
            &json!({"apiVersion":"policy/v1beta1","kind":"PodDisruptionBudget","metadata":{"name":"web","namespace":"shop"}}),
        );
        let m = unserved_kind("chart/templates/pdb.yaml", &r, Some(25));
        assert!(
            m.contains("Kubernetes 1.25 no longer serves policy/v1beta1 PodDisruptionBudget"),
            "{m}"
        );
        assert!(m.contains("change its apiVersion to policy/v1"), "{m}");
        // Before the removal (or for a kind the table does not list) it is a missing CRD.
        let m = unserved_kind("x.yaml", &r, Some(24));
        assert!(
            m.contains("install its CustomResourceDefinition first"),
            "{m}"
        );
        let r = object_ref(
            &json!({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"}}),
        );
        assert!(unserved_kind("x.yaml", &r, Some(32)).contains("CustomResourceDefinition"));
    }

    #[test]
    fn healthy_evidence_gives_no_diagnosis() {
        let ev = Evidence {
            object: deploy(),
            pods: vec![pod_with(
                json!({"phase":"Running","containerStatuses":[{"name":"app","ready":true,"restartCount":0,"state":{"running":{}}}]}),
            )],
            ..Default::default()
        };
        assert_eq!(diagnose(&ev), None);
    }
}
