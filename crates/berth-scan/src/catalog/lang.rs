//! Language package catalogers: npm (`package-lock.json` v1–v3, `node_modules/*/package.json`),
//! Rust (`Cargo.lock`, and the `.dep-v0` section cargo-auditable embeds in binaries), Go
//! (module build info embedded in binaries by the Go linker).

use super::{Package, PackageType};
use crate::error::{Error, Result};
use serde_json::Value;

fn pkg(kind: PackageType, name: &str, version: &str, path: &str) -> Package {
    Package {
        kind,
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

/// `package-lock.json` (lockfileVersion 1, 2 or 3): every locked package except the root
/// project and links to local directories.
pub fn npm_lock(data: &[u8], path: &str) -> Result<Vec<Package>> {
    let v: Value = serde_json::from_slice(data)
        .map_err(|e| Error::invalid(path, format!("not a package-lock.json: {e}")))?;
    let mut out = Vec::new();
    if let Some(pkgs) = v.get("packages").and_then(Value::as_object) {
        for (key, p) in pkgs {
            if key.is_empty() || p.get("link").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let Some(version) = p.get("version").and_then(Value::as_str) else {
                continue; // a workspace folder without a version
            };
            let name = p
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| {
                    key.rfind("node_modules/")
                        .map(|i| key[i + "node_modules/".len()..].to_string())
                });
            if let Some(name) = name {
                out.push(pkg(PackageType::Npm, &name, version, path));
            }
        }
    } else if let Some(deps) = v.get("dependencies").and_then(Value::as_object) {
        let mut stack = vec![deps];
        while let Some(d) = stack.pop() {
            for (name, p) in d {
                if let Some(version) = p.get("version").and_then(Value::as_str) {
                    // v1 writes `file:` / git URLs for non-registry packages.
                    if !version.contains(':') {
                        out.push(pkg(PackageType::Npm, name, version, path));
                    }
                }
                if let Some(sub) = p.get("dependencies").and_then(Value::as_object) {
                    stack.push(sub);
                }
            }
        }
    }
    Ok(out)
}

/// An installed package's `node_modules/<name>/package.json`.
pub fn npm_manifest(data: &[u8], path: &str) -> Result<Package> {
    let v: Value = serde_json::from_slice(data)
        .map_err(|e| Error::invalid(path, format!("not a package.json: {e}")))?;
    match (
        v.get("name").and_then(Value::as_str),
        v.get("version").and_then(Value::as_str),
    ) {
        (Some(n), Some(ver)) if !n.is_empty() && !ver.is_empty() => {
            Ok(pkg(PackageType::Npm, n, ver, path))
        }
        _ => Err(Error::invalid(
            path,
            "package.json has no name or version; the package was not checked",
        )),
    }
}

/// A `[[package]]` being read: name, version, source, first line.
type LockEntry = (Option<String>, Option<String>, Option<String>, usize);

/// `Cargo.lock`: every `[[package]]`; the registry it came from is kept as the source, and
/// only packages from a registry are matched against crates.io advisories.
pub fn cargo_lock(data: &[u8], path: &str) -> Result<Vec<Package>> {
    let text =
        std::str::from_utf8(data).map_err(|e| Error::invalid(path, format!("not UTF-8: {e}")))?;
    let mut out = Vec::new();
    let mut cur: Option<LockEntry> = None;
    let flush = |c: Option<LockEntry>, out: &mut Vec<Package>| -> Result<()> {
        if let Some((n, v, s, line)) = c {
            let (Some(n), Some(v)) = (n, v) else {
                return Err(Error::invalid(
                    format!("{path}:{line}"),
                    "[[package]] without name or version",
                ));
            };
            let mut p = pkg(PackageType::Cargo, &n, &v, path);
            p.source_name = s;
            out.push(p);
        }
        Ok(())
    };
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.starts_with('[') {
            flush(cur.take(), &mut out)?;
            if l == "[[package]]" {
                cur = Some((None, None, None, i + 1));
            }
            continue;
        }
        let Some(c) = cur.as_mut() else { continue };
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').to_string();
        match k.trim() {
            "name" => c.0 = Some(v),
            "version" => c.1 = Some(v),
            "source" => c.2 = Some(v),
            _ => {}
        }
    }
    flush(cur, &mut out)?;
    Ok(out)
}

/// What a Go binary's build info is turned into before it is kept (a file set holds text,
/// not whole binaries): this marker, the Go version, a newline, the module info.
pub const GO_MARKER: &[u8] = b"\0berth-go-buildinfo\0";

const GO_MAGIC: &[u8] = b"\xff Go buildinf:";

fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        x |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Some((x, i + 1));
        }
    }
    None
}

