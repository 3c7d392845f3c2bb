//! The object store: every object as JSON, keyed by group/resource then namespace/name,
//! one global resourceVersion counter, a broadcast channel of changes and a bounded history
//! of them (watch resume; older resourceVersions get 410 Expired).

use crate::catalog::{self, ResourceType};
use crate::profile::Profile;
use crate::status::ApiError;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// group, plural
pub type Gr = (String, String);

/// Watch event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvType {
    Added,
    Modified,
    Deleted,
}

/// One change, as kept in history and sent to watchers.
#[derive(Debug)]
pub struct WatchEvent {
    pub rv: u64,
    pub gr: Gr,
    pub ns: String,
    pub typ: EvType,
    pub obj: Arc<Value>,
    pub old: Option<Arc<Value>>,
    /// Estimated bytes this change keeps alive (the object before and after).
    pub bytes: usize,
}

/// Default number of changes kept for watch resume.
pub const HISTORY: usize = 50_000;

/// Default byte budget of the watch history (like a real API server's compaction, old
/// changes go first; a watch from before them gets 410 Expired).
pub const HISTORY_BYTES: usize = 64 * 1024 * 1024;

/// An estimate of a JSON value's in-memory size: string and key bytes plus a fixed
/// overhead per node (cheap: no serialisation).
pub fn value_bytes(v: &Value) -> usize {
    const NODE: usize = 32;
    match v {
        Value::String(s) => NODE + s.len(),
        Value::Array(a) => NODE + a.iter().map(value_bytes).sum::<usize>(),
        Value::Object(m) => {
            NODE + m
                .iter()
                .map(|(k, v)| NODE + k.len() + value_bytes(v))
                .sum::<usize>()
        }
        _ => NODE,
    }
}

/// The in-memory cluster state.
pub struct Store {
    pub rv: u64,
    pub profile: Profile,
    pub minor: u32,
    pub builtin: Vec<ResourceType>,
    pub types: Vec<ResourceType>,
    /// Bumped when the served set changes (OpenAPI hash, discovery).
    pub types_gen: u64,
    pub objects: HashMap<Gr, BTreeMap<(String, String), Arc<Value>>>,
    pub history: VecDeque<Arc<WatchEvent>>,
    pub history_cap: usize,
    /// Sum of `bytes` over `history`.
    pub history_bytes: usize,
    pub history_byte_cap: usize,
    pub tx: broadcast::Sender<Arc<WatchEvent>>,
    /// uid -> when the simulated kubelet first saw the pod (for delays and restarts).
    pub born: HashMap<String, Instant>,
    /// uid -> resourceVersion of pods the kubelet has nothing more to do for.
    pub settled: HashMap<String, String>,
    /// uid -> the refused connection of a pod that runs to completion, decided when its
    /// containers start (network.rs).
    pub network: HashMap<String, Option<crate::network::Refused>>,
    /// Bumped on every pod write (Services recompute Endpoints only when it moved).
    pub pods_gen: u64,
    pub endpoints_gen: u64,
    pub endpoints_seen: HashMap<String, String>,
    /// The earliest moment a controller asked to look again (a Job's pod that finishes then,
    /// a container that becomes ready then); the controller loop wakes for it.
    pub wake: Option<Instant>,
    /// Event dedup index: (involved uid, reason, message) -> (namespace, event name).
    pub event_index: HashMap<(String, String, String), (String, String)>,
    /// Last time a throttled event was recorded, by (involved uid, reason, message).
    pub event_last: HashMap<(String, String, String), Instant>,
    pub need_gc: bool,
    pub dirty: bool,
    pub next_ip: u32,
    pub next_pod_ip: u32,
    pub next_node_port: u32,
}

pub fn now_str() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

const SUFFIX_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A random suffix like the API server's generateName (5 chars).
pub fn random_suffix(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| SUFFIX_CHARS[rng.gen_range(0..SUFFIX_CHARS.len())] as char)
        .collect()
}

