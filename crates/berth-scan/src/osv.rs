//! OSV advisories: records read from a directory of `*.json` files, indexed by
//! (ecosystem, package name), and the decision whether an installed version is affected
//! and whether a fix exists. Format notes: `docs/formats/scan.md` §2.

use crate::catalog::python;
use crate::error::{Error, Result};
use crate::version::{Scheme, VersionError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;

/// Largest advisory file accepted.
pub const MAX_RECORD: u64 = 8 << 20;

/// One OSV record (only the fields berth reads).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Record {
    /// Advisory ID.
    pub id: String,
    /// Other IDs of the same vulnerability.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Upstream IDs (Debian/Alpine records put the CVE here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    /// Related IDs (AlmaLinux records put their CVEs and the RHSA here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    /// Set when the advisory was withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// One-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Affected packages.
    #[serde(default)]
    pub affected: Vec<Affected>,
    /// Database-specific data (GitHub's `severity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// One affected package of a record.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Affected {
    /// The package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<AffectedPackage>,
    /// Version ranges.
    #[serde(default)]
    pub ranges: Vec<Range>,
    /// Explicit affected versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// Ecosystem data (Debian `urgency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<Value>,
    /// Database data (`severity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// Package identity in a record.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AffectedPackage {
    /// `Debian:12`, `Alpine:v3.19`, `PyPI`, …
    pub ecosystem: String,
    /// Package name in that ecosystem.
    pub name: String,
}

/// A range of affected versions.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Range {
    /// `ECOSYSTEM`, `SEMVER` or `GIT`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Events.
    #[serde(default)]
    pub events: Vec<Event>,
}

/// A range event (exactly one field is set).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Event {
    /// Vulnerable from this version (`0` = from the start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    /// Fixed in this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// Last vulnerable version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    /// Upper bound of the range (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// Severity levels, low to high.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// No severity known.
    Unknown,
    /// Low.
    Low,
    /// Medium (GitHub's MODERATE).
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Read a severity word (case-insensitive; Debian urgencies included).
    pub fn parse(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_lowercase().as_str() {
            "critical" => Some(Severity::Critical),
            "high" => Some(Severity::High),
            "medium" | "moderate" => Some(Severity::Medium),
            "low" | "unimportant" | "negligible" => Some(Severity::Low),
            "unknown" | "not yet assigned" => Some(Severity::Unknown),
            _ => None,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        };
        f.write_str(s)
    }
}

/// Whether a fix exists for a finding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "version")]
pub enum FixState {
    /// Fixed in this version.
    Fixed(String),
    /// Affected, and the advisory names no fix.
    NotFixed,
    /// Affected, and the distribution decided not to fix it (Debian `no-dsa`/`ignored`).
    WontFix,
    /// Listed as affected only by version, without a range: needs triage.
    Unknown,
}

/// The outcome of matching one installed version against one affected entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    /// Fix state.
    pub fix: FixState,
    /// Severity.
    pub severity: Severity,
}

/// The advisories, indexed for lookups.
#[derive(Debug, Default)]
pub struct VulnDb {
    records: Vec<Record>,
    index: HashMap<(String, String), Vec<(usize, usize)>>,
    ecosystems: std::collections::BTreeSet<String>,
}

/// Key name used in the index (PyPI names are PEP 503 normalised).
fn index_name(ecosystem: &str, name: &str) -> String {
    if ecosystem == "PyPI" {
        python::normalize(name)
    } else {
        name.to_string()
    }
}

impl VulnDb {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Add one record.
    pub fn add(&mut self, rec: Record) {
        let ri = self.records.len();
        for (ai, a) in rec.affected.iter().enumerate() {
            if let Some(p) = &a.package {
                let key = (p.ecosystem.clone(), index_name(&p.ecosystem, &p.name));
                self.index.entry(key).or_default().push((ri, ai));
                if !self.ecosystems.contains(&p.ecosystem) {
                    self.ecosystems.insert(p.ecosystem.clone());
                }
            }
        }
        self.records.push(rec);
    }

