//! Validation with the API server's wording: names (RFC 1123), labels, workload selectors
//! and templates, Job restart policies, CRD schemas, and immutable fields on update.

use crate::catalog::ResourceType;
use crate::selector::LabelSelector;
use crate::status::ApiError;
use serde_json::Value;

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn is_label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric())
}

type Cause = (String, &'static str, String);

fn invalid(field: &str, value: &str, msg: &str) -> Cause {
    (
        field.to_string(),
        "FieldValueInvalid",
        format!("Invalid value: \"{value}\": {msg}"),
    )
}

fn required(field: &str, msg: &str) -> Cause {
    let m = if msg.is_empty() {
        "Required value".to_string()
    } else {
        format!("Required value: {msg}")
    };
    (field.to_string(), "FieldValueRequired", m)
}

fn go_map(v: &Value) -> String {
    let parts: Vec<String> = v
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k:?}:{}", v)).collect())
        .unwrap_or_default();
    format!("map[string]string{{{}}}", parts.join(", "))
}

fn containers(spec: &Value, base: &str, causes: &mut Vec<Cause>) {
    match spec["containers"].as_array() {
        Some(cs) if !cs.is_empty() => {
            for (i, c) in cs.iter().enumerate() {
                let name = c["name"].as_str().unwrap_or_default();
                if name.is_empty() {
                    causes.push(required(&format!("{base}.containers[{i}].name"), ""));
                } else if !is_dns_label(name) {
                    causes.push(invalid(
                        &format!("{base}.containers[{i}].name"),
                        name,
                        LABEL_MSG,
                    ));
                }
                if c["image"].as_str().is_none_or(|s| s.trim().is_empty()) {
                    causes.push(required(&format!("{base}.containers[{i}].image"), ""));
                }
            }
        }
        _ => causes.push(required(&format!("{base}.containers"), "")),
    }
}

/// Validate an object about to be stored.
pub fn object(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let mut causes: Vec<Cause> = Vec::new();
    let label_kind = matches!(rt.kind.as_str(), "Namespace" | "Service") && rt.group.is_empty();
    let name_ok = match rt.kind.as_str() {
        _ if label_kind => is_dns_label(name),
        // RBAC and a few others accept any path-segment name.
        "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" | "Event" => {
            !name.is_empty()
                && !name.contains('/')
                && !name.contains('%')
                && name != "."
                && name != ".."
        }
        _ => is_dns_subdomain(name),
    };
    if !name_ok {
        causes.push(invalid(
            "metadata.name",
            name,
            if label_kind { LABEL_MSG } else { SUBDOMAIN_MSG },
        ));
    }
    if let Some(labels) = obj["metadata"]["labels"].as_object() {
        for (k, v) in labels {
            let val = v.as_str().unwrap_or_default();
            if !v.is_string() || !is_label_value(val) {
                causes.push(invalid("metadata.labels", val, LABEL_VALUE_MSG));
            }
            let key_name = k.rsplit('/').next().unwrap_or_default();
            if key_name.is_empty() || !is_label_value(key_name) {
                causes.push(invalid(
                    "metadata.labels",
                    k,
                    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                ));
            }
        }
    }
    if rt.crd.is_none() {
        match (rt.group.as_str(), rt.kind.as_str()) {
            ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
                let sel = &obj["spec"]["selector"];
                if !sel.is_object() {
                    causes.push(required("spec.selector", ""));
                } else {
                    let s = LabelSelector::from_object(sel);
                    let tl = &obj["spec"]["template"]["metadata"]["labels"];
                    if s.is_empty() {
                        causes.push((
                            "spec.selector".into(),
                            "FieldValueInvalid",
                            "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment".into(),
                        ));
                    } else if !s.matches_labels(tl) {
                        causes.push((
                            "spec.template.metadata.labels".into(),
                            "FieldValueInvalid",
                            format!(
                                "Invalid value: {}: `selector` does not match template `labels`",
                                go_map(tl)
                            ),
                        ));
                    }
                }
                containers(
                    &obj["spec"]["template"]["spec"],
                    "spec.template.spec",
                    &mut causes,
                );
                if let Some(r) = obj["spec"]["replicas"].as_i64()
                    && r < 0
                {
                    causes.push((
                        "spec.replicas".into(),
                        "FieldValueInvalid",
                        format!("Invalid value: {r}: must be greater than or equal to 0"),
                    ));
                }
            }
            ("batch", "Job") => {
                containers(
                    &obj["spec"]["template"]["spec"],
                    "spec.template.spec",
                    &mut causes,
                );
                let rp = obj["spec"]["template"]["spec"]["restartPolicy"]
                    .as_str()
                    .unwrap_or("");
                if rp != "OnFailure" && rp != "Never" {
                    causes.push((
                        "spec.template.spec.restartPolicy".into(),
                        "FieldValueNotSupported",
                        format!("Unsupported value: \"{rp}\": supported values: \"OnFailure\", \"Never\""),
                    ));
                }
            }
            ("", "Pod") => containers(&obj["spec"], "spec", &mut causes),
            ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(obj, &mut causes),
            _ => {}
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(rt, name, &causes))
    }
}

