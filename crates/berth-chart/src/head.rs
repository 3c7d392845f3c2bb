//! A rendered document's head (kind, `metadata.name`, Helm's hook annotations) read in one
//! pass over the text, without building the object, for the common shape of rendered
//! Kubernetes YAML: block mappings and sequences, plain, quoted and block scalars, empty flow
//! collections, comments.
//!
//! The scan also checks the whole document against that subset, so a document it accepts is
//! one the full reader ([`crate::yaml::parse_object`]) accepts with the same head: sorting
//! rendered documents keeps Helm's behaviour (a document that does not parse fails the
//! render) while the object tree is built only for the consumers that need it. Anything the
//! scan is not sure about (anchors, tags, flow collections with content, tabs in structure,
//! document markers, duplicate or non-string keys, scalars that may resolve to a non-finite
//! float, very deep or very large documents...) makes it give up (`None`), and the caller
//! reads the document with the full reader instead.

use std::borrow::Cow;

/// What sorting needs of a document.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Head {
    /// The document holds no node (only comments): the object is null.
    pub null: bool,
    /// `kind` (empty when absent, null or not a string).
    pub kind: String,
    /// `metadata.name` (empty when absent or null).
    pub name: String,
    /// The `helm.sh/hook*` annotations Helm reads, with their values.
    pub hook_annotations: Vec<(String, String)>,
}

/// Reads the head of one rendered document, or `None` when the document is outside the subset
/// this scan checks (the caller then uses the full reader).
pub(crate) fn scan(doc: &str) -> Option<Head> {
    if doc.len() > MAX_DOC || !prepass(doc.as_bytes()) {
        return None;
    }
    let mut p = Scan {
        s: doc.as_bytes(),
        src: doc,
        pos: 0,
        nodes: 0,
        head: Head::default(),
    };
    let Some((ls, ind)) = p.next_content_line(0) else {
        p.head.null = true;
        return Some(p.head);
    };
    let c = ls + ind;
    p.key_end(c)?;
    p.block_mapping(ind, c, 1, Role::Top)?;
    if p.next_content_line(p.pos).is_some() {
        return None;
    }
    Some(p.head)
}

/// Documents above this size go to the full reader (whose budgets are then what applies).
const MAX_DOC: usize = 8 << 20;
/// Nesting the scan follows (the full reader's limit is 64).
const MAX_DEPTH: usize = 40;
/// Nodes the scan reads (the full reader's limit is 250,000).
const MAX_NODES: usize = 100_000;
/// The longest key (YAML's implicit keys end within 1024 characters).
const MAX_KEY: usize = 1000;

/// Where a value sits, for the head.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Role {
    /// Nothing to record.
    None,
    /// The document's top mapping.
    Top,
    /// `kind`.
    Kind,
    /// `metadata`.
    Metadata,
    /// `metadata.name`.
    Name,
    /// `metadata.annotations`.
    Annotations,
    /// An annotation's value: must be a string (or null).
    Annotation,
    /// A `helm.sh/hook*` annotation's value: recorded.
    HookAnnotation,
}

/// Whole-text checks: no characters YAML rejects or treats as line breaks besides `\n`, no
/// byte order mark, no directive or document marker lines.
fn prepass(s: &[u8]) -> bool {
    let mut line_start = true;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if line_start
            && (b == b'%'
                || ((b == b'-' || b == b'.')
                    && s.get(i + 1) == Some(&b)
                    && s.get(i + 2) == Some(&b)))
        {
            return false;
        }
        line_start = b == b'\n';
        if b < 0x20 {
            if b != b'\n' && b != b'\t' {
                return false;
            }
        } else if b == 0x7f {
            return false;
        } else if b >= 0x80 {
            // Lead byte of a multi-byte character: reject C1 controls (NEL), the Unicode line
            // and paragraph separators, the BOM and the non-characters U+FFFE/U+FFFF.
            match b {
                0xc2 if s.get(i + 1).is_some_and(|&n| n < 0xa0) => return false,
                0xe2 if s.get(i + 1) == Some(&0x80)
                    && matches!(s.get(i + 2), Some(&0xa8) | Some(&0xa9)) =>
                {
                    return false;
                }
                0xef if s.get(i + 1) == Some(&0xbb) && s.get(i + 2) == Some(&0xbf) => {
                    return false;
                }
                0xef if s.get(i + 1) == Some(&0xbf)
                    && matches!(s.get(i + 2), Some(&0xbe) | Some(&0xbf)) =>
                {
                    return false;
                }
                _ => {}
            }
        }
        i += 1;
    }
    true
}

/// YAML 1.1 booleans and nulls as the full reader resolves them.
fn bool_or_null(t: &str) -> bool {
    matches!(t, "" | "~" | "null" | "Null" | "NULL")
        || ["y", "yes", "true", "on", "n", "no", "false", "off"]
            .iter()
            .any(|w| t.eq_ignore_ascii_case(w))
}

