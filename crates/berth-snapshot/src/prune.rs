//! `forget` (retention) and two-phase `prune` (format section 10).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use jiff::Timestamp;

use crate::format::{ChunkId, IndexBlob, IndexFile, IndexPack, PendingRecord};
use crate::repo::{AD_INDEX, AD_PENDING, Repository, pack_path};
use crate::retention::{self, RetentionPolicy};
use crate::{Error, Result};

/// What `forget` decided.
#[derive(Debug, Clone, Default)]
pub struct ForgetResult {
    /// Snapshots kept.
    pub keep: Vec<String>,
    /// Snapshots removed (or that would be, with `dry_run`).
    pub remove: Vec<String>,
}

/// Options of `prune`.
#[derive(Debug, Clone, Copy)]
pub struct PruneOptions {
    /// Longer than any backup runs: condemned packs wait this long before deletion.
    pub grace: Duration,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            grace: Duration::from_secs(24 * 3600),
        }
    }
}

/// What `prune` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Packs condemned by this run (phase 1).
    pub condemned: usize,
    /// Condemned packs found used again and kept.
    pub rescued: usize,
    /// Packs deleted (phase 2, and unindexed leftovers).
    pub deleted_packs: usize,
    /// Bytes of the deleted packs.
    pub deleted_bytes: u64,
    /// Temporary files removed.
    pub deleted_tmp: usize,
}

impl Repository {
    /// Deletes the snapshots the policy does not keep.
    pub fn forget(&self, policy: &RetentionPolicy, dry_run: bool) -> Result<ForgetResult> {
        if policy.is_empty() {
            return Err(Error::Invalid(
                "no --keep-* rule given: refusing to forget every snapshot".into(),
            ));
        }
        let snaps = self.snapshots()?;
        let list: Vec<_> = snaps
            .iter()
            .map(|s| (s.id.clone(), s.snapshot.time))
            .collect();
        let mut out = ForgetResult::default();
        for (id, keep) in retention::apply(&list, policy) {
            if keep {
                out.keep.push(id);
            } else {
                if !dry_run {
                    let name = format!("snapshots/{id}");
                    self.backend
                        .remove(&name)
                        .map_err(|e| Error::io(format!("removing {name}"), e))?;
                }
                out.remove.push(id);
            }
        }
        Ok(out)
    }

    /// Deletes one snapshot document (id or unique prefix); its data stays until `prune`.
    pub fn remove_snapshot(&self, id: &str) -> Result<()> {
        let s = self.snapshot(id)?;
        let name = format!("snapshots/{}", s.id);
        self.backend
            .remove(&name)
            .map_err(|e| Error::io(format!("removing {name}"), e))
    }

