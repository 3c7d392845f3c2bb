//! Redaction: secrets are removed from every collected file before it is written.
//!
//! Three layers, applied per file:
//! 1. **Line rules** in troubleshoot's order: its 18 default single-line and 8 multi-line
//!    redactors, then berth's (any URL credentials, bearer/basic headers, cloud and SaaS keys,
//!    JWTs, Azure keys, `k=v`/`k: v`/JSON pairs whose key names a secret), then each Redactor
//!    spec's `values`, `regex` (named `mask`/`drop` groups; `selector` arms the redactor for
//!    the next line). PEM private-key blocks and YAML block scalars under secret keys are
//!    masked line by line.
//! 2. **Structured**, found by content whatever the file's name: a whole JSON file, and the
//!    runs of YAML/JSON lines around trigger words in any text (a `run` collector's
//!    `kubectl config view --raw`, `kubectl get secret -o yaml` between other output), are
//!    parsed; every string under a key that names a secret, at any depth, and the
//!    `data`/`stringData` of Secret objects, is masked wherever it occurs in the file, so
//!    pretty-printed and nested documents lose their secrets too.
//! 3. **yamlPath** removals from Redactor specs (the file is re-emitted as YAML, as
//!    troubleshoot does).
//!
//! Speed: a file is scanned once for trigger words (one multi-literal search over a
//! lower-cased window); only lines holding one run the rules, one regex-set pass per such line
//! picks the rules that can match, and untouched stretches are copied in bulk.
//! [`Redactor::redact_stream`] processes large logs in bounded memory.
//!
//! Reports list what was redacted where ([`RedactionRecord`]): redactor, file, line and the
//! number of characters removed, never the value. With tokenization on, masks become
//! `***TOKEN_<TYPE>_<HASH>***` tokens that are equal for equal secrets across all files of a run.

mod rules;
mod structured;
mod tokenize;

use regex::bytes::Regex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};

pub use rules::is_secret_key;
use rules::{GroupKind, LineRule, MultiLineRule};
pub use tokenize::Tokenizer;

/// The mask troubleshoot writes in place of a secret.
pub const MASK: &str = "***HIDDEN***";

/// A Redactor spec entry (`spec.redactors[]` of a `kind: Redactor` document).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RedactSpec {
    /// Name used in the redaction report.
    #[serde(default)]
    pub name: String,
    /// Which files the entry applies to (all when empty).
    #[serde(default)]
    pub file_selector: FileSelector,
    /// What to remove.
    #[serde(default)]
    pub removals: Removals,
}

/// `fileSelector`: globs over bundle-relative paths (`*` within a segment, `**` across).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct FileSelector {
    /// One glob.
    #[serde(default)]
    pub file: String,
    /// Several globs.
    #[serde(default)]
    pub files: Vec<String>,
}

/// `removals`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Removals {
    /// Literal strings replaced wherever they occur.
    #[serde(default)]
    pub values: Vec<String>,
    /// Regex redactors, optionally with a previous-line selector.
    #[serde(default)]
    pub regex: Vec<RegexRemoval>,
    /// Dot paths into YAML documents whose subtree is replaced.
    #[serde(default)]
    pub yaml_path: Vec<String>,
}

/// One `removals.regex` entry.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct RegexRemoval {
    /// When set, the redactor applies to the line after a line matching this.
    #[serde(default)]
    pub selector: String,
    /// The regex; `(?P<mask>…)` is masked, `(?P<drop>…)` removed, other groups kept.
    #[serde(default)]
    pub redactor: String,
}

/// An invalid Redactor spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("redactor `{redactor}`, field `{field}`: {cause}")]
pub struct RedactError {
    /// The redactor's name (or `unnamed-<i>`).
    pub redactor: String,
    /// The field (`removals.regex[0].redactor`).
    pub field: String,
    /// What is wrong.
    pub cause: String,
}

/// One redaction: what, where; never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedactionRecord {
    /// Which redactor fired.
    pub redactor_name: String,
    /// Bytes removed (original length minus redacted length; may be negative).
    pub characters_removed: i64,
    /// 1-based line; 0 for whole-file (yamlPath) redactions.
    pub line: u64,
    /// Bundle-relative path.
    pub file: String,
    /// True for built-in redactors.
    pub is_default_redactor: bool,
}

/// Troubleshoot's report shape: `{"redactions": {"byRedactor": {...}, "byFile": {...}}}`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RedactionReport {
    /// The two indexes.
    pub redactions: RedactionIndex,
}

