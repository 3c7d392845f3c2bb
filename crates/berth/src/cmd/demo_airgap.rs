//! The air-gap step of `berth demo`: a vendor registry seeded with small generated images
//! under examples/hello's names, `berth release build` → `berth bundle create` → `berth install
//! --airgap-bundle` into a second simulated cluster whose kubelet may pull only from the
//! customer's registry. The commands run as separate `berth` processes, exactly as a vendor and
//! a customer admin would type them.

use anyhow::{Context, Result, anyhow, bail};
use berth_kube_sim::profile::RegistryProfile;
use berth_kube_sim::{Profile, SimOptions, Simulator};
use berth_oci::model::Platform;
use berth_oci::transfer::{self, NoProgress, PushItem};
use berth_oci::{Client, ClientConfig, Layout, Reference, generate};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// The images examples/hello runs, as its chart names them.
const IMAGES: [&str; 4] = [
    "registry.hello.example/hello/web:1.0.0",
    "registry.hello.example/hello/migrate:1.0.0",
    "docker.io/library/postgres:16.4",
    "docker.io/library/busybox:1.36",
];

struct Registry(Child, String);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn berth_exe() -> Result<PathBuf> {
    std::env::current_exe().context("cannot find the berth executable")
}

fn start_registry(root: &Path) -> Result<Registry> {
    let mut child = Command::new(berth_exe()?)
        .args(["registry", "serve", "--addr", "127.0.0.1:0", "--root"])
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start `berth registry serve`")?;
    let mut line = String::new();
    let out = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    BufReader::new(out).read_line(&mut line)?;
    let host = line.trim().to_string();
    if host.is_empty() {
        let _ = child.kill();
        bail!("`berth registry serve` did not print its address");
    }
    Ok(Registry(child, host))
}

fn run(args: &[&str]) -> Result<String> {
    let out = Command::new(berth_exe()?)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        bail!(
            "`berth {}` failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Run the step; returns what to show.
pub async fn demo_step(work: PathBuf, app: PathBuf) -> Result<String> {
    let t0 = Instant::now();
    let dir = work.join("airgap");
    std::fs::create_dir_all(&dir)?;
    let p = |s: &str| dir.join(s).to_string_lossy().into_owned();
    let vendor = start_registry(&dir.join("vendor-registry"))?;
    let customer = start_registry(&dir.join("customer-registry"))?;

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
    let app_s = app.to_string_lossy().into_owned();
    let mirror_hello = format!("--mirror=registry.hello.example={}", vendor.1);
    let mirror_hub = format!("--mirror=docker.io={}", vendor.1);
    run(&[
        "release",
        "build",
        &app_s,
        "--version",
        "1.0.0",
        "--quiet",
        "--insecure",
        &mirror_hello,
        &mirror_hub,
        "--out",
        &p("hello-1.0.0.release"),
    ])?;
    run(&["keys", "generate", "--out", &p("vendor")])?;
    run(&[
        "bundle",
        "create",
        "--release",
        &p("hello-1.0.0.release"),
        "--key",
        &p("vendor.key"),
        "--out",
        &p("hello-1.0.0.bundle"),
    ])?;
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
    let out = tokio::task::spawn_blocking({
        let (kubeconfig, target, bundle, pubkey) = (
            kubeconfig.clone(),
            target.clone(),
            p("hello-1.0.0.bundle"),
            p("vendor.pub"),
        );
        move || {
            // The bundle alone: the signed app files are installed, no app directory.
            run(&[
                "install",
                "--kubeconfig",
                &kubeconfig,
                "-n",
                "hello-airgap",
                "--airgap-bundle",
                &bundle,
                "--pubkey",
                &pubkey,
                "--registry",
                &target,
                "--insecure",
                "--timeout",
                "2m",
                "-o",
                "json",
            ])
        }
    })
    .await??;
    let report: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    sim.shutdown().await;
    Ok(format!(
        "vendor registry {v} seeded with {n} images; release + signed bundle {mb:.1} MiB\n    \
         berth install --airgap-bundle (the bundle alone, no app directory): verified, pushed into the customer registry {c}, images \
         rewritten to {target}/…@sha256 and checked by the cluster's kubelet: {outcome} in {secs:.1}s \
         (step total {total:.1}s)",
        v = vendor.1,
        n = IMAGES.len(),
        mb = bundle_size as f64 / (1024.0 * 1024.0),
        c = customer.1,
        outcome = report["outcome"]
            .as_str()
            .or(report["status"].as_str())
            .unwrap_or("installed"),
        secs = t_install.elapsed().as_secs_f64(),
        total = t0.elapsed().as_secs_f64(),
    ))
}
