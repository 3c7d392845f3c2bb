//! The air-gap step of `berth demo`: a vendor registry seeded with small generated images
//! under examples/hello's names, then the vendor's release build and signed bundle and the
//! customer's `install --airgap-bundle` into a second simulated cluster whose kubelet may
//! pull only from the customer's registry. Every step calls the same library operations
//! (berth-ops) the `berth release build`, `berth bundle create` and `berth install` commands
//! call; the two registries run in-process.

use anyhow::Result;
use berth_kube_sim::profile::RegistryProfile;
use berth_kube_sim::{Profile, SimOptions, Simulator};
use berth_oci::model::Platform;
use berth_oci::server::{RunningServer, ServerConfig};
use berth_oci::transfer::{self, NoProgress, PushItem};
use berth_oci::{Client, ClientConfig, Layout, Reference, generate, keys};
use berth_ops::airgap::AirgapInput;
use berth_ops::deploy::{ApplyInput, Target};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The images examples/hello runs, as its chart names them.
const IMAGES: [&str; 4] = [
    "registry.hello.example/hello/web:1.0.0",
    "registry.hello.example/hello/migrate:1.0.0",
    "docker.io/library/postgres:16.4",
    "docker.io/library/busybox:1.36",
];

/// A registry served in-process from `root` on a free loopback port.
async fn start_registry(root: &Path) -> Result<(RunningServer, String)> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let srv = berth_oci::server::start(ServerConfig::new(root, addr)).await?;
    let host = srv.addr.to_string();
    Ok((srv, host))
}

/// The mirror settings that fetch examples/hello's images from the vendor registry.
fn vendor_mirrors(vendor: &str) -> ClientConfig {
    ClientConfig {
        insecure: true,
        mirrors: [
            ("registry.hello.example".to_string(), vendor.to_string()),
            ("docker.io".to_string(), vendor.to_string()),
        ]
        .into(),
        ..Default::default()
    }
}

/// Run the step; returns what to show.
pub async fn demo_step(work: PathBuf, app: PathBuf) -> Result<String> {
    let t0 = Instant::now();
    let dir = work.join("airgap");
    std::fs::create_dir_all(&dir)?;
    let p = |s: &str| dir.join(s).to_string_lossy().into_owned();
    let vendor = start_registry(&dir.join("vendor-registry")).await?;
    let customer = start_registry(&dir.join("customer-registry")).await?;

    // The vendor's images: a shared base layer plus one layer of their own each.
    berth_oci::client::install_crypto_provider();
    let seed = Layout::create(dir.join("seed"))?;
    let amd64 = Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: None,
    };
    let base = generate::random_layer(1, 2 << 20)?;
    let mut items = Vec::new();
    for (i, img) in IMAGES.iter().enumerate() {
        let mut d = generate::write_image(
            &seed,
            &[
                base.clone(),
                generate::random_layer(10 + i as u64, 256 << 10)?,
            ],
            &amd64,
        )?;
        d.platform = None;
        let path = img.split_once('/').map_or(*img, |(_, rest)| rest);
        items.push(PushItem {
            descriptor: d,
            target: Reference::parse(&format!("{}/{path}", vendor.1))?,
        });
    }
    let client = Client::new(ClientConfig {
        insecure: true,
        ..Default::default()
    })?;
    transfer::push_images(&client, &seed, &items, &NoProgress).await?;

    // Vendor: release (every image pinned by digest), keys, signed bundle.
    let release_dir = PathBuf::from(p("hello-1.0.0.release"));
    berth_ops::release::build(
        &berth_ops::release::BuildInput {
            dir: app.clone(),
            version: Some("1.0.0".into()),
            out: Some(release_dir.clone()),
            registry_config: vendor_mirrors(&vendor.1),
            ..Default::default()
        },
        &berth_ops::Discard,
    )
    .await?;
    let (key, pubkey) = keys::generate(Path::new(&p("vendor")))?;
    let bundle = PathBuf::from(p("hello-1.0.0.bundle"));
    berth_ops::release::create_bundle(&release_dir, &key, None, None, &bundle)?;
    let bundle_size = std::fs::metadata(p("hello-1.0.0.bundle"))?.len();

    // Customer: a cluster that can pull only from its own registry.
    let mut profile = Profile::default();
    profile.registries.push(RegistryProfile {
        host: customer.1.clone(),
        insecure: true,
        insecure_skip_tls_verify: false,
    });
    let sim = Simulator::start(SimOptions {
        profile,
        registry_check: true,
        ..Default::default()
    })
    .await?;
    let kubeconfig = p("customer.kubeconfig");
    sim.write_kubeconfig(Path::new(&kubeconfig))?;
    let target = format!("{}/hello", customer.1);
    let t_install = Instant::now();
    // The bundle alone: the signed app files are installed, no app directory.
    let input = ApplyInput {
        airgap: Some(AirgapInput {
            bundle: Some(bundle),
            pubkey: Some(pubkey),
            registry: Some(target.clone()),
            registry_config: ClientConfig {
                insecure: true,
                ..Default::default()
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let on = Target {
        kubeconfig: Some(PathBuf::from(&kubeconfig)),
        namespace: Some("hello-airgap".into()),
        timeout: Duration::from_secs(120),
        ..Target::default()
    };
    let report = berth_ops::deploy::install(
        &on,
        &input,
        Arc::new(berth_ops::Discard),
        &berth_ops::Cancel::new(),
    )
    .await?;
    if !report.ok() {
        anyhow::bail!(
            "the air-gapped install failed: {}",
            report.error.clone().unwrap_or_default()
        );
    }
    sim.shutdown().await;
    customer.0.shutdown().await;
    vendor.0.shutdown().await;
    Ok(format!(
        "vendor registry {v} seeded with {n} images; release + signed bundle {mb:.1} MiB\n    \
         berth install --airgap-bundle (the bundle alone, no app directory): verified, pushed into the customer registry {c}, images \
         rewritten to {target}/…@sha256 and checked by the cluster's kubelet: {outcome} in {secs:.1}s \
         (step total {total:.1}s)",
        v = vendor.1,
        n = IMAGES.len(),
        mb = bundle_size as f64 / (1024.0 * 1024.0),
        c = customer.1,
        outcome = serde_json::to_value(report.outcome)?
            .as_str()
            .unwrap_or("installed"),
        secs = t_install.elapsed().as_secs_f64(),
        total = t0.elapsed().as_secs_f64(),
    ))
}
