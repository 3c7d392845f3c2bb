//! Images in an OCI layout: each layer is streamed once (gzip, zstd or plain tar, told
//! apart by their magic bytes), only the files catalogers want are kept, and layers are
//! applied base first with OCI whiteouts (`.wh.NAME` hides NAME of lower layers,
//! `.wh..wh..opq` hides everything a lower layer put in that directory). What a layer
//! contributes depends only on its bytes, so it is cached by layer digest.

use crate::error::{Error, Result};
use crate::files::{self, FileSet};
use berth_oci::model::{self, Descriptor};
use berth_oci::{Digest, Layout};
use sha2::{Digest as _, Sha256};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

/// Safety limits against hostile layers.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest single wanted file (a dpkg status of a big system is ~3 MiB).
    pub max_file: u64,
    /// Largest sum of wanted files in one target.
    pub max_wanted_total: u64,
    /// Largest decompressed size of one layer (decompression bombs).
    pub max_layer_bytes: u64,
    /// Most entries in one layer.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file: 64 << 20,
            max_wanted_total: 512 << 20,
            max_layer_bytes: 32 << 30,
            max_entries: 4_000_000,
        }
    }
}

/// What one layer contributes to the wanted files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LayerDelta {
    /// Wanted regular files it writes.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Paths hidden by `.wh.` files.
    pub whiteouts: Vec<String>,
    /// Directories made opaque by `.wh..wh..opq`.
    pub opaque_dirs: Vec<String>,
    /// Wanted paths or symlinks replaced by something berth does not keep (a symlink,
    /// a device): they hide what lower layers had there and below.
    pub replaced: Vec<String>,
    /// Hard links at wanted paths: (path, target).
    pub links: Vec<(String, String)>,
}

impl LayerDelta {
    /// Apply this layer on top of `fs`.
    pub fn apply(&self, fs: &mut FileSet, layer: &str) {
        for d in &self.opaque_dirs {
            fs.remove_below(d);
        }
        for p in self.whiteouts.iter().chain(&self.replaced) {
            fs.remove_tree(p);
        }
        for (p, data) in &self.files {
            fs.insert(p.clone(), data.clone(), Some(layer.to_string()));
        }
        for (p, target) in &self.links {
            match fs.get(target).cloned() {
                Some(e) => fs.insert(p.clone(), e.data, Some(layer.to_string())),
                None => fs.problems.push(format!(
                    "{p} in layer {layer} is a hard link to {target}, which berth did not keep; its packages were not read"
                )),
            }
        }
    }
}

/// Layer results by digest, shared across targets (images of a release share layers).
#[derive(Debug, Default)]
pub struct LayerCache {
    map: Mutex<HashMap<String, Arc<LayerDelta>>>,
    /// Catalogs by manifest digest: an image's packages depend only on its layers, so a
    /// re-scan of a known image (a new database) skips applying and parsing them again.
    catalogs: Mutex<HashMap<String, Arc<crate::catalog::Catalog>>>,
}

impl LayerCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }
    fn get(&self, digest: &str) -> Option<Arc<LayerDelta>> {
        self.map.lock().ok()?.get(digest).cloned()
    }
    fn put(&self, digest: &str, delta: Arc<LayerDelta>) {
        if let Ok(mut m) = self.map.lock() {
            m.insert(digest.to_string(), delta);
        }
    }
    /// The catalog of a known image.
    pub fn catalog(&self, manifest: &str) -> Option<Arc<crate::catalog::Catalog>> {
        self.catalogs.lock().ok()?.get(manifest).cloned()
    }
    /// Remember the catalog of an image.
    pub fn put_catalog(&self, manifest: &str, c: Arc<crate::catalog::Catalog>) {
        if let Ok(mut m) = self.catalogs.lock() {
            m.insert(manifest.to_string(), c);
        }
    }
    /// Number of layers held.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }
    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Normalise a tar entry path: no leading `/` or `./`, no `.` parts; `..` is refused.
