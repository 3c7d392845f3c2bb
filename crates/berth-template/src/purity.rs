//! Which named templates compute their output from their data alone, so that `include` may
//! reuse an earlier output for the same data (see `Exec::include`).
//!
//! A template is *pure* when everything it can call is: every function it names is in
//! [`PURE`] (deterministic given its arguments; the map-mutating ones such as `set` are
//! allowed because mutation is tracked separately, by [`crate::value::map_writes`]), and
//! every template it reaches through `include` or `{{template}}` is named by a string
//! literal and pure itself. What it cannot know it treats as impure: a template name
//! computed at run time, `tpl` (whose text is data), `lookup` (the cluster), random values,
//! the clock, generated keys and salted hashes, the environment and DNS, and any function
//! not listed.

use crate::fasthash::FastMap;
use crate::parse::{Arg, Branch, List, Node, Pipe, Tree};
use std::sync::Arc;

/// Functions whose result depends only on their arguments (and the maps those reach).
const PURE: &[&str] = &[
    // Go's builtins.
    "and",
    "or",
    "not",
    "len",
    "index",
    "slice",
    "print",
    "printf",
    "println",
    "html",
    "js",
    "urlquery",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    // Helm's own.
    "include",
    "required",
    "fail",
    "toYaml",
    "toYamlPretty",
    "fromYaml",
    "fromYamlArray",
    "toJson",
    "toPrettyJson",
    "toRawJson",
    "fromJson",
    "fromJsonArray",
    "toToml",
    // Lists and dicts.
    "list",
    "tuple",
    "concat",
    "dict",
    "get",
    "set",
    "unset",
    "hasKey",
    "pluck",
    "keys",
    "values",
    "pick",
    "omit",
    "dig",
    "first",
    "last",
    "rest",
    "initial",
    "uniq",
    "without",
    "has",
    "compact",
    "reverse",
    "append",
    "prepend",
    "push",
    "chunk",
    "merge",
    "mergeOverwrite",
    "deepCopy",
    "sortAlpha",
    "until",
    "untilStep",
    "seq",
    // Values and types.
    "default",
    "empty",
    "coalesce",
    "all",
    "any",
    "ternary",
    "typeOf",
    "typeIs",
    "typeIsLike",
    "kindOf",
    "kindIs",
    "deepEqual",
    "semver",
    "semverCompare",
    "urlParse",
    "urlJoin",
    "Error",
    // Dates given a date (not `now` or `ago`).
    "date",
    "htmlDate",
    "htmlDateInZone",
    "toDate",
    "unixEpoch",
    "duration",
    "durationRound",
    "dateInZone",
    "dateModify",
    // Strings.
    "abbrev",
    "abbrevboth",
    "trunc",
    "trim",
    "trimAll",
    "upper",
    "lower",
    "title",
    "untitle",
    "substr",
    "repeat",
    "trimSuffix",
    "trimPrefix",
    "nospace",
    "initials",
    "swapcase",
    "snakecase",
    "kebabcase",
    "camelcase",
    "wrap",
    "wrapWith",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "quote",
    "squote",
    "cat",
    "indent",
    "nindent",
    "replace",
    "plural",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "adler32sum",
    "toString",
    "toStrings",
    "b64enc",
    "b64dec",
    "b32enc",
    "b32dec",
    "split",
    "splitn",
    "splitList",
    "join",
    "regexMatch",
    "regexFindAll",
    "regexFind",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "regexSplit",
    "regexQuoteMeta",
    "derivePassword",
    // Numbers.
    "int",
    "int64",
    "float64",
    "atoi",
    "toDecimal",
    "add1",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "min",
    "max",
    "biggest",
    "maxf",
    "minf",
    "add1f",
    "addf",
    "subf",
    "mulf",
    "divf",
    "ceil",
    "floor",
    "round",
];

fn pure_function(name: &str) -> bool {
    // `mustX` is `X` with an error instead of a zero value.
    let base = name.strip_prefix("must").unwrap_or(name);
    PURE.contains(&name) || (base.len() < name.len() && is_pure_base(base))
}

