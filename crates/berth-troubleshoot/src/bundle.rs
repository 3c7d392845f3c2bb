//! The support bundle on disk, in troubleshoot's layout (see `docs/formats/support-bundle.md`).
//!
//! Writing: collectors' files go into a staging directory `<name>/…` (so analyzers can read
//! them), then the directory is packed as `<name>.tar.gz` holding only regular files and
//! relative symlinks under one top-level directory, like troubleshoot. The gzip stream is made
//! of independently compressed members (one per few MiB of tar), compressed on every core;
//! gzip, GNU tar, Go and Python read multi-member streams as one.
//!
//! Reading: [`BundleReader`] over a directory or a `.tar.gz`. Bundles are untrusted input: an
//! archive is unpacked into a private temporary directory with limits on entry count and
//! sizes, rejecting absolute paths, `..`, and links that leave the tree.

use flate2::Compression;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

/// Read access to a support bundle, by bundle-relative path (`cluster-resources/pods/x.json`).
pub trait BundleReader: Send + Sync {
    /// The file's bytes, or `None` if it is absent, a directory, or unreadable.
    fn read(&self, path: &str) -> Option<Vec<u8>>;
    /// Bundle-relative paths of files matching a glob (`*` and `?` stay within a path segment,
    /// `**` crosses segments, `[...]` classes), sorted.
    fn glob(&self, pattern: &str) -> Vec<String>;
}

/// Errors opening or writing bundles.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// I/O on a path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: io::Error,
    },
    /// The archive breaks a rule (traversal, size, link).
    #[error("support bundle {path} is rejected: {reason}")]
    Rejected {
        /// The archive.
        path: String,
        /// Why.
        reason: String,
    },
    /// The path is neither a directory nor a readable archive.
    #[error(
        "{path} is not a support bundle: expected a directory or a .tar.gz made by berth or troubleshoot ({reason})"
    )]
    NotABundle {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Limits applied when unpacking an untrusted archive.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Maximum number of entries.
    pub max_entries: u64,
    /// Maximum size of one file, bytes.
    pub max_file: u64,
    /// Maximum total unpacked size, bytes.
    pub max_total: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 2_000_000,
            max_file: 1 << 30,
            max_total: 64 << 30,
        }
    }
}

/// A normalised bundle-relative path: no leading `/`, no `.`/`..`, `/` separators.
/// `None` if the path tries to leave the bundle.
pub fn clean_rel(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("/"))
}

/// A bundle stored as a directory tree.
pub struct DirBundle {
    root: PathBuf,
    canon_root: PathBuf,
    listing: OnceLock<Vec<String>>,
}

impl DirBundle {
    /// Open a directory; the bundle root is the directory itself if it holds `version.yaml`,
    /// else its only (or first, sorted) subdirectory, as troubleshoot's reader does.
    pub fn open(dir: &Path) -> Result<DirBundle, BundleError> {
        let root = find_root(dir)?;
        let canon_root = root.canonicalize().map_err(io_err(&root))?;
        Ok(DirBundle {
            root,
            canon_root,
            listing: OnceLock::new(),
        })
    }

    /// The bundle root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn resolve(&self, rel: &str) -> Option<PathBuf> {
        let rel = clean_rel(rel)?;
        let p = self.root.join(&rel);
        // Follow links only while they stay inside the bundle.
        let canon = p.canonicalize().ok()?;
        canon.starts_with(&self.canon_root).then_some(canon)
    }

    fn listing(&self) -> &[String] {
        self.listing.get_or_init(|| {
            let mut out = Vec::new();
            for e in walkdir::WalkDir::new(&self.root)
                .follow_links(false)
                .into_iter()
                .flatten()
            {
                let ft = e.file_type();
                if ft.is_dir() {
                    continue;
                }
                let Ok(rel) = e.path().strip_prefix(&self.root) else {
                    continue;
                };
                let Some(rel) = rel.to_str().map(|s| s.replace('\\', "/")) else {
                    continue;
                };
                if ft.is_symlink() && self.resolve(&rel).is_none_or(|p| !p.is_file()) {
                    continue;
                }
                out.push(rel);
            }
            out.sort();
            out
        })
    }
}

