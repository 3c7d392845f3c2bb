//! The vendor's portal: web pages served by the vendor server under `/portal/` (releases per
//! channel with promote, customers with licenses, instances, scan results), over the same
//! `Service` operations as the API, so every change is checked and audited as the API's are.
//!
//! Login is a vendor API token pasted into a password field. The session (the console's
//! signed, HttpOnly, SameSite=Strict cookie and in-memory table, [`crate::session`]) keeps the
//! token's id and scope; every request looks the token up again, so revoking it ends the
//! session. Scopes are the API's: read-only reads everything, release-publisher also promotes,
//! admin also changes customers and issues licenses. Every form carries the session's CSRF
//! token; failed logins lock the client's address out as the console does. Routes and forms:
//! docs/formats/console.md ("The vendor's portal").

mod pages;
pub mod views;

use crate::session::{Lockout, Session, Sessions, Signer, cookie_header, cookie_value};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use berth_vendor::model::Scope;
use berth_vendor::service::{Actor, Service, ServiceError};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use views::*;

/// The session cookie's name.
pub const COOKIE: &str = "berth_portal";
/// The pre-login cookie's name (binds the login form's CSRF token).
pub const LOGIN_COOKIE: &str = "berth_portal_login";
/// Where the portal's pages are (cookies are scoped to it).
pub const PREFIX: &str = "/portal";
/// How long an issued license file can be downloaded by the session that issued it.
pub const DOWNLOAD_TTL: Duration = Duration::from_secs(15 * 60);
/// Form bodies are small.
const BODY_LIMIT: usize = 64 * 1024;

/// Who is logged in: the vendor token's id, name and scope.
#[derive(Debug, Clone)]
pub struct Login {
    pub token_id: String,
    pub name: String,
    pub scope: Scope,
}

/// A license file issued moments ago, kept for the session that issued it.
struct Issued {
    customer: String,
    id: String,
    yaml: String,
    at: Instant,
}

/// Everything the handlers share.
pub struct Portal {
    svc: Service,
    /// Written into licenses.
    public_url: String,
    signer: Signer,
    sessions: Sessions<Login>,
    lockout: Lockout,
    /// Session id → licenses it issued (their only full copy: the server keeps a hash).
    issued: Mutex<HashMap<String, Vec<Issued>>>,
    secure_cookies: bool,
}

type St = Arc<Portal>;

/// The portal for a vendor server (the hook `berth vendor serve` passes to
/// `berth_vendor::ServeConfig::extra_routes`).
pub fn mount(m: berth_vendor::Mount) -> Router {
    router(m.svc, m.public_url, m.tls)
}

/// The portal's routes, all under `/portal/`. `public_url` is written into licenses;
/// `secure_cookies` marks cookies `Secure` (the server speaks TLS).
pub fn router(svc: Service, public_url: String, secure_cookies: bool) -> Router {
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let st = Arc::new(Portal {
        svc,
        public_url,
        signer: Signer::new(key),
        sessions: Sessions::default(),
        lockout: Lockout::default(),
        issued: Mutex::new(HashMap::new()),
        secure_cookies,
    });
    Router::new()
        .route("/portal", get(|| async { Redirect::to("/portal/") }))
        .route("/portal/", get(pages::apps))
        .route("/portal/login", get(login_page).post(login))
        .route("/portal/logout", post(logout))
        .route("/portal/assets/{name}", get(asset))
        .route("/portal/apps/{app}", get(pages::releases))
        .route("/portal/apps/{app}/promote", post(pages::promote))
        .route("/portal/apps/{app}/releases/{version}", get(pages::release))
        .route("/portal/apps/{app}/instances", get(pages::instances))
        .route("/portal/customers", get(pages::customers))
        .route("/portal/customers/{name}", get(pages::customer))
        .route("/portal/customers/{name}/license", post(pages::issue))
        .route(
            "/portal/customers/{name}/licenses/{id}",
            get(pages::download),
        )
        .route("/portal/customers/{name}/renew", post(pages::renew))
        .route("/portal/customers/{name}/channels", post(pages::channels))
        .route("/portal/customers/{name}/revoke", post(pages::revoke))
        .route("/portal/{*rest}", get(not_found).post(not_found))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response(
            crate::server::security_headers,
        ))
        .with_state(st)
}

