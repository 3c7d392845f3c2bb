//! Host analyzers: read `host-collectors/...` files and evaluate troubleshoot's host grammars.

use serde_json::{Value, json};

use super::{
    AnalyzeError, AnalyzeResult, Ctx, FnEnv, Missing, Outcome, OutcomeSpec, Run, first_match_row,
    get, get_str, subject_name,
};
use crate::when::{
    Op, Subject, Version, When, parse_bool, parse_go_duration, parse_quantity, parse_ratio,
};

/// Dispatches host analyzers; `None` when the key is not a host analyzer berth knows.
pub(crate) fn run(ctx: &Ctx) -> Run {
    Some(match ctx.kind {
        "cpu" => cpu(ctx),
        "memory" => memory(ctx),
        "hostOS" => host_os(ctx),
        "kernelModules" => kernel_modules(ctx),
        "diskUsage" => disk_usage(ctx),
        "blockDevices" => block_devices(ctx),
        "ipv4Interfaces" => ipv4_interfaces(ctx),
        "time" => time(ctx),
        "tcpPortStatus" => status(ctx, "tcpPortStatus", "tcpPortStatus", "TCP Port Status"),
        "udpPortStatus" => status(ctx, "udpPortStatus", "udpPortStatus", "UDP Port Status"),
        "tcpConnect" => status(ctx, "connect", "connect", "TCP Connection Attempt"),
        "tcpLoadBalancer" => status(
            ctx,
            "tcpLoadBalancer",
            "tcpLoadBalancer",
            "TCP Load Balancer",
        ),
        "httpLoadBalancer" => status(
            ctx,
            "httpLoadBalancer",
            "httpLoadBalancer",
            "HTTP Load Balancer",
        ),
        "subnetAvailable" => status(ctx, "subnetAvailable", "result", "Subnet Available"),
        "http" => http(ctx, true),
        "certificate" => certificate(ctx),
        "certificatesCollection" => {
            let name = ctx
                .collector_name()
                .unwrap_or_else(|| "certificatesCollection".into());
            certificates_collection(
                ctx,
                &format!("host-collectors/certificatesCollection/{name}.json"),
                None,
            )
        }
        "hostServices" => host_services(ctx),
        "systemPackages" => system_packages(ctx),
        "sysctl" => sysctl(ctx),
        "filesystemPerformance" => fs_performance(ctx),
        "subnetContainsIP" => subnet_contains_ip(ctx),
        "registryImages" => registry_images(ctx, "host-collectors/registry-images"),
        "kernelConfigs" => kernel_configs(ctx),
        "networkNamespaceConnectivity" => netns_connectivity(ctx),
        "textAnalyze" => super::compare::text_analyze(ctx),
        "jsonCompare" => super::compare::json_compare(ctx, false),
        _ => return super::berth::run(ctx),
    })
}

/// Troubleshoot's H1 lookup: the local file, else one file per node from `node_list.json`.
/// Returns `(title suffix, value)` pairs.
pub(crate) fn host_files(ctx: &Ctx, rel: &str) -> Result<Vec<(String, Value)>, Missing> {
    let local = format!("host-collectors/{rel}");
    match ctx.read_json(&local) {
        Ok(v) => return Ok(vec![(String::new(), v)]),
        Err(m) if ctx.reader.read(&local).is_some() => return Err(m),
        Err(_) => {}
    }
    let Ok(list) = ctx.read_json("host-collectors/system/node_list.json") else {
        return Err(Missing(local));
    };
    let nodes: Vec<String> = list
        .get("nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(String::from))
        .collect();
    if nodes.is_empty() {
        return Err(Missing(local));
    }
    let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel));
    let mut out = Vec::new();
    for node in nodes {
        let p = if dir.is_empty() {
            format!("host-collectors/{node}/{file}")
        } else {
            format!("host-collectors/{dir}/{node}/{file}")
        };
        out.push((format!(" - Node {node}"), ctx.read_json(&p)?));
    }
    Ok(out)
}

/// Runs `each` for every (node) file, turning a missing file into a Warn row.
fn per_file(
    ctx: &Ctx,
    rel: &str,
    title: &str,
    collector: &str,
    mut each: impl FnMut(&str, &Value) -> Result<Vec<AnalyzeResult>, AnalyzeError>,
) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    match host_files(ctx, rel) {
        Err(m) => Ok(vec![ctx.missing(title, &m, collector)]),
        Ok(files) => {
            let mut rows = Vec::new();
            for (suffix, v) in files {
                rows.extend(each(&format!("{title}{suffix}"), &v)?);
            }
            Ok(rows)
        }
    }
}

fn no_words(w: &str) -> Result<bool, String> {
    Err(format!(
        "`{w}` is not a comparison here: write `<op> <value>` (e.g. `< 4`)"
    ))
}

fn num(value: &str) -> Result<f64, String> {
    value
        .parse::<f64>()
        .map_err(|_| format!("`{value}` is not a number"))
}

