//! A registry client for the OCI distribution API: manifests, blobs (HEAD, GET, chunked
//! resumable upload, cross-repository mount), tags, with Docker-config/basic/bearer auth,
//! custom CA bundles, plain HTTP on request, and retries with backoff. Every byte received
//! is checked against the digest it was asked for.

use crate::auth::{Challenge, Credentials};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::layout::BlobWriter;
use crate::model::{self, MANIFEST_ACCEPT};
use futures::StreamExt;
use reqwest::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HeaderValue, LOCATION, RANGE,
    WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How to reach registries.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Use plain HTTP (no TLS) for every registry.
    pub insecure: bool,
    /// Extra trusted CA certificates (PEM bundle file).
    pub ca_file: Option<PathBuf>,
    /// Explicit credentials, used for every registry (take precedence over the Docker config).
    pub credentials: Option<Credentials>,
    /// Registry host → mirror host to contact instead (the repository path is kept), for
    /// building releases from a local copy of the vendor's registries.
    pub mirrors: std::collections::BTreeMap<String, String>,
    /// Docker config file to read credentials from (default: `$DOCKER_CONFIG/config.json`,
    /// then `~/.docker/config.json`).
    pub docker_config: Option<PathBuf>,
    /// Blob transfers in flight at once.
    pub parallelism: usize,
    /// Retries of a failed request (transport errors, 429, 5xx).
    pub retries: u32,
    /// Upload chunk size; blobs up to this size go in one request.
    pub chunk_size: usize,
    /// Upload bigger blobs in `chunk_size` PATCH requests instead of one streamed PATCH
    /// (for proxies that limit request sizes).
    pub chunked_uploads: bool,
    /// First backoff delay; doubled on each retry.
    pub backoff: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            insecure: false,
            ca_file: None,
            credentials: None,
            mirrors: Default::default(),
            docker_config: None,
            parallelism: 8,
            retries: 4,
            chunk_size: 16 * 1024 * 1024,
            chunked_uploads: false,
            backoff: Duration::from_millis(200),
        }
    }
}

/// What a request needs access to (for bearer-token scopes).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    /// Repository acted on.
    pub repo: String,
    /// Whether push access is needed.
    pub push: bool,
    /// Another repository read from (cross-repository mount).
    pub from: Option<String>,
}

impl Scope {
    /// Pull access to `repo`.
    pub fn pull(repo: &str) -> Self {
        Scope {
            repo: repo.to_string(),
            push: false,
            from: None,
        }
    }
    /// Pull and push access to `repo`.
    pub fn push(repo: &str) -> Self {
        Scope {
            repo: repo.to_string(),
            push: true,
            from: None,
        }
    }
    fn scopes(&self) -> Vec<String> {
        if self.repo.is_empty() {
            return Vec::new(); // the API check (`GET /v2/`) needs no repository access
        }
        let mut v = vec![format!(
            "repository:{}:{}",
            self.repo,
            if self.push { "pull,push" } else { "pull" }
        )];
        if let Some(f) = &self.from {
            v.push(format!("repository:{f}:pull"));
        }
        v
    }
}

/// A fetched manifest or index: the exact bytes, their digest and media type.
#[derive(Clone, Debug)]
pub struct FetchedManifest {
    /// The bytes as served.
    pub bytes: Vec<u8>,
    /// Their sha256 digest.
    pub digest: Digest,
    /// Media type (from the body, else the Content-Type header).
    pub media_type: String,
}

/// The registry client. Cheap to clone; clones share connections and tokens.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    cfg: Arc<ClientConfig>,
    creds: Arc<crate::auth::CredentialStore>,
    /// Authorization header per (registry, scope); `None` = anonymous works.
    auth: Arc<Mutex<HashMap<(String, Scope), HeaderValue>>>,
}

/// Install the process-wide rustls provider (ring); harmless when already installed.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn flatten(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

