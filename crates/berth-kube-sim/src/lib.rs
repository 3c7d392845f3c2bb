//! Kubernetes API simulator: an HTTP server that real kubectl, the kube crate and Helm accept
//! as a cluster, with simulated controllers, cluster profiles and fault injection.
//!
//! ```no_run
//! # async fn demo() -> Result<(), berth_kube_sim::SimError> {
//! use berth_kube_sim::{SimOptions, Simulator};
//! let sim = Simulator::start(SimOptions::default()).await?;
//! sim.write_kubeconfig(std::path::Path::new("/tmp/kubeconfig"))?;
//! // kubectl --kubeconfig /tmp/kubeconfig get nodes
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Layout: `catalog` (served kinds), `store` (objects, resourceVersions, watch history),
//! `api` (HTTP verbs), `fields` (managed fields, apply and patches), `schema` (unknown
//! fields per fieldValidation), `watch`, `table`,
//! `discovery`, `controllers` (the simulated control plane and kubelet), `faults`,
//! `registry` (image checks), `logs`, `protobuf`, `persist` (state dir), `references`
//! (missing ServiceAccount/Secret/ConfigMap stalls), `timing` (probe delays, time scale),
//! `admission` (webhook calls), `aggregation` (APIService availability), `pod_security`
//! (Pod Security admission and OpenShift SCC), `volumes` (volume directories, mover
//! processes), `exec` (`pods/exec` as host processes), `csi` (CSI volume sources), `snapshots` (VolumeSnapshots and their controller).

mod admission;
mod aggregation;
mod api;
mod catalog;
mod controllers;
mod csi;
mod defaults;
mod discovery;
mod exec;
mod faults;
mod fields;
mod logs;
mod network;
mod persist;
mod pod_security;
pub mod profile;
mod protobuf;
mod quota;
mod references;
mod registry;
mod routing;
mod schema;
mod selector;
mod snapshots;
mod status;
mod store;
mod table;
mod timing;
mod validate;
mod volumes;
mod watch;

pub use csi::volume_dir;
pub use volumes::{MOVER_BIN_ENV, is_mover_image};

pub use profile::Profile;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;
use store::Store;
use tokio::sync::watch as tokio_watch;

/// Errors starting or driving a simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}: {source}; pick another --port or free that one")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("profile {path}: {message}; see docs/formats/sim-profile.md for the format")]
    Profile { path: PathBuf, message: String },
    #[error(
        "unknown profile {0:?}: not a built-in name (default, k3s, eks, gke, openshift, rke2, bare, k8s-1.NN) nor an existing YAML file"
    )]
    UnknownProfile(String),
    #[error("state dir {path}: {message}; remove the file or point --state-dir elsewhere")]
    State { path: PathBuf, message: String },
}

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Listen address; port 0 picks a free port. Default 127.0.0.1:0.
    pub addr: SocketAddr,
    /// Cluster shape (version, nodes, classes, faults).
    pub profile: Profile,
    /// Persist objects here so the cluster survives a restart.
    pub state_dir: Option<PathBuf>,
    /// The simulated kubelet HEADs each image manifest in its registry before "pulling".
    pub registry_check: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            profile: Profile::default(),
            state_dir: None,
            registry_check: false,
        }
    }
}

/// State shared by the HTTP handlers and the controllers.
pub(crate) struct Shared {
    store: RwLock<Store>,
    pub addr: SocketAddr,
    pub shutdown: tokio_watch::Receiver<bool>,
    pub registry_check: bool,
    pub registry: registry::Checker,
    /// Volume directories and mover processes.
    pub volumes: volumes::Volumes,
}

impl Shared {
    pub fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }
    pub fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }
    /// A profile-level API error, at the configured rate.
    pub fn injected_fault(&self) -> Option<status::ApiError> {
        let f = self.read().profile.faults.clone();
        faults::api_error(&f)
    }
}

/// A running simulator. Stops when dropped or on [`Simulator::shutdown`].
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: tokio_watch::Sender<bool>,
    server: Option<tokio::task::JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    state_dir: Option<PathBuf>,
}

