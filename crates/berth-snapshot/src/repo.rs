//! Opening a repository: config, keys, encrypted documents, the index, reading chunks.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::Backend;
use crate::chunker::{Chunker, ChunkerParams};
use crate::crypto::{self, KdfParams, Keys, Secret};
use crate::format::{ChunkId, Config, IndexBlob, IndexFile, KeyFile, PendingRecord, Snapshot};
use crate::{Error, Result};

pub(crate) const AD_INDEX: &[u8] = b"berth-snapshot v1 index";
pub(crate) const AD_SNAPSHOT: &[u8] = b"berth-snapshot v1 snapshot";
pub(crate) const AD_PENDING: &[u8] = b"berth-snapshot v1 pending";
pub(crate) const AD_PACK_HEADER: &[u8] = b"berth-snapshot v1 pack header";
/// Largest document (index, snapshot) berth decompresses: a guard against zstd bombs.
const MAX_DOCUMENT: usize = 1 << 30;

/// Options of [`Repository::init`].
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// Chunk sizes.
    pub chunker: ChunkerParams,
    /// Argon2id costs for a password key.
    pub kdf: KdfParams,
}

/// A snapshot as listed.
#[derive(Debug, Clone)]
pub struct SnapshotInfo {
    /// Its id (file name).
    pub id: String,
    /// Its document.
    pub snapshot: Snapshot,
}

/// A key file as listed by [`Repository::key_infos`].
#[derive(Debug, Clone)]
pub struct KeyInfo {
    /// Its id (file name under `keys/`).
    pub id: String,
    /// `password` or `keyfile` (`unreadable` for a damaged file).
    pub kind: String,
    /// When it was added.
    pub created: Option<Timestamp>,
    /// Whether this key opened the repository in this session.
    pub current: bool,
}

/// Where a chunk is stored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlobLoc {
    pub pack: u32,
    pub blob: IndexBlob,
}

/// The union of the readable index files.
#[derive(Default)]
pub(crate) struct Index {
    pub packs: Vec<String>,
    pub chunks: HashMap<ChunkId, BlobLoc>,
    /// Index files that were read.
    pub files: Vec<String>,
    /// Index files that could not be read, with the reason.
    pub damaged: Vec<(String, String)>,
    /// Every pack with its blobs, as the index files list them.
    pub pack_blobs: HashMap<String, Vec<IndexBlob>>,
}

/// An open repository.
pub struct Repository {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) config: Config,
    pub(crate) keys: Keys,
    pub(crate) chunker: Chunker,
    master: [u8; 32],
    /// The key file that opened the repository (the one `init` wrote, after `init`).
    opened_by: String,
}

impl Repository {
    /// Creates a repository with one key and opens it.
    pub fn init(
        backend: Arc<dyn Backend>,
        secret: &Secret,
        opts: &InitOptions,
    ) -> Result<Repository> {
        opts.chunker.validate()?;
        let loc = backend.location();
        if backend
            .exists("config")
            .map_err(|e| Error::io(format!("reading {loc}/config"), e))?
        {
            return Err(Error::AlreadyExists(loc));
        }
        let config = Config {
            version: 1,
            id: hex::encode(crypto::random::<32>()),
            chunker: opts.chunker,
            compression: "zstd".into(),
        };
        let master: [u8; 32] = crypto::random();
        let keys = Keys::derive(&master);
        let chunker = Chunker::new(&keys.gear, config.chunker)?;
        let mut repo = Repository {
            backend,
            config,
            keys,
            chunker,
            master,
            opened_by: String::new(),
        };
        // The key first: a config without a key would be a repository nobody can open.
        repo.opened_by = repo.add_key(secret, opts.kdf)?;
        let cfg =
            serde_json::to_vec_pretty(&repo.config).map_err(|e| Error::Invalid(e.to_string()))?;
        repo.backend
            .write("config", &cfg)
            .map_err(|e| Error::io(format!("writing {loc}/config"), e))?;
        Ok(repo)
    }

