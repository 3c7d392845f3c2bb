//! `berth release build`, `berth bundle create|verify|inspect|push`, `berth keys generate`,
//! `berth registry serve`: wiring of the `berth-oci` library.

use crate::output::Format;
use anyhow::Context;
use berth_oci::bundle::{self, Expect};
use berth_oci::transfer::Progress;
use berth_oci::{ClientConfig, keys};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;

/// How to reach registries (shared by every command that talks to one).
#[derive(clap::Args, Debug, Clone)]
pub struct RegistryFlags {
    /// Talk plain HTTP (no TLS) to the registry.
    #[arg(long)]
    insecure: bool,
    /// PEM file with extra CA certificates to trust (for a registry with a private CA).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Registry username (the password comes from BERTH_REGISTRY_PASSWORD or --password-stdin).
    #[arg(long)]
    username: Option<String>,
    /// Read the registry password from the first line of stdin.
    #[arg(long)]
    password_stdin: bool,
    /// Docker config file with registry logins (default: $DOCKER_CONFIG/config.json, ~/.docker/config.json).
    #[arg(long, value_name = "FILE")]
    docker_config: Option<PathBuf>,
    /// Blob transfers in flight at once.
    #[arg(long, default_value_t = 8)]
    parallel: usize,
    /// Fetch images of registry HOST from MIRROR instead (HOST=MIRROR, repository paths kept); repeatable.
    #[arg(long, value_name = "HOST=MIRROR")]
    mirror: Vec<String>,
}

impl RegistryFlags {
    pub(crate) fn config(&self) -> anyhow::Result<ClientConfig> {
        let credentials = match &self.username {
            Some(u) => {
                let password = if self.password_stdin {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("reading the password from stdin")?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                } else {
                    std::env::var("BERTH_REGISTRY_PASSWORD").map_err(|_| {
                        anyhow::anyhow!("--username {u} needs a password: set BERTH_REGISTRY_PASSWORD or pass --password-stdin")
                    })?
                };
                Some(berth_oci::auth::Credentials {
                    username: u.clone(),
                    password,
                })
            }
            None => None,
        };
        let mut mirrors = std::collections::BTreeMap::new();
        for m in &self.mirror {
            let (h, to) = m.split_once('=').ok_or_else(|| {
                anyhow::anyhow!(
                    "--mirror {m:?}: expected HOST=MIRROR, for example docker.io=127.0.0.1:5000"
                )
            })?;
            mirrors.insert(h.to_string(), to.to_string());
        }
        Ok(ClientConfig {
            mirrors,
            insecure: self.insecure,
            ca_file: self.ca_file.clone(),
            credentials,
            docker_config: self.docker_config.clone(),
            parallelism: self.parallel.max(1),
            ..Default::default()
        })
    }
}

