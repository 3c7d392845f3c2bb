//! rpm's own "ndb" package database, `var/lib/rpm/Packages.db` (SUSE since SLE 15 SP3 /
//! openSUSE Leap 15.3): rpm's `lib/backend/ndb/rpmpkg.c`, little-endian throughout.
//!
//! A 32-byte file header (`RpmP` magic, version 0, generation, number of 4096-byte slot
//! pages, next package index) shares the first slot page with the slots: 16-byte entries
//! (`Slot` magic, package index, block offset, block count; index 0 = free). A slot points at
//! a blob at `16 × block offset`: a 16-byte head (`BlbS` magic, package index, generation,
//! length), the header blob, zero padding, and a 12-byte tail closing the last block
//! (checksum, length, `BlbE`).
//!
//! Checks: slot pages and every blob against the file size, each blob's head against its
//! slot (magic, package index, a length that fits its blocks), so a hostile file gives an
//! error, never a panic or an allocation beyond the file's size.

/// Why a database file was refused.
pub type Error = String;

const MAGIC: &[u8; 4] = b"RpmP";
const SLOT_MAGIC: &[u8; 4] = b"Slot";
const BLOB_HEAD: &[u8; 4] = b"BlbS";
const BLOB_TAIL: &[u8; 4] = b"BlbE";
const PAGE: usize = 4096;
const SLOT: usize = 16;
const BLOCK: usize = 16;
const HEADER: usize = 32;

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// Call `f` with every package's header blob, in slot order.
pub fn blobs(data: &[u8], f: &mut dyn FnMut(&[u8]) -> Result<(), Error>) -> Result<(), Error> {
    if data.get(..4) != Some(MAGIC.as_slice()) {
        return Err("not an rpm ndb database (no `RpmP` magic)".into());
    }
    let version = le32(data, 4).unwrap_or(u32::MAX);
    if version != 0 {
        return Err(format!("ndb version {version}; berth reads version 0"));
    }
    let slot_pages = le32(data, 12).unwrap_or(0) as usize;
    let slots_end = slot_pages
        .checked_mul(PAGE)
        .filter(|e| *e >= PAGE && *e <= data.len())
        .ok_or_else(|| {
            format!(
                "the header names {slot_pages} slot pages; the file holds {} bytes",
                data.len()
            )
        })?;
    let mut seen = std::collections::HashSet::new();
    for (n, at) in (HEADER..slots_end).step_by(SLOT).enumerate() {
        let s = &data[at..at + SLOT];
        if &s[..4] != SLOT_MAGIC {
            return Err(format!("slot {n} has no `Slot` magic"));
        }
        let pkg = le32(s, 4).unwrap_or(0);
        if pkg == 0 {
            continue;
        }
        if !seen.insert(pkg) {
            return Err(format!("package index {pkg} is in two slots"));
        }
        let off = le32(s, 8).unwrap_or(0) as usize * BLOCK;
        let cnt = le32(s, 12).unwrap_or(0) as usize * BLOCK;
        let Some(blob) = off
            .checked_add(cnt)
            .and_then(|end| data.get(off..end))
            .filter(|_| off >= slots_end)
        else {
            return Err(format!(
                "slot {n} (package {pkg}) points at {cnt} bytes at {off}, outside the file's blob area"
            ));
        };
        if blob.get(..4) != Some(BLOB_HEAD.as_slice()) || le32(blob, 4) != Some(pkg) {
            return Err(format!(
                "the blob of package {pkg} at {off} has no `BlbS` head for that package"
            ));
        }
        let len = le32(blob, 12).unwrap_or(0) as usize;
        let body = blob
            .get(16..16 + len)
            .filter(|_| 16 + len + 12 <= blob.len())
            .ok_or_else(|| {
                format!(
                    "the blob of package {pkg} claims {len} bytes, more than its {cnt}-byte blocks"
                )
            })?;
        // The tail closes the last block (zero padding between it and the header blob).
        let tail = blob.len() - 12;
        if le32(blob, tail + 4) != Some(len as u32)
            || blob.get(tail + 8..tail + 12) != Some(BLOB_TAIL.as_slice())
        {
            return Err(format!(
                "the blob of package {pkg} has no matching `BlbE` tail"
            ));
        }
        f(body)?;
    }
    Ok(())
}
