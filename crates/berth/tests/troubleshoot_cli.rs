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

fn example(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/hello")
        .join(rel)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn preflight_without_a_cluster_is_an_error_naming_the_kubeconfig() {
    let d = tempfile::tempdir().unwrap();
    let kc = d.path().join("no-such-kubeconfig");
    let out = berth()
        .current_dir(d.path())
        .args(["preflight", "--kubeconfig"])
        .arg(&kc)
        .arg(example("checks/preflight.yaml"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("kubeconfig {}", kc.display())),
        "{text}"
    );
    assert!(text.contains("No such file"), "{text}");
    assert!(!text.contains("PASSED"), "{text}");
    assert!(
        !text.contains("add the"),
        "no advice to add a collector: {text}"
    );
    assert!(!text.contains("'\""), "no double-quoted path: {text}");
}

#[test]
fn support_bundle_without_a_cluster_writes_nothing_and_fails() {
    let d = tempfile::tempdir().unwrap();
    let kc = d.path().join("no-such-kubeconfig");
    let archive = d.path().join("b.tar.gz");
    let out = berth()
        .current_dir(d.path())
        .args(["support-bundle", "--kubeconfig"])
        .arg(&kc)
        .arg("--archive")
        .arg(&archive)
        .arg(example("checks/support-bundle.yaml"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("clusterInfo, clusterResources, logs"),
        "{text}"
    );
    assert!(text.contains(&kc.display().to_string()), "{text}");
    assert!(!archive.exists(), "no bundle of skipped collectors");
    assert!(!text.contains("add the"), "{text}");
}

#[test]
fn an_unreachable_api_server_is_named_with_its_url_and_context() {
    let d = tempfile::tempdir().unwrap();
    let port = free_port();
    let kc = d.path().join("kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: ghost\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}\ncontexts:\n- name: ghost\n  context: {{cluster: c, user: u}}\nusers:\n- name: u\n  user: {{token: t}}\n"
        ),
    )
    .unwrap();
    let out = berth()
        .current_dir(d.path())
        .args(["preflight", "--kubeconfig"])
        .arg(&kc)
        .arg(example("checks/preflight.yaml"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("https://127.0.0.1:{port}")),
        "{text}"
    );
    assert!(text.contains("context ghost"), "{text}");
}

/// A healthy app's bundle, analysed with berth's defaults, passes: checks whose data the
/// bundle was never asked to collect (host collectors here) are not warnings.
#[test]
fn default_analysis_of_a_healthy_apps_bundle_exits_0() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = rt
        .block_on(berth_kube_sim::Simulator::start(
            berth_kube_sim::SimOptions::default(),
        ))
        .unwrap();
    let d = tempfile::tempdir().unwrap();
    let kc = d.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    berth()
        .arg("install")
        .arg(example(""))
        .args(["-n", "hello"])
        .arg("--kubeconfig")
        .arg(&kc)
        .assert()
        .code(0);
    let archive = d.path().join("b.tar.gz");
    berth()
        .current_dir(d.path())
        .args(["support-bundle", "--kubeconfig"])
        .arg(&kc)
        .arg("--archive")
        .arg(&archive)
        .arg(example("checks/support-bundle.yaml"))
        .assert()
        .code(0);
    let out = berth().arg("analyze").arg(&archive).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("add the"), "{text}");
    assert!(
        text.contains("note: not in this bundle, so not checked"),
        "{text}"
    );
    drop(sim);
}

#[test]
fn a_directory_given_as_a_spec_names_the_file_meant() {
    let out = berth().arg("preflight").arg(example("")).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let meant = example("checks/preflight.yaml").display().to_string();
    assert!(
        err.contains("is a directory") && err.contains(&format!("did you mean {meant}?")),
        "{err}"
    );
}

#[test]
fn support_bundle_exits_with_troubleshoots_code_for_a_warning() {
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
  hostAnalyzers:
    - cpu:
        outcomes:
          - warn: {when: "count < 100000", message: fewer than 100000 cpus}
          - pass: {message: plenty}
"#,
    )
    .unwrap();
    let archive = d.path().join("out.tar.gz");
    berth()
        .args(["support-bundle", "--archive"])
        .arg(&archive)
        .arg(&spec)
        .assert()
        .code(4)
        .stdout(contains("fewer than 100000 cpus"));
    assert!(
        archive.is_file(),
        "the bundle is written whatever the analysis says"
    );
}

/// A bundle collected without a cluster holds nothing berth's default checks read: that is
/// not a pass.
#[test]
fn default_analysis_of_a_bundle_with_nothing_to_check_is_not_a_pass() {
    let d = tempfile::tempdir().unwrap();
    let bundle = d.path().join("bundle");
    std::fs::create_dir_all(bundle.join("cluster-resources")).unwrap();
    std::fs::write(bundle.join("version.yaml"), "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundleVersion\nspec: {versionNumber: 0.1.0}\n").unwrap();
    let out = berth().arg("analyze").arg(&bundle).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("none of the data berth's default checks read"),
        "{err}"
    );
}
