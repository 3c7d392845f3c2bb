//! Helm chart repositories (docs/formats/chart-cache.md): the versions a repository offers
//! for a chart and the archive of one version, verified. `https://` (and `http://`)
//! repositories serve `index.yaml` and `.tgz` files; `oci://` repositories hold each version
//! as a tag (`+` written `_`) of an image whose one layer is the chart archive.

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::{Client, model};
use std::collections::BTreeMap;

/// The largest `index.yaml` accepted.
pub const MAX_INDEX: u64 = 32 << 20;
/// The largest chart archive accepted.
pub const MAX_CHART_ARCHIVE: u64 = 100 << 20;
/// Config media type of a Helm chart in an OCI registry.
pub const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
/// Layer media type of a Helm chart archive in an OCI registry.
pub const HELM_CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// What older Helm releases pushed as the chart layer.
const LEGACY_CHART_LAYER: &str = "application/tar+gzip";

/// One version a repository offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartVersion {
    /// The exact version.
    pub version: String,
    /// Where the archive is (https: the index's `urls`, resolved; oci: the reference).
    pub url: String,
    /// The archive's digest when the repository states it (`sha256:<hex>`).
    pub digest: Option<String>,
}

/// A fetched chart archive.
#[derive(Clone, Debug)]
pub struct FetchedChart {
    /// The `.tgz` bytes, checked against the digest the repository states.
    pub archive: Vec<u8>,
    /// Where they came from.
    pub url: String,
}

#[derive(serde::Deserialize)]
struct Index {
    #[serde(default)]
    entries: BTreeMap<String, Vec<IndexEntry>>,
}

#[derive(serde::Deserialize)]
struct IndexEntry {
    #[serde(default)]
    version: String,
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default)]
    digest: String,
}

/// `oci://REGISTRY/PATH` + chart name → (registry, repository path).
pub fn oci_location(repository: &str, name: &str) -> Result<(String, String)> {
    let rest = repository
        .strip_prefix("oci://")
        .ok_or_else(|| Error::Usage(format!("{repository} is not an oci:// repository")))?
        .trim_end_matches('/');
    let (registry, path) = match rest.split_once('/') {
        Some((r, p)) => (r, format!("{p}/{name}")),
        None => (rest, name.to_string()),
    };
    if registry.is_empty() || name.is_empty() || name.contains('/') {
        return Err(Error::Usage(format!(
            "oci://{rest} with chart {name:?}: write oci://REGISTRY/PATH and a chart name"
        )));
    }
    Ok((registry.to_string(), path))
}

/// The versions of `name` that `repository` offers.
pub async fn versions(client: &Client, repository: &str, name: &str) -> Result<Vec<ChartVersion>> {
    if repository.starts_with("oci://") {
        let (registry, repo) = oci_location(repository, name)?;
        let tags = client.list_tags(&registry, &repo).await?;
        return Ok(tags
            .into_iter()
            .map(|t| {
                let version = t.replace('_', "+");
                ChartVersion {
                    url: format!("oci://{registry}/{repo}:{t}"),
                    version,
                    digest: None,
                }
            })
            .collect());
    }
    let base = repository.trim_end_matches('/');
    let index_url = format!("{base}/index.yaml");
    let bytes = client.get_url(&index_url, MAX_INDEX).await?;
    let text = String::from_utf8_lossy(&bytes);
    let index: Index = serde_saphyr::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "{index_url} is not a Helm repository index: {e}; check the repository URL"
        ))
    })?;
    let entries = index.entries.get(name).ok_or_else(|| {
        Error::Usage(format!(
            "{index_url} lists no chart {name:?}; check the dependency's name and repository"
        ))
    })?;
    let mut out = Vec::new();
    for e in entries {
        let Some(first) = e.urls.first() else {
            continue;
        };
        out.push(ChartVersion {
            version: e.version.clone(),
            url: resolve_url(base, first)?,
            digest: (!e.digest.is_empty()).then(|| {
                if e.digest.starts_with("sha256:") {
                    e.digest.clone()
                } else {
                    format!("sha256:{}", e.digest)
                }
            }),
        });
    }
    Ok(out)
}

