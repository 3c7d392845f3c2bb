//! The operations the console runs, over the same engines and the same revision records as
//! the CLI: config resolution and rendering (berth-spec, berth-render), deploy, rollback,
//! status and history (berth-deploy), preflight and support bundle (berth-troubleshoot).
//! Each takes typed input, reports typed progress events and returns a typed result.
//!
//! This module is the console's seam to the shared operations library: when that library
//! lands, these functions become calls into it.

use berth_deploy::engine::{
    DeployError, Event, HistoryEntry, Mode, Options, Progress, Release, Report, StatusReport,
};
use berth_deploy::inventory::{Revision, Status};
use berth_deploy::object::{Manifest, set_annotation};
use berth_deploy::order::ANNOTATION_WEIGHT;
use berth_deploy::plan::Plan;
use berth_deploy::policy::UpgradePolicy;
use berth_deploy::{Cluster, Engine};
use berth_spec::LoadedApp;
use berth_spec::config::{ConfigProblem, ResolvedConfig};
use berth_troubleshoot::analyze::{self, AnalyzeResult, Outcome};
use berth_troubleshoot::run::{self, CollectOptions, RunOptions};
use berth_troubleshoot::spec::Specs;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A progress event of any operation (what the page shows live).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OpEvent {
    /// A new phase started.
    Phase {
        /// What the phase is.
        text: String,
    },
    /// One object changed.
    Object {
        /// `kind/name what`.
        text: String,
    },
    /// Readiness progress.
    Waiting {
        /// `ready/total` and what is waited on.
        text: String,
    },
    /// A note.
    Note {
        /// The note.
        text: String,
    },
    /// The operation ended.
    Done {
        /// Whether it succeeded.
        ok: bool,
        /// The result in words.
        text: String,
    },
}

/// Where events go.
pub type Sink = Arc<dyn Fn(OpEvent) + Send + Sync>;

/// Turns engine events into [`OpEvent`]s.
struct EngineProgress(Sink);

impl Progress for EngineProgress {
    fn event(&self, e: Event) {
        let ev = match e {
            Event::Phase(p) => OpEvent::Phase { text: p },
            Event::Object { object, what } => OpEvent::Object {
                text: format!("{}/{} {what}", object.kind.to_lowercase(), object.name),
            },
            Event::Waiting {
                ready,
                total,
                waiting,
            } => {
                let first = waiting
                    .first()
                    .map(|(r, why)| {
                        format!("; waiting for {}/{}: {why}", r.kind.to_lowercase(), r.name)
                    })
                    .unwrap_or_default();
                OpEvent::Waiting {
                    text: format!("{ready}/{total} ready{first}"),
                }
            }
            Event::Note(n) => OpEvent::Note { text: n },
        };
        (self.0)(ev)
    }
}

/// Errors of console operations, in words for the page.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The app directory cannot be read.
    #[error("{0}")]
    App(String),
    /// The config values have problems (shown at their fields).
    #[error("the configuration has {} problem(s)", .0.len())]
    Config(Vec<ConfigProblem>),
    /// Rendering failed.
    #[error("rendering the app failed: {0}")]
    Render(String),
    /// The deploy engine failed.
    #[error(transparent)]
    Deploy(Box<DeployError>),
    /// The cluster failed.
    #[error(transparent)]
    Cluster(Box<berth_deploy::cluster::ClusterError>),
    /// Troubleshoot specs or collection failed.
    #[error("{0}")]
    Troubleshoot(String),
}

impl From<DeployError> for OpError {
    fn from(e: DeployError) -> Self {
        OpError::Deploy(Box::new(e))
    }
}

impl From<berth_deploy::cluster::ClusterError> for OpError {
    fn from(e: berth_deploy::cluster::ClusterError) -> Self {
        OpError::Cluster(Box::new(e))
    }
}

/// The operations bound to one app in one namespace (cheap to clone).
#[derive(Clone)]
pub struct Ops {
    cluster: Arc<Cluster>,
    namespace: String,
    app_dir: PathBuf,
    timeout: Duration,
    work_dir: PathBuf,
}

/// A rendered release ready to deploy, with the config it came from.
#[derive(Clone)]
pub struct Prepared {
    /// What the engine deploys.
    pub release: Release,
    /// Install or upgrade.
    pub mode: Mode,
}

