//! The state dir: `state.json` holds every object and the resourceVersion counter, saved
//! atomically (write to a temporary file, then rename) about once a second when something
//! changed, and on shutdown. Format: docs/formats/sim-profile.md ("State directory").

use crate::store::Store;
use crate::{Shared, SimError};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub const FILE: &str = "state.json";
pub const FORMAT: &str = "berth.dev/kube-sim-state/v1";

fn err(path: &Path, message: impl Into<String>) -> SimError {
    SimError::State {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Write the store to `dir/state.json`.
pub fn save(dir: &Path, store: &Store) -> Result<(), SimError> {
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e.to_string()))?;
    let mut objects = Vec::new();
    for ((group, resource), m) in &store.objects {
        for o in m.values() {
            objects.push(json!({"group": group, "resource": resource, "object": &**o}));
        }
    }
    let doc = json!({"format": FORMAT, "resourceVersion": store.rv, "objects": objects});
    let path = dir.join(FILE);
    let tmp = dir.join(format!("{FILE}.tmp"));
    let bytes = serde_json::to_vec(&doc).map_err(|e| err(&path, e.to_string()))?;
    std::fs::write(&tmp, bytes).map_err(|e| err(&tmp, e.to_string()))?;
    std::fs::rename(&tmp, &path).map_err(|e| err(&path, e.to_string()))?;
    Ok(())
}

/// Load `dir/state.json` if present. Returns whether state was restored.
pub fn load(dir: &Path, store: &mut Store) -> Result<bool, SimError> {
    let path = dir.join(FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(err(&path, e.to_string())),
    };
    let doc: Value =
        serde_json::from_slice(&bytes).map_err(|e| err(&path, format!("not valid JSON ({e})")))?;
    if doc["format"] != FORMAT {
        return Err(err(
            &path,
            format!("unknown format {}, expected {FORMAT}", doc["format"]),
        ));
    }
    let rv = doc["resourceVersion"]
        .as_u64()
        .ok_or_else(|| err(&path, "resourceVersion missing"))?;
    for e in doc["objects"].as_array().into_iter().flatten() {
        let (Some(g), Some(r)) = (e["group"].as_str(), e["resource"].as_str()) else {
            return Err(err(&path, "an object entry lacks group/resource"));
        };
        let o = e["object"].clone();
        let ns = o["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let name = o["metadata"]["name"]
            .as_str()
            .ok_or_else(|| err(&path, format!("an object of {r} has no name")))?
            .to_string();
        store
            .objects
            .entry((g.to_string(), r.to_string()))
            .or_default()
            .insert((ns, name), Arc::new(o));
    }
    store.rv = rv;
    store.refresh_crd_types();
    Ok(true)
}

/// Save about once a second while things change.
pub fn spawn(
    sh: Arc<Shared>,
    dir: PathBuf,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
            }
            let mut store = sh.write();
            if store.dirty {
                store.dirty = false;
                if let Err(e) = save(&dir, &store) {
                    tracing::warn!("{e}");
                }
            }
        }
    })
}
