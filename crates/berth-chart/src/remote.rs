//! Dependencies from `oci://` and `https://` repositories that are not vendored under
//! `charts/`: which ones a chart needs ([`remote_needs`]), which version a constraint picks
//! ([`pick_version`]), Chart.lock as Helm writes it ([`ChartLock`], [`lock_digest`]), and the
//! content-addressed cache they are kept in ([`ChartCache`], docs/formats/chart-cache.md).
//! Fetching from the network is berth-oci's; everything here reads and writes local files.

use crate::chart::Chart;
use crate::error::ChartError;
use crate::metadata::Dependency;
use crate::version::{Version, is_compatible_range};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

/// Whether a dependency's `repository` is one berth fetches from.
pub fn is_remote_repository(repository: &str) -> bool {
    ["oci://", "https://", "http://"]
        .iter()
        .any(|p| repository.starts_with(p))
}

/// One remote dependency a chart lacks under `charts/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteNeed {
    /// Chart name in the repository.
    pub name: String,
    /// The repository URL as Chart.yaml writes it.
    pub repository: String,
    /// The version constraint from Chart.yaml.
    pub constraint: String,
    /// The exact version Chart.lock pins, when the chart has a lock.
    pub locked: Option<String>,
}

impl RemoteNeed {
    /// The constraint a candidate version must meet: the locked version, else Chart.yaml's.
    pub fn wanted(&self) -> &str {
        self.locked.as_deref().unwrap_or(&self.constraint)
    }
}

/// Chart.lock (Helm's format).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ChartLock {
    /// Resolved dependencies.
    #[serde(default)]
    pub dependencies: Vec<LockedDependency>,
    /// Helm's digest of Chart.yaml's dependencies and this lock's.
    #[serde(default)]
    pub digest: String,
    /// When the lock was written (RFC 3339).
    #[serde(default)]
    pub generated: String,
}

/// One entry of Chart.lock.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockedDependency {
    /// Chart name.
    pub name: String,
    /// Repository URL.
    #[serde(default)]
    pub repository: String,
    /// The exact version.
    #[serde(default)]
    pub version: String,
}

impl ChartLock {
    /// Parses Chart.lock text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<ChartLock, ChartError> {
        serde_saphyr::from_str(text).map_err(|e| ChartError::Parse {
            chart: origin.into(),
            file: "Chart.lock".into(),
            message: e.to_string(),
        })
    }

    /// The lock of a loaded chart, when it has one.
    pub fn of(chart: &Chart) -> Result<Option<ChartLock>, ChartError> {
        match &chart.lock {
            None => Ok(None),
            Some(bytes) => {
                ChartLock::parse(&String::from_utf8_lossy(bytes), chart.name()).map(Some)
            }
        }
    }
}

/// Go's `json.Marshal` of one Helm `chart.Dependency` (field order and `omitempty` as Helm
/// declares them; `<`, `>` and `&` escaped as Go does).
fn go_dependency_json(d: &Dependency) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("name".into(), d.name.clone().into());
    if !d.version.is_empty() {
        m.insert("version".into(), d.version.clone().into());
    }
    m.insert("repository".into(), d.repository.clone().into());
    if !d.condition.is_empty() {
        m.insert("condition".into(), d.condition.clone().into());
    }
    if !d.tags.is_empty() {
        m.insert("tags".into(), d.tags.clone().into());
    }
    if d.enabled {
        m.insert("enabled".into(), true.into());
    }
    if !d.import_values.is_empty() {
        m.insert("import-values".into(), d.import_values.clone().into());
    }
    if !d.alias.is_empty() {
        m.insert("alias".into(), d.alias.clone().into());
    }
    serde_json::Value::Object(m)
}

