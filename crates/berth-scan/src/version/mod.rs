//! Version order per ecosystem (dpkg, apk, PEP 440, semver, rpm, Maven, Go modules). Advisories say "fixed in X"; whether an installed version
//! is below X depends on the scheme, and a wrong order is a missed or a false finding.

pub mod apk;
pub mod deb;
pub mod go;
pub mod maven;
pub mod pep440;
pub mod rpm;
pub mod semver;

use std::cmp::Ordering;

/// A version scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// dpkg (Debian, Ubuntu).
    Deb,
    /// apk-tools (Alpine).
    Apk,
    /// PEP 440 (PyPI).
    Pep440,
    /// Semantic Versioning 2.0.0 (npm, crates.io).
    Semver,
    /// rpm EVR (Red Hat and derivatives, SUSE).
    Rpm,
    /// Maven's `ComparableVersion` order (Maven Central artifacts).
    Maven,
    /// Go module versions: strict semver with an optional `v`, pseudo-versions.
    Go,
}

/// A version string that the scheme cannot read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {scheme} version {version:?}: {reason}")]
pub struct VersionError {
    /// Scheme name.
    pub scheme: &'static str,
    /// The version string.
    pub version: String,
    /// Why it is invalid.
    pub reason: String,
}

impl VersionError {
    pub(crate) fn new(scheme: &'static str, version: &str, reason: impl Into<String>) -> Self {
        VersionError {
            scheme,
            version: version.to_string(),
            reason: reason.into(),
        }
    }
}

impl Scheme {
    /// Compare two versions in this scheme.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        match self {
            Scheme::Deb => Ok(deb::DebVersion::parse(a)?.cmp(&deb::DebVersion::parse(b)?)),
            Scheme::Apk => {
                apk::validate(a)?;
                apk::validate(b)?;
                Ok(apk::compare(a, b))
            }
            Scheme::Pep440 => Ok(pep440::Pep440::parse(a)?.cmp(&pep440::Pep440::parse(b)?)),
            Scheme::Semver => Ok(semver::Semver::parse(a)?.cmp(&semver::Semver::parse(b)?)),
            Scheme::Rpm => Ok(rpm::RpmVersion::parse(a)?.cmp(&rpm::RpmVersion::parse(b)?)),
            Scheme::Maven => {
                Ok(maven::MavenVersion::parse(a)?.cmp(&maven::MavenVersion::parse(b)?))
            }
            Scheme::Go => Ok(go::GoVersion::parse(a)?.cmp(&go::GoVersion::parse(b)?)),
        }
    }

    /// The OSV ecosystem base name whose advisories use this scheme.
    pub fn for_ecosystem(ecosystem: &str) -> Option<Scheme> {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem);
        match base {
            "Debian" | "Ubuntu" => Some(Scheme::Deb),
            "Alpine" => Some(Scheme::Apk),
            "PyPI" => Some(Scheme::Pep440),
            "npm" | "crates.io" => Some(Scheme::Semver),
            "Go" => Some(Scheme::Go),
            "Maven" => Some(Scheme::Maven),
            "Red Hat" | "AlmaLinux" | "Rocky Linux" | "openSUSE" | "SUSE" => Some(Scheme::Rpm),
            _ => None,
        }
    }
}
