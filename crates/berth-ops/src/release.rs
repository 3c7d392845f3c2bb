//! The vendor's side of an air-gapped delivery: a release (the app files and every image it
//! runs, pinned by digest, in one OCI image layout) planned from the app rendered with every
//! config branch, built by pulling the images, then signed into a bundle. The customer's
//! side — verifying, pushing and installing a bundle — is [`crate::airgap`] and
//! [`crate::deploy`].

use crate::error::{Error, Result, ResultExt as _};
use crate::progress::{PushProgress, Sink, Step, step, step_sync};
use berth_oci::bundle::{self, Base};
use berth_oci::model::Platform;
use berth_oci::release::{self, Release, ReleaseMeta};
use berth_oci::transfer::Stats;
use berth_oci::{Client, ClientConfig, Reference, keys};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What release to build.
#[derive(Debug, Clone, Default)]
pub struct BuildInput {
    /// The app directory (holding berth.yaml).
    pub dir: PathBuf,
    /// Release version; default: metadata.version of berth.yaml.
    pub version: Option<String>,
    /// Output directory; default `<app>-<version>.release`.
    pub out: Option<PathBuf>,
    /// Rendered objects (YAML files or directories) to take images from instead of
    /// rendering the app with every config branch.
    pub manifests: Vec<PathBuf>,
    /// Extra images.
    pub images: Vec<String>,
    /// Keep only these platforms of multi-platform images (`os/arch[/variant]`).
    pub platforms: Vec<String>,
    /// How to reach the vendor's registries (mirrors, TLS, credentials).
    pub registry_config: ClientConfig,
    /// The berth executable to make the snapshot mover image of (docs/formats/release.md,
    /// "The mover image"); None leaves it out. The CLI passes itself.
    pub mover_executable: Option<PathBuf>,
    /// The chart cache for dependencies from `oci://` and `https://` repositories
    /// (docs/formats/chart-cache.md); `None`: the default cache.
    pub chart_cache: Option<PathBuf>,
    /// Resolve remote chart dependencies only from the cache.
    pub offline: bool,
    /// A post-renderer (program, arguments) run on every chart component's manifests.
    pub post_renderer: Option<(PathBuf, Vec<String>)>,
}

/// What the snapshot movers of a release run: berth's own image at this version.
fn mover_image(input: &BuildInput) -> Option<release::ExecutableImage> {
    input
        .mover_executable
        .as_ref()
        .map(|exe| release::ExecutableImage {
            reference: crate::snapshot::default_mover_image(),
            executable: exe.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        })
}

/// Who uses the mover image, in a release plan.
pub const MOVER_USED_BY: &str = "berth snapshot (mover)";

/// One image a release will hold, with the objects that run it.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedImage {
    /// The image reference.
    pub reference: String,
    /// `kind/name` of the objects that use it (empty for `images:` and extra images).
    pub used_by: Vec<String>,
}

/// What a release would hold (`berth release build --dry-run`).
#[derive(Debug, Clone, Serialize)]
pub struct ReleasePlan {
    /// App name.
    pub app: String,
    /// Release version.
    pub version: String,
    /// Every image, de-duplicated.
    pub images: Vec<PlannedImage>,
    /// Config branches that could not be rendered, and similar (each also sent as a
    /// [`crate::Event::Warning`]).
    pub warnings: Vec<String>,
}

/// A built release.
#[derive(Debug, Clone)]
pub struct Built {
    /// Where it was written.
    pub out: PathBuf,
    /// Its metadata (app, version, images with digests).
    pub meta: ReleaseMeta,
    /// What was pulled.
    pub stats: Stats,
}

/// Everything [`plan`] decided, kept for [`build`].
struct Planned {
    plan: ReleasePlan,
    loaded: berth_spec::LoadedApp,
    objects: Vec<serde_json::Value>,
    extras: Vec<String>,
    platforms: Vec<Platform>,
}

