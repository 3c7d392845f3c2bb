//! Reading troubleshoot.sh specs (`Preflight`, `HostPreflight`, `SupportBundle`, `Redactor`,
//! `Analyzer`, `Collector`, `HostCollector`) from files, stdin, URLs and cluster Secrets/ConfigMaps.
//!
//! Specs are kept as `serde_json::Value` entries: every collector, analyzer and redactor is one
//! map with a single key naming its type, exactly as troubleshoot writes them, so analyzers and
//! redactors can parse their own entries. What this module adds over troubleshoot's loader:
//! every problem carries `file:line:column`, documents are split on any `---` line (CRLF and
//! trailing comments too), and unknown collector types are reported per entry instead of being
//! skipped silently.

use serde_json::{Map, Value};
use std::fmt;
use std::path::Path;

/// API groups troubleshoot accepts; v1beta1 and v1beta3 are read as v1beta2.
pub const API_VERSIONS: &[&str] = &[
    "troubleshoot.sh/v1beta2",
    "troubleshoot.sh/v1beta3",
    "troubleshoot.replicated.com/v1beta1",
];

/// Secret/ConfigMap keys that hold specs (troubleshoot's loader).
pub const SPEC_KEYS: &[&str] = &[
    "support-bundle-spec",
    "redactor-spec",
    "preflight.yaml",
    "preflight-spec",
];

/// Label values (`troubleshoot.sh/kind`) that mark cluster objects holding specs.
pub const DISCOVERY_LABEL: &str = "troubleshoot.sh/kind";

/// The document kinds troubleshoot defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Kind {
    /// Cluster + host collection, analysis and redaction for a support bundle.
    SupportBundle,
    /// Cluster preflight checks.
    Preflight,
    /// Host preflight checks.
    HostPreflight,
    /// Redaction rules.
    Redactor,
    /// Analyzers only (offline analysis).
    Analyzer,
    /// Cluster collectors only.
    Collector,
    /// Host collectors only.
    HostCollector,
    /// Collectors run on selected nodes (not supported by berth yet).
    RemoteCollector,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "SupportBundle" => Kind::SupportBundle,
            "Preflight" => Kind::Preflight,
            "HostPreflight" => Kind::HostPreflight,
            "Redactor" => Kind::Redactor,
            "Analyzer" => Kind::Analyzer,
            "Collector" => Kind::Collector,
            "HostCollector" => Kind::HostCollector,
            "RemoteCollector" => Kind::RemoteCollector,
            _ => return None,
        })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Where a document or entry came from: a source name (file path, `-`, URL, `secret/ns/name/key`)
/// and a 1-based line (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Origin {
    /// File path, `-` for stdin, URL, or `secret/<ns>/<name>/<key>`.
    pub source: String,
    /// 1-based line within the source; 0 when unknown.
    pub line: usize,
    /// 1-based column; 0 when unknown.
    pub column: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}", self.source),
            (l, 0) => write!(f, "{}:{l}", self.source),
            (l, c) => write!(f, "{}:{l}:{c}", self.source),
        }
    }
}

/// One troubleshoot document.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document kind.
    pub kind: Kind,
    /// `apiVersion` as written.
    pub api_version: String,
    /// `metadata.name` (empty if absent).
    pub name: String,
    /// The `spec` map (empty object if absent).
    pub spec: Value,
    /// Where the document starts.
    pub origin: Origin,
}

/// How bad a spec problem is: errors make `preflight` exit 2; notices are reported and the
/// rest runs (an unsupported collector is a notice: the other checks still run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The spec is malformed: exit code 2.
    Error,
    /// Something was skipped; the rest runs.
    Notice,
}

/// A problem found while reading specs, with its place.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Problem {
    /// Error or notice.
    pub severity: Severity,
    /// Where.
    pub origin: Origin,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

/// Everything read from the inputs, in order.
#[derive(Debug, Clone, Default)]
pub struct Specs {
    /// Troubleshoot documents in input order.
    pub documents: Vec<Document>,
    /// Problems found while reading (errors and notices).
    pub problems: Vec<Problem>,
    /// `.Values` for templated v1beta3 specs (`--values`, `--set`); `None` = not given.
    pub values: Option<Value>,
}

/// One collector entry: its type key, its fields and where it was written.
#[derive(Debug, Clone)]
pub struct CollectorEntry {
    /// Collector type (`cpu`, `clusterResources`, `logs`...).
    pub kind: String,
    /// The collector's fields (`collectorName`, `exclude`, type-specific fields).
    pub fields: Value,
    /// The document the entry belongs to.
    pub origin: Origin,
}

