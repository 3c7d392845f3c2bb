//! Renders an application — `berth.yaml` plus a customer's resolved config — into the
//! Kubernetes objects of each component: the component's `values` template turns config into
//! chart values, the chart renders as Helm would, and manifest directories are read as they are.
//!
//! This is the one place the deploy engine, `berth lint`, `berth template` for apps and release
//! building get objects from, so all of them see the same objects.

pub mod expose;

use berth_spec::Component;
use berth_spec::config::ResolvedConfig;
use berth_spec::lint::LoadedApp;
use berth_spec::yaml::{Limits, NodeKind};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Why a component could not be rendered; every message names the component and the file.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The component's `values` template failed.
    #[error("component `{component}`: its `values` template in berth.yaml failed: {message}")]
    ValuesTemplate {
        /// The component.
        component: String,
        /// The template engine's message (with line and column inside the template).
        message: String,
    },
    /// The `values` template rendered something that is not a YAML mapping.
    #[error(
        "component `{component}`: its `values` template rendered invalid YAML: {message}\n--- rendered values ---\n{rendered}"
    )]
    ValuesYaml {
        /// The component.
        component: String,
        /// The parser's message.
        message: String,
        /// What the template produced (config passwords are not included in values templates' errors).
        rendered: String,
    },
    /// The chart could not be loaded or rendered.
    #[error("component `{component}`: chart {path}: {source}")]
    Chart {
        /// The component.
        component: String,
        /// The chart path.
        path: PathBuf,
        /// The chart engine's error.
        #[source]
        source: Box<berth_chart::ChartError>,
    },
    /// A manifest file could not be read or parsed.
    #[error("component `{component}`: {file}: {message}")]
    Manifest {
        /// The component.
        component: String,
        /// The file.
        file: String,
        /// What was wrong.
        message: String,
    },
    /// The component's `when` could not be evaluated.
    #[error("component `{component}`: invalid `when` condition: {message}")]
    When {
        /// The component.
        component: String,
        /// The parser's message.
        message: String,
    },
    /// The component's `expose` cannot be turned into an object.
    #[error("component `{component}`: expose.{field}: {message}\n  fix: {help}")]
    Expose {
        /// The component.
        component: String,
        /// The field under `expose` (`port`, `tls.secretName`, ...).
        field: String,
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: String,
    },
    /// A post-renderer failed or printed something that is not Kubernetes objects.
    #[error("component `{component}`: {source}")]
    PostRender {
        /// The component.
        component: String,
        /// What went wrong.
        #[source]
        source: berth_chart::PostRenderError,
    },
    /// A remote chart is neither among the app's files (a release carries it) nor in the
    /// chart cache.
    #[error(
        "component `{component}`: remote chart {repo} {version} is neither in the app's {VENDORED_CHARTS}/ nor in the chart cache: fill the cache while online (`berth lint APP_DIR` or `berth chart pull`), or install the release `berth release build` makes"
    )]
    RemoteChart {
        /// The component.
        component: String,
        /// The repository reference.
        repo: String,
        /// The version.
        version: String,
    },
}

/// Cluster facts templates may read (`.Capabilities`) and the target namespace.
#[derive(Debug, Clone, Default)]
pub struct AppRenderOptions {
    /// Namespace for components that name none.
    pub namespace: String,
    /// `.Capabilities.KubeVersion` (Helm's default when `None`).
    pub kube_version: Option<String>,
    /// Extra `.Capabilities.APIVersions`.
    pub api_versions: Vec<String>,
    /// Render as an upgrade (`.Release.IsUpgrade`).
    pub is_upgrade: bool,
    /// `.Release.Revision`.
    pub revision: i64,
    /// The live cluster's API versions (install/upgrade/diff); `None` keeps Helm's defaults.
    pub live_api_versions: Option<Vec<String>>,
    /// Helm's `lookup` over the live cluster (install/upgrade/diff); `None` returns empty maps.
    pub lookup: Option<berth_chart::ClusterLookup>,
    /// What the cluster offers for `expose`, when the caller detected it; else it is read
    /// through `lookup` and `live_api_versions` (when given).
    pub expose_offer: Option<expose::ClusterOffer>,
    /// `.License` for charts and `values` templates: the installing license's fields
    /// (`{"Entitlements": {...}, ...}`); an empty `Entitlements` map when `None`.
    pub license: Option<Value>,
    /// The chart cache that dependencies from `oci://` and `https://` repositories missing
    /// under a chart's `charts/` are read from (docs/formats/chart-cache.md); `None`: the
    /// default cache.
    pub chart_cache: Option<PathBuf>,
    /// A post-renderer (program, arguments) for every chart component, run after the
    /// component's own `chart.postRenderer`.
    pub post_renderer: Option<(PathBuf, Vec<String>)>,
}

