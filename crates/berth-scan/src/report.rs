//! Scan results: per target (an image or a directory), the packages found, the findings
//! (package × advisory), and what could not be checked. Also the entry points that run
//! cataloging and matching over a layout or a root filesystem.

use crate::catalog::{self, Catalog, Distro, Package, PackageType};
use crate::error::Result;
use crate::files::FileSet;
use crate::image::{self, LayerCache, Limits};
use crate::osv::{self, FixState, Severity, VulnDb};
use crate::version::Scheme;
use berth_oci::Layout;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One vulnerable package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Binary package name.
    pub package: String,
    /// Installed version.
    pub version: String,
    /// Name the advisory is about (the source package for OS packages).
    pub matched_name: String,
    /// Version compared (the source version for OS packages).
    pub matched_version: String,
    /// OSV ecosystem.
    pub ecosystem: String,
    /// Advisory ID.
    pub advisory: String,
    /// Aliases (CVE, GHSA, upstream).
    pub aliases: Vec<String>,
    /// Summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Severity.
    pub severity: Severity,
    /// Fix state (and version).
    pub fix: FixState,
    /// Package database path.
    pub path: String,
    /// Layer digest (images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// The OpenVEX statement that covers it (`not_affected`/`fixed` suppress it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vex: Option<crate::vex::VexNote>,
}

impl Finding {
    /// Whether a VEX statement suppresses it.
    pub fn suppressed(&self) -> bool {
        self.vex.as_ref().is_some_and(|v| v.status.suppresses())
    }

    /// The advisory ID followed by its aliases.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.advisory.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// The result for one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetReport {
    /// Image reference or directory.
    pub name: String,
    /// Manifest digest (images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Identified distribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distro: Option<Distro>,
    /// Packages found.
    pub packages: Vec<Package>,
    /// Vulnerable packages.
    pub findings: Vec<Finding>,
    /// What was not checked and why (an unsupported database, an unknown release, a
    /// version the scheme cannot read). Never treat a target with entries here as clean.
    pub not_scanned: Vec<String>,
}

/// The result for every target of a scan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanReport {
    /// One entry per image or directory.
    pub targets: Vec<TargetReport>,
}

/// Names what catalogers and matching do, for scans kept by others (the vendor server's
/// `release_scans` table): change it whenever a release's bytes would give another report
/// (a new cataloger, a matching rule), so kept scans are made again.
pub const SCANNER_REVISION: &str = "berth-scan 2026-12 rpm+cargo-auditable+maven+debian-jars";

/// Where Debian packages install Python modules (`python3-*` packages).
pub const DEBIAN_PYTHON: &str = "usr/lib/python3/dist-packages/";

/// Where Debian packages install Java archives (`lib*-java` packages).
pub const DEBIAN_JAVA: &str = "usr/share/java/";

