//! Replays the `bundle_reader` fuzz corpus (fuzz/corpus/bundle_reader) on stable Rust: every
//! input is rejected or unpacked inside its own directory, and nothing read resolves outside.

use berth_troubleshoot::bundle::{ArchiveBundle, BundleReader, Limits};

#[test]
fn fuzz_corpus_never_escapes_or_panics() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/bundle_reader");
    let mut n = 0;
    let mut opened = 0;
    for e in std::fs::read_dir(&dir).expect("corpus directory") {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        n += 1;
        let limits = Limits {
            max_entries: 256,
            max_file: 1 << 20,
            max_total: 4 << 20,
        };
        let Ok(b) = ArchiveBundle::from_reader("corpus", &data[..], limits) else {
            continue;
        };
        opened += 1;
        let root = b.root().canonicalize().unwrap();
        for p in b.glob("**") {
            let _ = b.read(&p);
            if let Ok(c) = b.root().join(&p).canonicalize() {
                assert!(c.starts_with(&root), "{p} escapes the bundle");
            }
        }
        assert!(b.read("../../etc/passwd").is_none());
    }
    assert!(n >= 2, "corpus is empty");
    assert!(opened >= 1, "not even the seed bundles open");
}

/// The `bundle_unpack` fuzz harness (fuzz/fuzz_targets/bundle_unpack.rs), replayed on stable:
/// five bytes per tar entry (type, name, link target), names made of a few segments.
mod unpack_harness {
    use std::path::Path;

    const SEGS: [&str; 8] = ["a", "b", "c", "DIR", "x", "..", ".", "y"];

    fn path(v: u16) -> String {
        let n = 1 + (v & 3) as usize;
        let segs: Vec<&str> = (0..n)
            .map(|i| SEGS[((v >> (2 + 3 * i)) & 7) as usize])
            .collect();
        let p = segs.join("/");
        if v & 0x8000 != 0 { format!("/{p}") } else { p }
    }

    pub fn archive(data: &[u8]) -> Vec<u8> {
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
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            if link {
                h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
            }
            h.set_cksum();
            b.append(&h, body).unwrap();
        }
        b.into_inner().unwrap()
    }

    pub fn outside(root: &Path, dest: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(root).unwrap().flatten() {
            let p = e.path();
            if p.starts_with(dest) {
                continue;
            }
            if !dest.starts_with(&p) {
                out.push(p.display().to_string());
            }
            if e.file_type().unwrap().is_dir() {
                outside(&p, dest, out);
            }
        }
    }
}

#[test]
fn unpack_corpus_creates_nothing_outside_the_destination() {
    use berth_troubleshoot::bundle::unpack;
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/bundle_unpack");
    let mut n = 0;
    let mut refused = 0;
    for e in std::fs::read_dir(&dir).expect("corpus directory") {
        let path = e.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        n += 1;
        let tar = unpack_harness::archive(&data);
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("l1/l2/l3/dest");
        std::fs::create_dir_all(&dest).unwrap();
        let limits = Limits {
            max_entries: 64,
            max_file: 1 << 10,
            max_total: 1 << 16,
        };
        let r = unpack("corpus", &tar[..], &dest, limits);
        refused += usize::from(r.is_err());
        let mut out = Vec::new();
        unpack_harness::outside(tmp.path(), &dest, &mut out);
        assert!(
            out.is_empty(),
            "{}: created outside the destination: {out:?} ({r:?})",
            path.display()
        );
    }
    assert!(n >= 8, "corpus has {n} inputs");
    // The seeds include the reported chain and its variants: they must be refused.
    assert!(refused >= 6, "only {refused} of {n} refused");
}
