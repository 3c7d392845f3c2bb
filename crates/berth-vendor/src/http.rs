//! The HTTP API (docs/formats/vendor-api.md): authentication, authorization, limits and
//! metrics around the service's operations. Every route but /healthz needs a credential.

use crate::customers::Licensee;
use crate::metrics::Metrics;
use crate::model::*;
use crate::service::{Actor, Service, ServiceError, digest};
use crate::store::StoreError;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Largest JSON body accepted.
pub const MAX_JSON: usize = 1024 * 1024;

/// The registry endpoint allows this many times `--license-rps` per license: one image pull
/// is a handful of requests, and every node of a cluster pulls.
pub const REGISTRY_RPS_FACTOR: f64 = 10.0;

/// Shared state of the router.
#[derive(Clone)]
pub struct AppState {
    pub svc: Service,
    pub metrics: Arc<Metrics>,
    /// The URL written into licenses (`--public-url`).
    pub public_url: String,
    limiter: Arc<Limiter>,
    /// The registry endpoint's own budget per license (an image pull is several requests).
    pub(crate) registry_limiter: Arc<Limiter>,
}

/// An error answered to a client: status, stable code, message.
#[derive(Debug)]
pub struct ApiError(StatusCode, &'static str, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.0,
            Json(ErrorBody {
                code: self.1.into(),
                message: self.2,
            }),
        )
            .into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, "not-found", m),
            ServiceError::Conflict(m) => ApiError(StatusCode::CONFLICT, "conflict", m),
            ServiceError::Invalid(m) => ApiError(StatusCode::BAD_REQUEST, "invalid", m),
            ServiceError::Forbidden(m) => ApiError(StatusCode::FORBIDDEN, "forbidden", m),
            e @ ServiceError::Gate(_) => {
                ApiError(StatusCode::UNPROCESSABLE_ENTITY, "gate", e.to_string())
            }
            ServiceError::Store(StoreError::TooLarge { digest, limit }) => ApiError(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                format!("blob {digest} is larger than the server accepts ({limit} bytes)"),
            ),
            ServiceError::Store(e @ StoreError::BundleTooLarge { .. }) => {
                ApiError(StatusCode::PAYLOAD_TOO_LARGE, "too-large", e.to_string())
            }
            ServiceError::Store(StoreError::NotABundle(m)) => {
                ApiError(StatusCode::BAD_REQUEST, "invalid", m)
            }
            ServiceError::Store(e @ StoreError::DigestMismatch { .. }) => {
                ApiError(StatusCode::BAD_REQUEST, "digest-mismatch", e.to_string())
            }
            ServiceError::Store(e) => {
                tracing::error!(error = %e, "storage failure");
                ApiError(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage",
                    "the server's storage failed; nothing was changed, try again".into(),
                )
            }
            ServiceError::Db(e) => {
                tracing::error!(error = %e, "database failure");
                ApiError(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database",
                    "the server's database is unavailable; nothing was changed, try again".into(),
                )
            }
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn bearer(h: &HeaderMap) -> Option<&str> {
    h.get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The vendor token's actor, if it holds at least `need`.
async fn actor(s: &AppState, h: &HeaderMap, need: Scope) -> ApiResult<Actor> {
    let unauth = || {
        ApiError(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a vendor token is required (`berth vendor login URL --token …`)".into(),
        )
    };
    let t = bearer(h).ok_or_else(unauth)?;
    let a = s.svc.authenticate(t).await?.ok_or_else(unauth)?;
    if a.scope < need {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "token {} has scope {}; this needs {}",
                a.name,
                a.scope.as_str(),
                need.as_str()
            ),
        ));
    }
    Ok(a)
}

/// The licensee behind a license bearer, rate-limited per license.
async fn licensee(s: &AppState, h: &HeaderMap) -> ApiResult<Licensee> {
    let unauth = || {
        ApiError(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid license is required (berth sends the license file's credential)".into(),
        )
    };
    let t = bearer(h).ok_or_else(unauth)?;
    let who = s.svc.authenticate_license(t).await?.ok_or_else(unauth)?;
    if !s.limiter.allow(&who.license_id) {
        return Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "too many requests for this license; retry in a second".into(),
        ));
    }
    Ok(who)
}

