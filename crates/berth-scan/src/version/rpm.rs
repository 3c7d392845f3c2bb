//! rpm version order: `[epoch:]version[-release]` (EVR), compared as rpm does
//! (`rpmvercmp` of lib/rpmvercmp.c for version and release, epochs as numbers).
//!
//! Within a part: separators (anything but ASCII letters, digits, `~` and `^`) only split
//! segments; a digit run compares numerically (leading zeros ignored, a longer run wins) and
//! beats a letter run; letter runs compare bytewise; `~` sorts before everything, even the end
//! of the string (`1.0~rc1 < 1.0`); `^` sorts after the end of the string but before anything
//! else (`1.0 < 1.0^git1 < 1.0.1`); past the last common segment, the side with characters left
//! wins. A missing epoch is 0 and a missing release is empty (`1.0 < 1.0-5`), as rpm's own
//! `rpm.vercmp` compares two EVR strings.

use super::VersionError;
use std::cmp::Ordering;

/// A parsed EVR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpmVersion {
    /// Epoch (0 when absent).
    pub epoch: u64,
    /// Version.
    pub version: String,
    /// Release ("" when absent).
    pub release: String,
}

fn err(v: &str, reason: &str) -> VersionError {
    VersionError::new("rpm", v, reason)
}

impl RpmVersion {
    /// Parse an EVR string (`1:3.0.7-27.el9`, `2.34-60.el9`, `0:1.9.5p2-10.el9_6.1`).
    pub fn parse(text: &str) -> Result<RpmVersion, VersionError> {
        let s = text.trim();
        if s.is_empty() {
            return Err(err(text, "version string is empty"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(text, "version string has spaces or control characters"));
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err(text, "epoch is not a number"));
                }
                let n: u64 = e
                    .parse()
                    .ok()
                    .filter(|n| *n <= u64::from(u32::MAX))
                    .ok_or_else(|| err(text, "epoch is too big"))?;
                (n, rest)
            }
            None => (0, s),
        };
        if rest.contains(':') {
            return Err(err(text, "more than one `:`"));
        }
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v, r),
            None => (rest, ""),
        };
        if version.is_empty() {
            return Err(err(text, "version part is empty"));
        }
        Ok(RpmVersion {
            epoch,
            version: version.to_string(),
            release: release.to_string(),
        })
    }

    /// The EVR text rpm shows (`E:` only when the epoch is not 0).
    pub fn to_evr(&self) -> String {
        let mut s = String::new();
        if self.epoch != 0 {
            s.push_str(&format!("{}:", self.epoch));
        }
        s.push_str(&self.version);
        if !self.release.is_empty() {
            s.push('-');
            s.push_str(&self.release);
        }
        s
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| rpmvercmp(&self.release, &other.release))
    }
}

impl PartialOrd for RpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// rpm's `rpmvercmp` over one part (a version or a release).
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while i < a.len() && sep(a[i]) {
            i += 1;
        }
        while j < b.len() && sep(b[j]) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca.is_none() && cb.is_none() {
            return Ordering::Equal;
        }
        // `~` sorts before everything else, the end of the string included.
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // `^` sorts after the end of the string, before anything else.
        if ca == Some(b'^') || cb == Some(b'^') {
            match (ca, cb) {
                (None, _) => return Ordering::Less,
                (_, None) => return Ordering::Greater,
                (Some(x), _) if x != b'^' => return Ordering::Greater,
                (_, Some(y)) if y != b'^' => return Ordering::Less,
                _ => {}
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(ca), Some(_)) = (ca, cb) else {
            break;
        };
        let numeric = ca.is_ascii_digit();
        let class = |c: u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let si = i;
        while i < a.len() && class(a[i]) {
            i += 1;
        }
        let sj = j;
        while j < b.len() && class(b[j]) {
            j += 1;
        }
        let (mut x, mut y) = (&a[si..i], &b[sj..j]);
        if y.is_empty() {
            // Different kinds of segment: a number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        if numeric {
            while x.first() == Some(&b'0') {
                x = &x[1..];
            }
            while y.first() == Some(&b'0') {
                y = &y[1..];
            }
            match x.len().cmp(&y.len()) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        match x.cmp(y) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    // Whichever still has characters left wins.
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evr_text_round_trips() {
        let v = RpmVersion::parse("1:3.0.7-27.el9").unwrap();
        assert_eq!(
            (v.epoch, v.version.as_str(), v.release.as_str()),
            (1, "3.0.7", "27.el9")
        );
        assert_eq!(v.to_evr(), "1:3.0.7-27.el9");
        assert_eq!(RpmVersion::parse("0:1.0-1").unwrap().to_evr(), "1.0-1");
        assert!(RpmVersion::parse("").is_err());
        assert!(RpmVersion::parse("x:1").is_err());
        assert!(RpmVersion::parse("1:2:3").is_err());
        assert!(RpmVersion::parse("1:-1").is_err());
    }
}
