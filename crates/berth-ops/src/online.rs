//! The online install and upgrade, with the license as the only credential
//! (docs/vendor-server.md): berth-vendor's `online` client asks the vendor server what to
//! install (or which releases an upgrade must walk) and fetches each release's app files; the
//! install is then the release-directory path of [`crate::deploy`] with the server's registry
//! endpoint as the registry and the license as the pull credential, plus the license Secret
//! and `.License` for templates. Each upgrade step runs the release's preflight checks first.

use crate::airgap::AirgapInput;
use crate::deploy::{ApplyInput, Target};
use crate::error::{Error, Result};
use crate::progress::{Cancel, Event, Sink};
use berth_deploy::Cluster;
use berth_deploy::engine::{Engine, Options, Quiet, Report};
use berth_deploy::object::ObjectRef;
use berth_vendor::client::ClientError;
use berth_vendor::model::{InstanceReport, UpdateAnswer};
use berth_vendor::online::{LICENSE_SECRET, Online};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

/// The license an online install or upgrade deploys with.
#[derive(Debug, Clone)]
pub struct LicenseInput {
    /// The license file as given (with its credential: later upgrades authenticate with it).
    pub yaml: String,
    /// What templates see as `.License`.
    pub template: Value,
}

impl LicenseInput {
    /// The `berth-license` Secret: `license.yaml` and `entitlements.json` (docs/formats/license.md).
    pub fn secret(&self, namespace: &str) -> Value {
        use base64::Engine as _;
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

/// A license file's text and where it came from (for messages).
#[derive(Debug, Clone)]
pub struct LicenseText {
    pub text: String,
    pub source: String,
}

impl LicenseText {
    /// Read a license file.
    pub fn read(path: &Path) -> Result<LicenseText> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::BadInput(format!("cannot read the license {}: {e}", path.display()))
        })?;
        Ok(LicenseText {
            text,
            source: path.display().to_string(),
        })
    }

    fn parse(&self) -> Result<berth_license::License> {
        berth_license::License::parse(&self.text, &self.source)
            .map_err(|e| Error::BadInput(e.to_string()))
    }
}

fn client_err(e: ClientError) -> Error {
    match e.status() {
        Some(400 | 403 | 404 | 413) => Error::BadInput(e.to_string()),
        // Kept whole, so front ends can tell "not reachable" ([`unreachable`]) from a refusal.
        _ if matches!(e, ClientError::Unreachable { .. }) => Error::other(e),
        _ => Error::Failed(e.to_string()),
    }
}

/// Whether an operation failed because the vendor server could not be reached at all (no
/// connection, no answer in time): an air-gapped install, a proxy, the server down. The
/// message says which URL and why.
pub fn unreachable(e: &Error) -> bool {
    match e {
        Error::Other(source) | Error::Context { source, .. } => {
            source
                .downcast_ref::<ClientError>()
                .is_some_and(|c| matches!(c, ClientError::Unreachable { .. }))
                || source.downcast_ref::<Error>().is_some_and(unreachable)
        }
        _ => false,
    }
}

fn note(sink: &dyn Sink, s: String) {
    sink.event(Event::Deploy {
        event: berth_deploy::engine::Event::Note(s),
    });
}

