//! The air-gap path of install and upgrade: the signed bundle (or a release directory) is
//! the whole source of the install. Its signature and digests are checked, the app files
//! inside it are the ones rendered, its images are pushed into the customer's registry, and
//! every image reference in the rendered objects is rewritten to that registry, by digest —
//! the same mapping `berth bundle push` uses. The mapping is recorded in the revision so
//! that later operations stay on the private registry.

use crate::error::{Error, Result, ResultExt as _};
use crate::progress::{PushProgress, Sink};
use berth_deploy::inventory::RegistryRecord;
use berth_deploy::object::Manifest;
use berth_oci::bundle::{self, Expect};
use berth_oci::client::Client;
use berth_oci::release::Release;
use berth_oci::relocate::{self, Mapping, Target};
use berth_oci::{Digest, Reference, keys, transfer};
use std::path::PathBuf;

/// Name of the image pull secret berth creates for the customer registry.
pub use berth_oci::relocate::PULL_SECRET;

/// Where an air-gapped install comes from and where its images go.
#[derive(Debug, Clone, Default)]
pub struct AirgapInput {
    /// Install from this air-gap bundle alone: its signature and every digest are checked,
    /// the app files inside it rendered, its images pushed into `registry`.
    pub bundle: Option<PathBuf>,
    /// The vendor's public key that signed `bundle`.
    pub pubkey: Option<PathBuf>,
    /// A release directory whose images are already in `registry` (nothing is pushed).
    pub release: Option<PathBuf>,
    /// The customer registry, `host[:port][/prefix]`.
    pub registry: Option<String>,
    /// Read-only account the cluster pulls with (its image pull Secret).
    pub pull_username: Option<String>,
    /// Password of `pull_username`.
    pub pull_password: Option<String>,
    /// Write the push credentials into the cluster as the pull Secret (accepting that anyone
    /// who can read Secrets in the namespace could push).
    pub pull_with_push_credentials: bool,
    /// How to reach the registry (TLS, CA, push credentials, parallelism).
    pub registry_config: berth_oci::ClientConfig,
}

