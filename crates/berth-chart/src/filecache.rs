//! A process-wide cache of chart directory listings and file contents, checked against each
//! entry's metadata, so a long-lived process that loads the same chart directory again
//! (`berth dev` after each save, the console, the vendor server) stats files instead of
//! opening and reading them.
//!
//! An entry is used only while the path's device, inode, size, mtime and ctime are what they
//! were when it was read. A write always moves ctime, but the kernel stamps times from a
//! coarse clock, so two writes of the same size a few milliseconds apart can leave identical
//! stamps (git's "racily clean" files). An entry is therefore kept only when the file's
//! ctime was at least [`SETTLED`] older than the moment it was read: a file written just
//! before (an editor's save) is read again on every load until it has settled.
//! Directory listings follow the same rule on the directory's own stamp, which moves when an
//! entry is created, removed or renamed.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long before a read a file's last change must lie for its contents to be kept.
pub(crate) const SETTLED: Duration = Duration::from_secs(1);

/// The cache keeps file contents up to this many bytes in total, then starts over.
const MAX_BYTES: usize = 64 << 20;

/// What identifies one version of a file or directory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    pub(crate) fn of(m: &Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    /// Whether the last change lies at least [`SETTLED`] before `now` (and not after it).
    fn settled(&self, now: SystemTime) -> bool {
        let Ok(now) = now.duration_since(UNIX_EPOCH) else {
            return false;
        };
        let (s, ns) = self.ctime;
        if s < 0 || !(0..1_000_000_000).contains(&ns) {
            return false;
        }
        let changed = Duration::new(s as u64, ns as u32);
        changed + SETTLED <= now
    }
}

/// One directory entry: its name and whether it is a symlink, a directory or a file.
#[derive(Clone, Debug)]
pub(crate) struct DirEntry {
    pub name: OsString,
    pub kind: EntryKind,
}

/// The entry's own type, as the directory listing gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Symlink,
    Dir,
    File,
    Other,
}

#[derive(Default)]
struct Cache {
    files: HashMap<PathBuf, (Stamp, Arc<[u8]>)>,
    dirs: HashMap<PathBuf, (Stamp, Arc<Vec<DirEntry>>)>,
    bytes: usize,
}

static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(Mutex::default);

fn cache() -> std::sync::MutexGuard<'static, Cache> {
    CACHE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Forgets every listing and file (for measurements of a first load).
pub(crate) fn clear() {
    let mut c = cache();
    c.files.clear();
    c.dirs.clear();
    c.bytes = 0;
}

/// The entries of directory `dir` (`meta` is its metadata), sorted by name.
pub(crate) fn list_dir(dir: &Path, meta: &Metadata) -> std::io::Result<Arc<Vec<DirEntry>>> {
    let stamp = Stamp::of(meta);
    if let Some((s, entries)) = cache().dirs.get(dir)
        && *s == stamp
    {
        return Ok(entries.clone());
    }
    let now = SystemTime::now();
    let mut entries = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let Ok(e) = e else { continue };
        let kind = match e.file_type() {
            Ok(t) if t.is_symlink() => EntryKind::Symlink,
            Ok(t) if t.is_dir() => EntryKind::Dir,
            Ok(t) if t.is_file() => EntryKind::File,
            Ok(_) => EntryKind::Other,
            Err(_) => continue,
        };
        entries.push(DirEntry {
            name: e.file_name(),
            kind,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let entries = Arc::new(entries);
    if stamp.settled(now) {
        cache()
            .dirs
            .insert(dir.to_path_buf(), (stamp, entries.clone()));
    }
    Ok(entries)
}

/// The contents of regular file `path` (`meta` is its metadata), read when the cache has no
/// entry for this version of it. Refuses to read past `limit` bytes.
pub(crate) fn read_file(path: &Path, meta: &Metadata, limit: u64) -> std::io::Result<Arc<[u8]>> {
    let stamp = Stamp::of(meta);
    if let Some((s, data)) = cache().files.get(path)
        && *s == stamp
    {
        return Ok(data.clone());
    }
    let now = SystemTime::now();
    let file = std::fs::File::open(path)?;
    let mut data = Vec::with_capacity(meta.len().min(limit) as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(&file, limit + 1), &mut data)?;
    if data.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "chart file is larger than the maximum file size {limit} bytes"
        )));
    }
    let data: Arc<[u8]> = data.into();
    // Keep it only if it is the version the stamp names (no write since the stat) and it has
    // settled.
    if data.len() as u64 == stamp.size && stamp.settled(now) && data.len() <= MAX_BYTES / 4 {
        let mut c = cache();
        if c.bytes + data.len() > MAX_BYTES {
            c.files.clear();
            c.bytes = 0;
        }
        c.bytes += data.len();
        if let Some((_, old)) = c.files.insert(path.to_path_buf(), (stamp, data.clone())) {
            c.bytes -= old.len();
        }
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_times(path: &Path, secs_ago: u64) {
        let t = SystemTime::now() - Duration::from_secs(secs_ago);
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_times(std::fs::FileTimes::new().set_modified(t).set_accessed(t))
            .unwrap();
    }

    #[test]
    fn a_file_is_read_again_when_it_changes_even_at_the_same_size_and_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("values.yaml");
        std::fs::write(&p, "a: 1\n").unwrap();
        set_times(&p, 10);
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(&*read_file(&p, &m, 100).unwrap(), b"a: 1\n");
        // Same size, mtime put back: ctime still moves (and the file is unsettled now).
        std::fs::write(&p, "a: 2\n").unwrap();
        set_times(&p, 10);
        let m2 = std::fs::metadata(&p).unwrap();
        assert_eq!(&*read_file(&p, &m2, 100).unwrap(), b"a: 2\n");
        // Read again with the first stamp would still give what was cached for it: the
        // stamps differ, so a stale entry can only answer for the version it was read as.
        assert_ne!(Stamp::of(&m), Stamp::of(&m2));
    }

    #[test]
    fn an_unsettled_file_is_not_kept_and_a_settled_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.yaml");
        std::fs::write(&p, "x").unwrap();
        let m = std::fs::metadata(&p).unwrap();
        read_file(&p, &m, 100).unwrap();
        // Just written: its ctime is now, so it was not kept.
        assert!(!cache().files.contains_key(&p));
        std::thread::sleep(SETTLED + Duration::from_millis(50));
        let m = std::fs::metadata(&p).unwrap();
        read_file(&p, &m, 100).unwrap();
        assert!(cache().files.contains_key(&p));
    }

    #[test]
    fn a_file_over_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, vec![b'x'; 101]).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        let e = read_file(&p, &m, 100).unwrap_err();
        assert!(e.to_string().contains("maximum file size 100"), "{e}");
    }

    #[test]
    fn listings_follow_created_and_removed_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b"), "").unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        let names = |d: &Path| {
            let m = std::fs::metadata(d).unwrap();
            list_dir(d, &m)
                .unwrap()
                .iter()
                .map(|e| (e.name.to_string_lossy().into_owned(), e.kind))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(dir.path()),
            [("a".into(), EntryKind::Dir), ("b".into(), EntryKind::File)]
        );
        std::fs::remove_file(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("c"), "").unwrap();
        assert_eq!(
            names(dir.path()),
            [("a".into(), EntryKind::Dir), ("c".into(), EntryKind::File)]
        );
    }
}
