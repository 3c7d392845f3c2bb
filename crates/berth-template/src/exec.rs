//! Execution of parsed templates with Go's semantics (`text/template/exec.go`): variable
//! scoping, field resolution, pipelines, range/with/if, break/continue, and Go's error text.

use crate::fasthash::FastMap;
use std::borrow::Cow;
use std::sync::Arc;

use crate::TemplateSet;
use crate::funcs::{self, FnErr};
use crate::gofmt;
use crate::parse::{Arg, Branch, Command, List, Node, Number, Pipe, Tree, line_col};
use crate::purity::Purity;
use crate::value::Value;

/// Stack red zone and growth for deep recursion (include depth 1000 must not overflow).
const RED_ZONE: usize = 128 * 1024;
const STACK_GROW: usize = 4 * 1024 * 1024;

/// An execution error with Go's context.
#[derive(Debug, Clone)]
pub struct ExecError {
    /// File the failing node is in (Go's ParseName).
    pub file: String,
    /// 1-based line of the node.
    pub line: usize,
    /// 0-based byte column of the node.
    pub col: usize,
    /// Name of the template being executed (a define name or the file).
    pub template: String,
    /// The node as Go prints it (`.Values.x`, `required "m" .Values.x`).
    pub node: String,
    /// The message.
    pub msg: String,
    /// For `fail`/`required`: the user's message (Helm prints only this, with the location
    /// of the outermost action).
    pub fail: Option<String>,
    /// The error inside an `include` that caused this one (Helm prints the chain level by level).
    pub cause: Option<Box<ExecError>>,
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(m) = &self.fail {
            return write!(
                f,
                "execution error at ({}:{}:{}): {}",
                self.file, self.line, self.col, m
            );
        }
        write!(
            f,
            "template: {}:{}:{}: executing {:?} at <{}>: {}",
            self.file, self.line, self.col, self.template, self.node, self.msg
        )
    }
}

impl ExecError {
    /// The message as Helm v4 prints it.
    pub fn helm_message(&self) -> String {
        if let Some(m) = &self.fail {
            return format!(
                "execution error at ({}:{}:{}): {}",
                self.file, self.line, self.col, m
            );
        }
        // Helm walks the include chain: when the innermost error is a function's own error it
        // keeps Go's single line; otherwise every level gets its own location block.
        if self.cause.is_some() {
            let mut levels = vec![self];
            while let Some(c) = levels.last().and_then(|l| l.cause.as_deref()) {
                levels.push(c);
            }
            let innermost = levels.last().map(|l| l.msg.as_str()).unwrap_or("");
            if innermost.starts_with("error calling ") {
                return self.to_string();
            }
            let mut out = String::new();
            for (i, l) in levels.iter().enumerate() {
                out.push_str(&format!(
                    "{}:{}:{}\n  executing {:?} at <{}>:\n    ",
                    l.file, l.line, l.col, l.template, l.node
                ));
                if i + 1 < levels.len() {
                    out.push_str("error calling include:\n");
                } else {
                    out.push_str(&l.msg);
                }
            }
            return out;
        }
        if let Some(rest) = self.msg.strip_prefix("error calling include: ") {
            return format!(
                "{}:{}:{}\n  executing {:?} at <{}>:\n    error calling include:\n{}",
                self.file, self.line, self.col, self.template, self.node, rest
            );
        }
        if self.msg.starts_with("error calling ") {
            return self.to_string();
        }
        format!(
            "{}:{}:{}\n  executing {:?} at <{}>:\n    {}",
            self.file, self.line, self.col, self.template, self.node, self.msg
        )
    }
}

/// Control flow out of a node.
pub(crate) enum Flow {
    Break,
    Continue,
    Err(Box<ExecError>),
}

impl From<Box<ExecError>> for Flow {
    fn from(e: Box<ExecError>) -> Self {
        Flow::Err(e)
    }
}

type R<T> = Result<T, Flow>;

