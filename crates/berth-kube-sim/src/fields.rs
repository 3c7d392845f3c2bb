//! Field ownership (managedFields / FieldsV1), server-side apply, and the other patch
//! types (merge, strategic merge with list keys, JSON patch).
//!
//! A field set is a set of leaf paths. Keyed list items appear as `k:{...}` elements
//! (their "." self entry is a path ending in the key element); set items as `v:`.
//! This is the simplification described in docs/formats/sim-profile.md: no defaulting-aware
//! ownership and no version conversion.

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// One element of a field path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pe {
    /// Map key (`f:name`).
    F(String),
    /// Keyed list item (`k:{"name":"app"}`), canonical JSON of the key fields.
    K(String),
    /// Set item (`v:"x"`), JSON of the value.
    V(String),
}

pub type FPath = Vec<Pe>;
pub type FieldSet = BTreeSet<FPath>;

/// How a list at a path merges.
#[derive(Debug, Clone, PartialEq)]
pub enum ListType {
    Atomic,
    Set,
    Map(Vec<&'static str>),
}

fn last_field(path: &[Pe]) -> Option<&str> {
    path.iter().rev().find_map(|p| match p {
        Pe::F(s) => Some(s.as_str()),
        _ => None,
    })
}

/// The list type at `path` (upstream `x-kubernetes-list-type` / `list-map-keys`).
pub fn list_type(path: &[Pe]) -> ListType {
    let Some(Pe::F(name)) = path.last() else {
        return ListType::Atomic;
    };
    match name.as_str() {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => ListType::Map(vec!["name"]),
        "volumeMounts" => ListType::Map(vec!["mountPath"]),
        "volumeDevices" => ListType::Map(vec!["devicePath"]),
        "ownerReferences" => ListType::Map(vec!["uid"]),
        "conditions" => ListType::Map(vec!["type"]),
        "hostAliases" => ListType::Map(vec!["ip"]),
        "topologySpreadConstraints" => ListType::Map(vec!["topologyKey", "whenUnsatisfiable"]),
        "finalizers" if path.len() == 2 && path[0] == Pe::F("metadata".into()) => ListType::Set,
        "ports" => {
            // Container ports sit inside a container item; Service ports at spec.ports.
            let n = path.len();
            if n >= 2 && matches!(path[n - 2], Pe::K(_)) {
                ListType::Map(vec!["containerPort", "protocol"])
            } else if n == 2 && path[0] == Pe::F("spec".into()) {
                ListType::Map(vec!["port", "protocol"])
            } else {
                ListType::Atomic
            }
        }
        _ => ListType::Atomic,
    }
}

/// Maps that are owned as a whole.
fn atomic_map(path: &[Pe]) -> bool {
    matches!(last_field(path), Some("selector" | "nodeSelector"))
        && matches!(path.last(), Some(Pe::F(_)))
}

/// Canonical key of a keyed list item (`protocol` defaults to TCP, as after defaulting).
pub fn item_key(item: &Value, keys: &[&str]) -> String {
    let mut sorted: Vec<&&str> = keys.iter().collect();
    sorted.sort();
    let mut m = Map::new();
    for k in sorted {
        match item.get(*k) {
            Some(v) => {
                m.insert(k.to_string(), v.clone());
            }
            None if *k == "protocol" => {
                m.insert(k.to_string(), json!("TCP"));
            }
            None => {}
        }
    }
    Value::Object(m).to_string()
}

fn is_skipped_top(path: &[Pe], status_sub: bool) -> bool {
    match path {
        [Pe::F(a)] => {
            matches!(a.as_str(), "apiVersion" | "kind")
                || (!status_sub && a == "status")
                || (status_sub && a != "status" && a != "metadata")
        }
        [Pe::F(m), Pe::F(f)] if m == "metadata" => matches!(
            f.as_str(),
            "name"
                | "namespace"
                | "uid"
                | "resourceVersion"
                | "generation"
                | "creationTimestamp"
                | "managedFields"
                | "selfLink"
                | "deletionTimestamp"
                | "deletionGracePeriodSeconds"
        ),
        _ => false,
    }
}

/// Collect the owned leaf paths of an object.
pub fn leaves(obj: &Value, status_sub: bool) -> FieldSet {
    let mut out = FieldSet::new();
    let mut path = Vec::new();
    collect(obj, &mut path, &mut out, status_sub);
    out
}

fn collect(v: &Value, path: &mut FPath, out: &mut FieldSet, status_sub: bool) {
    match v {
        Value::Object(m) if !m.is_empty() && !atomic_map(path) => {
            for (k, c) in m {
                path.push(Pe::F(k.clone()));
                if !is_skipped_top(path, status_sub) {
                    collect(c, path, out, status_sub);
                }
                path.pop();
            }
        }
        Value::Array(a) if !path.is_empty() => match list_type(path) {
            ListType::Map(keys) => {
                for item in a {
                    path.push(Pe::K(item_key(item, &keys)));
                    out.insert(path.clone());
                    if let Value::Object(m) = item {
                        for (k, c) in m {
                            path.push(Pe::F(k.clone()));
                            collect(c, path, out, status_sub);
                            path.pop();
                        }
                    }
                    path.pop();
                }
            }
            ListType::Set => {
                for item in a {
                    path.push(Pe::V(item.to_string()));
                    out.insert(path.clone());
                    path.pop();
                }
            }
            ListType::Atomic => {
                out.insert(path.clone());
            }
        },
        _ => {
            if !path.is_empty() {
                out.insert(path.clone());
            }
        }
    }
}

fn key_matches(item: &Value, key: &str) -> bool {
    let Ok(Value::Object(k)) = serde_json::from_str::<Value>(key) else {
        return false;
    };
    k.iter().all(|(f, v)| match item.get(f) {
        Some(x) => x == v,
        None => f == "protocol" && v == "TCP",
    })
}

/// The value at a path, if present.
pub fn get_at<'a>(v: &'a Value, path: &[Pe]) -> Option<&'a Value> {
    let mut cur = v;
    for pe in path {
        cur = match pe {
            Pe::F(k) => cur.get(k)?,
            Pe::K(k) => cur.as_array()?.iter().find(|i| key_matches(i, k))?,
            Pe::V(s) => {
                let want: Value = serde_json::from_str(s).ok()?;
                cur.as_array()?.iter().find(|i| **i == want)?
            }
        };
    }
    Some(cur)
}

