//! The `registryImages` collector and analyzer against a real registry (Debian's
//! docker-registry with htpasswd auth) and the namespace's pull secrets in the simulator:
//! an existing tag, a missing tag and a wrong credential; and spec checking of collectors
//! berth does not run.

use base64::Engine as _;
use berth_kube_sim::{SimOptions, Simulator};
use berth_oci::transfer::{self, NoProgress, PushItem};
use berth_troubleshoot::analyze::{Outcome, analyze_all};
use berth_troubleshoot::bundle::BundleReader;
use berth_troubleshoot::run::{self, CollectOptions, RunOptions, Status};
use berth_troubleshoot::spec::Specs;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const USER: &str = "puller";
const PASSWORD: &str = "pull-Pa55";

struct Registry(Child);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// docker-registry on plain HTTP with htpasswd auth.
fn start_registry(dir: &std::path::Path) -> (Registry, u16) {
    let bin = std::env::var_os("BERTH_TEST_DOCKER_REGISTRY")
        .filter(|v| !v.is_empty())
        .expect("BERTH_TEST_DOCKER_REGISTRY is not set: run scripts/test.sh, which installs docker-registry");
    let port = free_port();
    let ht = dir.join("htpasswd");
    std::fs::write(
        &ht,
        format!("{USER}:{}\n", bcrypt::hash(PASSWORD, 5).unwrap()),
    )
    .unwrap();
    let cfg = format!(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
        dir.join("data").display(),
        ht.display()
    );
    let cfg_path = dir.join("config.yml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let child = Command::new(bin)
        .arg("serve")
        .arg(&cfg_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start docker-registry");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "docker-registry did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (Registry(child), port)
}

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

fn dockerconfig(entries: &[(&str, &str, &str)]) -> String {
    let mut auths = serde_json::Map::new();
    for (host, u, p) in entries {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        auths.insert(host.to_string(), json!({ "auth": auth }));
    }
    base64::engine::general_purpose::STANDARD.encode(json!({ "auths": auths }).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_images_checks_tags_with_the_namespace_pull_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (_reg, port) = start_registry(dir.path());
    let good = format!("127.0.0.1:{port}");
    // The same registry under another name, for which the pull secret holds a wrong password.
    let wrong = format!("localhost:{port}");

    // Push one image with berth's client.
    let layout = berth_oci::Layout::create(dir.path().join("src")).unwrap();
    let layer = berth_oci::generate::random_layer(7, 2_000).unwrap();
    let platform = berth_oci::model::Platform::parse("linux/amd64").unwrap();
    let img = berth_oci::generate::write_image(&layout, &[layer], &platform).unwrap();
    let client = berth_oci::Client::new(berth_oci::ClientConfig {
        insecure: true,
        credentials: Some(berth_oci::auth::Credentials {
            username: USER.into(),
            password: PASSWORD.into(),
        }),
        docker_config: Some(dir.path().join("none.json")),
        ..Default::default()
    })
    .unwrap();
    let item = PushItem {
        descriptor: img,
        target: berth_oci::Reference::parse(&format!("{good}/acme/app:1.0")).unwrap(),
    };
    transfer::push_images(&client, &layout, &[item], &NoProgress)
        .await
        .unwrap();

    let sim = Simulator::start(SimOptions::default())
        .await
        .expect("simulator");
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let kube = run::kube_client(Some(&kc), None).await.expect("client");
    post(
        &kube,
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "acme"}}),
    )
    .await;
    post(
        &kube,
        "/api/v1/namespaces/acme/secrets",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred"},
               "type": "kubernetes.io/dockerconfigjson",
               "data": {".dockerconfigjson": dockerconfig(&[(&good, USER, PASSWORD), (&wrong, USER, "not-it")])}}),
    )
    .await;

    let spec = format!(
        r#"apiVersion: troubleshoot.sh/v1beta2
kind: SupportBundle
spec:
  collectors:
    - registryImages:
        namespace: acme
        images: ["{good}/acme/app:1.0", "{good}/acme/app:missing", "{wrong}/acme/app:1.0"]
    - registryImages:
        collectorName: named
        namespace: acme
        imagePullSecret: {{name: regcred}}
        images: ["{good}/acme/app:1.0"]
    - registryImages:
        collectorName: anonymous
        namespace: nowhere
        images: ["{good}/acme/app:1.0"]
  analyzers:
    - registryImages:
        outcomes:
          - fail: {{when: "missing > 0", message: "an image is missing"}}
          - fail: {{when: "errors > 0", message: "an image could not be checked"}}
          - pass: {{message: "all images found"}}
    - registryImages:
        collectorName: named
        outcomes:
          - fail: {{when: "verified < 1", message: "not verified"}}
          - pass: {{message: "named secret works"}}
"#
    );
    let mut specs = Specs::default();
    specs.add_text("sb.yaml", &spec);
    assert!(!specs.has_errors(), "{:?}", specs.problems);
    let merged = specs.merge_support_bundle();
    let collected = run::collect_bundle(
        &merged,
        CollectOptions {
            run: RunOptions::default(),
            redact: true,
            tokenize: false,
            kube: Some(kube.clone()),
            kube_error: None,
            work_dir: dir.path().to_path_buf(),
            name: "support-bundle-test".into(),
            version: "test".into(),
        },
    )
    .await
    .unwrap();
    for c in collected
        .report
        .collectors
        .iter()
        .filter(|c| c.kind == "registryImages")
    {
        assert_eq!(c.status, Status::Ok, "{c:?}");
    }
    let b = collected.writer.reader().unwrap();
    let v: Value = serde_json::from_slice(&b.read("registry/images.json").unwrap()).unwrap();
    eprintln!("{v:#}");
    let img = |r: String| v["images"][r].clone();
    assert_eq!(img(format!("{good}/acme/app:1.0")), json!({"exists": true}));
    assert_eq!(
        img(format!("{good}/acme/app:missing")),
        json!({"exists": false})
    );
    let w = img(format!("{wrong}/acme/app:1.0"));
    assert_eq!(w["exists"], false);
    let e = w["error"].as_str().unwrap_or_default();
    assert!(e.contains("authentication") || e.contains("401"), "{w}");
    assert!(
        !e.contains("not-it"),
        "the password leaked into the bundle: {e}"
    );
    let named: Value = serde_json::from_slice(&b.read("registry/named.json").unwrap()).unwrap();
    assert_eq!(
        named["images"][format!("{good}/acme/app:1.0")],
        json!({"exists": true})
    );
    // Without any pull secret the registry refuses: an error, not "missing".
    let anon: Value = serde_json::from_slice(&b.read("registry/anonymous.json").unwrap()).unwrap();
    assert!(
        anon["images"][format!("{good}/acme/app:1.0")]["error"].is_string(),
        "{anon}"
    );

    let results = analyze_all(&merged.analyzers, &merged.host_analyzers, &b);
    let row = |title: &str| {
        results
            .iter()
            .find(|r| r.message == title)
            .unwrap_or_else(|| panic!("no row {title}: {results:#?}"))
    };
    assert_eq!(row("an image is missing").outcome, Outcome::Fail);
    assert_eq!(row("named secret works").outcome, Outcome::Pass);
    sim.shutdown().await;
}

/// Collectors berth does not run are flagged when the spec is read, not reported as run.
#[test]
fn spec_checking_flags_cluster_collectors_berth_does_not_run() {
    let mut specs = Specs::default();
    specs.add_text(
        "sb.yaml",
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec:\n  collectors:\n    - exec: {name: ps, namespace: x, command: [ps]}\n    - copy: {namespace: x, containerPath: /etc}\n    - sysctl: {}\n    - dns: {}\n    - registryImages: {images: [a/b:1]}\n",
    );
    let msgs: Vec<String> = specs.problems.iter().map(|p| p.message.clone()).collect();
    for k in ["exec", "copy", "sysctl", "dns"] {
        assert!(
            msgs.iter()
                .any(|m| m.contains(&format!("`{k}`")) && m.contains("not run")),
            "{k} not flagged: {msgs:?}"
        );
    }
    assert!(
        !msgs.iter().any(|m| m.contains("`registryImages`")),
        "{msgs:?}"
    );
}
