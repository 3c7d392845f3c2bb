//! The values a chart renders with: dependency processing (enable, alias,
//! import-values), coalescing with the user's values, schema validation. Pure
//! data work, independent of the template engine.

use crate::chart::Chart;
use crate::coalesce::coalesce_chart;
use crate::error::ChartError;
use serde_json::{Map, Value};

/// Applies dependency processing and coalescing: returns the chart as rendered
/// (disabled subcharts removed, aliases applied, imports done) and the final
/// values (`.Values` of the root chart). Non-fatal warnings are appended to `warnings`.
pub fn prepare_values(
    chart: &Chart,
    user_values: &Map<String, Value>,
    warnings: &mut Vec<String>,
) -> Result<(Chart, Map<String, Value>), ChartError> {
    let mut c = chart.clone();
    crate::dependencies::process(&mut c, user_values, warnings)?;
    let vals = coalesce_chart(&c, user_values, false, warnings)?;
    Ok((c, vals))
}

/// Checks final values against values.schema.json of the chart and each subchart
/// (each against its own scope). `chart` must be the one `prepare_values` returned.
pub fn validate_values(chart: &Chart, values: &Map<String, Value>) -> Result<(), ChartError> {
    crate::schema::validate(chart, values)
}
