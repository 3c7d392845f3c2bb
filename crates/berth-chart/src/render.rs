//! Rendering a chart as `helm template` does: dependencies, values, schema,
//! templates (through `berth-template`), NOTES.txt, splitting, hooks, ordering.

use crate::chart::Chart;
use crate::error::ChartError;
use crate::manifest::{Hook, Manifest};
use crate::objects::{ApiVersions, Capabilities, DEFAULT_API_VERSIONS, Files, KubeVersion};
use crate::values::prepare_values;
use berth_template::{MapData, MapRef, Options, TemplateSet, Value};
use serde_json::Map;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The Kubernetes version templates see when none is given (Helm 4.2's default).
pub const DEFAULT_KUBE_VERSION: &str = "v1.36.0";

/// What to render and for which release and cluster.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// `.Release.Name` (Helm's `template` default: `release-name`).
    pub release_name: String,
    /// `.Release.Namespace`.
    pub namespace: String,
    /// `.Release.Revision`.
    pub revision: i64,
    /// Render as an upgrade (`.Release.IsUpgrade`) instead of an install.
    pub is_upgrade: bool,
    /// User-supplied values (`-f` files and `--set`s already merged), highest precedence.
    pub values: Map<String, serde_json::Value>,
    /// `.Capabilities.KubeVersion` (e.g. `1.30`); Helm's default when `None`.
    pub kube_version: Option<String>,
    /// Extra `.Capabilities.APIVersions` entries.
    pub api_versions: Vec<String>,
    /// Missing map keys are errors (`--strict`).
    pub strict: bool,
    /// Skip values.schema.json validation.
    pub skip_schema_validation: bool,
    /// Keep subcharts' NOTES.txt too (Helm's `--render-subchart-notes`).
    pub sub_notes: bool,
    /// The live cluster's API versions (from discovery): when set they replace Helm's default
    /// list, as `helm install` does (`api_versions` are still added).
    pub live_api_versions: Option<Vec<String>>,
    /// Helm's `lookup` against a live cluster; without one `lookup` returns an empty map, as in
    /// `helm template`.
    pub lookup: Option<ClusterLookup>,
    /// `.License` (berth, not Helm): the installing license's fields, e.g.
    /// `{"Entitlements": {"seats": 50}}`; templates see an empty `Entitlements` map when `None`.
    pub license: Option<serde_json::Value>,
}

/// Helm's `lookup` backend over a live cluster: (apiVersion, kind, namespace, name) → the object,
/// the list (`name` empty) or an empty map when absent, as Kubernetes JSON.
#[derive(Clone)]
pub struct ClusterLookup(pub Arc<LookupJson>);

/// (apiVersion, kind, namespace, name) → Kubernetes JSON, or the error to report.
pub type LookupJson =
    dyn Fn(&str, &str, &str, &str) -> Result<serde_json::Value, String> + Send + Sync;

impl std::fmt::Debug for ClusterLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterLookup")
    }
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            release_name: "release-name".into(),
            namespace: "default".into(),
            revision: 1,
            is_upgrade: false,
            values: Map::new(),
            kube_version: None,
            api_versions: Vec::new(),
            strict: false,
            skip_schema_validation: false,
            sub_notes: false,
            live_api_versions: None,
            lookup: None,
            license: None,
        }
    }
}

/// The result of rendering a chart.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    /// Non-hook objects in Helm's install order.
    pub manifests: Vec<Manifest>,
    /// Hooks in kind order.
    pub hooks: Vec<Hook>,
    /// The root chart's rendered NOTES.txt (empty when none).
    pub notes: String,
    /// Every rendered template file except partials and NOTES.txt: path → text,
    /// the map Helm's engine returns.
    pub files: BTreeMap<String, String>,
    /// CRD files (`crds/`) of the chart and its enabled subcharts: (path, text).
    pub crds: Vec<(String, String)>,
    /// The final values the root chart's templates saw.
    pub values: Map<String, serde_json::Value>,
    /// Non-fatal coalescing warnings, worded as Helm's.
    pub warnings: Vec<String>,
}

