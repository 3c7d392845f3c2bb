//! Reading chart archives (`.tgz`) that come from strangers.
//!
//! A chart archive is untrusted input: a customer may be handed a bundle built by
//! anyone. Every entry is checked before its bytes are kept: no absolute paths,
//! no `..`, no links or device files, at most [`MAX_FILE_SIZE`] per file and
//! [`MAX_ARCHIVE_SIZE`] decompressed in total (counted on the decompressed stream,
//! so a gzip bomb stops at the limit instead of filling memory), and at most
//! [`MAX_ENTRIES`] entries. The limits are Helm's, so any chart Helm accepts loads.
//!
//! Those are per archive; a chart's `charts/` may hold archives that hold archives, so one
//! [`Budget`] is also shared by a chart and all its subcharts: at most [`MAX_TREE_SIZE`]
//! decompressed bytes (each nested archive counts once as a file of its parent and again
//! for its content), [`MAX_TREE_FILES`] files and [`MAX_SUBCHART_DEPTH`] levels of nesting.
//!
//! An archive that holds one path twice is read as Helm and tar read it: the last copy wins,
//! for every file.

use crate::error::ChartError;
use std::io::Read;
use std::sync::Arc;

/// Largest single file Helm accepts in a chart (5 MiB).
pub const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;
/// Largest decompressed chart archive Helm accepts (100 MiB).
pub const MAX_ARCHIVE_SIZE: u64 = 100 * 1024 * 1024;
/// Most entries berth reads from one archive (Helm has no limit; ours bounds memory).
pub const MAX_ENTRIES: usize = 20_000;

/// Most decompressed bytes across a chart and all its subcharts (200 MiB: twice what Helm
/// accepts for one archive, so any chart Helm loads still loads with its subcharts).
pub const MAX_TREE_SIZE: u64 = 2 * MAX_ARCHIVE_SIZE;
/// Most files across a chart and all its subcharts.
pub const MAX_TREE_FILES: usize = MAX_ENTRIES;
/// How deep `charts/` may nest (a guard against archives that contain themselves).
pub const MAX_SUBCHART_DEPTH: usize = 16;

/// What a chart and all its subcharts may still read: one budget per load, charged for
/// every file as it is decompressed (or read from a chart directory), before it is kept.
#[derive(Debug, Clone)]
pub struct Budget {
    bytes: u64,
    files: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            bytes: MAX_TREE_SIZE,
            files: MAX_TREE_FILES,
        }
    }
}

impl Budget {
    /// Take one file of `size` bytes from the budget; `chart` and `entry` say where, in
    /// the error that names the limit reached.
    pub fn charge(&mut self, chart: &str, entry: &str, size: u64) -> Result<(), ChartError> {
        let limit = |limit: String, what: &str| ChartError::Limit {
            chart: chart.to_owned(),
            limit,
            detail: format!(
                "reading {entry:?}: the chart and its subcharts together hold {what}; \
                 this is not a chart Helm would package (a decompression bomb?)"
            ),
        };
        if self.files == 0 {
            return Err(limit(
                format!("file count limit ({MAX_TREE_FILES} files)"),
                "too many files",
            ));
        }
        if size > self.bytes {
            return Err(limit(
                format!("total decompressed size limit ({MAX_TREE_SIZE} bytes)"),
                "too many bytes",
            ));
        }
        self.files -= 1;
        self.bytes -= size;
        Ok(())
    }
}

/// One file of a chart, named by its slash-separated path inside the chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartFile {
    /// Path relative to the chart root, e.g. `templates/deployment.yaml`.
    pub name: String,
    /// The file's bytes (a leading UTF-8 byte-order mark removed, as Helm does), shared: a
    /// chart is cloned for every render, and `.Files` hands the same bytes to templates.
    pub data: Arc<[u8]>,
}

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

pub(crate) fn strip_bom(data: Arc<[u8]>) -> Arc<[u8]> {
    match data.strip_prefix(UTF8_BOM) {
        Some(rest) => Arc::from(rest),
        None => data,
    }
}

/// Counts decompressed bytes and fails once more than `limit` were produced.
struct Limited<R> {
    inner: R,
    read: u64,
    limit: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(std::io::Error::other("decompressed size limit exceeded"));
        }
        Ok(n)
    }
}

/// Reads a gzipped chart archive into its files, with the top directory
/// (`mychart/`) stripped. `archive` names the archive in errors.
pub fn read_archive(bytes: &[u8], archive: &str) -> Result<Vec<ChartFile>, ChartError> {
    read_archive_within(bytes, archive, &mut Budget::default())
}

