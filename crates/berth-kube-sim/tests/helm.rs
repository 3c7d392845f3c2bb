//! Real Helm v4 (helm-python-sdk, BERTH_TEST_HELM_PYTHON) installs, upgrades and uninstalls a
//! chart into the simulator, waiting with kstatus (`wait="watcher"`). The `secret` storage
//! driver sends release Secrets (and DeleteOptions) as protobuf, which the simulator decodes;
//! the `memory` driver is exercised too.

mod common;
use common::{Http, start, tool};
use std::path::Path;

const CHART: &[(&str, &str)] = &[
    ("Chart.yaml", "apiVersion: v2\nname: shop\nversion: 0.1.0\n"),
    ("values.yaml", "replicas: 2\nimage: nginx:1.27\n"),
    (
        "templates/all.yaml",
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  labels: {app: web}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: web, release: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: web, release: {{ .Release.Name }}}}
    spec:
      containers:
      - name: app
        image: {{ .Values.image }}
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: {{ .Release.Name }}-web}
spec:
  selector: {app: web, release: {{ .Release.Name }}}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: {{ .Release.Name }}-cfg}
data: {replicas: "{{ .Values.replicas }}"}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: {{ .Release.Name }}-db}
spec:
  serviceName: {{ .Release.Name }}-db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "postgres:16"}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations: {"helm.sh/hook": "post-install,post-upgrade", "helm.sh/hook-delete-policy": before-hook-creation}
spec:
  template:
    spec: {restartPolicy: Never, containers: [{name: m, image: "migrate:1"}]}
"#,
    ),
];

const SCRIPT: &str = r#"
import json, sys, helm_python as h
kc, driver, chart = sys.argv[1], sys.argv[2], sys.argv[3]
steps = sys.argv[4:]
cfg = h.Config(kubeconfig_path=kc, storage_driver=driver, namespace="default")
for step in steps:
    if step == "install":
        r = cfg.install(chart, "demo", {"replicas": 2}, wait="watcher", timeout=60)
    elif step == "upgrade":
        r = cfg.upgrade(chart, "demo", {"replicas": 3}, wait="watcher", timeout=60)
    elif step == "uninstall":
        r = cfg.uninstall("demo", wait="watcher", timeout=60)
        r = r.get("release", r)
    print(json.dumps({"step": step, "status": r["status"], "revision": r["revision"]}))
"#;

