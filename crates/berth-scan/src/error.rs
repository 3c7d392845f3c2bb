//! The error type of the crate: each variant names the place and what to do.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while finding packages, loading advisories or policies.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Input that is not what it claims to be (names the document and the field).
    #[error("{what}: {reason}")]
    Invalid {
        /// The file, layer entry or field.
        what: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Input above a safety limit (decompression bombs, huge database files).
    #[error("{what} is larger than the limit of {limit} bytes; refusing it")]
    TooLarge {
        /// What was too large.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// An error from the OCI layer (layout, manifest, digest).
    #[error(transparent)]
    Oci(#[from] berth_oci::Error),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Invalid input at `what`.
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}
