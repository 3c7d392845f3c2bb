//! An S3-compatible object store as a [`Backend`]: path-style requests signed with AWS
//! Signature Version 4 (SigV4, payload hash included), over reqwest with rustls (ring).
//!
//! A PUT is atomic in S3 (an object is visible whole or not at all), so the repository's
//! write-once files need no temporary names there.

use std::io;
use std::time::{Duration, SystemTime};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use sha2::{Digest, Sha256};

use crate::backend::{Backend, FileInfo};
use crate::retry::transient;

/// Where the repository lives in a bucket, and how to reach the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// Key prefix inside the bucket (no leading or trailing `/`; may be empty).
    pub prefix: String,
    /// Base URL of the service, e.g. `http://127.0.0.1:8333` or `https://s3.eu-west-1.amazonaws.com`.
    pub endpoint: String,
    /// Signing region (`us-east-1` for most S3-compatible servers).
    pub region: String,
}

/// Access key and secret (from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`).
#[derive(Clone)]
pub struct S3Credentials {
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// Session token for temporary credentials (`AWS_SESSION_TOKEN`).
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "S3Credentials {{ access_key: {:?}, .. }}",
            self.access_key
        )
    }
}

/// A repository under a bucket prefix.
pub struct S3Backend {
    loc: S3Location,
    creds: S3Credentials,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl S3Backend {
    /// Connects lazily: nothing is sent until the first operation.
    pub fn new(loc: S3Location, creds: S3Credentials) -> io::Result<S3Backend> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        url::Url::parse(&loc.endpoint).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("S3 endpoint {:?} is not a URL: {e}", loc.endpoint),
            )
        })?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| io::Error::other(format!("building the HTTP client: {e}")))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(S3Backend {
            loc,
            creds,
            http,
            rt,
        })
    }

    fn key(&self, name: &str) -> String {
        if self.loc.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.loc.prefix)
        }
    }

    /// Sends one signed request; returns the status and body. Non-2xx answers become errors
    /// (404 → NotFound, 5xx/429 → transient).
    fn send(
        &self,
        method: reqwest::Method,
        key: Option<&str>,
        query: &[(&str, String)],
        body: Vec<u8>,
        range: Option<(u64, u64)>,
    ) -> io::Result<(reqwest::StatusCode, Vec<u8>, reqwest::header::HeaderMap)> {
        let mut path = format!("/{}", uri_encode(&self.loc.bucket, false));
        if let Some(k) = key {
            path.push('/');
            path.push_str(&uri_encode(k, true));
        }
        let base = self.loc.endpoint.trim_end_matches('/');
        let mut q: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
            .collect();
        q.sort();
        let query_str = q
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let url_str = if query_str.is_empty() {
            format!("{base}{path}")
        } else {
            format!("{base}{path}?{query_str}")
        };
        let url = url::Url::parse(&url_str)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{url_str}: {e}")))?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("S3 endpoint {base} has no host"),
                ));
            }
        };
        // The URL's own path is what goes on the wire; sign exactly that.
        let canonical_path = url.path().to_string();
        let now = Timestamp::now().to_zoned(TimeZone::UTC);
        let amz_date = now.strftime("%Y%m%dT%H%M%SZ").to_string();
        let date = now.strftime("%Y%m%d").to_string();
        let payload_hash = hex::encode(Sha256::digest(&body));
        let mut headers: Vec<(&str, String)> = vec![
            ("host", host),
            ("x-amz-content-sha256", payload_hash.clone()),
            ("x-amz-date", amz_date.clone()),
        ];
        if let Some(t) = &self.creds.session_token {
            headers.push(("x-amz-security-token", t.clone()));
        }
        headers.sort();
        let canonical_headers: String = headers
            .iter()
            .map(|(k, v)| format!("{k}:{}\n", v.trim()))
            .collect();
        let signed_headers = headers
            .iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>()
            .join(";");
        let canonical_request = format!(
            "{}\n{canonical_path}\n{query_str}\n{canonical_headers}\n{signed_headers}\n{payload_hash}",
            method.as_str()
        );
        let scope = format!("{date}/{}/s3/aws4_request", self.loc.region);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let mut k = hmac_sha256(
            format!("AWS4{}", self.creds.secret_key).as_bytes(),
            date.as_bytes(),
        );
        for part in [self.loc.region.as_bytes(), b"s3", b"aws4_request"] {
            k = hmac_sha256(&k, part);
        }
        let signature = hex::encode(hmac_sha256(&k, string_to_sign.as_bytes()));
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.creds.access_key
        );
        let mut req = self
            .http
            .request(method.clone(), url)
            .header("authorization", auth);
        for (k, v) in headers.iter().filter(|(k, _)| *k != "host") {
            req = req.header(*k, v);
        }
        if let Some((off, len)) = range {
            req = req.header("range", format!("bytes={off}-{}", off + len - 1));
        }
        if !body.is_empty() || method == reqwest::Method::PUT {
            req = req.body(body);
        }
        let what = format!("{method} s3://{}/{}", self.loc.bucket, key.unwrap_or(""));
        self.rt.block_on(async move {
            let resp = req.send().await.map_err(|e| net_error(&what, &e))?;
            let status = resp.status();
            let hdrs = resp.headers().clone();
            let bytes = resp.bytes().await.map_err(|e| net_error(&what, &e))?;
            if status.is_success() {
                return Ok((status, bytes.to_vec(), hdrs));
            }
            let code = xml_values(&String::from_utf8_lossy(&bytes), "Code")
                .into_iter()
                .next()
                .unwrap_or_default();
            let msg = format!("{what}: HTTP {status} {code}");
            Err(match status.as_u16() {
                404 => io::Error::new(io::ErrorKind::NotFound, msg),
                403 | 401 => io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "{msg}; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the region"
                    ),
                ),
                429 | 500..=599 => transient(msg),
                _ => io::Error::other(msg),
            })
        })
    }
}

