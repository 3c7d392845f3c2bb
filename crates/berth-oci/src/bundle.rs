//! Air-gap bundles: one tar file carrying a release, signed with the vendor's ed25519 key.
//! Format (docs/formats/bundle.md): the first entry is `berth-bundle.json` (every file's
//! digest), the second `berth-bundle.sig`, then the release layout's files; blobs that are
//! not already compressed are stored zstd-compressed as `<hex>.zst` when that saves space.
//! A delta bundle (`--since`) leaves out blobs its base release already has.
//!
//! Reading treats the file as hostile: only the listed names are accepted (no links, no
//! directories, no `..`), the signature is checked before any content is trusted, every
//! file is hashed, decompression stops at the declared size, and extraction writes to a
//! temporary directory renamed into place only when everything checked out.

use crate::digest::{Digest, Hasher, HashingReader};
use crate::error::{Error, Result};
use crate::keys;
use crate::layout::Layout;
use crate::model;
use crate::release::{Release, ReleaseMeta};
use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Name of the manifest entry.
pub const MANIFEST_NAME: &str = "berth-bundle.json";
/// Name of the signature entry.
pub const SIGNATURE_NAME: &str = "berth-bundle.sig";
/// Largest manifest accepted.
pub const MAX_BUNDLE_MANIFEST: u64 = 64 << 20;
/// Largest single file accepted (decompressed).
pub const MAX_FILE: u64 = 64 << 30;

/// The bundle manifest (`berth-bundle.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleManifest {
    /// Format version (1).
    pub format: u32,
    /// App name.
    pub app: String,
    /// Release version.
    pub version: String,
    /// `full` or `delta`.
    pub kind: String,
    /// For a delta: the release it applies on top of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseRef>,
    /// Every file in the tar after the signature, in order.
    pub files: Vec<FileEntry>,
    /// Every blob of the complete release (a delta carries only some of them).
    pub release_blobs: Vec<Digest>,
    /// The images, for `inspect` without reading blobs.
    pub images: Vec<ImageSummary>,
}

/// The base of a delta bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseRef {
    /// App name of the base release.
    pub app: String,
    /// Version of the base release.
    pub version: String,
}

/// One file of the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path inside the release layout (`index.json`, `blobs/sha256/<hex>`).
    pub path: String,
    /// Digest of the file's content (before compression).
    pub digest: Digest,
    /// Size of the content (before compression).
    pub size: u64,
    /// `none` or `zstd` (then the tar entry is named `<path>.zst`).
    pub encoding: String,
}

/// Image summary for `inspect`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    /// Source reference.
    pub source: String,
    /// Root digest.
    pub digest: Digest,
    /// Bytes of all blobs the image uses.
    pub size: u64,
    /// Blobs the image uses (for shared-layer accounting).
    pub blobs: Vec<BlobRef>,
}

/// A blob and its size.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlobRef {
    /// Digest.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
}

/// The detached signature (`berth-bundle.sig`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureFile {
    /// Always `ed25519`.
    pub algorithm: String,
    /// [`keys::key_id`] of the signing key.
    pub key_id: String,
    /// Base64 signature over the exact bytes of `berth-bundle.json`.
    pub signature: String,
}

/// What [`create`] wrote.
#[derive(Clone, Debug)]
pub struct CreateReport {
    /// The manifest.
    pub manifest: BundleManifest,
    /// Size of the bundle file.
    pub bytes: u64,
    /// Blobs left out because the base has them.
    pub blobs_omitted: usize,
}

/// Where the base of a delta comes from.
#[derive(Clone, Debug)]
pub enum Base {
    /// A release directory.
    Release(PathBuf),
    /// A bundle file (read, not extracted; only its manifest is needed for `create`).
    Bundle(PathBuf),
}

impl Base {
    /// A release directory when `path` is a directory, else a bundle file.
    pub fn from_path(path: &Path) -> Base {
        if path.is_dir() {
            Base::Release(path.to_path_buf())
        } else {
            Base::Bundle(path.to_path_buf())
        }
    }

