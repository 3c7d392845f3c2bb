//! Catalogers: from the wanted files of a target to its packages and its distribution.

pub mod apk;
pub mod dpkg;
pub mod java;
pub mod lang;
pub mod pylock;
pub mod python;
pub mod rpm;

use crate::files::{self, FileSet};
use serde::{Deserialize, Serialize};

/// Which package manager a package came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageType {
    /// dpkg (Debian and derivatives).
    Deb,
    /// apk (Alpine).
    Apk,
    /// A Python distribution: installed (dist-info) or pinned in a lockfile.
    Python,
    /// An npm package (package-lock.json, node_modules).
    Npm,
    /// A Rust crate (Cargo.lock).
    Cargo,
    /// A Go module compiled into a binary.
    Go,
    /// A Maven artifact inside a Java archive.
    Java,
    /// rpm (Red Hat and derivatives, SUSE, Amazon Linux).
    Rpm,
}

/// One installed package.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Package {
    /// Package manager.
    #[serde(rename = "type")]
    pub kind: PackageType,
    /// Binary package / distribution name.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// Architecture, when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Source package (dpkg `Source:`, apk origin), when different or recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Source version (dpkg `Source: name (version)`, rpm SOURCERPM), when it differs from
    /// `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Declared license, when the database records one (rpm LICENSE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// The database file it was read from.
    pub path: String,
    /// Digest of the layer that wrote that file (images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

/// The distribution of a target (`ID` and `VERSION_ID` of os-release).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distro {
    /// `debian`, `alpine`, …
    pub id: String,
    /// `12`, `3.19.1`, … (may be empty for rolling releases)
    pub version_id: String,
}

/// Which OSV ecosystems hold a distribution release's advisories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ecosystems {
    /// Exactly one (`Debian:12`, `Alpine:v3.19`, `AlmaLinux:9`, `Rocky Linux:9`).
    Exact(String),
    /// Every ecosystem `prefix…suffix` of the database (Red Hat publishes one per repository
    /// stream, `Red Hat:enterprise_linux:9::baseos`, `…::appstream`; SUSE one per product
    /// or module, `SUSE:Linux Enterprise Module for Basesystem 15 SP5`).
    Family {
        /// What every member starts with.
        prefix: String,
        /// What every member ends with.
        suffix: String,
        /// An exact name that is a member too (`Red Hat:enterprise_linux:9`).
        exact: Option<String>,
    },
}

impl Ecosystems {
    /// Whether `ecosystem` is one of them.
    pub fn matches(&self, ecosystem: &str) -> bool {
        match self {
            Ecosystems::Exact(e) => e == ecosystem,
            Ecosystems::Family {
                prefix,
                suffix,
                exact,
            } => {
                exact.as_deref() == Some(ecosystem)
                    || (ecosystem.len() >= prefix.len() + suffix.len()
                        && ecosystem.starts_with(prefix.as_str())
                        && ecosystem.ends_with(suffix.as_str()))
            }
        }
    }

    /// How to name them in messages.
    pub fn label(&self) -> String {
        match self {
            Ecosystems::Exact(e) => e.clone(),
            Ecosystems::Family { prefix, suffix, .. } => format!("{prefix}*{suffix}"),
        }
    }
}

/// The distributions whose releases berth matches, for messages.
pub const MATCHED_DISTROS: &str = "Debian, Alpine, RHEL (and CentOS, matched against RHEL's data), AlmaLinux, Rocky Linux, openSUSE Leap and SLES";

impl Distro {
    /// The OSV ecosystems of this distribution release's advisories (`Debian:12`,
    /// `Alpine:v3.19`, `Red Hat:enterprise_linux:9::*`, …); `None` for a distribution or
    /// release berth does not match (docs/formats/scan.md §2).
    pub fn osv_ecosystems(&self) -> Option<Ecosystems> {
        let v = self.version_id.trim();
        let major = || {
            let m = v.split('.').next().filter(|m| !m.is_empty())?;
            m.bytes().all(|b| b.is_ascii_digit()).then(|| m.to_string())
        };
        match self.id.as_str() {
            "debian" => Some(Ecosystems::Exact(format!("Debian:{}", major()?))),
            "alpine" => {
                let mut it = v.split('.');
                let (maj, min) = (it.next()?, it.next()?);
                Some(Ecosystems::Exact(format!("Alpine:v{maj}.{min}")))
            }
            // CentOS rebuilds RHEL's sources (Trivy and Grype match it against RHEL's data too).
            "rhel" | "centos" => {
                let base = format!("Red Hat:enterprise_linux:{}", major()?);
                Some(Ecosystems::Family {
                    prefix: format!("{base}::"),
                    suffix: String::new(),
                    exact: Some(base),
                })
            }
            "almalinux" => Some(Ecosystems::Exact(format!("AlmaLinux:{}", major()?))),
            "rocky" => Some(Ecosystems::Exact(format!("Rocky Linux:{}", major()?))),
            "opensuse-leap" => {
                let (maj, min) = v.split_once('.')?;
                Some(Ecosystems::Exact(format!("openSUSE:Leap {maj}.{min}")))
            }
            "sles" => {
                let maj = major()?;
                let suffix = match v.split_once('.') {
                    Some((_, sp)) if sp != "0" && sp.bytes().all(|b| b.is_ascii_digit()) => {
                        format!(" {maj} SP{sp}")
                    }
                    _ => format!(" {maj}"),
                };
                Some(Ecosystems::Family {
                    prefix: "SUSE:Linux Enterprise ".into(),
                    suffix,
                    exact: None,
                })
            }
            _ => None,
        }
    }
}

