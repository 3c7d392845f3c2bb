//! Running collectors concurrently, each under its own timeout and all under one overall
//! deadline. A collector that fails, times out or is not supported is recorded in the bundle
//! (`collector-errors/`, `host-collectors/errors/`, `skipped-collectors.json`,
//! `execution-data/`) and the others go on: one hung command never costs the whole bundle.

use crate::collect::{self, CollectError, Context};
use crate::spec::{CLUSTER_COLLECTORS, CollectorEntry, HOST_COLLECTORS, Merged};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Limits for one run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Bound for each collector.
    pub collector_timeout: Duration,
    /// Bound for the whole collection.
    pub deadline: Duration,
    /// Collectors running at the same time.
    pub concurrency: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            collector_timeout: Duration::from_secs(120),
            deadline: Duration::from_secs(600),
            concurrency: 16,
        }
    }
}

/// How one collector ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Collected.
    Ok,
    /// Ran and failed (error recorded).
    Failed,
    /// Stopped by its timeout or the overall deadline.
    TimedOut,
    /// Not supported by berth, or needs something absent (recorded, not run).
    Skipped,
    /// `exclude: true`.
    Excluded,
}

/// One collector's record.
#[derive(Debug, Clone, Serialize)]
pub struct CollectorRecord {
    /// `<type>` or `<type>/<collectorName>`.
    pub title: String,
    /// Collector type.
    pub kind: String,
    /// Host or cluster collector.
    pub host: bool,
    /// How it ended.
    pub status: Status,
    /// The error, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall time in milliseconds.
    pub millis: u64,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// One record per collector, in spec order.
    pub collectors: Vec<CollectorRecord>,
    /// Wall time of the whole collection, milliseconds.
    pub millis: u64,
}

impl RunReport {
    /// Records that did not end `Ok` or `Excluded`.
    pub fn problems(&self) -> impl Iterator<Item = &CollectorRecord> {
        self.collectors
            .iter()
            .filter(|c| !matches!(c.status, Status::Ok | Status::Excluded))
    }
}

/// What a collector is doing, reported live to an [`Observer`].
#[derive(Debug, Clone)]
pub enum CollectorProgress {
    /// The collector got its slot and started.
    Started {
        /// `<type>` or `<type>/<collectorName>`.
        title: String,
        /// Host collector (else cluster).
        host: bool,
    },
    /// The collector ended (also reported for excluded and unsupported ones).
    Finished(CollectorRecord),
}

/// Receives [`CollectorProgress`] from the collectors' tasks.
pub type Observer = Arc<dyn Fn(CollectorProgress) + Send + Sync>;

/// Run every collector of `merged` (cluster and host) into `ctx.sink`, then write the run's
/// own records into the bundle.
pub async fn collect_all(merged: &Merged, ctx: Arc<Context>, opts: RunOptions) -> RunReport {
    collect_all_observed(merged, ctx, opts, Arc::new(|_| {})).await
}

