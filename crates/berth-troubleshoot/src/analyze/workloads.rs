//! Workload analyzers: deployments, statefulsets, jobs, replicasets, pods and containers.

use serde_json::{Value, json};

use super::{
    AnalyzeError, AnalyzeResult, Ctx, FnEnv, Outcome, Run, first_match_row, get, get_i64, get_str,
    items, subject_name,
};
use crate::when::{Op, Subject, When};

pub(crate) fn run(ctx: &Ctx) -> Run {
    Some(match ctx.kind {
        "deploymentStatus" => replicas_status(ctx, "deployments", "deployment"),
        "statefulsetStatus" => replicas_status(ctx, "statefulsets", "statefulset"),
        "jobStatus" => job_status(ctx),
        "replicasetStatus" => replicaset_status(ctx),
        "clusterPodStatuses" => pod_statuses(ctx),
        "clusterContainerStatuses" => container_statuses(ctx),
        _ => return None,
    })
}

/// `(namespace, objects)` for every namespace the analyzer looks at.
fn objects_by_ns(ctx: &Ctx, dir: &str) -> Vec<(String, Vec<Value>)> {
    let mut namespaces = ctx.str_list("namespaces");
    if let Some(ns) = ctx.str_field("namespace").filter(|s| !s.is_empty()) {
        namespaces.insert(0, ns);
    }
    let paths: Vec<String> = if namespaces.is_empty() {
        ctx.reader
            .glob(&format!("cluster-resources/{dir}/*.json"))
            .into_iter()
            .filter(|p| !p.ends_with("-errors.json"))
            .collect()
    } else {
        namespaces
            .iter()
            .map(|ns| format!("cluster-resources/{dir}/{ns}.json"))
            .collect()
    };
    paths
        .into_iter()
        .filter_map(|p| {
            let ns = p.rsplit('/').next()?.trim_end_matches(".json").to_string();
            let v = ctx.read_json(&p).ok()?;
            Some((ns, items(&v).to_vec()))
        })
        .collect()
}

fn int_env(
    value_of: impl Fn(&str) -> Result<f64, String>,
) -> impl Fn(Option<&Subject>, Op, &str) -> Result<bool, String> {
    move |s, op, value| {
        let have = value_of(&subject_name(s))?;
        let want: f64 = value
            .parse()
            .map_err(|_| format!("`{value}` is not an integer"))?;
        if !op.is_ordering() {
            return Err(format!("`{op}` cannot compare counts"));
        }
        Ok(op.holds(&have, &want))
    }
}

fn replicas_status(ctx: &Ctx, dir: &str, noun: &str) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let Some(name) = ctx.str_field("name").filter(|s| !s.is_empty()) else {
        // Unnamed: one FAIL row per object that is not fully available.
        let mut rows = Vec::new();
        for (ns, objs) in objects_by_ns(ctx, dir) {
            for o in objs {
                let n = get_str(&o, "metadata.name");
                let want = get(&o, "spec.replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                let have = if noun == "deployment" {
                    get_i64(&o, "status.availableReplicas")
                } else {
                    get_i64(&o, "status.readyReplicas")
                };
                if have != want {
                    let kind = if noun == "deployment" {
                        "Deployment"
                    } else {
                        "StatefulSet"
                    };
                    rows.push(ctx.plain(
                        &format!("{ns}/{n} {kind} Status"),
                        Outcome::Fail,
                        format!("The {noun} {ns}/{n} has {have}/{want} replicas"),
                    ));
                }
            }
        }
        return Ok(rows);
    };
    // Troubleshoot titles named checks `<name> Status` and ignores checkName.
    let title = format!("{name} Status");
    let ns = ctx
        .str_field("namespace")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into());
    let path = format!("cluster-resources/{dir}/{ns}.json");
    let v = match ctx.read_json(&path) {
        Ok(v) => v,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, "clusterResources")]),
    };
    let obj = items(&v)
        .iter()
        .find(|o| get_str(o, "metadata.name") == name)
        .cloned();
    let Some(obj) = obj else {
        for o in &outcomes {
            if o.when.trim() == "absent" {
                return Ok(vec![ctx.row(&title, o)]);
            }
        }
        return Ok(vec![ctx.plain(
            &title,
            Outcome::Fail,
            format!("The {noun} \"{name}\" was not found"),
        )]);
    };
    let ready = get_i64(&obj, "status.readyReplicas") as f64;
    let env = FnEnv(int_env(|_| Ok(ready)), |w: &str| match w {
        "absent" => Ok(false),
        _ => Err(format!("`{w}`: write `absent` or `<op> <replicas>`")),
    });
    first_match_row(ctx, &title, &outcomes, &env, Some(&obj))
}

