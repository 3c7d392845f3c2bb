//! Kubernetes API versions that are deprecated or no longer served, per release, with their
//! replacement: the table of the Kubernetes "Deprecated API Migration Guide"
//! (kubernetes.io/docs/reference/using-api/deprecation-guide/). Pure data and lookups; lint,
//! preflight and the matrix's diagnoses read it.

/// One API version of some kinds that Kubernetes deprecated and then stopped serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRemoval {
    /// `group/version` (or `version` for the core group) as written in `apiVersion`.
    pub api_version: &'static str,
    /// Kinds of that version concerned.
    pub kinds: &'static [&'static str],
    /// Minor release that deprecated it (1.`deprecated_in`).
    pub deprecated_in: u32,
    /// Minor release that no longer serves it (1.`removed_in`).
    pub removed_in: u32,
    /// `apiVersion` to use instead (empty: no replacement, the kind itself is gone).
    pub replacement: &'static str,
    /// Minor release since which the replacement is served.
    pub replacement_since: u32,
    /// Notable changes when migrating, from the guide.
    pub note: &'static str,
}

const FLOW: &[&str] = &["FlowSchema", "PriorityLevelConfiguration"];
const RBAC: &[&str] = &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"];
const APPS: &[&str] = &["DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"];

const fn r(
    api_version: &'static str,
    kinds: &'static [&'static str],
    deprecated_in: u32,
    removed_in: u32,
    replacement: &'static str,
    replacement_since: u32,
    note: &'static str,
) -> ApiRemoval {
    ApiRemoval {
        api_version,
        kinds,
        deprecated_in,
        removed_in,
        replacement,
        replacement_since,
        note,
    }
}

