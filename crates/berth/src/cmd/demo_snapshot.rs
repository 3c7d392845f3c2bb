//! The demo's snapshot step: write files into the database's volume, snapshot the app into a
//! repository in the demo folder (objects, revision and volume data, the latter read by a
//! mover Job that the simulated kubelet runs as this binary), delete the namespace, restore
//! into a new one and show the volume's files and checksums before and after.

use anyhow::{Result, anyhow};
use berth_deploy::object::ObjectRef;
use berth_deploy::{Cluster, ConnectOptions};
use berth_ops::deploy::Target;
use berth_ops::snapshot::{self as appsnap, AppRestoreInput, AppSnapshotInput, RepoAccess};
use berth_snapshot as snap;
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The namespace the app is restored into.
pub const RESTORED: &str = "hello-restored";
const CLAIM: &str = "data-hello-postgresql-0";

/// The directory of the volume bound to `claim` (the simulator's).
async fn claim_dir(cluster: &Cluster, ns: &str, claim: &str) -> Result<PathBuf> {
    let r = |kind: &str, ns: &str, name: &str| ObjectRef {
        api_version: "v1".into(),
        kind: kind.into(),
        namespace: ns.into(),
        name: name.into(),
    };
    let pvc = cluster
        .get(&r("PersistentVolumeClaim", ns, claim))
        .await?
        .ok_or_else(|| anyhow!("persistentvolumeclaim/{claim} not found in namespace {ns}"))?;
    let pv_name = pvc["spec"]["volumeName"]
        .as_str()
        .ok_or_else(|| anyhow!("persistentvolumeclaim/{claim} is not bound"))?;
    let pv = cluster
        .get(&r("PersistentVolume", "", pv_name))
        .await?
        .ok_or_else(|| anyhow!("persistentvolume/{pv_name} not found"))?;
    berth_kube_sim::volume_dir(&pv)
        .ok_or_else(|| anyhow!("persistentvolume/{pv_name} is not a simulator volume"))
}

/// Stand-ins for a database's files, written as the app would.
fn seed(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir.join("base/16384"))?;
    std::fs::write(dir.join("PG_VERSION"), "16\n")?;
    std::fs::write(
        dir.join("postgresql.auto.conf"),
        "# written by the demo\nmax_connections = 50\n",
    )?;
    let table: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(dir.join("base/16384/2619"), table)?;
    Ok(())
}

/// `size  sha256  path` of every file below `dir`.
fn checksums(dir: &Path) -> Result<BTreeMap<String, (u64, String)>> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).min_depth(1) {
        let e = e?;
        if e.file_type().is_file() {
            let bytes = std::fs::read(e.path())?;
            let rel = e.path().strip_prefix(dir)?.display().to_string();
            let sum = sha2::Sha256::digest(&bytes);
            let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
            out.insert(rel, (bytes.len() as u64, hex));
        }
    }
    Ok(out)
}

fn show(sums: &BTreeMap<String, (u64, String)>) -> String {
    sums.iter()
        .map(|(p, (n, h))| format!("      {n:>8}  {}…  {p}\n", &h[..16]))
        .collect()
}

/// The step.
pub async fn demo_step(kubeconfig: PathBuf, namespace: String, work: PathBuf) -> Result<String> {
    let cluster = Arc::new(
        Cluster::connect(&ConnectOptions {
            kubeconfig: Some(kubeconfig),
            context: None,
        })
        .await?,
    );
    let dir = claim_dir(&cluster, &namespace, CLAIM).await?;
    seed(&dir)?;
    let before = checksums(&dir)?;
    let mut out = format!("files in volume of claim {CLAIM} (namespace {namespace}):\n");
    out.push_str(&show(&before));

    let password = "demo repository password".to_string();
    let secret = snap::Secret::Password(password.clone());
    let repo_dir = work.join("backups");
    let opts = snap::InitOptions {
        kdf: snap::KdfParams {
            m_cost_kib: 8 * 1024,
            ..snap::KdfParams::default()
        },
        ..Default::default()
    };
    let repo =
        snap::Repository::init(Arc::new(snap::LocalBackend::new(&repo_dir)), &secret, &opts)?;
    let access = RepoAccess {
        repo,
        url: repo_dir.display().to_string(),
        password,
        credentials: Default::default(),
    };
    let target = |ns: &str| Target {
        namespace: Some(ns.to_string()),
        timeout: Duration::from_secs(120),
        ..Target::connected(cluster.clone(), ns)
    };
    let rep = appsnap::create(
        &target(&namespace),
        &access,
        &AppSnapshotInput {
            app: None,
            mover_image: appsnap::default_mover_image(),
            tags: Vec::new(),
            volume_snapshot_classes: Default::default(),
        },
        &berth_ops::Discard,
    )
    .await?;
    out.push_str(&format!(
        "berth snapshot create -n {namespace}: snapshot {} of {} {} (revision {}), {} objects, claim {CLAIM}: {} files, {} bytes (read by a mover Job)\n",
        &rep.snapshot_id[..8],
        rep.app,
        rep.version,
        rep.revision,
        rep.objects,
        rep.claims.first().map_or(0, |c| c.files),
        rep.claims.first().map_or(0, |c| c.bytes),
    ));

    delete_namespace(&cluster, &namespace, &dir).await?;
    out.push_str(&format!(
        "deleted namespace {namespace}: the app and its volume are gone\n"
    ));

    let res = appsnap::restore(
        &target(RESTORED),
        &access,
        &AppRestoreInput {
            snapshot: rep.snapshot_id[..8].to_string(),
            force: false,
            mover_image: appsnap::default_mover_image(),
        },
        Arc::new(berth_ops::Discard),
        &berth_ops::Cancel::new(),
    )
    .await?;
    if !res.deploy.ok() {
        return Err(anyhow!(
            "{}",
            crate::cmd::deploy::render_report(&res.deploy)
        ));
    }
    out.push_str(&format!(
        "berth snapshot restore {} -n {RESTORED}: claim {CLAIM} filled by a mover Job; {} {} ready, revision {} recorded\n",
        &rep.snapshot_id[..8],
        res.deploy.app,
        res.deploy.version,
        res.deploy.revision.unwrap_or_default()
    ));
    let after = checksums(&claim_dir(&cluster, RESTORED, CLAIM).await?)?;
    out.push_str(&format!(
        "files in volume of claim {CLAIM} (namespace {RESTORED}):\n"
    ));
    out.push_str(&show(&after));
    if after != before {
        return Err(anyhow!(
            "the restored volume's files differ from the snapshot's"
        ));
    }
    out.push_str("checksums before and after are identical\n");
    Ok(out)
}

async fn delete_namespace(cluster: &Cluster, ns: &str, volume: &Path) -> Result<()> {
    let r = ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: String::new(),
        name: ns.into(),
    };
    cluster.delete(&r).await?;
    let start = Instant::now();
    while cluster.get(&r).await?.is_some() || volume.exists() {
        if start.elapsed() > Duration::from_secs(60) {
            return Err(anyhow!("namespace {ns} was not deleted within 60s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
