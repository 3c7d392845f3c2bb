//! The admin console: a web page, served by berth over TLS, where a customer's admin
//! configures, deploys, rolls back, checks (preflight) and diagnoses (support bundles) the
//! app — never anything the command line could not do, through the same operations and the
//! same revision records.
//!
//! - [`auth`]: the login Secret (Argon2id hashes, cookie key); format in
//!   docs/formats/console.md.
//! - [`session`]: signed cookies, CSRF tokens, lock-out.
//! - [`ops`]: the operations (typed inputs, progress events, typed results).
//! - [`screen`]: the config screen's `when` visibility and form input.
//! - [`jobs`]: running operations and their event streams (server-sent events).
//! - [`views`], [`server`]: compile-time checked templates and the routes; [`updates`]
//!   (newer releases on the Versions page, the online upgrade) and [`snapshots`] (the
//!   Snapshots page) add their routes to it.
//! - [`manifest`]: the objects that run the console in the cluster (`--print-manifest`).
//! - [`portal`]: the vendor's portal, the same kind of pages served by the vendor server
//!   (`berth vendor serve`) under `/portal/`, over the vendor service's operations.

pub mod auth;
pub mod jobs;
pub mod manifest;
pub mod ops;
pub mod portal;
pub mod screen;
pub mod server;
pub mod session;
pub mod snapshots;
pub mod updates;
pub mod views;

use berth_deploy::{Cluster, ConnectOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How to run the console.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// The app's namespace.
    pub namespace: String,
    /// The app directory (holding berth.yaml): the config screen and what is deployed.
    pub app_dir: PathBuf,
    /// Where to listen (port 0 picks a free one).
    pub addr: SocketAddr,
    /// kubeconfig path (default: $KUBECONFIG, ~/.kube/config, in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context.
    pub context: Option<String>,
    /// TLS certificate and key (PEM); `None` generates a self-signed one.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Passwords from the environment.
    pub passwords: auth::PasswordInput,
    /// How long deploys wait for readiness.
    pub timeout: Duration,
    /// Where support bundles (and a generated certificate) go; `None`: a temporary directory.
    pub data_dir: Option<PathBuf>,
    /// Reach the vendor server here instead of the license's URL (a proxy in between).
    pub vendor_url: Option<String>,
    /// The snapshot repository; `None`: the app's snapshot schedule's, if it has one.
    pub snapshot_repo: Option<ops::RepoFlag>,
    /// The mover image of snapshots and restores; `None`: berth's own at this version.
    pub mover_image: Option<String>,
}

/// Errors starting the console.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The cluster cannot be reached.
    #[error(transparent)]
    Cluster(#[from] berth_deploy::cluster::ClusterError),
    /// The login Secret.
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    /// The app directory.
    #[error("{0}")]
    App(String),
    /// Listening or TLS.
    #[error("{0}")]
    Serve(String),
}

/// A running console.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// `https://addr/`.
    pub url: String,
    /// A generated admin password to show once (first start without the variable).
    pub generated_password: Option<String>,
    /// The PEM of the generated self-signed certificate (to trust it), if one was made.
    pub self_signed_cert: Option<String>,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _work: Option<tempfile::TempDir>,
}

impl Running {
    /// Stop serving (open connections get a few seconds) and wait.
    pub async fn shutdown(self) {
        self.handle.graceful_shutdown(Some(Duration::from_secs(5)));
        let _ = self.task.await;
    }

    /// Serve until the server ends (Ctrl-C is the caller's).
    pub async fn wait(self) -> std::io::Result<()> {
        self.task
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?
    }
}

/// Connect to the cluster named by `opts`, then [`start_with`].
pub async fn start(opts: ConsoleOptions) -> Result<Running, ConsoleError> {
    let cluster = Cluster::connect(&ConnectOptions {
        kubeconfig: opts.kubeconfig.clone(),
        context: opts.context.clone(),
    })
    .await?;
    start_with(Arc::new(cluster), opts).await
}

/// Start the console on an existing cluster connection: read (or create) the login Secret,
/// bind, and serve in the background.
pub async fn start_with(
    cluster: Arc<Cluster>,
    opts: ConsoleOptions,
) -> Result<Running, ConsoleError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    berth_spec::load(&opts.app_dir).map_err(|e| {
        ConsoleError::App(format!(
            "{}: {e}; pass --app DIR (the directory holding berth.yaml)",
            opts.app_dir.display()
        ))
    })?;
    let loaded = auth::load_or_create(&cluster, &opts.namespace, &opts.passwords).await?;
    let (work, work_dir) = match &opts.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| {
                ConsoleError::Serve(format!("cannot create data directory {}: {e}", d.display()))
            })?;
            (None, d.clone())
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("berth-console-")
                .tempdir()
                .map_err(|e| ConsoleError::Serve(format!("cannot create a work directory: {e}")))?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    let ops = ops::Ops::new(
        cluster,
        ops::KubeAccess {
            kubeconfig: opts.kubeconfig.clone(),
            context: opts.context.clone(),
        },
        opts.namespace.clone(),
        opts.app_dir.clone(),
        opts.timeout,
        work_dir,
    )
    .with_vendor_url(opts.vendor_url.clone())
    .with_snapshots(opts.snapshot_repo.clone(), opts.mover_image.clone());
    let state = server::state(ops, loaded.credentials, true);
    let app = server::router(state);
    let (tls, self_signed) = tls_config(&opts).await?;
    let listener = std::net::TcpListener::bind(opts.addr)
        .map_err(|e| ConsoleError::Serve(format!("cannot listen on {}: {e}", opts.addr)))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| ConsoleError::Serve(e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ConsoleError::Serve(e.to_string()))?;
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls)
        .map_err(|e| ConsoleError::Serve(e.to_string()))?
        .handle(handle.clone());
    let task = tokio::spawn(server.serve(app.into_make_service_with_connect_info::<SocketAddr>()));
    Ok(Running {
        addr,
        url: format!("https://{addr}/"),
        generated_password: loaded.generated_admin,
        self_signed_cert: self_signed,
        handle,
        task,
        _work: work,
    })
}

async fn tls_config(
    opts: &ConsoleOptions,
) -> Result<(axum_server::tls_rustls::RustlsConfig, Option<String>), ConsoleError> {
    use axum_server::tls_rustls::RustlsConfig;
    if let Some((cert, key)) = &opts.tls {
        let c = RustlsConfig::from_pem_file(cert, key).await.map_err(|e| {
            ConsoleError::Serve(format!(
                "TLS certificate {} / key {}: {e}",
                cert.display(),
                key.display()
            ))
        })?;
        return Ok((c, None));
    }
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let ip = opts.addr.ip().to_string();
    if !names.contains(&ip) && !opts.addr.ip().is_unspecified() {
        names.push(ip);
    }
    let ck = rcgen::generate_simple_self_signed(names)
        .map_err(|e| ConsoleError::Serve(format!("cannot make a self-signed certificate: {e}")))?;
    let cert = ck.cert.pem();
    let key = ck.signing_key.serialize_pem();
    let c = RustlsConfig::from_pem(cert.clone().into_bytes(), key.into_bytes())
        .await
        .map_err(|e| ConsoleError::Serve(format!("self-signed certificate: {e}")))?;
    Ok((c, Some(cert)))
}
