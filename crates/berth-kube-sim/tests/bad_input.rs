//! Bad input gets the Status errors a real API server gives.

mod common;
use common::{Http, start};
use serde_json::json;

fn assert_status(code: u16, body: &serde_json::Value, want_code: u16, reason: &str) {
    assert_eq!(code, want_code, "{body}");
    assert_eq!(body["kind"], "Status", "{body}");
    assert_eq!(body["status"], "Failure");
    assert_eq!(body["reason"], reason, "{body}");
    assert_eq!(body["code"], want_code);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_unknown() {
    let sim = start().await;
    let http = Http::new(&sim);
    let cms = "/api/v1/namespaces/default/configmaps";
    // Malformed JSON and YAML.
    let (c, b) = http
        .send("POST", cms, "application/json", b"{\"kind\": ".to_vec())
        .await;
    assert_status(c, &b, 400, "BadRequest");
    assert!(b["message"].as_str().unwrap().contains("json"), "{b}");
    let (c, b) = http
        .send(
            "POST",
            cms,
            "application/yaml",
            b"metadata: [unclosed".to_vec(),
        )
        .await;
    assert_status(c, &b, 400, "BadRequest");
    // YAML bodies are accepted.
    let (c, b) = http
        .send(
            "POST",
            cms,
            "application/yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-yaml}\ndata: {a: b}\n"
                .to_vec(),
        )
        .await;
    assert_eq!(c, 201, "{b}");
    // Unsupported media type.
    let (c, b) = http.send("POST", cms, "text/html", b"<p>".to_vec()).await;
    assert_status(c, &b, 415, "UnsupportedMediaType");
    // Unknown resources and paths.
    let (c, b) = http
        .get("/apis/example.com/v1/namespaces/default/widgets")
        .await;
    assert_status(c, &b, 404, "NotFound");
    assert_eq!(
        b["message"],
        "the server could not find the requested resource"
    );
    let (c, b) = http.get("/nope").await;
    assert_status(c, &b, 404, "NotFound");
    // Kind in the body that does not match the URL.
    let (c, b) = http
        .post(
            cms,
            &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}),
        )
        .await;
    assert_status(c, &b, 400, "BadRequest");
    // Wrong namespace in the body; a namespace that does not exist.
    let (c, b) = http.post(cms, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "other"}})).await;
    assert_status(c, &b, 400, "BadRequest");
    assert_eq!(
        b["message"],
        "the namespace of the provided object does not match the namespace sent on the request"
    );
    let (c, b) = http
        .post(
            "/api/v1/namespaces/ghost/configmaps",
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
        )
        .await;
    assert_status(c, &b, 404, "NotFound");
    assert_eq!(b["message"], "namespaces \"ghost\" not found");
    // Collections do not take PUT.
    let (c, b) = http.put(cms, &json!({})).await;
    assert_status(c, &b, 405, "MethodNotAllowed");
    // Bad selectors.
    let (c, b) = http.get(&format!("{cms}?labelSelector=a%20in%20(b")).await;
    assert_status(c, &b, 400, "BadRequest");
    let (c, b) = http.get(&format!("{cms}?fieldSelector=data.x%3Dy")).await;
    assert_status(c, &b, 400, "BadRequest");
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("field label not supported: data.x"),
        "{b}"
    );
    let (c, b) = http
        .get(&format!("{cms}?watch=true&resourceVersion=abc"))
        .await;
    assert_status(c, &b, 400, "BadRequest");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_objects_and_sizes() {
    let sim = start().await;
    let http = Http::new(&sim);
    let cms = "/api/v1/namespaces/default/configmaps";
    // Invalid names (DNS rules) with the real wording and causes.
    let (c, b) = http
        .post(
            cms,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_Valid"}}),
        )
        .await;
    assert_status(c, &b, 422, "Invalid");
    assert!(b["message"].as_str().unwrap().starts_with("ConfigMap \"Not_Valid\" is invalid: metadata.name: Invalid value: \"Not_Valid\": a lowercase RFC 1123 subdomain"), "{b}");
    assert_eq!(b["details"]["causes"][0]["field"], "metadata.name");
    assert_eq!(b["details"]["causes"][0]["reason"], "FieldValueInvalid");
    let (c, b) = http
        .post(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}}),
        )
        .await;
    assert_status(c, &b, 422, "Invalid");
    // A valid subdomain that is not a label: apimachinery's IsDNS1123Label wording.
    assert_eq!(
        b["message"],
        "Namespace \"a.b\" is invalid: metadata.name: Invalid value: \"a.b\": must not contain dots"
    );
    let (c, b) = http
        .post(
            cms,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
        )
        .await;
    assert_status(c, &b, 422, "Invalid");
    // generateName works.
    let (c, b) = http
        .post(
            cms,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}}),
        )
        .await;
    assert_eq!(c, 201);
    let n = b["metadata"]["name"].as_str().unwrap();
    assert!(n.starts_with("gen-") && n.len() == 9, "{n}");
    // Bad labels.
    let (c, b) = http.post(cms, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "l", "labels": {"app": "no spaces!"}}})).await;
    assert_status(c, &b, 422, "Invalid");
    // Oversize objects: 413 like a real API server.
    let big = "x".repeat(2 * 1024 * 1024);
    let (c, b) = http.post(cms, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"blob": big}})).await;
    assert_status(c, &b, 413, "RequestEntityTooLarge");
    // Already exists.
    http.post(
        cms,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dup"}}),
    )
    .await;
    let (c, b) = http
        .post(
            cms,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dup"}}),
        )
        .await;
    assert_status(c, &b, 409, "AlreadyExists");
    assert_eq!(b["message"], "configmaps \"dup\" already exists");
    // Immutable selector.
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"},
        "spec": {"selector": {"matchLabels": {"app": "w"}}, "template": {"metadata": {"labels": {"app": "w", "v": "1"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
    let (c, _) = http
        .post("/apis/apps/v1/namespaces/default/deployments", &d)
        .await;
    assert_eq!(c, 201);
    let (c, b) = http
        .send(
            "PATCH",
            "/apis/apps/v1/namespaces/default/deployments/w",
            "application/merge-patch+json",
            br#"{"spec":{"selector":{"matchLabels":{"app":"w","v":"1"}}}}"#.to_vec(),
        )
        .await;
    assert_status(c, &b, 422, "Invalid");
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("field is immutable"),
        "{b}"
    );
    // Missing container image.
    let mut bad = d.clone();
    bad["metadata"]["name"] = json!("noimage");
    bad["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("image");
    let (c, b) = http
        .post("/apis/apps/v1/namespaces/default/deployments", &bad)
        .await;
    assert_status(c, &b, 422, "Invalid");
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("spec.template.spec.containers[0].image: Required value"),
        "{b}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_rules_crds_dry_run_terminating() {
    let sim = start().await;
    let http = Http::new(&sim);
    let path = "/api/v1/namespaces/default/configmaps/a";
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}});
    // Apply without a field manager: 422; with managedFields in the body: 400.
    let (c, b) = http
        .send(
            "PATCH",
            path,
            "application/apply-patch+yaml",
            serde_json::to_vec(&cm).unwrap(),
        )
        .await;
    assert_status(c, &b, 422, "Invalid");
    let mut mf = cm.clone();
    mf["metadata"]["managedFields"] = json!([{"manager": "x"}]);
    let (c, b) = http.apply(path, "m", &mf).await;
    assert_status(c, &b, 400, "BadRequest");
    // Apply creates (201), re-apply updates (200) without bumping the rv when nothing changed.
    let (c, first) = http.apply(path, "m", &cm).await;
    assert_eq!(c, 201);
    let (c, again) = http.apply(path, "m", &cm).await;
    assert_eq!(c, 200);
    assert_eq!(
        first["metadata"]["resourceVersion"], again["metadata"]["resourceVersion"],
        "no-op apply"
    );
    // dryRun=All validates without persisting.
    let (c, _) = http
        .send(
            "POST",
            "/api/v1/namespaces/default/configmaps?dryRun=All",
            "application/json",
            serde_json::to_vec(
                &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}}),
            )
            .unwrap(),
        )
        .await;
    assert_eq!(c, 201);
    let (c, _) = http.get("/api/v1/namespaces/default/configmaps/dry").await;
    assert_eq!(c, 404);
    // Delete precondition mismatch: 409.
    let (c, b) = http
        .send(
            "DELETE",
            path,
            "application/json",
            br#"{"preconditions":{"uid":"not-the-uid"}}"#.to_vec(),
        )
        .await;
    assert_status(c, &b, 409, "Conflict");
    // A CRD with an invalid schema is rejected.
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "things.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "things", "kind": "Thing"},
            "versions": [{"name": "v1", "served": true, "storage": true}]}});
    let (c, b) = http
        .post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            &crd,
        )
        .await;
    assert_status(c, &b, 422, "Invalid");
    assert!(
        b["message"].as_str().unwrap().contains(
            "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"
        ),
        "{b}"
    );
    let mut misnamed = crd.clone();
    misnamed["metadata"]["name"] = json!("wrong");
    misnamed["spec"]["versions"][0]["schema"] = json!({"openAPIV3Schema": {"type": "object"}});
    let (c, b) = http
        .post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            &misnamed,
        )
        .await;
    assert_status(c, &b, 422, "Invalid");
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("must be spec.names.plural+\".\"+spec.group"),
        "{b}"
    );
    // Writes into a Terminating namespace: 403.
    http.post(
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "going"}}),
    )
    .await;
    http.post("/api/v1/namespaces/going/configmaps", &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["example.com/hold"]}})).await;
    let (c, ns) = http.delete("/api/v1/namespaces/going").await;
    assert_eq!(c, 200);
    assert_eq!(ns["status"]["phase"], "Terminating");
    let (c, b) = http
        .post(
            "/api/v1/namespaces/going/configmaps",
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}}),
        )
        .await;
    assert_status(c, &b, 403, "Forbidden");
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("because it is being terminated"),
        "{b}"
    );
    sim.shutdown().await;
}
