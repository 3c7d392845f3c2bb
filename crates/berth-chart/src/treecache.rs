//! Whole chart directories kept between loads while the kernel reports no change in them.
//!
//! [`crate::filecache`] makes a second load of a chart directory cost one `fstatat` per file
//! and directory. For a long-lived process that loads the same chart again and again
//! (`berth dev` on every save, the console, a benchmark's warm runs) even that is a quarter
//! of a render. This cache asks the kernel instead: while a chart directory is walked, every
//! directory of it gets an inotify watch, and the files the walk produced are kept. A later
//! load drains the inotify queue (one non-blocking `read`) and reuses the files when no event
//! touched any of the chart's directories since the walk began. Only a chart loaded a second
//! time is watched: a one-shot load (`berth template`, `berth lint`) adds no watch.
//!
//! Why this is sound: inotify events are queued by the system call that changes a file,
//! before it returns, so a change that completed before a load is in the queue when the load
//! reads it. Watches are added to each directory (through its open descriptor, so they name
//! the directory that was listed) before the directory is listed and its files are read:
//! whatever changes after that is reported. A directory watch reports changes to the entries
//! themselves: a file written, truncated, created, removed, renamed in or out, or its
//! attributes changed.
//!
//! What it does not see, and so where it is not used:
//! - a symlink's target (the event goes to the target's own directory): a chart with a
//!   symlink anywhere is not kept;
//! - a file with a second hard link elsewhere, written through that other name: a chart
//!   with any file whose link count is above one is not kept;
//! - changes made by another machine on a network file system: only directories on local
//!   file systems (ext2/3/4, XFS, Btrfs, tmpfs) are kept;
//! - the chart's directory replaced, or a parent renamed: each load opens the path again and
//!   compares the directory's device and inode;
//! - a write through a shared writable memory mapping (no event is queued for it); editors
//!   and tools write with `write(2)` or rename a new file into place.
//!
//! An overflowing event queue forgets everything; so does passing [`MAX_WATCHES`] watches or
//! [`MAX_TREES`] charts (a new inotify instance starts empty).

use crate::Chart;
use crate::archive::{Budget, ChartFile};
use crate::filecache::Dir;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use nix::sys::statfs::{
    BTRFS_SUPER_MAGIC, EXT4_SUPER_MAGIC, TMPFS_MAGIC, XFS_SUPER_MAGIC, fstatfs,
};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

/// Watches kept at most (one per directory of the charts kept).
pub(crate) const MAX_WATCHES: usize = 8192;
/// Charts kept at most.
pub(crate) const MAX_TREES: usize = 512;

/// What a directory watch reports: any change to an entry or to the directory itself.
const MASK: AddWatchFlags = AddWatchFlags::IN_MODIFY
    .union(AddWatchFlags::IN_ATTRIB)
    .union(AddWatchFlags::IN_CLOSE_WRITE)
    .union(AddWatchFlags::IN_CREATE)
    .union(AddWatchFlags::IN_DELETE)
    .union(AddWatchFlags::IN_DELETE_SELF)
    .union(AddWatchFlags::IN_MOVE_SELF)
    .union(AddWatchFlags::IN_MOVED_FROM)
    .union(AddWatchFlags::IN_MOVED_TO)
    .union(AddWatchFlags::IN_ONLYDIR);

/// One chart directory's files as a walk produced them.
struct Tree {
    /// Device and inode of the chart's directory when it was walked.
    root: (u64, u64),
    /// The directory's change count when the walk began.
    changes: u64,
    epoch: u64,
    files: Vec<ChartFile>,
    budget: Budget,
    /// Names this walk's result (see [`set_chart`]).
    serial: u64,
    /// The chart built from `files`, once built.
    chart: Option<Chart>,
}

struct State {
    inotify: Option<Inotify>,
    /// Bumped whenever the inotify instance starts over: everything before is forgotten.
    epoch: u64,
    /// The charts (by the path they were loaded from) each watched directory belongs to.
    keys: HashMap<WatchDescriptor, Vec<PathBuf>>,
    /// How many events have touched each chart's directories.
    changes: HashMap<PathBuf, u64>,
    trees: HashMap<PathBuf, Tree>,
    /// Charts loaded once: the second load watches (a one-shot load pays nothing).
    seen: HashSet<PathBuf>,
    /// Numbers the kept walks.
    serial: u64,
}

