//! `berth registry serve`: a small OCI distribution registry for customers without one and
//! for demos. Pull and push (monolithic and chunked uploads, cross-repository mount), HEAD,
//! tag lists and the catalog. Blobs live once on disk whatever the number of repositories.
//!
//! Storage under `--root` (docs/formats/release.md, "Registry server storage"):
//! `blobs/sha256/<hex>` (all content, manifests included), `repositories/<name>/tags/<tag>`
//! (a digest), `repositories/<name>/manifests/<hex>` (the media type of a manifest linked
//! to the repository), `uploads/<uuid>` (uploads in progress).

use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::layout::write_atomic;
use crate::model;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures::StreamExt;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

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
}

struct AppState {
    root: PathBuf,
    users: Option<HashMap<String, String>>,
}

/// A running registry.
pub struct RunningServer {
    /// The bound address.
    pub addr: SocketAddr,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stop accepting and wait for the server to end.
    pub async fn shutdown(self) {
        self.handle
            .graceful_shutdown(Some(std::time::Duration::from_secs(2)));
        let _ = self.task.await;
    }

    /// Wait until the server ends (for the CLI).
    pub async fn wait(self) -> Result<()> {
        match self.task.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::io("registry server", e)),
            Err(e) => Err(Error::Usage(format!("registry server stopped: {e}"))),
        }
    }
}

/// Read an htpasswd file (bcrypt entries only).
pub fn read_htpasswd(path: &Path) -> Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut users = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (u, h) = line.split_once(':').ok_or_else(|| Error::Key {
            path: path.to_path_buf(),
            reason: format!("line {}: expected user:hash", i + 1),
        })?;
        if !(h.starts_with("$2y$") || h.starts_with("$2b$") || h.starts_with("$2a$")) {
            return Err(Error::Key {
                path: path.to_path_buf(),
                reason: format!(
                    "line {}: user {u} does not use a bcrypt hash; create entries with `htpasswd -B`",
                    i + 1
                ),
            });
        }
        users.insert(u.to_string(), h.to_string());
    }
    Ok(users)
}

/// Bind and start serving in the background.
pub async fn start(cfg: ServerConfig) -> Result<RunningServer> {
    crate::client::install_crypto_provider();
    for d in ["blobs/sha256", "repositories", "uploads"] {
        let p = cfg.root.join(d);
        std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
    }
    let users = match &cfg.htpasswd {
        Some(p) => Some(read_htpasswd(p)?),
        None => None,
    };
    let state = Arc::new(AppState {
        root: cfg.root.clone(),
        users,
    });
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
    let svc = app.into_make_service();
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
            let server = axum_server::from_tcp_rustls(listener, tls)
                .map_err(|e| Error::io("listener", e))?
                .handle(handle.clone());
            tokio::spawn(async move { server.serve(svc).await })
        }
        None => {
            let server = axum_server::from_tcp(listener)
                .map_err(|e| Error::io("listener", e))?
                .handle(handle.clone());
            tokio::spawn(async move { server.serve(svc).await })
        }
    };
    Ok(RunningServer { addr, handle, task })
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

fn check_auth(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(users) = &state.users else {
        return true;
    };
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let Some(b64) = v.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return false;
    };
    let Ok(raw) = String::from_utf8(raw) else {
        return false;
    };
    let Some((u, p)) = raw.split_once(':') else {
        return false;
    };
    users
        .get(u)
        .is_some_and(|h| bcrypt::verify(p, h).unwrap_or(false))
}

async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    if !check_auth(&state, req.headers()) {
        let mut r = err(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "authentication required",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"berth-registry\""),
        );
        return r;
    }
    let path = req.uri().path().to_string();
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let method = req.method().clone();
    let Some(rest) = path.strip_prefix("/v2/") else {
        if path == "/v2" {
            return api_ok();
        }
        return err(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "not a registry API path",
        );
    };
    if rest.is_empty() {
        return api_ok();
    }
    if rest == "_catalog" {
        return catalog(&state);
    }
    let resp = route(&state, &method, rest, &query, req).await;
    match resp {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "registry request failed");
            err(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", &e.to_string())
        }
    }
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

fn catalog(state: &AppState) -> Response {
    let base = state.root.join("repositories");
    let mut repos = Vec::new();
    for e in walkdir_tags(&base) {
        repos.push(e);
    }
    repos.sort();
    let body = serde_json::json!({ "repositories": repos });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Repositories = directories under `repositories/` that hold a `manifests` directory.
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
            if e.file_name() == "manifests" {
                if let Ok(rel) = dir.strip_prefix(base) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            } else if e.file_name() != "tags" {
                stack.push(p);
            }
        }
    }
    out
}

