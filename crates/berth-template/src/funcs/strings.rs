//! Sprig string, regex, encoding and hash functions (`strings.go`, `regex.go`, `crypto.go`).

use base64::Engine;
use rand::Rng;
use sha2::Digest;

use super::{FnErr, Func, Res, int, s, strval, to_strings, want_min, want_n};
use crate::bytes::{from_go_bytes, go_bytes, lossy};
use crate::gofmt;
use crate::value::{MapData, Value};

fn st(v: String) -> Res {
    Ok(Value::str(v))
}

pub(super) fn register(m: &mut crate::fasthash::FastMap<&'static str, Func>) {
    m.insert("hello", |_, _| st("Hello!".into()));
    m.insert("abbrev", |_, a| {
        want_n("abbrev", a, 2)?;
        let (w, x) = (int(a, 0)?, s(a, 1)?);
        st(abbrev(x, w))
    });
    m.insert("abbrevboth", |_, a| {
        want_n("abbrevboth", a, 3)?;
        let (l, r, x) = (int(a, 0)?, int(a, 1)?, s(a, 2)?);
        if r < 4 || (l > 0 && r < 7) {
            return st(x.to_string());
        }
        st(abbrev_full(x, l, r))
    });
    m.insert("trunc", |_, a| {
        want_n("trunc", a, 2)?;
        let (c, x) = (int(a, 0)?, s(a, 1)?);
        st(trunc(c, x))
    });
    m.insert("trim", |_, a| {
        want_n("trim", a, 1)?;
        st(s(a, 0)?.trim().to_string())
    });
    m.insert("upper", |_, a| {
        want_n("upper", a, 1)?;
        st(lossy(s(a, 0)?).to_uppercase())
    });
    m.insert("lower", |_, a| {
        want_n("lower", a, 1)?;
        st(lossy(s(a, 0)?).to_lowercase())
    });
    m.insert("title", |_, a| {
        want_n("title", a, 1)?;
        st(title(&lossy(s(a, 0)?)))
    });
    m.insert("untitle", |_, a| {
        want_n("untitle", a, 1)?;
        st(untitle(&lossy(s(a, 0)?)))
    });
    m.insert("substr", |_, a| {
        want_n("substr", a, 3)?;
        let (start, end, x) = (int(a, 0)?, int(a, 1)?, s(a, 2)?);
        // Sprig slices the string's bytes; a cut inside a character keeps the lone bytes.
        let go = go_bytes(x);
        let b: &[u8] = &go;
        let n = b.len() as i64;
        let r = if start < 0 {
            if end < 0 || end > n {
                b
            } else {
                &b[..end as usize]
            }
        } else if end < 0 || end > n {
            if start > n {
                return Err(FnErr::Call(format!(
                    "runtime error: slice bounds out of range [{start}:{n}]"
                )));
            }
            &b[start as usize..]
        } else {
            if start > end {
                return Err(FnErr::Call(format!(
                    "runtime error: slice bounds out of range [{start}:{end}]"
                )));
            }
            &b[start as usize..end as usize]
        };
        st(from_go_bytes(r).into_owned())
    });
    m.insert("repeat", |_, a| {
        want_n("repeat", a, 2)?;
        let (c, x) = (int(a, 0)?, s(a, 1)?);
        if c < 0 {
            return Err(FnErr::Call("strings: negative Repeat count".into()));
        }
        if (c as u128) * (x.len() as u128) > (64 << 20) {
            return Err(FnErr::Call("strings: Repeat output length overflow".into()));
        }
        st(x.repeat(c as usize))
    });
    for name in ["trimall", "trimAll"] {
        m.insert(name, |_, a| {
            want_n("trimAll", a, 2)?;
            let (cut, x) = (s(a, 0)?, s(a, 1)?);
            st(x.trim_matches(|c| cut.contains(c)).to_string())
        });
    }
    m.insert("trimSuffix", |_, a| {
        want_n("trimSuffix", a, 2)?;
        let (suf, x) = (s(a, 0)?, s(a, 1)?);
        st(x.strip_suffix(suf).unwrap_or(x).to_string())
    });
    m.insert("trimPrefix", |_, a| {
        want_n("trimPrefix", a, 2)?;
        let (pre, x) = (s(a, 0)?, s(a, 1)?);
        st(x.strip_prefix(pre).unwrap_or(x).to_string())
    });
    m.insert("nospace", |_, a| {
        want_n("nospace", a, 1)?;
        st(s(a, 0)?.chars().filter(|c| !c.is_whitespace()).collect())
    });
    m.insert("initials", |_, a| {
        want_n("initials", a, 1)?;
        st(s(a, 0)?
            .split_whitespace()
            .filter_map(|w| w.chars().next())
            .collect())
    });
    m.insert("randAlphaNum", |_, a| rand_from(a, "randAlphaNum", ALNUM));
    m.insert("randAlpha", |_, a| rand_from(a, "randAlpha", ALPHA));
    m.insert("randNumeric", |_, a| {
        rand_from(a, "randNumeric", b"0123456789")
    });
    m.insert("randAscii", |_, a| {
        want_n("randAscii", a, 1)?;
        let n = int(a, 0)?.clamp(0, 1 << 20) as usize;
        let mut r = rand::thread_rng();
        st((0..n).map(|_| r.gen_range(32u8..=126) as char).collect())
    });
    m.insert("swapcase", |_, a| {
        want_n("swapcase", a, 1)?;
        st(lossy(s(a, 0)?)
            .chars()
            .map(|c| {
                if c.is_uppercase() {
                    c.to_lowercase().collect::<String>()
                } else if c.is_lowercase() {
                    c.to_uppercase().collect::<String>()
                } else {
                    c.to_string()
                }
            })
            .collect())
    });
    m.insert("shuffle", |_, a| {
        want_n("shuffle", a, 1)?;
        use rand::seq::SliceRandom;
        let mut v: Vec<char> = s(a, 0)?.chars().collect();
        v.shuffle(&mut rand::thread_rng());
        st(v.into_iter().collect())
    });
    m.insert("snakecase", |_, a| {
        want_n("snakecase", a, 1)?;
        st(delimited(&lossy(s(a, 0)?), '_'))
    });
    m.insert("kebabcase", |_, a| {
        want_n("kebabcase", a, 1)?;
        st(delimited(&lossy(s(a, 0)?), '-'))
    });
    m.insert("camelcase", |_, a| {
        want_n("camelcase", a, 1)?;
        st(camel(&lossy(s(a, 0)?)))
    });
    m.insert("wrap", |_, a| {
        want_n("wrap", a, 2)?;
        let (w, x) = (int(a, 0)?, s(a, 1)?);
        st(wrap(x, w, "\n", false))
    });
    m.insert("wrapWith", |_, a| {
        want_n("wrapWith", a, 3)?;
        let (w, sep, x) = (int(a, 0)?, s(a, 1)?, s(a, 2)?);
        st(wrap(x, w, sep, true))
    });
    m.insert("contains", |_, a| {
        want_n("contains", a, 2)?;
        Ok(Value::Bool(s(a, 1)?.contains(s(a, 0)?)))
    });
    m.insert("hasPrefix", |_, a| {
        want_n("hasPrefix", a, 2)?;
        Ok(Value::Bool(s(a, 1)?.starts_with(s(a, 0)?)))
    });
    m.insert("hasSuffix", |_, a| {
        want_n("hasSuffix", a, 2)?;
        Ok(Value::Bool(s(a, 1)?.ends_with(s(a, 0)?)))
    });
    m.insert("quote", |_, a| {
        let v: Vec<String> = a
            .iter()
            .filter(|x| !matches!(x, Value::Nil))
            .map(|x| gofmt::quote(&strval(x)))
            .collect();
        st(v.join(" "))
    });
    m.insert("squote", |_, a| {
        let v: Vec<String> = a
            .iter()
            .filter(|x| !matches!(x, Value::Nil))
            .map(|x| format!("'{}'", strval(x)))
            .collect();
        st(v.join(" "))
    });
    m.insert("cat", |_, a| {
        let v: Vec<String> = a
            .iter()
            .filter(|x| !matches!(x, Value::Nil))
            .map(strval)
            .collect();
        st(crate::bytes::normalize(v.join(" ")))
    });
    m.insert("indent", |_, a| {
        want_n("indent", a, 2)?;
        let (n, x) = (int(a, 0)?, s(a, 1)?);
        st(indent(x, n))
    });
    m.insert("nindent", |_, a| {
        want_n("nindent", a, 2)?;
        let (n, x) = (int(a, 0)?, s(a, 1)?);
        st(format!("\n{}", indent(x, n)))
    });
    m.insert("replace", |_, a| {
        want_n("replace", a, 3)?;
        let (old, new, x) = (s(a, 0)?, s(a, 1)?, s(a, 2)?);
        st(go_replace(x, old, new))
    });
    m.insert("plural", |_, a| {
        want_n("plural", a, 3)?;
        let (one, many, n) = (s(a, 0)?, s(a, 1)?, int(a, 2)?);
        st(if n == 1 { one } else { many }.to_string())
    });
    m.insert("sha1sum", |_, a| {
        want_n("sha1sum", a, 1)?;
        st(hex(&sha1::Sha1::digest(go_bytes(s(a, 0)?))))
    });
    m.insert("sha256sum", |_, a| {
        want_n("sha256sum", a, 1)?;
        st(hex(&sha2::Sha256::digest(go_bytes(s(a, 0)?))))
    });
    m.insert("sha512sum", |_, a| {
        want_n("sha512sum", a, 1)?;
        st(hex(&sha2::Sha512::digest(go_bytes(s(a, 0)?))))
    });
    m.insert("adler32sum", |_, a| {
        want_n("adler32sum", a, 1)?;
        st(adler32(&go_bytes(s(a, 0)?)).to_string())
    });
    m.insert("toString", |_, a| {
        want_n("toString", a, 1)?;
        st(strval(&a[0]))
    });
    m.insert("b64enc", |_, a| {
        want_n("b64enc", a, 1)?;
        st(base64::engine::general_purpose::STANDARD.encode(go_bytes(s(a, 0)?)))
    });
    m.insert("b64dec", |_, a| {
        want_n("b64dec", a, 1)?;
        st(b64dec(s(a, 0)?))
    });
    m.insert("b32enc", |_, a| {
        want_n("b32enc", a, 1)?;
        st(b32enc(&go_bytes(s(a, 0)?)))
    });
    m.insert("b32dec", |_, a| {
        want_n("b32dec", a, 1)?;
        st(match b32dec(s(a, 0)?) {
            Ok(b) => from_go_bytes(&b).into_owned(),
            Err(e) => e,
        })
    });
    m.insert("split", |_, a| {
        want_n("split", a, 2)?;
        let (sep, x) = (s(a, 0)?, s(a, 1)?);
        Ok(index_map(go_split(x, sep, -1)))
    });
    m.insert("splitn", |_, a| {
        want_n("splitn", a, 3)?;
        let (sep, n, x) = (s(a, 0)?, int(a, 1)?, s(a, 2)?);
        Ok(index_map(go_split(x, sep, n)))
    });
    m.insert("splitList", |_, a| {
        want_n("splitList", a, 2)?;
        let (sep, x) = (s(a, 0)?, s(a, 1)?);
        Ok(Value::list(
            go_split(x, sep, -1).into_iter().map(Value::from).collect(),
        ))
    });
    m.insert("join", |_, a| {
        want_n("join", a, 2)?;
        let sep = s(a, 0)?;
        st(to_strings(&a[1]).join(sep))
    });
    m.insert("sortAlpha", |_, a| {
        want_n("sortAlpha", a, 1)?;
        let mut v = match &a[0] {
            x if x.as_list().is_some() => to_strings(x),
            other => vec![strval(other)],
        };
        v.sort();
        Ok(Value::list(v.into_iter().map(Value::from).collect()))
    });
    m.insert("toStrings", |_, a| {
        want_n("toStrings", a, 1)?;
        Ok(Value::list(
            to_strings(&a[0]).into_iter().map(Value::from).collect(),
        ))
    });
    // regex
    m.insert("regexMatch", |_, a| {
        want_n("regexMatch", a, 2)?;
        let (re, x) = (s(a, 0)?, s(a, 1)?);
        Ok(Value::Bool(match compile(re) {
            Ok(r) => r.is_match(x),
            Err(_) => false,
        }))
    });
    m.insert("mustRegexMatch", |_, a| {
        want_n("mustRegexMatch", a, 2)?;
        let (re, x) = (s(a, 0)?, s(a, 1)?);
        Ok(Value::Bool(compile(re)?.is_match(x)))
    });
    // Plain forms compile with MustCompile (its panic text); must* forms return the error.
    m.insert("regexFindAll", |_, a| regex_find_all(a, must_compile));
    m.insert("mustRegexFindAll", |_, a| regex_find_all(a, compile));
    m.insert("regexFind", |_, a| regex_find(a, must_compile));
    m.insert("mustRegexFind", |_, a| regex_find(a, compile));
    m.insert("regexReplaceAll", |_, a| {
        regex_replace(a, must_compile, false)
    });
    m.insert("mustRegexReplaceAll", |_, a| {
        regex_replace(a, compile, false)
    });
    m.insert("regexReplaceAllLiteral", |_, a| {
        regex_replace(a, must_compile, true)
    });
    m.insert("mustRegexReplaceAllLiteral", |_, a| {
        regex_replace(a, compile, true)
    });
    m.insert("regexSplit", |_, a| regex_split(a, must_compile));
    m.insert("mustRegexSplit", |_, a| regex_split(a, compile));
    m.insert("regexQuoteMeta", |_, a| {
        want_n("regexQuoteMeta", a, 1)?;
        st(regex::escape(s(a, 0)?))
    });
    m.insert("seq", |_, a| seq(a));
}

