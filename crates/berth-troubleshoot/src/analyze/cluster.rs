//! Cluster analyzers over `cluster-info/` and `cluster-resources/` files.

use serde_json::{Value, json};

use super::{
    AnalyzeError, AnalyzeResult, Ctx, FnEnv, Missing, Outcome, Run, first_match_row, get, get_str,
    items, subject_name,
};
use crate::when::{Op, Subject, Version, parse_quantity};

pub(crate) fn run(ctx: &Ctx) -> Run {
    Some(match ctx.kind {
        "clusterVersion" => cluster_version(ctx),
        "distribution" => distribution(ctx),
        "containerRuntime" => container_runtime(ctx),
        "nodeResources" => node_resources(ctx),
        "storageClass" => class(
            ctx,
            "storage-classes",
            "storageClassName",
            "storageclass",
            "Storage",
        ),
        "ingressClass" => class(
            ctx,
            "ingress-classes",
            "ingressClassName",
            "ingressclass",
            "Ingress",
        ),
        "customResourceDefinition" => crd(ctx),
        "imagePullSecret" => image_pull_secret(ctx),
        "secret" => secret_or_configmap(ctx, true),
        "configMap" => secret_or_configmap(ctx, false),
        "postgres" | "mysql" | "redis" | "mssql" => database(ctx),
        "http" => super::host::http(ctx, false),
        "certificates" => {
            super::host::certificates_collection(ctx, "certificates/certificates.json", Some(()))
        }
        "registryImages" => super::host::registry_images(ctx, "registry"),
        "event" => event(ctx),
        "ingress" => ingress(ctx),
        "clusterResource" => cluster_resource(ctx),
        "textAnalyze" => super::compare::text_analyze(ctx),
        "yamlCompare" => super::compare::json_compare(ctx, true),
        "jsonCompare" => super::compare::json_compare(ctx, false),
        "deploymentStatus"
        | "statefulsetStatus"
        | "jobStatus"
        | "replicasetStatus"
        | "clusterPodStatuses"
        | "clusterContainerStatuses" => return super::workloads::run(ctx),
        _ => return super::berth::run(ctx),
    })
}

pub(crate) fn no_words(w: &str) -> Result<bool, String> {
    Err(format!(
        "`{w}` is not a comparison here: write `<op> <value>`"
    ))
}

fn cluster_version(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Required Kubernetes Version");
    let v = match ctx.read_json("cluster-info/cluster_version.json") {
        Ok(v) => v,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, "clusterInfo")]),
    };
    let raw = match get(&v, "string").and_then(Value::as_str) {
        Some(s) => s.to_string(),
        None => get_str(&v, "info.gitVersion").to_string(),
    };
    // `v1.29.4-eks-036c24b` → `1.29.4`: troubleshoot cuts the eks suffix, keeps other pre-releases.
    let cleaned = raw.trim_start_matches('v');
    let cleaned = cleaned.split("-eks-").next().unwrap_or(cleaned);
    let version = Version::parse_strict(cleaned).ok_or_else(|| {
        ctx.err(
            "cluster-info/cluster_version.json",
            format!("cluster version `{raw}` is not X.Y.Z"),
        )
    })?;
    let env = FnEnv(
        |s: Option<&Subject>, op: Op, value: &str| {
            if let Some(s) = s {
                return Err(format!(
                    "clusterVersion takes a version range like `< 1.28.0`, not `{s}`"
                ));
            }
            crate::when::version_cmp(&version, op, value, true)
        },
        no_words,
    );
    let data = json!({"Version": cleaned});
    first_match_row(ctx, &title, &outcomes, &env, Some(&data))
}

fn nodes(ctx: &Ctx) -> Result<Vec<Value>, Missing> {
    Ok(items(&ctx.read_json("cluster-resources/nodes.json")?).to_vec())
}

