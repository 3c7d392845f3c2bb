//! Backup: chunk, deduplicate, pack, index, then write the snapshot (format section 9).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use jiff::Timestamp;

use crate::chunker::ChunkError;
use crate::crypto;
use crate::format::{
    ChunkId, IndexBlob, IndexFile, IndexPack, Item, ItemKind, Snapshot, encode_header,
};
use crate::repo::{AD_INDEX, AD_PACK_HEADER, AD_SNAPSHOT, Repository, pack_path};
use crate::{Error, Result};

/// A pack is closed once it holds this many bytes.
const PACK_TARGET: usize = 16 * 1024 * 1024;
/// An index file is written after this many packs, so a crash loses little work.
const PACKS_PER_INDEX: usize = 64;

/// Options of a backup.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// Host name recorded in the snapshot (default: the machine's).
    pub hostname: Option<String>,
    /// Tags recorded in the snapshot.
    pub tags: Vec<String>,
    /// The snapshot's time (default: now).
    pub time: Option<Timestamp>,
    /// Read every file even when the previous snapshot of the same directory has it with the
    /// same size and modification time (by default such files are not read again).
    pub read_all: bool,
}

/// Counters of one backup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupStats {
    /// Files and streams read.
    pub files: u64,
    /// Directories seen.
    pub dirs: u64,
    /// Bytes read from the sources.
    pub bytes_read: u64,
    /// Chunks seen.
    pub chunks: u64,
    /// Chunks not yet in the repository, stored by this backup.
    pub new_chunks: u64,
    /// Plaintext bytes of the new chunks.
    pub new_bytes: u64,
    /// Bytes written to packs (compressed and encrypted).
    pub stored_bytes: u64,
    /// Packs written.
    pub packs: u64,
    /// Entries skipped (sockets, devices, fifos).
    pub skipped: u64,
    /// Files not read again: same size and mtime as in the previous snapshot of the directory.
    pub unchanged_files: u64,
}

/// The result of a backup.
#[derive(Debug, Clone)]
pub struct BackupSummary {
    /// The new snapshot's id.
    pub snapshot_id: String,
    /// Counters.
    pub stats: BackupStats,
}

/// Chunks waiting in the current pack, and packs waiting for an index file.
#[derive(Default)]
struct Packer {
    pack: Vec<u8>,
    blobs: Vec<IndexBlob>,
    unindexed: Vec<IndexPack>,
    stored_bytes: u64,
    packs: u64,
}

/// Builds one snapshot from directories and streams; nothing is visible until [`finish`](Self::finish).
///
/// Files are read, chunked, compressed and encrypted on several threads; chunks go into one
/// pack at a time.
pub struct SnapshotWriter<'r> {
    repo: &'r Repository,
    known: Mutex<HashSet<ChunkId>>,
    packer: Mutex<Packer>,
    items: Vec<Item>,
    paths: Vec<String>,
    stats: BackupStats,
    /// Files of the previous snapshot of the same directory, by item path.
    parent: HashMap<String, Item>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking worker aborts the backup anyway; the data behind the lock stays consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Repository {
    /// Starts a snapshot: loads the index so known chunks are not stored again.
    pub fn writer(&self) -> Result<SnapshotWriter<'_>> {
        let index = self.load_index()?;
        let condemned = self.condemned_packs()?;
        // Packs that vanished (a lost file, a partial copy) must not be deduplicated against.
        let present: HashSet<String> = self
            .backend
            .list("packs")
            .map_err(|e| Error::io("listing packs/", e))?
            .into_iter()
            .filter_map(|f| f.name.rsplit('/').next().map(str::to_string))
            .collect();
        // Chunks in packs a prune has condemned are stored again, so phase 2 may delete them.
        let known = index
            .chunks
            .iter()
            .filter(|(_, loc)| {
                let pack = &index.packs[loc.pack as usize];
                present.contains(pack) && !condemned.contains(pack)
            })
            .map(|(id, _)| *id)
            .collect();
        Ok(SnapshotWriter {
            repo: self,
            known: Mutex::new(known),
            packer: Mutex::new(Packer::default()),
            items: Vec::new(),
            paths: Vec::new(),
            stats: BackupStats::default(),
            parent: HashMap::new(),
        })
    }

    /// Backs up one directory tree as a new snapshot.
    pub fn backup_dir(&self, dir: &Path, opts: &BackupOptions) -> Result<BackupSummary> {
        let mut w = self.writer()?;
        if !opts.read_all {
            w.use_parent(dir)?;
        }
        w.add_dir(dir, "")?;
        w.finish(opts)
    }
}

