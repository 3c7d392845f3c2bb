//! Differential suite: each behaviour has a minimal manifest whose expected result is what a
//! real API server answers (its error texts from k8s.io/apimachinery validation and the
//! Kubernetes docs), checked over raw HTTP and with real kubectl.

mod common;
use common::{Http, Kubectl, start};
use serde_json::{Value, json};

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
}

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn invalid_message(body: &Value) -> &str {
    assert_eq!(body["reason"], "Invalid", "{body}");
    body["message"].as_str().unwrap_or_default()
}

/// Names follow the rule of each kind: DNS subdomain (253, parts unlimited), RFC 1123 label
/// for Namespaces, RFC 1035 label for Services, path segments for RBAC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_rules_per_kind() {
    let sim = start().await;
    let http = Http::new(&sim);
    let cms = "/api/v1/namespaces/default/configmaps";

    // A 69-character name without dots is a valid DNS subdomain.
    let long = "a".repeat(69);
    let (c, b) = http.post(cms, &cm(&long)).await;
    assert_eq!(c, 201, "{b}");
    // 253 is the limit; 254 gets the API server's MaxLenError.
    let (c, b) = http.post(cms, &cm(&"b".repeat(253))).await;
    assert_eq!(c, 201, "{b}");
    let n254 = "c".repeat(254);
    let (c, b) = http.post(cms, &cm(&n254)).await;
    assert_eq!(c, 422, "{b}");
    assert_eq!(
        invalid_message(&b),
        format!(
            "ConfigMap \"{n254}\" is invalid: metadata.name: Invalid value: \"{n254}\": must be no more than 253 characters"
        )
    );
    let (c, b) = http.post(cms, &cm("Upper")).await;
    assert_eq!(c, 422, "{b}");
    assert_eq!(
        invalid_message(&b),
        format!(
            "ConfigMap \"Upper\" is invalid: metadata.name: Invalid value: \"Upper\": {SUBDOMAIN_MSG}"
        )
    );

    // Namespaces: RFC 1123 label, so a dotted (valid subdomain) name "must not contain dots".
    let (c, b) = http
        .post(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team.a"}}),
        )
        .await;
    assert_eq!(c, 422, "{b}");
    assert_eq!(
        invalid_message(&b),
        "Namespace \"team.a\" is invalid: metadata.name: Invalid value: \"team.a\": must not contain dots"
    );
    let ns64 = "n".repeat(64);
    let (c, b) = http
        .post(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns64}}),
        )
        .await;
    assert_eq!(c, 422, "{b}");
    assert!(
        invalid_message(&b).ends_with("must be no more than 63 characters"),
        "{b}"
    );

    // Services: RFC 1035 label (must start with a letter).
    let svc = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"ports": [{"port": 80}]}})
    };
    let svcs = "/api/v1/namespaces/default/services";
    let (c, b) = http.post(svcs, &svc("1web")).await;
    assert_eq!(c, 422, "{b}");
    assert_eq!(
        invalid_message(&b),
        format!(
            "Service \"1web\" is invalid: metadata.name: Invalid value: \"1web\": {DNS1035_MSG}"
        )
    );
    // A ConfigMap may start with a digit.
    let (c, b) = http.post(cms, &cm("1web")).await;
    assert_eq!(c, 201, "{b}");

    // RBAC names are path segments: colons are fine, slashes are not.
    let role = |name: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name}, "rules": []})
    };
    let roles = "/apis/rbac.authorization.k8s.io/v1/clusterroles";
    let (c, b) = http.post(roles, &role("system:berth:Reader")).await;
    assert_eq!(c, 201, "{b}");
    let (c, b) = http.post(roles, &role("..")).await;
    assert_eq!(c, 422, "{b}");
    assert_eq!(
        invalid_message(&b),
        "ClusterRole.rbac.authorization.k8s.io \"..\" is invalid: metadata.name: Invalid value: \"..\": may not be '..'"
    );

    // generateName is checked as a prefix: a trailing dash is fine, an upper case is not.
    let (c, b) = http
        .post(
            cms,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "Gen-"}}),
        )
        .await;
    assert_eq!(c, 422, "{b}");
    assert!(
        invalid_message(&b).contains("metadata.generateName: Invalid value: \"Gen-\""),
        "{b}"
    );

    // CronJob names leave room for the Job suffix: at most 52 characters.
    let cj = |name: &str| {
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}})
    };
    let cjs = "/apis/batch/v1/namespaces/default/cronjobs";
    let (c, b) = http.post(cjs, &cj(&"j".repeat(52))).await;
    assert_eq!(c, 201, "{b}");
    let n53 = "k".repeat(53);
    let (c, b) = http.post(cjs, &cj(&n53)).await;
    assert_eq!(c, 422, "{b}");
    assert_eq!(
        invalid_message(&b),
        format!(
            "CronJob.batch \"{n53}\" is invalid: metadata.name: Invalid value: \"{n53}\": must be no more than 52 characters"
        )
    );

    // The same through real kubectl (server-side and client-side apply).
    let Some(k) = Kubectl::new(&sim) else {
        return;
    };
    let out = k
        .ok_stdin(
            &["apply", "--server-side", "-f", "-"],
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {}}}\n",
                "d".repeat(69)
            ),
        )
        .await;
    assert!(out.contains("serverside-applied"), "{out}");
    let err = k
        .fails_stdin(
            &["apply", "-f", "-"],
            "apiVersion: v1\nkind: Service\nmetadata: {name: 9lives}\nspec:\n  ports: [{port: 80}]\n",
        )
        .await;
    assert!(
        err.contains(&format!(
            "The Service \"9lives\" is invalid: metadata.name: Invalid value: \"9lives\": {DNS1035_MSG}"
        )),
        "{err}"
    );
    let err = k.fails(&["create", "namespace", "team.b"]).await;
    assert!(
        err.contains(
            "The Namespace \"team.b\" is invalid: metadata.name: Invalid value: \"team.b\": must not contain dots"
        ),
        "{err}"
    );
    sim.shutdown().await;
}

