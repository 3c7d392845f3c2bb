//! Baselines from support bundles: the cluster and host a bundle saw, and the app's
//! baselines the bundle carries (`berth/baselines/<app>.v<N>.json`).

use crate::capture::{ClusterInput, cluster_facts};
use crate::live::AppShape;
use crate::model::{Baseline, FORMAT};
use berth_troubleshoot::bundle::BundleReader;
use serde_json::Value;
use std::collections::BTreeMap;

/// Where a bundle keeps the app's baselines.
pub const BASELINES_DIR: &str = "berth/baselines";

fn json(b: &dyn BundleReader, path: &str) -> Option<Value> {
    serde_json::from_slice(&b.read(path)?).ok()
}

fn items(b: &dyn BundleReader, path: &str) -> Vec<Value> {
    match json(b, path) {
        Some(Value::Array(a)) => a,
        Some(l) => l
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        None => Vec::new(),
    }
}

/// The app baselines a bundle carries, newest revision first.
pub fn stored_baselines(b: &dyn BundleReader) -> Vec<Baseline> {
    let mut out: Vec<Baseline> = b
        .glob(&format!("{BASELINES_DIR}/*.json"))
        .iter()
        .filter_map(|p| serde_json::from_slice::<Baseline>(&b.read(p)?).ok())
        .filter(|bl| bl.format == FORMAT)
        .collect();
    out.sort_by_key(|b| std::cmp::Reverse(b.revision));
    out
}

/// What the bundle saw, as a baseline of an app of this shape: cluster facts from
/// `cluster-info/` and `cluster-resources/`, host facts from `host-collectors/`.
pub fn observed(b: &dyn BundleReader, shape: &AppShape) -> Baseline {
    let version = json(b, "cluster-info/cluster_version.json")
        .map(|v| v.get("info").cloned().unwrap_or(v))
        .unwrap_or(Value::Null);
    let mut served = Vec::new();
    // resources.json lists each kind at its group's preferred version only; groups.json
    // lists every served version of a group, which also serves the kind (as discovery does
    // for the built-in kinds whose versions move together).
    let group_versions: BTreeMap<String, Vec<String>> = items(b, "cluster-resources/groups.json")
        .iter()
        .map(|g| {
            let name = g.get("name").and_then(Value::as_str).unwrap_or("");
            let vs = g
                .get("versions")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            (name.to_string(), vs)
        })
        .collect();
    for l in items(b, "cluster-resources/resources.json") {
        let gv = l.get("groupVersion").and_then(Value::as_str).unwrap_or("");
        for r in l
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(k) = r.get("kind").and_then(Value::as_str) {
                served.push(format!("{gv}/{k}"));
                if let Some((g, _)) = gv.split_once('/') {
                    for v in group_versions.get(g).into_iter().flatten() {
                        served.push(format!("{g}/{v}/{k}"));
                    }
                }
            }
        }
        served.push(gv.to_string());
    }
    let ns = &shape.namespace;
    let namespace = items(b, "cluster-resources/namespaces.json")
        .into_iter()
        .find(|n| n.pointer("/metadata/name").and_then(Value::as_str) == Some(ns));
    let has_cluster = version.is_object() || !served.is_empty();
    let cluster = has_cluster.then(|| {
        cluster_facts(&ClusterInput {
            version,
            nodes: items(b, "cluster-resources/nodes.json"),
            storage_classes: items(b, "cluster-resources/storage-classes.json"),
            ingress_classes: items(b, "cluster-resources/ingress-classes.json"),
            crds: items(b, "cluster-resources/custom-resource-definitions.json"),
            validating_webhooks: items(b, "cluster-resources/validatingwebhookconfigurations.json"),
            mutating_webhooks: items(b, "cluster-resources/mutatingwebhookconfigurations.json"),
            namespace,
            namespace_name: ns.clone(),
            pods: items(b, &format!("cluster-resources/pods/{ns}.json")),
            served,
            app_kinds: shape.kinds.clone(),
            app_crds: shape.crds.clone(),
        })
    });
    let mut files = BTreeMap::new();
    for p in b.glob("host-collectors/**") {
        if let Some(bytes) = b.read(&p) {
            files.insert(p, bytes);
        }
    }
    Baseline {
        format: FORMAT.to_string(),
        cluster,
        host: crate::host::host_facts(&files),
        ..Default::default()
    }
}

/// Drift between an older state — another bundle (`--against`) or a baseline file
/// (`--baseline`) — and what `newer` saw. The app's shape (its kinds, CRDs and namespace)
/// comes from the newest baseline either bundle carries, else from the baseline file.
pub fn against(
    newer: &dyn BundleReader,
    older: Option<&dyn BundleReader>,
    baseline: Option<Baseline>,
) -> crate::Report {
    let stored = stored_baselines(newer)
        .into_iter()
        .chain(older.map(stored_baselines).unwrap_or_default())
        .chain(baseline.clone())
        .next();
    let shape = stored
        .as_ref()
        .map(AppShape::of_baseline)
        .unwrap_or_default();
    let new = observed(newer, &shape);
    let old = match (older, baseline) {
        (Some(o), _) => {
            let mut old = observed(o, &shape);
            // The older bundle's own baseline says when it was taken, if it carries one.
            old.app = stored.as_ref().map(|b| b.app.clone()).unwrap_or_default();
            old
        }
        (None, Some(b)) => b,
        (None, None) => stored.unwrap_or_default(),
    };
    crate::Report::new(&old, &new)
}
