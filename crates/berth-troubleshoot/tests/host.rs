//! Every host collector, run for real on this machine through the concurrent runner, then the
//! host analyzers over what was collected.

use berth_troubleshoot::bundle::{BundleReader, DirBundle};
use berth_troubleshoot::run::{self, CollectOptions, RunOptions, Status};
use berth_troubleshoot::spec::Specs;
use serde_json::Value;
use std::time::Duration;

fn certs(dir: &std::path::Path) {
    let a = rcgen::generate_simple_self_signed(vec!["berth.test".into()]).unwrap();
    let b = rcgen::generate_simple_self_signed(vec!["other.test".into()]).unwrap();
    std::fs::write(dir.join("a.crt"), a.cert.pem()).unwrap();
    std::fs::write(dir.join("a.key"), a.signing_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("b.key"), b.signing_key.serialize_pem()).unwrap();
}

async fn collect(spec: &str, dir: &std::path::Path) -> run::Collected {
    let mut specs = Specs::default();
    specs.add_text("host.yaml", spec);
    assert!(!specs.has_errors(), "{:?}", specs.problems);
    run::collect_bundle(
        &specs.merge_support_bundle(),
        CollectOptions {
            run: RunOptions {
                collector_timeout: Duration::from_secs(60),
                deadline: Duration::from_secs(120),
                concurrency: 8,
            },
            redact: true,
            tokenize: false,
            kube: None,
            kube_error: Some("no cluster in this test".into()),
            work_dir: dir.to_path_buf(),
            name: "bundle".into(),
            version: "test".into(),
        },
    )
    .await
    .unwrap()
}

