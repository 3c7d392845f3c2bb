//! berth's own addition to support bundles: the baselines of the apps berth installed
//! (docs/formats/baseline.md), read from their revision Secrets (docs/formats/inventory.md)
//! and written to `berth/baselines/<app>.v<N>.json`, so that a support engineer can tell what
//! changed since each app last worked without access to the cluster. Only the baseline of a
//! revision is copied — never its objects or config.

use super::Context;
use base64::Engine as _;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;

/// Baselines kept per app (newest revisions first).
const PER_APP: usize = 3;
/// The largest decompressed revision read (the inventory format's own bound).
const MAX_PAYLOAD: u64 = 256 << 20;

async fn list(client: &kube::Client, selector: &str) -> Vec<Value> {
    let path = format!("/api/v1/secrets?labelSelector={selector}");
    let Ok(req) = http::Request::get(path).body(Vec::new()) else {
        return Vec::new();
    };
    client
        .request::<Value>(req)
        .await
        .ok()
        .and_then(|l| l.get("items").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// The revision JSON of a first Secret and its parts (by name), or `None` when a part is
/// missing or the payload is not gzip JSON.
fn payload(first: &Value, parts: &BTreeMap<(String, String), Value>) -> Option<Value> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let (ns, name) = (s(first, "/metadata/namespace"), s(first, "/metadata/name"));
    let n: usize = s(first, "/metadata/annotations/berth.dev~1parts")
        .parse()
        .unwrap_or(1);
    let mut bytes = b64.decode(s(first, "/data/revision")).ok()?;
    for i in 1..n {
        let part = parts.get(&(ns.to_string(), format!("{name}.p{i}")))?;
        bytes.extend(b64.decode(s(part, "/data/revision")).ok()?);
    }
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .take(MAX_PAYLOAD)
        .read_to_end(&mut json)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

/// Write the baselines of every app's last good revisions into the bundle.
pub async fn collect(ctx: &Context) -> Result<usize, super::CollectError> {
    let client = ctx.kube()?;
    let firsts = list(&client, "berth.dev/kind=revision").await;
    let parts: BTreeMap<(String, String), Value> = list(&client, "berth.dev/kind=revision-part")
        .await
        .into_iter()
        .map(|p| {
            (
                (
                    s(&p, "/metadata/namespace").to_string(),
                    s(&p, "/metadata/name").to_string(),
                ),
                p,
            )
        })
        .collect();
    // Per (namespace, app): revision number → baseline, good revisions only.
    let mut found: BTreeMap<(String, String), BTreeMap<u64, Value>> = BTreeMap::new();
    for f in &firsts {
        let status = s(f, "/metadata/labels/berth.dev~1status");
        if !matches!(status, "deployed" | "superseded") {
            continue;
        }
        let Some(rev) = payload(f, &parts) else {
            continue;
        };
        let (Some(baseline), Some(n)) = (
            rev.get("baseline"),
            rev.get("number").and_then(Value::as_u64),
        ) else {
            continue;
        };
        found
            .entry((
                s(f, "/metadata/namespace").to_string(),
                s(&rev, "/app").to_string(),
            ))
            .or_default()
            .insert(n, baseline.clone());
    }
    let mut written = 0;
    for ((_, app), revs) in found {
        for (n, b) in revs.into_iter().rev().take(PER_APP) {
            ctx.sink
                .put_json(&format!("berth/baselines/{app}.v{n}.json"), &b)?;
            written += 1;
        }
    }
    Ok(written)
}
