//! Restore a snapshot into an empty directory, refusing anything that would leave it.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

use crate::format::{IndexBlob, Item, ItemKind};
use crate::repo::Repository;
use crate::{Error, Result};

/// How much of a pack a restore thread reads at once.
const READ_AHEAD: u64 = 4 << 20;
/// Read-ahead windows kept per restore thread.
const WINDOWS: usize = 4;

/// A restore thread's read-ahead windows, most recently used first: (pack id, offset of the
/// first byte, bytes).
type Windows = Vec<(String, u64, Vec<u8>)>;

/// Counters of a restore.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreSummary {
    /// Files and streams written.
    pub files: u64,
    /// Directories created.
    pub dirs: u64,
    /// Symbolic links created.
    pub symlinks: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Links not created because their target is absolute or leaves the restore target
    /// (`path -> target`); common in host trees, and never followed.
    pub refused_links: Vec<String>,
}

/// Refuses item paths that are absolute, empty, or hold `.`/`..`/empty components.
pub(crate) fn check_item_path(path: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::UnsafePath {
            path: path.to_string(),
            reason: reason.to_string(),
        })
    };
    if path.is_empty() {
        return bad("empty path");
    }
    if path.starts_with('/') {
        return bad("absolute path");
    }
    if path.contains('\0') || path.contains('\\') {
        return bad("NUL or backslash in path");
    }
    if path
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return bad("empty, `.` or `..` component would leave the restore target");
    }
    Ok(())
}

/// Refuses a link target that is absolute or climbs above the target directory.
fn check_link(item: &Item) -> Result<()> {
    let target = item.target.as_deref().unwrap_or_default();
    let bad = |reason: &str| {
        Err(Error::UnsafePath {
            path: item.path.clone(),
            reason: reason.to_string(),
        })
    };
    if target.is_empty() || Path::new(target).is_absolute() {
        return bad("symlink target is empty or absolute (points outside the restore target)");
    }
    // Depth of the link's directory below the target, then walk the target lexically.
    let mut depth: i64 = item.path.split('/').count() as i64 - 1;
    for c in Path::new(target).components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return bad("symlink target has a root or prefix"),
        }
        if depth < 0 {
            return bad("symlink target climbs out of the restore target");
        }
    }
    Ok(())
}

/// Options of [`Repository::restore_with`].
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Restore only these item paths (a file, or a directory with everything under it) and
    /// the directories that lead to them; empty restores everything.
    pub include: Vec<String>,
    /// Restore only the items below this item path, relative to it (an app snapshot's
    /// `volumes/<claim>` into the claim's root); `include` paths are then relative to it too.
    pub root: Option<String>,
}

/// Keeps the items below `root`, with paths made relative to it; refuses a root the snapshot
/// does not hold (neither as an item nor as a prefix of one).
fn reroot(items: &mut Vec<Item>, root: &str, id: &str) -> Result<()> {
    let root = root.trim_matches('/');
    check_item_path(root)?;
    let prefix = format!("{root}/");
    let present = items
        .iter()
        .any(|i| i.path == root || i.path.starts_with(&prefix));
    if !present {
        return Err(Error::Invalid(format!(
            "snapshot {id} holds nothing at {root:?}; see its items with `berth snapshot show {id}`"
        )));
    }
    items.retain_mut(|i| match i.path.strip_prefix(&prefix) {
        Some(rest) if !rest.is_empty() => {
            i.path = rest.to_string();
            true
        }
        _ => false,
    });
    Ok(())
}

/// Whether `path` is selected by the include list: itself or an ancestor is included, or
/// (for directories) it leads to an included path.
fn included(path: &str, kind: ItemKind, include: &[String]) -> bool {
    include.is_empty()
        || include.iter().any(|inc| {
            path == inc
                || path
                    .strip_prefix(inc.as_str())
                    .is_some_and(|r| r.starts_with('/'))
                || (kind == ItemKind::Dir
                    && inc.strip_prefix(path).is_some_and(|r| r.starts_with('/')))
        })
}

