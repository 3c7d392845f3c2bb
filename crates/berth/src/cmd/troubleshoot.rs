//! `berth preflight`, `berth support-bundle`, `berth analyze`: flags → the typed inputs of
//! `berth_ops::troubleshoot` → its report printed. Exit codes follow troubleshoot: 0 pass,
//! 3 a check failed, 4 a check warned (no failure), 2 spec problems, 1 anything else (no
//! reachable cluster for cluster collectors). The same table for every command is in
//! crate::exit.

use crate::exit;
use crate::output::{self, Format};
use anyhow::{Context as _, Result};
use berth_ops::troubleshoot::{
    self as ops, AnalyzeInput, KubeTarget, Limits, PreflightInput, SupportBundleInput, Verdict,
};
use berth_ops::{Cancel, Event};
use berth_troubleshoot::analyze::{AnalyzeResult, Outcome};
use berth_troubleshoot::run::{self, Status};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// troubleshoot's exit codes, as entries of berth's one table (crate::exit).
pub mod code {
    use crate::exit;
    /// Every check passed.
    pub const PASS: u8 = exit::OK;
    /// Something other than a check failed.
    pub const OTHER: u8 = exit::FAILURE;
    /// The specs are malformed.
    pub const SPEC: u8 = exit::USAGE;
    /// A check failed.
    pub const FAIL: u8 = exit::CHECK_FAILED;
    /// A check warned and none failed.
    pub const WARN: u8 = exit::CHECK_WARNED;
}

