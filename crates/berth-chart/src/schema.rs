//! values.schema.json validation: each chart's schema checks that chart's scope of
//! the coalesced values (a subchart sees `.Values.<name>`), before any template runs.

use crate::chart::Chart;
use crate::error::ChartError;
use serde_json::{Map, Value};

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

fn collect(
    chart: &Chart,
    vals: &Map<String, Value>,
    report: &mut String,
) -> Result<(), ChartError> {
    if let Some(raw) = &chart.schema {
        let schema: Value = serde_json::from_slice(raw).map_err(|e| ChartError::Parse {
            chart: chart.name().to_owned(),
            file: "values.schema.json".into(),
            message: e.to_string(),
        })?;
        let validator = jsonschema::validator_for(&schema).map_err(|e| ChartError::Parse {
            chart: chart.name().to_owned(),
            file: "values.schema.json".into(),
            message: format!("not a valid JSON schema: {e}"),
        })?;
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
