//! Where repository files live: the [`Backend`] trait and the local-directory backend.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rand::RngCore;

/// A file in the store, as listed.
#[derive(Debug, Clone)]
pub struct FileInfo {
    /// Name relative to the repository root, `/`-separated (e.g. `packs/ab/ab12…`).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time, used by prune's grace period.
    pub modified: SystemTime,
}

/// A store of named files. Names are `/`-separated and relative to the repository root.
///
/// `write` must be atomic: after a crash a file is either absent or complete under its final
/// name (the repository tolerates stores where this fails, see the format document).
pub trait Backend: Send + Sync {
    /// A human-readable location for messages (never holds a secret).
    fn location(&self) -> String;
    /// Writes a whole file atomically, replacing any file of that name.
    fn write(&self, name: &str, data: &[u8]) -> io::Result<()>;
    /// Reads a whole file.
    fn read(&self, name: &str) -> io::Result<Vec<u8>>;
    /// Reads `len` bytes at `offset`; fails if the file is shorter.
    fn read_at(&self, name: &str, offset: u64, len: u64) -> io::Result<Vec<u8>>;
    /// The size of a file.
    fn size(&self, name: &str) -> io::Result<u64>;
    /// Lists every file under a directory, recursively; an absent directory lists nothing.
    fn list(&self, dir: &str) -> io::Result<Vec<FileInfo>>;
    /// Deletes a file; deleting an absent file succeeds.
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Whether a file exists.
    fn exists(&self, name: &str) -> io::Result<bool>;
}

/// A repository in a local directory (a local disk, or an NFS/SAN mount).
#[derive(Debug, Clone)]
pub struct LocalBackend {
    root: PathBuf,
}

impl LocalBackend {
    /// A backend rooted at `root` (created on the first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalBackend { root: root.into() }
    }

    fn path(&self, name: &str) -> io::Result<PathBuf> {
        // Names come from the repository code, but a hostile repository could list odd names.
        if name.is_empty()
            || name.starts_with('/')
            || name
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid file name {name:?}"),
            ));
        }
        Ok(self.root.join(name))
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    // Directory fsync makes the rename durable; some file systems refuse it, which is harmless.
    match fs::File::open(dir).and_then(|d| d.sync_all()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(22) => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

impl Backend for LocalBackend {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn write(&self, name: &str, data: &[u8]) -> io::Result<()> {
        let dest = self.path(name)?;
        let tmp_dir = self.root.join("tmp");
        fs::create_dir_all(&tmp_dir)?;
        let mut rnd = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut rnd);
        let tmp = tmp_dir.join(hex::encode(rnd));
        let result = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            drop(f);
            let parent = dest.parent().unwrap_or(&self.root);
            fs::create_dir_all(parent)?;
            fs::rename(&tmp, &dest)?;
            sync_dir(parent)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path(name)?)
    }

    fn read_at(&self, name: &str, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let mut f = fs::File::open(self.path(name)?)?;
        f.seek(SeekFrom::Start(offset))?;
        let len = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "length too large"))?;
        let mut buf = vec![0u8; len];
        f.read_exact(&mut buf)?;
        Ok(buf)
    }

    fn size(&self, name: &str) -> io::Result<u64> {
        Ok(fs::metadata(self.path(name)?)?.len())
    }

    fn list(&self, dir: &str) -> io::Result<Vec<FileInfo>> {
        let mut out = Vec::new();
        let base = self.path(dir)?;
        let mut stack = vec![(base, dir.to_string())];
        while let Some((path, name)) = stack.pop() {
            let entries = match fs::read_dir(&path) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let Some(file_name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                let child = format!("{name}/{file_name}");
                let meta = entry.metadata()?;
                if meta.is_dir() {
                    stack.push((entry.path(), child));
                } else if meta.is_file() {
                    out.push(FileInfo {
                        name: child,
                        size: meta.len(),
                        modified: meta.modified()?,
                    });
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        match fs::remove_file(self.path(name)?) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }

    fn exists(&self, name: &str) -> io::Result<bool> {
        Ok(self.path(name)?.exists())
    }
}

/// A shared backend is a backend (so wrappers such as retries can hold `Arc<dyn Backend>`).
impl<T: Backend + ?Sized> Backend for std::sync::Arc<T> {
    fn location(&self) -> String {
        (**self).location()
    }
    fn write(&self, name: &str, data: &[u8]) -> io::Result<()> {
        (**self).write(name, data)
    }
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        (**self).read(name)
    }
    fn read_at(&self, name: &str, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        (**self).read_at(name, offset, len)
    }
    fn size(&self, name: &str) -> io::Result<u64> {
        (**self).size(name)
    }
    fn list(&self, dir: &str) -> io::Result<Vec<FileInfo>> {
        (**self).list(dir)
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        (**self).remove(name)
    }
    fn exists(&self, name: &str) -> io::Result<bool> {
        (**self).exists(name)
    }
}
