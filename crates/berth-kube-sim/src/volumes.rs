//! Volumes and berth's own image: each provisioned PersistentVolume is a real directory
//! under the simulator's state (its `hostPath`), and the simulated kubelet runs containers of
//! berth's mover image (repository path ending in `berth/mover`) as local processes of the
//! berth binary, with the mounted claims' directories in place of their mount paths.
//! Everything here is described in docs/formats/sim-profile.md ("Volumes and the mover").

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use crate::store::Store;

/// The environment variable naming the berth binary that runs mover containers.
pub const MOVER_BIN_ENV: &str = "BERTH_SIM_MOVER_BIN";

/// How much of a mover's output is kept (for logs and the termination message).
const OUTPUT_CAP: usize = 256 * 1024;

/// Volume directories and mover processes of one simulator.
pub(crate) struct Volumes {
    root: PathBuf,
    /// Removed with the simulator when it has no state dir.
    _temp: Option<tempfile::TempDir>,
    mover_bin: Mutex<Option<PathBuf>>,
    procs: Mutex<HashMap<(String, String), Proc>>,
    /// The API server's URL, handed to processes as their in-cluster access.
    api_url: String,
    /// Directory copies (snapshots being cut, volumes filled from snapshots), by destination.
    copies: Mutex<HashMap<PathBuf, std::sync::Arc<Mutex<CopyProgress>>>>,
}

/// How a directory copy ([`Volumes::copy_tree`]) stands.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CopyProgress {
    Running,
    Done,
    Failed(String),
}

/// One mover container process (by pod uid and container name).
struct Proc {
    child: Option<Child>,
    out: PathBuf,
    exit: Option<i32>,
}

/// What a mover container is doing.
pub(crate) enum MoverState {
    Running,
    Exited { code: i32, message: String },
}

/// Whether `image` is berth's mover image: its repository path ends in `berth/mover`, with
/// any registry, tag or digest.
pub fn is_mover_image(image: &str) -> bool {
    let no_digest = image.split('@').next().unwrap_or(image);
    let repo = match no_digest.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => no_digest,
    };
    repo == "berth/mover" || repo.ends_with("/berth/mover")
}

