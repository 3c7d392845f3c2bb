//! Go text/template builtins (`funcs.go`): comparison, len, index, print*, html, js, urlquery.

use super::{FnErr, Func, Res, want_min, want_n};
use crate::gofmt;
use crate::value::Value;

pub(super) fn register(m: &mut crate::fasthash::FastMap<&'static str, Func>) {
    m.insert("not", |_, a| {
        want_n("not", a, 1)?;
        Ok(Value::Bool(!a[0].is_true()))
    });
    m.insert("len", |_, a| {
        want_n("len", a, 1)?;
        len(&a[0])
    });
    m.insert("index", |_, a| {
        want_min("index", a, 1)?;
        index(&a[0], &a[1..])
    });
    m.insert("print", |_, a| {
        Ok(Value::str(crate::bytes::normalize(gofmt::sprint(a))))
    });
    m.insert("println", |_, a| {
        Ok(Value::str(crate::bytes::normalize(gofmt::sprintln(a))))
    });
    m.insert("printf", |_, a| {
        want_min("printf", a, 1)?;
        let f = super::s(a, 0)?;
        Ok(Value::str(crate::bytes::normalize(gofmt::sprintf(
            f,
            &a[1..],
        ))))
    });
    m.insert("html", |_, a| Ok(Value::str(html_escape(&eval_args(a)))));
    m.insert("js", |_, a| Ok(Value::str(js_escape(&eval_args(a)))));
    m.insert("urlquery", |_, a| {
        Ok(Value::str(query_escape(&eval_args(a))))
    });
    m.insert("call", |_, a| {
        want_min("call", a, 1)?;
        Err(FnErr::Call("call of nil".into()))
    });
    m.insert("eq", |_, a| {
        want_min("eq", a, 1)?;
        if a.len() < 2 {
            return Err(FnErr::Call("missing argument for comparison".into()));
        }
        for b in &a[1..] {
            if eq(&a[0], b)? {
                return Ok(Value::Bool(true));
            }
        }
        Ok(Value::Bool(false))
    });
    m.insert("ne", |_, a| {
        want_n("ne", a, 2)?;
        Ok(Value::Bool(!eq(&a[0], &a[1])?))
    });
    m.insert("lt", |_, a| {
        want_n("lt", a, 2)?;
        Ok(Value::Bool(lt(&a[0], &a[1])?))
    });
    m.insert("le", |_, a| {
        want_n("le", a, 2)?;
        Ok(Value::Bool(lt(&a[0], &a[1])? || eq(&a[0], &a[1])?))
    });
    m.insert("gt", |_, a| {
        want_n("gt", a, 2)?;
        Ok(Value::Bool(!(lt(&a[0], &a[1])? || eq(&a[0], &a[1])?)))
    });
    m.insert("ge", |_, a| {
        want_n("ge", a, 2)?;
        Ok(Value::Bool(!lt(&a[0], &a[1])?))
    });
}

fn eval_args(a: &[Value]) -> String {
    if a.len() == 1
        && let Value::String(s) = &a[0]
    {
        return s.to_string();
    }
    let mapped: Vec<Value> = a
        .iter()
        .map(|v| match v {
            Value::Nil => Value::str("<no value>"),
            other => other.clone(),
        })
        .collect();
    gofmt::sprint(&mapped)
}

#[derive(PartialEq, Clone, Copy, Debug)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    Str,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Nil => Kind::Invalid,
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::Int64(_) => Kind::Int,
        Value::Uint64(_) => Kind::Uint,
        Value::Float(_) => Kind::Float,
        Value::String(_) => Kind::Str,
        _ => Kind::Other,
    }
}

/// Go's `eq` for two operands.
pub(crate) fn eq(a: &Value, b: &Value) -> Result<bool, FnErr> {
    let (ka, kb) = (kind(a), kind(b));
    // Go compares integers regardless of their sign.
    if let (Some(x), Some(y)) = (wide_int(a), wide_int(b)) {
        return Ok(x == y);
    }
    if ka != kb {
        if ka != Kind::Invalid && kb != Kind::Invalid {
            return Err(FnErr::Call(format!(
                "incompatible types for comparison: {} and {}",
                a.type_name(),
                b.type_name()
            )));
        }
        return Ok(false);
    }
    if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
        return Ok(x == y);
    }
    Ok(match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Object(x), Value::Object(y)) => std::sync::Arc::ptr_eq(x, y),
        (x, _) => {
            return Err(FnErr::Call(format!(
                "non-comparable type {}: {}",
                x,
                x.type_name()
            )));
        }
    })
}

