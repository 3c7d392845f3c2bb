//! Analyzers: read collected files from a bundle and turn them into pass/warn/fail results.
//!
//! Every entry of `spec.analyzers` / `spec.hostAnalyzers` arrives as a `serde_json::Value`
//! (`{"clusterVersion": {...}}`); [`analyze_entry`] parses it, reads what it needs through a
//! [`BundleReader`] (paths in troubleshoot's bundle layout) and evaluates the outcomes the way
//! troubleshoot does (first matching `when` wins, per-analyzer grammar in [`crate::when`]).
//!
//! Where troubleshoot is silent, berth says something: an analyzer whose spec is wrong gives an
//! `Error` row naming the analyzer and the field (troubleshoot logs and drops it), one pointing
//! at data that was never collected gives a `Warn` row naming the file and the collector to add,
//! and an analyzer berth does not implement gives a "not supported yet" row.

mod berth;
mod cluster;
mod compare;
mod host;
mod template;
mod workloads;

use serde::Serialize;
use serde_json::{Map, Value};

pub use template::render as render_template;

use crate::when::{When, WhenError};

pub use crate::bundle::BundleReader;

/// Builds a matcher with troubleshoot's glob rules (`*` stops at `/`).
pub fn glob_matcher(pattern: &str) -> Option<globset::GlobMatcher> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

/// A bundle held in memory: used for fixtures, fuzzing and bundles read from a tarball.
#[derive(Debug, Default, Clone)]
pub struct MemBundle {
    files: std::collections::BTreeMap<String, Vec<u8>>,
}

impl MemBundle {
    /// An empty bundle.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds (or replaces) a file.
    pub fn insert(&mut self, path: impl Into<String>, data: impl Into<Vec<u8>>) -> &mut Self {
        self.files.insert(path.into(), data.into());
        self
    }
}

impl BundleReader for MemBundle {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        self.files.get(path.trim_start_matches("./")).cloned()
    }
    fn glob(&self, pattern: &str) -> Vec<String> {
        match glob_matcher(pattern) {
            Some(m) => self
                .files
                .keys()
                .filter(|k| m.is_match(k.as_str()))
                .cloned()
                .collect(),
            None => Vec::new(),
        }
    }
}

/// The verdict of one result row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The check passed.
    Pass,
    /// The check found something worth attention.
    Warn,
    /// The check failed.
    Fail,
    /// The analyzer could not run (bad spec, unsupported analyzer).
    Error,
}

/// One result row of an analyzer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyzeResult {
    /// The check's title (`checkName`, else the analyzer's default title).
    pub check: String,
    /// Pass, warn, fail or error.
    pub outcome: Outcome,
    /// What was found and, on failure, what to do.
    pub message: String,
    /// A link for more information (`uri` of the outcome), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Strict checks block installs when they fail.
    pub strict: bool,
    /// The Kubernetes object a row is about (clusterPodStatuses), if any.
    #[serde(skip_serializing_if = "Option::is_none", rename = "involvedObject")]
    pub involved_object: Option<Value>,
    /// The row says the data this check needs is not in the bundle (its collector did not
    /// run), not what the data shows. A spec that asked for the check wants to hear it;
    /// berth's default analysis of a bundle drops such rows.
    #[serde(skip)]
    pub not_collected: bool,
}

/// One entry of `outcomes`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeSpec {
    /// fail, warn or pass.
    pub kind: Outcome,
    /// The raw `when` (empty = catch-all).
    pub when: String,
    /// The message, possibly a Go template.
    pub message: String,
    /// The link.
    pub uri: String,
}

/// A problem with an analyzer's spec or its data, naming the analyzer and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("analyzer `{analyzer}`, field `{field}`: {cause}")]
pub struct AnalyzeError {
    /// Analyzer key (`nodeResources`).
    pub analyzer: String,
    /// Field path (`outcomes[1].fail.when`).
    pub field: String,
    /// What is wrong, what was expected.
    pub cause: String,
}

