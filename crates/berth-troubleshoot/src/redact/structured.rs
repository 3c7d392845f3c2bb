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
        "path",
        "mountpath",
        "mode",
        "defaultmode",
        "audience",
        "expirationseconds",
    ]
    .contains(&n.as_str())
        || n.ends_with("ref")
        || n.ends_with("name")
}

/// Lower-case words one of which a line must hold for the structure around it to be parsed:
/// every key [`is_secret_key`] accepts, `kind: Secret` and env names contain one of them.
pub(crate) const STRUCT_TRIGGERS: &[&str] = &[
    "pass",
    "pw",
    "secret",
    "token",
    "key",
    "credential",
    "auth",
    "signature",
    "dsn",
    "connection",
    "salt",
    "hmac",
    "cookie",
    "docker",
];

/// A span (embedded document) larger than this is not parsed; line rules still apply.
const MAX_SPAN: usize = 64 * 1024 * 1024;
/// How many `{`/`[` positions of one plain-text line are tried as the start of JSON.
const MAX_INLINE_STARTS: usize = 8;
/// Strings holding documents (a ConfigMap's `app.yaml`) are parsed this deep.
const MAX_NESTED_DOCS: u8 = 2;

/// How a line takes part in YAML/JSON structure (decided from its first bytes only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    /// Blank, comment, document marker, indented, a top-level `key:` / `- item`, or a line
    /// opening or closing a top-level JSON value: can belong to a document.
    Structure,
    /// A top-level line of anything else (a log line, a shell prompt, a table row).
    Other,
}

fn classify(line: &[u8]) -> LineKind {
    let Some(&first) = line.first() else {
        return LineKind::Structure;
    };
    if first == b' ' || first == b'\t' || line.iter().all(|b| b.is_ascii_whitespace()) {
        return LineKind::Structure;
    }
    match first {
        b'#' | b'{' | b'[' | b'}' | b']' => return LineKind::Structure,
        b'-' => {
            return if line.starts_with(b"---") || line.starts_with(b"- ") || line == b"-" {
                LineKind::Structure
            } else {
                LineKind::Other
            };
        }
        b'.' if line.starts_with(b"...") => return LineKind::Structure,
        _ => {}
    }
    // `key:` followed by a space or the end: a top-level mapping key without spaces (so
    // `2026-12-04T10:00:00Z INFO x: y` and `ERROR failed: boom` stay plain text).
    let key_end = if first == b'"' || first == b'\'' {
        line[1..].iter().position(|&b| b == first).map(|p| p + 2)
    } else {
        line.iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/')))
    };
    match key_end {
        Some(e) if line.get(e) == Some(&b':') => match line.get(e + 1) {
            None | Some(b' ') | Some(b'\t') | Some(b'\r') => LineKind::Structure,
            _ => LineKind::Other,
        },
        _ => LineKind::Other,
    }
}

/// Bounds of the key-like word holding `pos`.
fn word_at(data: &[u8], pos: usize) -> (usize, usize) {
    let word = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/');
    let start = data[..pos]
        .iter()
        .rposition(|&b| !word(b))
        .map_or(0, |p| p + 1);
    let end = data[pos..]
        .iter()
        .position(|&b| !word(b))
        .map_or(data.len(), |p| pos + p);
    (start, end)
}

/// A word that can start a secret in a document: a secret-naming key or env name, `key`
/// (`{"api": {"key": …}}`) or the kind `Secret`.
fn names_secret(word: &[u8]) -> bool {
    let Ok(w) = std::str::from_utf8(word) else {
        return false;
    };
    let w = w.trim_matches(|c| c == '.' || c == '-' || c == '/');
    w.eq_ignore_ascii_case("key") || w == "Secret" || is_secret_key(w)
}

