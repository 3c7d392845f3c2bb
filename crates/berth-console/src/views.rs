//! The pages: one askama template (checked at compile time) per page, and the plain data
//! each shows. Handlers fill these; nothing here does I/O.

use crate::ops::{DiffLine, outcome_word};
use askama::Template;
use askama_web::WebTemplate;
use berth_troubleshoot::analyze::AnalyzeResult;

/// What the layout shows on every page.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    /// The app's title.
    pub app: String,
    /// `admin`, `viewer`, or empty when logged out.
    pub role: &'static str,
    /// The session's CSRF token (empty when logged out).
    pub csrf: String,
    /// Which page is current.
    pub active: &'static str,
}

/// The login page.
#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    /// Layout.
    pub nav: Nav,
    /// The login form's CSRF token.
    pub token: String,
    /// Why the last try failed.
    pub error: Option<String>,
}

/// The installed app on the dashboard.
pub struct StatusView {
    /// Version.
    pub version: String,
    /// Revision number.
    pub revision: u32,
    /// Revision status.
    pub status: String,
    /// Ready objects.
    pub ready: usize,
    /// All objects.
    pub total: usize,
    /// (object, state, detail).
    pub objects: Vec<(String, String, String)>,
    /// (cause, fix).
    pub diagnoses: Vec<(String, String)>,
    /// The last failure's message.
    pub last_failure: Option<String>,
    /// An unfinished operation.
    pub unsettled: Option<String>,
}

/// The last recorded operation.
pub struct LastOp {
    /// install, upgrade, rollback.
    pub operation: String,
    /// Version.
    pub version: String,
    /// Revision.
    pub revision: u32,
    /// Status.
    pub status: String,
    /// When it ended (or started).
    pub when: String,
    /// Message.
    pub message: String,
}

/// The dashboard.
#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    /// Layout.
    pub nav: Nav,
    /// App title.
    pub title: String,
    /// App description.
    pub description: Option<String>,
    /// Namespace.
    pub namespace: String,
    /// Installed state, if installed.
    pub status: Option<StatusView>,
    /// The newest revision's operation.
    pub last: Option<LastOp>,
    /// Recent console jobs (id, title).
    pub jobs: Vec<(u64, String)>,
    /// The license the app runs under, when it was installed with one.
    pub license: Option<LicenseView>,
}

/// The license on the dashboard.
#[derive(Debug, Clone)]
pub struct LicenseView {
    pub license_id: String,
    pub customer: String,
    pub license_type: String,
    /// Channels, comma-separated.
    pub channels: String,
    /// "never", "2027-12-31T00:00:00Z (in 391 days)" or "… (expired 3 days ago: updates and new installs are refused)".
    pub expiry: String,
    /// Expired or within 30 days.
    pub warn: bool,
}

impl LicenseView {
    /// The dashboard's words for a license.
    pub fn of(l: berth_ops::online::LicenseSummary) -> LicenseView {
        let (expiry, warn) = match (&l.expires_at, l.days_left) {
            (Some(at), Some(d)) if d < 0 => (
                format!(
                    "{at} (expired {} days ago: updates and new installs are refused; the running app is not affected)",
                    -d
                ),
                true,
            ),
            (Some(at), Some(d)) => (format!("{at} (in {d} days)"), d <= 30),
            _ => ("never".into(), false),
        };
        LicenseView {
            license_id: l.license_id,
            customer: l.customer,
            license_type: l.license_type,
            channels: l.channels.join(", "),
            expiry,
            warn,
        }
    }
}

/// One item on the config screen.
#[derive(Debug, Clone)]
pub struct ItemView {
    /// Name.
    pub name: String,
    /// Label.
    pub title: String,
    /// text, textarea, password, number, bool, select, file.
    pub kind: &'static str,
    /// Current value (never a password; a file's size in words).
    pub value: String,
    /// A bool that is on.
    pub checked: bool,
    /// Select options (value, title, selected).
    pub options: Vec<(String, String, bool)>,
    /// Help text.
    pub help: Option<String>,
    /// Validation message.
    pub error: Option<String>,
    /// Visible now.
    pub shown: bool,
    /// Required.
    pub required: bool,
    /// Not editable.
    pub readonly: bool,
    /// A password or file value exists (left empty keeps it).
    pub is_set: bool,
}

/// One group on the config screen.
#[derive(Debug, Clone)]
pub struct GroupView {
    /// Name.
    pub name: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Visible now.
    pub shown: bool,
    /// Items.
    pub items: Vec<ItemView>,
}

