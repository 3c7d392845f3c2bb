//! Routes and handlers: authentication and CSRF on every request, pages rendered from the
//! operations' results, and jobs started for deploy, rollback, preflight and support bundles.

use crate::auth::{Credentials, Role, verify_password};
use crate::jobs::{Job, Jobs};
use crate::ops::{BundleResult, OpError, OpEvent, Ops, PreflightResult, Review, Sink};
use crate::screen::{self, Field};
use crate::session::{COOKIE, LOGIN_COOKIE, Lockout, Session, Sessions, Signer, tokens_equal};
use crate::views::*;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use berth_deploy::engine::{Outcome, Report};
use berth_spec::ItemType;
use berth_spec::config::ResolvedConfig;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Request bodies are capped (uploads are certificates and keys).
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// A reviewed change waiting for "Deploy".
struct Draft {
    review: Review,
    session: String,
    created: Instant,
}

/// Everything the handlers share.
pub struct Inner {
    pub(crate) ops: Ops,
    signer: Signer,
    creds: Credentials,
    sessions: Sessions,
    lockout: Lockout,
    pub(crate) jobs: Jobs,
    drafts: Mutex<HashMap<String, Draft>>,
    preflight: Mutex<Option<PreflightResult>>,
    pub(crate) bundles: Mutex<Vec<BundleResult>>,
    /// The last update check and when it was made.
    pub(crate) updates: Mutex<Option<(Instant, crate::ops::UpdatesState)>>,
    /// Restores confirmed on a page but not started yet (token → what, for whom, since).
    pub(crate) restores: Mutex<HashMap<String, crate::snapshots::PendingRestore>>,
    secure_cookies: bool,
}

/// Shared state.
pub type AppState = Arc<Inner>;

/// Build the state (the login Secret has been read).
pub fn state(ops: Ops, creds: Credentials, secure_cookies: bool) -> AppState {
    Arc::new(Inner {
        ops,
        signer: Signer::new(creds.session_key),
        creds,
        sessions: Sessions::default(),
        lockout: Lockout::default(),
        jobs: Jobs::default(),
        drafts: Mutex::new(HashMap::new()),
        preflight: Mutex::new(None),
        bundles: Mutex::new(Vec::new()),
        updates: Mutex::new(None),
        restores: Mutex::new(HashMap::new()),
        secure_cookies,
    })
}

/// The console's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/", get(dashboard))
        .route("/configure", get(configure_page).post(configure_submit))
        .route("/configure/visibility", post(visibility))
        .route("/deploy", post(deploy))
        .route("/versions", get(versions))
        .route("/versions/diff", get(versions_diff))
        .route("/versions/upgrade", post(crate::updates::upgrade))
        .route(
            "/snapshots",
            get(crate::snapshots::page).post(crate::snapshots::take),
        )
        .route("/snapshots/restore", post(crate::snapshots::restore_review))
        .route(
            "/snapshots/restore/confirm",
            post(crate::snapshots::restore_confirm),
        )
        .route("/rollback", post(rollback))
        .route("/preflight", get(preflight_page).post(preflight_run))
        .route("/troubleshoot", get(troubleshoot_page))
        .route("/troubleshoot/bundle", post(bundle_run))
        .route("/troubleshoot/bundles/{file}", get(bundle_download))
        .route("/troubleshoot/bundles/{file}/file", get(bundle_file))
        .route(
            "/troubleshoot/bundles/{file}/send",
            post(crate::updates::send_bundle),
        )
        .route("/jobs/{id}", get(job_page))
        .route("/jobs/{id}/events", get(job_events))
        .route("/assets/{name}", get(asset))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

