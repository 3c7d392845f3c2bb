//! The simulated network: NetworkPolicies decide the connection a pod that runs to completion
//! (a test hook, a Job) makes with `wget`, `curl` or `nc` to a Service. A refused connection
//! hangs until the client's timeout (scaled by the profile's `timeScale`), then the container
//! exits with the tool's own message. The semantics are berth-netpol's, shared with berth's
//! diagnosis. Also the profile's `networkPolicy.defaultDeny`: a NetworkPolicy `default-deny`
//! in every namespace created through the API. docs/formats/sim-profile.md §16.

use crate::store::Store;
use berth_netpol::path::{Facts, Path, Verdict, trace};
use berth_netpol::target::Tool;
use serde_json::{Value, json};
use std::time::Duration;

/// How long an unanswered connect takes without a client timeout: the kernel's SYN retries.
const KERNEL_CONNECT_TIMEOUT: f64 = 130.0;

/// How long a lookup takes when the DNS is unreachable: the resolver's 5 s timeout, 2 tries.
const RESOLVER_TIMEOUT: f64 = 10.0;

/// A container whose connection the policies refuse, and how it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// The container that connects.
    pub container: String,
    /// How long after the start it exits (already scaled).
    pub after: Duration,
    pub exit_code: i64,
    /// What it prints.
    pub log: String,
}

fn gr(plural: &str) -> (String, String) {
    let group = if plural == "networkpolicies" {
        "networking.k8s.io"
    } else {
        ""
    };
    (group.to_string(), plural.to_string())
}

/// The profile's `networkPolicy` objects for a namespace just created through the API: the
/// NetworkPolicy `default-deny`, in the same write as the namespace so no pod comes first.
pub fn namespace_defaults(store: &mut Store, ns: &str) {
    let Some(np) = store.profile.network_policy.clone() else {
        return;
    };
    crate::controllers::put_new(
        store,
        &gr("networkpolicies"),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": ns,
                "labels": {"app.kubernetes.io/managed-by": "cluster-policy"}},
            "spec": {"podSelector": {}, "policyTypes": np.default_deny}}),
    );
}

/// The pod's refused connection, if its command connects to a Service the namespaces'
/// NetworkPolicies keep it from. None at the cost of one lookup when no policy exists
/// anywhere (the common case).
pub fn refused(store: &Store, pod: &Value) -> Option<Refused> {
    let policies: Vec<Value> = store
        .list(&gr("networkpolicies"), None)
        .into_iter()
        .map(|p| (*p).clone())
        .collect();
    if policies.is_empty() {
        return None;
    }
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    berth_netpol::target::from_pod_spec(&pod["spec"])?;
    let owned = |plural: &str| -> Vec<Value> {
        store
            .list(&gr(plural), None)
            .into_iter()
            .map(|o| (*o).clone())
            .collect()
    };
    let (namespaces, services, pods) = (owned("namespaces"), owned("services"), owned("pods"));
    let facts = Facts {
        policies: berth_netpol::Policies {
            policies: &policies,
            namespaces: &namespaces,
        },
        services: &services,
        pods: &pods,
    };
    let path = trace(pod, ns, &facts)?;
    let cluster_ip = services
        .iter()
        .find(|s| {
            berth_netpol::str_at(s, "/metadata/name") == path.service_name
                && berth_netpol::str_at(s, "/metadata/namespace") == path.service_namespace
        })
        .map(|s| berth_netpol::str_at(s, "/spec/clusterIP").to_string())
        .unwrap_or_default();
    failure(&path, &cluster_ip, store.profile.time_scale)
}

/// How the client fails on a refused path, with the time scaled by `time_scale`.
fn failure(path: &Path, cluster_ip: &str, time_scale: f64) -> Option<Refused> {
    let t = &path.target;
    let host = &t.host;
    let port = path.service_port;
    let shown_ip = if cluster_ip.is_empty() {
        host.as_str()
    } else {
        cluster_ip
    };
    let (secs, exit_code, log) = match (&path.verdict, t.tool) {
        (Verdict::Allowed, _) => return None,
        (Verdict::DnsBlocked { .. }, Tool::Curl) => (
            RESOLVER_TIMEOUT,
            6,
            format!("curl: (6) Could not resolve host: {host}"),
        ),
        (Verdict::DnsBlocked { .. }, tool) => (
            RESOLVER_TIMEOUT,
            1,
            format!("{}: bad address '{host}'", tool.name()),
        ),
        (Verdict::Blocked(_), Tool::Wget) => match t.timeout_secs {
            Some(s) => (s, 1, "wget: download timed out".to_string()),
            None => (
                KERNEL_CONNECT_TIMEOUT,
                1,
                format!("wget: can't connect to remote host ({shown_ip}): Connection timed out"),
            ),
        },
        (Verdict::Blocked(_), Tool::Curl) => {
            let (s, why) = match t.timeout_secs {
                Some(s) => (s, "Timeout was reached"),
                None => (KERNEL_CONNECT_TIMEOUT, "Couldn't connect to server"),
            };
            (
                s,
                28,
                format!(
                    "curl: (28) Failed to connect to {host} port {port} after {} ms: {why}",
                    (s * 1000.0).round() as u64
                ),
            )
        }
        (Verdict::Blocked(_), Tool::Nc) => (
            t.timeout_secs.unwrap_or(KERNEL_CONNECT_TIMEOUT),
            1,
            format!("nc: can't connect to remote host ({shown_ip}): Connection timed out"),
        ),
    };
    Some(Refused {
        container: path.container.clone(),
        after: Duration::from_secs_f64((secs / time_scale).max(0.0)),
        exit_code,
        log,
    })
}
