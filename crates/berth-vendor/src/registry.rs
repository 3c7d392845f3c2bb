//! What the pull-only registry endpoint (`/v2/`, docs/formats/vendor-server.md) lets a license
//! see: the images of the releases on the license's channels, as OCI repositories named
//! `<app>/<source repository>` (the relocation rule of berth-oci with the app as prefix), and
//! the pure parsing of registry paths and byte ranges.
//!
//! A license's view is computed from the channels (cached for `cache::TTL`) and each release's
//! image trees (cached for good: releases are immutable).

use crate::customers::Licensee;
use crate::db::Param;
use crate::service::{SResult, Service, ServiceError};
use crate::updates;
use berth_oci::digest::Digest;
use berth_oci::model;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Largest manifest or index the endpoint reads or serves.
pub const MAX_MANIFEST: u64 = model::MAX_MANIFEST;

/// One image of one release: where it is served and every digest it reaches.
#[derive(Debug, Clone)]
pub struct ImageTree {
    /// `<app>/<source repository>`.
    pub repository: String,
    /// The source tag, if the image was referenced by tag.
    pub tag: Option<String>,
    /// The root manifest or index.
    pub root: Digest,
    /// Every manifest and index reached (root included) with its media type.
    pub manifests: Vec<(Digest, String)>,
    /// Every config and layer reached.
    pub blobs: Vec<Digest>,
}

/// One repository as a license sees it.
#[derive(Debug, Default, Clone)]
pub struct Repo {
    /// Tag → (the release it comes from, the root digest); the newest release wins.
    pub tags: HashMap<String, (semver::Version, Digest)>,
    /// Manifests and indexes with their media types.
    pub manifests: HashMap<Digest, String>,
    /// Configs and layers.
    pub blobs: HashSet<Digest>,
}

/// Everything one license may pull.
#[derive(Debug, Default, Clone)]
pub struct View {
    pub repos: HashMap<String, Repo>,
}

impl View {
    /// Add one release's images.
    fn add(&mut self, version: &semver::Version, images: &[ImageTree]) {
        for img in images {
            let repo = self.repos.entry(img.repository.clone()).or_default();
            for (d, mt) in &img.manifests {
                repo.manifests.insert(d.clone(), mt.clone());
            }
            repo.blobs.extend(img.blobs.iter().cloned());
            if let Some(t) = &img.tag {
                let newer = repo
                    .tags
                    .get(t)
                    .is_none_or(|(v, _)| updates::precedence(version, v).is_gt());
                if newer {
                    repo.tags
                        .insert(t.clone(), (version.clone(), img.root.clone()));
                }
            }
        }
    }
}

/// Release image trees by index digest. Releases never change, so entries never go stale;
/// the map is emptied when it grows past a bound.
#[derive(Default)]
pub struct TreeCache(Mutex<HashMap<Digest, Arc<Vec<ImageTree>>>>);

impl Service {
    /// What a license may pull: every release on its channels, end-of-life ones included (a
    /// running install must still be able to restart its pods; new installs of an end-of-life
    /// release are refused by the install path). The license must be current.
    pub async fn registry_view(&self, who: &Licensee) -> SResult<Arc<View>> {
        who.require_current(crate::db::now_ms())?;
        self.caches
            .registry
            .get_or_load(&who.license_id, self.load_view(who))
            .await
    }

    async fn load_view(&self, who: &Licensee) -> SResult<Arc<View>> {
        let mut versions: Vec<semver::Version> = vec![];
        for ch in &who.channels {
            let (_, rels) = self.channel_view(&who.app, ch).await?;
            versions.extend(rels.into_iter().map(|r| r.version));
        }
        let rows = self
            .db
            .rows(
                "SELECT version, index_digest FROM releases WHERE app = $1",
                &[Param::Text(&who.app)],
            )
            .await?;
        let mut view = View::default();
        for r in rows {
            let Ok(v) = semver::Version::parse(&crate::db::text(&r, "version")) else {
                continue;
            };
            if !versions.iter().any(|x| updates::precedence(x, &v).is_eq()) {
                continue;
            }
            let index = crate::service::digest(&crate::db::text(&r, "index_digest"))?;
            let trees = self.image_trees(&who.app, &index).await?;
            view.add(&v, &trees);
        }
        Ok(Arc::new(view))
    }

