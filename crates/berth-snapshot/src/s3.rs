//! An S3-compatible object store as a [`Backend`], over berth-s3's SigV4 client (path-style
//! requests, payload hash signed, rustls).
//!
//! A PUT is atomic in S3 (an object is visible whole or not at all), so the repository's
//! write-once files need no temporary names there. The backend is synchronous, like every
//! [`Backend`]; it drives the async client on a small runtime of its own.

use std::io;
use std::time::SystemTime;

use bytes::Bytes;
use futures::TryStreamExt as _;

pub use berth_s3::{Credentials as S3Credentials, Location as S3Location};

use crate::backend::{Backend, FileInfo};
use crate::retry::transient;

/// A repository under a bucket prefix.
pub struct S3Backend {
    client: berth_s3::Client,
    rt: tokio::runtime::Runtime,
}

impl S3Backend {
    /// Connects lazily: nothing is sent until the first operation.
    pub fn new(loc: S3Location, creds: S3Credentials) -> io::Result<S3Backend> {
        url::Url::parse(&loc.endpoint).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("S3 endpoint {:?} is not a URL: {e}", loc.endpoint),
            )
        })?;
        let client = berth_s3::Client::new(loc, creds).map_err(io_error)?;
        // Several backup threads may call at once: two workers drive their requests.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(S3Backend { client, rt })
    }

    /// Creates the bucket when it does not exist yet (for `init`); an existing bucket is fine.
    pub fn ensure_bucket(&self) -> io::Result<()> {
        self.rt
            .block_on(self.client.ensure_bucket())
            .map_err(io_error)
    }

    /// The object's bytes, or `len` bytes of it from `offset`.
    fn get(&self, name: &str, range: Option<(u64, u64)>) -> io::Result<Vec<u8>> {
        self.rt
            .block_on(async {
                let stream = self.client.get(name, range).await?;
                let chunks: Vec<Bytes> = stream.try_collect().await?;
                Ok::<_, berth_s3::Error>(chunks.concat())
            })
            .map_err(io_error)
    }
}

/// berth-s3's error as the `io::Error` the repository code classifies: missing objects are
/// `NotFound`, refused credentials `PermissionDenied`, and whatever berth-s3 calls transient
/// (network trouble, throttling, 5xx) is retried by [`crate::retry`].
fn io_error(e: berth_s3::Error) -> io::Error {
    use berth_s3::Error as E;
    let msg = e.to_string();
    match e {
        _ if e.is_transient() => transient(msg),
        E::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, msg),
        E::Denied { .. } => io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{msg} (from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"),
        ),
        E::NoCredentials => io::Error::new(io::ErrorKind::PermissionDenied, msg),
        E::Location { .. } => io::Error::new(io::ErrorKind::InvalidInput, msg),
        E::Io { source, .. } => io::Error::new(source.kind(), msg),
        E::Status { .. } | E::Network { .. } => io::Error::other(msg),
    }
}

impl Backend for S3Backend {
    fn location(&self) -> String {
        let loc = self.client.location();
        format!("s3://{}/{} at {}", loc.bucket, loc.prefix, loc.endpoint)
    }

    fn write(&self, name: &str, data: &[u8]) -> io::Result<()> {
        let body = berth_s3::Body::Bytes(Bytes::copy_from_slice(data));
        self.rt
            .block_on(self.client.put(name, body))
            .map_err(io_error)
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        self.get(name, None)
    }

    fn read_at(&self, name: &str, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        if len == 0 {
            return Ok(vec![]);
        }
        let body = self.get(name, Some((offset, len)))?;
        // A server that ignores Range answers with the whole object.
        let body = if body.len() as u64 > len {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            body.get(start..).map(<[u8]>::to_vec).unwrap_or_default()
        } else {
            body
        };
        if (body.len() as u64) < len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{name}: {len} bytes at {offset} asked, the object is shorter"),
            ));
        }
        let mut body = body;
        body.truncate(len as usize);
        Ok(body)
    }

    fn size(&self, name: &str) -> io::Result<u64> {
        match self.rt.block_on(self.client.head(name)).map_err(io_error)? {
            Some(n) => Ok(n),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: {name} not found", self.location()),
            )),
        }
    }

    fn list(&self, dir: &str) -> io::Result<Vec<FileInfo>> {
        let objects = self
            .rt
            .block_on(self.client.list(&format!("{dir}/")))
            .map_err(io_error)?;
        let mut out: Vec<FileInfo> = objects
            .into_iter()
            .map(|o| FileInfo {
                name: o.name,
                size: o.size,
                modified: o.modified.unwrap_or(SystemTime::UNIX_EPOCH),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.rt.block_on(self.client.delete(name)).map_err(io_error)
    }

    fn exists(&self, name: &str) -> io::Result<bool> {
        Ok(self
            .rt
            .block_on(self.client.head(name))
            .map_err(io_error)?
            .is_some())
    }
}
