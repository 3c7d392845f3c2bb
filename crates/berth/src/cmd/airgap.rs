//! The air-gap path of `berth install` / `berth upgrade`: the signed bundle (or a release
//! directory) is the whole source of the install. Its signature and digests are checked, the
//! app files inside it are the ones rendered, its images are pushed into the customer's
//! registry, and every image reference in the rendered objects is rewritten to that registry,
//! by digest — the same mapping `berth bundle push` uses. The mapping is recorded in the
//! revision so that later operations stay on the private registry.

use crate::cmd::deploy::BadInput;
use crate::cmd::oci::RegistryFlags;
use anyhow::{Context, Result};
use berth_deploy::inventory::RegistryRecord;
use berth_deploy::object::Manifest;
use berth_oci::bundle::{self, Expect};
use berth_oci::client::Client;
use berth_oci::release::Release;
use berth_oci::relocate::{self, Mapping, Target};
use berth_oci::{Digest, Reference, keys, transfer};
use std::path::PathBuf;

/// Name of the image pull secret berth creates for the customer registry.
pub const PULL_SECRET: &str = "berth-registry";

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
    /// Set by `--license` installs and upgrades (not a flag): the license Secret and `.License`.
    #[arg(skip)]
    pub license: Option<crate::cmd::online::Licensed>,
}

impl AirgapFlags {
    /// Whether a bundle or release is the source of the app.
    pub fn signed_source(&self) -> bool {
        self.airgap_bundle.is_some() || self.release.is_some()
    }
}

/// A verified release and the app files extracted from it.
pub struct Signed {
    /// The release (images, metadata).
    pub release: Release,
    /// The app directory written from the release's app files.
    pub app_dir: PathBuf,
    /// Keeps an extracted bundle and the app files alive while they are used.
    _scratch: tempfile::TempDir,
    from_bundle: bool,
    /// The bundle or release path, for messages.
    pub source: PathBuf,
}

/// Verify the bundle (with the app it must belong to, on upgrade) or open the release, and
/// write its app files into a scratch directory. Nothing is pushed yet. `None` without
/// --airgap-bundle or --release.
pub fn open_signed(flags: &AirgapFlags, expect_app: Option<&str>) -> Result<Option<Signed>> {
    let scratch = tempfile::Builder::new()
        .prefix("berth-airgap-")
        .tempdir()
        .context("creating a scratch directory for the bundle")?;
    let (release_dir, source, from_bundle) = match (&flags.airgap_bundle, &flags.release) {
        (Some(file), _) => {
            let pk = flags.pubkey.as_ref().ok_or_else(|| {
                BadInput("--airgap-bundle needs --pubkey (the vendor's public key)".into())
            })?;
            let key = keys::read_verifying_key(pk)?;
            let dest = scratch.path().join("release");
            let expect = Expect {
                app: expect_app.map(str::to_string),
            };
            bundle::verify(file, &key, &expect, Some(&dest), None)
                .with_context(|| format!("bundle {} is not usable", file.display()))?;
            (dest, file.clone(), true)
        }
        (None, Some(dir)) => (dir.clone(), dir.clone(), false),
        (None, None) => return Ok(None),
    };
    let release = Release::open(&release_dir)?;
    if let Some(app) = expect_app
        && release.meta.app != app
    {
        return Err(BadInput(format!(
            "{} is a release of app {:?}, but the namespace holds {app:?}; use the release of {app}",
            source.display(),
            release.meta.app
        ))
        .into());
    }
    let app_dir = scratch.path().join("app");
    release
        .write_app_files(&app_dir)
        .with_context(|| format!("extracting the app files of {}", source.display()))?;
    Ok(Some(Signed {
        release,
        app_dir,
        _scratch: scratch,
        from_bundle,
        source,
    }))
}

/// The pull credential the cluster gets, if any.
enum Pull {
    /// No Secret: the registry serves pulls without credentials.
    Anonymous,
    /// A Secret with these credentials.
    With(String, String),
}

/// Decide the pull credential before anything is pushed: a read-only account when given;
/// the push credentials only when explicitly allowed; none when the registry serves
/// anonymous pulls.
async fn pull_credential(
    flags: &AirgapFlags,
    config: &berth_oci::ClientConfig,
    probe: Option<&Reference>,
    registry: &str,
    namespace: &str,
) -> Result<Pull> {
    if let Some(user) = &flags.pull_username {
        let password = flags.pull_password.clone().ok_or_else(|| {
            BadInput(format!(
                "--pull-username {user} needs a password: set BERTH_PULL_PASSWORD (or --pull-password)"
            ))
        })?;
        return Ok(Pull::With(user.clone(), password));
    }
    if flags.pull_password.is_some() {
        return Err(BadInput(
            "a pull password was given (--pull-password or BERTH_PULL_PASSWORD) without --pull-username".into(),
        )
        .into());
    }
    let Some(push) = &config.credentials else {
        return Ok(Pull::Anonymous);
    };
    if flags.pull_with_push_credentials {
        return Ok(Pull::With(push.username.clone(), push.password.clone()));
    }
    // Only push credentials: find out whether pulls need credentials at all.
    if let Some(r) = probe
        && anonymous_pull_allowed(config, r).await
    {
        return Ok(Pull::Anonymous);
    }
    Err(BadInput(format!(
        "registry {registry} needs credentials to pull, and only the push credentials (--username {}) were given; \
berth will not write them into the cluster, where anyone who can read Secrets in namespace {namespace} could push with them. \
Give a read-only account with --pull-username (password in BERTH_PULL_PASSWORD), or pass --pull-with-push-credentials to accept that risk",
        push.username
    ))
    .into())
}