async fn route(
    state: &AppState,
    method: &Method,
    rest: &str,
    query: &HashMap<String, String>,
    req: Request,
) -> Result<Response> {
    // <name>/tags/list | <name>/manifests/<ref> | <name>/blobs/<digest> | <name>/blobs/uploads/[<id>]
    if let Some(name) = rest.strip_suffix("/tags/list") {
        if !valid_repo(name) {
            return Ok(err(
                StatusCode::BAD_REQUEST,
                "NAME_INVALID",
                "invalid repository name",
            ));
        }
        return Ok(tags_list(state, name));
    }
    if let Some((name, id)) = rest
        .rsplit_once("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads").map(|n| (n, "")))
    {
        if !valid_repo(name) {
            return Ok(err(
                StatusCode::BAD_REQUEST,
                "NAME_INVALID",
                "invalid repository name",
            ));
        }
        return upload(state, method, name, id, query, req).await;
    }
    if let Some((name, d)) = rest.rsplit_once("/blobs/") {
        if !valid_repo(name) {
            return Ok(err(
                StatusCode::BAD_REQUEST,
                "NAME_INVALID",
                "invalid repository name",
            ));
        }
        let Ok(d) = Digest::parse(d) else {
            return Ok(err(
                StatusCode::BAD_REQUEST,
                "DIGEST_INVALID",
                "invalid digest",
            ));
        };
        return get_blob(state, method, &d).await;
    }
    if let Some((name, r)) = rest.rsplit_once("/manifests/") {
        if !valid_repo(name) {
            return Ok(err(
                StatusCode::BAD_REQUEST,
                "NAME_INVALID",
                "invalid repository name",
            ));
        }
        return manifest(state, method, name, r, req).await;
    }
    Ok(err(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown API path"))
}

fn blob_path(state: &AppState, d: &Digest) -> PathBuf {
    state.root.join("blobs/sha256").join(d.hex())
}

fn repo_dir(state: &AppState, name: &str) -> PathBuf {
    state.root.join("repositories").join(name)
}

fn tags_list(state: &AppState, name: &str) -> Response {
    let dir = repo_dir(state, name).join("tags");
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
        let bytes = match read_body(req, model::MAX_MANIFEST).await {
            Ok(b) => b,
            Err(_) => {
                return Ok(err(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "SIZE_INVALID",
                    "manifest too large",
                ));
            }
        };
        let d = Digest::of(&bytes);
        if by_digest && r != d.as_str() {
            return Ok(err(
                StatusCode::BAD_REQUEST,
                "DIGEST_INVALID",
                "manifest digest does not match",
            ));
        }
        let media_type =
            model::sniff_media_type(&bytes).unwrap_or_else(|| model::OCI_MANIFEST.to_string());
        // Everything a manifest references must already be here.
        let missing = referenced(&bytes, &media_type)
            .into_iter()
            .find(|c| !blob_path(state, c).is_file());
        if let Some(m) = missing {
            return Ok(err(
                StatusCode::BAD_REQUEST,
                "MANIFEST_BLOB_UNKNOWN",
                &format!("blob {m} unknown"),
            ));
        }
        let bp = blob_path(state, &d);
        if !bp.is_file() {
            write_atomic(&bp, &bytes)?;
        }
        let mdir = repo.join("manifests");
        std::fs::create_dir_all(&mdir).map_err(|e| Error::io(&mdir, e))?;
        write_atomic(&mdir.join(d.hex()), media_type.as_bytes())?;
        if !by_digest {
            let tdir = repo.join("tags");
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
        return Ok(resp);
    }
    if method != Method::GET && method != Method::HEAD {
        return Ok(err(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "method not allowed",
        ));
    }
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
        match std::fs::read_to_string(repo.join("tags").join(r))
            .ok()
            .and_then(|s| Digest::parse(s.trim()).ok())
        {
            Some(d) => d,
            None => {
                return Ok(err(
                    StatusCode::NOT_FOUND,
                    "MANIFEST_UNKNOWN",
                    "manifest unknown",
                ));
            }
        }
    };
    let Ok(media_type) = std::fs::read_to_string(repo.join("manifests").join(d.hex())) else {
        return Ok(err(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest unknown",
        ));
    };
    let p = blob_path(state, &d);
    let bytes = tokio::fs::read(&p).await.map_err(|e| Error::io(&p, e))?;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(media_type.trim()) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    if let Ok(v) = HeaderValue::from_str(d.as_str()) {
        headers.insert("Docker-Content-Digest", v);
    }
    if method == Method::HEAD {
        return Ok((StatusCode::OK, headers).into_response());
    }
    Ok((StatusCode::OK, headers, bytes).into_response())
}

fn referenced(bytes: &[u8], media_type: &str) -> Vec<Digest> {
    if model::is_index(media_type) {
        model::parse_index("manifest", bytes)
            .map(|i| i.manifests.into_iter().map(|m| m.digest).collect())
            .unwrap_or_default()
    } else {
        model::parse_manifest("manifest", bytes)
            .map(|m| {
                std::iter::once(m.config.digest)
                    .chain(m.layers.into_iter().map(|l| l.digest))
                    .collect()
            })
            .unwrap_or_default()
    }
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

async fn append_body(path: &Path, req: Request) -> Result<u64> {
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
        f.write_all(&c).await.map_err(|e| Error::io(path, e))?;
        n += c.len() as u64;
    }
    f.flush().await.map_err(|e| Error::io(path, e))?;
    Ok(n)
}

async fn upload(
    state: &AppState,
    method: &Method,
    name: &str,
    id: &str,
    query: &HashMap<String, String>,
    req: Request,
) -> Result<Response> {
    let uploads = state.root.join("uploads");
    if id.is_empty() {
        if method != Method::POST {
            return Ok(err(
                StatusCode::METHOD_NOT_ALLOWED,
                "UNSUPPORTED",
                "method not allowed",
            ));
        }
        // Cross-repository mount: blobs are shared, so a known blob mounts at once.
        if let Some(m) = query.get("mount")
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
        let id = uuid::Uuid::new_v4().to_string();
        let p = uploads.join(&id);
        tokio::fs::write(&p, b"")
            .await
            .map_err(|e| Error::io(&p, e))?;
        // Monolithic POST with ?digest=.
        if let Some(d) = query.get("digest") {
            append_body(&p, req).await?;
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
                "upload unknown",
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
            let n = append_body(&p, req).await?;
            Ok(upload_resp(StatusCode::ACCEPTED, name, id, size + n))
        }
        Method::PUT => {
            let Some(d) = query.get("digest") else {
                return Ok(err(
                    StatusCode::BAD_REQUEST,
                    "DIGEST_INVALID",
                    "digest parameter missing",
                ));
            };
            append_body(&p, req).await?;
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
