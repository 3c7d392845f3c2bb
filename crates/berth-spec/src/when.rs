//! The `when` condition language of config items, groups and components.
//!
//! Grammar (precedence low to high):
//! ```text
//! expr    := or
//! or      := and ( "||" and )*
//! and     := unary ( "&&" unary )*
//! unary   := "!" unary | compare
//! compare := operand ( ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) operand )?
//! operand := IDENT | STRING | NUMBER | "true" | "false" | "(" expr ")"
//! ```
//! Identifiers name config items. Strings are double- or single-quoted. A bare identifier is
//! true when the item's value is truthy (`true`, a non-zero number, a non-empty string other
//! than "false"/"0"). Comparisons are numeric when both sides are numbers, textual otherwise.

use std::fmt;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A config item's value.
    Item(String),
    /// A literal string.
    Str(String),
    /// A literal number.
    Num(f64),
    /// A literal boolean.
    Bool(bool),
    /// Negation.
    Not(Box<Expr>),
    /// Both hold.
    And(Box<Expr>, Box<Expr>),
    /// Either holds.
    Or(Box<Expr>, Box<Expr>),
    /// A comparison.
    Cmp(Box<Expr>, CmpOp, Box<Expr>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A syntax error in a condition, with the character offset where it was found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} (at character {offset} of the condition)")]
pub struct WhenError {
    /// Offset in characters from the start of the condition (0-based).
    pub offset: usize,
    /// What was wrong.
    pub message: String,
}

/// A value a condition is evaluated over.
#[derive(Debug, Clone, PartialEq)]
pub enum WhenValue {
    /// Absent or null.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Num(f64),
    /// Text.
    Str(String),
}

impl WhenValue {
    /// From a JSON config value.
    pub fn from_json(v: &serde_json::Value) -> WhenValue {
        match v {
            serde_json::Value::Null => WhenValue::Null,
            serde_json::Value::Bool(b) => WhenValue::Bool(*b),
            serde_json::Value::Number(n) => WhenValue::Num(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => WhenValue::Str(s.clone()),
            other => WhenValue::Str(other.to_string()),
        }
    }

    fn truthy(&self) -> bool {
        match self {
            WhenValue::Null => false,
            WhenValue::Bool(b) => *b,
            WhenValue::Num(n) => *n != 0.0,
            WhenValue::Str(s) => !(s.is_empty() || s == "false" || s == "0"),
        }
    }

    fn as_num(&self) -> Option<f64> {
        match self {
            WhenValue::Num(n) => Some(*n),
            WhenValue::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn text(&self) -> String {
        match self {
            WhenValue::Null => String::new(),
            WhenValue::Bool(b) => b.to_string(),
            WhenValue::Num(n) => n.to_string(),
            WhenValue::Str(s) => s.clone(),
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Op(&'static str),
    LParen,
    RParen,
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, WhenError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '(' {
            out.push((Tok::LParen, start));
            i += 1;
        } else if c == ')' {
            out.push((Tok::RParen, start));
            i += 1;
        } else if c == '"' || c == '\'' {
            i += 1;
            let mut s = String::new();
            loop {
                match chars.get(i) {
                    None => {
                        return Err(WhenError {
                            offset: start,
                            message: format!("string starting with {c} is not closed"),
                        });
                    }
                    Some('\\') if c == '"' => {
                        if let Some(n) = chars.get(i + 1) {
                            s.push(*n);
                        }
                        i += 2;
                    }
                    Some(ch) if *ch == c => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        s.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push((Tok::Str(s), start));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n = text.parse().map_err(|_| WhenError {
                offset: start,
                message: format!("`{text}` is not a number"),
            })?;
            out.push((Tok::Num(n), start));
        } else if c.is_alphabetic() || c == '_' {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '-' | '.'))
            {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), start));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = match two.as_str() {
                "==" => Some("=="),
                "!=" => Some("!="),
                "<=" => Some("<="),
                ">=" => Some(">="),
                "&&" => Some("&&"),
                "||" => Some("||"),
                _ => None,
            };
            if let Some(op) = op {
                out.push((Tok::Op(op), start));
                i += 2;
                continue;
            }
            let op = match c {
                '<' => "<",
                '>' => ">",
                '!' => "!",
                '=' => {
                    return Err(WhenError {
                        offset: start,
                        message: "`=` is not an operator; compare with `==`".into(),
                    });
                }
                _ => {
                    return Err(WhenError {
                        offset: start,
                        message: format!("unexpected character `{c}`"),
                    });
                }
            };
            out.push((Tok::Op(op), start));
            i += 1;
        }
    }
    Ok(out)
}

struct P {
    toks: Vec<(Tok, usize)>,
    i: usize,
    end: usize,
    depth: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|(t, _)| t)
    }
    fn offset(&self) -> usize {
        self.toks.get(self.i).map_or(self.end, |(_, o)| *o)
    }
    fn err<T>(&self, message: impl Into<String>) -> Result<T, WhenError> {
        Err(WhenError {
            offset: self.offset(),
            message: message.into(),
        })
    }
    fn or(&mut self) -> Result<Expr, WhenError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Op("||")) {
            self.i += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Expr, WhenError> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Tok::Op("&&")) {
            self.i += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn unary(&mut self) -> Result<Expr, WhenError> {
        if self.peek() == Some(&Tok::Op("!")) {
            self.i += 1;
            self.depth += 1;
            if self.depth > 64 {
                return self.err("condition nested too deeply");
            }
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.compare()
    }
    fn compare(&mut self) -> Result<Expr, WhenError> {
        let left = self.operand()?;
        let op = match self.peek() {
            Some(Tok::Op("==")) => CmpOp::Eq,
            Some(Tok::Op("!=")) => CmpOp::Ne,
            Some(Tok::Op("<")) => CmpOp::Lt,
            Some(Tok::Op("<=")) => CmpOp::Le,
            Some(Tok::Op(">")) => CmpOp::Gt,
            Some(Tok::Op(">=")) => CmpOp::Ge,
            _ => return Ok(left),
        };
        self.i += 1;
        let right = self.operand()?;
        Ok(Expr::Cmp(Box::new(left), op, Box::new(right)))
    }
    fn operand(&mut self) -> Result<Expr, WhenError> {
        let Some((tok, _)) = self.toks.get(self.i).cloned() else {
            return self.err("the condition ends too early; expected an item name or a value");
        };
        self.i += 1;
        match tok {
            Tok::Ident(s) if s == "true" => Ok(Expr::Bool(true)),
            Tok::Ident(s) if s == "false" => Ok(Expr::Bool(false)),
            Tok::Ident(s) => Ok(Expr::Item(s)),
            Tok::Str(s) => Ok(Expr::Str(s)),
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::LParen => {
                self.depth += 1;
                if self.depth > 64 {
                    return self.err("condition nested too deeply");
                }
                let e = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Tok::RParen) {
                    return self.err("expected `)`");
                }
                self.i += 1;
                Ok(e)
            }
            Tok::RParen => {
                self.i -= 1;
                self.err("unexpected `)`; expected an item name or a value")
            }
            Tok::Op(op) => {
                self.i -= 1;
                self.err(format!(
                    "unexpected `{op}`; expected an item name or a value"
                ))
            }
        }
    }
}

/// Parse a condition.
pub fn parse(src: &str) -> Result<Expr, WhenError> {
    let toks = lex(src)?;
    if toks.is_empty() {
        return Err(WhenError {
            offset: 0,
            message: "the condition is empty".into(),
        });
    }
    let mut p = P {
        toks,
        i: 0,
        end: src.chars().count(),
        depth: 0,
    };
    let e = p.or()?;
    if p.i < p.toks.len() {
        return p.err(
            "unexpected text after the end of the condition; join conditions with `&&` or `||`",
        );
    }
    Ok(e)
}

impl Expr {
    /// Names of the config items this condition reads.
    pub fn items(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::Item(s) if !out.contains(&s.as_str()) => out.push(s),
            Expr::Not(e) => e.collect(out),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(a, _, b) => {
                a.collect(out);
                b.collect(out);
            }
            _ => {}
        }
    }

