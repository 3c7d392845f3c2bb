//! Go's `fmt` and `strconv` formatting as templates see it: `%v` of maps, slices and nil,
//! shortest float formatting with Go's exponent rules, `printf` verbs, `print`/`println`.

use crate::value::Value;

/// Decimal digits of a finite float: `digits` (no leading/trailing zeros) and the decimal
/// point position `dp` (value = 0.digits × 10^dp). `prec` = significant digits, or shortest.
fn decimal(f: f64, prec: Option<usize>) -> (String, i32) {
    let s = match prec {
        None => format!("{:e}", f.abs()),
        Some(p) => format!("{:.*e}", p.saturating_sub(1), f.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if digits == "0" {
        return ("0".into(), 1);
    }
    (digits, exp + 1)
}

fn fmt_e(digits: &str, dp: i32, prec: usize, upper: bool) -> String {
    let mut out = String::new();
    let b = digits.as_bytes();
    out.push(b[0] as char);
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(if i < b.len() { b[i] as char } else { '0' });
        }
    }
    let exp = if digits == "0" { 0 } else { dp - 1 };
    out.push(if upper { 'E' } else { 'e' });
    out.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        out.push('0');
    }
    out.push_str(&a.to_string());
    out
}

fn fmt_f(digits: &str, dp: i32, prec: usize) -> String {
    let mut out = String::new();
    let b = digits.as_bytes();
    if dp > 0 {
        for i in 0..dp as usize {
            out.push(if i < b.len() { b[i] as char } else { '0' });
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec as i32 {
            let j = dp + i;
            out.push(if j >= 0 && (j as usize) < b.len() {
                b[j as usize] as char
            } else {
                '0'
            });
        }
    }
    out
}

/// strconv.FormatFloat(f, 'g', prec, 64) (prec None = shortest, i.e. -1).
pub fn format_g(f: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(s) = special(f) {
        return s;
    }
    let neg = f.is_sign_negative();
    let prec = prec.map(|p| p.max(1));
    let (digits, dp) = decimal(f, prec);
    let nd = digits.len() as i32;
    let mut eprec = prec.map(|p| p as i32).unwrap_or(6);
    if prec.is_some() && eprec > nd && nd >= dp {
        eprec = nd;
    }
    if prec.is_none() {
        eprec = 6;
    }
    let exp = dp - 1;
    let body = if exp < -4 || exp >= eprec {
        let p = match prec {
            Some(p) if (p as i32) <= nd => p as i32,
            _ => nd,
        };
        fmt_e(&digits, dp, (p - 1).max(0) as usize, upper)
    } else {
        let p = match prec {
            Some(p) if (p as i32) <= dp => nd,
            Some(p) => (p as i32).min(nd),
            None => nd,
        };
        let _ = p;
        fmt_f(&digits, dp, (nd - dp).max(0) as usize)
    };
    if neg { format!("-{body}") } else { body }
}

fn special(f: f64) -> Option<String> {
    if f.is_nan() {
        Some("NaN".into())
    } else if f.is_infinite() {
        Some(if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        })
    } else {
        None
    }
}

/// strconv.FormatFloat(f, 'e', prec, 64).
pub fn format_e(f: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(s) = special(f) {
        return s;
    }
    let neg = f.is_sign_negative() && f != 0.0;
    let body = match prec {
        None => {
            let (d, dp) = decimal(f, None);
            fmt_e(&d, dp, d.len() - 1, upper)
        }
        Some(p) => {
            let (d, dp) = decimal(f, Some(p + 1));
            fmt_e(&d, dp, p, upper)
        }
    };
    if neg { format!("-{body}") } else { body }
}

