//! Helm's own template functions (`pkg/engine/funcs.go`, `engine.go`): include, tpl,
//! required, fail, the YAML/JSON/TOML converters and lookup.

use super::{FnErr, Func, Res, s, strval, want_n};
use crate::exec::Exec;
use crate::gofmt;
use crate::value::{MapData, Value};
use crate::yaml;
use std::sync::Arc;

pub(super) fn register(m: &mut crate::fasthash::FastMap<&'static str, Func>) {
    m.insert("include", include);
    m.insert("tpl", tpl);
    m.insert("required", |_, a| {
        want_n("required", a, 2)?;
        let msg = s(a, 0)?;
        match &a[1] {
            Value::Nil => Err(FnErr::Fail(msg.to_string())),
            Value::String(x) if x.is_empty() => Err(FnErr::Fail(msg.to_string())),
            v => Ok(v.clone()),
        }
    });
    m.insert("fail", |_, a| {
        want_n("fail", a, 1)?;
        Err(FnErr::Fail(s(a, 0)?.to_string()))
    });
    m.insert("toYaml", |_, a| {
        want_n("toYaml", a, 1)?;
        Ok(Value::str(trim_nl(yaml::to_yaml(&a[0]))))
    });
    m.insert("mustToYaml", |_, a| {
        want_n("mustToYaml", a, 1)?;
        Ok(Value::str(trim_nl(yaml::to_yaml(&a[0]))))
    });
    m.insert("toYamlPretty", |_, a| {
        want_n("toYamlPretty", a, 1)?;
        Ok(Value::str(trim_nl(yaml::to_yaml_pretty(&a[0]))))
    });
    m.insert("fromYaml", |_, a| {
        want_n("fromYaml", a, 1)?;
        Ok(from_yaml(s(a, 0)?))
    });
    m.insert("fromYamlArray", |_, a| {
        want_n("fromYamlArray", a, 1)?;
        Ok(from_yaml_array(s(a, 0)?))
    });
    m.insert("toJson", |_, a| {
        want_n("toJson", a, 1)?;
        Ok(Value::str(to_json(&a[0], true, None)))
    });
    m.insert("mustToJson", |_, a| {
        want_n("mustToJson", a, 1)?;
        Ok(Value::str(to_json(&a[0], true, None)))
    });
    m.insert("toPrettyJson", |_, a| {
        want_n("toPrettyJson", a, 1)?;
        Ok(Value::str(to_json(&a[0], true, Some("  "))))
    });
    m.insert("mustToPrettyJson", |_, a| {
        want_n("mustToPrettyJson", a, 1)?;
        Ok(Value::str(to_json(&a[0], true, Some("  "))))
    });
    m.insert("toRawJson", |_, a| {
        want_n("toRawJson", a, 1)?;
        Ok(Value::str(to_json(&a[0], false, None)))
    });
    m.insert("mustToRawJson", |_, a| {
        want_n("mustToRawJson", a, 1)?;
        Ok(Value::str(to_json(&a[0], false, None)))
    });
    m.insert("fromJson", |_, a| {
        want_n("fromJson", a, 1)?;
        let src = s(a, 0)?;
        Ok(match serde_json::from_str::<serde_json::Value>(src) {
            Ok(serde_json::Value::Object(o)) => Value::from_json(serde_json::Value::Object(o)),
            Ok(serde_json::Value::Null) => Value::empty_map(),
            Ok(other) => error_map(&format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&other)
            )),
            Err(e) => error_map(&go_json_error(&e)),
        })
    });
    m.insert("mustFromJson", |_, a| {
        want_n("mustFromJson", a, 1)?;
        let src = s(a, 0)?;
        match serde_json::from_str::<serde_json::Value>(src) {
            Ok(v) => Ok(Value::from_json(v)),
            Err(e) => Err(FnErr::Call(e.to_string())),
        }
    });
    m.insert("fromJsonArray", |_, a| {
        want_n("fromJsonArray", a, 1)?;
        let src = s(a, 0)?;
        Ok(match serde_json::from_str::<serde_json::Value>(src) {
            Ok(serde_json::Value::Array(v)) => Value::from_json(serde_json::Value::Array(v)),
            Ok(serde_json::Value::Null) => Value::list(Vec::new()),
            Ok(other) => Value::list(vec![Value::str(format!(
                "json: cannot unmarshal {} into Go value of type []interface {{}}",
                json_kind(&other)
            ))]),
            Err(e) => Value::list(vec![Value::str(go_json_error(&e))]),
        })
    });
    m.insert("toToml", |_, a| {
        want_n("toToml", a, 1)?;
        Ok(Value::str(to_toml(&a[0])))
    });
    m.insert("lookup", |ex, a| {
        want_n("lookup", a, 4)?;
        let (av, k, ns, n) = (s(a, 0)?, s(a, 1)?, s(a, 2)?, s(a, 3)?);
        match &ex.set.lookup {
            None => Ok(Value::empty_map()),
            Some(f) => f(av, k, ns, n).map_err(FnErr::Call),
        }
    });
}

