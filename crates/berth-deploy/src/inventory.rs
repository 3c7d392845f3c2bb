//! Inventory and revisions: every install, upgrade and rollback is a revision stored in the
//! app's namespace as one or more Secrets (gzip-compressed JSON, split below the 1 MiB object
//! limit). The format is documented in `docs/formats/inventory.md`.

use crate::diagnose::Diagnosis;
use crate::object::{LABEL_APP, LABEL_KIND, Manifest, object_ref};
use base64::Engine as _;
use flate2::Compression;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest as _;
use std::io::{Read as _, Write as _};

/// Secret type of revision Secrets.
pub const SECRET_TYPE: &str = "berth.dev/revision.v1";
/// Label carrying the revision number.
pub const LABEL_REVISION: &str = "berth.dev/revision";
/// Label carrying the revision status.
pub const LABEL_STATUS: &str = "berth.dev/status";
/// Annotation on the first Secret: how many Secrets hold the payload.
pub const ANNOTATION_PARTS: &str = "berth.dev/parts";
/// Annotation on the first Secret: sha256 of the whole compressed payload.
pub const ANNOTATION_DIGEST: &str = "berth.dev/digest";
/// Largest payload chunk per Secret (leaves room for metadata under the 1 MiB limit).
pub const CHUNK: usize = 700 * 1024;
/// Largest decompressed payload accepted (guards against decompression bombs).
pub const MAX_DECOMPRESSED: u64 = 256 * 1024 * 1024;

/// Where a revision stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Being applied (or the process applying it died; the next run repairs).
    Pending,
    /// Applied and ready; the current revision.
    Deployed,
    /// Was deployed; a later revision replaced it.
    Superseded,
    /// Apply or readiness failed.
    Failed,
    /// Stopped by the user (Ctrl-C) at a safe point; the next run repairs.
    Interrupted,
    /// Failed and was rolled back automatically to an earlier revision.
    RolledBack,
    /// The app was uninstalled.
    Uninstalled,
}

impl Status {
    /// The label/JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Deployed => "deployed",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
            Status::RolledBack => "rolled-back",
            Status::Uninstalled => "uninstalled",
        }
    }
}

/// What created a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    /// First install (or a re-install after uninstall).
    Install,
    /// Upgrade to a (possibly equal) version.
    Upgrade,
    /// Rollback to an earlier revision's objects.
    Rollback,
}

/// One revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// App name.
    pub app: String,
    /// Revision number, from 1.
    pub number: u32,
    /// The app's version.
    pub version: String,
    /// Status.
    pub status: Status,
    /// What created it.
    pub operation: Operation,
    /// RFC 3339 start time.
    pub started_at: String,
    /// RFC 3339 end time (absent while pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// For rollbacks: the revision whose objects were restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_revision: Option<u32>,
    /// Rendered objects (Secrets included; this Secret is as protected as they are).
    pub objects: Vec<Manifest>,
    /// Hook objects (never pruned; kept so rollback and uninstall can run them).
    #[serde(default)]
    pub hooks: Vec<Manifest>,
    /// The config values used, generated values included (they are kept across upgrades).
    #[serde(default)]
    pub config: Value,
    /// berth.yaml's `spec.snapshot` (snapshot hooks) as JSON, null when absent.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub snapshot: Value,
    /// Outcome in words (failure cause, rollback result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Diagnoses found when the revision failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<DiagnosisRecord>,
    /// The private registry the images were relocated to (air-gapped installs). Later
    /// installs, upgrades, diffs and rollbacks keep using it unless told otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistryRecord>,
    /// The cluster (and host) this revision last worked on: recorded when it became
    /// `deployed` (docs/formats/baseline.md); `berth drift` compares with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Value>,
}

/// Where an air-gapped install's images live: kept in each revision so that the next
/// operation renders the same private references instead of the vendor's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryRecord {
    /// The customer registry, `host[:port][/prefix]`, as given to `--registry`.
    pub registry: String,
    /// Name of the image pull Secret referenced by every pod spec (none: anonymous pulls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret: Option<String>,
    /// Source image (normalised, as the vendor wrote it) → digest pushed into the registry.
    pub images: std::collections::BTreeMap<String, String>,
}

/// A diagnosis as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosisRecord {
    /// The object, displayed.
    pub object: String,
    /// Cause.
    pub cause: String,
    /// Fix.
    pub fix: String,
}

