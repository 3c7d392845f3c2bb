//! Admission webhooks against a real HTTPS webhook server (rcgen certificate, trusted through
//! the configuration's caBundle): validating denials with the API server's wording, mutating
//! JSONPatches, namespace and object selectors, timeouts and failurePolicy, sideEffects on
//! dry runs, and service-backed webhooks whose Service is missing or has no endpoints.

mod common;
use axum::{Json, Router, routing::post};
use base64::Engine as _;
use common::{Http, Kubectl, start};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

/// An HTTPS webhook server on 127.0.0.1 and the base64 CA bundle that trusts it.
struct Hooks {
    addr: SocketAddr,
    ca_bundle: String,
    _handle: axum_server::Handle<SocketAddr>,
}

fn reply(review: &Value, response: Value) -> Json<Value> {
    let mut r = response;
    r["uid"] = review["request"]["uid"].clone();
    Json(json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": r}))
}

async fn serve_hooks() -> Hooks {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).expect("cert");
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem(
        cert.pem().into_bytes(),
        key.serialize_pem().into_bytes(),
    )
    .await
    .expect("tls config");
    let app = Router::new()
        .route(
            "/validate",
            post(|Json(r): Json<Value>| async move {
                let labels = &r["request"]["object"]["metadata"]["labels"];
                if labels["deny"] == "true" {
                    reply(&r, json!({"allowed": false, "status": {"code": 403, "message": "label deny is set"}}))
                } else {
                    reply(&r, json!({"allowed": true, "warnings": ["checked by the test webhook"]}))
                }
            }),
        )
        .route(
            "/mutate",
            post(|Json(r): Json<Value>| async move {
                let patch = json!([{"op": "add", "path": "/metadata/labels/mutated", "value": "yes"}]);
                let b64 = base64::engine::general_purpose::STANDARD.encode(patch.to_string());
                reply(&r, json!({"allowed": true, "patchType": "JSONPatch", "patch": b64}))
            }),
        )
        .route(
            "/slow",
            post(|Json(r): Json<Value>| async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                reply(&r, json!({"allowed": true}))
            }),
        )
        .route(
            "/wrong-uid",
            post(|Json(_): Json<Value>| async move {
                Json(json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {"uid": "nope", "allowed": true}}))
            }),
        );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls)
        .expect("server")
        .handle(handle.clone());
    tokio::spawn(async move { server.serve(app.into_make_service()).await });
    Hooks {
        addr,
        ca_bundle: base64::engine::general_purpose::STANDARD.encode(ca.pem()),
        _handle: handle,
    }
}

const CMS: &str = "/api/v1/namespaces/{ns}/configmaps";

fn cm(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"a": "1"}})
}