/// A plain scalar that certainly resolves to a string (not a bool, null, number or merge key).
/// One that starts like a number (a digit, sign or dot) is a string only when it holds a
/// character no numeric spelling has (`01-listen.xml`, `2x-large`).
fn plain_is_string(t: &str) -> bool {
    let Some(&f) = t.as_bytes().first() else {
        return false;
    };
    if bool_or_null(t) || matches!(f, b'~' | b'<' | b'=') {
        return false;
    }
    if !(f.is_ascii_digit() || matches!(f, b'+' | b'-' | b'.')) {
        return true;
    }
    let u = t.strip_prefix(['+', '-']).unwrap_or(t);
    if u.eq_ignore_ascii_case(".inf") || u.eq_ignore_ascii_case(".nan") {
        return false;
    }
    // No numeric spelling has two dots, or a sign other than a leading one or an exponent's.
    let b = t.as_bytes();
    b.iter().filter(|&&c| c == b'.').count() > 1
        || (1..b.len()).any(|i| matches!(b[i], b'+' | b'-') && !matches!(b[i - 1], b'e' | b'E'))
        || b.iter().any(|&c| {
            !(c.is_ascii_digit()
                || matches!(
                    c,
                    b'+' | b'-'
                        | b'.'
                        | b'_'
                        | b':'
                        | b'a'..=b'f'
                        | b'A'..=b'F'
                        | b'x'
                        | b'X'
                        | b'o'
                        | b'O'
                ))
        })
}

/// A plain scalar the full reader would refuse: a non-finite float (`.inf`, `.nan`, or a
/// decimal that overflows).
fn plain_non_finite(t: &str) -> bool {
    let Some(&f) = t.as_bytes().first() else {
        return false;
    };
    if !(f.is_ascii_digit() || matches!(f, b'+' | b'-' | b'.')) {
        return false;
    }
    let u = t.strip_prefix(['+', '-']).unwrap_or(t);
    if u.len() == 4
        && u.starts_with('.')
        && (u[1..].eq_ignore_ascii_case("inf") || u[1..].eq_ignore_ascii_case("nan"))
    {
        return true;
    }
    u.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && t.parse::<f64>().is_ok_and(f64::is_infinite)
}

/// A scalar's text when the head needs it.
enum Text<'a> {
    /// Plain text (single line).
    Plain(&'a str),
    /// Quoted or block text: a string; the decoded text when it was simple to decode.
    Str(Option<Cow<'a, str>>),
    /// A plain scalar over several lines (a string).
    Folded,
    /// An empty flow mapping or sequence.
    Empty,
}

struct Scan<'a> {
    s: &'a [u8],
    src: &'a str,
    /// Between nodes: the start of the line after the last node read.
    pos: usize,
    nodes: usize,
    head: Head,
}

fn is_blank_end(b: Option<&u8>) -> bool {
    matches!(b, None | Some(b' ') | Some(b'\n'))
}

impl<'a> Scan<'a> {
    fn byte(&self, i: usize) -> Option<u8> {
        self.s.get(i).copied()
    }

    fn line_end(&self, from: usize) -> usize {
        match memchr(b'\n', &self.s[from.min(self.s.len())..]) {
            Some(k) => from + k,
            None => self.s.len(),
        }
    }

    fn next_line(&self, from: usize) -> usize {
        (self.line_end(from) + 1).min(self.s.len())
    }

    /// The next line from `from` (a line start) holding content, skipping blank and comment
    /// lines: (its start, its indentation), `None` at the end. A line indented with a tab is
    /// reported at an impossible indentation (`usize::MAX / 2`), which every caller refuses.
    fn next_content_line(&self, mut from: usize) -> Option<(usize, usize)> {
        while from < self.s.len() {
            let mut i = from;
            while self.byte(i) == Some(b' ') {
                i += 1;
            }
            match self.byte(i) {
                None => return None,
                Some(b'\n') => from = i + 1,
                Some(b'#') => from = self.next_line(i),
                Some(b'\t') => return Some((from, usize::MAX / 2)),
                Some(_) => return Some((from, i - from)),
            }
        }
        None
    }

    fn node(&mut self, depth: usize) -> Option<()> {
        self.nodes += 1;
        (self.nodes <= MAX_NODES && depth <= MAX_DEPTH).then_some(())
    }

    /// At `c`: `-` followed by a space or the end of the line (a block sequence entry).
    fn is_dash(&self, c: usize) -> bool {
        self.byte(c) == Some(b'-') && is_blank_end(self.s.get(c + 1))
    }

    /// The end of the rest of the line from `i`: spaces, then the end of the line or a
    /// comment. Returns the start of the next line, or `None` if something else follows.
    fn line_rest(&self, mut i: usize) -> Option<usize> {
        let spaced = self.byte(i) == Some(b' ');
        while self.byte(i) == Some(b' ') {
            i += 1;
        }
        match self.byte(i) {
            None => Some(self.s.len()),
            Some(b'\n') => Some(i + 1),
            Some(b'#') if spaced => Some(self.next_line(i)),
            _ => None,
        }
    }

