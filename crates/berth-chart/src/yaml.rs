//! YAML as Helm reads it: go-yaml v2 (YAML 1.1) through `sigs.k8s.io/yaml`, i.e.
//! YAML → JSON → Go `any`. Two consequences a Helm-compatible reader must keep:
//! every number becomes a float64, and map keys that YAML 1.1 resolves to other
//! types (`on:`, `n:`, `1:`) become their JSON string form (`"true"`, `"false"`, `"1"`).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;
use std::sync::Arc;

/// A YAML document read the way Helm reads it; `FLOATS` turns every number
/// into a float64 (values files), otherwise integers stay integers (objects).
pub(crate) struct GoYamlT<const FLOATS: bool>(pub Value);
pub(crate) type GoYaml = GoYamlT<true>;
type KubeYaml = GoYamlT<false>;

fn float(f: f64) -> Value {
    Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

impl<'de, const F: bool> Deserialize<'de> for GoYamlT<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(GoYamlVisitor::<F>).map(GoYamlT)
    }
}

struct GoYamlVisitor<const F: bool>;

fn int(v: i64, floats: bool) -> Value {
    if floats {
        float(v as f64)
    } else {
        Value::from(v)
    }
}

impl<'de, const F: bool> Visitor<'de> for GoYamlVisitor<F> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(int(v, F))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => int(i, F),
            Err(_) => float(v as f64),
        })
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(float(v as f64))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(float(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        if v.is_finite() {
            Ok(float(v))
        } else {
            Err(E::custom("infinity and NaN cannot be represented in JSON"))
        }
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::String(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        GoYamlT::<F>::deserialize(d).map(|g| g.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(GoYamlT::<F>(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(GoKey(k)) = map.next_key()? {
            let GoYamlT::<F>(v) = map.next_value()?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// A map key, stringified as `sigs.k8s.io/yaml` does.
struct GoKey(String);

impl<'de> Deserialize<'de> for GoKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(GoKeyVisitor).map(GoKey)
    }
}

struct GoKeyVisitor;

impl Visitor<'_> for GoKeyVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar map key")
    }
    fn visit_bool<E>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E>(self, v: f64) -> Result<String, E> {
        Ok(crate::gofmt::format_float_g(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_string<E>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_unit<E>(self) -> Result<String, E> {
        Ok("null".to_owned())
    }
    fn visit_none<E>(self) -> Result<String, E> {
        Ok("null".to_owned())
    }
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! { legacy_octal_numbers: true }
}

/// Parsed values files, Chart.yaml and requirements.yaml by text, for the processes that
/// load the same chart again (see `berth_template::memo`). A tree takes several times its
/// text's size, so the memo holds 16 MiB of text.
static DOCUMENTS: std::sync::LazyLock<berth_template::memo::Memo<Arc<Vec<Value>>>> =
    std::sync::LazyLock::new(|| berth_template::memo::Memo::new(16 << 20));

/// Forgets the parsed files and the file contents this process keeps (for measurements of a
/// first load).
pub fn clear_caches() {
    DOCUMENTS.clear();
    VALUES.clear();
    crate::filecache::clear();
    crate::treecache::clear();
    crate::schema::clear();
    crate::manifest::clear_heads();
    berth_template::clear_caches();
}

/// Parses every document of a YAML stream the way Helm parses values files.
/// Errors carry the parser's line and column.
pub(crate) fn parse_documents(text: &str) -> Result<Arc<Vec<Value>>, String> {
    DOCUMENTS.get_or_try("", text, || {
        let docs: Vec<GoYaml> =
            serde_saphyr::from_multiple_with_options(text, options()).map_err(|e| e.to_string())?;
        Ok(Arc::new(docs.into_iter().map(|d| d.0).collect()))
    })
}

/// Parses one rendered Kubernetes document (integers kept as integers).
pub fn parse_object(text: &str) -> Result<Value, String> {
    let docs: Vec<KubeYaml> =
        serde_saphyr::from_multiple_with_options(text, options()).map_err(|e| e.to_string())?;
    Ok(docs.into_iter().next().map(|d| d.0).unwrap_or(Value::Null))
}

/// Parses one YAML document (the first when there are several) into a value.
pub(crate) fn parse_value(text: &str) -> Result<Value, String> {
    Ok(parse_documents(text)?
        .first()
        .cloned()
        .unwrap_or(Value::Null))
}

/// Values files parsed, by text, shared (see [`DOCUMENTS`]).
static VALUES: std::sync::LazyLock<berth_template::memo::Memo<Arc<Map<String, Value>>>> =
    std::sync::LazyLock::new(|| berth_template::memo::Memo::new(16 << 20));

/// [`parse_values`], shared and kept by text for the rest of the process.
pub(crate) fn parse_values_shared(text: &str) -> Result<Arc<Map<String, Value>>, String> {
    VALUES.get_or_try("", text, || parse_values(text).map(Arc::new))
}

/// Parses a values file: all documents merged (later documents win, tables
/// merged), an empty file or a top-level null giving an empty table.
pub fn parse_values(text: &str) -> Result<Map<String, Value>, String> {
    let docs = parse_documents(text)?;
    if let [Value::Object(m)] = docs.as_slice() {
        return Ok(m.clone());
    }
    let mut out = Map::new();
    for doc in docs.iter().cloned() {
        match doc {
            Value::Null => {}
            Value::Object(m) => merge_maps(&mut out, m),
            other => {
                return Err(format!(
                    "a values document must be a mapping (key: value), found {}",
                    kind_name(&other)
                ));
            }
        }
    }
    Ok(out)
}

fn merge_maps(a: &mut Map<String, Value>, b: Map<String, Value>) {
    for (k, v) in b {
        match (a.get_mut(&k), v) {
            (Some(Value::Object(am)), Value::Object(bm)) => merge_maps(am, bm),
            (_, v) => {
                a.insert(k, v);
            }
        }
    }
}

pub(crate) fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_floats_and_keys_strings() {
        let v = parse_values("n: 1\non: off\n1: one\noct: 0755\nf: 1.5\nl: [1, a]\n").unwrap();
        let j = serde_json::to_string(&v).unwrap();
        assert_eq!(
            j,
            r#"{"false":1.0,"true":false,"1":"one","oct":493.0,"f":1.5,"l":[1.0,"a"]}"#
        );
    }

    #[test]
    fn documents_merge_and_empty_is_empty() {
        let v = parse_values("a: {b: 1}\n---\na: {c: 2}\n").unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"a":{"b":1.0,"c":2.0}}"#
        );
        assert!(parse_values("").unwrap().is_empty());
        assert!(parse_values("# only a comment\n").unwrap().is_empty());
        assert!(parse_values("- a\n").is_err());
    }
}