impl Volumes {
    /// Volumes under `state_dir/volumes`, or under a temporary directory; processes reach
    /// the API server at `api_url`.
    pub fn new(state_dir: Option<&Path>, api_url: String) -> std::io::Result<Volumes> {
        let (root, temp) = match state_dir {
            Some(d) => (d.join("volumes"), None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("berth-sim-volumes")
                    .tempdir()?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        std::fs::create_dir_all(&root)?;
        let bin = std::env::var_os(MOVER_BIN_ENV).map(PathBuf::from);
        Ok(Volumes {
            root,
            _temp: temp,
            mover_bin: Mutex::new(bin),
            procs: Mutex::new(HashMap::new()),
            api_url,
            copies: Mutex::new(HashMap::new()),
        })
    }

    /// The directory holding every volume.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Sets the berth binary mover containers run (None: they fail with exit code 127).
    pub fn set_mover_bin(&self, bin: Option<PathBuf>) {
        *self.mover_bin.lock().unwrap_or_else(|e| e.into_inner()) = bin;
    }

    /// The berth binary that runs containers of berth's image, when set.
    pub fn mover_bin(&self) -> Option<PathBuf> {
        self.mover_bin
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The directory of volume `pv_name`, created when absent.
    pub fn provision(&self, pv_name: &str) -> PathBuf {
        let dir = self.root.join(pv_name);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::warn!("cannot create volume directory {}: {e}", dir.display());
        }
        dir
    }

    /// Removes a volume's directory (reclaim policy Delete); only directories under the root.
    pub fn release(&self, path: &str) {
        let p = Path::new(path);
        if p.parent() == Some(self.root.as_path()) && p.is_dir() {
            let _ = std::fs::remove_dir_all(p);
        }
    }

    /// The output of a mover container, when it ran as a process.
    pub fn output(&self, pod_uid: &str, container: &str) -> Option<Vec<String>> {
        let procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        let p = procs.get(&(pod_uid.to_string(), container.to_string()))?;
        Some(read_capped(&p.out).lines().map(String::from).collect())
    }

    /// Starts the container's process on first sight, then reports whether it still runs.
    pub fn mover(&self, store: &Store, pod: &Value, container: &Value) -> MoverState {
        let uid = pod["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let cname = container["name"].as_str().unwrap_or("").to_string();
        let key = (uid, cname);
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        if !procs.contains_key(&key) {
            let out = self.root.join(format!(".mover-{}-{}.log", key.0, key.1));
            let p = match self.spawn(store, pod, container, &out) {
                Ok(child) => Proc {
                    child: Some(child),
                    out,
                    exit: None,
                },
                Err(msg) => {
                    let _ = std::fs::write(&out, format!("{msg}\n"));
                    Proc {
                        child: None,
                        out,
                        exit: Some(127),
                    }
                }
            };
            procs.insert(key.clone(), p);
        }
        let Some(p) = procs.get_mut(&key) else {
            return MoverState::Running;
        };
        if p.exit.is_none()
            && let Some(c) = p.child.as_mut()
        {
            match c.try_wait() {
                Ok(Some(st)) => p.exit = Some(st.code().unwrap_or(137)),
                Ok(None) => {}
                Err(_) => p.exit = Some(137),
            }
        }
        match p.exit {
            None => MoverState::Running,
            Some(code) => {
                let text = read_capped(&p.out);
                // As the kubelet's FallbackToLogsOnError: the last 80 lines, at most 4 KiB.
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(80)..].join("\n");
                let cut = tail.len().saturating_sub(4096);
                let start = (cut..=tail.len())
                    .find(|&i| tail.is_char_boundary(i))
                    .unwrap_or(tail.len());
                MoverState::Exited {
                    code,
                    message: tail[start..].to_string(),
                }
            }
        }
    }

    fn spawn(
        &self,
        store: &Store,
        pod: &Value,
        container: &Value,
        out: &Path,
    ) -> Result<Child, String> {
        let bin = self
            .mover_bin
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| {
                format!("berth-sim: no berth binary to run the mover image; set {MOVER_BIN_ENV}")
            })?;
        let mounts = mounts(store, pod, container)?;
        // The image's entrypoint is berth: `command[0]` is the binary, the rest (and `args`)
        // are berth's arguments.
        let argv: Vec<String> = strings(&container["command"])
            .into_iter()
            .skip(1)
            .chain(strings(&container["args"]))
            .map(|a| map_path(&a, &mounts))
            .collect();
        let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
        let env = env(store, ns, container)?;
        let log = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let work = self.root.join(".work");
        let _ = std::fs::create_dir_all(&work);
        let kubeconfig = self.pod_kubeconfig(pod, &work)?;
        Command::new(&bin)
            .args(&argv)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &work)
            .env("KUBECONFIG", &kubeconfig)
            .envs(env)
            .current_dir(&work)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("berth-sim: cannot run {}: {e}", bin.display()))
    }
}

impl Volumes {
    /// What a real pod gets as its in-cluster access (the service account's token, the API
    /// server's address, its namespace), as a kubeconfig file: the user is the pod's service
    /// account, the context's namespace the pod's. The simulator checks no rights.
    pub(crate) fn pod_kubeconfig(&self, pod: &Value, work: &Path) -> Result<PathBuf, String> {
        let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
        let uid = pod["metadata"]["uid"].as_str().unwrap_or("pod");
        let sa = pod["spec"]["serviceAccountName"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("default");
        let path = work.join(format!("kubeconfig-{uid}"));
        let user = format!("system:serviceaccount:{ns}:{sa}");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: in-cluster\n  cluster:\n    server: {url}\ncontexts:\n- name: in-cluster\n  context:\n    cluster: in-cluster\n    user: \"{user}\"\n    namespace: {ns}\ncurrent-context: in-cluster\nusers:\n- name: \"{user}\"\n  user:\n    token: berth-sim\n",
            url = self.api_url
        );
        std::fs::write(&path, text).map_err(|e| format!("berth-sim: {}: {e}", path.display()))?;
        Ok(path)
    }
}