fn write_chart(dir: &Path) {
    for (name, text) in CHART {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

async fn helm(
    py: &Path,
    kc: &Path,
    driver: &str,
    chart: &Path,
    steps: &[&str],
) -> Vec<serde_json::Value> {
    let out = tokio::process::Command::new(py)
        .arg("-c")
        .arg(SCRIPT)
        .arg(kc)
        .arg(driver)
        .arg(chart)
        .args(steps)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "helm {steps:?} ({driver}) failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_upgrade_uninstall_secret_storage() {
    let Some(py) = tool("BERTH_TEST_HELM_PYTHON") else {
        return;
    };
    let sim = start().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let chart = dir.path().join("chart");
    write_chart(&chart);
    let http = Http::new(&sim);

    let r = helm(&py, &kc, "secret", &chart, &["install"]).await;
    assert_eq!(r[0]["status"], "deployed");
    // The release record arrived as a protobuf Secret and was decoded.
    let (code, s) = http
        .get("/api/v1/namespaces/default/secrets/sh.helm.release.v1.demo.v1")
        .await;
    assert_eq!(code, 200, "{s}");
    assert_eq!(s["type"], "helm.sh/release.v1");
    assert_eq!(s["metadata"]["labels"]["owner"], "helm");
    assert!(s["data"]["release"].as_str().is_some_and(|d| d.len() > 100));
    let (_, d) = http
        .get("/apis/apps/v1/namespaces/default/deployments/demo-web")
        .await;
    assert_eq!(
        d["status"]["readyReplicas"], 2,
        "watcher wait returned before ready: {d}"
    );
    let (_, pvc) = http
        .get("/api/v1/namespaces/default/persistentvolumeclaims/data-demo-db-0")
        .await;
    assert_eq!(pvc["status"]["phase"], "Bound");
    let (_, job) = http
        .get("/apis/batch/v1/namespaces/default/jobs/demo-migrate")
        .await;
    assert!(
        job["status"]["succeeded"] == 1,
        "post-install hook job ran: {job}"
    );

    let r = helm(&py, &kc, "secret", &chart, &["upgrade"]).await;
    assert_eq!(r[0]["revision"], 2);
    let (_, d) = http
        .get("/apis/apps/v1/namespaces/default/deployments/demo-web")
        .await;
    assert_eq!(d["status"]["readyReplicas"], 3);
    let (_, cm) = http
        .get("/api/v1/namespaces/default/configmaps/demo-cfg")
        .await;
    assert_eq!(cm["data"]["replicas"], "3");
    let (code, _) = http
        .get("/api/v1/namespaces/default/secrets/sh.helm.release.v1.demo.v2")
        .await;
    assert_eq!(code, 200);

    let r = helm(&py, &kc, "secret", &chart, &["uninstall"]).await;
    assert_eq!(r[0]["status"], "uninstalled");
    let (code, _) = http
        .get("/apis/apps/v1/namespaces/default/deployments/demo-web")
        .await;
    assert_eq!(code, 404);
    let (_, l) = http
        .get("/api/v1/namespaces/default/secrets?labelSelector=owner%3Dhelm")
        .await;
    assert_eq!(
        l["items"].as_array().unwrap().len(),
        0,
        "release secrets purged (protobuf DeleteOptions)"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_memory_storage() {
    let Some(py) = tool("BERTH_TEST_HELM_PYTHON") else {
        return;
    };
    let sim = start().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let chart = dir.path().join("chart");
    write_chart(&chart);
    let r = helm(
        &py,
        &kc,
        "memory",
        &chart,
        &["install", "upgrade", "uninstall"],
    )
    .await;
    let statuses: Vec<&str> = r.iter().map(|x| x["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["deployed", "deployed", "uninstalled"]);
    let http = Http::new(&sim);
    let (code, _) = http
        .get("/api/v1/namespaces/default/services/demo-web")
        .await;
    assert_eq!(code, 404);
    sim.shutdown().await;
}

const STALL_SCRIPT: &str = r#"
import json, sys, helm_python as h
kc, chart = sys.argv[1], sys.argv[2]
cfg = h.Config(kubeconfig_path=kc, storage_driver="memory", namespace="default")
try:
    r = cfg.install(chart, "demo", {}, wait="watcher", timeout=8)
    print(json.dumps({"ok": True}))
except Exception as e:
    print(json.dumps({"ok": False, "error": str(e)}))
"#;

async fn helm_install_outcome(
    py: &Path,
    files: &[(&str, &str)],
    profile: berth_kube_sim::Profile,
) -> serde_json::Value {
    let sim = common::start_with(profile).await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let chart = dir.path().join("chart");
    for (name, text) in files {
        let p = chart.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let out = tokio::process::Command::new(py)
        .arg("-c")
        .arg(STALL_SCRIPT)
        .arg(&kc)
        .arg(&chart)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|_| {
        panic!(
            "helm script output:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Real Helm v4 waiting with kstatus: a Deployment whose pods take env from a missing Secret
/// never becomes ready, so the install times out (as on a real cluster), and a post-install
/// hook Job the profile fails makes the install fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_waits_time_out_on_missing_references_and_hooks_fail_by_profile() {
    let Some(py) = tool("BERTH_TEST_HELM_PYTHON") else {
        return;
    };
    let chart = "apiVersion: v2\nname: stall\nversion: 0.1.0\n";
    let web = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: demo-web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        envFrom: [{secretRef: {name: demo-db-credentials}}]
"#;
    let r = helm_install_outcome(
        &py,
        &[("Chart.yaml", chart), ("templates/web.yaml", web)],
        berth_kube_sim::Profile::default(),
    )
    .await;
    assert_eq!(r["ok"], false, "install must not succeed: {r}");
    eprintln!("helm (missing secret): {}", r["error"]);
    assert!(
        r["error"]
            .as_str()
            .is_some_and(|e| e.contains("Deployment/default/demo-web not ready")),
        "{r}"
    );
    let hook = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: demo-migrate
  annotations: {"helm.sh/hook": post-install}
spec:
  backoffLimit: 0
  template:
    spec: {restartPolicy: Never, containers: [{name: m, image: "migrate:1"}]}
"#;
    let files = [("Chart.yaml", chart), ("templates/hook.yaml", hook)];
    let ok = helm_install_outcome(&py, &files, berth_kube_sim::Profile::default()).await;
    assert_eq!(ok["ok"], true, "the hook succeeds by default: {ok}");
    let failing = berth_kube_sim::Profile::from_yaml_str(
        "faults: {failJobs: [\"demo-*\"], jobRunFor: 200ms}\n",
    )
    .expect("profile");
    let r = helm_install_outcome(&py, &files, failing).await;
    assert_eq!(r["ok"], false, "a failing hook fails the install: {r}");
    eprintln!("helm (failing hook): {}", r["error"]);
    assert!(
        r["error"]
            .as_str()
            .is_some_and(|e| e.contains("demo-migrate")),
        "{r}"
    );
}

/// Helm v4 installs with server-side apply: a chart with a misspelled field (`spec.replica`)
/// fails as on a real cluster, naming the field; the corrected chart installs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_refuses_undeclared_fields() {
    let Some(py) = tool("BERTH_TEST_HELM_PYTHON") else {
        return;
    };
    let sim = start().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let chart = dir.path().join("chart");
    write_chart(&chart);
    let all = chart.join("templates/all.yaml");
    let good = std::fs::read_to_string(&all).unwrap();
    let bad = good.replacen("  replicas: {{ .Values.replicas }}", "  replica: 2", 1);
    assert_ne!(good, bad);
    std::fs::write(&all, &bad).unwrap();
    let out = tokio::process::Command::new(&py)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&kc)
        .arg("memory")
        .arg(&chart)
        .arg("install")
        .output()
        .await
        .expect("python runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "install of a misspelled chart passed"
    );
    assert!(
        stderr.contains(".spec.replica: field not declared in schema"),
        "{stderr}"
    );
    let http = Http::new(&sim);
    let (code, _) = http
        .get("/apis/apps/v1/namespaces/default/deployments/demo-web")
        .await;
    assert_eq!(code, 404, "nothing half-applied for the refused Deployment");
    std::fs::write(&all, &good).unwrap();
    let r = helm(&py, &kc, "memory", &chart, &["install"]).await;
    assert_eq!(r[0]["status"], "deployed");
    sim.shutdown().await;
}