impl CollectorEntry {
    /// `collectorName`, if set.
    pub fn collector_name(&self) -> Option<&str> {
        self.fields
            .get("collectorName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A title for messages and error files: `<kind>/<collectorName>` or `<kind>`.
    pub fn title(&self) -> String {
        match self.collector_name() {
            Some(n) => format!("{}/{n}", self.kind),
            None => self.kind.clone(),
        }
    }

    /// Whether `exclude` is true (bool or Go-ParseBool string; unparsable → false, as
    /// troubleshoot runs collectors with a bad `exclude`).
    pub fn excluded(&self) -> bool {
        parse_bool_string(self.fields.get("exclude")).unwrap_or(false)
    }
}

/// Go's `strconv.ParseBool` over a bool-or-string YAML value.
pub fn parse_bool_string(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The specs merged for one run (support bundle, preflight or host preflight).
#[derive(Debug, Clone, Default)]
pub struct Merged {
    /// Name of the run (metadata.name of the last spec read, as troubleshoot prints it).
    pub name: String,
    /// Cluster collectors.
    pub collectors: Vec<CollectorEntry>,
    /// Host collectors.
    pub host_collectors: Vec<CollectorEntry>,
    /// Cluster analyzer entries (`{<type>: {...}}`), for the analyzers.
    pub analyzers: Vec<Value>,
    /// Host analyzer entries.
    pub host_analyzers: Vec<Value>,
    /// Redactor entries (`{name, fileSelector, removals}`) from Redactor documents.
    pub redactors: Vec<Value>,
}

/// Cluster collector types berth runs. `exec`, `copy`, `sysctl` and `dns` are not here:
/// they need pods exec'd into or scheduled on nodes, which berth does not do, so spec
/// checking flags them as not run.
pub const CLUSTER_COLLECTORS: &[&str] = &[
    "clusterInfo",
    "clusterResources",
    "secret",
    "configMap",
    "logs",
    "http",
    "postgres",
    "mysql",
    "redis",
    "runPod",
    "run",
    "data",
    "registryImages",
    "nodeMetrics",
    "certificates",
];

/// Host collector types berth runs.
pub const HOST_COLLECTORS: &[&str] = &[
    "cpu",
    "memory",
    "hostOS",
    "kernelModules",
    "diskUsage",
    "blockDevices",
    "ipv4Interfaces",
    "time",
    "tcpPortStatus",
    "udpPortStatus",
    "tcpConnect",
    "http",
    "dns",
    "certificate",
    "certificatesCollection",
    "hostServices",
    "systemPackages",
    "sysctl",
    "journald",
    "filesystemPerformance",
    "subnetAvailable",
    "cgroups",
    "run",
    "copy",
    "kernelConfigs",
];

/// Errors that stop reading entirely (unreadable input), as opposed to [`Problem`]s.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read spec file {path}: {source}; check the path and permissions")]
    Read {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A URL could not be fetched.
    #[error("cannot fetch spec {url}: {cause}")]
    Fetch {
        /// The URL.
        url: String,
        /// The cause.
        cause: String,
    },
    /// A cluster object could not be read.
    #[error("cannot read spec {what} from the cluster: {cause}")]
    Cluster {
        /// `secret/ns/name` or `configmap/ns/name`.
        what: String,
        /// The cause.
        cause: String,
    },
}

impl Specs {
    /// Whether any problem is an error (exit code 2).
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| p.severity == Severity::Error)
    }

    /// Read a file (`-` = stdin) and add its documents.
    pub fn add_file(&mut self, path: &Path) -> Result<(), LoadError> {
        let (name, text) = if path.as_os_str() == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| {
                LoadError::Read {
                    path: "-".into(),
                    source: e,
                }
            })?;
            ("-".to_string(), s)
        } else {
            let bytes = std::fs::read(path).map_err(|e| LoadError::Read {
                path: path.display().to_string(),
                source: e,
            })?;
            (
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        };
        self.add_text(&name, &text);
        Ok(())
    }

    /// Parse a YAML stream (one or more documents) named `source` and add its documents.
    /// A v1beta3 stream holding `{{ }}` is first rendered as a Go template with `.Values`
    /// (troubleshoot renders it with Helm's engine; berth with its own Helm-compatible one).
    pub fn add_text(&mut self, source: &str, text: &str) {
        let rendered;
        let text = if text.contains("troubleshoot.sh/v1beta3")
            && text.contains("{{")
            && text.contains("}}")
        {
            match &self.values {
                None => {
                    self.problems.push(Problem {
                        severity: Severity::Error,
                        origin: Origin { source: source.to_string(), line: 0, column: 0 },
                        message: "this v1beta3 spec is a template; pass --values FILE or --set key=value (an empty `--set x=` renders with defaults)".into(),
                    });
                    return;
                }
                Some(values) => match render_v1beta3(source, text, values) {
                    Ok(r) => {
                        rendered = r;
                        rendered.as_str()
                    }
                    Err(p) => {
                        self.problems.push(p);
                        return;
                    }
                },
            }
        } else {
            text
        };
        for (start_line, doc) in split_documents(text) {
            self.add_document_text(source, start_line, &doc);
        }
    }

