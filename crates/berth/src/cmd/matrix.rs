//! `berth matrix`: wiring of `berth-matrix` (parse the dimensions, run, print a line per cell,
//! write the reports). Exit code 1 when any cell fails, 2 on bad input.

use anyhow::{Context as _, Result};
use berth_matrix::report::CellResult;
use berth_matrix::{MatrixOptions, plan};
use std::path::PathBuf;
use std::time::Duration;

/// Test the app on every cell of a support matrix, each on a fresh simulated cluster.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Each cell runs: preflight, install (air-gapped cells: through a signed bundle pushed into a registry only that cluster reaches), readiness, upgrade (with --upgrade-from), with --ingress the check that the object generated for the app's `expose` was admitted, the app's test hooks (helm.sh/hook: test), a support bundle with its analysis, uninstall.\n\n\
Reports go to --out: index.html (the grid, each cell linking to its log and diagnosis), junit.xml, matrix.json.\n\
Exit codes: 0 every cell passed, 1 a cell failed, 2 bad input.\n\n\
Examples:\n  berth matrix examples/hello --kube 1.28..1.35 --airgap both\n  \
berth matrix . --distribution generic,k3s,eks --jobs 4\n  \
berth matrix . --distribution openshift --upgrade-from ../v1.release\n  \
berth matrix . --airgap airgapped --registry-auth\n  \
berth matrix . --namespace-quota limits.cpu=2,limits.memory=2Gi\n  \
berth matrix . --default-deny ingress,egress\n  \
berth matrix . --kube 1.33 --kubeconfig ~/.kube/staging.yaml\n  \
berth matrix . --kube 1.30,1.33 --set ingress_class=traefik --out report\n  \
berth matrix examples/expose --ingress nginx,traefik,gateway-api,istio"
)]
pub struct Args {
    /// The app directory (holding berth.yaml).
    #[arg(default_value = ".")]
    app_dir: PathBuf,
    /// Kubernetes versions: a range 1.28..1.35 or a list 1.30,1.32.
    #[arg(long, default_value = "1.28..1.35")]
    kube: String,
    /// Distributions (generic, k3s, rke2, eks, gke, aks, openshift), comma-separated.
    #[arg(long, default_value = "generic,k3s,eks")]
    distribution: String,
    /// online, airgapped or both.
    #[arg(long, default_value = "both")]
    airgap: String,
    /// Ingress flavours, comma-separated (nginx, f5-nginx, traefik, haproxy, contour, alb,
    /// gce, azure-application-gateway, aks-app-routing, gateway-api, openshift-route, istio):
    /// each cell's cluster offers one. Cloud flavours pair with their distribution only.
    #[arg(long, value_name = "FLAVOURS")]
    ingress: Option<String>,
    /// Install this version first, then upgrade: its app directory or its release directory
    /// (from `berth release build`).
    #[arg(long, value_name = "DIR")]
    upgrade_from: Option<PathBuf>,
    /// Cells run at once.
    #[arg(long, default_value_t = 8)]
    jobs: usize,
    /// Where the reports, cell logs and support bundles go.
    #[arg(long, default_value = "matrix-report")]
    out: PathBuf,
    /// Config values for every cell (a YAML mapping of config item names to values).
    #[arg(long = "config", short = 'f', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Set a config item (ITEM=VALUE) for every cell, or for one distribution's cells
    /// (DISTRIBUTION:ITEM=VALUE, e.g. k3s:ingress_class=traefik), after --config.
    #[arg(long, value_name = "ITEM=VALUE")]
    set: Vec<String>,
    /// Pod Security level every cell's cluster enforces in namespaces without the
    /// pod-security.kubernetes.io/enforce label (privileged, baseline, restricted), as
    /// hardened clusters configure it.
    #[arg(long, value_name = "LEVEL")]
    pod_security: Option<String>,
    /// Add a real cluster as a column (repeatable): the same steps, online, in a throwaway
    /// namespace that is deleted afterwards.
    #[arg(long, value_name = "FILE")]
    kubeconfig: Vec<PathBuf>,
    /// Every cell's cluster puts this ResourceQuota into each new namespace, as
    /// multi-tenant clusters do (RESOURCE=QUANTITY,...: limits.cpu=2,limits.memory=2Gi,pods=10):
    /// containers must then state those requests or limits.
    #[arg(long, value_name = "HARD")]
    namespace_quota: Option<String>,
    /// Every cell's cluster puts a NetworkPolicy default-deny (all pods, no rules) into each
    /// new namespace, as hardened clusters do (ingress, or ingress,egress): the app's test
    /// hooks then reach its Services only through NetworkPolicies the app ships.
    #[arg(long, value_name = "DIRECTIONS")]
    default_deny: Option<String>,
    /// Air-gapped cells' registries require a user and password, as a customer's private
    /// registry does: images are pushed with them, and the install creates a pull Secret
    /// that every pod references.
    #[arg(long)]
    registry_auth: bool,
    /// How long a cell waits for readiness (seconds).
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

/// `berth matrix`.
pub fn run(a: Args) -> Result<u8> {
    let minors = plan::parse_kube(&a.kube).map_err(|e| crate::exit::BadInput(e.to_string()))?;
    let dists = plan::parse_distributions(&a.distribution)
        .map_err(|e| crate::exit::BadInput(e.to_string()))?;
    let airgap =
        plan::AirgapMode::parse(&a.airgap).map_err(|e| crate::exit::BadInput(e.to_string()))?;
    let mut values = match &a.config {
        Some(f) => {
            let text = std::fs::read_to_string(f).map_err(|e| {
                crate::exit::BadInput(format!("cannot read config file {}: {e}", f.display()))
            })?;
            berth_spec::config::parse_values(&text)
                .map_err(|e| crate::exit::BadInput(format!("{}: {e}", f.display())))?
        }
        None => Default::default(),
    };
    let mut values_for: std::collections::BTreeMap<String, berth_matrix::app::ConfigValues> =
        Default::default();
    for s in &a.set {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| crate::exit::BadInput(format!("--set {s:?}: expected ITEM=VALUE")))?;
        let parsed = berth_spec::config::parse_values(&format!("v: {v}"))
            .ok()
            .and_then(|mut m| m.remove("v"))
            .unwrap_or_else(|| serde_json::Value::String(v.to_string()));
        match k.split_once(':') {
            Some((d, item)) => {
                let d = plan::parse_distributions(d)
                    .map_err(|e| crate::exit::BadInput(format!("--set {s:?}: {e}")))?;
                for d in d {
                    values_for
                        .entry(d)
                        .or_default()
                        .insert(item.trim().to_string(), parsed.clone());
                }
            }
            None => {
                values.insert(k.trim().to_string(), parsed);
            }
        }
    }
    let ingress = match &a.ingress {
        Some(i) => plan::parse_ingress(i).map_err(|e| crate::exit::BadInput(e.to_string()))?,
        None => Vec::new(),
    };
    let mut cells = plan::cells_with_ingress(&minors, &dists, airgap, &ingress)
        .map_err(|e| crate::exit::BadInput(e.to_string()))?;
    for k in &a.kubeconfig {
        cells.push(plan::live_cell(k).map_err(|e| crate::exit::BadInput(e.to_string()))?);
    }
    let profile = profile_tweak(
        a.pod_security.clone(),
        a.namespace_quota.as_deref(),
        a.default_deny.as_deref(),
    )?;
    let opts = MatrixOptions {
        app_dir: a.app_dir.clone(),
        upgrade_from: a.upgrade_from.clone(),
        cells,
        jobs: a.jobs,
        out_dir: a.out.clone(),
        values,
        values_for,
        timeout: Duration::from_secs(a.timeout.max(1)),
        fail_fast: Duration::from_secs(4),
        profile,
        registry_auth: a.registry_auth,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let n = opts.cells.len();
    eprintln!("berth matrix: {n} cell(s), {} at once", opts.jobs.max(1));
    let report = rt
        .block_on(berth_matrix::run(opts, &print_cell))
        .map_err(|e| match e {
            berth_matrix::MatrixError::Input(m) => crate::exit::BadInput(m).into(),
            other => anyhow::Error::new(other),
        })?;
    let written = berth_matrix::write_reports(&report, &a.out)?;
    println!(
        "{} of {} cells passed in {:.1}s",
        report.cells.len() - report.failed(),
        report.cells.len(),
        report.seconds
    );
    println!("HTML report: {}", written.html.display());
    println!("JUnit XML:   {}", written.junit.display());
    println!("JSON:        {}", written.json.display());
    Ok(if report.failed() > 0 { 1 } else { 0 })
}

/// The profile changes of `--pod-security`, `--namespace-quota` and `--default-deny`, checked.
fn profile_tweak(
    pod_security: Option<String>,
    namespace_quota: Option<&str>,
    default_deny: Option<&str>,
) -> Result<Option<berth_matrix::ProfileTweak>> {
    if let Some(level) = &pod_security
        && !matches!(level.as_str(), "privileged" | "baseline" | "restricted")
    {
        return Err(crate::exit::BadInput(format!(
            "--pod-security {level:?}: expected privileged, baseline or restricted"
        ))
        .into());
    }
    let quota = match namespace_quota {
        Some(q) => Some(
            berth_matrix::plan::parse_quota(q)
                .map_err(|e| crate::exit::BadInput(format!("--namespace-quota: {e}")))?,
        ),
        None => None,
    };
    let deny = match default_deny {
        Some(d) => Some(
            berth_matrix::plan::parse_default_deny(d)
                .map_err(|e| crate::exit::BadInput(format!("--default-deny: {e}")))?,
        ),
        None => None,
    };
    if pod_security.is_none() && quota.is_none() && deny.is_none() {
        return Ok(None);
    }
    Ok(Some(std::sync::Arc::new(move |_, p| {
        if let Some(level) = &pod_security {
            p.pod_security.enforce = level.clone();
        }
        if let Some(hard) = &quota {
            p.namespace_quota = Some(berth_kube_sim::profile::NamespaceQuotaProfile {
                hard: hard.clone(),
                ..Default::default()
            });
        }
        if let Some(types) = &deny {
            p.network_policy = Some(berth_kube_sim::profile::NetworkPolicyProfile {
                default_deny: types.clone(),
            });
        }
    })))
}

/// One line per finished cell, as it finishes.
pub fn print_cell(c: &CellResult) {
    // Ids with an ingress flavour are longer (`1.32-aks-online-azure-application-gateway`).
    let w = if c.cell.ingress.is_some() { 44 } else { 28 };
    if c.passed {
        println!("  pass  {:<w$} {:>6.1}s", c.id, c.seconds);
    } else {
        println!(
            "  FAIL  {:<w$} {:>6.1}s  {}: {}",
            c.id,
            c.seconds,
            c.failed_step.as_deref().unwrap_or("?"),
            c.diagnosis
                .as_ref()
                .map(|d| d.cause.as_str())
                .unwrap_or("see the cell's log")
        );
    }
}

/// The matrix step of `berth demo`: a small matrix of the demo's app (two Kubernetes
/// versions × generic, k3s, rke2 × online/air-gapped). RKE2 ships no default StorageClass, so
/// its cells show a failure with berth's diagnosis. Returns what to show, ending with the path
/// of the HTML report.
pub async fn demo_step(work: PathBuf, app: PathBuf) -> Result<String> {
    let out = work.join("matrix");
    let mut values_for = std::collections::BTreeMap::new();
    values_for.insert(
        "k3s".to_string(),
        berth_matrix::app::ConfigValues::from([(
            "ingress_class".to_string(),
            serde_json::json!("traefik"),
        )]),
    );
    let opts = MatrixOptions {
        app_dir: app,
        upgrade_from: None,
        cells: plan::cells(
            &plan::parse_kube("1.31,1.33")?,
            &plan::parse_distributions("generic,k3s,rke2")?,
            plan::AirgapMode::Both,
        ),
        jobs: 12,
        out_dir: out.clone(),
        values: Default::default(),
        values_for,
        timeout: Duration::from_secs(120),
        fail_fast: Duration::from_secs(4),
        profile: None,
        registry_auth: false,
    };
    let report = berth_matrix::run(opts, &|_| {}).await?;
    let written = berth_matrix::write_reports(&report, &out)?;
    let mut lines = vec![format!(
        "{} of {} cells passed in {:.1}s (each on its own simulated cluster; air-gapped cells install from a signed bundle pushed into a registry only they reach)",
        report.cells.len() - report.failed(),
        report.cells.len(),
        report.seconds
    )];
    for c in &report.cells {
        lines.push(match (&c.failed_step, &c.diagnosis) {
            (None, _) => format!("  pass  {}", c.id),
            (Some(s), Some(d)) => format!("  FAIL  {} at {s}: {}", c.id, d.cause),
            (Some(s), None) => format!("  FAIL  {} at {s}", c.id),
        });
    }
    lines.push(format!("HTML report: {}", written.html.display()));
    Ok(lines.join("\n"))
}
