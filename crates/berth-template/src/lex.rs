//! Lexer for Go text/template (`text/template/parse/lex.go` semantics): delimiters with
//! trim markers, comments, and the tokens inside actions. Positions are byte offsets.

/// Shared token text: the parser peeks and backs up a lot, so clones must be cheap.
pub type S = std::sync::Arc<str>;

/// Token kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// Plain text outside actions (already trimmed by neighbouring markers).
    Text(S),
    /// `{{`
    LeftDelim,
    /// `}}`
    RightDelim,
    /// Run of spaces (and newlines) inside an action.
    Space,
    /// `.name`
    Field(S),
    /// `$name` (`$` alone too)
    Variable(S),
    /// A function name or keyword
    Ident(S),
    /// `.`
    Dot,
    /// `true`/`false`
    Bool(bool),
    /// Numeric literal text
    Number(S),
    /// Quoted string (already unquoted)
    Str(S, S),
    /// Character constant value
    Char(i64, S),
    /// `|`
    Pipe,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `:=`
    Declare,
    /// `=`
    Assign,
    /// `,`
    Comma,
    /// Any other printable ASCII character (the parser rejects it with Go's message)
    Punct(char),
    /// End of input
    Eof,
}

/// A token and where it starts.
#[derive(Debug, Clone)]
pub struct Item {
    /// Kind and payload.
    pub tok: Tok,
    /// Byte offset in the source.
    pub pos: usize,
}

/// A lexing error at a byte offset.
#[derive(Debug, Clone)]
pub struct LexError {
    /// Byte offset.
    pub pos: usize,
    /// Message (Go's wording).
    pub msg: String,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Lexes a whole template.
pub fn lex(src: &str) -> Result<Vec<Item>, LexError> {
    let mut l = Lexer {
        src,
        b: src.as_bytes(),
        pos: 0,
        items: Vec::new(),
        paren_depth: 0,
    };
    l.run()?;
    Ok(l.items)
}

struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    items: Vec<Item>,
    paren_depth: usize,
}

impl<'a> Lexer<'a> {
    fn err<T>(&self, pos: usize, msg: impl Into<String>) -> Result<T, LexError> {
        Err(LexError {
            pos,
            msg: msg.into(),
        })
    }

    fn run(&mut self) -> Result<(), LexError> {
        let mut trim_next = false;
        loop {
            // text up to next {{
            let rest = &self.src[self.pos..];
            let (text_end, found) = match rest.find("{{") {
                Some(i) => (self.pos + i, true),
                None => (self.b.len(), false),
            };
            let mut text = &self.src[self.pos..text_end];
            let mut left_trim = false;
            if found {
                let after = text_end + 2;
                if self.b.len() > after + 1 && self.b[after] == b'-' && is_space(self.b[after + 1])
                {
                    left_trim = true;
                }
            }
            if trim_next {
                text = text.trim_start_matches([' ', '\t', '\r', '\n']);
            }
            if left_trim {
                text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            }
            if !text.is_empty() {
                let tpos = text_end - text.len();
                self.items.push(Item {
                    tok: Tok::Text(text.into()),
                    pos: tpos,
                });
            }
            if !found {
                self.items.push(Item {
                    tok: Tok::Eof,
                    pos: self.b.len(),
                });
                return Ok(());
            }
            let delim_pos = text_end;
            self.pos = text_end + 2;
            if left_trim {
                self.pos += 2;
            }
            // comment?
            if self.src[self.pos..].starts_with("/*") {
                let end = match self.src[self.pos + 2..].find("*/") {
                    Some(i) => self.pos + 2 + i + 2,
                    None => return self.err(delim_pos, "unclosed comment"),
                };
                self.pos = end;
                // optional right trim marker then delimiter
                let rest = &self.src[self.pos..];
                if rest.len() >= 4 && is_space(rest.as_bytes()[0]) && rest[1..].starts_with("-}}") {
                    self.pos += 4;
                    trim_next = true;
                } else if rest.starts_with("}}") {
                    self.pos += 2;
                    trim_next = false;
                } else {
                    return self.err(delim_pos, "comment ends before closing delimiter");
                }
                continue;
            }
            self.items.push(Item {
                tok: Tok::LeftDelim,
                pos: delim_pos,
            });
            self.paren_depth = 0;
            trim_next = self.inside_action()?;
        }
    }

