//! A small time-bounded cache for the read side of update checks (licenses, channel contents).
//!
//! Update checks are the server's hot path; reading the database for each one would bound the
//! server by the database, not by HTTP. Entries live for [`TTL`]: a change made through another
//! replica is seen within that time; a change made through this process clears the cache at
//! once.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a cached read is trusted.
pub const TTL: Duration = Duration::from_secs(1);

/// Entries beyond which the cache is emptied (it refills from the database).
const MAX_ENTRIES: usize = 100_000;

/// Values keyed by `K`, each trusted for [`TTL`].
pub struct TtlCache<K, V> {
    map: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K, V> Default for TtlCache<K, V> {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// The cached value, or the loader's (cached when it succeeds).
    pub async fn get_or_load<E, F>(&self, key: &K, load: F) -> Result<V, E>
    where
        F: std::future::Future<Output = Result<V, E>>,
    {
        if let Ok(m) = self.map.lock()
            && let Some((at, v)) = m.get(key)
            && at.elapsed() < TTL
        {
            return Ok(v.clone());
        }
        let v = load.await?;
        if let Ok(mut m) = self.map.lock() {
            if m.len() >= MAX_ENTRIES {
                m.clear();
            }
            m.insert(key.clone(), (Instant::now(), v.clone()));
        }
        Ok(v)
    }

    /// Forget everything (after a change made through this process).
    pub fn clear(&self) {
        if let Ok(mut m) = self.map.lock() {
            m.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loads_once_within_the_ttl_and_again_after_clear() {
        let c: TtlCache<u32, u32> = TtlCache::default();
        let calls = std::sync::atomic::AtomicU32::new(0);
        let load = || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, ()>(7)
        };
        assert_eq!(c.get_or_load(&1, load()).await, Ok(7));
        assert_eq!(c.get_or_load(&1, load()).await, Ok(7));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        c.clear();
        assert_eq!(c.get_or_load(&1, load()).await, Ok(7));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        // a failed load is not cached
        assert_eq!(
            c.get_or_load(&2, async { Err::<u32, ()>(()) }).await,
            Err(())
        );
        assert_eq!(c.get_or_load(&2, load()).await, Ok(7));
    }
}