fn plan_inner(input: &BuildInput, sink: &dyn Sink) -> Result<Planned> {
    let loaded = berth_spec::load(&input.dir).map_err(|e| Error::Failed(e.to_string()))?;
    let app = &loaded.app;
    let version = input
        .version
        .clone()
        .or_else(|| app.metadata.version.clone())
        .ok_or_else(|| {
            Error::Failed(
                "no version: pass --version X.Y.Z or set metadata.version in berth.yaml".into(),
            )
        })?;
    let mut objects = Vec::new();
    for m in &input.manifests {
        read_objects(m, &mut objects)?;
    }
    let mut warnings = Vec::new();
    if input.manifests.is_empty() {
        let (objs, w) = render_all_branches(&loaded, input);
        for message in &w {
            sink.event(crate::Event::Warning {
                message: message.clone(),
            });
        }
        warnings = w;
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
    extras.extend(input.images.iter().cloned());
    let platforms = input
        .platforms
        .iter()
        .map(|p| Platform::parse(p))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let (refs, uses) = release::plan_images(&objects, &extras)?;
    let images = refs
        .iter()
        .map(|r| {
            let mut by: Vec<String> = uses
                .iter()
                .filter(|u| Reference::parse(&u.image).ok().as_ref() == Some(r))
                .map(|u| u.object.clone())
                .collect();
            by.sort();
            by.dedup();
            PlannedImage {
                reference: r.to_string(),
                used_by: by,
            }
        })
        .collect::<Vec<PlannedImage>>();
    let mut images = images;
    if let Some(m) = mover_image(input) {
        images.push(PlannedImage {
            reference: Reference::parse(&m.reference)?.to_string(),
            used_by: vec![MOVER_USED_BY.to_string()],
        });
    }
    let plan = ReleasePlan {
        app: app.metadata.name.clone(),
        version,
        images,
        warnings,
    };
    Ok(Planned {
        plan,
        loaded,
        objects,
        extras,
        platforms,
    })
}

/// The images a release of the app would hold, found in the app rendered with every config
/// branch (or in `manifests`), its troubleshoot specs, `images:` and the extra images.
pub fn plan(input: &BuildInput, sink: &dyn Sink) -> Result<ReleasePlan> {
    Ok(plan_inner(input, sink)?.plan)
}

/// Plan, then pull every image (resolved to a digest) into a new release directory.
pub async fn build(input: &BuildInput, sink: &dyn Sink) -> Result<Built> {
    // Remote chart dependencies first: the renders read them from the cache, and the
    // release carries them vendored so the customer's site never fetches a chart.
    let fetch = crate::charts::ChartFetch::new(
        input.chart_cache.clone(),
        input.offline,
        input.registry_config.clone(),
    );
    let vendored = crate::charts::vendor_files(&input.dir, &fetch).await?;
    let p = step_sync(sink, Step::Plan, || plan_inner(input, sink))?;
    let out = input
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}-{}.release", p.plan.app, p.plan.version)));
    let rel = berth_oci::release::ReleaseInput {
        app: p.plan.app.clone(),
        version: p.plan.version.clone(),
        files: {
            let mut files = release::collect_app_files(&p.loaded.dir)?;
            files.extend(vendored);
            files
        },
        references: app_references(&p.loaded),
        objects: p.objects,
        extra_images: p.extras,
        platforms: p.platforms,
        executable_images: mover_image(input).into_iter().collect(),
    };
    let client = Client::new(input.registry_config.clone())?;
    let (meta, stats) = step(
        sink,
        Step::PushImages,
        release::build(&client, &rel, &out, &PushProgress(sink)),
    )
    .await?;
    Ok(Built { out, meta, stats })
}

/// Sign a release directory into a bundle file (a delta with only what `since`, an older
/// release directory or bundle, lacks), carrying a vulnerability database when `vulndb` is
/// given. Refuses a release missing files its berth.yaml references.
pub fn create_bundle(
    release_dir: &Path,
    key: &Path,
    since: Option<&Path>,
    vulndb: Option<&Path>,
    out: &Path,
) -> Result<bundle::CreateReport> {
    let key = keys::read_signing_key(key)?;
    check_release_complete(release_dir)?;
    let since = since.map(Base::from_path);
    let extras = bundle::Extras {
        vulndb: vulndb.map(Path::to_path_buf),
    };
    Ok(bundle::create_with(
        release_dir,
        out,
        &key,
        since.as_ref(),
        &extras,
    )?)
}

/// Kubernetes objects of a YAML/JSON file, or of every such file under a directory.
pub fn read_objects(path: &Path, out: &mut Vec<serde_json::Value>) -> Result<()> {
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
        let text = std::fs::read_to_string(&f).ctx(|| format!("reading {}", f.display()))?;
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
            .ctx(|| format!("{}: not valid YAML Kubernetes objects", f.display()))?;
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
pub fn check_release_complete(dir: &Path) -> Result<()> {
    let rel = Release::open(dir)?;
    let paths: Vec<&str> = rel.files.iter().map(|(p, _)| p.as_str()).collect();
    let Some(manifest) = berth_spec::lint::MANIFEST_NAMES
        .iter()
        .find(|n| paths.contains(n))
    else {
        return Err(Error::Failed(format!(
            "release {} holds no berth.yaml; rebuild it with `berth release build`",
            dir.display()
        )));
    };
    let bytes = rel.read_file(manifest)?.unwrap_or_default();
    let app: berth_spec::Application = serde_saphyr::from_str(&String::from_utf8_lossy(&bytes))
        .ctx(|| format!("{manifest} in release {}", dir.display()))?;
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
        .ctx(|| format!("release {} is incomplete; not signing it", dir.display()))?;
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
fn render_all_branches(
    loaded: &berth_spec::LoadedApp,
    build: &BuildInput,
) -> (Vec<serde_json::Value>, Vec<String>) {
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
            chart_cache: build.chart_cache.clone(),
            post_renderer: build.post_renderer.clone(),
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
