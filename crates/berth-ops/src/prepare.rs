//! From an app directory and the customer's config to the objects the engine deploys: load
//! `berth.yaml` (berth-spec), resolve the config (keeping generated values), render every
//! component (berth-render), and attach what berth.yaml says about upgrades.

use crate::error::{Error, Result};
use berth_deploy::engine::{Engine, Placed, Release};
use berth_spec::config::ResolvedConfig;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The customer's config input: merged values and a label naming where they came from (for
/// messages: `values.yaml + --set`).
#[derive(Debug, Clone)]
pub struct ConfigInput {
    /// Config item name → value.
    pub values: BTreeMap<String, Value>,
    /// Where the values came from, for messages.
    pub label: String,
}

impl Default for ConfigInput {
    fn default() -> ConfigInput {
        ConfigInput {
            values: BTreeMap::new(),
            label: "config".into(),
        }
    }
}

/// `--set`-style expressions, applied after the files in this order.
#[derive(Debug, Clone, Default)]
pub struct SetExprs {
    /// `ITEM=VALUE`, typed (Helm's `--set`).
    pub set: Vec<String>,
    /// `ITEM=VALUE` as strings (Helm's `--set-string`).
    pub set_string: Vec<String>,
    /// `ITEM=PATH`: the file's contents (Helm's `--set-file`).
    pub set_file: Vec<String>,
    /// `ITEM=JSON` (Helm's `--set-json`), applied first.
    pub set_json: Vec<String>,
    /// `ITEM=TEXT`, all of TEXT one string (Helm's `--set-literal`), applied last.
    pub set_literal: Vec<String>,
}

impl ConfigInput {
    /// Read config files (YAML mappings; later files win), then apply the `--set*`
    /// expressions with Helm's parsing. Errors name the file or expression.
    pub fn read(files: &[std::path::PathBuf], sets: &SetExprs) -> Result<ConfigInput> {
        let mut values = BTreeMap::new();
        for f in files {
            let text = std::fs::read_to_string(f).map_err(|e| {
                Error::BadInput(format!("cannot read config file {}: {e}", f.display()))
            })?;
            let v = berth_spec::config::parse_values(&text)
                .map_err(|e| Error::BadInput(format!("{}: {e}", f.display())))?;
            values.extend(v);
        }
        let mut map: serde_json::Map<String, Value> = values.into_iter().collect();
        let no_files = |_: &str| -> std::result::Result<String, String> {
            Err("not a file expression".into())
        };
        let read = |p: &str| -> std::result::Result<String, String> {
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {p}: {e}"))
        };
        for (flag, exprs, kind) in [
            ("--set-json", &sets.set_json, berth_chart::SetKind::Json),
            ("--set", &sets.set, berth_chart::SetKind::Typed),
            (
                "--set-string",
                &sets.set_string,
                berth_chart::SetKind::String,
            ),
            ("--set-file", &sets.set_file, berth_chart::SetKind::File),
            (
                "--set-literal",
                &sets.set_literal,
                berth_chart::SetKind::Literal,
            ),
        ] {
            let reader: &dyn Fn(&str) -> std::result::Result<String, String> =
                if kind == berth_chart::SetKind::File {
                    &read
                } else {
                    &no_files
                };
            for e in exprs {
                berth_chart::parse_set_into(e, &mut map, kind, reader)
                    .map_err(|m| Error::BadInput(format!("{flag} {e}: {m}")))?;
            }
        }
        let mut sources: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        if !(sets.set.is_empty()
            && sets.set_string.is_empty()
            && sets.set_file.is_empty()
            && sets.set_json.is_empty()
            && sets.set_literal.is_empty())
        {
            sources.push("--set".into());
        }
        Ok(ConfigInput {
            values: map.into_iter().collect(),
            label: if sources.is_empty() {
                "config".into()
            } else {
                sources.join(" + ")
            },
        })
    }

    /// One optional config file (none: no values).
    pub fn from_file(file: Option<&Path>) -> Result<ConfigInput> {
        match file {
            None => Ok(ConfigInput::default()),
            Some(f) => ConfigInput::read(&[f.to_path_buf()], &SetExprs::default()),
        }
    }
}

/// Rendered release, ready for the engine.
pub struct Prepared {
    /// What to deploy.
    pub release: Release,
    /// What each component's `expose` generated (its objects are in `release`).
    pub exposed: Vec<berth_render::expose::ExposePlan>,
}

/// Load berth.yaml, resolve the config file (keeping generated values of `previous`), render.
pub fn prepare(
    app_dir: &Path,
    config_file: Option<&Path>,
    namespace: Option<&str>,
    previous: Option<&Value>,
    render: berth_render::AppRenderOptions,
) -> Result<Prepared> {
    let input = ConfigInput::from_file(config_file)?;
    prepare_input(app_dir, &input, namespace, previous, render)
}

/// Load berth.yaml and resolve the config input (keeping generated values of `previous`):
/// every problem the user can fix before berth touches the network, all at once.
pub fn resolve(
    app_dir: &Path,
    config: &ConfigInput,
    previous: Option<&Value>,
) -> Result<(berth_spec::LoadedApp, ResolvedConfig)> {
    let loaded = berth_spec::load(app_dir).map_err(|e| Error::BadInput(e.to_string()))?;
    let prev: Option<ResolvedConfig> =
        previous.and_then(|v| serde_json::from_value(v.clone()).ok());
    let resolved = berth_spec::config::resolve(
        &loaded.app,
        &config.values,
        prev.as_ref(),
        &mut berth_spec::config::generate_value,
    )
    .map_err(|problems| {
        Error::BadInput(format!(
            "{} has {} problem(s):\n{}",
            config.label,
            problems.len(),
            problems
                .iter()
                .map(|p| format!("  - {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        ))
    })?;
    Ok((loaded, resolved))
}

/// [`prepare`] with config input already read.
pub fn prepare_input(
    app_dir: &Path,
    config: &ConfigInput,
    namespace: Option<&str>,
    previous: Option<&Value>,
    render: berth_render::AppRenderOptions,
) -> Result<Prepared> {
    let (loaded, resolved) = resolve(app_dir, config, previous)?;
    let app = &loaded.app;
    let namespace = namespace
        .map(str::to_string)
        .unwrap_or_else(|| app.metadata.name.clone());
    let opts = berth_render::AppRenderOptions {
        namespace: namespace.clone(),
        revision: render.revision.max(1),
        ..render
    };
    let comps = berth_render::render_app(&loaded, &resolved, &opts)
        .map_err(|e| Error::BadInput(e.to_string()))?;
    let exposed = comps.iter().filter_map(|c| c.expose.clone()).collect();
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
    Ok(Prepared {
        release: Release::of_app(app, objects, config),
        exposed,
    })
}

/// What templates see of the live cluster on install, upgrade and diff (as `helm install`):
/// the revision being written, the server's version and API versions, and `lookup`.
pub async fn live_render_options(
    engine: &Engine,
    history: &[berth_deploy::inventory::Revision],
    is_upgrade: bool,
) -> Result<berth_render::AppRenderOptions> {
    let cluster = engine.cluster();
    Ok(berth_render::AppRenderOptions {
        revision: i64::from(history.iter().map(|r| r.number).max().unwrap_or(0)) + 1,
        is_upgrade,
        kube_version: Some(cluster.git_version().await?),
        live_api_versions: Some(cluster.api_versions().await?),
        lookup: Some(cluster.template_lookup()),
        ..Default::default()
    })
}
