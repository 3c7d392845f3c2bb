//! Simulated time: when a kubelet's probes first let a container count as ready, on a clock
//! the profile speeds up (`timeScale`: Kubernetes durations from manifests are divided by it).

use serde_json::Value;
use std::time::Duration;

/// Seconds of a probe field, or the Kubernetes default.
fn secs(probe: &Value, field: &str, default: u64) -> u64 {
    probe[field].as_u64().unwrap_or(default)
}

/// When a probe first succeeds, in unscaled seconds after the container starts: the kubelet
/// probes at start and then every `periodSeconds`, skipping probes before
/// `initialDelaySeconds`, and needs `successThreshold` successes in a row.
fn first_success(probe: &Value) -> u64 {
    if !probe.is_object() {
        return 0;
    }
    let delay = secs(probe, "initialDelaySeconds", 0);
    let period = secs(probe, "periodSeconds", 10).max(1);
    let threshold = secs(probe, "successThreshold", 1).max(1);
    let first = delay.div_ceil(period) * period;
    first + (threshold - 1) * period
}

/// How long after start a container's readiness gate opens: its startupProbe must pass first,
/// then its readinessProbe (real time divided by `scale`).
pub fn ready_after(container: &Value, scale: f64) -> Duration {
    let startup = first_success(&container["startupProbe"]);
    let readiness = first_success(&container["readinessProbe"]);
    // The readiness prober starts once startup has succeeded.
    let total = if container["startupProbe"].is_object() && container["readinessProbe"].is_object()
    {
        startup + readiness
    } else {
        startup.max(readiness)
    };
    scaled(total as f64, scale)
}

/// `secs` of simulated time as wall time under `scale`.
pub fn scaled(secs: f64, scale: f64) -> Duration {
    let scale = if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    };
    Duration::from_secs_f64((secs / scale).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn probe_schedules() {
        let c = json!({"readinessProbe": {"initialDelaySeconds": 5, "periodSeconds": 10}});
        assert_eq!(ready_after(&c, 1.0), Duration::from_secs(10));
        assert_eq!(ready_after(&c, 10.0), Duration::from_secs(1));
        let c = json!({"readinessProbe": {"initialDelaySeconds": 6, "periodSeconds": 3, "successThreshold": 2}});
        assert_eq!(ready_after(&c, 1.0), Duration::from_secs(9));
        let c = json!({"readinessProbe": {"httpGet": {"port": 80}}});
        assert_eq!(ready_after(&c, 1.0), Duration::ZERO);
        let c = json!({"startupProbe": {"initialDelaySeconds": 20, "periodSeconds": 5},
            "readinessProbe": {"initialDelaySeconds": 2, "periodSeconds": 2}});
        assert_eq!(ready_after(&c, 1.0), Duration::from_secs(22));
        assert_eq!(ready_after(&json!({"name": "c"}), 1.0), Duration::ZERO);
    }
}
