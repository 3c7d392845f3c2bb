//! Parser for Go text/template (`text/template/parse/parse.go` semantics): builds the tree
//! of one source file and collects its `define`/`block` templates.

use std::sync::Arc;

use crate::lex::{Item, LexError, Tok, lex};

/// Nesting limit for control structures and parentheses (deep input must not overflow the stack).
const MAX_NESTING: usize = 2000;

/// A parsed template body.
pub type List = Vec<Node>;

/// A template node.
#[derive(Debug)]
pub enum Node {
    /// Literal text.
    Text(std::sync::Arc<str>),
    /// `{{ pipeline }}`
    Action(Pipe),
    /// `{{if}}`
    If(Branch),
    /// `{{range}}`
    Range(Branch),
    /// `{{with}}`
    With(Branch),
    /// `{{template "name" pipe}}`
    Template {
        /// Position.
        pos: usize,
        /// Template name.
        name: String,
        /// Data (None = nil dot).
        pipe: Option<Pipe>,
    },
    /// `{{break}}`
    Break,
    /// `{{continue}}`
    Continue,
}

/// if/range/with.
#[derive(Debug)]
pub struct Branch {
    /// Position of the keyword's action.
    pub pos: usize,
    /// Condition.
    pub pipe: Pipe,
    /// Body.
    pub list: List,
    /// `{{else}}` body.
    pub else_list: Option<List>,
}

/// A pipeline with optional variable declarations.
#[derive(Debug)]
pub struct Pipe {
    /// Position.
    pub pos: usize,
    /// `=` rather than `:=`.
    pub is_assign: bool,
    /// Declared variables (`$x`).
    pub decl: Vec<String>,
    /// Commands separated by `|`.
    pub cmds: Vec<Command>,
}

/// A command: operands separated by spaces.
#[derive(Debug)]
pub struct Command {
    /// Position of the first operand.
    pub pos: usize,
    /// Operands; the first may be a function.
    pub args: Vec<Arg>,
}

/// An operand.
#[derive(Debug)]
pub enum Arg {
    /// `.a.b` (pos of the last-relevant segment as Go reports it)
    Field(usize, Vec<String>),
    /// `$x.a.b`
    Variable(usize, String, Vec<String>),
    /// `.`
    Dot(usize),
    /// `nil`
    Nil(usize),
    /// `true` / `false`
    Bool(usize, bool),
    /// Number literal.
    Number(usize, Number),
    /// String literal (value, source text).
    Str(usize, std::sync::Arc<str>, std::sync::Arc<str>),
    /// Function name.
    Ident(usize, String),
    /// `( pipeline )`
    Pipe(usize, Box<Pipe>),
    /// `(x).a.b`
    Chain(usize, Box<Arg>, Vec<String>),
}

/// A numeric literal, typed as Go's `idealConstant` would.
#[derive(Debug, Clone)]
pub enum Number {
    /// int
    Int(i64),
    /// float64
    Float(f64),
    /// Too large for int (error at execution, as Go).
    Overflow(String),
    /// Complex literal (unsupported at execution).
    Complex(String),
}

impl Arg {
    /// Position.
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field(p, _)
            | Arg::Variable(p, _, _)
            | Arg::Dot(p)
            | Arg::Nil(p)
            | Arg::Bool(p, _)
            | Arg::Number(p, _)
            | Arg::Str(p, _, _)
            | Arg::Ident(p, _)
            | Arg::Pipe(p, _)
            | Arg::Chain(p, _, _) => *p,
        }
    }
}

