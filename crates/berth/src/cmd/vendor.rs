//! `berth vendor …` (the vendor server and its client), `berth license show|verify` and
//! `berth updates`: wiring of `berth-vendor` and `berth-license`.

use crate::output::{Format, print_structured};
use anyhow::{Context, bail};
use berth_vendor::client::{Client, ReleasePush};
use berth_vendor::model::*;
use comfy_table::Table;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  berth vendor serve --data-dir ./vendor-data --addr 127.0.0.1:8800\n  \
berth vendor login http://127.0.0.1:8800 \\\n    --token-file ./vendor-data/admin-token"
)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Run the vendor server (SQLite in --data-dir, or PostgreSQL with --database-url).
    #[command(
        after_help = "Examples:\n  berth vendor serve --data-dir /var/lib/berth-vendor --addr 127.0.0.1:8800\n  \
berth vendor serve --data-dir ./v \\\n    --database-url postgres://berth:pw@db:5432/berth \\\n    --public-url https://updates.example.com"
    )]
    Serve(Serve),
    /// Store the server URL and a token for the commands below (~/.config/berth/vendor.json, mode 0600).
    #[command(
        after_help = "Example:\n  berth vendor login http://127.0.0.1:8800 \\\n    --token-file /var/lib/berth-vendor/admin-token"
    )]
    Login(Login),
    /// Apps.
    #[command(subcommand, after_help = "Example:\n  berth vendor app create hello")]
    App(AppCmd),
    /// Channels of an app (stable, beta and unstable exist from the start).
    #[command(
        subcommand,
        after_help = "Examples:\n  berth vendor channel create lts --app hello --keep-minors 2\n  berth vendor channel ls --app hello"
    )]
    Channel(ChannelCmd),
    /// Releases: push what `berth release build` made, promote through channels.
    #[command(
        subcommand,
        after_help = "Examples:\n  berth vendor release push hello-1.2.0.release --channel unstable \\\n    --notes 'Fixes login'\n  \
berth vendor release promote hello 1.2.0 --channel stable"
    )]
    Release(ReleaseCmd),
    /// Customers and their entitlements.
    #[command(
        subcommand,
        after_help = "Example:\n  berth vendor customer create acme --app hello --channel stable \\\n    --expires 2027-12-31 --airgap \\\n    --entitlement seats=int:50 --entitlement tier=string:gold"
    )]
    Customer(CustomerCmd),
    /// Signed licenses.
    #[command(
        subcommand,
        after_help = "Example:\n  berth vendor license issue acme > acme.license.yaml"
    )]
    License(VendorLicenseCmd),
    /// The server's signing keys.
    #[command(
        subcommand,
        after_help = "Example:\n  berth vendor key export > vendor.pub"
    )]
    Key(KeyCmd),
    /// API tokens (scopes: admin, release-publisher, read-only).
    #[command(
        subcommand,
        after_help = "Example:\n  berth vendor token create ci --scope release-publisher"
    )]
    Token(TokenCmd),
    /// Who runs what: every instance that checked for updates.
    #[command(after_help = "Example:\n  berth vendor instances --app hello")]
    Instances(Instances),
    /// Who is exposed to an advisory: affected releases, the first fix, instances running one.
    #[command(
        after_help = "Example:\n  berth vendor exposure CVE-2023-4911 --app hello\n\n\
Needs a server started with --scan-db. Exit code 1 when an instance runs an affected release."
    )]
    Exposure(ExposureArgs),
    /// The audit log: who changed what, when.
    #[command(after_help = "Example:\n  berth vendor audit -o json")]
    Audit(Output),
    /// Support bundles customers sent with their license (`berth support-bundle --upload`).
    #[command(
        subcommand,
        name = "support-bundles",
        after_help = "Examples:\n  berth vendor support-bundles list --customer acme\n  berth vendor support-bundles download 0193a5e2-7c1b-7d4e-9a51-2b6f0c1d2e3f"
    )]
    SupportBundles(SupportBundlesCmd),
    /// Build a customer's signed air-gap bundle of a release on the server (full, or a delta
    /// over the release the customer runs).
    #[command(
        after_help = "Examples:\n  berth vendor bundle acme --version 1.2.0\n  berth vendor bundle acme --version 1.2.0 --since 1.1.0 -f acme-1.2.0.bundle"
    )]
    Bundle(VendorBundle),
}