/// Remove the value at a path; then drop maps and list items left empty by the removal.
pub fn remove_at(v: &mut Value, path: &[Pe]) {
    if path.is_empty() {
        return;
    }
    remove_rec(v, path);
}

fn remove_rec(cur: &mut Value, path: &[Pe]) -> bool {
    // Returns true when `cur` became empty because of the removal.
    let (head, rest) = (&path[0], &path[1..]);
    match head {
        Pe::F(k) => {
            let Some(m) = cur.as_object_mut() else {
                return false;
            };
            if rest.is_empty() {
                m.remove(k);
            } else if let Some(child) = m.get_mut(k)
                && remove_rec(child, rest)
            {
                m.remove(k);
            }
            m.is_empty()
        }
        Pe::K(key) => {
            let Some(a) = cur.as_array_mut() else {
                return false;
            };
            let Some(i) = a.iter().position(|x| key_matches(x, key)) else {
                return false;
            };
            if rest.is_empty() || remove_rec(&mut a[i], rest) {
                a.remove(i);
            }
            a.is_empty()
        }
        Pe::V(s) => {
            let Some(a) = cur.as_array_mut() else {
                return false;
            };
            if let Ok(want) = serde_json::from_str::<Value>(s) {
                a.retain(|x| *x != want);
            }
            a.is_empty()
        }
    }
}

