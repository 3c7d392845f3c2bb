//! The JSON bodies of the vendor server's API (docs/formats/vendor-api.md), shared by the
//! server and its client so the two cannot drift.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A token's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Lists and reads.
    ReadOnly,
    /// Also pushes and promotes releases and creates channels.
    ReleasePublisher,
    /// Everything: tokens, customers, licenses, keys.
    Admin,
}

impl Scope {
    /// Parse `admin|release-publisher|read-only`.
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "admin" => Some(Scope::Admin),
            "release-publisher" => Some(Scope::ReleasePublisher),
            "read-only" => Some(Scope::ReadOnly),
            _ => None,
        }
    }
    /// The name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::ReleasePublisher => "release-publisher",
            Scope::ReadOnly => "read-only",
        }
    }
}

/// POST /api/v1/tokens
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    pub scope: Scope,
}

/// A token as listed (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub scope: Scope,
    pub created_at: String,
    pub revoked: bool,
}

/// The answer to a token creation: the secret, shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedToken {
    pub id: String,
    pub token: String,
}

/// POST /api/v1/apps
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApp {
    pub name: String,
}

/// POST /api/v1/apps/{app}/channels
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewChannel {
    pub name: String,
    /// Support only the newest N minor versions.
    #[serde(default)]
    pub keep_minors: Option<u64>,
}

/// A channel and its releases, newest last.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelInfo {
    pub name: String,
    pub keep_minors: Option<u64>,
    pub releases: Vec<ReleaseInfo>,
}

/// One blob of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlobRef {
    pub digest: String,
    pub size: u64,
}

/// POST /api/v1/apps/{app}/releases: finish a push whose blobs are uploaded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRelease {
    pub version: String,
    /// Digest of the release's index.json (uploaded as a blob like the others).
    pub index_digest: String,
    /// Every blob the release holds (index.json included).
    pub blobs: Vec<BlobRef>,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub required: bool,
    /// RFC 3339 end-of-life date.
    #[serde(default)]
    pub eol_at: Option<String>,
}

/// A release as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseInfo {
    pub version: String,
    pub required: bool,
    pub notes: String,
    pub eol_at: Option<String>,
    /// Why it is past its end of life, when it is.
    pub eol: Option<String>,
}

/// POST /api/v1/apps/{app}/channels/{channel}/promote
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Promote {
    pub version: String,
}

/// POST /api/v1/customers
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewCustomer {
    pub name: String,
    pub app: String,
    pub channels: Vec<String>,
    #[serde(default = "default_type")]
    pub license_type: String,
    /// RFC 3339 or a date (YYYY-MM-DD, midnight UTC).
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub airgap: bool,
    #[serde(default)]
    pub snapshots: bool,
    #[serde(default)]
    pub support_bundle_upload: bool,
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// NAME=TYPE:VALUE assignments.
    #[serde(default)]
    pub entitlements: Vec<String>,
}

fn default_type() -> String {
    "paid".into()
}

/// PATCH /api/v1/customers/{name}: renew, change channel, revoke.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerChange {
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub channels: Option<Vec<String>>,
    #[serde(default)]
    pub revoked: Option<bool>,
}

/// A customer as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerInfo {
    pub name: String,
    pub app: String,
    pub channels: Vec<String>,
    pub license_type: String,
    pub expires_at: Option<String>,
    pub airgap: bool,
    pub snapshots: bool,
    /// May send support bundles with the license.
    #[serde(default)]
    pub support_bundle_upload: bool,
    pub revoked: bool,
    pub entitlements: BTreeMap<String, serde_json::Value>,
}

/// What an install reports about itself on each update check.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstanceReport {
    /// UID of the cluster's kube-system namespace.
    pub cluster_id: String,
    #[serde(default)]
    pub kube_version: String,
    #[serde(default)]
    pub distribution: String,
    /// Readiness summary ("ready", "3/4 ready", "failed: …").
    #[serde(default)]
    pub ready: String,
    #[serde(default)]
    pub berth_version: String,
}

/// POST /api/v1/updates (license-authenticated).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCheck {
    /// The installed version; absent for a new install.
    #[serde(default)]
    pub current_version: Option<String>,
    /// The version wanted; absent for the newest.
    #[serde(default)]
    pub target_version: Option<String>,
    /// The channel; absent for the license's default.
    #[serde(default)]
    pub channel: Option<String>,
    pub instance: InstanceReport,
}

/// The answer to an update check.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAnswer {
    pub app: String,
    pub channel: String,
    /// Releases newer than the current one, oldest first.
    pub newer: Vec<ReleaseInfo>,
    /// Versions to install in order (required ones on the way, then the target).
    pub path: Vec<String>,
    /// Why the installed version is past its end of life, when it is.
    pub current_eol: Option<String>,
    /// Why no path could be made (the license allows no such update), when so.
    pub refused: Option<String>,
}

/// An installed instance as the vendor sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceInfo {
    pub customer: String,
    pub app: String,
    pub cluster_id: String,
    pub app_version: String,
    pub kube_version: String,
    pub distribution: String,
    pub ready: String,
    pub berth_version: String,
    pub last_seen: String,
    /// Releases newer than the one running, on the customer's first channel.
    pub behind: u64,
    pub eol: Option<String>,
}

/// A support bundle a customer sent (`POST /api/v1/license/support-bundles`), as stored and
/// listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SupportBundleInfo {
    /// The server's id (UUIDv7): the only name the bytes are stored under.
    pub id: String,
    pub customer: String,
    pub app: String,
    pub license_id: String,
    /// The file name the customer gave, cleaned (never a path).
    pub name: String,
    pub size: u64,
    /// Hex SHA-256 of the bytes as received.
    pub sha256: String,
    pub received_at: String,
}

/// A public signing key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub key_id: String,
    pub public_pem: String,
    pub active: bool,
}

/// An audit record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

/// Every error body: a message for a person and a stable code for a program.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}
