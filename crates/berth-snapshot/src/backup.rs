//! Backup: chunk, deduplicate, pack, index, then write the snapshot (format section 9).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

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

/// Builds one snapshot from directories and streams; nothing is visible until [`finish`](Self::finish).
pub struct SnapshotWriter<'r> {
    repo: &'r Repository,
    known: HashSet<ChunkId>,
    pack: Vec<u8>,
    pack_blobs: Vec<IndexBlob>,
    unindexed: Vec<IndexPack>,
    items: Vec<Item>,
    paths: Vec<String>,
    stats: BackupStats,
    /// Files of the previous snapshot of the same directory, by item path.
    parent: HashMap<String, Item>,
}

impl Repository {
    /// Starts a snapshot: loads the index so known chunks are not stored again.
    pub fn writer(&self) -> Result<SnapshotWriter<'_>> {
        let index = self.load_index()?;
        let condemned = self.condemned_packs()?;
        // Chunks in packs a prune has condemned are stored again, so phase 2 may delete them.
        let known = index
            .chunks
            .iter()
            .filter(|(_, loc)| !condemned.contains(&index.packs[loc.pack as usize]))
            .map(|(id, _)| *id)
            .collect();
        Ok(SnapshotWriter {
            repo: self,
            known,
            pack: Vec::with_capacity(PACK_TARGET + 1024 * 1024),
            pack_blobs: Vec::new(),
            unindexed: Vec::new(),
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
            if ft.is_dir() {
                self.stats.dirs += 1;
                self.items.push(Item {
                    path,
                    kind: ItemKind::Dir,
                    mode,
                    mtime,
                    size: 0,
                    chunks: vec![],
                    target: None,
                });
            } else if ft.is_symlink() {
                let target = fs::read_link(entry.path()).map_err(|e| Error::io(what(), e))?;
                let Some(target) = target.to_str().map(str::to_string) else {
                    return Err(Error::Invalid(format!(
                        "link target of {} is not UTF-8",
                        entry.path().display()
                    )));
                };
                self.items.push(Item {
                    path,
                    kind: ItemKind::Symlink,
                    mode,
                    mtime,
                    size: 0,
                    chunks: vec![],
                    target: Some(target),
                });
            } else if ft.is_file() {
                if let Some(old) = self.parent.get(&path).filter(|o| {
                    o.size == meta.len()
                        && o.mtime.is_some()
                        && o.mtime == mtime
                        && o.chunks.iter().all(|c| self.known.contains(c))
                }) {
                    let item = Item {
                        path,
                        kind: ItemKind::File,
                        mode,
                        mtime,
                        size: old.size,
                        chunks: old.chunks.clone(),
                        target: None,
                    };
                    self.stats.files += 1;
                    self.stats.unchanged_files += 1;
                    self.stats.chunks += item.chunks.len() as u64;
                    self.items.push(item);
                    continue;
                }
                let f = fs::File::open(entry.path()).map_err(|e| Error::io(what(), e))?;
                let (size, chunks) = self.store_stream(f, &entry.path().display().to_string())?;
                self.items.push(Item {
                    path,
                    kind: ItemKind::File,
                    mode,
                    mtime,
                    size,
                    chunks,
                    target: None,
                });
            } else {
                self.stats.skipped += 1;
            }
        }
        Ok(())
    }

    /// Adds a named byte stream (a Kubernetes object, a volume or database dump).
    pub fn add_stream(&mut self, name: &str, reader: impl Read) -> Result<()> {
        crate::restore::check_item_path(name)?;
        let (size, chunks) = self.store_stream(reader, name)?;
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

    fn store_stream(&mut self, reader: impl Read, what: &str) -> Result<(u64, Vec<ChunkId>)> {
        let mut chunks = Vec::new();
        let repo = self.repo;
        let size = repo
            .chunker
            .chunk(reader, |data| {
                let id = repo.chunk_id(data);
                chunks.push(id);
                self.add_chunk(id, data)
            })
            .map_err(|e| match e {
                ChunkError::Read(e) => Error::io(format!("reading {what}"), e),
                ChunkError::Emit(e) => e,
            })?;
        self.stats.files += 1;
        self.stats.bytes_read += size;
        Ok((size, chunks))
    }

    fn add_chunk(&mut self, id: ChunkId, data: &[u8]) -> Result<()> {
        self.stats.chunks += 1;
        if !self.known.insert(id) {
            return Ok(());
        }
        let packed = zstd::bulk::compress(data, 3).map_err(|e| Error::io("zstd compression", e))?;
        let sealed = crypto::seal(&self.repo.keys.data, &packed, &id.0);
        let blob = IndexBlob {
            id,
            offset: self.pack.len() as u64,
            length: sealed.len() as u32,
            raw_length: data.len() as u32,
        };
        self.pack.extend_from_slice(&sealed);
        self.pack_blobs.push(blob);
        self.stats.new_chunks += 1;
        self.stats.new_bytes += data.len() as u64;
        if self.pack.len() >= PACK_TARGET {
            self.flush_pack()?;
        }
        Ok(())
    }

    fn flush_pack(&mut self) -> Result<()> {
        if self.pack_blobs.is_empty() {
            return Ok(());
        }
        let header = crypto::seal(
            &self.repo.keys.data,
            &encode_header(&self.pack_blobs),
            AD_PACK_HEADER,
        );
        self.pack.extend_from_slice(&header);
        self.pack
            .extend_from_slice(&(header.len() as u32).to_le_bytes());
        let id = blake3::hash(&self.pack).to_hex().to_string();
        let name = pack_path(&id);
        self.repo
            .backend
            .write(&name, &self.pack)
            .map_err(|e| Error::io(format!("writing {name}"), e))?;
        self.stats.stored_bytes += self.pack.len() as u64;
        self.stats.packs += 1;
        self.pack.clear();
        self.unindexed.push(IndexPack {
            id,
            blobs: std::mem::take(&mut self.pack_blobs),
        });
        if self.unindexed.len() >= PACKS_PER_INDEX {
            self.flush_index()?;
        }
        Ok(())
    }

    fn flush_index(&mut self) -> Result<()> {
        if self.unindexed.is_empty() {
            return Ok(());
        }
        let doc = IndexFile {
            packs: std::mem::take(&mut self.unindexed),
        };
        self.repo.write_doc("index", &doc, AD_INDEX)?;
        Ok(())
    }

    /// Writes the last pack, the index, then the snapshot (the order that makes crashes safe).
    pub fn finish(mut self, opts: &BackupOptions) -> Result<BackupSummary> {
        self.flush_pack()?;
        self.flush_index()?;
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
