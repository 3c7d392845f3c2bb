//! Just enough of the SQLite file format (https://www.sqlite.org/fileformat2.html) to read
//! one table's rows from the bytes of a database file: the header, the schema table on page 1,
//! table b-trees (interior and leaf pages), overflow chains, the record format, and the
//! committed frames of a write-ahead log. Read-only, from memory, no SQL.
//!
//! Bounds: every page number is checked against the page count, a b-tree page is visited at
//! most once (a cycle is an error, not a loop), the tree is at most 64 levels deep, and a
//! payload is never longer than the file, so a hostile file costs at most its own size.

use std::collections::{HashMap, HashSet};

/// Why a database file was refused.
pub type Error = String;

/// What is called with each row: (rowid, record payload).
pub type RowFn<'f> = dyn FnMut(i64, &[u8]) -> Result<(), Error> + 'f;

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_be_bytes(b.get(at..at.checked_add(2)?)?.try_into().ok()?) as usize)
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// A SQLite varint at `at`: (value, bytes used).
fn varint(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..9 {
        let byte = *b.get(at + i)?;
        if i == 8 {
            return Some(((v << 8) | u64::from(byte), 9));
        }
        v = (v << 7) | u64::from(byte & 0x7f);
        if byte < 0x80 {
            return Some((v, i + 1));
        }
    }
    None
}

/// A column value of a record.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// NULL (also an INTEGER PRIMARY KEY column: its value is the rowid).
    Null,
    /// An integer.
    Int(i64),
    /// A float (its bits; not interpreted).
    Float(u64),
    /// A BLOB.
    Blob(&'a [u8]),
    /// TEXT (bytes as stored).
    Text(&'a [u8]),
}

/// Split a record (header of serial types, then values) into its columns.
pub fn record(p: &[u8]) -> Result<Vec<Value<'_>>, Error> {
    let (hlen, used) = varint(p, 0).ok_or("record header length is cut off")?;
    let hlen = usize::try_from(hlen).map_err(|_| "record header too long")?;
    if hlen > p.len() || hlen < used {
        return Err(format!(
            "record header of {hlen} bytes does not fit a {}-byte record",
            p.len()
        ));
    }
    let mut at = used;
    let mut body = hlen;
    let mut out = Vec::new();
    while at < hlen {
        let (t, n) = varint(p, at).ok_or("serial type is cut off")?;
        at += n;
        let size = match t {
            0 | 8 | 9 => 0,
            1..=4 => t as usize,
            5 => 6,
            6 | 7 => 8,
            10 | 11 => return Err(format!("reserved serial type {t}")),
            t => usize::try_from((t - 12) / 2).map_err(|_| "value too long")?,
        };
        let v = p
            .get(body..body.checked_add(size).ok_or("value too long")?)
            .ok_or_else(|| format!("a value of {size} bytes runs past the end of its record"))?;
        body += size;
        out.push(match t {
            0 => Value::Null,
            1..=6 => {
                let mut n = if v[0] & 0x80 != 0 { -1i64 } else { 0 };
                for b in v {
                    n = (n << 8) | i64::from(*b);
                }
                Value::Int(n)
            }
            7 => Value::Float(v.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b))),
            8 => Value::Int(0),
            9 => Value::Int(1),
            t if t % 2 == 0 => Value::Blob(v),
            _ => Value::Text(v),
        });
    }
    Ok(out)
}

/// A database image: the main file with the committed pages of its WAL applied.
pub struct Db<'a> {
    main: &'a [u8],
    /// Page number → content, from the WAL (newest committed frame wins).
    wal: HashMap<u32, &'a [u8]>,
    page_size: usize,
    usable: usize,
    pages: u32,
}

const MAGIC: &[u8] = b"SQLite format 3\0";

