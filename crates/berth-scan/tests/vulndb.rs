//! The signed vulnerability database and its sources, over real public data kept in
//! tests/data (see tests/data/README.md): the Debian Security Tracker JSON sample of
//! anchore/vunnel's fixtures, Alpine's secdb v3.10 main, the OSV records of tests/data/osv.
//! Also the SBOM formats against their published JSON schemas.

use berth_oci::keys::SigningKey;
use berth_scan::osv::{FixState, Severity, VulnDb};
use berth_scan::report::{self, TargetReport};
use berth_scan::version::Scheme;
use berth_scan::{Error, catalog, osv, sarif, sbom, sources, vulndb};
use std::path::{Path, PathBuf};

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

fn read(p: &str) -> Vec<u8> {
    std::fs::read(data(p)).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn fix_of(db: &VulnDb, eco: &str, name: &str, scheme: Scheme, v: &str) -> Vec<(String, FixState)> {
    let mut out: Vec<(String, FixState)> = db
        .lookup(eco, name)
        .into_iter()
        .filter_map(|(r, a)| {
            osv::evaluate(r, a, scheme, v)
                .unwrap_or_else(|e| panic!("{e}"))
                .map(|m| (r.id.clone(), m.fix))
        })
        .collect();
    out.sort();
    out
}

fn db_of(records: Vec<osv::Record>) -> VulnDb {
    let mut db = VulnDb::new();
    for r in records {
        db.add(r);
    }
    db
}

#[test]
fn debian_tracker_states_per_release() {
    let recs = sources::debian_tracker(&read("tracker/debian.json"), "debian.json").unwrap();
    let db = db_of(recs);
    // chromium CVE-2022-0456: fixed in bookworm and bullseye (a backport version), open
    // (end-of-life) in buster.
    assert_eq!(
        fix_of(&db, "Debian:12", "chromium", Scheme::Deb, "97.0.4692.99-1"),
        vec![(
            "CVE-2022-0456".into(),
            FixState::Fixed("98.0.4758.80-1".into())
        )]
    );
    assert!(fix_of(&db, "Debian:12", "chromium", Scheme::Deb, "98.0.4758.102-1").is_empty());
    assert_eq!(
        fix_of(&db, "Debian:11", "chromium", Scheme::Deb, "90.0.4430.212-1"),
        vec![(
            "CVE-2022-0456".into(),
            FixState::Fixed("98.0.4758.80-1~deb11u1".into())
        )]
    );
    assert_eq!(
        fix_of(
            &db,
            "Debian:10",
            "chromium",
            Scheme::Deb,
            "90.0.4430.212-1~deb10u1"
        ),
        vec![("CVE-2022-0456".into(), FixState::NotFixed)]
    );
    // fixed_version "0": the release never had the bug.
    assert!(
        fix_of(&db, "Debian:10", "prototypejs", Scheme::Deb, "1.0-1")
            .iter()
            .all(|(id, _)| id != "CVE-2007-2383")
    );
    // urgency "high**" is read as high.
    let (r, a) = db
        .lookup("Debian:9", "prototypejs")
        .into_iter()
        .find(|(r, _)| r.id == "CVE-2008-7220")
        .unwrap();
    let m = osv::evaluate(r, a, Scheme::Deb, "1.6.0.1-1")
        .unwrap()
        .unwrap();
    assert_eq!(m.severity, Severity::High);
    // sid has no release number: no Debian:sid entries.
    assert!(db.lookup("Debian:sid", "chromium").is_empty());
}

#[test]
fn debian_tracker_wont_fix_and_undetermined() {
    // Field names and values as the tracker's JSON generator writes them.
    let doc = br#"{"openssl": {
      "CVE-2024-4741": {"releases": {
        "bookworm": {"status": "open", "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": "ignored"},
        "trixie": {"status": "open", "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": "postponed"},
        "bullseye": {"status": "undetermined", "urgency": "not yet assigned"}}},
      "CVE-2024-0001": {"releases": {"bookworm": {"status": "gone"}}}}}"#;
    let err = sources::debian_tracker(doc, "t.json")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("openssl CVE-2024-0001") && err.contains("\"gone\""),
        "{err}"
    );
    let doc = String::from_utf8_lossy(doc).replace("gone", "resolved");
    let db = db_of(sources::debian_tracker(doc.as_bytes(), "t.json").unwrap());
    let f = |eco| fix_of(&db, eco, "openssl", Scheme::Deb, "3.0.13-1~deb12u1");
    assert_eq!(
        f("Debian:12"),
        vec![("CVE-2024-4741".into(), FixState::WontFix)]
    );
    assert_eq!(
        f("Debian:13"),
        vec![("CVE-2024-4741".into(), FixState::NotFixed)]
    );
    assert_eq!(
        f("Debian:11"),
        vec![("CVE-2024-4741".into(), FixState::Unknown)]
    );
}

