//! The portal's pages: one askama template (checked at compile time) per page under
//! `templates/portal/`, sharing `portal/base.html`, and the plain data each shows.

use askama::Template;
use askama_web::WebTemplate;

/// What the layout shows on every page.
#[derive(Debug, Clone, Default)]
pub struct PortalNav {
    /// The token's name; empty when logged out.
    pub user: String,
    /// The token's scope (`admin`, `release-publisher`, `read-only`).
    pub scope: &'static str,
    /// The session's CSRF token (empty when logged out).
    pub csrf: String,
    /// Which page is current (`apps`, `customers`, or empty).
    pub active: &'static str,
    /// May promote releases (release-publisher or admin).
    pub can_publish: bool,
    /// May change customers and issue licenses (admin).
    pub can_admin: bool,
}

/// The login page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/login.html")]
pub struct LoginPage {
    pub nav: PortalNav,
    /// The login form's CSRF token.
    pub token: String,
    /// Why the last try failed.
    pub error: Option<String>,
    /// Why the last session ended.
    pub notice: Option<String>,
}

/// An error page: what was not found or refused, and where to go.
#[derive(Template, WebTemplate)]
#[template(path = "portal/error.html")]
pub struct ErrorPage {
    pub nav: PortalNav,
    pub heading: String,
    pub message: String,
}

/// One app on the start page.
#[derive(Debug, Clone)]
pub struct AppRow {
    pub name: String,
    pub releases: usize,
    pub customers: usize,
}

/// The start page: every app.
#[derive(Template, WebTemplate)]
#[template(path = "portal/apps.html")]
pub struct AppsPage {
    pub nav: PortalNav,
    pub apps: Vec<AppRow>,
}

/// A scan summary: words and a class (`pass`, `warn`, `fail`, `muted`).
#[derive(Debug, Clone)]
pub struct ScanSummary {
    pub text: String,
    pub class: &'static str,
}

/// One release in a channel's (or the unpromoted) table.
#[derive(Debug, Clone)]
pub struct ReleaseRow {
    pub version: String,
    /// The version for URLs (percent-encoded).
    pub href: String,
    pub pushed: String,
    /// When it reached this channel (empty in the unpromoted table).
    pub promoted: String,
    pub required: bool,
    /// Why it is past its end of life, when it is.
    pub eol: Option<String>,
    /// Its end-of-life date, when it has one.
    pub eol_at: Option<String>,
    pub scan: ScanSummary,
    /// Channels it can still be promoted to.
    pub promote_to: Vec<String>,
    /// Unique on the page: ties the promote form's label to its select.
    pub form_id: String,
}

/// One channel and its releases, newest first.
#[derive(Debug, Clone)]
pub struct ChannelView {
    pub name: String,
    pub keep_minors: Option<u64>,
    pub releases: Vec<ReleaseRow>,
}

/// A promotion that did not happen: which, and why (the gate's reasons when it refused).
#[derive(Debug, Clone)]
pub struct PromoteError {
    pub version: String,
    pub channel: String,
    pub message: String,
    pub reasons: Vec<String>,
}

/// Releases per channel of one app.
#[derive(Template, WebTemplate)]
#[template(path = "portal/releases.html")]
pub struct ReleasesPage {
    pub nav: PortalNav,
    pub app: String,
    pub channels: Vec<ChannelView>,
    /// Releases on no channel yet.
    pub unpromoted: Vec<ReleaseRow>,
    pub notice: Option<String>,
    pub error: Option<PromoteError>,
}

/// One finding of a release's scan.
#[derive(Debug, Clone)]
pub struct FindingRow {
    pub image: String,
    pub package: String,
    pub version: String,
    pub advisory: String,
    pub severity: String,
    /// The version that fixes it, when there is one.
    pub fixed: String,
    /// `fix available`, `not fixed`, `won't fix`, `unknown`.
    pub fix_state: String,
    /// The VEX statement that suppresses it, when one does.
    pub suppressed: Option<String>,
}

