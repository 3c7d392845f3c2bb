//! The `berth` command line: argument parsing, output and exit codes only.
//! Every capability lives in a `berth-*` library; each `cmd/` module wires one of them.

mod cmd;
mod exit;
mod output;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc: rendering a chart allocates many small strings and maps; with glibc's allocator
/// malloc and free took a fifth of a render (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "Deliver a Kubernetes application into customers' own clusters, online or air-gapped",
    long_about = "berth delivers a vendor's Kubernetes application into customers' own clusters, \
online or air-gapped, and keeps it installed, upgraded, diagnosable and backed up there.",
    after_help = concat!(
        "Example:\n  berth init myapp && berth lint myapp\n\n",
        crate::exit::table!()
    )
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check berth.yaml and every file it references; report all problems at once.
    Lint(cmd::lint::Args),
    /// Write a starter berth.yaml and a minimal chart that lint clean.
    Init(cmd::init::Args),
    /// Render a Helm chart locally, as `helm template` does.
    Template(cmd::template::Args),
    /// Helm charts from oci:// and https:// repositories: pull, dependency update|build.
    Chart(cmd::chart::Args),
    /// Print the JSON Schema of berth.yaml (for editors).
    Schema(cmd::schema::Args),
    /// Print shell completions.
    Completions(cmd::completions::Args),
    /// The tour: a simulated cluster, install, status, upgrade, a failed upgrade that rolls back.
    Demo(cmd::demo::Args),
    /// The vendor's inner loop: watch the app, apply every save to a (simulated) cluster.
    Dev(cmd::dev::Args),
    /// Test the app across Kubernetes versions, distributions and air-gap, on simulated clusters.
    Matrix(cmd::matrix::Args),
    /// Install the app into a cluster (server-side apply, ordered, waits until ready).
    Install(cmd::deploy::InstallArgs),
    /// Upgrade the installed app; a failed upgrade rolls back by itself.
    Upgrade(cmd::deploy::UpgradeArgs),
    /// Show what an install or upgrade would change.
    Diff(cmd::deploy::DiffArgs),
    /// Return to an earlier revision.
    Rollback(cmd::deploy::RollbackArgs),
    /// The app's version, revision, readiness of every object and the last failure.
    Status(cmd::deploy::AppArgs),
    /// The app's revisions.
    History(cmd::deploy::AppArgs),
    /// What changed in the cluster (and this host) since the app last worked, riskiest first.
    Drift(cmd::drift::DriftArgs),
    /// Remove the app (keeps PersistentVolumeClaims unless --delete-data).
    Uninstall(cmd::deploy::UninstallArgs),
    /// Simulated Kubernetes clusters (`berth cluster sim`).
    Cluster(cmd::cluster::Args),
    /// Run troubleshoot.sh Preflight/HostPreflight checks against this host and the cluster.
    Preflight(cmd::troubleshoot::PreflightArgs),
    /// Collect a redacted, analysed support bundle (troubleshoot.sh SupportBundle specs).
    SupportBundle(cmd::troubleshoot::SupportBundleArgs),
    /// Run analyzers on a support bundle offline (berth's or troubleshoot's).
    Analyze(cmd::troubleshoot::AnalyzeArgs),
    /// Build releases: the app and every image it runs, pinned by digest.
    Release(cmd::oci::ReleaseArgs),
    /// Air-gap bundles: create, verify, inspect, push into a customer registry.
    Bundle(cmd::oci::BundleArgs),
    /// Vendor signing keys for bundles.
    Keys(cmd::oci::KeysArgs),
    /// Run a small OCI registry.
    Registry(cmd::oci::RegistryArgs),
    /// The vendor server and its client: apps, channels, releases, customers, licenses.
    Vendor(cmd::vendor::Args),
    /// Show or verify a signed license offline.
    License(cmd::vendor::LicenseArgs),
    /// What is newer for a licensed install: required releases on the way, end of life.
    Updates(cmd::vendor::UpdatesArgs),
    /// Serve the admin console: configure, deploy, roll back, check and diagnose in a browser.
    Console(cmd::console::Args),
    /// List the packages of images, releases, OCI layouts or root filesystems (SBOM).
    Sbom(cmd::scan::SbomArgs),
    /// Find known vulnerabilities in images, releases or a running app, under a policy.
    Scan(cmd::scan::ScanArgs),
    /// The signed offline vulnerability database: build, inspect.
    Vulndb(cmd::scan::VulndbArgs),
    /// Snapshots into a deduplicated, encrypted repository (directory or S3): backup, restore, check.
    Snapshot(cmd::snapshot::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Lint(a) => cmd::lint::run(a),
        Command::Init(a) => cmd::init::run(a),
        Command::Schema(a) => cmd::schema::run(a),
        Command::Template(a) => cmd::template::run(a),
        Command::Chart(a) => cmd::chart::run(a),
        Command::Completions(a) => cmd::completions::run(a, Cli::command()),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Dev(a) => cmd::dev::run(a),
        Command::Matrix(a) => cmd::matrix::run(a),
        Command::Install(a) => cmd::deploy::install(a),
        Command::Upgrade(a) => cmd::deploy::upgrade(a),
        Command::Diff(a) => cmd::deploy::diff(a),
        Command::Rollback(a) => cmd::deploy::rollback(a),
        Command::Status(a) => cmd::deploy::status(a),
        Command::History(a) => cmd::deploy::history(a),
        Command::Drift(a) => cmd::drift::run(a),
        Command::Uninstall(a) => cmd::deploy::uninstall(a),
        Command::Cluster(a) => cmd::cluster::run(a),
        Command::Preflight(a) => cmd::troubleshoot::preflight(a),
        Command::SupportBundle(a) => cmd::troubleshoot::support_bundle(a),
        Command::Analyze(a) => cmd::troubleshoot::analyze_bundle(a),
        Command::Release(a) => cmd::oci::run_release(a),
        Command::Bundle(a) => cmd::oci::run_bundle(a),
        Command::Keys(a) => cmd::oci::run_keys(a),
        Command::Registry(a) => cmd::oci::run_registry(a),
        Command::Vendor(a) => cmd::vendor::run(a),
        Command::License(a) => cmd::vendor::license(a),
        Command::Updates(a) => cmd::vendor::updates(a),
        Command::Console(a) => cmd::console::run(a),
        Command::Sbom(a) => cmd::scan::run_sbom(a),
        Command::Scan(a) => cmd::scan::run_scan(a),
        Command::Vulndb(a) => cmd::scan::run_vulndb(a),
        Command::Snapshot(a) => cmd::snapshot::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            output::error(&e);
            ExitCode::from(exit::code_for(&e))
        }
    }
}

