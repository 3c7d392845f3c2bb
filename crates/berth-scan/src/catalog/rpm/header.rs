//! An rpm header as the package databases store it (a "header blob", without the lead and
//! the 8-byte magic of a package file): big-endian `il` (index entries) and `dl` (data
//! bytes), `il` 16-byte entries `{tag, type, offset, count}`, then the data store.
//!
//! Every offset, count and length is checked against the blob before it is used, and no
//! allocation is sized from a field that was not checked against the bytes actually present,
//! so a hostile blob yields an [`HeaderError`] and never a panic or a huge allocation.

use std::fmt;

/// Most index entries accepted (rpm's own `hdrchkTags` limit).
pub const MAX_TAGS: u32 = 0xffff;
/// Most data bytes accepted (rpm's own `hdrchkData` limit: 256 MiB).
pub const MAX_DATA: u32 = 0x0fff_ffff;

/// Tags berth reads.
pub mod tag {
    /// Package name.
    pub const NAME: u32 = 1000;
    /// Upstream version.
    pub const VERSION: u32 = 1001;
    /// Release.
    pub const RELEASE: u32 = 1002;
    /// Epoch (INT32).
    pub const EPOCH: u32 = 1003;
    /// Vendor.
    pub const VENDOR: u32 = 1011;
    /// License.
    pub const LICENSE: u32 = 1014;
    /// Architecture.
    pub const ARCH: u32 = 1022;
    /// Source rpm file name (`util-linux-2.32.1-42.el8_8.src.rpm`).
    pub const SOURCERPM: u32 = 1044;
    /// Module stream of a modular package (`nodejs:20:…`).
    pub const MODULARITYLABEL: u32 = 5096;
}

/// Data types of index entries.
mod kind {
    pub const NULL: u32 = 0;
    pub const CHAR: u32 = 1;
    pub const INT8: u32 = 2;
    pub const INT16: u32 = 3;
    pub const INT32: u32 = 4;
    pub const INT64: u32 = 5;
    pub const STRING: u32 = 6;
    pub const BIN: u32 = 7;
    pub const STRING_ARRAY: u32 = 8;
    pub const I18NSTRING: u32 = 9;
}

/// Why a header blob was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderError(pub String);

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad<T>(msg: impl Into<String>) -> Result<T, HeaderError> {
    Err(HeaderError(msg.into()))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// One index entry.
#[derive(Clone, Copy, Debug)]
struct Entry {
    tag: u32,
    kind: u32,
    offset: u32,
    count: u32,
}

/// A parsed header: its index and data store, borrowed from the blob.
#[derive(Debug)]
pub struct Header<'a> {
    entries: Vec<Entry>,
    data: &'a [u8],
}