fn transport_hint(cause: &str, insecure: bool) -> String {
    let l = cause.to_lowercase();
    if l.contains("certificate") || l.contains("unknown issuer") || l.contains("invalid peer") {
        "; the registry's TLS certificate is not trusted: pass its CA with --ca-file FILE"
            .to_string()
    } else if l.contains("invalid http version")
        || l.contains("wrong version number")
        || l.contains("corrupt message")
    {
        if insecure {
            "; the registry seems to speak TLS: drop --insecure".to_string()
        } else {
            "; the registry seems to speak plain HTTP: pass --insecure".to_string()
        }
    } else if l.contains("connection refused") {
        "; nothing listens there: check the host and port".to_string()
    } else {
        String::new()
    }
}

impl Client {
    /// Build a client (installs the ring crypto provider when needed).
    pub fn new(cfg: ClientConfig) -> Result<Self> {
        install_crypto_provider();
        let mut b = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(120))
            .pool_max_idle_per_host(32)
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca).map_err(|e| Error::io(ca, e))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::Usage(format!(
                "{}: not a PEM certificate bundle ({}); give the registry's CA certificate in PEM form",
                ca.display(),
                flatten(&e)
            )))?;
            if certs.is_empty() {
                return Err(Error::Usage(format!(
                    "{}: contains no PEM certificate",
                    ca.display()
                )));
            }
            b = b.tls_certs_merge(certs);
        }
        let http = b
            .build()
            .map_err(|e| Error::Usage(format!("cannot build the HTTP client: {}", flatten(&e))))?;
        let creds =
            crate::auth::CredentialStore::load(cfg.credentials.clone(), cfg.docker_config.clone())?;
        Ok(Client {
            http,
            cfg: Arc::new(cfg),
            creds: Arc::new(creds),
            auth: Arc::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    fn base(&self, registry: &str) -> String {
        let host = match self.cfg.mirrors.get(registry) {
            Some(m) => m.as_str(),
            None if registry == crate::reference::DOCKER_HUB => "registry-1.docker.io",
            None => registry,
        };
        format!(
            "{}://{host}",
            if self.cfg.insecure { "http" } else { "https" }
        )
    }

    /// `scheme://host/v2/<repo>/<rest>`.
    fn url(&self, registry: &str, repo: &str, rest: &str) -> String {
        format!("{}/v2/{repo}/{rest}", self.base(registry))
    }

    fn resolve_location(&self, registry: &str, loc: &str) -> Result<url::Url> {
        let base = url::Url::parse(&format!("{}/", self.base(registry)))
            .map_err(|e| Error::Usage(format!("invalid registry address {registry}: {e}")))?;
        base.join(loc).map_err(|e| Error::Registry {
            registry: registry.to_string(),
            action: "upload".into(),
            status: 0,
            body: format!("invalid Location header {loc:?}: {e}"),
            hint: String::new(),
        })
    }

    /// Send a request with auth, retries and backoff. `build` must be re-callable.
    async fn send(
        &self,
        registry: &str,
        scope: &Scope,
        action: &str,
        build: &(dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Sync),
    ) -> Result<reqwest::Response> {
        self.send_with(registry, scope, action, build, self.cfg.retries)
            .await
    }

    /// [`send`](Self::send) with an explicit retry budget (0 for requests that must not be
    /// repeated blindly, like a streamed upload the registry may have partly stored).
    async fn send_with(
        &self,
        registry: &str,
        scope: &Scope,
        action: &str,
        build: &(dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Sync),
        retries: u32,
    ) -> Result<reqwest::Response> {
        let key = (registry.to_string(), scope.clone());
        let mut authed_once = false;
        let mut attempt = 0u32;
        loop {
            let header = self.auth.lock().ok().and_then(|m| m.get(&key).cloned());
            let mut rb = build(&self.http);
            if let Some(h) = &header {
                rb = rb.header(AUTHORIZATION, h.clone());
            }
            let res = rb.send().await;
            let retry_delay = self.cfg.backoff * 2u32.saturating_pow(attempt);
            match res {
                Err(e) => {
                    let cause = flatten(&e);
                    let permanent = cause.to_lowercase().contains("certificate") || e.is_builder();
                    if attempt < retries && !permanent {
                        attempt += 1;
                        tracing::debug!(registry, action, %cause, attempt, "retrying");
                        tokio::time::sleep(retry_delay).await;
                        continue;
                    }
                    return Err(Error::Transport {
                        registry: registry.to_string(),
                        action: action.to_string(),
                        hint: transport_hint(&cause, self.cfg.insecure),
                        cause,
                    });
                }
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED => {
                    if authed_once {
                        return Err(Error::Auth {
                            registry: registry.to_string(),
                            reason: format!(
                                "{action}: the registry refused the credentials{}; check the username/password (--username/--password, or `docker login` config)",
                                if self.creds.get(registry).is_some() {
                                    ""
                                } else {
                                    " (none were found)"
                                }
                            ),
                        });
                    }
                    authed_once = true;
                    let challenge = resp
                        .headers()
                        .get(WWW_AUTHENTICATE)
                        .and_then(|h| h.to_str().ok())
                        .map(Challenge::parse)
                        .unwrap_or(Challenge::Basic);
                    let h = self.authorize(registry, scope, &challenge).await?;
                    if let Ok(mut m) = self.auth.lock() {
                        m.insert(key.clone(), h);
                    }
                }
                Ok(resp)
                    if (resp.status() == StatusCode::TOO_MANY_REQUESTS
                        || resp.status().is_server_error())
                        && attempt < retries =>
                {
                    attempt += 1;
                    tracing::debug!(registry, action, status = %resp.status(), attempt, "retrying");
                    tokio::time::sleep(retry_delay).await;
                }
                Ok(resp) => return Ok(resp),
            }
        }
    }

    async fn authorize(
        &self,
        registry: &str,
        scope: &Scope,
        ch: &Challenge,
    ) -> Result<HeaderValue> {
        let creds = self.creds.get(registry);
        match ch {
            Challenge::Basic => {
                let c = creds.ok_or_else(|| Error::Auth {
                    registry: registry.to_string(),
                    reason: "the registry requires a login and no credentials were given: pass --username/--password or log in with `docker login`".into(),
                })?;
                HeaderValue::from_str(&c.basic_header()).map_err(|_| Error::Auth {
                    registry: registry.to_string(),
                    reason:
                        "the username or password contains characters not allowed in an HTTP header"
                            .into(),
                })
            }
            Challenge::Bearer { realm, service } => {
                let mut url = url::Url::parse(realm).map_err(|e| Error::Auth {
                    registry: registry.to_string(),
                    reason: format!("the token realm {realm:?} is not a URL ({e})"),
                })?;
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                    for s in scope.scopes() {
                        q.append_pair("scope", &s);
                    }
                }
                let mut rb = self.http.get(url.clone());
                if let Some(c) = &creds {
                    rb = rb.header(AUTHORIZATION, c.basic_header());
                }
                let resp = rb.send().await.map_err(|e| {
                    let cause = flatten(&e);
                    Error::Transport {
                        registry: registry.to_string(),
                        action: format!("token request to {}", url.host_str().unwrap_or("?")),
                        hint: transport_hint(&cause, self.cfg.insecure),
                        cause,
                    }
                })?;
                if !resp.status().is_success() {
                    return Err(Error::Auth {
                        registry: registry.to_string(),
                        reason: format!(
                            "the token service answered HTTP {}; check the credentials and that the account may access {}",
                            resp.status().as_u16(),
                            scope.repo
                        ),
                    });
                }
                #[derive(serde::Deserialize)]
                struct Tok {
                    token: Option<String>,
                    access_token: Option<String>,
                }
                let body = resp.bytes().await.map_err(|e| Error::Auth {
                    registry: registry.to_string(),
                    reason: format!("reading the token failed: {}", flatten(&e)),
                })?;
                let t: Tok = serde_json::from_slice(&body).map_err(|e| Error::Auth {
                    registry: registry.to_string(),
                    reason: format!("the token service returned invalid JSON ({e})"),
                })?;
                let tok = t.token.or(t.access_token).ok_or_else(|| Error::Auth {
                    registry: registry.to_string(),
                    reason: "the token service returned no token".into(),
                })?;
                HeaderValue::from_str(&format!("Bearer {tok}")).map_err(|_| Error::Auth {
                    registry: registry.to_string(),
                    reason: "the token has characters not allowed in an HTTP header".into(),
                })
            }
        }
    }

    async fn fail(registry: &str, action: &str, resp: reqwest::Response) -> Error {
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        let body: String = body.chars().take(300).collect();
        let hint = match status {
            404 => "; check the repository name and tag".to_string(),
            403 => "; the account may not access this repository".to_string(),
            _ => String::new(),
        };
        Error::Registry {
            registry: registry.to_string(),
            action: action.to_string(),
            status,
            body,
            hint,
        }
    }

    /// Check that the registry answers the API (`GET /v2/`), authenticating if asked.
    pub async fn ping(&self, registry: &str) -> Result<()> {
        let url = format!("{}/v2/", self.base(registry));
        let resp = self
            .send(registry, &Scope::pull(""), "API check", &|c| c.get(&url))
            .await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(Self::fail(registry, "API check", resp).await)
        }
    }

    /// Fetch a manifest or index by tag or digest. A digest reference is verified.
    pub async fn get_manifest(
        &self,
        registry: &str,
        repo: &str,
        reference: &str,
    ) -> Result<FetchedManifest> {
        let url = self.url(registry, repo, &format!("manifests/{reference}"));
        let action = format!("fetch manifest {repo}:{reference}");
        let resp = self
            .send(registry, &Scope::pull(repo), &action, &|c| {
                c.get(&url).header("Accept", MANIFEST_ACCEPT)
            })
            .await?;
        if !resp.status().is_success() {
            return Err(Self::fail(registry, &action, resp).await);
        }
        let header_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|h| h.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_string());
        if resp.content_length().unwrap_or(0) > model::MAX_MANIFEST {
            return Err(Error::TooLarge {
                what: action,
                limit: model::MAX_MANIFEST,
            });
        }
        let bytes = read_limited(resp, model::MAX_MANIFEST, registry, &action).await?;
        let digest = Digest::of(&bytes);
        if reference.starts_with("sha256:") {
            let want = Digest::parse(reference)?;
            want.verify(&action, &bytes)?;
        }
        let media_type = model::sniff_media_type(&bytes)
            .or(header_type)
            .unwrap_or_else(|| model::OCI_MANIFEST.to_string());
        Ok(FetchedManifest {
            bytes,
            digest,
            media_type,
        })
    }

    /// The digest a tag currently points to, or `None` when absent.
    pub async fn head_manifest(
        &self,
        registry: &str,
        repo: &str,
        reference: &str,
    ) -> Result<Option<Digest>> {
        let url = self.url(registry, repo, &format!("manifests/{reference}"));
        let action = format!("check manifest {repo}:{reference}");
        let resp = self
            .send(registry, &Scope::pull(repo), &action, &|c| {
                c.head(&url).header("Accept", MANIFEST_ACCEPT)
            })
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(resp
                .headers()
                .get("Docker-Content-Digest")
                .and_then(|h| h.to_str().ok())
                .and_then(|s| Digest::parse(s).ok())),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(Self::fail(registry, &action, resp).await),
        }
    }

    /// Upload a manifest under a tag or digest; returns the digest the registry computed.
    pub async fn put_manifest(
        &self,
        registry: &str,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<()> {
        let url = self.url(registry, repo, &format!("manifests/{reference}"));
        let action = format!("push manifest {repo}:{reference}");
        let body = bytes::Bytes::copy_from_slice(bytes);
        let mt = media_type.to_string();
        let resp = self
            .send(registry, &Scope::push(repo), &action, &|c| {
                c.put(&url)
                    .header(CONTENT_TYPE, mt.clone())
                    .body(body.clone())
            })
            .await?;
        if !resp.status().is_success() {
            return Err(Self::fail(registry, &action, resp).await);
        }
        if let Some(d) = resp
            .headers()
            .get("Docker-Content-Digest")
            .and_then(|h| h.to_str().ok())
        {
            let want = Digest::of(bytes);
            if d != want.as_str() {
                return Err(Error::DigestMismatch {
                    what: action,
                    expected: want.to_string(),
                    actual: d.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Whether a blob exists in `repo`.
    pub async fn has_blob(&self, registry: &str, repo: &str, digest: &Digest) -> Result<bool> {
        let url = self.url(registry, repo, &format!("blobs/{digest}"));
        let action = format!("check blob {digest} in {repo}");
        let resp = self
            .send(registry, &Scope::pull(repo), &action, &|c| c.head(&url))
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(Self::fail(registry, &action, resp).await),
        }
    }

    /// Download a blob into `writer`, verifying the digest; `on_bytes` sees progress.
    pub async fn get_blob(
        &self,
        registry: &str,
        repo: &str,
        digest: &Digest,
        mut writer: BlobWriter,
        on_bytes: &(dyn Fn(u64) + Sync),
    ) -> Result<()> {
        let url = self.url(registry, repo, &format!("blobs/{digest}"));
        let action = format!("fetch blob {digest} from {repo}");
        let resp = self
            .send(registry, &Scope::pull(repo), &action, &|c| c.get(&url))
            .await?;
        if !resp.status().is_success() {
            return Err(Self::fail(registry, &action, resp).await);
        }
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                let cause = flatten(&e);
                Error::Transport {
                    registry: registry.to_string(),
                    action: action.clone(),
                    hint: String::new(),
                    cause,
                }
            })?;
            on_bytes(chunk.len() as u64);
            writer.write(&chunk)?;
        }
        // fsync off the async workers, so other transfers keep going meanwhile.
        tokio::task::spawn_blocking(move || writer.commit())
            .await
            .map_err(|e| Error::Usage(format!("blob write task failed: {e}")))?
    }

    /// Try to mount `digest` from `from` into `repo`. Returns an upload URL when the
    /// registry started an ordinary upload instead of mounting.
    async fn start_upload(
        &self,
        registry: &str,
        repo: &str,
        mount: Option<(&Digest, &str)>,
    ) -> Result<Option<url::Url>> {
        let mut url = self.url(registry, repo, "blobs/uploads/");
        let mut scope = Scope::push(repo);
        if let Some((d, from)) = mount {
            url.push_str(&format!("?mount={d}&from={from}"));
            scope.from = Some(from.to_string());
        }
        let action = format!("start upload to {repo}");
        let resp = self
            .send(registry, &scope, &action, &|c| {
                c.post(&url).header(CONTENT_LENGTH, "0")
            })
            .await?;
        match resp.status() {
            StatusCode::CREATED if mount.is_some() => Ok(None),
            StatusCode::ACCEPTED => {
                let loc = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|h| h.to_str().ok())
                    .ok_or_else(|| Error::Registry {
                        registry: registry.to_string(),
                        action: action.clone(),
                        status: 202,
                        body: "no Location header".into(),
                        hint: String::new(),
                    })?;
                Ok(Some(self.resolve_location(registry, loc)?))
            }
            _ => Err(Self::fail(registry, &action, resp).await),
        }
    }

    /// Mount a blob from another repository of the same registry; `false` when the
    /// registry declined (then upload it).
    pub async fn mount_blob(
        &self,
        registry: &str,
        repo: &str,
        from: &str,
        digest: &Digest,
    ) -> Result<bool> {
        Ok(self
            .start_upload(registry, repo, Some((digest, from)))
            .await?
            .is_none())
    }

    /// Upload a blob from a file. Blobs up to `chunk_size` go in one PUT; bigger ones in one
    /// streamed PATCH (or `chunk_size` PATCHes with `chunked_uploads`). When a PATCH fails,
    /// the upload resumes in chunks from the offset the registry confirms. The registry
    /// checks the digest when the upload is closed; a mismatch is an error.
    pub async fn upload_blob(
        &self,
        registry: &str,
        repo: &str,
        digest: &Digest,
        path: &std::path::Path,
        on_bytes: &(dyn Fn(u64) + Sync),
    ) -> Result<()> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| Error::io(path, e))?
            .len();
        let action = format!("upload blob {digest} to {repo}");
        let mut loc = match self.start_upload(registry, repo, None).await? {
            Some(l) => l,
            None => return Ok(()),
        };
        let chunk = self.cfg.chunk_size.max(1024) as u64;
        let scope = Scope::push(repo);
        if size <= chunk {
            let data = bytes::Bytes::from(
                tokio::fs::read(path)
                    .await
                    .map_err(|e| Error::io(path, e))?,
            );
            let mut u = loc.clone();
            u.query_pairs_mut().append_pair("digest", digest.as_str());
            let resp = self
                .send(registry, &scope, &action, &|c| {
                    c.put(u.clone())
                        .header(CONTENT_TYPE, "application/octet-stream")
                        .header(CONTENT_LENGTH, data.len())
                        .body(data.clone())
                })
                .await?;
            if !resp.status().is_success() {
                return Err(Self::fail(registry, &action, resp).await);
            }
            on_bytes(size);
            return Ok(());
        }
        let mut offset = 0u64;
        let mut resumes = 0;
        if !self.cfg.chunked_uploads {
            let u = loc.clone();
            let p = path.to_path_buf();
            let r = self
                .send_with(
                    registry,
                    &scope,
                    &action,
                    &|c| {
                        let body = match std::fs::File::open(&p) {
                            Ok(f) => reqwest::Body::wrap_stream(
                                tokio_util::io::ReaderStream::with_capacity(
                                    tokio::fs::File::from_std(f),
                                    1 << 20,
                                ),
                            ),
                            Err(_) => reqwest::Body::from(Vec::new()),
                        };
                        c.patch(u.clone())
                            .header(CONTENT_TYPE, "application/octet-stream")
                            .header(CONTENT_LENGTH, size)
                            .body(body)
                    },
                    0,
                )
                .await;
            match r {
                Ok(r)
                    if r.status() == StatusCode::ACCEPTED
                        || r.status() == StatusCode::NO_CONTENT =>
                {
                    if let Some(l) = r.headers().get(LOCATION).and_then(|h| h.to_str().ok()) {
                        loc = self.resolve_location(registry, l)?;
                    }
                    offset = size;
                    on_bytes(size);
                }
                _ => {
                    resumes += 1;
                    let (l, next) = self.resume_or_restart(registry, repo, &loc).await?;
                    loc = l;
                    offset = next;
                    on_bytes(next);
                }
            }
        }
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::io(path, e))?;
        while offset < size {
            let end = (offset + chunk).min(size);
            let mut buf = vec![0u8; (end - offset) as usize];
            file.seek(std::io::SeekFrom::Start(offset))
                .await
                .map_err(|e| Error::io(path, e))?;
            file.read_exact(&mut buf)
                .await
                .map_err(|e| Error::io(path, e))?;
            let data = bytes::Bytes::from(buf);
            let range = format!("{}-{}", offset, end - 1);
            let u = loc.clone();
            let resp = self
                .send_with(
                    registry,
                    &scope,
                    &action,
                    &|c| {
                        c.patch(u.clone())
                            .header(CONTENT_TYPE, "application/octet-stream")
                            .header(CONTENT_RANGE, range.clone())
                            .header(CONTENT_LENGTH, data.len())
                            .body(data.clone())
                    },
                    0,
                )
                .await;
            match resp {
                Ok(r)
                    if r.status() == StatusCode::ACCEPTED
                        || r.status() == StatusCode::NO_CONTENT =>
                {
                    if let Some(l) = r.headers().get(LOCATION).and_then(|h| h.to_str().ok()) {
                        loc = self.resolve_location(registry, l)?;
                    }
                    offset = end;
                    on_bytes(data.len() as u64);
                }
                Ok(r) if resumes >= self.cfg.retries => {
                    return Err(Self::fail(registry, &action, r).await);
                }
                Err(e) if resumes >= self.cfg.retries => return Err(e),
                _ => {
                    // Ask the registry how far it got and continue from there.
                    resumes += 1;
                    tokio::time::sleep(self.cfg.backoff * resumes).await;
                    let (l, next) = self.resume_or_restart(registry, repo, &loc).await?;
                    loc = l;
                    offset = next;
                }
            }
        }
        let mut u = loc.clone();
        u.query_pairs_mut().append_pair("digest", digest.as_str());
        let resp = self
            .send(registry, &scope, &action, &|c| {
                c.put(u.clone()).header(CONTENT_LENGTH, "0")
            })
            .await?;
        if !resp.status().is_success() {
            return Err(Self::fail(registry, &action, resp).await);
        }
        Ok(())
    }

    /// After a failed PATCH: continue where the registry says the upload stands or, when
    /// the registry dropped the upload (docker-registry does on a broken request), start a
    /// new one from byte 0.
    async fn resume_or_restart(
        &self,
        registry: &str,
        repo: &str,
        loc: &url::Url,
    ) -> Result<(url::Url, u64)> {
        match self.upload_status(registry, repo, loc).await {
            Ok(r) => Ok(r),
            Err(e) => {
                tracing::debug!(error = %e, "upload lost; starting it again");
                match self.start_upload(registry, repo, None).await? {
                    Some(l) => Ok((l, 0)),
                    None => Err(e),
                }
            }
        }
    }

    /// Where an upload stands: its (new) URL and the next byte offset expected.
    async fn upload_status(
        &self,
        registry: &str,
        repo: &str,
        loc: &url::Url,
    ) -> Result<(url::Url, u64)> {
        let action = format!("check upload status in {repo}");
        let u = loc.clone();
        let resp = self
            .send(registry, &Scope::push(repo), &action, &|c| c.get(u.clone()))
            .await?;
        if !(resp.status() == StatusCode::NO_CONTENT || resp.status().is_success()) {
            return Err(Self::fail(registry, &action, resp).await);
        }
        let next = resp
            .headers()
            .get(RANGE)
            .and_then(|h| h.to_str().ok())
            .and_then(|r| r.rsplit('-').next())
            .and_then(|e| e.parse::<u64>().ok())
            .map(|e| e + 1)
            .unwrap_or(0);
        let l = match resp.headers().get(LOCATION).and_then(|h| h.to_str().ok()) {
            Some(l) => self.resolve_location(registry, l)?,
            None => loc.clone(),
        };
        Ok((l, next))
    }

    /// A whole blob in memory (at most `limit` bytes), verified against its digest.
    pub async fn get_blob_bytes(
        &self,
        registry: &str,
        repo: &str,
        digest: &Digest,
        limit: u64,
    ) -> Result<Vec<u8>> {
        let url = self.url(registry, repo, &format!("blobs/{digest}"));
        let action = format!("fetch blob {digest} from {repo}");
        let resp = self
            .send(registry, &Scope::pull(repo), &action, &|c| c.get(&url))
            .await?;
        if !resp.status().is_success() {
            return Err(Self::fail(registry, &action, resp).await);
        }
        if resp.content_length().unwrap_or(0) > limit {
            return Err(Error::TooLarge {
                what: action,
                limit,
            });
        }
        let bytes = read_limited(resp, limit, registry, &action).await?;
        digest.verify(&action, &bytes)?;
        Ok(bytes)
    }

    /// GET a plain HTTP(S) URL (a chart repository's index or archive) with this client's
    /// TLS settings and, when configured, its credentials as basic auth; at most `limit`
    /// bytes.
    pub async fn get_url(&self, url: &str, limit: u64) -> Result<Vec<u8>> {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let action = format!("fetch {url}");
        let mut req = self.http.get(url);
        if let Some(c) = &self.cfg.credentials {
            req = req.basic_auth(&c.username, Some(&c.password));
        }
        let resp = req.send().await.map_err(|e| Error::Transport {
            registry: host.clone(),
            action: action.clone(),
            cause: flatten(&e),
            hint: String::new(),
        })?;
        if !resp.status().is_success() {
            return Err(Self::fail(&host, &action, resp).await);
        }
        if resp.content_length().unwrap_or(0) > limit {
            return Err(Error::TooLarge {
                what: action,
                limit,
            });
        }
        read_limited(resp, limit, &host, &action).await
    }

    /// Tags of a repository, every page of them ([`crate::paging`]).
    pub async fn list_tags(&self, registry: &str, repo: &str) -> Result<Vec<String>> {
        self.list_tags_paged(registry, repo, None).await
    }

    /// [`list_tags`](Self::list_tags) asking for `page_size` tags a page (`?n=`); `None`
    /// leaves the page size to the registry. Next pages come from the `Link` header.
    pub async fn list_tags_paged(
        &self,
        registry: &str,
        repo: &str,
        page_size: Option<u32>,
    ) -> Result<Vec<String>> {
        let mut url = self.url(registry, repo, "tags/list");
        if let Some(n) = page_size {
            url.push_str(&format!("?n={n}"));
        }
        let action = format!("list tags of {repo}");
        let first = url::Url::parse(&url)
            .map_err(|e| Error::Usage(format!("invalid registry address {registry}: {e}")))?;
        let mut pages = crate::paging::TagPages::new(first.clone());
        let mut next = Some(first);
        let mut out = Vec::new();
        while let Some(page) = next.take() {
            let (tags, link) = self
                .tag_page(registry, repo, &action, page.as_str())
                .await?;
            out.extend(tags);
            let step = if out.len() > crate::paging::MAX_TAGS {
                Err(crate::paging::PageError::TooManyTags)
            } else {
                pages.next(link.as_deref())
            };
            next = step.map_err(|e| Error::Paging {
                registry: registry.to_string(),
                action: action.clone(),
                reason: e.to_string(),
            })?;
        }
        Ok(out)
    }

    /// One page of a tag list: its tags and its `Link` header.
    async fn tag_page(
        &self,
        registry: &str,
        repo: &str,
        action: &str,
        url: &str,
    ) -> Result<(Vec<String>, Option<String>)> {
        let resp = self
            .send(registry, &Scope::pull(repo), action, &|c| {
                c.request(Method::GET, url)
            })
            .await?;
        if !resp.status().is_success() {
            return Err(Self::fail(registry, action, resp).await);
        }
        let link = resp
            .headers()
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        #[derive(serde::Deserialize)]
        struct Tags {
            tags: Option<Vec<String>>,
        }
        let b = read_limited(resp, 16 << 20, registry, action).await?;
        let t: Tags = serde_json::from_slice(&b).map_err(|e| Error::json(action.to_string(), e))?;
        Ok((
            t.tags.unwrap_or_default(),
            (!link.is_empty()).then_some(link),
        ))
    }
}

async fn read_limited(
    resp: reqwest::Response,
    limit: u64,
    registry: &str,
    action: &str,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(c) = stream.next().await {
        let c = c.map_err(|e| Error::Transport {
            registry: registry.to_string(),
            action: action.to_string(),
            cause: flatten(&e),
            hint: String::new(),
        })?;
        out.extend_from_slice(&c);
        if out.len() as u64 > limit {
            return Err(Error::TooLarge {
                what: action.to_string(),
                limit,
            });
        }
    }
    Ok(out)
}
