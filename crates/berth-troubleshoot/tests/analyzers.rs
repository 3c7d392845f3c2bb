//! Every analyzer against pass / warn / fail fixtures in troubleshoot's file formats.

use berth_troubleshoot::analyze::{AnalyzeResult, MemBundle, Outcome, Scope, analyze_entry};
use serde_json::{Value, json};

fn spec(yaml: &str) -> Value {
    serde_saphyr::from_str(yaml).expect("test spec is valid YAML")
}

fn run(scope: Scope, files: &[(&str, Value)], analyzer: &str) -> Vec<AnalyzeResult> {
    let mut b = MemBundle::new();
    for (p, v) in files {
        let data = match v {
            Value::String(s) => s.clone().into_bytes(),
            other => serde_json::to_vec(other).expect("json"),
        };
        b.insert(*p, data);
    }
    analyze_entry(&spec(analyzer), scope, &b)
}

fn one(scope: Scope, files: &[(&str, Value)], analyzer: &str) -> (Outcome, String) {
    let rows = run(scope, files, analyzer);
    assert_eq!(rows.len(), 1, "expected one row, got {rows:#?}");
    (rows[0].outcome, rows[0].message.clone())
}

fn host(files: &[(&str, Value)], analyzer: &str) -> Outcome {
    one(Scope::Host, files, analyzer).0
}

fn cluster(files: &[(&str, Value)], analyzer: &str) -> Outcome {
    one(Scope::Cluster, files, analyzer).0
}

const CPU: &str = r#"
cpu:
  outcomes:
    - fail: {when: "count < 2", message: need 2}
    - warn: {when: "physical < 4", message: want 4}
    - pass: {when: "supports x86-64-v2", message: ok}
"#;

#[test]
fn cpu() {
    let f = |l: u64, p: u64, flags: &[&str]| {
        vec![(
            "host-collectors/system/cpu.json",
            json!({"logicalCount": l, "physicalCount": p, "flags": flags, "machineArch": "x86_64"}),
        )]
    };
    let v2 = [
        "cmov", "cx8", "fpu", "fxsr", "mmx", "syscall", "sse", "sse2", "cx16", "lahf_lm", "popcnt",
        "sse4_1", "sse4_2", "ssse3",
    ];
    assert_eq!(host(&f(1, 1, &v2), CPU), Outcome::Fail);
    assert_eq!(host(&f(4, 2, &v2), CPU), Outcome::Warn);
    assert_eq!(host(&f(8, 4, &v2), CPU), Outcome::Pass);
    // Without the v2 flags nothing matches: troubleshoot gives no row.
    assert!(run(Scope::Host, &f(8, 4, &["sse"]), CPU).is_empty());
    assert_eq!(
        host(
            &f(8, 4, &[]),
            "cpu: {outcomes: [{fail: {when: 'machineArch == arm64'}}, {pass: {when: 'hasFlags sse,avx'}}, {warn: {}}]}"
        ),
        Outcome::Warn
    );
}

#[test]
fn memory_and_disk() {
    let mem = |gi: u64| {
        vec![(
            "host-collectors/system/memory.json",
            json!({"total": gi * 1024 * 1024 * 1024}),
        )]
    };
    let a = "memory: {outcomes: [{fail: {when: '< 4Gi'}}, {warn: {when: '< 8G'}}, {pass: {}}]}";
    assert_eq!(host(&mem(2), a), Outcome::Fail);
    assert_eq!(host(&mem(7), a), Outcome::Warn);
    assert_eq!(host(&mem(16), a), Outcome::Pass);
    let disk = |total: u64, used: u64| {
        vec![(
            "host-collectors/diskUsage/data.json",
            json!({"total_bytes": total, "used_bytes": used}),
        )]
    };
    let a = r#"
diskUsage:
  collectorName: data
  outcomes:
    - fail: {when: "available < 10Gi", message: low}
    - warn: {when: "used/total > 70%", message: filling}
    - pass: {message: ok}
"#;
    let g = 1024u64 * 1024 * 1024;
    assert_eq!(host(&disk(100 * g, 95 * g), a), Outcome::Fail);
    assert_eq!(host(&disk(100 * g, 80 * g), a), Outcome::Warn);
    assert_eq!(host(&disk(100 * g, 10 * g), a), Outcome::Pass);
    let rows = run(Scope::Host, &disk(100 * g, 10 * g), a);
    assert_eq!(rows[0].check, "Disk Usage data");
}

#[test]
fn host_os_versions() {
    let os = |p: &str, v: &str, k: &str| {
        vec![(
            "host-collectors/system/hostos_info.json",
            json!({"name": "h", "kernelVersion": k, "platform": p, "platformVersion": v, "platformFamily": "debian"}),
        )]
    };
    let a = r#"
hostOS:
  outcomes:
    - fail: {when: "centos < 8", message: old centos}
    - warn: {when: "ubuntu >= 18.04 && < 20.04", message: old ubuntu}
    - pass: {when: "ubuntu-22.04-kernel >= 5.15", message: ok}
    - pass: {when: "kernelVersion >= 6.0", message: new kernel}
"#;
    assert_eq!(host(&os("centos", "7.9", "3.10.0"), a), Outcome::Fail);
    assert_eq!(
        host(&os("ubuntu", "18.04", "4.15.0-213-generic"), a),
        Outcome::Warn
    );
    assert_eq!(
        host(&os("ubuntu", "22.04", "5.15.0-91-generic"), a),
        Outcome::Pass
    );
    assert_eq!(
        one(Scope::Host, &os("debian", "12", "6.1.0-13-amd64"), a).1,
        "new kernel"
    );
}

#[test]
fn kernel_modules_multi_rows() {
    let f = vec![(
        "host-collectors/system/kernel_modules.json",
        json!({"overlay": {"status": "loaded"}, "br_netfilter": {"status": "loadable"}}),
    )];
    let a = r#"
kernelModules:
  outcomes:
    - fail: {when: "nf_conntrack != loaded,loadable", message: conntrack missing}
    - warn: {when: "br_netfilter = loadable", message: not loaded yet}
    - pass: {when: "overlay = loaded", message: overlay ok}
    - pass: {message: all good}
"#;
    let rows = run(Scope::Host, &f, a);
    let kinds: Vec<Outcome> = rows.iter().map(|r| r.outcome).collect();
    // Every conditional outcome is evaluated; the default pass is not added after a fail.
    assert_eq!(kinds, vec![Outcome::Fail, Outcome::Warn, Outcome::Pass]);
}

