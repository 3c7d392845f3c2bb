//! Compare two baselines: every change, classed and scored by how likely it breaks an app.
//! Classes and scores: docs/formats/baseline.md ("Drift").

use crate::model::{Baseline, ClassFacts, ClusterFacts, HostFacts, NodeFacts};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One change between a baseline and now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The change class (`kernel-changed`, `default-storageclass-changed`, …).
    pub class: String,
    /// 0–100: how likely this change breaks an app.
    pub score: u8,
    /// What changed (`node/n1`, `storageclass/fast`, `host interface eth0`).
    pub subject: String,
    /// The baseline's value ("" when it did not exist).
    pub before: String,
    /// The value now ("" when it is gone).
    pub after: String,
    /// One line for a person.
    pub message: String,
    /// When the change was first seen, where the cluster or host knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
}

impl Change {
    /// High, Medium or Low.
    pub fn band(&self) -> &'static str {
        match self.score {
            70.. => "High",
            40..=69 => "Medium",
            _ => "Low",
        }
    }
}

/// The score of a change class (unknown classes score 10).
pub fn score(class: &str) -> u8 {
    match class {
        "api-version-removed" => 100,
        "crd-version-removed" => 95,
        "node-lost" => 90,
        "node-not-ready" => 85,
        // An OS upgrade brings a kernel upgrade: the OS is the story, so it leads.
        "os-changed" => 82,
        "kernel-changed" | "interface-renamed" => 80,
        "default-storageclass-changed" => 78,
        "pod-security-tightened" => 76,
        "kubernetes-minor-changed" => 75,
        "storageclass-removed" => 72,
        "webhook-added" | "distribution-changed" => 70,
        "runtime-changed" | "mtu-changed" => 65,
        "ingressclass-removed" => 62,
        "webhook-changed" | "lsm-changed" | "image-digest-changed" => 60,
        "kernel-module-missing" | "dns-changed" | "default-ingressclass-changed" => 55,
        "taint-added" | "time-sync-lost" => 50,
        "package-changed" => 45,
        "crd-changed" | "allocatable-decreased" | "disk-layout-changed" => 40,
        "kubernetes-patch-changed" | "webhook-removed" | "node-label-changed" => 30,
        "storageclass-added" | "ingressclass-added" | "taint-removed" => 15,
        "node-added" | "pod-security-loosened" | "kernel-module-added" | "time-changed" => 10,
        "api-version-added" => 5,
        _ => 10,
    }
}

struct Out {
    changes: Vec<Change>,
    /// When the old baseline was taken: a time before it cannot be when a change was first seen.
    since: String,
}

impl Out {
    fn push(&mut self, class: &str, subject: String, before: String, after: String, why: &str) {
        self.push_at(class, subject, before, after, why, "");
    }

    fn push_at(
        &mut self,
        class: &str,
        subject: String,
        before: String,
        after: String,
        why: &str,
        seen: &str,
    ) {
        let what = match (before.is_empty(), after.is_empty()) {
            (true, _) => format!("{subject}: {after} is new"),
            (_, true) => format!("{subject}: {before} is gone"),
            _ => format!("{subject}: {before} → {after}"),
        };
        let message = if why.is_empty() {
            what
        } else {
            format!("{what} ({why})")
        };
        let seen = if seen >= self.since.as_str() {
            seen
        } else {
            ""
        };
        self.changes.push(Change {
            class: class.to_string(),
            score: score(class),
            subject,
            before,
            after,
            message,
            first_seen: (!seen.is_empty()).then(|| seen.to_string()),
        });
    }
}

