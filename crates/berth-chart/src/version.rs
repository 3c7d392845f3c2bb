//! Versions and version ranges as Helm reads them (Masterminds semver v3): lenient
//! versions (`v1.2`, `1`), ranges with `, `/space (and), `||` (or), `=`, `!=`,
//! `>`, `<`, `>=`, `<=`, `~`, `^`, wildcards (`1.x`, `*`) and hyphen ranges.
//! Used to match vendored subcharts to `dependencies:` and to check `kubeVersion`.

use std::cmp::Ordering;

/// A parsed version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Patch number.
    pub patch: u64,
    /// Pre-release identifiers after `-`, empty when none.
    pub pre: String,
}

impl Version {
    /// Parses leniently: optional `v`, missing minor/patch are zero, `+build` ignored.
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let (s, _build) = match s.split_once('+') {
            Some((a, b)) => {
                if !ident_ok(b) {
                    return None;
                }
                (a, Some(b))
            }
            None => (s, None),
        };
        let (core, pre) = match s.split_once('-') {
            Some((a, b)) => {
                if !ident_ok(b) {
                    return None;
                }
                (a, b)
            }
            None => (s, ""),
        };
        let mut nums = [0u64; 3];
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return None;
        }
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            nums[i] = p.parse().ok()?;
        }
        Some(Version {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            pre: pre.to_owned(),
        })
    }

    fn cmp_version(&self, o: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| cmp_pre(&self.pre, &o.pre))
    }
}