/// The config screen.
#[derive(Template, WebTemplate)]
#[template(path = "configure.html")]
pub struct ConfigurePage {
    /// Layout.
    pub nav: Nav,
    /// Groups.
    pub groups: Vec<GroupView>,
    /// (item, message) for the summary at the top.
    pub problems: Vec<(String, String)>,
    /// Admin.
    pub can_edit: bool,
}

/// "Review changes" before deploy.
#[derive(Template, WebTemplate)]
#[template(path = "review.html")]
pub struct ReviewPage {
    /// Layout.
    pub nav: Nav,
    /// install / upgrade.
    pub mode: &'static str,
    /// Version deployed.
    pub version: String,
    /// The engine's plan in words.
    pub plan: String,
    /// Object diffs.
    pub diff: Vec<(String, Vec<DiffLine>)>,
    /// The draft to deploy.
    pub draft: String,
    /// Whether the last preflight failed (`None`: none ran).
    pub preflight: Option<bool>,
    /// Why the last deploy request was refused.
    pub error: Option<String>,
}

/// A running or finished job.
#[derive(Template, WebTemplate)]
#[template(path = "job.html")]
pub struct JobPage {
    /// Layout.
    pub nav: Nav,
    /// Id.
    pub id: u64,
    /// Title.
    pub job_title: String,
    /// (kind, text) so far.
    pub events: Vec<(String, String)>,
    /// Finished.
    pub done: bool,
    /// (ok, text) when finished.
    pub result: Option<(bool, String)>,
    /// Where to go next.
    pub next: String,
}

/// One history row.
pub struct HistoryRow {
    /// Revision.
    pub revision: u32,
    /// Version.
    pub version: String,
    /// Status.
    pub status: String,
    /// Operation.
    pub operation: String,
    /// Start time.
    pub started: String,
    /// Message.
    pub message: String,
    /// A rollback target (deployed once, not the current one).
    pub can_rollback: bool,
}

/// Versions: history, diffs, rollback.
#[derive(Template, WebTemplate)]
#[template(path = "versions.html")]
pub struct VersionsPage {
    /// Layout.
    pub nav: Nav,
    /// Newest first.
    pub history: Vec<HistoryRow>,
    /// Admin.
    pub can_edit: bool,
    /// A refused request.
    pub error: Option<String>,
}

/// Differences between two revisions.
#[derive(Template, WebTemplate)]
#[template(path = "diff.html")]
pub struct DiffPage {
    /// Layout.
    pub nav: Nav,
    /// From revision.
    pub from: u32,
    /// To revision.
    pub to: u32,
    /// Object diffs.
    pub diff: Vec<(String, Vec<DiffLine>)>,
}

/// One check's row.
pub struct CheckRow {
    /// Title.
    pub check: String,
    /// pass, warn, fail, error.
    pub outcome: &'static str,
    /// Message.
    pub message: String,
    /// Link.
    pub uri: Option<String>,
}

/// Rows of analysis results.
pub fn check_rows(results: &[AnalyzeResult]) -> Vec<CheckRow> {
    results
        .iter()
        .map(|r| CheckRow {
            check: r.check.clone(),
            outcome: outcome_word(r.outcome),
            message: r.message.clone(),
            uri: r
                .uri
                .clone()
                .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        })
        .collect()
}

/// The last preflight.
pub struct PreflightView {
    /// pass, warn or fail.
    pub verdict: &'static str,
    /// When.
    pub at: String,
    /// Rows.
    pub rows: Vec<CheckRow>,
}

/// Preflight.
#[derive(Template, WebTemplate)]
#[template(path = "preflight.html")]
pub struct PreflightPage {
    /// Layout.
    pub nav: Nav,
    /// Last result.
    pub result: Option<PreflightView>,
    /// Admin.
    pub can_edit: bool,
}

/// A support bundle on the troubleshoot page.
pub struct BundleView {
    /// File name.
    pub file: String,
    /// When.
    pub at: String,
    /// Bytes.
    pub size: u64,
    /// Files inside.
    pub files: Vec<String>,
    /// Analysis.
    pub rows: Vec<CheckRow>,
}

/// Troubleshoot.
#[derive(Template, WebTemplate)]
#[template(path = "troubleshoot.html")]
pub struct TroubleshootPage {
    /// Layout.
    pub nav: Nav,
    /// Newest first.
    pub bundles: Vec<BundleView>,
}

/// One file of a bundle.
#[derive(Template, WebTemplate)]
#[template(path = "file.html")]
pub struct FilePage {
    /// Layout.
    pub nav: Nav,
    /// Bundle file name.
    pub bundle: String,
    /// Path inside.
    pub path: String,
    /// Text (lossy UTF-8, capped).
    pub text: String,
}

/// An error page.
#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// Layout.
    pub nav: Nav,
    /// Heading.
    pub heading: String,
    /// Message.
    pub message: String,
}
