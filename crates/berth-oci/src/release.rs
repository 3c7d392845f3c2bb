//! A release: one OCI image layout holding the app definition (berth.yaml, charts,
//! rendered manifests), a metadata document, and every image the app runs, pinned by
//! digest, with blobs shared across images. Format: docs/formats/release.md.

use crate::client::Client;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::model::{self, Descriptor, Platform};
use crate::reference::Reference;
use crate::relocate::{self, ImageUse};
use crate::transfer::{self, Progress, Stats};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Artifact type of the app entry in a release layout.
pub const APP_ARTIFACT_TYPE: &str = "application/vnd.berth.app.v1";
/// Media type of the release metadata (the app entry's config).
pub const RELEASE_META_TYPE: &str = "application/vnd.berth.release.v1+json";
/// Media type of a file of the app definition (a layer of the app entry).
pub const APP_FILE_TYPE: &str = "application/vnd.berth.file.v1";
/// Annotation with a file's path inside the app definition.
pub const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";

/// Metadata of a release (the app entry's config blob).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseMeta {
    /// Format version (1).
    pub format: u32,
    /// App name.
    pub app: String,
    /// Release version (semver).
    pub version: String,
    /// Every image with its source reference and the digest it was resolved to.
    pub images: Vec<ReleaseImage>,
}

/// One image of a release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseImage {
    /// Source reference as written in the app (normalised).
    pub source: String,
    /// Digest of the root manifest or index stored in the release.
    pub digest: Digest,
    /// Media type of that root.
    pub media_type: String,
}

/// What goes into a release.
#[derive(Clone, Debug, Default)]
pub struct ReleaseInput {
    /// App name (lowercase, as in berth.yaml).
    pub app: String,
    /// Version, `X.Y.Z`.
    pub version: String,
    /// Files of the app definition: (relative path, content).
    pub files: Vec<(String, Vec<u8>)>,
    /// Rendered objects, scanned for images.
    pub objects: Vec<serde_json::Value>,
    /// Extra images (`images:` in berth.yaml, images used by checks).
    pub extra_images: Vec<String>,
    /// Platforms to keep from multi-platform images (empty = all).
    pub platforms: Vec<Platform>,
    /// Paths the app definition references (berth.yaml, charts, manifests, check files):
    /// the build refuses to write a release that lacks any of them.
    pub references: Vec<AppReference>,
    /// Images made here from an executable (berth's own mover image), not pulled.
    pub executable_images: Vec<ExecutableImage>,
}

/// An image a release build makes from an executable ([`crate::executable_image`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutableImage {
    /// The reference it is stored and relocated under.
    pub reference: String,
    /// The executable.
    pub executable: std::path::PathBuf,
    /// Its version (the image's `org.opencontainers.image.version` label).
    pub version: String,
}

/// A path that berth.yaml references, which a release must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppReference {
    /// Where berth.yaml names it, e.g. `spec.components[0].chart.path`.
    pub field: String,
    /// The path relative to the app directory: a file, or a directory that must hold files.
    pub path: String,
}

/// The first reference that the app file paths `files` do not hold (neither the file nor
/// any file under the directory), as an error naming the field.
pub fn check_references(files: &[&str], refs: &[AppReference]) -> Result<()> {
    for r in refs {
        let dir = format!("{}/", r.path.trim_end_matches('/'));
        let held = files.iter().any(|p| *p == r.path || p.starts_with(&dir));
        if !held {
            return Err(Error::Release(format!(
                "{} names `{}`, but the release would not contain it; \
                 the release was not written (is it a link, a hidden file or empty?)",
                r.field, r.path
            )));
        }
    }
    Ok(())
}

/// Read the files of the app directory `dir` for a release, as (relative path, content).
///
/// Symbolic links that stay inside the app are followed deliberately: the release stores
/// the file they lead to under the link's own path (a release holds no links). A link that
/// leads outside the app, or nowhere, is refused with its path, as is any other special
/// file: a release is complete or not written. Skipped: hidden files and directories
/// (`.git`, editor files) except `.helmignore`, which decides what a chart holds, and
/// release directories and bundles written into the app directory (`*.release`, `*.bundle`).
pub fn collect_app_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let root = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    let mut on_path = Vec::new();
    collect_dir(&root, &root, "", &mut on_path, &mut files)?;
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

