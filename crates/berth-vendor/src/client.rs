//! A typed client of the vendor server's API, for the CLI and any other front end: the
//! vendor's side with a token, the customer's side with a license.

use crate::model::*;
use berth_oci::digest::Digest;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the vendor server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the vendor server refused {what} ({status}): {message}")]
    Refused {
        what: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Release(String),
}

impl ClientError {
    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Result of a call.
pub type CResult<T> = Result<T, ClientError>;

/// A client bound to one server and one credential (vendor token or license bearer).
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    bearer: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for `url` presenting `bearer`.
    pub fn new(url: &str, bearer: &str) -> CResult<Client> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(600))
            .build()
            .map_err(|e| ClientError::Unreachable {
                url: url.into(),
                reason: e.to_string(),
            })?;
        Ok(Client {
            base: url.trim_end_matches('/').to_string(),
            bearer: bearer.to_string(),
            http,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, what: &str, rb: reqwest::RequestBuilder) -> CResult<reqwest::Response> {
        let resp =
            rb.bearer_auth(&self.bearer)
                .send()
                .await
                .map_err(|e| ClientError::Unreachable {
                    url: self.base.clone(),
                    reason: error_chain(&e),
                })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => (e.code, e.message),
            Err(_) => (
                "http".into(),
                String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
            ),
        };
        Err(ClientError::Refused {
            what: what.into(),
            status,
            code,
            message,
        })
    }

    async fn json<T: DeserializeOwned>(
        &self,
        what: &str,
        rb: reqwest::RequestBuilder,
    ) -> CResult<T> {
        let r = self.send(what, rb).await?;
        r.json().await.map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            reason: format!("unreadable answer to {what}: {e}"),
        })
    }

    async fn post<B: Serialize>(
        &self,
        what: &str,
        path: &str,
        body: &B,
    ) -> CResult<reqwest::Response> {
        self.send(what, self.http.post(self.url(path)).json(body))
            .await
    }

    /// Who the token belongs to.
    pub async fn whoami(&self) -> CResult<TokenInfo> {
        self.json("whoami", self.http.get(self.url("/api/v1/whoami")))
            .await
    }

    /// Create a token.
    pub async fn create_token(&self, name: &str, scope: Scope) -> CResult<CreatedToken> {
        let r = self
            .post(
                "token create",
                "/api/v1/tokens",
                &NewToken {
                    name: name.into(),
                    scope,
                },
            )
            .await?;
        r.json()
            .await
            .map_err(|e| ClientError::Release(e.to_string()))
    }

    /// Revoke a token.
    pub async fn revoke_token(&self, id: &str) -> CResult<()> {
        self.send(
            "token revoke",
            self.http.delete(self.url(&format!("/api/v1/tokens/{id}"))),
        )
        .await
        .map(|_| ())
    }

    /// The server's public keys.
    pub async fn keys(&self) -> CResult<Vec<KeyInfo>> {
        self.json("key list", self.http.get(self.url("/api/v1/keys")))
            .await
    }

    /// Every app.
    pub async fn apps(&self) -> CResult<Vec<String>> {
        self.json("app list", self.http.get(self.url("/api/v1/apps")))
            .await
    }

    /// Every token (never the secrets).
    pub async fn tokens(&self) -> CResult<Vec<TokenInfo>> {
        self.json("token list", self.http.get(self.url("/api/v1/tokens")))
            .await
    }

    /// Rotate the signing key; returns the new key's id.
    pub async fn rotate_key(&self) -> CResult<String> {
        let v: serde_json::Value = self
            .json(
                "key rotate",
                self.http.post(self.url("/api/v1/keys/rotate")),
            )
            .await?;
        Ok(v["keyId"].as_str().unwrap_or_default().to_string())
    }

    /// The server's public keys, parsed (to verify licenses with).
    pub async fn verifying_keys(&self) -> CResult<Vec<ed25519_dalek::VerifyingKey>> {
        use ed25519_dalek::pkcs8::DecodePublicKey;
        self.keys()
            .await?
            .iter()
            .map(|k| {
                ed25519_dalek::VerifyingKey::from_public_key_pem(&k.public_pem).map_err(|e| {
                    ClientError::Release(format!(
                        "the server's key {} is not ed25519 PEM: {e}",
                        k.key_id
                    ))
                })
            })
            .collect()
    }

    /// Create an app (with the stable, beta and unstable channels).
    pub async fn create_app(&self, name: &str) -> CResult<()> {
        self.post("app create", "/api/v1/apps", &NewApp { name: name.into() })
            .await
            .map(|_| ())
    }

    /// Create a channel.
    pub async fn create_channel(&self, app: &str, c: &NewChannel) -> CResult<()> {
        self.post("channel create", &format!("/api/v1/apps/{app}/channels"), c)
            .await
            .map(|_| ())
    }

    /// The channels of an app with their releases.
    pub async fn channels(&self, app: &str) -> CResult<Vec<ChannelInfo>> {
        self.json(
            "channel list",
            self.http
                .get(self.url(&format!("/api/v1/apps/{app}/channels"))),
        )
        .await
    }

    /// Promote a release to a channel; true when it was not there yet.
    pub async fn promote(&self, app: &str, channel: &str, version: &str) -> CResult<bool> {
        let r = self
            .post(
                "promote",
                &format!("/api/v1/apps/{app}/channels/{channel}/promote"),
                &Promote {
                    version: version.into(),
                },
            )
            .await?;
        Ok(r.status() == reqwest::StatusCode::CREATED)
    }

    /// Create a customer.
    pub async fn create_customer(&self, c: &NewCustomer) -> CResult<()> {
        self.post("customer create", "/api/v1/customers", c)
            .await
            .map(|_| ())
    }

    /// Change a customer.
    pub async fn change_customer(&self, name: &str, c: &CustomerChange) -> CResult<CustomerInfo> {
        self.json(
            "customer change",
            self.http
                .patch(self.url(&format!("/api/v1/customers/{name}")))
                .json(c),
        )
        .await
    }

    /// Every customer.
    pub async fn customers(&self, app: Option<&str>) -> CResult<Vec<CustomerInfo>> {
        let path = match app {
            // App names are DNS labels (checked by the server): nothing to escape.
            Some(a) if a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
                format!("/api/v1/customers?app={a}")
            }
            Some(a) => {
                return Err(ClientError::Release(format!("{a:?} is not an app name")));
            }
            None => "/api/v1/customers".into(),
        };
        self.json("customer list", self.http.get(self.url(&path)))
            .await
    }

    /// Issue a license: the signed YAML.
    pub async fn issue_license(&self, customer: &str) -> CResult<String> {
        let r = self
            .send(
                "license issue",
                self.http
                    .post(self.url(&format!("/api/v1/customers/{customer}/license"))),
            )
            .await?;
        r.text()
            .await
            .map_err(|e| ClientError::Release(e.to_string()))
    }

    /// The instances of an app.
    pub async fn instances(&self, app: &str) -> CResult<Vec<InstanceInfo>> {
        self.json(
            "instances",
            self.http
                .get(self.url(&format!("/api/v1/apps/{app}/instances"))),
        )
        .await
    }

    /// Which releases an advisory affects, the first that fixes it, and who runs an affected one.
    pub async fn exposure(&self, app: &str, advisory: &str) -> CResult<crate::exposure::Exposure> {
        self.json(
            "exposure",
            self.http
                .get(self.url(&format!("/api/v1/apps/{app}/exposure/{advisory}"))),
        )
        .await
    }

    /// The audit log.
    pub async fn audit(&self) -> CResult<Vec<AuditRecord>> {
        self.json("audit", self.http.get(self.url("/api/v1/audit")))
            .await
    }

    /// Push a release directory (`berth release build`): upload every blob the server lacks
    /// (a killed push resumes where it stopped), then create the release.
    pub async fn push_release(&self, dir: &Path, meta: ReleasePush) -> CResult<PushReport> {
        let rel = berth_oci::release::Release::open(dir)
            .map_err(|e| ClientError::Release(e.to_string()))?;
        let index_bytes =
            std::fs::read(dir.join("index.json")).map_err(|source| ClientError::Io {
                path: dir.join("index.json"),
                source,
            })?;
        let index = Digest::of(&index_bytes);
        let mut blobs: Vec<(Digest, PathBuf, u64)> = vec![];
        for (d, desc) in rel
            .all_blobs()
            .map_err(|e| ClientError::Release(e.to_string()))?
        {
            let path = dir.join("blobs").join("sha256").join(d.hex());
            blobs.push((d, path, desc.size));
        }
        let mut report = PushReport::default();
        self.upload(&index, Upload::Bytes(index_bytes.clone()), &mut report)
            .await?;
        for (d, path, _) in &blobs {
            self.upload(d, Upload::File(path.clone()), &mut report)
                .await?;
        }
        let mut refs: Vec<BlobRef> = blobs
            .iter()
            .map(|(d, _, size)| BlobRef {
                digest: d.to_string(),
                size: *size,
            })
            .collect();
        refs.push(BlobRef {
            digest: index.to_string(),
            size: index_bytes.len() as u64,
        });
        let body = NewRelease {
            version: rel.meta.version.clone(),
            index_digest: index.to_string(),
            blobs: refs,
            notes: meta.notes,
            required: meta.required,
            eol_at: meta.eol_at,
        };
        let r = self
            .post(
                "release push",
                &format!("/api/v1/apps/{}/releases", rel.meta.app),
                &body,
            )
            .await?;
        report.created = r.status() == reqwest::StatusCode::CREATED;
        report.app = rel.meta.app.clone();
        report.version = rel.meta.version.clone();
        Ok(report)
    }

    async fn upload(&self, d: &Digest, what: Upload, report: &mut PushReport) -> CResult<()> {
        let url = self.url(&format!("/api/v1/blobs/{d}"));
        if self.send("blob check", self.http.head(&url)).await.is_ok() {
            report.present += 1;
            return Ok(());
        }
        let body = match what {
            Upload::Bytes(b) => reqwest::Body::from(b),
            Upload::File(p) => {
                let f = tokio::fs::File::open(&p)
                    .await
                    .map_err(|source| ClientError::Io {
                        path: p.clone(),
                        source,
                    })?;
                reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(f))
            }
        };
        self.send("blob upload", self.http.put(&url).body(body))
            .await?;
        report.uploaded += 1;
        Ok(())
    }

    /// An update check (customer side, license credential).
    pub async fn check_updates(&self, q: &UpdateCheck) -> CResult<UpdateAnswer> {
        self.json(
            "update check",
            self.http.post(self.url("/api/v1/updates")).json(q),
        )
        .await
    }

    /// Download a licensed release into `dir` as an OCI layout (`berth release build`'s
    /// format): index.json and every blob, each checked against its digest.
    pub async fn download_release(&self, version: &str, dir: &Path) -> CResult<()> {
        self.download(version, dir, false).await
    }

    /// Download only the app part of a licensed release (index.json, the app entry, its
    /// metadata and files, each checked against its digest): an online install pulls the
    /// images from the registry endpoint instead.
    pub async fn download_app(&self, version: &str, dir: &Path) -> CResult<()> {
        self.download(version, dir, true).await
    }

    async fn download(&self, version: &str, dir: &Path, app_only: bool) -> CResult<()> {
        let oci = |e: berth_oci::Error| ClientError::Release(e.to_string());
        let layout = berth_oci::Layout::create(dir).map_err(oci)?;
        let index = self
            .send(
                "release download",
                self.http
                    .get(self.url(&format!("/api/v1/license/releases/{version}/index"))),
            )
            .await?
            .bytes()
            .await
            .map_err(|e| ClientError::Release(e.to_string()))?;
        if index.len() as u64 > berth_oci::model::MAX_MANIFEST {
            return Err(ClientError::Release(format!(
                "the release index is {} bytes, more than an index may hold",
                index.len()
            )));
        }
        let idx: serde_json::Value = serde_json::from_slice(&index)
            .map_err(|e| ClientError::Release(format!("the release index is not JSON: {e}")))?;
        berth_oci::layout::write_atomic(&dir.join("index.json"), &index).map_err(oci)?;
        let mut todo: Vec<Digest> = if app_only {
            app_entries(&idx)
        } else {
            descriptors(&idx)
        };
        let mut seen = std::collections::HashSet::new();
        while let Some(d) = todo.pop() {
            if !seen.insert(d.clone()) || layout.has_blob(&d) {
                continue;
            }
            // Streamed to disk and checked against its digest before it is renamed into place
            // (layers can be large; nothing is held in memory whole).
            let resp = self
                .send(
                    "release download",
                    self.http
                        .get(self.url(&format!("/api/v1/license/releases/{version}/blobs/{d}"))),
                )
                .await?;
            let mut w = layout.blob_writer(&d).map_err(oci)?;
            let mut body = resp.bytes_stream();
            while let Some(chunk) = futures::StreamExt::next(&mut body).await {
                let chunk = chunk.map_err(|e| ClientError::Unreachable {
                    url: self.base.clone(),
                    reason: format!("downloading {d}: {}", error_chain(&e)),
                })?;
                w.write(&chunk).map_err(oci)?;
            }
            let small = w.written() <= berth_oci::model::MAX_MANIFEST;
            w.commit().map_err(oci)?;
            // Manifests and indexes name further blobs.
            if small
                && let Ok(bytes) = layout.read_blob(&d)
                && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes)
            {
                todo.extend(descriptors(&v));
            }
        }
        Ok(())
    }
}

