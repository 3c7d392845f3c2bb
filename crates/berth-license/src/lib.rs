//! Signed licenses (docs/formats/license.md): the document, its canonical form, signing by
//! the vendor server and offline verification by the customer's berth.
//!
//! Pure data and decisions, no I/O beyond reading a file the caller names: the vendor server
//! signs with a key it holds, the CLI verifies with the public key alone.

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use berth_oci::keys::key_id;

/// apiVersion of a license document.
pub const API_VERSION: &str = "berth.dev/v1alpha1";
/// kind of a license document.
pub const KIND: &str = "License";
/// Domain tag prefixed to the canonical form before signing (no other signature replays).
pub const DOMAIN: &[u8] = b"berth-license-v1\n";
/// Largest license file read (a license is a few hundred bytes).
pub const MAX_BYTES: usize = 64 * 1024;

/// Why a license was refused; each names the cause and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read license {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("license {where_} is not a berth license: {reason}")]
    Malformed { where_: String, reason: String },
    #[error(
        "license {where_} was signed with key {key_id}, which is not among the public keys given ({given}); pass the vendor's public key with --pubkey"
    )]
    UnknownKey {
        where_: String,
        key_id: String,
        given: String,
    },
    #[error(
        "license {where_}: the signature does not match its content (the file was changed after the vendor signed it); ask the vendor for a new license"
    )]
    BadSignature { where_: String },
    #[error(
        "license {where_} is for app {found}, not {expected}; use the license the vendor issued for {expected}"
    )]
    WrongApp {
        where_: String,
        found: String,
        expected: String,
    },
    #[error(
        "license {where_} expired at {expired}; updates and new installs are blocked (the running app is not affected): ask the vendor to renew it"
    )]
    Expired { where_: String, expired: Timestamp },
    #[error(
        "license {where_} is bound to cluster {bound}, but this cluster's kube-system namespace has UID {actual}; ask the vendor for a license for this cluster"
    )]
    WrongCluster {
        where_: String,
        bound: String,
        actual: String,
    },
    #[error("entitlement {name}: {reason}")]
    Entitlement { name: String, reason: String },
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Kind of license, as the vendor sells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LicenseType {
    Dev,
    Trial,
    Paid,
}

impl LicenseType {
    /// Parse `dev|trial|paid`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "dev" => Some(Self::Dev),
            "trial" => Some(Self::Trial),
            "paid" => Some(Self::Paid),
            _ => None,
        }
    }
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Trial => "trial",
            Self::Paid => "paid",
        }
    }
}

/// A typed custom entitlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum Entitlement {
    Int(i64),
    String(String),
    Bool(bool),
}

impl Entitlement {
    /// Parse `NAME=TYPE:VALUE` (`seats=int:50`, `tier=string:gold`, `sso=bool:true`).
    pub fn parse_assignment(s: &str) -> Result<(String, Entitlement)> {
        let (name, rest) = s.split_once('=').ok_or_else(|| Error::Entitlement {
            name: s.to_string(),
            reason: "expected NAME=TYPE:VALUE, e.g. seats=int:50".into(),
        })?;
        check_entitlement_name(name)?;
        let (ty, value) = rest.split_once(':').ok_or_else(|| Error::Entitlement {
            name: name.to_string(),
            reason: format!(
                "expected TYPE:VALUE after '=', got {rest:?} (types: int, string, bool)"
            ),
        })?;
        let bad = |reason: String| Error::Entitlement {
            name: name.to_string(),
            reason,
        };
        let e = match ty {
            "int" => Entitlement::Int(
                value
                    .parse()
                    .map_err(|_| bad(format!("{value:?} is not a 64-bit integer")))?,
            ),
            "bool" => Entitlement::Bool(match value {
                "true" => true,
                "false" => false,
                _ => return Err(bad(format!("{value:?} is not true or false"))),
            }),
            "string" => Entitlement::String(value.to_string()),
            other => return Err(bad(format!("unknown type {other:?} (int, string, bool)"))),
        };
        Ok((name.to_string(), e))
    }