impl<'a> Header<'a> {
    /// Check a blob's structure: counts within limits and within the bytes present, every
    /// entry of a known type with its data inside the store.
    pub fn parse(blob: &'a [u8]) -> Result<Header<'a>, HeaderError> {
        let (Some(il), Some(dl)) = (be32(blob, 0), be32(blob, 4)) else {
            return bad(format!(
                "header blob of {} bytes is shorter than its 8-byte preamble",
                blob.len()
            ));
        };
        if il == 0 || il > MAX_TAGS {
            return bad(format!(
                "header claims {il} index entries (allowed: 1 to {MAX_TAGS})"
            ));
        }
        if dl > MAX_DATA {
            return bad(format!(
                "header claims {dl} data bytes (more than the {MAX_DATA} rpm allows)"
            ));
        }
        let index_end = 8 + 16 * il as usize;
        let end = index_end + dl as usize;
        if blob.len() < end {
            return bad(format!(
                "header claims {il} entries and {dl} data bytes ({end} bytes) but the blob has {}",
                blob.len()
            ));
        }
        let data = &blob[index_end..end];
        let mut entries = Vec::with_capacity(il as usize);
        for i in 0..il as usize {
            let at = 8 + 16 * i;
            let e = Entry {
                tag: be32(blob, at).unwrap_or(0),
                kind: be32(blob, at + 4).unwrap_or(0),
                offset: be32(blob, at + 8).unwrap_or(0),
                count: be32(blob, at + 12).unwrap_or(0),
            };
            if e.kind > kind::I18NSTRING {
                return bad(format!(
                    "index entry {i} (tag {}) has unknown type {}",
                    e.tag, e.kind
                ));
            }
            // (A negative offset, as rpm's signed field, is a huge u32: caught here too.)
            if e.offset > dl {
                return bad(format!(
                    "index entry {i} (tag {}) points at offset {} outside the {dl}-byte data store",
                    e.tag, e.offset as i32
                ));
            }
            if e.count == 0 && e.kind != kind::NULL {
                return bad(format!("index entry {i} (tag {}) has count 0", e.tag));
            }
            entries.push(e);
        }
        Ok(Header { entries, data })
    }

    fn entry(&self, tag: u32) -> Option<&Entry> {
        self.entries.iter().find(|e| e.tag == tag)
    }

    /// The first string of a STRING, STRING_ARRAY or I18NSTRING entry; `Ok(None)` when the
    /// tag is absent.
    pub fn string(&self, tag: u32) -> Result<Option<&'a str>, HeaderError> {
        let Some(e) = self.entry(tag) else {
            return Ok(None);
        };
        if !matches!(e.kind, kind::STRING | kind::STRING_ARRAY | kind::I18NSTRING) {
            return bad(format!("tag {tag} has type {}, not a string", e.kind));
        }
        let rest = &self.data[e.offset as usize..];
        let Some(nul) = rest.iter().position(|b| *b == 0) else {
            return bad(format!(
                "string of tag {tag} runs past the end of the data store"
            ));
        };
        std::str::from_utf8(&rest[..nul])
            .map(Some)
            .or_else(|_| bad(format!("string of tag {tag} is not UTF-8")))
    }

    /// The first value of an integer entry (INT8/16/32/64, CHAR), `Ok(None)` when absent.
    pub fn int(&self, tag: u32) -> Result<Option<u64>, HeaderError> {
        let Some(e) = self.entry(tag) else {
            return Ok(None);
        };
        let width = match e.kind {
            kind::CHAR | kind::INT8 => 1,
            kind::INT16 => 2,
            kind::INT32 => 4,
            kind::INT64 => 8,
            k => return bad(format!("tag {tag} has type {k}, not an integer")),
        };
        let at = e.offset as usize;
        let Some(b) = self.data.get(at..at + width) else {
            return bad(format!(
                "integer of tag {tag} runs past the end of the data store"
            ));
        };
        Ok(Some(b.iter().fold(0u64, |n, x| (n << 8) | u64::from(*x))))
    }

    /// Check every entry's data lies inside the store (what `rpm -qi` would touch); the
    /// property test runs this on mutated headers.
    pub fn validate_all(&self) -> Result<(), HeaderError> {
        for e in &self.entries {
            let at = e.offset as usize;
            let n = e.count as usize;
            let need = match e.kind {
                kind::NULL => 0,
                kind::CHAR | kind::INT8 | kind::BIN => n,
                kind::INT16 => n.saturating_mul(2),
                kind::INT32 => n.saturating_mul(4),
                kind::INT64 => n.saturating_mul(8),
                _ => {
                    // n NUL-terminated strings.
                    let mut p = at;
                    for _ in 0..n {
                        let Some(nul) = self
                            .data
                            .get(p..)
                            .and_then(|r| r.iter().position(|b| *b == 0))
                        else {
                            return bad(format!(
                                "strings of tag {} run past the end of the data store",
                                e.tag
                            ));
                        };
                        p += nul + 1;
                    }
                    0
                }
            };
            if at.saturating_add(need) > self.data.len() {
                return bad(format!(
                    "data of tag {} ({need} bytes at {at}) runs past the end of the data store",
                    e.tag
                ));
            }
        }
        Ok(())
    }
}
