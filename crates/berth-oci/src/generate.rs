//! Small generated images (random layers, shared base layers, multi-platform indexes) for
//! tests, benchmarks and the demo's "vendor registry". Layers are real tar+gzip files so
//! any tool can unpack them; content is pseudo-random from a seed, so runs are repeatable.

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::model::{self, Descriptor, Platform};
use rand::{RngCore, SeedableRng};
use std::collections::BTreeMap;
use std::io::Write;

/// A gzip'd tar holding one file `data/<seed>.bin` of `size` pseudo-random bytes.
/// Gzip uses stored blocks: random data does not compress, and this keeps generation fast.
pub fn random_layer(seed: u64, size: usize) -> Result<Vec<u8>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut data = vec![0u8; size];
    rng.fill_bytes(&mut data);
    let mut tarb = tar::Builder::new(Vec::with_capacity(size + 2048));
    let mut h = tar::Header::new_ustar();
    h.set_size(size as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    tarb.append_data(&mut h, format!("data/{seed}.bin"), data.as_slice())
        .map_err(|e| Error::io("generated layer", e))?;
    let tar_bytes = tarb
        .into_inner()
        .map_err(|e| Error::io("generated layer", e))?;
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(tar_bytes.len() + 1024),
        flate2::Compression::none(),
    );
    gz.write_all(&tar_bytes)
        .map_err(|e| Error::io("generated layer", e))?;
    gz.finish().map_err(|e| Error::io("generated layer", e))
}

/// Write an image (config + the given gzip layers) into `layout`; returns its manifest
/// descriptor (not added to `index.json`).
pub fn write_image(layout: &Layout, layers: &[Vec<u8>], platform: &Platform) -> Result<Descriptor> {
    let mut layer_descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        let d = layout.put_blob(l)?;
        // diff_id = digest of the uncompressed tar.
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(l.as_slice()), &mut raw)
            .map_err(|e| Error::io("generated layer", e))?;
        diff_ids.push(Digest::of(&raw).to_string());
        layer_descs.push(Descriptor {
            media_type: model::OCI_LAYER_GZIP.into(),
            digest: d,
            size: l.len() as u64,
            platform: None,
            annotations: BTreeMap::new(),
        });
    }
    let config = serde_json::json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "config": { "Cmd": ["/bin/true"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    let cbytes = serde_json::to_vec(&config).map_err(|e| Error::json("config", e))?;
    let cd = layout.put_blob(&cbytes)?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": model::OCI_MANIFEST,
        "config": { "mediaType": model::OCI_CONFIG, "digest": cd, "size": cbytes.len() },
        "layers": layer_descs,
    });
    let mbytes = serde_json::to_vec(&manifest).map_err(|e| Error::json("manifest", e))?;
    let md = layout.put_blob(&mbytes)?;
    Ok(Descriptor {
        media_type: model::OCI_MANIFEST.into(),
        digest: md,
        size: mbytes.len() as u64,
        platform: Some(platform.clone()),
        annotations: BTreeMap::new(),
    })
}

/// Write an index over platform manifests; returns its descriptor.
pub fn write_index(layout: &Layout, manifests: &[Descriptor]) -> Result<Descriptor> {
    let idx = model::Index {
        manifests: manifests.to_vec(),
        ..model::Index::new()
    };
    let bytes = serde_json::to_vec(&idx).map_err(|e| Error::json("index", e))?;
    let d = layout.put_blob(&bytes)?;
    Ok(Descriptor {
        media_type: model::OCI_INDEX.into(),
        digest: d,
        size: bytes.len() as u64,
        platform: None,
        annotations: BTreeMap::new(),
    })
}

/// Tag an image in the layout's `index.json` (`org.opencontainers.image.ref.name`), the
/// way skopeo's `oci:DIR:NAME` addresses it.
pub fn tag(layout: &Layout, mut desc: Descriptor, name: &str) -> Result<Descriptor> {
    desc.platform = None;
    desc.annotations
        .insert(model::ANNOTATION_REF_NAME.into(), name.into());
    layout.add_entry(desc.clone())?;
    Ok(desc)
}