/// Helm's Chart.lock `digest`: sha256 of Go's JSON of `[Chart.yaml dependencies, lock
/// dependencies]` (Helm's `HashReq`).
pub fn lock_digest(requested: &[Dependency], locked: &[LockedDependency]) -> String {
    let lock: Vec<Dependency> = locked
        .iter()
        .map(|l| Dependency {
            name: l.name.clone(),
            version: l.version.clone(),
            repository: l.repository.clone(),
            ..Default::default()
        })
        .collect();
    let doc = serde_json::Value::Array(vec![
        requested.iter().map(go_dependency_json).collect(),
        lock.iter().map(go_dependency_json).collect(),
    ]);
    // serde_json writes object keys in insertion order only with `preserve_order`; write
    // the arrays by hand so the field order is Helm's.
    let mut text = String::from("[");
    for (i, list) in doc.as_array().into_iter().flatten().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push('[');
        for (j, d) in list.as_array().into_iter().flatten().enumerate() {
            if j > 0 {
                text.push(',');
            }
            write_go_object(d, &mut text);
        }
        text.push(']');
    }
    text.push(']');
    let text = text
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

fn write_go_object(d: &serde_json::Value, out: &mut String) {
    const ORDER: [&str; 8] = [
        "name",
        "version",
        "repository",
        "condition",
        "tags",
        "enabled",
        "import-values",
        "alias",
    ];
    out.push('{');
    let mut first = true;
    for k in ORDER {
        if let Some(v) = d.get(k) {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&serde_json::to_string(k).unwrap_or_default());
            out.push(':');
            out.push_str(&serde_json::to_string(v).unwrap_or_default());
        }
    }
    out.push('}');
}

/// The remote dependencies of `chart` that no vendored chart satisfies (deduplicated:
/// aliases of one chart share one fetch). With a lock, each is pinned to the locked version;
/// a lock that misses one, or pins a version outside its constraint, or whose digest does
/// not match Chart.yaml, is out of sync.
pub fn remote_needs(
    chart: &Chart,
    lock: Option<&ChartLock>,
) -> Result<Vec<RemoteNeed>, ChartError> {
    let deps = chart.metadata.dependencies.as_deref().unwrap_or_default();
    let missing: Vec<&Dependency> = deps
        .iter()
        .filter(|d| {
            is_remote_repository(&d.repository)
                && !chart.dependencies.iter().any(|c| {
                    c.name() == d.name && is_compatible_range(&d.version, &c.metadata.version)
                })
        })
        .collect();
    // The lock only matters for what is fetched: a chart with everything vendored renders
    // whatever its lock says, as Helm's render does.
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(l) = lock
        && !l.digest.is_empty()
        && lock_digest(deps, &l.dependencies) != l.digest
    {
        return Err(out_of_sync(
            chart,
            "its digest does not match Chart.yaml's dependencies",
        ));
    }
    let mut out: Vec<RemoteNeed> = Vec::new();
    for d in missing {
        let locked = match lock {
            None => None,
            Some(l) => {
                let entry = l
                    .dependencies
                    .iter()
                    .find(|e| e.name == d.name && same_repository(&e.repository, &d.repository))
                    .ok_or_else(|| {
                        out_of_sync(
                            chart,
                            &format!("it has no entry for {} ({})", d.name, d.repository),
                        )
                    })?;
                if !is_compatible_range(&d.version, &entry.version) {
                    return Err(out_of_sync(
                        chart,
                        &format!(
                            "it pins {} {} outside the constraint {:?}",
                            d.name, entry.version, d.version
                        ),
                    ));
                }
                Some(entry.version.clone())
            }
        };
        let need = RemoteNeed {
            name: d.name.clone(),
            repository: d.repository.clone(),
            constraint: d.version.clone(),
            locked,
        };
        if !out.contains(&need) {
            out.push(need);
        }
    }
    Ok(out)
}

fn out_of_sync(chart: &Chart, why: &str) -> ChartError {
    ChartError::Metadata {
        chart: chart.name().to_string(),
        message: format!(
            "Chart.lock is out of sync with Chart.yaml ({why}); run `berth chart dependency update CHART_DIR` to write it again"
        ),
    }
}

