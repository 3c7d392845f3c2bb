//! Semantic versions and constraints as Masterminds/semver v3 reads them — the library behind
//! Sprig's `semver`/`semverCompare` and Helm's chart `dependencies:` and `kubeVersion` checks.
//! Lenient versions (`v1.2`, `1`), ranges with `,`/space (and), `||` (or), `=`, `!=`, `>`, `<`,
//! `>=`, `<=`, `~`, `^`, wildcards (`1.x`, `*`) and hyphen ranges.

use std::any::Any;
use std::cmp::Ordering;

use crate::value::{Object, Value};

/// A semantic version as Masterminds/semver parses it (loosely: `v` prefix, missing parts).
#[derive(Clone, Debug)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    meta: String,
    original: String,
}

impl Version {
    /// Parse leniently: optional `v`, missing minor/patch are zero.
    pub fn parse(s: &str) -> Option<Version> {
        let original = s.to_string();
        let t = s.strip_prefix('v').unwrap_or(s);
        let (t, meta) = match t.split_once('+') {
            Some((a, b)) => (a, b.to_string()),
            None => (t, String::new()),
        };
        let (nums, pre) = match t.split_once('-') {
            Some((a, b)) => (a, b.to_string()),
            None => (t, String::new()),
        };
        let valid_ident = |x: &str| {
            x.is_empty()
                || x.split('.').all(|p| {
                    !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                })
        };
        if !valid_ident(&pre) || !valid_ident(&meta) {
            return None;
        }
        let parts: Vec<&str> = nums.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return None;
        }
        let mut n = [0u64; 3];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            n[i] = p.parse().ok()?;
        }
        Some(Version {
            major: n[0],
            minor: n[1],
            patch: n[2],
            pre,
            meta,
            original,
        })
    }

    /// Semver precedence (build metadata ignored), as Masterminds' `Compare`.
    pub fn precedence(&self, o: &Version) -> Ordering {
        self.cmp(o)
    }

    /// Whether it has a prerelease part (`1.0.0-rc.1`).
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    fn cmp(&self, o: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| cmp_pre(&self.pre, &o.pre))
    }
}

fn cmp_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..pa.len().max(pb.len()) {
        let (Some(x), Some(y)) = (pa.get(i), pb.get(i)) else {
            return pa.len().cmp(&pb.len());
        };
        let (nx, ny) = (x.parse::<u64>(), y.parse::<u64>());
        let o = match (nx, ny) {
            (Ok(p), Ok(q)) => p.cmp(&q),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.meta.is_empty() {
            write!(f, "+{}", self.meta)?;
        }
        Ok(())
    }
}

impl Object for Version {
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Major" => Value::Uint64(self.major),
            "Minor" => Value::Uint64(self.minor),
            "Patch" => Value::Uint64(self.patch),
            "Prerelease" => Value::str(&self.pre),
            "Metadata" => Value::str(&self.meta),
            "Original" => Value::str(&self.original),
            "String" => Value::str(self.to_string()),
            _ => return None,
        })
    }
    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match name {
            "Compare" | "LessThan" | "GreaterThan" | "Equal" => {
                let other = match args.first() {
                    Some(Value::Object(o)) => o.as_any().downcast_ref::<Version>().cloned(),
                    _ => None,
                };
                let Some(o) = other else {
                    return Some(Err(format!(
                        "wrong number of args for {name}: want 1 got {}",
                        args.len()
                    )));
                };
                let c = self.cmp(&o);
                Some(Ok(match name {
                    "Compare" => Value::Int(c as i64),
                    "LessThan" => Value::Bool(c == Ordering::Less),
                    "GreaterThan" => Value::Bool(c == Ordering::Greater),
                    _ => Value::Bool(c == Ordering::Equal),
                }))
            }
            _ => None,
        }
    }
    fn type_name(&self) -> String {
        "*semver.Version".into()
    }
    fn display(&self) -> String {
        self.to_string()
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::String(self.to_string())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Debug)]
struct Constraint {
    op: String,
    v: Version,
    /// Number of explicit numeric parts (1..=3); wildcard parts count as missing.
    fixed: usize,
    any: bool,
}

impl Constraint {
    fn parse(s: &str) -> Option<Constraint> {
        let s = s.trim();
        let ops = ["!=", ">=", "=>", "<=", "=<", "~>", ">", "<", "=", "~", "^"];
        let (op, rest) = ops
            .iter()
            .find_map(|o| s.strip_prefix(o).map(|r| (o.to_string(), r.trim())))
            .unwrap_or((String::new(), s));
        let op = match op.as_str() {
            "=>" => ">=".to_string(),
            "=<" => "<=".to_string(),
            "~>" => "~".to_string(),
            _ => op,
        };
        let r = rest.strip_prefix('v').unwrap_or(rest);
        if r == "*" || r == "x" || r == "X" || r.is_empty() {
            return Some(Constraint {
                op,
                v: Version::parse("0.0.0")?,
                fixed: 0,
                any: true,
            });
        }
        let (core, tail) = match r.find(['-', '+']) {
            Some(i) => (&r[..i], &r[i..]),
            None => (r, ""),
        };
        let mut parts = Vec::new();
        let mut fixed = 0;
        for (i, p) in core.split('.').enumerate() {
            if matches!(p, "x" | "X" | "*") {
                parts.push("0");
            } else {
                if fixed != i {
                    return None;
                }
                fixed += 1;
                parts.push(p);
            }
        }
        let v = Version::parse(&format!("{}{}", parts.join("."), tail))?;
        Some(Constraint {
            op,
            v,
            fixed,
            any: fixed == 0,
        })
    }