    /// Opens a repository with a password or key file.
    pub fn open(backend: Arc<dyn Backend>, secret: &Secret) -> Result<Repository> {
        let loc = backend.location();
        let raw = match backend.read("config") {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotARepository(loc));
            }
            Err(e) => return Err(Error::io(format!("reading {loc}/config"), e)),
        };
        let config: Config =
            serde_json::from_slice(&raw).map_err(|e| Error::corrupt("config", e.to_string()))?;
        if config.version != 1 {
            return Err(Error::corrupt(
                "config",
                format!(
                    "version {} is not supported (this berth reads 1)",
                    config.version
                ),
            ));
        }
        let ad = repo_ad(&config)?;
        let key_files = backend
            .list("keys")
            .map_err(|e| Error::io(format!("listing {loc}/keys"), e))?;
        for kf in key_files {
            let Ok(raw) = backend.read(&kf.name) else {
                continue;
            };
            let Ok(key) = serde_json::from_slice::<KeyFile>(&raw) else {
                continue;
            };
            if let Some(master) = unwrap_key(&key, secret, &ad)? {
                let keys = Keys::derive(&master);
                let chunker = Chunker::new(&keys.gear, config.chunker)?;
                let opened_by = kf.name.trim_start_matches("keys/").to_string();
                return Ok(Repository {
                    backend,
                    config,
                    keys,
                    chunker,
                    master,
                    opened_by,
                });
            }
        }
        Err(Error::WrongKey)
    }

    /// The backend's location, for messages.
    pub fn location(&self) -> String {
        self.backend.location()
    }

    /// Adds a key that opens this repository; returns its id.
    pub fn add_key(&self, secret: &Secret, kdf: KdfParams) -> Result<String> {
        let ad = repo_ad(&self.config)?;
        let (file, kek) = match secret {
            Secret::Password(pw) => {
                let salt: [u8; 16] = crypto::random();
                let kek = crypto::password_kek(pw, &salt, kdf)?;
                let f = KeyFile {
                    kind: "password".into(),
                    kdf: "argon2id".into(),
                    m_cost_kib: kdf.m_cost_kib,
                    t_cost: kdf.t_cost,
                    p_cost: kdf.p_cost,
                    salt: hex::encode(salt),
                    created: Timestamp::now(),
                    wrapped: String::new(),
                };
                (f, kek)
            }
            Secret::KeyFile(bytes) => {
                if bytes.len() < 16 {
                    return Err(Error::Invalid(
                        "a key file must hold at least 16 bytes".into(),
                    ));
                }
                let f = KeyFile {
                    kind: "keyfile".into(),
                    kdf: "none".into(),
                    m_cost_kib: 0,
                    t_cost: 0,
                    p_cost: 0,
                    salt: String::new(),
                    created: Timestamp::now(),
                    wrapped: String::new(),
                };
                (f, crypto::keyfile_kek(bytes))
            }
        };
        let file = KeyFile {
            wrapped: hex::encode(crypto::seal(&kek, &self.master, &ad)),
            ..file
        };
        let id = hex::encode(crypto::random::<16>());
        let name = format!("keys/{id}");
        let raw = serde_json::to_vec_pretty(&file).map_err(|e| Error::Invalid(e.to_string()))?;
        self.backend
            .write(&name, &raw)
            .map_err(|e| Error::io(format!("writing {name}"), e))?;
        Ok(id)
    }

    /// The ids of the key files.
    pub fn list_keys(&self) -> Result<Vec<String>> {
        let files = self
            .backend
            .list("keys")
            .map_err(|e| Error::io("listing keys/", e))?;
        Ok(files
            .into_iter()
            .filter_map(|f| f.name.strip_prefix("keys/").map(str::to_string))
            .collect())
    }

    /// Every key file with its kind and creation time (unreadable key files are listed with
    /// kind `unreadable`, so a damaged one is visible).
    pub fn key_infos(&self) -> Result<Vec<KeyInfo>> {
        let mut out = Vec::new();
        for id in self.list_keys()? {
            let name = format!("keys/{id}");
            let parsed = self
                .backend
                .read(&name)
                .ok()
                .and_then(|raw| serde_json::from_slice::<KeyFile>(&raw).ok());
            out.push(match parsed {
                Some(k) => KeyInfo {
                    current: id == self.opened_by,
                    id,
                    kind: k.kind,
                    created: Some(k.created),
                },
                None => KeyInfo {
                    current: false,
                    id,
                    kind: "unreadable".into(),
                    created: None,
                },
            });
        }
        Ok(out)
    }

    /// Removes a key file; the last key cannot be removed.
    pub fn remove_key(&self, id: &str) -> Result<()> {
        if !id.bytes().all(|b| b.is_ascii_hexdigit()) || id.is_empty() {
            return Err(Error::Invalid(format!(
                "{id:?} is not a key id; list them with `berth snapshot key list`"
            )));
        }
        let keys = self.list_keys()?;
        if !keys.iter().any(|k| k == id) {
            return Err(Error::Invalid(format!(
                "no key {id} in keys/; list them with `berth snapshot key list`"
            )));
        }
        if keys.len() == 1 {
            return Err(Error::Invalid(format!(
                "key {id} is the last key of the repository; add another key before removing it"
            )));
        }
        self.backend
            .remove(&format!("keys/{id}"))
            .map_err(|e| Error::io(format!("removing keys/{id}"), e))
    }

    /// Compresses, encrypts and stores a document under `dir/<BLAKE3 of the bytes>`.
    pub(crate) fn write_doc<T: Serialize>(&self, dir: &str, doc: &T, ad: &[u8]) -> Result<String> {
        let json = serde_json::to_vec(doc).map_err(|e| Error::Invalid(e.to_string()))?;
        let packed =
            zstd::bulk::compress(&json, 3).map_err(|e| Error::io("zstd compression", e))?;
        let sealed = crypto::seal(&self.keys.data, &packed, ad);
        let id = blake3::hash(&sealed).to_hex().to_string();
        let name = format!("{dir}/{id}");
        self.backend
            .write(&name, &sealed)
            .map_err(|e| Error::io(format!("writing {name}"), e))?;
        Ok(id)
    }

    /// Reads a document written by [`Self::write_doc`].
    pub(crate) fn read_doc<T: DeserializeOwned>(&self, name: &str, ad: &[u8]) -> Result<T> {
        let sealed = self
            .backend
            .read(name)
            .map_err(|e| Error::io(format!("reading {name}"), e))?;
        let packed = crypto::open(&self.keys.data, &sealed, ad).ok_or_else(|| {
            Error::corrupt(name, "does not decrypt: the file is damaged or cut short")
        })?;
        let json = decompress(&packed, MAX_DOCUMENT).map_err(|r| Error::corrupt(name, r))?;
        serde_json::from_slice(&json)
            .map_err(|e| Error::corrupt(name, format!("invalid document: {e}")))
    }

    /// Reads every index file; damaged ones are recorded, not fatal.
    pub(crate) fn load_index(&self) -> Result<Index> {
        let files = self
            .backend
            .list("index")
            .map_err(|e| Error::io("listing index/", e))?;
        let mut index = Index::default();
        let mut pack_ids: HashMap<String, u32> = HashMap::new();
        for f in files {
            match self.read_doc::<IndexFile>(&f.name, AD_INDEX) {
                Ok(doc) => {
                    for p in doc.packs {
                        let next = index.packs.len() as u32;
                        let pid = *pack_ids.entry(p.id.clone()).or_insert_with(|| {
                            index.packs.push(p.id.clone());
                            next
                        });
                        for b in &p.blobs {
                            index.chunks.entry(b.id).or_insert(BlobLoc {
                                pack: pid,
                                blob: *b,
                            });
                        }
                        index.pack_blobs.entry(p.id).or_insert(p.blobs);
                    }
                    index.files.push(f.name);
                }
                Err(e) => index.damaged.push((f.name, e.to_string())),
            }
        }
        Ok(index)
    }

    /// Packs condemned by a prune that has not deleted them yet.
    pub(crate) fn condemned_packs(&self) -> Result<HashSet<String>> {
        let mut out = HashSet::new();
        for f in self
            .backend
            .list("pending")
            .map_err(|e| Error::io("listing pending/", e))?
        {
            if let Ok(rec) = self.read_doc::<PendingRecord>(&f.name, AD_PENDING) {
                out.extend(rec.packs);
            }
        }
        Ok(out)
    }

    /// Reads, decrypts, decompresses and verifies one chunk.
    pub(crate) fn read_chunk(&self, pack: &str, blob: &IndexBlob) -> Result<Vec<u8>> {
        let name = pack_path(pack);
        let sealed = self
            .backend
            .read_at(&name, blob.offset, u64::from(blob.length))
            .map_err(|e| {
                Error::corrupt(
                    &name,
                    format!("blob at offset {} cannot be read: {e}", blob.offset),
                )
            })?;
        self.open_chunk(&name, &sealed, blob)
    }

    pub(crate) fn open_chunk(
        &self,
        pack_name: &str,
        sealed: &[u8],
        blob: &IndexBlob,
    ) -> Result<Vec<u8>> {
        let packed = crypto::open(&self.keys.data, sealed, &blob.id.0).ok_or_else(|| {
            Error::corrupt(
                pack_name,
                format!(
                    "blob {} at offset {} fails authentication (damaged)",
                    blob.id, blob.offset
                ),
            )
        })?;
        // No chunk exceeds FastCDC's maximum; a larger claim is a damaged or hostile index.
        if blob.raw_length > fastcdc::v2020::MAXIMUM_MAX {
            return Err(Error::corrupt(
                pack_name,
                format!("blob {} claims {} bytes", blob.id, blob.raw_length),
            ));
        }
        let data = decompress(&packed, blob.raw_length as usize)
            .map_err(|r| Error::corrupt(pack_name, format!("blob {}: {r}", blob.id)))?;
        if data.len() != blob.raw_length as usize || self.chunk_id(&data) != blob.id {
            return Err(Error::corrupt(
                pack_name,
                format!("blob {} does not hash to its id", blob.id),
            ));
        }
        Ok(data)
    }

    /// The keyed id of a chunk.
    pub(crate) fn chunk_id(&self, data: &[u8]) -> ChunkId {
        ChunkId(*blake3::keyed_hash(&self.keys.id, data).as_bytes())
    }

    /// Lists snapshots, oldest first. An unreadable snapshot file is an error; one deleted
    /// since the listing is left out.
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        let mut out = Vec::new();
        for f in self
            .backend
            .list("snapshots")
            .map_err(|e| Error::io("listing snapshots/", e))?
        {
            let snapshot: Snapshot = match self.read_doc(&f.name, AD_SNAPSHOT) {
                Ok(s) => s,
                // Forgotten between the listing and the read (a concurrent forget, or a mover
                // run folding its volume snapshots into an app snapshot): no longer there.
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                    continue;
                }
                Err(e) => return Err(e),
            };
            let id = f.name.trim_start_matches("snapshots/").to_string();
            out.push(SnapshotInfo { id, snapshot });
        }
        out.sort_by(|a, b| {
            a.snapshot
                .time
                .cmp(&b.snapshot.time)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// Whether a content-named file's bytes do not hash to its name: a write cut short (or a
    /// damaged file). A file that cannot be read counts as not torn.
    pub(crate) fn is_torn(&self, name: &str) -> bool {
        let Ok(bytes) = self.backend.read(name) else {
            return false;
        };
        let want = name.rsplit('/').next().unwrap_or_default();
        blake3::hash(&bytes).to_hex().as_str() != want
    }

    /// Loads a snapshot by id or unique id prefix.
    pub fn snapshot(&self, id_or_prefix: &str) -> Result<SnapshotInfo> {
        if id_or_prefix.is_empty() || !id_or_prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::SnapshotNotFound(id_or_prefix.to_string()));
        }
        let files = self
            .backend
            .list("snapshots")
            .map_err(|e| Error::io("listing snapshots/", e))?;
        let wanted = id_or_prefix.to_ascii_lowercase();
        let matches: Vec<_> = files
            .iter()
            .filter_map(|f| f.name.strip_prefix("snapshots/"))
            .filter(|id| id.starts_with(&wanted))
            .collect();
        match matches.as_slice() {
            [] => Err(Error::SnapshotNotFound(id_or_prefix.to_string())),
            [id] => {
                let snapshot = self.read_doc(&format!("snapshots/{id}"), AD_SNAPSHOT)?;
                Ok(SnapshotInfo {
                    id: id.to_string(),
                    snapshot,
                })
            }
            _ => Err(Error::AmbiguousSnapshot(id_or_prefix.to_string())),
        }
    }
}