fn ident_ok(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

fn cmp_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let mut ai = a.split('.');
    let mut bi = b.split('.');
    loop {
        match (ai.next(), bi.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(p), Ok(q)) => p.cmp(&q),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    _ => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Tilde,
    Caret,
}

#[derive(Clone, Debug)]
struct Constraint {
    op: Op,
    v: Version,
    /// Which parts were wildcards or absent: 0 = none, 1 = patch, 2 = minor and patch, 3 = all.
    dirty: u8,
}

/// A parsed range such as `>=1.20.0-0 <1.30 || ^2`.
#[derive(Clone, Debug)]
pub struct Range {
    any_of: Vec<Vec<Constraint>>,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

fn parse_constraint(s: &str) -> Option<Constraint> {
    let ops = [
        (">=", Op::Ge),
        ("=>", Op::Ge),
        ("<=", Op::Le),
        ("=<", Op::Le),
        ("!=", Op::Ne),
        ("~>", Op::Tilde),
        ("=", Op::Eq),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("~", Op::Tilde),
        ("^", Op::Caret),
    ];
    let mut op = Op::Eq;
    let mut rest = s.trim();
    for (p, o) in ops {
        if let Some(r) = rest.strip_prefix(p) {
            op = o;
            rest = r.trim_start();
            break;
        }
    }
    let body = rest.strip_prefix('v').unwrap_or(rest);
    if body.is_empty() || is_x(body) {
        return Some(Constraint {
            op,
            v: Version {
                major: 0,
                minor: 0,
                patch: 0,
                pre: String::new(),
            },
            dirty: 3,
        });
    }
    let (core, tail) = match body.find(['-', '+']) {
        Some(i) => (&body[..i], &body[i..]),
        None => (body, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return None;
    }
    let mut dirty = 0u8;
    let mut fixed: Vec<&str> = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if is_x(p) {
            dirty = (3 - i) as u8;
            break;
        }
        fixed.push(p);
    }
    if dirty == 0 && parts.len() < 3 {
        dirty = (3 - parts.len()) as u8;
    }
    while fixed.len() < 3 {
        fixed.push("0");
    }
    let v = Version::parse(&format!("{}{}", fixed.join("."), tail))?;
    Some(Constraint { op, v, dirty })
}

impl Range {
    /// Parses a range; `None` when it is not a valid range.
    pub fn parse(s: &str) -> Option<Range> {
        let mut any_of = Vec::new();
        for alt in s.split("||") {
            let toks: Vec<&str> = alt
                .split([' ', ','])
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect();
            let mut all = Vec::new();
            let mut i = 0;
            while i < toks.len() {
                // Operators may be separated from their version by spaces (`>= 1.2`).
                let mut tok = toks[i].to_owned();
                if tok.chars().all(|c| "<>=!~^".contains(c)) && i + 1 < toks.len() {
                    tok.push_str(toks[i + 1]);
                    i += 1;
                }
                if i + 2 < toks.len() && toks[i + 1] == "-" {
                    let lo = parse_constraint(&tok)?;
                    let hi = parse_constraint(toks[i + 2])?;
                    all.push(Constraint { op: Op::Ge, ..lo });
                    all.push(Constraint { op: Op::Le, ..hi });
                    i += 3;
                    continue;
                }
                all.push(parse_constraint(&tok)?);
                i += 1;
            }
            if all.is_empty() {
                all.push(parse_constraint("*")?);
            }
            any_of.push(all);
        }
        Some(Range { any_of })
    }

    /// Whether `v` satisfies the range.
    pub fn matches(&self, v: &Version) -> bool {
        self.any_of.iter().any(|all| all.iter().all(|c| c.check(v)))
    }
}

impl Constraint {
    fn check(&self, v: &Version) -> bool {
        // A pre-release only satisfies constraints that name a pre-release.
        if !v.pre.is_empty() && self.v.pre.is_empty() {
            return false;
        }
        let c = &self.v;
        let ord = v.cmp_version(c);
        let minor_dirty = self.dirty >= 2;
        let patch_dirty = self.dirty >= 1;
        match self.op {
            Op::Eq => self.eq_dirty(v),
            Op::Ne => !self.eq_dirty(v),
            Op::Gt => {
                if self.dirty == 0 {
                    ord == Ordering::Greater
                } else if v.major != c.major {
                    v.major > c.major
                } else if minor_dirty {
                    false
                } else {
                    v.minor > c.minor
                }
            }
            Op::Lt => ord == Ordering::Less,
            Op::Ge => ord != Ordering::Less,
            Op::Le => {
                if self.dirty == 0 {
                    ord != Ordering::Greater
                } else {
                    !(v.major > c.major
                        || (v.major == c.major && v.minor > c.minor && !minor_dirty))
                }
            }
            Op::Tilde => {
                if ord == Ordering::Less {
                    return false;
                }
                if self.dirty == 3 {
                    return true;
                }
                v.major == c.major && (minor_dirty || v.minor == c.minor)
            }
            Op::Caret => {
                if ord == Ordering::Less {
                    return false;
                }
                if self.dirty == 3 {
                    return true;
                }
                if c.major > 0 || minor_dirty {
                    return v.major == c.major;
                }
                if c.minor > 0 || patch_dirty {
                    return v.major == 0 && v.minor == c.minor;
                }
                v.major == 0 && v.minor == 0 && v.patch == c.patch
            }
        }
    }

    fn eq_dirty(&self, v: &Version) -> bool {
        let c = &self.v;
        match self.dirty {
            0 => v.cmp_version(c) == Ordering::Equal,
            1 => v.major == c.major && v.minor == c.minor,
            2 => v.major == c.major,
            _ => true,
        }
    }
}

/// Helm's `IsCompatibleRange`: false when either side does not parse.
pub fn is_compatible_range(range: &str, version: &str) -> bool {
    match (Range::parse(range), Version::parse(version)) {
        (Some(r), Some(v)) => r.matches(&v),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_compatible_range as ok;

    #[test]
    fn ranges() {
        assert!(ok("1.2.3", "1.2.3"));
        assert!(!ok("1.2.3", "1.2.4"));
        assert!(ok("^1.2.0", "1.9.0"));
        assert!(!ok("^1.2.0", "2.0.0"));
        assert!(ok("~1.2.0", "1.2.9"));
        assert!(!ok("~1.2.0", "1.3.0"));
        assert!(ok("1.x", "1.7.2"));
        assert!(ok("*", "3.0.0"));
        assert!(ok(">=1.20.0-0", "v1.28.3-gke.100"));
        assert!(!ok(">=1.20", "v1.28.3-gke.100"));
        assert!(ok(">= 1.19.0 < 1.40.0", "1.36.0"));
        assert!(!ok(">=1.19, <1.30", "1.36.0"));
        assert!(ok("<1.0 || >=2", "2.1.0"));
        assert!(ok("1.0 - 2.0", "1.5.0"));
        assert!(ok("1.0 - 2.0", "2.0.1"));
        assert!(!ok("1.0 - 2.0", "2.1.0"));
        assert!(ok("^0.2.3", "0.2.9"));
        assert!(!ok("^0.2.3", "0.3.0"));
        assert!(!ok("garbage", "1.0.0"));
        assert!(!ok("1.0.0", "not-a-version"));
    }
}