/// Execution state for one `execute` call (shared across include/tpl/template calls).
pub(crate) struct Exec<'s> {
    pub(crate) set: &'s TemplateSet,
    /// Templates defined by `tpl` strings, visible for the duration of that call.
    pub(crate) overlay: Vec<FastMap<String, Arc<Tree>>>,
    /// Variables in scope, innermost last; a template's own start at `vars_base` (a template
    /// does not see its caller's variables).
    vars: Vec<(Cow<'static, str>, Value)>,
    vars_base: usize,
    /// Current tree (for error positions) and template name.
    tree: Option<Arc<Tree>>,
    include_counts: FastMap<String, usize>,
    depth: usize,
    /// The deepest `depth` reached (for what a kept `include` output needed).
    peak_depth: usize,
    steps: u64,
    pub(crate) out_bytes: usize,
    /// Purity verdicts and kept `include` outputs, carried from one `execute` of the set to
    /// the next.
    pub(crate) reuse: Reuse,
}

/// What an `execute` hands to the next one of the same set.
#[derive(Default)]
pub(crate) struct Reuse {
    purity: Purity,
    /// Outputs of `include`s of pure templates, by name, with the data they were for.
    kept: FastMap<String, Vec<KeptInclude>>,
    /// Counts `execute` calls.
    execution: u64,
    /// Counts `include`s answered from a kept output.
    pub(crate) reused: u64,
    /// [`crate::value::context_stores`] when the set first executed: once a context has
    /// been stored into a map since, outputs are reused within one `execute` only.
    stores: Option<u64>,
}

impl Reuse {
    /// Starts the next `execute`.
    pub(crate) fn next_execution(&mut self) {
        self.execution += 1;
        self.stores.get_or_insert_with(crate::value::context_stores);
    }
}

/// One `include` output kept for reuse: valid while no map has been written since, in the
/// same `execute` or, for a context-free template, in a later one.
struct KeptInclude {
    /// The data (dot) it was computed for; held so the map cannot be freed and its address
    /// reused.
    data: crate::value::MapRef,
    /// [`crate::value::map_writes`] before it ran.
    writes: u64,
    out: String,
    /// What running it cost, charged again on reuse.
    steps: u64,
    bytes: usize,
    depth: usize,
    /// The `execute` it ran in.
    execution: u64,
    /// From the purity analysis: it does not read a context's `Template` entry.
    context_free: bool,
}

/// `include`s kept per template name (distinct data) at most.
const KEPT_PER_NAME: usize = 8;

impl<'s> Exec<'s> {
    pub(crate) fn new(set: &'s TemplateSet) -> Self {
        Exec {
            set,
            overlay: Vec::new(),
            vars: Vec::new(),
            vars_base: 0,
            tree: None,
            include_counts: FastMap::default(),
            depth: 0,
            peak_depth: 0,
            steps: 0,
            out_bytes: 0,
            reuse: Reuse::default(),
        }
    }

    pub(crate) fn strict(&self) -> bool {
        self.set.opts.strict
    }

    pub(crate) fn find(&self, name: &str) -> Option<Arc<Tree>> {
        for o in self.overlay.iter().rev() {
            if let Some(t) = o.get(name) {
                return Some(t.clone());
            }
        }
        self.set.templates.get(name).cloned()
    }

    /// Builds an error located at `pos` in the current tree.
    pub(crate) fn error_at(&self, pos: usize, node: &str, msg: String) -> Box<ExecError> {
        let (file, template, line, col) = match &self.tree {
            Some(t) => {
                let (l, c) = line_col(&t.source, pos);
                (t.parse_name.to_string(), t.name.clone(), l, c)
            }
            None => (String::new(), String::new(), 0, 0),
        };
        Box::new(ExecError {
            file,
            line,
            col,
            template,
            node: node.to_string(),
            msg,
            fail: None,
            cause: None,
        })
    }

    /// Runs a whole tree with fresh variables (`$` = data). Used by execute, include,
    /// template and tpl.
    pub(crate) fn run_tree(
        &mut self,
        tree: &Arc<Tree>,
        data: &Value,
        out: &mut String,
    ) -> Result<(), Box<ExecError>> {
        self.depth += 1;
        self.peak_depth = self.peak_depth.max(self.depth);
        if self.depth > self.set.opts.max_include_depth.max(1) * 2 + 10 {
            self.depth -= 1;
            return Err(self.error_at(
                0,
                &tree.name,
                format!(
                    "exceeded maximum template depth ({})",
                    self.set.opts.max_include_depth
                ),
            ));
        }
        let saved_base = std::mem::replace(&mut self.vars_base, self.vars.len());
        self.vars.push((Cow::Borrowed("$"), data.clone()));
        let saved_tree = self.tree.replace(tree.clone());
        let r = stacker::maybe_grow(RED_ZONE, STACK_GROW, || {
            self.walk_list(data, &tree.root, out)
        });
        self.vars.truncate(self.vars_base);
        self.vars_base = saved_base;
        self.tree = saved_tree;
        self.depth -= 1;
        match r {
            Ok(()) => Ok(()),
            Err(Flow::Err(e)) => Err(e),
            Err(Flow::Break | Flow::Continue) => Ok(()),
        }
    }

