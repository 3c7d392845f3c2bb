//! The matrix end to end on in-process simulated clusters: examples/hello online and
//! air-gapped, and each simulated breakage failing with berth's diagnosis while the fixed
//! app passes.

use berth_matrix::report::{CellResult, MatrixReport, StepStatus};
use berth_matrix::{MatrixOptions, ProfileTweak, plan};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/breakage")
}

fn run(
    app: &Path,
    kube: &str,
    dists: &str,
    airgap: &str,
    values: &[(&str, Value)],
    profile: Option<ProfileTweak>,
    out: &Path,
) -> MatrixReport {
    let opts = MatrixOptions {
        app_dir: app.to_path_buf(),
        upgrade_from: None,
        cells: plan::cells(
            &plan::parse_kube(kube).expect("kube"),
            &plan::parse_distributions(dists).expect("distributions"),
            plan::AirgapMode::parse(airgap).expect("airgap"),
        ),
        jobs: 4,
        out_dir: out.to_path_buf(),
        values: values
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        values_for: BTreeMap::new(),
        timeout: Duration::from_secs(60),
        fail_fast: Duration::from_secs(2),
        profile,
        registry_auth: false,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(berth_matrix::run(opts, &|_| {}))
        .expect("matrix ran")
}

fn cell<'a>(r: &'a MatrixReport, id: &str) -> &'a CellResult {
    r.cells
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no cell {id}"))
}

fn step<'a>(c: &'a CellResult, name: &str) -> &'a berth_matrix::report::StepResult {
    c.steps
        .iter()
        .find(|s| s.step == name)
        .unwrap_or_else(|| panic!("{}: no step {name}", c.id))
}

#[test]
fn hello_passes_online_and_air_gapped_and_reports_are_written() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run(
        &repo().join("examples/hello"),
        "1.32",
        "generic",
        "both",
        &[],
        None,
        out.path(),
    );
    for c in &r.cells {
        assert!(c.passed, "{}: {:?} {:?}", c.id, c.failed_step, c.diagnosis);
        for s in [
            "preflight",
            "install",
            "readiness",
            "support-bundle",
            "uninstall",
        ] {
            assert_eq!(step(c, s).status, StepStatus::Passed, "{} {s}", c.id);
        }
        assert!(out.path().join(&c.log).is_file());
        let sb = c.support_bundle.as_ref().expect("support bundle");
        assert!(out.path().join(sb).is_file());
    }
    let air = cell(&r, "1.32-generic-airgapped");
    let detail = &step(air, "install").detail;
    assert!(
        detail.contains("bundle verified") && detail.contains("pushed into 127.0.0.1:"),
        "{detail}"
    );
    assert!(
        !step(cell(&r, "1.32-generic-online"), "install")
            .detail
            .contains("bundle verified")
    );
    let w = berth_matrix::write_reports(&r, out.path()).expect("reports");
    let html = std::fs::read_to_string(&w.html).expect("html");
    assert!(html.contains("href=\"#1.32-generic-airgapped\""));
    let junit = std::fs::read_to_string(&w.junit).expect("junit");
    assert!(junit.contains("failures=\"0\""), "{junit}");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(&w.json).expect("json")).expect("parse");
    assert_eq!(json["cells"].as_array().map(Vec::len), Some(2));
}