pub fn normalize_path(raw: &str) -> std::result::Result<String, String> {
    let mut parts = Vec::new();
    for p in raw.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                return Err(
                    "path climbs out of the layer with `..`; refusing a hostile layer".into(),
                );
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// Counts decompressed bytes and fails past the limit.
struct Bounded<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(std::io::Error::other(format!(
                "decompressed size exceeds the limit of {} bytes (a decompression bomb?)",
                self.limit
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Pick the decompressor from the first bytes.
fn decompressor<'a, R: BufRead + 'a>(mut r: R, what: &str) -> Result<Box<dyn Read + 'a>> {
    let head = r.fill_buf().map_err(|e| Error::io(what, e))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(r)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let d = zstd::stream::read::Decoder::with_buffer(r).map_err(|e| Error::io(what, e))?;
        Ok(Box::new(d))
    } else {
        Ok(Box::new(r))
    }
}

/// Read one layer (compressed or not) and keep what catalogers want.
pub fn read_layer<R: Read>(blob: R, what: &str, limits: &Limits) -> Result<LayerDelta> {
    let raw = decompressor(BufReader::with_capacity(256 << 10, blob), what)?;
    let bounded = Bounded {
        inner: raw,
        left: limits.max_layer_bytes,
        limit: limits.max_layer_bytes,
    };
    let bad = |e: std::io::Error| Error::invalid(what, format!("not a readable tar layer: {e}"));
    let mut archive = tar::Archive::new(bounded);
    let mut delta = LayerDelta::default();
    let mut kept = 0u64;
    for (n, entry) in archive.entries().map_err(bad)?.enumerate() {
        if n as u64 >= limits.max_entries {
            return Err(Error::invalid(
                what,
                format!(
                    "more than {} entries; refusing the layer",
                    limits.max_entries
                ),
            ));
        }
        let mut entry = entry.map_err(bad)?;
        let raw_path = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let path = normalize_path(&raw_path)
            .map_err(|r| Error::invalid(format!("{what}: entry {raw_path:?}"), r))?;
        if path.is_empty() {
            continue;
        }
        let (dir, base) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if base == ".wh..wh..opq" {
            delta.opaque_dirs.push(dir.to_string());
            continue;
        }
        if let Some(hidden) = base.strip_prefix(".wh.") {
            let p = if dir.is_empty() {
                hidden.to_string()
            } else {
                format!("{dir}/{hidden}")
            };
            delta.files.remove(&p);
            delta.whiteouts.push(p);
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        let want = files::wanted(&path);
        if (kind.is_file() || kind == tar::EntryType::Continuous) && want {
            let size = entry.header().size().map_err(bad)?;
            if size > limits.max_file {
                return Err(Error::TooLarge {
                    what: format!("{what}: {path}"),
                    limit: limits.max_file,
                });
            }
            kept += size;
            if kept > limits.max_wanted_total {
                return Err(Error::TooLarge {
                    what: format!("{what}: package databases"),
                    limit: limits.max_wanted_total,
                });
            }
            let mut data = Vec::with_capacity(size as usize);
            entry.read_to_end(&mut data).map_err(bad)?;
            delta.files.insert(path, data);
        } else if kind.is_hard_link() && want {
            let target = entry
                .link_name()
                .map_err(bad)?
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            let target = normalize_path(&target)
                .map_err(|r| Error::invalid(format!("{what}: link {raw_path:?}"), r))?;
            delta.links.push((path, target));
        } else if want || kind.is_symlink() {
            delta.files.remove(&path);
            delta.replaced.push(path);
        } else if kind.is_file() && crate::catalog::java::is_archive(&path) {
            let size = entry.header().size().map_err(bad)?;
            if size > crate::catalog::java::MAX_ARCHIVE {
                return Err(Error::TooLarge {
                    what: format!("{what}: {path}"),
                    limit: crate::catalog::java::MAX_ARCHIVE,
                });
            }
            let mut data = Vec::with_capacity(size as usize);
            entry.read_to_end(&mut data).map_err(bad)?;
            let sum = crate::catalog::java::summarise(&data, &path);
            kept += sum.len() as u64;
            delta.files.insert(path, sum);
        } else if kind.is_file() && is_executable_candidate(&entry) {
            // A Go or auditable Rust binary keeps only its dependency info; any other
            // executable written here hides such a binary a lower layer had at this path.
            let size = entry.header().size().map_err(bad)?;
            match read_go_binary(&mut entry, size).map_err(bad)? {
                Some(info) => {
                    kept += info.len() as u64;
                    delta.files.insert(path, info);
                }
                None => {
                    delta.files.remove(&path);
                    delta.replaced.push(path);
                }
            }
        }
    }
    // Drain the rest so the whole blob passes through the digest check.
    let mut rest = archive.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).map_err(bad)?;
    Ok(delta)
}

fn is_executable_candidate<R: Read>(entry: &tar::Entry<'_, R>) -> bool {
    let h = entry.header();
    let mode = h.mode().unwrap_or(0);
    let size = h.size().unwrap_or(0);
    mode & 0o111 != 0 && (files::MIN_GO_BINARY..=files::MAX_GO_BINARY).contains(&size)
}

/// Read an executable; `Some(kept info)` when it is a Rust binary built with cargo-auditable
/// (its `.dep-v0` dependency list) or a Go binary (its build info; an unreadable old format is
/// kept as a note the cataloger reports), `None` otherwise.
pub(crate) fn read_go_binary<R: Read>(r: &mut R, size: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = [0u8; 4];
    r.read_exact(&mut head)?;
    // ELF, Mach-O (both byte orders, 32/64) or PE: the formats Go writes.
    let exe = head == *b"\x7fELF"
        || matches!(
            u32::from_le_bytes(head),
            0xfeedface | 0xfeedfacf | 0xcefaedfe | 0xcffaedfe
        )
        || head[..2] == *b"MZ";
    if !exe {
        return Ok(None);
    }
    let mut data = Vec::with_capacity(size as usize);
    data.extend_from_slice(&head);
    r.take(size.saturating_sub(4)).read_to_end(&mut data)?;
    // A Rust binary built with cargo-auditable: its dependency list.
    if let Some(kept) = crate::catalog::lang::rust_audit(&data) {
        return Ok(Some(kept));
    }
    Ok(match crate::catalog::lang::go_buildinfo(&data) {
        Some(Ok(info)) => Some(info),
        Some(Err(note)) => {
            let mut v = crate::catalog::lang::GO_MARKER.to_vec();
            v.extend_from_slice(b"!");
            v.extend_from_slice(note.as_bytes());
            Some(v)
        }
        None => None,
    })
}

/// Hashes what passes through (the compressed blob bytes).
struct Hashing<R> {
    inner: R,
    state: Rc<RefCell<(Sha256, u64)>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut st = self.state.borrow_mut();
        st.0.update(&buf[..n]);
        st.1 += n as u64;
        Ok(n)
    }
}

/// Read a layer blob from a layout, checking its digest and size as it streams.
pub fn read_layer_blob(layout: &Layout, desc: &Descriptor, limits: &Limits) -> Result<LayerDelta> {
    let path = layout.blob_path(&desc.digest);
    let what = format!("layer {}", desc.digest);
    if desc.digest.algorithm() != "sha256" {
        return Err(Error::invalid(
            &what,
            "only sha256 layer digests are supported",
        ));
    }
    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let state = Rc::new(RefCell::new((Sha256::new(), 0u64)));
    let reader = Hashing {
        inner: file,
        state: state.clone(),
    };
    let delta = read_layer(reader, &what, limits)?;
    let (hasher, size) = state.replace((Sha256::new(), 0));
    let actual = hex::encode(hasher.finalize());
    if actual != desc.digest.hex() || size != desc.size {
        return Err(Error::invalid(
            &what,
            format!(
                "blob is corrupted: it hashes to sha256:{actual} ({size} bytes), the manifest says {} ({} bytes)",
                desc.digest, desc.size
            ),
        ));
    }
    Ok(delta)
}

/// Image config media types (anything else is an artifact, not a filesystem).
const IMAGE_CONFIGS: [&str; 2] = [
    model::OCI_CONFIG,
    "application/vnd.docker.container.image.v1+json",
];

/// The wanted files of the image whose manifest is `manifest` (layers applied in order).
pub fn image_files(
    layout: &Layout,
    manifest: &Digest,
    cache: Option<&LayerCache>,
    limits: &Limits,
) -> Result<FileSet> {
    let bytes = layout.read_manifest_blob(manifest)?;
    let m = model::parse_manifest(&format!("manifest {manifest}"), &bytes)?;
    let mut fs = FileSet::default();
    for layer in &m.layers {
        let key = layer.digest.as_str();
        let delta = match cache.and_then(|c| c.get(key)) {
            Some(d) => d,
            None => {
                let d = Arc::new(read_layer_blob(layout, layer, limits)?);
                if let Some(c) = cache {
                    c.put(key, d.clone());
                }
                d
            }
        };
        delta.apply(&mut fs, key);
    }
    Ok(fs)
}

/// One image of a layout: a display name and its manifest digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Source reference (`dev.berth.image.source`), ref name, or digest; with the
    /// platform when it came from an index.
    pub name: String,
    /// Digest of the single-image manifest.
    pub manifest: Digest,
}

