//! Outcome `when` expressions: any string parses to an expression or an error, and any
//! parsed expression evaluates (against every analyzer grammar that reads one) to a boolean
//! or an error, never a panic or a hang.
//!
//! Input: the `when` string. The harness also feeds it to the value parsers (quantities,
//! ratios, durations, versions) and to real analyzers over a small in-memory bundle.
#![no_main]

use berth_troubleshoot::analyze::{MemBundle, Scope, analyze_entry};
use berth_troubleshoot::when::{self, Env, Op, Subject, Version, When};
use libfuzzer_sys::fuzz_target;

struct AnyEnv;

impl Env for AnyEnv {
    fn cmp(&self, subject: Option<&Subject>, op: Op, value: &str) -> Result<bool, String> {
        let left = subject.map(|s| s.to_string().len() as f64).unwrap_or(1.0);
        Ok(op.holds(&left, &when::parse_quantity(value)?))
    }
    fn word(&self, word: &str) -> Result<bool, String> {
        when::parse_bool(word).ok_or_else(|| word.to_string())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(w) = When::parse(s) {
        let _ = w.eval(&AnyEnv);
    }
    let _ = when::parse_quantity(s);
    let _ = when::parse_ratio(s);
    let _ = when::parse_go_duration(s);
    if let Some(v) = Version::parse_tolerant(s) {
        let _ = when::version_cmp(&v, Op::Ge, s, false);
        let _ = when::version_cmp(&v, Op::Lt, s, true);
    }
    let mut b = MemBundle::new();
    b.insert(
        "cluster-info/cluster_version.json",
        r#"{"string":"v1.29.3"}"#,
    );
    b.insert(
        "host-collectors/system/cpu.json",
        r#"{"logicalCount":4,"physicalCount":2,"flags":["sse2"]}"#,
    );
    b.insert(
        "host-collectors/diskUsage/d.json",
        r#"{"total_bytes":100,"used_bytes":90}"#,
    );
    b.insert("cluster-resources/nodes.json", r#"{"items":[{"metadata":{"name":"n"},"status":{"capacity":{"cpu":"2","memory":"4Gi"},"allocatable":{"cpu":"2","memory":"4Gi"}}}]}"#);
    let outcome =
        serde_json::json!([{"fail": {"when": s, "message": "f"}}, {"pass": {"message": "p"}}]);
    for (key, scope, extra) in [
        ("clusterVersion", Scope::Cluster, serde_json::json!({})),
        ("nodeResources", Scope::Cluster, serde_json::json!({})),
        ("distribution", Scope::Cluster, serde_json::json!({})),
        ("cpu", Scope::Host, serde_json::json!({})),
        (
            "diskUsage",
            Scope::Host,
            serde_json::json!({"collectorName": "d"}),
        ),
        ("hostOS", Scope::Host, serde_json::json!({})),
    ] {
        let mut spec = extra;
        spec["outcomes"] = outcome.clone();
        let _ = analyze_entry(&serde_json::json!({ key: spec }), scope, &b);
    }
});
