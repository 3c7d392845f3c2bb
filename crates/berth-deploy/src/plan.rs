//! The plan: what an operation will do to each object (create, update with a readable field
//! diff, prune, keep, unchanged), decided from the desired objects, the live objects and the
//! objects berth applied before. Pure; printed by `--dry-run` and `berth diff`.

use crate::inventory::redact;
use crate::object::{LABEL_APP, Manifest, ObjectRef, is_kept, label, object_ref};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Identity key that ignores the API version.
pub type Key = (String, String, String, String);

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// Dotted path, e.g. `.spec.replicas` or `.spec.template.spec.containers[0].image`.
    pub path: String,
    /// Live value (absent if the field is new).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// Desired value (absent if the field is removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// What happens to one object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Not in the cluster: created.
    Create,
    /// In the cluster with different fields: updated.
    Update {
        /// The differing fields (Secret values redacted).
        changes: Vec<FieldChange>,
    },
    /// Identical: nothing sent... except that berth still applies it unless `skip_unchanged`.
    Unchanged,
    /// Applied before, not desired now, owned by berth: deleted.
    Prune,
    /// Would be pruned, but kept (PVCs, CRDs, `berth.dev/keep: "true"`).
    Keep,
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The object.
    pub object: ObjectRef,
    /// Source file (empty for pruned objects).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// The action.
    #[serde(flatten)]
    pub action: Action,
}

/// The whole plan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    /// Steps in apply order for desired objects, then prunes.
    pub steps: Vec<Step>,
}

impl Plan {
    /// Counts: (create, update, unchanged, prune, keep).
    pub fn counts(&self) -> (usize, usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0, 0);
        for s in &self.steps {
            match s.action {
                Action::Create => c.0 += 1,
                Action::Update { .. } => c.1 += 1,
                Action::Unchanged => c.2 += 1,
                Action::Prune => c.3 += 1,
                Action::Keep => c.4 += 1,
            }
        }
        c
    }

    /// Whether anything changes.
    pub fn is_noop(&self) -> bool {
        let (c, u, _, p, _) = self.counts();
        c + u + p == 0
    }

    /// Human-readable rendering, one object per line, field changes indented.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for s in &self.steps {
            let (sym, word) = match &s.action {
                Action::Create => ("+", "create"),
                Action::Update { .. } => ("~", "update"),
                Action::Unchanged => ("=", "unchanged"),
                Action::Prune => ("-", "prune"),
                Action::Keep => ("!", "keep (not pruned)"),
            };
            out.push_str(&format!("{sym} {} ({word})\n", s.object));
            if let Action::Update { changes } = &s.action {
                for c in changes {
                    let show = |v: &Option<Value>| match v {
                        None => "(absent)".to_string(),
                        Some(v) => short(v),
                    };
                    out.push_str(&format!(
                        "    {}: {} -> {}\n",
                        c.path,
                        show(&c.old),
                        show(&c.new)
                    ));
                }
            }
        }
        let (c, u, n, p, k) = self.counts();
        out.push_str(&format!(
            "plan: {c} to create, {u} to update, {p} to prune, {n} unchanged{}\n",
            if k > 0 {
                format!(", {k} kept")
            } else {
                String::new()
            }
        ));
        out
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(77).map(|(i, _)| i).unwrap_or(s.len())]
        )
    } else {
        s
    }
}

/// Key of a JSON object.
pub fn key_of(v: &Value) -> Key {
    object_ref(v).key()
}

/// Whether every field in `desired` has the same value in `live` (lists must have equal
/// length and match item by item). Server-added fields are ignored.
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, dv)| match l.get(k) {
            Some(lv) => is_subset(dv, lv),
            None => {
                dv.is_null()
                    || dv.as_object().is_some_and(|m| m.is_empty())
                    || dv.as_array().is_some_and(|a| a.is_empty())
            }
        }),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(a, b)| is_subset(a, b))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

