//! Baselines and drift against the Kubernetes API simulator: install an app (which records
//! a baseline in its revision), change the simulated cluster under it — through its API
//! objects, or by restarting it with another profile on the same state — and check that
//! drift names the change first.

use berth_deploy::engine::{Mode, Options, Outcome, Quiet, Release};
use berth_deploy::policy::UpgradePolicy;
use berth_deploy::render::parse_documents;
use berth_deploy::{Cluster, ConnectOptions, Engine};
use berth_kube_sim::profile::{NodeProfile, Profile};
use berth_kube_sim::{SimOptions, Simulator};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const APP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: "busybox:1.36"}]
"#;

struct Env {
    sim: Simulator,
    dir: tempfile::TempDir,
    cluster: Arc<Cluster>,
}

async fn start(profile: Profile, dir: tempfile::TempDir) -> Env {
    let sim = Simulator::start(SimOptions {
        profile,
        state_dir: Some(dir.path().join("state")),
        ..SimOptions::default()
    })
    .await
    .expect("simulator starts");
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).expect("kubeconfig");
    let cluster = connect(&kc).await;
    Env { sim, dir, cluster }
}

async fn connect(kc: &Path) -> Arc<Cluster> {
    Arc::new(
        Cluster::connect(&ConnectOptions {
            kubeconfig: Some(kc.to_path_buf()),
            context: None,
        })
        .await
        .expect("connect"),
    )
}

/// Stop the simulator and start it again on the same state with another profile: the
/// cluster was upgraded (or re-provisioned) under the app.
async fn restart(env: Env, profile: Profile) -> Env {
    env.sim.shutdown().await;
    start(profile, env.dir).await
}

fn engine(cluster: &Arc<Cluster>) -> Engine {
    Engine::new(
        cluster.clone(),
        Options {
            namespace: "shop".into(),
            timeout: Duration::from_secs(60),
            lock_ttl: 5,
            fail_fast: Some(Duration::from_secs(3)),
            ..Options::default()
        },
        Arc::new(Quiet),
    )
}

async fn install(env: &Env, yaml: &str) {
    let rep = engine(&env.cluster)
        .deploy(
            Release {
                app: "hello".into(),
                version: "1.0.0".into(),
                objects: parse_documents(yaml, "test/app.yaml").expect("fixture parses"),
                config: json!({}),
                policy: UpgradePolicy::default(),
                snapshot: serde_json::Value::Null,
            },
            Mode::Install,
            false,
        )
        .await
        .expect("install runs");
    assert_eq!(rep.outcome, Outcome::Deployed, "{:?}", rep.error);
}

async fn send(env: &Env, method: &str, path: &str, ctype: &str, body: Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", ctype)
        .body(serde_json::to_vec(&body).expect("json"))
        .expect("request");
    env.cluster
        .client()
        .request::<Value>(req)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
}

async fn merge(env: &Env, path: &str, body: Value) {
    send(env, "PATCH", path, "application/merge-patch+json", body).await;
}

async fn drift(env: &Env) -> Vec<berth_drift::Change> {
    let history = engine(&env.cluster)
        .revisions("hello")
        .await
        .expect("revisions");
    berth_deploy::baseline::drift(&env.cluster, &history, false)
        .await
        .expect("the deployed revision carries a baseline")
        .report
        .changes
}

fn first(changes: &[berth_drift::Change]) -> &berth_drift::Change {
    changes
        .first()
        .unwrap_or_else(|| panic!("drift found no change"))
}

fn two_nodes() -> Profile {
    Profile {
        nodes: vec![
            NodeProfile {
                name: "n1".into(),
                ..NodeProfile::default()
            },
            NodeProfile {
                name: "n2".into(),
                ..NodeProfile::default()
            },
        ],
        ..Profile::default()
    }
}

