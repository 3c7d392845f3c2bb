//! Rendered Kubernetes objects, their identity, and the labels berth puts on every object it owns.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// Label on every object berth applies: the app name. Prune only ever touches objects with it.
pub const LABEL_APP: &str = "berth.dev/app";
/// Label marking berth's own bookkeeping objects (revision Secrets, the lock Lease).
pub const LABEL_KIND: &str = "berth.dev/kind";
/// Annotation naming the file an object was rendered from (shown in errors).
pub const ANNOTATION_SOURCE: &str = "berth.dev/source";
/// Annotation that keeps an object on prune and uninstall (`"true"`).
pub const ANNOTATION_KEEP: &str = "berth.dev/keep";
/// The server-side apply field manager berth uses.
pub const FIELD_MANAGER: &str = "berth";

/// The identity of an object: which kind, where, what name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    /// `apiVersion`, e.g. `apps/v1` or `v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `kind`, e.g. `Deployment`.
    pub kind: String,
    /// Namespace; empty for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

impl ObjectRef {
    /// The API group (`""` for the core group).
    pub fn group(&self) -> &str {
        match self.api_version.split_once('/') {
            Some((g, _)) => g,
            None => "",
        }
    }

    /// The API version without the group.
    pub fn version(&self) -> &str {
        match self.api_version.split_once('/') {
            Some((_, v)) => v,
            None => &self.api_version,
        }
    }

    /// Identity that ignores the API version, so `apps/v1` and `apps/v1beta2` of the same object match.
    pub fn key(&self) -> (String, String, String, String) {
        (
            self.group().to_string(),
            self.kind.clone(),
            self.namespace.clone(),
            self.name.clone(),
        )
    }
}

impl fmt::Display for ObjectRef {
    /// kubectl style: `deployment/web in namespace shop`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.to_lowercase(), self.name)?;
        if !self.namespace.is_empty() {
            write!(f, " in namespace {}", self.namespace)?;
        }
        Ok(())
    }
}

/// One rendered object plus the file it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The object as JSON.
    pub object: Value,
    /// The source file (relative to the app directory), e.g. `manifests/web.yaml#2`.
    pub source: String,
}

impl Manifest {
    /// Build a manifest; the object must be a JSON map.
    pub fn new(object: Value, source: impl Into<String>) -> Self {
        Manifest {
            object,
            source: source.into(),
        }
    }

    /// The object's identity (fields absent become empty strings; [`validate`](Self::validate) rejects those).
    pub fn reference(&self) -> ObjectRef {
        object_ref(&self.object)
    }

    /// Check the fields every object needs, naming the source file on failure.
    pub fn validate(&self) -> Result<(), String> {
        let r = self.reference();
        let mut missing = Vec::new();
        if r.api_version.is_empty() {
            missing.push("apiVersion");
        }
        if r.kind.is_empty() {
            missing.push("kind");
        }
        if r.name.is_empty() {
            missing.push("metadata.name");
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{}: object is missing {}",
                self.source,
                missing.join(", ")
            ))
        }
    }

    /// Annotations as a map (empty if none).
    pub fn annotation(&self, key: &str) -> Option<&str> {
        annotation(&self.object, key)
    }
}

/// The identity of a JSON object.
pub fn object_ref(v: &Value) -> ObjectRef {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    ObjectRef {
        api_version: s("/apiVersion"),
        kind: s("/kind"),
        namespace: s("/metadata/namespace"),
        name: s("/metadata/name"),
    }
}

/// One annotation of a JSON object.
pub fn annotation<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

/// One label of a JSON object.
pub fn label<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get("metadata")?.get("labels")?.get(key)?.as_str()
}

/// Set a label on a JSON object, creating `metadata.labels` as needed.
pub fn set_label(v: &mut Value, key: &str, value: &str) {
    set_meta_map(v, "labels", key, value);
}

/// Set an annotation on a JSON object, creating `metadata.annotations` as needed.
pub fn set_annotation(v: &mut Value, key: &str, value: &str) {
    set_meta_map(v, "annotations", key, value);
}

fn set_meta_map(v: &mut Value, map: &str, key: &str, value: &str) {
    let Some(obj) = v.as_object_mut() else {
        return;
    };
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()));
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    let m = meta
        .entry(map)
        .or_insert_with(|| Value::Object(Default::default()));
    if !m.is_object() {
        *m = Value::Object(Default::default());
    }
    if let Some(m) = m.as_object_mut() {
        m.insert(key.to_string(), Value::String(value.to_string()));
    }
}

/// Kinds that are cluster-scoped in every Kubernetes version berth supports.
/// Used before discovery can answer (dry runs, ordering); discovery wins when available.
pub fn is_known_cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "CustomResourceDefinition"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "PersistentVolume"
            | "StorageClass"
            | "PriorityClass"
            | "IngressClass"
            | "APIService"
            | "MutatingWebhookConfiguration"
            | "ValidatingWebhookConfiguration"
            | "ValidatingAdmissionPolicy"
            | "ValidatingAdmissionPolicyBinding"
            | "RuntimeClass"
            | "CSIDriver"
            | "VolumeSnapshotClass"
            | "Node"
    )
}

/// Whether an object should survive prune and uninstall: PVCs and CRDs are kept by default
/// (data and other apps' custom resources), and anything annotated `berth.dev/keep: "true"`.
/// A PVC or CRD annotated `berth.dev/keep: "false"` may be deleted.
pub fn is_kept(v: &Value) -> bool {
    let r = object_ref(v);
    match annotation(v, ANNOTATION_KEEP) {
        Some("true") => true,
        Some("false") => false,
        _ => matches!(
            r.kind.as_str(),
            "PersistentVolumeClaim" | "CustomResourceDefinition"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn display_names_kind_name_and_namespace() {
        let m = Manifest::new(
            json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop"}}),
            "a.yaml",
        );
        assert_eq!(
            m.reference().to_string(),
            "deployment/web in namespace shop"
        );
        assert_eq!(m.reference().group(), "apps");
        assert_eq!(m.reference().version(), "v1");
    }

    #[test]
    fn validate_lists_every_missing_field() {
        let m = Manifest::new(json!({"metadata":{}}), "x.yaml#1");
        let e = m.validate().unwrap_err();
        assert!(e.contains("apiVersion, kind, metadata.name"), "{e}");
        assert!(e.starts_with("x.yaml#1"));
    }

    #[test]
    fn keep_rules() {
        let pvc = json!({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"d"}});
        assert!(is_kept(&pvc));
        let mut pvc2 = pvc.clone();
        set_annotation(&mut pvc2, ANNOTATION_KEEP, "false");
        assert!(!is_kept(&pvc2));
        let mut cm = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}});
        assert!(!is_kept(&cm));
        set_annotation(&mut cm, ANNOTATION_KEEP, "true");
        assert!(is_kept(&cm));
    }
}
