//! berth's own analyzers, for failures troubleshoot's checks let through.
//!
//! - `nodeAvailableResources`: capacity left after the requests of running pods (troubleshoot
//!   only sees allocatable, so a preflight passes while pods still cannot schedule).
//! - `defaultStorageClass`: exactly one default StorageClass.
//! - `clockSkew`: node clocks disagree (lease renew times) or NTP is off (host time.json).
//! - `clusterDNS`: cluster names do not resolve (dns collectors).
//! - `diskPressure`: a disk is fuller than 85% (diskUsage files, node DiskPressure).
//! - `renamedInterfaces`: network interfaces renamed away from the usual names.
//! - `mtuMismatch`: nodes or overlay interfaces with inconsistent MTUs.
//!
//! Each works without `outcomes`; when outcomes are given, the first one of the verdict's
//! kind supplies the message (templated with the findings), and `nodeAvailableResources`
//! also accepts nodeResources-style `when` expressions.

use serde_json::{Value, json};

use super::{
    AnalyzeError, AnalyzeResult, Ctx, FnEnv, Outcome, OutcomeSpec, Run, Scope, first_match_row,
    get, get_str, items,
};
use crate::when::{Op, Subject, parse_quantity};

pub(crate) fn run(ctx: &Ctx) -> Run {
    Some(match (ctx.kind, ctx.scope) {
        ("nodeAvailableResources", Scope::Cluster) => available(ctx),
        ("defaultStorageClass", Scope::Cluster) => default_storage_class(ctx),
        ("clockSkew", _) => clock_skew(ctx),
        ("clusterDNS", _) => cluster_dns(ctx),
        ("diskPressure", _) => disk_pressure(ctx),
        ("renamedInterfaces", Scope::Host) => renamed_interfaces(ctx),
        ("mtuMismatch", Scope::Host) => mtu_mismatch(ctx),
        _ => return None,
    })
}

/// A verdict row: the first outcome of that kind if the spec gives one, else the default text.
fn verdict(
    ctx: &Ctx,
    title: &str,
    outcomes: &[OutcomeSpec],
    kind: Outcome,
    default: String,
    data: &Value,
) -> AnalyzeResult {
    let mut data = data.clone();
    if let Some(o) = data.as_object_mut() {
        o.insert("Details".into(), Value::String(default.clone()));
    }
    match outcomes
        .iter()
        .find(|o| o.kind == kind && !o.message.is_empty())
    {
        Some(o) => ctx.row_templated(title, o, &data),
        None => {
            let mut r = ctx.plain(title, kind, default);
            if let Some(o) = outcomes.iter().find(|o| o.kind == kind) {
                r.uri = (!o.uri.is_empty()).then(|| o.uri.clone());
            }
            r
        }
    }
}

