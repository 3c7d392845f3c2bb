//! NetworkPolicy semantics (`networking.k8s.io/v1`), as pure functions over the API's JSON:
//!
//! - [`evaluate`]: whether one connection between two pods is admitted, and if not, which
//!   policies isolate the source for egress or the destination for ingress without a rule that
//!   admits it;
//! - [`target`]: the host and port a container's command (`wget`, `curl`, `nc`) connects to;
//! - [`path`]: from a client pod to the pods behind the Service it names, with the DNS lookup
//!   before it.
//!
//! The simulated cluster uses them to let a test pod's connection through or time it out, and
//! berth's diagnosis uses the same functions on what it reads from a real cluster.

pub mod path;
pub mod target;

use serde_json::Value;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Labels of a pod or namespace.
pub type Labels = BTreeMap<String, String>;

/// One end of a connection: a pod's namespace, labels and (when known) IP.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Endpoint {
    pub namespace: String,
    pub labels: Labels,
    pub ip: Option<Ipv4Addr>,
}

/// A connection from one pod to a port of another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traffic {
    pub from: Endpoint,
    pub to: Endpoint,
    /// The destination container port number.
    pub port: u16,
    /// That port's name in the destination container (empty when unnamed).
    pub port_name: String,
    /// TCP, UDP or SCTP.
    pub protocol: String,
}

/// Which side of a connection a policy isolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Direction {
    /// Traffic into the destination pod.
    Ingress,
    /// Traffic out of the source pod.
    Egress,
}

impl Direction {
    /// `Ingress` or `Egress`, as in `policyTypes`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        }
    }
}

/// One side that refuses the connection: the pod is isolated for `direction` by `policies`
/// (`namespace/name`), and none of their rules admits the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub direction: Direction,
    pub policies: Vec<String>,
}

/// The policies and namespaces a verdict depends on (at least those of both ends).
#[derive(Debug, Clone, Copy)]
pub struct Policies<'a> {
    /// NetworkPolicy objects.
    pub policies: &'a [Value],
    /// Namespace objects (for `namespaceSelector`); a namespace not among them still has its
    /// `kubernetes.io/metadata.name` label.
    pub namespaces: &'a [Value],
}

/// The label every namespace carries with its own name (Kubernetes sets it since 1.21).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

impl Policies<'_> {
    /// A namespace's labels, with its name label.
    pub fn namespace_labels(&self, ns: &str) -> Labels {
        let mut l: Labels = self
            .namespaces
            .iter()
            .find(|n| str_at(n, "/metadata/name") == ns)
            .map(|n| labels_at(n, "/metadata/labels"))
            .unwrap_or_default();
        l.insert(NAMESPACE_NAME_LABEL.into(), ns.into());
        l
    }

    /// The policies isolating `pod` for `direction` (they select it and list that type).
    pub fn isolating<'p>(&'p self, pod: &Endpoint, direction: Direction) -> Vec<&'p Value> {
        self.policies
            .iter()
            .filter(|p| str_at(p, "/metadata/namespace") == pod.namespace)
            .filter(|p| policy_types(p).contains(&direction))
            .filter(|p| {
                p.pointer("/spec/podSelector")
                    .is_none_or(|s| selector_matches(s, &pod.labels))
            })
            .collect()
    }
}

/// A string at a JSON pointer, or "".
pub fn str_at<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// A label map at a JSON pointer (non-string values are skipped).
pub fn labels_at(v: &Value, p: &str) -> Labels {
    v.pointer(p)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

/// `namespace/name` of an object.
pub fn qualified_name(o: &Value) -> String {
    format!(
        "{}/{}",
        str_at(o, "/metadata/namespace"),
        str_at(o, "/metadata/name")
    )
}

/// The policy's `policyTypes`, or its default: Ingress, plus Egress when it has egress rules.
pub fn policy_types(policy: &Value) -> Vec<Direction> {
    let listed: Vec<Direction> = policy
        .pointer("/spec/policyTypes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| match t.as_str()? {
            "Ingress" => Some(Direction::Ingress),
            "Egress" => Some(Direction::Egress),
            _ => None,
        })
        .collect();
    if !listed.is_empty() {
        return listed;
    }
    let mut out = vec![Direction::Ingress];
    if policy
        .pointer("/spec/egress")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        out.push(Direction::Egress);
    }
    out
}

/// Whether a LabelSelector (`matchLabels` and `matchExpressions`, ANDed) matches `labels`.
/// The empty selector matches everything.
pub fn selector_matches(selector: &Value, labels: &Labels) -> bool {
    let by_label = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
    by_label
        && selector
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .all(|e| expression_matches(e, labels))
}