/// Cluster connection flags (kubectl habits).
#[derive(clap::Args, Debug, Clone)]
pub struct ClusterArgs {
    /// Path to the kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// Namespace to look for specs in (support-bundle discovery).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

/// Collection limits.
#[derive(clap::Args, Debug, Clone)]
pub struct LimitArgs {
    /// Bound for each collector (Go duration: 30s, 2m).
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub collector_timeout: Duration,
    /// Bound for the whole collection.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Collectors run at the same time.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    berth_troubleshoot::collect::parse_duration(s)
        .ok_or_else(|| format!("{s:?} is not a duration (examples: 30s, 2m, 1h)"))
}

/// `berth preflight`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  berth preflight preflight.yaml\n  \
berth preflight host-preflight.yaml -o json\n  \
berth preflight secret/acme/preflights --kubeconfig ~/.kube/config\n  \
berth preflight v1beta3-preflight.yaml -f values.yaml --set db.enabled=true\n\n\
SPEC is a file, - (stdin), an http(s) URL, or secret|configmap/<namespace>/<name>[/<key>].\n\
Exit codes: 0 pass, 3 a check failed, 4 a check warned, 2 spec problems, 1 other errors.")]
pub struct PreflightArgs {
    /// Preflight / HostPreflight specs (troubleshoot.sh/v1beta2).
    #[arg(required = true, value_name = "SPEC")]
    pub specs: Vec<String>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Format,
    /// Keep the collected data as a .tar.gz bundle at this path.
    #[arg(long, value_name = "PATH")]
    pub bundle: Option<PathBuf>,
    /// Values for templated v1beta3 specs (YAML files, merged in order).
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// Set a value for templated v1beta3 specs (key.path=value; after --values).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// `berth support-bundle`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  berth support-bundle support-bundle.yaml\n  \
berth support-bundle --archive /tmp/acme.tar.gz spec.yaml redactors.yaml\n  \
berth support-bundle            # specs from Secrets/ConfigMaps labelled troubleshoot.sh/kind=support-bundle\n  \
berth support-bundle -n hello --upload   # then send it to the vendor\n\n\
Every file is redacted before it is written. Exit codes: 0 bundle written and its analysis\n\
passed, 3 written and a check failed, 4 written and a check warned, 2 spec problems, 1 other\n\
errors (no reachable cluster for the spec's cluster collectors)."
)]
pub struct SupportBundleArgs {
    /// SupportBundle / Collector / Redactor specs; none = discover them in the cluster.
    #[arg(value_name = "SPEC")]
    pub specs: Vec<String>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Format,
    /// Archive path (default: ./support-bundle-<time>.tar.gz).
    #[arg(long, value_name = "PATH")]
    pub archive: Option<PathBuf>,
    /// Write a directory instead of a .tar.gz.
    #[arg(long)]
    pub no_archive: bool,
    /// Do not redact (not even the default redactors).
    #[arg(long)]
    pub no_redact: bool,
    /// Replace redacted values with stable tokens, so equal secrets correlate across files.
    #[arg(long)]
    pub tokenize: bool,
    /// Skip running the analyzers.
    #[arg(long)]
    pub no_analyze: bool,
    /// Then send the bundle to the vendor server, with the license as the credential (the
    /// license installed in -n's namespace, or --license FILE). Only a redacted archive is sent.
    #[arg(long, conflicts_with_all = ["no_redact", "no_archive"])]
    pub upload: bool,
    /// The license to send the bundle with (default: secret/berth-license of -n's namespace).
    #[arg(long, value_name = "FILE", requires = "upload")]
    pub license: Option<PathBuf>,
    /// Reach the vendor server here instead of the license's URL (a proxy in between).
    #[arg(long, value_name = "URL", requires = "upload")]
    pub vendor_url: Option<String>,
}

/// `berth analyze`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  berth analyze support-bundle-2026-11-26T17_00_00.tar.gz\n  \
berth analyze ./bundle-dir analyzers.yaml -o json\n  \
berth analyze new-bundle.tar.gz --against old-bundle.tar.gz\n\n\
Without a spec, berth's built-in diagnosis runs (pod and workload health, default StorageClass,\n\
free capacity, clock skew, disk pressure, DNS, interface names, MTU).\n\
Exit codes: 0 pass, 3 a check failed, 4 a check warned, 2 spec problems, 1 other errors."
)]
pub struct AnalyzeArgs {
    /// A support bundle: .tar.gz or directory (made by berth or troubleshoot).
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// Analyzer / SupportBundle / Preflight specs.
    #[arg(value_name = "SPEC")]
    pub specs: Vec<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Format,
    /// Drift instead of analyzers: what changed since this older support bundle of the same cluster.
    #[arg(long, value_name = "OLDER_BUNDLE", conflicts_with = "baseline")]
    pub against: Option<PathBuf>,
    /// Drift instead of analyzers: what changed since this baseline file (`berth drift --save`, or `berth/baselines/*.json` of a bundle).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "PASS",
        Outcome::Warn => "WARN",
        Outcome::Fail => "FAIL",
        Outcome::Error => "ERROR",
    }
}

