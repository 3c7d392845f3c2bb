//! Moving whole images: registry → OCI layout (pull) and OCI layout → registry (push).
//! Blobs move in parallel up to the client's limit, each blob once even when many images
//! share it; pushes skip what the registry already has (HEAD), mount shared layers across
//! repositories instead of uploading them again, and skip an image entirely when its tag
//! already points at the same digest, so a re-push of a pushed release costs a few requests.

use crate::client::Client;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::model::{self, Descriptor, Platform};
use crate::reference::Reference;
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::{OnceCell, Semaphore};

/// Progress reports from long transfers (the CLI draws bars; libraries stay quiet).
pub trait Progress: Send + Sync {
    /// An image starts; `total` bytes of blobs will be considered.
    fn image_start(&self, _image: &str, _total: u64) {}
    /// `n` more bytes of `image` were handled (transferred or found present).
    fn bytes(&self, _image: &str, _n: u64) {}
    /// The image is done.
    fn image_done(&self, _image: &str) {}
}

/// A [`Progress`] that reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Counters of what a transfer did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Blobs transferred.
    pub blobs_transferred: u64,
    /// Bytes transferred.
    pub bytes_transferred: u64,
    /// Blobs skipped because the destination had them.
    pub blobs_skipped: u64,
    /// Blobs mounted from another repository.
    pub blobs_mounted: u64,
    /// Images skipped because the destination tag already had the digest.
    pub images_skipped: u64,
}

#[derive(Default)]
struct Shared {
    stats: Mutex<Stats>,
    /// One cell per blob digest: the first task transfers, later ones wait and reuse.
    cells: Mutex<HashMap<Digest, Arc<OnceCell<String>>>>,
}