/// [`read_archive`], charging every file to `budget` (shared by a chart and its subcharts).
/// A path that appears twice keeps its last copy, in the place of the first.
pub fn read_archive_within(
    bytes: &[u8],
    archive: &str,
    budget: &mut Budget,
) -> Result<Vec<ChartFile>, ChartError> {
    let err = |entry: &str, reason: String| ChartError::Archive {
        archive: archive.to_owned(),
        entry: entry.to_owned(),
        reason,
    };
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(err(
            "",
            "not a gzipped tar archive (a chart archive is what `helm package` writes)".into(),
        ));
    }
    // Tar headers and padding count too, so allow some slack over the content limit.
    let gz = Limited {
        inner: flate2::read::GzDecoder::new(bytes),
        read: 0,
        limit: MAX_ARCHIVE_SIZE + MAX_ARCHIVE_SIZE / 4,
    };
    let mut tar = tar::Archive::new(gz);
    let entries = tar
        .entries()
        .map_err(|e| err("", format!("unreadable archive: {e}")))?;
    let mut files: Vec<ChartFile> = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    let mut total: u64 = 0;
    let mut count = 0usize;
    for entry in entries {
        let mut entry = entry.map_err(|e| {
            err(
                "",
                format!("corrupt or oversized archive: {e} (limit {MAX_ARCHIVE_SIZE} bytes decompressed)"),
            )
        })?;
        count += 1;
        if count > MAX_ENTRIES {
            return Err(err("", format!("more than {MAX_ENTRIES} entries")));
        }
        let raw_name = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|_| err("", "an entry name is not UTF-8".into()))?;
        let kind = entry.header().entry_type();
        use tar::EntryType as T;
        match kind {
            T::Directory | T::XGlobalHeader | T::XHeader => continue,
            T::Regular | T::Continuous => {}
            T::Symlink | T::Link => {
                return Err(err(
                    &raw_name,
                    "links are not allowed in a chart archive; package the file itself".into(),
                ));
            }
            other => {
                return Err(err(
                    &raw_name,
                    format!("entries of type {other:?} are not allowed; only regular files"),
                ));
            }
        }
        let name = clean_entry_name(&raw_name).map_err(|r| err(&raw_name, r))?;
        let size = entry.header().size().unwrap_or(u64::MAX);
        if size > MAX_FILE_SIZE {
            return Err(err(
                &raw_name,
                format!("file is larger than the maximum file size {MAX_FILE_SIZE} bytes"),
            ));
        }
        if total + size > MAX_ARCHIVE_SIZE {
            return Err(err(
                &raw_name,
                format!(
                    "decompressed chart is larger than the maximum size {MAX_ARCHIVE_SIZE} bytes"
                ),
            ));
        }
        budget.charge(archive, &raw_name, size)?;
        let mut data = Vec::with_capacity(size as usize);
        (&mut entry)
            .take(MAX_FILE_SIZE + 1)
            .read_to_end(&mut data)
            .map_err(|e| err(&raw_name, format!("cannot decompress: {e}")))?;
        if data.len() as u64 != size {
            return Err(err(&raw_name, "truncated entry".into()));
        }
        total += size;
        let file = ChartFile {
            name,
            data: strip_bom(data.into()),
        };
        // Last copy wins, as in Helm (whose loader overwrites) and tar (which re-extracts).
        match seen.get(&file.name) {
            Some(&i) => files[i] = file,
            None => {
                seen.insert(file.name.clone(), files.len());
                files.push(file);
            }
        }
    }
    if files.is_empty() {
        return Err(err("", "no files in chart archive".into()));
    }
    Ok(files)
}

/// Drops the archive's top directory and rejects anything that could leave the chart.
fn clean_entry_name(raw: &str) -> Result<String, String> {
    let name = raw.replace('\\', "/");
    if name.starts_with('/') {
        return Err("absolute paths are not allowed in a chart archive".into());
    }
    let mut parts = name.split('/');
    let top = parts.next().unwrap_or("");
    if top == "Chart.yaml" {
        return Err("Chart.yaml is not inside the chart's top directory".into());
    }
    let mut clean: Vec<&str> = Vec::new();
    for p in parts {
        match p {
            "" | "." => {}
            ".." => return Err("the path leaves the chart directory (..)".into()),
            p => clean.push(p),
        }
    }
    if top == ".." {
        return Err("the path leaves the chart directory (..)".into());
    }
    if clean.is_empty() {
        return Err("content outside the chart's top directory".into());
    }
    let joined = clean.join("/");
    let b = joined.as_bytes();
    if b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'/' {
        return Err("drive-letter paths are not allowed".into());
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names() {
        assert_eq!(
            clean_entry_name("c/templates/a.yaml").unwrap(),
            "templates/a.yaml"
        );
        assert_eq!(clean_entry_name("c/./x//y").unwrap(), "x/y");
        assert!(clean_entry_name("/etc/passwd").is_err());
        assert!(clean_entry_name("c/../../x").is_err());
        assert!(clean_entry_name("../x").is_err());
        assert!(clean_entry_name("Chart.yaml").is_err());
        assert!(clean_entry_name("c").is_err());
        assert!(clean_entry_name("c/C:/x").is_err());
    }
}