/// The examples printed by `--help`, pulled out of the help text as a user would copy them.
#[cfg(test)]
pub(crate) mod help_examples {
    /// The example commands of one help text: lines under an `Example…:` heading, with `\`
    /// continuations joined and trailing `# comments` removed.
    pub fn examples(help: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut in_block = false;
        let mut pending = String::new();
        for line in help.lines() {
            if line.starts_with("Example") && line.trim_end().ends_with(':') {
                in_block = true;
                continue;
            }
            if !in_block {
                continue;
            }
            if line.trim().is_empty() {
                in_block = false;
                continue;
            }
            let text = line.trim();
            if let Some(head) = text.strip_suffix('\\') {
                pending.push_str(head);
                continue;
            }
            pending.push_str(text);
            out.push(strip_comment(&pending).trim().to_string());
            pending.clear();
        }
        out
    }

    fn strip_comment(s: &str) -> &str {
        let b = s.as_bytes();
        let (mut single, mut double) = (false, false);
        for (i, c) in s.char_indices() {
            match c {
                '\'' if !double => single = !single,
                '"' if !single => double = !double,
                '#' if !single && !double && i > 0 && b[i - 1].is_ascii_whitespace() => {
                    return &s[..i];
                }
                _ => {}
            }
        }
        s
    }

    /// Shell words (single and double quotes; no expansion).
    pub fn words(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut any = false;
        let (mut single, mut double) = (false, false);
        for c in s.chars() {
            match c {
                '\'' if !double => {
                    single = !single;
                    any = true;
                }
                '"' if !single => {
                    double = !double;
                    any = true;
                }
                c if c.is_whitespace() && !single && !double => {
                    if any {
                        out.push(std::mem::take(&mut cur));
                        any = false;
                    }
                }
                c => {
                    cur.push(c);
                    any = true;
                }
            }
        }
        if any {
            out.push(cur);
        }
        out
    }