/// `.spec.template.spec.containers[name="app"].image`
pub fn display_path(path: &[Pe]) -> String {
    let mut s = String::new();
    for pe in path {
        match pe {
            Pe::F(k) => {
                s.push('.');
                s.push_str(k);
            }
            Pe::K(k) => {
                let parts: Vec<String> = match serde_json::from_str::<Value>(k) {
                    Ok(Value::Object(m)) => m.iter().map(|(f, v)| format!("{f}={v}")).collect(),
                    _ => vec![k.clone()],
                };
                s.push('[');
                s.push_str(&parts.join(","));
                s.push(']');
            }
            Pe::V(v) => {
                s.push_str("[=");
                s.push_str(v);
                s.push(']');
            }
        }
    }
    s
}

/// FieldSet -> FieldsV1 JSON.
pub fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut cur = &mut root;
        for (i, pe) in path.iter().enumerate() {
            let key = match pe {
                Pe::F(k) => format!("f:{k}"),
                Pe::K(k) => format!("k:{k}"),
                Pe::V(v) => format!("v:{v}"),
            };
            let entry = cur.entry(key).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(m) = entry else {
                break;
            };
            cur = m;
            if i == path.len() - 1 && matches!(pe, Pe::K(_)) {
                cur.insert(".".into(), json!({}));
            }
        }
    }
    Value::Object(root)
}

/// FieldsV1 JSON -> FieldSet.
pub fn from_fields_v1(v: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    let mut path = Vec::new();
    parse_fv1(v, &mut path, &mut out);
    out
}

fn parse_fv1(v: &Value, path: &mut FPath, out: &mut FieldSet) {
    let Some(m) = v.as_object() else {
        return;
    };
    for (k, child) in m {
        if k == "." {
            out.insert(path.clone());
            continue;
        }
        let pe = if let Some(r) = k.strip_prefix("f:") {
            Pe::F(r.into())
        } else if let Some(r) = k.strip_prefix("k:") {
            // Re-canonicalise (sorted keys).
            match serde_json::from_str::<Value>(r) {
                Ok(Value::Object(km)) => {
                    let keys: Vec<String> = km.keys().cloned().collect();
                    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                    let _ = refs;
                    let mut sorted: Vec<(&String, &Value)> = km.iter().collect();
                    sorted.sort_by(|a, b| a.0.cmp(b.0));
                    let mut nm = Map::new();
                    for (a, b) in sorted {
                        nm.insert(a.clone(), b.clone());
                    }
                    Pe::K(Value::Object(nm).to_string())
                }
                _ => continue,
            }
        } else if let Some(r) = k.strip_prefix("v:") {
            Pe::V(r.into())
        } else {
            continue;
        };
        path.push(pe);
        if child.as_object().is_none_or(|c| c.is_empty()) {
            out.insert(path.clone());
        } else {
            parse_fv1(child, path, out);
        }
        path.pop();
    }
}

/// One managedFields entry, parsed.
#[derive(Debug, Clone)]
pub struct Managed {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: String,
    pub set: FieldSet,
}

impl Managed {
    fn display(&self) -> String {
        if self.operation == "Apply" {
            format!("\"{}\"", self.manager)
        } else {
            format!("\"{}\" using {}", self.manager, self.api_version)
        }
    }
}

