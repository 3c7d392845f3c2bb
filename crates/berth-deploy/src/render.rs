//! Objects from YAML text and namespace defaulting. Applications are rendered by
//! `berth-render` (charts, manifest directories, values templates); the CLI turns its output
//! into [`Manifest`]s, relocates images for air-gapped installs, and hands them to the engine.

use crate::object::Manifest;
use serde_json::Value;
use std::path::PathBuf;

/// Why a component could not be rendered. Messages name the file and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A YAML/JSON document could not be parsed.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A document is not a Kubernetes object.
    #[error("{0}")]
    Invalid(String),
    /// Anything a plugged-in renderer reports.
    #[error("{0}")]
    Other(String),
}

/// Parse a multi-document YAML (or JSON) text into objects; empty documents are skipped and
/// `kind: List` is flattened. Each object's source is `file#N` (N counts documents from 1).
pub fn parse_documents(text: &str, source: &str) -> Result<Vec<Manifest>, RenderError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(
        text,
        // An app may hold thousands of objects in one file; the other limits stay at their
        // defaults (nesting, aliases, total size).
        serde_saphyr::options! { budget: serde_saphyr::budget! { max_documents: 50_000, max_nodes: 5_000_000, max_events: 20_000_000 } },
    ).map_err(|e| RenderError::Parse {
        path: source.to_string(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        let src = format!("{source}#{}", i + 1);
        match doc {
            Value::Null => {}
            Value::Object(ref m) if m.get("kind").and_then(Value::as_str) == Some("List") => {
                for item in m
                    .get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                {
                    push_checked(&mut out, item, &src)?;
                }
            }
            Value::Object(_) => push_checked(&mut out, doc, &src)?,
            other => {
                return Err(RenderError::Invalid(format!(
                    "{src}: expected a Kubernetes object (a map with apiVersion, kind, metadata), found {}",
                    type_name(&other)
                )));
            }
        }
    }
    Ok(out)
}

fn push_checked(out: &mut Vec<Manifest>, v: Value, src: &str) -> Result<(), RenderError> {
    let m = Manifest::new(v, src);
    m.validate().map_err(RenderError::Invalid)?;
    out.push(m);
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Put objects without a namespace into `namespace`, unless their kind is cluster-scoped.
/// `cluster_scoped` answers for a kind (discovery when connected, a built-in list otherwise).
pub fn default_namespace(
    objects: &mut [Manifest],
    namespace: &str,
    cluster_scoped: impl Fn(&str, &str) -> bool,
) {
    for m in objects {
        let r = m.reference();
        if !r.namespace.is_empty() {
            continue;
        }
        if cluster_scoped(&r.api_version, &r.kind) {
            continue;
        }
        if let Some(meta) = m.object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("namespace".into(), Value::String(namespace.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_multi_doc_with_lists_and_blank_docs() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s}\n";
        let objs = parse_documents(text, "m.yaml").unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0].source, "m.yaml#1");
        assert_eq!(objs[1].reference().kind, "Secret");
    }

    #[test]
    fn names_the_file_on_bad_documents() {
        let e = parse_documents("apiVersion: v1\nkind: ConfigMap\n", "bad.yaml").unwrap_err();
        assert!(e.to_string().contains("bad.yaml#1"), "{e}");
        assert!(e.to_string().contains("metadata.name"), "{e}");
        let e = parse_documents("- a\n- b\n", "list.yaml").unwrap_err();
        assert!(e.to_string().contains("found a list"), "{e}");
        let e = parse_documents("a: [\n", "broken.yaml").unwrap_err();
        assert!(e.to_string().starts_with("broken.yaml"), "{e}");
    }

    #[test]
    fn namespaces_default_except_for_cluster_scoped_kinds() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: c}\n";
        let mut objs = parse_documents(text, "m.yaml").unwrap();
        default_namespace(&mut objs, "ns", |_, k| {
            crate::object::is_known_cluster_scoped(k)
        });
        assert_eq!(objs[0].reference().namespace, "ns");
        assert_eq!(objs[1].reference().namespace, "");
    }
}