const X86_V1: &[&str] = &[
    "cmov", "cx8", "fpu", "fxsr", "mmx", "syscall", "sse", "sse2",
];
const X86_V2: &[&str] = &["cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"];
const X86_V3: &[&str] = &[
    "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave",
];
const X86_V4: &[&str] = &["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"];

fn cpu(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Number of CPUs");
    per_file(ctx, "system/cpu.json", &title, "cpu", |title, v| {
        let logical = v.get("logicalCount").and_then(Value::as_f64).unwrap_or(0.0);
        let physical = v
            .get("physicalCount")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let arch = get_str(v, "machineArch").to_string();
        let flags: Vec<String> = v
            .get("flags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(str::to_lowercase))
            .collect();
        let has = |f: &str| flags.iter().any(|x| x == f);
        let env = FnEnv(
            |s: Option<&Subject>, op: Op, value: &str| -> Result<bool, String> {
                match op {
                    Op::Supports => {
                        let level = value.to_lowercase();
                        let sets: &[&[&str]] = match level.as_str() {
                            "x86-64" => &[X86_V1],
                            "x86-64-v2" => &[X86_V1, X86_V2],
                            "x86-64-v3" => &[X86_V1, X86_V2, X86_V3],
                            "x86-64-v4" => &[X86_V1, X86_V2, X86_V3, X86_V4],
                            _ => {
                                return Err(format!(
                                    "unknown microarchitecture `{value}` (x86-64, x86-64-v2..v4)"
                                ));
                            }
                        };
                        return Ok(sets.iter().all(|s| s.iter().all(|f| has(f))));
                    }
                    Op::HasFlags => {
                        return Ok(value.split(',').all(|f| has(&f.trim().to_lowercase())));
                    }
                    _ => {}
                }
                let left = match subject_name(s).as_str() {
                    "" | "count" => logical.max(physical),
                    "logical" => logical,
                    "physical" => physical,
                    "machineArch" => {
                        return match op {
                            Op::Eq => Ok(arch == value),
                            Op::Ne => Ok(arch != value),
                            _ => Err(format!("machineArch takes = or !=, not `{op}`")),
                        };
                    }
                    other => {
                        return Err(format!(
                            "unknown cpu property `{other}` (logical, physical, count, machineArch)"
                        ));
                    }
                };
                Ok(op.holds(&left, &num(value)?))
            },
            no_words,
        );
        first_match_row(ctx, title, &outcomes, &env, None)
    })
}

fn memory(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Amount of Memory");
    per_file(ctx, "system/memory.json", &title, "memory", |title, v| {
        let total = v.get("total").and_then(Value::as_f64).unwrap_or(0.0);
        let env = FnEnv(
            |s: Option<&Subject>, op: Op, value: &str| {
                if s.is_some() {
                    return Err("memory takes `<op> <quantity>` only (e.g. `< 8Gi`)".to_string());
                }
                if !op.is_ordering() {
                    return Err(format!("`{op}` cannot compare memory"));
                }
                Ok(op.holds(&total, &parse_quantity(value)?))
            },
            no_words,
        );
        first_match_row(ctx, title, &outcomes, &env, None)
    })
}

fn host_os(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Host OS Info");
    per_file(
        ctx,
        "system/hostos_info.json",
        &title,
        "hostOS",
        |title, v| {
            let platform = get_str(v, "platform").to_lowercase();
            let family = get_str(v, "platformFamily").to_lowercase();
            let pver = Version::parse_tolerant(get_str(v, "platformVersion"));
            let kver = Version::parse_tolerant(get_str(v, "kernelVersion"));
            let env = FnEnv(
                |s: Option<&Subject>, op: Op, value: &str| -> Result<bool, String> {
                    let subj = subject_name(s).to_lowercase();
                    if subj.is_empty() {
                        return Err(
                            "hostOS needs a subject: `ubuntu >= 20.04`, `kernelVersion >= 5.4`"
                                .into(),
                        );
                    }
                    let cmp = |have: &Option<Version>| -> Result<bool, String> {
                        match have {
                            Some(h) => crate::when::version_cmp(h, op, value, false),
                            None => Ok(false),
                        }
                    };
                    if subj == "kernelversion" {
                        return cmp(&kver);
                    }
                    if let Some(rest) = subj.strip_suffix("-kernel") {
                        let Some((plat, ver)) = rest.split_once('-') else {
                            return Ok(false);
                        };
                        let same_version = match (&pver, Version::parse_tolerant(ver)) {
                            (Some(have), Some(want)) => have.nums == want.nums,
                            _ => false,
                        };
                        return if plat == platform && same_version {
                            cmp(&kver)
                        } else {
                            Ok(false)
                        };
                    }
                    if subj == platform || subj == family {
                        return cmp(&pver);
                    }
                    Ok(false)
                },
                no_words,
            );
            first_match_row(ctx, title, &outcomes, &env, None)
        },
    )
}

fn kernel_modules(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Kernel Modules");
    per_file(
        ctx,
        "system/kernel_modules.json",
        &title,
        "kernelModules",
        |title, v| {
            let status = |m: &str| v.get(m).map(|x| get_str(x, "status").to_string());
            let env = FnEnv(
                |s: Option<&Subject>, op: Op, value: &str| -> Result<bool, String> {
                    let mods = subject_name(s);
                    if mods.is_empty() {
                        return Err(
                            "write `<module,...> = <status,...>` (e.g. `ip_tables = loaded`)"
                                .into(),
                        );
                    }
                    let wanted: Vec<&str> = value.split(',').map(str::trim).collect();
                    let listed =
                        |m: &str| status(m).is_some_and(|st| wanted.contains(&st.as_str()));
                    match op {
                        Op::Eq => Ok(mods.split(',').all(|m| listed(m.trim()))),
                        Op::Ne => {
                            for m in mods.split(',').map(str::trim) {
                                if status(m).is_none() {
                                    return Ok(true);
                                }
                                if listed(m) {
                                    return Ok(false);
                                }
                            }
                            Ok(true)
                        }
                        _ => Err(format!("kernelModules takes = or !=, not `{op}`")),
                    }
                },
                no_words,
            );
            // Not first-match: every conditional outcome is evaluated; then one default.
            let mut rows = Vec::new();
            let (mut pass, mut fail) = (false, false);
            for (i, o) in outcomes.iter().enumerate() {
                if o.when.trim().is_empty() {
                    continue;
                }
                let w = When::parse(&o.when).map_err(|e| ctx.when_err(i, o, e))?;
                if w.eval(&env)
                    .map_err(|c| ctx.when_err(i, o, crate::when::WhenError::new(&o.when, c)))?
                {
                    pass |= o.kind == Outcome::Pass;
                    fail |= o.kind == Outcome::Fail;
                    rows.push(ctx.row(title, o));
                }
            }
            if let Some(d) = outcomes
                .iter()
                .filter(|o| o.when.trim().is_empty())
                .find(|o| match o.kind {
                    Outcome::Fail => !pass,
                    Outcome::Warn => !pass && !fail,
                    Outcome::Pass => !fail,
                    Outcome::Error => false,
                })
            {
                rows.push(ctx.row(title, d));
            }
            if rows.is_empty() {
                rows.push(ctx.plain(title, Outcome::Warn, "no results"));
            }
            Ok(rows)
        },
    )
}

fn disk_usage(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let name = ctx.collector_name().unwrap_or_else(|| "diskUsage".into());
    let title =
        ctx.title(format!("Disk Usage {}", ctx.collector_name().unwrap_or_default()).trim());
    per_file(
        ctx,
        &format!("diskUsage/{name}.json"),
        &title,
        "diskUsage",
        |title, v| {
            let total = v.get("total_bytes").and_then(Value::as_f64).unwrap_or(0.0);
            let used = v.get("used_bytes").and_then(Value::as_f64).unwrap_or(0.0);
            let available = (total - used).max(0.0);
            let env = FnEnv(
                |s: Option<&Subject>, op: Op, value: &str| -> Result<bool, String> {
                    if !op.is_ordering() {
                        return Err(format!("`{op}` cannot compare disk usage"));
                    }
                    let ratio = |n: f64| if total > 0.0 { n / total } else { 0.0 };
                    match subject_name(s).as_str() {
                        "total" => Ok(op.holds(&total, &parse_quantity(value)?)),
                        "used" => Ok(op.holds(&used, &parse_quantity(value)?)),
                        "available" => Ok(op.holds(&available, &parse_quantity(value)?)),
                        "used/total" => Ok(op.holds(&ratio(used), &parse_ratio(value)?)),
                        "available/total" => Ok(op.holds(&ratio(available), &parse_ratio(value)?)),
                        other => Err(format!(
                            "unknown disk property `{other}` (total, used, available, used/total, available/total)"
                        )),
                    }
                },
                no_words,
            );
            first_match_row(ctx, title, &outcomes, &env, None)
        },
    )
}

fn block_devices(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Block Devices");
    let min_size = match ctx.str_field("minimumAcceptableSize") {
        Some(s) if !s.is_empty() => {
            parse_quantity(&s).map_err(|e| ctx.err("minimumAcceptableSize", e))?
        }
        _ => 0.0,
    };
    let unmounted_parts = ctx
        .spec
        .get("includeUnmountedPartitions")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let extra_types = ctx.str_list("additionalDeviceTypes");
    per_file(
        ctx,
        "system/block_devices.json",
        &title,
        "blockDevices",
        |title, v| {
            let devs = super::items(v);
            let env = FnEnv(
                |s: Option<&Subject>, op: Op, value: &str| -> Result<bool, String> {
                    let pattern = subject_name(s);
                    let re = regex::Regex::new(&pattern)
                        .map_err(|e| format!("bad device regex `{pattern}`: {e}"))?;
                    let count = devs
                        .iter()
                        .filter(|d| {
                            let ty = get_str(d, "type");
                            let kname = get_str(d, "kernel_name");
                            let type_ok = ty == "disk"
                                || (unmounted_parts && ty == "part")
                                || extra_types.iter().any(|t| t == ty);
                            let has_children = devs.iter().any(|c| {
                                get_str(c, "parent_kernel_name") == kname && !kname.is_empty()
                            });
                            re.is_match(get_str(d, "name"))
                                && type_ok
                                && get(d, "size").and_then(Value::as_f64).unwrap_or(0.0) >= min_size
                                && get_str(d, "mountpoint").is_empty()
                                && get_str(d, "filesystem_type").is_empty()
                                && !get(d, "read_only")
                                    .and_then(Value::as_bool)
                                    .unwrap_or(false)
                                && !get(d, "removable")
                                    .and_then(Value::as_bool)
                                    .unwrap_or(false)
                                && !has_children
                        })
                        .count() as f64;
                    Ok(op.holds(&count, &num(value)?))
                },
                no_words,
            );
            first_match_row(ctx, title, &outcomes, &env, None)
        },
    )
}

fn ipv4_interfaces(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("IPv4 Interfaces");
    per_file(
        ctx,
        "system/ipv4Interfaces.json",
        &title,
        "ipv4Interfaces",
        |title, v| {
            let count = v.as_array().map(|a| a.len()).unwrap_or(0) as f64;
            let env = FnEnv(
                |s: Option<&Subject>, op: Op, value: &str| match subject_name(s).as_str() {
                    "count" | "" => Ok(op.holds(&count, &num(value)?)),
                    other => Err(format!("ipv4Interfaces compares `count`, not `{other}`")),
                },
                no_words,
            );
            first_match_row(ctx, title, &outcomes, &env, None)
        },
    )
}

fn time(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Time");
    per_file(ctx, "system/time.json", &title, "time", |title, v| {
        let tz = get_str(v, "timezone").to_string();
        let sync = get(v, "ntp_synchronized")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let active = get(v, "ntp_active")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let env = FnEnv(
            |s: Option<&Subject>, op: Op, value: &str| -> Result<bool, String> {
                match (subject_name(s).as_str(), op) {
                    ("timezone", Op::Eq) => Ok(tz == value),
                    ("timezone", Op::Ne) => Ok(tz != value),
                    ("ntp", Op::Eq) => {
                        let (a, b) = value.split_once('+').ok_or_else(|| {
                            format!(
                                "`{value}`: write <synchronized|unsynchronized>+<active|inactive>"
                            )
                        })?;
                        let want_sync = match a {
                            "synchronized" => true,
                            "unsynchronized" => false,
                            _ => {
                                return Err(format!(
                                    "`{a}`: expected synchronized or unsynchronized"
                                ));
                            }
                        };
                        let want_active = match b {
                            "active" => true,
                            "inactive" => false,
                            _ => return Err(format!("`{b}`: expected active or inactive")),
                        };
                        Ok(sync == want_sync && active == want_active)
                    }
                    (subj, op) => Err(format!(
                        "time takes `timezone <op> <TZ>` or `ntp == <state>`, not `{subj} {op}`"
                    )),
                }
            },
            no_words,
        );
        first_match_row(ctx, title, &outcomes, &env, None)
    })
}

/// Analyzers whose `when` is the exact status string the collector wrote.
fn status(
    ctx: &Ctx,
    dir: &str,
    default_name: &str,
    default_title: &str,
) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let name = ctx.collector_name().unwrap_or_else(|| default_name.into());
    let title = ctx.title(default_title);
    per_file(
        ctx,
        &format!("{dir}/{name}.json"),
        &title,
        ctx.kind,
        |title, v| {
            let status = get_str(v, "status").to_string();
            let env = FnEnv(
                |s: Option<&Subject>, op: Op, value: &str| match (s, op) {
                    (None, Op::Eq) => Ok(status == value),
                    (None, Op::Ne) => Ok(status != value),
                    _ => Err(format!(
                        "write the status alone (e.g. `connected`), not `{op} {value}`"
                    )),
                },
                |w: &str| Ok(status == w),
            );
            let mut rows = first_match_row(ctx, title, &outcomes, &env, None)?;
            if outcomes.is_empty() {
                rows.push(ctx.plain(
                    title,
                    Outcome::Warn,
                    format!("no outcomes given; the status is `{status}`"),
                ));
            }
            Ok(rows)
        },
    )
}

