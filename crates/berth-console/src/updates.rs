//! Newer releases from the vendor server on the Versions page, the upgrade to one of them, and
//! "Send to vendor" on the Troubleshoot page: the license-authenticated side of berth-ops'
//! `online` operations (the same update check as `berth updates -n`, the same upgrade as
//! `berth upgrade --to`, the same upload as `berth support-bundle --upload`).

use crate::ops::{OpEvent, UpdatesState};
use crate::server::{
    AppState, Inner, change_session, error_page, known_bundle, report_text, spawn_job,
    versions_view,
};
use crate::views::{ReleaseRow, UpdatesView};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long an answer of the vendor server is shown before the page asks again.
pub const CHECK_TTL: Duration = Duration::from_secs(300);

/// Drop the cached answer (the page's "Check again", and after an upgrade).
pub fn forget(s: &Inner) {
    if let Ok(mut u) = s.updates.lock() {
        *u = None;
    }
}

/// The last answer, asked again when older than [`CHECK_TTL`] (an unreachable server is asked
/// again after a minute).
async fn state(s: &Inner) -> (UpdatesState, Instant) {
    if let Ok(u) = s.updates.lock()
        && let Some((at, st)) = u.as_ref()
    {
        let ttl = match st {
            UpdatesState::Answer(_) | UpdatesState::NoLicense => CHECK_TTL,
            _ => Duration::from_secs(60),
        };
        if at.elapsed() < ttl {
            return (st.clone(), *at);
        }
    }
    let st = s.ops.updates().await;
    let at = Instant::now();
    if let Ok(mut u) = s.updates.lock() {
        *u = Some((at, st.clone()));
    }
    (st, at)
}

fn ago(at: Instant) -> String {
    let secs = at.elapsed().as_secs();
    match secs {
        0..=9 => "just now".into(),
        10..=119 => format!("{secs} s ago"),
        _ => format!("{} min ago", secs / 60),
    }
}

/// The Versions page's "Available updates" section (`installed`: an app is deployed).
pub async fn view(s: &Inner, installed: bool) -> UpdatesView {
    if !installed {
        return UpdatesView {
            state: "not-installed",
            message: "Nothing is installed yet: updates are checked once the app runs.".into(),
            ..Default::default()
        };
    }
    let (st, at) = state(s).await;
    let ns = s.ops.namespace().to_string();
    match st {
        UpdatesState::NoLicense => UpdatesView {
            state: "no-license",
            message: format!(
                "This app was not installed from the vendor server with a license (namespace {ns} has no secret/berth-license), so there is no vendor server to ask. Air-gapped installs get updates as signed bundles from the vendor: berth upgrade -n {ns} --airgap-bundle FILE --pubkey vendor.pub"
            ),
            ..Default::default()
        },
        UpdatesState::Unreachable(why) => UpdatesView {
            state: "unreachable",
            message: format!(
                "The vendor server cannot be reached from the console ({why}). If this install is air-gapped, updates come as signed bundles from the vendor (berth upgrade -n {ns} --airgap-bundle FILE --pubkey vendor.pub); otherwise check the network path to the server, or start the console with --vendor-url to go through a proxy."
            ),
            checked: ago(at),
            ..Default::default()
        },
        UpdatesState::Failed(why) => UpdatesView {
            state: "failed",
            message: format!("The update check failed: {why}"),
            checked: ago(at),
            ..Default::default()
        },
        UpdatesState::Answer(rep) => answer_view(&rep, at),
    }
}