/// Whether the registry answers a manifest request without credentials (a missing manifest
/// counts: the question is authorisation, not presence).
async fn anonymous_pull_allowed(config: &berth_oci::ClientConfig, r: &Reference) -> bool {
    let Ok(empty) = tempfile::tempdir() else {
        return false;
    };
    let docker_config = empty.path().join("config.json");
    if std::fs::write(&docker_config, "{\"auths\":{}}").is_err() {
        return false;
    }
    let anon = berth_oci::ClientConfig {
        credentials: None,
        docker_config: Some(docker_config),
        retries: 0,
        ..config.clone()
    };
    let Ok(client) = Client::new(anon) else {
        return false;
    };
    let reference = r.tag.clone().unwrap_or_else(|| "latest".into());
    client
        .head_manifest(&r.registry, &r.repository, &reference)
        .await
        .is_ok()
}

/// Push the signed release's images (bundles only, not in a dry run) and build the
/// relocation. Refuses, before pushing, to hand the cluster the push credentials.
pub async fn relocate_signed(
    flags: &AirgapFlags,
    signed: &Signed,
    namespace: &str,
    dry_run: bool,
) -> Result<Relocation> {
    let registry = flags
        .registry
        .as_deref()
        .ok_or_else(|| BadInput("--airgap-bundle and --release need --registry".into()))?;
    let target = Target::parse(registry).map_err(|e| BadInput(e.to_string()))?;
    let config = flags.registry_flags.config()?;
    let rel = &signed.release;
    let items = rel.push_items(&target);
    let probe = items.first().map(|i| &i.target);
    let pull = pull_credential(flags, &config, probe, &target.registry, namespace).await?;
    let mut summary = format!(
        "{} image(s) of {} {} mapped to {registry}",
        rel.images.len(),
        rel.meta.app,
        rel.meta.version
    );
    if signed.from_bundle && !dry_run {
        let client = Client::new(config.clone())?;
        let stats =
            transfer::push_images(&client, &rel.layout, &items, &transfer::NoProgress).await?;
        let what = format!("{} {}", rel.meta.app, rel.meta.version);
        summary = crate::cmd::oci::push_summary(items.len(), &what, registry, &stats);
    }
    let mut mapping = rel.mapping(&target);
    let secret = match pull {
        Pull::Anonymous => {
            summary.push_str("; pulls need no credentials, so no pull Secret");
            PullSecret::None
        }
        Pull::With(user, password) => {
            mapping = mapping.with_pull_secret(PULL_SECRET);
            summary.push_str(&format!("; pull Secret {PULL_SECRET} for user {user}"));
            PullSecret::Fresh {
                registry: target.registry.clone(),
                user,
                password,
            }
        }
    };
    let record = RegistryRecord {
        registry: registry.to_string(),
        pull_secret: mapping.pull_secret.clone(),
        images: rel
            .images
            .iter()
            .map(|(r, d)| (r.to_string(), d.digest.to_string()))
            .collect(),
    };
    Ok(Relocation {
        mapping,
        secret,
        record,
        summary,
        recorded: false,
    })
}

/// The pull Secret objects a relocation adds.
enum PullSecret {
    None,
    /// Made from credentials given now, one per namespace that runs pods.
    Fresh {
        registry: String,
        user: String,
        password: String,
    },
    /// Carried over from the current revision (a later operation on an air-gapped install).
    Carried(Vec<Manifest>),
}

/// What relocation needs once the images are in place.
pub struct Relocation {
    mapping: Mapping,
    secret: PullSecret,
    /// What the revision records.
    pub record: RegistryRecord,
    /// What was pushed or reused, for the report.
    pub summary: String,
    /// Built from the record of an earlier revision (not from a bundle given now).
    recorded: bool,
}