/// `packs/<xx>/<name>`.
pub(crate) fn pack_path(id: &str) -> String {
    format!("packs/{}/{id}", id.get(..2).unwrap_or("00"))
}

thread_local! {
    // One zstd context per thread: creating one per chunk dominates restores of small files.
    static DCTX: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { std::cell::RefCell::new(None) };
}

/// Decompresses one zstd frame of at most `limit` bytes.
pub(crate) fn decompress(packed: &[u8], limit: usize) -> std::result::Result<Vec<u8>, String> {
    let bad = |e: std::io::Error| format!("zstd data is invalid or larger than expected: {e}");
    DCTX.with(|cell| {
        let mut slot = cell.borrow_mut();
        let d = match &mut *slot {
            Some(d) => d,
            None => slot.insert(zstd::bulk::Decompressor::new().map_err(bad)?),
        };
        // The frame records its size (berth writes it); capping by it avoids reserving `limit`.
        let cap = zstd::bulk::Decompressor::upper_bound(packed)
            .unwrap_or(limit)
            .min(limit);
        d.decompress(packed, cap.max(1)).map_err(bad)
    })
}

fn repo_ad(config: &Config) -> Result<[u8; 32]> {
    let mut ad = [0u8; 32];
    hex::decode_to_slice(&config.id, &mut ad)
        .map_err(|e| Error::corrupt("config", format!("id: {e}")))?;
    Ok(ad)
}

fn unwrap_key(key: &KeyFile, secret: &Secret, ad: &[u8]) -> Result<Option<[u8; 32]>> {
    let kek = match (key.kind.as_str(), secret) {
        ("password", Secret::Password(pw)) => {
            let Ok(salt) = hex::decode(&key.salt) else {
                return Ok(None);
            };
            let p = KdfParams {
                m_cost_kib: key.m_cost_kib,
                t_cost: key.t_cost,
                p_cost: key.p_cost,
            };
            // Refuse absurd costs from a hostile key file rather than allocate them.
            if p.m_cost_kib > 4 * 1024 * 1024 || p.t_cost > 100 {
                return Ok(None);
            }
            match crypto::password_kek(pw, &salt, p) {
                Ok(k) => k,
                Err(_) => return Ok(None),
            }
        }
        ("keyfile", Secret::KeyFile(bytes)) => crypto::keyfile_kek(bytes),
        _ => return Ok(None),
    };
    let Ok(wrapped) = hex::decode(&key.wrapped) else {
        return Ok(None);
    };
    Ok(crypto::open(&kek, &wrapped, ad).and_then(|m| <[u8; 32]>::try_from(m.as_slice()).ok()))
}
