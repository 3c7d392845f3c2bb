//! A root filesystem directory as a scan target: walk it (symlinks not followed, one
//! filesystem, `proc`/`sys`/`dev` skipped) and keep the files catalogers want.

use crate::error::{Error, Result};
use crate::files::{self, FileSet};
use crate::image::Limits;
use std::io::Read;
use std::path::Path;

/// Read the wanted files under `root`.
pub fn read_rootfs(root: &Path, limits: &Limits) -> Result<FileSet> {
    let meta = std::fs::metadata(root).map_err(|e| Error::io(root, e))?;
    if !meta.is_dir() {
        return Err(Error::invalid(
            root.display().to_string(),
            "not a directory; give the root of an unpacked filesystem",
        ));
    }
    let mut fs = FileSet::default();
    let mut total = 0u64;
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .same_file_system(true)
        .into_iter()
        .filter_entry(|e| {
            !(e.depth() == 1 && matches!(e.file_name().to_str(), Some("proc" | "sys" | "dev")))
        });
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e.path().map(Path::to_path_buf).unwrap_or_default();
            Error::invalid(path.display().to_string(), format!("cannot walk: {e}"))
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let Some(rel) = rel.to_str() else { continue };
        if !files::wanted(rel) && crate::catalog::java::is_archive(rel) {
            let data = read_bounded(entry.path(), crate::catalog::java::MAX_ARCHIVE)?;
            let sum = crate::catalog::java::summarise(&data, rel);
            total += sum.len() as u64;
            fs.insert(rel, sum, None);
            continue;
        }
        if !files::wanted(rel) {
            match go_binary(entry.path()) {
                Ok(Some(info)) => {
                    total += info.len() as u64;
                    fs.insert(rel, info, None);
                }
                Ok(None) => {}
                Err(e) => fs
                    .problems
                    .push(format!("{rel}: {e}; not checked for Go modules")),
            }
            continue;
        }
        let data = read_bounded(entry.path(), limits.max_file)?;
        total += data.len() as u64;
        if total > limits.max_wanted_total {
            return Err(Error::TooLarge {
                what: format!("package databases under {}", root.display()),
                limit: limits.max_wanted_total,
            });
        }
        fs.insert(rel, data, None);
    }
    Ok(fs)
}

/// Read a file, refusing more than `limit` bytes.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut data = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut data)
        .map_err(|e| Error::io(path, e))?;
    if data.len() as u64 > limit {
        return Err(Error::TooLarge {
            what: path.display().to_string(),
            limit,
        });
    }
    Ok(data)
}

/// The kept build info of a Go binary at `path` (executables of Go-binary size only).
fn go_binary(path: &Path) -> Result<Option<Vec<u8>>> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    let size = meta.len();
    if meta.permissions().mode() & 0o111 == 0
        || !(files::MIN_GO_BINARY..=files::MAX_GO_BINARY).contains(&size)
    {
        return Ok(None);
    }
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    crate::image::read_go_binary(&mut f, size).map_err(|e| Error::io(path, e))
}