/// Bounds of the line holding `pos`: (start, end without `\n`).
fn line_at(data: &[u8], pos: usize) -> (usize, usize) {
    let start = data[..pos]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let end = data[pos..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(data.len(), |p| pos + p);
    (start, end)
}

/// Secret strings found by structure in `data` (a whole file or a chunk of one), as literal
/// byte strings to mask (raw and JSON-escaped forms).
///
/// Structure is found by content, not by name: a file that is entirely JSON (or JSON Lines)
/// is parsed whole; otherwise every line holding a trigger word is placed in its run of
/// structure lines (a YAML document, a pretty-printed JSON value, `kubectl ... -o yaml`
/// inside command output) and that run is parsed, or, on a plain-text line, JSON that starts
/// on it. Each line is parsed at most once: `covered` only moves forward, so the work is
/// linear in the input.
pub(crate) fn secret_values(data: &[u8], trigger: &Regex) -> Vec<(String, Vec<u8>)> {
    let mut scan = super::TriggerScan::default();
    let Some(first_hit) = scan.find(trigger, data, 0) else {
        return Vec::new();
    };
    let mut found: Vec<String> = Vec::new();
    let first = data.iter().find(|b| !b.is_ascii_whitespace());
    let whole_json = matches!(first, Some(b'{' | b'['))
        && data.len() <= MAX_SPAN
        && parse_json_stream(data, &mut found);
    if !whole_json {
        found.clear();
        let mut covered = 0;
        let mut hit = Some(first_hit);
        while let Some(h) = hit {
            // Only a word that names a secret (or a Secret, or `key`) makes the structure
            // around it worth parsing: `cache_key` in a JSON log line does not.
            let (ws, we) = word_at(data, h);
            if !names_secret(&data[ws..we]) {
                hit = scan.find(trigger, data, we.max(h + 1));
                continue;
            }
            let (ls, le) = line_at(data, h);
            covered = if classify(&data[ls..le]) == LineKind::Other {
                inline_json(&data[ls..le], &mut found);
                le + 1
            } else {
                structure_span(data, ls, le, covered, &mut found)
            };
            hit = scan.find(trigger, data, covered);
        }
    }
    literals(found)
}

/// Parses the run of structure lines around the line `ls..le` (not before `covered`); returns
/// where the run ends.
fn structure_span(
    data: &[u8],
    ls: usize,
    le: usize,
    covered: usize,
    found: &mut Vec<String>,
) -> usize {
    let mut start = ls;
    while start > covered {
        let (ps, pe) = line_at(data, start - 1);
        if ps < covered || classify(&data[ps..pe]) == LineKind::Other {
            break;
        }
        start = ps;
    }
    let mut end = le;
    while end < data.len() {
        let (ns, ne) = line_at(data, end + 1);
        if ns >= data.len() || classify(&data[ns..ne]) == LineKind::Other {
            break;
        }
        end = ne;
    }
    let span = &data[start..end];
    if span.len() <= MAX_SPAN {
        let first = span.iter().find(|b| !b.is_ascii_whitespace());
        let as_json = matches!(first, Some(b'{' | b'[')) && parse_json_stream(span, found);
        if !as_json && let Ok(text) = std::str::from_utf8(span) {
            for doc in yaml_documents(text) {
                if let Ok(v) = serde_saphyr::from_str::<Value>(doc) {
                    walk(&v, Ctx::default(), found);
                } else {
                    // A run mixing YAML with lines it cannot hold (output interleaved with
                    // a document): each top-level block alone.
                    for block in top_level_blocks(doc) {
                        if let Ok(v) = serde_saphyr::from_str::<Value>(block) {
                            walk(&v, Ctx::default(), found);
                        }
                    }
                }
            }
        }
    }
    end + 1
}

/// Every JSON value in `data` (whitespace-separated: one document, JSON Lines, concatenated
/// output). True when all of `data` parsed; values before an error are walked anyway.
fn parse_json_stream(data: &[u8], found: &mut Vec<String>) -> bool {
    let mut stream = serde_json::Deserializer::from_slice(data).into_iter::<Value>();
    for v in stream.by_ref() {
        match v {
            Ok(v) => walk(&v, Ctx::default(), found),
            Err(_) => return false,
        }
    }
    true
}

/// JSON values that start on a plain-text line (`... INFO config {"api":{"key":"…"}}`).
fn inline_json(line: &[u8], found: &mut Vec<String>) {
    let mut from = 0;
    let mut tries = 0;
    while tries < MAX_INLINE_STARTS {
        let Some(p) = line[from..].iter().position(|&b| b == b'{' || b == b'[') else {
            return;
        };
        tries += 1;
        let at = from + p;
        let mut stream = serde_json::Deserializer::from_slice(&line[at..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(v)) => {
                walk(&v, Ctx::default(), found);
                from = at + stream.byte_offset().max(1);
            }
            _ => from = at + 1,
        }
    }
}

/// YAML documents of a text, split at `---` / `...` lines.
fn yaml_documents(text: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_end();
        if t == "---" || t.starts_with("--- ") || t == "..." {
            docs.push(&text[start..pos]);
            start = pos + line.len();
        }
        pos += line.len();
    }
    docs.push(&text[start..]);
    docs.retain(|d| !d.trim().is_empty());
    docs
}

/// Top-level blocks of a YAML text: each unindented line with the indented lines after it.
fn top_level_blocks(text: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let indented = line.starts_with([' ', '\t']) || line.trim().is_empty();
        if !indented && pos > start {
            blocks.push(&text[start..pos]);
            start = pos;
        }
        pos += line.len();
    }
    blocks.push(&text[start..]);
    blocks
}