async fn fresh(profile: Profile) -> Env {
    let env = start(profile, tempfile::tempdir().expect("tempdir")).await;
    install(&env, APP).await;
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_baseline_is_recorded_small_and_unchanged_means_no_drift() {
    let env = fresh(Profile::default()).await;
    let history = engine(&env.cluster)
        .revisions("hello")
        .await
        .expect("revisions");
    let b = history[0].baseline.clone().expect("baseline recorded");
    let parsed = berth_drift::Baseline::parse("revision 1", &b).expect("a baseline");
    assert_eq!(parsed.revision, Some(1));
    let c = parsed.cluster.expect("cluster facts");
    assert_eq!(c.version, "v1.32.0");
    assert_eq!(c.nodes[0].kernel, "6.1.0-28-amd64");
    assert_eq!(c.namespace.name, "shop");
    assert_eq!(c.apis["apps/Deployment"], vec!["v1".to_string()]);
    assert!(
        c.storage_classes
            .iter()
            .any(|s| s.name == "standard" && s.default)
    );
    assert!(
        c.images
            .get("busybox:1.36")
            .is_some_and(|d| d.starts_with("sha256:")),
        "{:?}",
        c.images
    );
    let size = serde_json::to_vec(&b).expect("json").len();
    assert!(size < 4096, "baseline is {size} bytes");
    assert!(drift(&env).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_kernel_upgrade_is_named_first() {
    let env = fresh(two_nodes()).await;
    merge(
        &env,
        "/api/v1/nodes/n2/status",
        json!({"status": {"nodeInfo": {"kernelVersion": "6.1.0-31-amd64"}}}),
    )
    .await;
    let changes = drift(&env).await;
    let c = first(&changes);
    assert_eq!(
        (
            c.class.as_str(),
            c.subject.as_str(),
            c.before.as_str(),
            c.after.as_str()
        ),
        (
            "kernel-changed",
            "node/n2 kernel",
            "6.1.0-28-amd64",
            "6.1.0-31-amd64"
        ),
        "{changes:#?}"
    );
    assert!(
        c.first_seen.is_some(),
        "the patch time is when it was seen: {c:?}"
    );
    assert_eq!(changes.len(), 1, "{changes:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_os_image_change_is_named_first() {
    let env = fresh(Profile::default()).await;
    merge(
        &env,
        "/api/v1/nodes/berth-sim-node/status",
        json!({"status": {"nodeInfo": {"osImage": "Ubuntu 24.04.1 LTS"}}}),
    )
    .await;
    let changes = drift(&env).await;
    assert_eq!(first(&changes).class, "os-changed", "{changes:#?}");
    assert_eq!(first(&changes).after, "Ubuntu 24.04.1 LTS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_node_outranks_everything_else_that_changed() {
    let env = fresh(two_nodes()).await;
    merge(
        &env,
        "/api/v1/nodes/n1/status",
        json!({"status": {"nodeInfo": {"containerRuntimeVersion": "containerd://2.0.0"}}}),
    )
    .await;
    send(
        &env,
        "DELETE",
        "/api/v1/nodes/n2",
        "application/json",
        json!({}),
    )
    .await;
    let changes = drift(&env).await;
    let classes: Vec<&str> = changes.iter().map(|c| c.class.as_str()).collect();
    assert_eq!(
        classes,
        vec!["node-lost", "runtime-changed"],
        "{changes:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tainted_node_pool_names_the_taint() {
    let env = fresh(Profile::default()).await;
    merge(
        &env,
        "/api/v1/nodes/berth-sim-node",
        json!({"spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}}),
    )
    .await;
    let changes = drift(&env).await;
    assert_eq!(first(&changes).class, "taint-added", "{changes:#?}");
    assert_eq!(first(&changes).after, "dedicated=db:NoSchedule");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_default_storageclass_is_named_first() {
    let env = fresh(Profile::default()).await;
    merge(
        &env,
        "/apis/storage.k8s.io/v1/storageclasses/standard",
        json!({"metadata": {"annotations": {"storageclass.kubernetes.io/is-default-class": "false"}}}),
    )
    .await;
    send(&env, "POST", "/apis/storage.k8s.io/v1/storageclasses", "application/json",
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "ceph-rbd", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rbd.csi.ceph.com"})).await;
    let changes = drift(&env).await;
    let c = first(&changes);
    assert_eq!(
        (c.class.as_str(), c.before.as_str(), c.after.as_str()),
        ("default-storageclass-changed", "standard", "ceph-rbd"),
        "{changes:#?}"
    );
    assert!(c.first_seen.is_some(), "{c:?}");
    assert!(changes.iter().any(|c| c.class == "storageclass-added"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_ingressclass_and_a_changed_default_are_named() {
    let env = fresh(Profile::default()).await;
    send(
        &env,
        "DELETE",
        "/apis/networking.k8s.io/v1/ingressclasses/nginx",
        "application/json",
        json!({}),
    )
    .await;
    let changes = drift(&env).await;
    let classes: Vec<&str> = changes.iter().map(|c| c.class.as_str()).collect();
    assert_eq!(
        classes,
        vec!["ingressclass-removed", "default-ingressclass-changed"],
        "{changes:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_admission_webhook_is_named_first() {
    let env = fresh(Profile::default()).await;
    send(&env, "POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", "application/json",
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "gatekeeper"},
            "webhooks": [{"name": "validation.gatekeeper.sh", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                "failurePolicy": "Ignore",
                "clientConfig": {"service": {"name": "gatekeeper-webhook", "namespace": "gatekeeper-system", "path": "/v1/admit"}},
                "namespaceSelector": {"matchLabels": {"nothing": "matches"}},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]}]})).await;
    let changes = drift(&env).await;
    let c = first(&changes);
    assert_eq!(c.class, "webhook-added", "{changes:#?}");
    assert_eq!(
        c.subject,
        "validatingwebhook/gatekeeper/validation.gatekeeper.sh"
    );
    assert!(
        c.after
            .contains("service gatekeeper-system/gatekeeper-webhook"),
        "{c:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tightened_pod_security_level_is_named_first() {
    let env = fresh(Profile::default()).await;
    merge(
        &env,
        "/api/v1/namespaces/shop",
        json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}),
    )
    .await;
    let changes = drift(&env).await;
    let c = first(&changes);
    assert_eq!(
        (c.class.as_str(), c.before.as_str(), c.after.as_str()),
        ("pod-security-tightened", "privileged (unset)", "restricted"),
        "{changes:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_upgrade_names_the_removed_api_version_then_the_minor() {
    // An app with an HPA, installed on 1.25 (autoscaling/v2beta2 still served)...
    let mut p = Profile {
        kubernetes_version: "1.25.4".into(),
        ..Profile::default()
    };
    let env = start(p.clone(), tempfile::tempdir().expect("tempdir")).await;
    let hpa = "---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  minReplicas: 1\n  maxReplicas: 3\n";
    install(&env, &format!("{APP}{hpa}")).await;
    // ...and the cluster is upgraded to 1.26 under it.
    p.kubernetes_version = "1.26.1".into();
    let env = restart(env, p).await;
    let changes = drift(&env).await;
    let classes: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| (c.class.as_str(), c.subject.as_str()))
        .collect();
    assert_eq!(
        classes[..2],
        [
            (
                "api-version-removed",
                "API autoscaling/HorizontalPodAutoscaler"
            ),
            ("kubernetes-minor-changed", "Kubernetes")
        ],
        "{changes:#?}"
    );
    assert_eq!(changes[0].before, "v2beta2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_upgrade_is_low_and_named() {
    let env = fresh(Profile::default()).await;
    let p = Profile {
        kubernetes_version: "1.32.4".into(),
        ..Profile::default()
    };
    let env = restart(env, p).await;
    let changes = drift(&env).await;
    let c = first(&changes);
    assert_eq!(
        (
            c.class.as_str(),
            c.before.as_str(),
            c.after.as_str(),
            c.band()
        ),
        ("kubernetes-patch-changed", "v1.32.0", "v1.32.4", "Low"),
        "{changes:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_version_the_app_uses_stops_being_served() {
    let crd = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
  - name: v1beta1
    served: true
    storage: false
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"#;
    let env = start(Profile::default(), tempfile::tempdir().expect("tempdir")).await;
    install(&env, &format!("{APP}---\n{crd}")).await;
    let path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com";
    let mut live: Value = env
        .cluster
        .client()
        .request(http::Request::get(path).body(Vec::new()).expect("request"))
        .await
        .expect("crd");
    live["spec"]["versions"][1]["served"] = json!(false);
    send(&env, "PUT", path, "application/json", live).await;
    let changes = drift(&env).await;
    let c = first(&changes);
    assert_eq!(
        (c.class.as_str(), c.subject.as_str(), c.before.as_str()),
        ("crd-version-removed", "crd/widgets.example.com", "v1beta1"),
        "{changes:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_drift_and_a_failed_upgrade_names_the_related_change() {
    let env = fresh(Profile::default()).await;
    let st = engine(&env.cluster).status("hello").await.expect("status");
    assert_eq!(
        st.drift.as_deref(),
        Some("drift since last good revision (1): none")
    );
    merge(
        &env,
        "/api/v1/nodes/berth-sim-node/status",
        json!({"status": {"nodeInfo": {"kernelVersion": "6.12.0-1-amd64"}}}),
    )
    .await;
    let st = engine(&env.cluster).status("hello").await.expect("status");
    let line = st.drift.expect("drift line");
    assert!(
        line.starts_with("drift since last good revision (1): 1 change (top: node/berth-sim-node kernel: 6.1.0-28-amd64 → 6.12.0-1-amd64"),
        "{line}"
    );
    // An upgrade whose pods crash: the diagnosis carries the kernel change.
    let crashing = APP.replace(
        "template:\n    metadata: {labels: {app: web}}",
        "template:\n    metadata: {labels: {app: web}, annotations: {sim.berth.dev/fail: crashloop}}",
    );
    assert_ne!(crashing, APP);
    let e = engine(&env.cluster);
    let rep = e
        .deploy(
            Release {
                app: "hello".into(),
                version: "1.1.0".into(),
                objects: parse_documents(&crashing, "test/app.yaml").expect("fixture parses"),
                config: json!({}),
                policy: UpgradePolicy::default(),
                snapshot: serde_json::Value::Null,
            },
            Mode::Upgrade,
            false,
        )
        .await
        .expect("upgrade runs");
    assert_ne!(rep.outcome, Outcome::Deployed, "{rep:?}");
    assert!(
        rep.diagnoses.iter().any(|d| d.cause.contains(
            "changed since revision 1, the last that worked (kernel-changed): node/berth-sim-node kernel"
        )),
        "{:#?}",
        rep.diagnoses
    );
}

/// A real support bundle of the simulated cluster (troubleshoot's default spec: cluster info
/// and resources), collected into `dir`.
async fn support_bundle(env: &Env, dir: &Path, name: &str) -> std::path::PathBuf {
    let mut specs = berth_troubleshoot::spec::Specs::default();
    specs.add_text(
        "(default)",
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec: {}\n",
    );
    let kc = env.dir.path().join("kubeconfig");
    let client = berth_troubleshoot::run::kube_client(Some(&kc), None)
        .await
        .expect("client");
    let collected = berth_troubleshoot::run::collect_bundle(
        &specs.merge_support_bundle(),
        berth_troubleshoot::run::CollectOptions {
            run: Default::default(),
            redact: true,
            tokenize: false,
            kube: Some(client),
            kube_error: None,
            work_dir: dir.to_path_buf(),
            name: name.into(),
            version: "test".into(),
        },
    )
    .await
    .expect("bundle collected");
    collected.writer.dir().to_path_buf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_between_two_support_bundles_of_one_cluster_before_and_after_a_profile_change() {
    let out = tempfile::tempdir().expect("tempdir");
    let env = fresh(Profile::default()).await;
    let before = support_bundle(&env, out.path(), "before").await;
    // The bundle carries the app's baseline.
    let stored = std::fs::read(before.join("berth/baselines/hello.v1.json"))
        .expect("the bundle carries the app's baseline");
    let stored: Value = serde_json::from_slice(&stored).expect("json");
    assert_eq!(stored["revision"], 1);
    // The cluster is upgraded to 1.33 (a profile change), a node gets a new kernel and the
    // default StorageClass moves.
    let env = restart(
        env,
        Profile {
            kubernetes_version: "1.33.1".into(),
            ..Profile::default()
        },
    )
    .await;
    merge(
        &env,
        "/api/v1/nodes/berth-sim-node/status",
        json!({"status": {"nodeInfo": {"kernelVersion": "6.12.9-amd64"}}}),
    )
    .await;
    merge(
        &env,
        "/apis/storage.k8s.io/v1/storageclasses/standard",
        json!({"metadata": {"annotations": {"storageclass.kubernetes.io/is-default-class": "false"}}}),
    )
    .await;
    let after = support_bundle(&env, out.path(), "after").await;
    let newer = berth_troubleshoot::bundle::open(&after).expect("bundle");
    let older = berth_troubleshoot::bundle::open(&before).expect("bundle");
    let report = berth_drift::bundle::against(newer.as_ref(), Some(older.as_ref()), None);
    let classes: Vec<&str> = report.changes.iter().map(|c| c.class.as_str()).collect();
    assert_eq!(
        classes,
        vec![
            "kernel-changed",
            "default-storageclass-changed",
            "kubernetes-minor-changed"
        ],
        "{:#?}",
        report.changes
    );
    // The same against the baseline the bundle carries (what berth recorded at install).
    let recorded = berth_drift::Baseline::parse("bundle", &stored).expect("baseline");
    let report = berth_drift::bundle::against(newer.as_ref(), None, Some(recorded));
    let classes: Vec<&str> = report.changes.iter().map(|c| c.class.as_str()).collect();
    assert_eq!(
        classes,
        vec![
            "kernel-changed",
            "default-storageclass-changed",
            "kubernetes-minor-changed"
        ],
        "{:#?}",
        report.changes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_claim_after_the_default_storageclass_went_away_names_that_change() {
    let env = fresh(Profile::default()).await;
    // The admin stops making `standard` the default; no other class takes over.
    merge(
        &env,
        "/apis/storage.k8s.io/v1/storageclasses/standard",
        json!({"metadata": {"annotations": {"storageclass.kubernetes.io/is-default-class": "false"}}}),
    )
    .await;
    // The next version adds a volume without a class for its pods: it cannot bind.
    let pvc = "---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n";
    let app = APP.replace(
        "containers: [{name: app, image: \"busybox:1.36\"}]",
        "containers: [{name: app, image: \"busybox:1.36\", volumeMounts: [{name: data, mountPath: /data}]}]\n      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]",
    );
    assert_ne!(app, APP);
    let rep = engine(&env.cluster)
        .deploy(
            Release {
                app: "hello".into(),
                version: "1.1.0".into(),
                objects: parse_documents(&format!("{app}{pvc}"), "test/app.yaml")
                    .expect("fixture parses"),
                config: json!({}),
                policy: UpgradePolicy::default(),
                snapshot: serde_json::Value::Null,
            },
            Mode::Upgrade,
            false,
        )
        .await
        .expect("upgrade runs");
    assert_ne!(rep.outcome, Outcome::Deployed, "{rep:?}");
    let causes: Vec<&str> = rep.diagnoses.iter().map(|d| d.cause.as_str()).collect();
    assert!(
        causes.iter().any(|c| c
            .contains("(default-storageclass-changed): default storageclass: standard → (none)")),
        "{causes:#?}"
    );
    // Unrelated drift is not blamed: nothing about nodes or kernels.
    assert!(!causes.iter().any(|c| c.contains("kernel")), "{causes:#?}");
}