/// Records indexed by redactor and by file.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RedactionIndex {
    /// Redactor name → records.
    pub by_redactor: BTreeMap<String, Vec<RedactionRecord>>,
    /// File → records.
    pub by_file: BTreeMap<String, Vec<RedactionRecord>>,
}

impl RedactionReport {
    /// Adds records.
    pub fn extend(&mut self, records: impl IntoIterator<Item = RedactionRecord>) {
        for r in records {
            self.redactions
                .by_redactor
                .entry(r.redactor_name.clone())
                .or_default()
                .push(r.clone());
            self.redactions
                .by_file
                .entry(r.file.clone())
                .or_default()
                .push(r);
        }
    }
}

/// Custom rules of one Redactor spec entry, compiled.
#[derive(Debug)]
struct Custom {
    selector: Vec<globset::GlobMatcher>,
    values: Vec<(String, Vec<u8>)>,
    regex: Vec<LineRule>,
    multi: Vec<MultiLineRule>,
    yaml_paths: Vec<(String, Vec<String>)>,
}

impl Custom {
    fn applies(&self, path: &str) -> bool {
        self.selector.is_empty() || self.selector.iter().any(|m| m.is_match(path))
    }
}

/// Per-line state carried from one line (and one chunk) to the next.
#[derive(Debug, Default, Clone)]
struct LineState {
    /// Multi-line redactors armed by the previous line: (custom index or usize::MAX, rule index).
    armed: Vec<(usize, usize)>,
    /// Inside a PEM private key block.
    in_pem: bool,
    /// Inside a YAML block scalar under a secret key: the key's indentation.
    yaml_block: Option<usize>,
    /// 1-based number of the next line.
    line: u64,
}

impl LineState {
    fn needs_next_line(&self) -> bool {
        !self.armed.is_empty() || self.in_pem || self.yaml_block.is_some()
    }
}

/// Compiled redaction rules, safe to share across threads.
pub struct Redactor {
    defaults: bool,
    line_rules: Vec<LineRule>,
    multi_rules: Vec<MultiLineRule>,
    customs: Vec<Custom>,
    trigger: Regex,
    default_set: regex::bytes::RegexSet,
    pem_begin: Regex,
    yaml_block_key: Regex,
    tokenizer: Option<Tokenizer>,
    structured: bool,
    /// Finds lines worth parsing for structure ([`structured::STRUCT_TRIGGERS`]).
    struct_trigger: Regex,
    prefilter: bool,
}

impl Redactor {
    /// Defaults plus the given Redactor spec entries.
    pub fn new(specs: &[RedactSpec]) -> Result<Redactor, RedactError> {
        Self::build(specs, true)
    }

    /// Only the given specs (troubleshoot's `--redact=false` turns everything off; this keeps
    /// custom specs without the defaults).
    pub fn without_defaults(specs: &[RedactSpec]) -> Result<Redactor, RedactError> {
        Self::build(specs, false)
    }