/// Host and cluster `http`: `error` when the request failed, else `statusCode` comparisons.
pub(crate) fn http(ctx: &Ctx, host: bool) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let name = ctx.collector_name().unwrap_or_else(|| "result".into());
    let title = ctx.title("HTTP Request");
    let eval = |title: &str, v: &Value| -> Result<Vec<AnalyzeResult>, AnalyzeError> {
        let error = v.get("error").filter(|e| !e.is_null()).is_some();
        let code = get(v, "response.status").and_then(Value::as_f64);
        let env = FnEnv(
            |s: Option<&Subject>, op: Op, value: &str| -> Result<bool, String> {
                match subject_name(s).as_str() {
                    "statusCode" | "" => match code {
                        Some(c) => Ok(op.holds(&c, &num(value)?)),
                        None => Ok(false),
                    },
                    other => Err(format!("http compares `statusCode`, not `{other}`")),
                }
            },
            |w: &str| match w {
                "error" => Ok(error),
                _ => Err(format!("`{w}`: write `error` or `statusCode == 200`")),
            },
        );
        first_match_row(ctx, title, &outcomes, &env, None)
    };
    if host {
        per_file(ctx, &format!("http/{name}.json"), &title, "http", eval)
    } else {
        // Troubleshoot reads `<collectorName>.json` at the bundle root; the collector writes
        // `<name>/<collectorName>.json`; berth looks in both.
        let candidates = [format!("{name}.json"), format!("http/{name}.json")];
        for c in &candidates {
            if let Ok(v) = ctx.read_json(c) {
                return eval(&title, &v);
            }
        }
        let globbed = ctx.reader.glob(&format!("*/{name}.json"));
        match globbed.first().map(|p| ctx.read_json(p)) {
            Some(Ok(v)) => eval(&title, &v),
            _ => Ok(vec![ctx.missing(
                &title,
                &Missing(candidates[0].clone()),
                "http",
            )]),
        }
    }
}