    /// The `berth …` commands of one example line: split at `&&`, `;`, `|` and redirections,
    /// leading `VAR=value` assignments dropped; other programs (kubectl, jq) left out.
    pub fn berth_commands(example: &str) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for part in example.split("&&").flat_map(|p| p.split(';')) {
            let cmd = part.split(['|', '>']).next().unwrap_or("");
            let mut w = words(cmd);
            while w
                .first()
                .is_some_and(|x| x.contains('=') && !x.starts_with('-'))
            {
                w.remove(0);
            }
            if w.first().is_some_and(|x| x == "berth") {
                out.push(w);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command and group (recursively), with its full name and help.
    fn all_commands() -> Vec<(String, clap::Command)> {
        fn walk(prefix: &str, cmd: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
            for sub in cmd.get_subcommands() {
                if sub.get_name() == "help" {
                    continue;
                }
                let name = format!("{prefix} {}", sub.get_name());
                out.push((name.clone(), sub.clone()));
                walk(&name, sub, out);
            }
        }
        let mut out = Vec::new();
        walk("berth", &Cli::command(), &mut out);
        out
    }

    #[test]
    fn every_command_and_group_has_an_example_that_parses() {
        let mut missing = Vec::new();
        let mut bad = Vec::new();
        let mut count = 0;
        for (name, cmd) in all_commands() {
            // An 80-column terminal: an example clap wraps there breaks copy-paste.
            let help = cmd.term_width(80).render_long_help().to_string();
            let examples = help_examples::examples(&help);
            for e in &examples {
                let first = help_examples::words(e)
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                let known = ["berth", "kubectl", "cargo", "#"].contains(&first.as_str());
                if !(known || first.contains('=')) {
                    bad.push(format!("{name}: `{e}` is not a command (a wrapped line?)"));
                }
            }
            let runs: Vec<Vec<String>> = examples
                .iter()
                .flat_map(|e| help_examples::berth_commands(e))
                .collect();
            if runs.is_empty() {
                missing.push(name.clone());
            }
            for words in runs {
                count += 1;
                if let Err(e) = Cli::try_parse_from(&words) {
                    bad.push(format!("{name}: `{}`: {e}", words.join(" ")));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "commands without an example: {missing:?}"
        );
        assert!(
            bad.is_empty(),
            "examples that do not parse:\n{}",
            bad.join("\n")
        );
        assert!(count > 30, "only {count} examples found");
    }

    /// The README lists the same exit codes as `berth --help`, row for row.
    #[test]
    fn readme_lists_the_exit_codes_of_the_help() {
        let readme = include_str!("../../../README.md");
        let mut rows: Vec<String> = Vec::new();
        for line in crate::exit::table!().lines().skip(1) {
            if line.starts_with("     ") {
                if let Some(last) = rows.last_mut() {
                    last.push(' ');
                    last.push_str(line.trim());
                }
            } else {
                rows.push(line.trim().to_string());
            }
        }
        assert_eq!(rows.len(), 6, "{rows:?}");
        for row in rows {
            let (code, meaning) = row.split_once("  ").expect("code and meaning");
            let want = format!("| {code} | {} |", meaning.trim());
            assert!(readme.contains(&want), "README lacks the row `{want}`");
        }
    }

    #[test]
    fn example_extraction_joins_continuations_and_drops_comments() {
        let help = "Intro\n\nExamples:\n  berth a \\\n    --b c   # why\n  X=1 berth d | jq . && berth e > f\n\nExit codes: 0";
        let ex = help_examples::examples(help);
        assert_eq!(ex, ["berth a --b c", "X=1 berth d | jq . && berth e > f"]);
        let cmds: Vec<Vec<String>> = ex
            .iter()
            .flat_map(|e| help_examples::berth_commands(e))
            .collect();
        assert_eq!(
            cmds,
            [
                vec!["berth", "a", "--b", "c"],
                vec!["berth", "d"],
                vec!["berth", "e"]
            ]
        );
    }
}