#[test]
fn alpine_secdb_fixes_by_origin_and_release() {
    let recs = sources::alpine_secdb(&read("secdb/v3.10-main.yaml"), "v3.10-main.yaml").unwrap();
    assert!(recs.len() > 300, "{} records", recs.len());
    let db = db_of(recs);
    // busybox lists CVE-2019-5747 under two fixes; the lowest above the installed one wins.
    let f = fix_of(&db, "Alpine:v3.10", "busybox", Scheme::Apk, "1.29.3-r9");
    assert!(
        f.contains(&("CVE-2019-5747".into(), FixState::Fixed("1.29.3-r10".into()))),
        "{f:?}"
    );
    assert!(
        f.contains(&(
            "CVE-2018-20679".into(),
            FixState::Fixed("1.29.3-r10".into())
        )),
        "{f:?}"
    );
    let f = fix_of(&db, "Alpine:v3.10", "busybox", Scheme::Apk, "1.30.1-r1");
    assert_eq!(
        f,
        vec![("CVE-2019-5747".into(), FixState::Fixed("1.30.1-r2".into()))]
    );
    assert!(fix_of(&db, "Alpine:v3.10", "busybox", Scheme::Apk, "1.30.1-r2").is_empty());
    assert!(db.lookup("Alpine:v3.11", "busybox").is_empty());
    // v3.3/community.yaml of alpine-secdb: `packages:` with nothing under it.
    assert!(
        sources::alpine_secdb(b"distroversion: v3.3\npackages:\n", "c.yaml")
            .unwrap()
            .is_empty()
    );
    let bad = sources::alpine_secdb(b"distroversion: edge\npackages: []\n", "x.yaml").unwrap_err();
    assert!(bad.to_string().contains("x.yaml: distroversion"), "{bad}");
}

fn build_db(dir: &Path, k: &SigningKey) -> (PathBuf, vulndb::Header) {
    let osv = sources::osv_path(&data("osv")).unwrap();
    let mut native = sources::debian_tracker(&read("tracker/debian.json"), "debian.json").unwrap();
    native.extend(sources::alpine_secdb(&read("secdb/v3.10-main.yaml"), "m").unwrap());
    let n_osv = osv.len();
    let recs = vulndb::merge(osv, native);
    assert!(recs.len() > n_osv);
    let out = dir.join("vuln.db");
    let built = "2026-11-01T00:00:00Z".parse().unwrap();
    let h = vulndb::write(&out, &recs, vec![], k, built).unwrap();
    (out, h)
}

