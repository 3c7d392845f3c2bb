//! Restore a snapshot into an empty directory, refusing anything that would leave it.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Component, Path};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::format::{IndexBlob, Item, ItemKind};
use crate::repo::Repository;
use crate::{Error, Result};

/// At most this much of a pack is read with one request (a larger blob is read whole).
const READ_SPAN: u64 = 4 << 20;
/// A gap of up to this many unneeded bytes between two needed blobs of a pack is read
/// through rather than paying for another request.
const READ_GAP: u64 = 256 << 10;
/// Restore threads at least: a thread waiting for its read (S3, SFTP) leaves the cores to
/// the others.
const MIN_THREADS: usize = 4;

/// One chunk occurrence to restore: where its blob is, and where its bytes go.
struct Piece {
    /// Pack number in [`crate::repo::Index::packs`].
    pack: u32,
    blob: IndexBlob,
    /// Number of the file in the restore's file list.
    file: u32,
    /// Offset in that file.
    at: u64,
}

/// Bytes `start..end` of one pack, read with one request, holding `pieces[from..to]`.
struct PackRead {
    from: usize,
    to: usize,
    start: u64,
    end: u64,
}

/// The restore's work: every chunk occurrence ordered by pack and offset, cut into reads.
struct Plan {
    pieces: Vec<Piece>,
    reads: Vec<PackRead>,
}