/// Sums a pod's effective requests: max(sum of containers, largest init container).
fn pod_requests(pod: &Value) -> (f64, f64) {
    let req = |c: &Value, r: &str| {
        get(c, "resources.requests")
            .and_then(|m| m.get(r))
            .and_then(Value::as_str)
            .and_then(|s| parse_quantity(s).ok())
            .unwrap_or(0.0)
    };
    let containers = get(pod, "spec.containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let inits = get(pod, "spec.initContainers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let sum_cpu: f64 = containers.iter().map(|c| req(c, "cpu")).sum();
    let sum_mem: f64 = containers.iter().map(|c| req(c, "memory")).sum();
    let init_cpu = inits.iter().map(|c| req(c, "cpu")).fold(0.0, f64::max);
    let init_mem = inits.iter().map(|c| req(c, "memory")).fold(0.0, f64::max);
    (sum_cpu.max(init_cpu), sum_mem.max(init_mem))
}

/// Per node: allocatable minus the requests of pods that still hold them.
pub(crate) fn available_by_node(nodes: &[Value], pods: &[Value]) -> Vec<Value> {
    nodes
        .iter()
        .map(|n| {
            let name = get_str(n, "metadata.name");
            let alloc = |r: &str| super::cluster::node_property(n, r, None).unwrap_or(0.0);
            let (mut cpu, mut mem, mut count) = (0.0, 0.0, 0.0);
            for p in pods {
                if get_str(p, "spec.nodeName") != name
                    || matches!(get_str(p, "status.phase"), "Succeeded" | "Failed")
                {
                    continue;
                }
                let (c, m) = pod_requests(p);
                cpu += c;
                mem += m;
                count += 1.0;
            }
            let unschedulable = get(n, "spec.unschedulable")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let mut out = n.clone();
            if let Some(o) = out.as_object_mut() {
                o.insert(
                    "berthAvailable".into(),
                    json!({
                        "name": name,
                        "cpuAvailable": (alloc("cpuAllocatable") - cpu).max(0.0),
                        "memoryAvailable": (alloc("memoryAllocatable") - mem).max(0.0),
                        "podAvailable": (alloc("podAllocatable") - count).max(0.0),
                        "cpuRequested": cpu, "memoryRequested": mem, "podsRunning": count,
                        "unschedulable": unschedulable,
                    }),
                );
            }
            out
        })
        .collect()
}

fn all_pods(ctx: &Ctx) -> Vec<Value> {
    ctx.reader
        .glob("cluster-resources/pods/*.json")
        .iter()
        .filter(|p| !p.ends_with("-errors.json"))
        .filter_map(|p| ctx.read_json(p).ok())
        .flat_map(|v| items(&v).to_vec())
        .collect()
}

fn gib(bytes: f64) -> String {
    format!("{:.1}Gi", bytes / 1024f64.powi(3))
}

fn available(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Available Node Resources");
    let nodes = match ctx.read_json("cluster-resources/nodes.json") {
        Ok(v) => items(&v).to_vec(),
        Err(m) => return Ok(vec![ctx.missing(&title, &m, "clusterResources")]),
    };
    let pods = all_pods(ctx);
    let nodes: Vec<Value> = available_by_node(&nodes, &pods)
        .into_iter()
        .filter(|n| {
            !get(n, "berthAvailable.unschedulable")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .collect();
    let prop = |n: &Value, p: &str| -> Option<f64> {
        match p {
            "cpuAvailable" | "memoryAvailable" | "podAvailable" => {
                get(n, &format!("berthAvailable.{p}")).and_then(Value::as_f64)
            }
            other => super::cluster::node_property(n, other, None),
        }
    };
    let best = |p: &str| nodes.iter().filter_map(|n| prop(n, p)).fold(0.0, f64::max);
    let data = json!({
        "NodeCount": nodes.len(),
        "MaxCPUAvailable": format!("{:.2}", best("cpuAvailable")),
        "MaxMemoryAvailable": gib(best("memoryAvailable")),
        "TotalCPUAvailable": format!("{:.2}", nodes.iter().filter_map(|n| prop(n, "cpuAvailable")).sum::<f64>()),
        "TotalMemoryAvailable": gib(nodes.iter().filter_map(|n| prop(n, "memoryAvailable")).sum::<f64>()),
    });
    if outcomes.iter().any(|o| !o.when.trim().is_empty()) {
        let env = FnEnv(
            |s: Option<&Subject>, op: Op, value: &str| {
                super::cluster::aggregate_cmp(&nodes, s, op, value, None, &prop)
            },
            super::cluster::no_words,
        );
        return first_match_row(ctx, &title, &outcomes, &env, Some(&data));
    }
    // Without `when`: a workload needing `cpu`/`memory`/`pods` must fit on one node.
    let need_cpu = opt_quantity(ctx, "cpu")?;
    let need_mem = opt_quantity(ctx, "memory")?;
    let need_pods = opt_quantity(ctx, "pods")?.unwrap_or(1.0);
    let fits = |n: &Value| {
        need_cpu.is_none_or(|c| prop(n, "cpuAvailable").unwrap_or(0.0) >= c)
            && need_mem.is_none_or(|m| prop(n, "memoryAvailable").unwrap_or(0.0) >= m)
            && prop(n, "podAvailable").unwrap_or(0.0) >= need_pods
    };
    let fitting: Vec<&str> = nodes
        .iter()
        .filter(|n| fits(n))
        .map(|n| get_str(n, "metadata.name"))
        .collect();
    let want = format!(
        "{}{}{} pod(s)",
        need_cpu.map(|c| format!("{c} CPU, ")).unwrap_or_default(),
        need_mem
            .map(|m| format!("{} memory, ", gib(m)))
            .unwrap_or_default(),
        need_pods
    );
    let (kind, msg) = if fitting.is_empty() {
        (
            Outcome::Fail,
            format!(
                "No schedulable node has {want} free after the requests of running pods (most free: {} CPU, {} memory). Free capacity or add a node.",
                data["MaxCPUAvailable"].as_str().unwrap_or(""),
                data["MaxMemoryAvailable"].as_str().unwrap_or("")
            ),
        )
    } else {
        (
            Outcome::Pass,
            format!(
                "{} node(s) have {want} free: {}",
                fitting.len(),
                fitting.join(", ")
            ),
        )
    };
    Ok(vec![verdict(ctx, &title, &outcomes, kind, msg, &data)])
}

fn opt_quantity(ctx: &Ctx, field: &str) -> Result<Option<f64>, AnalyzeError> {
    match ctx.str_field(field).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => parse_quantity(&s).map(Some).map_err(|e| ctx.err(field, e)),
    }
}

fn default_storage_class(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Default StorageClass");
    let v = match ctx.read_json("cluster-resources/storage-classes.json") {
        Ok(v) => v,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, "clusterResources")]),
    };
    let defaults: Vec<&str> = items(&v)
        .iter()
        .filter(|c| {
            let a = get(c, "metadata.annotations");
            let is = |k: &str| a.and_then(|a| a.get(k)).and_then(Value::as_str) == Some("true");
            is("storageclass.kubernetes.io/is-default-class")
                || is("storageclass.beta.kubernetes.io/is-default-class")
        })
        .map(|c| get_str(c, "metadata.name"))
        .collect();
    let data = json!({"Defaults": defaults.join(", "), "Count": defaults.len()});
    let (kind, msg) = match defaults.len() {
        0 => (
            Outcome::Fail,
            "No default StorageClass: PersistentVolumeClaims without storageClassName stay Pending. Mark one with `kubectl annotate storageclass <name> storageclass.kubernetes.io/is-default-class=true`.".to_string(),
        ),
        1 => (Outcome::Pass, format!("Default StorageClass is {}", defaults[0])),
        _ => (
            Outcome::Warn,
            format!("{} StorageClasses are marked default ({}): Kubernetes picks the newest; keep one", defaults.len(), defaults.join(", ")),
        ),
    };
    Ok(vec![verdict(ctx, &title, &outcomes, kind, msg, &data)])
}

