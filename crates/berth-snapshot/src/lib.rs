//! The berth snapshot repository: deduplicated, compressed and encrypted snapshots of
//! directory trees and named byte streams, stored as files on a [`Backend`] (a directory,
//! which is how NFS and SAN volumes reach a host).
//!
//! The on-disk format is described byte by byte in `docs/formats/snapshot.md`. In short:
//! content-defined chunking with a secret gear table, chunk ids as BLAKE3 keyed hashes, zstd,
//! XChaCha20-Poly1305, packs of chunks plus index files, snapshot documents written last,
//! no locks, two-phase prune.
//!
//! ```no_run
//! use std::sync::Arc;
//! use berth_snapshot::{LocalBackend, Repository, Secret, InitOptions, BackupOptions};
//! # fn main() -> Result<(), berth_snapshot::Error> {
//! let backend = Arc::new(LocalBackend::new("/mnt/backups/hello"));
//! let secret = Secret::Password("correct horse".into());
//! let repo = Repository::init(backend, &secret, &InitOptions::default())?;
//! let summary = repo.backup_dir("/srv/data".as_ref(), &BackupOptions::default())?;
//! repo.restore(&summary.snapshot_id, "restored".as_ref())?;
//! # Ok(()) }
//! ```

mod backend;
mod backup;
mod check;
mod chunker;
mod crypto;
mod error;
mod fault;
mod format;
mod location;
mod prune;
mod repo;
mod restore;
pub mod retention;
mod retry;
mod s3;
mod sftp;

pub use backend::{Backend, FileInfo, LocalBackend};
pub use backup::{BackupOptions, BackupStats, BackupSummary, SnapshotWriter};
pub use check::{CheckOptions, CheckReport};
pub use chunker::ChunkerParams;
pub use crypto::{KdfParams, Secret};
pub use error::Error;
pub use fault::ExitAtBackend;
pub use format::{ChunkId, Item, ItemKind, Snapshot};
pub use location::{BackendOptions, RepoLocation, open_backend};
pub use prune::{ForgetResult, PruneOptions, PruneReport};
pub use repo::{InitOptions, KeyInfo, Repository, SnapshotInfo};
pub use restore::{RestoreOptions, RestoreSummary};
pub use retention::RetentionPolicy;
pub use retry::{RetryBackend, RetryPolicy, Transient, is_transient, transient};
pub use s3::{S3Backend, S3Credentials, S3Location};
pub use sftp::{HostKeyCheck, SftpAuth, SftpBackend, SftpLocation, SftpOptions};

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