    /// The images of a release, read from its index.json and manifests in the store.
    pub async fn image_trees(&self, app: &str, index: &Digest) -> SResult<Arc<Vec<ImageTree>>> {
        if let Ok(m) = self.trees.0.lock()
            && let Some(t) = m.get(index)
        {
            return Ok(t.clone());
        }
        let bytes = self.read_manifest(index).await?;
        let idx = model::parse_index("release index", &bytes)
            .map_err(|e| ServiceError::Invalid(format!("stored release index {index}: {e}")))?;
        let mut out = vec![];
        for e in &idx.manifests {
            if e.annotations
                .get(model::ANNOTATION_KIND)
                .map(String::as_str)
                != Some("image")
            {
                continue;
            }
            let Some(src) = e.annotations.get(model::ANNOTATION_SOURCE) else {
                continue;
            };
            let Ok(r) = berth_oci::reference::Reference::parse(src) else {
                continue;
            };
            let mut tree = ImageTree {
                repository: format!("{app}/{}", r.repository),
                tag: r.tag.clone(),
                root: e.digest.clone(),
                manifests: vec![],
                blobs: vec![],
            };
            self.walk(e, &mut tree).await?;
            out.push(tree);
        }
        let out = Arc::new(out);
        if let Ok(mut m) = self.trees.0.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(index.clone(), out.clone());
        }
        Ok(out)
    }

    /// Record every digest under `root` (manifests with their media types, then blobs).
    async fn walk(&self, root: &model::Descriptor, tree: &mut ImageTree) -> SResult<()> {
        let mut todo = vec![root.clone()];
        let mut seen = HashSet::new();
        while let Some(d) = todo.pop() {
            if !seen.insert(d.digest.clone()) {
                continue;
            }
            if !model::is_manifest_type(&d.media_type) {
                tree.blobs.push(d.digest.clone());
                continue;
            }
            let bytes = self.read_manifest(&d.digest).await?;
            tree.manifests
                .push((d.digest.clone(), d.media_type.clone()));
            let bad = |e: berth_oci::Error| {
                ServiceError::Invalid(format!("stored manifest {}: {e}", d.digest))
            };
            if model::is_index(&d.media_type) {
                todo.extend(model::parse_index("index", &bytes).map_err(bad)?.manifests);
            } else {
                let m = model::parse_manifest("manifest", &bytes).map_err(bad)?;
                todo.push(m.config);
                todo.extend(m.layers);
            }
        }
        Ok(())
    }

    /// A stored manifest or index, whole (at most [`MAX_MANIFEST`] bytes).
    pub async fn read_manifest(&self, d: &Digest) -> SResult<Vec<u8>> {
        self.store
            .read_small(d, MAX_MANIFEST)
            .await
            .ok_or_else(|| ServiceError::NotFound(format!("{d} is not stored")))
    }
}

/// What a `/v2/...` path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`: the version check (authenticates).
    Base,
    /// `/v2/<name>/manifests/<tag or digest>`.
    Manifest { name: String, reference: String },
    /// `/v2/<name>/blobs/<digest>`.
    Blob { name: String, digest: String },
    /// `/v2/<name>/tags/list`.
    Tags { name: String },
}

/// Parse the part of a path after `/v2/`. None when it is not a pull route.
pub fn parse_route(rest: &str) -> Option<Route> {
    if rest.is_empty() {
        return Some(Route::Base);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return valid_name(name).then(|| Route::Tags { name: name.into() });
    }
    for (sep, blob) in [("/manifests/", false), ("/blobs/", true)] {
        if let Some((name, last)) = rest.rsplit_once(sep) {
            if !valid_name(name) || last.is_empty() || last.contains('/') {
                return None;
            }
            return Some(if blob {
                Route::Blob {
                    name: name.into(),
                    digest: last.into(),
                }
            } else {
                Route::Manifest {
                    name: name.into(),
                    reference: last.into(),
                }
            });
        }
    }
    None
}

