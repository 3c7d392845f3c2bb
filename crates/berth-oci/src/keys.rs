//! Vendor signing keys (ed25519, PEM: PKCS#8 private key, SPKI public key). The vendor
//! signs bundles with the private key; customers verify with the public key alone.

use crate::error::{Error, Result};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
use std::path::Path;

/// Generate a key pair and write `<prefix>.key` (mode 0600) and `<prefix>.pub`.
/// Refuses to overwrite an existing key.
pub fn generate(prefix: &Path) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let key_path = prefix.with_extension("key");
    let pub_path = prefix.with_extension("pub");
    for p in [&key_path, &pub_path] {
        if p.exists() {
            return Err(Error::Key { path: p.clone(), reason: "already exists; refusing to overwrite a key (move it away or pick another name)".into() });
        }
    }
    let sk = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = sk.to_pkcs8_pem(LineEnding::LF).map_err(|e| Error::Key {
        path: key_path.clone(),
        reason: format!("encoding failed: {e}"),
    })?;
    let pubpem = sk
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| Error::Key {
            path: pub_path.clone(),
            reason: format!("encoding failed: {e}"),
        })?;
    crate::layout::write_atomic(&key_path, pem.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(&key_path, e))?;
    }
    crate::layout::write_atomic(&pub_path, pubpem.as_bytes())?;
    Ok((key_path, pub_path))
}

/// Read a private key (PKCS#8 PEM).
pub fn read_signing_key(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| Error::Key {
        path: path.to_path_buf(),
        reason: format!(
            "not an ed25519 private key in PKCS#8 PEM ({e}); create one with `berth keys generate`"
        ),
    })
}

/// Read a public key (SPKI PEM).
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    VerifyingKey::from_public_key_pem(&text).map_err(|e| Error::Key {
        path: path.to_path_buf(),
        reason: format!(
            "not an ed25519 public key in PEM ({e}); use the .pub file from `berth keys generate`"
        ),
    })
}

/// A short, stable identifier of a public key (first 16 hex digits of its sha256).
pub fn key_id(k: &VerifyingKey) -> String {
    crate::digest::Digest::of(k.as_bytes()).hex()[..16].to_string()
}
