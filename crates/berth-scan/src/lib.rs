//! CVE scanning for berth: find the packages inside a root filesystem or an OCI image,
//! match them against OSV vulnerability records with each ecosystem's own version order,
//! and decide whether a release may ship under a policy ("no release while a CVE with an
//! available fix is unpatched"). Usable alone; formats are in `docs/formats/scan.md`.
//!
//! - [`files`]: which files catalogers need, and the [`files::FileSet`] holding them.
//! - [`image`]: layers applied in order (whiteouts, opaque directories) from an OCI layout,
//!   streamed out of gzip/zstd, with a per-layer-digest cache; [`rootfs`] reads a directory.
//! - [`catalog`]: dpkg (`status`, distroless `status.d`), apk, rpm (sqlite, Berkeley DB, ndb),
//!   Python dist-info and lockfiles, npm, Cargo, Go build info, Java archives.
//! - [`version`]: dpkg, apk, PEP 440, semver, rpm, Maven and Go module version order.
//! - [`osv`]: OSV records, the in-memory index and the match → finding decision.
//! - [`report`]: scan results; [`policy`]: pass/fail with reasons and the release gate;
//!   [`sbom`]: CycloneDX 1.5 JSON; [`vex`]: OpenVEX statements that suppress findings.

pub mod artifact;
pub mod catalog;
pub mod error;
pub mod files;
pub mod image;
pub mod osv;
pub mod policy;
pub mod report;
pub mod rootfs;
pub mod sarif;
pub mod sbom;
pub mod sources;
pub mod version;
pub mod vex;
pub mod vulndb;

pub use error::{Error, Result};
pub use policy::{Policy, gate_reasons};
pub use report::{ScanReport, TargetReport};
