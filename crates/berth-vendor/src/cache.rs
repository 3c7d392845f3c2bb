//! A small time-bounded cache for the read side of update checks (licenses, channel contents).
//!
//! Update checks are the server's hot path; reading the database for each one would bound the
//! server by the database, not by HTTP. Entries are fresh for [`TTL`]: a change made through
//! another replica is seen within that time plus one database read; a change made through this
//! process clears the cache at once.
//!
//! An expired entry is refreshed by one request while the others go on answering from the
//! expired value (for at most [`MAX_STALE`]). Without that, every request in flight when an
//! entry expired read the database at the same moment: once a second, dozens of identical
//! queries queued on the connection pool, and they were the whole latency tail of update checks
//! on PostgreSQL.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a cached read is trusted.
pub const TTL: Duration = Duration::from_secs(1);

/// How old an entry may be and still answer while another request refreshes it. Past this,
/// or when the refreshing request has itself taken longer than [`TTL`] (it failed or its
/// client went away), the next request reads the database.
pub const MAX_STALE: Duration = Duration::from_secs(5);

/// Entries beyond which the cache is emptied (it refills from the database).
const MAX_ENTRIES: usize = 100_000;

struct Entry<V> {
    at: Instant,
    value: V,
    /// When a request started refreshing this entry, if one is.
    refreshing_since: Option<Instant>,
}

/// Values keyed by `K`, each trusted for [`TTL`].
pub struct TtlCache<K, V> {
    map: Mutex<HashMap<K, Entry<V>>>,
}

impl<K, V> Default for TtlCache<K, V> {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }
}

/// What a lookup found.
enum Found<V> {
    /// A value to answer with (fresh, or stale while another request refreshes it).
    Answer(V),
    /// This request reads the database.
    Load,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// The cached value, or the loader's (cached when it succeeds).
    pub async fn get_or_load<E, F>(&self, key: &K, load: F) -> Result<V, E>
    where
        F: std::future::Future<Output = Result<V, E>>,
    {
        if let Found::Answer(v) = self.lookup(key, Instant::now()) {
            return Ok(v);
        }
        let result = load.await;
        if let Ok(mut m) = self.map.lock() {
            match &result {
                Ok(v) => {
                    if m.len() >= MAX_ENTRIES {
                        m.clear();
                    }
                    let entry = Entry {
                        at: Instant::now(),
                        value: v.clone(),
                        refreshing_since: None,
                    };
                    m.insert(key.clone(), entry);
                }
                // A failed refresh lets the next request try again at once.
                Err(_) => {
                    if let Some(e) = m.get_mut(key) {
                        e.refreshing_since = None;
                    }
                }
            }
        }
        result
    }

    /// Decide under the lock: answer from the entry, or load (claiming the refresh).
    fn lookup(&self, key: &K, now: Instant) -> Found<V> {
        let Ok(mut m) = self.map.lock() else {
            return Found::Load;
        };
        let Some(e) = m.get_mut(key) else {
            return Found::Load;
        };
        let age = now.saturating_duration_since(e.at);
        if age < TTL {
            return Found::Answer(e.value.clone());
        }
        let refresh_in_flight = e
            .refreshing_since
            .is_some_and(|since| now.saturating_duration_since(since) < TTL);
        if refresh_in_flight && age < MAX_STALE {
            return Found::Answer(e.value.clone());
        }
        e.refreshing_since = Some(now);
        Found::Load
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

    #[tokio::test]
    async fn one_request_refreshes_an_expired_entry_while_the_others_answer_from_it() {
        let c: TtlCache<u32, u32> = TtlCache::default();
        assert_eq!(c.get_or_load(&1, async { Ok::<_, ()>(1) }).await, Ok(1));
        // Age the entry past the TTL.
        let past = Instant::now() - TTL - Duration::from_millis(10);
        c.map.lock().unwrap().get_mut(&1).unwrap().at = past;
        // The first request after expiry claims the refresh ...
        assert!(matches!(c.lookup(&1, Instant::now()), Found::Load));
        // ... and the next ones answer with the expired value instead of reading too.
        for _ in 0..10 {
            assert!(matches!(c.lookup(&1, Instant::now()), Found::Answer(1)));
        }
        // A refresh that never finished (its client went away) is taken over after the TTL.
        let later = Instant::now() + TTL + Duration::from_millis(10);
        assert!(matches!(c.lookup(&1, later), Found::Load));
        // Past MAX_STALE nothing is answered from the entry, refresh or not.
        let much_later = past + MAX_STALE + Duration::from_millis(1);
        c.map.lock().unwrap().get_mut(&1).unwrap().refreshing_since = Some(much_later);
        assert!(matches!(c.lookup(&1, much_later), Found::Load));
        // A finished refresh stores the new value as fresh.
        c.map.lock().unwrap().get_mut(&1).unwrap().refreshing_since = None;
        assert_eq!(c.get_or_load(&1, async { Ok::<_, ()>(2) }).await, Ok(2));
        assert_eq!(c.get_or_load(&1, async { Ok::<_, ()>(3) }).await, Ok(2));
    }

    #[tokio::test]
    async fn a_failed_refresh_lets_the_next_request_read_again() {
        let c: TtlCache<u32, u32> = TtlCache::default();
        assert_eq!(c.get_or_load(&1, async { Ok::<_, ()>(1) }).await, Ok(1));
        c.map.lock().unwrap().get_mut(&1).unwrap().at = Instant::now() - TTL;
        assert_eq!(
            c.get_or_load(&1, async { Err::<u32, ()>(()) }).await,
            Err(())
        );
        assert!(matches!(c.lookup(&1, Instant::now()), Found::Load));
    }
}
