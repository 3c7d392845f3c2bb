//! What carries traffic into a simulated cluster besides Ingress: the Gateway API (its
//! standard-channel CRDs, a GatewayClass and Gateways from the profile), Istio's
//! `networking.istio.io` CRDs with an `istio-ingressgateway` Service, and OpenShift Routes
//! (served with the `openshift` distribution). Their controllers write the status real ones
//! write: a Gateway `Accepted`/`Programmed` with an address, an HTTPRoute's `parents` entry
//! (`Accepted`, `ResolvedRefs`) from the Gateway's controller, a Route `Admitted` by the
//! default router.

use crate::controllers::{cond, gr, put_new, set_status};
use crate::store::{Gr, Store};
use serde_json::{Value, json};

/// The address the simulated load balancers hand out (as Ingresses get).
const LB_IP: &str = "172.18.0.2";
/// The domain the simulated OpenShift router generates Route hosts under.
pub const ROUTER_DOMAIN: &str = "apps.sim.example";

/// A CustomResourceDefinition whose versions keep whatever fields they are given (the
/// simulator checks shapes of built-in kinds only).
fn crd(
    group: &str,
    kind: &str,
    plural: &str,
    scope: &str,
    versions: &[&str],
    short: &[&str],
) -> Value {
    let schema = json!({"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}});
    let versions: Vec<Value> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            json!({"name": v, "served": true, "storage": i == 0, "schema": schema,
                   "subresources": {"status": {}}})
        })
        .collect();
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(),
                      "listKind": format!("{kind}List"), "shortNames": short},
            "versions": versions,
        },
    })
}

/// Gateway API v1.2 standard channel: GatewayClass, Gateway, HTTPRoute (v1 and v1beta1),
/// ReferenceGrant (v1beta1).
pub fn gateway_api_crds() -> Vec<Value> {
    let g = "gateway.networking.k8s.io";
    vec![
        crd(
            g,
            "GatewayClass",
            "gatewayclasses",
            "Cluster",
            &["v1", "v1beta1"],
            &["gc"],
        ),
        crd(
            g,
            "Gateway",
            "gateways",
            "Namespaced",
            &["v1", "v1beta1"],
            &["gtw"],
        ),
        crd(
            g,
            "HTTPRoute",
            "httproutes",
            "Namespaced",
            &["v1", "v1beta1"],
            &[],
        ),
        crd(
            g,
            "ReferenceGrant",
            "referencegrants",
            "Namespaced",
            &["v1beta1"],
            &["refgrant"],
        ),
    ]
}

/// Istio's networking CRDs (v1 since Istio 1.22, v1beta1 and v1alpha3 still served).
pub fn istio_crds() -> Vec<Value> {
    let g = "networking.istio.io";
    let v = &["v1", "v1beta1", "v1alpha3"][..];
    vec![
        crd(g, "Gateway", "gateways", "Namespaced", v, &["gw"]),
        crd(
            g,
            "VirtualService",
            "virtualservices",
            "Namespaced",
            v,
            &["vs"],
        ),
        crd(
            g,
            "DestinationRule",
            "destinationrules",
            "Namespaced",
            v,
            &["dr"],
        ),
    ]
}

/// The profile's CRDs for what it offers (before the CRDs are established).
pub fn profile_crds(p: &crate::profile::Profile) -> Vec<Value> {
    let mut out = Vec::new();
    if p.gateway_api || !p.gateways.is_empty() {
        out.extend(gateway_api_crds());
    }
    if p.istio {
        out.extend(istio_crds());
    }
    out
}

/// The GatewayClasses, Gateways and Istio's ingress gateway the profile offers (after the
/// CRDs are established).
pub fn seed(store: &mut Store) {
    let p = store.profile.clone();
    let mut classes: Vec<(String, String)> = Vec::new();
    for g in &p.gateways {
        if !classes.iter().any(|(n, _)| *n == g.gateway_class_name) {
            classes.push((g.gateway_class_name.clone(), g.controller_name.clone()));
        }
        put_new(
            store,
            &gr("", "namespaces"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": g.namespace}}),
        );
    }
    for (name, controller) in classes {
        put_new(
            store,
            &gr("gateway.networking.k8s.io", "gatewayclasses"),
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                   "metadata": {"name": name}, "spec": {"controllerName": controller}}),
        );
    }
    for g in &p.gateways {
        put_new(
            store,
            &gr("gateway.networking.k8s.io", "gateways"),
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": g.name, "namespace": g.namespace},
            "spec": {"gatewayClassName": g.gateway_class_name, "listeners": [
                {"name": "http", "protocol": "HTTP", "port": 80,
                 "allowedRoutes": {"namespaces": {"from": "All"}}},
            ]}}),
        );
    }
    if p.istio {
        put_new(
            store,
            &gr("", "namespaces"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}}),
        );
        put_new(
            store,
            &gr("", "services"),
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system",
                                "labels": {"app": "istio-ingressgateway", "istio": "ingressgateway"}},
                   "spec": {"type": "LoadBalancer",
                            "selector": {"app": "istio-ingressgateway", "istio": "ingressgateway"},
                            "ports": [{"name": "http2", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                                      {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"}]}}),
        );
    }
}

/// One pass of the Gateway API and Route controllers.
pub fn tick(store: &mut Store) {
    gateways(store);
    http_routes(store);
    routes(store);
}

fn gateways(store: &mut Store) {
    let g = gr("gateway.networking.k8s.io", "gateways");
    for gw in store.list(&g, None) {
        let class = gw["spec"]["gatewayClassName"].as_str().unwrap_or("");
        if store
            .get(
                &gr("gateway.networking.k8s.io", "gatewayclasses"),
                "",
                class,
            )
            .is_none()
        {
            continue; // no controller owns it: real Gateways keep an empty status
        }
        let prev = &gw["status"]["conditions"];
        let mut status = json!({
            "addresses": [{"type": "IPAddress", "value": LB_IP}],
            "conditions": [
                cond("Accepted", true, "Accepted", "Resource accepted", prev),
                cond("Programmed", true, "Programmed", "Resource programmed", prev),
            ],
        });
        status["listeners"] = json!(gw["spec"]["listeners"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| json!({"name": l["name"], "attachedRoutes": 0,
                "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                "conditions": [cond("Accepted", true, "Accepted", "Listener accepted", &Value::Null),
                               cond("Programmed", true, "Programmed", "Listener programmed", &Value::Null)]}))
            .collect::<Vec<_>>());
        // Keep the times of unchanged conditions so the status settles.
        if let Some(old) = gw["status"]["listeners"].as_array()
            && old.len() == status["listeners"].as_array().map_or(0, Vec::len)
        {
            status["listeners"] = Value::Array(old.clone());
        }
        set_status(store, &g, &gw, status);
    }
}

