//! Release files and image blobs, content-addressed by sha256 digest.
//!
//! A blob is streamed to a temporary file beside its final place, hashed while written and
//! renamed into place only when its digest matches the name it was pushed under: a push killed
//! half way leaves nothing that looks complete, and pushing it again resumes blob by blob.

use berth_oci::Layout;
use berth_oci::digest::Digest;
use futures::{Stream, StreamExt};
use std::path::Path;

/// Why a blob could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("blob {digest} does not match its content (received {actual}); push it again")]
    DigestMismatch { digest: String, actual: String },
    #[error("blob {digest} is larger than the server accepts ({limit} bytes)")]
    TooLarge { digest: String, limit: u64 },
    #[error("the upload of blob {digest} broke off: {reason}")]
    Interrupted { digest: String, reason: String },
    #[error("storage error ({op}): {source}")]
    Io {
        op: &'static str,
        source: std::io::Error,
    },
    #[error("storage error ({op}): {source}")]
    Layout {
        op: &'static str,
        source: berth_oci::Error,
    },
}

/// Blob storage in a directory (`DATA_DIR/blobs/sha256/<hex>`): an OCI image layout's blob
/// store, written through berth-oci's verified blob writer.
#[derive(Debug, Clone)]
pub struct Store {
    layout: Layout,
    max_blob: u64,
}

impl Store {
    /// A store under `root`, refusing blobs larger than `max_blob` bytes.
    pub fn open(root: &Path, max_blob: u64) -> Result<Store, StoreError> {
        let layout = Layout::create(root).map_err(|source| StoreError::Layout {
            op: "create the blob directory",
            source,
        })?;
        Ok(Store { layout, max_blob })
    }

    /// Whether a blob is stored.
    pub async fn has(&self, d: &Digest) -> bool {
        tokio::fs::metadata(self.layout.blob_path(d)).await.is_ok()
    }

    /// The size of a stored blob.
    pub async fn size(&self, d: &Digest) -> Option<u64> {
        tokio::fs::metadata(self.layout.blob_path(d))
            .await
            .ok()
            .map(|m| m.len())
    }

    /// Store a blob from a stream of chunks; verified against `d` before it becomes visible.
    pub async fn put<S, E>(&self, d: &Digest, mut body: S) -> Result<u64, StoreError>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let layout_err = |op| move |source| StoreError::Layout { op, source };
        let mut w = self
            .layout
            .blob_writer(d)
            .map_err(layout_err("create a temporary blob"))?;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StoreError::Interrupted {
                digest: d.to_string(),
                reason: e.to_string(),
            })?;
            if w.written() + chunk.len() as u64 > self.max_blob {
                return Err(StoreError::TooLarge {
                    digest: d.to_string(),
                    limit: self.max_blob,
                });
            }
            w.write(&chunk).map_err(layout_err("write a blob"))?;
        }
        let size = w.written();
        // Hash check, fsync and rename off the async workers.
        let committed = tokio::task::spawn_blocking(move || w.commit())
            .await
            .map_err(|e| StoreError::Io {
                op: "commit a blob",
                source: std::io::Error::other(e.to_string()),
            })?;
        match committed {
            Ok(()) => Ok(size),
            Err(berth_oci::Error::DigestMismatch { actual, .. }) => {
                Err(StoreError::DigestMismatch {
                    digest: d.to_string(),
                    actual,
                })
            }
            Err(source) => Err(StoreError::Layout {
                op: "move a blob into place",
                source,
            }),
        }
    }

    /// Open a stored blob for streaming.
    pub async fn open_blob(&self, d: &Digest) -> Option<(tokio::fs::File, u64)> {
        let f = tokio::fs::File::open(self.layout.blob_path(d)).await.ok()?;
        let len = f.metadata().await.ok()?.len();
        Some((f, len))
    }

    /// A temporary OCI image layout of one release: `oci-layout`, the release's index as
    /// `index.json`, and `blobs` linked to this store's blobs (nothing is copied).
    pub async fn layout_view(&self, index: &Digest) -> Result<tempfile::TempDir, StoreError> {
        let io = |op| move |source| StoreError::Io { op, source };
        let bytes = self
            .read_small(index, 16 * 1024 * 1024)
            .await
            .ok_or_else(|| StoreError::Io {
                op: "read a release index",
                source: std::io::Error::new(std::io::ErrorKind::NotFound, index.to_string()),
            })?;
        let dir = tempfile::Builder::new()
            .prefix(".layout-")
            .tempdir()
            .map_err(io("create a layout view"))?;
        std::fs::write(
            dir.path().join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .map_err(io("write a layout view"))?;
        std::fs::write(dir.path().join("index.json"), bytes).map_err(io("write a layout view"))?;
        let blobs = self.layout.root().join("blobs");
        std::os::unix::fs::symlink(&blobs, dir.path().join("blobs"))
            .map_err(io("link a layout view"))?;
        Ok(dir)
    }

    /// A scratch directory inside the data directory (bundles can be as large as releases:
    /// they are written beside the blobs, not into /tmp). Removed when dropped.
    pub fn scratch_dir(&self) -> Result<tempfile::TempDir, StoreError> {
        tempfile::Builder::new()
            .prefix(".scratch-")
            .tempdir_in(self.layout.root())
            .map_err(|source| StoreError::Io {
                op: "create a scratch directory",
                source,
            })
    }

    /// Read a small stored blob whole (index.json, manifests), refusing more than `limit` bytes.
    pub async fn read_small(&self, d: &Digest, limit: u64) -> Option<Vec<u8>> {
        let (_, len) = self.open_blob(d).await?;
        if len > limit {
            return None;
        }
        tokio::fs::read(self.layout.blob_path(d)).await.ok()
    }
}