/// Every change from `old` to `new`, most likely to break first.
pub fn compare(old: &Baseline, new: &Baseline) -> Vec<Change> {
    let mut out = Out {
        changes: Vec::new(),
        since: old.captured_at.clone(),
    };
    if let (Some(a), Some(b)) = (&old.cluster, &new.cluster) {
        cluster(a, b, &mut out);
        // A baseline cut to its node bound does not know the nodes past it.
        if old.truncated.iter().any(|t| t == "cluster.nodes") {
            out.changes.retain(|c| c.class != "node-added");
        }
    }
    if let (Some(a), Some(b)) = (&old.host, &new.host) {
        host(a, b, &mut out);
    }
    let mut v = out.changes;
    v.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| a.class.cmp(&b.class))
            .then_with(|| a.subject.cmp(&b.subject))
    });
    v
}

fn minor(v: &str) -> String {
    let mut it = v.trim_start_matches('v').split(['.', '-', '+']);
    format!("{}.{}", it.next().unwrap_or(""), it.next().unwrap_or(""))
}

fn cluster(a: &ClusterFacts, b: &ClusterFacts, out: &mut Out) {
    if a.version != b.version && !a.version.is_empty() && !b.version.is_empty() {
        let class = if minor(&a.version) != minor(&b.version) {
            "kubernetes-minor-changed"
        } else {
            "kubernetes-patch-changed"
        };
        out.push(
            class,
            "Kubernetes".into(),
            a.version.clone(),
            b.version.clone(),
            "served APIs and defaults follow the minor version",
        );
    }
    if a.distribution != b.distribution && !a.distribution.is_empty() {
        out.push(
            "distribution-changed",
            "distribution".into(),
            a.distribution.clone(),
            b.distribution.clone(),
            "",
        );
    }
    nodes(&a.nodes, &b.nodes, out);
    classes(&a.storage_classes, &b.storage_classes, "storageclass", out);
    classes(&a.ingress_classes, &b.ingress_classes, "ingressclass", out);
    for (kind, va) in &a.apis {
        let vb = b.apis.get(kind).cloned().unwrap_or_default();
        for v in va.iter().filter(|v| !vb.contains(v)) {
            out.push(
                "api-version-removed",
                format!("API {kind}"),
                v.clone(),
                String::new(),
                "the server no longer serves this version of a kind the app uses",
            );
        }
        for v in vb.iter().filter(|v| !va.contains(v)) {
            out.push(
                "api-version-added",
                format!("API {kind}"),
                String::new(),
                v.clone(),
                "",
            );
        }
    }
    for ca in &a.crds {
        let Some(cb) = b.crds.iter().find(|c| c.name == ca.name) else {
            out.push(
                "crd-version-removed",
                format!("crd/{}", ca.name),
                ca.versions.join(","),
                String::new(),
                "the CRD the app uses is gone",
            );
            continue;
        };
        for v in ca.versions.iter().filter(|v| !cb.versions.contains(v)) {
            out.push_at(
                "crd-version-removed",
                format!("crd/{}", ca.name),
                v.clone(),
                String::new(),
                "no longer served",
                &cb.changed_at,
            );
        }
        if ca.storage != cb.storage {
            out.push_at(
                "crd-changed",
                format!("crd/{} storage version", ca.name),
                ca.storage.clone(),
                cb.storage.clone(),
                "",
                &cb.changed_at,
            );
        }
    }
    let key = |w: &crate::model::WebhookFacts| format!("{}webhook/{}/{}", w.kind, w.config, w.name);
    for wb in &b.webhooks {
        match a.webhooks.iter().find(|w| key(w) == key(wb)) {
            None => out.push_at(
                "webhook-added",
                key(wb),
                String::new(),
                format!("failurePolicy {} → {}", wb.failure_policy, wb.target),
                "it sees the app's requests and can refuse or change them",
                &wb.changed_at,
            ),
            Some(wa) if (&wa.failure_policy, &wa.target) != (&wb.failure_policy, &wb.target) => out
                .push_at(
                    "webhook-changed",
                    key(wb),
                    format!("failurePolicy {} → {}", wa.failure_policy, wa.target),
                    format!("failurePolicy {} → {}", wb.failure_policy, wb.target),
                    "",
                    &wb.changed_at,
                ),
            Some(_) => {}
        }
    }
    for wa in a
        .webhooks
        .iter()
        .filter(|wa| !b.webhooks.iter().any(|w| key(w) == key(wa)))
    {
        out.push(
            "webhook-removed",
            key(wa),
            format!("failurePolicy {}", wa.failure_policy),
            String::new(),
            "",
        );
    }
    pod_security(a, b, out);
    for (image, da) in &a.images {
        if let Some(db) = b.images.get(image)
            && db != da
        {
            out.push(
                "image-digest-changed",
                format!("image {image}"),
                da.clone(),
                db.clone(),
                "the same tag now names other content",
            );
        }
    }
}

