//! Hostile bundles: any bytes after a validly signed (but attacker-chosen) manifest, and any
//! bytes as a whole file, give an error or a verified release, never a panic, a hang, or a
//! file outside the extraction directory.
//!
//! Input: 2-byte little-endian length N, then N bytes of `berth-bundle.json`, then the rest
//! of the tar stream. The harness signs the manifest, so the fuzzer reaches the entry checks.
#![no_main]

use berth_oci::bundle::{self, Expect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
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
        if b.append_data(&mut h, name, body).is_err() {
            return;
        }
    }
    let mut bytes = b.get_ref().clone();
    bytes.extend_from_slice(rest);
    let Ok(dir) = tempfile::tempdir() else { return };
    let file = dir.path().join("fuzz.bundle");
    if std::fs::write(&file, &bytes).is_err() {
        return;
    }
    let dest = dir.path().join("out").join("release");
    let r = bundle::verify(
        &file,
        &key.verifying_key(),
        &Expect::default(),
        Some(&dest),
        None,
    );
    // Nothing may appear outside `out/`, and a failed verification leaves no release.
    for e in std::fs::read_dir(dir.path())
        .into_iter()
        .flatten()
        .flatten()
    {
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
    // The raw input as a whole file too.
    if std::fs::write(&file, data).is_ok() {
        let _ = bundle::verify(&file, &key.verifying_key(), &Expect::default(), None, None);
    }
});