fn job_status(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let name = ctx.str_field("name").filter(|s| !s.is_empty());
    let unfinished = |ns: &str, j: &Value| -> Option<AnalyzeResult> {
        let complete = get(j, "status.conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| get_str(c, "type") == "Complete" && get_str(c, "status") == "True");
        let failed = get_i64(j, "status.failed");
        (!complete && failed > 0).then(|| {
            let n = get_str(j, "metadata.name");
            ctx.plain(
                &format!("{ns}/{n} Job Status"),
                Outcome::Fail,
                format!("The job {ns}/{n} is not complete"),
            )
        })
    };
    let Some(name) = name.filter(|_| !outcomes.is_empty()) else {
        let mut rows = Vec::new();
        for (ns, jobs) in objects_by_ns(ctx, "jobs") {
            rows.extend(
                jobs.iter()
                    .filter(|j| {
                        ctx.str_field("name")
                            .is_none_or(|n| get_str(j, "metadata.name") == n)
                    })
                    .filter_map(|j| unfinished(&ns, j)),
            );
        }
        return Ok(rows);
    };
    let title = format!("{name} Status");
    let ns = ctx
        .str_field("namespace")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into());
    let v = match ctx.read_json(&format!("cluster-resources/jobs/{ns}.json")) {
        Ok(v) => v,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, "clusterResources")]),
    };
    let Some(job) = items(&v)
        .iter()
        .find(|j| get_str(j, "metadata.name") == name)
        .cloned()
    else {
        return Ok(vec![ctx.plain(
            &title,
            Outcome::Fail,
            format!("The job \"{name}\" was not found"),
        )]);
    };
    let env = FnEnv(
        int_env(|s| match s {
            "succeeded" => Ok(get_i64(&job, "status.succeeded") as f64),
            "failed" => Ok(get_i64(&job, "status.failed") as f64),
            other => Err(format!(
                "jobStatus compares `succeeded` or `failed`, not `{other}`"
            )),
        }),
        super::cluster::no_words,
    );
    first_match_row(ctx, &title, &outcomes, &env, Some(&job))
}