/// Progress bars on a terminal (one per image plus the overall bytes); nothing in pipes.
struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn new(quiet: bool) -> Bars {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let multi = MultiProgress::with_draw_target(target);
        let total = multi.add(ProgressBar::new(0));
        total.set_style(
            ProgressStyle::with_template(
                "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        total.set_prefix("overall");
        Bars {
            multi,
            total,
            bars: Mutex::default(),
        }
    }
}

impl Progress for Bars {
    fn image_start(&self, image: &str, total: u64) {
        let b = self.multi.add(ProgressBar::new(total));
        b.set_style(
            ProgressStyle::with_template("{msg:40!} [{bar:20}] {bytes}/{total_bytes}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.set_message(image.to_string());
        self.total.inc_length(total);
        if let Ok(mut m) = self.bars.lock() {
            m.insert(image.to_string(), b);
        }
    }
    fn bytes(&self, image: &str, n: u64) {
        self.total.inc(n);
        if let Some(b) = self.bars.lock().ok().and_then(|m| m.get(image).cloned()) {
            b.inc(n);
        }
    }
    fn image_done(&self, image: &str) {
        if let Some(b) = self.bars.lock().ok().and_then(|mut m| m.remove(image)) {
            b.finish_and_clear();
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    berth_oci::client::install_crypto_provider();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

use berth_ops::airgap::{human, push_summary};

// ---------------------------------------------------------------- release

/// Build releases: the app definition and every image it runs, pinned by digest, in one OCI image layout.
#[derive(clap::Args)]
#[command(
    after_help = "Example (images from a local mirror, e.g. `berth registry serve`):\n  \
berth release build examples/hello --version 1.0.0 --out hello-1.0.0.release \\\n    \
--mirror registry.hello.example=127.0.0.1:5000 --insecure"
)]
pub struct ReleaseArgs {
    #[command(subcommand)]
    cmd: ReleaseCmd,
}

#[derive(clap::Subcommand)]
enum ReleaseCmd {
    /// Collect every image of the app, resolve it to a digest, and write a release directory.
    #[command(after_help = "Examples:\n  \
berth release build examples/hello --version 1.0.0 --out hello-1.0.0.release\n  \
berth release build examples/hello --dry-run --platform linux/amd64\n  \
berth release build examples/hello --out hello-1.0.0.release \\\n    \
--mirror registry.hello.example=127.0.0.1:5000 --insecure   # offline mirror")]
    Build(ReleaseBuild),
}

#[derive(clap::Args)]
struct ReleaseBuild {
    /// The app directory (holding berth.yaml).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Release version (X.Y.Z); defaults to metadata.version in berth.yaml.
    #[arg(long)]
    version: Option<String>,
    /// Output directory (an OCI image layout); default `<app>-<version>.release`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Rendered Kubernetes objects (YAML file or directory) to scan for images; repeatable.
    #[arg(long, value_name = "PATH")]
    manifests: Vec<PathBuf>,
    /// Extra image to include; repeatable.
    #[arg(long, value_name = "REF")]
    image: Vec<String>,
    /// Keep only these platforms of multi-platform images (os/arch[/variant]); repeatable.
    #[arg(long, value_name = "PLATFORM")]
    platform: Vec<String>,
    /// Leave out berth's own snapshot mover image (made from this executable).
    #[arg(long)]
    no_mover_image: bool,
    /// Print the images that would be included and stop.
    #[arg(long)]
    dry_run: bool,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "table")]
    output: Format,
    #[command(flatten)]
    registry: RegistryFlags,
    #[command(flatten)]
    gate: crate::cmd::scan::GateFlags,
    #[command(flatten)]
    charts: crate::cmd::chart::ChartCacheFlags,
    #[command(flatten)]
    post: crate::cmd::chart::PostRenderFlags,
}

/// Run `berth release ...`.
pub fn run_release(a: ReleaseArgs) -> anyhow::Result<u8> {
    match a.cmd {
        ReleaseCmd::Build(b) => release_build(b),
    }
}

/// Warnings on stderr, image pulls and pushes as bars.
impl berth_ops::Sink for Bars {
    fn event(&self, e: berth_ops::Event) {
        use berth_ops::Event as E;
        match e {
            E::Warning { message } => eprintln!("warning: {message}"),
            E::ImageStarted { image, bytes } => self.image_start(&image, bytes),
            E::BytesPushed { image, bytes } => self.bytes(&image, bytes),
            E::ImageDone { image } => self.image_done(&image),
            _ => {}
        }
    }
}

fn release_build(b: ReleaseBuild) -> anyhow::Result<u8> {
    let input = berth_ops::release::BuildInput {
        dir: b.dir.clone(),
        version: b.version.clone(),
        out: b.out.clone(),
        manifests: b.manifests.clone(),
        images: b.image.clone(),
        platforms: b.platform.clone(),
        registry_config: ClientConfig::default(),
        chart_cache: b.charts.chart_cache.clone(),
        offline: b.charts.offline,
        post_renderer: b.post.get(),
        mover_executable: if b.no_mover_image {
            None
        } else {
            Some(std::env::current_exe().map_err(|e| {
                anyhow::anyhow!(
                    "cannot find this executable for the mover image ({e}); pass --no-mover-image"
                )
            })?)
        },
    };
    if b.dry_run {
        // Remote charts into the cache first (unless --offline), so the plan renders them.
        let fetch = b.charts.fetch(&b.registry)?;
        crate::cmd::deploy::runtime()?.block_on(berth_ops::charts::resolve_app(&b.dir, &fetch))?;
        let plan = berth_ops::release::plan(&input, &|e| {
            if let berth_ops::Event::Warning { message } = e {
                eprintln!("warning: {message}");
            }
        })?;
        if b.output == Format::Table {
            println!(
                "release {} {} would include {} image(s):",
                plan.app,
                plan.version,
                plan.images.len()
            );
            for i in &plan.images {
                println!(
                    "  {}{}",
                    i.reference,
                    if i.used_by.is_empty() {
                        "  (images:)".to_string()
                    } else {
                        format!("  ({})", i.used_by.join(", "))
                    }
                );
            }
        } else {
            let refs: Vec<&str> = plan.images.iter().map(|i| i.reference.as_str()).collect();
            let doc = json!({"app": plan.app, "version": plan.version, "images": refs});
            crate::output::print_structured(&doc, b.output)?;
        }
        return Ok(crate::exit::OK);
    }
    let input = berth_ops::release::BuildInput {
        registry_config: b.registry.config()?,
        ..input
    };
    let bars = Bars::new(b.quiet || b.output != Format::Table);
    // Gated: built aside, kept as OUT only when the scan policy passes.
    let wanted_out = input.out.clone();
    let input = if b.gate.gate {
        let staging = match &wanted_out {
            Some(o) => o.with_extension("gating"),
            None => PathBuf::from(format!(".berth-release-{}.gating", std::process::id())),
        };
        berth_ops::release::BuildInput {
            out: Some(staging),
            ..input
        }
    } else {
        input
    };
    let built = runtime()?.block_on(berth_ops::release::build(&input, &bars))?;
    bars.total.finish_and_clear();
    let (meta, stats, mut out) = (built.meta, built.stats, built.out);
    if b.gate.gate {
        let keep = wanted_out
            .unwrap_or_else(|| PathBuf::from(format!("{}-{}.release", meta.app, meta.version)));
        if !crate::cmd::scan::release_gate_keep(&out, &keep, &b.dir, &b.gate)? {
            return Ok(crate::exit::FAILURE);
        }
        out = keep;
    }
    if b.output == Format::Table {
        println!(
            "release {} {} written to {}",
            meta.app,
            meta.version,
            out.display()
        );
        for i in &meta.images {
            println!("  {}  {}", i.digest, i.source);
        }
        println!(
            "{} blob(s) pulled, {}",
            stats.blobs_transferred,
            human(stats.bytes_transferred)
        );
    } else {
        crate::output::print_structured(&serde_json::to_value(&meta)?, b.output)?;
    }
    Ok(crate::exit::OK)
}

// ---------------------------------------------------------------- bundle

/// Air-gap bundles: one signed file with the whole release, or only what changed since an older one.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
berth bundle create --release hello-1.0.0.release --key vendor.key \\\n    \
--out hello-1.0.0.bundle\n  \
berth bundle verify hello-1.0.0.bundle --pubkey vendor.pub")]
pub struct BundleArgs {
    #[command(subcommand)]
    cmd: BundleCmd,
}

#[derive(clap::Subcommand)]
enum BundleCmd {
    /// Write a release as one signed bundle file (a delta with --since).
    #[command(after_help = "Examples:\n  \
berth bundle create --release hello-1.0.0.release --key vendor.key \\\n    \
--out hello-1.0.0.bundle\n  \
berth bundle create --release hello-1.1.0.release --key vendor.key \\\n    \
--since hello-1.0.0.bundle --out hello-1.1.0-delta.bundle   # what changed\n  \
berth bundle create --release hello-1.0.0.release --key vendor.key \\\n    \
--vulndb vuln.db --out hello-1.0.0.bundle   # so the site can scan offline")]
    Create(BundleCreate),
    /// Check a bundle's signature and every file's digest (and optionally extract it).
    #[command(
        after_help = "Example:\n  berth bundle verify hello-1.0.0.bundle --pubkey vendor.pub --app hello"
    )]
    Verify(BundleVerify),
    /// List a bundle's images, sizes and the space shared layers save.
    #[command(
        after_help = "Example:\n  berth bundle inspect hello-1.0.0.bundle --pubkey vendor.pub"
    )]
    Inspect(BundleInspect),
    /// Push every image of a bundle (or release directory) into a registry, keeping digests.
    #[command(after_help = "Examples:\n  \