/// strconv.FormatFloat(f, 'f', prec, 64).
pub fn format_f(f: f64, prec: Option<usize>) -> String {
    if let Some(s) = special(f) {
        return s;
    }
    let neg = f.is_sign_negative();
    let body = match prec {
        Some(p) => format!("{:.*}", p, f.abs()),
        None => {
            let (d, dp) = decimal(f, None);
            fmt_f(&d, dp, (d.len() as i32 - dp).max(0) as usize)
        }
    };
    // `{:.0}` of 0.4 is "0"; negative zero after rounding keeps Go's "-0"
    if neg { format!("-{body}") } else { body }
}

/// `%v` of a float64 (shortest, exponent when exp < -4 or >= 21 for %v; fmt uses 'g').
pub fn float_v(f: f64) -> String {
    let s = format_g(f, None, false);
    if s == "-0" { "-0".into() } else { s }
}

/// encoding/json's float64 form.
pub fn float_json(f: f64) -> String {
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format_e(f, None, false);
        // Go cleans e-07 to e-7
        if let Some(i) = s.find("e-0") {
            return format!("{}e-{}", &s[..i], &s[i + 3..]);
        }
        if let Some(i) = s.find("e+0") {
            return format!("{}e+{}", &s[..i], &s[i + 3..]);
        }
        s
    } else {
        let s = format_f(f, None);
        if s == "-0" { "-0".into() } else { s }
    }
}

/// Appends `%v` of a value.
pub fn write_v(out: &mut String, v: &Value, depth: usize) {
    if depth > 200 {
        out.push_str("...");
        return;
    }
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => {
            let _ = std::fmt::Write::write_fmt(out, format_args!("{i}"));
        }
        Value::Uint64(u) => {
            let _ = std::fmt::Write::write_fmt(out, format_args!("{u}"));
        }
        Value::Float(f) => out.push_str(&float_v(*f)),
        Value::String(s) => out.push_str(s),
        Value::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, x, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, x)) in m.read().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(out, x, depth + 1);
            }
            out.push(']');
        }
        Value::Object(o) => out.push_str(&o.display()),
    }
}

/// fmt.Sprint: a space between operands when neither side is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::String(_)) && !matches!(args[i - 1], Value::String(_)) {
            out.push(' ');
        }
        write_v(&mut out, a, 0);
    }
    out
}

/// fmt.Sprintln: spaces always, newline at the end.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_v(&mut out, a, 0);
    }
    out.push('\n');
    out
}

/// strconv.Quote.
pub fn quote(s: &str) -> String {
    quote_with(s, '"', false)
}

fn quote_with(s: &str, q: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            c if crate::bytes::raw_byte(c).is_some() => out.push_str(&format!(
                "\\x{:02x}",
                crate::bytes::raw_byte(c).unwrap_or(0)
            )),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if ascii_only && !c.is_ascii() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c if !is_go_printable(c) => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

fn is_go_printable(c: char) -> bool {
    let u = c as u32;
    !(u < 0x20
        || (0x7f..0xa0).contains(&u)
        || u == 0xad
        || (0x2028..=0x2029).contains(&u)
        || (0xfff9..=0xfffb).contains(&u)
        || u == 0xfeff)
}

#[derive(Default, Clone, Copy)]
struct Flags {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn pad(out: &mut String, body: &str, fl: &Flags, numeric: bool) {
    let len = body.chars().count();
    let w = fl.width.unwrap_or(0);
    if len >= w {
        out.push_str(body);
        return;
    }
    let n = w - len;
    if fl.minus {
        out.push_str(body);
        out.extend(std::iter::repeat_n(' ', n));
    } else if fl.zero && numeric {
        let (sign, rest) = match body.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => (Some(c), &body[1..]),
            _ => (None, body),
        };
        if let Some(c) = sign {
            out.push(c);
        }
        out.extend(std::iter::repeat_n('0', n));
        out.push_str(rest);
    } else if fl.zero && !numeric {
        out.extend(std::iter::repeat_n('0', n));
        out.push_str(body);
    } else {
        out.extend(std::iter::repeat_n(' ', n));
        out.push_str(body);
    }
}

fn bad_verb(out: &mut String, verb: char, v: &Value) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    match v {
        Value::Nil => out.push_str("<nil>"),
        _ => {
            out.push_str(&v.type_name());
            out.push('=');
            write_v(out, v, 0);
        }
    }
    out.push(')');
}

