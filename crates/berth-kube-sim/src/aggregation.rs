//! The API aggregation layer: APIServices backed by a Service. The availability controller
//! sets `Available` (ServiceNotFound, MissingEndpoints, or Passed) as kube-aggregator does;
//! discovery lists each such group-version (aggregated discovery marks unavailable ones
//! `Stale`, legacy `/apis` lists them), and requests under an unavailable group-version are
//! answered `503 service unavailable`, which clients report as "the server is currently
//! unable to handle the request". No backend code runs: an available APIService serves an
//! empty resource list.

use crate::store::{Gr, Store};
use serde_json::{Value, json};
use std::sync::Arc;

fn apiservices() -> Gr {
    ("apiregistration.k8s.io".into(), "apiservices".into())
}

/// A Service-backed group-version and whether it is available.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregated {
    pub group: String,
    pub version: String,
    pub available: bool,
}

/// Service-backed APIServices for groups the simulator does not serve itself.
pub fn aggregated(store: &Store) -> Vec<Aggregated> {
    let mut out: Vec<Aggregated> = store
        .list(&apiservices(), None)
        .iter()
        .filter(|a| a["spec"]["service"].is_object())
        .filter_map(|a| {
            let group = a["spec"]["group"].as_str()?.to_string();
            let version = a["spec"]["version"].as_str()?.to_string();
            if store.types.iter().any(|t| t.group == group) {
                return None;
            }
            let available = a["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Available" && c["status"] == "True")
            });
            Some(Aggregated {
                group,
                version,
                available,
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.group, &a.version).cmp(&(&b.group, &b.version)));
    out
}

/// The Available condition's (status, reason, message) for one APIService.
fn availability(store: &Store, a: &Value) -> (bool, &'static str, String) {
    let svc = &a["spec"]["service"];
    let Some(name) = svc["name"].as_str() else {
        return (
            true,
            "Local",
            "Local APIServices are always available".into(),
        );
    };
    let ns = svc["namespace"].as_str().unwrap_or("default");
    let Some(service) = store.get_core("services", ns, name) else {
        return (
            false,
            "ServiceNotFound",
            format!("service/{name} in \"{ns}\" is not present"),
        );
    };
    let port = svc["port"].as_i64().unwrap_or(443);
    let port_name = service["spec"]["ports"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["port"].as_i64() == Some(port)))
        .map(|p| p["name"].as_str().unwrap_or("").to_string());
    let Some(port_name) = port_name else {
        return (
            false,
            "ServicePortError",
            format!("service/{name} in \"{ns}\" is not listening on port {port}"),
        );
    };
    let has_addresses = store
        .get_core("endpoints", ns, name)
        .and_then(|e| e["subsets"].as_array().cloned())
        .is_some_and(|subsets| {
            subsets.iter().any(|s| {
                s["addresses"].as_array().is_some_and(|a| !a.is_empty())
                    && s["ports"].as_array().is_some_and(|ps| {
                        ps.iter()
                            .any(|p| p["name"].as_str().unwrap_or("") == port_name)
                    })
            })
        });
    if !has_addresses {
        return (
            false,
            "MissingEndpoints",
            format!(
                "endpoints for service/{name} in \"{ns}\" have no addresses with port name \"{port_name}\""
            ),
        );
    }
    (true, "Passed", "all checks passed".into())
}

/// The availability controller: one pass over every APIService.
pub fn controller(store: &mut Store) {
    let g = apiservices();
    for a in store.list(&g, None) {
        let (ok, reason, message) = availability(store, &a);
        let prev = a["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Available"))
            .cloned()
            .unwrap_or(Value::Null);
        let status = if ok { "True" } else { "False" };
        if prev["status"] == status && prev["reason"] == reason && prev["message"] == message {
            continue;
        }
        let since = if prev["status"] == status {
            prev["lastTransitionTime"].clone()
        } else {
            json!(crate::store::now_str())
        };
        let mut o = (*a).clone();
        o["status"] = json!({"conditions": [{"type": "Available", "status": status,
            "lastTransitionTime": since, "reason": reason, "message": message}]});
        store.commit(&g, o, Some(Arc::clone(&a)));
    }
}

/// Whether `/apis/{group}/{version}` belongs to an unavailable APIService.
pub fn unavailable(store: &Store, group: &str, version: &str) -> bool {
    aggregated(store)
        .iter()
        .any(|a| a.group == group && a.version == version && !a.available)
}
