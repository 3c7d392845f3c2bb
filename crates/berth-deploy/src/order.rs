//! Apply ordering: CRDs (then wait until Established), Namespaces, other cluster-scoped
//! objects, then namespaced objects by install weight and kind (config, RBAC and storage
//! before workloads). Objects inside one batch are independent and applied concurrently.

use crate::object::{Manifest, object_ref};
use serde_json::Value;

/// Annotation carrying an integer install weight; lower weights are applied (and become
/// ready) before higher ones. Default 0.
pub const ANNOTATION_WEIGHT: &str = "berth.dev/weight";

/// Helm's install order of kinds, shared with the chart renderer so `berth install` applies
/// in the order `helm template` prints; unknown kinds (custom resources) come after all of these.
use berth_chart::INSTALL_ORDER;

/// Position of a kind in the install order (unknown kinds last).
pub fn kind_rank(kind: &str) -> usize {
    INSTALL_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(INSTALL_ORDER.len())
}

/// Kinds that only configure (no pods): applied in an earlier tier than workloads.
fn is_foundation_kind(kind: &str) -> bool {
    kind_rank(kind) < kind_rank("Service")
}

/// The coarse phase an object is applied in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// CustomResourceDefinitions; the engine waits until they are Established.
    Crds,
    /// Namespaces.
    Namespaces,
    /// Every other cluster-scoped object.
    ClusterScoped,
    /// Namespaced objects (then ordered by weight and tier).
    Namespaced,
}

/// One batch: objects that can be applied concurrently. `wait_after` says whether the engine
/// must wait for this batch's readiness before the next batch (CRDs, and the end of a weight).
#[derive(Debug, Clone)]
pub struct Batch {
    /// The phase.
    pub phase: Phase,
    /// The install weight (0 for cluster-scoped phases).
    pub weight: i64,
    /// The objects.
    pub objects: Vec<Manifest>,
    /// Wait for readiness of this batch before applying the next.
    pub wait_after: bool,
}

/// The install weight of an object; an unparsable weight is an error naming the source.
pub fn weight(m: &Manifest) -> Result<i64, String> {
    match m.annotation(ANNOTATION_WEIGHT) {
        None => Ok(0),
        Some(w) => w.trim().parse().map_err(|_| {
            format!(
                "{}: annotation {ANNOTATION_WEIGHT} of {} must be an integer, found {w:?}",
                m.source,
                m.reference()
            )
        }),
    }
}

fn phase_of(v: &Value, cluster_scoped: &dyn Fn(&str, &str) -> bool) -> Phase {
    let r = object_ref(v);
    match r.kind.as_str() {
        "CustomResourceDefinition" => Phase::Crds,
        "Namespace" => Phase::Namespaces,
        _ if r.namespace.is_empty() && cluster_scoped(&r.api_version, &r.kind) => {
            Phase::ClusterScoped
        }
        _ => Phase::Namespaced,
    }
}

/// Split objects into ordered batches. Deterministic: within a batch, objects are sorted by
/// kind rank, namespace and name.
pub fn batches(
    objects: &[Manifest],
    cluster_scoped: &dyn Fn(&str, &str) -> bool,
) -> Result<Vec<Batch>, String> {
    // key: (phase, weight, tier)
    let mut groups: std::collections::BTreeMap<(Phase, i64, u8), Vec<Manifest>> =
        Default::default();
    for m in objects {
        let phase = phase_of(&m.object, cluster_scoped);
        let (w, tier) = if phase == Phase::Namespaced {
            let kind = m.reference().kind;
            (weight(m)?, if is_foundation_kind(&kind) { 0 } else { 1 })
        } else {
            (0, 0)
        };
        groups.entry((phase, w, tier)).or_default().push(m.clone());
    }
    let keys: Vec<_> = groups.keys().cloned().collect();
    let mut out = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let mut objs = groups.remove(key).unwrap_or_default();
        objs.sort_by_key(|m| {
            let r = m.reference();
            (kind_rank(&r.kind), r.namespace, r.name)
        });
        let next = keys.get(i + 1);
        let wait_after = key.0 == Phase::Crds
            || (key.0 == Phase::Namespaced && next.is_some_and(|n| n.1 != key.1));
        out.push(Batch {
            phase: key.0,
            weight: key.1,
            objects: objs,
            wait_after,
        });
    }
    Ok(out)
}

/// Delete order: the reverse of install order (custom resources first, CRDs and namespaces last).
pub fn delete_order(objects: &mut [Value]) {
    objects.sort_by_key(|v| {
        let r = object_ref(v);
        let phase = match r.kind.as_str() {
            "CustomResourceDefinition" => 0,
            "Namespace" => 1,
            _ => 2,
        };
        (
            std::cmp::Reverse(phase),
            std::cmp::Reverse(kind_rank(&r.kind)),
            r.namespace,
            r.name,
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::is_known_cluster_scoped;
    use serde_json::json;

    fn m(kind: &str, name: &str, ns: &str, weight: Option<&str>) -> Manifest {
        let mut v = json!({"apiVersion":"v1","kind":kind,"metadata":{"name":name}});
        if !ns.is_empty() {
            v["metadata"]["namespace"] = json!(ns);
        }
        if let Some(w) = weight {
            v["metadata"]["annotations"] = json!({ANNOTATION_WEIGHT: w});
        }
        Manifest::new(v, "t.yaml")
    }

    #[test]
    fn crds_then_namespaces_then_cluster_then_namespaced_by_weight_and_tier() {
        let objs = vec![
            m("Deployment", "web", "a", None),
            m("Widget", "w1", "a", None),
            m("ConfigMap", "cfg", "a", None),
            m("Namespace", "a", "", None),
            m("ClusterRole", "cr", "", None),
            m("CustomResourceDefinition", "widgets.x.io", "", None),
            m("Job", "migrate", "a", Some("-1")),
        ];
        let b = batches(&objs, &|_, k| is_known_cluster_scoped(k)).unwrap();
        let names: Vec<Vec<String>> = b
            .iter()
            .map(|b| b.objects.iter().map(|o| o.reference().name).collect())
            .collect();
        assert_eq!(
            names,
            vec![
                vec!["widgets.x.io"],
                vec!["a"],
                vec!["cr"],
                vec!["migrate"],
                vec!["cfg"],
                vec!["web", "w1"],
            ]
        );
        let waits: Vec<bool> = b.iter().map(|b| b.wait_after).collect();
        assert_eq!(waits, [true, false, false, true, false, false]);
    }

    #[test]
    fn bad_weight_names_the_source() {
        let e = batches(&[m("ConfigMap", "c", "a", Some("high"))], &|_, _| false).unwrap_err();
        assert!(
            e.contains("t.yaml") && e.contains("must be an integer"),
            "{e}"
        );
    }

    #[test]
    fn delete_order_is_reverse() {
        let mut v: Vec<Value> = [
            "Namespace",
            "CustomResourceDefinition",
            "ConfigMap",
            "Deployment",
            "Widget",
        ]
        .iter()
        .map(|k| json!({"apiVersion":"v1","kind":k,"metadata":{"name":"x"}}))
        .collect();
        delete_order(&mut v);
        let kinds: Vec<_> = v
            .iter()
            .map(|o| o["kind"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            kinds,
            [
                "Widget",
                "Deployment",
                "ConfigMap",
                "Namespace",
                "CustomResourceDefinition"
            ]
        );
    }
}