/// Every image of a layout (berth releases, skopeo `oci:` layouts): index entries, with
/// multi-platform indexes expanded; the app entry of a release and artifacts skipped.
pub fn layout_images(layout: &Layout) -> Result<Vec<ImageRef>> {
    let index = layout.read_index()?;
    let mut out = Vec::new();
    for e in &index.manifests {
        if e.annotations
            .get(model::ANNOTATION_KIND)
            .map(String::as_str)
            == Some("app")
        {
            continue;
        }
        let name = e
            .annotations
            .get(model::ANNOTATION_SOURCE)
            .or_else(|| e.annotations.get(model::ANNOTATION_REF_NAME))
            .cloned()
            .unwrap_or_else(|| e.digest.to_string());
        collect(layout, e, &name, 0, &mut out)?;
    }
    Ok(out)
}

fn collect(
    layout: &Layout,
    d: &Descriptor,
    name: &str,
    depth: u32,
    out: &mut Vec<ImageRef>,
) -> Result<()> {
    if depth > 4 {
        return Err(Error::invalid(name, "indexes nested more than 4 deep"));
    }
    let bytes = layout.read_manifest_blob(&d.digest)?;
    let media = model::sniff_media_type(&bytes).unwrap_or_else(|| d.media_type.clone());
    if model::is_index(&media) {
        let idx = model::parse_index(&format!("index {}", d.digest), &bytes)?;
        for child in &idx.manifests {
            let Some(p) = &child.platform else {
                collect(layout, child, name, depth + 1, out)?;
                continue;
            };
            if p.os == "unknown" {
                continue; // build attestations, not a filesystem
            }
            let n = format!("{name} ({}/{})", p.os, p.architecture);
            collect(layout, child, &n, depth + 1, out)?;
        }
        return Ok(());
    }
    let m = model::parse_manifest(&format!("manifest {}", d.digest), &bytes)?;
    if IMAGE_CONFIGS.contains(&m.config.media_type.as_str()) {
        out.push(ImageRef {
            name: name.to_string(),
            manifest: d.digest.clone(),
        });
    }
    Ok(())
}

/// Write a one-layer image holding `files` (path, content) into `layout` and tag it `name`
/// in its index (tests, the demo, examples).
pub fn write_files_image(
    layout: &Layout,
    files: &[(&str, &[u8])],
    name: &str,
) -> Result<Descriptor> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for (p, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, p, *data)
            .map_err(|e| Error::io(format!("image {name}: {p}"), e))?;
    }
    let layer = b
        .into_inner()
        .and_then(|gz| gz.finish())
        .map_err(|e| Error::io(format!("image {name}"), e))?;
    let platform = model::Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: None,
    };
    let d = berth_oci::generate::write_image(layout, &[layer], &platform)?;
    Ok(berth_oci::generate::tag(layout, d, name)?)
}
