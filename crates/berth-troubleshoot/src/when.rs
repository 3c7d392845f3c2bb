//! The outcome `when` expression language of troubleshoot analyzers.
//!
//! Troubleshoot gives every analyzer its own little `when` parser; they all share one shape,
//! so berth parses every form with one grammar and lets each analyzer give the parts meaning
//! through [`Env`]:
//!
//! ```text
//! expr    := and ( "||" and )*
//! and     := cmp ( "&&"? cmp )*          -- a bare operator after a comparison starts an implicit AND
//! cmp     := [subject] op value          -- "< 1.28.0", "count < 4", "sum(memoryCapacity) < 16Gi"
//!          | word                        -- "connected", "true", "absent"
//! subject := word | word "(" [arg] ")"   -- "used/total", "count()", "nodeCondition(Ready)"
//! op      := < <= > >= = == === != !== <> | supports | hasFlags
//! ```
//!
//! A comparison without a subject that follows one with a subject reuses it, so
//! `centos >= 7 && < 8` reads as `centos >= 7 && centos < 8` (hostOS).
//! Operators may be glued to their value (`<1.28.0`). Tokens are split on any whitespace
//! (troubleshoot breaks on double spaces; berth accepts them).
//!
//! The module also holds the value types `when` compares: Kubernetes quantities, percentages,
//! tolerant versions and Go durations.

use std::fmt;

/// A problem in a `when` expression or in the value it compares.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("when \"{expr}\": {cause}")]
pub struct WhenError {
    /// The expression as written.
    pub expr: String,
    /// What is wrong and what was expected.
    pub cause: String,
}

