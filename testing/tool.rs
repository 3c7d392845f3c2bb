//! The one rule for tests that need an external tool (kubectl, docker-registry, skopeo, Helm v4,
//! database servers): a missing tool fails the test, naming the setup script that installs it.
//! Skipping is an explicit opt-in, `BERTH_TEST_ALLOW_SKIP=1`, and every skipped test is printed
//! and appended to a log that `scripts/test.sh` prints at the end of the run.
//!
//! Every crate's test tree includes this file with
//! `#[path = "../../../testing/tool.rs"] mod tool;` (no separate crate: it has no dependencies).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// The setup script (run by `scripts/test.sh`) that installs and exports each tool variable.
pub fn setup_script(var: &str) -> &'static str {
    match var {
        "BERTH_TEST_HELM_PYTHON" => "scripts/setup.d/10-helm-oracle.sh",
        "BERTH_TEST_KUBECTL" => "scripts/setup.d/20-kubectl.sh",
        "bwrap" => "scripts/setup.d/25-exec.sh",
        "BERTH_TEST_DOCKER_REGISTRY" | "BERTH_TEST_SKOPEO" | "htpasswd" => {
            "scripts/setup.d/30-registry.sh"
        }
        "BERTH_TEST_POSTGRES_BIN" | "BERTH_TEST_MARIADB" | "BERTH_TEST_REDIS" => {
            "scripts/setup.d/40-databases.sh"
        }
        "BERTH_TEST_JAVA_DIR"
        | "BERTH_TEST_NPM_DIR"
        | "BERTH_TEST_RPM"
        | "BERTH_TEST_RPMBUILD"
        | "BERTH_TEST_SQLITE3"
        | "BERTH_TEST_JAVA"
        | "BERTH_TEST_MAVEN_ARTIFACT_JAR"
        | "BERTH_TEST_LOG4J_CORE_JAR" => "scripts/setup.d/70-scan.sh",
        "BERTH_TEST_WEED" => "scripts/setup.d/55-seaweedfs.sh",
        "BERTH_TEST_SSHD" | "BERTH_TEST_RESTIC" => "scripts/setup.d/60-snapshot.sh",
        _ => "scripts/setup.d",
    }
}

/// The path in `$var` when it is set and exists. Otherwise: a panic naming the setup script,
/// or, under `BERTH_TEST_ALLOW_SKIP=1`, `None` after recording the skip (the caller returns).
pub fn tool(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() && Path::new(&p).exists() => Some(PathBuf::from(p)),
        Some(p) if !p.is_empty() => missing(var, &format!("{var}={} does not exist", p.display())),
        _ => missing(var, &format!("{var} is not set")),
    }
}

/// A tool that is not a `BERTH_TEST_*` variable but a program on PATH (e.g. `htpasswd`).
pub fn program_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .or_else(|| missing(name, &format!("{name} is not on PATH")))
}

/// The verdict on a missing tool: fail, or (opt-in) record the skip and return None.
pub fn missing<T>(var: &str, why: &str) -> Option<T> {
    let script = setup_script(var);
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string();
    if !allow_skip() {
        panic!(
            "{why}: run scripts/test.sh (its {script} installs and exports it), or set \
             BERTH_TEST_ALLOW_SKIP=1 to skip the tests that need it"
        );
    }
    let line = format!(
        "SKIPPED {} {test}: {why} (BERTH_TEST_ALLOW_SKIP=1; {script} installs it)",
        env!("CARGO_PKG_NAME")
    );
    eprintln!("{line}");
    // Best effort: the log is a summary for scripts/test.sh, the stderr line above is the record.
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(skip_log())
    {
        let _ = writeln!(f, "{line}");
    }
    None
}

/// True when the run opted into skipping tests whose tools are missing.
pub fn allow_skip() -> bool {
    std::env::var("BERTH_TEST_ALLOW_SKIP").as_deref() == Ok("1")
}

/// Where skipped tests are listed: `$BERTH_TEST_SKIP_LOG`, else the target's tmp folder.
pub fn skip_log() -> PathBuf {
    match std::env::var_os("BERTH_TEST_SKIP_LOG") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_TARGET_TMPDIR")).join("berth-skipped-tests.log"),
    }
}
