//! The vulnerability database file (`vuln.db`): advisories from public sources in one
//! compact, versioned, ed25519-signed file with a checksum, so a disconnected site can scan
//! and knows the data is the vendor's and whole. Format: `docs/formats/vulndb.md`.

use crate::error::{Error, Result};
use crate::osv::{Record, VulnDb};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

/// First bytes of every database file.
pub const MAGIC: &[u8; 8] = b"BERTHVDB";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Largest header accepted.
const MAX_HEADER: u32 = 1 << 20;
/// Largest uncompressed payload accepted (decompression bombs).
pub const MAX_PAYLOAD: u64 = 4 << 30;
/// OCI media type of the database as an artifact layer (`berth vulndb push`).
pub const MEDIA_TYPE: &str = "application/vnd.berth.vulndb.v1";

/// One input of a build, as recorded in the header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// `osv`, `debian-tracker` or `alpine-secdb`.
    pub kind: String,
    /// File or directory name (no directories above it).
    pub name: String,
    /// Records it contributed.
    pub records: u64,
}

/// The signed header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    /// Always [`FORMAT_VERSION`] for this code.
    pub format_version: u32,
    /// When the database was built (RFC 3339, UTC).
    pub built: String,
    /// Inputs.
    pub sources: Vec<SourceInfo>,
    /// Records in the payload.
    pub records: u64,
    /// Payload compression: always `zstd`.
    pub compression: String,
    /// Compressed payload size in bytes.
    pub payload_size: u64,
    /// Uncompressed payload size in bytes.
    pub uncompressed_size: u64,
    /// `sha256:<hex>` of the compressed payload.
    pub payload_digest: String,
    /// Key id of the signing key (`berth_oci::keys::key_id`).
    pub key_id: String,
}

impl Header {
    /// The build time.
    pub fn built_at(&self) -> Result<jiff::Timestamp> {
        self.built
            .parse()
            .map_err(|e| Error::invalid("vulnerability database header: built", format!("{e}")))
    }

    /// Whole days between the build and `now`.
    pub fn age_days(&self, now: jiff::Timestamp) -> Result<i64> {
        let secs = now.as_second() - self.built_at()?.as_second();
        Ok(secs.div_euclid(86_400))
    }
}

/// Records whose (ecosystem, package, CVE) a distribution tracker already covers are
/// dropped from the distribution's own OSV export (`DEBIAN-CVE-…`, `ALPINE-CVE-…`): the
/// tracker knows more states. An affected package that an earlier record of the same id
/// already named goes too (one advisory from two sources); the entries of one record all
/// stay, as GitHub's advisories give each affected release line of a package its own.
pub fn merge(osv: Vec<Record>, native: Vec<Record>) -> Vec<Record> {
    let mut covered: HashSet<(String, String, String)> = HashSet::new();
    for r in &native {
        for a in &r.affected {
            if let Some(p) = &a.package {
                covered.insert((p.ecosystem.clone(), p.name.clone(), r.id.clone()));
            }
        }
    }
    let mut seen: HashSet<(String, String, String)> = HashSet::new();
    let mut out = Vec::with_capacity(osv.len() + native.len());
    for mut r in osv.into_iter().chain(native) {
        let export = r.id.starts_with("DEBIAN-CVE-") || r.id.starts_with("ALPINE-CVE-");
        let cves: Vec<String> = r
            .aliases
            .iter()
            .chain(&r.upstream)
            .filter(|a| a.starts_with("CVE-"))
            .cloned()
            .collect();
        let id = r.id.clone();
        r.affected.retain(|a| {
            let Some(p) = &a.package else { return true };
            let key = (id.clone(), p.ecosystem.clone(), p.name.clone());
            let covered_here = export
                && cves
                    .iter()
                    .any(|c| covered.contains(&(p.ecosystem.clone(), p.name.clone(), c.clone())));
            !covered_here && !seen.contains(&key)
        });
        for a in &r.affected {
            if let Some(p) = &a.package {
                seen.insert((id.clone(), p.ecosystem.clone(), p.name.clone()));
            }
        }
        if !r.affected.is_empty() {
            out.push(r);
        }
    }
    out
}

