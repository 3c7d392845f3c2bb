//! Host collectors, read from this machine (Linux): `/proc`, `/sys`, statvfs, sockets, and the
//! system's own tools where they are the source of truth (`lsblk`, `systemctl`, `dpkg-query`,
//! `journalctl`). Paths and JSON shapes follow troubleshoot so its analyzers read them unchanged.

use super::net;
use super::{CollectError, Context, field_bool, field_duration, field_i64, field_str, field_strs};
use crate::spec::CollectorEntry;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const BASE: &str = "host-collectors";

/// Run one host collector.
pub async fn collect(entry: &CollectorEntry, ctx: &Context) -> Result<(), CollectError> {
    let f = &entry.fields;
    let name = entry.collector_name();
    let sink = &ctx.sink;
    match entry.kind.as_str() {
        "cpu" => put_json(ctx, "system/cpu.json".into(), cpu()?)?,
        "memory" => put_json(ctx, "system/memory.json".into(), memory()?)?,
        "hostOS" => put_json(ctx, "system/hostos_info.json".into(), host_os())?,
        "kernelModules" => put_json(ctx, "system/kernel_modules.json".into(), kernel_modules())?,
        "kernelConfigs" => put_json(ctx, "system/kernel-configs.json".into(), kernel_configs()?)?,
        "diskUsage" => {
            let path = field_str(f, "path")
                .ok_or_else(|| CollectError::Spec("diskUsage.path is required".into()))?;
            let v = disk_usage(Path::new(path))?;
            put_json(
                ctx,
                format!("diskUsage/{}.json", name.unwrap_or("diskUsage")),
                v,
            )?
        }
        "blockDevices" => put_json(
            ctx,
            "system/block_devices.json".into(),
            block_devices().await?,
        )?,
        "ipv4Interfaces" => put_json(ctx, "system/ipv4Interfaces.json".into(), ipv4_interfaces())?,
        "time" => put_json(ctx, "system/time.json".into(), time_status())?,
        "cgroups" => {
            let mp = field_str(f, "mountPoint").unwrap_or("/sys/fs/cgroup");
            put_json(ctx, "system/cgroups.json".into(), cgroups(Path::new(mp)))?
        }
        "sysctl" => put_json(ctx, "system/sysctl.json".into(), sysctl())?,
        "tcpPortStatus" | "udpPortStatus" => {
            let port = field_i64(f, "port")?
                .filter(|p| (0..=65535).contains(p))
                .ok_or_else(|| CollectError::Spec(format!("{}.port must be 0-65535", entry.kind)))?
                as u16;
            let ip = match field_str(f, "interface") {
                Some(iface) => interface_ipv4(iface).ok_or_else(|| {
                    CollectError::Failed(format!(
                        "interface {iface} has no IPv4 address; check `ip addr`"
                    ))
                })?,
                None => std::net::Ipv4Addr::UNSPECIFIED,
            };
            let v = if entry.kind == "tcpPortStatus" {
                net::tcp_port_status(ip, port).await
            } else {
                net::udp_port_status(ip, port).await
            };
            put_json(
                ctx,
                format!("{}/{}.json", entry.kind, name.unwrap_or(&entry.kind)),
                v,
            )?
        }
        "tcpConnect" => {
            let addr = field_str(f, "address")
                .ok_or_else(|| CollectError::Spec("tcpConnect.address is required".into()))?;
            let t = field_duration(f, "timeout")?.unwrap_or(net::TCP_DEFAULT_TIMEOUT);
            put_json(
                ctx,
                format!("connect/{}.json", name.unwrap_or("connect")),
                net::tcp_connect(addr, t).await,
            )?
        }
        "http" => {
            let v = net::http_result(f).await?;
            put_json(ctx, format!("http/{}.json", name.unwrap_or("result")), v)?
        }
        "dns" => {
            let hosts = field_strs(f, "hostnames");
            if hosts.is_empty() {
                return Err(CollectError::Spec("dns.hostnames is required".into()));
            }
            let dir = name.unwrap_or("dns").replace(' ', "_");
            let (result, resolv) = dns(&hosts).await;
            put_json(ctx, format!("dns/{dir}/result.json"), result)?;
            sink.put(&format!("{BASE}/dns/{dir}/resolv.conf"), resolv)?;
        }
        "certificate" => {
            let cert = field_str(f, "certificatePath").ok_or_else(|| {
                CollectError::Spec("certificate.certificatePath is required".into())
            })?;
            let key = field_str(f, "keyPath")
                .ok_or_else(|| CollectError::Spec("certificate.keyPath is required".into()))?;
            let word = super::certs::key_pair_status(Path::new(cert), Path::new(key));
            sink.put(
                &format!("{BASE}/certificate/{}.json", name.unwrap_or("certificate")),
                word.as_bytes().to_vec(),
            )?;
        }
        "certificatesCollection" => {
            let paths = field_strs(f, "paths");
            let v: Vec<Value> = paths
                .iter()
                .map(|p| super::certs::certificate_file_info(Path::new(p)))
                .collect();
            put_json(
                ctx,
                format!(
                    "certificatesCollection/{}.json",
                    name.unwrap_or("certificatesCollection")
                ),
                Value::Array(v),
            )?
        }
        "hostServices" => put_json(
            ctx,
            "system/systemctl_services.json".into(),
            host_services().await?,
        )?,
        "systemPackages" => {
            let v = system_packages(f).await;
            put_json(
                ctx,
                format!("system/{}-packages.json", name.unwrap_or("packages")),
                v,
            )?
        }
        "journald" => {
            let n = name
                .ok_or_else(|| CollectError::Spec("journald.collectorName is required".into()))?;
            journald(n, f, ctx).await?
        }
        "filesystemPerformance" => {
            let v = filesystem_performance(f).await?;
            put_json(
                ctx,
                format!(
                    "filesystemPerformance/{}.json",
                    name.unwrap_or("filesystemPerformance")
                ),
                v,
            )?
        }
        "subnetAvailable" => {
            if let Some(v) = subnet_available(f) {
                put_json(
                    ctx,
                    format!("subnetAvailable/{}.json", name.unwrap_or("result")),
                    v,
                )?
            }
        }
        "run" => run(name.unwrap_or("run-host"), f, ctx).await?,
        "copy" => copy(name.unwrap_or("copy"), f, ctx)?,
        other => {
            return Err(CollectError::Unavailable(format!(
                "host collector `{other}` is not supported yet"
            )));
        }
    }
    Ok(())
}

