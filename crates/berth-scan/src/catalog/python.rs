//! Installed Python distributions: the `Name:` and `Version:` headers of a `.dist-info`
//! directory's `METADATA` (core metadata, an RFC 822 header block).

use super::{Package, PackageType};
use crate::error::{Error, Result};

/// Parse one METADATA file.
pub fn parse_metadata(data: &[u8], path: &str) -> Result<Package> {
    let text = String::from_utf8_lossy(data);
    let (mut name, mut version) = (None, None);
    for line in text.lines() {
        if line.is_empty() {
            break; // the description body follows
        }
        if let Some((k, v)) = line.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "name" => name = Some(v.trim().to_string()),
                "version" => version = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    match (name, version) {
        (Some(n), Some(v)) if !n.is_empty() && !v.is_empty() => Ok(Package {
            kind: PackageType::Python,
            name: n,
            version: v,
            arch: None,
            source_name: None,
            source_version: None,
            license: None,
            path: path.to_string(),
            layer: None,
        }),
        _ => Err(Error::invalid(
            path,
            "METADATA has no Name: or Version: header; the distribution was not checked",
        )),
    }
}

/// PEP 503 normalised name: lowercase, runs of `-`, `_`, `.` become one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}
