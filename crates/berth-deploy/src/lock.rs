//! The operation lock: a `coordination.k8s.io/v1` Lease named `berth.<app>.lock` in the app's
//! namespace, with a holder and a renewal deadline. A killed berth leaves a Lease that expires;
//! the next run takes it over (at once when the holder was a process on this host that no
//! longer exists) and repairs from the inventory. No state survives that needs a manual step.
//!
//! A run that holds the lock watches it ([`LockWatch`]): every write goes through the watch,
//! which refuses the write once the Lease was taken over by another run, deleted, or could not
//! be renewed for a whole lease duration. The run then stops before its next change and leaves
//! its pending revision for the next run to repair.

use crate::cluster::Cluster;
use crate::object::ObjectRef;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

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

/// Why a run no longer holds its lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostLock {
    /// The app.
    pub app: String,
    /// The run holding the Lease now, when known.
    pub holder: Option<String>,
    /// What happened.
    pub why: String,
}

impl std::fmt::Display for LostLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "this run lost the lock of {}: {}", self.app, self.why)?;
        if let Some(h) = &self.holder {
            write!(f, "; it is now held by {h}")?;
        }
        write!(
            f,
            "; stopped before the next change (the revision this run was writing stays pending, and the next install/upgrade/rollback repairs it)"
        )
    }
}

/// What a run holding the lock makes of one look at its Lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Still ours: renew it.
    Renew,
    /// Could not read it, but the lease has not run out since it was last confirmed: keep going.
    Keep,
    /// Not ours any more.
    Lost {
        /// The new holder, when known.
        holder: Option<String>,
        /// What happened.
        why: String,
    },
}

/// Judge one read of the Lease (`Err` carries the read or renewal error) by a run that last
/// confirmed it `since_confirmed` ago.
pub fn judge(
    observed: Result<Option<&Value>, &str>,
    me: &str,
    since_confirmed: Duration,
    ttl: Duration,
) -> Judgement {
    match observed {
        Ok(Some(l)) => {
            let holder = l
                .pointer("/spec/holderIdentity")
                .and_then(Value::as_str)
                .unwrap_or("");
            if holder == me {
                Judgement::Renew
            } else if holder.is_empty() {
                Judgement::Lost {
                    holder: None,
                    why: "its Lease no longer names a holder".into(),
                }
            } else {
                Judgement::Lost {
                    holder: Some(holder.to_string()),
                    why: "another run took the lock over after this run's lease expired".into(),
                }
            }
        }
        Ok(None) => Judgement::Lost {
            holder: None,
            why: "its Lease was deleted by someone else".into(),
        },
        Err(e) if since_confirmed >= ttl => Judgement::Lost {
            holder: None,
            why: format!(
                "the lease could not be renewed for {}s, its whole duration ({e})",
                since_confirmed.as_secs()
            ),
        },
        Err(_) => Judgement::Keep,
    }
}

struct WatchState {
    confirmed: Instant,
    lost: Option<LostLock>,
}

/// The lock as held by this run: renewed in the background, checked before every write.
pub struct LockWatch {
    app: String,
    lease: ObjectRef,
    me: String,
    ttl: Duration,
    state: tokio::sync::Mutex<WatchState>,
}

impl LockWatch {
    /// A watch over a Lease this run has just acquired.
    pub fn new(app: &str, lease: ObjectRef, me: &str, ttl: Duration) -> LockWatch {
        LockWatch {
            app: app.to_string(),
            lease,
            me: me.to_string(),
            ttl,
            state: tokio::sync::Mutex::new(WatchState {
                confirmed: Instant::now(),
                lost: None,
            }),
        }
    }

    /// Why the lock was lost, if it was.
    pub async fn lost(&self) -> Option<LostLock> {
        self.state.lock().await.lost.clone()
    }

    /// Called before a write to `target`: passes while the lock is ours. A lease not confirmed
    /// for half its duration (the renewal task was starved, or the process was paused) is read
    /// again first, so a run that wakes up after another took over stops here.
    pub async fn check(&self, cluster: &Cluster, target: &ObjectRef) -> Result<(), LostLock> {
        if *target == self.lease {
            return Ok(()); // the lock's own writes
        }
        let mut st = self.state.lock().await;
        if let Some(l) = &st.lost {
            return Err(l.clone());
        }
        if st.confirmed.elapsed() < self.ttl / 2 {
            return Ok(());
        }
        self.confirm_locked(&mut st, cluster).await
    }

    /// Read the Lease and renew it (the renewal task calls this every third of the lease).
    pub async fn confirm(&self, cluster: &Cluster) -> Result<(), LostLock> {
        let mut st = self.state.lock().await;
        if let Some(l) = &st.lost {
            return Err(l.clone());
        }
        self.confirm_locked(&mut st, cluster).await
    }

    async fn confirm_locked(&self, st: &mut WatchState, cluster: &Cluster) -> Result<(), LostLock> {
        let read = cluster.get(&self.lease).await.map_err(|e| e.to_string());
        let judged = judge(
            read.as_ref().map(Option::as_ref).map_err(String::as_str),
            &self.me,
            st.confirmed.elapsed(),
            self.ttl,
        );
        match judged {
            Judgement::Keep => Ok(()),
            Judgement::Lost { holder, why } => {
                let lost = LostLock {
                    app: self.app.clone(),
                    holder,
                    why,
                };
                tracing::warn!("{lost}");
                st.lost = Some(lost.clone());
                Err(lost)
            }
            Judgement::Renew => {
                let Ok(Some(mut l)) = read else {
                    return Ok(());
                };
                l["spec"]["renewTime"] = json!(micro_time(jiff::Timestamp::now()));
                // compare-and-swap on resourceVersion: a takeover in between makes this fail
                match cluster.replace_unguarded(&l).await {
                    Ok(_) => {
                        st.confirmed = Instant::now();
                        Ok(())
                    }
                    Err(e) => match judge(
                        Err(&e.to_string()),
                        &self.me,
                        st.confirmed.elapsed(),
                        self.ttl,
                    ) {
                        Judgement::Lost { why, .. } => {
                            let lost = LostLock {
                                app: self.app.clone(),
                                holder: None,
                                why,
                            };
                            st.lost = Some(lost.clone());
                            Err(lost)
                        }
                        _ => Ok(()),
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_judges_its_lease() {
        let t0 = jiff::Timestamp::now();
        let ttl = Duration::from_secs(60);
        let mine = lease("a", "ns", "me", 60, t0, 0, None);
        let theirs = lease("a", "ns", "berth@h/42/other", 60, t0, 1, None);
        let short = Duration::from_secs(5);
        assert_eq!(judge(Ok(Some(&mine)), "me", short, ttl), Judgement::Renew);
        assert!(matches!(
            judge(Ok(Some(&theirs)), "me", short, ttl),
            Judgement::Lost { holder: Some(h), .. } if h == "berth@h/42/other"
        ));
        assert!(matches!(
            judge(Ok(None), "me", short, ttl),
            Judgement::Lost { holder: None, .. }
        ));
        // a failed renewal is tolerated while the lease lasts, not after
        assert_eq!(judge(Err("timeout"), "me", short, ttl), Judgement::Keep);
        assert!(matches!(
            judge(Err("timeout"), "me", Duration::from_secs(61), ttl),
            Judgement::Lost { holder: None, why } if why.contains("timeout")
        ));
    }

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
