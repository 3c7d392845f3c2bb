//! `berth preflight`, `berth support-bundle`, `berth analyze` as a user runs them: exit codes,
//! output formats, spec errors with their place.

use assert_cmd::Command;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

const HOST: &str = r#"apiVersion: troubleshoot.sh/v1beta2
kind: HostPreflight
metadata: {name: host}
spec:
  collectors:
    - cpu: {}
    - memory: {}
    - diskUsage: {collectorName: tmp, path: /tmp}
  analyzers:
    - cpu:
        outcomes:
          - fail: {when: "count < 1", message: no cpu}
          - pass: {message: cpu ok}
    - memory:
        outcomes:
          - fail: {when: "< 1Ti", message: needs a terabyte of memory}
          - pass: {message: memory ok}
"#;

fn berth() -> Command {
    let mut c = Command::cargo_bin("berth").unwrap();
    c.env("NO_COLOR", "1").env_remove("KUBECONFIG");
    c
}

#[test]
fn preflight_fails_with_code_3_and_json_lists_results() {
    let d = tempfile::tempdir().unwrap();
    let spec = d.path().join("host.yaml");
    std::fs::write(&spec, HOST).unwrap();
    let out = berth()
        .args(["preflight", "-o", "json"])
        .arg(&spec)
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["pass"][0]["message"], "cpu ok", "{v}");
    assert_eq!(v["fail"][0]["message"], "needs a terabyte of memory", "{v}");
    berth()
        .arg("preflight")
        .arg(&spec)
        .assert()
        .code(3)
        .stdout(contains("FAIL").and(contains("needs a terabyte of memory")));
}

#[test]
fn malformed_spec_exits_2_naming_file_and_line() {
    let d = tempfile::tempdir().unwrap();
    let spec = d.path().join("bad.yaml");
    std::fs::write(
        &spec,
        "apiVersion: troubleshoot.sh/v1beta2\nkind: HostPreflight\nspec:\n  collectors: [\n",
    )
    .unwrap();
    berth()
        .arg("preflight")
        .arg(&spec)
        .assert()
        .code(2)
        .stderr(contains(format!("{}:", spec.display())));
}

#[test]
fn host_support_bundle_then_offline_analysis() {
    let d = tempfile::tempdir().unwrap();
    let spec = d.path().join("sb.yaml");
    std::fs::write(
        &spec,
        r#"apiVersion: troubleshoot.sh/v1beta2
kind: SupportBundle
metadata: {name: sb}
spec:
  hostCollectors:
    - cpu: {}
    - run: {collectorName: leak, command: sh, args: ["-c", "echo password=hunter2secret"]}
"#,
    )
    .unwrap();
    let archive = d.path().join("out.tar.gz");
    let out = berth()
        .args(["support-bundle", "-o", "json", "--archive"])
        .arg(&archive)
        .arg(&spec)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["archivePath"], archive.display().to_string());
    assert!(archive.is_file());
    let analyzers = d.path().join("a.yaml");
    std::fs::write(
        &analyzers,
        r#"apiVersion: troubleshoot.sh/v1beta2
kind: Analyzer
spec:
  hostAnalyzers:
    - cpu:
        outcomes:
          - warn: {when: "count < 1000", message: fewer than 1000 cpus}
          - pass: {message: plenty}
  analyzers:
    - textAnalyze:
        checkName: leaked password
        collectorName: host-collectors/run-host
        fileName: leak.txt
        regex: hunter2secret
        outcomes:
          - fail: {when: "true", message: the secret is in the bundle}
          - pass: {when: "false", message: redacted}
"#,
    )
    .unwrap();
    berth()
        .arg("analyze")
        .arg(&archive)
        .arg(&analyzers)
        .assert()
        .code(4)
        .stdout(contains("fewer than 1000 cpus").and(contains("redacted")));
    berth()
        .arg("analyze")
        .arg(d.path().join("missing.tar.gz"))
        .assert()
        .code(1);
}