fn clock_skew(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Clock Skew");
    let max_skew = match ctx.str_field("maxSkew").filter(|s| !s.is_empty()) {
        Some(s) => crate::when::parse_go_duration(&s).map_err(|e| ctx.err("maxSkew", e))? / 1e9,
        None => 60.0,
    };
    if ctx.scope == Scope::Host {
        let files = match super::host::host_files(ctx, "system/time.json") {
            Ok(f) => f,
            Err(m) => return Ok(vec![ctx.missing(&title, &m, "time")]),
        };
        let off: Vec<String> = files
            .iter()
            .filter(|(_, v)| {
                !get(v, "ntp_synchronized")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            })
            .map(|(s, _)| {
                if s.is_empty() {
                    "this host".to_string()
                } else {
                    s.trim_start_matches(" - ").to_string()
                }
            })
            .collect();
        let data = json!({"Unsynchronized": off.join(", ")});
        return Ok(vec![if off.is_empty() {
            verdict(
                ctx,
                &title,
                &outcomes,
                Outcome::Pass,
                "The clock is synchronized by NTP".into(),
                &data,
            )
        } else {
            verdict(
                ctx,
                &title,
                &outcomes,
                Outcome::Warn,
                format!(
                    "The clock of {} is not synchronized by NTP: certificates and leases may fail; enable timesyncd or chrony",
                    off.join(", ")
                ),
                &data,
            )
        }]);
    }
    // Cluster: kubelets renew their node lease every 10 s with their own clock, so renew
    // times that disagree by more than maxSkew mean the clocks disagree.
    let v = match ctx.read_json("cluster-resources/leases/kube-node-lease.json") {
        Ok(v) => v,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, "clusterResources")]),
    };
    let mut times: Vec<(String, jiff::Timestamp)> = items(&v)
        .iter()
        .filter_map(|l| {
            let t = get_str(l, "spec.renewTime")
                .parse::<jiff::Timestamp>()
                .ok()?;
            Some((get_str(l, "metadata.name").to_string(), t))
        })
        .collect();
    if times.len() < 2 {
        return Ok(vec![verdict(
            ctx,
            &title,
            &outcomes,
            Outcome::Pass,
            "Fewer than two node leases: nothing to compare".into(),
            &json!({}),
        )]);
    }
    times.sort_by_key(|(_, t)| *t);
    let median = times[times.len() / 2].1;
    let skewed: Vec<String> = times
        .iter()
        .filter_map(|(n, t)| {
            let d = t.duration_since(median).as_secs_f64();
            (d.abs() > max_skew).then(|| format!("{n} ({d:+.0}s)"))
        })
        .collect();
    let data = json!({"Skewed": skewed.join(", ")});
    Ok(vec![if skewed.is_empty() {
        verdict(
            ctx,
            &title,
            &outcomes,
            Outcome::Pass,
            format!("Node clocks agree within {max_skew:.0}s"),
            &data,
        )
    } else {
        verdict(
            ctx,
            &title,
            &outcomes,
            Outcome::Fail,
            format!(
                "Node clocks disagree by more than {max_skew:.0}s: {}. Synchronize them with NTP (chrony, timesyncd).",
                skewed.join(", ")
            ),
            &data,
        )
    }])
}