BERTH_REGISTRY_PASSWORD=... berth bundle push hello-1.0.0.bundle \\\n    \
--pubkey vendor.pub --registry registry.corp:5000/vendor --username admin \\\n    \
--ca-file corp-ca.pem\n  \
berth bundle push hello-1.0.0.bundle --pubkey vendor.pub \\\n    \
--registry 127.0.0.1:5000/apps --insecure --dry-run\n\n\
Re-running after an interruption pushes only what is missing.")]
    Push(BundlePush),
}

#[derive(clap::Args)]
struct BundleCreate {
    /// The release directory (from `berth release build`).
    #[arg(long)]
    release: PathBuf,
    /// The vendor's private key (from `berth keys generate`).
    #[arg(long)]
    key: PathBuf,
    /// An older release directory or bundle: write a delta with only what it lacks.
    #[arg(long, value_name = "PATH")]
    since: Option<PathBuf>,
    /// Carry this vulnerability database (`berth vulndb build|pull`) so the site can scan
    /// offline; `bundle verify --extract DIR` writes it to DIR/vuln.db.
    #[arg(long, value_name = "FILE")]
    vulndb: Option<PathBuf>,
    /// The bundle file to write.
    #[arg(long)]
    out: PathBuf,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "table")]
    output: Format,
}

