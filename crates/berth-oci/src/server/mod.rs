//! `berth registry serve`: a small OCI distribution registry for customers without one and
//! for demos. Pull and push (monolithic and chunked uploads, cross-repository mount), HEAD,
//! tag lists and the catalog. Blobs live once on disk whatever the number of repositories.
//!
//! It refuses strangers: off loopback it needs users (htpasswd, bcrypt) unless told
//! `--insecure-open`, and passwords over plain HTTP unless told `--insecure`; users get
//! `pull` or `push` per repository prefix ([`access`]). Uploads are bounded in size and
//! number and expire when abandoned; error bodies never name server paths.
//!
//! Storage under `--root`: docs/formats/release.md ("Registry server storage"); users,
//! roles and limits: docs/formats/registry-server.md.

pub mod access;
pub mod conn;
pub mod manifest;

use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::layout::write_atomic;
use crate::model;
use access::{AuthLimits, Authenticator, Identity, Permissions, Role};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

pub use access::read_htpasswd;

/// Resource limits of the registry. The defaults suit a customer's private registry.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest blob (and so largest upload session) accepted, in bytes.
    pub max_blob_bytes: u64,
    /// Upload sessions open at once; more get 429 until some finish or expire.
    pub max_upload_sessions: usize,
    /// An upload session untouched for this long is deleted.
    pub upload_ttl: Duration,
    /// Failed logins per client address per `auth_failure_window` before 429s.
    pub auth_failures_per_window: u32,
    /// The window of `auth_failures_per_window`.
    pub auth_failure_window: Duration,
    /// Time a client has to send a request's headers (and, on a new connection, to finish
    /// the TLS handshake); an idle keep-alive connection is closed after it too.
    pub header_read_timeout: Duration,
    /// A connection with no byte read or written for this long is closed.
    pub idle_timeout: Duration,
    /// Connections open at once, all clients together.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_client: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_blob_bytes: 10 * 1024 * 1024 * 1024,
            max_upload_sessions: 256,
            upload_ttl: Duration::from_secs(3600),
            auth_failures_per_window: 20,
            auth_failure_window: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            max_connections: 1024,
            max_connections_per_client: 64,
        }
    }
}

/// How to run the registry.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Storage directory.
    pub root: PathBuf,
    /// Listen address (port 0 picks a free port).
    pub addr: SocketAddr,
    /// TLS certificate and key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// htpasswd file with bcrypt entries; when set every request needs basic auth.
    pub htpasswd: Option<PathBuf>,
    /// Roles per user and repository prefix (docs/formats/registry-server.md); without it
    /// every htpasswd user may push everywhere.
    pub permissions: Option<PathBuf>,
    /// Serve a non-loopback address without users (anyone may push): `--insecure-open`.
    pub insecure_open: bool,
    /// Accept passwords over plain HTTP on a non-loopback address: `--insecure`.
    pub insecure: bool,
    /// Resource limits.
    pub limits: Limits,
}

impl ServerConfig {
    /// A configuration with no TLS, no users and default limits.
    pub fn new(root: impl Into<PathBuf>, addr: SocketAddr) -> Self {
        ServerConfig {
            root: root.into(),
            addr,
            tls: None,
            htpasswd: None,
            permissions: None,
            insecure_open: false,
            insecure: false,
            limits: Limits::default(),
        }
    }
}

/// Decide whether this configuration may start, and what to warn about when it does.
///
/// Off loopback a registry without users lets anyone push and overwrite tags, and basic
/// auth over plain HTTP hands passwords to anyone on the path: both need an explicit flag.
pub fn check_exposure(cfg: &ServerConfig) -> Result<Vec<String>> {
    let loopback = cfg.addr.ip().is_loopback();
    let auth = cfg.htpasswd.is_some();
    let mut warnings = Vec::new();
    if cfg.permissions.is_some() && !auth {
        return Err(Error::Usage(
            "--permissions needs --htpasswd: roles are given to htpasswd users".into(),
        ));
    }
    if !loopback && !auth {
        if !cfg.insecure_open {
            return Err(Error::Usage(format!(
                "refusing to serve {} without authentication: anyone reaching the port could push and overwrite tags; give --htpasswd FILE (with --tls-cert/--tls-key), bind 127.0.0.1, or pass --insecure-open to accept that",
                cfg.addr
            )));
        }
        warnings.push(format!(
            "--insecure-open: {} is served without authentication; anyone who reaches it can push and overwrite tags",
            cfg.addr
        ));
    }
    if !loopback && auth && cfg.tls.is_none() {
        if !cfg.insecure {
            return Err(Error::Usage(format!(
                "refusing basic auth over plain HTTP on {}: passwords would cross the network in clear; give --tls-cert and --tls-key, or pass --insecure to accept that",
                cfg.addr
            )));
        }
        warnings.push(format!(
            "--insecure: passwords for {} travel in clear over plain HTTP",
            cfg.addr
        ));
    }
    Ok(warnings)
}

