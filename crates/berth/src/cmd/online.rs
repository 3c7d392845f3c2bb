//! The online flags of `berth install --license` and `berth upgrade --to|--latest`, wired to
//! berth-ops' `online` operations (the license is the only credential; images come from the
//! vendor server's registry endpoint). The CLI only parses flags and prints reports.

use crate::cmd::airgap::AirgapFlags;
use crate::cmd::deploy::{ApplyFlags, BadInput, Common, TermProgress};
use anyhow::Result;
use berth_ops::Cancel;
use berth_ops::online::{LicenseText, UpgradeTo};
use std::path::PathBuf;
use std::sync::Arc;

/// Online flags of `berth install`.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Online (vendor server)")]
pub struct InstallOnline {
    /// Install from the vendor server named in this license, with the license as the only
    /// credential: the newest release of its channel (or --version), images pulled from the
    /// server's registry endpoint.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["airgap_bundle", "release", "registry"])]
    pub license: Option<PathBuf>,
    /// The version to install (default: the newest on the license's channel).
    #[arg(long, requires = "license")]
    pub version: Option<String>,
    /// Reach the vendor server here instead of the license's URL (a proxy in between).
    #[arg(long, value_name = "URL", requires = "license")]
    pub vendor_url: Option<String>,
}

/// Online flags of `berth upgrade`.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Online (vendor server)")]
pub struct UpgradeOnline {
    /// Upgrade from the vendor server to this version, through every required release.
    #[arg(long, value_name = "VERSION", conflicts_with_all = ["latest", "airgap_bundle", "release", "registry"])]
    pub to: Option<String>,
    /// Upgrade from the vendor server to the newest release of the license's channel.
    #[arg(long, conflicts_with_all = ["airgap_bundle", "release", "registry"])]
    pub latest: bool,
    /// The license (default: the one the online install stored in the namespace).
    #[arg(long = "license", value_name = "FILE")]
    pub license: Option<PathBuf>,
    /// Reach the vendor server here instead of the license's URL.
    #[arg(long, value_name = "URL")]
    pub vendor_url: Option<String>,
    /// Skip the release's preflight checks before each step.
    #[arg(long)]
    pub skip_preflights: bool,
}

impl UpgradeOnline {
    /// Whether this upgrade goes through the vendor server (any online flag given).
    pub fn active(&self) -> bool {
        self.to.is_some()
            || self.latest
            || self.license.is_some()
            || self.vendor_url.is_some()
            || self.skip_preflights
    }
}

/// `berth install --license FILE`.
pub async fn install(
    flags: &InstallOnline,
    apply: &ApplyFlags,
    common: &Common,
    airgap: &AirgapFlags,
) -> Result<u8> {
    let Some(path) = &flags.license else {
        return Err(BadInput("--license is required here".into()).into());
    };
    let license = LicenseText::read(path)?;
    let input = crate::cmd::deploy::apply_input(apply, Some(airgap), false)?;
    let progress = Arc::new(TermProgress::new(common.output));
    let res = berth_ops::online::install(
        &crate::cmd::deploy::target(common),
        &input,
        &license,
        flags.version.as_deref(),
        flags.vendor_url.as_deref(),
        progress.clone(),
        &Cancel::new(),
    )
    .await;
    progress.finish();
    crate::cmd::deploy::finish(res, common.output)
}

/// `berth upgrade --to VERSION | --latest`.
pub async fn upgrade(
    flags: &UpgradeOnline,
    apply: &ApplyFlags,
    common: &Common,
    no_rollback: bool,
    airgap: &AirgapFlags,
) -> Result<u8> {
    if flags.to.is_none() && !flags.latest {
        return Err(BadInput(
            "an upgrade from the vendor server needs its target: --to VERSION or --latest".into(),
        )
        .into());
    }
    let input = crate::cmd::deploy::apply_input(apply, Some(airgap), no_rollback)?;
    let to = UpgradeTo {
        version: flags.to.clone(),
        license: flags
            .license
            .as_deref()
            .map(LicenseText::read)
            .transpose()?,
        vendor_url: flags.vendor_url.clone(),
        skip_preflights: flags.skip_preflights,
    };
    let progress = Arc::new(TermProgress::new(common.output));
    let res = berth_ops::online::upgrade(
        &crate::cmd::deploy::target(common),
        &input,
        &to,
        progress.clone(),
        &Cancel::new(),
    )
    .await;
    progress.finish();
    let reports = res?;
    if reports.is_empty() {
        println!("up to date: nothing newer on the license's channel");
        return Ok(crate::exit::OK);
    }
    let mut code = crate::exit::OK;
    for r in reports {
        code = crate::cmd::deploy::finish(Ok(r), common.output)?;
    }
    Ok(code)
}