    /// Lexes until the right delimiter; returns whether it had a trim marker.
    fn inside_action(&mut self) -> Result<bool, LexError> {
        loop {
            let rest = &self.src[self.pos..];
            // right delimiter with trim marker
            if rest.len() >= 4 && is_space(self.b[self.pos]) && rest[1..].starts_with("-}}") {
                if self.paren_depth > 0 {
                    return self.err(self.pos, "unclosed left paren");
                }
                self.items.push(Item {
                    tok: Tok::Space,
                    pos: self.pos,
                });
                self.items.push(Item {
                    tok: Tok::RightDelim,
                    pos: self.pos + 2,
                });
                self.pos += 4;
                return Ok(true);
            }
            if rest.starts_with("}}") {
                if self.paren_depth > 0 {
                    return self.err(self.pos, "unclosed left paren");
                }
                self.items.push(Item {
                    tok: Tok::RightDelim,
                    pos: self.pos,
                });
                self.pos += 2;
                return Ok(false);
            }
            let Some(c) = rest.chars().next() else {
                return self.err(self.pos, "unclosed action");
            };
            let start = self.pos;
            match c {
                ' ' | '\t' | '\r' | '\n' => {
                    let mut p = self.pos;
                    while p < self.b.len() && is_space(self.b[p]) {
                        // stop before a " -}}" so the trim marker is seen
                        if self.src[p..].len() >= 4 && self.src[p + 1..].starts_with("-}}") {
                            break;
                        }
                        p += 1;
                    }
                    if p == self.pos {
                        continue;
                    }
                    self.pos = p;
                    self.push(Tok::Space, start);
                }
                '=' => {
                    self.pos += 1;
                    self.push(Tok::Assign, start);
                }
                ':' => {
                    if rest.starts_with(":=") {
                        self.pos += 2;
                        self.push(Tok::Declare, start);
                    } else {
                        return self.err(start, "expected :=");
                    }
                }
                '|' => {
                    self.pos += 1;
                    self.push(Tok::Pipe, start);
                }
                ',' => {
                    self.pos += 1;
                    self.push(Tok::Comma, start);
                }
                '"' => self.quote(start)?,
                '`' => {
                    let end = match self.src[start + 1..].find('`') {
                        Some(i) => start + 1 + i,
                        None => return self.err(start, "unterminated raw quoted string"),
                    };
                    let s = self.src[start + 1..end].to_string();
                    let raw = self.src[start..=end].to_string();
                    self.pos = end + 1;
                    self.push(Tok::Str(s.into(), raw.into()), start);
                }
                '$' => {
                    let mut p = self.pos + 1;
                    for ch in self.src[p..].chars() {
                        if is_alnum(ch) {
                            p += ch.len_utf8();
                        } else {
                            break;
                        }
                    }
                    let name = self.src[start..p].to_string();
                    self.pos = p;
                    self.push(Tok::Variable(name.into()), start);
                }
                '\'' => self.char_const(start)?,
                '.' => {
                    // number like .5?
                    let next = self.b.get(self.pos + 1).copied();
                    if matches!(next, Some(b'0'..=b'9')) {
                        self.number(start)?;
                    } else {
                        let mut p = self.pos + 1;
                        for ch in self.src[p..].chars() {
                            if is_alnum(ch) {
                                p += ch.len_utf8();
                            } else {
                                break;
                            }
                        }
                        self.pos = p;
                        if p == start + 1 {
                            self.push(Tok::Dot, start);
                        } else {
                            let name = self.src[start + 1..p].to_string();
                            self.push(Tok::Field(name.into()), start);
                        }
                        self.check_terminator()?;
                    }
                }
                '+' | '-' | '0'..='9' => self.number(start)?,
                '(' => {
                    self.pos += 1;
                    self.paren_depth += 1;
                    self.push(Tok::LParen, start);
                }
                ')' => {
                    self.pos += 1;
                    if self.paren_depth == 0 {
                        return self.err(start, "unexpected right paren");
                    }
                    self.paren_depth -= 1;
                    self.push(Tok::RParen, start);
                }
                c if is_alnum(c) => {
                    let mut p = self.pos;
                    for ch in self.src[p..].chars() {
                        if is_alnum(ch) {
                            p += ch.len_utf8();
                        } else {
                            break;
                        }
                    }
                    let word = &self.src[start..p];
                    self.pos = p;
                    match word {
                        "true" => self.push(Tok::Bool(true), start),
                        "false" => self.push(Tok::Bool(false), start),
                        _ => self.push(Tok::Ident(word.into()), start),
                    }
                    self.check_terminator()?;
                }
                c if c.is_ascii_graphic() => {
                    self.pos += 1;
                    self.push(Tok::Punct(c), start);
                }
                c => {
                    return self.err(start, format!("unrecognized character in action: {:?}", c));
                }
            }
        }
    }

