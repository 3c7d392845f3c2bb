//! The CVE release gate: a release is promoted only when its images pass the scan policy
//! ("no release while a CVE with an available fix is unpatched"), judged by berth-scan
//! against an offline OSV database.

use crate::service::{GateInput, ReleaseGate};
use berth_scan::Policy;
use berth_scan::image::Limits;
use berth_scan::osv::VulnDb;
use berth_scan::report::ScanReport;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Scans every image of a release and applies the policy. Each release is scanned once
/// per process (by its index digest; releases are immutable), for the gate and for exposure
/// questions alike.
pub struct ScanGate {
    db: VulnDb,
    policy: Policy,
    vex: berth_scan::vex::VexSet,
    scans: Mutex<HashMap<String, Arc<ScanReport>>>,
}

impl ScanGate {
    /// Load the OSV records of `db_dir` and the policy file (the default policy when absent)
    /// with the OpenVEX documents it names.
    pub fn load(db_dir: &Path, policy_file: Option<&Path>) -> Result<ScanGate, String> {
        let db = VulnDb::load_dir(db_dir)
            .map_err(|e| format!("vulnerability database {}: {e}", db_dir.display()))?;
        let (policy, vex) = match policy_file {
            None => (Policy::default(), Default::default()),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("scan policy {}: {e}", p.display()))?;
                let policy =
                    Policy::parse(&text, &p.display().to_string()).map_err(|e| e.to_string())?;
                let vex = policy
                    .load_vex(Some(p), &[])
                    .map_err(|e| format!("scan policy {}: VEX: {e}", p.display()))?;
                (policy, vex)
            }
        };
        Ok(ScanGate {
            db,
            policy,
            vex,
            scans: Mutex::default(),
        })
    }

    /// The records loaded.
    pub fn records(&self) -> usize {
        self.db.len()
    }

    /// The scan of the release whose index is `index`, when it was made already.
    pub fn scanned(&self, index: &str) -> Option<Arc<ScanReport>> {
        self.scans.lock().expect("scan cache").get(index).cloned()
    }

    /// Every image of the release whose index is `index`, read from the OCI layout
    /// `layout`: scanned the first time, remembered after.
    pub fn scan(&self, index: &str, layout: &Path) -> Result<Arc<ScanReport>, String> {
        if let Some(r) = self.scanned(index) {
            return Ok(r);
        }
        let mut report =
            berth_scan::report::scan_layout(layout, &self.db, None, &Limits::default())
                .map_err(|e| format!("{} could not be scanned: {e}", layout.display()))?;
        self.vex.apply(&mut report);
        let report = Arc::new(report);
        self.scans
            .lock()
            .expect("scan cache")
            .insert(index.to_string(), report.clone());
        Ok(report)
    }
}

impl ReleaseGate for ScanGate {
    fn name(&self) -> &str {
        "cve-scan"
    }

    fn check(&self, release: &GateInput) -> Vec<String> {
        // A release that cannot be scanned is not promoted: the gate fails closed.
        match self.scan(&release.index, &release.layout) {
            Ok(report) => berth_scan::gate_reasons(&report, &self.policy),
            Err(e) => vec![format!(
                "{} {} could not be scanned ({e}); nothing is promoted unscanned",
                release.app, release.version
            )],
        }
    }
}