impl Shared {
    fn cell(&self, d: &Digest) -> Arc<OnceCell<String>> {
        let mut m = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(d.clone()).or_default().clone()
    }
    fn bump(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.stats.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// One image pulled into a layout.
#[derive(Clone, Debug)]
pub struct Pulled {
    /// The reference as given.
    pub source: Reference,
    /// The root descriptor written to the layout (manifest or index).
    pub descriptor: Descriptor,
}

/// Pull images into `layout`. With `platforms` non-empty, indexes are narrowed: one
/// match → that platform's manifest becomes the root (its digest is kept); several →
/// a new index of the matches. The layout's `index.json` gets one entry per image,
/// annotated with the source reference.
pub async fn pull_images(
    client: &Client,
    refs: &[Reference],
    layout: &Layout,
    platforms: &[Platform],
    progress: &dyn Progress,
) -> Result<(Vec<Pulled>, Stats)> {
    let shared = Shared::default();
    let sem = Semaphore::new(client.config().parallelism.max(1));
    let results: Vec<Result<Pulled>> = futures::stream::iter(refs.iter())
        .map(|r| pull_one(client, r, layout, platforms, progress, &shared, &sem))
        .buffered(client.config().parallelism.max(1))
        .collect()
        .await;
    let mut out = Vec::new();
    for r in results {
        out.push(r?);
    }
    for p in &out {
        layout.add_entry(p.descriptor.clone())?;
    }
    let stats = shared
        .stats
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Ok((out, stats))
}

async fn pull_one(
    client: &Client,
    r: &Reference,
    layout: &Layout,
    platforms: &[Platform],
    progress: &dyn Progress,
    shared: &Shared,
    sem: &Semaphore,
) -> Result<Pulled> {
    let name = r.to_string();
    let top = client
        .get_manifest(&r.registry, &r.repository, &r.manifest_ref())
        .await?;
    let mut manifests: Vec<(Descriptor, Vec<u8>)> = Vec::new();
    let root: Descriptor;
    if model::is_index(&top.media_type) {
        let idx = model::parse_index(&name, &top.bytes)?;
        let chosen: Vec<Descriptor> = if platforms.is_empty() {
            idx.manifests.clone()
        } else {
            idx.manifests
                .iter()
                .filter(|m| {
                    m.platform
                        .as_ref()
                        .is_some_and(|p| platforms.iter().any(|w| p.matches(w)))
                })
                .cloned()
                .collect()
        };
        if chosen.is_empty() {
            let available: Vec<String> = idx
                .manifests
                .iter()
                .filter_map(|m| m.platform.as_ref().map(|p| p.to_string()))
                .collect();
            return Err(Error::NoPlatform {
                reference: name,
                platform: platforms
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                available: available.join(", "),
            });
        }
        for m in &chosen {
            if !model::is_manifest_type(&m.media_type) {
                continue; // attestations and other artifacts are not images
            }
            let f = client
                .get_manifest(&r.registry, &r.repository, m.digest.as_str())
                .await?;
            manifests.push((m.clone(), f.bytes));
        }
        if platforms.is_empty() {
            layout.write_blob(&top.digest, &top.bytes)?;
            root = Descriptor {
                media_type: top.media_type.clone(),
                digest: top.digest.clone(),
                size: top.bytes.len() as u64,
                platform: None,
                annotations: Default::default(),
            };
        } else if chosen.len() == 1 {
            let mut d = chosen[0].clone();
            d.annotations.clear();
            root = d;
        } else {
            let mut narrowed = idx.clone();
            narrowed.manifests = chosen;
            let bytes = serde_json::to_vec(&narrowed).map_err(|e| Error::json(&name, e))?;
            let d = layout.put_blob(&bytes)?;
            root = Descriptor {
                media_type: model::OCI_INDEX.into(),
                digest: d,
                size: bytes.len() as u64,
                platform: None,
                annotations: Default::default(),
            };
        }
    } else {
        root = Descriptor {
            media_type: top.media_type.clone(),
            digest: top.digest.clone(),
            size: top.bytes.len() as u64,
            platform: None,
            annotations: Default::default(),
        };
        manifests.push((root.clone(), top.bytes.clone()));
    }
    // Blobs of every chosen manifest.
    let mut blobs: BTreeMap<Digest, Descriptor> = BTreeMap::new();
    for (d, bytes) in &manifests {
        let m = model::parse_manifest(d.digest.as_str(), bytes)?;
        blobs.insert(m.config.digest.clone(), m.config.clone());
        for l in m.layers {
            blobs.insert(l.digest.clone(), l);
        }
    }
    progress.image_start(&name, blobs.values().map(|b| b.size).sum());
    let tasks = blobs.values().map(|b| {
        let name = name.clone();
        async move {
            let cell = shared.cell(&b.digest);
            cell.get_or_try_init(|| async {
                if layout.has_blob(&b.digest) {
                    shared.bump(|s| s.blobs_skipped += 1);
                    return Ok::<_, Error>(String::new());
                }
                let _permit = sem
                    .acquire()
                    .await
                    .map_err(|_| Error::Usage("transfer cancelled".into()))?;
                let w = layout.blob_writer(&b.digest)?;
                client
                    .get_blob(&r.registry, &r.repository, &b.digest, w, &|n| {
                        progress.bytes(&name, n)
                    })
                    .await?;
                shared.bump(|s| {
                    s.blobs_transferred += 1;
                    s.bytes_transferred += b.size;
                });
                Ok(String::new())
            })
            .await?;
            Ok::<_, Error>(())
        }
    });
    let results: Vec<Result<()>> = futures::stream::iter(tasks)
        .buffer_unordered(64)
        .collect()
        .await;
    for r in results {
        r?;
    }
    // Manifests last, so a layout never references blobs it lacks.
    for (d, bytes) in &manifests {
        layout.write_blob(&d.digest, bytes)?;
    }
    progress.image_done(&name);
    let mut descriptor = root;
    descriptor
        .annotations
        .insert(model::ANNOTATION_SOURCE.into(), r.to_string());
    descriptor
        .annotations
        .insert(model::ANNOTATION_REF_NAME.into(), r.to_string());
    descriptor
        .annotations
        .insert(model::ANNOTATION_KIND.into(), "image".into());
    Ok(Pulled {
        source: r.clone(),
        descriptor,
    })
}

/// One image to push: a root descriptor in a layout and where it goes.
#[derive(Clone, Debug)]
pub struct PushItem {
    /// Root manifest or index in the layout.
    pub descriptor: Descriptor,
    /// Destination (registry, repository, and tag if any; the digest is kept).
    pub target: Reference,
}

/// Push images from a layout. Safe to re-run: finished images and blobs are skipped.
pub async fn push_images(
    client: &Client,
    layout: &Layout,
    items: &[PushItem],
    progress: &dyn Progress,
) -> Result<Stats> {
    let shared = Shared::default();
    let sem = Semaphore::new(client.config().parallelism.max(1));
    let results: Vec<Result<()>> = futures::stream::iter(items.iter())
        .map(|it| push_one(client, layout, it, progress, &shared, &sem))
        .buffer_unordered(client.config().parallelism.max(1))
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(shared
        .stats
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone())
}

async fn push_one(
    client: &Client,
    layout: &Layout,
    it: &PushItem,
    progress: &dyn Progress,
    shared: &Shared,
    sem: &Semaphore,
) -> Result<()> {
    let t = &it.target;
    let name = t.to_string();
    let reg = t.registry.as_str();
    let repo = t.repository.as_str();
    let all = layout.reachable(&it.descriptor)?;
    let total: u64 = all.iter().map(|d| d.size).sum();
    progress.image_start(&name, total);
    // Already there under this tag (or digest)? Then the registry has every blob too.
    let probe = t
        .tag
        .clone()
        .unwrap_or_else(|| it.descriptor.digest.to_string());
    if client.head_manifest(reg, repo, &probe).await? == Some(it.descriptor.digest.clone()) {
        shared.bump(|s| s.images_skipped += 1);
        progress.bytes(&name, total);
        progress.image_done(&name);
        return Ok(());
    }
    let (manifests, blobs): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|d| model::is_manifest_type(&d.media_type));
    let tasks = blobs.iter().map(|b| {
        let name = name.clone();
        async move {
            let _permit = sem
                .acquire()
                .await
                .map_err(|_| Error::Usage("transfer cancelled".into()))?;
            push_blob(client, layout, reg, repo, b, &name, progress, shared).await
        }
    });
    let results: Vec<Result<()>> = futures::stream::iter(tasks)
        .buffer_unordered(64)
        .collect()
        .await;
    for r in results {
        r?;
    }
    // Children before parents: `reachable` lists parents first, so go in reverse.
    for m in manifests.iter().rev() {
        let bytes = layout.read_manifest_blob(&m.digest)?;
        let is_root = m.digest == it.descriptor.digest;
        let reference = match (&t.tag, is_root) {
            (Some(tag), true) => tag.clone(),
            _ => m.digest.to_string(),
        };
        client
            .put_manifest(reg, repo, &reference, &m.media_type, &bytes)
            .await?;
        progress.bytes(&name, m.size);
    }
    progress.image_done(&name);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn push_blob(
    client: &Client,
    layout: &Layout,
    reg: &str,
    repo: &str,
    b: &Descriptor,
    name: &str,
    progress: &dyn Progress,
    shared: &Shared,
) -> Result<()> {
    // The first image to need a blob uploads it; the others wait, then mount it.
    let cell = shared.cell(&b.digest);
    let mut first = false;
    let home = cell
        .get_or_try_init(|| async {
            first = true;
            if client.has_blob(reg, repo, &b.digest).await? {
                shared.bump(|s| s.blobs_skipped += 1);
            } else {
                let path = layout.blob_path(&b.digest);
                if !path.is_file() {
                    return Err(Error::Layout {
                        path,
                        reason: format!("blob {} is missing from the layout; the release or bundle is incomplete", b.digest),
                    });
                }
                client.upload_blob(reg, repo, &b.digest, &path, &|n| progress.bytes(name, n)).await?;
                shared.bump(|s| {
                    s.blobs_transferred += 1;
                    s.bytes_transferred += b.size;
                });
                return Ok::<_, Error>(repo.to_string());
            }
            progress.bytes(name, b.size);
            Ok(repo.to_string())
        })
        .await?
        .clone();
    if first || home == repo {
        return Ok(());
    }
    if client.has_blob(reg, repo, &b.digest).await? {
        shared.bump(|s| s.blobs_skipped += 1);
    } else if client.mount_blob(reg, repo, &home, &b.digest).await? {
        shared.bump(|s| s.blobs_mounted += 1);
    } else {
        let path = layout.blob_path(&b.digest);
        client
            .upload_blob(reg, repo, &b.digest, &path, &|_| {})
            .await?;
        shared.bump(|s| {
            s.blobs_transferred += 1;
            s.bytes_transferred += b.size;
        });
    }
    progress.bytes(name, b.size);
    Ok(())
}
