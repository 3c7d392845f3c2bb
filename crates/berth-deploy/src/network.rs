//! Diagnosis of a test hook whose connection NetworkPolicies refuse: the test's command names
//! a Service; berth reads the NetworkPolicies, Services and pods of the namespaces involved and
//! runs berth-netpol's evaluator (the simulator's too) from the test pod to the Service's
//! pods. When refused, the diagnosis names the policies, the refused side (the DNS lookup,
//! egress at the test pod, ingress at the Service's pods) and a NetworkPolicy that admits it.

use crate::cluster::Cluster;
use crate::diagnose::Diagnosis;
use crate::object::{ObjectRef, object_ref};
use berth_netpol::path::{DNS_NAMESPACE, Facts, Path, Verdict, trace};
use berth_netpol::{Blocked, Direction, Labels, NAMESPACE_NAME_LABEL, Policies, labels_at};
use serde_json::{Value, json};

/// The label berth suggests for test pods that carry none.
pub const TEST_LABEL: (&str, &str) = ("app.kubernetes.io/component", "test");

/// The pod a test object runs (a Pod, or a Job's template), with its namespace.
pub fn test_pod(test: &Value) -> Option<(Value, String)> {
    let ns = object_ref(test).namespace;
    match test.get("kind").and_then(Value::as_str)? {
        "Pod" => Some((test.clone(), ns)),
        "Job" => Some((test.pointer("/spec/template")?.clone(), ns)),
        _ => None,
    }
}

/// Read what the verdict needs from the cluster and diagnose the test, if its connection is
/// refused. Lists that fail (no permission to list namespaces) count as empty.
pub async fn diagnose_test(cluster: &Cluster, test: &Value) -> Option<Diagnosis> {
    let (pod, ns) = test_pod(test)?;
    let (_, target) = berth_netpol::target::from_pod_spec(pod.get("spec")?)?;
    let svc_ns = target.service(&ns).map_or_else(|| ns.clone(), |(_, n)| n);
    let list = |kind: &'static str, api: &'static str, ns: String| async move {
        cluster.list(api, kind, &ns, None).await.unwrap_or_default()
    };
    let mut policies = Vec::new();
    let mut seen = Vec::new();
    for n in [ns.clone(), svc_ns.clone(), DNS_NAMESPACE.to_string()] {
        if !seen.contains(&n) {
            policies.extend(list("NetworkPolicy", "networking.k8s.io/v1", n.clone()).await);
            seen.push(n);
        }
    }
    if policies.is_empty() {
        return None;
    }
    let namespaces = list("Namespace", "v1", String::new()).await;
    let services = list("Service", "v1", svc_ns.clone()).await;
    let pods = list("Pod", "v1", svc_ns).await;
    let facts = Facts {
        policies: Policies {
            policies: &policies,
            namespaces: &namespaces,
        },
        services: &services,
        pods: &pods,
    };
    let path = trace(&pod, &ns, &facts)?;
    diagnosis(
        object_ref(test),
        &labels_at(&pod, "/metadata/labels"),
        &path,
    )
}

/// The labels of the pods an object runs (a Pod, a workload's template, a CronJob's).
fn pod_labels_of(o: &Value) -> Option<Labels> {
    let p = match o.get("kind").and_then(Value::as_str)? {
        "Pod" => "/metadata/labels",
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            "/spec/template/metadata/labels"
        }
        "CronJob" => "/spec/jobTemplate/spec/template/metadata/labels",
        _ => return None,
    };
    Some(labels_at(o, p))
}