impl Repository {
    /// Restores snapshot `id` (or unique prefix) into `target`, which must be absent or empty.
    ///
    /// Every item path is checked before anything is written (a path that leaves the target
    /// refuses the whole restore); links are created last, so no file is ever written through
    /// a restored link, and links pointing outside the target are not created but reported.
    pub fn restore(&self, id: &str, target: &Path) -> Result<RestoreSummary> {
        self.restore_with(id, target, &RestoreOptions::default())
    }

    /// [`Self::restore`] with options (a subset of the items with `include`).
    pub fn restore_with(
        &self,
        id: &str,
        target: &Path,
        opts: &RestoreOptions,
    ) -> Result<RestoreSummary> {
        let id_arg = id;
        let mut snap = self.snapshot(id)?.snapshot;
        for item in &snap.items {
            check_item_path(&item.path)?;
        }
        if let Some(root) = &opts.root {
            reroot(&mut snap.items, root, id_arg)?;
        }
        // `--include /a/b/` names the item `a/b`.
        let include: Vec<String> = opts
            .include
            .iter()
            .map(|i| i.trim_matches('/').to_string())
            .collect();
        if include.iter().any(String::is_empty) {
            return Err(Error::Invalid(
                "an empty include path selects everything; leave --include out instead".into(),
            ));
        }
        snap.items.retain(|i| included(&i.path, i.kind, &include));
        for inc in &include {
            if !snap.items.iter().any(|i| i.path == *inc) {
                return Err(Error::Invalid(format!(
                    "snapshot {id_arg} holds no item {inc:?}; see its items with `berth snapshot show {id_arg}`"
                )));
            }
        }
        match fs::read_dir(target) {
            Ok(mut it) => {
                if it.next().is_some() {
                    return Err(Error::TargetNotEmpty(target.to_path_buf()));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(target)
                    .map_err(|e| Error::io(format!("creating {}", target.display()), e))?;
            }
            Err(e) => return Err(Error::io(format!("reading {}", target.display()), e)),
        }
        let index = self.load_index()?;
        let mut sum = RestoreSummary::default();
        for item in snap.items.iter().filter(|i| i.kind == ItemKind::Dir) {
            let p = target.join(&item.path);
            fs::create_dir_all(&p)
                .map_err(|e| Error::io(format!("creating {}", p.display()), e))?;
            sum.dirs += 1;
        }
        let files: Vec<&Item> = snap
            .items
            .iter()
            .filter(|i| matches!(i.kind, ItemKind::File | ItemKind::Stream))
            .collect();
        // Files are restored by several threads; each writes whole files.
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(2, 8);
        // Each thread takes a contiguous run of files: their chunks sit next to each other in
        // the packs, so one read-ahead window serves many small files (on S3 and SFTP a
        // request per chunk made restores many times slower than reading packs).
        let per = files.len().div_ceil(workers).max(1);
        let results: Vec<Result<(u64, u64)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .chunks(per)
                .map(|run| {
                    let index = &index;
                    scope.spawn(move || {
                        let (mut n, mut bytes) = (0u64, 0u64);
                        let mut window = Vec::new();
                        for item in run {
                            bytes += self.restore_file(item, target, index, id_arg, &mut window)?;
                            n += 1;
                        }
                        Ok((n, bytes))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::Invalid("a restore thread panicked".into())))
                })
                .collect()
        });
        for r in results {
            let (n, bytes) = r?;
            sum.files += n;
            sum.bytes += bytes;
        }
        for item in snap.items.iter().filter(|i| i.kind == ItemKind::Symlink) {
            if check_link(item).is_err() {
                sum.refused_links.push(format!(
                    "{} -> {}",
                    item.path,
                    item.target.as_deref().unwrap_or_default()
                ));
                continue;
            }
            let p = target.join(&item.path);
            let t = item.target.as_deref().unwrap_or_default();
            std::os::unix::fs::symlink(t, &p)
                .map_err(|e| Error::io(format!("creating link {}", p.display()), e))?;
            sum.symlinks += 1;
        }
        // Directory modes last (deepest first), so a read-only directory is filled before.
        for item in snap.items.iter().rev().filter(|i| i.kind == ItemKind::Dir) {
            let p = target.join(&item.path);
            if let Some(mode) = item.mode {
                fs::set_permissions(&p, fs::Permissions::from_mode(mode & 0o7777))
                    .map_err(|e| Error::io(format!("setting mode of {}", p.display()), e))?;
            }
            set_mtime(&p, item);
        }
        Ok(sum)
    }
}