fn sign_prefix(neg: bool, fl: &Flags) -> &'static str {
    if neg {
        "-"
    } else if fl.plus {
        "+"
    } else if fl.space {
        " "
    } else {
        ""
    }
}

fn fmt_int(out: &mut String, i: i64, verb: char, fl: &Flags) {
    let neg = i < 0;
    let u = i.unsigned_abs();
    let mut digits = match verb {
        'd' | 'v' => u.to_string(),
        'x' => format!("{:x}", u),
        'X' => format!("{:X}", u),
        'o' | 'O' => format!("{:o}", u),
        'b' => format!("{:b}", u),
        _ => u.to_string(),
    };
    if let Some(p) = fl.prec {
        if p == 0 && u == 0 {
            digits.clear();
        }
        while digits.len() < p {
            digits.insert(0, '0');
        }
    }
    let prefix = match verb {
        'x' if fl.sharp => "0x",
        'X' if fl.sharp => "0X",
        'o' if fl.sharp => "0",
        'O' => "0o",
        'b' if fl.sharp => "0b",
        _ => "",
    };
    let body = format!("{}{}{}", sign_prefix(neg, fl), prefix, digits);
    let mut f2 = *fl;
    if fl.prec.is_some() {
        f2.zero = false;
    }
    pad(out, &body, &f2, true);
}

fn fmt_float(out: &mut String, f: f64, verb: char, fl: &Flags) {
    let neg = f.is_sign_negative() && !f.is_nan();
    let a = f.abs();
    let mut body = match verb {
        'v' | 'g' => format_g(a, fl.prec, false),
        'G' => format_g(a, fl.prec, true),
        'e' => format_e(a, Some(fl.prec.unwrap_or(6)), false),
        'E' => format_e(a, Some(fl.prec.unwrap_or(6)), true),
        'f' | 'F' => format_f(a, Some(fl.prec.unwrap_or(6))),
        _ => format_g(a, fl.prec, false),
    };
    if f.is_infinite() {
        body = "Inf".into();
    }
    if fl.sharp && matches!(verb, 'v' | 'g' | 'G') && !body.contains('.') && !body.contains('e') {
        body.push('.');
    }
    let sign = if f.is_nan() {
        if fl.plus { "+" } else { "" }
    } else {
        sign_prefix(neg, fl)
    };
    let body = format!("{sign}{body}");
    let mut f2 = *fl;
    if f.is_infinite() || f.is_nan() {
        f2.zero = false;
    }
    pad(out, &body, &f2, true);
}

fn fmt_str(out: &mut String, s: &str, verb: char, fl: &Flags) {
    let s: String = match fl.prec {
        Some(p) if verb != 'x' && verb != 'X' => s.chars().take(p).collect(),
        _ => s.to_string(),
    };
    let body = match verb {
        'q' => {
            if fl.sharp && !s.contains('`') && s.chars().all(|c| c == '\t' || !c.is_control()) {
                format!("`{s}`")
            } else {
                quote_with(&s, '"', fl.plus)
            }
        }
        'x' | 'X' => {
            let go = crate::bytes::go_bytes(&s);
            let bytes: &[u8] = &go;
            let bytes = match fl.prec {
                Some(p) => &bytes[..p.min(bytes.len())],
                None => bytes,
            };
            let mut r = String::new();
            for (i, b) in bytes.iter().enumerate() {
                if fl.space && i > 0 {
                    r.push(' ');
                }
                if fl.sharp && (fl.space || i == 0) {
                    r.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    r.push_str(&format!("{:02x}", b));
                } else {
                    r.push_str(&format!("{:02X}", b));
                }
            }
            r
        }
        _ => s,
    };
    pad(out, &body, fl, false);
}