fn diff_into(path: &str, desired: &Value, live: Option<&Value>, out: &mut Vec<FieldChange>) {
    match (desired, live) {
        (Value::Object(d), Some(Value::Object(l))) => {
            for (k, dv) in d {
                diff_into(&format!("{path}.{k}"), dv, l.get(k), out);
            }
        }
        (Value::Array(d), Some(Value::Array(l))) if d.len() == l.len() => {
            for (i, (dv, lv)) in d.iter().zip(l).enumerate() {
                diff_into(&format!("{path}[{i}]"), dv, Some(lv), out);
            }
        }
        (d, Some(l)) if is_subset(d, l) => {}
        (d, l) => out.push(FieldChange {
            path: path.to_string(),
            old: l.cloned(),
            new: Some(d.clone()),
        }),
    }
}

fn removed_into(
    path: &str,
    previous: &Value,
    desired: Option<&Value>,
    live: Option<&Value>,
    out: &mut Vec<FieldChange>,
) {
    match (previous, desired) {
        (Value::Object(p), Some(Value::Object(d))) => {
            for (k, pv) in p {
                removed_into(
                    &format!("{path}.{k}"),
                    pv,
                    d.get(k),
                    live.and_then(|l| l.get(k)),
                    out,
                );
            }
        }
        (_, Some(_)) => {}
        (_, None) => {
            if live.is_some() {
                out.push(FieldChange {
                    path: path.to_string(),
                    old: live.cloned(),
                    new: None,
                });
            }
        }
    }
}

const IGNORED_META: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
];

fn strip(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in IGNORED_META {
            m.remove(*k);
        }
    }
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
    }
    v
}

/// The server stores a Secret's `stringData` as base64 in `data`; compare in that form.
fn normalize(v: &Value) -> Value {
    use base64::Engine as _;
    if object_ref(v).kind != "Secret" {
        return v.clone();
    }
    let mut v = v.clone();
    let Some(obj) = v.as_object_mut() else {
        return v;
    };
    let Some(Value::Object(sd)) = obj.remove("stringData") else {
        return v;
    };
    let data = obj
        .entry("data")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(data) = data.as_object_mut() {
        for (k, val) in sd {
            let raw = val
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| val.to_string());
            data.insert(
                k,
                Value::String(base64::engine::general_purpose::STANDARD.encode(raw)),
            );
        }
    }
    v
}

/// The field changes between the desired object and the live one (plus fields berth applied
/// in the previous revision and no longer applies). Secret values are redacted.
pub fn field_changes(desired: &Value, live: &Value, previous: Option<&Value>) -> Vec<FieldChange> {
    let (d, l) = (redact(&strip(&normalize(desired))), redact(&strip(live)));
    let mut out = Vec::new();
    diff_into("", &d, Some(&l), &mut out);
    if let Some(p) = previous {
        removed_into(
            "",
            &redact(&strip(&normalize(p))),
            Some(&d),
            Some(&l),
            &mut out,
        );
    }
    out
}