/// An integer of either sign, widened.
fn wide_int(v: &Value) -> Option<i128> {
    match v {
        Value::Int(i) | Value::Int64(i) => Some(i128::from(*i)),
        Value::Uint64(u) => Some(i128::from(*u)),
        _ => None,
    }
}

fn lt(a: &Value, b: &Value) -> Result<bool, FnErr> {
    if let (Some(x), Some(y)) = (wide_int(a), wide_int(b)) {
        return Ok(x < y);
    }
    let (ka, kb) = (kind(a), kind(b));
    if matches!(ka, Kind::Invalid | Kind::Bool | Kind::Other)
        || matches!(kb, Kind::Invalid | Kind::Bool | Kind::Other)
    {
        return Err(FnErr::Call("invalid type for comparison".into()));
    }
    if ka != kb {
        return Err(FnErr::Call(format!(
            "incompatible types for comparison: {} and {}",
            a.type_name(),
            b.type_name()
        )));
    }
    if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
        return Ok(x < y);
    }
    Ok(match (a, b) {
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::String(x), Value::String(y)) => x.as_bytes() < y.as_bytes(),
        _ => false,
    })
}

fn len(v: &Value) -> Res {
    Ok(Value::Int(match v {
        Value::String(s) => crate::bytes::go_len(s) as i64,
        Value::List(l) => l.len() as i64,
        Value::Map(m) => m.read().len() as i64,
        Value::Nil => return Err(FnErr::Call("len of nil pointer".into())),
        Value::Object(o) => match o.underlying() {
            Some(Value::List(l)) => l.len() as i64,
            Some(Value::Map(m)) => m.read().len() as i64,
            _ => return Err(FnErr::Call(format!("len of type {}", o.type_name()))),
        },
        other => return Err(FnErr::Call(format!("len of type {}", other.type_name()))),
    }))
}

fn index(item: &Value, idx: &[Value]) -> Res {
    let mut cur = item.clone();
    for i in idx {
        let c = match &cur {
            Value::Object(o) => o.underlying().unwrap_or(cur.clone()),
            _ => cur.clone(),
        };
        cur = match &c {
            Value::Nil => return Err(FnErr::Call("index of untyped nil".into())),
            Value::List(l) => {
                let n = index_int(i)?;
                if n < 0 || n as usize >= l.len() {
                    return Err(FnErr::Call(format!("index out of range: {n}")));
                }
                l[n as usize].clone()
            }
            Value::String(s) => {
                let n = index_int(i)?;
                let b = crate::bytes::go_bytes(s);
                if n < 0 || n as usize >= b.len() {
                    return Err(FnErr::Call(format!("index out of range: {n}")));
                }
                Value::Int(b[n as usize] as i64)
            }
            Value::Map(m) => match i {
                Value::String(k) => m.get(k).unwrap_or_default(),
                Value::Nil => Value::Nil,
                other => {
                    return Err(FnErr::Call(format!(
                        "value has type {}; should be string",
                        other.type_name()
                    )));
                }
            },
            other => {
                return Err(FnErr::Call(format!(
                    "can't index item of type {}",
                    other.type_name()
                )));
            }
        };
    }
    Ok(cur)
}

fn index_int(i: &Value) -> Result<i64, FnErr> {
    match i {
        Value::Int(n) | Value::Int64(n) => Ok(*n),
        Value::Uint64(u) => Ok(i64::try_from(*u).unwrap_or(i64::MAX)),
        Value::Nil => Err(FnErr::Call("cannot index slice/array with nil".into())),
        other => Err(FnErr::Call(format!(
            "cannot index slice/array with type {}",
            other.type_name()
        ))),
    }
}

/// text/template's HTMLEscapeString.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// text/template's JSEscapeString.
fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// url.QueryEscape.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{:02X}", b)),
        }
    }
    out
}
