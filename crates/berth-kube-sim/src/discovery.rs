//! `/version`, API discovery (aggregated apidiscovery v2/v2beta1 and the legacy documents)
//! and the minimal OpenAPI v3 documents kubectl and Helm probe for field validation.

use crate::aggregation::{self, Aggregated};
use crate::catalog::{self, ResourceType};
use crate::store::Store;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Which aggregated discovery version the client accepts, if any.
pub fn aggregated_accept(accept: &str) -> Option<&'static str> {
    if !accept.contains("as=APIGroupDiscoveryList") {
        return None;
    }
    if accept.contains("v=v2;") || accept.contains("v=v2,") || accept.ends_with("v=v2") {
        Some("v2")
    } else if accept.contains("v=v2beta1") {
        Some("v2beta1")
    } else {
        None
    }
}

pub fn version_doc(store: &Store) -> Value {
    let (major, minor, git) = store
        .profile
        .version_parts()
        .unwrap_or((1, 32, "v1.32.0".into()));
    json!({
        "major": major.to_string(),
        "minor": minor.to_string(),
        "gitVersion": git,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.4",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// group -> versions (preferred first) -> types
type Grouped<'a> = Vec<(String, Vec<(String, Vec<&'a ResourceType>)>)>;
type GroupMap<'a> =
    BTreeMap<(u32, String, String), BTreeMap<(u32, i64, String), Vec<&'a ResourceType>>>;

fn grouped(store: &Store) -> Grouped<'_> {
    let mut groups: GroupMap = BTreeMap::new();
    for t in &store.types {
        let (o, n) = catalog::group_order(&t.group);
        let (a, b) = catalog::version_rank(&t.version);
        groups
            .entry((o, n, t.group.clone()))
            .or_default()
            .entry((a, b, t.version.clone()))
            .or_default()
            .push(t);
    }
    groups
        .into_iter()
        .map(|((_, _, g), vs)| (g, vs.into_iter().map(|((_, _, v), ts)| (v, ts)).collect()))
        .collect()
}

