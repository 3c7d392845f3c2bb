//! The operations against the in-process Kubernetes simulator: an install yields its steps
//! in order, the engine's progress in between, and a typed report; errors carry their class.

use berth_deploy::engine::{Event as DeployEvent, Outcome};
use berth_kube_sim::{SimOptions, Simulator};
use berth_ops::deploy::{self, ApplyInput, Target};
use berth_ops::prepare::{ConfigInput, SetExprs};
use berth_ops::{Cancel, ErrorClass, Event, Recorder, Sink, Step};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

fn hello() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello")
}

struct Sim {
    sim: Simulator,
    _dir: tempfile::TempDir,
    target: Target,
}

async fn sim() -> Sim {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = Simulator::start(SimOptions::default())
        .await
        .expect("simulator");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let target = Target {
        kubeconfig: Some(kubeconfig),
        namespace: Some("hello".into()),
        timeout: Duration::from_secs(120),
        ..Target::default()
    };
    Sim {
        sim,
        _dir: dir,
        target,
    }
}

/// The steps of the events, as (step, started?, ok).
fn steps(events: &[Event]) -> Vec<(Step, bool, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::StepStarted { step } => Some((*step, true, true)),
            Event::StepFinished { step, ok } => Some((*step, false, *ok)),
            _ => None,
        })
        .collect()
}

fn input(sets: &[&str]) -> ApplyInput {
    ApplyInput {
        app_dir: Some(hello()),
        config: ConfigInput::read(
            &[],
            &SetExprs {
                set: sets.iter().map(|s| s.to_string()).collect(),
                ..SetExprs::default()
            },
        )
        .expect("config"),
        ..ApplyInput::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_yields_steps_in_order_and_a_typed_report() {
    let s = sim().await;
    let rec = Arc::new(Recorder::default());
    let report = deploy::install(
        &s.target,
        &input(&[]),
        rec.clone() as Arc<dyn Sink>,
        &Cancel::new(),
    )
    .await
    .expect("install");
    assert_eq!(report.outcome, Outcome::Deployed, "{:?}", report.error);
    assert_eq!(report.revision, Some(1));
    let events = rec.events();
    use Step::*;
    assert_eq!(
        steps(&events),
        vec![
            (Resolve, true, true),
            (Resolve, false, true),
            (Connect, true, true),
            (Connect, false, true),
            (Render, true, true),
            (Render, false, true),
            (Deploy, true, true),
            (Deploy, false, true),
        ]
    );
    // The engine's own progress arrives between the deploy step's start and finish.
    let start = events
        .iter()
        .position(|e| matches!(e, Event::StepStarted { step: Deploy }))
        .expect("deploy started");
    let end = events
        .iter()
        .position(|e| matches!(e, Event::StepFinished { step: Deploy, .. }))
        .expect("deploy finished");
    let inner = &events[start..end];
    let applied = inner
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Deploy {
                    event: DeployEvent::Object { .. }
                }
            )
        })
        .count();
    assert!(applied >= report.plan.steps.len().min(1), "objects applied");
    assert!(
        inner.iter().any(|e| matches!(
            e,
            Event::Deploy {
                event: DeployEvent::Phase(_)
            }
        )),
        "engine phases"
    );
    assert!(
        inner.iter().any(|e| matches!(
            e,
            Event::Deploy {
                event: DeployEvent::Waiting { .. }
            }
        )),
        "readiness"
    );
    // The chart's migration Job runs as a post-install hook, reported as a typed event.
    assert!(
        inner.iter().any(|e| matches!(
            e,
            Event::Deploy {
                event: DeployEvent::Hook { event, object }
            } if event == "post-install" && object.kind == "Job"
        )),
        "hook event"
    );
    let hook = inner
        .iter()
        .find(|e| {
            matches!(
                e,
                Event::Deploy {
                    event: DeployEvent::Hook { .. }
                }
            )
        })
        .expect("hook");
    let json = serde_json::to_value(hook).expect("json");
    assert_eq!(json["type"], "deploy");
    assert_eq!(json["event"]["kind"], "hook");
    assert_eq!(json["event"]["data"]["event"], "post-install");
    // Events serialize for a web page.
    let json = serde_json::to_value(&events[0]).expect("json");
    assert_eq!(json["type"], "stepStarted");
    assert_eq!(json["step"], "resolve");

    // Status, history, and an upgrade whose revision diff names the changed field.
    let st = deploy::status(&s.target, "hello").await.expect("status");
    assert_eq!(st.revision, 1);
    let up = deploy::upgrade(
        &s.target,
        &input(&["replicas=3"]),
        Arc::new(berth_ops::Discard),
        &Cancel::new(),
    )
    .await
    .expect("upgrade");
    assert_eq!(up.outcome, Outcome::Deployed, "{:?}", up.error);
    let h = deploy::history(&s.target, "hello").await.expect("history");
    assert_eq!(h.len(), 2);
    let d = deploy::revision_diff(&s.target, "hello", 1, 2)
        .await
        .expect("revision diff");
    let changed: Vec<String> = d
        .steps
        .iter()
        .filter_map(|st| match &st.action {
            berth_deploy::plan::Action::Update { changes } => Some(
                changes
                    .iter()
                    .map(|c| format!("{}{}", st.object.name, c.path))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        changed.iter().any(|c| c.ends_with(".spec.replicas")),
        "{changed:?}"
    );
    let e = deploy::revision_diff(&s.target, "hello", 1, 9)
        .await
        .expect_err("no revision 9");
    assert_eq!(e.class(), ErrorClass::BadInput, "{e}");
    s.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_their_class_and_stop_before_the_cluster() {
    let s = sim().await;
    // A config problem is reported before connecting.
    let rec = Arc::new(Recorder::default());
    let e = deploy::install(
        &s.target,
        &input(&["replicas=many"]),
        rec.clone() as Arc<dyn Sink>,
        &Cancel::new(),
    )
    .await
    .expect_err("bad config");
    assert_eq!(e.class(), ErrorClass::BadInput, "{e}");
    assert!(e.to_string().contains("replicas"), "{e}");
    assert_eq!(
        steps(&rec.events()),
        vec![(Step::Resolve, true, true), (Step::Resolve, false, false)]
    );
    // Upgrading what is not installed.
    let e = deploy::upgrade(
        &s.target,
        &input(&[]),
        Arc::new(berth_ops::Discard),
        &Cancel::new(),
    )
    .await
    .expect_err("not installed");
    assert_eq!(e.class(), ErrorClass::NotInstalled, "{e}");
    assert!(
        e.to_string().contains("not installed in namespace hello"),
        "{e}"
    );
    // A cancelled operation stops before it connects.
    let cancel = Cancel::new();
    cancel.cancel();
    let rec = Arc::new(Recorder::default());
    let e = deploy::install(
        &s.target,
        &input(&[]),
        rec.clone() as Arc<dyn Sink>,
        &cancel,
    )
    .await
    .expect_err("cancelled");
    assert!(matches!(e, berth_ops::Error::Cancelled), "{e}");
    assert!(
        !steps(&rec.events())
            .iter()
            .any(|(st, _, _)| *st == Step::Connect),
        "no connection after cancel"
    );
    s.sim.shutdown().await;
}

/// The license an app runs under, read back from its namespace as the console shows it:
/// nothing without `secret/berth-license`, then the customer, type, channels and days left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installed_license_is_read_from_the_namespace() {
    use base64::Engine as _;
    let s = sim().await;
    assert!(
        berth_ops::online::installed_license(&s.target)
            .await
            .expect("read")
            .is_none(),
        "installed without a license"
    );
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let now = jiff::Timestamp::now();
    let lic = berth_license::sign(
        berth_license::Spec {
            license_id: "lic-1".into(),
            app: "hello".into(),
            customer: "acme".into(),
            vendor_url: "https://updates.example.com".into(),
            channels: vec!["stable".into(), "lts".into()],
            license_type: berth_license::LicenseType::Paid,
            issued_at: now,
            expires_at: Some(now + jiff::SignedDuration::from_hours(24 * 10 + 1)),
            airgap: false,
            snapshots: true,
            support_bundle_upload: false,
            cluster_id: None,
            entitlements: Default::default(),
            credential: "secret-credential".into(),
        },
        &key,
    );
    let (cluster, ns) = s.target.connect().await.expect("connect");
    cluster
        .create(
            &serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await
        .expect("namespace");
    let b64 = base64::engine::general_purpose::STANDARD.encode(lic.to_yaml());
    cluster
        .create(&serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "berth-license", "namespace": ns},
            "data": {"license.yaml": b64}}))
        .await
        .expect("secret");
    let l = berth_ops::online::installed_license(&s.target)
        .await
        .expect("read")
        .expect("a license");
    assert_eq!(
        (
            l.customer.as_str(),
            l.license_type.as_str(),
            l.license_id.as_str()
        ),
        ("acme", "paid", "lic-1")
    );
    assert_eq!(l.channels, ["stable", "lts"]);
    assert_eq!(l.days_left, Some(10));
    let _keep = &s.sim;
}