fn answer_view(rep: &berth_ops::online::UpdatesReport, at: Instant) -> UpdatesView {
    let a = &rep.answer;
    // The server refuses every upgrade of an expired license (its record of the license
    // decides: a renewal there counts at once); say so in the page's own words.
    let expired = a
        .refused
        .as_deref()
        .filter(|r| r.contains("expired"))
        .map(|r| {
            format!(
                "The license has expired ({r}): the vendor server offers no upgrade until the vendor renews it. The running app is not affected; ask the vendor for a renewal."
            )
        });
    let refused = if expired.is_some() {
        None
    } else {
        a.refused.clone()
    };
    let mut releases: Vec<ReleaseRow> = Vec::new();
    for (i, r) in a.newer.iter().enumerate() {
        releases.push(ReleaseRow {
            version: r.version.clone(),
            notes: r.notes.clone(),
            required: r.required,
            eol_at: r.eol_at.clone(),
            eol: r.eol.clone(),
            via: a.newer[..i]
                .iter()
                .filter(|x| x.required)
                .map(|x| x.version.clone())
                .collect(),
        });
    }
    releases.reverse();
    UpdatesView {
        state: "answer",
        message: String::new(),
        channel: a.channel.clone(),
        current: rep.current.clone().unwrap_or_default(),
        checked: ago(at),
        url: rep.url.clone(),
        expired: expired.clone(),
        refused: refused.clone(),
        current_eol: a.current_eol.clone(),
        releases,
        can_upgrade: expired.is_none() && refused.is_none(),
    }
}

/// `POST /versions/upgrade` (admin): upgrade to a newer release the last check offered.
pub async fn upgrade(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    let (_, sess) = match change_session(&s, &headers, form.get("csrf").map(String::as_str), true) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let version = form.get("version").cloned().unwrap_or_default();
    if let Some(j) = s.jobs.busy() {
        return versions_view(
            &s,
            &sess,
            Some(format!("{} is still running; wait for it to end", j.title)),
        )
        .await;
    }
    // Only a version the vendor server offered (and allows) on the last check.
    let offered = match s.updates.lock().ok().and_then(|u| u.clone()) {
        Some((_, UpdatesState::Answer(rep))) => {
            rep.answer.refused.is_none()
                && rep
                    .answer
                    .newer
                    .iter()
                    .any(|r| r.version == version && r.eol.is_none())
        }
        _ => false,
    };
    if !offered {
        return versions_view(
            &s,
            &sess,
            Some(format!(
                "{version:?} is not a release the vendor server offers for an upgrade now; check for updates again"
            )),
        )
        .await;
    }
    let app = match s.ops.app() {
        Ok(a) => a.app.metadata.name,
        Err(e) => {
            return error_page(
                &s,
                Some(&sess),
                StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string(),
            );
        }
    };
    spawn_job(
        &s,
        format!("upgrade {app} to {version}"),
        "/versions",
        move |st, sink| async move {
            let r = st.ops.upgrade_to(&version, sink.clone()).await;
            forget(&st);
            match r {
                Ok(reports) if reports.is_empty() => {
                    (true, format!("{app} is already at {version} or newer"))
                }
                Ok(reports) => {
                    let mut ok = true;
                    let mut texts = Vec::new();
                    for r in &reports {
                        let (o, t) = report_text(r);
                        ok &= o;
                        texts.push(t);
                    }
                    (ok, texts.join("; "))
                }
                Err(e) => (false, e.to_string()),
            }
        },
    )
}

/// `POST /troubleshoot/bundles/{file}/send` (admin): send a bundle this console made to the
/// vendor server with the namespace's license.
pub async fn send_bundle(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    let (_, sess) = match change_session(&s, &headers, form.get("csrf").map(String::as_str), true) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if known_bundle(&s, &file).is_none() {
        return error_page(
            &s,
            Some(&sess),
            StatusCode::NOT_FOUND,
            format!("no support bundle {file}"),
        );
    }
    spawn_job(
        &s,
        format!("support bundle upload of {file}"),
        "/troubleshoot",
        move |st, sink| async move {
            match st.ops.send_bundle(&file, sink.clone()).await {
                Ok(info) => {
                    if let Ok(mut list) = st.bundles.lock()
                        && let Some(b) = list.iter_mut().find(|b| b.file == file)
                    {
                        b.sent = Some((info.id.clone(), crate::ops::now()));
                    }
                    sink(OpEvent::Note {
                        text: format!("sha256 {} ({} bytes)", info.sha256, info.size),
                    });
                    (
                        true,
                        format!(
                            "{file} sent to the vendor as support bundle {} of {}",
                            info.id, info.customer
                        ),
                    )
                }
                Err(e) => (false, e.to_string()),
            }
        },
    )
}
