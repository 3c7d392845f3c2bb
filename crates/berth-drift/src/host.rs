//! Host facts from host collector outputs (troubleshoot's file layout under
//! `host-collectors/`), whether just collected on this machine or read from a support bundle.

use crate::model::{DiskFacts, DnsFacts, HostFacts, TimeFacts};
use serde_json::Value;
use std::collections::BTreeMap;

/// Kernel modules whose absence breaks container networking or storage.
pub const MODULES: &[&str] = &[
    "overlay",
    "br_netfilter",
    "nf_conntrack",
    "nf_nat",
    "ip_tables",
    "iptable_nat",
    "iptable_filter",
    "xt_conntrack",
    "ip_vs",
    "vxlan",
    "bridge",
    "veth",
    "wireguard",
    "rbd",
    "nbd",
    "iscsi_tcp",
    "dm_thin_pool",
    "nfs",
];

fn json(files: &BTreeMap<String, Vec<u8>>, rel: &str) -> Option<Value> {
    serde_json::from_slice(files.get(&format!("host-collectors/{rel}"))?).ok()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// The `Version:` of `dpkg-query -s` or `rpm -qi` output (with rpm's `Release`).
fn package_version(details: &str) -> Option<String> {
    let field = |name: &str| {
        details.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    };
    let v = field("Version")?;
    Some(match field("Release") {
        Some(r) => format!("{v}-{r}"),
        None => v,
    })
}

/// Nameservers and search domains of a resolv.conf.
pub fn resolv_conf(text: &str) -> DnsFacts {
    let mut d = DnsFacts::default();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        match w.next() {
            Some("nameserver") => d.nameservers.extend(w.next().map(String::from)),
            Some("search") | Some("domain") => {
                d.search = w.map(String::from).collect();
            }
            _ => {}
        }
    }
    d
}

/// Host facts from collector outputs keyed by bundle path; `None` without `hostOS` output.
pub fn host_facts(files: &BTreeMap<String, Vec<u8>>) -> Option<HostFacts> {
    let os = json(files, "system/hostos_info.json")?;
    let mut h = HostFacts {
        os_id: s(&os, "platform").to_string(),
        os_version: s(&os, "platformVersion").to_string(),
        kernel: s(&os, "kernelVersion").to_string(),
        ..Default::default()
    };
    if let Some(ifs) = json(files, "system/ipv4Interfaces.json").and_then(|v| v.as_array().cloned())
    {
        for i in ifs {
            h.interfaces.insert(
                s(&i, "Name").to_string(),
                i.get("MTU").and_then(Value::as_u64).unwrap_or(0),
            );
        }
    }
    if let Some(t) = json(files, "system/time.json") {
        h.time = TimeFacts {
            timezone: s(&t, "timezone").to_string(),
            ntp_synchronized: t.get("ntp_synchronized").and_then(Value::as_bool) == Some(true),
            ntp_active: t.get("ntp_active").and_then(Value::as_bool) == Some(true),
        };
    }
    if let Some(devs) = json(files, "system/block_devices.json").and_then(|v| v.as_array().cloned())
    {
        h.disks = devs
            .iter()
            // Loop devices (snaps) and ramdisks come and go; disks and partitions matter.
            .filter(|d| matches!(s(d, "type"), "disk" | "part" | "lvm" | "raid1" | "crypt"))
            .map(|d| DiskFacts {
                name: s(d, "name").to_string(),
                kind: s(d, "type").to_string(),
                fstype: s(d, "filesystem_type").to_string(),
                mountpoint: s(d, "mountpoint").to_string(),
                size: d.get("size").and_then(Value::as_u64).unwrap_or(0),
            })
            .collect();
        h.disks.sort_by(|a, b| a.name.cmp(&b.name));
    }
    if let Some(m) = json(files, "system/kernel_modules.json").and_then(|v| v.as_object().cloned())
    {
        h.kernel_modules = MODULES
            .iter()
            .filter(|n| {
                m.get(**n)
                    .is_some_and(|e| e.get("status").and_then(Value::as_str) == Some("loaded"))
            })
            .map(|n| n.to_string())
            .collect();
    }
    for (path, bytes) in files {
        if path.starts_with("host-collectors/system/") && path.ends_with("-packages.json") {
            let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
                continue;
            };
            for p in v["packages"].as_array().into_iter().flatten() {
                if s(p, "exitCode") == "0"
                    && let Some(ver) = package_version(s(p, "details"))
                {
                    h.packages.insert(s(p, "name").to_string(), ver);
                }
            }
        }
        if path.starts_with("host-collectors/dns/")
            && path.ends_with("/resolv.conf")
            && h.dns.nameservers.is_empty()
        {
            h.dns = resolv_conf(&String::from_utf8_lossy(bytes));
        }
    }
    if let Some(l) = json(files, "system/security_modules.json") {
        for k in ["selinux", "apparmor"] {
            if !s(&l, k).is_empty() {
                h.lsm.insert(k.to_string(), s(&l, k).to_string());
            }
        }
    }
    if let Some(b) = json(files, "system/boot.json") {
        h.booted_at = s(&b, "booted_at").to_string();
        h.os_changed_at = s(&b, "os_release_changed_at").to_string();
    }
    Some(h)
}

/// This machine's host facts, from berth-troubleshoot's host collectors.
pub async fn collect_here() -> Option<HostFacts> {
    host_facts(&berth_troubleshoot::collect::host::baseline_outputs().await)
}