    /// If a key starts at `c`: (the position just after its `:`, its text). Keys are plain
    /// (certainly strings) or quoted on one line.
    fn key_end(&self, c: usize) -> Option<(usize, Cow<'a, str>)> {
        let (end, text) = match self.byte(c)? {
            b'\'' | b'"' => {
                let (end, text) = self.quoted_line(c)?;
                (end, text?)
            }
            b => {
                if !plain_start(b, self.byte(c + 1)) {
                    return None;
                }
                let mut i = c;
                loop {
                    match self.byte(i) {
                        None | Some(b'\n') | Some(b'\t') => return None,
                        Some(b':') if is_blank_end(self.s.get(i + 1)) => break,
                        Some(b'#') if self.s[i - 1] == b' ' => return None,
                        _ => i += 1,
                    }
                }
                let text = self.src[c..i].trim_end_matches(' ');
                if !plain_is_string(text) {
                    return None;
                }
                return (i - c <= MAX_KEY).then_some((i + 1, Cow::Borrowed(text)));
            }
        };
        // A quoted key: spaces, then `:` and a blank.
        let mut i = end;
        while self.byte(i) == Some(b' ') {
            i += 1;
        }
        (self.byte(i) == Some(b':')
            && is_blank_end(self.s.get(i + 1))
            && i - c <= MAX_KEY
            && text != "<<")
            .then_some((i + 1, text))
    }

    /// A quoted scalar starting at `c` and ending on the same line: (the position after the
    /// closing quote, its text when free of escapes).
    fn quoted_line(&self, c: usize) -> Option<(usize, Option<Cow<'a, str>>)> {
        let q = self.byte(c)?;
        let mut i = c + 1;
        let mut simple = true;
        loop {
            match self.byte(i)? {
                b'\n' => return None,
                b if b == q => {
                    if q == b'\'' && self.byte(i + 1) == Some(b'\'') {
                        simple = false;
                        i += 2;
                        continue;
                    }
                    break;
                }
                b'\\' if q == b'"' => {
                    simple = false;
                    i = self.escape(i)?;
                }
                _ => i += 1,
            }
        }
        let body = &self.src[c + 1..i];
        let text = if simple {
            Some(Cow::Borrowed(body))
        } else if q == b'\'' {
            Some(Cow::Owned(body.replace("''", "'")))
        } else {
            None
        };
        Some((i + 1, text))
    }

    /// A double-quoted escape at `i` (the backslash): the position after it, if YAML knows it.
    fn escape(&self, i: usize) -> Option<usize> {
        let hex = |n: usize| -> Option<usize> {
            (1..=n)
                .all(|k| self.byte(i + 1 + k).is_some_and(|b| b.is_ascii_hexdigit()))
                .then_some(i + 2 + n)
        };
        match self.byte(i + 1)? {
            b'0' | b'a' | b'b' | b't' | b'n' | b'v' | b'f' | b'r' | b'e' | b' ' | b'"' | b'/'
            | b'\\' | b'N' | b'_' | b'L' | b'P' => Some(i + 2),
            b'x' => hex(2),
            b'u' => hex(4),
            b'U' => hex(8),
            _ => None,
        }
    }

    /// A block mapping whose entries sit at indentation `m`, the first key at `p`.
    fn block_mapping(&mut self, m: usize, mut p: usize, depth: usize, role: Role) -> Option<()> {
        self.node(depth)?;
        let mut keys: Vec<Cow<'a, str>> = Vec::new();
        loop {
            let (after, key) = self.key_end(p)?;
            self.node(depth + 1)?;
            let vrole = match (role, &*key) {
                (Role::Top, "kind") => Role::Kind,
                (Role::Top, "metadata") => Role::Metadata,
                (Role::Metadata, "name") => Role::Name,
                (Role::Metadata, "annotations") => Role::Annotations,
                (Role::Annotations, k) if k.starts_with("helm.sh/hook") => Role::HookAnnotation,
                (Role::Annotations, _) => Role::Annotation,
                _ => Role::None,
            };
            if vrole == Role::HookAnnotation {
                self.head
                    .hook_annotations
                    .push((key.to_string(), String::new()));
            }
            keys.push(key);
            self.map_value(after, m, depth + 1, vrole)?;
            match self.next_content_line(self.pos) {
                Some((ls, ind)) if ind == m && !self.is_dash(ls + ind) => p = ls + ind,
                Some((_, ind)) if ind > m => return None,
                _ => break,
            }
        }
        if keys.len() > 1 {
            keys.sort_unstable();
            if keys.windows(2).any(|w| w[0] == w[1]) {
                return None;
            }
        }
        Some(())
    }