    /// Parses spec entries from JSON values (the `spec.redactors` list of Redactor documents).
    pub fn from_values(values: &[serde_json::Value]) -> Result<Redactor, RedactError> {
        let mut specs = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let s: RedactSpec = serde_json::from_value(v.clone()).map_err(|e| RedactError {
                redactor: v
                    .get("name")
                    .and_then(|n| n.as_str())
                    .unwrap_or(&format!("unnamed-{i}"))
                    .to_string(),
                field: "redactors".into(),
                cause: e.to_string(),
            })?;
            specs.push(s);
        }
        Self::new(&specs)
    }

    /// Replaces masks by stable tokens (`--tokenize`).
    pub fn with_tokenizer(mut self, tokenizer: Tokenizer) -> Self {
        self.tokenizer = Some(tokenizer);
        self
    }

    /// Turns the whole-file trigger scan and the per-line rule set off, so every line runs
    /// every rule (after its lower-case scan check) the way troubleshoot's redactor does.
    /// Benchmarks compare the two; results are identical.
    #[doc(hidden)]
    pub fn with_line_prefilter(mut self, on: bool) -> Self {
        self.prefilter = on;
        self
    }

    /// The tokenizer, to export the token map after a run.
    pub fn tokenizer(&self) -> Option<&Tokenizer> {
        self.tokenizer.as_ref()
    }

    fn build(specs: &[RedactSpec], defaults: bool) -> Result<Redactor, RedactError> {
        let mut customs = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let base = if s.name.is_empty() {
                format!("unnamed-{i}")
            } else {
                s.name.clone()
            };
            let err = |field: String, cause: String| RedactError {
                redactor: base.clone(),
                field,
                cause,
            };
            let mut selector = Vec::new();
            let globs = std::iter::once(&s.file_selector.file)
                .chain(&s.file_selector.files)
                .filter(|g| !g.is_empty());
            for (j, g) in globs.enumerate() {
                let m =
                    crate::analyze::glob_matcher(g.trim_start_matches("./")).ok_or_else(|| {
                        err(
                            format!("fileSelector.files[{j}]"),
                            format!("`{g}` is not a glob"),
                        )
                    })?;
                selector.push(m);
            }
            let values = s
                .removals
                .values
                .iter()
                .filter(|v| !v.is_empty())
                .enumerate()
                .map(|(j, v)| (format!("{base}.literal.{j}"), v.as_bytes().to_vec()))
                .collect();
            let mut regex = Vec::new();
            let mut multi = Vec::new();
            for (j, r) in s.removals.regex.iter().enumerate() {
                if r.redactor.is_empty() {
                    return Err(err(
                        format!("removals.regex[{j}].redactor"),
                        "is required".into(),
                    ));
                }
                if r.selector.is_empty() {
                    let rule =
                        rules::compile_rule(&format!("{base}.regex.{j}"), &r.redactor, &[], false)
                            .map_err(|e| err(format!("removals.regex[{j}].redactor"), e))?;
                    regex.push(rule);
                } else {
                    let selector = Regex::new(&r.selector)
                        .map_err(|e| err(format!("removals.regex[{j}].selector"), e.to_string()))?;
                    let rule = rules::compile_rule(
                        &format!("{base}.multiLine.{j}"),
                        &r.redactor,
                        &[],
                        false,
                    )
                    .map_err(|e| err(format!("removals.regex[{j}].redactor"), e))?;
                    multi.push(MultiLineRule { selector, rule });
                }
            }
            let yaml_paths = s
                .removals
                .yaml_path
                .iter()
                .enumerate()
                .map(|(j, p)| {
                    (
                        format!("{base}.yaml.{j}"),
                        p.split('.').map(str::to_string).collect(),
                    )
                })
                .collect();
            customs.push(Custom {
                selector,
                values,
                regex,
                multi,
                yaml_paths,
            });
        }
        // Triggers are searched case-sensitively in a lower-cased copy of the data: a plain
        // literal alternation runs on SIMD prefilters, several times faster than `(?i)`.
        let trigger_pattern = rules::DEFAULT_TRIGGERS
            .iter()
            .map(|t| regex::escape(t))
            .collect::<Vec<_>>()
            .join("|");
        let line_rules = if defaults {
            rules::default_line_rules()
        } else {
            Vec::new()
        };
        let build_err = |cause: String| RedactError {
            redactor: "default".into(),
            field: "-".into(),
            cause,
        };
        Ok(Redactor {
            defaults,
            default_set: regex::bytes::RegexSetBuilder::new(
                line_rules.iter().map(|r| r.pattern.as_str()),
            )
            .unicode(false)
            .size_limit(64 * 1024 * 1024)
            .dfa_size_limit(64 * 1024 * 1024)
            .build()
            .map_err(|e| build_err(e.to_string()))?,
            line_rules,
            multi_rules: if defaults {
                rules::default_multi_line_rules()
            } else {
                Vec::new()
            },
            customs,
            trigger: regex::bytes::RegexBuilder::new(&trigger_pattern)
                .unicode(false)
                .build()
                .map_err(|e| build_err(e.to_string()))?,
            pem_begin: Regex::new(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
                .map_err(|e| build_err(e.to_string()))?,
            yaml_block_key: Regex::new(
                r#"^(\s*)(?:-\s+)?["']?([\w.\-]+)["']?\s*:\s*[|>][-+0-9]*\s*$"#,
            )
            .map_err(|e| build_err(e.to_string()))?,
            tokenizer: None,
            structured: defaults,
            struct_trigger: structured::trigger_regex().map_err(|e| build_err(e.to_string()))?,
            prefilter: true,
        })
    }

    /// Redacts one file held in memory. `path` is bundle-relative (selects custom rules).
    pub fn redact(&self, path: &str, data: &[u8]) -> (Vec<u8>, Vec<RedactionRecord>) {
        let customs: Vec<usize> = (0..self.customs.len())
            .filter(|&i| self.customs[i].applies(path))
            .collect();
        let mut records = Vec::new();
        // yamlPath removals need the document before line rules write masks into it (a
        // `***HIDDEN***` scalar is a YAML alias and would no longer parse).
        let mut doc: std::borrow::Cow<[u8]> = std::borrow::Cow::Borrowed(data);
        for &ci in &customs {
            for (name, segs) in &self.customs[ci].yaml_paths {
                if let Some(new) = structured::redact_yaml_path(&doc, segs, &self.mask_fn(name)) {
                    records.push(RedactionRecord {
                        redactor_name: name.clone(),
                        characters_removed: doc.len() as i64 - new.len() as i64,
                        line: 0,
                        file: path.to_string(),
                        is_default_redactor: false,
                    });
                    doc = std::borrow::Cow::Owned(new);
                }
            }
        }
        let data: &[u8] = &doc;
        let mut out = Vec::with_capacity(data.len() + 64);
        let mut st = LineState {
            line: 1,
            ..Default::default()
        };
        let every_line = !self.prefilter || !customs.is_empty();
        self.process(
            path,
            data,
            &customs,
            every_line,
            &mut st,
            &mut out,
            &mut records,
        );
        let out = self.mask_structured(path, data, out, 1, &mut records);
        // Structured masks are found after the line rules ran; keep the report in line order.
        records.sort_by_key(|r| r.line);
        (out, records)
    }

    /// The structured pass over `data` (a whole file or a chunk starting at line
    /// `first_line`): secrets found by structure in the input are masked in `out` (the line
    /// rules' output, which has the same lines) wherever they occur.
    fn mask_structured(
        &self,
        path: &str,
        data: &[u8],
        out: Vec<u8>,
        first_line: u64,
        records: &mut Vec<RedactionRecord>,
    ) -> Vec<u8> {
        if !self.structured {
            return out;
        }
        let values = structured::secret_values(data, &self.struct_trigger);
        let Some(lits) = structured::literal_matcher(&values) else {
            return out;
        };
        let mask = |v: &[u8]| self.mask_value("structured", v);
        let mut record = |line: u64, removed: i64| {
            records.push(RedactionRecord {
                redactor_name: "berth: values under secret keys (JSON/YAML, found by content)"
                    .into(),
                characters_removed: removed,
                line: first_line + line,
                file: path.to_string(),
                is_default_redactor: true,
            })
        };
        lits.mask_all(&out, &mask, &mut record).unwrap_or(out)
    }

    /// Redacts a stream (large logs) in bounded memory, in chunks of whole lines: line rules,
    /// and the structured pass within each chunk (a document cut by a chunk boundary is
    /// parsed as two runs).
    pub fn redact_stream(
        &self,
        path: &str,
        mut input: impl Read,
        mut output: impl Write,
    ) -> std::io::Result<Vec<RedactionRecord>> {
        const CHUNK: usize = 4 * 1024 * 1024;
        // A line longer than this is redacted in pieces rather than held whole.
        const MAX_LINE: usize = 64 * 1024 * 1024;
        let customs: Vec<usize> = (0..self.customs.len())
            .filter(|&i| self.customs[i].applies(path))
            .collect();
        let every_line = !self.prefilter || !customs.is_empty();
        let mut st = LineState {
            line: 1,
            ..Default::default()
        };
        let mut records = Vec::new();
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK * 2);
        let mut out = Vec::with_capacity(CHUNK * 2);
        let mut eof = false;
        while !eof {
            let start = buf.len();
            buf.resize(start + CHUNK, 0);
            let n = read_full(&mut input, &mut buf[start..])?;
            buf.truncate(start + n);
            eof = n == 0;
            let cut = if eof {
                buf.len()
            } else {
                match buf.iter().rposition(|&b| b == b'\n') {
                    Some(p) => p + 1,
                    None if buf.len() >= MAX_LINE => buf.len(),
                    None => continue,
                }
            };
            out.clear();
            let first_line = st.line;
            let mut chunk_records = Vec::new();
            self.process(
                path,
                &buf[..cut],
                &customs,
                every_line,
                &mut st,
                &mut out,
                &mut chunk_records,
            );
            let masked = self.mask_structured(
                path,
                &buf[..cut],
                std::mem::take(&mut out),
                first_line,
                &mut chunk_records,
            );
            chunk_records.sort_by_key(|r| r.line);
            records.extend(chunk_records);
            output.write_all(&masked)?;
            out = masked;
            buf.drain(..cut);
        }
        output.flush()?;
        Ok(records)
    }

    fn mask_fn<'a>(&'a self, rule: &'a str) -> impl Fn(&[u8]) -> Vec<u8> + 'a {
        move |value: &[u8]| self.mask_value(rule, value)
    }

    fn mask_value(&self, rule: &str, value: &[u8]) -> Vec<u8> {
        // Nothing to hide, or already masked (several rules can match the same text).
        if value.is_empty()
            || value == MASK.as_bytes()
            || (value.starts_with(b"***TOKEN_") && value.ends_with(b"***"))
        {
            return value.to_vec();
        }
        match &self.tokenizer {
            Some(t) => t.token(rule, value).into_bytes(),
            None => MASK.as_bytes().to_vec(),
        }
    }

    /// Runs the line rules over `data` (whole lines; the last may lack `\n`).
    #[allow(clippy::too_many_arguments)]
    fn process(
        &self,
        path: &str,
        data: &[u8],
        customs: &[usize],
        every_line: bool,
        st: &mut LineState,
        out: &mut Vec<u8>,
        records: &mut Vec<RedactionRecord>,
    ) {
        let mut pos = 0;
        let len = data.len();
        let mut line_buf: Vec<u8> = Vec::new();
        let mut scan = TriggerScan::default();
        while pos < len {
            let line_start = if every_line || st.needs_next_line() {
                pos
            } else {
                match scan.find(&self.trigger, data, pos) {
                    None => {
                        st.line += count_newlines(&data[pos..]);
                        out.extend_from_slice(&data[pos..]);
                        return;
                    }
                    Some(hit) => {
                        let ls = data[pos..hit]
                            .iter()
                            .rposition(|&b| b == b'\n')
                            .map(|p| pos + p + 1)
                            .unwrap_or(pos);
                        st.line += count_newlines(&data[pos..ls]);
                        out.extend_from_slice(&data[pos..ls]);
                        ls
                    }
                }
            };
            let (line_end, next) = match data[line_start..].iter().position(|&b| b == b'\n') {
                Some(p) => (line_start + p, line_start + p + 1),
                None => (len, len),
            };
            let line = &data[line_start..line_end];
            line_buf.clear();
            self.process_line(path, line, customs, st, &mut line_buf, records);
            out.extend_from_slice(&line_buf);
            if next > line_end {
                out.push(b'\n');
            }
            st.line += 1;
            pos = next;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn process_line(
        &self,
        path: &str,
        line: &[u8],
        customs: &[usize],
        st: &mut LineState,
        out: &mut Vec<u8>,
        records: &mut Vec<RedactionRecord>,
    ) {
        let record = |records: &mut Vec<RedactionRecord>,
                      name: &str,
                      before: usize,
                      after: usize,
                      default: bool,
                      line: u64| {
            records.push(RedactionRecord {
                redactor_name: name.to_string(),
                characters_removed: before as i64 - after as i64,
                line,
                file: path.to_string(),
                is_default_redactor: default,
            });
        };
        // PEM private key body: everything between BEGIN and END lines.
        if st.in_pem {
            if find_bytes(line, b"-----END").is_some() {
                st.in_pem = false;
                out.extend_from_slice(line);
            } else {
                let indent = line.iter().take_while(|b| b.is_ascii_whitespace()).count();
                out.extend_from_slice(&line[..indent]);
                let body = &line[indent..];
                if !body.is_empty() {
                    out.extend_from_slice(&self.mask_value("private key", body));
                    record(
                        records,
                        "berth: private key blocks",
                        line.len(),
                        out.len(),
                        true,
                        st.line,
                    );
                }
            }
            return;
        }
        // YAML block scalar under a secret key: more-indented (or blank) lines are the value.
        if let Some(indent) = st.yaml_block {
            let ind = line
                .iter()
                .take_while(|b| **b == b' ' || **b == b'\t')
                .count();
            if ind == line.len() || ind > indent {
                out.extend_from_slice(&line[..ind]);
                // PEM armour lines say what the value was and are kept.
                if line[ind..].starts_with(b"-----") {
                    out.extend_from_slice(&line[ind..]);
                } else if ind < line.len() {
                    out.extend_from_slice(&self.mask_value("yaml block", &line[ind..]));
                    record(
                        records,
                        "berth: YAML block values under secret keys",
                        line.len(),
                        out.len(),
                        true,
                        st.line,
                    );
                }
                return;
            }
            st.yaml_block = None;
        }
        let armed = std::mem::take(&mut st.armed);
        let mut cur: Vec<u8> = line.to_vec();
        let mut scratch = Vec::new();
        // Multi-line redactors armed by the previous line; this line is then not a selector.
        for &(ci, ri) in &armed {
            let rule = if ci == usize::MAX {
                &self.multi_rules[ri].rule
            } else {
                &self.customs[ci].multi[ri].rule
            };
            if self.apply_rule(rule, &cur, &mut scratch, true) {
                record(
                    records,
                    &rule.name,
                    cur.len(),
                    scratch.len(),
                    rule.is_default,
                    st.line,
                );
                std::mem::swap(&mut cur, &mut scratch);
            }
        }
        let lower = line.to_ascii_lowercase();
        // Every default selector needs `name` or `entity` on the line.
        let may_select =
            find_bytes(&lower, b"name").is_some() || find_bytes(&lower, b"entity").is_some();
        if armed.is_empty() {
            // `{"name": "TOKEN_TTL", "value": "3600"},` is a whole entry: the next line's
            // value belongs to another one.
            let whole_entry = find_bytes(&lower, b"value\"").is_some()
                || find_bytes(&lower, b"value\\\"").is_some();
            for (ri, m) in self.multi_rules.iter().enumerate().filter(|_| may_select) {
                if !whole_entry && m.selects(line) {
                    st.armed.push((usize::MAX, ri));
                }
            }
            for &ci in customs {
                for (ri, m) in self.customs[ci].multi.iter().enumerate() {
                    if m.selector.is_match(line) {
                        st.armed.push((ci, ri));
                    }
                }
            }
        }
        if self.defaults {
            // One pass over the line says which default rules can match at all.
            // (Without the prefilter every rule runs, as troubleshoot does.)
            let hits = self.prefilter.then(|| self.default_set.matches(line));
            for (ri, rule) in self.line_rules.iter().enumerate() {
                if hits.as_ref().is_some_and(|h| !h.matched(ri))
                    || rule.scan.as_ref().is_some_and(|s| !s.is_match(&lower))
                {
                    continue;
                }
                if self.apply_rule(rule, &cur, &mut scratch, false) {
                    record(records, &rule.name, cur.len(), scratch.len(), true, st.line);
                    std::mem::swap(&mut cur, &mut scratch);
                }
            }
            if find_bytes(line, b"-----BEGIN").is_some()
                && self.pem_begin.is_match(line)
                && find_bytes(line, b"-----END").is_none()
            {
                st.in_pem = true;
            }
            let ends_block = line
                .iter()
                .rev()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| b"|>-+0123456789".contains(b));
            if ends_block
                && let Some(c) = self.yaml_block_key.captures(line)
                && let (Some(ind), Some(key)) = (c.get(1), c.get(2))
                && rules::is_secret_key(&String::from_utf8_lossy(key.as_bytes()))
            {
                st.yaml_block = Some(ind.as_bytes().len());
            }
        }
        for &ci in customs {
            let c = &self.customs[ci];
            for rule in &c.regex {
                if self.apply_rule(rule, &cur, &mut scratch, true) {
                    record(
                        records,
                        &rule.name,
                        cur.len(),
                        scratch.len(),
                        false,
                        st.line,
                    );
                    std::mem::swap(&mut cur, &mut scratch);
                }
            }
            for (name, v) in &c.values {
                if find_bytes(&cur, v).is_some() {
                    scratch.clear();
                    replace_all(&cur, v, &self.mask_value(name, v), &mut scratch);
                    record(records, name, cur.len(), scratch.len(), false, st.line);
                    std::mem::swap(&mut cur, &mut scratch);
                }
            }
        }
        out.extend_from_slice(&cur);
    }

    /// Applies one regex rule to `line`, writing into `out`; false when nothing changed.
    fn apply_rule(&self, rule: &LineRule, line: &[u8], out: &mut Vec<u8>, _custom: bool) -> bool {
        out.clear();
        let mut last = 0;
        let mut changed = false;
        for caps in rule.re.captures_iter(line) {
            let Some(m) = caps.get(0) else { continue };
            // A `key` group that does not name a secret leaves the match alone.
            // The `key` group, extended backwards over key characters for rules that match
            // from the secret word on (`db_password` matched at `password`).
            let key_text = rule
                .groups
                .iter()
                .position(|k| *k == GroupKind::Key)
                .and_then(|i| caps.get(i + 1))
                .map(|g| {
                    let mut start = g.start();
                    if rule.key_prefix {
                        while start > last
                            && (line[start - 1].is_ascii_alphanumeric()
                                || matches!(line[start - 1], b'_' | b'.' | b'-' | b'/'))
                        {
                            start -= 1;
                        }
                    }
                    String::from_utf8_lossy(&line[start..g.end()]).into_owned()
                });
            // A `key` that does not name a secret leaves the match alone.
            if key_text
                .as_deref()
                .is_some_and(|k| !rules::is_secret_key(k))
            {
                continue;
            }
            if let Some(check) = rule.check {
                let masked: Vec<u8> = rule
                    .groups
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| **k == GroupKind::Mask)
                    .filter_map(|(i, _)| caps.get(i + 1))
                    .flat_map(|g| g.as_bytes().iter().copied())
                    .collect();
                if !check(line, m.start(), m.end(), &masked) {
                    continue;
                }
            }
            out.extend_from_slice(&line[last..m.start()]);
            // Tokens take their type from the key when the rule has one (DB_PASSWORD → PASSWORD).
            let type_hint = key_text.unwrap_or_else(|| rule.name.clone());
            let mut piece = Vec::with_capacity(m.len());
            for (i, kind) in rule.groups.iter().enumerate() {
                if let Some(g) = caps.get(i + 1) {
                    match kind {
                        GroupKind::Keep | GroupKind::Key => piece.extend_from_slice(g.as_bytes()),
                        GroupKind::Mask => {
                            piece.extend_from_slice(&self.mask_value(&type_hint, g.as_bytes()))
                        }
                        GroupKind::Drop => {}
                    }
                }
            }
            if piece.as_slice() != m.as_bytes() {
                changed = true;
            }
            out.extend_from_slice(&piece);
            last = m.end();
        }
        if !changed {
            return false;
        }
        out.extend_from_slice(&line[last..]);
        true
    }
}

