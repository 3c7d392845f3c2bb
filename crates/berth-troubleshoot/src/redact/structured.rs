//! Structured redaction: find secret values in JSON and YAML documents by their keys, and
//! yamlPath removals.

use regex::bytes::Regex;
use serde_json::Value;

use super::rules::is_secret_key;

/// Keys that point at a secret instead of holding it (`secretKeyRef: {name, key}`): under a
/// secret-named parent these stop the "everything below is secret" rule.
fn is_reference_key(k: &str) -> bool {
    let n: String = k
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    [
        "name",
        "namespace",
        "key",
        "optional",
        "kind",
        "apiversion",
        "type",
        "user",
        "username",
        "host",
        "hostname",
        "port",
        "region",
        "database",
        "db",
        "scheme",
        "protocol",
        "url",
        "endpoint",
        "enabled",
        "existingsecret",
    ]
    .contains(&n.as_str())
        || n.ends_with("ref")
        || n.ends_with("name")
}

fn looks_structured(path: &str, data: &[u8]) -> Option<bool> {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".json") {
        return Some(true);
    }
    if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        return Some(false);
    }
    let first = data.iter().find(|b| !b.is_ascii_whitespace())?;
    matches!(first, b'{' | b'[').then_some(true)
}

/// Secret strings found in a JSON/YAML file, as literal byte strings to mask (raw and
/// JSON-escaped forms). Empty for other files or unparsable ones.
pub(crate) fn secret_values(path: &str, data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let Some(is_json) = looks_structured(path, data) else {
        return Vec::new();
    };
    let mut docs = Vec::new();
    if is_json {
        match serde_json::from_slice::<Value>(data) {
            Ok(v) => docs.push(v),
            Err(_) => return Vec::new(),
        }
    } else {
        let Ok(text) = std::str::from_utf8(data) else {
            return Vec::new();
        };
        for doc in text.split("\n---\n") {
            if let Ok(v) = serde_saphyr::from_str::<Value>(doc) {
                docs.push(v);
            }
        }
    }
    let mut found: Vec<String> = Vec::new();
    for d in &docs {
        walk(d, false, &mut found);
    }
    found.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    found.dedup();
    let mut out = Vec::new();
    for s in found {
        if let Ok(esc) = serde_json::to_string(&s) {
            let esc = &esc[1..esc.len() - 1];
            if esc != s {
                out.push(("structured".to_string(), esc.as_bytes().to_vec()));
            }
        }
        out.push(("structured".to_string(), s.into_bytes()));
    }
    out
}

fn walk(v: &Value, secret: bool, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            let t = s.trim();
            if secret && !t.is_empty() && t != super::MASK && !t.starts_with("***TOKEN_") {
                // Multi-line values (PEM in YAML) are masked line by line.
                for line in t
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.len() >= 4 && !l.starts_with("-----"))
                {
                    out.push(line.to_string());
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| walk(x, secret, out)),
        Value::Object(m) => {
            let is_secret_object = m.get("kind").and_then(Value::as_str) == Some("Secret");
            // Env entries: {name: DB_PASSWORD, value: ...}
            let env_secret = m
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(is_secret_key)
                && m.contains_key("value");
            for (k, child) in m {
                let child_secret = is_secret_key(k)
                    || (secret && !is_reference_key(k))
                    || (is_secret_object && (k == "data" || k == "stringData"))
                    || (env_secret && k == "value");
                walk(child, child_secret, out);
            }
        }
        _ => {}
    }
}

/// Literal secrets of one file, matched at word boundaries.
pub(crate) struct Literals {
    re: Regex,
}

pub(crate) fn literal_matcher(values: &[(String, Vec<u8>)]) -> Option<Literals> {
    if values.is_empty() {
        return None;
    }
    let alts: Vec<String> = values
        .iter()
        .map(|(_, v)| regex::escape(&String::from_utf8_lossy(v)))
        .collect();
    regex::bytes::RegexBuilder::new(&alts.join("|"))
        .size_limit(64 * 1024 * 1024)
        .build()
        .ok()
        .map(|re| Literals { re })
}

