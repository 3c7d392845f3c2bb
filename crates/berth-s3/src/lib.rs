//! A small client for S3-compatible object stores (AWS S3, SeaweedFS, MinIO, Ceph RGW…):
//! path-style requests signed with AWS Signature Version 4, bodies streamed from files or
//! memory, downloads streamed to the caller. Only what berth's stores need: put, get (whole or
//! a range), head, delete, list, create bucket.
//!
//! A location is written `s3://bucket/prefix?endpoint=URL&region=REGION`; credentials come from
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`.

pub mod sign;
#[cfg(feature = "test-support")]
pub mod testing;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;

/// Where objects live, and how to reach the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The bucket.
    pub bucket: String,
    /// Key prefix inside the bucket (no leading or trailing `/`; may be empty).
    pub prefix: String,
    /// Base URL of the service, e.g. `http://127.0.0.1:8333`.
    pub endpoint: String,
    /// Signing region (`us-east-1` for most S3-compatible servers).
    pub region: String,
}

impl Location {
    /// Parses `s3://bucket[/prefix]?endpoint=URL[&region=REGION]`. Without `endpoint`, AWS's
    /// regional endpoint is used; without `region`, `us-east-1`.
    pub fn parse(s: &str) -> Result<Location, Error> {
        let bad = |why: &str| Error::Location {
            location: s.to_string(),
            why: why.to_string(),
        };
        let url = url::Url::parse(s).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "s3" {
            return Err(bad("it does not start with s3://"));
        }
        let bucket = url.host_str().unwrap_or_default().to_string();
        if bucket.is_empty() {
            return Err(bad("it names no bucket (s3://BUCKET/prefix)"));
        }
        let prefix = url.path().trim_matches('/').to_string();
        let (mut endpoint, mut region) = (None, None);
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "endpoint" => endpoint = Some(v.into_owned()),
                "region" => region = Some(v.into_owned()),
                other => {
                    return Err(bad(&format!(
                        "unknown parameter {other:?}; use endpoint and region"
                    )));
                }
            }
        }
        let region = region.unwrap_or_else(|| "us-east-1".to_string());
        let endpoint = endpoint.unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let e = url::Url::parse(&endpoint).map_err(|e| bad(&format!("endpoint: {e}")))?;
        if !matches!(e.scheme(), "http" | "https") || e.host_str().is_none() {
            return Err(bad(
                "the endpoint must be an http:// or https:// URL with a host",
            ));
        }
        Ok(Location {
            bucket,
            prefix,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region,
        })
    }

    /// The location written back as `s3://…` (no credentials are ever part of it).
    pub fn display(&self) -> String {
        format!(
            "s3://{}/{}?endpoint={}&region={}",
            self.bucket, self.prefix, self.endpoint, self.region
        )
    }
}

/// Access key and secret.
#[derive(Clone)]
pub struct Credentials {
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials {{ access_key: {:?}, .. }}", self.access_key)
    }
}

impl Credentials {
    /// From `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
    pub fn from_env() -> Result<Credentials, Error> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key), Some(secret_key)) => Ok(Credentials {
                access_key,
                secret_key,
                session_token: get("AWS_SESSION_TOKEN"),
            }),
            _ => Err(Error::NoCredentials),
        }
    }
}

