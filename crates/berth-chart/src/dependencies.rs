//! Dependency processing as Helm's `ProcessDependencies`: match declared
//! dependencies to vendored subcharts (name and version range), make a renamed
//! copy per alias, enable or disable by `tags` and `condition`, drop disabled
//! charts (recursively), then apply `import-values` deepest first.

use crate::chart::Chart;
use crate::coalesce::{coalesce_chart, coalesce_tables};
use crate::error::ChartError;
use crate::metadata::Dependency;
use crate::version::is_compatible_range;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Runs enablement then import-values on `chart` (mutating it) for user values `vals`.
pub(crate) fn process(
    chart: &mut Chart,
    vals: &Map<String, Value>,
    w: &mut Vec<String>,
) -> Result<(), ChartError> {
    process_enabled(chart, vals, "", w)?;
    check_present(chart)?;
    process_import_values(chart, w)
}

/// Every enabled dependency must have found its chart (Helm fails the render otherwise,
/// e.g. an alias whose vendored chart's version is outside the declared range).
fn check_present(chart: &Chart) -> Result<(), ChartError> {
    let missing: Vec<&str> = chart
        .metadata
        .dependencies
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|r| !chart.dependencies.iter().any(|d| d.name() == r.name))
        .map(|r| r.name.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(ChartError::MissingDependencies {
        chart: chart.name().to_string(),
        names: missing.join(", "),
    })
}

fn alias_copy(charts: &[Chart], dep: &Dependency) -> Option<Chart> {
    let c = charts
        .iter()
        .find(|c| c.name() == dep.name && is_compatible_range(&dep.version, &c.metadata.version))?;
    let mut out = c.clone();
    if !dep.alias.is_empty() {
        out.metadata.name = dep.alias.clone();
    }
    Some(out)
}

/// Looks up a dotted path; `None` when any step is missing or not a table.
pub(crate) fn path_value<'a>(vals: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.').peekable();
    let mut table = vals;
    while let Some(p) = parts.next() {
        let v = table.get(p)?;
        if parts.peek().is_none() {
            return Some(v);
        }
        table = v.as_object()?;
    }
    None
}

fn table<'a>(vals: &'a Map<String, Value>, path: &str) -> Option<&'a Map<String, Value>> {
    let mut t = vals;
    for p in path.split('.') {
        t = t.get(p)?.as_object()?;
    }
    Some(t)
}

fn process_enabled(
    c: &mut Chart,
    v: &Map<String, Value>,
    path: &str,
    w: &mut Vec<String>,
) -> Result<(), ChartError> {
    let Some(mut reqs) = c.metadata.dependencies.take() else {
        return Ok(());
    };
    let existing = std::mem::take(&mut c.dependencies);
    let mut deps: Vec<Chart> = existing
        .iter()
        .filter(|e| {
            !reqs
                .iter()
                .any(|r| e.name() == r.name && is_compatible_range(&r.version, &e.metadata.version))
        })
        .cloned()
        .collect();
    for r in reqs.iter_mut() {
        if let Some(d) = alias_copy(&existing, r) {
            deps.push(d);
        }
        if !r.alias.is_empty() {
            r.name = r.alias.clone();
        }
        r.enabled = true;
    }
    c.dependencies = deps;
    c.metadata.dependencies = Some(reqs);
    let cvals = coalesce_chart(c, v, false, w)?;
    let reqs = c.metadata.dependencies.as_deref_mut().unwrap_or_default();
    // Tags: only the top-level `tags` table counts.
    if let Some(Value::Object(tags)) = cvals.get("tags") {
        for r in reqs.iter_mut() {
            let (mut has_true, mut has_false) = (false, false);
            for t in &r.tags {
                match tags.get(t) {
                    Some(Value::Bool(true)) => has_true = true,
                    Some(Value::Bool(false)) => has_false = true,
                    Some(_) => w.push(format!(
                        "warning: tag {t} for chart {} is not a bool",
                        r.name
                    )),
                    None => {}
                }
            }
            r.enabled = has_true || !has_false;
        }
    }
    // Conditions: the first path that holds a bool decides.
    for r in reqs.iter_mut() {
        for cond in r.condition.trim().split(',') {
            if cond.is_empty() {
                continue;
            }
            match path_value(&cvals, &format!("{path}{cond}")) {
                Some(Value::Bool(b)) => {
                    r.enabled = *b;
                    break;
                }
                Some(_) => w.push(format!(
                    "warning: condition path {cond} for chart {} returned a non-bool value",
                    r.name
                )),
                None => {}
            }
        }
    }
    let removed: std::collections::HashSet<String> = reqs
        .iter()
        .filter(|r| !r.enabled)
        .map(|r| r.name.clone())
        .collect();
    let kept_meta: Vec<Dependency> = reqs
        .iter()
        .filter(|r| !removed.contains(&r.name))
        .cloned()
        .collect();
    let mut kept: Vec<Chart> = std::mem::take(&mut c.dependencies)
        .into_iter()
        .filter(|d| !removed.contains(d.name()))
        .collect();
    if !path.is_empty() {
        warn_nested_missing(c.name(), path, &kept_meta, &kept, w);
    }
    for t in kept.iter_mut() {
        let sub = format!("{path}{}.", t.name());
        process_enabled(t, &cvals, &sub, w)?;
    }
    c.metadata.dependencies = Some(kept_meta);
    c.dependencies = kept;
    Ok(())
}