#[derive(clap::Args)]
struct BundleVerify {
    /// The bundle file.
    file: PathBuf,
    /// The vendor's public key.
    #[arg(long)]
    pubkey: PathBuf,
    /// Refuse a bundle of another app.
    #[arg(long)]
    app: Option<String>,
    /// Also extract the release into this new directory.
    #[arg(long, value_name = "DIR")]
    extract: Option<PathBuf>,
    /// For a delta bundle: the base release directory or bundle (needed with --extract).
    #[arg(long, value_name = "PATH")]
    base: Option<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "table")]
    output: Format,
}

#[derive(clap::Args)]
struct BundleInspect {
    /// The bundle file.
    file: PathBuf,
    /// Check the signature with this public key too.
    #[arg(long)]
    pubkey: Option<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "table")]
    output: Format,
}

#[derive(clap::Args)]
struct BundlePush {
    /// The bundle file, or a release directory.
    file: PathBuf,
    /// Target: host[:port][/prefix]. Images go to <registry>/<prefix>/<source repository>.
    #[arg(long)]
    registry: String,
    /// The vendor's public key (required for a bundle file).
    #[arg(long)]
    pubkey: Option<PathBuf>,
    /// For a delta bundle: the base release directory or bundle.
    #[arg(long, value_name = "PATH")]
    base: Option<PathBuf>,
    /// Refuse a bundle of another app.
    #[arg(long)]
    app: Option<String>,
    /// Print where each image would go and stop.
    #[arg(long)]
    dry_run: bool,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "table")]
    output: Format,
    #[command(flatten)]
    flags: RegistryFlags,
}

/// Run `berth bundle ...`.
pub fn run_bundle(a: BundleArgs) -> anyhow::Result<u8> {
    match a.cmd {
        BundleCmd::Create(c) => bundle_create(c),
        BundleCmd::Verify(v) => bundle_verify(v),
        BundleCmd::Inspect(i) => bundle_inspect(i),
        BundleCmd::Push(p) => bundle_push(p),
    }
}

fn bundle_create(c: BundleCreate) -> anyhow::Result<u8> {
    let rep = berth_ops::release::create_bundle(
        &c.release,
        &c.key,
        c.since.as_deref(),
        c.vulndb.as_deref(),
        &c.out,
    )?;
    if c.output == Format::Table {
        println!(
            "{} bundle {} {} written to {} ({}, {} file(s){})",
            rep.manifest.kind,
            rep.manifest.app,
            rep.manifest.version,
            c.out.display(),
            human(rep.bytes),
            rep.manifest.files.len(),
            if rep.blobs_omitted > 0 {
                format!(", {} blob(s) left to the base", rep.blobs_omitted)
            } else {
                String::new()
            }
        );
        if c.vulndb.is_some() {
            println!("  carries the vulnerability database (vuln.db): the site can scan offline");
        }
    } else {
        let doc = json!({"file": c.out, "bytes": rep.bytes, "kind": rep.manifest.kind, "app": rep.manifest.app,
            "version": rep.manifest.version, "files": rep.manifest.files.len(), "blobsOmitted": rep.blobs_omitted});
        crate::output::print_structured(&doc, c.output)?;
    }
    Ok(crate::exit::OK)
}

use berth_ops::airgap::open_base;

fn bundle_verify(v: BundleVerify) -> anyhow::Result<u8> {
    let key = keys::read_verifying_key(&v.pubkey)?;
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    let base = match &v.base {
        Some(b) => Some(open_base(b, &key, scratch.path())?),
        None => None,
    };
    let ok = bundle::verify(
        &v.file,
        &key,
        &Expect { app: v.app.clone() },
        v.extract.as_deref(),
        base.as_ref(),
    )?;
    if v.output == Format::Table {
        println!(
            "OK: {} bundle {} {} signed by key {}, {} file(s) match their digests{}",
            ok.manifest.kind,
            ok.manifest.app,
            ok.manifest.version,
            ok.key_id,
            ok.manifest.files.len(),
            v.extract
                .as_ref()
                .map(|d| format!("; release extracted to {}", d.display()))
                .unwrap_or_default()
        );
    } else {
        let doc = json!({"ok": true, "app": ok.manifest.app, "version": ok.manifest.version, "kind": ok.manifest.kind, "keyId": ok.key_id, "files": ok.manifest.files.len()});
        crate::output::print_structured(&doc, v.output)?;
    }
    Ok(crate::exit::OK)
}

