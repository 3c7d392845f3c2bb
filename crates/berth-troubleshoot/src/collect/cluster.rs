//! Cluster collectors, through the Kubernetes API with the `kube` client. Lists are fetched
//! once per kind across all namespaces and split locally (one request per kind, not per kind
//! and namespace), and independent requests run concurrently, so a 200-namespace cluster
//! costs tens of requests, not thousands.

use super::{
    CollectError, Context, field_bool, field_duration, field_i64, field_str, field_strs, net,
};
use crate::spec::CollectorEntry;
use futures::StreamExt;
use kube::discovery::{Discovery, Scope};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Requests in flight per collector.
const CONCURRENCY: usize = 32;
/// troubleshoot's defaults for pod logs.
const DEFAULT_MAX_LINES: i64 = 10_000;
const DEFAULT_MAX_BYTES: i64 = 5_000_000;

/// Run one cluster collector.
pub async fn collect(entry: &CollectorEntry, ctx: &Context) -> Result<(), CollectError> {
    let f = &entry.fields;
    let name = entry.collector_name();
    match entry.kind.as_str() {
        "clusterInfo" => cluster_info(ctx).await,
        "clusterResources" => cluster_resources(f, ctx).await,
        "logs" => logs(f, name, ctx).await,
        "secret" => secret_or_configmap(f, ctx, true).await,
        "configMap" => secret_or_configmap(f, ctx, false).await,
        "http" => {
            let v = net::http_result(f).await?;
            let file = format!("{}.json", name.unwrap_or("result"));
            let path = match field_str(f, "name") {
                Some(n) => format!("{n}/{file}"),
                None => file,
            };
            Ok(ctx.sink.put_json(&path, &v)?)
        }
        "postgres" | "mysql" | "redis" => {
            let kind = entry.kind.as_str();
            let uri = field_str(f, "uri")
                .ok_or_else(|| CollectError::Spec(format!("{kind}.uri is required")))?;
            let v = super::db::check(kind, uri).await;
            Ok(ctx
                .sink
                .put_json(&format!("{kind}/{}.json", name.unwrap_or(kind)), &v)?)
        }
        "data" => {
            let data = field_str(f, "data").unwrap_or_default();
            let dir = field_str(f, "name").unwrap_or("data");
            let file = name.unwrap_or("data");
            Ok(ctx
                .sink
                .put(&format!("{dir}/{file}"), data.as_bytes().to_vec())?)
        }
        "nodeMetrics" => node_metrics(ctx).await,
        "certificates" => certificates(f, ctx).await,
        "exec" | "copy" | "sysctl" | "dns" => Err(CollectError::Unavailable(format!(
            "cluster collector `{}` needs to exec into or schedule privileged pods, which berth does not do yet; \
             use a host collector on the node instead",
            entry.kind
        ))),
        "runPod" | "run" => run_pod(f, name, ctx).await,
        "registryImages" => super::registry::registry_images(f, name, ctx).await,
        other => Err(CollectError::Unavailable(format!(
            "cluster collector `{other}` is not supported yet"
        ))),
    }
}

fn api_err(what: &str, e: kube::Error) -> CollectError {
    CollectError::Failed(format!("{what}: {}", net::error_chain(&e)))
}

async fn get_json(client: &kube::Client, path: &str) -> Result<Value, kube::Error> {
    let req = http::Request::get(path)
        .body(Vec::new())
        .map_err(kube::Error::HttpError)?;
    client.request::<Value>(req).await
}

async fn cluster_info(ctx: &Context) -> Result<(), CollectError> {
    let client = ctx.kube()?;
    match client.apiserver_version().await {
        Ok(info) => {
            let v = json!({"info": info, "string": info.git_version});
            Ok(ctx.sink.put_json("cluster-info/cluster_version.json", &v)?)
        }
        Err(e) => {
            let msg = net::error_chain(&e);
            ctx.sink.put_raw("cluster-info/cluster_version.json", b"")?;
            ctx.sink
                .put_json("cluster-info/errors.json", &vec![msg.clone()])?;
            Err(CollectError::Failed(format!(
                "cannot read the cluster version: {msg}"
            )))
        }
    }
}

