//! YAML documents as trees of nodes that remember where they were written.
//!
//! Linting must name the line and column of every problem, and report all of them at once,
//! so berth reads YAML into its own positioned tree instead of deserializing straight into
//! types. Aliases are expanded under a node budget, which stops "billion laughs" documents.

use granit_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;
use std::fmt;

/// A position in a source file, both numbers starting at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1 (in characters).
    pub column: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub kind: NodeKind,
    /// Where the node starts.
    pub pos: Pos,
}

/// The value of a YAML node, after YAML 1.2 core-schema resolution of plain scalars.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `null`, `~` or an empty value.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A floating-point number (also integers too large for i64).
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order; keys keep their own positions.
    Map(Vec<(Node, Node)>),
}

/// Limits that keep hostile input bounded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted input, in bytes.
    pub max_bytes: usize,
    /// Most nodes in a document after alias expansion.
    pub max_nodes: usize,
    /// Deepest nesting.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 8 << 20,
            max_nodes: 1_000_000,
            max_depth: 256,
        }
    }
}

/// Why a YAML text could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum YamlError {
    /// The text is not valid YAML.
    #[error("{pos}: invalid YAML: {message}")]
    Syntax {
        /// Where the parser stopped.
        pos: Pos,
        /// The parser's explanation.
        message: String,
    },
    /// The input is not UTF-8 text.
    #[error("{pos}: the file is not UTF-8 text (byte offset {offset}); save it as UTF-8")]
    NotUtf8 {
        /// Where the first bad byte is.
        pos: Pos,
        /// Byte offset of the first bad byte.
        offset: usize,
    },
    /// The input is larger than allowed.
    #[error("the file is {size} bytes, more than the {limit} bytes allowed")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Aliases expand to more nodes than allowed (an alias bomb), or nesting is too deep.
    #[error("{pos}: {message}")]
    Budget {
        /// Where the budget ran out.
        pos: Pos,
        /// What ran out.
        message: String,
    },
}

impl YamlError {
    /// The position the error refers to, when there is one.
    pub fn pos(&self) -> Option<Pos> {
        match self {
            YamlError::Syntax { pos, .. }
            | YamlError::NotUtf8 { pos, .. }
            | YamlError::Budget { pos, .. } => Some(*pos),
            YamlError::TooLarge { .. } => None,
        }
    }
}

/// Read YAML bytes: checks size and UTF-8 first, then parses every document.
pub fn parse_bytes(bytes: &[u8], limits: &Limits) -> Result<Vec<Node>, YamlError> {
    if bytes.len() > limits.max_bytes {
        return Err(YamlError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        let before = &bytes[..offset];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        // The prefix is valid UTF-8 by construction.
        let column =
            std::str::from_utf8(&before[line_start..]).map_or(1, |s| s.chars().count() + 1);
        YamlError::NotUtf8 {
            pos: Pos { line, column },
            offset,
        }
    })?;
    parse_str(text, limits)
}

/// Parse every document of a YAML text.
pub fn parse_str(text: &str, limits: &Limits) -> Result<Vec<Node>, YamlError> {
    if text.len() > limits.max_bytes {
        return Err(YamlError::TooLarge {
            size: text.len(),
            limit: limits.max_bytes,
        });
    }
    let mut builder = Builder {
        limits: *limits,
        anchors: HashMap::new(),
        nodes: 0,
        stack: Vec::new(),
        docs: Vec::new(),
    };
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| YamlError::Syntax {
            pos: Pos {
                line: e.marker().line(),
                column: e.marker().col() + 1,
            },
            message: e.info(),
        })?;
        let pos = Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        };
        builder.event(event, pos)?;
    }
    Ok(builder.docs)
}

enum Frame {
    Seq {
        items: Vec<Node>,
        pos: Pos,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        pos: Pos,
        anchor: usize,
    },
}

struct Builder {
    limits: Limits,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    stack: Vec<Frame>,
    docs: Vec<Node>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, pos: Pos) -> Result<(), YamlError> {
        match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => Ok(()),
            Event::DocumentStart(..) => {
                self.anchors.clear();
                Ok(())
            }
            Event::Scalar(value, style, anchor, tag) => {
                let kind = match tag {
                    Some(tag) => resolve_tagged(&value, &tag.to_string()),
                    None if style == ScalarStyle::Plain => resolve_plain(&value),
                    None => NodeKind::Str(value.into_owned()),
                };
                self.count(1, pos)?;
                let node = Node { kind, pos };
                if anchor != 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push(node)
            }
            Event::SequenceStart(_, anchor, _) => {
                self.count(1, pos)?;
                self.enter(pos)?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    pos,
                    anchor,
                });
                Ok(())
            }
            Event::MappingStart(_, anchor, _) => {
                self.count(1, pos)?;
                self.enter(pos)?;
                self.stack.push(Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    pos,
                    anchor,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq { items, pos, anchor }) => (
                        Node {
                            kind: NodeKind::Seq(items),
                            pos,
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        entries,
                        pos,
                        anchor,
                        ..
                    }) => (
                        Node {
                            kind: NodeKind::Map(entries),
                            pos,
                        },
                        anchor,
                    ),
                    None => return Ok(()),
                };
                if anchor != 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push(node)
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id).cloned() else {
                    return Err(YamlError::Syntax {
                        pos,
                        message: "alias refers to an unknown anchor".into(),
                    });
                };
                self.count(size(&target), pos)?;
                // The alias stands where it is written, with the anchored content.
                self.push(Node {
                    kind: target.kind,
                    pos,
                })
            }
            Event::UnresolvedAlias(name) => Err(YamlError::Syntax {
                pos,
                message: format!("alias *{name} has no anchor &{name} before it"),
            }),
            _ => Ok(()),
        }
    }

    fn enter(&self, pos: Pos) -> Result<(), YamlError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(YamlError::Budget {
                pos,
                message: format!(
                    "nesting deeper than {} levels; flatten the document",
                    self.limits.max_depth
                ),
            });
        }
        Ok(())
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            return Err(YamlError::Budget {
                pos,
                message: format!(
                    "the document expands to more than {} nodes (aliases repeated too often?); \
                     write the values out or reduce the aliases",
                    self.limits.max_nodes
                ),
            });
        }
        Ok(())
    }

    fn push(&mut self, node: Node) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
        Ok(())
    }
}

