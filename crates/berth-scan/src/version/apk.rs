//! apk-tools version order (Gentoo style): `digits{.digits}[letter]{_suffix[N]}[-rN]`.
//! Pre-release suffixes (`_alpha _beta _pre _rc`) sort below the plain version, post-release
//! ones (`_cvs _svn _git _hg _p`) above it; `.0N` components with leading zeros are
//! compared as fractions. Tokens are read one at a time from both strings and compared
//! by (kind, value) exactly as apk does, so versions apk considers odd still get its order.

use super::VersionError;
use std::cmp::Ordering;

/// Token kinds, in apk's order (the order matters in the final comparison).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Tok {
    Invalid,
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

const PRE: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

/// A position in a version string.
struct Cursor<'a> {
    s: &'a [u8],
}

impl Cursor<'_> {
    fn first(&self) -> Option<u8> {
        self.s.first().copied()
    }
    fn advance(&mut self, n: usize) {
        self.s = &self.s[n.min(self.s.len())..];
    }
}

/// Decide the kind of the next token from the separator at the cursor (consumed).
fn next_kind(kind: &mut Tok, c: &mut Cursor) {
    let cur = *kind;
    let n = match c.first() {
        None | Some(0) => Tok::End,
        Some(ch) if matches!(cur, Tok::Digit | Tok::DigitOrZero) && ch.is_ascii_lowercase() => {
            Tok::Letter
        }
        Some(ch) if cur == Tok::Letter && ch.is_ascii_digit() => Tok::Digit,
        Some(ch) if cur == Tok::Suffix && ch.is_ascii_digit() => Tok::SuffixNo,
        Some(ch) => {
            let n = match ch {
                b'.' => Tok::DigitOrZero,
                b'_' => Tok::Suffix,
                b'-' if c.s.get(1) == Some(&b'r') => {
                    c.advance(1);
                    Tok::RevisionNo
                }
                _ => Tok::Invalid,
            };
            c.advance(1);
            n
        }
    };
    // A kind may only go "backwards" in these three transitions.
    let allowed_back = matches!(
        (n, cur),
        (Tok::DigitOrZero, Tok::Digit) | (Tok::Suffix, Tok::SuffixNo) | (Tok::Digit, Tok::Letter)
    );
    *kind = if n < cur && !allowed_back {
        Tok::Invalid
    } else {
        n
    };
}

/// Read the value of a token of kind `kind` and advance to the next token's kind.
fn take(kind: &mut Tok, c: &mut Cursor) -> i64 {
    if c.s.is_empty() {
        *kind = Tok::End;
        return 0;
    }
    let mut used = 0usize;
    let mut value: i64 = 0;
    let mut next = None;
    match *kind {
        Tok::DigitOrZero if c.s[0] == b'0' => {
            // Leading zeros: the more zeros, the smaller (".05" < ".5").
            while used < c.s.len() && c.s[used] == b'0' {
                used += 1;
            }
            value = -(used as i64);
            next = Some(Tok::Digit);
        }
        Tok::DigitOrZero | Tok::Digit | Tok::SuffixNo | Tok::RevisionNo => {
            while used < c.s.len() && c.s[used].is_ascii_digit() {
                value = value
                    .saturating_mul(10)
                    .saturating_add(i64::from(c.s[used] - b'0'));
                used += 1;
            }
        }
        Tok::Letter => {
            value = i64::from(c.s[0]);
            used = 1;
        }
        Tok::Suffix => {
            let found = PRE
                .iter()
                .position(|p| c.s.starts_with(p.as_bytes()))
                .map(|i| (i as i64 - PRE.len() as i64, PRE[i].len()))
                .or_else(|| {
                    POST.iter()
                        .position(|p| c.s.starts_with(p.as_bytes()))
                        .map(|i| (i as i64, POST[i].len()))
                });
            match found {
                Some((v, len)) => {
                    value = v;
                    used = len;
                }
                None => {
                    *kind = Tok::Invalid;
                    return -1;
                }
            }
        }
        Tok::Invalid | Tok::End => {
            *kind = Tok::Invalid;
            return -1;
        }
    }
    c.advance(used);
    if c.s.is_empty() {
        *kind = Tok::End;
    } else if let Some(n) = next {
        *kind = n;
    } else {
        next_kind(kind, c);
    }
    value
}

/// Whether apk accepts `v` as a version.
pub fn validate(v: &str) -> Result<(), VersionError> {
    let mut kind = Tok::Digit;
    let mut c = Cursor { s: v.as_bytes() };
    if v.is_empty() {
        return Err(VersionError::new("apk", v, "version string is empty"));
    }
    while kind != Tok::End && kind != Tok::Invalid {
        take(&mut kind, &mut c);
    }
    if kind == Tok::End {
        Ok(())
    } else {
        Err(VersionError::new(
            "apk",
            v,
            "not of the form digits{.digits}[letter]{_suffix[N]}[-rN]",
        ))
    }
}

/// Compare two apk versions (any strings; apk's order is defined for invalid ones too).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (mut ca, mut cb) = (Cursor { s: a.as_bytes() }, Cursor { s: b.as_bytes() });
    let (mut at, mut bt) = (Tok::Digit, Tok::Digit);
    let (mut av, mut bv) = (0i64, 0i64);
    while at == bt && at != Tok::End && at != Tok::Invalid && av == bv {
        av = take(&mut at, &mut ca);
        bv = take(&mut bt, &mut cb);
    }
    if av != bv {
        return av.cmp(&bv);
    }
    if at == bt {
        return Ordering::Equal;
    }
    // Equal so far: the longer one is newer, unless what follows is a pre-release suffix.
    let (mut ta, mut tb) = (at, bt);
    if at == Tok::Suffix && take(&mut ta, &mut Cursor { s: ca.s }) < 0 {
        return Ordering::Less;
    }
    if bt == Tok::Suffix && take(&mut tb, &mut Cursor { s: cb.s }) < 0 {
        return Ordering::Greater;
    }
    // Otherwise the side whose next part comes later in the grammar (End last) is older:
    // "1.0" < "1.0.1", "1.0-r1" < "1.0.1", "1.0" < "1.0-r1".
    bt.cmp(&at)
}
