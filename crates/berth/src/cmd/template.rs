//! `berth template CHART [NAME]`: render a Helm chart locally, as `helm template` does.

use crate::exit::BadInput;
use berth_chart::{Chart, RenderOptions, SetKind};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Render a Helm chart (directory or .tgz) locally and print the objects, as `helm template`.
#[derive(clap::Args)]
#[command(
    after_help = "Output is byte-compatible with `helm template` (Helm v4): objects in \
Helm's install order, then hooks. Values: chart defaults < -f files (in order) < \
--set-json < --set < --set-string < --set-file < --set-literal.\n\n\
Exit codes: 0 rendered, 1 the chart does not render, 2 a file or flag given is missing or \
invalid.\n\n\
Examples (from the repository's root):\n  \
berth template examples/hello/chart --set postgresql.password=s3cret\n  \
berth template examples/hello/chart web -n shop --set replicaCount=3 \\\n    \
--set postgresql.password=s3cret\n  \
berth template examples/hello/chart --set postgresql.password=s3cret \\\n    \
--kube-version 1.29 --show-only templates/deployment.yaml\n  \
berth template examples/hello/chart --set postgresql.password=s3cret \\\n    \
--post-renderer sed --post-renderer-args s/release-name/web/"
)]
pub struct Args {
    /// Chart directory or packaged chart (.tgz).
    chart: PathBuf,
    /// Release name (`.Release.Name`).
    #[arg(default_value = "release-name")]
    name: String,
    /// Values file (YAML); repeat to layer several, later files win.
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    values: Vec<PathBuf>,
    /// Set values: `a.b=1,list[0]=x,arr={a,b}` (typed: true/false/null/integers).
    #[arg(long = "set", value_name = "EXPR")]
    set: Vec<String>,
    /// Set values that stay strings: `tag=0123`.
    #[arg(long = "set-string", value_name = "EXPR")]
    set_string: Vec<String>,
    /// Set values from files: `config=path/to/file`.
    #[arg(long = "set-file", value_name = "EXPR")]
    set_file: Vec<String>,
    /// Set values from JSON: `a={"x":[1,2]},b=3` (one JSON value per key).
    #[arg(long = "set-json", value_name = "EXPR")]
    set_json: Vec<String>,
    /// Set one value to the literal rest of the expression: `a.b=x,y` sets `x,y`.
    #[arg(long = "set-literal", value_name = "EXPR")]
    set_literal: Vec<String>,
    /// `.Release.Namespace`.
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// Kubernetes version for `.Capabilities.KubeVersion` (e.g. 1.30).
    #[arg(long, value_name = "VERSION")]
    kube_version: Option<String>,
    /// Extra API versions for `.Capabilities.APIVersions` (comma-separated or repeated).
    #[arg(
        short = 'a',
        long = "api-versions",
        value_delimiter = ',',
        value_name = "GROUP/VERSION"
    )]
    api_versions: Vec<String>,
    /// Only print the objects from these templates (e.g. templates/service.yaml; globs allowed).
    #[arg(short = 's', long = "show-only", value_name = "PATH")]
    show_only: Vec<String>,
    /// Print the chart's CRDs (crds/) first.
    #[arg(long)]
    include_crds: bool,
    /// Leave out test hooks (`helm.sh/hook: test`).
    #[arg(long)]
    skip_tests: bool,
    /// Render as an upgrade (`.Release.IsUpgrade` true).
    #[arg(long)]
    is_upgrade: bool,
    /// Skip values.schema.json validation.
    #[arg(long)]
    skip_schema_validation: bool,
    /// Pipe the output through this program (stdin in, stdout replaces it), as Helm's
    /// --post-renderer.
    #[arg(long, value_name = "EXECUTABLE")]
    post_renderer: Option<PathBuf>,
    /// An argument for the post-renderer (repeat for several).
    #[arg(
        long = "post-renderer-args",
        value_name = "ARG",
        requires = "post_renderer"
    )]
    post_renderer_args: Vec<String>,
    #[command(flatten)]
    charts: crate::cmd::chart::ChartCacheFlags,
    #[command(flatten)]
    registry: crate::cmd::oci::RegistryFlags,
}