const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn rand_from(a: &[Value], name: &str, set: &[u8]) -> Res {
    want_n(name, a, 1)?;
    let n = int(a, 0)?;
    if n < 0 {
        return Err(FnErr::Call(format!(
            "Requested random string length {n} is less than 0."
        )));
    }
    let n = n.min(1 << 20) as usize;
    let mut r = rand::thread_rng();
    st((0..n)
        .map(|_| set[r.gen_range(0..set.len())] as char)
        .collect())
}

type Compile = fn(&str) -> Result<std::rc::Rc<regex::Regex>, FnErr>;

fn regex_find_all(a: &[Value], comp: Compile) -> Res {
    want_n("regexFindAll", a, 3)?;
    let (re, x, n) = (s(a, 0)?, s(a, 1)?, int(a, 2)?);
    let r = comp(re)?;
    let it = r.find_iter(x).map(|m| Value::str(m.as_str()));
    let v: Vec<Value> = if n < 0 {
        it.collect()
    } else {
        it.take(n as usize).collect()
    };
    Ok(Value::list(v))
}

fn regex_find(a: &[Value], comp: Compile) -> Res {
    want_n("regexFind", a, 2)?;
    let (re, x) = (s(a, 0)?, s(a, 1)?);
    let r = comp(re)?;
    st(r.find(x)
        .map(|m| m.as_str().to_string())
        .unwrap_or_default())
}