/// The outcome of a preflight.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PreflightResult {
    /// One row per check.
    pub results: Vec<AnalyzeResult>,
    /// When it ran (RFC 3339).
    pub at: String,
}

impl PreflightResult {
    /// Whether any check failed (or could not run): deploy is blocked unless overridden.
    pub fn failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Fail | Outcome::Error))
    }
}

/// A written support bundle.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BundleResult {
    /// File name under the work directory (`<name>.tar.gz`).
    pub file: String,
    /// Size in bytes.
    pub size: u64,
    /// The analysis.
    pub results: Vec<AnalyzeResult>,
    /// Redacted files inside the bundle (relative paths).
    pub files: Vec<String>,
    /// When it was made (RFC 3339).
    pub at: String,
}

fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}

impl Ops {
    /// Operations on the app in `app_dir`, installed in `namespace`.
    pub fn new(
        cluster: Arc<Cluster>,
        namespace: String,
        app_dir: PathBuf,
        timeout: Duration,
        work_dir: PathBuf,
    ) -> Ops {
        Ops {
            cluster,
            namespace,
            app_dir,
            timeout,
            work_dir,
        }
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The work directory (support bundles).
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// The cluster.
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    fn engine(&self, sink: Option<Sink>) -> Engine {
        let progress: Arc<dyn Progress> = match sink {
            Some(s) => Arc::new(EngineProgress(s)),
            None => Arc::new(berth_deploy::engine::Quiet),
        };
        Engine::new(
            self.cluster.clone(),
            Options {
                namespace: self.namespace.clone(),
                timeout: self.timeout,
                ..Options::default()
            },
            progress,
        )
    }

    /// Read berth.yaml (every request: an edited app directory shows at once).
    pub fn app(&self) -> Result<LoadedApp, OpError> {
        berth_spec::load(&self.app_dir).map_err(|e| OpError::App(e.to_string()))
    }

    /// Every revision, oldest first (the CLI's records).
    pub async fn revisions(&self, app: &str) -> Result<Vec<Revision>, OpError> {
        Ok(self.engine(None).revisions(app).await?)
    }

    /// `berth history`.
    pub async fn history(&self, app: &str) -> Result<Vec<HistoryEntry>, OpError> {
        Ok(self.engine(None).history(app).await?)
    }

    /// `berth status`; `None` when the app is not installed.
    pub async fn status(&self, app: &str) -> Result<Option<StatusReport>, OpError> {
        // The engine's status future is not provably Send (closures over borrowed data in
        // its stream combinators), so it is driven on a blocking thread of this runtime.
        let me = self.clone();
        let app = app.to_string();
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || rt.block_on(me.status_here(&app)))
            .await
            .map_err(|e| OpError::App(format!("status stopped: {e}")))?
    }