/// Detects distributions from node labels, annotations and providerIDs.
pub(crate) fn detect_distributions(
    nodes: &[Value],
    api_resources: Option<&Value>,
) -> Vec<&'static str> {
    let mut found: Vec<&'static str> = Vec::new();
    let mut add = |d: &'static str| {
        if !found.contains(&d) {
            found.push(d)
        }
    };
    let mut control_plane = false;
    for n in nodes {
        let labels = get(n, "metadata.labels").and_then(Value::as_object);
        let annotations = get(n, "metadata.annotations").and_then(Value::as_object);
        let has_label =
            |k: &str| labels.is_some_and(|l| l.keys().any(|x| x == k || x.starts_with(k)));
        let label = |k: &str| {
            labels
                .and_then(|l| l.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let has_annotation =
            |k: &str| annotations.is_some_and(|a| a.keys().any(|x| x.starts_with(k)));
        let provider = get_str(n, "spec.providerID");
        let runtime = get_str(n, "status.nodeInfo.kubeletVersion");
        if has_label("node-role.kubernetes.io/master")
            || has_label("node-role.kubernetes.io/control-plane")
        {
            control_plane = true;
        }
        if has_label("kurl.sh/cluster") {
            add("kurl");
        }
        if has_label("microk8s.io/cluster") {
            add("microk8s");
        }
        if has_label("kubernetes.azure.com/role") || provider.starts_with("azure:") {
            add("aks");
        }
        if has_label("minikube.k8s.io/version") {
            add("minikube");
        }
        if label("node.kubernetes.io/instance-type") == "k3s"
            || provider.starts_with("k3s:")
            || runtime.contains("+k3s")
        {
            add("k3s");
        }
        if has_label("oci.oraclecloud.com/fault-domain") {
            add("oke");
        }
        if has_label("node.k0sproject.io/role") || runtime.contains("+k0s") {
            add("k0s");
        }
        if has_label("kots.io/embedded-cluster-role") {
            add("embeddedCluster");
        }
        if has_annotation("rke2.io/") || runtime.contains("+rke2") {
            add("rke2");
        }
        if provider.starts_with("docker-desktop") || get_str(n, "metadata.name") == "docker-desktop"
        {
            add("dockerDesktop");
        }
        if provider.starts_with("digitalocean:") {
            add("digitalOcean");
        }
        if provider.starts_with("gce:") || has_label("cloud.google.com/gke-nodepool") {
            add("gke");
        }
        if provider.starts_with("ibm:") || has_label("ibm-cloud.kubernetes.io/worker-id") {
            add("ibm");
        }
        if provider.starts_with("kind://") {
            add("kind");
        }
        if provider.starts_with("aws:") || has_label("eks.amazonaws.com/nodegroup") {
            add("eks");
        }
        if has_label("node.openshift.io/os_id") {
            add("openShift");
        }
    }
    if control_plane {
        found.retain(|d| *d != "eks");
    }
    if let Some(res) = api_resources {
        let text = res.to_string();
        if (text.contains("config.openshift.io") || text.contains("security.openshift.io"))
            && !found.contains(&"openShift")
        {
            found.push("openShift");
        }
        if text.contains("run.tanzu.vmware.com") && !found.contains(&"tanzu") {
            found.push("tanzu");
        }
    }
    found
}

const KNOWN_DISTRIBUTIONS: &[&str] = &[
    "kurl",
    "microk8s",
    "aks",
    "minikube",
    "k3s",
    "oke",
    "k0s",
    "embeddedcluster",
    "tanzu",
    "rke2",
    "dockerdesktop",
    "digitalocean",
    "gke",
    "ibm",
    "kind",
    "eks",
    "openshift",
];

fn distribution(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Kubernetes Distribution");
    let nodes = match nodes(ctx) {
        Ok(n) => n,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, "clusterResources")]),
    };
    let resources = ctx.read_json("cluster-resources/resources.json").ok();
    let found: Vec<String> = detect_distributions(&nodes, resources.as_ref())
        .iter()
        .map(|d| d.to_lowercase())
        .collect();
    let unknown = std::cell::RefCell::new(Vec::new());
    let env = FnEnv(
        |s: Option<&Subject>, op: Op, value: &str| -> Result<bool, String> {
            if s.is_some() {
                return Err("distribution takes `== <name>` or `!= <name>`".into());
            }
            let want = value.to_lowercase().replace('-', "");
            if !KNOWN_DISTRIBUTIONS.contains(&want.as_str()) {
                unknown.borrow_mut().push(value.to_string());
                return Ok(false);
            }
            let is = found.contains(&want);
            match op {
                // Troubleshoot never matches tanzu with ==.
                Op::Eq => Ok(is && want != "tanzu"),
                Op::Ne => Ok(!is),
                _ => Err(format!("distribution takes == or !=, not `{op}`")),
            }
        },
        |w: &str| {
            let want = w.to_lowercase().replace('-', "");
            if !KNOWN_DISTRIBUTIONS.contains(&want.as_str()) {
                unknown.borrow_mut().push(w.to_string());
                return Ok(false);
            }
            Ok(found.contains(&want) && want != "tanzu")
        },
    );
    let rows = first_match_row(ctx, &title, &outcomes, &env, None)?;
    if rows.is_empty() {
        let unknown = unknown.borrow();
        let msg = if unknown.is_empty() {
            "None of the conditionals were met".to_string()
        } else {
            format!("Unknown distribution(s): {}", unknown.join(", "))
        };
        return Ok(vec![ctx.plain(&title, Outcome::Warn, msg)]);
    }
    Ok(rows)
}