/// Merges values as Helm's CLI does, in its order: `-f` files, `--set-json`, `--set`,
/// `--set-string`, `--set-file`, `--set-literal`.
pub fn user_values(
    files: &[PathBuf],
    set_json: &[String],
    set: &[String],
    set_string: &[String],
    set_file: &[String],
    set_literal: &[String],
) -> anyhow::Result<Map<String, Value>> {
    let mut base = Map::new();
    for f in files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| BadInput(format!("cannot read values file {}: {e}", f.display())))?;
        let vals = berth_chart::parse_values(&text)
            .map_err(|m| BadInput(format!("failed to parse {}: {m}", f.display())))?;
        berth_chart::merge_user_values(&mut base, vals);
    }
    let no_files = |_: &str| -> Result<String, String> { Err("not a file expression".into()) };
    let read = |p: &str| -> Result<String, String> {
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {p}: {e}"))
    };
    for (flag, exprs, kind) in [
        ("--set-json", set_json, SetKind::Json),
        ("--set", set, SetKind::Typed),
        ("--set-string", set_string, SetKind::String),
        ("--set-file", set_file, SetKind::File),
        ("--set-literal", set_literal, SetKind::Literal),
    ] {
        for e in exprs {
            let reader: &dyn Fn(&str) -> Result<String, String> = if kind == SetKind::File {
                &read
            } else {
                &no_files
            };
            berth_chart::parse_set_into(e, &mut base, kind, reader)
                .map_err(|m| BadInput(format!("failed parsing {flag} {e:?}: {m}")))?;
        }
    }
    Ok(base)
}

/// What to say when a directory without Chart.yaml is given: name the charts below it
/// (`berth template APP_DIR` means the app's chart folder).
fn not_a_chart(dir: &Path) -> String {
    let mut charts: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.join("Chart.yaml").is_file())
                .collect()
        })
        .unwrap_or_default();
    charts.sort();
    let what = if dir.join("berth.yaml").is_file() {
        "is a berth app directory (berth.yaml), not a Helm chart"
    } else {
        "has no Chart.yaml, so it is not a Helm chart"
    };
    match charts.as_slice() {
        [] => format!(
            "{} {what}: pass a chart directory (with Chart.yaml) or a packaged .tgz",
            dir.display()
        ),
        found => format!(
            "{} {what}: render its chart with `berth template {}`",
            dir.display(),
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join("` or `berth template ")
        ),
    }
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    // Accept Helm's argument order too: `berth template NAME CHART`.
    let (chart_path, name) = if !args.chart.exists() && Path::new(&args.name).exists() {
        (PathBuf::from(&args.name), args.chart.display().to_string())
    } else {
        (args.chart.clone(), args.name.clone())
    };
    if !chart_path.exists() {
        return Err(BadInput(format!(
            "chart {} not found: pass a chart directory (with Chart.yaml) or a packaged .tgz",
            chart_path.display()
        ))
        .into());
    }
    if chart_path.is_dir() && !chart_path.join("Chart.yaml").exists() {
        return Err(BadInput(not_a_chart(&chart_path)).into());
    }
    let values = user_values(
        &args.values,
        &args.set_json,
        &args.set,
        &args.set_string,
        &args.set_file,
        &args.set_literal,
    )?;
    // Dependencies from oci:// and https:// repositories missing under charts/: into the
    // cache (unless --offline), then from it.
    let mut chart = Chart::load(&chart_path)?;
    let fetch = args.charts.fetch(&args.registry)?;
    crate::cmd::deploy::runtime()?
        .block_on(berth_ops::charts::attach_dependencies(&mut chart, &fetch))?;
    let opts = RenderOptions {
        release_name: name,
        namespace: args.namespace.clone(),
        is_upgrade: args.is_upgrade,
        values,
        kube_version: args.kube_version.clone(),
        api_versions: args.api_versions.clone(),
        skip_schema_validation: args.skip_schema_validation,
        ..RenderOptions::default()
    };
    let mut rendered = berth_chart::render(&chart, &opts)?;
    for w in &rendered.warnings {
        eprintln!("{w}");
    }
    if args.skip_tests {
        rendered
            .hooks
            .retain(|h| !h.events.iter().any(|e| e == "test" || e == "test-success"));
    }
    let mut out = rendered.template_output(args.include_crds);
    if let Some(program) = &args.post_renderer {
        out = berth_chart::post_render(&out, program, &args.post_renderer_args)
            .map_err(|e| BadInput(e.to_string()))?;
    }
    if args.show_only.is_empty() {
        print!("{out}");
    } else {
        print!("{}", berth_chart::show_only(&out, &args.show_only)?);
    }
    Ok(crate::exit::OK)
}
