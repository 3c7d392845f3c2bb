//! Public advisory data turned into OSV records for `berth vulndb build`: OSV directories
//! and `all.zip` exports, the Debian Security Tracker JSON (per-release fixed, open,
//! undetermined and no-DSA states) and Alpine secdb files (JSON or YAML). Mapping rules:
//! `docs/formats/vulndb.md` §3.

use crate::error::{Error, Result};
use crate::osv::{Affected, AffectedPackage, Event, FIX_STATE_KEY, Range, Record};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Largest tracker or secdb file accepted (the full Debian tracker JSON is ~80 MB).
pub const MAX_SOURCE: u64 = 1 << 30;

/// Debian release codenames and their `VERSION_ID` major numbers (sid has none: skipped).
pub const DEBIAN_RELEASES: [(&str, &str); 8] = [
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
    ("duke", "15"),
];

fn parse_json_or_yaml<T: for<'de> Deserialize<'de>>(data: &[u8], origin: &str) -> Result<T> {
    let trimmed = data.iter().find(|b| !b.is_ascii_whitespace());
    if trimmed == Some(&b'{') {
        serde_json::from_slice(data).map_err(|e| {
            Error::invalid(
                origin,
                format!("line {}, column {}: {e}", e.line(), e.column()),
            )
        })
    } else {
        let text = std::str::from_utf8(data)
            .map_err(|e| Error::invalid(origin, format!("not UTF-8: {e}")))?;
        serde_saphyr::from_str(text).map_err(|e| Error::invalid(origin, e.to_string()))
    }
}

#[derive(Deserialize)]
struct TrackerCve {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    releases: TrackerReleases,
}

/// `releases` is an object, or `[]` when the tracker has no release data.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum TrackerReleases {
    Map(BTreeMap<String, TrackerRelease>),
    #[allow(dead_code)] // only its shape matters: `[]` means no release data
    List(Vec<serde::de::IgnoredAny>),
    #[default]
    None,
}

#[derive(Deserialize)]
struct TrackerRelease {
    status: String,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    urgency: Option<String>,
    #[serde(default)]
    nodsa: Option<String>,
    #[serde(default)]
    nodsa_reason: Option<String>,
}

/// The Debian Security Tracker JSON (`https://security-tracker.debian.org/tracker/data/json`):
/// `{source package: {CVE: {releases: {codename: {status, fixed_version, urgency, nodsa}}}}}`.
/// One record per (CVE, source package), one affected entry per known release.
pub fn debian_tracker(data: &[u8], origin: &str) -> Result<Vec<Record>> {
    let doc: BTreeMap<String, BTreeMap<String, TrackerCve>> = parse_json_or_yaml(data, origin)?;
    let mut out = Vec::new();
    for (pkg, cves) in doc {
        for (cve, c) in cves {
            let TrackerReleases::Map(releases) = c.releases else {
                continue;
            };
            let mut affected = Vec::new();
            for (codename, r) in releases {
                let Some((_, major)) = DEBIAN_RELEASES.iter().find(|(n, _)| *n == codename) else {
                    continue;
                };
                if let Some(a) = tracker_entry(&pkg, major, &r, origin, &cve)? {
                    affected.push(a);
                }
            }
            if affected.is_empty() {
                continue;
            }
            let summary = c
                .description
                .map(|d| d.chars().take(200).collect::<String>());
            out.push(Record {
                id: cve.clone(),
                aliases: Vec::new(),
                upstream: Vec::new(),
                related: Vec::new(),
                withdrawn: None,
                summary,
                affected,
                database_specific: None,
            });
        }
    }
    Ok(out)
}

/// One release's state as an affected entry; `None` when that release is not affected.
fn tracker_entry(
    pkg: &str,
    major: &str,
    r: &TrackerRelease,
    origin: &str,
    cve: &str,
) -> Result<Option<Affected>> {
    let urgency = r
        .urgency
        .as_deref()
        .map(|u| u.trim_end_matches('*').to_string());
    let mut events = vec![Event {
        introduced: Some("0".into()),
        ..Event::default()
    }];
    let mut marker = None;
    match r.status.as_str() {
        "resolved" => match r.fixed_version.as_deref() {
            // "0": the release never had the vulnerable code.
            Some("0") | Some("") | None => return Ok(None),
            Some(v) => events.push(Event {
                fixed: Some(v.to_string()),
                ..Event::default()
            }),
        },
        "open" => {
            // "ignored": Debian decided not to fix it in this release. "postponed" or an
            // empty reason (a minor issue for a point release) may still be fixed.
            if r.nodsa.is_some() && r.nodsa_reason.as_deref() == Some("ignored") {
                marker = Some("wont-fix");
            }
        }
        "undetermined" => marker = Some("unknown"),
        other => {
            return Err(Error::invalid(
                format!("{origin}: {pkg} {cve}"),
                format!(
                    "unknown tracker status {other:?} (expected resolved, open or undetermined)"
                ),
            ));
        }
    }
    let mut ds = serde_json::Map::new();
    if let Some(m) = marker {
        ds.insert(FIX_STATE_KEY.into(), json!(m));
    }
    Ok(Some(Affected {
        package: Some(AffectedPackage {
            ecosystem: format!("Debian:{major}"),
            name: pkg.to_string(),
        }),
        ranges: vec![Range {
            kind: "ECOSYSTEM".into(),
            events,
        }],
        versions: Vec::new(),
        ecosystem_specific: urgency.map(|u| json!({ "urgency": u })),
        database_specific: (!ds.is_empty()).then_some(serde_json::Value::Object(ds)),
    }))
}

