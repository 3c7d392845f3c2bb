//! Templates see the cluster they are installed into, as with `helm install`: berth and real
//! Helm v4 (`scripts/helm_oracle.py --kubeconfig`, a server-side dry run through
//! `$BERTH_TEST_HELM_PYTHON`) render the same chart against the same simulated 1.30 cluster:
//! its `/version` for `.Capabilities.KubeVersion` and the chart's `kubeVersion`, its
//! discovery for `.Capabilities.APIVersions`, and `lookup` of objects that exist in it.

use berth_kube_sim::{Profile, SimOptions, Simulator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const NS: &str = "live";

fn helm_python() -> Option<String> {
    match std::env::var("BERTH_TEST_HELM_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var("BERTH_TEST_ALLOW_SKIP").as_deref() == Ok("1") => {
            eprintln!("SKIPPED live_templates: BERTH_TEST_HELM_PYTHON is not set");
            None
        }
        _ => panic!(
            "BERTH_TEST_HELM_PYTHON is not set: run scripts/setup.d/10-helm-oracle.sh (or set BERTH_TEST_ALLOW_SKIP=1 to skip)"
        ),
    }
}

fn write_app(root: &Path, name: &str, chart_yaml: &str, template: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("chart/templates")).expect("app dir");
    std::fs::write(
        dir.join("berth.yaml"),
        format!(
            "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  version: 1.0.0\nspec:\n  components:\n    - name: {name}\n      chart:\n        path: chart\n      releaseName: {name}\n"
        ),
    )
    .expect("berth.yaml");
    std::fs::write(dir.join("chart/Chart.yaml"), chart_yaml).expect("Chart.yaml");
    std::fs::write(dir.join("chart/templates/objects.yaml"), template).expect("template");
    dir
}

