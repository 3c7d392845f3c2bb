//! The CVE gate step of `berth demo`: a release whose image carries a glibc that
//! DSA-5514-1 ("Looney Tunables", CVE-2023-4911) fixes is refused by the scan gate, the image
//! is patched, and the release passes. The database is built and signed here from the real
//! advisory record kept in berth-scan's test data.

use anyhow::Result;
use berth_oci::{Layout, keys};
use berth_scan::image::{self, LayerCache, Limits};
use berth_scan::policy::{self, Policy};
use berth_scan::{report, sources, vulndb};
use std::path::{Path, PathBuf};

const DSA_5514_1: &[u8] = include_bytes!("../../../berth-scan/tests/data/osv/DSA-5514-1.json");
const OS_RELEASE: &[u8] =
    b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n";

fn status(version: &str) -> String {
    format!(
        "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: {version}\n\n"
    )
}

/// A release layout holding one image `web:TAG` with that libc6 version.
fn release(dir: &Path, tag: &str, libc: &str) -> Result<PathBuf> {
    let out = dir.join(format!("release-{tag}"));
    let layout = Layout::create(&out)?;
    let st = status(libc);
    image::write_files_image(
        &layout,
        &[
            ("etc/os-release", OS_RELEASE),
            ("var/lib/dpkg/status", st.as_bytes()),
        ],
        &format!("web:{tag}"),
    )?;
    Ok(out)
}

/// Run the step; returns what to show.
pub async fn demo_step(work: PathBuf) -> Result<String> {
    let dir = work.join("scan");
    std::fs::create_dir_all(&dir)?;
    let (key_path, pub_path) = keys::generate(&dir.join("vendor"))?;
    let key = keys::read_signing_key(&key_path)?;
    let rec = sources::osv_record(DSA_5514_1, "DSA-5514-1.json")?;
    let db_path = dir.join("vuln.db");
    let sources = vec![vulndb::SourceInfo {
        kind: "osv".into(),
        name: "DSA-5514-1.json".into(),
        records: 1,
    }];
    vulndb::write(&db_path, &[rec], sources, &key, jiff::Timestamp::now())?;
    let (_, db) = vulndb::open(&db_path, &keys::read_verifying_key(&pub_path)?)?;
    let mut out =
        String::from("vulnerability database built and signed (1 advisory), verified before use\n");
    let pol = Policy::default();
    for (tag, libc) in [("1.0.0", "2.36-9+deb12u1"), ("1.0.1", "2.36-9+deb12u4")] {
        let rel = release(&dir, tag, libc)?;
        let rep = report::scan_layout(&rel, &db, Some(&LayerCache::new()), &Limits::default())?;
        let d = policy::evaluate(&rep, &pol, policy::today_utc());
        if d.pass() {
            out.push_str(&format!(
                "release {tag} (libc6 {libc}, patched): 0 blocking findings; the gate passes\n"
            ));
        } else {
            out.push_str(&format!(
                "release {tag} (libc6 {libc}): refused by the gate, {} blocking:\n",
                d.blocking.len()
            ));
            for b in &d.blocking {
                // Without the digest: it changes every run.
                let b = match (b.split_once('@'), b.split_once(": ")) {
                    (Some((name, _)), Some((_, rest))) => format!("{name}: {rest}"),
                    _ => b.clone(),
                };
                out.push_str(&format!("    {b}\n"));
            }
        }
    }
    Ok(out.trim_end().to_string())
}
