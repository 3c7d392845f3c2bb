//! The real `berth matrix`: exit codes, the line per cell, the reports on disk.

use assert_cmd::Command;

fn berth() -> Command {
    let mut c = Command::cargo_bin("berth").expect("berth binary");
    c.env("NO_COLOR", "1");
    c
}

#[test]
fn matrix_exits_one_on_a_failed_cell_and_writes_its_reports() {
    let dir = tempfile::tempdir().expect("ran");
    let out = dir.path().join("report");
    let run = berth()
        .args([
            "matrix",
            "../berth-matrix/tests/fixtures/breakage",
            "--kube",
            "1.32",
            "--distribution",
            "generic",
            "--airgap",
            "online",
            "--pod-security",
            "restricted",
            "--out",
            out.to_str().expect("ran"),
        ])
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .expect("ran");
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL  1.32-generic-online"), "{text}");
    assert!(
        text.contains("Pod Security admission enforces the restricted:latest level"),
        "{text}"
    );
    for f in [
        "index.html",
        "junit.xml",
        "matrix.json",
        "cells/1.32-generic-online/log.txt",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let bad = berth()
        .args([
            "matrix",
            "../berth-matrix/tests/fixtures/breakage",
            "--distribution",
            "minikube",
        ])
        .output()
        .expect("ran");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not simulated"));
}

#[test]
fn matrix_ingress_runs_a_cell_per_flavour_and_refuses_unknown_ones() {
    let dir = tempfile::tempdir().expect("ran");
    let out = dir.path().join("report");
    let run = berth()
        .args([
            "matrix",
            "../../examples/expose",
            "--kube",
            "1.32",
            "--distribution",
            "generic,openshift",
            "--airgap",
            "online",
            "--ingress",
            "traefik,gateway-api,openshift-route",
            "--out",
            out.to_str().expect("ran"),
        ])
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .expect("ran");
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{text}");
    for id in [
        "1.32-generic-online-traefik",
        "1.32-generic-online-gateway-api",
        "1.32-openshift-online-openshift-route",
    ] {
        assert!(text.contains(id), "{id}: {text}");
        let log = std::fs::read_to_string(out.join(format!("cells/{id}/log.txt"))).expect("log");
        assert!(log.contains("== expose"), "{id}: {log}");
    }
    let html = std::fs::read_to_string(out.join("index.html")).expect("html");
    assert!(html.contains("online<br>gateway-api"), "{html}");
    let bad = berth()
        .args(["matrix", "../../examples/expose", "--ingress", "treafik"])
        .output()
        .expect("ran");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("traefik"));
    let none = berth()
        .args([
            "matrix",
            "../../examples/expose",
            "--distribution",
            "generic",
            "--ingress",
            "alb",
        ])
        .output()
        .expect("ran");
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("alb runs on eks"));
}

#[test]
fn matrix_default_deny_fails_the_test_naming_the_policy_and_refuses_unknown_directions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("report");
    let run = berth()
        .args([
            "matrix",
            "../berth-matrix/tests/fixtures/breakage",
            "--kube",
            "1.32",
            "--distribution",
            "generic",
            "--airgap",
            "online",
            "--default-deny",
            "ingress",
            "--out",
            out.to_str().expect("utf-8 path"),
        ])
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .expect("ran");
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL  1.32-generic-online") && text.contains("test: the test pod/web-test"),
        "{text}"
    );
    assert!(text.contains("/default-deny"), "{text}");
    let json = std::fs::read_to_string(out.join("matrix.json")).expect("matrix.json");
    assert!(
        json.contains("web-allow-test"),
        "the fix's example policy: {json}"
    );
    let bad = berth()
        .args([
            "matrix",
            "../berth-matrix/tests/fixtures/breakage",
            "--default-deny",
            "everything",
        ])
        .output()
        .expect("ran");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("--default-deny: \"everything\": expected ingress or ingress,egress")
    );
}
