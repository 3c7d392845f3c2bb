//! The CVE release gate: a release is promoted only when its images pass the scan policy
//! ("no release while a CVE with an available fix is unpatched"), judged by berth-scan
//! against an offline OSV database.
//!
//! A release's scan depends only on its bytes (releases are immutable), the advisory
//! database and berth-scan's catalogers, so it is made once per (release, [`ScanGate::key`])
//! and kept: in memory here, and in the `release_scans` table by the service (see
//! `Service::release_scan`), so the gate and exposure answers survive restarts and servers
//! sharing one PostgreSQL scan each release once between them. What is kept is the scan
//! *before* VEX: the policy's VEX statements (and its allowlist) are applied each time the
//! scan is read, so a new VEX document takes effect on a restart without a rescan.

use crate::service::{GateInput, ReleaseGate};
use berth_scan::Policy;
use berth_scan::image::Limits;
use berth_scan::osv::VulnDb;
use berth_scan::report::ScanReport;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A release's scan as made, and whether the database has it.
struct Kept {
    raw: Arc<ScanReport>,
    saved: bool,
}

/// Scans every image of a release and applies the policy.
pub struct ScanGate {
    db: VulnDb,
    key: String,
    policy: Policy,
    vex: berth_scan::vex::VexSet,
    scans: Mutex<HashMap<String, Kept>>,
    made: AtomicUsize,
}

/// Identifies what a scan depends on besides the release: berth-scan's revision and every
/// advisory file of the database directory (path and content), as `sha256:<hex>`.
pub fn database_key(db_dir: &Path) -> Result<String, String> {
    let mut files = Vec::new();
    for e in walkdir::WalkDir::new(db_dir).follow_links(false) {
        let e = e.map_err(|e| format!("vulnerability database {}: {e}", db_dir.display()))?;
        if e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "json") {
            files.push(e.into_path());
        }
    }
    files.sort();
    let mut h = Sha256::new();
    h.update(berth_scan::report::SCANNER_REVISION.as_bytes());
    h.update(b"\n");
    for f in files {
        let rel = f.strip_prefix(db_dir).unwrap_or(&f);
        let bytes = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        h.update(rel.to_string_lossy().as_bytes());
        h.update(b"\0");
        h.update(Sha256::digest(&bytes));
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

impl ScanGate {
    /// Load the OSV records of `db_dir` and the policy file (the default policy when absent)
    /// with the OpenVEX documents it names.
    pub fn load(db_dir: &Path, policy_file: Option<&Path>) -> Result<ScanGate, String> {
        let db = VulnDb::load_dir(db_dir)
            .map_err(|e| format!("vulnerability database {}: {e}", db_dir.display()))?;
        let key = database_key(db_dir)?;
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
            key,
            policy,
            vex,
            scans: Mutex::default(),
            made: AtomicUsize::new(0),
        })
    }

    /// The records loaded.
    pub fn records(&self) -> usize {
        self.db.len()
    }

    /// What the scans depend on besides the release ([`database_key`]): the `scanner`
    /// column of the `release_scans` table.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// How many scans this process made (not read from memory or the database).
    pub fn scans_made(&self) -> usize {
        self.made.load(Ordering::Relaxed)
    }

    /// The policy's VEX statements applied to a kept scan.
    fn judged(&self, raw: &ScanReport) -> Arc<ScanReport> {
        let mut r = raw.clone();
        self.vex.apply(&mut r);
        Arc::new(r)
    }

    /// The scan of the release whose index is `index` (VEX applied), when it is in memory.
    pub fn scanned(&self, index: &str) -> Option<Arc<ScanReport>> {
        let raw = self
            .scans
            .lock()
            .expect("scan cache")
            .get(index)?
            .raw
            .clone();
        Some(self.judged(&raw))
    }

    /// Keep a scan read from the database.
    pub fn remember(&self, index: &str, raw: ScanReport) {
        self.scans.lock().expect("scan cache").insert(
            index.to_string(),
            Kept {
                raw: Arc::new(raw),
                saved: true,
            },
        );
    }

    /// A scan made here that the database does not have yet.
    pub fn unsaved(&self, index: &str) -> Option<Arc<ScanReport>> {
        let m = self.scans.lock().expect("scan cache");
        m.get(index).filter(|k| !k.saved).map(|k| k.raw.clone())
    }

    /// Note that the database has the scan of `index`.
    pub fn mark_saved(&self, index: &str) {
        if let Some(k) = self.scans.lock().expect("scan cache").get_mut(index) {
            k.saved = true;
        }
    }

    /// Every image of the release whose index is `index`, read from the OCI layout
    /// `layout`: scanned the first time, remembered after. VEX applied.
    pub fn scan(&self, index: &str, layout: &Path) -> Result<Arc<ScanReport>, String> {
        if let Some(r) = self.scanned(index) {
            return Ok(r);
        }
        let raw = berth_scan::report::scan_layout(layout, &self.db, None, &Limits::default())
            .map_err(|e| format!("{} could not be scanned: {e}", layout.display()))?;
        self.made.fetch_add(1, Ordering::Relaxed);
        let judged = self.judged(&raw);
        self.scans.lock().expect("scan cache").insert(
            index.to_string(),
            Kept {
                raw: Arc::new(raw),
                saved: false,
            },
        );
        Ok(judged)
    }
}

impl ScanGate {
    /// What in a judged scan blocks a promotion under this server's policy (one line each).
    pub fn blocking(&self, report: &ScanReport) -> Vec<String> {
        berth_scan::gate_reasons(report, &self.policy)
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
