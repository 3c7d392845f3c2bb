//! Repository locations as the command line names them (`--repo`), and opening the backend
//! behind one (format section 12).
//!
//! - a path (`/mnt/backups/hello`, `./repo`, `file:///mnt/backups/hello`): a directory;
//! - `s3://bucket/prefix?endpoint=http://127.0.0.1:8333&region=us-east-1`: S3-compatible
//!   storage (endpoint default `https://s3.<region>.amazonaws.com`, region default `us-east-1`);
//! - `sftp://user@host:port/path`: a directory on an SFTP server (port default 22; the path
//!   is absolute, `sftp://u@h/~/x` for one relative to the login directory).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{Backend, LocalBackend};
use crate::fault::ExitAtBackend;
use crate::retry::{RetryBackend, RetryPolicy};
use crate::s3::{S3Backend, S3Credentials, S3Location};
use crate::sftp::{SftpBackend, SftpLocation, SftpOptions};
use crate::{Error, Result};

/// A parsed `--repo` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoLocation {
    /// A local directory (a disk, an NFS or SAN mount).
    Local(PathBuf),
    /// An S3-compatible bucket and prefix.
    S3(S3Location),
    /// A directory on an SFTP server.
    Sftp(SftpLocation),
}

impl RepoLocation {
    /// Parses a `--repo` value; the error names the part that is wrong and the expected form.
    pub fn parse(s: &str) -> Result<RepoLocation> {
        let bad = |why: &str| Error::Invalid(format!("--repo {s:?}: {why}"));
        if s.is_empty() {
            return Err(bad("empty; give a directory or s3://bucket/prefix"));
        }
        if let Some(rest) = s.strip_prefix("file://") {
            return Ok(RepoLocation::Local(PathBuf::from(rest)));
        }
        if s.starts_with("s3://") {
            return S3Location::parse(s)
                .map(RepoLocation::S3)
                .map_err(|e| Error::Invalid(format!("--repo: {e}")));
        }
        if s.starts_with("sftp://") {
            let url = url::Url::parse(s).map_err(|e| bad(&format!("not a URL: {e}")))?;
            if url.password().is_some() {
                return Err(bad(
                    "a password in the URL would show in process lists and logs; remove it and set BERTH_SFTP_PASSWORD or --sftp-password-file",
                ));
            }
            let host = url.host_str().unwrap_or_default().to_string();
            let user = url.username().to_string();
            if host.is_empty() || user.is_empty() {
                return Err(bad("expected sftp://user@host:port/path"));
            }
            let raw_path = url.path();
            // `/~/x` is relative to the login directory.
            let path = match raw_path.strip_prefix("/~") {
                Some(rest) => rest.trim_start_matches('/').to_string(),
                None => raw_path.to_string(),
            };
            if path.is_empty() || path == "/" {
                return Err(bad(
                    "give the repository directory, e.g. sftp://backup@host:22/srv/backups/hello",
                ));
            }
            return Ok(RepoLocation::Sftp(SftpLocation {
                user,
                host,
                port: url.port().unwrap_or(22),
                path,
            }));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(bad(&format!(
                "the {scheme}:// scheme is not supported; use a directory, s3:// or sftp://"
            )));
        }
        Ok(RepoLocation::Local(PathBuf::from(s)))
    }
}

/// What a backend needs beyond its location.
#[derive(Debug, Clone, Default)]
pub struct BackendOptions {
    /// S3 credentials (required for `s3://`).
    pub s3: Option<S3Credentials>,
    /// SFTP login and host-key check (required for `sftp://`).
    pub sftp: Option<SftpOptions>,
    /// How long transient errors of a network store are retried (default 2 minutes).
    pub retry_budget: Option<Duration>,
}

