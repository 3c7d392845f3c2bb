//! Remote chart dependencies (docs/formats/chart-cache.md): fill the chart cache from
//! `oci://` and `https://` repositories for a chart or every chart of an app (`berth lint`,
//! `berth release build`), or check that the cache already holds them (`--offline`);
//! `berth chart pull`; `berth chart dependency update|build`.

use crate::error::{Error, Result};
use berth_chart::{CachedChart, Chart, ChartCache, ChartLock, LockedDependency, RemoteNeed};
use berth_oci::{Client, ClientConfig, chartrepo};
use std::path::{Path, PathBuf};

/// Where remote charts come from.
#[derive(Clone, Debug)]
pub struct ChartFetch {
    /// The local cache.
    pub cache: ChartCache,
    /// Read only the cache.
    pub offline: bool,
    /// TLS, credentials and plain HTTP for registries and https repositories.
    pub registry: ClientConfig,
}

impl ChartFetch {
    /// The cache at `dir` (default: [`ChartCache::default_dir`]).
    pub fn new(dir: Option<PathBuf>, offline: bool, registry: ClientConfig) -> ChartFetch {
        ChartFetch {
            cache: ChartCache::new(dir.unwrap_or_else(ChartCache::default_dir)),
            offline,
            registry,
        }
    }
}

fn chart_err(e: berth_chart::ChartError) -> Error {
    Error::BadInput(e.to_string())
}

/// Finds `need` in its repository (or, when locked and cached, in the cache), downloads and
/// checks it, and keeps it in the cache.
async fn fetch_need(client: &Client, cache: &ChartCache, need: &RemoteNeed) -> Result<CachedChart> {
    if let Some(v) = &need.locked
        && let Some(hit) = cache
            .lookup(&need.repository, &need.name, v)
            .map_err(chart_err)?
    {
        return Ok(hit);
    }
    let offered = chartrepo::versions(client, &need.repository, &need.name).await?;
    let versions: Vec<String> = offered.iter().map(|v| v.version.clone()).collect();
    let Some(pick) = berth_chart::pick_version(need.wanted(), &versions) else {
        let mut shown: Vec<&str> = versions.iter().map(String::as_str).collect();
        shown.truncate(20);
        return Err(Error::BadInput(format!(
            "dependency {} {:?}: {} offers no matching version (it has: {}); change the version constraint in Chart.yaml",
            need.name,
            need.wanted(),
            need.repository,
            if shown.is_empty() {
                "none".to_string()
            } else {
                shown.join(", ")
            }
        )));
    };
    let chosen = offered
        .iter()
        .find(|v| v.version == pick)
        .expect("the picked version is one offered");
    let fetched = chartrepo::fetch(client, &need.repository, &need.name, chosen).await?;
    let chart = Chart::load_archive(&fetched.archive, &fetched.url).map_err(chart_err)?;
    if chart.name() != need.name || chart.metadata.version != pick {
        return Err(Error::BadInput(format!(
            "{} holds chart {} {}, not {} {pick}: the repository is inconsistent",
            fetched.url,
            chart.name(),
            chart.metadata.version,
            need.name
        )));
    }
    cache
        .store(
            &need.repository,
            &need.name,
            pick,
            &fetched.url,
            &fetched.archive,
        )
        .map_err(chart_err)
}

/// The cached archive for `need`, or the error naming what to run.
fn cached(chart: &str, cache: &ChartCache, need: &RemoteNeed) -> Result<CachedChart> {
    cache
        .lookup(&need.repository, &need.name, need.wanted())
        .map_err(chart_err)?
        .ok_or_else(|| {
            chart_err(berth_chart::ChartError::RemoteMissing {
                chart: chart.to_string(),
                name: need.name.clone(),
                repository: need.repository.clone(),
                constraint: need.wanted().to_string(),
                cache: cache.root().to_path_buf(),
            })
        })
}

/// Makes sure the cache holds every remote dependency the chart at `dir` lacks under
/// `charts/` (its Chart.lock pins versions); online it fetches them, offline it only checks.
pub async fn resolve_chart(dir: &Path, fetch: &ChartFetch) -> Result<Vec<CachedChart>> {
    // A chart that does not load has no dependencies to fetch; rendering it says why.
    let Ok(chart) = Chart::load(dir) else {
        return Ok(Vec::new());
    };
    resolve_loaded(&chart, fetch).await
}

/// Whether the loaded chart lists remote dependencies it does not vendor.
fn needs_remote(chart: &Chart) -> bool {
    berth_chart::remote_needs(chart, None).is_ok_and(|n| !n.is_empty())
}