/// A token bucket per license: a steady rate with a burst.
pub(crate) struct Limiter {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Limiter {
    pub(crate) fn allow(&self, key: &str) -> bool {
        let Ok(mut m) = self.buckets.lock() else {
            return true;
        };
        if m.len() > 100_000 {
            m.clear();
        }
        let now = Instant::now();
        let (tokens, last) = m.entry(key.to_string()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_sec).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The router, with limits and metrics.
pub fn router(svc: Service, public_url: String, license_rps: f64) -> Router {
    let state = AppState {
        svc,
        metrics: Arc::new(Metrics::default()),
        public_url,
        limiter: Arc::new(Limiter {
            per_sec: license_rps,
            burst: license_rps * 2.0,
            buckets: Mutex::new(HashMap::new()),
        }),
        registry_limiter: Arc::new(Limiter {
            per_sec: license_rps * REGISTRY_RPS_FACTOR,
            burst: license_rps * REGISTRY_RPS_FACTOR * 2.0,
            buckets: Mutex::new(HashMap::new()),
        }),
    };
    // Streamed bodies with their own limits (a blob's `--max-blob-mib`, a support bundle's
    // `--max-support-bundle-mib`), enforced while they are written.
    let blobs = Router::new()
        .route("/api/v1/blobs/{digest}", put(put_blob).head(head_blob))
        .route(
            "/api/v1/license/support-bundles",
            post(upload_support_bundle),
        )
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", axum::routing::delete(revoke_token))
        .route("/api/v1/keys", get(list_keys))
        .route("/api/v1/keys/rotate", post(rotate_key))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/apps", get(list_apps).post(create_app))
        .route(
            "/api/v1/apps/{app}/channels",
            get(list_channels).post(create_channel),
        )
        .route(
            "/api/v1/apps/{app}/channels/{channel}/promote",
            post(promote),
        )
        .route(
            "/api/v1/apps/{app}/releases",
            get(list_releases).post(create_release),
        )
        .route("/api/v1/apps/{app}/instances", get(instances))
        .route("/api/v1/apps/{app}/exposure/{advisory}", get(exposure))
        .route(
            "/api/v1/customers",
            get(list_customers).post(create_customer),
        )
        .route(
            "/api/v1/customers/{name}",
            axum::routing::patch(change_customer),
        )
        .route("/api/v1/customers/{name}/license", post(issue_license))
        .route("/api/v1/customers/{name}/bundle", post(customer_bundle))
        .route("/api/v1/license/bundle", post(license_bundle))
        .route("/api/v1/updates", post(updates))
        .route("/api/v1/support-bundles", get(list_support_bundles))
        .route("/api/v1/support-bundles/{id}", get(download_support_bundle))
        .route(
            "/api/v1/license/releases/{version}/index",
            get(release_index),
        )
        .route(
            "/api/v1/license/releases/{version}/blobs/{digest}",
            get(release_blob),
        )
        .layer(DefaultBodyLimit::max(MAX_JSON))
        .merge(blobs)
        .merge(crate::http_registry::routes())
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Count and time every request by route and status; one structured log line each.
async fn observe(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let t = Instant::now();
    let resp = next.run(req).await;
    let secs = t.elapsed().as_secs_f64();
    s.metrics
        .observe(&route, method.as_str(), resp.status().as_u16(), secs);
    tracing::info!(
        method = %method,
        route = %route,
        status = resp.status().as_u16(),
        ms = format!("{:.2}", secs * 1000.0),
        "request"
    );
    resp
}

async fn metrics(State(s): State<AppState>, h: HeaderMap) -> ApiResult<Response> {
    actor(&s, &h, Scope::ReadOnly).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response())
}

async fn whoami(State(s): State<AppState>, h: HeaderMap) -> ApiResult<Json<TokenInfo>> {
    let a = actor(&s, &h, Scope::ReadOnly).await?;
    Ok(Json(TokenInfo {
        id: a.id,
        name: a.name,
        scope: a.scope,
        created_at: String::new(),
        revoked: false,
    }))
}

async fn list_tokens(State(s): State<AppState>, h: HeaderMap) -> ApiResult<Json<Vec<TokenInfo>>> {
    actor(&s, &h, Scope::Admin).await?;
    Ok(Json(s.svc.tokens().await?))
}

async fn create_token(
    State(s): State<AppState>,
    h: HeaderMap,
    Json(t): Json<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let a = actor(&s, &h, Scope::Admin).await?;
    Ok((StatusCode::CREATED, Json(s.svc.create_token(&a, &t).await?)))
}

async fn revoke_token(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let a = actor(&s, &h, Scope::Admin).await?;
    s.svc.revoke_token(&a, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_keys(State(s): State<AppState>, h: HeaderMap) -> ApiResult<Json<Vec<KeyInfo>>> {
    actor(&s, &h, Scope::ReadOnly).await?;
    Ok(Json(s.svc.keys().await?))
}

async fn rotate_key(State(s): State<AppState>, h: HeaderMap) -> ApiResult<Json<serde_json::Value>> {
    let a = actor(&s, &h, Scope::Admin).await?;
    let id = s.svc.rotate_key(&a).await?;
    Ok(Json(serde_json::json!({ "keyId": id })))
}

async fn audit(State(s): State<AppState>, h: HeaderMap) -> ApiResult<Json<Vec<AuditRecord>>> {
    actor(&s, &h, Scope::Admin).await?;
    Ok(Json(s.svc.audit_log(1000).await?))
}

async fn list_apps(State(s): State<AppState>, h: HeaderMap) -> ApiResult<Json<Vec<String>>> {
    actor(&s, &h, Scope::ReadOnly).await?;
    Ok(Json(s.svc.apps().await?))
}

async fn create_app(
    State(s): State<AppState>,
    h: HeaderMap,
    Json(b): Json<NewApp>,
) -> ApiResult<StatusCode> {
    let a = actor(&s, &h, Scope::Admin).await?;
    s.svc.create_app(&a, &b.name).await?;
    Ok(StatusCode::CREATED)
}

async fn list_channels(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(app): Path<String>,
) -> ApiResult<Json<Vec<ChannelInfo>>> {
    actor(&s, &h, Scope::ReadOnly).await?;
    Ok(Json(s.svc.channels(&app).await?))
}

async fn create_channel(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(app): Path<String>,
    Json(b): Json<NewChannel>,
) -> ApiResult<StatusCode> {
    let a = actor(&s, &h, Scope::ReleasePublisher).await?;
    s.svc.create_channel(&a, &app, &b).await?;
    Ok(StatusCode::CREATED)
}

async fn promote(
    State(s): State<AppState>,
    h: HeaderMap,
    Path((app, channel)): Path<(String, String)>,
    Json(b): Json<Promote>,
) -> ApiResult<StatusCode> {
    let a = actor(&s, &h, Scope::ReleasePublisher).await?;
    let new = s.svc.promote(&a, &app, &channel, &b.version).await?;
    Ok(if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}

async fn list_releases(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(app): Path<String>,
) -> ApiResult<Json<Vec<ReleaseInfo>>> {
    actor(&s, &h, Scope::ReadOnly).await?;
    Ok(Json(s.svc.releases(&app).await?))
}

async fn create_release(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(app): Path<String>,
    Json(b): Json<NewRelease>,
) -> ApiResult<StatusCode> {
    let a = actor(&s, &h, Scope::ReleasePublisher).await?;
    let new = s.svc.create_release(&a, &app, &b).await?;
    Ok(if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}

async fn head_blob(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(d): Path<String>,
) -> ApiResult<Response> {
    actor(&s, &h, Scope::ReleasePublisher).await?;
    let d = digest(&d)?;
    match s.svc.store.size(&d).await {
        Some(n) => Ok(([(header::CONTENT_LENGTH, n.to_string())], "").into_response()),
        None => Ok(StatusCode::NOT_FOUND.into_response()),
    }
}

async fn put_blob(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(d): Path<String>,
    body: Body,
) -> ApiResult<StatusCode> {
    actor(&s, &h, Scope::ReleasePublisher).await?;
    let d = digest(&d)?;
    if s.svc.store.has(&d).await {
        return Ok(StatusCode::OK);
    }
    s.svc
        .store
        .put(&d, body.into_data_stream())
        .await
        .map_err(ServiceError::from)?;
    Ok(StatusCode::CREATED)
}

async fn instances(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(app): Path<String>,
) -> ApiResult<Json<Vec<InstanceInfo>>> {
    actor(&s, &h, Scope::ReadOnly).await?;
    Ok(Json(s.svc.instances(&app).await?))
}

async fn exposure(
    State(s): State<AppState>,
    h: HeaderMap,
    Path((app, advisory)): Path<(String, String)>,
) -> ApiResult<Json<crate::exposure::Exposure>> {
    actor(&s, &h, Scope::ReadOnly).await?;
    Ok(Json(s.svc.exposure(&app, &advisory).await?))
}

#[derive(serde::Deserialize)]
struct AppFilter {
    app: Option<String>,
}

async fn list_customers(
    State(s): State<AppState>,
    h: HeaderMap,
    Query(f): Query<AppFilter>,
) -> ApiResult<Json<Vec<CustomerInfo>>> {
    actor(&s, &h, Scope::ReadOnly).await?;
    Ok(Json(s.svc.customers(f.app.as_deref()).await?))
}

async fn create_customer(
    State(s): State<AppState>,
    h: HeaderMap,
    Json(b): Json<NewCustomer>,
) -> ApiResult<StatusCode> {
    let a = actor(&s, &h, Scope::Admin).await?;
    s.svc.create_customer(&a, &b).await?;
    Ok(StatusCode::CREATED)
}

async fn change_customer(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(name): Path<String>,
    Json(b): Json<CustomerChange>,
) -> ApiResult<Json<CustomerInfo>> {
    let a = actor(&s, &h, Scope::Admin).await?;
    Ok(Json(s.svc.change_customer(&a, &name, &b).await?))
}

async fn issue_license(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let a = actor(&s, &h, Scope::Admin).await?;
    let doc = s.svc.issue_license(&a, &name, &s.public_url).await?;
    Ok(([(header::CONTENT_TYPE, "application/yaml")], doc).into_response())
}

async fn updates(
    State(s): State<AppState>,
    h: HeaderMap,
    Json(q): Json<UpdateCheck>,
) -> ApiResult<Json<UpdateAnswer>> {
    let who = licensee(&s, &h).await?;
    Ok(Json(s.svc.check_updates(&who, &q).await?))
}

async fn release_index(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(version): Path<String>,
) -> ApiResult<Response> {
    let who = licensee(&s, &h).await?;
    let index = s.svc.licensed_release(&who, &version).await?;
    stream_blob(&s, &index).await
}

async fn release_blob(
    State(s): State<AppState>,
    h: HeaderMap,
    Path((version, d)): Path<(String, String)>,
) -> ApiResult<Response> {
    let who = licensee(&s, &h).await?;
    s.svc.licensed_release(&who, &version).await?;
    digest(&d)?;
    if !s.svc.release_has_blob(&who.app, &version, &d).await? {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("{d} is not part of {} {version}", who.app),
        ));
    }
    stream_blob(&s, &d).await
}

async fn stream_blob(s: &AppState, d: &str) -> ApiResult<Response> {
    let d = digest(d)?;
    let (f, len) = s.svc.store.open_blob(&d).await.ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("blob {d} is not stored"),
        )
    })?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(f));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::HeaderName::from_static("docker-content-digest"),
                d.to_string(),
            ),
        ],
        body,
    )
        .into_response())
}