/// Which ecosystems, name and version a package is matched with. `distro` holds the
/// concrete ecosystems of the target's distribution release found in the database.
fn match_key(p: &Package, distro: &[String]) -> Option<(Vec<String>, String, String, Scheme)> {
    let lang = |eco: &str, scheme| {
        Some((
            vec![eco.to_string()],
            p.name.clone(),
            p.version.clone(),
            scheme,
        ))
    };
    match p.kind {
        PackageType::Deb | PackageType::Apk => {
            let scheme = Scheme::for_ecosystem(distro.first()?)?;
            let name = p.source_name.clone().unwrap_or_else(|| p.name.clone());
            let version = p
                .source_version
                .clone()
                .unwrap_or_else(|| p.version.clone());
            Some((distro.to_vec(), name, version, scheme))
        }
        // Red Hat, AlmaLinux, Rocky Linux and SUSE publish advisories per binary package,
        // with the full EVR of the fixed build.
        PackageType::Rpm if distro.is_empty() => None,
        PackageType::Rpm => Some((
            distro.to_vec(),
            p.name.clone(),
            p.version.clone(),
            Scheme::Rpm,
        )),
        // Debian's own Python modules: covered by the Debian advisories of the owning
        // package (which backport fixes); PyPI ranges would report fixed code as vulnerable.
        PackageType::Python if p.path.starts_with(DEBIAN_PYTHON) => None,
        PackageType::Python => lang("PyPI", Scheme::Pep440),
        PackageType::Npm => lang("npm", Scheme::Semver),
        // Path and git dependencies are not crates.io's: no advisory applies by name
        // (Cargo.lock sources `registry+…`/`sparse+…`, cargo-auditable's `crates.io`).
        PackageType::Cargo => p
            .source_name
            .as_deref()
            .is_some_and(|s| {
                s.starts_with("registry+") || s.starts_with("sparse+") || s == "crates.io"
            })
            .then(|| lang("crates.io", Scheme::Semver))
            .flatten(),
        // A main module built from a checkout is `(devel)`: no version to compare.
        PackageType::Go if p.version.starts_with('(') => None,
        PackageType::Go => lang("Go", Scheme::Go),
        // `groupId:artifactId` from the archive's pom.properties, as GitHub's and OSV's
        // Maven advisories name artifacts.
        // Debian's own jars: covered by the Debian advisories of the owning package, which
        // backports fixes without changing the upstream version pom.properties records.
        PackageType::Java if p.path.starts_with(DEBIAN_JAVA) => None,
        PackageType::Java => lang("Maven", Scheme::Maven),
    }
}

/// The concrete ecosystems of a target's distribution release: the exact one, or the
/// members of its family that the database holds (Red Hat's repository streams).
pub fn distro_ecosystems(distro: Option<&Distro>, db: &VulnDb) -> Option<Vec<String>> {
    Some(match distro?.osv_ecosystems()? {
        catalog::Ecosystems::Exact(e) => vec![e],
        fam => db
            .ecosystems()
            .filter(|e| fam.matches(e))
            .map(str::to_string)
            .collect(),
    })
}

/// (normalised name, version) of every installed (dist-info) Python distribution.
fn installed_python(pkgs: &[Package]) -> std::collections::HashSet<(String, &str)> {
    pkgs.iter()
        .filter(|p| p.kind == PackageType::Python && crate::files::python_lock(&p.path).is_none())
        .map(|p| (catalog::python::normalize(&p.name), p.version.as_str()))
        .collect()
}