fn find_root(dir: &Path) -> Result<PathBuf, BundleError> {
    let meta = fs::metadata(dir).map_err(io_err(dir))?;
    if !meta.is_dir() {
        return Err(BundleError::NotABundle {
            path: dir.display().to_string(),
            reason: "not a directory".into(),
        });
    }
    if dir.join("version.yaml").is_file() {
        return Ok(dir.to_path_buf());
    }
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io_err(dir))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    match entries.iter().find(|p| p.join("version.yaml").is_file()) {
        Some(p) => Ok(p.clone()),
        None => match entries.as_slice() {
            [only] if only.is_dir() => Ok(only.clone()),
            _ => Ok(dir.to_path_buf()),
        },
    }
}

impl BundleReader for DirBundle {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        let p = self.resolve(path)?;
        if !p.is_file() {
            return None;
        }
        fs::read(p).ok()
    }

    fn glob(&self, pattern: &str) -> Vec<String> {
        let Ok(g) = globset::GlobBuilder::new(pattern.trim_start_matches("./"))
            .literal_separator(true)
            .backslash_escape(true)
            .build()
        else {
            return Vec::new();
        };
        let m = g.compile_matcher();
        self.listing()
            .iter()
            .filter(|p| m.is_match(p.as_str()))
            .cloned()
            .collect()
    }
}

/// A `.tar.gz` (or `.tgz`, or plain `.tar`) bundle, unpacked into a private temporary directory.
pub struct ArchiveBundle {
    _tmp: tempfile::TempDir,
    inner: DirBundle,
}

impl ArchiveBundle {
    /// Unpack `path` with default [`Limits`].
    pub fn open(path: &Path) -> Result<ArchiveBundle, BundleError> {
        let f = fs::File::open(path).map_err(io_err(path))?;
        Self::from_reader(
            &path.display().to_string(),
            io::BufReader::new(f),
            Limits::default(),
        )
    }

    /// Unpack an archive read from `r` (gzip-compressed or plain tar); `name` is used in errors.
    pub fn from_reader<R: Read>(
        name: &str,
        r: R,
        limits: Limits,
    ) -> Result<ArchiveBundle, BundleError> {
        let tmp = tempfile::Builder::new()
            .prefix("berth-bundle-")
            .tempdir()
            .map_err(|e| BundleError::Io {
                path: std::env::temp_dir().display().to_string(),
                source: e,
            })?;
        let mut br = io::BufReader::new(r);
        let head = io::BufRead::fill_buf(&mut br).map_err(|e| BundleError::Io {
            path: name.into(),
            source: e,
        })?;
        let gz = head.starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn Read> = if gz {
            Box::new(flate2::bufread::MultiGzDecoder::new(br))
        } else {
            Box::new(br)
        };
        unpack(name, reader, tmp.path(), limits)?;
        let inner = DirBundle::open(tmp.path())?;
        Ok(ArchiveBundle { _tmp: tmp, inner })
    }

    /// The unpacked bundle root.
    pub fn root(&self) -> &Path {
        self.inner.root()
    }
}

impl BundleReader for ArchiveBundle {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        self.inner.read(path)
    }
    fn glob(&self, pattern: &str) -> Vec<String> {
        self.inner.glob(pattern)
    }
}

