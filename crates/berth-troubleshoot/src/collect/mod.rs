//! Collectors: each reads one thing from the host or the cluster and writes files into the
//! bundle through a [`Sink`], at the paths troubleshoot uses (see
//! `docs/formats/support-bundle.md`). A collector never holds a whole bundle in memory: it
//! writes each file as soon as it has it, and the sink redacts before writing.

pub mod baselines;
pub mod certs;
pub mod cluster;
pub mod db;
pub mod host;
pub mod net;
pub mod registry;

use crate::bundle::{BundleError, BundleWriter};
use serde_json::Value;
use std::sync::Mutex;

/// A collector failed; the message names the cause and, where possible, the fix.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The collector's fields are wrong (a spec problem).
    #[error("invalid collector fields: {0}")]
    Spec(String),
    /// The collector needs something that is not available (no cluster, no tool).
    #[error("{0}")]
    Unavailable(String),
    /// Collection ran and failed.
    #[error("{0}")]
    Failed(String),
    /// Writing to the bundle failed.
    #[error("writing the bundle: {0}")]
    Bundle(#[from] BundleError),
}

/// Turns collected bytes into what is stored: redaction lives here. Input: bundle-relative
/// path and bytes; output: the bytes to write.
pub type Filter = dyn Fn(&str, Vec<u8>) -> Vec<u8> + Send + Sync;

/// Where collectors write: the bundle staging directory, through the redaction filter.
pub struct Sink {
    writer: BundleWriter,
    filter: Option<Box<Filter>>,
    written: Mutex<Vec<(String, u64)>>,
}

impl Sink {
    /// A sink over a bundle writer; `filter` (redaction) is applied to every file.
    pub fn new(writer: BundleWriter, filter: Option<Box<Filter>>) -> Sink {
        Sink {
            writer,
            filter,
            written: Mutex::new(Vec::new()),
        }
    }

    /// Write one file (redacted).
    pub fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<(), BundleError> {
        let bytes = match &self.filter {
            Some(f) => f(rel, bytes),
            None => bytes,
        };
        let rel = self.writer.write(rel, &bytes)?;
        if let Ok(mut w) = self.written.lock() {
            w.push((rel, bytes.len() as u64));
        }
        Ok(())
    }

    /// Write a JSON value (pretty, like troubleshoot's files).
    pub fn put_json(&self, rel: &str, v: &impl serde::Serialize) -> Result<(), BundleError> {
        let bytes = serde_json::to_vec_pretty(v).unwrap_or_else(|_| b"null".to_vec());
        self.put(rel, bytes)
    }

    /// Write a file without redaction (berth's own metadata: version.yaml, error files).
    pub fn put_raw(&self, rel: &str, bytes: &[u8]) -> Result<(), BundleError> {
        self.writer.write(rel, bytes).map(|_| ())
    }

    /// A relative symlink at `rel` to the bundle-relative `target`.
    pub fn link(&self, rel: &str, target: &str) -> Result<(), BundleError> {
        self.writer.symlink(rel, target)
    }

    /// Files written so far: (path, bytes).
    pub fn written(&self) -> Vec<(String, u64)> {
        self.written.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// The bundle writer.
    pub fn writer(&self) -> &BundleWriter {
        &self.writer
    }

    /// Give the writer back (to pack the bundle).
    pub fn into_writer(self) -> BundleWriter {
        self.writer
    }
}

/// What collectors can use.
pub struct Context {
    /// The cluster client, if a cluster is reachable.
    pub kube: Option<kube::Client>,
    /// Why there is no cluster client (for error messages).
    pub kube_error: Option<String>,
    /// Where files go.
    pub sink: Sink,
}

impl Context {
    /// The cluster client or a clear error.
    pub fn kube(&self) -> Result<kube::Client, CollectError> {
        self.kube.clone().ok_or_else(|| {
            CollectError::Unavailable(format!(
                "no Kubernetes cluster: {}; pass --kubeconfig or set KUBECONFIG",
                self.kube_error.as_deref().unwrap_or("no kubeconfig found")
            ))
        })
    }
}

/// A string field.
pub fn field_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A list of strings (a lone string counts as a one-element list).
pub fn field_strs(v: &Value, key: &str) -> Vec<String> {
    match v.get(key) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// An integer field given as a number or a numeric string.
pub fn field_i64(v: &Value, key: &str) -> Result<Option<i64>, CollectError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| CollectError::Spec(format!("`{key}` must be an integer"))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| CollectError::Spec(format!("`{key}` must be an integer, got {s:?}"))),
        Some(other) => Err(CollectError::Spec(format!(
            "`{key}` must be an integer, got {other}"
        ))),
    }
}

/// A boolean field (bool or Go-ParseBool string).
pub fn field_bool(v: &Value, key: &str) -> bool {
    crate::spec::parse_bool_string(v.get(key)).unwrap_or(false)
}

/// A Go duration (`30s`, `1m30s`, `1h`, `500ms`) or a plain number of seconds.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<f64>() {
        return (n >= 0.0).then(|| std::time::Duration::from_secs_f64(n));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Some(std::time::Duration::from_secs_f64(total))
}

/// A duration field (Go duration string or seconds).
pub fn field_duration(v: &Value, key: &str) -> Result<Option<std::time::Duration>, CollectError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64().map(std::time::Duration::from_secs_f64)),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => parse_duration(s).map(Some).ok_or_else(|| {
            CollectError::Spec(format!(
                "`{key}` must be a duration like 30s or 5m, got {s:?}"
            ))
        }),
        Some(other) => Err(CollectError::Spec(format!(
            "`{key}` must be a duration like 30s, got {other}"
        ))),
    }
}

/// Run one collector entry. `host` selects the host variant of names shared by both lists
/// (`http`, `dns`, `run`, `copy`, `sysctl`).
pub async fn run_entry(
    entry: &crate::spec::CollectorEntry,
    host: bool,
    ctx: &Context,
) -> Result<(), CollectError> {
    if host {
        host::collect(entry, ctx).await
    } else {
        cluster::collect(entry, ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("1m30s").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("500ms").unwrap().as_millis(), 500);
        assert_eq!(parse_duration("2").unwrap().as_secs(), 2);
        assert!(parse_duration("soon").is_none());
        assert!(parse_duration("5x").is_none());
    }
}