/// A repository name as the distribution spec allows: `/`-separated components of lowercase
/// letters and digits joined by `.`, `_`, `__` or `-`s (so never `..` or an empty part).
pub fn valid_name(name: &str) -> bool {
    name.len() <= 255
        && name.split('/').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || b"._-".contains(x))
                && !c.contains("..")
        })
}

/// A tag as the distribution spec allows.
pub fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.as_bytes()[0] != b'.'
        && t.as_bytes()[0] != b'-'
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// A byte range of a blob of `len` bytes, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// The whole blob.
    Full,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// Nothing of the blob matches (416).
    Unsatisfiable,
}

/// Parse a `Range` header (one `bytes=` range: `a-b`, `a-`, `-n`). Anything else (several
/// ranges, other units) is served whole, as RFC 9110 allows.
pub fn parse_range(header: Option<&str>, len: u64) -> Range {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Range::Full;
    };
    if spec.contains(',') {
        return Range::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    let (s, e) = match (a.is_empty(), b.is_empty()) {
        (true, true) => return Range::Full,
        (true, false) => match b.parse::<u64>() {
            Ok(0) => return Range::Unsatisfiable,
            Ok(n) => (len.saturating_sub(n), len.saturating_sub(1)),
            Err(_) => return Range::Full,
        },
        (false, _) => {
            let Ok(start) = a.parse::<u64>() else {
                return Range::Full;
            };
            if b.is_empty() {
                (start, len.saturating_sub(1))
            } else {
                match b.parse::<u64>() {
                    // last < first is not a valid range: the header is ignored
                    Ok(e) if e >= start => (start, e.min(len.saturating_sub(1))),
                    _ => return Range::Full,
                }
            }
        }
    };
    if len > 0 && s < len && s <= e {
        Range::Part(s, e)
    } else {
        Range::Unsatisfiable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_and_refuse_tampering() {
        assert_eq!(parse_route(""), Some(Route::Base));
        assert_eq!(
            parse_route("hello/library/nginx/manifests/1.25"),
            Some(Route::Manifest {
                name: "hello/library/nginx".into(),
                reference: "1.25".into()
            })
        );
        assert_eq!(
            parse_route("hello/x/blobs/sha256:ab"),
            Some(Route::Blob {
                name: "hello/x".into(),
                digest: "sha256:ab".into()
            })
        );
        assert_eq!(
            parse_route("hello/x/tags/list"),
            Some(Route::Tags {
                name: "hello/x".into()
            })
        );
        for bad in [
            "../hello/x/blobs/sha256:ab",
            "hello/../x/blobs/sha256:ab",
            "hello//x/manifests/1",
            "Hello/x/manifests/1",
            "hello/x/manifests/",
            "hello/x/blobs/a/b",
            "hello/x/uploads/",
            "/hello/x/manifests/1",
        ] {
            assert_eq!(parse_route(bad), None, "{bad}");
        }
        assert!(valid_tag("1.25-alpine") && !valid_tag("../x") && !valid_tag(".x"));
    }

    #[test]
    fn ranges() {
        let r = |h: &str| parse_range(Some(h), 100);
        assert_eq!(parse_range(None, 100), Range::Full);
        assert_eq!(r("bytes=0-9"), Range::Part(0, 9));
        assert_eq!(r("bytes=90-"), Range::Part(90, 99));
        assert_eq!(r("bytes=90-500"), Range::Part(90, 99));
        assert_eq!(r("bytes=-10"), Range::Part(90, 99));
        assert_eq!(r("bytes=-500"), Range::Part(0, 99));
        assert_eq!(r("bytes=100-"), Range::Unsatisfiable);
        assert_eq!(r("bytes=-0"), Range::Unsatisfiable);
        assert_eq!(r("bytes=0-1,5-6"), Range::Full);
        assert_eq!(r("items=0-1"), Range::Full);
        assert_eq!(r("bytes=9-3"), Range::Full);
        assert_eq!(r("bytes=x-3"), Range::Full);
        assert_eq!(parse_range(Some("bytes=0-"), 0), Range::Unsatisfiable);
    }
}