#[test]
fn removed_api_fails_from_its_release_with_the_replacement_and_the_fix_passes() {
    let out = tempfile::tempdir().expect("tempdir");
    let old = run(
        &fixture(),
        "1.31,1.32",
        "generic",
        "online",
        &[(
            "flowschema_api",
            json!("flowcontrol.apiserver.k8s.io/v1beta3"),
        )],
        None,
        out.path(),
    );
    // Deprecated in 1.29, still served in 1.31 (the preflight warns), gone in 1.32 (the
    // preflight refuses before anything is installed).
    let warned = cell(&old, "1.31-generic-online");
    assert!(warned.passed, "{:?}", warned.diagnosis);
    assert!(
        step(warned, "preflight").detail.contains(
            "FlowSchema is deprecated since Kubernetes 1.29 and no longer served from 1.32"
        ),
        "{}",
        step(warned, "preflight").detail
    );
    let c = cell(&old, "1.32-generic-online");
    assert_eq!(c.failed_step.as_deref(), Some("preflight"));
    assert_eq!(step(c, "install").status, StepStatus::Skipped);
    let d = c.diagnosis.as_ref().expect("diagnosis");
    assert!(
        d.cause.contains(
            "flowcontrol.apiserver.k8s.io/v1beta3, which Kubernetes 1.32 no longer serves"
        ),
        "{}",
        d.cause
    );
    assert!(
        d.fix
            .contains("to apiVersion: flowcontrol.apiserver.k8s.io/v1 "),
        "{}",
        d.fix
    );
    // Installed anyway (no preflight), the engine names the removal too.
    let engine_msg = berth_deploy::diagnose::unserved_kind(
        "chart/templates/flowschema.yaml",
        &berth_deploy::object::object_ref(
            &json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1beta3", "kind": "FlowSchema", "metadata": {"name": "web-api"}}),
        ),
        Some(32),
    );
    assert!(
        engine_msg.contains("Kubernetes 1.32 no longer serves"),
        "{engine_msg}"
    );
    let out2 = tempfile::tempdir().expect("tempdir");
    let fixed = run(
        &fixture(),
        "1.32",
        "generic",
        "online",
        &[("flowschema_api", json!("flowcontrol.apiserver.k8s.io/v1"))],
        None,
        out2.path(),
    );
    assert!(fixed.cells[0].passed, "{:?}", fixed.cells[0].diagnosis);
}

fn restricted() -> ProfileTweak {
    Arc::new(|_, p| p.pod_security.enforce = "restricted".into())
}

/// A cluster that puts a compute quota into every new namespace (`--namespace-quota`).
fn namespace_quota() -> ProfileTweak {
    Arc::new(|_, p| {
        p.namespace_quota = Some(berth_kube_sim::profile::NamespaceQuotaProfile {
            hard: berth_matrix::plan::parse_quota("limits.cpu=2,limits.memory=2Gi,pods=10")
                .expect("quota"),
            ..Default::default()
        })
    })
}

#[test]
fn a_namespace_quota_refuses_pods_without_limits_and_pods_that_state_them_pass() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.32",
        "generic",
        "online",
        &[],
        Some(namespace_quota()),
        out.path(),
    );
    let c = &r.cells[0];
    assert_eq!(c.failed_step.as_deref(), Some("install"), "{:?}", c.steps);
    let d = c.diagnosis.as_ref().expect("diagnosis");
    assert!(
        d.cause.contains("ResourceQuota namespace-quota")
            && d.cause.contains("limits.cpu for: web"),
        "{}",
        d.cause
    );
    assert!(d.fix.contains("LimitRange"), "{}", d.fix);
    let out2 = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.32",
        "generic",
        "online",
        &[("resources", json!(true))],
        Some(namespace_quota()),
        out2.path(),
    );
    assert!(r.cells[0].passed, "{:?}", r.cells[0].diagnosis);
    assert_eq!(step(&r.cells[0], "test").status, StepStatus::Passed);
}

/// A cluster that puts a default-deny NetworkPolicy into every new namespace
/// (`--default-deny`).
fn default_deny(directions: &str) -> ProfileTweak {
    let types = berth_matrix::plan::parse_default_deny(directions).expect("directions");
    Arc::new(move |_, p| {
        p.network_policy = Some(berth_kube_sim::profile::NetworkPolicyProfile {
            default_deny: types.clone(),
        })
    })
}