/// Find the build info of a Go binary (ELF, Mach-O or PE alike: the `\xff Go buildinf:`
/// header, 16-byte aligned). `None`: not a Go binary. `Some(Err)`: a Go binary whose build
/// info berth cannot read (built before Go 1.18, pointer format).
pub fn go_buildinfo(data: &[u8]) -> Option<std::result::Result<Vec<u8>, String>> {
    let at = (0..data.len().saturating_sub(32))
        .step_by(16)
        .find(|&i| data[i] == 0xff && data.get(i..i + GO_MAGIC.len()) == Some(GO_MAGIC))?;
    let flags = data[at + 15];
    if flags & 2 == 0 {
        return Some(Err(
            "Go binary built before Go 1.18 (pointer-format build info); its modules were not read"
                .into(),
        ));
    }
    let mut rest = &data[at + 32..];
    let mut strings = Vec::new();
    for _ in 0..2 {
        let Some((n, used)) = uvarint(rest) else {
            return Some(Err("damaged Go build info".into()));
        };
        let Some(s) = rest.get(used..used + n as usize) else {
            return Some(Err("damaged Go build info".into()));
        };
        strings.push(s);
        rest = &rest[used + n as usize..];
    }
    let mut modinfo = strings[1];
    if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        modinfo = &modinfo[16..modinfo.len() - 16];
    }
    let mut out = GO_MARKER.to_vec();
    out.extend_from_slice(strings[0]);
    out.push(b'\n');
    out.extend_from_slice(modinfo);
    Some(Ok(out))
}

/// The modules of a binary from its kept build info: the main module, each dependency (a
/// `=>` replacement wins), and `stdlib` at the toolchain version.
pub fn go_modules(kept: &[u8], path: &str) -> Result<Vec<Package>> {
    let text = String::from_utf8_lossy(kept.strip_prefix(GO_MARKER).unwrap_or(kept));
    if let Some(note) = text.strip_prefix('!') {
        return Err(Error::invalid(path, note));
    }
    let mut lines = text.lines();
    let go_version = lines.next().unwrap_or_default().trim();
    let mut out = Vec::new();
    // go1.21.5, go1.22rc1, go1.20.1 X:boringcrypto: in the semver form the Go vulnerability
    // database uses (1.22rc1 is below 1.22.0, not equal to it). A development toolchain
    // (`devel go1.23-…`) names no release and is not listed.
    if let Some(v) = crate::version::go::toolchain_semver(go_version) {
        out.push(pkg(PackageType::Go, "stdlib", &v, path));
    }
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["mod", p, v, ..] | ["dep", p, v, ..] => out.push(pkg(PackageType::Go, p, v, path)),
            ["=>", p, v, ..] => {
                if let Some(last) = out.last_mut().filter(|_| !v.is_empty()) {
                    last.name = (*p).to_string();
                    last.version = (*v).to_string();
                }
            }
            _ => {}
        }
    }
    if out.is_empty() {
        return Err(Error::invalid(path, "Go build info names no module"));
    }
    Ok(out)
}

/// What a Rust binary's cargo-auditable dependency list is turned into before it is kept:
/// this marker, then the decompressed JSON (or `!reason` when it could not be read).
pub const RUST_MARKER: &[u8] = b"\0berth-rust-audit\0";
/// Largest decompressed `.dep-v0` accepted (a binary with thousands of crates is ~200 KiB).
pub const MAX_AUDIT_JSON: u64 = 8 << 20;
/// The section cargo-auditable writes.
pub const AUDIT_SECTION: &str = ".dep-v0";

