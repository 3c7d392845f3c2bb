//! `berth cluster sim` starts a cluster that real kubectl accepts.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[path = "../../../testing/tool.rs"]
mod tool_rule;
use tool_rule::tool;

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn kubectl_sees_the_simulated_node_and_applies_an_object() {
    let Some(kubectl) = tool("BERTH_TEST_KUBECTL") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("berth"))
        .args(["cluster", "sim", "--port", "0", "--kubeconfig"])
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _sim = Kill(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("kubeconfig:");
        seen.push(line);
        if done {
            break;
        }
    }
    assert!(
        kubeconfig.is_file(),
        "no kubeconfig written; output: {seen:?}"
    );
    let kubectl = |args: &[&str]| {
        let out = Command::new(&kubectl)
            .env("HOME", dir.path())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, nodes, err) = kubectl(&["get", "nodes", "-o", "name"]);
    assert!(ok && nodes.starts_with("node/"), "{nodes}{err}");
    let cm = dir.path().join("cm.yaml");
    std::fs::write(
        &cm,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n  namespace: default\ndata:\n  a: b\n",
    )
    .unwrap();
    let (ok, out, err) = kubectl(&["apply", "--server-side", "-f", cm.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = kubectl(&["get", "configmap", "hello", "-o", "jsonpath={.data.a}"]);
    assert!(ok && out == "b", "{out}{err}");
}