#[test]
fn default_deny_fails_the_test_step_naming_the_policy_and_shipped_policies_pass() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.32",
        "generic",
        "online",
        &[],
        Some(default_deny("ingress")),
        out.path(),
    );
    let c = &r.cells[0];
    assert_eq!(c.failed_step.as_deref(), Some("test"), "{:?}", c.steps);
    let d = c.diagnosis.as_ref().expect("diagnosis");
    assert!(
        d.cause.contains("test pod/web-test")
            && d.cause
                .contains("cannot connect to Service web:8080 (pods app=web port 8080/TCP)")
            && d.cause
                .contains("ingress to the Service's pods is isolated by NetworkPolicy")
            && d.cause.contains("/default-deny")
            && d.cause.contains("wget: download timed out"),
        "{}",
        d.cause
    );
    assert!(!d.cause.contains("egress"), "{}", d.cause);
    let install = &step(c, "install").detail;
    assert!(
        install.contains(
            "/default-deny isolates the app's pods (deployment/web, pod/web-test) for ingress"
        ) && install.contains("the app ships no NetworkPolicy"),
        "{install}"
    );
    assert!(
        d.fix
            .contains("label the test pod app.kubernetes.io/component=test")
            && d.fix
                .contains("add a NetworkPolicy allowing ingress to pods app=web on port 8080")
            && d.fix.contains("kind: NetworkPolicy"),
        "{}",
        d.fix
    );

    // Egress denied too: the lookup is refused first, and the fix admits the DNS.
    let out2 = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.32",
        "generic",
        "online",
        &[],
        Some(default_deny("ingress,egress")),
        out2.path(),
    );
    let c = &r.cells[0];
    assert_eq!(c.failed_step.as_deref(), Some("test"), "{:?}", c.steps);
    let d = c.diagnosis.as_ref().expect("diagnosis");
    assert!(
        d.cause.contains("cannot look up web")
            && d.cause.contains("/default-deny isolates its egress")
            && d.cause.contains("wget: bad address 'web'"),
        "{}",
        d.cause
    );
    assert!(d.fix.contains("k8s-app: kube-dns"), "{}", d.fix);

    // The app that ships NetworkPolicies for its test passes on the same cluster.
    let out3 = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.32",
        "generic",
        "online",
        &[("network_policies", json!(true))],
        Some(default_deny("ingress,egress")),
        out3.path(),
    );
    assert!(r.cells[0].passed, "{:?}", r.cells[0].diagnosis);
    assert_eq!(step(&r.cells[0], "test").status, StepStatus::Passed);
    let install = &step(&r.cells[0], "install").detail;
    assert!(!install.contains("NetworkPolicy"), "{install}");
}

#[test]
fn restricted_pod_security_refuses_the_pods_with_the_real_message_and_hardened_pods_pass() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.32",
        "generic",
        "online",
        &[],
        Some(restricted()),
        out.path(),
    );
    let c = &r.cells[0];
    assert_eq!(c.failed_step.as_deref(), Some("install"), "{:?}", c.steps);
    let d = c.diagnosis.as_ref().expect("diagnosis");
    assert!(
        d.cause
            .contains("Pod Security admission enforces the restricted:latest level"),
        "{}",
        d.cause
    );
    assert!(
        d.cause.contains("allowPrivilegeEscalation != false (container \"web\" must set securityContext.allowPrivilegeEscalation=false)"),
        "{}",
        d.cause
    );
    assert!(d.fix.contains("runAsNonRoot: true"), "{}", d.fix);
    let out2 = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.32",
        "generic",
        "online",
        &[("hardened", json!(true))],
        Some(restricted()),
        out2.path(),
    );
    assert!(r.cells[0].passed, "{:?}", r.cells[0].diagnosis);
    assert_eq!(step(&r.cells[0], "test").status, StepStatus::Passed);
}

#[test]
fn openshift_scc_refuses_a_fixed_uid_and_an_assigned_one_passes() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.31",
        "openshift",
        "online",
        &[("run_as_user", json!(999))],
        None,
        out.path(),
    );
    let c = &r.cells[0];
    assert_eq!(c.failed_step.as_deref(), Some("install"), "{:?}", c.steps);
    let d = c.diagnosis.as_ref().expect("diagnosis");
    assert!(
        d.cause.contains("security context constraints"),
        "{}",
        d.cause
    );
    assert!(
        d.cause.contains(
            ".spec.securityContext.runAsUser: Invalid value: 999: must be in the ranges: [1"
        ),
        "{}",
        d.cause
    );
    assert!(d.fix.contains("do not pin runAsUser"), "{}", d.fix);
    // The same app passes on a generic cluster, and without the fixed UID on OpenShift.
    let out2 = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.31",
        "generic,openshift",
        "online",
        &[],
        None,
        out2.path(),
    );
    for c in &r.cells {
        assert!(c.passed, "{}: {:?}", c.id, c.diagnosis);
    }
}

