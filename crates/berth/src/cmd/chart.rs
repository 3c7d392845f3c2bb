//! `berth chart pull` and `berth chart dependency update|build`, and the flags every command
//! that renders charts shares for remote dependencies and post-renderers. The work is
//! berth-ops' `charts` module.

use crate::cmd::oci::RegistryFlags;
use anyhow::Result;
use std::path::PathBuf;

/// Where remote chart dependencies come from (docs/formats/chart-cache.md).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ChartCacheFlags {
    /// Chart cache directory (default: $XDG_CACHE_HOME/berth/charts).
    #[arg(long, value_name = "DIR")]
    pub chart_cache: Option<PathBuf>,
    /// Take remote chart dependencies only from the chart cache (air-gapped builds).
    #[arg(long)]
    pub offline: bool,
}

impl ChartCacheFlags {
    pub(crate) fn fetch(&self, registry: &RegistryFlags) -> Result<berth_ops::charts::ChartFetch> {
        Ok(berth_ops::charts::ChartFetch::new(
            self.chart_cache.clone(),
            self.offline,
            registry.config()?,
        ))
    }
}

/// Helm's post-renderer flags.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PostRenderFlags {
    /// A program that rewrites each chart's rendered manifests: they go to its stdin, its
    /// stdout replaces them (after berth.yaml's own chart.postRenderer).
    #[arg(long, value_name = "PROGRAM")]
    pub post_renderer: Option<PathBuf>,
    /// An argument for the post-renderer (repeat for several).
    #[arg(
        long = "post-renderer-args",
        value_name = "ARG",
        requires = "post_renderer"
    )]
    pub post_renderer_args: Vec<String>,
}

impl PostRenderFlags {
    pub(crate) fn get(&self) -> Option<(PathBuf, Vec<String>)> {
        self.post_renderer
            .clone()
            .map(|p| (p, self.post_renderer_args.clone()))
    }
}

/// Helm charts from `oci://` and `https://` repositories.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  \
berth chart pull oci://registry.example.com/charts/redis --version ^1.2.0\n  \
berth chart dependency update mychart")]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Download a chart archive (and keep it in the chart cache).
    #[command(after_help = "Examples:\n  \
berth chart pull oci://registry.example.com/charts/redis --version ^1.2.0\n  \
berth chart pull https://charts.example.com/redis -d charts/\n  \
berth chart pull oci://127.0.0.1:5000/charts/redis --insecure")]
    Pull(Pull),
    /// Fetch a chart's remote dependencies into charts/ and write Chart.lock.
    #[command(after_help = "Example:\n  berth chart dependency update mychart\n  \
berth chart dependency build mychart --offline")]
    Dependency(Dependency),
}

#[derive(clap::Args)]
struct Pull {
    /// oci://REGISTRY/PATH/NAME, or https://REPOSITORY/NAME (REPOSITORY holds index.yaml).
    reference: String,
    /// Version or constraint (^1.2.0, ~1.2, >=1 <2); default: the highest release.
    #[arg(long)]
    version: Option<String>,
    /// Directory to write NAME-VERSION.tgz into.
    #[arg(long, short = 'd', default_value = ".")]
    destination: PathBuf,
    #[command(flatten)]
    cache: ChartCacheFlags,
    #[command(flatten)]
    registry: RegistryFlags,
}

#[derive(clap::Args)]
struct Dependency {
    #[command(subcommand)]
    cmd: DepCmd,
}

#[derive(clap::Subcommand)]
enum DepCmd {
    /// Resolve every remote dependency again (newest matching versions), package
    /// file:// dependencies from their directories, write charts/*.tgz and Chart.lock.
    #[command(after_help = "Example:\n  berth chart dependency update examples/hello/chart")]
    Update(DepArgs),
    /// Write charts/*.tgz at the versions Chart.lock pins (as update without a lock).
    #[command(after_help = "Example:\n  berth chart dependency build mychart --offline")]
    Build(DepArgs),
}

#[derive(clap::Args)]
struct DepArgs {
    /// The chart directory (holding Chart.yaml).
    #[arg(default_value = ".")]
    chart: PathBuf,
    #[command(flatten)]
    cache: ChartCacheFlags,
    #[command(flatten)]
    registry: RegistryFlags,
}

/// Run `berth chart ...`.
pub fn run(a: Args) -> Result<u8> {
    let rt = crate::cmd::deploy::runtime()?;
    match a.cmd {
        Cmd::Pull(p) => {
            let fetch = p.cache.fetch(&p.registry)?;
            let (hit, out) = rt.block_on(berth_ops::charts::pull(
                &p.reference,
                p.version.as_deref(),
                &p.destination,
                &fetch,
            ))?;
            println!(
                "pulled {} {} ({}) to {}",
                hit.name,
                hit.version,
                hit.digest,
                out.display()
            );
        }
        Cmd::Dependency(d) => {
            let (args, honour_lock) = match d.cmd {
                DepCmd::Update(a) => (a, false),
                DepCmd::Build(a) => (a, true),
            };
            let fetch = args.cache.fetch(&args.registry)?;
            let lock = rt.block_on(berth_ops::charts::dependency_update(
                &args.chart,
                honour_lock,
                &fetch,
            ))?;
            for d in &lock.dependencies {
                println!("{} {} from {}", d.name, d.version, d.repository);
            }
            println!("wrote {}", args.chart.join("Chart.lock").display());
        }
    }
    Ok(crate::exit::OK)
}