/// One rendered object and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedObject {
    /// Source file relative to the app directory (`chart/templates/web.yaml`, `manifests/a.yaml#2`).
    pub source: String,
    /// The object.
    pub object: Value,
    /// Whether it is a Helm hook (`helm.sh/hook` annotation).
    pub hook: bool,
    /// Whether it came from a chart's `crds/` directory (installed first, never templated).
    pub crd: bool,
}

/// A rendered component.
#[derive(Debug, Clone)]
pub struct RenderedComponent {
    /// Component name.
    pub component: String,
    /// Install weight.
    pub weight: i32,
    /// Namespace its namespaced objects go to.
    pub namespace: String,
    /// Helm release name (charts) or component name.
    pub release: String,
    /// The chart values after the `values` template (charts only).
    pub values: Value,
    /// Objects: CRDs first, then manifests in Helm's order, then hooks.
    pub objects: Vec<RenderedObject>,
    /// Rendered NOTES.txt (charts only).
    pub notes: String,
    /// What its `expose` generated (its objects are among `objects`).
    pub expose: Option<expose::ExposePlan>,
}

/// Whether a component is installed with this config (its `when` holds, or it has none).
pub fn component_enabled(c: &Component, config: &ResolvedConfig) -> Result<bool, RenderError> {
    match &c.when {
        None => Ok(true),
        Some(w) => config.holds(w).map_err(|e| RenderError::When {
            component: c.name.clone(),
            message: e.to_string(),
        }),
    }
}

/// Render every enabled component, in install-weight order (stable for equal weights).
pub fn render_app(
    app: &LoadedApp,
    config: &ResolvedConfig,
    opts: &AppRenderOptions,
) -> Result<Vec<RenderedComponent>, RenderError> {
    let mut comps: Vec<&Component> = Vec::new();
    for c in &app.app.spec.components {
        if component_enabled(c, config)? {
            comps.push(c);
        }
    }
    comps.sort_by_key(|c| c.weight);
    let mut out = comps
        .iter()
        .map(|c| render_component(app, c, config, opts))
        .collect::<Result<Vec<_>, _>>()?;
    let offer = match (&opts.expose_offer, &opts.live_api_versions, &opts.lookup) {
        (Some(o), _, _) => Some(o.clone()),
        (None, Some(av), Some(l)) if comps.iter().any(|c| c.expose.is_some()) => {
            Some(expose::ClusterOffer::detect(av, l))
        }
        _ => None,
    };
    add_exposed(app, &comps, config, opts, offer.as_ref(), &mut out)?;
    Ok(out)
}