fn collect_dir(
    root: &Path,
    real: &Path,
    rel: &str,
    on_path: &mut Vec<std::path::PathBuf>,
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<()> {
    // A link back to a directory being walked would repeat forever.
    if on_path.iter().any(|p| p == real) || on_path.len() > 64 {
        return Err(Error::Release(format!(
            "app directory `{rel}` is a link loop back into itself; replace the link with files"
        )));
    }
    on_path.push(real.to_path_buf());
    let mut entries: Vec<_> = std::fs::read_dir(real)
        .map_err(|e| Error::io(real, e))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io(real, e))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name != ".helmignore" {
            continue;
        }
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let ft = e.file_type().map_err(|err| Error::io(e.path(), err))?;
        let target = if ft.is_symlink() {
            match e.path().canonicalize() {
                Ok(t) if t.starts_with(root) => t,
                Ok(t) => {
                    return Err(Error::Release(format!(
                        "app file `{path}` is a link to {} outside the app directory; \
                         copy the files into the app instead of linking to them",
                        t.display()
                    )));
                }
                Err(err) => {
                    return Err(Error::Release(format!(
                        "app file `{path}` is a link that leads nowhere ({err}); fix or remove it"
                    )));
                }
            }
        } else {
            e.path()
        };
        let meta = std::fs::metadata(&target).map_err(|err| Error::io(&target, err))?;
        let output = if meta.is_dir() { ".release" } else { ".bundle" };
        if name.ends_with(output) {
            continue;
        }
        if meta.is_dir() {
            collect_dir(root, &target, &path, on_path, out)?;
        } else if meta.is_file() {
            let data = std::fs::read(&target).map_err(|err| Error::io(&target, err))?;
            out.push((path, data));
        } else {
            return Err(Error::Release(format!(
                "app file `{path}` is not a regular file or directory; remove it"
            )));
        }
    }
    on_path.pop();
    Ok(())
}

/// The distinct images to include: from pod specs and the extras, normalised and sorted.
/// Pure; this is what `release build --dry-run` prints.
pub fn plan_images(
    objects: &[serde_json::Value],
    extras: &[String],
) -> Result<(Vec<Reference>, Vec<ImageUse>)> {
    let uses = relocate::collect_images(objects);
    let mut set = BTreeSet::new();
    for u in &uses {
        let r = Reference::parse(&u.image)
            .map_err(|e| Error::Release(format!("{} at {}: {e}", u.object, u.path)))?;
        set.insert(r);
    }
    for x in extras {
        set.insert(
            Reference::parse(x).map_err(|e| Error::Release(format!("images: entry {x:?}: {e}")))?,
        );
    }
    Ok((set.into_iter().collect(), uses))
}

fn valid_app(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn check_version(v: &str) -> Result<()> {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3
        || !parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(Error::Release(format!(
            "version {v:?} is not X.Y.Z (semver); pass --version 1.2.3"
        )));
    }
    Ok(())
}

fn check_rel_path(p: &str) -> Result<()> {
    let bad = p.is_empty()
        || p.starts_with('/')
        || p.contains('\\')
        || p.split('/').any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(Error::Release(format!(
            "app file path {p:?} must be relative without '..'"
        )));
    }
    Ok(())
}

/// Build a release into `out` (a new directory; written as `out.partial-*` and renamed
/// when complete). Pulls every image from its registry.
pub async fn build(
    client: &Client,
    input: &ReleaseInput,
    out: &Path,
    progress: &dyn Progress,
) -> Result<(ReleaseMeta, Stats)> {
    if !valid_app(&input.app) {
        return Err(Error::Release(format!(
            "app name {:?} must be lowercase letters, digits and '-'",
            input.app
        )));
    }
    check_version(&input.version)?;
    for (p, _) in &input.files {
        check_rel_path(p)?;
    }
    let paths: Vec<&str> = input.files.iter().map(|(p, _)| p.as_str()).collect();
    check_references(&paths, &input.references)?;
    if out.exists() {
        return Err(Error::Layout {
            path: out.to_path_buf(),
            reason: "already exists; remove it or choose another --out".into(),
        });
    }
    let (refs, _) = plan_images(&input.objects, &input.extra_images)?;
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".release-partial-")
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    let layout = Layout::create(tmp.path())?;
    let (pulled, stats) =
        transfer::pull_images(client, &refs, &layout, &input.platforms, progress).await?;
    let mut images: Vec<ReleaseImage> = pulled
        .iter()
        .map(|p| ReleaseImage {
            source: p.source.to_string(),
            digest: p.descriptor.digest.clone(),
            media_type: p.descriptor.media_type.clone(),
        })
        .collect();
    for e in &input.executable_images {
        images.push(write_executable_image(&layout, e)?);
    }
    let meta = ReleaseMeta {
        format: 1,
        app: input.app.clone(),
        version: input.version.clone(),
        images,
    };
    write_app_entry(&layout, &meta, &input.files)?;
    std::fs::rename(tmp.path(), out).map_err(|e| Error::io(out, e))?;
    // The directory was renamed away; forget the TempDir so drop does not delete `out`.
    let _ = tmp.keep();
    Ok((meta, stats))
}