/// A note for after an install: `policies` (the NetworkPolicies of `namespace`) isolate pods the app's
/// `objects` run, and the app ships no NetworkPolicy, so connections to or from them are
/// refused unless a policy admits them. None when nothing is isolated or the app ships one.
pub fn isolation_note(namespace: &str, policies: &[Value], objects: &[Value]) -> Option<String> {
    if objects
        .iter()
        .any(|o| o.get("kind").and_then(Value::as_str) == Some("NetworkPolicy"))
    {
        return None;
    }
    let ctx = Policies {
        policies,
        namespaces: &[],
    };
    let mut names: Vec<String> = Vec::new();
    let mut isolated: Vec<String> = Vec::new();
    let mut directions: Vec<&str> = Vec::new();
    for o in objects {
        let Some(labels) = pod_labels_of(o) else {
            continue;
        };
        let pod = berth_netpol::Endpoint {
            namespace: namespace.to_string(),
            labels,
            ip: None,
        };
        let mut hit = false;
        for d in [Direction::Ingress, Direction::Egress] {
            for p in ctx.isolating(&pod, d) {
                hit = true;
                let n = berth_netpol::qualified_name(p);
                if !names.contains(&n) {
                    names.push(n);
                }
                if !directions.contains(&d.as_str()) {
                    directions.push(d.as_str());
                }
            }
        }
        if hit {
            let r = object_ref(o);
            isolated.push(format!("{}/{}", r.kind.to_lowercase(), r.name));
        }
    }
    if isolated.is_empty() {
        return None;
    }
    Some(format!(
        "{} {} isolate{} the app's pods ({}) for {} in namespace {namespace} and the app ships no NetworkPolicy: connections its tests and components make are refused unless a policy admits them",
        if names.len() == 1 {
            "NetworkPolicy"
        } else {
            "NetworkPolicies"
        },
        names.join(", "),
        if names.len() == 1 { "s" } else { "" },
        isolated.join(", "),
        directions.join(" and ").to_lowercase(),
    ))
}

/// [`isolation_note`] for the NetworkPolicies `namespace` has on the cluster.
pub async fn isolation_warning(
    cluster: &Cluster,
    namespace: &str,
    objects: &[Value],
) -> Option<String> {
    let policies = cluster
        .list("networking.k8s.io/v1", "NetworkPolicy", namespace, None)
        .await
        .ok()?;
    isolation_note(namespace, &policies, objects)
}

/// `k=v,k2=v2`.
fn selector_text(l: &Labels) -> String {
    l.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn policies_text(b: &Blocked) -> String {
    let what = if b.policies.len() == 1 {
        "NetworkPolicy"
    } else {
        "NetworkPolicies"
    };
    format!("{what} {}", b.policies.join(", "))
}

/// A flow-style YAML object on one line.
fn yaml(v: &Value) -> String {
    match v {
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}: {}", yaml(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Array(a) => format!("[{}]", a.iter().map(yaml).collect::<Vec<_>>().join(", ")),
        Value::String(s) if s.is_empty() || s.contains([':', ',', '{', '}', '[', ']']) => {
            format!("{s:?}")
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn policy(name: &str, ns: &str, spec: Value) -> String {
    yaml(
        &json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns}, "spec": spec}),
    )
}