/// Everything the catalogers found in one target.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// The distribution, when identified.
    pub distro: Option<Distro>,
    /// Packages, sorted.
    pub packages: Vec<Package>,
    /// What could not be read or is not supported (never silently clean).
    pub not_scanned: Vec<String>,
}

/// Run every cataloger over a file set.
pub fn catalog(fs: &FileSet) -> Catalog {
    let mut out = Catalog {
        distro: detect_distro(fs),
        not_scanned: fs.problems.clone(),
        ..Catalog::default()
    };
    let mut unidentified_jars = Vec::new();
    for (path, entry) in &fs.files {
        let layer = entry.layer.clone();
        let result = if path == files::DPKG_STATUS || path.starts_with(files::DPKG_STATUS_D) {
            if path.ends_with(".md5sums") {
                continue;
            }
            dpkg::parse_status(&entry.data, path)
        } else if path == files::APK_INSTALLED {
            apk::parse_installed(&entry.data, path)
        } else if rpm::is_db(path) {
            if path.ends_with(rpm::WAL_SUFFIX) {
                continue; // read with its database
            }
            let wal = fs.get(&format!("{path}{}", rpm::WAL_SUFFIX));
            rpm::parse_db(&entry.data, wal.map(|w| w.data.as_slice()), path)
        } else if files::is_python_metadata(path) {
            python::parse_metadata(&entry.data, path).map(|p| vec![p])
        } else if entry.data.starts_with(java::JAR_MARKER) {
            // Debian's own jars are matched through their Debian package, coordinates or not.
            if !path.starts_with(crate::report::DEBIAN_JAVA) {
                unidentified_jars.extend(java::unidentified(&entry.data));
            }
            java::packages(&entry.data, path)
        } else if entry.data.starts_with(lang::RUST_MARKER) {
            lang::rust_audit_packages(&entry.data, path)
        } else if entry.data.starts_with(lang::GO_MARKER) {
            lang::go_modules(&entry.data, path)
        } else if files::is_npm_lock(path) {
            lang::npm_lock(&entry.data, path)
        } else if files::is_node_module_manifest(path) {
            lang::npm_manifest(&entry.data, path).map(|p| vec![p])
        } else if files::is_cargo_lock(path) {
            lang::cargo_lock(&entry.data, path)
        } else if let Some(kind) = files::python_lock(path) {
            match kind {
                files::PythonLock::Toml => pylock::toml_lock(&entry.data, path),
                files::PythonLock::Pipfile => pylock::pipfile_lock(&entry.data, path),
                files::PythonLock::Requirements => pylock::requirements(&entry.data, path),
            }
        } else {
            continue;
        };
        match result {
            Ok(pkgs) => out.packages.extend(pkgs.into_iter().map(|mut p| {
                p.layer = layer.clone();
                p
            })),
            Err(e) => out.not_scanned.push(e.to_string()),
        }
    }
    if !unidentified_jars.is_empty() {
        out.not_scanned.push(unidentified_note(&unidentified_jars));
    }
    out.packages.sort();
    out
}

/// One line for every Java archive without Maven coordinates: no advisory can be matched
/// to it by name, so it is listed as not scanned, never counted as clean.
fn unidentified_note(paths: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut shown = paths
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > SHOWN {
        shown.push_str(&format!(", and {} more", paths.len() - SHOWN));
    }
    format!(
        "{} Java archives not matched: they carry no Maven coordinates (no META-INF/maven/<group>/<artifact>/pom.properties, which a Maven build writes), so no advisory can name them: {shown}",
        paths.len()
    )
}

/// Identify the distribution from os-release (or Debian's/Alpine's own files).
pub fn detect_distro(fs: &FileSet) -> Option<Distro> {
    let from_os_release = files::OS_RELEASE
        .iter()
        .find_map(|p| fs.get(p))
        .and_then(|e| parse_os_release(&String::from_utf8_lossy(&e.data)));
    if let Some(d) = from_os_release {
        return Some(d);
    }
    if let Some(e) = fs.get(files::ALPINE_RELEASE) {
        return Some(Distro {
            id: "alpine".into(),
            version_id: String::from_utf8_lossy(&e.data).trim().to_string(),
        });
    }
    fs.get(files::DEBIAN_VERSION).map(|e| Distro {
        id: "debian".into(),
        version_id: String::from_utf8_lossy(&e.data).trim().to_string(),
    })
}

fn parse_os_release(text: &str) -> Option<Distro> {
    let mut id = None;
    let mut version_id = String::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches(['"', '\'']).to_string();
        match k.trim() {
            "ID" => id = Some(v),
            "VERSION_ID" => version_id = v,
            _ => {}
        }
    }
    Some(Distro {
        id: id?,
        version_id,
    })
}
