//! Berkeley DB hash databases, as rpm ≤ 4.15 wrote `var/lib/rpm/Packages` (RHEL/CentOS 5–8,
//! Amazon Linux 2): the values of every key/value pair, read page by page from the bytes.
//!
//! Layout (Berkeley DB's `dbinc/db_page.h`, host byte order of the machine that wrote it,
//! told apart by the magic): page 0 is the hash metadata page (magic `0x061561` at byte 12,
//! page size at 20, page type 8 at 25, last page number at 32). Every other page starts with
//! a 26-byte header (page number at 8, next page at 16, entry count at 20, `hf_offset` at 22,
//! type at 25). Hash pages (types 2 and 13) hold an array of `entries` 16-bit item offsets
//! after the header; items alternate key, value. An item is a type byte then, for
//! `H_KEYDATA` (1), the bytes up to the previous item, or for `H_OFFPAGE` (3) three unused
//! bytes, the first overflow page (u32) and the total length (u32). Overflow pages (type 7)
//! carry `hf_offset` bytes of data after their header and chain through "next page".
//!
//! The value of a pair in rpm's Packages is a header blob (the key is its 4-byte number),
//! except under key 0, where rpm keeps the next package number.
//! Checks: the page size and every page number against the file, item offsets against the
//! page, overflow chains against a visited set and the declared length (which cannot exceed
//! the file), so a hostile file yields an error, never a panic or an allocation larger than
//! the file.

use std::collections::HashSet;

/// Why a database file was refused.
pub type Error = String;

const HASH_MAGIC: u32 = 0x0006_1561;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;
const PAGE_HEADER: usize = 26;

/// A hash database over the bytes of its file.
pub struct Db<'a> {
    data: &'a [u8],
    big: bool,
    page_size: usize,
    last_page: u32,
}

impl<'a> Db<'a> {
    /// Check the metadata page.
    pub fn open(data: &'a [u8]) -> Result<Db<'a>, Error> {
        let word = |at: usize, big: bool| -> Option<u32> {
            let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
            Some(if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            })
        };
        let big = match (word(12, false), word(12, true)) {
            (Some(HASH_MAGIC), _) => false,
            (_, Some(HASH_MAGIC)) => true,
            _ => {
                return Err(
                    "not a Berkeley DB hash database (no hash magic 0x061561 at byte 12)".into(),
                );
            }
        };
        if data.len() < 512 {
            return Err(format!(
                "{} bytes are shorter than a Berkeley DB metadata page",
                data.len()
            ));
        }
        let page_size = word(20, big).unwrap_or(0) as usize;
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(format!(
                "page size {page_size} is not a Berkeley DB page size"
            ));
        }
        if data[24] != 0 {
            return Err("the database is encrypted".into());
        }
        if data[25] != P_HASHMETA {
            return Err(format!(
                "page 0 has type {}, not a hash metadata page",
                data[25]
            ));
        }
        let last_page = word(32, big).unwrap_or(0);
        let pages_in_file = data.len() / page_size;
        if last_page as usize >= pages_in_file {
            return Err(format!(
                "the metadata page names {} pages; the file holds {pages_in_file} of {page_size} bytes (truncated?)",
                u64::from(last_page) + 1
            ));
        }
        Ok(Db {
            data,
            big,
            page_size,
            last_page,
        })
    }

    fn u16_at(&self, b: &[u8], at: usize) -> Option<usize> {
        let a: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(if self.big {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        } as usize)
    }

    fn u32_at(&self, b: &[u8], at: usize) -> Option<u32> {
        let a: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if self.big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }

    fn page(&self, n: u32) -> Result<&'a [u8], Error> {
        if n == 0 || n > self.last_page {
            return Err(format!(
                "page {n} is outside the database (pages 1 to {})",
                self.last_page
            ));
        }
        let at = n as usize * self.page_size;
        self.data
            .get(at..at + self.page_size)
            .ok_or_else(|| format!("page {n} is past the end of the file"))
    }

    /// A value stored on overflow pages from `first`, `len` bytes long.
    fn overflow(&self, first: u32, len: u32) -> Result<Vec<u8>, Error> {
        let len = len as usize;
        if len > self.data.len() {
            return Err(format!(
                "an overflow item claims {len} bytes, more than the whole file"
            ));
        }
        let mut out = Vec::with_capacity(len);
        let mut next = first;
        let mut seen = HashSet::new();
        while out.len() < len {
            if !seen.insert(next) {
                return Err(format!("overflow chain loops at page {next}"));
            }
            let p = self.page(next)?;
            if p[25] != P_OVERFLOW {
                return Err(format!(
                    "page {next} of an overflow chain has type {}",
                    p[25]
                ));
            }
            let used = self.u16_at(p, 22).unwrap_or(0);
            let chunk = p
                .get(PAGE_HEADER..PAGE_HEADER + used)
                .ok_or_else(|| format!("overflow page {next} claims {used} bytes"))?;
            if chunk.is_empty() {
                return Err(format!("overflow page {next} holds no data"));
            }
            out.extend_from_slice(&chunk[..chunk.len().min(len - out.len())]);
            next = self.u32_at(p, 16).unwrap_or(0);
            if next == 0 && out.len() < len {
                return Err(format!(
                    "overflow chain ends after {} of {len} bytes",
                    out.len()
                ));
            }
        }
        Ok(out)
    }

    /// Call `f` with every value (not key) of the hash pages, in page order.
    pub fn values(&self, f: &mut dyn FnMut(&[u8]) -> Result<(), Error>) -> Result<(), Error> {
        for n in 1..=self.last_page {
            let p = self.page(n)?;
            if p[25] != P_HASH && p[25] != P_HASH_UNSORTED {
                continue;
            }
            let entries = self.u16_at(p, 20).unwrap_or(0);
            if PAGE_HEADER + 2 * entries > self.page_size {
                return Err(format!(
                    "hash page {n} claims {entries} entries, more than fit a page"
                ));
            }
            let offset = |i: usize| -> Result<usize, Error> {
                let o = self.u16_at(p, PAGE_HEADER + 2 * i).unwrap_or(0);
                if o < PAGE_HEADER + 2 * entries || o >= self.page_size {
                    return Err(format!(
                        "item {i} of hash page {n} is at offset {o}, outside its items"
                    ));
                }
                Ok(o)
            };
            // Values are the odd items.
            for i in (1..entries).step_by(2) {
                let at = offset(i)?;
                // rpm keeps its next package number under key 0 (a 4-byte value): no header.
                let key_at = offset(i - 1)?;
                let key_end = if i == 1 {
                    self.page_size
                } else {
                    offset(i - 2)?
                };
                if p[key_at] == H_KEYDATA && p.get(key_at + 1..key_end) == Some(&[0u8; 4][..]) {
                    continue;
                }
                match p[at] {
                    H_OFFPAGE => {
                        let (Some(first), Some(len)) =
                            (self.u32_at(p, at + 4), self.u32_at(p, at + 8))
                        else {
                            return Err(format!("off-page item {i} of page {n} is cut off"));
                        };
                        f(&self.overflow(first, len)?)?;
                    }
                    H_KEYDATA => {
                        // An item ends where the previous one (stored above it) begins.
                        let end = offset(i - 1)?;
                        if end <= at {
                            return Err(format!(
                                "items {} and {i} of hash page {n} overlap",
                                i - 1
                            ));
                        }
                        f(&p[at + 1..end])?;
                    }
                    t => {
                        return Err(format!(
                            "item {i} of hash page {n} has type {t}, which rpm's Packages does not use"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