fn certificate(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let name = ctx.collector_name().unwrap_or_else(|| "certificate".into());
    let title = ctx.title("Certificate Key Pair");
    let path = format!("host-collectors/certificate/{name}.json");
    let Some(raw) = ctx.reader.read(&path) else {
        return Ok(vec![ctx.missing(&title, &Missing(path), "certificate")]);
    };
    let text = String::from_utf8_lossy(&raw);
    let word = text.trim().trim_matches('"').to_string();
    let env = FnEnv(
        |_: Option<&Subject>, op: Op, value: &str| match op {
            Op::Eq => Ok(word == value),
            Op::Ne => Ok(word != value),
            _ => Err("write the key-pair state alone (e.g. `key-pair-valid`)".to_string()),
        },
        |w: &str| Ok(word == w),
    );
    first_match_row(ctx, &title, &outcomes, &env, None)
}

/// certificatesCollection (host) and certificates (cluster).
pub(crate) fn certificates_collection(
    ctx: &Ctx,
    path: &str,
    cluster: Option<()>,
) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title(if cluster.is_some() {
        "Certificates Verification"
    } else {
        "Host Certificates Collection"
    });
    let v = match ctx.read_json(path) {
        Ok(v) => v,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, ctx.kind)]),
    };
    let now = jiff::Timestamp::now();
    let mut rows = Vec::new();
    for entry in super::items(&v) {
        let source = if cluster.is_some() {
            let kind = if get_str(entry, "secret").is_empty() {
                "configmap"
            } else {
                "secret"
            };
            let n = if kind == "secret" {
                get_str(entry, "secret")
            } else {
                get_str(entry, "configMap")
            };
            format!(
                "{n} {kind} within {} namespace",
                get_str(entry, "namespace")
            )
        } else {
            get_str(entry, "certificatePath").to_string()
        };
        if get_str(entry, "message") == "cert-missing" {
            rows.push(ctx.plain(
                &title,
                Outcome::Fail,
                format!("Certificate is missing, cannot be obtained from {source}"),
            ));
            continue;
        }
        let mut queued_pass = Vec::new();
        for cert in get(entry, "certificateChain")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let valid = get(cert, "isValid")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let not_after = get_str(cert, "notAfter").parse::<jiff::Timestamp>().ok();
            let name = get_str(cert, "certificate");
            let mut warned = false;
            for (i, o) in outcomes.iter().enumerate() {
                match o.kind {
                    Outcome::Fail if !valid => {
                        let mut r = ctx.row(&title, o);
                        r.message = format!("{name} {}, obtained from {source}", o.message);
                        rows.push(r);
                    }
                    Outcome::Warn if valid => {
                        // `notAfter < Today + 15 days`
                        let days: i64 = o
                            .when
                            .split_whitespace()
                            .find_map(|t| t.parse().ok())
                            .ok_or_else(|| {
                                ctx.err(
                                    &format!("outcomes[{i}].warn.when"),
                                    "write `notAfter < Today + <N> days`",
                                )
                            })?;
                        if let Some(na) = not_after {
                            let limit = now
                                .checked_add(jiff::SignedDuration::from_hours(24 * days))
                                .unwrap_or(now);
                            if na < limit {
                                let mut r = ctx.row(&title, o);
                                r.message = format!(
                                    "{name} {} in {days} days, obtained from {source}",
                                    o.message
                                );
                                rows.push(r);
                                warned = true;
                            }
                        }
                    }
                    Outcome::Pass if valid => {
                        let mut r = ctx.row(&title, o);
                        r.message = format!("{name} {}, obtained from {source}", o.message);
                        queued_pass.push(r);
                    }
                    _ => {}
                }
            }
            if !warned {
                rows.append(&mut queued_pass);
            }
            queued_pass.clear();
        }
    }
    if rows.is_empty() {
        rows.push(ctx.plain(&title, Outcome::Warn, "no results"));
    }
    Ok(rows)
}