/// What a bundle download wrote.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleDownload {
    pub file: PathBuf,
    pub bytes: u64,
    /// `full` or `delta`.
    pub kind: String,
    pub blobs_omitted: u64,
}

impl Client {
    /// Have the server build and sign an air-gap bundle for a customer (vendor token), written
    /// to `out` (through a temporary file renamed when complete).
    pub async fn customer_bundle(
        &self,
        customer: &str,
        req: &crate::bundles::BundleRequest,
        out: &Path,
    ) -> CResult<BundleDownload> {
        let r = self
            .post(
                "bundle",
                &format!("/api/v1/customers/{customer}/bundle"),
                req,
            )
            .await?;
        self.save_bundle(r, out).await
    }

    /// Download an air-gap bundle with the license (the customer's own download).
    pub async fn license_bundle(
        &self,
        req: &crate::bundles::BundleRequest,
        out: &Path,
    ) -> CResult<BundleDownload> {
        let r = self.post("bundle", "/api/v1/license/bundle", req).await?;
        self.save_bundle(r, out).await
    }

    async fn save_bundle(&self, r: reqwest::Response, out: &Path) -> CResult<BundleDownload> {
        let header = |n: &str| {
            r.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let kind = header("x-berth-bundle-kind");
        let blobs_omitted = header("x-berth-bundle-blobs-omitted").parse().unwrap_or(0);
        let io = |source| ClientError::Io {
            path: out.to_path_buf(),
            source,
        };
        let dir = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(".bundle-partial-")
            .tempfile_in(dir)
            .map_err(io)?;
        let mut f = tokio::fs::File::from_std(tmp.reopen().map_err(io)?);
        let mut body = r.bytes_stream();
        let mut bytes = 0u64;
        while let Some(chunk) = futures::StreamExt::next(&mut body).await {
            let chunk = chunk.map_err(|e| ClientError::Unreachable {
                url: self.base.clone(),
                reason: format!("downloading the bundle: {}", error_chain(&e)),
            })?;
            bytes += chunk.len() as u64;
            tokio::io::AsyncWriteExt::write_all(&mut f, &chunk)
                .await
                .map_err(io)?;
        }
        f.sync_all().await.map_err(io)?;
        tmp.persist(out).map_err(|e| io(e.error))?;
        Ok(BundleDownload {
            file: out.to_path_buf(),
            bytes,
            kind,
            blobs_omitted,
        })
    }
}

/// What a support bundle download wrote.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SupportBundleDownload {
    pub file: PathBuf,
    pub bytes: u64,
    pub sha256: String,
}