pub(crate) async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    for (k, v) in [
        (
            "content-security-policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

static APP_JS: &str = include_str!("../assets/app.js");
pub(crate) static APP_CSS: &str = include_str!("../assets/app.css");

async fn asset(Path(name): Path<String>) -> Response {
    let (body, mime) = match name.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
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

// ---------- sessions ----------

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    crate::session::cookie_value(headers, name)
}

fn set_cookie(s: &Inner, name: &str, value: &str, max_age: u64) -> HeaderValue {
    crate::session::cookie_header(name, value, "/", max_age, s.secure_cookies)
}

/// The logged-in session of a request: (id, session).
pub(crate) fn session(s: &Inner, headers: &HeaderMap) -> Option<(String, Session)> {
    let raw = cookie(headers, COOKIE)?;
    let id = s.signer.verify("session", &raw)?;
    let sess = s.sessions.get(id, Instant::now())?;
    Some((id.to_string(), sess))
}

pub(crate) fn nav(s: &Inner, sess: Option<&Session>, active: &'static str) -> Nav {
    let app = s
        .ops
        .app()
        .ok()
        .map(|a| a.app.metadata.title.clone().unwrap_or(a.app.metadata.name))
        .unwrap_or_else(|| "app".into());
    Nav {
        app,
        role: sess.map_or("", |x| x.role.as_str()),
        csrf: sess.map(|x| x.csrf.clone()).unwrap_or_default(),
        active,
    }
}

/// A page request: the session, or a redirect to the login page.
#[allow(clippy::result_large_err)]
pub(crate) fn page_session(s: &Inner, headers: &HeaderMap) -> Result<(String, Session), Response> {
    session(s, headers).ok_or_else(|| Redirect::to("/login").into_response())
}

/// A change request: logged in, the right CSRF token, and the role allowed.
#[allow(clippy::result_large_err)]
pub(crate) fn change_session(
    s: &Inner,
    headers: &HeaderMap,
    token: Option<&str>,
    admin_only: bool,
) -> Result<(String, Session), Response> {
    let Some((id, sess)) = session(s, headers) else {
        return Err((StatusCode::UNAUTHORIZED, "log in first").into_response());
    };
    let header_token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    let given = token.or(header_token).unwrap_or("");
    if !tokens_equal(given, &sess.csrf) {
        return Err((
            StatusCode::FORBIDDEN,
            "refused: the form's security token (CSRF) is missing or wrong; reload the page and try again",
        )
            .into_response());
    }
    if admin_only && sess.role != Role::Admin {
        return Err((
            StatusCode::FORBIDDEN,
            "refused: viewers can read every page and download support bundles, but not change the app; log in as admin",
        )
            .into_response());
    }
    Ok((id, sess))
}

pub(crate) fn error_page(
    s: &Inner,
    sess: Option<&Session>,
    code: StatusCode,
    msg: String,
) -> Response {
    (
        code,
        ErrorPage {
            nav: nav(s, sess, ""),
            heading: "Something went wrong".into(),
            message: msg,
        },
    )
        .into_response()
}

// ---------- login ----------

async fn login_page(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if session(&s, &headers).is_some() {
        return Redirect::to("/").into_response();
    }
    login_form(&s, None, StatusCode::OK)
}

fn login_form(s: &Inner, error: Option<String>, code: StatusCode) -> Response {
    let (id, token) = s.sessions.login_form(Instant::now());
    let mut r = (
        code,
        LoginPage {
            nav: nav(s, None, "login"),
            token,
            error,
        },
    )
        .into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(s, LOGIN_COOKIE, &s.signer.sign("login", &id), 3600),
    );
    r
}

fn client_ip(req: &Request) -> IpAddr {
    crate::session::client_ip(req)
}

async fn login(State(s): State<AppState>, req: Request) -> Response {
    let ip = client_ip(&req);
    let headers = req.headers().clone();
    let form = match axum::Form::<BTreeMap<String, String>>::from_request(req, &()).await {
        Ok(axum::Form(f)) => f,
        Err(e) => return e.into_response(),
    };
    let now = Instant::now();
    let pre = cookie(&headers, LOGIN_COOKIE);
    let pre_id = pre.as_deref().and_then(|c| s.signer.verify("login", c));
    let token = form.get("csrf").map(String::as_str).unwrap_or("");
    if !pre_id.is_some_and(|id| s.sessions.check_login_token(id, token, now)) {
        return (
            StatusCode::FORBIDDEN,
            "refused: the login form's security token (CSRF) is missing or wrong; reload the login page",
        )
            .into_response();
    }
    if let Some(left) = s.lockout.locked(ip, now) {
        let mins = left.as_secs().div_ceil(60);
        return login_form(
            &s,
            Some(format!(
                "Too many failed logins from your address: try again in {mins} minute(s)."
            )),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let password = form.get("password").cloned().unwrap_or_default();
    let creds = s.creds.clone();
    // Argon2 is slow on purpose: off the async workers.
    let role = tokio::task::spawn_blocking(move || {
        if verify_password(&creds.admin, &password) {
            Some(Role::Admin)
        } else if creds
            .viewer
            .as_deref()
            .is_some_and(|h| verify_password(h, &password))
        {
            Some(Role::Viewer)
        } else {
            None
        }
    })
    .await
    .ok()
    .flatten();
    let Some(role) = role else {
        s.lockout.fail(ip, now);
        tracing::warn!(%ip, "console: failed login");
        return login_form(&s, Some("Wrong password.".into()), StatusCode::UNAUTHORIZED);
    };
    s.lockout.succeed(ip);
    let (id, _) = s.sessions.create(role, now);
    crate::session::logged_in(
        "/",
        set_cookie(
            &s,
            COOKIE,
            &s.signer.sign("session", &id),
            crate::session::SESSION_TTL.as_secs(),
        ),
        set_cookie(&s, LOGIN_COOKIE, "", 0),
    )
}

async fn logout(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    let (id, _) = match change_session(&s, &headers, form.get("csrf").map(String::as_str), false) {
        Ok(x) => x,
        Err(r) => return r,
    };
    s.sessions.end(&id);
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&s, COOKIE, "", 0));
    r
}

use axum::extract::FromRequest as _;

// ---------- dashboard ----------

fn status_view(st: &berth_deploy::engine::StatusReport) -> StatusView {
    StatusView {
        version: st.version.clone(),
        revision: st.revision,
        status: st.status.as_str().into(),
        ready: st.objects.iter().filter(|o| o.state == "ready").count(),
        total: st.objects.len(),
        objects: st
            .objects
            .iter()
            .map(|o| {
                (
                    format!("{}/{}", o.object.kind.to_lowercase(), o.object.name),
                    o.state.clone(),
                    o.detail.clone(),
                )
            })
            .collect(),
        diagnoses: st
            .diagnoses
            .iter()
            .map(|d| (d.cause.clone(), d.fix.clone()))
            .collect(),
        last_failure: st.last_failure.clone(),
        unsettled: st.unsettled.clone(),
    }
}

async fn dashboard(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let (_, sess) = match page_session(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let app = match s.ops.app() {
        Ok(a) => a,
        Err(e) => {
            return error_page(
                &s,
                Some(&sess),
                StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string(),
            );
        }
    };
    let name = app.app.metadata.name.clone();
    let (status, history, license) =
        tokio::join!(s.ops.status(&name), s.ops.history(&name), s.ops.license());
    let status = match status {
        Ok(st) => st,
        Err(e) => return error_page(&s, Some(&sess), StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let last = history
        .ok()
        .and_then(|h| h.last().cloned())
        .map(|e| LastOp {
            operation: format!("{:?}", e.operation).to_lowercase(),
            version: e.version,
            revision: e.revision,
            status: e.status.as_str().into(),
            when: e.finished_at.unwrap_or(e.started_at),
            message: e.message.unwrap_or_default(),
        });
    let jobs = s.jobs.recent(3);
    DashboardPage {
        nav: nav(&s, Some(&sess), "dashboard"),
        title: app.app.metadata.title.clone().unwrap_or(name),
        description: app.app.metadata.description.clone(),
        namespace: s.ops.namespace().into(),
        status: status.as_ref().map(status_view),
        last,
        jobs,
        // A license that cannot be read is not the dashboard's to report (installs check it).
        license: license.ok().flatten().map(LicenseView::of),
    }
    .into_response()
}

// ---------- configure ----------

fn kind_word(t: ItemType) -> &'static str {
    match t {
        ItemType::Text => "text",
        ItemType::Textarea => "textarea",
        ItemType::Password => "password",
        ItemType::Bool => "bool",
        ItemType::Number => "number",
        ItemType::Select => "select",
        ItemType::File => "file",
    }
}

fn value_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The screen for `values` (what the page shows in each field).
fn groups_view(
    app: &berth_spec::Application,
    values: &BTreeMap<String, Value>,
    vis: &screen::Visibility,
    errors: &BTreeMap<String, String>,
) -> Vec<GroupView> {
    app.spec
        .config
        .iter()
        .map(|g| GroupView {
            name: g.name.clone(),
            title: g.title.clone().unwrap_or_else(|| g.name.clone()),
            description: g.description.clone(),
            shown: vis.groups.contains(&g.name),
            items: g
                .items
                .iter()
                .filter(|i| !i.hidden)
                .map(|i| {
                    let v = values
                        .get(&i.name)
                        .cloned()
                        .or_else(|| i.default.as_ref().map(|d| d.to_json()));
                    let text = value_text(v.as_ref());
                    let secret = matches!(i.item_type, ItemType::Password | ItemType::File);
                    ItemView {
                        name: i.name.clone(),
                        title: i.title.clone().unwrap_or_else(|| i.name.clone()),
                        kind: kind_word(i.item_type),
                        value: match i.item_type {
                            ItemType::Password => String::new(),
                            ItemType::File if !text.is_empty() => {
                                format!("{} bytes", text.len())
                            }
                            _ => text.clone(),
                        },
                        checked: matches!(v, Some(Value::Bool(true))) || text == "true",
                        options: i
                            .options
                            .iter()
                            .map(|o| {
                                (
                                    o.value.clone(),
                                    o.title.clone().unwrap_or_else(|| o.value.clone()),
                                    o.value == text,
                                )
                            })
                            .collect(),
                        help: i.help_text.clone(),
                        error: errors.get(&i.name).cloned(),
                        shown: vis.items.contains(&i.name),
                        required: i.required,
                        readonly: i.readonly,
                        is_set: secret && !text.is_empty(),
                    }
                })
                .collect(),
        })
        .collect()
}

async fn configure_page(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let (_, sess) = match page_session(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let app = match s.ops.app() {
        Ok(a) => a,
        Err(e) => {
            return error_page(
                &s,
                Some(&sess),
                StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string(),
            );
        }
    };
    let current = match s.ops.current_config(&app.app.metadata.name).await {
        Ok(c) => c,
        Err(e) => return error_page(&s, Some(&sess), StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let values = current
        .as_ref()
        .map(|c| c.values.clone())
        .unwrap_or_default();
    let vis = screen::visibility(&app.app, &BTreeMap::new(), current.as_ref());
    ConfigurePage {
        nav: nav(&s, Some(&sess), "configure"),
        groups: groups_view(&app.app, &values, &vis, &BTreeMap::new()),
        problems: Vec::new(),
        can_edit: sess.role == Role::Admin,
    }
    .into_response()
}

async fn visibility(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::Json(form): axum::Json<BTreeMap<String, String>>,
) -> Response {
    if let Err(r) = change_session(&s, &headers, None, false) {
        return r;
    }
    let app = match s.ops.app() {
        Ok(a) => a,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let current = s
        .ops
        .current_config(&app.app.metadata.name)
        .await
        .ok()
        .flatten();
    axum::Json(screen::visibility(&app.app, &form, current.as_ref())).into_response()
}

async fn read_multipart(mut mp: Multipart) -> Result<BTreeMap<String, Field>, String> {
    let mut out = BTreeMap::new();
    while let Some(field) = mp.next_field().await.map_err(|e| e.to_string())? {
        let Some(name) = field.name().map(str::to_string) else {
            continue;
        };
        let file = field.file_name().map(str::to_string);
        let bytes = field.bytes().await.map_err(|e| e.to_string())?;
        let f = match file {
            Some(fname) => Field::File(fname, bytes.to_vec()),
            None => Field::Text(String::from_utf8_lossy(&bytes).into_owned()),
        };
        out.insert(name, f);
    }
    Ok(out)
}

async fn configure_submit(
    State(s): State<AppState>,
    headers: HeaderMap,
    mp: Multipart,
) -> Response {
    let form = match read_multipart(mp).await {
        Ok(f) => f,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("cannot read the form: {e}"),
            )
                .into_response();
        }
    };
    let token = match form.get("csrf") {
        Some(Field::Text(t)) => Some(t.as_str()),
        _ => None,
    };
    let (sid, sess) = match change_session(&s, &headers, token, true) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let app = match s.ops.app() {
        Ok(a) => a,
        Err(e) => {
            return error_page(
                &s,
                Some(&sess),
                StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string(),
            );
        }
    };
    let current = match s.ops.current_config(&app.app.metadata.name).await {
        Ok(c) => c,
        Err(e) => return error_page(&s, Some(&sess), StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let (input, upload_problems) = screen::form_input(&app.app, &form, current.as_ref());
    let resolved = if upload_problems.is_empty() {
        s.ops.resolve(&app, &input, current.as_ref())
    } else {
        Err(OpError::Config(Vec::new()))
    };
    match resolved {
        Ok(_) => {}
        Err(OpError::Config(problems)) => {
            let mut errors = upload_problems;
            for p in problems {
                let msg = match &p.help {
                    Some(h) if !h.starts_with("set `") => format!("{} ({h})", p.message),
                    _ => p.message.clone(),
                };
                errors.entry(p.item.clone()).or_insert(msg);
            }
            return config_with_errors(&s, &sess, &app, &form, &input, current.as_ref(), errors);
        }
        Err(e) => return error_page(&s, Some(&sess), StatusCode::BAD_REQUEST, e.to_string()),
    }
    // The values are checked; berth-ops renders, plans and later deploys the same input.
    review(&s, &sess, &sid, &app, input).await
}

fn config_with_errors(
    s: &Inner,
    sess: &Session,
    app: &berth_spec::LoadedApp,
    form: &BTreeMap<String, Field>,
    input: &BTreeMap<String, Value>,
    current: Option<&ResolvedConfig>,
    errors: BTreeMap<String, String>,
) -> Response {
    let raw: BTreeMap<String, String> = input
        .iter()
        .map(|(k, v)| (k.clone(), value_text(Some(v))))
        .chain(form.iter().filter_map(|(k, f)| match f {
            Field::Text(t) if k != "csrf" => Some((k.clone(), t.clone())),
            _ => None,
        }))
        .collect();
    let vis = screen::visibility(&app.app, &raw, None);
    let mut values = input.clone();
    for (k, t) in &raw {
        values.entry(k.clone()).or_insert(Value::String(t.clone()));
    }
    // Uploads and passwords of a refused form are not kept: the page says "set" only for
    // what the installed config holds, so the customer knows to give them again.
    for (_, item) in app.app.config_items() {
        if matches!(item.item_type, ItemType::Password | ItemType::File) {
            match current.and_then(|c| c.values.get(&item.name)) {
                Some(v) => values.insert(item.name.clone(), v.clone()),
                None => values.remove(&item.name),
            };
        }
    }
    let groups = groups_view(&app.app, &values, &vis, &errors);
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        ConfigurePage {
            nav: nav(s, Some(sess), "configure"),
            groups,
            problems: errors.into_iter().collect(),
            can_edit: true,
        },
    )
        .into_response()
}

pub(crate) fn random_id() -> String {
    let mut b = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn review(
    s: &Inner,
    sess: &Session,
    sid: &str,
    app: &berth_spec::LoadedApp,
    input: BTreeMap<String, Value>,
) -> Response {
    let review = match s.ops.review(input).await {
        Ok(r) => r,
        Err(e) => {
            let code = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_GATEWAY);
            return error_page(s, Some(sess), code, e.to_string());
        }
    };
    let installed = s
        .ops
        .revisions(&app.app.metadata.name)
        .await
        .ok()
        .and_then(|revs| {
            revs.into_iter()
                .rev()
                .find(|r| r.status == berth_deploy::inventory::Status::Deployed)
        });
    let diff = crate::ops::objects_diff(
        installed.as_ref().map_or(&[][..], |r| &r.objects[..]),
        &review.objects,
    );
    let id = random_id();
    let page = ReviewPage {
        nav: nav(s, Some(sess), "configure"),
        mode: if review.upgrade { "upgrade" } else { "install" },
        version: review.version.clone(),
        plan: review.plan.render(),
        diff,
        draft: id.clone(),
        preflight: s.last_preflight_failed(),
        error: None,
    };
    if let Ok(mut d) = s.drafts.lock() {
        let now = Instant::now();
        d.retain(|_, v| now.duration_since(v.created).as_secs() < 3600);
        d.insert(
            id,
            Draft {
                review,
                session: sid.to_string(),
                created: now,
            },
        );
    }
    page.into_response()
}

impl Inner {
    fn last_preflight_failed(&self) -> Option<bool> {
        self.preflight
            .lock()
            .ok()
            .and_then(|p| p.as_ref().map(PreflightResult::failed))
    }
}

// ---------- jobs ----------

/// Start `work` as a job and redirect to its page.
pub(crate) fn spawn_job<F, Fut>(s: &AppState, title: String, next: &str, work: F) -> Response
where
    F: FnOnce(AppState, Sink) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = (bool, String)> + 'static,
{
    let job = s.jobs.start(title, next.into());
    let j2 = job.clone();
    let sink: Sink = Arc::new(move |e| j2.push(e));
    let st = s.clone();
    let rt = tokio::runtime::Handle::current();
    tokio::spawn(async move {
        let sink2 = sink.clone();
        // The engine's futures are not all provably Send, so an operation runs on a thread of
        // its own that drives it (with room for the deep futures of an online upgrade or a
        // restore; boxed, so their state is on the heap); a panic there still ends the job
        // with a message.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("berth-console-job".into())
            .stack_size(JOB_STACK)
            .spawn(move || {
                let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    rt.block_on(Box::pin(work(st, sink)))
                }));
                let _ = tx.send(res.map_err(|p| {
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panicked".into())
                }));
            });
        let (ok, text) = match spawned {
            Err(e) => (false, format!("the operation could not start: {e}")),
            Ok(_) => match rx.await {
                Ok(Ok(r)) => r,
                Ok(Err(why)) => (false, format!("the operation stopped: {why}")),
                Err(_) => (false, "the operation stopped".into()),
            },
        };
        sink2(OpEvent::Done { ok, text });
    });
    Redirect::to(&format!("/jobs/{}", job.id)).into_response()
}

/// The stack of a job's thread (address space; pages are used only as deep as it goes).
const JOB_STACK: usize = 32 * 1024 * 1024;

pub(crate) fn report_text(r: &Report) -> (bool, String) {
    let op = format!("{:?}", r.operation).to_lowercase();
    let rev = r
        .revision
        .map(|n| format!(" (revision {n})"))
        .unwrap_or_default();
    let mut text = match r.outcome {
        Outcome::Deployed => format!("{op} of {} {} succeeded{rev}", r.app, r.version),
        Outcome::Unchanged => format!(
            "{} {} is already deployed{rev}; nothing changed",
            r.app, r.version
        ),
        Outcome::RolledBack => format!(
            "{op} of {} {} FAILED{rev} and was rolled back automatically",
            r.app, r.version
        ),
        _ => format!("{op} of {} {} FAILED{rev}", r.app, r.version),
    };
    if let Some(e) = &r.error {
        text.push_str(&format!(": {e}"));
    }
    for d in &r.diagnoses {
        text.push_str(&format!(" Cause: {} Fix: {}", d.cause, d.fix));
    }
    (r.ok(), text)
}

async fn deploy(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    let (sid, sess) = match change_session(&s, &headers, form.get("csrf").map(String::as_str), true)
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let draft_id = form.get("draft").cloned().unwrap_or_default();
    let reason = form
        .get("override")
        .map(|r| r.trim().to_string())
        .unwrap_or_default();
    if let Some(j) = s.jobs.busy() {
        return error_page(
            &s,
            Some(&sess),
            StatusCode::CONFLICT,
            format!(
                "{} is still running (see /jobs/{}); wait for it to end",
                j.title, j.id
            ),
        );
    }
    if s.last_preflight_failed() == Some(true) && reason.is_empty() {
        return (
            StatusCode::CONFLICT,
            error_page(
                &s,
                Some(&sess),
                StatusCode::CONFLICT,
                "The last preflight failed: go back, give a reason to deploy anyway, or fix the cause and run the preflight again.".into(),
            ),
        )
            .into_response();
    }
    let draft = s.drafts.lock().ok().and_then(|mut d| {
        let ok = d.get(&draft_id).is_some_and(|x| x.session == sid);
        if ok { d.remove(&draft_id) } else { None }
    });
    let Some(draft) = draft else {
        return error_page(
            &s,
            Some(&sess),
            StatusCode::BAD_REQUEST,
            "This review has expired or was already deployed; configure and review again.".into(),
        );
    };
    let p = draft.review;
    let app = s.ops.app().map(|a| a.app.metadata.name).unwrap_or_default();
    let title = format!("deploy {app} {}", p.version);
    spawn_job(&s, title, "/", move |st, sink| {
        run_deploy(st, p, reason, sink)
    })
}

async fn run_deploy(st: AppState, p: Review, reason: String, sink: Sink) -> (bool, String) {
    if !reason.is_empty() {
        tracing::warn!(reason = %reason, "console: deploying although the preflight failed");
        sink(OpEvent::Note {
            text: format!("the preflight failed; deploying anyway: {reason}"),
        });
    }
    match st.ops.deploy(p, sink).await {
        Ok(r) => report_text(&r),
        Err(e) => (false, e.to_string()),
    }
}

async fn job_page(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    let (_, sess) = match page_session(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(job) = s.jobs.get(id) else {
        return error_page(
            &s,
            Some(&sess),
            StatusCode::NOT_FOUND,
            format!("no job {id}"),
        );
    };
    job_view(&s, &sess, &job).into_response()
}

fn job_view(s: &Inner, sess: &Session, job: &Job) -> JobPage {
    let events = job.since(0);
    let result = events.iter().find_map(|e| match e {
        OpEvent::Done { ok, text } => Some((*ok, text.clone())),
        _ => None,
    });
    JobPage {
        nav: nav(s, Some(sess), ""),
        id: job.id,
        job_title: job.title.clone(),
        events: events.iter().map(event_row).collect(),
        done: result.is_some(),
        result,
        next: job.next.clone(),
    }
}

fn event_row(e: &OpEvent) -> (String, String) {
    match e {
        OpEvent::Phase { text } => ("phase".into(), text.clone()),
        OpEvent::Object { text } => ("object".into(), text.clone()),
        OpEvent::Waiting { text } => ("waiting".into(), text.clone()),
        OpEvent::Note { text } => ("note".into(), text.clone()),
        OpEvent::Done { text, .. } => ("done".into(), text.clone()),
    }
}

async fn job_events(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if session(&s, &headers).is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Some(job) = s.jobs.get(id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let from: usize = q.get("from").and_then(|f| f.parse().ok()).unwrap_or(0);
    let rx = job.subscribe();
    let stream = futures::stream::unfold(
        (job, rx, from, false),
        |(job, mut rx, idx, finished)| async move {
            if finished {
                return None;
            }
            loop {
                let new = job.since(idx);
                if !new.is_empty() {
                    let done = new.iter().any(|e| matches!(e, OpEvent::Done { .. }));
                    let events: Vec<Result<SseEvent, std::convert::Infallible>> = new
                        .iter()
                        .map(|e| {
                            Ok(SseEvent::default()
                                .data(serde_json::to_string(e).unwrap_or_default()))
                        })
                        .collect();
                    let next = idx + new.len();
                    return Some((futures::stream::iter(events), (job, rx, next, done)));
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        },
    );
    use futures::StreamExt as _;
    Sse::new(stream.flatten())
        .keep_alive(KeepAlive::default())
        .into_response()
}

// ---------- versions ----------

async fn versions(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let (_, sess) = match page_session(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if q.contains_key("refresh") {
        crate::updates::forget(&s);
    }
    versions_view(&s, &sess, None).await
}

pub(crate) async fn versions_view(s: &Inner, sess: &Session, error: Option<String>) -> Response {
    let app = match s.ops.app() {
        Ok(a) => a,
        Err(e) => {
            return error_page(
                s,
                Some(sess),
                StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string(),
            );
        }
    };
    let h = match s.ops.history(&app.app.metadata.name).await {
        Ok(h) => h,
        Err(e) => return error_page(s, Some(sess), StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let current = h
        .iter()
        .rev()
        .find(|e| e.status == berth_deploy::inventory::Status::Deployed)
        .map(|e| e.revision);
    use berth_deploy::inventory::Status as St;
    let history = h
        .into_iter()
        .rev()
        .map(|e| HistoryRow {
            can_rollback: Some(e.revision) != current
                && matches!(e.status, St::Deployed | St::Superseded),
            revision: e.revision,
            version: e.version,
            status: e.status.as_str().into(),
            operation: format!("{:?}", e.operation).to_lowercase(),
            started: e.started_at,
            message: e.message.unwrap_or_default(),
        })
        .collect();
    let updates = crate::updates::view(s, current.is_some()).await;
    VersionsPage {
        nav: nav(s, Some(sess), "versions"),
        history,
        can_edit: sess.role == Role::Admin,
        error,
        updates,
    }
    .into_response()
}

async fn versions_diff(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let (_, sess) = match page_session(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<u32>().ok());
    let (Some(from), Some(to)) = (num("from"), num("to")) else {
        return error_page(
            &s,
            Some(&sess),
            StatusCode::BAD_REQUEST,
            "give ?from=N&to=M (revision numbers)".into(),
        );
    };
    let app = match s.ops.app() {
        Ok(a) => a,
        Err(e) => {
            return error_page(
                &s,
                Some(&sess),
                StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string(),
            );
        }
    };
    let revs = match s.ops.revisions(&app.app.metadata.name).await {
        Ok(r) => r,
        Err(e) => return error_page(&s, Some(&sess), StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let find = |n: u32| revs.iter().find(|r| r.number == n);
    let (Some(a), Some(b)) = (find(from), find(to)) else {
        return error_page(
            &s,
            Some(&sess),
            StatusCode::NOT_FOUND,
            format!("no revision {from} or {to}; see the Versions page"),
        );
    };
    DiffPage {
        nav: nav(&s, Some(&sess), "versions"),
        from,
        to,
        diff: crate::ops::objects_diff(&a.objects, &b.objects),
    }
    .into_response()
}

async fn rollback(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    let (_, sess) = match change_session(&s, &headers, form.get("csrf").map(String::as_str), true) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let revision = form.get("revision").and_then(|r| r.parse::<u32>().ok());
    if let Some(j) = s.jobs.busy() {
        return versions_view(
            &s,
            &sess,
            Some(format!("{} is still running; wait for it to end", j.title)),
        )
        .await;
    }
    let app = match s.ops.app() {
        Ok(a) => a.app.metadata.name,
        Err(e) => {
            return error_page(
                &s,
                Some(&sess),
                StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string(),
            );
        }
    };
    let title = match revision {
        Some(n) => format!("rollback {app} to revision {n}"),
        None => format!("rollback {app}"),
    };
    spawn_job(&s, title, "/versions", move |st, sink| {
        run_rollback(st, app, revision, sink)
    })
}

async fn run_rollback(
    st: AppState,
    app: String,
    revision: Option<u32>,
    sink: Sink,
) -> (bool, String) {
    match st.ops.rollback(&app, revision, sink).await {
        Ok(r) => report_text(&r),
        Err(e) => (false, e.to_string()),
    }
}

// ---------- preflight ----------

async fn preflight_page(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let (_, sess) = match page_session(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let result = s.preflight.lock().ok().and_then(|p| p.clone()).map(|p| {
        let verdict = if p.failed() {
            "fail"
        } else if p
            .results
            .iter()
            .any(|r| r.outcome == berth_troubleshoot::analyze::Outcome::Warn)
        {
            "warn"
        } else {
            "pass"
        };
        PreflightView {
            verdict,
            at: p.at.clone(),
            rows: check_rows(&p.results),
        }
    });
    PreflightPage {
        nav: nav(&s, Some(&sess), "preflight"),
        result,
        can_edit: sess.role == Role::Admin,
    }
    .into_response()
}

async fn preflight_run(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    if let Err(r) = change_session(&s, &headers, form.get("csrf").map(String::as_str), true) {
        return r;
    }
    spawn_job(
        &s,
        "preflight checks".into(),
        "/preflight",
        |st, sink| async move {
            match st.ops.preflight(sink).await {
                Ok(p) => {
                    let failed = p.failed();
                    let n = p.results.len();
                    if let Ok(mut slot) = st.preflight.lock() {
                        *slot = Some(p);
                    }
                    (
                        true,
                        if failed {
                            format!("{n} checks ran; at least one FAILED (deploys need a reason)")
                        } else {
                            format!("{n} checks ran; none failed")
                        },
                    )
                }
                Err(e) => (false, e.to_string()),
            }
        },
    )
}

// ---------- troubleshoot ----------

async fn troubleshoot_page(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let (_, sess) = match page_session(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let bundles = s
        .bundles
        .lock()
        .map(|b| {
            b.iter()
                .rev()
                .map(|b| BundleView {
                    file: b.file.clone(),
                    at: b.at.clone(),
                    size: b.size,
                    files: b.files.clone(),
                    rows: check_rows(&b.results),
                    sent: b.sent.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    // Whether "Send to vendor" can work: a license in the namespace that allows uploads.
    let license = s.ops.license().await.ok().flatten();
    let send = match &license {
        _ if sess.role != Role::Admin => SendState::NotAdmin,
        None => SendState::NoLicense,
        Some(l) if !l.support_bundle_upload => SendState::NotLicensed(l.customer.clone()),
        Some(l) => SendState::Ready(l.vendor_url.clone()),
    };
    TroubleshootPage {
        nav: nav(&s, Some(&sess), "troubleshoot"),
        bundles,
        send,
    }
    .into_response()
}

async fn bundle_run(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    // Viewers may collect support bundles (a read of the cluster, redacted).
    if let Err(r) = change_session(&s, &headers, form.get("csrf").map(String::as_str), false) {
        return r;
    }
    spawn_job(
        &s,
        "support bundle".into(),
        "/troubleshoot",
        |st, sink| async move {
            match st.ops.support_bundle(sink).await {
                Ok(b) => {
                    let text = format!(
                        "{} written ({} bytes, {} files)",
                        b.file,
                        b.size,
                        b.files.len()
                    );
                    if let Ok(mut list) = st.bundles.lock() {
                        list.push(b);
                    }
                    (true, text)
                }
                Err(e) => (false, e.to_string()),
            }
        },
    )
}

/// A bundle this console made (by exact name: no path comes from the request).
pub(crate) fn known_bundle(s: &Inner, file: &str) -> Option<std::path::PathBuf> {
    let list = s.bundles.lock().ok()?;
    list.iter()
        .find(|b| b.file == file)
        .map(|b| s.ops.work_dir().join(&b.file))
}

async fn bundle_download(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Response {
    let (_, sess) = match page_session(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(path) = known_bundle(&s, &file) else {
        return error_page(
            &s,
            Some(&sess),
            StatusCode::NOT_FOUND,
            format!("no support bundle {file}"),
        );
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/gzip".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file}\""),
                ),
            ],
            Body::from(bytes),
        )
            .into_response(),
        Err(e) => error_page(
            &s,
            Some(&sess),
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read {file}: {e}"),
        ),
    }
}

async fn bundle_file(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let (_, sess) = match page_session(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(path) = known_bundle(&s, &file) else {
        return error_page(
            &s,
            Some(&sess),
            StatusCode::NOT_FOUND,
            format!("no support bundle {file}"),
        );
    };
    let inner = q.get("path").cloned().unwrap_or_default();
    let p2 = inner.clone();
    let read = tokio::task::spawn_blocking(move || {
        let reader = berth_troubleshoot::bundle::open(&path).map_err(|e| e.to_string())?;
        reader
            .read(&p2)
            .ok_or_else(|| format!("{p2} is not in the bundle"))
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match read {
        Ok(bytes) => {
            let cap = bytes.len().min(1024 * 1024);
            FilePage {
                nav: nav(&s, Some(&sess), "troubleshoot"),
                bundle: file,
                path: inner,
                text: String::from_utf8_lossy(&bytes[..cap]).into_owned(),
            }
            .into_response()
        }
        Err(e) => error_page(&s, Some(&sess), StatusCode::NOT_FOUND, e),
    }
}