fn deployment_with_typos(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replica": 2, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx", "port": 80}]}}}})
}

/// POST with a `fieldValidation` value; returns (code, Warning headers, body).
async fn post_validated(
    http: &Http,
    path: &str,
    mode: Option<&str>,
    v: &Value,
) -> (u16, Vec<String>, Value) {
    let url = match mode {
        Some(m) => format!("{}{path}?fieldValidation={m}", http.base),
        None => format!("{}{path}", http.base),
    };
    let r = http
        .client
        .post(url)
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(v).unwrap())
        .send()
        .await
        .expect("request");
    let code = r.status().as_u16();
    let warnings = r
        .headers()
        .get_all("warning")
        .iter()
        .map(|w| w.to_str().unwrap_or_default().to_string())
        .collect();
    (code, warnings, r.json().await.expect("json body"))
}

const DEPLOYS: &str = "/apis/apps/v1/namespaces/default/deployments";

/// Unknown fields of built-in kinds under each fieldValidation directive, as the API server
/// answers them (docs: "Field validation" in the API concepts page).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_field_validation_builtin() {
    let sim = start().await;
    let http = Http::new(&sim);
    // Strict: 400 with the strict decoder's error, nothing stored.
    let (c, w, b) = post_validated(
        &http,
        DEPLOYS,
        Some("Strict"),
        &deployment_with_typos("strict"),
    )
    .await;
    assert_eq!(c, 400, "{b}");
    assert_eq!(b["reason"], "BadRequest");
    assert_eq!(
        b["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replica\", unknown field \"spec.template.spec.containers[0].port\""
    );
    assert!(w.is_empty(), "{w:?}");
    let (c, _) = http.get(&format!("{DEPLOYS}/strict")).await;
    assert_eq!(c, 404);

    // Warn (also the default): stored without the unknown fields, one Warning per field.
    for (mode, name) in [(Some("Warn"), "warn"), (None, "default")] {
        let (c, w, b) = post_validated(&http, DEPLOYS, mode, &deployment_with_typos(name)).await;
        assert_eq!(c, 201, "{b}");
        assert_eq!(
            w,
            vec![
                r#"299 - "unknown field \"spec.replica\"""#,
                r#"299 - "unknown field \"spec.template.spec.containers[0].port\"""#
            ],
            "{mode:?}"
        );
        assert!(b["spec"].get("replica").is_none(), "{b}");
        assert!(
            b["spec"]["template"]["spec"]["containers"][0]
                .get("port")
                .is_none(),
            "{b}"
        );
    }

    // Ignore: stored, pruned, silent.
    let (c, w, b) = post_validated(
        &http,
        DEPLOYS,
        Some("Ignore"),
        &deployment_with_typos("ignore"),
    )
    .await;
    assert_eq!(c, 201, "{b}");
    assert!(w.is_empty(), "{w:?}");
    assert!(b["spec"].get("replica").is_none(), "{b}");

    // Server-side apply refuses undeclared fields whatever the directive.
    let (c, b) = http
        .send(
            "PATCH",
            &format!("{DEPLOYS}/ssa?fieldManager=t&fieldValidation=Ignore"),
            "application/apply-patch+yaml",
            serde_json::to_vec(&deployment_with_typos("ssa")).unwrap(),
        )
        .await;
    assert_eq!(c, 500, "{b}");
    assert_eq!(
        b["message"],
        "failed to create typed patch object (default/ssa; apps/v1, Kind=Deployment): errors:\n  .spec.replica: field not declared in schema\n  .spec.template.spec.containers[name=\"web\"].port: field not declared in schema"
    );

    // A merge patch with a typo under Strict.
    let (c, b) = http
        .send(
            "PATCH",
            &format!("{DEPLOYS}/warn?fieldValidation=Strict"),
            "application/merge-patch+json",
            br#"{"spec":{"replicas":3,"paused":false,"minReadySecond":5}}"#.to_vec(),
        )
        .await;
    assert_eq!(c, 400, "{b}");
    assert_eq!(
        b["message"],
        "strict decoding error: unknown field \"spec.minReadySecond\""
    );

    // Valid objects are never refused: status, server-set metadata, every field of a rich pod.
    let full = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "rich", "labels": {"a": "b"}, "annotations": {"x": "y"},
            "finalizers": ["example.com/f"], "ownerReferences": [], "creationTimestamp": null},
        "spec": {"restartPolicy": "Always", "serviceAccountName": "default",
            "securityContext": {"runAsNonRoot": true, "fsGroup": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]}]}}},
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
            "volumes": [{"name": "cfg", "configMap": {"name": "c", "optional": true, "items": [{"key": "a", "path": "a"}]}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
            "containers": [{"name": "app", "image": "nginx", "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "envFrom": [{"configMapRef": {"name": "c", "optional": true}}],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
                "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "initialDelaySeconds": 1, "periodSeconds": 5},
                "livenessProbe": {"tcpSocket": {"port": 80}},
                "volumeMounts": [{"name": "cfg", "mountPath": "/cfg", "readOnly": true}],
                "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]},
        "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}]}});
    let (c, w, b) = post_validated(
        &http,
        "/api/v1/namespaces/default/pods",
        Some("Strict"),
        &full,
    )
    .await;
    assert_eq!(c, 201, "{b}");
    assert!(w.is_empty(), "{w:?}");

    // The same through real kubectl: client-side apply (Strict by default), --validate=warn,
    // --validate=false (Ignore) and server-side apply.
    let Some(k) = Kubectl::new(&sim) else {
        return;
    };
    let manifest = |name: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  replica: 2\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers: [{{name: web, image: nginx, port: 80}}]\n"
        )
    };
    let err = k
        .fails_stdin(&["apply", "-f", "-"], &manifest("k-strict"))
        .await;
    assert!(
        err.contains(
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replica\", unknown field \"spec.template.spec.containers[0].port\""
        ),
        "{err}"
    );
    let o = k
        .run_stdin(
            &["apply", "--validate=warn", "-f", "-"],
            Some(&manifest("k-warn")),
        )
        .await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("Warning: unknown field \"spec.replica\""),
        "{}",
        o.stderr
    );
    let o = k
        .run_stdin(
            &["apply", "--validate=false", "-f", "-"],
            Some(&manifest("k-ignore")),
        )
        .await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains("unknown field"), "{}", o.stderr);
    let err = k
        .fails_stdin(&["apply", "--server-side", "-f", "-"], &manifest("k-ssa"))
        .await;
    assert!(
        err.contains(
            "failed to create typed patch object (default/k-ssa; apps/v1, Kind=Deployment): errors:"
        ),
        "{err}"
    );
    assert!(
        err.contains(".spec.replica: field not declared in schema"),
        "{err}"
    );
    sim.shutdown().await;
}