async fn customer_bundle(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(name): Path<String>,
    Json(b): Json<crate::bundles::BundleRequest>,
) -> ApiResult<Response> {
    let a = actor(&s, &h, Scope::ReleasePublisher).await?;
    Ok(bundle_response(s.svc.customer_bundle(&a, &name, &b).await?))
}

async fn license_bundle(
    State(s): State<AppState>,
    h: HeaderMap,
    Json(b): Json<crate::bundles::BundleRequest>,
) -> ApiResult<Response> {
    let who = licensee(&s, &h).await?;
    Ok(bundle_response(s.svc.license_bundle(&who, &b).await?))
}

/// Stream a built bundle (its scratch file is already unlinked).
fn bundle_response(b: crate::bundles::BuiltBundle) -> Response {
    let f = tokio::fs::File::from_std(b.file);
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024));
    (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.berth.bundle.v1".to_string(),
            ),
            (header::CONTENT_LENGTH, b.bytes.to_string()),
            (
                header::HeaderName::from_static("x-berth-bundle-kind"),
                b.kind,
            ),
            (
                header::HeaderName::from_static("x-berth-bundle-blobs-omitted"),
                b.blobs_omitted.to_string(),
            ),
        ],
        body,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct BundleName {
    name: Option<String>,
}

/// `POST /api/v1/license/support-bundles?name=FILE`: the license names the customer; the body
/// is streamed to the store (refused at once when its declared length is over the limit).
async fn upload_support_bundle(
    State(s): State<AppState>,
    h: HeaderMap,
    Query(q): Query<BundleName>,
    body: Body,
) -> ApiResult<(StatusCode, Json<SupportBundleInfo>)> {
    let who = licensee(&s, &h).await?;
    let declared = h
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let info = s
        .svc
        .receive_support_bundle(&who, q.name.as_deref(), declared, body.into_data_stream())
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

#[derive(serde::Deserialize)]
struct BundleFilter {
    customer: Option<String>,
    app: Option<String>,
}

async fn list_support_bundles(
    State(s): State<AppState>,
    h: HeaderMap,
    Query(f): Query<BundleFilter>,
) -> ApiResult<Json<Vec<SupportBundleInfo>>> {
    actor(&s, &h, Scope::ReadOnly).await?;
    Ok(Json(
        s.svc
            .support_bundles(f.customer.as_deref(), f.app.as_deref())
            .await?,
    ))
}

async fn download_support_bundle(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let a = actor(&s, &h, Scope::ReadOnly).await?;
    let (b, body) = s.svc.support_bundle(&a, &id).await?;
    let body = match body {
        crate::store::SupportBody::File(f) => {
            Body::from_stream(tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024))
        }
        crate::store::SupportBody::Remote(stream) => Body::from_stream(stream),
    };
    // Customer names are DNS labels and ids UUIDs: nothing in the file name needs quoting.
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (header::CONTENT_LENGTH, b.size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}-{}.tar.gz\"", b.customer, b.id),
            ),
            (
                header::HeaderName::from_static("x-berth-sha256"),
                b.sha256.clone(),
            ),
            (
                header::HeaderName::from_static("x-berth-customer"),
                b.customer.clone(),
            ),
        ],
        body,
    )
        .into_response())
}