#[test]
fn status_analyzers() {
    for (key, dir, name) in [
        ("tcpPortStatus", "tcpPortStatus", "api"),
        ("udpPortStatus", "udpPortStatus", "api"),
        ("tcpConnect", "connect", "api"),
        ("tcpLoadBalancer", "tcpLoadBalancer", "api"),
        ("httpLoadBalancer", "httpLoadBalancer", "api"),
        ("subnetAvailable", "subnetAvailable", "api"),
    ] {
        let a = format!(
            "{key}:\n  collectorName: {name}\n  outcomes:\n    - fail: {{when: address-in-use, message: taken}}\n    - warn: {{when: connection-timeout, message: slow}}\n    - pass: {{when: connected, message: ok}}\n"
        );
        let f = |s: &str| {
            vec![(
                format!("host-collectors/{dir}/{name}.json"),
                json!({"status": s, "message": ""}),
            )]
        };
        let as_ref = |v: Vec<(String, Value)>| -> Vec<(&'static str, Value)> {
            v.into_iter()
                .map(|(p, v)| (&*Box::leak(p.into_boxed_str()), v))
                .collect()
        };
        assert_eq!(
            host(&as_ref(f("address-in-use")), &a),
            Outcome::Fail,
            "{key}"
        );
        assert_eq!(
            host(&as_ref(f("connection-timeout")), &a),
            Outcome::Warn,
            "{key}"
        );
        assert_eq!(host(&as_ref(f("connected")), &a), Outcome::Pass, "{key}");
    }
}

#[test]
fn time_and_interfaces() {
    let t = |tz: &str, sync: bool| {
        vec![(
            "host-collectors/system/time.json",
            json!({"timezone": tz, "ntp_synchronized": sync, "ntp_active": true}),
        )]
    };
    let a = r#"
time:
  outcomes:
    - fail: {when: "ntp == unsynchronized+active", message: not synced}
    - warn: {when: "timezone != UTC", message: not utc}
    - pass: {message: ok}
"#;
    assert_eq!(host(&t("UTC", false), a), Outcome::Fail);
    assert_eq!(host(&t("EUROPE/BERLIN", true), a), Outcome::Warn);
    assert_eq!(host(&t("UTC", true), a), Outcome::Pass);
    let i = |n: usize| {
        let ifs: Vec<Value> = (0..n).map(|k| json!({"Index": k, "MTU": 1500, "Name": format!("eth{k}"), "HardwareAddr": "", "Flags": 19})).collect();
        vec![(
            "host-collectors/system/ipv4Interfaces.json",
            Value::Array(ifs),
        )]
    };
    let a = "ipv4Interfaces: {outcomes: [{fail: {when: 'count == 0'}}, {warn: {when: 'count > 2'}}, {pass: {}}]}";
    assert_eq!(host(&i(0), a), Outcome::Fail);
    assert_eq!(host(&i(3), a), Outcome::Warn);
    assert_eq!(host(&i(1), a), Outcome::Pass);
}

#[test]
fn http_host_and_cluster() {
    let ok = vec![(
        "host-collectors/http/api.json",
        json!({"response": {"status": 200, "body": "", "headers": {}}}),
    )];
    let err = vec![(
        "host-collectors/http/api.json",
        json!({"error": {"message": "refused"}}),
    )];
    let teapot = vec![(
        "host-collectors/http/api.json",
        json!({"response": {"status": 418}}),
    )];
    let a = r#"
http:
  collectorName: api
  outcomes:
    - fail: {when: error, message: unreachable}
    - pass: {when: "statusCode == 200 || statusCode == 204", message: ok}
    - warn: {message: odd status}
"#;
    assert_eq!(host(&err, a), Outcome::Fail);
    assert_eq!(host(&ok, a), Outcome::Pass);
    assert_eq!(host(&teapot, a), Outcome::Warn);
    assert_eq!(
        cluster(&[("api.json", json!({"response": {"status": 204}}))], a),
        Outcome::Pass
    );
}