impl WhenError {
    /// An error about `expr`.
    pub fn new(expr: &str, cause: impl Into<String>) -> Self {
        WhenError {
            expr: expr.to_string(),
            cause: cause.into(),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=`, `==`, `===`
    Eq,
    /// `!=`, `!==`, `<>`
    Ne,
    /// `supports` (cpu microarchitecture levels)
    Supports,
    /// `hasFlags` (cpu flags)
    HasFlags,
}

impl Op {
    /// Parses an operator token.
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "=" | "==" | "===" => Op::Eq,
            "!=" | "!==" | "<>" => Op::Ne,
            _ if s.eq_ignore_ascii_case("supports") => Op::Supports,
            _ if s.eq_ignore_ascii_case("hasflags") => Op::HasFlags,
            _ => return None,
        })
    }

    /// True for `<`, `<=`, `>`, `>=`, `=` and `!=`.
    pub fn is_ordering(self) -> bool {
        !matches!(self, Op::Supports | Op::HasFlags)
    }

    /// Applies the operator to two ordered values.
    pub fn holds<T: PartialOrd + ?Sized>(self, left: &T, right: &T) -> bool {
        match self {
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Gt => left > right,
            Op::Ge => left >= right,
            Op::Eq => left == right,
            Op::Ne => left != right,
            Op::Supports | Op::HasFlags => false,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Supports => "supports",
            Op::HasFlags => "hasFlags",
        })
    }
}

/// The left side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A plain word: `count`, `used/total`, `kernelVersion`, `ubuntu`, `statusCode`.
    Ident(String),
    /// A function call: `sum(memoryCapacity)`, `count()`, `nodeCondition(Ready)`.
    Call {
        /// Function name.
        func: String,
        /// The argument between the parentheses (may be empty).
        arg: String,
    },
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Ident(s) => f.write_str(s),
            Subject::Call { func, arg } => write!(f, "{func}({arg})"),
        }
    }
}

/// One parsed `when` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// An empty `when`: always true (the catch-all outcome).
    Always,
    /// Alternatives (`||`): true when any is.
    Or(Vec<When>),
    /// Conjunction (`&&` or implicit): true when all are.
    And(Vec<When>),
    /// `[subject] op value`.
    Cmp {
        /// The left side; `None` means "the analyzer's default quantity".
        subject: Option<Subject>,
        /// The operator.
        op: Op,
        /// The right side, as written (quotes kept off).
        value: String,
    },
    /// A single word: a state (`connected`), a boolean (`true`) or a keyword (`absent`).
    Word(String),
}

/// What an analyzer gives the words of a `when` expression.
pub trait Env {
    /// Evaluates `[subject] op value`.
    fn cmp(&self, subject: Option<&Subject>, op: Op, value: &str) -> Result<bool, String>;
    /// Evaluates a lone word.
    fn word(&self, word: &str) -> Result<bool, String>;
}

/// Upper bound on the length of an expression, against pathological specs.
const MAX_LEN: usize = 4096;

impl When {
    /// Parses a `when` string.
    pub fn parse(src: &str) -> Result<When, WhenError> {
        if src.len() > MAX_LEN {
            return Err(WhenError::new(
                &src.chars().take(64).collect::<String>(),
                "expression longer than 4096 bytes",
            ));
        }
        let tokens = tokenize(src);
        if tokens.is_empty() {
            return Ok(When::Always);
        }
        let mut alternatives = Vec::new();
        for group in tokens.split(|t| t == "||") {
            if group.is_empty() {
                return Err(WhenError::new(
                    src,
                    "`||` needs an expression on both sides",
                ));
            }
            let mut terms = Vec::new();
            let mut last_subject: Option<Subject> = None;
            let mut i = 0;
            while i < group.len() {
                if group[i] == "&&" {
                    if terms.is_empty() || i + 1 >= group.len() || group[i + 1] == "&&" {
                        return Err(WhenError::new(
                            src,
                            "`&&` needs an expression on both sides",
                        ));
                    }
                    i += 1;
                    continue;
                }
                let (term, used) = parse_cmp(src, &group[i..], &mut last_subject)?;
                terms.push(term);
                i += used;
            }
            alternatives.push(if terms.len() == 1 {
                terms.remove(0)
            } else {
                When::And(terms)
            });
        }
        Ok(if alternatives.len() == 1 {
            alternatives.remove(0)
        } else {
            When::Or(alternatives)
        })
    }

    /// Evaluates the expression against an analyzer's data.
    pub fn eval(&self, env: &dyn Env) -> Result<bool, String> {
        match self {
            When::Always => Ok(true),
            When::Or(items) => {
                for item in items {
                    if item.eval(env)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            When::And(items) => {
                for item in items {
                    if !item.eval(env)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            When::Cmp { subject, op, value } => env.cmp(subject.as_ref(), *op, value),
            When::Word(w) => env.word(w),
        }
    }

    /// The comparisons of the expression, in order (for analyzers that only accept one).
    pub fn single_cmp(&self) -> Option<(Option<&Subject>, Op, &str)> {
        match self {
            When::Cmp { subject, op, value } => Some((subject.as_ref(), *op, value.as_str())),
            _ => None,
        }
    }
}

/// Parses one comparison from the start of `toks`; returns it and the tokens used.
fn parse_cmp(
    src: &str,
    toks: &[String],
    last_subject: &mut Option<Subject>,
) -> Result<(When, usize), WhenError> {
    let first = &toks[0];
    if let Some(op) = Op::parse(first) {
        let value = toks
            .get(1)
            .filter(|v| v.as_str() != "&&" && Op::parse(v).is_none())
            .ok_or_else(|| {
                WhenError::new(src, format!("operator `{first}` needs a value after it"))
            })?;
        let subject = last_subject.clone();
        return Ok((
            When::Cmp {
                subject,
                op,
                value: unquote(value),
            },
            2,
        ));
    }
    let subject = parse_subject(src, first)?;
    match toks.get(1).and_then(|t| Op::parse(t).map(|op| (op, t))) {
        Some((op, op_tok)) => {
            let value = toks.get(2).filter(|v| v.as_str() != "&&").ok_or_else(|| {
                WhenError::new(src, format!("operator `{op_tok}` needs a value after it"))
            })?;
            *last_subject = Some(subject.clone());
            Ok((
                When::Cmp {
                    subject: Some(subject),
                    op,
                    value: unquote(value),
                },
                3,
            ))
        }
        None => match subject {
            Subject::Ident(w) => Ok((When::Word(unquote(&w)), 1)),
            Subject::Call { .. } => Err(WhenError::new(
                src,
                format!("`{subject}` must be compared: write e.g. `{subject} >= 1`"),
            )),
        },
    }
}

fn parse_subject(src: &str, tok: &str) -> Result<Subject, WhenError> {
    match tok.find('(') {
        None => {
            if tok.contains(')') {
                return Err(WhenError::new(src, format!("unbalanced `)` in `{tok}`")));
            }
            Ok(Subject::Ident(tok.to_string()))
        }
        Some(open) => {
            if !tok.ends_with(')') || open == 0 {
                return Err(WhenError::new(
                    src,
                    format!("`{tok}` is not a call like `sum(memoryCapacity)`"),
                ));
            }
            let arg = &tok[open + 1..tok.len() - 1];
            if arg.contains('(') || arg.contains(')') {
                return Err(WhenError::new(
                    src,
                    format!("nested parentheses in `{tok}`"),
                ));
            }
            Ok(Subject::Call {
                func: tok[..open].to_string(),
                arg: arg.trim().to_string(),
            })
        }
    }
}

fn unquote(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

/// Splits on whitespace, separates operators glued to their value (`<1.28.0`, `>=5`) and
/// function calls with spaces inside parentheses (`sum( memoryCapacity )`).
fn tokenize(src: &str) -> Vec<String> {
    let mut raw: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut cur = String::new();
    for c in src.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c)
            }
            ')' => {
                depth = depth.saturating_sub(1);
                cur.push(c)
            }
            c if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    raw.push(std::mem::take(&mut cur));
                }
            }
            c if c.is_whitespace() => {}
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        raw.push(cur);
    }
    let mut out = Vec::with_capacity(raw.len());
    for tok in raw {
        let op_len = tok
            .bytes()
            .take_while(|b| matches!(b, b'<' | b'>' | b'=' | b'!'))
            .count();
        if op_len > 0 && op_len < tok.len() && !tok.starts_with("||") {
            out.push(tok[..op_len].to_string());
            out.push(tok[op_len..].to_string());
        } else {
            out.push(tok);
        }
    }
    out
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Parses a Kubernetes quantity (`16Gi`, `500m`, `1.5G`, `2e3`, `100`) into a plain number.
pub fn parse_quantity(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let split = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || ((c == '+' || c == '-') && i == 0)))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let base: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a quantity (expected e.g. 16Gi, 500m, 4)"))?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        e if e.starts_with(['e', 'E']) => {
            let exp: i32 = e[1..]
                .parse()
                .map_err(|_| format!("`{s}` has a bad exponent"))?;
            10f64.powi(exp)
        }
        other => {
            return Err(format!(
                "`{s}`: unknown quantity suffix `{other}` (use Ki Mi Gi Ti, k M G T, m)"
            ));
        }
    };
    Ok(base * mult)
}

/// Parses a ratio: `70%` → 0.7, `0.7` → 0.7.
pub fn parse_ratio(s: &str) -> Result<f64, String> {
    match s.strip_suffix('%') {
        Some(p) => p
            .parse::<f64>()
            .map(|v| v / 100.0)
            .map_err(|_| format!("`{s}` is not a percentage")),
        None => s
            .parse::<f64>()
            .map_err(|_| format!("`{s}` is not a ratio (expected 70% or 0.7)")),
    }
}

/// Parses a Go duration (`1ms`, `2.5s`, `1m30s`, `300us`) into nanoseconds.
pub fn parse_go_duration(s: &str) -> Result<f64, String> {
    let orig = s;
    let mut s = s.trim();
    if s == "0" {
        return Ok(0.0);
    }
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = 0.0;
    while !s.is_empty() {
        let n = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        if n == 0 {
            return Err(format!(
                "`{orig}` is not a duration (expected e.g. 10ms, 1.5s)"
            ));
        }
        let v: f64 = s[..n]
            .parse()
            .map_err(|_| format!("`{orig}` is not a duration"))?;
        s = &s[n..];
        let u = s
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(s.len());
        let mult = match &s[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => {
                return Err(format!(
                    "`{orig}`: unknown duration unit `{other}` (ns us ms s m h)"
                ));
            }
        };
        total += v * mult;
        s = &s[u..];
    }
    Ok(total)
}

/// A version compared the way troubleshoot's tolerant semver does: leading `v` dropped,
/// missing minor/patch are 0, a pre-release sorts below its release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// major, minor, patch
    pub nums: [u64; 3],
    /// Pre-release identifiers (`-rc.1` → `["rc", "1"]`).
    pub pre: Vec<String>,
}

impl Version {
    /// Tolerant parse: `v1.28`, `5.15.0-91-generic`, `22.04`: the leading `N[.N[.N]]` only,
    /// as troubleshoot compares host and database versions (suffixes are dropped).
    pub fn parse_tolerant(s: &str) -> Option<Version> {
        let s = s.trim().trim_start_matches(['v', 'V']);
        let end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let core = s[..end].trim_end_matches('.');
        if core.is_empty() {
            return None;
        }
        let mut nums = [0u64; 3];
        for (i, part) in core.split('.').take(3).enumerate() {
            nums[i] = part.parse().ok()?;
        }
        Some(Version {
            nums,
            pre: Vec::new(),
        })
    }

    /// Strict `X.Y.Z[-pre][+build]`, as clusterVersion ranges require; a pre-release
    /// (`1.28.3-gke.1`) sorts below its release.
    pub fn parse_strict(s: &str) -> Option<Version> {
        let s = s.trim().trim_start_matches('v');
        let (no_build, _) = s.split_once('+').unwrap_or((s, ""));
        let (core, pre) = match no_build.split_once('-') {
            Some((c, p)) => (c, p.split('.').map(str::to_string).collect()),
            None => (no_build, Vec::new()),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        let mut nums = [0u64; 3];
        for (i, p) in parts.iter().enumerate() {
            nums[i] = p.parse().ok()?;
        }
        Some(Version { nums, pre })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        use std::cmp::Ordering;
        Some(match self.nums.cmp(&other.nums) {
            Ordering::Equal => match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&other.pre) {
                        let o = match (a.parse::<u64>(), b.parse::<u64>()) {
                            (Ok(x), Ok(y)) => x.cmp(&y),
                            _ => a.cmp(b),
                        };
                        if o != Ordering::Equal {
                            return Some(o);
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            },
            o => o,
        })
    }
}

/// Compares a version against `op value` where the value may use `x` wildcards (`1.x`, `1.28.x`):
/// a wildcard turns `== 1.x` into `>= 1.0.0 < 2.0.0`, as blang/semver ranges do.
pub fn version_cmp(version: &Version, op: Op, value: &str, strict: bool) -> Result<bool, String> {
    let value = value.trim();
    let parts: Vec<&str> = value.trim_start_matches('v').split('.').collect();
    if let Some(wild) = parts.iter().position(|p| matches!(*p, "x" | "X" | "*")) {
        if wild == 0 {
            return Ok(!matches!(op, Op::Ne | Op::Lt | Op::Gt));
        }
        if wild > 2 {
            return Err(format!(
                "`{value}`: a wildcard goes in the minor or patch place (1.x, 1.28.x)"
            ));
        }
        let mut lo = [0u64; 3];
        for (i, p) in parts[..wild].iter().enumerate() {
            lo[i] = p
                .parse()
                .map_err(|_| format!("`{value}` is not a version"))?;
        }
        let mut hi = lo;
        hi[wild - 1] = hi[wild - 1].saturating_add(1);
        let low = Version {
            nums: lo,
            pre: vec![],
        };
        let high = Version {
            nums: hi,
            pre: vec![],
        };
        let v = Version {
            nums: version.nums,
            pre: vec![],
        };
        return Ok(match op {
            Op::Eq => v >= low && v < high,
            Op::Ne => !(v >= low && v < high),
            Op::Lt => v < low,
            Op::Le => v < high,
            Op::Gt => v >= high,
            Op::Ge => v >= low,
            Op::Supports | Op::HasFlags => false,
        });
    }
    let want = if strict {
        Version::parse_strict(value)
    } else {
        Version::parse_tolerant(value)
    };
    let want = want.ok_or_else(|| {
        if strict {
            format!("`{value}` is not a full version: write X.Y.Z (e.g. 1.28.0)")
        } else {
            format!("`{value}` is not a version")
        }
    })?;
    if !op.is_ordering() {
        return Err(format!("`{op}` cannot compare versions"));
    }
    Ok(op.holds(version, &want))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Num(f64);
    impl Env for Num {
        fn cmp(&self, subject: Option<&Subject>, op: Op, value: &str) -> Result<bool, String> {
            let left = match subject {
                None => self.0,
                Some(Subject::Ident(s)) if s == "double" => self.0 * 2.0,
                Some(Subject::Call { func, .. }) if func == "sum" => self.0 * 10.0,
                Some(s) => return Err(format!("unknown {s}")),
            };
            Ok(op.holds(&left, &parse_quantity(value)?))
        }
        fn word(&self, word: &str) -> Result<bool, String> {
            parse_bool(word).ok_or_else(|| format!("bad word {word}"))
        }
    }

    fn ev(src: &str, n: f64) -> bool {
        When::parse(src).unwrap().eval(&Num(n)).unwrap()
    }

    #[test]
    fn forms() {
        assert!(ev("", 1.0));
        assert!(ev("< 2", 1.0));
        assert!(!ev("<1", 1.0));
        assert!(ev(">=1", 1.0));
        assert!(ev("double == 4", 2.0));
        assert!(ev("sum(memoryCapacity) < 16Gi", 1e9));
        assert!(!ev("sum( memoryCapacity ) >= 16Gi", 1e9));
        assert!(ev("> 1 && < 3", 2.0));
        assert!(!ev("> 1 < 2", 2.0));
        assert!(ev("< 1 || > 1", 2.0));
        assert!(ev("true", 0.0));
        assert!(!ev("false", 0.0));
        assert!(ev("double  >   3", 2.0));
    }

    #[test]
    fn subject_inherited() {
        let w = When::parse("centos >= 7 && < 8").unwrap();
        let When::And(items) = w else {
            panic!("not an and")
        };
        assert_eq!(
            items[1],
            When::Cmp {
                subject: Some(Subject::Ident("centos".into())),
                op: Op::Lt,
                value: "8".into()
            }
        );
    }

    #[test]
    fn errors() {
        for bad in [
            "<",
            "count() <",
            "sum(x)",
            "&& < 1",
            "< 1 &&",
            "|| < 1",
            "< 1 ||",
            "a(b(c)) < 1",
            "f(x < 1",
        ] {
            assert!(When::parse(bad).is_err(), "{bad} should not parse");
        }
        assert!(When::parse("< 1").unwrap().eval(&Num(1.0)).is_ok());
        assert!(When::parse("< 1Qi").unwrap().eval(&Num(1.0)).is_err());
    }

    #[test]
    fn quantities() {
        assert_eq!(
            parse_quantity("16Gi").unwrap(),
            16.0 * 1024.0 * 1024.0 * 1024.0
        );
        assert_eq!(parse_quantity("16G").unwrap(), 16e9);
        assert_eq!(parse_quantity("500m").unwrap(), 0.5);
        assert_eq!(parse_quantity("2e3").unwrap(), 2000.0);
        assert!(parse_quantity("lots").is_err());
        assert_eq!(parse_ratio("70%").unwrap(), 0.7);
        assert_eq!(parse_ratio("0.7").unwrap(), 0.7);
        assert_eq!(parse_go_duration("1m30s").unwrap(), 90e9);
        assert_eq!(parse_go_duration("10ms").unwrap(), 1e7);
        assert!(parse_go_duration("10 parsecs").is_err());
    }

    #[test]
    fn versions() {
        let v = Version::parse_strict("v1.28.3-gke.1").unwrap();
        assert!(version_cmp(&v, Op::Lt, "1.28.3", true).unwrap());
        assert!(version_cmp(&v, Op::Ge, "1.28.0", true).unwrap());
        assert!(version_cmp(&v, Op::Eq, "1.x", true).unwrap());
        assert!(version_cmp(&v, Op::Eq, "1.28.x", true).unwrap());
        assert!(!version_cmp(&v, Op::Eq, "1.27.x", true).unwrap());
        assert!(version_cmp(&v, Op::Lt, "1.28", true).is_err());
        assert!(version_cmp(&v, Op::Eq, "1.2.3.x", true).is_err());
        assert!(version_cmp(&v, Op::Eq, "1.2.3.4.x", false).is_err());
        assert!(version_cmp(&v, Op::Lt, "1.29", false).unwrap());
        let k = Version::parse_tolerant("5.15.0-91-generic").unwrap();
        assert_eq!(k.nums, [5, 15, 0]);
    }
}