/// troubleshoot's file name for a built-in kind (by group and plural).
fn ts_name(group: &str, plural: &str) -> Option<&'static str> {
    Some(match (group, plural) {
        ("", "pods") => "pods",
        ("", "services") => "services",
        ("apps", "deployments") => "deployments",
        ("apps", "replicasets") => "replicasets",
        ("apps", "statefulsets") => "statefulsets",
        ("apps", "daemonsets") => "daemonsets",
        ("batch", "jobs") => "jobs",
        ("batch", "cronjobs") => "cronjobs",
        ("networking.k8s.io", "ingresses") => "ingress",
        ("networking.k8s.io", "networkpolicies") => "network-policy",
        ("", "resourcequotas") => "resource-quota",
        ("policy", "poddisruptionbudgets") => "pod-disruption-budgets",
        ("", "limitranges") => "limitranges",
        ("", "events") => "events",
        ("", "persistentvolumeclaims") => "pvcs",
        ("rbac.authorization.k8s.io", "roles") => "roles",
        ("rbac.authorization.k8s.io", "rolebindings") => "rolebindings",
        ("", "endpoints") => "endpoints",
        ("discovery.k8s.io", "endpointslices") => "endpointslices",
        ("", "serviceaccounts") => "serviceaccounts",
        ("coordination.k8s.io", "leases") => "leases",
        ("", "configmaps") => "configmaps",
        ("", "namespaces") => "namespaces",
        ("", "nodes") => "nodes",
        ("storage.k8s.io", "storageclasses") => "storage-classes",
        ("networking.k8s.io", "ingressclasses") => "ingress-classes",
        ("scheduling.k8s.io", "priorityclasses") => "priorityclasses",
        ("apiextensions.k8s.io", "customresourcedefinitions") => "custom-resource-definitions",
        ("", "persistentvolumes") => "pvs",
        ("rbac.authorization.k8s.io", "clusterroles") => "clusterroles",
        ("rbac.authorization.k8s.io", "clusterrolebindings") => "clusterrolebindings",
        ("storage.k8s.io", "volumeattachments") => "volumeattachments",
        ("certificates.k8s.io", "certificatesigningrequests") => "certificatesigningrequests",
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations") => {
            "validatingwebhookconfigurations"
        }
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations") => {
            "mutatingwebhookconfigurations"
        }
        _ => return None,
    })
}

/// Kinds never collected: secret values stay out of bundles (the `secret` collector reports
/// presence), duplicates of core kinds, and kinds that cannot be listed usefully.
fn skipped(group: &str, plural: &str) -> bool {
    matches!(
        (group, plural),
        ("", "secrets")
            | ("events.k8s.io", "events")
            | ("", "componentstatuses")
            | ("", "bindings")
            | ("metrics.k8s.io", _)
    )
}

struct Kind {
    group: String,
    version: String,
    api_version: String,
    kind: String,
    plural: String,
    namespaced: bool,
    verbs: Vec<String>,
    /// Directory/file stem under cluster-resources/.
    stem: String,
}

impl Kind {
    fn url(&self, ns: Option<&str>) -> String {
        let base = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match ns {
            Some(ns) => format!("{base}/namespaces/{ns}/{}", self.plural),
            None => format!("{base}/{}", self.plural),
        }
    }
}

