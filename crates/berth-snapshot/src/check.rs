//! `check`: find every damaged, missing or cut-short file (format section 11).

use std::collections::{HashMap, HashSet};

use crate::crypto;
use crate::format::{ChunkId, IndexBlob, decode_header};
use crate::repo::{AD_PACK_HEADER, AD_SNAPSHOT, Repository, pack_path};
use crate::{Error, Result};

/// Options of `check`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Also decrypt every blob and compare its keyed hash with its id.
    pub read_data: bool,
}

/// What `check` found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Problems that make a snapshot unrestorable or the repository unreadable.
    pub errors: Vec<String>,
    /// Leftovers of interrupted writes that no snapshot needs (prune removes them).
    pub warnings: Vec<String>,
    /// Snapshots read.
    pub snapshots: usize,
    /// Packs checked.
    pub packs: usize,
    /// Distinct chunks indexed.
    pub chunks: usize,
}

impl CheckReport {
    /// True when no error was found.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

impl Repository {
    /// Checks the repository; problems are reported, not returned as `Err`.
    pub fn check(&self, opts: CheckOptions) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        let index = self.load_index()?;
        // Every location of every chunk: a chunk stored twice is fine if one copy is good.
        let mut locations: HashMap<ChunkId, Vec<&str>> = HashMap::new();
        for (pack, blobs) in &index.pack_blobs {
            for b in blobs {
                locations.entry(b.id).or_default().push(pack);
            }
        }
        report.chunks = locations.len();
        let mut damaged_packs: HashMap<&str, String> = HashMap::new();
        for (pack, blobs) in &index.pack_blobs {
            report.packs += 1;
            if let Err(e) = self.check_pack(pack, blobs, opts.read_data) {
                damaged_packs.insert(pack.as_str(), e.to_string());
            }
        }
        // Snapshots, and the chunks they need.
        let mut needed_packs: HashSet<&str> = HashSet::new();
        let files = self
            .backend
            .list("snapshots")
            .map_err(|e| Error::io("listing snapshots/", e))?;
        for f in &files {
            let snap: crate::Snapshot = match self.read_doc(&f.name, AD_SNAPSHOT) {
                Ok(s) => s,
                Err(e) => {
                    report.errors.push(e.to_string());
                    continue;
                }
            };
            report.snapshots += 1;
            for item in &snap.items {
                let mut bad = 0usize;
                let mut first_why = String::new();
                for id in &item.chunks {
                    let locs = locations.get(id).map(Vec::as_slice).unwrap_or_default();
                    if locs.iter().any(|p| !damaged_packs.contains_key(p)) {
                        continue;
                    }
                    // No good copy: the damaged packs holding it are errors.
                    needed_packs.extend(locs.iter().copied());
                    if bad == 0 {
                        first_why = match locs.first() {
                            None => format!("chunk {id} is in no readable index"),
                            Some(p) => format!("chunk {id} is only in damaged pack {p}"),
                        };
                    }
                    bad += 1;
                }
                if bad > 0 {
                    report.errors.push(format!(
                        "{}: item {}: {bad} of {} chunks cannot be read; first: {first_why}",
                        f.name,
                        item.path,
                        item.chunks.len()
                    ));
                }
            }
        }
        let mut damaged: Vec<_> = damaged_packs.iter().collect();
        damaged.sort();
        for (pack, why) in damaged {
            let line = format!("pack {pack}: {why}");
            if needed_packs.contains(pack) {
                report.errors.push(line)
            } else {
                report.warnings.push(format!(
                    "{line} (no snapshot needs it, or its chunks have good copies elsewhere)"
                ))
            }
        }
        for (name, why) in &index.damaged {
            report.warnings.push(format!(
                "{name} is unreadable and skipped ({why}); an interrupted write?"
            ));
        }
        let packs = self
            .backend
            .list("packs")
            .map_err(|e| Error::io("listing packs/", e))?;
        for p in packs {
            let id = p.name.rsplit('/').next().unwrap_or_default();
            if !index.pack_blobs.contains_key(id) {
                report.warnings.push(format!("{} is in no index (left by an interrupted or running backup; prune removes it)", p.name));
            }
        }
        Ok(report)
    }

    /// Verifies a pack's header against the index, and with `read_data` every blob.
    fn check_pack(&self, pack: &str, indexed: &[IndexBlob], read_data: bool) -> Result<()> {
        let name = pack_path(pack);
        let size = self
            .backend
            .size(&name)
            .map_err(|e| Error::corrupt(&name, format!("missing: {e}")))?;
        let header = self.read_pack_header(&name, size)?;
        let by_id: HashMap<ChunkId, &IndexBlob> = header.iter().map(|b| (b.id, b)).collect();
        for b in indexed {
            if by_id.get(&b.id).is_none_or(|h| *h != b) {
                return Err(Error::corrupt(
                    &name,
                    format!("blob {} is indexed but not in the pack's header", b.id),
                ));
            }
        }
        if read_data {
            let bytes = self
                .backend
                .read(&name)
                .map_err(|e| Error::io(format!("reading {name}"), e))?;
            if blake3::hash(&bytes).to_hex().as_str() != pack {
                // Still try the blobs, to name the damaged one.
                for b in &header {
                    let range = b.offset as usize..(b.offset as usize + b.length as usize);
                    let sealed = bytes
                        .get(range)
                        .ok_or_else(|| Error::corrupt(&name, "blob beyond end of pack"))?;
                    self.open_chunk(&name, sealed, b)?;
                }
                return Err(Error::corrupt(
                    &name,
                    "contents do not hash to the pack's name",
                ));
            }
            for b in &header {
                let range = b.offset as usize..(b.offset as usize + b.length as usize);
                let sealed = bytes
                    .get(range)
                    .ok_or_else(|| Error::corrupt(&name, "blob beyond end of pack"))?;
                self.open_chunk(&name, sealed, b)?;
            }
        }
        Ok(())
    }

    /// Reads and decrypts a pack's header.
    pub(crate) fn read_pack_header(&self, name: &str, size: u64) -> Result<Vec<IndexBlob>> {
        if size < 4 {
            return Err(Error::corrupt(name, "too short to be a pack (cut short?)"));
        }
        let len_bytes = self
            .backend
            .read_at(name, size - 4, 4)
            .map_err(|e| Error::io(format!("reading {name}"), e))?;
        let hlen = u64::from(u32::from_le_bytes([
            len_bytes[0],
            len_bytes[1],
            len_bytes[2],
            len_bytes[3],
        ]));
        if hlen + 4 > size || hlen < crypto::OVERHEAD as u64 {
            return Err(Error::corrupt(
                name,
                "header length does not fit the file (cut short or damaged)",
            ));
        }
        let sealed = self
            .backend
            .read_at(name, size - 4 - hlen, hlen)
            .map_err(|e| Error::io(format!("reading {name}"), e))?;
        let plain = crypto::open(&self.keys.data, &sealed, AD_PACK_HEADER).ok_or_else(|| {
            Error::corrupt(name, "header fails authentication (damaged or cut short)")
        })?;
        let blobs =
            decode_header(&plain).ok_or_else(|| Error::corrupt(name, "header has a bad length"))?;
        let end = blobs.last().map_or(0, |b| b.offset + u64::from(b.length));
        if end != size - 4 - hlen {
            return Err(Error::corrupt(
                name,
                "blobs do not fill the pack up to its header",
            ));
        }
        Ok(blobs)
    }
}
