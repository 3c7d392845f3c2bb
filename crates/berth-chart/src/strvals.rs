//! `--set`, `--set-string` and `--set-file` expressions, parsed as Helm's
//! `strvals` does: `a.b=1,list[0].x=y,arr={a,b}`, backslash escapes, typed
//! scalars for `--set` (`true`, `null`, int64), strings for `--set-string`, file
//! contents for `--set-file`, one JSON value per key for `--set-json`, and the whole rest
//! of the expression as one string for `--set-literal`.

use serde_json::{Map, Value};

const MAX_INDEX: usize = 65536;
const MAX_NESTED: usize = 30;

/// How the right-hand sides are turned into values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetKind {
    /// `--set`: `true`/`false`/`null` and decimal integers are typed.
    Typed,
    /// `--set-string`: everything is a string.
    String,
    /// `--set-file`: the right-hand side is a path whose contents become the value.
    File,
    /// `--set-json`: the right-hand side is one JSON value (`a={"x":[1,2]},b=3`).
    Json,
    /// `--set-literal`: everything after the first `=` is one string, commas and
    /// backslashes included (`a.b=x,y` sets `x,y`).
    Literal,
}

#[derive(Debug)]
enum Stop {
    Eof,
    Char(char),
}

struct Parser<'a> {
    s: Vec<char>,
    pos: usize,
    kind: SetKind,
    read_file: &'a dyn Fn(&str) -> Result<String, String>,
}

type R<T> = Result<T, String>;