fn eq_ignoring_managed(a: &Value, b: &Value) -> bool {
    let (Some(ao), Some(bo)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    if ao.len() != bo.len() {
        return false;
    }
    for (k, av) in ao {
        let Some(bv) = bo.get(k) else {
            return false;
        };
        if k == "metadata" {
            let (Some(am), Some(bm)) = (av.as_object(), bv.as_object()) else {
                return av == bv;
            };
            let ak = am.iter().filter(|(k, _)| *k != "managedFields");
            let bk = bm.iter().filter(|(k, _)| *k != "managedFields");
            if ak.count() != bk.count() {
                return false;
            }
            for (k, v) in am {
                if k != "managedFields" && bm.get(k) != Some(v) {
                    return false;
                }
            }
        } else if av != bv {
            return false;
        }
    }
    true
}

/// Generation bumps on changes outside metadata and status.
fn spec_changed(old: &Value, new: &Value) -> bool {
    let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else {
        return old != new;
    };
    let skip = |k: &str| matches!(k, "metadata" | "status" | "apiVersion" | "kind");
    let ok: Vec<_> = o.iter().filter(|(k, _)| !skip(k)).collect();
    let nk: Vec<_> = n.iter().filter(|(k, _)| !skip(k)).collect();
    if ok.len() != nk.len() {
        return true;
    }
    ok.iter().any(|(k, v)| n.get(*k) != Some(*v))
}

impl Store {
    pub fn new(profile: Profile) -> Store {
        let (_, minor, _) = profile.version_parts().unwrap_or((1, 32, "v1.32.0".into()));
        let builtin = catalog::builtin_types(minor, profile.distribution == "openshift");
        let (tx, _) = broadcast::channel(16_384);
        Store {
            rv: 1,
            profile,
            minor,
            types: builtin.clone(),
            builtin,
            types_gen: 1,
            objects: HashMap::new(),
            history: VecDeque::new(),
            history_cap: HISTORY,
            history_bytes: 0,
            history_byte_cap: HISTORY_BYTES,
            tx,
            born: HashMap::new(),
            settled: HashMap::new(),
            network: HashMap::new(),
            pods_gen: 0,
            endpoints_gen: u64::MAX,
            endpoints_seen: HashMap::new(),
            wake: None,
            event_index: HashMap::new(),
            event_last: HashMap::new(),
            need_gc: false,
            dirty: false,
            next_ip: 10,
            next_pod_ip: 10,
            next_node_port: 30000,
        }
    }

    /// Served type for a URL's group/version/plural.
    pub fn find_type(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// The type for a built-in group/plural, whatever the version.
    pub fn type_for(&self, group: &str, plural: &str) -> Option<ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.plural == plural)
            .cloned()
    }

    pub fn get(&self, gr: &Gr, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.objects
            .get(gr)?
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    pub fn get_core(&self, plural: &str, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.get(&(String::new(), plural.to_string()), ns, name)
    }

    /// All objects of a group/resource, optionally in one namespace.
    pub fn list(&self, gr: &Gr, ns: Option<&str>) -> Vec<Arc<Value>> {
        let Some(m) = self.objects.get(gr) else {
            return vec![];
        };
        match ns {
            Some(ns) => m
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|(_, v)| v.clone())
                .collect(),
            None => m.values().cloned().collect(),
        }
    }

    fn emit(&mut self, mut ev: WatchEvent) {
        ev.bytes = value_bytes(&ev.obj) + ev.old.as_deref().map_or(0, value_bytes);
        let ev = Arc::new(ev);
        self.history_bytes += ev.bytes;
        self.history.push_back(ev.clone());
        self.trim_history();
        self.dirty = true;
        let _ = self.tx.send(ev);
    }

    /// Drop the oldest changes beyond the count or byte budget (the newest always stays,
    /// so a watch from the current resourceVersion can resume).
    pub fn trim_history(&mut self) {
        while self.history.len() > 1
            && (self.history.len() > self.history_cap || self.history_bytes > self.history_byte_cap)
        {
            if let Some(old) = self.history.pop_front() {
                self.history_bytes = self.history_bytes.saturating_sub(old.bytes);
            }
        }
    }

    /// Oldest resourceVersion a watch can resume from.
    pub fn oldest_resumable(&self) -> u64 {
        match self.history.front() {
            Some(e) => e.rv.saturating_sub(1),
            None => self.rv,
        }
    }

    /// Store `obj` (a create when `old` is None). Bumps rv and emits unless nothing changed.
    /// Sets generation when the spec changed.
    /// Asks the controller loop to pass again `after` from now (the earliest request wins).
    pub fn wake_in(&mut self, after: Duration) {
        let at = Instant::now() + after;
        self.wake = Some(self.wake.map_or(at, |w| w.min(at)));
    }

    pub fn commit(&mut self, gr: &Gr, mut obj: Value, old: Option<Arc<Value>>) -> Arc<Value> {
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if let Some(o) = &old {
            obj["metadata"]["resourceVersion"] = o["metadata"]["resourceVersion"].clone();
            let gen_ = o["metadata"]["generation"].as_i64().unwrap_or(1);
            let mut g = gen_;
            if spec_changed(o, &obj) {
                g += 1;
            }
            if o["metadata"].get("deletionTimestamp").is_none()
                && obj["metadata"].get("deletionTimestamp").is_some()
            {
                g += 1;
            }
            obj["metadata"]["generation"] = json!(g);
            if eq_ignoring_managed(o, &obj) {
                return o.clone();
            }
        }
        self.rv += 1;
        if gr.0.is_empty() && gr.1 == "pods" {
            self.pods_gen += 1;
        }
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let arc = Arc::new(obj);
        self.objects
            .entry(gr.clone())
            .or_default()
            .insert((ns.clone(), name), arc.clone());
        let typ = if old.is_some() {
            EvType::Modified
        } else {
            EvType::Added
        };
        self.emit(WatchEvent {
            rv: self.rv,
            gr: gr.clone(),
            ns,
            typ,
            obj: arc.clone(),
            old,
            bytes: 0,
        });
        if gr.0 == "apiextensions.k8s.io" {
            self.refresh_crd_types();
        }
        arc
    }

    /// Remove an object for good (DELETED carries the last state with a new rv).
    pub fn remove(&mut self, gr: &Gr, ns: &str, name: &str) -> Option<Arc<Value>> {
        let old = self
            .objects
            .get_mut(gr)?
            .remove(&(ns.to_string(), name.to_string()))?;
        self.rv += 1;
        if gr.0.is_empty() && gr.1 == "pods" {
            self.pods_gen += 1;
        }
        let mut last = (*old).clone();
        last["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let last = Arc::new(last);
        self.emit(WatchEvent {
            rv: self.rv,
            gr: gr.clone(),
            ns: ns.to_string(),
            typ: EvType::Deleted,
            obj: last.clone(),
            old: Some(old),
            bytes: 0,
        });
        if let Some(uid) = last["metadata"]["uid"].as_str() {
            self.born.remove(uid);
            self.settled.remove(uid);
            self.network.remove(uid);
        }
        self.need_gc = true;
        if gr.0 == "apiextensions.k8s.io" {
            self.refresh_crd_types();
        }
        Some(last)
    }

    /// Recompute the served types from Established CRDs.
    pub fn refresh_crd_types(&mut self) {
        let mut types = self.builtin.clone();
        let gr: Gr = (
            "apiextensions.k8s.io".into(),
            "customresourcedefinitions".into(),
        );
        for crd in self.list(&gr, None) {
            let established = crd["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Established" && c["status"] == "True")
            });
            if established && crd["metadata"].get("deletionTimestamp").is_none() {
                for t in catalog::crd_types(&crd) {
                    if !types.iter().any(|x| {
                        x.group == t.group && x.version == t.version && x.plural == t.plural
                    }) {
                        types.push(t);
                    }
                }
            }
        }
        if types != self.types {
            self.types = types;
            self.types_gen += 1;
        }
    }

    /// Fill uid, creationTimestamp, generation, name from generateName.
    pub fn prepare_create(&self, obj: &mut Value) {
        let md = &mut obj["metadata"];
        if md
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
            && let Some(g) = md.get("generateName").and_then(Value::as_str)
        {
            md["name"] = json!(format!("{g}{}", random_suffix(5)));
        }
        md["uid"] = json!(uuid::Uuid::new_v4().to_string());
        md["creationTimestamp"] = json!(now_str());
        md["generation"] = json!(1);
        if let Some(m) = md.as_object_mut() {
            m.remove("deletionTimestamp");
            m.remove("resourceVersion");
            m.remove("selfLink");
        }
    }

    /// Check the namespace of a namespaced write exists and is not terminating.
    pub fn check_namespace(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        create: bool,
    ) -> Result<(), ApiError> {
        if !rt.namespaced {
            return Ok(());
        }
        match self.get_core("namespaces", "", ns) {
            None => Err(ApiError::namespace_not_found(ns)),
            Some(n) if create && n["metadata"].get("deletionTimestamp").is_some() => {
                Err(ApiError::forbidden_terminating(rt, name, ns))
            }
            Some(_) => Ok(()),
        }
    }

    /// Record a core/v1 Event about `involved` (deduplicated: repeats bump count).
    /// [`Store::record_event`], at most once per `every` for the same object, reason and message
    /// (controllers and the kubelet retry every tick; real ones back off).
    pub fn record_event_every(
        &mut self,
        involved: &Value,
        warning: bool,
        reason: &str,
        message: &str,
        component: &str,
        every: std::time::Duration,
    ) {
        let key = (
            involved["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            reason.to_string(),
            message.to_string(),
        );
        if self
            .event_last
            .get(&key)
            .is_some_and(|t| t.elapsed() < every)
        {
            return;
        }
        self.event_last.insert(key, Instant::now());
        self.record_event(involved, warning, reason, message, component);
    }

    pub fn record_event(
        &mut self,
        involved: &Value,
        warning: bool,
        reason: &str,
        message: &str,
        component: &str,
    ) {
        let md = &involved["metadata"];
        let uid = md["uid"].as_str().unwrap_or_default().to_string();
        let ns = md["namespace"].as_str().unwrap_or("default").to_string();
        let ns = if ns.is_empty() {
            "default".to_string()
        } else {
            ns
        };
        let key = (uid.clone(), reason.to_string(), message.to_string());
        let gr: Gr = (String::new(), "events".into());
        let now = now_str();
        if let Some((ens, ename)) = self.event_index.get(&key).cloned()
            && let Some(old) = self.get(&gr, &ens, &ename)
        {
            let mut ev = (*old).clone();
            ev["count"] = json!(ev["count"].as_i64().unwrap_or(1) + 1);
            ev["lastTimestamp"] = json!(now);
            self.commit(&gr, ev, Some(old));
            return;
        }
        let name = format!(
            "{}.{:x}",
            md["name"].as_str().unwrap_or("unknown"),
            rand::random::<u64>() & 0xffff_ffff_ffff
        );
        let mut ev = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": md["name"],
                "namespace": md["namespace"],
                "uid": md["uid"],
                "resourceVersion": md["resourceVersion"],
            },
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": if warning { "Warning" } else { "Normal" },
            "eventTime": null,
            "reportingComponent": component,
            "reportingInstance": "",
        });
        if involved["kind"] == "Pod"
            && let Some(node) = involved["spec"]["nodeName"].as_str()
            && component == "kubelet"
        {
            ev["source"]["host"] = json!(node);
        }
        if md["namespace"].is_null()
            && let Some(m) = ev["involvedObject"].as_object_mut()
        {
            m.remove("namespace");
        }
        self.prepare_create(&mut ev);
        self.commit(&gr, ev, None);
        self.event_index.insert(key, (ns, name));
    }
}
