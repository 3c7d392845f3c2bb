//! `berth preflight`, `berth support-bundle`, `berth analyze`: wiring of `berth-troubleshoot`.
//! Exit codes follow troubleshoot: 0 pass, 3 a check failed, 4 a check warned (no failure),
//! 2 spec problems, 1 anything else (no reachable cluster for cluster collectors). The
//! same table for every command is in crate::exit.

use crate::exit;
use crate::output::{self, Format};
use anyhow::{Context as _, Result, bail};
use berth_troubleshoot::analyze::{self, AnalyzeResult, Outcome};
use berth_troubleshoot::bundle::{self, BundleReader as _};
use berth_troubleshoot::run::{self, CollectOptions, RunOptions, Status};
use berth_troubleshoot::spec::{self, Merged, Severity, Specs};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
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

/// `.Values` from `--values` files and `--set`; `None` when neither is given.
fn template_values(files: &[PathBuf], sets: &[String]) -> Result<Option<Value>> {
    if files.is_empty() && sets.is_empty() {
        return Ok(None);
    }
    let mut values = json!({});
    for f in files {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading values file {}", f.display()))?;
        let v: Value = serde_saphyr::from_str(&text)
            .map_err(|e| anyhow::anyhow!("values file {}: {e}", f.display()))?;
        if !v.is_null() {
            spec::merge_values(&mut values, v);
        }
    }
    for s in sets {
        spec::set_value(&mut values, s).map_err(anyhow::Error::msg)?;
    }
    Ok(Some(values))
}

/// `berth support-bundle`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  berth support-bundle support-bundle.yaml\n  \
berth support-bundle --archive /tmp/acme.tar.gz spec.yaml redactors.yaml\n  \
berth support-bundle            # specs from Secrets/ConfigMaps labelled troubleshoot.sh/kind=support-bundle\n\n\
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

/// berth's default analysis when `berth analyze` gets no spec.
const DEFAULT_ANALYZERS: &str = r#"apiVersion: troubleshoot.sh/v1beta2
kind: Analyzer
metadata: {name: berth-default}
spec:
  analyzers:
    - clusterPodStatuses:
        outcomes:
          - fail: {when: "!= Healthy", message: "Pod {{ .Namespace }}/{{ .Name }} is {{ .Status.Reason }}: {{ .Status.Message }}"}
    - deploymentStatus:
        outcomes:
          - fail: {message: a deployment is not fully available}
    - statefulsetStatus:
        outcomes:
          - fail: {message: a statefulset is not fully ready}
    - defaultStorageClass: {}
    - nodeAvailableResources: {}
    - clockSkew: {}
    - diskPressure: {}
    - clusterDNS: {}
  hostAnalyzers:
    - renamedInterfaces: {}
    - mtuMismatch: {}
    - time:
        outcomes:
          - warn: {when: "ntp == unsynchronized+inactive", message: "The clock is not synchronised and no NTP service runs"}
          - pass: {message: "Clock synchronisation is configured"}
"#;

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Spec kinds each command reads, to suggest the file meant when a directory is given.
const PREFLIGHT_KINDS: &[&str] = &["Preflight", "HostPreflight"];
const BUNDLE_KINDS: &[&str] = &["SupportBundle", "Collector", "HostCollector", "Redactor"];
const ANALYZE_KINDS: &[&str] = &["Analyzer", "SupportBundle", "Preflight", "HostPreflight"];

/// Read every SPEC argument; cluster refs need a client.
async fn load_specs(args: &[String], cluster: &ClusterArgs, kinds: &[&str]) -> Result<Specs> {
    load_specs_with(args, cluster, None, kinds).await
}

