//! The semantics on examples in the spirit of the Kubernetes NetworkPolicy documentation.

use super::path::{Facts, Verdict, trace};
use super::target::{Tool, from_words};
use super::*;
use serde_json::json;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pod(ns: &str, l: &[(&str, &str)]) -> Endpoint {
    Endpoint {
        namespace: ns.into(),
        labels: labels(l),
        ip: None,
    }
}

fn tcp(from: Endpoint, to: Endpoint, port: u16) -> Traffic {
    Traffic {
        from,
        to,
        port,
        port_name: String::new(),
        protocol: "TCP".into(),
    }
}

fn policy(ns: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

fn default_deny(ns: &str, types: &[&str]) -> Value {
    policy(
        ns,
        "default-deny",
        json!({"podSelector": {}, "policyTypes": types}),
    )
}

fn directions(b: &[Blocked]) -> Vec<Direction> {
    b.iter().map(|b| b.direction).collect()
}

#[test]
fn without_policies_everything_is_admitted() {
    let ctx = Policies {
        policies: &[],
        namespaces: &[],
    };
    let t = tcp(pod("a", &[("app", "x")]), pod("b", &[("app", "y")]), 80);
    assert!(evaluate(&ctx, &t).is_empty());
}

#[test]
fn default_deny_ingress_isolates_every_pod_of_its_namespace_only() {
    let policies = [default_deny("shop", &["Ingress"])];
    let ctx = Policies {
        policies: &policies,
        namespaces: &[],
    };
    let into_shop = tcp(
        pod("shop", &[("app", "t")]),
        pod("shop", &[("app", "web")]),
        80,
    );
    let b = evaluate(&ctx, &into_shop);
    assert_eq!(directions(&b), [Direction::Ingress]);
    assert_eq!(b[0].policies, ["shop/default-deny"]);
    // Egress is not isolated by an Ingress-only policy; other namespaces are untouched.
    let out_of_shop = tcp(pod("shop", &[]), pod("other", &[]), 80);
    assert!(evaluate(&ctx, &out_of_shop).is_empty());
}

/// A policy like the documentation's first example: `role=db` pods admit TCP 6379 from an IP
/// block (minus an exception), from namespaces labelled `project=myproject`, and from
/// `role=frontend` pods of their own namespace; they may reach 10.0.0.0/24 on TCP 5978.
fn db_policy() -> Value {
    policy(
        "default",
        "db-access",
        json!({
            "podSelector": {"matchLabels": {"role": "db"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{
                "from": [
                    {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                    {"namespaceSelector": {"matchLabels": {"project": "myproject"}}},
                    {"podSelector": {"matchLabels": {"role": "frontend"}}}
                ],
                "ports": [{"protocol": "TCP", "port": 6379}]
            }],
            "egress": [{
                "to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
                "ports": [{"protocol": "TCP", "port": 5978}]
            }]
        }),
    )
}

#[test]
fn peers_are_or_ed_and_ports_and_ip_blocks_restrict() {
    let policies = [db_policy()];
    let namespaces = [json!({"metadata": {"name": "proj", "labels": {"project": "myproject"}}})];
    let ctx = Policies {
        policies: &policies,
        namespaces: &namespaces,
    };
    let db = pod("default", &[("role", "db")]);
    let frontend = pod("default", &[("role", "frontend")]);
    assert!(evaluate(&ctx, &tcp(frontend.clone(), db.clone(), 6379)).is_empty());
    assert_eq!(
        directions(&evaluate(&ctx, &tcp(frontend, db.clone(), 6380))),
        [Direction::Ingress],
        "only 6379 is admitted"
    );
    // Any pod of a namespace labelled project=myproject.
    assert!(evaluate(&ctx, &tcp(pod("proj", &[]), db.clone(), 6379)).is_empty());
    // A frontend pod of another namespace is not `role=frontend` of the policy's namespace.
    let elsewhere = pod("elsewhere", &[("role", "frontend")]);
    assert!(!evaluate(&ctx, &tcp(elsewhere.clone(), db.clone(), 6379)).is_empty());
    // The IP block admits by address, minus its exception; an unknown address is outside.
    let mut by_ip = elsewhere.clone();
    by_ip.ip = Some("172.17.0.9".parse().unwrap());
    assert!(evaluate(&ctx, &tcp(by_ip.clone(), db.clone(), 6379)).is_empty());
    by_ip.ip = Some("172.17.1.9".parse().unwrap());
    assert!(!evaluate(&ctx, &tcp(by_ip, db.clone(), 6379)).is_empty());
    // Egress from db: only to 10.0.0.0/24 on 5978.
    let mut backup = pod("other", &[]);
    backup.ip = Some("10.0.0.7".parse().unwrap());
    assert!(evaluate(&ctx, &tcp(db.clone(), backup.clone(), 5978)).is_empty());
    let b = evaluate(&ctx, &tcp(db.clone(), backup, 22));
    assert_eq!(directions(&b), [Direction::Egress]);
    assert_eq!(b[0].policies, ["default/db-access"]);
}

#[test]
fn namespace_and_pod_selector_in_one_peer_are_and_ed() {
    let and = policy(
        "default",
        "and",
        json!({"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"user": "alice"}},
             "podSelector": {"matchLabels": {"role": "client"}}}
        ]}]}),
    );
    let namespaces = [
        json!({"metadata": {"name": "alice-ns", "labels": {"user": "alice"}}}),
        json!({"metadata": {"name": "bob-ns", "labels": {"user": "bob"}}}),
    ];
    let ctx = Policies {
        policies: std::slice::from_ref(&and),
        namespaces: &namespaces,
    };
    let dest = pod("default", &[("app", "web")]);
    let client = |ns: &str, role: &str| pod(ns, &[("role", role)]);
    assert!(evaluate(&ctx, &tcp(client("alice-ns", "client"), dest.clone(), 80)).is_empty());
    assert!(!evaluate(&ctx, &tcp(client("alice-ns", "server"), dest.clone(), 80)).is_empty());
    assert!(!evaluate(&ctx, &tcp(client("bob-ns", "client"), dest.clone(), 80)).is_empty());
    // The same selectors as two peers admit either.
    let or = policy(
        "default",
        "or",
        json!({"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"user": "alice"}}},
            {"podSelector": {"matchLabels": {"role": "client"}}}
        ]}]}),
    );
    let ctx = Policies {
        policies: std::slice::from_ref(&or),
        namespaces: &namespaces,
    };
    assert!(evaluate(&ctx, &tcp(client("alice-ns", "server"), dest.clone(), 80)).is_empty());
    assert!(evaluate(&ctx, &tcp(client("default", "client"), dest.clone(), 80)).is_empty());
    assert!(!evaluate(&ctx, &tcp(client("bob-ns", "client"), dest, 80)).is_empty());
}

