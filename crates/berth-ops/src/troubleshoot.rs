//! Preflight checks, support bundles and offline analysis (berth-troubleshoot) as operations:
//! typed inputs, [`Event`]s for spec problems, collectors and steps, typed reports whose
//! results are pass / warn / fail per check with message and link.

use crate::error::{Error, Result, ResultExt as _};
use crate::progress::{Cancel, Event, Sink, Step, step, step_sync};
use berth_troubleshoot::analyze::{self, AnalyzeResult, Outcome};
use berth_troubleshoot::bundle::{self, BundleReader as _};
use berth_troubleshoot::run::{self, CollectOptions, CollectorRecord, RunOptions, Status};
use berth_troubleshoot::spec::{self, Merged, Severity, Specs};
use serde::Serialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which cluster cluster collectors and cluster spec references use.
#[derive(Debug, Clone, Default)]
pub struct KubeTarget {
    /// Path to the kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context.
    pub context: Option<String>,
    /// Namespace to discover support-bundle specs in (default: every namespace).
    pub namespace: Option<String>,
}

/// Bounds of a collection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bound for each collector.
    pub collector_timeout: Duration,
    /// Bound for the whole collection.
    pub timeout: Duration,
    /// Collectors run at the same time.
    pub concurrency: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            collector_timeout: Duration::from_secs(120),
            timeout: Duration::from_secs(600),
            concurrency: 16,
        }
    }
}

impl Limits {
    fn run_options(&self) -> RunOptions {
        RunOptions {
            collector_timeout: self.collector_timeout,
            deadline: self.timeout,
            concurrency: self.concurrency.max(1),
        }
    }
}

/// The verdict of a set of results: fail if any check failed (or errored), else warn if any
/// warned, else pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check passed.
    Pass,
    /// A check warned and none failed.
    Warn,
    /// A check failed.
    Fail,
}

/// The verdict of `results`.
pub fn verdict(results: &[AnalyzeResult]) -> Verdict {
    if results
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Fail | Outcome::Error))
    {
        Verdict::Fail
    } else if results.iter().any(|r| r.outcome == Outcome::Warn) {
        Verdict::Warn
    } else {
        Verdict::Pass
    }
}

/// berth's default analysis when `berth analyze` gets no spec.
pub const DEFAULT_ANALYZERS: &str = r#"apiVersion: troubleshoot.sh/v1beta2
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

/// Spec kinds each operation reads (to suggest the file meant when a directory is given).
const PREFLIGHT_KINDS: &[&str] = &["Preflight", "HostPreflight"];
const BUNDLE_KINDS: &[&str] = &["SupportBundle", "Collector", "HostCollector", "Redactor"];
const ANALYZE_KINDS: &[&str] = &["Analyzer", "SupportBundle", "Preflight", "HostPreflight"];

/// The error for a directory given where a spec file is expected, naming the spec files of
/// the wanted kinds found in it or in its `checks/` folder (`examples/hello` ->
/// `examples/hello/checks/preflight.yaml`).
fn directory_given(dir: &Path, kinds: &[&str]) -> Error {
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
    Error::BadInput(format!(
        "{} is a directory, not a spec file: {hint}",
        dir.display()
    ))
}

/// Read every SPEC argument (files, `-`, URLs, `secret|configmap/<ns>/<name>[/<key>]`);
/// cluster refs need a client. Errors here are spec errors (class bad input).
async fn load_specs_inner(
    args: &[String],
    cluster: &KubeTarget,
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
            specs.add_url(a).await.map_err(Error::other)?;
        } else if spec::is_cluster_ref(a) {
            if client.is_none() {
                client = Some(
                    run::kube_client(cluster.kubeconfig.as_deref(), cluster.context.as_deref())
                        .await
                        .map_err(|e| {
                            Error::context(format!("reading spec {a}"), std::io::Error::other(e))
                        })?,
                );
            }
            if let Some(c) = &client {
                specs.add_cluster_object(c, a).await.map_err(Error::other)?;
            }
        } else if Path::new(a).is_dir() {
            return Err(directory_given(Path::new(a), kinds));
        } else {
            specs.add_file(Path::new(a)).map_err(Error::other)?;
        }
    }
    Ok(specs)
}