#[test]
fn a_failing_test_hook_fails_the_test_step_with_its_log() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.32",
        "generic",
        "online",
        &[("test_fails", json!(true))],
        None,
        out.path(),
    );
    let c = &r.cells[0];
    assert_eq!(c.failed_step.as_deref(), Some("test"), "{:?}", c.steps);
    let d = c.diagnosis.as_ref().expect("diagnosis");
    assert!(d.cause.contains("pod/web-test"), "{}", d.cause);
    assert!(d.cause.contains("returned 500"), "{}", d.cause);
    // The support bundle is still collected after a failure; uninstall is skipped.
    assert_eq!(step(c, "support-bundle").status, StepStatus::Passed);
    assert_eq!(step(c, "uninstall").status, StepStatus::Skipped);
}

#[test]
fn no_default_storage_class_leaves_the_claim_pending_with_the_fix_and_naming_a_class_passes() {
    // RKE2 as installed: no StorageClass at all; here with local-path-provisioner added, but
    // not marked default (a common state).
    let local_path: ProfileTweak = Arc::new(|_, p| {
        p.storage_classes = vec![berth_kube_sim::profile::StorageClassProfile {
            name: "local-path".into(),
            provisioner: "rancher.io/local-path".into(),
            default: false,
            volume_binding_mode: "WaitForFirstConsumer".into(),
        }]
    });
    let out = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.32",
        "rke2",
        "online",
        &[("volume", json!(true))],
        Some(local_path.clone()),
        out.path(),
    );
    let c = &r.cells[0];
    assert_eq!(c.failed_step.as_deref(), Some("install"), "{:?}", c.steps);
    let d = c.diagnosis.as_ref().expect("diagnosis");
    assert!(
        d.cause
            .contains("persistentvolumeclaim/web-data is Pending")
            && d.cause.contains("no default StorageClass"),
        "{}",
        d.cause
    );
    assert!(
        d.fix
            .contains("storageclass.kubernetes.io/is-default-class=true"),
        "{}",
        d.fix
    );
    let out2 = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.32",
        "rke2",
        "online",
        &[
            ("volume", json!(true)),
            ("storage_class", json!("local-path")),
        ],
        Some(local_path),
        out2.path(),
    );
    assert!(r.cells[0].passed, "{:?}", r.cells[0].diagnosis);
    // A distribution with a default class needs no setting.
    let out3 = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.32",
        "k3s",
        "online",
        &[("volume", json!(true))],
        None,
        out3.path(),
    );
    assert!(r.cells[0].passed, "{:?}", r.cells[0].diagnosis);
}

fn node(name: &str, arch: &str) -> berth_kube_sim::profile::NodeProfile {
    berth_kube_sim::profile::NodeProfile {
        name: name.into(),
        architecture: arch.into(),
        ..Default::default()
    }
}

#[test]
fn an_amd64_only_image_on_arm64_nodes_fails_to_pull_and_pinning_to_amd64_passes() {
    // Air-gapped cells check every image in their registry: the stand-in images are
    // linux/amd64 only, as many vendors' images are.
    let arm_only: ProfileTweak = Arc::new(|_, p| p.nodes = vec![node("graviton-0", "arm64")]);
    let out = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.32",
        "eks",
        "airgapped",
        &[],
        Some(arm_only),
        out.path(),
    );
    let c = &r.cells[0];
    assert_eq!(c.failed_step.as_deref(), Some("install"), "{:?}", c.steps);
    let d = c.diagnosis.as_ref().expect("diagnosis");
    assert!(
        d.cause
            .contains("has no build for the platform of node graviton-0")
            && d.cause
                .contains("no match for platform in manifest: not found"),
        "{}",
        d.cause
    );
    assert!(d.fix.contains("multi-platform image"), "{}", d.fix);
    // A mixed cluster: the same image runs once the pods are kept on amd64 nodes.
    let mixed: ProfileTweak =
        Arc::new(|_, p| p.nodes = vec![node("graviton-0", "arm64"), node("intel-0", "amd64")]);
    let out2 = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.32",
        "eks",
        "airgapped",
        &[("node_arch", json!("amd64"))],
        Some(mixed),
        out2.path(),
    );
    assert!(r.cells[0].passed, "{:?}", r.cells[0].diagnosis);
}

