//! The air-gap path of `berth install` / `berth upgrade`: take the app's images from a signed
//! bundle (or a release directory), push them into the customer's registry, and rewrite every
//! image reference in the rendered objects to that registry, by digest — the same mapping
//! `berth bundle push` uses — adding an image pull secret when credentials are given.

use crate::cmd::oci::RegistryFlags;
use anyhow::{Context, Result, anyhow, bail};
use berth_deploy::object::Manifest;
use berth_oci::bundle::{self, Expect};
use berth_oci::client::Client;
use berth_oci::release::Release;
use berth_oci::relocate::{self, Mapping, Target};
use berth_oci::{keys, transfer};
use std::path::PathBuf;

/// Name of the image pull secret berth creates for the customer registry.
pub const PULL_SECRET: &str = "berth-registry";

/// Air-gap flags of install and upgrade.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Air-gap")]
pub struct AirgapFlags {
    /// Install from this air-gap bundle: its signature and every digest are checked, its
    /// images pushed into --registry, and the app's image references rewritten to them.
    #[arg(long, value_name = "FILE", requires_all = ["registry", "pubkey"])]
    pub airgap_bundle: Option<PathBuf>,
    /// The vendor's public key that signed --airgap-bundle.
    #[arg(long, value_name = "FILE")]
    pub pubkey: Option<PathBuf>,
    /// A release directory (from `berth release build`, or a verified bundle) whose images are
    /// already in --registry: references are rewritten to them without pushing.
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
    #[command(flatten)]
    pub registry_flags: RegistryFlags,
}

/// What relocation needs once the images are in place.
pub struct Relocation {
    mapping: Mapping,
    secret: Option<(String, String, String)>,
    /// Keeps an extracted bundle alive while it is used.
    _scratch: Option<tempfile::TempDir>,
    /// What was pushed, for the report.
    pub summary: String,
}

/// Prepare relocation: verify and push a bundle, or open a release. `None` without --registry.
/// With `dry_run`, the bundle is verified but nothing is pushed.
pub async fn prepare(flags: &AirgapFlags, dry_run: bool) -> Result<Option<Relocation>> {
    let Some(registry) = &flags.registry else {
        return Ok(None);
    };
    let target = Target::parse(registry)?;
    let config = flags.registry_flags.config()?;
    let (release_dir, scratch) = match (&flags.airgap_bundle, &flags.release) {
        (Some(file), _) => {
            let pk = flags.pubkey.as_ref().ok_or_else(|| {
                anyhow!("--airgap-bundle needs --pubkey (the vendor's public key)")
            })?;
            let key = keys::read_verifying_key(pk)?;
            let scratch = tempfile::Builder::new()
                .prefix("berth-airgap-")
                .tempdir()
                .context("creating a scratch directory for the bundle")?;
            let dest = scratch.path().join("release");
            bundle::verify(file, &key, &Expect { app: None }, Some(&dest), None)
                .with_context(|| format!("bundle {} is not usable", file.display()))?;
            (dest, Some(scratch))
        }
        (None, Some(dir)) => (dir.clone(), None),
        (None, None) => bail!(
            "--registry needs --airgap-bundle FILE (push and install) or --release DIR (images already pushed)"
        ),
    };
    let rel = Release::open(&release_dir)?;
    let mut summary = format!(
        "{} image(s) of {} {} mapped to {registry}",
        rel.images.len(),
        rel.meta.app,
        rel.meta.version
    );
    if flags.airgap_bundle.is_some() && !dry_run {
        let client = Client::new(config.clone())?;
        let items = rel.push_items(&target);
        let stats =
            transfer::push_images(&client, &rel.layout, &items, &transfer::NoProgress).await?;
        let what = format!("{} {}", rel.meta.app, rel.meta.version);
        summary = crate::cmd::oci::push_summary(items.len(), &what, registry, &stats);
    }
    let mut mapping = rel.mapping(&target);
    let secret = config.credentials.as_ref().map(|c| {
        (
            target.registry.clone(),
            c.username.clone(),
            c.password.clone(),
        )
    });
    if secret.is_some() {
        mapping = mapping.with_pull_secret(PULL_SECRET);
    }
    Ok(Some(Relocation {
        mapping,
        secret,
        _scratch: scratch,
        summary,
    }))
}

impl Relocation {
    /// Rewrite the images of `objects` and add the pull secret to every namespace that runs pods.
    /// Fails, changing nothing, when an image is not part of the release.
    pub fn apply(&self, objects: &mut Vec<Manifest>) -> Result<()> {
        let mut values: Vec<serde_json::Value> = objects.iter().map(|m| m.object.clone()).collect();
        relocate::relocate_objects(&mut values, &self.mapping)?;
        let mut namespaces = std::collections::BTreeSet::new();
        for (m, v) in objects.iter_mut().zip(values) {
            if v != m.object
                && let Some(ns) = v
                    .pointer("/metadata/namespace")
                    .and_then(serde_json::Value::as_str)
            {
                namespaces.insert(ns.to_string());
            }
            m.object = v;
        }
        if let Some((registry, user, password)) = &self.secret {
            for ns in namespaces {
                let secret =
                    relocate::pull_secret_object(PULL_SECRET, &ns, registry, user, password);
                objects.insert(
                    0,
                    Manifest::new(secret, "berth: image pull secret for --registry"),
                );
            }
        }
        Ok(())
    }
}