    /// The value as JSON (what templates see).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Entitlement::Int(i) => (*i).into(),
            Entitlement::String(s) => s.clone().into(),
            Entitlement::Bool(b) => (*b).into(),
        }
    }
}

fn check_entitlement_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok && name.len() <= 63 {
        Ok(())
    } else {
        Err(Error::Entitlement {
            name: name.to_string(),
            reason: "names start with a letter and hold only letters, digits and _ (at most 63)"
                .into(),
        })
    }
}

/// What the vendor grants: the signed part of a license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    pub license_id: String,
    pub app: String,
    pub customer: String,
    pub vendor_url: String,
    pub channels: Vec<String>,
    #[serde(rename = "type")]
    pub license_type: LicenseType,
    pub issued_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub airgap: bool,
    #[serde(default)]
    pub snapshots: bool,
    #[serde(default)]
    pub support_bundle_upload: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    #[serde(default)]
    pub entitlements: BTreeMap<String, Entitlement>,
    pub credential: String,
}

/// The signature block of a license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignatureBlock {
    pub algorithm: String,
    pub key_id: String,
    pub value: String,
}

/// A license document as stored in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct License {
    pub api_version: String,
    pub kind: String,
    pub spec: Spec,
    pub signature: SignatureBlock,
}

/// The canonical bytes of a spec (docs/formats/license.md): sorted keys, no whitespace.
pub fn canonical(spec: &Spec) -> Vec<u8> {
    // serde_json without preserve_order would sort maps, but the workspace enables
    // preserve_order: sort explicitly.
    let v = serde_json::to_value(spec).unwrap_or(serde_json::Value::Null);
    let mut out = Vec::with_capacity(512);
    write_canonical(&v, &mut out);
    out
}

fn write_canonical(v: &serde_json::Value, out: &mut Vec<u8>) {
    match v {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push(b'{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(&serde_json::Value::String((*k).clone()), out);
                out.push(b':');
                write_canonical(&map[k.as_str()], out);
            }
            out.push(b'}');
        }
        serde_json::Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
}

fn message(spec: &Spec) -> Vec<u8> {
    let mut m = DOMAIN.to_vec();
    m.extend(canonical(spec));
    m
}

/// Sign a spec; timestamps are truncated to whole seconds first (the canonical form).
pub fn sign(mut spec: Spec, key: &SigningKey) -> License {
    spec.issued_at = whole_seconds(spec.issued_at);
    spec.expires_at = spec.expires_at.map(whole_seconds);
    let sig = key.sign(&message(&spec));
    License {
        api_version: API_VERSION.into(),
        kind: KIND.into(),
        spec,
        signature: SignatureBlock {
            algorithm: "ed25519".into(),
            key_id: key_id(&key.verifying_key()),
            value: base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()),
        },
    }
}

fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// A new random credential (32 bytes, hex) and its SHA-256 (what the server stores).
pub fn new_credential() -> (String, String) {
    let mut b = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    let c = hex::encode(b);
    let h = credential_hash(&c);
    (c, h)
}

/// SHA-256 of a credential, hex.
pub fn credential_hash(credential: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(credential.as_bytes()))
}

