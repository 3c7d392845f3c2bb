//! The rule in testing/tool.rs: a test whose tool is missing fails, naming the setup script;
//! only `BERTH_TEST_ALLOW_SKIP=1` turns that into a skip, which is printed and logged.

#[path = "../../../testing/tool.rs"]
mod tool_rule;

use std::process::Command;

/// Run by the tests below in a child process of this test binary (it is not a check itself:
/// outside that child, `BERTH_TEST_TOOL_PROBE` is unset and it returns at once).
#[test]
fn probe_missing_tool() {
    if std::env::var_os("BERTH_TEST_TOOL_PROBE").is_none() {
        return;
    }
    let got = tool_rule::tool("BERTH_TEST_PROBE_TOOL");
    assert!(got.is_none(), "a missing tool is never returned");
}

fn run_probe(value: Option<&str>, allow_skip: bool, log: &std::path::Path) -> std::process::Output {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args(["probe_missing_tool", "--exact", "--nocapture"])
        .env("BERTH_TEST_TOOL_PROBE", "1")
        .env("BERTH_TEST_SKIP_LOG", log)
        .env_remove("BERTH_TEST_ALLOW_SKIP")
        .env_remove("BERTH_TEST_PROBE_TOOL");
    if let Some(v) = value {
        cmd.env("BERTH_TEST_PROBE_TOOL", v);
    }
    if allow_skip {
        cmd.env("BERTH_TEST_ALLOW_SKIP", "1");
    }
    cmd.output().expect("run the probe")
}

#[test]
fn a_missing_tool_fails_and_names_the_setup_script() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("skipped.log");
    for value in [None, Some(""), Some("/nonexistent/berth-probe-tool")] {
        let out = run_probe(value, false, &log);
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{value:?} must fail: {text}");
        assert!(text.contains("run scripts/test.sh"), "{text}");
        assert!(text.contains("BERTH_TEST_ALLOW_SKIP=1"), "{text}");
        assert!(
            !log.exists(),
            "nothing is logged as skipped when the test fails"
        );
    }
}

#[test]
fn skipping_is_an_opt_in_that_lists_the_skipped_test() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("skipped.log");
    let out = run_probe(None, true, &log);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("SKIPPED"), "{stderr}");
    let logged = std::fs::read_to_string(&log).expect("skip log written");
    assert!(
        logged.contains("probe_missing_tool")
            && logged.contains("BERTH_TEST_PROBE_TOOL is not set"),
        "{logged}"
    );
}