fn regex_replace(a: &[Value], comp: Compile, literal: bool) -> Res {
    want_n("regexReplaceAll", a, 3)?;
    let (re, x, repl) = (s(a, 0)?, s(a, 1)?, s(a, 2)?);
    let r = comp(re)?;
    if literal {
        st(r.replace_all(x, regex::NoExpand(repl)).into_owned())
    } else {
        st(r.replace_all(x, repl).into_owned())
    }
}

fn regex_split(a: &[Value], comp: Compile) -> Res {
    want_n("regexSplit", a, 3)?;
    let (re, x, n) = (s(a, 0)?, s(a, 1)?, int(a, 2)?);
    let r = comp(re)?;
    let v: Vec<Value> = if n < 0 {
        r.split(x).map(Value::from).collect()
    } else if n == 0 {
        Vec::new()
    } else {
        r.splitn(x, n as usize).map(Value::from).collect()
    };
    Ok(Value::list(v))
}

/// Compiled patterns by their Go source (or the compile error), per thread: a chart applies
/// the same few patterns to every value in a loop, and compiling one costs far more than
/// matching it. Bounded: past [`REGEX_CACHE_MAX`] patterns the cache starts again.
type RegexCache = std::cell::RefCell<
    std::collections::HashMap<String, Result<std::rc::Rc<regex::Regex>, regex::Error>>,