/// Make an image of an executable in `layout` and list it in `index.json` like a pulled one.
fn write_executable_image(layout: &Layout, e: &ExecutableImage) -> Result<ReleaseImage> {
    let source = Reference::parse(&e.reference)?;
    let files = crate::executable_image::image_files(&e.executable)?;
    let mut d = crate::executable_image::write_image(layout, &files, &e.version)?;
    for (k, v) in [
        (model::ANNOTATION_SOURCE, source.to_string()),
        (model::ANNOTATION_REF_NAME, source.to_string()),
        (model::ANNOTATION_KIND, "image".to_string()),
    ] {
        d.annotations.insert(k.into(), v);
    }
    layout.add_entry(d.clone())?;
    Ok(ReleaseImage {
        source: source.to_string(),
        digest: d.digest,
        media_type: d.media_type,
    })
}

/// Write the app entry (metadata + app files) into a layout's index.
pub fn write_app_entry(
    layout: &Layout,
    meta: &ReleaseMeta,
    files: &[(String, Vec<u8>)],
) -> Result<Descriptor> {
    let meta_bytes =
        serde_json::to_vec_pretty(meta).map_err(|e| Error::json("release metadata", e))?;
    let meta_d = layout.put_blob(&meta_bytes)?;
    let mut layers = Vec::new();
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, data) in sorted {
        let d = layout.put_blob(data)?;
        let mut annotations = BTreeMap::new();
        annotations.insert(ANNOTATION_TITLE.to_string(), path.clone());
        layers.push(Descriptor {
            media_type: APP_FILE_TYPE.into(),
            digest: d,
            size: data.len() as u64,
            platform: None,
            annotations,
        });
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": model::OCI_MANIFEST,
        "artifactType": APP_ARTIFACT_TYPE,
        "config": { "mediaType": RELEASE_META_TYPE, "digest": meta_d, "size": meta_bytes.len() },
        "layers": layers,
        "annotations": { "org.opencontainers.image.version": meta.version, "dev.berth.app": meta.app },
    });
    let mbytes = serde_json::to_vec(&manifest).map_err(|e| Error::json("app manifest", e))?;
    let md = layout.put_blob(&mbytes)?;
    let mut annotations = BTreeMap::new();
    annotations.insert(
        model::ANNOTATION_REF_NAME.to_string(),
        format!("berth-app:{}", meta.version),
    );
    annotations.insert(model::ANNOTATION_KIND.to_string(), "app".to_string());
    let desc = Descriptor {
        media_type: model::OCI_MANIFEST.into(),
        digest: md,
        size: mbytes.len() as u64,
        platform: None,
        annotations,
    };
    layout.add_entry(desc.clone())?;
    Ok(desc)
}

/// A release read back from a layout.
#[derive(Clone, Debug)]
pub struct Release {
    /// The layout.
    pub layout: Layout,
    /// Its metadata.
    pub meta: ReleaseMeta,
    /// Image entries of index.json (source reference → descriptor).
    pub images: Vec<(Reference, Descriptor)>,
    /// App files: path → descriptor.
    pub files: Vec<(String, Descriptor)>,
}

