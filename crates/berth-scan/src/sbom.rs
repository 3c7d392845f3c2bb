//! SBOMs of one target: CycloneDX 1.6 JSON (with the findings as `vulnerabilities` when
//! scanned) and SPDX 2.3 JSON, the subsets in `docs/formats/scan.md` §1.

use crate::catalog::{Distro, Package, PackageType, python};
use crate::osv::FixState;
use crate::report::TargetReport;
use serde_json::{Value, json};
use sha2::Digest as _;
use std::collections::BTreeMap;

/// Percent-encode a purl segment (keeps `A-Za-z0-9.-_~`).
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"._-~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn enc_path(s: &str) -> String {
    s.split('/').map(enc).collect::<Vec<_>>().join("/")
}

/// The package URL of a package.
pub fn purl(p: &Package, distro: Option<&Distro>) -> String {
    let mut q = Vec::new();
    if let Some(a) = &p.arch {
        q.push(format!("arch={}", enc(a)));
    }
    let base = match p.kind {
        PackageType::Deb | PackageType::Apk => {
            let (ty, ns) = if p.kind == PackageType::Deb {
                ("deb", "debian")
            } else {
                ("apk", "alpine")
            };
            if let Some(d) = distro.filter(|d| !d.version_id.is_empty()) {
                q.push(format!("distro={}-{}", enc(&d.id), enc(&d.version_id)));
            }
            format!("pkg:{ty}/{ns}/{}@{}", enc(&p.name), enc(&p.version))
        }
        PackageType::Python => format!(
            "pkg:pypi/{}@{}",
            enc(&python::normalize(&p.name)),
            enc(&p.version)
        ),
        // Namespace segments (`@scope`, a module path's directories) are encoded one by one.
        PackageType::Npm => format!("pkg:npm/{}@{}", enc_path(&p.name), enc(&p.version)),
        PackageType::Cargo => format!("pkg:cargo/{}@{}", enc(&p.name), enc(&p.version)),
        PackageType::Go => format!("pkg:golang/{}@{}", enc_path(&p.name), enc(&p.version)),
        PackageType::Java => format!(
            "pkg:maven/{}@{}",
            enc_path(&p.name.replacen(':', "/", 1)),
            enc(&p.version)
        ),
        PackageType::Rpm => {
            // The purl version is `V-R`; an epoch goes in the `epoch` qualifier.
            let (epoch, vr) = match p.version.split_once(':') {
                Some((e, vr)) if e.bytes().all(|b| b.is_ascii_digit()) => (Some(e), vr),
                _ => (None, p.version.as_str()),
            };
            if let Some(d) = distro.filter(|d| !d.version_id.is_empty()) {
                q.push(format!("distro={}-{}", enc(&d.id), enc(&d.version_id)));
            }
            if let Some(e) = epoch.filter(|e| *e != "0") {
                q.push(format!("epoch={e}"));
            }
            let ns = rpm_namespace(distro.map(|d| d.id.as_str()).unwrap_or(""));
            format!("pkg:rpm/{}/{}@{}", enc(ns), enc(&p.name), enc(vr))
        }
    };
    if q.is_empty() {
        base
    } else {
        format!("{base}?{}", q.join("&"))
    }
}

/// The purl namespace (vendor) of an rpm distribution, by os-release `ID`.
fn rpm_namespace(id: &str) -> &str {
    match id {
        "rhel" => "redhat",
        "amzn" => "amazon",
        "ol" => "oracle",
        "sles" | "sled" => "suse",
        "" => "rpm",
        id if id.starts_with("opensuse") => "opensuse",
        id => id,
    }
}

/// The packages of a target in document order, each with its unique reference (its purl,
/// suffixed `#N` when two packages share one).
fn ordered(t: &TargetReport) -> Vec<(&Package, String, String)> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut pkgs: Vec<&Package> = t.packages.iter().collect();
    pkgs.sort_by(|a, b| {
        (a.kind, &a.name, &a.version, &a.path).cmp(&(b.kind, &b.name, &b.version, &b.path))
    });
    pkgs.into_iter()
        .map(|p| {
            let purl = purl(p, t.distro.as_ref());
            let n = seen.entry(purl.clone()).or_insert(0);
            *n += 1;
            let r = if *n == 1 {
                purl.clone()
            } else {
                format!("{purl}#{n}")
            };
            (p, purl, r)
        })
        .collect()
}

/// The CycloneDX document of a target; with `with_findings`, its findings as
/// `vulnerabilities` (a scan report in CycloneDX form).
pub fn cyclonedx(t: &TargetReport, with_findings: bool) -> Value {
    let order = ordered(t);
    let components: Vec<Value> = order
        .iter()
        .map(|(p, purl, bom_ref)| {
            let kind = serde_json::to_value(p.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let mut props = vec![json!({"name": "berth:package:type", "value": kind})];
            if let Some(s) = &p.source_name {
                props.push(json!({"name": "berth:package:source", "value": s}));
            }
            if let Some(s) = &p.source_version {
                props.push(json!({"name": "berth:package:sourceVersion", "value": s}));
            }
            props.push(json!({"name": "berth:location:path", "value": p.path}));
            if let Some(l) = &p.layer {
                props.push(json!({"name": "berth:location:layer", "value": l}));
            }
            let mut c = json!({
                "type": "library",
                "bom-ref": bom_ref,
                "name": p.name,
                "version": p.version,
                "purl": purl,
                "properties": props,
            });
            if let Some(l) = &p.license {
                c["licenses"] = json!([{ "license": { "name": l } }]);
            }
            c
        })
        .collect();
    let mut subject = json!({"type": "container", "name": t.name});
    if let Some(d) = &t.digest {
        subject["version"] = json!(d);
    }
    let mut doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": "berth", "version": env!("CARGO_PKG_VERSION")}]},
            "component": subject,
        },
        "components": components,
    });
    if with_findings {
        doc["vulnerabilities"] = Value::Array(vulnerabilities(t, &order));
    }
    doc
}