/// The guide's "Removed APIs by release" table, newest first.
pub const REMOVALS: &[ApiRemoval] = &[
    // v1.32
    r(
        "flowcontrol.apiserver.k8s.io/v1beta3",
        FLOW,
        29,
        32,
        "flowcontrol.apiserver.k8s.io/v1",
        29,
        "PriorityLevelConfiguration spec.limited.nominalConcurrencyShares defaults to 30 when unspecified, and an explicit 0 is not changed to 30",
    ),
    // v1.29
    r(
        "flowcontrol.apiserver.k8s.io/v1beta2",
        FLOW,
        26,
        29,
        "flowcontrol.apiserver.k8s.io/v1",
        29,
        "PriorityLevelConfiguration spec.limited.assuredConcurrencyShares is renamed to spec.limited.nominalConcurrencyShares",
    ),
    // v1.27
    r(
        "storage.k8s.io/v1beta1",
        &["CSIStorageCapacity"],
        24,
        27,
        "storage.k8s.io/v1",
        24,
        "",
    ),
    // v1.26
    r(
        "flowcontrol.apiserver.k8s.io/v1beta1",
        FLOW,
        23,
        26,
        "flowcontrol.apiserver.k8s.io/v1beta3",
        26,
        "",
    ),
    r(
        "autoscaling/v2beta2",
        &["HorizontalPodAutoscaler"],
        23,
        26,
        "autoscaling/v2",
        23,
        "targetAverageUtilization is replaced with target.averageUtilization and target.type: Utilization",
    ),
    // v1.25
    r("batch/v1beta1", &["CronJob"], 21, 25, "batch/v1", 21, ""),
    r(
        "discovery.k8s.io/v1beta1",
        &["EndpointSlice"],
        21,
        25,
        "discovery.k8s.io/v1",
        21,
        "use the per-endpoint nodeName and zone fields instead of topology",
    ),
    r(
        "events.k8s.io/v1beta1",
        &["Event"],
        22,
        25,
        "events.k8s.io/v1",
        19,
        "type is limited to Normal and Warning; involvedObject is renamed to regarding",
    ),
    r(
        "autoscaling/v2beta1",
        &["HorizontalPodAutoscaler"],
        22,
        25,
        "autoscaling/v2",
        23,
        "targetAverageUtilization is replaced with target.averageUtilization and target.type: Utilization",
    ),
    r(
        "policy/v1beta1",
        &["PodDisruptionBudget"],
        21,
        25,
        "policy/v1",
        21,
        "an empty spec.selector ({}) in policy/v1 selects all pods in the namespace",
    ),
    r(
        "policy/v1beta1",
        &["PodSecurityPolicy"],
        21,
        25,
        "",
        0,
        "PodSecurityPolicy is gone: use Pod Security Admission (namespace labels pod-security.kubernetes.io/enforce) or a third-party admission webhook",
    ),
    r(
        "node.k8s.io/v1beta1",
        &["RuntimeClass"],
        22,
        25,
        "node.k8s.io/v1",
        20,
        "",
    ),
    // v1.22
    r(
        "admissionregistration.k8s.io/v1beta1",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
        ],
        16,
        22,
        "admissionregistration.k8s.io/v1",
        16,
        "webhooks[*].admissionReviewVersions and sideEffects are required",
    ),
    r(
        "apiextensions.k8s.io/v1beta1",
        &["CustomResourceDefinition"],
        16,
        22,
        "apiextensions.k8s.io/v1",
        16,
        "spec.versions[*].schema.openAPIV3Schema is required; spec.preserveUnknownFields: true is not allowed",
    ),
    r(
        "apiregistration.k8s.io/v1beta1",
        &["APIService"],
        19,
        22,
        "apiregistration.k8s.io/v1",
        10,
        "",
    ),
    r(
        "authentication.k8s.io/v1beta1",
        &["TokenReview"],
        19,
        22,
        "authentication.k8s.io/v1",
        6,
        "",
    ),
    r(
        "authorization.k8s.io/v1beta1",
        &[
            "LocalSubjectAccessReview",
            "SelfSubjectAccessReview",
            "SubjectAccessReview",
            "SelfSubjectRulesReview",
        ],
        19,
        22,
        "authorization.k8s.io/v1",
        6,
        "spec.group is renamed to spec.groups",
    ),
    r(
        "certificates.k8s.io/v1beta1",
        &["CertificateSigningRequest"],
        19,
        22,
        "certificates.k8s.io/v1",
        19,
        "spec.signerName is required",
    ),
    r(
        "coordination.k8s.io/v1beta1",
        &["Lease"],
        19,
        22,
        "coordination.k8s.io/v1",
        14,
        "",
    ),
    r(
        "extensions/v1beta1",
        &["Ingress"],
        14,
        22,
        "networking.k8s.io/v1",
        19,
        "spec.backend is renamed to spec.defaultBackend; serviceName/servicePort become service.name and service.port.number|name; pathType is required",
    ),
    r(
        "networking.k8s.io/v1beta1",
        &["Ingress"],
        19,
        22,
        "networking.k8s.io/v1",
        19,
        "spec.backend is renamed to spec.defaultBackend; serviceName/servicePort become service.name and service.port.number|name; pathType is required",
    ),
    r(
        "networking.k8s.io/v1beta1",
        &["IngressClass"],
        19,
        22,
        "networking.k8s.io/v1",
        19,
        "",
    ),
    r(
        "rbac.authorization.k8s.io/v1beta1",
        RBAC,
        17,
        22,
        "rbac.authorization.k8s.io/v1",
        8,
        "",
    ),
    r(
        "scheduling.k8s.io/v1beta1",
        &["PriorityClass"],
        14,
        22,
        "scheduling.k8s.io/v1",
        14,
        "",
    ),
    r(
        "storage.k8s.io/v1beta1",
        &["CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"],
        19,
        22,
        "storage.k8s.io/v1",
        19,
        "",
    ),
    // v1.16
    r(
        "extensions/v1beta1",
        &["NetworkPolicy"],
        9,
        16,
        "networking.k8s.io/v1",
        8,
        "",
    ),
    r(
        "extensions/v1beta1",
        &["PodSecurityPolicy"],
        11,
        16,
        "policy/v1beta1",
        10,
        "",
    ),
    r(
        "extensions/v1beta1",
        APPS,
        9,
        16,
        "apps/v1",
        9,
        "spec.selector is required and immutable after creation",
    ),
    r(
        "apps/v1beta1",
        APPS,
        9,
        16,
        "apps/v1",
        9,
        "spec.selector is required and immutable after creation",
    ),
    r(
        "apps/v1beta2",
        APPS,
        9,
        16,
        "apps/v1",
        9,
        "spec.selector is required and immutable after creation",
    ),
];