/// Generate each component's `expose` objects (after every component rendered, so the
/// Service and its ports can be checked) and append them to its objects.
pub fn add_exposed(
    app: &LoadedApp,
    comps: &[&Component],
    config: &ResolvedConfig,
    opts: &AppRenderOptions,
    offer: Option<&expose::ClusterOffer>,
    out: &mut [RenderedComponent],
) -> Result<(), RenderError> {
    let services: Vec<Value> = out
        .iter()
        .flat_map(|r| r.objects.iter())
        .filter(|o| !o.hook && o.object["kind"] == "Service" && o.object["apiVersion"] == "v1")
        .map(|o| o.object.clone())
        .collect();
    for (c, r) in comps.iter().zip(out.iter_mut()) {
        let Some(e) = &c.expose else { continue };
        let data = template_data(app, c, config, &r.namespace, opts.license.as_ref());
        let v = expose::values(c, e, &data)?;
        let mut plan = expose::ExposePlan {
            component: c.name.clone(),
            decision: expose::decide(&c.name, &v, offer)?,
            objects: Vec::new(),
            notes: offer.map(|o| o.notes.clone()).unwrap_or_default(),
        };
        if let Some(d) = &plan.decision {
            let target = expose::generate::Target {
                component: &c.name,
                namespace: &r.namespace,
                services: &services,
            };
            let g = expose::generate::generate(&target, &v, d)?;
            plan.notes.extend(g.notes);
            let names_class = d.flavour.is_ingress()
                && !d.class.is_empty()
                && d.flavour != expose::Flavour::Gce
                && (d.flavour != expose::Flavour::AzureApplicationGateway || d.class_in_cluster);
            if let Some(o) = offer
                && names_class
                && !o.ingress_classes.iter().any(|ic| ic.name == d.class)
            {
                plan.notes.push(format!(
                    "the cluster has no IngressClass {}; the Ingress waits for a controller of that class",
                    d.class
                ));
            }
            for o in g.objects {
                plan.objects.push(format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap_or(""),
                    o["metadata"]["name"].as_str().unwrap_or("")
                ));
                r.objects.push(RenderedObject {
                    source: format!("berth.yaml#components[{}].expose", c.name),
                    object: o,
                    hook: false,
                    crd: false,
                });
            }
        }
        r.expose = Some(plan);
    }
    Ok(())
}

/// The chart values a component's `values` template produces from the config.
pub fn component_values(
    app: &LoadedApp,
    c: &Component,
    config: &ResolvedConfig,
    namespace: &str,
    license: Option<&Value>,
) -> Result<serde_json::Map<String, Value>, RenderError> {
    let Some(tpl) = &c.values else {
        return Ok(serde_json::Map::new());
    };
    let mut set = berth_template::TemplateSet::new(berth_template::Options::default());
    let name = format!("berth.yaml:components[{}].values", c.name);
    set.add(&name, tpl)
        .map_err(|e| RenderError::ValuesTemplate {
            component: c.name.clone(),
            message: e.to_string(),
        })?;
    let data = template_data(app, c, config, namespace, license);
    let text = set
        .execute(&name, &berth_template::Value::from_json_keep_ints(&data))
        .map_err(|e| RenderError::ValuesTemplate {
            component: c.name.clone(),
            message: e.to_string(),
        })?;
    berth_chart::parse_values(&text).map_err(|message| RenderError::ValuesYaml {
        component: c.name.clone(),
        message,
        rendered: redact_rendered(&text, config, app),
    })
}

/// What a component's templates (`values`, `expose`) see.
fn template_data(
    app: &LoadedApp,
    c: &Component,
    config: &ResolvedConfig,
    namespace: &str,
    license: Option<&Value>,
) -> Value {
    serde_json::json!({
        "Config": config.to_json(),
        "App": {
            "Name": app.app.metadata.name,
            "Version": app.app.metadata.version.clone().unwrap_or_default(),
        },
        "Release": { "Name": release_name(c), "Namespace": namespace },
        "License": license.cloned().unwrap_or_else(|| serde_json::json!({"Entitlements": {}})),
    })
}

/// Replace password values in rendered text before it is shown in an error.
fn redact_rendered(text: &str, config: &ResolvedConfig, app: &LoadedApp) -> String {
    let mut out = text.to_string();
    for item in ResolvedConfig::secret_items(&app.app) {
        if let Some(Value::String(s)) = config.values.get(&item)
            && s.len() >= 4
        {
            out = out.replace(s.as_str(), "[redacted]");
        }
    }
    out
}

fn release_name(c: &Component) -> String {
    c.release_name.clone().unwrap_or_else(|| c.name.clone())
}

/// Where a release keeps the archives of its remote chart components, among the app's files:
/// `vendored-charts/NAME-VERSION.tgz`.
pub const VENDORED_CHARTS: &str = "vendored-charts";