    async fn status_here(&self, app: &str) -> Result<Option<StatusReport>, OpError> {
        match self.engine(None).status(app).await {
            Ok(s) => Ok(Some(s)),
            Err(DeployError::NotInstalled { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The config of the newest revision (values the screen starts from), if any.
    pub async fn current_config(&self, app: &str) -> Result<Option<ResolvedConfig>, OpError> {
        let revs = self.revisions(app).await?;
        Ok(revs
            .last()
            .and_then(|r| serde_json::from_value(r.config.clone()).ok()))
    }

    /// Check `input` against the config screen, keeping generated values of the newest revision.
    pub fn resolve(
        &self,
        app: &LoadedApp,
        input: &BTreeMap<String, Value>,
        previous: Option<&ResolvedConfig>,
    ) -> Result<ResolvedConfig, OpError> {
        berth_spec::config::resolve(
            &app.app,
            input,
            previous,
            &mut berth_spec::config::generate_value,
        )
        .map_err(OpError::Config)
    }

    /// Render the app with `config` against the live cluster (as `berth install` does).
    pub async fn prepare(
        &self,
        app: &LoadedApp,
        config: &ResolvedConfig,
    ) -> Result<Prepared, OpError> {
        let name = app.app.metadata.name.clone();
        let history = self.revisions(&name).await?;
        let is_upgrade = history.iter().any(|r| r.status == Status::Deployed);
        let opts = berth_render::AppRenderOptions {
            namespace: self.namespace.clone(),
            revision: i64::from(history.iter().map(|r| r.number).max().unwrap_or(0)) + 1,
            is_upgrade,
            kube_version: Some(self.cluster.git_version().await?),
            live_api_versions: Some(self.cluster.api_versions().await?),
            lookup: Some(self.cluster.template_lookup()),
            ..Default::default()
        };
        let comps = berth_render::render_app(app, config, &opts)
            .map_err(|e| OpError::Render(e.to_string()))?;
        let mut objects = Vec::new();
        for c in comps {
            for o in c.objects {
                let mut m = Manifest::new(o.object, o.source);
                if m.object.pointer("/metadata/namespace").is_none()
                    && let Some(meta) = m.object.get_mut("metadata").and_then(Value::as_object_mut)
                {
                    meta.insert("namespace".into(), json!(c.namespace));
                }
                if c.weight != 0 && m.annotation(ANNOTATION_WEIGHT).is_none() {
                    set_annotation(&mut m.object, ANNOTATION_WEIGHT, &c.weight.to_string());
                }
                objects.push(m);
            }
        }
        let spec = &app.app.spec;
        let policy = UpgradePolicy {
            min_upgrade_from: spec
                .upgrades
                .as_ref()
                .and_then(|u| u.minimum_version.clone()),
            required_releases: spec
                .upgrades
                .as_ref()
                .map(|u| u.required.clone())
                .unwrap_or_default(),
            kubernetes: spec
                .compatibility
                .as_ref()
                .and_then(|c| c.kubernetes.clone()),
        };
        Ok(Prepared {
            release: Release {
                app: name,
                version: app
                    .app
                    .metadata
                    .version
                    .clone()
                    .unwrap_or_else(|| "0.0.0".into()),
                objects,
                config: serde_json::to_value(config).unwrap_or(Value::Null),
                policy,
            },
            mode: if is_upgrade {
                Mode::Upgrade
            } else {
                Mode::Install
            },
        })
    }

    /// The plan of changes `p` would make (`berth diff`).
    pub async fn diff(&self, p: &Prepared) -> Result<Plan, OpError> {
        Ok(self.engine(None).diff(&p.release).await?)
    }

    /// Install or upgrade (a failed upgrade rolls back by itself, as on the CLI).
    pub async fn deploy(&self, p: Prepared, sink: Sink) -> Result<Report, OpError> {
        let engine = self.engine(Some(sink));
        Ok(engine.deploy(p.release, p.mode, false).await?)
    }

    /// Roll back to `revision` (default: the previous successful one).
    pub async fn rollback(
        &self,
        app: &str,
        revision: Option<u32>,
        sink: Sink,
    ) -> Result<Report, OpError> {
        Ok(self
            .engine(Some(sink))
            .rollback(app, revision, false)
            .await?)
    }

    fn specs(&self, app: &LoadedApp, files: &[&String]) -> Result<Specs, OpError> {
        let mut specs = Specs::default();
        for f in files {
            specs
                .add_file(&app.path(f))
                .map_err(|e| OpError::Troubleshoot(e.to_string()))?;
        }
        if specs.has_errors() {
            let msgs: Vec<String> = specs.problems.iter().map(|p| p.to_string()).collect();
            return Err(OpError::Troubleshoot(msgs.join("; ")));
        }
        Ok(specs)
    }

    /// Run the app's preflight checks (`spec.checks.preflights` and `hostPreflights`).
    pub async fn preflight(&self, sink: Sink) -> Result<PreflightResult, OpError> {
        let app = self.app()?;
        let files: Vec<&String> = app
            .app
            .spec
            .checks
            .iter()
            .flat_map(|c| c.preflights.iter().chain(&c.host_preflights))
            .collect();
        sink(OpEvent::Phase {
            text: format!("reading {} preflight spec(s)", files.len()),
        });
        let merged = self.specs(&app, &files)?.merge_preflight();
        let work = tempfile::Builder::new()
            .prefix("preflight-")
            .tempdir_in(&self.work_dir)
            .map_err(|e| OpError::Troubleshoot(format!("cannot make a work directory: {e}")))?;
        sink(OpEvent::Phase {
            text: format!("collecting ({} collectors)", merged.collectors.len()),
        });
        let collected = self
            .collect(&merged, work.path(), "preflightbundle", false)
            .await?;
        report_collectors(&sink, &collected.report);
        sink(OpEvent::Phase {
            text: "analysing".into(),
        });
        let reader = collected
            .writer
            .reader()
            .map_err(|e| OpError::Troubleshoot(e.to_string()))?;
        let results = analyze::analyze_all(&merged.analyzers, &merged.host_analyzers, &reader);
        for r in &results {
            sink(OpEvent::Note {
                text: format!("{}: {}", outcome_word(r.outcome), r.check),
            });
        }
        Ok(PreflightResult { results, at: now() })
    }

    async fn collect(
        &self,
        merged: &berth_troubleshoot::spec::Merged,
        work: &Path,
        name: &str,
        redact: bool,
    ) -> Result<run::Collected, OpError> {
        run::collect_bundle(
            merged,
            CollectOptions {
                run: RunOptions::default(),
                redact,
                tokenize: false,
                kube: Some(self.cluster.client().clone()),
                kube_error: None,
                work_dir: work.to_path_buf(),
                name: name.into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
        )
        .await
        .map_err(|e| OpError::Troubleshoot(e.to_string()))
    }

    /// Collect a redacted support bundle of the app (`spec.checks.supportBundles` and
    /// `redactors`), analyse it and pack it under the work directory.
    pub async fn support_bundle(&self, sink: Sink) -> Result<BundleResult, OpError> {
        let app = self.app()?;
        let files: Vec<&String> = app
            .app
            .spec
            .checks
            .iter()
            .flat_map(|c| c.support_bundles.iter().chain(&c.redactors))
            .collect();
        sink(OpEvent::Phase {
            text: format!("reading {} spec(s)", files.len()),
        });
        let mut specs = self.specs(&app, &files)?;
        if files.is_empty() {
            specs.add_text(
                "(default)",
                "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec: {}\n",
            );
        }
        let merged = specs.merge_support_bundle();
        let name = berth_troubleshoot::bundle::default_name("support-bundle", jiff::Zoned::now());
        let stage = tempfile::Builder::new()
            .prefix(".bundle-")
            .tempdir_in(&self.work_dir)
            .map_err(|e| OpError::Troubleshoot(format!("cannot make a work directory: {e}")))?;
        sink(OpEvent::Phase {
            text: format!(
                "collecting ({} collectors, redacting every file)",
                merged.collectors.len() + merged.host_collectors.len()
            ),
        });
        let collected = self.collect(&merged, stage.path(), &name, true).await?;
        report_collectors(&sink, &collected.report);
        sink(OpEvent::Phase {
            text: "analysing".into(),
        });
        let tserr =
            |e: berth_troubleshoot::bundle::BundleError| OpError::Troubleshoot(e.to_string());
        let reader = collected.writer.reader().map_err(tserr)?;
        let results = analyze::analyze_all(&merged.analyzers, &merged.host_analyzers, &reader);
        let analysis = serde_json::to_vec_pretty(&results).unwrap_or_default();
        collected
            .writer
            .write("analysis.json", &analysis)
            .map_err(tserr)?;
        let mut names = berth_troubleshoot::bundle::BundleReader::glob(&reader, "**");
        names.sort();
        sink(OpEvent::Phase {
            text: format!("packing {} files", names.len()),
        });
        let file = format!("{name}.tar.gz");
        let size = collected
            .writer
            .pack(&self.work_dir.join(&file))
            .map_err(tserr)?;
        Ok(BundleResult {
            file,
            size,
            results,
            files: names,
            at: now(),
        })
    }
}

fn report_collectors(sink: &Sink, report: &run::RunReport) {
    for c in &report.collectors {
        let how = match c.status {
            run::Status::Ok => "collected".to_string(),
            run::Status::Excluded => "excluded".to_string(),
            other => format!(
                "{}: {}",
                serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                c.error.clone().unwrap_or_default()
            ),
        };
        sink(OpEvent::Object {
            text: format!("{} {how} ({} ms)", c.title, c.millis),
        });
    }
}

/// `pass`, `warn`, `fail` or `error`.
pub fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Warn => "warn",
        Outcome::Fail => "fail",
        Outcome::Error => "error",
    }
}

/// One line of a unified diff between two texts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DiffLine {
    /// `+`, `-` or ` `.
    pub sign: char,
    /// The line.
    pub text: String,
}

/// The per-object differences between two sets of rendered objects (two revisions, or the
/// installed revision and a reviewed change), as YAML with Secrets' values hidden:
/// `(object, lines)` for each object added, removed or changed.
pub fn objects_diff(from: &[Manifest], to: &[Manifest]) -> Vec<(String, Vec<DiffLine>)> {
    let index = |objs: &[Manifest]| -> BTreeMap<String, String> {
        objs.iter()
            .map(|m| {
                let r = m.reference();
                (
                    format!("{}/{}", r.kind.to_lowercase(), r.name),
                    shown_yaml(&m.object),
                )
            })
            .collect()
    };
    let (a, b) = (index(from), index(to));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        let old = a.get(k).map(String::as_str).unwrap_or("");
        let new = b.get(k).map(String::as_str).unwrap_or("");
        if old != new {
            out.push((k.clone(), line_diff(old, new)));
        }
    }
    out
}

/// YAML of an object for display: a Secret's values are replaced by their length.
pub fn shown_yaml(obj: &Value) -> String {
    let mut o = obj.clone();
    if o.get("kind").and_then(Value::as_str) == Some("Secret") {
        for key in ["data", "stringData"] {
            if let Some(m) = o.get_mut(key).and_then(Value::as_object_mut) {
                for v in m.values_mut() {
                    let n = v.as_str().map_or(0, str::len);
                    *v = json!(format!("(hidden, {n} characters)"));
                }
            }
        }
    }
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
        // berth's own bookkeeping (labels the engine adds when it applies) is not a change
        // the customer made.
        for key in ["labels", "annotations"] {
            if let Some(map) = m.get_mut(key).and_then(Value::as_object_mut) {
                map.retain(|k, _| !k.starts_with("berth.dev/"));
            }
        }
    }
    serde_saphyr::to_string(&o).unwrap_or_default()
}

