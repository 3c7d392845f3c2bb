//! The function map: Go's builtins, Sprig v3 as Helm registers it (minus `env`/`expandenv`),
//! and Helm's own functions. Later registrations override earlier ones, as FuncMap entries
//! override builtins in Go (so `slice` is Sprig's).

use crate::fasthash::FastMap;
use std::sync::OnceLock;

use crate::exec::{Exec, ExecError};
use crate::gofmt;
use crate::value::Value;

mod builtin;
mod crypto;
mod helm;
mod lists;
mod math;
mod misc;
mod strings;

/// How a function fails.
pub(crate) enum FnErr {
    /// A Go error returned by the function: `error calling NAME: msg`.
    Call(String),
    /// Go's argument type check failed for argument `i` (reported at that argument).
    Arg(usize, String),
    /// A message reported at the command as is.
    Plain(String),
    /// `fail`/`required`: Helm reports only the message, at the outermost action.
    Fail(String),
    /// An error from a nested template (`include`, `tpl`).
    Exec(Box<ExecError>),
}

pub(crate) type Func = fn(&mut Exec, &[Value]) -> Result<Value, FnErr>;
pub(crate) type Res = Result<Value, FnErr>;

fn registry() -> &'static FastMap<&'static str, Func> {
    static REG: OnceLock<FastMap<&'static str, Func>> = OnceLock::new();
    REG.get_or_init(|| {
        let mut m: FastMap<&'static str, Func> = FastMap::default();
        builtin::register(&mut m);
        strings::register(&mut m);
        math::register(&mut m);
        lists::register(&mut m);
        misc::register(&mut m);
        crypto::register(&mut m);
        helm::register(&mut m);
        // `and`/`or` are evaluated lazily by the executor; registered for the parser.
        m.insert("and", |_, _| Ok(Value::Nil));
        m.insert("or", |_, _| Ok(Value::Nil));
        m
    })
}

pub(crate) fn rsa_keys_generated() -> u64 {
    crypto::RSA_KEYS_GENERATED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Forgets the documents `fromYaml` parsed.
pub(crate) fn clear_parsed_yaml() {
    helm::clear_parsed_yaml();
}

pub(crate) fn exists(name: &str) -> bool {
    registry().contains_key(name)
}

pub(crate) fn get(name: &str) -> Option<Func> {
    registry().get(name).copied()
}

pub(crate) fn names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = registry().keys().copied().collect();
    v.sort();
    v
}

// ---- argument helpers -------------------------------------------------------------------

/// Go's type name for messages about a parameter's value.
pub(crate) fn go_type(v: &Value) -> String {
    match v {
        Value::Nil => "interface {}".into(),
        other => other.type_name(),
    }
}

pub(crate) fn want_n(name: &str, args: &[Value], n: usize) -> Result<(), FnErr> {
    if args.len() != n {
        return Err(FnErr::Plain(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        )));
    }
    Ok(())
}

pub(crate) fn want_min(name: &str, args: &[Value], n: usize) -> Result<(), FnErr> {
    if args.len() < n {
        return Err(FnErr::Plain(format!(
            "wrong number of args for {name}: want at least {n} got {}",
            args.len()
        )));
    }
    Ok(())
}

/// A `string` parameter.
pub(crate) fn s(args: &[Value], i: usize) -> Result<&str, FnErr> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(FnErr::Arg(
            i,
            format!("wrong type for value; expected string; got {}", go_type(v)),
        )),
        None => Err(FnErr::Plain("missing argument".into())),
    }
}

/// An `int` parameter (ints only: Go rejects float64 here).
pub(crate) fn int(args: &[Value], i: usize) -> Result<i64, FnErr> {
    match args.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        Some(v) => Err(FnErr::Arg(
            i,
            format!("wrong type for value; expected int; got {}", go_type(v)),
        )),
        None => Err(FnErr::Plain("missing argument".into())),
    }
}

/// A `bool` parameter.
pub(crate) fn boolean(args: &[Value], i: usize) -> Result<bool, FnErr> {
    match args.get(i) {
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(FnErr::Arg(
            i,
            format!("wrong type for value; expected bool; got {}", go_type(v)),
        )),
        None => Err(FnErr::Plain("missing argument".into())),
    }
}