/// [`collect_all`], telling `observer` when each collector starts and ends.
pub async fn collect_all_observed(
    merged: &Merged,
    ctx: Arc<Context>,
    opts: RunOptions,
    observer: Observer,
) -> RunReport {
    let start = Instant::now();
    let deadline = start + opts.deadline;
    let sem = Arc::new(tokio::sync::Semaphore::new(opts.concurrency.max(1)));
    let mut handles = Vec::new();
    let entries: Vec<(CollectorEntry, bool)> = merged
        .collectors
        .iter()
        .map(|e| (e.clone(), false))
        .chain(merged.host_collectors.iter().map(|e| (e.clone(), true)))
        .collect();
    for (entry, host) in entries {
        let ctx = ctx.clone();
        let sem = sem.clone();
        let title = entry.title();
        let kind = entry.kind.clone();
        let known = if host {
            HOST_COLLECTORS
        } else {
            CLUSTER_COLLECTORS
        };
        if entry.excluded() {
            handles.push(Pending::Done(CollectorRecord {
                title,
                kind,
                host,
                status: Status::Excluded,
                error: None,
                millis: 0,
            }));
            continue;
        }
        if !known.contains(&kind.as_str()) {
            handles.push(Pending::Done(CollectorRecord {
                title,
                kind: kind.clone(),
                host,
                status: Status::Skipped,
                error: Some(format!(
                    "{} collector `{kind}` is not supported yet",
                    if host { "host" } else { "cluster" }
                )),
                millis: 0,
            }));
            continue;
        }
        let per = opts.collector_timeout;
        let observer = observer.clone();
        let h = tokio::spawn(async move {
            let _permit = sem.acquire_owned().await;
            observer(CollectorProgress::Started {
                title: entry.title(),
                host,
            });
            let t0 = Instant::now();
            let until = (t0 + per).min(deadline);
            let r =
                tokio::time::timeout_at(until.into(), collect::run_entry(&entry, host, &ctx)).await;
            let (status, error) = match r {
                Ok(Ok(())) => (Status::Ok, None),
                Ok(Err(CollectError::Unavailable(m))) => (Status::Skipped, Some(m)),
                Ok(Err(e)) => (Status::Failed, Some(e.to_string())),
                Err(_) => (
                    Status::TimedOut,
                    Some(format!(
                        "did not finish within {:?}; raise --collector-timeout or check what it waits for",
                        until.saturating_duration_since(t0)
                    )),
                ),
            };
            let record = CollectorRecord {
                title: entry.title(),
                kind: entry.kind.clone(),
                host,
                status,
                error,
                millis: t0.elapsed().as_millis() as u64,
            };
            observer(CollectorProgress::Finished(record.clone()));
            record
        });
        handles.push(Pending::Running(title, kind, host, h));
    }
    let mut report = RunReport::default();
    for p in handles {
        let rec = match p {
            Pending::Done(r) => {
                observer(CollectorProgress::Finished(r.clone()));
                r
            }
            Pending::Running(title, kind, host, h) => match h.await {
                Ok(r) => r,
                Err(e) => CollectorRecord {
                    title,
                    kind,
                    host,
                    status: Status::Failed,
                    error: Some(format!("collector crashed: {e}")),
                    millis: 0,
                },
            },
        };
        report.collectors.push(rec);
    }
    report.millis = start.elapsed().as_millis() as u64;
    write_records(&ctx.sink, &report);
    report
}

enum Pending {
    Done(CollectorRecord),
    Running(
        String,
        String,
        bool,
        tokio::task::JoinHandle<CollectorRecord>,
    ),
}