fn container_runtime(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Container Runtime");
    let nodes = match nodes(ctx) {
        Ok(n) => n,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, "clusterResources")]),
    };
    let schemes: Vec<String> = nodes
        .iter()
        .filter_map(|n| {
            get_str(n, "status.nodeInfo.containerRuntimeVersion")
                .split_once("://")
                .map(|(s, _)| s.to_string())
        })
        .collect();
    let env = FnEnv(
        |_: Option<&Subject>, op: Op, value: &str| match op {
            Op::Eq => Ok(schemes.iter().any(|s| s == value)),
            Op::Ne => Ok(!schemes.iter().any(|s| s == value)),
            _ => Err(format!("containerRuntime takes == or !=, not `{op}`")),
        },
        |w: &str| Ok(schemes.iter().any(|s| s == w)),
    );
    first_match_row(ctx, &title, &outcomes, &env, None)
}

/// Node properties nodeResources aggregates.
pub(crate) fn node_property(node: &Value, prop: &str, resource: Option<&str>) -> Option<f64> {
    let q = |path: &str| {
        get(node, path).and_then(|v| match v {
            Value::String(s) => parse_quantity(s).ok(),
            Value::Number(n) => n.as_f64(),
            _ => None,
        })
    };
    match prop {
        "cpuCapacity" => q("status.capacity.cpu"),
        "cpuAllocatable" => q("status.allocatable.cpu"),
        "memoryCapacity" => q("status.capacity.memory"),
        "memoryAllocatable" => q("status.allocatable.memory"),
        "podCapacity" => q("status.capacity.pods"),
        "podAllocatable" => q("status.allocatable.pods"),
        "ephemeralStorageCapacity" => q("status.capacity.ephemeral-storage"),
        "ephemeralStorageAllocatable" => q("status.allocatable.ephemeral-storage"),
        "resourceCapacity" => resource
            .and_then(|r| get(node, "status.capacity").and_then(|c| c.get(r)))
            .and_then(quantity_of),
        "resourceAllocatable" => resource
            .and_then(|r| get(node, "status.allocatable").and_then(|c| c.get(r)))
            .and_then(quantity_of),
        _ => None,
    }
}