    /// The value after a key's `:` at `after`, in a mapping at indentation `m`.
    fn map_value(&mut self, after: usize, m: usize, depth: usize, role: Role) -> Option<()> {
        let mut c = after;
        while self.byte(c) == Some(b' ') {
            c += 1;
        }
        match self.byte(c) {
            None | Some(b'\n') | Some(b'#') => {
                if self.byte(c) == Some(b'#') && c == after {
                    return None;
                }
                self.pos = self.next_line(c);
                match self.next_content_line(self.pos) {
                    Some((ls, ind)) if ind > m => {
                        if ind > usize::MAX / 4 {
                            return None;
                        }
                        self.block_node(ls + ind, ind, m, depth, role)
                    }
                    Some((ls, ind)) if ind == m && self.is_dash(ls + ind) => {
                        self.not_scalar_role(role)?;
                        self.block_sequence(m, ls + ind, depth)
                    }
                    _ => self.null_value(role),
                }
            }
            Some(_) => {
                if self.is_dash(c) || self.key_end(c).is_some() {
                    return None;
                }
                self.scalar(c, m, depth, role)
            }
        }
    }

    /// A null (empty) value: `kind`, `name` and annotations read as "" (Helm's annotation
    /// map reads null as ""), `metadata`/`annotations` as absent.
    fn null_value(&mut self, _role: Role) -> Option<()> {
        Some(())
    }

    /// Roles whose value must be a scalar (or a mapping, for `metadata`/`annotations`).
    fn not_scalar_role(&self, role: Role) -> Option<()> {
        matches!(role, Role::None).then_some(())
    }

    /// A node on its own line(s) at `c` (indentation `ind`), inside a container at
    /// indentation `n`.
    fn block_node(
        &mut self,
        c: usize,
        ind: usize,
        n: usize,
        depth: usize,
        role: Role,
    ) -> Option<()> {
        if self.is_dash(c) {
            self.not_scalar_role(role)?;
            return self.block_sequence(ind, c, depth);
        }
        if self.key_end(c).is_some() {
            return match role {
                Role::None | Role::Metadata | Role::Annotations => {
                    self.block_mapping(ind, c, depth, role)
                }
                _ => None,
            };
        }
        self.scalar(c, n, depth, role)
    }

    /// A block sequence at indentation `s`, the first `-` at `p`.
    fn block_sequence(&mut self, s: usize, mut p: usize, depth: usize) -> Option<()> {
        self.node(depth)?;
        loop {
            let mut c = p + 1;
            while self.byte(c) == Some(b' ') {
                c += 1;
            }
            let col = s + (c - p);
            match self.byte(c) {
                None | Some(b'\n') | Some(b'#') => {
                    if self.byte(c) == Some(b'#') && c == p + 1 {
                        return None;
                    }
                    self.pos = self.next_line(c);
                    match self.next_content_line(self.pos) {
                        Some((ls, ind)) if ind > s && ind < usize::MAX / 4 => {
                            self.block_node(ls + ind, ind, s, depth + 1, Role::None)?
                        }
                        Some((_, ind)) if ind > s => return None,
                        _ => self.node(depth + 1)?,
                    }
                }
                Some(_) => {
                    if self.is_dash(c) {
                        self.block_sequence(col, c, depth + 1)?;
                    } else if self.key_end(c).is_some() {
                        self.block_mapping(col, c, depth + 1, Role::None)?;
                    } else {
                        self.scalar(c, s, depth + 1, Role::None)?;
                    }
                }
            }
            match self.next_content_line(self.pos) {
                Some((ls, ind)) if ind == s && self.is_dash(ls + ind) => p = ls + ind,
                Some((_, ind)) if ind > s => return None,
                _ => break,
            }
        }
        Some(())
    }

    /// A scalar (or empty flow collection) starting at `c`, in a container at indentation
    /// `n`; leaves `pos` at the line after it.
    fn scalar(&mut self, c: usize, n: usize, depth: usize, role: Role) -> Option<()> {
        self.node(depth)?;
        let text = match self.byte(c)? {
            b'\'' | b'"' => self.quoted(c, n)?,
            b'|' | b'>' => self.block_scalar(c, n)?,
            b'[' | b'{' => {
                let close = if self.byte(c) == Some(b'[') {
                    b']'
                } else {
                    b'}'
                };
                if self.byte(c + 1) == Some(close) {
                    self.pos = self.line_rest(c + 2)?;
                    Text::Empty
                } else if role == Role::None {
                    let end = self.flow_node(c, n, depth)?.0;
                    self.pos = self.line_rest(end)?;
                    Text::Empty
                } else {
                    return None;
                }
            }
            b => {
                if !plain_start(b, self.byte(c + 1)) {
                    return None;
                }
                self.plain(c, n)?
            }
        };
        self.record(role, text)
    }