/// Formats one operand with one verb (Go's printArg).
fn fmt_arg(out: &mut String, v: &Value, verb: char, fl: &Flags, depth: usize) {
    if verb == 'T' {
        pad(out, &v.type_name(), fl, false);
        return;
    }
    match v {
        Value::Nil => match verb {
            'v' => pad(out, "<nil>", fl, false),
            _ => bad_verb(out, verb, v),
        },
        Value::Bool(b) => match verb {
            't' | 'v' => pad(out, if *b { "true" } else { "false" }, fl, false),
            _ => bad_verb(out, verb, v),
        },
        Value::Int(i) | Value::Int64(i) => match verb {
            'd' | 'v' | 'x' | 'X' | 'o' | 'O' | 'b' => fmt_int(out, *i, verb, fl),
            'c' => pad(
                out,
                &char::from_u32(*i as u32).unwrap_or('\u{FFFD}').to_string(),
                fl,
                false,
            ),
            'q' => {
                let c = char::from_u32(*i as u32).unwrap_or('\u{FFFD}');
                pad(out, &quote_with(&c.to_string(), '\'', fl.plus), fl, false)
            }
            'U' => {
                let mut s = format!("U+{:04X}", i);
                if fl.sharp
                    && let Some(c) = char::from_u32(*i as u32)
                {
                    s.push_str(&format!(" '{c}'"));
                }
                pad(out, &s, fl, false)
            }
            'e' | 'E' | 'f' | 'F' | 'g' | 'G' => bad_verb(out, verb, v),
            's' => bad_verb(out, verb, v),
            _ => bad_verb(out, verb, v),
        },
        Value::Uint64(u) => match (verb, i64::try_from(*u)) {
            ('d' | 'v' | 'x' | 'X' | 'o' | 'O' | 'b' | 'c' | 'q' | 'U', Ok(i)) => {
                fmt_arg(out, &Value::Int(i), verb, fl, depth)
            }
            ('d' | 'v', Err(_)) => pad(out, &format!("{}{u}", sign_prefix(false, fl)), fl, true),
            _ => bad_verb(out, verb, v),
        },
        Value::Float(f) => match verb {
            'v' | 'g' | 'G' | 'e' | 'E' | 'f' | 'F' => fmt_float(out, *f, verb, fl),
            _ => bad_verb(out, verb, v),
        },
        Value::String(s) => match verb {
            'v' | 's' | 'q' | 'x' | 'X' => fmt_str(out, s, verb, fl),
            _ => bad_verb(out, verb, v),
        },
        Value::List(l) => {
            if depth > 100 {
                out.push_str("[...]");
                return;
            }
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                fmt_elem(out, x, verb, fl, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) => {
            if depth > 100 {
                out.push_str("map[...]");
                return;
            }
            out.push_str("map[");
            for (i, (k, x)) in m.read().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                fmt_arg(out, &Value::str(k), verb, fl, depth + 1);
                out.push(':');
                fmt_elem(out, x, verb, fl, depth + 1);
            }
            out.push(']');
        }
        Value::Object(o) => match o.underlying() {
            Some(u) => fmt_arg(out, &u, verb, fl, depth + 1),
            None => match verb {
                'v' | 's' => pad(out, &o.display(), fl, false),
                _ => bad_verb(out, verb, v),
            },
        },
    }
}

/// An element of a slice or map: a nil interface prints `<nil>` under any verb.
fn fmt_elem(out: &mut String, v: &Value, verb: char, fl: &Flags, depth: usize) {
    if matches!(v, Value::Nil) && verb != 'T' {
        pad(out, "<nil>", fl, false);
    } else {
        fmt_arg(out, v, verb, fl, depth);
    }
}

