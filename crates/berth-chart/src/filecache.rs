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
//!
//! Files are looked up relative to an open directory ([`Dir`]), so checking a stamp costs one
//! `fstatat` of one path component rather than a walk of the whole path.

use nix::fcntl::{OFlag, open, openat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat};
use std::collections::HashMap;
use std::ffi::OsString;
use std::os::fd::OwnedFd;
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
    fn of(st: &FileStat) -> Stamp {
        Stamp {
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size as u64,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
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

/// What a stat says about one path: its stamp, type and size.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stat {
    stamp: Stamp,
    mode: u32,
    nlink: u64,
}

impl Stat {
    fn of(st: &FileStat) -> Stat {
        Stat {
            stamp: Stamp::of(st),
            mode: st.st_mode,
            nlink: st.st_nlink,
        }
    }
    fn kind(&self) -> u32 {
        self.mode & SFlag::S_IFMT.bits()
    }
    pub(crate) fn is_dir(&self) -> bool {
        self.kind() == SFlag::S_IFDIR.bits()
    }
    pub(crate) fn is_file(&self) -> bool {
        self.kind() == SFlag::S_IFREG.bits()
    }
    pub(crate) fn len(&self) -> u64 {
        self.stamp.size
    }
    /// How many names the file has (hard links).
    pub(crate) fn links(&self) -> u64 {
        self.nlink
    }
}

fn io(e: nix::errno::Errno) -> std::io::Error {
    std::io::Error::from(e)
}

/// An open directory (`O_PATH`): entries are stat'ed and opened relative to it.
pub(crate) struct Dir {
    fd: OwnedFd,
    path: PathBuf,
    stat: Stat,
}

const DIR_FLAGS: OFlag = OFlag::O_PATH
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_CLOEXEC);

impl Dir {
    /// Opens directory `path` (symlinks followed).
    pub(crate) fn open(path: &Path) -> std::io::Result<Dir> {
        let fd = open(path, DIR_FLAGS, Mode::empty()).map_err(io)?;
        Dir::with_fd(fd, path.to_path_buf())
    }

    /// Opens the subdirectory `name` of this one.
    pub(crate) fn sub(&self, name: &str) -> std::io::Result<Dir> {
        let fd = openat(&self.fd, name, DIR_FLAGS, Mode::empty()).map_err(io)?;
        Dir::with_fd(fd, self.path.join(name))
    }

    fn with_fd(fd: OwnedFd, path: PathBuf) -> std::io::Result<Dir> {
        let stat = Stat::of(&fstat(&fd).map_err(io)?);
        Ok(Dir { fd, path, stat })
    }

    /// The open directory.
    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// The descriptor's number (for `/proc/self/fd/N`).
    pub(crate) fn raw_fd(&self) -> i32 {
        std::os::fd::AsRawFd::as_raw_fd(&self.fd)
    }

    /// Device and inode of the directory.
    pub(crate) fn identity(&self) -> (u64, u64) {
        (self.stat.stamp.dev, self.stat.stamp.ino)
    }

    /// The directory's path, as opened.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Stats entry `name` (symlinks followed).
    pub(crate) fn stat(&self, name: &str) -> std::io::Result<Stat> {
        let st = fstatat(&self.fd, name, nix::fcntl::AtFlags::empty()).map_err(io)?;
        Ok(Stat::of(&st))
    }

    /// The directory's entries, sorted by name.
    pub(crate) fn list(&self) -> std::io::Result<Arc<Vec<DirEntry>>> {
        let stamp = self.stat.stamp;
        if let Some((s, entries)) = cache().dirs.get(&self.path)
            && *s == stamp
        {
            return Ok(entries.clone());
        }
        let now = SystemTime::now();
        let mut entries = Vec::new();
        for e in std::fs::read_dir(&self.path)? {
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
                .insert(self.path.clone(), (stamp, entries.clone()));
        }
        Ok(entries)
    }

    /// The contents of regular file `name` (`stat` is its [`Dir::stat`]), read when the
    /// cache has no entry for this version of it. Refuses to read past `limit` bytes.
    pub(crate) fn read(&self, name: &str, stat: &Stat, limit: u64) -> std::io::Result<Arc<[u8]>> {
        let path = self.path.join(name);
        let stamp = stat.stamp;
        if let Some((s, data)) = cache().files.get(&path)
            && *s == stamp
        {
            return Ok(data.clone());
        }
        let now = SystemTime::now();
        let fd = openat(
            &self.fd,
            name,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)?;
        let file = std::fs::File::from(fd);
        let mut data = Vec::with_capacity(stamp.size.min(limit) as usize);
        std::io::Read::read_to_end(&mut std::io::Read::take(&file, limit + 1), &mut data)?;
        if data.len() as u64 > limit {
            return Err(std::io::Error::other(format!(
                "chart file is larger than the maximum file size {limit} bytes"
            )));
        }
        let data: Arc<[u8]> = data.into();
        // Keep it only if it is the version the stamp names (no write since the stat) and it
        // has settled.
        if data.len() as u64 == stamp.size && stamp.settled(now) && data.len() <= MAX_BYTES / 4 {
            let mut c = cache();
            if c.bytes + data.len() > MAX_BYTES {
                c.files.clear();
                c.bytes = 0;
            }
            c.bytes += data.len();
            if let Some((_, old)) = c.files.insert(path, (stamp, data.clone())) {
                c.bytes -= old.len();
            }
        }
        Ok(data)
    }
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

    fn read(dir: &Path, name: &str, limit: u64) -> std::io::Result<Arc<[u8]>> {
        let d = Dir::open(dir)?;
        let st = d.stat(name)?;
        d.read(name, &st, limit)
    }

    #[test]
    fn a_file_is_read_again_when_it_changes_even_at_the_same_size_and_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("values.yaml");
        std::fs::write(&p, "a: 1\n").unwrap();
        set_times(&p, 10);
        let d = Dir::open(dir.path()).unwrap();
        let st = d.stat("values.yaml").unwrap();
        assert_eq!(&*d.read("values.yaml", &st, 100).unwrap(), b"a: 1\n");
        // Same size, mtime put back: ctime still moves (and the file is unsettled now).
        std::fs::write(&p, "a: 2\n").unwrap();
        set_times(&p, 10);
        let st2 = d.stat("values.yaml").unwrap();
        assert_eq!(&*d.read("values.yaml", &st2, 100).unwrap(), b"a: 2\n");
        // A stale entry can only answer for the version it was read as.
        assert_ne!(st.stamp, st2.stamp);
    }

    #[test]
    fn an_unsettled_file_is_not_kept_and_a_settled_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.yaml");
        std::fs::write(&p, "x").unwrap();
        read(dir.path(), "t.yaml", 100).unwrap();
        // Just written: its ctime is now, so it was not kept.
        assert!(!cache().files.contains_key(&p));
        std::thread::sleep(SETTLED + Duration::from_millis(50));
        read(dir.path(), "t.yaml", 100).unwrap();
        assert!(cache().files.contains_key(&p));
    }

    #[test]
    fn a_file_over_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, vec![b'x'; 101]).unwrap();
        let e = read(dir.path(), "big", 100).unwrap_err();
        assert!(e.to_string().contains("maximum file size 100"), "{e}");
    }

    #[test]
    fn listings_follow_created_and_removed_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b"), "").unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        let names = |d: &Path| {
            Dir::open(d)
                .unwrap()
                .list()
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
