//! The vendor server: apps, channels and immutable releases, customers with signed licenses,
//! update checks from customers' installs and the instances they report, and the support
//! bundles customers send, over an HTTP API.
//!
//! One process holds no state of its own: SQLite in the data directory by default (nothing to
//! install), PostgreSQL when given a URL, and release blobs in a content-addressed store, so
//! several processes on one database serve the same data. [`client`] is the typed client the
//! CLI (and any other front end) uses.

pub mod bundles;
pub mod cache;
pub mod client;
pub mod customers;
pub mod db;
pub mod exposure;
pub mod http;
pub mod http_registry;
pub mod metrics;
pub mod model;
pub mod online;
pub mod overview;
pub mod registry;
pub mod release_scans;
pub mod scan_gate;
pub mod schema;
pub mod service;
pub mod store;
pub mod support;
pub mod updates;

use std::net::SocketAddr;
use std::path::PathBuf;

/// How to run a server.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Data directory: SQLite database, blobs, the first admin token.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub addr: SocketAddr,
    /// PostgreSQL URL; SQLite in `data_dir` when absent.
    pub database_url: Option<String>,
    /// An S3-compatible bucket for release blobs (`s3://bucket/prefix?endpoint=…&region=…`,
    /// credentials from the AWS environment variables); `data_dir` is then its cache.
    pub storage: Option<String>,
    /// The URL customers reach this server at (written into licenses).
    pub public_url: Option<String>,
    /// TLS certificate and key (PEM), both or neither.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Largest blob accepted, bytes.
    pub max_blob: u64,
    /// Requests per second allowed per license (burst twice that).
    pub license_rps: f64,
    /// The CVE release gate: an OSV database directory and an optional policy file.
    pub scan: Option<(PathBuf, Option<PathBuf>)>,
    /// Largest support bundle a customer may send, bytes.
    pub max_support_bundle: u64,
    /// More routes served beside the API (the vendor's portal under `/portal/`), built once
    /// the service is open; `None` serves the API alone.
    pub extra_routes: Option<ExtraRoutes>,
}

/// What a set of extra routes is built from when the server starts.
#[derive(Clone)]
pub struct Mount {
    /// The open service (the same one the API's handlers use).
    pub svc: service::Service,
    /// The URL written into licenses (`--public-url`, else the listening address).
    pub public_url: String,
    /// Whether the server speaks TLS (cookies are then marked `Secure`).
    pub tls: bool,
}

/// Builds extra routes (a plain function, so [`ServeConfig`] stays `Clone` and `Debug`).
pub type ExtraRoutes = fn(Mount) -> axum::Router;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Service(#[from] service::ServiceError),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("--storage: {0}")]
    Storage(berth_s3::Error),
    #[error("release gate: {0}")]
    Gate(String),
    #[error("server failed: {0}")]
    Serve(std::io::Error),
}

/// What a started server tells its caller.
#[derive(Debug, Clone)]
pub struct Started {
    /// The address it listens on (the real port when 0 was asked).
    pub addr: SocketAddr,
    /// Where the first admin token was written, on a new database.
    pub admin_token_file: Option<String>,
    /// The database engine in use.
    pub engine: &'static str,
}

/// Open the database and store, then serve until `shutdown` resolves; in-flight requests
/// finish before this returns. `on_start` hears the address before the first request.
pub async fn serve(
    cfg: ServeConfig,
    on_start: impl FnOnce(&Started),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    std::fs::create_dir_all(&cfg.data_dir).map_err(|source| ServeError::DataDir {
        path: cfg.data_dir.clone(),
        source,
    })?;
    let db = db::Db::connect(cfg.database_url.as_deref(), &cfg.data_dir)
        .await
        .map_err(service::ServiceError::from)?;
    let mut store =
        store::Store::open(&cfg.data_dir, cfg.max_blob).map_err(service::ServiceError::from)?;
    if let Some(url) = &cfg.storage {
        let storage = ServeError::Storage;
        let remote = berth_s3::Client::new(
            berth_s3::Location::parse(url).map_err(storage)?,
            berth_s3::Credentials::from_env().map_err(storage)?,
        )
        .map_err(storage)?;
        // Fails here, before serving, when the store is unreachable or refuses the credentials.
        remote.ensure_bucket().await.map_err(storage)?;
        store = store.with_remote(remote);
    }
    let (mut svc, first) = service::Service::start(db.clone(), store, &cfg.data_dir).await?;
    svc.max_support_bundle = cfg.max_support_bundle;
    if let Some((db_dir, policy)) = &cfg.scan {
        let gate = std::sync::Arc::new(
            scan_gate::ScanGate::load(db_dir, policy.as_deref()).map_err(ServeError::Gate)?,
        );
        svc.gates = std::sync::Arc::new(vec![Box::new(gate.clone())]);
        svc.scanner = Some(gate);
    }
    let listener = std::net::TcpListener::bind(cfg.addr).map_err(|source| ServeError::Bind {
        addr: cfg.addr,
        source,
    })?;
    listener.set_nonblocking(true).map_err(ServeError::Serve)?;
    let addr = listener.local_addr().map_err(ServeError::Serve)?;
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    let public = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{addr}"));
    let mut app = http::router(svc.clone(), public.clone(), cfg.license_rps);
    if let Some(extra) = cfg.extra_routes {
        app = app.merge(extra(Mount {
            svc: svc.clone(),
            public_url: public,
            tls: cfg.tls.is_some(),
        }));
    }
    on_start(&Started {
        addr,
        admin_token_file: first,
        engine: db.engine,
    });
    let served = match cfg.tls {
        Some((cert, key)) => serve_tls(listener, app, &cert, &key, shutdown).await,
        None => {
            let l = tokio::net::TcpListener::from_std(listener).map_err(ServeError::Serve)?;
            // The client's address reaches handlers (the portal's lock-out counts per address).
            axum::serve(
                l,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ServeError::Serve)
        }
    };
    // Reports received before the shutdown are written before the process ends.
    if let Err(e) = svc.flush_instances().await {
        tracing::warn!(error = %e, "instance reports lost at shutdown");
    }
    served
}

async fn serve_tls(
    listener: std::net::TcpListener,
    app: axum::Router,
    cert: &std::path::Path,
    key: &std::path::Path,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
        .await
        .map_err(|e| ServeError::Tls(format!("{} / {}: {e}", cert.display(), key.display())))?;
    let handle = axum_server::Handle::new();
    let h2 = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        h2.graceful_shutdown(Some(std::time::Duration::from_secs(30)));
    });
    axum_server::from_tcp_rustls(listener, config)
        .map_err(ServeError::Serve)?
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await
        .map_err(ServeError::Serve)
}
