//! dpkg version order (`deb-version(7)`): `[epoch:]upstream[-revision]`, compared part by
//! part; within a part, runs of non-digits compare by dpkg's character order (letters
//! before other symbols, `~` before everything including the end) and runs of digits
//! numerically. Parsing is as strict as `dpkg --compare-versions` (which refuses what
//! dpkg only warns about), so a malformed version is reported instead of mis-ordered.

use super::VersionError;
use std::cmp::Ordering;

/// A parsed Debian version.
#[derive(Clone, Debug)]
pub struct DebVersion {
    /// Epoch (0 when absent).
    pub epoch: u32,
    /// Upstream version.
    pub upstream: String,
    /// Debian revision ("" when absent).
    pub revision: String,
}

fn err(v: &str, reason: &str) -> VersionError {
    VersionError::new("dpkg", v, reason)
}

impl DebVersion {
    /// Parse a version, trimming surrounding whitespace as dpkg does.
    pub fn parse(text: &str) -> Result<DebVersion, VersionError> {
        let s = text.trim();
        if s.is_empty() {
            return Err(err(text, "version string is empty"));
        }
        if s.chars().any(char::is_whitespace) {
            return Err(err(text, "version string has embedded spaces"));
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err(text, "epoch in version is not a number"));
                }
                let n: u32 = e
                    .parse()
                    .ok()
                    .filter(|n| *n <= i32::MAX as u32)
                    .ok_or_else(|| err(text, "epoch in version is too big"))?;
                if rest.is_empty() {
                    return Err(err(text, "nothing after colon in version number"));
                }
                (n, rest)
            }
            None => (0, s),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(err(text, "version number is empty"));
        }
        if !upstream.as_bytes()[0].is_ascii_digit() {
            return Err(err(text, "version number does not start with digit"));
        }
        let up_ok = |c: char| c.is_ascii_alphanumeric() || ".-+~:".contains(c);
        if !upstream.chars().all(up_ok) {
            return Err(err(text, "invalid character in version number"));
        }
        let rev_ok = |c: char| c.is_ascii_alphanumeric() || ".+~".contains(c);
        if !revision.chars().all(rev_ok) {
            return Err(err(text, "invalid character in revision number"));
        }
        Ok(DebVersion {
            epoch,
            upstream: upstream.to_string(),
            revision: revision.to_string(),
        })
    }
}

impl PartialEq for DebVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for DebVersion {}
impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for DebVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_part(self.upstream.as_bytes(), other.upstream.as_bytes()))
            .then_with(|| compare_part(self.revision.as_bytes(), other.revision.as_bytes()))
    }
}

/// Weight of a character in a non-digit run: `~` below the end of the string, the end
/// and digits at 0, letters by code, everything else after all letters.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn is_digit(c: Option<&u8>) -> bool {
    c.is_some_and(u8::is_ascii_digit)
}

/// Compare one part (upstream or revision) the way dpkg does.
pub fn compare_part(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        // Non-digit prefix, character by character.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (wa, wb) = (weight(a.get(i).copied()), weight(b.get(j).copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        // Digit run: skip leading zeros, then longer run wins, else first differing digit.
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while is_digit(a.get(i)) && is_digit(b.get(j)) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if is_digit(a.get(i)) {
            return Ordering::Greater;
        }
        if is_digit(b.get(j)) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}
