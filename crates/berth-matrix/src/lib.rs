//! The support matrix: one app tested on every cell of Kubernetes versions × distributions ×
//! online/air-gapped, each cell on its own fresh in-process simulated cluster (berth-kube-sim
//! with the distribution's profile at that version). A cell runs preflight, install (an
//! air-gapped cell through a signed bundle pushed into a registry only its cluster reaches),
//! readiness, upgrade (with `upgrade_from`), the app's test hooks, a support bundle with its
//! analysis and uninstall; its result names the step that failed and berth's diagnosis.
//! Reports: a self-contained HTML grid, JUnit XML and JSON (docs/formats/matrix-report.md).
//!
//! With `--ingress`, each cell's cluster offers one ingress flavour and the `expose` step
//! checks the object berth generated for the app's `expose` was created and admitted.
//!
//! Modules: [`plan`] (dimensions → cells, pure), [`distro`] (cell → simulator profile),
//! [`stage`] (the vendor's release and signed bundle, once per run), [`app`] (render an app
//! directory), `cell` (one cell's steps), `exposure` (the cell's ingress offer and the `expose`
//! step), [`diagnose`], `tests` (test hooks), [`report`].

pub mod app;
mod cell;
pub mod diagnose;
pub mod distro;
mod exposure;
pub mod plan;
pub mod report;
pub mod stage;
mod tests;

use berth_kube_sim::Profile;
use futures::StreamExt as _;
use plan::Cell;
use report::{CellResult, MatrixReport};
use stage::Staged;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Errors that stop the whole run (a failing cell is a result, not an error).
#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    /// Bad arguments or app files.
    #[error("{0}")]
    Input(String),
    /// Building the release or bundle the air-gapped cells install from failed.
    #[error("staging the release: {0}")]
    Stage(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl MatrixError {
    fn io(path: impl AsRef<Path>, source: std::io::Error) -> MatrixError {
        MatrixError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
}

/// Changes a cell's simulator profile before it starts (tests and `--sim-*` options model
/// the cluster differences that break installs).
pub type ProfileTweak = Arc<dyn Fn(&Cell, &mut Profile) + Send + Sync>;

/// What to run.
#[derive(Clone)]
pub struct MatrixOptions {
    /// The app directory (holding berth.yaml) to test.
    pub app_dir: PathBuf,
    /// Install this first (an app directory or a release directory), then upgrade.
    pub upgrade_from: Option<PathBuf>,
    /// The cells.
    pub cells: Vec<Cell>,
    /// Cells run at once.
    pub jobs: usize,
    /// Where the reports and per-cell logs and support bundles go.
    pub out_dir: PathBuf,
    /// Config values given to every cell.
    pub values: app::ConfigValues,
    /// Config values for the cells of one distribution (over `values`).
    pub values_for: std::collections::BTreeMap<String, app::ConfigValues>,
    /// How long a cell waits for readiness.
    pub timeout: Duration,
    /// Give up waiting once a diagnosis has held this long.
    pub fail_fast: Duration,
    /// Profile changes applied to every cell.
    pub profile: Option<ProfileTweak>,
    /// Air-gapped cells' registries require a user and password (basic auth), as a
    /// customer's private registry does: the images are pushed with them and every pod pulls
    /// through a pull Secret that the install creates.
    pub registry_auth: bool,
}

impl std::fmt::Debug for MatrixOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixOptions")
            .field("app_dir", &self.app_dir)
            .field("cells", &self.cells.len())
            .field("jobs", &self.jobs)
            .finish_non_exhaustive()
    }
}

/// What every cell shares.
pub(crate) struct Shared {
    opts: MatrixOptions,
    target: Arc<Staged>,
    from: Option<Arc<Staged>>,
    checks: app::Checks,
    namespace: String,
    out_dir: PathBuf,
}

impl MatrixOptions {
    /// The config values of a cell: the common ones, then its distribution's.
    pub fn values_of(&self, cell: &Cell) -> app::ConfigValues {
        let mut v = self.values.clone();
        if let Some(d) = self.values_for.get(&cell.distribution) {
            v.extend(d.clone());
        }
        v
    }
}

/// Paths of the written reports.
#[derive(Debug, Clone)]
pub struct Written {
    /// `index.html`.
    pub html: PathBuf,
    /// `junit.xml`.
    pub junit: PathBuf,
    /// `matrix.json`.
    pub json: PathBuf,
}