/// The error for a directory given where a spec file is expected, naming the spec files of
/// the wanted kinds found in it or in its `checks/` folder (`examples/hello` ->
/// `examples/hello/checks/preflight.yaml`).
fn directory_given(dir: &Path, kinds: &[&str]) -> anyhow::Error {
    let mut found = Vec::new();
    for d in [dir.to_path_buf(), dir.join("checks")] {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            let yaml = f.extension().is_some_and(|e| e == "yaml" || e == "yml");
            let Ok(text) = std::fs::read_to_string(&f) else {
                continue;
            };
            let kind_of = |k: &&str| text.lines().any(|l| l.trim() == format!("kind: {k}"));
            if yaml && text.contains("troubleshoot.sh/") && kinds.iter().any(kind_of) {
                found.push(f.display().to_string());
            }
        }
    }
    let hint = match found.as_slice() {
        [] => format!("pass a {} spec file", kinds.join(" or ")),
        [one] => format!("did you mean {one}?"),
        many => format!("did you mean one of: {}?", many.join(", ")),
    };
    crate::exit::BadInput(format!(
        "{} is a directory, not a spec file: {hint}",
        dir.display()
    ))
    .into()
}

async fn load_specs_with(
    args: &[String],
    cluster: &ClusterArgs,
    values: Option<Value>,
    kinds: &[&str],
) -> Result<Specs> {
    let mut specs = Specs {
        values,
        ..Specs::default()
    };
    let mut client = None;
    for a in args {
        if spec::is_url(a) {
            specs.add_url(a).await?;
        } else if spec::is_cluster_ref(a) {
            if client.is_none() {
                client = Some(
                    run::kube_client(cluster.kubeconfig.as_deref(), cluster.context.as_deref())
                        .await
                        .map_err(anyhow::Error::msg)
                        .with_context(|| format!("reading spec {a}"))?,
                );
            }
            if let Some(c) = &client {
                specs.add_cluster_object(c, a).await?;
            }
        } else if Path::new(a).is_dir() {
            return Err(directory_given(Path::new(a), kinds));
        } else {
            specs.add_file(Path::new(a))?;
        }
    }
    Ok(specs)
}

/// Print spec problems on stderr; returns true if any is an error.
fn report_problems(specs: &Specs) -> bool {
    for p in &specs.problems {
        let tag = match p.severity {
            Severity::Error => "error",
            Severity::Notice => "note",
        };
        eprintln!("{tag}: {p}");
    }
    specs.has_errors()
}

/// The cluster a spec's cluster collectors run against; none when it has only host collectors.
/// No reachable cluster is an error (exit 1) naming what was tried: a bundle of skipped
/// collectors, or checks that "pass with warnings", would hide the real cause.
async fn cluster_for(merged: &Merged, cluster: &ClusterArgs) -> Result<Option<kube::Client>, u8> {
    let mut names: Vec<&str> = merged
        .collectors
        .iter()
        .filter(|c| !c.excluded())
        .map(|c| c.kind.as_str())
        .collect();
    names.dedup();
    if names.is_empty() {
        return Ok(None);
    }
    match run::connect(cluster.kubeconfig.as_deref(), cluster.context.as_deref()).await {
        Ok(c) => Ok(Some(c)),
        Err(e) => {
            eprintln!(
                "error: no Kubernetes cluster to run the cluster collectors ({}) against: {e}",
                names.join(", ")
            );
            eprintln!(
                "  fix: pass --kubeconfig PATH and --context NAME of the cluster (or set KUBECONFIG); \
checks of this machine alone go in a HostPreflight spec"
            );
            Err(exit::FAILURE)
        }
    }
}

fn exit_code(results: &[AnalyzeResult]) -> u8 {
    if results
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Fail | Outcome::Error))
    {
        code::FAIL
    } else if results.iter().any(|r| r.outcome == Outcome::Warn) {
        code::WARN
    } else {
        code::PASS
    }
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

