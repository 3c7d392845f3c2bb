//! Hostile rpm databases and Rust binaries: any bytes as an rpm database file (sqlite with an
//! optional WAL, Berkeley DB, ndb: the format is told by the first bytes) or as an executable
//! with a cargo-auditable section give packages or an error, never a panic or a hang. The
//! suite's seeded counterpart (stable Rust) is `crates/berth-scan/tests/rpm_hostile.rs`.
//!
//! Input: 1 byte selector, then the file. Selector bit 0: the second half of the rest is a
//! `-wal` file; bit 1: the bytes are an executable for the `.dep-v0` reader instead.
#![no_main]

use berth_scan::catalog::{lang, rpm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel & 2 != 0 {
        if let Some(kept) = lang::rust_audit(rest) {
            let _ = lang::rust_audit_packages(&kept, "fuzz");
        }
        return;
    }
    let (db, wal) = if sel & 1 != 0 {
        let (a, b) = rest.split_at(rest.len() / 2);
        (a, Some(b))
    } else {
        (rest, None)
    };
    let _ = rpm::parse_db(db, wal, "fuzz");
});