    fn identity_and_blobs(
        &self,
        key: Option<&VerifyingKey>,
    ) -> Result<(BaseRef, BTreeSet<Digest>)> {
        match self {
            Base::Release(dir) => {
                let r = Release::open(dir)?;
                let blobs = r.all_blobs()?.into_keys().collect();
                Ok((
                    BaseRef {
                        app: r.meta.app,
                        version: r.meta.version,
                    },
                    blobs,
                ))
            }
            Base::Bundle(p) => {
                let (m, _) = read_head(p, key)?;
                Ok((
                    BaseRef {
                        app: m.app,
                        version: m.version,
                    },
                    m.release_blobs.into_iter().collect(),
                ))
            }
        }
    }
}

fn compresses(media_type: Option<&str>) -> bool {
    media_type.is_none_or(|mt| !model::is_compressed(mt))
}

/// What a bundle carries besides the release.
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// A signed vulnerability database (`vuln.db` in the bundle; docs/formats/bundle.md).
    pub vulndb: Option<PathBuf>,
}

/// The bundle entry name of a carried vulnerability database.
pub const VULNDB_NAME: &str = "vuln.db";
/// The first bytes of a vulnerability database file (docs/formats/vulndb.md).
const VULNDB_MAGIC: &[u8; 8] = b"BERTHVDB";

/// Write a bundle of the release in `release_dir` to `out` (via a temporary file renamed
/// when complete). With `since`, a delta with only the blobs the base lacks.
pub fn create(
    release_dir: &Path,
    out: &Path,
    key: &SigningKey,
    since: Option<&Base>,
) -> Result<CreateReport> {
    create_with(release_dir, out, key, since, &Extras::default())
}

/// The digest and size of a vulnerability database to carry, after checking it is one.
fn vulndb_entry(path: &Path) -> Result<(Digest, u64)> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hr = HashingReader::new(std::io::BufReader::new(f));
    let mut magic = [0u8; 8];
    let is_db = hr.read_exact(&mut magic).is_ok() && &magic == VULNDB_MAGIC;
    if !is_db {
        return Err(Error::Usage(format!(
            "--vulndb {}: not a vulnerability database (no BERTHVDB header); give a file from `berth vulndb build` or `berth vulndb pull`",
            path.display()
        )));
    }
    std::io::copy(&mut hr, &mut std::io::sink()).map_err(|e| Error::io(path, e))?;
    Ok(hr.finish())
}