/// A remote chart component's (repository, chart name, version): `repo: oci://HOST/PATH/NAME`
/// is the chart NAME of repository `oci://HOST/PATH`; an `https://` repo names it in `name`.
pub fn remote_chart(chart: &berth_spec::ChartSource) -> Option<(String, String, String)> {
    let repo = chart.repo.as_deref()?.trim_end_matches('/');
    let version = chart.version.clone().unwrap_or_default();
    if repo.starts_with("oci://") {
        let (repository, name) = repo.rsplit_once('/')?;
        return Some((repository.to_string(), name.to_string(), version));
    }
    Some((repo.to_string(), chart.name.clone()?, version))
}

/// The chart a component renders and the path its objects' sources start with: `chart.path`
/// below the app, or a remote chart from the app's `vendored-charts/` or the chart cache.
fn load_component_chart(
    app: &LoadedApp,
    c: &Component,
    chart: &berth_spec::ChartSource,
    cache: &berth_chart::ChartCache,
) -> Result<(String, berth_chart::Chart), RenderError> {
    let err = |path: &str, source| RenderError::Chart {
        component: c.name.clone(),
        path: PathBuf::from(path),
        source: Box::new(source),
    };
    if let Some(path) = &chart.path {
        let loaded = berth_chart::Chart::load(&app.path(path)).map_err(|e| err(path, e))?;
        return Ok((path.clone(), loaded));
    }
    let missing = || RenderError::RemoteChart {
        component: c.name.clone(),
        repo: chart.repo.clone().unwrap_or_default(),
        version: chart.version.clone().unwrap_or_default(),
    };
    let (repository, name, version) = remote_chart(chart).ok_or_else(missing)?;
    let path = format!("{VENDORED_CHARTS}/{name}-{version}.tgz");
    let vendored = app.path(&path);
    if vendored.is_file() {
        let loaded = berth_chart::Chart::load(&vendored).map_err(|e| err(&path, e))?;
        return Ok((path, loaded));
    }
    let hit = cache
        .lookup(&repository, &name, &version)
        .map_err(|e| err(&path, e))?
        .ok_or_else(missing)?;
    let bytes = cache.read(&hit).map_err(|e| err(&path, e))?;
    let loaded = berth_chart::Chart::load_archive(&bytes, &path).map_err(|e| err(&path, e))?;
    Ok((path, loaded))
}

/// The post-renderers of a chart component, in order: its own `chart.postRenderer`, then
/// the one given to the command.
fn post_renderers(
    app: &LoadedApp,
    chart: &berth_spec::ChartSource,
    opts: &AppRenderOptions,
) -> Vec<(PathBuf, Vec<String>)> {
    let own = chart
        .post_renderer
        .as_ref()
        .map(|p| (p.program(&app.dir), p.args.clone()));
    own.into_iter().chain(opts.post_renderer.clone()).collect()
}

/// Pipes the chart's manifests (hooks excluded) through each post-renderer in turn and
/// reads the objects of the last one's output.
fn run_post_renderers(
    rendered: &berth_chart::Rendered,
    post: &[(PathBuf, Vec<String>)],
    component: &str,
) -> Result<Vec<Value>, RenderError> {
    let mut text = rendered.manifest_text(false);
    for (program, args) in post {
        text = berth_chart::post_render(&text, program, args).map_err(|source| {
            RenderError::PostRender {
                component: component.to_string(),
                source,
            }
        })?;
    }
    let mut out = Vec::new();
    for doc in berth_chart::split_manifests(&text) {
        // post_render checked every document parses.
        let v = berth_chart::parse_object(doc).unwrap_or(Value::Null);
        if v.is_object() {
            out.push(v);
        }
    }
    Ok(out)
}