    /// Helm's `include`: counts nesting per name. The output of a pure template (see
    /// `purity`) for the same map as data is reused while no map has been written since.
    pub(crate) fn include(&mut self, name: &str, data: &Value) -> Result<String, FnErr> {
        let reusable = match data {
            // Inside `tpl`, its own defines may stand for the set's.
            Value::Map(m) if self.overlay.is_empty() => {
                let v = self.verdict(name);
                v.pure.then(|| (m.clone(), v.context_free))
            }
            _ => None,
        };
        if let Some((m, _)) = &reusable
            && let Some(out) = self.reuse(name, m)
        {
            return Ok(out);
        }
        let before = (
            crate::value::map_writes(),
            self.steps,
            self.out_bytes,
            self.depth,
            std::mem::replace(&mut self.peak_depth, self.depth),
        );
        let r = self.include_run(name, data);
        let depth = self.peak_depth - before.3;
        self.peak_depth = self.peak_depth.max(before.4);
        let out = r?;
        if let Some((m, context_free)) = reusable {
            let execution = self.reuse.execution;
            let kept = self.reuse.kept.entry(name.to_string()).or_default();
            if kept.len() >= KEPT_PER_NAME {
                kept.remove(0);
            }
            kept.push(KeptInclude {
                data: m,
                writes: before.0,
                out: out.clone(),
                steps: self.steps - before.1,
                bytes: self.out_bytes - before.2,
                depth,
                execution,
                context_free,
            });
        }
        Ok(out)
    }

    /// The purity verdict of template `name` of the set.
    fn verdict(&mut self, name: &str) -> crate::purity::Verdict {
        let set = self.set;
        self.reuse
            .purity
            .of(name, &|n: &str| set.templates.get(n).cloned())
    }

    /// A kept output of `include name` for `data`, charged to this execution's budgets as if
    /// it ran; `None` if there is none, a map was written since, or the budgets or the
    /// depth limit would not allow running it here.
    fn reuse(&mut self, name: &str, data: &crate::value::MapRef) -> Option<String> {
        let writes = crate::value::map_writes();
        let across = self.reuse.stores == Some(crate::value::context_stores());
        let execution = self.reuse.execution;
        let k = self.reuse.kept.get(name)?.iter().find(|k| {
            k.writes == writes
                && k.data.ptr_eq(data)
                && (k.execution == execution || (k.context_free && across))
        })?;
        let opts = &self.set.opts;
        if self.steps + k.steps > opts.max_steps
            || self.out_bytes + k.bytes > opts.max_output_bytes
            || self.depth + k.depth > opts.max_include_depth
        {
            return None;
        }
        self.steps += k.steps;
        self.out_bytes += k.bytes;
        let out = k.out.clone();
        self.reuse.reused += 1;
        Some(out)
    }

    fn include_run(&mut self, name: &str, data: &Value) -> Result<String, FnErr> {
        let Some(tree) = self.find(name) else {
            return Err(FnErr::Call(format!(
                "template: no template {:?} associated with template \"gotpl\"",
                name
            )));
        };
        if !self.include_counts.contains_key(name) {
            self.include_counts.insert(name.to_string(), 0);
        }
        let Some(n) = self.include_counts.get_mut(name) else {
            return Err(FnErr::Call(format!(
                "template {name:?}: include count lost"
            )));
        };
        *n += 1;
        if *n > self.set.opts.max_include_depth {
            *n -= 1;
            return Err(FnErr::Call(format!(
                "rendering template has a nested reference name: {name}: unable to execute template"
            )));
        }
        let mut out = String::new();
        let r = self.run_tree(&tree, data, &mut out);
        if let Some(n) = self.include_counts.get_mut(name) {
            *n -= 1;
        }
        r.map_err(FnErr::Exec)?;
        Ok(out)
    }