/// [`create`], with extra files such as a vulnerability database.
pub fn create_with(
    release_dir: &Path,
    out: &Path,
    key: &SigningKey,
    since: Option<&Base>,
    extras: &Extras,
) -> Result<CreateReport> {
    let rel = Release::open(release_dir)?;
    let all = rel.all_blobs()?;
    let (base, base_blobs) = match since {
        Some(b) => {
            let (id, blobs) = b.identity_and_blobs(Some(&key.verifying_key()))?;
            if id.app != rel.meta.app {
                return Err(Error::Bundle {
                    path: out.to_path_buf(),
                    reason: format!(
                        "the base is a release of app {:?}, not {:?}; give an older release of the same app",
                        id.app, rel.meta.app
                    ),
                });
            }
            (Some(id), blobs)
        }
        None => (None, BTreeSet::new()),
    };
    // Image summaries.
    let mut images = Vec::new();
    for (r, d) in &rel.images {
        let blobs = rel.layout.reachable(d)?;
        images.push(ImageSummary {
            source: r.to_string(),
            digest: d.digest.clone(),
            size: blobs.iter().map(|b| b.size).sum(),
            blobs: blobs
                .iter()
                .map(|b| BlobRef {
                    digest: b.digest.clone(),
                    size: b.size,
                })
                .collect(),
        });
    }
    // Files: oci-layout, index.json, then blobs sorted by digest.
    let index_bytes = std::fs::read(rel.layout.root().join("index.json"))
        .map_err(|e| Error::io(rel.layout.root().join("index.json"), e))?;
    let layout_path = rel.layout.root().join("oci-layout");
    let layout_bytes = std::fs::read(&layout_path).map_err(|e| Error::io(&layout_path, e))?;
    let mut plan: Vec<(String, Digest, u64, Option<String>)> = vec![
        (
            "oci-layout".into(),
            Digest::of(&layout_bytes),
            layout_bytes.len() as u64,
            None,
        ),
        (
            "index.json".into(),
            Digest::of(&index_bytes),
            index_bytes.len() as u64,
            None,
        ),
    ];
    if let Some(db) = &extras.vulndb {
        let (d, size) = vulndb_entry(db)?;
        plan.push((VULNDB_NAME.into(), d, size, None));
    }
    let mut omitted = 0;
    for (d, desc) in &all {
        if base_blobs.contains(d) {
            omitted += 1;
            continue;
        }
        plan.push((
            format!("blobs/sha256/{}", d.hex()),
            d.clone(),
            desc.size,
            Some(desc.media_type.clone()),
        ));
    }
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".bundle-partial-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    // Blobs are compressed into a scratch file first, so the manifest (written first)
    // knows each entry's encoding.
    let scratch = tempfile::Builder::new()
        .prefix(".bundle-scratch-")
        .tempdir_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    let mut sources: Vec<(String, PathBuf)> = Vec::new();
    for (path, digest, size, mt) in &plan {
        let src = match path.as_str() {
            "oci-layout" => rel.layout.root().join("oci-layout"),
            "index.json" => rel.layout.root().join("index.json"),
            VULNDB_NAME => extras.vulndb.clone().unwrap_or_default(),
            _ => rel.layout.blob_path(digest),
        };
        let mut encoding = "none".to_string();
        let mut stored = src.clone();
        if path.starts_with("blobs/") && *size > 512 && compresses(mt.as_deref()) {
            let zpath = scratch.path().join(digest.hex());
            let raw = std::fs::File::open(&src).map_err(|e| Error::io(&src, e))?;
            let zf = std::fs::File::create(&zpath).map_err(|e| Error::io(&zpath, e))?;
            let mut enc = zstd::Encoder::new(zf, 3).map_err(|e| Error::io(&zpath, e))?;
            let mut hr = HashingReader::new(std::io::BufReader::new(raw));
            std::io::copy(&mut hr, &mut enc).map_err(|e| Error::io(&zpath, e))?;
            check_source(&src, digest, *size, hr.finish())?;
            enc.finish().map_err(|e| Error::io(&zpath, e))?;
            let zlen = std::fs::metadata(&zpath)
                .map_err(|e| Error::io(&zpath, e))?
                .len();
            if zlen * 10 < *size * 9 {
                encoding = "zstd".into();
                stored = zpath;
            } else {
                let _ = std::fs::remove_file(&zpath);
            }
        }
        files.push(FileEntry {
            path: path.clone(),
            digest: digest.clone(),
            size: *size,
            encoding: encoding.clone(),
        });
        let name = if encoding == "zstd" {
            format!("{path}.zst")
        } else {
            path.clone()
        };
        sources.push((name, stored));
    }
    let manifest = BundleManifest {
        format: 1,
        app: rel.meta.app.clone(),
        version: rel.meta.version.clone(),
        kind: if base.is_some() {
            "delta".into()
        } else {
            "full".into()
        },
        base,
        files,
        release_blobs: all.keys().cloned().collect(),
        images,
    };
    let mbytes = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::json(MANIFEST_NAME, e))?;
    let sig = SignatureFile {
        algorithm: "ed25519".into(),
        key_id: keys::key_id(&key.verifying_key()),
        signature: base64::engine::general_purpose::STANDARD.encode(key.sign(&mbytes).to_bytes()),
    };
    let sbytes = serde_json::to_vec_pretty(&sig).map_err(|e| Error::json(SIGNATURE_NAME, e))?;
    {
        let w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file());
        let mut tb = tar::Builder::new(w);
        let tpath = tmp.path().to_path_buf();
        let add =
            |tb: &mut tar::Builder<_>, name: &str, data: &mut dyn Read, len: u64| -> Result<()> {
                let mut h = tar::Header::new_ustar();
                h.set_size(len);
                h.set_mode(0o644);
                h.set_mtime(0);
                h.set_entry_type(tar::EntryType::Regular);
                tb.append_data(&mut h, name, data)
                    .map_err(|e| Error::io(&tpath, e))
            };
        add(
            &mut tb,
            MANIFEST_NAME,
            &mut mbytes.as_slice(),
            mbytes.len() as u64,
        )?;
        add(
            &mut tb,
            SIGNATURE_NAME,
            &mut sbytes.as_slice(),
            sbytes.len() as u64,
        )?;
        for ((name, src), f) in sources.iter().zip(&manifest.files) {
            let file = std::fs::File::open(src).map_err(|e| Error::io(src, e))?;
            let len = file.metadata().map_err(|e| Error::io(src, e))?.len();
            let mut hr = HashingReader::new(std::io::BufReader::new(file));
            add(&mut tb, name, &mut hr, len)?;
            // Raw entries are checked here; compressed ones were checked while compressing.
            if f.encoding == "none" {
                check_source(src, &f.digest, f.size, hr.finish())?;
            }
        }
        let mut w = tb.into_inner().map_err(|e| Error::io(&tpath, e))?;
        w.flush().map_err(|e| Error::io(&tpath, e))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), e))?;
    let bytes = tmp
        .as_file()
        .metadata()
        .map_err(|e| Error::io(tmp.path(), e))?
        .len();
    tmp.persist(out).map_err(|e| Error::io(out, e.error))?;
    Ok(CreateReport {
        manifest,
        bytes,
        blobs_omitted: omitted,
    })
}

