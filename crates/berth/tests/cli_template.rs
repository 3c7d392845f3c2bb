//! `berth template`: the real binary on the example chart and the chart corpus.
//! With Helm v4 available (`BERTH_TEST_HELM_PYTHON`), the output must equal what
//! Helm's client-side install renders, byte for byte (manifest part).

use assert_cmd::Command;
use std::path::{Path, PathBuf};

#[path = "../../../testing/tool.rs"]
mod tool_rule;
use tool_rule::tool;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn berth() -> Command {
    let mut c = Command::cargo_bin("berth").expect("berth binary");
    c.current_dir(root());
    c
}

#[test]
fn renders_the_example_chart_with_set_values() {
    let out = berth()
        .args(["template", "examples/hello/chart", "hello", "-n", "shop"])
        .args(["--set", "postgresql.password=s3cret,replicaCount=4"])
        .output()
        .expect("run berth");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("---\n# Source: hello/templates/"),
        "{text}"
    );
    assert!(
        text.contains("replicas: 4"),
        "--set integer reaches the template"
    );
    assert!(
        text.contains("name: hello-db"),
        "the release name reaches the templates: {text}"
    );
}

#[test]
fn helm_argument_order_and_show_only() {
    let out = berth()
        .args([
            "template",
            "hello",
            "examples/hello/chart",
            "--set-string",
            "postgresql.password=0123",
        ])
        .args(["--show-only", "templates/service.yaml"])
        .output()
        .expect("run berth");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("kind: Service"), "{text}");
    assert!(!text.contains("kind: Deployment"), "{text}");
    let missing = berth()
        .args([
            "template",
            "examples/hello/chart",
            "--set",
            "postgresql.password=x",
        ])
        .args(["-s", "templates/nope.yaml"])
        .output()
        .expect("run berth");
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("could not find template templates/nope.yaml")
    );
}

#[test]
fn errors_name_the_template_and_the_fix() {
    // The example chart requires a database password.
    let out = berth()
        .args(["template", "examples/hello/chart"])
        .output()
        .expect("run berth");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("hello/templates/secret.yaml") && err.contains("password is required"),
        "{err}"
    );
    // Input given that is missing or invalid is exit 2 (berth's one table), a chart that
    // does not render is 1.
    let out = berth()
        .args(["template", "no/such/chart"])
        .output()
        .expect("run berth");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    let out = berth()
        .args(["template", "examples/hello/chart", "--set", "a[x]=1"])
        .output()
        .expect("run berth");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("failed parsing --set"));
}

#[test]
fn a_missing_values_file_and_a_bad_one_are_the_same_class() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "replicaCount: [\n").expect("write");
    for f in [dir.path().join("missing.yaml"), bad] {
        let out = berth()
            .args(["template", "examples/hello/chart", "-f"])
            .arg(&f)
            .output()
            .expect("run berth");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(&f.display().to_string()), "{err}");
    }
}

#[test]
fn an_app_directory_points_to_its_chart() {
    let out = berth()
        .args(["template", "examples/hello"])
        .output()
        .expect("run berth");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is a berth app directory")
            && err.contains("berth template examples/hello/chart"),
        "{err}"
    );
}

#[test]
fn values_files_and_set_file_layer_like_helm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let f1 = dir.path().join("a.yaml");
    let f2 = dir.path().join("b.yaml");
    let pw = dir.path().join("pw.txt");
    std::fs::write(&f1, "replicaCount: 7\npostgresql:\n  password: from-a\n").expect("write");
    std::fs::write(&f2, "replicaCount: 9\n").expect("write");
    std::fs::write(&pw, "from-file").expect("write");
    let out = berth()
        .args(["template", "examples/hello/chart", "-f"])
        .arg(&f1)
        .arg("-f")
        .arg(&f2)
        .arg("--set-file")
        .arg(format!("postgresql.password={}", pw.display()))
        .output()
        .expect("run berth");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("replicas: 9"), "later -f wins");
    // b64 of "from-file"
    assert!(
        text.contains("ZnJvbS1maWxl"),
        "--set-file content reaches the secret: {text}"
    );
}

