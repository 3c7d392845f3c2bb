//! Readiness per kind, decided from an object's live JSON alone (no I/O).
//!
//! Built-in kinds follow Helm's legacy waiter and kapp (see docs); everything else follows
//! kstatus: a resource is Current when `status.observedGeneration` (if present) has caught up
//! with `metadata.generation` and its `Ready` condition (if any) is True; `Stalled=True` or
//! `Ready=False` with a terminal reason counts as failed.

use crate::object::object_ref;
use serde_json::Value;

/// Where an object stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Ready; nothing to wait for.
    Ready,
    /// Not yet; the text says what is being waited on.
    Pending(String),
    /// Will not become ready without a change; the text says why.
    Failed(String),
}

impl Readiness {
    /// Whether ready.
    pub fn is_ready(&self) -> bool {
        matches!(self, Readiness::Ready)
    }
}

fn int(v: &Value, p: &str) -> Option<i64> {
    v.pointer(p).and_then(Value::as_i64)
}

fn string<'a>(v: &'a Value, p: &str) -> Option<&'a str> {
    v.pointer(p).and_then(Value::as_str)
}

/// The condition of `type` from `status.conditions`: (status, reason, message).
pub fn condition<'a>(v: &'a Value, ty: &str) -> Option<(&'a str, &'a str, &'a str)> {
    v.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(ty))
        .map(|c| {
            (
                c.get("status").and_then(Value::as_str).unwrap_or(""),
                c.get("reason").and_then(Value::as_str).unwrap_or(""),
                c.get("message").and_then(Value::as_str).unwrap_or(""),
            )
        })
}

fn generation_observed(v: &Value) -> Option<Readiness> {
    let gen_ = int(v, "/metadata/generation")?;
    match int(v, "/status/observedGeneration") {
        Some(o) if o >= gen_ => None,
        Some(o) => Some(Readiness::Pending(format!(
            "controller has seen generation {o} of {gen_}"
        ))),
        None => None,
    }
}

/// Decide the readiness of a live object.
pub fn readiness(v: &Value) -> Readiness {
    if v.pointer("/metadata/deletionTimestamp").is_some() {
        return Readiness::Pending("being deleted".into());
    }
    let r = object_ref(v);
    match (r.group(), r.kind.as_str()) {
        ("apps", "Deployment") => deployment(v),
        ("apps", "StatefulSet") => statefulset(v),
        ("apps", "DaemonSet") => daemonset(v),
        ("apps", "ReplicaSet") | ("", "ReplicationController") => replicaset(v),
        ("batch", "Job") => job(v),
        ("", "Pod") => pod(v),
        ("", "PersistentVolumeClaim") => match string(v, "/status/phase") {
            Some("Bound") => Readiness::Ready,
            Some("Lost") => Readiness::Failed("the claim lost its volume".into()),
            p => Readiness::Pending(format!("claim is {}", p.unwrap_or("not yet bound"))),
        },
        ("", "Service") => service(v),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            if condition(v, "NamesAccepted").is_some_and(|c| c.0 == "False") {
                let (_, reason, msg) = condition(v, "NamesAccepted").unwrap_or_default();
                return Readiness::Failed(format!("names not accepted: {reason} {msg}"));
            }
            match condition(v, "Established") {
                Some(("True", _, _)) => Readiness::Ready,
                _ => Readiness::Pending("waiting for the CRD to be Established".into()),
            }
        }
        ("apiregistration.k8s.io", "APIService") => match condition(v, "Available") {
            Some(("True", _, _)) => Readiness::Ready,
            Some((_, reason, msg)) => {
                Readiness::Pending(format!("not Available: {reason} {msg}").trim().into())
            }
            None => Readiness::Pending("waiting for Available".into()),
        },
        ("batch", "CronJob")
        | ("", "ConfigMap")
        | ("", "Secret")
        | ("", "ServiceAccount")
        | ("", "Namespace")
        | ("rbac.authorization.k8s.io", _)
        | ("networking.k8s.io", _)
        | ("policy", _)
        | ("storage.k8s.io", _)
        | ("scheduling.k8s.io", _)
        | ("coordination.k8s.io", _)
        | ("admissionregistration.k8s.io", _)
        | ("autoscaling", _)
        | ("", "LimitRange")
        | ("", "ResourceQuota")
        | ("", "PersistentVolume")
        | ("", "Endpoints") => Readiness::Ready,
        _ => kstatus(v),
    }
}