/// Packages whose versions matter to a drift baseline, per os-release `ID` (the
/// `systemPackages` collector's format).
const BASELINE_PACKAGES: &str = r#"{
  "ubuntu": ["containerd", "containerd.io", "runc", "docker-ce", "cri-o", "iptables", "nftables", "apparmor"],
  "debian": ["containerd", "containerd.io", "runc", "docker-ce", "cri-o", "iptables", "nftables", "apparmor"],
  "rhel": ["containerd.io", "runc", "docker-ce", "cri-o", "iptables", "nftables", "container-selinux", "selinux-policy"],
  "rocky": ["containerd.io", "runc", "cri-o", "iptables", "nftables", "container-selinux"],
  "almalinux": ["containerd.io", "runc", "cri-o", "iptables", "nftables", "container-selinux"],
  "centos": ["containerd.io", "runc", "cri-o", "iptables", "nftables", "container-selinux"]
}"#;

/// The host collector outputs a drift baseline is made from, keyed by their bundle paths:
/// `hostOS`, `ipv4Interfaces`, `time`, `blockDevices`, `kernelModules`, `systemPackages`
/// (container runtime, firewall and security packages), the resolver configuration, and
/// `host-collectors/system/security_modules.json` (SELinux and AppArmor state, berth's own).
/// Collectors that cannot run here (no lsblk) are left out.
pub async fn baseline_outputs() -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut put = |rel: &str, v: &Value| {
        if let Ok(b) = serde_json::to_vec(v) {
            out.insert(format!("{BASE}/{rel}"), b);
        }
    };
    put("system/hostos_info.json", &host_os());
    put("system/ipv4Interfaces.json", &ipv4_interfaces());
    put("system/time.json", &time_status());
    if let Ok(v) = block_devices().await {
        put("system/block_devices.json", &v);
    }
    put("system/kernel_modules.json", &kernel_modules());
    let spec: Value = serde_json::from_str(BASELINE_PACKAGES).unwrap_or(Value::Null);
    put(
        "system/baseline-packages.json",
        &system_packages(&spec).await,
    );
    put("system/security_modules.json", &security_modules());
    put("system/boot.json", &boot_times());
    if let Ok(r) = std::fs::read("/etc/resolv.conf") {
        out.insert(format!("{BASE}/dns/baseline/resolv.conf"), r);
    }
    out
}

/// When the host booted (`btime` of `/proc/stat`) and when its os-release last changed, both
/// RFC 3339: when a kernel or OS change was first seen.
fn boot_times() -> Value {
    let booted = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|t| t.trim().parse::<i64>().ok())
        })
        .and_then(|t| jiff::Timestamp::from_second(t).ok())
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    let os_changed = std::fs::metadata("/etc/os-release")
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| jiff::Timestamp::try_from(t).ok())
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    json!({"booted_at": booted, "os_release_changed_at": os_changed})
}

/// SELinux (`/sys/fs/selinux/enforce`) and AppArmor (`/sys/module/apparmor/parameters/enabled`).
fn security_modules() -> Value {
    let selinux = match std::fs::read_to_string("/sys/fs/selinux/enforce") {
        Ok(s) if s.trim() == "1" => "enforcing",
        Ok(_) => "permissive",
        Err(_) if Path::new("/etc/selinux/config").exists() => "disabled",
        Err(_) => "absent",
    };
    let apparmor = match std::fs::read_to_string("/sys/module/apparmor/parameters/enabled") {
        Ok(s) if s.trim() == "Y" => "enabled",
        Ok(_) => "disabled",
        Err(_) => "absent",
    };
    json!({"selinux": selinux, "apparmor": apparmor})
}

fn put_json(ctx: &Context, rel: String, v: Value) -> Result<(), crate::bundle::BundleError> {
    ctx.sink.put_json(&format!("{BASE}/{rel}"), &v)
}

fn read(path: &str) -> Result<String, CollectError> {
    std::fs::read_to_string(path)
        .map_err(|e| CollectError::Failed(format!("cannot read {path}: {e}")))
}

fn cpu() -> Result<Value, CollectError> {
    let info = read("/proc/cpuinfo")?;
    let mut logical = 0u64;
    let mut cores = std::collections::HashSet::new();
    let mut flags: Vec<String> = Vec::new();
    let (mut phys, mut core) = (String::new(), String::new());
    for line in info.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" => logical += 1,
            "physical id" => phys = v.to_string(),
            "core id" => {
                core = v.to_string();
                cores.insert(format!("{phys}/{core}"));
            }
            "flags" | "Features" if flags.is_empty() => {
                flags = v.split_whitespace().map(str::to_string).collect()
            }
            _ => {}
        }
    }
    let _ = core;
    let physical = if cores.is_empty() {
        logical
    } else {
        cores.len() as u64
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    Ok(
        json!({"logicalCount": logical, "physicalCount": physical, "flags": flags, "machineArch": arch}),
    )
}

fn memory() -> Result<Value, CollectError> {
    let info = read("/proc/meminfo")?;
    let kb = info
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or_else(|| CollectError::Failed("no MemTotal in /proc/meminfo".into()))?;
    Ok(json!({ "total": kb * 1024 }))
}

