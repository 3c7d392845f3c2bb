//! Fuzz the Go-template parser and executor: arbitrary text must parse or fail with an
//! error, and executing whatever parses must terminate within the step budget.
#![no_main]

use berth_template::{MapData, Options, TemplateSet, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let mut set = TemplateSet::new(Options {
        max_steps: 100_000,
        max_output_bytes: 1 << 20,
        ..Options::default()
    });
    if set.add("fuzz.yaml", src).is_ok() {
        let _ = set.execute("fuzz.yaml", &values());
    }
});

fn values() -> Value {
    let mut v = MapData::new();
    v.insert(
        "a".into(),
        Value::list(vec![Value::Float(1.0), Value::Float(2.0)]),
    );
    v.insert("b".into(), Value::str("x"));
    let mut root = MapData::new();
    root.insert("Values".into(), Value::map(v));
    Value::map(root)
}