fn level(l: &str) -> u8 {
    match l {
        "restricted" => 2,
        "baseline" => 1,
        _ => 0,
    }
}

fn pod_security(a: &ClusterFacts, b: &ClusterFacts, out: &mut Out) {
    let ns = format!("namespace/{}", b.namespace.name);
    for mode in ["enforce", "warn", "audit"] {
        let la = a
            .namespace
            .pod_security
            .get(mode)
            .map_or("", String::as_str);
        let lb = b
            .namespace
            .pod_security
            .get(mode)
            .map_or("", String::as_str);
        if la == lb {
            continue;
        }
        let show = |l: &str| {
            if l.is_empty() {
                "privileged (unset)".to_string()
            } else {
                l.to_string()
            }
        };
        // Only `enforce` refuses pods; a tighter warn/audit level only adds warnings.
        let tighter = level(lb) > level(la);
        let (class, why) = match (tighter, mode) {
            (true, "enforce") => (
                "pod-security-tightened",
                "pods that do not meet the stricter level are refused",
            ),
            (true, _) => ("pod-security-warn-tightened", "warnings only"),
            (false, _) => ("pod-security-loosened", ""),
        };
        out.push_at(
            class,
            format!("{ns} pod-security {mode}"),
            show(la),
            show(lb),
            why,
            &b.namespace.changed_at,
        );
    }
}

fn nodes(a: &[NodeFacts], b: &[NodeFacts], out: &mut Out) {
    for na in a {
        let subject = format!("node/{}", na.name);
        let Some(nb) = b.iter().find(|n| n.name == na.name) else {
            out.push(
                "node-lost",
                subject,
                format!("{} ({})", na.name, na.os_image),
                String::new(),
                "capacity and any pods pinned to it are gone",
            );
            continue;
        };
        let seen = nb.changed_at.as_str();
        if na.ready && !nb.ready {
            out.push_at(
                "node-not-ready",
                subject.clone(),
                "Ready".into(),
                "NotReady".into(),
                "",
                seen,
            );
        }
        for (class, field, va, vb, why) in [
            (
                "kernel-changed",
                "kernel",
                &na.kernel,
                &nb.kernel,
                "modules, cgroups, eBPF and drivers follow the kernel",
            ),
            ("os-changed", "OS image", &na.os_image, &nb.os_image, ""),
            (
                "runtime-changed",
                "container runtime",
                &na.runtime,
                &nb.runtime,
                "",
            ),
        ] {
            if va != vb {
                out.push_at(
                    class,
                    format!("{subject} {field}"),
                    va.clone(),
                    vb.clone(),
                    why,
                    seen,
                );
            }
        }
        for t in nb.taints.iter().filter(|t| !na.taints.contains(t)) {
            out.push_at(
                "taint-added",
                format!("{subject} taint"),
                String::new(),
                t.clone(),
                "pods without a toleration no longer schedule there",
                seen,
            );
        }
        for t in na.taints.iter().filter(|t| !nb.taints.contains(t)) {
            out.push(
                "taint-removed",
                format!("{subject} taint"),
                t.clone(),
                String::new(),
                "",
            );
        }
        let keys: BTreeSet<&String> = na.labels.keys().chain(nb.labels.keys()).collect();
        for k in keys {
            let (la, lb) = (na.labels.get(k), nb.labels.get(k));
            if la != lb {
                out.push(
                    "node-label-changed",
                    format!("{subject} label {k}"),
                    la.cloned().unwrap_or_default(),
                    lb.cloned().unwrap_or_default(),
                    "",
                );
            }
        }
        for (k, va) in &na.allocatable {
            let vb = nb.allocatable.get(k).cloned().unwrap_or_default();
            if quantity(&vb) < quantity(va) {
                out.push(
                    "allocatable-decreased",
                    format!("{subject} allocatable {k}"),
                    va.clone(),
                    vb,
                    "",
                );
            }
        }
    }
    for nb in b.iter().filter(|nb| !a.iter().any(|n| n.name == nb.name)) {
        out.push(
            "node-added",
            format!("node/{}", nb.name),
            String::new(),
            format!("{} ({}, {})", nb.name, nb.os_image, nb.kernel),
            "",
        );
    }
}