/// encoding/json's wording for the common syntax errors.
fn go_json_error(e: &serde_json::Error) -> String {
    if e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    e.to_string()
}

fn trim_nl(mut s: String) -> String {
    if s.ends_with('\n') {
        s.pop();
    }
    s
}

fn error_map(msg: &str) -> Value {
    let mut m = MapData::new();
    m.insert("Error".into(), Value::str(msg));
    Value::map(m)
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

fn include(ex: &mut Exec, a: &[Value]) -> Res {
    want_n("include", a, 2)?;
    let name = s(a, 0)?.to_string();
    let out = ex.include(&name, &a[1])?;
    Ok(Value::str(out))
}

fn tpl(ex: &mut Exec, a: &[Value]) -> Res {
    want_n("tpl", a, 2)?;
    let src = s(a, 0)?.to_string();
    let parsed = match crate::parse_memo("gotpl", &src) {
        Ok(x) => x,
        Err(crate::TemplateError::Parse {
            name, line, msg, ..
        }) => {
            return Err(FnErr::Call(format!(
                "cannot parse template {:?}: template: {name}:{line}: {msg}",
                src
            )));
        }
        Err(e) => {
            return Err(FnErr::Call(format!(
                "cannot parse template {:?}: {}",
                src, e
            )));
        }
    };
    let (tree, defines) = &*parsed;
    let mut overlay = crate::fasthash::FastMap::default();
    for d in defines {
        overlay.insert(d.name.clone(), d.clone());
    }
    ex.overlay.push(overlay);
    let mut out = String::new();
    let r = ex.run_tree(tree, &a[1], &mut out);
    ex.overlay.pop();
    match r {
        Ok(()) => Ok(Value::str(out.replace("<no value>", ""))),
        Err(e) => {
            if e.fail.is_some() {
                return Err(FnErr::Exec(e));
            }
            Err(FnErr::Call(format!(
                "error during tpl function execution for {:?}: {}",
                src, e
            )))
        }
    }
}

/// Documents `fromYaml`/`fromYamlArray` parsed, by text: charts parse the same rendered
/// snippets (`tpl` of a values block, a helper's output) in every template and every render.
/// Each call still builds its own maps from the kept tree (maps are mutable).
static PARSED_YAML: std::sync::LazyLock<crate::memo::Memo<Arc<serde_json::Value>>> =
    std::sync::LazyLock::new(|| crate::memo::Memo::new(8 << 20));

/// [`parse_yaml_first`] through [`PARSED_YAML`].
fn parse_yaml_kept(src: &str) -> Result<Arc<serde_json::Value>, String> {
    PARSED_YAML.get_or_try("", src, || parse_yaml_first(src).map(Arc::new))
}

/// Forgets the parsed `fromYaml` documents.
pub(crate) fn clear_parsed_yaml() {
    PARSED_YAML.clear();
}

/// sigs.k8s.io/yaml Unmarshal of the first document into a map (errors → `{Error: msg}`).
pub(crate) fn from_yaml(src: &str) -> Value {
    match parse_yaml_kept(src).as_deref() {
        Ok(o @ serde_json::Value::Object(_)) => Value::from_json_ref(o),
        Ok(serde_json::Value::Null) => Value::empty_map(),
        Ok(other) => error_map(&format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_kind(other)
        )),
        Err(e) => error_map(e),
    }
}

fn from_yaml_array(src: &str) -> Value {
    match parse_yaml_kept(src).as_deref() {
        Ok(a @ serde_json::Value::Array(_)) => Value::from_json_ref(a),
        Ok(serde_json::Value::Null) => Value::list(Vec::new()),
        Ok(other) => Value::list(vec![Value::str(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
            json_kind(other)
        ))]),
        Err(e) => Value::list(vec![Value::str(e)]),
    }
}

/// Parses YAML (first document only) into JSON the way Helm reads values.
pub fn parse_yaml_first(src: &str) -> Result<serde_json::Value, String> {
    let opts = serde_saphyr::options! {
        legacy_octal_numbers: true,
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::LastWins,
    };
    if first_document_empty(src) {
        return Ok(serde_json::Value::Null);
    }
    match serde_saphyr::from_multiple_with_options::<serde_json::Value>(src, opts) {
        Ok(docs) => Ok(docs.into_iter().next().unwrap_or(serde_json::Value::Null)),
        Err(e) => Err(format!(
            "error converting YAML to JSON: yaml: {}",
            first_line(&e.to_string())
        )),
    }
}

