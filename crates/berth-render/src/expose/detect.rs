//! What a cluster offers for exposing a Service: its IngressClasses (and their controllers),
//! Gateway API Gateways, OpenShift Routes and Istio, read from discovery and the objects
//! themselves. [`ClusterOffer::from_parts`] is pure; [`ClusterOffer::detect`] reads the cluster
//! through the same `lookup` templates use.

use serde::Serialize;
use serde_json::Value;

/// One IngressClass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngressClassInfo {
    /// `metadata.name`.
    pub name: String,
    /// `spec.controller`.
    pub controller: String,
    /// Annotated `ingressclass.kubernetes.io/is-default-class: "true"`.
    pub default: bool,
}

/// One Gateway API Gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayInfo {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `spec.gatewayClassName`.
    pub class: String,
}

/// Everything that can carry traffic into the cluster, in a stable order (classes and
/// Gateways sorted by name), so the same cluster always yields the same objects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterOffer {
    /// IngressClasses, by name.
    pub ingress_classes: Vec<IngressClassInfo>,
    /// Gateways, by namespace and name.
    pub gateways: Vec<GatewayInfo>,
    /// The newest served `gateway.networking.k8s.io` version with HTTPRoute, if any.
    pub gateway_api: Option<String>,
    /// `route.openshift.io/v1` Route is served.
    pub openshift_routes: bool,
    /// The newest served `networking.istio.io` version with VirtualService, if any.
    pub istio: Option<String>,
    /// What could not be read (e.g. listing IngressClasses forbidden), for the report.
    pub notes: Vec<String>,
}

/// The newest of `candidates` served for `kind` (discovery lists `group/version/Kind`).
fn served(api_versions: &[String], candidates: &[&str], kind: &str) -> Option<String> {
    candidates
        .iter()
        .find(|gv| api_versions.iter().any(|a| *a == format!("{gv}/{kind}")))
        .map(|gv| gv.to_string())
}

impl ClusterOffer {
    /// The offer from discovery (`group/version` and `group/version/Kind` strings) and the
    /// IngressClass and Gateway objects.
    pub fn from_parts(
        api_versions: &[String],
        ingress_classes: &[Value],
        gateways: &[Value],
    ) -> ClusterOffer {
        let mut classes: Vec<IngressClassInfo> = ingress_classes
            .iter()
            .filter_map(|o| {
                Some(IngressClassInfo {
                    name: o.pointer("/metadata/name")?.as_str()?.to_string(),
                    controller: o["spec"]["controller"].as_str().unwrap_or("").to_string(),
                    default: o
                        .pointer(
                            "/metadata/annotations/ingressclass.kubernetes.io~1is-default-class",
                        )
                        .and_then(Value::as_str)
                        == Some("true"),
                })
            })
            .collect();
        classes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut gws: Vec<GatewayInfo> = gateways
            .iter()
            .filter_map(|o| {
                Some(GatewayInfo {
                    namespace: o.pointer("/metadata/namespace")?.as_str()?.to_string(),
                    name: o.pointer("/metadata/name")?.as_str()?.to_string(),
                    class: o["spec"]["gatewayClassName"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                })
            })
            .collect();
        gws.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        ClusterOffer {
            ingress_classes: classes,
            gateways: gws,
            gateway_api: served(
                api_versions,
                &[
                    "gateway.networking.k8s.io/v1",
                    "gateway.networking.k8s.io/v1beta1",
                ],
                "HTTPRoute",
            ),
            openshift_routes: served(api_versions, &["route.openshift.io/v1"], "Route").is_some(),
            istio: served(
                api_versions,
                &[
                    "networking.istio.io/v1",
                    "networking.istio.io/v1beta1",
                    "networking.istio.io/v1alpha3",
                ],
                "VirtualService",
            ),
            notes: Vec::new(),
        }
    }

    /// Read the live cluster: discovery's API versions and `lookup` (apiVersion, kind,
    /// namespace, name) for IngressClasses and Gateways. A list that cannot be read (RBAC)
    /// counts as empty and is named in [`ClusterOffer::notes`].
    pub fn detect(api_versions: &[String], lookup: &berth_chart::ClusterLookup) -> ClusterOffer {
        let mut notes = Vec::new();
        let mut list = |av: &str, kind: &str| -> Vec<Value> {
            match (lookup.0)(av, kind, "", "") {
                Ok(v) => v["items"].as_array().cloned().unwrap_or_default(),
                Err(e) => {
                    notes.push(format!("could not list {kind}s: {e}"));
                    Vec::new()
                }
            }
        };
        let has = |gv: &str, kind: &str| api_versions.iter().any(|a| *a == format!("{gv}/{kind}"));
        let classes = if has("networking.k8s.io/v1", "IngressClass") {
            list("networking.k8s.io/v1", "IngressClass")
        } else {
            Vec::new()
        };
        let gw_version = [
            "gateway.networking.k8s.io/v1",
            "gateway.networking.k8s.io/v1beta1",
        ]
        .into_iter()
        .find(|gv| has(gv, "Gateway"));
        let gateways = gw_version.map(|gv| list(gv, "Gateway")).unwrap_or_default();
        let mut offer = ClusterOffer::from_parts(api_versions, &classes, &gateways);
        offer.notes = notes;
        offer
    }

    /// A one-line summary for reports: what was found.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.ingress_classes.is_empty() {
            parts.push(format!(
                "IngressClasses {}",
                self.ingress_classes
                    .iter()
                    .map(|c| format!(
                        "{} ({}{})",
                        c.name,
                        c.controller,
                        if c.default { ", default" } else { "" }
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !self.gateways.is_empty() {
            parts.push(format!(
                "Gateways {}",
                self.gateways
                    .iter()
                    .map(|g| format!("{}/{}", g.namespace, g.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else if self.gateway_api.is_some() {
            parts.push("Gateway API (no Gateway)".into());
        }
        if self.openshift_routes {
            parts.push("OpenShift Routes".into());
        }
        if self.istio.is_some() {
            parts.push("Istio".into());
        }
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join("; ")
        }
    }
}