/// What the vendor hears about this cluster with each check.
pub async fn instance(cluster: &Cluster, ready: &str) -> InstanceReport {
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

/// `input` pointed at a fetched release: images from the server's registry endpoint with the
/// license as pull credential, the license Secret and `.License`.
fn online_input(
    on: &Online,
    yaml: &str,
    release_dir: std::path::PathBuf,
    input: &ApplyInput,
) -> Result<ApplyInput> {
    let (user, password) = on.pull_credential();
    let mut i = input.clone();
    i.airgap = Some(AirgapInput {
        release: Some(release_dir),
        registry: Some(on.registry().map_err(client_err)?),
        pull_username: Some(user),
        pull_password: Some(password),
        ..Default::default()
    });
    i.license = Some(LicenseInput {
        yaml: yaml.to_string(),
        template: on.template_context(),
    });
    Ok(i)
}

/// Tell the vendor which version now runs (an update check; a failure is only a warning).
async fn report(on: &Online, cluster: &Cluster, version: &str, sink: &dyn Sink) {
    let inst = instance(cluster, "deployed").await;
    if let Err(e) = on.check(Some(version), None, inst).await {
        sink.event(Event::Warning {
            message: format!("could not report {version} to the vendor server: {e}"),
        });
    }
}

/// `berth install --license`: the newest release of the license's channel, or `version`.
pub async fn install(
    target: &Target,
    input: &ApplyInput,
    license: &LicenseText,
    version: Option<&str>,
    vendor_url: Option<&str>,
    sink: Arc<dyn Sink>,
    cancel: &Cancel,
) -> Result<Report> {
    let on = Online::new(license.parse()?, vendor_url).map_err(client_err)?;
    let (cluster, namespace) = target.connect().await?;
    let inst = instance(&cluster, "installing").await;
    let version = on
        .install_version(version, inst)
        .await
        .map_err(client_err)?;
    let scratch = tempfile::Builder::new().prefix("berth-online-").tempdir()?;
    let fetched = on
        .fetch(&version, scratch.path())
        .await
        .map_err(client_err)?;
    note(
        &*sink,
        format!(
            "{} {version} from {} (channel {}) into namespace {namespace}; images from {}",
            on.license.spec.app,
            on.url,
            on.license.default_channel().unwrap_or("?"),
            on.registry().map_err(client_err)?
        ),
    );
    let i = online_input(&on, &license.text, fetched.release_dir, input)?;
    let target = Target {
        cluster: Some(cluster.clone()),
        namespace: Some(namespace),
        ..target.clone()
    };
    let r = crate::deploy::install(&target, &i, sink.clone(), cancel).await?;
    if r.ok() && !input.dry_run {
        report(&on, &cluster, &version, &*sink).await;
    }
    Ok(r)
}

/// The license and version an online install left in a namespace.
pub struct Installed {
    pub license: LicenseText,
    pub version: String,
    pub cluster: Arc<Cluster>,
    pub namespace: String,
}

/// Read the license (`license`, else the namespace's `secret/berth-license`) and the deployed
/// version of its app from `target`'s namespace.
pub async fn installed(target: &Target, license: Option<&LicenseText>) -> Result<Installed> {
    let (cluster, namespace) = target.connect().await?;
    let license = match license {
        Some(l) => l.clone(),
        None => license_from_cluster(&cluster, &namespace).await?,
    };
    let app = license.parse()?.spec.app;
    let engine = Engine::new(
        cluster.clone(),
        Options {
            namespace: namespace.clone(),
            ..Options::default()
        },
        Arc::new(Quiet),
    );
    let version = engine
        .revisions(&app)
        .await?
        .iter()
        .rev()
        .find(|r| r.status == berth_deploy::inventory::Status::Deployed)
        .map(|r| r.version.clone())
        .ok_or_else(|| {
            Error::NotInstalled(format!(
                "{app} is not installed in namespace {namespace}: install it first (berth install --license FILE -n {namespace})"
            ))
        })?;
    Ok(Installed {
        license,
        version,
        cluster,
        namespace,
    })
}

/// The license an app runs under, as a front end shows it (read from the namespace's
/// `secret/berth-license`; its signature is checked by installs and upgrades, not here).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LicenseSummary {
    pub license_id: String,
    pub customer: String,
    pub license_type: String,
    pub channels: Vec<String>,
    /// RFC 3339, or None for a license that does not expire.
    pub expires_at: Option<String>,
    /// Whole days until it expires (negative once expired).
    pub days_left: Option<i64>,
    /// Support bundles may be sent to the vendor server with it.
    pub support_bundle_upload: bool,
    /// App snapshots are allowed.
    pub snapshots: bool,
    /// The vendor server it talks to.
    pub vendor_url: String,
}

/// The license the app in the target's namespace was installed with; None when it was
/// installed without one (no `secret/berth-license`).
pub async fn installed_license(target: &Target) -> Result<Option<LicenseSummary>> {
    let (cluster, ns) = target.connect().await?;
    let r = ObjectRef {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: ns.clone(),
        name: LICENSE_SECRET.into(),
    };
    if cluster.get(&r).await?.is_none() {
        return Ok(None);
    }
    let spec = license_from_cluster(&cluster, &ns).await?.parse()?.spec;
    Ok(Some(summary(&spec)))
}

