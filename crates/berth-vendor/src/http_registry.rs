//! The pull-only OCI distribution endpoint (`GET`/`HEAD` under `/v2/`): the images of the
//! releases a license may see, for skopeo, containerd and berth. Authenticated with the
//! license: HTTP Basic with the license id as user name and its credential as password (what
//! a Kubernetes pull Secret holds), or berth's `Bearer lic.<id>.<credential>`.
//! Errors are the distribution spec's `{"errors":[{"code","message"}]}`.

use crate::customers::Licensee;
use crate::http::AppState;
use crate::registry::{self, Range, Route};
use crate::service::ServiceError;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use base64::Engine as _;
use berth_oci::digest::Digest;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// The realm named in the Basic challenge.
pub const REALM: &str = "berth-vendor";

/// The `/v2/` routes.
pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/v2/", any(pull_base))
        .route("/v2", any(pull_base))
        .route("/v2/{*rest}", any(pull))
}

/// A distribution-spec error.
#[derive(Debug)]
pub struct RegistryError(StatusCode, &'static str, String);

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"errors": [{"code": self.1, "message": self.2}]});
        let mut r = (self.0, axum::Json(body)).into_response();
        r.headers_mut().insert(
            header::HeaderName::from_static("docker-distribution-api-version"),
            HeaderValue::from_static("registry/2.0"),
        );
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"berth-vendor\""),
            );
        }
        r
    }
}

impl From<ServiceError> for RegistryError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Forbidden(m) => RegistryError(StatusCode::FORBIDDEN, "DENIED", m),
            ServiceError::NotFound(m) => RegistryError(StatusCode::NOT_FOUND, "NAME_UNKNOWN", m),
            ServiceError::Invalid(m) => RegistryError(StatusCode::BAD_REQUEST, "UNSUPPORTED", m),
            other => {
                tracing::error!(error = %other, "registry endpoint failure");
                RegistryError(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "UNAVAILABLE",
                    "the vendor server cannot serve this now; try again".into(),
                )
            }
        }
    }
}

type RResult<T> = Result<T, RegistryError>;

/// The license behind a request's credential, rate-limited per license.
async fn licensee(s: &AppState, h: &HeaderMap) -> RResult<Licensee> {
    let unauth = || {
        RegistryError(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "log in with the license: user name = licenseId, password = credential".into(),
        )
    };
    let bearer = license_bearer(h).ok_or_else(unauth)?;
    let who = s
        .svc
        .authenticate_license(&bearer)
        .await?
        .ok_or_else(unauth)?;
    if !s.registry_limiter.allow(&who.license_id) {
        return Err(RegistryError(
            StatusCode::TOO_MANY_REQUESTS,
            "TOOMANYREQUESTS",
            "too many requests for this license; retry in a second".into(),
        ));
    }
    Ok(who)
}

/// `lic.<id>.<credential>` from Basic (`id:credential`) or Bearer authorization.
fn license_bearer(h: &HeaderMap) -> Option<String> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    if let Some(b) = v.strip_prefix("Bearer ") {
        return Some(b.trim().to_string());
    }
    let raw = v.strip_prefix("Basic ")?;
    let dec = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .ok()?;
    let text = String::from_utf8(dec).ok()?;
    let (id, cred) = text.split_once(':')?;
    Some(format!("lic.{id}.{cred}"))
}

async fn pull_base(State(s): State<AppState>, method: Method, h: HeaderMap) -> Response {
    match base(&s, &method, &h).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn base(s: &AppState, method: &Method, h: &HeaderMap) -> RResult<Response> {
    read_only(method)?;
    licensee(s, h).await?;
    Ok(with_api_header(
        (StatusCode::OK, axum::Json(serde_json::json!({}))).into_response(),
    ))
}

async fn pull(
    State(s): State<AppState>,
    method: Method,
    Path(rest): Path<String>,
    h: HeaderMap,
) -> Response {
    match serve(&s, &method, &rest, &h).await {
        Ok(r) => with_api_header(r),
        Err(e) => e.into_response(),
    }
}

fn read_only(method: &Method) -> RResult<()> {
    if method == Method::GET || method == Method::HEAD {
        Ok(())
    } else {
        Err(RegistryError(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "this registry is pull-only: the vendor publishes with `berth vendor release push`"
                .into(),
        ))
    }
}

fn with_api_header(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::HeaderName::from_static("docker-distribution-api-version"),
        HeaderValue::from_static("registry/2.0"),
    );
    r
}