    /// Evaluate with `lookup` giving the value of each item.
    pub fn eval(&self, lookup: &dyn Fn(&str) -> WhenValue) -> bool {
        self.value(lookup).truthy()
    }

    fn value(&self, lookup: &dyn Fn(&str) -> WhenValue) -> WhenValue {
        match self {
            Expr::Item(s) => lookup(s),
            Expr::Str(s) => WhenValue::Str(s.clone()),
            Expr::Num(n) => WhenValue::Num(*n),
            Expr::Bool(b) => WhenValue::Bool(*b),
            Expr::Not(e) => WhenValue::Bool(!e.value(lookup).truthy()),
            Expr::And(a, b) => {
                WhenValue::Bool(a.value(lookup).truthy() && b.value(lookup).truthy())
            }
            Expr::Or(a, b) => WhenValue::Bool(a.value(lookup).truthy() || b.value(lookup).truthy()),
            Expr::Cmp(a, op, b) => {
                let (l, r) = (a.value(lookup), b.value(lookup));
                let ord = match (l.as_num(), r.as_num()) {
                    (Some(x), Some(y))
                        if !matches!((&l, &r), (WhenValue::Str(_), WhenValue::Str(_))) =>
                    {
                        x.partial_cmp(&y)
                    }
                    _ => Some(l.text().cmp(&r.text())),
                };
                let Some(ord) = ord else {
                    return WhenValue::Bool(false);
                };
                use std::cmp::Ordering::*;
                WhenValue::Bool(match op {
                    CmpOp::Eq => ord == Equal,
                    CmpOp::Ne => ord != Equal,
                    CmpOp::Lt => ord == Less,
                    CmpOp::Le => ord != Greater,
                    CmpOp::Gt => ord == Greater,
                    CmpOp::Ge => ord != Less,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(src: &str, vals: &[(&str, WhenValue)]) -> bool {
        let e = parse(src).unwrap();
        e.eval(&|name| {
            vals.iter()
                .find(|(n, _)| *n == name)
                .map_or(WhenValue::Null, |(_, v)| v.clone())
        })
    }

    #[test]
    fn evaluates() {
        let v = [
            ("database", WhenValue::Str("external".into())),
            ("tls", WhenValue::Bool(true)),
            ("replicas", WhenValue::Num(3.0)),
        ];
        assert!(eval(r#"database == "external""#, &v));
        assert!(!eval(r#"database != 'external'"#, &v));
        assert!(eval("tls && replicas > 2", &v));
        assert!(!eval("!tls || replicas < 2", &v));
        assert!(eval("(tls || missing) && replicas >= 3", &v));
        assert!(!eval("missing", &v));
    }

    #[test]
    fn errors_point_at_the_problem() {
        assert_eq!(parse("a = 'b'").unwrap_err().offset, 2);
        assert_eq!(parse("a == ").unwrap_err().offset, 5);
        assert_eq!(parse("a b").unwrap_err().offset, 2);
        assert!(parse("'open").is_err());
        assert!(parse("").is_err());
        assert!(parse(&"(".repeat(500)).is_err());
    }

    #[test]
    fn lists_items() {
        let e = parse(r#"db == "x" && (tls || db != "y")"#).unwrap();
        assert_eq!(e.items(), vec!["db", "tls"]);
    }
}