/// Unpack an untrusted tar stream into `dest` (an existing, empty, private directory).
///
/// Every entry is resolved against the real directory without following anything the
/// archive created: a path whose existing components include a link or a file is refused
/// (openat-style), directories are created one component at a time, and files are opened
/// with `O_NOFOLLOW`. Symbolic links are created last, only with relative targets, and a
/// final pass resolves every link (through the links before it, as the kernel would) and
/// refuses the archive if any of them leads outside `dest`. Hard links, devices and fifos
/// are skipped (troubleshoot never writes them). A duplicate file entry replaces the
/// earlier copy (as tar does); a path that appears as two different types is refused.
pub fn unpack(name: &str, r: impl Read, dest: &Path, limits: Limits) -> Result<(), BundleError> {
    let reject = |reason: String| BundleError::Rejected {
        path: name.to_string(),
        reason,
    };
    let bad = |e: io::Error| BundleError::NotABundle {
        path: name.to_string(),
        reason: e.to_string(),
    };
    let mut ar = tar::Archive::new(r);
    let mut count = 0u64;
    let mut total = 0u64;
    let mut links: Vec<(String, String)> = Vec::new();
    for entry in ar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        count += 1;
        if count > limits.max_entries {
            return Err(reject(format!("more than {} entries", limits.max_entries)));
        }
        let raw = entry.path_bytes().into_owned();
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let Some(rel) = clean_rel(&raw) else {
            if raw.trim_matches('/').is_empty() || raw == "." || raw == "./" {
                continue;
            }
            return Err(reject(format!("entry {raw:?} leaves the bundle directory")));
        };
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                make_dirs(dest, &rel, true).map_err(|e| e.into_error(name, dest))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                let size = entry.header().size().map_err(bad)?;
                if size > limits.max_file {
                    return Err(reject(format!(
                        "{rel} is {size} bytes, over the {} byte limit",
                        limits.max_file
                    )));
                }
                let out = make_dirs(dest, &rel, false).map_err(|e| e.into_error(name, dest))?;
                if fs::symlink_metadata(&out).is_ok_and(|m| !m.is_file()) {
                    return Err(reject(format!("{rel} appears twice with different types")));
                }
                let mut f = create_nofollow(&out).map_err(io_err(&out))?;
                // Count what is actually written, not what the header claims.
                let n =
                    io::copy(&mut (&mut entry).take(limits.max_file + 1), &mut f).map_err(bad)?;
                total += n;
                if n > limits.max_file || total > limits.max_total {
                    return Err(reject(format!(
                        "unpacked size exceeds the limit ({} bytes per file, {} in total)",
                        limits.max_file, limits.max_total
                    )));
                }
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                links.push((rel, target));
            }
            // Hard links, devices, fifos: skipped (troubleshoot never writes them).
            _ => {}
        }
    }
    // Links last, so no file or directory entry is ever written through one.
    let mut made: Vec<String> = Vec::new();
    for (rel, target) in links {
        if target.is_empty() || target.starts_with('/') {
            return Err(reject(format!(
                "link {rel} -> {target:?} is not a relative path inside the bundle"
            )));
        }
        let out = make_dirs(dest, &rel, false).map_err(|e| e.into_error(name, dest))?;
        match fs::symlink_metadata(&out) {
            // A repeated link entry replaces the earlier one, as tar does.
            Ok(m) if m.file_type().is_symlink() => {
                fs::remove_file(&out).map_err(io_err(&out))?;
            }
            Ok(_) => {
                return Err(reject(format!("{rel} appears twice with different types")));
            }
            Err(_) => {}
        }
        let parent = Path::new(&rel).parent().unwrap_or(Path::new(""));
        let via = format!("{}/{target}", parent.display());
        if resolve_inside(dest, &via).is_err() {
            return Err(reject(format!("link {rel} -> {target} leaves the bundle")));
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(&target, &out).map_err(io_err(&out))?;
        made.push(rel);
    }
    // A later link can change where an earlier one leads: check them all on the final tree.
    for rel in &made {
        if let Err(why) = resolve_inside(dest, rel) {
            return Err(reject(format!("link {rel} {why}")));
        }
    }
    Ok(())
}

/// Why [`make_dirs`] refused a path.
enum DirError {
    /// A component that must be a directory is a link or a file.
    NotADir(String),
    Io(PathBuf, io::Error),
}

impl DirError {
    fn into_error(self, name: &str, dest: &Path) -> BundleError {
        match self {
            DirError::NotADir(at) => BundleError::Rejected {
                path: name.to_string(),
                reason: format!(
                    "an entry is written below {at}, which the archive made a link or a file"
                ),
            },
            DirError::Io(p, source) => BundleError::Io {
                path: p.strip_prefix(dest).unwrap_or(&p).display().to_string(),
                source,
            },
        }
    }
}

/// Create the directories of `rel` under `dest` one component at a time (all of them when
/// `whole`, else all but the last), refusing any existing component that is not a real
/// directory; returns `dest/rel`.
fn make_dirs(dest: &Path, rel: &str, whole: bool) -> Result<PathBuf, DirError> {
    let parts: Vec<&str> = rel.split('/').collect();
    let dirs = if whole { parts.len() } else { parts.len() - 1 };
    let mut p = dest.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        p.push(part);
        if i >= dirs {
            break;
        }
        match fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(DirError::NotADir(parts[..=i].join("/"))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // `create_dir` never follows a link in the last component.
                fs::create_dir(&p).map_err(|e| DirError::Io(p.clone(), e))?;
            }
            Err(e) => return Err(DirError::Io(p.clone(), e)),
        }
    }
    Ok(p)
}

