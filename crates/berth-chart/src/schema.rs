//! values.schema.json validation: each chart's schema checks that chart's scope of
//! the coalesced values (a subchart sees `.Values.<name>`), before any template runs.

use crate::chart::Chart;
use crate::error::ChartError;
use berth_template::memo::Memo;
use serde_json::{Map, Value};
use std::sync::{Arc, LazyLock};

/// Validates `vals` against the schemas of `chart` and its (enabled) subcharts.
pub(crate) fn validate(chart: &Chart, vals: &Map<String, Value>) -> Result<(), ChartError> {
    let mut report = String::new();
    collect(chart, vals, &mut report)?;
    if report.is_empty() {
        Ok(())
    } else {
        Err(ChartError::Schema(report))
    }
}

/// Compiled validators by schema text: compiling a chart's schema costs more than rendering
/// most charts, and a long-lived process renders the same chart again (bounded: 16 MiB of
/// schema text, then it starts over).
static COMPILED: LazyLock<Memo<Arc<jsonschema::Validator>>> = LazyLock::new(|| Memo::new(16 << 20));

/// Forgets the compiled schemas.
pub(crate) fn clear() {
    COMPILED.clear();
}

/// The validator of values.schema.json text `raw` (of chart `chart`, for errors).
fn compiled(chart: &str, raw: &[u8]) -> Result<Arc<jsonschema::Validator>, ChartError> {
    let parse_error = |message: String| ChartError::Parse {
        chart: chart.to_owned(),
        file: "values.schema.json".into(),
        message,
    };
    let text = std::str::from_utf8(raw).map_err(|e| parse_error(e.to_string()))?;
    COMPILED.get_or_try("", text, || {
        let schema: Value = serde_json::from_str(text).map_err(|e| parse_error(e.to_string()))?;
        jsonschema::validator_for(&schema)
            .map(Arc::new)
            .map_err(|e| parse_error(format!("not a valid JSON schema: {e}")))
    })
}

fn collect(
    chart: &Chart,
    vals: &Map<String, Value>,
    report: &mut String,
) -> Result<(), ChartError> {
    if let Some(raw) = &chart.schema {
        let validator = compiled(chart.name(), raw)?;
        let instance = Value::Object(vals.clone());
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("- at '{}': {}", e.instance_path(), e))
            .collect();
        if !errors.is_empty() {
            report.push_str(&format!("{}:\n{}\n", chart.name(), errors.join("\n")));
        }
    }
    for d in &chart.dependencies {
        let empty = Map::new();
        let sub = match vals.get(d.name()) {
            Some(Value::Object(m)) => m,
            _ => &empty,
        };
        collect(d, sub, report)?;
    }
    Ok(())
}