/// Whether an entry came from `analyzers` or `hostAnalyzers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `spec.analyzers`
    Cluster,
    /// `spec.hostAnalyzers` or a HostPreflight's `analyzers`
    Host,
}

/// Everything an analyzer implementation needs: its spec, the bundle, helpers.
pub(crate) struct Ctx<'a> {
    pub kind: &'a str,
    pub spec: &'a Map<String, Value>,
    pub reader: &'a dyn BundleReader,
    pub scope: Scope,
}

impl<'a> Ctx<'a> {
    pub fn err(&self, field: &str, cause: impl Into<String>) -> AnalyzeError {
        AnalyzeError {
            analyzer: self.kind.to_string(),
            field: field.to_string(),
            cause: cause.into(),
        }
    }

    /// A string field; numbers and booleans are accepted and printed.
    pub fn str_field(&self, name: &str) -> Option<String> {
        match self.spec.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn required_str(&self, name: &str) -> Result<String, AnalyzeError> {
        self.str_field(name)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.err(name, format!("is required by `{}`", self.kind)))
    }

    pub fn str_list(&self, name: &str) -> Vec<String> {
        match self.spec.get(name) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }

    pub fn collector_name(&self) -> Option<String> {
        self.str_field("collectorName").filter(|s| !s.is_empty())
    }

    pub fn title(&self, default: &str) -> String {
        self.str_field("checkName")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| default.to_string())
    }

    pub fn strict(&self) -> bool {
        match self.spec.get("strict") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => crate::when::parse_bool(s).unwrap_or(false),
            _ => false,
        }
    }

    pub fn outcomes(&self) -> Result<Vec<OutcomeSpec>, AnalyzeError> {
        parse_outcomes(self.kind, self.spec.get("outcomes"))
    }

    /// Reads and parses a JSON file, or says which collector would have written it.
    pub fn read_json(&self, path: &str) -> Result<Value, Missing> {
        let data = self
            .reader
            .read(path)
            .ok_or_else(|| Missing(path.to_string()))?;
        parse_json_or_yaml(&data).map_err(|e| Missing(format!("{path} (unreadable: {e})")))
    }

    pub fn row(&self, title: &str, o: &OutcomeSpec) -> AnalyzeResult {
        AnalyzeResult {
            check: title.to_string(),
            outcome: o.kind,
            message: o.message.clone(),
            uri: (!o.uri.is_empty()).then(|| o.uri.clone()),
            strict: self.strict(),
            involved_object: None,
            not_collected: false,
        }
    }

    pub fn row_templated(&self, title: &str, o: &OutcomeSpec, data: &Value) -> AnalyzeResult {
        let mut r = self.row(title, o);
        r.message = template::render(&o.message, data);
        r
    }

    pub fn plain(
        &self,
        title: &str,
        outcome: Outcome,
        message: impl Into<String>,
    ) -> AnalyzeResult {
        AnalyzeResult {
            check: title.to_string(),
            outcome,
            message: message.into(),
            uri: None,
            strict: self.strict(),
            involved_object: None,
            not_collected: false,
        }
    }

    /// The row for data that was never collected.
    pub fn missing(&self, title: &str, m: &Missing, collector: &str) -> AnalyzeResult {
        let mut r = self.plain(
            title,
            Outcome::Warn,
            format!(
                "{} was not collected, so `{}` cannot be evaluated: add the `{collector}` collector to the spec",
                m.0, self.kind
            ),
        );
        r.not_collected = true;
        r
    }

    /// First outcome whose `when` holds (troubleshoot's first-match rule).
    pub fn first_match<'o>(
        &self,
        outcomes: &'o [OutcomeSpec],
        mut eval: impl FnMut(&When) -> Result<bool, String>,
    ) -> Result<Option<&'o OutcomeSpec>, AnalyzeError> {
        for (i, o) in outcomes.iter().enumerate() {
            let when = When::parse(&o.when).map_err(|e| self.when_err(i, o, e))?;
            let hit =
                eval(&when).map_err(|cause| self.when_err(i, o, WhenError::new(&o.when, cause)))?;
            if hit {
                return Ok(Some(o));
            }
        }
        Ok(None)
    }

    pub fn when_err(&self, i: usize, o: &OutcomeSpec, e: WhenError) -> AnalyzeError {
        self.err(
            &format!("outcomes[{i}].{}.when", kind_name(o.kind)),
            e.to_string(),
        )
    }
}