fn host_services(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Host Services");
    per_file(
        ctx,
        "system/systemctl_services.json",
        &title,
        "hostServices",
        |title, v| {
            let units = super::items(v);
            let env = FnEnv(
                |s: Option<&Subject>, op: Op, value: &str| -> Result<bool, String> {
                    let name = subject_name(s);
                    let Some(unit) = units
                        .iter()
                        .find(|u| get_str(u, "Unit").starts_with(name.as_str()))
                    else {
                        return Ok(false);
                    };
                    let have = [
                        get_str(unit, "Active"),
                        get_str(unit, "Sub"),
                        get_str(unit, "Load"),
                    ];
                    let wanted: Vec<&str> = value.split(',').collect();
                    let same = |i: usize| {
                        wanted
                            .get(i)
                            .is_none_or(|w| w.is_empty() || *w == "*" || *w == have[i])
                    };
                    match op {
                        Op::Eq => Ok((0..3).all(same)),
                        Op::Ne => Ok(!(0..3).all(same)),
                        _ => Err(format!("hostServices takes = or !=, not `{op}`")),
                    }
                },
                no_words,
            );
            first_match_row(ctx, title, &outcomes, &env, None)
        },
    )
}

/// Evaluates the templates systemPackages uses as `when`: `{{ .X }}` and `{{ not .X }}`.
fn template_bool(when: &str, data: &Value) -> Result<bool, String> {
    let t = when.trim();
    if t.is_empty() {
        return Ok(true);
    }
    let rendered = match t
        .strip_prefix("{{")
        .and_then(|r| r.strip_suffix("}}"))
        .map(str::trim)
    {
        Some(inner) => match inner.strip_prefix("not ") {
            Some(field) => {
                let v = super::template::render(&format!("{{{{ {} }}}}", field.trim()), data);
                match parse_bool(&v) {
                    Some(b) => (!b).to_string(),
                    None => return Err(format!("`{field}` is not a boolean")),
                }
            }
            None => super::template::render(t, data),
        },
        None => t.to_string(),
    };
    parse_bool(rendered.trim()).ok_or_else(|| format!("`{when}` gave `{rendered}`, not a boolean"))
}