fn same_repository(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// The highest of `candidates` that meets `constraint` (Helm's rules: a constraint without
/// a prerelease matches no prerelease). An empty constraint means any release version.
pub fn pick_version<'a>(constraint: &str, candidates: &'a [String]) -> Option<&'a str> {
    let constraint = if constraint.trim().is_empty() {
        "*"
    } else {
        constraint
    };
    let mut best: Option<(&str, Version)> = None;
    for c in candidates {
        let Some(v) = Version::parse(c) else { continue };
        if !is_compatible_range(constraint, c) {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|(_, b)| v.precedence(b) == std::cmp::Ordering::Greater)
        {
            best = Some((c.as_str(), v));
        }
    }
    best.map(|(s, _)| s)
}

/// A chart version held by the cache.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CachedChart {
    /// Repository URL.
    pub repository: String,
    /// Chart name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// `sha256:<hex>` of the archive.
    pub digest: String,
    /// Where it was fetched from.
    #[serde(default)]
    pub url: String,
}

/// The local chart cache (docs/formats/chart-cache.md).
#[derive(Clone, Debug)]
pub struct ChartCache {
    root: PathBuf,
}

impl ChartCache {
    /// A cache rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> ChartCache {
        ChartCache { root: root.into() }
    }

    /// `$XDG_CACHE_HOME/berth/charts`, else `$HOME/.cache/berth/charts`.
    pub fn default_dir() -> PathBuf {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        base.join("berth").join("charts")
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn refs_dir(&self, repository: &str, name: &str) -> Result<PathBuf, ChartError> {
        check_segment("chart name", name)?;
        let key = hex::encode(Sha256::digest(repository.trim_end_matches('/').as_bytes()));
        Ok(self.root.join("refs").join(key).join(name))
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf, ChartError> {
        let hex = digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| ChartError::Metadata {
                chart: self.root.display().to_string(),
                message: format!("chart cache: {digest:?} is not a sha256 digest"),
            })?;
        Ok(self
            .root
            .join("blobs")
            .join("sha256")
            .join(hex.to_ascii_lowercase()))
    }

    /// Keeps an archive and records it as `name` `version` of `repository`.
    pub fn store(
        &self,
        repository: &str,
        name: &str,
        version: &str,
        url: &str,
        archive: &[u8],
    ) -> Result<CachedChart, ChartError> {
        check_segment("chart version", version)?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(archive)));
        write_atomic(&self.blob_path(&digest)?, archive)?;
        let entry = CachedChart {
            repository: repository.trim_end_matches('/').to_string(),
            name: name.to_string(),
            version: version.to_string(),
            digest,
            url: url.to_string(),
        };
        let json = serde_json::to_vec_pretty(&entry).unwrap_or_default();
        write_atomic(
            &self
                .refs_dir(repository, name)?
                .join(format!("{version}.json")),
            &json,
        )?;
        Ok(entry)
    }

    /// Every version of `name` from `repository` the cache holds.
    pub fn versions(&self, repository: &str, name: &str) -> Result<Vec<CachedChart>, ChartError> {
        let dir = self.refs_dir(repository, name)?;
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ChartError::io(&dir, e)),
        };
        let mut out = Vec::new();
        for e in rd {
            let p = e.map_err(|e| ChartError::io(&dir, e))?.path();
            if p.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let bytes = std::fs::read(&p).map_err(|e| ChartError::io(&p, e))?;
            let entry: CachedChart =
                serde_json::from_slice(&bytes).map_err(|e| ChartError::Parse {
                    chart: self.root.display().to_string(),
                    file: p.display().to_string(),
                    message: format!("{e}; delete the file and fetch the chart again"),
                })?;
            out.push(entry);
        }
        Ok(out)
    }

    /// The highest cached version meeting `constraint`.
    pub fn lookup(
        &self,
        repository: &str,
        name: &str,
        constraint: &str,
    ) -> Result<Option<CachedChart>, ChartError> {
        let all = self.versions(repository, name)?;
        let versions: Vec<String> = all.iter().map(|c| c.version.clone()).collect();
        let Some(v) = pick_version(constraint, &versions) else {
            return Ok(None);
        };
        Ok(all.into_iter().find(|c| c.version == v))
    }

    /// The archive bytes of a cached chart, checked against its digest.
    pub fn read(&self, c: &CachedChart) -> Result<Vec<u8>, ChartError> {
        let path = self.blob_path(&c.digest)?;
        let bytes = std::fs::read(&path).map_err(|e| ChartError::io(&path, e))?;
        let got = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if got != c.digest {
            return Err(ChartError::Archive {
                archive: path.display().to_string(),
                entry: String::new(),
                reason: format!(
                    "digest mismatch: expected {}, found {got}; delete the file and fetch the chart again",
                    c.digest
                ),
            });
        }
        Ok(bytes)
    }
}

