//! Checks a positioned YAML tree against the JSON Schema generated from the manifest types,
//! collecting every structural problem (unknown fields, wrong types, missing fields, bad enum
//! values) instead of stopping at the first, as a serde deserializer would.
//!
//! Supports the subset of JSON Schema that schemars emits for our types: `$ref`/`$defs`,
//! `type`, `enum`, `const`, `anyOf`/`oneOf`, `properties`, `required`, `additionalProperties`,
//! `items`, `minimum`/`maximum`.

use crate::problem::did_you_mean;
use crate::yaml::{Node, NodeKind, PathSeg, Pos, path_string};
use serde_json::Value;

/// One structural problem.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaIssue {
    /// Path of the offending node.
    pub path: Vec<PathSeg>,
    /// Where to point.
    pub pos: Pos,
    /// Stable code.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Whether dropping the node would let the rest of the document be read.
    pub droppable: bool,
    /// A valid stand-in value that lets the rest of the document be checked for meaning.
    pub replacement: Option<Value>,
}

/// Check `node` against `schema` (a whole schema document with `$defs`).
pub fn check(node: &Node, schema: &Value) -> Vec<SchemaIssue> {
    let mut out = Vec::new();
    walk(node, schema, schema, &mut Vec::new(), &mut out);
    out
}

fn resolve<'a>(mut schema: &'a Value, root: &'a Value) -> &'a Value {
    for _ in 0..32 {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let Some(name) = r.strip_prefix("#/$defs/") else {
                    return schema;
                };
                match root.get("$defs").and_then(|d| d.get(name)) {
                    Some(s) => schema = s,
                    None => return schema,
                }
            }
            None => return schema,
        }
    }
    schema
}

fn type_matches(node: &Node, ty: &str) -> bool {
    match (ty, &node.kind) {
        ("null", NodeKind::Null) => true,
        ("boolean", NodeKind::Bool(_)) => true,
        ("string", NodeKind::Str(_)) => true,
        ("integer", NodeKind::Int(_)) => true,
        ("integer", NodeKind::Float(f)) => f.fract() == 0.0,
        ("number", NodeKind::Int(_) | NodeKind::Float(_)) => true,
        ("array", NodeKind::Seq(_)) => true,
        ("object", NodeKind::Map(_)) => true,
        _ => false,
    }
}

fn type_label(ty: &str) -> &str {
    match ty {
        "null" => "null",
        "boolean" => "a boolean (true or false)",
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "array" => "a list",
        "object" => "a mapping",
        other => other,
    }
}

fn schema_types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn describe(schema: &Value, root: &Value) -> String {
    if let Some(values) = enum_values(schema, root) {
        return format!("one of {}", list_values(&values));
    }
    let schema = resolve(schema, root);
    let types = schema_types(schema);
    if !types.is_empty() {
        return types
            .iter()
            .filter(|t| **t != "null")
            .map(|t| type_label(t))
            .collect::<Vec<_>>()
            .join(" or ");
    }
    if let Some(branches) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
    {
        return branches
            .iter()
            .map(|b| describe(b, root))
            .filter(|d| d != "null" && !d.is_empty())
            .collect::<Vec<_>>()
            .join(" or ");
    }
    String::from("a value")
}

fn list_values(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => format!("`{s}`"),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn found(node: &Node) -> String {
    match &node.kind {
        NodeKind::Str(s) if s.len() <= 40 => format!("the string \"{s}\""),
        NodeKind::Int(i) => format!("the number {i}"),
        NodeKind::Float(f) => format!("the number {f}"),
        NodeKind::Bool(b) => format!("the boolean {b}"),
        _ => node.type_name().to_string(),
    }
}

/// The allowed values of a schema that is an enumeration: `enum`, or `oneOf`/`anyOf` of
/// `const` branches (how schemars writes enums whose variants are documented).
pub fn enum_values(schema: &Value, root: &Value) -> Option<Vec<Value>> {
    let schema = resolve(schema, root);
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return Some(values.clone());
    }
    let branches = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)?;
    let mut out = Vec::new();
    for b in branches {
        let b = resolve(b, root);
        if let Some(c) = b.get("const") {
            out.push(c.clone());
        } else if let Some(values) = b.get("enum").and_then(Value::as_array) {
            out.extend(values.iter().cloned());
        } else {
            return None;
        }
    }
    Some(out)
}