/// The `-o json` document of a preflight (troubleshoot's form: `pass`/`warn`/`fail` lists of
/// `{title, message, uri?, strict?}`).
pub fn preflight_json(results: &[AnalyzeResult]) -> Value {
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

/// [`load_specs_inner`] with its errors marked as spec errors (class bad input).
pub async fn load_specs(
    args: &[String],
    cluster: &KubeTarget,
    values: Option<Value>,
    kinds: &[&str],
) -> Result<Specs> {
    load_specs_inner(args, cluster, values, kinds)
        .await
        .map_err(|e| Error::Spec(Box::new(e)))
}

/// `.Values` for templated v1beta3 specs from values files (merged in order) and `key=value`
/// expressions; `None` when neither is given.
pub fn template_values(files: &[PathBuf], sets: &[String]) -> Result<Option<Value>> {
    if files.is_empty() && sets.is_empty() {
        return Ok(None);
    }
    let mut values = json!({});
    for f in files {
        let text = std::fs::read_to_string(f)
            .ctx(|| format!("reading values file {}", f.display()))
            .map_err(|e| Error::Spec(Box::new(e)))?;
        let v: Value = serde_saphyr::from_str(&text).map_err(|e| {
            Error::Spec(Box::new(Error::Failed(format!(
                "values file {}: {e}",
                f.display()
            ))))
        })?;
        if !v.is_null() {
            spec::merge_values(&mut values, v);
        }
    }
    for s in sets {
        spec::set_value(&mut values, s)
            .map_err(|e| Error::Spec(Box::new(Error::Failed(e.to_string()))))?;
    }
    Ok(Some(values))
}

/// Report spec problems as events; `Err(SpecProblems)` if any is an error.
fn report_problems(specs: &Specs, sink: &dyn Sink) -> Result<()> {
    for p in &specs.problems {
        let severity = match p.severity {
            Severity::Error => "error",
            Severity::Notice => "notice",
        };
        sink.event(Event::SpecProblem {
            severity: severity.into(),
            message: p.to_string(),
        });
    }
    if specs.has_errors() {
        let count = specs
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
        return Err(Error::SpecProblems { count });
    }
    Ok(())
}

/// The cluster a spec's cluster collectors run against; none when it has only host
/// collectors. No reachable cluster is an error naming what was tried: a bundle of skipped
/// collectors, or checks that "pass with warnings", would hide the real cause.
async fn cluster_for(merged: &Merged, cluster: &KubeTarget) -> Result<Option<kube::Client>> {
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
    run::connect(cluster.kubeconfig.as_deref(), cluster.context.as_deref())
        .await
        .map(Some)
        .map_err(|e| Error::NoCluster {
            collectors: names.join(", "),
            cause: e.to_string(),
        })
}

/// The fix for [`Error::NoCluster`], for front ends to show under the error.
pub const NO_CLUSTER_FIX: &str = "pass --kubeconfig PATH and --context NAME of the cluster (or set KUBECONFIG); \
checks of this machine alone go in a HostPreflight spec";

/// Collect, reporting each collector's end as an event; a Redactor problem is a spec error.
async fn collect(merged: &Merged, opts: CollectOptions, sink: &dyn Sink) -> Result<run::Collected> {
    let collected = step(sink, Step::Collect, run::collect_bundle(merged, opts)).await;
    let collected = match collected {
        Ok(c) => c,
        Err(e @ run::RunError::Redactor(_)) => return Err(Error::Redactor(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    for c in &collected.report.collectors {
        sink.event(Event::CollectorFinished {
            title: c.title.clone(),
            host: c.host,
            status: status_word(c.status),
            error: c.error.clone(),
        });
    }
    Ok(collected)
}

fn status_word(s: Status) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// What to check before an install.
#[derive(Debug, Clone, Default)]
pub struct PreflightInput {
    /// Preflight / HostPreflight specs: files, `-`, URLs, `secret|configmap/<ns>/<name>[/<key>]`.
    pub specs: Vec<String>,
    /// The cluster.
    pub kube: KubeTarget,
    /// Collection bounds.
    pub limits: Limits,
    /// Values files for templated v1beta3 specs.
    pub values_files: Vec<PathBuf>,
    /// `key.path=value` for templated v1beta3 specs (after the files).
    pub set: Vec<String>,
    /// Keep the collected data (redacted) as a .tar.gz at this path.
    pub keep_bundle: Option<PathBuf>,
}

/// A preflight's results.
#[derive(Debug, Clone, Serialize)]
pub struct PreflightReport {
    /// The spec's name (empty when unnamed).
    pub name: String,
    /// One row per check: outcome, message, link.
    pub results: Vec<AnalyzeResult>,
    /// What each collector did.
    pub collectors: Vec<CollectorRecord>,
    /// Where the collected data was kept (`keep_bundle`).
    pub bundle: Option<PathBuf>,
    /// The specs hold no analyzer: nothing was collected or checked.
    pub no_analyzers: bool,
}

impl PreflightReport {
    /// Fail, warn or pass.
    pub fn verdict(&self) -> Verdict {
        verdict(&self.results)
    }

    /// The `-o json` document (troubleshoot's form plus `collectors`).
    pub fn to_json(&self) -> Value {
        let mut doc = preflight_json(&self.results);
        doc["collectors"] = serde_json::to_value(&self.collectors).unwrap_or(Value::Null);
        doc
    }
}

/// Run troubleshoot.sh Preflight / HostPreflight checks against this host and the cluster.
pub async fn preflight(
    input: &PreflightInput,
    sink: &dyn Sink,
    cancel: &Cancel,
) -> Result<PreflightReport> {
    let specs = step(sink, Step::LoadSpecs, async {
        let values = template_values(&input.values_files, &input.set)?;
        load_specs(&input.specs, &input.kube, values, PREFLIGHT_KINDS).await
    })
    .await?;
    report_problems(&specs, sink)?;
    let merged = specs.merge_preflight();
    let mut report = PreflightReport {
        name: merged.name.clone(),
        results: Vec::new(),
        collectors: Vec::new(),
        bundle: None,
        no_analyzers: merged.analyzers.is_empty() && merged.host_analyzers.is_empty(),
    };
    if report.no_analyzers {
        return Ok(report);
    }
    let kube = cluster_for(&merged, &input.kube).await?;
    cancel.check()?;
    let work = tempfile::Builder::new()
        .prefix("berth-preflight-")
        .tempdir()
        .ctx(|| "creating a temporary directory".into())?;
    let opts = CollectOptions {
        run: input.limits.run_options(),
        redact: input.keep_bundle.is_some(),
        tokenize: false,
        kube,
        kube_error: None,
        work_dir: work.path().to_path_buf(),
        name: bundle::default_name("preflightbundle", jiff::Zoned::now()),
        version: env!("CARGO_PKG_VERSION").into(),
    };
    let collected = collect(&merged, opts, sink).await?;
    cancel.check()?;
    let results = step_sync(sink, Step::Analyze, || -> Result<_> {
        let reader = collected.writer.reader()?;
        Ok(analyze::analyze_all(
            &merged.analyzers,
            &merged.host_analyzers,
            &reader,
        ))
    })?;
    collected.writer.write(
        "analysis.json",
        &serde_json::to_vec_pretty(&analysis_json(&results))?,
    )?;
    if let Some(p) = &input.keep_bundle {
        step_sync(sink, Step::Pack, || collected.writer.pack(p))?;
        report.bundle = Some(p.clone());
    }
    report.results = results;
    report.collectors = collected.report.collectors;
    Ok(report)
}

/// What to collect into a support bundle.
#[derive(Debug, Clone, Default)]
pub struct SupportBundleInput {
    /// SupportBundle / Collector / Redactor specs; none = discover them in the cluster
    /// (Secrets and ConfigMaps labelled `troubleshoot.sh/kind=support-bundle`).
    pub specs: Vec<String>,
    /// The cluster.
    pub kube: KubeTarget,
    /// Collection bounds.
    pub limits: Limits,
    /// Archive path (default: `./support-bundle-<time>.tar.gz`); with `no_archive`, the
    /// directory's parent and name.
    pub archive: Option<PathBuf>,
    /// Write a directory instead of a .tar.gz.
    pub no_archive: bool,
    /// Do not redact (not even the default redactors).
    pub no_redact: bool,
    /// Replace redacted values with stable tokens.
    pub tokenize: bool,
    /// Skip the analyzers.
    pub no_analyze: bool,
}

/// A written support bundle and its analysis.
#[derive(Debug, Clone, Serialize)]
pub struct SupportBundleReport {
    /// The archive (or directory with `no_archive`).
    pub path: PathBuf,
    /// The archive's size in bytes (none for a directory).
    pub size: Option<u64>,
    /// One row per check.
    pub results: Vec<AnalyzeResult>,
    /// `analysis.json` as written into the bundle.
    pub analysis: Value,
    /// What each collector did.
    pub collectors: Vec<CollectorRecord>,
}

impl SupportBundleReport {
    /// Fail, warn or pass.
    pub fn verdict(&self) -> Verdict {
        verdict(&self.results)
    }
}

/// Where the archive goes and the bundle's name (its top directory): `archive` as given
/// (`.tar.gz` added unless it has it or `no_archive`), else `./<default name>.tar.gz`.
pub fn archive_path(
    archive: Option<&Path>,
    no_archive: bool,
    default: String,
) -> (PathBuf, String) {
    match archive {
        Some(p) => {
            let file = p
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let stem = file
                .strip_suffix(".tar.gz")
                .or(file.strip_suffix(".tgz"))
                .unwrap_or(&file)
                .to_string();
            let path = if no_archive || file.ends_with(".tar.gz") || file.ends_with(".tgz") {
                p.to_path_buf()
            } else {
                p.with_file_name(format!("{file}.tar.gz"))
            };
            (path, if stem.is_empty() { default } else { stem })
        }
        None => (PathBuf::from(format!("{default}.tar.gz")), default),
    }
}

/// Specs given, or discovered in the cluster (then its client is returned too).
async fn bundle_specs(
    input: &SupportBundleInput,
    sink: &dyn Sink,
) -> Result<(Specs, Option<kube::Client>)> {
    let mut specs = load_specs(&input.specs, &input.kube, None, BUNDLE_KINDS).await?;
    if !input.specs.is_empty() {
        return Ok((specs, None));
    }
    let k = &input.kube;
    let c = run::connect(k.kubeconfig.as_deref(), k.context.as_deref())
        .await
        .map_err(|e| {
            Error::Failed(format!(
                "no spec given and no cluster to discover specs in: {e}"
            ))
        })?;
    let note = match specs.discover(&c, k.namespace.as_deref()).await {
        Ok(0) => "no Secret or ConfigMap labelled troubleshoot.sh/kind=support-bundle; collecting cluster info and resources".to_string(),
        Ok(n) => format!("using specs from {n} cluster object(s)"),
        Err(e) => format!("{e}; collecting cluster info and resources"),
    };
    sink.event(Event::Note { message: note });
    Ok((specs, Some(c)))
}

/// Collect a redacted, analysed support bundle.
pub async fn support_bundle(
    input: &SupportBundleInput,
    sink: &dyn Sink,
    cancel: &Cancel,
) -> Result<SupportBundleReport> {
    let (specs, pre_client) = step(sink, Step::LoadSpecs, bundle_specs(input, sink)).await?;
    report_problems(&specs, sink)?;
    let merged = specs.merge_support_bundle();
    let merged = if merged.collectors.is_empty() && merged.host_collectors.is_empty() {
        let mut d = Specs::default();
        d.add_text(
            "(default)",
            "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec: {}\n",
        );
        let mut m = d.merge_support_bundle();
        m.redactors = merged.redactors;
        m
    } else {
        merged
    };
    let kube = match pre_client {
        Some(c) => Some(c),
        None => cluster_for(&merged, &input.kube).await?,
    };
    cancel.check()?;
    let default = bundle::default_name("support-bundle", jiff::Zoned::now());
    let (archive, name) = archive_path(input.archive.as_deref(), input.no_archive, default);
    let parent = archive
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let work = tempfile::Builder::new()
        .prefix(".berth-bundle-")
        .tempdir_in(&parent)
        .ctx(|| format!("creating a staging directory in {}", parent.display()))?;
    let opts = CollectOptions {
        run: input.limits.run_options(),
        redact: !input.no_redact,
        tokenize: input.tokenize,
        kube,
        kube_error: None,
        work_dir: if input.no_archive {
            parent.clone()
        } else {
            work.path().to_path_buf()
        },
        name,
        version: env!("CARGO_PKG_VERSION").into(),
    };
    let collected = collect(&merged, opts, sink).await?;
    cancel.check()?;
    let results = if input.no_analyze {
        Vec::new()
    } else {
        step_sync(sink, Step::Analyze, || -> Result<_> {
            let reader = collected.writer.reader()?;
            Ok(analyze::analyze_all(
                &merged.analyzers,
                &merged.host_analyzers,
                &reader,
            ))
        })?
    };
    let analysis = analysis_json(&results);
    collected
        .writer
        .write("analysis.json", &serde_json::to_vec_pretty(&analysis)?)?;
    let (path, size) = if input.no_archive {
        (collected.writer.dir().to_path_buf(), None)
    } else {
        let size = step_sync(sink, Step::Pack, || collected.writer.pack(&archive))?;
        (archive.clone(), Some(size))
    };
    Ok(SupportBundleReport {
        path,
        size,
        results,
        analysis,
        collectors: collected.report.collectors,
    })
}

/// What to analyse offline.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeInput {
    /// A support bundle: .tar.gz or directory (made by berth or troubleshoot).
    pub bundle: PathBuf,
    /// Analyzer / SupportBundle / Preflight specs; none = berth's default analysis.
    pub specs: Vec<String>,
}

/// An offline analysis.
#[derive(Debug, Clone, Serialize)]
pub struct AnalyzeReport {
    /// One row per check.
    pub results: Vec<AnalyzeResult>,
    /// Default checks whose data the bundle does not hold (so not checked).
    pub not_checked: Vec<String>,
}

impl AnalyzeReport {
    /// Fail, warn or pass.
    pub fn verdict(&self) -> Verdict {
        verdict(&self.results)
    }
}

/// Run analyzers on a support bundle (berth's default diagnosis without a spec).
pub async fn analyze(input: &AnalyzeInput, sink: &dyn Sink) -> Result<AnalyzeReport> {
    let reader = bundle::open(&input.bundle).map_err(|e| Error::Failed(e.to_string()))?;
    let mut specs = step(
        sink,
        Step::LoadSpecs,
        load_specs(&input.specs, &KubeTarget::default(), None, ANALYZE_KINDS),
    )
    .await?;
    let default = input.specs.is_empty();
    if default {
        specs.add_text("(berth default analyzers)", DEFAULT_ANALYZERS);
    }
    report_problems(&specs, sink)?;
    let merged = specs.merge_analyzers();
    let results = step_sync(sink, Step::Analyze, || -> Result<_> {
        Ok(analyze::analyze_all(
            &merged.analyzers,
            &merged.host_analyzers,
            reader.as_ref(),
        ))
    })?;
    if !default {
        return Ok(AnalyzeReport {
            results,
            not_checked: Vec::new(),
        });
    }
    // berth's default analysis judges what the bundle holds: a check whose data was never
    // asked for is not a warning about the app (a spec that names it still is).
    let (skipped, kept): (Vec<_>, Vec<_>) = results.into_iter().partition(|r| r.not_collected);
    if kept.is_empty() && !skipped.is_empty() {
        // Nothing to judge is not a pass: most often the cluster was unreachable when the
        // bundle was collected (see its collector-errors/).
        return Err(Error::Failed(
            "this bundle holds none of the data berth's default checks read; \
             was the cluster reachable when it was collected? Pass an analyzer spec \
             to check what it does hold"
                .into(),
        ));
    }
    Ok(AnalyzeReport {
        results: kept,
        not_checked: skipped.into_iter().map(|r| r.check).collect(),
    })
}

/// One check of [`demo_checks`].
#[derive(Debug, Clone, Serialize)]
pub struct DemoCheck {
    /// `preflight` or `support bundle`.
    pub label: String,
    /// One row per check.
    pub results: Vec<AnalyzeResult>,
    /// The support bundle archive, its size in bytes and file count (support bundle only).
    pub archive: Option<(PathBuf, u64, usize)>,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// The tour's checks (`berth demo`): a preflight of this host and the cluster, then a
/// support bundle of the app's namespace with its analysis, written under `work`.
pub async fn demo_checks(
    kubeconfig: &Path,
    namespace: &str,
    work: &Path,
    sink: &dyn Sink,
) -> Result<Vec<DemoCheck>> {
    let client = run::kube_client(Some(kubeconfig), None)
        .await
        .map_err(Error::Failed)?;
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
    report_problems(&specs, sink)?;
    let mut out = Vec::new();
    for (label, merged, name) in [
        ("preflight", specs.merge_preflight(), "preflightbundle-demo"),
        (
            "support bundle",
            specs.merge_support_bundle(),
            "support-bundle-demo",
        ),
    ] {
        let t = std::time::Instant::now();
        let opts = CollectOptions {
            run: RunOptions::default(),
            redact: true,
            tokenize: false,
            kube: Some(client.clone()),
            kube_error: None,
            work_dir: work.to_path_buf(),
            name: name.into(),
            version: env!("CARGO_PKG_VERSION").into(),
        };
        let collected = collect(&merged, opts, sink).await?;
        let reader = collected.writer.reader()?;
        let results = analyze::analyze_all(&merged.analyzers, &merged.host_analyzers, &reader);
        let mut archive = None;
        if label == "support bundle" {
            collected.writer.write(
                "analysis.json",
                &serde_json::to_vec_pretty(&analysis_json(&results))?,
            )?;
            let path = work.join(format!("{name}.tar.gz"));
            let size = collected.writer.pack(&path)?;
            let files = collected.writer.reader()?.glob("**").len();
            archive = Some((path, size, files));
        }
        out.push(DemoCheck {
            label: label.into(),
            results,
            archive,
            seconds: t.elapsed().as_secs_f64(),
        });
    }
    Ok(out)
}
