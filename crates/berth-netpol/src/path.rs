//! From a client pod to the pods behind the Service its command names: the DNS lookup (UDP 53
//! to the cluster DNS pods, when the host is a name) and then the connection to each endpoint
//! pod's target port, each through [`crate::evaluate`].

use crate::target::{self, Target};
use crate::{
    Blocked, Endpoint, Labels, Policies, Traffic, evaluate, labels_at, selector_matches, str_at,
};
use serde_json::{Value, json};

/// What the verdict is computed from: the objects of the namespaces involved.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub policies: Policies<'a>,
    /// Services (at least those of the target's namespace).
    pub services: &'a [Value],
    /// Pods (at least those of the target's namespace).
    pub pods: &'a [Value],
}

/// The labels of the cluster DNS pods (CoreDNS keeps kube-dns's label).
pub const DNS_LABELS: [(&str, &str); 1] = [("k8s-app", "kube-dns")];

/// The namespace of the cluster DNS pods.
pub const DNS_NAMESPACE: &str = "kube-system";

/// The Service and port a client reaches, and whether the policies let it through.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The container whose command connects.
    pub container: String,
    pub target: Target,
    pub service_namespace: String,
    pub service_name: String,
    /// The Service port (as the client addresses it).
    pub service_port: u16,
    /// The destination container port number and name (empty when unnamed).
    pub pod_port: u16,
    pub pod_port_name: String,
    pub protocol: String,
    /// Labels of the first endpoint pod.
    pub pod_labels: Labels,
    /// The Service's selector (how a policy selects its pods).
    pub service_selector: Labels,
    pub verdict: Verdict,
}

/// Whether the connection goes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// The name lookup is refused: egress to the cluster DNS is not admitted (`dns`); what the
    /// connection itself would then meet (`connection`, empty when admitted).
    DnsBlocked {
        dns: Vec<Blocked>,
        connection: Vec<Blocked>,
    },
    /// The connection to every endpoint pod is refused; the first pod's refusals.
    Blocked(Vec<Blocked>),
}

impl Path {
    /// Whether the policies refuse this path.
    pub fn blocked(&self) -> bool {
        self.verdict != Verdict::Allowed
    }
}

/// The client end of a connection from a pod (or a pod template, with `namespace`).
pub fn endpoint_of(pod: &Value, namespace: &str) -> Endpoint {
    Endpoint {
        namespace: namespace.to_string(),
        labels: labels_at(pod, "/metadata/labels"),
        ip: str_at(pod, "/status/podIP").parse().ok(),
    }
}

/// The cluster DNS as a destination (UDP 53).
pub fn dns_traffic(from: &Endpoint) -> Traffic {
    Traffic {
        from: from.clone(),
        to: Endpoint {
            namespace: DNS_NAMESPACE.into(),
            labels: DNS_LABELS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ip: None,
        },
        port: 53,
        port_name: "dns".into(),
        protocol: "UDP".into(),
    }
}