fn replicaset_status(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let name = ctx.str_field("name").filter(|s| !s.is_empty());
    let selector: Vec<(String, String)> = ctx
        .str_list("selector")
        .iter()
        .filter_map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let mut rows = Vec::new();
    for (ns, sets) in objects_by_ns(ctx, "replicasets") {
        for rs in sets {
            let n = get_str(&rs, "metadata.name").to_string();
            if name.as_ref().is_some_and(|want| *want != n) {
                continue;
            }
            let labels = get(&rs, "metadata.labels").cloned().unwrap_or(Value::Null);
            if !selector
                .iter()
                .all(|(k, v)| labels.get(k).and_then(Value::as_str) == Some(v.as_str()))
            {
                continue;
            }
            let want = get(&rs, "spec.replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let ready = get_i64(&rs, "status.readyReplicas") as f64;
            let available = get_i64(&rs, "status.availableReplicas") as f64;
            let title = if name.is_some() {
                format!("{n} Status")
            } else {
                format!("{ns}/{n} ReplicaSet Status")
            };
            if outcomes.is_empty() {
                if available as i64 != want {
                    rows.push(ctx.plain(
                        &title,
                        Outcome::Fail,
                        format!("The replicaset {ns}/{n} is not ready"),
                    ));
                }
                continue;
            }
            let env = FnEnv(
                int_env(|s| match s {
                    "ready" => Ok(ready),
                    "available" | "" => Ok(available),
                    other => Err(format!(
                        "replicasetStatus compares `ready` or `available`, not `{other}`"
                    )),
                }),
                super::cluster::no_words,
            );
            rows.extend(first_match_row(ctx, &title, &outcomes, &env, Some(&rs))?);
        }
    }
    if rows.is_empty()
        && let Some(n) = &name
    {
        rows.push(ctx.plain(
            &format!("{n} Status"),
            Outcome::Fail,
            format!("The replicaset \"{n}\" was not found"),
        ));
    }
    Ok(rows)
}

/// The status reason kubectl prints for a pod (`CrashLoopBackOff`, `Init:0/1`, `Completed`, ...).
pub(crate) fn pod_reason(pod: &Value) -> String {
    let mut reason = get_str(pod, "status.reason").to_string();
    if reason.is_empty() {
        reason = get_str(pod, "status.phase").to_string();
    }
    let init = get(pod, "status.initContainerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let total_init = init.len();
    let mut initializing = false;
    for (i, c) in init.iter().enumerate() {
        let term_code = get(c, "state.terminated.exitCode").and_then(Value::as_i64);
        if term_code == Some(0) {
            continue;
        }
        initializing = true;
        if let Some(code) = term_code {
            let r = get_str(c, "state.terminated.reason");
            reason = if r.is_empty() {
                format!("Init:ExitCode:{code}")
            } else {
                format!("Init:{r}")
            };
        } else {
            let w = get_str(c, "state.waiting.reason");
            reason = if !w.is_empty() && w != "PodInitializing" {
                format!("Init:{w}")
            } else {
                format!("Init:{i}/{total_init}")
            };
        }
        break;
    }
    if !initializing {
        let mut has_running = false;
        let containers = get(pod, "status.containerStatuses")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for c in containers.iter().rev() {
            let w = get_str(c, "state.waiting.reason");
            let t = get_str(c, "state.terminated.reason");
            if !w.is_empty() {
                reason = w.to_string();
            } else if !t.is_empty() {
                reason = t.to_string();
            } else if let Some(code) = get(c, "state.terminated.exitCode").and_then(Value::as_i64) {
                reason = format!("ExitCode:{code}");
            } else if get(c, "ready").and_then(Value::as_bool) == Some(true)
                && get(c, "state.running").is_some()
            {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            let ready = get(pod, "status.conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|c| get_str(c, "type") == "Ready" && get_str(c, "status") == "True");
            reason = if ready {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }
    if get(pod, "metadata.deletionTimestamp").is_some_and(|d| !d.is_null()) {
        reason = "Terminating".into();
    }
    reason
}

fn pod_healthy(pod: &Value, reason: &str) -> bool {
    let phase = get_str(pod, "status.phase");
    if matches!(phase, "Failed" | "Pending" | "Unknown") {
        return false;
    }
    if reason == "Completed" {
        return true;
    }
    let containers = get(pod, "status.containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    reason == "Running"
        && containers
            .iter()
            .all(|c| get(c, "ready").and_then(Value::as_bool) == Some(true))
}

fn pod_statuses(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let mut parsed = Vec::new();
    for (i, o) in outcomes.iter().enumerate() {
        parsed.push(When::parse(&o.when).map_err(|e| ctx.when_err(i, o, e))?);
    }
    let title_tpl = ctx
        .str_field("checkName")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "Pod {{ .Namespace }}/{{ .Name }} status".into());
    let pods_by_ns = objects_by_ns(ctx, "pods");
    if pods_by_ns.is_empty() {
        return Ok(vec![ctx.missing(
            &ctx.title("Pod Statuses"),
            &super::Missing("cluster-resources/pods/<namespace>.json".into()),
            "clusterResources",
        )]);
    }
    let mut rows = Vec::new();
    for (ns, pods) in pods_by_ns {
        let events = ctx
            .read_json(&format!("cluster-resources/events/{ns}.json"))
            .ok();
        for pod in pods {
            let reason = pod_reason(&pod);
            let phase = get_str(&pod, "status.phase").to_string();
            let healthy = pod_healthy(&pod, &reason);
            let name = get_str(&pod, "metadata.name").to_string();
            let mut message = get_str(&pod, "status.message").to_string();
            if message.is_empty()
                && let Some(ev) = &events
            {
                let warnings: Vec<&str> = items(ev)
                    .iter()
                    .filter(|e| {
                        get_str(e, "type") == "Warning" && get_str(e, "involvedObject.name") == name
                    })
                    .map(|e| get_str(e, "message"))
                    .collect();
                message = warnings.join(". ");
            }
            let env = FnEnv(
                |s: Option<&Subject>, op: Op, value: &str| -> Result<bool, String> {
                    if s.is_some() {
                        return Err("write `== <Reason|Phase|Healthy>` or `!= ...`".into());
                    }
                    let is = if value == "Healthy" {
                        healthy
                    } else {
                        reason == value || phase == value
                    };
                    match op {
                        Op::Eq => Ok(is),
                        Op::Ne => Ok(!is),
                        _ => Err(format!("clusterPodStatuses takes == or !=, not `{op}`")),
                    }
                },
                super::cluster::no_words,
            );
            for (i, (o, w)) in outcomes.iter().zip(&parsed).enumerate() {
                let hit = w
                    .eval(&env)
                    .map_err(|c| ctx.when_err(i, o, crate::when::WhenError::new(&o.when, c)))?;
                if !hit {
                    continue;
                }
                let data = json!({
                    "Namespace": ns, "Name": name,
                    "Status": {"Reason": reason, "Phase": phase, "Message": if message.is_empty() { "None".to_string() } else { message.clone() }},
                });
                let title = super::template::render(&title_tpl, &data);
                let mut r = ctx.row_templated(&title, o, &data);
                if o.message.is_empty() {
                    r.message = super::template::render(
                        "Pod {{ .Namespace }}/{{ .Name }} status is {{ .Status.Reason }}. Message is: {{ .Status.Message }}",
                        &data,
                    );
                }
                r.involved_object = Some(json!({"kind": "Pod", "namespace": ns, "name": name}));
                rows.push(r);
                break;
            }
        }
    }
    Ok(rows)
}

fn container_statuses(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Container Statuses");
    let min_restarts = ctx
        .str_field("restartCount")
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0);
    struct Hit {
        ns: String,
        pod: String,
        container: String,
        ready: bool,
        restarts: i64,
        message: String,
        reason: String,
    }
    let mut hits = Vec::new();
    for (ns, pods) in objects_by_ns(ctx, "pods") {
        for pod in pods {
            let containers = get(&pod, "status.containerStatuses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(c) = containers
                .iter()
                .find(|c| get_i64(c, "restartCount") >= min_restarts)
            {
                let pick = |f: &str| {
                    ["lastState.terminated", "state.terminated", "state.waiting"]
                        .iter()
                        .map(|p| get_str(c, &format!("{p}.{f}")))
                        .find(|s| !s.is_empty())
                        .unwrap_or("")
                        .to_string()
                };
                hits.push(Hit {
                    ns: ns.clone(),
                    pod: get_str(&pod, "metadata.name").into(),
                    container: get_str(c, "name").into(),
                    ready: get(c, "ready").and_then(Value::as_bool).unwrap_or(false),
                    restarts: get_i64(c, "restartCount"),
                    message: pick("message"),
                    reason: pick("reason"),
                });
            }
        }
    }
    let mut rows = Vec::new();
    for (i, o) in outcomes.iter().enumerate() {
        let w = When::parse(&o.when).map_err(|e| ctx.when_err(i, o, e))?;
        if w == When::Always {
            if rows.is_empty() {
                rows.push(ctx.row(&title, o));
            }
            return Ok(rows);
        }
        for h in &hits {
            let env = FnEnv(
                |_: Option<&Subject>, op: Op, value: &str| match op {
                    Op::Eq => Ok(h.reason.eq_ignore_ascii_case(value)),
                    Op::Ne => Ok(!h.reason.eq_ignore_ascii_case(value)),
                    _ => Err(format!(
                        "clusterContainerStatuses takes == or !=, not `{op}`"
                    )),
                },
                super::cluster::no_words,
            );
            if w.eval(&env)
                .map_err(|c| ctx.when_err(i, o, crate::when::WhenError::new(&o.when, c)))?
            {
                let data = json!({"Namespace": h.ns, "PodName": h.pod, "ContainerName": h.container, "Ready": h.ready,
                    "RestartCount": h.restarts, "Message": h.message});
                rows.push(ctx.row_templated(&title, o, &data));
            }
        }
    }
    Ok(rows)
}
