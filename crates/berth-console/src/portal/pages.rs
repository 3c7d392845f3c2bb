//! The portal's page and form handlers: each reads or changes through the vendor `Service`
//! (the API's operations, with the session's token as the actor) and renders a template.

use super::views::*;
use super::{St, Who, change, error_page, page, service_error};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use berth_vendor::model::{CustomerChange, CustomerInfo, Scope};
use berth_vendor::overview::ScanState;
use berth_vendor::service::ServiceError;
use std::collections::{BTreeMap, HashMap, HashSet};

type Form = axum::Form<BTreeMap<String, String>>;

macro_rules! or_return {
    ($e:expr) => {
        match $e {
            Ok(x) => x,
            Err(r) => return r,
        }
    };
}

// ---------- words for times, URLs and scans ----------

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// `2026-12-05 14:03 UTC`.
pub(crate) fn fmt_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// An RFC 3339 time as [`fmt_time`] shows it (the text itself when it does not parse).
fn fmt_rfc(s: &str) -> String {
    s.parse::<jiff::Timestamp>()
        .map(|t| fmt_time(t.as_millisecond()))
        .unwrap_or_else(|_| s.to_string())
}

/// How long ago: `just now`, `5 min ago`, `3 h ago`, `12 days ago`.
pub(crate) fn age(now: i64, ms: i64) -> String {
    let secs = (now - ms).max(0) / 1000;
    match secs {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// Percent-encode a path segment or query value (versions may hold `+`).
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn scan_summary(state: &ScanState) -> ScanSummary {
    let (text, class) = match state {
        ScanState::NoScanner => (
            "no scanner (start the server with --scan-db)".into(),
            "note",
        ),
        ScanState::NotScanned => ("not scanned".into(), "warn"),
        ScanState::Scanned { report, blocking } => {
            let found: usize = report.targets.iter().map(|t| t.findings.len()).sum();
            let unchecked: usize = report.targets.iter().map(|t| t.not_scanned.len()).sum();
            if !blocking.is_empty() {
                (format!("{} blocking finding(s)", blocking.len()), "fail")
            } else if unchecked > 0 {
                (
                    format!("no blocking findings ({found} found; {unchecked} not checked)"),
                    "warn",
                )
            } else {
                (format!("no blocking findings ({found} found)"), "pass")
            }
        }
    };
    ScanSummary { text, class }
}

fn semver_desc(a: &str, b: &str) -> std::cmp::Ordering {
    match (semver::Version::parse(a), semver::Version::parse(b)) {
        (Ok(x), Ok(y)) => y.cmp_precedence(&x).then_with(|| y.cmp(&x)),
        _ => b.cmp(a),
    }
}

// ---------- apps ----------

pub(super) async fn apps(State(s): State<St>, h: HeaderMap) -> Response {
    let who = or_return!(page(&s, &h).await);
    let nav = who.nav("apps");
    let apps = or_return!(s.svc.app_counts().await.map_err(|e| service_error(&nav, e)))
        .into_iter()
        .map(|a| AppRow {
            name: a.name,
            releases: a.releases,
            customers: a.customers,
        })
        .collect();
    AppsPage { nav, apps }.into_response()
}

// ---------- releases ----------

#[derive(serde::Deserialize)]
pub(super) struct Promoted {
    promoted: Option<String>,
    channel: Option<String>,
}

pub(super) async fn releases(
    State(s): State<St>,
    h: HeaderMap,
    Path(app): Path<String>,
    Query(q): Query<Promoted>,
) -> Response {
    let who = or_return!(page(&s, &h).await);
    releases_view(
        &s,
        &who,
        &app,
        q.promoted.zip(q.channel),
        None,
        StatusCode::OK,
    )
    .await
}

/// The scan summary of every release, by index digest.
async fn summaries(
    s: &St,
    records: &[berth_vendor::overview::ReleaseRecord],
) -> Result<HashMap<String, ScanSummary>, ServiceError> {
    let mut out = HashMap::new();
    for r in records {
        if !out.contains_key(&r.index_digest) {
            let state = s.svc.kept_scan(&r.index_digest).await?;
            out.insert(r.index_digest.clone(), scan_summary(&state));
        }
    }
    Ok(out)
}

/// The releases page; `promoted` (version, channel) announces a promotion, when that release
/// is on that channel (a link cannot make the page claim one that did not happen).
async fn releases_view(
    s: &St,
    who: &Who,
    app: &str,
    promoted: Option<(String, String)>,
    error: Option<PromoteError>,
    code: StatusCode,
) -> Response {
    let nav = who.nav("apps");
    let loaded = async {
        let channels = s.svc.channels(app).await?;
        let records = s.svc.release_records(app).await?;
        let promos = s.svc.promotions(app).await?;
        let scans = summaries(s, &records).await?;
        Ok::<_, ServiceError>((channels, records, promos, scans))
    };
    let (channels, records, promos, scans) =
        or_return!(loaded.await.map_err(|e| service_error(&nav, e)));
    let names: Vec<String> = channels.iter().map(|c| c.name.clone()).collect();
    let on: HashMap<(&str, &str), i64> = promos
        .iter()
        .map(|p| ((p.channel.as_str(), p.version.as_str()), p.promoted_at))
        .collect();
    let notice = promoted
        .filter(|(v, c)| on.contains_key(&(c.as_str(), v.as_str())))
        .map(|(v, c)| format!("Promoted {app} {v} to {c}."));
    let by_version: HashMap<&str, &berth_vendor::overview::ReleaseRecord> =
        records.iter().map(|r| (r.version.as_str(), r)).collect();
    let promote_to = |version: &str| -> Vec<String> {
        names
            .iter()
            .filter(|c| !on.contains_key(&(c.as_str(), version)))
            .cloned()
            .collect()
    };
    let unknown = ScanSummary {
        text: "not scanned".into(),
        class: "warn",
    };
    let row = |version: &str, channel: Option<&str>, i: usize| {
        let rec = by_version.get(version);
        ReleaseRow {
            version: version.to_string(),
            href: enc(version),
            pushed: rec.map(|r| fmt_time(r.pushed_at)).unwrap_or_default(),
            promoted: channel
                .and_then(|c| on.get(&(c, version)))
                .map(|ms| fmt_time(*ms))
                .unwrap_or_default(),
            required: rec.is_some_and(|r| r.required),
            eol: None,
            eol_at: rec.and_then(|r| r.eol_at).map(fmt_time),
            scan: rec
                .and_then(|r| scans.get(&r.index_digest))
                .unwrap_or(&unknown)
                .clone(),
            promote_to: promote_to(version),
            form_id: format!("{}-{i}", channel.unwrap_or("none")),
        }
    };
    let views: Vec<ChannelView> = channels
        .iter()
        .map(|ch| ChannelView {
            name: ch.name.clone(),
            keep_minors: ch.keep_minors,
            releases: ch
                .releases
                .iter()
                .rev()
                .enumerate()
                .map(|(i, r)| ReleaseRow {
                    eol: r.eol.clone(),
                    ..row(&r.version, Some(&ch.name), i)
                })
                .collect(),
        })
        .collect();
    let promoted: HashSet<&str> = promos.iter().map(|p| p.version.as_str()).collect();
    let mut rest: Vec<&str> = records
        .iter()
        .map(|r| r.version.as_str())
        .filter(|v| !promoted.contains(v))
        .collect();
    rest.sort_by(|a, b| semver_desc(a, b));
    let unpromoted = rest
        .iter()
        .enumerate()
        .map(|(i, v)| row(v, None, i))
        .collect();
    (
        code,
        ReleasesPage {
            nav,
            app: app.to_string(),
            channels: views,
            unpromoted,
            notice,
            error,
        },
    )
        .into_response()
}

pub(super) async fn release(
    State(s): State<St>,
    h: HeaderMap,
    Path((app, version)): Path<(String, String)>,
) -> Response {
    let who = or_return!(page(&s, &h).await);
    release_view(&s, &who, &app, &version, None, StatusCode::OK).await
}

fn finding_rows(report: &berth_scan::report::ScanReport) -> Vec<FindingRow> {
    let mut out = Vec::new();
    for t in &report.targets {
        for f in &t.findings {
            let (fixed, fix_state) = match &f.fix {
                berth_scan::osv::FixState::Fixed(v) => (v.clone(), "fix available".to_string()),
                other => (String::new(), berth_vendor::exposure::fix_text(other)),
            };
            out.push(FindingRow {
                image: t.name.clone(),
                package: f.package.clone(),
                version: f.version.clone(),
                advisory: f.advisory.clone(),
                severity: f.severity.to_string(),
                fixed,
                fix_state,
                suppressed: f
                    .suppressed()
                    .then(|| f.vex.as_ref().map(|v| v.describe()).unwrap_or_default()),
            });
        }
    }
    out
}

async fn release_view(
    s: &St,
    who: &Who,
    app: &str,
    version: &str,
    error: Option<PromoteError>,
    code: StatusCode,
) -> Response {
    let nav = who.nav("apps");
    let loaded = async {
        let rec = s.svc.release_record(app, version).await?;
        let channels = s.svc.channels(app).await?;
        let promos = s.svc.promotions(app).await?;
        let scan = s.svc.kept_scan(&rec.index_digest).await?;
        Ok::<_, ServiceError>((rec, channels, promos, scan))
    };
    let (rec, channels, promos, scan) =
        or_return!(loaded.await.map_err(|e| service_error(&nav, e)));
    let mine: Vec<(String, String)> = promos
        .iter()
        .filter(|p| p.version == rec.version)
        .map(|p| (p.channel.clone(), fmt_time(p.promoted_at)))
        .collect();
    let promote_to = channels
        .iter()
        .map(|c| c.name.clone())
        .filter(|c| !mine.iter().any(|(m, _)| m == c))
        .collect();
    let summary = scan_summary(&scan);
    let (scanned, blocking, findings, not_scanned) = match &scan {
        ScanState::Scanned { report, blocking } => (
            true,
            blocking.clone(),
            finding_rows(report),
            report
                .targets
                .iter()
                .flat_map(|t| t.not_scanned.iter().map(|n| (t.name.clone(), n.clone())))
                .collect(),
        ),
        _ => (false, vec![], vec![], vec![]),
    };
    (
        code,
        ReleasePage {
            nav,
            app: app.to_string(),
            href: enc(&rec.version),
            version: rec.version,
            notes: rec.notes,
            pushed: fmt_time(rec.pushed_at),
            required: rec.required,
            eol_at: rec.eol_at.map(fmt_time),
            index_digest: rec.index_digest,
            channels: mine,
            promote_to,
            scan: summary,
            scanned,
            blocking,
            findings,
            not_scanned,
            error,
        },
    )
        .into_response()
}

pub(super) async fn promote(
    State(s): State<St>,
    h: HeaderMap,
    Path(app): Path<String>,
    axum::Form(form): Form,
) -> Response {
    let who = or_return!(change(&s, &h, &form, Scope::ReleasePublisher).await);
    let field = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let (version, channel) = (field("version"), field("channel"));
    let on_release = field("back") == "release";
    let result = if version.is_empty() || channel.is_empty() {
        Err(ServiceError::Invalid(
            "choose a release and the channel to promote it to".into(),
        ))
    } else {
        s.svc.promote(&who.actor, &app, &channel, &version).await
    };
    let (code, message, reasons) = match result {
        Ok(_) => {
            return Redirect::to(&format!(
                "/portal/apps/{}?promoted={}&channel={}",
                enc(&app),
                enc(&version),
                enc(&channel)
            ))
            .into_response();
        }
        Err(ServiceError::Gate(reasons)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "The release gate refused it:".to_string(),
            reasons,
        ),
        Err(ServiceError::NotFound(m)) => (StatusCode::NOT_FOUND, m, vec![]),
        Err(ServiceError::Invalid(m)) => (StatusCode::BAD_REQUEST, m, vec![]),
        Err(ServiceError::Forbidden(m)) => (StatusCode::FORBIDDEN, m, vec![]),
        Err(ServiceError::Conflict(m)) => (StatusCode::CONFLICT, m, vec![]),
        Err(e) => return service_error(&who.nav("apps"), e),
    };
    let error = Some(PromoteError {
        version: version.clone(),
        channel,
        message,
        reasons,
    });
    if on_release {
        // The release page again, or the releases page when the version itself is unknown.
        if s.svc.release_record(&app, &version).await.is_ok() {
            return release_view(&s, &who, &app, &version, error, code).await;
        }
    }
    releases_view(&s, &who, &app, None, error, code).await
}

// ---------- instances ----------

/// Instances shown per page.
pub const INSTANCES_PER_PAGE: i64 = 200;

#[derive(serde::Deserialize)]
pub(super) struct PageQuery {
    page: Option<String>,
}

pub(super) async fn instances(
    State(s): State<St>,
    h: HeaderMap,
    Path(app): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let who = or_return!(page(&s, &h).await);
    let nav = who.nav("apps");
    let number = match q.page.as_deref().map(str::parse::<i64>) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => {
            return error_page(
                &nav,
                StatusCode::BAD_REQUEST,
                "Bad page number",
                "page must be a whole number from 1 (the first page)".into(),
            );
        }
    };
    let offset = (number - 1).saturating_mul(INSTANCES_PER_PAGE);
    let loaded = async {
        s.svc.require_app(&app).await?;
        s.svc.instance_page(&app, offset, INSTANCES_PER_PAGE).await
    };
    let list = or_return!(loaded.await.map_err(|e| service_error(&nav, e)));
    let pages = (list.total as i64 + INSTANCES_PER_PAGE - 1) / INSTANCES_PER_PAGE;
    if number > pages.max(1) {
        return error_page(
            &nav,
            StatusCode::NOT_FOUND,
            "Not found",
            format!(
                "no page {number} of the instances of {app}: there are {} instances, {pages} page(s)",
                list.total
            ),
        );
    }
    let now = now_ms();
    let rows: Vec<InstanceRow> = list
        .rows
        .into_iter()
        .map(|i| {
            let seen = i
                .last_seen
                .parse::<jiff::Timestamp>()
                .map(|t| t.as_millisecond())
                .unwrap_or(0);
            InstanceRow {
                customer: i.customer,
                cluster: i.cluster_id.chars().take(12).collect(),
                version: i.app_version,
                behind: i.behind,
                kube: i.kube_version,
                distribution: i.distribution,
                ready: i.ready,
                last_seen: i.last_seen,
                seen_ms: seen,
                age: age(now, seen),
                eol: i.eol,
            }
        })
        .collect();
    InstancesPage {
        nav,
        first: offset + 1,
        last: offset + rows.len() as i64,
        prev: (number > 1).then(|| number - 1),
        next: (number < pages).then(|| number + 1),
        total: list.total,
        past_eol: list.past_eol,
        app,
        rows,
    }
    .into_response()
}

// ---------- customers ----------

#[derive(serde::Deserialize)]
pub(super) struct AppFilter {
    app: Option<String>,
}

fn expiry(c: &CustomerInfo, now: i64) -> (String, bool) {
    match &c.expires_at {
        None => ("never".into(), false),
        Some(e) => {
            let ms = e.parse::<jiff::Timestamp>().map(|t| t.as_millisecond());
            (fmt_rfc(e), ms.is_ok_and(|ms| ms <= now))
        }
    }
}

pub(super) async fn customers(
    State(s): State<St>,
    h: HeaderMap,
    Query(f): Query<AppFilter>,
) -> Response {
    let who = or_return!(page(&s, &h).await);
    let nav = who.nav("customers");
    let app = f.app.unwrap_or_default();
    let loaded = async {
        if !app.is_empty() {
            s.svc.require_app(&app).await?;
        }
        let apps = s.svc.apps().await?;
        let list = s
            .svc
            .customers((!app.is_empty()).then_some(app.as_str()))
            .await?;
        Ok::<_, ServiceError>((apps, list))
    };
    let (apps, list) = or_return!(loaded.await.map_err(|e| service_error(&nav, e)));
    let now = now_ms();
    let rows = list
        .iter()
        .map(|c| {
            let (expires, expired) = expiry(c, now);
            CustomerRow {
                name: c.name.clone(),
                app: c.app.clone(),
                channels: c.channels.join(", "),
                license_type: c.license_type.clone(),
                expires,
                expired,
                revoked: c.revoked,
            }
        })
        .collect();
    CustomersPage {
        nav,
        apps,
        app,
        rows,
    }
    .into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct CustomerQuery {
    issued: Option<String>,
    done: Option<String>,
}

/// What the customer page shows besides the customer itself.
#[derive(Default)]
struct CustomerExtras {
    notice: Option<String>,
    issued: Option<String>,
    errors: CustomerErrors,
    renew_value: Option<String>,
    channels_value: Option<String>,
}

pub(super) async fn customer(
    State(s): State<St>,
    h: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<CustomerQuery>,
) -> Response {
    let who = or_return!(page(&s, &h).await);
    let notice = q.done.as_deref().and_then(|d| match d {
        "renewed" => Some("Renewed: issue a new license so the file carries the new expiry."),
        "channels" => Some("Channels changed: issue a new license so the file lists them."),
        "revoked" => Some("Revoked: every license of this customer is refused from now on."),
        "reinstated" => Some("Reinstated: the customer's licenses work again."),
        _ => None,
    });
    let extras = CustomerExtras {
        notice: notice.map(String::from),
        issued: q.issued,
        ..Default::default()
    };
    customer_view(&s, &who, &name, extras, StatusCode::OK).await
}

async fn customer_view(
    s: &St,
    who: &Who,
    name: &str,
    x: CustomerExtras,
    code: StatusCode,
) -> Response {
    let nav = who.nav("customers");
    let loaded = async {
        let c = s.svc.customer(name).await?;
        let licenses = s.svc.licenses_of(name).await?;
        let channels = s.svc.channels(&c.app).await?;
        Ok::<_, ServiceError>((c, licenses, channels))
    };
    let (c, licenses, app_channels) = or_return!(loaded.await.map_err(|e| service_error(&nav, e)));
    let ready = s.downloadable(&who.sid, name);
    // Only a license this session can still download is announced as issued.
    let issued = x.issued.filter(|id| ready.contains(id));
    let (expires, expired) = expiry(&c, now_ms());
    let channels = c.channels.join(", ");
    CustomerPage {
        nav,
        name: c.name.clone(),
        app: c.app.clone(),
        renew_value: x.renew_value.unwrap_or_default(),
        channels_value: x.channels_value.unwrap_or_else(|| channels.clone()),
        channels,
        license_type: c.license_type.clone(),
        expires,
        expired,
        airgap: c.airgap,
        snapshots: c.snapshots,
        support_upload: c.support_bundle_upload,
        revoked: c.revoked,
        entitlements: c
            .entitlements
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect(),
        licenses: licenses
            .into_iter()
            .map(|l| LicenseRow {
                downloadable: ready.contains(&l.id),
                issued: fmt_time(l.issued_at),
                id: l.id,
            })
            .collect(),
        app_channels: app_channels
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        issued,
        notice: x.notice,
        errors: x.errors,
    }
    .into_response()
    .with_status(code)
}

trait WithStatus {
    fn with_status(self, code: StatusCode) -> Response;
}

impl WithStatus for Response {
    fn with_status(mut self, code: StatusCode) -> Response {
        *self.status_mut() = code;
        self
    }
}

fn customer_url(name: &str, query: &str) -> String {
    format!("/portal/customers/{}?{query}", enc(name))
}

pub(super) async fn issue(
    State(s): State<St>,
    h: HeaderMap,
    Path(name): Path<String>,
    axum::Form(form): Form,
) -> Response {
    let who = or_return!(change(&s, &h, &form, Scope::Admin).await);
    match s.svc.issue_license(&who.actor, &name, &s.public_url).await {
        Ok(yaml) => {
            let id = match berth_license::License::parse(&yaml, "the issued license") {
                Ok(l) => l.spec.license_id,
                Err(e) => {
                    return service_error(
                        &who.nav("customers"),
                        ServiceError::Invalid(e.to_string()),
                    );
                }
            };
            s.keep_issued(&who.sid, &name, &id, yaml);
            Redirect::to(&customer_url(&name, &format!("issued={}", enc(&id)))).into_response()
        }
        Err(ServiceError::Forbidden(m)) => {
            let x = CustomerExtras {
                errors: CustomerErrors {
                    action: Some(m),
                    ..Default::default()
                },
                ..Default::default()
            };
            customer_view(&s, &who, &name, x, StatusCode::FORBIDDEN).await
        }
        Err(e) => service_error(&who.nav("customers"), e),
    }
}

pub(super) async fn download(
    State(s): State<St>,
    h: HeaderMap,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let who = or_return!(page(&s, &h).await);
    let Some(yaml) = s.issued_file(&who.sid, &name, &id) else {
        return error_page(
            &who.nav("customers"),
            StatusCode::NOT_FOUND,
            "Not found",
            format!(
                "No license file {id} of customer {name} to download here. The server keeps only a hash of each license's credential, so a license file can be downloaded by the session that issued it, within {} minutes; issue a new license.",
                super::DOWNLOAD_TTL.as_secs() / 60
            ),
        );
    };
    // Both come from the issued list: a customer name (a DNS label) and a UUID.
    (
        [
            (header::CONTENT_TYPE, "application/yaml".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}-{id}.license.yaml\""),
            ),
        ],
        yaml,
    )
        .into_response()
}