fn print_table(results: &[AnalyzeResult], records: &[run::CollectorRecord]) {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    t.set_header(["CHECK", "OUTCOME", "MESSAGE", "LINK"]);
    for r in results {
        let word = outcome_word(r.outcome).to_string();
        let check = if r.strict {
            format!("{} (strict)", r.check)
        } else {
            r.check.clone()
        };
        t.add_row([
            check,
            word,
            r.message.clone(),
            r.uri.clone().unwrap_or_default(),
        ]);
    }
    if results.is_empty() {
        println!("no analyzer produced a result");
    } else {
        println!("{t}");
    }
    let problems: Vec<&run::CollectorRecord> = records
        .iter()
        .filter(|c| !matches!(c.status, Status::Ok | Status::Excluded))
        .collect();
    if !problems.is_empty() {
        eprintln!("\ncollectors that did not complete:");
        for c in problems {
            let st = serde_json::to_value(c.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            eprintln!(
                "  {}{} [{st}]: {}",
                if c.host { "host/" } else { "" },
                c.title,
                c.error.as_deref().unwrap_or("")
            );
        }
    }
}

/// Spec problems and notes on stderr, as they arrive.
fn print_event(e: Event) {
    match e {
        Event::SpecProblem { severity, message } => {
            let tag = if severity == "error" { "error" } else { "note" };
            eprintln!("{tag}: {message}");
        }
        Event::Note { message } => eprintln!("note: {message}"),
        _ => {}
    }
}

/// The exit code of a verdict.
fn exit_code(v: Verdict) -> u8 {
    match v {
        Verdict::Fail => code::FAIL,
        Verdict::Warn => code::WARN,
        Verdict::Pass => code::PASS,
    }
}

/// The exit code of an operation error, printed as troubleshoot does; errors that are not
/// the specs' go to `main` (printed with their chain, exit code by class).
fn spec_error(e: berth_ops::Error) -> Result<u8> {
    match e {
        berth_ops::Error::Spec(_) => {
            output::error(&e.into());
            Ok(code::SPEC)
        }
        berth_ops::Error::SpecProblems { .. } => Ok(code::SPEC),
        berth_ops::Error::Redactor(m) => {
            eprintln!("error: {m}");
            Ok(code::SPEC)
        }
        berth_ops::Error::NoCluster { .. } => {
            eprintln!("error: {e}");
            eprintln!("  fix: {}", ops::NO_CLUSTER_FIX);
            Ok(exit::FAILURE)
        }
        e => Err(e.into()),
    }
}

impl ClusterArgs {
    fn target(&self) -> KubeTarget {
        KubeTarget {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            namespace: self.namespace.clone(),
        }
    }
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        Limits {
            collector_timeout: self.collector_timeout,
            timeout: self.timeout,
            concurrency: self.concurrency,
        }
    }
}

/// `berth preflight`.
pub fn preflight(a: PreflightArgs) -> Result<u8> {
    let input = PreflightInput {
        specs: a.specs.clone(),
        kube: a.cluster.target(),
        limits: a.limits.limits(),
        values_files: a.values.clone(),
        set: a.set.clone(),
        keep_bundle: a.bundle.clone(),
    };
    runtime()?.block_on(async move {
        let report = match ops::preflight(&input, &print_event, &Cancel::new()).await {
            Ok(r) => r,
            Err(e) => return spec_error(e),
        };
        if report.no_analyzers {
            eprintln!("Warning: no Preflight or HostPreflight analyzers found in the given specs");
            return Ok(code::PASS);
        }
        if let Some(p) = &report.bundle {
            eprintln!("collected data: {}", p.display());
        }
        let results = &report.results;
        match a.output {
            Format::Table => {
                print_table(results, &report.collectors);
                let verdict = match report.verdict() {
                    Verdict::Fail => "FAILED",
                    Verdict::Warn => "PASSED with warnings",
                    Verdict::Pass => "PASSED",
                };
                let name = if report.name.is_empty() {
                    "preflight"
                } else {
                    &report.name
                };
                println!("\n{name} {verdict}");
            }
            f => output::print_structured(&report.to_json(), f)?,
        }
        if results.is_empty() {
            eprintln!(
                "error: the preflight completed with no analysis results; check the collector errors above"
            );
            return Ok(code::OTHER);
        }
        Ok(exit_code(report.verdict()))
    })
}