fn os_release() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

fn host_os() -> Value {
    let os = os_release();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string();
    let id = os.get("ID").cloned().unwrap_or_default();
    let family = match id.as_str() {
        "ubuntu" | "debian" => "debian",
        "rhel" | "centos" | "rocky" | "almalinux" | "ol" | "fedora" | "amzn" => "rhel",
        _ => os
            .get("ID_LIKE")
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or(&id),
    };
    json!({
        "name": hostname,
        "kernelVersion": kernel,
        "platformVersion": os.get("VERSION_ID").cloned().unwrap_or_default(),
        "platform": id,
        "platformFamily": family,
    })
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn kernel_modules() -> Value {
    let mut out = Map::new();
    let rel = kernel_release();
    // Loadable: every module file the running kernel ships.
    if let Ok(dep) = std::fs::read_to_string(format!("/lib/modules/{rel}/modules.dep")) {
        for line in dep.lines() {
            let Some((path, _)) = line.split_once(':') else {
                continue;
            };
            let file = path.rsplit('/').next().unwrap_or(path);
            let name = file.split(".ko").next().unwrap_or(file).replace('-', "_");
            out.insert(
                name,
                json!({"size": 0, "instances": 0, "status": "loadable"}),
            );
        }
    }
    if let Ok(b) = std::fs::read_to_string(format!("/lib/modules/{rel}/modules.builtin")) {
        for line in b.lines() {
            let file = line.rsplit('/').next().unwrap_or(line);
            let name = file.split(".ko").next().unwrap_or(file).replace('-', "_");
            out.insert(name, json!({"size": 0, "instances": 0, "status": "loaded"}));
        }
    }
    if let Ok(m) = std::fs::read_to_string("/proc/modules") {
        for line in m.lines() {
            let p: Vec<&str> = line.split_whitespace().collect();
            if p.len() < 5 {
                continue;
            }
            let status = match p[4] {
                "Live" => "loaded",
                "Loading" => "loading",
                "Unloading" => "unloading",
                _ => "unknown",
            };
            out.insert(
                p[0].to_string(),
                json!({
                    "size": p[1].parse::<u64>().unwrap_or(0),
                    "instances": p[2].parse::<u64>().unwrap_or(0),
                    "status": status,
                }),
            );
        }
    }
    Value::Object(out)
}

fn kernel_configs() -> Result<Value, CollectError> {
    let rel = kernel_release();
    let text = std::fs::read_to_string(format!("/boot/config-{rel}"))
        .or_else(|_| {
            let f = std::fs::File::open("/proc/config.gz")?;
            let mut s = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(f), &mut s)?;
            Ok::<String, std::io::Error>(s)
        })
        .map_err(|e| {
            CollectError::Failed(format!(
                "no kernel config at /boot/config-{rel} or /proc/config.gz: {e}"
            ))
        })?;
    let mut out = Map::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=')
            && k.starts_with("CONFIG_")
        {
            out.insert(k.to_string(), Value::String(v.to_string()));
        } else if let Some(k) = line
            .strip_prefix("# ")
            .and_then(|l| l.strip_suffix(" is not set"))
        {
            out.insert(k.to_string(), Value::String("n".into()));
        }
    }
    Ok(Value::Object(out))
}

/// Disk usage of the filesystem holding `path` (or its nearest existing ancestor).
pub fn disk_usage(path: &Path) -> Result<Value, CollectError> {
    let mut p = path.to_path_buf();
    while !p.exists() {
        if !p.pop() {
            p = PathBuf::from("/");
            break;
        }
    }
    let s = nix::sys::statvfs::statvfs(&p)
        .map_err(|e| CollectError::Failed(format!("statvfs {}: {e}", p.display())))?;
    let frsize = s.fragment_size();
    let total = s.blocks() * frsize;
    let free = s.blocks_free() * frsize;
    let avail = s.blocks_available() * frsize;
    // Like df: used excludes the root-reserved blocks from "available".
    let used = total.saturating_sub(free);
    let _ = avail;
    Ok(json!({"total_bytes": total, "used_bytes": used}))
}

