//! Go text/template semantics in Rust, with the Sprig function library and Helm's template
//! functions: the engine that renders Helm charts and berth's own templates.
//!
//! The engine is written to match what Helm v4 does when it renders a chart, byte for byte
//! where it matters (`toYaml`, `%v`, float formatting, error messages), because a vendor
//! must get the same objects from berth as from `helm template`.
//!
//! ```
//! use berth_template::{Options, TemplateSet, Value};
//! let mut set = TemplateSet::new(Options::default());
//! set.add("t.yaml", r#"{{ define "x" }}hi {{ . }}{{ end }}{{ include "x" .name | upper }}"#).unwrap();
//! let data = Value::from_json(serde_json::json!({"name": "berth"}));
//! assert_eq!(set.execute("t.yaml", &data).unwrap(), "HI BERTH");
//! ```

pub mod bytes;
mod exec;
mod fasthash;
mod funcs;
pub mod gofmt;
mod lex;
pub mod memo;
mod parse;
mod purity;
pub mod semver;
mod value;
pub mod yaml;

use crate::fasthash::FastMap;
use std::sync::Arc;

pub use exec::ExecError;
pub use value::{MapData, MapRef, Object, Value};

use parse::Tree;

/// Helm's `lookup` backend: (apiVersion, kind, namespace, name) → object, list or empty map.
pub type LookupFn = Arc<dyn Fn(&str, &str, &str, &str) -> Result<Value, String> + Send + Sync>;

/// Execution options and resource limits.
#[derive(Debug, Clone)]
pub struct Options {
    /// `missingkey=error` (Helm `--strict`): a missing map key is an error.
    pub strict: bool,
    /// How deep the same named template may nest through `include` (Helm: 1000), and how
    /// deep `template`/`tpl` calls may nest overall.
    pub max_include_depth: usize,
    /// Upper bound on executed nodes and loop iterations per `execute` call.
    pub max_steps: u64,
    /// Upper bound on the bytes one `execute` call may produce (includes nested includes).
    pub max_output_bytes: usize,
    /// Delete every `<no value>` from the rendered text, as Helm does.
    pub strip_no_value: bool,
    /// Let `getHostByName` resolve names (Helm's `--enable-dns`); otherwise it returns "".
    pub enable_dns: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            strict: false,
            max_include_depth: 1000,
            max_steps: 50_000_000,
            max_output_bytes: 256 << 20,
            strip_no_value: true,
            enable_dns: false,
        }
    }
}

/// A template error: parse errors carry the file, line and column; execution errors carry
/// Go's full context.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TemplateError {
    /// The source does not parse.
    #[error("template: {name}:{line}:{col}: {msg}")]
    Parse {
        /// File (template) name.
        name: String,
        /// 1-based line.
        line: usize,
        /// 0-based byte column (Go's convention).
        col: usize,
        /// Go-worded message, e.g. `function "nope" not defined`.
        msg: String,
    },
    /// Execution failed.
    #[error("{0}")]
    Exec(Box<ExecError>),
    /// No template of that name.
    #[error("template: no template {0:?} associated with template \"gotpl\"")]
    NotFound(String),
}

impl TemplateError {
    /// Helm's rendering of the error: `parse error at (file:line): msg` for parse errors,
    /// `execution error at (file:L:C): msg` for `fail`/`required`, and
    /// `file:L:C\n  executing "name" at <node>:\n    msg` for other execution errors.
    pub fn helm_message(&self) -> String {
        match self {
            TemplateError::Parse {
                name, line, msg, ..
            } => {
                // Helm keeps only the text after the last ": " of Go's message.
                let tail = msg.rsplit(": ").next().unwrap_or(msg);
                format!("parse error at ({name}:{line}): {tail}")
            }
            TemplateError::Exec(e) => e.helm_message(),
            TemplateError::NotFound(_) => self.to_string(),
        }
    }
}

/// Many named templates parsed into one namespace (Helm parses all chart templates
/// together so `define`s are shared). Later definitions of a name replace earlier ones.
pub struct TemplateSet {
    pub(crate) templates: FastMap<String, Arc<Tree>>,
    pub(crate) opts: Options,
    pub(crate) lookup: Option<LookupFn>,
    /// What one `execute` leaves to the next: purity verdicts and reusable `include`
    /// outputs (see `purity`).
    reuse: std::sync::Mutex<exec::Reuse>,
}

impl Clone for TemplateSet {
    /// A copy with the same templates; nothing is reused between the two.
    fn clone(&self) -> Self {
        TemplateSet {
            templates: self.templates.clone(),
            opts: self.opts.clone(),
            lookup: self.lookup.clone(),
            reuse: Default::default(),
        }
    }
}

