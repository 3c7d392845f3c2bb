//! Preflight, support bundle and analysis as operations: typed results (pass / warn / fail
//! per check with message and link), steps and collector events in order, typed errors.

use berth_ops::troubleshoot::{
    self, AnalyzeInput, KubeTarget, PreflightInput, SupportBundleInput, Verdict,
};
use berth_ops::{Cancel, ErrorClass, Event, Recorder, Step};
use berth_troubleshoot::analyze::Outcome;

const HOST: &str = r#"apiVersion: troubleshoot.sh/v1beta2
kind: HostPreflight
metadata: {name: host}
spec:
  collectors:
    - cpu: {}
    - memory: {}
  analyzers:
    - cpu:
        outcomes:
          - fail: {when: "count < 1", message: no cpu}
          - pass: {message: cpu ok, uri: "https://example.invalid/cpu"}
    - memory:
        outcomes:
          - fail: {when: "< 1Pi", message: needs a petabyte of memory, uri: "https://example.invalid/mem"}
          - pass: {message: memory ok}
"#;

fn step_order(events: &[Event]) -> Vec<Step> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::StepStarted { step } => Some(*step),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_host_preflight_returns_each_check_with_its_outcome_message_and_link() {
    let d = tempfile::tempdir().expect("tempdir");
    let spec = d.path().join("host.yaml");
    std::fs::write(&spec, HOST).expect("spec");
    let rec = Recorder::default();
    let input = PreflightInput {
        specs: vec![spec.display().to_string()],
        keep_bundle: Some(d.path().join("kept.tar.gz")),
        ..PreflightInput::default()
    };
    let report = troubleshoot::preflight(&input, &rec, &Cancel::new())
        .await
        .expect("preflight");
    assert_eq!(report.name, "host");
    let rows: Vec<(&str, Outcome, &str, Option<&str>)> = report
        .results
        .iter()
        .map(|r| {
            (
                r.message.as_str(),
                r.outcome,
                r.check.as_str(),
                r.uri.as_deref(),
            )
        })
        .collect();
    assert!(
        rows.iter().any(|(m, o, _, u)| *m == "cpu ok"
            && *o == Outcome::Pass
            && *u == Some("https://example.invalid/cpu")),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|(m, o, _, u)| *m == "needs a petabyte of memory"
                && *o == Outcome::Fail
                && *u == Some("https://example.invalid/mem")),
        "{rows:?}"
    );
    assert_eq!(report.verdict(), Verdict::Fail);
    assert!(d.path().join("kept.tar.gz").is_file(), "bundle kept");
    let json = report.to_json();
    assert_eq!(json["fail"][0]["uri"], "https://example.invalid/mem");
    let events = rec.events();
    assert_eq!(
        step_order(&events),
        vec![Step::LoadSpecs, Step::Collect, Step::Analyze, Step::Pack]
    );
    let collectors: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::CollectorFinished { title, host, .. } if *host => Some(title.clone()),
            _ => None,
        })
        .collect();
    assert!(collectors.iter().any(|t| t == "cpu"), "{collectors:?}");
}