    /// Add a record from JSON bytes; `origin` names it in errors.
    pub fn add_json(&mut self, bytes: &[u8], origin: &str) -> Result<()> {
        let rec: Record = serde_json::from_slice(bytes).map_err(|e| {
            Error::invalid(
                origin,
                format!(
                    "not an OSV record (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        if rec.id.trim().is_empty() {
            return Err(Error::invalid(origin, "OSV record has an empty id"));
        }
        self.add(rec);
        Ok(())
    }

    /// Load every `*.json` file under `dir` (recursively, links not followed).
    pub fn load_dir(dir: &Path) -> Result<VulnDb> {
        let mut db = VulnDb::new();
        let mut paths = Vec::new();
        for e in walkdir::WalkDir::new(dir).follow_links(false) {
            let e = e.map_err(|e| {
                Error::invalid(
                    dir.display().to_string(),
                    format!("cannot read advisory directory: {e}"),
                )
            })?;
            if e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "json") {
                paths.push(e.into_path());
            }
        }
        paths.sort();
        for p in paths {
            let data = crate::rootfs::read_bounded(&p, MAX_RECORD)?;
            db.add_json(&data, &p.display().to_string())?;
        }
        Ok(db)
    }

    /// Every ecosystem some record names, sorted.
    pub fn ecosystems(&self) -> impl Iterator<Item = &str> {
        self.ecosystems.iter().map(String::as_str)
    }

    /// Every (record, affected entry) for a package in an ecosystem.
    pub fn lookup(&self, ecosystem: &str, name: &str) -> Vec<(&Record, &Affected)> {
        let key = (ecosystem.to_string(), index_name(ecosystem, name));
        self.index
            .get(&key)
            .map(|v| {
                v.iter()
                    .filter_map(|&(ri, ai)| {
                        let r = self.records.get(ri)?;
                        Some((r, r.affected.get(ai)?))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Decide whether `version` is affected by `aff`; `None` when not affected.
pub fn evaluate(
    rec: &Record,
    aff: &Affected,
    scheme: Scheme,
    version: &str,
) -> Result<Option<Match>, VersionError> {
    if rec.withdrawn.is_some() {
        return Ok(None);
    }
    let mut affected = aff.versions.iter().any(|v| v == version);
    let mut has_range = false;
    let mut fix: Option<String> = None;
    for r in aff
        .ranges
        .iter()
        .filter(|r| r.kind == "ECOSYSTEM" || r.kind == "SEMVER")
    {
        has_range = true;
        if in_range(r, scheme, version)? {
            affected = true;
        }
        // The lowest fix above the installed version is the one to upgrade to.
        for f in r.events.iter().filter_map(|e| e.fixed.as_deref()) {
            if scheme.compare(version, f)? == Ordering::Less
                && match &fix {
                    Some(cur) => scheme.compare(f, cur)? == Ordering::Less,
                    None => true,
                }
            {
                fix = Some(f.to_string());
            }
        }
    }
    if !affected {
        return Ok(None);
    }
    let fix = match (fix, has_range) {
        (Some(f), _) => FixState::Fixed(f),
        (None, true) => match state_marker(aff) {
            Some("wont-fix") => FixState::WontFix,
            Some("unknown") => FixState::Unknown,
            _ => FixState::NotFixed,
        },
        (None, false) => FixState::Unknown,
    };
    Ok(Some(Match {
        fix,
        severity: severity(rec, aff),
    }))
}

/// Whether `v` falls in one of the intervals of a range. Events are sorted by version
/// (OSV does not promise an order), `introduced: 0` first, then walked as the spec says.
fn in_range(r: &Range, scheme: Scheme, v: &str) -> Result<bool, VersionError> {
    let mut ev: Vec<(&str, &Event)> = Vec::new();
    for e in &r.events {
        let at = e
            .introduced
            .as_deref()
            .or(e.fixed.as_deref())
            .or(e.last_affected.as_deref())
            .or(e.limit.as_deref());
        if let Some(at) = at.filter(|a| *a != "*") {
            ev.push((at, e));
        }
    }
    let mut err = None;
    ev.sort_by(|a, b| match (a.0, b.0) {
        ("0", "0") => Ordering::Equal,
        ("0", _) => Ordering::Less,
        (_, "0") => Ordering::Greater,
        (x, y) => scheme.compare(x, y).unwrap_or_else(|e| {
            err = Some(e);
            Ordering::Equal
        }),
    });
    if let Some(e) = err {
        return Err(e);
    }
    let mut vulnerable = false;
    for (at, e) in ev {
        let c = if at == "0" {
            Ordering::Greater
        } else {
            scheme.compare(v, at)?
        };
        if e.introduced.is_some() {
            if c != Ordering::Less {
                vulnerable = true;
            }
        } else if e.fixed.is_some() || e.limit.is_some() {
            if c != Ordering::Less {
                vulnerable = false;
            }
        } else if e.last_affected.is_some() && c == Ordering::Greater {
            vulnerable = false;
        }
    }
    Ok(vulnerable)
}

/// The fix state a distribution tracker recorded for an unfixed entry
/// (`database_specific.berth_fix_state`, written by `vulndb build`; docs/formats/vulndb.md).
fn state_marker(aff: &Affected) -> Option<&str> {
    aff.database_specific.as_ref()?.get(FIX_STATE_KEY)?.as_str()
}

/// Key of the fix-state marker in an affected entry's `database_specific`.
pub const FIX_STATE_KEY: &str = "berth_fix_state";

fn severity_field(v: &Option<serde_json::Value>, key: &str) -> Option<Severity> {
    v.as_ref()?.get(key)?.as_str().and_then(Severity::parse)
}

/// Severity per `docs/formats/scan.md`: per-package, record, then Debian urgency.
fn severity(rec: &Record, aff: &Affected) -> Severity {
    severity_field(&aff.database_specific, "severity")
        .or_else(|| severity_field(&rec.database_specific, "severity"))
        .or_else(|| severity_field(&aff.ecosystem_specific, "severity"))
        .or_else(|| severity_field(&aff.ecosystem_specific, "urgency"))
        .unwrap_or(Severity::Unknown)
}