    fn add_document_text(&mut self, source: &str, start_line: usize, doc: &str) {
        if doc
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            return;
        }
        let value: Value =
            match serde_saphyr::from_str(doc) {
                Ok(v) => v,
                Err(e) => {
                    let (line, column) = e
                        .location()
                        .map(|l| (l.line() as usize, l.column() as usize))
                        .unwrap_or((0, 0));
                    self.problems.push(Problem {
                    severity: Severity::Error,
                    origin: Origin {
                        source: source.to_string(),
                        line: if line == 0 { start_line } else { start_line + line - 1 },
                        column,
                    },
                    message: format!(
                        "invalid YAML: {}; fix the document (troubleshoot would skip it silently)",
                        first_line(&e.without_snippet().to_string())
                    ),
                });
                    return;
                }
            };
        let origin = Origin {
            source: source.to_string(),
            line: start_line,
            column: 0,
        };
        self.add_value(origin, doc, value);
    }

    fn add_value(&mut self, origin: Origin, doc: &str, value: Value) {
        let Value::Object(map) = value else {
            self.problems.push(Problem {
                severity: Severity::Error,
                origin,
                message: "a spec document must be a map with apiVersion, kind and spec".into(),
            });
            return;
        };
        let api_version = map
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let kind_s = map
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        // Secrets/ConfigMaps carrying specs under well-known keys.
        if api_version == "v1" && (kind_s == "Secret" || kind_s == "ConfigMap") {
            let name = meta_name(&map);
            let ns = map
                .get("metadata")
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string();
            let found = spec_values_of_object(&map);
            if found.is_empty() {
                self.problems.push(Problem {
                    severity: Severity::Notice,
                    origin,
                    message: format!(
                        "{} {ns}/{name} holds none of the keys {}; nothing read from it",
                        kind_s.to_lowercase(),
                        SPEC_KEYS.join(", ")
                    ),
                });
            }
            for (key, text) in found {
                let src = format!("{}/{ns}/{name}/{key}", kind_s.to_lowercase());
                self.add_text(&src, &text);
            }
            return;
        }
        if !API_VERSIONS.contains(&api_version.as_str()) {
            self.problems.push(Problem {
                severity: Severity::Notice,
                origin,
                message: format!(
                    "apiVersion {api_version:?} is not a troubleshoot spec (expected troubleshoot.sh/v1beta2); document skipped"
                ),
            });
            return;
        }
        let Some(kind) = Kind::parse(&kind_s) else {
            self.problems.push(Problem {
                severity: Severity::Error,
                origin,
                message: format!(
                    "unknown kind {kind_s:?}; expected SupportBundle, Preflight, HostPreflight, Redactor, Analyzer, Collector or HostCollector"
                ),
            });
            return;
        };
        let spec = map
            .get("spec")
            .cloned()
            .unwrap_or(Value::Object(Map::new()));
        if !spec.is_object() {
            self.problems.push(Problem {
                severity: Severity::Error,
                origin: Origin {
                    line: find_line(doc, "spec:", 0).map_or(origin.line, |l| origin.line + l),
                    ..origin
                },
                message: "`spec` must be a map".into(),
            });
            return;
        }
        let doc_entry = Document {
            kind,
            api_version,
            name: meta_name(&map),
            spec,
            origin: origin.clone(),
        };
        self.check_document(&doc_entry, doc);
        self.documents.push(doc_entry);
    }

    /// Entry-level checks: lists are lists, each entry is a one-key map of a known type.
    fn check_document(&mut self, d: &Document, doc: &str) {
        let lists: &[(&str, Option<&[&str]>)] = match d.kind {
            Kind::SupportBundle => &[
                ("collectors", Some(CLUSTER_COLLECTORS)),
                ("hostCollectors", Some(HOST_COLLECTORS)),
                ("analyzers", None),
                ("hostAnalyzers", None),
            ],
            Kind::Preflight | Kind::Collector => &[
                ("collectors", Some(CLUSTER_COLLECTORS)),
                ("analyzers", None),
            ],
            Kind::HostPreflight | Kind::HostCollector => {
                &[("collectors", Some(HOST_COLLECTORS)), ("analyzers", None)]
            }
            Kind::Analyzer => &[("analyzers", None), ("hostAnalyzers", None)],
            Kind::Redactor => &[("redactors", None)],
            Kind::RemoteCollector => {
                self.problems.push(Problem {
                    severity: Severity::Notice,
                    origin: d.origin.clone(),
                    message: "RemoteCollector specs are not supported yet (they need a DaemonSet on every node); document skipped".into(),
                });
                return;
            }
        };
        for (field, known) in lists {
            let Some(v) = d.spec.get(*field) else {
                continue;
            };
            let field_line = find_line(doc, &format!("{field}:"), 0);
            let Some(items) = v.as_array() else {
                if !v.is_null() {
                    self.problems.push(Problem {
                        severity: Severity::Error,
                        origin: at(&d.origin, field_line),
                        message: format!("`spec.{field}` must be a list"),
                    });
                }
                continue;
            };
            let mut search_from = field_line.unwrap_or(0);
            for (i, item) in items.iter().enumerate() {
                let obj = item.as_object();
                let key = obj.and_then(|o| o.keys().next().cloned());
                let line = key
                    .as_deref()
                    .and_then(|k| find_line(doc, &format!("{k}:"), search_from));
                if let Some(l) = line {
                    search_from = l + 1;
                }
                let Some(obj) = obj.filter(|o| !o.is_empty()) else {
                    if *field != "redactors" {
                        self.problems.push(Problem {
                            severity: Severity::Error,
                            origin: at(&d.origin, line),
                            message: format!(
                                "`spec.{field}[{i}]` must be a map naming one type, e.g. `- cpu: {{}}`"
                            ),
                        });
                    }
                    continue;
                };
                if *field == "redactors" {
                    continue;
                }
                if obj.len() > 1 {
                    self.problems.push(Problem {
                        severity: Severity::Notice,
                        origin: at(&d.origin, line),
                        message: format!(
                            "`spec.{field}[{i}]` names several types ({}); only the first is used",
                            obj.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    });
                }
                let key = key.unwrap_or_default();
                let inner = &obj[&key];
                if !(inner.is_object() || inner.is_null()) {
                    self.problems.push(Problem {
                        severity: Severity::Error,
                        origin: at(&d.origin, line),
                        message: format!("`spec.{field}[{i}].{key}` must be a map of fields"),
                    });
                    continue;
                }
                if let Some(known) = known
                    && !known.contains(&key.as_str())
                {
                    self.problems.push(Problem {
                        severity: Severity::Notice,
                        origin: at(&d.origin, line),
                        message: format!(
                            "collector `{key}` (spec.{field}[{i}]) is not supported yet; it was not run"
                        ),
                    });
                }
            }
        }
    }

    /// Merge the documents for a support bundle (troubleshoot's `loadSpecs`): SupportBundle
    /// lists concatenated, Collector/HostCollector kinds add collectors, Redactors add
    /// redactors, clusterInfo/clusterResources added unless only host collectors exist,
    /// everything de-duplicated by exact JSON.
    pub fn merge_support_bundle(&self) -> Merged {
        let mut m = Merged::default();
        for d in &self.documents {
            match d.kind {
                Kind::SupportBundle => {
                    m.name = d.name.clone();
                    push_collectors(&mut m.collectors, d, "collectors", CLUSTER_COLLECTORS);
                    push_collectors(&mut m.host_collectors, d, "hostCollectors", HOST_COLLECTORS);
                    push_values(&mut m.analyzers, d, "analyzers");
                    push_values(&mut m.host_analyzers, d, "hostAnalyzers");
                }
                Kind::Collector => {
                    push_collectors(&mut m.collectors, d, "collectors", CLUSTER_COLLECTORS)
                }
                Kind::HostCollector => {
                    push_collectors(&mut m.host_collectors, d, "collectors", HOST_COLLECTORS)
                }
                Kind::Redactor => push_values(&mut m.redactors, d, "redactors"),
                _ => {}
            }
        }
        let only_host = m.collectors.is_empty() && !m.host_collectors.is_empty();
        if !only_host {
            ensure_default_collectors(&mut m.collectors);
        }
        dedup_entries(&mut m.collectors);
        dedup_entries(&mut m.host_collectors);
        dedup_values(&mut m.analyzers);
        dedup_values(&mut m.host_analyzers);
        dedup_values(&mut m.redactors);
        m
    }

    /// Merge the documents for `preflight`: Preflight collectors/analyzers (clusterInfo and
    /// clusterResources always added when there is a Preflight) and HostPreflight host
    /// collectors/analyzers. No de-duplication (troubleshoot does none for preflights).
    pub fn merge_preflight(&self) -> Merged {
        let mut m = Merged::default();
        let mut any_cluster = false;
        for d in &self.documents {
            match d.kind {
                Kind::Preflight => {
                    any_cluster = true;
                    m.name = d.name.clone();
                    push_collectors(&mut m.collectors, d, "collectors", CLUSTER_COLLECTORS);
                    push_values(&mut m.analyzers, d, "analyzers");
                }
                Kind::HostPreflight => {
                    m.name = d.name.clone();
                    push_collectors(&mut m.host_collectors, d, "collectors", HOST_COLLECTORS);
                    push_values(&mut m.host_analyzers, d, "analyzers");
                }
                Kind::Redactor => push_values(&mut m.redactors, d, "redactors"),
                _ => {}
            }
        }
        if any_cluster {
            ensure_default_collectors(&mut m.collectors);
        }
        m
    }

    /// Merge the documents for offline analysis (`berth analyze`): analyzers of every kind.
    pub fn merge_analyzers(&self) -> Merged {
        let mut m = Merged::default();
        for d in &self.documents {
            m.name = d.name.clone();
            match d.kind {
                Kind::SupportBundle | Kind::Analyzer => {
                    push_values(&mut m.analyzers, d, "analyzers");
                    push_values(&mut m.host_analyzers, d, "hostAnalyzers");
                }
                Kind::Preflight => push_values(&mut m.analyzers, d, "analyzers"),
                Kind::HostPreflight => push_values(&mut m.host_analyzers, d, "analyzers"),
                Kind::Redactor => push_values(&mut m.redactors, d, "redactors"),
                _ => {}
            }
        }
        m
    }
}

