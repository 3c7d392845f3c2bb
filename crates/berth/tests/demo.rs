//! `berth demo`, the README's first command, runs end to end: install, upgrade, a failed
//! upgrade that rolls itself back, the air-gapped install, preflight and a support bundle.

#[test]
fn the_tour_runs_every_step() {
    let out = assert_cmd::Command::cargo_bin("berth")
        .unwrap()
        .current_dir("../..")
        .env("NO_COLOR", "1")
        .arg("demo")
        .timeout(std::time::Duration::from_secs(600))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "rolled back automatically",
        "cause: image",
        "checked by the cluster's kubelet: deployed",
        "the bundle alone, no app directory",
        "preflight: 3 pass",
        "total",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` missing from:\n{text}"
        );
    }
}
