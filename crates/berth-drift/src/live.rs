//! Read the live cluster's facts through the Kubernetes API.

use crate::capture::{ClusterInput, cluster_facts};
use crate::model::ClusterFacts;
use serde_json::Value;

/// What the app is made of, for choosing which kinds and CRDs a baseline records.
#[derive(Debug, Clone, Default)]
pub struct AppShape {
    /// The app's namespace.
    pub namespace: String,
    /// `(group, kind)` of every object the app applies.
    pub kinds: Vec<(String, String)>,
    /// Names of CRDs the app ships.
    pub crds: Vec<String>,
}

impl AppShape {
    /// The shape of an app from its objects (as applied).
    pub fn of_objects<'a>(namespace: &str, objects: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut shape = AppShape {
            namespace: namespace.to_string(),
            ..Default::default()
        };
        for o in objects {
            let av = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
            let group = av.split_once('/').map_or("", |(g, _)| g).to_string();
            if kind == "CustomResourceDefinition"
                && let Some(n) = o.pointer("/metadata/name").and_then(Value::as_str)
            {
                shape.crds.push(n.to_string());
            }
            if !kind.is_empty() && !shape.kinds.contains(&(group.clone(), kind.to_string())) {
                shape.kinds.push((group, kind.to_string()));
            }
        }
        shape
    }

    /// The shape a baseline recorded (its API kinds and CRDs), to capture the same facts now.
    pub fn of_baseline(b: &crate::Baseline) -> Self {
        let Some(c) = &b.cluster else {
            return AppShape::default();
        };
        AppShape {
            namespace: c.namespace.name.clone(),
            kinds: c
                .apis
                .keys()
                .filter_map(|k| {
                    let (g, kind) = k.rsplit_once('/')?;
                    Some((g.to_string(), kind.to_string()))
                })
                .collect(),
            crds: c.crds.iter().map(|c| c.name.clone()).collect(),
        }
    }
}

async fn get(client: &kube::Client, path: &str) -> Option<Value> {
    let req = http::Request::get(path).body(Vec::new()).ok()?;
    client.request::<Value>(req).await.ok()
}

async fn items(client: &kube::Client, path: &str) -> Vec<Value> {
    get(client, path)
        .await
        .and_then(|l| l.get("items").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

/// Every served `group/version/Kind` and `group/version`, from aggregated discovery (one
/// request; skips unavailable aggregated APIs), falling back to the legacy walk.
async fn served(client: &kube::Client) -> Vec<String> {
    let d = match kube::discovery::Discovery::new(client.clone())
        .run_aggregated()
        .await
    {
        Ok(d) => d,
        Err(_) => match kube::discovery::Discovery::new(client.clone()).run().await {
            Ok(d) => d,
            Err(_) => return Vec::new(),
        },
    };
    let mut out = Vec::new();
    for g in d.groups() {
        for v in g.versions() {
            let gv = if g.name().is_empty() {
                v.to_string()
            } else {
                format!("{}/{v}", g.name())
            };
            for (ar, _) in g.versioned_resources(v) {
                out.push(format!("{gv}/{}", ar.kind));
            }
            out.push(gv);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The cluster's facts now, for an app of this shape. Lists the caller may not read are
/// left empty rather than failing the capture.
pub async fn cluster_now(client: &kube::Client, app: &AppShape) -> ClusterFacts {
    let ns = &app.namespace;
    let (ns_path, pods_path) = (
        format!("/api/v1/namespaces/{ns}"),
        format!("/api/v1/namespaces/{ns}/pods"),
    );
    let (version, nodes, scs, ics, crds, vwh, mwh, namespace, pods, served) = tokio::join!(
        get(client, "/version"),
        items(client, "/api/v1/nodes"),
        items(client, "/apis/storage.k8s.io/v1/storageclasses"),
        items(client, "/apis/networking.k8s.io/v1/ingressclasses"),
        items(
            client,
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        ),
        items(
            client,
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
        ),
        items(
            client,
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
        ),
        get(client, &ns_path),
        items(client, &pods_path),
        served(client),
    );
    cluster_facts(&ClusterInput {
        version: version.unwrap_or(Value::Null),
        nodes,
        storage_classes: scs,
        ingress_classes: ics,
        crds,
        validating_webhooks: vwh,
        mutating_webhooks: mwh,
        namespace,
        namespace_name: ns.clone(),
        pods,
        served,
        app_kinds: app.kinds.clone(),
        app_crds: app.crds.clone(),
    })
}