/// The bytes of the section named `name` of an ELF file (32/64-bit, either byte order).
/// `None`: not ELF, or no such section. `Some(Err)`: an ELF whose section table is damaged.
pub fn elf_section<'a>(
    data: &'a [u8],
    name: &str,
) -> Option<std::result::Result<&'a [u8], String>> {
    if data.get(..4) != Some(b"\x7fELF".as_slice()) {
        return None;
    }
    let wide = match data.get(4) {
        Some(1) => false,
        Some(2) => true,
        _ => return Some(Err("ELF class is neither 32- nor 64-bit".into())),
    };
    let big = match data.get(5) {
        Some(1) => false,
        Some(2) => true,
        _ => return Some(Err("ELF byte order is unknown".into())),
    };
    let uint = |at: usize, n: usize| -> Option<u64> {
        let b = data.get(at..at.checked_add(n)?)?;
        Some(if big {
            b.iter().fold(0u64, |v, x| (v << 8) | u64::from(*x))
        } else {
            b.iter().rev().fold(0u64, |v, x| (v << 8) | u64::from(*x))
        })
    };
    let word = if wide { 8 } else { 4 };
    let (shoff, entsize, mut shnum, mut strndx) = if wide {
        (uint(0x28, 8), uint(0x3a, 2), uint(0x3c, 2), uint(0x3e, 2))
    } else {
        (uint(0x20, 4), uint(0x2e, 2), uint(0x30, 2), uint(0x32, 2))
    };
    let (Some(shoff), Some(entsize)) = (shoff, entsize) else {
        return Some(Err("ELF header is cut off".into()));
    };
    if shoff == 0 {
        return None; // no section table: nothing named
    }
    let min_entsize = if wide { 64 } else { 40 };
    if entsize < min_entsize {
        return Some(Err(format!(
            "ELF section header size {entsize} is too small"
        )));
    }
    let sh = |i: u64| -> Option<usize> {
        usize::try_from(shoff.checked_add(i.checked_mul(entsize)?)?).ok()
    };
    // Extended numbering: the counts live in section 0.
    if shnum == Some(0) {
        shnum = sh(0).and_then(|at| uint(at.checked_add(16 + 2 * word)?, word));
    }
    if strndx == Some(0xffff) {
        strndx = sh(0).and_then(|at| uint(at.checked_add(16 + 3 * word)?, 4));
    }
    let (Some(shnum), Some(strndx)) = (shnum, strndx) else {
        return Some(Err("ELF section counts are cut off".into()));
    };
    if shnum > 65_535 * 16 || sh(shnum).is_none_or(|end| end > data.len()) {
        return Some(Err(format!(
            "ELF section table ({shnum} entries at {shoff}) is outside the file"
        )));
    }
    // (offset, size) of section i, None for SHT_NOBITS.
    let range = |i: u64| -> std::result::Result<Option<(usize, usize)>, String> {
        let at = sh(i).ok_or("section header outside the file")?;
        let kind = uint(at + 4, 4).ok_or("section header cut off")?;
        let (off, size) = if wide {
            (uint(at + 24, 8), uint(at + 32, 8))
        } else {
            (uint(at + 16, 4), uint(at + 20, 4))
        };
        let (off, size) = (
            off.ok_or("section header cut off")?,
            size.ok_or("section header cut off")?,
        );
        if kind == 8 {
            return Ok(None);
        }
        let end = off.checked_add(size).filter(|e| *e <= data.len() as u64);
        end.ok_or_else(|| format!("section {i} ({size} bytes at {off}) is outside the file"))?;
        Ok(Some((off as usize, size as usize)))
    };
    let names = match range(strndx) {
        Ok(Some((o, n))) => &data[o..o + n],
        Ok(None) => return Some(Err("ELF section name table has no bytes".into())),
        Err(e) => return Some(Err(e)),
    };
    for i in 0..shnum {
        let Some(at) = sh(i) else { continue };
        let Some(n) = uint(at, 4) else { continue };
        let Some(rest) = names.get(n as usize..) else {
            continue;
        };
        let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
        if &rest[..end] == name.as_bytes() {
            return match range(i) {
                Ok(Some((o, n))) => Some(Ok(&data[o..o + n])),
                Ok(None) => Some(Ok(&[])),
                Err(e) => Some(Err(e)),
            };
        }
    }
    None
}

/// The cargo-auditable dependency list of a binary, ready to keep (`RUST_MARKER` + JSON, or
/// `RUST_MARKER` + `!reason`); `None` when the binary has none.
pub fn rust_audit(data: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = RUST_MARKER.to_vec();
    // A damaged section table: not known to be auditable (a Go binary is looked for next).
    let section = elf_section(data, AUDIT_SECTION)?.ok()?;
    let mut json = Vec::new();
    let read = flate2::read::ZlibDecoder::new(section)
        .take(MAX_AUDIT_JSON + 1)
        .read_to_end(&mut json);
    match read {
        Ok(_) if json.len() as u64 > MAX_AUDIT_JSON => out.extend_from_slice(
            format!("!{AUDIT_SECTION} decompresses to more than {MAX_AUDIT_JSON} bytes").as_bytes(),
        ),
        Ok(_) => out.extend_from_slice(&json),
        Err(e) => out.extend_from_slice(
            format!("!{AUDIT_SECTION} is not zlib-compressed data: {e}").as_bytes(),
        ),
    }
    Some(out)
}

#[derive(serde::Deserialize)]
struct AuditInfo {
    packages: Vec<AuditPackage>,
}

#[derive(serde::Deserialize)]
struct AuditPackage {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

/// The crates of a kept cargo-auditable list (auditable-serde's format: `packages[]` with
/// `name`, `version`, `source` — `crates.io`, `local`, `git`, `registry`… — and `kind`,
/// `runtime` by default). Build-time crates (`kind: build`: build scripts, proc macros) run
/// only in the compiler and are not part of the binary: left out.
pub fn rust_audit_packages(kept: &[u8], path: &str) -> Result<Vec<Package>> {
    let body = kept.strip_prefix(RUST_MARKER).unwrap_or(kept);
    if let Some(reason) = body.strip_prefix(b"!") {
        return Err(Error::invalid(
            path,
            format!(
                "Rust binary built with cargo-auditable, but its dependency list could not be read: {}",
                String::from_utf8_lossy(reason)
            ),
        ));
    }
    let info: AuditInfo = serde_json::from_slice(body).map_err(|e| {
        Error::invalid(
            path,
            format!("{AUDIT_SECTION} of a Rust binary is not cargo-auditable JSON: {e}"),
        )
    })?;
    Ok(info
        .packages
        .into_iter()
        .filter(|p| p.kind.as_deref() != Some("build"))
        .map(|p| {
            let mut out = pkg(PackageType::Cargo, &p.name, &p.version, path);
            out.source_name = p.source;
            out
        })
        .collect())
}
