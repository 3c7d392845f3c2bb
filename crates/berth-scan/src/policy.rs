//! The release policy: "no release while any CVE with an available fix is unpatched",
//! with a severity threshold and an allowlist whose entries carry a reason and expire.
//! Format: `docs/formats/scan.md` §3.

use crate::error::{Error, Result};
use crate::osv::{FixState, Severity};
use crate::report::{Finding, ScanReport};
use jiff::civil::Date;
use serde::Deserialize;

/// A parsed policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Fixable findings at or above this severity block.
    pub fail_on: Severity,
    /// A fixable finding of unknown severity blocks.
    pub block_unknown_severity: bool,
    /// A finding whose fix state is unknown blocks until triaged (allowlisted).
    pub block_unknown_fix_state: bool,
    /// A target with packages that could not be checked blocks.
    pub block_unscanned: bool,
    /// Accepted findings.
    pub allow: Vec<Allowance>,
    /// OpenVEX documents to apply, as written in the file (relative to the policy file).
    pub vex: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            fail_on: Severity::Low,
            block_unknown_severity: true,
            block_unknown_fix_state: true,
            block_unscanned: true,
            allow: Vec::new(),
            vex: Vec::new(),
        }
    }
}

/// One allowlist entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowance {
    /// Advisory ID or alias.
    pub id: String,
    /// Only for this package (binary or source name).
    pub package: Option<String>,
    /// Why it is accepted.
    pub reason: String,
    /// Last day (UTC) it applies.
    pub expires: Date,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPolicy {
    fail_on: Option<String>,
    block_unknown_severity: Option<bool>,
    block_unknown_fix_state: Option<bool>,
    block_unscanned: Option<bool>,
    #[serde(default)]
    allow: Vec<RawAllow>,
    #[serde(default)]
    vex: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllow {
    id: Option<String>,
    package: Option<String>,
    reason: Option<String>,
    expires: Option<String>,
}

impl Policy {
    /// The policy's VEX documents as paths: relative ones are resolved against the
    /// directory of the policy file `origin` (so a policy beside berth.yaml names the app's
    /// files).
    pub fn vex_paths(&self, origin: &std::path::Path) -> Vec<std::path::PathBuf> {
        let base = origin.parent().unwrap_or(std::path::Path::new(""));
        self.vex.iter().map(|v| base.join(v)).collect()
    }

    /// The VEX documents this policy names (relative to `origin`, its file, when it has one)
    /// and then `extra` ones (`--vex`), loaded: a later file wins on equal timestamps.
    pub fn load_vex(
        &self,
        origin: Option<&std::path::Path>,
        extra: &[std::path::PathBuf],
    ) -> Result<crate::vex::VexSet> {
        let mut paths = origin.map(|p| self.vex_paths(p)).unwrap_or_default();
        paths.extend(extra.iter().cloned());
        crate::vex::load(&paths)
    }

    /// Parse a policy file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Policy> {
        let raw: RawPolicy = serde_saphyr::from_str(text)
            .map_err(|e| Error::invalid(origin, format!("not a valid policy: {e}")))?;
        let d = Policy::default();
        let fail_on = match raw.fail_on {
            None => d.fail_on,
            Some(s) => Severity::parse(&s)
                .filter(|s| *s != Severity::Unknown)
                .ok_or_else(|| {
                    Error::invalid(
                        format!("{origin}: failOn"),
                        format!("{s:?} is not a severity; use low, medium, high or critical"),
                    )
                })?,
        };
        let mut allow = Vec::new();
        for (i, a) in raw.allow.into_iter().enumerate() {
            let field = |f: &str| format!("{origin}: allow[{i}].{f}");
            let missing =
                |f: &str, what: &str| Error::invalid(field(f), format!("missing; {what}"));
            let id =
                a.id.filter(|s| !s.trim().is_empty())
                    .ok_or_else(|| missing("id", "name the advisory or CVE ID to accept"))?;
            let reason = a
                .reason
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| missing("reason", "every allowance needs a reason"))?;
            let exp = a.expires.ok_or_else(|| {
                missing(
                    "expires",
                    "every allowance needs an expiry date (YYYY-MM-DD)",
                )
            })?;
            let expires: Date = exp.trim().parse().map_err(|e| {
                Error::invalid(
                    field("expires"),
                    format!("{exp:?} is not a date YYYY-MM-DD: {e}"),
                )
            })?;
            allow.push(Allowance {
                id,
                package: a.package,
                reason,
                expires,
            });
        }
        Ok(Policy {
            fail_on,
            block_unknown_severity: raw
                .block_unknown_severity
                .unwrap_or(d.block_unknown_severity),
            block_unknown_fix_state: raw
                .block_unknown_fix_state
                .unwrap_or(d.block_unknown_fix_state),
            block_unscanned: raw.block_unscanned.unwrap_or(d.block_unscanned),
            allow,
            vex: raw.vex,
        })
    }
}