/// True when the stream starts with an empty document (`---` twice before any content).
fn first_document_empty(src: &str) -> bool {
    let mut starts = 0;
    for line in src.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with('%') {
            continue;
        }
        if t == "---" || t.starts_with("--- ") {
            starts += 1;
            if starts >= 2 {
                return true;
            }
            if t != "---" {
                return false;
            }
            continue;
        }
        return false;
    }
    false
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// encoding/json Marshal (sorted keys; `html` escapes <, >, &; `indent` = MarshalIndent).
pub fn to_json(v: &Value, html: bool, indent: Option<&str>) -> String {
    let mut out = String::new();
    write_json(&mut out, v, html, indent, 0);
    out
}

fn write_json_str(out: &mut String, s: &str, html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if html => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            // encoding/json writes a byte that is not UTF-8 as the escape \ufffd.
            c if crate::bytes::raw_byte(c).is_some() => out.push_str("\\ufffd"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn newline_indent(out: &mut String, indent: Option<&str>, depth: usize) {
    if let Some(ind) = indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(ind);
        }
    }
}

fn write_json(out: &mut String, v: &Value, html: bool, indent: Option<&str>, depth: usize) {
    if depth > 1000 {
        out.push_str("null");
        return;
    }
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Uint64(u) => out.push_str(&u.to_string()),
        Value::Float(f) => {
            if f.is_finite() {
                out.push_str(&gofmt::float_json(*f))
            } else {
                out.push_str("null")
            }
        }
        Value::String(s) => write_json_str(out, s, html),
        Value::List(l) => {
            if l.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline_indent(out, indent, depth + 1);
                write_json(out, x, html, indent, depth + 1);
            }
            newline_indent(out, indent, depth);
            out.push(']');
        }
        Value::Map(m) => {
            let m = m.read();
            if m.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline_indent(out, indent, depth + 1);
                write_json_str(out, k, html);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_json(out, x, html, indent, depth + 1);
            }
            newline_indent(out, indent, depth);
            out.push('}');
        }
        Value::Object(o) => {
            let j = o.to_json();
            write_json(out, &Value::from_json_keep_ints(&j), html, indent, depth)
        }
    }
}

/// BurntSushi/toml encoding of a map (scalars first, then tables; floats keep a `.0`).
fn to_toml(v: &Value) -> String {
    let Some(m) = v.as_map() else {
        return toml_scalar(v).unwrap_or_default();
    };
    let mut out = String::new();
    toml_table(&mut out, &m.snapshot(), &mut Vec::new(), 0);
    out
}

fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
    {
        k.to_string()
    } else {
        gofmt::quote(k)
    }
}

fn toml_scalar(v: &Value) -> Option<String> {
    Some(match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) | Value::Int64(i) => i.to_string(),
        Value::Uint64(u) => u.to_string(),
        Value::Float(f) => {
            if f.is_nan() {
                "nan".into()
            } else if f.is_infinite() {
                if *f > 0.0 {
                    "inf".into()
                } else {
                    "-inf".into()
                }
            } else {
                let s = gofmt::format_g(*f, None, false);
                if s.contains(['.', 'e', 'n', 'N', 'I']) {
                    s
                } else {
                    format!("{s}.0")
                }
            }
        }
        Value::String(s) => gofmt::quote(s),
        Value::List(l) => {
            if l.iter().all(|x| matches!(x, Value::Map(_))) && !l.is_empty() {
                return None;
            }
            let items: Vec<String> = l.iter().filter_map(toml_scalar).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(_) => return None,
        Value::Nil => return None,
        Value::Object(_) => strval(v),
    })
}

fn toml_table(out: &mut String, m: &MapData, path: &mut Vec<String>, depth: usize) {
    if depth > 100 {
        return;
    }
    let ind = "  ".repeat(depth);
    for (k, v) in m {
        if let Some(s) = toml_scalar(v) {
            out.push_str(&format!("{ind}{} = {}\n", toml_key(k), s));
        }
    }
    for (k, v) in m {
        match v {
            Value::Map(sub) => {
                path.push(toml_key(k));
                let ind2 = "  ".repeat(depth);
                out.push_str(&format!("\n{ind2}[{}]\n", path.join(".")));
                toml_table(out, &sub.snapshot(), path, depth + 1);
                path.pop();
            }
            Value::List(l) if !l.is_empty() && l.iter().all(|x| matches!(x, Value::Map(_))) => {
                path.push(toml_key(k));
                let ind2 = "  ".repeat(depth);
                for x in l.iter() {
                    if let Value::Map(sub) = x {
                        out.push_str(&format!("\n{ind2}[[{}]]\n", path.join(".")));
                        toml_table(out, &sub.snapshot(), path, depth + 1);
                    }
                }
                path.pop();
            }
            _ => {}
        }
    }
}