struct AppState {
    root: PathBuf,
    auth: Option<Authenticator>,
    permissions: Option<Permissions>,
    limits: Limits,
}

/// A running registry.
pub struct RunningServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// Warnings about how it is exposed (also logged); the CLI prints them on every start.
    pub warnings: Vec<String>,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    sweeper: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Stop accepting and wait for the server to end.
    pub async fn shutdown(self) {
        self.sweeper.abort();
        self.handle
            .graceful_shutdown(Some(std::time::Duration::from_secs(2)));
        let _ = self.task.await;
    }

    /// Wait until the server ends (for the CLI).
    pub async fn wait(self) -> Result<()> {
        let r = self.task.await;
        self.sweeper.abort();
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::io("registry server", e)),
            Err(e) => Err(Error::Usage(format!("registry server stopped: {e}"))),
        }
    }
}

/// Bind and start serving in the background.
pub async fn start(cfg: ServerConfig) -> Result<RunningServer> {
    crate::client::install_crypto_provider();
    let warnings = check_exposure(&cfg)?;
    for w in &warnings {
        tracing::warn!("{w}");
    }
    for d in ["blobs/sha256", "repositories", "uploads"] {
        let p = cfg.root.join(d);
        std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
    }
    migrate_layout(&cfg.root)?;
    let users = match &cfg.htpasswd {
        Some(p) => Some(read_htpasswd(p)?),
        None => None,
    };
    let permissions = match &cfg.permissions {
        Some(p) => Some(Permissions::read(p)?),
        None => None,
    };
    let auth = Authenticator::new(
        users,
        AuthLimits {
            failures_per_window: cfg.limits.auth_failures_per_window,
            window: cfg.limits.auth_failure_window,
            concurrent_checks: std::thread::available_parallelism().map_or(2, |n| n.get()),
        },
    )?;
    if let (Some(a), Some(p)) = (&auth, &permissions) {
        for u in p.users().filter(|u| !a.knows(u)) {
            tracing::warn!("permissions name user {u}, who is not in the htpasswd file");
        }
    }
    let state = Arc::new(AppState {
        root: cfg.root.clone(),
        auth,
        permissions,
        limits: cfg.limits.clone(),
    });
    let sweeper = tokio::spawn(sweep_uploads(
        cfg.root.join("uploads"),
        cfg.limits.upload_ttl,
    ));
    let app = axum::Router::new().fallback(handle).with_state(state);
    let listener = std::net::TcpListener::bind(cfg.addr).map_err(|e| {
        Error::Usage(format!(
            "cannot listen on {}: {e}; pick another --addr",
            cfg.addr
        ))
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::io("listener", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("listener", e))?;
    let handle = axum_server::Handle::new();
    let svc = app.into_make_service_with_connect_info::<SocketAddr>();
    let lim = &cfg.limits;
    let budget = conn::Budget::new(conn::ConnLimits {
        max_total: lim.max_connections.max(1),
        max_per_client: lim.max_connections_per_client.max(1),
        idle_timeout: lim.idle_timeout,
    });
    let limit = conn::LimitAcceptor::new(axum_server::accept::DefaultAcceptor::new(), budget);
    let mut server = axum_server::from_tcp(listener)
        .map_err(|e| Error::io("listener", e))?
        .handle(handle.clone())
        .first_request_timeout(lim.header_read_timeout);
    server
        .http_builder()
        .http1()
        .header_read_timeout(lim.header_read_timeout);
    let task = match &cfg.tls {
        Some((cert, key)) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| Error::Key {
                    path: cert.clone(),
                    reason: format!(
                        "cannot load the TLS certificate/key pair ({e}); give PEM files"
                    ),
                })?;
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls)
                .handshake_timeout(lim.header_read_timeout)
                .acceptor(limit);
            let server = server.acceptor(acceptor);
            tokio::spawn(async move { server.serve(svc).await })
        }
        None => {
            let server = server.acceptor(limit);
            tokio::spawn(async move { server.serve(svc).await })
        }
    };
    Ok(RunningServer {
        addr,
        warnings,
        handle,
        task,
        sweeper,
    })
}