/// Open `p` for writing (created or truncated) without following a link at `p`.
fn create_nofollow(p: &Path) -> io::Result<fs::File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut o, nix::libc::O_NOFOLLOW);
    o.open(p)
}

/// Resolve a `dest`-relative path as the kernel would, expanding the links found in `dest`
/// (at most 40, like Linux), and fail if it ever climbs above `dest` or meets an absolute
/// link. Components that do not exist are taken literally.
fn resolve_inside(dest: &Path, rel: &str) -> Result<(), &'static str> {
    let mut queue: std::collections::VecDeque<String> =
        rel.split('/').map(str::to_string).collect();
    let mut stack: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(c) = queue.pop_front() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                if stack.pop().is_none() {
                    return Err("leads outside the bundle");
                }
                continue;
            }
            _ => {}
        }
        let mut here = dest.to_path_buf();
        here.extend(&stack);
        here.push(&c);
        match fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_symlink() => {
                hops += 1;
                if hops > 40 {
                    return Err("is part of a loop of links");
                }
                let target = fs::read_link(&here).map_err(|_| "cannot be read")?;
                let t = target.to_string_lossy().into_owned();
                if t.starts_with('/') {
                    return Err("leads to an absolute path");
                }
                for (i, seg) in t.split('/').enumerate() {
                    queue.insert(i, seg.to_string());
                }
            }
            _ => stack.push(c),
        }
    }
    Ok(())
}

/// Open a bundle: a directory or an archive.
pub fn open(path: &Path) -> Result<Box<dyn BundleReader>, BundleError> {
    let meta = fs::metadata(path).map_err(io_err(path))?;
    if meta.is_dir() {
        Ok(Box::new(DirBundle::open(path)?))
    } else {
        Ok(Box::new(ArchiveBundle::open(path)?))
    }
}

/// The default bundle name troubleshoot uses: `support-bundle-2006-01-02T15_04_05`.
pub fn default_name(prefix: &str, now: jiff::Zoned) -> String {
    format!("{prefix}-{}", now.strftime("%Y-%m-%dT%H_%M_%S"))
}

/// A bundle being written: a staging directory named like the archive's top-level directory.
pub struct BundleWriter {
    dir: PathBuf,
    name: String,
}

impl BundleWriter {
    /// Create `<parent>/<name>/` (it must not exist yet).
    pub fn create(parent: &Path, name: &str) -> Result<BundleWriter, BundleError> {
        let dir = parent.join(name);
        fs::create_dir_all(parent).map_err(io_err(parent))?;
        fs::create_dir(&dir).map_err(io_err(&dir))?;
        Ok(BundleWriter {
            dir,
            name: name.to_string(),
        })
    }