/// Why a request failed. [`Error::is_transient`] says whether trying again may help.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("S3 location {location:?} is not valid: {why}")]
    Location { location: String, why: String },
    #[error(
        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)"
    )]
    NoCredentials,
    #[error("{what}: not found")]
    NotFound { what: String },
    #[error("{what}: access denied (HTTP {status} {code}); check the credentials and the region")]
    Denied {
        what: String,
        status: u16,
        code: String,
    },
    #[error("{what}: the store answered HTTP {status} {code}")]
    Status {
        what: String,
        status: u16,
        code: String,
    },
    #[error("{what}: {reason}")]
    Network { what: String, reason: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl Error {
    /// A timeout, a broken connection, throttling or a 5xx: the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Network { .. } => true,
            Error::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// A body to upload.
pub enum Body {
    /// Bytes in memory (hashed here).
    Bytes(Bytes),
    /// A file, streamed, with its length and the hex SHA-256 of its content when known
    /// (otherwise the payload is sent unsigned: the transport's TLS protects it).
    File {
        path: std::path::PathBuf,
        len: u64,
        sha256: Option<String>,
    },
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The key below the location's prefix.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, as the store reports it (None when it reports nothing).
    pub modified: Option<std::time::SystemTime>,
}

/// A connection to one location.
#[derive(Debug, Clone)]
pub struct Client {
    loc: Location,
    creds: Credentials,
    http: reqwest::Client,
}

impl Client {
    /// A client; nothing is sent until the first request.
    pub fn new(loc: Location, creds: Credentials) -> Result<Client, Error> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| Error::Network {
                what: "building the HTTP client".into(),
                reason: e.to_string(),
            })?;
        Ok(Client { loc, creds, http })
    }

    /// The location this client talks to.
    pub fn location(&self) -> &Location {
        &self.loc
    }

    fn key(&self, name: &str) -> String {
        if self.loc.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.loc.prefix)
        }
    }

    /// Builds a signed request for `key` (None: the bucket itself).
    fn request(
        &self,
        method: reqwest::Method,
        key: Option<&str>,
        query: &[(String, String)],
        payload_hash: &str,
    ) -> Result<reqwest::RequestBuilder, Error> {
        let mut path = format!("/{}", sign::uri_encode(&self.loc.bucket, false));
        if let Some(k) = key {
            path.push('/');
            path.push_str(&sign::uri_encode(k, true));
        }
        let qs = sign::canonical_query(query);
        let url_str = if qs.is_empty() {
            format!("{}{path}", self.loc.endpoint)
        } else {
            format!("{}{path}?{qs}", self.loc.endpoint)
        };
        let url = url::Url::parse(&url_str).map_err(|e| Error::Location {
            location: url_str.clone(),
            why: e.to_string(),
        })?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => {
                return Err(Error::Location {
                    location: self.loc.endpoint.clone(),
                    why: "the endpoint has no host".into(),
                });
            }
        };
        let amz_date = Timestamp::now()
            .to_zoned(TimeZone::UTC)
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let headers = sign::sign(
            &sign::Request {
                method: method.as_str(),
                path: url.path(),
                query,
                host: &host,
                payload_hash,
                session_token: self.creds.session_token.as_deref(),
            },
            &self.creds.access_key,
            &self.creds.secret_key,
            &self.loc.region,
            &amz_date,
        );
        let mut req = self.http.request(method, url);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        Ok(req)
    }

    fn what(&self, method: &str, name: &str) -> String {
        format!("{method} s3://{}/{}", self.loc.bucket, self.key(name))
    }

    /// Sends and turns non-2xx answers into errors.
    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        what: String,
    ) -> Result<reqwest::Response, Error> {
        let resp = req.send().await.map_err(|e| net_error(&what, &e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        let code = xml_values(&body, "Code")
            .into_iter()
            .next()
            .unwrap_or_default();
        Err(match status.as_u16() {
            404 => Error::NotFound { what },
            401 | 403 => Error::Denied {
                what,
                status: status.as_u16(),
                code,
            },
            s => Error::Status {
                what,
                status: s,
                code,
            },
        })
    }

    /// Stores `name` (atomically: S3 shows an object whole or not at all).
    pub async fn put(&self, name: &str, body: Body) -> Result<(), Error> {
        let what = self.what("PUT", name);
        let key = self.key(name);
        let req = match body {
            Body::Bytes(b) => {
                let hash = hex::encode(Sha256::digest(&b));
                self.request(reqwest::Method::PUT, Some(&key), &[], &hash)?
                    .header("content-length", b.len())
                    .body(b)
            }
            Body::File { path, len, sha256 } => {
                let hash = sha256.unwrap_or_else(|| sign::UNSIGNED_PAYLOAD.to_string());
                let f = tokio::fs::File::open(&path)
                    .await
                    .map_err(|source| Error::Io {
                        what: format!("open {}", path.display()),
                        source,
                    })?;
                let stream = tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024);
                self.request(reqwest::Method::PUT, Some(&key), &[], &hash)?
                    .header("content-length", len)
                    .body(reqwest::Body::wrap_stream(stream))
            }
        };
        self.send(req, what).await.map(|_| ())
    }

    /// The size of `name`, or None when it does not exist.
    pub async fn head(&self, name: &str) -> Result<Option<u64>, Error> {
        let what = self.what("HEAD", name);
        let req = self.request(
            reqwest::Method::HEAD,
            Some(&self.key(name)),
            &[],
            EMPTY_SHA256,
        )?;
        match self.send(req, what).await {
            Ok(r) => Ok(r
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The content of `name` (or `len` bytes from `offset`), streamed.
    pub async fn get(
        &self,
        name: &str,
        range: Option<(u64, u64)>,
    ) -> Result<impl Stream<Item = Result<Bytes, Error>> + use<>, Error> {
        let what = self.what("GET", name);
        let mut req = self.request(
            reqwest::Method::GET,
            Some(&self.key(name)),
            &[],
            EMPTY_SHA256,
        )?;
        if let Some((off, len)) = range {
            req = req.header("range", format!("bytes={off}-{}", off + len.max(1) - 1));
        }
        let resp = self.send(req, what.clone()).await?;
        Ok(resp.bytes_stream().map_err(move |e| net_error(&what, &e)))
    }

    /// The whole content of a small object.
    pub async fn get_bytes(&self, name: &str) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        let mut s = std::pin::pin!(self.get(name, None).await?);
        while let Some(chunk) = s.try_next().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// Downloads `name` into `path` (created or truncated); returns the bytes written.
    pub async fn get_to_file(&self, name: &str, path: &Path) -> Result<u64, Error> {
        use tokio::io::AsyncWriteExt as _;
        let io = |source| Error::Io {
            what: format!("write {}", path.display()),
            source,
        };
        let mut f = tokio::fs::File::create(path).await.map_err(io)?;
        let mut s = std::pin::pin!(self.get(name, None).await?);
        let mut n = 0u64;
        while let Some(chunk) = s.try_next().await? {
            f.write_all(&chunk).await.map_err(io)?;
            n += chunk.len() as u64;
        }
        f.flush().await.map_err(io)?;
        Ok(n)
    }

    /// Deletes `name` (deleting a missing object succeeds, as in S3).
    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        let what = self.what("DELETE", name);
        let req = self.request(
            reqwest::Method::DELETE,
            Some(&self.key(name)),
            &[],
            EMPTY_SHA256,
        )?;
        match self.send(req, what).await {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every object whose name starts with `dir` (names relative to the location's prefix),
    /// following continuation tokens.
    pub async fn list(&self, dir: &str) -> Result<Vec<Object>, Error> {
        let full = self.key(dir);
        let strip = if self.loc.prefix.is_empty() {
            0
        } else {
            self.loc.prefix.len() + 1
        };
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![
                ("list-type".to_string(), "2".to_string()),
                ("prefix".to_string(), full.clone()),
            ];
            if let Some(t) = &token {
                q.push(("continuation-token".to_string(), t.clone()));
            }
            let req = self.request(reqwest::Method::GET, None, &q, EMPTY_SHA256)?;
            let what = self.what("LIST", dir);
            let body = self
                .send(req, what.clone())
                .await?
                .text()
                .await
                .map_err(|e| net_error(&what, &e))?;
            for c in xml_values(&body, "Contents") {
                let key = xml_values(&c, "Key").into_iter().next().unwrap_or_default();
                let size = xml_values(&c, "Size")
                    .into_iter()
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let modified = xml_values(&c, "LastModified")
                    .first()
                    .and_then(|s| s.parse::<Timestamp>().ok())
                    .map(std::time::SystemTime::from);
                if key.len() >= strip {
                    out.push(Object {
                        name: key[strip..].to_string(),
                        size,
                        modified,
                    });
                }
            }
            let truncated =
                xml_values(&body, "IsTruncated").first().map(String::as_str) == Some("true");
            token = xml_values(&body, "NextContinuationToken")
                .into_iter()
                .next();
            if !truncated || token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Creates the bucket when it does not exist yet.
    pub async fn ensure_bucket(&self) -> Result<(), Error> {
        let what = format!("create bucket {}", self.loc.bucket);
        let req = self.request(reqwest::Method::HEAD, None, &[], EMPTY_SHA256)?;
        if self.send(req, what.clone()).await.is_ok() {
            return Ok(());
        }
        let req = self.request(reqwest::Method::PUT, None, &[], EMPTY_SHA256)?;
        match self.send(req, what).await {
            Ok(_) => Ok(()),
            // Another process created it in between.
            Err(Error::Status { status: 409, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// SHA-256 of the empty body.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn net_error(what: &str, e: &reqwest::Error) -> Error {
    let mut reason = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        reason.push_str(&format!(": {s}"));
        src = s.source();
    }
    Error::Network {
        what: what.to_string(),
        reason,
    }
}

/// The texts of every `<tag>…</tag>` element (no attributes, no nesting of the same tag),
/// with the five XML entities decoded. Enough for ListObjectsV2 and error answers.
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else {
            break;
        };
        out.push(
            after[..j]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &after[j + close.len()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_with_defaults_and_refuse_nonsense() {
        let l =
            Location::parse("s3://releases/vendor/a?endpoint=http://127.0.0.1:8333&region=eu-1")
                .unwrap();
        assert_eq!(l.bucket, "releases");
        assert_eq!(l.prefix, "vendor/a");
        assert_eq!(l.endpoint, "http://127.0.0.1:8333");
        assert_eq!(l.region, "eu-1");
        let d = Location::parse("s3://b").unwrap();
        assert_eq!(d.endpoint, "https://s3.us-east-1.amazonaws.com");
        assert_eq!(d.prefix, "");
        for bad in [
            "http://b/x",
            "s3:///x",
            "s3://b?endpoint=ftp://h",
            "s3://b?acl=public",
        ] {
            let e = Location::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn listing_answers_are_read_with_entities() {
        let xml = "<ListBucketResult><Contents><Key>p/a&amp;b</Key><Size>3</Size></Contents>\
                   <IsTruncated>false</IsTruncated></ListBucketResult>";
        let c = xml_values(xml, "Contents");
        assert_eq!(xml_values(&c[0], "Key"), vec!["p/a&b"]);
    }
}