fn is_pure_base(base: &str) -> bool {
    let mut c = base.chars();
    let Some(f) = c.next() else { return false };
    let lower: String = f.to_lowercase().chain(c).collect();
    PURE.contains(&lower.as_str())
}

/// What is known of one named template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Its output depends only on its data (and the maps that data reaches).
    pub pure: bool,
    /// Its output does not depend on the `Template` entry of any chart context it is given
    /// (Helm sets `.Template` in the shared context before each template file runs, so only
    /// such a template's output may be reused by the next file).
    pub context_free: bool,
}

const UNKNOWN: Verdict = Verdict {
    pure: false,
    context_free: false,
};

/// Decides purity of named templates, remembering each answer.
#[derive(Default)]
pub(crate) struct Purity {
    known: FastMap<String, Verdict>,
}

/// One template's walk: whether dot and each variable may be a chart context (a map with
/// a `Template` entry: the data, `$`, or a context reached through `.Subcharts`).
struct Walk<'p, 'f> {
    purity: &'p mut Purity,
    find: &'f dyn Fn(&str) -> Option<Arc<Tree>>,
    /// Variables that may hold a context (by name, anywhere in the template).
    ctx_vars: Vec<String>,
    grew: bool,
    pure: bool,
    context_free: bool,
}

impl Purity {
    /// What is known of template `name` (found by `find`).
    pub(crate) fn of(&mut self, name: &str, find: &dyn Fn(&str) -> Option<Arc<Tree>>) -> Verdict {
        if let Some(v) = self.known.get(name) {
            return *v;
        }
        // A template that reaches itself (recursion) is not reused: while it is looked at,
        // it counts as unknown, and so does every template judged meanwhile that reaches it.
        self.known.insert(name.to_string(), UNKNOWN);
        let v = match find(name) {
            Some(t) => self.tree(&t, find),
            None => UNKNOWN,
        };
        self.known.insert(name.to_string(), v);
        v
    }

    fn tree(&mut self, t: &Tree, find: &dyn Fn(&str) -> Option<Arc<Tree>>) -> Verdict {
        let mut w = Walk {
            purity: self,
            find,
            ctx_vars: vec!["$".to_string()],
            grew: false,
            pure: true,
            context_free: true,
        };
        // Variables found to hold a context can taint uses seen before them: walk again
        // until the set stops growing (it only grows, at most once per variable).
        loop {
            w.grew = false;
            w.pure = true;
            w.context_free = true;
            w.list(&t.root, true);
            if !w.grew || !w.pure {
                break;
            }
        }
        Verdict {
            pure: w.pure,
            context_free: w.pure && w.context_free,
        }
    }
}

impl Walk<'_, '_> {
    fn list(&mut self, l: &List, dot: bool) {
        for n in l {
            self.node(n, dot);
        }
    }

    fn node(&mut self, n: &Node, dot: bool) {
        match n {
            Node::Text(_) | Node::Break | Node::Continue => {}
            Node::Action(p) => {
                // Printing a context prints its `Template` entry.
                if self.pipe(p, dot) && p.decl.is_empty() {
                    self.context_free = false;
                }
            }
            Node::If(b) => {
                self.pipe(&b.pipe, dot);
                self.branch_bodies(b, dot);
            }
            Node::With(b) => {
                let ctx = self.pipe(&b.pipe, dot);
                self.list(&b.list, ctx);
                if let Some(e) = &b.else_list {
                    self.list(e, dot);
                }
            }
            Node::Range(b) => {
                // Ranging over a context visits its `Template` entry.
                if self.pipe(&b.pipe, dot) {
                    self.context_free = false;
                }
                self.list(&b.list, false);
                if let Some(e) = &b.else_list {
                    self.list(e, dot);
                }
            }
            Node::Template { name, pipe, .. } => {
                let ctx = pipe.as_ref().is_some_and(|p| self.pipe(p, dot));
                self.call(name, ctx);
            }
        }
    }

    fn branch_bodies(&mut self, b: &Branch, dot: bool) {
        self.list(&b.list, dot);
        if let Some(e) = &b.else_list {
            self.list(e, dot);
        }
    }