fn size(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        NodeKind::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| size(k) + size(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

fn resolve_tagged(value: &str, tag: &str) -> NodeKind {
    match tag.rsplit(':').next().unwrap_or("") {
        "str" => NodeKind::Str(value.to_string()),
        "null" => NodeKind::Null,
        _ => resolve_plain(value),
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
pub fn resolve_plain(s: &str) -> NodeKind {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "true" | "True" | "TRUE" => return NodeKind::Bool(true),
        "false" | "False" | "FALSE" => return NodeKind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return NodeKind::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return NodeKind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return NodeKind::Float(f64::NAN),
        _ => {}
    }
    let bytes = s.as_bytes();
    let digits = bytes
        .strip_prefix(b"-")
        .or_else(|| bytes.strip_prefix(b"+"))
        .unwrap_or(bytes);
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        return match s.parse::<i64>() {
            Ok(i) => NodeKind::Int(i),
            Err(_) => s
                .parse::<f64>()
                .map_or(NodeKind::Str(s.to_string()), NodeKind::Float),
        };
    }
    if let Some(hex) = s.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return NodeKind::Int(i);
    }
    if let Some(oct) = s.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return NodeKind::Int(i);
    }
    if looks_like_float(digits)
        && let Ok(f) = s.parse::<f64>()
    {
        return NodeKind::Float(f);
    }
    NodeKind::Str(s.to_string())
}

fn looks_like_float(b: &[u8]) -> bool {
    // [0-9]*(\.[0-9]*)?([eE][-+]?[0-9]+)? with at least one digit before the exponent.
    let mut i = 0;
    let mut mantissa_digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        mantissa_digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

impl Node {
    /// Convert to JSON. Map keys that are not strings are written as their YAML text.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => Value::from(*i),
            NodeKind::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
            }
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.key_text(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The text of a node used as a mapping key.
    pub fn key_text(&self) -> String {
        match &self.kind {
            NodeKind::Str(s) => s.clone(),
            NodeKind::Null => "null".into(),
            NodeKind::Bool(b) => b.to_string(),
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Float(f) => f.to_string(),
            NodeKind::Seq(_) | NodeKind::Map(_) => "<complex key>".into(),
        }
    }

    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value under `key` when this node is a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.kind, NodeKind::Str(s) if s == key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// Follow a path of keys and indexes.
    pub fn at(&self, path: &[PathSeg]) -> Option<&Node> {
        let mut node = self;
        for seg in path {
            node = match (seg, &node.kind) {
                (PathSeg::Key(k), _) => node.get(k)?,
                (PathSeg::Index(i), NodeKind::Seq(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// A short name of the node's type for messages ("a string", "a list").
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    /// A mapping key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// Render a path the way berth prints it: `spec.config[0].items[2].when`.
pub fn path_string(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSeg::Index(i) => {
                out.push_str(&format!("[{i}]"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_types() {
        let docs = parse_str(
            "a: 1\nb:\n  - x\n  - 2.5\nc: 'true'\nd: true\n",
            &Limits::default(),
        )
        .unwrap();
        let d = &docs[0];
        assert_eq!(d.get("a").unwrap().kind, NodeKind::Int(1));
        let b = d.get("b").unwrap();
        assert_eq!(b.pos.line, 3);
        assert_eq!(
            b.at(&[PathSeg::Index(1)]).unwrap().kind,
            NodeKind::Float(2.5)
        );
        assert_eq!(d.get("c").unwrap().kind, NodeKind::Str("true".into()));
        assert_eq!(d.get("d").unwrap().kind, NodeKind::Bool(true));
        let (k, _) = d.entry("d").unwrap();
        assert_eq!(k.pos, Pos { line: 6, column: 1 });
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut s = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='k' {
            s.push_str(&format!(
                "{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = c;
        }
        let err = parse_str(&s, &Limits::default()).unwrap_err();
        assert!(matches!(err, YamlError::Budget { .. }), "{err}");
    }

    #[test]
    fn not_utf8_names_position() {
        let err = parse_bytes(b"a: 1\nb: \xff\xfe\n", &Limits::default()).unwrap_err();
        assert_eq!(
            err,
            YamlError::NotUtf8 {
                pos: Pos { line: 2, column: 4 },
                offset: 8
            }
        );
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse_str("a: [1, 2\nb: 3\n", &Limits::default()).unwrap_err();
        assert!(matches!(err, YamlError::Syntax { .. }), "{err}");
        assert!(err.pos().is_some());
    }

    #[test]
    fn plain_scalars_resolve_like_yaml_1_2() {
        assert_eq!(resolve_plain("0x1f"), NodeKind::Int(31));
        assert_eq!(resolve_plain("1e3"), NodeKind::Float(1000.0));
        assert_eq!(resolve_plain("yes"), NodeKind::Str("yes".into()));
        assert_eq!(resolve_plain("1.2.3"), NodeKind::Str("1.2.3".into()));
        assert_eq!(resolve_plain("-7"), NodeKind::Int(-7));
        assert_eq!(resolve_plain("~"), NodeKind::Null);
    }
}