/// A copy of the fixture at another version.
fn fixture_at(dir: &Path, version: &str) -> PathBuf {
    let to = dir.join(format!("breakage-{version}"));
    for e in walk(&fixture()) {
        let dst = to.join(e.strip_prefix(fixture()).expect("prefix"));
        std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&e, &dst).expect("copy");
    }
    let m = to.join("berth.yaml");
    let text = std::fs::read_to_string(&m).expect("read").replacen(
        "version: 1.0.0",
        &format!("version: {version}"),
        1,
    );
    std::fs::write(&m, text).expect("write");
    to
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn upgrade_from_an_older_version_installs_it_then_upgrades_online_and_air_gapped() {
    let work = tempfile::tempdir().expect("tempdir");
    let old = fixture_at(work.path(), "0.9.0");
    let opts = MatrixOptions {
        app_dir: fixture(),
        upgrade_from: Some(old),
        cells: plan::cells(&[31], &["k3s".to_string()], plan::AirgapMode::Both),
        jobs: 2,
        out_dir: work.path().join("out"),
        values: BTreeMap::new(),
        values_for: BTreeMap::new(),
        timeout: Duration::from_secs(60),
        fail_fast: Duration::from_secs(2),
        profile: None,
        registry_auth: false,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let r = rt.block_on(berth_matrix::run(opts, &|_| {})).expect("ran");
    assert_eq!(r.upgrade_from.as_deref(), Some("0.9.0"));
    for c in &r.cells {
        assert!(c.passed, "{}: {:?}", c.id, c.diagnosis);
        assert!(
            step(c, "install").detail.contains("breakage 0.9.0"),
            "{}",
            step(c, "install").detail
        );
        let up = step(c, "upgrade");
        assert_eq!(up.status, StepStatus::Passed);
        assert!(
            up.detail.contains("breakage 1.0.0 (revision 2)"),
            "{}",
            up.detail
        );
    }
    // Air-gapped: both versions came through their own signed bundles.
    let air = cell(&r, "1.31-k3s-airgapped");
    assert!(step(air, "upgrade").detail.contains("bundle verified"));
}

#[test]
fn a_load_balancer_service_on_bare_metal_never_gets_an_address_and_clusterip_passes() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.32",
        "generic,eks",
        "online",
        &[("service_type", json!("LoadBalancer"))],
        None,
        out.path(),
    );
    // EKS's load-balancer controller gives the Service an address; bare metal has none.
    assert!(
        cell(&r, "1.32-eks-online").passed,
        "{:?}",
        cell(&r, "1.32-eks-online").diagnosis
    );
    let c = cell(&r, "1.32-generic-online");
    assert_eq!(c.failed_step.as_deref(), Some("install"), "{:?}", c.steps);
    let d = c.diagnosis.as_ref().expect("diagnosis");
    assert!(
        d.cause.contains(
            "service/web is type LoadBalancer but no load-balancer controller gave it an address"
        ),
        "{}",
        d.cause
    );
    assert!(d.fix.contains("MetalLB"), "{}", d.fix);
    let out2 = tempfile::tempdir().expect("tempdir");
    let r = run(
        &fixture(),
        "1.32",
        "generic",
        "online",
        &[],
        None,
        out2.path(),
    );
    assert!(r.cells[0].passed, "{:?}", r.cells[0].diagnosis);
}

