//! The online path of `berth install --license`, `berth upgrade --to|--latest` and
//! `berth updates -n`: the license is the only credential. berth-vendor's `online` module asks
//! the vendor server what to install and fetches the release's app files; this module turns
//! that into the release-directory path of install/upgrade (images pulled from the server's
//! registry endpoint with the license as pull credential), adds the license Secret, and runs
//! the release's preflight checks before each upgrade step.

use crate::cmd::airgap::AirgapFlags;
use crate::cmd::deploy::{ApplyFlags, BadInput, Common};
use anyhow::{Context, Result};
use base64::Engine as _;
use berth_deploy::Cluster;
use berth_deploy::engine::{Engine, Mode, Options, Quiet};
use berth_deploy::object::ObjectRef;
use berth_vendor::model::InstanceReport;
use berth_vendor::online::{LICENSE_SECRET, Online};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
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
    /// Whether this upgrade goes through the vendor server.
    pub fn active(&self) -> bool {
        self.to.is_some() || self.latest
    }
}

/// The license an online install or upgrade carries into the deploy: what templates see as
/// `.License` and the Secret written into the namespace.
#[derive(Debug, Clone)]
pub struct Licensed {
    /// The license file, as given (with its credential: later upgrades authenticate with it).
    pub yaml: String,
    /// `.License` for templates.
    pub template: Value,
}

impl Licensed {
    /// The `berth-license` Secret: `license.yaml` and `entitlements.json`.
    pub fn secret(&self, namespace: &str) -> Value {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let ents = serde_json::to_string(&self.template["Entitlements"]).unwrap_or_default();
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": LICENSE_SECRET,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/managed-by": "berth"},
            },
            "type": "Opaque",
            "data": {
                "license.yaml": b64(&self.yaml),
                "entitlements.json": b64(&ents),
            },
        })
    }
}

fn read_license(path: &Path) -> Result<(berth_license::License, String)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BadInput(format!("cannot read the license {}: {e}", path.display())))?;
    let l = berth_license::License::parse(&text, &path.display().to_string())
        .map_err(|e| BadInput(e.to_string()))?;
    Ok((l, text))
}

/// Point the release-directory path of install/upgrade at `fetched`, pulling from the vendor
/// registry endpoint with the license.
fn online_source(
    on: &Online,
    yaml: &str,
    release_dir: PathBuf,
    airgap: &AirgapFlags,
) -> Result<AirgapFlags> {
    let (user, password) = on.pull_credential();
    let mut f = airgap.clone();
    f.release = Some(release_dir);
    f.registry = Some(on.registry()?);
    f.pull_username = Some(user);
    f.pull_password = Some(password);
    f.license = Some(Licensed {
        yaml: yaml.to_string(),
        template: on.template_context(),
    });
    Ok(f)
}