fn cluster_dns(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Cluster DNS");
    let mut failures = Vec::new();
    let mut checked = 0;
    // Cluster dns collector: dns/debug.json.
    if let Ok(v) = ctx.read_json("dns/debug.json") {
        checked += 1;
        let addr = get_str(&v, "query.kubernetes.address");
        if addr.is_empty() {
            failures.push("kubernetes.default does not resolve from a pod".to_string());
        }
        if get(&v, "kubeDNSEndpoints").is_some_and(|e| {
            e.as_str().is_some_and(str::is_empty) || e.as_array().is_some_and(Vec::is_empty)
        }) {
            failures.push("the kube-dns service has no endpoints".to_string());
        }
    }
    // Host dns collector: host-collectors/dns/<name>/result.json.
    for p in ctx.reader.glob("host-collectors/dns/*/result.json") {
        let Ok(v) = ctx.read_json(&p) else { continue };
        checked += 1;
        for (name, answers) in get(&v, "query")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let cluster_name = name.contains(".svc")
                || name.ends_with(".cluster.local")
                || name.ends_with(".cluster.local.");
            let resolved = answers
                .as_array()
                .is_some_and(|a| a.iter().any(|x| !get_str(x, "answer").is_empty()));
            if cluster_name && !resolved {
                failures.push(format!("{name} does not resolve ({p})"));
            }
        }
    }
    if checked == 0 {
        return Ok(vec![ctx.missing(
            &title,
            &super::Missing("dns/debug.json".into()),
            "dns",
        )]);
    }
    let data = json!({"Failures": failures.join("; ")});
    Ok(vec![if failures.is_empty() {
        verdict(
            ctx,
            &title,
            &outcomes,
            Outcome::Pass,
            "Cluster names resolve".into(),
            &data,
        )
    } else {
        verdict(
            ctx,
            &title,
            &outcomes,
            Outcome::Fail,
            format!(
                "Cluster DNS is broken: {}. Check the CoreDNS pods and the kube-dns service.",
                failures.join("; ")
            ),
            &data,
        )
    }])
}