impl Repository {
    /// The content of one file or stream item of snapshot `s`, refused when larger than
    /// `limit` bytes (the caller holds it in memory).
    pub fn read_item(&self, s: &crate::SnapshotInfo, path: &str, limit: u64) -> Result<Vec<u8>> {
        let item = s
            .snapshot
            .items
            .iter()
            .find(|i| i.path == path && matches!(i.kind, ItemKind::File | ItemKind::Stream))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "snapshot {} holds no item {path:?}; see its items with `berth snapshot show {}`",
                    &s.id, &s.id
                ))
            })?;
        if item.size > limit {
            return Err(Error::Invalid(format!(
                "item {path} of snapshot {} is {} bytes, more than the {limit} expected",
                s.id, item.size
            )));
        }
        let index = self.load_index()?;
        let mut out = Vec::with_capacity(item.size as usize);
        for id in &item.chunks {
            let loc = index.chunks.get(id).ok_or_else(|| {
                Error::corrupt(
                    format!("snapshot {}", s.id),
                    format!("item {path}: chunk {id} is in no index; run `berth snapshot check`"),
                )
            })?;
            out.extend(self.read_chunk(&index.packs[loc.pack as usize], &loc.blob)?);
            if out.len() as u64 > limit {
                return Err(Error::corrupt(
                    format!("snapshot {}", s.id),
                    format!("item {path} holds more bytes than its recorded size"),
                ));
            }
        }
        Ok(out)
    }

    /// One chunk through a restore thread's read-ahead windows: on a miss, up to
    /// [`READ_AHEAD`] bytes of the pack from the chunk on (never past its last indexed blob)
    /// are read with one request. Several windows are kept (least recently used goes first)
    /// because a backup's worker threads interleave files from distant parts of the tree in
    /// the packs.
    fn windowed_chunk(
        &self,
        pack: &str,
        blob: &IndexBlob,
        index: &crate::repo::Index,
        windows: &mut Windows,
    ) -> Result<Vec<u8>> {
        let name = crate::repo::pack_path(pack);
        let end = blob.offset + u64::from(blob.length);
        let found = windows.iter().position(|(p, start, bytes)| {
            p == pack && blob.offset >= *start && end <= *start + bytes.len() as u64
        });
        let w = match found {
            Some(i) => windows.remove(i),
            None => {
                let pack_end = index
                    .pack_blobs
                    .get(pack)
                    .and_then(|b| b.iter().map(|x| x.offset + u64::from(x.length)).max())
                    .unwrap_or(end)
                    .max(end);
                let len = (pack_end - blob.offset).min(READ_AHEAD.max(u64::from(blob.length)));
                let bytes = self.backend.read_at(&name, blob.offset, len).map_err(|e| {
                    Error::corrupt(
                        &name,
                        format!("blob at offset {} cannot be read: {e}", blob.offset),
                    )
                })?;
                (pack.to_string(), blob.offset, bytes)
            }
        };
        let from = usize::try_from(blob.offset - w.1).unwrap_or(usize::MAX);
        let sealed =
            w.2.get(from..from.saturating_add(blob.length as usize))
                .ok_or_else(|| {
                    Error::corrupt(
                        &name,
                        format!("blob at offset {} was cut short", blob.offset),
                    )
                })?;
        let data = self.open_chunk(&name, sealed, blob);
        windows.insert(0, w);
        windows.truncate(WINDOWS);
        data
    }

    /// Writes one file or stream item; returns its size.
    fn restore_file(
        &self,
        item: &Item,
        target: &Path,
        index: &crate::repo::Index,
        id_arg: &str,
        window: &mut Windows,
    ) -> Result<u64> {
        let p = target.join(&item.path);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        }
        let what = || format!("writing {}", p.display());
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
            .map_err(|e| Error::io(what(), e))?;
        let mut bytes = 0u64;
        for id in &item.chunks {
            let loc = index.chunks.get(id).ok_or_else(|| {
                Error::corrupt(
                    format!("snapshot {id_arg}"),
                    format!(
                        "item {}: chunk {id} is in no index; run `berth snapshot check`",
                        item.path
                    ),
                )
            })?;
            let pack = &index.packs[loc.pack as usize];
            // A window that cannot be read whole (a truncated pack) must not hide an intact
            // chunk: the exact range is tried before other copies.
            let data = match self
                .windowed_chunk(pack, &loc.blob, index, window)
                .or_else(|_| self.read_chunk(pack, &loc.blob))
            {
                Ok(d) => d,
                // Another copy (from a concurrent or later backup) may still be good.
                Err(e) => index
                    .pack_blobs
                    .iter()
                    .filter(|(p, _)| *p != pack)
                    .flat_map(|(p, blobs)| {
                        blobs.iter().filter(|b| b.id == *id).map(move |b| (p, b))
                    })
                    .find_map(|(p, b)| self.read_chunk(p, b).ok())
                    .ok_or(e)?,
            };
            f.write_all(&data).map_err(|e| Error::io(what(), e))?;
            bytes += data.len() as u64;
        }
        drop(f);
        if let Some(mode) = item.mode {
            fs::set_permissions(&p, fs::Permissions::from_mode(mode & 0o7777))
                .map_err(|e| Error::io(what(), e))?;
        }
        set_mtime(&p, item);
        Ok(bytes)
    }
}