impl Plan {
    /// Orders the chunks of `files` by where they are in the packs, so every pack is read
    /// once and in order whatever order the backup wrote the files in.
    fn new(files: &[&Item], index: &crate::repo::Index, id_arg: &str) -> Result<Plan> {
        let mut pieces = Vec::new();
        for (n, item) in files.iter().enumerate() {
            let mut at = 0u64;
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
                pieces.push(Piece {
                    pack: loc.pack,
                    blob: loc.blob,
                    file: n as u32,
                    at,
                });
                at += u64::from(loc.blob.raw_length);
            }
        }
        pieces.sort_unstable_by_key(|p| (p.pack, p.blob.offset, p.file, p.at));
        let mut reads = Vec::new();
        let mut i = 0;
        while i < pieces.len() {
            let first = &pieces[i];
            let start = first.blob.offset;
            let mut end = start + u64::from(first.blob.length);
            let mut j = i + 1;
            while let Some(p) = pieces.get(j).filter(|p| p.pack == first.pack) {
                let p_end = p.blob.offset + u64::from(p.blob.length);
                let new_end = end.max(p_end);
                if p.blob.offset > end + READ_GAP || (new_end > end && new_end - start > READ_SPAN)
                {
                    break;
                }
                end = new_end;
                j += 1;
            }
            reads.push(PackRead {
                from: i,
                to: j,
                start,
                end,
            });
            i = j;
        }
        Ok(Plan { pieces, reads })
    }
}

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
        let (files_n, bytes) = self.restore_files(&files, target, &index, id_arg)?;
        sum.files += files_n;
        sum.bytes += bytes;
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

    /// Writes every file and stream of `files`; returns (files, bytes).
    ///
    /// Each pack is read once, in order, a [`READ_SPAN`] at a time, by whichever thread is
    /// free; every chunk read goes to each place it occurs (files are written at offsets, so
    /// a file whose chunks sit in several packs is filled by several threads). A file gets its
    /// mode and time once its last chunk is written. Files of two or more chunks, and empty
    /// ones, are created first; a one-chunk file is created when its chunk arrives.
    fn restore_files(
        &self,
        files: &[&Item],
        target: &Path,
        index: &crate::repo::Index,
        id_arg: &str,
    ) -> Result<(u64, u64)> {
        let plan = Plan::new(files, index, id_arg)?;
        for item in files.iter().filter(|i| i.chunks.len() != 1) {
            let (f, p) = create_file(target, item)?;
            if item.chunks.is_empty() {
                finish_file(&f, &p, item)?;
            }
        }
        let left: Vec<AtomicUsize> = files
            .iter()
            .map(|i| AtomicUsize::new(i.chunks.len()))
            .collect();
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(MIN_THREADS, 8)
            .min(plan.reads.len().max(1));
        let results: Vec<Result<u64>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let (plan, left, next, failed) = (&plan, &left, &next, &failed);
                    scope.spawn(move || {
                        let mut bytes = 0u64;
                        let mut open: Option<(u32, fs::File)> = None;
                        while !failed.load(Ordering::Relaxed) {
                            let Some(read) = plan.reads.get(next.fetch_add(1, Ordering::Relaxed))
                            else {
                                break;
                            };
                            let r = self
                                .restore_read(plan, read, files, target, index, left, &mut open);
                            match r {
                                Ok(n) => bytes += n,
                                Err(e) => {
                                    failed.store(true, Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                        Ok(bytes)
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
        let mut bytes = 0;
        for r in results {
            bytes += r?;
        }
        Ok((files.len() as u64, bytes))
    }

    /// One read of the plan: the pack range, then each blob in it opened once and written to
    /// every place it goes; returns the bytes written.
    #[allow(clippy::too_many_arguments)]
    fn restore_read(
        &self,
        plan: &Plan,
        read: &PackRead,
        files: &[&Item],
        target: &Path,
        index: &crate::repo::Index,
        left: &[AtomicUsize],
        open: &mut Option<(u32, fs::File)>,
    ) -> Result<u64> {
        let pieces = &plan.pieces[read.from..read.to];
        let pack = &index.packs[pieces[0].pack as usize];
        let name = crate::repo::pack_path(pack);
        let window = self
            .backend
            .read_at(&name, read.start, read.end - read.start);
        let mut bytes = 0u64;
        let mut i = 0;
        while i < pieces.len() {
            let blob = &pieces[i].blob;
            let same = pieces[i..]
                .iter()
                .take_while(|p| p.blob.offset == blob.offset)
                .count();
            let data = match &window {
                Ok(w) => {
                    let from = usize::try_from(blob.offset - read.start).unwrap_or(usize::MAX);
                    match w.get(from..from.saturating_add(blob.length as usize)) {
                        Some(sealed) => self.open_chunk(&name, sealed, blob),
                        None => self.read_chunk(pack, blob),
                    }
                }
                // A range that cannot be read whole (a truncated pack) must not hide an intact
                // chunk: the exact range is tried before other copies.
                Err(_) => self.read_chunk(pack, blob),
            };
            // Another copy (from a concurrent or later backup) may still be good.
            let data = match data {
                Ok(d) => d,
                Err(e) => index
                    .pack_blobs
                    .iter()
                    .filter(|(p, _)| *p != pack)
                    .flat_map(|(p, blobs)| {
                        blobs
                            .iter()
                            .filter(|b| b.id == blob.id)
                            .map(move |b| (p, b))
                    })
                    .find_map(|(p, b)| self.read_chunk(p, b).ok())
                    .ok_or(e)?,
            };
            for p in &pieces[i..i + same] {
                let n = p.file as usize;
                write_piece(target, files[n], p, &data, &left[n], open)?;
                bytes += data.len() as u64;
            }
            i += same;
        }
        Ok(bytes)
    }
}

/// Creates an item's file (never through an existing one: the target started empty, so a
/// second item of the same path is refused) and the directories leading to it.
fn create_file(target: &Path, item: &Item) -> Result<(fs::File, std::path::PathBuf)> {
    let p = target.join(&item.path);
    let create = || fs::OpenOptions::new().write(true).create_new(true).open(&p);
    let f = match create() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = p.parent() {
                fs::create_dir_all(parent)
                    .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
            }
            create()
        }
        r => r,
    }
    .map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
    Ok((f, p))
}

/// Writes one chunk occurrence; the last one of a file sets its mode and time.
fn write_piece(
    target: &Path,
    item: &Item,
    piece: &Piece,
    data: &[u8],
    left: &AtomicUsize,
    open: &mut Option<(u32, fs::File)>,
) -> Result<()> {
    if item.chunks.len() == 1 {
        let (mut f, p) = create_file(target, item)?;
        f.write_all(data)
            .map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
        return finish_file(&f, &p, item);
    }
    let p = target.join(&item.path);
    let what = |e| Error::io(format!("writing {}", p.display()), e);
    if open.as_ref().is_none_or(|(n, _)| *n != piece.file) {
        let f = fs::OpenOptions::new().write(true).open(&p).map_err(what)?;
        *open = Some((piece.file, f));
    }
    let mut done = false;
    if let Some((_, f)) = open.as_ref() {
        f.write_all_at(data, piece.at).map_err(what)?;
        if left.fetch_sub(1, Ordering::AcqRel) == 1 {
            finish_file(f, &p, item)?;
            done = true;
        }
    }
    if done {
        *open = None;
    }
    Ok(())
}

/// Sets a restored file's time (best effort) and mode.
fn finish_file(f: &fs::File, p: &Path, item: &Item) -> Result<()> {
    if let Some(t) = item.mtime {
        let _ = f.set_modified(std::time::SystemTime::from(t));
    }
    if let Some(mode) = item.mode {
        f.set_permissions(fs::Permissions::from_mode(mode & 0o7777))
            .map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
    }
    Ok(())
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
