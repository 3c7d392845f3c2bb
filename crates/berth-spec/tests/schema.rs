//! The JSON Schema generated from the types accepts the example and rejects broken manifests,
//! checked with an independent JSON Schema validator.

use berth_spec::Application;
use berth_spec::yaml::{Limits, parse_str};
use std::path::Path;

fn to_json(text: &str) -> serde_json::Value {
    parse_str(text, &Limits::default()).unwrap()[0].to_json()
}

#[test]
fn schema_validates_the_example_and_rejects_broken_manifests() {
    let schema = Application::json_schema();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid JSON Schema");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join("../../examples/hello/berth.yaml")).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&to_json(&example))
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");

    // Structural mistakes (as opposed to semantic ones) must be rejected by the schema too.
    for name in [
        "unknown-field",
        "wrong-type",
        "missing-field",
        "bad-api-version",
        "enum-typo",
        "not-a-list",
    ] {
        let text = std::fs::read_to_string(root.join(format!("tests/broken/{name}.yaml"))).unwrap();
        assert!(
            !validator.is_valid(&to_json(&text)),
            "{name} should be rejected by the schema"
        );
    }
}

#[test]
fn starter_app_round_trips_and_lints_clean() {
    let dir = tempfile_dir();
    for (rel, contents) in berth_spec::starter::files("demo") {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
    }
    let report = berth_spec::lint_dir(&dir);
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    let app = report.app.unwrap();
    // Round trip: serialize and read back to the same value.
    let json = serde_json::to_value(&app).unwrap();
    let back: Application = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, app);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn example_round_trips_through_json() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let app = berth_spec::load(&root.join("../../examples/hello"))
        .unwrap()
        .app;
    let json = serde_json::to_value(&app).unwrap();
    let back: Application = serde_json::from_value(json).unwrap();
    assert_eq!(back, app);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("berth-spec-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
