//! The air-gapped path as operations, all in-process: a vendor registry seeded with generated
//! images, a release built and signed into a bundle, then an install from the bundle alone into
//! a simulated cluster whose kubelet pulls only from the customer's registry. The install
//! yields its steps in order (verify, resolve, connect, render, push, deploy), byte progress
//! and the relocation, and the bundle's images land in the customer's registry by digest.

use berth_deploy::engine::Outcome;
use berth_kube_sim::profile::RegistryProfile;
use berth_kube_sim::{Profile, SimOptions, Simulator};
use berth_oci::model::Platform;
use berth_oci::server::{RunningServer, ServerConfig};
use berth_oci::transfer::{self, NoProgress, PushItem};
use berth_oci::{Client, ClientConfig, Layout, Reference, generate, keys};
use berth_ops::airgap::AirgapInput;
use berth_ops::deploy::{self, ApplyInput, Target};
use berth_ops::{Cancel, ErrorClass, Event, Recorder, Sink, Step};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const IMAGES: [&str; 4] = [
    "registry.hello.example/hello/web:1.0.0",
    "registry.hello.example/hello/migrate:1.0.0",
    "docker.io/library/postgres:16.4",
    "docker.io/library/busybox:1.36",
];

async fn registry(root: &Path) -> (RunningServer, String) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let srv = berth_oci::server::start(ServerConfig::new(root, addr))
        .await
        .expect("registry");
    let host = srv.addr.to_string();
    (srv, host)
}

/// The vendor's images (seeded, fixed seeds) in a registry at `host`.
async fn seed(dir: &Path, host: &str) {
    let seed = Layout::create(dir.join("seed")).expect("layout");
    let amd64 = Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: None,
    };
    let base = generate::random_layer(1, 64 << 10).expect("layer");
    let mut items = Vec::new();
    for (i, img) in IMAGES.iter().enumerate() {
        let layer = generate::random_layer(10 + i as u64, 16 << 10).expect("layer");
        let mut d = generate::write_image(&seed, &[base.clone(), layer], &amd64).expect("image");
        d.platform = None;
        let path = img.split_once('/').map_or(*img, |(_, rest)| rest);
        items.push(PushItem {
            descriptor: d,
            target: Reference::parse(&format!("{host}/{path}")).expect("ref"),
        });
    }
    let client = Client::new(ClientConfig {
        insecure: true,
        ..Default::default()
    })
    .expect("client");
    transfer::push_images(&client, &seed, &items, &NoProgress)
        .await
        .expect("seed");
}

/// The vendor's side: examples/hello built into a release with every image pinned (pulled from
/// the seeded registry at `vendor`), signed into a bundle. Returns the release, the bundle and
/// the public key.
async fn vendor_bundle(dir: &Path, vendor: &str) -> (berth_ops::release::Built, PathBuf, PathBuf) {
    let app = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
    let release_dir = dir.join("hello.release");
    let rec = Recorder::default();
    let built = berth_ops::release::build(
        &berth_ops::release::BuildInput {
            dir: app,
            version: Some("1.0.0".into()),
            out: Some(release_dir.clone()),
            registry_config: ClientConfig {
                insecure: true,
                mirrors: [
                    ("registry.hello.example".to_string(), vendor.to_string()),
                    ("docker.io".to_string(), vendor.to_string()),
                ]
                .into(),
                ..Default::default()
            },
            ..Default::default()
        },
        &rec,
    )
    .await
    .expect("release");
    assert!(
        rec.events()
            .iter()
            .any(|e| matches!(e, Event::BytesPushed { bytes, .. } if *bytes > 0)),
        "pull progress"
    );
    let (key, pubkey) = keys::generate(&dir.join("vendor")).expect("keys");
    let bundle = dir.join("hello.bundle");
    berth_ops::release::create_bundle(&release_dir, &key, None, None, &bundle).expect("bundle");
    (built, bundle, pubkey)
}