#[test]
fn host_misc() {
    let svc = vec![(
        "host-collectors/system/systemctl_services.json",
        json!([{"Unit": "containerd.service", "Load": "loaded", "Active": "active", "Sub": "running"}, {"Unit": "ufw.service", "Load": "loaded", "Active": "active", "Sub": "exited"}]),
    )];
    let a = r#"
hostServices:
  outcomes:
    - fail: {when: "containerd != active", message: no containerd}
    - warn: {when: "ufw = active", message: firewall on}
    - pass: {message: ok}
"#;
    assert_eq!(host(&svc, a), Outcome::Warn);
    let sysctl = vec![(
        "host-collectors/system/sysctl.json",
        json!({"net.ipv4.ip_forward": "0", "vm.max_map_count": "65530"}),
    )];
    let a = r#"
sysctl:
  outcomes:
    - fail: {when: "net.ipv4.ip_forward = 0", message: forwarding off}
    - pass: {message: ok}
"#;
    assert_eq!(host(&sysctl, a), Outcome::Fail);
    let a = "sysctl: {outcomes: [{warn: {when: 'vm.max_map_count < 262144'}}, {pass: {}}]}";
    assert_eq!(host(&sysctl, a), Outcome::Warn);
    let cert = |w: &str| {
        vec![(
            "host-collectors/certificate/certificate.json",
            Value::String(w.into()),
        )]
    };
    let a = "certificate: {outcomes: [{fail: {when: key-pair-mismatch}}, {warn: {when: key-pair-encrypted}}, {pass: {when: key-pair-valid}}]}";
    assert_eq!(host(&cert("key-pair-mismatch"), a), Outcome::Fail);
    assert_eq!(host(&cert("key-pair-encrypted\n"), a), Outcome::Warn);
    assert_eq!(host(&cert("key-pair-valid"), a), Outcome::Pass);
    let a = "subnetContainsIP: {cidr: 10.0.0.0/8, ip: 10.1.2.3, outcomes: [{fail: {when: 'false'}}, {pass: {when: 'true'}}]}";
    assert_eq!(host(&[], a), Outcome::Pass);
    let a = "subnetContainsIP: {cidr: 10.0.0.0/8, ip: 192.168.1.1, outcomes: [{fail: {when: 'false'}}, {pass: {when: 'true'}}]}";
    assert_eq!(host(&[], a), Outcome::Fail);
    let fio = |p99_ms: f64| {
        vec![(
            "host-collectors/filesystemPerformance/fs.json",
            json!({"jobs": [{"jobname": "fsperf", "sync": {"lat_ns": {"min": 1000, "max": 5e7, "mean": 2e6, "percentile": {"99.000000": p99_ms * 1e6, "50.000000": 1e6}}}}]}),
        )]
    };
    let a = r#"
filesystemPerformance:
  collectorName: fs
  outcomes:
    - fail: {when: "p99 > 10ms", message: "p99 is {{ .P99 }}"}
    - warn: {when: "p99 > 5ms", message: slowish}
    - pass: {message: fast}
"#;
    let (o, m) = one(Scope::Host, &fio(20.0), a);
    assert_eq!((o, m.as_str()), (Outcome::Fail, "p99 is 20ms"));
    assert_eq!(host(&fio(7.0), a), Outcome::Warn);
    assert_eq!(host(&fio(1.0), a), Outcome::Pass);
    let pk = |installed: bool| {
        vec![(
            "host-collectors/system/packages-packages.json",
            json!({"os": "ubuntu", "osVersion": "22.04", "packages": [{"name": "nfs-common", "details": "Version: 1:2.6.1", "exitCode": if installed { "0" } else { "1" }}]}),
        )]
    };
    let a = r#"
systemPackages:
  outcomes:
    - fail: {when: "{{ not .IsInstalled }}", message: "{{ .Name }} missing"}
    - pass: {message: "{{ .Name }} {{ .Version }} installed"}
"#;
    assert_eq!(
        one(Scope::Host, &pk(false), a),
        (Outcome::Fail, "nfs-common missing".into())
    );
    assert_eq!(
        one(Scope::Host, &pk(true), a),
        (Outcome::Pass, "nfs-common 1:2.6.1 installed".into())
    );
    let reg = vec![(
        "host-collectors/registry-images/images.json",
        json!({"images": {"a:1": {"exists": true}, "b:1": {"exists": false}}}),
    )];
    assert_eq!(
        host(
            &reg,
            "registryImages: {outcomes: [{fail: {when: 'missing > 0'}}, {pass: {}}]}"
        ),
        Outcome::Fail
    );
    let kc = vec![(
        "host-collectors/system/kernel-configs.json",
        json!({"CONFIG_CGROUPS": "y", "CONFIG_OVERLAY_FS": "m"}),
    )];
    let a = "kernelConfigs: {selectedConfigs: [CONFIG_CGROUPS=y, CONFIG_BPF=y], outcomes: [{fail: {message: 'missing {{ .ConfigsNotFound }}'}}, {pass: {}}]}";
    assert_eq!(
        one(Scope::Host, &kc, a),
        (Outcome::Fail, "missing CONFIG_BPF".into())
    );
    let bd = vec![(
        "host-collectors/system/block_devices.json",
        json!([{"name": "sdb", "kernel_name": "sdb", "type": "disk", "size": 107374182400u64, "mountpoint": "", "filesystem_type": ""}, {"name": "sda", "kernel_name": "sda", "type": "disk", "size": 1, "mountpoint": "/"}]),
    )];
    assert_eq!(
        host(
            &bd,
            "blockDevices: {minimumAcceptableSize: 10Gi, outcomes: [{pass: {when: 'sd[a-z] == 1'}}, {fail: {}}]}"
        ),
        Outcome::Pass
    );
}

#[test]
fn host_files_per_node() {
    let files = vec![
        (
            "host-collectors/system/node_list.json",
            json!({"nodes": ["n1", "n2"]}),
        ),
        (
            "host-collectors/system/n1/memory.json",
            json!({"total": 2u64 << 30}),
        ),
        (
            "host-collectors/system/n2/memory.json",
            json!({"total": 32u64 << 30}),
        ),
    ];
    let rows = run(
        Scope::Host,
        &files,
        "memory: {outcomes: [{fail: {when: '< 4Gi'}}, {pass: {}}]}",
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].check.as_str(), rows[0].outcome),
        ("Amount of Memory - Node n1", Outcome::Fail)
    );
    assert_eq!(rows[1].outcome, Outcome::Pass);
}

#[test]
fn missing_and_broken_are_clear() {
    let (o, m) = one(
        Scope::Host,
        &[],
        "memory: {outcomes: [{fail: {when: '< 4Gi'}}]}",
    );
    assert_eq!(o, Outcome::Warn);
    assert!(
        m.contains("host-collectors/system/memory.json") && m.contains("`memory` collector"),
        "{m}"
    );
    let f = vec![("host-collectors/system/memory.json", json!({"total": 1}))];
    let (o, m) = one(
        Scope::Host,
        &f,
        "memory: {outcomes: [{fail: {when: '< 4Qi'}}]}",
    );
    assert_eq!(o, Outcome::Error);
    assert!(
        m.contains("outcomes[0].fail.when") && m.contains("4Qi"),
        "{m}"
    );
    let (o, m) = one(Scope::Cluster, &[], "velero: {}");
    assert_eq!(o, Outcome::Error);
    assert!(m.contains("not supported yet"));
    let (o, _) = one(Scope::Host, &[], "nope: {}");
    assert_eq!(o, Outcome::Error);
}

fn version(v: &str) -> Vec<(&'static str, Value)> {
    vec![(
        "cluster-info/cluster_version.json",
        json!({"info": {"gitVersion": v}, "string": v}),
    )]
}