fn run_cells(
    cells: Vec<plan::Cell>,
    values: &[(&str, Value)],
    profile: Option<ProfileTweak>,
    out: &Path,
) -> MatrixReport {
    let opts = MatrixOptions {
        app_dir: repo().join("examples/expose"),
        upgrade_from: None,
        cells,
        jobs: 4,
        out_dir: out.to_path_buf(),
        values: values
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        values_for: BTreeMap::new(),
        timeout: Duration::from_secs(60),
        fail_fast: Duration::from_secs(2),
        profile,
        registry_auth: false,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(berth_matrix::run(opts, &|_| {}))
        .expect("matrix ran")
}

#[test]
fn each_ingress_flavour_gets_the_object_its_controller_admits() {
    let out = tempfile::tempdir().expect("tempdir");
    let cells = plan::cells_with_ingress(
        &[32],
        &plan::parse_distributions("generic,openshift").expect("d"),
        plan::AirgapMode::Online,
        &plan::parse_ingress("nginx,traefik,gateway-api,openshift-route,istio").expect("i"),
    )
    .expect("cells");
    assert_eq!(cells.len(), 5);
    let r = run_cells(cells, &[], None, out.path());
    for (id, says) in [
        (
            "1.32-generic-online-nginx",
            "ingress/web in namespace expose-demo: address 172.18.0.2",
        ),
        ("1.32-generic-online-traefik", "address 172.18.0.2"),
        (
            "1.32-generic-online-gateway-api",
            "accepted by gateway.envoyproxy.io/gatewayclass-controller",
        ),
        (
            "1.32-openshift-online-openshift-route",
            "admitted, host demo.example.com",
        ),
        ("1.32-generic-online-istio", "VirtualService"),
    ] {
        let c = cell(&r, id);
        assert!(
            c.passed,
            "{id}: {:?} {:?}\n{:#?}",
            c.failed_step, c.diagnosis, c.steps
        );
        let d = &step(c, "expose").detail;
        assert!(d.contains(says), "{id}: {d}");
        // The preflight said which flavour it found, before installing.
        let flavour = id.rsplit_once("online-").map(|(_, f)| f).unwrap_or("");
        assert!(
            step(c, "preflight")
                .detail
                .contains(&format!("expose web: {flavour} (")),
            "{id}: {}",
            step(c, "preflight").detail
        );
    }
    let d = &step(cell(&r, "1.32-generic-online-traefik"), "install").detail;
    assert!(
        d.contains("default IngressClass traefik (controller traefik.io/ingress-controller)"),
        "{d}"
    );
    let json = report_json(&r);
    assert_eq!(json["cells"][0]["cell"]["ingress"], "nginx");
}

fn report_json(r: &MatrixReport) -> Value {
    serde_json::from_str(&berth_matrix::report::json(r)).expect("json")
}

#[test]
fn an_ingress_the_cluster_lacks_fails_with_the_fix_and_the_fitting_one_passes() {
    let out = tempfile::tempdir().expect("tempdir");
    let cells = plan::cells_with_ingress(
        &[32],
        &["generic".to_string()],
        plan::AirgapMode::Online,
        &["nginx".to_string()],
    )
    .expect("cells");
    // The admin chose Traefik, the cluster runs ingress-nginx: the preflight notes the
    // missing class, the install names it and the class to use.
    let r = run_cells(
        cells.clone(),
        &[("ingress_flavour", json!("traefik"))],
        None,
        out.path(),
    );
    let c = &r.cells[0];
    assert!(
        step(c, "preflight")
            .detail
            .contains("the cluster has no IngressClass traefik"),
        "{:#?}",
        c.steps
    );
    assert_eq!(c.failed_step.as_deref(), Some("install"), "{:#?}", c.steps);
    let d = c.diagnosis.as_ref().expect("diagnosis");
    assert!(
        d.cause.contains("ingress class traefik") && d.fix.contains("nginx"),
        "{d:?}"
    );
    // Flavour none on a cluster that offers nginx: installed, but nothing exposed.
    let r = run_cells(
        cells.clone(),
        &[("ingress_flavour", json!("none"))],
        None,
        out.path(),
    );
    let c = &r.cells[0];
    assert_eq!(c.failed_step.as_deref(), Some("expose"), "{:#?}", c.steps);
    let d = c.diagnosis.as_ref().expect("diagnosis");
    assert!(
        d.cause
            .contains("offers nginx, but the app exposes nothing"),
        "{d:?}"
    );
    // Nothing to expose through at all: the preflight stops the cell, naming the fix.
    let bare: ProfileTweak = Arc::new(|_, p| p.ingress_classes.clear());
    let r = run_cells(
        plan::cells(&[32], &["generic".to_string()], plan::AirgapMode::Online),
        &[],
        Some(bare),
        out.path(),
    );
    let c = &r.cells[0];
    assert_eq!(
        c.failed_step.as_deref(),
        Some("preflight"),
        "{:#?}",
        c.steps
    );
    let d = c.diagnosis.as_ref().expect("diagnosis");
    assert!(
        d.cause
            .contains("offers no IngressClass, Gateway, OpenShift Route API or Istio"),
        "{d:?}"
    );
    assert!(d.fix.contains("install an ingress controller"), "{d:?}");
    // The admin's choice matching the cluster passes.
    let r = run_cells(
        cells,
        &[("ingress_flavour", json!("nginx"))],
        None,
        out.path(),
    );
    assert!(r.cells[0].passed, "{:?}", r.cells[0].diagnosis);
}

/// `--registry-auth`: the air-gapped cell's registry requires a login; images are pushed with
/// it and the install creates the pull Secret every pod uses, so the kubelet (which checks
/// pulls against that registry with the pods' Secrets) pulls and the cell passes.
#[test]
fn air_gapped_cells_install_into_a_registry_that_requires_a_login() {
    let out = tempfile::tempdir().expect("tempdir");
    let opts = MatrixOptions {
        app_dir: repo().join("examples/hello"),
        upgrade_from: None,
        cells: plan::cells(&[32], &["generic".to_string()], plan::AirgapMode::Airgapped),
        jobs: 1,
        out_dir: out.path().to_path_buf(),
        values: BTreeMap::new(),
        values_for: BTreeMap::new(),
        timeout: Duration::from_secs(60),
        fail_fast: Duration::from_secs(2),
        profile: None,
        registry_auth: true,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let r = rt.block_on(berth_matrix::run(opts, &|_| {})).expect("ran");
    let c = cell(&r, "1.32-generic-airgapped");
    assert!(c.passed, "{:?} {:?}", c.failed_step, c.diagnosis);
    let detail = &step(c, "install").detail;
    assert!(
        detail.contains("pull Secret berth-registry for user berth-matrix"),
        "{detail}"
    );
    // The registry really required the login: its htpasswd is the cell's.
    let htpasswd = std::fs::read_to_string(
        out.path()
            .join("cells")
            .join("1.32-generic-airgapped")
            .join("registry-htpasswd"),
    )
    .expect("htpasswd");
    assert!(htpasswd.starts_with("berth-matrix:$2"), "{htpasswd}");
}

/// `--kubeconfig`: a cluster reached through a kubeconfig file is a column of its own. Here the
/// cluster is a simulator started apart from the matrix (the matrix sees only its kubeconfig,
/// as it would a real cluster's): the cell runs every step online in a throwaway namespace,
/// takes the server's version, and deletes the namespace at the end.
#[test]
fn a_cluster_given_by_kubeconfig_is_a_column_and_keeps_nothing_of_the_run() {
    let out = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt
        .block_on(berth_kube_sim::Simulator::start(
            berth_kube_sim::SimOptions {
                profile: berth_kube_sim::Profile::builtin("k8s-1.31").expect("profile"),
                ..Default::default()
            },
        ))
        .expect("simulator");
    let kubeconfig = out.path().join("staging.yaml");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let opts = MatrixOptions {
        app_dir: repo().join("examples/hello"),
        upgrade_from: None,
        cells: vec![plan::live_cell(&kubeconfig).expect("cell")],
        jobs: 1,
        out_dir: out.path().join("report"),
        values: BTreeMap::new(),
        values_for: BTreeMap::new(),
        timeout: Duration::from_secs(60),
        fail_fast: Duration::from_secs(2),
        profile: None,
        registry_auth: false,
    };
    let r = rt.block_on(berth_matrix::run(opts, &|_| {})).expect("ran");
    let c = &r.cells[0];
    assert_eq!(c.id, "live-kubeconfig-staging-online");
    assert!(c.passed, "{:?} {:?}", c.failed_step, c.diagnosis);
    assert_eq!((c.cell.minor, c.cell.kube.as_str()), (31, "1.31"));
    assert!(
        c.server_version.starts_with("v1.31"),
        "{}",
        c.server_version
    );
    let cleanup = &step(c, "cleanup").detail;
    assert!(cleanup.starts_with("namespace hello-matrix-"), "{cleanup}");
    let ns = cleanup
        .trim_start_matches("namespace ")
        .trim_end_matches(" deleted")
        .to_string();
    // The namespace is gone (or going) from the cluster the matrix was pointed at.
    let left = rt
        .block_on(async {
            let cluster = berth_deploy::Cluster::connect(&berth_deploy::ConnectOptions {
                kubeconfig: Some(kubeconfig.clone()),
                context: None,
            })
            .await
            .expect("connect");
            cluster
                .get(&berth_deploy::object::ObjectRef {
                    api_version: "v1".into(),
                    kind: "Namespace".into(),
                    namespace: String::new(),
                    name: ns.clone(),
                })
                .await
        })
        .expect("get namespace");
    assert!(
        left.as_ref()
            .is_none_or(|n| n["status"]["phase"] == "Terminating"),
        "namespace {ns} left behind: {left:?}"
    );
    assert!(plan::live_cell(&out.path().join("missing.yaml")).is_err());
    rt.block_on(sim.shutdown());
}
