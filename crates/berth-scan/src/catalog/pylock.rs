//! Python lockfiles found in a target: `poetry.lock`, `uv.lock` (TOML `[[package]]`
//! tables), `Pipfile.lock` (JSON) and pinned `requirements*.txt` (`name==version` lines).
//! Each pinned distribution becomes a PyPI package at the lockfile's path.

use super::{Package, PackageType};
use crate::error::{Error, Result};

fn pkg(name: &str, version: &str, path: &str) -> Package {
    Package {
        kind: PackageType::Python,
        name: name.to_string(),
        version: version.to_string(),
        arch: None,
        source_name: None,
        source_version: None,
        license: None,
        path: path.to_string(),
        layer: None,
    }
}

fn text<'a>(data: &'a [u8], path: &str) -> Result<&'a str> {
    std::str::from_utf8(data).map_err(|e| Error::invalid(path, format!("not UTF-8: {e}")))
}

/// `poetry.lock` and `uv.lock`: every `[[package]]` with `name` and `version`, except
/// those not from a package index (poetry `[package.source]` of type git, directory, file
/// or url; uv `source = { editable | virtual | path | directory | git | url }`), which no
/// PyPI advisory is about.
pub fn toml_lock(data: &[u8], path: &str) -> Result<Vec<Package>> {
    let text = text(data, path)?;
    let mut out = Vec::new();
    // (name, version, from an index, line)
    let mut cur: Option<(Option<String>, Option<String>, bool, usize)> = None;
    // Which table of the current package the line is in: its own keys, its
    // `[package.source]` (poetry), or another sub-table (dependencies, metadata, …).
    let mut table = "";
    let flush = |c: Option<(Option<String>, Option<String>, bool, usize)>,
                 out: &mut Vec<Package>|
     -> Result<()> {
        if let Some((n, v, indexed, line)) = c {
            let (Some(n), Some(v)) = (n, v) else {
                return Err(Error::invalid(
                    format!("{path}:{line}"),
                    "[[package]] without name or version; the lockfile was not checked",
                ));
            };
            if indexed {
                out.push(pkg(&n, &v, path));
            }
        }
        Ok(())
    };
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l == "[[package]]" {
            flush(cur.take(), &mut out)?;
            cur = Some((None, None, true, i + 1));
            table = "package";
            continue;
        }
        if l == "[package.source]" {
            table = "source";
            continue;
        }
        if l.starts_with("[package.") || l.starts_with("[[package.") {
            table = "other";
            continue;
        }
        if l.starts_with('[') && l.ends_with(']') && !l.contains('=') && !l.contains('"') {
            // Another top-level table ([metadata], [extras], [options]): no package.
            flush(cur.take(), &mut out)?;
            table = "";
            continue;
        }
        let Some(c) = cur.as_mut() else { continue };
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        let unquote = |v: &str| v.trim_matches('"').to_string();
        match (table, k) {
            ("package", "name") => c.0 = Some(unquote(v)),
            ("package", "version") => c.1 = Some(unquote(v)),
            // uv: source = { registry = "…" } is an index; editable, virtual, git, … not.
            ("package", "source") => {
                c.2 = v.trim_start_matches('{').trim().starts_with("registry");
            }
            // poetry: type = "legacy" is an index; git, directory, file, url are not.
            ("source", "type") => c.2 = unquote(v) == "legacy",
            _ => {}
        }
    }
    flush(cur, &mut out)?;
    Ok(out)
}

/// `Pipfile.lock`: the `default` and `develop` sections, `"version": "==X"` of each entry
/// (entries without a pinned version — VCS, editable, path — are skipped).
pub fn pipfile_lock(data: &[u8], path: &str) -> Result<Vec<Package>> {
    let v: serde_json::Value = serde_json::from_slice(data).map_err(|e| {
        Error::invalid(path, format!("not JSON: {e}; the lockfile was not checked"))
    })?;
    let mut out = Vec::new();
    for section in ["default", "develop"] {
        let Some(map) = v.get(section).and_then(|s| s.as_object()) else {
            continue;
        };
        for (name, entry) in map {
            if let Some(ver) = entry
                .get("version")
                .and_then(|x| x.as_str())
                .and_then(|x| x.strip_prefix("=="))
                .map(|x| x.trim_start_matches('='))
            {
                out.push(pkg(name, ver.trim(), path));
            }
        }
    }
    Ok(out)
}

/// A pinned `requirements*.txt`: only `name==version` (or `===`) requirements, with
/// extras, environment markers, trailing comments, `--hash` options and `\`
/// continuations allowed; option lines (`-r`, `-e`, `--index-url`, …), URLs and ranges are
/// skipped (nothing pinned to check).
pub fn requirements(data: &[u8], path: &str) -> Result<Vec<Package>> {
    let text = text(data, path)?;
    let mut out = Vec::new();
    let mut logical = String::new();
    for raw in text.lines() {
        // A comment starts at `#` preceded by whitespace or at the start of the line.
        let line = match raw.find(" #").or_else(|| raw.starts_with('#').then_some(0)) {
            Some(i) => &raw[..i],
            None => raw,
        };
        if let Some(cont) = line.trim_end().strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let req = std::mem::take(&mut logical);
        if let Some((n, v)) = pinned(&req) {
            out.push(pkg(&n, &v, path));
        }
    }
    Ok(out)
}

/// `name[extras]==version ; marker --hash=…` → (name, version).
fn pinned(req: &str) -> Option<(String, String)> {
    let req = req.trim();
    if req.is_empty() || req.starts_with('-') || req.contains("://") {
        return None;
    }
    let req = req.split(';').next()?.split(" --").next()?.trim();
    let (name, version) = req.split_once("==")?;
    let name = name.split('[').next()?.trim();
    let version = version.trim_start_matches('=').trim();
    let ok_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    // `==1.*` and `==1.0, !=1.0.1` are ranges, not pins.
    let ok_version = !version.is_empty() && !version.contains(['*', ',', ' ', '<', '>', '!', '~']);
    (ok_name && ok_version).then(|| (name.to_string(), version.to_string()))
}
