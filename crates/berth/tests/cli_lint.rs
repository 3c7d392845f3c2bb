//! The real `berth` binary: lint output, exit codes, init, schema.

use assert_cmd::Command;

fn berth() -> Command {
    let mut c = Command::cargo_bin("berth").unwrap();
    c.env("NO_COLOR", "1");
    c
}

#[test]
fn lint_example_is_clean_and_exits_zero() {
    let out = berth()
        .args(["lint", "../../examples/hello"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok, no problems found"));
}

#[test]
fn lint_reports_problems_with_source_and_exits_one() {
    let out = berth()
        .current_dir("../berth-spec/tests/broken")
        .args(["lint", "unknown-field.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}

#[test]
fn lint_json_is_machine_readable() {
    let out = berth()
        .current_dir("../berth-spec/tests/broken")
        .args(["lint", "duplicate-item.yaml", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "duplicate-name")
        .unwrap();
    assert_eq!(
        (p["line"].as_u64(), p["column"].as_u64()),
        (Some(15), Some(17))
    );
    assert_eq!(p["field"], "spec.config[1].items[0].name");
}

#[test]
fn usage_errors_exit_two() {
    let out = berth().args(["lint", "--output", "xml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = berth().args(["no-such-command"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn init_writes_an_app_that_lints_clean_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("shop");
    berth().arg("init").arg(&app).assert().success();
    berth().arg("lint").arg(&app).assert().success();
    let again = berth().arg("init").arg(&app).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}

#[test]
fn schema_validates_the_example() {
    let out = berth().arg("schema").output().unwrap();
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let text = std::fs::read_to_string("../../examples/hello/berth.yaml").unwrap();
    let doc = berth_spec::yaml::parse_str(&text, &Default::default()).unwrap()[0].to_json();
    assert!(validator.is_valid(&doc));
    let mut broken = doc.clone();
    broken["spec"]["components"][0]["valus"] = serde_json::json!("x");
    assert!(!validator.is_valid(&broken));
}

#[test]
fn completions_are_generated() {
    let out = berth().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("berth"));
}

#[test]
fn lint_renders_the_charts_and_reports_template_errors() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::path::Path::new("../../examples/hello");
    for entry in walk(src) {
        let rel = entry.strip_prefix(src).unwrap();
        let dst = dir.path().join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &dst).unwrap();
    }
    let tpl = dir.path().join("chart/templates/deployment.yaml");
    let text = std::fs::read_to_string(&tpl).unwrap();
    std::fs::write(
        &tpl,
        text.replace(
            "{{ .Values.replicaCount }}",
            "{{ .Values.replicaCount | nosuch }}",
        ),
    )
    .unwrap();
    let out = berth()
        .arg("lint")
        .arg(dir.path())
        .arg("-o")
        .arg("json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &v["problems"][0];
    assert_eq!(p["code"], "render-failed");
    let msg = p["message"].as_str().unwrap();
    assert!(
        msg.contains("deployment.yaml:8") && msg.contains("nosuch"),
        "{msg}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `berth init` writes a berth.yaml whose comment points at what the binary has (`berth
/// schema`, `berth lint`), not at docs that exist only in berth's repository.
#[test]
fn init_points_to_commands_not_repository_docs() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["init", "myapp"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = std::fs::read_to_string(dir.path().join("myapp/berth.yaml")).unwrap();
    assert!(!manifest.contains("docs/"), "{manifest}");
    assert!(
        manifest.contains("berth schema") && manifest.contains("berth lint"),
        "{manifest}"
    );
}

#[test]
fn lint_kube_lists_removed_and_deprecated_api_versions_with_the_replacement() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    let fixture = std::path::Path::new("../berth-matrix/tests/fixtures/breakage");
    for e in walkdir::WalkDir::new(fixture) {
        let e = e.unwrap();
        let dst = app.join(e.path().strip_prefix(fixture).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
    // The app's default config renders a FlowSchema at flowcontrol v1beta3.
    let manifest = app.join("berth.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap().replacen(
        "          default: \"\"",
        "          default: flowcontrol.apiserver.k8s.io/v1beta3",
        1,
    );
    std::fs::write(&manifest, text).unwrap();
    let run = |kube: &str| {
        let out = berth()
            .args(["lint", app.to_str().unwrap(), "--kube", kube])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = run("1.28");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ok, no problems found"), "{text}");
    let (code, text) = run("1.30");
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("warning[api-deprecated]: flowschema/web-api"),
        "{text}"
    );
    let (code, text) = run("1.32");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("error[api-removed]: flowschema/web-api (component web): flowcontrol.apiserver.k8s.io/v1beta3 FlowSchema is no longer served since Kubernetes 1.32"),
        "{text}"
    );
    assert!(text.contains("chart/templates/flowschema.yaml"), "{text}");
    assert!(
        text.contains("help: change apiVersion: flowcontrol.apiserver.k8s.io/v1beta3 to apiVersion: flowcontrol.apiserver.k8s.io/v1"),
        "{text}"
    );
    let (code, text) = run("banana");
    assert_eq!(code, Some(2), "{text}");
}