/// A line diff (longest common subsequence); only changed lines and 2 lines of context.
pub fn line_diff(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Objects are small; a table over a few thousand lines is cheap. Beyond that, show both whole.
    if a.len().saturating_mul(b.len()) > 4_000_000 {
        return a
            .iter()
            .map(|l| DiffLine {
                sign: '-',
                text: (*l).into(),
            })
            .chain(b.iter().map(|l| DiffLine {
                sign: '+',
                text: (*l).into(),
            }))
            .collect();
    }
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * (m + 1) + j] = if a[i] == b[j] {
                lcs[(i + 1) * (m + 1) + j + 1] + 1
            } else {
                lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
            };
        }
    }
    let mut all = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            all.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
            // Removals first, as unified diffs print them.
            all.push(('-', a[i]));
            i += 1;
        } else {
            all.push(('+', b[j]));
            j += 1;
        }
    }
    // Keep changes and two lines around each.
    let near = |k: usize| {
        let lo = k.saturating_sub(2);
        let hi = (k + 3).min(all.len());
        all[lo..hi].iter().any(|(s, _)| *s != ' ')
    };
    (0..all.len())
        .filter(|&k| all[k].0 != ' ' || near(k))
        .map(|k| DiffLine {
            sign: all[k].0,
            text: all[k].1.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_diff_marks_changes_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\n";
        let new = "a\nb\nc\nD\ne\nf\ng\nh\n";
        let d: Vec<String> = line_diff(old, new)
            .iter()
            .map(|l| format!("{}{}", l.sign, l.text))
            .collect();
        assert_eq!(d, vec![" b", " c", "-d", "+D", " e", " f", " g", "+h"]);
        assert!(line_diff("x\n", "x\n").is_empty());
    }

    #[test]
    fn secrets_are_shown_without_values() {
        let y = shown_yaml(&json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "labels": {"berth.dev/app": "x", "tier": "db"}},
            "data": {"password": "c2VjcmV0"}}));
        assert!(
            !y.contains("berth.dev/app") && y.contains("tier: db"),
            "{y}"
        );
        assert!(!y.contains("c2VjcmV0"), "{y}");
        assert!(y.contains("(hidden, 8 characters)"), "{y}");
    }
}