fn steps(events: &[Event]) -> Vec<Step> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::StepStarted { step } => Some(*step),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_install_from_a_bundle_alone_pushes_relocates_and_reports_each_step() {
    berth_oci::client::install_crypto_provider();
    let w = tempfile::tempdir().expect("tempdir");
    let dir = w.path();
    let (vendor_srv, vendor) = registry(&dir.join("vendor")).await;
    let (customer_srv, customer) = registry(&dir.join("customer")).await;
    seed(dir, &vendor).await;

    let (built, bundle, pubkey) = vendor_bundle(dir, &vendor).await;
    assert_eq!(built.meta.images.len(), IMAGES.len());

    // Customer: a cluster that may pull only from its own registry.
    let mut profile = Profile::default();
    profile.registries.push(RegistryProfile {
        host: customer.clone(),
        insecure: true,
        insecure_skip_tls_verify: false,
    });
    let sim = Simulator::start(SimOptions {
        profile,
        registry_check: true,
        ..Default::default()
    })
    .await
    .expect("simulator");
    let kubeconfig = dir.join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let target = Target {
        kubeconfig: Some(kubeconfig),
        namespace: Some("hello".into()),
        timeout: Duration::from_secs(120),
        ..Target::default()
    };
    let airgap = AirgapInput {
        bundle: Some(bundle.clone()),
        pubkey: Some(pubkey.clone()),
        registry: Some(format!("{customer}/hello")),
        registry_config: ClientConfig {
            insecure: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let input = ApplyInput {
        airgap: Some(airgap.clone()),
        ..ApplyInput::default()
    };
    let rec = Arc::new(Recorder::default());
    let report = deploy::install(
        &target,
        &input,
        rec.clone() as Arc<dyn Sink>,
        &Cancel::new(),
    )
    .await
    .expect("install");
    assert_eq!(report.outcome, Outcome::Deployed, "{:?}", report.error);
    let events = rec.events();
    assert_eq!(
        steps(&events),
        vec![
            Step::VerifyBundle,
            Step::Resolve,
            Step::Connect,
            Step::Render,
            Step::PushImages,
            Step::Deploy
        ]
    );
    let pushed: u64 = events
        .iter()
        .filter_map(|e| match e {
            Event::BytesPushed { bytes, .. } => Some(*bytes),
            _ => None,
        })
        .sum();
    assert!(pushed > 64 << 10, "bytes pushed: {pushed}");
    let summary = events
        .iter()
        .find_map(|e| match e {
            Event::Relocated { summary } => Some(summary.clone()),
            _ => None,
        })
        .expect("relocated");
    assert!(summary.contains(&customer), "{summary}");
    // Every image is in the customer's registry under the vendor's digest.
    let client = Client::new(ClientConfig {
        insecure: true,
        ..Default::default()
    })
    .expect("client");
    for i in &built.meta.images {
        let path = i.source.split_once('/').map_or("", |(_, p)| p);
        let repo = format!("hello/{}", path.split(':').next().unwrap_or(path));
        let found = client
            .head_manifest(&customer, &repo, &i.digest.to_string())
            .await
            .unwrap_or_else(|e| panic!("{repo}@{}: {e}", i.digest));
        assert_eq!(found.as_ref(), Some(&i.digest), "{repo}");
    }

    // Upgrading where the app is not installed is refused before anything is pushed.
    let rec = Arc::new(Recorder::default());
    let e = deploy::upgrade(
        &Target {
            namespace: Some("elsewhere".into()),
            ..target.clone()
        },
        &input,
        rec.clone() as Arc<dyn Sink>,
        &Cancel::new(),
    )
    .await
    .expect_err("nothing installed there");
    assert_eq!(e.class(), ErrorClass::NotInstalled, "{e}");
    assert!(
        e.to_string().contains("installed in namespace hello"),
        "{e}"
    );
    assert!(!steps(&rec.events()).contains(&Step::PushImages));
    sim.shutdown().await;
    customer_srv.shutdown().await;
    vendor_srv.shutdown().await;
}

/// A customer registry that requires a login for pulls too, and a pull account whose password
/// was mistyped: the pods' pull Secret is refused by the registry, and the install fails with
/// berth's diagnosis naming the registry, the Secret and the fix. With the right password the
/// same install succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_secret_the_registry_refuses_fails_with_a_diagnosis_and_the_right_one_installs() {
    berth_oci::client::install_crypto_provider();
    let w = tempfile::tempdir().expect("tempdir");
    let dir = w.path();
    let (vendor_srv, vendor) = registry(&dir.join("vendor")).await;
    seed(dir, &vendor).await;
    let (_, bundle, pubkey) = vendor_bundle(dir, &vendor).await;

    let (password, line) =
        berth_oci::server::access::generated_user("ops", 4).expect("registry user");
    let htpasswd = dir.join("htpasswd");
    std::fs::write(&htpasswd, line).expect("htpasswd");
    let mut config = ServerConfig::new(
        dir.join("customer"),
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    );
    config.htpasswd = Some(htpasswd);
    let customer_srv = berth_oci::server::start(config).await.expect("registry");
    let customer = customer_srv.addr.to_string();

    let mut profile = Profile::default();
    profile.registries.push(RegistryProfile {
        host: customer.clone(),
        insecure: true,
        insecure_skip_tls_verify: false,
    });
    let sim = Simulator::start(SimOptions {
        profile,
        registry_check: true,
        ..Default::default()
    })
    .await
    .expect("simulator");
    let kubeconfig = dir.join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let airgap = AirgapInput {
        bundle: Some(bundle),
        pubkey: Some(pubkey),
        registry: Some(format!("{customer}/hello")),
        registry_config: ClientConfig {
            insecure: true,
            credentials: Some(berth_oci::auth::Credentials {
                username: "ops".into(),
                password: password.clone(),
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let install = |ns: &str, airgap: AirgapInput| {
        let target = Target {
            kubeconfig: Some(kubeconfig.clone()),
            namespace: Some(ns.to_string()),
            timeout: Duration::from_secs(60),
            ..Target::default()
        };
        async move {
            let input = ApplyInput {
                airgap: Some(airgap),
                fail_fast: Some(Duration::from_secs(2)),
                ..ApplyInput::default()
            };
            let rec = Arc::new(Recorder::default());
            // Boxed: the install future is large, and two of them nest here (debug builds would
            // overflow a worker thread's stack).
            Box::pin(deploy::install(
                &target,
                &input,
                rec as Arc<dyn Sink>,
                &Cancel::new(),
            ))
            .await
            .expect("install ran")
        }
    };

    let refused = install(
        "wrong-password",
        AirgapInput {
            pull_username: Some("ops".into()),
            pull_password: Some("not-the-password".into()),
            ..airgap.clone()
        },
    )
    .await;
    assert_ne!(refused.outcome, Outcome::Deployed);
    let d = refused
        .diagnoses
        .iter()
        .find(|d| d.cause.contains("requires credentials"))
        .unwrap_or_else(|| panic!("no credentials diagnosis in {:?}", refused.diagnoses));
    assert!(
        d.cause
            .contains(&format!("registry {customer} requires credentials"))
            && d.cause.contains("imagePullSecrets (berth-registry)"),
        "{}",
        d.cause
    );
    assert!(d.fix.contains("--pull-username"), "{}", d.fix);

    let fixed = install(
        "with-secret",
        AirgapInput {
            pull_username: Some("ops".into()),
            pull_password: Some(password),
            ..airgap
        },
    )
    .await;
    assert_eq!(fixed.outcome, Outcome::Deployed, "{:?}", fixed.diagnoses);
    sim.shutdown().await;
    customer_srv.shutdown().await;
    vendor_srv.shutdown().await;
}