#[test]
fn cluster_version() {
    let a = r#"
clusterVersion:
  outcomes:
    - fail: {when: "< 1.26.0", message: too old}
    - warn: {when: ">= 1.26.0 < 1.28.0", message: old}
    - pass: {when: ">= 1.28.0", message: "ok {{ .Version }}"}
"#;
    assert_eq!(cluster(&version("v1.25.3"), a), Outcome::Fail);
    assert_eq!(cluster(&version("v1.27.9-eks-abcdef"), a), Outcome::Warn);
    assert_eq!(
        one(Scope::Cluster, &version("v1.30.1+k3s1"), a),
        (Outcome::Pass, "ok 1.30.1+k3s1".into())
    );
    // Pre-releases sort below the release.
    assert_eq!(cluster(&version("v1.28.0-rc.1"), a), Outcome::Warn);
    // Bare `1.28` is a spec error.
    assert_eq!(
        cluster(
            &version("v1.30.0"),
            "clusterVersion: {outcomes: [{fail: {when: '< 1.28'}}]}"
        ),
        Outcome::Error
    );
}

fn node(name: &str, cpu: &str, mem: &str, labels: Value, extra: Value) -> Value {
    let mut n = json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {},
        "status": {
            "capacity": {"cpu": cpu, "memory": mem, "pods": "110", "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": cpu, "memory": mem, "pods": "110", "ephemeral-storage": "90Gi"},
            "nodeInfo": {"architecture": "amd64", "containerRuntimeVersion": "containerd://1.7.2", "kubeletVersion": "v1.30.0"},
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    });
    if let (Some(o), Some(e)) = (n.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    n
}

fn nodes(ns: Vec<Value>) -> (&'static str, Value) {
    (
        "cluster-resources/nodes.json",
        json!({"kind": "NodeList", "apiVersion": "v1", "items": ns}),
    )
}

#[test]
fn node_resources() {
    let a = r#"
nodeResources:
  checkName: memory
  outcomes:
    - fail: {when: "sum(memoryCapacity) < 16Gi", message: "only {{ .NodeCount }} nodes"}
    - warn: {when: "count() < 3", message: few nodes}
    - pass: {message: ok}
"#;
    let small = vec![nodes(vec![node("a", "2", "4Gi", json!({}), json!({}))])];
    assert_eq!(
        one(Scope::Cluster, &small, a),
        (Outcome::Fail, "only 1 nodes".into())
    );
    let two = vec![nodes(vec![
        node("a", "4", "16Gi", json!({}), json!({})),
        node("b", "4", "16Gi", json!({}), json!({})),
    ])];
    assert_eq!(cluster(&two, a), Outcome::Warn);
    let three = vec![nodes(
        (0..3)
            .map(|i| {
                node(
                    &format!("n{i}"),
                    "8",
                    "32Gi",
                    json!({"zone": format!("z{i}")}),
                    json!({}),
                )
            })
            .collect(),
    )];
    assert_eq!(cluster(&three, a), Outcome::Pass);
    let f = r#"
nodeResources:
  filters: {cpuCapacity: "8", selector: {matchLabel: {zone: z1}}}
  outcomes:
    - fail: {when: "count() != 1"}
    - pass: {when: "countDistinct(zone) == 1"}
"#;
    assert_eq!(cluster(&three, f), Outcome::Pass);
    assert_eq!(
        cluster(
            &three,
            "nodeResources: {outcomes: [{fail: {when: 'nodeCondition(Ready) == False'}}, {pass: {when: 'min(cpuAllocatable) >= 4'}}]}"
        ),
        Outcome::Pass
    );
    assert_eq!(
        cluster(&[], "nodeResources: {outcomes: [{pass: {}}]}"),
        Outcome::Warn
    );
}

#[test]
fn distribution_and_runtime() {
    let k3s = vec![nodes(vec![node(
        "a",
        "2",
        "4Gi",
        json!({"node.kubernetes.io/instance-type": "k3s"}),
        json!({"spec": {"providerID": "k3s://a"}}),
    )])];
    let a = r#"
distribution:
  outcomes:
    - fail: {when: "== docker-desktop", message: "no"}
    - warn: {when: "== k3s", message: lightweight}
    - pass: {when: "== eks", message: ok}
"#;
    assert_eq!(cluster(&k3s, a), Outcome::Warn);
    let eks = vec![nodes(vec![node(
        "a",
        "2",
        "4Gi",
        json!({"eks.amazonaws.com/nodegroup": "ng"}),
        json!({"spec": {"providerID": "aws:///eu-west-1a/i-1"}}),
    )])];
    assert_eq!(cluster(&eks, a), Outcome::Pass);
    let dd = vec![nodes(vec![node(
        "docker-desktop",
        "2",
        "4Gi",
        json!({}),
        json!({}),
    )])];
    assert_eq!(cluster(&dd, a), Outcome::Fail);
    let kind = vec![nodes(vec![node(
        "a",
        "2",
        "4Gi",
        json!({}),
        json!({"spec": {"providerID": "kind://docker/x/a"}}),
    )])];
    assert_eq!(
        one(Scope::Cluster, &kind, a).0,
        Outcome::Warn,
        "no match gives a warning"
    );
    let a = "containerRuntime: {outcomes: [{pass: {when: '== containerd'}}, {fail: {message: need containerd}}]}";
    assert_eq!(cluster(&eks, a), Outcome::Pass);
}

