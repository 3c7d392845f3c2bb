//! The deploy engine against the Kubernetes API simulator, over HTTP, with the real kube client.

use berth_deploy::engine::{DeployError, Mode, Options, Outcome, Quiet, Release};
use berth_deploy::inventory::Status;
use berth_deploy::object::{LABEL_APP, ObjectRef};
use berth_deploy::plan::is_subset;
use berth_deploy::policy::UpgradePolicy;
use berth_deploy::render::parse_documents;
use berth_deploy::{Cluster, ConnectOptions, Engine};
use berth_kube_sim::{SimOptions, Simulator};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

struct Env {
    _sim: Simulator,
    _dir: tempfile::TempDir,
    cluster: Arc<Cluster>,
}

async fn env() -> Env {
    env_with(SimOptions::default()).await
}

async fn env_with(opts: SimOptions) -> Env {
    let sim = Simulator::start(opts).await.expect("simulator starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).expect("kubeconfig");
    let cluster = Cluster::connect(&ConnectOptions {
        kubeconfig: Some(kc),
        context: None,
    })
    .await
    .expect("connect");
    Env {
        _sim: sim,
        _dir: dir,
        cluster: Arc::new(cluster),
    }
}

fn engine(env: &Env, ns: &str) -> Engine {
    Engine::new(
        env.cluster.clone(),
        Options {
            namespace: ns.into(),
            timeout: Duration::from_secs(60),
            lock_ttl: 5,
            fail_fast: Some(Duration::from_secs(3)),
            ..Options::default()
        },
        Arc::new(Quiet),
    )
}

fn release(version: &str, yaml: &str) -> Release {
    Release {
        app: "hello".into(),
        version: version.into(),
        objects: parse_documents(yaml, "test/manifests.yaml").expect("fixture parses"),
        config: json!({}),
        policy: UpgradePolicy::default(),
        snapshot: serde_json::Value::Null,
    }
}

fn deployment(name: &str, image: &str, pod_annotations: Value) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
      annotations: {pod_annotations}
    spec:
      containers:
      - name: app
        image: {image}
"#
    )
}

fn cm(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: \"{value}\"\n")
}

fn r(api_version: &str, kind: &str, ns: &str, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: ns.into(),
        name: name.into(),
    }
}