impl Rendered {
    /// The release manifest Helm stores: `---\n# Source: path\n<doc>\n` per object,
    /// CRDs first when asked.
    pub fn manifest_text(&self, include_crds: bool) -> String {
        let mut out = String::new();
        if include_crds {
            for (path, text) in &self.crds {
                out.push_str(&format!("---\n# Source: {path}\n{text}\n"));
            }
        }
        for m in &self.manifests {
            out.push_str(&format!(
                "---\n# Source: {}\n{}\n",
                m.source_path, m.yaml_text
            ));
        }
        out
    }

    /// Exactly what `helm template` prints (before `--show-only` filtering).
    pub fn template_output(&self, include_crds: bool) -> String {
        let mut out = self.manifest_text(include_crds).trim().to_owned();
        out.push('\n');
        for h in &self.hooks {
            out.push_str(&format!(
                "---\n# Source: {}\n{}\n",
                h.manifest.source_path, h.manifest.yaml_text
            ));
        }
        out
    }
}

/// Converts JSON values to template values: float64 stays float64, integers
/// (from `--set`) stay int64, as in Helm.
pub fn json_to_value(j: &serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.is_f64(), n.as_i64()) {
            (false, Some(i)) => Value::Int(i),
            _ => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(a) => Value::list(a.iter().map(json_to_value).collect()),
        serde_json::Value::Object(o) => json_map_to_value(o),
    }
}

/// [`json_to_value`] of a map.
pub fn json_map_to_value(o: &serde_json::Map<String, serde_json::Value>) -> Value {
    Value::map(
        o.iter()
            .map(|(k, v)| (k.clone(), json_to_value(v)))
            .collect(),
    )
}

struct Job<'a> {
    path: String,
    source: std::borrow::Cow<'a, str>,
    ctx: MapRef,
    base_path: String,
}

/// What every chart and subchart of one render sees alike.
struct Globals {
    release: Value,
    caps: Value,
    license: Value,
}

fn build_ctx<'a>(
    chart: &'a Chart,
    values: Value,
    g: &Globals,
    is_root: bool,
    full_path: &str,
    jobs: &mut Vec<Job<'a>>,
) -> MapRef {
    let ctx = MapRef::new(MapData::new());
    let subcharts = MapRef::new(MapData::new());
    {
        let mut m = ctx.write();
        m.insert(
            "Chart".into(),
            json_to_value(&chart.metadata.to_template_map(is_root)),
        );
        m.insert("Files".into(), Value::object(Files::new(&chart.files)));
        m.insert("Release".into(), g.release.clone());
        m.insert("Capabilities".into(), g.caps.clone());
        m.insert("License".into(), g.license.clone());
        m.insert("Values".into(), values.clone());
        m.insert("Subcharts".into(), Value::Map(subcharts.clone()));
    }
    for sub in &chart.dependencies {
        let sub_vals = match &values {
            Value::Map(m) => match m.get(sub.name()) {
                Some(v @ Value::Map(_)) => v,
                _ => Value::empty_map(),
            },
            _ => Value::empty_map(),
        };
        let sub_path = format!("{full_path}/charts/{}", sub.name());
        let sub_ctx = build_ctx(sub, sub_vals, g, false, &sub_path, jobs);
        subcharts.insert(sub.name(), Value::Map(sub_ctx));
    }
    let library = chart.metadata.is_library();
    for t in &chart.templates {
        let base = t.name.rsplit('/').next().unwrap_or(&t.name);
        if library && !base.starts_with('_') {
            continue;
        }
        jobs.push(Job {
            path: format!("{full_path}/{}", t.name),
            // Valid UTF-8 (nearly always) is checked by the fast validator, not the lossy one.
            source: match std::str::from_utf8(&t.data) {
                Ok(text) => std::borrow::Cow::Borrowed(text),
                Err(_) => String::from_utf8_lossy(&t.data),
            },
            ctx: ctx.clone(),
            base_path: format!("{full_path}/templates"),
        });
    }
    ctx
}

