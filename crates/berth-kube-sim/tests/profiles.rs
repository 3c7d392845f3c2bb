//! Cluster profiles (versions with their API removals, distributions, classes, nodes,
//! pre-installed CRDs), the other workload controllers, and the state dir.
#![allow(clippy::field_reassign_with_default)]

mod common;
use berth_kube_sim::{Profile, SimOptions, Simulator};
use common::{Http, eventually, start_with};
use serde_json::{Value, json};

async fn served(http: &Http, gv_path: &str, plural: &str) -> bool {
    let (code, doc) = http.get(gv_path).await;
    code == 200
        && doc["resources"]
            .as_array()
            .is_some_and(|a| a.iter().any(|r| r["name"] == plural))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_follow_api_removals() {
    for (name, ext_ingress, psp, fc_beta2, fc_v1, cronjob_beta) in [
        ("k8s-1.21", true, true, false, false, true),
        ("k8s-1.24", false, true, true, false, true),
        ("k8s-1.25", false, false, true, false, false),
        ("k8s-1.28", false, false, true, false, false),
        ("k8s-1.29", false, false, false, true, false),
        ("default", false, false, false, true, false),
    ] {
        let sim = start_with(Profile::builtin(name).expect("builtin profile")).await;
        let http = Http::new(&sim);
        assert_eq!(
            served(&http, "/apis/extensions/v1beta1", "ingresses").await,
            ext_ingress,
            "{name} extensions/v1beta1"
        );
        assert_eq!(
            served(&http, "/apis/policy/v1beta1", "podsecuritypolicies").await,
            psp,
            "{name} PSP"
        );
        assert_eq!(
            served(
                &http,
                "/apis/flowcontrol.apiserver.k8s.io/v1beta2",
                "flowschemas"
            )
            .await,
            fc_beta2,
            "{name} flowcontrol v1beta2"
        );
        assert_eq!(
            served(
                &http,
                "/apis/flowcontrol.apiserver.k8s.io/v1",
                "flowschemas"
            )
            .await,
            fc_v1,
            "{name} flowcontrol v1"
        );
        assert_eq!(
            served(&http, "/apis/batch/v1beta1", "cronjobs").await,
            cronjob_beta,
            "{name} batch/v1beta1"
        );
        // Aggregated discovery agrees with the legacy documents.
        let r = http
            .client
            .get(format!("{}/apis", http.base))
            .header("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers()["content-type"],
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        );
        let doc: Value = r.json().await.unwrap();
        let has_ext = doc["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["metadata"]["name"] == "extensions");
        assert_eq!(has_ext, ext_ingress, "{name} aggregated");
        // Removed APIs are not there to write to either.
        if !psp {
            let (code, _) = http
                .post(
                    "/apis/policy/v1beta1/podsecuritypolicies",
                    &json!({"metadata": {"name": "x"}}),
                )
                .await;
            assert_eq!(code, 404);
        }
        let (_, v) = http.get("/version").await;
        let minor = name.strip_prefix("k8s-1.").unwrap_or("32");
        assert_eq!(v["minor"], minor);
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributions_and_classes() {
    // EKS: three nodes, gp2 default class, LoadBalancer hostnames.
    let sim = start_with(Profile::builtin("eks").unwrap()).await;
    let http = Http::new(&sim);
    let (_, nodes) = http.get("/api/v1/nodes").await;
    let nodes = nodes["items"].as_array().unwrap().clone();
    assert_eq!(nodes.len(), 3);
    assert!(
        nodes[0]["status"]["nodeInfo"]["osImage"]
            .as_str()
            .unwrap()
            .starts_with("Amazon Linux")
    );
    assert_eq!(
        nodes[0]["metadata"]["labels"]["node.kubernetes.io/instance-type"],
        "m5.large"
    );
    let (_, scs) = http.get("/apis/storage.k8s.io/v1/storageclasses").await;
    assert_eq!(scs["items"][0]["metadata"]["name"], "gp2");
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 443}]}});
    let (code, created) = http.post("/api/v1/namespaces/default/services", &svc).await;
    assert_eq!(code, 201);
    assert!(created["spec"]["ports"][0]["nodePort"].as_i64().unwrap() >= 30000);
    eventually("LB hostname", || async {
        let (_, s) = http.get("/api/v1/namespaces/default/services/lb").await;
        s["status"]["loadBalancer"]["ingress"][0]["hostname"]
            .as_str()
            .map(|h| assert!(h.ends_with(".elb.amazonaws.com")))
    })
    .await;
    sim.shutdown().await;

    // OpenShift-like: Routes and SCCs are served.
    let sim = start_with(Profile::builtin("openshift").unwrap()).await;
    let http = Http::new(&sim);
    assert!(served(&http, "/apis/route.openshift.io/v1", "routes").await);
    let (_, sccs) = http
        .get("/apis/security.openshift.io/v1/securitycontextconstraints")
        .await;
    assert!(
        sccs["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["metadata"]["name"] == "restricted-v2")
    );
    sim.shutdown().await;

    // k3s: local-path and traefik; an Ingress gets an address because its class exists.
    let sim = start_with(Profile::builtin("k3s").unwrap()).await;
    let http = Http::new(&sim);
    let (_, v) = http.get("/version").await;
    assert_eq!(v["gitVersion"], "v1.32.3+k3s1");
    let ing = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"}, "spec": {"rules": [{"host": "shop.example.com"}]}});
    let (_, created) = http
        .post(
            "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
            &ing,
        )
        .await;
    assert_eq!(
        created["spec"]["ingressClassName"], "traefik",
        "default IngressClass admission"
    );
    eventually("ingress address", || async {
        let (_, i) = http
            .get("/apis/networking.k8s.io/v1/namespaces/default/ingresses/web")
            .await;
        i["status"]["loadBalancer"]["ingress"][0]["ip"]
            .as_str()
            .map(|_| ())
    })
    .await;
    sim.shutdown().await;

    // bare: no StorageClass, no IngressClass -> PVC Pending with FailedBinding, no address.
    let sim = start_with(Profile::builtin("bare").unwrap()).await;
    let http = Http::new(&sim);
    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    http.post("/api/v1/namespaces/default/persistentvolumeclaims", &pvc)
        .await;
    let ing = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"}, "spec": {"ingressClassName": "nginx", "rules": [{"host": "a"}]}});
    http.post(
        "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
        &ing,
    )
    .await;
    eventually("FailedBinding event", || async {
        let (_, l) = http
            .get("/api/v1/namespaces/default/events?fieldSelector=reason%3DFailedBinding")
            .await;
        l["items"]
            .as_array()
            .and_then(|a| a.first().cloned())
            .map(|e| {
                assert_eq!(
                    e["message"],
                    "no persistent volumes available for this claim and no storage class is set"
                );
            })
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (_, p) = http
        .get("/api/v1/namespaces/default/persistentvolumeclaims/data")
        .await;
    assert_eq!(p["status"]["phase"], "Pending");
    let (_, i) = http
        .get("/apis/networking.k8s.io/v1/namespaces/default/ingresses/web")
        .await;
    assert!(
        i["status"]["loadBalancer"]["ingress"].is_null(),
        "no address without the class: {i}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_yaml_file_with_crds_and_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.yaml");
    std::fs::write(
        &path,
        r#"
name: airgap-rhel
kubernetesVersion: 1.30.4
distribution: rke2
nodes:
  - name: rhel-1
    cpu: "8"
    memory: 32Gi
    osImage: Red Hat Enterprise Linux 9.4 (Plow)
    kernelVersion: 5.14.0-427.13.1.el9_4.x86_64
    labels: {zone: a}
    taints: [{key: dedicated, value: db, effect: NoSchedule}]
storageClasses:
  - {name: longhorn, provisioner: driver.longhorn.io, default: true}
ingressClasses: []
crds:
  - metadata: {name: certificates.cert-manager.io}
    spec:
      group: cert-manager.io
      scope: Namespaced
      names: {plural: certificates, singular: certificate, kind: Certificate, shortNames: [cert]}
      versions:
        - name: v1
          served: true
          storage: true
          schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"#,
    )
    .unwrap();
    let profile = Profile::from_yaml_file(&path).expect("profile parses");
    assert_eq!(profile.nodes[0].name, "rhel-1");
    let sim = start_with(profile).await;
    let http = Http::new(&sim);
    let (_, v) = http.get("/version").await;
    assert_eq!(v["minor"], "30");
    let (_, n) = http.get("/api/v1/nodes/rhel-1").await;
    assert_eq!(n["status"]["allocatable"]["cpu"], "8");
    assert_eq!(
        n["status"]["nodeInfo"]["kernelVersion"],
        "5.14.0-427.13.1.el9_4.x86_64"
    );
    assert_eq!(n["spec"]["taints"][0]["key"], "dedicated");
    // The pre-installed CRD is served from the first request.
    assert!(served(&http, "/apis/cert-manager.io/v1", "certificates").await);
    let cert = json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "tls"}, "spec": {"secretName": "tls"}});
    let (code, _) = http
        .post(
            "/apis/cert-manager.io/v1/namespaces/default/certificates",
            &cert,
        )
        .await;
    assert_eq!(code, 201);
    // The tainted node repels pods without a toleration.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}});
    http.post("/api/v1/namespaces/default/pods", &pod).await;
    eventually("FailedScheduling on taint", || async {
        let (_, p) = http.get("/api/v1/namespaces/default/pods/p").await;
        p["status"]["conditions"][0]["message"]
            .as_str()
            .filter(|m| m.contains("untolerated taint {dedicated: db}"))
            .map(|_| ())
    })
    .await;
    sim.shutdown().await;

    // Bad profiles say what is wrong.
    let e = Profile::from_yaml_str("kubernetesVersion: banana\n").unwrap_err();
    assert!(e.contains("not a version like 1.32.0"), "{e}");
    let e = Profile::from_yaml_str("nodez: []\n").unwrap_err();
    assert!(e.contains("nodez"), "{e}");
    let e = Profile::from_yaml_str("faults: {apiErrorRate: 2}\n").unwrap_err();
    assert!(e.contains("apiErrorRate"), "{e}");
    assert!(
        Profile::resolve("no-such-profile")
            .unwrap_err()
            .to_string()
            .contains("unknown profile")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_daemonset_cronjob() {
    let mut profile = Profile::builtin("eks").unwrap();
    profile.nodes[2].labels.insert("role".into(), "edge".into());
    let sim = start_with(profile).await;
    let http = Http::new(&sim);
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "pg", "image": "postgres:16"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}}}]}});
    let (code, b) = http
        .post("/apis/apps/v1/namespaces/default/statefulsets", &sts)
        .await;
    assert_eq!(code, 201, "{b}");
    let s = eventually("statefulset ready", || async {
        let (_, s) = http
            .get("/apis/apps/v1/namespaces/default/statefulsets/db")
            .await;
        (s["status"]["readyReplicas"] == 2).then_some(s)
    })
    .await;
    assert_eq!(
        s["status"]["currentRevision"],
        s["status"]["updateRevision"]
    );
    for i in 0..2 {
        let (code, p) = http
            .get(&format!("/api/v1/namespaces/default/pods/db-{i}"))
            .await;
        assert_eq!(code, 200);
        assert_eq!(
            p["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
            format!("data-db-{i}")
        );
        let (_, pvc) = http
            .get(&format!(
                "/api/v1/namespaces/default/persistentvolumeclaims/data-db-{i}"
            ))
            .await;
        assert_eq!(pvc["status"]["phase"], "Bound");
        assert_eq!(pvc["status"]["capacity"]["storage"], "5Gi");
    }

    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "agent:1"}]}}}});
    http.post("/apis/apps/v1/namespaces/default/daemonsets", &ds)
        .await;
    let d = eventually("daemonset on every node", || async {
        let (_, d) = http
            .get("/apis/apps/v1/namespaces/default/daemonsets/agent")
            .await;
        (d["status"]["numberReady"] == 3).then_some(d)
    })
    .await;
    assert_eq!(d["status"]["desiredNumberScheduled"], 3);
    let mut edge = ds.clone();
    edge["metadata"]["name"] = json!("edge");
    edge["spec"]["template"]["spec"]["nodeSelector"] = json!({"role": "edge"});
    http.post("/apis/apps/v1/namespaces/default/daemonsets", &edge)
        .await;
    eventually("nodeSelector respected", || async {
        let (_, d) = http
            .get("/apis/apps/v1/namespaces/default/daemonsets/edge")
            .await;
        (d["status"]["desiredNumberScheduled"] == 1 && d["status"]["numberReady"] == 1)
            .then_some(())
    })
    .await;

    let cj = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "backup", "annotations": {"sim.berth.dev/run-now": "true"}},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "b", "image": "backup:1"}]}}}}}});
    let (code, b) = http
        .post("/apis/batch/v1/namespaces/default/cronjobs", &cj)
        .await;
    assert_eq!(code, 201, "{b}");
    let job = eventually("cronjob-spawned job completes", || async {
        let (_, l) = http.get("/apis/batch/v1/namespaces/default/jobs").await;
        l["items"]
            .as_array()?
            .iter()
            .find(|j| j["status"]["succeeded"] == 1)
            .cloned()
    })
    .await;
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    eventually("lastSuccessfulTime", || async {
        let (_, c) = http
            .get("/apis/batch/v1/namespaces/default/cronjobs/backup")
            .await;
        c["status"]["lastSuccessfulTime"].as_str().map(|_| ())
    })
    .await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_dir_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || SimOptions {
        state_dir: Some(dir.path().to_path_buf()),
        ..SimOptions::default()
    };
    let sim = Simulator::start(opts()).await.unwrap();
    let http = Http::new(&sim);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep"}, "data": {"a": "1"}});
    let (_, created) = http
        .post("/api/v1/namespaces/default/configmaps", &cm)
        .await;
    let rv_before = sim.resource_version();
    sim.shutdown().await;
    assert!(dir.path().join("state.json").exists());

    let sim = Simulator::start(opts()).await.unwrap();
    let http = Http::new(&sim);
    let (code, got) = http.get("/api/v1/namespaces/default/configmaps/keep").await;
    assert_eq!(code, 200);
    assert_eq!(got["metadata"]["uid"], created["metadata"]["uid"]);
    assert!(
        sim.resource_version() >= rv_before,
        "resourceVersions never go back"
    );
    sim.shutdown().await;

    // A corrupt state file is an error naming the file, not a silent empty cluster.
    std::fs::write(dir.path().join("state.json"), b"{not json").unwrap();
    let err = Simulator::start(opts())
        .await
        .err()
        .expect("corrupt state is refused");
    assert!(err.to_string().contains("state.json"), "{err}");
}