/// Render one component.
pub fn render_component(
    app: &LoadedApp,
    c: &Component,
    config: &ResolvedConfig,
    opts: &AppRenderOptions,
) -> Result<RenderedComponent, RenderError> {
    let namespace = c
        .namespace
        .clone()
        .unwrap_or_else(|| opts.namespace.clone());
    let release = release_name(c);
    let mut out = RenderedComponent {
        component: c.name.clone(),
        weight: c.weight,
        namespace: namespace.clone(),
        release: release.clone(),
        values: Value::Object(Default::default()),
        objects: Vec::new(),
        notes: String::new(),
        expose: None,
    };
    if let Some(chart) = &c.chart {
        let cache = berth_chart::ChartCache::new(
            opts.chart_cache
                .clone()
                .unwrap_or_else(berth_chart::ChartCache::default_dir),
        );
        let (path, loaded) = load_component_chart(app, c, chart, &cache)?;
        let path = &path;
        let values = component_values(app, c, config, &namespace, opts.license.as_ref())?;
        out.values = Value::Object(values.clone());
        let err = |source| RenderError::Chart {
            component: c.name.clone(),
            path: PathBuf::from(path),
            source: Box::new(source),
        };
        let mut loaded = loaded;
        berth_chart::attach_from_cache(&mut loaded, &cache).map_err(err)?;
        let ropts = berth_chart::RenderOptions {
            release_name: release,
            namespace,
            revision: opts.revision.max(1),
            is_upgrade: opts.is_upgrade,
            values,
            kube_version: opts.kube_version.clone(),
            api_versions: opts.api_versions.clone(),
            live_api_versions: opts.live_api_versions.clone(),
            lookup: opts.lookup.clone(),
            license: opts.license.clone(),
            ..Default::default()
        };
        let mut rendered = berth_chart::render(&loaded, &ropts).map_err(err)?;
        let post = post_renderers(app, chart, opts);
        let post_rendered = if post.is_empty() {
            None
        } else {
            let docs = run_post_renderers(&rendered, &post, &c.name)?;
            rendered.manifests.clear();
            Some(docs)
        };
        for (file, f) in loaded.crd_files() {
            let text = String::from_utf8_lossy(&f.data);
            for (i, obj) in parse_docs(&text, &c.name, &format!("{path}/{file}"))?
                .into_iter()
                .enumerate()
            {
                out.objects.push(RenderedObject {
                    source: format!("{path}/{file}#{}", i + 1),
                    object: obj,
                    hook: false,
                    crd: true,
                });
            }
        }
        let prefix = |src: &str| {
            format!(
                "{path}/{}",
                src.split_once('/').map_or(src, |(_, rest)| rest)
            )
        };
        for (m, hook) in rendered
            .manifests
            .into_iter()
            .map(|m| (m, false))
            .chain(rendered.hooks.into_iter().map(|h| (h.manifest, true)))
        {
            let source = prefix(&m.source_path);
            let object = m.into_object().map_err(err)?;
            if object.is_object() {
                out.objects.push(RenderedObject {
                    source,
                    object,
                    hook,
                    crd: false,
                });
            }
        }
        for (i, object) in post_rendered.into_iter().flatten().enumerate() {
            out.objects.push(RenderedObject {
                source: format!("{path}/(post-renderer)#{}", i + 1),
                object,
                hook: false,
                crd: false,
            });
        }
        out.notes = rendered.notes;
    } else if let Some(m) = &c.manifests {
        out.objects = read_manifest_dir(&app.dir, Path::new(&m.path), &c.name)?;
    }
    Ok(out)
}