fn walk(
    node: &Node,
    schema: &Value,
    root: &Value,
    path: &mut Vec<PathSeg>,
    out: &mut Vec<SchemaIssue>,
) {
    let schema = resolve(schema, root);
    if let Some(values) = enum_values(schema, root) {
        check_enum(node, &values, path, out);
        return;
    }
    if let Some(branches) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
    {
        let mut best: Option<Vec<SchemaIssue>> = None;
        for b in branches {
            let mut tmp = Vec::new();
            walk(node, b, root, path, &mut tmp);
            if tmp.is_empty() {
                return;
            }
            // Prefer a branch whose top-level type matched (its problems are deeper).
            // (A missing field is a problem inside a matching mapping, not a type mismatch.)
            let shallow = tmp
                .iter()
                .any(|i| i.path.len() == path.len() && i.code != "missing-field");
            let score = tmp.len() + if shallow { 1000 } else { 0 };
            let best_score = best.as_ref().map_or(usize::MAX, |v| {
                v.len()
                    + if v
                        .iter()
                        .any(|i| i.path.len() == path.len() && i.code != "missing-field")
                    {
                        1000
                    } else {
                        0
                    }
            });
            if score < best_score {
                best = Some(tmp);
            }
        }
        if let Some(best) = best {
            if best
                .iter()
                .any(|i| i.path.len() == path.len() && i.code != "missing-field")
            {
                out.push(type_issue(node, &describe(schema, root), path));
            } else {
                out.extend(best);
            }
        }
        return;
    }
    if let Some(c) = schema.get("const") {
        if &node.to_json() != c {
            out.push(SchemaIssue {
                path: path.clone(),
                pos: node.pos,
                code: "invalid-value",
                message: format!(
                    "invalid value at `{}`: expected {c}, found {}",
                    path_string(path),
                    found(node)
                ),
                help: Some(format!("write {c}")),
                droppable: true,
                replacement: None,
            });
        }
        return;
    }
    let types = schema_types(schema);
    if !types.is_empty() && !types.iter().any(|t| type_matches(node, t)) {
        out.push(type_issue(node, &describe(schema, root), path));
        return;
    }
    match &node.kind {
        NodeKind::Map(entries) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let mut seen: Vec<&str> = Vec::new();
            for (k, v) in entries {
                let key = k.key_text();
                if seen.contains(&key.as_str()) {
                    out.push(SchemaIssue {
                        path: path.clone(),
                        pos: k.pos,
                        code: "duplicate-key",
                        message: format!("duplicate key `{key}` in `{}`", display_path(path)),
                        help: Some("remove one of the two entries".into()),
                        droppable: false,
                        replacement: None,
                    });
                    continue;
                }
                if let NodeKind::Str(s) = &k.kind {
                    seen.push(s.as_str());
                }
                path.push(PathSeg::Key(key.clone()));
                match props.and_then(|p| p.get(&key)) {
                    Some(sub) => walk(v, sub, root, path, out),
                    None => match additional {
                        Some(Value::Bool(false)) => {
                            let known: Vec<&str> = props
                                .map(|p| p.keys().map(String::as_str).collect())
                                .unwrap_or_default();
                            let help = did_you_mean(&key, known.iter().copied())
                                .map(|c| format!("did you mean `{c}`?"))
                                .unwrap_or_else(|| {
                                    format!(
                                        "remove it; the fields allowed here are: {}",
                                        known.join(", ")
                                    )
                                });
                            path.pop();
                            out.push(SchemaIssue {
                                path: {
                                    let mut p = path.clone();
                                    p.push(PathSeg::Key(key.clone()));
                                    p
                                },
                                pos: k.pos,
                                code: "unknown-field",
                                message: format!(
                                    "unknown field `{key}` in `{}`",
                                    display_path(path)
                                ),
                                help: Some(help),
                                droppable: true,
                                replacement: None,
                            });
                            continue;
                        }
                        Some(sub @ Value::Object(_)) => walk(v, sub, root, path, out),
                        _ => {}
                    },
                }
                path.pop();
            }
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for r in required.iter().filter_map(Value::as_str) {
                    if node.get(r).is_none() {
                        let expected = props
                            .and_then(|p| p.get(r))
                            .map(|s| describe(s, root))
                            .unwrap_or_default();
                        out.push(SchemaIssue {
                            path: path.clone(),
                            pos: node.pos,
                            code: "missing-field",
                            message: format!(
                                "missing field `{r}` in `{}` (expected {expected})",
                                display_path(path)
                            ),
                            help: Some(format!("add `{r}:`")),
                            droppable: false,
                            replacement: None,
                        });
                    }
                }
            }
        }
        NodeKind::Seq(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    path.push(PathSeg::Index(i));
                    walk(item, item_schema, root, path, out);
                    path.pop();
                }
            }
        }
        NodeKind::Int(_) | NodeKind::Float(_) => {
            let v = match node.kind {
                NodeKind::Int(i) => i as f64,
                NodeKind::Float(f) => f,
                _ => 0.0,
            };
            let min = schema.get("minimum").and_then(Value::as_f64);
            let max = schema.get("maximum").and_then(Value::as_f64);
            if min.is_some_and(|m| v < m) || max.is_some_and(|m| v > m) {
                out.push(SchemaIssue {
                    path: path.clone(),
                    pos: node.pos,
                    code: "out-of-range",
                    message: format!(
                        "`{}` is {v}, outside the allowed range {}..{}",
                        path_string(path),
                        min.map_or(String::new(), |m| m.to_string()),
                        max.map_or(String::new(), |m| m.to_string())
                    ),
                    help: Some("use a number inside the range".into()),
                    droppable: true,
                    replacement: None,
                });
            }
        }
        _ => {}
    }
}