#[test]
fn match_expressions_and_the_namespace_name_label() {
    let l = labels(&[("tier", "web"), ("env", "prod")]);
    let sel = |e: Value| json!({"matchExpressions": [e]});
    assert!(selector_matches(
        &sel(json!({"key": "tier", "operator": "In", "values": ["web", "api"]})),
        &l
    ));
    assert!(!selector_matches(
        &sel(json!({"key": "tier", "operator": "NotIn", "values": ["web"]})),
        &l
    ));
    assert!(selector_matches(
        &sel(json!({"key": "team", "operator": "NotIn", "values": ["x"]})),
        &l
    ));
    assert!(selector_matches(
        &sel(json!({"key": "env", "operator": "Exists"})),
        &l
    ));
    assert!(!selector_matches(
        &sel(json!({"key": "env", "operator": "DoesNotExist"})),
        &l
    ));
    assert!(!selector_matches(
        &json!({"matchLabels": {"env": "prod"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]}),
        &l
    ));
    // A namespace not listed still carries kubernetes.io/metadata.name.
    let p = policy(
        "shop",
        "from-monitoring",
        json!({"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "monitoring"}}}]}]}),
    );
    let ctx = Policies {
        policies: std::slice::from_ref(&p),
        namespaces: &[],
    };
    let web = pod("shop", &[("app", "web")]);
    assert!(evaluate(&ctx, &tcp(pod("monitoring", &[]), web.clone(), 9090)).is_empty());
    assert!(!evaluate(&ctx, &tcp(pod("default", &[]), web, 9090)).is_empty());
    // Pods the expression does not select are not isolated.
    assert!(
        evaluate(
            &ctx,
            &tcp(pod("default", &[]), pod("shop", &[("app", "db")]), 5432)
        )
        .is_empty()
    );
}

#[test]
fn named_ports_port_ranges_and_protocols() {
    let p = policy(
        "default",
        "ports",
        json!({"podSelector": {}, "ingress": [{"ports": [
            {"port": "http"},
            {"protocol": "TCP", "port": 32000, "endPort": 32768},
            {"protocol": "UDP", "port": 53}
        ]}]}),
    );
    let ctx = Policies {
        policies: std::slice::from_ref(&p),
        namespaces: &[],
    };
    let mut t = tcp(pod("default", &[]), pod("default", &[]), 8080);
    assert!(!evaluate(&ctx, &t).is_empty(), "8080 is not named http");
    t.port_name = "http".into();
    assert!(evaluate(&ctx, &t).is_empty());
    t.port_name.clear();
    t.port = 32500;
    assert!(evaluate(&ctx, &t).is_empty());
    t.port = 32769;
    assert!(!evaluate(&ctx, &t).is_empty());
    t.port = 53;
    assert!(
        !evaluate(&ctx, &t).is_empty(),
        "53 is admitted for UDP only"
    );
    t.protocol = "UDP".into();
    assert!(evaluate(&ctx, &t).is_empty());
}

#[test]
fn policy_types_default_to_ingress_plus_egress_when_egress_rules_exist() {
    assert_eq!(
        policy_types(&json!({"spec": {"podSelector": {}}})),
        [Direction::Ingress]
    );
    assert_eq!(
        policy_types(&json!({"spec": {"podSelector": {}, "egress": [{}]}})),
        [Direction::Ingress, Direction::Egress]
    );
    assert_eq!(
        policy_types(&json!({"spec": {"policyTypes": ["Egress"], "ingress": [{}]}})),
        [Direction::Egress]
    );
}

/// A test pod in `shop` that runs `wget -T 5 -qO- http://web:8080/`, the `web` Service and
/// its pod (container port 8080 named `http`).
fn shop_objects() -> (Value, Vec<Value>, Vec<Value>) {
    let test = json!({"metadata": {"name": "web-test", "namespace": "shop",
            "labels": {"app.kubernetes.io/component": "test"}},
        "spec": {"containers": [{"name": "test", "image": "busybox",
            "command": ["wget", "-T", "5", "-qO-", "http://web:8080/"]}]}});
    let services = vec![json!({"metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.20",
            "ports": [{"port": 8080, "targetPort": "http"}]}})];
    let pods = vec![
        json!({"metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "ports": [{"name": "http", "containerPort": 8080}]}]},
        "status": {"phase": "Running"}}),
    ];
    (test, services, pods)
}

#[test]
fn a_test_pod_needs_dns_egress_then_egress_and_ingress_to_the_service_pods() {
    let (test, services, pods) = shop_objects();
    let trace_with = |policies: &[Value]| {
        let facts = Facts {
            policies: Policies {
                policies,
                namespaces: &[],
            },
            services: &services,
            pods: &pods,
        };
        trace(&test, "shop", &facts).expect("the command names the web Service")
    };
    let open = trace_with(&[]);
    assert_eq!(open.verdict, Verdict::Allowed);
    assert_eq!(
        (open.service_name.as_str(), open.service_port),
        ("web", 8080)
    );
    assert_eq!((open.pod_port, open.pod_port_name.as_str()), (8080, "http"));

    let mut policies = vec![default_deny("shop", &["Ingress", "Egress"])];
    let p = trace_with(&policies);
    let Verdict::DnsBlocked { dns, connection } = &p.verdict else {
        panic!("{:?}", p.verdict)
    };
    assert_eq!(dns[0].policies, ["shop/default-deny"]);
    assert_eq!(
        directions(connection),
        [Direction::Egress, Direction::Ingress]
    );

    policies.push(policy(
        "shop",
        "allow-dns",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
            "to": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}),
    ));
    let p = trace_with(&policies);
    let Verdict::Blocked(b) = &p.verdict else {
        panic!("{:?}", p.verdict)
    };
    assert_eq!(directions(b), [Direction::Egress, Direction::Ingress]);
    assert_eq!(b[0].policies, ["shop/default-deny", "shop/allow-dns"]);

    // Admit the test pod out to web's named port, and web in from the test pod.
    policies.push(policy(
        "shop",
        "allow-test",
        json!({"podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/component": "test"}}}],
                         "ports": [{"port": "http"}]}]}),
    ));
    let p = trace_with(&policies);
    assert!(matches!(&p.verdict, Verdict::Blocked(b) if directions(b) == [Direction::Egress]));
    policies.push(policy(
        "shop",
        "test-egress",
        json!({"podSelector": {"matchLabels": {"app.kubernetes.io/component": "test"}},
            "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]}),
    ));
    assert_eq!(trace_with(&policies).verdict, Verdict::Allowed);
}

#[test]
fn commands_name_their_target_host_port_and_timeout() {
    let w = |s: &[&str]| from_words(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>());
    let t = w(&["wget", "-qO-", "-T", "5", "http://web:8080/healthz"]).unwrap();
    assert_eq!(
        (t.tool, t.host.as_str(), t.port, t.timeout_secs),
        (Tool::Wget, "web", Some(8080), Some(5.0))
    );
    let t = w(&[
        "sh",
        "-c",
        "sleep 1 && curl -sf --connect-timeout 3 https://api.shop.svc.cluster.local/x",
    ])
    .unwrap();
    assert_eq!(
        (t.tool, t.host.as_str(), t.port, t.timeout_secs),
        (
            Tool::Curl,
            "api.shop.svc.cluster.local",
            Some(443),
            Some(3.0)
        )
    );
    assert_eq!(
        t.service("default"),
        Some(("api".to_string(), "shop".to_string()))
    );
    let t = w(&["/bin/sh", "-c", "nc -z -w2 db 5432 || exit 1"]).unwrap();
    assert_eq!(
        (t.tool, t.host.as_str(), t.port, t.timeout_secs),
        (Tool::Nc, "db", Some(5432), Some(2.0))
    );
    let t = w(&["wget", "-O", "/dev/null", "web.shop:9000"]).unwrap();
    assert_eq!(
        (t.host.as_str(), t.port, t.timeout_secs),
        ("web.shop", Some(9000), None)
    );
    assert_eq!(
        t.service("x"),
        Some(("web".to_string(), "shop".to_string()))
    );
    assert_eq!(w(&["echo", "http://web/"]), None);
    assert_eq!(w(&["nc", "db"]), None, "nc needs a port");
    let t = w(&["curl", "https://www.example.com/"]).unwrap();
    assert_eq!(t.service("x"), None, "a name outside the cluster");
    // NAME.NS is how the cluster's search path reads two labels (a Service in namespace com).
    let t = w(&["curl", "https://example.com/"]).unwrap();
    assert_eq!(t.service("x"), Some(("example".into(), "com".into())));
}