/// The license installed in `namespace` (parsed, as `berth install --license` checked it),
/// if any.
pub async fn installed_license_in(
    cluster: &Cluster,
    namespace: &str,
) -> Result<Option<berth_license::License>> {
    let r = ObjectRef {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: namespace.into(),
        name: LICENSE_SECRET.into(),
    };
    if cluster.get(&r).await?.is_none() {
        return Ok(None);
    }
    Ok(Some(
        license_from_cluster(cluster, namespace).await?.parse()?,
    ))
}

async fn license_from_cluster(cluster: &Cluster, namespace: &str) -> Result<LicenseText> {
    use base64::Engine as _;
    let r = ObjectRef {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: namespace.into(),
        name: LICENSE_SECRET.into(),
    };
    let where_ = format!("secret/{LICENSE_SECRET} in namespace {namespace}");
    let s = cluster.get(&r).await?.ok_or_else(|| {
        Error::BadInput(format!(
            "{where_} does not exist: the app was not installed with `berth install --license`; give the license with --license FILE"
        ))
    })?;
    let text = s["data"]["license.yaml"]
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|v| String::from_utf8(v).ok())
        .ok_or_else(|| {
            Error::BadInput(format!(
                "{where_} holds no readable license.yaml; give the license with --license FILE"
            ))
        })?;
    Ok(LicenseText {
        text,
        source: where_,
    })
}

/// What an online upgrade asks for.
#[derive(Debug, Clone, Default)]
pub struct UpgradeTo {
    /// The target version; None = the newest on the license's channel.
    pub version: Option<String>,
    /// The license (default: the namespace's `secret/berth-license`).
    pub license: Option<LicenseText>,
    /// Reach the vendor server here instead of the license's URL.
    pub vendor_url: Option<String>,
    /// Skip each release's preflight checks.
    pub skip_preflights: bool,
}

/// `berth upgrade --to V | --latest`: walk the server's path (every required release on the
/// way), each step fetched (digests checked), preflighted and upgraded with the usual policy
/// checks and automatic rollback. Stops at the first step that does not succeed; returns the
/// reports of the steps run (empty when already up to date).
pub async fn upgrade(
    target: &Target,
    input: &ApplyInput,
    to: &UpgradeTo,
    sink: Arc<dyn Sink>,
    cancel: &Cancel,
) -> Result<Vec<Report>> {
    let inst = installed(target, to.license.as_ref()).await?;
    let on = Online::new(inst.license.parse()?, to.vendor_url.as_deref()).map_err(client_err)?;
    let ans = on
        .check(
            Some(&inst.version),
            to.version.as_deref(),
            instance(&inst.cluster, "deployed").await,
        )
        .await
        .map_err(client_err)?;
    if let Some(why) = ans.refused {
        return Err(Error::BadInput(format!(
            "the vendor server refuses an upgrade of {} {}: {why}",
            ans.app, inst.version
        )));
    }
    let mut reports = vec![];
    if ans.path.is_empty() {
        return Ok(reports);
    }
    note(
        &*sink,
        format!(
            "upgrade path of {} in namespace {}: {} -> {}",
            ans.app,
            inst.namespace,
            inst.version,
            ans.path.join(" -> ")
        ),
    );
    let scratch = tempfile::Builder::new().prefix("berth-online-").tempdir()?;
    let target = Target {
        cluster: Some(inst.cluster.clone()),
        namespace: Some(inst.namespace.clone()),
        ..target.clone()
    };
    for v in &ans.path {
        cancel.check()?;
        let fetched = on.fetch(v, scratch.path()).await.map_err(client_err)?;
        if !to.skip_preflights {
            preflight(&fetched.release_dir, &target, v, &*sink, cancel).await?;
        }
        let i = online_input(&on, &inst.license.text, fetched.release_dir, input)?;
        let r = crate::deploy::upgrade(&target, &i, sink.clone(), cancel).await?;
        let ok = r.ok();
        reports.push(r);
        if !ok {
            break;
        }
        if !input.dry_run {
            report(&on, &inst.cluster, v, &*sink).await;
        }
    }
    Ok(reports)
}