/// Read a directory of YAML/JSON manifests (recursively, in path order).
pub fn read_manifest_dir(
    app_dir: &Path,
    rel: &Path,
    component: &str,
) -> Result<Vec<RenderedObject>, RenderError> {
    let root = app_dir.join(rel);
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(&root)
        .sort_by_file_name()
        .follow_links(false)
    {
        let entry = entry.map_err(|e| RenderError::Manifest {
            component: component.into(),
            file: rel.display().to_string(),
            message: e.to_string(),
        })?;
        let p = entry.path();
        if entry.file_type().is_file()
            && matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        {
            files.push(p.to_path_buf());
        }
    }
    let mut out = Vec::new();
    for f in files {
        let shown = f.strip_prefix(app_dir).unwrap_or(&f).display().to_string();
        let bytes = std::fs::read(&f).map_err(|e| RenderError::Manifest {
            component: component.into(),
            file: shown.clone(),
            message: e.to_string(),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| RenderError::Manifest {
            component: component.into(),
            file: shown.clone(),
            message: "not UTF-8 text".into(),
        })?;
        for (i, obj) in parse_docs(&text, component, &shown)?
            .into_iter()
            .enumerate()
        {
            let hook = obj.pointer("/metadata/annotations/helm.sh~1hook").is_some();
            out.push(RenderedObject {
                source: format!("{shown}#{}", i + 1),
                object: obj,
                hook,
                crd: false,
            });
        }
    }
    Ok(out)
}

/// Parse YAML documents into objects: empty documents dropped, `kind: List` flattened, each
/// document checked to be a Kubernetes object (errors carry line and column).
fn parse_docs(text: &str, component: &str, file: &str) -> Result<Vec<Value>, RenderError> {
    let err = |message: String| RenderError::Manifest {
        component: component.into(),
        file: file.into(),
        message,
    };
    let docs =
        berth_spec::yaml::parse_str(text, &Limits::default()).map_err(|e| err(e.to_string()))?;
    let mut out = Vec::new();
    for d in docs {
        if matches!(d.kind, NodeKind::Null) {
            continue;
        }
        let pos = d.pos;
        let v = d.to_json();
        let items = if v.get("kind").and_then(Value::as_str) == Some("List") {
            v.get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        } else {
            vec![v]
        };
        for item in items {
            let ok = item
                .get("apiVersion")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
                && item
                    .get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
                && item
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty());
            if !ok {
                return Err(err(format!(
                    "{pos}: not a Kubernetes object: every document needs apiVersion, kind and metadata.name"
                )));
            }
            out.push(item);
        }
    }
    Ok(out)
}

/// Render every component of a linted app with its default config (and each `when` branch of
/// the components), turning render failures into lint problems. `berth lint` calls this after
/// the manifest itself is clean, so template errors surface before any install.
pub fn lint_render(app: &LoadedApp, manifest_file: &Path) -> Vec<berth_spec::Problem> {
    lint_render_with(app, manifest_file, None)
}

/// [`lint_render`] reading remote chart dependencies from `chart_cache` (`None`: the
/// default cache).
pub fn lint_render_with(
    app: &LoadedApp,
    manifest_file: &Path,
    chart_cache: Option<&Path>,
) -> Vec<berth_spec::Problem> {
    use berth_spec::{Problem, Severity};
    let mut problems = Vec::new();
    let problem = |severity, code, message: String, help: Option<String>| Problem {
        severity,
        code,
        file: manifest_file.to_path_buf(),
        pos: None,
        field: String::new(),
        message,
        help,
    };
    let config = match berth_spec::config::resolve(&app.app, &Default::default(), None, &mut |_| {
        "lint-generated-value".into()
    }) {
        Ok(c) => c,
        Err(errs) => {
            // Required items without defaults: render with placeholders so templates are still checked.
            let mut input = std::collections::BTreeMap::new();
            for e in &errs {
                input.insert(e.item.clone(), Value::String("example".into()));
            }
            match berth_spec::config::resolve(&app.app, &input, None, &mut |_| {
                "lint-generated-value".into()
            }) {
                Ok(c) => c,
                Err(errs) => {
                    problems.push(problem(
                        Severity::Warning,
                        "config-not-renderable",
                        format!(
                            "the charts could not be rendered with the default config: {}",
                            errs.iter()
                                .map(|e| e.to_string())
                                .collect::<Vec<_>>()
                                .join("; ")
                        ),
                        Some("give the config items defaults that pass their validation".into()),
                    ));
                    return problems;
                }
            }
        }
    };
    let opts = AppRenderOptions {
        namespace: "default".into(),
        chart_cache: chart_cache.map(Path::to_path_buf),
        ..Default::default()
    };
    let mut rendered = Vec::new();
    for c in &app.app.spec.components {
        match render_component(app, c, &config, &opts) {
            Ok(r) => rendered.push((c, r)),
            Err(e) => problems.push(problem(
                Severity::Error,
                "render-failed",
                e.to_string(),
                Some("fix the template, or the values template in berth.yaml, then run `berth lint` again".into()),
            )),
        }
    }
    // `expose` with the default config, once every Service it may name is rendered.
    if problems.is_empty() {
        let (comps, mut out): (Vec<&Component>, Vec<RenderedComponent>) =
            rendered.into_iter().unzip();
        if let Err(e) = add_exposed(app, &comps, &config, &opts, None, &mut out) {
            let mut p = problem(
                Severity::Error,
                "invalid-expose",
                e.to_string(),
                Some("fix the component's expose in berth.yaml".into()),
            );
            if let RenderError::Expose {
                component,
                field,
                message,
                help,
            } = &e
            {
                let index = app
                    .app
                    .spec
                    .components
                    .iter()
                    .position(|c| &c.name == component);
                p.field = format!("spec.components[{}].expose.{field}", index.unwrap_or(0));
                p.message = format!("component `{component}`: expose.{field}: {message}");
                p.help = Some(help.clone());
            }
            problems.push(p);
        }
    }
    problems
}