/// Opens the backend of a location. Network stores are wrapped in retries with back-off;
/// with `create`, a missing S3 bucket is created (for `init`).
pub fn open_backend(
    loc: &RepoLocation,
    opts: &BackendOptions,
    create: bool,
) -> Result<Arc<dyn Backend>> {
    let policy = RetryPolicy {
        budget: opts.retry_budget.unwrap_or(RetryPolicy::default().budget),
        ..RetryPolicy::default()
    };
    let backend = open_plain(loc, opts, policy, create)?;
    // The crash trials' hook (a no-op unless the test variable is set).
    if std::env::var_os("BERTH_TEST_SNAPSHOT_EXIT_AT").is_some() {
        return Ok(Arc::new(ExitAtBackend::from_env(backend)));
    }
    Ok(backend)
}

fn open_plain(
    loc: &RepoLocation,
    opts: &BackendOptions,
    policy: RetryPolicy,
    create: bool,
) -> Result<Arc<dyn Backend>> {
    match loc {
        RepoLocation::Local(p) => Ok(Arc::new(LocalBackend::new(p))),
        RepoLocation::S3(l) => {
            let creds = opts.s3.clone().ok_or_else(|| {
                Error::Invalid(
                    "an s3:// repository needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
                )
            })?;
            let b = S3Backend::new(l.clone(), creds)
                .map_err(|e| Error::io(format!("opening s3://{}", l.bucket), e))?;
            let b = RetryBackend::new(b, policy);
            if create {
                b.run_op("creating the bucket", |s| s.ensure_bucket())
                    .map_err(|e| Error::io(format!("creating bucket {}", l.bucket), e))?;
            }
            Ok(Arc::new(b))
        }
        RepoLocation::Sftp(l) => {
            let o = opts.sftp.clone().ok_or_else(|| {
                Error::Invalid(
                    "an sftp:// repository needs a login: --sftp-identity KEY or BERTH_SFTP_PASSWORD, and a host key check".into(),
                )
            })?;
            let b = SftpBackend::new(l.clone(), o)
                .map_err(|e| Error::io(format!("opening sftp://{}", l.host), e))?;
            Ok(Arc::new(RetryBackend::new(b, policy)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_with_defaults_and_errors_name_the_problem() {
        assert_eq!(
            RepoLocation::parse("/mnt/b").unwrap(),
            RepoLocation::Local("/mnt/b".into())
        );
        assert_eq!(
            RepoLocation::parse("file:///mnt/b").unwrap(),
            RepoLocation::Local("/mnt/b".into())
        );
        let RepoLocation::S3(l) = RepoLocation::parse(
            "s3://bk/a/b/?endpoint=http%3A%2F%2F127.0.0.1%3A8333&region=eu-west-1",
        )
        .unwrap() else {
            panic!("not s3")
        };
        assert_eq!(
            (
                l.bucket.as_str(),
                l.prefix.as_str(),
                l.endpoint.as_str(),
                l.region.as_str()
            ),
            ("bk", "a/b", "http://127.0.0.1:8333", "eu-west-1")
        );
        let RepoLocation::S3(l) = RepoLocation::parse("s3://bk").unwrap() else {
            panic!("not s3")
        };
        assert_eq!(l.endpoint, "https://s3.us-east-1.amazonaws.com");
        assert_eq!(l.prefix, "");
        assert_eq!(
            RepoLocation::parse("sftp://backup@host:2222/srv/hello").unwrap(),
            RepoLocation::Sftp(SftpLocation {
                user: "backup".into(),
                host: "host".into(),
                port: 2222,
                path: "/srv/hello".into()
            })
        );
        let RepoLocation::Sftp(l) = RepoLocation::parse("sftp://b@h/~/repo").unwrap() else {
            panic!("not sftp")
        };
        assert_eq!((l.port, l.path.as_str()), (22, "repo"));
        for (bad, needle) in [
            ("sftp://b:secret@h/x", "password in the URL"),
            ("sftp://h/x", "user@host"),
            ("sftp://b@h/", "repository directory"),
            ("s3://bk/p?endpont=x", "endpont"),
            ("s3://bk/p?endpoint=ftp://x", "http"),
            ("gopher://x/y", "gopher"),
            ("", "empty"),
        ] {
            let e = RepoLocation::parse(bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }
}