#[test]
fn classes_crds_secrets() {
    let sc = |default: bool| {
        vec![(
            "cluster-resources/storage-classes.json",
            json!({"items": [{"metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": if default {"true"} else {"false"}}}}]}),
        )]
    };
    let a = "storageClass: {outcomes: [{fail: {message: no default}}, {pass: {message: found}}]}";
    assert_eq!(
        one(Scope::Cluster, &sc(true), a),
        (Outcome::Pass, "found".into())
    );
    assert_eq!(
        one(Scope::Cluster, &sc(false), a),
        (Outcome::Fail, "no default".into())
    );
    assert_eq!(
        cluster(
            &sc(false),
            "storageClass: {storageClassName: standard, outcomes: [{fail: {}}, {pass: {}}]}"
        ),
        Outcome::Pass
    );
    assert_eq!(cluster(&sc(true), "defaultStorageClass: {}"), Outcome::Pass);
    assert_eq!(
        cluster(&sc(false), "defaultStorageClass: {}"),
        Outcome::Fail
    );
    let two = vec![(
        "cluster-resources/storage-classes.json",
        json!({"items": [
        {"metadata": {"name": "a", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}},
        {"metadata": {"name": "b", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}}]}),
    )];
    assert_eq!(cluster(&two, "defaultStorageClass: {}"), Outcome::Warn);
    let ic = vec![(
        "cluster-resources/ingress-classes.json",
        json!({"items": [{"metadata": {"name": "nginx"}}]}),
    )];
    assert_eq!(
        cluster(
            &ic,
            "ingressClass: {ingressClassName: nginx, outcomes: [{fail: {}}, {pass: {}}]}"
        ),
        Outcome::Pass
    );
    assert_eq!(
        cluster(
            &ic,
            "ingressClass: {ingressClassName: traefik, outcomes: [{fail: {}}, {pass: {}}]}"
        ),
        Outcome::Fail
    );
    let crds = vec![(
        "cluster-resources/custom-resource-definitions.json",
        json!({"items": [{"metadata": {"name": "certificates.cert-manager.io"}}]}),
    )];
    let a = "customResourceDefinition: {customResourceDefinitionName: NAME, outcomes: [{warn: {message: w}}, {fail: {message: f}}, {pass: {message: p}}]}";
    assert_eq!(
        cluster(&crds, &a.replace("NAME", "certificates.cert-manager.io")),
        Outcome::Pass
    );
    assert_eq!(
        one(Scope::Cluster, &crds, &a.replace("NAME", "x.y")),
        (Outcome::Fail, "f".into())
    );
    let sec = |exists: bool, key: bool| {
        vec![(
            "secrets/app/db/password.json",
            json!({"namespace": "app", "name": "db", "key": "password", "secretExists": exists, "keyExists": key}),
        )]
    };
    let a = "secret: {secretName: db, namespace: app, key: password, outcomes: [{fail: {message: missing}}, {pass: {message: present}}]}";
    assert_eq!(cluster(&sec(true, true), a), Outcome::Pass);
    assert_eq!(cluster(&sec(true, false), a), Outcome::Fail);
    let cm = vec![(
        "configmaps/app/cfg.json",
        json!({"namespace": "app", "name": "cfg", "configMapExists": true, "data": null}),
    )];
    assert_eq!(
        cluster(
            &cm,
            "configMap: {configMapName: cfg, namespace: app, outcomes: [{fail: {}}, {pass: {}}]}"
        ),
        Outcome::Pass
    );
    let ips = vec![(
        "cluster-resources/image-pull-secrets/app/regcred.json",
        json!({"registry.example.com": "robot"}),
    )];
    assert_eq!(
        cluster(
            &ips,
            "imagePullSecret: {registryName: registry.example.com, outcomes: [{fail: {}}, {pass: {}}]}"
        ),
        Outcome::Pass
    );
    assert_eq!(
        cluster(
            &ips,
            "imagePullSecret: {registryName: quay.io, outcomes: [{fail: {}}, {pass: {}}]}"
        ),
        Outcome::Fail
    );
}

fn deploy(name: &str, want: i64, ready: i64) -> Value {
    json!({"metadata": {"name": name, "namespace": "app"}, "spec": {"replicas": want}, "status": {"replicas": want, "readyReplicas": ready, "availableReplicas": ready}})
}

#[test]
fn workload_status() {
    let d = vec![(
        "cluster-resources/deployments/app.json",
        json!({"items": [deploy("api", 3, 0), deploy("web", 2, 2), deploy("worker", 3, 1)]}),
    )];
    let a = |n: &str| {
        format!(
            "deploymentStatus:\n  name: {n}\n  namespace: app\n  outcomes:\n    - fail: {{when: '< 1', message: down}}\n    - warn: {{when: '< 2', message: degraded}}\n    - pass: {{message: up}}\n"
        )
    };
    assert_eq!(cluster(&d, &a("api")), Outcome::Fail);
    assert_eq!(cluster(&d, &a("worker")), Outcome::Warn);
    assert_eq!(cluster(&d, &a("web")), Outcome::Pass);
    let (o, m) = one(Scope::Cluster, &d, &a("ghost"));
    assert_eq!(
        (o, m.as_str()),
        (Outcome::Fail, "The deployment \"ghost\" was not found")
    );
    assert_eq!(
        cluster(
            &d,
            "deploymentStatus: {name: ghost, namespace: app, outcomes: [{pass: {when: absent, message: not installed}}, {fail: {}}]}"
        ),
        Outcome::Pass
    );
    let rows = run(Scope::Cluster, &d, "deploymentStatus: {namespaces: [app]}");
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(rows[0].message, "The deployment app/api has 0/3 replicas");
    let s = vec![(
        "cluster-resources/statefulsets/app.json",
        json!({"items": [deploy("db", 1, 1)]}),
    )];
    assert_eq!(
        cluster(
            &s,
            "statefulsetStatus: {name: db, namespace: app, outcomes: [{fail: {when: '< 1'}}, {pass: {}}]}"
        ),
        Outcome::Pass
    );
    let job = |succeeded: i64, failed: i64| {
        vec![(
            "cluster-resources/jobs/app.json",
            json!({"items": [{"metadata": {"name": "migrate"}, "status": {"succeeded": succeeded, "failed": failed}}]}),
        )]
    };
    let a = "jobStatus: {name: migrate, namespace: app, outcomes: [{fail: {when: 'failed > 2'}}, {warn: {when: 'succeeded == 0'}}, {pass: {}}]}";
    assert_eq!(cluster(&job(0, 3), a), Outcome::Fail);
    assert_eq!(cluster(&job(0, 1), a), Outcome::Warn);
    assert_eq!(cluster(&job(1, 0), a), Outcome::Pass);
    let rs = vec![(
        "cluster-resources/replicasets/app.json",
        json!({"items": [{"metadata": {"name": "api-1", "labels": {"app": "api"}}, "spec": {"replicas": 2}, "status": {"readyReplicas": 1, "availableReplicas": 1}}]}),
    )];
    assert_eq!(
        cluster(
            &rs,
            "replicasetStatus: {namespace: app, selector: [app=api], outcomes: [{fail: {when: 'ready < 2'}}, {pass: {}}]}"
        ),
        Outcome::Fail
    );
}

