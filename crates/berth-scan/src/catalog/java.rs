//! Java archives (`.jar`, `.war`, `.ear`): the Maven coordinates in every
//! `META-INF/maven/<group>/<artifact>/pom.properties`, in the archive and in the archives
//! nested in it (Spring Boot's `BOOT-INF/lib/*.jar`, a war's `WEB-INF/lib`), 3 levels deep.
//! Archives are summarised while streamed; only the coordinates are kept. A library archive
//! without coordinates (no pom.properties and no nested archive: a Gradle or hand-made jar)
//! is kept by path, so the scan says it was not matched instead of calling it clean.

use super::{Package, PackageType};
use crate::error::{Error, Result};
use std::io::Cursor;
use std::path::Path;

/// Marker of a kept archive summary: then one `group\tartifact\tversion\tinner path` line per
/// pom.properties and one `?\tinner path` line per archive without coordinates, or `!reason`
/// when the archive could not be read.
pub const JAR_MARKER: &[u8] = b"\0berth-jar\0";
/// Largest archive (and nested archive) read.
pub const MAX_ARCHIVE: u64 = 256 << 20;
const MAX_DEPTH: u32 = 3;

/// Whether a path names a Java archive.
pub fn is_archive(path: &str) -> bool {
    let l = path.to_ascii_lowercase();
    [".jar", ".war", ".ear"].iter().any(|x| l.ends_with(x))
}

fn props(text: &str) -> Option<(String, String, String)> {
    let mut g = None;
    let mut a = None;
    let mut v = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, val)) = line.split_once('=') {
            let val = Some(val.trim().to_string());
            match k.trim() {
                "groupId" => g = val,
                "artifactId" => a = val,
                "version" => v = val,
                _ => {}
            }
        }
    }
    Some((g?, a?, v?))
}

fn walk(data: &[u8], inner: &str, depth: u32, out: &mut Vec<String>) -> Result<()> {
    let mut nested = Vec::new();
    let found_before = out.len();
    let mut archives = 0usize;
    crate::sources::zip_entries_of(
        Cursor::new(data),
        data.len() as u64,
        Path::new(inner),
        MAX_ARCHIVE,
        &mut |name, member| {
            if name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties") {
                if let Some((g, a, v)) = props(&String::from_utf8_lossy(member)) {
                    out.push(format!("{g}\t{a}\t{v}\t{inner}"));
                }
            } else if is_archive(name) {
                archives += 1;
                if depth < MAX_DEPTH {
                    nested.push((name.to_string(), member.to_vec()));
                }
            }
            Ok(())
        },
    )?;
    if out.len() == found_before && archives == 0 {
        out.push(format!("?\t{inner}"));
    }
    for (name, member) in nested {
        walk(&member, &format!("{inner}!/{name}"), depth + 1, out)?;
    }
    Ok(())
}

/// Summarise an archive for the file set.
pub fn summarise(data: &[u8], path: &str) -> Vec<u8> {
    let mut lines = Vec::new();
    let mut out = JAR_MARKER.to_vec();
    match walk(data, path, 0, &mut lines) {
        Ok(()) => out.extend_from_slice(lines.join("\n").as_bytes()),
        Err(e) => out.extend_from_slice(format!("!{e}").as_bytes()),
    }
    out
}

/// The archives of a kept summary that carry no Maven coordinates (not matched).
pub fn unidentified(kept: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(kept.strip_prefix(JAR_MARKER).unwrap_or(kept));
    if text.starts_with('!') {
        return Vec::new();
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("?\t"))
        .map(str::to_string)
        .collect()
}

/// The packages of a kept summary. Name `group:artifact`, purl `pkg:maven/group/artifact@v`.
pub fn packages(kept: &[u8], path: &str) -> Result<Vec<Package>> {
    let text = String::from_utf8_lossy(kept.strip_prefix(JAR_MARKER).unwrap_or(kept));
    if let Some(reason) = text.strip_prefix('!') {
        return Err(Error::invalid(
            path,
            format!("Java archive not read: {reason}"),
        ));
    }
    Ok(text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let [g, a, v, inner] = f.as_slice() else {
                return None;
            };
            Some(Package {
                kind: PackageType::Java,
                name: format!("{g}:{a}"),
                version: (*v).to_string(),
                arch: None,
                source_name: None,
                source_version: None,
                license: None,
                path: (*inner).to_string(),
                layer: None,
            })
        })
        .collect())
}
