//! NetworkPolicies through real kubectl: a default-deny profile puts `default-deny` into each
//! new namespace, a test pod's refused connection fails with the client's own message, and a
//! policy that admits it lets the same pod succeed (docs/formats/sim-profile.md §16).

mod common;
use common::*;

use berth_kube_sim::Profile;
use berth_kube_sim::profile::NetworkPolicyProfile;

fn deny(types: &[&str]) -> Profile {
    Profile {
        network_policy: Some(NetworkPolicyProfile {
            default_deny: types.iter().map(|t| t.to_string()).collect(),
        }),
        ..Profile::default()
    }
}

/// A web Deployment (container port 8080 named `http`) behind the Service `web`.
const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: registry.example/web:1.0
          ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 8080, targetPort: http}]
"#;

fn test_pod(name: &str, command: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app.kubernetes.io/component: test}}
spec:
  restartPolicy: Never
  containers:
    - name: test
      image: busybox:1.37
      command: {command}
"#
    )
}

/// Create the test pod `name` running `command`, wait until it ends, return (phase, exit
/// code, log).
async fn run_pod(k: &Kubectl, ns: &str, name: &str, command: &str) -> (String, i64, String) {
    k.ok_stdin(&["create", "-n", ns, "-f", "-"], &test_pod(name, command))
        .await;
    let pod = eventually(&format!("pod {name} ends"), || async {
        let p = k.json(&["get", "pod", name, "-n", ns]).await;
        matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed")).then_some(p)
    })
    .await;
    let code = pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"]
        .as_i64()
        .expect("terminated with an exit code");
    let log = k.ok(&["logs", name, "-n", ns]).await;
    (
        pod["status"]["phase"].as_str().unwrap_or("").to_string(),
        code,
        log.trim().to_string(),
    )
}

async fn web_ready(k: &Kubectl, ns: &str) {
    k.ok_stdin(&["apply", "-n", ns, "-f", "-"], WEB).await;
    k.ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        ns,
        "--timeout=60s",
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_deny_ingress_times_the_test_out_and_an_allow_policy_lets_it_pass() {
    let sim = start_with(deny(&["Ingress"])).await;
    let Some(k) = Kubectl::new(&sim) else { return };
    k.ok(&["create", "namespace", "shop"]).await;
    let np = k
        .json(&["get", "networkpolicy", "default-deny", "-n", "shop"])
        .await;
    assert_eq!(np["spec"]["podSelector"], serde_json::json!({}));
    assert_eq!(np["spec"]["policyTypes"], serde_json::json!(["Ingress"]));
    assert_eq!(
        np["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "cluster-policy"
    );
    let table = k.ok(&["get", "netpol", "-n", "shop"]).await;
    assert!(
        table.starts_with("NAME           POD-SELECTOR   AGE")
            && table
                .lines()
                .nth(1)
                .is_some_and(|l| l.starts_with("default-deny   <none>")),
        "{table}"
    );
    // Namespaces present at start get none.
    let none = k.ok(&["get", "networkpolicy", "-n", "default"]).await;
    assert!(none.trim().is_empty(), "{none}");
    web_ready(&k, "shop").await;

    let wget = r#"["wget", "-T", "5", "-qO-", "http://web:8080/"]"#;
    let (phase, code, log) = run_pod(&k, "shop", "t1", wget).await;
    assert_eq!((phase.as_str(), code), ("Failed", 1), "{log}");
    assert_eq!(log, "wget: download timed out");

    // The fix: admit the test pods to web's named port.
    k.ok_stdin(
        &["apply", "-n", "shop", "-f", "-"],
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-allow-test}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
    - from: [{podSelector: {matchLabels: {app.kubernetes.io/component: test}}}]
      ports: [{port: http}]
"#,
    )
    .await;
    let (phase, code, log) = run_pod(&k, "shop", "t2", wget).await;
    assert_eq!((phase.as_str(), code), ("Succeeded", 0), "{log}");
    assert!(!log.contains("timed out"), "{log}");
    // A namespace created by server-side apply gets the policy too.
    k.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n",
    )
    .await;
    k.ok(&["get", "networkpolicy", "default-deny", "-n", "other"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_deny_egress_refuses_the_lookup_first_then_the_connection() {
    let sim = start_with(deny(&["Ingress", "Egress"])).await;
    let Some(k) = Kubectl::new(&sim) else { return };
    k.ok(&["create", "namespace", "shop"]).await;
    web_ready(&k, "shop").await;
    let curl =
        r#"["sh", "-c", "curl -sf --connect-timeout 3 http://web.shop.svc.cluster.local:8080/"]"#;
    let (phase, code, log) = run_pod(&k, "shop", "t1", curl).await;
    assert_eq!((phase.as_str(), code), ("Failed", 6), "{log}");
    assert_eq!(
        log,
        "curl: (6) Could not resolve host: web.shop.svc.cluster.local"
    );

    // DNS admitted: now the connection itself is refused (egress and ingress).
    k.ok_stdin(
        &["apply", "-n", "shop", "-f", "-"],
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
          podSelector: {matchLabels: {k8s-app: kube-dns}}
      ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
"#,
    )
    .await;
    let (phase, code, log) = run_pod(&k, "shop", "t2", curl).await;
    assert_eq!((phase.as_str(), code), ("Failed", 28), "{log}");
    assert_eq!(
        log,
        "curl: (28) Failed to connect to web.shop.svc.cluster.local port 8080 after 3000 ms: Timeout was reached"
    );

    // Both sides admitted (egress from the tests to web, ingress to web from the tests).
    k.ok_stdin(
        &["apply", "-n", "shop", "-f", "-"],
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: tests-to-web}
spec:
  podSelector: {matchExpressions: [{key: app.kubernetes.io/component, operator: In, values: [test]}]}
  egress: [{to: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 8080}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-tests}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app.kubernetes.io/component: test}}}]}]