impl TemplateSet {
    /// An empty set.
    pub fn new(opts: Options) -> Self {
        TemplateSet {
            templates: FastMap::default(),
            opts,
            lookup: None,
            reuse: Default::default(),
        }
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Parses `source` as the template `name` and registers its `define`s. The parse of a
    /// (name, source) seen before in this process is reused (see [`memo`]).
    pub fn add(&mut self, name: &str, source: &str) -> Result<(), TemplateError> {
        let parsed = parse_memo(name, source)?;
        let (tree, defines) = &*parsed;
        // Other templates change what the verdicts and outputs were computed from.
        *self.reuse.get_mut().unwrap_or_else(|e| e.into_inner()) = Default::default();
        self.templates.insert(name.to_string(), tree.clone());
        for d in defines {
            self.templates.insert(d.name.clone(), d.clone());
        }
        Ok(())
    }

    /// True if a template (file or define) of that name exists.
    pub fn has(&self, name: &str) -> bool {
        self.templates.contains_key(name)
    }

    /// Names of all templates, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.templates.keys().cloned().collect();
        v.sort();
        v
    }

    /// How many `include`s so far were answered with an output kept from an earlier run of
    /// the same template on the same data (see `purity`).
    pub fn reused_includes(&self) -> u64 {
        self.reuse.lock().unwrap_or_else(|e| e.into_inner()).reused
    }

    /// Sets the backend of Helm's `lookup` (without one, `lookup` returns an empty map).
    pub fn set_lookup(&mut self, f: LookupFn) {
        self.lookup = Some(f);
    }

    /// Executes the template `name` with `data` as dot and `$`. Bytes that are not UTF-8 (a
    /// `substr` inside a character, a binary `b64dec`) come out as [`bytes`] raw-byte
    /// characters.
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, TemplateError> {
        let tree = self
            .templates
            .get(name)
            .ok_or_else(|| TemplateError::NotFound(name.to_string()))?
            .clone();
        let mut ex = exec::Exec::new(self);
        let lock = || self.reuse.lock().unwrap_or_else(|e| e.into_inner());
        ex.reuse = std::mem::take(&mut *lock());
        ex.reuse.next_execution();
        let mut out = String::new();
        let r = ex.run_tree(&tree, data, &mut out);
        *lock() = std::mem::take(&mut ex.reuse);
        r.map_err(TemplateError::Exec)?;
        if self.opts.strip_no_value && out.contains("<no value>") {
            out = out.replace("<no value>", "");
        }
        Ok(bytes::normalize(out))
    }

    /// Parses `source` as a throw-away template named `name` (with access to this set's
    /// defines) and executes it: what Helm's `tpl` does, for hosts that need it.
    pub fn render_string(
        &self,
        name: &str,
        source: &str,
        data: &Value,
    ) -> Result<String, TemplateError> {
        let mut set = self.clone();
        set.add(name, source)?;
        set.execute(name, data)
    }
}

/// Parsed templates: (file tree, its defines) by (name, source). A tree takes several times
/// its source's size, so the memo holds 32 MiB of sources.
type Parsed = Arc<(Arc<Tree>, Vec<Arc<Tree>>)>;

static PARSED: std::sync::LazyLock<memo::Memo<Parsed>> =
    std::sync::LazyLock::new(|| memo::Memo::new(32 << 20));

/// `source` parsed as the template `name`, from the memo when seen before.
pub(crate) fn parse_memo(name: &str, source: &str) -> Result<Parsed, TemplateError> {
    PARSED.get_or_try(name, source, || {
        parse_source(name, source).map(|(tree, defines)| {
            Arc::new((
                Arc::new(tree),
                defines.into_iter().map(Arc::new).collect::<Vec<_>>(),
            ))
        })
    })
}

/// How many RSA keys templates of this process generated (`genPrivateKey`, `genCA`, ...):
/// for measurements that report charts generating keys apart.
pub fn rsa_keys_generated() -> u64 {
    funcs::rsa_keys_generated()
}

/// Forgets the parsed templates this process keeps (for measurements of a first render).
pub fn clear_caches() {
    PARSED.clear();
    funcs::clear_parsed_yaml();
}

pub(crate) fn parse_source(name: &str, source: &str) -> Result<(Tree, Vec<Tree>), TemplateError> {
    parse::parse(name, source, &|f| funcs::exists(f)).map_err(|e| {
        let (line, col) = parse::line_col(source, e.pos);
        TemplateError::Parse {
            name: name.to_string(),
            line,
            col,
            msg: e.msg,
        }
    })
}

/// All function names the engine knows (Go builtins, Sprig as Helm registers it, Helm's own).
pub fn function_names() -> Vec<&'static str> {
    funcs::names()
}
