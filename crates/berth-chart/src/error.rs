//! The one error type of this crate: every variant names the chart (and file or
//! entry) it is about, the cause, and what to do.

use std::path::PathBuf;

/// Everything that can go wrong loading, configuring or rendering a chart.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A `.tgz` archive is malformed or unsafe (traversal, links, bombs).
    #[error("chart archive {archive}: entry {entry:?}: {reason}")]
    Archive {
        /// The archive being read (a path, or `parent/charts/x.tgz`).
        archive: String,
        /// The offending entry name, or empty when the archive itself is bad.
        entry: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A chart and its subcharts together exceed one of the whole-tree limits
    /// (decompressed bytes, number of files, nesting depth).
    #[error("chart {chart}: {limit} exceeded: {detail}")]
    Limit {
        /// Where the limit was reached: the chart, or the chain of nested archives
        /// (`parent/charts/a.tgz/charts/b.tgz`).
        chart: String,
        /// Which limit, e.g. `total decompressed size limit (209715200 bytes)`.
        limit: String,
        /// The entry being read and what to do.
        detail: String,
    },
    /// A YAML or JSON file of the chart does not parse.
    #[error("chart {chart}: cannot parse {file}: {message}")]
    Parse {
        /// The chart name or path.
        chart: String,
        /// The file inside the chart, e.g. `values.yaml`.
        file: String,
        /// The parser's message (with line and column when known).
        message: String,
    },
    /// Chart.yaml is missing or fails Helm's validation rules.
    #[error("chart {chart}: invalid Chart.yaml: {message}")]
    Metadata {
        /// The chart name or path.
        chart: String,
        /// What is wrong.
        message: String,
    },
    /// An enabled dependency has no vendored chart of a matching version (Helm's
    /// `CheckDependencies`); the names are aliases where the dependency has one.
    #[error(
        "chart {chart}: dependencies are missing (vendor them with the versions Chart.yaml asks for): found in Chart.yaml, but missing in charts/ directory: {names}"
    )]
    MissingDependencies {
        /// The chart name.
        chart: String,
        /// The missing dependencies, comma separated.
        names: String,
    },
    /// A remote dependency that is neither vendored under `charts/` nor in the chart cache.
    #[error(
        "chart {chart}: dependency {name} {constraint:?} from {repository} is not in the chart cache {cache}: fill the cache while online (`berth chart dependency update CHART_DIR`, or `berth lint`/`berth release build` without --offline), or vendor the chart under charts/"
    )]
    RemoteMissing {
        /// The chart that declares it.
        chart: String,
        /// The dependency's chart name.
        name: String,
        /// Its repository.
        repository: String,
        /// The version constraint (or the locked version).
        constraint: String,
        /// The cache that was searched.
        cache: PathBuf,
    },
    /// `--set`, `--set-string` or `--set-file` expressions that do not parse.
    #[error("cannot parse {flag} {expression:?}: {message}")]
    Strvals {
        /// The flag the expression came from.
        flag: String,
        /// The expression as given.
        expression: String,
        /// What is wrong.
        message: String,
    },
    /// Values that do not combine (e.g. a scalar where a subchart's table belongs).
    #[error("values: {0}")]
    Values(String),
    /// values.schema.json rejects the coalesced values.
    #[error(
        "values don't meet the specifications of the schema(s) in the following chart(s):\n{0}"
    )]
    Schema(String),
    /// The chart's `kubeVersion` range excludes the target Kubernetes version.
    #[error(
        "chart requires kubeVersion: {range} which is incompatible with Kubernetes {version}; pass --kube-version to render for another version"
    )]
    KubeVersion {
        /// The chart's kubeVersion constraint.
        range: String,
        /// The target version.
        version: String,
    },
    /// A template failed to parse or execute.
    #[error("{0}")]
    Template(String),
    /// A rendered document is not valid YAML.
    #[error("YAML parse error on {path}: {message}")]
    Manifest {
        /// The template path, e.g. `web/templates/deploy.yaml`.
        path: String,
        /// The parser's message.
        message: String,
    },
}

impl ChartError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ChartError::Io {
            path: path.into(),
            source,
        }
    }
}