fn system_packages(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let name = ctx.collector_name().unwrap_or_else(|| "packages".into());
    let title = ctx.title("System Packages");
    per_file(
        ctx,
        &format!("system/{name}-packages.json"),
        &title,
        "systemPackages",
        |title, v| {
            let os = get_str(v, "os");
            let os_version = get_str(v, "osVersion");
            let mut parts = os_version.split('.');
            let major = parts.next().unwrap_or("");
            let minor = parts.next().unwrap_or("");
            let mut rows = Vec::new();
            for p in get(v, "packages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let exit_code = get_str(p, "exitCode");
                let exit = if exit_code.is_empty() {
                    get(p, "exitCode")
                        .map(|x| x.to_string())
                        .unwrap_or_default()
                } else {
                    exit_code.to_string()
                };
                let mut data = json!({
                    "OS": os, "OSVersion": os_version, "OSVersionMajor": major, "OSVersionMinor": minor,
                    "Name": get_str(p, "name"), "Error": get_str(p, "error"), "ExitCode": exit,
                    "IsInstalled": exit == "0" && get_str(p, "error").is_empty(),
                });
                for line in get_str(p, "details").lines() {
                    if let Some((k, val)) = line.split_once(':')
                        && let Some(obj) = data.as_object_mut()
                    {
                        obj.insert(
                            k.trim().replace(' ', ""),
                            Value::String(val.trim().to_string()),
                        );
                    }
                }
                for (i, o) in outcomes.iter().enumerate() {
                    let hit = template_bool(&o.when, &data)
                        .map_err(|c| ctx.when_err(i, o, crate::when::WhenError::new(&o.when, c)))?;
                    if hit {
                        rows.push(ctx.row_templated(title, o, &data));
                        break;
                    }
                }
            }
            Ok(rows)
        },
    )
}