    /// Removes data no snapshot uses, in two phases so that running backups stay safe.
    pub fn prune(&self, opts: PruneOptions) -> Result<PruneReport> {
        let mut report = PruneReport::default();
        let now = SystemTime::now();
        let old = |t: SystemTime| now.duration_since(t).is_ok_and(|age| age >= opts.grace);
        // An unreadable snapshot aborts: its chunks are unknown, so nothing is safe to delete.
        let used: HashSet<ChunkId> = self
            .snapshots()?
            .iter()
            .flat_map(|s| {
                s.snapshot
                    .items
                    .iter()
                    .flat_map(|i| i.chunks.iter().copied())
            })
            .collect();
        let index = self.load_index()?;
        let pack_used =
            |blobs: &[crate::format::IndexBlob]| blobs.iter().any(|b| used.contains(&b.id));
        let mut keep: HashMap<String, Vec<crate::format::IndexBlob>> = index.pack_blobs.clone();
        let mut delete: Vec<String> = Vec::new();
        let mut rewrite = false;

        // Phase 2: records from earlier runs, older than the grace period.
        let mut records = Vec::new();
        for f in self
            .backend
            .list("pending")
            .map_err(|e| Error::io("listing pending/", e))?
        {
            if let Ok(rec) = self.read_doc::<PendingRecord>(&f.name, AD_PENDING) {
                records.push((f.name, rec));
            }
        }
        let all_condemned: HashSet<&String> =
            records.iter().flat_map(|(_, r)| r.packs.iter()).collect();
        // Chunks with a copy in a pack that no record condemns: condemned copies of them can go.
        let covered: HashSet<ChunkId> = keep
            .iter()
            .filter(|(p, _)| !all_condemned.contains(p))
            .flat_map(|(_, blobs)| blobs.iter().map(|b| b.id))
            .collect();
        let needed = |blobs: &[crate::format::IndexBlob]| {
            blobs
                .iter()
                .any(|b| used.contains(&b.id) && !covered.contains(&b.id))
        };
        let mut condemned_earlier: HashSet<String> = HashSet::new();
        let mut done_records = Vec::new();
        for (name, rec) in &records {
            let ripe = SystemTime::from(rec.time) + opts.grace <= now;
            for p in &rec.packs {
                let blobs = keep.get(p).cloned().unwrap_or_default();
                if ripe && needed(&blobs) {
                    report.rescued += 1;
                } else if ripe {
                    keep.remove(p);
                    delete.push(p.clone());
                    rewrite = true;
                } else {
                    condemned_earlier.insert(p.clone());
                }
            }
            if ripe {
                done_records.push(name.clone());
            }
        }

        // Phase 1: indexed packs nothing uses, not yet condemned.
        let deleting: HashSet<&String> = delete.iter().collect();
        let mut condemn: Vec<String> = keep
            .iter()
            .filter(|(p, blobs)| {
                !pack_used(blobs) && !condemned_earlier.contains(*p) && !deleting.contains(p)
            })
            .map(|(p, _)| p.clone())
            .collect();
        condemn.sort();
        if !condemn.is_empty() {
            report.condemned = condemn.len();
            let rec = PendingRecord {
                time: Timestamp::now(),
                packs: condemn,
            };
            self.write_doc("pending", &rec, AD_PENDING)?;
        }

        // Packs no index lists: leftovers once old; any that hold used chunks are re-indexed.
        if self.sweep_unindexed(&index.pack_blobs, &used, &old, &mut keep, &mut report)? {
            rewrite = true;
        }

        // Index files cut short (bytes that do not hash to the name) and old: the new index
        // covers their packs (the sweep above re-indexed every old pack with used chunks).
        let torn_index = self.old_torn_index_files(&index, &old)?;
        if !torn_index.is_empty() {
            rewrite = true;
        }

        if rewrite {
            // The new index is durable before any old index file or pack is deleted.
            let mut packs: Vec<IndexPack> = keep
                .into_iter()
                .map(|(id, blobs)| IndexPack { id, blobs })
                .collect();
            packs.sort_by(|a, b| a.id.cmp(&b.id));
            let written = self.write_doc("index", &IndexFile { packs }, AD_INDEX)?;
            for f in &index.files {
                if *f != format!("index/{written}") {
                    self.backend
                        .remove(f)
                        .map_err(|e| Error::io(format!("removing {f}"), e))?;
                }
            }
            for f in &torn_index {
                self.backend
                    .remove(f)
                    .map_err(|e| Error::io(format!("removing {f}"), e))?;
            }
            for p in &delete {
                let name = pack_path(p);
                report.deleted_bytes += self.backend.size(&name).unwrap_or(0);
                self.backend
                    .remove(&name)
                    .map_err(|e| Error::io(format!("removing {name}"), e))?;
                report.deleted_packs += 1;
            }
        }
        for r in done_records {
            self.backend
                .remove(&r)
                .map_err(|e| Error::io(format!("removing {r}"), e))?;
        }
        for t in self
            .backend
            .list("tmp")
            .map_err(|e| Error::io("listing tmp/", e))?
        {
            if now
                .duration_since(t.modified)
                .is_ok_and(|a| a >= opts.grace.max(Duration::from_secs(86400)))
            {
                let _ = self.backend.remove(&t.name);
                report.deleted_tmp += 1;
            }
        }
        Ok(report)
    }

    /// Unreadable index files older than the grace period whose bytes do not hash to their
    /// name (a write cut short on a store without atomic writes).
    fn old_torn_index_files(
        &self,
        index: &crate::repo::Index,
        old: &dyn Fn(SystemTime) -> bool,
    ) -> Result<Vec<String>> {
        if index.damaged.is_empty() {
            return Ok(vec![]);
        }
        let damaged: HashSet<&str> = index.damaged.iter().map(|(n, _)| n.as_str()).collect();
        let mut out = Vec::new();
        for f in self
            .backend
            .list("index")
            .map_err(|e| Error::io("listing index/", e))?
        {
            if damaged.contains(f.name.as_str()) && old(f.modified) && self.is_torn(&f.name) {
                out.push(f.name);
            }
        }
        Ok(out)
    }

    /// Deletes old packs that no index lists, except those holding used chunks, which are
    /// added to `keep` (returns true then: the index must be rewritten).
    fn sweep_unindexed(
        &self,
        indexed: &HashMap<String, Vec<IndexBlob>>,
        used: &HashSet<ChunkId>,
        old: &dyn Fn(SystemTime) -> bool,
        keep: &mut HashMap<String, Vec<IndexBlob>>,
        report: &mut PruneReport,
    ) -> Result<bool> {
        let mut reindexed = false;
        for p in self
            .backend
            .list("packs")
            .map_err(|e| Error::io("listing packs/", e))?
        {
            let id = p.name.rsplit('/').next().unwrap_or_default().to_string();
            if indexed.contains_key(&id) || !old(p.modified) {
                continue;
            }
            match self.read_pack_header(&p.name, p.size) {
                Ok(blobs) if blobs.iter().any(|b| used.contains(&b.id)) => {
                    keep.insert(id, blobs);
                    reindexed = true;
                }
                _ => {
                    report.deleted_bytes += p.size;
                    self.backend
                        .remove(&p.name)
                        .map_err(|e| Error::io(format!("removing {}", p.name), e))?;
                    report.deleted_packs += 1;
                }
            }
        }
        Ok(reindexed)
    }
}