fn pod(name: &str, phase: &str, waiting: Option<&str>, restarts: i64) -> Value {
    let state = match waiting {
        Some(r) => json!({"waiting": {"reason": r, "message": "back-off"}}),
        None => json!({"running": {}}),
    };
    json!({
        "metadata": {"name": name, "namespace": "app"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]},
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if waiting.is_none() {"True"} else {"False"}}],
            "containerStatuses": [{"name": "c", "ready": waiting.is_none(), "restartCount": restarts, "state": state,
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}
    })
}

#[test]
fn pods_and_containers() {
    let p = vec![(
        "cluster-resources/pods/app.json",
        json!({"items": [pod("ok", "Running", None, 0), pod("crash", "Running", Some("CrashLoopBackOff"), 7), pod("pull", "Pending", Some("ImagePullBackOff"), 0)]}),
    )];
    let a = r#"
clusterPodStatuses:
  namespaces: [app]
  outcomes:
    - fail: {when: "== CrashLoopBackOff"}
    - warn: {when: "== Pending", message: "{{ .Name }} pending"}
    - pass: {when: "== Healthy", message: fine}
"#;
    let rows = run(Scope::Cluster, &p, a);
    let got: Vec<(String, Outcome, String)> = rows
        .iter()
        .map(|r| (r.check.clone(), r.outcome, r.message.clone()))
        .collect();
    assert_eq!(got.len(), 3, "{got:#?}");
    assert_eq!(
        got[0],
        ("Pod app/ok status".into(), Outcome::Pass, "fine".into())
    );
    assert_eq!(got[1].1, Outcome::Fail);
    assert!(
        got[1].2.contains("status is CrashLoopBackOff"),
        "{}",
        got[1].2
    );
    assert_eq!(
        got[2],
        (
            "Pod app/pull status".into(),
            Outcome::Warn,
            "pull pending".into()
        )
    );
    assert!(rows[1].involved_object.is_some());
    let a = r#"
clusterContainerStatuses:
  namespaces: [app]
  restartCount: 5
  outcomes:
    - fail: {when: "== OOMKilled", message: "{{ .PodName }}/{{ .ContainerName }} was OOMKilled {{ .RestartCount }} times"}
    - pass: {message: no restarts}
"#;
    assert_eq!(
        one(Scope::Cluster, &p, a),
        (Outcome::Fail, "crash/c was OOMKilled 7 times".into())
    );
    let quiet = vec![(
        "cluster-resources/pods/app.json",
        json!({"items": [pod("ok", "Running", None, 0)]}),
    )];
    assert_eq!(cluster(&quiet, a), Outcome::Pass);
}

#[test]
fn events_text_and_compare() {
    let ev = vec![(
        "cluster-resources/events/app.json",
        json!({"items": [{"reason": "FailedScheduling", "type": "Warning", "message": "0/3 nodes are available: insufficient memory", "involvedObject": {"kind": "Pod", "name": "api-1"}}]}),
    )];
    let a = "event: {namespace: app, reason: failedscheduling, kind: Pod, regex: 'insufficient (cpu|memory)', outcomes: [{fail: {when: 'true', message: '{{ .InvolvedObject.Name }}: {{ .Message }}'}}, {pass: {when: 'false'}}]}";
    assert_eq!(
        one(Scope::Cluster, &ev, a),
        (
            Outcome::Fail,
            "api-1: 0/3 nodes are available: insufficient memory".into()
        )
    );
    assert_eq!(
        cluster(&ev, &a.replace("insufficient (cpu|memory)", "disk")),
        Outcome::Pass
    );
    let logs = vec![
        (
            "api/api-1/api.log",
            Value::String("start\njava.lang.OutOfMemoryError\n".into()),
        ),
        (
            "ping/result.txt",
            Value::String("Loss = 7\nrtt 3ms\n".into()),
        ),
    ];
    let a = "textAnalyze: {checkName: oom, fileName: api/*/api.log, regex: OutOfMemory, outcomes: [{fail: {when: 'true', message: oom}}, {pass: {when: 'false', message: fine}}]}";
    assert_eq!(one(Scope::Cluster, &logs, a), (Outcome::Fail, "oom".into()));
    let a = r#"
textAnalyze:
  collectorName: ping
  fileName: result.txt
  regexGroups: 'Loss = (?P<Loss>\d+)'
  outcomes:
    - fail: {when: "Loss > 5", message: "loss {{ .Loss }}%"}
    - warn: {when: "Loss > 1"}
    - pass: {}
"#;
    assert_eq!(
        one(Scope::Cluster, &logs, a),
        (Outcome::Fail, "loss 7%".into())
    );
    assert_eq!(
        cluster(
            &logs,
            "textAnalyze: {fileName: none/*.log, regex: x, outcomes: [{pass: {}}]}"
        ),
        Outcome::Warn
    );
    let cfg = vec![(
        "cfg/app.json",
        json!({"spec": {"replicas": 3, "ports": [80, 443]}}),
    )];
    let a = "jsonCompare: {collectorName: cfg, fileName: app.json, path: spec.ports, value: '[443, 80]', outcomes: [{fail: {when: 'false', message: differ}}, {pass: {when: 'true', message: same}}]}";
    assert_eq!(cluster(&cfg, a), Outcome::Pass);
    let a = "jsonCompare: {collectorName: cfg, fileName: app.json, jsonPath: '{.spec.replicas}', value: '2', outcomes: [{fail: {when: 'false'}}, {pass: {when: 'true'}}]}";
    assert_eq!(cluster(&cfg, a), Outcome::Fail);
    let y = vec![("cfg/app.yaml", Value::String("spec:\n  mode: ha\n".into()))];
    let a = "yamlCompare: {collectorName: cfg, fileName: app.yaml, path: spec.mode, value: ha, outcomes: [{fail: {when: 'false'}}, {pass: {when: 'true'}}]}";
    assert_eq!(cluster(&y, a), Outcome::Pass);
}

