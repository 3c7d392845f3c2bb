//! Maven's version order (the order of `ComparableVersion`, as Maven 3.8 and the OSV `Maven`
//! ecosystem use it), written from the POM reference's "Version Order Specification":
//!
//! - the version is read case-insensitively and split into items at `.`, at `-`, and where
//!   digits and letters meet; an empty item reads as `0`;
//! - `-` and a digit/letter transition open a nested list, so what follows them compares as a
//!   group after everything before them (`1-1` < `1.1`); a trailing `.qualifier` opens one too
//!   (`1.0.0.rc1` = `1-rc1`);
//! - numbers compare numerically, of any length; numbers rank above lists, lists above
//!   qualifiers;
//! - qualifiers order `alpha` < `beta` < `milestone` < `rc` = `cr` < `snapshot` <
//!   `""` = `ga` = `final` = `release` < `sp`, and any other qualifier after those, lexically;
//!   `a`, `b`, `m` directly followed by a digit stand for alpha, beta, milestone;
//! - trailing "null" items (`0`, `""`/`ga`/`final`/`release`, empty lists) are dropped from
//!   each list, from its end, stepping over nested lists (`1.0.0` = `1`, `1-0-1` = `1--1`);
//! - a missing item compares as null: `1` = `1.0`, `1-sp` > `1`, `1-alpha` < `1`.
//!
//! Maven reads every string as some version; berth refuses the empty string, anything but
//! printable ASCII (no advisory names such a version, and Java's Unicode digit and case
//! rules would make their order differ between implementations) and unresolved properties
//! (`${revision}`: ordered as a qualifier, it would sort below every release).

use super::VersionError;
use std::cmp::Ordering;

/// A parsed Maven version.
#[derive(Clone, Debug)]
pub struct MavenVersion {
    items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    /// Decimal digits without leading zeros (`""` is zero).
    Num(String),
    /// A qualifier: its rank and, for unknown qualifiers, its text.
    Qual(u8, String),
    /// A nested list (after `-` or a digit/letter transition).
    List(Vec<Item>),
}

/// Rank of the release qualifier (`""`, `ga`, `final`, `release`).
const RELEASE: u8 = 5;
/// Rank of every qualifier Maven does not know (then ordered by text).
const UNKNOWN: u8 = 7;

fn qualifier(text: &str, followed_by_digit: bool) -> Item {
    let text = match text {
        "a" if followed_by_digit => "alpha",
        "b" if followed_by_digit => "beta",
        "m" if followed_by_digit => "milestone",
        t => t,
    };
    let rank = match text {
        "alpha" => 0,
        "beta" => 1,
        "milestone" => 2,
        "rc" | "cr" => 3,
        "snapshot" => 4,
        "" | "ga" | "final" | "release" => RELEASE,
        "sp" => 6,
        _ => UNKNOWN,
    };
    let kept = if rank == UNKNOWN { text } else { "" };
    Item::Qual(rank, kept.to_string())
}

fn number(digits: &str) -> Item {
    Item::Num(digits.trim_start_matches('0').to_string())
}

fn token(text: &str, digits: bool) -> Item {
    if text.is_empty() {
        Item::Num(String::new())
    } else if digits {
        number(text)
    } else {
        qualifier(text, false)
    }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Num(d) => d.is_empty(),
            Item::Qual(r, _) => *r == RELEASE,
            Item::List(l) => l.is_empty(),
        }
    }

    /// Compare with an item, or with the null a shorter list is padded with.
    fn compare(&self, other: Option<&Item>) -> Ordering {
        use Item::*;
        match (self, other) {
            (Num(d), None) => {
                if d.is_empty() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Qual(r, t), None) => (*r, t.as_str()).cmp(&(RELEASE, "")),
            (List(l), None) => l
                .iter()
                .map(|i| i.compare(None))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal),
            (Num(a), Some(Num(b))) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Qual(ra, ta), Some(Qual(rb, tb))) => ra.cmp(rb).then_with(|| ta.cmp(tb)),
            (List(a), Some(List(b))) => compare_lists(a, b),
            (Num(_), Some(_)) => Ordering::Greater,
            (Qual(..), Some(_)) => Ordering::Less,
            (List(_), Some(Num(_))) => Ordering::Less,
            (List(_), Some(Qual(..))) => Ordering::Greater,
        }
    }
}

fn compare_lists(a: &[Item], b: &[Item]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let c = match (a.get(i), b.get(i)) {
            (Some(x), y) => x.compare(y),
            (None, Some(y)) => y.compare(None).reverse(),
            (None, None) => Ordering::Equal,
        };
        if c.is_ne() {
            return c;
        }
    }
    Ordering::Equal
}

/// Drop trailing null items, stepping over nested lists that are not null.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

/// The lists being filled while reading: the last one is the current list, and each one
/// becomes the last item of the one before it when reading ends.
struct Lists(Vec<Vec<Item>>);

impl Lists {
    fn current(&mut self) -> &mut Vec<Item> {
        // Never empty: the root list is pushed first and never popped before `finish`.
        let last = self.0.len() - 1;
        &mut self.0[last]
    }

    fn open(&mut self) {
        self.0.push(Vec::new());
    }

    fn finish(mut self) -> Vec<Item> {
        while self.0.len() > 1 {
            let mut inner = self.0.pop().unwrap_or_default();
            normalize(&mut inner);
            self.current().push(Item::List(inner));
        }
        let mut root = self.0.pop().unwrap_or_default();
        normalize(&mut root);
        root
    }
}

impl MavenVersion {
    /// Parse a version (any printable ASCII without spaces).
    pub fn parse(s: &str) -> Result<MavenVersion, VersionError> {
        let err = |r: &str| VersionError::new("maven", s, r);
        if s.is_empty() {
            return Err(err("empty version"));
        }
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(err(
                "only printable ASCII without spaces is read as a Maven version",
            ));
        }
        if s.contains("${") {
            return Err(err(
                "an unresolved Maven property, not a version (the jar's pom.properties was written without it resolved)",
            ));
        }
        let v = s.to_ascii_lowercase();
        let mut lists = Lists(vec![Vec::new()]);
        let mut digits = false;
        let mut start = 0;
        for (i, c) in v.bytes().enumerate() {
            match c {
                b'.' | b'-' => {
                    let item = token(&v[start..i], digits);
                    lists.current().push(item);
                    start = i + 1;
                    if c == b'-' {
                        lists.open();
                    }
                }
                b'0'..=b'9' => {
                    if !digits && i > start {
                        // A qualifier after `.` groups like one after `-` (`1.0.0.x1` = `1-x1`).
                        if !lists.current().is_empty() {
                            lists.open();
                        }
                        lists.current().push(qualifier(&v[start..i], true));
                        start = i;
                        lists.open();
                    }
                    digits = true;
                }
                _ => {
                    if digits && i > start {
                        lists.current().push(number(&v[start..i]));
                        start = i;
                        lists.open();
                    }
                    digits = false;
                }
            }
        }
        if v.len() > start {
            if !digits && !lists.current().is_empty() {
                lists.open();
            }
            let item = token(&v[start..], digits);
            lists.current().push(item);
        }
        Ok(MavenVersion {
            items: lists.finish(),
        })
    }
}

impl Ord for MavenVersion {
    fn cmp(&self, o: &Self) -> Ordering {
        compare_lists(&self.items, &o.items)
    }
}

impl PartialEq for MavenVersion {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o).is_eq()
    }
}

impl Eq for MavenVersion {}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