/// Delete upload sessions untouched for `ttl` (the file's modification time is the last
/// chunk received), now and then periodically.
async fn sweep_uploads(dir: PathBuf, ttl: Duration) {
    let every = (ttl / 2).clamp(Duration::from_millis(100), Duration::from_secs(60));
    loop {
        let d = dir.clone();
        let _ = tokio::task::spawn_blocking(move || remove_expired_uploads(&d, ttl)).await;
        tokio::time::sleep(every).await;
    }
}

fn remove_expired_uploads(dir: &Path, ttl: Duration) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for e in rd.flatten() {
        let expired = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= ttl);
        if expired && std::fs::remove_file(e.path()).is_ok() {
            n += 1;
        }
    }
    if n > 0 {
        tracing::info!(removed = n, "expired upload sessions removed");
    }
    n
}

fn err(status: StatusCode, code: &str, msg: &str) -> Response {
    let body = serde_json::json!({"errors": [{"code": code, "message": msg}]});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn valid_repo(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.as_bytes()[0].is_ascii_alphanumeric()
        })
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && t.as_bytes()[0].is_ascii_alphanumeric()
}

/// What a request path addresses.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Ping,
    Catalog,
    Tags(&'a str),
    Upload(&'a str, &'a str),
    Blob(&'a str, &'a str),
    Manifest(&'a str, &'a str),
    BadName,
    Unknown,
}

fn parse_route<'a>(path: &'a str) -> Route<'a> {
    let Some(rest) = path.strip_prefix("/v2/") else {
        return if path == "/v2" {
            Route::Ping
        } else {
            Route::Unknown
        };
    };
    if rest.is_empty() {
        return Route::Ping;
    }
    if rest == "_catalog" {
        return Route::Catalog;
    }
    let named = |name: &'a str, r: Route<'a>| if valid_repo(name) { r } else { Route::BadName };
    // <name>/tags/list | <name>/blobs/uploads/[<id>] | <name>/blobs/<digest> | <name>/manifests/<ref>
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return named(name, Route::Tags(name));
    }
    if let Some((name, id)) = rest
        .rsplit_once("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads").map(|n| (n, "")))
    {
        return named(name, Route::Upload(name, id));
    }
    if let Some((name, d)) = rest.rsplit_once("/blobs/") {
        return named(name, Route::Blob(name, d));
    }
    if let Some((name, r)) = rest.rsplit_once("/manifests/") {
        return named(name, Route::Manifest(name, r));
    }
    Route::Unknown
}

impl Route<'_> {
    fn repository(&self) -> Option<&str> {
        match self {
            Route::Tags(n) | Route::Upload(n, _) | Route::Blob(n, _) | Route::Manifest(n, _) => {
                Some(n)
            }
            _ => None,
        }
    }
}

