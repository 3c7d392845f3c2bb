//! Pod admission that differs between distributions: Pod Security admission (the
//! `pod-security.kubernetes.io/enforce` namespace label, or the profile's cluster-wide default
//! level, as an AdmissionConfiguration sets it) and OpenShift's SecurityContextConstraints
//! (`restricted-v2`: no fixed UID or fsGroup outside the namespace's range, no root, no
//! privilege). Refusals carry the API server's wording, so a controller's `FailedCreate`
//! event reads as on a real cluster.

use crate::status::ApiError;
use crate::store::Store;
use serde_json::{Value, json};

/// Namespaces Pod Security admission leaves alone (as the usual exemptions do).
const EXEMPT: &[&str] = &["kube-system", "kube-public", "kube-node-lease"];

/// The enforced level for `ns`: its label, else the profile's default.
fn enforce_level(store: &Store, ns: &str) -> String {
    let label = store.get_core("namespaces", "", ns).and_then(|n| {
        n["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
            .as_str()
            .map(String::from)
    });
    label.unwrap_or_else(|| store.profile.pod_security.enforce.clone())
}

/// Every container (init containers first) with its name.
fn containers(pod: &Value) -> Vec<&Value> {
    ["initContainers", "containers"]
        .iter()
        .filter_map(|k| pod["spec"][k].as_array())
        .flatten()
        .collect()
}

fn name(c: &Value) -> &str {
    c["name"].as_str().unwrap_or("")
}

/// `container "a"` or `containers "a", "b"`.
fn who(names: &[&str], prefix: &str) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    if names.len() == 1 {
        format!("{prefix}container {}", quoted[0])
    } else {
        format!("{prefix}containers {}", quoted.join(", "))
    }
}

/// The Pod Security Standards checks of `level` that `pod` fails, worded as the admission
/// plugin words them (`allowPrivilegeEscalation != false (container "web" must set …)`).
pub fn violations(pod: &Value, level: &str) -> Vec<String> {
    let mut out = Vec::new();
    if level != "baseline" && level != "restricted" {
        return out;
    }
    let spec = &pod["spec"];
    let cs = containers(pod);
    // baseline
    let host: Vec<&str> = ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|k| spec[*k] == true)
        .collect();
    if !host.is_empty() {
        out.push(format!(
            "host namespaces ({})",
            host.iter()
                .map(|k| format!("{k}=true"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let privileged: Vec<&str> = cs
        .iter()
        .filter(|c| c["securityContext"]["privileged"] == true)
        .map(|c| name(c))
        .collect();
    if !privileged.is_empty() {
        out.push(format!(
            "privileged ({} must not set securityContext.privileged=true)",
            who(&privileged, "")
        ));
    }
    let host_path: Vec<String> = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v.get("hostPath").is_some())
        .map(|v| format!("{:?}", v["name"].as_str().unwrap_or("")))
        .collect();
    if !host_path.is_empty() {
        out.push(format!(
            "hostPath volumes ({} {})",
            if host_path.len() == 1 {
                "volume"
            } else {
                "volumes"
            },
            host_path.join(", ")
        ));
    }
    if level != "restricted" {
        return out;
    }
    let pod_sc = &spec["securityContext"];
    let escalation: Vec<&str> = cs
        .iter()
        .filter(|c| c["securityContext"]["allowPrivilegeEscalation"] != false)
        .map(|c| name(c))
        .collect();
    if !escalation.is_empty() {
        out.push(format!(
            "allowPrivilegeEscalation != false ({} must set securityContext.allowPrivilegeEscalation=false)",
            who(&escalation, "")
        ));
    }
    let caps: Vec<&str> = cs
        .iter()
        .filter(|c| {
            !c["securityContext"]["capabilities"]["drop"]
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x == "ALL"))
        })
        .map(|c| name(c))
        .collect();
    if !caps.is_empty() {
        out.push(format!(
            "unrestricted capabilities ({} must set securityContext.capabilities.drop=[\"ALL\"])",
            who(&caps, "")
        ));
    }
    let non_root: Vec<&str> = cs
        .iter()
        .filter(|c| {
            let own = &c["securityContext"]["runAsNonRoot"];
            own == &Value::Bool(false) || (own.is_null() && pod_sc["runAsNonRoot"] != true)
        })
        .map(|c| name(c))
        .collect();
    if !non_root.is_empty() {
        out.push(format!(
            "runAsNonRoot != true ({} must set securityContext.runAsNonRoot=true)",
            who(&non_root, "pod or ")
        ));
    }
    let root: Vec<&str> = cs
        .iter()
        .filter(|c| c["securityContext"]["runAsUser"] == 0)
        .map(|c| name(c))
        .collect();
    if !root.is_empty() || pod_sc["runAsUser"] == 0 {
        out.push(format!(
            "runAsUser=0 ({} must not set runAsUser=0)",
            if root.is_empty() {
                "pod".to_string()
            } else {
                who(&root, "")
            }
        ));
    }
    let seccomp_ok = |v: &Value| {
        matches!(
            v["seccompProfile"]["type"].as_str(),
            Some("RuntimeDefault" | "Localhost")
        )
    };
    let seccomp: Vec<&str> = cs
        .iter()
        .filter(|c| {
            let own = &c["securityContext"];
            !(seccomp_ok(own) || (own["seccompProfile"].is_null() && seccomp_ok(pod_sc)))
        })
        .map(|c| name(c))
        .collect();
    if !seccomp.is_empty() {
        out.push(format!(
            "seccompProfile ({} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")",
            who(&seccomp, "pod or ")
        ));
    }
    out
}