    /// A template reached with data that may be a context (`ctx`).
    fn call(&mut self, name: &str, ctx: bool) {
        let v = self.purity.of(name, self.find);
        self.pure &= v.pure;
        if ctx {
            self.context_free &= v.context_free;
        }
    }

    fn declare(&mut self, p: &Pipe, ctx: bool) {
        if !ctx {
            return;
        }
        for d in &p.decl {
            if !self.ctx_vars.contains(d) {
                self.ctx_vars.push(d.clone());
                self.grew = true;
            }
        }
    }

    /// Walks a pipeline; returns whether its value may be a context.
    fn pipe(&mut self, p: &Pipe, dot: bool) -> bool {
        let mut prev: Option<bool> = None;
        for c in &p.cmds {
            let args = &c.args;
            let ctx = match args.first() {
                Some(Arg::Ident(_, f)) => self.function(f, &args[1..], prev, dot),
                Some(first) => {
                    let ctx = self.arg(first, dot);
                    // A method given a context may read all of it.
                    let mut given = prev == Some(true);
                    for a in &args[1..] {
                        given |= self.arg(a, dot);
                    }
                    if given {
                        self.context_free = false;
                    }
                    ctx
                }
                None => false,
            };
            prev = Some(ctx);
        }
        let ctx = prev.unwrap_or(false);
        self.declare(p, ctx);
        ctx
    }

    /// A function call with `args` (and the previous command's value, in a pipeline).
    fn function(&mut self, f: &str, args: &[Arg], piped: Option<bool>, dot: bool) -> bool {
        if !pure_function(f) {
            self.pure = false;
        }
        let ctx_args: Vec<bool> = args.iter().map(|a| self.arg(a, dot)).chain(piped).collect();
        if f == "include" {
            match args.first() {
                Some(Arg::Str(_, name, _)) => {
                    let data_ctx = ctx_args.get(1).copied().unwrap_or(false);
                    self.call(name, data_ctx);
                }
                // A name computed at run time: nothing is known of what runs.
                _ => self.pure = false,
            }
            return false;
        }
        // Any other function may read every entry of a context it is given (toYaml,
        // index, keys, printf "%v", ...).
        if ctx_args.iter().any(|c| *c) {
            self.context_free = false;
            return true;
        }
        false
    }

    /// Walks an operand; returns whether its value may be a context.
    fn arg(&mut self, a: &Arg, dot: bool) -> bool {
        match a {
            Arg::Ident(_, f) => self.function(f, &[], None, dot),
            Arg::Pipe(_, p) => self.pipe(p, dot),
            Arg::Chain(_, inner, names) => {
                let base = self.arg(inner, dot);
                self.fields(base, names)
            }
            Arg::Field(_, names) => self.fields(dot, names),
            Arg::Variable(_, name, names) => {
                let base = self.ctx_vars.contains(name);
                self.fields(base, names)
            }
            Arg::Dot(_) => dot,
            Arg::Nil(_) | Arg::Bool(..) | Arg::Number(..) | Arg::Str(..) => false,
        }
    }

    /// `base.names...`: reading `Template` of a context ties the output to it; the value is
    /// a context again when the chain goes through `Subcharts`.
    fn fields(&mut self, base: bool, names: &[String]) -> bool {
        if names.is_empty() {
            return base;
        }
        if !base {
            return false;
        }
        if names.iter().any(|n| n == "Template") {
            self.context_free = false;
        }
        names.iter().any(|n| n == "Subcharts")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_functions_and_their_must_forms_are_pure_and_others_are_not() {
        for f in [
            "toYaml",
            "mustToYaml",
            "mustRegexFind",
            "mustMerge",
            "nindent",
            "include",
        ] {
            assert!(pure_function(f), "{f}");
        }
        for f in [
            "randAlphaNum",
            "now",
            "ago",
            "uuidv4",
            "genCA",
            "bcrypt",
            "htpasswd",
            "lookup",
            "tpl",
            "shuffle",
            "randInt",
            "getHostByName",
            "env",
            "call",
            "mustNow",
            "must",
        ] {
            assert!(!pure_function(f), "{f}");
        }
    }
}