async fn ns(http: &Http, name: &str, labels: Value) {
    let (code, body) = http
        .post(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
}

fn hook(name: &str, client: Value, extra: Value) -> Value {
    let mut w = json!({"name": name, "clientConfig": client, "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}]});
    for (k, v) in extra.as_object().into_iter().flatten() {
        w[k] = v.clone();
    }
    w
}

async fn configure(http: &Http, kind: &str, name: &str, hooks: Vec<Value>) {
    let plural = if kind == "MutatingWebhookConfiguration" {
        "mutatingwebhookconfigurations"
    } else {
        "validatingwebhookconfigurations"
    };
    let (code, body) = http
        .post(
            &format!("/apis/admissionregistration.k8s.io/v1/{plural}"),
            &json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
                "metadata": {"name": name}, "webhooks": hooks}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_webhooks_validate_and_mutate_with_selectors() {
    let hooks = serve_hooks().await;
    let sim = start().await;
    let http = Http::new(&sim);
    ns(&http, "guarded", json!({"webhooks": "on"})).await;
    ns(&http, "free", json!({})).await;
    let url =
        |p: &str| json!({"url": format!("https://{}{p}", hooks.addr), "caBundle": hooks.ca_bundle});
    configure(
        &http,
        "ValidatingWebhookConfiguration",
        "deny",
        vec![hook(
            "deny.test.berth.dev",
            url("/validate"),
            json!({"namespaceSelector": {"matchLabels": {"webhooks": "on"}}}),
        )],
    )
    .await;
    configure(
        &http,
        "MutatingWebhookConfiguration",
        "label",
        vec![hook(
            "label.test.berth.dev",
            url("/mutate"),
            json!({"objectSelector": {"matchExpressions": [{"key": "mutate", "operator": "Exists"}]}}),
        )],
    )
    .await;
    let path = |n: &str| CMS.replace("{ns}", n);

    // Denied with the API server's wording, only where the namespaceSelector matches.
    let (code, body) = http
        .post(&path("guarded"), &cm("bad", json!({"deny": "true"})))
        .await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body["message"],
        "admission webhook \"deny.test.berth.dev\" denied the request: label deny is set"
    );
    let (code, body) = http
        .post(&path("free"), &cm("bad", json!({"deny": "true"})))
        .await;
    assert_eq!(code, 201, "{body}");
    // An update is reviewed too.
    let (code, body) = http
        .post(&path("guarded"), &cm("ok", json!({"app": "x"})))
        .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = http
        .send(
            "PATCH",
            &format!("{}/ok", path("guarded")),
            "application/merge-patch+json",
            br#"{"metadata":{"labels":{"deny":"true"}}}"#.to_vec(),
        )
        .await;
    assert_eq!(code, 403, "{body}");
    let (_, live) = http.get(&format!("{}/ok", path("guarded"))).await;
    assert!(live["metadata"]["labels"].get("deny").is_none(), "{live}");

    // Mutation only for objects the objectSelector picks.
    let (code, body) = http
        .post(&path("free"), &cm("m", json!({"mutate": ""})))
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["metadata"]["labels"]["mutated"], "yes", "{body}");
    let (_, live) = http.get(&format!("{}/m", path("free"))).await;
    assert_eq!(live["metadata"]["labels"]["mutated"], "yes", "{live}");
    let (_, plain) = http.post(&path("free"), &cm("p", json!({}))).await;
    assert!(
        plain["metadata"]["labels"].get("mutated").is_none(),
        "{plain}"
    );

    // Real kubectl: the denial and the warning as a real server sends them.
    if let Some(k) = Kubectl::new(&sim) {
        let err = k
            .fails_stdin(
                &["apply", "--server-side", "-n", "guarded", "-f", "-"],
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: k, labels: {deny: \"true\"}}\n",
            )
            .await;
        assert!(
            err.contains(
                "admission webhook \"deny.test.berth.dev\" denied the request: label deny is set"
            ),
            "{err}"
        );
        let o = k
            .run_stdin(
                &["apply", "--server-side", "-n", "guarded", "-f", "-"],
                Some(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: k2, labels: {mutate: x}}\n",
                ),
            )
            .await;
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(
            o.stderr.contains("Warning: checked by the test webhook"),
            "{}",
            o.stderr
        );
        let got = k.json(&["get", "configmap", "k2", "-n", "guarded"]).await;
        assert_eq!(got["metadata"]["labels"]["mutated"], "yes", "{got}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_policy_timeouts_side_effects_and_bad_responses() {
    let hooks = serve_hooks().await;
    let sim = start().await;
    let http = Http::new(&sim);
    for n in ["fail", "ignore", "uid", "dry"] {
        ns(&http, n, json!({"case": n})).await;
    }
    let url =
        |p: &str| json!({"url": format!("https://{}{p}", hooks.addr), "caBundle": hooks.ca_bundle});
    let only = |n: &str| json!({"namespaceSelector": {"matchLabels": {"case": n}}});
    let mut slow_fail = hook("slow-fail.test.berth.dev", url("/slow"), only("fail"));
    slow_fail["timeoutSeconds"] = json!(1);
    let mut slow_ignore = hook("slow-ignore.test.berth.dev", url("/slow"), only("ignore"));
    slow_ignore["timeoutSeconds"] = json!(1);
    slow_ignore["failurePolicy"] = json!("Ignore");
    let mut dry = hook("dry.test.berth.dev", url("/validate"), only("dry"));
    dry["sideEffects"] = json!("Unknown");
    configure(
        &http,
        "ValidatingWebhookConfiguration",
        "cases",
        vec![
            slow_fail,
            slow_ignore,
            hook("uid.test.berth.dev", url("/wrong-uid"), only("uid")),
            dry,
        ],
    )
    .await;
    let path = |n: &str| CMS.replace("{ns}", n);
    let (code, body) = http.post(&path("fail"), &cm("a", json!({}))).await;
    assert_eq!(code, 500, "{body}");
    let msg = body["message"].as_str().unwrap_or("");
    assert!(
        msg.starts_with("Internal error occurred: failed calling webhook \"slow-fail.test.berth.dev\": failed to call webhook: Post \"https://")
            && msg.contains("/slow?timeout=1s\": context deadline exceeded"),
        "{msg}"
    );
    let (code, body) = http.post(&path("ignore"), &cm("a", json!({}))).await;
    assert_eq!(code, 201, "failurePolicy Ignore lets it through: {body}");
    let (code, body) = http.post(&path("uid"), &cm("a", json!({}))).await;
    assert_eq!(code, 500, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("expected response.uid=")),
        "{body}"
    );
    let (code, body) = http
        .post(&format!("{}?dryRun=All", path("dry")), &cm("a", json!({})))
        .await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        body["message"],
        "admission webhook \"dry.test.berth.dev\" does not support dry run"
    );
    let (code, body) = http.post(&path("dry"), &cm("a", json!({}))).await;
    assert_eq!(code, 201, "without dryRun the webhook is called: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_backed_webhooks_fail_without_a_service_or_endpoints() {
    let sim = start().await;
    let http = Http::new(&sim);
    ns(&http, "webhook-system", json!({})).await;
    let svc = json!({"service": {"name": "hooks", "namespace": "webhook-system", "path": "/check", "port": 443}});
    configure(
        &http,
        "ValidatingWebhookConfiguration",
        "svc",
        vec![
            hook(
                "svc.test.berth.dev",
                svc.clone(),
                json!({"objectSelector": {"matchLabels": {"policy": "fail"}}}),
            ),
            hook(
                "svc-ignore.test.berth.dev",
                svc,
                json!({"failurePolicy": "Ignore", "objectSelector": {"matchLabels": {"policy": "ignore"}}}),
            ),
        ],
    )
    .await;
    let path = CMS.replace("{ns}", "default");
    let (code, body) = http.post(&path, &cm("a", json!({"policy": "fail"}))).await;
    assert_eq!(code, 500, "{body}");
    assert_eq!(body["reason"], "InternalError");
    assert_eq!(
        body["message"],
        "Internal error occurred: failed calling webhook \"svc.test.berth.dev\": failed to call webhook: Post \"https://hooks.webhook-system.svc:443/check?timeout=10s\": service \"hooks\" not found"
    );
    let (code, body) = http
        .post(&path, &cm("b", json!({"policy": "ignore"})))
        .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = http
        .post(
            "/api/v1/namespaces/webhook-system/services",
            &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hooks"},
                "spec": {"selector": {"app": "hooks"}, "ports": [{"port": 443, "targetPort": 9443}]}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = http.post(&path, &cm("c", json!({"policy": "fail"}))).await;
    assert_eq!(code, 500, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.ends_with(": no endpoints available for service \"hooks\"")),
        "{body}"
    );
}