/// Pod Security admission: `Some(403)` when the namespace's enforced level refuses the pod.
pub fn pod_security_error(store: &Store, ns: &str, pod: &Value, shown: &str) -> Option<ApiError> {
    if EXEMPT.contains(&ns) {
        return None;
    }
    let level = enforce_level(store, ns);
    let v = violations(pod, &level);
    if v.is_empty() {
        return None;
    }
    Some(
        ApiError::new(
            403,
            "Forbidden",
            format!(
                "pods \"{shown}\" is forbidden: violates PodSecurity \"{level}:latest\": {}",
                v.join(", ")
            ),
        )
        .with_details(json!({"name": shown, "kind": "pods"})),
    )
}

/// The namespace's UID range (`openshift.io/sa.scc.uid-range`, else one derived from its name
/// as OpenShift hands out blocks of 10000).
fn uid_range(store: &Store, ns: &str) -> (i64, i64) {
    let annotated = store.get_core("namespaces", "", ns).and_then(|n| {
        let r = n["metadata"]["annotations"]["openshift.io/sa.scc.uid-range"].as_str()?;
        let (start, size) = r.split_once('/')?;
        Some((start.trim().parse().ok()?, size.trim().parse().ok()?))
    });
    let (start, size): (i64, i64) = annotated.unwrap_or_else(|| {
        let h = ns
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        (1_000_000_000 + (h % 1000) as i64 * 10_000, 10_000)
    });
    (start, start + size - 1)
}

