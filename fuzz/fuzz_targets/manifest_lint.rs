//! Any bytes given to `berth lint` produce problems, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let report = berth_spec::lint::lint_bytes(data, Path::new("fuzz.yaml"), Path::new("/nonexistent"));
    // Every problem carries a message; a rejected document names at least one problem.
    for p in &report.problems {
        assert!(!p.message.is_empty());
    }
    if report.app.is_none() {
        assert!(!report.problems.is_empty());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = berth_spec::when::parse(text);
        let _ = berth_spec::config::parse_values(text);
    }
});