fn preflight_json(results: &[AnalyzeResult]) -> Value {
    let mut out = serde_json::Map::new();
    for (key, kinds) in [
        ("pass", &[Outcome::Pass][..]),
        ("warn", &[Outcome::Warn][..]),
        ("fail", &[Outcome::Fail, Outcome::Error][..]),
    ] {
        let items: Vec<Value> = results
            .iter()
            .filter(|r| kinds.contains(&r.outcome))
            .map(|r| {
                let mut v = json!({"title": r.check, "message": r.message});
                if let Some(u) = &r.uri {
                    v["uri"] = json!(u);
                }
                if r.strict {
                    v["strict"] = json!(true);
                }
                v
            })
            .collect();
        if !items.is_empty() {
            out.insert(key.into(), Value::Array(items));
        }
    }
    Value::Object(out)
}

/// `analysis.json` items (troubleshoot's `pkg/convert` form).
pub fn analysis_json(results: &[AnalyzeResult]) -> Value {
    let items: Vec<Value> = results
        .iter()
        .map(|r| {
            let mut name = String::new();
            let mut dot = false;
            for ch in r.check.to_lowercase().chars() {
                if ch.is_ascii_alphanumeric() {
                    name.push(ch);
                    dot = false;
                } else if !dot {
                    name.push('.');
                    dot = true;
                }
            }
            let severity = match r.outcome {
                Outcome::Fail | Outcome::Error => "error",
                Outcome::Warn => "warn",
                Outcome::Pass => "debug",
            };
            let mut v = json!({
                "name": name,
                "labels": {"desiredPosition": "1", "iconKey": "", "iconUri": ""},
                "insight": {
                    "name": name,
                    "labels": {"iconKey": "", "iconUri": ""},
                    "primary": r.check,
                    "detail": r.message,
                    "severity": severity,
                },
                "severity": severity,
                "analyzerSpec": "",
            });
            if matches!(r.outcome, Outcome::Fail | Outcome::Error) {
                v["error"] = json!(r.message);
            }
            if let Some(o) = &r.involved_object {
                v["involvedObject"] = o.clone();
            }
            if let Some(u) = &r.uri {
                v["uri"] = json!(u);
            }
            v
        })
        .collect();
    Value::Array(items)
}

fn run_options(l: &LimitArgs) -> RunOptions {
    RunOptions {
        collector_timeout: l.collector_timeout,
        deadline: l.timeout,
        concurrency: l.concurrency.max(1),
    }
}

/// `berth preflight`.
pub fn preflight(a: PreflightArgs) -> Result<u8> {
    runtime()?.block_on(async move {
        let loaded = match template_values(&a.values, &a.set) {
            Ok(values) => load_specs_with(&a.specs, &a.cluster, values, PREFLIGHT_KINDS).await,
            Err(e) => Err(e),
        };
        let specs = match loaded {
            Ok(s) => s,
            Err(e) => {
                output::error(&e);
                return Ok(code::SPEC);
            }
        };
        if report_problems(&specs) {
            return Ok(code::SPEC);
        }
        let merged = specs.merge_preflight();
        if merged.analyzers.is_empty() && merged.host_analyzers.is_empty() {
            eprintln!("Warning: no Preflight or HostPreflight analyzers found in the given specs");
            return Ok(code::PASS);
        }
        let kube = match cluster_for(&merged, &a.cluster).await {
            Ok(k) => k,
            Err(code) => return Ok(code),
        };
        let work = tempfile::Builder::new()
            .prefix("berth-preflight-")
            .tempdir()
            .context("creating a temporary directory")?;
        let name = bundle::default_name("preflightbundle", jiff::Zoned::now());
        let collected = run::collect_bundle(
            &merged,
            CollectOptions {
                run: run_options(&a.limits),
                redact: a.bundle.is_some(),
                tokenize: false,
                kube,
                kube_error: None,
                work_dir: work.path().to_path_buf(),
                name,
                version: env!("CARGO_PKG_VERSION").into(),
            },
        )
        .await;
        let collected = match collected {
            Ok(c) => c,
            Err(e @ run::RunError::Redactor(_)) => {
                eprintln!("error: {e}");
                return Ok(code::SPEC);
            }
            Err(e) => return Err(e.into()),
        };
        let reader = collected.writer.reader()?;
        let results = analyze::analyze_all(&merged.analyzers, &merged.host_analyzers, &reader);
        collected.writer.write(
            "analysis.json",
            &serde_json::to_vec_pretty(&analysis_json(&results))?,
        )?;
        if let Some(p) = &a.bundle {
            collected.writer.pack(p)?;
            eprintln!("collected data: {}", p.display());
        }
        match a.output {
            Format::Table => {
                print_table(&results, &collected.report.collectors);
                let code = exit_code(&results);
                let verdict = match code {
                    code::FAIL => "FAILED",
                    code::WARN => "PASSED with warnings",
                    _ => "PASSED",
                };
                println!("\n{} {verdict}", if merged.name.is_empty() { "preflight" } else { &merged.name });
            }
            f => {
                let mut doc = preflight_json(&results);
                doc["collectors"] = serde_json::to_value(&collected.report.collectors)?;
                output::print_structured(&doc, f)?;
            }
        }
        if results.is_empty() {
            eprintln!("error: the preflight completed with no analysis results; check the collector errors above");
            return Ok(code::OTHER);
        }
        Ok(exit_code(&results))
    })
}