impl From<&Diagnosis> for DiagnosisRecord {
    fn from(d: &Diagnosis) -> Self {
        DiagnosisRecord {
            object: d.object.to_string(),
            cause: d.cause.clone(),
            fix: d.fix.clone(),
        }
    }
}

/// A revision that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// Parts missing or malformed.
    #[error(
        "revision Secret {name} is damaged: {why}; delete it (kubectl delete secret {name}) to let berth continue from the previous revision"
    )]
    Damaged {
        /// The Secret's name.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// Encoding failed (should not happen).
    #[error("cannot encode revision: {0}")]
    Encode(String),
}

/// The name of a revision's first Secret.
pub fn secret_name(app: &str, number: u32) -> String {
    format!("berth.{app}.v{number}")
}

/// The name of the lock Lease.
pub fn lease_name(app: &str) -> String {
    format!("berth.{app}.lock")
}

/// Label selector matching every revision Secret of an app.
pub fn selector(app: &str) -> String {
    format!("{LABEL_APP}={app},{LABEL_KIND}=revision")
}

/// Encode a revision as Secrets in `namespace` (one, or several when the compressed payload
/// exceeds [`CHUNK`]).
pub fn encode(rev: &Revision, namespace: &str) -> Result<Vec<Value>, InventoryError> {
    let json = serde_json::to_vec(rev).map_err(|e| InventoryError::Encode(e.to_string()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&json)
        .map_err(|e| InventoryError::Encode(e.to_string()))?;
    let payload = gz
        .finish()
        .map_err(|e| InventoryError::Encode(e.to_string()))?;
    let digest = hex::encode(sha2::Sha256::digest(&payload));
    let chunks: Vec<&[u8]> = if payload.is_empty() {
        vec![&payload[..]]
    } else {
        payload.chunks(CHUNK).collect()
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let base = secret_name(&rev.app, rev.number);
    let mut out = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        let name = if i == 0 {
            base.clone()
        } else {
            format!("{base}.p{i}")
        };
        let mut s = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": SECRET_TYPE,
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {
                    LABEL_APP: rev.app,
                    LABEL_KIND: if i == 0 { "revision" } else { "revision-part" },
                    LABEL_REVISION: rev.number.to_string(),
                    LABEL_STATUS: rev.status.as_str(),
                },
            },
            "data": { "revision": b64.encode(c) },
        });
        if i == 0 {
            s["metadata"]["annotations"] = json!({
                ANNOTATION_PARTS: chunks.len().to_string(),
                ANNOTATION_DIGEST: format!("sha256:{digest}"),
            });
        }
        out.push(s);
    }
    Ok(out)
}

/// The number of Secrets a revision's first Secret says it has.
pub fn parts(first: &Value) -> usize {
    crate::object::annotation(first, ANNOTATION_PARTS)
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
}

/// Decode a revision from its first Secret and its part Secrets (in order).
pub fn decode(secrets: &[Value]) -> Result<Revision, InventoryError> {
    let name = secrets
        .first()
        .map(|s| object_ref(s).name)
        .unwrap_or_default();
    let damaged = |why: String| InventoryError::Damaged {
        name: name.clone(),
        why,
    };
    let first = secrets.first().ok_or_else(|| damaged("no Secret".into()))?;
    let want = parts(first);
    if secrets.len() != want {
        return Err(damaged(format!("it has {} of {want} parts", secrets.len())));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut payload = Vec::new();
    for s in secrets {
        let d = s
            .pointer("/data/revision")
            .and_then(Value::as_str)
            .ok_or_else(|| damaged(format!("{} has no data.revision", object_ref(s).name)))?;
        payload.extend(
            b64.decode(d)
                .map_err(|e| damaged(format!("data.revision is not base64: {e}")))?,
        );
    }
    if let Some(want) = crate::object::annotation(first, ANNOTATION_DIGEST) {
        let got = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&payload)));
        if got != want {
            return Err(damaged(format!("digest mismatch ({got}, expected {want})")));
        }
    }
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&payload[..])
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut json)
        .map_err(|e| damaged(format!("cannot decompress: {e}")))?;
    if json.len() as u64 > MAX_DECOMPRESSED {
        return Err(damaged("decompressed payload exceeds 256 MiB".into()));
    }
    serde_json::from_slice(&json).map_err(|e| damaged(format!("bad JSON: {e}")))
}