/// Directory copies for VolumeSnapshots (snapshots.rs): a snapshot's copy lives in
/// `<root>/.snapshots/<id>` with its metadata in `<id>.json`; a copy is written to
/// `<destination>.partial` and renamed when complete, so an existing destination is complete.
impl Volumes {
    /// Where the copy of snapshot `id` ([`crate::csi::snapshot_id`]) lives.
    pub fn snapshot_dir(&self, id: &str) -> PathBuf {
        self.root.join(".snapshots").join(id)
    }

    /// Where the metadata of snapshot `id`'s copy lives.
    pub fn snapshot_meta(&self, id: &str) -> PathBuf {
        self.root.join(".snapshots").join(format!("{id}.json"))
    }

    /// Removes a snapshot's copy and metadata.
    pub fn remove_snapshot(&self, id: &str) {
        let dir = self.snapshot_dir(id);
        self.forget_copy(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(partial(&dir));
        let _ = std::fs::remove_file(self.snapshot_meta(id));
    }

    /// Starts copying `from` to `to` on first call (in a thread of its own, beside the API
    /// server) and reports how it stands. A destination that exists is a finished copy.
    pub fn copy_tree(&self, from: &Path, to: &Path) -> CopyProgress {
        let mut copies = self.copies.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = copies.get(to) {
            return p.lock().unwrap_or_else(|e| e.into_inner()).clone();
        }
        if to.is_dir() {
            return CopyProgress::Done;
        }
        let state = std::sync::Arc::new(Mutex::new(CopyProgress::Running));
        copies.insert(to.to_path_buf(), state.clone());
        let (from, to) = (from.to_path_buf(), to.to_path_buf());
        std::thread::spawn(move || {
            let tmp = partial(&to);
            let _ = std::fs::remove_dir_all(&tmp);
            let result = (|| {
                if let Some(parent) = tmp.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                copy_dir(&from, &tmp)
            })();
            let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
            if *st != CopyProgress::Running {
                // Abandoned (its snapshot or claim was deleted meanwhile).
                let _ = std::fs::remove_dir_all(&tmp);
                return;
            }
            *st = match result.and_then(|()| std::fs::rename(&tmp, &to)) {
                Ok(()) => CopyProgress::Done,
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&tmp);
                    CopyProgress::Failed(format!(
                        "copying {} to {}: {e}",
                        from.display(),
                        to.display()
                    ))
                }
            };
        });
        CopyProgress::Running
    }

    /// Forgets a copy; a running one is abandoned (its partial copy is removed, nothing
    /// appears at the destination).
    pub fn forget_copy(&self, to: &Path) {
        let removed = self
            .copies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(to);
        if let Some(state) = removed {
            let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
            if *st == CopyProgress::Running {
                *st = CopyProgress::Failed("abandoned".into());
            }
        }
    }
}

fn partial(to: &Path) -> PathBuf {
    let mut name = to.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    to.with_file_name(name)
}

/// Copies a directory tree: directories, regular files (content, permission bits,
/// modification time) and symlinks (their targets as they are); other kinds are skipped, as
/// a snapshot of a filesystem holds no sockets or pipes worth keeping.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ft = e.file_type()?;
        if ft.is_dir() {
            copy_dir(&src, &dst)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if ft.is_file() {
            let meta = e.metadata()?;
            let mut input = std::fs::File::open(&src)?;
            let mut out = std::fs::File::create(&dst)?;
            std::io::copy(&mut input, &mut out)?;
            if let Ok(t) = meta.modified() {
                let _ = out.set_modified(t);
            }
            drop(out);
            std::fs::set_permissions(&dst, meta.permissions())?;
        }
    }
    let meta = std::fs::metadata(from)?;
    if let Ok(t) = meta.modified()
        && let Ok(d) = std::fs::File::open(to)
    {
        let _ = d.set_modified(t);
    }
    std::fs::set_permissions(to, meta.permissions())?;
    Ok(())
}

