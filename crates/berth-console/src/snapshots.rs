//! The Snapshots page: the app's snapshots in its repository, its schedule, "Take a snapshot
//! now", and a restore into a new namespace behind a confirmation step. Every operation is
//! berth-ops' `snapshot` (`berth snapshot create -n`, `berth snapshot restore ID -n NS`); the
//! repository is the console's `--snapshot-repo`, else the one the app's schedule writes to
//! (docs/formats/console.md, "Snapshots").

use crate::auth::Role;
use crate::server::{
    AppState, Inner, change_session, error_page, nav, page_session, random_id, report_text,
    spawn_job,
};
use crate::session::Session;
use crate::views::{RestoreConfirmPage, ScheduleView, SnapshotRow, SnapshotsPage};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_ops::snapshot::AppSnapshotSummary;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A restore shown on its confirmation page, waiting for "Restore".
pub struct PendingRestore {
    session: String,
    snapshot: String,
    namespace: String,
    created: Instant,
}

/// How long a confirmation page stays valid.
const CONFIRM_TTL: Duration = Duration::from_secs(600);

fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn row(s: &AppSnapshotSummary) -> SnapshotRow {
    SnapshotRow {
        id: s.id.clone(),
        short: s.id.chars().take(8).collect(),
        time: s.time.clone(),
        version: match s.revision {
            Some(r) => format!("{} (revision {r})", s.version),
            None => s.version.clone(),
        },
        namespace: s.namespace.clone(),
        claims: if s.claims.is_empty() {
            "none".into()
        } else {
            s.claims.join(", ")
        },
        size: human(s.bytes),
        origin: if s.scheduled { "scheduled" } else { "by hand" },
    }
}

/// A Kubernetes namespace name: a DNS label (1-63 lowercase letters, digits, `-`).
fn valid_namespace(ns: &str) -> bool {
    !ns.is_empty()
        && ns.len() <= 63
        && ns
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !ns.starts_with('-')
        && !ns.ends_with('-')
}

