//! textAnalyze (regex / regexGroups), jsonCompare and yamlCompare.

use serde_json::{Map, Value};

use super::{AnalyzeError, AnalyzeResult, Ctx, FnEnv, Outcome, OutcomeSpec};
use crate::when::{Op, Subject, WhenError, parse_bool};

fn file_pattern(ctx: &Ctx) -> Result<String, AnalyzeError> {
    let file = ctx.required_str("fileName")?;
    let collector = ctx.collector_name();
    let has_wild = file.contains(['*', '?', '[']);
    let special = ["-stdout.txt", "-stderr.txt", "-errors.json"]
        .iter()
        .any(|s| file.ends_with(s));
    Ok(match collector {
        Some(c) if special && !has_wild => format!("{c}/*/*/{file}"),
        Some(c) => format!(
            "{}/{}",
            c.trim_end_matches('/'),
            file.trim_start_matches('/')
        ),
        None => file.trim_start_matches('/').to_string(),
    })
}

/// Default `when` of compare/regex analyzers: fail/warn = false, pass = true.
fn default_bool(o: &OutcomeSpec) -> bool {
    o.kind == Outcome::Pass
}

fn when_bool(ctx: &Ctx, i: usize, o: &OutcomeSpec) -> Result<bool, AnalyzeError> {
    let w = o.when.trim();
    if w.is_empty() {
        return Ok(default_bool(o));
    }
    parse_bool(w).ok_or_else(|| ctx.when_err(i, o, WhenError::new(w, "write `true` or `false`")))
}

pub(crate) fn text_analyze(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx
        .str_field("checkName")
        .filter(|s| !s.is_empty())
        .or_else(|| ctx.collector_name())
        .unwrap_or_else(|| "Text Analyze".into());
    let pattern = file_pattern(ctx)?;
    let excludes: Vec<globset::GlobMatcher> = ctx
        .str_list("excludeFiles")
        .iter()
        .enumerate()
        .map(|(i, g)| {
            super::glob_matcher(g).ok_or_else(|| {
                ctx.err(
                    &format!("excludeFiles[{i}]"),
                    format!("`{g}` is not a glob"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let regex = match ctx.str_field("regex").filter(|s| !s.is_empty()) {
        Some(r) => Some(
            regex::bytes::Regex::new(&r)
                .map_err(|e| ctx.err("regex", format!("invalid regex: {e}")))?,
        ),
        None => None,
    };
    let groups = match ctx.str_field("regexGroups").filter(|s| !s.is_empty()) {
        Some(r) => Some(
            regex::bytes::Regex::new(&r)
                .map_err(|e| ctx.err("regexGroups", format!("invalid regex: {e}")))?,
        ),
        None => None,
    };
    if regex.is_none() && groups.is_none() {
        return Err(ctx.err("regex", "Invalid analyzer: give `regex` or `regexGroups`"));
    }
    let files: Vec<String> = ctx
        .reader
        .glob(&pattern)
        .into_iter()
        .filter(|f| !excludes.iter().any(|m| m.is_match(f)))
        .collect();
    if files.is_empty() {
        if ctx
            .spec
            .get("ignoreIfNoFiles")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            return Ok(Vec::new());
        }
        return Ok(vec![ctx.plain(
            &title,
            Outcome::Warn,
            format!("No matching files: nothing collected matches `{pattern}` (check collectorName and fileName)"),
        )]);
    }
    let mut rows = Vec::new();
    for f in files {
        let Some(data) = ctx.reader.read(&f) else {
            continue;
        };
        if let Some(re) = &regex {
            let found = re.is_match(&data);
            // Every outcome is evaluated; each match overwrites the message; fail clears warn.
            let (mut fail, mut warn, mut pass) = (false, false, false);
            let mut last: Option<&OutcomeSpec> = None;
            for (i, o) in outcomes.iter().enumerate() {
                if when_bool(ctx, i, o)? == found {
                    match o.kind {
                        Outcome::Fail => {
                            fail = true;
                            warn = false
                        }
                        Outcome::Warn => warn = true,
                        Outcome::Pass => pass = true,
                        Outcome::Error => {}
                    }
                    last = Some(o);
                }
            }
            if let Some(o) = last {
                let mut r = ctx.row(&title, o);
                r.outcome = if fail {
                    Outcome::Fail
                } else if warn {
                    Outcome::Warn
                } else if pass {
                    Outcome::Pass
                } else {
                    o.kind
                };
                r.strict = ctx.strict();
                rows.push(r);
            }
        }
        if let Some(re) = &groups {
            let mut vars = Map::new();
            if let Some(caps) = re.captures(&data) {
                for name in re.capture_names().flatten() {
                    if let Some(m) = caps.name(name) {
                        vars.insert(
                            name.to_string(),
                            Value::String(String::from_utf8_lossy(m.as_bytes()).into_owned()),
                        );
                    }
                }
            }
            let matched = !vars.is_empty() || re.is_match(&data);
            let env = FnEnv(
                |s: Option<&Subject>, op: Op, value: &str| -> Result<bool, String> {
                    let group = super::subject_name(s);
                    let Some(have) = vars.get(&group).and_then(Value::as_str) else {
                        return Ok(false);
                    };
                    if let Ok(want) = value.parse::<i64>() {
                        let have: i64 = match have.trim().parse() {
                            Ok(h) => h,
                            Err(_) => return Ok(false),
                        };
                        return Ok(op.holds(&have, &want));
                    }
                    match op {
                        Op::Eq => Ok(have == value),
                        _ => Err(format!(
                            "`{value}` is not an integer; only = compares strings (regexGroups)"
                        )),
                    }
                },
                |w: &str| {
                    parse_bool(w)
                        .map(|b| b == matched)
                        .ok_or_else(|| format!("`{w}`: write `<group> <op> <value>`"))
                },
            );
            let data = Value::Object(vars.clone());
            rows.extend(super::first_match_row(
                ctx,
                &title,
                &outcomes,
                &env,
                Some(&data),
            )?);
        }
    }
    Ok(rows)
}

/// `a.b[0].c` (troubleshoot `path`) lookup; missing keys give null.
fn dot_path(v: &Value, path: &str) -> Value {
    let mut cur = v.clone();
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        let (key, indexes) = match seg.find('[') {
            Some(i) => (&seg[..i], &seg[i..]),
            None => (seg, ""),
        };
        if !key.is_empty() {
            cur = match key.parse::<usize>() {
                Ok(n) if cur.is_array() => cur.get(n).cloned().unwrap_or(Value::Null),
                _ => cur.get(key).cloned().unwrap_or(Value::Null),
            };
        }
        for idx in indexes.split('[').filter(|s| !s.is_empty()) {
            let n: usize = idx.trim_end_matches(']').parse().unwrap_or(usize::MAX);
            cur = cur.get(n).cloned().unwrap_or(Value::Null);
        }
    }
    cur
}

/// The JSONPath subset specs use: `{.a.b[0].c}`, `.items[*].name`.
fn json_path(v: &Value, path: &str) -> Value {
    let p = path
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim_start_matches('$');
    let mut current = vec![v.clone()];
    for seg in p.split('.').filter(|s| !s.is_empty()) {
        let (key, idx) = match seg.find('[') {
            Some(i) => (&seg[..i], Some(seg[i + 1..].trim_end_matches(']'))),
            None => (seg, None),
        };
        let mut next = Vec::new();
        for c in current {
            let base = if key.is_empty() {
                Some(c)
            } else {
                c.get(key).cloned()
            };
            let Some(base) = base else { continue };
            match idx {
                None => next.push(base),
                Some("*") => next.extend(base.as_array().cloned().unwrap_or_default()),
                Some(n) => {
                    if let Some(x) = n.parse::<usize>().ok().and_then(|n| base.get(n).cloned()) {
                        next.push(x)
                    }
                }
            }
        }
        current = next;
    }
    match current.len() {
        0 => Value::Null,
        1 => current.remove(0),
        _ => Value::Array(current),
    }
}

/// Deep equality with JSON numbers as f64 and arrays compared regardless of order.
pub(crate) fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return false;
            }
            let mut used = vec![false; y.len()];
            x.iter().all(|xi| {
                let pos = y
                    .iter()
                    .enumerate()
                    .position(|(j, yj)| !used[j] && loose_eq(xi, yj));
                match pos {
                    Some(j) => {
                        used[j] = true;
                        true
                    }
                    None => false,
                }
            })
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| loose_eq(v, w)))
        }
        _ => a == b,
    }
}

