//! Each injected fault, as the deploy engine's diagnosis sees it: Pod status (waiting
//! reasons, restartCount, lastState), Events and logs. Plus the registry check against a
//! real registry (Debian's docker-registry, BERTH_TEST_DOCKER_REGISTRY).

#![allow(clippy::field_reassign_with_default)]

mod common;
use berth_kube_sim::{Profile, SimOptions, Simulator, profile::RegistryProfile};
use common::{Http, eventually, start, start_with, tool};
use serde_json::{Value, json};

fn deployment(name: &str, annotations: Value, image: &str, extra_spec: Value) -> Value {
    let mut spec = json!({"containers": [{"name": "app", "image": image}]});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra_spec.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}})
}

async fn create(http: &Http, path: &str, obj: &Value) {
    let (code, body) = http.post(path, obj).await;
    assert_eq!(code, 201, "create {path}: {body}");
}

async fn pod_of(http: &Http, app: &str) -> Value {
    eventually(&format!("a pod for {app}"), || async {
        let (_, l) = http
            .get(&format!(
                "/api/v1/namespaces/default/pods?labelSelector=app%3D{app}"
            ))
            .await;
        l["items"].as_array().and_then(|a| a.first().cloned())
    })
    .await
}

async fn events_for(http: &Http, name: &str) -> Vec<Value> {
    let (_, l) = http
        .get(&format!(
            "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D{name}"
        ))
        .await;
    l["items"].as_array().cloned().unwrap_or_default()
}

async fn wait_event(http: &Http, name: &str, reason: &str) -> Value {
    eventually(&format!("event {reason} for {name}"), || async {
        events_for(http, name)
            .await
            .into_iter()
            .find(|e| e["reason"] == reason)
    })
    .await
}

async fn wait_pod<F: Fn(&Value) -> bool>(http: &Http, app: &str, what: &str, f: F) -> Value {
    eventually(what, || async {
        let p = pod_of(http, app).await;
        f(&p).then_some(p)
    })
    .await
}

