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
    /// Newer releases from the vendor server.
    pub updates: UpdatesView,
}

/// The "Available updates" section of the Versions page.
#[derive(Debug, Clone, Default)]
pub struct UpdatesView {
    /// `not-installed`, `no-license`, `unreachable`, `failed` or `answer`.
    pub state: &'static str,
    /// What to say (for every state but `answer`).
    pub message: String,
    /// The license's channel asked about.
    pub channel: String,
    /// The installed version.
    pub current: String,
    /// When the vendor server was asked.
    pub checked: String,
    /// The vendor server's URL.
    pub url: String,
    /// The license has expired (the server offers no upgrade; the app keeps running).
    pub expired: Option<String>,
    /// Another refusal of the server (no upgrade possible), in its words.
    pub refused: Option<String>,
    /// Why the installed version is past its end of life.
    pub current_eol: Option<String>,
    /// Newer releases on the channel, newest first.
    pub releases: Vec<ReleaseRow>,
    /// Upgrade buttons are shown (admin, and the server allows an upgrade).
    pub can_upgrade: bool,
}

/// A newer release on the Versions page.
#[derive(Debug, Clone)]
pub struct ReleaseRow {
    /// Version.
    pub version: String,
    /// Release notes.
    pub notes: String,
    /// An upgrade may not skip it.
    pub required: bool,
    /// The planned end-of-life date, if any.
    pub eol_at: Option<String>,
    /// Why it is past its end of life (no upgrade to it).
    pub eol: Option<String>,
    /// The required releases an upgrade to it installs first, in order.
    pub via: Vec<String>,
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
    /// Sent to the vendor: (id, when).
    pub sent: Option<(String, String)>,
}

/// Whether "Send to vendor" is offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendState {
    /// Yes, to this vendor server.
    Ready(String),
    /// Viewers do not send data out.
    NotAdmin,
    /// No license in the namespace (not an online install).
    NoLicense,
    /// The license (of this customer) does not allow uploads.
    NotLicensed(String),
}

/// Troubleshoot.
#[derive(Template, WebTemplate)]
#[template(path = "troubleshoot.html")]
pub struct TroubleshootPage {
    /// Layout.
    pub nav: Nav,
    /// Newest first.
    pub bundles: Vec<BundleView>,
    /// Whether bundles can be sent to the vendor.
    pub send: SendState,
}

/// One app snapshot on the Snapshots page.
#[derive(Debug, Clone)]
pub struct SnapshotRow {
    /// Full id.
    pub id: String,
    /// First 8 characters.
    pub short: String,
    /// When.
    pub time: String,
    /// Version (revision).
    pub version: String,
    /// The namespace it was taken from.
    pub namespace: String,
    /// Claims, comma-separated (or "none").
    pub claims: String,
    /// Size in words.
    pub size: String,
    /// `scheduled` or `by hand`.
    pub origin: &'static str,
}

/// The app's snapshot schedule.
#[derive(Debug, Clone)]
pub struct ScheduleView {
    /// The cron expression.
    pub cron: String,
    /// The retention in words.
    pub retention: String,
    /// The last run.
    pub last_run: String,
    /// The last successful run.
    pub last_success: String,
    /// Running now.
    pub active: bool,
}

/// Snapshots.
#[derive(Template, WebTemplate)]
#[template(path = "snapshots.html")]
pub struct SnapshotsPage {
    /// Layout.
    pub nav: Nav,
    /// The app's namespace.
    pub namespace: String,
    /// The repository (location only) and where it is configured; None: none.
    pub repo: Option<(String, String)>,
    /// The schedule.
    pub schedule: Option<ScheduleView>,
    /// Newest first.
    pub snapshots: Vec<SnapshotRow>,
    /// Why the repository could not be read.
    pub error: Option<String>,
    /// Why snapshots are refused here (the license).
    pub not_licensed: Option<String>,
    /// Admin.
    pub can_edit: bool,
    /// The namespace a restore is offered into by default.
    pub suggested: String,
    /// A refused request (a bad namespace name...).
    pub refused: Option<String>,
}

/// "Restore snapshot X into namespace Y?"
#[derive(Template, WebTemplate)]
#[template(path = "restore.html")]
pub struct RestoreConfirmPage {
    /// Layout.
    pub nav: Nav,
    /// The snapshot.
    pub snapshot: SnapshotRow,
    /// The app it holds.
    pub app: String,
    /// The namespace restored into.
    pub target: String,
    /// It exists already (the app is not installed there).
    pub exists: bool,
    /// The confirmation token.
    pub token: String,
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
