//! Validation with the API server's wording: names (per kind, as apimachinery), labels,
//! workload selectors and templates, Job restart policies, CRD schemas, and immutable fields on update.

use crate::catalog::ResourceType;
use crate::selector::LabelSelector;
use crate::status::ApiError;
use serde_json::Value;

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// apimachinery's `MaxLenError`.
fn max_len(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?` without the length limit.
fn label_shape(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
/// RFC 1123 label: at most 63 characters of `[a-z0-9-]`, alphanumeric at both ends.
pub fn is_dns_label(s: &str) -> bool {
    s.len() <= 63 && label_shape(s)
}

#[cfg(test)]
/// RFC 1123 subdomain as Kubernetes checks it: at most 253 characters matching
/// `label(\.label)*`. The parts between dots have no length limit of their own.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && subdomain_shape(s)
}

fn subdomain_shape(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(label_shape)
}

/// apimachinery `IsDNS1123Subdomain`: one message per broken rule.
pub fn dns1123_subdomain_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len(253));
    }
    if !subdomain_shape(s) {
        errs.push(SUBDOMAIN_MSG.to_string());
    }
    errs
}

/// apimachinery `IsDNS1123Label` (a valid subdomain with dots gets "must not contain dots").
pub fn dns1123_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len(63));
    }
    if !label_shape(s) {
        if subdomain_shape(s) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(LABEL_MSG.to_string());
        }
    }
    errs
}

/// apimachinery `IsDNS1035Label`: like a 1123 label but starting with a letter.
pub fn dns1035_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len(63));
    }
    if !label_shape(s) || !s.as_bytes()[0].is_ascii_lowercase() {
        errs.push(DNS1035_MSG.to_string());
    }
    errs
}

/// apimachinery `IsValidPathSegmentName` (RBAC objects, core Events).
pub fn path_segment_errors(s: &str) -> Vec<String> {
    if s == "." || s == ".." {
        return vec![format!("may not be '{s}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|c| s.contains(*c))
        .map(|c| format!("may not contain '{c}'"))
        .collect()
}

/// The name rule the API server applies to `metadata.name` of a kind, as its messages.
/// `prefix` is true for `generateName`, whose trailing dash is allowed.
pub fn name_errors(rt: &ResourceType, name: &str, prefix: bool) -> Vec<String> {
    // NameIsDNS*(name, prefix=true) masks a trailing '-' before checking.
    let masked;
    let name = if prefix && name.ends_with('-') {
        masked = format!("{}a", &name[..name.len() - 1]);
        masked.as_str()
    } else {
        name
    };
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => dns1123_label_errors(name),
        ("", "Service") => dns1035_label_errors(name),
        ("", "Event")
        | (
            "rbac.authorization.k8s.io",
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding",
        ) => path_segment_errors(name),
        _ => dns1123_subdomain_errors(name),
    }
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
                } else {
                    for msg in dns1123_label_errors(name) {
                        causes.push(invalid(&format!("{base}.containers[{i}].name"), name, &msg));
                    }
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
    for msg in name_errors(rt, name, false) {
        causes.push(invalid("metadata.name", name, &msg));
    }
    if let Some(g) = obj["metadata"]["generateName"]
        .as_str()
        .filter(|g| !g.is_empty())
    {
        for msg in name_errors(rt, g, true) {
            causes.push(invalid("metadata.generateName", g, &msg));
        }
    }
    if rt.group == "batch" && rt.kind == "CronJob" && name.len() > 52 {
        // Job names get an 11-character suffix and must stay DNS-1035 labels.
        causes.push(invalid(
            "metadata.name",
            name,
            "must be no more than 52 characters",
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
        // Parts between dots are not limited to 63 characters; the whole is (253).
        assert!(is_dns_subdomain(&"a".repeat(69)));
        assert!(is_dns_subdomain(&"a".repeat(253)));
        assert!(!is_dns_subdomain(&"a".repeat(254)));
    }

    #[test]
    fn name_messages_per_kind() {
        assert_eq!(dns1123_label_errors("a.b"), vec!["must not contain dots"]);
        assert_eq!(
            dns1123_label_errors(&"a".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
        assert_eq!(dns1035_label_errors("1web"), vec![DNS1035_MSG]);
        assert_eq!(
            dns1123_subdomain_errors(&"A".repeat(254)),
            vec![
                "must be no more than 253 characters".to_string(),
                SUBDOMAIN_MSG.to_string()
            ]
        );
        assert_eq!(path_segment_errors(".."), vec!["may not be '..'"]);
        assert_eq!(
            path_segment_errors("a/b%c"),
            vec!["may not contain '/'", "may not contain '%'"]
        );
        assert!(path_segment_errors("system:aggregate-to-admin").is_empty());
    }
}