fn disk_pressure(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Disk Pressure");
    let threshold = match ctx.str_field("threshold").filter(|s| !s.is_empty()) {
        Some(s) => crate::when::parse_ratio(&s).map_err(|e| ctx.err("threshold", e))?,
        None => 0.85,
    };
    let mut full = Vec::new();
    let mut checked = 0;
    if ctx.scope == Scope::Host {
        for p in ctx.reader.glob("host-collectors/diskUsage/**/*.json") {
            let Ok(v) = ctx.read_json(&p) else { continue };
            let total = get(&v, "total_bytes")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            let used = get(&v, "used_bytes").and_then(Value::as_f64).unwrap_or(0.0);
            if total <= 0.0 {
                continue;
            }
            checked += 1;
            if used / total > threshold {
                let name = p
                    .trim_start_matches("host-collectors/diskUsage/")
                    .trim_end_matches(".json");
                full.push(format!(
                    "{name} is {:.0}% full ({} free)",
                    used / total * 100.0,
                    gib(total - used)
                ));
            }
        }
        if checked == 0 {
            return Ok(vec![ctx.missing(
                &title,
                &super::Missing("host-collectors/diskUsage/*.json".into()),
                "diskUsage",
            )]);
        }
    } else {
        let v = match ctx.read_json("cluster-resources/nodes.json") {
            Ok(v) => v,
            Err(m) => return Ok(vec![ctx.missing(&title, &m, "clusterResources")]),
        };
        for n in items(&v) {
            let pressure = get(n, "status.conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|c| get_str(c, "type") == "DiskPressure" && get_str(c, "status") == "True");
            if pressure {
                full.push(format!(
                    "node {} reports DiskPressure",
                    get_str(n, "metadata.name")
                ));
            }
        }
    }
    let data = json!({"Full": full.join("; "), "Threshold": format!("{:.0}%", threshold * 100.0)});
    Ok(vec![if full.is_empty() {
        verdict(
            ctx,
            &title,
            &outcomes,
            Outcome::Pass,
            format!("No disk is above {:.0}%", threshold * 100.0),
            &data,
        )
    } else {
        verdict(
            ctx,
            &title,
            &outcomes,
            Outcome::Fail,
            format!(
                "Disk over {:.0}%: {}. Free space or grow the disk: the kubelet evicts pods near 85-90%.",
                threshold * 100.0,
                full.join("; ")
            ),
            &data,
        )
    }])
}

/// Names the kernel, systemd and common CNIs give interfaces.
fn default_interface_name(n: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "eth",
        "en",
        "wl",
        "ww",
        "ib",
        "lo",
        "docker",
        "cni",
        "flannel",
        "cali",
        "veth",
        "vxlan",
        "br-",
        "bond",
        "virbr",
        "tun",
        "tap",
        "kube-",
        "weave",
        "tunl",
        "cilium",
        "lxc",
        "genev",
        "antrea",
        "ovn",
        "vlan",
        "team",
        "nodelocaldns",
    ];
    PREFIXES.iter().any(|p| n.starts_with(p))
}

fn interface_files(ctx: &Ctx) -> Result<Vec<(String, Vec<Value>)>, super::Missing> {
    Ok(super::host::host_files(ctx, "system/ipv4Interfaces.json")?
        .into_iter()
        .map(|(s, v)| {
            let who = if s.is_empty() {
                "this host".to_string()
            } else {
                s.trim_start_matches(" - ").to_string()
            };
            (who, v.as_array().cloned().unwrap_or_default())
        })
        .collect())
}