#[test]
fn signed_database_round_trips_and_refuses_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(7);
    let (path, h) = build_db(dir.path(), &k);
    let (h2, db) = vulndb::open(&path, &k.verifying_key()).unwrap();
    assert_eq!(h, h2);
    assert_eq!(db.len() as u64, h.records);
    assert!(!db.lookup("Debian:12", "glibc").is_empty());
    // Maven records (GitHub's Log4Shell advisory) keep their three affected ranges through
    // the signed file, and decide 2.14.1 as the record says.
    let log4j = db.lookup("Maven", "org.apache.logging.log4j:log4j-core");
    assert_eq!(log4j.len(), 3);
    let fixes: Vec<_> = log4j
        .iter()
        .filter_map(|(r, a)| osv::evaluate(r, a, Scheme::Maven, "2.14.1").unwrap())
        .map(|m| m.fix)
        .collect();
    assert_eq!(fixes, vec![FixState::Fixed("2.15.0".into())]);
    assert_eq!(
        h.age_days("2026-11-11T12:00:00Z".parse().unwrap()).unwrap(),
        10
    );

    // Another key: refused by the signature.
    let e = vulndb::open(&path, &key(8).verifying_key())
        .unwrap_err()
        .to_string();
    assert!(e.contains("signature does not verify"), "{e}");

    let bytes = std::fs::read(&path).unwrap();
    let write_back = |b: &[u8]| {
        let p = dir.path().join("bad.db");
        std::fs::write(&p, b).unwrap();
        vulndb::open(&p, &k.verifying_key())
            .unwrap_err()
            .to_string()
    };
    // A flipped payload byte: refused by the checksum.
    let mut b = bytes.clone();
    let last = b.len() - 10;
    b[last] ^= 1;
    assert!(write_back(&b).contains("checksum"), "{}", write_back(&b));
    // A header byte: refused by the signature.
    let mut b = bytes.clone();
    b[20] ^= 1;
    assert!(write_back(&b).contains("signature"));
    // Truncated, or no magic (an unsigned file of records).
    assert!(write_back(&bytes[..bytes.len() - 1]).contains("truncated or corrupt"));
    assert!(write_back(b"{\"id\": \"x\"}\n").contains("not a berth vulnerability database"));
    let mut b = bytes.clone();
    b[8] = 9;
    assert!(write_back(&b).contains("format version 9"));
}

#[test]
fn merge_prefers_the_tracker_over_the_distribution_osv_export() {
    let export: osv::Record =
        serde_json::from_slice(&read("osv/DEBIAN-CVE-2024-58382.json")).unwrap();
    let pkg = export.affected[0].package.clone().unwrap();
    let cve = export
        .upstream
        .iter()
        .chain(&export.aliases)
        .find(|a| a.starts_with("CVE-"))
        .cloned()
        .unwrap();
    let tracker = format!(
        r#"{{"{}": {{"{cve}": {{"releases": {{"bookworm": {{"status": "open", "urgency": "low"}}}}}}}}}}"#,
        pkg.name
    );
    let native = sources::debian_tracker(tracker.as_bytes(), "t").unwrap();
    let merged = vulndb::merge(vec![export.clone(), export], native);
    let ids: Vec<&str> = merged.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![cve.as_str()],
        "the export record is replaced, duplicates dropped"
    );
}

/// GitHub's Log4Shell record names log4j-core in three entries, one per release line: all
/// three stay; the same record read again (a second source) adds nothing.
#[test]
fn merge_keeps_every_entry_of_a_record_and_drops_a_second_copy() {
    let rec: osv::Record = serde_json::from_slice(&read("osv/GHSA-jfh8-c2jp-5v3q.json")).unwrap();
    assert_eq!(rec.affected.len(), 3);
    let merged = vulndb::merge(vec![rec.clone(), rec], Vec::new());
    assert_eq!(merged.len(), 1, "the second copy is dropped");
    let fixes: Vec<&str> = merged[0]
        .affected
        .iter()
        .flat_map(|a| &a.ranges)
        .flat_map(|r| &r.events)
        .filter_map(|e| e.fixed.as_deref())
        .collect();
    assert_eq!(fixes, vec!["2.15.0", "2.3.1", "2.12.2"]);
}

#[test]
fn osv_zip_archives_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("all.zip");
    // osv.dev's all.zip is a plain deflated ZIP; python's zipfile writes the same kind.
    let st = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys,zipfile,glob,os\nz=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED)\nfor p in sorted(glob.glob(sys.argv[2]+'/*.json')): z.write(p, os.path.basename(p))\nz.writestr('README.txt','x')\nz.close()",
        ])
        .arg(&zip)
        .arg(data("osv"))
        .status()
        .expect("python3 runs");
    assert!(st.success());
    let from_zip = sources::osv_path(&zip).unwrap();
    let from_dir = sources::osv_path(&data("osv")).unwrap();
    let ids = |v: &[osv::Record]| v.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&from_zip), ids(&from_dir));
    let mut bytes = std::fs::read(&zip).unwrap();
    bytes.truncate(bytes.len() - 30);
    std::fs::write(&zip, &bytes).unwrap();
    let e = sources::osv_path(&zip).unwrap_err();
    assert!(matches!(e, Error::Invalid { .. }), "{e}");
}

