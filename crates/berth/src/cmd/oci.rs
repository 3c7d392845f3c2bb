//! `berth release build`, `berth bundle create|verify|inspect|push`, `berth keys generate`,
//! `berth registry serve`: wiring of the `berth-oci` library.

use crate::output::Format;
use anyhow::{Context, bail};
use berth_oci::bundle::{self, Base, Expect};
use berth_oci::model::Platform;
use berth_oci::release::{self, Release, ReleaseInput};
use berth_oci::relocate::Target;
use berth_oci::transfer::{self, Progress};
use berth_oci::{Client, ClientConfig, Layout, keys};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
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

/// What a push did, counted so the numbers add up: every image is either pushed or already
/// up to date, every blob of a pushed image uploaded, mounted or already present.
pub fn push_summary(images: usize, what: &str, registry: &str, stats: &transfer::Stats) -> String {
    let skipped = usize::try_from(stats.images_skipped)
        .unwrap_or(images)
        .min(images);
    let pushed = images - skipped;
    let mut s =
        format!("{what} to {registry}: {pushed} image(s) pushed, {skipped} already up to date");
    if pushed > 0 {
        s.push_str(&format!(
            "; {} blob(s) uploaded ({}), {} mounted, {} already present",
            stats.blobs_transferred,
            human(stats.bytes_transferred),
            stats.blobs_mounted,
            stats.blobs_skipped
        ));
    }
    s
}

fn human(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

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
}

/// Run `berth release ...`.
pub fn run_release(a: ReleaseArgs) -> anyhow::Result<u8> {
    match a.cmd {
        ReleaseCmd::Build(b) => release_build(b),
    }
}

fn read_objects(path: &Path, out: &mut Vec<serde_json::Value>) -> anyhow::Result<()> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut v: Vec<PathBuf> = walkdir::WalkDir::new(path)
            .follow_links(false)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
            })
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    for f in files {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
            .with_context(|| format!("{}: not valid YAML Kubernetes objects", f.display()))?;
        out.extend(docs.into_iter().filter(|d| d.is_object()));
    }
    Ok(())
}

/// What the release must hold: the manifest, and every path it references (for a chart
/// directory, its Chart.yaml too).
fn app_references(loaded: &berth_spec::LoadedApp) -> Vec<release::AppReference> {
    let manifest = berth_spec::lint::MANIFEST_NAMES
        .iter()
        .find(|n| loaded.dir.join(n).is_file())
        .unwrap_or(&berth_spec::lint::MANIFEST_NAMES[0]);
    let mut refs = vec![release::AppReference {
        field: "the manifest".into(),
        path: (*manifest).to_string(),
    }];
    for (field, path) in loaded.app.local_paths() {
        let path = path
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        if field.ends_with(".chart.path") && loaded.path(&path).is_dir() {
            refs.push(release::AppReference {
                field: field.clone(),
                path: format!("{path}/Chart.yaml"),
            });
        }
        refs.push(release::AppReference { field, path });
    }
    refs
}

/// Before signing: the release's berth.yaml, and every path it references, are in the release.
fn check_release_complete(dir: &Path) -> anyhow::Result<()> {
    let rel = Release::open(dir)?;
    let paths: Vec<&str> = rel.files.iter().map(|(p, _)| p.as_str()).collect();
    let Some(manifest) = berth_spec::lint::MANIFEST_NAMES
        .iter()
        .find(|n| paths.contains(n))
    else {
        anyhow::bail!(
            "release {} holds no berth.yaml; rebuild it with `berth release build`",
            dir.display()
        );
    };
    let bytes = rel.read_file(manifest)?.unwrap_or_default();
    let app: berth_spec::Application = serde_saphyr::from_str(&String::from_utf8_lossy(&bytes))
        .with_context(|| format!("{manifest} in release {}", dir.display()))?;
    let mut refs = Vec::new();
    for (field, path) in app.local_paths() {
        let path = path
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        let archive = path.ends_with(".tgz") || path.ends_with(".tar.gz");
        if field.ends_with(".chart.path") && !archive {
            refs.push(release::AppReference {
                field: field.clone(),
                path: format!("{path}/Chart.yaml"),
            });
        }
        refs.push(release::AppReference { field, path });
    }
    release::check_references(&paths, &refs)
        .with_context(|| format!("release {} is incomplete; not signing it", dir.display()))?;
    Ok(())
}