/// Every response says what it is and forbids browsers to guess otherwise.
async fn handle(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let mut r = handle_request(&state, peer, req).await;
    r.headers_mut().insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

async fn handle_request(state: &AppState, peer: SocketAddr, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let route = parse_route(&path);
    let method = req.method().clone();
    let identity = match &state.auth {
        None => Identity::Open,
        Some(a) => {
            let h = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|h| h.to_str().ok());
            a.identify(peer.ip(), h).await
        }
    };
    let user = match identity {
        Identity::Open => None,
        Identity::User(u) => Some(u),
        Identity::Anonymous | Identity::Refused => return unauthorized(),
        Identity::Limited => {
            let mut r = err(
                StatusCode::TOO_MANY_REQUESTS,
                "TOOMANYREQUESTS",
                "too many failed logins from this address; wait and try again",
            );
            let secs = state.auth.as_ref().map_or(60, |a| a.retry_after());
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return r;
        }
    };
    let need = if method == Method::GET || method == Method::HEAD {
        Role::Pull
    } else {
        Role::Push
    };
    if let (Some(u), Some(repo)) = (&user, route.repository())
        && !may(state, u, repo, need)
    {
        let what = if need == Role::Push {
            "push to"
        } else {
            "pull from"
        };
        return err(
            StatusCode::FORBIDDEN,
            "DENIED",
            &format!("user {u} may not {what} repository {repo}"),
        );
    }
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let resp = match route {
        Route::Ping => return api_ok(),
        Route::Catalog => {
            return catalog(state, |repo| {
                user.as_deref()
                    .is_none_or(|u| may(state, u, repo, Role::Pull))
            });
        }
        Route::BadName => {
            return err(
                StatusCode::BAD_REQUEST,
                "NAME_INVALID",
                "invalid repository name",
            );
        }
        Route::Unknown => {
            return err(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown API path");
        }
        Route::Tags(name) => Ok(tags_list(state, name)),
        Route::Upload(name, id) => {
            let ctx = UploadCtx {
                name,
                id,
                user: user.as_deref(),
            };
            upload(state, &method, ctx, &query, req).await
        }
        Route::Blob(_, d) => match Digest::parse(d) {
            Ok(d) => get_blob(state, &method, &d).await,
            Err(_) => Ok(err(
                StatusCode::BAD_REQUEST,
                "DIGEST_INVALID",
                "invalid digest",
            )),
        },
        Route::Manifest(name, r) => manifest(state, &method, name, r, req).await,
    };
    match resp {
        Ok(r) => r,
        Err(e) => {
            // Details (paths) go to the log only.
            tracing::warn!(error = %e, path = %path, "registry request failed");
            err(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UNKNOWN",
                "internal error; the registry's log has the details",
            )
        }
    }
}

/// Whether `user` may act on `repo` (no permissions file: every user may push).
fn may(state: &AppState, user: &str, repo: &str, need: Role) -> bool {
    state
        .permissions
        .as_ref()
        .is_none_or(|p| p.allows(user, repo, need))
}

fn unauthorized() -> Response {
    let mut r = err(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "authentication required",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"berth-registry\""),
    );
    r
}

fn api_ok() -> Response {
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "{}",
    )
        .into_response();
    r.headers_mut().insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
    r
}

fn catalog(state: &AppState, visible: impl Fn(&str) -> bool) -> Response {
    let base = state.root.join("repositories");
    let mut repos: Vec<String> = walkdir_tags(&base)
        .into_iter()
        .filter(|r| visible(r))
        .collect();
    repos.sort();
    let body = serde_json::json!({ "repositories": repos });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A repository's manifest links, under `repositories/<name>/`. Repository name components
/// start with a letter or digit, so `_`-prefixed folders never collide with a name.
const MANIFESTS: &str = "_manifests";
/// A repository's tags, under `repositories/<name>/`.
const TAGS: &str = "_tags";

/// Repositories = directories under `repositories/` that hold a `_manifests` directory.
fn walkdir_tags(base: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![base.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if !p.is_dir() {
                continue;
            }
            let file_name = e.file_name();
            let n = file_name.to_string_lossy();
            if n == MANIFESTS {
                if let Ok(rel) = dir.strip_prefix(base) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            } else if !n.starts_with('_') {
                stack.push(p);
            }
        }
    }
    out
}

/// Move a root written before names and layout were separated (`manifests/` and `tags/`
/// folders beside repository folders) to the `_manifests`/`_tags` layout. An old internal
/// folder holds only files; a repository named `manifests` or `tags` holds folders.
fn migrate_layout(root: &Path) -> Result<()> {
    let marker = root.join("layout-version");
    if marker.is_file() {
        return Ok(());
    }
    let mut stack = vec![root.join("repositories")];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if !p.is_dir() {
                continue;
            }
            let only_files = std::fs::read_dir(&p)
                .map(|r| r.flatten().all(|c| c.path().is_file()))
                .unwrap_or(false);
            let internal = match e.file_name().to_str() {
                Some("manifests") => Some(MANIFESTS),
                Some("tags") => Some(TAGS),
                _ => None,
            };
            match internal {
                Some(new) if only_files => {
                    let to = dir.join(new);
                    std::fs::rename(&p, &to).map_err(|e| Error::io(&to, e))?;
                }
                _ => stack.push(p),
            }
        }
    }
    write_atomic(&marker, b"2\n")
}