>;
const REGEX_CACHE_MAX: usize = 512;
thread_local! {
    static REGEXES: RegexCache = RegexCache::default();
}

fn cached_regex(re: &str) -> Result<std::rc::Rc<regex::Regex>, regex::Error> {
    REGEXES.with(|c| {
        if let Some(r) = c.borrow().get(re) {
            return r.clone();
        }
        // Shared, not cloned: a clone of a `Regex` starts its own empty match cache.
        let r = regex::RegexBuilder::new(&go_pattern(re))
            .size_limit(1 << 22)
            .build()
            .map(std::rc::Rc::new);
        let mut m = c.borrow_mut();
        if m.len() >= REGEX_CACHE_MAX {
            m.clear();
        }
        m.insert(re.to_owned(), r.clone());
        r
    })
}

/// Compiles like Go's regexp.Compile (the `must*` forms and regexMatch).
fn compile(re: &str) -> Result<std::rc::Rc<regex::Regex>, FnErr> {
    cached_regex(re).map_err(|e| FnErr::Call(go_regex_error(re, &e)))
}

/// Compiles like Go's regexp.MustCompile, whose panic text the plain Sprig forms show.
fn must_compile(re: &str) -> Result<std::rc::Rc<regex::Regex>, FnErr> {
    cached_regex(re).map_err(|e| {
        FnErr::Call(format!(
            "regexp: Compile(`{re}`): {}",
            go_regex_error(re, &e)
        ))
    })
}