/// Match a target's packages against the database.
pub fn match_catalog(
    name: &str,
    digest: Option<String>,
    cat: Catalog,
    db: &VulnDb,
) -> TargetReport {
    let eco = distro_ecosystems(cat.distro.as_ref(), db);
    let mut not_scanned = cat.not_scanned;
    let mut findings = Vec::new();
    let os_pkgs = cat
        .packages
        .iter()
        .filter(|p| {
            matches!(
                p.kind,
                PackageType::Deb | PackageType::Apk | PackageType::Rpm
            )
        })
        .count();
    if os_pkgs > 0 && eco.is_none() {
        let d = cat
            .distro
            .as_ref()
            .map(|d| format!("{} {:?}", d.id, d.version_id))
            .unwrap_or_else(|| "no os-release".into());
        not_scanned.push(format!(
            "{os_pkgs} OS packages not matched: the distribution release is unknown or unsupported ({d}); berth matches {}",
            catalog::MATCHED_DISTROS
        ));
    }
    // A family (RHEL's streams, SUSE's products) none of whose members the database holds:
    // its advisories were not loaded, so nothing could match; never reported as clean.
    if let (Some(fam @ catalog::Ecosystems::Family { .. }), Some([])) = (
        cat.distro.as_ref().and_then(Distro::osv_ecosystems),
        eco.as_deref(),
    ) && os_pkgs > 0
    {
        not_scanned.push(format!(
            "{os_pkgs} OS packages not matched: the vulnerability database holds no advisories of {}; add that distribution's OSV data (docs/formats/vulndb.md)",
            fam.label()
        ));
    }
    let installed = installed_python(&cat.packages);
    for p in &cat.packages {
        // A lockfile pin of a distribution that is installed at that version is the same
        // code: its findings are reported once, at the installed copy.
        if p.kind == PackageType::Python
            && crate::files::python_lock(&p.path).is_some()
            && installed.contains(&(catalog::python::normalize(&p.name), p.version.as_str()))
        {
            continue;
        }
        let Some((ecosystems, mname, mversion, scheme)) =
            match_key(p, eco.as_deref().unwrap_or_default())
        else {
            continue;
        };
        // One advisory once per package, even when it names several of the ecosystems
        // (Red Hat's baseos and appstream streams): a record that matched in an earlier
        // ecosystem is not matched again in a later one.
        let mut seen = std::collections::HashSet::new();
        for ecosystem in &ecosystems {
            let mut matched_here = Vec::new();
            for (rec, aff) in db.lookup(ecosystem, &mname) {
                if seen.contains(&rec.id) {
                    continue;
                }
                match osv::evaluate(rec, aff, scheme, &mversion) {
                    Ok(Some(m)) => {
                        matched_here.push(rec.id.clone());
                        let mut aliases: Vec<String> =
                            rec.aliases.iter().chain(&rec.upstream).cloned().collect();
                        // AlmaLinux names the CVEs of an errata only under `related`.
                        if scheme == Scheme::Rpm && !aliases.iter().any(|a| a.starts_with("CVE-")) {
                            aliases.extend(
                                rec.related
                                    .iter()
                                    .filter(|r| r.starts_with("CVE-"))
                                    .cloned(),
                            );
                        }
                        aliases.sort();
                        aliases.dedup();
                        findings.push(Finding {
                            package: p.name.clone(),
                            version: p.version.clone(),
                            matched_name: mname.clone(),
                            matched_version: mversion.clone(),
                            ecosystem: ecosystem.clone(),
                            advisory: rec.id.clone(),
                            aliases,
                            summary: rec.summary.clone(),
                            severity: m.severity,
                            fix: m.fix,
                            path: p.path.clone(),
                            layer: p.layer.clone(),
                            vex: None,
                        });
                    }
                    Ok(None) => {}
                    Err(e) => not_scanned
                        .push(format!("{} {} against {}: {e}", p.name, p.version, rec.id)),
                }
            }
            seen.extend(matched_here);
        }
    }
    dedup_findings(&mut findings);
    TargetReport {
        name: name.to_string(),
        digest,
        distro: cat.distro,
        packages: cat.packages,
        findings,
        not_scanned,
    }
}

/// Catalog and match one file set.
pub fn scan_files(name: &str, digest: Option<String>, fs: &FileSet, db: &VulnDb) -> TargetReport {
    match_catalog(name, digest, catalog::catalog(fs), db)
}

/// Scan a root filesystem directory.
pub fn scan_rootfs(root: &Path, db: &VulnDb, limits: &Limits) -> Result<ScanReport> {
    let fs = crate::rootfs::read_rootfs(root, limits)?;
    Ok(ScanReport {
        targets: vec![scan_files(&root.display().to_string(), None, &fs, db)],
    })
}

/// Scan every image of an OCI layout (a berth release or any `oci:` layout).
pub fn scan_layout(
    dir: &Path,
    db: &VulnDb,
    cache: Option<&LayerCache>,
    limits: &Limits,
) -> Result<ScanReport> {
    let layout = Layout::open(dir)?;
    let mut targets = Vec::new();
    for img in image::layout_images(&layout)? {
        let key = img.manifest.to_string();
        let cat = match cache.and_then(|c| c.catalog(&key)) {
            Some(c) => (*c).clone(),
            None => {
                let fs = image::image_files(&layout, &img.manifest, cache, limits)?;
                let c = catalog::catalog(&fs);
                if let Some(cache) = cache {
                    cache.put_catalog(&key, std::sync::Arc::new(c.clone()));
                }
                c
            }
        };
        targets.push(match_catalog(&img.name, Some(key), cat, db));
    }
    Ok(ScanReport { targets })
}