/// Whether a CLI argument names a cluster object (`secret/<ns>/<name>[/<key>]`,
/// `configmap/<ns>/<name>[/<key>]`) rather than a file.
pub fn is_cluster_ref(arg: &str) -> bool {
    (arg.starts_with("secret/") || arg.starts_with("configmap/"))
        && arg.split('/').count() >= 3
        && !Path::new(arg).exists()
}

/// Whether a CLI argument is an http(s) URL.
pub fn is_url(arg: &str) -> bool {
    arg.starts_with("https://") || arg.starts_with("http://")
}

impl Specs {
    /// Read specs from `secret/<ns>/<name>[/<key>]` or `configmap/<ns>/<name>[/<key>]`
    /// (without a key, every spec key of the object).
    pub async fn add_cluster_object(
        &mut self,
        client: &kube::Client,
        arg: &str,
    ) -> Result<(), LoadError> {
        let parts: Vec<&str> = arg.splitn(4, '/').collect();
        let (kind, ns, name) = (parts[0], parts[1], parts[2]);
        let plural = if kind == "secret" {
            "secrets"
        } else {
            "configmaps"
        };
        let req = http::Request::get(format!("/api/v1/namespaces/{ns}/{plural}/{name}"))
            .body(Vec::new())
            .map_err(|e| LoadError::Cluster {
                what: arg.into(),
                cause: e.to_string(),
            })?;
        let obj: Value = client.request(req).await.map_err(|e| LoadError::Cluster {
            what: arg.into(),
            cause: e.to_string(),
        })?;
        let Value::Object(map) = obj else {
            return Err(LoadError::Cluster {
                what: arg.into(),
                cause: "not an object".into(),
            });
        };
        match parts.get(3) {
            Some(key) => {
                use base64::Engine as _;
                let v = map
                    .get("data")
                    .and_then(|d| d.get(*key))
                    .and_then(Value::as_str)
                    .ok_or_else(|| LoadError::Cluster {
                        what: arg.into(),
                        cause: format!("no key {key:?} in its data"),
                    })?;
                let text = if kind == "secret" {
                    base64::engine::general_purpose::STANDARD
                        .decode(v.trim())
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .map_err(|e| LoadError::Cluster {
                            what: arg.into(),
                            cause: format!("key {key:?} is not base64: {e}"),
                        })?
                } else {
                    v.to_string()
                };
                self.add_text(arg, &text);
            }
            None => {
                let mut with_kind = map.clone();
                with_kind.insert(
                    "kind".into(),
                    Value::String(
                        if kind == "secret" {
                            "Secret"
                        } else {
                            "ConfigMap"
                        }
                        .into(),
                    ),
                );
                let found = spec_values_of_object(&with_kind);
                if found.is_empty() {
                    return Err(LoadError::Cluster {
                        what: arg.into(),
                        cause: format!("it holds none of the keys {}", SPEC_KEYS.join(", ")),
                    });
                }
                for (key, text) in found {
                    self.add_text(&format!("{arg}/{key}"), &text);
                }
            }
        }
        Ok(())
    }