pub fn parse_managed(obj: &Value) -> Vec<Managed> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| Managed {
                    manager: e["manager"].as_str().unwrap_or_default().into(),
                    operation: e["operation"].as_str().unwrap_or("Update").into(),
                    api_version: e["apiVersion"].as_str().unwrap_or_default().into(),
                    time: e["time"].as_str().unwrap_or_default().into(),
                    subresource: e["subresource"].as_str().unwrap_or_default().into(),
                    set: from_fields_v1(&e["fieldsV1"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn write_managed(obj: &mut Value, entries: &[Managed]) {
    let arr: Vec<Value> = entries
        .iter()
        .filter(|e| !e.set.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.set),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    if let Some(m) = obj["metadata"].as_object_mut() {
        if arr.is_empty() {
            m.remove("managedFields");
        } else {
            m.insert("managedFields".into(), Value::Array(arr));
        }
    }
}

/// An SSA conflict: (manager as printed, path as printed).
pub type Conflict = (String, String);

/// Format conflicts the way the API server does.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    let n = conflicts.len();
    let body = if n == 1 {
        format!("conflict with {}: {}", conflicts[0].0, conflicts[0].1)
    } else {
        let mut managers: Vec<&String> = conflicts.iter().map(|c| &c.0).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for m in managers {
            lines.push(format!("conflicts with {m}:"));
            for c in conflicts.iter().filter(|c| &c.0 == m) {
                lines.push(format!("- {}", c.1));
            }
        }
        lines.join("\n")
    };
    format!(
        "Apply failed with {n} conflict{}: {body}",
        if n == 1 { "" } else { "s" }
    )
}

/// Merge `applied` into `live` with SSA semantics (maps recurse, keyed lists by key,
/// sets unioned, everything else replaced).
pub fn merge_apply(live: &mut Value, applied: &Value, path: &mut FPath) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) if !atomic_map(path) => {
            for (k, av) in a {
                path.push(Pe::F(k.clone()));
                match l.get_mut(k) {
                    Some(lv) => merge_apply(lv, av, path),
                    None => {
                        l.insert(k.clone(), av.clone());
                    }
                }
                path.pop();
            }
        }
        (Value::Array(l), Value::Array(a)) => match list_type(path) {
            ListType::Map(keys) => {
                let mut out = Vec::with_capacity(a.len().max(l.len()));
                let akeys: Vec<String> = a.iter().map(|i| item_key(i, &keys)).collect();
                for (item, key) in a.iter().zip(&akeys) {
                    if let Some(li) = l.iter().find(|x| item_key(x, &keys) == *key) {
                        let mut m = li.clone();
                        path.push(Pe::K(key.clone()));
                        merge_apply(&mut m, item, path);
                        path.pop();
                        out.push(m);
                    } else {
                        out.push(item.clone());
                    }
                }
                for li in l.iter() {
                    if !akeys.contains(&item_key(li, &keys)) {
                        out.push(li.clone());
                    }
                }
                *l = out;
            }
            ListType::Set => {
                for item in a {
                    if !l.contains(item) {
                        l.push(item.clone());
                    }
                }
            }
            ListType::Atomic => *l = a.clone(),
        },
        (live, applied) => *live = applied.clone(),
    }
}

/// Server-side apply. `live` is the current object (None: create). Returns the new object
/// (metadata bookkeeping such as rv is left to the store) or the conflicts.
pub fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    api_version: &str,
    force: bool,
    status_sub: bool,
    now: &str,
) -> Result<Value, Vec<Conflict>> {
    let sub = if status_sub { "status" } else { "" };
    let mut managed = live.map(parse_managed).unwrap_or_default();
    // Restrict the applied object to what this endpoint may change.
    let mut applied = applied.clone();
    if let Some(m) = applied.as_object_mut() {
        if status_sub {
            m.retain(|k, _| k == "status" || k == "apiVersion" || k == "kind" || k == "metadata");
        } else {
            m.remove("status");
        }
    }
    let applied_set = leaves(&applied, status_sub);
    let is_self =
        |e: &Managed| e.manager == manager && e.operation == "Apply" && e.subresource == sub;

    let mut conflicts: Vec<(usize, FPath)> = Vec::new();
    if let Some(live) = live {
        for (i, e) in managed.iter().enumerate() {
            if is_self(e) || e.subresource != sub {
                continue;
            }
            for p in &applied_set {
                if matches!(p.last(), Some(Pe::K(_) | Pe::V(_))) {
                    continue;
                }
                if e.set.contains(p) && get_at(live, p) != get_at(&applied, p) {
                    conflicts.push((i, p.clone()));
                }
            }
        }
    }
    if !conflicts.is_empty() {
        if !force {
            return Err(conflicts
                .iter()
                .map(|(i, p)| (managed[*i].display(), display_path(p)))
                .collect());
        }
        for (i, p) in &conflicts {
            managed[*i].set.remove(p);
        }
    }

    let mut obj = match live {
        Some(l) => l.clone(),
        None => json!({}),
    };
    let prev: FieldSet = managed
        .iter()
        .find(|e| is_self(e))
        .map(|e| e.set.clone())
        .unwrap_or_default();
    merge_apply(&mut obj, &applied, &mut Vec::new());

    // Remove fields this manager stopped applying, unless someone else owns them.
    for p in prev.difference(&applied_set) {
        let owned_by_other = managed
            .iter()
            .any(|e| !is_self(e) && e.set.iter().any(|q| q.starts_with(p) || p.starts_with(q)));
        if !owned_by_other {
            remove_at(&mut obj, p);
        }
    }

    match managed.iter_mut().find(|e| is_self(e)) {
        Some(e) => {
            e.set = applied_set;
            e.time = now.to_string();
            e.api_version = api_version.to_string();
        }
        None => managed.push(Managed {
            manager: manager.to_string(),
            operation: "Apply".into(),
            api_version: api_version.to_string(),
            time: now.to_string(),
            subresource: sub.to_string(),
            set: applied_set,
        }),
    }
    if obj.get("metadata").is_none() {
        obj["metadata"] = json!({});
    }
    write_managed(&mut obj, &managed);
    Ok(obj)
}