#[test]
fn databases_registry_certificates() {
    let pg = |c: bool, v: &str| vec![("postgres/pg.json", json!({"isConnected": c, "version": v}))];
    let a = r#"
postgres:
  collectorName: pg
  outcomes:
    - fail: {when: "connected == false", message: cannot connect}
    - warn: {when: "version < 14.x", message: old}
    - pass: {message: ok}
"#;
    assert_eq!(cluster(&pg(false, ""), a), Outcome::Fail);
    assert_eq!(cluster(&pg(true, "12.4"), a), Outcome::Warn);
    assert_eq!(cluster(&pg(true, "16.1"), a), Outcome::Pass);
    let redis = vec![(
        "redis/redis.json",
        json!({"isConnected": true, "version": "7.2.4"}),
    )];
    assert_eq!(
        cluster(
            &redis,
            "redis: {outcomes: [{fail: {when: 'connected == false'}}, {pass: {when: 'version >= 6'}}]}"
        ),
        Outcome::Pass
    );
    let reg = vec![(
        "registry/images.json",
        json!({"images": {"a:1": {"exists": true}, "b:1": {"exists": false, "error": "unauthorized"}}}),
    )];
    assert_eq!(
        cluster(
            &reg,
            "registryImages: {outcomes: [{fail: {when: 'missing > 0'}}, {warn: {when: 'errors > 0'}}, {pass: {}}]}"
        ),
        Outcome::Warn
    );
    let certs = vec![(
        "certificates/certificates.json",
        json!([{"secret": "tls", "namespace": "app", "certificateChain": [{"certificate": "tls.crt", "isValid": true, "notAfter": "2000-01-01T00:00:00Z"}]}]),
    )];
    let a = "certificates: {outcomes: [{fail: {when: 'notAfter < Today', message: expired}}, {warn: {when: 'notAfter < Today + 15 days', message: expires soon}}, {pass: {message: valid}}]}";
    let (o, m) = one(Scope::Cluster, &certs, a);
    assert_eq!(o, Outcome::Warn);
    assert!(m.contains("tls secret within app namespace"), "{m}");
}

#[test]
fn berth_available_capacity() {
    // 2 nodes with 4 CPU / 8Gi allocatable; node a is nearly full with running pods.
    let pods: Vec<Value> = (0..7)
        .map(|i| pod(&format!("p{i}"), "Running", None, 0))
        .collect();
    let mut pods = pods;
    for p in pods.iter_mut() {
        p["spec"]["nodeName"] = json!("a");
    }
    let mut done = pod("finished", "Succeeded", None, 0);
    done["spec"]["nodeName"] = json!("b");
    pods.push(done);
    let files = vec![
        nodes(vec![
            node("a", "4", "8Gi", json!({}), json!({})),
            node("b", "4", "8Gi", json!({}), json!({})),
        ]),
        ("cluster-resources/pods/app.json", json!({"items": pods})),
    ];
    // Allocatable (troubleshoot's view) says 16Gi; available says 9Gi.
    assert_eq!(
        cluster(
            &files,
            "nodeResources: {outcomes: [{fail: {when: 'sum(memoryAllocatable) < 12Gi'}}, {pass: {}}]}"
        ),
        Outcome::Pass
    );
    assert_eq!(
        cluster(
            &files,
            "nodeAvailableResources: {outcomes: [{fail: {when: 'sum(memoryAvailable) < 12Gi'}}, {pass: {}}]}"
        ),
        Outcome::Fail
    );
    assert_eq!(
        cluster(&files, "nodeAvailableResources: {cpu: '3', memory: 6Gi}"),
        Outcome::Pass
    );
    let (o, m) = one(
        Scope::Cluster,
        &files,
        "nodeAvailableResources: {cpu: '3', memory: 9Gi}",
    );
    assert_eq!(o, Outcome::Fail);
    assert!(m.contains("most free: 4.00 CPU, 8.0Gi memory"), "{m}");
}

