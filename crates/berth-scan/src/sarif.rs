//! SARIF 2.1.0 of a scan (code-scanning dashboards read it): one rule per advisory, one
//! result per finding, located at the package database that listed the package.

use crate::osv::{FixState, Severity};
use crate::report::ScanReport;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Unknown => "note",
    }
}

/// The SARIF log of a scan.
pub fn sarif(report: &ScanReport) -> Value {
    let mut rules: BTreeMap<String, Value> = BTreeMap::new();
    let mut results = Vec::new();
    for t in &report.targets {
        for f in &t.findings {
            rules.entry(f.advisory.clone()).or_insert_with(|| {
                json!({
                    "id": f.advisory,
                    "shortDescription": { "text": f.summary.clone().unwrap_or_else(|| f.advisory.clone()) },
                    "properties": { "aliases": f.aliases, "severity": f.severity.to_string() },
                })
            });
            let fix = match &f.fix {
                FixState::Fixed(v) => format!("fixed in {v}"),
                other => crate::sbom::fix_state_word(other).to_string(),
            };
            let mut props = json!({
                "target": t.name,
                "package": f.package,
                "installedVersion": f.version,
                "fixState": crate::sbom::fix_state_word(&f.fix),
            });
            if let Some(l) = &f.layer {
                props["layer"] = json!(l);
            }
            let mut result = json!({
                "ruleId": f.advisory,
                "level": level(f.severity),
                "message": { "text": format!("{}: {} {} has {} ({}), {fix}", t.name, f.package, f.version, f.advisory, f.severity) },
                "locations": [ { "physicalLocation": { "artifactLocation": { "uri": f.path } } } ],
                "properties": props,
            });
            if let Some(v) = &f.vex {
                result["properties"]["vex"] = json!(v);
            }
            // A suppressed result stays in the log, marked (SARIF §3.35): dashboards hide it.
            if let Some(v) = f.vex.as_ref().filter(|v| v.status.suppresses()) {
                result["suppressions"] = json!([{
                    "kind": "external",
                    "status": "accepted",
                    "justification": format!("suppressed by VEX: {}", v.describe()),
                }]);
            }
            results.push(result);
        }
    }
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [ {
            "tool": { "driver": {
                "name": "berth",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/berth-dev/berth",
                "rules": rules.into_values().collect::<Vec<_>>(),
            } },
            "results": results,
        } ],
    })
}