#[derive(clap::Subcommand)]
enum SupportBundlesCmd {
    /// List the support bundles customers sent, newest first.
    #[command(after_help = "Example:\n  berth vendor support-bundles list --customer acme -o json")]
    List {
        /// Only this customer's.
        #[arg(long)]
        customer: Option<String>,
        /// Only this app's.
        #[arg(long)]
        app: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Download one (checked against its SHA-256 before it is renamed into place).
    #[command(
        after_help = "Example:\n  berth vendor support-bundles download \\\n    0193a5e2-7c1b-7d4e-9a51-2b6f0c1d2e3f -f acme.tar.gz"
    )]
    Download {
        /// The id `list` shows.
        id: String,
        /// Where to write it (default: ./CUSTOMER-ID.tar.gz).
        #[arg(long, short = 'f', value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct VendorBundle {
    /// The customer (must be licensed for air-gap installs).
    customer: String,
    /// The release to bundle (on one of the customer's channels, not past end of life).
    #[arg(long)]
    version: String,
    /// Make a delta: leave out what this older release already holds.
    #[arg(long)]
    since: Option<String>,
    /// Where to write the bundle (default: CUSTOMER-VERSION.bundle).
    #[arg(long, short = 'f', value_name = "FILE")]
    file: Option<PathBuf>,
    #[command(flatten)]
    out: Output,
}

#[derive(clap::Args)]
struct Serve {
    /// Data directory: the SQLite database, release blobs and the first admin token.
    #[arg(long)]
    data_dir: PathBuf,
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:8800")]
    addr: std::net::SocketAddr,
    /// PostgreSQL URL (postgres://user:pw@host:5432/db); SQLite in --data-dir when absent.
    #[arg(long, env = "BERTH_VENDOR_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Keep release blobs in an S3-compatible bucket (s3://bucket/prefix?endpoint=URL&region=R;
    /// credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); --data-dir is then its cache.
    #[arg(long, value_name = "S3_URL", env = "BERTH_VENDOR_STORAGE")]
    storage: Option<String>,
    /// The URL customers reach this server at (written into licenses); default: the listen address.
    #[arg(long)]
    public_url: Option<String>,
    /// TLS certificate (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); needs --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Largest blob accepted in a release push, MiB.
    #[arg(long, default_value_t = 4096)]
    max_blob_mib: u64,
    /// Update checks and downloads allowed per license per second (burst twice that).
    #[arg(long, default_value_t = 20.0)]
    license_rps: f64,
    /// Largest support bundle a customer may send, MiB.
    #[arg(long, default_value_t = 512)]
    max_support_bundle_mib: u64,
    /// Gate promotions on a CVE scan: a directory of OSV JSON records (docs/formats/scan.md).
    #[arg(long, value_name = "DIR")]
    scan_db: Option<PathBuf>,
    /// The scan policy (YAML; default: block every fixable finding).
    #[arg(long, value_name = "FILE", requires = "scan_db")]
    scan_policy: Option<PathBuf>,
    /// Do not serve the vendor's portal (web pages under /portal/, login with a vendor token).
    #[arg(long)]
    no_portal: bool,
}

#[derive(clap::Args)]
struct Login {
    /// The server's URL.
    url: String,
    /// The token (prefer --token-file: a token on a command line is visible to other users).
    #[arg(long, conflicts_with = "token_file")]
    token: Option<String>,
    /// A file holding the token (e.g. DATA_DIR/admin-token).
    #[arg(long)]
    token_file: Option<PathBuf>,
}

#[derive(clap::Args, Clone, Copy)]
struct Output {
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    output: Format,
}

#[derive(clap::Subcommand)]
enum AppCmd {
    /// Create an app with the stable, beta and unstable channels.
    #[command(after_help = "Example:\n  berth vendor app create hello")]
    Create { name: String },
    /// List apps.
    #[command(after_help = "Example:\n  berth vendor app ls -o json")]
    Ls(Output),
}

#[derive(clap::Subcommand)]
enum ChannelCmd {
    /// Create a channel.
    #[command(
        after_help = "Example:\n  berth vendor channel create lts --app hello --keep-minors 2"
    )]
    Create {
        name: String,
        #[arg(long)]
        app: String,
        /// End of life by policy: support only the newest N minor versions.
        #[arg(long)]
        keep_minors: Option<u64>,
    },
    /// List channels and their releases.
    #[command(after_help = "Example:\n  berth vendor channel ls --app hello")]
    Ls {
        #[arg(long)]
        app: String,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(clap::Subcommand)]
enum ReleaseCmd {
    /// Upload a release directory (only blobs the server lacks; a killed push resumes).
    #[command(
        after_help = "Example:\n  berth vendor release push hello-1.2.0.release --channel unstable \\\n    --notes 'Fixes login'"
    )]
    Push {
        /// The directory `berth release build` wrote.
        dir: PathBuf,
        /// Also promote it to this channel.
        #[arg(long)]
        channel: Option<String>,
        /// Release notes.
        #[arg(long, default_value = "")]
        notes: String,
        /// An upgrade may not skip this release.
        #[arg(long)]
        required: bool,
        /// End-of-life date (YYYY-MM-DD).
        #[arg(long)]
        eol: Option<String>,
    },
    /// Add a pushed release to a channel (runs the release gates).
    #[command(after_help = "Example:\n  berth vendor release promote hello 1.2.0 --channel stable")]
    Promote {
        app: String,
        version: String,
        #[arg(long)]
        channel: String,
    },
}

