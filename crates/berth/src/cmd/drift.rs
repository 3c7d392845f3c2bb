//! `berth drift`: what changed in the cluster (and this host) since the app last worked —
//! wiring of berth-drift through the deploy engine's revisions (docs/formats/baseline.md).

use crate::cmd::deploy::Common;
use crate::output::{self, Format};
use anyhow::{Result, anyhow};
use berth_deploy::engine::{Options, Quiet};
use berth_deploy::{Cluster, ConnectOptions, Engine};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// `berth drift`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  berth drift -n hello\n  berth drift hello -n hello --host -o json\n  berth drift -n hello --save baseline-now.json\n\n\
Changes are grouped High, Medium, Low by how likely they break an app. Exit code 0: no drift; \
3: a High change; 4: only Medium or Low changes."
)]
pub struct DriftArgs {
    /// The app; default: the one app installed in the namespace.
    app: Option<String>,
    /// Compare this host too (OS release, kernel, interfaces and MTUs, DNS, time sync,
    /// disks, SELinux/AppArmor, runtime packages); meaningful where berth runs on a node.
    #[arg(long)]
    host: bool,
    /// Also write the live state as a baseline file (for `berth analyze BUNDLE --baseline FILE`).
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

/// Run `berth drift`.
pub fn run(a: DriftArgs) -> Result<u8> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let cluster = Cluster::connect(&ConnectOptions {
            kubeconfig: a.common.kubeconfig.clone(),
            context: a.common.context.clone(),
        })
        .await?;
        let ns = a
            .common
            .namespace
            .clone()
            .unwrap_or_else(|| cluster.client().default_namespace().to_string());
        let app = match &a.app {
            Some(app) => app.clone(),
            None => only_app(&cluster, &ns).await?,
        };
        let cluster = Arc::new(cluster);
        let engine = Engine::new(
            cluster.clone(),
            Options {
                namespace: ns.clone(),
                ..Options::default()
            },
            Arc::new(Quiet),
        );
        let history = engine.revisions(&app).await?;
        if history.is_empty() {
            return Err(crate::exit::NotInstalled(format!(
                "{app} is not installed in namespace {ns}; install it with `berth install`"
            ))
            .into());
        }
        let Some(d) = berth_deploy::baseline::drift(&cluster, &history, a.host).await else {
            return Err(anyhow!(
                "no revision of {app} in namespace {ns} carries a baseline (it was installed by a berth without baselines); the next `berth upgrade` records one"
            ));
        };
        if a.host && !d.baseline_has_host {
            eprintln!(
                "note: the baseline of revision {} holds no host facts (`berth install|upgrade --host-baseline`, run on a node, records them); only the cluster was compared",
                d.since
            );
        }
        if let Some(path) = &a.save {
            let v = d.now.clone().finish();
            std::fs::write(path, serde_json::to_vec_pretty(&v)?)
                .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
        }
        if a.common.output == Format::Table {
            println!(
                "{app} in namespace {ns}: compared with revision {} (baseline of {})",
                d.since,
                d.report.baseline["captured_at"].as_str().unwrap_or("?")
            );
            print!("{}", d.report.render());
        } else {
            output::print_structured(&serde_json::to_value(&d.report)?, a.common.output)?;
        }
        Ok(code(&d.report))
    })
}

/// 0 no drift, 3 a High change, 4 other changes.
pub fn code(r: &berth_drift::Report) -> u8 {
    match r.changes.first() {
        None => crate::exit::OK,
        Some(c) if c.band() == "High" => crate::exit::CHECK_FAILED,
        Some(_) => crate::exit::CHECK_WARNED,
    }
}

async fn only_app(cluster: &Cluster, ns: &str) -> Result<String> {
    let selector = format!("{}=revision", berth_deploy::object::LABEL_KIND);
    let apps: std::collections::BTreeSet<String> = cluster
        .list("v1", "Secret", ns, Some(&selector))
        .await?
        .iter()
        .filter_map(|s: &Value| berth_deploy::object::label(s, berth_deploy::object::LABEL_APP))
        .map(str::to_string)
        .collect();
    match apps.len() {
        1 => Ok(apps.into_iter().next().unwrap_or_default()),
        0 => Err(crate::exit::NotInstalled(format!(
            "no app is installed in namespace {ns}; pass -n with the app's namespace"
        ))
        .into()),
        _ => Err(crate::exit::BadInput(format!(
            "several apps are installed in namespace {ns} ({}); name one: berth drift APP -n {ns}",
            apps.into_iter().collect::<Vec<_>>().join(", ")
        ))
        .into()),
    }
}

/// `berth analyze BUNDLE --against OLDER` / `--baseline FILE`: drift between support bundles
/// (or a bundle and a baseline file), offline.
pub fn analyze(
    bundle: &std::path::Path,
    against: Option<&std::path::Path>,
    baseline: Option<&std::path::Path>,
    format: Format,
) -> Result<u8> {
    let newer = berth_troubleshoot::bundle::open(bundle)
        .map_err(|e| crate::exit::BadInput(e.to_string()))?;
    let older = match against {
        Some(p) => Some(
            berth_troubleshoot::bundle::open(p)
                .map_err(|e| crate::exit::BadInput(e.to_string()))?,
        ),
        None => None,
    };
    let baseline_file = baseline;
    let baseline = match baseline {
        Some(p) => {
            let text = std::fs::read(p).map_err(|e| {
                crate::exit::BadInput(format!("cannot read baseline {}: {e}", p.display()))
            })?;
            let v: Value = serde_json::from_slice(&text)
                .map_err(|e| crate::exit::BadInput(format!("{}: not JSON: {e}", p.display())))?;
            Some(
                berth_drift::Baseline::parse(&p.display().to_string(), &v)
                    .map_err(|e| crate::exit::BadInput(e.to_string()))?,
            )
        }
        None => None,
    };
    let report = berth_drift::bundle::against(newer.as_ref(), older.as_deref(), baseline);
    if format == Format::Table {
        let what = match (against, baseline_file) {
            (Some(p), _) => format!("support bundle {}", p.display()),
            (None, Some(p)) => format!("baseline {}", p.display()),
            (None, None) => "the app's last baseline in the bundle".to_string(),
        };
        println!("{}: changes since {what}", bundle.display());
        print!("{}", report.render());
    } else {
        output::print_structured(&serde_json::to_value(&report)?, format)?;
    }
    Ok(code(&report))
}
