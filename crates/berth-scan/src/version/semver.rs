//! Semantic Versioning 2.0.0 order (npm, crates.io): `MAJOR.MINOR.PATCH`, an
//! optional `-pre.release` that sorts below the release (numeric identifiers numerically,
//! below alphanumeric ones, fewer identifiers first), and `+build` metadata that is ignored.
//! A leading `v` is accepted. Go modules have their own, stricter scheme (`super::go`).

use super::VersionError;
use std::cmp::Ordering;

/// A parsed version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Semver {
    core: [u64; 3],
    pre: Vec<Ident>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ident {
    Num(u64),
    Alpha(String),
}

impl Ord for Ident {
    fn cmp(&self, o: &Self) -> Ordering {
        match (self, o) {
            (Ident::Num(a), Ident::Num(b)) => a.cmp(b),
            (Ident::Num(_), Ident::Alpha(_)) => Ordering::Less,
            (Ident::Alpha(_), Ident::Num(_)) => Ordering::Greater,
            (Ident::Alpha(a), Ident::Alpha(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Ident {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Semver {
    /// Parse a version; a missing minor or patch reads as 0 (`1.2` = `1.2.0`), as npm's
    /// loose mode and Go's `go1.21` toolchain names do.
    pub fn parse(s: &str) -> Result<Semver, VersionError> {
        let err = |r: &str| VersionError::new("semver", s, r);
        let t = s.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        let t = t.split_once('+').map_or(t, |(a, _)| a);
        let (core, pre) = match t.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (t, None),
        };
        let mut nums = [0u64; 3];
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return Err(err("expected MAJOR.MINOR.PATCH"));
        }
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("version numbers must be digits"));
            }
            nums[i] = p.parse().map_err(|_| err("number too large"))?;
        }
        let mut ids = Vec::new();
        if let Some(p) = pre {
            for id in p.split('.') {
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    return Err(err("pre-release identifiers are [0-9A-Za-z-], non-empty"));
                }
                ids.push(if id.bytes().all(|b| b.is_ascii_digit()) {
                    Ident::Num(id.parse().map_err(|_| err("number too large"))?)
                } else {
                    Ident::Alpha(id.to_string())
                });
            }
        }
        Ok(Semver {
            core: nums,
            pre: ids,
        })
    }
}

impl Ord for Semver {
    fn cmp(&self, o: &Self) -> Ordering {
        self.core
            .cmp(&o.core)
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&o.pre),
            })
    }
}

impl PartialOrd for Semver {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