/// `berth lint --kube 1.NN`: every rendered object (default config, `.Capabilities.KubeVersion`
/// set to that release) whose apiVersion Kubernetes 1.NN no longer serves (an error) or has
/// deprecated (a warning), with the replacement, per the Kubernetes deprecation guide's table
/// (berth_spec::deprecations). Render failures are left to [`lint_render`].
pub fn lint_api_versions(app: &LoadedApp, kube: &str) -> Result<Vec<berth_spec::Problem>, String> {
    lint_api_versions_with(app, kube, None)
}

/// [`lint_api_versions`] reading remote chart dependencies from `chart_cache`.
pub fn lint_api_versions_with(
    app: &LoadedApp,
    kube: &str,
    chart_cache: Option<&Path>,
) -> Result<Vec<berth_spec::Problem>, String> {
    use berth_spec::deprecations::{ApiState, check, minor_of};
    use berth_spec::{Problem, Severity};
    let minor = minor_of(kube)
        .ok_or_else(|| format!("--kube {kube:?} is not a Kubernetes version such as 1.32"))?;
    let Ok(config) = berth_spec::config::resolve(&app.app, &Default::default(), None, &mut |_| {
        "lint-generated-value".into()
    }) else {
        return Ok(vec![]);
    };
    let opts = AppRenderOptions {
        namespace: "default".into(),
        kube_version: Some(format!("v1.{minor}.0")),
        chart_cache: chart_cache.map(Path::to_path_buf),
        ..Default::default()
    };
    let mut problems = Vec::new();
    for c in &app.app.spec.components {
        let Ok(rendered) = render_component(app, c, &config, &opts) else {
            continue;
        };
        for o in &rendered.objects {
            let av = o.object["apiVersion"].as_str().unwrap_or("");
            let kind = o.object["kind"].as_str().unwrap_or("");
            let Some((state, r)) = check(av, kind, minor) else {
                continue;
            };
            let name = o.object["metadata"]["name"].as_str().unwrap_or("");
            let (severity, code) = match state {
                ApiState::Removed => (Severity::Error, "api-removed"),
                ApiState::Deprecated => (Severity::Warning, "api-deprecated"),
            };
            problems.push(Problem {
                severity,
                code,
                file: app
                    .dir
                    .join(o.source.split('#').next().unwrap_or(&o.source)),
                pos: None,
                field: format!("{}/{name}", kind.to_lowercase()),
                message: format!(
                    "{}/{name} (component {}): {}",
                    kind.to_lowercase(),
                    c.name,
                    r.describe(kind, state)
                ),
                help: Some(if r.replacement.is_empty() {
                    format!(
                        "remove it before installing on Kubernetes 1.{}",
                        r.removed_in
                    )
                } else {
                    format!("change apiVersion: {av} to apiVersion: {}", r.replacement)
                }),
            });
        }
    }
    Ok(problems)
}
