//! The documents stored in a repository (format sections 2, 3, 6, 7, 8 and 10).

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::chunker::ChunkerParams;

/// A chunk id: `BLAKE3-keyed(id key, chunk)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkId(pub [u8; 32]);

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}
impl fmt::Debug for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChunkId({})", &hex::encode(self.0)[..16])
    }
}
impl Serialize for ChunkId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}
impl<'de> Deserialize<'de> for ChunkId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&s, &mut out)
            .map_err(|e| serde::de::Error::custom(format!("chunk id {s:?}: {e}")))?;
        Ok(ChunkId(out))
    }
}

/// `config`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Config {
    pub version: u32,
    pub id: String,
    pub chunker: ChunkerParams,
    pub compression: String,
}

/// `keys/<id>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeyFile {
    pub kind: String,
    pub kdf: String,
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
    pub salt: String,
    pub created: Timestamp,
    pub wrapped: String,
}

/// `index/<name>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct IndexFile {
    pub packs: Vec<IndexPack>,
}

/// One pack in an index file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct IndexPack {
    pub id: String,
    pub blobs: Vec<IndexBlob>,
}

/// One blob of a pack.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct IndexBlob {
    pub id: ChunkId,
    pub offset: u64,
    pub length: u32,
    pub raw_length: u32,
}

/// `pending/<name>`: packs condemned by phase 1 of prune.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PendingRecord {
    pub time: Timestamp,
    pub packs: Vec<String>,
}

/// A snapshot document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    /// Format version (1).
    pub version: u32,
    /// When the backup started.
    pub time: Timestamp,
    /// The host that made it.
    pub hostname: String,
    /// Free-form tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The source paths (directories) backed up.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Everything the snapshot holds, in order.
    pub items: Vec<Item>,
}

/// What an item is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// A named byte stream (a Kubernetes object, a volume or database dump).
    Stream,
}

/// One entry of a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Item {
    /// Relative `/`-separated path.
    pub path: String,
    /// What it is.
    pub kind: ItemKind,
    /// Unix permission bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// Modification time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime: Option<Timestamp>,
    /// Content size in bytes (files and streams).
    #[serde(default)]
    pub size: u64,
    /// Chunk ids whose contents concatenate to the content.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<ChunkId>,
    /// Link target (symlinks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// One record of a pack header.
pub(crate) const HEADER_RECORD: usize = 40;

/// Encodes a pack header's plaintext.
pub(crate) fn encode_header(blobs: &[IndexBlob]) -> Vec<u8> {
    let mut out = Vec::with_capacity(blobs.len() * HEADER_RECORD);
    for b in blobs {
        out.extend_from_slice(&b.id.0);
        out.extend_from_slice(&b.length.to_le_bytes());
        out.extend_from_slice(&b.raw_length.to_le_bytes());
    }
    out
}

/// Decodes a pack header's plaintext; offsets follow from the lengths.
pub(crate) fn decode_header(bytes: &[u8]) -> Option<Vec<IndexBlob>> {
    if !bytes.len().is_multiple_of(HEADER_RECORD) {
        return None;
    }
    let mut offset = 0u64;
    let mut out = Vec::with_capacity(bytes.len() / HEADER_RECORD);
    for rec in bytes.chunks_exact(HEADER_RECORD) {
        let mut id = [0u8; 32];
        id.copy_from_slice(&rec[..32]);
        let length = u32::from_le_bytes([rec[32], rec[33], rec[34], rec[35]]);
        let raw_length = u32::from_le_bytes([rec[36], rec[37], rec[38], rec[39]]);
        out.push(IndexBlob {
            id: ChunkId(id),
            offset,
            length,
            raw_length,
        });
        offset += u64::from(length);
    }
    Some(out)
}