impl Relocation {
    /// Relocation recorded by an earlier air-gapped install; its pull Secret objects are
    /// taken from `current` (the objects of the revision holding the record).
    pub fn from_record(rec: &RegistryRecord, current: &[Manifest]) -> Result<Relocation> {
        let target = Target::parse(&rec.registry)
            .with_context(|| format!("the recorded registry {:?} is invalid", rec.registry))?;
        let mut pairs = Vec::new();
        for (src, digest) in &rec.images {
            let r = Reference::parse(src)
                .with_context(|| format!("recorded image {src:?} is invalid"))?;
            let d = Digest::parse(digest)
                .with_context(|| format!("recorded digest {digest:?} is invalid"))?;
            pairs.push((r, d));
        }
        let mut mapping = Mapping::new(&target, pairs.iter().map(|(r, d)| (r, d)));
        let mut carried = Vec::new();
        if let Some(name) = &rec.pull_secret {
            mapping = mapping.with_pull_secret(name);
            carried = current
                .iter()
                .filter(|m| {
                    m.object.get("kind").and_then(serde_json::Value::as_str) == Some("Secret")
                        && m.object
                            .pointer("/metadata/name")
                            .and_then(serde_json::Value::as_str)
                            == Some(name.as_str())
                })
                .cloned()
                .collect();
        }
        Ok(Relocation {
            mapping,
            secret: PullSecret::Carried(carried),
            record: rec.clone(),
            summary: format!(
                "images from {} (recorded by the air-gapped install; --no-relocate goes back to the vendor's registries)",
                rec.registry
            ),
            recorded: true,
        })
    }

    /// Rewrite the images of `objects` and add the pull secret to every namespace that runs pods.
    /// Fails, changing nothing, when an image is not part of the release.
    pub fn apply(&self, objects: &mut Vec<Manifest>) -> Result<()> {
        let mut values: Vec<serde_json::Value> = objects.iter().map(|m| m.object.clone()).collect();
        if let Err(e) = relocate::relocate_objects(&mut values, &self.mapping) {
            if self.recorded {
                return Err(BadInput(format!(
                    "this app was installed air-gapped from registry {}, which does not hold every image of this version: {e}. \
Upgrade with the new version's bundle (--airgap-bundle FILE --pubkey KEY --registry {}), or pass --no-relocate to pull from the vendor's registries",
                    self.record.registry, self.record.registry
                ))
                .into());
            }
            return Err(BadInput(e.to_string()).into());
        }
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
        match &self.secret {
            PullSecret::None => {}
            PullSecret::Fresh {
                registry,
                user,
                password,
            } => {
                for ns in namespaces {
                    let secret =
                        relocate::pull_secret_object(PULL_SECRET, &ns, registry, user, password);
                    objects.insert(
                        0,
                        Manifest::new(secret, "berth: image pull secret for --registry"),
                    );
                }
            }
            PullSecret::Carried(secrets) => {
                for s in secrets.iter().rev() {
                    objects.insert(0, s.clone());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_oci::Layout;
    use berth_oci::release::{ReleaseMeta, write_app_entry};
    use std::path::Path;

    fn release_with(dir: &Path, files: &[(&str, &str)]) -> Release {
        try_release_with(dir, files).expect("open")
    }

    /// A release holding `files`; `Release::open` itself refuses hostile paths.
    fn try_release_with(dir: &Path, files: &[(&str, &str)]) -> berth_oci::Result<Release> {
        let layout = Layout::create(dir).expect("layout");
        let meta = ReleaseMeta {
            format: 1,
            app: "hello".into(),
            version: "1.0.0".into(),
            images: vec![],
        };
        let files: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
            .collect();
        write_app_entry(&layout, &meta, &files).expect("app entry");
        Release::open(dir)
    }

    #[test]
    fn app_files_are_written_under_the_app_directory() {
        let w = tempfile::tempdir().expect("tempdir");
        let rel = release_with(
            &w.path().join("rel"),
            &[("berth.yaml", "a"), ("chart/templates/x.yaml", "b")],
        );
        let app = w.path().join("app");
        rel.write_app_files(&app).expect("written");
        assert_eq!(
            std::fs::read_to_string(app.join("berth.yaml")).expect("read"),
            "a"
        );
        assert_eq!(
            std::fs::read_to_string(app.join("chart/templates/x.yaml")).expect("read"),
            "b"
        );
    }

    #[test]
    fn app_files_leaving_the_app_directory_are_refused() {
        for hostile in ["../evil", "chart/../../evil", "ABSOLUTE", ""] {
            let w = tempfile::tempdir().expect("tempdir");
            // an absolute path inside this test's own temporary directory
            let absolute = w.path().join("evil").display().to_string();
            let hostile = if hostile == "ABSOLUTE" {
                absolute.as_str()
            } else {
                hostile
            };
            let app = w.path().join("sub").join("app");
            // Two lines of defence: opening the release refuses such paths, and writing the
            // app files refuses them again (a release opened some other way).
            match try_release_with(
                &w.path().join("rel"),
                &[("berth.yaml", "a"), (hostile, "x")],
            ) {
                Err(e) => assert!(
                    e.to_string().contains(hostile) || hostile.is_empty(),
                    "{hostile}: {e}"
                ),
                Ok(rel) => {
                    let err = rel.write_app_files(&app).expect_err(hostile);
                    assert!(
                        err.to_string().contains("not a relative path"),
                        "{hostile}: {err}"
                    );
                }
            }
            assert!(!w.path().join("evil").exists(), "{hostile}");
            assert!(!w.path().join("sub").join("evil").exists(), "{hostile}");
        }
    }
}
