//! Values coalescing exactly as Helm's `chartutil.CoalesceValues` / `MergeValues`:
//! user values beat a parent's `<sub>:` table, which beats the subchart's own
//! values.yaml; tables merge, scalars and lists replace; a user `null` deletes a
//! key (coalesce mode) while merge mode keeps nulls; globals are copied down
//! into every subchart.

use crate::chart::Chart;
use crate::error::ChartError;
use serde_json::{Map, Value};

/// Coalesces `vals` (user values, highest precedence) with the chart's defaults
/// and those of all its subcharts. `merge` keeps nulls (Helm's `MergeValues`).
pub(crate) fn coalesce_chart(
    chart: &Chart,
    vals: &Map<String, Value>,
    merge: bool,
    warnings: &mut Vec<String>,
) -> Result<Map<String, Value>, ChartError> {
    let mut dest = vals.clone();
    coalesce(chart, &mut dest, "", merge, warnings)?;
    Ok(dest)
}

fn concat(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_owned()
    } else {
        format!("{a}.{b}")
    }
}

fn coalesce(
    ch: &Chart,
    dest: &mut Map<String, Value>,
    prefix: &str,
    merge: bool,
    w: &mut Vec<String>,
) -> Result<(), ChartError> {
    coalesce_values(ch, dest, prefix, merge, w);
    coalesce_deps(ch, dest, prefix, merge, w)
}

fn go_t(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::String(s) => format!("%!t(string={s})"),
        Value::Number(n) => format!(
            "%!t(float64={})",
            crate::gofmt::format_float_g(n.as_f64().unwrap_or(0.0))
        ),
        Value::Array(_) => "%!t([]interface {}=[...])".into(),
        _ => "%!t(<nil>)".into(),
    }
}

fn coalesce_deps(
    ch: &Chart,
    dest: &mut Map<String, Value>,
    prefix: &str,
    merge: bool,
    w: &mut Vec<String>,
) -> Result<(), ChartError> {
    for sub in &ch.dependencies {
        let name = sub.name().to_owned();
        match dest.get(&name) {
            None => {
                dest.insert(name.clone(), Value::Object(Map::new()));
            }
            Some(Value::Object(_)) => {}
            Some(other) => {
                return Err(ChartError::Values(format!(
                    "type mismatch on {name}: {}; the values for subchart {name} must be a table (key: value)",
                    go_t(other)
                )));
            }
        }
        let sub_prefix = concat(prefix, ch.name());
        let mut dv = match dest.remove(&name) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        coalesce_globals(&mut dv, dest, &sub_prefix, w);
        coalesce(sub, &mut dv, &sub_prefix, merge, w)?;
        dest.insert(name, Value::Object(dv));
    }
    Ok(())
}

/// Copies the parent's `global` table (from `src`) into the child's (`dest`).
fn coalesce_globals(
    dest: &mut Map<String, Value>,
    src: &Map<String, Value>,
    prefix: &str,
    w: &mut Vec<String>,
) {
    let mut dg = match dest.get("global") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            w.push("warning: skipping globals because destination global is not a table.".into());
            return;
        }
    };
    let sg = match src.get("global") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            w.push("warning: skipping globals because source global is not a table.".into());
            return;
        }
    };
    for (key, val) in sg {
        if let Value::Object(vm) = val {
            let mut vv = vm;
            match dg.get(&key) {
                None => {
                    dg.insert(key, Value::Object(vv));
                }
                Some(Value::Object(destv)) => {
                    coalesce_tables(&mut vv, destv.clone(), &concat(prefix, &key), true, w);
                    dg.insert(key, Value::Object(vv));
                }
                Some(_) => {
                    w.push(format!(
                        "Conflict: cannot merge map onto non-map for {key:?}. Skipping."
                    ));
                }
            }
        } else if matches!(dg.get(&key), Some(Value::Object(_))) {
            w.push(format!("key {key} is table. Skipping"));
        } else {
            dg.insert(key, val);
        }
    }
    dest.insert("global".into(), Value::Object(dg));
}

fn coalesce_values(
    ch: &Chart,
    v: &mut Map<String, Value>,
    prefix: &str,
    merge: bool,
    w: &mut Vec<String>,
) {
    let sub_prefix = concat(prefix, ch.name());
    for (key, val) in ch.values.iter() {
        match v.get_mut(key) {
            Some(value) => {
                if value.is_null() && !merge {
                    v.remove(key);
                } else if let Value::Object(dest) = value {
                    match val {
                        Value::Object(src) => {
                            let merge = merge || ch.dependencies.iter().any(|d| d.name() == key);
                            let mut src = src.clone();
                            if !merge {
                                clean_nil(&mut src);
                            }
                            coalesce_tables(dest, src, &concat(&sub_prefix, key), merge, w);
                        }
                        Value::Null => {}
                        _ => w.push(format!(
                            "warning: skipped value for {sub_prefix}.{key}: Not a table."
                        )),
                    }
                }
            }
            None => {
                let mut val = val.clone();
                if !merge {
                    if val.is_null() {
                        continue;
                    }
                    if let Value::Object(m) = &mut val {
                        clean_nil(m);
                    }
                }
                v.insert(key.clone(), val);
            }
        }
    }
}

/// Merges `src` into `dst`; `dst` wins. Helm's `coalesceTablesFullKey`.
pub(crate) fn coalesce_tables(
    dst: &mut Map<String, Value>,
    mut src: Map<String, Value>,
    prefix: &str,
    merge: bool,
    w: &mut Vec<String>,
) {
    let src_non_nil: std::collections::HashSet<String> = src
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, _)| k.clone())
        .collect();
    for (k, v) in dst.iter() {
        if v.is_null() {
            src.insert(k.clone(), Value::Null);
        }
    }
    for (key, val) in src {
        let full = concat(prefix, &key);
        match dst.get_mut(&key) {
            Some(dv) if !merge && dv.is_null() && src_non_nil.contains(&key) => {
                dst.remove(&key);
            }
            None => {
                dst.insert(key, val);
            }
            Some(dv) => match (dv, val) {
                (Value::Object(dm), Value::Object(sm)) => coalesce_tables(dm, sm, &full, merge, w),
                (_, Value::Object(_)) => {
                    w.push(format!(
                        "warning: cannot overwrite table with non table for {full}"
                    ));
                }
                (Value::Object(_), v) if !v.is_null() => {
                    w.push(format!(
                        "warning: destination for {full} is a table. Ignoring non-table value ({})",
                        go_v(&v)
                    ));
                }
                _ => {}
            },
        }
    }
}

fn go_v(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => crate::gofmt::format_float_g(n.as_f64().unwrap_or(0.0)),
        Value::Null => "<nil>".into(),
        other => other.to_string(),
    }
}

/// Drops null-valued keys, recursively.
pub(crate) fn clean_nil(m: &mut Map<String, Value>) {
    m.retain(|_, v| !v.is_null());
    for v in m.values_mut() {
        if let Value::Object(sub) = v {
            clean_nil(sub);
        }
    }
}

/// Helm's `CoalesceTables` on two plain maps (dst wins), for `-f` files and `--set`.
pub fn merge_user_values(dst: &mut Map<String, Value>, src: Map<String, Value>) {
    // Helm's CLI merges value sources with its own mergeMaps: src (later) wins, tables merge.
    for (k, v) in src {
        match (dst.get_mut(&k), v) {
            (Some(Value::Object(d)), Value::Object(s)) => merge_user_values(d, s),
            (_, v) => {
                dst.insert(k, v);
            }
        }
    }
}
