//! A customer's config values checked against the application's config screen.
//!
//! Input is a flat mapping of item name to value (the `--config values.yaml` file). The result
//! holds a typed value for every item: given values, defaults, and generated values (made once,
//! then carried from the previous revision so a random password survives upgrades).

use crate::manifest::{Application, ConfigItem, GenerateKind, Generated, ItemType};
use crate::problem::did_you_mean;
use crate::when::{self, WhenValue};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One problem with the customer's values.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConfigProblem {
    /// The config item (or unknown key) concerned.
    pub item: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "config item `{}`: {}", self.item, self.message)?;
        if let Some(h) = &self.help {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

/// The effective configuration of one install or upgrade.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ResolvedConfig {
    /// A value for every item (hidden items keep their default, or an empty value).
    pub values: BTreeMap<String, Value>,
    /// Items whose `when` (and group `when`) hold.
    pub shown: BTreeSet<String>,
    /// Items whose value was generated (now or in an earlier revision).
    pub generated: BTreeSet<String>,
}

impl ResolvedConfig {
    /// The values as one JSON object (what templates see as `.Config`).
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.values
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// Evaluate a `when` condition against these values.
    pub fn holds(&self, condition: &str) -> Result<bool, when::WhenError> {
        let expr = when::parse(condition)?;
        Ok(expr.eval(&|name| {
            self.values
                .get(name)
                .map_or(WhenValue::Null, WhenValue::from_json)
        }))
    }

    /// Names of password items (their values must never be printed).
    pub fn secret_items(app: &Application) -> BTreeSet<String> {
        app.config_items()
            .filter(|(_, i)| i.item_type == ItemType::Password)
            .map(|(_, i)| i.name.clone())
            .collect()
    }
}

/// Make a value for a `generated` item with the operating system's randomness.
pub fn generate_value(g: &Generated) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let len = g.length.unwrap_or(24).clamp(1, 4096) as usize;
    match g.kind {
        GenerateKind::Password => {
            const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
            (0..len)
                .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
                .collect()
        }
        GenerateKind::Hex => (0..len)
            .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
            .collect(),
        GenerateKind::Uuid => {
            let b: [u8; 16] = rng.r#gen();
            let mut b = b;
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            )
        }
    }
}

/// The config item a mistyped key most likely meant: a close spelling, or else the item
/// that the key extends (Helm charts' `replicaCount` for an item named `replicas`).
fn suggest_item<'a>(key: &str, names: &[&'a str]) -> Option<&'a str> {
    if let Some(c) = did_you_mean(key, names.iter().copied()) {
        return Some(c);
    }
    let key = key.to_ascii_lowercase();
    names
        .iter()
        .map(|n| {
            let common = key
                .bytes()
                .zip(n.to_ascii_lowercase().bytes())
                .take_while(|(a, b)| a == b)
                .count();
            (common, *n)
        })
        .filter(|(common, n)| *common >= 4 && *common * 3 >= n.len() * 2)
        .max_by_key(|(common, _)| *common)
        .map(|(_, n)| n)
}

/// Check the customer's `input` against the app's config items and produce every value.
///
/// `previous` is the resolved config of the installed revision, if any: generated values are
/// taken from it instead of being made again. `generate` makes new generated values
/// (normally [`generate_value`]). Every problem is reported at once.
pub fn resolve(
    app: &Application,
    input: &BTreeMap<String, Value>,
    previous: Option<&ResolvedConfig>,
    generate: &mut dyn FnMut(&Generated) -> String,
) -> Result<ResolvedConfig, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let items: Vec<&ConfigItem> = app.config_items().map(|(_, i)| i).collect();
    let names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
    // One suggestion per unknown key; the full list of items is printed once, not per key.
    let mut listed = false;
    for key in input.keys() {
        if !names.contains(&key.as_str()) {
            let help = match suggest_item(key, &names) {
                Some(c) => format!("did you mean `{c}`?"),
                None if !listed => {
                    listed = true;
                    format!("known items: {}", names.join(", "))
                }
                None => "not close to any item; see the known items above".into(),
            };
            problems.push(ConfigProblem {
                item: key.clone(),
                message: "is not a config item of this application".into(),
                help: Some(help),
            });
        }
    }

    let mut out = ResolvedConfig::default();
    // First pass: a candidate value for every item (given, previous generated, default).
    for item in &items {
        let given = input.get(&item.name).filter(|v| !v.is_null());
        let value = match given {
            Some(v) => match coerce(item, v) {
                Ok(v) => v,
                Err(msg) => {
                    problems.push(ConfigProblem {
                        item: item.name.clone(),
                        message: msg,
                        help: Some(expected_help(item)),
                    });
                    empty_value(item)
                }
            },
            None => {
                if let Some(g) = &item.generated {
                    out.generated.insert(item.name.clone());
                    match previous
                        .and_then(|p| p.values.get(&item.name))
                        .and_then(Value::as_str)
                    {
                        Some(prev) if !prev.is_empty() => Value::String(prev.to_string()),
                        _ => Value::String(generate(g)),
                    }
                } else if let Some(d) = &item.default {
                    coerce(item, &d.to_json()).unwrap_or_else(|_| empty_value(item))
                } else {
                    empty_value(item)
                }
            }
        };
        out.values.insert(item.name.clone(), value);
    }

    // Visibility: group and item conditions over the candidate values.
    for (group, item) in app.config_items() {
        let mut shown = true;
        for cond in [group.when.as_deref(), item.when.as_deref()]
            .into_iter()
            .flatten()
        {
            match out.holds(cond) {
                Ok(h) => shown &= h,
                Err(e) => {
                    problems.push(ConfigProblem {
                        item: item.name.clone(),
                        message: format!("its `when` condition is invalid: {e}"),
                        help: Some("run `berth lint` on the application".into()),
                    });
                    shown = false;
                }
            }
        }
        // Hidden items are still validated: they are only kept off the settings screen.
        if shown {
            out.shown.insert(item.name.clone());
        }
    }

    // Validation of shown items only.
    for item in &items {
        if !out.shown.contains(&item.name) {
            continue;
        }
        let v = &out.values[&item.name];
        let is_empty = match v {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            _ => false,
        };
        if is_empty {
            if item.required {
                problems.push(ConfigProblem {
                    item: item.name.clone(),
                    message: "is required".into(),
                    help: Some(format!("set `{}:` in the config values file", item.name)),
                });
            }
            continue;
        }
        problems.extend(validate(item, v));
    }

    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn empty_value(item: &ConfigItem) -> Value {
    match item.item_type {
        ItemType::Bool => Value::Bool(false),
        ItemType::Number => Value::Null,
        _ => Value::String(String::new()),
    }
}

