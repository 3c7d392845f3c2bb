//! Release files and image blobs, content-addressed by sha256 digest.
//!
//! A blob is streamed to a temporary file beside its final place, hashed while written and
//! renamed into place only when its digest matches the name it was pushed under: a push killed
//! half way leaves nothing that looks complete, and pushing it again resumes blob by blob.
//!
//! With an S3-compatible store (`--storage s3://…`) the bucket holds the blobs and the local
//! directory is a cache of it: a blob is uploaded before it counts as stored, and a blob this
//! process has not seen is fetched from the bucket and verified against its digest before it is
//! served. Blobs are immutable and named by their digest, so every process's cache agrees with
//! the bucket and several servers can share one bucket.

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
    #[error("object store: {0}")]
    Remote(#[from] berth_s3::Error),
    #[error("the support bundle is larger than the server accepts ({limit} bytes)")]
    BundleTooLarge { limit: u64 },
    #[error("{0}")]
    NotABundle(String),
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
    remote: Option<berth_s3::Client>,
}

/// The object name of a blob in the bucket.
fn remote_name(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm(), d.hex())
}

impl Store {
    /// A store under `root`, refusing blobs larger than `max_blob` bytes.
    pub fn open(root: &Path, max_blob: u64) -> Result<Store, StoreError> {
        let layout = Layout::create(root).map_err(|source| StoreError::Layout {
            op: "create the blob directory",
            source,
        })?;
        Ok(Store {
            layout,
            max_blob,
            remote: None,
        })
    }

    /// Keep blobs in an S3-compatible bucket, with `root` as this process's cache of it.
    pub fn with_remote(mut self, remote: berth_s3::Client) -> Store {
        self.remote = Some(remote);
        self
    }

    /// Where blobs are kept, for logs and errors.
    pub fn describe(&self) -> String {
        match &self.remote {
            Some(r) => r.location().display(),
            None => self.layout.root().display().to_string(),
        }
    }

    /// Whether a blob is stored. A bucket that cannot be reached counts as "not stored": a
    /// push then sends the blob again, which is safe.
    pub async fn has(&self, d: &Digest) -> bool {
        self.size(d).await.is_some()
    }

    /// The size of a stored blob.
    pub async fn size(&self, d: &Digest) -> Option<u64> {
        if let Ok(m) = tokio::fs::metadata(self.layout.blob_path(d)).await {
            return Some(m.len());
        }
        match &self.remote {
            Some(r) => match r.head(&remote_name(d)).await {
                Ok(size) => size,
                Err(e) => {
                    tracing::warn!(error = %e, blob = %d, "object store unreachable");
                    None
                }
            },
            None => None,
        }
    }