static STATE: LazyLock<Mutex<State>> = LazyLock::new(|| {
    Mutex::new(State {
        inotify: None,
        epoch: 0,
        keys: HashMap::new(),
        changes: HashMap::new(),
        trees: HashMap::new(),
        seen: HashSet::new(),
        serial: 0,
    })
});

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    /// Starts over with a new inotify instance (closing the old one drops its watches).
    fn reset(&mut self) {
        self.inotify = None;
        self.epoch += 1;
        self.keys.clear();
        self.changes.clear();
        self.trees.clear();
        self.seen.clear();
    }

    fn inotify(&mut self) -> Option<&Inotify> {
        if self.inotify.is_none() {
            self.inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok();
        }
        self.inotify.as_ref()
    }

    /// Reads every queued event and counts it against the charts it touches.
    fn drain(&mut self) {
        loop {
            let Some(inotify) = &self.inotify else { return };
            let events = match inotify.read_events() {
                Ok(events) if !events.is_empty() => events,
                // EAGAIN: the queue is empty. Any other error: the instance is unusable.
                Ok(_) | Err(nix::errno::Errno::EAGAIN) => return,
                Err(_) => {
                    self.reset();
                    return;
                }
            };
            for e in events {
                if e.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                    self.reset();
                    return;
                }
                let Some(keys) = self.keys.get(&e.wd) else {
                    continue;
                };
                for k in keys {
                    *self.changes.entry(k.clone()).or_default() += 1;
                }
                if e.mask.contains(AddWatchFlags::IN_IGNORED) {
                    self.keys.remove(&e.wd);
                }
            }
        }
    }

    fn watches(&self) -> usize {
        self.keys.len()
    }
}

fn identity(dir: &Dir) -> (u64, u64) {
    dir.identity()
}

/// What [`get`] finds: the files of the last walk and the number of that walk.
pub(crate) type Kept = (Vec<ChartFile>, Budget, u64);

/// The files of the chart directory `path` (opened as `root`) from its last walk, if no
/// change has been reported in it since.
pub(crate) fn get(path: &Path, root: &Dir) -> Option<Kept> {
    let mut s = state();
    let t = valid(&mut s, path, root)?;
    Some((t.files.clone(), t.budget.clone(), t.serial))
}

/// The chart built from the files of the last walk of `path`, if no change has been
/// reported since and it was built ([`set_chart`]).
pub(crate) fn get_chart(path: &Path, root: &Dir) -> Option<Chart> {
    let mut s = state();
    valid(&mut s, path, root)?.chart.clone()
}

/// Keeps `chart`, built from the files of walk `serial` of `path`, with them.
pub(crate) fn set_chart(path: &Path, serial: u64, chart: &Chart) {
    if let Some(t) = state().trees.get_mut(path)
        && t.serial == serial
    {
        t.chart = Some(chart.clone());
    }
}

/// The kept walk of `path` if it is still what the directory holds.
fn valid<'s>(s: &'s mut State, path: &Path, root: &Dir) -> Option<&'s Tree> {
    s.inotify.as_ref()?;
    s.drain();
    let now = s.changes.get(path).copied().unwrap_or(0);
    let t = s.trees.get(path)?;
    if !(t.epoch == s.epoch && t.changes == now && t.root == identity(root)) {
        s.trees.remove(path);
        return None;
    }
    s.trees.get(path)
}

/// Forgets every chart (for measurements of a first load).
pub(crate) fn clear() {
    state().reset();
}

/// Records the directories of one walk of a chart directory, to keep its files afterwards.
pub(crate) struct Recorder {
    key: PathBuf,
    root: (u64, u64),
    changes: u64,
    epoch: u64,
    usable: bool,
}