/// [`resolve_chart`] for a chart already loaded.
pub async fn resolve_loaded(chart: &Chart, fetch: &ChartFetch) -> Result<Vec<CachedChart>> {
    if !needs_remote(chart) {
        return Ok(Vec::new());
    }
    let lock = ChartLock::of(chart).map_err(chart_err)?;
    let needs = berth_chart::remote_needs(chart, lock.as_ref()).map_err(chart_err)?;
    let mut out = Vec::new();
    if needs.is_empty() {
        return Ok(out);
    }
    if fetch.offline {
        for n in &needs {
            out.push(cached(chart.name(), &fetch.cache, n)?);
        }
        return Ok(out);
    }
    let client = Client::new(fetch.registry.clone())?;
    for n in &needs {
        out.push(fetch_need(&client, &fetch.cache, n).await?);
    }
    Ok(out)
}

/// Attach the loaded chart's remote dependencies from the cache, fetched into it first
/// unless `fetch` is offline (`berth template`); nothing to do for a chart without any.
pub async fn attach_dependencies(chart: &mut Chart, fetch: &ChartFetch) -> Result<()> {
    if !resolve_loaded(chart, fetch).await?.is_empty() {
        berth_chart::attach_from_cache(chart, &fetch.cache).map_err(chart_err)?;
    }
    Ok(())
}

/// Lint's view of the app's remote chart dependencies ([`resolve_app`]): none, or one
/// problem (code `chart-dependency`) naming the dependency and how to fill the cache.
pub async fn lint_dependencies(
    app_dir: &Path,
    file: &Path,
    fetch: &ChartFetch,
) -> Option<berth_spec::Problem> {
    let e = resolve_app(app_dir, fetch).await.err()?;
    Some(berth_spec::Problem {
        severity: berth_spec::Severity::Error,
        code: "chart-dependency",
        file: file.to_path_buf(),
        pos: None,
        field: String::new(),
        message: e.to_string(),
        help: Some(if fetch.offline {
            "fill the chart cache while online (`berth chart dependency update CHART_DIR`), or vendor the chart under charts/".into()
        } else {
            "check the dependency's repository, name and version in Chart.yaml, and the registry flags".into()
        }),
    })
}

/// [`resolve_chart`] for every local chart component of the app at `app_dir`, and every
/// remote chart component (`chart.repo`) not already among the app's `vendored-charts/`.
pub async fn resolve_app(app_dir: &Path, fetch: &ChartFetch) -> Result<Vec<CachedChart>> {
    let loaded = berth_spec::load(app_dir).map_err(|e| Error::BadInput(e.to_string()))?;
    let mut out = Vec::new();
    for c in &loaded.app.spec.components {
        let Some(chart) = &c.chart else { continue };
        if let Some(path) = &chart.path {
            let dir = loaded.path(path);
            out.extend(resolve_chart(&dir, fetch).await.map_err(|e| {
                Error::BadInput(format!("component {}: chart {path}: {e}", c.name))
            })?);
        } else if let Some(hit) = resolve_component(&loaded, chart, fetch)
            .await
            .map_err(|e| Error::BadInput(format!("component {}: {e}", c.name)))?
        {
            out.push(hit);
        }
    }
    Ok(out)
}

/// A remote chart component's archive in the cache (fetched unless offline); `None` when the
/// app already carries it under `vendored-charts/`.
async fn resolve_component(
    app: &berth_spec::LoadedApp,
    chart: &berth_spec::ChartSource,
    fetch: &ChartFetch,
) -> Result<Option<CachedChart>> {
    let Some((repository, name, version)) = berth_render::remote_chart(chart) else {
        return Ok(None); // lint reports the incomplete source
    };
    let vendored = format!("{}/{name}-{version}.tgz", berth_render::VENDORED_CHARTS);
    if app.path(&vendored).is_file() {
        return Ok(None);
    }
    let need = RemoteNeed {
        name,
        repository,
        constraint: version.clone(),
        locked: Some(version),
    };
    let hit = if fetch.offline {
        cached(&need.name, &fetch.cache, &need)?
    } else {
        let client = Client::new(fetch.registry.clone())?;
        fetch_need(&client, &fetch.cache, &need).await?
    };
    Ok(Some(hit))
}