#[tokio::test]
async fn spec_errors_are_bad_input_and_a_missing_cluster_is_named() {
    let d = tempfile::tempdir().expect("tempdir");
    let bad = d.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: troubleshoot.sh/v1beta2\nkind: HostPreflight\nspec:\n  collectors: [\n",
    )
    .expect("spec");
    let rec = Recorder::default();
    let input = PreflightInput {
        specs: vec![bad.display().to_string()],
        ..PreflightInput::default()
    };
    let e = troubleshoot::preflight(&input, &rec, &Cancel::new())
        .await
        .expect_err("malformed");
    assert_eq!(e.class(), ErrorClass::BadInput, "{e}");
    let problems: Vec<Event> = rec
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::SpecProblem { .. }))
        .collect();
    // A malformed file is a spec problem reported as an event naming the file and line.
    assert!(
        matches!(e, berth_ops::Error::SpecProblems { count: 1 }),
        "{e}"
    );
    match problems.as_slice() {
        [Event::SpecProblem { severity, message }] => {
            assert_eq!(severity, "error");
            assert!(message.contains("bad.yaml"), "{message}");
        }
        other => panic!("one problem expected: {other:?}"),
    }

    // Cluster collectors with no cluster: the error says which collectors and what was tried.
    let cluster = d.path().join("cluster.yaml");
    std::fs::write(
        &cluster,
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec:\n  collectors:\n    - clusterResources: {}\n",
    )
    .expect("spec");
    let input = SupportBundleInput {
        specs: vec![cluster.display().to_string()],
        kube: KubeTarget {
            kubeconfig: Some(d.path().join("missing-kubeconfig")),
            ..KubeTarget::default()
        },
        archive: Some(d.path().join("sb.tar.gz")),
        ..SupportBundleInput::default()
    };
    let e = troubleshoot::support_bundle(&input, &Recorder::default(), &Cancel::new())
        .await
        .expect_err("no cluster");
    assert!(matches!(e, berth_ops::Error::NoCluster { .. }), "{e}");
    assert!(e.to_string().contains("clusterResources"), "{e}");
    assert!(e.to_string().contains("missing-kubeconfig"), "{e}");
    assert!(!d.path().join("sb.tar.gz").exists(), "nothing written");

    // A bundle that does not exist.
    let e = troubleshoot::analyze(
        &AnalyzeInput {
            bundle: d.path().join("nope.tar.gz"),
            specs: vec![],
        },
        &Recorder::default(),
    )
    .await
    .expect_err("no bundle");
    assert_eq!(e.class(), ErrorClass::Failed, "{e}");
}

#[tokio::test]
async fn a_support_bundle_of_this_host_is_written_and_analysed_offline() {
    let d = tempfile::tempdir().expect("tempdir");
    let spec = d.path().join("sb.yaml");
    std::fs::write(
        &spec,
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec:\n  hostCollectors:\n    - cpu: {}\n  hostAnalyzers:\n    - cpu:\n        outcomes:\n          - warn: {when: \"count < 4096\", message: few cpus}\n          - pass: {message: many cpus}\n",
    )
    .expect("spec");
    let archive = d.path().join("out");
    let rec = Recorder::default();
    let input = SupportBundleInput {
        specs: vec![spec.display().to_string()],
        archive: Some(archive.clone()),
        ..SupportBundleInput::default()
    };
    let report = troubleshoot::support_bundle(&input, &rec, &Cancel::new())
        .await
        .expect("support bundle");
    assert_eq!(report.path, d.path().join("out.tar.gz"), ".tar.gz added");
    assert!(report.path.is_file());
    assert!(report.size.is_some_and(|s| s > 0));
    assert_eq!(report.verdict(), Verdict::Warn);
    assert_eq!(report.analysis[0]["severity"], "warn");
    assert_eq!(
        step_order(&rec.events()),
        vec![Step::LoadSpecs, Step::Collect, Step::Analyze, Step::Pack]
    );
    let again = troubleshoot::analyze(
        &AnalyzeInput {
            bundle: report.path.clone(),
            specs: vec![spec.display().to_string()],
        },
        &Recorder::default(),
    )
    .await
    .expect("analyze");
    assert_eq!(again.verdict(), Verdict::Warn);
    assert_eq!(again.results[0].message, "few cpus");
}

#[tokio::test]
async fn a_cancelled_collection_stops_before_collecting() {
    let d = tempfile::tempdir().expect("tempdir");
    let spec = d.path().join("host.yaml");
    std::fs::write(&spec, HOST).expect("spec");
    let cancel = Cancel::new();
    cancel.cancel();
    let rec = Recorder::default();
    let input = PreflightInput {
        specs: vec![spec.display().to_string()],
        ..PreflightInput::default()
    };
    let e = troubleshoot::preflight(&input, &rec, &cancel)
        .await
        .expect_err("cancelled");
    assert!(matches!(e, berth_ops::Error::Cancelled), "{e}");
    assert!(!step_order(&rec.events()).contains(&Step::Collect));
}