/// A lower-cased window of the data being redacted, reused across trigger searches.
#[derive(Default)]
pub(crate) struct TriggerScan {
    start: usize,
    end: usize,
    lower: Vec<u8>,
}

impl TriggerScan {
    const WINDOW: usize = 256 * 1024;
    /// Longer than the longest trigger, so none is cut at a window edge.
    const OVERLAP: usize = 64;

    /// Position of the first trigger at or after `from`.
    pub(crate) fn find(&mut self, trigger: &Regex, data: &[u8], mut from: usize) -> Option<usize> {
        loop {
            if from >= data.len() {
                return None;
            }
            let usable = if self.end == data.len() {
                self.end
            } else {
                self.end.saturating_sub(Self::OVERLAP)
            };
            if from < self.start || from >= usable {
                self.start = from;
                self.end = (from + Self::WINDOW + Self::OVERLAP).min(data.len());
                self.lower.clear();
                self.lower.extend_from_slice(&data[self.start..self.end]);
                self.lower.make_ascii_lowercase();
            }
            let rel = from - self.start;
            if let Some(m) = trigger.find_at(&self.lower, rel) {
                return Some(self.start + m.start());
            }
            if self.end == data.len() {
                return None;
            }
            from = self.end - Self::OVERLAP;
        }
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

pub(crate) fn count_newlines(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

pub(crate) fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    if needle.len() > hay.len() {
        return None;
    }
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        let p = hay[i..=last_start].iter().position(|&b| b == first)?;
        if hay[i + p + 1..].starts_with(rest) {
            return Some(i + p);
        }
        i += p + 1;
    }
    None
}

fn replace_all(hay: &[u8], needle: &[u8], with: &[u8], out: &mut Vec<u8>) {
    let mut rest = hay;
    while let Some(i) = find_bytes(rest, needle) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(with);
        rest = &rest[i + needle.len()..];
    }
    out.extend_from_slice(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn red(s: &str) -> String {
        let r = Redactor::new(&[]).unwrap();
        let (out, _) = r.redact("f.log", s.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn troubleshoot_defaults() {
        assert_eq!(
            red(r#"{\"name\":\"DB_PASSWORD\",\"value\":\"hunter2\"}"#),
            r#"{\"name\":\"DB_PASSWORD\",\"value\":\"***HIDDEN***\"}"#
        );
        // Troubleshoot's rule 10 also masks host and database of a URL with credentials.
        assert_eq!(
            red("see https://bob:pa55@example.com:8443/x"),
            "see https://***HIDDEN***:***HIDDEN***@***HIDDEN***:8443/***HIDDEN***"
        );
        assert_eq!(
            red("see https://bob:pa55@example.com"),
            "see https://***HIDDEN***:***HIDDEN***@example.com"
        );
        assert_eq!(
            red("Data Source=db1;Initial Catalog=x;"),
            "Data Source=***HIDDEN***;Initial Catalog=x;"
        );
        assert_eq!(
            red("  \"name\": \"AWS_SECRET_ACCESS_KEY\",\n  \"value\": \"abc\"\n"),
            "  \"name\": \"AWS_SECRET_ACCESS_KEY\",\n  \"value\": \"***HIDDEN***\"\n"
        );
    }

    #[test]
    fn berth_rules() {
        assert_eq!(
            red("export DB_PASSWORD=hunter2 next"),
            "export DB_PASSWORD=***HIDDEN*** next"
        );
        assert_eq!(red("secretName: my-tls"), "secretName: my-tls");
        assert_eq!(
            red("Authorization: Bearer abcdef123456"),
            "Authorization: Bearer ***HIDDEN***"
        );
        assert_eq!(
            red("key AKIAIOSFODNN7EXAMPLE used"),
            "key ***HIDDEN*** used"
        );
        assert_eq!(
            red("postgres://app:s3cr3t@db:5432"),
            "postgres://***HIDDEN***:***HIDDEN***@db:5432"
        );
        assert_eq!(
            red(
                "tls.key: |\n  -----BEGIN RSA PRIVATE KEY-----\n  MIIabc\n  -----END RSA PRIVATE KEY-----\nnext: 1\n"
            ),
            "tls.key: |\n  -----BEGIN RSA PRIVATE KEY-----\n  ***HIDDEN***\n  -----END RSA PRIVATE KEY-----\nnext: 1\n"
        );
        assert_eq!(
            red("password: |\n  line1\n  line2\nuser: x\n"),
            "password: |\n  ***HIDDEN***\n  ***HIDDEN***\nuser: x\n"
        );
        assert_eq!(
            red("plain log line without anything\n"),
            "plain log line without anything\n"
        );
    }

    #[test]
    fn custom_specs() {
        let spec = RedactSpec {
            name: "mine".into(),
            file_selector: FileSelector {
                file: String::new(),
                files: vec!["logs/**".into()],
            },
            removals: Removals {
                values: vec!["literal-secret".into()],
                regex: vec![
                    RegexRemoval {
                        selector: String::new(),
                        redactor: r#"("apikey":")(?P<mask>[^"]+)(")(?P<drop>,?)"#.into(),
                    },
                    RegexRemoval {
                        selector: "^SECRET NEXT$".into(),
                        redactor: r"^(?P<mask>.*)$".into(),
                    },
                ],
                yaml_path: vec![],
            },
        };
        let r = Redactor::without_defaults(&[spec]).unwrap();
        let (out, recs) = r.redact("logs/a/b.log", b"x literal-secret y\n{\"apikey\":\"k1\",\"z\":1}\nSECRET NEXT\nthe value\nSECRET NEXT\n");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "x ***HIDDEN*** y\n{\"apikey\":\"***HIDDEN***\"\"z\":1}\nSECRET NEXT\n***HIDDEN***\nSECRET NEXT\n"
        );
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].line, 1);
        assert_eq!(recs[2].redactor_name, "mine.multiLine.1");
        let (out, _) = r.redact("other/file", b"literal-secret");
        assert_eq!(out, b"literal-secret");
        let bad = RedactSpec {
            removals: Removals {
                regex: vec![RegexRemoval {
                    selector: String::new(),
                    redactor: "(".into(),
                }],
                ..Default::default()
            },
            ..Default::default()
        };
        let e = Redactor::new(&[bad]).err().unwrap();
        assert_eq!(e.field, "removals.regex[0].redactor");
        assert_eq!(e.redactor, "unnamed-0");
    }

    #[test]
    fn stream_matches_whole() {
        let r = Redactor::new(&[]).unwrap();
        let mut text = String::new();
        for i in 0..200_000 {
            text.push_str(&format!("line {i} ok\n"));
            if i % 997 == 0 {
                text.push_str("  \"name\": \"API_TOKEN\",\n  \"value\": \"tok-123\"\n");
            }
        }
        let (whole, recs) = r.redact("x.log", text.as_bytes());
        let mut streamed = Vec::new();
        let recs2 = r
            .redact_stream("x.log", text.as_bytes(), &mut streamed)
            .unwrap();
        assert_eq!(whole, streamed);
        assert_eq!(recs, recs2);
        assert!(!String::from_utf8_lossy(&whole).contains("tok-123"));
    }
}