#[derive(clap::Subcommand)]
enum CustomerCmd {
    /// Create a customer.
    #[command(
        after_help = "Example:\n  berth vendor customer create acme --app hello --channel stable \\\n    \
--expires 2027-12-31 --airgap --entitlement seats=int:50"
    )]
    Create(CustomerCreate),
    /// List customers.
    #[command(after_help = "Example:\n  berth vendor customer ls --app hello")]
    Ls {
        #[arg(long)]
        app: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Renew, move to other channels, revoke or reinstate.
    #[command(
        after_help = "Examples:\n  berth vendor customer update acme --expires 2028-12-31\n  berth vendor customer update acme --revoke"
    )]
    Update {
        name: String,
        /// New expiry date (YYYY-MM-DD).
        #[arg(long)]
        expires: Option<String>,
        /// Replace the channels (repeatable; the first is the default).
        #[arg(long = "channel")]
        channels: Vec<String>,
        /// Revoke: the license stops opening updates and downloads.
        #[arg(long, conflicts_with = "reinstate")]
        revoke: bool,
        /// Undo a revocation.
        #[arg(long)]
        reinstate: bool,
    },
}

#[derive(clap::Args)]
struct CustomerCreate {
    name: String,
    #[arg(long)]
    app: String,
    /// Channels (repeatable; the first is the default).
    #[arg(long = "channel", required = true)]
    channels: Vec<String>,
    /// Expiry date (YYYY-MM-DD or RFC 3339); none: never.
    #[arg(long)]
    expires: Option<String>,
    /// dev, trial or paid.
    #[arg(long = "type", default_value = "paid")]
    license_type: String,
    /// Air-gap bundles allowed.
    #[arg(long)]
    airgap: bool,
    /// Snapshots allowed.
    #[arg(long)]
    snapshots: bool,
    /// Support-bundle upload allowed.
    #[arg(long)]
    support_bundle_upload: bool,
    /// Bind the license to one cluster (UID of its kube-system namespace).
    #[arg(long)]
    cluster_id: Option<String>,
    /// NAME=TYPE:VALUE (int, string, bool); repeatable.
    #[arg(long = "entitlement")]
    entitlements: Vec<String>,
}

#[derive(clap::Subcommand)]
enum VendorLicenseCmd {
    /// Issue a signed license for a customer (printed on stdout).
    #[command(after_help = "Example:\n  berth vendor license issue acme > acme.license.yaml")]
    Issue { customer: String },
}

#[derive(clap::Subcommand)]
enum KeyCmd {
    /// Print the public keys (PEM) customers verify licenses with; the active one first.
    #[command(after_help = "Example:\n  berth vendor key export > vendor.pub")]
    Export,
    /// Sign new licenses with a new key; old licenses stay verifiable with the old one.
    #[command(after_help = "Example:\n  berth vendor key rotate")]
    Rotate,
}

#[derive(clap::Subcommand)]
enum TokenCmd {
    /// Create a token (printed once).
    #[command(after_help = "Example:\n  berth vendor token create ci --scope release-publisher")]
    Create {
        name: String,
        #[arg(long, value_parser = ["admin", "release-publisher", "read-only"])]
        scope: String,
    },
    /// List tokens.
    #[command(after_help = "Example:\n  berth vendor token ls")]
    Ls(Output),
    /// Revoke a token by id.
    #[command(
        after_help = "Example:\n  berth vendor token revoke 0193a5e2-7c1b-7d4e-9a51-2b6f0c1d2e3f"
    )]
    Revoke { id: String },
}

#[derive(clap::Args)]
struct ExposureArgs {
    /// The advisory: a CVE, DSA, GHSA or other id (aliases match too).
    advisory: String,
    #[arg(long)]
    app: String,
    #[command(flatten)]
    out: Output,
}

#[derive(clap::Args)]
struct Instances {
    #[arg(long)]
    app: String,
    #[command(flatten)]
    out: Output,
}

/// The stored login.
#[derive(Serialize, Deserialize)]
struct LoginFile {
    url: String,
    token: String,
}

