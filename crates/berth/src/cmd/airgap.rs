//! The air-gap flags of `berth install` / `berth upgrade`, turned into berth-ops'
//! [`AirgapInput`]: the signed bundle (or a release directory) is the whole source of the
//! install; berth_ops::airgap verifies it, pushes its images and relocates the references.

use crate::cmd::oci::RegistryFlags;
use anyhow::Result;
pub use berth_ops::airgap::AirgapInput;
use std::path::PathBuf;

/// Air-gap flags of install and upgrade.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Air-gap")]
pub struct AirgapFlags {
    /// Install from this air-gap bundle alone (no app directory): its signature and every
    /// digest are checked, the app files inside it are rendered, its images pushed into
    /// --registry, and the app's image references rewritten to them.
    #[arg(long, value_name = "FILE", requires_all = ["registry", "pubkey"])]
    pub airgap_bundle: Option<PathBuf>,
    /// The vendor's public key that signed --airgap-bundle.
    #[arg(long, value_name = "FILE")]
    pub pubkey: Option<PathBuf>,
    /// A release directory (from `berth release build`) whose images are already in
    /// --registry: its app files are rendered and references rewritten without pushing.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "airgap_bundle",
        requires = "registry"
    )]
    pub release: Option<PathBuf>,
    /// The customer registry, host[:port][/prefix]; images go to <registry>/<prefix>/<source repository>.
    #[arg(long, value_name = "HOST/PREFIX")]
    pub registry: Option<String>,
    /// Read-only account the cluster pulls with (its image pull Secret); the password comes
    /// from --pull-password or BERTH_PULL_PASSWORD.
    #[arg(long, value_name = "USER")]
    pub pull_username: Option<String>,
    /// Password of --pull-username (prefer BERTH_PULL_PASSWORD: flags show in process lists).
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "BERTH_PULL_PASSWORD",
        hide_env_values = true
    )]
    pub pull_password: Option<String>,
    /// Write the push credentials (--username) into the cluster as the pull Secret. Anyone who
    /// can read Secrets in the namespace could then push to the registry.
    #[arg(long, conflicts_with = "pull_username")]
    pub pull_with_push_credentials: bool,
    #[command(flatten)]
    pub registry_flags: RegistryFlags,
}

impl AirgapFlags {
    /// Whether a bundle or release is the source of the app.
    pub fn signed_source(&self) -> bool {
        self.airgap_bundle.is_some() || self.release.is_some()
    }

    /// The typed input of berth-ops (reads the registry password: BERTH_REGISTRY_PASSWORD
    /// or stdin with --password-stdin).
    pub fn input(&self) -> Result<AirgapInput> {
        Ok(AirgapInput {
            bundle: self.airgap_bundle.clone(),
            pubkey: self.pubkey.clone(),
            release: self.release.clone(),
            registry: self.registry.clone(),
            pull_username: self.pull_username.clone(),
            pull_password: self.pull_password.clone(),
            pull_with_push_credentials: self.pull_with_push_credentials,
            registry_config: self.registry_flags.config()?,
        })
    }
}