fn sysctl(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Sysctl");
    per_file(ctx, "system/sysctl.json", &title, "sysctl", |title, v| {
        let env = FnEnv(
            |s: Option<&Subject>, op: Op, value: &str| -> Result<bool, String> {
                let param = subject_name(s);
                let have = v
                    .get(&param)
                    .map(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .ok_or_else(|| format!("sysctl parameter `{param}` was not collected"))?;
                match op {
                    Op::Eq => Ok(have.trim() == value),
                    Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                        let a: i64 = have
                            .trim()
                            .parse()
                            .map_err(|_| format!("`{param}` = `{have}` is not an integer"))?;
                        let b: i64 = value
                            .parse()
                            .map_err(|_| format!("`{value}` is not an integer"))?;
                        Ok(op.holds(&a, &b))
                    }
                    _ => Err(format!("sysctl takes < <= > >= =, not `{op}`")),
                }
            },
            no_words,
        );
        first_match_row(ctx, title, &outcomes, &env, None)
    })
}

fn go_duration_string(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{}s", trim_float(ns / 1e9))
    } else if ns >= 1e6 {
        format!("{}ms", trim_float(ns / 1e6))
    } else if ns >= 1e3 {
        format!("{}µs", trim_float(ns / 1e3))
    } else {
        format!("{}ns", trim_float(ns))
    }
}

fn trim_float(f: f64) -> String {
    let s = format!("{f:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn fs_performance(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let name = ctx
        .collector_name()
        .unwrap_or_else(|| "filesystemPerformance".into());
    let title = ctx.title("Filesystem Performance");
    per_file(
        ctx,
        &format!("filesystemPerformance/{name}.json"),
        &title,
        "filesystemPerformance",
        |title, v| {
            let job = get(v, "jobs")
                .and_then(Value::as_array)
                .and_then(|jobs| jobs.iter().find(|j| get_str(j, "jobname") == "fsperf"))
                .ok_or_else(|| ctx.err("collectorName", "the fio result has no `fsperf` job"))?;
            let lat = get(job, "sync.lat_ns")
                .ok_or_else(|| ctx.err("collectorName", "the fio result has no sync.lat_ns"))?;
            let pct = |p: &str| {
                get(lat, "percentile")
                    .and_then(|m| m.get(p))
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0)
            };
            let stats: Vec<(&str, &str, f64)> = vec![
                (
                    "min",
                    "Min",
                    get(lat, "min").and_then(Value::as_f64).unwrap_or(0.0),
                ),
                (
                    "max",
                    "Max",
                    get(lat, "max").and_then(Value::as_f64).unwrap_or(0.0),
                ),
                (
                    "average",
                    "Average",
                    get(lat, "mean").and_then(Value::as_f64).unwrap_or(0.0),
                ),
                ("p1", "P1", pct("1.000000")),
                ("p5", "P5", pct("5.000000")),
                ("p10", "P10", pct("10.000000")),
                ("p20", "P20", pct("20.000000")),
                ("p30", "P30", pct("30.000000")),
                ("p40", "P40", pct("40.000000")),
                ("p50", "P50", pct("50.000000")),
                ("p60", "P60", pct("60.000000")),
                ("p70", "P70", pct("70.000000")),
                ("p80", "P80", pct("80.000000")),
                ("p90", "P90", pct("90.000000")),
                ("p95", "P95", pct("95.000000")),
                ("p99", "P99", pct("99.000000")),
                ("p995", "P995", pct("99.500000")),
                ("p999", "P999", pct("99.900000")),
                ("p9995", "P9995", pct("99.950000")),
                ("p9999", "P9999", pct("99.990000")),
            ];
            let mut data = serde_json::Map::new();
            for (_, go, ns) in &stats {
                data.insert(go.to_string(), Value::String(go_duration_string(*ns)));
            }
            let data = Value::Object(data);
            let env = FnEnv(
                |s: Option<&Subject>, op: Op, value: &str| -> Result<bool, String> {
                    let key = subject_name(s).to_lowercase();
                    let (_, _, have) =
                        stats.iter().find(|(k, _, _)| *k == key).ok_or_else(|| {
                            format!("unknown statistic `{key}` (min, max, average, p50, p99, ...)")
                        })?;
                    Ok(op.holds(have, &parse_go_duration(value)?))
                },
                no_words,
            );
            first_match_row(ctx, title, &outcomes, &env, Some(&data))
        },
    )
}

fn parse_cidr(s: &str) -> Option<(u32, u32)> {
    let (ip, bits) = s.split_once('/')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let bits: u32 = bits.parse().ok().filter(|b| *b <= 32)?;
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    Some((u32::from(ip) & mask, mask))
}