#[test]
fn berth_failure_stories() {
    let ifs = |names: &[(&str, i64)]| {
        let v: Vec<Value> = names
            .iter()
            .map(|(n, mtu)| json!({"Name": n, "MTU": mtu, "Index": 1, "Flags": 19}))
            .collect();
        vec![(
            "host-collectors/system/ipv4Interfaces.json",
            Value::Array(v),
        )]
    };
    assert_eq!(
        host(
            &ifs(&[("eth0", 1500), ("cni0", 1450)]),
            "renamedInterfaces: {}"
        ),
        Outcome::Pass
    );
    assert_eq!(
        host(&ifs(&[("uplink-a", 1500)]), "renamedInterfaces: {}"),
        Outcome::Warn
    );
    assert_eq!(
        host(
            &ifs(&[("uplink-a", 1500)]),
            "renamedInterfaces: {expected: [eth0]}"
        ),
        Outcome::Fail
    );
    assert_eq!(
        host(
            &ifs(&[("eth0", 1500), ("flannel.1", 1450)]),
            "mtuMismatch: {}"
        ),
        Outcome::Pass
    );
    let (o, m) = one(
        Scope::Host,
        &ifs(&[("eth0", 1400), ("flannel.1", 1450)]),
        "mtuMismatch: {}",
    );
    assert_eq!(o, Outcome::Fail);
    assert!(m.contains("1350"), "{m}");
    let per_node = vec![
        (
            "host-collectors/system/node_list.json",
            json!({"nodes": ["a", "b"]}),
        ),
        (
            "host-collectors/system/a/ipv4Interfaces.json",
            json!([{"Name": "eth0", "MTU": 1500}]),
        ),
        (
            "host-collectors/system/b/ipv4Interfaces.json",
            json!([{"Name": "eth0", "MTU": 9000}]),
        ),
    ];
    assert_eq!(host(&per_node, "mtuMismatch: {}"), Outcome::Fail);
    let disk = |used: u64| {
        vec![(
            "host-collectors/diskUsage/var.json",
            json!({"total_bytes": 100, "used_bytes": used}),
        )]
    };
    assert_eq!(host(&disk(90), "diskPressure: {}"), Outcome::Fail);
    assert_eq!(host(&disk(50), "diskPressure: {}"), Outcome::Pass);
    assert_eq!(
        host(&disk(50), "diskPressure: {threshold: 40%}"),
        Outcome::Fail
    );
    let pressure = vec![nodes(vec![node(
        "a",
        "2",
        "4Gi",
        json!({}),
        json!({"status": {"conditions": [{"type": "DiskPressure", "status": "True"}]}}),
    )])];
    assert_eq!(cluster(&pressure, "diskPressure: {}"), Outcome::Fail);
    let leases = |skew: &str| {
        vec![(
            "cluster-resources/leases/kube-node-lease.json",
            json!({"items": [
            {"metadata": {"name": "a"}, "spec": {"renewTime": "2026-11-26T10:00:00.000000Z"}},
            {"metadata": {"name": "b"}, "spec": {"renewTime": "2026-11-26T10:00:05.000000Z"}},
            {"metadata": {"name": "c"}, "spec": {"renewTime": skew}}]}),
        )]
    };
    assert_eq!(
        cluster(&leases("2026-11-26T10:00:08.000000Z"), "clockSkew: {}"),
        Outcome::Pass
    );
    let (o, m) = one(
        Scope::Cluster,
        &leases("2026-11-26T10:07:00.000000Z"),
        "clockSkew: {}",
    );
    assert_eq!(o, Outcome::Fail);
    assert!(m.contains("c (+415s)"), "{m}");
    let time = vec![(
        "host-collectors/system/time.json",
        json!({"timezone": "UTC", "ntp_synchronized": false, "ntp_active": false}),
    )];
    assert_eq!(host(&time, "clockSkew: {}"), Outcome::Warn);
    let dns_ok = vec![(
        "host-collectors/dns/dns/result.json",
        json!({"query": {"kubernetes.default.svc.cluster.local": [{"server": "10.96.0.10", "answer": "10.96.0.1"}]}}),
    )];
    let dns_bad = vec![(
        "host-collectors/dns/dns/result.json",
        json!({"query": {"kubernetes.default.svc.cluster.local": [{"server": "10.96.0.10", "answer": ""}]}}),
    )];
    assert_eq!(host(&dns_ok, "clusterDNS: {}"), Outcome::Pass);
    assert_eq!(host(&dns_bad, "clusterDNS: {}"), Outcome::Fail);
    let cdns = vec![(
        "dns/debug.json",
        json!({"query": {"kubernetes": {"name": "kubernetes.default", "address": ""}}, "kubeDNSEndpoints": ""}),
    )];
    let (o, m) = one(
        Scope::Cluster,
        &cdns,
        "clusterDNS: {outcomes: [{fail: {message: 'DNS: {{ .Failures }}'}}]}",
    );
    assert_eq!(o, Outcome::Fail);
    assert!(
        m.starts_with("DNS: kubernetes.default does not resolve"),
        "{m}"
    );
}

#[test]
fn strict_and_uri_are_copied() {
    let f = vec![("host-collectors/system/memory.json", json!({"total": 1}))];
    let rows = run(
        Scope::Host,
        &f,
        "memory: {strict: 'true', outcomes: [{fail: {when: '< 1Gi', message: m, uri: 'https://x/y'}}]}",
    );
    assert!(rows[0].strict);
    assert_eq!(rows[0].uri.as_deref(), Some("https://x/y"));
}

#[test]
fn ingress_cluster_resource_and_netns() {
    let ing = vec![(
        "cluster-resources/ingress/app.json",
        json!({"items": [{"metadata": {"name": "web"}}]}),
    )];
    let a = "ingress: {ingressName: NAME, namespace: app, outcomes: [{fail: {message: missing}}, {pass: {message: present}}]}";
    assert_eq!(cluster(&ing, &a.replace("NAME", "web")), Outcome::Pass);
    assert_eq!(cluster(&ing, &a.replace("NAME", "api")), Outcome::Fail);
    let d = vec![(
        "cluster-resources/deployments/app.json",
        json!({"items": [deploy("api", 3, 3)]}),
    )];
    let a = r#"
clusterResource:
  kind: Deployment
  namespace: app
  name: api
  yamlPath: spec.replicas
  expectedValue: "3"
  outcomes:
    - fail: {when: "false", message: wrong replicas}
    - pass: {when: "true", message: three replicas}
"#;
    assert_eq!(
        one(Scope::Cluster, &d, a),
        (Outcome::Pass, "three replicas".into())
    );
    assert_eq!(cluster(&d, &a.replace("\"3\"", "\"2\"")), Outcome::Fail);
    let a = "clusterResource: {kind: Deployment, namespace: app, name: api, yamlPath: metadata.name, regex: '^ap', outcomes: [{fail: {when: 'false'}}, {pass: {when: 'true'}}]}";
    assert_eq!(cluster(&d, a), Outcome::Pass);
    let sc = vec![(
        "cluster-resources/storage-classes.json",
        json!({"items": [{"metadata": {"name": "fast"}, "provisioner": "ebs.csi.aws.com"}]}),
    )];
    let a = "clusterResource: {kind: StorageClass, clusterScoped: true, name: fast, yamlPath: provisioner, expectedValue: ebs.csi.aws.com, outcomes: [{fail: {when: 'false'}}, {pass: {when: 'true'}}]}";
    assert_eq!(cluster(&sc, a), Outcome::Pass);
    let ns = |ok: bool| {
        vec![(
            "host-collectors/system/networkNamespaceConnectivity.json",
            json!({"from_cidr": "10.0.0.0/24", "to_cidr": "10.0.1.0/24", "errors": {"from_interface": if ok {""} else {"no route"}}, "success": ok}),
        )]
    };
    let a = "networkNamespaceConnectivity: {outcomes: [{pass: {message: 'ok {{ .FromCIDR }}'}}, {fail: {message: 'broken: {{ .ErrorMessage }}'}}]}";
    assert_eq!(
        one(Scope::Host, &ns(true), a),
        (Outcome::Pass, "ok 10.0.0.0/24".into())
    );
    assert_eq!(
        one(Scope::Host, &ns(false), a),
        (Outcome::Fail, "broken: from_interface: no route".into())
    );
}
