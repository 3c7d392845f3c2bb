//! CycloneDX 1.5 JSON for one target (the subset in `docs/formats/scan.md` §1).

use crate::catalog::{Distro, Package, PackageType, python};
use crate::report::TargetReport;
use serde_json::{Value, json};
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
    };
    if q.is_empty() {
        base
    } else {
        format!("{base}?{}", q.join("&"))
    }
}

/// The CycloneDX document of a target.
pub fn cyclonedx(t: &TargetReport) -> Value {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut pkgs: Vec<&Package> = t.packages.iter().collect();
    pkgs.sort_by(|a, b| {
        (a.kind, &a.name, &a.version, &a.path).cmp(&(b.kind, &b.name, &b.version, &b.path))
    });
    let components: Vec<Value> = pkgs
        .iter()
        .map(|p| {
            let purl = purl(p, t.distro.as_ref());
            let n = seen.entry(purl.clone()).or_insert(0);
            *n += 1;
            let bom_ref = if *n == 1 {
                purl.clone()
            } else {
                format!("{purl}#{n}")
            };
            let kind = match p.kind {
                PackageType::Deb => "deb",
                PackageType::Apk => "apk",
                PackageType::Python => "python",
            };
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
            json!({
                "type": "library",
                "bom-ref": bom_ref,
                "name": p.name,
                "version": p.version,
                "purl": purl,
                "properties": props,
            })
        })
        .collect();
    let mut subject = json!({"type": "container", "name": t.name});
    if let Some(d) = &t.digest {
        subject["version"] = json!(d);
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": "berth", "version": env!("CARGO_PKG_VERSION")}]},
            "component": subject,
        },
        "components": components,
    })
}