const DEPLOYS: &str = "/apis/apps/v1/namespaces/default/deployments";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_pull_failure() {
    let sim = start().await;
    let http = Http::new(&sim);
    create(
        &http,
        DEPLOYS,
        &deployment(
            "pull",
            json!({"sim.berth.dev/fail": "image-pull"}),
            "registry.example.com/shop/api:1.4",
            json!({}),
        ),
    )
    .await;
    let p = wait_pod(&http, "pull", "ErrImagePull", |p| {
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImagePull"
    })
    .await;
    let msg = p["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
        .as_str()
        .unwrap();
    assert!(
        msg.contains("failed to pull and unpack image \"registry.example.com/shop/api:1.4\"")
            && msg.ends_with("not found"),
        "{msg}"
    );
    assert_eq!(p["status"]["phase"], "Pending");
    wait_pod(&http, "pull", "ImagePullBackOff", |p| {
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff"
    })
    .await;
    let name = p["metadata"]["name"].as_str().unwrap();
    let failed = wait_event(&http, name, "Failed").await;
    assert_eq!(failed["type"], "Warning");
    assert_eq!(failed["involvedObject"]["kind"], "Pod");
    assert!(
        events_for(&http, name)
            .await
            .iter()
            .any(|e| e["message"] == "Error: ErrImagePull")
    );
    wait_event(&http, name, "BackOff").await;
    let (code, body) = http
        .get(&format!("/api/v1/namespaces/default/pods/{name}/log"))
        .await;
    assert_eq!(code, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("is waiting to start: trying and failing to pull image"),
        "{body}"
    );
    // The Deployment never becomes available.
    let (_, d) = http.get(&format!("{DEPLOYS}/pull")).await;
    assert!(d["status"]["availableReplicas"].is_null(), "{d}");
    // With a short progress deadline the rollout is reported failed, as kstatus expects.
    create(
        &http,
        DEPLOYS,
        &deployment(
            "stuck",
            json!({"sim.berth.dev/fail": "image-pull"}),
            "x:1",
            json!({}),
        ),
    )
    .await;
    let (code, _) = http
        .send(
            "PATCH",
            &format!("{DEPLOYS}/stuck"),
            "application/merge-patch+json",
            br#"{"spec":{"progressDeadlineSeconds":1}}"#.to_vec(),
        )
        .await;
    assert_eq!(code, 200);
    let c = eventually("ProgressDeadlineExceeded", || async {
        let (_, d) = http.get(&format!("{DEPLOYS}/stuck")).await;
        d["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded")
            .cloned()
    })
    .await;
    assert_eq!(c["status"], "False");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashloop_with_logs() {
    let sim = start().await;
    let http = Http::new(&sim);
    let d = deployment(
        "crash",
        json!({"sim.berth.dev/fail": "crashloop", "sim.berth.dev/log": "booting\npanic: config file /etc/app.yaml missing", "sim.berth.dev/exit-code": "2"}),
        "shop/api:1",
        json!({}),
    );
    create(&http, DEPLOYS, &d).await;
    let p = wait_pod(&http, "crash", "CrashLoopBackOff", |p| {
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    })
    .await;
    let cs = &p["status"]["containerStatuses"][0];
    assert!(cs["restartCount"].as_i64().unwrap() >= 1, "{cs}");
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 2);
    assert_eq!(cs["lastState"]["terminated"]["reason"], "Error");
    assert!(
        cs["state"]["waiting"]["message"]
            .as_str()
            .unwrap()
            .starts_with("back-off "),
        "{cs}"
    );
    let name = p["metadata"]["name"].as_str().unwrap();
    let ev = wait_event(&http, name, "BackOff").await;
    assert!(
        ev["message"]
            .as_str()
            .unwrap()
            .starts_with("Back-off restarting failed container app in pod"),
        "{ev}"
    );
    let (code, body) = http
        .get(&format!(
            "/api/v1/namespaces/default/pods/{name}/log?previous=true"
        ))
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        body.as_str().unwrap(),
        "booting\npanic: config file /etc/app.yaml missing\n"
    );
    let (_, tail) = http
        .get(&format!(
            "/api/v1/namespaces/default/pods/{name}/log?previous=true&tailLines=1"
        ))
        .await;
    assert_eq!(
        tail.as_str().unwrap(),
        "panic: config file /etc/app.yaml missing\n"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_and_ready_after() {
    let sim = start().await;
    let http = Http::new(&sim);
    let probe = json!({"containers": [{"name": "app", "image": "shop/api:1", "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}]});
    create(
        &http,
        DEPLOYS,
        &deployment(
            "unready",
            json!({"sim.berth.dev/fail": "readiness"}),
            "x",
            probe,
        ),
    )
    .await;
    let p = wait_pod(&http, "unready", "running but unready", |p| {
        p["status"]["phase"] == "Running"
    })
    .await;
    assert_eq!(p["status"]["containerStatuses"][0]["ready"], false);
    let ready = p["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "ContainersNotReady");
    let ev = wait_event(&http, p["metadata"]["name"].as_str().unwrap(), "Unhealthy").await;
    assert_eq!(
        ev["message"],
        "Readiness probe failed: HTTP probe failed with statuscode: 503"
    );

    create(
        &http,
        DEPLOYS,
        &deployment(
            "slow",
            json!({"sim.berth.dev/ready-after": "2s"}),
            "shop/api:1",
            json!({}),
        ),
    )
    .await;
    let p = wait_pod(&http, "slow", "running", |p| {
        p["status"]["phase"] == "Running"
    })
    .await;
    assert_eq!(
        p["status"]["containerStatuses"][0]["ready"], false,
        "ready before its delay"
    );
    wait_pod(&http, "slow", "ready after the delay", |p| {
        p["status"]["containerStatuses"][0]["ready"] == true
    })
    .await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_failure_and_success() {
    let sim = start().await;
    let http = Http::new(&sim);
    let job = |name: &str, ann: Value| {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "annotations": ann},
            "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "migrate:1"}]}}}})
    };
    create(
        &http,
        "/apis/batch/v1/namespaces/default/jobs",
        &job("bad", json!({"sim.berth.dev/fail": "job-failed"})),
    )
    .await;
    create(
        &http,
        "/apis/batch/v1/namespaces/default/jobs",
        &job("good", json!({})),
    )
    .await;
    let bad = eventually("job failed", || async {
        let (_, j) = http.get("/apis/batch/v1/namespaces/default/jobs/bad").await;
        j["status"]["conditions"]
            .as_array()?
            .iter()
            .any(|c| c["type"] == "Failed" && c["status"] == "True")
            .then_some(j)
    })
    .await;
    let c = bad["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Failed")
        .unwrap()
        .clone();
    assert_eq!(c["reason"], "BackoffLimitExceeded");
    assert_eq!(
        bad["status"]["failed"], 2,
        "backoffLimit 1 = two failed pods"
    );
    wait_event(&http, "bad", "BackoffLimitExceeded").await;
    let good = eventually("job complete", || async {
        let (_, j) = http
            .get("/apis/batch/v1/namespaces/default/jobs/good")
            .await;
        (j["status"]["succeeded"] == 1).then_some(j)
    })
    .await;
    let types: Vec<&str> = good["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["SuccessCriteriaMet", "Complete"]);
    assert!(good["status"]["completionTime"].is_string());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unschedulable_and_insufficient_resources() {
    let sim = start().await;
    let http = Http::new(&sim);
    // Requests beyond node allocatable (4 CPU, 8Gi) stay Pending with FailedScheduling.
    let big = json!({"containers": [{"name": "app", "image": "x:1", "resources": {"requests": {"cpu": "3", "memory": "10Gi"}}}]});
    create(&http, DEPLOYS, &deployment("big", json!({}), "x", big)).await;
    let p = wait_pod(&http, "big", "unschedulable", |p| {
        p["status"]["conditions"][0]["reason"] == "Unschedulable"
    })
    .await;
    assert_eq!(p["status"]["phase"], "Pending");
    let ev = wait_event(
        &http,
        p["metadata"]["name"].as_str().unwrap(),
        "FailedScheduling",
    )
    .await;
    assert_eq!(
        ev["message"],
        "0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    );
    // Allocatable minus requests: 3 CPU used leaves room for 1, not 2.
    let fits = json!({"containers": [{"name": "app", "image": "x:1", "resources": {"requests": {"cpu": "3"}}}]});
    create(&http, DEPLOYS, &deployment("fits", json!({}), "x", fits)).await;
    wait_pod(&http, "fits", "scheduled", |p| {
        p["spec"]["nodeName"] == "berth-sim-node"
    })
    .await;
    let more = json!({"containers": [{"name": "app", "image": "x:1", "resources": {"requests": {"cpu": "2"}}}]});
    create(&http, DEPLOYS, &deployment("more", json!({}), "x", more)).await;
    let p = wait_pod(&http, "more", "no cpu left", |p| {
        p["status"]["conditions"][0]["reason"] == "Unschedulable"
    })
    .await;
    assert!(
        p["status"]["conditions"][0]["message"]
            .as_str()
            .unwrap()
            .contains("1 Insufficient cpu")
    );
    // The annotation forces it.
    create(
        &http,
        DEPLOYS,
        &deployment(
            "forced",
            json!({"sim.berth.dev/fail": "unschedulable"}),
            "x:1",
            json!({}),
        ),
    )
    .await;
    wait_pod(&http, "forced", "forced unschedulable", |p| {
        p["status"]["conditions"][0]["reason"] == "Unschedulable"
    })
    .await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pvc_pending_and_node_not_ready_and_api_errors() {
    let sim = start().await;
    let http = Http::new(&sim);
    let pvc = |name: &str, ann: Value| json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "annotations": ann}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    create(
        &http,
        "/api/v1/namespaces/default/persistentvolumeclaims",
        &pvc("stuck", json!({"sim.berth.dev/fail": "pvc-pending"})),
    )
    .await;
    create(
        &http,
        "/api/v1/namespaces/default/persistentvolumeclaims",
        &pvc("ok", json!({})),
    )
    .await;
    let ev = wait_event(&http, "stuck", "ExternalProvisioning").await;
    assert!(
        ev["message"]
            .as_str()
            .unwrap()
            .contains("Waiting for a volume to be created")
    );
    let ok = eventually("pvc bound", || async {
        let (_, p) = http
            .get("/api/v1/namespaces/default/persistentvolumeclaims/ok")
            .await;
        (p["status"]["phase"] == "Bound").then_some(p)
    })
    .await;
    assert_eq!(ok["status"]["capacity"]["storage"], "1Gi");
    let (_, stuck) = http
        .get("/api/v1/namespaces/default/persistentvolumeclaims/stuck")
        .await;
    assert_eq!(stuck["status"]["phase"], "Pending");
    // A pod using the stuck claim cannot be scheduled.
    let uses = json!({"containers": [{"name": "app", "image": "x:1"}], "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "stuck"}}]});
    create(&http, DEPLOYS, &deployment("db", json!({}), "x", uses)).await;
    let p = wait_pod(&http, "db", "unbound pvc", |p| {
        p["status"]["conditions"][0]["reason"] == "Unschedulable"
    })
    .await;
    assert!(
        p["status"]["conditions"][0]["message"]
            .as_str()
            .unwrap()
            .contains("pod has unbound immediate PersistentVolumeClaims")
    );
    sim.shutdown().await;

    // Node NotReady (profile): nothing schedules, the node says NotReady.
    let mut prof = Profile::default();
    prof.nodes[0].ready = false;
    let sim = start_with(prof).await;
    let http = Http::new(&sim);
    let (_, n) = http.get("/api/v1/nodes/berth-sim-node").await;
    let ready = n["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["status"], "Unknown");
    create(
        &http,
        DEPLOYS,
        &deployment("web", json!({}), "x:1", json!({})),
    )
    .await;
    let p = wait_pod(&http, "web", "pending on NotReady node", |p| {
        p["status"]["conditions"][0]["reason"] == "Unschedulable"
    })
    .await;
    assert!(
        p["status"]["conditions"][0]["message"]
            .as_str()
            .unwrap()
            .contains("untolerated taint {node.kubernetes.io/not-ready: }"),
        "{p}"
    );
    sim.shutdown().await;

    // API errors at a chosen rate (1.0 here): resource calls fail, discovery does not.
    let mut prof = Profile::default();
    prof.faults.api_error_rate = 1.0;
    prof.faults.api_error_code = 429;
    let sim = start_with(prof).await;
    let http = Http::new(&sim);
    let (code, body) = http.get("/api/v1/namespaces/default/configmaps").await;
    assert_eq!(code, 429);
    assert_eq!(body["reason"], "TooManyRequests");
    let (code, _) = http.get("/apis").await;
    assert_eq!(code, 200);
    sim.shutdown().await;
}

/// Push a one-layer image with the distribution API.
async fn push_image(
    client: &reqwest::Client,
    host: &str,
    repo: &str,
    tag: &str,
    auth: Option<(&str, &str)>,
) {
    use sha2::Digest;
    let with_auth = |r: reqwest::RequestBuilder| match auth {
        Some((u, p)) => r.basic_auth(u, Some(p)),
        None => r,
    };
    let mut descs = Vec::new();
    for (mt, blob) in [
        (
            "application/vnd.oci.image.config.v1+json",
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
                .to_vec(),
        ),
        (
            "application/vnd.oci.image.layer.v1.tar+gzip",
            b"not really a tarball".to_vec(),
        ),
    ] {
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&blob)));
        let r = with_auth(client.post(format!("http://{host}/v2/{repo}/blobs/uploads/")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "start upload");
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        let loc = if loc.starts_with("http") {
            loc
        } else {
            format!("http://{host}{loc}")
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let r = with_auth(
            client
                .put(format!("{loc}{sep}digest={digest}"))
                .body(blob.clone()),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 201, "finish upload");
        descs.push(json!({"mediaType": mt, "digest": digest, "size": blob.len()}));
    }
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": descs[0], "layers": [descs[1]]});
    let r = with_auth(
        client
            .put(format!("http://{host}/v2/{repo}/manifests/{tag}"))
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            .body(manifest.to_string()),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201, "put manifest");
}

struct Registry {
    child: std::process::Child,
    host: String,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_registry(bin: &std::path::Path, htpasswd: Option<&str>) -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cfg = format!(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
        dir.path().join("data").display()
    );
    if let Some(line) = htpasswd {
        let p = dir.path().join("htpasswd");
        std::fs::write(&p, line).unwrap();
        cfg.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: sim-test\n    path: {}\n",
            p.display()
        ));
    }
    let cfg_path = dir.path().join("config.yml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let child = std::process::Command::new(bin)
        .arg("serve")
        .arg(&cfg_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start docker-registry");
    let host = format!("127.0.0.1:{port}");
    let client = reqwest::Client::new();
    eventually("registry up", || async {
        client
            .get(format!("http://{host}/v2/"))
            .send()
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    Registry {
        child,
        host,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_check_against_real_registry() {
    let Some(bin) = tool("BERTH_TEST_DOCKER_REGISTRY") else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let reg = start_registry(&bin, None).await;
    let client = reqwest::Client::new();
    push_image(&client, &reg.host, "shop/api", "1.0", None).await;
    let mut profile = Profile::default();
    profile.registries = vec![RegistryProfile {
        host: reg.host.clone(),
        insecure: true,
        ..Default::default()
    }];
    let sim = Simulator::start(SimOptions {
        profile,
        registry_check: true,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let http = Http::new(&sim);
    create(
        &http,
        DEPLOYS,
        &deployment(
            "present",
            json!({}),
            &format!("{}/shop/api:1.0", reg.host),
            json!({}),
        ),
    )
    .await;
    create(
        &http,
        DEPLOYS,
        &deployment(
            "absent",
            json!({}),
            &format!("{}/shop/api:2.0", reg.host),
            json!({}),
        ),
    )
    .await;
    wait_pod(&http, "present", "image present, running", |p| {
        p["status"]["containerStatuses"][0]["ready"] == true
    })
    .await;
    let p = wait_pod(&http, "absent", "image absent", |p| {
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImagePull"
    })
    .await;
    let msg = p["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
        .as_str()
        .unwrap();
    assert!(
        msg.contains(&format!("{}/shop/api:2.0: not found", reg.host)),
        "{msg}"
    );
    // Pushing the missing image lets the pod recover on a later retry, as in an air-gapped fix.
    push_image(&client, &reg.host, "shop/api", "2.0", None).await;
    wait_pod(&http, "absent", "recovers after push", |p| {
        p["status"]["containerStatuses"][0]["ready"] == true
    })
    .await;
    sim.shutdown().await;

    // Basic auth: only a pod with the right imagePullSecret can pull.
    let Some(htpasswd) = common::program_on_path("htpasswd") else {
        return;
    };
    let out = std::process::Command::new(htpasswd)
        .args(["-Bbn", "puller", "pull-pass"])
        .output()
        .unwrap();
    let reg = start_registry(&bin, Some(&String::from_utf8_lossy(&out.stdout))).await;
    push_image(
        &client,
        &reg.host,
        "shop/api",
        "1.0",
        Some(("puller", "pull-pass")),
    )
    .await;
    let mut profile = Profile::default();
    profile.registries = vec![RegistryProfile {
        host: reg.host.clone(),
        insecure: true,
        ..Default::default()
    }];
    let sim = Simulator::start(SimOptions {
        profile,
        registry_check: true,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let http = Http::new(&sim);
    use base64::Engine;
    let cfg = json!({"auths": {reg.host.clone(): {"auth": base64::engine::general_purpose::STANDARD.encode("puller:pull-pass")}}});
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred"}, "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64::engine::general_purpose::STANDARD.encode(cfg.to_string())}});
    create(&http, "/api/v1/namespaces/default/secrets", &secret).await;
    let image = format!("{}/shop/api:1.0", reg.host);
    create(
        &http,
        DEPLOYS,
        &deployment(
            "authed",
            json!({}),
            &image,
            json!({"imagePullSecrets": [{"name": "regcred"}]}),
        ),
    )
    .await;
    create(
        &http,
        DEPLOYS,
        &deployment("anon", json!({}), &image, json!({})),
    )
    .await;
    wait_pod(&http, "authed", "pulls with credentials", |p| {
        p["status"]["containerStatuses"][0]["ready"] == true
    })
    .await;
    let p = wait_pod(&http, "anon", "denied without credentials", |p| {
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImagePull"
    })
    .await;
    let msg = p["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
        .as_str()
        .unwrap();
    assert!(
        msg.contains("authorization failed") || msg.contains("pull access denied"),
        "{msg}"
    );
    sim.shutdown().await;
}

/// A plain-HTTP registry that the profile does not mark insecure: the simulated kubelet
/// speaks HTTPS to it and says so (with the fix), instead of "connection refused"; a port
/// where nothing listens still says "connection refused".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_check_https_to_plain_http_registry() {
    let Some(bin) = tool("BERTH_TEST_DOCKER_REGISTRY") else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let reg = start_registry(&bin, None).await;
    let client = reqwest::Client::new();
    push_image(&client, &reg.host, "shop/api", "1.0", None).await;
    let closed = format!("127.0.0.1:{}", free_port());
    let sim = Simulator::start(SimOptions {
        registry_check: true,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let http = Http::new(&sim);
    let image = format!("{}/shop/api:1.0", reg.host);
    create(
        &http,
        DEPLOYS,
        &deployment("plain", json!({}), &image, json!({})),
    )
    .await;
    create(
        &http,
        DEPLOYS,
        &deployment(
            "nothing",
            json!({}),
            &format!("{closed}/shop/api:1.0"),
            json!({}),
        ),
    )
    .await;
    let message = |p: &Value| {
        p["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let p = wait_pod(&http, "plain", "https to a plain-http registry", |p| {
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImagePull"
    })
    .await;
    let msg = message(&p);
    assert!(
        msg.contains("http: server gave HTTP response to HTTPS client"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("host: \"{}\", insecure: true", reg.host)),
        "{msg}"
    );
    assert!(!msg.contains("connection refused"), "{msg}");
    let p = wait_pod(&http, "nothing", "nothing listening", |p| {
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImagePull"
    })
    .await;
    let msg = message(&p);
    assert!(
        msg.contains(&format!("dial tcp {closed}: connect: connection refused")),
        "{msg}"
    );
    sim.shutdown().await;
}