/// Record an `Update` by `manager` that turned `old` into `new` (ownership of the changed
/// leaves moves to the manager, taken from other Update entries but never from Apply ones).
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    status_sub: bool,
    now: &str,
) {
    let sub = if status_sub { "status" } else { "" };
    let mut managed = old.map(parse_managed).unwrap_or_default();
    let new_leaves = leaves(new, status_sub);
    let changed: FieldSet = match old {
        None => new_leaves,
        Some(o) => new_leaves
            .into_iter()
            .filter(|p| get_at(o, p) != get_at(new, p))
            .collect(),
    };
    if changed.is_empty() {
        write_managed(new, &managed);
        return;
    }
    for e in managed.iter_mut() {
        if e.operation == "Update" && e.manager != manager && e.subresource == sub {
            e.set.retain(|p| !changed.contains(p));
        }
    }
    match managed
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == "Update" && e.subresource == sub)
    {
        Some(e) => {
            e.set.extend(changed);
            e.time = now.to_string();
        }
        None => managed.push(Managed {
            manager: manager.into(),
            operation: "Update".into(),
            api_version: api_version.into(),
            time: now.into(),
            subresource: sub.into(),
            set: changed,
        }),
    }
    write_managed(new, &managed);
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Strategic merge patch: a merge patch where keyed lists merge by their patch merge key,
/// `metadata.finalizers` merges as a set, and `$patch`/`$setElementOrder`/
/// `$deleteFromPrimitiveList`/`$retainKeys` directives are honoured or dropped.
pub fn strategic_merge_patch(target: &mut Value, patch: &Value, path: &mut FPath) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut c = patch.clone();
        if let Some(m) = c.as_object_mut() {
            m.remove("$patch");
        }
        *target = c;
        return;
    }
    if !target.is_object() {
        *target = json!({});
    }
    let Value::Object(t) = target else {
        return;
    };
    for (k, v) in p {
        if k.starts_with("$setElementOrder/") || k == "$retainKeys" || k == "$patch" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Value::Array(del)) = (t.get_mut(field), v) {
                list.retain(|x| !del.contains(x));
            }
            continue;
        }
        path.push(Pe::F(k.clone()));
        if v.is_null() {
            t.remove(k);
        } else if let Value::Array(items) = v {
            let lt = list_type(path);
            let smp_keys: Option<Vec<&str>> = match &lt {
                ListType::Map(keys) => Some(vec![keys[0]]),
                _ => None,
            };
            match (smp_keys, t.get_mut(k)) {
                (Some(keys), Some(Value::Array(live))) => {
                    for item in items {
                        let key = item_key(item, &keys);
                        let pos = live.iter().position(|x| item_key(x, &keys) == key);
                        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
                        match (pos, delete) {
                            (Some(i), true) => {
                                live.remove(i);
                            }
                            (None, true) => {}
                            (Some(i), false) => {
                                path.push(Pe::K(key));
                                strategic_merge_patch(&mut live[i], item, path);
                                path.pop();
                            }
                            (None, false) => live.push(item.clone()),
                        }
                    }
                }
                (None, Some(Value::Array(live))) if lt == ListType::Set => {
                    for item in items {
                        if !live.contains(item) {
                            live.push(item.clone());
                        }
                    }
                }
                _ => {
                    let cleaned: Vec<Value> = items
                        .iter()
                        .filter(|i| i.get("$patch").is_none())
                        .cloned()
                        .collect();
                    t.insert(k.clone(), Value::Array(cleaned));
                }
            }
        } else {
            let entry = t.entry(k.clone()).or_insert(Value::Null);
            if v.is_object() && entry.is_object() && !atomic_map(path) {
                strategic_merge_patch(entry, v, path);
            } else if v.is_object() {
                let mut c = Value::Null;
                strategic_merge_patch(&mut c, v, path);
                *entry = c;
            } else {
                *entry = v.clone();
            }
        }
        path.pop();
    }
}

