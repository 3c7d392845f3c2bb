//! The operation lock: a `coordination.k8s.io/v1` Lease named `berth.<app>.lock` in the app's
//! namespace, with a holder and a renewal deadline. A killed berth leaves a Lease that expires;
//! the next run takes it over (at once when the holder was a process on this host that no
//! longer exists) and repairs from the inventory. No state survives that needs a manual step.

use serde_json::{Value, json};

/// What to do about the lock.
#[derive(Debug, Clone, PartialEq)]
pub enum LockState {
    /// No Lease: create one.
    Free,
    /// The Lease is ours already.
    Mine,
    /// Held by someone whose lease expired (or whose process is gone): take it over.
    Abandoned {
        /// The previous holder.
        holder: String,
    },
    /// Held and live.
    Held {
        /// The holder.
        holder: String,
        /// Seconds until it expires unless renewed.
        remaining: f64,
    },
}

/// The identity berth writes as holder: `berth@HOST/PID/TOKEN`.
pub fn identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let token = hex::encode(sha2::Digest::finalize(
        <sha2::Sha256 as sha2::Digest>::new_with_prefix(format!(
            "{}{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        )),
    ));
    format!("berth@{host}/{}/{}", std::process::id(), &token[..8])
}

fn holder_process_gone(holder: &str) -> bool {
    let Some(rest) = holder.strip_prefix("berth@") else {
        return false;
    };
    let mut parts = rest.splitn(3, '/');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    let me = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if host != me || pid.parse::<u32>().is_err() {
        return false;
    }
    if pid == std::process::id().to_string() {
        return false;
    }
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Decide from the live Lease (if any).
pub fn state(lease: Option<&Value>, me: &str, now: jiff::Timestamp) -> LockState {
    let Some(l) = lease else {
        return LockState::Free;
    };
    let holder = l
        .pointer("/spec/holderIdentity")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if holder.is_empty() {
        return LockState::Abandoned { holder };
    }
    if holder == me {
        return LockState::Mine;
    }
    if holder_process_gone(&holder) {
        return LockState::Abandoned { holder };
    }
    let dur = l
        .pointer("/spec/leaseDurationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0) as f64;
    let renewed = l
        .pointer("/spec/renewTime")
        .or_else(|| l.pointer("/spec/acquireTime"))
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let Some(renewed) = renewed else {
        return LockState::Abandoned { holder };
    };
    let age = now.duration_since(renewed).as_secs_f64();
    if age >= dur {
        LockState::Abandoned { holder }
    } else {
        LockState::Held {
            holder,
            remaining: dur - age,
        }
    }
}

/// Format a Kubernetes MicroTime.
pub fn micro_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}

/// The Lease object berth writes.
pub fn lease(
    app: &str,
    namespace: &str,
    me: &str,
    ttl_seconds: u32,
    now: jiff::Timestamp,
    transitions: i64,
    resource_version: Option<&str>,
) -> Value {
    let mut v = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": crate::inventory::lease_name(app),
            "namespace": namespace,
            "labels": { crate::object::LABEL_APP: app, crate::object::LABEL_KIND: "lock" },
        },
        "spec": {
            "holderIdentity": me,
            "leaseDurationSeconds": ttl_seconds,
            "acquireTime": micro_time(now),
            "renewTime": micro_time(now),
            "leaseTransitions": transitions,
        }
    });
    if let Some(rv) = resource_version {
        v["metadata"]["resourceVersion"] = json!(rv);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let now: jiff::Timestamp = "2026-11-26T17:00:30Z".parse().unwrap();
        let t0: jiff::Timestamp = "2026-11-26T17:00:00Z".parse().unwrap();
        assert_eq!(state(None, "me", now), LockState::Free);
        let l = lease("a", "ns", "other@remote-host/1/x", 60, t0, 0, None);
        assert!(
            matches!(state(Some(&l), "me", now), LockState::Held { remaining, .. } if (remaining - 30.0).abs() < 0.01)
        );
        let l = lease("a", "ns", "other@remote-host/1/x", 10, t0, 0, None);
        assert!(matches!(
            state(Some(&l), "me", now),
            LockState::Abandoned { .. }
        ));
        let l = lease("a", "ns", "me", 10, t0, 0, None);
        assert_eq!(state(Some(&l), "me", now), LockState::Mine);
        assert_eq!(micro_time(t0), "2026-11-26T17:00:00.000000Z");
    }

    #[test]
    fn dead_local_holder_is_abandoned_at_once() {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        // pid 0x7ffffff0 does not exist
        let holder = format!("berth@{}/{}/abc", host.trim(), 0x7fff_fff0u32);
        let now = jiff::Timestamp::now();
        let l = lease("a", "ns", &holder, 3600, now, 0, None);
        assert!(matches!(
            state(Some(&l), "me", now),
            LockState::Abandoned { .. }
        ));
        // a live local holder (this process) is respected
        let holder = format!("berth@{}/{}/abc", host.trim(), std::process::id());
        let l = lease("a", "ns", &holder, 3600, now, 0, None);
        assert!(matches!(state(Some(&l), "me", now), LockState::Held { .. }));
    }
}
