//! Support bundle reader: any byte string given as a bundle archive (gzip or plain tar) is
//! either rejected with an error or unpacked inside its temporary directory; then every file
//! it lists can be read and globbed. Never a panic, a hang, or a file outside the bundle.
#![no_main]

use berth_troubleshoot::bundle::{ArchiveBundle, BundleReader, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_entries: 256,
        max_file: 1 << 20,
        max_total: 4 << 20,
    };
    let Ok(b) = ArchiveBundle::from_reader("fuzz", data, limits) else {
        return;
    };
    let root = b.root().canonicalize().expect("root exists");
    for p in b.glob("**") {
        let _ = b.read(&p);
        let full = b.root().join(&p);
        if let Ok(c) = full.canonicalize() {
            assert!(c.starts_with(&root), "{p} resolves outside the bundle");
        }
    }
    for pat in [
        "*",
        "cluster-resources/**/*.json",
        "../*",
        "/etc/*",
        "[",
        "**/..",
        "a/[!b]*",
    ] {
        let _ = b.glob(pat);
    }
    let _ = b.read("../../etc/passwd");
    let _ = b.read("/etc/passwd");
    let _ = b.read("version.yaml");
});
