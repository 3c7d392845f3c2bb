//! Missing references stall pods as in a real cluster: a missing ServiceAccount is refused
//! at admission (FailedCreate on the ReplicaSet, 403 for a direct create, also through real
//! kubectl), a missing Secret/ConfigMap volume leaves the pod in ContainerCreating with
//! FailedMount, env from a missing object or key gives CreateContainerConfigError; optional
//! references are fine, and each pod proceeds once the object appears.

mod common;
use common::{Http, Kubectl, eventually, start};
use serde_json::{Value, json};

const NS: &str = "/api/v1/namespaces/default";
const DEPLOYS: &str = "/apis/apps/v1/namespaces/default/deployments";

fn deployment(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}})
}

async fn create(http: &Http, path: &str, obj: &Value) {
    let (code, body) = http.post(path, obj).await;
    assert_eq!(code, 201, "create {path}: {body}");
}

async fn pods(http: &Http, app: &str) -> Vec<Value> {
    let (_, l) = http
        .get(&format!("{NS}/pods?labelSelector=app%3D{app}"))
        .await;
    l["items"].as_array().cloned().unwrap_or_default()
}

async fn wait_pod<F: Fn(&Value) -> bool>(http: &Http, app: &str, what: &str, f: F) -> Value {
    eventually(what, || async {
        pods(http, app).await.into_iter().find(|p| f(p))
    })
    .await
}