fn expected_help(item: &ConfigItem) -> String {
    match item.item_type {
        ItemType::Bool => "use true or false".into(),
        ItemType::Number => "use a number".into(),
        ItemType::Select => format!(
            "use one of: {}",
            item.options
                .iter()
                .map(|o| o.value.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => "use text".into(),
    }
}

fn coerce(item: &ConfigItem, v: &Value) -> Result<Value, String> {
    match item.item_type {
        ItemType::Bool => match v {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            other => Err(format!("expected true or false, found {}", kind_of(other))),
        },
        ItemType::Number => match v {
            Value::Number(n) => Ok(Value::Number(n.clone())),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(|f| {
                    if f.fract() == 0.0 && f.abs() < 9.0e15 {
                        Some(Value::from(f as i64))
                    } else {
                        serde_json::Number::from_f64(f).map(Value::Number)
                    }
                })
                .ok_or_else(|| format!("expected a number, found the text \"{s}\"")),
            other => Err(format!("expected a number, found {}", kind_of(other))),
        },
        _ => match v {
            Value::String(s) => Ok(Value::String(s.clone())),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            other => Err(format!("expected text, found {}", kind_of(other))),
        },
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn validate(item: &ConfigItem, v: &Value) -> Vec<ConfigProblem> {
    let mut out = Vec::new();
    let mut push = |message: String, help: Option<String>| {
        out.push(ConfigProblem {
            item: item.name.clone(),
            message,
            help,
        })
    };
    if item.item_type == ItemType::Select
        && let Value::String(s) = v
        && !item.options.iter().any(|o| &o.value == s)
    {
        push(
            format!("\"{s}\" is not one of the choices"),
            Some(expected_help(item)),
        );
    }
    let Some(rules) = &item.validation else {
        return out;
    };
    if let Value::String(s) = v {
        // Never echo a password back in a message.
        let shown = if item.item_type == ItemType::Password {
            "the value".to_string()
        } else {
            format!("\"{s}\"")
        };
        if let Some(re) = &rules.regex {
            match regex::Regex::new(&format!("^(?:{re})$")) {
                Ok(r) if !r.is_match(s) => push(
                    format!(
                        "{shown} {}",
                        rules
                            .message
                            .clone()
                            .unwrap_or_else(|| format!("does not match the pattern `{re}`"))
                    ),
                    None,
                ),
                Ok(_) => {}
                Err(e) => push(
                    format!("the application's validation pattern is invalid: {e}"),
                    Some("report this to the application vendor".into()),
                ),
            }
        }
        let n = s.chars().count() as u32;
        if let Some(min) = rules.min_length
            && n < min
        {
            push(format!("{shown} is shorter than {min} characters"), None);
        }
        if let Some(max) = rules.max_length
            && n > max
        {
            push(format!("{shown} is longer than {max} characters"), None);
        }
    }
    if let Some(x) = v.as_f64() {
        if let Some(min) = rules.min
            && x < min
        {
            push(format!("{x} is less than the minimum {min}"), None);
        }
        if let Some(max) = rules.max
            && x > max
        {
            push(format!("{x} is more than the maximum {max}"), None);
        }
    }
    out
}

/// Read a config values file (a flat YAML mapping of item name to value).
pub fn parse_values(text: &str) -> Result<BTreeMap<String, Value>, String> {
    let docs =
        crate::yaml::parse_str(text, &crate::yaml::Limits::default()).map_err(|e| e.to_string())?;
    match docs.first().map(|d| d.to_json()) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => Ok(m.into_iter().collect()),
        Some(_) => Err(
            "expected a mapping of config item names to values, e.g. `database: external`".into(),
        ),
    }
}
