//! Support bundle unpacking: whatever archive it is given, `unpack` creates nothing outside
//! its destination directory. The input is read as a list of tar entries (files,
//! directories, symbolic and hard links) whose names and link targets are made of a few
//! segments (`a`, `b`, `..`, `.`, …), so link chains like `a -> .`, `a/b -> ..` are
//! reached quickly; the destination sits four levels deep in a private directory, and
//! after each run that directory must hold nothing but the destination and its parents.
//! The same harness replays the corpus on stable: crates/berth-troubleshoot/tests/bundle_corpus.rs.
#![no_main]

use berth_troubleshoot::bundle::{Limits, unpack};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

const SEGS: [&str; 8] = ["a", "b", "c", "DIR", "x", "..", ".", "y"];

/// A path of 1 to 4 segments chosen by the bits of `v`; bit 15 makes it absolute.
fn path(v: u16) -> String {
    let n = 1 + (v & 3) as usize;
    let segs: Vec<&str> = (0..n)
        .map(|i| SEGS[((v >> (2 + 3 * i)) & 7) as usize])
        .collect();
    let p = segs.join("/");
    if v & 0x8000 != 0 { format!("/{p}") } else { p }
}

/// Five bytes per entry: type, name (u16), link target (u16).
fn archive(data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for op in data.chunks_exact(5) {
        let name = path(u16::from_le_bytes([op[1], op[2]]));
        let target = path(u16::from_le_bytes([op[3], op[4]]));
        let (t, body, link): (tar::EntryType, &[u8], bool) = match op[0] % 4 {
            0 => (tar::EntryType::Regular, b"data", false),
            1 => (tar::EntryType::Directory, b"", false),
            2 => (tar::EntryType::Symlink, b"", true),
            _ => (tar::EntryType::Link, b"", true),
        };
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(t);
        h.set_size(body.len() as u64);
        h.set_mode(0o755);
        // Raw bytes: the builder's own checks would refuse `..` and absolute names.
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if link {
            h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
        }
        h.set_cksum();
        if b.append(&h, body).is_err() {
            break;
        }
    }
    b.into_inner().unwrap_or_default()
}

/// Everything under `root` (links not followed) that is not `dest`, inside it, or a parent.
fn outside(root: &Path, dest: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(root) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.starts_with(dest) {
            continue;
        }
        if !dest.starts_with(&p) {
            out.push(p.display().to_string());
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            outside(&p, dest, out);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let tar = archive(data);
    let tmp = tempfile::tempdir().expect("temp dir");
    let dest = tmp.path().join("l1/l2/l3/dest");
    std::fs::create_dir_all(&dest).expect("dest");
    let limits = Limits {
        max_entries: 64,
        max_file: 1 << 10,
        max_total: 1 << 16,
    };
    let r = unpack("fuzz", &tar[..], &dest, limits);
    let mut out = Vec::new();
    outside(tmp.path(), &dest, &mut out);
    assert!(out.is_empty(), "created outside the destination: {out:?} ({r:?})");
    if r.is_ok() {
        // Every link left in place resolves inside (or nowhere).
        let canon = dest.canonicalize().expect("dest");
        let mut stack = vec![dest.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let t = e.file_type().expect("type");
                if t.is_symlink() {
                    if let Ok(c) = e.path().canonicalize() {
                        assert!(c.starts_with(&canon), "{} -> {}", e.path().display(), c.display());
                    }
                } else if t.is_dir() {
                    stack.push(e.path());
                }
            }
        }
    }
});