/// This machine's real dpkg database and os-release, plus a vulnerable requests dist-info.
fn machine_target(dir: &Path) -> TargetReport {
    let root = dir.join("root");
    for (p, src) in [
        ("var/lib/dpkg/status", "/var/lib/dpkg/status"),
        ("etc/os-release", "/etc/os-release"),
    ] {
        std::fs::create_dir_all(root.join(p).parent().unwrap()).unwrap();
        std::fs::copy(src, root.join(p)).unwrap_or_else(|e| panic!("{src}: {e}"));
    }
    let di = root.join("usr/local/lib/python3.11/site-packages/requests-2.30.0.dist-info");
    std::fs::create_dir_all(&di).unwrap();
    std::fs::write(
        di.join("METADATA"),
        "Metadata-Version: 2.1\nName: requests\nVersion: 2.30.0\n\n",
    )
    .unwrap();
    let db = VulnDb::load_dir(&data("osv")).unwrap();
    let mut rep = report::scan_rootfs(&root, &db, &Default::default()).unwrap();
    rep.targets.remove(0)
}

fn validator(schema_file: &str, extra: &[(&str, &str)]) -> jsonschema::Validator {
    let load = |f: &str| -> serde_json::Value {
        serde_json::from_slice(&read(&format!("schemas/{f}"))).unwrap()
    };
    let mut reg = jsonschema::Registry::new();
    for (uri, f) in extra {
        reg = reg.add(*uri, load(f)).unwrap();
    }
    let reg = reg.prepare().unwrap();
    jsonschema::options()
        .with_registry(&reg)
        .build(&load(schema_file))
        .unwrap_or_else(|e| panic!("{schema_file}: {e}"))
}

fn assert_valid(v: &jsonschema::Validator, doc: &serde_json::Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what} is not valid: {errors:#?}");
}

