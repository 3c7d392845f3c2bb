//! "Who is exposed to CVE-X?": every release of an app scanned against the server's
//! vulnerability database, the releases an advisory affects, the first release that fixes it,
//! and the instances whose last reported version is affected (docs/formats/vendor-server.md).
//! Findings the server's VEX statements mark `not_affected`/`fixed` do not count, as for the
//! CVE gate; each release's scan is made once and kept (`release_scans`).

use crate::db::{self, Param};
use crate::model::InstanceInfo;
use crate::service::{SResult, Service, ServiceError};
use berth_scan::report::{Finding, ScanReport};
use serde::{Deserialize, Serialize};

/// The answer of `GET /api/v1/apps/{app}/exposure/{advisory}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exposure {
    pub app: String,
    pub advisory: String,
    /// Every release, in semver order.
    pub releases: Vec<ReleaseExposure>,
    /// The oldest release newer than every affected one that is not affected itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_fixed: Option<String>,
    /// Installs whose last reported version is affected.
    pub instances: Vec<ExposedInstance>,
}

/// One release and whether the advisory affects it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseExposure {
    pub version: String,
    pub affected: bool,
    /// Package databases berth could not read in this release (never taken as clean).
    pub not_scanned: usize,
    pub packages: Vec<ExposedPackage>,
    /// Findings of the advisory that the server's VEX statements mark `not_affected` or
    /// `fixed` for this release: they do not make it affected (as they do not block the CVE
    /// gate), and are listed with the statement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<ExposedPackage>,
}

/// An affected package of a release.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExposedPackage {
    pub image: String,
    pub package: String,
    pub version: String,
    /// The advisory id the finding is filed under (the question may have named an alias).
    pub advisory: String,
    pub fix: String,
    /// The VEX statement that covers the finding (`not_affected (justification), VEX <doc>
    /// statement N`), when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vex: Option<String>,
}

/// An install running an affected release.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExposedInstance {
    pub customer: String,
    pub cluster_id: String,
    pub app_version: String,
    pub last_seen: String,
}

/// The packages of one scan with a finding filed under `advisory` or one of its aliases:
/// (affected, suppressed by VEX). A finding a VEX statement marks `not_affected` or `fixed`
/// is not an exposure, exactly as it does not block the CVE gate.
pub fn affected_packages(
    report: &ScanReport,
    advisory: &str,
) -> (Vec<ExposedPackage>, Vec<ExposedPackage>) {
    let matches = |f: &Finding| f.ids().any(|id| id.eq_ignore_ascii_case(advisory));
    let (mut affected, mut suppressed) = (Vec::new(), Vec::new());
    for t in &report.targets {
        for f in t.findings.iter().filter(|f| matches(f)) {
            let p = ExposedPackage {
                image: t.name.clone(),
                package: f.package.clone(),
                version: f.version.clone(),
                advisory: f.advisory.clone(),
                fix: fix_text(&f.fix),
                vex: f.vex.as_ref().map(|v| v.describe()),
            };
            if f.suppressed() {
                suppressed.push(p);
            } else {
                affected.push(p);
            }
        }
    }
    (affected, suppressed)
}

/// A fix state in words (`fixed in 1.2.3`, `not fixed`, `won't fix`, `unknown`).
pub fn fix_text(f: &berth_scan::osv::FixState) -> String {
    use berth_scan::osv::FixState as F;
    match f {
        F::Fixed(v) => format!("fixed in {v}"),
        F::NotFixed => "not fixed".into(),
        F::WontFix => "won't fix".into(),
        F::Unknown => "unknown".into(),
    }
}

/// The oldest release after the newest affected one that is itself not affected
/// (`releases` in semver order).
pub fn first_fixed(releases: &[ReleaseExposure]) -> Option<String> {
    let last_affected = releases.iter().rposition(|r| r.affected)?;
    releases[last_affected + 1..]
        .iter()
        .find(|r| !r.affected)
        .map(|r| r.version.clone())
}

/// The instances whose version is one of the affected releases.
pub fn exposed_instances(
    instances: Vec<InstanceInfo>,
    releases: &[ReleaseExposure],
) -> Vec<ExposedInstance> {
    instances
        .into_iter()
        .filter(|i| {
            releases
                .iter()
                .any(|r| r.affected && r.version == i.app_version)
        })
        .map(|i| ExposedInstance {
            customer: i.customer,
            cluster_id: i.cluster_id,
            app_version: i.app_version,
            last_seen: i.last_seen,
        })
        .collect()
}

impl Service {
    /// Which releases of `app` an advisory affects, the first that fixes it, and who runs an
    /// affected one. Needs the server's vulnerability database (`--scan-db`).
    pub async fn exposure(&self, app: &str, advisory: &str) -> SResult<Exposure> {
        let Some(scanner) = self.scanner.clone() else {
            return Err(ServiceError::Conflict(
                "this server has no vulnerability database: start it with --scan-db DIR".into(),
            ));
        };
        let id_char = |c: char| c.is_ascii_alphanumeric() || "-_.:".contains(c);
        if advisory.is_empty() || advisory.len() > 128 || !advisory.chars().all(id_char) {
            return Err(ServiceError::Invalid(format!(
                "{advisory:?} is not an advisory id; name one such as CVE-2023-4911, DSA-5514-1 or GHSA-…"
            )));
        }
        self.require_app(app).await?;
        let rows = self
            .db
            .rows(
                "SELECT version, index_digest FROM releases WHERE app = $1",
                &[Param::Text(app)],
            )
            .await?;
        let mut versions: Vec<(semver::Version, String)> = rows
            .iter()
            .filter_map(|r| {
                let v = semver::Version::parse(&db::text(r, "version")).ok()?;
                Some((v, db::text(r, "index_digest")))
            })
            .collect();
        versions.sort_by(|a, b| a.0.cmp_precedence(&b.0).then_with(|| a.0.cmp(&b.0)));
        let mut releases = Vec::new();
        for (version, index) in versions {
            let report = self.release_scan(&scanner, &index).await?;
            let (packages, suppressed) = affected_packages(&report, advisory);
            releases.push(ReleaseExposure {
                version: version.to_string(),
                affected: !packages.is_empty(),
                not_scanned: report.targets.iter().map(|t| t.not_scanned.len()).sum(),
                packages,
                suppressed,
            });
        }
        let instances = exposed_instances(self.instances(app).await?, &releases);
        Ok(Exposure {
            app: app.into(),
            advisory: advisory.into(),
            first_fixed: first_fixed(&releases),
            releases,
            instances,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(version: &str, affected: bool) -> ReleaseExposure {
        ReleaseExposure {
            version: version.into(),
            affected,
            not_scanned: 0,
            packages: vec![],
            suppressed: vec![],
        }
    }

    #[test]
    fn the_first_fix_comes_after_the_newest_affected_release() {
        let rs = [rel("1.0.0", true), rel("1.1.0", false), rel("1.2.0", true)];
        assert_eq!(first_fixed(&rs), None, "the newest is affected: no fix yet");
        let rs = [
            rel("1.0.0", true),
            rel("1.1.0", false),
            rel("1.2.0", true),
            rel("1.3.0", false),
            rel("1.4.0", false),
        ];
        assert_eq!(first_fixed(&rs).as_deref(), Some("1.3.0"));
        assert_eq!(first_fixed(&[rel("1.0.0", false)]), None, "never affected");
    }
}