/// Aggregated discovery for `/api` (core = true) or `/apis`.
pub fn aggregated(store: &Store, core: bool, version: &str) -> Value {
    let mut items: Vec<Value> = grouped(store)
        .into_iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, vs)| {
            json!({
                "metadata": {"name": g, "creationTimestamp": null},
                "versions": vs.iter().map(|(v, ts)| json!({
                    "version": v,
                    "resources": ts.iter().map(|t| catalog::aggregated_resource(t)).collect::<Vec<_>>(),
                    "freshness": "Current",
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    if !core {
        // Aggregated APIs: no resources known; unavailable ones are Stale, as kube-aggregator
        // reports a group-version whose backend cannot be reached.
        for (g, vs) in aggregated_groups(store) {
            items.push(json!({
                "metadata": {"name": g, "creationTimestamp": null},
                "versions": vs.iter().map(|a| json!({
                    "version": a.version,
                    "resources": [],
                    "freshness": if a.available { "Current" } else { "Stale" },
                })).collect::<Vec<_>>(),
            }));
        }
    }
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

pub fn legacy_api(addr: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}],
    })
}

fn group_doc(g: &str, vs: &[(String, Vec<&ResourceType>)]) -> Value {
    let versions: Vec<Value> = vs
        .iter()
        .map(|(v, _)| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    json!({
        "name": g,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

/// Service-backed APIService group-versions by group.
fn aggregated_groups(store: &Store) -> Vec<(String, Vec<Aggregated>)> {
    let mut out: Vec<(String, Vec<Aggregated>)> = Vec::new();
    for a in aggregation::aggregated(store) {
        match out.iter_mut().find(|(g, _)| *g == a.group) {
            Some((_, vs)) => vs.push(a),
            None => out.push((a.group.clone(), vec![a])),
        }
    }
    out
}

fn aggregated_group_doc(g: &str, vs: &[Aggregated]) -> Value {
    let versions: Vec<Value> = vs
        .iter()
        .map(|a| json!({"groupVersion": format!("{g}/{}", a.version), "version": a.version}))
        .collect();
    json!({
        "name": g,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

pub fn legacy_apis(store: &Store) -> Value {
    let mut groups: Vec<Value> = grouped(store)
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, vs)| group_doc(&g, &vs))
        .collect();
    for (g, vs) in aggregated_groups(store) {
        groups.push(aggregated_group_doc(&g, &vs));
    }
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn legacy_group(store: &Store, group: &str) -> Option<Value> {
    let doc = grouped(store)
        .into_iter()
        .find(|(g, _)| g == group && !g.is_empty())
        .map(|(g, vs)| group_doc(&g, &vs))
        .or_else(|| {
            aggregated_groups(store)
                .into_iter()
                .find(|(g, _)| g == group)
                .map(|(g, vs)| aggregated_group_doc(&g, &vs))
        });
    doc.map(|mut d| {
        d["kind"] = json!("APIGroup");
        d["apiVersion"] = json!("v1");
        d
    })
}

pub fn resource_list(store: &Store, group: &str, version: &str) -> Option<Value> {
    let ts: Vec<&ResourceType> = store
        .types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if ts.is_empty() {
        // An available aggregated API: its backend is simulated, with no resources.
        return aggregation::aggregated(store)
            .iter()
            .any(|a| a.group == group && a.version == version && a.available)
            .then(|| json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{group}/{version}"), "resources": []}));
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let resources: Vec<Value> = ts
        .iter()
        .flat_map(|t| catalog::legacy_resources(t))
        .collect();
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: one entry per group-version, with a hash that changes with the served set.
pub fn openapi_root(store: &Store) -> Value {
    let mut paths = serde_json::Map::new();
    for (g, vs) in grouped(store) {
        for (v, _) in vs {
            let p = gv_path(&g, &v);
            paths.insert(
                p.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={:016X}", store.types_gen.wrapping_mul(0x9E37_79B9_7F4A_7C15))}),
            );
        }
    }
    json!({"paths": paths})
}

/// The per group-version OpenAPI document: enough for kubectl/Helm to detect server-side
/// field validation. Schemas are open (`x-kubernetes-preserve-unknown-fields`).
pub fn openapi_gv(store: &Store, rel: &str) -> Option<Value> {
    let (group, version) = if let Some(v) = rel.strip_prefix("api/") {
        (String::new(), v.to_string())
    } else {
        let rest = rel.strip_prefix("apis/")?;
        let (g, v) = rest.split_once('/')?;
        (g.to_string(), v.to_string())
    };
    let ts: Vec<&ResourceType> = store
        .types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if ts.is_empty() {
        return None;
    }
    let base = format!("/{}", gv_path(&group, &version));
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for t in ts {
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        let params = json!([
            {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
            {"name": "force", "in": "query", "schema": {"type": "boolean"}},
        ]);
        let op = |id: &str| {
            json!({
                "operationId": format!("{id}{}", t.kind),
                "x-kubernetes-action": id,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": params,
                "responses": {"200": {"description": "OK"}},
            })
        };
        let item = if t.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("{base}/{}/{{name}}", t.plural)
        };
        paths.insert(
            item,
            json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}),
        );
        let coll = if t.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", t.plural)
        } else {
            format!("{base}/{}", t.plural)
        };
        paths.insert(coll, json!({"get": op("list"), "post": op("post")}));
        let schema_name = if t.group.is_empty() {
            format!("io.k8s.api.core.{}.{}", t.version, t.kind)
        } else {
            format!("{}.{}.{}", t.group, t.version, t.kind)
        };
        schemas.insert(
            schema_name,
            json!({
                "type": "object",
                "x-kubernetes-group-version-kind": [gvk],
                "x-kubernetes-preserve-unknown-fields": true,
            }),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": version_doc(store)["gitVersion"]},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// A minimal OpenAPI v2 document in protobuf (gnostic `openapi_v2.Document`: swagger,
/// info, empty paths). kubectl falls back to it for kinds the v3 documents do not list,
/// finds no schema, skips client-side validation and reports the real "no matches for
/// kind" from discovery, as it does against a real API server.
pub fn openapi_v2_proto() -> Vec<u8> {
    fn field(out: &mut Vec<u8>, tag: u8, b: &[u8]) {
        out.push(tag);
        let mut n = b.len();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out.extend_from_slice(b);
    }
    let mut info = Vec::new();
    field(&mut info, 0x0a, b"Kubernetes");
    let mut doc = Vec::new();
    field(&mut doc, 0x0a, b"2.0");
    field(&mut doc, 0x12, &info);
    field(&mut doc, 0x42, &[]);
    doc
}