impl std::fmt::Display for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arg::Field(_, names) => {
                for n in names {
                    write!(f, ".{n}")?;
                }
                Ok(())
            }
            Arg::Variable(_, v, names) => {
                write!(f, "{v}")?;
                for n in names {
                    write!(f, ".{n}")?;
                }
                Ok(())
            }
            Arg::Dot(_) => write!(f, "."),
            Arg::Nil(_) => write!(f, "nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Number(_, n) => match n {
                Number::Int(i) => write!(f, "{i}"),
                Number::Float(x) => write!(f, "{}", crate::gofmt::float_v(*x)),
                Number::Overflow(s) | Number::Complex(s) => write!(f, "{s}"),
            },
            Arg::Str(_, _, raw) => write!(f, "{raw}"),
            Arg::Ident(_, n) => write!(f, "{n}"),
            Arg::Pipe(_, p) => write!(f, "({p})"),
            Arg::Chain(_, a, names) => {
                match a.as_ref() {
                    Arg::Pipe(..) => write!(f, "{a}")?,
                    other => write!(f, "({other})")?,
                }
                for n in names {
                    write!(f, ".{n}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.decl.is_empty() {
            write!(f, "{}", self.decl.join(", "))?;
            write!(f, "{}", if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                write!(f, " | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// One parsed template (a file body or a `define`).
#[derive(Debug)]
pub struct Tree {
    /// Template name (`define` name or file name).
    pub name: String,
    /// Name of the file it was parsed from (Go's ParseName), for error locations.
    pub parse_name: Arc<str>,
    /// Source text of that file (for line/column computation).
    pub source: Arc<str>,
    /// Body.
    pub root: List,
}

/// A parse error.
#[derive(Debug, Clone)]
pub struct ParseError {
    /// Byte offset.
    pub pos: usize,
    /// Go-worded message.
    pub msg: String,
}

impl From<LexError> for ParseError {
    fn from(e: LexError) -> Self {
        ParseError {
            pos: e.pos,
            msg: e.msg,
        }
    }
}

/// Parses `src` as the file `name`; returns the file's tree and its defines.
/// `funcs` is the set of known function names (unknown → `function "x" not defined`).
pub fn parse(
    name: &str,
    src: &str,
    funcs: &dyn Fn(&str) -> bool,
) -> Result<(Tree, Vec<Tree>), ParseError> {
    let items = lex(src)?;
    let source: Arc<str> = Arc::from(src);
    let parse_name: Arc<str> = Arc::from(name);
    let mut p = Parser {
        items,
        i: 0,
        funcs,
        vars: vec!["$".to_string()],
        defines: Vec::new(),
        source: source.clone(),
        parse_name: parse_name.clone(),
        range_depth: 0,
        depth: 0,
    };
    let root = p.top()?;
    Ok((
        Tree {
            name: name.to_string(),
            parse_name,
            source,
            root,
        },
        p.defines,
    ))
}

struct Parser<'f> {
    items: Vec<Item>,
    i: usize,
    funcs: &'f dyn Fn(&str) -> bool,
    vars: Vec<String>,
    defines: Vec<Tree>,
    source: Arc<str>,
    parse_name: Arc<str>,
    range_depth: usize,
    depth: usize,
}

enum Stop {
    Eof,
    End(usize),
    Else(usize),
}

fn describe(t: &Tok) -> String {
    // Go's item.String(): keywords in angle brackets, everything else %q (10 runes max).
    let q = |v: &str| {
        if v.chars().count() > 10 {
            let cut: String = v.chars().take(10).collect();
            format!("{}...", crate::gofmt::quote(&cut))
        } else {
            crate::gofmt::quote(v)
        }
    };
    match t {
        Tok::Text(s) => q(s),
        Tok::LeftDelim => q("{{"),
        Tok::RightDelim => q("}}"),
        Tok::Space => q(" "),
        Tok::Field(f) => q(&format!(".{f}")),
        Tok::Variable(v) => q(v),
        Tok::Ident(i) => match &**i {
            "block" | "break" | "continue" | "define" | "else" | "end" | "if" | "range" | "nil"
            | "template" | "with" => format!("<{i}>"),
            _ => q(i),
        },
        Tok::Dot => "<.>".into(),
        Tok::Bool(b) => q(&b.to_string()),
        Tok::Number(n) => q(n),
        Tok::Str(_, raw) => q(raw),
        Tok::Char(_, raw) => q(raw),
        Tok::Pipe => q("|"),
        Tok::LParen => q("("),
        Tok::RParen => q(")"),
        Tok::Declare => q(":="),
        Tok::Assign => q("="),
        Tok::Comma => q(","),
        Tok::Punct(c) => q(&c.to_string()),
        Tok::Eof => "EOF".into(),
    }
}

impl<'f> Parser<'f> {
    fn peek(&self) -> &Item {
        &self.items[self.i.min(self.items.len() - 1)]
    }
    fn next(&mut self) -> Item {
        let it = self.peek().clone();
        if self.i < self.items.len() {
            self.i += 1;
        }
        it
    }
    fn backup(&mut self) {
        self.i = self.i.saturating_sub(1);
    }
    fn next_non_space(&mut self) -> Item {
        loop {
            let it = self.next();
            if it.tok != Tok::Space {
                return it;
            }
        }
    }
    fn peek_non_space(&mut self) -> Item {
        let it = self.next_non_space();
        self.backup();
        it
    }
    fn err<T>(&self, pos: usize, msg: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            pos,
            msg: msg.into(),
        })
    }
    fn unexpected<T>(&self, it: &Item, ctx: &str) -> Result<T, ParseError> {
        if let Tok::Eof = it.tok {
            return self.err(it.pos, format!("unexpected EOF in {ctx}"));
        }
        self.err(
            it.pos,
            format!("unexpected {} in {}", describe(&it.tok), ctx),
        )
    }
    fn expect_right(&mut self, ctx: &str) -> Result<(), ParseError> {
        let it = self.next_non_space();
        if it.tok != Tok::RightDelim {
            return self.unexpected(&it, ctx);
        }
        Ok(())
    }

    fn top(&mut self) -> Result<List, ParseError> {
        let mut list = Vec::new();
        loop {
            let it = self.peek().clone();
            match it.tok {
                Tok::Eof => return Ok(list),
                Tok::LeftDelim => {
                    // define?
                    let save = self.i;
                    self.next();
                    let n = self.next_non_space();
                    if n.tok == Tok::Ident("define".into()) {
                        self.define(it.pos)?;
                        continue;
                    }
                    self.i = save;
                    match self.text_or_action()? {
                        Ok(node) => list.push(node),
                        Err(Stop::End(p)) => return self.err(p, "unexpected {{end}}"),
                        Err(Stop::Else(p)) => return self.err(p, "unexpected {{else}}"),
                        Err(Stop::Eof) => return Ok(list),
                    }
                }
                _ => match self.text_or_action()? {
                    Ok(node) => list.push(node),
                    Err(_) => return Ok(list),
                },
            }
        }
    }

    fn define(&mut self, pos: usize) -> Result<(), ParseError> {
        let name_it = self.next_non_space();
        let name = match &name_it.tok {
            Tok::Str(s, _) => s.to_string(),
            _ => return self.unexpected(&name_it, "define clause"),
        };
        self.expect_right("define clause")?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        match end {
            Stop::End(_) => {}
            Stop::Else(p) => return self.err(p, "unexpected {{else}}"),
            Stop::Eof => return self.err(pos, "unexpected EOF"),
        }
        self.defines.push(Tree {
            name,
            parse_name: self.parse_name.clone(),
            source: self.source.clone(),
            root: list,
        });
        Ok(())
    }

    /// Parses nodes until `{{end}}`, `{{else}}` or EOF.
    fn item_list(&mut self) -> Result<(List, Stop), ParseError> {
        let mut list = Vec::new();
        loop {
            match self.text_or_action()? {
                Ok(n) => list.push(n),
                Err(e) => return Ok((list, e)),
            }
        }
    }

    fn text_or_action(&mut self) -> Result<Result<Node, Stop>, ParseError> {
        let it = self.next();
        match it.tok {
            Tok::Text(s) => Ok(Ok(Node::Text(s))),
            Tok::LeftDelim => self.action(it.pos),
            Tok::Eof => Ok(Err(Stop::Eof)),
            _ => self.unexpected(&it, "input"),
        }
    }

    fn action(&mut self, delim_pos: usize) -> Result<Result<Node, Stop>, ParseError> {
        let it = self.next_non_space();
        if let Tok::Ident(kw) = &it.tok {
            match &**kw {
                "block" => return self.block(it.pos).map(Ok),
                "break" | "continue" => {
                    if self.range_depth == 0 {
                        return self.err(it.pos, format!("{{{{{kw}}}}} outside {{{{range}}}}"));
                    }
                    self.expect_right(&format!("{{{{{kw}}}}}"))?;
                    return Ok(Ok(if &**kw == "break" {
                        Node::Break
                    } else {
                        Node::Continue
                    }));
                }
                "else" => {
                    return Ok(Err(Stop::Else(it.pos)));
                }
                "end" => {
                    self.expect_right("end")?;
                    return Ok(Err(Stop::End(it.pos)));
                }
                "if" | "range" | "with" => {
                    let kw = kw.to_string();
                    let b = stacker::maybe_grow(64 * 1024, 2 * 1024 * 1024, || {
                        self.control(it.pos, &kw)
                    })?;
                    return Ok(Ok(match kw.as_str() {
                        "if" => Node::If(b),
                        "range" => Node::Range(b),
                        _ => Node::With(b),
                    }));
                }
                "template" => return self.template_call(it.pos).map(Ok),
                "define" => return self.err(it.pos, "unexpected <define> in command"),
                _ => {}
            }
        }
        self.backup();
        let _ = delim_pos;
        let pipe = self.pipeline("command", true)?;
        Ok(Ok(Node::Action(pipe)))
    }

    fn enter(&mut self, pos: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return self.err(pos, "template nested too deeply");
        }
        Ok(())
    }

    fn control(&mut self, pos: usize, kw: &str) -> Result<Branch, ParseError> {
        self.enter(pos)?;
        let vars_len = self.vars.len();
        let pipe = self.pipeline(kw, true)?;
        if kw == "range" {
            self.range_depth += 1;
        }
        let (list, end) = self.item_list()?;
        if kw == "range" {
            self.range_depth -= 1;
        }
        let else_list = match end {
            Stop::End(_) => None,
            Stop::Eof => return self.err(pos, "unexpected EOF"),
            Stop::Else(epos) => {
                // `else if` / `else with` chain?
                let nx = self.peek_non_space();
                match &nx.tok {
                    Tok::Ident(k) if (&**k == "if" || &**k == "with") && kw != "range" => {
                        if &**k != kw {
                            return self.unexpected(&nx, "input");
                        }
                        self.next_non_space();
                        let inner = self.control(nx.pos, kw)?;
                        let node = if kw == "if" {
                            Node::If(inner)
                        } else {
                            Node::With(inner)
                        };
                        self.vars.truncate(vars_len);
                        self.depth -= 1;
                        return Ok(Branch {
                            pos,
                            pipe,
                            list,
                            else_list: Some(vec![node]),
                        });
                    }
                    Tok::Ident(k) if &**k == "if" || &**k == "with" => {
                        return self.unexpected(&nx, "input");
                    }
                    _ => {}
                }
                self.expect_right("else")?;
                let (elist, end2) = self.item_list()?;
                match end2 {
                    Stop::End(_) => {}
                    Stop::Else(p) => return self.err(p, "expected end; found {{else}}"),
                    Stop::Eof => return self.err(epos, "unexpected EOF"),
                }
                Some(elist)
            }
        };
        self.vars.truncate(vars_len);
        self.depth -= 1;
        Ok(Branch {
            pos,
            pipe,
            list,
            else_list,
        })
    }

    fn template_call(&mut self, pos: usize) -> Result<Node, ParseError> {
        let name_it = self.next_non_space();
        let name = match &name_it.tok {
            Tok::Str(s, _) => s.to_string(),
            _ => return self.unexpected(&name_it, "template clause"),
        };
        let pos = if name_it.pos > 0 { name_it.pos } else { pos };
        let nx = self.next_non_space();
        let pipe = if nx.tok == Tok::RightDelim {
            None
        } else {
            self.backup();
            Some(self.pipeline("template clause", false)?)
        };
        Ok(Node::Template { pos, name, pipe })
    }

    fn block(&mut self, pos: usize) -> Result<Node, ParseError> {
        let name_it = self.next_non_space();
        let name = match &name_it.tok {
            Tok::Str(s, _) => s.to_string(),
            _ => return self.unexpected(&name_it, "block clause"),
        };
        let pipe = self.pipeline("block clause", false)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        match end {
            Stop::End(_) => {}
            Stop::Else(p) => return self.err(p, "unexpected {{else}}"),
            Stop::Eof => return self.err(pos, "unexpected EOF"),
        }
        self.defines.push(Tree {
            name: name.clone(),
            parse_name: self.parse_name.clone(),
            source: self.source.clone(),
            root: list,
        });
        Ok(Node::Template {
            pos,
            name,
            pipe: Some(pipe),
        })
    }

    /// Parses a pipeline up to `}}` (or `)` when inside parens: `end_paren`).
    fn pipeline(&mut self, ctx: &str, allow_decl: bool) -> Result<Pipe, ParseError> {
        self.pipeline_inner(ctx, allow_decl, false)
    }

    fn pipeline_inner(
        &mut self,
        ctx: &str,
        allow_decl: bool,
        in_paren: bool,
    ) -> Result<Pipe, ParseError> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // declarations
        if allow_decl && let Tok::Variable(v) = &start.tok {
            let save = self.i;
            self.next_non_space();
            let nx = self.next_non_space();
            match nx.tok {
                Tok::Declare | Tok::Assign => {
                    pipe.is_assign = nx.tok == Tok::Assign;
                    pipe.decl.push(v.to_string());
                }
                Tok::Comma if ctx == "range" => {
                    let v2 = self.next_non_space();
                    let Tok::Variable(n2) = &v2.tok else {
                        return self.err(v2.pos, format!("missing variable in {ctx}"));
                    };
                    let op = self.next_non_space();
                    if op.tok == Tok::Comma {
                        return self.err(op.pos, format!("too many declarations in {ctx}"));
                    }
                    if !matches!(op.tok, Tok::Declare | Tok::Assign) {
                        return self.unexpected(&op, ctx);
                    }
                    pipe.is_assign = op.tok == Tok::Assign;
                    pipe.decl.push(v.to_string());
                    pipe.decl.push(n2.to_string());
                }
                Tok::Comma => {
                    return self.err(nx.pos, format!("too many declarations in {ctx}"));
                }
                _ => self.i = save,
            }
        }
        loop {
            let it = self.next_non_space();
            match it.tok {
                Tok::RightDelim if !in_paren => break,
                Tok::RParen if in_paren => break,
                Tok::Bool(_)
                | Tok::Char(..)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Number(_)
                | Tok::Str(..)
                | Tok::Variable(_)
                | Tok::LParen => {
                    self.backup();
                    let cmd = self.command(in_paren)?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&it, ctx),
            }
        }
        if !pipe.decl.is_empty() && !pipe.is_assign {
            for d in &pipe.decl {
                self.vars.push(d.clone());
            }
        }
        if pipe.cmds.is_empty() {
            return self.err(pipe.pos, format!("missing value for {ctx}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(Arg::Bool(..) | Arg::Dot(_) | Arg::Nil(_) | Arg::Number(..) | Arg::Str(..))
            ) {
                return self.err(
                    c.pos,
                    format!("non executable command in pipeline stage {}", i + 1),
                );
            }
        }
        Ok(pipe)
    }

    fn command(&mut self, in_paren: bool) -> Result<Command, ParseError> {
        let first = self.peek_non_space();
        let mut cmd = Command {
            pos: first.pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            let op = self.operand()?;
            match op {
                Some(a) => cmd.args.push(a),
                None => {
                    let it = self.next_non_space();
                    return self.unexpected(&it, "operand");
                }
            }
            let it = self.next();
            match it.tok {
                Tok::Space => {
                    let nx = self.peek_non_space();
                    match nx.tok {
                        Tok::RightDelim | Tok::RParen | Tok::Pipe => {}
                        _ => continue,
                    }
                    let it2 = self.next_non_space();
                    if it2.tok == Tok::Pipe {
                        break;
                    }
                    self.backup();
                    break;
                }
                Tok::RightDelim | Tok::RParen => {
                    self.backup();
                    break;
                }
                Tok::Pipe => break,
                _ => return self.unexpected(&it, "operand"),
            }
        }
        let _ = in_paren;
        if cmd.args.is_empty() {
            return self.err(cmd.pos, "empty command");
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> Result<Option<Arg>, ParseError> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        if let Tok::Field(_) = self.peek().tok {
            let chain_pos = self.peek().pos;
            let mut fields = Vec::new();
            while let Tok::Field(f) = &self.peek().tok {
                fields.push(f.to_string());
                self.next();
            }
            return Ok(Some(match term {
                Arg::Field(_, mut names) => {
                    names.extend(fields);
                    Arg::Field(chain_pos, names)
                }
                Arg::Variable(_, v, mut names) => {
                    names.extend(fields);
                    Arg::Variable(chain_pos, v, names)
                }
                Arg::Bool(p, _) | Arg::Str(p, _, _) | Arg::Number(p, _) | Arg::Nil(p) => {
                    return self.err(p, format!("unexpected . after term {:?}", term.to_string()));
                }
                Arg::Dot(p) => return self.err(p, "unexpected . after term \".\""),
                other => Arg::Chain(chain_pos, Box::new(other), fields),
            }));
        }
        Ok(Some(term))
    }

    fn term(&mut self) -> Result<Option<Arg>, ParseError> {
        let it = self.next_non_space();
        Ok(Some(match it.tok {
            Tok::Ident(name) => {
                if &*name == "nil" {
                    Arg::Nil(it.pos)
                } else {
                    if !(self.funcs)(&name) {
                        return self.err(it.pos, format!("function {:?} not defined", name));
                    }
                    Arg::Ident(it.pos, name.to_string())
                }
            }
            Tok::Dot => Arg::Dot(it.pos),
            Tok::Variable(v) => {
                if !self.vars.iter().any(|x| **x == *v) {
                    return self.err(it.pos, format!("undefined variable {:?}", v));
                }
                Arg::Variable(it.pos, v.to_string(), Vec::new())
            }
            Tok::Field(f) => Arg::Field(it.pos, vec![f.to_string()]),
            Tok::Bool(b) => Arg::Bool(it.pos, b),
            Tok::Char(c, _) => Arg::Number(it.pos, Number::Int(c)),
            Tok::Number(n) => Arg::Number(
                it.pos,
                parse_number(&n).map_err(|m| ParseError {
                    pos: it.pos,
                    msg: m,
                })?,
            ),
            Tok::Str(s, raw) => Arg::Str(it.pos, s, raw),
            Tok::LParen => {
                self.enter(it.pos)?;
                let p = stacker::maybe_grow(64 * 1024, 2 * 1024 * 1024, || {
                    self.pipeline_inner("parenthesized pipeline", true, true)
                })?;
                self.depth -= 1;
                Arg::Pipe(it.pos, Box::new(p))
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

/// Go's NumberNode + idealConstant typing.
fn parse_number(text: &str) -> Result<Number, String> {
    if text.ends_with('i') {
        return Ok(Number::Complex(text.to_string()));
    }
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let clean = body.replace('_', "");
    let lower = clean.to_ascii_lowercase();
    let is_hex = lower.starts_with("0x");
    let int_parse = || -> Option<u64> {
        if let Some(h) = lower.strip_prefix("0x") {
            if h.contains('.') || h.contains('p') {
                return None;
            }
            u64::from_str_radix(h, 16).ok()
        } else if let Some(o) = lower.strip_prefix("0o") {
            u64::from_str_radix(o, 8).ok()
        } else if let Some(b) = lower.strip_prefix("0b") {
            u64::from_str_radix(b, 2).ok()
        } else if lower.len() > 1
            && lower.starts_with('0')
            && lower.bytes().all(|c| c.is_ascii_digit())
        {
            u64::from_str_radix(&lower[1..], 8).ok()
        } else if lower.bytes().all(|c| c.is_ascii_digit()) {
            lower.parse().ok()
        } else {
            None
        }
    };
    if ["0x", "0o", "0b"].contains(&lower.as_str()) {
        return Err(format!("bad number syntax: {:?}", text));
    }
    if let Some(u) = int_parse() {
        let v = if neg {
            if u > i64::MAX as u64 + 1 {
                return Ok(Number::Overflow(text.to_string()));
            }
            (u as i128).wrapping_neg() as i64
        } else {
            if u > i64::MAX as u64 {
                return Ok(Number::Overflow(text.to_string()));
            }
            u as i64
        };
        return Ok(Number::Int(v));
    }
    // float
    let f = if is_hex {
        parse_hex_float(&lower[2..])
    } else {
        lower.parse::<f64>().ok()
    };
    match f {
        Some(f) => {
            if !lower.contains(['.', 'e', 'p']) {
                return Err(format!("integer overflow: {:?}", text));
            }
            Ok(Number::Float(if neg { -f } else { f }))
        }
        None => Err(format!("illegal number syntax: {:?}", text)),
    }
}

fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    let mut v = 0f64;
    for c in ip.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in fp.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

/// Line (1-based) and byte column (0-based, Go's convention) of a byte offset.
pub fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(src.len());
    let before = &src.as_bytes()[..pos];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let col = match before.iter().rposition(|&b| b == b'\n') {
        Some(i) => pos - i - 1,
        None => pos,
    };
    (line, col)
}
