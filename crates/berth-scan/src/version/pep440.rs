//! PEP 440 versions (the basics berth needs to compare PyPI advisories): epoch, release,
//! pre-release (`a`/`b`/`rc` and their spellings), post-release, dev-release and local
//! labels, normalised as `packaging.version.Version` does and ordered as it orders them.

use super::VersionError;
use regex::Regex;
use std::cmp::Ordering;
use std::sync::OnceLock;

/// A parsed PEP 440 version.
#[derive(Clone, Debug)]
pub struct Pep440 {
    /// Epoch (`N!`).
    pub epoch: u64,
    /// Release numbers.
    pub release: Vec<u64>,
    /// Pre-release: (0 = a, 1 = b, 2 = rc, number).
    pub pre: Option<(u8, u64)>,
    /// Post-release number.
    pub post: Option<u64>,
    /// Dev-release number.
    pub dev: Option<u64>,
    /// Local label segments.
    pub local: Vec<LocalPart>,
}

/// One segment of a local version label.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LocalPart {
    /// Alphanumeric segments sort before numeric ones, lexically.
    Text(String),
    /// Numeric segments compare as numbers.
    Number(u64),
}

fn pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // The grammar of PEP 440's appendix B (permissive spellings included).
        Regex::new(
            r"(?ix)^\s*v?
            (?:(?P<epoch>[0-9]+)!)?
            (?P<release>[0-9]+(?:\.[0-9]+)*)
            (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
            (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
            (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
            (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
            \s*$",
        )
        .unwrap_or_else(|e| unreachable!("static regex: {e}"))
    })
}

fn num(v: &str, s: Option<regex::Match>) -> Result<u64, VersionError> {
    match s {
        None => Ok(0),
        Some(m) => m
            .as_str()
            .parse()
            .map_err(|_| VersionError::new("PEP 440", v, "number too large")),
    }
}

impl Pep440 {
    /// Parse a version string.
    pub fn parse(v: &str) -> Result<Pep440, VersionError> {
        let c = pattern()
            .captures(v)
            .ok_or_else(|| VersionError::new("PEP 440", v, "not a PEP 440 version"))?;
        let release = c["release"]
            .split('.')
            .map(|p| {
                p.parse()
                    .map_err(|_| VersionError::new("PEP 440", v, "number too large"))
            })
            .collect::<Result<Vec<u64>, _>>()?;
        let pre = match c.name("pre_l") {
            None => None,
            Some(l) => {
                let kind = match l.as_str().to_ascii_lowercase().as_str() {
                    "a" | "alpha" => 0,
                    "b" | "beta" => 1,
                    _ => 2, // rc, c, pre, preview
                };
                Some((kind, num(v, c.name("pre_n"))?))
            }
        };
        let post = if c.name("post").is_some() {
            Some(num(v, c.name("post_n1").or(c.name("post_n2")))?)
        } else {
            None
        };
        let dev = match c.name("dev") {
            Some(_) => Some(num(v, c.name("dev_n"))?),
            None => None,
        };
        let local = c
            .name("local")
            .map(|l| {
                l.as_str()
                    .split(['-', '_', '.'])
                    .map(|p| match p.parse::<u64>() {
                        Ok(n) => LocalPart::Number(n),
                        Err(_) => LocalPart::Text(p.to_ascii_lowercase()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Pep440 {
            epoch: num(v, c.name("epoch"))?,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    /// The sort key of `packaging`: trailing zeros of the release do not count; a
    /// dev-only release sorts before its pre-releases; no post sorts before any post.
    fn key(&self) -> impl Ord + '_ {
        let mut rel = self.release.as_slice();
        while let [rest @ .., 0] = rel {
            rel = rest;
        }
        // (rank, kind, n): rank 0 = before all pre-releases, 1 = a pre-release, 2 = final.
        let pre = match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => (0u8, 0u8, 0u64),
            (Some((k, n)), _, _) => (1, k, n),
            (None, _, _) => (2, 0, 0),
        };
        let post = self.post.map_or((0u8, 0u64), |n| (1, n));
        let dev = self.dev.map_or((1u8, 0u64), |n| (0, n));
        // No local label sorts before any local label.
        let local = (!self.local.is_empty(), self.local.as_slice());
        (self.epoch, rel, pre, post, dev, local)
    }
}

impl PartialEq for Pep440 {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pep440 {}
impl PartialOrd for Pep440 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pep440 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}