fn blob_path(state: &AppState, d: &Digest) -> PathBuf {
    state.root.join("blobs/sha256").join(d.hex())
}

fn repo_dir(state: &AppState, name: &str) -> PathBuf {
    state.root.join("repositories").join(name)
}

fn tags_list(state: &AppState, name: &str) -> Response {
    let dir = repo_dir(state, name).join(TAGS);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return err(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository not known",
        );
    };
    let mut tags: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .collect();
    tags.retain(|t| !t.starts_with('.'));
    tags.sort();
    let body = serde_json::json!({"name": name, "tags": tags});
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn get_blob(state: &AppState, method: &Method, d: &Digest) -> Result<Response> {
    let p = blob_path(state, d);
    let meta = match tokio::fs::metadata(&p).await {
        Ok(m) => m,
        Err(_) => return Ok(err(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown")),
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(meta.len()));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(d.as_str()) {
        headers.insert("Docker-Content-Digest", v);
    }
    if method == Method::HEAD {
        return Ok((StatusCode::OK, headers).into_response());
    }
    if method != Method::GET {
        return Ok(err(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "method not allowed",
        ));
    }
    let f = tokio::fs::File::open(&p)
        .await
        .map_err(|e| Error::io(&p, e))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024));
    Ok((StatusCode::OK, headers, body).into_response())
}

async fn manifest(
    state: &AppState,
    method: &Method,
    name: &str,
    r: &str,
    req: Request,
) -> Result<Response> {
    let repo = repo_dir(state, name);
    let by_digest = r.starts_with("sha256:");
    if !by_digest && !valid_tag(r) {
        return Ok(err(StatusCode::BAD_REQUEST, "TAG_INVALID", "invalid tag"));
    }
    if method == Method::PUT {
        return put_manifest(state, name, r, req).await;
    }
    if method != Method::GET && method != Method::HEAD {
        return Ok(err(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "method not allowed",
        ));
    }
    let unknown = || {
        Ok(err(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest unknown",
        ))
    };
    let d = if by_digest {
        match Digest::parse(r) {
            Ok(d) => d,
            Err(_) => {
                return Ok(err(
                    StatusCode::BAD_REQUEST,
                    "DIGEST_INVALID",
                    "invalid digest",
                ));
            }
        }
    } else {
        match std::fs::read_to_string(repo.join(TAGS).join(r))
            .ok()
            .and_then(|s| Digest::parse(s.trim()).ok())
        {
            Some(d) => d,
            None => return unknown(),
        }
    };
    // The type recorded when the manifest was validated; nothing else is ever served.
    let Some(media_type) = linked_type(state, name, &d) else {
        return unknown();
    };
    let p = blob_path(state, &d);
    let bytes = tokio::fs::read(&p).await.map_err(|e| Error::io(&p, e))?;
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    if let Ok(v) = HeaderValue::from_str(d.as_str()) {
        headers.insert("Docker-Content-Digest", v);
    }
    if method == Method::HEAD {
        return Ok((StatusCode::OK, headers).into_response());
    }
    Ok((StatusCode::OK, headers, bytes).into_response())
}

/// The validated media type of a manifest linked to a repository.
fn linked_type(state: &AppState, name: &str, d: &Digest) -> Option<&'static str> {
    let t = std::fs::read_to_string(repo_dir(state, name).join(MANIFESTS).join(d.hex())).ok()?;
    let t = t.trim();
    let known = [
        model::OCI_MANIFEST,
        model::OCI_INDEX,
        model::DOCKER_MANIFEST,
        model::DOCKER_LIST,
    ]
    .into_iter()
    .find(|k| *k == t);
    if known.is_none() {
        tracing::warn!(repository = name, digest = %d, "stored manifest has an unknown media type; not served");
    }
    known
}