/// A Kubernetes quantity as a number, for comparisons only (suffixes Ki…Ei, k…E, m).
fn quantity(q: &str) -> f64 {
    let units: [(&str, f64); 13] = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
        ("m", 1e-3),
    ];
    for (suffix, mul) in units {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<f64>().unwrap_or(0.0) * mul;
        }
    }
    q.parse().unwrap_or(0.0)
}

fn classes(a: &[ClassFacts], b: &[ClassFacts], kind: &str, out: &mut Out) {
    let default_of = |cs: &[ClassFacts]| {
        let d: Vec<&str> = cs
            .iter()
            .filter(|c| c.default)
            .map(|c| c.name.as_str())
            .collect();
        d.join(",")
    };
    let (da, db) = (default_of(a), default_of(b));
    if da != db {
        let seen = b
            .iter()
            .filter(|c| c.default || da.split(',').any(|n| n == c.name))
            .map(|c| c.changed_at.as_str())
            .max()
            .unwrap_or("");
        let why = if kind == "storageclass" {
            "PersistentVolumeClaims without a class now bind to another class, or stay Pending"
        } else {
            "Ingresses without a class are now served by another controller, or by none"
        };
        let none = |s: String| if s.is_empty() { "(none)".into() } else { s };
        out.push_at(
            &format!("default-{kind}-changed"),
            format!("default {kind}"),
            none(da),
            none(db),
            why,
            seen,
        );
    }
    for ca in a.iter().filter(|c| !b.iter().any(|x| x.name == c.name)) {
        out.push(
            &format!("{kind}-removed"),
            format!("{kind}/{}", ca.name),
            ca.provisioner.clone(),
            String::new(),
            "objects naming it no longer bind or get an address",
        );
    }
    for cb in b.iter().filter(|c| !a.iter().any(|x| x.name == c.name)) {
        out.push_at(
            &format!("{kind}-added"),
            format!("{kind}/{}", cb.name),
            String::new(),
            cb.provisioner.clone(),
            "",
            &cb.changed_at,
        );
    }
}