fn crd(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = &obj["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let plural = spec["names"]["plural"].as_str().unwrap_or_default();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    if group.is_empty() {
        causes.push(required("spec.group", ""));
    } else if !group.contains('.') {
        causes.push(invalid(
            "spec.group",
            group,
            "should be a domain with at least one dot",
        ));
    }
    if plural.is_empty() {
        causes.push(required("spec.names.plural", ""));
    }
    if spec["names"]["kind"].as_str().is_none_or(str::is_empty) {
        causes.push(required("spec.names.kind", ""));
    }
    if !plural.is_empty() && !group.is_empty() && name != format!("{plural}.{group}") {
        causes.push(invalid(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    match spec["scope"].as_str() {
        Some("Namespaced" | "Cluster") => {}
        Some(s) => causes.push((
            "spec.scope".into(),
            "FieldValueNotSupported",
            format!("Unsupported value: \"{s}\": supported values: \"Cluster\", \"Namespaced\""),
        )),
        None => causes.push(required("spec.scope", "")),
    }
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        causes.push(required(
            "spec.versions",
            "must have exactly one version marked as storage version",
        ));
    }
    let storage = versions
        .iter()
        .filter(|v| v["storage"].as_bool() == Some(true))
        .count();
    if !versions.is_empty() && storage != 1 {
        causes.push((
            "spec.versions".into(),
            "FieldValueInvalid",
            "Invalid value: must have exactly one version marked as storage version".into(),
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        let schema = &v["schema"]["openAPIV3Schema"];
        let base = format!("spec.versions[{i}].schema.openAPIV3Schema");
        if !schema.is_object() {
            causes.push(required(&base, "schemas are required"));
            continue;
        }
        match schema["type"].as_str() {
            Some("object") => {}
            None => causes.push(required(
                &format!("{base}.type"),
                "must not be empty at the root",
            )),
            Some(t) => causes.push(invalid(
                &format!("{base}.type"),
                t,
                "must be object at the root",
            )),
        }
        schema_types(schema, &base, causes);
    }
}

fn schema_types(s: &Value, base: &str, causes: &mut Vec<Cause>) {
    if let Some(t) = s["type"].as_str()
        && !matches!(
            t,
            "object" | "array" | "string" | "integer" | "number" | "boolean"
        )
    {
        causes.push((
            format!("{base}.type"),
            "FieldValueNotSupported",
            format!("Unsupported value: \"{t}\": supported values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", \"string\""),
        ));
    }
    if let Some(props) = s["properties"].as_object() {
        for (k, p) in props {
            schema_types(p, &format!("{base}.properties[{k}]"), causes);
        }
    }
    if s["items"].is_object() {
        schema_types(&s["items"], &format!("{base}.items"), causes);
    }
}

/// Immutable-field checks on update.
pub fn update(rt: &ResourceType, old: &Value, new: &Value) -> Result<(), ApiError> {
    let name = new["metadata"]["name"].as_str().unwrap_or_default();
    let mut causes = Vec::new();
    let immut = |field: &str, msg: String| (field.to_string(), "FieldValueInvalid", msg);
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
            if old["spec"]["selector"] != new["spec"]["selector"] =>
        {
            causes.push(immut(
                "spec.selector",
                format!(
                    "Invalid value: {}: field is immutable",
                    new["spec"]["selector"]
                ),
            ));
        }
        ("batch", "Job") if old["spec"]["template"]["spec"] != new["spec"]["template"]["spec"] => {
            causes.push(immut(
                "spec.template",
                "Invalid value: field is immutable".into(),
            ));
        }
        ("", "Secret" | "ConfigMap")
            if old["immutable"] == true
                && (old["data"] != new["data"] || old["binaryData"] != new["binaryData"]) =>
        {
            causes.push((
                "data".into(),
                "FieldValueForbidden",
                "Forbidden: field is immutable when `immutable` is set".into(),
            ));
        }
        _ => {}
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(rt, name, &causes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn names() {
        assert!(is_dns_subdomain("web.example-1"));
        assert!(!is_dns_subdomain("Web"));
        assert!(!is_dns_subdomain("a_b"));
        assert!(is_dns_label("ns-1"));
        assert!(!is_dns_label("a.b"));
    }
}