async fn put_manifest(state: &AppState, name: &str, r: &str, req: Request) -> Result<Response> {
    let by_digest = r.starts_with("sha256:");
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let Ok(bytes) = read_body(req, model::MAX_MANIFEST).await else {
        return Ok(err(
            StatusCode::PAYLOAD_TOO_LARGE,
            "SIZE_INVALID",
            "manifest too large (or its body could not be read)",
        ));
    };
    let d = Digest::of(&bytes);
    if by_digest && r != d.as_str() {
        return Ok(err(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            "manifest digest does not match",
        ));
    }
    let valid = match manifest::validate(&bytes, content_type.as_deref()) {
        Ok(v) => v,
        Err(why) => return Ok(err(StatusCode::BAD_REQUEST, "MANIFEST_INVALID", &why)),
    };
    if let Some(r) = missing_reference(state, name, &valid) {
        return Ok(r);
    }
    let bp = blob_path(state, &d);
    if !bp.is_file() {
        write_atomic(&bp, &bytes)?;
    }
    let repo = repo_dir(state, name);
    let mdir = repo.join(MANIFESTS);
    std::fs::create_dir_all(&mdir).map_err(|e| Error::io(&mdir, e))?;
    write_atomic(&mdir.join(d.hex()), valid.media_type.as_bytes())?;
    if !by_digest {
        let tdir = repo.join(TAGS);
        std::fs::create_dir_all(&tdir).map_err(|e| Error::io(&tdir, e))?;
        write_atomic(&tdir.join(r), d.as_str().as_bytes())?;
    }
    let mut resp = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v2/{name}/manifests/{d}")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(d.as_str()) {
        resp.headers_mut().insert("Docker-Content-Digest", v);
    }
    Ok(resp)
}

/// Everything a manifest references must already be here with the stated size: blobs
/// anywhere, child manifests linked to this repository.
fn missing_reference(state: &AppState, name: &str, valid: &manifest::Valid) -> Option<Response> {
    for c in &valid.references {
        let linked = !c.child || linked_type(state, name, &c.digest).is_some();
        let size = std::fs::metadata(blob_path(state, &c.digest))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let what = if c.child { "manifest" } else { "blob" };
        match size {
            Some(s) if linked && s == c.size => {}
            Some(s) if linked => {
                return Some(err(
                    StatusCode::BAD_REQUEST,
                    "MANIFEST_INVALID",
                    &format!(
                        "{what} {} is {s} bytes but the manifest says {}",
                        c.digest, c.size
                    ),
                ));
            }
            _ => {
                return Some(err(
                    StatusCode::BAD_REQUEST,
                    "MANIFEST_BLOB_UNKNOWN",
                    &format!(
                        "{what} {} unknown in repository {name}; push it first",
                        c.digest
                    ),
                ));
            }
        }
    }
    None
}

async fn read_body(req: Request, limit: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut s = req.into_body().into_data_stream();
    while let Some(c) = s.next().await {
        let c = c.map_err(|e| Error::Usage(format!("reading request body: {e}")))?;
        out.extend_from_slice(&c);
        if out.len() as u64 > limit {
            return Err(Error::TooLarge {
                what: "request body".into(),
                limit,
            });
        }
    }
    Ok(out)
}

fn upload_location(name: &str, id: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("/v2/{name}/blobs/uploads/{id}"))
        .unwrap_or(HeaderValue::from_static("/"))
}