    fn check(&self, v: &Version) -> bool {
        let c = &self.v;
        if !v.pre.is_empty() && c.pre.is_empty() {
            return false;
        }
        let dirty = self.fixed < 3;
        let major_dirty = self.fixed < 1;
        let minor_dirty = self.fixed < 2;
        let patch_dirty = self.fixed < 3;
        if self.any && !matches!(self.op.as_str(), "<" | "!=") {
            return true;
        }
        match self.op.as_str() {
            "" | "=" => {
                if dirty {
                    self.tilde(v, minor_dirty, patch_dirty)
                } else {
                    v.cmp(c) == Ordering::Equal
                }
            }
            "!=" => {
                if dirty {
                    !self.tilde(v, minor_dirty, patch_dirty)
                } else {
                    v.cmp(c) != Ordering::Equal
                }
            }
            ">" => {
                if !dirty {
                    return v.cmp(c) == Ordering::Greater;
                }
                if major_dirty {
                    return false;
                }
                match v.major.cmp(&c.major) {
                    Ordering::Greater => true,
                    Ordering::Less => false,
                    Ordering::Equal => {
                        if minor_dirty {
                            false
                        } else {
                            v.minor > c.minor
                        }
                    }
                }
            }
            "<" => {
                if !dirty {
                    return v.cmp(c) == Ordering::Less;
                }
                v.cmp(c) == Ordering::Less
            }
            ">=" => v.cmp(c) != Ordering::Less,
            "<=" => {
                if !dirty {
                    return v.cmp(c) != Ordering::Greater;
                }
                if v.major > c.major {
                    return false;
                }
                if v.major == c.major && v.minor > c.minor && !minor_dirty {
                    return false;
                }
                true
            }
            "~" => {
                if v.cmp(c) == Ordering::Less {
                    return false;
                }
                if c.major == 0 && c.minor == 0 && c.patch == 0 && !minor_dirty && !patch_dirty {
                    return true;
                }
                self.tilde(v, minor_dirty, patch_dirty)
            }
            "^" => {
                if v.cmp(c) == Ordering::Less {
                    return false;
                }
                if c.major > 0 || minor_dirty {
                    return v.major == c.major;
                }
                if c.minor > 0 || patch_dirty {
                    return v.major == 0 && v.minor == c.minor;
                }
                v.major == 0 && v.minor == 0 && v.patch == c.patch
            }
            _ => false,
        }
    }

    fn tilde(&self, v: &Version, minor_dirty: bool, _patch_dirty: bool) -> bool {
        let c = &self.v;
        if v.cmp(c) == Ordering::Less {
            return false;
        }
        if v.major != c.major {
            return false;
        }
        if v.minor != c.minor && !minor_dirty {
            return false;
        }
        true
    }
}

/// A parsed constraint: groups joined by `||`, each a list of conditions that must all hold.
pub struct Constraints(Vec<Vec<Constraint>>);

impl Constraints {
    /// Parse a constraint such as `>= 1.2, < 2 || ^3`.
    pub fn parse(s: &str) -> Option<Constraints> {
        let mut groups = Vec::new();
        for g in s.split("||") {
            let g = g.trim();
            let mut cs = Vec::new();
            // hyphen ranges: "a - b"
            let toks: Vec<&str> = g
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|t| !t.is_empty())
                .collect();
            let mut i = 0;
            // re-join operators separated from their version by a space (">= 1.2")
            while i < toks.len() {
                let t = toks[i];
                if i + 2 < toks.len() && toks[i + 1] == "-" {
                    cs.push(Constraint::parse(&format!(">={t}"))?);
                    cs.push(Constraint::parse(&format!("<={}", toks[i + 2]))?);
                    i += 3;
                    continue;
                }
                if matches!(
                    t,
                    "=" | "!=" | ">" | "<" | ">=" | "<=" | "=>" | "=<" | "~" | "~>" | "^"
                ) && i + 1 < toks.len()
                {
                    cs.push(Constraint::parse(&format!("{t}{}", toks[i + 1]))?);
                    i += 2;
                    continue;
                }
                cs.push(Constraint::parse(t)?);
                i += 1;
            }
            if cs.is_empty() {
                return None;
            }
            groups.push(cs);
        }
        Some(Constraints(groups))
    }

    /// Whether `v` satisfies the constraint.
    pub fn check(&self, v: &Version) -> bool {
        self.0.iter().any(|g| g.iter().all(|c| c.check(v)))
    }
}

/// Helm's `IsCompatibleRange`: whether `version` satisfies the constraint `range`; false when
/// either side does not parse.
pub fn is_compatible_range(range: &str, version: &str) -> bool {
    match (Constraints::parse(range), Version::parse(version)) {
        (Some(c), Some(v)) => c.check(&v),
        _ => false,
    }
}
