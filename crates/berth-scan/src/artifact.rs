//! The vulnerability database as an OCI artifact (`berth vulndb push|pull`): one layer of
//! media type [`vulndb::MEDIA_TYPE`], the empty config, `artifactType` the same media type.
//! Layout: `docs/formats/vulndb.md` §4.

use crate::error::{Error, Result};
use crate::vulndb;
use berth_oci::{Client, Digest, Layout, Reference, model};
use serde_json::json;
use std::path::Path;

/// The OCI empty config (`{}`).
const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";

/// Push the database file at `db` to `target`; `scratch` is an empty directory for staging.
/// Returns the manifest digest.
pub async fn push(
    client: &Client,
    db: &Path,
    target: &Reference,
    scratch: &Path,
) -> Result<Digest> {
    let data = std::fs::read(db).map_err(|e| Error::io(db, e))?;
    if data.get(..8) != Some(vulndb::MAGIC.as_slice()) {
        return Err(Error::invalid(
            db.display().to_string(),
            "not a berth vulnerability database (build one with `berth vulndb build`)",
        ));
    }
    let layout = Layout::create(scratch)?;
    let layer = layout.put_blob(&data)?;
    let config = layout.put_blob(b"{}")?;
    let (reg, repo) = (&target.registry, &target.repository);
    for d in [&config, &layer] {
        client
            .upload_blob(reg, repo, d, &layout.blob_path(d), &|_| {})
            .await?;
    }
    let title = db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vuln.db".into());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": model::OCI_MANIFEST,
        "artifactType": vulndb::MEDIA_TYPE,
        "config": { "mediaType": EMPTY_CONFIG, "digest": config.to_string(), "size": 2 },
        "layers": [ {
            "mediaType": vulndb::MEDIA_TYPE,
            "digest": layer.to_string(),
            "size": data.len(),
            "annotations": { "org.opencontainers.image.title": title },
        } ],
    });
    let bytes =
        serde_json::to_vec(&manifest).map_err(|e| Error::invalid("manifest", e.to_string()))?;
    client
        .put_manifest(
            reg,
            repo,
            &target.manifest_ref(),
            model::OCI_MANIFEST,
            &bytes,
        )
        .await?;
    Ok(Digest::of(&bytes))
}

/// Pull the database artifact at `source` into `out` (written atomically). The caller
/// verifies it with the trusted key ([`vulndb::open`]) before using it.
pub async fn pull(client: &Client, source: &Reference, out: &Path, scratch: &Path) -> Result<()> {
    let (reg, repo) = (&source.registry, &source.repository);
    let m = client
        .get_manifest(reg, repo, &source.manifest_ref())
        .await?;
    let v: serde_json::Value = serde_json::from_slice(&m.bytes)
        .map_err(|e| Error::invalid(source.to_string(), format!("manifest is not JSON: {e}")))?;
    let layer = v["layers"]
        .as_array()
        .and_then(|ls| ls.iter().find(|l| l["mediaType"] == vulndb::MEDIA_TYPE))
        .ok_or_else(|| {
            Error::invalid(
                source.to_string(),
                format!(
                    "not a berth vulnerability database artifact (no {} layer)",
                    vulndb::MEDIA_TYPE
                ),
            )
        })?;
    let digest = Digest::parse(layer["digest"].as_str().unwrap_or_default())?;
    let size = layer["size"].as_u64().unwrap_or(u64::MAX);
    if size > vulndb::MAX_PAYLOAD {
        return Err(Error::TooLarge {
            what: format!("{source}: database layer"),
            limit: vulndb::MAX_PAYLOAD,
        });
    }
    let layout = Layout::create(scratch)?;
    let w = layout.blob_writer(&digest)?;
    client.get_blob(reg, repo, &digest, w, &|_| {}).await?;
    let data = std::fs::read(layout.blob_path(&digest)).map_err(|e| Error::io(out, e))?;
    berth_oci::layout::write_atomic(out, &data)?;
    Ok(())
}