static PORTAL_CSS: &str = concat!(
    include_str!("../../assets/app.css"),
    include_str!("../../assets/portal.css")
);
static PORTAL_JS: &str = include_str!("../../assets/portal.js");

async fn asset(Path(name): Path<String>) -> Response {
    let (body, mime) = match name.as_str() {
        "portal.css" => (PORTAL_CSS, "text/css; charset=utf-8"),
        "portal.js" => (PORTAL_JS, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        body,
    )
        .into_response()
}

async fn not_found(State(s): State<St>, h: HeaderMap) -> Response {
    let sess = session(&s, &h).map(|(_, x)| x);
    error_page(
        &nav(sess.as_ref(), ""),
        StatusCode::NOT_FOUND,
        "Not found",
        "The portal has no such page.".into(),
    )
}

// ---------- sessions ----------

fn set_cookie(s: &Portal, name: &str, value: &str, max_age: u64) -> header::HeaderValue {
    cookie_header(name, value, PREFIX, max_age, s.secure_cookies)
}

/// The session a request's cookie names, if it is live (the token is not checked here).
fn session(s: &Portal, h: &HeaderMap) -> Option<(String, Session<Login>)> {
    let raw = cookie_value(h, COOKIE)?;
    let id = s.signer.verify("portal-session", &raw)?;
    let sess = s.sessions.get(id, Instant::now())?;
    Some((id.to_string(), sess))
}

/// The layout's data for a session (or for nobody).
fn nav(sess: Option<&Session<Login>>, active: &'static str) -> PortalNav {
    match sess {
        None => PortalNav {
            active,
            ..Default::default()
        },
        Some(x) => PortalNav {
            user: x.role.name.clone(),
            scope: x.role.scope.as_str(),
            csrf: x.csrf.clone(),
            active,
            can_publish: x.role.scope >= Scope::ReleasePublisher,
            can_admin: x.role.scope >= Scope::Admin,
        },
    }
}

/// A logged-in request whose token is still valid.
pub(crate) struct Who {
    sid: String,
    sess: Session<Login>,
    actor: Actor,
}

impl Who {
    fn nav(&self, active: &'static str) -> PortalNav {
        nav(Some(&self.sess), active)
    }
}

/// End a session (logout, or its token was revoked) and forget what it issued.
fn end(s: &Portal, sid: &str) {
    s.sessions.end(sid);
    if let Ok(mut m) = s.issued.lock() {
        m.remove(sid);
    }
}

/// The session and its token, looked up again: a revoked token ends the session.
/// `Err(None)` means "not logged in"; `Err(Some(r))` is an answer to give as is.
async fn check_token(s: &Portal, h: &HeaderMap) -> Result<Who, Option<Response>> {
    let (sid, sess) = session(s, h).ok_or(None)?;
    match s.svc.actor_by_id(&sess.role.token_id).await {
        Ok(Some(actor)) => Ok(Who { sid, sess, actor }),
        Ok(None) => {
            end(s, &sid);
            tracing::info!(token = %sess.role.name, "portal: session ended, its token was revoked");
            Err(None)
        }
        Err(e) => Err(Some(service_error(&nav(Some(&sess), ""), e))),
    }
}

/// A page request: the session, or a redirect to the login page.
pub(crate) async fn page(s: &Portal, h: &HeaderMap) -> Result<Who, Response> {
    match check_token(s, h).await {
        Ok(w) => Ok(w),
        Err(Some(r)) => Err(r),
        Err(None) => {
            let had = cookie_value(h, COOKIE).is_some();
            let to = if had {
                "/portal/login?ended=1"
            } else {
                "/portal/login"
            };
            let mut r = Redirect::to(to).into_response();
            if had {
                r.headers_mut()
                    .append(header::SET_COOKIE, set_cookie(s, COOKIE, "", 0));
            }
            Err(r)
        }
    }
}

/// A change request: logged in with a valid token, the right CSRF token, and a scope of at
/// least `need` (the API's rule for the same operation).
pub(crate) async fn change(
    s: &Portal,
    h: &HeaderMap,
    form: &BTreeMap<String, String>,
    need: Scope,
) -> Result<Who, Response> {
    let who = match check_token(s, h).await {
        Ok(w) => w,
        Err(Some(r)) => return Err(r),
        Err(None) => {
            return Err(error_page(
                &nav(None, ""),
                StatusCode::UNAUTHORIZED,
                "Logged out",
                "Your session has ended (logged out, expired, or its token was revoked): log in again.".into(),
            ));
        }
    };
    let given = form.get("csrf").map(String::as_str).unwrap_or("");
    if !crate::session::tokens_equal(given, &who.sess.csrf) {
        return Err(error_page(
            &who.nav(""),
            StatusCode::FORBIDDEN,
            "Refused",
            "The form's security token (CSRF) is missing or wrong: reload the page and try again."
                .into(),
        ));
    }
    if who.actor.scope < need {
        return Err(error_page(
            &who.nav(""),
            StatusCode::FORBIDDEN,
            "Refused",
            format!(
                "Token {} has scope {}; this needs {}.",
                who.actor.name,
                who.actor.scope.as_str(),
                need.as_str()
            ),
        ));
    }
    Ok(who)
}

pub(crate) fn error_page(
    nav: &PortalNav,
    code: StatusCode,
    heading: &str,
    message: String,
) -> Response {
    (
        code,
        ErrorPage {
            nav: nav.clone(),
            heading: heading.into(),
            message,
        },
    )
        .into_response()
}

/// A refused read as a page: what was not found (404: a bad name in a URL is not found
/// either), refused, or the database's failure.
pub(crate) fn service_error(nav: &PortalNav, e: ServiceError) -> Response {
    match e {
        ServiceError::NotFound(m) | ServiceError::Invalid(m) => {
            error_page(nav, StatusCode::NOT_FOUND, "Not found", m)
        }
        ServiceError::Forbidden(m) => error_page(nav, StatusCode::FORBIDDEN, "Refused", m),
        ServiceError::Conflict(m) => error_page(nav, StatusCode::CONFLICT, "Refused", m),
        e @ ServiceError::Gate(_) => error_page(
            nav,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Refused",
            e.to_string(),
        ),
        e @ (ServiceError::Db(_) | ServiceError::Store(_)) => {
            tracing::error!(error = %e, "portal: the server's storage failed");
            error_page(
                nav,
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "The server's database or storage is unavailable; nothing was changed. Try again."
                    .into(),
            )
        }
    }
}

// ---------- login ----------

#[derive(serde::Deserialize)]
struct LoginQuery {
    ended: Option<String>,
}

async fn login_page(State(s): State<St>, h: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    if session(&s, &h).is_some() {
        return Redirect::to("/portal/").into_response();
    }
    let notice = q
        .ended
        .map(|_| "Your session ended (its token was revoked, or it expired): log in again.".into());
    login_form(&s, None, notice, StatusCode::OK)
}

fn login_form(
    s: &Portal,
    error: Option<String>,
    notice: Option<String>,
    code: StatusCode,
) -> Response {
    let (id, token) = s.sessions.login_form(Instant::now());
    let mut r = (
        code,
        LoginPage {
            nav: nav(None, ""),
            token,
            error,
            notice,
        },
    )
        .into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(s, LOGIN_COOKIE, &s.signer.sign("portal-login", &id), 3600),
    );
    r
}