impl Release {
    /// Open a release layout and check that its metadata and index agree.
    pub fn open(dir: &Path) -> Result<Release> {
        let layout = Layout::open(dir)?;
        let index = layout.read_index()?;
        let app = index
            .manifests
            .iter()
            .find(|m| {
                m.annotations
                    .get(model::ANNOTATION_KIND)
                    .map(String::as_str)
                    == Some("app")
            })
            .ok_or_else(|| Error::Layout {
                path: dir.to_path_buf(),
                reason: "no app entry in index.json: not a berth release".into(),
            })?;
        let mbytes = layout.read_manifest_blob(&app.digest)?;
        let m = model::parse_manifest("app manifest", &mbytes)?;
        let meta_bytes = layout.read_manifest_blob(&m.config.digest)?;
        let meta: ReleaseMeta =
            serde_json::from_slice(&meta_bytes).map_err(|e| Error::json("release metadata", e))?;
        let files: Vec<(String, Descriptor)> = m
            .layers
            .iter()
            .map(|l| {
                (
                    l.annotations
                        .get(ANNOTATION_TITLE)
                        .cloned()
                        .unwrap_or_default(),
                    l.clone(),
                )
            })
            .collect();
        // App file paths are written to disk by whoever installs from the release: each must
        // be relative, inside the app, and given once.
        let mut seen = BTreeSet::new();
        for (p, _) in &files {
            check_rel_path(p).map_err(|_| Error::Layout {
                path: dir.to_path_buf(),
                reason: format!("app file path {p:?} is not a relative path inside the app"),
            })?;
            if !seen.insert(p.as_str()) {
                return Err(Error::Layout {
                    path: dir.to_path_buf(),
                    reason: format!("app file {p:?} appears twice"),
                });
            }
        }
        let mut images = Vec::new();
        for e in &index.manifests {
            if e.annotations
                .get(model::ANNOTATION_KIND)
                .map(String::as_str)
                != Some("image")
            {
                continue;
            }
            let src = e
                .annotations
                .get(model::ANNOTATION_SOURCE)
                .ok_or_else(|| Error::Layout {
                    path: dir.to_path_buf(),
                    reason: format!(
                        "image entry {} has no {} annotation",
                        e.digest,
                        model::ANNOTATION_SOURCE
                    ),
                })?;
            images.push((Reference::parse(src)?, e.clone()));
        }
        for img in &meta.images {
            if !images
                .iter()
                .any(|(r, d)| r.to_string() == img.source && d.digest == img.digest)
            {
                return Err(Error::Layout {
                    path: dir.to_path_buf(),
                    reason: format!(
                        "metadata lists {} @ {} but index.json does not",
                        img.source, img.digest
                    ),
                });
            }
        }
        Ok(Release {
            layout,
            meta,
            images,
            files,
        })
    }

    /// Read one app file by path.
    pub fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match self.files.iter().find(|(p, _)| p == path) {
            Some((_, d)) => Ok(Some(self.layout.read_blob(&d.digest)?)),
            None => Ok(None),
        }
    }

    /// Write every app file under `dir` (an install renders the signed files, not a local copy).
    /// Paths are checked again here, so a `Release` built some other way cannot write outside.
    pub fn write_app_files(&self, dir: &Path) -> Result<()> {
        if self.files.is_empty() {
            return Err(Error::Layout {
                path: self.layout.root().to_path_buf(),
                reason: "the release holds no app files (berth.yaml, charts): rebuild it with `berth release build APP_DIR`".into(),
            });
        }
        for (path, d) in &self.files {
            check_rel_path(path).map_err(|_| Error::Layout {
                path: self.layout.root().to_path_buf(),
                reason: format!(
                    "app file {path:?} is not a relative path inside the app; the release is damaged or hostile"
                ),
            })?;
            let data = self.layout.read_blob(&d.digest)?;
            let to = dir.join(path);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            std::fs::write(&to, data).map_err(|e| Error::io(&to, e))?;
        }
        Ok(())
    }

    /// Every blob the release needs (all index entries and what they reach).
    pub fn all_blobs(&self) -> Result<BTreeMap<Digest, Descriptor>> {
        let index = self.layout.read_index()?;
        let mut out = BTreeMap::new();
        for e in &index.manifests {
            for d in self.layout.reachable(e)? {
                out.entry(d.digest.clone()).or_insert(d);
            }
        }
        Ok(out)
    }

    /// The relocation mapping of this release's images to `target`.
    pub fn mapping(&self, target: &relocate::Target) -> relocate::Mapping {
        relocate::Mapping::new(target, self.images.iter().map(|(r, d)| (r, &d.digest)))
    }

    /// What `bundle push` pushes: each image to its mapped place, tag kept.
    pub fn push_items(&self, target: &relocate::Target) -> Vec<transfer::PushItem> {
        self.images
            .iter()
            .map(|(r, d)| {
                let mut t = target.map(r);
                t.digest = None;
                let mut desc = d.clone();
                desc.annotations.clear();
                transfer::PushItem {
                    descriptor: desc,
                    target: t,
                }
            })
            .collect()
    }
}
