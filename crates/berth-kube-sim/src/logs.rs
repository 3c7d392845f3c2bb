//! Pod logs (`/log`): simulated container output with `container`, `tailLines`,
//! `sinceSeconds`, `previous`, `timestamps`, `limitBytes` and `follow`, and the API
//! server's errors for waiting containers and missing previous instances.

use crate::Shared;
use crate::api::{Query, ResReq};
use crate::faults::{self, Fail};
use crate::status::ApiError;
use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use serde_json::Value;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// The lines a container printed in one run (`previous`: the run that crashed).
pub fn lines(pod: &Value, container: &Value, previous: bool) -> Vec<String> {
    let name = container["name"].as_str().unwrap_or("app");
    let image = container["image"].as_str().unwrap_or("");
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or("");
    if let Some(custom) = faults::annotation(pod, faults::LOG) {
        let mut out: Vec<String> = custom.lines().map(String::from).collect();
        if previous || faults::has(pod, Fail::CrashLoop) || faults::has(pod, Fail::JobFailed) {
            return out;
        }
        out.retain(|l| !l.is_empty());
        return out;
    }
    let port = container["ports"][0]["containerPort"]
        .as_i64()
        .unwrap_or(8080);
    let mut out = vec![
        format!("level=info msg=\"starting\" image=\"{image}\" container={name} pod={pod_name}"),
        "level=info msg=\"loading configuration\" source=env".to_string(),
    ];
    let crash = faults::has(pod, Fail::CrashLoop);
    let job_fail = faults::has(pod, Fail::JobFailed);
    if crash || job_fail {
        let code = faults::annotation(pod, faults::EXIT_CODE).unwrap_or("1");
        out.push(
            "level=error msg=\"fatal: cannot start: required setting DATABASE_URL is not set\""
                .to_string(),
        );
        out.push(format!("level=error msg=\"exiting\" code={code}"));
        return out;
    }
    if pod["spec"]["restartPolicy"] != "Always" {
        out.push("level=info msg=\"work complete\"".to_string());
        return out;
    }
    out.push(format!("level=info msg=\"listening\" addr=\":{port}\""));
    if faults::has(pod, Fail::Readiness) {
        out.push("level=warn msg=\"dependency unavailable, readiness check failing\" check=/readyz status=503".to_string());
    } else {
        out.push("level=info msg=\"ready\"".to_string());
    }
    out
}

fn find_container<'a>(pod: &'a Value, name: Option<&str>) -> Result<&'a Value, ApiError> {
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or("");
    let all: Vec<&Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            pod["spec"]["initContainers"]
                .as_array()
                .into_iter()
                .flatten(),
        )
        .collect();
    match name {
        Some(n) => all.into_iter().find(|c| c["name"] == n).ok_or_else(|| {
            ApiError::bad_request(format!("container {n} is not valid for pod {pod_name}"))
        }),
        None => {
            let main: Vec<&Value> = pod["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .collect();
            if main.len() == 1 {
                Ok(main[0])
            } else {
                let names: Vec<&str> = main.iter().filter_map(|c| c["name"].as_str()).collect();
                Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                    names.join(" ")
                )))
            }
        }
    }
}