/// The Gateway an HTTPRoute's parentRef names, and its GatewayClass's controller.
fn parent_controller(store: &Store, route_ns: &str, parent: &Value) -> Option<String> {
    if parent["kind"].as_str().is_some_and(|k| k != "Gateway") {
        return None;
    }
    let ns = parent["namespace"].as_str().unwrap_or(route_ns);
    let gw = store.get(
        &gr("gateway.networking.k8s.io", "gateways"),
        ns,
        parent["name"].as_str()?,
    )?;
    let class = store.get(
        &gr("gateway.networking.k8s.io", "gatewayclasses"),
        "",
        gw["spec"]["gatewayClassName"].as_str()?,
    )?;
    class["spec"]["controllerName"].as_str().map(str::to_string)
}

fn http_routes(store: &mut Store) {
    let g: Gr = gr("gateway.networking.k8s.io", "httproutes");
    for route in store.list(&g, None) {
        let ns = route["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let missing: Vec<String> = route["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["backendRefs"].as_array().cloned().unwrap_or_default())
            .filter(|b| b["kind"].as_str().unwrap_or("Service") == "Service")
            .filter_map(|b| {
                let name = b["name"].as_str()?;
                let bns = b["namespace"].as_str().unwrap_or(&ns);
                store
                    .get(&gr("", "services"), bns, name)
                    .is_none()
                    .then(|| name.to_string())
            })
            .collect();
        let prev_parents = route["status"]["parents"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut parents = Vec::new();
        for p in route["spec"]["parentRefs"].as_array().into_iter().flatten() {
            // Only a parent's controller writes its entry; no controller, no entry.
            let Some(controller) = parent_controller(store, &ns, p) else {
                continue;
            };
            let prev = prev_parents
                .iter()
                .find(|e| e["parentRef"] == *p)
                .map(|e| e["conditions"].clone())
                .unwrap_or(Value::Null);
            let resolved = if missing.is_empty() {
                cond(
                    "ResolvedRefs",
                    true,
                    "ResolvedRefs",
                    "Resolved all the Object references for the Route",
                    &prev,
                )
            } else {
                cond(
                    "ResolvedRefs",
                    false,
                    "BackendNotFound",
                    &format!(
                        "Failed to process route rule backendRef: Service \"{}\" not found",
                        missing.join(", ")
                    ),
                    &prev,
                )
            };
            parents.push(json!({
                "parentRef": p,
                "controllerName": controller,
                "conditions": [cond("Accepted", true, "Accepted", "Route is accepted", &prev), resolved],
            }));
        }
        if parents.is_empty() && route["status"].is_null() {
            continue;
        }
        set_status(store, &g, &route, json!({"parents": parents}));
    }
}

/// OpenShift's default router admits every Route; a Route without a host gets
/// `<name>-<namespace>.<router domain>`.
fn routes(store: &mut Store) {
    let g = gr("route.openshift.io", "routes");
    for route in store.list(&g, None) {
        let name = route["metadata"]["name"].as_str().unwrap_or("");
        let ns = route["metadata"]["namespace"].as_str().unwrap_or("");
        let host = route["spec"]["host"]
            .as_str()
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{name}-{ns}.{ROUTER_DOMAIN}"));
        let prev = route["status"]["ingress"][0]["conditions"].clone();
        let admitted = cond("Admitted", true, "", "", &prev);
        let mut admitted = admitted;
        if let Some(m) = admitted.as_object_mut() {
            m.retain(|k, _| k == "type" || k == "status" || k == "lastTransitionTime");
        }
        let status = json!({"ingress": [{
            "host": host,
            "routerName": "default",
            "routerCanonicalHostname": format!("router-default.{ROUTER_DOMAIN}"),
            "wildcardPolicy": route["spec"]["wildcardPolicy"].as_str().unwrap_or("None"),
            "conditions": [admitted],
        }]});
        set_status(store, &g, &route, status);
    }
}