/// Where an object's API version stands at some Kubernetes release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiState {
    /// Served but deprecated: still works, removed in 1.`removed_in`.
    Deprecated,
    /// No longer served: creating the object fails.
    Removed,
}

/// The table's entry for `api_version`/`kind`, if any.
pub fn lookup(api_version: &str, kind: &str) -> Option<&'static ApiRemoval> {
    REMOVALS
        .iter()
        .find(|r| r.api_version == api_version && r.kinds.contains(&kind))
}

/// Whether `api_version`/`kind` is deprecated or removed at Kubernetes 1.`minor`.
pub fn check(api_version: &str, kind: &str, minor: u32) -> Option<(ApiState, &'static ApiRemoval)> {
    let r = lookup(api_version, kind)?;
    if minor >= r.removed_in {
        Some((ApiState::Removed, r))
    } else if minor >= r.deprecated_in {
        Some((ApiState::Deprecated, r))
    } else {
        None
    }
}

impl ApiRemoval {
    /// What to write instead, in words.
    pub fn advice(&self, kind: &str) -> String {
        let mut s = if self.replacement.is_empty() {
            format!("{kind} has no replacement API")
        } else {
            format!(
                "use apiVersion: {} (served since Kubernetes 1.{})",
                self.replacement, self.replacement_since
            )
        };
        if !self.note.is_empty() {
            s.push_str("; ");
            s.push_str(self.note);
        }
        s
    }

    /// One sentence: `batch/v1beta1 CronJob is removed in Kubernetes 1.25 (deprecated since
    /// 1.21): use apiVersion: batch/v1 …`.
    pub fn describe(&self, kind: &str, state: ApiState) -> String {
        match state {
            ApiState::Removed => format!(
                "{} {kind} is no longer served since Kubernetes 1.{} (deprecated in 1.{}): {}",
                self.api_version,
                self.removed_in,
                self.deprecated_in,
                self.advice(kind)
            ),
            ApiState::Deprecated => format!(
                "{} {kind} is deprecated since Kubernetes 1.{} and no longer served from 1.{}: {}",
                self.api_version,
                self.deprecated_in,
                self.removed_in,
                self.advice(kind)
            ),
        }
    }
}

/// Parse the minor of `1.32`, `v1.32.3`, `1.32.3+k3s1`.
pub fn minor_of(version: &str) -> Option<u32> {
    let v = version.trim().trim_start_matches('v');
    let rest = v.strip_prefix("1.")?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|m| m.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_follow_the_guide() {
        // flowcontrol v1beta3: deprecated in 1.29, gone in 1.32.
        assert_eq!(
            check("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", 28),
            None
        );
        assert_eq!(
            check("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", 31).map(|c| c.0),
            Some(ApiState::Deprecated)
        );
        assert_eq!(
            check("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", 32).map(|c| c.0),
            Some(ApiState::Removed)
        );
        let (_, r) = check("policy/v1beta1", "PodDisruptionBudget", 25).expect("removed");
        assert_eq!(r.replacement, "policy/v1");
        let (_, psp) = check("policy/v1beta1", "PodSecurityPolicy", 30).expect("removed");
        assert!(
            psp.advice("PodSecurityPolicy")
                .contains("Pod Security Admission")
        );
        assert_eq!(check("apps/v1", "Deployment", 35), None);
        // The kind matters: batch/v1beta1 only concerned CronJob.
        assert_eq!(check("batch/v1beta1", "Job", 30), None);
    }

    #[test]
    fn every_entry_is_coherent() {
        for r in REMOVALS {
            assert!(r.deprecated_in < r.removed_in, "{r:?}");
            assert!(
                r.replacement.is_empty() || r.replacement_since <= r.removed_in,
                "{r:?}"
            );
            assert!(!r.kinds.is_empty() && r.api_version.contains('/'), "{r:?}");
        }
        assert_eq!(minor_of("v1.32.3+k3s1"), Some(32));
        assert_eq!(minor_of("1.28"), Some(28));
        assert_eq!(minor_of("2.0"), None);
    }
}