/// `berth support-bundle`.
pub fn support_bundle(a: SupportBundleArgs) -> Result<u8> {
    runtime()?.block_on(async move {
        let mut specs = match load_specs(&a.specs, &a.cluster, BUNDLE_KINDS).await {
            Ok(s) => s,
            Err(e) => {
                output::error(&e);
                return Ok(code::SPEC);
            }
        };
        let mut pre_client = None;
        if a.specs.is_empty() {
            match run::connect(a.cluster.kubeconfig.as_deref(), a.cluster.context.as_deref()).await {
                Ok(c) => {
                    match specs.discover(&c, a.cluster.namespace.as_deref()).await {
                        Ok(0) => eprintln!(
                            "note: no Secret or ConfigMap labelled troubleshoot.sh/kind=support-bundle; collecting cluster info and resources"
                        ),
                        Ok(n) => eprintln!("note: using specs from {n} cluster object(s)"),
                        Err(e) => eprintln!("note: {e}; collecting cluster info and resources"),
                    }
                    pre_client = Some(c);
                }
                Err(e) => bail!("no spec given and no cluster to discover specs in: {e}"),
            }
        }
        if report_problems(&specs) {
            return Ok(code::SPEC);
        }
        let merged = specs.merge_support_bundle();
        let merged = if merged.collectors.is_empty() && merged.host_collectors.is_empty() {
            let mut d = Specs::default();
            d.add_text("(default)", "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec: {}\n");
            let mut m = d.merge_support_bundle();
            m.redactors = merged.redactors;
            m
        } else {
            merged
        };
        let kube = match pre_client {
            Some(c) => Some(c),
            None => match cluster_for(&merged, &a.cluster).await {
                Ok(k) => k,
                Err(code) => return Ok(code),
            },
        };
        let name_default = bundle::default_name("support-bundle", jiff::Zoned::now());
        let (archive, name) = match &a.archive {
            Some(p) => {
                let file = p.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let stem = file.strip_suffix(".tar.gz").or(file.strip_suffix(".tgz")).unwrap_or(&file).to_string();
                let path = if a.no_archive || file.ends_with(".tar.gz") || file.ends_with(".tgz") {
                    p.clone()
                } else {
                    p.with_file_name(format!("{file}.tar.gz"))
                };
                (path, if stem.is_empty() { name_default } else { stem })
            }
            None => (PathBuf::from(format!("{name_default}.tar.gz")), name_default),
        };
        let parent = archive
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let work = tempfile::Builder::new()
            .prefix(".berth-bundle-")
            .tempdir_in(&parent)
            .with_context(|| format!("creating a staging directory in {}", parent.display()))?;
        let collected = run::collect_bundle(
            &merged,
            CollectOptions {
                run: run_options(&a.limits),
                redact: !a.no_redact,
                tokenize: a.tokenize,
                kube,
                kube_error: None,
                work_dir: if a.no_archive { parent.clone() } else { work.path().to_path_buf() },
                name: name.clone(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
        )
        .await;
        let collected = match collected {
            Ok(c) => c,
            Err(e @ run::RunError::Redactor(_)) => {
                eprintln!("error: {e}");
                return Ok(code::SPEC);
            }
            Err(e) => return Err(e.into()),
        };
        let results = if a.no_analyze {
            Vec::new()
        } else {
            let reader = collected.writer.reader()?;
            analyze::analyze_all(&merged.analyzers, &merged.host_analyzers, &reader)
        };
        let analysis = analysis_json(&results);
        collected
            .writer
            .write("analysis.json", &serde_json::to_vec_pretty(&analysis)?)?;
        let out_path = if a.no_archive {
            collected.writer.dir().to_path_buf()
        } else {
            let size = collected.writer.pack(&archive)?;
            eprintln!("support bundle: {} ({size} bytes)", archive.display());
            archive.clone()
        };
        match a.output {
            Format::Table => {
                print_table(&results, &collected.report.collectors);
                println!("\nsupport bundle written to {}", out_path.display());
            }
            f => {
                let doc = json!({
                    "analyzerResults": analysis,
                    "archivePath": out_path,
                    "collectors": collected.report.collectors,
                });
                output::print_structured(&doc, f)?;
            }
        }
        // troubleshoot's codes: the bundle is written either way, the code says what the
        // analysis found (3 a check failed, 4 a check warned).
        Ok(exit_code(&results))
    })
}

/// `berth analyze`.
pub fn analyze_bundle(a: AnalyzeArgs) -> Result<u8> {
    if a.against.is_some() || a.baseline.is_some() {
        let (against, baseline) = (a.against.as_deref(), a.baseline.as_deref());
        return crate::cmd::drift::analyze(&a.bundle, against, baseline, a.output);
    }
    runtime()?.block_on(async move {
        let reader = match bundle::open(&a.bundle) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(code::OTHER);
            }
        };
        let mut specs = match load_specs(
            &a.specs,
            &ClusterArgs {
                kubeconfig: None,
                context: None,
                namespace: None,
            },
            ANALYZE_KINDS,
        )
        .await
        {
            Ok(s) => s,
            Err(e) => {
                output::error(&e);
                return Ok(code::SPEC);
            }
        };
        if a.specs.is_empty() {
            specs.add_text("(berth default analyzers)", DEFAULT_ANALYZERS);
        }
        if report_problems(&specs) {
            return Ok(code::SPEC);
        }
        let merged = specs.merge_analyzers();
        let mut results =
            analyze::analyze_all(&merged.analyzers, &merged.host_analyzers, reader.as_ref());
        if a.specs.is_empty() {
            // berth's default analysis judges what the bundle holds: a check whose data was
            // never asked for is not a warning about the app (a spec that names it still is).
            let (skipped, kept): (Vec<_>, Vec<_>) =
                results.into_iter().partition(|r| r.not_collected);
            results = kept;
            if results.is_empty() && !skipped.is_empty() {
                // Nothing to judge is not a pass: most often the cluster was unreachable
                // when the bundle was collected (see its collector-errors/).
                eprintln!(
                    "error: this bundle holds none of the data berth's default checks read; \
                     was the cluster reachable when it was collected? Pass an analyzer spec \
                     to check what it does hold"
                );
                return Ok(code::OTHER);
            }
            if !skipped.is_empty() {
                let names: Vec<&str> = skipped.iter().map(|r| r.check.as_str()).collect();
                eprintln!(
                    "note: not in this bundle, so not checked: {}",
                    names.join(", ")
                );
            }
        }
        match a.output {
            Format::Table => print_table(&results, &[]),
            f => output::print_structured(
                &json!({"results": results, "analysis": analysis_json(&results)}),
                f,
            )?,
        }
        Ok(exit_code(&results))
    })
}