    fn step(&mut self, pos: usize) -> R<()> {
        self.steps += 1;
        if self.steps > self.set.opts.max_steps {
            return Err(Flow::Err(self.error_at(
                pos,
                "",
                format!(
                    "template execution exceeded its budget of {} steps (a loop or recursion too large)",
                    self.set.opts.max_steps
                ),
            )));
        }
        Ok(())
    }

    fn emit(&mut self, out: &mut String, s: &str, pos: usize) -> R<()> {
        self.out_bytes += s.len();
        if self.out_bytes > self.set.opts.max_output_bytes {
            return Err(Flow::Err(self.error_at(
                pos,
                "",
                format!(
                    "template output exceeded the limit of {} bytes",
                    self.set.opts.max_output_bytes
                ),
            )));
        }
        out.push_str(s);
        Ok(())
    }

    fn walk_list(&mut self, dot: &Value, list: &List, out: &mut String) -> R<()> {
        for n in list {
            self.walk(dot, n, out)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value, node: &Node, out: &mut String) -> R<()> {
        match node {
            Node::Text(t) => {
                self.step(0)?;
                self.emit(out, t, 0)
            }
            Node::Action(pipe) => {
                self.step(pipe.pos)?;
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    match &v {
                        // The common case, without a copy.
                        Value::String(s) => self.emit(out, s, pipe.pos)?,
                        _ => {
                            let s = self.print_value(pipe, &v)?;
                            self.emit(out, &s, pipe.pos)?;
                        }
                    }
                }
                Ok(())
            }
            Node::If(b) => stacker::maybe_grow(RED_ZONE, STACK_GROW, || {
                self.walk_if_with(dot, b, out, false)
            }),
            Node::With(b) => stacker::maybe_grow(RED_ZONE, STACK_GROW, || {
                self.walk_if_with(dot, b, out, true)
            }),
            Node::Range(b) => {
                stacker::maybe_grow(RED_ZONE, STACK_GROW, || self.walk_range(dot, b, out))
            }
            Node::Break => Err(Flow::Break),
            Node::Continue => Err(Flow::Continue),
            Node::Template { pos, name, pipe } => {
                self.step(*pos)?;
                let Some(tree) = self.find(name) else {
                    return Err(Flow::Err(self.error_at(
                        *pos,
                        &format!("{{{{template {:?}}}}}", name),
                        format!("template {:?} not defined", name),
                    )));
                };
                let data = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => Value::Nil,
                };
                let r =
                    stacker::maybe_grow(RED_ZONE, STACK_GROW, || self.run_tree(&tree, &data, out));
                r.map_err(Flow::Err)
            }
        }
    }

    fn print_value(&mut self, pipe: &Pipe, v: &Value) -> R<String> {
        Ok(match v {
            Value::Nil => "<no value>".to_string(),
            Value::String(s) => s.to_string(),
            Value::Object(o) => o.print_text(),
            other => {
                let mut s = String::new();
                gofmt::write_v(&mut s, other, 0);
                let _ = pipe;
                s
            }
        })
    }

    fn walk_if_with(&mut self, dot: &Value, b: &Branch, out: &mut String, with: bool) -> R<()> {
        self.step(b.pos)?;
        let mark = self.vars.len();
        let r = (|| {
            let v = self.eval_pipeline(dot, &b.pipe)?;
            if v.is_true() {
                if with {
                    self.walk_list(&v, &b.list, out)
                } else {
                    self.walk_list(dot, &b.list, out)
                }
            } else if let Some(e) = &b.else_list {
                self.walk_list(dot, e, out)
            } else {
                Ok(())
            }
        })();
        self.vars.truncate(mark);
        r
    }

    fn walk_range(&mut self, dot: &Value, b: &Branch, out: &mut String) -> R<()> {
        self.step(b.pos)?;
        let mark = self.vars.len();
        let r = self.walk_range_inner(dot, b, out);
        self.vars.truncate(mark);
        r
    }

    fn one_iteration(&mut self, b: &Branch, key: Value, elem: Value, out: &mut String) -> R<bool> {
        self.step(b.pos)?;
        let decl = &b.pipe.decl;
        if !decl.is_empty() {
            if b.pipe.is_assign {
                if decl.len() > 1 {
                    self.set_var(&decl[0], key.clone(), b.pos)?;
                    self.set_var(&decl[1], elem.clone(), b.pos)?;
                } else {
                    self.set_var(&decl[0], elem.clone(), b.pos)?;
                }
            } else if decl.len() > 1 {
                let n = self.vars.len();
                self.vars[n - 2].1 = key;
                self.vars[n - 1].1 = elem.clone();
            } else {
                let n = self.vars.len();
                self.vars[n - 1].1 = elem.clone();
            }
        }
        let mark = self.vars.len();
        let r = self.walk_list(&elem, &b.list, out);
        self.vars.truncate(mark);
        match r {
            Ok(()) | Err(Flow::Continue) => Ok(true),
            Err(Flow::Break) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn walk_range_inner(&mut self, dot: &Value, b: &Branch, out: &mut String) -> R<()> {
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let val = match &val {
            Value::Object(o) => o.underlying().unwrap_or(val.clone()),
            _ => val,
        };
        match &val {
            Value::List(l) => {
                if !l.is_empty() {
                    for (i, e) in l.iter().enumerate() {
                        if !self.one_iteration(b, Value::Int(i as i64), e.clone(), out)? {
                            break;
                        }
                    }
                    return Ok(());
                }
            }
            Value::Map(m) => {
                let entries: Vec<(String, Value)> = m
                    .read()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if !entries.is_empty() {
                    for (k, v) in entries {
                        if !self.one_iteration(b, Value::str(&k), v, out)? {
                            break;
                        }
                    }
                    return Ok(());
                }
            }
            Value::Int(n) | Value::Int64(n) => {
                // The loop variable has the ranged integer's type.
                let typed = |i| match &val {
                    Value::Int64(_) => Value::Int64(i),
                    _ => Value::Int(i),
                };
                if b.pipe.decl.len() > 1 {
                    return Err(Flow::Err(self.error_at(
                        b.pipe.pos,
                        &b.pipe.to_string(),
                        format!("can't use {n} to iterate over more than one variable"),
                    )));
                }
                if *n > 0 {
                    for i in 0..*n {
                        if !self.one_iteration(b, typed(i), typed(i), out)? {
                            break;
                        }
                    }
                    return Ok(());
                }
            }
            Value::Nil => {}
            other => {
                let (pos, node) = match b.pipe.cmds.last().and_then(|c| c.args.first()) {
                    Some(a) if b.pipe.cmds.last().is_some_and(|c| c.args.len() == 1) => {
                        (a.pos(), a.to_string())
                    }
                    _ => (
                        b.pipe.cmds.last().map(|c| c.pos).unwrap_or(b.pipe.pos),
                        b.pipe
                            .cmds
                            .last()
                            .map(|c| c.to_string())
                            .unwrap_or_default(),
                    ),
                };
                return Err(Flow::Err(self.error_at(
                    pos,
                    &node,
                    format!("range can't iterate over {}", other),
                )));
            }
        }
        if let Some(e) = &b.else_list {
            self.walk_list(dot, e, out)?;
        }
        Ok(())
    }

    fn set_var(&mut self, name: &str, v: Value, pos: usize) -> R<()> {
        let base = self.vars_base;
        for (n, slot) in self.vars[base..].iter_mut().rev() {
            if n == name {
                *slot = v;
                return Ok(());
            }
        }
        Err(Flow::Err(self.error_at(
            pos,
            name,
            format!("undefined variable: {name}"),
        )))
    }

    fn var(&self, name: &str, pos: usize) -> R<Value> {
        for (n, v) in self.vars[self.vars_base..].iter().rev() {
            if n == name {
                return Ok(v.clone());
            }
        }
        Err(Flow::Err(self.error_at(
            pos,
            name,
            format!("undefined variable: {name}"),
        )))
    }

    pub(crate) fn eval_pipeline(&mut self, dot: &Value, pipe: &Pipe) -> R<Value> {
        let mut val: Option<Value> = None;
        for cmd in &pipe.cmds {
            val = Some(self.eval_command(dot, cmd, val)?);
        }
        let val = val.unwrap_or_default();
        for d in &pipe.decl {
            if pipe.is_assign {
                let at = pipe.cmds.last().map(|c| c.pos).unwrap_or(pipe.pos);
                if let Err(Flow::Err(mut e)) = self.set_var(d, val.clone(), at) {
                    e.node = pipe.cmds.last().map(|c| c.to_string()).unwrap_or_default();
                    return Err(Flow::Err(e));
                }
            } else {
                self.vars.push((Cow::Owned(d.clone()), val.clone()));
            }
        }
        Ok(val)
    }

    fn eval_command(&mut self, dot: &Value, cmd: &Command, fin: Option<Value>) -> R<Value> {
        let first = &cmd.args[0];
        let rest = &cmd.args[1..];
        match first {
            Arg::Field(pos, names) => {
                self.eval_field_chain(dot, dot.clone(), names, rest, fin, *pos, first)
            }
            Arg::Chain(pos, inner, names) => {
                let recv = self.eval_arg(dot, inner)?;
                self.eval_field_chain(dot, recv, names, rest, fin, *pos, first)
            }
            Arg::Ident(pos, name) => self.eval_function(dot, name, cmd, rest, fin, *pos),
            Arg::Variable(pos, name, names) => {
                let v = self.var(name, *pos)?;
                if names.is_empty() {
                    self.not_a_function(cmd, rest, &fin)?;
                    return Ok(v);
                }
                self.eval_field_chain(dot, v, names, rest, fin, *pos, first)
            }
            Arg::Pipe(_, p) => {
                self.not_a_function(cmd, rest, &fin)?;
                stacker::maybe_grow(RED_ZONE, STACK_GROW, || self.eval_pipeline(dot, p))
            }
            Arg::Nil(pos) => Err(Flow::Err(self.error_at(
                *pos,
                &cmd.to_string(),
                "nil is not a command".into(),
            ))),
            _ => {
                self.not_a_function(cmd, rest, &fin)?;
                self.eval_arg(dot, first)
            }
        }
    }

    fn not_a_function(&self, cmd: &Command, rest: &[Arg], fin: &Option<Value>) -> R<()> {
        if !rest.is_empty() || fin.is_some() {
            return Err(Flow::Err(self.error_at(
                cmd.args[0].pos(),
                &cmd.args[0].to_string(),
                format!("can't give argument to non-function {}", cmd.args[0]),
            )));
        }
        Ok(())
    }

    pub(crate) fn eval_arg(&mut self, dot: &Value, arg: &Arg) -> R<Value> {
        match arg {
            Arg::Field(pos, names) => {
                self.eval_field_chain(dot, dot.clone(), names, &[], None, *pos, arg)
            }
            Arg::Variable(pos, name, names) => {
                let v = self.var(name, *pos)?;
                if names.is_empty() {
                    return Ok(v);
                }
                self.eval_field_chain(dot, v, names, &[], None, *pos, arg)
            }
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Ok(Value::Nil),
            Arg::Bool(_, b) => Ok(Value::Bool(*b)),
            Arg::Number(pos, n) => match n {
                Number::Int(i) => Ok(Value::Int(*i)),
                Number::Float(f) => Ok(Value::Float(*f)),
                Number::Overflow(s) => Err(Flow::Err(self.error_at(
                    *pos,
                    s,
                    format!("{s} overflows int"),
                ))),
                Number::Complex(s) => Err(Flow::Err(self.error_at(
                    *pos,
                    s,
                    format!("complex constant {s} is not supported"),
                ))),
            },
            Arg::Str(_, s, _) => Ok(Value::String(s.clone())),
            Arg::Ident(pos, name) => {
                let cmd = Command {
                    pos: *pos,
                    args: Vec::new(),
                };
                self.eval_function(dot, name, &cmd, &[], None, *pos)
            }
            Arg::Pipe(_, p) => {
                stacker::maybe_grow(RED_ZONE, STACK_GROW, || self.eval_pipeline(dot, p))
            }
            Arg::Chain(pos, inner, names) => {
                let recv = self.eval_arg(dot, inner)?;
                self.eval_field_chain(dot, recv, names, &[], None, *pos, arg)
            }
        }
    }

    /// [`Exec::eval_arg`], and whether a nil result is Go's nil interface (see
    /// [`Exec::eval_field_chain_kind`]).
    fn eval_arg_kind(&mut self, dot: &Value, arg: &Arg) -> R<(Value, bool)> {
        match arg {
            Arg::Field(pos, names) => {
                self.eval_field_chain_kind(dot, dot.clone(), names, &[], None, *pos, arg)
            }
            Arg::Variable(pos, name, names) if !names.is_empty() => {
                let v = self.var(name, *pos)?;
                self.eval_field_chain_kind(dot, v, names, &[], None, *pos, arg)
            }
            Arg::Chain(pos, inner, names) => {
                let recv = self.eval_arg(dot, inner)?;
                self.eval_field_chain_kind(dot, recv, names, &[], None, *pos, arg)
            }
            Arg::Ident(..) => {
                let v = self.eval_arg(dot, arg)?;
                let nil = v.is_nil();
                Ok((v, nil))
            }
            _ => Ok((self.eval_arg(dot, arg)?, false)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_field_chain(
        &mut self,
        dot: &Value,
        recv: Value,
        names: &[String],
        args: &[Arg],
        fin: Option<Value>,
        pos: usize,
        node: &Arg,
    ) -> R<Value> {
        self.eval_field_chain_kind(dot, recv, names, args, fin, pos, node)
            .map(|(v, _)| v)
    }

    /// Evaluates `recv.a.b.c`, and says whether a nil result is Go's nil interface (a map
    /// entry, present or missing under `missingkey=zero`) rather than Go's invalid value.
    ///
    /// The difference decides errors: a nil chain root (a variable, `.` or a parenthesised
    /// pipeline, which Go's `evalPipeline` turns into the invalid value) yields zero for
    /// every field after it, while a nil interface met inside the chain fails with `nil
    /// pointer evaluating interface {}.x`; passed to a `map` parameter, the invalid value
    /// becomes a nil map and a nil interface is `wrong type for value`.
    #[allow(clippy::too_many_arguments)]
    fn eval_field_chain_kind(
        &mut self,
        dot: &Value,
        mut recv: Value,
        names: &[String],
        args: &[Arg],
        fin: Option<Value>,
        pos: usize,
        node: &Arg,
    ) -> R<(Value, bool)> {
        let mut invalid = recv.is_nil();
        let n = names.len();
        for (i, name) in names.iter().enumerate() {
            if invalid {
                if self.strict() {
                    return Err(Flow::Err(self.error_at(
                        pos,
                        &node.to_string(),
                        format!("nil data; no entry for key {name:?}"),
                    )));
                }
                continue;
            }
            if i + 1 < n {
                recv = self.eval_field(dot, recv, name, &[], None, pos, node)?;
            } else {
                recv = self.eval_field(dot, recv, name, args, fin.clone(), pos, node)?;
            }
            invalid = false;
        }
        let nil_iface = !invalid && !names.is_empty() && recv.is_nil();
        Ok((recv, nil_iface))
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_field(
        &mut self,
        dot: &Value,
        recv: Value,
        name: &str,
        args: &[Arg],
        fin: Option<Value>,
        pos: usize,
        node: &Arg,
    ) -> R<Value> {
        let has_args = !args.is_empty() || fin.is_some();
        match &recv {
            Value::Object(o) => {
                let mut argv = Vec::with_capacity(args.len() + 1);
                for a in args {
                    argv.push(self.eval_arg(dot, a)?);
                }
                if let Some(f) = fin.clone() {
                    argv.push(f);
                }
                if let Some(r) = o.call_method(name, &argv) {
                    return r.map_err(|e| {
                        Flow::Err(self.error_at(
                            pos,
                            &node.to_string(),
                            format!("error calling {name}: {e}"),
                        ))
                    });
                }
                if let Some(v) = o.field(name) {
                    if has_args {
                        return Err(Flow::Err(self.error_at(
                            pos,
                            &node.to_string(),
                            format!("{name} has arguments but cannot be invoked as function"),
                        )));
                    }
                    return Ok(v);
                }
                if let Some(Value::Map(m)) = o.underlying() {
                    if has_args {
                        return Err(Flow::Err(self.error_at(
                            pos,
                            &node.to_string(),
                            format!("{name} is not a method but has arguments"),
                        )));
                    }
                    return Ok(m.get(name).unwrap_or_default());
                }
                Err(Flow::Err(self.error_at(
                    pos,
                    &node.to_string(),
                    format!("can't evaluate field {name} in type {}", o.type_name()),
                )))
            }
            Value::Map(m) => {
                if has_args {
                    return Err(Flow::Err(self.error_at(
                        pos,
                        &node.to_string(),
                        format!("{name} is not a method but has arguments"),
                    )));
                }
                match m.get(name) {
                    Some(v) => Ok(v),
                    None if self.strict() => Err(Flow::Err(self.error_at(
                        pos,
                        &node.to_string(),
                        format!("map has no entry for key {:?}", name),
                    ))),
                    None => Ok(Value::Nil),
                }
            }
            Value::Nil => Err(Flow::Err(self.error_at(
                pos,
                &node.to_string(),
                format!("nil pointer evaluating interface {{}}.{name}"),
            ))),
            _ => Err(Flow::Err(self.error_at(
                pos,
                &node.to_string(),
                format!("can't evaluate field {name} in type interface {{}}"),
            ))),
        }
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        name: &str,
        cmd: &Command,
        args: &[Arg],
        fin: Option<Value>,
        pos: usize,
    ) -> R<Value> {
        // and/or short-circuit and return the deciding operand.
        if name == "and" || name == "or" {
            let total = args.len() + usize::from(fin.is_some());
            if total == 0 {
                return Err(Flow::Err(self.error_at(
                    pos,
                    &cmd.to_string(),
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                )));
            }
            let mut last = Value::Nil;
            for i in 0..total {
                let v = if i < args.len() {
                    self.eval_arg(dot, &args[i])?
                } else {
                    fin.clone().unwrap_or_default()
                };
                let t = v.is_true();
                last = v;
                if (name == "and" && !t) || (name == "or" && t) {
                    return Ok(last);
                }
            }
            return Ok(last);
        }
        let Some(f) = funcs::get(name) else {
            return Err(Flow::Err(self.error_at(
                pos,
                name,
                format!("{name:?} is not a defined function"),
            )));
        };
        let mut argv = Vec::with_capacity(args.len() + 1);
        let mut nil_iface = 0u64;
        for (i, a) in args.iter().enumerate() {
            let (v, ni) = self.eval_arg_kind(dot, a)?;
            if ni && i < 64 {
                nil_iface |= 1 << i;
            }
            argv.push(v);
        }
        if let Some(v) = fin {
            argv.push(v);
        }
        let _args_kind = funcs::NilIfaceArgs::set(nil_iface);
        let cmd_str = || {
            if cmd.args.is_empty() {
                name.to_string()
            } else {
                cmd.to_string()
            }
        };
        let mut result = f(self, &argv);
        // Go converts an integral float constant (`3.0`) for an int parameter.
        if let Err(FnErr::Arg(i, m)) = &result
            && let Some(Arg::Number(_, Number::Float(x))) = args.get(*i)
            && m.contains("expected int;")
            && x.fract() == 0.0
            && x.abs() < 9.0e15
        {
            argv[*i] = Value::Int(*x as i64);
            result = f(self, &argv);
        }
        match result {
            Ok(v) => Ok(v),
            Err(FnErr::Call(m)) => Err(Flow::Err(self.error_at(
                pos,
                &cmd_str(),
                format!("error calling {name}: {m}"),
            ))),
            Err(FnErr::Arg(i, m)) => {
                let (p, node) = match args.get(i) {
                    Some(a) => (a.pos(), a.to_string()),
                    None => (pos, cmd_str()),
                };
                let literal = matches!(
                    args.get(i),
                    Some(Arg::Str(..) | Arg::Number(..) | Arg::Bool(..))
                );
                let m = match (literal, m.split_once("expected ")) {
                    (true, Some((_, rest))) => {
                        let ty = rest.split(';').next().unwrap_or(rest);
                        if ty.starts_with("map") || ty.starts_with("[]") {
                            format!("can't handle {node} for arg of type {ty}")
                        } else {
                            format!("expected {ty}; found {node}")
                        }
                    }
                    _ => m,
                };
                Err(Flow::Err(self.error_at(p, &node, m)))
            }
            Err(FnErr::Plain(m)) => Err(Flow::Err(self.error_at(pos, name, m))),
            Err(FnErr::Fail(m)) => {
                let mut e = self.error_at(pos, &cmd_str(), format!("error calling {name}: {m}"));
                e.fail = Some(m);
                Err(Flow::Err(e))
            }
            Err(FnErr::Exec(inner)) => {
                let mut e =
                    self.error_at(pos, &cmd_str(), format!("error calling {name}: {inner}"));
                e.fail = inner.fail.clone();
                if name == "include" {
                    e.cause = Some(inner);
                }
                Err(Flow::Err(e))
            }
        }
    }
}
