//! Label and field selectors, parsed the way the API server parses `labelSelector` and
//! `fieldSelector` query parameters.

use serde_json::Value;

/// One label requirement.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector (requirements are ANDed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(pub Vec<LabelReq>);

/// Split on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c)
            }
            ')' => {
                depth -= 1;
                cur.push(c)
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 317
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

impl LabelSelector {
    /// Parse `a=b,c!=d,e in (f,g),!h`.
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut reqs = Vec::new();
        for term in split_top(s) {
            let bad =
                || format!("unable to parse requirement: found '{term}', expected: identifier");
            if let Some(k) = term.strip_prefix('!') {
                let k = k.trim();
                if !valid_key(k) {
                    return Err(bad());
                }
                reqs.push(LabelReq::NotExists(k.to_string()));
            } else if let Some((k, v)) = term.split_once("!=") {
                let (k, v) = (k.trim(), v.trim());
                if !valid_key(k) || !valid_value(v) {
                    return Err(bad());
                }
                reqs.push(LabelReq::NotEq(k.into(), v.into()));
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                let (k, v) = (k.trim(), v.trim());
                if !valid_key(k) || !valid_value(v) {
                    return Err(bad());
                }
                reqs.push(LabelReq::Eq(k.into(), v.into()));
            } else if let Some(open) = term.find('(') {
                let head = term[..open].trim();
                let Some(body) = term[open + 1..].strip_suffix(')') else {
                    return Err(format!(
                        "unable to parse requirement: found '{term}', expected: ')'"
                    ));
                };
                let vals: Vec<String> = body
                    .split(',')
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                    .collect();
                if vals.iter().any(|v| !valid_value(v)) {
                    return Err(bad());
                }
                let (k, op) = head
                    .rsplit_once(char::is_whitespace)
                    .map(|(k, op)| (k.trim(), op.trim()))
                    .ok_or_else(bad)?;
                if !valid_key(k) {
                    return Err(bad());
                }
                match op {
                    "in" => reqs.push(LabelReq::In(k.into(), vals)),
                    "notin" => reqs.push(LabelReq::NotIn(k.into(), vals)),
                    _ => {
                        return Err(format!(
                            "unable to parse requirement: found '{op}', expected: in, notin, =, ==, !=, gt, lt"
                        ));
                    }
                }
            } else {
                let k = term.trim();
                if !valid_key(k) {
                    return Err(bad());
                }
                reqs.push(LabelReq::Exists(k.to_string()));
            }
        }
        Ok(LabelSelector(reqs))
    }

    /// From a `matchLabels`/`matchExpressions` LabelSelector object.
    pub fn from_object(sel: &Value) -> LabelSelector {
        let mut reqs = Vec::new();
        if let Some(m) = sel["matchLabels"].as_object() {
            for (k, v) in m {
                reqs.push(LabelReq::Eq(
                    k.clone(),
                    v.as_str().unwrap_or_default().into(),
                ));
            }
        }
        if let Some(exprs) = sel["matchExpressions"].as_array() {
            for e in exprs {
                let k = e["key"].as_str().unwrap_or_default().to_string();
                let vals: Vec<String> = e["values"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                match e["operator"].as_str().unwrap_or_default() {
                    "In" => reqs.push(LabelReq::In(k, vals)),
                    "NotIn" => reqs.push(LabelReq::NotIn(k, vals)),
                    "Exists" => reqs.push(LabelReq::Exists(k)),
                    "DoesNotExist" => reqs.push(LabelReq::NotExists(k)),
                    _ => {}
                }
            }
        }
        LabelSelector(reqs)
    }

    /// From a plain `key: value` map (Service selectors).
    pub fn from_map(m: &Value) -> LabelSelector {
        LabelSelector(
            m.as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            LabelReq::Eq(k.clone(), v.as_str().unwrap_or_default().into())
                        })
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Does an object (its metadata.labels) match?
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        self.matches_labels(labels)
    }

    pub fn matches_labels(&self, labels: &Value) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            LabelReq::Eq(k, v) => get(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector: (field path, equal?, value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(pub Vec<(String, bool, String)>);

/// Fields a field selector may name, per kind (the real server allows a few per kind).
fn field_allowed(kind: &str, field: &str) -> bool {
    match field {
        "metadata.name" | "metadata.namespace" => true,
        "status.phase"
        | "spec.nodeName"
        | "spec.restartPolicy"
        | "spec.schedulerName"
        | "spec.serviceAccountName"
        | "status.podIP"
        | "status.nominatedNodeName" => kind == "Pod",
        "type" => kind == "Secret" || kind == "Event",
        "involvedObject.kind"
        | "involvedObject.namespace"
        | "involvedObject.name"
        | "involvedObject.uid"
        | "involvedObject.apiVersion"
        | "involvedObject.resourceVersion"
        | "involvedObject.fieldPath"
        | "reason"
        | "reportingComponent"
        | "source" => kind == "Event",
        "spec.unschedulable" => kind == "Node",
        "status.successful" => kind == "Job",
        _ => false,
    }
}

impl FieldSelector {
    pub fn parse(s: &str, kind: &str) -> Result<FieldSelector, String> {
        let mut out = Vec::new();
        for term in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (f, eq, v) = if let Some((f, v)) = term.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{term}'; can't understand '{term}'"
                ));
            };
            let f = f.trim();
            if !field_allowed(kind, f) {
                return Err(format!("field label not supported: {f}"));
            }
            out.push((f.to_string(), eq, v.trim().to_string()));
        }
        Ok(FieldSelector(out))
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(f, eq, v)| {
            let mut cur = obj;
            for part in f.split('.') {
                cur = &cur[part];
            }
            let actual = match cur {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (actual == *v) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selector_forms() {
        let o = json!({"metadata": {"labels": {"app": "web", "tier": "fe"}}});
        for (s, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app in (web,db)", true),
            ("app notin (web)", false),
            ("tier", true),
            ("!tier", false),
            ("app=web,tier=be", false),
            ("missing notin (x)", true),
        ] {
            assert_eq!(LabelSelector::parse(s).unwrap().matches(&o), want, "{s}");
        }
        assert!(LabelSelector::parse("app in (web").is_err());
        assert!(LabelSelector::parse("a b c").is_err());
    }

    #[test]
    fn field_selector_forms() {
        let o =
            json!({"metadata": {"name": "x", "namespace": "d"}, "status": {"phase": "Running"}});
        assert!(
            FieldSelector::parse("metadata.name=x", "Pod")
                .unwrap()
                .matches(&o)
        );
        assert!(
            !FieldSelector::parse("metadata.name!=x", "Pod")
                .unwrap()
                .matches(&o)
        );
        assert!(
            FieldSelector::parse("status.phase=Running", "Pod")
                .unwrap()
                .matches(&o)
        );
        assert!(FieldSelector::parse("spec.replicas=1", "Deployment").is_err());
    }
}
