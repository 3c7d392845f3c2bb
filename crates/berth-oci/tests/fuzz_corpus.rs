//! Replays the `bundle_read` fuzz corpus (fuzz/corpus/bundle_read) on stable Rust with the
//! same harness as fuzz/fuzz_targets/bundle_read.rs: every input is rejected or verified
//! without a panic, and nothing is written outside the extraction directory.

use berth_oci::bundle::{self, Expect};
use std::path::Path;

fn harness(data: &[u8]) -> Option<bool> {
    if data.len() < 2 {
        return None;
    }
    let n = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
    let (manifest, rest) = data[2..].split_at(n);
    let key = ed25519_dalek::SigningKey::from_bytes(&[1u8; 32]);
    let sig = ed25519_dalek::Signer::sign(&key, manifest);
    let sigfile = serde_json::json!({
        "algorithm": "ed25519",
        "key_id": "fuzz",
        "signature": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, sig.to_bytes()),
    })
    .to_string();
    let mut b = tar::Builder::new(Vec::new());
    for (name, body) in [
        ("berth-bundle.json", manifest),
        ("berth-bundle.sig", sigfile.as_bytes()),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, body).ok()?;
    }
    let mut bytes = b.get_ref().clone();
    bytes.extend_from_slice(rest);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fuzz.bundle");
    std::fs::write(&file, &bytes).unwrap();
    let dest = dir.path().join("out").join("release");
    let r = bundle::verify(
        &file,
        &key.verifying_key(),
        &Expect::default(),
        Some(&dest),
        None,
    );
    for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let name = e.file_name();
        assert!(
            name == "fuzz.bundle" || name == "out",
            "unexpected file {name:?}"
        );
    }
    if r.is_err() {
        assert!(!dest.exists());
    }
    let _ = bundle::inspect(&file, None);
    Some(r.is_ok())
}

#[test]
fn fuzz_corpus_replays_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/bundle_read");
    let mut seen = 0;
    let mut rejected = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let data = std::fs::read(e.path()).unwrap();
        if harness(&data) == Some(false) {
            rejected += 1;
        }
        seen += 1;
    }
    assert!(seen >= 3, "corpus missing at {}", dir.display());
    // The corpus holds a traversal and a mislabelled-encoding case; both must be refused.
    assert!(rejected >= 2, "{rejected} of {seen} rejected");
}