/// Config inputs that together take every `when` branch an image may hide behind: the
/// defaults, each option of each select item, and each bool item on and off.
fn config_variants(
    app: &berth_spec::Application,
) -> Vec<std::collections::BTreeMap<String, serde_json::Value>> {
    let mut out = vec![std::collections::BTreeMap::new()];
    for (_, item) in app.config_items() {
        match item.item_type {
            berth_spec::ItemType::Select => {
                for o in &item.options {
                    out.push(
                        [(
                            item.name.clone(),
                            serde_json::Value::String(o.value.clone()),
                        )]
                        .into(),
                    );
                }
            }
            berth_spec::ItemType::Bool => {
                for v in [true, false] {
                    out.push([(item.name.clone(), serde_json::Value::Bool(v))].into());
                }
            }
            _ => {}
        }
    }
    out
}

/// Render the app once per config variant and return every object (duplicates are fine:
/// images are de-duplicated later). Required items without defaults get placeholders.
fn render_all_branches(loaded: &berth_spec::LoadedApp) -> (Vec<serde_json::Value>, Vec<String>) {
    let mut objects = Vec::new();
    let mut warnings = Vec::new();
    let placeholder = |name: &str| -> serde_json::Value {
        let item = loaded
            .app
            .config_items()
            .map(|(_, i)| i)
            .find(|i| i.name == name);
        match item.map(|i| &i.item_type) {
            Some(berth_spec::ItemType::Number) => serde_json::json!(1),
            Some(berth_spec::ItemType::Bool) => serde_json::json!(false),
            _ => serde_json::json!("placeholder.example"),
        }
    };
    let mut rendered_any = false;
    for mut input in config_variants(&loaded.app) {
        let mut resolved = None;
        for _ in 0..4 {
            match berth_spec::config::resolve(
                &loaded.app,
                &input,
                None,
                &mut berth_spec::config::generate_value,
            ) {
                Ok(r) => {
                    resolved = Some(r);
                    break;
                }
                Err(problems) => {
                    let mut changed = false;
                    for p in problems {
                        if !input.contains_key(&p.item) {
                            input.insert(p.item.clone(), placeholder(&p.item));
                            changed = true;
                        }
                    }
                    if !changed {
                        break;
                    }
                }
            }
        }
        let Some(cfg) = resolved else { continue };
        let opts = berth_render::AppRenderOptions {
            namespace: "default".into(),
            ..Default::default()
        };
        match berth_render::render_app(loaded, &cfg, &opts) {
            Ok(comps) => {
                rendered_any = true;
                objects.extend(
                    comps
                        .into_iter()
                        .flat_map(|c| c.objects.into_iter().map(|o| o.object)),
                );
            }
            Err(e) => warnings.push(format!("rendering with config {input:?} failed: {e}")),
        }
    }
    if !rendered_any {
        warnings.push(
            "the app could not be rendered with any config; pass rendered objects with --manifests"
                .into(),
        );
    }
    warnings.sort();
    warnings.dedup();
    (objects, warnings)
}

fn release_build(b: ReleaseBuild) -> anyhow::Result<u8> {
    let loaded = berth_spec::load(&b.dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let app = &loaded.app;
    let version = b
        .version
        .clone()
        .or_else(|| app.metadata.version.clone())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no version: pass --version X.Y.Z or set metadata.version in berth.yaml"
            )
        })?;
    let mut objects = Vec::new();
    for m in &b.manifests {
        read_objects(m, &mut objects)?;
    }
    if b.manifests.is_empty() {
        let (objs, warnings) = render_all_branches(&loaded);
        for w in warnings {
            eprintln!("warning: {w}");
        }
        objects.extend(objs);
    }
    if let Some(ch) = &app.spec.checks {
        for f in ch
            .preflights
            .iter()
            .chain(&ch.support_bundles)
            .chain(&ch.host_preflights)
        {
            read_objects(&loaded.path(f), &mut objects)?;
        }
    }
    let mut extras = app.spec.images.clone();
    extras.extend(b.image.iter().cloned());
    let platforms = b
        .platform
        .iter()
        .map(|p| Platform::parse(p))
        .collect::<Result<Vec<_>, _>>()?;
    let (refs, uses) = release::plan_images(&objects, &extras)?;
    if b.dry_run {
        if b.output == Format::Table {
            println!(
                "release {} {} would include {} image(s):",
                app.metadata.name,
                version,
                refs.len()
            );
            for r in &refs {
                let mut by: Vec<&str> = uses
                    .iter()
                    .filter(|u| berth_oci::Reference::parse(&u.image).ok().as_ref() == Some(r))
                    .map(|u| u.object.as_str())
                    .collect();
                by.sort();
                by.dedup();
                println!(
                    "  {r}{}",
                    if by.is_empty() {
                        "  (images:)".to_string()
                    } else {
                        format!("  ({})", by.join(", "))
                    }
                );
            }
        } else {
            let doc = json!({"app": app.metadata.name, "version": version, "images": refs.iter().map(|r| r.to_string()).collect::<Vec<_>>()});
            crate::output::print_structured(&doc, b.output)?;
        }
        return Ok(crate::exit::OK);
    }
    let out = b
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}-{version}.release", app.metadata.name)));
    let input = ReleaseInput {
        app: app.metadata.name.clone(),
        version: version.clone(),
        files: release::collect_app_files(&loaded.dir)?,
        references: app_references(&loaded),
        objects,
        extra_images: extras,
        platforms,
    };
    let client = Client::new(b.registry.config()?)?;
    let bars = Bars::new(b.quiet || b.output != Format::Table);
    let rt = runtime()?;
    // Gated: built aside, kept as OUT only when the scan policy passes.
    let staging = if b.gate.gate {
        out.with_extension("gating")
    } else {
        out.clone()
    };
    let (meta, stats) = rt.block_on(release::build(&client, &input, &staging, &bars))?;
    bars.total.finish_and_clear();
    if b.gate.gate && !crate::cmd::scan::release_gate_keep(&staging, &out, &loaded.dir, &b.gate)? {
        return Ok(crate::exit::FAILURE);
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
--since hello-1.0.0.bundle --out hello-1.1.0-delta.bundle   # what changed")]
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
    let key = keys::read_signing_key(&c.key)?;
    check_release_complete(&c.release)?;
    let since = c.since.as_deref().map(Base::from_path);
    let rep = bundle::create(&c.release, &c.out, &key, since.as_ref())?;
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
    } else {
        let doc = json!({"file": c.out, "bytes": rep.bytes, "kind": rep.manifest.kind, "app": rep.manifest.app,
            "version": rep.manifest.version, "files": rep.manifest.files.len(), "blobsOmitted": rep.blobs_omitted});
        crate::output::print_structured(&doc, c.output)?;
    }
    Ok(crate::exit::OK)
}