/// The path of the first connection `pod` (in `namespace`) makes to a Service, if its command
/// names one that exists and has endpoint pods. `pod` may be a Pod or a pod template.
pub fn trace(pod: &Value, namespace: &str, facts: &Facts) -> Option<Path> {
    let (container, target) = target::from_pod_spec(pod.get("spec")?)?;
    let (svc, port) = find_service(&target, namespace, facts.services)?;
    let service_namespace = str_at(svc, "/metadata/namespace").to_string();
    let service_port = port.get("port").and_then(Value::as_u64)? as u16;
    let protocol = port
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("TCP")
        .to_string();
    let selector = svc
        .pointer("/spec/selector")
        .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))?;
    let backends: Vec<(&Value, u16, String)> = facts
        .pods
        .iter()
        .filter(|p| str_at(p, "/metadata/namespace") == service_namespace)
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .filter(|p| !matches!(str_at(p, "/status/phase"), "Succeeded" | "Failed"))
        .filter(|p| {
            selector_matches(
                &json!({"matchLabels": selector}),
                &labels_at(p, "/metadata/labels"),
            )
        })
        .filter_map(|p| {
            let (n, name) = container_port(p, port.get("targetPort"), service_port, &protocol)?;
            Some((p, n, name))
        })
        .collect();
    let from = endpoint_of(pod, namespace);
    let first = backends.first()?;
    let mut path = Path {
        container,
        service_namespace,
        service_name: str_at(svc, "/metadata/name").to_string(),
        service_port,
        pod_port: first.1,
        pod_port_name: first.2.clone(),
        protocol: protocol.clone(),
        pod_labels: labels_at(first.0, "/metadata/labels"),
        service_selector: labels_at(svc, "/spec/selector"),
        verdict: Verdict::Allowed,
        target,
    };
    let dns = if path.target.host.parse::<std::net::Ipv4Addr>().is_err() {
        evaluate(&facts.policies, &dns_traffic(&from))
    } else {
        Vec::new()
    };
    let connection = connect(&from, &backends, &protocol, facts);
    path.verdict = match (dns.is_empty(), connection) {
        (true, None) => Verdict::Allowed,
        (true, Some(c)) => Verdict::Blocked(c),
        (false, c) => Verdict::DnsBlocked {
            dns,
            connection: c.unwrap_or_default(),
        },
    };
    Some(path)
}

/// None when some backend admits the connection, else the first backend's refusals.
fn connect(
    from: &Endpoint,
    backends: &[(&Value, u16, String)],
    protocol: &str,
    facts: &Facts,
) -> Option<Vec<Blocked>> {
    let mut refusals = None;
    for (pod, n, name) in backends {
        let t = Traffic {
            from: from.clone(),
            to: endpoint_of(pod, str_at(pod, "/metadata/namespace")),
            port: *n,
            port_name: name.clone(),
            protocol: protocol.to_string(),
        };
        let blocked = evaluate(&facts.policies, &t);
        if blocked.is_empty() {
            return None;
        }
        refusals.get_or_insert(blocked);
    }
    refusals
}

/// The Service the target names (by DNS name or cluster IP) and the port it addresses.
fn find_service<'a>(
    target: &Target,
    namespace: &str,
    services: &'a [Value],
) -> Option<(&'a Value, &'a Value)> {
    let svc = match target.service(namespace) {
        Some((name, ns)) => services.iter().find(|s| {
            str_at(s, "/metadata/name") == name && str_at(s, "/metadata/namespace") == ns
        })?,
        None => services
            .iter()
            .find(|s| str_at(s, "/spec/clusterIP") == target.host)?,
    };
    let ports = svc.pointer("/spec/ports").and_then(Value::as_array)?;
    let port = match target.port {
        Some(p) => ports
            .iter()
            .find(|x| x.get("port").and_then(Value::as_u64) == Some(u64::from(p)))?,
        None => ports.first()?,
    };
    Some((svc, port))
}

/// The container port (number, name) a Service's `targetPort` reaches in `pod`.
fn container_port(
    pod: &Value,
    target_port: Option<&Value>,
    service_port: u16,
    protocol: &str,
) -> Option<(u16, String)> {
    let ports: Vec<&Value> = ["/spec/containers"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.get("ports").and_then(Value::as_array))
        .flatten()
        .filter(|p| {
            p.get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("TCP")
                .eq_ignore_ascii_case(protocol)
        })
        .collect();
    let name_of = |n: u16| {
        ports
            .iter()
            .find(|p| p.get("containerPort").and_then(Value::as_u64) == Some(u64::from(n)))
            .map(|p| str_at(p, "/name").to_string())
            .unwrap_or_default()
    };
    match target_port {
        Some(Value::String(name)) => match name.parse::<u16>() {
            Ok(n) => Some((n, name_of(n))),
            Err(_) => ports.iter().find(|p| str_at(p, "/name") == name).map(|p| {
                (
                    p.get("containerPort").and_then(Value::as_u64).unwrap_or(0) as u16,
                    name.clone(),
                )
            }),
        },
        Some(v) => {
            let n = v.as_u64().map_or(service_port, |n| n as u16);
            Some((n, name_of(n)))
        }
        None => Some((service_port, name_of(service_port))),
    }
}
