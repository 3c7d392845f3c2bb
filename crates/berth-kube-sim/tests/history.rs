//! The watch history is bounded by bytes as well as by count: many small patches to a large
//! object keep memory flat, and watches from compacted resourceVersions get 410 Expired.

mod common;
use common::{Http, start};
use serde_json::{Value, json};

async fn watch_first_line(http: &Http, rv: &str) -> Value {
    let text = http
        .client
        .get(format!(
            "{}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1",
            http.base
        ))
        .send()
        .await
        .expect("watch request")
        .text()
        .await
        .expect("watch body");
    serde_json::from_str(text.lines().next().unwrap_or("null")).expect("a JSON event line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_object_patches_stay_within_the_byte_budget() {
    let sim = start().await;
    let http = Http::new(&sim);
    // A smaller budget than the default keeps the test quick; the rule is the same.
    let budget = 16 * 1024 * 1024;
    sim.set_watch_history_bytes(budget);
    let cms = "/api/v1/namespaces/default/configmaps";
    let big = "x".repeat(1_400_000);
    let (c, b) = http
        .post(
            cms,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"blob": big}}),
        )
        .await;
    assert_eq!(c, 201);
    let first_rv = b["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let mut peak = 0;
    let mut at_half = 0;
    for i in 0..400 {
        let (c, b) = http
            .send(
                "PATCH",
                &format!("{cms}/big"),
                "application/merge-patch+json",
                serde_json::to_vec(&json!({"data": {"counter": i.to_string()}})).unwrap(),
            )
            .await;
        assert_eq!(c, 200, "{b}");
        let (_, bytes) = sim.watch_history_usage();
        peak = peak.max(bytes);
        if i == 199 {
            at_half = bytes;
        }
    }
    let (events, bytes) = sim.watch_history_usage();
    eprintln!(
        "history after 400 patches of a 1.4 MB ConfigMap: {events} changes, {bytes} bytes (peak {peak}, after 200: {at_half}, budget {budget})"
    );
    // Without the byte budget the history would account 400 × 2 × 1.4 MB ≈ 1.1 GB.
    assert!(peak <= budget, "peak {peak} > budget {budget}");
    assert!(bytes >= 1_400_000, "the newest change stays: {bytes}");
    assert!(events < 400, "old changes were compacted: {events}");
    // Flat: the second half of the patches did not grow the history.
    assert!(bytes <= at_half + 3_000_000, "{bytes} vs {at_half}");

    // A watch from before the compaction gets 410 Expired; a recent one resumes.
    let first = watch_first_line(&http, &first_rv).await;
    assert_eq!(first["type"], "ERROR", "{first}");
    assert_eq!(first["object"]["code"], 410);
    assert_eq!(first["object"]["reason"], "Expired");
    let rv_now = sim.resource_version();
    let (c, _) = http
        .send(
            "PATCH",
            &format!("{cms}/big"),
            "application/merge-patch+json",
            serde_json::to_vec(&json!({"data": {"counter": "last"}})).unwrap(),
        )
        .await;
    assert_eq!(c, 200);
    let resumed = watch_first_line(&http, &rv_now.to_string()).await;
    assert_eq!(resumed["type"], "MODIFIED", "{resumed}");
    assert_eq!(resumed["object"]["data"]["counter"], "last");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_budget_applies_without_configuration() {
    let sim = start().await;
    let http = Http::new(&sim);
    let cms = "/api/v1/namespaces/default/configmaps";
    let big = "y".repeat(1_400_000);
    for i in 0..60 {
        let (c, b) = http
            .post(
                cms,
                &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("big-{i}")}, "data": {"blob": big}}),
            )
            .await;
        assert_eq!(c, 201, "{b}");
    }
    let (events, bytes) = sim.watch_history_usage();
    eprintln!("default budget: {events} changes, {bytes} bytes after 60 × 1.4 MB creates (84 MB)");
    assert!(bytes <= 64 * 1024 * 1024, "{bytes}");
    assert!(bytes >= 40 * 1_400_000, "{bytes}");
    sim.shutdown().await;
}
