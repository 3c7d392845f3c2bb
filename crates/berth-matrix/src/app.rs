//! An app directory turned into what the deploy engine installs: berth.yaml loaded, the
//! config resolved (defaults, generated values kept from the previous revision), every
//! component rendered, objects given their namespace and component weight.

use crate::MatrixError;
use berth_deploy::Release;
use berth_deploy::engine::Placed;
use berth_render::expose::ExposePlan;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Config values given to every cell (`--set`, `--config`), by config item name.
pub type ConfigValues = BTreeMap<String, Value>;

/// The app's name and version from its berth.yaml.
pub fn identity(dir: &Path) -> Result<(String, String), MatrixError> {
    let loaded = berth_spec::load(dir).map_err(|e| MatrixError::Input(e.to_string()))?;
    Ok((
        loaded.app.metadata.name.clone(),
        loaded
            .app
            .metadata
            .version
            .clone()
            .unwrap_or_else(|| "0.0.0".into()),
    ))
}

/// Render `dir` with `values` into a release for `namespace`.
pub fn render(
    dir: &Path,
    values: &ConfigValues,
    namespace: &str,
    previous: Option<&Value>,
    opts: berth_render::AppRenderOptions,
) -> Result<Release, MatrixError> {
    render_exposed(dir, values, namespace, previous, opts).map(|(r, _)| r)
}

/// [`render`], with what each component's `expose` generated.
pub fn render_exposed(
    dir: &Path,
    values: &ConfigValues,
    namespace: &str,
    previous: Option<&Value>,
    opts: berth_render::AppRenderOptions,
) -> Result<(Release, Vec<ExposePlan>), MatrixError> {
    let loaded = berth_spec::load(dir).map_err(|e| MatrixError::Input(e.to_string()))?;
    let prev: Option<berth_spec::config::ResolvedConfig> =
        previous.and_then(|v| serde_json::from_value(v.clone()).ok());
    let resolved = berth_spec::config::resolve(
        &loaded.app,
        values,
        prev.as_ref(),
        &mut berth_spec::config::generate_value,
    )
    .map_err(|problems| {
        MatrixError::Input(format!(
            "config of {}: {}",
            dir.display(),
            problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    let opts = berth_render::AppRenderOptions {
        namespace: namespace.to_string(),
        revision: opts.revision.max(1),
        ..opts
    };
    let comps = berth_render::render_app(&loaded, &resolved, &opts)
        .map_err(|e| MatrixError::Input(format!("rendering {}: {e}", dir.display())))?;
    let plans = comps.iter().filter_map(|c| c.expose.clone()).collect();
    let objects = comps.into_iter().flat_map(|c| {
        let (namespace, weight) = (c.namespace, c.weight);
        c.objects.into_iter().map(move |o| Placed {
            object: o.object,
            source: o.source,
            namespace: namespace.clone(),
            weight,
        })
    });
    let config = serde_json::to_value(&resolved).unwrap_or(Value::Null);
    Ok((Release::of_app(&loaded.app, objects, config), plans))
}

/// The images berth.yaml lists besides those in pod specs (`images:`).
pub fn extra_images(dir: &Path) -> Result<Vec<String>, MatrixError> {
    let loaded = berth_spec::load(dir).map_err(|e| MatrixError::Input(e.to_string()))?;
    Ok(loaded.app.spec.images.clone())
}

/// The app's check files (preflight, support bundle, redactor) as (path, text).
pub fn check_files(dir: &Path) -> Result<Checks, MatrixError> {
    let loaded = berth_spec::load(dir).map_err(|e| MatrixError::Input(e.to_string()))?;
    let Some(c) = loaded.app.spec.checks.as_ref() else {
        return Ok(Checks::default());
    };
    let read = |files: &[String]| -> Result<Vec<(String, String)>, MatrixError> {
        files
            .iter()
            .map(|f| {
                let p = dir.join(f);
                std::fs::read_to_string(&p)
                    .map(|t| (f.clone(), t))
                    .map_err(|e| MatrixError::Input(format!("{}: {e}", p.display())))
            })
            .collect()
    };
    Ok(Checks {
        preflights: read(&c.preflights)?,
        support_bundles: read(&c.support_bundles)?,
        redactors: read(&c.redactors)?,
    })
}

/// The app's troubleshoot specs.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// `kind: Preflight` files.
    pub preflights: Vec<(String, String)>,
    /// `kind: SupportBundle` files.
    pub support_bundles: Vec<(String, String)>,
    /// `kind: Redactor` files.
    pub redactors: Vec<(String, String)>,
}