"#,
    )
    .await;
    let (phase, code, log) = run_pod(&k, "shop", "t3", curl).await;
    assert_eq!((phase.as_str(), code), ("Succeeded", 0), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_nc_is_refused_fails_with_the_cluster_ip_in_its_log() {
    let sim = start_with(deny(&["Ingress"])).await;
    let Some(k) = Kubectl::new(&sim) else { return };
    k.ok(&["create", "namespace", "shop"]).await;
    web_ready(&k, "shop").await;
    let ip = k
        .ok(&[
            "get",
            "service",
            "web",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ])
        .await;
    k.ok_stdin(
        &["create", "-n", "shop", "-f", "-"],
        r#"
apiVersion: batch/v1
kind: Job
metadata: {name: smoke}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: nc
          image: busybox:1.37
          command: ["sh", "-c", "nc -z -w 2 web 8080 && echo reachable"]
"#,
    )
    .await;
    eventually("the Job fails", || async {
        let j = k.json(&["get", "job", "smoke", "-n", "shop"]).await;
        j["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Failed" && c["status"] == "True")
            .then_some(())
    })
    .await;
    let log = k.ok(&["logs", "job/smoke", "-n", "shop"]).await;
    assert_eq!(
        log.trim(),
        format!("nc: can't connect to remote host ({ip}): Connection timed out")
    );
}

#[test]
fn a_default_deny_of_unknown_types_is_refused_with_the_accepted_ones() {
    let e = Profile::from_yaml_str("networkPolicy: {defaultDeny: [Everything]}\n").unwrap_err();
    assert!(
        e.contains("networkPolicy.defaultDeny must list Ingress, Egress or both"),
        "{e}"
    );
    let e = Profile::from_yaml_str("networkPolicy: {defaultDeny: []}\n").unwrap_err();
    assert!(e.contains("networkPolicy.defaultDeny"), "{e}");
    let p = Profile::from_yaml_str("networkPolicy: {defaultDeny: [Ingress, Egress]}\n")
        .expect("parses");
    assert_eq!(
        p.network_policy.map(|n| n.default_deny),
        Some(vec!["Ingress".to_string(), "Egress".to_string()])
    );
}
