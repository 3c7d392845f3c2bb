//! Process-wide memos of results computed from text: a parsed template, a parsed values
//! file. A long-lived process that renders the same chart again (`berth dev` after each
//! save, the vendor server, the console) parses only what changed. Entries are keyed by the
//! whole text (a hash to find them, the text itself to confirm), so an entry can never be
//! stale; the memo forgets everything once the texts it holds pass its size limit.

use crate::fasthash::FastHasher;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A bounded memo from (name, text) to `V`.
pub struct Memo<V> {
    inner: Mutex<Inner<V>>,
    max_bytes: usize,
}

struct Inner<V> {
    map: HashMap<u64, Vec<Entry<V>>>,
    bytes: usize,
}

struct Entry<V> {
    name: Arc<str>,
    text: Arc<str>,
    value: V,
}

/// A fast hash of the key (collisions are settled by comparing the texts).
fn hash(name: &str, text: &str) -> u64 {
    use std::hash::Hasher as _;
    let mut h = FastHasher::seeded((name.len() as u64) ^ ((text.len() as u64) << 32));
    for part in [name.as_bytes(), text.as_bytes()] {
        h.write(part);
        h.write_u8(0xff);
    }
    h.finish()
}

impl<V: Clone> Memo<V> {
    /// An empty memo that holds texts of at most `max_bytes` in total.
    pub fn new(max_bytes: usize) -> Self {
        Memo {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                bytes: 0,
            }),
            max_bytes,
        }
    }

    /// The value for (`name`, `text`), computed by `f` (outside the memo's lock) when absent.
    /// Errors are not kept.
    pub fn get_or_try<E>(
        &self,
        name: &str,
        text: &str,
        f: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        let h = hash(name, text);
        {
            let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(e) = inner
                .map
                .get(&h)
                .and_then(|v| v.iter().find(|e| &*e.name == name && &*e.text == text))
            {
                return Ok(e.value.clone());
            }
        }
        let value = f()?;
        let size = name.len() + text.len();
        if size <= self.max_bytes / 4 {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if inner.bytes + size > self.max_bytes {
                inner.map.clear();
                inner.bytes = 0;
            }
            let bucket = inner.map.entry(h).or_default();
            if !bucket.iter().any(|e| &*e.name == name && &*e.text == text) {
                bucket.push(Entry {
                    name: Arc::from(name),
                    text: Arc::from(text),
                    value: value.clone(),
                });
                inner.bytes += size;
            }
        }
        Ok(value)
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.map.clear();
        inner.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_by_name_and_text_and_stays_bounded() {
        let m: Memo<usize> = Memo::new(64);
        let calls = std::cell::Cell::new(0);
        let get = |n: &str, t: &str| {
            m.get_or_try::<()>(n, t, || {
                calls.set(calls.get() + 1);
                Ok(t.len())
            })
            .unwrap()
        };
        assert_eq!(get("a", "xyz"), 3);
        assert_eq!(get("a", "xyz"), 3);
        assert_eq!(get("b", "xyz"), 3);
        assert_eq!(get("a", "xyzw"), 4);
        assert_eq!(calls.get(), 3);
        // Over the limit: everything is forgotten, then kept again.
        for i in 0..20 {
            m.get_or_try::<()>("k", &format!("text {i}"), || Ok(i))
                .unwrap();
        }
        assert!(m.inner.lock().unwrap().bytes <= 64);
    }
}
