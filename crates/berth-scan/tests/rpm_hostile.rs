//! Hostile rpm databases: seeded random mutations (flipped bytes, huge counts and offsets,
//! truncations) of real header blobs and real database files (sqlite, Berkeley DB, ndb) must
//! give a result or a clear error, never a panic, and never allocate much more than the
//! input's own size. This binary counts allocations with its own global allocator: the
//! peak of bytes held while one input is parsed is checked against a bound.
//! `BERTH_SCAN_SEED` reproduces a run; `BERTH_SCAN_FUZZ_ROUNDS` makes it longer.

use berth_scan::catalog::rpm::{self, RpmInfo, header::Header};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = HELD.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        HELD.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new >= l.size() {
                let now = HELD.fetch_add(new - l.size(), Ordering::Relaxed) + new - l.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                HELD.fetch_sub(l.size() - new, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Run `f` and return the most bytes it held at once beyond what was held before.
fn peak_of(f: impl FnOnce()) -> usize {
    let base = HELD.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seed() -> u64 {
    let s = std::env::var("BERTH_SCAN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0bad_5eed_u64);
    println!("seed {s} (set BERTH_SCAN_SEED to reproduce)");
    s
}

fn rounds(default: usize) -> usize {
    std::env::var("BERTH_SCAN_FUZZ_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// One mutation of `input`; `hot` is a prefix where structure lives (a header's index, a
/// database's first pages), hit half the time.
fn mutate(r: &mut Rng, input: &[u8], hot: usize) -> Vec<u8> {
    let mut v = input.to_vec();
    if v.is_empty() {
        return v;
    }
    let pos = |r: &mut Rng, len: usize| {
        if r.next().is_multiple_of(2) {
            r.below(hot.min(len))
        } else {
            r.below(len)
        }
    };
    for _ in 0..1 + r.below(4) {
        let len = v.len();
        match r.below(5) {
            0 => {
                let at = pos(r, len);
                v[at] = r.next() as u8;
            }
            1 => {
                let at = pos(r, len.saturating_sub(4)) & !3;
                let word: u32 = match r.below(6) {
                    0 => 0,
                    1 => u32::MAX,
                    2 => 0x7fff_ffff,
                    3 => 0x0001_0000,
                    4 => len as u32,
                    _ => r.next() as u32,
                };
                let bytes = if r.next().is_multiple_of(2) {
                    word.to_be_bytes()
                } else {
                    word.to_le_bytes()
                };
                let end = (at + 4).min(len);
                v[at..end].copy_from_slice(&bytes[..end - at]);
            }
            2 => v.truncate(pos(r, len)),
            3 => {
                let at = pos(r, len);
                let n = r.below(64).min(len - at);
                for b in &mut v[at..at + n] {
                    *b = 0xff;
                }
            }
            _ => {
                let (a, b) = (r.below(len), r.below(len));
                let n = r.below(256).min(len - a.max(b));
                v.copy_within(a..a + n, b);
            }
        }
        if v.is_empty() {
            break;
        }
    }
    v
}

fn data(p: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/rpm")
        .join(p);
    let raw = std::fs::read(&path).unwrap();
    if p.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw
    }
}

fn blobs_of(db: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    rpm::header_blobs(db, None, &mut |b| {
        out.push(b.to_vec());
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn mutated_header_blobs_give_errors_not_panics() {
    let mut r = Rng(seed());
    let mut blobs = blobs_of(&data("sle15-bci-Packages.db.gz"));
    blobs.extend(blobs_of(&data("libuuid-Packages")));
    blobs.extend(blobs_of(&data("rpmdb.sqlite.gz")));
    assert!(blobs.len() > 35);
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..rounds(150) {
        for b in &blobs {
            let il = u32::from_be_bytes(b[..4].try_into().unwrap()) as usize;
            let m = mutate(&mut r, b, 8 + 16 * il);
            let peak = peak_of(|| {
                match RpmInfo::from_blob(&m) {
                    Ok(_) => ok += 1,
                    Err(e) => {
                        assert!(!e.0.is_empty());
                        refused += 1;
                    }
                }
                if let Ok(h) = Header::parse(&m) {
                    let _ = h.validate_all();
                }
            });
            assert!(
                peak <= 2 * m.len() + 4096,
                "{peak} bytes held for a {}-byte blob",
                m.len()
            );
        }
    }
    println!("{ok} mutated headers read, {refused} refused");
    assert!(refused > 0 && ok > 0);
}

/// A valid write-ahead log for an SQLite file: its first `pages` pages as frames, the last
/// one a commit (SQLite's format: 32-byte header, 24-byte frame headers, running checksum).
fn wal_for(db: &[u8], pages: usize) -> Vec<u8> {
    let psize = u16::from_be_bytes([db[16], db[17]]) as usize;
    let sum = |data: &[u8], (mut s0, mut s1): (u32, u32)| {
        for w in data.chunks_exact(8) {
            s0 = s0
                .wrapping_add(u32::from_le_bytes(w[..4].try_into().unwrap()))
                .wrapping_add(s1);
            s1 = s1
                .wrapping_add(u32::from_le_bytes(w[4..].try_into().unwrap()))
                .wrapping_add(s0);
        }
        (s0, s1)
    };
    let mut w = Vec::new();
    for v in [0x377f_0682u32, 3_007_000, psize as u32, 0, 0x1234, 0x5678] {
        w.extend_from_slice(&v.to_be_bytes());
    }
    let mut c = sum(&w, (0, 0));
    w.extend_from_slice(&c.0.to_be_bytes());
    w.extend_from_slice(&c.1.to_be_bytes());
    let total = (db.len() / psize) as u32;
    for n in 1..=pages {
        let page = &db[(n - 1) * psize..n * psize];
        let commit = if n == pages { total } else { 0 };
        let mut h = Vec::new();
        for v in [n as u32, commit, 0x1234, 0x5678] {
            h.extend_from_slice(&v.to_be_bytes());
        }
        c = sum(&h[..8], c);
        c = sum(page, c);
        h.extend_from_slice(&c.0.to_be_bytes());
        h.extend_from_slice(&c.1.to_be_bytes());
        w.extend_from_slice(&h);
        w.extend_from_slice(page);
    }
    w
}

#[test]
fn a_valid_constructed_wal_is_read() {
    let db = data("rpmdb.sqlite.gz");
    let wal = wal_for(&db, 6);
    let with = rpm::parse_db(&db, Some(&wal), "rpmdb.sqlite").unwrap();
    let without = rpm::parse_db(&db, None, "rpmdb.sqlite").unwrap();
    assert_eq!(with, without, "the frames repeat the file's own pages");
    assert_eq!(with.len(), 4);
}

fn fuzz_db(name: &str, hot: usize, default_rounds: usize) {
    let mut r = Rng(seed() ^ name.len() as u64);
    let input = data(name);
    let valid_wal = name.contains("sqlite").then(|| wal_for(&input, 6));
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..rounds(default_rounds) {
        let m = mutate(&mut r, &input, hot);
        let wal = valid_wal
            .as_ref()
            .filter(|_| r.next().is_multiple_of(3))
            .map(|w| mutate(&mut r, w, 32 + 24));
        let peak = peak_of(|| match rpm::parse_db(&m, wal.as_deref(), name) {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(e.to_string().contains(name), "{e}");
                refused += 1;
            }
        });
        let limit = 3 * (m.len() + wal.as_ref().map_or(0, Vec::len)) + (1 << 20);
        assert!(
            peak <= limit,
            "{peak} bytes held for a {}-byte {name}",
            m.len()
        );
    }
    println!("{name}: {ok} mutated databases read, {refused} refused");
    assert!(refused > 0);
}

#[test]
fn mutated_sqlite_databases_give_errors_not_panics() {
    fuzz_db("rpmdb.sqlite.gz", 16384, 300);
}

#[test]
fn mutated_berkeley_databases_give_errors_not_panics() {
    fuzz_db("libuuid-Packages", 12288, 600);
}

#[test]
fn mutated_ndb_databases_give_errors_not_panics() {
    fuzz_db("sle15-bci-Packages.db.gz", 8192, 200);
}

/// Replays `fuzz/corpus/rpmdb` (inputs `cargo fuzz run rpmdb` found: the first byte selects
/// the reader as in `fuzz/fuzz_targets/rpmdb.rs`) on stable Rust.
#[test]
fn fuzz_corpus_replays_without_panics() {
    use berth_scan::catalog::lang;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/rpmdb");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        let Some((&sel, rest)) = data.split_first() else {
            continue;
        };
        if sel & 2 != 0 {
            if let Some(kept) = lang::rust_audit(rest) {
                let _ = lang::rust_audit_packages(&kept, "fuzz");
            }
        } else if sel & 1 != 0 {
            let (a, b) = rest.split_at(rest.len() / 2);
            let _ = rpm::parse_db(a, Some(b), "fuzz");
        } else {
            let _ = rpm::parse_db(rest, None, "fuzz");
        }
        n += 1;
    }
    assert!(n > 0);
}