impl AirgapInput {
    /// Whether a bundle or release is the source of the app.
    pub fn signed_source(&self) -> bool {
        self.bundle.is_some() || self.release.is_some()
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
pub fn open_signed(flags: &AirgapInput, expect_app: Option<&str>) -> Result<Option<Signed>> {
    let scratch = tempfile::Builder::new()
        .prefix("berth-airgap-")
        .tempdir()
        .ctx(|| "creating a scratch directory for the bundle".into())?;
    let (release_dir, source, from_bundle) = match (&flags.bundle, &flags.release) {
        (Some(file), _) => {
            let pk = flags.pubkey.as_ref().ok_or_else(|| {
                Error::BadInput("--airgap-bundle needs --pubkey (the vendor's public key)".into())
            })?;
            let key = keys::read_verifying_key(pk)?;
            let dest = scratch.path().join("release");
            let expect = Expect {
                app: expect_app.map(str::to_string),
            };
            bundle::verify(file, &key, &expect, Some(&dest), None)
                .ctx(|| format!("bundle {} is not usable", file.display()))?;
            (dest, file.clone(), true)
        }
        (None, Some(dir)) => (dir.clone(), dir.clone(), false),
        (None, None) => return Ok(None),
    };
    let release = Release::open(&release_dir)?;
    if let Some(app) = expect_app
        && release.meta.app != app
    {
        return Err(Error::BadInput(format!(
            "{} is a release of app {:?}, but the namespace holds {app:?}; use the release of {app}",
            source.display(),
            release.meta.app
        )));
    }
    let app_dir = scratch.path().join("app");
    release
        .write_app_files(&app_dir)
        .ctx(|| format!("extracting the app files of {}", source.display()))?;
    Ok(Some(Signed {
        release,
        app_dir,
        _scratch: scratch,
        from_bundle,
        source,
    }))
}

impl Signed {
    /// Whether the images come from a bundle (and are pushed), not a release directory
    /// whose images are already in the registry.
    pub fn from_bundle(&self) -> bool {
        self.from_bundle
    }
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
    flags: &AirgapInput,
    config: &berth_oci::ClientConfig,
    probe: Option<&Reference>,
    registry: &str,
    namespace: &str,
) -> Result<Pull> {
    if let Some(user) = &flags.pull_username {
        let password = flags.pull_password.clone().ok_or_else(|| {
            Error::BadInput(format!(
                "--pull-username {user} needs a password: set BERTH_PULL_PASSWORD (or --pull-password)"
            ))
        })?;
        return Ok(Pull::With(user.clone(), password));
    }
    if flags.pull_password.is_some() {
        return Err(Error::BadInput(
            "a pull password was given (--pull-password or BERTH_PULL_PASSWORD) without --pull-username".into(),
        )
        );
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
    Err(Error::BadInput(format!(
        "registry {registry} needs credentials to pull, and only the push credentials (--username {}) were given; \
berth will not write them into the cluster, where anyone who can read Secrets in namespace {namespace} could push with them. \
Give a read-only account with --pull-username (password in BERTH_PULL_PASSWORD), or pass --pull-with-push-credentials to accept that risk",
        push.username
    )))
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
    flags: &AirgapInput,
    signed: &Signed,
    namespace: &str,
    dry_run: bool,
    sink: &dyn Sink,
) -> Result<Relocation> {
    let registry = flags
        .registry
        .as_deref()
        .ok_or_else(|| Error::BadInput("--airgap-bundle and --release need --registry".into()))?;
    let target = Target::parse(registry).map_err(|e| Error::BadInput(e.to_string()))?;
    let config = &flags.registry_config;
    let rel = &signed.release;
    let items = rel.push_items(&target);
    let probe = items.first().map(|i| &i.target);
    let pull = pull_credential(flags, config, probe, &target.registry, namespace).await?;
    let mut summary = format!(
        "{} image(s) of {} {} mapped to {registry}",
        rel.images.len(),
        rel.meta.app,
        rel.meta.version
    );
    if signed.from_bundle && !dry_run {
        let client = Client::new(config.clone())?;
        let stats =
            transfer::push_images(&client, &rel.layout, &items, &PushProgress(sink)).await?;
        let what = format!("{} {}", rel.meta.app, rel.meta.version);
        summary = push_summary(items.len(), &what, registry, &stats);
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
            .ctx(|| format!("the recorded registry {:?} is invalid", rec.registry))?;
        let mut pairs = Vec::new();
        for (src, digest) in &rec.images {
            let r = Reference::parse(src).ctx(|| format!("recorded image {src:?} is invalid"))?;
            let d =
                Digest::parse(digest).ctx(|| format!("recorded digest {digest:?} is invalid"))?;
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
                return Err(Error::BadInput(format!(
                    "this app was installed air-gapped from registry {}, which does not hold every image of this version: {e}. \
Upgrade with the new version's bundle (--airgap-bundle FILE --pubkey KEY --registry {}), or pass --no-relocate to pull from the vendor's registries",
                    self.record.registry, self.record.registry
                )));
            }
            return Err(Error::BadInput(e.to_string()));
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

/// What `berth bundle push` pushes: a bundle file (verified first) or a release directory.
#[derive(Debug, Clone, Default)]
pub struct PushInput {
    /// The bundle file, or a release directory.
    pub file: PathBuf,
    /// Target: `host[:port][/prefix]`.
    pub registry: String,
    /// The vendor's public key (required for a bundle file).
    pub pubkey: Option<PathBuf>,
    /// For a delta bundle: the base release directory or bundle.
    pub base: Option<PathBuf>,
    /// Refuse a bundle of another app.
    pub app: Option<String>,
}

/// A verified release ready to push, with where each image goes.
pub struct PushPlan {
    /// The release.
    pub release: Release,
    /// One item per image, in the release's order (`release.images`).
    pub items: Vec<transfer::PushItem>,
    /// Keeps an extracted bundle alive while it is pushed.
    _scratch: tempfile::TempDir,
}

/// Open a base for a delta (a release directory as is; a bundle verified and extracted into
/// `scratch`).
pub fn open_base(
    base: &std::path::Path,
    key: &keys::VerifyingKey,
    scratch: &std::path::Path,
) -> Result<berth_oci::Layout> {
    if base.is_dir() {
        return Ok(berth_oci::Layout::open(base)?);
    }
    let dest = scratch.join("base");
    let (m, _) = bundle::read_head(base, Some(key))?;
    if m.kind == "delta" {
        return Err(Error::Failed(format!(
            "{}: the base is itself a delta bundle; give the full release directory or bundle it applies to",
            base.display()
        )));
    }
    bundle::verify(base, key, &Expect::default(), Some(&dest), None)?;
    Ok(berth_oci::Layout::open(&dest)?)
}

/// Verify the bundle (signature, every digest, the app) or open the release directory, and
/// map each image to the registry. Nothing is pushed.
pub fn plan_push(input: &PushInput) -> Result<PushPlan> {
    let target = Target::parse(&input.registry)?;
    let scratch = tempfile::Builder::new()
        .prefix("berth-push-")
        .tempdir_in(std::env::temp_dir())
        .ctx(|| "creating a scratch directory".into())?;
    let release_dir = if input.file.is_dir() {
        input.file.clone()
    } else {
        let pk = input.pubkey.as_ref().ok_or_else(|| {
            Error::Failed(
                "--pubkey is required to push a bundle file (its signature is checked first)"
                    .into(),
            )
        })?;
        let key = keys::read_verifying_key(pk)?;
        let base = match &input.base {
            Some(b) => Some(open_base(b, &key, scratch.path())?),
            None => None,
        };
        let dest = scratch.path().join("release");
        let expect = Expect {
            app: input.app.clone(),
        };
        bundle::verify(&input.file, &key, &expect, Some(&dest), base.as_ref())?;
        dest
    };
    let release = Release::open(&release_dir)?;
    let items = release.push_items(&target);
    Ok(PushPlan {
        release,
        items,
        _scratch: scratch,
    })
}

/// Push every image of a planned release, keeping digests; a re-run after an interruption
/// pushes only what is missing.
pub async fn push(
    plan: &PushPlan,
    config: berth_oci::ClientConfig,
    sink: &dyn Sink,
) -> Result<transfer::Stats> {
    let client = Client::new(config)?;
    let stats = crate::progress::step(
        sink,
        crate::Step::PushImages,
        transfer::push_images(
            &client,
            &plan.release.layout,
            &plan.items,
            &PushProgress(sink),
        ),
    )
    .await?;
    Ok(stats)
}

/// What a push did, counted so the numbers add up: every image is either pushed or already
/// up to date, every blob of a pushed image uploaded, mounted or already present.
pub fn push_summary(images: usize, what: &str, registry: &str, stats: &transfer::Stats) -> String {
    let skipped = usize::try_from(stats.images_skipped)
        .unwrap_or(images)
        .min(images);
    let pushed = images - skipped;
    let mut s =
        format!("{what} to {registry}: {pushed} image(s) pushed, {skipped} already up to date");
    if pushed > 0 {
        s.push_str(&format!(
            "; {} blob(s) uploaded ({}), {} mounted, {} already present",
            stats.blobs_transferred,
            human(stats.bytes_transferred),
            stats.blobs_mounted,
            stats.blobs_skipped
        ));
    }
    s
}

/// Bytes in binary units (`1.5 MiB`).
pub fn human(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
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
    #[test]
    fn push_summary_counts_add_up() {
        // Every image already up to date: no "0 blob(s) uploaded, 0 already present" for 4
        // images, which read as if nothing happened to them.
        let stats = transfer::Stats {
            images_skipped: 4,
            ..Default::default()
        };
        assert_eq!(
            push_summary(4, "hello 1.0.0", "r:5000/hello", &stats),
            "hello 1.0.0 to r:5000/hello: 0 image(s) pushed, 4 already up to date"
        );
        let stats = transfer::Stats {
            blobs_transferred: 3,
            bytes_transferred: 2048,
            blobs_skipped: 2,
            blobs_mounted: 1,
            images_skipped: 1,
        };
        assert_eq!(
            push_summary(4, "hello 1.0.0", "r:5000/hello", &stats),
            "hello 1.0.0 to r:5000/hello: 3 image(s) pushed, 1 already up to date; \
             3 blob(s) uploaded (2.0 KiB), 1 mounted, 2 already present"
        );
    }
}
