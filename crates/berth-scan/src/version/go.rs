//! Go module versions, as `golang.org/x/mod/semver` defines them and the Go vulnerability
//! database (OSV ecosystem `Go`) uses them: Semantic Versioning 2.0.0 with a leading `v`
//! (optional here: OSV writes `1.2.3`, build info writes `v1.2.3`), the shorthands `v1` and
//! `v1.2` for `v1.0.0` and `v1.2.0` (only without pre-release or build), no leading zeros in
//! numbers or numeric pre-release identifiers, numbers of any length, and build metadata
//! (`+incompatible`) ignored by the order. Go calls every other string invalid; berth refuses
//! it rather than ordering it below every valid version as Go's `Compare` does.
//!
//! Pseudo-versions name untagged commits and are pre-releases, so the semver order already
//! places them: `vX.0.0-yyyymmddhhmmss-rev` (no earlier tag) below `vX.0.0`,
//! `vX.Y.Z-pre.0.yyyymmddhhmmss-rev` (after the pre-release tag `vX.Y.Z-pre`) between that tag
//! and the next, and `vX.Y.(Z+1)-0.yyyymmddhhmmss-rev` (after the release `vX.Y.Z`) above
//! `vX.Y.Z` and below every pre-release of `vX.Y.(Z+1)`; among themselves by commit time.

use super::VersionError;
use std::cmp::Ordering;

/// The semver form of a Go toolchain name, as the Go vulnerability database writes `stdlib`
/// versions: `go1.21.5` → `1.21.5`, `go1.20` → `1.20.0`, `go1.21rc2` → `1.21.0-rc.2`,
/// `go1.9beta1` → `1.9.0-beta.1`; anything after a space (` X:boringcrypto`) is dropped, and
/// so is a vendor's suffix after the release numbers (`go1.22.5-1` → `1.22.5`). `None` for a
/// name that is no release (`devel go1.22-1a2b3c`, `go1.21.x`).
pub fn toolchain_semver(name: &str) -> Option<String> {
    let v = name.split(' ').next()?.strip_prefix("go")?;
    let split = v
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(v.len());
    let (numbers, rest) = v.split_at(split);
    let mut parts: Vec<&str> = numbers.split('.').collect();
    if parts.len() > 3 || !parts.iter().all(|p| is_num(p)) {
        return None;
    }
    // Go's own pre-releases: go1.21rc2, go1.9beta1 (never after a patch number).
    let digits = rest
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (word, n) = rest.split_at(digits);
    let pre = if matches!(word, "rc" | "beta" | "alpha") && is_num(n) && parts.len() < 3 {
        format!("-{word}.{n}")
    } else {
        String::new()
    };
    parts.resize(3, "0");
    Some(format!("{}{pre}", parts.join(".")))
}

/// A parsed Go module version.
#[derive(Clone, Debug)]
pub struct GoVersion {
    core: [String; 3],
    pre: Vec<String>,
}

fn is_num(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn valid_ident(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn cmp_num(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn cmp_ident(a: &str, b: &str) -> Ordering {
    match (is_num(a), is_num(b)) {
        (true, true) => cmp_num(a, b),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

impl GoVersion {
    /// Parse a version (`v1.2.3`, `1.2.3`, `v1.2`, `v0.0.0-20210101000000-abcdef123456`,
    /// `v2.0.0+incompatible`).
    pub fn parse(s: &str) -> Result<GoVersion, VersionError> {
        let err = |r: &str| VersionError::new("go", s, r);
        let t = s.strip_prefix('v').unwrap_or(s);
        let (rest, build) = match t.split_once('+') {
            Some((r, b)) => (r, Some(b)),
            None => (t, None),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (rest, None),
        };
        let nums: Vec<&str> = core.split('.').collect();
        if nums.len() > 3 {
            return Err(err("expected vMAJOR.MINOR.PATCH"));
        }
        for n in &nums {
            if !is_num(n) {
                return Err(err("version numbers must be decimal digits"));
            }
            if n.len() > 1 && n.starts_with('0') {
                return Err(err("version numbers have no leading zeros"));
            }
        }
        if nums.len() < 3 && (pre.is_some() || build.is_some()) {
            return Err(err(
                "a pre-release or build needs all three numbers (v1.2.0-rc.1, not v1.2-rc.1)",
            ));
        }
        let mut ids = Vec::new();
        for id in pre.into_iter().flat_map(|p| p.split('.')) {
            if !valid_ident(id) {
                return Err(err("pre-release identifiers are [0-9A-Za-z-], non-empty"));
            }
            if is_num(id) && id.len() > 1 && id.starts_with('0') {
                return Err(err("numeric pre-release identifiers have no leading zeros"));
            }
            ids.push(id.to_string());
        }
        if build.is_some_and(|b| !b.split('.').all(valid_ident)) {
            return Err(err("build identifiers are [0-9A-Za-z-], non-empty"));
        }
        let num = |i: usize| nums.get(i).map_or("0", |n| n).to_string();
        Ok(GoVersion {
            core: [num(0), num(1), num(2)],
            pre: ids,
        })
    }

    /// The commit time (`yyyymmddhhmmss`, UTC) and revision of a pseudo-version, `None` for
    /// a tagged version.
    pub fn pseudo(&self) -> Option<(&str, &str)> {
        let last = self.pre.last()?;
        let (time, rev) = last.split_once('-')?;
        if time.len() != 14 || !is_num(time) || !valid_ident(rev) || rev.contains('-') {
            return None;
        }
        // vX.0.0-time-rev, or the base's pre-release (or `0`) followed by `.0.time-rev`.
        let base_ok = match self.pre.len() {
            1 => self.core[1] == "0" && self.core[2] == "0",
            n => self.pre[n - 2] == "0",
        };
        base_ok.then_some((time, rev))
    }
}

impl Ord for GoVersion {
    fn cmp(&self, o: &Self) -> Ordering {
        for i in 0..3 {
            let c = cmp_num(&self.core[i], &o.core[i]);
            if c.is_ne() {
                return c;
            }
        }
        match (self.pre.is_empty(), o.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                for (a, b) in self.pre.iter().zip(&o.pre) {
                    let c = cmp_ident(a, b);
                    if c.is_ne() {
                        return c;
                    }
                }
                self.pre.len().cmp(&o.pre.len())
            }
        }
    }
}

impl PartialOrd for GoVersion {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl PartialEq for GoVersion {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o).is_eq()
    }
}

impl Eq for GoVersion {}