pub fn serve(sh: &Arc<Shared>, rr: &ResReq, name: &str, q: &Query) -> Result<Response, ApiError> {
    if rr.rt.kind != "Pod" {
        return Err(ApiError::no_resource());
    }
    let ns = rr.ns.clone().unwrap_or_default();
    let pod = sh
        .read()
        .get(&rr.rt.storage_key(), &ns, name)
        .ok_or_else(|| ApiError::not_found(&rr.rt, name))?;
    let c = find_container(&pod, q.get("container").map(String::as_str))?;
    let cname = c["name"].as_str().unwrap_or("");
    let status = pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            pod["status"]["initContainerStatuses"]
                .as_array()
                .into_iter()
                .flatten(),
        )
        .find(|s| s["name"] == cname)
        .cloned()
        .unwrap_or(Value::Null);
    let previous = q.get("previous").is_some_and(|p| p == "true");
    if previous && !status["lastState"]["terminated"].is_object() {
        return Err(ApiError::bad_request(format!(
            "previous terminated container \"{cname}\" in pod \"{name}\" not found"
        )));
    }
    let started = status["state"]["running"].is_object()
        || status["state"]["terminated"].is_object()
        || status["lastState"]["terminated"].is_object();
    if !previous && !started {
        let why = match status["state"]["waiting"]["reason"].as_str() {
            Some("ErrImagePull" | "ImagePullBackOff") => {
                "trying and failing to pull image".to_string()
            }
            Some(r) => r.to_string(),
            None => "ContainerCreating".to_string(),
        };
        return Err(ApiError::bad_request(format!(
            "container \"{cname}\" in pod \"{name}\" is waiting to start: {why}"
        )));
    }
    let start_ts = if previous {
        status["lastState"]["terminated"]["startedAt"].as_str()
    } else {
        status["state"]["running"]["startedAt"]
            .as_str()
            .or(status["state"]["terminated"]["startedAt"].as_str())
            .or(status["lastState"]["terminated"]["startedAt"].as_str())
    }
    .and_then(|s| s.parse::<jiff::Timestamp>().ok())
    .unwrap_or_else(jiff::Timestamp::now);
    let uid = pod["metadata"]["uid"].as_str().unwrap_or("");
    // A connection the NetworkPolicies refuse: the client prints its error when it gives up.
    let refused = sh
        .read()
        .network
        .get(uid)
        .cloned()
        .flatten()
        .filter(|r| r.container == cname);
    let mut out = match (sh.volumes.output(uid, cname), refused) {
        (Some(real), _) if !previous => real,
        (_, Some(r)) if status["state"]["terminated"].is_object() => vec![r.log],
        (_, Some(_)) => Vec::new(),
        _ => lines(&pod, c, previous),
    };
    if let Some(since) = q.get("sinceSeconds").and_then(|s| s.parse::<i64>().ok()) {
        let age = (jiff::Timestamp::now() - start_ts).get_seconds();
        if age > since {
            out.clear();
        }
    }
    if let Some(since) = q
        .get("sinceTime")
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        && since > start_ts
    {
        out.clear();
    }
    if let Some(n) = q.get("tailLines").and_then(|s| s.parse::<usize>().ok()) {
        let skip = out.len().saturating_sub(n);
        out.drain(..skip);
    }
    let ts = q.get("timestamps").is_some_and(|t| t == "true");
    let mut text = String::new();
    for (i, l) in out.iter().enumerate() {
        if ts {
            let t = start_ts + jiff::SignedDuration::from_millis(i as i64 * 3);
            text.push_str(&t.strftime("%Y-%m-%dT%H:%M:%S.%9fZ ").to_string());
        }
        text.push_str(l);
        text.push('\n');
    }
    if let Some(limit) = q.get("limitBytes").and_then(|s| s.parse::<usize>().ok())
        && text.len() > limit
    {
        let mut cut = limit;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    let follow = q.get("follow").is_some_and(|f| f == "true");
    let builder = Response::builder().header(header::CONTENT_TYPE, "text/plain");
    if !follow || status["state"]["terminated"].is_object() {
        return Ok(builder.body(Body::from(text)).unwrap_or_default());
    }
    // Follow: keep the stream open while the container runs (no new output is simulated).
    let sh = sh.clone();
    let gr = rr.rt.storage_key();
    let pod_name = name.to_string();
    let uid = pod["metadata"]["uid"].clone();
    let mut stop = sh.shutdown.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
    tokio::spawn(async move {
        if tx.send(text.into()).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            let alive = sh.read().get(&gr, &ns, &pod_name).is_some_and(|p| {
                p["metadata"]["uid"] == uid && p["metadata"].get("deletionTimestamp").is_none()
            });
            if !alive || tx.is_closed() {
                return;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Ok(builder.body(Body::from_stream(stream)).unwrap_or_default())
}