#[test]
fn byte_identical_to_helm_v4() {
    let Some(python) = tool("BERTH_TEST_HELM_PYTHON") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let vals = dir.path().join("v.json");
    std::fs::write(&vals, r#"{"postgresql": {"password": "s3cret"}}"#).expect("write");
    let oracle = std::process::Command::new(python)
        .arg(root().join("scripts/helm_oracle.py"))
        .arg(root().join("examples/hello/chart"))
        .args(["--name", "hello", "--namespace", "shop", "--values"])
        .arg(&vals)
        .output()
        .expect("run oracle");
    let v: serde_json::Value = serde_json::from_slice(&oracle.stdout).expect("oracle JSON");
    let manifest = v["manifest"].as_str().expect("manifest");
    let out = berth()
        .args([
            "template",
            "examples/hello/chart",
            "hello",
            "-n",
            "shop",
            "--set",
            "postgresql.password=s3cret",
        ])
        .output()
        .expect("run berth");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let want = format!("{}\n", manifest.trim());
    assert!(
        text.starts_with(&want),
        "berth template differs from helm:\n--- helm\n{want}\n--- berth\n{text}"
    );
}

/// `--set-json` and `--set-literal` reach the templates, in Helm's order (`--set-json` before
/// `--set`, `--set-literal` last; a literal keeps its commas).
#[test]
fn set_json_and_set_literal() {
    let out = berth()
        .args(["template", "examples/hello/chart", "hello"])
        .args([
            "--set-json",
            r#"postgresql={"password":"s3cret"},replicaCount=5"#,
        ])
        .args(["--set-literal", "greeting=Hi, there"])
        .output()
        .expect("run berth");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("replicas: 5"),
        "--set-json reaches the template: {text}"
    );
    assert!(
        text.contains("Hi, there"),
        "--set-literal keeps the comma: {text}"
    );
    let bad = berth()
        .args([
            "template",
            "examples/hello/chart",
            "--set-json",
            "replicaCount={x",
        ])
        .output()
        .expect("run berth");
    assert_eq!(bad.status.code(), Some(2), "bad --set-json is bad input");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("--set-json") && err.contains("invalid JSON"),
        "{err}"
    );
}

/// A small post-renderer: adds a label to every object's labels with sed; with `fail`
/// as its argument it complains on stderr and exits 3; with `junk` it prints broken YAML.
fn post_renderer_script(dir: &Path) -> PathBuf {
    let p = dir.join("add-label.sh");
    std::fs::write(
        &p,
        "#!/bin/sh\n\
         case \"$1\" in\n\
         fail) cat >/dev/null; echo \"cannot reach the label service\" >&2; exit 3;;\n\
         junk) cat >/dev/null; printf 'a: [b\\n'; exit 0;;\n\
         esac\n\
         sed \"s/^  labels:$/  labels:\\n    team: $1/\"\n",
    )
    .expect("write script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    p
}

fn template_with(post: &Path, args: &[&str]) -> std::process::Output {
    let mut c = berth();
    c.args(["template", "examples/hello/chart"])
        .args(["--set", "postgresql.password=s3cret"])
        .arg("--post-renderer")
        .arg(post);
    for a in args {
        c.args(["--post-renderer-args", a]);
    }
    c.output().expect("run berth")
}

#[test]
fn post_renderer_output_replaces_the_manifests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = post_renderer_script(dir.path());
    let plain = berth()
        .args(["template", "examples/hello/chart"])
        .args(["--set", "postgresql.password=s3cret"])
        .output()
        .expect("run berth");
    let out = template_with(&script, &["web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let want = String::from_utf8_lossy(&plain.stdout)
        .replace("\n  labels:\n", "\n  labels:\n    team: web\n");
    assert!(want.contains("team: web"), "the chart has objects: {want}");
    assert_eq!(text, want);
}

#[test]
fn post_renderer_failures_name_the_program_and_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = post_renderer_script(dir.path());
    let cases: Vec<(PathBuf, &str, Vec<&str>)> = vec![
        (dir.path().join("missing.sh"), "[]", vec!["not found"]),
        (
            {
                let p = dir.path().join("plain.sh");
                std::fs::write(&p, "#!/bin/sh\ncat\n").expect("write");
                p
            },
            "[]",
            vec!["not executable", "chmod +x"],
        ),
        (
            script.clone(),
            "fail",
            vec!["failed", "exit status: 3", "cannot reach the label service"],
        ),
        (script.clone(), "junk", vec!["invalid YAML in document 1"]),
    ];
    for (program, arg, want) in cases {
        let args: Vec<&str> = if arg == "[]" { vec![] } else { vec![arg] };
        let out = template_with(&program, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{program:?} {arg}: {err}");
        assert!(out.stdout.is_empty(), "nothing printed on failure");
        assert!(err.contains(&program.display().to_string()), "{err}");
        for w in want {
            assert!(err.contains(w), "{program:?} {arg}: {w:?} missing in {err}");
        }
    }
}