fn quantity_of(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => parse_quantity(s).ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn node_matches_filters(
    ctx: &Ctx,
    node: &Value,
    filters: &serde_json::Map<String, Value>,
) -> Result<bool, AnalyzeError> {
    let resource = filters.get("resourceName").and_then(Value::as_str);
    for (k, want) in filters {
        let f = format!("filters.{k}");
        match k.as_str() {
            "cpuArchitecture" => {
                let want = want.as_str().unwrap_or("");
                if !get_str(node, "status.nodeInfo.architecture").eq_ignore_ascii_case(want) {
                    return Ok(false);
                }
            }
            "cpuCapacity"
            | "cpuAllocatable"
            | "memoryCapacity"
            | "memoryAllocatable"
            | "podCapacity"
            | "podAllocatable"
            | "ephemeralStorageCapacity"
            | "ephemeralStorageAllocatable"
            | "resourceCapacity"
            | "resourceAllocatable" => {
                let min = quantity_of(want)
                    .ok_or_else(|| ctx.err(&f, format!("`{want}` is not a quantity")))?;
                if node_property(node, k, resource).is_none_or(|have| have < min) {
                    return Ok(false);
                }
            }
            "resourceName" => {
                let r = want.as_str().unwrap_or("");
                if get(node, "status.capacity")
                    .and_then(|c| c.get(r))
                    .is_none()
                {
                    return Ok(false);
                }
            }
            "selector" => {
                let labels = get(node, "metadata.labels").cloned().unwrap_or(Value::Null);
                if let Some(ml) = want
                    .get("matchLabel")
                    .or_else(|| want.get("matchLabels"))
                    .and_then(Value::as_object)
                {
                    for (lk, lv) in ml {
                        if labels.get(lk) != Some(lv) {
                            return Ok(false);
                        }
                    }
                }
                for (i, e) in want
                    .get("matchExpressions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let key = get_str(e, "key");
                    let vals: Vec<&str> = e
                        .get("values")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    let have = labels.get(key).and_then(Value::as_str);
                    let ok = match get_str(e, "operator") {
                        "In" => have.is_some_and(|h| vals.contains(&h)),
                        "NotIn" => have.is_none_or(|h| !vals.contains(&h)),
                        "Exists" => have.is_some(),
                        "DoesNotExist" => have.is_none(),
                        other => {
                            return Err(ctx.err(
                                &format!("filters.selector.matchExpressions[{i}].operator"),
                                format!("`{other}` is not In, NotIn, Exists or DoesNotExist"),
                            ));
                        }
                    };
                    if !ok {
                        return Ok(false);
                    }
                }
            }
            "taint" => {
                let taints = get(node, "spec.taints")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let key = get_str(want, "key");
                let value = get_str(want, "value");
                let effect = get_str(want, "effect");
                // Troubleshoot: the taint decides alone.
                return Ok(taints.iter().any(|t| {
                    get_str(t, "key") == key
                        && (value.is_empty() || get_str(t, "value") == value)
                        && (effect.is_empty() || get_str(t, "effect") == effect)
                }));
            }
            _ => return Err(ctx.err(&f, "unknown filter")),
        }
    }
    Ok(true)
}

/// Evaluates `fn(prop) op value` over a set of nodes (shared with nodeAvailableResources).
pub(crate) fn aggregate_cmp(
    nodes: &[Value],
    subject: Option<&Subject>,
    op: Op,
    value: &str,
    resource: Option<&str>,
    prop_of: &dyn Fn(&Value, &str) -> Option<f64>,
) -> Result<bool, String> {
    let (func, arg) = match subject {
        None => ("count".to_string(), String::new()),
        Some(Subject::Call { func, arg }) => (func.clone(), arg.clone()),
        Some(Subject::Ident(s)) => (s.clone(), String::new()),
    };
    if func == "nodeCondition" {
        if op != Op::Eq && op != Op::Ne {
            return Err("nodeCondition takes == or !=".into());
        }
        let any = nodes.iter().any(|n| {
            get(n, "status.conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|c| get_str(c, "type") == arg && get_str(c, "status") == value)
        });
        return Ok(if op == Op::Eq { any } else { !any });
    }
    let want = quantity_of(&Value::String(value.to_string()))
        .ok_or_else(|| format!("`{value}` is not a number or quantity"))?;
    let have = match func.as_str() {
        "count" => nodes.len() as f64,
        "countDistinct" => {
            let mut vals: Vec<&str> = nodes
                .iter()
                .filter_map(|n| {
                    get(n, "metadata.labels")
                        .and_then(|l| l.get(&arg))
                        .and_then(Value::as_str)
                })
                .collect();
            vals.sort();
            vals.dedup();
            vals.len() as f64
        }
        "sum" | "min" | "max" => {
            let vals: Vec<f64> = nodes
                .iter()
                .map(|n| {
                    prop_of(n, &arg).ok_or_else(|| format!("unknown or absent property `{arg}`"))
                })
                .collect::<Result<_, _>>()?;
            let _ = resource;
            match func.as_str() {
                "sum" => vals.iter().sum(),
                "min" => vals
                    .iter()
                    .cloned()
                    .reduce(f64::min)
                    .ok_or("min() over zero nodes")?,
                _ => vals
                    .iter()
                    .cloned()
                    .reduce(f64::max)
                    .ok_or("max() over zero nodes")?,
            }
        }
        other => {
            return Err(format!(
                "unknown function `{other}` (count, countDistinct, sum, min, max, nodeCondition)"
            ));
        }
    };
    if !op.is_ordering() {
        return Err(format!("`{op}` cannot compare numbers"));
    }
    Ok(op.holds(&have, &want))
}

fn node_resources(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Node Resources");
    let all = match nodes(ctx) {
        Ok(n) => n,
        Err(_) => {
            if ctx
                .spec
                .get("ignoreIfNoFiles")
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                return Ok(Vec::new());
            }
            let mut r = ctx.plain(
                &title,
                Outcome::Warn,
                "No node resources were collected, unable to analyze node resources (add the clusterResources collector)",
            );
            r.not_collected = true;
            return Ok(vec![r]);
        }
    };
    let filters = ctx
        .spec
        .get("filters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut matched = Vec::new();
    for n in &all {
        if node_matches_filters(ctx, n, &filters)? {
            matched.push(n.clone());
        }
    }
    let resource = filters
        .get("resourceName")
        .and_then(Value::as_str)
        .map(str::to_string);
    let env = FnEnv(
        |s: Option<&Subject>, op: Op, value: &str| {
            aggregate_cmp(&matched, s, op, value, resource.as_deref(), &|n, p| {
                node_property(n, p, resource.as_deref())
            })
        },
        no_words,
    );
    let mut data = Value::Object(filters.clone());
    if let Some(o) = data.as_object_mut() {
        o.insert("NodeCount".into(), json!(matched.len()));
    }
    first_match_row(ctx, &title, &outcomes, &env, Some(&data))
}

/// storageClass / ingressClass: by name or default annotation; `when` ignored.
fn class(
    ctx: &Ctx,
    file: &str,
    name_field: &str,
    annotation: &str,
    noun: &str,
) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let name = ctx.str_field(name_field).filter(|s| !s.is_empty());
    let title = ctx.title(&match &name {
        Some(n) => format!("{noun} class {n}"),
        None => format!("Default {noun} Class"),
    });
    let v = match ctx.read_json(&format!("cluster-resources/{file}.json")) {
        Ok(v) => v,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, "clusterResources")]),
    };
    let key = format!("{annotation}.kubernetes.io/is-default-class");
    let found = items(&v).iter().any(|c| match &name {
        Some(n) => get_str(c, "metadata.name") == n,
        None => {
            get(c, "metadata.annotations")
                .and_then(|a| a.get(&key))
                .and_then(Value::as_str)
                == Some("true")
        }
    });
    let kind = if found { Outcome::Pass } else { Outcome::Fail };
    let last = outcomes.iter().rev().find(|o| o.kind == kind);
    Ok(vec![match last {
        Some(o) => ctx.row(&title, o),
        None => ctx.plain(
            &title,
            kind,
            match (found, &name) {
                (true, None) => format!("Default {noun} Class found"),
                (false, None) => format!("No Default {noun} Class found"),
                (true, Some(n)) => format!("{noun} class {n} found"),
                (false, Some(n)) => format!("{noun} class {n} not found"),
            },
        ),
    }])
}

