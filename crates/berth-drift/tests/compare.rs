//! Cluster change classes the simulator tests do not reach, size bounds and redaction of
//! baselines, from API objects as a cluster returns them.

use berth_drift::capture::{ClusterInput, cluster_facts};
use berth_drift::{Baseline, compare};
use serde_json::{Value, json};

fn node(name: &str, kernel: &str, ready: bool, cpu: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/os": "linux", "kubernetes.io/hostname": name}},
        "spec": {"providerID": format!("aws:///us-east-1a/{name}")},
        "status": {"allocatable": {"cpu": cpu, "memory": "16Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "lastTransitionTime": "2026-12-01T00:00:00Z"}],
            "nodeInfo": {"kernelVersion": kernel, "osImage": "Amazon Linux 2023", "containerRuntimeVersion": "containerd://1.7.22", "architecture": "amd64", "kubeletVersion": "v1.31.2-eks-7f9249a"}}})
}

fn input() -> ClusterInput {
    ClusterInput {
        version: json!({"gitVersion": "v1.31.2-eks-7f9249a"}),
        nodes: vec![node("ip-10-0-1-1", "6.1.112", true, "4")],
        validating_webhooks: vec![json!({"metadata": {"name": "kyverno"},
            "webhooks": [{"name": "validate.kyverno.svc", "failurePolicy": "Ignore",
                "clientConfig": {"url": "https://admin:s3cret-Passw0rd@kyverno.example.com:443/validate"}}]})],
        pods: vec![
            json!({"spec": {"nodeSelector": {"kubernetes.io/hostname": "x"}},
            "status": {"containerStatuses": [{"image": "ghcr.io/acme/web:1.0", "imageID": "ghcr.io/acme/web@sha256:aaaa"}]}}),
        ],
        namespace_name: "shop".into(),
        served: vec![
            "apps/v1/Deployment".into(),
            "apps/v1".into(),
            "v1/ConfigMap".into(),
            "v1".into(),
        ],
        app_kinds: vec![
            ("apps".into(), "Deployment".into()),
            ("".into(), "ConfigMap".into()),
        ],
        ..Default::default()
    }
}

fn baseline(i: &ClusterInput) -> Baseline {
    Baseline::new(Some(cluster_facts(i)), None)
}

fn first_class(old: &ClusterInput, new: &ClusterInput) -> String {
    let c = compare(&baseline(old), &baseline(new));
    c.first().map(|c| c.class.clone()).unwrap_or_default()
}

#[test]
fn facts_follow_the_objects() {
    let f = cluster_facts(&input());
    assert_eq!(f.distribution, "eks");
    assert_eq!(f.apis["apps/Deployment"], vec!["v1"]);
    assert_eq!(f.apis["/ConfigMap"], vec!["v1"]);
    // Labels the app's pods select on are kept; others are not.
    assert!(f.nodes[0].labels.contains_key("kubernetes.io/hostname"));
    assert_eq!(f.images["ghcr.io/acme/web:1.0"], "sha256:aaaa");
    assert_eq!(f.webhooks[0].target, "url kyverno.example.com:443");
}

#[test]
fn each_remaining_cluster_class_is_named_first() {
    type Mutation = fn(&mut ClusterInput);
    let cases: &[(&str, Mutation)] = &[
        ("node-not-ready", |i| {
            i.nodes[0] = node("ip-10-0-1-1", "6.1.112", false, "4");
        }),
        ("allocatable-decreased", |i| {
            i.nodes[0] = node("ip-10-0-1-1", "6.1.112", true, "3500m");
        }),
        ("image-digest-changed", |i| {
            i.pods[0]["status"]["containerStatuses"][0]["imageID"] =
                json!("ghcr.io/acme/web@sha256:bbbb");
        }),
        ("distribution-changed", |i| {
            i.version = json!({"gitVersion": "v1.31.2+k3s1"});
            i.nodes[0]["spec"] = json!({});
        }),
        ("webhook-changed", |i| {
            i.validating_webhooks[0]["webhooks"][0]["failurePolicy"] = json!("Fail");
        }),
        ("webhook-removed", |i| {
            i.validating_webhooks.clear();
        }),
        ("node-added", |i| {
            i.nodes.push(node("ip-10-0-1-2", "6.1.112", true, "4"));
        }),
        ("api-version-added", |i| {
            i.served.push("apps/v2/Deployment".into());
        }),
        ("node-lost", |i| {
            i.nodes.clear();
        }),
        ("node-label-changed", |i| {
            i.nodes[0]["metadata"]["labels"]["kubernetes.io/hostname"] = json!("renamed");
        }),
    ];
    for (class, mutate) in cases {
        let old = input();
        let mut new = input();
        mutate(&mut new);
        assert_eq!(first_class(&old, &new), *class);
    }
}

#[test]
fn stored_baselines_are_bounded_and_redacted() {
    let mut i = input();
    i.nodes = (0..200)
        .map(|n| node(&format!("node-{n:03}"), "6.1.112", true, "4"))
        .collect();
    // A secret that reached a label value is masked like in a support bundle.
    i.nodes[0]["metadata"]["labels"]["node-role.kubernetes.io/worker"] =
        json!("password=hunter2-very-secret");
    let v = baseline(&i).finish();
    let text = serde_json::to_string(&v).expect("json");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    assert_eq!(v["cluster"]["nodes"].as_array().map(Vec::len), Some(32));
    assert_eq!(v["truncated"], json!(["cluster.nodes"]));
    let b = Baseline::parse("test", &v).expect("still a baseline");
    assert_eq!(b.format, berth_drift::FORMAT);
    // Figures for docs/formats/baseline.md: one node, and 32.
    let one = serde_json::to_vec(&baseline(&input()).finish()).expect("json");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &one).expect("gzip");
    let one_gz = gz.finish().expect("gzip").len();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, text.as_bytes()).expect("gzip");
    let many_gz = gz.finish().expect("gzip").len();
    println!(
        "baseline: 1 node {} bytes ({one_gz} gzip); 32 nodes {} bytes ({many_gz} gzip)",
        one.len(),
        text.len()
    );
    assert!(many_gz < 4096, "{many_gz}");
    assert!(one.len() < 4096 && one_gz < 1024);
    assert!(text.len() < berth_drift::MAX_JSON);
}

#[test]
fn not_a_baseline_is_refused_with_its_place() {
    let e = Baseline::parse("old.json", &json!({"format": "x"})).expect_err("refused");
    assert!(
        e.to_string().starts_with("old.json: not a berth baseline"),
        "{e}"
    );
}
