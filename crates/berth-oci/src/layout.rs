//! OCI image layout on disk (`oci-layout`, `index.json`, `blobs/sha256/<hex>`): the format
//! skopeo, crane and oras read and write. Blobs are content-addressed, so every image in one
//! layout shares its layers. Writes go to a temporary file in the same directory and are
//! renamed into place only after the digest checks out: a crash or a full disk never
//! leaves a blob that looks complete but is not.

use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::model::{self, Descriptor, Index};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Contents of the `oci-layout` file.
pub const OCI_LAYOUT_FILE: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// An OCI image layout directory.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// Create (or reuse) a layout at `root`.
    pub fn create(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let blobs = root.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs).map_err(|e| Error::io(&blobs, e))?;
        let marker = root.join("oci-layout");
        if !marker.exists() {
            write_atomic(&marker, OCI_LAYOUT_FILE.as_bytes())?;
        }
        let l = Layout { root };
        if !l.root.join("index.json").exists() {
            l.write_index(&Index::new())?;
        }
        Ok(l)
    }

    /// Open an existing layout, checking the `oci-layout` marker.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let marker = root.join("oci-layout");
        let text = std::fs::read_to_string(&marker).map_err(|e| Error::Layout {
            path: marker.clone(),
            reason: format!("not an OCI image layout ({e}); give a directory written by `berth release build` or `skopeo copy ... oci:DIR`"),
        })?;
        if !text.contains("imageLayoutVersion") {
            return Err(Error::Layout {
                path: marker,
                reason: "the oci-layout file has no imageLayoutVersion".into(),
            });
        }
        Ok(Layout { root })
    }

    /// The layout directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of a blob.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs").join(d.algorithm()).join(d.hex())
    }

    /// Whether the blob is present (size is not checked here).
    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    /// Read a blob and verify its digest.
    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>> {
        let p = self.blob_path(d);
        let data = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        d.verify(&p.display().to_string(), &data)?;
        Ok(data)
    }

    /// Read a manifest or index blob, refusing absurd sizes.
    pub fn read_manifest_blob(&self, d: &Digest) -> Result<Vec<u8>> {
        let p = self.blob_path(d);
        let len = std::fs::metadata(&p).map_err(|e| Error::io(&p, e))?.len();
        if len > model::MAX_MANIFEST {
            return Err(Error::TooLarge {
                what: p.display().to_string(),
                limit: model::MAX_MANIFEST,
            });
        }
        self.read_blob(d)
    }

    /// Write a blob whose digest is known; skipped when present.
    pub fn write_blob(&self, d: &Digest, data: &[u8]) -> Result<()> {
        d.verify("blob being written", data)?;
        let p = self.blob_path(d);
        if p.is_file() {
            return Ok(());
        }
        write_atomic(&p, data)
    }

    /// Write bytes as a blob, returning its digest.
    pub fn put_blob(&self, data: &[u8]) -> Result<Digest> {
        let d = Digest::of(data);
        self.write_blob(&d, data)?;
        Ok(d)
    }

    /// Start writing a blob in pieces (verified and renamed by [`BlobWriter::commit`]).
    pub fn blob_writer(&self, expected: &Digest) -> Result<BlobWriter> {
        let dir = self.root.join("blobs").join("sha256");
        let tmp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(&dir)
            .map_err(|e| Error::io(&dir, e))?;
        Ok(BlobWriter {
            tmp,
            hasher: Hasher::new(),
            expected: expected.clone(),
            dest: self.blob_path(expected),
            written: 0,
            buf: Vec::with_capacity(BUF),
        })
    }

    /// Read `index.json`.
    pub fn read_index(&self) -> Result<Index> {
        let p = self.root.join("index.json");
        let data = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        model::parse_index(&p.display().to_string(), &data)
    }

    /// Replace `index.json` atomically.
    pub fn write_index(&self, index: &Index) -> Result<()> {
        let p = self.root.join("index.json");
        let data = serde_json::to_vec_pretty(index).map_err(|e| Error::json("index.json", e))?;
        write_atomic(&p, &data)
    }

    /// Add (or replace, by ref name) an entry in `index.json`.
    pub fn add_entry(&self, desc: Descriptor) -> Result<()> {
        let mut idx = self.read_index()?;
        let name = desc.annotations.get(model::ANNOTATION_REF_NAME).cloned();
        idx.manifests.retain(|m| {
            name.is_none() || m.annotations.get(model::ANNOTATION_REF_NAME) != name.as_ref()
        });
        idx.manifests.push(desc);
        self.write_index(&idx)
    }

    /// Every blob reachable from `root` (the root itself, child manifests, configs,
    /// layers), each once, in a stable order.
    pub fn reachable(&self, root: &Descriptor) -> Result<Vec<Descriptor>> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        self.walk(root, &mut out, &mut seen)?;
        Ok(out)
    }

    fn walk(
        &self,
        d: &Descriptor,
        out: &mut Vec<Descriptor>,
        seen: &mut BTreeSet<Digest>,
    ) -> Result<()> {
        if !seen.insert(d.digest.clone()) {
            return Ok(());
        }
        out.push(d.clone());
        if model::is_index(&d.media_type) {
            let data = self.read_manifest_blob(&d.digest)?;
            let idx = model::parse_index(d.digest.as_str(), &data)?;
            for m in &idx.manifests {
                self.walk(m, out, seen)?;
            }
        } else if model::is_manifest_type(&d.media_type) {
            let data = self.read_manifest_blob(&d.digest)?;
            let m = model::parse_manifest(d.digest.as_str(), &data)?;
            self.walk(&m.config, out, seen)?;
            for l in &m.layers {
                self.walk(l, out, seen)?;
            }
        }
        Ok(())
    }

    /// All blob digests present in the layout.
    pub fn list_blobs(&self) -> Result<BTreeSet<Digest>> {
        let dir = self.root.join("blobs").join("sha256");
        let mut out = BTreeSet::new();
        for e in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let e = e.map_err(|e| Error::io(&dir, e))?;
            if let Some(name) = e.file_name().to_str()
                && let Ok(d) = Digest::parse(&format!("sha256:{name}"))
            {
                out.insert(d);
            }
        }
        Ok(out)
    }
}

