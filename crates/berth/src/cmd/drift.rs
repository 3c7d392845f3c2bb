//! `berth drift`: what changed in the cluster (and this host) since the app last worked —
//! wiring of berth-drift through the deploy engine's revisions (docs/formats/baseline.md).

use crate::cmd::deploy::Common;
use crate::output::{self, Format};
use anyhow::{Result, anyhow};
use serde_json::Value;
use std::path::PathBuf;

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
        let target = crate::cmd::deploy::target(&a.common);
        let berth_ops::drift::AppDrift {
            app,
            namespace: ns,
            drift: d,
        } = berth_ops::drift::drift(&target, a.app.as_deref(), a.host).await?;
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