/// The cause and fix of a refused path, or None when the path is allowed.
pub fn diagnosis(test: ObjectRef, test_labels: &Labels, path: &Path) -> Option<Diagnosis> {
    let (dns, connection): (&[Blocked], &[Blocked]) = match &path.verdict {
        Verdict::Allowed => return None,
        Verdict::DnsBlocked { dns, connection } => (dns, connection),
        Verdict::Blocked(c) => (&[], c),
    };
    let who = format!("test {}/{}", test.kind.to_lowercase(), test.name);
    let ns = test.namespace.as_str();
    // How a policy selects the test pod: its labels, or the label berth suggests adding.
    let (client, relabel) = if test_labels.is_empty() {
        let l: Labels = [(TEST_LABEL.0.to_string(), TEST_LABEL.1.to_string())].into();
        let hint = format!(
            "label the test pod {} (it has no labels a policy could select), then ",
            selector_text(&l)
        );
        (l, hint)
    } else {
        (test_labels.clone(), String::new())
    };
    let server = if path.service_selector.is_empty() {
        &path.pod_labels
    } else {
        &path.service_selector
    };
    let svc = format!(
        "Service {}:{} (pods {} port {}/{})",
        path.service_name,
        path.service_port,
        selector_text(server),
        path.pod_port,
        path.protocol
    );
    let side = |d: Direction| connection.iter().find(|b| b.direction == d);
    let mut causes = Vec::new();
    if let Some(b) = dns.first() {
        causes.push(format!(
            "it cannot look up {}: {} isolate{} its egress and no rule admits DNS (UDP 53 to kube-system pods k8s-app=kube-dns)",
            path.target.host,
            policies_text(b),
            if b.policies.len() == 1 { "s" } else { "" },
        ));
    }
    if let Some(b) = side(Direction::Egress) {
        causes.push(format!(
            "egress from the test pod is isolated by {} and no rule admits it",
            policies_text(b)
        ));
    }
    if let Some(b) = side(Direction::Ingress) {
        causes.push(format!(
            "ingress to the Service's pods is isolated by {} and no rule admits the test pod",
            policies_text(b)
        ));
    }
    let mut asks = Vec::new();
    let mut examples = Vec::new();
    if !dns.is_empty() || side(Direction::Egress).is_some() {
        let to_dns = if dns.is_empty() {
            ""
        } else {
            "the cluster DNS and "
        };
        asks.push(format!(
            "egress from pods {} to {to_dns}{svc}",
            selector_text(&client)
        ));
        examples.push(policy(
            &format!("{}-test-egress", path.service_name),
            ns,
            egress_spec(&client, server, path, !dns.is_empty()),
        ));
    }
    if side(Direction::Ingress).is_some() {
        let elsewhere = path.service_namespace != ns;
        let mut peer = json!({"podSelector": {"matchLabels": client}});
        if elsewhere {
            peer["namespaceSelector"] = json!({"matchLabels": {NAMESPACE_NAME_LABEL: ns}});
        }
        asks.push(format!(
            "ingress to pods {} on port {} from pods {}{}",
            selector_text(server),
            path.pod_port,
            selector_text(&client),
            if elsewhere {
                format!(" of namespace {ns}")
            } else {
                String::new()
            }
        ));
        examples.push(policy(
            &format!("{}-allow-test", path.service_name),
            &path.service_namespace,
            json!({"podSelector": {"matchLabels": server}, "policyTypes": ["Ingress"],
                "ingress": [{"from": [peer], "ports": [port_rule(path)]}]}),
        ));
    }
    Some(Diagnosis {
        object: test.clone(),
        cause: format!(
            "the {who} in namespace {ns} cannot connect to {svc}: {}",
            causes.join("; ")
        ),
        fix: format!(
            "{relabel}add a NetworkPolicy allowing {} (the app's chart can ship {}), e.g. {}",
            asks.join(" and a NetworkPolicy allowing "),
            if asks.len() == 1 { "it" } else { "them" },
            examples.join(" and ")
        ),
    })
}

fn port_rule(path: &Path) -> Value {
    json!({"protocol": path.protocol, "port": path.pod_port})
}