async fn block_devices() -> Result<Value, CollectError> {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new("lsblk")
            .args([
                "--bytes",
                "--pairs",
                "-o",
                "NAME,KNAME,PKNAME,TYPE,MAJ:MIN,SIZE,FSTYPE,MOUNTPOINT,SERIAL,RO,RM",
            ])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| CollectError::Failed("lsblk did not finish within 30s".into()))?
    .map_err(|e| CollectError::Unavailable(format!("cannot run lsblk: {e}; install util-linux")))?;
    if !out.status.success() {
        return Err(CollectError::Failed(format!(
            "lsblk failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut devs = Vec::new();
    for line in text.lines() {
        let kv = parse_pairs(line);
        let g = |k: &str| kv.get(k).cloned().unwrap_or_default();
        let (major, minor) = g("MAJ:MIN")
            .split_once(':')
            .map(|(a, b)| (a.parse::<u64>().unwrap_or(0), b.parse::<u64>().unwrap_or(0)))
            .unwrap_or((0, 0));
        devs.push(json!({
            "name": g("NAME"),
            "kernel_name": g("KNAME"),
            "parent_kernel_name": g("PKNAME"),
            "type": g("TYPE"),
            "major": major,
            "minor": minor,
            "size": g("SIZE").parse::<u64>().unwrap_or(0),
            "filesystem_type": g("FSTYPE"),
            "mountpoint": g("MOUNTPOINT"),
            "serial": g("SERIAL"),
            "read_only": g("RO") == "1",
            "removable": g("RM") == "1",
        }));
    }
    Ok(Value::Array(devs))
}

/// Parse `KEY="value" KEY2="v"` (lsblk --pairs).
fn parse_pairs(line: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = line.trim();
    while let Some(eq) = rest.find("=\"") {
        let key = rest[..eq].trim().to_string();
        let after = &rest[eq + 2..];
        let end = after.find('"').unwrap_or(after.len());
        out.insert(key, after[..end].to_string());
        rest = after.get(end + 1..).unwrap_or("");
    }
    out
}

fn ipv4_interfaces() -> Value {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Value::Null;
    };
    let mut with_v4 = std::collections::BTreeSet::new();
    for a in addrs {
        if a.address
            .as_ref()
            .and_then(|s| s.as_sockaddr_in())
            .is_some()
        {
            with_v4.insert(a.interface_name.clone());
        }
    }
    let mut out = Vec::new();
    for name in with_v4 {
        let sys = |f: &str| {
            std::fs::read_to_string(format!("/sys/class/net/{name}/{f}"))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let raw = u64::from_str_radix(sys("flags").trim_start_matches("0x"), 16).unwrap_or(0);
        let up = raw & 0x1 != 0;
        let loopback = raw & 0x8 != 0;
        if !up || loopback {
            continue;
        }
        // Go's net.Flags bits: up 1, broadcast 2, loopback 4, p2p 8, multicast 16, running 32.
        let mut flags = 1u64;
        if raw & 0x2 != 0 {
            flags |= 2;
        }
        if raw & 0x10 != 0 {
            flags |= 8;
        }
        if raw & 0x1000 != 0 {
            flags |= 16;
        }
        if raw & 0x40 != 0 {
            flags |= 32;
        }
        let mac: Vec<u8> = sys("address")
            .split(':')
            .filter_map(|h| u8::from_str_radix(h, 16).ok())
            .collect();
        use base64::Engine as _;
        out.push(json!({
            "Index": sys("ifindex").parse::<u64>().unwrap_or(0),
            "MTU": sys("mtu").parse::<u64>().unwrap_or(0),
            "Name": name,
            "HardwareAddr": base64::engine::general_purpose::STANDARD.encode(mac),
            "Flags": flags,
        }));
    }
    if out.is_empty() {
        Value::Null
    } else {
        Value::Array(out)
    }
}

fn interface_ipv4(iface: &str) -> Option<std::net::Ipv4Addr> {
    nix::ifaddrs::getifaddrs().ok()?.find_map(|a| {
        (a.interface_name == iface)
            .then(|| a.address.and_then(|s| s.as_sockaddr_in().map(|s| s.ip())))
            .flatten()
    })
}

fn time_status() -> Value {
    let tz = std::fs::read_link("/etc/localtime")
        .ok()
        .and_then(|p| {
            let s = p.to_string_lossy().into_owned();
            s.split("zoneinfo/").nth(1).map(str::to_string)
        })
        .or_else(|| {
            std::fs::read_to_string("/etc/timezone")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "UTC".into());
    let mut tz = tz.to_uppercase();
    if tz == "ETC/UTC" || tz == "ETC/UCT" || tz == "UCT" || tz.is_empty() {
        tz = "UTC".into();
    }
    // The kernel knows whether the clock is disciplined (STA_UNSYNC cleared by an NTP daemon).
    let mut tx: nix::libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: ntp_adjtime with modes = 0 only reads the kernel clock state into `tx`.
    let state = unsafe { nix::libc::ntp_adjtime(&mut tx) };
    let synced = state >= 0 && state != nix::libc::TIME_ERROR;
    let active = ["systemd-timesyncd", "chronyd", "ntpd", "ntpsec", "openntpd"]
        .iter()
        .any(|p| process_running(p));
    json!({"timezone": tz, "ntp_synchronized": synced, "ntp_active": active})
}

fn process_running(name: &str) -> bool {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return false;
    };
    rd.flatten()
        .any(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == name))
}

fn cgroups(mount: &Path) -> Value {
    let v2_controllers: Vec<String> = std::fs::read_to_string(mount.join("cgroup.controllers"))
        .or_else(|_| std::fs::read_to_string(mount.join("unified/cgroup.controllers")))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let v2 = mount.join("cgroup.controllers").exists() || mount.join("unified").exists();
    let mut v1: Vec<String> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(mount) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir()
                && n != "unified"
                && !n.starts_with("cgroup.")
                && !v2_controllers.contains(&n)
            {
                v1.push(n);
            }
        }
    }
    v1.sort();
    let mut all: Vec<String> = v1.iter().chain(v2_controllers.iter()).cloned().collect();
    all.sort();
    all.dedup();
    json!({
        "cgroup-enabled": !all.is_empty(),
        "cgroup-v1": {"enabled": !v1.is_empty(), "mountPoint": mount, "controllers": v1},
        "cgroup-v2": {"enabled": v2, "mountPoint": mount, "controllers": v2_controllers},
        "allControllers": all,
    })
}

fn sysctl() -> Value {
    let mut out = Map::new();
    for e in walkdir::WalkDir::new("/proc/sys")
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        if !e.file_type().is_file() {
            continue;
        }
        let Ok(rel) = e.path().strip_prefix("/proc/sys") else {
            continue;
        };
        let key = rel.to_string_lossy().replace('/', ".");
        if let Ok(v) = std::fs::read_to_string(e.path()) {
            out.insert(key, Value::String(v.trim().replace('\t', " ")));
        }
    }
    Value::Object(out)
}