fn bundle_inspect(i: BundleInspect) -> anyhow::Result<u8> {
    let key = match &i.pubkey {
        Some(p) => Some(keys::read_verifying_key(p)?),
        None => None,
    };
    let ins = bundle::inspect(&i.file, key.as_ref())?;
    if i.output != Format::Table {
        crate::output::print_structured(&serde_json::to_value(&ins)?, i.output)?;
        return Ok(crate::exit::OK);
    }
    println!("app:        {} {}", ins.app, ins.version);
    match &ins.base {
        Some(b) => println!("kind:       delta on top of {} {}", b.app, b.version),
        None => println!("kind:       {}", ins.kind),
    }
    println!(
        "signature:  {}",
        match &ins.signed_by {
            Some(k) => format!("valid, key {k}"),
            None => "not checked (pass --pubkey)".into(),
        }
    );
    if let Some(n) = ins.vulndb_bytes {
        println!(
            "vulndb:     vuln.db, {} (bundle verify --extract DIR writes DIR/vuln.db)",
            human(n)
        );
    }
    let w = ins
        .images
        .iter()
        .map(|i| i.source.len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!("{:w$}  {:19}  SIZE", "IMAGE", "DIGEST");
    for img in &ins.images {
        println!(
            "{:w$}  {:19}  {}",
            img.source,
            &img.digest.as_str()[..19],
            human(img.size)
        );
    }
    let saved = ins.sum_of_images.saturating_sub(ins.unique_bytes);
    println!(
        "images total {} as separate archives; {} distinct in this release (shared layers save {}); bundle file {}",
        human(ins.sum_of_images),
        human(ins.unique_bytes),
        human(saved),
        human(ins.file_bytes)
    );
    Ok(crate::exit::OK)
}

fn bundle_push(p: BundlePush) -> anyhow::Result<u8> {
    let plan = berth_ops::airgap::plan_push(&berth_ops::airgap::PushInput {
        file: p.file.clone(),
        registry: p.registry.clone(),
        pubkey: p.pubkey.clone(),
        base: p.base.clone(),
        app: p.app.clone(),
    })?;
    let (rel, items) = (&plan.release, &plan.items);
    if p.dry_run {
        if p.output == Format::Table {
            for (it, (src, _)) in items.iter().zip(&rel.images) {
                println!("{src} -> {}@{}", it.target, it.descriptor.digest);
            }
        } else {
            let doc: Vec<_> = items
                .iter()
                .zip(&rel.images)
                .map(|(it, (src, _))| json!({"source": src.to_string(), "target": it.target.to_string(), "digest": it.descriptor.digest}))
                .collect();
            crate::output::print_structured(&serde_json::Value::Array(doc), p.output)?;
        }
        return Ok(crate::exit::OK);
    }
    let config = p.flags.config()?;
    let bars = Bars::new(p.quiet || p.output != Format::Table);
    let stats = runtime()?.block_on(berth_ops::airgap::push(&plan, config, &bars))?;
    bars.total.finish_and_clear();
    if p.output == Format::Table {
        let what = format!("{} {}", rel.meta.app, rel.meta.version);
        println!("{}", push_summary(items.len(), &what, &p.registry, &stats));
    } else {
        let doc = json!({"images": items.iter().map(|i| format!("{}@{}", i.target, i.descriptor.digest)).collect::<Vec<_>>(),
            "blobsUploaded": stats.blobs_transferred, "bytesUploaded": stats.bytes_transferred,
            "blobsMounted": stats.blobs_mounted, "blobsPresent": stats.blobs_skipped, "imagesUpToDate": stats.images_skipped});
        crate::output::print_structured(&doc, p.output)?;
    }
    Ok(crate::exit::OK)
}

// ---------------------------------------------------------------- keys

/// Vendor signing keys.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  berth keys generate --out vendor   # writes vendor.key and vendor.pub"
)]
pub struct KeysArgs {
    #[command(subcommand)]
    cmd: KeysCmd,
}

