//! Fault injection: per-object annotations (`sim.berth.dev/*`) and profile-level faults.
//! The annotation names are documented in docs/formats/sim-profile.md.

use crate::profile::ProfileFaults;
use crate::status::ApiError;
use serde_json::Value;
use std::time::Duration;

/// `sim.berth.dev/fail`: image-pull | crashloop | readiness | job-failed | unschedulable | pvc-pending
pub const FAIL: &str = "sim.berth.dev/fail";
/// `sim.berth.dev/ready-after`: pods become ready this long after starting (e.g. `2s`).
pub const READY_AFTER: &str = "sim.berth.dev/ready-after";
/// `sim.berth.dev/log`: the container output (lines separated by `\n`).
pub const LOG: &str = "sim.berth.dev/log";
/// `sim.berth.dev/exit-code`: exit code of crash-looping or failing containers (default 1).
pub const EXIT_CODE: &str = "sim.berth.dev/exit-code";
/// `sim.berth.dev/run-for`: how long Job pods run before they finish (default 1s).
pub const RUN_FOR: &str = "sim.berth.dev/run-for";

/// A fault an object asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fail {
    ImagePull,
    CrashLoop,
    Readiness,
    JobFailed,
    Unschedulable,
    PvcPending,
}

impl Fail {
    pub fn parse(s: &str) -> Option<Fail> {
        Some(match s.trim() {
            "image-pull" => Fail::ImagePull,
            "crashloop" => Fail::CrashLoop,
            "readiness" => Fail::Readiness,
            "job-failed" => Fail::JobFailed,
            "unschedulable" => Fail::Unschedulable,
            "pvc-pending" => Fail::PvcPending,
            _ => return None,
        })
    }
}

pub fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj["metadata"]["annotations"][key].as_str()
}

/// Faults named by an object's `sim.berth.dev/fail` annotation (comma-separated).
pub fn fails(obj: &Value) -> Vec<Fail> {
    annotation(obj, FAIL)
        .map(|s| s.split(',').filter_map(Fail::parse).collect())
        .unwrap_or_default()
}

pub fn has(obj: &Value, f: Fail) -> bool {
    fails(obj).contains(&f)
}

pub fn ready_after(obj: &Value, profile: &ProfileFaults) -> Duration {
    annotation(obj, READY_AFTER)
        .and_then(crate::parse_duration)
        .or_else(|| {
            profile
                .ready_delay
                .as_deref()
                .and_then(crate::parse_duration)
        })
        .unwrap_or(Duration::ZERO)
}

/// Does `image` match a pattern list (exact, or `prefix*`)?
pub fn image_matches(image: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => image.starts_with(prefix),
        None => image == p,
    })
}

/// A profile-level API error, at the configured rate.
pub fn api_error(f: &ProfileFaults) -> Option<ApiError> {
    if f.api_error_rate <= 0.0 || rand::random::<f64>() >= f.api_error_rate {
        return None;
    }
    Some(match f.api_error_code {
        429 => ApiError::new(
            429,
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later (injected by the simulator profile: faults.apiErrorRate)",
        )
        .with_details(serde_json::json!({"retryAfterSeconds": 1})),
        503 => ApiError::new(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request (injected by the simulator profile: faults.apiErrorRate)",
        ),
        _ => ApiError::new(
            500,
            "InternalError",
            "Internal error occurred: injected by the simulator profile (faults.apiErrorRate)",
        ),
    })
}