/// The customer must exist before a form's values are judged (an unknown one is a 404 page).
async fn existing(s: &St, who: &Who, name: &str) -> Result<(), Response> {
    s.svc
        .customer(name)
        .await
        .map(|_| ())
        .map_err(|e| service_error(&who.nav("customers"), e))
}

pub(super) async fn renew(
    State(s): State<St>,
    h: HeaderMap,
    Path(name): Path<String>,
    axum::Form(form): Form,
) -> Response {
    let who = or_return!(change(&s, &h, &form, Scope::Admin).await);
    or_return!(existing(&s, &who, &name).await);
    let value = form
        .get("expires")
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    let result = if value.is_empty() {
        Err(ServiceError::Invalid(
            "give the new expiry: a date such as 2027-12-31".into(),
        ))
    } else {
        let c = CustomerChange {
            expires_at: Some(value.clone()),
            ..Default::default()
        };
        s.svc.change_customer(&who.actor, &name, &c).await
    };
    match result {
        Ok(_) => Redirect::to(&customer_url(&name, "done=renewed")).into_response(),
        Err(ServiceError::Invalid(m)) => {
            let x = CustomerExtras {
                errors: CustomerErrors {
                    renew: Some(m),
                    ..Default::default()
                },
                renew_value: Some(value),
                ..Default::default()
            };
            customer_view(&s, &who, &name, x, StatusCode::BAD_REQUEST).await
        }
        Err(e) => service_error(&who.nav("customers"), e),
    }
}