fn renamed_interfaces(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Network Interface Names");
    let expected = ctx.str_list("expected");
    let files = match interface_files(ctx) {
        Ok(f) => f,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, "ipv4Interfaces")]),
    };
    let mut renamed = Vec::new();
    let mut missing = Vec::new();
    for (who, ifaces) in &files {
        let names: Vec<&str> = ifaces.iter().map(|i| get_str(i, "Name")).collect();
        for e in &expected {
            if !names.contains(&e.as_str()) {
                missing.push(format!("{e} on {who} (has {})", names.join(", ")));
            }
        }
        for n in names.iter().filter(|n| !default_interface_name(n)) {
            renamed.push(format!("{n} on {who}"));
        }
    }
    let data = json!({"Renamed": renamed.join(", "), "Missing": missing.join(", ")});
    Ok(vec![if !missing.is_empty() {
        verdict(
            ctx,
            &title,
            &outcomes,
            Outcome::Fail,
            format!(
                "Expected interface(s) missing: {}. Interfaces were renamed; update the CNI/kubelet configuration or restore the names.",
                missing.join("; ")
            ),
            &data,
        )
    } else if !renamed.is_empty() {
        verdict(
            ctx,
            &title,
            &outcomes,
            Outcome::Warn,
            format!(
                "Interface(s) with non-default names: {}. CNI plugins and firewalls that expect eth*/en* may not bind to them.",
                renamed.join(", ")
            ),
            &data,
        )
    } else {
        verdict(
            ctx,
            &title,
            &outcomes,
            Outcome::Pass,
            "Interface names are the usual ones".into(),
            &data,
        )
    }])
}

fn mtu_mismatch(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("MTU");
    let files = match interface_files(ctx) {
        Ok(f) => f,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, "ipv4Interfaces")]),
    };
    const OVERLAY: &[&str] = &[
        "flannel", "vxlan", "cali", "tunl", "cilium", "genev", "weave", "antrea",
    ];
    let is_overlay = |n: &str| OVERLAY.iter().any(|p| n.starts_with(p));
    let mut problems = Vec::new();
    let mut physical_mtus: Vec<(String, i64)> = Vec::new();
    for (who, ifaces) in &files {
        let physical: Vec<(&str, i64)> = ifaces
            .iter()
            .map(|i| {
                (
                    get_str(i, "Name"),
                    get(i, "MTU").and_then(Value::as_i64).unwrap_or(0),
                )
            })
            .filter(|(n, _)| {
                !is_overlay(n)
                    && !n.starts_with("veth")
                    && !n.starts_with("docker")
                    && !n.starts_with("cni")
            })
            .collect();
        let min_phys = physical.iter().map(|(_, m)| *m).filter(|m| *m > 0).min();
        if let Some(m) = min_phys {
            physical_mtus.push((who.clone(), m));
        }
        for i in ifaces {
            let n = get_str(i, "Name");
            let mtu = get(i, "MTU").and_then(Value::as_i64).unwrap_or(0);
            if let Some(phys) = min_phys
                && is_overlay(n)
                && mtu > phys - 50
            {
                problems.push(format!(
                    "{n} on {who} has MTU {mtu} but the physical MTU is {phys}: encapsulated packets will not fit (set the overlay MTU to {} or less)",
                    phys - 50
                ));
            }
        }
    }
    let distinct: std::collections::BTreeSet<i64> = physical_mtus.iter().map(|(_, m)| *m).collect();
    if distinct.len() > 1 {
        let list: Vec<String> = physical_mtus
            .iter()
            .map(|(w, m)| format!("{w}: {m}"))
            .collect();
        problems.push(format!(
            "nodes have different physical MTUs ({}): large packets between them are dropped",
            list.join(", ")
        ));
    }
    let data = json!({"Problems": problems.join("; ")});
    Ok(vec![if problems.is_empty() {
        verdict(
            ctx,
            &title,
            &outcomes,
            Outcome::Pass,
            "MTUs are consistent".into(),
            &data,
        )
    } else {
        verdict(
            ctx,
            &title,
            &outcomes,
            Outcome::Fail,
            format!("MTU mismatch: {}", problems.join("; ")),
            &data,
        )
    }])
}
