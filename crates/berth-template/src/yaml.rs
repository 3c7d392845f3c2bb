//! YAML output as Helm's `toYaml` produces it: sigs.k8s.io/yaml marshals to JSON and then
//! emits with its go-yaml v2 fork (block style, 2-space indent, sequences not indented under
//! their key, "natural" key order, YAML 1.1 quoting, plain scalars folded at 80 columns).
//! `toYamlPretty` goes through go-yaml v3 with indent 2 (indented sequences, no folding).

use std::cmp::Ordering;

use crate::funcs::parse_go_int;
use crate::gofmt;
use crate::value::Value;

const BEST_WIDTH: usize = 80;

/// Helm's `toYaml` text (with the trailing newline that Helm then trims).
pub fn to_yaml(v: &Value) -> String {
    let mut j = v.to_json();
    // The YAML reader behind sigs.k8s.io/yaml rejects characters that JSON leaves raw
    // (DEL, C1 controls, U+FFFE/FFFF): Helm's toYaml then returns "".
    if !round_trip_json(&mut j) {
        return String::new();
    }
    let mut e = Emitter {
        out: String::new(),
        pretty: false,
    };
    e.document(&j);
    e.out
}

/// Helm's `toYamlPretty` text (go-yaml v3, indent 2; trailing newline included).
pub fn to_yaml_pretty(v: &Value) -> String {
    let mut e = Emitter {
        out: String::new(),
        pretty: true,
    };
    e.document(&pretty_json(v, 0));
    e.out
}

fn yaml_reader_rejects(c: char) -> bool {
    let u = c as u32;
    (0x7F..=0x9F).contains(&u) && u != 0x85 || u == 0xFFFE || u == 0xFFFF
}

/// Applies what the JSON → YAML re-read does to strings: rejects unreadable characters and
/// folds a raw NEL (a YAML line break inside a quoted scalar) into a space.
fn round_trip_json(j: &mut serde_json::Value) -> bool {
    match j {
        serde_json::Value::String(s) => {
            if s.chars().any(yaml_reader_rejects) {
                return false;
            }
            if s.contains('\u{85}') {
                *s = s.replace('\u{85}', " ");
            }
            true
        }
        serde_json::Value::Array(a) => a.iter_mut().all(round_trip_json),
        serde_json::Value::Object(o) => {
            if o.keys().any(|k| k.chars().any(yaml_reader_rejects)) {
                return false;
            }
            o.values_mut().all(round_trip_json)
        }
        _ => true,
    }
}

/// Like to_json but keeps floats as floats (no JSON round trip in go-yaml v3).
fn pretty_json(v: &Value, d: usize) -> serde_json::Value {
    if d > 1000 {
        return serde_json::Value::Null;
    }
    match v {
        Value::List(l) => {
            serde_json::Value::Array(l.iter().map(|x| pretty_json(x, d + 1)).collect())
        }
        Value::Map(m) => serde_json::Value::Object(
            m.read()
                .iter()
                .map(|(k, x)| (k.clone(), pretty_json(x, d + 1)))
                .collect(),
        ),
        // mark floats by a string form the emitter recognises
        Value::Float(f) => serde_json::Value::String(format!("\u{0}float:{}", float_yaml_v3(*f))),
        other => other.to_json(),
    }
}

fn float_yaml_v3(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        }
    } else {
        gofmt::format_g(f, None, false)
    }
}

/// How a float64 prints after the JSON round trip: integral values print as integers.
pub fn yaml_number_from_float(f: f64) -> String {
    let j = gofmt::float_json(f);
    if let Some(i) = parse_go_int(&j) {
        return i.to_string();
    }
    if j.parse::<u64>().is_ok() {
        return j;
    }
    match j.parse::<f64>() {
        Ok(x) => gofmt::format_g(x, None, false),
        Err(_) => j,
    }
}

