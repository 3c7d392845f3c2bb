//! A fast hasher for the engine's small string-keyed maps (template names, function names,
//! include counters), looked up on every `include` and function call, and for the parse
//! memo's keys (`memo`). SipHash, the
//! standard map's default, guards against chosen collisions; these maps hold at most a
//! chart's own template names and the fixed function table, and a chart's size is capped
//! (berth-chart's limits), so the cheaper hash is enough.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A string-keyed map with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Multiply-rotate hashing over 8-byte words.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl FastHasher {
    /// A hasher whose state starts at `seed` (the parse memo folds the key's lengths in).
    pub(crate) fn seeded(seed: u64) -> FastHasher {
        FastHasher(seed)
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(K);
    }

    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(K);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_names_hash_apart_and_maps_work() {
        let mut m: FastMap<String, usize> = FastMap::default();
        for (i, n) in ["a", "b", "ab", "ba", "mychart.labels", "mychart.labelz"]
            .iter()
            .enumerate()
        {
            m.insert((*n).to_owned(), i);
        }
        assert_eq!(m.get("mychart.labelz"), Some(&5));
        assert_eq!(m.get("ab"), Some(&2));
        assert_eq!(m.get("c"), None);
    }
}