fn set_mtime(path: &Path, item: &Item) {
    // Best effort: a missing mtime must not fail a restore.
    if let Some(t) = item.mtime {
        let st = std::time::SystemTime::from(t);
        if let Ok(f) = fs::File::open(path) {
            let _ = f.set_modified(st);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(path: &str, target: &str) -> Item {
        Item {
            path: path.into(),
            kind: ItemKind::Symlink,
            mode: None,
            mtime: None,
            size: 0,
            chunks: vec![],
            target: Some(target.into()),
        }
    }

    #[test]
    fn include_selects_the_item_its_descendants_and_its_ancestors() {
        let inc = vec!["a/b".to_string()];
        assert!(included("a/b", ItemKind::File, &inc));
        assert!(included("a/b/c", ItemKind::File, &inc));
        assert!(
            included("a", ItemKind::Dir, &inc),
            "the directory leading to it"
        );
        assert!(!included("a", ItemKind::File, &inc));
        assert!(
            !included("a/bc", ItemKind::File, &inc),
            "a sibling sharing a prefix"
        );
        assert!(!included("a/c", ItemKind::File, &inc));
        assert!(included("anything", ItemKind::File, &[]));
    }

    #[test]
    fn item_paths_that_leave_the_target_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a/.",
            "a\\..\\b",
        ] {
            assert!(check_item_path(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["a", "a/b/c.txt", "objects/deployment/web.yaml", "..a/b.."] {
            assert!(check_item_path(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn links_that_leave_the_target_are_refused() {
        for (p, t) in [
            ("a", "/etc"),
            ("a", "../x"),
            ("d/a", "../../x"),
            ("d/a", "x/../../../y"),
            ("a", ""),
        ] {
            assert!(check_link(&link(p, t)).is_err(), "{p} -> {t} accepted");
        }
        for (p, t) in [
            ("a", "b"),
            ("d/a", "../b"),
            ("d/e/a", "../../b/c"),
            ("a", "./b"),
        ] {
            assert!(check_link(&link(p, t)).is_ok(), "{p} -> {t} refused");
        }
    }
}
