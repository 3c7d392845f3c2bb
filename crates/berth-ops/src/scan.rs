//! Scanning what berth delivers: an image, a release or OCI layout, a root filesystem, or
//! the images an installed app's pods run (pulled by the digest the kubelet reports). The
//! CLI's `berth sbom` / `berth scan` call these; a console or server can too.

use crate::deploy::Target;
use crate::error::{Error, Result};
use crate::progress::{Event, Sink};
use berth_oci::client::ClientConfig;
use berth_oci::transfer::{self, NoProgress};
use berth_oci::{Client, Layout, Reference};
use berth_scan::image::{LayerCache, Limits};
use berth_scan::osv::VulnDb;
use berth_scan::report::{self, ScanReport};
use std::path::Path;

/// Scan one target: a directory (release, OCI layout or root filesystem) or an image
/// reference, pulled through `registry` into a temporary layout.
pub async fn scan_target(target: &str, db: &VulnDb, registry: ClientConfig) -> Result<ScanReport> {
    let path = Path::new(target);
    let (limits, cache) = (Limits::default(), LayerCache::new());
    if path.is_dir() {
        return report::scan_path(path, db, Some(&cache), &limits)
            .map_err(|e| Error::BadInput(e.to_string()));
    }
    if path.exists() {
        return Err(Error::BadInput(format!(
            "{target} is a file; give a release or OCI layout directory (unpack an archive with `tar -xf`), a root filesystem directory, or an image reference"
        )));
    }
    let r = Reference::parse(target).map_err(|e| {
        Error::BadInput(format!(
            "{target} is neither a directory nor an image reference: {e}"
        ))
    })?;
    let tmp =
        tempfile::tempdir().map_err(|e| Error::context("creating a temporary directory", e))?;
    let layout = Layout::create(tmp.path())?;
    let client = Client::new(registry)?;
    transfer::pull_images(&client, &[r], &layout, &[], &NoProgress)
        .await
        .map_err(|e| Error::context(format!("pulling {target}"), e))?;
    report::scan_layout(tmp.path(), db, Some(&cache), &limits)
        .map_err(|e| Error::context(format!("scanning {target}"), e))
}

/// Scan the images the pods of the target's namespace run. Each is pulled by the digest
/// that runs; when the registry no longer has it (re-tagged, garbage-collected), by the
/// spec's reference, with a warning that it may not be what runs.
pub async fn scan_namespace(
    target: &Target,
    db: &VulnDb,
    registry: ClientConfig,
    sink: &dyn Sink,
) -> Result<ScanReport> {
    let (cluster, ns) = target.connect().await?;
    let pods = cluster.list("v1", "Pod", &ns, None).await?;
    let images: std::collections::BTreeSet<report::PodImage> =
        pods.iter().flat_map(report::pod_images).collect();
    if images.is_empty() {
        return Err(Error::NotInstalled(format!(
            "no pods run in namespace {ns}; nothing to scan (is the app installed there? see `berth status -n {ns}`)"
        )));
    }
    let tmp =
        tempfile::tempdir().map_err(|e| Error::context("creating a temporary directory", e))?;
    let layout = Layout::create(tmp.path())?;
    let client = Client::new(registry)?;
    let parse =
        |r: &str| Reference::parse(r).map_err(|e| Error::BadInput(format!("pod image {r}: {e}")));
    for img in &images {
        if let Some(running) = &img.running {
            match transfer::pull_images(&client, &[parse(running)?], &layout, &[], &NoProgress).await {
                Ok(_) => continue,
                Err(e) => sink.event(Event::Warning {
                    message: format!(
                        "{running} (the digest the kubelet reported) could not be pulled ({e}); scanning {} instead, which may have moved since",
                        img.image
                    ),
                }),
            }
        }
        transfer::pull_images(&client, &[parse(&img.image)?], &layout, &[], &NoProgress)
            .await
            .map_err(|e| Error::context(format!("pulling {} (namespace {ns})", img.image), e))?;
    }
    report::scan_layout(tmp.path(), db, Some(&LayerCache::new()), &Limits::default())
        .map_err(|e| Error::context(format!("scanning the images of namespace {ns}"), e))
}