fn crd(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let name = ctx.required_str("customResourceDefinitionName")?;
    let title = ctx.title(&format!("Custom resource definition {name}"));
    let v = match ctx.read_json("cluster-resources/custom-resource-definitions.json") {
        Ok(v) => v,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, "clusterResources")]),
    };
    let found = items(&v)
        .iter()
        .any(|c| get_str(c, "metadata.name") == name);
    if found {
        let o = outcomes.iter().rev().find(|o| o.kind == Outcome::Pass);
        return Ok(vec![match o {
            Some(o) => ctx.row(&title, o),
            None => ctx.plain(
                &title,
                Outcome::Pass,
                format!("Custom resource definition {name} found"),
            ),
        }]);
    }
    // Every fail and warn outcome applies in order; the last message and the worst flag win.
    let mut row: Option<AnalyzeResult> = None;
    for o in outcomes
        .iter()
        .filter(|o| matches!(o.kind, Outcome::Fail | Outcome::Warn))
    {
        let mut r = ctx.row(&title, o);
        if row
            .as_ref()
            .is_some_and(|prev| prev.outcome == Outcome::Fail)
        {
            r.outcome = Outcome::Fail;
        }
        row = Some(r);
    }
    Ok(vec![row.unwrap_or_else(|| {
        ctx.plain(
            &title,
            Outcome::Fail,
            format!("Custom resource definition {name} not found"),
        )
    })])
}

