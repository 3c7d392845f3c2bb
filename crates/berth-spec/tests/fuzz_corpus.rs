//! Replays the fuzz corpus (`fuzz/corpus/manifest_lint`) on stable Rust, so every input the
//! fuzzer kept is checked in every test run: problems, never a panic.

use std::path::Path;

#[test]
fn fuzz_corpus_yields_problems_not_panics() {
    let dir = Path::new("../../fuzz/corpus/manifest_lint");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let report =
            berth_spec::lint::lint_bytes(&data, Path::new("f.yaml"), Path::new("/nonexistent"));
        if report.app.is_none() {
            assert!(!report.problems.is_empty(), "{}", path.display());
        }
        if let Ok(text) = std::str::from_utf8(&data) {
            let _ = berth_spec::when::parse(text);
        }
        n += 1;
    }
    assert!(n >= 20, "corpus has {n} inputs");
}