/// Open a base (release dir as is; bundle extracted into `scratch` after verification).
fn open_base(base: &Path, key: &keys::VerifyingKey, scratch: &Path) -> anyhow::Result<Layout> {
    if base.is_dir() {
        return Ok(Layout::open(base)?);
    }
    let dest = scratch.join("base");
    let (m, _) = bundle::read_head(base, Some(key))?;
    if m.kind == "delta" {
        bail!(
            "{}: the base is itself a delta bundle; give the full release directory or bundle it applies to",
            base.display()
        );
    }
    bundle::verify(base, key, &Expect::default(), Some(&dest), None)?;
    Ok(Layout::open(&dest)?)
}

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
    let target = Target::parse(&p.registry)?;
    let scratch_parent = std::env::temp_dir();
    let scratch = tempfile::Builder::new()
        .prefix("berth-push-")
        .tempdir_in(&scratch_parent)
        .context("creating a scratch directory")?;
    let release_dir = if p.file.is_dir() {
        p.file.clone()
    } else {
        let pk = p.pubkey.as_ref().ok_or_else(|| {
            anyhow::anyhow!(
                "--pubkey is required to push a bundle file (its signature is checked first)"
            )
        })?;
        let key = keys::read_verifying_key(pk)?;
        let base = match &p.base {
            Some(b) => Some(open_base(b, &key, scratch.path())?),
            None => None,
        };
        let dest = scratch.path().join("release");
        bundle::verify(
            &p.file,
            &key,
            &Expect { app: p.app.clone() },
            Some(&dest),
            base.as_ref(),
        )?;
        dest
    };
    let rel = Release::open(&release_dir)?;
    let items = rel.push_items(&target);
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
    let client = Client::new(p.flags.config()?)?;
    let bars = Bars::new(p.quiet || p.output != Format::Table);
    let rt = runtime()?;
    let stats = rt.block_on(transfer::push_images(&client, &rel.layout, &items, &bars))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_summary_counts_add_up() {
        // Every image already up to date: no "0 blob(s) uploaded, 0 already present" for 4
        // images, which read as if nothing happened to them.
        let stats = transfer::Stats {
            images_skipped: 4,
            ..Default::default()
        };
        assert_eq!(
            push_summary(4, "hello 1.0.0", "r:5000/hello", &stats),
            "hello 1.0.0 to r:5000/hello: 0 image(s) pushed, 4 already up to date"
        );
        let stats = transfer::Stats {
            blobs_transferred: 3,
            bytes_transferred: 2048,
            blobs_skipped: 2,
            blobs_mounted: 1,
            images_skipped: 1,
        };
        assert_eq!(
            push_summary(4, "hello 1.0.0", "r:5000/hello", &stats),
            "hello 1.0.0 to r:5000/hello: 3 image(s) pushed, 1 already up to date; \
             3 blob(s) uploaded (2.0 KiB), 1 mounted, 2 already present"
        );
    }
}