/// The remote dependencies of the app's chart components as release files:
/// `(CHART_PATH/charts/NAME-VERSION.tgz, archive)`, resolved as [`resolve_app`] does.
pub async fn vendor_files(app_dir: &Path, fetch: &ChartFetch) -> Result<Vec<(String, Vec<u8>)>> {
    let loaded = berth_spec::load(app_dir).map_err(|e| Error::BadInput(e.to_string()))?;
    let mut out = Vec::new();
    for c in &loaded.app.spec.components {
        let Some(chart) = &c.chart else { continue };
        let Some(path) = &chart.path else {
            let hit = resolve_component(&loaded, chart, fetch)
                .await
                .map_err(|e| Error::BadInput(format!("component {}: {e}", c.name)))?;
            if let Some(h) = hit {
                let bytes = fetch.cache.read(&h).map_err(chart_err)?;
                let rel = format!(
                    "{}/{}-{}.tgz",
                    berth_render::VENDORED_CHARTS,
                    h.name,
                    h.version
                );
                out.push((rel, bytes));
            }
            continue;
        };
        let dir = loaded.path(path);
        if !dir.is_dir() {
            continue; // a packaged chart carries its dependencies
        }
        let hits = resolve_chart(&dir, fetch)
            .await
            .map_err(|e| Error::BadInput(format!("component {}: chart {path}: {e}", c.name)))?;
        for h in hits {
            let bytes = fetch.cache.read(&h).map_err(chart_err)?;
            let rel = format!(
                "{}/charts/{}-{}.tgz",
                path.trim_end_matches('/'),
                h.name,
                h.version
            );
            out.push((rel, bytes));
        }
    }
    Ok(out)
}

/// A chart reference on the command line: `oci://REGISTRY/PATH/NAME` or
/// `https://REPO/NAME` → (repository, name).
pub fn split_reference(reference: &str) -> Result<(String, String)> {
    let ok = berth_chart::is_remote_repository(reference);
    let split = reference.trim_end_matches('/').rsplit_once('/');
    match split {
        Some((repo, name)) if ok && !name.is_empty() && !repo.ends_with('/') => {
            Ok((repo.to_string(), name.to_string()))
        }
        _ => Err(Error::BadInput(format!(
            "{reference}: write oci://REGISTRY/PATH/NAME or https://REPOSITORY/NAME (the repository holding index.yaml, then the chart name)"
        ))),
    }
}

/// `berth chart pull`: the chart's archive as `dest/NAME-VERSION.tgz` (also kept in the cache).
pub async fn pull(
    reference: &str,
    version: Option<&str>,
    dest: &Path,
    fetch: &ChartFetch,
) -> Result<(CachedChart, PathBuf)> {
    let (repository, name) = split_reference(reference)?;
    let need = RemoteNeed {
        name,
        repository,
        constraint: version.unwrap_or_default().to_string(),
        locked: None,
    };
    let hit = if fetch.offline {
        cached(reference, &fetch.cache, &need)?
    } else {
        let client = Client::new(fetch.registry.clone())?;
        fetch_need(&client, &fetch.cache, &need).await?
    };
    let out = dest.join(format!("{}-{}.tgz", hit.name, hit.version));
    write_archive(&fetch.cache, &hit, &out)?;
    Ok((hit, out))
}

fn write_archive(cache: &ChartCache, hit: &CachedChart, out: &Path) -> Result<()> {
    write_chart_file(out, &cache.read(hit).map_err(chart_err)?)
}

/// Writes a chart archive at `out`, creating its directory.
fn write_chart_file(out: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(p) = out.parent() {
        std::fs::create_dir_all(p).map_err(|e| Error::Failed(format!("{}: {e}", p.display())))?;
    }
    std::fs::write(out, bytes).map_err(|e| Error::Failed(format!("{}: {e}", out.display())))
}

/// `berth chart dependency update|build CHART_DIR`: every remote dependency of Chart.yaml
/// into `charts/NAME-VERSION.tgz`, every `file://` dependency packaged there from its
/// directory, and Chart.lock written in Helm's format. `build` honours
/// an existing Chart.lock; `update` resolves the constraints again.
pub async fn dependency_update(
    dir: &Path,
    honour_lock: bool,
    fetch: &ChartFetch,
) -> Result<ChartLock> {
    let mut chart = Chart::load(dir).map_err(chart_err)?;
    let lock = if honour_lock {
        ChartLock::of(&chart).map_err(chart_err)?
    } else {
        None
    };
    let deps = chart.metadata.dependencies.clone().unwrap_or_default();
    // Local charts first: a wrong path fails before anything is fetched or written over.
    let mut local: Vec<LockedDependency> = Vec::new();
    for d in deps.iter().filter(|d| d.repository.starts_with("file://")) {
        local.push(LockedDependency {
            name: d.name.clone(),
            repository: d.repository.clone(),
            version: package_local(dir, chart.name(), d)?,
        });
    }
    // Resolve every remote dependency, vendored or not: the archives are written again.
    let vendored = std::mem::take(&mut chart.dependencies);
    let resolved = fetch_remote(dir, &chart, lock.as_ref(), fetch).await?;
    let locked: Vec<LockedDependency> = deps
        .iter()
        .map(|d| {
            let version = resolved
                .iter()
                .find(|r| r.name == d.name && r.repository == d.repository.trim_end_matches('/'))
                .map(|r| r.version.clone())
                .or_else(|| {
                    local
                        .iter()
                        .find(|l| l.name == d.name && l.repository == d.repository)
                        .map(|l| l.version.clone())
                })
                .or_else(|| {
                    vendored
                        .iter()
                        .find(|c| c.name() == d.name)
                        .map(|c| c.metadata.version.clone())
                })
                .unwrap_or_else(|| d.version.clone());
            LockedDependency {
                name: d.name.clone(),
                repository: d.repository.clone(),
                version,
            }
        })
        .collect();
    let lock = ChartLock {
        digest: berth_chart::lock_digest(&deps, &locked),
        dependencies: locked,
        generated: jiff::Timestamp::now().to_string(),
    };
    let path = dir.join("Chart.lock");
    std::fs::write(&path, lock_yaml(&lock))
        .map_err(|e| Error::Failed(format!("{}: {e}", path.display())))?;
    Ok(lock)
}

