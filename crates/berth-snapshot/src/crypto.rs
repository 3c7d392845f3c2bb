//! Keys and authenticated encryption (format sections 3 and 4).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::{Error, Result};

/// Nonce length of XChaCha20-Poly1305.
pub(crate) const NONCE_LEN: usize = 24;
/// Tag length of Poly1305.
pub(crate) const TAG_LEN: usize = 16;
/// Bytes added by [`seal`].
pub(crate) const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// What opens a repository: a password (through Argon2id) or the bytes of a key file.
#[derive(Clone)]
pub enum Secret {
    /// A password.
    Password(String),
    /// The contents of a key file.
    KeyFile(Vec<u8>),
}

impl Secret {
    /// The contents of a new key file: 32 random bytes from the operating system.
    pub fn new_key_file() -> Vec<u8> {
        random::<32>().to_vec()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret itself.
        match self {
            Secret::Password(_) => f.write_str("Secret::Password(…)"),
            Secret::KeyFile(_) => f.write_str("Secret::KeyFile(…)"),
        }
    }
}

/// Argon2id costs for password keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Parallelism.
    pub p_cost: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams {
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        }
    }
}

/// The subkeys derived from the master key.
pub(crate) struct Keys {
    pub data: [u8; 32],
    pub id: [u8; 32],
    pub gear: [u8; 32],
}

impl Keys {
    pub fn derive(master: &[u8; 32]) -> Keys {
        Keys {
            data: blake3::derive_key("berth-snapshot v1 data key", master),
            id: blake3::derive_key("berth-snapshot v1 chunk id", master),
            gear: blake3::derive_key("berth-snapshot v1 gear", master),
        }
    }
}

/// Fills a buffer with random bytes from the operating system's generator.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// `nonce ‖ ciphertext ‖ tag`.
pub(crate) fn seal(key: &[u8; 32], plaintext: &[u8], ad: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let nonce: [u8; NONCE_LEN] = random();
    let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
    out.extend_from_slice(&nonce);
    // Encryption with a valid key and nonce cannot fail for in-memory buffers.
    match cipher.encrypt(
        XNonce::from_slice(&nonce),
        Payload {
            msg: plaintext,
            aad: ad,
        },
    ) {
        Ok(ct) => out.extend_from_slice(&ct),
        Err(_) => unreachable!("XChaCha20-Poly1305 encryption of an in-memory buffer"),
    }
    out
}

/// Reverses [`seal`]; `None` when the bytes were changed or the key is wrong.
pub(crate) fn open(key: &[u8; 32], sealed: &[u8], ad: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < OVERHEAD {
        return None;
    }
    let cipher = XChaCha20Poly1305::new(key.into());
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: ad })
        .ok()
}

/// The key-encryption key of a password key file.
pub(crate) fn password_kek(password: &str, salt: &[u8], p: KdfParams) -> Result<[u8; 32]> {
    let params = argon2::Params::new(p.m_cost_kib, p.t_cost, p.p_cost, Some(32))
        .map_err(|e| Error::Invalid(format!("Argon2id parameters {p:?} are invalid: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 32];
    argon
        .hash_password_into(password.as_bytes(), salt, &mut out)
        .map_err(|e| Error::Invalid(format!("Argon2id failed: {e}")))?;
    Ok(out)
}

/// The key-encryption key of a key file.
pub(crate) fn keyfile_kek(bytes: &[u8]) -> [u8; 32] {
    blake3::derive_key("berth-snapshot v1 key file", bytes)
}