/// One release.
#[derive(Template, WebTemplate)]
#[template(path = "portal/release.html")]
pub struct ReleasePage {
    pub nav: PortalNav,
    pub app: String,
    pub version: String,
    pub href: String,
    pub notes: String,
    pub pushed: String,
    pub required: bool,
    pub eol_at: Option<String>,
    pub index_digest: String,
    /// (channel, promoted at).
    pub channels: Vec<(String, String)>,
    pub promote_to: Vec<String>,
    pub scan: ScanSummary,
    /// Whether a kept scan exists (the findings table is shown).
    pub scanned: bool,
    /// What blocks a promotion under the server's policy.
    pub blocking: Vec<String>,
    pub findings: Vec<FindingRow>,
    /// (image, what was not checked).
    pub not_scanned: Vec<(String, String)>,
    pub error: Option<PromoteError>,
}

/// One instance.
#[derive(Debug, Clone)]
pub struct InstanceRow {
    pub customer: String,
    pub cluster: String,
    pub version: String,
    pub behind: u64,
    pub kube: String,
    pub distribution: String,
    pub ready: String,
    pub last_seen: String,
    /// Unix milliseconds (the script keeps the age current).
    pub seen_ms: i64,
    pub age: String,
    pub eol: Option<String>,
}

/// The instances of one app.
#[derive(Template, WebTemplate)]
#[template(path = "portal/instances.html")]
pub struct InstancesPage {
    pub nav: PortalNav,
    pub app: String,
    /// This page's rows.
    pub rows: Vec<InstanceRow>,
    /// Every instance of the app, and those past end of life.
    pub total: u64,
    pub past_eol: u64,
    /// The rows' positions (1-based) in the whole list.
    pub first: i64,
    pub last: i64,
    /// The previous and next page numbers, when there are such pages.
    pub prev: Option<i64>,
    pub next: Option<i64>,
}

/// One customer in the list.
#[derive(Debug, Clone)]
pub struct CustomerRow {
    pub name: String,
    pub app: String,
    pub channels: String,
    pub license_type: String,
    pub expires: String,
    pub expired: bool,
    pub revoked: bool,
}

/// Every customer (of one app when filtered).
#[derive(Template, WebTemplate)]
#[template(path = "portal/customers.html")]
pub struct CustomersPage {
    pub nav: PortalNav,
    pub apps: Vec<String>,
    /// The app filter, empty for all.
    pub app: String,
    pub rows: Vec<CustomerRow>,
}

/// A license issued to the customer.
#[derive(Debug, Clone)]
pub struct LicenseRow {
    pub id: String,
    pub issued: String,
    /// This session issued it moments ago: the file can still be downloaded.
    pub downloadable: bool,
}

/// Messages at the customer page's forms.
#[derive(Debug, Clone, Default)]
pub struct CustomerErrors {
    pub renew: Option<String>,
    pub channels: Option<String>,
    /// Issue, revoke or reinstate.
    pub action: Option<String>,
}

/// One customer: entitlements, licenses and the changes an admin can make.
#[derive(Template, WebTemplate)]
#[template(path = "portal/customer.html")]
pub struct CustomerPage {
    pub nav: PortalNav,
    pub name: String,
    pub app: String,
    pub channels: String,
    pub license_type: String,
    pub expires: String,
    pub expired: bool,
    pub airgap: bool,
    pub snapshots: bool,
    pub support_upload: bool,
    pub revoked: bool,
    /// (name, JSON value).
    pub entitlements: Vec<(String, String)>,
    pub licenses: Vec<LicenseRow>,
    /// The app's channels (for the channels field's help).
    pub app_channels: String,
    /// A license this session just issued, ready to download.
    pub issued: Option<String>,
    pub notice: Option<String>,
    pub errors: CustomerErrors,
    /// What the renew field shows (the rejected value after an error).
    pub renew_value: String,
    /// What the channels field shows.
    pub channels_value: String,
}
