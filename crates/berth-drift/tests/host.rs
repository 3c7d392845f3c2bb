//! Host drift over recorded host collector outputs of different OS releases
//! (tests/data/hosts: Debian 12 recorded here, Ubuntu 20.04/22.04/24.04 and RHEL 8/9 from
//! their documented defaults): each host change class is named first.

use berth_drift::model::HostFacts;
use berth_drift::{Baseline, compare};
use std::collections::BTreeMap;
use std::path::Path;

fn recorded(os: &str) -> HostFacts {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hosts")
        .join(os);
    let mut files = BTreeMap::new();
    for e in walk(&root) {
        let rel = e
            .strip_prefix(&root)
            .expect("under root")
            .to_string_lossy()
            .replace('\\', "/");
        files.insert(rel, std::fs::read(&e).expect("readable"));
    }
    berth_drift::host::host_facts(&files).unwrap_or_else(|| panic!("{os}: no hostOS output"))
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn b(h: HostFacts) -> Baseline {
    Baseline::new(None, Some(h))
}

fn classes(old: HostFacts, new: HostFacts) -> Vec<String> {
    compare(&b(old), &b(new))
        .into_iter()
        .map(|c| c.class)
        .collect()
}

#[test]
fn every_recorded_release_parses() {
    let u20 = recorded("ubuntu-20.04");
    assert_eq!(
        (u20.os_id.as_str(), u20.os_version.as_str()),
        ("ubuntu", "20.04")
    );
    assert_eq!(u20.kernel, "5.4.0-182-generic");
    assert_eq!(u20.packages["containerd"], "1.7.12-0ubuntu2~20.04.1");
    assert!(
        !u20.packages.contains_key("docker-ce"),
        "not installed: {:?}",
        u20.packages
    );
    assert_eq!(u20.dns.nameservers, vec!["127.0.0.53"]);
    assert_eq!(u20.lsm["apparmor"], "enabled");
    // Snap loop devices come and go; only disks and partitions count.
    assert!(
        u20.disks.iter().all(|d| d.kind != "loop"),
        "{:?}",
        u20.disks
    );
    let r8 = recorded("rhel-8");
    assert_eq!(r8.packages["containerd.io"], "1.6.28-3.1.el8");
    assert_eq!(r8.lsm["selinux"], "enforcing");
    assert_eq!(r8.interfaces["eth0"], 9001);
    assert_eq!(r8.dns.search, vec!["ec2.internal"]);
    let r9 = recorded("rhel-9");
    assert_eq!(r9.kernel, "5.14.0-427.13.1.el9_4.x86_64");
    assert!(!r9.kernel_modules.contains(&"ip_tables".to_string()));
    let d12 = recorded("debian-12");
    assert_eq!(
        (d12.os_id.as_str(), d12.os_version.as_str()),
        ("debian", "12")
    );
    assert!(d12.packages.contains_key("iptables"), "{:?}", d12.packages);
    for os in ["ubuntu-22.04", "ubuntu-24.04", "rhel-9", "debian-12"] {
        assert!(classes(recorded(os), recorded(os)).is_empty(), "{os}");
    }
}

#[test]
fn os_upgrades_are_named_first_with_what_came_along() {
    let c = classes(recorded("ubuntu-20.04"), recorded("ubuntu-22.04"));
    assert_eq!(c[..2], ["os-changed", "kernel-changed"], "{c:?}");
    assert!(c.contains(&"package-changed".to_string()), "{c:?}");
    // 24.04's image names the interface enp1s0 and no longer loads ip_tables.
    let c = classes(recorded("ubuntu-22.04"), recorded("ubuntu-24.04"));
    assert_eq!(
        c[..3],
        ["os-changed", "interface-renamed", "kernel-changed"],
        "{c:?}"
    );
    assert!(c.contains(&"kernel-module-missing".to_string()), "{c:?}");
    assert!(c.contains(&"disk-layout-changed".to_string()), "{c:?}");
    let c = classes(recorded("rhel-8"), recorded("rhel-9"));
    assert_eq!(c[..2], ["os-changed", "kernel-changed"], "{c:?}");
    let changes = compare(&b(recorded("rhel-8")), &b(recorded("rhel-9")));
    assert_eq!(changes[0].before, "rhel 8.9");
    assert_eq!(changes[0].after, "rhel 9.4");
    let c = classes(recorded("debian-12"), recorded("ubuntu-24.04"));
    assert_eq!(c[0], "os-changed", "{c:?}");
}

type Mutation = fn(&mut HostFacts);

#[test]
fn each_host_change_class_is_named_first() {
    let cases: &[(&str, &str, Mutation)] = &[
        ("ubuntu-22.04", "kernel-changed", |h| {
            h.kernel = "5.15.0-119-generic".into();
            h.booted_at = "2026-12-05T03:00:00Z".into();
        }),
        ("ubuntu-22.04", "interface-renamed", |h| {
            h.interfaces = [("eth0".to_string(), 1500)].into();
        }),
        ("rhel-9", "mtu-changed", |h| {
            h.interfaces.insert("eth0".into(), 1500);
        }),
        ("rhel-9", "lsm-changed", |h| {
            h.lsm.insert("selinux".into(), "permissive".into());
        }),
        ("ubuntu-20.04", "dns-changed", |h| {
            h.dns.nameservers = vec!["10.0.0.2".into()];
        }),
        ("rhel-8", "kernel-module-missing", |h| {
            h.kernel_modules.retain(|m| m != "br_netfilter");
        }),
        ("ubuntu-24.04", "time-sync-lost", |h| {
            h.time.ntp_synchronized = false;
        }),
        ("rhel-8", "package-changed", |h| {
            h.packages
                .insert("containerd.io".into(), "1.7.19-3.1.el8".into());
        }),
        ("debian-12", "disk-layout-changed", |h| {
            h.disks.push(berth_drift::model::DiskFacts {
                name: "vdb".into(),
                kind: "disk".into(),
                fstype: "xfs".into(),
                mountpoint: "/var/lib/containerd".into(),
                size: 1 << 34,
            });
        }),
    ];
    for (os, class, mutate) in cases {
        let old = recorded(os);
        let mut new = old.clone();
        mutate(&mut new);
        let changes = compare(&b(old), &b(new));
        assert_eq!(
            changes.first().map(|c| c.class.as_str()),
            Some(*class),
            "{os}: {changes:#?}"
        );
    }
}

#[test]
fn a_kernel_change_is_first_seen_at_boot() {
    let old = b(recorded("ubuntu-22.04"));
    let mut h = recorded("ubuntu-22.04");
    h.kernel = "5.15.0-119-generic".into();
    h.booted_at = "2099-01-01T00:00:00Z".into();
    let c = compare(&old, &b(h));
    assert_eq!(c[0].first_seen.as_deref(), Some("2099-01-01T00:00:00Z"));
}

#[test]
fn missing_collectors_are_not_drift() {
    // A bundle whose spec ran no DNS, package or module collectors says nothing about them.
    let old = recorded("rhel-9");
    let mut new = old.clone();
    new.dns = Default::default();
    new.packages.clear();
    new.kernel_modules.clear();
    new.lsm.clear();
    new.interfaces.clear();
    new.disks.clear();
    assert!(classes(old, new).is_empty());
}

#[tokio::test]
async fn this_machine_is_collected() {
    let h = berth_drift::host::collect_here()
        .await
        .expect("hostOS runs on Linux");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("linux");
    assert_eq!(h.kernel, kernel.trim());
    assert!(!h.os_id.is_empty());
    assert!(!h.booted_at.is_empty());
}