/// `berth support-bundle`.
pub fn support_bundle(a: SupportBundleArgs) -> Result<u8> {
    let input = SupportBundleInput {
        specs: a.specs.clone(),
        kube: a.cluster.target(),
        limits: a.limits.limits(),
        archive: a.archive.clone(),
        no_archive: a.no_archive,
        no_redact: a.no_redact,
        tokenize: a.tokenize,
        no_analyze: a.no_analyze,
    };
    let license = a
        .license
        .as_deref()
        .map(berth_ops::online::LicenseText::read)
        .transpose()?;
    runtime()?.block_on(async move {
        let report = match ops::support_bundle(&input, &print_event, &Cancel::new()).await {
            Ok(r) => r,
            Err(e) => return spec_error(e),
        };
        if let Some(size) = report.size {
            eprintln!("support bundle: {} ({size} bytes)", report.path.display());
        }
        let sent = if a.upload {
            let target = berth_ops::deploy::Target {
                kubeconfig: a.cluster.kubeconfig.clone(),
                context: a.cluster.context.clone(),
                namespace: a.cluster.namespace.clone(),
                timeout: Duration::from_secs(60),
                cluster: None,
            };
            let send = berth_ops::online::SendBundleInput {
                bundle: report.path.clone(),
                license,
                vendor_url: a.vendor_url.clone(),
            };
            let info = berth_ops::online::send_support_bundle(&target, &send, &print_event)
                .await
                .with_context(|| {
                    format!(
                        "the support bundle {} was written but not sent to the vendor",
                        report.path.display()
                    )
                })?;
            eprintln!(
                "sent to the vendor server as support bundle {} ({} bytes, sha256 {})",
                info.id, info.size, info.sha256
            );
            Some(info)
        } else {
            None
        };
        match a.output {
            Format::Table => {
                print_table(&report.results, &report.collectors);
                println!("\nsupport bundle written to {}", report.path.display());
                if let Some(i) = &sent {
                    println!("sent to the vendor as {} ({})", i.id, i.name);
                }
            }
            f => {
                let mut doc = json!({
                    "analyzerResults": report.analysis,
                    "archivePath": report.path,
                    "collectors": report.collectors,
                });
                if let Some(i) = &sent {
                    doc["upload"] = serde_json::to_value(i)?;
                }
                output::print_structured(&doc, f)?;
            }
        }
        // troubleshoot's codes: the bundle is written either way, the code says what the
        // analysis found (3 a check failed, 4 a check warned).
        Ok(exit_code(report.verdict()))
    })
}

/// `berth analyze`.
pub fn analyze_bundle(a: AnalyzeArgs) -> Result<u8> {
    if a.against.is_some() || a.baseline.is_some() {
        let (against, baseline) = (a.against.as_deref(), a.baseline.as_deref());
        return crate::cmd::drift::analyze(&a.bundle, against, baseline, a.output);
    }
    let input = AnalyzeInput {
        bundle: a.bundle.clone(),
        specs: a.specs.clone(),
    };
    runtime()?.block_on(async move {
        let report = match ops::analyze(&input, &print_event).await {
            Ok(r) => r,
            Err(e) => return spec_error(e),
        };
        if !report.not_checked.is_empty() {
            eprintln!(
                "note: not in this bundle, so not checked: {}",
                report.not_checked.join(", ")
            );
        }
        let results = &report.results;
        match a.output {
            Format::Table => print_table(results, &[]),
            f => output::print_structured(
                &json!({"results": results, "analysis": ops::analysis_json(results)}),
                f,
            )?,
        }
        Ok(exit_code(report.verdict()))
    })
}

/// The `berth demo` step: a preflight of this host and the cluster, then a support bundle
/// of the app's namespace with berth's analysis. Returns what to show.
pub async fn demo_step(kubeconfig: PathBuf, namespace: String, work: PathBuf) -> Result<String> {
    let checks = ops::demo_checks(&kubeconfig, &namespace, &work, &print_event).await?;
    let mut lines = Vec::new();
    for c in checks {
        let count = |o: Outcome| c.results.iter().filter(|r| r.outcome == o).count();
        let mut line = format!(
            "{}: {} pass, {} warn, {} fail",
            c.label,
            count(Outcome::Pass),
            count(Outcome::Warn),
            count(Outcome::Fail) + count(Outcome::Error)
        );
        if let Some((archive, size, files)) = &c.archive {
            line.push_str(&format!(
                "; {files} files, {size} bytes in {}",
                archive.display()
            ));
        }
        line.push_str(&format!(" ({:.2}s)", c.seconds));
        for r in c.results.iter().filter(|r| r.outcome != Outcome::Pass) {
            line.push_str(&format!(
                "\n      {} {}: {}",
                outcome_word(r.outcome),
                r.check,
                r.message
            ));
        }
        lines.push(line);
    }
    Ok(lines.join("\n    "))
}