fn image_pull_secret(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let registry = ctx.required_str("registryName")?;
    let title = ctx.title("Image Pull Secrets");
    // Troubleshoot reads the directory as a file and errors on real bundles; berth reads the
    // per-secret files `image-pull-secrets/<ns>/<secret>.json` = {registry: username}.
    let files = ctx
        .reader
        .glob("cluster-resources/image-pull-secrets/**/*.json");
    let found = files.iter().any(|p| {
        ctx.read_json(p)
            .ok()
            .and_then(|v| v.get(&registry).cloned())
            .is_some()
    });
    let kind = if found { Outcome::Pass } else { Outcome::Fail };
    Ok(vec![match outcomes.iter().rev().find(|o| o.kind == kind) {
        Some(o) => ctx.row(&title, o),
        None => ctx.plain(
            &title,
            kind,
            if found {
                format!("Credentials to pull from: {registry} found")
            } else {
                format!("Credentials to pull from: {registry} not found")
            },
        ),
    }])
}

fn secret_or_configmap(ctx: &Ctx, secret: bool) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let name_field = if secret {
        "secretName"
    } else {
        "configMapName"
    };
    let name = ctx.required_str(name_field)?;
    let ns = ctx.required_str("namespace")?;
    let key = ctx.str_field("key").filter(|k| !k.is_empty());
    let noun = if secret { "Secret" } else { "ConfigMap" };
    let title = ctx.title(&format!("{noun} {name}"));
    let dir = if secret { "secrets" } else { "configmaps" };
    let path = match &key {
        Some(k) => format!("{dir}/{ns}/{name}/{k}.json"),
        None => format!("{dir}/{ns}/{name}.json"),
    };
    let v = match ctx.read_json(&path) {
        Ok(v) => v,
        Err(m) => {
            return Ok(vec![ctx.missing(
                &title,
                &m,
                if secret { "secret" } else { "configMap" },
            )]);
        }
    };
    let exists_field = if secret {
        "secretExists"
    } else {
        "configMapExists"
    };
    let exists = get(&v, exists_field)
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let key_ok = key.is_none()
        || get(&v, "keyExists")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let kind = if exists && key_ok {
        Outcome::Pass
    } else {
        Outcome::Fail
    };
    Ok(vec![match outcomes.iter().rev().find(|o| o.kind == kind) {
        Some(o) => ctx.row(&title, o),
        None => ctx.plain(
            &title,
            kind,
            match (kind, &key) {
                (Outcome::Pass, _) => format!("{noun} {ns}/{name} found"),
                (_, Some(k)) if exists => format!("{noun} {ns}/{name} has no key {k}"),
                _ => format!("{noun} {ns}/{name} not found"),
            },
        ),
    }])
}