async fn login(State(s): State<St>, req: Request) -> Response {
    use axum::extract::FromRequest as _;
    let ip = crate::session::client_ip(&req);
    let headers = req.headers().clone();
    let form = match axum::Form::<BTreeMap<String, String>>::from_request(req, &()).await {
        Ok(axum::Form(f)) => f,
        Err(e) => return e.into_response(),
    };
    let now = Instant::now();
    let pre = cookie_value(&headers, LOGIN_COOKIE);
    let pre_id = pre
        .as_deref()
        .and_then(|c| s.signer.verify("portal-login", c));
    let token = form.get("csrf").map(String::as_str).unwrap_or("");
    if !pre_id.is_some_and(|id| s.sessions.check_login_token(id, token, now)) {
        return error_page(
            &nav(None, ""),
            StatusCode::FORBIDDEN,
            "Refused",
            "The login form's security token (CSRF) is missing or wrong: reload the login page."
                .into(),
        );
    }
    if let Some(left) = s.lockout.locked(ip, now) {
        let mins = left.as_secs().div_ceil(60);
        return login_form(
            &s,
            Some(format!(
                "Too many failed logins from your address: try again in {mins} minute(s)."
            )),
            None,
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let given = form.get("token").map(|t| t.trim()).unwrap_or("");
    let actor = match s.svc.authenticate(given).await {
        Ok(a) => a,
        Err(e) => return service_error(&nav(None, ""), e),
    };
    let Some(actor) = actor else {
        s.lockout.fail(ip, now);
        tracing::warn!(%ip, "portal: failed login");
        return login_form(
            &s,
            Some("That is not a valid vendor token (or it was revoked).".into()),
            None,
            StatusCode::UNAUTHORIZED,
        );
    };
    s.lockout.succeed(ip);
    let (id, _) = s.sessions.create(
        Login {
            token_id: actor.id,
            name: actor.name,
            scope: actor.scope,
        },
        now,
    );
    crate::session::logged_in(
        "/portal/",
        set_cookie(
            &s,
            COOKIE,
            &s.signer.sign("portal-session", &id),
            crate::session::SESSION_TTL.as_secs(),
        ),
        set_cookie(&s, LOGIN_COOKIE, "", 0),
    )
}

async fn logout(
    State(s): State<St>,
    h: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    // Logging out needs the CSRF token, not a valid token: a revoked one may log out too.
    let Some((sid, sess)) = session(&s, &h) else {
        return Redirect::to("/portal/login").into_response();
    };
    let given = form.get("csrf").map(String::as_str).unwrap_or("");
    if !crate::session::tokens_equal(given, &sess.csrf) {
        return error_page(
            &nav(Some(&sess), ""),
            StatusCode::FORBIDDEN,
            "Refused",
            "The form's security token (CSRF) is missing or wrong: reload the page and try again."
                .into(),
        );
    }
    end(&s, &sid);
    let mut r = Redirect::to("/portal/login").into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&s, COOKIE, "", 0));
    r
}

