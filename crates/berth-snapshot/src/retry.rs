//! Retries with exponential back-off around any [`Backend`]: a network store that drops a
//! connection, times out or answers 5xx is asked again until a time budget runs out.
//!
//! Retrying is safe because every repository write is idempotent: a file's name is the hash
//! of its bytes (or random), and a write replaces a file of that name whole.

use std::io;
use std::time::{Duration, Instant};

use crate::backend::{Backend, FileInfo};

/// An error the store may not repeat: worth asking again.
#[derive(Debug)]
pub struct Transient(pub String);

impl std::fmt::Display for Transient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Transient {}

/// An `io::Error` marked as transient (a 5xx answer, a dropped session).
pub fn transient(msg: impl Into<String>) -> io::Error {
    io::Error::other(Transient(msg.into()))
}

/// Whether an error may go away by itself (a dropped connection, a timeout, a 5xx answer).
/// Missing files, refused credentials and invalid requests are not transient.
pub fn is_transient(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::BrokenPipe
            | K::TimedOut
            | K::Interrupted
            | K::UnexpectedEof
            | K::WouldBlock
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown
    ) || e.get_ref().is_some_and(|inner| inner.is::<Transient>())
}

/// How long to keep retrying.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Give up once this much time has passed since the first attempt of an operation.
    pub budget: Duration,
    /// First pause; doubled after each failure.
    pub first_delay: Duration,
    /// Longest pause.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            budget: Duration::from_secs(120),
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        }
    }
}

/// A backend that retries transient errors of another one.
pub struct RetryBackend<B> {
    inner: B,
    policy: RetryPolicy,
}

impl<B: Backend> RetryBackend<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, policy: RetryPolicy) -> Self {
        RetryBackend { inner, policy }
    }

    /// Runs one operation on the inner backend with retries.
    pub fn run_op<T>(&self, what: &str, mut op: impl FnMut(&B) -> io::Result<T>) -> io::Result<T> {
        let start = Instant::now();
        let mut delay = self.policy.first_delay;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            match op(&self.inner) {
                Ok(v) => return Ok(v),
                Err(e) if is_transient(&e) && start.elapsed() + delay <= self.policy.budget => {
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(self.policy.max_delay);
                }
                Err(e) if attempts > 1 => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!(
                            "{e} (after {attempts} attempts over {:.0?} at {}; {what})",
                            start.elapsed(),
                            self.inner.location()
                        ),
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl<B: Backend> Backend for RetryBackend<B> {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn write(&self, name: &str, data: &[u8]) -> io::Result<()> {
        self.run_op(name, |b| b.write(name, data))
    }
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        self.run_op(name, |b| b.read(name))
    }
    fn read_at(&self, name: &str, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        self.run_op(name, |b| b.read_at(name, offset, len))
    }
    fn size(&self, name: &str) -> io::Result<u64> {
        self.run_op(name, |b| b.size(name))
    }
    fn list(&self, dir: &str) -> io::Result<Vec<FileInfo>> {
        self.run_op(dir, |b| b.list(dir))
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.run_op(name, |b| b.remove(name))
    }
    fn exists(&self, name: &str) -> io::Result<bool> {
        self.run_op(name, |b| b.exists(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Fails the first `fail` calls of every kind with `err`, then succeeds.
    struct Flaky {
        fail: u32,
        calls: AtomicU32,
        kind: io::ErrorKind,
    }
    impl Backend for Flaky {
        fn location(&self) -> String {
            "flaky".into()
        }
        fn write(&self, _: &str, _: &[u8]) -> io::Result<()> {
            self.read("x").map(|_| ())
        }
        fn read(&self, _: &str) -> io::Result<Vec<u8>> {
            if self.calls.fetch_add(1, Ordering::SeqCst) < self.fail {
                Err(io::Error::new(self.kind, "boom"))
            } else {
                Ok(b"ok".to_vec())
            }
        }
        fn read_at(&self, n: &str, _: u64, _: u64) -> io::Result<Vec<u8>> {
            self.read(n)
        }
        fn size(&self, _: &str) -> io::Result<u64> {
            Ok(0)
        }
        fn list(&self, _: &str) -> io::Result<Vec<FileInfo>> {
            Ok(vec![])
        }
        fn remove(&self, _: &str) -> io::Result<()> {
            Ok(())
        }
        fn exists(&self, _: &str) -> io::Result<bool> {
            Ok(true)
        }
    }

    fn quick(budget_ms: u64) -> RetryPolicy {
        RetryPolicy {
            budget: Duration::from_millis(budget_ms),
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
        }
    }

    #[test]
    fn transient_errors_are_retried_until_they_pass() {
        let b = RetryBackend::new(
            Flaky {
                fail: 3,
                calls: AtomicU32::new(0),
                kind: io::ErrorKind::ConnectionRefused,
            },
            quick(5_000),
        );
        assert_eq!(b.read("x").unwrap(), b"ok");
        assert_eq!(b.inner.calls.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn permanent_errors_are_not_retried_and_the_budget_ends_retries() {
        let b = RetryBackend::new(
            Flaky {
                fail: 1,
                calls: AtomicU32::new(0),
                kind: io::ErrorKind::NotFound,
            },
            quick(5_000),
        );
        assert_eq!(b.read("x").unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(b.inner.calls.load(Ordering::SeqCst), 1);
        let b = RetryBackend::new(
            Flaky {
                fail: u32::MAX,
                calls: AtomicU32::new(0),
                kind: io::ErrorKind::TimedOut,
            },
            quick(30),
        );
        let e = b.read("x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(e.to_string().contains("attempts"), "{e}");
        assert!(b.inner.calls.load(Ordering::SeqCst) > 1);
        assert!(is_transient(&transient("503 Slow Down")));
        assert!(!is_transient(&io::Error::other("403 Forbidden")));
    }
}
