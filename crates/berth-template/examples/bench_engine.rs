//! Micro-benchmark of the template engine: parse + execute a chart-like template set
//! (helpers with include/nindent, toYaml, range, default, printf, tpl), berth versus Helm v4
//! rendering the same templates, side by side in one run.
//!
//!     export BERTH_TEST_HELM_PYTHON=~/.cache/berth-venv-helm/bin/python   # scripts/setup.d/10-helm-oracle.sh
//!     cargo run --release -p berth-template --example bench_engine [-- RUNS]
//!
//! Both sides are warm and do the same work per run: parse every template and execute the
//! non-partials. Helm runs in-process through helm-python-sdk (`Chart.render`, timed inside
//! Python); its figure also includes Helm's own value coalescing for this one small chart.
//! `SPLIT=1` prints berth's parse / execute / context-building times separately instead.

use std::path::Path;
use std::time::Instant;

use berth_template::{Options, TemplateSet, Value};

const HELPERS: &str = r#"{{- define "app.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "app.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}
{{- define "app.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "app.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
{{- define "app.selectorLabels" -}}
app.kubernetes.io/name: {{ include "app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
"#;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "app.fullname" . }}
  labels:
    {{- include "app.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      {{- include "app.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      annotations:
        checksum/config: {{ toYaml .Values.config | sha256sum }}
      labels:
        {{- include "app.selectorLabels" . | nindent 8 }}
    spec:
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          env:
            {{- range $k, $v := .Values.env }}
            - name: {{ $k | upper }}
              value: {{ tpl $v $ | quote }}
            {{- end }}
          ports:
            {{- range .Values.ports }}
            - name: {{ .name }}
              containerPort: {{ .port }}
            {{- end }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
"#;

const SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: {{ include "app.fullname" . }}
  labels:
    {{- include "app.labels" . | nindent 4 }}
spec:
  type: {{ .Values.service.type }}
  ports:
    {{- range .Values.ports }}
    - port: {{ .port }}
      targetPort: {{ .name }}
      name: {{ .name }}
    {{- end }}
  selector:
    {{- include "app.selectorLabels" . | nindent 4 }}
"#;

const CONFIGMAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "app.fullname" . }}
data:
  config.yaml: |
    {{- toYaml .Values.config | nindent 4 }}
  {{- range $k, $v := .Values.config.features }}
  feature-{{ $k }}: {{ $v | quote }}
  {{- end }}
"#;

const VALUES: &str = r#"{
  "replicaCount": 2,
  "image": {"repository": "registry.example.com/shop/web", "tag": "", "pullPolicy": "IfNotPresent"},
  "env": {"log_level": "info", "db_host": "{{ .Release.Name }}-postgresql", "region": "eu-west-1"},
  "ports": [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}],
  "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
  "nodeSelector": {"kubernetes.io/os": "linux"},
  "service": {"type": "ClusterIP"},
  "config": {"server": {"port": 8080, "timeout": "30s"}, "features": {"search": true, "beta": false, "recommendations": true}, "upstreams": ["a.example", "b.example", "c.example"]}
}"#;

const FILES: [(&str, &str); 4] = [
    ("templates/_helpers.tpl", HELPERS),
    ("templates/deployment.yaml", DEPLOYMENT),
    ("templates/service.yaml", SERVICE),
    ("templates/configmap.yaml", CONFIGMAP),
];

fn context(values: &serde_json::Value) -> Value {
    Value::from_json(serde_json::json!({
        "Values": values,
        "Release": {"Name": "shop", "Namespace": "default", "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
        "Chart": {"Name": "web", "Version": "1.2.3", "AppVersion": "4.5.6"},
        "Capabilities": {},
        "Template": {"Name": "web/templates/x.yaml", "BasePath": "web/templates"},
    }))
}

fn render_once(data: &Value) -> Result<usize, String> {
    let mut set = TemplateSet::new(Options::default());
    for (path, src) in FILES {
        set.add(&format!("web/{path}"), src)
            .map_err(|e| e.to_string())?;
    }
    let mut bytes = 0;
    for (path, _) in FILES {
        if path.contains("/_") {
            continue;
        }
        bytes += set
            .execute(&format!("web/{path}"), data)
            .map_err(|e| e.to_string())?
            .len();
    }
    Ok(bytes)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

const HELM_SCRIPT: &str = r#"
import json, sys, time
import helm_python as h
chart = h.Chart.load(sys.argv[1])
values = json.loads(open(sys.argv[2]).read())
runs = int(sys.argv[3])
for _ in range(5):
    chart.render(values, name="shop", namespace="default")
times = []
for _ in range(runs):
    t = time.perf_counter()
    chart.render(values, name="shop", namespace="default")
    times.append((time.perf_counter() - t) * 1000)
times.sort()
print(json.dumps({"median_ms": times[len(times) // 2], "min_ms": times[0]}))
"#;

fn helm(python: &str, values: &str, runs: usize) -> Result<(f64, f64), String> {
    let dir = std::env::temp_dir().join(format!("berth-bench-engine-{}", std::process::id()));
    let write = |p: &Path, s: &str| -> Result<(), String> {
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(p, s).map_err(|e| format!("{}: {e}", p.display()))
    };
    write(
        &dir.join("web/Chart.yaml"),
        "apiVersion: v2\nname: web\nversion: 1.2.3\nappVersion: \"4.5.6\"\n",
    )?;
    for (path, src) in FILES {
        write(&dir.join("web").join(path), src)?;
    }
    write(&dir.join("values.json"), values)?;
    write(&dir.join("bench.py"), HELM_SCRIPT)?;
    let out = std::process::Command::new(python)
        .arg(dir.join("bench.py"))
        .arg(dir.join("web"))
        .arg(dir.join("values.json"))
        .arg(runs.to_string())
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("helm side: {e}: {}", String::from_utf8_lossy(&out.stderr)))?;
    Ok((
        v["median_ms"].as_f64().ok_or("no median_ms")?,
        v["min_ms"].as_f64().ok_or("no min_ms")?,
    ))
}

fn split_timing(data: &Value) {
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        let mut set = TemplateSet::new(Options::default());
        for (path, src) in FILES {
            let _ = set.add(&format!("web/{path}"), src);
        }
    }
    let parse = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    let mut set = TemplateSet::new(Options::default());
    for (path, src) in FILES {
        let _ = set.add(&format!("web/{path}"), src);
    }
    let t = Instant::now();
    for _ in 0..n {
        for (path, _) in FILES {
            let _ = set.execute(&format!("web/{path}"), data);
        }
    }
    let exec = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    let t = Instant::now();
    for _ in 0..n {
        let _ = context(&serde_json::from_str::<serde_json::Value>(VALUES).unwrap_or_default());
    }
    let ctx = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    eprintln!("parse {parse:.4} ms, execute {exec:.4} ms, context {ctx:.4} ms");
}

fn main() {
    if std::env::var("SPLIT").is_ok() {
        let v: serde_json::Value = serde_json::from_str(VALUES).unwrap_or_default();
        split_timing(&context(&v));
        return;
    }
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let values: serde_json::Value = match serde_json::from_str(VALUES) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("bad built-in values: {e}");
            std::process::exit(1);
        }
    };
    let data = context(&values);
    for _ in 0..20 {
        if let Err(e) = render_once(&data) {
            eprintln!("berth render failed: {e}");
            std::process::exit(1);
        }
    }
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        bytes = render_once(&data).unwrap_or(0);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let bmin = times.iter().copied().fold(f64::INFINITY, f64::min);
    let bmed = median(times);
    println!("parse + execute 4 templates ({bytes} bytes out), warm, median of {runs} runs (min)");
    println!(
        "{:<10} {:>18} {:>18} {:>8}",
        "engine", "berth ms", "helm v4 ms", "ratio"
    );
    match std::env::var("BERTH_TEST_HELM_PYTHON") {
        Ok(py) => match helm(&py, VALUES, runs) {
            Ok((hmed, hmin)) => println!(
                "{:<10} {:>18} {:>18} {:>7.1}x",
                "template",
                format!("{bmed:.3} ({bmin:.3})"),
                format!("{hmed:.3} ({hmin:.3})"),
                hmed / bmed
            ),
            Err(e) => println!(
                "{:<10} {:>18} helm failed: {e}",
                "template",
                format!("{bmed:.3} ({bmin:.3})")
            ),
        },
        Err(_) => println!(
            "{:<10} {:>18} {:>18}   (set BERTH_TEST_HELM_PYTHON for the Helm side)",
            "template",
            format!("{bmed:.3} ({bmin:.3})"),
            "-"
        ),
    }
}