fn unescape(tok: &str) -> String {
    tok.replace("~1", "/").replace("~0", "~")
}

fn pointer_parent<'a>(doc: &'a mut Value, ptr: &str) -> Result<(&'a mut Value, String), String> {
    if ptr.is_empty() || !ptr.starts_with('/') {
        return Err(format!("invalid JSON pointer {ptr:?}"));
    }
    let (parent, last) = ptr.rsplit_once('/').unwrap_or(("", ptr));
    let target = if parent.is_empty() {
        doc
    } else {
        doc.pointer_mut(parent)
            .ok_or_else(|| format!("doc is missing path: \"{parent}\""))?
    };
    Ok((target, unescape(last)))
}

fn json_add(doc: &mut Value, ptr: &str, v: Value) -> Result<(), String> {
    if ptr.is_empty() {
        *doc = v;
        return Ok(());
    }
    let (parent, key) = pointer_parent(doc, ptr)?;
    match parent {
        Value::Object(m) => {
            m.insert(key, v);
            Ok(())
        }
        Value::Array(a) => {
            if key == "-" {
                a.push(v);
                return Ok(());
            }
            let i: usize = key.parse().map_err(|_| format!("invalid index {key:?}"))?;
            if i > a.len() {
                return Err(format!("index {i} out of bounds"));
            }
            a.insert(i, v);
            Ok(())
        }
        _ => Err(format!("doc is missing path: {ptr:?}")),
    }
}

fn json_remove(doc: &mut Value, ptr: &str) -> Result<Value, String> {
    let (parent, key) = pointer_parent(doc, ptr)?;
    match parent {
        Value::Object(m) => m
            .remove(&key)
            .ok_or_else(|| format!("unable to remove nonexistent key: {key}: missing value")),
        Value::Array(a) => {
            let i: usize = key.parse().map_err(|_| format!("invalid index {key:?}"))?;
            if i >= a.len() {
                return Err(format!("Unable to remove index {i}: out of bounds"));
            }
            Ok(a.remove(i))
        }
        _ => Err(format!("doc is missing path: {ptr:?}")),
    }
}

