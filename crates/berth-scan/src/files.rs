//! The files catalogers read, and the set holding them once layers are applied. Only these
//! paths are ever kept in memory, so a multi-GiB image costs a few MiB.

use std::collections::BTreeMap;

/// dpkg's database of installed packages.
pub const DPKG_STATUS: &str = "var/lib/dpkg/status";
/// Distroless images: one file per package instead of one `status`.
pub const DPKG_STATUS_D: &str = "var/lib/dpkg/status.d/";
/// apk's database of installed packages.
pub const APK_INSTALLED: &str = "lib/apk/db/installed";
/// OS identification, and where `etc/os-release` usually links to.
pub const OS_RELEASE: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];
/// Debian's own release file.
pub const DEBIAN_VERSION: &str = "etc/debian_version";
/// Alpine's own release file.
pub const ALPINE_RELEASE: &str = "etc/alpine-release";
/// Whether a path (relative, no leading `/`) holds data a cataloger reads.
pub fn wanted(path: &str) -> bool {
    path == DPKG_STATUS
        || path == APK_INSTALLED
        || OS_RELEASE.contains(&path)
        || path == DEBIAN_VERSION
        || path == ALPINE_RELEASE
        || crate::catalog::rpm::is_db(path)
        || path
            .strip_prefix(DPKG_STATUS_D)
            .is_some_and(|name| !name.is_empty() && !name.contains('/'))
        || is_python_metadata(path)
        || is_npm_lock(path)
        || is_node_module_manifest(path)
        || is_cargo_lock(path)
        || python_lock(path).is_some()
}

/// Which Python lockfile `path` is, by its file name: `poetry.lock`, `uv.lock`,
/// `Pipfile.lock`, or a `requirements*.txt`.
pub fn python_lock(path: &str) -> Option<PythonLock> {
    let b = base(path);
    match b {
        "poetry.lock" | "uv.lock" => Some(PythonLock::Toml),
        "Pipfile.lock" => Some(PythonLock::Pipfile),
        _ if b.starts_with("requirements") && b.ends_with(".txt") => Some(PythonLock::Requirements),
        _ => None,
    }
}

/// The kinds of Python lockfile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PythonLock {
    /// `poetry.lock`, `uv.lock`.
    Toml,
    /// `Pipfile.lock`.
    Pipfile,
    /// `requirements*.txt`.
    Requirements,
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// An npm lockfile (`package-lock.json`; the hidden `node_modules/.package-lock.json`
/// repeats what the manifests below it say, so it is not read).
pub fn is_npm_lock(path: &str) -> bool {
    base(path) == "package-lock.json"
}

/// `…/node_modules/<name>/package.json` or `…/node_modules/@scope/<name>/package.json`.
pub fn is_node_module_manifest(path: &str) -> bool {
    let Some(dir) = path.strip_suffix("/package.json") else {
        return false;
    };
    let mut parts = dir.rsplit('/');
    let (Some(name), Some(parent)) = (parts.next(), parts.next()) else {
        return false;
    };
    if name.starts_with('.') {
        return false;
    }
    parent == "node_modules" || (parent.starts_with('@') && parts.next() == Some("node_modules"))
}

/// A Rust lockfile.
pub fn is_cargo_lock(path: &str) -> bool {
    base(path) == "Cargo.lock"
}

/// Smallest executable looked into for Go build info (a Go binary is megabytes).
pub const MIN_GO_BINARY: u64 = 256 << 10;
/// Largest executable looked into for Go build info.
pub const MAX_GO_BINARY: u64 = 512 << 20;

/// `…/<name>-<version>.dist-info/METADATA` anywhere in the tree.
pub fn is_python_metadata(path: &str) -> bool {
    path.strip_suffix("/METADATA")
        .is_some_and(|dir| dir.ends_with(".dist-info"))
}

/// One kept file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// The content.
    pub data: Vec<u8>,
    /// Digest of the layer that wrote it last (images only).
    pub layer: Option<String>,
}

/// The wanted files of a target, by relative path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileSet {
    /// Path → entry.
    pub files: BTreeMap<String, FileEntry>,
    /// Wanted files that exist but could not be read (a hard link to a file berth did not
    /// keep): reported as not scanned, never as clean.
    pub problems: Vec<String>,
}

impl FileSet {
    /// Content of a file, when present.
    pub fn get(&self, path: &str) -> Option<&FileEntry> {
        self.files.get(path)
    }

    /// Insert or replace a file.
    pub fn insert(&mut self, path: impl Into<String>, data: Vec<u8>, layer: Option<String>) {
        self.files.insert(path.into(), FileEntry { data, layer });
    }

    /// Remove `path` and everything below it (a whiteout or a replacing entry).
    pub fn remove_tree(&mut self, path: &str) {
        self.files.remove(path);
        self.remove_below(path);
    }

    /// Remove everything strictly below directory `dir` (an opaque directory).
    pub fn remove_below(&mut self, dir: &str) {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.files.retain(|p, _| !p.starts_with(&prefix));
    }
}
