//! `berth demo`, the README's first command, runs end to end: install, upgrade, a failed
//! upgrade that rolls itself back, the air-gapped install, preflight and a support bundle,
//! and a snapshot restored into a new namespace with its volume files.

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
        "kernel-changed",
        "default-storageclass-changed",
        "default storageclass: standard → fast-ssd",
        "has DSA-5514-1 (CVE-2023-4527, CVE-2023-4911)",
        "patched): 0 blocking findings; the gate passes",
        "HTML report: <demo temp folder>/matrix/index.html",
        "checksums before and after are identical",
        "total",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` missing from:\n{text}"
        );
    }
    // Paths of the folder removed on exit are not printed (they would point at nothing).
    let tmp = std::env::temp_dir().display().to_string();
    assert!(!text.contains(&tmp), "a temporary path in:\n{text}");
    // The README's excerpt is what the demo prints: every line, up to its `…` elisions.
    let readme = std::fs::read_to_string("../../README.md").unwrap();
    let excerpt = readme
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README has the demo excerpt");
    assert!(excerpt.starts_with('['), "{excerpt}");
    for line in excerpt.lines() {
        let mut from = 0;
        for part in line.split('…').filter(|p| !p.trim().is_empty()) {
            match text[from..].find(part) {
                Some(i) => from += i + part.len(),
                None => panic!(
                    "README excerpt line not printed by the demo:\n{line}\n(missing: {part:?})\n{text}"
                ),
            }
        }
    }
}
