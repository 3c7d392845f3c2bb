//! Fidelity checks with real kubectl (BERTH_TEST_KUBECTL), each with a fresh HOME.

mod common;
use common::{Kubectl, eventually, start};

const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: frontend}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_get_wait_rollout() {
    let sim = start().await;
    let Some(k) = Kubectl::new(&sim) else { return };
    let out = k
        .ok_stdin(&["apply", "--server-side", "-f", "-"], WEB)
        .await;
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );
    assert!(out.contains("service/web serverside-applied"), "{out}");

    let out = k
        .ok(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    assert!(out.contains("successfully rolled out"), "{out}");
    let out = k
        .ok(&[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "--timeout=60s",
        ])
        .await;
    assert!(out.contains("condition met"), "{out}");

    // Table output with the real columns.
    let out = k.ok(&["get", "deployments"]).await;
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert!(out.contains("2/2"), "{out}");
    let out = k.ok(&["get", "deployments", "-o", "wide"]).await;
    assert!(
        out.contains("CONTAINERS") && out.contains("nginx:1.27") && out.contains("app=web"),
        "{out}"
    );
    let out = k.ok(&["get", "pods"]).await;
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("Running") && l.contains("1/1"))
            .count(),
        2,
        "{out}"
    );
    let out = k.ok(&["get", "all"]).await;
    for want in [
        "pod/web-",
        "service/web",
        "deployment.apps/web",
        "replicaset.apps/web-",
    ] {
        assert!(out.contains(want), "get all lacks {want}:\n{out}");
    }
    let out = k.ok(&["get", "svc", "web", "-o", "yaml"]).await;
    assert!(
        out.contains("clusterIP: 10.96.") && out.contains("targetPort: 80"),
        "{out}"
    );
    // Pods carry the ReplicaSet as controller owner and the template hash label.
    let pods = k.json(&["get", "pods", "-l", "app=web"]).await;
    let p = &pods["items"][0];
    assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
    assert!(p["metadata"]["labels"]["pod-template-hash"].is_string());
    assert_eq!(p["status"]["phase"], "Running");

    // Label selectors.
    let out = k
        .ok(&[
            "get",
            "deploy",
            "-l",
            "tier in (frontend,backend)",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(out.trim(), "deployment.apps/web");
    let out = k
        .ok(&["get", "deploy", "-l", "tier!=frontend", "-o", "name"])
        .await;
    assert_eq!(out.trim(), "");
    let err = k.fails(&["get", "deploy", "-l", "tier in (a"]).await;
    assert!(
        err.contains("unable to parse requirement") || err.contains("found"),
        "{err}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_conflict_then_force() {
    let sim = start().await;
    let Some(k) = Kubectl::new(&sim) else { return };
    k.ok_stdin(
        &["apply", "--server-side", "--field-manager=helm", "-f", "-"],
        WEB,
    )
    .await;
    let changed = WEB.replace("replicas: 2", "replicas: 5");
    let err = k
        .fails_stdin(&["apply", "--server-side", "-f", "-"], &changed)
        .await;
    assert!(
        err.contains("Apply failed with 1 conflict: conflict with \"helm\": .spec.replicas"),
        "{err}"
    );
    k.ok_stdin(
        &["apply", "--server-side", "--force-conflicts", "-f", "-"],
        &changed,
    )
    .await;
    let d = k
        .json(&["get", "deploy", "web", "--show-managed-fields"])
        .await;
    assert_eq!(d["spec"]["replicas"], 5);
    let managers: Vec<&str> = d["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert!(
        managers.contains(&"helm") && managers.contains(&"kubectl"),
        "{managers:?}"
    );
    eventually("5 ready replicas", || async {
        let d = k.json(&["get", "deploy", "web"]).await;
        (d["status"]["readyReplicas"] == 5).then_some(())
    })
    .await;
    // Client-side apply (strategic merge patch + last-applied annotation) works too.
    let csa = WEB.replace("nginx:1.27", "nginx:1.28");
    let o = k.run_stdin(&["apply", "-f", "-"], Some(&csa)).await;
    // kubectl warns about the missing last-applied annotation, then patches.
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let d = k.json(&["get", "deploy", "web"]).await;
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.28"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_finalizers_and_cascade() {
    let sim = start().await;
    let Some(k) = Kubectl::new(&sim) else { return };
    k.ok_stdin(&["apply", "-f", "-"], WEB).await;
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    // Cascading (background) delete removes ReplicaSets and Pods.
    k.ok(&["delete", "deployment", "web", "--timeout=60s"])
        .await;
    eventually("pods and replicasets garbage-collected", || async {
        let rs = k.ok(&["get", "rs,pods", "-o", "name"]).await;
        rs.trim().is_empty().then_some(())
    })
    .await;
    // Orphan keeps the ReplicaSet.
    k.ok_stdin(&["apply", "-f", "-"], WEB).await;
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    k.ok(&["delete", "deployment", "web", "--cascade=orphan"])
        .await;
    let rs = k.json(&["get", "rs"]).await;
    assert_eq!(rs["items"].as_array().unwrap().len(), 1);
    assert!(rs["items"][0]["metadata"].get("ownerReferences").is_none());

    // A finalizer holds the object (Terminating) until it is removed.
    k.ok_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, finalizers: [example.com/hold]}\ndata: {a: b}\n",
    )
    .await;
    k.ok(&["delete", "configmap", "held", "--wait=false"]).await;
    let cm = k.json(&["get", "configmap", "held"]).await;
    assert!(cm["metadata"]["deletionTimestamp"].is_string());
    k.ok(&[
        "patch",
        "configmap",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .await;
    let err = k.fails(&["get", "configmap", "held"]).await;
    assert!(err.contains(r#"configmaps "held" not found"#), "{err}");

    // Namespace deletion: Terminating, contents removed, then gone.
    k.ok(&["create", "namespace", "shop"]).await;
    k.ok(&[
        "-n",
        "shop",
        "create",
        "configmap",
        "c",
        "--from-literal=a=b",
    ])
    .await;
    k.ok(&[
        "-n",
        "shop",
        "create",
        "secret",
        "generic",
        "s",
        "--from-literal=a=b",
    ])
    .await;
    k.ok(&["delete", "namespace", "shop", "--timeout=60s"])
        .await;
    let err = k.fails(&["get", "namespace", "shop"]).await;
    assert!(err.contains(r#"namespaces "shop" not found"#), "{err}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_resources_logs_errors() {
    let sim = start().await;
    let Some(k) = Kubectl::new(&sim) else { return };
    let out = k.ok(&["api-resources"]).await;
    for want in [
        "deployments",
        "deploy",
        "apps/v1",
        "customresourcedefinitions",
        "crd,crds",
    ] {
        assert!(out.contains(want), "api-resources lacks {want}");
    }
    let out = k.ok(&["api-versions"]).await;
    assert!(
        out.contains("networking.k8s.io/v1") && !out.contains("extensions/v1beta1"),
        "{out}"
    );
    let out = k.ok(&["version", "-o", "json"]).await;
    assert!(out.contains("\"gitVersion\": \"v1.32.0\""), "{out}");
    let out = k.ok(&["get", "nodes"]).await;
    assert!(
        out.contains("berth-sim-node") && out.contains("Ready"),
        "{out}"
    );

    k.ok_stdin(&["apply", "-f", "-"], WEB).await;
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    let logs = k.ok(&["logs", "deployment/web"]).await;
    assert!(
        logs.contains("nginx:1.27") && logs.contains("listening"),
        "{logs}"
    );
    let tail = k.ok(&["logs", "deployment/web", "--tail=1"]).await;
    assert_eq!(tail.lines().count(), 1, "{tail}");
    let err = k.fails(&["logs", "deployment/web", "--previous"]).await;
    assert!(
        err.contains("previous terminated container \"app\""),
        "{err}"
    );
    let err = k.fails(&["attach", "deployment/web"]).await;
    assert!(err.contains("not supported by the simulator"), "{err}");

    // Errors as a real API server words them.
    let err = k.fails(&["get", "deployment", "nope"]).await;
    assert!(
        err.contains(r#"Error from server (NotFound): deployments.apps "nope" not found"#),
        "{err}"
    );
    let err = k.fails(&["create", "configmap", "kube-root-ca.crt"]).await;
    assert!(
        err.contains(r#"configmaps "kube-root-ca.crt" already exists"#),
        "{err}"
    );
    let err = k
        .fails_stdin(
            &["apply", "-f", "-"],
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n",
        )
        .await;
    assert!(
        err.contains(
            r#"The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name""#
        ),
        "{err}"
    );
    let err = k
        .fails_stdin(
            &["apply", "-f", "-"],
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
        )
        .await;
    assert!(err.contains("no matches for kind \"Widget\""), "{err}");
    let err = k
        .fails_stdin(
            &["apply", "-f", "-"],
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec:\n  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: b}}\n    spec: {containers: [{name: c, image: x}]}\n",
        )
        .await;
    assert!(
        err.contains("`selector` does not match template `labels`"),
        "{err}"
    );
    // A stale resourceVersion conflicts.
    let cm = k.json(&["get", "configmap", "kube-root-ca.crt"]).await;
    let mut stale = cm.clone();
    stale["metadata"]["resourceVersion"] = serde_json::json!("1");
    let err = k
        .fails_stdin(&["replace", "-f", "-"], &stale.to_string())
        .await;
    assert!(err.contains("the object has been modified; please apply your changes to the latest version and try again"), "{err}");
    sim.shutdown().await;
}

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wg]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_and_custom_resource() {
    let sim = start().await;
    let Some(k) = Kubectl::new(&sim) else { return };
    k.ok_stdin(&["apply", "-f", "-"], CRD).await;
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.example.com",
        "--timeout=60s",
    ])
    .await;
    let out = k
        .ok_stdin(
            &["apply", "--server-side", "-f", "-"],
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n",
        )
        .await;
    assert!(
        out.contains("widget.example.com/w1 serverside-applied"),
        "{out}"
    );
    let out = k.ok(&["get", "wg"]).await;
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "SIZE", "AGE"], "{out}");
    assert!(out.contains("w1") && out.contains(" 3 "), "{out}");
    let out = k.ok(&["api-resources", "--api-group=example.com"]).await;
    assert!(out.contains("widgets") && out.contains("wg"), "{out}");
    k.ok(&["delete", "crd", "widgets.example.com", "--timeout=60s"])
        .await;
    let err = k.fails(&["get", "widgets.example.com"]).await;
    assert!(
        err.contains("the server doesn't have a resource type") || err.contains("no matches"),
        "{err}"
    );
    // An invalid schema is rejected like a real API server does.
    let bad = CRD.replace(
        "type: object\n        properties:\n          spec",
        "type: thing\n        properties:\n          spec",
    );
    let err = k.fails_stdin(&["apply", "-f", "-"], &bad).await;
    assert!(
        err.contains("CustomResourceDefinition") && err.contains("openAPIV3Schema.type"),
        "{err}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_patch_and_watch() {
    let sim = start().await;
    let Some(k) = Kubectl::new(&sim) else { return };
    k.ok_stdin(&["apply", "-f", "-"], WEB).await;
    k.ok(&["scale", "deployment/web", "--replicas=3"]).await;
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    let d = k.json(&["get", "deploy", "web"]).await;
    assert_eq!(d["status"]["availableReplicas"], 3);
    k.ok(&[
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":1}]"#,
    ])
    .await;
    k.ok(&[
        "patch",
        "deploy",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:2"}]}}}}"#,
    ])
    .await;
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    let d = k.json(&["get", "deploy", "web"]).await;
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:2"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        80
    );
    assert_eq!(d["status"]["replicas"], 1);
    let rs = k.json(&["get", "rs"]).await;
    assert_eq!(
        rs["items"].as_array().unwrap().len(),
        2,
        "old ReplicaSet kept at 0"
    );
    // A watch with a timeout streams the current state and ends.
    let out = k
        .ok(&["get", "deploy", "--watch", "--request-timeout=2s"])
        .await;
    assert!(out.contains("web"), "{out}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imperative_create_commands_send_protobuf() {
    let sim = start().await;
    let Some(k) = Kubectl::new(&sim) else { return };
    // These generators send protobuf bodies (Deployment, Service, Pod, Job, CronJob...).
    k.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--replicas=2",
        "--port=80",
    ])
    .await;
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    let d = k.json(&["get", "deploy", "web"]).await;
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "web");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        80
    );
    k.ok(&[
        "expose",
        "deployment",
        "web",
        "--port=8080",
        "--target-port=80",
    ])
    .await;
    let s = k.json(&["get", "svc", "web"]).await;
    assert_eq!(s["spec"]["ports"][0]["port"], 8080);
    assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
    assert_eq!(s["spec"]["selector"]["app"], "web");
    k.ok(&["create", "service", "nodeport", "np", "--tcp=80:8080"])
        .await;
    let s = k.json(&["get", "svc", "np"]).await;
    assert_eq!(s["spec"]["type"], "NodePort");
    assert!(s["spec"]["ports"][0]["nodePort"].as_i64().unwrap() >= 30000);
    k.ok(&[
        "run",
        "one",
        "--image=busybox",
        "--restart=Never",
        "--",
        "echo",
        "hi",
    ])
    .await;
    let p = k.json(&["get", "pod", "one"]).await;
    assert_eq!(
        p["spec"]["containers"][0]["args"],
        serde_json::json!(["echo", "hi"])
    );
    k.ok(&["create", "job", "once", "--image=busybox"]).await;
    k.ok(&[
        "wait",
        "--for=condition=Complete",
        "job/once",
        "--timeout=60s",
    ])
    .await;
    k.ok(&[
        "create",
        "cronjob",
        "nightly",
        "--image=busybox",
        "--schedule=0 3 * * *",
    ])
    .await;
    let c = k.json(&["get", "cronjob", "nightly"]).await;
    assert_eq!(c["spec"]["schedule"], "0 3 * * *");
    k.ok(&["create", "serviceaccount", "robot"]).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_history_and_undo() {
    let sim = start().await;
    let Some(k) = Kubectl::new(&sim) else { return };
    k.ok_stdin(&["apply", "-f", "-"], WEB).await;
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    k.ok(&["set", "image", "deployment/web", "app=nginx:1.28"])
        .await;
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    k.ok(&["rollout", "undo", "deployment/web"]).await;
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    let d = k.json(&["get", "deploy", "web"]).await;
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    // The first ReplicaSet was reused, not recreated.
    let rs = k.json(&["get", "rs"]).await;
    assert_eq!(rs["items"].as_array().unwrap().len(), 2);
    let out = k.ok(&["rollout", "history", "deployment/web"]).await;
    let revs: Vec<&str> = out
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(revs, ["2", "3"], "{out}");
    sim.shutdown().await;
}