/// A file an analyzer needed that is not in the bundle (path, maybe with a reason).
#[derive(Debug, Clone)]
pub(crate) struct Missing(pub String);

fn kind_name(k: Outcome) -> &'static str {
    match k {
        Outcome::Pass => "pass",
        Outcome::Warn => "warn",
        Outcome::Fail => "fail",
        Outcome::Error => "error",
    }
}

/// Parses JSON, falling back to YAML (troubleshoot writes some files as YAML).
pub fn parse_json_or_yaml(data: &[u8]) -> Result<Value, String> {
    match serde_json::from_slice(data) {
        Ok(v) => Ok(v),
        Err(je) => {
            let text = std::str::from_utf8(data).map_err(|_| format!("not UTF-8 JSON: {je}"))?;
            serde_saphyr::from_str::<Value>(text)
                .map_err(|ye| format!("neither JSON ({je}) nor YAML ({ye})"))
        }
    }
}

/// Parses an `outcomes` list.
pub fn parse_outcomes(analyzer: &str, v: Option<&Value>) -> Result<Vec<OutcomeSpec>, AnalyzeError> {
    let err = |field: String, cause: &str| AnalyzeError {
        analyzer: analyzer.to_string(),
        field,
        cause: cause.to_string(),
    };
    let Some(v) = v else { return Ok(Vec::new()) };
    let Value::Array(items) = v else {
        return Err(err(
            "outcomes".into(),
            "must be a list of {fail|warn|pass: {when, message, uri}}",
        ));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Object(m) = item else {
            return Err(err(
                format!("outcomes[{i}]"),
                "must be a map with one of fail, warn, pass",
            ));
        };
        // Troubleshoot looks at fail, then warn, then pass; the first present counts.
        let found = [
            ("fail", Outcome::Fail),
            ("warn", Outcome::Warn),
            ("pass", Outcome::Pass),
        ]
        .into_iter()
        .find_map(|(k, kind)| m.get(k).filter(|v| !v.is_null()).map(|v| (k, kind, v)));
        let Some((k, kind, body)) = found else {
            return Err(err(
                format!("outcomes[{i}]"),
                "needs one of fail, warn, pass",
            ));
        };
        let body = match body {
            Value::Object(b) => b.clone(),
            _ => {
                return Err(err(
                    format!("outcomes[{i}].{k}"),
                    "must be a map {when, message, uri}",
                ));
            }
        };
        let get = |f: &str| -> Result<String, AnalyzeError> {
            match body.get(f) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(Value::Bool(b)) if f == "when" => Ok(b.to_string()),
                Some(Value::Number(n)) if f == "when" => Ok(n.to_string()),
                Some(_) => Err(err(format!("outcomes[{i}].{k}.{f}"), "must be a string")),
            }
        };
        out.push(OutcomeSpec {
            kind,
            when: get("when")?,
            message: get("message")?,
            uri: get("uri")?,
        });
    }
    Ok(out)
}

