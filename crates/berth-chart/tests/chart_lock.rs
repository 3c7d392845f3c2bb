//! Chart.lock digests: berth computes Helm's digest (`HashReq`) for every Chart.lock in the
//! public chart corpus exactly as Helm wrote it, so a lock Helm wrote is honoured and a lock
//! berth writes is one Helm accepts.

use berth_chart::{Chart, ChartLock, lock_digest};
use std::path::Path;

fn unpack(archive: &str, into: &Path) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/public-charts")
        .join(archive);
    let file = std::fs::File::open(&path).expect("corpus archive");
    let dec = zstd::Decoder::new(file).expect("zstd");
    tar::Archive::new(dec).unpack(into).expect("unpack");
}

fn locks_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.join("Chart.lock").is_file() && p.join("Chart.yaml").is_file() {
                out.push(p.clone());
            }
            locks_under(&p, out);
        }
    }
}

#[test]
fn digests_of_helm_written_locks_match() {
    let tmp = tempfile::tempdir().expect("temp dir");
    for a in [
        "bitnami.tar.zst",
        "prometheus-community.tar.zst",
        "grafana-community.tar.zst",
    ] {
        let into = tmp.path().join(a.trim_end_matches(".tar.zst"));
        std::fs::create_dir_all(&into).expect("mkdir");
        unpack(a, &into);
    }
    let mut dirs = Vec::new();
    locks_under(tmp.path(), &mut dirs);
    assert!(
        dirs.len() > 50,
        "the corpus holds Chart.lock files: {}",
        dirs.len()
    );
    let mut wrong = Vec::new();
    for d in &dirs {
        let chart = Chart::load(d).expect("load chart");
        let lock = ChartLock::of(&chart)
            .expect("parse lock")
            .expect("lock present");
        let deps = chart.metadata.dependencies.clone().unwrap_or_default();
        let got = lock_digest(&deps, &lock.dependencies);
        if got != lock.digest {
            wrong.push(format!("{}: helm {} berth {got}", d.display(), lock.digest));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n{}",
        wrong.len(),
        dirs.len(),
        wrong.join("\n")
    );
}
