//! `--tokenize`: stable tokens instead of `***HIDDEN***`, so one secret can be followed
//! across files and hosts without being revealed.
//!
//! A token is `***TOKEN_<TYPE>_<HASH>***`: TYPE guessed from the redactor's name, then from
//! the value; HASH the first 6 hex digits of HMAC-SHA256(run salt, trimmed value). The salt is
//! random per run, so tokens cannot be reversed by hashing guesses offline without it. Equal
//! values get equal tokens; a hash collision between different values appends `_N`.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// Hands out tokens; shared by every file of one run.
pub struct Tokenizer {
    salt: [u8; 32],
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    by_value: HashMap<Vec<u8>, String>,
    taken: HashMap<String, usize>,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Tokenizer {
    /// A tokenizer with a random salt.
    pub fn new() -> Self {
        let mut salt = [0u8; 32];
        let from_os = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut salt));
        if from_os.is_err() {
            use std::hash::{BuildHasher, Hasher};
            for chunk in salt.chunks_mut(8) {
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_u64(std::process::id() as u64);
                chunk.copy_from_slice(&h.finish().to_le_bytes());
            }
        }
        Self::with_salt(salt)
    }

    /// A tokenizer with a fixed salt (reproducible tokens, tests).
    pub fn with_salt(salt: [u8; 32]) -> Self {
        Tokenizer {
            salt,
            state: Mutex::new(State::default()),
        }
    }

    /// Number of distinct secrets tokenized so far.
    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.by_value.len()).unwrap_or(0)
    }

    /// True when nothing was tokenized.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The token for `value`, found by redactor `rule`.
    pub fn token(&self, rule: &str, value: &[u8]) -> String {
        let norm = value.trim_ascii().to_vec();
        let Ok(mut st) = self.state.lock() else {
            return super::MASK.to_string();
        };
        if let Some(t) = st.by_value.get(&norm) {
            return t.clone();
        }
        let base = format!("***TOKEN_{}_{}", token_type(rule, &norm), self.hash(&norm));
        let n = st.taken.entry(base.clone()).or_insert(0);
        *n += 1;
        let token = if *n == 1 {
            format!("{base}***")
        } else {
            format!("{base}_{}***", *n)
        };
        st.by_value.insert(norm, token.clone());
        token
    }

    fn hash(&self, value: &[u8]) -> String {
        // HMAC-SHA256 (RFC 2104) with the 32-byte salt as key.
        let mut ipad = [0x36u8; 64];
        let mut opad = [0x5cu8; 64];
        for (i, b) in self.salt.iter().enumerate() {
            ipad[i] ^= b;
            opad[i] ^= b;
        }
        let inner = Sha256::new()
            .chain_update(ipad)
            .chain_update(value)
            .finalize();
        let outer = Sha256::new()
            .chain_update(opad)
            .chain_update(inner)
            .finalize();
        outer.iter().take(3).map(|b| format!("{b:02X}")).collect()
    }
}

fn token_type(rule: &str, value: &[u8]) -> &'static str {
    let r = rule.to_ascii_lowercase().replace(['_', '-', ' '], "");
    for (needle, ty) in [
        ("apikey", "APIKEY"),
        ("password", "PASSWORD"),
        ("database", "DATABASE"),
        ("connection", "DATABASE"),
        ("credential", "CREDENTIAL"),
        ("secret", "SECRET"),
        ("token", "TOKEN"),
        ("bearer", "TOKEN"),
        ("key", "KEY"),
    ] {
        if r.contains(needle) {
            return ty;
        }
    }
    let v = String::from_utf8_lossy(value);
    if v.contains('@') && v.contains('.') && !v.contains(' ') {
        "EMAIL"
    } else if v.parse::<std::net::IpAddr>().is_ok() {
        "IP"
    } else {
        "GENERIC"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_distinct() {
        let t = Tokenizer::with_salt([7; 32]);
        let a = t.token("password rule", b"hunter2");
        assert!(
            a.starts_with("***TOKEN_PASSWORD_") && a.ends_with("***"),
            "{a}"
        );
        assert_eq!(t.token("other", b" hunter2 "), a);
        assert_ne!(t.token("password rule", b"hunter3"), a);
        assert!(t.token("x", b"10.0.0.1").starts_with("***TOKEN_IP_"));
        assert_eq!(t.len(), 3);
        let t2 = Tokenizer::with_salt([8; 32]);
        assert_ne!(t2.token("password rule", b"hunter2"), a);
    }
}