    fn push(&mut self, tok: Tok, pos: usize) {
        self.items.push(Item { tok, pos });
    }

    /// Go requires a field/identifier to be followed by a space, delimiter, `.`, `,`, `|`,
    /// `:`, `)` or `(`.
    fn check_terminator(&self) -> Result<(), LexError> {
        let rest = &self.src[self.pos..];
        let Some(c) = rest.chars().next() else {
            return Ok(());
        };
        if is_space(c as u8) && c.is_ascii()
            || matches!(c, '.' | ',' | '|' | ':' | ')' | '(' | '=')
            || rest.starts_with("}}")
        {
            return Ok(());
        }
        self.err(self.pos, format!("bad character {:?}", c))
    }

    fn quote(&mut self, start: usize) -> Result<(), LexError> {
        let mut p = start + 1;
        loop {
            match self.b.get(p) {
                None | Some(b'\n') => return self.err(start, "unterminated quoted string"),
                Some(b'\\') => {
                    if matches!(self.b.get(p + 1), None | Some(b'\n')) {
                        return self.err(start, "unterminated quoted string");
                    }
                    p += 2;
                }
                Some(b'"') => break,
                Some(_) => p += 1,
            }
        }
        let raw = &self.src[start..=p];
        let s = unquote(raw).map_err(|m| LexError { pos: start, msg: m })?;
        self.pos = p + 1;
        self.push(Tok::Str(s.into(), raw.into()), start);
        Ok(())
    }

    fn char_const(&mut self, start: usize) -> Result<(), LexError> {
        let mut p = start + 1;
        loop {
            match self.b.get(p) {
                None | Some(b'\n') => return self.err(start, "unterminated character constant"),
                Some(b'\\') => p += 2,
                Some(b'\'') => break,
                Some(_) => p += 1,
            }
        }
        let raw = &self.src[start..=p.min(self.b.len() - 1)];
        let inner = &self.src[start + 1..p];
        let s = unquote(&format!("\"{}\"", inner.replace("\\'", "'")))
            .map_err(|m| LexError { pos: start, msg: m })?;
        let mut cs = s.chars();
        let (Some(c), None) = (cs.next(), cs.next()) else {
            return self.err(start, format!("malformed character constant: {raw}"));
        };
        self.pos = p + 1;
        self.push(Tok::Char(c as i64, raw.into()), start);
        Ok(())
    }