#[derive(clap::Subcommand)]
enum KeysCmd {
    /// Create an ed25519 key pair: PREFIX.key (private, keep it secret) and PREFIX.pub (ship it to customers).
    #[command(
        after_help = "Example:\n  berth keys generate --out vendor   # writes vendor.key and vendor.pub"
    )]
    Generate {
        /// Path prefix of the two files.
        #[arg(long, default_value = "berth-signing")]
        out: PathBuf,
    },
}

/// Run `berth keys ...`.
pub fn run_keys(a: KeysArgs) -> anyhow::Result<u8> {
    match a.cmd {
        KeysCmd::Generate { out } => {
            let (k, p) = keys::generate(&out)?;
            let id = keys::key_id(&keys::read_verifying_key(&p)?);
            println!(
                "private key {} (keep secret), public key {} (key id {id})",
                k.display(),
                p.display()
            );
            Ok(crate::exit::OK)
        }
    }
}

// ---------------------------------------------------------------- registry

/// A small OCI registry.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  berth registry serve --root ./registry --addr 127.0.0.1:5000   # until Ctrl-C"
)]
pub struct RegistryArgs {
    #[command(subcommand)]
    cmd: RegistryCmd,
}

#[derive(clap::Subcommand)]
enum RegistryCmd {
    /// Serve an OCI distribution registry (pull and push) from a directory until interrupted.
    ///
    /// Off loopback it needs users (--htpasswd) and TLS; --permissions gives each user
    /// `pull` or `push`, optionally per repository prefix (docs/formats/registry-server.md).
    #[command(after_help = "Examples:\n  \
berth registry serve --root /var/lib/berth-registry --addr 127.0.0.1:5000\n  \
berth registry serve --root ./reg --addr 0.0.0.0:5443 \\\n    \
--tls-cert tls.crt --tls-key tls.key \\\n    --htpasswd htpasswd --permissions roles.txt")]
    Serve(RegistryServe),
}

#[derive(clap::Args)]
struct RegistryServe {
    /// Storage directory.
    #[arg(long)]
    root: PathBuf,
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:5000")]
    addr: std::net::SocketAddr,
    /// TLS certificate (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); needs --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// htpasswd file (bcrypt, `htpasswd -B`): require basic auth.
    #[arg(long)]
    htpasswd: Option<PathBuf>,
    /// Roles per user: lines `USER pull|push [PREFIX...]` (without it every user may push).
    #[arg(long, requires = "htpasswd")]
    permissions: Option<PathBuf>,
    /// Serve a non-loopback address without authentication (anyone may push); warns on every start.
    #[arg(long)]
    insecure_open: bool,
    /// Accept passwords over plain HTTP on a non-loopback address.
    #[arg(long)]
    insecure: bool,
    /// Largest blob accepted, in bytes.
    #[arg(long, default_value_t = berth_oci::server::Limits::default().max_blob_bytes)]
    max_blob_size: u64,
    /// Seconds after which an untouched upload session is deleted.
    #[arg(long, default_value_t = berth_oci::server::Limits::default().upload_ttl.as_secs())]
    upload_ttl: u64,
}

/// Run `berth registry ...`.
pub fn run_registry(a: RegistryArgs) -> anyhow::Result<u8> {
    let RegistryCmd::Serve(s) = a.cmd;
    let rt = runtime()?;
    rt.block_on(async {
        let mut cfg = berth_oci::server::ServerConfig::new(s.root.clone(), s.addr);
        cfg.tls = s.tls_cert.clone().zip(s.tls_key.clone());
        cfg.htpasswd = s.htpasswd.clone();
        cfg.permissions = s.permissions.clone();
        cfg.insecure_open = s.insecure_open;
        cfg.insecure = s.insecure;
        cfg.limits.max_blob_bytes = s.max_blob_size;
        cfg.limits.upload_ttl = std::time::Duration::from_secs(s.upload_ttl.max(1));
        let srv = berth_oci::server::start(cfg).await?;
        for w in &srv.warnings {
            eprintln!("warning: {w}");
        }
        eprintln!(
            "serving an OCI registry from {} on {}://{} (Ctrl-C stops)",
            s.root.display(),
            if s.tls_cert.is_some() {
                "https"
            } else {
                "http"
            },
            srv.addr
        );
        // Print the bound address on stdout so scripts can use port 0.
        println!("{}", srv.addr);
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        srv.shutdown().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(crate::exit::OK)
}