/// What the vendor hears about this cluster with each check.
async fn instance(cluster: &Cluster, ready: &str) -> InstanceReport {
    let ns = ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: String::new(),
        name: "kube-system".into(),
    };
    let uid = match cluster.get(&ns).await {
        Ok(Some(o)) => o["metadata"]["uid"]
            .as_str()
            .unwrap_or("unknown")
            .to_string(),
        _ => "unknown".into(),
    };
    InstanceReport {
        cluster_id: uid,
        kube_version: cluster.git_version().await.unwrap_or_default(),
        distribution: String::new(),
        ready: ready.into(),
        berth_version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// `berth install --license FILE`: fetch the release, then install it as a release directory.
pub async fn install(
    flags: &InstallOnline,
    apply: ApplyFlags,
    common: Common,
    airgap: &AirgapFlags,
) -> Result<u8> {
    let Some(path) = &flags.license else {
        return Err(BadInput("--license is required here".into()).into());
    };
    let (lic, yaml) = read_license(path)?;
    let on = Online::new(lic, flags.vendor_url.as_deref())?;
    let (cluster, _) = crate::cmd::deploy::connect_cluster(&common).await?;
    let inst = instance(&cluster, "installing").await;
    let version = on.install_version(flags.version.as_deref(), inst).await?;
    let scratch = tempfile::Builder::new()
        .prefix("berth-online-")
        .tempdir()
        .context("creating a scratch directory")?;
    let fetched = on.fetch(&version, scratch.path()).await?;
    if common.output == crate::output::Format::Table {
        eprintln!(
            "{} {version} from {} (channel {}), images from {}",
            on.license.spec.app,
            on.url,
            on.license.default_channel().unwrap_or("?"),
            on.registry()?
        );
    }
    let ag = online_source(&on, &yaml, fetched.release_dir, airgap)?;
    let code = crate::cmd::deploy::apply_op(
        apply.clone(),
        common.clone(),
        Some(Mode::Install),
        false,
        Some(ag),
    )
    .await?;
    if code == crate::exit::OK && !apply.dry_run {
        report(&on, &cluster, &version).await;
    }
    Ok(code)
}

/// Tell the vendor which version now runs (an update check; failures only warn).
async fn report(on: &Online, cluster: &Cluster, version: &str) {
    let inst = instance(cluster, "deployed").await;
    if let Err(e) = on.check(Some(version), None, inst).await {
        eprintln!("warning: could not report {version} to the vendor server: {e}");
    }
}

/// The license and version installed in a namespace by an online install.
pub struct Installed {
    pub yaml: String,
    pub license: berth_license::License,
    pub version: String,
    pub cluster: Arc<Cluster>,
    pub namespace: String,
}

/// Read the license Secret and the deployed version from the namespace of `common`.
pub async fn installed(common: &Common, license: Option<&Path>) -> Result<Installed> {
    let (cluster, namespace) = crate::cmd::deploy::connect_cluster(common).await?;
    let (lic, yaml) = match license {
        Some(p) => read_license(p)?,
        None => {
            let r = ObjectRef {
                api_version: "v1".into(),
                kind: "Secret".into(),
                namespace: namespace.clone(),
                name: LICENSE_SECRET.into(),
            };
            let s = cluster.get(&r).await?.ok_or_else(|| {
                BadInput(format!(
                    "secret/{LICENSE_SECRET} is not in namespace {namespace}: the app was not installed with `berth install --license`; give the license with --license FILE"
                ))
            })?;
            let b = s["data"]["license.yaml"].as_str().unwrap_or_default();
            let text = base64::engine::general_purpose::STANDARD
                .decode(b)
                .ok()
                .and_then(|v| String::from_utf8(v).ok())
                .ok_or_else(|| {
                    BadInput(format!(
                        "secret/{LICENSE_SECRET} in namespace {namespace} holds no readable license.yaml; give the license with --license FILE"
                    ))
                })?;
            let l = berth_license::License::parse(
                &text,
                &format!("secret/{LICENSE_SECRET} in namespace {namespace}"),
            )
            .map_err(|e| BadInput(e.to_string()))?;
            (l, text)
        }
    };
    let engine = Engine::new(
        cluster.clone(),
        Options {
            namespace: namespace.clone(),
            ..Options::default()
        },
        Arc::new(Quiet),
    );
    let app = lic.spec.app.clone();
    let version = engine
        .revisions(&app)
        .await?
        .iter()
        .rev()
        .find(|r| r.status == berth_deploy::inventory::Status::Deployed)
        .map(|r| r.version.clone())
        .ok_or_else(|| {
            crate::exit::NotInstalled(format!(
                "{app} is not installed in namespace {namespace}: install it first (berth install --license FILE -n {namespace})"
            ))
        })?;
    Ok(Installed {
        yaml,
        license: lic,
        version,
        cluster,
        namespace,
    })
}

/// Run the release's `spec.checks.preflights` against the cluster; Err when one fails.
fn preflight(release_dir: &Path, common: &Common, version: &str) -> Result<()> {
    let rel = berth_oci::release::Release::open(release_dir)?;
    let dir = tempfile::tempdir().context("creating a scratch directory")?;
    rel.write_app_files(dir.path())?;
    let loaded = berth_spec::load(dir.path()).map_err(|e| BadInput(e.to_string()))?;
    let files: Vec<String> = loaded
        .app
        .spec
        .checks
        .as_ref()
        .map(|c| c.preflights.clone())
        .unwrap_or_default();
    if files.is_empty() {
        return Ok(());
    }
    let mut argv: Vec<String> = vec!["preflight".into()];
    argv.extend(
        files
            .iter()
            .map(|f| dir.path().join(f).display().to_string()),
    );
    if let Some(k) = &common.kubeconfig {
        argv.push(format!("--kubeconfig={}", k.display()));
    }
    if let Some(c) = &common.context {
        argv.push(format!("--context={c}"));
    }
    #[derive(clap::Parser)]
    struct P {
        #[command(flatten)]
        a: crate::cmd::troubleshoot::PreflightArgs,
    }
    let p = <P as clap::Parser>::try_parse_from(&argv).context("preflight arguments")?;
    eprintln!("preflight checks of {version}:");
    let code = crate::cmd::troubleshoot::preflight(p.a)?;
    if code == crate::cmd::troubleshoot::code::FAIL || code == crate::cmd::troubleshoot::code::OTHER
    {
        return Err(BadInput(format!(
            "the preflight checks of {version} failed (exit {code}); nothing was upgraded to {version}. Fix what they report, or pass --skip-preflights"
        ))
        .into());
    }
    Ok(())
}

/// `berth upgrade --to VERSION | --latest`: walk the server's path (every required release on
/// the way), each step fetched, checked, preflighted and upgraded (auto-rollback as usual).
pub fn upgrade(
    flags: &UpgradeOnline,
    apply: ApplyFlags,
    common: Common,
    no_rollback: bool,
    airgap: &AirgapFlags,
) -> Result<u8> {
    let rt = crate::cmd::deploy::runtime()?;
    let (inst, on, path) = rt.block_on(async {
        let inst = installed(&common, flags.license.as_deref()).await?;
        let on = Online::new(inst.license.clone(), flags.vendor_url.as_deref())?;
        let report = instance(&inst.cluster, "deployed").await;
        let ans = on
            .check(Some(&inst.version), flags.to.as_deref(), report)
            .await?;
        if let Some(why) = ans.refused {
            return Err(anyhow::Error::from(BadInput(format!(
                "the vendor server refuses an upgrade of {} {}: {why}",
                ans.app, inst.version
            ))));
        }
        Ok((inst, on, ans.path))
    })?;
    let app = inst.license.spec.app.clone();
    if path.is_empty() {
        println!("{app} {} is up to date", inst.version);
        return Ok(crate::exit::OK);
    }
    eprintln!(
        "upgrade path of {app} in namespace {}: {} -> {}",
        inst.namespace,
        inst.version,
        path.join(" -> ")
    );
    let scratch = tempfile::Builder::new()
        .prefix("berth-online-")
        .tempdir()
        .context("creating a scratch directory")?;
    for v in &path {
        let fetched = rt.block_on(on.fetch(v, scratch.path()))?;
        if !flags.skip_preflights {
            preflight(&fetched.release_dir, &common, v)?;
        }
        let ag = online_source(&on, &inst.yaml, fetched.release_dir, airgap)?;
        let code = rt.block_on(crate::cmd::deploy::apply_op(
            apply.clone(),
            common.clone(),
            Some(Mode::Upgrade),
            no_rollback,
            Some(ag),
        ))?;
        if code != crate::exit::OK {
            return Ok(code);
        }
        if !apply.dry_run {
            rt.block_on(report(&on, &inst.cluster, v));
        }
    }
    Ok(crate::exit::OK)
}