fn ready(p: &Value) -> bool {
    p["status"]["conditions"].as_array().is_some_and(|a| {
        a.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn waiting(p: &Value) -> (String, String) {
    let w = &p["status"]["containerStatuses"][0]["state"]["waiting"];
    (
        w["reason"].as_str().unwrap_or("").to_string(),
        w["message"].as_str().unwrap_or("").to_string(),
    )
}

async fn event(http: &Http, reason: &str, contains: &str) -> Value {
    eventually(&format!("event {reason} with {contains:?}"), || async {
        let (_, l) = http.get(&format!("{NS}/events")).await;
        l["items"].as_array().and_then(|a| {
            a.iter()
                .find(|e| {
                    e["reason"] == reason
                        && e["message"].as_str().is_some_and(|m| m.contains(contains))
                })
                .cloned()
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_service_account_refuses_pods_until_it_exists() {
    let sim = start().await;
    let http = Http::new(&sim);
    create(
        &http,
        DEPLOYS,
        &deployment(
            "sa",
            json!({"serviceAccountName": "app", "containers": [{"name": "c", "image": "busybox"}]}),
        ),
    )
    .await;
    let e = event(&http, "FailedCreate", "serviceaccount").await;
    let msg = e["message"].as_str().unwrap_or("");
    assert_eq!(e["involvedObject"]["kind"], "ReplicaSet", "{e}");
    assert_eq!(e["type"], "Warning");
    let rs = e["involvedObject"]["name"].as_str().unwrap_or("");
    assert_eq!(
        msg,
        format!(
            "Error creating: pods \"{rs}-\" is forbidden: error looking up service account default/app: serviceaccount \"app\" not found"
        )
    );
    assert!(pods(&http, "sa").await.is_empty(), "no pod was created");
    // A direct create is refused with the admission's 403.
    let (code, body) = http
        .post(
            &format!("{NS}/pods"),
            &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "direct"},
                "spec": {"serviceAccountName": "app", "containers": [{"name": "c", "image": "busybox"}]}}),
        )
        .await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["reason"], "Forbidden");
    assert_eq!(
        body["message"],
        "pods \"direct\" is forbidden: error looking up service account default/app: serviceaccount \"app\" not found"
    );
    // The ServiceAccount appears: the ReplicaSet's retry succeeds.
    create(
        &http,
        &format!("{NS}/serviceaccounts"),
        &json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app"}}),
    )
    .await;
    wait_pod(
        &http,
        "sa",
        "pod Ready after the ServiceAccount exists",
        ready,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_secret_volume_stalls_in_container_creating() {
    let sim = start().await;
    let http = Http::new(&sim);
    create(
        &http,
        DEPLOYS,
        &deployment(
            "mnt",
            json!({"containers": [{"name": "c", "image": "busybox"}],
                "volumes": [{"name": "creds", "secret": {"secretName": "db-creds"}},
                    {"name": "opt", "configMap": {"name": "absent", "optional": true}}]}),
        ),
    )
    .await;
    let e = event(&http, "FailedMount", "db-creds").await;
    assert_eq!(
        e["message"],
        "MountVolume.SetUp failed for volume \"creds\" : secret \"db-creds\" not found"
    );
    assert_eq!(e["source"]["component"], "kubelet");
    let p = wait_pod(&http, "mnt", "pod waiting", |p| !waiting(p).0.is_empty()).await;
    assert_eq!(p["status"]["phase"], "Pending");
    assert_eq!(waiting(&p).0, "ContainerCreating");
    assert!(!ready(&p));
    create(
        &http,
        &format!("{NS}/secrets"),
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-creds"}, "data": {"p": "eA=="}}),
    )
    .await;
    wait_pod(&http, "mnt", "pod Ready after the Secret exists", ready).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_from_missing_objects_and_keys_is_a_config_error() {
    let sim = start().await;
    let http = Http::new(&sim);
    create(
        &http,
        &format!("{NS}/secrets"),
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"other": "eA=="}}),
    )
    .await;
    create(
        &http,
        DEPLOYS,
        &deployment(
            "key",
            json!({"containers": [{"name": "c", "image": "busybox",
                "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "s", "key": "password"}}},
                    {"name": "O", "valueFrom": {"configMapKeyRef": {"name": "none", "key": "k", "optional": true}}}]}]}),
        ),
    )
    .await;
    create(
        &http,
        DEPLOYS,
        &deployment(
            "from",
            json!({"containers": [{"name": "c", "image": "busybox",
                "envFrom": [{"configMapRef": {"name": "settings"}}]}]}),
        ),
    )
    .await;
    let p = wait_pod(&http, "key", "config error", |p| {
        waiting(p).0 == "CreateContainerConfigError"
    })
    .await;
    assert_eq!(
        waiting(&p).1,
        "couldn't find key password in Secret default/s"
    );
    assert_eq!(p["status"]["phase"], "Pending");
    let p = wait_pod(&http, "from", "config error", |p| {
        waiting(p).0 == "CreateContainerConfigError"
    })
    .await;
    assert_eq!(waiting(&p).1, "configmap \"settings\" not found");
    event(&http, "Failed", "Error: configmap \"settings\" not found").await;
    // The key and the ConfigMap appear: both pods start.
    let (code, body) = http
        .send(
            "PATCH",
            &format!("{NS}/secrets/s"),
            "application/merge-patch+json",
            br#"{"data":{"password":"eA=="}}"#.to_vec(),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    create(
        &http,
        &format!("{NS}/configmaps"),
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}}),
    )
    .await;
    wait_pod(&http, "key", "pod Ready after the key exists", ready).await;
    wait_pod(&http, "from", "pod Ready after the ConfigMap exists", ready).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_sees_the_forbidden_pod_and_the_stalled_one() {
    let sim = start().await;
    let Some(k) = Kubectl::new(&sim) else { return };
    let pod = |name: &str, spec: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n{spec}")
    };
    let err = k
        .fails_stdin(
            &["create", "-f", "-"],
            &pod(
                "nosa",
                "  serviceAccountName: robot\n  containers: [{name: c, image: busybox}]\n",
            ),
        )
        .await;
    assert!(
        err.contains("Error from server (Forbidden)")
            && err.contains("pods \"nosa\" is forbidden: error looking up service account default/robot: serviceaccount \"robot\" not found"),
        "{err}"
    );
    k.ok_stdin(
        &["apply", "-f", "-"],
        &pod(
            "nocm",
            "  containers: [{name: c, image: busybox, envFrom: [{configMapRef: {name: cfg}}]}]\n",
        ),
    )
    .await;
    let http = Http::new(&sim);
    eventually("kubectl shows CreateContainerConfigError", || async {
        let out = k.ok(&["get", "pod", "nocm"]).await;
        let _ = &http;
        out.contains("CreateContainerConfigError").then_some(())
    })
    .await;
    // `kubectl wait` times out as on a real cluster.
    let o = k
        .run(&["wait", "--for=condition=Ready", "pod/nocm", "--timeout=2s"])
        .await;
    assert_ne!(o.code, 0, "{}", o.stdout);
    assert!(o.stderr.contains("timed out"), "{}", o.stderr);
}