#[derive(Deserialize)]
struct Secdb {
    distroversion: String,
    /// `packages:` with nothing under it (an empty repository) reads as null.
    #[serde(default)]
    packages: Option<Vec<SecdbPackage>>,
}

#[derive(Deserialize)]
struct SecdbPackage {
    pkg: SecdbPkg,
}

#[derive(Deserialize)]
struct SecdbPkg {
    name: String,
    #[serde(default)]
    secfixes: BTreeMap<String, Option<Vec<String>>>,
}

/// An Alpine secdb file (`https://secdb.alpinelinux.org/v3.19/main.json`, or the YAML of
/// the alpine-secdb repository): `secfixes: {fixed version: [CVE…]}` per origin package.
/// The key `0` lists CVEs that never affected Alpine's build: no record.
pub fn alpine_secdb(data: &[u8], origin: &str) -> Result<Vec<Record>> {
    let db: Secdb = parse_json_or_yaml(data, origin)?;
    let v = db.distroversion.trim();
    if !v.starts_with('v') || v.split('.').count() != 2 {
        return Err(Error::invalid(
            format!("{origin}: distroversion"),
            format!("{v:?} is not an Alpine release like v3.19"),
        ));
    }
    let ecosystem = format!("Alpine:{v}");
    let mut by_id: BTreeMap<(String, String), Record> = BTreeMap::new();
    for p in db.packages.unwrap_or_default() {
        for (fixed, ids) in p.pkg.secfixes {
            if fixed.trim() == "0" {
                continue;
            }
            for line in ids.unwrap_or_default() {
                let mut words = line.split_whitespace();
                let Some(id) = words.next() else { continue };
                let aliases: Vec<String> = words.map(str::to_string).collect();
                let rec = by_id
                    .entry((id.to_string(), p.pkg.name.clone()))
                    .or_insert_with(|| Record {
                        id: id.to_string(),
                        aliases,
                        upstream: Vec::new(),
                        related: Vec::new(),
                        withdrawn: None,
                        summary: None,
                        affected: Vec::new(),
                        database_specific: None,
                    });
                rec.affected.push(Affected {
                    package: Some(AffectedPackage {
                        ecosystem: ecosystem.clone(),
                        name: p.pkg.name.clone(),
                    }),
                    ranges: vec![Range {
                        kind: "ECOSYSTEM".into(),
                        events: vec![
                            Event {
                                introduced: Some("0".into()),
                                ..Event::default()
                            },
                            Event {
                                fixed: Some(fixed.trim().to_string()),
                                ..Event::default()
                            },
                        ],
                    }],
                    versions: Vec::new(),
                    ecosystem_specific: None,
                    database_specific: None,
                });
            }
        }
    }
    Ok(by_id.into_values().collect())
}

/// Parse one OSV record (JSON, or YAML as the PyPA database writes them).
pub fn osv_record(data: &[u8], origin: &str) -> Result<Record> {
    let rec: Record = parse_json_or_yaml(data, origin)
        .map_err(|e| Error::invalid(origin, format!("not an OSV record: {e}")))?;
    if rec.id.trim().is_empty() {
        return Err(Error::invalid(origin, "OSV record has an empty id"));
    }
    Ok(rec)
}

fn is_record_name(name: &str) -> bool {
    name.ends_with(".json") || name.ends_with(".yaml") || name.ends_with(".yml")
}