/// Build the plan.
///
/// * `desired`: the new revision's objects (already labelled), in apply order.
/// * `live`: the live objects found for desired keys and for previously applied keys.
/// * `previous`: objects berth applied before (last deployed revision plus any pending or
///   failed revision since), for prune and removed-field detection.
/// * `app`: the app name; only live objects labelled with it are ever pruned.
pub fn plan(
    desired: &[Manifest],
    live: &HashMap<Key, Value>,
    previous: &[Value],
    app: &str,
) -> Plan {
    let prev: HashMap<Key, &Value> = previous.iter().map(|v| (key_of(v), v)).collect();
    let mut steps = Vec::new();
    let mut wanted = std::collections::HashSet::new();
    for m in desired {
        let k = key_of(&m.object);
        wanted.insert(k.clone());
        let action = match live.get(&k) {
            None => Action::Create,
            Some(l) => {
                let changes = field_changes(&m.object, l, prev.get(&k).copied());
                if changes.is_empty() {
                    Action::Unchanged
                } else {
                    Action::Update { changes }
                }
            }
        };
        steps.push(Step {
            object: m.reference(),
            source: m.source.clone(),
            action,
        });
    }
    // Deterministic prune order.
    let mut gone: BTreeMap<Key, &Value> = BTreeMap::new();
    for (k, v) in &prev {
        if !wanted.contains(k) {
            gone.insert(k.clone(), v);
        }
    }
    for (k, v) in gone {
        let Some(l) = live.get(&k) else { continue };
        if label(l, LABEL_APP) != Some(app) {
            continue; // never touch what berth did not create for this app
        }
        let action = if is_kept(l) || is_kept(v) {
            Action::Keep
        } else {
            Action::Prune
        };
        steps.push(Step {
            object: object_ref(l),
            source: String::new(),
            action,
        });
    }
    Plan { steps }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(name: &str, data: Value) -> Value {
        json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":name,"namespace":"ns","labels":{LABEL_APP:"hello"}},"data":data})
    }

    #[test]
    fn classifies_create_update_unchanged_prune_keep() {
        let desired = vec![
            Manifest::new(cm("new", json!({"a":"1"})), "n.yaml"),
            Manifest::new(cm("same", json!({"a":"1"})), "s.yaml"),
            Manifest::new(cm("changed", json!({"a":"2"})), "c.yaml"),
        ];
        let mut live_same = cm("same", json!({"a":"1"}));
        live_same["metadata"]["resourceVersion"] = json!("7");
        live_same["metadata"]["uid"] = json!("u");
        let pvc = json!({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","namespace":"ns","labels":{LABEL_APP:"hello"}}});
        let foreign = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"foreign","namespace":"ns"}});
        let live: HashMap<Key, Value> = [
            live_same,
            cm("changed", json!({"a":"1"})),
            cm("old", json!({})),
            pvc.clone(),
            foreign.clone(),
        ]
        .into_iter()
        .map(|v| (key_of(&v), v))
        .collect();
        let previous = vec![
            cm("same", json!({"a":"1"})),
            cm("old", json!({})),
            pvc,
            foreign,
        ];
        let p = plan(&desired, &live, &previous, "hello");
        let actions: Vec<(String, &str)> = p
            .steps
            .iter()
            .map(|s| {
                (
                    s.object.name.clone(),
                    match s.action {
                        Action::Create => "create",
                        Action::Update { .. } => "update",
                        Action::Unchanged => "unchanged",
                        Action::Prune => "prune",
                        Action::Keep => "keep",
                    },
                )
            })
            .collect();
        assert_eq!(
            actions,
            vec![
                ("new".into(), "create"),
                ("same".into(), "unchanged"),
                ("changed".into(), "update"),
                ("old".into(), "prune"),
                ("data".into(), "keep"),
            ]
        );
        let text = p.render();
        assert!(text.contains(".data.a: \"1\" -> \"2\""), "{text}");
        assert!(
            text.contains("plan: 1 to create, 1 to update, 1 to prune, 1 unchanged, 1 kept"),
            "{text}"
        );
    }

    #[test]
    fn removed_fields_count_as_changes() {
        let prev = cm("x", json!({"a":"1","b":"2"}));
        let live = cm("x", json!({"a":"1","b":"2"}));
        let desired = cm("x", json!({"a":"1"}));
        let ch = field_changes(&desired, &live, Some(&prev));
        assert_eq!(ch.len(), 1);
        assert_eq!(ch[0].path, ".data.b");
        assert_eq!(ch[0].new, None);
    }

    #[test]
    fn string_data_compares_with_stored_data() {
        let d = json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"p":"new"}});
        let same =
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"p":"bmV3"}});
        let other =
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"p":"b2xk"}});
        assert!(field_changes(&d, &same, Some(&d)).is_empty());
        assert_eq!(field_changes(&d, &other, Some(&d)).len(), 1);
    }

    #[test]
    fn secret_diffs_are_redacted() {
        let d =
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"p":"bmV3"}});
        let l =
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"p":"b2xk"}});
        let ch = field_changes(&d, &l, None);
        let s = serde_json::to_string(&ch).unwrap();
        assert_eq!(ch.len(), 1);
        assert!(!s.contains("bmV3") && !s.contains("b2xk"), "{s}");
    }
}