impl Recorder {
    /// Starts recording a walk of `path`, opened as `root`. Call [`Recorder::watch`] on
    /// every directory before listing it, [`Recorder::refuse`] on what makes the chart
    /// unfit to keep, then [`Recorder::keep`].
    pub(crate) fn start(path: &Path, root: &Dir) -> Recorder {
        let mut s = state();
        s.drain();
        let usable = if s.seen.contains(path) {
            s.inotify().is_some()
        } else {
            if s.seen.len() >= MAX_TREES * 4 {
                s.seen.clear();
            }
            s.seen.insert(path.to_path_buf());
            false
        };
        Recorder {
            key: path.to_path_buf(),
            root: identity(root),
            changes: s.changes.get(path).copied().unwrap_or(0),
            epoch: s.epoch,
            usable,
        }
    }

    /// Watches directory `dir` (before it is listed).
    pub(crate) fn watch(&mut self, dir: &Dir) {
        if !self.usable {
            return;
        }
        if !local(dir) {
            self.usable = false;
            return;
        }
        let mut s = state();
        if s.epoch != self.epoch {
            self.usable = false;
            return;
        }
        if s.watches() >= MAX_WATCHES || s.trees.len() >= MAX_TREES {
            s.reset();
            self.usable = false;
            return;
        }
        // The open descriptor names the very directory that is listed next.
        let proc_path = format!("/proc/self/fd/{}", dir.raw_fd());
        let Some(inotify) = s.inotify() else {
            self.usable = false;
            return;
        };
        match inotify.add_watch(proc_path.as_str(), MASK) {
            Ok(wd) => {
                let keys = s.keys.entry(wd).or_default();
                if !keys.contains(&self.key) {
                    keys.push(self.key.clone());
                }
            }
            Err(_) => self.usable = false,
        }
    }

    /// The chart has something a directory watch does not follow (a symlink, a hard link).
    pub(crate) fn refuse(&mut self) {
        self.usable = false;
    }

    /// Keeps the walk's result if every directory was watched and nothing refused it;
    /// returns the walk's number when kept.
    pub(crate) fn keep(self, files: &[ChartFile], budget: &Budget) -> Option<u64> {
        if !self.usable {
            return None;
        }
        let mut s = state();
        if s.epoch != self.epoch {
            return None;
        }
        s.serial += 1;
        let serial = s.serial;
        s.trees.insert(
            self.key,
            Tree {
                root: self.root,
                changes: self.changes,
                epoch: self.epoch,
                files: files.to_vec(),
                budget: budget.clone(),
                serial,
                chart: None,
            },
        );
        Some(serial)
    }
}

/// Whether `dir` lies on a local file system, where every change is seen by inotify.
fn local(dir: &Dir) -> bool {
    let Ok(st) = fstatfs(dir.fd()) else {
        return false;
    };
    let t = st.filesystem_type();
    [
        EXT4_SUPER_MAGIC,
        XFS_SUPER_MAGIC,
        BTRFS_SUPER_MAGIC,
        TMPFS_MAGIC,
    ]
    .contains(&t)
}

