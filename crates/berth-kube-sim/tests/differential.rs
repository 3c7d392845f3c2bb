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