pub(crate) fn json_compare(ctx: &Ctx, yaml: bool) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx
        .str_field("checkName")
        .filter(|s| !s.is_empty())
        .or_else(|| ctx.collector_name())
        .unwrap_or_else(|| {
            if yaml {
                "YAML Compare".into()
            } else {
                "JSON Compare".into()
            }
        });
    let pattern = file_pattern(ctx)?;
    let files = if pattern.contains(['*', '?', '[']) {
        ctx.reader.glob(&pattern)
    } else {
        vec![pattern.clone()]
    };
    let Some(data) = files.first().and_then(|f| ctx.reader.read(f)) else {
        return Ok(vec![ctx.missing(
            &title,
            &super::Missing(pattern),
            "the collector that writes it",
        )]);
    };
    let doc = super::parse_json_or_yaml(&data).map_err(|e| {
        ctx.err(
            "fileName",
            format!(
                "{} is not {}: {e}",
                files[0],
                if yaml { "YAML" } else { "JSON" }
            ),
        )
    })?;
    let selected = if let Some(p) = ctx.str_field("jsonPath").filter(|s| !s.is_empty()) {
        json_path(&doc, &p)
    } else if let Some(p) = ctx.str_field("path").filter(|s| !s.is_empty()) {
        dot_path(&doc, &p)
    } else {
        doc.clone()
    };
    let want_raw = ctx.str_field("value").unwrap_or_default();
    let want = match ctx.spec.get("value") {
        Some(Value::String(s)) => {
            super::parse_json_or_yaml(s.as_bytes()).unwrap_or_else(|_| Value::String(s.clone()))
        }
        Some(other) => other.clone(),
        None => Value::Null,
    };
    let _ = want_raw;
    let equal = loose_eq(&selected, &want);
    for (i, o) in outcomes.iter().enumerate() {
        if when_bool(ctx, i, o)? == equal {
            return Ok(vec![ctx.row_templated(&title, o, &doc)]);
        }
    }
    Err(ctx.err(
        "outcomes",
        "Invalid analyzer: no outcome matched (give a pass and a fail outcome)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths() {
        let v = json!({"a": {"b": [1, {"c": "x"}]}, "items": [{"n": 1}, {"n": 2}]});
        assert_eq!(dot_path(&v, "a.b[1].c"), json!("x"));
        assert_eq!(dot_path(&v, "a.missing"), Value::Null);
        assert_eq!(json_path(&v, "{.a.b[0]}"), json!(1));
        assert_eq!(json_path(&v, "{.items[*].n}"), json!([1, 2]));
        assert!(loose_eq(&json!([1, 2.0, "a"]), &json!(["a", 2, 1])));
        assert!(!loose_eq(&json!([1, 1]), &json!([1, 2])));
    }
}