/// RE2 syntax the `regex` crate reads differently: in a character class, a `-` right after
/// a Perl class escape (`[\w-.]`) is a literal in RE2 but a range error here, so it is
/// escaped. Everything else passes through unchanged.
fn go_pattern(re: &str) -> std::borrow::Cow<'_, str> {
    if !re.contains('[') || !re.contains('-') {
        return re.into();
    }
    let b = re.as_bytes();
    let mut out = String::with_capacity(re.len() + 4);
    let (mut i, mut in_class, mut last) = (0, false, 0);
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => {
                let esc = b[i + 1];
                i += 2;
                let perl = matches!(esc, b'w' | b'W' | b'd' | b'D' | b's' | b'S');
                if in_class && perl && i + 1 < b.len() && b[i] == b'-' && b[i + 1] != b']' {
                    out.push_str(&re[last..i]);
                    out.push_str("\\-");
                    i += 1;
                    last = i;
                }
                continue;
            }
            b'[' if !in_class => {
                in_class = true;
                // A `]` first in the class is a literal.
                if b.get(i + 1) == Some(&b'^') {
                    i += 1;
                }
                if b.get(i + 1) == Some(&b']') {
                    i += 1;
                }
            }
            b']' if in_class => in_class = false,
            _ => {}
        }
        i += 1;
    }
    if last == 0 {
        return re.into();
    }
    out.push_str(&re[last..]);
    out.into()
}

/// RE2's wording for the common syntax errors: `error parsing regexp: CODE: `EXPR``.
fn go_regex_error(re: &str, e: &regex::Error) -> String {
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let kind = lines
        .last()
        .map(|l| l.trim().trim_start_matches("error: ").to_string())
        .unwrap_or_default();
    // The caret line marks the span (4 spaces of indentation in regex's message).
    let span = lines
        .iter()
        .find(|l| l.trim_start().starts_with('^'))
        .map(|l| {
            let start = l.find('^').unwrap_or(4).saturating_sub(4);
            let end = l.rfind('^').unwrap_or(4).saturating_sub(4) + 1;
            (start, end)
        });
    let chars: Vec<char> = re.chars().collect();
    let part = |a: usize, b: usize| {
        chars
            .get(a.min(chars.len())..b.min(chars.len()))
            .map(|c| c.iter().collect::<String>())
            .unwrap_or_default()
    };
    let (code, expr) = match (kind.as_str(), span) {
        ("unclosed group", _) => ("missing closing )", re.to_string()),
        ("unopened group", _) => ("unexpected )", re.to_string()),
        ("unclosed character class", Some((a, _))) => ("missing closing ]", part(a, chars.len())),
        (k, Some((a, b))) if k.starts_with("unrecognized escape sequence") => {
            ("invalid escape sequence", part(a, b))
        }
        (k, Some((a, b))) if k.starts_with("repetition operator missing expression") => {
            ("missing argument to repetition operator", part(a, b))
        }
        (k, _) if k.starts_with("incomplete escape sequence") => {
            ("trailing backslash at end of expression", String::new())
        }
        (k, Some((a, b))) if k.starts_with("invalid character class range") => {
            ("invalid character class range", part(a, b))
        }
        _ => return format!("error parsing regexp: {kind}: `{re}`"),
    };
    format!("error parsing regexp: {code}: `{expr}`")
}

pub(crate) fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push_str(&format!("{:02x}", x));
    }
    s
}

fn adler32(b: &[u8]) -> u32 {
    let (mut a, mut s) = (1u32, 0u32);
    for &x in b {
        a = (a + x as u32) % 65521;
        s = (s + a) % 65521;
    }
    (s << 16) | a
}