/// An egress policy for the test pod: to the Service's pods (and the DNS when `dns`).
fn egress_spec(client: &Labels, server: &Labels, path: &Path, dns: bool) -> Value {
    let mut to_server = json!({"podSelector": {"matchLabels": server}});
    to_server["namespaceSelector"] =
        json!({"matchLabels": {NAMESPACE_NAME_LABEL: path.service_namespace}});
    let mut rules = vec![json!({"to": [to_server], "ports": [port_rule(path)]})];
    if dns {
        rules.push(json!({"to": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: DNS_NAMESPACE}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}));
    }
    json!({"podSelector": {"matchLabels": client}, "policyTypes": ["Egress"], "egress": rules})
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_netpol::path::Facts;

    fn objects(policies: Vec<Value>) -> (Value, Option<Diagnosis>) {
        let test = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-test", "namespace": "shop"},
            "spec": {"containers": [{"name": "t", "command": ["wget", "-T", "5", "-qO-", "http://web:8080/"]}]}});
        let services = [json!({"metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080}]}})];
        let pods = [
            json!({"metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web", "pod-template-hash": "x"}},
            "spec": {"containers": [{"name": "web", "ports": [{"containerPort": 8080}]}]}}),
        ];
        let facts = Facts {
            policies: Policies {
                policies: &policies,
                namespaces: &[],
            },
            services: &services,
            pods: &pods,
        };
        let path = trace(&test, "shop", &facts).expect("traced");
        let d = diagnosis(object_ref(&test), &Labels::new(), &path);
        (test, d)
    }

    fn deny(types: &[&str]) -> Value {
        json!({"metadata": {"name": "default-deny", "namespace": "shop"},
            "spec": {"podSelector": {}, "policyTypes": types}})
    }

    #[test]
    fn default_deny_ingress_names_the_policy_the_side_and_a_policy_that_admits_the_test() {
        assert_eq!(objects(vec![]).1, None);
        let (_, d) = objects(vec![deny(&["Ingress"])]);
        let d = d.expect("diagnosed");
        assert!(
            d.cause.contains("test pod/web-test in namespace shop cannot connect to Service web:8080 (pods app=web port 8080/TCP)")
                && d.cause.contains("ingress to the Service's pods is isolated by NetworkPolicy shop/default-deny"),
            "{}",
            d.cause
        );
        assert!(!d.cause.contains("egress"), "{}", d.cause);
        assert!(
            d.fix
                .starts_with("label the test pod app.kubernetes.io/component=test"),
            "{}",
            d.fix
        );
        assert!(
            d.fix.contains("{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: web-allow-test, namespace: shop}, spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress], ingress: [{from: [{podSelector: {matchLabels: {app.kubernetes.io/component: test}}}], ports: [{protocol: TCP, port: 8080}]}]}}"),
            "{}",
            d.fix
        );
        assert!(!d.cause.contains('\n') && !d.fix.contains('\n'));
    }

    #[test]
    fn a_job_test_in_another_namespace_is_admitted_by_its_namespace_and_its_labels() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "smoke", "namespace": "tests"},
            "spec": {"template": {"metadata": {"labels": {"role": "smoke"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "t",
                    "command": ["nc", "-z", "-w", "3", "web.shop.svc", "8080"]}]}}}});
        let (pod, ns) = test_pod(&job).expect("a Job runs its template");
        assert_eq!(ns, "tests");
        let services = [json!({"metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080}]}})];
        let pods = [
            json!({"metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web"}]}}),
        ];
        let policies = [deny(&["Ingress"])];
        let facts = Facts {
            policies: Policies {
                policies: &policies,
                namespaces: &[],
            },
            services: &services,
            pods: &pods,
        };
        let path = trace(&pod, &ns, &facts).expect("traced");
        let d = diagnosis(
            object_ref(&job),
            &labels_at(&pod, "/metadata/labels"),
            &path,
        )
        .expect("diagnosed");
        assert!(
            d.cause.starts_with("the test job/smoke in namespace tests"),
            "{}",
            d.cause
        );
        assert!(
            d.fix.starts_with("add a NetworkPolicy allowing ingress to pods app=web on port 8080 from pods role=smoke of namespace tests")
                && d.fix.contains("namespace: shop}")
                && d.fix.contains("namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: tests}}"),
            "{}",
            d.fix
        );
    }

    #[test]
    fn a_namespace_whose_policies_isolate_the_app_gets_a_note_unless_the_app_ships_one() {
        let web = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}}}}});
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert_eq!(
            isolation_note("shop", &[], &[web.clone(), cm.clone()]),
            None
        );
        let note = isolation_note("shop", &[deny(&["Ingress", "Egress"])], &[web.clone(), cm])
            .expect("isolated");
        assert_eq!(
            note,
            "NetworkPolicy shop/default-deny isolates the app's pods (deployment/web) for ingress and egress in namespace shop and the app ships no NetworkPolicy: connections its tests and components make are refused unless a policy admits them"
        );
        // Another namespace's policy does not isolate the app.
        assert_eq!(
            isolation_note("other", &[deny(&["Ingress"])], std::slice::from_ref(&web)),
            None
        );
        let own = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "web"}, "spec": {"podSelector": {}}});
        assert_eq!(
            isolation_note("shop", &[deny(&["Ingress"])], &[web, own]),
            None
        );
    }

    #[test]
    fn default_deny_egress_is_diagnosed_as_the_dns_lookup_first() {
        let (_, d) = objects(vec![deny(&["Ingress", "Egress"])]);
        let d = d.expect("diagnosed");
        assert!(
            d.cause.contains(
                "cannot look up web: NetworkPolicy shop/default-deny isolates its egress"
            ) && d
                .cause
                .contains("ingress to the Service's pods is isolated"),
            "{}",
            d.cause
        );
        assert!(
            d.fix.contains("k8s-app: kube-dns") && d.fix.contains("port: 53"),
            "{}",
            d.fix
        );
        assert!(d.fix.contains("name: web-allow-test"), "{}", d.fix);
    }
}