impl Client {
    /// Send a support bundle file with the license (the customer's side): streamed from the
    /// file, its SHA-256 computed here first and compared with what the server stored.
    pub async fn upload_support_bundle(&self, path: &Path) -> CResult<SupportBundleInfo> {
        let io = |source| ClientError::Io {
            path: path.to_path_buf(),
            source,
        };
        let p = path.to_path_buf();
        let (digest, len) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            let f = std::fs::File::open(&p)?;
            let mut r = berth_oci::digest::HashingReader::new(f);
            std::io::copy(&mut r, &mut std::io::sink())?;
            Ok(r.finish())
        })
        .await
        .map_err(|e| io(std::io::Error::other(e.to_string())))?
        .map_err(io)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let f = tokio::fs::File::open(path).await.map_err(io)?;
        let body =
            reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024));
        let url = with_query(
            &self.url("/api/v1/license/support-bundles"),
            &[("name", name.as_str())],
        )?;
        let rb = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/gzip")
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(body);
        let info: SupportBundleInfo = self.json("support bundle upload", rb).await?;
        if info.sha256 != digest.hex() || info.size != len {
            return Err(ClientError::Release(format!(
                "the vendor server stored support bundle {} as {} bytes with sha256 {}, but {} has {len} bytes with sha256 {}; send it again",
                info.id,
                info.size,
                info.sha256,
                path.display(),
                digest.hex()
            )));
        }
        Ok(info)
    }

    /// Support bundles customers sent, newest first (vendor token).
    pub async fn support_bundles(
        &self,
        customer: Option<&str>,
        app: Option<&str>,
    ) -> CResult<Vec<SupportBundleInfo>> {
        let mut q: Vec<(&str, &str)> = vec![];
        if let Some(c) = customer {
            q.push(("customer", c));
        }
        if let Some(a) = app {
            q.push(("app", a));
        }
        let url = with_query(&self.url("/api/v1/support-bundles"), &q)?;
        self.json("support bundle list", self.http.get(url)).await
    }

    /// Download a support bundle (vendor token) to `out` (default: `./CUSTOMER-ID.tar.gz`),
    /// through a temporary file beside it that is renamed once its SHA-256 matches the
    /// server's.
    pub async fn download_support_bundle(
        &self,
        id: &str,
        out: Option<&Path>,
    ) -> CResult<SupportBundleDownload> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(ClientError::Release(format!(
                "{id:?} is not a support bundle id (see `berth vendor support-bundles list`)"
            )));
        }
        let r = self
            .send(
                "support bundle download",
                self.http
                    .get(self.url(&format!("/api/v1/support-bundles/{id}"))),
            )
            .await?;
        let want = r
            .headers()
            .get("x-berth-sha256")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let out = match out {
            Some(p) => p.to_path_buf(),
            None => {
                let customer = r
                    .headers()
                    .get("x-berth-customer")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                PathBuf::from(default_support_file(customer, id))
            }
        };
        let out = out.as_path();
        let io = |source| ClientError::Io {
            path: out.to_path_buf(),
            source,
        };
        let dir = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(".support-bundle-partial-")
            .tempfile_in(dir)
            .map_err(io)?;
        let mut f = tokio::fs::File::from_std(tmp.reopen().map_err(io)?);
        let mut hasher = berth_oci::digest::Hasher::new();
        let mut body = r.bytes_stream();
        let mut bytes = 0u64;
        while let Some(chunk) = futures::StreamExt::next(&mut body).await {
            let chunk = chunk.map_err(|e| ClientError::Unreachable {
                url: self.base.clone(),
                reason: format!("downloading support bundle {id}: {}", error_chain(&e)),
            })?;
            bytes += chunk.len() as u64;
            hasher.update(&chunk);
            tokio::io::AsyncWriteExt::write_all(&mut f, &chunk)
                .await
                .map_err(io)?;
        }
        f.sync_all().await.map_err(io)?;
        let got = hasher.finish().hex().to_string();
        if got != want {
            return Err(ClientError::Release(format!(
                "support bundle {id} arrived with sha256 {got}, the server has {want}; download it again"
            )));
        }
        tmp.persist(out).map_err(|e| io(e.error))?;
        Ok(SupportBundleDownload {
            file: out.to_path_buf(),
            bytes,
            sha256: got,
        })
    }
}