fn upload_resp(status: StatusCode, name: &str, id: &str, size: u64) -> Response {
    let mut r = status.into_response();
    let h = r.headers_mut();
    h.insert(header::LOCATION, upload_location(name, id));
    h.insert(
        header::RANGE,
        HeaderValue::from_str(&format!("0-{}", size.saturating_sub(1)))
            .unwrap_or(HeaderValue::from_static("0-0")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert("Docker-Upload-UUID", v);
    }
    r
}

/// Append a request body to an upload session, refusing to let the session grow past
/// `limit` bytes (`Error::TooLarge`; the caller deletes the session).
async fn append_body(path: &Path, req: Request, already: u64, limit: u64) -> Result<u64> {
    let too_large = || Error::TooLarge {
        what: "blob upload".into(),
        limit,
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if already.saturating_add(declared) > limit {
        return Err(too_large());
    }
    let mut f = tokio::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .await
        .map_err(|e| Error::io(path, e))?;
    let mut s = req.into_body().into_data_stream();
    let mut n = 0u64;
    while let Some(c) = s.next().await {
        let c = c.map_err(|e| Error::Usage(format!("reading upload body: {e}")))?;
        n += c.len() as u64;
        if already.saturating_add(n) > limit {
            return Err(too_large());
        }
        f.write_all(&c).await.map_err(|e| Error::io(path, e))?;
    }
    f.flush().await.map_err(|e| Error::io(path, e))?;
    Ok(n)
}

/// Append to a session; an oversized session is deleted and answered with 413.
async fn append_or_refuse(
    state: &AppState,
    p: &Path,
    req: Request,
    already: u64,
) -> Result<std::result::Result<u64, Response>> {
    let limit = state.limits.max_blob_bytes;
    match append_body(p, req, already, limit).await {
        Ok(n) => Ok(Ok(n)),
        Err(Error::TooLarge { .. }) => {
            let _ = tokio::fs::remove_file(p).await;
            Ok(Err(err(
                StatusCode::PAYLOAD_TOO_LARGE,
                "SIZE_INVALID",
                &format!(
                    "blob larger than this registry's limit of {limit} bytes; upload session deleted"
                ),
            )))
        }
        Err(e) => Err(e),
    }
}

/// The repository, session id and user of an upload request.
struct UploadCtx<'a> {
    name: &'a str,
    id: &'a str,
    user: Option<&'a str>,
}

fn open_sessions(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |rd| rd.count())
}

