//! OSV range semantics, each case a record written inline (the OSV schema's own examples
//! of multiple intervals, `last_affected`, unsorted events, `versions`-only entries).

use berth_scan::catalog::Distro;
use berth_scan::osv::{self, FixState, Severity, VulnDb};
use berth_scan::version::Scheme;

fn db(json: &str) -> VulnDb {
    let mut db = VulnDb::new();
    db.add_json(json.as_bytes(), "inline")
        .unwrap_or_else(|e| panic!("{e}"));
    db
}

fn fix(db: &VulnDb, eco: &str, name: &str, scheme: Scheme, v: &str) -> Option<FixState> {
    let (rec, aff) = db.lookup(eco, name)[0];
    osv::evaluate(rec, aff, scheme, v)
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|m| m.fix)
}

#[test]
fn two_intervals_unsorted_events_lowest_fix_above() {
    let d = db(
        r#"{"id":"X-1","affected":[{"package":{"ecosystem":"PyPI","name":"Foo_Bar"},
        "ranges":[{"type":"ECOSYSTEM","events":[
          {"fixed":"2.0.5"},{"introduced":"1.0"},{"introduced":"2.0"},{"fixed":"1.4.2"}]}]}]}"#,
    );
    let f = |v| fix(&d, "PyPI", "foo-bar", Scheme::Pep440, v);
    assert_eq!(f("0.9"), None);
    assert_eq!(f("1.0"), Some(FixState::Fixed("1.4.2".into())));
    assert_eq!(f("1.4.1"), Some(FixState::Fixed("1.4.2".into())));
    assert_eq!(f("1.4.2"), None);
    assert_eq!(f("1.9"), None);
    assert_eq!(f("2.0.1"), Some(FixState::Fixed("2.0.5".into())));
    assert_eq!(f("2.0.5"), None);
}

#[test]
fn last_affected_and_open_ranges() {
    let d = db(
        r#"{"id":"X-2","affected":[{"package":{"ecosystem":"Alpine:v3.19","name":"zlib"},
        "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"last_affected":"1.3-r2"}]}]}]}"#,
    );
    let f = |v| fix(&d, "Alpine:v3.19", "zlib", Scheme::Apk, v);
    assert_eq!(f("1.3-r2"), Some(FixState::NotFixed));
    assert_eq!(f("1.2.13-r0"), Some(FixState::NotFixed));
    assert_eq!(f("1.3.1-r0"), None);
}

#[test]
fn versions_only_is_unknown_and_withdrawn_never_matches() {
    let d = db(
        r#"{"id":"X-3","affected":[{"package":{"ecosystem":"Debian:12","name":"foo"},
        "versions":["1.0-1","1.0-2"],"database_specific":{"severity":"HIGH"}}]}"#,
    );
    let (rec, aff) = d.lookup("Debian:12", "foo")[0];
    let m = osv::evaluate(rec, aff, Scheme::Deb, "1.0-2").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.as_ref().map(|m| &m.fix), Some(&FixState::Unknown));
    assert_eq!(m.map(|m| m.severity), Some(Severity::High));
    assert_eq!(fix(&d, "Debian:12", "foo", Scheme::Deb, "1.0-3"), None);
    let w = db(
        r#"{"id":"X-4","withdrawn":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"foo"},
        "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#,
    );
    assert_eq!(fix(&w, "Debian:12", "foo", Scheme::Deb, "1.0-1"), None);
}

#[test]
fn unreadable_versions_are_errors_not_clean() {
    let d = db(
        r#"{"id":"X-5","affected":[{"package":{"ecosystem":"Debian:12","name":"foo"},
        "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0-1"}]}]}]}"#,
    );
    let (rec, aff) = d.lookup("Debian:12", "foo")[0];
    assert!(osv::evaluate(rec, aff, Scheme::Deb, "not a version").is_err());
}