/// `CUSTOMER-ID.tar.gz` with anything but `a-z 0-9 -` dropped from both parts: whatever a
/// server answers, the default is a plain file name in the current directory.
pub fn default_support_file(customer: &str, id: &str) -> String {
    let keep = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect()
    };
    let c = keep(customer);
    if c.is_empty() {
        format!("support-bundle-{}.tar.gz", keep(id))
    } else {
        format!("{c}-{}.tar.gz", keep(id))
    }
}

/// `url` with query parameters, each percent-encoded.
fn with_query(url: &str, q: &[(&str, &str)]) -> CResult<reqwest::Url> {
    let mut u = reqwest::Url::parse(url).map_err(|e| ClientError::Unreachable {
        url: url.into(),
        reason: format!("not a URL: {e}"),
    })?;
    if !q.is_empty() {
        u.query_pairs_mut().extend_pairs(q);
    }
    Ok(u)
}

/// The app entries of a release index (`dev.berth.kind: app`).
fn app_entries(index: &serde_json::Value) -> Vec<Digest> {
    index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["annotations"][berth_oci::model::ANNOTATION_KIND] == "app")
        .filter_map(|d| d["digest"].as_str().and_then(|s| Digest::parse(s).ok()))
        .collect()
}

/// Digests a manifest or index refers to (config, layers, manifests).
pub(crate) fn descriptors(v: &serde_json::Value) -> Vec<Digest> {
    let mut out = vec![];
    for key in ["manifests", "layers"] {
        for d in v[key].as_array().into_iter().flatten() {
            if let Some(Ok(x)) = d["digest"].as_str().map(Digest::parse) {
                out.push(x);
            }
        }
    }
    if let Some(Ok(x)) = v["config"]["digest"].as_str().map(Digest::parse) {
        out.push(x);
    }
    out
}

enum Upload {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// What a release carries beyond its files.
#[derive(Debug, Clone, Default)]
pub struct ReleasePush {
    pub notes: String,
    pub required: bool,
    pub eol_at: Option<String>,
}

/// What a push did.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushReport {
    pub app: String,
    pub version: String,
    pub uploaded: u64,
    pub present: u64,
    /// False when the same release was pushed before (nothing changed).
    pub created: bool,
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