impl Simulator {
    /// Bind, seed the cluster from the profile (and the state dir), start controllers.
    pub async fn start(opts: SimOptions) -> Result<Simulator, SimError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind(opts.addr)
            .await
            .map_err(|source| SimError::Bind {
                addr: opts.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: opts.addr,
            source,
        })?;
        let mut store = Store::new(opts.profile.clone());
        let restored = match &opts.state_dir {
            Some(dir) => persist::load(dir, &mut store)?,
            None => false,
        };
        if !restored {
            controllers::seed(&mut store);
        }
        let (stop, stop_rx) = tokio_watch::channel(false);
        let vols = volumes::Volumes::new(opts.state_dir.as_deref(), format!("http://{addr}"))
            .map_err(|source| SimError::Io {
                path: opts
                    .state_dir
                    .as_ref()
                    .map_or_else(std::env::temp_dir, |d| d.join("volumes")),
                source,
            })?;
        let shared = Arc::new(Shared {
            store: RwLock::new(store),
            addr,
            shutdown: stop_rx.clone(),
            registry_check: opts.registry_check,
            registry: registry::Checker::new(opts.profile.registries.clone()),
            volumes: vols,
        });
        let app = axum::Router::new()
            .fallback(api::handle)
            .with_state(shared.clone())
            .layer(axum::extract::DefaultBodyLimit::disable());
        let mut srx = stop_rx.clone();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = srx.wait_for(|s| *s).await;
                })
                .await;
        });
        let mut tasks = vec![controllers::spawn(shared.clone(), stop_rx.clone())];
        if let Some(dir) = &opts.state_dir {
            tasks.push(persist::spawn(shared.clone(), dir.clone(), stop_rx.clone()));
        }
        Ok(Simulator {
            shared,
            addr,
            stop,
            server: Some(server),
            tasks,
            state_dir: opts.state_dir,
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The directory holding every provisioned volume (`<state dir>/volumes`, or a temporary
    /// directory removed with the simulator); each PersistentVolume's `hostPath` is below it.
    pub fn volume_root(&self) -> PathBuf {
        self.shared.volumes.root().to_path_buf()
    }

    /// The berth binary that runs containers of berth's mover image as local processes
    /// (default: the `BERTH_SIM_MOVER_BIN` environment variable; none: they exit with 127).
    pub fn set_mover_bin(&self, bin: Option<PathBuf>) {
        self.shared.volumes.set_mover_bin(bin);
    }

    /// A kubeconfig whose cluster, user and context are all named `berth-sim`.
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: berth-sim\n  cluster:\n    server: {url}\ncontexts:\n- name: berth-sim\n  context:\n    cluster: berth-sim\n    user: berth-sim\n    namespace: default\ncurrent-context: berth-sim\nusers:\n- name: berth-sim\n  user:\n    token: berth-sim\npreferences: {{}}\n",
            url = self.url()
        )
    }

    /// Write [`Simulator::kubeconfig_yaml`] to `path` (mode 0600).
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), SimError> {
        let io = |source| SimError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(path, self.kubeconfig_yaml()).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
        Ok(())
    }

    /// The current global resourceVersion (for tests and benchmarks).
    pub fn resource_version(&self) -> u64 {
        self.shared.read().rv
    }

    /// Number of changes kept for watch resume; older resourceVersions get 410 Expired.
    pub fn set_watch_history(&self, n: usize) {
        let mut s = self.shared.write();
        s.history_cap = n.max(1);
        s.trim_history();
    }

    /// Byte budget of the watch history (default 64 MiB): each kept change counts the
    /// object before and after it. Older resourceVersions get 410 Expired.
    pub fn set_watch_history_bytes(&self, bytes: usize) {
        let mut s = self.shared.write();
        s.history_byte_cap = bytes;
        s.trim_history();
    }

    /// What the watch history holds now: (changes, estimated bytes).
    pub fn watch_history_usage(&self) -> (usize, usize) {
        let s = self.shared.read();
        (s.history.len(), s.history_bytes)
    }

    /// Stop serving, end open watches, save state (with a state dir).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        if let Some(dir) = &self.state_dir {
            let _ = persist::save(dir, &self.shared.read());
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(s) = self.server.take() {
            s.abort();
        }
        for t in &self.tasks {
            t.abort();
        }
        if let Some(dir) = &self.state_dir {
            let _ = persist::save(dir, &self.shared.read());
        }
    }
}

/// `2s`, `500ms`, `1m`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}