fn json(b: &DirBundle, p: &str) -> Value {
    let bytes = b
        .read(p)
        .unwrap_or_else(|| panic!("{p} missing; have {:?}", b.glob("**")));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{p}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_host_collector_on_this_machine() {
    let tmp = tempfile::tempdir().unwrap();
    certs(tmp.path());
    let d = tmp.path().display();
    std::fs::create_dir_all(tmp.path().join("logs/sub")).unwrap();
    std::fs::write(
        tmp.path().join("logs/app.log"),
        "token=abc123secretvalue\nok\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("logs/sub/x.log"), "x\n").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let taken = listener.local_addr().unwrap().port();
    let spec = format!(
        r#"apiVersion: troubleshoot.sh/v1beta2
kind: SupportBundle
spec:
  hostCollectors:
    - cpu: {{}}
    - memory: {{}}
    - hostOS: {{}}
    - kernelModules: {{}}
    - diskUsage: {{collectorName: root, path: /}}
    - blockDevices: {{}}
    - ipv4Interfaces: {{}}
    - time: {{}}
    - tcpPortStatus: {{collectorName: taken, port: {taken}}}
    - udpPortStatus: {{collectorName: free-udp, port: 0}}
    - tcpConnect: {{collectorName: to-taken, address: "127.0.0.1:{taken}"}}
    - dns: {{collectorName: local names, hostnames: [localhost]}}
    - certificate: {{collectorName: good, certificatePath: {d}/a.crt, keyPath: {d}/a.key}}
    - certificate: {{collectorName: mismatch, certificatePath: {d}/a.crt, keyPath: {d}/b.key}}
    - certificate: {{collectorName: switched, certificatePath: {d}/a.key, keyPath: {d}/a.crt}}
    - certificatesCollection: {{collectorName: certs, paths: [{d}/a.crt, {d}/missing.crt]}}
    - systemPackages: {{collectorName: pkgs, debian: [dpkg, no-such-package-berth]}}
    - sysctl: {{}}
    - journald: {{collectorName: kernel, dmesg: true, lines: 10, timeout: 10s}}
    - filesystemPerformance: {{collectorName: fsperf, directory: {d}/fsperf, fileSize: 256Ki, operationSize: 4Ki, runTime: 10s}}
    - subnetAvailable: {{collectorName: pods, CIDRRangeAlloc: "10.96.0.0/12", desiredCIDR: 22}}
    - cgroups: {{}}
    - kernelConfigs: {{}}
    - run: {{collectorName: env, command: sh, args: ["-c", "echo out; echo err >&2; echo file > $TS_OUTPUT_DIR/f.txt; exit 3"], outputDir: outdir, env: ["DB_PASSWORD=hunter2"]}}
    - copy: {{collectorName: applogs, path: "{d}/logs/*.log"}}
    - copy: {{collectorName: nothing, path: "{d}/nope/*.log"}}
  hostAnalyzers:
    - cpu:
        outcomes:
          - pass: {{when: "count >= 1", message: has cpus}}
          - fail: {{message: no cpus}}
    - memory:
        outcomes:
          - pass: {{when: "> 64Mi", message: has memory}}
          - fail: {{message: no memory}}
    - tcpPortStatus:
        collectorName: taken
        outcomes:
          - fail: {{when: address-in-use, message: port taken}}
          - pass: {{message: port free}}
    - certificate:
        collectorName: mismatch
        outcomes:
          - fail: {{when: key-pair-mismatch, message: key does not match}}
          - pass: {{when: key-pair-valid, message: pair ok}}
    - subnetAvailable:
        collectorName: pods
        outcomes:
          - pass: {{when: a-subnet-is-available, message: subnet free}}
          - fail: {{when: no-subnet-available, message: no subnet}}
"#
    );
    let c = collect(&spec, tmp.path()).await;
    drop(listener);
    let st = |t: &str| {
        c.report
            .collectors
            .iter()
            .find(|r| r.title == t)
            .map(|r| (r.status, r.error.clone()))
            .unwrap_or_else(|| panic!("no record {t}"))
    };
    for t in [
        "cpu",
        "memory",
        "hostOS",
        "kernelModules",
        "diskUsage/root",
        "ipv4Interfaces",
        "time",
        "tcpPortStatus/taken",
        "tcpConnect/to-taken",
        "dns/local names",
        "certificate/good",
        "sysctl",
        "filesystemPerformance/fsperf",
        "subnetAvailable/pods",
        "cgroups",
        "copy/applogs",
        "systemPackages/pkgs",
    ] {
        assert_eq!(st(t).0, Status::Ok, "{t}: {:?}", st(t).1);
    }
    assert_eq!(st("copy/nothing").0, Status::Failed);
    let b = c.writer.reader().unwrap();
    let h = |p: &str| format!("host-collectors/{p}");
    assert!(
        json(&b, &h("system/cpu.json"))["logicalCount"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert!(
        json(&b, &h("system/memory.json"))["total"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(
        json(&b, &h("diskUsage/root.json"))["total_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(
        json(&b, &h("tcpPortStatus/taken.json"))["status"],
        "address-in-use"
    );
    assert_eq!(
        json(&b, &h("udpPortStatus/free-udp.json"))["status"],
        "connected"
    );
    assert_eq!(json(&b, &h("connect/to-taken.json"))["status"], "connected");
    let dns = json(&b, &h("dns/local_names/result.json"));
    assert!(
        !dns["query"]["localhost"].as_array().unwrap().is_empty(),
        "{dns}"
    );
    for (name, word) in [
        ("good", "key-pair-valid"),
        ("mismatch", "key-pair-mismatch"),
        ("switched", "key-pair-switched"),
    ] {
        let got = b.read(&h(&format!("certificate/{name}.json"))).unwrap();
        assert_eq!(String::from_utf8_lossy(&got), word, "{name}");
    }
    let cc = json(&b, &h("certificatesCollection/certs.json"));
    assert_eq!(cc[0]["message"], "cert-valid", "{cc}");
    assert_eq!(
        cc[0]["certificateChain"][0]["subjectAlternativeNames"][0],
        "berth.test"
    );
    assert_eq!(cc[1]["message"], "cert-missing");
    let pk = json(&b, &h("system/pkgs-packages.json"));
    assert_eq!(pk["packages"][0]["exitCode"], "0", "{pk}");
    assert_ne!(pk["packages"][1]["exitCode"], "0", "{pk}");
    assert!(json(&b, &h("system/sysctl.json"))["kernel.ostype"].is_string());
    let fs = json(&b, &h("filesystemPerformance/fsperf.json"));
    assert!(
        fs["jobs"][0]["sync"]["lat_ns"]["N"].as_u64().unwrap() > 0,
        "{fs}"
    );
    assert_eq!(
        json(&b, &h("subnetAvailable/pods.json"))["status"],
        "a-subnet-is-available"
    );
    // run: stdout, stderr, info (env values never written), output dir.
    assert_eq!(b.read(&h("run-host/env.txt")).unwrap(), b"out\n");
    assert_eq!(b.read(&h("run-host/env-stderr.txt")).unwrap(), b"err\n");
    let info = json(&b, &h("run-host/env-info.json"));
    assert_eq!(info["exitCode"], "3");
    assert!(!info.to_string().contains("hunter2"), "{info}");
    assert_eq!(b.read(&h("run-host/env/outdir/f.txt")).unwrap(), b"file\n");
    // copy: glob matched one file, redacted; the failing copy left errors.json.
    let copied = String::from_utf8(b.read(&h("applogs/app.log")).unwrap()).unwrap();
    assert!(
        copied.contains("ok") && !copied.contains("abc123secretvalue"),
        "{copied}"
    );
    assert!(b.read(&h("applogs/x.log")).is_none());
    assert!(b.read(&h("nothing/errors.json")).is_some());
    assert!(
        b.read("host-collectors/errors/copy-nothing-error.json")
            .is_some()
    );

    let m = {
        let mut s = Specs::default();
        s.add_text("host.yaml", &spec);
        s.merge_support_bundle()
    };
    let results = berth_troubleshoot::analyze::analyze_all(&m.analyzers, &m.host_analyzers, &b);
    let msgs: Vec<&str> = results.iter().map(|r| r.message.as_str()).collect();
    for want in [
        "has cpus",
        "has memory",
        "port taken",
        "key does not match",
        "subnet free",
    ] {
        assert!(msgs.contains(&want), "{want} not in {msgs:?}");
    }
}

#[tokio::test]
async fn a_url_that_never_answers_and_a_hung_command_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    let spec = format!(
        r#"apiVersion: troubleshoot.sh/v1beta2
kind: SupportBundle
spec:
  hostCollectors:
    - http: {{collectorName: silent, get: {{url: "http://{addr}/", timeout: 500ms}}}}
    - http: {{collectorName: forever, get: {{url: "http://{addr}/", timeout: 1h}}}}
    - run: {{collectorName: hang, command: sleep, args: ["3600"], timeout: 300ms}}
"#
    );
    let mut specs = Specs::default();
    specs.add_text("h.yaml", &spec);
    let c = run::collect_bundle(
        &specs.merge_support_bundle(),
        CollectOptions {
            run: RunOptions {
                collector_timeout: Duration::from_secs(2),
                deadline: Duration::from_secs(30),
                concurrency: 4,
            },
            redact: false,
            tokenize: false,
            kube: None,
            kube_error: None,
            work_dir: tmp.path().to_path_buf(),
            name: "b".into(),
            version: "t".into(),
        },
    )
    .await
    .unwrap();
    hold.abort();
    let b = c.writer.reader().unwrap();
    let silent = json(&b, "host-collectors/http/silent.json");
    assert!(silent["error"]["message"].is_string(), "{silent}");
    let forever = c
        .report
        .collectors
        .iter()
        .find(|r| r.title == "http/forever")
        .unwrap();
    assert_eq!(forever.status, Status::TimedOut);
    let hang = c
        .report
        .collectors
        .iter()
        .find(|r| r.title == "run/hang")
        .unwrap();
    assert_eq!(hang.status, Status::Failed);
    assert!(hang.error.as_deref().unwrap().contains("killed"));
    let info = json(&b, "host-collectors/run-host/hang-info.json");
    assert_eq!(info["exitCode"], "-1");
}
