//! Simulated time: a pod is not Ready before its readiness probe's initialDelaySeconds (on
//! the profile's scaled clock), and Job durations and outcomes come from the profile.

mod common;
use berth_kube_sim::Profile;
use common::{Http, eventually, start_with};
use serde_json::{Value, json};

const NS: &str = "/api/v1/namespaces/default";

fn condition<'a>(p: &'a Value, typ: &str) -> &'a Value {
    p["status"]["conditions"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["type"] == typ))
        .unwrap_or(&Value::Null)
}

fn ts(s: &Value) -> jiff::Timestamp {
    s.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("timestamp expected, got {s}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_waits_for_the_initial_delay_on_the_scaled_clock() {
    // 8 s of probe delay at scale 2: about 4 s of wall time.
    let profile = Profile {
        time_scale: 2.0,
        ..Profile::default()
    };
    let sim = start_with(profile).await;
    let http = Http::new(&sim);
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "slow"},
        "spec": {"containers": [{"name": "c", "image": "busybox",
            "readinessProbe": {"httpGet": {"port": 80, "path": "/"}, "initialDelaySeconds": 8, "periodSeconds": 4}}]}});
    let (code, body) = http.post(&format!("{NS}/pods"), &pod).await;
    assert_eq!(code, 201, "{body}");
    // Ordering as on a real cluster: Running with its container started but not Ready first.
    let running = eventually("Running", || async {
        let (_, p) = http.get(&format!("{NS}/pods/slow")).await;
        (p["status"]["phase"] == "Running").then_some(p)
    })
    .await;
    assert_eq!(condition(&running, "Ready")["status"], "False", "{running}");
    assert_eq!(running["status"]["containerStatuses"][0]["ready"], false);
    let ready = eventually("Ready", || async {
        let (_, p) = http.get(&format!("{NS}/pods/slow")).await;
        (condition(&p, "Ready")["status"] == "True").then_some(p)
    })
    .await;
    let started = ts(&ready["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]);
    let became = ts(&condition(&ready, "Ready")["lastTransitionTime"]);
    // Second-resolution timestamps: the 4 s gate shows as at least 3 s.
    assert!(
        became.duration_since(started).as_secs() >= 3,
        "Ready at {became}, container started at {started}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_decides_job_duration_and_failure() {
    let profile = Profile::from_yaml_str(
        "faults:\n  jobRunFor: 300ms\n  failJobs: [\"migrate*\"]\ntimeScale: 1000\n",
    )
    .expect("profile parses");
    let sim = start_with(profile).await;
    let http = Http::new(&sim);
    let job = |name: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox"}]}}}})
    };
    for name in ["migrate-db", "seed"] {
        let (code, body) = http
            .post("/apis/batch/v1/namespaces/default/jobs", &job(name))
            .await;
        assert_eq!(code, 201, "{body}");
    }
    let finished = |name: &'static str| {
        let http = &http;
        async move {
            eventually(&format!("job {name} finished"), || async {
                let (_, j) = http
                    .get(&format!("/apis/batch/v1/namespaces/default/jobs/{name}"))
                    .await;
                ["Complete", "Failed"]
                    .iter()
                    .any(|t| condition(&j, t)["status"] == "True")
                    .then_some(j)
            })
            .await
        }
    };
    let failed = finished("migrate-db").await;
    assert_eq!(
        condition(&failed, "Failed")["reason"],
        "BackoffLimitExceeded",
        "{failed}"
    );
    let ok = finished("seed").await;
    assert_eq!(condition(&ok, "Complete")["status"], "True", "{ok}");
    assert!(
        Profile::from_yaml_str("timeScale: 0\n")
            .unwrap_err()
            .contains("timeScale")
    );
    assert!(
        Profile::from_yaml_str("faults: {jobRunFor: soon}\n")
            .unwrap_err()
            .contains("faults.jobRunFor")
    );
}