fn deployment(v: &Value) -> Readiness {
    if let Some(p) = generation_observed(v) {
        return p;
    }
    if v.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
        return Readiness::Ready;
    }
    if let Some(("False", "ProgressDeadlineExceeded", msg)) = condition(v, "Progressing") {
        return Readiness::Failed(format!("rollout exceeded its progress deadline: {msg}"));
    }
    let want = int(v, "/spec/replicas").unwrap_or(1);
    let updated = int(v, "/status/updatedReplicas").unwrap_or(0);
    let available = int(v, "/status/availableReplicas").unwrap_or(0);
    let total = int(v, "/status/replicas").unwrap_or(0);
    let unavailable = int(v, "/status/unavailableReplicas").unwrap_or(0);
    if updated < want {
        return Readiness::Pending(format!("{updated} of {want} replicas updated"));
    }
    if total > updated {
        return Readiness::Pending(format!(
            "{} old replicas pending termination",
            total - updated
        ));
    }
    // A scale-down is done when the surplus pods are gone (as kstatus, which Helm waits with).
    if total > want {
        return Readiness::Pending(format!(
            "{} surplus replicas pending termination",
            total - want
        ));
    }
    if available < want || unavailable > 0 {
        return Readiness::Pending(format!("{available} of {want} replicas available"));
    }
    Readiness::Ready
}