impl License {
    /// The YAML text of the license (what `license issue` prints and customers store).
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).unwrap_or_default()
    }

    /// Parse a license from text; `where_` names it in errors (a path or "stdin").
    pub fn parse(text: &str, where_: &str) -> Result<License> {
        let malformed = |reason: String| Error::Malformed {
            where_: where_.to_string(),
            reason,
        };
        if text.len() > MAX_BYTES {
            return Err(malformed(format!(
                "{} bytes, more than a license can hold ({MAX_BYTES})",
                text.len()
            )));
        }
        let lic: License = serde_saphyr::from_str(text).map_err(|e| malformed(e.to_string()))?;
        if lic.api_version != API_VERSION || lic.kind != KIND {
            return Err(malformed(format!(
                "apiVersion/kind are {}/{}, expected {API_VERSION}/{KIND}",
                lic.api_version, lic.kind
            )));
        }
        if lic.signature.algorithm != "ed25519" {
            return Err(malformed(format!(
                "signature.algorithm is {:?}; only ed25519 is used",
                lic.signature.algorithm
            )));
        }
        Ok(lic)
    }

    /// Read and parse a license file.
    pub fn read(path: &Path) -> Result<License> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Malformed {
            where_: path.display().to_string(),
            reason: "not UTF-8 text".into(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Check the signature against the given public keys (checks 2 and 3 of the format).
    pub fn verify_signature(&self, keys: &[VerifyingKey], where_: &str) -> Result<()> {
        let key = keys
            .iter()
            .find(|k| key_id(k) == self.signature.key_id)
            .ok_or_else(|| Error::UnknownKey {
                where_: where_.to_string(),
                key_id: self.signature.key_id.clone(),
                given: keys.iter().map(key_id).collect::<Vec<_>>().join(", "),
            })?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(self.signature.value.trim())
            .map_err(|e| Error::Malformed {
                where_: where_.to_string(),
                reason: format!("signature.value is not base64: {e}"),
            })?;
        let sig = Signature::from_slice(&raw).map_err(|_| Error::Malformed {
            where_: where_.to_string(),
            reason: format!("signature.value holds {} bytes, not 64", raw.len()),
        })?;
        key.verify(&message(&self.spec), &sig)
            .map_err(|_| Error::BadSignature {
                where_: where_.to_string(),
            })
    }

    /// Every check of the format, in order (signature, app, expiry, cluster binding).
    pub fn verify(&self, keys: &[VerifyingKey], expect: &Expect, where_: &str) -> Result<()> {
        self.verify_signature(keys, where_)?;
        if let Some(app) = &expect.app
            && &self.spec.app != app
        {
            return Err(Error::WrongApp {
                where_: where_.into(),
                found: self.spec.app.clone(),
                expected: app.clone(),
            });
        }
        if let Some(exp) = self.spec.expires_at
            && exp <= expect.now
        {
            return Err(Error::Expired {
                where_: where_.into(),
                expired: exp,
            });
        }
        if let (Some(bound), Some(actual)) = (&self.spec.cluster_id, &expect.cluster_id)
            && bound != actual
        {
            return Err(Error::WrongCluster {
                where_: where_.into(),
                bound: bound.clone(),
                actual: actual.clone(),
            });
        }
        Ok(())
    }

    /// The default channel (the first one listed).
    pub fn default_channel(&self) -> Option<&str> {
        self.spec.channels.first().map(String::as_str)
    }

    /// The bearer token an install presents to the vendor server.
    pub fn bearer(&self) -> String {
        format!("lic.{}.{}", self.spec.license_id, self.spec.credential)
    }

    /// The license with its credential masked, for display.
    pub fn masked(&self) -> License {
        let mut l = self.clone();
        l.spec.credential = "<hidden>".into();
        l
    }

    /// Entitlements as a JSON object (what templates see as `.License.Entitlements`).
    pub fn entitlements_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.spec
                .entitlements
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        )
    }
}

/// What the caller knows about the install a license must fit.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The app being installed, when known.
    pub app: Option<String>,
    /// The time to judge expiry at.
    pub now: Timestamp,
    /// The UID of the cluster's kube-system namespace, when known.
    pub cluster_id: Option<String>,
}

impl Expect {
    /// Only the signature and expiry, judged now.
    pub fn now() -> Self {
        Self {
            app: None,
            now: Timestamp::now(),
            cluster_id: None,
        }
    }
}

/// Split a bearer token `lic.<licenseId>.<credential>`.
pub fn parse_bearer(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("lic.")?;
    let (id, cred) = rest.rsplit_once('.')?;
    (!id.is_empty() && cred.len() == 64 && cred.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some((id, cred))
}

#[cfg(test)]
mod tests;