/// The decision over a scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// One line per blocking finding or unscanned target; empty = pass.
    pub blocking: Vec<String>,
    /// Findings accepted by an allowlist entry (with its reason and expiry).
    pub allowed: Vec<String>,
    /// Findings that do not block (no fix yet, below the threshold).
    pub reported: Vec<String>,
    /// Findings a VEX statement (`not_affected`, `fixed`) suppresses, with the statement.
    pub suppressed: Vec<String>,
}

impl Decision {
    /// Whether the release may ship.
    pub fn pass(&self) -> bool {
        self.blocking.is_empty()
    }
}

fn describe(target: &str, f: &Finding) -> String {
    let src = if f.matched_name != f.package {
        format!(" (source {})", f.matched_name)
    } else {
        String::new()
    };
    let ids = if f.aliases.is_empty() {
        f.advisory.clone()
    } else {
        format!("{} ({})", f.advisory, f.aliases.join(", "))
    };
    let fix = match &f.fix {
        FixState::Fixed(v) => format!("fixed in {v}"),
        FixState::NotFixed => "no fix released".into(),
        FixState::WontFix => "the distribution will not fix it".into(),
        FixState::Unknown => "fix state unknown (needs triage)".into(),
    };
    format!(
        "{target}: {} {}{src} has {ids}, severity {}, {fix}",
        f.package, f.version, f.severity
    )
}

/// Evaluate a scan against a policy on a given day (UTC).
pub fn evaluate(report: &ScanReport, policy: &Policy, today: Date) -> Decision {
    let mut d = Decision::default();
    for t in &report.targets {
        let target = match &t.digest {
            Some(dg) => format!("{}@{dg}", t.name),
            None => t.name.clone(),
        };
        for f in &t.findings {
            let line = describe(&target, f);
            if let Some(v) = f.vex.as_ref().filter(|v| v.status.suppresses()) {
                d.suppressed
                    .push(format!("{line}; suppressed by VEX: {}", v.describe()));
                continue;
            }
            let line = match &f.vex {
                Some(v) => format!("{line}; VEX: {}", v.describe()),
                None => line,
            };
            let entry = policy.allow.iter().find(|a| {
                f.ids().any(|id| id == a.id)
                    && a.package
                        .as_deref()
                        .is_none_or(|p| p == f.package || p == f.matched_name)
            });
            let mut expired = None;
            if let Some(a) = entry {
                if today <= a.expires {
                    d.allowed
                        .push(format!("{line}; allowed until {}: {}", a.expires, a.reason));
                    continue;
                }
                expired = Some(a.expires);
            }
            let blocks = match &f.fix {
                FixState::Fixed(_) => {
                    f.severity >= policy.fail_on
                        || (f.severity == Severity::Unknown && policy.block_unknown_severity)
                }
                FixState::NotFixed | FixState::WontFix => false,
                FixState::Unknown => policy.block_unknown_fix_state,
            };
            let line = match expired {
                Some(e) => format!("{line}; its allowance expired on {e}"),
                None => line,
            };
            if blocks {
                d.blocking.push(line);
            } else {
                d.reported.push(line);
            }
        }
        if policy.block_unscanned {
            for n in &t.not_scanned {
                d.blocking.push(format!("{target}: not fully scanned: {n}"));
            }
        }
    }
    d
}

/// Today's date in UTC.
pub fn today_utc() -> Date {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

/// The reasons a release may not be promoted (empty = it may): what a vendor-server
/// release gate returns from its `check`.
pub fn gate_reasons(report: &ScanReport, policy: &Policy) -> Vec<String> {
    evaluate(report, policy, today_utc()).blocking
}