/// Run a release's `spec.checks.preflights` against the cluster; a failed check stops the
/// upgrade before this step changes anything.
async fn preflight(
    release_dir: &Path,
    target: &Target,
    version: &str,
    sink: &dyn Sink,
    cancel: &Cancel,
) -> Result<()> {
    let rel = berth_oci::release::Release::open(release_dir)?;
    let dir = tempfile::tempdir()?;
    rel.write_app_files(dir.path())?;
    let loaded = berth_spec::load(dir.path()).map_err(|e| Error::BadInput(e.to_string()))?;
    let specs: Vec<String> = loaded
        .app
        .spec
        .checks
        .as_ref()
        .map(|c| c.preflights.clone())
        .unwrap_or_default()
        .iter()
        .map(|f| dir.path().join(f).display().to_string())
        .collect();
    if specs.is_empty() {
        return Ok(());
    }
    let input = crate::troubleshoot::PreflightInput {
        specs,
        kube: crate::troubleshoot::KubeTarget {
            kubeconfig: target.kubeconfig.clone(),
            context: target.context.clone(),
            namespace: target.namespace.clone(),
        },
        ..Default::default()
    };
    let rep = crate::troubleshoot::preflight(&input, sink, cancel).await?;
    let failed: Vec<String> = rep
        .results
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                berth_troubleshoot::analyze::Outcome::Fail
                    | berth_troubleshoot::analyze::Outcome::Error
            )
        })
        .map(|r| format!("{}: {}", r.check, r.message))
        .collect();
    if !failed.is_empty() {
        return Err(Error::BadInput(format!(
            "the preflight checks of {version} failed, so nothing was upgraded to {version}: {}. Fix what they report (or pass --skip-preflights)",
            failed.join("; ")
        )));
    }
    note(
        sink,
        format!(
            "preflight checks of {version}: {} passed or warned",
            rep.results.len()
        ),
    );
    Ok(())
}

/// What `berth updates` asks (and the console's Versions page).
#[derive(Debug, Clone, Default)]
pub struct UpdatesInput {
    /// The license; `None`: the namespace's `secret/berth-license` (then the deployed version
    /// is the current one, and the cluster identifies the instance).
    pub license: Option<LicenseText>,
    /// The installed version (with a license given: absent = what a new install would get).
    pub current: Option<String>,
    /// A channel of the license other than its default.
    pub channel: Option<String>,
    /// Reach the vendor server here instead of the license's URL.
    pub vendor_url: Option<String>,
    /// UID of the cluster's kube-system namespace, with a license given (default `unknown`).
    pub cluster_id: Option<String>,
    /// Give up on a vendor server that has not answered by then (None: the client's own
    /// timeouts); a page waits on this.
    pub timeout: Option<std::time::Duration>,
}

/// The vendor server's answer to an update check, and what it was asked about.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UpdatesReport {
    /// Newer releases on the channel, the path, end of life, a refusal (an expired license).
    pub answer: UpdateAnswer,
    /// The installed version asked about.
    pub current: Option<String>,
    /// The server asked.
    pub url: String,
    /// The license (as a front end shows it).
    pub license: LicenseSummary,
}

fn summary(spec: &berth_license::Spec) -> LicenseSummary {
    let now = jiff::Timestamp::now();
    LicenseSummary {
        license_id: spec.license_id.clone(),
        customer: spec.customer.clone(),
        license_type: spec.license_type.as_str().into(),
        channels: spec.channels.clone(),
        expires_at: spec.expires_at.map(|t| t.to_string()),
        days_left: spec
            .expires_at
            .map(|t| (t.as_second() - now.as_second()).div_euclid(86_400)),
        support_bundle_upload: spec.support_bundle_upload,
        snapshots: spec.snapshots,
        vendor_url: spec.vendor_url.clone(),
    }
}