/// The `berth demo` step: a preflight of this host and the cluster, then a support bundle
/// of the app's namespace with berth's analysis. Returns what to show.
pub async fn demo_step(kubeconfig: PathBuf, namespace: String, work: PathBuf) -> Result<String> {
    let client = run::kube_client(Some(&kubeconfig), None)
        .await
        .map_err(anyhow::Error::msg)?;
    let mut specs = Specs::default();
    specs.add_text(
        "(demo)",
        &format!(
            r#"apiVersion: troubleshoot.sh/v1beta2
kind: Preflight
metadata: {{name: demo}}
spec:
  analyzers:
    - clusterVersion:
        outcomes:
          - fail: {{when: "< 1.26.0", message: Kubernetes 1.26 or newer is required}}
          - pass: {{message: Kubernetes version is supported}}
    - nodeResources:
        checkName: Cluster memory
        outcomes:
          - fail: {{when: "sum(memoryCapacity) < 2Gi", message: Need 2 GiB across all nodes}}
          - pass: {{message: Enough memory}}
---
apiVersion: troubleshoot.sh/v1beta2
kind: HostPreflight
metadata: {{name: demo-host}}
spec:
  collectors:
    - cpu: {{}}
    - memory: {{}}
  analyzers:
    - cpu:
        outcomes:
          - fail: {{when: "count < 1", message: at least one CPU}}
          - pass: {{message: CPU ok}}
---
apiVersion: troubleshoot.sh/v1beta2
kind: SupportBundle
metadata: {{name: demo}}
spec:
  collectors:
    - clusterResources: {{namespaces: [{namespace}]}}
    - logs: {{name: app, namespace: {namespace}}}
  analyzers:
    - clusterPodStatuses:
        namespaces: [{namespace}]
        outcomes:
          - fail: {{when: "!= Healthy", message: "Pod {{{{ .Namespace }}}}/{{{{ .Name }}}} is {{{{ .Status.Reason }}}}"}}
          - pass: {{message: "Pod {{{{ .Name }}}} is healthy"}}
    - deploymentStatus:
        namespaces: [{namespace}]
        outcomes:
          - fail: {{message: a deployment is not available}}
"#
        ),
    );
    anyhow::ensure!(!specs.has_errors(), "demo specs: {:?}", specs.problems);
    let mut lines = Vec::new();
    for (label, merged, name) in [
        ("preflight", specs.merge_preflight(), "preflightbundle-demo"),
        (
            "support bundle",
            specs.merge_support_bundle(),
            "support-bundle-demo",
        ),
    ] {
        let t = std::time::Instant::now();
        let collected = run::collect_bundle(
            &merged,
            CollectOptions {
                run: RunOptions::default(),
                redact: true,
                tokenize: false,
                kube: Some(client.clone()),
                kube_error: None,
                work_dir: work.clone(),
                name: name.into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
        )
        .await?;
        let reader = collected.writer.reader()?;
        let results = analyze::analyze_all(&merged.analyzers, &merged.host_analyzers, &reader);
        let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
        let mut line = format!(
            "{label}: {} pass, {} warn, {} fail",
            count(Outcome::Pass),
            count(Outcome::Warn),
            count(Outcome::Fail) + count(Outcome::Error)
        );
        if label == "support bundle" {
            collected.writer.write(
                "analysis.json",
                &serde_json::to_vec_pretty(&analysis_json(&results))?,
            )?;
            let archive = work.join(format!("{name}.tar.gz"));
            let size = collected.writer.pack(&archive)?;
            let files = collected.writer.reader()?.glob("**").len();
            line.push_str(&format!(
                "; {files} files, {size} bytes in {}",
                archive.display()
            ));
        }
        line.push_str(&format!(" ({:.2}s)", t.elapsed().as_secs_f64()));
        for r in results.iter().filter(|r| r.outcome != Outcome::Pass) {
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