impl<'a> Db<'a> {
    /// Open the bytes of a database file and, when given, of its `-wal` file.
    pub fn open(main: &'a [u8], wal: Option<&'a [u8]>) -> Result<Db<'a>, Error> {
        if main.len() < 100 || &main[..16] != MAGIC {
            return Err("not an SQLite 3 database (no `SQLite format 3` header)".into());
        }
        let page_size = match be16(main, 16).unwrap_or(0) {
            1 => 65536,
            n if (512..=32768).contains(&n) && n.is_power_of_two() => n,
            n => return Err(format!("page size {n} is not a valid SQLite page size")),
        };
        let reserved = main[20] as usize;
        let usable = page_size.saturating_sub(reserved);
        if usable < 480 {
            return Err(format!(
                "{reserved} reserved bytes per page leave too little of a {page_size}-byte page"
            ));
        }
        if main[56..60] != [0, 0, 0, 1] && main[56..60] != [0, 0, 0, 0] {
            return Err("text encoding is not UTF-8".into());
        }
        let mut db = Db {
            main,
            wal: HashMap::new(),
            page_size,
            usable,
            pages: u32::try_from(main.len() / page_size).unwrap_or(u32::MAX),
        };
        if let Some(w) = wal.filter(|w| !w.is_empty()) {
            db.apply_wal(w)?;
        }
        Ok(db)
    }

    /// Index the frames of a WAL up to its last commit (salts must match the WAL header and
    /// the running checksum must hold, as SQLite itself requires before using a frame).
    fn apply_wal(&mut self, w: &'a [u8]) -> Result<(), Error> {
        let magic = be32(w, 0).ok_or("WAL header is cut off")?;
        let big = match magic {
            0x377f_0682 => false,
            0x377f_0683 => true,
            _ => return Err("the -wal file is not an SQLite write-ahead log".into()),
        };
        let psize = be32(w, 8).ok_or("WAL header is cut off")? as usize;
        if psize != self.page_size {
            return Err(format!(
                "WAL page size {psize} differs from the database's {}",
                self.page_size
            ));
        }
        let (salt1, salt2) = (be32(w, 16), be32(w, 20));
        let mut sum = checksum(big, &w[..24.min(w.len())], (0, 0));
        if (be32(w, 24), be32(w, 28)) != (Some(sum.0), Some(sum.1)) {
            return Err("WAL header checksum does not match".into());
        }
        let mut pending: Vec<(u32, &'a [u8])> = Vec::new();
        let mut at = 32usize;
        let frame = 24 + psize;
        while let Some(f) = w.get(at..at + frame) {
            if (be32(f, 8), be32(f, 12)) != (salt1, salt2) {
                break;
            }
            sum = checksum(big, &f[..8], sum);
            sum = checksum(big, &f[24..], sum);
            if (be32(f, 16), be32(f, 20)) != (Some(sum.0), Some(sum.1)) {
                break;
            }
            let page = be32(f, 0).unwrap_or(0);
            pending.push((page, &f[24..]));
            let commit_size = be32(f, 4).unwrap_or(0);
            if commit_size != 0 {
                for (p, data) in pending.drain(..) {
                    self.wal.insert(p, data);
                }
                self.pages = commit_size;
            }
            at += frame;
        }
        Ok(())
    }

    fn page(&self, n: u32) -> Result<&'a [u8], Error> {
        if n == 0 || n > self.pages {
            return Err(format!(
                "page {n} is outside the database ({} pages)",
                self.pages
            ));
        }
        if let Some(p) = self.wal.get(&n) {
            return Ok(p);
        }
        let at = (n as usize - 1) * self.page_size;
        self.main
            .get(at..at + self.page_size)
            .ok_or_else(|| format!("page {n} is past the end of the file"))
    }

    /// The payload of a table leaf cell whose local part starts at `at` (after its varints),
    /// reading the overflow chain when the payload does not fit the page.
    fn payload(&self, page: &'a [u8], at: usize, len: u64) -> Result<Vec<u8>, Error> {
        let max_len = (self.main.len() + self.wal.len() * self.page_size) as u64;
        if len > max_len {
            return Err(format!(
                "a cell claims a {len}-byte payload, more than the whole file"
            ));
        }
        let len = len as usize;
        let u = self.usable;
        // Table leaf cells keep up to U-35 bytes on the page (fileformat2 §1.6).
        let x = u - 35;
        let local = if len <= x {
            len
        } else {
            let m = (u - 12) * 32 / 255 - 23;
            let k = m + (len - m) % (u - 4);
            if k <= x { k } else { m }
        };
        let mut out = Vec::with_capacity(local);
        out.extend_from_slice(
            page.get(at..at + local)
                .ok_or("a cell's payload runs past the end of its page")?,
        );
        if local < len {
            let mut next = be32(page, at + local).ok_or("overflow page number is cut off")?;
            let mut seen = HashSet::new();
            while out.len() < len {
                if !seen.insert(next) {
                    return Err(format!("overflow chain loops at page {next}"));
                }
                let p = self.page(next)?;
                let take = (len - out.len()).min(u - 4);
                out.extend_from_slice(&p[4..4 + take]);
                next = be32(p, 0).unwrap_or(0);
            }
        }
        Ok(out)
    }

    /// Every row of the table b-tree rooted at `root`, in rowid order: (rowid, payload).
    pub fn table_rows(&self, root: u32, f: &mut RowFn<'_>) -> Result<(), Error> {
        let mut seen = HashSet::new();
        self.walk(root, 0, &mut seen, f)
    }

    fn walk(
        &self,
        n: u32,
        depth: u32,
        seen: &mut HashSet<u32>,
        f: &mut RowFn<'_>,
    ) -> Result<(), Error> {
        if depth > 64 {
            return Err("table b-tree deeper than 64 levels".into());
        }
        if !seen.insert(n) {
            return Err(format!("table b-tree visits page {n} twice"));
        }
        let page = self.page(n)?;
        let h = if n == 1 { 100 } else { 0 };
        let kind = *page.get(h).ok_or("page header is cut off")?;
        let cells = be16(page, h + 3).ok_or("page header is cut off")?;
        let ptrs = h + if kind == 0x05 { 12 } else { 8 };
        let cell = |i: usize| -> Result<usize, Error> {
            let at = be16(page, ptrs + 2 * i).ok_or("cell pointer array runs past the page")?;
            if at >= self.usable {
                return Err(format!("cell pointer {at} is outside page {n}"));
            }
            Ok(at)
        };
        match kind {
            0x0d => {
                for i in 0..cells {
                    let at = cell(i)?;
                    let (len, a) = varint(page, at).ok_or("cell is cut off")?;
                    let (rowid, b) = varint(page, at + a).ok_or("cell is cut off")?;
                    let payload = self.payload(page, at + a + b, len)?;
                    f(rowid as i64, &payload)?;
                }
            }
            0x05 => {
                for i in 0..cells {
                    let at = cell(i)?;
                    let child = be32(page, at).ok_or("cell is cut off")?;
                    self.walk(child, depth + 1, seen, f)?;
                }
                let right = be32(page, h + 8).ok_or("page header is cut off")?;
                self.walk(right, depth + 1, seen, f)?;
            }
            k => {
                return Err(format!(
                    "page {n} has type {k:#04x}, not a table b-tree page"
                ));
            }
        }
        Ok(())
    }

    /// The root page of table `name` (from the schema table on page 1).
    pub fn table_root(&self, name: &str) -> Result<u32, Error> {
        let mut root = None;
        self.table_rows(1, &mut |_, payload| {
            let cols = record(payload)?;
            if let [Value::Text(b"table"), Value::Text(n), _, Value::Int(r), ..] = cols.as_slice()
                && n.eq_ignore_ascii_case(name.as_bytes())
            {
                root = u32::try_from(*r).ok();
            }
            Ok(())
        })?;
        root.ok_or_else(|| format!("the database has no table {name}"))
    }
}

/// SQLite's WAL checksum over `data` (pairs of 32-bit words, in the byte order of the magic).
fn checksum(big: bool, data: &[u8], (mut s0, mut s1): (u32, u32)) -> (u32, u32) {
    for pair in data.chunks_exact(8) {
        let w = |b: &[u8]| {
            let a: [u8; 4] = b.try_into().unwrap_or([0; 4]);
            if big {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            }
        };
        s0 = s0.wrapping_add(w(&pair[..4])).wrapping_add(s1);
        s1 = s1.wrapping_add(w(&pair[4..])).wrapping_add(s0);
    }
    (s0, s1)
}