fn login_path() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("BERTH_VENDOR_CONFIG") {
        return Ok(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .context(
            "neither XDG_CONFIG_HOME nor HOME is set; set BERTH_VENDOR_CONFIG to a file path",
        )?;
    Ok(base.join("berth").join("vendor.json"))
}

/// The vendor client from BERTH_VENDOR_URL/BERTH_VENDOR_TOKEN or the stored login.
fn client() -> anyhow::Result<Client> {
    if let (Ok(u), Ok(t)) = (
        std::env::var("BERTH_VENDOR_URL"),
        std::env::var("BERTH_VENDOR_TOKEN"),
    ) {
        return Ok(Client::new(&u, &t)?);
    }
    let p = login_path()?;
    let text = std::fs::read_to_string(&p).with_context(|| {
        format!(
            "not logged in ({} is missing): run `berth vendor login URL --token-file FILE`",
            p.display()
        )
    })?;
    let l: LoginFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a berth login file; log in again", p.display()))?;
    Ok(Client::new(&l.url, &l.token)?)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    berth_oci::client::install_crypto_provider();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Run `berth vendor …`.
pub fn run(a: Args) -> anyhow::Result<u8> {
    let rt = runtime()?;
    rt.block_on(async {
        match a.cmd {
            Cmd::Serve(s) => serve(s).await,
            Cmd::Login(l) => login(l).await,
            Cmd::App(c) => app(c).await,
            Cmd::Channel(c) => channel(c).await,
            Cmd::Release(c) => release(c).await,
            Cmd::Customer(c) => customer(c).await,
            Cmd::License(VendorLicenseCmd::Issue { customer }) => {
                print!("{}", client()?.issue_license(&customer).await?);
                Ok(crate::exit::OK)
            }
            Cmd::Key(c) => key(c).await,
            Cmd::Token(c) => token(c).await,
            Cmd::Instances(i) => instances(i).await,
            Cmd::Exposure(e) => exposure(e).await,
            Cmd::Bundle(b) => vendor_bundle(b).await,
            Cmd::SupportBundles(c) => support_bundles(c).await,
            Cmd::Audit(o) => {
                let log = client()?.audit().await?;
                show(&log, o.output, &["at", "actor", "action", "detail"], |r| {
                    vec![
                        r.at.clone(),
                        r.actor.clone(),
                        r.action.clone(),
                        r.detail.clone(),
                    ]
                })
            }
        }
    })
}

async fn serve(s: Serve) -> anyhow::Result<u8> {
    let tls = s.tls_cert.is_some();
    let cfg = berth_vendor::ServeConfig {
        data_dir: s.data_dir.clone(),
        addr: s.addr,
        database_url: s.database_url,
        storage: s.storage,
        public_url: s.public_url,
        tls: s.tls_cert.zip(s.tls_key),
        max_blob: s.max_blob_mib.saturating_mul(1024 * 1024),
        license_rps: s.license_rps,
        scan: s.scan_db.clone().map(|d| (d, s.scan_policy.clone())),
        max_support_bundle: s.max_support_bundle_mib.saturating_mul(1024 * 1024),
        extra_routes: (!s.no_portal).then_some(berth_console::portal::mount as _),
    };
    init_logs();
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("shutting down: finishing requests in flight");
    };
    berth_vendor::serve(
        cfg,
        |st| {
            eprintln!("vendor server on {} ({} database, data in {})", st.addr, st.engine, s.data_dir.display());
            if !s.no_portal {
                let scheme = if tls { "https" } else { "http" };
                eprintln!("vendor portal: {scheme}://{}/portal/ (log in with a vendor token)", st.addr);
            }
            if let Some(f) = &st.admin_token_file {
                eprintln!("new database: the first admin token is in {f} (mode 0600); `berth vendor login URL --token-file {f}`");
            }
            // The bound address on stdout, so scripts can use port 0.
            println!("{}", st.addr);
        },
        shutdown,
    )
    .await?;
    Ok(crate::exit::OK)
}

fn init_logs() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BERTH_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn login(l: Login) -> anyhow::Result<u8> {
    let token = match (l.token, l.token_file) {
        (Some(t), _) => t,
        (None, Some(f)) => std::fs::read_to_string(&f)
            .with_context(|| format!("reading the token from {}", f.display()))?
            .trim()
            .to_string(),
        (None, None) => bail!("give --token-file FILE (or --token)"),
    };
    let who = Client::new(&l.url, &token)?.whoami().await?;
    let p = login_path()?;
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let body = serde_json::to_vec_pretty(&LoginFile {
        url: l.url.clone(),
        token,
    })?;
    berth_vendor::service::write_private(&p, &body)
        .with_context(|| format!("writing {}", p.display()))?;
    eprintln!(
        "logged in to {} as {} ({}); saved in {}",
        l.url,
        who.name,
        who.scope.as_str(),
        p.display()
    );
    Ok(crate::exit::OK)
}

/// Print rows as a table, or the whole value as JSON/YAML.
fn show<T: Serialize>(
    rows: &[T],
    f: Format,
    head: &[&str],
    cells: impl Fn(&T) -> Vec<String>,
) -> anyhow::Result<u8> {
    if f != Format::Table {
        print_structured(&serde_json::to_value(rows)?, f)?;
        return Ok(crate::exit::OK);
    }
    let mut t = Table::new();
    t.load_style(comfy_table::presets::NOTHING);
    t.set_header(head.iter().map(|h| h.to_uppercase()));
    for r in rows {
        t.add_row(cells(r));
    }
    println!("{t}");
    Ok(crate::exit::OK)
}

async fn app(c: AppCmd) -> anyhow::Result<u8> {
    let cl = client()?;
    match c {
        AppCmd::Create { name } => {
            cl.create_app(&name).await?;
            eprintln!("created app {name} with channels stable, beta, unstable");
            Ok(crate::exit::OK)
        }
        AppCmd::Ls(o) => show(&cl.apps().await?, o.output, &["app"], |a| vec![a.clone()]),
    }
}

async fn channel(c: ChannelCmd) -> anyhow::Result<u8> {
    let cl = client()?;
    match c {
        ChannelCmd::Create {
            name,
            app,
            keep_minors,
        } => {
            cl.create_channel(
                &app,
                &NewChannel {
                    name: name.clone(),
                    keep_minors,
                },
            )
            .await?;
            eprintln!("created channel {name} of {app}");
            Ok(crate::exit::OK)
        }
        ChannelCmd::Ls { app, out } => {
            let chans = cl.channels(&app).await?;
            show(
                &chans,
                out.output,
                &["channel", "releases", "policy"],
                |c| {
                    vec![
                        c.name.clone(),
                        c.releases
                            .iter()
                            .map(|r| {
                                format!(
                                    "{}{}{}",
                                    r.version,
                                    if r.required { " (required)" } else { "" },
                                    if r.eol.is_some() { " (EOL)" } else { "" }
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(", "),
                        c.keep_minors
                            .map(|k| format!("newest {k} minors"))
                            .unwrap_or_default(),
                    ]
                },
            )
        }
    }
}

async fn release(c: ReleaseCmd) -> anyhow::Result<u8> {
    let cl = client()?;
    match c {
        ReleaseCmd::Push {
            dir,
            channel,
            notes,
            required,
            eol,
        } => {
            let r = cl
                .push_release(
                    &dir,
                    ReleasePush {
                        notes,
                        required,
                        eol_at: eol,
                    },
                )
                .await?;
            eprintln!(
                "{} {} {} ({} blob(s) uploaded, {} already on the server)",
                if r.created {
                    "pushed"
                } else {
                    "already pushed:"
                },
                r.app,
                r.version,
                r.uploaded,
                r.present
            );
            if let Some(ch) = channel {
                promote_report(&cl, &r.app, &r.version, &ch).await?;
            }
            Ok(crate::exit::OK)
        }
        ReleaseCmd::Promote {
            app,
            version,
            channel,
        } => {
            promote_report(&cl, &app, &version, &channel).await?;
            Ok(crate::exit::OK)
        }
    }
}

async fn promote_report(cl: &Client, app: &str, version: &str, ch: &str) -> anyhow::Result<()> {
    let new = cl.promote(app, ch, version).await?;
    eprintln!(
        "{app} {version} {} channel {ch}",
        if new { "promoted to" } else { "was already on" }
    );
    Ok(())
}

async fn customer(c: CustomerCmd) -> anyhow::Result<u8> {
    let cl = client()?;
    match c {
        CustomerCmd::Create(c) => {
            cl.create_customer(&NewCustomer {
                name: c.name.clone(),
                app: c.app,
                channels: c.channels,
                license_type: c.license_type,
                expires_at: c.expires,
                airgap: c.airgap,
                snapshots: c.snapshots,
                support_bundle_upload: c.support_bundle_upload,
                cluster_id: c.cluster_id,
                entitlements: c.entitlements,
            })
            .await?;
            eprintln!(
                "created customer {}; issue a license with `berth vendor license issue {}`",
                c.name, c.name
            );
            Ok(crate::exit::OK)
        }
        CustomerCmd::Ls { app, out } => {
            let cs = cl.customers(app.as_deref()).await?;
            show(
                &cs,
                out.output,
                &["customer", "app", "channels", "type", "expires", "status"],
                |c| {
                    vec![
                        c.name.clone(),
                        c.app.clone(),
                        c.channels.join(","),
                        c.license_type.clone(),
                        c.expires_at.clone().unwrap_or_else(|| "never".into()),
                        if c.revoked {
                            "revoked".into()
                        } else {
                            "active".into()
                        },
                    ]
                },
            )
        }
        CustomerCmd::Update {
            name,
            expires,
            channels,
            revoke,
            reinstate,
        } => {
            let change = CustomerChange {
                expires_at: expires,
                channels: (!channels.is_empty()).then_some(channels),
                revoked: if revoke {
                    Some(true)
                } else if reinstate {
                    Some(false)
                } else {
                    None
                },
            };
            let c = cl.change_customer(&name, &change).await?;
            eprintln!(
                "customer {}: channels {}, expires {}, {}; licenses issued before keep their signed terms until re-issued",
                c.name,
                c.channels.join(","),
                c.expires_at.unwrap_or_else(|| "never".into()),
                if c.revoked { "revoked" } else { "active" }
            );
            Ok(crate::exit::OK)
        }
    }
}

async fn key(c: KeyCmd) -> anyhow::Result<u8> {
    let cl = client()?;
    match c {
        KeyCmd::Export => {
            for k in cl.keys().await? {
                print!("{}", k.public_pem);
            }
        }
        KeyCmd::Rotate => {
            let id = cl.rotate_key().await?;
            eprintln!(
                "new licenses are signed with key {id}; export the public keys again for customers (`berth vendor key export`)"
            );
        }
    }
    Ok(crate::exit::OK)
}

async fn token(c: TokenCmd) -> anyhow::Result<u8> {
    let cl = client()?;
    match c {
        TokenCmd::Create { name, scope } => {
            let scope = Scope::parse(&scope).context("scope")?;
            let t = cl.create_token(&name, scope).await?;
            eprintln!(
                "token {} ({}) created; it is shown only now:",
                t.id,
                scope.as_str()
            );
            println!("{}", t.token);
            Ok(crate::exit::OK)
        }
        TokenCmd::Ls(o) => show(
            &cl.tokens().await?,
            o.output,
            &["id", "name", "scope", "created", "status"],
            |t| {
                vec![
                    t.id.clone(),
                    t.name.clone(),
                    t.scope.as_str().into(),
                    t.created_at.clone(),
                    if t.revoked {
                        "revoked".into()
                    } else {
                        "active".into()
                    },
                ]
            },
        ),
        TokenCmd::Revoke { id } => {
            cl.revoke_token(&id).await?;
            eprintln!("token {id} revoked");
            Ok(crate::exit::OK)
        }
    }
}

async fn vendor_bundle(b: VendorBundle) -> anyhow::Result<u8> {
    let file = b
        .file
        .unwrap_or_else(|| PathBuf::from(format!("{}-{}.bundle", b.customer, b.version)));
    let req = berth_vendor::bundles::BundleRequest {
        version: b.version,
        since: b.since,
    };
    let d = client()?.customer_bundle(&b.customer, &req, &file).await?;
    if b.out.output == Format::Table {
        println!(
            "{} bundle for {} written to {} ({} bytes{}); the customer verifies it with `berth vendor key export` output",
            d.kind,
            b.customer,
            d.file.display(),
            d.bytes,
            if d.blobs_omitted > 0 {
                format!(", {} blob(s) left to the base release", d.blobs_omitted)
            } else {
                String::new()
            }
        );
    } else {
        crate::output::print_structured(&serde_json::to_value(&d)?, b.out.output)?;
    }
    Ok(crate::exit::OK)
}

async fn support_bundles(c: SupportBundlesCmd) -> anyhow::Result<u8> {
    let cl = client()?;
    match c {
        SupportBundlesCmd::List { customer, app, out } => {
            let rows = cl
                .support_bundles(customer.as_deref(), app.as_deref())
                .await?;
            if rows.is_empty() && out.output == Format::Table {
                eprintln!("no support bundle received yet");
                return Ok(crate::exit::OK);
            }
            show(
                &rows,
                out.output,
                &["id", "customer", "app", "received", "size", "name"],
                |b| {
                    vec![
                        b.id.clone(),
                        b.customer.clone(),
                        b.app.clone(),
                        b.received_at.clone(),
                        b.size.to_string(),
                        b.name.clone(),
                    ]
                },
            )
        }
        SupportBundlesCmd::Download { id, file } => {
            let d = cl.download_support_bundle(&id, file.as_deref()).await?;
            eprintln!(
                "support bundle {id} written to {} ({} bytes, sha256 {})",
                d.file.display(),
                d.bytes,
                d.sha256
            );
            Ok(crate::exit::OK)
        }
    }
}

async fn instances(i: Instances) -> anyhow::Result<u8> {
    let rows = client()?.instances(&i.app).await?;
    show(
        &rows,
        i.out.output,
        &[
            "customer",
            "version",
            "behind",
            "kubernetes",
            "distribution",
            "ready",
            "last seen",
            "eol",
        ],
        |r| {
            vec![
                r.customer.clone(),
                r.app_version.clone(),
                r.behind.to_string(),
                r.kube_version.clone(),
                r.distribution.clone(),
                r.ready.clone(),
                r.last_seen.clone(),
                r.eol.clone().unwrap_or_default(),
            ]
        },
    )
}

async fn exposure(e: ExposureArgs) -> anyhow::Result<u8> {
    let x = client()?.exposure(&e.app, &e.advisory).await?;
    let code = if x.instances.is_empty() {
        crate::exit::OK
    } else {
        crate::exit::FAILURE
    };
    if e.out.output != Format::Table {
        crate::output::print_structured(&serde_json::to_value(&x)?, e.out.output)?;
        return Ok(code);
    }
    let affected: Vec<&str> = x
        .releases
        .iter()
        .filter(|r| r.affected)
        .map(|r| r.version.as_str())
        .collect();
    if affected.is_empty() {
        println!(
            "{} affects no release of {} ({} scanned)",
            x.advisory,
            x.app,
            x.releases.len()
        );
    } else {
        println!(
            "{} affects {} release(s) of {}: {}",
            x.advisory,
            affected.len(),
            x.app,
            affected.join(", ")
        );
        for r in x.releases.iter().filter(|r| r.affected) {
            for p in &r.packages {
                println!(
                    "  {} {}: {} {} in {} ({}, {})",
                    x.app, r.version, p.package, p.version, p.image, p.advisory, p.fix
                );
            }
        }
        match &x.first_fixed {
            Some(v) => println!("first release that fixes it: {v}"),
            None => println!("no release fixes it yet"),
        }
    }
    for r in &x.releases {
        for p in &r.suppressed {
            println!(
                "  {} {}: {} {} in {} not affected: {}",
                x.app,
                r.version,
                p.package,
                p.version,
                p.image,
                p.vex.as_deref().unwrap_or("VEX")
            );
        }
    }
    for r in x.releases.iter().filter(|r| r.not_scanned > 0) {
        println!(
            "warning: {} {} has {} package database(s) berth could not read: not known to be clean",
            x.app, r.version, r.not_scanned
        );
    }
    if x.instances.is_empty() {
        println!("no instance runs an affected release");
        return Ok(code);
    }
    println!("instances running an affected release:");
    show(
        &x.instances,
        Format::Table,
        &["customer", "cluster", "version", "last seen"],
        |i| {
            vec![
                i.customer.clone(),
                i.cluster_id.clone(),
                i.app_version.clone(),
                i.last_seen.clone(),
            ]
        },
    )?;
    Ok(code)
}

// ---- customer side ---------------------------------------------------------------------

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  berth license show acme.license.yaml\n  \
berth license verify acme.license.yaml --pubkey vendor.pub --app hello")]
pub struct LicenseArgs {
    #[command(subcommand)]
    cmd: LicenseCmd,
}

#[derive(clap::Subcommand)]
enum LicenseCmd {
    /// Print a license (the credential masked).
    #[command(after_help = "Example:\n  berth license show acme.license.yaml")]
    Show {
        file: PathBuf,
        #[command(flatten)]
        out: Output,
    },
    /// Verify a license offline with the vendor's public key(s).
    #[command(
        after_help = "Example:\n  berth license verify acme.license.yaml --pubkey vendor.pub --app hello"
    )]
    Verify {
        file: PathBuf,
        /// The vendor's public key (PEM); repeatable (keys before and after a rotation).
        #[arg(long = "pubkey", required = true)]
        pubkeys: Vec<PathBuf>,
        /// The app the license must be for.
        #[arg(long)]
        app: Option<String>,
        /// UID of the cluster's kube-system namespace, for a license bound to one cluster.
        #[arg(long)]
        cluster_id: Option<String>,
    },
}

/// Run `berth license …`.
pub fn license(a: LicenseArgs) -> anyhow::Result<u8> {
    match a.cmd {
        LicenseCmd::Show { file, out } => {
            let l = berth_license::License::read(&file)?;
            if out.output == Format::Table {
                print_license(&l);
            } else {
                print_structured(&serde_json::to_value(l.masked())?, out.output)?;
            }
            Ok(crate::exit::OK)
        }
        LicenseCmd::Verify {
            file,
            pubkeys,
            app,
            cluster_id,
        } => {
            let l = berth_license::License::read(&file)?;
            let keys = pubkeys
                .iter()
                .map(|p| berth_oci::keys::read_verifying_key(p))
                .collect::<Result<Vec<_>, _>>()?;
            let expect = berth_license::Expect {
                app,
                now: jiff::Timestamp::now(),
                cluster_id,
            };
            l.verify(&keys, &expect, &file.display().to_string())?;
            eprintln!(
                "license {} of {} for {} is valid (signed by key {}{})",
                l.spec.license_id,
                l.spec.customer,
                l.spec.app,
                l.signature.key_id,
                l.spec
                    .expires_at
                    .map(|e| format!(", expires {e}"))
                    .unwrap_or_default()
            );
            Ok(crate::exit::OK)
        }
    }
}

fn print_license(l: &berth_license::License) {
    let s = &l.spec;
    println!("license    {}", s.license_id);
    println!("app        {}", s.app);
    println!("customer   {}", s.customer);
    println!("type       {}", s.license_type.as_str());
    println!("channels   {}", s.channels.join(", "));
    println!("issued     {}", s.issued_at);
    println!(
        "expires    {}",
        s.expires_at
            .map(|e| e.to_string())
            .unwrap_or_else(|| "never".into())
    );
    println!("vendor     {}", s.vendor_url);
    println!("air-gap    {}", s.airgap);
    println!("snapshots  {}", s.snapshots);
    if let Some(c) = &s.cluster_id {
        println!("cluster    {c}");
    }
    for (k, v) in &s.entitlements {
        println!("entitlement {k} = {}", v.to_json());
    }
    println!("signed by  {}", l.signature.key_id);
}

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  berth updates -n hello\n  berth updates --license acme.license.yaml --current 1.0.0"
)]
pub struct UpdatesArgs {
    /// The license file (default: the one `berth install --license` stored in the namespace,
    /// with the installed version as --current).
    #[arg(long)]
    license: Option<PathBuf>,
    /// The installed version (absent with --license: what a new install would get).
    #[arg(long)]
    current: Option<String>,
    /// Namespace of an online install (its license Secret and deployed version are read).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Path to the kubeconfig (with -n).
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use (with -n).
    #[arg(long)]
    context: Option<String>,
    /// A channel of the license other than its default.
    #[arg(long)]
    channel: Option<String>,
    /// Reach the vendor server here instead of the license's URL (a proxy in between).
    #[arg(long)]
    vendor_url: Option<String>,
    /// UID of the cluster's kube-system namespace (identifies this instance to the vendor).
    #[arg(long, default_value = "unknown")]
    cluster_id: String,
    #[command(flatten)]
    out: Output,
}

