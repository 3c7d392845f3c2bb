//! The starter application `berth init` writes: a berth.yaml and a minimal Helm chart that
//! lint clean and install as they are.

/// Files of a starter application named `name` (a DNS label), as (relative path, contents).
pub fn files(name: &str) -> Vec<(String, String)> {
    let manifest = format!(
        r#"# berth.yaml: how berth installs, configures and upgrades {name}.
# Every field, with its description: `berth schema` (a JSON Schema; point your editor's YAML
# extension at it). Check this file and the chart with `berth lint` in this folder.
apiVersion: berth.dev/v1alpha1
kind: Application
metadata:
  name: {name}
  version: 0.1.0
  title: {name}
  vendor: Example Vendor
  description: A starter application.
spec:
  components:
    - name: {name}
      chart:
        path: chart
      values: |
        replicaCount: {{{{ .Config.replicas }}}}
        greeting: {{{{ .Config.greeting | quote }}}}
  config:
    - name: general
      title: General
      items:
        - name: replicas
          title: Replicas
          type: number
          default: 1
          validation:
            min: 1
            max: 10
        - name: greeting
          title: Greeting shown on the home page
          type: text
          default: Hello
  compatibility:
    kubernetes: ">=1.27.0"
"#
    );
    let chart = format!(
        "apiVersion: v2\nname: {name}\ndescription: A starter chart for {name}\ntype: application\nversion: 0.1.0\nappVersion: \"0.1.0\"\n"
    );
    let values = "replicaCount: 1\ngreeting: Hello\nimage:\n  repository: docker.io/library/nginx\n  tag: \"1.27\"\n".to_string();
    let deployment = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    app.kubernetes.io/name: {{ .Chart.Name }}
    app.kubernetes.io/instance: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/instance: {{ .Release.Name }}
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          env:
            - name: GREETING
              value: {{ .Values.greeting | quote }}
          ports:
            - containerPort: 80
"#
    .to_string();
    let service = r#"apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector:
    app.kubernetes.io/instance: {{ .Release.Name }}
  ports:
    - port: 80
      targetPort: 80
"#
    .to_string();
    vec![
        ("berth.yaml".into(), manifest),
        ("chart/Chart.yaml".into(), chart),
        ("chart/values.yaml".into(), values),
        ("chart/templates/deployment.yaml".into(), deployment),
        ("chart/templates/service.yaml".into(), service),
    ]
}