    /// Read every Secret and ConfigMap labelled `troubleshoot.sh/kind=support-bundle` (and the
    /// older `troubleshoot.io/kind`) in `namespace`, or in all namespaces. Returns how many
    /// objects held specs.
    pub async fn discover(
        &mut self,
        client: &kube::Client,
        namespace: Option<&str>,
    ) -> Result<usize, LoadError> {
        let mut n = 0;
        for plural in ["secrets", "configmaps"] {
            for label in ["troubleshoot.sh/kind", "troubleshoot.io/kind"] {
                let base = match namespace {
                    Some(ns) => format!("/api/v1/namespaces/{ns}/{plural}"),
                    None => format!("/api/v1/{plural}"),
                };
                let sel: String = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("labelSelector", &format!("{label}=support-bundle"))
                    .finish();
                let req = http::Request::get(format!("{base}?{sel}"))
                    .body(Vec::new())
                    .map_err(|e| LoadError::Cluster {
                        what: plural.into(),
                        cause: e.to_string(),
                    })?;
                let list: Value = client.request(req).await.map_err(|e| LoadError::Cluster {
                    what: format!("{plural} labelled {label}=support-bundle"),
                    cause: e.to_string(),
                })?;
                for item in list
                    .get("items")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let Some(map) = item.as_object() else {
                        continue;
                    };
                    let mut with_kind = map.clone();
                    with_kind.insert(
                        "kind".into(),
                        Value::String(
                            if plural == "secrets" {
                                "Secret"
                            } else {
                                "ConfigMap"
                            }
                            .into(),
                        ),
                    );
                    let ns = item
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let name = meta_name(map);
                    let found = spec_values_of_object(&with_kind);
                    if !found.is_empty() {
                        n += 1;
                    }
                    for (key, text) in found {
                        let kind = if plural == "secrets" {
                            "secret"
                        } else {
                            "configmap"
                        };
                        self.add_text(&format!("{kind}/{ns}/{name}/{key}"), &text);
                    }
                }
            }
        }
        Ok(n)
    }

    /// Fetch a spec from an http(s) URL (30 s bound).
    pub async fn add_url(&mut self, url: &str) -> Result<(), LoadError> {
        crate::collect::net::ensure_crypto_provider();
        let fetch = async {
            let c = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .map_err(|e| e.to_string())?;
            let r = c
                .get(url)
                .send()
                .await
                .map_err(|e| crate::collect::net::error_chain(&e))?;
            if !r.status().is_success() {
                return Err(format!("HTTP {}", r.status()));
            }
            r.text().await.map_err(|e| e.to_string())
        };
        let text = fetch.await.map_err(|cause| LoadError::Fetch {
            url: url.into(),
            cause,
        })?;
        self.add_text(url, &text);
        Ok(())
    }
}