impl Drop for Volumes {
    fn drop(&mut self) {
        let procs = self.procs.get_mut().unwrap_or_else(|e| e.into_inner());
        for p in procs.values_mut() {
            if let Some(c) = p.child.as_mut()
                && p.exit.is_none()
            {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

pub(crate) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn read_capped(p: &Path) -> String {
    let bytes = std::fs::read(p).unwrap_or_default();
    let start = bytes.len().saturating_sub(OUTPUT_CAP);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// Mount path → host directory, for every volumeMount of the container backed by a bound
/// claim (or a hostPath volume); any other volume type is refused.
pub(crate) fn mounts(
    store: &Store,
    pod: &Value,
    container: &Value,
) -> Result<Vec<(String, PathBuf)>, String> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let mut out = Vec::new();
    for m in container["volumeMounts"].as_array().into_iter().flatten() {
        let vname = m["name"].as_str().unwrap_or("");
        let mpath = m["mountPath"].as_str().unwrap_or("").trim_end_matches('/');
        let vol = pod["spec"]["volumes"]
            .as_array()
            .and_then(|a| a.iter().find(|v| v["name"] == vname))
            .ok_or_else(|| format!("berth-sim: volumeMount {vname} names no volume of the pod"))?;
        let dir = if let Some(claim) = vol["persistentVolumeClaim"]["claimName"].as_str() {
            claim_dir(store, ns, claim)?
        } else if let Some(p) = vol["hostPath"]["path"].as_str() {
            PathBuf::from(p)
        } else {
            return Err(format!(
                "berth-sim: volume {vname}: only persistentVolumeClaim and hostPath volumes are given to processes"
            ));
        };
        out.push((mpath.to_string(), dir));
    }
    Ok(out)
}

/// The directory of a bound claim's volume (hostPath or the simulator's CSI volume).
pub(crate) fn claim_dir(store: &Store, ns: &str, claim: &str) -> Result<PathBuf, String> {
    let pvc = store
        .get_core("persistentvolumeclaims", ns, claim)
        .ok_or_else(|| format!("berth-sim: claim {ns}/{claim} not found"))?;
    let pv_name = pvc["spec"]["volumeName"]
        .as_str()
        .ok_or_else(|| format!("berth-sim: claim {ns}/{claim} is not bound"))?;
    let pv = store
        .get_core("persistentvolumes", "", pv_name)
        .ok_or_else(|| format!("berth-sim: volume {pv_name} not found"))?;
    crate::csi::volume_dir(&pv).ok_or_else(|| {
        format!(
            "berth-sim: volume {pv_name} has no hostPath and is not a volume the simulator provisioned"
        )
    })
}

/// An argument naming a mount path (or a path below one, or `--flag=path`) points at the
/// volume's directory instead.
pub(crate) fn map_path(arg: &str, mounts: &[(String, PathBuf)]) -> String {
    let (flag, value) = match arg.split_once('=') {
        Some((f, v)) if f.starts_with('-') => (Some(f), v),
        _ => (None, arg),
    };
    for (m, dir) in mounts {
        let rest = if value == m {
            Some("")
        } else {
            value
                .strip_prefix(m.as_str())
                .filter(|r| r.starts_with('/'))
        };
        if let Some(rest) = rest {
            let mapped = format!("{}{rest}", dir.display());
            return match flag {
                Some(f) => format!("{f}={mapped}"),
                None => mapped,
            };
        }
    }
    arg.to_string()
}

/// The container's environment: `value`s and `valueFrom.secretKeyRef` /
/// `configMapKeyRef` (missing optional keys are skipped).
pub(crate) fn env(
    store: &Store,
    ns: &str,
    container: &Value,
) -> Result<Vec<(String, String)>, String> {
    use base64::Engine as _;
    let mut out = Vec::new();
    for e in container["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().unwrap_or("").to_string();
        if let Some(v) = e["value"].as_str() {
            out.push((name, v.to_string()));
            continue;
        }
        let from = &e["valueFrom"];
        let (kind, r) = if from["secretKeyRef"].is_object() {
            ("secrets", &from["secretKeyRef"])
        } else if from["configMapKeyRef"].is_object() {
            ("configmaps", &from["configMapKeyRef"])
        } else {
            continue;
        };
        let obj_name = r["name"].as_str().unwrap_or("");
        let key = r["key"].as_str().unwrap_or("");
        let val = store.get_core(kind, ns, obj_name).and_then(|o| {
            if kind == "secrets" {
                o["data"][key]
                    .as_str()
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .or_else(|| o["stringData"][key].as_str().map(String::from))
            } else {
                o["data"][key].as_str().map(String::from)
            }
        });
        match val {
            Some(v) => out.push((name, v)),
            None if r["optional"] == true => {}
            None => {
                return Err(format!(
                    "berth-sim: env {name}: key {key} of {kind} {ns}/{obj_name} not found"
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mover_images_are_recognised_with_any_registry_tag_or_digest() {
        for yes in [
            "berth/mover",
            "registry.berth.dev/berth/mover:0.1.0",
            "localhost:5000/berth/mover:1",
            "registry.example.com/mirror/berth/mover@sha256:abcd",
        ] {
            assert!(is_mover_image(yes), "{yes}");
        }
        for no in [
            "berth/mover-x:1",
            "nginx:1.25",
            "registry.example.com/notberth/mover:1",
            "localhost:5000/mover",
        ] {
            assert!(!is_mover_image(no), "{no}");
        }
    }

    #[test]
    fn a_tree_copy_keeps_contents_modes_times_and_links_and_appears_whole() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().expect("tempdir");
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("a/b")).expect("mkdir");
        std::fs::write(src.join("a/b/f"), b"data").expect("write");
        std::fs::set_permissions(src.join("a/b/f"), std::fs::Permissions::from_mode(0o640))
            .expect("chmod");
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        std::fs::File::options()
            .write(true)
            .open(src.join("a/b/f"))
            .and_then(|f| f.set_modified(old))
            .expect("mtime");
        std::os::unix::fs::symlink("b/f", src.join("a/link")).expect("link");
        let v = Volumes::new(Some(t.path()), "http://127.0.0.1:1".into()).expect("volumes");
        let dst = v.snapshot_dir("snap-1");
        let mut st = v.copy_tree(&src, &dst);
        let start = std::time::Instant::now();
        while st == CopyProgress::Running {
            assert!(start.elapsed() < std::time::Duration::from_secs(30));
            std::thread::sleep(std::time::Duration::from_millis(10));
            st = v.copy_tree(&src, &dst);
        }
        assert_eq!(st, CopyProgress::Done);
        assert_eq!(std::fs::read(dst.join("a/b/f")).expect("read"), b"data");
        let m = std::fs::metadata(dst.join("a/b/f")).expect("meta");
        assert_eq!(m.permissions().mode() & 0o777, 0o640);
        assert_eq!(m.modified().expect("mtime"), old);
        assert_eq!(
            std::fs::read_link(dst.join("a/link")).expect("link"),
            PathBuf::from("b/f")
        );
        assert!(!partial(&dst).exists());
        // Later writes to the source are not in the copy.
        std::fs::write(src.join("late"), b"x").expect("write");
        assert_eq!(v.copy_tree(&src, &dst), CopyProgress::Done);
        assert!(!dst.join("late").exists());
        v.remove_snapshot("snap-1");
        assert!(!dst.exists());
        // A missing source fails the copy and leaves nothing.
        let dst2 = v.snapshot_dir("snap-2");
        let mut st = v.copy_tree(&t.path().join("nowhere"), &dst2);
        while st == CopyProgress::Running {
            std::thread::sleep(std::time::Duration::from_millis(10));
            st = v.copy_tree(&src, &dst2);
        }
        assert!(
            matches!(st, CopyProgress::Failed(ref m) if m.contains("nowhere")),
            "{st:?}"
        );
        assert!(!dst2.exists() && !partial(&dst2).exists());
    }

    #[test]
    fn mount_paths_in_arguments_point_at_the_volume_directory() {
        let m = vec![("/berth/volume".to_string(), PathBuf::from("/sim/pvc-1"))];
        assert_eq!(map_path("/berth/volume", &m), "/sim/pvc-1");
        assert_eq!(map_path("/berth/volume/a/b", &m), "/sim/pvc-1/a/b");
        assert_eq!(
            map_path("--target=/berth/volume", &m),
            "--target=/sim/pvc-1"
        );
        assert_eq!(map_path("/berth/volumex", &m), "/berth/volumex");
        assert_eq!(map_path("backup", &m), "backup");
    }
}