fn database(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let name = ctx.collector_name().unwrap_or_else(|| ctx.kind.to_string());
    let title = ctx.title(&format!("{} {}", ctx.kind, name));
    let path = format!("{}/{name}.json", ctx.kind);
    let v = match ctx.read_json(&path) {
        Ok(v) => v,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, ctx.kind)]),
    };
    let connected = get(&v, "isConnected")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let version = Version::parse_tolerant(&get_str(&v, "version").replace(".x", ".0"));
    let env = FnEnv(
        |s: Option<&Subject>, op: Op, value: &str| -> Result<bool, String> {
            match subject_name(s).as_str() {
                "connected" => {
                    let want = crate::when::parse_bool(value)
                        .ok_or_else(|| format!("`{value}` is not true/false"))?;
                    match op {
                        Op::Eq => Ok(connected == want),
                        Op::Ne => Ok(connected != want),
                        _ => Err(format!("connected takes == or !=, not `{op}`")),
                    }
                }
                "version" => match &version {
                    Some(have) => {
                        crate::when::version_cmp(have, op, &value.replace('x', "0"), false)
                    }
                    None => Ok(false),
                },
                other => Err(format!(
                    "`{other}`: write `connected == true` or `version >= 14`"
                )),
            }
        },
        no_words,
    );
    first_match_row(ctx, &title, &outcomes, &env, Some(&v))
}

fn event(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let ns = ctx
        .str_field("namespace")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into());
    let reason = ctx.required_str("reason")?;
    let kind = ctx.str_field("kind").filter(|s| !s.is_empty());
    let re = match ctx.str_field("regex").filter(|s| !s.is_empty()) {
        Some(r) => Some(regex::Regex::new(&r).map_err(|e| ctx.err("regex", e.to_string()))?),
        None => None,
    };
    let title = ctx.title(&format!("Event {reason}"));
    let v = match ctx.read_json(&format!("cluster-resources/events/{ns}.json")) {
        Ok(v) => v,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, "clusterResources")]),
    };
    let ev = items(&v).iter().find(|e| {
        get_str(e, "reason").eq_ignore_ascii_case(&reason)
            && kind
                .as_ref()
                .is_none_or(|k| get_str(e, "involvedObject.kind") == k)
            && re
                .as_ref()
                .is_none_or(|r| r.is_match(get_str(e, "message")))
    });
    let found = ev.is_some();
    let env = FnEnv(
        |_: Option<&Subject>, _: Op, _: &str| Err("write `true` or `false`".to_string()),
        |w: &str| {
            crate::when::parse_bool(w)
                .map(|b| b == found)
                .ok_or_else(|| "write `true` or `false`".to_string())
        },
    );
    let data = ev.cloned().unwrap_or(Value::Null);
    let data = json!({
        "Reason": get_str(&data, "reason"), "Message": get_str(&data, "message"),
        "InvolvedObject": {"Kind": get_str(&data, "involvedObject.kind"), "Name": get_str(&data, "involvedObject.name"),
            "Namespace": get_str(&data, "involvedObject.namespace")},
    });
    first_match_row(ctx, &title, &outcomes, &env, Some(&data))
}

fn ingress(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let name = ctx.required_str("ingressName")?;
    let ns = ctx.required_str("namespace")?;
    let title = ctx.title(&format!("Ingress {name}"));
    let v = match ctx.read_json(&format!("cluster-resources/ingress/{ns}.json")) {
        Ok(v) => v,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, "clusterResources")]),
    };
    let found = items(&v)
        .iter()
        .any(|i| get_str(i, "metadata.name") == name);
    let kind = if found { Outcome::Pass } else { Outcome::Fail };
    Ok(vec![match outcomes.iter().rev().find(|o| o.kind == kind) {
        Some(o) => ctx.row(&title, o),
        None => ctx.plain(
            &title,
            kind,
            if found {
                format!("Ingress {ns}/{name} found")
            } else {
                format!("Ingress {ns}/{name} not found")
            },
        ),
    }])
}