/// RFC 6902 JSON patch.
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("json patch must be an array of operations")?;
    for op in ops {
        let path = op["path"]
            .as_str()
            .ok_or("json patch operation needs a path")?;
        match op["op"].as_str().unwrap_or_default() {
            "add" => json_add(doc, path, op["value"].clone())?,
            "remove" => {
                json_remove(doc, path)?;
            }
            "replace" => {
                json_remove(doc, path)?;
                json_add(doc, path, op["value"].clone())?;
            }
            "move" => {
                let from = op["from"].as_str().ok_or("move needs from")?;
                let v = json_remove(doc, from)?;
                json_add(doc, path, v)?;
            }
            "copy" => {
                let from = op["from"].as_str().ok_or("copy needs from")?;
                let v = doc
                    .pointer(from)
                    .cloned()
                    .ok_or_else(|| format!("doc is missing from path: {from:?}"))?;
                json_add(doc, path, v)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&op["value"]) {
                    return Err(format!("testing value {path} failed: test failed"));
                }
            }
            other => return Err(format!("Unexpected kind: {other}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": image, "ports": [{"containerPort": 80}]}]}}}})
    }

    #[test]
    fn fields_v1_roundtrip() {
        let set = leaves(&deploy(1, "nginx"), false);
        let v1 = to_fields_v1(&set);
        assert!(
            v1["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"]["."]
                .is_object()
        );
        assert!(v1["f:spec"]["f:selector"].is_object());
        assert_eq!(from_fields_v1(&v1), set);
    }

    #[test]
    fn apply_conflict_then_force() {
        let a = server_side_apply(
            None,
            &deploy(1, "nginx"),
            "helm",
            "apps/v1",
            false,
            false,
            "t",
        )
        .unwrap();
        let err = server_side_apply(
            Some(&a),
            &deploy(3, "nginx"),
            "kubectl",
            "apps/v1",
            false,
            false,
            "t",
        )
        .unwrap_err();
        assert_eq!(
            conflict_message(&err),
            "Apply failed with 1 conflict: conflict with \"helm\": .spec.replicas"
        );
        // Same values are shared, not conflicting.
        assert!(
            server_side_apply(
                Some(&a),
                &deploy(1, "nginx"),
                "kubectl",
                "apps/v1",
                false,
                false,
                "t"
            )
            .is_ok()
        );
        let b = server_side_apply(
            Some(&a),
            &deploy(3, "nginx:2"),
            "kubectl",
            "apps/v1",
            true,
            false,
            "t",
        )
        .unwrap();
        assert_eq!(b["spec"]["replicas"], 3);
        let m = parse_managed(&b);
        let helm = m.iter().find(|e| e.manager == "helm").unwrap();
        assert!(
            !helm
                .set
                .contains(&vec![Pe::F("spec".into()), Pe::F("replicas".into())])
        );
        // helm still co-owns the selector.
        assert!(
            helm.set
                .contains(&vec![Pe::F("spec".into()), Pe::F("selector".into())])
        );
    }

    #[test]
    fn apply_removes_dropped_fields() {
        let mut d = deploy(1, "nginx");
        d["metadata"]["labels"]["extra"] = json!("x");
        let a = server_side_apply(None, &d, "m", "apps/v1", false, false, "t").unwrap();
        let b = server_side_apply(
            Some(&a),
            &deploy(1, "nginx"),
            "m",
            "apps/v1",
            false,
            false,
            "t",
        )
        .unwrap();
        assert!(b["metadata"]["labels"].get("extra").is_none());
        assert_eq!(b["metadata"]["labels"]["app"], "web");
    }

    #[test]
    fn strategic_merge_by_key() {
        let mut t = deploy(1, "nginx");
        let p = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}, {"name": "side", "image": "busybox"}]}}}});
        strategic_merge_patch(&mut t, &p, &mut Vec::new());
        let cs = t["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap();
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0]["image"], "nginx:2");
        assert_eq!(cs[0]["ports"][0]["containerPort"], 80);
    }

    #[test]
    fn json_patch_ops() {
        let mut d = json!({"a": [1, 2], "b": {"c": 1}});
        json_patch(&mut d, &json!([{"op": "add", "path": "/a/-", "value": 3}, {"op": "remove", "path": "/b/c"}, {"op": "replace", "path": "/a/0", "value": 9}])).unwrap();
        assert_eq!(d, json!({"a": [9, 2, 3], "b": {}}));
        assert!(json_patch(&mut d, &json!([{"op": "test", "path": "/a/0", "value": 1}])).is_err());
    }
}
