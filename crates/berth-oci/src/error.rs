//! The one error type of the crate: every variant names the place, the cause and the fix.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while handling images, registries, releases and bundles.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{path}: {source} ({hint})")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
        /// What to do about it.
        hint: &'static str,
    },
    /// A digest string is not `sha256:<64 lowercase hex>`.
    #[error("invalid digest {0:?}: expected sha256:<64 lowercase hex digits>")]
    BadDigest(String),
    /// Content does not hash to the digest it was addressed by.
    #[error(
        "digest mismatch for {what}: expected {expected}, got {actual}; the content is corrupted or was tampered with, fetch it again from a trusted source"
    )]
    DigestMismatch {
        /// What was checked (blob, file path, URL).
        what: String,
        /// The digest it should have.
        expected: String,
        /// The digest it has.
        actual: String,
    },
    /// Content is larger than the limit accepted for that kind of object.
    #[error(
        "{what} is larger than {limit} bytes; refusing it (no real manifest, index, chart repository index or chart archive is this large)"
    )]
    TooLarge {
        /// What was being read.
        what: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// An image reference could not be parsed.
    #[error(
        "invalid image reference {reference:?}: {reason}; expected [registry/]repository[:tag][@sha256:digest]"
    )]
    BadReference {
        /// The text given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// JSON in a manifest, index or metadata file is not what the format requires.
    #[error("{what}: invalid JSON: {source}")]
    Json {
        /// Which document.
        what: String,
        /// The parser error.
        source: serde_json::Error,
    },
    /// The OCI layout or release directory is not usable.
    #[error("{path}: {reason}")]
    Layout {
        /// The layout directory or file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A registry request failed at the transport level (connect, TLS, timeout).
    #[error("registry {registry}: {action} failed: {cause}{hint}")]
    Transport {
        /// Registry host.
        registry: String,
        /// What berth was doing.
        action: String,
        /// The error chain, flattened.
        cause: String,
        /// Extra advice (for example about certificates).
        hint: String,
    },
    /// The registry answered with an unexpected HTTP status.
    #[error("registry {registry}: {action} returned HTTP {status}: {body}{hint}")]
    Registry {
        /// Registry host.
        registry: String,
        /// What berth was doing.
        action: String,
        /// HTTP status code.
        status: u16,
        /// The start of the body (registry error JSON).
        body: String,
        /// Extra advice.
        hint: String,
    },
    /// A registry's tag-list pages that berth will not follow (another host, a loop, no end).
    #[error("registry {registry}: {action}: {reason}")]
    Paging {
        /// Registry host.
        registry: String,
        /// What berth was doing.
        action: String,
        /// Why the walk stopped.
        reason: String,
    },
    /// Credentials or the auth challenge could not be used.
    #[error("registry {registry}: authentication failed: {reason}")]
    Auth {
        /// Registry host.
        registry: String,
        /// Why, and what to do.
        reason: String,
    },
    /// No manifest in an index matches the requested platform.
    #[error(
        "{reference}: no manifest for platform {platform} in the index (available: {available})"
    )]
    NoPlatform {
        /// The image.
        reference: String,
        /// Platform asked for.
        platform: String,
        /// Platforms present.
        available: String,
    },
    /// A bundle file is malformed, corrupted or not trusted.
    #[error("bundle {path}: {reason}")]
    Bundle {
        /// The bundle file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A signing key could not be read or used.
    #[error("key {path}: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Input to release building is wrong (bad objects, missing version, ...).
    #[error("release: {0}")]
    Release(String),
    /// Bad command-line style input (flags, addresses, platform strings).
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// An I/O error on `path` with a fix suggestion.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let hint = match source.kind() {
            std::io::ErrorKind::NotFound => "check the path exists",
            std::io::ErrorKind::PermissionDenied => "check file permissions",
            std::io::ErrorKind::StorageFull => {
                "free disk space or write elsewhere; nothing partial was kept"
            }
            std::io::ErrorKind::UnexpectedEof => "the file is truncated; copy it again",
            _ if source.raw_os_error() == Some(28) => {
                "the disk is full: free space or write elsewhere; nothing partial was kept"
            }
            _ => "check the path and the disk",
        };
        Error::Io {
            path: path.into(),
            source,
            hint,
        }
    }

    /// A JSON error on the named document.
    pub fn json(what: impl Into<String>, source: serde_json::Error) -> Self {
        Error::Json {
            what: what.into(),
            source,
        }
    }
}