fn expression_matches(e: &Value, labels: &Labels) -> bool {
    let key = str_at(e, "/key");
    let values: Vec<&str> = e
        .get("values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let got = labels.get(key).map(String::as_str);
    match str_at(e, "/operator") {
        "In" => got.is_some_and(|g| values.contains(&g)),
        "NotIn" => got.is_none_or(|g| !values.contains(&g)),
        "Exists" => got.is_some(),
        "DoesNotExist" => got.is_none(),
        // An operator the API server would refuse selects nothing.
        _ => false,
    }
}

/// Whether an IPv4 address lies in a CIDR (`10.0.0.0/8`); false for IPv6 or bad text.
pub fn cidr_contains(cidr: &str, ip: Ipv4Addr) -> bool {
    let (net, bits) = cidr.split_once('/').unwrap_or((cidr, "32"));
    let (Ok(net), Ok(bits)) = (net.parse::<Ipv4Addr>(), bits.parse::<u32>()) else {
        return false;
    };
    if bits > 32 {
        return false;
    }
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from(net) & mask == u32::from(ip) & mask
}

/// Whether a rule's peer (`from` / `to` item) of a policy in `policy_ns` is `peer`.
fn peer_matches(ctx: &Policies, policy_ns: &str, rule_peer: &Value, peer: &Endpoint) -> bool {
    if let Some(block) = rule_peer.get("ipBlock") {
        // Pod IPs count only when the pod's IP is known and inside the block.
        let Some(ip) = peer.ip else {
            return false;
        };
        let inside = cidr_contains(str_at(block, "/cidr"), ip);
        let excepted = block
            .get("except")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|c| cidr_contains(c, ip));
        return inside && !excepted;
    }
    let pods = rule_peer.get("podSelector");
    let namespaces = rule_peer.get("namespaceSelector");
    if pods.is_none() && namespaces.is_none() {
        return false;
    }
    let ns_ok = match namespaces {
        Some(sel) => selector_matches(sel, &ctx.namespace_labels(&peer.namespace)),
        None => peer.namespace == policy_ns,
    };
    ns_ok && pods.is_none_or(|sel| selector_matches(sel, &peer.labels))
}

/// Whether a rule's `ports` item admits the connection's port.
fn port_matches(rule_port: &Value, t: &Traffic) -> bool {
    let protocol = rule_port
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("TCP");
    if !protocol.eq_ignore_ascii_case(&t.protocol) {
        return false;
    }
    match rule_port.get("port") {
        None | Some(Value::Null) => true,
        Some(Value::String(name)) => match name.parse::<u16>() {
            Ok(n) => n == t.port,
            Err(_) => !t.port_name.is_empty() && *name == t.port_name,
        },
        Some(n) => {
            let Some(first) = n.as_u64() else {
                return false;
            };
            let last = rule_port
                .get("endPort")
                .and_then(Value::as_u64)
                .unwrap_or(first);
            (first..=last).contains(&u64::from(t.port))
        }
    }
}

/// Whether one ingress or egress rule admits the connection (`peers_key` is `from` or `to`).
fn rule_admits(
    ctx: &Policies,
    policy_ns: &str,
    rule: &Value,
    peers_key: &str,
    peer: &Endpoint,
    t: &Traffic,
) -> bool {
    let peers_ok = match rule.get(peers_key).and_then(Value::as_array) {
        None => true,
        Some(list) if list.is_empty() => true,
        Some(list) => list.iter().any(|p| peer_matches(ctx, policy_ns, p, peer)),
    };
    let ports_ok = match rule.get("ports").and_then(Value::as_array) {
        None => true,
        Some(list) if list.is_empty() => true,
        Some(list) => list.iter().any(|p| port_matches(p, t)),
    };
    peers_ok && ports_ok
}

/// Whether one side admits the connection; the isolating policies when it does not.
fn side(ctx: &Policies, t: &Traffic, direction: Direction) -> Option<Blocked> {
    let (pod, peer, rules_key, peers_key) = match direction {
        Direction::Ingress => (&t.to, &t.from, "ingress", "from"),
        Direction::Egress => (&t.from, &t.to, "egress", "to"),
    };
    let isolating = ctx.isolating(pod, direction);
    if isolating.is_empty() {
        return None;
    }
    let admitted = isolating.iter().any(|p| {
        let policy_ns = str_at(p, "/metadata/namespace");
        p.pointer(&format!("/spec/{rules_key}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|r| rule_admits(ctx, policy_ns, r, peers_key, peer, t))
    });
    (!admitted).then(|| Blocked {
        direction,
        policies: isolating.iter().map(|p| qualified_name(p)).collect(),
    })
}

/// The sides that refuse the connection: egress at the source, then ingress at the
/// destination. Empty when it is admitted (both sides must admit it).
pub fn evaluate(ctx: &Policies, t: &Traffic) -> Vec<Blocked> {
    [Direction::Egress, Direction::Ingress]
        .into_iter()
        .filter_map(|d| side(ctx, t, d))
        .collect()
}

#[cfg(test)]
mod tests;