/// The DefaultStorageClass admission reads the StorageClass objects as they are now, not the
/// profile the cluster started with: an admin who moves the default moves it for new claims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_claims_get_the_default_storageclass_as_it_is_now() {
    let sim = start_with(Profile::default()).await;
    let http = Http::new(&sim);
    let claim = |name: &str| {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    };
    let pvcs = "/api/v1/namespaces/default/persistentvolumeclaims";
    let (c, b) = http.post(pvcs, &claim("first")).await;
    assert_eq!(c, 201, "{b}");
    assert_eq!(b["spec"]["storageClassName"], "standard");
    let (c, b) = http
        .send(
            "PATCH",
            "/apis/storage.k8s.io/v1/storageclasses/standard",
            "application/merge-patch+json",
            br#"{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"false"}}}"#.to_vec(),
        )
        .await;
    assert_eq!(c, 200, "{b}");
    let (c, b) = http.post(pvcs, &claim("none")).await;
    assert_eq!(c, 201, "{b}");
    assert!(b["spec"].get("storageClassName").is_none(), "{b}");
    let (c, b) = http
        .post(
            "/apis/storage.k8s.io/v1/storageclasses",
            &json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                "metadata": {"name": "fast", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                "provisioner": "ebs.csi.aws.com"}),
        )
        .await;
    assert_eq!(c, 201, "{b}");
    let (c, b) = http.post(pvcs, &claim("fast")).await;
    assert_eq!(c, 201, "{b}");
    assert_eq!(b["spec"]["storageClassName"], "fast");
}

