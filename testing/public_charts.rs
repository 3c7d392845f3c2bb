//! The corpus of real public Helm charts (`crates/berth-chart/tests/public-charts/`, see its
//! README.md): one `<source>.tar.zst` per chart repository, every dependency vendored under
//! each chart's `charts/`. Tests of any crate read it through this file:
//! `#[path = "../../../testing/public_charts.rs"] mod public_charts;` (needs the `tar` and
//! `zstd` crates as dev-dependencies), then `public_charts::unpack(tempdir.path())`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// One unpacked chart of the corpus.
#[derive(Debug, Clone)]
pub struct PublicChart {
    /// The chart repository it comes from (`bitnami`, `prometheus-community`, `argo`, ...).
    pub source: String,
    /// The chart's folder name in that repository.
    pub name: String,
    /// Where it was unpacked: a chart directory with Chart.yaml.
    pub dir: PathBuf,
}

impl PublicChart {
    /// `source/name`, the key used in known-gap lists.
    pub fn id(&self) -> String {
        format!("{}/{}", self.source, self.name)
    }
}

/// The folder holding the archives, README.md and manifest.json.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../berth-chart/tests/public-charts")
}

/// The sources (archive names without `.tar.zst`), sorted.
pub fn sources() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("the public chart corpus folder is readable")
        .filter_map(Result::ok)
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".tar.zst").map(str::to_owned)
        })
        .collect();
    out.sort();
    out
}

/// Unpacks every source into `dest/<source>/<chart>` and lists the charts, sorted by id.
pub fn unpack(dest: &Path) -> Vec<PublicChart> {
    let mut charts = Vec::new();
    for source in sources() {
        let archive = corpus_dir().join(format!("{source}.tar.zst"));
        let file = std::fs::File::open(&archive).expect("corpus archive opens");
        let mut dec = zstd::stream::read::Decoder::new(file).expect("zstd stream");
        // Built with `zstd --long=27`: allow that window.
        dec.window_log_max(27).expect("zstd window");
        let out = dest.join(&source);
        tar::Archive::new(dec)
            .unpack(&out)
            .unwrap_or_else(|e| panic!("unpacking {}: {e}", archive.display()));
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .expect("unpacked source folder")
            .filter_map(Result::ok)
            .filter(|e| e.path().join("Chart.yaml").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        charts.extend(names.into_iter().map(|name| PublicChart {
            dir: out.join(&name),
            source: source.clone(),
            name,
        }));
    }
    charts
}

/// The charts with at least `min` files under their own `templates/` (subfolders included,
/// subcharts not).
pub fn with_templates(charts: &[PublicChart], min: usize) -> Vec<PublicChart> {
    charts
        .iter()
        .filter(|c| count_files(&c.dir.join("templates")) >= min)
        .cloned()
        .collect()
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() { count_files(&p) } else { 1 }
                })
                .sum()
        })
        .unwrap_or(0)
}
