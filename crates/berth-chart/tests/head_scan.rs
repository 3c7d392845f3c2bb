//! The one-pass head scan that sorts rendered documents (`src/head.rs`) against the full
//! YAML reader, on every document berth renders from the test corpus and the public chart
//! corpus (default values): wherever the scan accepts a document, the full reader must accept
//! it too and read the same kind, name and hook annotations. Needs no Helm.

use berth_chart::{Chart, RenderOptions, head_scan_check, split_manifests};
use std::path::Path;

#[path = "../../../testing/public_charts.rs"]
mod public_charts;

#[derive(Default)]
struct Tally {
    scanned: usize,
    unscanned: usize,
    failures: Vec<String>,
}

fn check_chart(id: &str, dir: &Path, t: &mut Tally) {
    let Ok(chart) = Chart::load(dir) else { return };
    let Ok(r) = berth_chart::render(&chart, &RenderOptions::default()) else {
        return;
    };
    for (path, text) in &r.files {
        for doc in split_manifests(text) {
            match head_scan_check(doc) {
                None => {
                    t.unscanned += 1;
                    // BERTH_HEAD_SCAN_DUMP=DIR keeps the documents left to the full reader.
                    if let Ok(d) = std::env::var("BERTH_HEAD_SCAN_DUMP") {
                        let name = format!("{id}-{path}-{}", t.unscanned).replace('/', "_");
                        let _ = std::fs::write(Path::new(&d).join(name), doc);
                    }
                }
                Some(Ok(())) => t.scanned += 1,
                Some(Err(e)) => t.failures.push(format!("{id}: {path}: {e}\n{doc}")),
            }
        }
    }
}

#[test]
fn head_scan_agrees_with_the_full_reader_on_the_corpora() {
    let mut t = Tally::default();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut local: Vec<_> = std::fs::read_dir(&corpus)
        .expect("tests/corpus is readable")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("Chart.yaml").exists())
        .collect();
    local.sort();
    for dir in &local {
        check_chart(&dir.display().to_string(), dir, &mut t);
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut charts = public_charts::unpack(tmp.path());
    if let Ok(only) = std::env::var("BERTH_CORPUS_ONLY") {
        charts.retain(|c| c.id().contains(&only));
    }
    for c in &charts {
        check_chart(&c.id(), &c.dir, &mut t);
    }
    eprintln!(
        "head scan: {} documents read by the scan, {} left to the full reader",
        t.scanned, t.unscanned
    );
    assert!(
        t.failures.is_empty(),
        "{} documents where the scan and the full reader disagree:\n{}",
        t.failures.len(),
        t.failures.join("\n\n")
    );
    // The scan must carry most documents, or sorting is back to the full reader's cost.
    assert!(
        t.scanned >= 9 * (t.scanned + t.unscanned) / 10,
        "only {} of {} documents read by the scan",
        t.scanned,
        t.scanned + t.unscanned
    );
}
