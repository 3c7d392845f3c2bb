//! The vendor-server step of `berth demo`: a vendor server on an embedded SQLite database; the
//! vendor pushes releases 1.0.0 and 1.1.0 of the app (1.1.0 promoted to stable later) and
//! issues a signed license; the customer, running 1.0.0, verifies the license offline, asks for
//! updates and downloads 1.1.0; the vendor then sees the instance and how far behind it is.

use anyhow::{Context, Result, anyhow};
use berth_oci::layout::Layout;
use berth_oci::release::{ReleaseMeta, write_app_entry};
use berth_vendor::client::{Client, ReleasePush};
use berth_vendor::model::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// An app-only release (the demo's images live in the air-gap step's registry).
fn release(dir: &Path, app: &Path, version: &str) -> Result<PathBuf> {
    let out = dir.join(format!("hello-{version}.release"));
    let layout = Layout::create(&out)?;
    let meta = ReleaseMeta {
        format: 1,
        app: "hello".into(),
        version: version.into(),
        images: vec![],
    };
    write_app_entry(&layout, &meta, &berth_oci::release::collect_app_files(app)?)?;
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

/// Run the step; returns what to show.
pub async fn demo_step(work: PathBuf, app: PathBuf) -> Result<String> {
    let t0 = Instant::now();
    let dir = work.join("vendor");
    std::fs::create_dir_all(&dir)?;
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
                &release(&dir, &app, v)?,
                ReleasePush {
                    notes: notes.into(),
                    ..Default::default()
                },
            )
            .await?;
        writeln!(
            out,
            "vendor: pushed hello {v} ({} blob(s) uploaded, {} shared with earlier releases)",
            r.uploaded, r.present
        )?;
    }
    vendor.promote("hello", "stable", "1.0.0").await?;
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
    let text = vendor.issue_license("acme").await?;
    let lic = berth_license::License::parse(&text, "acme.license.yaml")?;
    let keys = vendor.verifying_keys().await?;
    lic.verify(&keys, &berth_license::Expect::now(), "acme.license.yaml")?;
    writeln!(
        out,
        "vendor: licensed customer acme on channel stable (seats=50); the customer verified the license offline"
    )?;

    let customer = Client::new(&lic.spec.vendor_url, &lic.bearer())?;
    let check = UpdateCheck {
        current_version: Some("1.0.0".into()),
        target_version: None,
        channel: None,
        instance: InstanceReport {
            cluster_id: "demo-cluster".into(),
            kube_version: "v1.33.1".into(),
            distribution: "berth-sim".into(),
            ready: "ready".into(),
            berth_version: env!("CARGO_PKG_VERSION").into(),
        },
    };
    let a = customer.check_updates(&check).await?;
    writeln!(
        out,
        "customer on 1.0.0: {} newer release(s) on stable",
        a.newer.len()
    )?;
    vendor.promote("hello", "stable", "1.1.0").await?;
    writeln!(out, "vendor: promoted hello 1.1.0 to stable")?;
    let a = customer.check_updates(&check).await?;
    for r in &a.newer {
        writeln!(
            out,
            "customer: `berth updates` shows hello {} — {}",
            r.version, r.notes
        )?;
    }
    let dl = dir.join("download");
    customer.download_release("1.1.0", &dl).await?;
    let rel = berth_oci::release::Release::open(&dl)?;
    writeln!(
        out,
        "customer: downloaded hello {} ({} app files, every blob checked against its digest)",
        rel.meta.version,
        rel.files.len()
    )?;
    for i in vendor.instances("hello").await? {
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