/// A file a worker stored: (item position, size, chunks).
type FileDone = (usize, u64, Vec<ChunkId>);

/// Counters and scratch state of one worker thread.
#[derive(Default)]
struct Counts {
    files: u64,
    bytes_read: u64,
    chunks: u64,
    new_chunks: u64,
    new_bytes: u64,
    /// Reused across chunks: creating a zstd context per chunk dominates with small files.
    compressor: Option<zstd::bulk::Compressor<'static>>,
    buf: Vec<u8>,
}

impl SnapshotWriter<'_> {
    /// Takes the newest snapshot that backed up `dir` as the parent: its files with the same
    /// size and mtime are not read again (their chunks must all still be in the index).
    pub fn use_parent(&mut self, dir: &Path) -> Result<()> {
        let want = dir.display().to_string();
        let snaps = self.repo.snapshots()?;
        if let Some(p) = snaps
            .into_iter()
            .rev()
            .find(|s| s.snapshot.paths == [want.clone()])
        {
            self.parent = p
                .snapshot
                .items
                .into_iter()
                .filter(|i| i.kind == ItemKind::File)
                .map(|i| (i.path.clone(), i))
                .collect();
        }
        Ok(())
    }

    /// Adds a directory tree; item paths are `prefix/relative path` (or the relative path).
    pub fn add_dir(&mut self, root: &Path, prefix: &str) -> Result<()> {
        let meta =
            fs::metadata(root).map_err(|e| Error::io(format!("reading {}", root.display()), e))?;
        if !meta.is_dir() {
            return Err(Error::Invalid(format!(
                "{} is not a directory",
                root.display()
            )));
        }
        self.paths.push(root.display().to_string());
        // Files to read: (item position, path on disk).
        let mut todo: Vec<(usize, std::path::PathBuf)> = Vec::new();
        let walker = walkdir::WalkDir::new(root)
            .follow_links(false)
            .sort_by_file_name()
            .min_depth(1);
        for entry in walker {
            let entry = entry.map_err(|e| {
                let path = e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                Error::io(format!("walking {path}"), e.into())
            })?;
            let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
            let Some(rel) = rel.to_str() else {
                return Err(Error::Invalid(format!(
                    "{} is not valid UTF-8; rename it",
                    entry.path().display()
                )));
            };
            let path = if prefix.is_empty() {
                rel.to_string()
            } else {
                format!("{prefix}/{rel}")
            };
            let what = || format!("reading {}", entry.path().display());
            let meta = entry.metadata().map_err(|e| Error::io(what(), e.into()))?;
            let mode = Some(meta.permissions().mode() & 0o7777);
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| Timestamp::try_from(t).ok());
            let ft = meta.file_type();
            let mut item = Item {
                path,
                kind: ItemKind::Dir,
                mode,
                mtime,
                size: 0,
                chunks: vec![],
                target: None,
            };
            if ft.is_dir() {
                self.stats.dirs += 1;
            } else if ft.is_symlink() {
                let target = fs::read_link(entry.path()).map_err(|e| Error::io(what(), e))?;
                let Some(target) = target.to_str().map(str::to_string) else {
                    return Err(Error::Invalid(format!(
                        "link target of {} is not UTF-8",
                        entry.path().display()
                    )));
                };
                item.kind = ItemKind::Symlink;
                item.target = Some(target);
            } else if ft.is_file() {
                item.kind = ItemKind::File;
                item.size = meta.len();
                let known = lock(&self.known);
                let unchanged = self.parent.get(&item.path).filter(|o| {
                    o.size == item.size
                        && o.mtime.is_some()
                        && o.mtime == mtime
                        && o.chunks.iter().all(|c| known.contains(c))
                });
                if let Some(old) = unchanged {
                    item.chunks = old.chunks.clone();
                    self.stats.files += 1;
                    self.stats.unchanged_files += 1;
                    self.stats.chunks += item.chunks.len() as u64;
                } else {
                    todo.push((self.items.len(), entry.path().to_path_buf()));
                }
            } else {
                self.stats.skipped += 1;
                continue;
            }
            self.items.push(item);
        }
        self.read_files(&todo)
    }

    /// Reads, chunks and stores files on several threads; results land in their items.
    fn read_files(&mut self, todo: &[(usize, std::path::PathBuf)]) -> Result<()> {
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 8)
            .min(todo.len().max(1));
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let this = &*self;
        let results: Vec<Result<(Vec<FileDone>, Counts)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let (next, stop) = (&next, &stop);
                    scope.spawn(move || {
                        let mut done = Vec::new();
                        let mut counts = Counts::default();
                        while !stop.load(Ordering::Relaxed) {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some((pos, path)) = todo.get(i) else {
                                break;
                            };
                            let stored = fs::File::open(path)
                                .map_err(|e| Error::io(format!("reading {}", path.display()), e))
                                .and_then(|f| {
                                    this.store_stream(f, &path.display().to_string(), &mut counts)
                                });
                            match stored {
                                Ok((size, chunks)) => done.push((*pos, size, chunks)),
                                Err(e) => {
                                    stop.store(true, Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                        Ok((done, counts))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::Invalid("a backup thread panicked".into())))
                })
                .collect()
        });
        for r in results {
            let (done, counts) = r?;
            for (pos, size, chunks) in done {
                self.items[pos].size = size;
                self.items[pos].chunks = chunks;
            }
            self.add_counts(&counts);
        }
        Ok(())
    }

    fn add_counts(&mut self, c: &Counts) {
        self.stats.files += c.files;
        self.stats.bytes_read += c.bytes_read;
        self.stats.chunks += c.chunks;
        self.stats.new_chunks += c.new_chunks;
        self.stats.new_bytes += c.new_bytes;
    }

    /// Replaces the source paths recorded in the snapshot (an app snapshot records
    /// `berth-app://NS/APP`, not the directories its movers read).
    pub fn set_paths(&mut self, paths: Vec<String>) {
        self.paths = paths;
    }

    /// Adds items another writer already stored (a mover's volume snapshot), with `prefix/`
    /// before each path; their chunks must all be indexed and not condemned, so nothing is
    /// read or stored again.
    pub fn add_items(&mut self, prefix: &str, items: &[Item]) -> Result<()> {
        crate::restore::check_item_path(prefix)?;
        let known = lock(&self.known);
        for i in items {
            if let Some(missing) = i.chunks.iter().find(|c| !known.contains(c)) {
                return Err(Error::Invalid(format!(
                    "item {} refers to chunk {missing}, which no usable pack holds; back it up again",
                    i.path
                )));
            }
        }
        drop(known);
        for i in items {
            let mut i = i.clone();
            i.path = format!("{prefix}/{}", i.path);
            crate::restore::check_item_path(&i.path)?;
            if i.kind == ItemKind::File {
                self.stats.files += 1;
            } else if i.kind == ItemKind::Dir {
                self.stats.dirs += 1;
            }
            self.stats.chunks += i.chunks.len() as u64;
            self.items.push(i);
        }
        Ok(())
    }

    /// Adds a directory item (mode 0755 unless given) that holds no data.
    pub fn add_empty_dir(&mut self, path: &str, mode: Option<u32>) -> Result<()> {
        crate::restore::check_item_path(path)?;
        self.items.push(Item {
            path: path.to_string(),
            kind: ItemKind::Dir,
            mode: Some(mode.unwrap_or(0o755)),
            mtime: Some(Timestamp::now()),
            size: 0,
            chunks: Vec::new(),
            target: None,
        });
        self.stats.dirs += 1;
        Ok(())
    }

    /// Adds a named byte stream (a Kubernetes object, a volume or database dump).
    pub fn add_stream(&mut self, name: &str, reader: impl Read) -> Result<()> {
        crate::restore::check_item_path(name)?;
        let mut counts = Counts::default();
        let (size, chunks) = self.store_stream(reader, name, &mut counts)?;
        self.add_counts(&counts);
        let mtime = Some(Timestamp::now());
        self.items.push(Item {
            path: name.to_string(),
            kind: ItemKind::Stream,
            mode: Some(0o600),
            mtime,
            size,
            chunks,
            target: None,
        });
        Ok(())
    }

    fn store_stream(
        &self,
        reader: impl Read,
        what: &str,
        counts: &mut Counts,
    ) -> Result<(u64, Vec<ChunkId>)> {
        let mut chunks = Vec::new();
        let mut buf = std::mem::take(&mut counts.buf);
        let size = self
            .repo
            .chunker
            .chunk(reader, &mut buf, |data| {
                let id = self.repo.chunk_id(data);
                chunks.push(id);
                self.add_chunk(id, data, counts)
            })
            .map_err(|e| match e {
                ChunkError::Read(e) => Error::io(format!("reading {what}"), e),
                ChunkError::Emit(e) => e,
            });
        counts.buf = buf;
        let size = size?;
        counts.files += 1;
        counts.bytes_read += size;
        Ok((size, chunks))
    }

    fn add_chunk(&self, id: ChunkId, data: &[u8], counts: &mut Counts) -> Result<()> {
        counts.chunks += 1;
        if !lock(&self.known).insert(id) {
            return Ok(());
        }
        // Compression and encryption run outside the locks, on the worker's thread.
        let compressor = match &mut counts.compressor {
            Some(c) => c,
            None => counts.compressor.insert(
                zstd::bulk::Compressor::new(3).map_err(|e| Error::io("zstd compression", e))?,
            ),
        };
        let packed = compressor
            .compress(data)
            .map_err(|e| Error::io("zstd compression", e))?;
        let sealed = crypto::seal(&self.repo.keys.data, &packed, &id.0);
        counts.new_chunks += 1;
        counts.new_bytes += data.len() as u64;
        let mut p = lock(&self.packer);
        let blob = IndexBlob {
            id,
            offset: p.pack.len() as u64,
            length: sealed.len() as u32,
            raw_length: data.len() as u32,
        };
        p.pack.extend_from_slice(&sealed);
        p.blobs.push(blob);
        if p.pack.len() >= PACK_TARGET {
            self.flush_pack(&mut p)?;
        }
        Ok(())
    }

    fn flush_pack(&self, p: &mut Packer) -> Result<()> {
        if p.blobs.is_empty() {
            return Ok(());
        }
        let header = crypto::seal(
            &self.repo.keys.data,
            &encode_header(&p.blobs),
            AD_PACK_HEADER,
        );
        p.pack.extend_from_slice(&header);
        p.pack
            .extend_from_slice(&(header.len() as u32).to_le_bytes());
        let id = blake3::hash(&p.pack).to_hex().to_string();
        let name = pack_path(&id);
        self.repo
            .backend
            .write(&name, &p.pack)
            .map_err(|e| Error::io(format!("writing {name}"), e))?;
        p.stored_bytes += p.pack.len() as u64;
        p.packs += 1;
        p.pack.clear();
        let blobs = std::mem::take(&mut p.blobs);
        p.unindexed.push(IndexPack { id, blobs });
        if p.unindexed.len() >= PACKS_PER_INDEX {
            self.flush_index(p)?;
        }
        Ok(())
    }

    fn flush_index(&self, p: &mut Packer) -> Result<()> {
        if p.unindexed.is_empty() {
            return Ok(());
        }
        let doc = IndexFile {
            packs: std::mem::take(&mut p.unindexed),
        };
        self.repo.write_doc("index", &doc, AD_INDEX)?;
        Ok(())
    }

    /// Writes the last pack, the index, then the snapshot (the order that makes crashes safe).
    pub fn finish(mut self, opts: &BackupOptions) -> Result<BackupSummary> {
        let mut p = std::mem::take(&mut *lock(&self.packer));
        self.flush_pack(&mut p)?;
        self.flush_index(&mut p)?;
        self.stats.stored_bytes = p.stored_bytes;
        self.stats.packs = p.packs;
        let snapshot = Snapshot {
            version: 1,
            time: opts.time.unwrap_or_else(Timestamp::now),
            hostname: opts.hostname.clone().unwrap_or_else(hostname),
            tags: opts.tags.clone(),
            paths: std::mem::take(&mut self.paths),
            items: std::mem::take(&mut self.items),
        };
        let snapshot_id = self.repo.write_doc("snapshots", &snapshot, AD_SNAPSHOT)?;
        Ok(BackupSummary {
            snapshot_id,
            stats: self.stats,
        })
    }
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}