async fn serve(s: &AppState, method: &Method, rest: &str, h: &HeaderMap) -> RResult<Response> {
    read_only(method)?;
    // Authenticate before anything about the path is said.
    let who = licensee(s, h).await?;
    let route = registry::parse_route(rest).ok_or_else(|| {
        RegistryError(
            StatusCode::NOT_FOUND,
            "NAME_INVALID",
            "not a pull route of the distribution API".into(),
        )
    })?;
    let view = s.svc.registry_view(&who).await?;
    let head = method == Method::HEAD;
    let repo_of = |name: &str| {
        view.repos.get(name).ok_or_else(|| {
            RegistryError(
                StatusCode::NOT_FOUND,
                "NAME_UNKNOWN",
                format!(
                    "no repository {name} for this license (images are under {}/…)",
                    who.app
                ),
            )
        })
    };
    match route {
        Route::Base => Ok(StatusCode::OK.into_response()),
        Route::Tags { name } => {
            let repo = repo_of(&name)?;
            let mut tags: Vec<&String> = repo.tags.keys().collect();
            tags.sort();
            Ok(axum::Json(serde_json::json!({"name": name, "tags": tags})).into_response())
        }
        Route::Manifest { name, reference } => {
            let repo = repo_of(&name)?;
            let unknown = || {
                RegistryError(
                    StatusCode::NOT_FOUND,
                    "MANIFEST_UNKNOWN",
                    format!("no manifest {reference} in {name}"),
                )
            };
            let d = if reference.starts_with("sha256:") {
                Digest::parse(&reference).map_err(|_| unknown())?
            } else if registry::valid_tag(&reference) {
                repo.tags.get(&reference).ok_or_else(unknown)?.1.clone()
            } else {
                return Err(unknown());
            };
            let mt = repo.manifests.get(&d).ok_or_else(unknown)?.clone();
            let bytes = s.svc.read_manifest(&d).await.map_err(|_| unknown())?;
            let len = bytes.len();
            let body = if head {
                Body::empty()
            } else {
                Body::from(bytes)
            };
            Ok((
                [
                    (header::CONTENT_TYPE, mt),
                    (header::CONTENT_LENGTH, len.to_string()),
                    (digest_header(), d.to_string()),
                ],
                body,
            )
                .into_response())
        }
        Route::Blob { name, digest } => {
            let repo = repo_of(&name)?;
            let unknown = || {
                RegistryError(
                    StatusCode::NOT_FOUND,
                    "BLOB_UNKNOWN",
                    format!("no blob {digest} in {name}"),
                )
            };
            let d = Digest::parse(&digest).map_err(|_| unknown())?;
            // Manifests are blobs too (clients may fetch them either way).
            if !repo.blobs.contains(&d) && !repo.manifests.contains_key(&d) {
                return Err(unknown());
            }
            blob(s, &d, head, h).await.ok_or_else(unknown)
        }
    }
}

fn digest_header() -> header::HeaderName {
    header::HeaderName::from_static("docker-content-digest")
}

/// A blob, whole or one byte range of it; None when it is not stored.
async fn blob(s: &AppState, d: &Digest, head: bool, h: &HeaderMap) -> Option<Response> {
    let (mut f, len) = s.svc.store.open_blob(d).await?;
    let range = registry::parse_range(h.get(header::RANGE).and_then(|v| v.to_str().ok()), len);
    let common = [
        (header::CONTENT_TYPE, "application/octet-stream".to_string()),
        (digest_header(), d.to_string()),
        (header::ACCEPT_RANGES, "bytes".to_string()),
    ];
    let (status, start, n) = match range {
        Range::Full => (StatusCode::OK, 0, len),
        Range::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        Range::Unsatisfiable => {
            return Some(
                (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{len}"))],
                )
                    .into_response(),
            );
        }
    };
    let body = if head {
        Body::empty()
    } else {
        if start > 0 {
            f.seek(std::io::SeekFrom::Start(start)).await.ok()?;
        }
        Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
            f.take(n),
            256 * 1024,
        ))
    };
    let mut r = (status, common, body).into_response();
    let hs = r.headers_mut();
    hs.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    if status == StatusCode::PARTIAL_CONTENT {
        let cr = format!("bytes {start}-{}/{len}", start + n - 1);
        if let Ok(v) = HeaderValue::from_str(&cr) {
            hs.insert(header::CONTENT_RANGE, v);
        }
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_bearer_credentials() {
        let mut h = HeaderMap::new();
        assert_eq!(license_bearer(&h), None);
        let basic = base64::engine::general_purpose::STANDARD.encode("id-1:abc");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {basic}")).unwrap(),
        );
        assert_eq!(license_bearer(&h).as_deref(), Some("lic.id-1.abc"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer lic.x.y"),
        );
        assert_eq!(license_bearer(&h).as_deref(), Some("lic.x.y"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(license_bearer(&h), None);
    }
}