fn b64dec(x: &str) -> String {
    match base64::engine::general_purpose::STANDARD.decode(x) {
        Ok(b) => from_go_bytes(&b).into_owned(),
        Err(e) => match e {
            base64::DecodeError::InvalidByte(i, _) => {
                format!("illegal base64 data at input byte {i}")
            }
            base64::DecodeError::InvalidLength(l) => {
                format!("illegal base64 data at input byte {l}")
            }
            base64::DecodeError::InvalidLastSymbol(i, _) => {
                format!("illegal base64 data at input byte {i}")
            }
            base64::DecodeError::InvalidPadding => {
                format!(
                    "illegal base64 data at input byte {}",
                    x.len().saturating_sub(1)
                )
            }
        },
    }
}

const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn b32enc(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                out.push(B32[((n >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b32dec(x: &str) -> Result<Vec<u8>, String> {
    let bytes = x.as_bytes();
    if !bytes.len().is_multiple_of(8) {
        return Err(format!(
            "illegal base32 data at input byte {}",
            bytes.len() / 8 * 8
        ));
    }
    let mut out = Vec::new();
    for (ci, chunk) in bytes.chunks(8).enumerate() {
        let mut n: u64 = 0;
        let mut count = 0;
        for (i, &c) in chunk.iter().enumerate() {
            if c == b'=' {
                break;
            }
            let Some(v) = B32.iter().position(|&b| b == c) else {
                return Err(format!("illegal base32 data at input byte {}", ci * 8 + i));
            };
            n |= (v as u64) << (35 - i * 5);
            count += 1;
        }
        let nbytes = match count {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            0 => 0,
            _ => {
                return Err(format!(
                    "illegal base32 data at input byte {}",
                    ci * 8 + count
                ));
            }
        };
        let be = n.to_be_bytes();
        out.extend_from_slice(&be[3..3 + nbytes]);
    }
    Ok(out)
}

/// strings.Split semantics (n < 0 = all; empty separator splits into characters).
pub(crate) fn go_split(x: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let chars: Vec<String> = x.chars().map(|c| c.to_string()).collect();
        if n > 0 && (n as usize) < chars.len() {
            let mut v: Vec<String> = chars[..n as usize - 1].to_vec();
            v.push(chars[n as usize - 1..].concat());
            return v;
        }
        return chars;
    }
    if n < 0 {
        x.split(sep).map(String::from).collect()
    } else {
        x.splitn(n as usize, sep).map(String::from).collect()
    }
}

fn index_map(parts: Vec<String>) -> Value {
    let mut m = MapData::new();
    for (i, p) in parts.into_iter().enumerate() {
        m.insert(format!("_{i}"), Value::from(p));
    }
    Value::map(m)
}

fn go_replace(x: &str, old: &str, new: &str) -> String {
    if old.is_empty() {
        // Go inserts `new` before every rune and at the end
        let mut out = String::new();
        for c in x.chars() {
            out.push_str(new);
            out.push(c);
        }
        out.push_str(new);
        return out;
    }
    x.replace(old, new)
}

/// Sprig indent: pad the first line and every line after a newline.
pub(crate) fn indent(x: &str, n: i64) -> String {
    let pad = " ".repeat(n.clamp(0, 1 << 16) as usize);
    let mut out = String::with_capacity(x.len() + pad.len() * 4);
    out.push_str(&pad);
    for (i, line) in x.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    out
}

fn abbrev(x: &str, w: i64) -> String {
    let n = crate::bytes::go_len(x) as i64;
    if w < 4 || n <= w {
        return x.to_string();
    }
    format!("{}...", crate::bytes::slice(x, 0, (w - 3) as usize))
}

fn abbrev_full(x: &str, offset: i64, max: i64) -> String {
    let n = crate::bytes::go_len(x) as i64;
    if n <= max {
        return x.to_string();
    }
    let mut off = offset.min(n);
    if n - off < max - 3 {
        off = n - (max - 3);
    }
    let cut = |from: i64, to: i64| crate::bytes::slice(x, from as usize, to as usize);
    if off <= 4 {
        return format!("{}...", cut(0, max - 3));
    }
    if max < 7 {
        return x.to_string();
    }
    if off + max - 3 < n {
        return format!("...{}", abbrev(&cut(off, n), max - 3));
    }
    format!("...{}", cut(n - (max - 3), n))
}

/// strings.Title: upper-case the first letter of each word.
fn title(x: &str) -> String {
    let mut out = String::with_capacity(x.len());
    let mut prev_sep = true;
    for c in x.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = is_separator(c);
    }
    out
}

fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphanumeric() {
        return false;
    }
    c.is_whitespace()
}

fn untitle(x: &str) -> String {
    let mut out = String::with_capacity(x.len());
    let mut prev_ws = true;
    for c in x.chars() {
        if prev_ws {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        prev_ws = c.is_whitespace();
    }
    out
}

/// Words for snake/kebab case (xstrings-style: case changes and separators split words).
fn words(x: &str) -> Vec<String> {
    let chars: Vec<char> = x.chars().collect();
    let mut words = Vec::new();
    let mut cur = String::new();
    for i in 0..chars.len() {
        let c = chars[i];
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c.is_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                words.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

fn delimited(x: &str, sep: char) -> String {
    words(x)
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(&sep.to_string())
}

fn camel(x: &str) -> String {
    let mut out = String::new();
    for part in x.split(['_', ' ', '-']) {
        let mut cs = part.chars();
        if let Some(f) = cs.next() {
            out.extend(f.to_uppercase());
            out.push_str(cs.as_str());
        }
    }
    out
}

/// goutils.WrapCustom (commons-lang WordUtils.wrap).
fn wrap(x: &str, width: i64, nl: &str, long_words: bool) -> String {
    let width = width.max(1) as usize;
    let chars: Vec<char> = x.chars().collect();
    let n = chars.len();
    let mut out = String::new();
    let mut offset = 0usize;
    while n - offset > width {
        if chars[offset] == ' ' {
            offset += 1;
            continue;
        }
        let window_end = (offset + width).min(n - 1);
        let space = (offset..=window_end).rev().find(|&i| chars[i] == ' ');
        match space {
            Some(sp) if sp >= offset => {
                out.extend(&chars[offset..sp]);
                out.push_str(nl);
                offset = sp + 1;
            }
            _ => {
                if long_words {
                    out.extend(&chars[offset..offset + width]);
                    out.push_str(nl);
                    offset += width;
                } else {
                    match (offset + width..n).find(|&i| chars[i] == ' ') {
                        Some(sp) => {
                            out.extend(&chars[offset..sp]);
                            out.push_str(nl);
                            offset = sp + 1;
                        }
                        None => {
                            out.extend(&chars[offset..]);
                            offset = n;
                        }
                    }
                }
            }
        }
    }
    out.extend(&chars[offset..]);
    out
}

fn seq(a: &[Value]) -> Res {
    let nums: Vec<i64> = a.iter().map(super::to_i64).collect();
    let (start, step, end) = match nums.len() {
        0 => return st(String::new()),
        1 => (1, 1, nums[0]),
        2 => {
            let step = if nums[0] <= nums[1] { 1 } else { -1 };
            (nums[0], step, nums[1])
        }
        3 => (nums[0], nums[1], nums[2]),
        _ => return Err(FnErr::Call("seq accepts at most 3 arguments".into())),
    };
    let mut v = Vec::new();
    if step == 0 {
        return st(String::new());
    }
    let mut i = start;
    while (step > 0 && i <= end) || (step < 0 && i >= end) {
        v.push(i.to_string());
        if v.len() > 1_000_000 {
            return Err(FnErr::Call("seq: too many elements".into()));
        }
        i += step;
    }
    st(v.join(" "))
}

#[allow(dead_code)]
fn unused(a: &[Value]) -> Result<(), FnErr> {
    want_min("x", a, 0)
}

/// Sprig's `trunc`: the first `c` bytes, or with `c < 0` the last `-c` bytes (bytes, not
/// characters). A cut inside a UTF-8 character keeps the lone bytes, as in Go (see
/// `crate::bytes`): `quote` prints them as `\xNN`, and written raw into a manifest they fail
/// its YAML parsing, as in Helm.
fn trunc(c: i64, x: &str) -> String {
    let n = crate::bytes::go_len(x) as i64;
    if c < 0 && n + c > 0 {
        crate::bytes::slice(x, (n + c) as usize, n as usize)
    } else if c >= 0 && n > c {
        crate::bytes::slice(x, 0, c as usize)
    } else {
        x.to_string()
    }
}
