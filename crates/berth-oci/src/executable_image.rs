//! An image made of one executable: the executable at `/berth`, plus, for a dynamically
//! linked one, its program interpreter and the shared libraries the dynamic loader resolves
//! for it. This is how a release carries berth's own mover image (docs/formats/release.md,
//! "The mover image"), so an air-gapped site can run snapshot movers without reaching the
//! vendor's registry.
//!
//! The layer is reproducible: entries sorted by path, uid/gid 0, mtime 0, no owner names, so
//! the same executable and libraries always give the same digests.

use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::model::{self, Descriptor};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the executable sits in the image.
pub const EXECUTABLE_PATH: &str = "berth";

/// One file of the image: its path inside the image and where it is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFile {
    /// Path inside the image, relative (no leading `/`).
    pub path: String,
    /// The host file read (links followed).
    pub source: PathBuf,
    /// Mode bits stored.
    pub mode: u32,
}

/// The files an image of `exe` holds: the executable, then its interpreter and libraries.
pub fn image_files(exe: &Path) -> Result<Vec<ImageFile>> {
    let mut files = vec![ImageFile {
        path: EXECUTABLE_PATH.into(),
        source: exe.to_path_buf(),
        mode: 0o755,
    }];
    for lib in shared_libraries(exe)? {
        let path = lib
            .to_str()
            .ok_or_else(|| Error::Release(format!("library path {} is not UTF-8", lib.display())))?
            .trim_start_matches('/')
            .to_string();
        if !files.iter().any(|f| f.path == path) {
            files.push(ImageFile {
                path,
                source: lib,
                mode: 0o755,
            });
        }
    }
    files[1..].sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The program interpreter and shared libraries of `exe` as the dynamic loader resolves them
/// (`ldd`); empty for a statically linked executable.
fn shared_libraries(exe: &Path) -> Result<Vec<PathBuf>> {
    let out = std::process::Command::new("ldd")
        .arg(exe)
        .output()
        .map_err(|e| {
            Error::Release(format!(
                "cannot run ldd to find the shared libraries of {} for the mover image ({e}); \
                 install libc-bin, or pass --no-mover-image",
                exe.display()
            ))
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let errs = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if text.contains("statically linked") || errs.contains("not a dynamic executable") {
            return Ok(vec![]);
        }
        return Err(Error::Release(format!(
            "ldd {} failed: {}",
            exe.display(),
            errs.trim()
        )));
    }
    parse_ldd(&text).map_err(|lib| {
        Error::Release(format!(
            "{} needs {lib}, which the dynamic loader cannot find here; the mover image would not run",
            exe.display()
        ))
    })
}

/// Paths from `ldd` output (`name => /path (addr)`, `/path (addr)`); the virtual DSO and
/// `statically linked` are skipped. Err names a library that is `not found`.
pub fn parse_ldd(text: &str) -> std::result::Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let target = match line.split_once("=>") {
            Some((name, rest)) => {
                let rest = rest.trim();
                if rest.starts_with("not found") {
                    return Err(name.trim().to_string());
                }
                rest
            }
            None => line,
        };
        let path = target.split(" (").next().unwrap_or("").trim();
        if path.starts_with('/') {
            out.push(PathBuf::from(path));
        }
    }
    Ok(out)
}

/// The OCI architecture name of the machine berth was built for.
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Writes what passes through it to `inner`, hashing it.
struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    written: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Write the image of `files` into `layout`: the gzip layer (streamed to disk, never held in
/// memory whole), the config and the manifest. Returns the manifest's descriptor (not added to
/// `index.json`).
pub fn write_image(layout: &Layout, files: &[ImageFile], version: &str) -> Result<Descriptor> {
    let (layer, diff_id) = write_layer(layout, files)?;
    let config = serde_json::json!({
        "architecture": host_architecture(),
        "os": "linux",
        "config": {
            "Entrypoint": [format!("/{EXECUTABLE_PATH}")],
            "WorkingDir": "/",
            "Labels": {"org.opencontainers.image.version": version},
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
    });
    let cbytes = serde_json::to_vec(&config).map_err(|e| Error::json("mover image config", e))?;
    let cd = layout.put_blob(&cbytes)?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": model::OCI_MANIFEST,
        "config": {"mediaType": model::OCI_CONFIG, "digest": cd, "size": cbytes.len()},
        "layers": [layer],
    });
    let mbytes =
        serde_json::to_vec(&manifest).map_err(|e| Error::json("mover image manifest", e))?;
    let md = layout.put_blob(&mbytes)?;
    Ok(Descriptor {
        media_type: model::OCI_MANIFEST.into(),
        digest: md,
        size: mbytes.len() as u64,
        platform: None,
        annotations: BTreeMap::new(),
    })
}

fn io(p: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(p, e)
}

/// The gzip'd tar of `files` as a blob of `layout`; returns its descriptor and the digest of
/// the uncompressed tar (the config's diff_id).
fn write_layer(layout: &Layout, files: &[ImageFile]) -> Result<(Descriptor, Digest)> {
    let dir = layout.blob_path(&Digest::of(b"")).with_file_name("");
    let tmp = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(&dir, e))?;
    let file = tmp
        .as_file()
        .try_clone()
        .map_err(|e| Error::io(tmp.path(), e))?;
    let gz_out = HashingWriter {
        inner: std::io::BufWriter::new(file),
        hasher: Hasher::new(),
        written: 0,
    };
    let gz = flate2::write::GzEncoder::new(gz_out, flate2::Compression::fast());
    let tar_out = HashingWriter {
        inner: gz,
        hasher: Hasher::new(),
        written: 0,
    };
    let mut tarb = tar::Builder::new(tar_out);
    for f in files {
        let mut src = std::fs::File::open(&f.source).map_err(io(&f.source))?;
        let len = src.metadata().map_err(io(&f.source))?.len();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(len);
        h.set_mode(f.mode);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        tarb.append_data(&mut h, &f.path, &mut src)
            .map_err(io(&f.source))?;
    }
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    h.set_mode(0o1777);
    h.set_mtime(0);
    tarb.append_data(&mut h, "tmp/", std::io::empty())
        .map_err(io(tmp.path()))?;
    let tar_out = tarb.into_inner().map_err(io(tmp.path()))?;
    let diff_id = tar_out.hasher.finish();
    let HashingWriter {
        inner: mut file,
        hasher,
        written: size,
    } = tar_out.inner.finish().map_err(io(tmp.path()))?;
    file.flush().map_err(io(tmp.path()))?;
    drop(file);
    let digest = hasher.finish();
    let dest = layout.blob_path(&digest);
    tmp.persist(&dest).map_err(|e| Error::io(&dest, e.error))?;
    Ok((
        Descriptor {
            media_type: model::OCI_LAYER_GZIP.into(),
            digest,
            size,
            platform: None,
            annotations: BTreeMap::new(),
        },
        diff_id,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_is_read_as_the_loader_resolves_it() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f5b)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f5a)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f5c)\n";
        assert_eq!(
            parse_ldd(text).unwrap(),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libgcc_s.so.1"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
        assert_eq!(
            parse_ldd("\tlibfoo.so.1 => not found\n"),
            Err("libfoo.so.1".to_string())
        );
        assert_eq!(parse_ldd("\tstatically linked\n"), Ok(vec![]));
    }
}