    fn record(&mut self, role: Role, text: Text<'a>) -> Option<()> {
        let string = |t: &Text<'a>| -> Option<String> {
            match t {
                Text::Plain(p) if matches!(*p, "~" | "null" | "Null" | "NULL") => {
                    Some(String::new())
                }
                Text::Plain(p) if plain_is_string(p) => Some((*p).to_owned()),
                Text::Str(Some(s)) => Some(s.to_string()),
                _ => None,
            }
        };
        match role {
            Role::None => {}
            Role::Top => return None,
            Role::Kind => self.head.kind = string(&text)?,
            Role::Name => self.head.name = string(&text)?,
            Role::HookAnnotation => {
                let v = string(&text)?;
                if let Some(last) = self.head.hook_annotations.last_mut() {
                    last.1 = v;
                }
            }
            Role::Annotation => match text {
                Text::Plain(p)
                    if plain_is_string(p) || matches!(p, "~" | "null" | "Null" | "NULL") => {}
                Text::Str(_) | Text::Folded => {}
                _ => return None,
            },
            // `metadata: {}` / `annotations: {}` are empty mappings; other scalars there are
            // left to the full reader.
            Role::Metadata | Role::Annotations => {
                if !matches!(text, Text::Empty) {
                    return None;
                }
            }
        }
        Some(())
    }

    /// Skips separation inside a flow collection from `i`: spaces, comments, line breaks
    /// (the next line indented more than the block container at `n`).
    fn flow_ws(&self, mut i: usize, n: usize) -> Option<usize> {
        loop {
            match self.byte(i)? {
                b' ' => i += 1,
                b'#' if i > 0 && matches!(self.s[i - 1], b' ' | b'\n') => {
                    i = self.line_end(i);
                }
                b'\n' => {
                    i += 1;
                    let mut k = 0;
                    while self.byte(i + k) == Some(b' ') {
                        k += 1;
                    }
                    match self.byte(i + k)? {
                        b'\n' => {}
                        b'\t' => return None,
                        _ if k <= n => return None,
                        _ => {}
                    }
                    i += k;
                }
                _ => return Some(i),
            }
        }
    }

    /// A node inside a flow collection at `i`: (the position after it, its text when it is a
    /// key-like scalar: quoted on one line, or plain and certainly a string).
    fn flow_node(
        &mut self,
        i: usize,
        n: usize,
        depth: usize,
    ) -> Option<(usize, Option<Cow<'a, str>>)> {
        self.node(depth)?;
        match self.byte(i)? {
            b'[' => {
                let mut j = self.flow_ws(i + 1, n)?;
                if self.byte(j) == Some(b']') {
                    return Some((j + 1, None));
                }
                loop {
                    j = self.flow_node(j, n, depth + 1)?.0;
                    j = self.flow_ws(j, n)?;
                    match self.byte(j)? {
                        b',' => {
                            j = self.flow_ws(j + 1, n)?;
                            if matches!(self.byte(j)?, b']' | b',') {
                                return None;
                            }
                        }
                        b']' => return Some((j + 1, None)),
                        _ => return None,
                    }
                }
            }
            b'{' => {
                let mut j = self.flow_ws(i + 1, n)?;
                if self.byte(j) == Some(b'}') {
                    return Some((j + 1, None));
                }
                let mut keys: Vec<Cow<'a, str>> = Vec::new();
                loop {
                    let (after, key) = self.flow_node(j, n, depth + 1)?;
                    keys.push(key?);
                    // The key's `:`, followed by a blank (or a line end).
                    j = after;
                    while self.byte(j) == Some(b' ') {
                        j += 1;
                    }
                    if self.byte(j)? != b':' || !is_blank_end(self.s.get(j + 1)) {
                        return None;
                    }
                    j = self.flow_ws(j + 1, n)?;
                    if !matches!(self.byte(j)?, b',' | b'}') {
                        j = self.flow_node(j, n, depth + 1)?.0;
                        j = self.flow_ws(j, n)?;
                    }
                    match self.byte(j)? {
                        b',' => {
                            j = self.flow_ws(j + 1, n)?;
                            if matches!(self.byte(j)?, b'}' | b',') {
                                return None;
                            }
                        }
                        b'}' => break,
                        _ => return None,
                    }
                }
                if keys.len() > 1 {
                    keys.sort_unstable();
                    if keys.windows(2).any(|w| w[0] == w[1]) {
                        return None;
                    }
                }
                Some((j + 1, None))
            }
            b'\'' | b'"' => self.quoted_line(i),
            b => {
                if !plain_start(b, self.byte(i + 1)) {
                    return None;
                }
                // A plain scalar on one line, ending before a flow indicator, a `: `, a
                // comment or the line end.
                let mut j = i;
                loop {
                    match self.byte(j)? {
                        b',' | b'[' | b']' | b'{' | b'}' | b'\n' => break,
                        b'\t' => return None,
                        b':' if matches!(
                            self.byte(j + 1),
                            None | Some(b' ' | b'\n' | b',' | b'[' | b']' | b'{' | b'}')
                        ) =>
                        {
                            break;
                        }
                        b'#' if self.s[j - 1] == b' ' => break,
                        _ => j += 1,
                    }
                }
                let text = self.src[i..j].trim_end_matches(' ');
                if plain_non_finite(text) {
                    return None;
                }
                // A plain scalar continued on the next line is left to the full reader.
                if self.byte(j) == Some(b'\n') || self.byte(j) == Some(b'#') {
                    let k = self.flow_ws(j, n)?;
                    if !matches!(self.byte(k)?, b',' | b']' | b'}') {
                        return None;
                    }
                }
                let end = i + text.len();
                Some((end, plain_is_string(text).then_some(Cow::Borrowed(text))))
            }
        }
    }

    /// A quoted scalar at `c`, possibly over several lines (each more indented than `n`).
    fn quoted(&mut self, c: usize, n: usize) -> Option<Text<'a>> {
        if let Some((end, text)) = self.quoted_line(c) {
            self.pos = self.line_rest(end)?;
            return Some(Text::Str(text));
        }
        let q = self.byte(c)?;
        let mut i = c + 1;
        loop {
            match self.byte(i)? {
                b'\n' => {
                    // A continuation line: blank, or indented more than the container.
                    i += 1;
                    let mut k = 0;
                    while self.byte(i + k) == Some(b' ') {
                        k += 1;
                    }
                    match self.byte(i + k) {
                        Some(b'\n') => {}
                        Some(b'\t') | None => return None,
                        Some(_) if k <= n => return None,
                        Some(_) => {}
                    }
                    i += k;
                }
                b if b == q => {
                    if q == b'\'' && self.byte(i + 1) == Some(b'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                b'\\' if q == b'"' => i = self.escape(i)?,
                _ => i += 1,
            }
        }
        self.pos = self.line_rest(i + 1)?;
        Some(Text::Str(None))
    }

    /// A block scalar (`|`, `>`, with an optional chomping indicator) at `c`, in a container
    /// at indentation `n`.
    fn block_scalar(&mut self, c: usize, n: usize) -> Option<Text<'a>> {
        let mut i = c + 1;
        if matches!(self.byte(i), Some(b'-') | Some(b'+')) {
            i += 1;
        }
        let mut line = self.line_rest(i)?;
        // Leading blank lines, then the first content line fixes the indentation.
        let mut max_blank = 0;
        let mut content_indent = None;
        while line < self.s.len() {
            let mut k = 0;
            while self.byte(line + k) == Some(b' ') {
                k += 1;
            }
            match self.byte(line + k) {
                Some(b'\n') => {
                    max_blank = max_blank.max(k);
                    line += k + 1;
                }
                None => {
                    max_blank = max_blank.max(k);
                    line += k;
                }
                Some(_) => {
                    content_indent = Some(k);
                    break;
                }
            }
        }
        let Some(ci) = content_indent.filter(|&k| k > n) else {
            // An empty scalar: the line (if any) belongs to the container.
            if max_blank > n {
                return None;
            }
            self.pos = line;
            return Some(Text::Str(None));
        };
        if max_blank > ci {
            return None;
        }
        // Content: lines indented at least `ci`, or blank.
        loop {
            if line >= self.s.len() {
                break;
            }
            let mut k = 0;
            while self.byte(line + k) == Some(b' ') {
                k += 1;
            }
            match self.byte(line + k) {
                None => {
                    line += k;
                    break;
                }
                Some(b'\n') => line += k + 1,
                Some(_) if k >= ci => line = self.next_line(line + k),
                Some(_) if k > n => return None,
                Some(_) => break,
            }
        }
        // Trailing blank lines longer than the indentation of what follows are fine; they
        // are blank lines of the scalar.
        self.pos = line;
        Some(Text::Str(None))
    }

    /// A plain scalar at `c` in a container at indentation `n`, possibly continued on more
    /// indented lines.
    fn plain(&mut self, c: usize, n: usize) -> Option<Text<'a>> {
        let end = self.plain_line(c)?;
        let first = self.src[c..end].trim_end_matches(' ');
        if plain_non_finite(first) {
            return None;
        }
        let mut next = self.line_rest(end)?;
        let mut folded = false;
        let commented = self.byte(end) == Some(b' ') && {
            let mut i = end;
            while self.byte(i) == Some(b' ') {
                i += 1;
            }
            self.byte(i) == Some(b'#')
        };
        if !commented {
            // Continuation lines: more indented than the container, not comments.
            let mut line = next;
            loop {
                let mut k = 0;
                while self.byte(line + k) == Some(b' ') {
                    k += 1;
                }
                match self.byte(line + k) {
                    None => break,
                    Some(b'\n') => line += k + 1,
                    Some(b'\t') => return None,
                    Some(b'#') => break,
                    Some(b) if k > n => {
                        // Any character but a comment or a block indicator (`- `, `? `,
                        // `: `) continues the scalar, as in the YAML scanners.
                        if matches!(b, b'-' | b'?' | b':') && is_blank_end(self.s.get(line + k + 1))
                        {
                            return None;
                        }
                        let e = self.plain_line(line + k)?;
                        if self.byte(e) == Some(b' ') {
                            // A comment after a continuation line ends the scalar; keep it
                            // simple and leave such text to the full reader.
                            let r = self.line_rest(e)?;
                            if self.s[e..r].contains(&b'#') {
                                return None;
                            }
                        }
                        folded = true;
                        line = self.line_rest(e)?;
                        next = line;
                    }
                    Some(_) => break,
                }
            }
        }
        self.pos = next;
        Some(if folded {
            Text::Folded
        } else {
            Text::Plain(first)
        })
    }

    /// One line of a plain scalar from `c`: the position where it ends (a line end, or the
    /// space before a comment). `None` for `: ` inside (a mapping where none may be) or a tab.
    fn plain_line(&self, c: usize) -> Option<usize> {
        let mut i = c;
        loop {
            match self.byte(i) {
                None | Some(b'\n') => return Some(i),
                Some(b'\t') => return None,
                Some(b':') if is_blank_end(self.s.get(i + 1)) => return None,
                Some(b' ') if self.byte(i + 1) == Some(b'#') => return Some(i),
                _ => i += 1,
            }
        }
    }
}