pub(super) async fn channels(
    State(s): State<St>,
    h: HeaderMap,
    Path(name): Path<String>,
    axum::Form(form): Form,
) -> Response {
    let who = or_return!(change(&s, &h, &form, Scope::Admin).await);
    or_return!(existing(&s, &who, &name).await);
    let value = form.get("channels").cloned().unwrap_or_default();
    let list: Vec<String> = value
        .split(',')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    let c = CustomerChange {
        channels: Some(list),
        ..Default::default()
    };
    match s.svc.change_customer(&who.actor, &name, &c).await {
        Ok(_) => Redirect::to(&customer_url(&name, "done=channels")).into_response(),
        // The customer exists: a missing channel is the field's value.
        Err(ServiceError::Invalid(m) | ServiceError::NotFound(m)) => {
            let x = CustomerExtras {
                errors: CustomerErrors {
                    channels: Some(m),
                    ..Default::default()
                },
                channels_value: Some(value),
                ..Default::default()
            };
            customer_view(&s, &who, &name, x, StatusCode::BAD_REQUEST).await
        }
        Err(e) => service_error(&who.nav("customers"), e),
    }
}

pub(super) async fn revoke(
    State(s): State<St>,
    h: HeaderMap,
    Path(name): Path<String>,
    axum::Form(form): Form,
) -> Response {
    let who = or_return!(change(&s, &h, &form, Scope::Admin).await);
    or_return!(existing(&s, &who, &name).await);
    let revoked = match form.get("revoked").map(String::as_str) {
        Some("true") => true,
        Some("false") => false,
        _ => {
            let x = CustomerExtras {
                errors: CustomerErrors {
                    action: Some("the form must say revoked=true or revoked=false".into()),
                    ..Default::default()
                },
                ..Default::default()
            };
            return customer_view(&s, &who, &name, x, StatusCode::BAD_REQUEST).await;
        }
    };
    let c = CustomerChange {
        revoked: Some(revoked),
        ..Default::default()
    };
    match s.svc.change_customer(&who.actor, &name, &c).await {
        Ok(_) => {
            let done = if revoked { "revoked" } else { "reinstated" };
            Redirect::to(&customer_url(&name, &format!("done={done}"))).into_response()
        }
        Err(e) => service_error(&who.nav("customers"), e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_encoding() {
        let now = 10_000_000_000;
        assert_eq!(age(now, now - 5_000), "just now");
        assert_eq!(age(now, now - 120_000), "2 min ago");
        assert_eq!(age(now, now - 3 * 3_600_000), "3 h ago");
        assert_eq!(age(now, now - 12 * 86_400_000), "12 days ago");
        assert_eq!(
            age(now, now + 5_000),
            "just now",
            "a clock ahead is not negative"
        );
        assert_eq!(enc("1.2.0+build.5"), "1.2.0%2Bbuild.5");
        assert_eq!(enc("a b/c"), "a%20b%2Fc");
        assert_eq!(fmt_time(0), "1970-01-01 00:00 UTC");
    }

    #[test]
    fn findings_show_the_fix_and_mark_what_vex_suppresses() {
        use berth_scan::osv::{FixState, Severity};
        use berth_scan::report::{Finding, ScanReport, TargetReport};
        use berth_scan::vex::{VexNote, VexStatus};
        let finding = |pkg: &str, fix: FixState, vex: Option<VexStatus>| Finding {
            package: pkg.into(),
            version: "1.0-1".into(),
            matched_name: pkg.into(),
            matched_version: "1.0-1".into(),
            ecosystem: "Debian:12".into(),
            advisory: "CVE-2026-1".into(),
            aliases: vec![],
            summary: None,
            severity: Severity::Medium,
            fix,
            path: "var/lib/dpkg/status".into(),
            layer: None,
            vex: vex.map(|status| VexNote {
                status,
                justification: Some("vulnerable_code_not_present".into()),
                impact_statement: None,
                action_statement: None,
                document: "https://vex.example.com/1".into(),
                file: "hello.openvex.json".into(),
                statement: 0,
                timestamp: "2026-01-01T00:00:00Z".into(),
            }),
        };
        let report = ScanReport {
            targets: vec![TargetReport {
                name: "web".into(),
                digest: None,
                distro: None,
                packages: vec![],
                findings: vec![
                    finding("a", FixState::Fixed("1.0-2".into()), None),
                    finding("b", FixState::WontFix, Some(VexStatus::NotAffected)),
                    finding("c", FixState::NotFixed, Some(VexStatus::UnderInvestigation)),
                ],
                not_scanned: vec![],
            }],
        };
        let rows = finding_rows(&report);
        assert_eq!(
            (rows[0].fixed.as_str(), rows[0].fix_state.as_str()),
            ("1.0-2", "fix available")
        );
        assert!(rows[0].suppressed.is_none());
        assert_eq!(rows[1].fix_state, "won't fix");
        let why = rows[1]
            .suppressed
            .as_deref()
            .expect("not_affected suppresses");
        assert!(
            why.contains("not_affected") && why.contains("vex.example.com"),
            "{why}"
        );
        assert!(
            rows[2].suppressed.is_none(),
            "under investigation suppresses nothing"
        );
        assert_eq!(rows[2].severity, "medium");
    }
}
