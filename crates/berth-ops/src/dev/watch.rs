//! Which files the app uses, and which of them changed: polling of modification times,
//! sizes and inodes. Polling needs no platform watcher and sees editors that save by
//! renaming a temporary file; for an app of a few hundred files a poll is a few hundred
//! `stat` calls.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Files watched at most (a chart directory holding a build tree by mistake stays bounded).
const MAX_FILES: usize = 20_000;

/// What is compared between polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

/// The files an app uses and their stamps at the last poll.
pub(crate) struct Watch {
    app_dir: PathBuf,
    config_file: Option<PathBuf>,
    roots: Vec<PathBuf>,
    checks: Vec<PathBuf>,
    stamps: BTreeMap<PathBuf, Stamp>,
}

impl Watch {
    /// Watch the app in `app_dir` (and the config file), stamping every file now.
    pub(crate) fn new(app_dir: &Path, config_file: Option<&Path>) -> Watch {
        let mut w = Watch {
            app_dir: app_dir.to_path_buf(),
            config_file: config_file.map(Path::to_path_buf),
            roots: Vec::new(),
            checks: Vec::new(),
            stamps: BTreeMap::new(),
        };
        w.refresh_roots();
        w.stamps = w.scan();
        w
    }

    /// Number of files watched.
    pub(crate) fn len(&self) -> usize {
        self.stamps.len()
    }

    /// The preflight spec files berth.yaml names (`spec.checks.preflights`).
    pub(crate) fn preflight_files(&self) -> &[PathBuf] {
        &self.checks
    }

    /// Files added, changed or removed since the last poll, and the newest modification
    /// time among them (when a file's write happened).
    pub(crate) fn poll(&mut self) -> (Vec<PathBuf>, Option<SystemTime>) {
        let now = self.scan();
        let mut changed = Vec::new();
        let mut newest: Option<SystemTime> = None;
        for (p, s) in &now {
            if self.stamps.get(p) != Some(s) {
                changed.push(p.clone());
                newest = newest.max(s.modified);
            }
        }
        changed.extend(
            self.stamps
                .keys()
                .filter(|p| !now.contains_key(*p))
                .cloned(),
        );
        self.stamps = now;
        if changed.iter().any(|p| p.ends_with("berth.yaml")) {
            // A component or check added to berth.yaml is watched from now on.
            self.refresh_roots();
            self.stamps = self.scan();
        }
        (changed, newest)
    }

    /// The roots to walk: berth.yaml, each local chart and manifest directory, each check
    /// file and the config file. When berth.yaml cannot be read the roots stay as they were
    /// (berth.yaml itself is always one), so fixing it is seen.
    fn refresh_roots(&mut self) {
        let manifest = self.app_dir.join("berth.yaml");
        let Ok(loaded) = berth_spec::load(&self.app_dir) else {
            if self.roots.is_empty() {
                self.roots = vec![self.app_dir.clone()];
            }
            return;
        };
        let spec = &loaded.app.spec;
        let mut roots = vec![manifest];
        for c in &spec.components {
            if let Some(p) = c.chart.as_ref().and_then(|ch| ch.path.as_ref()) {
                roots.push(self.app_dir.join(p));
            }
            if let Some(m) = &c.manifests {
                roots.push(self.app_dir.join(&m.path));
            }
        }
        self.checks.clear();
        if let Some(ch) = &spec.checks {
            self.checks = ch.preflights.iter().map(|f| self.app_dir.join(f)).collect();
            for f in ch
                .host_preflights
                .iter()
                .chain(&ch.support_bundles)
                .chain(&ch.redactors)
            {
                roots.push(self.app_dir.join(f));
            }
            roots.extend(self.checks.iter().cloned());
        }
        roots.extend(self.config_file.iter().cloned());
        self.roots = roots;
    }

    /// Stamp every file under the roots (hidden files other than `.helmignore`, and editor
    /// backups, are skipped: saving in an editor writes them beside the real file).
    fn scan(&self) -> BTreeMap<PathBuf, Stamp> {
        let mut out = BTreeMap::new();
        for root in &self.roots {
            let walk = walkdir::WalkDir::new(root)
                .follow_links(false)
                .into_iter()
                .filter_entry(|e| e.depth() == 0 || !skipped(e.file_name()));
            for e in walk.flatten() {
                if out.len() >= MAX_FILES {
                    return out;
                }
                if !e.file_type().is_file() {
                    continue;
                }
                if let Ok(m) = e.metadata() {
                    out.insert(e.path().to_path_buf(), stamp(&m));
                }
            }
        }
        out
    }
}

fn skipped(name: &std::ffi::OsStr) -> bool {
    let n = name.to_string_lossy();
    (n.starts_with('.') && n != ".helmignore") || n.ends_with('~') || n.ends_with(".swp")
}

fn stamp(m: &std::fs::Metadata) -> Stamp {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(m);
    #[cfg(not(unix))]
    let inode = 0;
    Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        inode,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_additions_and_removals_are_seen_and_backups_are_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = dir.path();
        std::fs::write(
            app.join("berth.yaml"),
            "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: a\nspec:\n  components:\n    - name: a\n      manifests:\n        path: m\n",
        )
        .expect("write");
        std::fs::create_dir(app.join("m")).expect("mkdir");
        std::fs::write(app.join("m/a.yaml"), "a: 1\n").expect("write");
        std::fs::write(app.join("unrelated.txt"), "x").expect("write");
        let mut w = Watch::new(app, None);
        assert_eq!(w.len(), 2, "berth.yaml and m/a.yaml");
        assert!(w.poll().0.is_empty());
        std::fs::write(app.join("m/a.yaml"), "a: 22\n").expect("write");
        std::fs::write(app.join("m/.a.yaml.swp"), "junk").expect("write");
        std::fs::write(app.join("unrelated.txt"), "y").expect("write");
        assert_eq!(w.poll().0, vec![app.join("m/a.yaml")]);
        std::fs::write(app.join("m/b.yaml"), "b: 1\n").expect("write");
        std::fs::remove_file(app.join("m/a.yaml")).expect("rm");
        let (mut got, newest) = w.poll();
        got.sort();
        assert_eq!(got, vec![app.join("m/a.yaml"), app.join("m/b.yaml")]);
        assert!(newest.is_some());
    }
}