/// `%#v` (Go syntax) for the common template types.
fn go_syntax(out: &mut String, v: &Value, top: bool) {
    match v {
        Value::Nil => out.push_str(if top { "<nil>" } else { "interface {}(nil)" }),
        Value::String(s) => out.push_str(&quote(s)),
        Value::List(l) => {
            out.push_str("[]interface {}{");
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                go_syntax(out, x, false);
            }
            out.push('}');
        }
        Value::Map(m) => {
            out.push_str("map[string]interface {}{");
            for (i, (k, x)) in m.read().iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&quote(k));
                out.push(':');
                go_syntax(out, x, false);
            }
            out.push('}');
        }
        Value::Float(f) => {
            let s = float_v(*f);
            out.push_str(&s);
        }
        other => write_v(out, other, 0),
    }
}

/// fmt.Sprintf with Go's verbs, flags, width/precision (`*` too), `%[n]` indexes and its
/// error forms (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA ...)`).
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let b = format.as_bytes();
    let mut i = 0;
    let mut argn = 0usize;
    let mut reordered = false;
    while i < b.len() {
        // copy literal text
        let start = i;
        while i < b.len() && b[i] != b'%' {
            i += 1;
        }
        out.push_str(&format[start..i]);
        if i >= b.len() {
            break;
        }
        i += 1; // skip %
        let mut fl = Flags::default();
        // flags
        while i < b.len() {
            match b[i] {
                b'-' => fl.minus = true,
                b'+' => fl.plus = true,
                b'#' => fl.sharp = true,
                b' ' => fl.space = true,
                b'0' => fl.zero = !fl.minus,
                _ => break,
            }
            i += 1;
        }
        // argument index
        let parse_index = |i: &mut usize, argn: &mut usize, reordered: &mut bool| -> bool {
            if *i < b.len() && b[*i] == b'[' {
                let close = format[*i..].find(']');
                if let Some(c) = close {
                    let n: Option<usize> = format[*i + 1..*i + c].parse().ok();
                    *i += c + 1;
                    *reordered = true;
                    match n {
                        Some(n) if n >= 1 && n <= args.len() => {
                            *argn = n - 1;
                            return true;
                        }
                        _ => return false,
                    }
                }
                return false;
            }
            true
        };
        let mut good = parse_index(&mut i, &mut argn, &mut reordered);
        // width
        if i < b.len() && b[i] == b'*' {
            i += 1;
            if let Some(Value::Int(w) | Value::Int64(w)) = args.get(argn) {
                if w.unsigned_abs() > 1_000_000 {
                    out.push_str("%!(BADWIDTH)");
                } else {
                    if *w < 0 {
                        fl.minus = true;
                        fl.zero = false;
                    }
                    fl.width = Some(w.unsigned_abs() as usize);
                }
            } else {
                out.push_str("%!(BADWIDTH)");
            }
            argn += 1;
        } else {
            let s = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i > s {
                fl.width = format[s..i].parse().ok().filter(|w| *w <= 1_000_000);
                if fl.width.is_none() {
                    out.push_str("%!(BADWIDTH)");
                }
            }
        }
        // precision
        if i < b.len() && b[i] == b'.' {
            i += 1;
            if good {
                good = parse_index(&mut i, &mut argn, &mut reordered);
            }
            if i < b.len() && b[i] == b'*' {
                i += 1;
                match args.get(argn) {
                    Some(Value::Int(p) | Value::Int64(p)) if (0..=1_000_000).contains(p) => {
                        fl.prec = Some(*p as usize)
                    }
                    _ => out.push_str("%!(BADPREC)"),
                }
                argn += 1;
            } else {
                let s = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                match format[s..i].parse::<usize>() {
                    Ok(p) if p > 1_000_000 => out.push_str("%!(BADPREC)"),
                    Ok(p) => fl.prec = Some(p),
                    Err(_) => fl.prec = Some(0),
                }
            }
        }
        if good {
            good = parse_index(&mut i, &mut argn, &mut reordered);
        }
        if i >= b.len() {
            out.push_str("%!(NOVERB)");
            break;
        }
        let verb = match format[i..].chars().next() {
            Some(c) => c,
            None => break,
        };
        i += verb.len_utf8();
        if verb == '%' {
            out.push('%');
            continue;
        }
        if !good {
            out.push_str("%!");
            out.push(verb);
            out.push_str("(BADINDEX)");
            continue;
        }
        let Some(arg) = args.get(argn) else {
            out.push_str("%!");
            out.push(verb);
            out.push_str("(MISSING)");
            continue;
        };
        argn += 1;
        if verb == 'v' && fl.plus {
            // %+v adds struct field names; it is not the sign flag
            fl.plus = false;
        }
        if verb == 'v' && fl.sharp {
            let mut s = String::new();
            go_syntax(&mut s, arg, true);
            pad(&mut out, &s, &fl, false);
            continue;
        }
        fmt_arg(&mut out, arg, verb, &fl, 0);
    }
    if !reordered && argn < args.len() {
        out.push_str("%!(EXTRA ");
        for (k, a) in args[argn..].iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            match a {
                Value::Nil => out.push_str("<nil>"),
                _ => {
                    out.push_str(&a.type_name());
                    out.push('=');
                    write_v(&mut out, a, 0);
                }
            }
        }
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        let cases = [
            (0.0, "0"),
            (1.0, "1"),
            (123456.0, "123456"),
            (999999.0, "999999"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1e20, "1e+20"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (3.0, "3"),
            (2e7, "2e+07"),
            (12345678901.0, "1.2345678901e+10"),
            (3.5, "3.5"),
            (-2.5, "-2.5"),
        ];
        for (f, want) in cases {
            assert_eq!(float_v(f), want, "{f}");
        }
    }

    #[test]
    fn json_floats() {
        assert_eq!(float_json(1e6), "1000000");
        assert_eq!(float_json(0.000001), "0.000001");
        assert_eq!(float_json(1e-7), "1e-7");
        assert_eq!(float_json(1e21), "1e+21");
        assert_eq!(float_json(1.5), "1.5");
    }

    #[test]
    fn printf_verbs() {
        let i = |n| Value::Int(n);
        assert_eq!(sprintf("%05d", &[i(42)]), "00042");
        assert_eq!(sprintf("%x", &[i(255)]), "ff");
        assert_eq!(sprintf("%c", &[i(65)]), "A");
        assert_eq!(sprintf("%U", &[i(65)]), "U+0041");
        assert_eq!(sprintf("%.2f", &[Value::Float(1.23456)]), "1.23");
        assert_eq!(sprintf("%e", &[Value::Float(123456.0)]), "1.234560e+05");
        assert_eq!(sprintf("%q", &[Value::str("a\"b")]), "\"a\\\"b\"");
        assert_eq!(
            sprintf("%[2]s %[1]s", &[Value::str("a"), Value::str("b")]),
            "b a"
        );
        assert_eq!(sprintf("%d", &[Value::Float(42.0)]), "%!d(float64=42)");
        assert_eq!(sprintf("%s", &[]), "%!s(MISSING)");
        assert_eq!(sprintf("x", &[i(1)]), "x%!(EXTRA int=1)");
        assert_eq!(sprintf("%v", &[Value::Nil]), "<nil>");
        assert_eq!(sprintf("%-4s|", &[Value::str("a")]), "a   |");
        assert_eq!(sprintf("%5.1f", &[Value::Float(2.25)]), "  2.2");
        assert_eq!(sprintf("%g", &[Value::Float(1e6)]), "1e+06");
        assert_eq!(sprintf("%.3g", &[Value::Float(1.23456)]), "1.23");
        assert_eq!(sprintf("%T", &[Value::Float(1.0)]), "float64");
        assert_eq!(sprintf("100%%", &[]), "100%");
    }

    #[test]
    fn sprint_spacing() {
        let args = [
            Value::str("a"),
            Value::Int(1),
            Value::Int(2),
            Value::str("b"),
        ];
        assert_eq!(sprint(&args), "a1 2b");
        assert_eq!(sprintln(&args), "a 1 2 b\n");
    }
}