thread_local! {
    static NIL_IFACE_ARGS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Which arguments of the function being called are Go nil interfaces (bit i: argument i
/// came from a field chain and is nil) rather than Go's invalid value (a nil variable,
/// `.` or parenthesised pipeline). Set by the executor for the duration of one call; the
/// previous mask comes back on drop, so nested calls (`include`) do not disturb it.
pub(crate) struct NilIfaceArgs(u64);

impl NilIfaceArgs {
    pub(crate) fn set(mask: u64) -> NilIfaceArgs {
        NilIfaceArgs(NIL_IFACE_ARGS.with(|c| c.replace(mask)))
    }
    fn is_nil_iface(i: usize) -> bool {
        i < 64 && NIL_IFACE_ARGS.with(|c| c.get() & (1 << i) != 0)
    }
}

impl Drop for NilIfaceArgs {
    fn drop(&mut self) {
        NIL_IFACE_ARGS.with(|c| c.set(self.0));
    }
}

/// A `map[string]interface{}` parameter. Named map types are assignable in Go, so a host
/// object wrapping a map (Helm's `common.Values`) is accepted too. Go's invalid value
/// (a nil variable or pipeline result) converts to a nil map, which reads as empty; a nil
/// interface from a field chain is a type error.
pub(crate) fn map(args: &[Value], i: usize) -> Result<crate::value::MapRef, FnErr> {
    match args.get(i) {
        Some(Value::Map(m)) => Ok(m.clone()),
        Some(Value::Nil) if !NilIfaceArgs::is_nil_iface(i) => {
            Ok(crate::value::MapRef::new(Default::default()))
        }
        Some(Value::Object(o)) if matches!(o.underlying(), Some(Value::Map(_))) => {
            match o.underlying() {
                Some(Value::Map(m)) => Ok(m),
                _ => Err(FnErr::Plain("missing argument".into())),
            }
        }
        Some(v) => Err(FnErr::Arg(
            i,
            format!(
                "wrong type for value; expected map[string]interface {{}}; got {}",
                go_type(v)
            ),
        )),
        None => Err(FnErr::Plain("missing argument".into())),
    }
}

/// Sprig's `strval`/`toString`: strings as is, everything else `%v`.
pub(crate) fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => {
            let mut s = String::new();
            gofmt::write_v(&mut s, other, 0);
            s
        }
    }
}

/// spf13/cast ToInt64E (failures → 0).
pub(crate) fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Uint64(u) => *u as i64,
        Value::Float(f) => float_to_i64(*f),
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => parse_cast_int(s).unwrap_or(0),
        Value::Nil => 0,
        _ => 0,
    }
}

/// Go's float64 → int64 conversion on amd64 (NaN/overflow → min int64).
pub(crate) fn float_to_i64(f: f64) -> i64 {
    if f.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// cast's string → int: strconv.ParseInt(trimZeroDecimal(s), 0, 0).
pub(crate) fn parse_cast_int(s: &str) -> Option<i64> {
    let s = trim_zero_decimal(s);
    parse_go_int(&s)
}

fn trim_zero_decimal(s: &str) -> String {
    // "1.0" / "1.00" → "1"; "1." stays
    if let Some((a, b)) = s.split_once('.')
        && !b.is_empty()
        && b.bytes().all(|c| c == b'0')
        && !a.is_empty()
    {
        return a.to_string();
    }
    s.to_string()
}

/// strconv.ParseInt(s, 0, 64): sign, 0x/0o/0b/0 prefixes, underscores only with a prefix.
pub(crate) fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(h) = lower.strip_prefix("0x") {
        (16, h.to_string(), true)
    } else if let Some(o) = lower.strip_prefix("0o") {
        (8, o.to_string(), true)
    } else if let Some(b) = lower.strip_prefix("0b") {
        (2, b.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    if digits.contains('_') {
        // base-prefixed literals may use underscores between digits
        if !prefixed && radix == 10 {
            // "1_000" is accepted by base 0 parsing in Go
        }
        if digits.starts_with('_') && radix != 8 || digits.ends_with('_') || digits.contains("__") {
            return None;
        }
    }
    let digits = digits.replace('_', "");
    if digits.is_empty() {
        return None;
    }
    let u = u64::from_str_radix(&digits, radix).ok()?;
    if neg {
        if u > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((u as i128).wrapping_neg() as i64)
    } else {
        if u > i64::MAX as u64 {
            return None;
        }
        Some(u as i64)
    }
}

/// spf13/cast ToFloat64E (failures → 0).
pub(crate) fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i as f64,
        Value::Uint64(u) => *u as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => parse_go_float(s).unwrap_or(0.0),
        _ => 0.0,
    }
}

/// strconv.ParseFloat (decimal forms, inf/nan; hex floats are not needed by charts).
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.replace('_', "");
    if t.is_empty() || t.contains(char::is_whitespace) {
        return None;
    }
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("0x") || lower.starts_with("-0x") || lower.starts_with("+0x") {
        return None;
    }
    match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" | "nan" => {}
        _ => {
            if !lower
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-'))
            {
                return None;
            }
        }
    }
    t.parse::<f64>().ok()
}

/// Sprig's list conversion: any slice; a non-list is an error.
pub(crate) fn as_list(v: &Value, fname: &str) -> Result<std::sync::Arc<Vec<Value>>, FnErr> {
    match v.as_list() {
        Some(l) => Ok(l),
        None => match v {
            Value::Nil => Err(FnErr::Call(
                "runtime error: invalid memory address or nil pointer dereference".into(),
            )),
            other => Err(FnErr::Call(format!(
                "Cannot {fname} on type {}",
                other.kind_name()
            ))),
        },
    }
}

/// Sprig's `toStrings` semantics for `join`, `sortAlpha`.
pub(crate) fn to_strings(v: &Value) -> Vec<String> {
    match v.as_list() {
        Some(l) => l
            .iter()
            .filter(|x| !matches!(x, Value::Nil))
            .map(strval)
            .collect(),
        None => match v {
            Value::Nil => Vec::new(),
            other => vec![strval(other)],
        },
    }
}
