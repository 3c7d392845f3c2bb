//! The examples `--help` prints run as printed. Every command's help is read from the real
//! binary (groups and their subcommands included), its `Example…:` lines are taken as a user
//! would copy them, and those that need nothing outside the repository (render, lint, init,
//! schema, keys, completions) run from a fresh folder holding a copy of `examples/` and must
//! succeed. The others, which need a cluster, a registry or a bundle, are checked by the
//! binary's unit test `every_command_and_group_has_an_example_that_parses` (clap's parser).

use std::path::Path;
use std::process::Command;

fn berth() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
    c.env("NO_COLOR", "1").env_remove("KUBECONFIG");
    c
}

/// `berth ARGS --help` as text.
fn help(args: &[&str]) -> String {
    let out = berth()
        .args(args)
        .arg("--help")
        .output()
        .expect("berth --help");
    assert!(out.status.success(), "berth {args:?} --help failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Subcommand names listed under `Commands:`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A description that wraps continues on a deeper indent.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|n| n != "help")
        .collect()
}

/// Example lines under `Example…:` headings, `\` continuations joined.
fn examples(help: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in help.lines() {
        if line.starts_with("Example") && line.trim_end().ends_with(':') {
            in_block = true;
            continue;
        }
        if !in_block || line.trim().is_empty() {
            in_block = in_block && !line.trim().is_empty();
            continue;
        }
        match line.trim().strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(line.trim());
                out.push(std::mem::take(&mut pending));
            }
        }
    }
    out
}

/// Every command path (`["keys", "generate"]`) with its examples.
fn all_examples() -> Vec<(Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    let mut queue: Vec<Vec<String>> = subcommands(&help(&[]))
        .into_iter()
        .map(|n| vec![n])
        .collect();
    while let Some(path) = queue.pop() {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        let text = help(&args);
        for sub in subcommands(&text) {
            let mut p = path.clone();
            p.push(sub);
            queue.push(p);
        }
        out.push((path, examples(&text)));
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.expect("walk");
        let dst = to.join(e.path().strip_prefix(from).expect("prefix"));
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dst).expect("mkdir");
        } else {
            std::fs::copy(e.path(), &dst).expect("copy");
        }
    }
}

/// Commands whose examples need only the repository's files.
const OFFLINE: &[&str] = &["template", "lint", "init", "schema", "keys", "completions"];

#[test]
fn offline_help_examples_run_as_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("clone");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples"),
        &work.join("examples"),
    );
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_berth"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let mut ran = 0;
    // A group repeats its subcommand's example: run each once (a second key pair would
    // rightly refuse to overwrite the first).
    let mut seen = std::collections::HashSet::new();
    let all = all_examples();
    assert!(all.len() > 25, "only {} commands found", all.len());
    for (cmd, examples) in all {
        if !OFFLINE.contains(&cmd[0].as_str()) {
            continue;
        }
        for example in examples {
            if !seen.insert(example.clone()) {
                continue;
            }
            // Shell completions go to a system folder in the example: keep them here.
            let line = example.replace("/etc/bash_completion.d/berth", "completions.bash");
            let out = Command::new("bash")
                .args(["-c", &format!("set -eo pipefail; {line}")])
                .current_dir(&work)
                .env("PATH", &path)
                .env("HOME", dir.path())
                .env("NO_COLOR", "1")
                .output()
                .expect("bash");
            assert!(
                out.status.success(),
                "`berth {}` example failed:\n  {line}\n{}{}",
                cmd.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            ran += 1;
        }
    }
    assert!(ran >= 8, "only {ran} examples ran");
}