/// Write a signed database file atomically.
pub fn write(
    path: &Path,
    records: &[Record],
    sources: Vec<SourceInfo>,
    key: &SigningKey,
    built: jiff::Timestamp,
) -> Result<Header> {
    let mut plain = Vec::new();
    for r in records {
        serde_json::to_writer(&mut plain, r)
            .map_err(|e| Error::invalid(&r.id, format!("cannot encode: {e}")))?;
        plain.push(b'\n');
    }
    let payload = zstd::bulk::compress(&plain, 9).map_err(|e| Error::io(path, e))?;
    let header = Header {
        format_version: FORMAT_VERSION,
        built: built.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        sources,
        records: records.len() as u64,
        compression: "zstd".into(),
        payload_size: payload.len() as u64,
        uncompressed_size: plain.len() as u64,
        payload_digest: format!("sha256:{}", hex::encode(Sha256::digest(&payload))),
        key_id: berth_oci::keys::key_id(&key.verifying_key()),
    };
    let hjson = serde_json::to_vec(&header)
        .map_err(|e| Error::invalid("header", format!("cannot encode: {e}")))?;
    let mut out = Vec::with_capacity(hjson.len() + payload.len() + 100);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(hjson.len() as u32).to_le_bytes());
    out.extend_from_slice(&hjson);
    let sig = key.sign(&out);
    out.extend_from_slice(&sig.to_bytes());
    out.extend_from_slice(&payload);
    berth_oci::layout::write_atomic(path, &out)?;
    Ok(header)
}

/// Read and check the header of a database file's bytes: magic, version, signature by
/// `trusted`. Returns the header and the payload bytes (checksum verified).
pub fn verify<'a>(
    data: &'a [u8],
    what: &str,
    trusted: &VerifyingKey,
) -> Result<(Header, &'a [u8])> {
    let bad = |r: String| Error::invalid(what, r);
    if data.get(..8) != Some(MAGIC.as_slice()) {
        return Err(bad(
            "not a berth vulnerability database (build one with `berth vulndb build`)".into(),
        ));
    }
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
    };
    let version = word(8).ok_or_else(|| bad("truncated header".into()))?;
    if version != FORMAT_VERSION {
        return Err(bad(format!(
            "format version {version}; this berth reads version {FORMAT_VERSION} (use a matching berth or rebuild the database)"
        )));
    }
    let hlen = word(12).ok_or_else(|| bad("truncated header".into()))?;
    if hlen > MAX_HEADER {
        return Err(bad(format!(
            "header of {hlen} bytes is larger than the limit"
        )));
    }
    let hend = 16 + hlen as usize;
    let signed = data
        .get(..hend)
        .ok_or_else(|| bad("truncated header".into()))?;
    let sig_bytes = data
        .get(hend..hend + 64)
        .ok_or_else(|| bad("truncated: no signature".into()))?;
    let sig = Signature::from_slice(sig_bytes).map_err(|e| bad(format!("bad signature: {e}")))?;
    trusted.verify(signed, &sig).map_err(|_| {
        bad(format!(
            "signature does not verify with the trusted key {} (a corrupt file, or signed by another key); refusing it",
            berth_oci::keys::key_id(trusted)
        ))
    })?;
    let header: Header = serde_json::from_slice(&data[16..hend])
        .map_err(|e| bad(format!("header is not valid: {e}")))?;
    let payload = &data[hend + 64..];
    if payload.len() as u64 != header.payload_size {
        return Err(bad(format!(
            "payload is {} bytes, the signed header says {}; the file is truncated or corrupt",
            payload.len(),
            header.payload_size
        )));
    }
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(payload)));
    if digest != header.payload_digest {
        return Err(bad(format!(
            "payload checksum {digest} differs from the signed {}; the file is corrupt",
            header.payload_digest
        )));
    }
    if header.uncompressed_size > MAX_PAYLOAD {
        return Err(Error::TooLarge {
            what: what.to_string(),
            limit: MAX_PAYLOAD,
        });
    }
    Ok((header, payload))
}

/// Open a database file: verify it, then load every record.
pub fn open(path: &Path, trusted: &VerifyingKey) -> Result<(Header, VulnDb)> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let what = path.display().to_string();
    let (header, payload) = verify(&data, &what, trusted)?;
    let mut plain = Vec::with_capacity(header.uncompressed_size as usize);
    zstd::stream::read::Decoder::new(payload)
        .map_err(|e| Error::io(path, e))?
        .take(header.uncompressed_size + 1)
        .read_to_end(&mut plain)
        .map_err(|e| Error::invalid(&what, format!("payload does not decompress: {e}")))?;
    if plain.len() as u64 != header.uncompressed_size {
        return Err(Error::invalid(
            &what,
            "payload size differs from the header",
        ));
    }
    let mut db = VulnDb::new();
    for (i, line) in plain.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let rec: Record = serde_json::from_slice(line)
            .map_err(|e| Error::invalid(format!("{what}: record {}", i + 1), e.to_string()))?;
        db.add(rec);
    }
    if db.len() as u64 != header.records {
        return Err(Error::invalid(
            &what,
            format!(
                "holds {} records, the header says {}",
                db.len(),
                header.records
            ),
        ));
    }
    Ok((header, db))
}