// ---------- issued license files ----------

impl Portal {
    fn keep_issued(&self, sid: &str, customer: &str, id: &str, yaml: String) {
        let now = Instant::now();
        if let Ok(mut m) = self.issued.lock() {
            for v in m.values_mut() {
                v.retain(|i| now.duration_since(i.at) < DOWNLOAD_TTL);
            }
            m.retain(|_, v| !v.is_empty());
            let v = m.entry(sid.to_string()).or_default();
            if v.len() >= 20 {
                v.remove(0);
            }
            v.push(Issued {
                customer: customer.into(),
                id: id.into(),
                yaml,
                at: now,
            });
        }
    }

    /// The file of a license this session issued within [`DOWNLOAD_TTL`].
    fn issued_file(&self, sid: &str, customer: &str, id: &str) -> Option<String> {
        let m = self.issued.lock().ok()?;
        m.get(sid)?
            .iter()
            .find(|i| i.customer == customer && i.id == id && i.at.elapsed() < DOWNLOAD_TTL)
            .map(|i| i.yaml.clone())
    }

    /// Ids of the licenses of `customer` this session can still download.
    fn downloadable(&self, sid: &str, customer: &str) -> Vec<String> {
        let Ok(m) = self.issued.lock() else {
            return vec![];
        };
        m.get(sid)
            .map(|v| {
                v.iter()
                    .filter(|i| i.customer == customer && i.at.elapsed() < DOWNLOAD_TTL)
                    .map(|i| i.id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}
