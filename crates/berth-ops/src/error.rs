//! The one error type of every operation, with the class a front end maps to its own codes
//! (the CLI's exit codes, the console's HTTP statuses).

use berth_deploy::engine::DeployError;

/// What kind of failure an error is, for front ends: the CLI maps these to its exit codes
/// (bad input 2, not installed 5, failed 1), the console to 400 / 404 / 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    /// The user's to fix: a missing or invalid file, flag combination, config value or spec.
    BadInput,
    /// The app has no revision in the namespace.
    NotInstalled,
    /// The operation was tried and failed (cluster unreachable, push refused, I/O...).
    Failed,
}

/// An operation's error. Messages name the file, object or flag and say what to do; the
/// source chain is kept (print it with every `source()`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input problem that is the user's to fix; the message names it and the fix.
    #[error("{0}")]
    BadInput(String),
    /// The app is not installed in the namespace; the message says where it is instead.
    #[error("{0}")]
    NotInstalled(String),
    /// The deploy engine's error.
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// Spec files given to preflight, support-bundle or analyze have errors; each one was
    /// reported as an [`crate::Event::SpecProblem`] before.
    #[error("{count} problem(s) in the troubleshoot specs")]
    SpecProblems {
        /// How many errors.
        count: usize,
    },
    /// A troubleshoot spec (or its values) could not be read: the cause says which and why.
    #[error(transparent)]
    Spec(Box<Error>),
    /// A Redactor spec is invalid.
    #[error("{0}")]
    Redactor(String),
    /// Cluster collectors were asked for and no cluster could be reached.
    #[error("no Kubernetes cluster to run the cluster collectors ({collectors}) against: {cause}")]
    NoCluster {
        /// The collectors that need a cluster, comma-separated.
        collectors: String,
        /// Why the cluster could not be used (which kubeconfig, context and server were tried).
        cause: String,
    },
    /// A step failed; `context` says which, `source` why.
    #[error("{context}")]
    Context {
        /// What was being done ("bundle hello.bundle is not usable").
        context: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// Any other failure of a library berth-ops calls (kept whole, with its own chain).
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The operation failed; the message says why.
    #[error("{0}")]
    Failed(String),
    /// The caller cancelled the operation before it changed anything more.
    #[error("cancelled")]
    Cancelled,
}

/// Operations' result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The class of this error (also of a cause wrapped by [`Error::Context`]).
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::BadInput(_)
            | Error::SpecProblems { .. }
            | Error::Spec(_)
            | Error::Redactor(_) => ErrorClass::BadInput,
            Error::NotInstalled(_) => ErrorClass::NotInstalled,
            Error::Deploy(d) => deploy_class(d),
            Error::Context { source, .. } | Error::Other(source) => {
                if let Some(e) = source.downcast_ref::<Error>() {
                    e.class()
                } else if let Some(d) = source.downcast_ref::<DeployError>() {
                    deploy_class(d)
                } else {
                    ErrorClass::Failed
                }
            }
            Error::NoCluster { .. } | Error::Failed(_) | Error::Cancelled => ErrorClass::Failed,
        }
    }

    /// Wrap any error.
    pub fn other(e: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::Other(Box::new(e))
    }

    /// Wrap an error with what was being done.
    pub fn context(
        context: impl Into<String>,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Context {
            context: context.into(),
            source: Box::new(e),
        }
    }
}

/// The class of a deploy engine error: input problems the user can fix, the app missing, or
/// a failure.
fn deploy_class(d: &DeployError) -> ErrorClass {
    match d {
        DeployError::NotInstalled { .. } => ErrorClass::NotInstalled,
        DeployError::Invalid(_)
        | DeployError::Refused(_)
        | DeployError::AlreadyInstalled { .. }
        | DeployError::BadRevision { .. } => ErrorClass::BadInput,
        _ => ErrorClass::Failed,
    }
}

/// `.ctx("what was being done")` on any result whose error berth-ops wraps.
pub(crate) trait ResultExt<T> {
    /// Wrap the error with `context`.
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> ResultExt<T> for std::result::Result<T, E> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::context(context(), e))
    }
}

macro_rules! from_other {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Error {
                Error::other(e)
            }
        }
    )*};
}

/// berth-oci's usage errors (a file given that is not what the flag wants) are the user's to
/// fix; every other one is a failure.
impl From<berth_oci::Error> for Error {
    fn from(e: berth_oci::Error) -> Error {
        match e {
            berth_oci::Error::Usage(m) => Error::BadInput(m),
            e => Error::other(e),
        }
    }
}

from_other!(
    berth_deploy::ClusterError,
    berth_troubleshoot::bundle::BundleError,
    berth_troubleshoot::run::RunError,
    std::io::Error,
    serde_json::Error,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_cause() {
        let e = Error::Deploy(DeployError::NotInstalled {
            app: "hello".into(),
            namespace: "hello".into(),
        });
        assert_eq!(e.class(), ErrorClass::NotInstalled);
        let e = Error::context("reading x", Error::BadInput("bad".into()));
        assert_eq!(e.class(), ErrorClass::BadInput, "through the context");
        let e = Error::context("reading x", std::io::Error::other("disk"));
        assert_eq!(e.class(), ErrorClass::Failed);
        assert_eq!(
            Error::SpecProblems { count: 2 }.class(),
            ErrorClass::BadInput
        );
    }
}
