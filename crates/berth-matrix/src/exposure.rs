//! A cell's ingress: what its cluster offers for the app's `expose` (read through the
//! cell's client, as berth-render's detection reads it through `lookup` elsewhere), and the
//! `expose` step: every generated object created and admitted by its controller (an Ingress
//! with an address, an HTTPRoute accepted by its Gateway with its references resolved, a
//! Route admitted by a router; Istio writes no status, so its objects need only exist), and
//! the flavour the one the cell's cluster offers.

use crate::cell::StepOutcome;
use crate::report::CellDiagnosis;
use berth_deploy::object::ObjectRef;
use berth_deploy::{Cluster, Release};
use berth_render::expose::{ClusterOffer, ExposePlan, LABEL};
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long controllers get to admit the generated objects.
const ADMIT_WITHIN: Duration = Duration::from_secs(15);

/// The cluster's IngressClasses, Gateways, and served Route/Gateway API/Istio kinds.
pub async fn offer(cluster: &Cluster, api_versions: &[String]) -> ClusterOffer {
    let mut notes = Vec::new();
    let mut keep = |kind: &str, r: Result<Vec<Value>, berth_deploy::ClusterError>| match r {
        Ok(items) => items,
        Err(e) => {
            // Not being allowed to look is not the same as nothing being there.
            notes.push(format!("could not list {kind}s: {e}"));
            Vec::new()
        }
    };
    let classes = keep(
        "IngressClass",
        cluster
            .list("networking.k8s.io/v1", "IngressClass", "", None)
            .await,
    );
    let gv = [
        "gateway.networking.k8s.io/v1",
        "gateway.networking.k8s.io/v1beta1",
    ]
    .into_iter()
    .find(|gv| api_versions.iter().any(|a| *a == format!("{gv}/Gateway")));
    let gateways = match gv {
        Some(gv) => keep("Gateway", cluster.list(gv, "Gateway", "", None).await),
        None => Vec::new(),
    };
    let mut offer = ClusterOffer::from_parts(api_versions, &classes, &gateways);
    offer.notes = notes;
    offer
}

/// Why an object is not admitted yet (`None`: it is).
fn not_admitted(o: &Value) -> Option<String> {
    let kind = o["kind"].as_str().unwrap_or("");
    let st = &o["status"];
    match kind {
        "Ingress" => {
            let lb = &st["loadBalancer"]["ingress"][0];
            (lb["ip"].is_null() && lb["hostname"].is_null())
                .then(|| "no load-balancer address: no controller serves its class".to_string())
        }
        "HTTPRoute" => {
            let parents = st["parents"].as_array().cloned().unwrap_or_default();
            if parents.is_empty() {
                return Some("no Gateway controller accepted it (its parentRefs name no Gateway with a GatewayClass)".into());
            }
            parents.iter().find_map(|p| {
                p["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| c["status"] != "True")
                    .map(|c| {
                        format!(
                            "{} {}: {}",
                            c["type"].as_str().unwrap_or(""),
                            c["reason"].as_str().unwrap_or(""),
                            c["message"].as_str().unwrap_or("")
                        )
                    })
            })
        }
        "Route" => {
            let admitted = st["ingress"].as_array().into_iter().flatten().any(|i| {
                i["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Admitted" && c["status"] == "True")
            });
            (!admitted).then(|| "no router admitted it".to_string())
        }
        _ => None,
    }
}

fn describe(o: &Value) -> String {
    let st = &o["status"];
    match o["kind"].as_str().unwrap_or("") {
        "Ingress" => {
            let lb = &st["loadBalancer"]["ingress"][0];
            format!(
                "address {}",
                lb["ip"].as_str().or(lb["hostname"].as_str()).unwrap_or("?")
            )
        }
        "HTTPRoute" => format!(
            "accepted by {}",
            st["parents"][0]["controllerName"].as_str().unwrap_or("?")
        ),
        "Route" => format!(
            "admitted, host {}",
            st["ingress"][0]["host"].as_str().unwrap_or("?")
        ),
        _ => "created".into(),
    }
}

/// The `expose` step: the generated objects of `release` in the cluster and admitted, and the
/// flavour the one `want` names.
pub async fn check(
    cluster: &Cluster,
    release: &Release,
    plans: &[ExposePlan],
    want: Option<&str>,
) -> Option<StepOutcome> {
    if plans.is_empty() && want.is_none() {
        return None;
    }
    let mut detail: Vec<String> = plans.iter().map(ExposePlan::summary).collect();
    if let Some(w) = want {
        let got: Vec<&str> = plans
            .iter()
            .filter_map(|p| p.decision.as_ref().map(|d| d.flavour.name()))
            .collect();
        if got.is_empty() || got.iter().any(|g| *g != w) {
            let cause = if got.is_empty() {
                format!(
                    "the cluster offers {w}, but the app exposes nothing (no component has `expose`, or its flavour is none)"
                )
            } else {
                format!(
                    "the cluster offers {w}, but berth generated for {}",
                    got.join(", ")
                )
            };
            return Some(Err((
                detail.join("\n"),
                Some(CellDiagnosis {
                    object: String::new(),
                    cause,
                    fix: format!(
                        "give the component an `expose`, or leave its flavour on auto (or set it to {w})"
                    ),
                }),
            )));
        }
    }
    let refs: Vec<ObjectRef> = release
        .objects
        .iter()
        .filter(|m| {
            m.object
                .pointer(&format!("/metadata/labels/{}", LABEL.replace('/', "~1")))
                .is_some()
        })
        .map(|m| ObjectRef {
            api_version: m.object["apiVersion"].as_str().unwrap_or("").into(),
            kind: m.object["kind"].as_str().unwrap_or("").into(),
            namespace: m.object["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .into(),
            name: m.object["metadata"]["name"].as_str().unwrap_or("").into(),
        })
        .collect();
    let t = Instant::now();
    loop {
        let mut pending = None;
        let mut lines = Vec::new();
        for r in &refs {
            match cluster.get(r).await {
                Ok(Some(o)) => match not_admitted(&o) {
                    None => lines.push(format!("{r}: {}", describe(&o))),
                    Some(why) => {
                        pending.get_or_insert((r.clone(), why));
                    }
                },
                Ok(None) => {
                    pending.get_or_insert((r.clone(), "not found in the cluster".into()));
                }
                Err(e) => {
                    pending.get_or_insert((r.clone(), e.to_string()));
                }
            }
        }
        let Some((r, why)) = pending else {
            detail.extend(lines);
            return Some(Ok(detail.join("\n")));
        };
        if t.elapsed() > ADMIT_WITHIN {
            detail.push(format!("{r}: {why}"));
            return Some(Err((
                detail.join("\n"),
                Some(CellDiagnosis {
                    object: r.to_string(),
                    cause: format!("{r} was not admitted: {why}"),
                    fix: "install the controller of the flavour berth chose, or set the flavour (or className) in config to one the cluster runs".into(),
                }),
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