/// Every OSV record under a directory (`*.json`, `*.yaml`; links not followed) or in an
/// osv.dev `all.zip`.
pub fn osv_path(path: &Path) -> Result<Vec<Record>> {
    if path.is_dir() {
        let mut paths = Vec::new();
        for e in walkdir::WalkDir::new(path).follow_links(false) {
            let e = e.map_err(|e| {
                Error::invalid(path.display().to_string(), format!("cannot read: {e}"))
            })?;
            let name = e.file_name().to_string_lossy();
            if e.file_type().is_file() && is_record_name(&name) {
                paths.push(e.into_path());
            }
        }
        paths.sort();
        let mut out = Vec::with_capacity(paths.len());
        for p in paths {
            let data = crate::rootfs::read_bounded(&p, crate::osv::MAX_RECORD)?;
            out.push(osv_record(&data, &p.display().to_string())?);
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    zip_entries(path, &mut |name, data| {
        if is_record_name(name) {
            out.push(osv_record(data, &format!("{}: {name}", path.display()))?);
        }
        Ok(())
    })?;
    Ok(out)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Call `f` with each file of a ZIP archive (stored or deflated; no ZIP64), each bounded
/// by [`crate::osv::MAX_RECORD`].
pub fn zip_entries(path: &Path, f: &mut dyn FnMut(&str, &[u8]) -> Result<()>) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    zip_entries_of(file, len, path, crate::osv::MAX_RECORD, f)
}

/// [`zip_entries`] over any seekable reader of `len` bytes (a jar held in memory), each
/// member bounded by `max_member` bytes.
pub fn zip_entries_of<R: Read + Seek>(
    mut file: R,
    len: u64,
    path: &Path,
    max_member: u64,
    f: &mut dyn FnMut(&str, &[u8]) -> Result<()>,
) -> Result<()> {
    let what = path.display().to_string();
    let bad = |r: &str| Error::invalid(&what, format!("not a readable ZIP archive: {r}"));
    let tail_len = len.min(65_557);
    let mut tail = vec![0u8; tail_len as usize];
    file.seek(SeekFrom::Start(len - tail_len))
        .and_then(|_| file.read_exact(&mut tail))
        .map_err(|e| Error::io(path, e))?;
    let eocd = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(&tail, i) == Some(0x0605_4b50))
        .ok_or_else(|| bad("no end-of-central-directory record"))?;
    let cd_size = u32_at(&tail, eocd + 12).ok_or_else(|| bad("short EOCD"))?;
    let cd_off = u32_at(&tail, eocd + 16).ok_or_else(|| bad("short EOCD"))?;
    if cd_size == u32::MAX || cd_off == u32::MAX || u64::from(cd_off) + u64::from(cd_size) > len {
        return Err(bad("ZIP64 or a central directory past the end"));
    }
    let mut cd = vec![0u8; cd_size as usize];
    file.seek(SeekFrom::Start(cd_off.into()))
        .and_then(|_| file.read_exact(&mut cd))
        .map_err(|e| Error::io(path, e))?;
    let mut at = 0usize;
    while at + 46 <= cd.len() {
        if u32_at(&cd, at) != Some(0x0201_4b50) {
            return Err(bad("damaged central directory"));
        }
        let field = |o: usize| u16_at(&cd, at + o).map(usize::from).unwrap_or(0);
        let method = field(10);
        let csize = u64::from(u32_at(&cd, at + 20).unwrap_or(0));
        let usize_ = u64::from(u32_at(&cd, at + 24).unwrap_or(0));
        let (nlen, elen, clen) = (field(28), field(30), field(32));
        let local = u64::from(u32_at(&cd, at + 42).unwrap_or(0));
        let name = String::from_utf8_lossy(cd.get(at + 46..at + 46 + nlen).unwrap_or_default())
            .into_owned();
        at += 46 + nlen + elen + clen;
        if name.ends_with('/') {
            continue;
        }
        if usize_ > max_member || csize > max_member {
            return Err(Error::TooLarge {
                what: format!("{what}: {name}"),
                limit: max_member,
            });
        }
        let mut head = [0u8; 30];
        file.seek(SeekFrom::Start(local))
            .and_then(|_| file.read_exact(&mut head))
            .map_err(|e| Error::io(path, e))?;
        if u32_at(&head, 0) != Some(0x0403_4b50) {
            return Err(bad(&format!("{name}: bad local header")));
        }
        let skip =
            u64::from(u16_at(&head, 26).unwrap_or(0)) + u64::from(u16_at(&head, 28).unwrap_or(0));
        file.seek(SeekFrom::Current(skip as i64))
            .map_err(|e| Error::io(path, e))?;
        let mut comp = vec![0u8; csize as usize];
        file.read_exact(&mut comp).map_err(|e| Error::io(path, e))?;
        let data = match method {
            0 => comp,
            8 => {
                let mut out = Vec::with_capacity(usize_ as usize);
                flate2::read::DeflateDecoder::new(&comp[..])
                    .take(max_member + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| bad(&format!("{name}: {e}")))?;
                out
            }
            m => {
                return Err(bad(&format!(
                    "{name}: compression method {m} is not supported"
                )));
            }
        };
        if data.len() as u64 != usize_ {
            return Err(bad(&format!("{name}: size differs from the directory")));
        }
        f(&name, &data)?;
    }
    Ok(())
}