impl Literals {
    /// Replaces every occurrence that is not part of a longer word; `None` when none.
    pub(crate) fn replace(&self, line: &[u8], mask: &dyn Fn(&[u8]) -> Vec<u8>) -> Option<Vec<u8>> {
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let mut out = Vec::new();
        let mut last = 0;
        for m in self.re.find_iter(line) {
            let s = m.as_bytes();
            let (Some(&first), Some(&last_byte)) = (s.first(), s.last()) else {
                continue;
            };
            let before_ok = m.start() == 0 || !(word(line[m.start() - 1]) && word(first));
            let after_ok = m.end() == line.len() || !(word(line[m.end()]) && word(last_byte));
            if !before_ok || !after_ok {
                continue;
            }
            out.extend_from_slice(&line[last..m.start()]);
            out.extend_from_slice(&mask(s));
            last = m.end();
        }
        if last == 0 && out.is_empty() {
            return None;
        }
        out.extend_from_slice(&line[last..]);
        Some(out)
    }
}

/// Applies a yamlPath removal (`a.b.0.c`, `*` = every item): the whole file is re-emitted as
/// YAML when something was replaced; `None` when the file is not YAML or nothing matched.
pub(crate) fn redact_yaml_path(
    data: &[u8],
    segs: &[String],
    mask: &dyn Fn(&[u8]) -> Vec<u8>,
) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(data).ok()?;
    let docs: Vec<&str> = text.split("\n---\n").collect();
    let mut changed = false;
    let mut parsed = Vec::new();
    for d in &docs {
        let mut v: Value = serde_saphyr::from_str(d).ok()?;
        if set_path(&mut v, segs, mask) {
            changed = true;
        }
        parsed.push(v);
    }
    if !changed {
        return None;
    }
    let mut out = String::new();
    for (i, v) in parsed.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_saphyr::to_string(v).ok()?);
    }
    Some(out.into_bytes())
}

fn set_path(v: &mut Value, segs: &[String], mask: &dyn Fn(&[u8]) -> Vec<u8>) -> bool {
    let Some((first, rest)) = segs.split_first() else {
        let old = match &*v {
            Value::String(s) => s.clone().into_bytes(),
            other => other.to_string().into_bytes(),
        };
        *v = Value::String(String::from_utf8_lossy(&mask(&old)).into_owned());
        return true;
    };
    match v {
        Value::Object(m) => {
            if first == "*" {
                let mut any = false;
                for c in m.values_mut() {
                    any |= set_path(c, rest, mask);
                }
                any
            } else {
                m.get_mut(first).is_some_and(|c| set_path(c, rest, mask))
            }
        }
        Value::Array(a) => {
            if first == "*" {
                let mut any = false;
                for c in a.iter_mut() {
                    any |= set_path(c, rest, mask);
                }
                any
            } else {
                first
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| a.get_mut(i))
                    .is_some_and(|c| set_path(c, rest, mask))
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_secrets() {
        let doc = br#"{"a": {"db": {"password": "p@ss w0rd", "host": "db1"}}, "credentials": {"user": "u1", "secretRef": {"name": "n"}},
            "env": [{"name": "API_TOKEN", "value": "t0ken"}], "secretName": "tls"}"#;
        let vals: Vec<String> = secret_values("x.json", doc)
            .into_iter()
            .map(|(_, v)| String::from_utf8(v).unwrap())
            .collect();
        assert!(vals.contains(&"p@ss w0rd".to_string()));
        assert!(
            !vals.contains(&"u1".to_string()),
            "usernames are not secrets"
        );
        assert!(vals.contains(&"t0ken".to_string()));
        assert!(!vals.contains(&"db1".to_string()));
        assert!(!vals.contains(&"tls".to_string()));
        assert!(!vals.contains(&"n".to_string()));
    }

    #[test]
    fn yaml_path() {
        let y = b"a:\n  b:\n  - c: x\n  - c: y\nd: keep\n";
        let segs: Vec<String> = "a.b.*.c".split('.').map(String::from).collect();
        let out = redact_yaml_path(y, &segs, &|_| b"***HIDDEN***".to_vec()).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(!s.contains(": x") && !s.contains(": y"), "{s}");
        assert!(s.contains("keep"));
        assert!(redact_yaml_path(y, &["zz".to_string()], &|_| Vec::new()).is_none());
    }
}