/// A subchart's enabled dependency that its own `charts/` does not hold. Helm checks only
/// the top-level chart and renders such a subchart without it; berth renders the same, and
/// says so instead of dropping it silently (a packaged chart carries its dependencies, so
/// the fix is in that chart's package, not in the parent).
fn warn_nested_missing(
    chart: &str,
    path: &str,
    reqs: &[Dependency],
    present: &[Chart],
    w: &mut Vec<String>,
) {
    for r in reqs {
        if present.iter().any(|d| d.name() == r.name) {
            continue;
        }
        let from = if r.repository.is_empty() {
            String::new()
        } else {
            format!(" from {}", r.repository)
        };
        w.push(format!(
            "warning: subchart {chart} (values path {}) declares dependency {} {:?}{from} that is not in its charts/ directory, so it is not rendered (as Helm does); vendor it into {chart}'s package (`berth chart dependency update` in {chart}'s source, then package it again)",
            path.trim_end_matches('.'),
            r.name,
            r.version,
        ));
    }
}

fn path_to_map(parent: &str, data: Map<String, Value>) -> Map<String, Value> {
    if parent == "." {
        return data;
    }
    let mut cur = data;
    for p in parent.split('.').rev() {
        let mut m = Map::new();
        m.insert(p.to_owned(), Value::Object(cur));
        cur = m;
    }
    cur
}

fn go_v(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "<nil>".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => crate::gofmt::format_float_g(n.as_f64().unwrap_or(0.0)),
        Some(other) => other.to_string(),
    }
}

fn process_import_values(c: &mut Chart, w: &mut Vec<String>) -> Result<(), ChartError> {
    for d in c.dependencies.iter_mut() {
        process_import_values(d, w)?;
    }
    if c.metadata.dependencies.is_none() {
        return Ok(());
    }
    let cvals = coalesce_chart(c, &Map::new(), true, w)?;
    let mut b = Map::new();
    for r in c.metadata.dependencies.iter_mut().flatten() {
        let mut out = Vec::new();
        for iv in &r.import_values {
            let (child, parent) = match iv {
                Value::Object(m) => (go_v(m.get("child")), go_v(m.get("parent"))),
                Value::String(s) => (format!("exports.{s}"), ".".to_owned()),
                _ => continue,
            };
            out.push(serde_json::json!({"child": child, "parent": parent}));
            match table(&cvals, &format!("{}.{child}", r.name)) {
                Some(t) => {
                    let src = if iv.is_string() {
                        t.clone()
                    } else {
                        path_to_map(&parent, t.clone())
                    };
                    coalesce_tables(&mut b, src, "", true, w);
                }
                None => w.push(format!(
                    "warning: import-values: chart {} has no table {child}",
                    r.name
                )),
            }
        }
        r.import_values = out;
    }
    let mut vals = cvals;
    coalesce_tables(&mut vals, b, "", true, w);
    c.values = Arc::new(vals);
    Ok(())
}
