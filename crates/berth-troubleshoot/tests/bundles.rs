//! Offline analysis of a checked-in support bundle laid out as troubleshoot writes it
//! (`tests/bundles/seeded-faults/support-bundle-<time>/`, logs symlinked into
//! `cluster-resources/pods/logs`), as a directory and packed as `.tar.gz`.

use berth_troubleshoot::analyze::{AnalyzeResult, BundleReader, Outcome, analyze_all};
use berth_troubleshoot::bundle;
use serde_json::Value;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bundles")
}

fn spec() -> (Vec<Value>, Vec<Value>) {
    let text = std::fs::read_to_string(dir().join("seeded-faults.yaml")).expect("spec file");
    let doc: Value = serde_saphyr::from_str(&text).expect("spec is YAML");
    assert_eq!(doc["kind"], "Analyzer");
    let list = |k: &str| doc["spec"][k].as_array().cloned().unwrap_or_default();
    (list("analyzers"), list("hostAnalyzers"))
}

fn find<'a>(rows: &'a [AnalyzeResult], check: &str) -> &'a AnalyzeResult {
    rows.iter()
        .find(|r| r.check == check)
        .unwrap_or_else(|| panic!("no row `{check}` in {rows:#?}"))
}

fn check_seeded_faults(reader: &dyn BundleReader) {
    let (analyzers, host) = spec();
    let rows = analyze_all(&analyzers, &host, reader);
    let expect = [
        (
            "Required Kubernetes Version",
            Outcome::Warn,
            "we recommend you update to 1.28.0",
        ),
        (
            "Kubernetes Distribution",
            Outcome::Pass,
            "K3S is a supported distribution",
        ),
        (
            "Container Runtime",
            Outcome::Pass,
            "containerd container runtime was found.",
        ),
        (
            "Must have at least 3 nodes in the cluster",
            Outcome::Fail,
            "at least 3 nodes",
        ),
        // Allocatable says there is room (troubleshoot passes) ...
        (
            "Total memory allocatable",
            Outcome::Pass,
            "enough allocatable memory",
        ),
        // ... but after the requests of running pods there is none: the pending pod agrees.
        (
            "Room for one more api replica",
            Outcome::Fail,
            "No schedulable node has 1.5 CPU, 3.0Gi memory",
        ),
        ("Required storage classes", Outcome::Pass, "All good"),
        (
            "Default StorageClass",
            Outcome::Fail,
            "No default StorageClass",
        ),
        (
            "Cert-manager is installed",
            Outcome::Fail,
            "cert-manager is not installed",
        ),
        (
            "api Status",
            Outcome::Fail,
            "does not have any ready replicas",
        ),
        (
            "Pod acme/api-6d8f-x2x9z status",
            Outcome::Fail,
            "CrashLoopBackOff state",
        ),
        (
            "Pod acme/api-6d8f-q7w2e status",
            Outcome::Fail,
            "acme/api-6d8f-q7w2e is pending",
        ),
        (
            "oom-detector",
            Outcome::Fail,
            "Container api from pod acme/api-6d8f-x2x9z has been OOMKilled",
        ),
        (
            "Pods that cannot be scheduled",
            Outcome::Fail,
            "api-6d8f-q7w2e cannot be scheduled: 0/2 nodes are available",
        ),
        (
            "Java heap exhausted",
            Outcome::Fail,
            "ran out of heap memory",
        ),
        ("Clock Skew", Outcome::Fail, "node-a (-252s)"),
        (
            "Disk Pressure",
            Outcome::Fail,
            "node node-a reports DiskPressure",
        ),
        (
            "Number of CPUs",
            Outcome::Warn,
            "4 CPU cores are recommended",
        ),
        (
            "Amount of Memory",
            Outcome::Warn,
            "8G of memory is recommended",
        ),
        (
            "Ephemeral Disk Usage /var/lib",
            Outcome::Fail,
            "more than 80% full",
        ),
        (
            "Kubernetes API TCP Port Status",
            Outcome::Fail,
            "already listening on port 6443",
        ),
        ("ntp-status", Outcome::Warn, "not yet synchronized"),
        ("Host OS Info", Outcome::Pass, "Ubuntu 20.04 or later"),
        (
            "Network Interface Names",
            Outcome::Warn,
            "uplink0 on this host",
        ),
        (
            "MTU",
            Outcome::Fail,
            "flannel.1 on this host has MTU 1450 but the physical MTU is 1400",
        ),
    ];
    for (check, outcome, text) in expect {
        let r = find(&rows, check);
        assert_eq!(r.outcome, outcome, "{check}: {}", r.message);
        assert!(
            r.message.contains(text),
            "{check}: `{}` lacks `{text}`",
            r.message
        );
    }
    // Nothing else: no errors, no unexpected rows (web is healthy, so no pod row for it).
    assert_eq!(rows.len(), expect.len(), "{rows:#?}");
    assert!(rows.iter().all(|r| r.outcome != Outcome::Error));
    assert_eq!(
        find(&rows, "Required Kubernetes Version").uri.as_deref(),
        Some("https://kubernetes.io")
    );
}

#[test]
fn analyzes_an_extracted_troubleshoot_bundle() {
    let b = bundle::DirBundle::open(&dir().join("seeded-faults")).expect("bundle dir opens");
    check_seeded_faults(&b);
}

#[test]
fn analyzes_the_same_bundle_packed_as_tar_gz() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("support-bundle-2026-11-26T10_00_00.tar.gz");
    let src = dir().join("seeded-faults/support-bundle-2026-11-26T10_00_00");
    bundle::pack_dir(&src, "support-bundle-2026-11-26T10_00_00", &out).expect("pack");
    let b = bundle::open(&out).expect("archive opens");
    check_seeded_faults(b.as_ref());
}

#[test]
fn analyzers_pointing_at_missing_files_say_what_to_collect() {
    let b = bundle::DirBundle::open(&dir().join("seeded-faults")).expect("bundle dir opens");
    let a: Vec<Value> = serde_saphyr::from_str(
        "- ingressClass: {outcomes: [{fail: {message: none}}, {pass: {message: ok}}]}\n- yamlCompare: {collectorName: cfg, fileName: x.yaml, path: a, value: b, outcomes: [{pass: {when: 'true'}}]}\n",
    )
    .expect("yaml");
    let h: Vec<Value> = serde_saphyr::from_str(
        "- kernelModules: {outcomes: [{pass: {when: 'overlay = loaded'}}]}\n",
    )
    .expect("yaml");
    let rows = analyze_all(&a, &h, &b);
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(r.outcome, Outcome::Warn, "{r:?}");
        assert!(r.message.contains("was not collected"), "{}", r.message);
    }
    assert!(
        rows[0]
            .message
            .contains("cluster-resources/ingress-classes.json")
    );
    assert!(rows[2].message.contains("`kernelModules` collector"));
}