fn file_title(t: &str) -> String {
    t.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Write the run's records: error files, `skipped-collectors.json`, `execution-data/`.
fn write_records(sink: &collect::Sink, report: &RunReport) {
    let now = jiff::Timestamp::now().to_string();
    let mut skipped = Vec::new();
    for c in report.problems() {
        let err = c.error.clone().unwrap_or_default();
        let body = json!({"collector": c.title, "error": err, "timestamp": now});
        let dir = if c.host {
            "host-collectors/errors"
        } else {
            "collector-errors"
        };
        let _ = sink.put_raw(
            &format!("{dir}/{}-error.json", file_title(&c.title)),
            &serde_json::to_vec_pretty(&body).unwrap_or_default(),
        );
        if c.status == Status::Skipped {
            skipped.push(
                json!({"collector": c.title, "reason": err, "errors": [err], "timestamp": now}),
            );
        }
    }
    let _ = sink.put_raw(
        "skipped-collectors.json",
        &serde_json::to_vec_pretty(&skipped).unwrap_or_default(),
    );
    let mut summary = format!(
        "berth collection summary\ntotal: {} ms\n\n{:<50} {:>10}  status\n",
        report.millis, "collector", "ms"
    );
    for c in &report.collectors {
        summary.push_str(&format!(
            "{:<50} {:>10}  {}\n",
            format!("{}{}", if c.host { "host/" } else { "" }, c.title),
            c.millis,
            serde_json::to_value(c.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        ));
    }
    let _ = sink.put_raw("execution-data/summary.txt", summary.as_bytes());
    let _ = sink.put_raw(
        "execution-data/collectors.json",
        &serde_json::to_vec_pretty(report).unwrap_or_default(),
    );
}

/// `version.yaml` at the bundle root (troubleshoot's shape, berth's version).
pub fn version_yaml(version: &str) -> String {
    format!(
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec:\n  versionNumber: {version}\n  producer: berth\n"
    )
}

/// Errors that stop a run before any collector ran.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The bundle directory or archive could not be written.
    #[error(transparent)]
    Bundle(#[from] crate::bundle::BundleError),
    /// A Redactor spec is invalid (a spec problem: exit code 2).
    #[error("invalid Redactor spec: {0}")]
    Redactor(#[from] crate::redact::RedactError),
}

/// What to collect with, and where.
pub struct CollectOptions {
    /// Timeouts and concurrency.
    pub run: RunOptions,
    /// Apply redaction (defaults + Redactor specs) to every file.
    pub redact: bool,
    /// Replace masks by stable tokens.
    pub tokenize: bool,
    /// Cluster client, if any.
    pub kube: Option<kube::Client>,
    /// Why there is no cluster client.
    pub kube_error: Option<String>,
    /// Parent directory of the staging directory.
    pub work_dir: std::path::PathBuf,
    /// Bundle name (top-level directory).
    pub name: String,
    /// berth's version, for version.yaml.
    pub version: String,
}

/// A collected bundle, staged on disk.
pub struct Collected {
    /// The staging directory's writer.
    pub writer: crate::bundle::BundleWriter,
    /// What the collectors did.
    pub report: RunReport,
    /// What was redacted where (never the values).
    pub redactions: crate::redact::RedactionReport,
}

/// Collect everything `merged` asks for into a staging directory, redacting every file.
pub async fn collect_bundle(merged: &Merged, opts: CollectOptions) -> Result<Collected, RunError> {
    collect_bundle_observed(merged, opts, Arc::new(|_| {})).await
}

/// [`collect_bundle`], telling `observer` when each collector starts and ends.
pub async fn collect_bundle_observed(
    merged: &Merged,
    opts: CollectOptions,
    observer: Observer,
) -> Result<Collected, RunError> {
    let writer = crate::bundle::BundleWriter::create(&opts.work_dir, &opts.name)?;
    writer.write("version.yaml", version_yaml(&opts.version).as_bytes())?;
    let records = Arc::new(std::sync::Mutex::new(
        crate::redact::RedactionReport::default(),
    ));
    let filter: Option<Box<collect::Filter>> = if opts.redact {
        let mut r = crate::redact::Redactor::from_values(&merged.redactors)?;
        if opts.tokenize {
            r = r.with_tokenizer(crate::redact::Tokenizer::new());
        }
        let r = Arc::new(r);
        let records = records.clone();
        Some(Box::new(move |path: &str, data: Vec<u8>| {
            let (out, recs) = r.redact(path, &data);
            if !recs.is_empty()
                && let Ok(mut rep) = records.lock()
            {
                rep.extend(recs);
            }
            out
        }))
    } else {
        None
    };
    let ctx = Arc::new(Context {
        kube: opts.kube,
        kube_error: opts.kube_error,
        sink: collect::Sink::new(writer, filter),
    });
    let report = collect_all_observed(merged, ctx.clone(), opts.run, observer).await;
    let ctx = Arc::try_unwrap(ctx).map_err(|_| crate::bundle::BundleError::Io {
        path: opts.name.clone(),
        source: std::io::Error::other("a collector outlived the run"),
    })?;
    let redactions = records.lock().map(|r| r.clone()).unwrap_or_default();
    let writer = ctx.sink.into_writer();
    if opts.redact {
        writer.write(
            "redaction-report.json",
            &serde_json::to_vec_pretty(&redactions).unwrap_or_default(),
        )?;
    }
    Ok(Collected {
        writer,
        report,
        redactions,
    })
}

/// Build a client from a kubeconfig (`--kubeconfig`/`--context`, else `$KUBECONFIG`,
/// `~/.kube/config`, in-cluster). It does not contact the server: see [`connect`].
pub async fn kube_client(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> Result<kube::Client, String> {
    build_client(kubeconfig, context)
        .await
        .map(|(client, _)| client)
        .map_err(|e| e.to_string())
}

/// A cluster that could not be used, with what was tried: the kubeconfig, the context and
/// the API server's URL, so the message says which cluster and how to point at another.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{cause} (kubeconfig {kubeconfig}, {context}{server})")]
pub struct NoCluster {
    /// The kubeconfig file tried, or how it was looked for.
    pub kubeconfig: String,
    /// The context tried: `context NAME` (`--context`, else the kubeconfig's current
    /// context), or `its current context` when the kubeconfig could not be read.
    pub context: String,
    /// `, server URL` once the kubeconfig was read, else empty.
    server: String,
    /// What went wrong.
    pub cause: String,
}

/// What [`build_client`] learned about the target before any request.
struct Target {
    kubeconfig: String,
    context: String,
    server: String,
}

impl Target {
    fn fail(&self, cause: impl Into<String>) -> NoCluster {
        NoCluster {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            server: if self.server.is_empty() {
                String::new()
            } else {
                format!(", server {}", self.server)
            },
            cause: cause.into(),
        }
    }
}

/// The kubeconfig file `kube` would read without `--kubeconfig` (first of `$KUBECONFIG`).
fn default_kubeconfig() -> Option<std::path::PathBuf> {
    if let Some(v) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        return std::env::split_paths(&v).next();
    }
    std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".kube/config"))
}

async fn build_client(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> Result<(kube::Client, Target), NoCluster> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let opts = KubeConfigOptions {
        context: context.map(str::to_string),
        cluster: None,
        user: None,
    };
    let path = kubeconfig
        .map(std::path::Path::to_path_buf)
        .or_else(default_kubeconfig);
    let mut target = Target {
        kubeconfig: path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(none: no $KUBECONFIG, no $HOME)".into()),
        context: context.map_or_else(
            || "its current context".to_string(),
            |c| format!("context {c}"),
        ),
        server: String::new(),
    };
    let in_cluster = kubeconfig.is_none()
        && context.is_none()
        && path.as_ref().is_none_or(|p| !p.exists())
        && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let mut cfg = if in_cluster {
        target.kubeconfig = "(in-cluster service account)".into();
        kube::Config::incluster().map_err(|e| target.fail(e.to_string()))?
    } else {
        let Some(p) = path else {
            return Err(target.fail("no kubeconfig found"));
        };
        // Read the file ourselves: kube's own error quotes the path twice ('"…"').
        let text = std::fs::read_to_string(&p)
            .map_err(|e| target.fail(format!("cannot read kubeconfig {}: {e}", p.display())))?;
        let kc = if kubeconfig.is_none() && std::env::var_os("KUBECONFIG").is_some() {
            // $KUBECONFIG may list several files: kube merges them as kubectl does.
            Kubeconfig::read()
        } else {
            Kubeconfig::from_yaml(&text)
        }
        .map_err(|e| target.fail(format!("kubeconfig {} is not valid: {e}", p.display())))?;
        if context.is_none()
            && let Some(c) = &kc.current_context
        {
            target.context = format!("context {c}");
        }
        kube::Config::from_custom_kubeconfig(kc, &opts)
            .await
            .map_err(|e| target.fail(format!("kubeconfig {}: {e}", p.display())))?
    };
    target.server = cfg.cluster_url.to_string();
    cfg.connect_timeout = Some(Duration::from_secs(10));
    cfg.read_timeout = Some(Duration::from_secs(120));
    let client = kube::Client::try_from(cfg)
        .map_err(|e| target.fail(format!("cannot build the Kubernetes client: {e}")))?;
    Ok((client, target))
}

/// A client for a cluster that answered: the kubeconfig is read and the API server's
/// `/version` is asked, so an absent or unreachable cluster is an error naming the kubeconfig,
/// the context and the server's URL, not a bundle of skipped collectors.
pub async fn connect(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> Result<kube::Client, NoCluster> {
    let (client, target) = build_client(kubeconfig, context).await?;
    match client.apiserver_version().await {
        Ok(_) => Ok(client),
        Err(e) => Err(target.fail(format!("the Kubernetes API server did not answer: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{BundleReader, BundleWriter};
    use crate::collect::Sink;
    use crate::spec::Specs;
    use serde_json::Value;

    fn ctx(dir: &std::path::Path) -> Arc<Context> {
        let w = BundleWriter::create(dir, "b").unwrap();
        Arc::new(Context {
            kube: None,
            kube_error: Some("test: no cluster".into()),
            sink: Sink::new(w, None),
        })
    }

    #[tokio::test]
    async fn failures_and_timeouts_are_recorded_and_the_rest_goes_on() {
        let mut s = Specs::default();
        s.add_text(
            "hb.yaml",
            r#"apiVersion: troubleshoot.sh/v1beta2
kind: SupportBundle
spec:
  hostCollectors:
    - cpu: {}
    - run: {collectorName: hang, command: sleep, args: ["600"]}
    - run: {collectorName: hi, command: sh, args: ["-c", "echo hello"]}
    - ceph: {}
    - memory: {exclude: true}
    - diskUsage: {}
"#,
        );
        let m = s.merge_support_bundle();
        let tmp = tempfile::tempdir().unwrap();
        let c = ctx(tmp.path());
        let opts = RunOptions {
            collector_timeout: Duration::from_millis(800),
            deadline: Duration::from_secs(60),
            concurrency: 4,
        };
        let r = collect_all(&m, c.clone(), opts).await;
        let st: Vec<(&str, Status)> = r
            .collectors
            .iter()
            .map(|c| (c.title.as_str(), c.status))
            .collect();
        assert_eq!(
            st,
            [
                ("cpu", Status::Ok),
                ("run/hang", Status::TimedOut),
                ("run/hi", Status::Ok),
                ("ceph", Status::Skipped),
                ("memory", Status::Excluded),
                ("diskUsage", Status::Failed),
            ]
        );
        let b = c.sink.writer().reader().unwrap();
        assert_eq!(
            b.read("host-collectors/run-host/hi.txt").unwrap(),
            b"hello\n"
        );
        assert!(b.read("host-collectors/system/cpu.json").is_some());
        let e: Value = serde_json::from_slice(
            &b.read("host-collectors/errors/run-hang-error.json")
                .unwrap(),
        )
        .unwrap();
        assert!(e["error"].as_str().unwrap().contains("did not finish"));
        let skipped: Value =
            serde_json::from_slice(&b.read("skipped-collectors.json").unwrap()).unwrap();
        assert_eq!(skipped[0]["collector"], "ceph");
        assert!(b.read("execution-data/summary.txt").is_some());
    }

    #[tokio::test]
    async fn cluster_collectors_without_a_cluster_say_so() {
        let mut s = Specs::default();
        s.add_text(
            "sb.yaml",
            "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec:\n  collectors:\n    - logs: {namespace: x}\n",
        );
        let m = s.merge_support_bundle();
        let tmp = tempfile::tempdir().unwrap();
        let c = ctx(tmp.path());
        let r = collect_all(&m, c, RunOptions::default()).await;
        assert_eq!(r.collectors.len(), 3);
        for rec in &r.collectors {
            assert_eq!(rec.status, Status::Skipped, "{rec:?}");
            assert!(rec.error.as_deref().unwrap().contains("--kubeconfig"));
        }
    }
}