/// A blob being written in pieces; dropped without [`commit`](Self::commit) it leaves nothing.
pub struct BlobWriter {
    tmp: tempfile::NamedTempFile,
    hasher: Hasher,
    expected: Digest,
    dest: PathBuf,
    written: u64,
    buf: Vec<u8>,
}

const BUF: usize = 1 << 20;

impl BlobWriter {
    /// Append bytes (buffered; network reads arrive in small pieces).
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        self.hasher.update(data);
        self.written += data.len() as u64;
        if self.buf.len() + data.len() > BUF {
            self.flush()?;
        }
        if data.len() >= BUF {
            return self
                .tmp
                .write_all(data)
                .map_err(|e| Error::io(self.tmp.path(), e));
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.tmp
                .write_all(&self.buf)
                .map_err(|e| Error::io(self.tmp.path(), e))?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Verify the digest, flush to disk and move the blob into place.
    pub fn commit(mut self) -> Result<()> {
        self.flush()?;
        let actual = self.hasher.finish();
        if actual != self.expected {
            return Err(Error::DigestMismatch {
                what: self.dest.display().to_string(),
                expected: self.expected.to_string(),
                actual: actual.to_string(),
            });
        }
        self.tmp
            .as_file()
            .sync_data()
            .map_err(|e| Error::io(self.tmp.path(), e))?;
        self.tmp
            .persist(&self.dest)
            .map_err(|e| Error::io(&self.dest, e.error))?;
        Ok(())
    }
}

/// Write a file via a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(data).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_data().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}