/// Renders `chart` as `helm template` would.
pub fn render(chart: &Chart, opts: &RenderOptions) -> Result<Rendered, ChartError> {
    let mut warnings = Vec::new();
    let (c, vals) = prepare_values(chart, &opts.values, &mut warnings)?;
    if !opts.skip_schema_validation {
        crate::values::validate_values(&c, &vals)?;
    }
    let kube = KubeVersion::parse(opts.kube_version.as_deref().unwrap_or(DEFAULT_KUBE_VERSION))
        .map_err(ChartError::Template)?;
    if !c.metadata.kube_version.is_empty()
        && !crate::version::is_compatible_range(&c.metadata.kube_version, &kube.normalized)
    {
        return Err(ChartError::KubeVersion {
            range: c.metadata.kube_version.clone(),
            version: kube.version.clone(),
        });
    }
    let mut apis: Vec<String> = match &opts.live_api_versions {
        Some(live) => live.clone(),
        None => DEFAULT_API_VERSIONS
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    };
    apis.extend(opts.api_versions.iter().cloned());
    let caps = Value::object(Capabilities {
        kube,
        apis: ApiVersions(apis),
    });
    let release = Value::map(MapData::from([
        ("Name".to_owned(), Value::str(&opts.release_name)),
        ("Namespace".to_owned(), Value::str(&opts.namespace)),
        ("IsUpgrade".to_owned(), Value::Bool(opts.is_upgrade)),
        ("IsInstall".to_owned(), Value::Bool(!opts.is_upgrade)),
        ("Revision".to_owned(), Value::Int(opts.revision)),
        ("Service".to_owned(), Value::str("Helm")),
    ]));
    let values = json_map_to_value(&vals);
    let mut jobs = Vec::new();
    let license = opts
        .license
        .clone()
        .unwrap_or_else(|| serde_json::json!({"Entitlements": {}}));
    let g = Globals {
        release,
        caps,
        license: json_to_value(&license),
    };
    build_ctx(&c, values, &g, true, c.name(), &mut jobs);
    // Helm's order: deeper paths first, then reverse lexical; later defines win.
    jobs.sort_by(|a, b| {
        let (ca, cb) = (a.path.matches('/').count(), b.path.matches('/').count());
        cb.cmp(&ca).then_with(|| b.path.cmp(&a.path))
    });
    let mut set = TemplateSet::new(Options {
        strict: opts.strict,
        ..Options::default()
    });
    if let Some(ClusterLookup(f)) = &opts.lookup {
        let f = f.clone();
        set.set_lookup(Arc::new(move |av: &str, k: &str, ns: &str, n: &str| {
            f(av, k, ns, n).map(|j| json_to_value(&j))
        }));
    }
    for j in &jobs {
        set.add(&j.path, &j.source)
            .map_err(|e| ChartError::Template(e.helm_message()))?;
    }
    let mut files = BTreeMap::new();
    let mut notes = String::new();
    let root_notes = format!("{}/templates/NOTES.txt", c.name());
    for j in &jobs {
        let base = j.path.rsplit('/').next().unwrap_or(&j.path);
        if base.starts_with('_') {
            continue;
        }
        j.ctx.set_template_entry(Value::map(MapData::from([
            ("Name".to_owned(), Value::str(&j.path)),
            ("BasePath".to_owned(), Value::str(&j.base_path)),
        ])));
        let out = set
            .execute(&j.path, &Value::Map(j.ctx.clone()))
            .map_err(|e| ChartError::Template(e.helm_message()))?;
        if j.path.ends_with("NOTES.txt") {
            if opts.sub_notes || j.path == root_notes {
                if !notes.is_empty() {
                    notes.push('\n');
                }
                // A terminal shows bytes that are not UTF-8 as U+FFFD.
                notes.push_str(&berth_template::bytes::lossy(&out));
            }
            continue;
        }
        files.insert(j.path.clone(), out);
    }
    let (hooks, manifests) =
        crate::manifest::sort_files(files.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let crds = c
        .crd_files()
        .into_iter()
        // The fast validator first: CRD files can be megabytes.
        .map(|(p, f)| match std::str::from_utf8(&f.data) {
            Ok(text) => (p, text.to_owned()),
            Err(_) => (p, String::from_utf8_lossy(&f.data).into_owned()),
        })
        .collect();
    Ok(Rendered {
        manifests,
        hooks,
        notes,
        files,
        crds,
        values: vals,
        warnings,
    })
}
