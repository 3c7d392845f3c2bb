//! Go strings are bytes: `substr`, `trunc` and `abbrev` can cut a multi-byte character, and
//! `b64dec` or `.Files.Get` can yield bytes that are not UTF-8. A Rust string cannot hold such
//! bytes, so the engine keeps each byte that is not part of a valid UTF-8 sequence as one
//! "raw byte" character: U+10FF80 + (byte − 0x80), from the end of the last private use
//! plane, which no chart text uses. Functions that work on bytes in Go (`len`, `substr`,
//! `b64enc`, `sha256sum`, `%x`, `quote`...) see the original bytes through [`go_bytes`];
//! functions that map runes (`upper`, `toJson`...) see U+FFFD as Go does; and where Helm
//! would write the raw bytes into a manifest, its YAML parser fails, so berth-chart reports
//! the same error.

use std::borrow::Cow;

const BASE: u32 = 0x10_FF80;

/// The raw-byte character of `b` (0x80..=0xFF).
fn raw_char(b: u8) -> char {
    char::from_u32(BASE + u32::from(b - 0x80)).unwrap_or('\u{FFFD}')
}

/// The byte a raw-byte character stands for.
pub fn raw_byte(c: char) -> Option<u8> {
    let u = u32::from(c);
    (BASE..=BASE + 0x7F)
        .contains(&u)
        .then(|| (u - BASE + 0x80) as u8)
}

/// Whether `s` holds any raw byte (their UTF-8 encodings start F4 8F BE or F4 8F BF).
pub fn has_raw(s: &str) -> bool {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(k) = b[from..].iter().position(|&x| x == 0xF4) {
        let i = from + k;
        if b.get(i + 1) == Some(&0x8F) && matches!(b.get(i + 2), Some(0xBE | 0xBF)) {
            return true;
        }
        from = i + 1;
    }
    false
}

/// The Go bytes of `s`: raw-byte characters back to their bytes.
pub fn go_bytes(s: &str) -> Cow<'_, [u8]> {
    if !has_raw(s) {
        return Cow::Borrowed(s.as_bytes());
    }
    let mut out = Vec::with_capacity(s.len());
    let mut buf = [0u8; 4];
    for c in s.chars() {
        match raw_byte(c) {
            Some(b) => out.push(b),
            None => out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
        }
    }
    Cow::Owned(out)
}

/// Go's `len` of a string: its byte count.
pub fn go_len(s: &str) -> usize {
    match go_bytes(s) {
        Cow::Borrowed(b) => b.len(),
        Cow::Owned(b) => b.len(),
    }
}

/// A string of Go bytes: valid UTF-8 as it is, every other byte as its raw-byte character.
pub fn from_go_bytes(b: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(b) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(b.len() + 8);
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(chunk.invalid().iter().map(|&x| raw_char(x)));
    }
    Cow::Owned(out)
}

/// `s` with raw bytes that form valid UTF-8 together (after concatenation) merged back into
/// their characters.
pub fn normalize(s: String) -> String {
    if !has_raw(&s) {
        return s;
    }
    from_go_bytes(&go_bytes(&s)).into_owned()
}

/// `s` as Go's rune-wise functions see it: every raw byte is U+FFFD.
pub fn lossy(s: &str) -> Cow<'_, str> {
    if !has_raw(s) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| if raw_byte(c).is_some() { '\u{FFFD}' } else { c })
            .collect(),
    )
}

/// Go's slicing of a string's bytes `[from..to]`, as a string.
pub fn slice(s: &str, from: usize, to: usize) -> String {
    if !has_raw(s) && s.is_char_boundary(from) && s.is_char_boundary(to) {
        return s[from..to].to_owned();
    }
    from_go_bytes(&go_bytes(s)[from..to]).into_owned()
}

/// What go-yaml says of text that is not UTF-8, for the first raw byte of `s` (as the
/// manifest parser meets it), or `None` when `s` is all UTF-8.
pub fn yaml_utf8_error(s: &str) -> Option<&'static str> {
    if !has_raw(s) {
        return None;
    }
    let b = go_bytes(s);
    // go-yaml's reader: the lead octet gives the width, then every trailing octet must be
    // 10xxxxxx.
    let mut p = 0;
    for chunk in b.utf8_chunks() {
        p += chunk.valid().len();
        if !chunk.invalid().is_empty() {
            break;
        }
    }
    let lead = *b.get(p)?;
    let width = match lead {
        x if x & 0xE0 == 0xC0 => 2,
        x if x & 0xF0 == 0xE0 => 3,
        x if x & 0xF8 == 0xF0 => 4,
        _ => return Some("invalid leading UTF-8 octet"),
    };
    let trail = &b[p + 1..b.len().min(p + width)];
    Some(if trail.iter().any(|&t| t & 0xC0 != 0x80) {
        "invalid trailing UTF-8 octet"
    } else if p + width > b.len() {
        "incomplete UTF-8 octet sequence"
    } else {
        "invalid Unicode character"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_bytes() {
        let bytes = [b'a', 0xC3, b' ', 0xA9, 0xFF, b'z'];
        let s = from_go_bytes(&bytes);
        assert_eq!(&*go_bytes(&s), &bytes);
        assert_eq!(go_len(&s), 6);
        assert_eq!(lossy(&s), "a\u{FFFD} \u{FFFD}\u{FFFD}z");
        assert_eq!(slice("é", 0, 1).chars().count(), 1);
        // Two halves of é joined are é again.
        let joined = format!("{}{}", slice("é", 0, 1), slice("é", 1, 2));
        assert_eq!(normalize(joined), "é");
        assert_eq!(
            yaml_utf8_error(&slice("é", 1, 2)),
            Some("invalid leading UTF-8 octet")
        );
        assert_eq!(
            yaml_utf8_error(&slice("éa", 0, 1)),
            Some("incomplete UTF-8 octet sequence")
        );
        assert_eq!(
            yaml_utf8_error(&format!("{}\n", slice("é", 0, 1))),
            Some("invalid trailing UTF-8 octet")
        );
        assert_eq!(yaml_utf8_error("plain"), None);
    }
}