/// A claim of a WaitForFirstConsumer class (k3s' local-path) stays Pending with the real
/// event until a pod that mounts it is scheduled; then it binds to a volume on the pod's node
/// and the pod runs there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_first_consumer_claims_bind_when_their_pod_is_scheduled() {
    let sim = start_with(Profile::builtin("k3s").unwrap()).await;
    let http = Http::new(&sim);
    let (_, sc) = http
        .get("/apis/storage.k8s.io/v1/storageclasses/local-path")
        .await;
    assert_eq!(sc["volumeBindingMode"], "WaitForFirstConsumer", "{sc}");
    let pvcs = "/api/v1/namespaces/default/persistentvolumeclaims";
    let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    let (c, b) = http.post(pvcs, &claim).await;
    assert_eq!(c, 201, "{b}");
    eventually("the WaitForFirstConsumer event", || async {
        let (_, evs) = http.get("/api/v1/namespaces/default/events").await;
        evs["items"]
            .as_array()?
            .iter()
            .find(|e| {
                e["reason"] == "WaitForFirstConsumer" && e["involvedObject"]["name"] == "data"
            })
            .map(|e| {
                assert_eq!(
                    e["message"],
                    "waiting for first consumer to be created before binding"
                )
            })
    })
    .await;
    let (_, b) = http.get(&format!("{pvcs}/data")).await;
    assert_eq!(b["status"]["phase"], "Pending", "no pod uses it yet: {b}");
    assert!(b["spec"]["volumeName"].is_null(), "{b}");

    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db"},
        "spec": {"containers": [{"name": "db", "image": "postgres:16", "volumeMounts": [{"name": "d", "mountPath": "/var/lib/postgresql"}]}],
                 "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}});
    let (c, b) = http.post("/api/v1/namespaces/default/pods", &pod).await;
    assert_eq!(c, 201, "{b}");
    let bound = eventually("the claim bound", || async {
        let (_, b) = http.get(&format!("{pvcs}/data")).await;
        (b["status"]["phase"] == "Bound").then_some(b)
    })
    .await;
    assert_eq!(
        bound["metadata"]["annotations"]["volume.kubernetes.io/selected-node"], "k3s-server",
        "{bound}"
    );
    let pv_name = bound["spec"]["volumeName"].as_str().unwrap().to_string();
    let (_, pv) = http
        .get(&format!("/api/v1/persistentvolumes/{pv_name}"))
        .await;
    assert_eq!(
        pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"]
            [0],
        "k3s-server",
        "{pv}"
    );
    eventually("the pod on the claim's node", || async {
        let (_, p) = http.get("/api/v1/namespaces/default/pods/db").await;
        (p["spec"]["nodeName"] == "k3s-server").then_some(())
    })
    .await;
    sim.shutdown().await;

    let err = Profile::from_yaml_str(
        "storageClasses:\n  - {name: lp, provisioner: rancher.io/local-path, volumeBindingMode: Later}\n",
    )
    .expect_err("an unknown binding mode is refused");
    assert!(
        err.contains("storageClasses[0].volumeBindingMode") && err.contains("WaitForFirstConsumer"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_api_routes_are_accepted_by_the_gateways_controller() {
    let mut profile = Profile::default();
    profile.gateways = vec![berth_kube_sim::profile::GatewayProfile {
        name: "public".into(),
        namespace: "gateway-system".into(),
        gateway_class_name: "eg".into(),
        controller_name: "gateway.envoyproxy.io/gatewayclass-controller".into(),
    }];
    let sim = start_with(profile).await;
    let http = Http::new(&sim);
    assert!(served(&http, "/apis/gateway.networking.k8s.io/v1", "httproutes").await);
    assert!(!served(&http, "/apis/networking.istio.io/v1", "virtualservices").await);
    let gw = eventually("Gateway programmed", || async {
        let (_, g) = http
            .get("/apis/gateway.networking.k8s.io/v1/namespaces/gateway-system/gateways/public")
            .await;
        (g["status"]["conditions"][1]["type"] == "Programmed").then_some(g)
    })
    .await;
    assert_eq!(gw["status"]["addresses"][0]["value"], "172.18.0.2");
    let route = |name: &str, parent: &str| {
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"parentRefs": [{"name": parent, "namespace": "gateway-system"}],
                     "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}})
    };
    let base = "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes";
    for (name, parent) in [("web", "public"), ("lost", "missing")] {
        let (code, body) = http.post(base, &route(name, parent)).await;
        assert_eq!(code, 201, "{body}");
    }
    // The backend Service does not exist yet: accepted, references not resolved.
    let r = eventually("HTTPRoute accepted", || async {
        let (_, r) = http.get(&format!("{base}/web")).await;
        r["status"]["parents"][0]["conditions"]
            .is_array()
            .then_some(r)
    })
    .await;
    let p = &r["status"]["parents"][0];
    assert_eq!(
        p["controllerName"],
        "gateway.envoyproxy.io/gatewayclass-controller"
    );
    assert_eq!(p["conditions"][0]["type"], "Accepted");
    assert_eq!(p["conditions"][0]["status"], "True");
    assert_eq!(p["conditions"][1]["reason"], "BackendNotFound");
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80}]}});
    let (code, body) = http.post("/api/v1/namespaces/default/services", &svc).await;
    assert_eq!(code, 201, "{body}");
    eventually("references resolved", || async {
        let (_, r) = http.get(&format!("{base}/web")).await;
        (r["status"]["parents"][0]["conditions"][1]["status"] == "True").then_some(())
    })
    .await;
    // No controller owns a route to a Gateway that does not exist: no status at all.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, lost) = http.get(&format!("{base}/lost")).await;
    assert!(
        lost["status"]["parents"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{lost}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openshift_routes_are_admitted_and_istio_is_served() {
    let mut profile = Profile::builtin("openshift").expect("openshift");
    profile.istio = true;
    let sim = start_with(profile).await;
    let http = Http::new(&sim);
    assert!(served(&http, "/apis/networking.istio.io/v1", "virtualservices").await);
    assert!(served(&http, "/apis/networking.istio.io/v1beta1", "gateways").await);
    let (code, _) = http
        .get("/api/v1/namespaces/istio-system/services/istio-ingressgateway")
        .await;
    assert_eq!(code, 200);
    let route = json!({"apiVersion": "route.openshift.io/v1", "kind": "Route",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"to": {"kind": "Service", "name": "web"}, "port": {"targetPort": "http"}}});
    let base = "/apis/route.openshift.io/v1/namespaces/default/routes";
    let (code, body) = http.post(base, &route).await;
    assert_eq!(code, 201, "{body}");
    let r = eventually("Route admitted", || async {
        let (_, r) = http.get(&format!("{base}/web")).await;
        (r["status"]["ingress"][0]["conditions"][0]["type"] == "Admitted").then_some(r)
    })
    .await;
    let i = &r["status"]["ingress"][0];
    assert_eq!(i["host"], "web-default.apps.sim.example");
    assert_eq!(i["routerName"], "default");
    assert_eq!(i["conditions"][0]["status"], "True");
}

#[test]
fn a_gateway_without_its_class_is_refused_in_a_profile_file() {
    let e = Profile::from_yaml_str("gateways:\n  - {name: public, namespace: gw}\n")
        .expect_err("incomplete gateway");
    assert!(e.contains("gateways[0].gatewayClassName is empty"), "{e}");
}