/// `berth updates`: ask the vendor server what is newer than the installed version (or, with
/// a license and no version, what a new install would get): newer releases with their notes,
/// required flags and end of life, the upgrade path, and why none is possible (an expired
/// license). With no license given, the license and version are read from `target`'s
/// namespace. A server that cannot be reached is an error [`unreachable`] recognises.
pub async fn updates(target: &Target, input: &UpdatesInput) -> Result<UpdatesReport> {
    let mut current = input.current.clone();
    let (license, cluster_id) = match &input.license {
        Some(l) => (
            l.clone(),
            input.cluster_id.clone().unwrap_or_else(|| "unknown".into()),
        ),
        None => {
            let inst = installed(target, None).await?;
            current = current.or(Some(inst.version.clone()));
            let id = instance(&inst.cluster, "").await.cluster_id;
            (inst.license, id)
        }
    };
    let parsed = license.parse()?;
    let lic = summary(&parsed.spec);
    let on = Online::new(parsed, input.vendor_url.as_deref()).map_err(client_err)?;
    let url = on.url.clone();
    let q = berth_vendor::model::UpdateCheck {
        current_version: current.clone(),
        target_version: None,
        channel: input.channel.clone(),
        instance: InstanceReport {
            cluster_id,
            berth_version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        },
    };
    let check = on.client().check_updates(&q);
    let answer = match input.timeout {
        Some(t) => match tokio::time::timeout(t, check).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Unreachable {
                url: url.clone(),
                reason: format!("no answer within {} s", t.as_secs()),
            }),
        },
        None => check.await,
    }
    .map_err(|e| match e {
        // A refused check (a revoked customer, a channel not licensed) is a failure to report,
        // not the caller's input to fix.
        ClientError::Unreachable { .. } => Error::other(e),
        e => Error::Failed(e.to_string()),
    })?;
    Ok(UpdatesReport {
        answer,
        current,
        url,
        license: lic,
    })
}

/// What `berth support-bundle --upload` (and the console's "Send to vendor") sends.
#[derive(Debug, Clone, Default)]
pub struct SendBundleInput {
    /// The support bundle (`.tar.gz`, written by berth with redaction on).
    pub bundle: std::path::PathBuf,
    /// The license; `None`: the namespace's `secret/berth-license`.
    pub license: Option<LicenseText>,
    /// Reach the vendor server here instead of the license's URL.
    pub vendor_url: Option<String>,
}

/// Send a support bundle to the vendor server with the license as the credential. Only a
/// bundle berth collected with redaction on is sent: it must be an archive berth can open
/// (the same checks as any bundle read) holding `redaction-report.json`, which berth writes
/// only when every collected file went through the redactors; anything else is refused before
/// a byte leaves. The bytes sent are the file's, streamed, checked against the server's
/// SHA-256 of what it stored.
pub async fn send_support_bundle(
    target: &Target,
    input: &SendBundleInput,
    sink: &dyn Sink,
) -> Result<berth_vendor::model::SupportBundleInfo> {
    let path = input.bundle.clone();
    let shown = path.display().to_string();
    let checked = tokio::task::spawn_blocking(move || -> Result<()> {
        if !path.is_file() {
            return Err(Error::BadInput(format!(
                "{} is not a file: only a support bundle archive (.tar.gz, not --no-archive) can be sent",
                path.display()
            )));
        }
        let reader = berth_troubleshoot::bundle::open(&path)
            .map_err(|e| Error::BadInput(e.to_string()))?;
        if reader.read("version.yaml").is_none() {
            return Err(Error::BadInput(format!(
                "{} has no version.yaml: it is not a support bundle",
                path.display()
            )));
        }
        if reader.read("redaction-report.json").is_none() {
            return Err(Error::BadInput(format!(
                "{} was not collected with redaction (it has no redaction-report.json): it is not sent; collect it again without --no-redact",
                path.display()
            )));
        }
        Ok(())
    })
    .await
    .map_err(|e| Error::Failed(format!("checking {shown}: {e}")))?;
    checked?;
    let license = match &input.license {
        Some(l) => l.clone(),
        None => {
            let (cluster, ns) = target.connect().await?;
            license_from_cluster(&cluster, &ns).await?
        }
    };
    let parsed = license.parse()?;
    if !parsed.spec.support_bundle_upload {
        return Err(Error::BadInput(format!(
            "the license {} of {} does not include support bundle uploads: send {shown} to the vendor another way, or ask for a license with supportBundleUpload",
            parsed.spec.license_id, parsed.spec.customer
        )));
    }
    let on = Online::new(parsed, input.vendor_url.as_deref()).map_err(client_err)?;
    sink.event(Event::Note {
        message: format!("sending {shown} to the vendor server at {}", on.url),
    });
    on.client()
        .upload_support_bundle(&input.bundle)
        .await
        .map_err(client_err)
}
