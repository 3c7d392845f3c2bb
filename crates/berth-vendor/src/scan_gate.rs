//! The CVE release gate: a release is promoted only when its images pass the scan policy
//! ("no release while a CVE with an available fix is unpatched"), judged by berth-scan
//! against an offline OSV database.

use crate::service::{GateInput, ReleaseGate};
use berth_scan::Policy;
use berth_scan::image::Limits;
use berth_scan::osv::VulnDb;
use std::path::Path;

/// Scans every image of a release and applies the policy.
pub struct ScanGate {
    db: VulnDb,
    policy: Policy,
}

impl ScanGate {
    /// Load the OSV records of `db_dir` and the policy file (the default policy when absent).
    pub fn load(db_dir: &Path, policy_file: Option<&Path>) -> Result<ScanGate, String> {
        let db = VulnDb::load_dir(db_dir)
            .map_err(|e| format!("vulnerability database {}: {e}", db_dir.display()))?;
        let policy = match policy_file {
            None => Policy::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("scan policy {}: {e}", p.display()))?;
                Policy::parse(&text, &p.display().to_string()).map_err(|e| e.to_string())?
            }
        };
        Ok(ScanGate { db, policy })
    }

    /// The records loaded.
    pub fn records(&self) -> usize {
        self.db.len()
    }

    /// Every image of the release in the OCI layout `layout`, scanned.
    pub fn scan(&self, layout: &Path) -> Result<berth_scan::report::ScanReport, String> {
        berth_scan::report::scan_layout(layout, &self.db, None, &Limits::default())
            .map_err(|e| format!("{} could not be scanned: {e}", layout.display()))
    }
}

impl ReleaseGate for ScanGate {
    fn name(&self) -> &str {
        "cve-scan"
    }

    fn check(&self, release: &GateInput) -> Vec<String> {
        // A release that cannot be scanned is not promoted: the gate fails closed.
        match berth_scan::report::scan_layout(&release.layout, &self.db, None, &Limits::default()) {
            Ok(report) => berth_scan::gate_reasons(&report, &self.policy),
            Err(e) => vec![format!(
                "{} {} could not be scanned ({e}); nothing is promoted unscanned",
                release.app, release.version
            )],
        }
    }
}