/// go-yaml's "natural" key order (sorter.go keyList.Less, with the digit-context rule).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut digits = false;
    let n = ar.len().min(br.len());
    for i in 0..n {
        if ar[i] == br[i] {
            digits = ar[i].is_ascii_digit();
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            let a_first = if digits { al } else { bl };
            return if a_first {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let mut an: i64 = 0;
        let mut bn: i64 = 0;
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 {
                j -= 1;
                if !ar[j].is_ascii_digit() {
                    break;
                }
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.wrapping_mul(10).wrapping_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

struct Analysis {
    multiline: bool,
    block_plain: bool,
    single: bool,
    block: bool,
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain: true,
            single: true,
            block: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_ind = false;
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    if s.starts_with("---") || s.starts_with("...") {
        block_ind = true;
    }
    let mut preceded_ws = true;
    let n = chars.len();
    for i in 0..n {
        let c = chars[i];
        let followed_ws =
            i + 1 >= n || matches!(chars[i + 1], ' ' | '\t') || is_break(chars[i + 1]);
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_ind = true,
                '?' | ':' if followed_ws => {
                    block_ind = true;
                }
                '-' if followed_ws => {
                    block_ind = true;
                }
                _ => {}
            }
        } else {
            match c {
                ':' if followed_ws => {
                    block_ind = true;
                }
                '#' if preceded_ws => {
                    block_ind = true;
                }
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i + 1 == n {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if i + 1 == n {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_ws = matches!(c, ' ' | '\t' | '\0') || is_break(c);
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain: true,
        single: true,
        block: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.block_plain = false;
        a.single = false;
    }
    if space_break || special {
        a.block_plain = false;
        a.single = false;
        a.block = false;
    }
    if line_breaks {
        a.block_plain = false;
    }
    if block_ind {
        a.block_plain = false;
    }
    a
}

/// Would go-yaml v2 resolve this plain scalar to something other than a string?
fn resolves_non_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null",
        "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF",
    ];
    let Some(first) = s.bytes().next() else {
        return true;
    };
    let hint = match first {
        b'+' | b'-' => 'S',
        b'0'..=b'9' => 'D',
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => 'M',
        b'.' => '.',
        _ => return false,
    };
    if SPECIAL.contains(&s) {
        return true;
    }
    match hint {
        '.' => parse_float_strict(s),
        'D' | 'S' => {
            if is_timestamp(s) {
                return true;
            }
            let plain = s.replace('_', "");
            if parse_go_int(&plain).is_some() {
                return true;
            }
            if plain.parse::<u64>().is_ok() {
                return true;
            }
            if yaml_style_float(&plain) {
                return true;
            }
            if let Some(b) = plain
                .strip_prefix("0b")
                .or_else(|| plain.strip_prefix("-0b"))
            {
                return !b.is_empty() && b.bytes().all(|c| c == b'0' || c == b'1');
            }
            false
        }
        _ => false,
    }
}

fn parse_float_strict(s: &str) -> bool {
    // strconv.ParseFloat on strings that start with '.'
    let b = &s[1..];
    !b.is_empty() && s.parse::<f64>().is_ok() && !s.contains(['i', 'n', 'I', 'N'])
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - st
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() && i - st < 2 {
            i += 1;
        }
        let n = i - st;
        if n == 0 {
            return false;
        }
        if n == 2 && b[st] > b'5' {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// The YAML timestamp forms go-yaml accepts (YYYY-M-D with optional time).
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let mut i = 5;
    let num = |i: &mut usize, max: usize| {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - st < max {
            *i += 1;
        }
        *i - st
    };
    if num(&mut i, 2) == 0 || i >= b.len() || b[i] != b'-' {
        return false;
    }
    i += 1;
    if num(&mut i, 2) == 0 {
        return false;
    }
    if i == b.len() {
        return true;
    }
    // time part: [Tt ]H:M:S(.frac)?(Z|±hh:mm)?
    if !matches!(b[i], b'T' | b't' | b' ') {
        return false;
    }
    i += 1;
    if num(&mut i, 2) == 0 || i >= b.len() || b[i] != b':' {
        return false;
    }
    i += 1;
    if num(&mut i, 2) == 0 || i >= b.len() || b[i] != b':' {
        return false;
    }
    i += 1;
    if num(&mut i, 2) == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if num(&mut i, 9) == 0 {
            return false;
        }
    }
    if i == b.len() {
        return true;
    }
    if b[i] == b'Z' && i + 1 == b.len() {
        return true;
    }
    if matches!(b[i], b'+' | b'-') {
        let rest = &s[i + 1..];
        let rb = rest.as_bytes();
        return rb.len() == 5
            && rb[2] == b':'
            && rb
                .iter()
                .enumerate()
                .all(|(k, c)| k == 2 || c.is_ascii_digit());
    }
    false
}

#[derive(PartialEq, Clone, Copy)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

struct Emitter {
    out: String,
    pretty: bool,
}

impl Emitter {
    fn column(&self) -> usize {
        match self.out.rfind('\n') {
            Some(i) => self.out[i + 1..].chars().count(),
            None => self.out.chars().count(),
        }
    }

    fn document(&mut self, j: &serde_json::Value) {
        match j {
            serde_json::Value::Object(m) if !m.is_empty() => self.mapping(j, 0, false),
            serde_json::Value::Array(a) if !a.is_empty() => self.sequence(a, 0, false),
            other => {
                self.scalar_or_empty(other, 2, false);
                self.out.push('\n');
            }
        }
    }

    fn sorted_entries(
        m: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<(&String, &serde_json::Value)> {
        let mut v: Vec<_> = m.iter().collect();
        v.sort_by(|a, b| natural_cmp(a.0, b.0));
        v
    }

    /// A non-empty mapping whose keys start at column `indent`; `inline_first` when the
    /// first key follows a `- ` on the current line.
    fn mapping(&mut self, j: &serde_json::Value, indent: usize, inline_first: bool) {
        let serde_json::Value::Object(m) = j else {
            return;
        };
        for (i, (k, v)) in Self::sorted_entries(m).into_iter().enumerate() {
            if !(i == 0 && inline_first) {
                self.out.extend(std::iter::repeat_n(' ', indent));
            }
            self.string_scalar(k, indent + 2, true);
            self.out.push(':');
            match v {
                serde_json::Value::Object(mm) if !mm.is_empty() => {
                    self.out.push('\n');
                    self.mapping(v, indent + 2, false);
                }
                serde_json::Value::Array(a) if !a.is_empty() => {
                    self.out.push('\n');
                    let si = if self.pretty { indent + 2 } else { indent };
                    self.sequence(a, si, false);
                }
                other => {
                    self.out.push(' ');
                    self.scalar_or_empty(other, indent + 2, false);
                    if !self.out.ends_with('\n') {
                        self.out.push('\n');
                    }
                }
            }
        }
    }

    fn sequence(&mut self, a: &[serde_json::Value], indent: usize, inline_first: bool) {
        for (i, v) in a.iter().enumerate() {
            if !(i == 0 && inline_first) {
                self.out.extend(std::iter::repeat_n(' ', indent));
            }
            self.out.push_str("- ");
            match v {
                serde_json::Value::Object(mm) if !mm.is_empty() => {
                    self.mapping(v, indent + 2, true);
                }
                serde_json::Value::Array(aa) if !aa.is_empty() => {
                    self.sequence(aa, indent + 2, true);
                }
                other => {
                    self.scalar_or_empty(other, indent + 2, false);
                    if !self.out.ends_with('\n') {
                        self.out.push('\n');
                    }
                }
            }
        }
    }

    fn scalar_or_empty(&mut self, v: &serde_json::Value, indent: usize, key: bool) {
        match v {
            serde_json::Value::Null => self.out.push_str("null"),
            serde_json::Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    self.out.push_str(&i.to_string());
                } else if let Some(u) = n.as_u64() {
                    self.out.push_str(&u.to_string());
                } else {
                    let f = n.as_f64().unwrap_or(0.0);
                    if self.pretty {
                        self.out.push_str(&float_yaml_v3(f));
                    } else {
                        self.out.push_str(&yaml_number_from_float(f));
                    }
                }
            }
            serde_json::Value::String(s) => {
                if self.pretty
                    && let Some(f) = s.strip_prefix("\u{0}float:")
                {
                    self.out.push_str(f);
                    return;
                }
                self.string_scalar(s, indent, key)
            }
            serde_json::Value::Array(_) => self.out.push_str("[]"),
            serde_json::Value::Object(_) => self.out.push_str("{}"),
        }
    }

    fn string_scalar(&mut self, s: &str, indent: usize, key: bool) {
        let can_plain = !resolves_non_string(s) && !is_base60_float(s);
        let mut style = if s.contains('\n') {
            Style::Literal
        } else if can_plain {
            Style::Plain
        } else {
            Style::Double
        };
        let a = analyze(s);
        if key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain {
            if !a.block_plain {
                style = Style::Single;
            }
            if s.is_empty() && key {
                style = Style::Single;
            }
        }
        if style == Style::Single && !a.single {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block || key) {
            style = Style::Double;
        }
        let allow_breaks = !key && !self.pretty;
        match style {
            Style::Plain => self.write_plain(s, indent, allow_breaks),
            Style::Single => self.write_single(s, indent, allow_breaks),
            Style::Double => self.write_double(s, indent, allow_breaks),
            Style::Literal => self.write_literal(s, indent),
        }
    }

    fn write_indent(&mut self, indent: usize) {
        self.out.push('\n');
        self.out.extend(std::iter::repeat_n(' ', indent));
    }

    fn write_plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        let mut col = self.column();
        let mut spaces = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == ' ' {
                let next_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks && !spaces && col > BEST_WIDTH && !next_space {
                    self.write_indent(indent);
                    col = indent;
                } else {
                    self.out.push(c);
                    col += 1;
                }
                spaces = true;
            } else {
                self.out.push(c);
                col += 1;
                spaces = false;
            }
            i += 1;
        }
    }

    fn write_single(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        self.out.push('\'');
        let mut col = self.column();
        let mut spaces = false;
        let mut breaks = false;
        let n = chars.len();
        for i in 0..n {
            let c = chars[i];
            if c == ' ' {
                let next_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks
                    && !spaces
                    && col > BEST_WIDTH
                    && i != 0
                    && i != n - 1
                    && !next_space
                {
                    self.write_indent(indent);
                    col = indent;
                } else {
                    self.out.push(c);
                    col += 1;
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.out.push('\n');
                }
                self.out.push(c);
                col = 0;
                breaks = true;
            } else {
                if breaks {
                    self.out.extend(std::iter::repeat_n(' ', indent));
                    col = indent;
                    breaks = false;
                }
                if c == '\'' {
                    self.out.push('\'');
                    col += 1;
                }
                self.out.push(c);
                col += 1;
                spaces = false;
            }
        }
        self.out.push('\'');
    }

    fn write_double(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        self.out.push('"');
        let mut col = self.column();
        let mut spaces = false;
        let n = chars.len();
        for i in 0..n {
            let c = chars[i];
            if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                let esc = match c {
                    '\0' => "\\0".to_string(),
                    '\x07' => "\\a".to_string(),
                    '\x08' => "\\b".to_string(),
                    '\t' => "\\t".to_string(),
                    '\n' => "\\n".to_string(),
                    '\x0b' => "\\v".to_string(),
                    '\x0c' => "\\f".to_string(),
                    '\r' => "\\r".to_string(),
                    '\x1b' => "\\e".to_string(),
                    '"' => "\\\"".to_string(),
                    '\\' => "\\\\".to_string(),
                    '\u{85}' => "\\N".to_string(),
                    '\u{A0}' => "\\_".to_string(),
                    '\u{2028}' => "\\L".to_string(),
                    '\u{2029}' => "\\P".to_string(),
                    c => {
                        let u = c as u32;
                        if u <= 0xFF {
                            format!("\\x{:02X}", u)
                        } else if u <= 0xFFFF {
                            format!("\\u{:04X}", u)
                        } else {
                            format!("\\U{:08X}", u)
                        }
                    }
                };
                col += esc.chars().count();
                self.out.push_str(&esc);
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && col > BEST_WIDTH && i != 0 && i != n - 1 {
                    self.write_indent(indent);
                    col = indent;
                    if chars.get(i + 1) == Some(&' ') {
                        self.out.push('\\');
                        col += 1;
                    }
                } else {
                    self.out.push(c);
                    col += 1;
                }
                spaces = true;
            } else {
                self.out.push(c);
                col += 1;
                spaces = false;
            }
        }
        self.out.push('"');
    }

    fn write_literal(&mut self, s: &str, indent: usize) {
        self.out.push('|');
        let first = s.chars().next();
        if matches!(first, Some(c) if c == ' ' || is_break(c)) {
            self.out.push('2');
        }
        let chars: Vec<char> = s.chars().collect();
        let n = chars.len();
        if n == 0 || !is_break(chars[n - 1]) {
            self.out.push('-');
        } else if n == 1 || is_break(chars[n - 2]) {
            self.out.push('+');
        }
        self.out.push('\n');
        let mut breaks = true;
        for &c in &chars {
            if is_break(c) {
                if c == '\n' || c == '\r' {
                    self.out.push('\n');
                } else {
                    self.out.push(c);
                }
                breaks = true;
            } else {
                if breaks {
                    self.out.extend(std::iter::repeat_n(' ', indent));
                    breaks = false;
                }
                self.out.push(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(j: serde_json::Value) -> String {
        to_yaml(&Value::from_json(j))
    }

    #[test]
    fn natural_order() {
        let mut keys = vec![
            "é", "x_1", "x-1", "a10", "a9", "a01", "a1", "a", "Z", "A", "01", "1a", "1", "_",
        ];
        keys.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            keys,
            vec![
                "_", "1", "1a", "01", "A", "Z", "a", "a1", "a01", "a9", "a10", "x-1", "x_1", "é"
            ]
        );
    }

    #[test]
    fn quoting() {
        let cases = [
            ("y", "\"y\""),
            ("on", "\"on\""),
            ("null", "\"null\""),
            ("~", "\"~\""),
            ("", "\"\""),
            ("True", "\"True\""),
            ("123", "\"123\""),
            ("0777", "\"0777\""),
            ("0x1F", "\"0x1F\""),
            ("1_000", "\"1_000\""),
            (".5", "\".5\""),
            ("+1", "\"+1\""),
            ("1e3", "\"1e3\""),
            ("1:20", "\"1:20\""),
            ("2001-12-14", "\"2001-12-14\""),
            (".inf", "\".inf\""),
            ("tab\tx", "\"tab\\tx\""),
            ("a: b", "'a: b'"),
            ("- a", "'- a'"),
            ("#a", "'#a'"),
            ("a #b", "'a #b'"),
            ("*a", "'*a'"),
            ("-", "'-'"),
            ("{a}", "'{a}'"),
            (" x", "' x'"),
            ("a:b", "a:b"),
            ("-a", "-a"),
            ("a#b", "a#b"),
            ("<<", "<<"),
            ("1e", "1e"),
            ("é", "é"),
            ("it's", "it's"),
        ];
        for (s, want) in cases {
            assert_eq!(y(serde_json::json!(s)), format!("{want}\n"), "{s:?}");
        }
    }

    #[test]
    fn structure() {
        let v = serde_json::json!({"b": [1, "x", {"c": 1.5, "d": []}], "a": {"k": {}}, "n": null, "big": 1000000.0, "small": 0.000001});
        assert_eq!(
            y(v),
            "a:\n  k: {}\nb:\n- 1\n- x\n- c: 1.5\n  d: []\nbig: 1000000\n\"n\": null\nsmall: 1e-06\n"
        );
        assert_eq!(y(serde_json::json!([[1, 2], [3]])), "- - 1\n  - 2\n- - 3\n");
    }

    #[test]
    fn literal_blocks() {
        assert_eq!(y(serde_json::json!({"a": "x\ny"})), "a: |-\n  x\n  y\n");
        assert_eq!(
            y(serde_json::json!({"a": "x\ny\n"})),
            "a: |\n  x\n  y\nb: 1\n".replace("b: 1\n", "")
        );
        assert_eq!(y(serde_json::json!({"a": "x\n\n"})), "a: |+\n  x\n\n");
        assert_eq!(y(serde_json::json!({"a": " x\ny"})), "a: |2-\n   x\n  y\n");
        assert_eq!(y(serde_json::json!({"a": "x  \ny"})), "a: \"x  \\ny\"\n");
        assert_eq!(y(serde_json::json!({"a": "x\n\ny"})), "a: |-\n  x\n\n  y\n");
    }

    #[test]
    fn folding() {
        let long = "word ".repeat(20).trim_end().to_string();
        let out = y(serde_json::json!({ "k": long }));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 1, "{out}");
        assert!(lines[1].starts_with("  word"));
    }

    #[test]
    fn pretty() {
        let v = Value::from_json(serde_json::json!({"k": [1, 2], "f": 1000000.0}));
        assert_eq!(to_yaml_pretty(&v), "f: 1e+06\nk:\n  - 1\n  - 2\n");
    }
}