impl Parser<'_> {
    fn next(&mut self) -> Option<char> {
        let c = self.s.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Reads until a stop rune (consumed), honouring `\` escapes.
    fn until(&mut self, stop: &[char]) -> (String, Stop) {
        let mut v = String::new();
        let literal = self.kind == SetKind::Literal;
        loop {
            match self.next() {
                None => return (v, Stop::Eof),
                Some(c) if stop.contains(&c) && !(literal && c == ',') => {
                    return (v, Stop::Char(c));
                }
                Some('\\') if !literal => match self.next() {
                    None => return (v, Stop::Eof),
                    Some(n) => v.push(n),
                },
                Some(c) => v.push(c),
            }
        }
    }

    /// The value after `=` for `--set-json` and `--set-literal`; `None` for the other kinds.
    /// Ok((value, more)): `more` is false at the end of the input.
    fn whole_value(&mut self) -> Option<R<(Value, bool)>> {
        let rest: String = self.s[self.pos..].iter().collect();
        match self.kind {
            SetKind::Literal => {
                self.pos = self.s.len();
                Some(Ok((Value::String(rest), false)))
            }
            SetKind::Json => {
                let mut it = serde_json::Deserializer::from_str(&rest).into_iter::<Value>();
                let v = match it.next() {
                    Some(Ok(v)) => v,
                    Some(Err(e)) => return Some(Err(format!("invalid JSON value: {e}"))),
                    None => return Some(Err("a JSON value is expected after =".into())),
                };
                let used = rest[..it.byte_offset()].chars().count();
                self.pos += used;
                while self.s.get(self.pos).is_some_and(|c| c.is_whitespace()) {
                    self.pos += 1;
                }
                match self.next() {
                    None => Some(Ok((v, false))),
                    Some(',') => Some(Ok((v, true))),
                    Some(c) => Some(Err(format!(
                        "unexpected {c:?} after a JSON value (expected , or the end)"
                    ))),
                }
            }
            _ => None,
        }
    }

    fn typed(&self, raw: &str) -> R<Value> {
        match self.kind {
            SetKind::Json | SetKind::Literal | SetKind::String => Ok(Value::String(raw.to_owned())),
            SetKind::File => (self.read_file)(raw).map(Value::String),
            SetKind::Typed => Ok(typed_val(raw)),
        }
    }

    fn parse(&mut self, data: &mut Map<String, Value>) -> R<()> {
        loop {
            match self.key(data, 0) {
                Ok(true) => continue,
                Ok(false) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Parses one `key...=value`; Ok(false) at end of input.
    fn key(&mut self, data: &mut Map<String, Value>, level: usize) -> R<bool> {
        let (k, last) = self.until(&['=', '[', ',', '.']);
        match last {
            Stop::Eof => {
                if k.is_empty() {
                    Ok(false)
                } else {
                    Err(format!("key {k:?} has no value"))
                }
            }
            Stop::Char('[') => {
                let i = self.key_index()?;
                let list = match data.get(&k) {
                    None => Vec::new(),
                    Some(Value::Array(a)) => a.clone(),
                    Some(_) => return Err(format!("key {k:?} is not a list; cannot index it")),
                };
                let (list, res) = self.list_item(list, i, level);
                set(data, &k, Value::Array(list));
                res
            }
            Stop::Char('=') if self.kind == SetKind::Json || self.kind == SetKind::Literal => {
                let (v, more) = self.whole_value().unwrap_or(Ok((Value::Null, false)))?;
                set(data, &k, v);
                Ok(more)
            }
            Stop::Char('=') => match self.val_list()? {
                ValList::List(l) => {
                    set(data, &k, Value::Array(l));
                    Ok(true)
                }
                ValList::Eof => {
                    set(data, &k, Value::String(String::new()));
                    Ok(false)
                }
                ValList::NotList => {
                    let (raw, _) = self.until(&[',']);
                    let v = self.typed(&raw)?;
                    set(data, &k, v);
                    Ok(true)
                }
            },
            Stop::Char(',') => {
                set(data, &k, Value::String(String::new()));
                Err(format!("key {k:?} has no value (cannot end with ,)"))
            }
            Stop::Char(_) => {
                // '.'
                let level = level + 1;
                if level > MAX_NESTED {
                    return Err(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED}"
                    ));
                }
                let mut inner = match data.get(&k) {
                    None => Map::new(),
                    Some(Value::Object(m)) => m.clone(),
                    Some(_) => Map::new(),
                };
                let r = self.key(&mut inner, level);
                if r.is_ok() && inner.is_empty() {
                    return Err(format!("key map {k:?} has no value"));
                }
                if !inner.is_empty() {
                    set(data, &k, Value::Object(inner));
                }
                r
            }
        }
    }

    fn key_index(&mut self) -> R<usize> {
        let (v, last) = self.until(&[']']);
        if matches!(last, Stop::Eof) {
            return Err("error parsing index: missing ]".into());
        }
        let i: i64 = v.parse().map_err(|_| {
            format!("error parsing index: strconv.Atoi: parsing {v:?}: invalid syntax")
        })?;
        if i < 0 {
            return Err(format!("negative {i} index not allowed"));
        }
        Ok(i as usize)
    }

    fn list_item(&mut self, mut list: Vec<Value>, i: usize, level: usize) -> (Vec<Value>, R<bool>) {
        let (k, last) = self.until(&['[', '.', '=']);
        if !k.is_empty() {
            return (
                list,
                Err(format!("unexpected data at end of array index: {k:?}")),
            );
        }
        match last {
            Stop::Eof => (list, Ok(false)),
            Stop::Char('=') => {
                let whole = self.whole_value();
                let (v, more) = match whole {
                    Some(Err(e)) => return (list, Err(e)),
                    Some(Ok(x)) => x,
                    None => match self.plain_item() {
                        Ok(v) => (v, true),
                        Err(e) => return (list, Err(e)),
                    },
                };
                match set_index(list.clone(), i, v) {
                    Ok(l) => (l, Ok(more)),
                    Err(e) => (list, Err(e)),
                }
            }
            Stop::Char('[') => {
                let next = match self.key_index() {
                    Ok(n) => n,
                    Err(e) => return (list, Err(e)),
                };
                let cur = match list.get(i) {
                    Some(Value::Array(a)) => a.clone(),
                    _ => Vec::new(),
                };
                let (l2, r) = self.list_item(cur, next, level);
                if let Err(e) = r {
                    return (list, Err(e));
                }
                match set_index(list.clone(), i, Value::Array(l2)) {
                    Ok(l) => (l, r),
                    Err(e) => (list, Err(e)),
                }
            }
            Stop::Char(_) => {
                let mut inner = match list.get(i) {
                    Some(Value::Object(m)) => m.clone(),
                    _ => Map::new(),
                };
                let r = self.key(&mut inner, level);
                if r.is_err() {
                    return (list, r);
                }
                match set_index(std::mem::take(&mut list), i, Value::Object(inner)) {
                    Ok(l) => (l, r),
                    Err(e) => (Vec::new(), Err(e)),
                }
            }
        }
    }

    /// A list item's value for `--set`, `--set-string` and `--set-file`.
    fn plain_item(&mut self) -> R<Value> {
        Ok(match self.val_list()? {
            ValList::List(l) => Value::Array(l),
            ValList::Eof => Value::String(String::new()),
            ValList::NotList => {
                let (raw, _) = self.until(&[',']);
                self.typed(&raw)?
            }
        })
    }

    fn val_list(&mut self) -> R<ValList> {
        match self.s.get(self.pos) {
            None => return Ok(ValList::Eof),
            Some('{') => self.pos += 1,
            Some(_) => return Ok(ValList::NotList),
        }
        let mut list = Vec::new();
        loop {
            let (rs, last) = self.until(&[',', '}']);
            match last {
                Stop::Eof => return Err("list must terminate with '}'".into()),
                Stop::Char('}') => {
                    if self.s.get(self.pos) == Some(&',') {
                        self.pos += 1;
                    }
                    list.push(self.typed(&rs)?);
                    return Ok(ValList::List(list));
                }
                Stop::Char(_) => list.push(self.typed(&rs)?),
            }
        }
    }
}

enum ValList {
    List(Vec<Value>),
    Eof,
    NotList,
}

fn set(data: &mut Map<String, Value>, key: &str, val: Value) {
    if !key.is_empty() {
        data.insert(key.to_owned(), val);
    }
}

fn set_index(mut list: Vec<Value>, i: usize, v: Value) -> R<Vec<Value>> {
    if i > MAX_INDEX {
        return Err(format!(
            "index of {i} is greater than maximum supported index of {MAX_INDEX}"
        ));
    }
    if list.len() <= i {
        list.resize(i + 1, Value::Null);
    }
    list[i] = v;
    Ok(list)
}

fn typed_val(s: &str) -> Value {
    if s.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if s.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if s.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if s == "0" {
        return Value::from(0i64);
    }
    if !s.is_empty() && !s.starts_with('0') {
        // Go's ParseInt accepts a leading sign and underscores are not allowed in base 10.
        let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
        if !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && let Ok(i) = s.parse::<i64>()
        {
            return Value::from(i);
        }
    }
    Value::String(s.to_owned())
}

/// Parses one expression into `dest` (existing keys are updated in place, as Helm).
pub fn parse_into(
    expr: &str,
    dest: &mut Map<String, Value>,
    kind: SetKind,
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<(), String> {
    let mut p = Parser {
        s: expr.chars().collect(),
        pos: 0,
        kind,
        read_file,
    };
    p.parse(dest)
}

/// Parses a `--set` expression into a fresh map.
pub fn parse_set(expr: &str) -> Result<Map<String, Value>, String> {
    let mut m = Map::new();
    parse_into(expr, &mut m, SetKind::Typed, &|_| Err("no files".into()))?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Value {
        Value::Object(parse_set(s).unwrap())
    }

    #[test]
    fn helm_strvals_examples() {
        assert_eq!(
            p("a=1,b.c=two,ports={80,443}"),
            json!({"a":1,"b":{"c":"two"},"ports":[80,443]})
        );
        assert_eq!(
            p("x=true,y=NULL,z=0,w=007,v=-3"),
            json!({"x":true,"y":null,"z":0,"w":"007","v":-3})
        );
        assert_eq!(p("list[1].name=b"), json!({"list":[null,{"name":"b"}]}));
        assert_eq!(p("a\\.b=c"), json!({"a.b":"c"}));
        assert_eq!(p("a=b\\,c"), json!({"a":"b,c"}));
        assert_eq!(p("m[0][1]=x"), json!({"m":[[null,"x"]]}));
        assert_eq!(p("e="), json!({"e":""}));
        assert!(parse_set("a").is_err());
        assert!(parse_set("a,").is_err());
        assert!(parse_set("a[-1]=x").is_err());
        assert!(parse_set("a[70000]=x").is_err());
        assert!(parse_set("a={x,y").is_err());
    }
}