async fn cluster_resources(f: &Value, ctx: &Context) -> Result<(), CollectError> {
    let client = ctx.kube()?;
    let only_ns: Vec<String> = field_strs(f, "namespaces");
    // Aggregated discovery is one request and skips an unavailable aggregated API (a broken
    // metrics-server answers 503, which the per-group legacy walk retries until the collector
    // times out); servers before 1.26 only have the legacy walk.
    let disc = match Discovery::new(client.clone()).run_aggregated().await {
        Ok(d) => d,
        Err(_) => Discovery::new(client.clone())
            .run()
            .await
            .map_err(|e| api_err("API discovery", e))?,
    };
    // CRD-defined groups/plurals, to place custom resources like troubleshoot does.
    let crds = get_json(
        &client,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    )
    .await
    .ok();
    let crd_names: BTreeSet<String> = crds
        .as_ref()
        .and_then(|l| l.get("items"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.pointer("/metadata/name").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let mut kinds = Vec::new();
    let mut resources_json: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for g in disc.groups() {
        for (ar, caps) in g.recommended_resources() {
            if ar.plural.contains('/') {
                continue;
            }
            let namespaced = matches!(caps.scope, Scope::Namespaced);
            resources_json
                .entry(ar.api_version.clone())
                .or_default()
                .push(json!({
                    "name": ar.plural, "namespaced": namespaced, "kind": ar.kind, "verbs": caps.operations,
                }));
            if !caps.supports_operation("list") || skipped(&ar.group, &ar.plural) {
                continue;
            }
            let full = if ar.group.is_empty() {
                ar.plural.clone()
            } else {
                format!("{}.{}", ar.plural, ar.group)
            };
            let stem = match ts_name(&ar.group, &ar.plural) {
                Some(n) => n.to_string(),
                None if crd_names.contains(&full) => format!("custom-resources/{full}"),
                None => full,
            };
            kinds.push(Kind {
                group: ar.group.clone(),
                version: ar.version.clone(),
                api_version: ar.api_version.clone(),
                kind: ar.kind.clone(),
                plural: ar.plural.clone(),
                namespaced,
                verbs: caps.operations.clone(),
                stem,
            });
        }
    }
    let resources: Vec<Value> = resources_json
        .into_iter()
        .map(|(gv, r)| json!({"kind": "APIResourceList", "groupVersion": gv, "resources": r}))
        .collect();
    ctx.sink
        .put_json("cluster-resources/resources.json", &resources)?;
    let groups: Vec<Value> = disc
        .groups()
        .map(|g| json!({"name": g.name(), "versions": g.versions().collect::<Vec<_>>(), "preferredVersion": g.preferred_version()}))
        .collect();
    ctx.sink
        .put_json("cluster-resources/groups.json", &groups)?;

    // Namespaces to write: the given list, or every namespace.
    let ns_list: Vec<String> = if only_ns.is_empty() {
        let l = get_json(&client, "/api/v1/namespaces")
            .await
            .map_err(|e| api_err("listing namespaces", e))?;
        items(&l)
            .iter()
            .filter_map(|i| i.pointer("/metadata/name").and_then(Value::as_str))
            .map(str::to_string)
            .collect()
    } else {
        only_ns.clone()
    };
    let ns_set: BTreeSet<&str> = ns_list.iter().map(String::as_str).collect();
    let errors: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let sink = &ctx.sink;
    let client = &client;
    let ns_list = &ns_list;
    let ns_set = &ns_set;
    let only_ns = &only_ns;
    let errors_ref = &errors;
    let futs: Vec<_> = kinds
        .iter()
        .map(|k| {
            let errors = errors_ref;
            async move {
                let r = collect_kind(client, k, ns_list, ns_set, only_ns, sink).await;
                if let Err(e) = r {
                    let msg = format!("{}: {e}", k.stem);
                    let _ = sink.put_json(
                        &format!("cluster-resources/{}-errors.json", k.stem),
                        &vec![msg.clone()],
                    );
                    if let Ok(mut v) = errors.lock() {
                        v.push(msg);
                    }
                }
            }
        })
        .collect();
    futures::stream::iter(futs)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    let mut errors = errors.into_inner().unwrap_or_default();
    if let Err(e) = unhealthy_pod_logs(client, ns_set, sink).await {
        errors.push(e);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CollectError::Failed(format!(
            "{} kinds could not be listed (see cluster-resources/*-errors.json): {}",
            errors.len(),
            errors.join("; ")
        )))
    }
}

/// Logs of pods that are not running and ready (last 500 lines, 5 MB), as troubleshoot's
/// clusterResources collects them: the first thing anyone reads about a crash loop.
async fn unhealthy_pod_logs(
    client: &kube::Client,
    ns_set: &BTreeSet<&str>,
    sink: &super::Sink,
) -> Result<(), String> {
    let pods = get_json(client, "/api/v1/pods")
        .await
        .map_err(|e| format!("pods for logs: {}", net::error_chain(&e)))?;
    let mut jobs = Vec::new();
    for p in items(&pods) {
        let ns = p
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !ns_set.contains(ns) {
            continue;
        }
        let name = p
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let phase = p
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("");
        for st in p
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ready = st.get("ready").and_then(Value::as_bool).unwrap_or(false);
            let restarts = st.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
            if phase == "Succeeded" || (phase == "Running" && ready && restarts == 0) {
                continue;
            }
            let c = st.get("name").and_then(Value::as_str).unwrap_or("");
            jobs.push((ns.to_string(), name.to_string(), c.to_string(), false));
            if restarts > 0 {
                jobs.push((ns.to_string(), name.to_string(), c.to_string(), true));
            }
        }
    }
    let futs: Vec<_> = jobs
        .into_iter()
        .map(|(ns, pod, c, previous)| async move {
            let q = query(&[
                ("container", c.clone()),
                ("tailLines", "500".into()),
                ("limitBytes", DEFAULT_MAX_BYTES.to_string()),
                ("previous", previous.to_string()),
            ]);
            let url = format!("/api/v1/namespaces/{ns}/pods/{pod}/log?{q}");
            let file = if previous {
                format!("{c}-previous.log")
            } else {
                format!("{c}.log")
            };
            // A waiting container has no log yet; that is not an error of the collector.
            if let Ok(bytes) = fetch_bounded(client, &url, Some(DEFAULT_MAX_BYTES as u64)).await {
                let _ = sink.put(
                    &format!("cluster-resources/pods/logs/{ns}/{pod}/{file}"),
                    bytes,
                );
            }
        })
        .collect();
    futures::stream::iter(futs)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    Ok(())
}

