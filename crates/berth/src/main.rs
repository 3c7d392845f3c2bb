//! The `berth` command line: argument parsing, output and exit codes only.
//! Every capability lives in a `berth-*` library; each `cmd/` module wires one of them.

mod cmd;
mod output;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

/// Exit codes shared by every command (documented in `berth --help`).
pub mod exit {
    /// Success: nothing to report.
    pub const OK: u8 = 0;
    /// The command ran and found problems, or the operation failed.
    pub const FAILURE: u8 = 1;
    /// Usage error: bad flags or arguments, unreadable input.
    pub const USAGE: u8 = 2;
}

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "Deliver a Kubernetes application into customers' own clusters, online or air-gapped",
    long_about = "berth delivers a vendor's Kubernetes application into customers' own clusters, \
online or air-gapped, and keeps it installed, upgraded, diagnosable and backed up there.",
    after_help = "Exit codes: 0 success, 1 problems found or operation failed, 2 usage error \
(preflight and support-bundle use troubleshoot's codes: 3 fail, 4 warn).\n\n\
Example:\n  berth init myapp && berth lint myapp"
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
    /// Print the JSON Schema of berth.yaml (for editors).
    Schema(cmd::schema::Args),
    /// Print shell completions.
    Completions(cmd::completions::Args),
    /// The tour: a simulated cluster, install, status, upgrade, a failed upgrade that rolls back.
    Demo(cmd::demo::Args),
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
        Command::Completions(a) => cmd::completions::run(a, Cli::command()),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Install(a) => cmd::deploy::install(a),
        Command::Upgrade(a) => cmd::deploy::upgrade(a),
        Command::Diff(a) => cmd::deploy::diff(a),
        Command::Rollback(a) => cmd::deploy::rollback(a),
        Command::Status(a) => cmd::deploy::status(a),
        Command::History(a) => cmd::deploy::history(a),
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
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            output::error(&e);
            ExitCode::from(exit::FAILURE)
        }
    }
}
