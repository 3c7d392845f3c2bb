//! Errors of the snapshot repository; each names the file or item concerned.

use std::path::PathBuf;

/// Everything that can go wrong in a repository operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write on the backend or the local disk failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the file.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No key file opened with the given secret.
    #[error(
        "no key in keys/ opens this repository with the given password or key file; check the password (BERTH_REPO_PASSWORD / --password-file) or --key-file"
    )]
    WrongKey,
    /// A file of the repository is damaged or was not written by berth.
    #[error("{file}: {reason}")]
    Corrupt {
        /// The file in the repository, e.g. `packs/ab/ab12…`.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The location holds no repository.
    #[error(
        "{0} is not a berth snapshot repository (no config file); create one with `berth snapshot init`"
    )]
    NotARepository(String),
    /// `init` found an existing repository.
    #[error("{0} already holds a snapshot repository; open it instead of initialising it again")]
    AlreadyExists(String),
    /// No snapshot matches the given id or prefix.
    #[error("no snapshot with id {0}; list them with `berth snapshot list`")]
    SnapshotNotFound(String),
    /// Several snapshots match the prefix.
    #[error("snapshot id prefix {0} matches several snapshots; give more digits")]
    AmbiguousSnapshot(String),
    /// The restore target exists and is not an empty directory.
    #[error("restore target {0} is not an empty directory; restore into a new or empty directory")]
    TargetNotEmpty(PathBuf),
    /// A snapshot item would be written outside the restore target.
    #[error("snapshot item {path:?} refused: {reason}; nothing was restored")]
    UnsafePath {
        /// The item path as stored in the snapshot.
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// A caller passed an invalid value.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }
    pub(crate) fn corrupt(file: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            file: file.into(),
            reason: reason.into(),
        }
    }
}
