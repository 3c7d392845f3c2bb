//! Replays the `bundle_reader` fuzz corpus (fuzz/corpus/bundle_reader) on stable Rust: every
//! input is rejected or unpacked inside its own directory, and nothing read resolves outside.

use berth_troubleshoot::bundle::{ArchiveBundle, BundleReader, Limits};

#[test]
fn fuzz_corpus_never_escapes_or_panics() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/bundle_reader");
    let mut n = 0;
    let mut opened = 0;
    for e in std::fs::read_dir(&dir).expect("corpus directory") {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        n += 1;
        let limits = Limits {
            max_entries: 256,
            max_file: 1 << 20,
            max_total: 4 << 20,
        };
        let Ok(b) = ArchiveBundle::from_reader("corpus", &data[..], limits) else {
            continue;
        };
        opened += 1;
        let root = b.root().canonicalize().unwrap();
        for p in b.glob("**") {
            let _ = b.read(&p);
            if let Ok(c) = b.root().join(&p).canonicalize() {
                assert!(c.starts_with(&root), "{p} escapes the bundle");
            }
        }
        assert!(b.read("../../etc/passwd").is_none());
    }
    assert!(n >= 2, "corpus is empty");
    assert!(opened >= 1, "not even the seed bundles open");
}