/// A release file must hash to the digest it is listed under before it is signed.
fn check_source(
    src: &Path,
    digest: &Digest,
    size: u64,
    (actual, len): (Digest, u64),
) -> Result<()> {
    if &actual != digest || len != size {
        return Err(Error::Layout {
            path: src.to_path_buf(),
            reason: format!(
                "does not match its digest {digest} (got {actual}, {len} of {size} bytes): the release directory is corrupted; build the release again"
            ),
        });
    }
    Ok(())
}

fn bundle_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Bundle {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn read_small(path: &Path, entry: &mut dyn Read, limit: u64) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    entry
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, e))?;
    if buf.len() as u64 > limit {
        return Err(bundle_err(
            path,
            "the manifest is absurdly large; the file is not a berth bundle",
        ));
    }
    Ok(buf)
}

/// Check the signature of a manifest. Returns the signing key id.
pub fn check_signature(
    path: &Path,
    manifest: &[u8],
    sig: &[u8],
    key: &VerifyingKey,
) -> Result<String> {
    let s: SignatureFile = serde_json::from_slice(sig)
        .map_err(|e| bundle_err(path, format!("{SIGNATURE_NAME} is not valid JSON ({e})")))?;
    if s.algorithm != "ed25519" {
        return Err(bundle_err(
            path,
            format!("unsupported signature algorithm {:?}", s.algorithm),
        ));
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(s.signature.trim())
        .map_err(|_| bundle_err(path, "the signature is not base64"))?;
    let sig = ed25519_dalek::Signature::from_slice(&raw)
        .map_err(|_| bundle_err(path, "the signature has the wrong length"))?;
    key.verify(manifest, &sig).map_err(|_| {
        bundle_err(
            path,
            format!(
                "bad signature: the bundle was not signed by this key (signed by key {}, given key {}) or it was modified; get the bundle and the vendor's public key again",
                s.key_id,
                keys::key_id(key)
            ),
        )
    })?;
    Ok(s.key_id)
}

/// Read and (when `key` is given) verify the manifest and signature at the head of a
/// bundle, without reading the rest.
pub fn read_head(
    path: &Path,
    key: Option<&VerifyingKey>,
) -> Result<(BundleManifest, Option<String>)> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut ar = tar::Archive::new(std::io::BufReader::new(f));
    let mut entries = ar.entries().map_err(|e| Error::io(path, e))?;
    let (mbytes, sbytes) = head_entries(path, &mut entries)?;
    let signer = match key {
        Some(k) => Some(check_signature(path, &mbytes, &sbytes, k)?),
        None => None,
    };
    let m = parse_manifest(path, &mbytes)?;
    Ok((m, signer))
}