/// Every object labelled for the app, as (kind, name).
async fn app_objects(env: &Env, ns: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (av, k) in [
        ("v1", "ConfigMap"),
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("v1", "PersistentVolumeClaim"),
        ("batch/v1", "Job"),
    ] {
        for o in env
            .cluster
            .list(av, k, ns, Some(&format!("{LABEL_APP}=hello")))
            .await
            .expect("list")
        {
            out.push((
                k.to_string(),
                o["metadata"]["name"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_is_idempotent_and_upgrade_prunes() {
    let env = env().await;
    let e = engine(&env, "shop");
    let v1 = [cm("a", "1"), cm("b", "1"), deployment("web", "busybox:1.36", json!({})),
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n".into()]
    .join("---\n");
    let rep = e
        .deploy(release("1.0.0", &v1), Mode::Install, false)
        .await
        .expect("install");
    assert_eq!(rep.outcome, Outcome::Deployed, "{:?}", rep.error);
    assert_eq!(rep.revision, Some(1));
    assert_eq!(rep.plan.counts().0, 4);
    let web = env
        .cluster
        .get(&r("apps/v1", "Deployment", "shop", "web"))
        .await
        .unwrap()
        .expect("web exists");
    assert_eq!(web["metadata"]["labels"][LABEL_APP], "hello");
    assert!(
        web["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["manager"] == "berth")
    );

    // Same install again: nothing changes, no new revision.
    let rep = e
        .deploy(release("1.0.0", &v1), Mode::Install, false)
        .await
        .expect("re-install");
    assert_eq!(rep.outcome, Outcome::Unchanged);
    assert_eq!(rep.plan.counts(), (0, 0, 4, 0, 0));
    assert_eq!(e.history("hello").await.unwrap().len(), 1);

    // Upgrade: a changed, b removed (pruned), c added, PVC removed (kept by default).
    let v2 = [
        cm("a", "2"),
        cm("c", "1"),
        deployment("web", "busybox:1.37", json!({})),
    ]
    .join("---\n");
    let plan = e.diff(&release("1.1.0", &v2)).await.expect("diff");
    let text = plan.render();
    assert!(
        text.contains("~ configmap/a in namespace shop (update)"),
        "{text}"
    );
    assert!(text.contains(".data.v: \"1\" -> \"2\""), "{text}");
    assert!(
        text.contains("- configmap/b in namespace shop (prune)"),
        "{text}"
    );
    assert!(
        text.contains("! persistentvolumeclaim/data in namespace shop (keep"),
        "{text}"
    );
    let rep = e
        .deploy(release("1.1.0", &v2), Mode::Upgrade, false)
        .await
        .expect("upgrade");
    assert_eq!(rep.outcome, Outcome::Deployed, "{:?}", rep.error);
    assert_eq!(rep.revision, Some(2));
    assert_eq!(
        app_objects(&env, "shop").await,
        vec![
            ("ConfigMap".into(), "a".into()),
            ("ConfigMap".into(), "c".into()),
            ("Deployment".into(), "web".into()),
            ("PersistentVolumeClaim".into(), "data".into()),
        ]
    );
    let a = env
        .cluster
        .get(&r("v1", "ConfigMap", "shop", "a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a["data"]["v"], "2");
    let h = e.history("hello").await.unwrap();
    assert_eq!(
        h.iter().map(|h| h.status).collect::<Vec<_>>(),
        vec![Status::Superseded, Status::Deployed]
    );

    // Installing a different version over it is refused with a pointer to upgrade.
    let err = e
        .deploy(release("2.0.0", &v2), Mode::Install, false)
        .await
        .unwrap_err();
    assert!(matches!(err, DeployError::AlreadyInstalled { .. }), "{err}");

    // Rollback to revision 1 restores b and the old image.
    let rep = e.rollback("hello", Some(1), false).await.expect("rollback");
    assert_eq!(rep.outcome, Outcome::Deployed, "{:?}", rep.error);
    assert!(
        env.cluster
            .get(&r("v1", "ConfigMap", "shop", "b"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        env.cluster
            .get(&r("v1", "ConfigMap", "shop", "c"))
            .await
            .unwrap()
            .is_none()
    );
    let web = env
        .cluster
        .get(&r("apps/v1", "Deployment", "shop", "web"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox:1.36"
    );

    // Status reports every object ready.
    let st = e.status("hello").await.expect("status");
    assert_eq!(st.revision, 3);
    assert!(
        st.objects.iter().all(|o| o.state == "ready"),
        "{:?}",
        st.objects
    );

    // Uninstall keeps the PVC and forgets the revisions.
    let rep = e.uninstall("hello", false).await.expect("uninstall");
    assert_eq!(rep.outcome, Outcome::Uninstalled, "{:?}", rep.error);
    assert_eq!(
        app_objects(&env, "shop").await,
        vec![("PersistentVolumeClaim".into(), "data".into())]
    );
    assert!(e.history("hello").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_run_in_weight_order_around_the_objects() {
    let env = env().await;
    let e = engine(&env, "hooks");
    let job = |name: &str, hook: &str, weight: i32| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  annotations:\n    helm.sh/hook: {hook}\n    helm.sh/hook-weight: \"{weight}\"\n    sim.berth.dev/run-for: 100ms\nspec:\n  template:\n    metadata:\n      annotations: {{sim.berth.dev/run-for: 100ms}}\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox:1.36\n"
        )
    };
    let yaml = [
        job("post", "post-install", 0),
        job("second", "pre-install", 5),
        job("first", "pre-install", -1),
        job("cleanup", "pre-delete", 0),
        cm("cfg", "x"),
    ]
    .join("---\n");
    let rep = e
        .deploy(release("1.0.0", &yaml), Mode::Install, false)
        .await
        .expect("install");
    assert_eq!(rep.outcome, Outcome::Deployed, "{:?}", rep.error);
    assert_eq!(
        rep.hooks_run,
        vec![
            "pre-install: job/first",
            "pre-install: job/second",
            "post-install: job/post"
        ]
    );
    // The server's resourceVersions show write order: the ConfigMap never changes after
    // creation, so the post-install hook (created later) has a higher one.
    let rv = |o: &Value| {
        o["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("0")
            .parse::<u64>()
            .unwrap_or(0)
    };
    let mut jobs = Vec::new();
    for n in ["first", "second", "post"] {
        let j = env
            .cluster
            .get(&r("batch/v1", "Job", "hooks", n))
            .await
            .unwrap()
            .expect("hook job kept (before-hook-creation policy)");
        assert_eq!(j["status"]["succeeded"], 1, "{n} ran to completion");
        jobs.push(j);
    }
    let cfg = env
        .cluster
        .get(&r("v1", "ConfigMap", "hooks", "cfg"))
        .await
        .unwrap()
        .expect("cfg");
    assert!(rv(&jobs[2]) > rv(&cfg));
    // Hooks are not part of the release's objects and are not pruned by an upgrade.
    let h = e.history("hello").await.unwrap();
    assert_eq!(h[0].objects, 1);
    // Uninstall runs the pre-delete hook before deleting the objects.
    let rep = e.uninstall("hello", false).await.expect("uninstall");
    assert_eq!(rep.outcome, Outcome::Uninstalled, "{:?}", rep.error);
    assert_eq!(rep.hooks_run, vec!["pre-delete: job/cleanup"]);
    let cleanup = env
        .cluster
        .get(&r("batch/v1", "Job", "hooks", "cleanup"))
        .await
        .unwrap()
        .expect("pre-delete hook ran");
    assert_eq!(cleanup["status"]["succeeded"], 1);
    assert!(
        env.cluster
            .get(&r("v1", "ConfigMap", "hooks", "cfg"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_and_custom_resource_in_one_release() {
    let env = env().await;
    let e = engine(&env, "crd");
    let yaml = r#"apiVersion: example.com/v1
kind: Widget
metadata: {name: w1}
spec: {size: 3}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;
    let rep = e
        .deploy(release("1.0.0", yaml), Mode::Install, false)
        .await
        .expect("install");
    assert_eq!(rep.outcome, Outcome::Deployed, "{:?}", rep.error);
    let w = env
        .cluster
        .get(&r("example.com/v1", "Widget", "crd", "w1"))
        .await
        .unwrap()
        .expect("widget exists");
    assert_eq!(w["spec"]["size"], 3);
    // Uninstall deletes the custom resource and keeps the CRD (other apps' data may depend on it).
    e.uninstall("hello", false).await.expect("uninstall");
    assert!(
        env.cluster
            .get(&r("example.com/v1", "Widget", "crd", "w1"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        env.cluster
            .get(&r(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                "",
                "widgets.example.com"
            ))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_upgrade_rolls_back_to_the_previous_revision_object_for_object() {
    let env = env().await;
    let e = engine(&env, "rb");
    let v1 = [
        cm("settings", "1"),
        deployment("web", "busybox:1.36", json!({})),
    ]
    .join("---\n");
    let rep = e
        .deploy(release("1.0.0", &v1), Mode::Install, false)
        .await
        .expect("install");
    assert_eq!(rep.outcome, Outcome::Deployed, "{:?}", rep.error);
    let before: Vec<Value> = {
        let mut v = Vec::new();
        for (av, k, n) in [
            ("v1", "ConfigMap", "settings"),
            ("apps/v1", "Deployment", "web"),
        ] {
            v.push(env.cluster.get(&r(av, k, "rb", n)).await.unwrap().unwrap());
        }
        v
    };
    let v2 = [
        cm("settings", "2"),
        cm("extra", "new"),
        deployment("web", "busybox:1.37", json!({})),
        deployment(
            "worker",
            "registry.example.com/shop/web:2.0",
            json!({"sim.berth.dev/fail": "image-pull"}),
        ),
    ]
    .join("---\n");
    let rep = e
        .deploy(release("2.0.0", &v2), Mode::Upgrade, false)
        .await
        .expect("upgrade runs");
    assert_eq!(rep.outcome, Outcome::RolledBack, "{:?}", rep.error);
    assert!(
        rep.diagnoses
            .iter()
            .any(|d| d.cause.contains("registry.example.com/shop/web:2.0")
                && d.fix.contains("berth bundle push")),
        "{:?}",
        rep.diagnoses
    );
    let rb = rep.rollback.as_ref().expect("rollback report");
    assert_eq!(rb.outcome, Outcome::Deployed);
    // The cluster equals revision 1, object for object.
    assert_eq!(
        app_objects(&env, "rb").await,
        vec![
            ("ConfigMap".into(), "settings".into()),
            ("Deployment".into(), "web".into())
        ]
    );
    for b in &before {
        let live = env
            .cluster
            .get(&berth_deploy::object::object_ref(b))
            .await
            .unwrap()
            .unwrap();
        for field in ["data", "spec"] {
            if let Some(want) = b.get(field) {
                assert!(
                    is_subset(want, &live[field]) && is_subset(&live[field], want),
                    "{field} of {} differs",
                    b["metadata"]["name"]
                );
            }
        }
    }
    let h = e.history("hello").await.unwrap();
    let statuses: Vec<Status> = h.iter().map(|h| h.status).collect();
    assert_eq!(
        statuses,
        vec![Status::Superseded, Status::RolledBack, Status::Deployed]
    );
    let st = e.status("hello").await.unwrap();
    assert_eq!(st.version, "1.0.0");
    assert!(
        st.last_failure
            .as_deref()
            .unwrap_or("")
            .contains("registry.example.com/shop/web:2.0"),
        "{:?}",
        st.last_failure
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_refusals_change_nothing() {
    let env = env().await;
    let e = engine(&env, "pol");
    let v1 = cm("a", "1");
    e.deploy(release("1.0.0", &v1), Mode::Install, false)
        .await
        .expect("install");
    let mut down = release("0.9.0", &cm("a", "0"));
    down.policy.required_releases = vec![];
    let err = e
        .deploy(down, Mode::Upgrade, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("downgrades are refused"), "{err}");
    let mut skip = release("3.0.0", &cm("a", "3"));
    skip.policy.required_releases = vec!["2.0.0".into()];
    skip.policy.kubernetes = Some(">=1.40.0".into());
    let err = e
        .deploy(skip, Mode::Upgrade, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("skip required release 2.0.0; upgrade to 2.0.0 first"),
        "{err}"
    );
    assert!(
        err.contains("outside the range this release supports (>=1.40.0)"),
        "{err}"
    );
    let a = env
        .cluster
        .get(&r("v1", "ConfigMap", "pol", "a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a["data"]["v"], "1");
    assert_eq!(e.history("hello").await.unwrap().len(), 1);
    // Upgrade of something not installed.
    let other = engine(&env, "empty");
    let err = other
        .deploy(release("1.0.0", &v1), Mode::Upgrade, false)
        .await
        .unwrap_err();
    assert!(matches!(err, DeployError::NotInstalled { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_stops_before_any_change() {
    let env = env().await;
    let e = engine(&env, "bad");
    // Rejected by the server: selector does not match template labels.
    let bad = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: other}}
    spec: {containers: [{name: app, image: busybox}]}
"#;
    let yaml = [cm("ok", "1"), bad.to_string()].join("---\n");
    let err = e
        .deploy(release("1.0.0", &yaml), Mode::Install, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("deployment/web in namespace bad"), "{err}");
    assert!(err.contains("test/manifests.yaml#2"), "{err}");
    assert!(err.contains("does not match template"), "{err}");
    assert!(
        env.cluster
            .get(&r("v1", "ConfigMap", "bad", "ok"))
            .await
            .unwrap()
            .is_none(),
        "nothing may change"
    );
    assert!(e.history("hello").await.unwrap().is_empty());
    // Two objects without names: both reported at once, with their source files.
    let mut rel = release("1.0.0", &cm("x", "1"));
    rel.objects = vec![
        berth_deploy::Manifest::new(
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{}}),
            "a.yaml#1",
        ),
        berth_deploy::Manifest::new(
            json!({"apiVersion":"v1","kind":"Secret","metadata":{}}),
            "b.yaml#3",
        ),
    ];
    let err = e
        .deploy(rel, Mode::Install, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("a.yaml#1: object is missing metadata.name") && err.contains("b.yaml#3"),
        "{err}"
    );
    let yaml = "apiVersion: nope.example.com/v1\nkind: Gadget\nmetadata: {name: g}\n";
    let err = e
        .deploy(release("1.0.0", yaml), Mode::Install, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not serve kind Gadget") && err.contains("test/manifests.yaml#1"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lock_is_respected_and_an_expired_one_taken_over() {
    let env = env().await;
    let mut opts = Options {
        namespace: "lock".into(),
        timeout: Duration::from_secs(2),
        lock_ttl: 5,
        ..Options::default()
    };
    let short = Engine::new(env.cluster.clone(), opts.clone(), Arc::new(Quiet));
    env.cluster
        .create(&json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"lock"}}))
        .await
        .unwrap();
    let now = jiff::Timestamp::now();
    let held =
        berth_deploy::lock::lease("hello", "lock", "berth@elsewhere/1/abc", 3600, now, 0, None);
    env.cluster.create(&held).await.unwrap();
    let err = short
        .deploy(release("1.0.0", &cm("a", "1")), Mode::Install, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("lock held by berth@elsewhere/1/abc"), "{err}");
    assert!(
        env.cluster
            .get(&r("v1", "ConfigMap", "lock", "a"))
            .await
            .unwrap()
            .is_none()
    );
    // A lease that expires in 1s: the next run waits for it and takes over.
    let mut l = env
        .cluster
        .get(&r(
            "coordination.k8s.io/v1",
            "Lease",
            "lock",
            "berth.hello.lock",
        ))
        .await
        .unwrap()
        .unwrap();
    l["spec"]["leaseDurationSeconds"] = json!(1);
    env.cluster.replace(&l).await.unwrap();
    opts.timeout = Duration::from_secs(30);
    let patient = Engine::new(env.cluster.clone(), opts, Arc::new(Quiet));
    let rep = patient
        .deploy(release("1.0.0", &cm("a", "1")), Mode::Install, false)
        .await
        .expect("takes over");
    assert_eq!(rep.outcome, Outcome::Deployed);
    // and releases the lock when done
    assert!(
        env.cluster
            .get(&r(
                "coordination.k8s.io/v1",
                "Lease",
                "lock",
                "berth.hello.lock"
            ))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_injected_fault_gets_a_diagnosis() {
    let env = env().await;
    let cases: Vec<(&str, String, &str)> = vec![
        ("image-pull", deployment("web", "registry.example.com/web:9", json!({"sim.berth.dev/fail": "image-pull"})), "cannot be pulled"),
        ("crashloop", deployment("web", "busybox", json!({"sim.berth.dev/fail": "crashloop", "sim.berth.dev/log": "starting\nerror: cannot connect to database"})), "keeps crashing"),
        ("readiness", deployment("web", "busybox", json!({"sim.berth.dev/fail": "readiness"})), "readiness probe"),
        ("unschedulable", deployment("web", "busybox", json!({"sim.berth.dev/fail": "unschedulable"})), "cannot be scheduled"),
        ("job-failed", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\nspec:\n  backoffLimit: 0\n  template:\n    metadata:\n      annotations: {sim.berth.dev/fail: job-failed, sim.berth.dev/run-for: 100ms}\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: busybox}]\n".into(), "failed"),
        ("pvc-pending", "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n  annotations: {sim.berth.dev/fail: pvc-pending}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n".into(), "Pending"),
    ];
    let mut tasks = Vec::new();
    for (name, yaml, want) in cases {
        let e = engine(&env, &format!("fault-{name}"));
        tasks.push(async move {
            let rep = e
                .deploy(release("1.0.0", &yaml), Mode::Install, false)
                .await
                .expect("install runs");
            (name, want, rep)
        });
    }
    for (name, want, rep) in futures::future::join_all(tasks).await {
        assert_eq!(rep.outcome, Outcome::Failed, "{name}: {:?}", rep.error);
        let all: Vec<String> = rep
            .diagnoses
            .iter()
            .map(|d| format!("{} / {}", d.cause, d.fix))
            .collect();
        assert!(
            all.iter().any(|d| d.contains(want)),
            "{name}: wanted {want:?} in {all:#?} (error: {:?})",
            rep.error
        );
        if name == "crashloop" {
            assert!(
                all.iter().any(|d| d.contains("cannot connect to database")),
                "{all:#?}"
            );
        }
    }
}

/// A Deployment whose pod spec is `spec` (YAML flow mapping).
fn deployment_spec(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec: {spec}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_references_are_diagnosed_with_the_object_and_the_fix() {
    let env = env().await;
    let cases: Vec<(&str, String, [&str; 2])> = vec![
        (
            "sa",
            deployment_spec(
                "web",
                "{serviceAccountName: robot, containers: [{name: app, image: busybox}]}",
            ),
            [
                "ServiceAccount robot does not exist in namespace missing-sa",
                "kubectl create serviceaccount robot -n missing-sa",
            ],
        ),
        (
            "mount",
            deployment_spec(
                "web",
                "{containers: [{name: app, image: busybox}], volumes: [{name: tls, secret: {secretName: web-tls}}]}",
            ),
            [
                "volume tls mounts Secret web-tls",
                "create Secret web-tls in namespace missing-mount",
            ],
        ),
        (
            "env",
            deployment_spec(
                "web",
                "{containers: [{name: app, image: busybox, envFrom: [{configMapRef: {name: web-settings}}]}]}",
            ),
            [
                "ConfigMap web-settings in namespace missing-env",
                "create ConfigMap web-settings in namespace missing-env",
            ],
        ),
    ];
    let mut tasks = Vec::new();
    for (name, yaml, want) in cases {
        let e = engine(&env, &format!("missing-{name}"));
        tasks.push(async move {
            let rep = e
                .deploy(release("1.0.0", &yaml), Mode::Install, false)
                .await
                .expect("install runs");
            (name, want, rep)
        });
    }
    for (name, want, rep) in futures::future::join_all(tasks).await {
        assert_eq!(rep.outcome, Outcome::Failed, "{name}: {:?}", rep.error);
        let d = rep
            .diagnoses
            .iter()
            .find(|d| d.cause.contains(want[0]))
            .unwrap_or_else(|| panic!("{name}: wanted {want:?} in {:#?}", rep.diagnoses));
        assert!(d.fix.contains(want[1]), "{name}: {d:#?}");
    }
}

/// A namespace's ResourceQuota refuses pods as kube-apiserver does: containers that do not
/// state a tracked resource, and pods past a hard limit; the diagnosis names the quota and the
/// fix, and the app that states its resources within the quota installs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_quotas_refuse_pods_and_are_diagnosed() {
    let env = env().await;
    let quota = "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: compute}\nspec:\n  hard: {limits.cpu: '1', limits.memory: 1Gi, pods: '2'}\n---\n";
    let limited = "{containers: [{name: app, image: busybox, resources: {limits: {cpu: 400m, memory: 256Mi}}}]}";
    let web = |replicas: u32, spec: &str| {
        deployment_spec("web", spec).replace(
            "spec:\n  selector",
            &format!("spec:\n  replicas: {replicas}\n  selector"),
        )
    };
    let cases: Vec<(&str, String, [&str; 2])> = vec![
        (
            "unstated",
            web(1, "{containers: [{name: app, image: busybox}]}"),
            [
                "ResourceQuota compute in namespace quota-unstated tracks compute resources",
                "LimitRange",
            ],
        ),
        (
            "exceeded",
            web(3, limited),
            [
                "exceeded quota: compute, requested: limits.cpu=400m,pods=1, used: limits.cpu=800m,pods=2, limited: limits.cpu=1,pods=2",
                "raise ResourceQuota compute in namespace quota-exceeded",
            ],
        ),
    ];
    let mut tasks = Vec::new();
    for (name, yaml, want) in cases {
        let e = engine(&env, &format!("quota-{name}"));
        let yaml = format!("{quota}{yaml}");
        tasks.push(async move {
            let rep = e
                .deploy(release("1.0.0", &yaml), Mode::Install, false)
                .await
                .expect("install runs");
            (name, want, rep)
        });
    }
    for (name, want, rep) in futures::future::join_all(tasks).await {
        assert_eq!(rep.outcome, Outcome::Failed, "{name}: {:?}", rep.error);
        let d = rep
            .diagnoses
            .iter()
            .find(|d| d.cause.contains(want[0]))
            .unwrap_or_else(|| panic!("{name}: wanted {want:?} in {:#?}", rep.diagnoses));
        assert!(d.fix.contains(want[1]), "{name}: {d:#?}");
    }
    let ok = engine(&env, "quota-fits")
        .deploy(
            release("1.0.0", &format!("{quota}{}", web(2, limited))),
            Mode::Install,
            false,
        )
        .await
        .expect("install runs");
    assert_eq!(
        ok.outcome,
        Outcome::Deployed,
        "{:?} {:#?}",
        ok.error,
        ok.diagnoses
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_apiservice_is_diagnosed() {
    let env = env().await;
    let yaml = "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {name: v1beta1.metrics.k8s.io}\nspec:\n  group: metrics.k8s.io\n  version: v1beta1\n  groupPriorityMinimum: 100\n  versionPriority: 100\n  insecureSkipTLSVerify: true\n  service: {name: metrics-server, namespace: agg, port: 443}\n";
    let rep = engine(&env, "agg")
        .deploy(release("1.0.0", yaml), Mode::Install, false)
        .await
        .expect("install runs");
    assert_eq!(rep.outcome, Outcome::Failed, "{:?}", rep.error);
    let d = rep
        .diagnoses
        .iter()
        .find(|d| {
            d.cause
                .contains("apiservice/v1beta1.metrics.k8s.io is not available (ServiceNotFound")
        })
        .unwrap_or_else(|| panic!("{:#?}", rep.diagnoses));
    assert!(
        d.fix
            .contains("service/metrics-server exists in namespace agg"),
        "{d:#?}"
    );
    // A broken aggregated API (503 for its group) must not break deploys of other kinds.
    let rep = engine(&env, "other")
        .deploy(
            release("1.0.0", &deployment("web", "busybox", json!({}))),
            Mode::Install,
            false,
        )
        .await
        .expect("install runs");
    assert_eq!(rep.outcome, Outcome::Deployed, "{:?}", rep.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_admission_webhook_is_explained() {
    let env = env().await;
    env.cluster
        .create(&json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "policy"},
            "webhooks": [{"name": "policy.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                "clientConfig": {"service": {"name": "policy-webhook", "namespace": "policy-system", "path": "/validate"}},
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "hooked"}},
                "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}]}]}))
        .await
        .expect("webhook configuration");
    let err = engine(&env, "hooked")
        .deploy(release("1.0.0", &cm("settings", "1")), Mode::Install, false)
        .await
        .expect_err("the webhook refuses")
        .to_string();
    assert!(
        err.contains("failed calling webhook \"policy.example.com\"")
            && err.contains("its Service policy-webhook does not exist in namespace policy-system")
            && err.contains("delete its leftover ValidatingWebhookConfiguration"),
        "{err}"
    );
}

/// A real HTTPS validating webhook that refuses ConfigMaps without an `owner` label; returns
/// its URL, the base64 CA bundle and the server handle (kept alive by the caller).
async fn policy_webhook() -> (String, String, axum_server::Handle<std::net::SocketAddr>) {
    use axum::{Json, routing::post};
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
    let cert = params
        .signed_by(&key, &rcgen::Issuer::new(ca_params, ca_key))
        .expect("cert");
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem(
        cert.pem().into_bytes(),
        key.serialize_pem().into_bytes(),
    )
    .await
    .expect("tls");
    let app = axum::Router::new().route(
        "/validate",
        post(|Json(r): Json<Value>| async move {
            let has_owner = r["request"]["object"]["metadata"]["labels"]["owner"].is_string();
            let mut resp = json!({"uid": r["request"]["uid"], "allowed": has_owner});
            if !has_owner {
                resp["status"] = json!({"code": 403, "message": "every ConfigMap needs an owner label"});
            }
            Json(json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp}))
        }),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls)
        .expect("server")
        .handle(handle.clone());
    tokio::spawn(async move { server.serve(app.into_make_service()).await });
    use base64::Engine as _;
    let bundle = base64::engine::general_purpose::STANDARD.encode(ca.pem());
    (format!("https://{addr}/validate"), bundle, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_denial_names_the_webhook_and_its_policy() {
    let env = env().await;
    let (url, ca_bundle, _server) = policy_webhook().await;
    env.cluster
        .create(&json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "owners"},
            "webhooks": [{"name": "owners.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                "clientConfig": {"url": url, "caBundle": ca_bundle},
                "objectSelector": {"matchLabels": {"app.kubernetes.io/name": "settings"}},
                "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}]}]}))
        .await
        .expect("webhook configuration");
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels: {app.kubernetes.io/name: settings}\ndata: {v: \"1\"}\n";
    let err = engine(&env, "owners")
        .deploy(release("1.0.0", yaml), Mode::Install, false)
        .await
        .expect_err("the webhook refuses")
        .to_string();
    assert!(
        err.contains("admission webhook owners.example.com refused the object (every ConfigMap needs an owner label)")
            && !err.contains("missing permission"),
        "{err}"
    );
    let ok = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels: {app.kubernetes.io/name: settings, owner: shop}\ndata: {v: \"1\"}\n";
    let rep = engine(&env, "owners")
        .deploy(release("1.0.0", ok), Mode::Install, false)
        .await
        .expect("install runs");
    assert_eq!(rep.outcome, Outcome::Deployed, "{:?}", rep.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_name_the_other_manager_and_force_takes_over() {
    use kube::api::{Api, DynamicObject, Patch, PatchParams};
    let env = env().await;
    env.cluster
        .create(&json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"cf"}}))
        .await
        .unwrap();
    // Another tool owns data.v of this ConfigMap.
    let api: Api<DynamicObject> = Api::namespaced_with(
        env.cluster.client().clone(),
        "cf",
        &kube::core::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
    );
    let theirs = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"shared"},"data":{"v":"theirs"}});
    api.patch(
        "shared",
        &PatchParams::apply("helm"),
        &Patch::Apply(&theirs),
    )
    .await
    .expect("helm applies");
    let e = engine(&env, "cf");
    let err = e
        .deploy(
            release("1.0.0", &cm("shared", "ours")),
            Mode::Install,
            false,
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"helm\"") && err.contains(".data.v"), "{err}");
    assert!(err.contains("--force-conflicts"), "{err}");
    let forced = Engine::new(
        env.cluster.clone(),
        Options {
            namespace: "cf".into(),
            force_conflicts: true,
            timeout: Duration::from_secs(30),
            ..Options::default()
        },
        Arc::new(Quiet),
    );
    let rep = forced
        .deploy(
            release("1.0.0", &cm("shared", "ours")),
            Mode::Install,
            false,
        )
        .await
        .expect("forced install");
    assert_eq!(rep.outcome, Outcome::Deployed, "{:?}", rep.error);
    let live = env
        .cluster
        .get(&r("v1", "ConfigMap", "cf", "shared"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live["data"]["v"], "ours");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_shape_problems_are_diagnosed() {
    use berth_kube_sim::Profile;
    // "bare": no StorageClass, no IngressClass.
    let sim = Simulator::start(SimOptions {
        profile: Profile::builtin("bare").expect("bare profile"),
        ..SimOptions::default()
    })
    .await
    .expect("simulator starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).expect("kubeconfig");
    let cluster = Arc::new(
        Cluster::connect(&ConnectOptions {
            kubeconfig: Some(kc),
            context: None,
        })
        .await
        .expect("connect"),
    );
    let env = Env {
        _sim: sim,
        _dir: dir,
        cluster,
    };
    let pvc = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n";
    let rep = engine(&env, "bare-pvc")
        .deploy(release("1.0.0", pvc), Mode::Install, false)
        .await
        .expect("install runs");
    assert_eq!(rep.outcome, Outcome::Failed);
    assert!(
        rep.diagnoses
            .iter()
            .any(|d| d.cause.contains("no default StorageClass")
                && d.fix.contains("is-default-class")),
        "{:?}",
        rep.diagnoses
    );
    let ing = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  ingressClassName: nginx\n  rules: [{host: a.example.com}]\n";
    let rep = engine(&env, "bare-ing")
        .deploy(release("1.0.0", ing), Mode::Install, false)
        .await
        .expect("install runs");
    assert_eq!(rep.outcome, Outcome::Failed);
    assert!(
        rep.diagnoses.iter().any(
            |d| d.cause.contains("ingress class nginx") && d.fix.contains("ingress controller")
        ),
        "{:?}",
        rep.diagnoses
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reinstall_with_changed_config_runs_upgrade_hooks_and_rolls_back_a_failed_hook() {
    let env = env().await;
    let e = engine(&env, "reinstall");
    let job = |name: &str, hook: &str, fail: bool| {
        let fault = if fail {
            ", sim.berth.dev/fail: job-failed"
        } else {
            ""
        };
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  annotations:\n    helm.sh/hook: {hook}\n    sim.berth.dev/run-for: 50ms\nspec:\n  backoffLimit: 0\n  template:\n    metadata:\n      annotations: {{sim.berth.dev/run-for: 50ms{fault}}}\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox:1.36\n"
        )
    };
    let v1 = [
        job("setup", "pre-install", false),
        job("migrate", "pre-upgrade", false),
        cm("cfg", "1"),
    ]
    .join("---\n");
    let rep = e
        .deploy(release("1.0.0", &v1), Mode::Install, false)
        .await
        .expect("install");
    assert_eq!(rep.outcome, Outcome::Deployed, "{:?}", rep.error);
    assert_eq!(rep.hooks_run, vec!["pre-install: job/setup"]);

    // `berth install` again, same version, changed config: an upgrade, whose hook fails.
    let v1b = [
        job("setup", "pre-install", false),
        job("migrate", "pre-upgrade", true),
        cm("cfg", "2"),
    ]
    .join("---\n");
    let mut rel = release("1.0.0", &v1b);
    rel.config = json!({"values": {"greeting": "changed"}});
    let rep = e
        .deploy(rel, Mode::Install, false)
        .await
        .expect("re-install runs");
    assert_eq!(rep.operation, berth_deploy::inventory::Operation::Upgrade);
    assert_eq!(
        rep.hooks_run,
        vec!["pre-upgrade: job/migrate"],
        "install hooks must not run again"
    );
    assert_eq!(rep.outcome, Outcome::RolledBack, "{:?}", rep.error);
    // The failed hook Job is gone, the ConfigMap is revision 1's.
    assert!(
        env.cluster
            .get(&r("batch/v1", "Job", "reinstall", "migrate"))
            .await
            .unwrap()
            .is_none(),
        "the failed hook Job is cleaned up after the rollback"
    );
    let cfg = env
        .cluster
        .get(&r("v1", "ConfigMap", "reinstall", "cfg"))
        .await
        .unwrap()
        .expect("cfg");
    assert_eq!(cfg["data"]["v"], "1", "{cfg}");
    let h = e.history("hello").await.expect("history");
    let st: Vec<&str> = h.iter().map(|x| x.status.as_str()).collect();
    assert_eq!(st, ["superseded", "rolled-back", "deployed"], "{h:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_field_names_the_object_the_field_and_the_one_meant() {
    let env = env().await;
    let typo = deployment("web", "busybox", json!({})).replace("replicas: 2", "replica: 2");
    let err = engine(&env, "shop")
        .deploy(release("1.0.0", &typo), Mode::Install, false)
        .await
        .expect_err("the API server refuses the unknown field")
        .to_string();
    assert!(
        err.contains("deployment/web")
            && err.contains("field not declared in schema")
            && err.contains(
                "Deployment apps/v1 has no field spec.replica (did you mean spec.replicas?)"
            ),
        "{err}"
    );
    // Nothing was half-applied.
    assert!(app_objects(&env, "shop").await.is_empty());
}

/// On a cluster whose default StorageClass binds on first consumer (k3s' local-path), a claim
/// that no pod mounts yet stays Pending for good: the install does not wait for it (a wait for
/// Bound would hold it until the deadline), the claim a Deployment mounts binds on the pod's
/// node, and status says which is which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_that_wait_for_their_first_pod_do_not_hold_the_install() {
    let env = env_with(SimOptions {
        profile: berth_kube_sim::Profile::builtin("k3s").expect("k3s profile"),
        ..SimOptions::default()
    })
    .await;
    let claim = |name: &str| {
        format!(
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: {name}}}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {{requests: {{storage: 1Gi}}}}\n---\n"
        )
    };
    let db = deployment_spec(
        "db",
        "{containers: [{name: db, image: postgres, volumeMounts: [{name: d, mountPath: /data}]}], volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]}",
    );
    let yaml = format!("{}{}{db}", claim("data"), claim("reports"));
    let e = engine(&env, "wffc");
    let rep = e
        .deploy(release("1.0.0", &yaml), Mode::Install, false)
        .await
        .expect("install runs");
    assert_eq!(
        rep.outcome,
        Outcome::Deployed,
        "{:?} {:#?}",
        rep.error,
        rep.diagnoses
    );
    let data = env
        .cluster
        .get(&r("v1", "PersistentVolumeClaim", "wffc", "data"))
        .await
        .unwrap()
        .expect("claim data");
    assert_eq!(data["status"]["phase"], "Bound", "{data}");
    let reports = env
        .cluster
        .get(&r("v1", "PersistentVolumeClaim", "wffc", "reports"))
        .await
        .unwrap()
        .expect("claim reports");
    assert_eq!(reports["status"]["phase"], "Pending", "{reports}");
    // without the StorageClass, a Pending claim is not ready: the classes make the difference
    assert!(!berth_deploy::readiness::readiness(&reports).is_ready());
    let st = e.status("hello").await.expect("status");
    let reports_state = st
        .objects
        .iter()
        .find(|o| o.object.name == "reports")
        .expect("reports in status");
    assert_eq!(reports_state.state, "ready", "{st:#?}");
}

/// berth.yaml's snapshot section travels with each revision: a change to it alone writes a
/// new revision (snapshots must use the hooks of what is installed), and a rollback brings
/// back the restored revision's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_section_is_recorded_per_revision_and_rolled_back() {
    let env = env().await;
    let e = engine(&env, "shop");
    let objects = cm("a", "1");
    let with = |hooks: Value| Release {
        snapshot: hooks,
        ..release("1.0.0", &objects)
    };
    let first = json!({"hooks": {"pre": [{"name": "dump", "job": {"image": "tools:1", "command": ["dump"]}}]}});
    let rep = e
        .deploy(with(first.clone()), Mode::Install, false)
        .await
        .expect("install");
    assert_eq!(rep.outcome, Outcome::Deployed, "{:?}", rep.error);
    let second = json!({"hooks": {"pre": [{"name": "checkpoint", "job": {"image": "tools:1", "command": ["cp"]}}]}});
    let rep = e
        .deploy(with(second.clone()), Mode::Upgrade, false)
        .await
        .expect("upgrade");
    assert_eq!(rep.outcome, Outcome::Deployed, "{:?}", rep.error);
    let h = e.revisions("hello").await.expect("revisions");
    assert_eq!(h.len(), 2, "the changed hooks alone make a revision");
    assert_eq!(h[0].snapshot, first);
    assert_eq!(h[1].snapshot, second);
    // The same release again changes nothing.
    e.deploy(with(second.clone()), Mode::Upgrade, false)
        .await
        .expect("re-apply");
    assert_eq!(e.revisions("hello").await.expect("revisions").len(), 2);
    let rep = e.rollback("hello", Some(1), false).await.expect("rollback");
    assert_eq!(rep.outcome, Outcome::Deployed, "{:?}", rep.error);
    let h = e.revisions("hello").await.expect("revisions");
    assert_eq!(h.last().map(|r| r.snapshot.clone()), Some(first));
}