fn host(a: &HostFacts, b: &HostFacts, out: &mut Out) {
    let os = |h: &HostFacts| {
        if h.os_name.is_empty() {
            format!("{} {}", h.os_id, h.os_version)
        } else {
            h.os_name.clone()
        }
    };
    if (a.os_id.as_str(), a.os_version.as_str()) != (b.os_id.as_str(), b.os_version.as_str()) {
        out.push_at(
            "os-changed",
            "host OS".into(),
            os(a),
            os(b),
            "system libraries, defaults and packaged tools changed",
            &b.os_changed_at,
        );
    }
    if a.kernel != b.kernel {
        out.push_at(
            "kernel-changed",
            "host kernel".into(),
            a.kernel.clone(),
            b.kernel.clone(),
            "modules, cgroups, eBPF and drivers follow the kernel",
            &b.booted_at,
        );
    }
    // A section empty on either side was not collected there: no drift can be told from it.
    let both = |x: bool, y: bool| !x && !y;
    if both(a.interfaces.is_empty(), b.interfaces.is_empty()) {
        interfaces(a, b, out);
    }
    if both(a.dns.nameservers.is_empty(), b.dns.nameservers.is_empty()) && a.dns != b.dns {
        let show = |d: &crate::model::DnsFacts| {
            format!(
                "nameservers {} search {}",
                d.nameservers.join(","),
                d.search.join(",")
            )
        };
        out.push(
            "dns-changed",
            "host DNS".into(),
            show(&a.dns),
            show(&b.dns),
            "pods resolve through the node's resolvers",
        );
    }
    if a.time.ntp_synchronized && !b.time.ntp_synchronized {
        out.push(
            "time-sync-lost",
            "host clock".into(),
            "synchronized".into(),
            "not synchronized".into(),
            "certificates and tokens fail when clocks drift",
        );
    }
    if a.time.timezone != b.time.timezone
        && both(a.time.timezone.is_empty(), b.time.timezone.is_empty())
    {
        out.push(
            "time-changed",
            "host timezone".into(),
            a.time.timezone.clone(),
            b.time.timezone.clone(),
            "",
        );
    }
    if both(a.disks.is_empty(), b.disks.is_empty()) {
        let disk =
            |d: &crate::model::DiskFacts| format!("{} {} {}", d.name, d.fstype, d.mountpoint);
        let da: BTreeSet<String> = a.disks.iter().map(disk).collect();
        let db: BTreeSet<String> = b.disks.iter().map(disk).collect();
        if da != db {
            let only = |x: &BTreeSet<String>, y: &BTreeSet<String>| {
                x.difference(y).cloned().collect::<Vec<_>>().join("; ")
            };
            out.push(
                "disk-layout-changed",
                "host disks".into(),
                only(&da, &db),
                only(&db, &da),
                "",
            );
        }
    }
    if both(a.lsm.is_empty(), b.lsm.is_empty()) {
        maps(&a.lsm, &b.lsm, "lsm-changed", "host security module", out);
    }
    if both(a.packages.is_empty(), b.packages.is_empty()) {
        maps(
            &a.packages,
            &b.packages,
            "package-changed",
            "host package",
            out,
        );
    }
    if !b.kernel_modules.is_empty() {
        for m in a
            .kernel_modules
            .iter()
            .filter(|m| !b.kernel_modules.contains(m))
        {
            out.push(
                "kernel-module-missing",
                format!("host kernel module {m}"),
                "loaded".into(),
                String::new(),
                "container networking and storage need it",
            );
        }
    }
}

fn interfaces(a: &HostFacts, b: &HostFacts, out: &mut Out) {
    let gone: Vec<&String> = a
        .interfaces
        .keys()
        .filter(|k| !b.interfaces.contains_key(*k))
        .collect();
    let new: Vec<&String> = b
        .interfaces
        .keys()
        .filter(|k| !a.interfaces.contains_key(*k))
        .collect();
    if !gone.is_empty() && !new.is_empty() {
        out.push(
            "interface-renamed",
            "host interfaces".into(),
            join(&gone),
            join(&new),
            "configuration naming the old interface (CNI, firewall, VIPs) no longer applies",
        );
    } else {
        for g in gone {
            out.push(
                "interface-renamed",
                format!("host interface {g}"),
                g.clone(),
                String::new(),
                "it is gone",
            );
        }
    }
    for (name, ma) in &a.interfaces {
        if let Some(mb) = b.interfaces.get(name)
            && mb != ma
        {
            out.push(
                "mtu-changed",
                format!("host interface {name} MTU"),
                ma.to_string(),
                mb.to_string(),
                "pod network packets above the new MTU are dropped",
            );
        }
    }
}

fn maps(
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
    class: &str,
    what: &str,
    out: &mut Out,
) {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (va, vb) = (a.get(k), b.get(k));
        if va != vb {
            out.push(
                class,
                format!("{what} {k}"),
                va.cloned().unwrap_or_default(),
                vb.cloned().unwrap_or_default(),
                "",
            );
        }
    }
}

fn join(v: &[&String]) -> String {
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}