fn head_entries<R: Read>(
    path: &Path,
    entries: &mut tar::Entries<'_, R>,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut next = |want: &str| -> Result<Vec<u8>> {
        let mut e = entries
            .next()
            .ok_or_else(|| {
                bundle_err(
                    path,
                    format!("ends before {want}: the file is truncated or not a berth bundle"),
                )
            })?
            .map_err(|e| {
                bundle_err(
                    path,
                    format!("unreadable tar ({e}): the file is truncated or corrupted"),
                )
            })?;
        let name = e.path_bytes().into_owned();
        if name != want.as_bytes() || e.header().entry_type() != tar::EntryType::Regular {
            return Err(bundle_err(
                path,
                format!(
                    "expected {want} next, found {:?}: not a berth bundle",
                    String::from_utf8_lossy(&name)
                ),
            ));
        }
        read_small(path, &mut e, MAX_BUNDLE_MANIFEST)
    };
    let m = next(MANIFEST_NAME)?;
    let s = next(SIGNATURE_NAME)?;
    Ok((m, s))
}

fn parse_manifest(path: &Path, bytes: &[u8]) -> Result<BundleManifest> {
    let m: BundleManifest = serde_json::from_slice(bytes)
        .map_err(|e| bundle_err(path, format!("{MANIFEST_NAME} is invalid ({e})")))?;
    if m.format != 1 {
        return Err(bundle_err(
            path,
            format!(
                "bundle format {} is not supported by this berth; upgrade berth",
                m.format
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    for f in &m.files {
        let ok = match f.path.as_str() {
            "oci-layout" | "index.json" | VULNDB_NAME => true,
            p => p
                .strip_prefix("blobs/sha256/")
                .is_some_and(|h| h == f.digest.hex()),
        };
        if !ok || !seen.insert(f.path.clone()) {
            return Err(bundle_err(
                path,
                format!(
                    "the manifest lists an unexpected or repeated file {:?}",
                    f.path
                ),
            ));
        }
        if f.encoding != "none" && f.encoding != "zstd" {
            return Err(bundle_err(
                path,
                format!("unknown encoding {:?} for {}", f.encoding, f.path),
            ));
        }
        if f.size > MAX_FILE {
            return Err(bundle_err(
                path,
                format!("{} claims {} bytes, over the limit", f.path, f.size),
            ));
        }
    }
    Ok(m)
}

/// Result of verifying a bundle.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The manifest.
    pub manifest: BundleManifest,
    /// Key id that signed it.
    pub key_id: String,
}

/// What to check about the bundle's identity.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    /// The app it must belong to.
    pub app: Option<String>,
}

/// Verify the signature and every file's digest. With `dest`, also extract the release
/// into `dest` (which must not exist); for a delta, `base` supplies the missing blobs.
pub fn verify(
    path: &Path,
    key: &VerifyingKey,
    expect: &Expect,
    dest: Option<&Path>,
    base: Option<&Layout>,
) -> Result<Verified> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut ar = tar::Archive::new(std::io::BufReader::with_capacity(1 << 20, f));
    let mut entries = ar.entries().map_err(|e| Error::io(path, e))?;
    let (mbytes, sbytes) = head_entries(path, &mut entries)?;
    let key_id = check_signature(path, &mbytes, &sbytes, key)?;
    let m = parse_manifest(path, &mbytes)?;
    if let Some(app) = &expect.app
        && &m.app != app
    {
        return Err(bundle_err(
            path,
            format!(
                "this bundle is for app {:?}, not {app:?}; get the bundle for {app}",
                m.app
            ),
        ));
    }
    let staging = match dest {
        Some(d) => {
            if d.exists() {
                return Err(Error::Layout {
                    path: d.to_path_buf(),
                    reason: "already exists; choose a new directory".into(),
                });
            }
            let parent = d
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            let t = tempfile::Builder::new()
                .prefix(".unbundle-partial-")
                .tempdir_in(parent)
                .map_err(|e| Error::io(parent, e))?;
            Some((Layout::create(t.path())?, t))
        }
        None => None,
    };
    let by_name: BTreeMap<String, &FileEntry> = m
        .files
        .iter()
        .map(|f| {
            (
                if f.encoding == "zstd" {
                    format!("{}.zst", f.path)
                } else {
                    f.path.clone()
                },
                f,
            )
        })
        .collect();
    let mut done = BTreeSet::new();
    for e in entries {
        let mut e = e.map_err(|e| {
            bundle_err(
                path,
                format!("unreadable tar ({e}): the file is truncated or corrupted"),
            )
        })?;
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        if e.header().entry_type() != tar::EntryType::Regular {
            return Err(bundle_err(
                path,
                format!("entry {name:?} is not a regular file (links and directories are refused)"),
            ));
        }
        let Some(fe) = by_name.get(&name) else {
            return Err(bundle_err(
                path,
                format!(
                    "entry {name:?} is not listed in the signed manifest; the bundle was tampered with"
                ),
            ));
        };
        if !done.insert(name.clone()) {
            return Err(bundle_err(path, format!("entry {name:?} appears twice")));
        }
        let mut sink: Box<dyn Write> = match &staging {
            Some((l, _)) => {
                let p = l.root().join(&fe.path);
                Box::new(std::io::BufWriter::new(
                    std::fs::File::create(&p).map_err(|e| Error::io(&p, e))?,
                ))
            }
            None => Box::new(std::io::sink()),
        };
        let mut hasher = Hasher::new();
        let mut total = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        let mut reader: Box<dyn Read> = if fe.encoding == "zstd" {
            Box::new(zstd::Decoder::new(&mut e).map_err(|e| Error::io(path, e))?)
        } else {
            Box::new(&mut e)
        };
        loop {
            let n = reader.read(&mut buf).map_err(|err| {
                if err.kind() == std::io::ErrorKind::UnexpectedEof
                    || err.kind() == std::io::ErrorKind::Other
                {
                    bundle_err(
                        path,
                        format!("{name}: content is truncated or corrupted ({err})"),
                    )
                } else {
                    Error::io(path, err)
                }
            })?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > fe.size {
                return Err(bundle_err(
                    path,
                    format!(
                        "{name}: content is larger than the {} bytes the manifest declares",
                        fe.size
                    ),
                ));
            }
            hasher.update(&buf[..n]);
            sink.write_all(&buf[..n])
                .map_err(|e| Error::io(dest.unwrap_or(path), e))?;
        }
        sink.flush()
            .map_err(|e| Error::io(dest.unwrap_or(path), e))?;
        if total < fe.size {
            return Err(bundle_err(
                path,
                format!(
                    "{name}: only {total} of {} bytes: the bundle is truncated; copy it again",
                    fe.size
                ),
            ));
        }
        let actual = hasher.finish();
        if actual != fe.digest || total != fe.size {
            return Err(Error::DigestMismatch {
                what: format!("{} in bundle {}", fe.path, path.display()),
                expected: fe.digest.to_string(),
                actual: actual.to_string(),
            });
        }
    }
    if done.len() != by_name.len() {
        let missing: Vec<&String> = by_name
            .keys()
            .filter(|k| !done.contains(*k))
            .take(3)
            .collect();
        return Err(bundle_err(
            path,
            format!("the bundle is truncated: missing {missing:?} listed in the manifest"),
        ));
    }
    // A delta needs its base for everything it left out.
    let included: BTreeSet<&Digest> = m.files.iter().map(|f| &f.digest).collect();
    let lacking: Vec<&Digest> = m
        .release_blobs
        .iter()
        .filter(|d| !included.contains(d))
        .collect();
    if let Some((layout, tmp)) = staging {
        if !lacking.is_empty() {
            let b = base.ok_or_else(|| {
                bundle_err(
                    path,
                    format!(
                        "this is a delta bundle on top of {} {}: give the base release or bundle with --base",
                        m.base.as_ref().map(|b| b.app.as_str()).unwrap_or("?"),
                        m.base.as_ref().map(|b| b.version.as_str()).unwrap_or("?")
                    ),
                )
            })?;
            for d in &lacking {
                if !b.has_blob(d) {
                    return Err(bundle_err(
                        path,
                        format!(
                            "the base does not contain blob {d} that this delta needs; give the release it was built against"
                        ),
                    ));
                }
                let src = b.blob_path(d);
                let data = b
                    .read_blob(d)
                    .map_err(|e| bundle_err(&src, format!("base blob unusable: {e}")))?;
                layout.write_blob(d, &data)?;
            }
        }
        // Everything the index reaches must be present now.
        Release::open(layout.root())?.all_blobs()?;
        let d = dest.unwrap_or(path);
        std::fs::rename(tmp.path(), d).map_err(|e| Error::io(d, e))?;
        let _ = tmp.keep();
    }
    Ok(Verified {
        manifest: m,
        key_id,
    })
}

/// `inspect` figures: images and sizes, and what sharing layers saves.
#[derive(Clone, Debug, Serialize)]
pub struct Inspection {
    /// App.
    pub app: String,
    /// Version.
    pub version: String,
    /// `full` or `delta`.
    pub kind: String,
    /// Base of a delta.
    pub base: Option<BaseRef>,
    /// Images with their sizes.
    pub images: Vec<ImageSummary>,
    /// Sum of each image's size, as if each were archived alone.
    pub sum_of_images: u64,
    /// Bytes of distinct blobs in the release.
    pub unique_bytes: u64,
    /// Size of the bundle file.
    pub file_bytes: u64,
    /// Whether the signature was checked, and by which key.
    pub signed_by: Option<String>,
    /// Size of the vulnerability database the bundle carries, if any.
    pub vulndb_bytes: Option<u64>,
}

/// Summarise a bundle from its manifest (and check the signature when a key is given).
pub fn inspect(path: &Path, key: Option<&VerifyingKey>) -> Result<Inspection> {
    let (m, signed_by) = read_head(path, key)?;
    let unique_bytes = m
        .images
        .iter()
        .flat_map(|i| i.blobs.iter())
        .collect::<BTreeSet<_>>()
        .iter()
        .map(|b| b.size)
        .sum::<u64>();
    let file_bytes = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    Ok(Inspection {
        app: m.app.clone(),
        version: m.version.clone(),
        kind: m.kind.clone(),
        base: m.base.clone(),
        sum_of_images: m.images.iter().map(|i| i.size).sum(),
        images: m.images,
        unique_bytes,
        file_bytes,
        signed_by,
        vulndb_bytes: m
            .files
            .iter()
            .find(|f| f.path == VULNDB_NAME)
            .map(|f| f.size),
    })
}

/// The release metadata of a verified, extracted bundle.
pub fn meta_of(dir: &Path) -> Result<ReleaseMeta> {
    Ok(Release::open(dir)?.meta)
}