/// Before anything is applied, an install warns about each object whose apiVersion the live
/// cluster's release has deprecated (FlowSchema flowcontrol.apiserver.k8s.io/v1beta3 on
/// Kubernetes 1.29: deprecated there, removed in 1.32), naming the replacement; a dry run
/// warns the same way, so it serves as the preflight against a live cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_install_warns_about_apis_the_live_cluster_has_deprecated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = Simulator::start(SimOptions {
        profile: berth_kube_sim::Profile::builtin("k8s-1.29").expect("profile"),
        ..Default::default()
    })
    .await
    .expect("simulator");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let app =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../berth-matrix/tests/fixtures/breakage");
    for dry_run in [true, false] {
        let target = Target {
            kubeconfig: Some(kubeconfig.clone()),
            namespace: Some(format!("breakage-{dry_run}")),
            timeout: Duration::from_secs(60),
            ..Target::default()
        };
        let input = ApplyInput {
            app_dir: Some(app.clone()),
            config: ConfigInput::read(
                &[],
                &SetExprs {
                    set: vec!["flowschema_api=flowcontrol.apiserver.k8s.io/v1beta3".into()],
                    ..SetExprs::default()
                },
            )
            .expect("config"),
            dry_run,
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
        let expected = if dry_run {
            Outcome::DryRun
        } else {
            Outcome::Deployed
        };
        assert_eq!(report.outcome, expected, "{:?}", report.error);
        let warnings: Vec<String> = rec
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Warning { message } => Some(message),
                _ => None,
            })
            .collect();
        assert!(
            warnings.iter().any(|w| w.starts_with("Kubernetes 1.29")
                && w.contains("flowschema/")
                && w.contains("flowcontrol.apiserver.k8s.io/v1beta3")
                && w.contains("flowcontrol.apiserver.k8s.io/v1")),
            "dry run {dry_run}: {warnings:?}"
        );
    }
    sim.shutdown().await;
}