/// An index URL relative to the repository (`charts/x-1.0.0.tgz`) or absolute.
fn resolve_url(base: &str, u: &str) -> Result<String> {
    if u.contains("://") {
        return Ok(u.to_string());
    }
    let b = url::Url::parse(&format!("{base}/"))
        .map_err(|e| Error::Usage(format!("invalid repository URL {base}: {e}")))?;
    b.join(u)
        .map(|x| x.to_string())
        .map_err(|e| Error::Usage(format!("invalid chart URL {u:?} in {base}/index.yaml: {e}")))
}

/// Downloads one version found by [`versions`], checking the digest the repository states.
pub async fn fetch(
    client: &Client,
    repository: &str,
    name: &str,
    v: &ChartVersion,
) -> Result<FetchedChart> {
    if repository.starts_with("oci://") {
        return fetch_oci(client, repository, name, &v.version).await;
    }
    let archive = client.get_url(&v.url, MAX_CHART_ARCHIVE).await?;
    if let Some(d) = &v.digest {
        let want = Digest::parse(d)?;
        want.verify(&format!("chart archive {}", v.url), &archive)?;
    }
    Ok(FetchedChart {
        archive,
        url: v.url.clone(),
    })
}

/// Pulls `name` `version` from an `oci://` repository: the manifest's chart layer.
async fn fetch_oci(
    client: &Client,
    repository: &str,
    name: &str,
    version: &str,
) -> Result<FetchedChart> {
    let (registry, repo) = oci_location(repository, name)?;
    let tag = version.replace('+', "_");
    let m = client.get_manifest(&registry, &repo, &tag).await?;
    let action = format!("chart manifest {repo}:{tag}");
    let manifest: model::Manifest =
        serde_json::from_slice(&m.bytes).map_err(|e| Error::json(action.clone(), e))?;
    if manifest.config.media_type != HELM_CONFIG {
        return Err(Error::Usage(format!(
            "oci://{registry}/{repo}:{tag} is not a Helm chart: its config media type is {:?}, not {HELM_CONFIG}",
            manifest.config.media_type
        )));
    }
    let layer = manifest
        .layers
        .iter()
        .find(|l| l.media_type == HELM_CHART_LAYER || l.media_type == LEGACY_CHART_LAYER)
        .ok_or_else(|| {
            Error::Usage(format!(
                "oci://{registry}/{repo}:{tag} has no {HELM_CHART_LAYER} layer"
            ))
        })?;
    if layer.size > MAX_CHART_ARCHIVE {
        return Err(Error::TooLarge {
            what: format!("chart layer of {repo}:{tag}"),
            limit: MAX_CHART_ARCHIVE,
        });
    }
    let archive = client
        .get_blob_bytes(&registry, &repo, &layer.digest, MAX_CHART_ARCHIVE)
        .await?;
    Ok(FetchedChart {
        archive,
        url: format!("oci://{registry}/{repo}@{}", m.digest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_urls() {
        assert_eq!(
            oci_location("oci://127.0.0.1:5000/charts/", "redis").expect("ok"),
            ("127.0.0.1:5000".into(), "charts/redis".into())
        );
        assert_eq!(
            oci_location("oci://r.example", "redis").expect("ok"),
            ("r.example".into(), "redis".into())
        );
        assert!(oci_location("oci://r.example", "a/b").is_err());
        assert_eq!(
            resolve_url("https://h/repo", "charts/x-1.0.0.tgz").expect("ok"),
            "https://h/repo/charts/x-1.0.0.tgz"
        );
        assert_eq!(
            resolve_url("https://h/repo", "https://cdn/x.tgz").expect("ok"),
            "https://cdn/x.tgz"
        );
    }
}