/// Cluster analyzers berth implements.
pub const CLUSTER_ANALYZERS: &[&str] = &[
    "clusterVersion",
    "distribution",
    "containerRuntime",
    "nodeResources",
    "storageClass",
    "ingressClass",
    "customResourceDefinition",
    "deploymentStatus",
    "statefulsetStatus",
    "jobStatus",
    "replicasetStatus",
    "clusterPodStatuses",
    "clusterContainerStatuses",
    "event",
    "ingress",
    "clusterResource",
    "imagePullSecret",
    "secret",
    "configMap",
    "textAnalyze",
    "yamlCompare",
    "jsonCompare",
    "postgres",
    "mysql",
    "redis",
    "mssql",
    "http",
    "certificates",
    "registryImages",
    "nodeAvailableResources",
    "defaultStorageClass",
    "clockSkew",
    "clusterDNS",
    "diskPressure",
];

/// Host analyzers berth implements.
pub const HOST_ANALYZERS: &[&str] = &[
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
    "tcpLoadBalancer",
    "httpLoadBalancer",
    "http",
    "certificate",
    "certificatesCollection",
    "hostServices",
    "systemPackages",
    "sysctl",
    "filesystemPerformance",
    "subnetAvailable",
    "subnetContainsIP",
    "registryImages",
    "textAnalyze",
    "jsonCompare",
    "kernelConfigs",
    "networkNamespaceConnectivity",
    "renamedInterfaces",
    "mtuMismatch",
    "clockSkew",
    "clusterDNS",
    "diskPressure",
];

/// Runs one analyzer entry (`{"<kind>": {...}}`) and returns its rows.
pub fn analyze_entry(entry: &Value, scope: Scope, reader: &dyn BundleReader) -> Vec<AnalyzeResult> {
    let err_row = |check: &str, msg: String| AnalyzeResult {
        check: check.to_string(),
        outcome: Outcome::Error,
        message: msg,
        uri: None,
        strict: false,
        involved_object: None,
        not_collected: false,
    };
    let Value::Object(m) = entry else {
        return vec![err_row(
            "analyzer",
            "an analyzer entry must be a map like `{clusterVersion: {...}}`".into(),
        )];
    };
    let Some((kind, body)) = m.iter().find(|(_, v)| !v.is_null()) else {
        return vec![err_row(
            "analyzer",
            "empty analyzer entry: name one analyzer, e.g. `clusterVersion`".into(),
        )];
    };
    let empty = Map::new();
    let spec = match body {
        Value::Object(s) => s,
        _ => {
            return vec![err_row(
                kind,
                format!("analyzer `{kind}` must be a map of fields"),
            )];
        }
    };
    let spec = if spec.is_empty() { &empty } else { spec };
    let ctx = Ctx {
        kind,
        spec,
        reader,
        scope,
    };
    // `exclude` is a bool or a Go ParseBool string.
    match spec.get("exclude") {
        Some(Value::Bool(true)) => return Vec::new(),
        Some(Value::String(s)) if !s.is_empty() => match crate::when::parse_bool(s) {
            Some(true) => return Vec::new(),
            Some(false) => {}
            None => {
                return vec![err_row(
                    &ctx.title(kind),
                    ctx.err(
                        "exclude",
                        format!("`{s}` is not a boolean (use true or false)"),
                    )
                    .to_string(),
                )];
            }
        },
        _ => {}
    }
    let result = match scope {
        Scope::Host => host::run(&ctx),
        Scope::Cluster => cluster::run(&ctx),
    };
    match result {
        Some(Ok(rows)) => rows,
        Some(Err(e)) => {
            let mut row = err_row(&ctx.title(kind), e.to_string());
            row.strict = ctx.strict();
            vec![row]
        }
        None => {
            let list = if scope == Scope::Host {
                "hostAnalyzers"
            } else {
                "analyzers"
            };
            vec![err_row(
                &ctx.title(kind),
                format!(
                    "analyzer `{kind}` in {list} is not supported yet by berth; the check was not run"
                ),
            )]
        }
    }
}