/// Run `berth updates`: what is newer, which releases are required on the way, EOL status
/// (berth-ops' update check, the one the console's Versions page makes).
pub fn updates(a: UpdatesArgs) -> anyhow::Result<u8> {
    let rt = runtime()?;
    rt.block_on(async {
        let target = berth_ops::deploy::Target {
            kubeconfig: a.kubeconfig.clone(),
            context: a.context.clone(),
            namespace: a.namespace.clone(),
            timeout: std::time::Duration::from_secs(60),
            cluster: None,
        };
        let input = berth_ops::online::UpdatesInput {
            license: a
                .license
                .as_deref()
                .map(berth_ops::online::LicenseText::read)
                .transpose()?,
            current: a.current.clone(),
            channel: a.channel.clone(),
            vendor_url: a.vendor_url.clone(),
            cluster_id: Some(a.cluster_id.clone()),
            timeout: None,
        };
        let rep = berth_ops::online::updates(&target, &input).await?;
        let ans = &rep.answer;
        if a.out.output != Format::Table {
            print_structured(&serde_json::to_value(ans)?, a.out.output)?;
            return Ok(crate::exit::OK);
        }
        print_updates(ans, rep.current.as_deref());
        Ok(if ans.refused.is_some() {
            crate::exit::FAILURE
        } else {
            crate::exit::OK
        })
    })
}

fn print_updates(ans: &UpdateAnswer, current: Option<&str>) {
    if let Some(e) = &ans.current_eol {
        println!(
            "installed {} is past its end of life: {e}",
            current.unwrap_or("?")
        );
    }
    if ans.newer.is_empty() {
        println!("{} is up to date on channel {}", ans.app, ans.channel);
    }
    for r in &ans.newer {
        let tags = [
            r.required.then_some("required"),
            r.eol.as_deref().map(|_| "end of life"),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        println!(
            "{} {}{}",
            ans.app,
            r.version,
            if tags.is_empty() {
                String::new()
            } else {
                format!(" ({tags})")
            }
        );
        for line in r.notes.lines() {
            println!("    {line}");
        }
    }
    if let Some(why) = &ans.refused {
        println!("no update possible: {why}");
    } else if !ans.path.is_empty() {
        println!("upgrade path: {}", ans.path.join(" -> "));
    }
}
