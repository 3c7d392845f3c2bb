//! Rust binaries built with cargo-auditable: the `.dep-v0` section (zlib-compressed JSON of
//! the dependency list) read from a real binary (tests/data/rust/README.md says how it was
//! built), reported as `pkg:cargo` crates and matched against RustSec's crates.io advisories;
//! hostile ELF section tables give no panic.

use berth_scan::catalog::PackageType;
use berth_scan::catalog::lang;
use berth_scan::image::{self, Limits};
use berth_scan::osv::{FixState, VulnDb};
use berth_scan::report;
use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn data(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

fn fixture() -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(data("rust/berth-audit-fixture.gz")).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn auditable_binary_lists_its_crates_and_matches_rustsec() {
    let bin = fixture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usr/local/bin/app");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &bin).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = VulnDb::load_dir(&data("osv")).unwrap();
    let rep = report::scan_rootfs(dir.path(), &db, &Limits::default()).unwrap();
    let t = &rep.targets[0];
    assert!(t.not_scanned.is_empty(), "{:?}", t.not_scanned);
    let crates: BTreeSet<(&str, &str, Option<&str>)> = t
        .packages
        .iter()
        .filter(|p| p.kind == PackageType::Cargo)
        .map(|p| {
            (
                p.name.as_str(),
                p.version.as_str(),
                p.source_name.as_deref(),
            )
        })
        .collect();
    // autocfg is a build-dependency (kind "build"): not in the binary, not listed.
    assert_eq!(
        crates,
        BTreeSet::from([
            ("berth-audit-fixture", "0.1.0", Some("local")),
            ("smallvec", "1.6.0", Some("crates.io")),
        ])
    );
    assert!(t.packages.iter().all(|p| p.path == "usr/local/bin/app"));
    let f: Vec<_> = t
        .findings
        .iter()
        .map(|f| (f.package.as_str(), f.advisory.as_str()))
        .collect();
    assert_eq!(
        f,
        [("smallvec", "RUSTSEC-2021-0003")],
        "the local crate is never matched"
    );
    assert_eq!(t.findings[0].fix, FixState::Fixed("1.6.1".into()));
    assert!(
        t.findings[0]
            .aliases
            .contains(&"CVE-2021-25900".to_string())
    );
    let cdx = berth_scan::sbom::cyclonedx(t, true);
    assert!(
        cdx.to_string().contains("\"pkg:cargo/smallvec@1.6.0\""),
        "{cdx}"
    );

    // Through an image layer: only the dependency list is kept, not the binary.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(bin.len() as u64);
    h.set_mode(0o755);
    b.append_data(&mut h, "usr/local/bin/app", &bin[..])
        .unwrap();
    let delta =
        image::read_layer(&b.into_inner().unwrap()[..], "layer", &Limits::default()).unwrap();
    let kept = &delta.files["usr/local/bin/app"];
    assert!(
        kept.starts_with(lang::RUST_MARKER) && kept.len() < 1024,
        "{} bytes kept",
        kept.len()
    );
}

#[test]
fn a_damaged_dependency_list_is_not_scanned() {
    let mut bin = fixture();
    let sec = lang::elf_section(&bin, lang::AUDIT_SECTION)
        .unwrap()
        .unwrap();
    let at = sec.as_ptr() as usize - bin.as_ptr() as usize;
    bin[at + 10] ^= 0xff;
    let kept = lang::rust_audit(&bin).unwrap();
    let e = lang::rust_audit_packages(&kept, "usr/bin/app")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("usr/bin/app") && e.contains("cargo-auditable"),
        "{e}"
    );
    // No section: not an auditable binary (a Go binary is looked for next).
    assert!(lang::elf_section(b"\x7fELF\x02\x01\x01", ".dep-v0").is_some_and(|r| r.is_err()));
    assert!(lang::rust_audit(b"MZ not an elf").is_none());
}

#[test]
fn mutated_elf_headers_give_no_panic() {
    let bin = fixture();
    let mut s = std::env::var("BERTH_SCAN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xe1f_u64);
    println!("seed {s} (set BERTH_SCAN_SEED to reproduce)");
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    // The ELF header and the section table (at the end of the file) hold the structure.
    let table = bin.len() - 64 * 40;
    let (mut found, mut other) = (0, 0);
    for _ in 0..3000 {
        let mut m = bin.clone();
        for _ in 0..1 + next() % 3 {
            let at = if next().is_multiple_of(2) {
                (next() % 64) as usize
            } else {
                table + (next() % (bin.len() - table) as u64) as usize
            };
            m[at] = next() as u8;
        }
        match lang::rust_audit(&m) {
            Some(k) if lang::rust_audit_packages(&k, "x").is_ok() => found += 1,
            _ => other += 1,
        }
    }
    println!("{found} still read, {other} not");
    assert!(found > 0 && other > 0);
}