fn subnet_contains_ip(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Subnet Contains IP");
    let cidr = ctx.required_str("cidr")?;
    let (net, mask) = parse_cidr(&cidr).ok_or_else(|| {
        ctx.err(
            "cidr",
            format!("`{cidr}` is not an IPv4 CIDR like 10.0.0.0/8"),
        )
    })?;
    let ip = ctx.required_str("ip")?;
    let ip: std::net::Ipv4Addr = ip
        .parse()
        .map_err(|_| ctx.err("ip", format!("`{ip}` is not an IPv4 address")))?;
    let contains = u32::from(ip) & mask == net;
    let env = FnEnv(
        |_: Option<&Subject>, _: Op, _: &str| Err("write `true` or `false`".to_string()),
        |w: &str| {
            parse_bool(w)
                .map(|b| b == contains)
                .ok_or_else(|| "write `true` or `false`".to_string())
        },
    );
    first_match_row(ctx, &title, &outcomes, &env, None)
}

/// registryImages, host (`host-collectors/registry-images`) and cluster (`registry`).
pub(crate) fn registry_images(ctx: &Ctx, dir: &str) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let name = ctx.collector_name().unwrap_or_else(|| "images".into());
    let title = ctx.title("Registry Images");
    let path = format!("{dir}/{name}.json");
    let v = match ctx.read_json(&path) {
        Ok(v) => v,
        Err(m) => return Ok(vec![ctx.missing(&title, &m, "registryImages")]),
    };
    let (mut verified, mut missing, mut errors) = (0f64, 0f64, 0f64);
    if let Some(images) = get(&v, "images").and_then(Value::as_object) {
        for img in images.values() {
            if get(img, "error")
                .and_then(Value::as_str)
                .is_some_and(|e| !e.is_empty())
            {
                errors += 1.0;
            } else if get(img, "exists").and_then(Value::as_bool).unwrap_or(false) {
                verified += 1.0;
            } else {
                missing += 1.0;
            }
        }
    }
    let env = FnEnv(
        |s: Option<&Subject>, op: Op, value: &str| -> Result<bool, String> {
            let have = match subject_name(s).as_str() {
                "verified" => verified,
                "missing" => missing,
                "errors" => errors,
                other => return Err(format!("unknown `{other}` (verified, missing, errors)")),
            };
            Ok(op.holds(&have, &num(value)?))
        },
        no_words,
    );
    first_match_row(ctx, &title, &outcomes, &env, None)
}

fn kernel_configs(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let title = ctx.title("Kernel Configs");
    let selected = ctx.str_list("selectedConfigs");
    let mut wanted = Vec::new();
    for (i, s) in selected.iter().enumerate() {
        let (k, vals) = s
            .split_once('=')
            .filter(|(k, v)| {
                k.starts_with("CONFIG_") && !v.is_empty() && v.chars().all(|c| "ymn".contains(c))
            })
            .ok_or_else(|| {
                ctx.err(
                    &format!("selectedConfigs[{i}]"),
                    format!("`{s}` is not CONFIG_X=<y|m|n...>"),
                )
            })?;
        wanted.push((k.to_string(), vals.to_string()));
    }
    per_file(
        ctx,
        "system/kernel-configs.json",
        &title,
        "kernelConfigs",
        |title, v| {
            let missing: Vec<&str> = wanted
                .iter()
                .filter(|(k, vals)| {
                    !v.get(k)
                        .and_then(Value::as_str)
                        .is_some_and(|have| vals.contains(have))
                })
                .map(|(k, _)| k.as_str())
                .collect();
            let want = if missing.is_empty() {
                Outcome::Pass
            } else {
                Outcome::Fail
            };
            Ok(outcomes
                .iter()
                .find(|o| o.kind == want)
                .map(|o: &OutcomeSpec| {
                    let mut r = ctx.row(title, o);
                    r.message = o
                        .message
                        .replace("{{ .ConfigsNotFound }}", &missing.join(", "));
                    r
                })
                .into_iter()
                .collect())
        },
    )
}

fn netns_connectivity(ctx: &Ctx) -> Result<Vec<AnalyzeResult>, AnalyzeError> {
    let outcomes = ctx.outcomes()?;
    let name = ctx
        .collector_name()
        .unwrap_or_else(|| "networkNamespaceConnectivity".into());
    let title = ctx.title("Network Namespace Connectivity");
    per_file(
        ctx,
        &format!("system/{name}.json"),
        &title,
        "networkNamespaceConnectivity",
        |title, v| {
            let ok = get(v, "success").and_then(Value::as_bool).unwrap_or(false);
            let errors: Vec<String> = get(v, "errors")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(k, e)| {
                    e.as_str()
                        .filter(|s| !s.is_empty())
                        .map(|s| format!("{k}: {s}"))
                })
                .collect();
            let data = json!({
                "FromCIDR": get_str(v, "from_cidr"), "ToCIDR": get_str(v, "to_cidr"),
                "ErrorMessage": errors.join("; "), "Success": ok,
            });
            // No `when`: the first pass when connected, else the first fail.
            let want = if ok { Outcome::Pass } else { Outcome::Fail };
            Ok(outcomes
                .iter()
                .find(|o| o.kind == want)
                .map(|o| ctx.row_templated(title, o, &data))
                .into_iter()
                .collect())
        },
    )
}