fn check_segment(what: &str, s: &str) -> Result<(), ChartError> {
    let bad = s.is_empty()
        || s == "."
        || s.contains("..")
        || s.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        return Err(ChartError::Metadata {
            chart: s.to_string(),
            message: format!(
                "{what} {s:?} cannot name a cache entry (no /, \\, .. or control characters)"
            ),
        });
    }
    Ok(())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ChartError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ChartError::io(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).map_err(|e| ChartError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ChartError::io(path, e))
}

/// Adds the chart's missing remote dependencies from the cache (the chart's own Chart.lock
/// pins versions). A dependency the cache lacks is an error naming it, its repository and the
/// command that fetches it.
pub fn attach_from_cache(chart: &mut Chart, cache: &ChartCache) -> Result<(), ChartError> {
    // Most charts vendor everything: then the lock is not even read.
    if remote_needs(chart, None)?.is_empty() {
        return Ok(());
    }
    let lock = ChartLock::of(chart)?;
    for need in remote_needs(chart, lock.as_ref())? {
        let Some(hit) = cache.lookup(&need.repository, &need.name, need.wanted())? else {
            return Err(ChartError::RemoteMissing {
                chart: chart.name().to_string(),
                name: need.name.clone(),
                repository: need.repository.clone(),
                constraint: need.wanted().to_string(),
                cache: cache.root().to_path_buf(),
            });
        };
        let bytes = cache.read(&hit)?;
        let origin = format!("{}/charts/{}-{}.tgz", chart.name(), hit.name, hit.version);
        let sub = Chart::load_archive(&bytes, &origin)?;
        if sub.name() != need.name {
            return Err(ChartError::Metadata {
                chart: origin,
                message: format!(
                    "the archive holds chart {:?}, not {:?}; delete it from the cache and fetch it again",
                    sub.name(),
                    need.name
                ),
            });
        }
        chart.dependencies.push(sub);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_highest_matching_release() {
        let v: Vec<String> = ["1.1.0", "1.2.0", "1.4.2", "1.5.0-rc.1", "2.0.0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(pick_version("^1.2.0", &v), Some("1.4.2"));
        assert_eq!(pick_version("~1.2.0", &v), Some("1.2.0"));
        assert_eq!(pick_version("1.x", &v), Some("1.4.2"));
        assert_eq!(pick_version(">=1.5.0-0", &v), Some("2.0.0"));
        assert_eq!(pick_version("1.5.0-rc.1", &v), Some("1.5.0-rc.1"));
        assert_eq!(pick_version(">=1.4.3", &v), Some("2.0.0"));
        assert_eq!(pick_version("", &v), Some("2.0.0"));
        assert_eq!(pick_version("^3", &v), None);
    }

    #[test]
    fn cache_refuses_names_that_escape_and_tampered_blobs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = ChartCache::new(dir.path());
        assert!(cache.store("https://r", "../x", "1.0.0", "", b"x").is_err());
        assert!(cache.store("https://r", "x", "1/0", "", b"x").is_err());
        let c = cache
            .store("https://r/", "x", "1.0.0", "u", b"archive")
            .expect("store");
        assert_eq!(
            cache.lookup("https://r", "x", "^1").expect("lookup"),
            Some(c.clone())
        );
        std::fs::write(cache.blob_path(&c.digest).expect("path"), b"changed").expect("write");
        let err = cache.read(&c).expect_err("tampered").to_string();
        assert!(
            err.contains(&c.digest) && err.contains("digest mismatch"),
            "{err}"
        );
    }
}