fn items(list: &Value) -> &[Value] {
    list.get("items")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn list_of(k: &Kind, items: Vec<Value>) -> Value {
    json!({
        "kind": format!("{}List", k.kind),
        "apiVersion": k.api_version,
        "metadata": {},
        "items": items,
    })
}

async fn collect_kind(
    client: &kube::Client,
    k: &Kind,
    ns_list: &[String],
    ns_set: &BTreeSet<&str>,
    only_ns: &[String],
    sink: &super::Sink,
) -> Result<(), String> {
    let _ = &k.verbs;
    if !k.namespaced {
        let l = get_json(client, &k.url(None))
            .await
            .map_err(|e| net::error_chain(&e))?;
        let mut items = items(&l).to_vec();
        if k.plural == "namespaces" && !only_ns.is_empty() {
            items.retain(|i| {
                i.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| ns_set.contains(n))
            });
        }
        fill_type(&mut items, k);
        return sink
            .put_json(
                &format!("cluster-resources/{}.json", k.stem),
                &list_of(k, items),
            )
            .map_err(|e| e.to_string());
    }
    // One list across namespaces when allowed; per namespace when only a few are asked for
    // or when RBAC forbids the cluster-wide list.
    let mut by_ns: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let cluster_wide = if only_ns.is_empty() || only_ns.len() > 20 {
        get_json(client, &k.url(None)).await.ok()
    } else {
        None
    };
    let mut errors = Vec::new();
    match cluster_wide {
        Some(l) => {
            for i in items(&l) {
                let ns = i
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if ns_set.contains(ns) {
                    by_ns.entry(ns.to_string()).or_default().push(i.clone());
                }
            }
        }
        None => {
            let futs: Vec<_> = ns_list
                .iter()
                .map(|ns| async move { (ns.clone(), get_json(client, &k.url(Some(ns))).await) })
                .collect();
            let results: Vec<(String, Result<Value, kube::Error>)> = futures::stream::iter(futs)
                .buffer_unordered(8)
                .collect()
                .await;
            for (ns, r) in results {
                match r {
                    Ok(l) => {
                        by_ns.insert(ns, items(&l).to_vec());
                    }
                    Err(e) => errors.push(format!("namespace {ns}: {}", net::error_chain(&e))),
                }
            }
        }
    }
    for ns in ns_list {
        let mut items = by_ns.remove(ns).unwrap_or_default();
        if items.is_empty() && !errors.is_empty() {
            continue;
        }
        fill_type(&mut items, k);
        sink.put_json(
            &format!("cluster-resources/{}/{ns}.json", k.stem),
            &list_of(k, items),
        )
        .map_err(|e| e.to_string())?;
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

fn fill_type(items: &mut [Value], k: &Kind) {
    for i in items {
        if let Value::Object(m) = i {
            m.entry("kind")
                .or_insert_with(|| Value::String(k.kind.clone()));
            m.entry("apiVersion")
                .or_insert_with(|| Value::String(k.api_version.clone()));
        }
    }
}

fn query(pairs: &[(&str, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

async fn logs(f: &Value, name: Option<&str>, ctx: &Context) -> Result<(), CollectError> {
    let client = ctx.kube()?;
    let ns = field_str(f, "namespace").unwrap_or("");
    let selector = field_strs(f, "selector").join(",");
    let containers = field_strs(f, "containerNames");
    let limits = f.get("limits").cloned().unwrap_or(Value::Null);
    let max_age = field_duration(&limits, "maxAge")?;
    let since_time = field_str(&limits, "sinceTime").map(str::to_string);
    let unbounded = max_age.is_some() || since_time.is_some();
    let max_lines = field_i64(&limits, "maxLines")?
        .or((!unbounded).then_some(DEFAULT_MAX_LINES))
        .filter(|n| *n > 0);
    let max_bytes = field_i64(&limits, "maxBytes")?
        .or((!unbounded).then_some(DEFAULT_MAX_BYTES))
        .filter(|n| *n > 0);
    let timestamps = field_bool(f, "timestamps");
    // The link directory: `name`, else the collectorName.
    let link_dir = field_str(f, "name").or(name).map(str::to_string);
    let path = if ns.is_empty() {
        "/api/v1/pods".to_string()
    } else {
        format!("/api/v1/namespaces/{ns}/pods")
    };
    let path = if selector.is_empty() {
        path
    } else {
        format!("{path}?{}", query(&[("labelSelector", selector.clone())]))
    };
    let pods = get_json(&client, &path)
        .await
        .map_err(|e| api_err(&format!("listing pods ({selector})"), e))?;
    let mut jobs = Vec::new();
    for p in items(&pods) {
        let pns = p
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(ns);
        let pname = p
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let statuses: BTreeMap<&str, i64> = p
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| {
                        Some((
                            s.get("name")?.as_str()?,
                            s.get("restartCount").and_then(Value::as_i64).unwrap_or(0),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let names: Vec<String> = ["/spec/initContainers", "/spec/containers"]
            .iter()
            .filter_map(|ptr| p.pointer(ptr).and_then(Value::as_array))
            .flatten()
            .filter_map(|c| c.get("name").and_then(Value::as_str))
            .filter(|c| containers.is_empty() || containers.iter().any(|x| x == c))
            .map(str::to_string)
            .collect();
        for c in names {
            let restarted = statuses.get(c.as_str()).copied().unwrap_or(0) > 0;
            jobs.push((pns.to_string(), pname.to_string(), c.clone(), false));
            if restarted {
                jobs.push((pns.to_string(), pname.to_string(), c, true));
            }
        }
    }
    let client = &client;
    let since_seconds = max_age.map(|d| d.as_secs().max(1));
    let futs: Vec<_> = jobs
        .into_iter()
        .map(|(pns, pod, c, previous)| {
            let since_time = since_time.clone();
            let link_dir = link_dir.clone();
            async move {
                let mut q: Vec<(&str, String)> = vec![("container", c.clone())];
                if let Some(n) = max_lines {
                    q.push(("tailLines", n.to_string()));
                }
                if let Some(n) = max_bytes {
                    q.push(("limitBytes", n.to_string()));
                }
                if let Some(s) = since_seconds {
                    q.push(("sinceSeconds", s.to_string()));
                }
                if let Some(t) = since_time {
                    q.push(("sinceTime", t));
                }
                if timestamps {
                    q.push(("timestamps", "true".into()));
                }
                if previous {
                    q.push(("previous", "true".into()));
                }
                let url = format!("/api/v1/namespaces/{pns}/pods/{pod}/log?{}", query(&q));
                let file = if previous {
                    format!("{c}-previous.log")
                } else {
                    format!("{c}.log")
                };
                let target = format!("cluster-resources/pods/logs/{pns}/{pod}/{file}");
                let body = fetch_bounded(client, &url, max_bytes.map(|b| b as u64)).await;
                match body {
                    Ok(bytes) => {
                        if let Err(e) = ctx.sink.put(&target, bytes) {
                            return Some(format!("{pns}/{pod}/{c}: {e}"));
                        }
                        if let Some(d) = link_dir
                            && let Err(e) = ctx.sink.link(&format!("{d}/{pod}/{file}"), &target)
                        {
                            return Some(format!("{pns}/{pod}/{c}: {e}"));
                        }
                        None
                    }
                    Err(e) => {
                        let msg = format!(
                            "{pns}/{pod}/{c}{}: {e}",
                            if previous { " (previous)" } else { "" }
                        );
                        // Missing previous logs are normal after a node restart.
                        let name = link_dir.as_deref().unwrap_or("logs");
                        let _ = ctx.sink.put_json(
                            &format!("{name}/{pod}/{}-errors.json", c),
                            &vec![msg.clone()],
                        );
                        (!previous).then_some(msg)
                    }
                }
            }
        })
        .collect();
    let errors: Vec<String> = futures::stream::iter(futs)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<Option<String>>>()
        .await
        .into_iter()
        .flatten()
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CollectError::Failed(format!(
            "{} container logs could not be read: {}",
            errors.len(),
            errors
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        )))
    }
}

/// GET a body with a byte cap (the server's `limitBytes` is honoured, but a server that ignores
/// it must not make us buffer without end).
async fn fetch_bounded(
    client: &kube::Client,
    url: &str,
    cap: Option<u64>,
) -> Result<Vec<u8>, String> {
    use futures::AsyncReadExt;
    let req = http::Request::get(url)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let stream = client
        .request_stream(req)
        .await
        .map_err(|e| net::error_chain(&e))?;
    let cap = cap.unwrap_or(1 << 30);
    let mut buf = Vec::new();
    let mut s = Box::pin(stream).take(cap);
    s.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
    Ok(buf)
}

async fn secret_or_configmap(f: &Value, ctx: &Context, secret: bool) -> Result<(), CollectError> {
    use base64::Engine as _;
    let client = ctx.kube()?;
    let what = if secret { "secret" } else { "configMap" };
    let ns = field_str(f, "namespace").unwrap_or("default");
    let key = field_str(f, "key").map(str::to_string);
    let include_value = field_bool(f, "includeValue");
    let include_all = field_bool(f, "includeAllData");
    let plural = if secret { "secrets" } else { "configmaps" };
    let dir = if secret { "secrets" } else { "configmaps" };
    let names: Vec<(String, Option<Value>)> = match field_str(f, "name") {
        Some(n) => {
            let r = get_json(&client, &format!("/api/v1/namespaces/{ns}/{plural}/{n}")).await;
            match r {
                Ok(o) => vec![(n.to_string(), Some(o))],
                Err(kube::Error::Api(s)) if s.code == 404 => vec![(n.to_string(), None)],
                Err(e) => return Err(api_err(&format!("reading {what} {ns}/{n}"), e)),
            }
        }
        None => {
            let sel = field_strs(f, "selector").join(",");
            if sel.is_empty() {
                return Err(CollectError::Spec(format!("{what} needs name or selector")));
            }
            let l = get_json(
                &client,
                &format!(
                    "/api/v1/namespaces/{ns}/{plural}?{}",
                    query(&[("labelSelector", sel)])
                ),
            )
            .await
            .map_err(|e| api_err(&format!("listing {plural} in {ns}"), e))?;
            items(&l)
                .iter()
                .map(|o| {
                    (
                        o.pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        Some(o.clone()),
                    )
                })
                .collect()
        }
    };
    for (name, obj) in names {
        let decode = |v: &Value| -> Value {
            match v.as_str() {
                Some(s) if secret => base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map(|b| Value::String(String::from_utf8_lossy(&b).into_owned()))
                    .unwrap_or(Value::Null),
                _ => v.clone(),
            }
        };
        let data: Map<String, Value> = obj
            .as_ref()
            .and_then(|o| o.get("data"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let key_exists = key.as_ref().is_some_and(|k| data.contains_key(k));
        let mut rec = Map::new();
        rec.insert("namespace".into(), json!(ns));
        rec.insert("name".into(), json!(name));
        rec.insert("key".into(), json!(key.clone().unwrap_or_default()));
        rec.insert(
            if secret {
                "secretExists"
            } else {
                "configMapExists"
            }
            .into(),
            json!(obj.is_some()),
        );
        rec.insert("keyExists".into(), json!(key_exists));
        if include_value
            && let Some(k) = &key
            && let Some(v) = data.get(k)
        {
            rec.insert("value".into(), decode(v));
        }
        if include_all {
            let all: Map<String, Value> =
                data.iter().map(|(k, v)| (k.clone(), decode(v))).collect();
            rec.insert("data".into(), Value::Object(all));
        } else if !secret {
            rec.insert("data".into(), Value::Null);
        }
        let path = match (&key, include_all) {
            (Some(k), false) => format!("{dir}/{ns}/{name}/{k}.json"),
            _ => format!("{dir}/{ns}/{name}.json"),
        };
        ctx.sink.put_json(&path, &Value::Object(rec))?;
        if obj.is_none() {
            let err_dir = if secret {
                "secrets-errors"
            } else {
                "configmaps-errors"
            };
            ctx.sink.put_json(
                &format!("{err_dir}/{ns}/{name}.json"),
                &vec![format!("{what} {ns}/{name} not found")],
            )?;
        }
    }
    Ok(())
}

async fn node_metrics(ctx: &Context) -> Result<(), CollectError> {
    let client = ctx.kube()?;
    let nodes = get_json(&client, "/api/v1/nodes")
        .await
        .map_err(|e| api_err("listing nodes", e))?;
    let mut errors = Vec::new();
    for n in items(&nodes) {
        let Some(name) = n.pointer("/metadata/name").and_then(Value::as_str) else {
            continue;
        };
        match get_json(
            &client,
            &format!("/api/v1/nodes/{name}/proxy/stats/summary"),
        )
        .await
        {
            Ok(v) => ctx
                .sink
                .put_json(&format!("node-metrics/{name}.json"), &v)?,
            Err(e) => errors.push(format!("node {name}: {}", net::error_chain(&e))),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CollectError::Failed(errors.join("; ")))
    }
}

async fn certificates(f: &Value, ctx: &Context) -> Result<(), CollectError> {
    use base64::Engine as _;
    let client = ctx.kube()?;
    let mut out = Vec::new();
    for (field, plural, label) in [
        ("secrets", "secrets", "secret"),
        ("configMaps", "configmaps", "configmap"),
    ] {
        for src in f.get(field).and_then(Value::as_array).into_iter().flatten() {
            let Some(name) = field_str(src, "name") else {
                continue;
            };
            let mut nss = field_strs(src, "namespaces");
            if nss.is_empty() {
                nss.push("default".into());
            }
            for ns in nss {
                let r =
                    get_json(&client, &format!("/api/v1/namespaces/{ns}/{plural}/{name}")).await;
                let obj = match r {
                    Ok(o) => o,
                    Err(e) => {
                        out.push(json!({"source": {format!("{label}Name"): name, "namespace": ns}, "errors": [net::error_chain(&e)]}));
                        continue;
                    }
                };
                for (k, v) in obj
                    .get("data")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let Some(s) = v.as_str() else { continue };
                    let bytes = if label == "secret" {
                        base64::engine::general_purpose::STANDARD
                            .decode(s)
                            .unwrap_or_default()
                    } else {
                        s.as_bytes().to_vec()
                    };
                    if let Some(chain) = super::certs::chain_info(&bytes) {
                        out.push(json!({
                            "source": {format!("{label}Name"): name, "namespace": ns, "key": k},
                            "certificateChain": chain,
                        }));
                    }
                }
            }
        }
    }
    Ok(ctx.sink.put_json("certificates/certificates.json", &out)?)
}

async fn run_pod(f: &Value, name: Option<&str>, ctx: &Context) -> Result<(), CollectError> {
    let client = ctx.kube()?;
    let ns = field_str(f, "namespace").unwrap_or("default");
    let spec = f
        .get("podSpec")
        .cloned()
        .ok_or_else(|| CollectError::Spec("runPod.podSpec is required".into()))?;
    let timeout = field_duration(f, "timeout")?.unwrap_or(Duration::from_secs(60));
    let pod_name = format!(
        "berth-runpod-{}",
        jiff::Timestamp::now().as_millisecond() % 1_000_000_000
    );
    let dir = name
        .or(field_str(f, "name"))
        .unwrap_or("runPod")
        .to_string();
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod_name, "namespace": ns, "labels": {"troubleshoot.sh/collector": "runPod"}},
        "spec": spec,
    });
    let req = http::Request::post(format!("/api/v1/namespaces/{ns}/pods"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&pod).unwrap_or_default())
        .map_err(|e| CollectError::Failed(e.to_string()))?;
    client
        .request::<Value>(req)
        .await
        .map_err(|e| api_err(&format!("creating pod {ns}/{pod_name}"), e))?;
    let get = format!("/api/v1/namespaces/{ns}/pods/{pod_name}");
    let waited = tokio::time::timeout(timeout, async {
        loop {
            if let Ok(p) = get_json(&client, &get).await {
                let phase = p
                    .pointer("/status/phase")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if phase == "Succeeded" || phase == "Failed" {
                    return p;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
    .await;
    let result = match waited {
        Ok(p) => {
            let logs = fetch_bounded(
                &client,
                &format!("{get}/log"),
                Some(DEFAULT_MAX_BYTES as u64),
            )
            .await
            .unwrap_or_default();
            ctx.sink.put(&format!("{dir}/{dir}.log"), logs)?;
            ctx.sink.put_json(&format!("{dir}/{dir}.json"), &p)?;
            Ok(())
        }
        Err(_) => Err(CollectError::Failed(format!(
            "pod {ns}/{pod_name} did not finish within {timeout:?}; check that images can be pulled and the pod can schedule"
        ))),
    };
    if let Ok(req) = http::Request::delete(&get).body(Vec::new()) {
        let _ = client.request_text(req).await;
    }
    result
}