fn net_error(what: &str, e: &reqwest::Error) -> io::Error {
    // Connection failures and timeouts are worth retrying; so is a body cut short.
    let kind = if e.is_timeout() {
        io::ErrorKind::TimedOut
    } else if e.is_connect() {
        io::ErrorKind::ConnectionRefused
    } else {
        io::ErrorKind::ConnectionReset
    };
    let mut msg = format!("{what}: {e}");
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    io::Error::new(kind, msg)
}

impl Backend for S3Backend {
    fn location(&self) -> String {
        format!(
            "s3://{}/{} at {}",
            self.loc.bucket, self.loc.prefix, self.loc.endpoint
        )
    }

    fn write(&self, name: &str, data: &[u8]) -> io::Result<()> {
        let key = self.key(name);
        self.send(reqwest::Method::PUT, Some(&key), &[], data.to_vec(), None)?;
        Ok(())
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let key = self.key(name);
        Ok(self
            .send(reqwest::Method::GET, Some(&key), &[], vec![], None)?
            .1)
    }

    fn read_at(&self, name: &str, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        if len == 0 {
            return Ok(vec![]);
        }
        let key = self.key(name);
        let (status, body, _) = self.send(
            reqwest::Method::GET,
            Some(&key),
            &[],
            vec![],
            Some((offset, len)),
        )?;
        // A server that ignores Range answers 200 with the whole object.
        let body = if status == reqwest::StatusCode::OK {
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
        Ok(body[..len as usize].to_vec())
    }

    fn size(&self, name: &str) -> io::Result<u64> {
        let key = self.key(name);
        let (_, _, headers) = self.send(reqwest::Method::HEAD, Some(&key), &[], vec![], None)?;
        headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| io::Error::other(format!("{name}: HEAD gave no Content-Length")))
    }

    fn list(&self, dir: &str) -> io::Result<Vec<FileInfo>> {
        let prefix = format!("{}/", self.key(dir));
        let strip = if self.loc.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.loc.prefix)
        };
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![("list-type", "2".to_string()), ("prefix", prefix.clone())];
            if let Some(t) = &token {
                q.push(("continuation-token", t.clone()));
            }
            let (_, body, _) = self.send(reqwest::Method::GET, None, &q, vec![], None)?;
            let text = String::from_utf8_lossy(&body);
            for c in xml_values(&text, "Contents") {
                let key = xml_values(&c, "Key").into_iter().next().unwrap_or_default();
                let Some(name) = key.strip_prefix(&strip) else {
                    continue;
                };
                let size = xml_values(&c, "Size")
                    .first()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let modified = xml_values(&c, "LastModified")
                    .first()
                    .and_then(|s| s.parse::<Timestamp>().ok())
                    .map(SystemTime::from)
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                out.push(FileInfo {
                    name: name.to_string(),
                    size,
                    modified,
                });
            }
            let truncated = xml_values(&text, "IsTruncated")
                .first()
                .is_some_and(|v| v == "true");
            token = xml_values(&text, "NextContinuationToken")
                .into_iter()
                .next();
            if !truncated || token.is_none() {
                break;
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let key = self.key(name);
        match self.send(reqwest::Method::DELETE, Some(&key), &[], vec![], None) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r.map(|_| ()),
        }
    }

    fn exists(&self, name: &str) -> io::Result<bool> {
        match self.size(name) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl S3Backend {
    /// Creates the bucket when it does not exist yet (for `init`); an existing bucket is fine.
    pub fn ensure_bucket(&self) -> io::Result<()> {
        match self.send(reqwest::Method::HEAD, None, &[], vec![], None) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => self
                .send(reqwest::Method::PUT, None, &[], vec![], None)
                .map(|_| ()),
            Err(e) => Err(e),
        }
    }
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// SigV4 URI encoding: everything but `A-Za-z0-9-_.~` (and `/` in keys) as `%XX`.
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The texts of every `<tag>…</tag>` element (no attributes, no nesting of the same tag),
/// with the five XML entities decoded. Enough for ListObjectsV2 and error answers.
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
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
    fn hmac_matches_rfc_4231_case_2() {
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signing_key_matches_the_aws_documentation_example() {
        // docs.aws.amazon.com "Examples of how to derive a signing key for Signature Version 4".
        let mut k = hmac_sha256(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20120215");
        for part in [&b"us-east-1"[..], b"iam", b"aws4_request"] {
            k = hmac_sha256(&k, part);
        }
        assert_eq!(
            hex::encode(k),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn keys_and_queries_are_encoded_as_sigv4_wants() {
        assert_eq!(uri_encode("packs/ab/x y+z", true), "packs/ab/x%20y%2Bz");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        assert_eq!(
            xml_values("<a><Key>x&amp;y</Key></a><a><Key>z</Key></a>", "Key"),
            ["x&y", "z"]
        );
    }
}
