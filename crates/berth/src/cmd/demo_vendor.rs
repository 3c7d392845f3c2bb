//! The vendor-server step of `berth demo`: a vendor server on an embedded SQLite database; the
//! vendor pushes releases 1.0.0 and 1.1.0 of the app (with the images of the air-gap step's
//! release), promotes both to stable and issues a signed license. The customer, with the
//! license as the only credential and as separate `berth` processes, installs 1.0.0 from the
//! server into a simulated cluster whose kubelet checks every image on the server's registry
//! endpoint with the license pull Secret, sees 1.1.0 in `berth updates`, upgrades with
//! `--latest`; the vendor then sees the instance on 1.1.0.

use anyhow::{Context, Result, anyhow, bail};
use berth_kube_sim::profile::RegistryProfile;
use berth_kube_sim::{Profile, SimOptions, Simulator};
use berth_oci::layout::Layout;
use berth_oci::release::{Release, ReleaseMeta, write_app_entry};
use berth_vendor::client::{Client, ReleasePush};
use berth_vendor::model::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Release `version` of the app: the images of `images` (a release the air-gap step built,
/// every image pinned by digest) and the app files of `app`.
fn release(dir: &Path, app: &Path, images: &Release, version: &str) -> Result<PathBuf> {
    let out = dir.join(format!("hello-{version}.release"));
    let layout = Layout::create(&out)?;
    for (_, d) in &images.images {
        for b in images.layout.reachable(d)? {
            if !layout.has_blob(&b.digest) {
                layout.put_blob(&images.layout.read_blob(&b.digest)?)?;
            }
        }
        layout.add_entry(d.clone())?;
    }
    let meta = ReleaseMeta {
        format: 1,
        app: "hello".into(),
        version: version.into(),
        images: images.meta.images.clone(),
    };
    write_app_entry(&layout, &meta, &berth_oci::release::collect_app_files(app)?)?;
    Release::open(&out)?;
    Ok(out)
}

async fn start(data: PathBuf) -> Result<(String, String, tokio::sync::oneshot::Sender<()>)> {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let cfg = berth_vendor::ServeConfig {
        data_dir: data,
        addr: ([127, 0, 0, 1], 0).into(),
        database_url: None,
        storage: None,
        public_url: None,
        tls: None,
        max_blob: 1 << 30,
        license_rps: 20.0,
        scan: None,
        max_support_bundle: berth_vendor::support::DEFAULT_MAX_SUPPORT_BUNDLE,
        extra_routes: None,
    };
    tokio::spawn(async move {
        let r = berth_vendor::serve(
            cfg,
            |s| {
                let _ = addr_tx.send((s.addr, s.admin_token_file.clone()));
            },
            async {
                let _ = stop_rx.await;
            },
        )
        .await;
        if let Err(e) = r {
            eprintln!("vendor server: {e}");
        }
    });
    let (addr, token_file) = addr_rx.await.context("the vendor server did not start")?;
    let token_file =
        token_file.ok_or_else(|| anyhow!("a new database must print its admin token file"))?;
    let token = std::fs::read_to_string(&token_file)?.trim().to_string();
    Ok((format!("http://{addr}"), token, stop_tx))
}

/// Run `berth ARGS` as the customer would, off the async workers.
async fn berth(args: Vec<String>) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(std::env::current_exe().context("cannot find berth")?)
            .args(&args)
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
    })
    .await?
}

/// Run the step; returns what to show.
pub async fn demo_step(work: PathBuf, app: PathBuf) -> Result<String> {
    let t0 = Instant::now();
    let dir = work.join("vendor");
    std::fs::create_dir_all(&dir)?;
    let images = Release::open(&work.join("airgap/hello-1.0.0.release"))
        .context("the vendor step uses the images of the air-gap step's release")?;
    let (url, token, stop) = start(dir.join("data")).await?;
    let mut out = String::new();
    let vendor = Client::new(&url, &token)?;
    vendor.create_app("hello").await?;
    for (v, notes) in [
        ("1.0.0", "First release"),
        ("1.1.0", "Faster start-up; fixes the greeting"),
    ] {
        let r = vendor
            .push_release(
                &release(&dir, &app, &images, v)?,
                ReleasePush {
                    notes: notes.into(),
                    ..Default::default()
                },
            )
            .await?;
        vendor.promote("hello", "stable", v).await?;
        writeln!(
            out,
            "vendor: pushed hello {v} and promoted it to stable ({} blob(s) uploaded, {} shared with earlier releases)",
            r.uploaded, r.present
        )?;
    }
    vendor
        .create_customer(&NewCustomer {
            name: "acme".into(),
            app: "hello".into(),
            channels: vec!["stable".into()],
            license_type: "paid".into(),
            expires_at: Some("2099-12-31".into()),
            airgap: true,
            snapshots: true,
            support_bundle_upload: false,
            cluster_id: None,
            entitlements: vec!["seats=int:50".into()],
        })
        .await?;
    let lic_file = dir.join("acme.license.yaml");
    std::fs::write(&lic_file, vendor.issue_license("acme").await?)?;
    writeln!(
        out,
        "vendor: licensed customer acme on channel stable (seats=50)"
    )?;

    // The customer's cluster: its kubelet checks every image on the vendor's registry endpoint
    // with the pull Secret the install writes.
    let host = url.trim_start_matches("http://").to_string();
    let mut profile = Profile::default();
    profile.registries.push(RegistryProfile {
        host: host.clone(),
        insecure: true,
        insecure_skip_tls_verify: false,
    });
    let sim = Simulator::start(SimOptions {
        profile,
        registry_check: true,
        ..Default::default()
    })
    .await?;
    let kubeconfig = dir.join("customer.kubeconfig");
    sim.write_kubeconfig(&kubeconfig)?;
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let common = |cmd: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = cmd.iter().map(|x| x.to_string()).collect();
        v.extend(["--kubeconfig", &s(&kubeconfig), "-n", "hello-online"].map(String::from));
        v
    };
    let t = Instant::now();
    let mut install = common(&["install", "--license", &s(&lic_file), "--version", "1.0.0"]);
    install.extend(["--timeout", "2m", "-o", "json"].map(String::from));
    berth(install).await?;
    writeln!(
        out,
        "customer: berth install --license acme.license.yaml --version 1.0.0: installed from {url}, images checked by the kubelet on {host}/hello/… with the license pull Secret ({:.1}s)",
        t.elapsed().as_secs_f64()
    )?;
    let updates = berth(common(&["updates"])).await?;
    for line in updates.lines() {
        writeln!(out, "customer: berth updates -n hello-online: {line}")?;
    }
    let t = Instant::now();
    let mut upgrade = common(&["upgrade", "--latest"]);
    upgrade.extend(["--timeout", "2m", "-o", "json"].map(String::from));
    berth(upgrade).await?;
    writeln!(
        out,
        "customer: berth upgrade --latest: preflight checks passed, upgraded to 1.1.0 ({:.1}s)",
        t.elapsed().as_secs_f64()
    )?;
    sim.shutdown().await;
    let instances = vendor.instances("hello").await?;
    if !instances.iter().any(|i| i.app_version == "1.1.0") {
        bail!("the vendor does not see the instance on 1.1.0: {instances:?}");
    }
    for i in instances {
        writeln!(
            out,
            "vendor: instance of {} runs {} on {} ({} release(s) behind)",
            i.customer, i.app_version, i.kube_version, i.behind
        )?;
    }
    let _ = stop.send(());
    write!(out, "done in {:.1}s", t0.elapsed().as_secs_f64())?;
    Ok(out)
}