/// The chart's remote dependencies (its vendored charts set aside) fetched, or read from
/// the cache offline, and written as `dir/charts/NAME-VERSION.tgz`.
async fn fetch_remote(
    dir: &Path,
    chart: &Chart,
    lock: Option<&ChartLock>,
    fetch: &ChartFetch,
) -> Result<Vec<CachedChart>> {
    let needs = berth_chart::remote_needs(chart, lock).map_err(chart_err)?;
    let client = if fetch.offline || needs.is_empty() {
        None
    } else {
        Some(Client::new(fetch.registry.clone())?)
    };
    let mut resolved: Vec<CachedChart> = Vec::new();
    for n in &needs {
        let hit = match &client {
            None => cached(chart.name(), &fetch.cache, n)?,
            Some(c) => fetch_need(c, &fetch.cache, n).await?,
        };
        let out = dir
            .join("charts")
            .join(format!("{}-{}.tgz", hit.name, hit.version));
        write_archive(&fetch.cache, &hit, &out)?;
        resolved.push(hit);
    }
    Ok(resolved)
}

/// A `file://` dependency of the chart at `dir` packaged from its directory into
/// `charts/NAME-VERSION.tgz`, as Helm's `dependency update` does; the path is relative to
/// the chart directory unless absolute. Returns the version it has (the one Chart.lock pins).
fn package_local(dir: &Path, chart: &str, d: &berth_chart::Dependency) -> Result<String> {
    let rel = d.repository.trim_start_matches("file://");
    let path = if Path::new(rel).is_absolute() {
        PathBuf::from(rel)
    } else {
        dir.join(rel)
    };
    let what = format!(
        "chart {chart} ({}/Chart.yaml): dependency {} (repository {})",
        dir.display(),
        d.name,
        d.repository
    );
    if !path.is_dir() {
        return Err(Error::BadInput(format!(
            "{what}: {} is not a directory; write the path of the dependency's chart directory, relative to {}, in its repository field",
            path.display(),
            dir.display()
        )));
    }
    let (sub, archive) =
        berth_chart::package_dir(&path).map_err(|e| Error::BadInput(format!("{what}: {e}")))?;
    let version = sub.metadata.version.clone();
    if sub.name() != d.name {
        return Err(Error::BadInput(format!(
            "{what}: {} holds chart {:?}, not {:?}; fix the name or the repository path in Chart.yaml",
            path.display(),
            sub.name(),
            d.name
        )));
    }
    if berth_chart::pick_version(&d.version, std::slice::from_ref(&version)).is_none() {
        return Err(Error::BadInput(format!(
            "{what}: {} is version {version}, outside the constraint {:?}; change the constraint in Chart.yaml or the version in {}",
            path.display(),
            d.version,
            path.join("Chart.yaml").display()
        )));
    }
    let out = dir.join("charts").join(format!("{}-{version}.tgz", d.name));
    write_chart_file(&out, &archive)?;
    Ok(version)
}

/// Chart.lock as Helm writes it (keys sorted, two-space list items).
fn lock_yaml(lock: &ChartLock) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut out = String::from("dependencies:\n");
    for d in &lock.dependencies {
        out.push_str(&format!(
            "- name: {}\n  repository: {}\n  version: {}\n",
            q(&d.name),
            q(&d.repository),
            q(&d.version)
        ));
    }
    out.push_str(&format!(
        "digest: {}\ngenerated: {}\n",
        lock.digest,
        q(&lock.generated)
    ));
    out
}
