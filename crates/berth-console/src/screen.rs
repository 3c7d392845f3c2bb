//! The config screen as the page shows it: which groups and items are visible for the values
//! being edited (berth-spec's `when` language, evaluated on the server so the page and the
//! deploy agree), and the customer's form turned into config input.

use berth_spec::config::ResolvedConfig;
use berth_spec::{Application, ConfigItem, ItemType};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Largest uploaded file a config item takes (certificates, keys, licences are small).
pub const MAX_UPLOAD: usize = 1024 * 1024;

/// What shows: item names and group names.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Visibility {
    /// Items shown (their own `when` and their group's hold, and not `hidden`).
    pub items: BTreeSet<String>,
    /// Groups shown.
    pub groups: BTreeSet<String>,
}

/// A form value turned into the item's type where it parses (so `replicas > 2` compares
/// numbers); anything else stays text, which `when` treats by its truthiness.
fn typed(item: &ConfigItem, raw: &str) -> Value {
    match item.item_type {
        ItemType::Bool => Value::Bool(raw == "true" || raw == "on"),
        ItemType::Number => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(raw.into()), Value::Number),
        _ => Value::String(raw.into()),
    }
}

/// Which items and groups show for `form` (item name → raw form text); items absent from
/// the form take `fallback` (the current config), then their default.
pub fn visibility(
    app: &Application,
    form: &BTreeMap<String, String>,
    fallback: Option<&ResolvedConfig>,
) -> Visibility {
    let mut values = ResolvedConfig::default();
    for (_, item) in app.config_items() {
        let v = match form.get(&item.name) {
            Some(raw) => typed(item, raw),
            None => fallback
                .and_then(|f| f.values.get(&item.name).cloned())
                .or_else(|| item.default.as_ref().map(|d| d.to_json()))
                .unwrap_or(Value::Null),
        };
        values.values.insert(item.name.clone(), v);
    }
    // An invalid condition hides what it guards (lint reports it; the deploy refuses it).
    let holds = |c: Option<&str>| c.is_none_or(|c| values.holds(c).unwrap_or(false));
    let mut out = Visibility::default();
    for g in &app.spec.config {
        if !holds(g.when.as_deref()) {
            continue;
        }
        out.groups.insert(g.name.clone());
        for i in &g.items {
            if !i.hidden && holds(i.when.as_deref()) {
                out.items.insert(i.name.clone());
            }
        }
    }
    out
}

/// One uploaded or typed field of the submitted form.
#[derive(Debug, Clone)]
pub enum Field {
    /// A text field.
    Text(String),
    /// A file: its name and bytes.
    File(String, Vec<u8>),
}

/// Turn the submitted form into config input. Empty password and file fields keep the
/// current value; readonly and `hidden` items are not taken from the form. Returns the
/// input and problems found before resolution (an upload that is not text).
pub fn form_input(
    app: &Application,
    form: &BTreeMap<String, Field>,
    current: Option<&ResolvedConfig>,
) -> (BTreeMap<String, Value>, BTreeMap<String, String>) {
    let mut input = BTreeMap::new();
    let mut problems = BTreeMap::new();
    let current_of = |name: &str| {
        current
            .and_then(|c| c.values.get(name))
            .filter(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
            .cloned()
    };
    for (_, item) in app.config_items() {
        if item.hidden {
            continue;
        }
        if item.readonly {
            if let Some(v) = current_of(&item.name) {
                input.insert(item.name.clone(), v);
            }
            continue;
        }
        let given = form.get(&item.name);
        let text = match given {
            Some(Field::Text(t)) => Some(t.clone()),
            Some(Field::File(_, bytes)) if bytes.is_empty() => None,
            Some(Field::File(name, bytes)) => {
                if bytes.len() > MAX_UPLOAD {
                    problems.insert(
                        item.name.clone(),
                        format!("{name} is larger than {} KiB", MAX_UPLOAD / 1024),
                    );
                    continue;
                }
                match String::from_utf8(bytes.clone()) {
                    Ok(t) => Some(t),
                    Err(_) => {
                        problems.insert(
                            item.name.clone(),
                            format!("{name} is not a text file (a PEM certificate or key is text)"),
                        );
                        continue;
                    }
                }
            }
            None => None,
        };
        let value = match (item.item_type, text) {
            (ItemType::Bool, t) => Some(Value::Bool(t.as_deref() == Some("true"))),
            (ItemType::Password | ItemType::File, None) => current_of(&item.name),
            (ItemType::Password | ItemType::File, Some(t)) if t.is_empty() => {
                current_of(&item.name)
            }
            (ItemType::Number, Some(t)) if t.trim().is_empty() => None,
            (_, Some(t)) => Some(Value::String(t)),
            (_, None) => None,
        };
        if let Some(v) = value {
            input.insert(item.name.clone(), v);
        }
    }
    (input, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello() -> Application {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
        berth_spec::load(&dir).unwrap().app
    }

    #[test]
    fn when_follows_the_edited_values() {
        let app = hello();
        let mut form = BTreeMap::new();
        let v = visibility(&app, &form, None);
        assert!(v.items.contains("embedded_db_size"));
        assert!(!v.items.contains("db_host"));
        assert!(!v.items.contains("tls_cert"));
        assert!(
            !v.items.contains("embedded_db_password"),
            "hidden items never show"
        );
        form.insert("database".to_string(), "external".to_string());
        form.insert("ingress_enabled".to_string(), "true".to_string());
        form.insert("tls_enabled".to_string(), "true".to_string());
        let v = visibility(&app, &form, None);
        assert!(v.items.contains("db_host") && !v.items.contains("embedded_db_size"));
        assert!(v.items.contains("tls_cert") && v.items.contains("tls_key"));
        form.insert("ingress_enabled".to_string(), "false".to_string());
        let v = visibility(&app, &form, None);
        assert!(!v.items.contains("tls_cert") && !v.items.contains("ingress_class"));
        assert!(v.groups.contains("network"));
    }

    #[test]
    fn empty_secret_fields_keep_the_current_value_and_binary_uploads_are_refused() {
        let app = hello();
        let mut current = ResolvedConfig::default();
        current
            .values
            .insert("tls_cert".into(), Value::String("OLD".into()));
        current
            .values
            .insert("db_password".into(), Value::String("pw".into()));
        let mut form = BTreeMap::new();
        form.insert("tls_cert".to_string(), Field::File(String::new(), vec![]));
        form.insert("db_password".to_string(), Field::Text(String::new()));
        form.insert(
            "tls_key".to_string(),
            Field::File("k.bin".into(), vec![0xff, 0xfe]),
        );
        form.insert("replicas".to_string(), Field::Text("3".into()));
        let (input, problems) = form_input(&app, &form, Some(&current));
        assert_eq!(input["tls_cert"], Value::String("OLD".into()));
        assert_eq!(input["db_password"], Value::String("pw".into()));
        assert_eq!(input["replicas"], Value::String("3".into()));
        assert_eq!(
            input["ingress_enabled"],
            Value::Bool(false),
            "unchecked box"
        );
        assert!(!input.contains_key("embedded_db_password"));
        assert!(problems["tls_key"].contains("k.bin is not a text file"));
    }
}