fn vulnerabilities(t: &TargetReport, order: &[(&Package, String, String)]) -> Vec<Value> {
    t.findings
        .iter()
        .map(|f| {
            let affects: Vec<Value> = order
                .iter()
                .filter(|(p, _, _)| {
                    p.name == f.package && p.version == f.version && p.path == f.path
                })
                .map(|(_, _, r)| json!({ "ref": r }))
                .collect();
            let sev = f.severity.to_string();
            let refs: Vec<Value> = f
                .aliases
                .iter()
                .map(|a| json!({ "id": a, "source": { "name": alias_source(a) } }))
                .collect();
            let mut v = json!({
                "id": f.advisory,
                "source": { "name": alias_source(&f.advisory) },
                "ratings": [ { "severity": sev } ],
                "affects": affects,
                "properties": [
                    { "name": "berth:fix:state", "value": fix_state_word(&f.fix) },
                    { "name": "berth:match:ecosystem", "value": f.ecosystem },
                ],
            });
            if !refs.is_empty() {
                v["references"] = Value::Array(refs);
            }
            if let Some(s) = &f.summary {
                v["description"] = json!(s);
            }
            if let Some(x) = &f.vex {
                v["analysis"] = vex_analysis(x);
            }
            if let FixState::Fixed(fx) = &f.fix {
                v["recommendation"] = json!(format!("Upgrade {} to {fx} or later", f.matched_name));
            }
            v
        })
        .collect()
}

/// CycloneDX `analysis` of a VEX statement: state, the corresponding justification when
/// CycloneDX has one, and a detail naming the statement (and its impact statement).
fn vex_analysis(x: &crate::vex::VexNote) -> Value {
    let mut a = json!({
        "state": crate::vex::cyclonedx_state(x.status),
        "detail": format!("{}; {}", x.describe(), x.file),
    });
    if let Some(j) = x
        .justification
        .as_deref()
        .and_then(crate::vex::cyclonedx_justification)
    {
        a["justification"] = json!(j);
    }
    if let Ok(t) = x.timestamp.parse::<jiff::Timestamp>() {
        a["lastUpdated"] = json!(t.to_string());
    }
    a
}

/// The word for a fix state (`fixed`, `not-fixed`, `wont-fix`, `unknown`).
pub fn fix_state_word(f: &FixState) -> &'static str {
    match f {
        FixState::Fixed(_) => "fixed",
        FixState::NotFixed => "not-fixed",
        FixState::WontFix => "wont-fix",
        FixState::Unknown => "unknown",
    }
}

/// Who publishes an advisory ID, from its prefix.
fn alias_source(id: &str) -> &'static str {
    let prefix = id.split('-').next().unwrap_or("");
    match prefix {
        "CVE" => "NVD",
        "GHSA" => "GitHub",
        "DSA" | "DLA" | "DEBIAN" => "Debian",
        "ALPINE" => "Alpine",
        "PYSEC" => "PyPA",
        "RUSTSEC" => "RustSec",
        "GO" => "Go",
        _ => "OSV",
    }
}

/// An SPDX identifier part: `[A-Za-z0-9.-]` kept, anything else `-`.
fn spdx_id_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The SPDX 2.3 JSON document of a target. `created` is the creation time (RFC 3339,
/// seconds, `Z`); the namespace is derived from the target so equal inputs give equal bytes.
pub fn spdx(t: &TargetReport, created: &str) -> Value {
    let order = ordered(t);
    let mut packages = Vec::new();
    let mut rels = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-target",
    })];
    let mut root = json!({
        "SPDXID": "SPDXRef-target",
        "name": t.name,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
    });
    if let Some(d) = &t.digest {
        root["versionInfo"] = json!(d);
    }
    packages.push(root);
    for (i, (p, purl, _)) in order.iter().enumerate() {
        let id = format!("SPDXRef-pkg-{}-{}", i + 1, spdx_id_part(&p.name));
        let mut comment = format!("found in {}", p.path);
        if let Some(l) = &p.layer {
            comment.push_str(&format!(" (layer {l})"));
        }
        let mut pkg = json!({
            "SPDXID": id,
            "name": p.name,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "LIBRARY",
            "comment": comment,
            "externalRefs": [ {
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": purl,
            } ],
        });
        if let Some(s) = &p.source_name {
            pkg["sourceInfo"] = json!(format!(
                "built from source package {s} {}",
                p.source_version.as_deref().unwrap_or(&p.version)
            ));
        }
        packages.push(pkg);
        rels.push(json!({
            "spdxElementId": "SPDXRef-target",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    let seed = format!("{}\n{}", t.name, t.digest.as_deref().unwrap_or(""));
    let ns = hex::encode(&sha2::Sha256::digest(seed.as_bytes())[..16]);
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": t.name,
        "documentNamespace": format!("https://spdx.berth.dev/{}/{ns}", spdx_id_part(&t.name)),
        "creationInfo": {
            "created": created,
            "creators": [ format!("Tool: berth-{}", env!("CARGO_PKG_VERSION")) ],
        },
        "packages": packages,
        "relationships": rels,
    })
}