    /// Store a blob from a stream of chunks; verified against `d` before it becomes visible
    /// (and, with a bucket, uploaded before it counts as stored).
    pub async fn put<S, E>(&self, d: &Digest, body: S) -> Result<u64, StoreError>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let size = self.put_local(d, body).await?;
        self.upload(d, size).await?;
        Ok(size)
    }

    /// Write a blob into the local directory through the verified blob writer.
    async fn put_local<S, E>(&self, d: &Digest, body: S) -> Result<u64, StoreError>
    where
        S: Stream<Item = Result<bytes::Bytes, E>>,
        E: std::fmt::Display,
    {
        let mut body = std::pin::pin!(body);
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

    /// With a bucket: upload a verified local blob; it counts as stored only once the bucket
    /// has it, so a failed upload removes the local copy too (nothing half-written).
    async fn upload(&self, d: &Digest, size: u64) -> Result<(), StoreError> {
        let Some(r) = &self.remote else {
            return Ok(());
        };
        let path = self.layout.blob_path(d);
        let body = berth_s3::Body::File {
            path: path.clone(),
            len: size,
            sha256: (d.algorithm() == "sha256").then(|| d.hex().to_string()),
        };
        if let Err(e) = r.put(&remote_name(d), body).await {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e.into());
        }
        Ok(())
    }

    /// Open a stored blob for streaming (fetched from the bucket into the cache first when
    /// this process does not hold it yet).
    pub async fn open_blob(&self, d: &Digest) -> Option<(tokio::fs::File, u64)> {
        if let Err(e) = self.fetch(d).await {
            tracing::warn!(error = %e, blob = %d, "cannot fetch a blob from the object store");
        }
        let f = tokio::fs::File::open(self.layout.blob_path(d)).await.ok()?;
        let len = f.metadata().await.ok()?.len();
        Some((f, len))
    }

    /// Bring a blob from the bucket into the local cache, verified against its digest.
    /// Nothing to do without a bucket, or when the blob is already here.
    pub async fn fetch(&self, d: &Digest) -> Result<(), StoreError> {
        let Some(r) = &self.remote else {
            return Ok(());
        };
        if tokio::fs::metadata(self.layout.blob_path(d)).await.is_ok() {
            return Ok(());
        }
        let Some(len) = r.head(&remote_name(d)).await? else {
            return Ok(());
        };
        if len > self.max_blob {
            return Err(StoreError::TooLarge {
                digest: d.to_string(),
                limit: self.max_blob,
            });
        }
        let body = r.get(&remote_name(d), None).await?;
        self.put_local(d, body).await.map(|_| ())
    }

    /// A temporary OCI image layout of one release: `oci-layout`, the release's index as
    /// `index.json`, and `blobs` linked to this store's blobs (nothing is copied).
    pub async fn layout_view(&self, index: &Digest) -> Result<tempfile::TempDir, StoreError> {
        let io = |op| move |source| StoreError::Io { op, source };
        self.fetch_tree(index).await?;
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

    /// With a bucket: fetch every blob reachable from `root` (an index or manifest) into the
    /// local cache, so that a layout view of it is whole.
    async fn fetch_tree(&self, root: &Digest) -> Result<(), StoreError> {
        if self.remote.is_none() {
            return Ok(());
        }
        let mut queue = vec![root.clone()];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(d) = queue.pop() {
            if !seen.insert(d.to_string()) {
                continue;
            }
            self.fetch(&d).await?;
            // Manifests and indexes (small JSON) name further blobs; layers are not read.
            if let Some(bytes) = self.read_small(&d, berth_oci::model::MAX_MANIFEST).await
                && let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&bytes)
            {
                queue.extend(crate::client::descriptors(&doc));
            }
        }
        Ok(())
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

/// Where support bundles are kept below the data directory (and below the bucket's prefix).
pub const SUPPORT_DIR: &str = "support-bundles";

/// A stored support bundle opened for streaming.
pub enum SupportBody {
    /// From the data directory.
    File(tokio::fs::File),
    /// From the bucket.
    Remote(std::pin::Pin<Box<dyn Stream<Item = Result<bytes::Bytes, berth_s3::Error>> + Send>>),
}

impl Store {
    fn support_dir(&self) -> std::path::PathBuf {
        self.layout.root().join(SUPPORT_DIR)
    }

    /// The file (or object) name of support bundle `id` (an id the server made: no path).
    fn support_name(id: &str) -> String {
        format!("{SUPPORT_DIR}/{id}.tar.gz")
    }

    /// Store a support bundle from a stream of chunks under `id`, refusing more than `limit`
    /// bytes and anything that does not start like a gzip file; returns its size and hex
    /// SHA-256. The body is written to a temporary file as it arrives (never held whole), then
    /// renamed into place, or uploaded to the bucket and removed. Nothing is left behind when
    /// it fails.
    pub async fn put_support_bundle<S, E>(
        &self,
        id: &str,
        body: S,
        limit: u64,
    ) -> Result<(u64, String), StoreError>
    where
        S: Stream<Item = Result<bytes::Bytes, E>>,
        E: std::fmt::Display,
    {
        use tokio::io::AsyncWriteExt as _;
        let io = |op| move |source| StoreError::Io { op, source };
        let dir = self.support_dir();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io("create the support bundle directory"))?;
        // Removed on drop unless persisted: a cut upload leaves nothing.
        let tmp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(&dir)
            .map_err(io("create a temporary support bundle"))?;
        let mut f = tokio::fs::File::from_std(
            tmp.reopen()
                .map_err(io("open a temporary support bundle"))?,
        );
        let mut hasher = berth_oci::digest::Hasher::new();
        let mut size = 0u64;
        let mut head: Vec<u8> = Vec::with_capacity(2);
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StoreError::Interrupted {
                digest: format!("support bundle {id}"),
                reason: e.to_string(),
            })?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(StoreError::BundleTooLarge { limit });
            }
            if head.len() < 2 {
                head.extend(chunk.iter().take(2 - head.len()));
                if head.len() == 2 && head != [0x1f, 0x8b] {
                    return Err(StoreError::NotABundle(
                        "the body is not a gzip file: send the .tar.gz `berth support-bundle` wrote".into(),
                    ));
                }
            }
            hasher.update(&chunk);
            f.write_all(&chunk)
                .await
                .map_err(io("write a support bundle"))?;
        }
        if head.len() < 2 {
            return Err(StoreError::NotABundle(
                "the body is empty or not a gzip file: send the .tar.gz `berth support-bundle` wrote".into(),
            ));
        }
        f.sync_all().await.map_err(io("write a support bundle"))?;
        drop(f);
        let digest = hasher.finish();
        let sha256 = digest.hex().to_string();
        match &self.remote {
            None => {
                let to = self.layout.root().join(Self::support_name(id));
                tmp.persist(&to).map_err(|e| StoreError::Io {
                    op: "move a support bundle into place",
                    source: e.error,
                })?;
            }
            Some(r) => {
                let body = berth_s3::Body::File {
                    path: tmp.path().to_path_buf(),
                    len: size,
                    sha256: Some(sha256.clone()),
                };
                r.put(&Self::support_name(id), body).await?;
                // `tmp` is removed when dropped here: the bucket holds the bundle.
            }
        }
        Ok((size, sha256))
    }

    /// Open a stored support bundle for streaming (from the data directory or the bucket).
    pub async fn open_support_bundle(&self, id: &str) -> Result<Option<SupportBody>, StoreError> {
        match &self.remote {
            None => {
                let path = self.layout.root().join(Self::support_name(id));
                match tokio::fs::File::open(&path).await {
                    Ok(f) => Ok(Some(SupportBody::File(f))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(StoreError::Io {
                        op: "open a support bundle",
                        source,
                    }),
                }
            }
            Some(r) => {
                let name = Self::support_name(id);
                if r.head(&name).await?.is_none() {
                    return Ok(None);
                }
                Ok(Some(SupportBody::Remote(Box::pin(
                    r.get(&name, None).await?,
                ))))
            }
        }
    }
}