/// Helm's server-side dry-run install of `chart` as release `name`: its manifest or its error.
fn helm(python: &str, chart: &Path, name: &str, kc: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/helm_oracle.py");
    let out = Command::new(python)
        .arg(script)
        .arg(chart)
        .args(["--name", name, "--namespace", NS, "--kubeconfig"])
        .arg(kc)
        .output()
        .expect("helm_oracle.py runs");
    assert!(
        out.status.success(),
        "helm_oracle.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("oracle JSON")
}

fn berth(args: &[&str], kc: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .args(["--kubeconfig", &kc.display().to_string(), "-n", NS])
        .env("NO_COLOR", "1")
        .output()
        .expect("berth runs")
}

/// The ConfigMaps of a multi-document manifest, by name → data.
fn configmaps(manifest: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for doc in manifest.split("\n---") {
        let Ok(v) = serde_saphyr::from_str::<Value>(doc) else {
            continue;
        };
        if v["kind"] == "ConfigMap" {
            out.push((
                v["metadata"]["name"].as_str().unwrap_or("").to_string(),
                v["data"].clone(),
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

const BRANCHES: &str = r#"{{- $s := lookup "v1" "Secret" .Release.Namespace "existing" }}
{{- $missing := lookup "v1" "Secret" .Release.Namespace "absent" }}
{{- $ns := lookup "v1" "Namespace" "" .Release.Namespace }}
{{- $secrets := lookup "v1" "Secret" .Release.Namespace "" }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: facts
data:
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
  kubeMinor: {{ .Capabilities.KubeVersion.Minor | quote }}
  revision: {{ .Release.Revision | quote }}
  isInstall: {{ .Release.IsInstall | quote }}
  isUpgrade: {{ .Release.IsUpgrade | quote }}
  ingressV1: {{ .Capabilities.APIVersions.Has "networking.k8s.io/v1/Ingress" | quote }}
  ingressGV: {{ .Capabilities.APIVersions.Has "networking.k8s.io/v1" | quote }}
  unserved: {{ .Capabilities.APIVersions.Has "example.com/v1/Widget" | quote }}
  password: {{ if $s }}{{ $s.data.password | b64dec | quote }}{{ else }}"generated"{{ end }}
  missing: {{ $missing | toJson | quote }}
  namespace: {{ $ns.metadata.name | quote }}
  listKind: {{ $secrets.kind | quote }}
  secretNames: {{ range $secrets.items }}{{ .metadata.name }},{{ end }}
{{- if .Capabilities.APIVersions.Has "networking.k8s.io/v1/Ingress" }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ingress-branch
data:
  api: networking.k8s.io/v1
{{- end }}
{{- if $s }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: lookup-branch
data:
  found: {{ $s.metadata.name | quote }}
{{- end }}
"#;

#[test]
fn install_renders_against_the_live_cluster_as_helm_does() {
    let Some(python) = helm_python() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let profile = Profile {
        kubernetes_version: "1.30.4".into(),
        ..Profile::default()
    };
    let sim = rt
        .block_on(Simulator::start(SimOptions {
            profile,
            ..SimOptions::default()
        }))
        .expect("simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).expect("kubeconfig");
    rt.block_on(async {
        let c = berth_deploy::Cluster::connect(&berth_deploy::ConnectOptions {
            kubeconfig: Some(kc.clone()),
            context: None,
        })
        .await
        .expect("connect");
        c.create(&json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":NS}}))
            .await
            .expect("namespace");
        c.create(&json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"existing","namespace":NS},"data":{"password":"aHVudGVyMg=="}}))
            .await
            .expect("secret");
    });

    // A chart for newer clusters fails the same way in both.
    let newer = write_app(
        dir.path(),
        "newer",
        "apiVersion: v2\nname: newer\nversion: 0.1.0\nkubeVersion: \">=1.33.0-0\"\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: newer\n",
    );
    let want = helm(&python, &newer.join("chart"), "newer", &kc);
    let helm_err = want["error"].as_str().unwrap_or_default().to_string();
    let expected =
        "chart requires kubeVersion: >=1.33.0-0 which is incompatible with Kubernetes v1.30.4";
    assert!(helm_err.contains(expected), "Helm: {want}");
    let out = berth(&["install", &newer.display().to_string()], &kc);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "berth installed a chart the cluster is too old for"
    );
    assert!(err.contains(expected), "berth: {err}");

    // Capabilities, Release and lookup branches render the same objects.
    let live = write_app(
        dir.path(),
        "branches",
        "apiVersion: v2\nname: branches\nversion: 0.1.0\n",
        BRANCHES,
    );
    let want = helm(&python, &live.join("chart"), "branches", &kc);
    let manifest = want["manifest"].as_str().unwrap_or_default();
    let want_cms = configmaps(manifest);
    assert!(want_cms.len() == 3, "Helm rendered {want}");
    let out = berth(&["install", &live.display().to_string()], &kc);
    assert!(
        out.status.success(),
        "berth install: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got_cms: Vec<(String, Value)> = rt.block_on(async {
        let c = berth_deploy::Cluster::connect(&berth_deploy::ConnectOptions {
            kubeconfig: Some(kc.clone()),
            context: None,
        })
        .await
        .expect("connect");
        let mut v: Vec<(String, Value)> = c
            .list("v1", "ConfigMap", NS, Some("berth.dev/app=branches"))
            .await
            .expect("list")
            .into_iter()
            .map(|o| {
                (
                    o["metadata"]["name"].as_str().unwrap_or("").to_string(),
                    o["data"].clone(),
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    });
    assert_eq!(got_cms, want_cms, "berth vs Helm");
    // and they are the live cluster's facts, not the defaults
    let facts = &got_cms.iter().find(|(n, _)| n == "facts").expect("facts").1;
    assert_eq!(facts["kubeVersion"], "v1.30.4", "{facts}");
    assert_eq!(facts["password"], "hunter2", "{facts}");
    assert_eq!(facts["unserved"], "false", "{facts}");
    assert_eq!(
        (&facts["revision"], &facts["isInstall"], &facts["isUpgrade"]),
        (&json!("1"), &json!("true"), &json!("false"))
    );

    // An upgrade renders as revision 2, IsUpgrade (Helm's numbering: the revision being written).
    let yaml = std::fs::read_to_string(live.join("berth.yaml")).expect("berth.yaml");
    std::fs::write(
        live.join("berth.yaml"),
        yaml.replace("version: 1.0.0", "version: 1.1.0"),
    )
    .expect("berth.yaml");
    let out = berth(&["upgrade", &live.display().to_string()], &kc);
    assert!(
        out.status.success(),
        "berth upgrade: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts = rt.block_on(async {
        let c = berth_deploy::Cluster::connect(&berth_deploy::ConnectOptions {
            kubeconfig: Some(kc.clone()),
            context: None,
        })
        .await
        .expect("connect");
        c.get(&berth_deploy::object::ObjectRef {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: NS.into(),
            name: "facts".into(),
        })
        .await
        .expect("get")
        .expect("facts")["data"]
            .clone()
    });
    assert_eq!(
        (&facts["revision"], &facts["isInstall"], &facts["isUpgrade"]),
        (&json!("2"), &json!("false"), &json!("true")),
        "{facts}"
    );
    drop(sim);
}