const CRD: &str = r#"{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {"name": "widgets.example.com"},
  "spec": {"group": "example.com", "scope": "Namespaced",
    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
    "versions": [{"name": "v1", "served": true, "storage": true,
      "schema": {"openAPIV3Schema": {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
          "size": {"type": "integer", "default": 3},
          "settings": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
          "labels": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}}]}}"#;

/// Custom resources against their CRD's structural schema: pruning, defaults,
/// x-kubernetes-preserve-unknown-fields, additionalProperties.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_field_validation_custom_resources() {
    let sim = start().await;
    let http = Http::new(&sim);
    let crd: Value = serde_json::from_str(CRD).unwrap();
    let (c, b) = http
        .post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            &crd,
        )
        .await;
    assert_eq!(c, 201, "{b}");
    let widgets = "/apis/example.com/v1/namespaces/default/widgets";
    common::eventually("widgets served", || async {
        (http.get(widgets).await.0 == 200).then_some(())
    })
    .await;
    let w = |name: &str| {
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name},
            "spec": {"sise": 1, "settings": {"free": {"form": true}}, "labels": {"a": "b"}}})
    };
    let (c, _, b) = post_validated(&http, widgets, Some("Strict"), &w("strict")).await;
    assert_eq!(c, 400, "{b}");
    assert_eq!(
        b["message"],
        "Widget in version \"v1\" cannot be handled as a Widget: strict decoding error: unknown field \"spec.sise\""
    );
    let (c, warnings, b) = post_validated(&http, widgets, Some("Warn"), &w("warn")).await;
    assert_eq!(c, 201, "{b}");
    assert_eq!(warnings, vec![r#"299 - "unknown field \"spec.sise\"""#]);
    assert!(b["spec"].get("sise").is_none(), "{b}");
    assert_eq!(b["spec"]["size"], 3, "default applied: {b}");
    assert_eq!(
        b["spec"]["settings"]["free"]["form"], true,
        "preserved: {b}"
    );
    assert_eq!(b["spec"]["labels"]["a"], "b");
    // Server-side apply: undeclared fields refused, defaults applied to what is stored.
    let (c, b) = http.apply(&format!("{widgets}/ssa"), "t", &w("ssa")).await;
    assert_eq!(c, 500, "{b}");
    assert_eq!(
        b["message"],
        "failed to create typed patch object (default/ssa; example.com/v1, Kind=Widget): .spec.sise: field not declared in schema"
    );
    let (c, b) = http
        .apply(
            &format!("{widgets}/ssa"),
            "t",
            &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "ssa"}, "spec": {"labels": {"x": "y"}}}),
        )
        .await;
    assert_eq!(c, 201, "{b}");
    assert_eq!(b["spec"]["size"], 3, "{b}");
    sim.shutdown().await;
}