/// Whether the files of the chart loaded from `path` are kept now (for tests).
#[cfg(test)]
pub(crate) fn kept(path: &Path) -> bool {
    state().trees.contains_key(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Chart;

    fn chart(dir: &Path) {
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(
            dir.join("Chart.yaml"),
            "apiVersion: v2\nname: c\nversion: 1.0.0\n",
        )
        .unwrap();
        std::fs::write(dir.join("values.yaml"), "a: 1\n").unwrap();
        std::fs::write(dir.join("templates/cm.yaml"), "kind: ConfigMap\n").unwrap();
    }

    /// Loads twice (the second load watches), checks the files are kept, returns the chart.
    fn warm(dir: &Path) {
        Chart::load(dir).unwrap();
        Chart::load(dir).unwrap();
        assert!(kept(dir), "a chart loaded twice on {dir:?} should be kept");
    }

    fn template(dir: &Path, name: &str) -> Option<String> {
        let c = Chart::load(dir).unwrap();
        c.templates
            .iter()
            .find(|t| t.name == name)
            .map(|t| String::from_utf8_lossy(&t.data).into_owned())
    }

    #[test]
    fn a_kept_chart_is_used_until_a_file_changes_even_at_the_same_size_and_mtime() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("c");
        chart(&dir);
        warm(&dir);
        let p = dir.join("templates/cm.yaml");
        let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
        assert_eq!(
            template(&dir, "templates/cm.yaml").unwrap(),
            "kind: ConfigMap\n"
        );
        std::fs::write(&p, "kind: ConfigMaq\n").unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_times(std::fs::FileTimes::new().set_modified(mtime))
            .unwrap();
        assert_eq!(
            template(&dir, "templates/cm.yaml").unwrap(),
            "kind: ConfigMaq\n"
        );
    }

    #[test]
    fn created_removed_and_nested_files_are_seen() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("c");
        chart(&dir);
        let sub = dir.join("charts/sub");
        chart(&sub);
        warm(&dir);
        std::fs::write(dir.join("templates/new.yaml"), "x").unwrap();
        assert_eq!(template(&dir, "templates/new.yaml").as_deref(), Some("x"));
        assert!(kept(&dir));
        std::fs::remove_file(dir.join("templates/new.yaml")).unwrap();
        assert_eq!(template(&dir, "templates/new.yaml"), None);
        warm(&dir);
        std::fs::write(sub.join("templates/cm.yaml"), "kind: Secret\n").unwrap();
        let c = Chart::load(&dir).unwrap();
        let s = &c.dependencies[0].templates[0];
        assert_eq!(&*s.data, b"kind: Secret\n");
        // An editor's save: a new file renamed over the old one.
        warm(&dir);
        std::fs::write(dir.join("templates/.cm.swp"), "kind: Service\n").unwrap();
        std::fs::rename(dir.join("templates/.cm.swp"), dir.join("templates/cm.yaml")).unwrap();
        assert_eq!(
            template(&dir, "templates/cm.yaml").unwrap(),
            "kind: Service\n"
        );
    }

    #[test]
    fn a_replaced_directory_or_renamed_parent_is_seen() {
        let t = tempfile::tempdir().unwrap();
        let parent = t.path().join("p");
        let dir = parent.join("c");
        chart(&dir);
        warm(&dir);
        // The parent is renamed and another chart put where it was: no event on the
        // chart's own directories, but the path names another directory now.
        std::fs::rename(&parent, t.path().join("old")).unwrap();
        chart(&dir);
        std::fs::write(dir.join("templates/cm.yaml"), "kind: Pod\n").unwrap();
        assert_eq!(template(&dir, "templates/cm.yaml").unwrap(), "kind: Pod\n");
    }

    #[test]
    fn symlinks_and_hard_links_keep_a_chart_from_being_kept() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside.yaml");
        std::fs::write(&outside, "kind: A\n").unwrap();
        let dir = t.path().join("c");
        chart(&dir);
        std::os::unix::fs::symlink(&outside, dir.join("templates/link.yaml")).unwrap();
        Chart::load(&dir).unwrap();
        Chart::load(&dir).unwrap();
        assert!(!kept(&dir));
        std::fs::write(&outside, "kind: B\n").unwrap();
        assert_eq!(template(&dir, "templates/link.yaml").unwrap(), "kind: B\n");

        let dir2 = t.path().join("c2");
        chart(&dir2);
        let other = t.path().join("other-name.yaml");
        std::fs::hard_link(dir2.join("templates/cm.yaml"), &other).unwrap();
        Chart::load(&dir2).unwrap();
        Chart::load(&dir2).unwrap();
        assert!(!kept(&dir2));
        std::fs::write(&other, "kind: C\n").unwrap();
        assert_eq!(template(&dir2, "templates/cm.yaml").unwrap(), "kind: C\n");
    }

    #[test]
    fn a_one_shot_load_adds_no_watch() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("c");
        chart(&dir);
        Chart::load(&dir).unwrap();
        assert!(!kept(&dir));
        assert!(!state().keys.values().any(|k| k.contains(&dir)));
        Chart::load(&dir).unwrap();
        assert!(kept(&dir));
    }
}