/// Render a templated v1beta3 spec with `.Values` (Helm semantics: missing values print
/// nothing; `.Values.x.enabled` is false unless set). Template errors carry the line.
fn render_v1beta3(source: &str, text: &str, values: &Value) -> Result<String, Problem> {
    let mut set = berth_template::TemplateSet::new(berth_template::Options::default());
    let problem = |e: berth_template::TemplateError| Problem {
        severity: Severity::Error,
        origin: Origin {
            source: source.to_string(),
            line: 0,
            column: 0,
        },
        message: format!("template: {e}"),
    };
    set.add(source, text).map_err(problem)?;
    let data = berth_template::Value::from_json(serde_json::json!({
        "Values": values,
        "Release": {"Name": "preflight", "Namespace": "default"},
    }));
    set.execute(source, &data).map_err(problem)
}

/// Deep-merge `over` into `base` (maps merge, everything else replaces), as Helm merges values.
pub fn merge_values(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(bv) => merge_values(bv, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Apply one `--set a.b.c=value` (value typed: true/false/null/integers; else a string).
pub fn set_value(values: &mut Value, assignment: &str) -> Result<(), String> {
    let (path, raw) = assignment
        .split_once('=')
        .ok_or_else(|| format!("--set {assignment:?}: expected key=value"))?;
    let v = match raw {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        r => r
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(r.to_string())),
    };
    let mut cur = values;
    let keys: Vec<&str> = path.split('.').collect();
    for (i, k) in keys.iter().enumerate() {
        if k.is_empty() {
            return Err(format!("--set {assignment:?}: empty key in {path:?}"));
        }
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(m) = cur else {
            return Err(format!("--set {assignment:?}"));
        };
        if i + 1 == keys.len() {
            m.insert(k.to_string(), v);
            return Ok(());
        }
        cur = m
            .entry(k.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

fn at(origin: &Origin, rel_line: Option<usize>) -> Origin {
    Origin {
        source: origin.source.clone(),
        line: rel_line.map_or(origin.line, |l| origin.line + l),
        column: 0,
    }
}

fn meta_name(map: &Map<String, Value>) -> String {
    map.get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Values of the spec keys of a Secret (`data` base64, then `stringData`) or ConfigMap.
pub fn spec_values_of_object(map: &Map<String, Value>) -> Vec<(String, String)> {
    use base64::Engine as _;
    let mut out = Vec::new();
    let is_secret = map.get("kind").and_then(Value::as_str) == Some("Secret");
    if let Some(data) = map.get("data").and_then(Value::as_object) {
        for key in SPEC_KEYS {
            if let Some(s) = data.get(*key).and_then(Value::as_str) {
                let text = if is_secret {
                    match base64::engine::general_purpose::STANDARD.decode(s.trim()) {
                        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                        Err(_) => continue,
                    }
                } else {
                    s.to_string()
                };
                out.push((key.to_string(), text));
            }
        }
    }
    if let Some(data) = map.get("stringData").and_then(Value::as_object) {
        for key in SPEC_KEYS {
            if let Some(s) = data.get(*key).and_then(Value::as_str) {
                out.push((key.to_string(), s.to_string()));
            }
        }
    }
    out
}

/// Split a YAML stream on `---` document markers (a line that is `---`, optionally followed by
/// spaces or a comment; CRLF tolerated). Returns (1-based first line, text) per document.
pub fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    let mut start = 1;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let is_marker = line == "---"
            || (line.starts_with("---")
                && line[3..].starts_with([' ', '\t'])
                && (line[3..].trim().is_empty() || line[3..].trim_start().starts_with('#')));
        if is_marker {
            docs.push((start, std::mem::take(&mut cur)));
            start = i + 2;
            continue;
        }
        if line == "..." {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
    }
    docs.push((start, cur));
    docs
}

/// 0-based line offset of the first line at or after `from` whose trimmed text (after an
/// optional `- `) starts with `needle`.
fn find_line(doc: &str, needle: &str, from: usize) -> Option<usize> {
    doc.lines().enumerate().skip(from).find_map(|(i, l)| {
        let t = l.trim_start();
        let t = t.strip_prefix("- ").map(str::trim_start).unwrap_or(t);
        t.starts_with(needle).then_some(i)
    })
}

fn push_collectors(out: &mut Vec<CollectorEntry>, d: &Document, field: &str, _known: &[&str]) {
    let Some(items) = d.spec.get(field).and_then(Value::as_array) else {
        return;
    };
    for item in items {
        let Some((k, v)) = item.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        out.push(CollectorEntry {
            kind: k.clone(),
            fields: if v.is_null() {
                Value::Object(Map::new())
            } else {
                v.clone()
            },
            origin: d.origin.clone(),
        });
    }
}

fn push_values(out: &mut Vec<Value>, d: &Document, field: &str) {
    if let Some(items) = d.spec.get(field).and_then(Value::as_array) {
        out.extend(items.iter().filter(|v| v.is_object()).cloned());
    }
}

fn ensure_default_collectors(c: &mut Vec<CollectorEntry>) {
    let origin = Origin {
        source: "(default)".into(),
        line: 0,
        column: 0,
    };
    for kind in ["clusterResources", "clusterInfo"] {
        if !c.iter().any(|e| e.kind == kind) {
            c.insert(
                0,
                CollectorEntry {
                    kind: kind.into(),
                    fields: Value::Object(Map::new()),
                    origin: origin.clone(),
                },
            );
        }
    }
}

fn dedup_entries(v: &mut Vec<CollectorEntry>) {
    let mut seen = std::collections::HashSet::new();
    v.retain(|e| seen.insert(format!("{}\u{0}{}", e.kind, e.fields)));
}

fn dedup_values(v: &mut Vec<Value>) {
    let mut seen = std::collections::HashSet::new();
    v.retain(|e| seen.insert(e.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_marker_lines_with_crlf_and_comments() {
        let docs = split_documents("a: 1\r\n---\r\nb: 2\n--- # two\nc: 3\n");
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[1].0, 3);
        assert_eq!(docs[2].0, 5);
        assert!(docs[2].1.contains("c: 3"));
    }

    #[test]
    fn bad_yaml_names_file_line_and_column() {
        let mut s = Specs::default();
        s.add_text(
            "spec.yaml",
            "apiVersion: troubleshoot.sh/v1beta2\nkind: Preflight\n---\napiVersion: troubleshoot.sh/v1beta2\nkind: Preflight\nspec:\n  analyzers: [\n",
        );
        assert!(s.has_errors());
        let p = &s.problems[0];
        assert_eq!(p.origin.source, "spec.yaml");
        assert!(p.origin.line >= 4, "line {}", p.origin.line);
        assert!(p.to_string().starts_with("spec.yaml:"), "{p}");
    }

    #[test]
    fn unknown_collector_is_reported_per_entry_with_line() {
        let mut s = Specs::default();
        s.add_text(
            "sb.yaml",
            "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec:\n  collectors:\n    - clusterInfo: {}\n    - ceph: {}\n    - mssql: {}\n",
        );
        let msgs: Vec<String> = s.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(msgs[0].starts_with("sb.yaml:6"), "{msgs:?}");
        assert!(msgs[0].contains("`ceph`") && msgs[0].contains("not supported yet"));
        assert!(msgs[1].starts_with("sb.yaml:7"), "{msgs:?}");
        assert!(!s.has_errors());
    }

    #[test]
    fn secret_documents_carry_specs() {
        use base64::Engine as _;
        let inner = "apiVersion: troubleshoot.sh/v1beta2\nkind: Preflight\nmetadata: {name: p}\nspec:\n  analyzers:\n    - clusterVersion: {outcomes: []}\n";
        let b64 = base64::engine::general_purpose::STANDARD.encode(inner);
        let mut s = Specs::default();
        s.add_text(
            "x.yaml",
            &format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: acme}}\ndata:\n  preflight.yaml: {b64}\n"),
        );
        assert_eq!(s.documents.len(), 1);
        assert_eq!(s.documents[0].kind, Kind::Preflight);
        assert_eq!(s.documents[0].origin.source, "secret/acme/s/preflight.yaml");
        let m = s.merge_preflight();
        assert_eq!(m.analyzers.len(), 1);
        assert_eq!(m.collectors[0].kind, "clusterInfo");
    }

    #[test]
    fn support_bundle_merge_dedups_and_adds_defaults() {
        let mut s = Specs::default();
        let doc = "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {name: a}\nspec:\n  collectors:\n    - logs: {namespace: x}\n  hostCollectors:\n    - cpu: {}\n";
        s.add_text("a", doc);
        s.add_text("b", doc);
        let m = s.merge_support_bundle();
        let kinds: Vec<&str> = m.collectors.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(kinds, ["clusterInfo", "clusterResources", "logs"]);
        assert_eq!(m.host_collectors.len(), 1);
    }

    #[test]
    fn host_only_bundle_gets_no_cluster_collectors() {
        let mut s = Specs::default();
        s.add_text(
            "a",
            "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec:\n  hostCollectors:\n    - cpu: {}\n",
        );
        assert!(s.merge_support_bundle().collectors.is_empty());
    }

    #[test]
    fn wrong_types_are_errors_with_place() {
        let mut s = Specs::default();
        s.add_text(
            "w.yaml",
            "apiVersion: troubleshoot.sh/v1beta2\nkind: HostPreflight\nspec:\n  collectors: 3\n",
        );
        assert!(s.has_errors());
        assert_eq!(s.problems[0].origin.line, 4);
        let mut s = Specs::default();
        s.add_text(
            "k.yaml",
            "apiVersion: troubleshoot.sh/v1beta2\nkind: Nope\n",
        );
        assert!(s.has_errors());
    }

    #[test]
    fn v1beta3_templates_render_with_values_or_ask_for_them() {
        let t = "apiVersion: troubleshoot.sh/v1beta3\nkind: Preflight\nmetadata: {name: p}\nspec:\n  analyzers:\n{{- if .Values.db.enabled }}\n    - postgres: {collectorName: db, outcomes: []}\n{{- end }}\n    - clusterVersion:\n        outcomes:\n          - fail: {when: \"< {{ .Values.minVersion | default \"1.28.0\" }}\", message: old}\n";
        let mut s = Specs::default();
        s.add_text("p.yaml", t);
        assert!(s.has_errors());
        assert!(s.problems[0].message.contains("--values"));
        let mut s = Specs {
            values: Some(serde_json::json!({})),
            ..Specs::default()
        };
        set_value(s.values.as_mut().unwrap(), "db.enabled=true").unwrap();
        s.add_text("p.yaml", t);
        assert!(!s.has_errors(), "{:?}", s.problems);
        let m = s.merge_preflight();
        assert_eq!(m.analyzers.len(), 2);
        assert_eq!(
            m.analyzers[1]["clusterVersion"]["outcomes"][0]["fail"]["when"],
            "< 1.28.0"
        );
        let mut base = serde_json::json!({"a": {"b": 1, "c": 2}});
        merge_values(&mut base, serde_json::json!({"a": {"b": 5}}));
        assert_eq!(base, serde_json::json!({"a": {"b": 5, "c": 2}}));
        assert!(set_value(&mut base, "novalue").is_err());
    }

    #[test]
    fn exclude_parses_go_bools() {
        let e = |v: Value| CollectorEntry {
            kind: "cpu".into(),
            fields: serde_json::json!({ "exclude": v }),
            origin: Origin {
                source: String::new(),
                line: 0,
                column: 0,
            },
        };
        assert!(e(Value::Bool(true)).excluded());
        assert!(e(Value::String("True".into())).excluded());
        assert!(!e(Value::String("nope".into())).excluded());
    }
}
