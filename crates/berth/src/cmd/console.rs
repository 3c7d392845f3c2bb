//! `berth console`: serve the admin console (berth-console) for one app's namespace.

use anyhow::{Context as _, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Serve the admin console: a web page to configure, deploy, roll back, check and diagnose
/// the app, over the same operations and revision records as the CLI.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  BERTH_CONSOLE_PASSWORD='…' berth console -n hello --app examples/hello\n  berth console -n hello --addr 0.0.0.0:8443 \\\n    --tls-cert cert.pem --tls-key key.pem\n  berth demo --console   # the tour, then the console on its simulated cluster\n\n\
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
}

/// The options the console library takes, from the arguments and the environment.
fn options(a: &Args) -> berth_console::ConsoleOptions {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    berth_console::ConsoleOptions {
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
    }
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let running = berth_console::start(options(&a)).await?;
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
    })
    .await?;
    println!();
    announce(&running, namespace);
    println!("the console serves the simulated cluster until Ctrl-C");
    tokio::signal::ctrl_c().await?;
    running.shutdown().await;
    Ok(())
}