/// The `cluster-resources/` file name troubleshoot uses for a kind.
fn resource_dir(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    match k.as_str() {
        "ingress" | "ingresses" => "ingress".into(),
        "networkpolicy" | "networkpolicies" => "network-policy".into(),
        "resourcequota" | "resourcequotas" => "resource-quota".into(),
        "poddisruptionbudget" | "poddisruptionbudgets" => "pod-disruption-budgets".into(),
        "persistentvolumeclaim" | "persistentvolumeclaims" | "pvc" => "pvcs".into(),
        "persistentvolume" | "persistentvolumes" | "pv" => "pvs".into(),
        "storageclass" | "storageclasses" => "storage-classes".into(),
        "ingressclass" | "ingressclasses" => "ingress-classes".into(),
        "customresourcedefinition" | "customresourcedefinitions" => {
            "custom-resource-definitions".into()
        }
        "priorityclass" | "priorityclasses" => "priorityclasses".into(),
        _ if k.ends_with('s') => k,
        _ => format!("{k}s"),
    }
}

/// `clusterResource`: a field of one collected object compared with `expectedValue` or `regex`.
fn cluster_resource(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let kind = ctx.required_str("kind")?;
    let name = ctx.required_str("name")?;
    let path = ctx.required_str("yamlPath")?;
    let cluster_scoped = ctx
        .spec
        .get("clusterScoped")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let ns = ctx
        .str_field("namespace")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into());
    let title = ctx.title(&format!("{kind} {name}"));
    let file = if cluster_scoped {
        format!("cluster-resources/{}.json", resource_dir(&kind))
    } else {
        format!("cluster-resources/{}/{ns}.json", resource_dir(&kind))
    };
    let v = match ctx.read_json(&file) {
        Ok(v) => v,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, "clusterResources")]),
    };
    let Some(obj) = items(&v)
        .iter()
        .find(|o| get_str(o, "metadata.name") == name)
    else {
        return Ok(vec![ctx.plain(
            &title,
            Outcome::Fail,
            format!("{kind} {name} was not found in {file}"),
        )]);
    };
    let mut cur = obj.clone();
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        cur = match seg.parse::<usize>() {
            Ok(i) if cur.is_array() => cur.get(i).cloned().unwrap_or(Value::Null),
            _ => cur.get(seg).cloned().unwrap_or(Value::Null),
        };
    }
    let matched = if let Some(re) = ctx.str_field("regex").filter(|s| !s.is_empty()) {
        let re = regex::Regex::new(&re).map_err(|e| ctx.err("regex", e.to_string()))?;
        let text = match &cur {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        re.is_match(&text)
    } else {
        let want = match ctx.spec.get("expectedValue") {
            Some(Value::String(s)) => {
                super::parse_json_or_yaml(s.as_bytes()).unwrap_or_else(|_| Value::String(s.clone()))
            }
            Some(other) => other.clone(),
            None => return Err(ctx.err("expectedValue", "give `expectedValue` or `regex`")),
        };
        super::compare::loose_eq(&cur, &want)
    };
    for (i, o) in outcomes.iter().enumerate() {
        let w = o.when.trim();
        let want = if w.is_empty() {
            o.kind == Outcome::Pass
        } else {
            crate::when::parse_bool(w).ok_or_else(|| {
                ctx.when_err(
                    i,
                    o,
                    crate::when::WhenError::new(w, "write `true` or `false`"),
                )
            })?
        };
        if want == matched {
            return Ok(vec![ctx.row(&title, o)]);
        }
    }
    Ok(Vec::new())
}