/// Settle a history (oldest first) so that at most one revision is `deployed`: the newest
/// `deployed` one stays, older `deployed` ones become `superseded`. A run killed between
/// marking its revision deployed and marking the previous one superseded leaves two; this is
/// the repair every locked run applies first. Returns the indexes it changed.
pub fn settle(history: &mut [Revision]) -> Vec<usize> {
    let Some(newest) = history
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status == Status::Deployed)
        .max_by_key(|(_, r)| r.number)
        .map(|(i, _)| i)
    else {
        return Vec::new();
    };
    let mut changed = Vec::new();
    for (i, r) in history.iter_mut().enumerate() {
        if i != newest && r.status == Status::Deployed {
            r.status = Status::Superseded;
            changed.push(i);
        }
    }
    changed
}

/// A copy of an object safe to print: Secret values replaced by a short digest.
pub fn redact(v: &Value) -> Value {
    let mut v = v.clone();
    if object_ref(&v).kind == "Secret" {
        for field in ["data", "stringData"] {
            if let Some(m) = v.get_mut(field).and_then(Value::as_object_mut) {
                for (_, val) in m.iter_mut() {
                    let raw = val.as_str().unwrap_or("").as_bytes().to_vec();
                    let d = hex::encode(sha2::Sha256::digest(&raw));
                    *val = Value::String(format!("<redacted sha256:{}>", &d[..12]));
                }
            }
        }
    }
    v
}

/// Now, RFC 3339.
pub fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(n_objects: usize) -> Revision {
        Revision {
            app: "hello".into(),
            number: 3,
            version: "1.2.0".into(),
            status: Status::Deployed,
            operation: Operation::Upgrade,
            started_at: now(),
            finished_at: Some(now()),
            source_revision: None,
            objects: (0..n_objects)
                .map(|i| {
                    // unique, poorly compressible content to force splitting
                    let noise = hex::encode(sha2::Sha256::digest(i.to_string().as_bytes()));
                    Manifest::new(
                        json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":format!("c{i}")},"data":{"k":noise}}),
                        format!("m.yaml#{i}"),
                    )
                })
                .collect(),
            hooks: vec![],
            config: json!({"replicas": 2}),
            snapshot: Value::Null,
            message: None,
            diagnoses: vec![],
            registry: None,
            baseline: None,
        }
    }

    #[test]
    fn settle_keeps_only_the_newest_deployed() {
        let mut h: Vec<Revision> = (1..=4)
            .map(|n| Revision {
                number: n,
                ..rev(0)
            })
            .collect();
        h[0].status = Status::Superseded;
        h[3].status = Status::Failed;
        // revisions 2 and 3 are both deployed (killed between the two status writes)
        assert_eq!(settle(&mut h), vec![1]);
        let st: Vec<Status> = h.iter().map(|r| r.status).collect();
        assert_eq!(
            st,
            [
                Status::Superseded,
                Status::Superseded,
                Status::Deployed,
                Status::Failed
            ]
        );
        assert!(settle(&mut h).is_empty(), "settling is idempotent");
    }

    #[test]
    fn round_trip_single_secret() {
        let r = rev(3);
        let s = encode(&r, "ns").unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0]["metadata"]["name"], "berth.hello.v3");
        assert_eq!(s[0]["metadata"]["labels"][LABEL_STATUS], "deployed");
        assert_eq!(decode(&s).unwrap(), r);
    }

    #[test]
    fn large_revisions_split_and_round_trip() {
        let r = rev(30_000);
        let s = encode(&r, "ns").unwrap();
        assert!(s.len() > 1, "expected a split, got {}", s.len());
        for part in &s {
            assert!(serde_json::to_vec(part).unwrap().len() < 1024 * 1024);
        }
        assert_eq!(decode(&s).unwrap(), r);
        // a missing part is reported, not silently ignored
        let e = decode(&s[..s.len() - 1]).unwrap_err().to_string();
        assert!(e.contains("parts") && e.contains("berth.hello.v3"), "{e}");
    }

    #[test]
    fn corrupted_payload_is_detected() {
        let mut s = encode(&rev(2), "ns").unwrap();
        s[0]["data"]["revision"] =
            json!(base64::engine::general_purpose::STANDARD.encode(b"garbage"));
        let e = decode(&s).unwrap_err().to_string();
        assert!(e.contains("digest mismatch"), "{e}");
    }

    #[test]
    fn redacts_secret_values() {
        let s = json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"data":{"password":"aHVudGVyMg=="},"stringData":{"x":"hunter2"}});
        let r = redact(&s).to_string();
        assert!(!r.contains("hunter2") && !r.contains("aHVudGVyMg=="), "{r}");
        assert!(r.contains("<redacted sha256:"));
    }
}