/// Whether a plain scalar may start with `b` (followed by `next`) in block context; the
/// indicators the scan does not follow (anchors, aliases, tags, flow, directives...) are
/// refused.
fn plain_start(b: u8, next: Option<u8>) -> bool {
    match b {
        b'-' | b'?' | b':' => !matches!(
            next,
            None | Some(b' ' | b'\n' | b'\t' | b',' | b'[' | b']' | b'{' | b'}')
        ),
        b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
        | b'"' | b'%' | b'@' | b'`' | b' ' | b'\t' | b'\n' => false,
        _ => true,
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(doc: &str) -> Option<Head> {
        let h = scan(doc);
        if h.is_some() {
            // Whatever the scan accepts, the full reader must accept too, with the same head.
            if let Some(Err(e)) = crate::manifest::head_scan_check(doc) {
                panic!("{doc:?}: {e}");
            }
        }
        h
    }

    #[test]
    fn reads_heads() {
        let h = head(
            "# c\napiVersion: v1\nkind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: \"pre-install\"\n    other: x\n    helm.sh/hook-weight: '-5'\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        args: [\"x\"]\n",
        );
        assert_eq!(h.map(|h| h.kind), Some("Job".to_owned()));
        let h = head(
            "apiVersion: v1\nkind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: \"pre-install\"\n    other: x\n    helm.sh/hook-weight: '-5'\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        args:\n        - --x\n        - -y\n        resources: {}\n        env:\n          - name: A\n            value: |\n              multi\n                line\n\n              text\n          - name: B\n            value: 'a\n              b'\n",
        )
        .unwrap();
        assert_eq!(h.kind, "Job");
        assert_eq!(h.name, "j");
        assert_eq!(
            h.hook_annotations,
            vec![
                ("helm.sh/hook".to_owned(), "pre-install".to_owned()),
                ("helm.sh/hook-weight".to_owned(), "-5".to_owned())
            ]
        );
        assert!(head("# only\n").unwrap().null);
    }

    #[test]
    fn gives_up_where_unsure() {
        for doc in [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: 1\na: 2\n",
            "a: b: c\n",
            "a: .inf\n",
            "a: 1e999\n",
            "- a\n",
            "a\n",
            "kind: 1\n",
            "kind: true\n",
            "metadata:\n  annotations:\n    x: 1\n",
            "metadata:\n  annotations:\n    x: yes\n",
            "metadata:\n  annotations:\n    x: 1e-5\n",
            "metadata:\n  annotations:\n    x: 0.5\n",
            "metadata:\n  annotations:\n    x: 0x1F\n",
            "a:\n\tb: 1\n",
            "a: 1\n  b: 2\n",
            "a: 1\n---\nb: 2\n",
            "<<: {}\n",
            "1: a\n",
            "on: a\n",
            "y: a\n",
            "a: [1, 2,]\n",
            "a: [x: 1]\n",
            "a: {b: 1, b: 2}\n",
            "a: {1: 2}\n",
            "a: [.inf]\n",
            "metadata: {name: x}\n",
            "a: [b\n  c]\n",
            "a: |2\n  x\n",
        ] {
            assert_eq!(scan(doc), None, "{doc:?}");
            let _ = crate::yaml::parse_object(doc);
        }
    }

    #[test]
    fn agrees_with_the_full_reader() {
        let docs = [
            "a:\n- 1\n- b: 2\n  c: 3\nd: x\n",
            "a:\n  - - x\n    - y\n  - z\n",
            "kind: Service\nmetadata:\n  name: \"s\"\nspec:\n  ports:\n  - port: 80\n    targetPort: http\n",
            "a: plain text # comment\nb: 'it''s'\nc: \"esc\\n\\u00e9\"\n",
            "a: >-\n  folded\n  text\n\nb: |+\n  keep\n\n",
            "a: long plain\n  continued here\n  and here\nb: 1\n",
            "a: x\n  # indented comment\nb: y\n",
            "k: v\n\n\n",
            "kind: ConfigMap\ndata:\n  a.conf: |\n    server {\n    \tlisten 80;\n    }\n",
            "a:\n  b:\n    c: ~\n  d:\n",
            "u: http://example.com/a#b\nv: a:b\n",
            "metadata:\n  name:\n  annotations:\n",
            "a: [1, \"b\", {c: d, 'e': [f]}]\nb: {x: 1,\n  z: [2]}  # c\n",
            "metadata:\n  annotations:\n    v: 0.93.1\n    d: 2024-01-01\n    w: 1e-5k\n",
            "data:\n  01-listen.xml: |\n    <x/>\n  2k: a\n",
            "a: long text (e.g.\n  \"2m\", \"1h\") and !x\n  'q' [b]\n",
        ];
        for d in docs {
            assert!(head(d).is_some(), "{d:?}");
        }
    }

    /// Random edits of YAML-like documents: wherever the scan accepts the result, the full
    /// reader must accept it with the same head. `BERTH_HEAD_FUZZ=N` runs N edits instead.
    #[test]
    fn random_edits_agree_with_the_full_reader() {
        let seeds = [
            "apiVersion: v1\nkind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"-5\"\nspec:\n  containers:\n  - name: a\n    args: [\"x\", y]\n    env:\n      - name: A\n        value: |\n          multi\n            line\n    c: {k: v, l: [1]}\n",
            "kind: CustomResourceDefinition\nspec:\n  d:\n    description: 'long\n      text'' here'\n    e: plain text\n      continued (e.g.\n      \"2m\")\n    f: >-\n      folded\n\n    g: \"esc \\\" \\u00e9\"\n# c\nh: ~\n",
            "a:\n- 1\n- b: 2\n  c: 0.93.1\nd:\n  - - x\n    - y\ne: {}\nf: []\n",
            "spec:\n  versions:\n  - name: v1\n    schema:\n      x:\n        description: Kind of the values, valid are ('Secret',\n          'ConfigMap'). See \"2m\"\n          != 'Always'\n        enum: [\n          \"a\", b,\n          {c: d}]\n        z: |+\n\n          kept\n\n  - name: v2\n    \"q k\": 'v'\n    01-x.conf: é\n",
        ];
        let alphabet: &[&str] = &[
            " ", "  ", "\n", ":", ": ", "-", "- ", "#", " #", "'", "\"", "[", "]", "{", "}", ",",
            "|", ">", "&a", "*a", "!", "?", "a", "1", ".", "\t", "y", "~", "\\", "e", "0x", ".inf",
            "<<", "---", "\n  ", "\n    ", "null", "kind", "name", "%", "@", "`", "\u{85}", "é",
            "|-", ">+", "\n- ", "\n  - ", "'a'", "\"b\"", "1e999", "_", "+", "=",
        ];
        for s in seeds {
            assert!(
                matches!(crate::manifest::head_scan_check(s), Some(Ok(()))),
                "{s:?}"
            );
        }
        let runs: usize = std::env::var("BERTH_HEAD_FUZZ")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        let mut x: u64 = std::env::var("BERTH_HEAD_FUZZ_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        let mut rnd = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        let (mut accepted, mut failures) = (0, Vec::new());
        for _ in 0..runs {
            let mut doc = seeds[rnd(seeds.len())].to_owned();
            for _ in 0..1 + rnd(4) {
                let mut at = rnd(doc.len() + 1);
                while !doc.is_char_boundary(at) {
                    at -= 1;
                }
                match rnd(3) {
                    0 => doc.insert_str(at, alphabet[rnd(alphabet.len())]),
                    1 => {
                        let mut end = (at + 1 + rnd(3)).min(doc.len());
                        while !doc.is_char_boundary(end) {
                            end -= 1;
                        }
                        doc.replace_range(at..end, "");
                    }
                    _ => {
                        let mut end = (at + 1).min(doc.len());
                        while !doc.is_char_boundary(end) {
                            end -= 1;
                        }
                        doc.replace_range(at..end, alphabet[rnd(alphabet.len())]);
                    }
                }
            }
            match crate::manifest::head_scan_check(&doc) {
                Some(Ok(())) => accepted += 1,
                Some(Err(e)) => failures.push(format!("{doc:?}: {e}")),
                None => {}
            }
        }
        assert!(
            failures.is_empty(),
            "{}",
            failures[..failures.len().min(10)].join("\n")
        );
        assert!(
            accepted > runs / 10,
            "the scan accepted only {accepted} of {runs}"
        );
    }
}
