//! Aggregated APIs: an APIService whose Service is missing or has no ready endpoints is
//! Available=False with kube-aggregator's reason, its group-version answers 503, discovery
//! still lists it (Stale in aggregated discovery) and real kubectl warns about it; once the
//! backend is ready the APIService becomes Available.

mod common;
use common::{Http, Kubectl, eventually, start};
use serde_json::{Value, json};

const APISVC: &str = "/apis/apiregistration.k8s.io/v1/apiservices";

fn available(a: &Value) -> (String, String, String) {
    let c = a["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Available").cloned())
        .unwrap_or(Value::Null);
    let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
    (s("status"), s("reason"), s("message"))
}

async fn wait_reason(http: &Http, reason: &str) -> (String, String, String) {
    eventually(&format!("APIService {reason}"), || async {
        let (_, a) = http.get(&format!("{APISVC}/v1beta1.metrics.k8s.io")).await;
        let c = available(&a);
        (c.1 == reason).then_some(c)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apiservice_without_backend_is_unavailable_and_answers_503() {
    let sim = start().await;
    let http = Http::new(&sim);
    let (code, body) = http
        .post(
            APISVC,
            &json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                "metadata": {"name": "v1beta1.metrics.k8s.io"},
                "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                    "versionPriority": 100, "insecureSkipTLSVerify": true,
                    "service": {"name": "metrics-server", "namespace": "kube-system", "port": 443}}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let c = wait_reason(&http, "ServiceNotFound").await;
    assert_eq!(c.0, "False");
    assert_eq!(
        c.2,
        "service/metrics-server in \"kube-system\" is not present"
    );

    // 503 for the group-version and anything under it, in kube-aggregator's plain text.
    for path in [
        "/apis/metrics.k8s.io/v1beta1",
        "/apis/metrics.k8s.io/v1beta1/nodes",
    ] {
        let (code, body) = http.get(path).await;
        assert_eq!(code, 503, "{path}: {body}");
        assert_eq!(body, Value::String("service unavailable\n".into()));
    }
    // Discovery keeps listing it: legacy /apis, and aggregated discovery as Stale.
    let (_, apis) = http.get("/apis").await;
    assert!(
        apis["groups"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g["name"] == "metrics.k8s.io")),
        "{apis}"
    );
    let agg: Value = http
        .client
        .get(format!("{}/apis", http.base))
        .header(
            "Accept",
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        )
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let item = agg["items"]
        .as_array()
        .and_then(|i| {
            i.iter()
                .find(|i| i["metadata"]["name"] == "metrics.k8s.io")
                .cloned()
        })
        .expect("metrics.k8s.io in aggregated discovery");
    assert_eq!(item["versions"][0]["freshness"], "Stale", "{item}");

    // Real kubectl turns the 503 into the API server's words, and the rest keeps working
    // (kubectl 1.32 with aggregated discovery skips the Stale group without a warning).
    if let Some(k) = Kubectl::new(&sim) {
        let err = k
            .fails(&["get", "--raw", "/apis/metrics.k8s.io/v1beta1"])
            .await;
        assert!(
            err.contains("Error from server (ServiceUnavailable): the server is currently unable to handle the request"),
            "{err}"
        );
        let o = k.run(&["api-resources"]).await;
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(o.stdout.contains("configmaps"), "{}", o.stdout);
    }

    // A Service with no ready pods: MissingEndpoints.
    let (code, body) = http
        .post(
            "/api/v1/namespaces/kube-system/services",
            &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "metrics-server"},
                "spec": {"selector": {"app": "metrics-server"}, "ports": [{"name": "https", "port": 443, "targetPort": 10250}]}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let c = wait_reason(&http, "MissingEndpoints").await;
    assert_eq!(
        c.2,
        "endpoints for service/metrics-server in \"kube-system\" have no addresses with port name \"https\""
    );
    // The backend comes up: Available, and the group-version answers.
    let (code, body) = http
        .post(
            "/api/v1/namespaces/kube-system/pods",
            &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ms", "labels": {"app": "metrics-server"}},
                "spec": {"containers": [{"name": "c", "image": "metrics-server"}]}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let c = wait_reason(&http, "Passed").await;
    assert_eq!(c.0, "True");
    let (code, body) = http.get("/apis/metrics.k8s.io/v1beta1").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["groupVersion"], "metrics.k8s.io/v1beta1");
}