/// Runs cluster analyzers, then host analyzers, in spec order (troubleshoot's order).
pub fn analyze_all(
    analyzers: &[Value],
    host_analyzers: &[Value],
    reader: &dyn BundleReader,
) -> Vec<AnalyzeResult> {
    let mut out = Vec::new();
    for a in analyzers {
        out.extend(analyze_entry(a, Scope::Cluster, reader));
    }
    for a in host_analyzers {
        out.extend(analyze_entry(a, Scope::Host, reader));
    }
    out
}

/// Result of one analyzer implementation: `None` = not implemented for this scope.
pub(crate) type Run = Option<Result<Vec<AnalyzeResult>, AnalyzeError>>;

/// Items of a Kubernetes List file (`{"items": [...]}`) or a bare array.
pub(crate) fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        Value::Object(m) => m
            .get("items")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]),
        _ => &[],
    }
}

/// `a.b.c` lookup on JSON.
pub(crate) fn get<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(v, |cur, k| cur.get(k))
}

pub(crate) fn get_str<'v>(v: &'v Value, path: &str) -> &'v str {
    get(v, path).and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn get_i64(v: &Value, path: &str) -> i64 {
    get(v, path).and_then(Value::as_i64).unwrap_or(0)
}

/// Adapts two closures to [`crate::when::Env`].
pub(crate) struct FnEnv<C, W>(pub C, pub W);

impl<C, W> crate::when::Env for FnEnv<C, W>
where
    C: Fn(Option<&crate::when::Subject>, crate::when::Op, &str) -> Result<bool, String>,
    W: Fn(&str) -> Result<bool, String>,
{
    fn cmp(
        &self,
        subject: Option<&crate::when::Subject>,
        op: crate::when::Op,
        value: &str,
    ) -> Result<bool, String> {
        (self.0)(subject, op, value)
    }
    fn word(&self, word: &str) -> Result<bool, String> {
        (self.1)(word)
    }
}

/// Runs first-match over `outcomes` with `env`, giving zero or one row.
pub(crate) fn first_match_row(
    ctx: &Ctx,
    title: &str,
    outcomes: &[OutcomeSpec],
    env: &dyn crate::when::Env,
    data: Option<&Value>,
) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    Ok(match ctx.first_match(outcomes, |w| w.eval(env))? {
        Some(o) => vec![match data {
            Some(d) => ctx.row_templated(title, o, d),
            None => ctx.row(title, o),
        }],
        None => Vec::new(),
    })
}

/// The subject as a plain word, or `""` for none.
pub(crate) fn subject_name(s: Option<&crate::when::Subject>) -> String {
    s.map(|s| s.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outcomes_parse_and_name_fields() {
        let o = parse_outcomes(
            "cpu",
            Some(&json!([{"fail": {"when": "count < 4", "message": "m"}}, {"pass": {"message": "ok"}}])),
        )
        .unwrap();
        assert_eq!(o[0].kind, Outcome::Fail);
        assert_eq!(o[1].when, "");
        let e = parse_outcomes("cpu", Some(&json!([{"maybe": {}}]))).unwrap_err();
        assert_eq!(e.field, "outcomes[0]");
        let e = parse_outcomes("cpu", Some(&json!([{"fail": {"message": 3}}]))).unwrap_err();
        assert_eq!(e.field, "outcomes[0].fail.message");
    }

    #[test]
    fn unknown_analyzer_is_reported() {
        let b = MemBundle::new();
        let rows = analyze_entry(&json!({"weaveReport": {}}), Scope::Cluster, &b);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].outcome, Outcome::Error);
        assert!(
            rows[0].message.contains("not supported yet"),
            "{}",
            rows[0].message
        );
    }

    #[test]
    fn exclude_and_bad_exclude() {
        let b = MemBundle::new();
        assert!(analyze_entry(&json!({"cpu": {"exclude": "true"}}), Scope::Host, &b).is_empty());
        let rows = analyze_entry(&json!({"cpu": {"exclude": "maybe"}}), Scope::Host, &b);
        assert_eq!(rows[0].outcome, Outcome::Error);
        assert!(rows[0].message.contains("exclude"));
    }
}
