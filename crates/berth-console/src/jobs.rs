//! Operations running in the console: each job keeps every event it reported, so a page that
//! connects late (or reconnects) replays them from the start, then follows live.

use crate::ops::OpEvent;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// One running or finished operation.
pub struct Job {
    /// Its id (in `/jobs/<id>`).
    pub id: u64,
    /// What it does (`deploy hello 1.0.0`).
    pub title: String,
    /// A page to go to when it is done.
    pub next: String,
    events: Mutex<Vec<OpEvent>>,
    count: watch::Sender<usize>,
}

impl Job {
    /// Record an event and wake every listener.
    pub fn push(&self, e: OpEvent) {
        let n = match self.events.lock() {
            Ok(mut v) => {
                v.push(e);
                v.len()
            }
            Err(_) => return,
        };
        self.count.send_replace(n);
    }

    /// Events from index `from` on.
    pub fn since(&self, from: usize) -> Vec<OpEvent> {
        self.events
            .lock()
            .map(|v| v.get(from..).map(<[OpEvent]>::to_vec).unwrap_or_default())
            .unwrap_or_default()
    }

    /// Whether the job has ended (its last event is `done`).
    pub fn done(&self) -> bool {
        self.events
            .lock()
            .map(|v| matches!(v.last(), Some(OpEvent::Done { .. })))
            .unwrap_or(true)
    }

    /// A receiver that changes whenever an event is pushed.
    pub fn subscribe(&self) -> watch::Receiver<usize> {
        self.count.subscribe()
    }
}

/// Every job of this console process (newest kept; the oldest dropped beyond 100).
#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<BTreeMap<u64, Arc<Job>>>,
    next: Mutex<u64>,
}

impl Jobs {
    /// Register a new job.
    pub fn start(&self, title: String, next: String) -> Arc<Job> {
        let id = match self.next.lock() {
            Ok(mut n) => {
                *n += 1;
                *n
            }
            Err(_) => 0,
        };
        let (count, _) = watch::channel(0);
        let job = Arc::new(Job {
            id,
            title,
            next,
            events: Mutex::new(Vec::new()),
            count,
        });
        if let Ok(mut m) = self.jobs.lock() {
            m.insert(id, job.clone());
            while m.len() > 100 {
                m.pop_first();
            }
        }
        job
    }

    /// A job by id.
    pub fn get(&self, id: u64) -> Option<Arc<Job>> {
        self.jobs.lock().ok()?.get(&id).cloned()
    }

    /// The newest `n` jobs: (id, title and state).
    pub fn recent(&self, n: usize) -> Vec<(u64, String)> {
        let Ok(m) = self.jobs.lock() else {
            return Vec::new();
        };
        m.values()
            .rev()
            .take(n)
            .map(|j| {
                let state = match j.since(0).last() {
                    Some(OpEvent::Done { ok: true, .. }) => "succeeded",
                    Some(OpEvent::Done { ok: false, .. }) => "failed",
                    _ => "running",
                };
                (j.id, format!("{}: {state}", j.title))
            })
            .collect()
    }

    /// Whether a job that changes the app is running (one at a time; the engine's lock
    /// refuses a second anyway, this says it earlier).
    pub fn busy(&self) -> Option<Arc<Job>> {
        self.jobs
            .lock()
            .ok()?
            .values()
            .rev()
            .find(|j| !j.done() && !j.title.starts_with("support bundle"))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn late_listener_replays_then_follows() {
        let jobs = Jobs::default();
        let j = jobs.start("deploy".into(), "/".into());
        j.push(OpEvent::Phase { text: "a".into() });
        let mut rx = j.subscribe();
        assert_eq!(j.since(0).len(), 1);
        assert!(!j.done());
        assert!(jobs.busy().is_some());
        j.push(OpEvent::Done {
            ok: true,
            text: "ok".into(),
        });
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow(), 2);
        assert_eq!(j.since(1).len(), 1);
        assert!(j.done());
        assert!(jobs.busy().is_none());
        assert_eq!(jobs.get(j.id).unwrap().title, "deploy");
    }
}