/// OpenShift's SCC admission (a pod's ServiceAccount may use only `restricted-v2`):
/// `Some(403)` with the provider list when the pod pins a UID or fsGroup outside the
/// namespace's range, runs as root, is privileged or escalates privileges.
pub fn scc_error(store: &Store, ns: &str, pod: &Value, shown: &str) -> Option<ApiError> {
    if !store.profile.security_context_constraints
        || EXEMPT.contains(&ns)
        || ns.starts_with("openshift")
    {
        return None;
    }
    let (lo, hi) = uid_range(store, ns);
    let mut problems = Vec::new();
    let spec = &pod["spec"];
    if let Some(g) = spec["securityContext"]["fsGroup"].as_i64()
        && !(lo..=hi).contains(&g)
    {
        problems.push(format!(
            "provider restricted-v2: .spec.securityContext.fsGroup: Invalid value: []int64{{{g}}}: {g} is not an allowed group"
        ));
    }
    if let Some(u) = spec["securityContext"]["runAsUser"].as_i64()
        && !(lo..=hi).contains(&u)
    {
        problems.push(format!(
            "provider restricted-v2: .spec.securityContext.runAsUser: Invalid value: {u}: must be in the ranges: [{lo}, {hi}]"
        ));
    }
    for (kind, list) in [
        ("initContainers", "initContainers"),
        ("containers", "containers"),
    ] {
        for (i, c) in spec[list].as_array().into_iter().flatten().enumerate() {
            let sc = &c["securityContext"];
            if let Some(u) = sc["runAsUser"].as_i64()
                && !(lo..=hi).contains(&u)
            {
                problems.push(format!(
                    "provider restricted-v2: .{kind}[{i}].runAsUser: Invalid value: {u}: must be in the ranges: [{lo}, {hi}]"
                ));
            }
            if sc["privileged"] == true {
                problems.push(format!(
                    "provider restricted-v2: .{kind}[{i}].privileged: Invalid value: true: Privileged containers are not allowed"
                ));
            }
            if sc["allowPrivilegeEscalation"] == true {
                problems.push(format!(
                    "provider restricted-v2: .{kind}[{i}].allowPrivilegeEscalation: Invalid value: true: Allowing privilege escalation for containers is not allowed"
                ));
            }
        }
    }
    if spec["hostNetwork"] == true {
        problems.push(
            "provider restricted-v2: .spec.securityContext.hostNetwork: Invalid value: true: Host network is not allowed to be used".into(),
        );
    }
    if problems.is_empty() {
        return None;
    }
    let unusable =
        |p: &str| format!("provider \"{p}\": Forbidden: not usable by user or serviceaccount");
    let mut all = vec![unusable("anyuid")];
    all.extend(problems);
    for p in [
        "restricted",
        "nonroot-v2",
        "nonroot",
        "hostmount-anyuid",
        "hostnetwork-v2",
        "hostnetwork",
        "hostaccess",
        "privileged",
    ] {
        all.push(unusable(p));
    }
    Some(
        ApiError::new(
            403,
            "Forbidden",
            format!(
                "pods \"{shown}\" is forbidden: unable to validate against any security context constraint: [{}]",
                all.join(", ")
            ),
        )
        .with_details(json!({"name": shown, "kind": "pods"})),
    )
}

/// Both checks, Pod Security first (as the admission chain runs them).
pub fn admission_error(store: &Store, ns: &str, pod: &Value, shown: &str) -> Option<ApiError> {
    pod_security_error(store, ns, pod, shown).or_else(|| scc_error(store, ns, pod, shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(sc: Value, csc: Value) -> Value {
        json!({"spec": {"securityContext": sc, "containers": [{"name": "web", "image": "x", "securityContext": csc}]}})
    }

    #[test]
    fn restricted_names_each_missing_field_as_the_admission_plugin_does() {
        let v = violations(&pod(json!({}), json!({})), "restricted");
        assert_eq!(
            v,
            [
                "allowPrivilegeEscalation != false (container \"web\" must set securityContext.allowPrivilegeEscalation=false)",
                "unrestricted capabilities (container \"web\" must set securityContext.capabilities.drop=[\"ALL\"])",
                "runAsNonRoot != true (pod or container \"web\" must set securityContext.runAsNonRoot=true)",
                "seccompProfile (pod or container \"web\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")",
            ]
        );
        let hardened = pod(
            json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}}),
            json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}),
        );
        assert!(violations(&hardened, "restricted").is_empty());
        // baseline allows what restricted refuses, but not privileged containers.
        assert!(violations(&pod(json!({}), json!({})), "baseline").is_empty());
        let v = violations(&pod(json!({}), json!({"privileged": true})), "baseline");
        assert_eq!(
            v,
            ["privileged (container \"web\" must not set securityContext.privileged=true)"]
        );
        assert!(violations(&pod(json!({}), json!({"privileged": true})), "privileged").is_empty());
    }
}