async fn dns(hosts: &[String]) -> (Value, Vec<u8>) {
    let resolv = std::fs::read("/etc/resolv.conf").unwrap_or_default();
    let servers: Vec<String> = String::from_utf8_lossy(&resolv)
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        .map(|s| s.trim().to_string())
        .collect();
    let mut query = Map::new();
    for h in hosts {
        let answers = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::net::lookup_host((h.as_str(), 0)),
        )
        .await;
        let mut rows = Vec::new();
        if let Ok(Ok(addrs)) = answers {
            for a in addrs {
                rows.push(json!({
                    "server": servers.first().cloned().unwrap_or_default(),
                    "search": "",
                    "name": h,
                    "answer": a.ip().to_string(),
                    "record": if a.is_ipv4() { "A" } else { "AAAA" },
                }));
            }
        }
        query.insert(h.clone(), Value::Array(rows));
    }
    (json!({"query": query, "resolvedFromSearch": ""}), resolv)
}

async fn host_services() -> Result<Value, CollectError> {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new("systemctl")
            .args([
                "list-units",
                "--type=service",
                "--all",
                "--no-legend",
                "--plain",
                "--no-pager",
            ])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| CollectError::Failed("systemctl did not answer within 30s".into()))?
    .map_err(|e| {
        CollectError::Unavailable(format!(
            "cannot run systemctl: {e}; hostServices needs systemd"
        ))
    })?;
    if !out.status.success() {
        return Err(CollectError::Unavailable(format!(
            "systemctl failed ({}): {}; is systemd running on this host?",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let units: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let p: Vec<&str> = l.split_whitespace().collect();
            (p.len() >= 4).then(|| json!({"Unit": p[0], "Load": p[1], "Active": p[2], "Sub": p[3]}))
        })
        .collect();
    Ok(Value::Array(units))
}

async fn system_packages(f: &Value) -> Value {
    let os = os_release();
    let id = os.get("ID").cloned().unwrap_or_default();
    let ver = os.get("VERSION_ID").cloned().unwrap_or_default();
    let major = ver.split('.').next().unwrap_or("").to_string();
    // Package lists per OS key (`ubuntu`, `ubuntu20`, `rhel8`, ...; berth also reads `debian`, `debian12`).
    let mut names: Vec<String> = field_strs(f, &id);
    names.extend(field_strs(f, &format!("{id}{major}")));
    if id == "centos" && major == "9" {
        names.extend(field_strs(f, "centos8"));
    }
    let deb = matches!(id.as_str(), "ubuntu" | "debian");
    let mut pkgs = Vec::new();
    for n in names {
        let (cmd, args): (&str, Vec<String>) = if deb {
            ("dpkg-query", vec!["-s".into(), n.clone()])
        } else {
            ("rpm", vec!["-qi".into(), n.clone()])
        };
        let r = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::process::Command::new(cmd)
                .args(&args)
                .kill_on_drop(true)
                .output(),
        )
        .await;
        let row = match r {
            Ok(Ok(o)) => {
                let mut row = json!({
                    "name": n,
                    "details": String::from_utf8_lossy(&o.stdout),
                    "exitCode": o.status.code().unwrap_or(-1).to_string(),
                });
                if !o.status.success() {
                    row["error"] = Value::String(String::from_utf8_lossy(&o.stderr).trim().into());
                }
                row
            }
            Ok(Err(e)) => {
                json!({"name": n, "details": "", "exitCode": "-1", "error": e.to_string()})
            }
            Err(_) => {
                json!({"name": n, "details": "", "exitCode": "-1", "error": format!("{cmd} timed out")})
            }
        };
        pkgs.push(row);
    }
    json!({"os": id, "osVersion": ver, "packages": pkgs})
}

async fn journald(name: &str, f: &Value, ctx: &Context) -> Result<(), CollectError> {
    let mut args: Vec<String> = Vec::new();
    if field_bool(f, "system") {
        args.push("--system".into());
    }
    if field_bool(f, "dmesg") {
        args.push("--dmesg".into());
    }
    for u in field_strs(f, "units") {
        args.push("-u".into());
        args.push(u);
    }
    if let Some(s) = field_str(f, "since") {
        args.push(format!("--since={s}"));
    }
    if let Some(s) = field_str(f, "until") {
        args.push(format!("--until={s}"));
    }
    if let Some(s) = field_str(f, "output") {
        args.push(format!("--output={s}"));
    }
    if let Some(n) = field_i64(f, "lines")? {
        args.push(format!("--lines={n}"));
    }
    if field_bool(f, "reverse") {
        args.push("--reverse".into());
    }
    if field_bool(f, "utc") {
        args.push("--utc".into());
    }
    args.push("--no-pager".into());
    let timeout = field_duration(f, "timeout")?.unwrap_or(Duration::from_secs(30));
    let r = run_bounded("journalctl", &args, &[], true, None, timeout).await;
    let dir = format!("{BASE}/journald");
    ctx.sink.put(&format!("{dir}/{name}.txt"), r.stdout)?;
    ctx.sink
        .put(&format!("{dir}/{name}-stderr.txt"), r.stderr)?;
    ctx.sink.put_json(
        &format!("{dir}/{name}-info.json"),
        &json!({
            "command": format!("journalctl {}", args.join(" ")),
            "exitCode": r.exit_code.to_string(),
            "error": r.error,
            "outputDir": "",
            "input": "",
            "env": [],
        }),
    )?;
    Ok(())
}

/// Result of a bounded command run.
pub struct RunResult {
    /// Captured stdout (capped).
    pub stdout: Vec<u8>,
    /// Captured stderr (capped).
    pub stderr: Vec<u8>,
    /// Exit code, -1 when killed or not started.
    pub exit_code: i32,
    /// Why it failed to run or was stopped ("" if it exited by itself).
    pub error: String,
}

const OUTPUT_CAP: u64 = 64 << 20;

