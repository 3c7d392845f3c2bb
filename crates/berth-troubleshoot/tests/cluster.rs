//! Cluster collectors against the Kubernetes API simulator (real HTTP, real `kube` client),
//! with seeded faults; then the analyzers over the collected bundle.

use berth_kube_sim::{SimOptions, Simulator};
use berth_troubleshoot::bundle::{ArchiveBundle, BundleReader};
use berth_troubleshoot::run::{self, CollectOptions, RunOptions, Status};
use berth_troubleshoot::spec::Specs;
use serde_json::{Value, json};
use std::time::Duration;

async fn post(client: &kube::Client, path: &str, body: Value) {
    let req = http::Request::post(path)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    client
        .request::<Value>(req)
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
}

async fn get(client: &kube::Client, path: &str) -> Value {
    let req = http::Request::get(path).body(Vec::new()).unwrap();
    client.request::<Value>(req).await.unwrap()
}

fn deployment(name: &str, ns: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": annotations},
                "spec": {"containers": [{"name": "main", "image": "registry.example/acme/api:1.0"}]}
            }
        }
    })
}

async fn seeded() -> (Simulator, kube::Client, tempfile::TempDir) {
    let sim = Simulator::start(SimOptions::default())
        .await
        .expect("simulator");
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let client = run::kube_client(Some(&kc), None).await.expect("client");
    post(
        &client,
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "acme"}}),
    )
    .await;
    post(
        &client,
        "/apis/apps/v1/namespaces/acme/deployments",
        deployment(
            "api",
            "acme",
            json!({"sim.berth.dev/log": "hello from api\npassword=hunter2-planted\nready"}),
        ),
    )
    .await;
    post(
        &client,
        "/apis/apps/v1/namespaces/acme/deployments",
        deployment("worker", "acme", json!({"sim.berth.dev/fail": "crashloop"})),
    )
    .await;
    post(
        &client,
        "/api/v1/namespaces/acme/secrets",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"uri": "postgres://u:p@db/app"}}),
    )
    .await;
    post(
        &client,
        "/api/v1/namespaces/acme/configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "fast"}}),
    )
    .await;
    post(
        &client,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.acme.example"},
            "spec": {
                "group": "acme.example", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]
            }
        }),
    )
    .await;
    // Wait for the CRD to be served, then create one.
    for _ in 0..50 {
        let req = http::Request::post("/apis/acme.example/v1/namespaces/acme/widgets")
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&json!({"apiVersion": "acme.example/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}})).unwrap())
            .unwrap();
        if client.request::<Value>(req).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Wait until both deployments have pods with container statuses.
    for _ in 0..100 {
        let pods = get(&client, "/api/v1/namespaces/acme/pods").await;
        let ready = pods["items"].as_array().map_or(0, |a| {
            a.iter()
                .filter(|p| p["status"]["containerStatuses"].is_array())
                .count()
        });
        if ready >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (sim, client, dir)
}

const SPEC: &str = r#"apiVersion: troubleshoot.sh/v1beta2
kind: SupportBundle
metadata: {name: acme}
spec:
  collectors:
    - clusterInfo: {}
    - clusterResources: {}
    - logs: {collectorName: api, name: api, namespace: acme, selector: [app=api], limits: {maxLines: 100}}
    - logs: {name: worker, namespace: acme, selector: [app=worker]}
    - secret: {name: db, namespace: acme, key: uri}
    - secret: {name: missing, namespace: acme, key: uri}
    - configMap: {name: settings, namespace: acme, key: mode, includeValue: true}
    - exec: {collectorName: ps, namespace: acme, selector: [app=api], command: [ps]}
    - data: {collectorName: note.txt, name: static, data: "hello"}
  analyzers:
    - clusterPodStatuses:
        namespaces: [acme]
        outcomes:
          - fail: {when: "!= Healthy", message: "{{ .Name }} is unhealthy"}
    - deploymentStatus:
        name: api
        namespace: acme
        outcomes:
          - fail: {when: "< 1", message: api not ready}
          - pass: {message: api ready}
    - clusterVersion:
        outcomes:
          - fail: {when: "< 1.20.0", message: too old}
          - pass: {message: version ok}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_bundle_of_a_simulated_cluster() {
    let (sim, client, dir) = seeded().await;
    let mut specs = Specs::default();
    specs.add_text("sb.yaml", SPEC);
    assert!(!specs.has_errors(), "{:?}", specs.problems);
    let merged = specs.merge_support_bundle();
    let collected = run::collect_bundle(
        &merged,
        CollectOptions {
            run: RunOptions::default(),
            redact: true,
            tokenize: false,
            kube: Some(client.clone()),
            kube_error: None,
            work_dir: dir.path().to_path_buf(),
            name: "support-bundle-test".into(),
            version: "test".into(),
        },
    )
    .await
    .unwrap();
    let status = |t: &str| {
        collected
            .report
            .collectors
            .iter()
            .find(|c| c.title == t)
            .map(|c| (c.status, c.error.clone()))
            .unwrap_or_else(|| panic!("no record for {t}"))
    };
    assert_eq!(status("clusterInfo").0, Status::Ok);
    assert_eq!(
        status("clusterResources").0,
        Status::Ok,
        "{:?}",
        status("clusterResources").1
    );
    assert_eq!(
        status("logs/api").0,
        Status::Ok,
        "{:?}",
        status("logs/api").1
    );
    assert_eq!(status("exec/ps").0, Status::Skipped);

    let b = collected.writer.reader().unwrap();
    let v: Value =
        serde_json::from_slice(&b.read("cluster-info/cluster_version.json").unwrap()).unwrap();
    assert!(v["string"].as_str().unwrap().starts_with('v'), "{v}");
    let pods: Value =
        serde_json::from_slice(&b.read("cluster-resources/pods/acme.json").unwrap()).unwrap();
    assert_eq!(pods["kind"], "PodList");
    assert_eq!(pods["items"].as_array().unwrap().len(), 2);
    assert!(b.read("cluster-resources/deployments/acme.json").is_some());
    assert!(b.read("cluster-resources/nodes.json").is_some());
    assert!(b.read("cluster-resources/namespaces.json").is_some());
    assert!(
        b.read("cluster-resources/custom-resource-definitions.json")
            .is_some()
    );
    let widgets = b.read("cluster-resources/custom-resources/widgets.acme.example/acme.json");
    let widgets: Value =
        serde_json::from_slice(&widgets.expect("custom resources collected")).unwrap();
    assert_eq!(widgets["items"][0]["metadata"]["name"], "w1");
    assert!(
        b.read("cluster-resources/secrets/acme.json").is_none(),
        "secrets must not be listed"
    );

    // Logs land under pods/logs with a link under the collector name, redacted.
    let api_logs = b.glob("api/*/main.log");
    assert_eq!(api_logs.len(), 1, "{:?}", b.glob("**"));
    let text = String::from_utf8(b.read(&api_logs[0]).unwrap()).unwrap();
    assert!(text.contains("hello from api"), "{text}");
    assert!(
        !text.contains("hunter2-planted"),
        "planted password survived: {text}"
    );
    assert_eq!(
        b.glob("cluster-resources/pods/logs/acme/*/main.log").len(),
        2
    );

    let s: Value = serde_json::from_slice(&b.read("secrets/acme/db/uri.json").unwrap()).unwrap();
    assert_eq!(
        (s["secretExists"].as_bool(), s["keyExists"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(s.get("value").is_none(), "values only when asked");
    let m: Value =
        serde_json::from_slice(&b.read("secrets/acme/missing/uri.json").unwrap()).unwrap();
    assert_eq!(m["secretExists"], false);
    let c: Value =
        serde_json::from_slice(&b.read("configmaps/acme/settings/mode.json").unwrap()).unwrap();
    assert_eq!(c["value"], "fast");
    assert_eq!(b.read("static/note.txt").unwrap(), b"hello");
    assert!(b.read("collector-errors/exec-ps-error.json").is_some());

    // Analysis over what was collected: the crash-looping worker is named.
    let results =
        berth_troubleshoot::analyze::analyze_all(&merged.analyzers, &merged.host_analyzers, &b);
    let fails: Vec<&str> = results
        .iter()
        .filter(|r| r.outcome == berth_troubleshoot::analyze::Outcome::Fail)
        .map(|r| r.message.as_str())
        .collect();
    assert!(fails.iter().any(|m| m.contains("worker")), "{results:#?}");
    assert!(!fails.iter().any(|m| m.starts_with("api-")), "{results:#?}");
    assert!(
        results.iter().any(|r| r.message == "version ok"),
        "{results:#?}"
    );

    // Pack, unpack, read the same through the archive reader.
    let out = dir.path().join("b.tar.gz");
    collected.writer.pack(&out).unwrap();
    let a = ArchiveBundle::open(&out).unwrap();
    assert_eq!(a.read(&api_logs[0]).unwrap(), text.as_bytes());
    assert!(a.read("version.yaml").is_some());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn specs_discovered_from_labelled_cluster_objects() {
    let (sim, client, _dir) = seeded().await;
    post(
        &client,
        "/api/v1/namespaces/acme/configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "sb", "labels": {"troubleshoot.sh/kind": "support-bundle"}},
            "data": {"support-bundle-spec": "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec:\n  collectors:\n    - logs: {namespace: acme}\n"}}),
    )
    .await;
    let mut specs = Specs::default();
    let n = specs.discover(&client, Some("acme")).await.unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        specs.documents[0].origin.source,
        "configmap/acme/sb/support-bundle-spec"
    );
    let mut s2 = Specs::default();
    s2.add_cluster_object(&client, "configmap/acme/sb")
        .await
        .unwrap();
    assert_eq!(s2.merge_support_bundle().collectors.len(), 3);
    let e = s2.add_cluster_object(&client, "secret/acme/nope").await;
    assert!(e.is_err());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_cluster_is_recorded_not_hung() {
    // A kubeconfig pointing at a port nobody listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'http://127.0.0.1:{port}'}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\nusers:\n- name: u\n  user: {{}}\n"
        ),
    )
    .unwrap();
    let client = run::kube_client(Some(&kc), None).await.unwrap();
    let mut specs = Specs::default();
    specs.add_text(
        "sb.yaml",
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec: {}\n",
    );
    let collected = run::collect_bundle(
        &specs.merge_support_bundle(),
        CollectOptions {
            run: RunOptions {
                collector_timeout: Duration::from_secs(30),
                deadline: Duration::from_secs(60),
                concurrency: 4,
            },
            redact: true,
            tokenize: false,
            kube: Some(client),
            kube_error: None,
            work_dir: dir.path().to_path_buf(),
            name: "b".into(),
            version: "test".into(),
        },
    )
    .await
    .unwrap();
    for c in &collected.report.collectors {
        assert_eq!(c.status, Status::Failed, "{c:?}");
    }
    let b = collected.writer.reader().unwrap();
    assert!(b.read("cluster-info/errors.json").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_resources_keeps_logs_of_unhealthy_pods_only() {
    let (sim, client, dir) = seeded().await;
    let mut specs = Specs::default();
    specs.add_text(
        "sb.yaml",
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec:\n  collectors:\n    - clusterResources: {namespaces: [acme]}\n",
    );
    let collected = run::collect_bundle(
        &specs.merge_support_bundle(),
        CollectOptions {
            run: RunOptions::default(),
            redact: true,
            tokenize: false,
            kube: Some(client),
            kube_error: None,
            work_dir: dir.path().to_path_buf(),
            name: "b".into(),
            version: "test".into(),
        },
    )
    .await
    .unwrap();
    let b = collected.writer.reader().unwrap();
    let logs = b.glob("cluster-resources/pods/logs/**");
    assert!(logs.iter().any(|p| p.contains("/worker-")), "{logs:?}");
    assert!(!logs.iter().any(|p| p.contains("/api-")), "{logs:?}");
    sim.shutdown().await;
}

/// A cluster with a broken aggregated API (an APIService whose Service is missing answers 503
/// for its group, as metrics-server often does) still gets its resources collected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_resources_survive_an_unavailable_aggregated_api() {
    let (sim, client, dir) = seeded().await;
    post(
        &client,
        "/apis/apiregistration.k8s.io/v1/apiservices",
        json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                "versionPriority": 100, "service": {"name": "metrics-server", "namespace": "kube-system"}}}),
    )
    .await;
    let mut specs = Specs::default();
    specs.add_text(
        "sb.yaml",
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec:\n  collectors:\n    - clusterResources: {namespaces: [acme]}\n",
    );
    let collected = run::collect_bundle(
        &specs.merge_support_bundle(),
        CollectOptions {
            run: RunOptions::default(),
            redact: true,
            tokenize: false,
            kube: Some(client),
            kube_error: None,
            work_dir: dir.path().to_path_buf(),
            name: "b".into(),
            version: "test".into(),
        },
    )
    .await
    .unwrap();
    let rec = collected
        .report
        .collectors
        .iter()
        .find(|c| c.title == "clusterResources")
        .expect("clusterResources record");
    assert_eq!(rec.status, Status::Ok, "{:?}", rec.error);
    let b = collected.writer.reader().unwrap();
    assert!(
        b.read("cluster-resources/deployments/acme.json").is_some(),
        "{:?}",
        b.glob("cluster-resources/**")
    );
    sim.shutdown().await;
}