fn check_enum(node: &Node, values: &[Value], path: &[PathSeg], out: &mut Vec<SchemaIssue>) {
    if values.contains(&node.to_json()) {
        return;
    }
    let names: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
    let help = match &node.kind {
        NodeKind::Str(s) => did_you_mean(s, names.iter().copied())
            .map(|c| format!("did you mean `{c}`?"))
            .or_else(|| Some(format!("use one of {}", list_values(values)))),
        _ => Some(format!("use one of {}", list_values(values))),
    };
    out.push(SchemaIssue {
        path: path.to_vec(),
        pos: node.pos,
        code: "invalid-value",
        message: format!(
            "invalid value at `{}`: expected one of {}, found {}",
            path_string(path),
            list_values(values),
            found(node)
        ),
        help,
        droppable: true,
        replacement: values.first().cloned(),
    });
}

fn display_path(path: &[PathSeg]) -> String {
    if path.is_empty() {
        "the document".to_string()
    } else {
        path_string(path)
    }
}

fn type_issue(node: &Node, expected: &str, path: &[PathSeg]) -> SchemaIssue {
    let help = match (&node.kind, expected) {
        (NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_), e)
            if e.starts_with("a string") =>
        {
            Some("quote the value so YAML reads it as text, e.g. \"1.0\"".to_string())
        }
        (NodeKind::Map(_), e) if e.contains("list") => {
            Some("write the entries as a list, each starting with `- `".to_string())
        }
        (NodeKind::Null, _) => Some("give a value, or remove the key".to_string()),
        _ => Some(format!("write {expected} here")),
    };
    SchemaIssue {
        path: path.to_vec(),
        pos: node.pos,
        code: "wrong-type",
        message: format!(
            "wrong type at `{}`: expected {expected}, found {}",
            display_path(path),
            found(node)
        ),
        help,
        droppable: true,
        replacement: None,
    }
}