    fn number(&mut self, start: usize) -> Result<(), LexError> {
        let mut p = start;
        if matches!(self.b.get(p), Some(b'+' | b'-')) {
            p += 1;
        }
        let mut digits: &[u8] = b"0123456789_";
        if self.b.get(p) == Some(&b'0') {
            match self.b.get(p + 1) {
                Some(b'x' | b'X') => {
                    p += 2;
                    digits = b"0123456789abcdefABCDEF_";
                }
                Some(b'o' | b'O') => {
                    p += 2;
                    digits = b"01234567_";
                }
                Some(b'b' | b'B') => {
                    p += 2;
                    digits = b"01_";
                }
                _ => {}
            }
        }
        let accept = |p: &mut usize, set: &[u8]| {
            while let Some(c) = self.b.get(*p) {
                if set.contains(c) {
                    *p += 1;
                } else {
                    break;
                }
            }
        };
        accept(&mut p, digits);
        if self.b.get(p) == Some(&b'.') {
            p += 1;
            accept(&mut p, digits);
        }
        let hex = digits.len() > 20;
        if !hex && matches!(self.b.get(p), Some(b'e' | b'E')) {
            p += 1;
            if matches!(self.b.get(p), Some(b'+' | b'-')) {
                p += 1;
            }
            accept(&mut p, b"0123456789_");
        }
        if hex && matches!(self.b.get(p), Some(b'p' | b'P')) {
            p += 1;
            if matches!(self.b.get(p), Some(b'+' | b'-')) {
                p += 1;
            }
            accept(&mut p, b"0123456789_");
        }
        if self.b.get(p) == Some(&b'i') {
            p += 1;
        }
        // next char must not be alphanumeric
        if let Some(c) = self.src[p..].chars().next()
            && (is_alnum(c) || c == '.')
        {
            let end = self.src[p..]
                .char_indices()
                .find(|(_, c)| !(is_alnum(*c) || *c == '.'))
                .map(|(i, _)| p + i)
                .unwrap_or(self.b.len());
            return self.err(
                start,
                format!("bad number syntax: {:?}", &self.src[start..end]),
            );
        }
        if p == start || (p == start + 1 && matches!(self.b[start], b'+' | b'-')) {
            let end = (start + 2).min(self.b.len());
            let end = (start..=end)
                .rev()
                .find(|e| self.src.is_char_boundary(*e))
                .unwrap_or(start);
            return self.err(
                start,
                format!("bad number syntax: {:?}", &self.src[start..end]),
            );
        }
        self.pos = p;
        self.push(Tok::Number(self.src[start..p].into()), start);
        Ok(())
    }
}

/// Go's strconv.Unquote for double-quoted strings.
pub fn unquote(raw: &str) -> Result<String, String> {
    let inner = &raw[1..raw.len() - 1];
    let mut out = String::with_capacity(inner.len());
    let mut bytes: Vec<u8> = Vec::new();
    let mut it = inner.chars().peekable();
    let flush = |bytes: &mut Vec<u8>, out: &mut String| {
        if !bytes.is_empty() {
            out.push_str(&String::from_utf8_lossy(bytes));
            bytes.clear();
        }
    };
    while let Some(c) = it.next() {
        if c != '\\' {
            flush(&mut bytes, &mut out);
            out.push(c);
            continue;
        }
        let Some(e) = it.next() else {
            return Err("invalid syntax".into());
        };
        let mut hex = |n: usize| -> Result<u32, String> {
            let mut v = 0u32;
            for _ in 0..n {
                let d = it
                    .next()
                    .and_then(|c| c.to_digit(16))
                    .ok_or_else(|| "invalid syntax".to_string())?;
                v = v * 16 + d;
            }
            Ok(v)
        };
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'x' => {
                let v = hex(2)?;
                bytes.push(v as u8);
                continue;
            }
            'u' => {
                flush(&mut bytes, &mut out);
                let v = hex(4)?;
                out.push(char::from_u32(v).ok_or("invalid syntax")?);
            }
            'U' => {
                flush(&mut bytes, &mut out);
                let v = hex(8)?;
                out.push(char::from_u32(v).ok_or("invalid syntax")?);
            }
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    let d = it
                        .next()
                        .and_then(|c| c.to_digit(8))
                        .ok_or_else(|| "invalid syntax".to_string())?;
                    v = v * 8 + d;
                }
                if v > 255 {
                    return Err("invalid syntax".into());
                }
                bytes.push(v as u8);
                continue;
            }
            _ => return Err("invalid syntax".into()),
        }
        flush(&mut bytes, &mut out);
    }
    flush(&mut bytes, &mut out);
    Ok(out)
}