fn literals(mut found: Vec<String>) -> Vec<(String, Vec<u8>)> {
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

/// Where a value sits while walking a document.
#[derive(Clone, Copy, Default)]
struct Ctx<'a> {
    /// Under a key that names a secret.
    secret: bool,
    /// The key holding this value (for `{"api": {"key": …}}`).
    parent: Option<&'a str>,
    /// How many string-held documents deep.
    nested: u8,
    /// The `data`/`stringData` of a Secret: every value is secret, whatever its key.
    all: bool,
}

/// True for a value that is never a secret on its own (`automountServiceAccountToken: false`).
fn is_plain_literal(t: &str) -> bool {
    matches!(
        t.to_ascii_lowercase().as_str(),
        "true" | "false" | "null" | "yes" | "no" | "none" | "nil" | "~" | "<none>"
    )
}

/// A key is only a secret's name when it is one or two words (`Account Key`), not a sentence.
fn key_is_secret(k: &str) -> bool {
    is_secret_key(k) && k.split_whitespace().count() <= 2
}

fn walk(v: &Value, ctx: Ctx, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            let t = s.trim();
            if ctx.secret {
                if t.is_empty()
                    || t == super::MASK
                    || t.starts_with("***TOKEN_")
                    || is_plain_literal(t)
                {
                    return;
                }
                // A sentence is not a secret (`Cookies: the session cookie is ...` in prose
                // read as YAML); a bare secret-ish word is a name (`path: token`).
                let words = t.split_whitespace().count();
                if (words >= 6 && !t.contains('\n'))
                    || (t.len() <= 12
                        && t.chars().all(|c| c.is_ascii_alphabetic())
                        && is_secret_key(t))
                    || super::rules::is_byte_count(t.as_bytes())
                {
                    return;
                }
                // Multi-line values (PEM in YAML) are masked line by line.
                for line in t
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.len() >= 4 && !l.starts_with("-----"))
                {
                    out.push(line.to_string());
                }
            } else if ctx.nested < MAX_NESTED_DOCS {
                nested_document(t, ctx, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                walk(x, ctx, out);
                // An argument list: `["--db-pass", "X"]` / `- --db-pass` `- X`.
                if let (Value::String(flag), Some(Value::String(next))) = (x, a.get(i + 1))
                    && flag.starts_with('-')
                    && !flag.contains('=')
                    && !next.starts_with('-')
                    && is_secret_key(flag)
                {
                    walk(
                        &Value::String(next.clone()),
                        Ctx {
                            secret: true,
                            ..ctx
                        },
                        out,
                    );
                }
            }
        }
        Value::Object(m) => {
            let is_secret_object = m.get("kind").and_then(Value::as_str) == Some("Secret");
            // Env entries: {name: DB_PASSWORD, value: ...}
            let env_secret = m
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(is_secret_key)
                && m.contains_key("value");
            // A kubeconfig user with a private key: its certificate goes too.
            let has_client_key = m
                .keys()
                .any(|k| starts_client(k) && norm_key(k).starts_with("clientkey"));
            // `secret: {secretName: x, items: [...]}` points at a secret: nothing below it is
            // secret by inheritance.
            let points_at_secret = ctx.secret
                && m.keys().any(|k| {
                    let n = norm_key(k);
                    n == "name" || n.ends_with("secretname") || n.ends_with("ref")
                });
            let inherited = ctx.secret && !points_at_secret;
            for (k, child) in m {
                let is_key = k.eq_ignore_ascii_case("key");
                let child_secret = ctx.all
                    || key_is_secret(k)
                    || (inherited && !is_reference_key(k))
                    || (is_secret_object && (k == "data" || k == "stringData"))
                    || (env_secret && k == "value")
                    || (has_client_key
                        && starts_client(k)
                        && norm_key(k).starts_with("clientcertificate"))
                    || (is_key
                        && !ctx.parent.is_some_and(is_reference_key)
                        && ctx
                            .parent
                            .is_some_and(|p| is_secret_key(&format!("{}key", norm_key(p)))));
                walk(
                    child,
                    Ctx {
                        secret: child_secret,
                        parent: Some(k),
                        nested: ctx.nested,
                        all: ctx.all || (is_secret_object && (k == "data" || k == "stringData")),
                    },
                    out,
                );
            }
        }
        _ => {}
    }
}

