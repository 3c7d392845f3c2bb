//! What the console's page benchmarks share: logging in through a router's form and timing
//! page requests in-process (server time, no network).

use axum::body::Body;
use axum::http::{Request, header};
use std::time::Instant;
use tower::ServiceExt as _;

pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The value at fraction `p` of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Log in through the form at `login_path`, posting `credential` (`password=…`, `token=…`)
/// with the form's CSRF token; returns the cookie named `cookie` (`name=value`).
pub async fn session(
    app: &axum::Router,
    login_path: &str,
    credential: &str,
    cookie: &str,
) -> Res<String> {
    let r = app
        .clone()
        .oneshot(Request::get(login_path).body(Body::empty())?)
        .await?;
    let pre = r
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or("no login cookie")?
        .to_string();
    let body = axum::body::to_bytes(r.into_body(), usize::MAX).await?;
    let html = String::from_utf8_lossy(&body);
    let at = html.find("name=\"csrf\" value=\"").ok_or("no token")? + 19;
    let csrf = html[at..].split('"').next().ok_or("no token")?;
    let r = app
        .clone()
        .oneshot(
            Request::post(login_path)
                .header(header::COOKIE, &pre)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("csrf={csrf}&{credential}")))?,
        )
        .await?;
    let prefix = format!("{cookie}=");
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&prefix))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
        .ok_or_else(|| "login failed".into())
}

/// `runs` GETs of `path` with `cookie`: the sorted times in ms, and the last body's size.
pub async fn time_page(
    app: &axum::Router,
    path: &str,
    cookie: &str,
    runs: usize,
) -> Res<(Vec<f64>, usize)> {
    let mut ms = Vec::with_capacity(runs);
    let mut size = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let r = app
            .clone()
            .oneshot(
                Request::get(path)
                    .header(header::COOKIE, cookie)
                    .body(Body::empty())?,
            )
            .await?;
        let status = r.status();
        let body = axum::body::to_bytes(r.into_body(), usize::MAX).await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        if !status.is_success() {
            return Err(format!("{path} answered {status}").into());
        }
        size = body.len();
    }
    ms.sort_by(f64::total_cmp);
    Ok((ms, size))
}