/// Run a command with a timeout; on timeout the whole process group is killed, so a hung
/// command (or one that leaves children behind) never outlives the collector.
pub async fn run_bounded(
    cmd: &str,
    args: &[String],
    env: &[(String, String)],
    inherit_env: bool,
    cwd: Option<&Path>,
    timeout: Duration,
) -> RunResult {
    use tokio::io::AsyncReadExt;
    let mut c = tokio::process::Command::new(cmd);
    c.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    if !inherit_env {
        c.env_clear();
        if let Ok(p) = std::env::var("PATH") {
            c.env("PATH", p);
        }
    }
    for (k, v) in env {
        c.env(k, v);
    }
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    let mut child = match c.spawn() {
        Ok(ch) => ch,
        Err(e) => {
            return RunResult {
                stdout: Vec::new(),
                stderr: Vec::new(),
                exit_code: -1,
                error: format!("cannot start {cmd}: {e}"),
            };
        }
    };
    let guard = GroupKill(child.id());
    let mut so = child.stdout.take();
    let mut se = child.stderr.take();
    let read_out = async {
        let mut buf = Vec::new();
        if let Some(s) = so.as_mut() {
            let _ = s.take(OUTPUT_CAP).read_to_end(&mut buf).await;
        }
        buf
    };
    let read_err = async {
        let mut buf = Vec::new();
        if let Some(s) = se.as_mut() {
            let _ = s.take(OUTPUT_CAP).read_to_end(&mut buf).await;
        }
        buf
    };
    let all = async {
        let (o, e) = tokio::join!(read_out, read_err);
        let st = child.wait().await;
        (o, e, st)
    };
    match tokio::time::timeout(timeout, all).await {
        Ok((stdout, stderr, st)) => {
            std::mem::forget(guard);
            let (exit_code, error) = match st {
                Ok(s) => (s.code().unwrap_or(-1), String::new()),
                Err(e) => (-1, e.to_string()),
            };
            RunResult {
                stdout,
                stderr,
                exit_code,
                error,
            }
        }
        Err(_) => {
            drop(guard);
            RunResult {
                stdout: Vec::new(),
                stderr: Vec::new(),
                exit_code: -1,
                error: format!("{cmd} did not finish within {timeout:?} and was killed"),
            }
        }
    }
}

/// Kills a process group when dropped (a timed-out or abandoned command).
struct GroupKill(Option<u32>);

impl Drop for GroupKill {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

async fn run(name: &str, f: &Value, ctx: &Context) -> Result<(), CollectError> {
    let cmd = field_str(f, "command")
        .ok_or_else(|| CollectError::Spec("run.command is required".into()))?;
    let args = field_strs(f, "args");
    let timeout = field_duration(f, "timeout")?.unwrap_or(Duration::from_secs(300));
    let mut env: Vec<(String, String)> = field_strs(f, "env")
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let inherit = !field_bool(f, "ignoreParentEnvs");
    if !inherit {
        for k in field_strs(f, "inheritEnvs") {
            if let Ok(v) = std::env::var(&k) {
                env.push((k, v));
            }
        }
    }
    let dir = format!("{BASE}/run-host");
    let work = tempfile::tempdir().map_err(|e| CollectError::Failed(e.to_string()))?;
    let out_dir = field_str(f, "outputDir");
    if let Some(od) = out_dir {
        let p = work.path().join("output").join(od);
        let _ = std::fs::create_dir_all(&p);
        env.push(("TS_OUTPUT_DIR".into(), p.display().to_string()));
    }
    let mut input_names = Map::new();
    if let Some(inputs) = f.get("input").and_then(Value::as_object) {
        let ind = work.path().join("input");
        let _ = std::fs::create_dir_all(&ind);
        for (k, v) in inputs {
            if let (Some(k), Some(v)) = (crate::bundle::clean_rel(k), v.as_str()) {
                let _ = std::fs::write(ind.join(&k), v);
                input_names.insert(k, Value::String(String::new()));
            }
        }
        env.push(("TS_INPUT_DIR".into(), ind.display().to_string()));
    }
    let r = run_bounded(cmd, &args, &env, inherit, None, timeout).await;
    ctx.sink.put(&format!("{dir}/{name}.txt"), r.stdout)?;
    ctx.sink
        .put(&format!("{dir}/{name}-stderr.txt"), r.stderr)?;
    // Env values may hold secrets: record names only.
    let env_names: Vec<String> = env.iter().map(|(k, _)| format!("{k}=***")).collect();
    ctx.sink.put_json(
        &format!("{dir}/{name}-info.json"),
        &json!({
            "command": std::iter::once(cmd.to_string()).chain(args.iter().cloned()).collect::<Vec<_>>().join(" "),
            "exitCode": r.exit_code.to_string(),
            "error": r.error,
            "outputDir": out_dir.unwrap_or(""),
            "input": input_names,
            "env": env_names,
        }),
    )?;
    if let Some(od) = out_dir {
        let src = work.path().join("output").join(od);
        copy_tree(&src, &format!("{dir}/{name}/{od}"), ctx)?;
    }
    if !r.error.is_empty() {
        return Err(CollectError::Failed(r.error));
    }
    Ok(())
}

const COPY_FILE_CAP: u64 = 512 << 20;

fn copy_tree(src: &Path, dest_rel: &str, ctx: &Context) -> Result<(), CollectError> {
    for e in walkdir::WalkDir::new(src)
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        if !e.file_type().is_file() {
            continue;
        }
        let Ok(rel) = e.path().strip_prefix(src) else {
            continue;
        };
        let target = if rel.as_os_str().is_empty() {
            dest_rel.to_string()
        } else {
            format!("{dest_rel}/{}", rel.to_string_lossy())
        };
        let len = e.metadata().map(|m| m.len()).unwrap_or(0);
        if len > COPY_FILE_CAP {
            return Err(CollectError::Failed(format!(
                "{} is {len} bytes, over the {COPY_FILE_CAP} byte copy limit",
                e.path().display()
            )));
        }
        let bytes = std::fs::read(e.path()).map_err(|err| {
            CollectError::Failed(format!("cannot read {}: {err}", e.path().display()))
        })?;
        ctx.sink.put(&target, bytes)?;
    }
    Ok(())
}