/// Stage the app (and the version to upgrade from), run every cell, return the results in
/// plan order. `on_cell` sees each cell as it finishes.
pub async fn run(
    opts: MatrixOptions,
    on_cell: &(dyn Fn(&CellResult) + Sync),
) -> Result<MatrixReport, MatrixError> {
    let t0 = Instant::now();
    if !opts.app_dir.join("berth.yaml").is_file() {
        return Err(MatrixError::Input(format!(
            "{} holds no berth.yaml; give the app directory",
            opts.app_dir.display()
        )));
    }
    if let Some(f) = &opts.upgrade_from
        && !f.is_dir()
    {
        return Err(MatrixError::Input(format!(
            "--upgrade-from {}: not a directory; give the previous version's app directory or its release directory (from `berth release build`)",
            f.display()
        )));
    }
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| MatrixError::io(&opts.out_dir, e))?;
    let work = opts.out_dir.join("staging");
    let airgapped = opts.cells.iter().any(|c| c.airgapped);
    let target =
        Arc::new(stage_or_plain(&opts.app_dir, &opts.values, &work, "target", airgapped).await?);
    let from = match &opts.upgrade_from {
        Some(dir) => Some(Arc::new(
            stage_or_plain(dir, &opts.values, &work, "upgrade-from", airgapped).await?,
        )),
        None => None,
    };
    if let Some(f) = &from
        && f.app != target.app
    {
        return Err(MatrixError::Input(format!(
            "--upgrade-from holds app {:?}, but {} holds {:?}",
            f.app,
            opts.app_dir.display(),
            target.app
        )));
    }
    let checks = app::check_files(&target.app_dir)?;
    let shared = Arc::new(Shared {
        namespace: target.app.clone(),
        out_dir: opts.out_dir.clone(),
        checks,
        from: from.clone(),
        target: target.clone(),
        opts: opts.clone(),
    });
    let jobs = opts.jobs.max(1);
    let mut results: Vec<(usize, CellResult)> =
        futures::stream::iter(opts.cells.iter().cloned().enumerate())
            .map(|(i, c)| {
                let shared = shared.clone();
                async move { (i, run_on_own_thread(c, shared).await) }
            })
            .buffer_unordered(jobs)
            .inspect(|(_, r)| on_cell(r))
            .collect()
            .await;
    results.sort_by_key(|(i, _)| *i);
    Ok(MatrixReport {
        app: target.app.clone(),
        version: target.version.clone(),
        upgrade_from: from.map(|f| f.version.clone()),
        jobs,
        seconds: t0.elapsed().as_secs_f64(),
        cells: results.into_iter().map(|(_, r)| r).collect(),
    })
}

/// Run a cell on a thread of its own with its own runtime of one worker: its simulator,
/// registry and client share that worker, and no cell's synchronous work (rendering,
/// writing the support bundle) holds up another's. A multi-threaded runtime (of one) because
/// a chart's `lookup` blocks on the cluster from inside rendering, which only such a runtime
/// allows.
async fn run_on_own_thread(c: Cell, shared: Arc<Shared>) -> CellResult {
    let cell = c.clone();
    let res = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(rt.block_on(cell::run_cell(c, shared)))
    })
    .await;
    match res {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => crashed(cell, &format!("cannot start its runtime: {e}")),
        Err(e) => crashed(cell, &e.to_string()),
    }
}

fn crashed(cell: Cell, why: &str) -> CellResult {
    CellResult {
        id: cell.id(),
        passed: false,
        failed_step: Some("cluster".into()),
        diagnosis: Some(report::CellDiagnosis {
            object: String::new(),
            cause: format!("the cell's thread ended abnormally: {why}"),
            fix: "report this as a berth bug with the cell's log".into(),
        }),
        server_version: String::new(),
        steps: vec![],
        seconds: 0.0,
        log: format!("cells/{}/log.txt", cell.id()),
        support_bundle: None,
        cell,
    }
}

/// A staged release when air-gapped cells need one; else just the app directory.
async fn stage_or_plain(
    dir: &Path,
    values: &app::ConfigValues,
    work: &Path,
    label: &str,
    airgapped: bool,
) -> Result<Staged, MatrixError> {
    if airgapped || stage::is_release_dir(dir) {
        return stage::stage(dir, values, work, label).await;
    }
    let (app, version) = app::identity(dir)?;
    Ok(Staged {
        app_dir: dir.to_path_buf(),
        app,
        version,
        release_dir: PathBuf::new(),
        bundle: PathBuf::new(),
        pubkey: PathBuf::new(),
    })
}

/// Write `index.html`, `junit.xml` and `matrix.json` into `dir`.
pub fn write_reports(r: &MatrixReport, dir: &Path) -> Result<Written, MatrixError> {
    std::fs::create_dir_all(dir).map_err(|e| MatrixError::io(dir, e))?;
    let w = Written {
        html: dir.join("index.html"),
        junit: dir.join("junit.xml"),
        json: dir.join("matrix.json"),
    };
    for (p, text) in [
        (&w.html, report::html(r)),
        (&w.junit, report::junit(r)),
        (&w.json, report::json(r)),
    ] {
        std::fs::write(p, text).map_err(|e| MatrixError::io(p, e))?;
    }
    Ok(w)
}