fn statefulset(v: &Value) -> Readiness {
    if let Some(p) = generation_observed(v) {
        return p;
    }
    if string(v, "/spec/updateStrategy/type") == Some("OnDelete") {
        return Readiness::Ready;
    }
    let want = int(v, "/spec/replicas").unwrap_or(1);
    let partition = int(v, "/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0);
    let updated = int(v, "/status/updatedReplicas").unwrap_or(0);
    let ready = int(v, "/status/readyReplicas").unwrap_or(0);
    if updated < want - partition {
        return Readiness::Pending(format!("{updated} of {want} replicas updated"));
    }
    if ready != want {
        return Readiness::Pending(format!("{ready} of {want} replicas ready"));
    }
    Readiness::Ready
}

fn daemonset(v: &Value) -> Readiness {
    if let Some(p) = generation_observed(v) {
        return p;
    }
    if string(v, "/spec/updateStrategy/type") == Some("OnDelete") {
        return Readiness::Ready;
    }
    let desired = int(v, "/status/desiredNumberScheduled").unwrap_or(0);
    let updated = int(v, "/status/updatedNumberScheduled").unwrap_or(0);
    let unavailable = int(v, "/status/numberUnavailable").unwrap_or(0);
    let ready = int(v, "/status/numberReady").unwrap_or(0);
    if v.pointer("/status/desiredNumberScheduled").is_none() {
        return Readiness::Pending("waiting for the controller to schedule pods".into());
    }
    if updated < desired {
        return Readiness::Pending(format!("{updated} of {desired} pods updated"));
    }
    if unavailable > 0 || ready < desired {
        return Readiness::Pending(format!("{ready} of {desired} pods ready"));
    }
    Readiness::Ready
}

fn replicaset(v: &Value) -> Readiness {
    if let Some(p) = generation_observed(v) {
        return p;
    }
    let want = int(v, "/spec/replicas").unwrap_or(1);
    let avail = int(v, "/status/availableReplicas").unwrap_or(0);
    if avail < want {
        return Readiness::Pending(format!("{avail} of {want} replicas available"));
    }
    Readiness::Ready
}

fn job(v: &Value) -> Readiness {
    if let Some(("True", reason, msg)) = condition(v, "Failed") {
        return Readiness::Failed(format!("job failed: {reason} {msg}").trim().to_string());
    }
    if let Some(("True", _, _)) = condition(v, "Complete") {
        return Readiness::Ready;
    }
    let want = int(v, "/spec/completions").unwrap_or(1);
    let ok = int(v, "/status/succeeded").unwrap_or(0);
    let failed = int(v, "/status/failed").unwrap_or(0);
    let limit = int(v, "/spec/backoffLimit").unwrap_or(6);
    if failed > limit {
        return Readiness::Failed(format!("job failed {failed} times (backoffLimit {limit})"));
    }
    if ok >= want && v.pointer("/status/conditions").is_none() {
        return Readiness::Ready;
    }
    Readiness::Pending(format!("{ok} of {want} completions"))
}

fn pod(v: &Value) -> Readiness {
    match string(v, "/status/phase") {
        Some("Succeeded") => return Readiness::Ready,
        Some("Failed") => {
            let reason = string(v, "/status/reason").unwrap_or("containers exited with errors");
            return Readiness::Failed(format!("pod failed: {reason}"));
        }
        _ => {}
    }
    match condition(v, "Ready") {
        Some(("True", _, _)) => Readiness::Ready,
        _ => Readiness::Pending(format!(
            "pod is {}",
            string(v, "/status/phase").unwrap_or("Pending")
        )),
    }
}

fn service(v: &Value) -> Readiness {
    let ty = string(v, "/spec/type").unwrap_or("ClusterIP");
    if ty == "ExternalName" {
        return Readiness::Ready;
    }
    if v.pointer("/spec/clusterIP").is_none() {
        return Readiness::Pending("waiting for a cluster IP".into());
    }
    if ty == "LoadBalancer" {
        let has_external = v
            .pointer("/spec/externalIPs")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        let has_ingress = v
            .pointer("/status/loadBalancer/ingress")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if !has_external && !has_ingress {
            return Readiness::Pending("waiting for a load balancer address".into());
        }
    }
    Readiness::Ready
}

/// Why an Ingress will not be served: its class (spec or legacy annotation) is not among the
/// cluster's IngressClasses, or it names none and no class is the default. `None` otherwise.
pub fn ingress_class_problem(ingress: &Value, classes: &[Value]) -> Option<String> {
    if object_ref(ingress).kind != "Ingress" {
        return None;
    }
    let names: Vec<&str> = classes
        .iter()
        .filter_map(|c| c.pointer("/metadata/name").and_then(Value::as_str))
        .collect();
    let wanted = string(ingress, "/spec/ingressClassName")
        .or_else(|| crate::object::annotation(ingress, "kubernetes.io/ingress.class"))
        .unwrap_or("");
    if wanted.is_empty() {
        let has_default = classes.iter().any(|c| {
            crate::object::annotation(c, "ingressclass.kubernetes.io/is-default-class")
                == Some("true")
        });
        return (!has_default).then(|| {
            "it names no ingress class and the cluster has no default IngressClass".to_string()
        });
    }
    (!names.contains(&wanted))
        .then(|| format!("ingress class {wanted} does not exist in the cluster"))
}

/// Whether a Pending claim waits for its first consumer: its StorageClass (named, or the
/// cluster's default when it names none) has `volumeBindingMode: WaitForFirstConsumer`. Such a
/// claim binds when a pod that mounts it is scheduled, so the pods carry the wait; a claim no
/// pod mounts yet (a CronJob's, say) would otherwise hold an install until its deadline.
pub fn claim_binds_on_first_consumer(claim: &Value, classes: &[Value]) -> bool {
    let r = object_ref(claim);
    if r.kind != "PersistentVolumeClaim" || !r.group().is_empty() {
        return false;
    }
    if string(claim, "/status/phase").is_some_and(|p| p != "Pending") {
        return false;
    }
    let named = string(claim, "/spec/storageClassName");
    classes
        .iter()
        .find(|c| match named {
            Some(n) => c.pointer("/metadata/name").and_then(Value::as_str) == Some(n),
            None => {
                crate::object::annotation(c, "storageclass.kubernetes.io/is-default-class")
                    == Some("true")
            }
        })
        .is_some_and(|c| string(c, "/volumeBindingMode") == Some("WaitForFirstConsumer"))
}

/// [`readiness`], with claims that wait for their first consumer counted as ready.
pub fn readiness_in(v: &Value, storage_classes: &[Value]) -> Readiness {
    match readiness(v) {
        Readiness::Pending(_) if claim_binds_on_first_consumer(v, storage_classes) => {
            Readiness::Ready
        }
        st => st,
    }
}

/// kstatus-style rules for custom resources and kinds without a built-in rule.
pub fn kstatus(v: &Value) -> Readiness {
    if let Some(p) = generation_observed(v) {
        return p;
    }
    if let Some(("True", reason, msg)) = condition(v, "Stalled") {
        return Readiness::Failed(format!("stalled: {reason} {msg}").trim().to_string());
    }
    if let Some(("True", reason, msg)) = condition(v, "Reconciling") {
        return Readiness::Pending(format!("reconciling: {reason} {msg}").trim().to_string());
    }
    match condition(v, "Ready") {
        Some(("False", reason, msg)) => {
            Readiness::Pending(format!("not Ready: {reason} {msg}").trim().to_string())
        }
        Some(_) | None => Readiness::Ready,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_rules() {
        let mut d = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"w","generation":2},
            "spec":{"replicas":2},"status":{"observedGeneration":1}});
        assert!(matches!(readiness(&d), Readiness::Pending(s) if s.contains("generation 1 of 2")));
        d["status"] =
            json!({"observedGeneration":2,"replicas":2,"updatedReplicas":2,"availableReplicas":1});
        assert!(
            matches!(readiness(&d), Readiness::Pending(s) if s.contains("1 of 2 replicas available"))
        );
        d["status"]["availableReplicas"] = json!(2);
        assert_eq!(readiness(&d), Readiness::Ready);
        // scaled down from 3: the third replica still counts until it is gone
        d["status"] =
            json!({"observedGeneration":2,"replicas":3,"updatedReplicas":3,"availableReplicas":3});
        assert!(
            matches!(readiness(&d), Readiness::Pending(s) if s.contains("1 surplus replicas pending termination"))
        );
        d["status"]["conditions"] = json!([{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded","message":"too slow"}]);
        assert!(matches!(readiness(&d), Readiness::Failed(s) if s.contains("too slow")));
    }

    #[test]
    fn job_pod_pvc_service_crd() {
        let j = json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"status":{"conditions":[{"type":"Failed","status":"True","reason":"BackoffLimitExceeded"}]}});
        assert!(matches!(readiness(&j), Readiness::Failed(_)));
        let j = json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"status":{"conditions":[{"type":"Complete","status":"True"}]}});
        assert!(readiness(&j).is_ready());
        let p = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"status":{"phase":"Pending"}});
        assert!(matches!(readiness(&p), Readiness::Pending(_)));
        let pvc = json!({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"d"},"status":{"phase":"Bound"}});
        assert!(readiness(&pvc).is_ready());
        let svc = json!({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"type":"LoadBalancer","clusterIP":"10.0.0.1"}});
        assert!(matches!(readiness(&svc), Readiness::Pending(s) if s.contains("load balancer")));
        let crd = json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"a.b"},"status":{"conditions":[{"type":"Established","status":"True"}]}});
        assert!(readiness(&crd).is_ready());
    }

    #[test]
    fn ingress_classes() {
        let ing = json!({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"i"},"spec":{"ingressClassName":"nginx"}});
        let traefik = json!({"metadata":{"name":"traefik","annotations":{"ingressclass.kubernetes.io/is-default-class":"true"}}});
        assert!(
            ingress_class_problem(&ing, std::slice::from_ref(&traefik))
                .is_some_and(|p| p.contains("nginx"))
        );
        assert_eq!(
            ingress_class_problem(&ing, &[json!({"metadata":{"name":"nginx"}})]),
            None
        );
        let no_class = json!({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"i"},"spec":{}});
        assert_eq!(ingress_class_problem(&no_class, &[traefik]), None);
        assert!(ingress_class_problem(&no_class, &[]).is_some());
    }

    #[test]
    fn custom_resources_use_kstatus() {
        let mut cr = json!({"apiVersion":"x.io/v1","kind":"Widget","metadata":{"name":"w","generation":3},"status":{"observedGeneration":3}});
        assert!(readiness(&cr).is_ready());
        cr["status"]["conditions"] = json!([{"type":"Ready","status":"False","reason":"Waiting"}]);
        assert!(matches!(readiness(&cr), Readiness::Pending(s) if s.contains("Waiting")));
        cr["status"]["conditions"] = json!([{"type":"Stalled","status":"True","reason":"BadSpec"}]);
        assert!(matches!(readiness(&cr), Readiness::Failed(s) if s.contains("BadSpec")));
        let no_status =
            json!({"apiVersion":"x.io/v1","kind":"Widget","metadata":{"name":"w","generation":1}});
        assert!(readiness(&no_status).is_ready());
    }

    #[test]
    fn a_pending_claim_counts_as_ready_only_when_its_class_waits_for_a_consumer() {
        let wffc = json!({"apiVersion":"storage.k8s.io/v1","kind":"StorageClass",
            "metadata":{"name":"local-path","annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},
            "volumeBindingMode":"WaitForFirstConsumer"});
        let now = json!({"apiVersion":"storage.k8s.io/v1","kind":"StorageClass",
            "metadata":{"name":"nfs"},"volumeBindingMode":"Immediate"});
        let classes = [wffc, now];
        let claim = |class: Option<&str>, phase: &str| {
            let mut c = json!({"apiVersion":"v1","kind":"PersistentVolumeClaim",
                "metadata":{"name":"d"},"spec":{},"status":{"phase":phase}});
            if let Some(n) = class {
                c["spec"]["storageClassName"] = json!(n);
            }
            c
        };
        let waits = claim(Some("local-path"), "Pending");
        assert!(claim_binds_on_first_consumer(&waits, &classes));
        assert_eq!(readiness_in(&waits, &classes), Readiness::Ready);
        // the default class is the one a claim without a class gets
        assert!(claim_binds_on_first_consumer(
            &claim(None, "Pending"),
            &classes
        ));
        let immediate = claim(Some("nfs"), "Pending");
        assert!(!claim_binds_on_first_consumer(&immediate, &classes));
        assert!(matches!(
            readiness_in(&immediate, &classes),
            Readiness::Pending(_)
        ));
        let lost = claim(Some("local-path"), "Lost");
        assert!(matches!(
            readiness_in(&lost, &classes),
            Readiness::Failed(_)
        ));
        // a class the cluster does not have
        assert!(!claim_binds_on_first_consumer(
            &claim(Some("gone"), "Pending"),
            &classes
        ));
        assert!(!claim_binds_on_first_consumer(&waits, &[]));
    }
}