/// Whether `path` is an OCI image layout (a berth release, a skopeo `oci:` directory).
pub fn is_layout(path: &Path) -> bool {
    path.join("oci-layout").is_file() && path.join("index.json").is_file()
}

/// Scan a directory: an OCI layout (every image) or else a root filesystem.
pub fn scan_path(
    path: &Path,
    db: &VulnDb,
    cache: Option<&LayerCache>,
    limits: &Limits,
) -> Result<ScanReport> {
    if is_layout(path) {
        scan_layout(path, db, cache, limits)
    } else {
        scan_rootfs(path, db, limits)
    }
}

/// Drop a finding for an upstream ID (a CVE from a distribution tracker) when another
/// finding of the same package names it as an alias with the same fix (a `DSA-…` carrying
/// that CVE): one vulnerability, one line.
pub fn dedup_findings(findings: &mut Vec<Finding>) {
    use std::collections::{HashMap, HashSet};
    // (package, path, fix, alias) → advisories naming that alias: one pass, not pairwise.
    let mut named: HashMap<(&str, &str, &FixState, &str), HashSet<&str>> = HashMap::new();
    for f in findings.iter() {
        for a in &f.aliases {
            named
                .entry((&f.package, &f.path, &f.fix, a))
                .or_default()
                .insert(&f.advisory);
        }
    }
    let drop: Vec<bool> = findings
        .iter()
        .map(|f| {
            named
                .get(&(
                    f.package.as_str(),
                    f.path.as_str(),
                    &f.fix,
                    f.advisory.as_str(),
                ))
                .is_some_and(|owners| owners.iter().any(|o| *o != f.advisory))
        })
        .collect();
    let mut i = 0;
    findings.retain(|_| {
        i += 1;
        !drop[i - 1]
    });
}

/// One container image of a Pod: what the spec names, and the digest reference the kubelet
/// reported for it (`status.*containerStatuses[].imageID`), when it reported one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PodImage {
    /// `spec.containers[].image`.
    pub image: String,
    /// `<spec repository>@sha256:…` from the status: the bytes that run.
    pub running: Option<String>,
}

/// The images a Pod object runs (containers and init containers). The scan prefers
/// `running` so it sees the bytes that run rather than what a tag says now.
pub fn pod_images(pod: &serde_json::Value) -> Vec<PodImage> {
    let mut out = Vec::new();
    for (spec_key, status_key) in [
        ("containers", "containerStatuses"),
        ("initContainers", "initContainerStatuses"),
    ] {
        let statuses = pod
            .pointer(&format!("/status/{status_key}"))
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default();
        let specs = pod
            .pointer(&format!("/spec/{spec_key}"))
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default();
        for c in specs {
            let Some(image) = c.get("image").and_then(|v| v.as_str()) else {
                continue;
            };
            let name = c.get("name").and_then(|v| v.as_str());
            let running = statuses
                .iter()
                .find(|s| s.get("name").and_then(|v| v.as_str()) == name)
                .and_then(|s| s.get("imageID").and_then(|v| v.as_str()))
                .map(|id| id.trim_start_matches("docker-pullable://"))
                .and_then(|id| id.split_once("@sha256:"))
                // imageID may name the repository without its registry: keep the spec's.
                .map(|(_, hex)| {
                    format!(
                        "{}@sha256:{hex}",
                        strip_tag(image.split('@').next().unwrap_or(image))
                    )
                });
            out.push(PodImage {
                image: image.to_string(),
                running,
            });
        }
    }
    out
}

/// `repo:tag` → `repo` (a `:` after the last `/` is a tag, before it a port).
fn strip_tag(r: &str) -> &str {
    match (r.rfind(':'), r.rfind('/')) {
        (Some(c), Some(s)) if c > s => &r[..c],
        (Some(c), None) => &r[..c],
        _ => r,
    }
}
