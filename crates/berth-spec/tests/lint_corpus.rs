//! Every file in `tests/broken/` is a berth.yaml with one kind of mistake. Its first line
//! names the problem code and the line:column berth must report; the whole report is also
//! kept as a snapshot so wording changes are reviewed.

use berth_spec::lint::lint_bytes;
use std::path::Path;

#[test]
fn each_broken_manifest_yields_its_expected_problem() {
    // Relative paths keep the snapshots independent of where the repository is checked out
    // (cargo runs integration tests from the package directory).
    let dir = Path::new("tests/broken");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "the corpus has {} files", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no `# expect:` line", file.display()));
        let (code, at) = expect.split_once(' ').unwrap();
        let (line, col) = at.split_once(':').unwrap();
        let (line, col): (usize, usize) = (line.parse().unwrap(), col.parse().unwrap());
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let report = lint_bytes(&bytes, Path::new(&name), dir);
        let found = report.problems.iter().any(|p| {
            p.code == code
                && p.pos
                    .is_some_and(|pos| pos.line == line && pos.column == col)
        });
        if !found {
            failures.push(format!(
                "{name}: expected {code} at {line}:{col}, got:\n{}",
                report
                    .problems
                    .iter()
                    .map(|p| format!("  {p}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        let rendered: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
        insta::assert_snapshot!(name.trim_end_matches(".yaml"), rendered.join("\n"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_example_application_lints_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
    let report = berth_spec::lint_dir(&dir);
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    let app = report.app.expect("the example parses");
    assert_eq!(app.metadata.name, "hello");
    assert!(
        app.config_items()
            .any(|(_, i)| i.name == "db_host"
                && i.when.as_deref() == Some("database == \"external\""))
    );
}

#[test]
fn hostile_input_gets_one_clear_error() {
    let dir = Path::new(".");
    // Binary junk.
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let r = lint_bytes(&junk, Path::new("junk.yaml"), dir);
    assert_eq!(r.errors(), 1, "{:?}", r.problems);
    assert!(r.app.is_none());
    // Huge file.
    let huge = vec![b'a'; 9 << 20];
    let r = lint_bytes(&huge, Path::new("huge.yaml"), dir);
    assert_eq!(r.problems.len(), 1);
    assert!(r.problems[0].message.contains("bytes"), "{}", r.problems[0]);
    // Billion laughs.
    let mut s = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let mut prev = 'a';
    for c in 'b'..='j' {
        s.push_str(&format!("{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        prev = c;
    }
    let r = lint_bytes(s.as_bytes(), Path::new("bomb.yaml"), dir);
    assert_eq!(r.problems.len(), 1);
    assert!(r.problems[0].message.contains("nodes"), "{}", r.problems[0]);
    // Not UTF-8.
    let r = lint_bytes(b"apiVersion: \xc3\x28\n", Path::new("latin.yaml"), dir);
    assert_eq!(r.problems[0].code, "invalid-yaml");
    assert_eq!(r.problems[0].pos.map(|p| p.line), Some(1));
}

#[test]
fn exec_hooks_are_accepted_and_bad_ones_are_refused_naming_the_field() {
    let good = b"apiVersion: berth.dev/v1alpha1
kind: Application
metadata:
  name: shop
spec:
  snapshot:
    hooks:
      pre:
        - name: dump
          timeoutSeconds: 120
          exec:
            selector: {app.kubernetes.io/name: postgresql, tier: db}
            container: postgres
            command: [sh, -c, \"pg_dump -f /data/dump.sql shop\"]
      post:
        - name: resume
          exec: {selector: {app: db}, command: [touch, /data/resumed]}
";
    let report = lint_bytes(good, Path::new("berth.yaml"), Path::new("."));
    assert_eq!(report.errors(), 0, "{:?}", report.problems);

    let bad = b"apiVersion: berth.dev/v1alpha1
kind: Application
metadata:
  name: shop
spec:
  snapshot:
    hooks:
      pre:
        - name: dump
          exec: {selector: {}, container: Postgres_1, command: []}
      post:
        - name: resume
          exec: {selector: {-app: db}, command: [\" \"]}
";
    let report = lint_bytes(bad, Path::new("berth.yaml"), Path::new("."));
    let mut fields: Vec<&str> = report
        .problems
        .iter()
        .filter(|p| p.code == "invalid-hook")
        .map(|p| p.field.as_str())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "spec.snapshot.hooks.post[0].exec.command",
            "spec.snapshot.hooks.post[0].exec.selector",
            "spec.snapshot.hooks.pre[0].exec.command",
            "spec.snapshot.hooks.pre[0].exec.container",
            "spec.snapshot.hooks.pre[0].exec.selector",
        ],
        "{:?}",
        report.problems
    );
    // Each refusal says how to fix it.
    assert!(
        report
            .problems
            .iter()
            .filter(|p| p.severity == berth_spec::Severity::Error)
            .all(|p| p.help.is_some()),
        "{:?}",
        report.problems
    );
}