fn copy(name: &str, f: &Value, ctx: &Context) -> Result<(), CollectError> {
    let pattern =
        field_str(f, "path").ok_or_else(|| CollectError::Spec("copy.path is required".into()))?;
    let dest = format!("{BASE}/{name}");
    let matches = glob_paths(pattern);
    let mut errors = Vec::new();
    if matches.is_empty() {
        errors.push(format!("{pattern}: no such file or directory"));
    }
    for p in matches {
        let base = p
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "root".into());
        if let Err(e) = copy_tree(&p, &format!("{dest}/{base}"), ctx) {
            errors.push(e.to_string());
        }
    }
    if !errors.is_empty() {
        ctx.sink.put_json(&format!("{dest}/errors.json"), &errors)?;
        return Err(CollectError::Failed(errors.join("; ")));
    }
    Ok(())
}

/// Expand a filesystem glob (`*`, `?`, `[..]` per segment; `**` across).
pub fn glob_paths(pattern: &str) -> Vec<PathBuf> {
    if !pattern.contains(['*', '?', '[']) {
        let p = PathBuf::from(pattern);
        return if p.exists() { vec![p] } else { Vec::new() };
    }
    let first_glob = pattern.find(['*', '?', '[']).unwrap_or(0);
    let base = match pattern[..first_glob].rfind('/') {
        Some(i) => &pattern[..=i],
        None => "./",
    };
    let Ok(g) = globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
    else {
        return Vec::new();
    };
    let m = g.compile_matcher();
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(base)
        .follow_links(false)
        .max_depth(64)
        .into_iter()
        .flatten()
        .map(|e| e.into_path())
        .filter(|p| {
            let s = p.to_string_lossy();
            let s = if base == "./" {
                s.trim_start_matches("./").to_string()
            } else {
                s.into_owned()
            };
            m.is_match(&s)
        })
        .collect();
    out.sort();
    out
}

async fn filesystem_performance(f: &Value) -> Result<Value, CollectError> {
    let dir = field_str(f, "directory")
        .ok_or_else(|| CollectError::Spec("filesystemPerformance.directory is required".into()))?;
    let op = quantity_field(f, "operationSize")?.unwrap_or(1024).max(1);
    let size = quantity_field(f, "fileSize")?.unwrap_or(10 << 20).max(op);
    let limit = field_duration(f, "timeout")?.unwrap_or(Duration::from_secs(60));
    let run_time = match f.get("runTime") {
        None => Some(Duration::from_secs(120)),
        Some(_) => field_duration(f, "runTime")?.filter(|d| !d.is_zero()),
    };
    let dir = PathBuf::from(dir);
    let job = tokio::task::spawn_blocking(move || fsync_latencies(&dir, op, size, run_time, limit));
    let lat = job
        .await
        .map_err(|e| CollectError::Failed(e.to_string()))??;
    Ok(fio_like(&lat, op))
}

fn quantity_field(f: &Value, key: &str) -> Result<Option<u64>, CollectError> {
    match f.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_u64()),
        Some(Value::String(s)) => parse_quantity(s).map(Some).ok_or_else(|| {
            CollectError::Spec(format!("`{key}` must be a size like 10Mi, got {s:?}"))
        }),
        Some(o) => Err(CollectError::Spec(format!(
            "`{key}` must be a size, got {o}"
        ))),
    }
}

/// A Kubernetes quantity as bytes (`10Mi`, `1G`, `512`).
pub fn parse_quantity(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let n: f64 = s[..split].parse().ok()?;
    let mult: f64 = match &s[split..] {
        "" => 1.0,
        "k" | "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1048576.0,
        "Gi" => 1073741824.0,
        "Ti" => 1099511627776.0,
        _ => return None,
    };
    Some((n * mult) as u64)
}