/// A string that holds a document (a ConfigMap's `app.yaml`, an annotation's JSON) is walked.
fn nested_document(t: &str, ctx: Ctx, out: &mut Vec<String>) {
    let inner = Ctx {
        secret: false,
        parent: None,
        nested: ctx.nested + 1,
        all: false,
    };
    if (t.starts_with('{') && t.ends_with('}')) || (t.starts_with('[') && t.ends_with(']')) {
        if let Ok(v) = serde_json::from_str::<Value>(t) {
            walk(&v, inner, out);
        }
    } else if t.contains('\n') && t.contains(':') {
        let lower = t.to_ascii_lowercase();
        if STRUCT_TRIGGERS.iter().any(|w| lower.contains(w))
            && let Ok(v) = serde_saphyr::from_str::<Value>(t)
        {
            walk(&v, inner, out);
        }
    }
}

fn starts_client(k: &str) -> bool {
    k.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("client"))
}

fn norm_key(k: &str) -> String {
    k.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The regex that finds [`STRUCT_TRIGGERS`] in lower-cased text.
pub(crate) fn trigger_regex() -> Result<Regex, regex::Error> {
    let alts: Vec<String> = STRUCT_TRIGGERS.iter().map(|t| regex::escape(t)).collect();
    regex::bytes::RegexBuilder::new(&alts.join("|"))
        .unicode(false)
        .build()
}

/// Literal secrets of one file, matched at word boundaries.
pub(crate) struct Literals {
    /// Alternations of at most [`Literals::GROUP`] literals each (a regex of every literal of
    /// a huge Secret dump could exceed the size limit; failing must not leave them unmasked).
    res: Vec<Regex>,
}

impl Literals {
    const GROUP: usize = 512;
}

pub(crate) fn literal_matcher(values: &[(String, Vec<u8>)]) -> Option<Literals> {
    if values.is_empty() {
        return None;
    }
    let mut res = Vec::new();
    for group in values.chunks(Literals::GROUP) {
        let alts: Vec<String> = group
            .iter()
            .map(|(_, v)| regex::escape(&String::from_utf8_lossy(v)))
            .collect();
        match regex::bytes::RegexBuilder::new(&alts.join("|"))
            .size_limit(256 * 1024 * 1024)
            .build()
        {
            Ok(re) => res.push(re),
            // One literal at a time is always small enough.
            Err(_) => res.extend(alts.iter().filter_map(|a| Regex::new(a).ok())),
        }
    }
    Some(Literals { res })
}

impl Literals {
    /// Masks every occurrence in `data` that is not part of a longer word; `record(line,
    /// bytes removed)` is called once per changed line (0-based line within `data`). `None`
    /// when nothing matched.
    pub(crate) fn mask_all(
        &self,
        data: &[u8],
        mask: &dyn Fn(&[u8]) -> Vec<u8>,
        record: &mut dyn FnMut(u64, i64),
    ) -> Option<Vec<u8>> {
        let mut cur: Option<Vec<u8>> = None;
        for re in &self.res {
            let src: &[u8] = cur.as_deref().unwrap_or(data);
            if let Some(next) = mask_with(re, src, mask, record) {
                cur = Some(next);
            }
        }
        cur
    }
}

fn mask_with(
    re: &Regex,
    data: &[u8],
    mask: &dyn Fn(&[u8]) -> Vec<u8>,
    record: &mut dyn FnMut(u64, i64),
) -> Option<Vec<u8>> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut out: Option<Vec<u8>> = None;
    let mut last = 0;
    let mut line = 0u64;
    let mut counted = 0;
    let mut pending: Option<(u64, i64)> = None;
    for m in re.find_iter(data) {
        let s = m.as_bytes();
        let (Some(&first), Some(&last_byte)) = (s.first(), s.last()) else {
            continue;
        };
        let before_ok = m.start() == 0 || !(word(data[m.start() - 1]) && word(first));
        let after_ok = m.end() == data.len() || !(word(data[m.end()]) && word(last_byte));
        if !before_ok || !after_ok {
            continue;
        }
        line += super::count_newlines(&data[counted..m.start()]);
        counted = m.start();
        let masked = mask(s);
        let removed = s.len() as i64 - masked.len() as i64;
        pending = match pending {
            Some((l, r)) if l == line => Some((l, r + removed)),
            Some((l, r)) => {
                record(l, r);
                Some((line, removed))
            }
            None => Some((line, removed)),
        };
        let o = out.get_or_insert_with(|| Vec::with_capacity(data.len()));
        o.extend_from_slice(&data[last..m.start()]);
        o.extend_from_slice(&masked);
        last = m.end();
    }
    if let Some((l, r)) = pending {
        record(l, r);
    }
    let mut o = out?;
    o.extend_from_slice(&data[last..]);
    Some(o)
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
        let vals: Vec<String> = secret_values(doc, &trigger_regex().unwrap())
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
