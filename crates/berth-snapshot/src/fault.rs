//! A test hook for crash trials: end the process (exit 137, as after SIGKILL) at the Nth
//! change to the store, optionally after leaving a torn file behind.
//!
//! `BERTH_TEST_SNAPSHOT_EXIT_AT=N` stops just before the Nth write or delete (1-based);
//! with `BERTH_TEST_SNAPSHOT_TORN=1` that Nth write, if it is a pack or an index file, first
//! stores the first half of its bytes under the final name, as a store without atomic writes
//! would after a crash (snapshot documents need an atomic write, which every backend gives).
//! Unset, the wrapper passes everything through.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::backend::{Backend, FileInfo};

/// Wraps a backend with the exit hook read from the environment.
pub struct ExitAtBackend<B> {
    inner: B,
    exit_at: Option<u64>,
    torn: bool,
    count: AtomicU64,
}

impl<B: Backend> ExitAtBackend<B> {
    /// Reads `BERTH_TEST_SNAPSHOT_EXIT_AT` and `BERTH_TEST_SNAPSHOT_TORN`.
    pub fn from_env(inner: B) -> Self {
        let exit_at = std::env::var("BERTH_TEST_SNAPSHOT_EXIT_AT")
            .ok()
            .and_then(|v| v.parse().ok());
        let torn = std::env::var("BERTH_TEST_SNAPSHOT_TORN").as_deref() == Ok("1");
        ExitAtBackend {
            inner,
            exit_at,
            torn,
            count: AtomicU64::new(0),
        }
    }

    fn tick(&self, torn_write: Option<(&str, &[u8])>) {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        if self.exit_at == Some(n) {
            if let (true, Some((name, data))) = (self.torn, torn_write)
                && (name.starts_with("packs/") || name.starts_with("index/"))
            {
                let _ = self.inner.write(name, &data[..data.len() / 2]);
            }
            eprintln!("BERTH_TEST_SNAPSHOT_EXIT_AT={n}: exiting before change {n}");
            std::process::exit(137);
        }
    }
}

impl<B: Backend> Backend for ExitAtBackend<B> {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn write(&self, name: &str, data: &[u8]) -> io::Result<()> {
        self.tick(Some((name, data)));
        self.inner.write(name, data)
    }
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        self.inner.read(name)
    }
    fn read_at(&self, name: &str, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        self.inner.read_at(name, offset, len)
    }
    fn size(&self, name: &str) -> io::Result<u64> {
        self.inner.size(name)
    }
    fn list(&self, dir: &str) -> io::Result<Vec<FileInfo>> {
        self.inner.list(dir)
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.tick(None);
        self.inner.remove(name)
    }
    fn exists(&self, name: &str) -> io::Result<bool> {
        self.inner.exists(name)
    }
}
