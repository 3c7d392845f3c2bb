//! Watch streams: newline-delimited JSON events, resumable from any resourceVersion still in
//! the history (older ones get an ERROR event with a 410 Expired Status), with bookmarks,
//! WatchList initial events, and Table-formatted events for `kubectl get -w`.

use crate::Shared;
use crate::api::{Filters, Query, ResReq, filters, output};
use crate::status::ApiError;
use crate::store::{EvType, WatchEvent};
use crate::table;
use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

fn line(typ: &str, obj: &Value) -> bytes::Bytes {
    let mut buf = Vec::with_capacity(512);
    buf.extend_from_slice(b"{\"type\":\"");
    buf.extend_from_slice(typ.as_bytes());
    buf.extend_from_slice(b"\",\"object\":");
    let _ = serde_json::to_writer(&mut buf, obj);
    buf.extend_from_slice(b"}\n");
    buf.into()
}

fn expired(rv: u64, oldest: u64) -> bytes::Bytes {
    let st = ApiError::gone(format!("too old resource version: {rv} ({oldest})")).body();
    line("ERROR", &st)
}

struct Ctx {
    rr: ResReq,
    f: Filters,
    name: Option<String>,
    table_accept: Option<String>,
    q: Query,
}

impl Ctx {
    fn wants(&self, ev: &WatchEvent) -> bool {
        ev.gr == self.rr.rt.storage_key()
            && self.rr.ns.as_ref().is_none_or(|n| *n == ev.ns)
            && self
                .name
                .as_ref()
                .is_none_or(|n| ev.obj["metadata"]["name"].as_str() == Some(n))
    }

    fn render(&self, sh: &Shared, obj: &Arc<Value>) -> Value {
        match &self.table_accept {
            Some(acc) => {
                let store = sh.read();
                table::table(&store, &self.rr.rt, std::slice::from_ref(obj), acc, &self.q)
            }
            None => output(obj, &self.rr.rt),
        }
    }

    /// The event a watcher with these filters sees for a change, if any.
    fn translate(&self, ev: &WatchEvent) -> Option<&'static str> {
        let now = self.f.matches(&ev.obj);
        let before = ev.old.as_ref().is_some_and(|o| self.f.matches(o));
        match ev.typ {
            EvType::Added => now.then_some("ADDED"),
            EvType::Deleted => (now || before).then_some("DELETED"),
            EvType::Modified => match (before, now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            },
        }
    }
}

pub async fn serve_with_accept(
    sh: Arc<Shared>,
    rr: ResReq,
    q: &Query,
    accept: Option<&str>,
) -> Result<Response, ApiError> {
    let f = filters(&rr.rt, q)?;
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .unwrap_or(1800);
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|b| b == "true");
    let send_initial = q.get("sendInitialEvents").is_some_and(|b| b == "true");
    let rv_param = q.get("resourceVersion").cloned().unwrap_or_default();
    let name = f
        .fields
        .0
        .iter()
        .find(|(k, eq, _)| k == "metadata.name" && *eq)
        .map(|(_, _, v)| v.clone());
    let ctx = Ctx {
        table_accept: accept.filter(|a| a.contains("as=Table")).map(String::from),
        rr,
        f,
        name,
        q: q.clone(),
    };
    let from_rv: Option<u64> = if rv_param.is_empty() || rv_param == "0" {
        None
    } else {
        Some(rv_param.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "resourceVersion: Invalid value: \"{rv_param}\": must be an unsigned integer"
            ))
        })?)
    };

    let (tx, rx_body) = mpsc::channel::<bytes::Bytes>(1024);
    let (initial, mut rx, start, expired_at, oldest) = {
        let store = sh.read();
        let rx = store.tx.subscribe();
        let mut initial: Vec<(&'static str, Arc<Value>)> = Vec::new();
        let mut expired_at = None;
        let oldest = store.oldest_resumable();
        if from_rv.is_none() || send_initial {
            for o in store.list(&ctx.rr.rt.storage_key(), ctx.rr.ns.as_deref()) {
                if ctx.f.matches(&o) {
                    initial.push(("ADDED", o));
                }
            }
        } else if let Some(r) = from_rv {
            if r < oldest {
                expired_at = Some(r);
            } else {
                for ev in store.history.iter().filter(|e| e.rv > r) {
                    if ctx.wants(ev)
                        && let Some(t) = ctx.translate(ev)
                    {
                        initial.push((t, ev.obj.clone()));
                    }
                }
            }
        }
        (initial, rx, store.rv, expired_at, oldest)
    };

    let mut stop = sh.shutdown.clone();
    let sh2 = sh.clone();
    tokio::spawn(async move {
        let sh = sh2;
        if let Some(r) = expired_at {
            let _ = tx.send(expired(r, oldest)).await;
            return;
        }
        for (t, o) in &initial {
            if tx.send(line(t, &ctx.render(&sh, o))).await.is_err() {
                return;
            }
        }
        let mut last_rv = start;
        if send_initial {
            let bm = json!({
                "kind": ctx.rr.rt.kind,
                "apiVersion": ctx.rr.rt.api_version(),
                "metadata": {"resourceVersion": start.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}},
            });
            if tx.send(line("BOOKMARK", &bm)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                _ = stop.changed() => break,
                _ = tick.tick(), if bookmarks => {
                    let bm = json!({"kind": ctx.rr.rt.kind, "apiVersion": ctx.rr.rt.api_version(), "metadata": {"resourceVersion": last_rv.to_string()}});
                    if tx.send(line("BOOKMARK", &bm)).await.is_err() { break; }
                }
                r = rx.recv() => match r {
                    Ok(ev) => {
                        if ev.rv <= start { continue; }
                        last_rv = ev.rv;
                        if !ctx.wants(&ev) { continue; }
                        if let Some(t) = ctx.translate(&ev)
                            && tx.send(line(t, &ctx.render(&sh, &ev.obj))).await.is_err()
                        {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = tx.send(expired(last_rv, last_rv + 1)).await;
                        break;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        }
    });
    let stream = futures::stream::unfold(rx_body, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_default())
}