async fn upload(
    state: &AppState,
    method: &Method,
    ctx: UploadCtx<'_>,
    query: &HashMap<String, String>,
    req: Request,
) -> Result<Response> {
    let UploadCtx { name, id, user } = ctx;
    let uploads = state.root.join("uploads");
    if id.is_empty() {
        if method != Method::POST {
            return Ok(err(
                StatusCode::METHOD_NOT_ALLOWED,
                "UNSUPPORTED",
                "method not allowed",
            ));
        }
        // Cross-repository mount: blobs are shared, so a known blob mounts at once, when
        // the user may read the repository it is mounted from.
        let from_ok = match (user, query.get("from")) {
            (Some(u), Some(from)) => valid_repo(from) && may(state, u, from, Role::Pull),
            _ => true,
        };
        if let Some(m) = query.get("mount")
            && from_ok
            && let Ok(d) = Digest::parse(m)
            && blob_path(state, &d).is_file()
        {
            let mut r = StatusCode::CREATED.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("/v2/{name}/blobs/{d}")) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            if let Ok(v) = HeaderValue::from_str(d.as_str()) {
                r.headers_mut().insert("Docker-Content-Digest", v);
            }
            return Ok(r);
        }
        if open_sessions(&uploads) >= state.limits.max_upload_sessions {
            return Ok(err(
                StatusCode::TOO_MANY_REQUESTS,
                "TOOMANYREQUESTS",
                "too many uploads in progress; finish or cancel some, or wait for abandoned ones to expire",
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let p = uploads.join(&id);
        tokio::fs::write(&p, b"")
            .await
            .map_err(|e| Error::io(&p, e))?;
        // Monolithic POST with ?digest=.
        if let Some(d) = query.get("digest") {
            if let Err(r) = append_or_refuse(state, &p, req, 0).await? {
                return Ok(r);
            }
            return finish_upload(state, name, &p, d).await;
        }
        return Ok(upload_resp(StatusCode::ACCEPTED, name, &id, 0));
    }
    if uuid::Uuid::parse_str(id).is_err() {
        return Ok(err(
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
            "upload unknown",
        ));
    }
    let p = uploads.join(id);
    let size = match tokio::fs::metadata(&p).await {
        Ok(m) => m.len(),
        Err(_) => {
            return Ok(err(
                StatusCode::NOT_FOUND,
                "BLOB_UPLOAD_UNKNOWN",
                "upload unknown (finished, cancelled or expired)",
            ));
        }
    };
    match *method {
        Method::GET => Ok(upload_resp(StatusCode::NO_CONTENT, name, id, size)),
        Method::PATCH => {
            if let Some(start) = req
                .headers()
                .get(header::CONTENT_RANGE)
                .and_then(|h| h.to_str().ok())
                .and_then(|r| r.split('-').next())
                .and_then(|s| s.trim().parse::<u64>().ok())
                && start != size
            {
                return Ok(err(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "BLOB_UPLOAD_INVALID",
                    "chunk out of order",
                ));
            }
            match append_or_refuse(state, &p, req, size).await? {
                Ok(n) => Ok(upload_resp(StatusCode::ACCEPTED, name, id, size + n)),
                Err(r) => Ok(r),
            }
        }
        Method::PUT => {
            let Some(d) = query.get("digest") else {
                return Ok(err(
                    StatusCode::BAD_REQUEST,
                    "DIGEST_INVALID",
                    "digest parameter missing",
                ));
            };
            if let Err(r) = append_or_refuse(state, &p, req, size).await? {
                return Ok(r);
            }
            finish_upload(state, name, &p, d).await
        }
        Method::DELETE => {
            let _ = tokio::fs::remove_file(&p).await;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Ok(err(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "method not allowed",
        )),
    }
}

async fn finish_upload(state: &AppState, name: &str, p: &Path, d: &str) -> Result<Response> {
    let Ok(d) = Digest::parse(d) else {
        let _ = tokio::fs::remove_file(p).await;
        return Ok(err(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            "invalid digest",
        ));
    };
    // Hash the upload to verify it before it becomes a blob.
    let mut h = Hasher::new();
    let mut f = tokio::fs::File::open(p)
        .await
        .map_err(|e| Error::io(p, e))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        use tokio::io::AsyncReadExt;
        let n = f.read(&mut buf).await.map_err(|e| Error::io(p, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    if h.finish() != d {
        let _ = tokio::fs::remove_file(p).await;
        return Ok(err(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            "uploaded content does not match the digest",
        ));
    }
    let dest = blob_path(state, &d);
    if dest.is_file() {
        let _ = tokio::fs::remove_file(p).await;
    } else {
        tokio::fs::rename(p, &dest)
            .await
            .map_err(|e| Error::io(&dest, e))?;
    }
    let mut r = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v2/{name}/blobs/{d}")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(d.as_str()) {
        r.headers_mut().insert("Docker-Content-Digest", v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(addr: &str) -> ServerConfig {
        ServerConfig::new("/nonexistent", addr.parse().unwrap())
    }

    #[test]
    fn off_loopback_needs_users_or_insecure_open() {
        assert!(check_exposure(&cfg("127.0.0.1:5000")).unwrap().is_empty());
        assert!(check_exposure(&cfg("[::1]:5000")).unwrap().is_empty());
        let e = check_exposure(&cfg("0.0.0.0:5000")).unwrap_err();
        assert!(
            e.to_string().contains("--htpasswd") && e.to_string().contains("--insecure-open"),
            "{e}"
        );
        let mut c = cfg("10.1.2.3:5000");
        c.insecure_open = true;
        let w = check_exposure(&c).unwrap();
        assert!(
            w.len() == 1 && w[0].contains("without authentication"),
            "{w:?}"
        );
    }

    #[test]
    fn off_loopback_passwords_need_tls_or_insecure() {
        let mut c = cfg("0.0.0.0:5000");
        c.htpasswd = Some("htpasswd".into());
        let e = check_exposure(&c).unwrap_err();
        assert!(
            e.to_string().contains("--tls-cert") && e.to_string().contains("--insecure"),
            "{e}"
        );
        c.insecure = true;
        assert!(check_exposure(&c).unwrap()[0].contains("in clear"));
        c.insecure = false;
        c.tls = Some(("c".into(), "k".into()));
        assert!(check_exposure(&c).unwrap().is_empty());
        let mut c = cfg("127.0.0.1:5000");
        c.permissions = Some("p".into());
        assert!(check_exposure(&c).is_err());
    }

    #[test]
    fn routes_parse_names_and_refuse_bad_ones() {
        assert_eq!(parse_route("/v2/"), Route::Ping);
        assert_eq!(parse_route("/v2/a/b/tags/list"), Route::Tags("a/b"));
        assert_eq!(parse_route("/v2/a/blobs/uploads/"), Route::Upload("a", ""));
        assert_eq!(
            parse_route("/v2/a/manifests/v1"),
            Route::Manifest("a", "v1")
        );
        assert_eq!(parse_route("/v2/../etc/manifests/v1"), Route::BadName);
        assert_eq!(parse_route("/etc/passwd"), Route::Unknown);
    }
}