#[test]
fn sboms_validate_against_the_published_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let t = machine_target(dir.path());
    assert!(t.packages.len() > 50, "the machine's packages are listed");
    assert!(
        t.findings
            .iter()
            .any(|f| f.advisory == "GHSA-j8r2-6x86-q33q"),
        "{:?}",
        t.findings
    );

    let cdx = validator(
        "bom-1.6.schema.json",
        &[
            (
                "http://cyclonedx.org/schema/spdx.schema.json",
                "spdx.schema.json",
            ),
            (
                "http://cyclonedx.org/schema/jsf-0.82.schema.json",
                "jsf-0.82.schema.json",
            ),
        ],
    );
    let bom = sbom::cyclonedx(&t, true);
    assert_valid(&cdx, &bom, "CycloneDX with vulnerabilities");
    assert_valid(&cdx, &sbom::cyclonedx(&t, false), "CycloneDX SBOM");
    let vulns = bom["vulnerabilities"].as_array().unwrap();
    let v = vulns
        .iter()
        .find(|v| v["id"] == "GHSA-j8r2-6x86-q33q")
        .unwrap();
    assert_eq!(v["affects"][0]["ref"], "pkg:pypi/requests@2.30.0");
    // A VEX suppression is CycloneDX `analysis` (valid against the schema too).
    let mut rep = berth_scan::ScanReport {
        targets: vec![t.clone()],
    };
    let mut vex = berth_scan::vex::VexSet::default();
    vex.add_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vex/web.openvex.json"))
        .unwrap();
    vex.apply(&mut rep);
    let vexed = sbom::cyclonedx(&rep.targets[0], true);
    assert_valid(&cdx, &vexed, "CycloneDX with VEX analysis");
    let a = &vexed["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "GHSA-j8r2-6x86-q33q")
        .unwrap()["analysis"];
    assert_eq!(a["state"], "not_affected");
    assert!(
        a.get("justification").is_none(),
        "no CycloneDX label for it: {a}"
    );
    assert!(
        a["detail"]
            .as_str()
            .unwrap()
            .contains("vex-2026-001 statement 1"),
        "{a}"
    );
    // The schema must be able to fail: a wrong severity word is refused.
    let mut broken = bom.clone();
    broken["vulnerabilities"][0]["ratings"][0]["severity"] = "urgent".into();
    assert!(!cdx.is_valid(&broken));

    let spdx_v = validator("spdx-2.3.schema.json", &[]);
    let doc = sbom::spdx(&t, "2026-12-05T00:00:00Z");
    assert_valid(&spdx_v, &doc, "SPDX");
    assert_eq!(
        doc["packages"].as_array().unwrap().len(),
        t.packages.len() + 1
    );
    let mut broken = doc.clone();
    broken["packages"][1]
        .as_object_mut()
        .unwrap()
        .remove("downloadLocation");
    assert!(!spdx_v.is_valid(&broken));
    // Same input, same bytes.
    assert_eq!(doc, sbom::spdx(&t, "2026-12-05T00:00:00Z"));

    let log = sarif::sarif(&report::ScanReport {
        targets: vec![t.clone()],
    });
    let r = &log["runs"][0]["results"];
    assert!(
        r.as_array()
            .unwrap()
            .iter()
            .any(|r| r["ruleId"] == "GHSA-j8r2-6x86-q33q")
    );
    // rpm packages (licenses, epoch qualifiers) are valid too.
    let rpm_root = dir.path().join("rpm-root");
    std::fs::create_dir_all(rpm_root.join("var/lib/rpm")).unwrap();
    std::fs::create_dir_all(rpm_root.join("etc")).unwrap();
    let mut db = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&read("rpm/rpmdb.sqlite.gz")[..]),
        &mut db,
    )
    .unwrap();
    std::fs::write(rpm_root.join("var/lib/rpm/rpmdb.sqlite"), db).unwrap();
    std::fs::write(
        rpm_root.join("etc/os-release"),
        "ID=rocky\nVERSION_ID=9.3\n",
    )
    .unwrap();
    let osv = VulnDb::load_dir(&data("osv")).unwrap();
    let rt = report::scan_rootfs(&rpm_root, &osv, &Default::default())
        .unwrap()
        .targets
        .remove(0);
    assert_eq!(rt.packages.len(), 4);
    let bom = sbom::cyclonedx(&rt, true);
    assert_valid(&cdx, &bom, "CycloneDX of rpm packages");
    assert!(
        bom.to_string()
            .contains("pkg:rpm/rocky/openssl@3.0.7-24.el9?arch=noarch&distro=rocky-9.3&epoch=1"),
        "{bom}"
    );
    assert_valid(
        &spdx_v,
        &sbom::spdx(&rt, "2026-12-05T00:00:00Z"),
        "SPDX of rpm packages",
    );
    // A Maven finding (Log4Shell in a constructed log4j-core 2.14.1 jar, written by
    // Python's zipfile) is valid CycloneDX too, with its fix as the recommendation.
    let java_root = dir.path().join("java-root");
    let jar = java_root.join("opt/app/lib/log4j-core-2.14.1.jar");
    std::fs::create_dir_all(jar.parent().unwrap()).unwrap();
    let st = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1],'w')\nz.writestr('META-INF/MANIFEST.MF','Manifest-Version: 1.0\\n')\nz.writestr('META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties','groupId=org.apache.logging.log4j\\nartifactId=log4j-core\\nversion=2.14.1\\n')\nz.close()",
        ])
        .arg(&jar)
        .status()
        .unwrap();
    assert!(st.success());
    let jt = report::scan_rootfs(&java_root, &osv, &Default::default())
        .unwrap()
        .targets
        .remove(0);
    let bom = sbom::cyclonedx(&jt, true);
    assert_valid(&cdx, &bom, "CycloneDX of a Maven finding");
    let v = bom["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "GHSA-jfh8-c2jp-5v3q")
        .unwrap_or_else(|| panic!("{bom}"));
    assert_eq!(
        v["affects"][0]["ref"],
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
    );
    assert_eq!(v["ratings"][0]["severity"], "critical");
    assert!(
        v["recommendation"]
            .as_str()
            .unwrap_or_default()
            .contains("2.15.0"),
        "{v}"
    );
    assert_valid(
        &spdx_v,
        &sbom::spdx(&jt, "2026-12-05T00:00:00Z"),
        "SPDX of Maven packages",
    );
    let _ = catalog::PackageType::Python;
}
