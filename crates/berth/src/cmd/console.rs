//! `berth console`: serve the admin console (berth-console) for one app's namespace.

use anyhow::{Context as _, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Serve the admin console: a web page to configure, deploy, roll back, check and diagnose
/// the app, over the same operations and revision records as the CLI.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  BERTH_CONSOLE_PASSWORD='…' berth console -n hello --app examples/hello\n  berth console -n hello --addr 0.0.0.0:8443 \\\n    --tls-cert cert.pem --tls-key key.pem\n  berth demo --console   # the tour, then the console on its simulated cluster\n  \
berth console -n hello --print-manifest \\\n    --app-image registry.example.com/hello-app:1.0.0\n\n\
The admin password comes from BERTH_CONSOLE_PASSWORD, or is generated and printed once at the \
first start; a viewer login (reads, support bundles) from BERTH_CONSOLE_VIEWER_PASSWORD. Both \
are stored as Argon2id hashes in the Secret berth-console-auth of the namespace \
(docs/formats/console.md). Without --tls-cert/--tls-key a self-signed certificate is made."
)]
pub struct Args {
    /// Namespace of the app.
    #[arg(short = 'n', long)]
    namespace: String,
    /// The app directory (holding berth.yaml): the config screen and what is deployed.
    #[arg(long, default_value = ".")]
    app: PathBuf,
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Path to the kubeconfig (default: $KUBECONFIG, ~/.kube/config, then in-cluster config).
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use.
    #[arg(long)]
    context: Option<String>,
    /// TLS certificate (PEM); with --tls-key.
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); with --tls-cert.
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Where support bundles are kept (default: a temporary directory removed on exit).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// How long a deploy waits for readiness, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
    /// Reach the vendor server here instead of the license's URL (a proxy in between).
    #[arg(long, value_name = "URL")]
    vendor_url: Option<String>,
    /// The snapshot repository of the Snapshots page (default: the one the app's snapshot
    /// schedule writes to); its password from BERTH_REPO_PASSWORD or --snapshot-password-file.
    #[arg(long, value_name = "REPO")]
    snapshot_repo: Option<String>,
    /// A file whose first line is the --snapshot-repo password.
    #[arg(long, value_name = "FILE", requires = "snapshot_repo")]
    snapshot_password_file: Option<PathBuf>,
    /// The mover image of snapshots and restores (berth's own at this version).
    #[arg(long, value_name = "IMAGE")]
    mover_image: Option<String>,
    /// Print the objects that run this console inside the cluster (ServiceAccount, RBAC,
    /// Deployment, Service) instead of serving.
    #[arg(long, requires = "app_image")]
    print_manifest: bool,
    /// With --print-manifest: berth's image (default: the mover image, berth's own).
    #[arg(long, value_name = "IMAGE", requires = "print_manifest")]
    image: Option<String>,
    /// With --print-manifest: an image holding the app directory at /app (with sh and cp).
    #[arg(long, value_name = "IMAGE", requires = "print_manifest")]
    app_image: Option<String>,
    /// With --print-manifest: a kubernetes.io/tls Secret with the console's certificate.
    #[arg(long, value_name = "SECRET", requires = "print_manifest")]
    tls_secret: Option<String>,
}

/// The options the console library takes, from the arguments and the environment.
fn options(a: &Args) -> Result<berth_console::ConsoleOptions> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let snapshot_repo = match &a.snapshot_repo {
        None => None,
        Some(url) => {
            let password = match &a.snapshot_password_file {
                Some(f) => crate::cmd::snapshot::read_password_file(f)?,
                None => env("BERTH_REPO_PASSWORD").ok_or_else(|| {
                    crate::exit::BadInput(
                        "--snapshot-repo needs the repository password: set BERTH_REPO_PASSWORD or pass --snapshot-password-file".into(),
                    )
                })?,
            };
            Some(berth_console::ops::RepoFlag {
                url: url.clone(),
                password,
            })
        }
    };
    Ok(berth_console::ConsoleOptions {
        namespace: a.namespace.clone(),
        app_dir: a.app.clone(),
        addr: a.addr,
        kubeconfig: a.kubeconfig.clone(),
        context: a.context.clone(),
        tls: a.tls_cert.clone().zip(a.tls_key.clone()),
        passwords: berth_console::auth::PasswordInput {
            admin: env("BERTH_CONSOLE_PASSWORD"),
            viewer: env("BERTH_CONSOLE_VIEWER_PASSWORD"),
        },
        timeout: Duration::from_secs(a.timeout_secs),
        data_dir: a.data_dir.clone(),
        vendor_url: a.vendor_url.clone(),
        snapshot_repo,
        mover_image: a.mover_image.clone(),
    })
}

/// `berth console --print-manifest`.
fn print_manifest(a: &Args) -> Result<u8> {
    let input = berth_console::manifest::ManifestInput {
        namespace: a.namespace.clone(),
        image: a
            .image
            .clone()
            .or_else(|| a.mover_image.clone())
            .unwrap_or_else(berth_ops::snapshot::default_mover_image),
        app_image: a.app_image.clone().unwrap_or_default(),
        vendor_url: a.vendor_url.clone(),
        snapshot_repo: a.snapshot_repo.clone(),
        tls_secret: a.tls_secret.clone(),
    };
    print!("{}", berth_console::manifest::render(&input));
    Ok(crate::exit::OK)
}

/// Print how to reach a started console (and a generated password, once).
pub fn announce(r: &berth_console::Running, namespace: &str) {
    println!("berth console for namespace {namespace}: {}", r.url);
    if let Some(p) = &r.generated_password {
        println!(
            "admin password (shown once; stored as an Argon2id hash in secret {namespace}/{}): {p}",
            berth_console::auth::SECRET_NAME
        );
    }
    if r.self_signed_cert.is_some() {
        println!(
            "TLS: a self-signed certificate (your browser asks to trust it; pass --tls-cert/--tls-key for your own)"
        );
    }
}

/// `berth console`.
pub fn run(a: Args) -> Result<u8> {
    if a.print_manifest {
        return print_manifest(&a);
    }
    let opts = options(&a)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let running = berth_console::start(opts).await?;
        announce(&running, &a.namespace);
        eprintln!("Ctrl-C stops the console");
        tokio::signal::ctrl_c().await?;
        running.shutdown().await;
        Ok(0)
    })
}

/// The `berth demo --console` step: serve the console for the demo's app on its simulated
/// cluster, print the address (and the password), and serve until Ctrl-C.
pub async fn demo(
    kubeconfig: &std::path::Path,
    namespace: &str,
    app: &std::path::Path,
) -> Result<()> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let running = berth_console::start(berth_console::ConsoleOptions {
        namespace: namespace.into(),
        app_dir: app.to_path_buf(),
        addr: "127.0.0.1:0".parse()?,
        kubeconfig: Some(kubeconfig.to_path_buf()),
        context: None,
        tls: None,
        passwords: berth_console::auth::PasswordInput {
            admin: env("BERTH_CONSOLE_PASSWORD"),
            viewer: env("BERTH_CONSOLE_VIEWER_PASSWORD"),
        },
        timeout: Duration::from_secs(120),
        data_dir: None,
        vendor_url: None,
        snapshot_repo: None,
        mover_image: None,
    })
    .await?;
    println!();
    announce(&running, namespace);
    println!("the console serves the simulated cluster until Ctrl-C");
    tokio::signal::ctrl_c().await?;
    running.shutdown().await;
    Ok(())
}