async fn render(s: &Inner, sess: &Session, refused: Option<String>, code: StatusCode) -> Response {
    let st = match s.ops.snapshots().await {
        Ok(st) => st,
        Err(e) => return error_page(s, Some(sess), StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let ns = s.ops.namespace().to_string();
    let repo = st.source.as_ref().map(|src| match src {
        crate::ops::RepoSource::Flag(u) => (u.clone(), "the console's --snapshot-repo".to_string()),
        crate::ops::RepoSource::Schedule { url, secret } => {
            (url.clone(), format!("the snapshot schedule's {secret}"))
        }
    });
    let schedule = st.schedule.as_ref().map(|sc| ScheduleView {
        cron: sc.cron.clone(),
        retention: if sc.retention.is_empty() {
            "none (every snapshot is kept)".into()
        } else {
            sc.retention.clone()
        },
        last_run: sc
            .last_schedule_time
            .clone()
            .unwrap_or_else(|| "never".into()),
        last_success: sc
            .last_successful_time
            .clone()
            .unwrap_or_else(|| "never".into()),
        active: sc.active > 0,
    });
    (
        code,
        SnapshotsPage {
            nav: nav(s, Some(sess), "snapshots"),
            suggested: format!("{ns}-restored"),
            namespace: ns,
            repo,
            schedule,
            snapshots: st.snapshots.iter().map(row).collect(),
            error: st.error,
            not_licensed: st.not_licensed,
            can_edit: sess.role == Role::Admin,
            refused,
        },
    )
        .into_response()
}

/// `GET /snapshots`.
pub async fn page(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let (_, sess) = match page_session(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    render(&s, &sess, None, StatusCode::OK).await
}

/// `POST /snapshots` (admin): take an app snapshot now.
pub async fn take(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    let (_, sess) = match change_session(&s, &headers, form.get("csrf").map(String::as_str), true) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Some(j) = s.jobs.busy() {
        return render(
            &s,
            &sess,
            Some(format!("{} is still running; wait for it to end", j.title)),
            StatusCode::CONFLICT,
        )
        .await;
    }
    let app = s.ops.app().map(|a| a.app.metadata.name).unwrap_or_default();
    spawn_job(
        &s,
        format!("snapshot of {app}"),
        "/snapshots",
        |st, sink| async move {
            match st.ops.take_snapshot(sink).await {
                Ok(r) => (
                    true,
                    format!(
                        "snapshot {} saved: {} {} (revision {}) from namespace {}, {} objects, {} claim(s)",
                        &r.snapshot_id[..r.snapshot_id.len().min(8)],
                        r.app,
                        r.version,
                        r.revision,
                        r.namespace,
                        r.objects,
                        r.claims.len()
                    ),
                ),
                Err(e) => (false, e.to_string()),
            }
        },
    )
}

/// `POST /snapshots/restore` (admin): the confirmation page of a restore of `snapshot` into
/// `namespace`; nothing is changed yet.
pub async fn restore_review(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    let (sid, sess) = match change_session(&s, &headers, form.get("csrf").map(String::as_str), true)
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let id = form.get("snapshot").cloned().unwrap_or_default();
    let target = form
        .get("namespace")
        .map(|n| n.trim().to_string())
        .unwrap_or_default();
    let refuse = |msg: String| render(&s, &sess, Some(msg), StatusCode::UNPROCESSABLE_ENTITY);
    if !valid_namespace(&target) {
        return refuse(format!(
            "{target:?} is not a namespace name: use 1-63 lowercase letters, digits and '-', not starting or ending with '-'"
        ))
        .await;
    }
    if target == s.ops.namespace() {
        return refuse(format!(
            "{target} is the namespace the app runs in: a restore goes into a new namespace (berth snapshot restore --force over the running app is for the command line)"
        ))
        .await;
    }
    let snap = match s.ops.snapshot(&id).await {
        Ok(Some(x)) => x,
        Ok(None) => {
            return refuse(format!("no snapshot {id} of this app in the repository")).await;
        }
        Err(e) => return error_page(&s, Some(&sess), StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let exists = match s.ops.namespace_exists(&target).await {
        Ok(e) => e,
        Err(e) => return error_page(&s, Some(&sess), StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let token = random_id();
    if let Ok(mut m) = s.restores.lock() {
        m.retain(|_, p| p.created.elapsed() < CONFIRM_TTL);
        m.insert(
            token.clone(),
            PendingRestore {
                session: sid,
                snapshot: snap.id.clone(),
                namespace: target.clone(),
                created: Instant::now(),
            },
        );
    }
    RestoreConfirmPage {
        nav: nav(&s, Some(&sess), "snapshots"),
        snapshot: row(&snap),
        app: snap.app.clone(),
        target,
        exists,
        token,
    }
    .into_response()
}

/// `POST /snapshots/restore/confirm` (admin): run the restore its confirmation page showed.
pub async fn restore_confirm(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    let (sid, sess) = match change_session(&s, &headers, form.get("csrf").map(String::as_str), true)
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let token = form.get("token").cloned().unwrap_or_default();
    let pending = s.restores.lock().ok().and_then(|mut m| {
        let ok = m
            .get(&token)
            .is_some_and(|p| p.session == sid && p.created.elapsed() < CONFIRM_TTL);
        if ok { m.remove(&token) } else { None }
    });
    let Some(p) = pending else {
        return render(
            &s,
            &sess,
            Some(
                "This confirmation has expired or was already used; choose the snapshot and namespace again."
                    .into(),
            ),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    if let Some(j) = s.jobs.busy() {
        return render(
            &s,
            &sess,
            Some(format!("{} is still running; wait for it to end", j.title)),
            StatusCode::CONFLICT,
        )
        .await;
    }
    let (id, ns) = (p.snapshot, p.namespace);
    spawn_job(
        &s,
        format!(
            "restore of snapshot {} into namespace {ns}",
            &id[..id.len().min(8)]
        ),
        "/snapshots",
        move |st, sink| async move {
            match st.ops.restore_snapshot(&id, &ns, sink).await {
                Ok(r) => {
                    let (ok, text) = report_text(&r.deploy);
                    let claims = if r.restored_claims.is_empty() {
                        "no claims".to_string()
                    } else {
                        format!("claims {}", r.restored_claims.join(", "))
                    };
                    (
                        ok,
                        format!(
                            "restored snapshot {} (from namespace {}) into namespace {ns}, {claims}: {text}",
                            &r.snapshot_id[..r.snapshot_id.len().min(8)],
                            r.from_namespace
                        ),
                    )
                }
                Err(e) => (false, e.to_string()),
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_must_be_dns_labels() {
        for ok in ["hello-restored", "a", "x1-2"] {
            assert!(valid_namespace(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "Hello",
            "a_b",
            "a.b",
            "../x",
            &"a".repeat(64),
        ] {
            assert!(!valid_namespace(bad), "{bad}");
        }
    }
}