    /// The staging directory (the bundle root).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The bundle name (top-level directory in the archive).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Write a file at a bundle-relative path (parents created, existing file replaced).
    pub fn write(&self, rel: &str, bytes: &[u8]) -> Result<String, BundleError> {
        let rel = clean_rel(rel).ok_or_else(|| BundleError::Rejected {
            path: rel.to_string(),
            reason: "a collector produced a path outside the bundle".into(),
        })?;
        let p = self.dir.join(&rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        fs::write(&p, bytes).map_err(io_err(&p))?;
        Ok(rel)
    }

    /// Create a relative symlink at `rel` pointing to the bundle-relative `target`.
    pub fn symlink(&self, rel: &str, target: &str) -> Result<(), BundleError> {
        let (Some(rel), Some(target)) = (clean_rel(rel), clean_rel(target)) else {
            return Err(BundleError::Rejected {
                path: rel.to_string(),
                reason: "link outside the bundle".into(),
            });
        };
        let p = self.dir.join(&rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let depth = rel.matches('/').count();
        let relative = format!("{}{}", "../".repeat(depth), target);
        // Two pods with one name in different namespaces share a link path (troubleshoot's
        // layout); the last writer wins, and a concurrent writer must not turn that into an error.
        #[cfg(unix)]
        for attempt in 0..3 {
            let _ = fs::remove_file(&p);
            match std::os::unix::fs::symlink(&relative, &p) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 2 => continue,
                Err(e) => return Err(io_err(&p)(e)),
            }
        }
        Ok(())
    }

    /// A reader over what has been written so far.
    pub fn reader(&self) -> Result<DirBundle, BundleError> {
        DirBundle::open(&self.dir)
    }

    /// Pack the staging directory as a `.tar.gz` at `out`; returns the archive size in bytes.
    pub fn pack(&self, out: &Path) -> Result<u64, BundleError> {
        pack_dir(&self.dir, &self.name, out)
    }

    /// Remove the staging directory.
    pub fn remove(self) -> Result<(), BundleError> {
        fs::remove_dir_all(&self.dir).map_err(io_err(&self.dir))
    }
}

/// Size of the tar chunks compressed independently (one gzip member each).
const CHUNK: usize = 4 << 20;

/// Pack `dir` as `<top>/…` into a multi-member `.tar.gz` at `out`, compressing on every core.
pub fn pack_dir(dir: &Path, top: &str, out: &Path) -> Result<u64, BundleError> {
    let file = fs::File::create(out).map_err(io_err(out))?;
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(1);
    let (chunk_tx, chunk_rx) = std::sync::mpsc::sync_channel::<(u64, Vec<u8>)>(workers * 2);
    let chunk_rx = std::sync::Arc::new(std::sync::Mutex::new(chunk_rx));
    let (done_tx, done_rx) =
        std::sync::mpsc::sync_channel::<(u64, io::Result<Vec<u8>>)>(workers * 2);
    std::thread::scope(|s| -> Result<u64, BundleError> {
        for _ in 0..workers {
            let rx = chunk_rx.clone();
            let tx = done_tx.clone();
            s.spawn(move || {
                loop {
                    let next = match rx.lock() {
                        Ok(g) => g.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, data)) = next else { return };
                    let mut enc = flate2::write::GzEncoder::new(
                        Vec::with_capacity(data.len() / 3),
                        Compression::fast(),
                    );
                    let r = enc.write_all(&data).and_then(|_| enc.finish());
                    if tx.send((seq, r)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        // Writer: put members in order.
        let writer = s.spawn(move || -> io::Result<u64> {
            let mut f = io::BufWriter::new(file);
            let mut pending: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
            let mut next = 0u64;
            let mut size = 0u64;
            for (seq, r) in done_rx {
                pending.insert(seq, r?);
                while let Some(buf) = pending.remove(&next) {
                    f.write_all(&buf)?;
                    size += buf.len() as u64;
                    next += 1;
                }
            }
            f.flush()?;
            Ok(size)
        });
        let producer = ChunkSender {
            buf: Vec::with_capacity(CHUNK),
            seq: 0,
            tx: chunk_tx,
        };
        let mut builder = tar::Builder::new(producer);
        builder.follow_symlinks(false);
        let mut entries: Vec<walkdir::DirEntry> = walkdir::WalkDir::new(dir)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| !e.file_type().is_dir())
            .collect();
        // version.yaml first, like troubleshoot's archives usually have it early.
        entries.sort_by_key(|e| e.path() != dir.join("version.yaml"));
        let mut result = Ok(());
        for e in entries {
            let Ok(rel) = e.path().strip_prefix(dir) else {
                continue;
            };
            let name = Path::new(top).join(rel);
            let r = if e.file_type().is_symlink() {
                fs::read_link(e.path()).and_then(|target| {
                    let mut h = tar::Header::new_gnu();
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    h.set_mode(0o777);
                    h.set_mtime(mtime(e.path()));
                    builder.append_link(&mut h, &name, &target)
                })
            } else {
                fs::File::open(e.path()).and_then(|mut f| {
                    let len = f.metadata()?.len();
                    let mut h = tar::Header::new_gnu();
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(len);
                    h.set_mode(0o644);
                    h.set_mtime(mtime(e.path()));
                    builder.append_data(&mut h, &name, &mut f)
                })
            };
            if let Err(err) = r {
                result = Err(io_err(e.path())(err));
                break;
            }
        }
        let finished = builder.into_inner().and_then(|mut p| p.flush_last());
        if let Err(e) = finished {
            result = result.and(Err(io_err(out)(e)));
        }
        let size = match writer.join() {
            Ok(r) => r.map_err(io_err(out))?,
            Err(_) => {
                return Err(BundleError::Io {
                    path: out.display().to_string(),
                    source: io::Error::other("compression thread failed"),
                });
            }
        };
        result.map(|_| size)
    })
}

fn mtime(p: &Path) -> u64 {
    fs::symlink_metadata(p)
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

struct ChunkSender {
    buf: Vec<u8>,
    seq: u64,
    tx: std::sync::mpsc::SyncSender<(u64, Vec<u8>)>,
}

impl ChunkSender {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .send((self.seq, data))
            .map_err(|_| io::Error::other("compression workers stopped"))?;
        self.seq += 1;
        Ok(())
    }

    fn flush_last(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dir: &Path) -> BundleWriter {
        let w = BundleWriter::create(dir, "support-bundle-x").unwrap();
        w.write("version.yaml", b"apiVersion: troubleshoot.sh/v1beta2\n")
            .unwrap();
        w.write("cluster-resources/pods/logs/ns/p/c.log", b"hello\n")
            .unwrap();
        w.symlink("api/p/c.log", "cluster-resources/pods/logs/ns/p/c.log")
            .unwrap();
        let big: Vec<u8> = (0..(CHUNK * 2 + 17)).map(|i| (i % 251) as u8).collect();
        w.write("host-collectors/run-host/big.txt", &big).unwrap();
        w
    }

    #[test]
    fn writes_packs_and_reads_back_through_both_readers() {
        let tmp = tempfile::tempdir().unwrap();
        let w = sample(tmp.path());
        let d = w.reader().unwrap();
        assert_eq!(d.read("api/p/c.log").unwrap(), b"hello\n");
        assert_eq!(
            d.glob("cluster-resources/pods/logs/*/*/*.log"),
            ["cluster-resources/pods/logs/ns/p/c.log"]
        );
        assert_eq!(d.glob("api/*/c.log"), ["api/p/c.log"]);
        assert!(d.glob("*.log").is_empty(), "* must not cross /");
        assert_eq!(d.glob("**/*.log").len(), 2);
        let out = tmp.path().join("b.tar.gz");
        let size = w.pack(&out).unwrap();
        assert_eq!(size, fs::metadata(&out).unwrap().len());
        let a = ArchiveBundle::open(&out).unwrap();
        assert_eq!(
            a.read("version.yaml").unwrap(),
            b"apiVersion: troubleshoot.sh/v1beta2\n"
        );
        assert_eq!(a.read("api/p/c.log").unwrap(), b"hello\n");
        let big = a.read("host-collectors/run-host/big.txt").unwrap();
        assert_eq!(big.len(), CHUNK * 2 + 17);
        assert_eq!(big[CHUNK + 5], ((CHUNK + 5) % 251) as u8);
        assert!(a.read("../etc/passwd").is_none());
    }

    #[test]
    fn archive_holds_only_files_and_links_under_one_top_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let w = sample(tmp.path());
        let out = tmp.path().join("b.tar.gz");
        w.pack(&out).unwrap();
        let f = fs::File::open(&out).unwrap();
        let mut ar = tar::Archive::new(flate2::read::MultiGzDecoder::new(f));
        let mut names = Vec::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let t = e.header().entry_type();
            assert!(t == tar::EntryType::Regular || t == tar::EntryType::Symlink);
            let p = e.path().unwrap().display().to_string();
            assert!(p.starts_with("support-bundle-x/"), "{p}");
            if t == tar::EntryType::Symlink {
                assert_eq!(
                    e.link_name().unwrap().unwrap().display().to_string(),
                    "../../cluster-resources/pods/logs/ns/p/c.log"
                );
            }
            names.push(p);
        }
        assert_eq!(names[0], "support-bundle-x/version.yaml");
        assert_eq!(names.len(), 4);
    }

    fn tar_with(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, t, data, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*t);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            // Write the raw name so traversal attempts survive the builder's checks.
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            if let Some(l) = link {
                h.set_link_name(l).unwrap();
            }
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn rejects_traversal_links_out_and_oversize() {
        let evil = tar_with(&[("../evil", tar::EntryType::Regular, b"x", None)]);
        let e = ArchiveBundle::from_reader("t", &evil[..], Limits::default()).err();
        assert!(matches!(e, Some(BundleError::Rejected { .. })), "{e:?}");
        let link = tar_with(&[
            ("b/version.yaml", tar::EntryType::Regular, b"v", None),
            (
                "b/x",
                tar::EntryType::Symlink,
                b"",
                Some("../../etc/passwd"),
            ),
        ]);
        let e = ArchiveBundle::from_reader("t", &link[..], Limits::default()).err();
        assert!(matches!(e, Some(BundleError::Rejected { .. })), "{e:?}");
        let big = tar_with(&[("b/f", tar::EntryType::Regular, &[0u8; 2048], None)]);
        let lim = Limits {
            max_file: 1024,
            ..Limits::default()
        };
        let e = ArchiveBundle::from_reader("t", &big[..], lim).err();
        assert!(matches!(e, Some(BundleError::Rejected { .. })), "{e:?}");
        let e = ArchiveBundle::from_reader("t", &b"not a tar at all"[..], Limits::default());
        // Garbage is either rejected or yields an empty bundle; never a panic or a hang.
        if let Ok(b) = e {
            assert!(b.glob("**").is_empty());
        }
    }

    /// Everything under `root` (links not followed) that is neither `dest`, inside it, nor
    /// one of its parents: what an unpacker must never create.
    fn outside(root: &Path, dest: &Path) -> Vec<PathBuf> {
        walkdir::WalkDir::new(root)
            .follow_links(false)
            .into_iter()
            .filter_map(Result::ok)
            .map(|e| e.path().to_path_buf())
            .filter(|p| !p.starts_with(dest) && !dest.starts_with(p))
            .collect()
    }

    /// Unpack `entries` into `<tmp>/l1/l2/l3/dest` (deep, so a chain of `..` links has
    /// somewhere to land) and return the result and whatever appeared outside `dest`.
    fn unpack_contained(
        entries: &[(&str, tar::EntryType, &[u8], Option<&str>)],
    ) -> (Result<(), BundleError>, Vec<PathBuf>) {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("l1/l2/l3/dest");
        fs::create_dir_all(&dest).unwrap();
        let r = unpack("t", &tar_with(entries)[..], &dest, Limits::default());
        (r, outside(tmp.path(), &dest))
    }

    use tar::EntryType::{Directory as D, Link as H, Regular as F, Symlink as L};

    #[test]
    fn a_chain_of_links_cannot_reach_outside() {
        // The reported archive: each link is harmless alone, together they climb out.
        let (r, out) = unpack_contained(&[
            ("a", L, b"", Some(".")),
            ("a/b", L, b"", Some("..")),
            ("a/b/c", L, b"", Some("..")),
            ("a/b/c/DIR/x", L, b"", Some("y")),
        ]);
        assert!(out.is_empty(), "created outside the destination: {out:?}");
        let e = r.expect_err("the chain must be refused").to_string();
        assert!(
            e.contains("below a,") && e.contains("a link or a file"),
            "{e}"
        );
        // With a file written below the chain too.
        let (r, out) = unpack_contained(&[
            ("a", L, b"", Some(".")),
            ("a/b", L, b"", Some("..")),
            ("a/b/c", L, b"", Some("..")),
            ("a/b/c/DIR/f", F, b"pwned", None),
        ]);
        assert!(out.is_empty(), "created outside the destination: {out:?}");
        assert!(matches!(r, Err(BundleError::Rejected { .. })), "{r:?}");
    }

    #[test]
    fn links_through_links_are_resolved_on_the_real_tree() {
        // `d/up` is the root; `m -> d/up/..` looks inside lexically but leads to the parent.
        let (r, out) = unpack_contained(&[
            ("d", D, b"", None),
            ("d/up", L, b"", Some("..")),
            ("m", L, b"", Some("d/up/..")),
        ]);
        assert!(out.is_empty(), "{out:?}");
        assert!(r.unwrap_err().to_string().contains("link m"));
        // The same, with the link that makes `m` escape written after it.
        let (r, out) = unpack_contained(&[
            ("d", D, b"", None),
            ("m", L, b"", Some("d/q/../..")),
            ("d/q", L, b"", Some(".")),
        ]);
        assert!(out.is_empty(), "{out:?}");
        let e = r.unwrap_err().to_string();
        assert!(e.contains("link m") && e.contains("outside"), "{e}");
        // A link to a link that stays inside is kept and readable.
        let (r, out) = unpack_contained(&[
            ("d/f", F, b"data", None),
            ("l2", L, b"", Some("d/f")),
            ("l1", L, b"", Some("l2")),
            ("loop1", L, b"", Some("loop2")),
            ("loop2", L, b"", Some("loop1")),
        ]);
        assert!(out.is_empty(), "{out:?}");
        // A loop of links is refused, not followed forever.
        assert!(r.unwrap_err().to_string().contains("loop"));
        let b = ArchiveBundle::from_reader(
            "t",
            &tar_with(&[
                ("d/f", F, b"data", None),
                ("l2", L, b"", Some("d/f")),
                ("l1", L, b"", Some("l2")),
            ])[..],
            Limits::default(),
        )
        .unwrap();
        assert_eq!(b.read("l1").unwrap(), b"data");
    }

    #[test]
    fn a_link_and_a_directory_at_one_path_are_refused_in_either_order() {
        for entries in [
            vec![
                ("x", L, &b""[..], Some("..")),
                ("x", D, &b""[..], None),
                ("x/f", F, &b"data"[..], None),
            ],
            vec![
                ("x", D, &b""[..], None),
                ("x/f", F, &b"data"[..], None),
                ("x", L, &b""[..], Some("..")),
            ],
            vec![("x", F, &b"data"[..], None), ("x", L, &b""[..], Some("."))],
            vec![("x", L, &b""[..], Some(".")), ("x/f", F, &b"d"[..], None)],
        ] {
            let (r, out) = unpack_contained(&entries);
            assert!(out.is_empty(), "{entries:?} created {out:?}");
            let e = r.expect_err("a path with two types must be refused");
            assert!(e.to_string().contains("twice"), "{entries:?}: {e}");
        }
        // A file entry below a link the archive made (links come last) is a second type too.
        let (r, out) = unpack_contained(&[("x/f", F, b"d", None), ("x", L, b"", Some("."))]);
        assert!(out.is_empty() && r.is_err(), "{out:?}");
    }

    #[test]
    fn absolute_parent_and_hard_links_never_write_outside() {
        for entries in [
            vec![("abs", L, &b""[..], Some("/tmp"))],
            vec![("d/abs", L, &b""[..], Some("/"))],
            vec![("up", L, &b""[..], Some(".."))],
            vec![("d/up2", L, &b""[..], Some("../.."))],
            vec![("../evil", F, &b"x"[..], None)],
            vec![("a/../../evil", F, &b"x"[..], None)],
            vec![("/evil", D, &b""[..], None)],
            vec![("../evil", L, &b""[..], Some("x"))],
        ] {
            let (r, out) = unpack_contained(&entries);
            assert!(out.is_empty(), "{entries:?} created {out:?}");
            assert!(
                matches!(r, Err(BundleError::Rejected { .. })),
                "{entries:?}: {r:?}"
            );
        }
        // Hard links are not created at all, wherever they point.
        let (r, out) = unpack_contained(&[
            ("f", F, b"data", None),
            ("h1", H, b"", Some("/etc/passwd")),
            ("h2", H, b"", Some("../../outside")),
            ("h3", H, b"", Some("f")),
        ]);
        assert!(out.is_empty(), "{out:?}");
        r.unwrap();
    }

    #[test]
    fn a_repeated_file_keeps_the_last_copy() {
        let b = ArchiveBundle::from_reader(
            "t",
            &tar_with(&[("f", F, b"first", None), ("f", F, b"last", None)])[..],
            Limits::default(),
        )
        .unwrap();
        assert_eq!(b.read("f").unwrap(), b"last");
    }

    #[test]
    fn gnu_tar_and_gzip_read_the_multi_member_archive() {
        let tmp = tempfile::tempdir().unwrap();
        let w = sample(tmp.path());
        let out = tmp.path().join("b.tar.gz");
        w.pack(&out).unwrap();
        let ok = std::process::Command::new("gzip")
            .arg("-t")
            .arg(&out)
            .status();
        if let Ok(st) = ok {
            assert!(st.success(), "gzip -t rejected the archive");
        }
        let dest = tmp.path().join("x");
        fs::create_dir(&dest).unwrap();
        let Ok(st) = std::process::Command::new("tar")
            .arg("-xzf")
            .arg(&out)
            .arg("-C")
            .arg(&dest)
            .status()
        else {
            return;
        };
        assert!(st.success(), "GNU tar could not extract the bundle");
        let root = dest.join("support-bundle-x");
        assert_eq!(fs::read(root.join("api/p/c.log")).unwrap(), b"hello\n");
        assert_eq!(
            fs::read(root.join("host-collectors/run-host/big.txt"))
                .unwrap()
                .len(),
            CHUNK * 2 + 17
        );
    }

    #[test]
    fn finds_root_in_troubleshoot_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let w = sample(tmp.path());
        let b = DirBundle::open(tmp.path()).unwrap();
        assert_eq!(b.root(), w.dir());
        assert!(b.read("version.yaml").is_some());
    }
}