fn fsync_latencies(
    dir: &Path,
    op: u64,
    size: u64,
    run_time: Option<Duration>,
    limit: Duration,
) -> Result<Vec<u64>, CollectError> {
    use std::io::Write;
    std::fs::create_dir_all(dir)
        .map_err(|e| CollectError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(format!(".berth-fsperf-{}", std::process::id()));
    let mut file = std::fs::File::create(&path)
        .map_err(|e| CollectError::Failed(format!("cannot write in {}: {e}", dir.display())))?;
    let buf = vec![0xabu8; op as usize];
    let start = std::time::Instant::now();
    let mut lat = Vec::new();
    let mut written = 0u64;
    let deadline = run_time.map_or(limit, |r| r.min(limit));
    let r = (|| -> std::io::Result<()> {
        while written < size && start.elapsed() < deadline {
            file.write_all(&buf)?;
            let t = std::time::Instant::now();
            file.sync_data()?;
            lat.push(t.elapsed().as_nanos() as u64);
            written += op;
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(&path);
    r.map_err(|e| CollectError::Failed(format!("fsync test in {}: {e}", dir.display())))?;
    Ok(lat)
}

fn fio_like(lat: &[u64], op: u64) -> Value {
    let mut s = lat.to_vec();
    s.sort_unstable();
    let n = s.len();
    let pct = |p: f64| -> u64 {
        if n == 0 {
            return 0;
        }
        let i = ((p / 100.0) * n as f64).ceil() as usize;
        s[i.clamp(1, n) - 1]
    };
    let mean = if n == 0 {
        0.0
    } else {
        s.iter().map(|&x| x as f64).sum::<f64>() / n as f64
    };
    let mut percentile = Map::new();
    for p in [
        1.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 95.0, 99.0, 99.5, 99.9,
        99.95, 99.99,
    ] {
        percentile.insert(format!("{p:.6}"), json!(pct(p)));
    }
    json!({
        "fio version": "berth-fsync",
        "jobs": [{
            "jobname": "fsperf",
            "job options": {"bs": op.to_string(), "fdatasync": "1"},
            "sync": {
                "total_ios": n,
                "lat_ns": {
                    "min": s.first().copied().unwrap_or(0),
                    "max": s.last().copied().unwrap_or(0),
                    "mean": mean,
                    "N": n,
                    "percentile": percentile,
                }
            }
        }]
    })
}

fn subnet_available(f: &Value) -> Option<Value> {
    let range = field_str(f, "CIDRRangeAlloc")?;
    let desired = field_i64(f, "desiredCIDR").ok()??;
    if !(1..=32).contains(&desired) {
        return None;
    }
    let (ip, bits) = range.split_once('/')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    if bits > 32 || desired < bits as i64 {
        return None;
    }
    let mask = |b: u32| if b == 0 { 0 } else { u32::MAX << (32 - b) };
    let base = u32::from(ip) & mask(bits);
    let routes = kernel_routes();
    let step: u64 = 1u64 << (32 - desired as u32);
    let end = base as u64 + (1u64 << (32 - bits));
    let mut cand = base as u64;
    let mut found = false;
    while cand < end {
        let c_lo = cand;
        let c_hi = cand + step - 1;
        if !routes.iter().any(|(lo, hi)| *lo <= c_hi && c_lo <= *hi) {
            found = true;
            break;
        }
        cand += step;
    }
    Some(json!({
        "CIDRRangeAlloc": range,
        "desiredCIDR": desired,
        "status": if found { "a-subnet-is-available" } else { "no-subnet-available" },
    }))
}

/// Address ranges of this host's non-default IPv4 routes, from `/proc/net/route`.
fn kernel_routes() -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let p: Vec<&str> = l.split_whitespace().collect();
            let dest = u32::from_str_radix(p.get(1)?, 16).ok()?.swap_bytes();
            let mask = u32::from_str_radix(p.get(7)?, 16).ok()?.swap_bytes();
            (mask != 0).then_some((dest as u64, (dest | !mask) as u64))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_has_cpus_memory_and_an_os() {
        let c = cpu().unwrap();
        assert!(c["logicalCount"].as_u64().unwrap() >= 1);
        assert!(c["physicalCount"].as_u64().unwrap() >= 1);
        assert!(memory().unwrap()["total"].as_u64().unwrap() > 64 << 20);
        let os = host_os();
        assert!(!os["kernelVersion"].as_str().unwrap().is_empty());
        assert!(!os["platform"].as_str().unwrap().is_empty());
    }

    #[test]
    fn disk_usage_walks_up_to_an_existing_dir() {
        let v = disk_usage(Path::new("/tmp/does/not/exist/yet")).unwrap();
        assert!(v["total_bytes"].as_u64().unwrap() > 0);
        assert!(v["used_bytes"].as_u64().unwrap() <= v["total_bytes"].as_u64().unwrap());
    }

    #[test]
    fn sysctl_reads_proc_sys() {
        let v = sysctl();
        assert!(v.get("kernel.osrelease").is_some(), "no kernel.osrelease");
    }

    #[test]
    fn quantities_and_fio_shape() {
        assert_eq!(parse_quantity("10Mi"), Some(10 << 20));
        assert_eq!(parse_quantity("1G"), Some(1_000_000_000));
        assert_eq!(parse_quantity("lots"), None);
        let v = fio_like(&[10, 20, 30, 40], 1024);
        assert_eq!(
            v["jobs"][0]["sync"]["lat_ns"]["percentile"]["50.000000"],
            20
        );
        assert_eq!(v["jobs"][0]["sync"]["lat_ns"]["max"], 40);
    }

    #[test]
    fn subnet_search_and_invalid_inputs() {
        let ok = subnet_available(&json!({"CIDRRangeAlloc": "10.200.0.0/16", "desiredCIDR": 24}))
            .unwrap();
        assert_eq!(ok["status"], "a-subnet-is-available");
        assert!(subnet_available(&json!({"CIDRRangeAlloc": "bogus", "desiredCIDR": 24})).is_none());
        assert!(
            subnet_available(&json!({"CIDRRangeAlloc": "10.0.0.0/24", "desiredCIDR": 16}))
                .is_none()
        );
    }

    #[test]
    fn lsblk_pairs() {
        let m = parse_pairs(r#"NAME="sda" KNAME="sda" MOUNTPOINT="" SIZE="42""#);
        assert_eq!(m["NAME"], "sda");
        assert_eq!(m["MOUNTPOINT"], "");
        assert_eq!(m["SIZE"], "42");
    }

    #[tokio::test]
    async fn hung_command_is_killed_with_its_children() {
        let r = run_bounded(
            "sh",
            &["-c".into(), "sleep 600 & sleep 600".into()],
            &[],
            true,
            None,
            Duration::from_millis(300),
        )
        .await;
        assert_eq!(r.exit_code, -1);
        assert!(r.error.contains("killed"), "{}", r.error);
        let r = run_bounded(
            "sh",
            &["-c".into(), "echo hi; echo err >&2; exit 3".into()],
            &[],
            true,
            None,
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(r.stdout, b"hi\n");
        assert_eq!(r.stderr, b"err\n");
        assert_eq!(r.exit_code, 3);
        let r = run_bounded(
            "/no/such/binary",
            &[],
            &[],
            true,
            None,
            Duration::from_secs(5),
        )
        .await;
        assert!(r.error.contains("cannot start"));
    }

    #[test]
    fn glob_expansion() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.log"), "a").unwrap();
        std::fs::write(d.path().join("b.txt"), "b").unwrap();
        let got = glob_paths(&format!("{}/*.log", d.path().display()));
        assert_eq!(got, vec![d.path().join("a.log")]);
    }
}
