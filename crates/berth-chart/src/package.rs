//! Writing a chart directory as a chart archive, as `helm package` does and as Helm's
//! `dependency update` does for a `file://` dependency: every file the loader reads
//! (`.helmignore` honoured) under one top directory named after the chart, in a gzip'd tar.
//! The archive is reproducible: entries in path order, mode 0644, modification time 0.

use crate::archive::ChartFile;
use crate::chart::Chart;
use crate::error::ChartError;
use std::path::Path;

/// The chart at `dir`, loaded and checked as [`Chart::load_dir`] does, and its archive.
pub fn package_dir(dir: &Path) -> Result<(Chart, Vec<u8>), ChartError> {
    let (files, mut budget) = Chart::dir_files(dir)?;
    let origin = dir.display().to_string();
    let chart = Chart::from_files_within(files.clone(), &origin, 0, &mut budget)?;
    let bytes = archive_bytes(chart.name(), &files)
        .map_err(|e| ChartError::io(dir.join(format!("{}.tgz", chart.name())), e))?;
    Ok((chart, bytes))
}

fn archive_bytes(name: &str, files: &[ChartFile]) -> std::io::Result<Vec<u8>> {
    let mut sorted: Vec<&ChartFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for f in sorted {
        let mut h = tar::Header::new_gnu();
        h.set_size(f.data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, format!("{name}/{}", f.name), &*f.data)?;
    }
    tar.into_inner()?.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packaged_directory_loads_as_the_same_chart() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let d = tmp.path();
        std::fs::create_dir_all(d.join("templates")).expect("mkdir");
        std::fs::write(
            d.join("Chart.yaml"),
            "apiVersion: v2\nname: pkg\nversion: 1.2.3\n",
        )
        .expect("Chart.yaml");
        std::fs::write(d.join("values.yaml"), "a: 1\n").expect("values");
        std::fs::write(d.join("templates/cm.yaml"), "kind: ConfigMap\n").expect("template");
        std::fs::write(d.join("notes.bak"), "ignored\n").expect("bak");
        // Helm's archives carry .helmignore too; what it lists stays out.
        std::fs::write(d.join(".helmignore"), "*.bak\n").expect("helmignore");
        let (chart, bytes) = package_dir(d).expect("package");
        assert_eq!(
            (chart.name(), chart.metadata.version.as_str()),
            ("pkg", "1.2.3")
        );
        let entries: Vec<String> = crate::archive::read_archive(&bytes, "pkg.tgz")
            .expect("readable")
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(
            entries,
            [
                ".helmignore",
                "Chart.yaml",
                "templates/cm.yaml",
                "values.yaml"
            ]
        );
        let again = Chart::load_archive(&bytes, "pkg.tgz").expect("loads");
        assert_eq!(again.values, chart.values);
        assert_eq!(package_dir(d).expect("again").1, bytes, "reproducible");
    }
}