#[test]
fn distro_release_to_osv_ecosystem() {
    let e = |id: &str, v: &str| {
        Distro {
            id: id.into(),
            version_id: v.into(),
        }
        .osv_ecosystems()
        .map(|e| e.label())
    };
    assert_eq!(e("debian", "12"), Some("Debian:12".into()));
    assert_eq!(e("debian", "11.9"), Some("Debian:11".into()));
    assert_eq!(e("debian", ""), None, "testing/sid have no release number");
    assert_eq!(e("alpine", "3.19.1"), Some("Alpine:v3.19".into()));
    assert_eq!(e("alpine", "edge"), None);
    assert_eq!(
        e("rhel", "9.4"),
        Some("Red Hat:enterprise_linux:9::*".into())
    );
    assert_eq!(
        e("centos", "8"),
        Some("Red Hat:enterprise_linux:8::*".into())
    );
    assert_eq!(e("almalinux", "9.2"), Some("AlmaLinux:9".into()));
    assert_eq!(e("rocky", "8.9"), Some("Rocky Linux:8".into()));
    assert_eq!(
        e("opensuse-leap", "15.5"),
        Some("openSUSE:Leap 15.5".into())
    );
    assert_eq!(
        e("sles", "15.5"),
        Some("SUSE:Linux Enterprise * 15 SP5".into())
    );
    assert_eq!(e("sles", "15"), Some("SUSE:Linux Enterprise * 15".into()));
    assert_eq!(e("fedora", "40"), None, "no OSV data for Fedora");
    assert_eq!(e("amzn", "2023"), None, "ALAS is not OSV");
}

#[test]
fn pod_images_prefer_the_reported_digest() {
    let pod = serde_json::json!({
        "spec": {
            "initContainers": [{"name": "migrate", "image": "reg.example:5000/app/migrate:1.0"}],
            "containers": [
                {"name": "web", "image": "reg.example:5000/app/web:1.0"},
                {"name": "side", "image": "busybox:1.36"}
            ]
        },
        "status": {
            "containerStatuses": [
                {"name": "web", "imageID": "docker-pullable://app/web@sha256:aaaa"},
                {"name": "side", "imageID": ""}
            ]
        }
    });
    let got: Vec<(String, Option<String>)> = berth_scan::report::pod_images(&pod)
        .into_iter()
        .map(|i| (i.image, i.running))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "reg.example:5000/app/web:1.0".to_string(),
                Some("reg.example:5000/app/web@sha256:aaaa".to_string())
            ),
            ("busybox:1.36".to_string(), None),
            ("reg.example:5000/app/migrate:1.0".to_string(), None),
        ]
    );
}

#[test]
fn a_tracker_cve_named_by_an_advisory_is_one_finding() {
    use berth_scan::report::{Finding, dedup_findings};
    let f = |adv: &str, aliases: &[&str], fix: &str| Finding {
        package: "libc6".into(),
        version: "2.36-9+deb12u1".into(),
        matched_name: "glibc".into(),
        matched_version: "2.36-9+deb12u1".into(),
        ecosystem: "Debian:12".into(),
        advisory: adv.into(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        summary: None,
        severity: Severity::High,
        fix: FixState::Fixed(fix.into()),
        path: "var/lib/dpkg/status".into(),
        layer: None,
        vex: None,
    };
    let mut v = vec![
        f(
            "DSA-5514-1",
            &["CVE-2023-4527", "CVE-2023-4911"],
            "2.36-9+deb12u3",
        ),
        f("CVE-2023-4911", &[], "2.36-9+deb12u3"),
        // The tracker knows a later fix for this one: both stay.
        f("CVE-2023-4527", &[], "2.36-9+deb12u4"),
    ];
    dedup_findings(&mut v);
    let ids: Vec<&str> = v.iter().map(|f| f.advisory.as_str()).collect();
    assert_eq!(ids, vec!["DSA-5514-1", "CVE-2023-4527"]);
}
