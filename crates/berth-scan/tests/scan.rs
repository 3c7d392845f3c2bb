//! End to end over real data: images built here as OCI layouts from this machine's own
//! dpkg database, an apk database and dist-info files, matched against the real OSV
//! records in tests/data/osv, then judged by the policy.

use berth_oci::model::{self, Descriptor, Manifest};
use berth_oci::{Digest, Layout};
use berth_scan::catalog::{PackageType, dpkg};
use berth_scan::image::{self, LayerCache, Limits};
use berth_scan::osv::{self, FixState, Severity, VulnDb};
use berth_scan::policy::{self, Policy};
use berth_scan::report::{self, ScanReport};
use berth_scan::sbom;
use berth_scan::version::Scheme;
use jiff::civil::date;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

#[path = "../../../testing/tool.rs"]
mod tool_rule;
use tool_rule::tool;

fn fixture_db() -> VulnDb {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/osv");
    VulnDb::load_dir(&dir).unwrap_or_else(|e| panic!("{e}"))
}

/// The stanzas of these packages, copied from this machine's /var/lib/dpkg/status.
fn real_stanzas(names: &[&str]) -> Vec<String> {
    let text = std::fs::read_to_string("/var/lib/dpkg/status")
        .unwrap_or_else(|e| panic!("this test needs a Debian machine's dpkg database: {e}"));
    let mut out = Vec::new();
    for st in text.split("\n\n") {
        let name = st
            .lines()
            .find_map(|l| l.strip_prefix("Package: "))
            .unwrap_or("");
        if names.contains(&name) {
            out.push(st.trim().to_string());
        }
    }
    assert_eq!(
        out.len(),
        names.len(),
        "packages {names:?} must be installed here"
    );
    out
}

fn real_version(stanza: &str) -> String {
    stanza
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .unwrap_or_default()
        .to_string()
}

enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
}

fn tar_of(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        match e {
            Entry::File(p, data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, p, *data)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            Entry::Symlink(p, target) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, p, target)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
    b.into_inner().unwrap_or_else(|e| panic!("{e}"))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    g.write_all(data).unwrap_or_else(|e| panic!("{e}"));
    g.finish().unwrap_or_else(|e| panic!("{e}"))
}

fn zstd_of(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap_or_else(|e| panic!("{e}"))
}

fn desc(d: Digest, size: usize, mt: &str) -> Descriptor {
    Descriptor {
        media_type: mt.into(),
        digest: d,
        size: size as u64,
        platform: None,
        annotations: BTreeMap::new(),
    }
}

/// Write an image's blobs (layers given as blob bytes + media type); its manifest descriptor.
fn put_image(layout: &Layout, layers: &[(Vec<u8>, &str)]) -> Descriptor {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = layout.put_blob(config).unwrap_or_else(|e| panic!("{e}"));
    let m = Manifest {
        schema_version: 2,
        media_type: Some(model::OCI_MANIFEST.into()),
        config: desc(cd, config.len(), model::OCI_CONFIG),
        layers: layers
            .iter()
            .map(|(b, mt)| {
                desc(
                    layout.put_blob(b).unwrap_or_else(|e| panic!("{e}")),
                    b.len(),
                    mt,
                )
            })
            .collect(),
        annotations: BTreeMap::new(),
    };
    let bytes = serde_json::to_vec(&m).unwrap_or_else(|e| panic!("{e}"));
    let md = layout.put_blob(&bytes).unwrap_or_else(|e| panic!("{e}"));
    desc(md, bytes.len(), model::OCI_MANIFEST)
}

/// Add an index.json entry for `d` as image `name` (as `berth release build` does).
fn add_entry(layout: &Layout, mut entry: Descriptor, name: &str) {
    entry
        .annotations
        .insert(model::ANNOTATION_SOURCE.into(), name.into());
    entry
        .annotations
        .insert(model::ANNOTATION_KIND.into(), "image".into());
    layout.add_entry(entry).unwrap_or_else(|e| panic!("{e}"));
}

/// Write an image into `layout` under `name`; its manifest digest.
fn add_image(layout: &Layout, name: &str, layers: &[(Vec<u8>, &str)]) -> Digest {
    let d = put_image(layout, layers);
    let md = d.digest.clone();
    add_entry(layout, d, name);
    md
}

const METADATA_REQUESTS_2_28: &[u8] =
    b"Metadata-Version: 2.1\nName: requests\nVersion: 2.28.1\nSummary: Python HTTP for Humans.\n\nbody\n";
const METADATA_REQUESTS_2_25: &[u8] = b"Metadata-Version: 2.1\nName: requests\nVersion: 2.25.0\n";
const METADATA_REQUESTS_2_31: &[u8] = b"Metadata-Version: 2.1\nName: Requests\nVersion: 2.31.0\n";
const METADATA_REQUESTS_2_30: &[u8] = b"Metadata-Version: 2.1\nName: requests\nVersion: 2.30.0\n";
const METADATA_URLLIB3: &[u8] = b"Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.0\n";
const SITE: &str = "usr/local/lib/python3.11/site-packages";

/// A Debian 12 image: base layer (gzip) with real dpkg stanzas, libc6 set back to the
/// real bookworm version 2.36-9+deb12u1 (before DSA-5514-1); a second layer (zstd) that
/// whites out one dist-info directory, makes another directory opaque and adds a file.
fn debian_image(layout: &Layout, name: &str, old_glibc: bool) -> Digest {
    let st = real_stanzas(&["libc6", "curl", "libssl3", "zlib1g", "bsdutils"]);
    let mut status = String::new();
    for s in &st {
        let s = if old_glibc && s.starts_with("Package: libc6\n") {
            s.replace(
                &format!("Version: {}", real_version(s)),
                "Version: 2.36-9+deb12u1",
            )
        } else {
            s.clone()
        };
        status.push_str(&s);
        status.push_str("\n\n");
    }
    let os_release = std::fs::read("/usr/lib/os-release").unwrap_or_else(|e| panic!("{e}"));
    let p25 = format!("{SITE}/requests-2.25.0.dist-info/METADATA");
    let purl = "opt/app/site-packages/urllib3-1.26.0.dist-info/METADATA";
    let base = tar_of(&[
        Entry::File("usr/lib/os-release", &os_release),
        Entry::Symlink("etc/os-release", "../usr/lib/os-release"),
        Entry::File("etc/debian_version", b"12.11\n"),
        Entry::File("var/lib/dpkg/status", status.as_bytes()),
        Entry::File(
            "usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA",
            METADATA_REQUESTS_2_28,
        ),
        Entry::File(&p25, METADATA_REQUESTS_2_25),
        Entry::File(
            "app/.venv/lib/python3.11/site-packages/requests-2.30.0.dist-info/METADATA",
            METADATA_REQUESTS_2_30,
        ),
        Entry::File(purl, METADATA_URLLIB3),
        Entry::File("usr/bin/not-wanted", b"binary"),
    ]);
    let wh = format!("{SITE}/.wh.requests-2.25.0.dist-info");
    let p31 = format!("{SITE}/requests-2.31.0.dist-info/METADATA");
    let top = tar_of(&[
        Entry::File(&wh, b""),
        Entry::File("opt/app/site-packages/.wh..wh..opq", b""),
        Entry::File(&p31, METADATA_REQUESTS_2_31),
    ]);
    add_image(
        layout,
        name,
        &[
            (gzip(&base), model::OCI_LAYER_GZIP),
            (zstd_of(&top), "application/vnd.oci.image.layer.v1.tar+zstd"),
        ],
    )
}

fn scan(dir: &Path, cache: Option<&LayerCache>) -> ScanReport {
    report::scan_layout(dir, &fixture_db(), cache, &Limits::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn debian_image_layers_whiteouts_and_findings() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layout = Layout::create(tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    let md = debian_image(&layout, "registry.example/shop/web:1.0", true);
    let rep = scan(tmp.path(), None);
    assert_eq!(rep.targets.len(), 1);
    let t = &rep.targets[0];
    assert_eq!(t.digest.as_deref(), Some(md.as_str()));
    assert_eq!(t.distro.as_ref().map(|d| d.version_id.as_str()), Some("12"));
    assert!(t.not_scanned.is_empty(), "{:?}", t.not_scanned);

    let got: BTreeSet<(PackageType, &str, &str)> = t
        .packages
        .iter()
        .map(|p| (p.kind, p.name.as_str(), p.version.as_str()))
        .collect();
    // Whited out (requests 2.25.0) and hidden by the opaque directory (urllib3): gone.
    let py: Vec<_> = got.iter().filter(|p| p.0 == PackageType::Python).collect();
    assert_eq!(
        py,
        vec![
            &(PackageType::Python, "Requests", "2.31.0"),
            &(PackageType::Python, "requests", "2.28.1"),
            &(PackageType::Python, "requests", "2.30.0"),
        ]
    );
    assert_eq!(got.iter().filter(|p| p.0 == PackageType::Deb).count(), 5);
    let libc = t
        .packages
        .iter()
        .find(|p| p.name == "libc6")
        .unwrap_or_else(|| panic!("libc6"));
    assert_eq!(libc.source_name.as_deref(), Some("glibc"));
    assert_eq!(libc.version, "2.36-9+deb12u1");
    let base_layer = layout
        .read_manifest_blob(&md)
        .ok()
        .and_then(|b| model::parse_manifest("m", &b).ok())
        .map(|m| m.layers[0].digest.to_string());
    assert_eq!(
        libc.layer, base_layer,
        "the package names the layer it came from"
    );
    let new_requests = t.packages.iter().find(|p| p.version == "2.31.0");
    assert_ne!(new_requests.and_then(|p| p.layer.clone()), base_layer);

    let mut ids: Vec<(&str, &str, &FixState, Severity)> = t
        .findings
        .iter()
        .map(|f| (f.package.as_str(), f.advisory.as_str(), &f.fix, f.severity))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            (
                "libc6",
                "DSA-5514-1",
                &FixState::Fixed("2.36-9+deb12u3".into()),
                Severity::Unknown
            ),
            (
                "requests",
                "GHSA-j8r2-6x86-q33q",
                &FixState::Fixed("2.31.0".into()),
                Severity::Medium
            ),
        ]
    );
    // requests 2.28.1 under usr/lib/python3/dist-packages belongs to Debian's
    // python3-requests: not matched against PyPI (only the venv's 2.30.0 is).
    let pypi: Vec<&str> = t
        .findings
        .iter()
        .filter(|f| f.ecosystem == "PyPI")
        .map(|f| f.version.as_str())
        .collect();
    assert_eq!(pypi, vec!["2.30.0"]);
    let glibc = t.findings.iter().find(|f| f.advisory == "DSA-5514-1");
    assert_eq!(glibc.map(|f| f.matched_name.as_str()), Some("glibc"));
    assert!(glibc.is_some_and(|f| f.aliases.contains(&"CVE-2023-4911".to_string())));
}

#[test]
fn machine_versions_are_past_the_fixture_fixes() {
    // This machine's real libc6 is newer than DSA-5514-1's fix: no finding.
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layout = Layout::create(tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    debian_image(&layout, "web:patched", false);
    let rep = scan(tmp.path(), None);
    let adv: Vec<&str> = rep.targets[0]
        .findings
        .iter()
        .map(|f| f.advisory.as_str())
        .collect();
    assert_eq!(
        adv,
        vec!["GHSA-j8r2-6x86-q33q"],
        "only the old requests stays"
    );
}

#[test]
fn policy_blocks_fixable_and_honours_allowlist_expiry() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layout = Layout::create(tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    debian_image(&layout, "web:1.0", true);
    let rep = scan(tmp.path(), None);

    // Default policy: both fixable findings block (unknown severity blocks too).
    let reasons = policy::gate_reasons(&rep, &Policy::default());
    assert_eq!(reasons.len(), 2, "{reasons:#?}");
    assert!(reasons.iter().any(
        |r| r.contains("libc6 2.36-9+deb12u1 (source glibc) has DSA-5514-1")
            && r.contains("fixed in 2.36-9+deb12u3")
    ));

    // High threshold, unknown severity allowed: nothing blocks, both reported.
    let p = Policy::parse("failOn: high\nblockUnknownSeverity: false\n", "policy.yaml")
        .unwrap_or_else(|e| panic!("{e}"));
    let d = policy::evaluate(&rep, &p, date(2026, 12, 5));
    assert!(d.pass(), "{:#?}", d.blocking);
    assert_eq!(d.reported.len(), 2);

    // Allowlist by CVE alias, with expiry.
    let text = "failOn: medium\nallow:\n  - id: CVE-2023-4911\n    package: glibc\n    reason: no setuid binaries in this image\n    expires: 2027-01-31\n  - id: GHSA-j8r2-6x86-q33q\n    reason: no proxy with credentials\n    expires: 2026-01-01\n";
    let p = Policy::parse(text, "policy.yaml").unwrap_or_else(|e| panic!("{e}"));
    let d = policy::evaluate(&rep, &p, date(2026, 12, 5));
    assert_eq!(d.allowed.len(), 1, "{d:#?}");
    assert!(d.allowed[0].contains("allowed until 2027-01-31: no setuid binaries"));
    assert_eq!(d.blocking.len(), 1);
    assert!(
        d.blocking[0].contains("its allowance expired on 2026-01-01"),
        "{}",
        d.blocking[0]
    );
    // After the glibc allowance expires it blocks again.
    let later = policy::evaluate(&rep, &p, date(2027, 2, 1));
    assert_eq!(later.blocking.len(), 2);
}

#[test]
fn policy_errors_name_the_field() {
    let e = Policy::parse("allow:\n  - id: CVE-1\n    reason: r\n", "p.yaml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("p.yaml: allow[0].expires") && e.contains("expiry date"),
        "{e}"
    );
    let e = Policy::parse("allow:\n  - id: CVE-1\n    expires: 2027-01-01\n", "p.yaml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("allow[0].reason"), "{e}");
    let e = Policy::parse("failOn: severe\n", "p.yaml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("failOn") && e.contains("severe"), "{e}");
    let e = Policy::parse("failOnn: high\n", "p.yaml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("p.yaml"), "{e}");
    let e = Policy::parse(
        "allow:\n  - id: X\n    reason: r\n    expires: soon\n",
        "p.yaml",
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(e.contains("allow[0].expires") && e.contains("soon"), "{e}");
}

const APK_DB: &str = "C:Q1abc=\nP:musl\nV:1.2.4-r1\nA:x86_64\no:musl\n\nC:Q1def=\nP:busybox\nV:1.36.1-r2\nA:x86_64\no:busybox\n\nP:libssl3\nV:3.1.1-r1\nA:x86_64\no:openssl\n";

#[test]
fn alpine_image_matches_by_origin_and_release() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layout = Layout::create(tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    let layer = tar_of(&[
        Entry::File("etc/alpine-release", b"3.18.4\n"),
        Entry::File(
            "etc/os-release",
            b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.18.4\n",
        ),
        Entry::File("lib/apk/db/installed", APK_DB.as_bytes()),
    ]);
    // Uncompressed tar layer: told apart from gzip/zstd by its first bytes.
    add_image(
        &layout,
        "alpine:3.18",
        &[(layer, "application/vnd.oci.image.layer.v1.tar")],
    );
    let rep = scan(tmp.path(), None);
    let t = &rep.targets[0];
    assert_eq!(t.packages.len(), 3);
    let f: Vec<(&str, &str, &FixState)> = t
        .findings
        .iter()
        .map(|f| (f.package.as_str(), f.advisory.as_str(), &f.fix))
        .collect();
    // busybox's advisory is for Alpine v3.14 only: not matched against v3.18.
    assert_eq!(
        f,
        vec![(
            "libssl3",
            "ALPINE-CVE-2023-5363",
            &FixState::Fixed("3.1.4-r0".into())
        )]
    );
    let bom = sbom::cyclonedx(t, false);
    assert_eq!(bom["specVersion"], "1.6");
    let purls: Vec<&str> = bom["components"]
        .as_array()
        .map(|c| c.iter().filter_map(|x| x["purl"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        purls.contains(&"pkg:apk/alpine/libssl3@3.1.1-r1?arch=x86_64&distro=alpine-3.18.4"),
        "{purls:?}"
    );
}

#[test]
fn debian_sbom_carries_source_and_layer() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layout = Layout::create(tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    debian_image(&layout, "web:1.0", true);
    let rep = scan(tmp.path(), None);
    let bom = sbom::cyclonedx(&rep.targets[0], false);
    let comps = bom["components"].as_array().cloned().unwrap_or_default();
    assert_eq!(comps.len(), 8);
    let libc = comps
        .iter()
        .find(|c| c["name"] == "libc6")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        libc["purl"],
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12"
    );
    let props = libc["properties"].to_string();
    assert!(
        props.contains("\"berth:package:source\",\"value\":\"glibc\""),
        "{props}"
    );
    assert!(props.contains("berth:location:layer"), "{props}");
}

#[test]
fn layer_cache_skips_known_layers() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layout = Layout::create(tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    let md = debian_image(&layout, "web:1.0", true);
    let cache = LayerCache::new();
    let first = scan(tmp.path(), Some(&cache));
    assert_eq!(cache.len(), 2);
    // Remove the layer blobs: a second scan must be served from the cache alone.
    let m = model::parse_manifest("m", &layout.read_manifest_blob(&md).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    for l in &m.layers {
        std::fs::remove_file(layout.blob_path(&l.digest)).unwrap_or_else(|e| panic!("{e}"));
    }
    let second = scan(tmp.path(), Some(&cache));
    assert_eq!(first, second);
    // The cached catalog does not pin the database: a re-scan with another one matches anew.
    let other = report::scan_layout(tmp.path(), &VulnDb::new(), Some(&cache), &Limits::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(other.targets[0].packages, first.targets[0].packages);
    assert!(other.targets[0].findings.is_empty() && !first.targets[0].findings.is_empty());
    // Without the cache the missing blob is an error naming it.
    let e = report::scan_layout(tmp.path(), &fixture_db(), None, &Limits::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains(m.layers[0].digest.hex()), "{e}");
}

#[test]
fn hostile_and_corrupt_layers_are_refused() {
    // Path traversal.
    let evil = tar_of(&[Entry::File("ok", b"x")]);
    let mut evil = evil;
    // Rewrite the name field of the first header to a `..` path (tar::Builder refuses it).
    let name = b"../../etc/passwd";
    evil[..100].fill(0);
    evil[..name.len()].copy_from_slice(name);
    let mut h = tar::Header::from_byte_slice(&evil[..512]).clone();
    h.set_cksum();
    evil[..512].copy_from_slice(h.as_bytes());
    let e = image::read_layer(&evil[..], "layer sha256:evil", &Limits::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("layer sha256:evil") && e.contains(".."), "{e}");

    // Decompression bound.
    let big = vec![0u8; 4 << 20];
    let layer = gzip(&tar_of(&[Entry::File("var/lib/dpkg/status", &big)]));
    let small = Limits {
        max_layer_bytes: 1 << 20,
        ..Limits::default()
    };
    let e = image::read_layer(&layer[..], "layer L", &small)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("limit"), "{e}");
    // Wanted file above the per-file limit.
    let tiny = Limits {
        max_file: 1000,
        ..Limits::default()
    };
    let e = image::read_layer(&layer[..], "layer L", &tiny)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("var/lib/dpkg/status") && e.contains("1000"),
        "{e}"
    );

    // A corrupted blob in a layout: the digest check names the layer.
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layout = Layout::create(tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    let md = debian_image(&layout, "web:1.0", true);
    let m = model::parse_manifest("m", &layout.read_manifest_blob(&md).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let p = layout.blob_path(&m.layers[1].digest);
    let mut data = std::fs::read(&p).unwrap_or_default();
    let n = data.len();
    data[n - 1] ^= 0xff;
    std::fs::write(&p, data).unwrap_or_else(|e| panic!("{e}"));
    let e = report::scan_layout(tmp.path(), &fixture_db(), None, &Limits::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains(m.layers[1].digest.as_str()), "{e}");
}

#[test]
fn damaged_rpm_database_is_not_scanned_and_blocks() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = tmp.path();
    std::fs::create_dir_all(root.join("var/lib/rpm")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(root.join("etc")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(root.join("var/lib/rpm/rpmdb.sqlite"), b"SQLite format 3\0").unwrap_or_default();
    std::fs::write(root.join("etc/os-release"), b"ID=rhel\nVERSION_ID=9.4\n").unwrap_or_default();
    let rep = report::scan_rootfs(root, &fixture_db(), &Limits::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let t = &rep.targets[0];
    assert!(t.packages.is_empty() && t.findings.is_empty());
    assert_eq!(t.not_scanned.len(), 1, "{:?}", t.not_scanned);
    assert!(t.not_scanned[0].contains("rpm"));
    let reasons = policy::gate_reasons(&rep, &Policy::default());
    assert!(
        reasons.iter().any(|r| r.contains("not fully scanned")),
        "{reasons:?}"
    );
}

#[test]
fn rootfs_with_distroless_status_d() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = tmp.path();
    let st = real_stanzas(&["libc6", "zlib1g"]);
    let d = root.join("var/lib/dpkg/status.d");
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
    // Distroless: one file per package, no Status field, plus md5sums files.
    for (name, s) in ["libc6", "zlib1g"].iter().zip(&st) {
        let s: String = s
            .lines()
            .filter(|l| !l.starts_with("Status:"))
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(d.join(name), format!("{s}\n")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            d.join(format!("{name}.md5sums")),
            b"d41d8cd98f00b204e9800998ecf8427e  usr/lib/x\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::create_dir_all(root.join("etc")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        root.join("etc/os-release"),
        b"ID=debian\nVERSION_ID=\"12\"\n",
    )
    .unwrap_or_default();
    let rep = report::scan_rootfs(root, &fixture_db(), &Limits::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let t = &rep.targets[0];
    assert!(t.not_scanned.is_empty(), "{:?}", t.not_scanned);
    let names: Vec<(&str, Option<&str>)> = t
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.source_name.as_deref()))
        .collect();
    assert_eq!(
        names,
        vec![("libc6", Some("glibc")), ("zlib1g", Some("zlib"))]
    );
    let zlib = &t.packages[1];
    assert_eq!(
        zlib.source_version.as_deref(),
        None,
        "zlib's source version equals its own"
    );
}

/// The dpkg cataloger on this machine's real database equals `dpkg-query -W`.
#[test]
fn dpkg_cataloger_equals_dpkg_query_on_this_machine() {
    let data = std::fs::read("/var/lib/dpkg/status").unwrap_or_else(|e| panic!("{e}"));
    let ours: BTreeSet<(String, String)> = dpkg::parse_status(&data, "var/lib/dpkg/status")
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|p| (p.name, p.version))
        .collect();
    let out = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Package} ${Version} ${db:Status-Status}\\n"])
        .output()
        .unwrap_or_else(|e| panic!("dpkg-query must be installed: {e}"));
    assert!(out.status.success());
    let theirs: BTreeSet<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            // config-files packages have no files left; berth leaves them out on purpose.
            (f.len() == 3 && f[2] != "config-files" && f[2] != "not-installed")
                .then(|| (f[0].to_string(), f[1].to_string()))
        })
        .collect();
    assert!(
        theirs.len() > 100,
        "expected a real package set, got {}",
        theirs.len()
    );
    assert_eq!(ours, theirs);
    // Source packages with their own version: `Source: name (version)` is split.
    let pkgs = dpkg::parse_status(&data, "s").unwrap_or_default();
    let out = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Package} ${source:Package} ${source:Version}\\n"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let src: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let ours: BTreeSet<String> = pkgs
        .iter()
        .map(|p| {
            format!(
                "{} {} {}",
                p.name,
                p.source_name.as_deref().unwrap_or(&p.name),
                p.source_version.as_deref().unwrap_or(&p.version)
            )
        })
        .collect();
    assert_eq!(ours, src);
}

#[test]
fn osv_unfixed_and_versions_only_states() {
    let db = fixture_db();
    let hits = db.lookup("Debian:12", "php-league-commonmark");
    assert_eq!(hits.len(), 1);
    let (rec, aff) = hits[0];
    let m = osv::evaluate(rec, aff, Scheme::Deb, "2.3.9-1").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.map(|m| m.fix), Some(FixState::NotFixed));
    // introduced 0 without fixed: every later version is affected too.
    let m = osv::evaluate(rec, aff, Scheme::Deb, "2.7.0-1").unwrap_or_else(|e| panic!("{e}"));
    assert!(m.is_some());
    // DSA-3029-1 is for Debian 7 only.
    assert!(db.lookup("Debian:12", "nginx").is_empty());
    let (rec, aff) = db.lookup("Debian:7", "nginx")[0];
    let m =
        osv::evaluate(rec, aff, Scheme::Deb, "1.2.1-2.2+wheezy2").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        m.map(|m| m.fix),
        Some(FixState::Fixed("1.2.1-2.2+wheezy3".into()))
    );
    assert!(
        osv::evaluate(rec, aff, Scheme::Deb, "1.2.1-2.2+wheezy3")
            .unwrap_or_default()
            .is_none()
    );
    // PyPI: introduced 2.3.0, so 2.2.1 is not affected; names are PEP 503 normalised.
    let (rec, aff) = db.lookup("PyPI", "Requests")[0];
    assert!(
        osv::evaluate(rec, aff, Scheme::Pep440, "2.2.1")
            .unwrap_or_default()
            .is_none()
    );
    assert!(
        osv::evaluate(rec, aff, Scheme::Pep440, "2.30.0")
            .unwrap_or_default()
            .is_some()
    );
}

#[test]
fn bad_advisory_file_is_named() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(tmp.path().join("broken.json"), b"{\"affected\": []}").unwrap_or_default();
    let e = VulnDb::load_dir(tmp.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("broken.json") && e.contains("not an OSV record"),
        "{e}"
    );
}

/// A berth release: an app entry (skipped), a single-platform image and a multi-platform
/// index whose attestation manifest (`unknown/unknown`) is skipped too.
#[test]
fn release_layout_scans_every_image() {
    use berth_oci::release::{self, Release, ReleaseImage, ReleaseMeta};
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layout = Layout::create(tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    let web = debian_image(&layout, "registry.example/shop/web:1.0", true);
    let alpine_layer = tar_of(&[
        Entry::File("etc/os-release", b"ID=alpine\nVERSION_ID=3.18.4\n"),
        Entry::File("lib/apk/db/installed", APK_DB.as_bytes()),
    ]);
    let mut amd = put_image(&layout, &[(gzip(&alpine_layer), model::OCI_LAYER_GZIP)]);
    amd.platform = Some(model::Platform::parse("linux/amd64").unwrap_or_else(|e| panic!("{e}")));
    let mut att = put_image(&layout, &[(gzip(&tar_of(&[])), model::OCI_LAYER_GZIP)]);
    att.platform =
        Some(model::Platform::parse("unknown/unknown").unwrap_or_else(|e| panic!("{e}")));
    let mut idx = model::Index::new();
    idx.manifests = vec![amd, att];
    let ib = serde_json::to_vec(&idx).unwrap_or_else(|e| panic!("{e}"));
    let id = layout.put_blob(&ib).unwrap_or_else(|e| panic!("{e}"));
    add_entry(
        &layout,
        desc(id.clone(), ib.len(), model::OCI_INDEX),
        "registry.example/shop/cache:3.18",
    );
    let meta = ReleaseMeta {
        format: 1,
        app: "shop".into(),
        version: "1.0.0".into(),
        images: vec![
            ReleaseImage {
                source: "registry.example/shop/web:1.0".into(),
                digest: web.clone(),
                media_type: model::OCI_MANIFEST.into(),
            },
            ReleaseImage {
                source: "registry.example/shop/cache:3.18".into(),
                digest: id,
                media_type: model::OCI_INDEX.into(),
            },
        ],
    };
    release::write_app_entry(
        &layout,
        &meta,
        &[("berth.yaml".into(), b"app: shop\n".to_vec())],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let rel = Release::open(tmp.path()).unwrap_or_else(|e| panic!("a valid berth release: {e}"));
    assert_eq!(rel.images.len(), 2);

    let rep = scan(tmp.path(), None);
    let names: Vec<&str> = rep.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "registry.example/shop/web:1.0",
            "registry.example/shop/cache:3.18 (linux/amd64)"
        ]
    );
    let advisories: Vec<&str> = rep
        .targets
        .iter()
        .flat_map(|t| t.findings.iter().map(|f| f.advisory.as_str()))
        .collect();
    assert_eq!(advisories.len(), 3, "{advisories:?}");
    assert!(advisories.contains(&"ALPINE-CVE-2023-5363"));
    let reasons = policy::gate_reasons(&rep, &Policy::default());
    assert_eq!(reasons.len(), 3, "{reasons:#?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("registry.example/shop/cache:3.18 (linux/amd64)@sha256:"))
    );
}

/// Hard links at wanted paths take the target's content; a symlink in an upper layer
/// hides the lower layer's file (links are never followed).
#[test]
fn hard_links_resolve_and_symlinks_hide() {
    let mut b = tar::Builder::new(Vec::new());
    let status = b"Package: a\nStatus: install ok installed\nVersion: 1.0-1\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(status.len() as u64);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "var/lib/dpkg/status-old", &status[..])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_entry_type(tar::EntryType::Link);
    b.append_link(&mut h, "var/lib/dpkg/status", "var/lib/dpkg/status-old")
        .unwrap_or_else(|e| panic!("{e}"));
    let tar_bytes = b.into_inner().unwrap_or_else(|e| panic!("{e}"));
    let base = image::read_layer(&tar_bytes[..], "base", &Limits::default())
        .unwrap_or_else(|e| panic!("{e}"));
    // status-old is not a wanted path, so it was not kept: the link cannot be resolved
    // and that is reported (never an empty, "clean" package list).
    let mut lost = berth_scan::files::FileSet::default();
    base.apply(&mut lost, "sha256:base");
    assert!(lost.get("var/lib/dpkg/status").is_none());
    let cat = berth_scan::catalog::catalog(&lost);
    assert_eq!(cat.not_scanned.len(), 1, "{:?}", cat.not_scanned);
    assert!(cat.not_scanned[0].contains("hard link to var/lib/dpkg/status-old"));
    // A target that is present (kept from a lower layer) resolves.
    let mut fs = berth_scan::files::FileSet::default();
    fs.insert("var/lib/dpkg/status-old", status.to_vec(), None);
    base.apply(&mut fs, "sha256:base");
    assert_eq!(
        fs.get("var/lib/dpkg/status").map(|e| e.data.as_slice()),
        Some(&status[..])
    );
    let upper = tar_of(&[Entry::Symlink("var/lib/dpkg/status", "/dev/null")]);
    let upper = image::read_layer(&upper[..], "upper", &Limits::default())
        .unwrap_or_else(|e| panic!("{e}"));
    upper.apply(&mut fs, "sha256:upper");
    assert!(fs.get("var/lib/dpkg/status").is_none());
}

fn vex_file(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/vex/{name}"))
}

#[test]
fn vex_suppresses_not_affected_and_the_latest_statement_wins() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layout = Layout::create(tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    debian_image(&layout, "registry.example/shop/web:1.0", true);
    let plain = scan(tmp.path(), None);
    assert_eq!(policy::gate_reasons(&plain, &Policy::default()).len(), 2);

    // The image-level statement (pkg:oci/web, subcomponent libc6) and the package-level one.
    let mut rep = plain.clone();
    let vex =
        berth_scan::vex::load(&[vex_file("web.openvex.json")]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(vex.len(), 2);
    vex.apply(&mut rep);
    let d = policy::evaluate(&rep, &Policy::default(), date(2026, 12, 5));
    assert!(d.pass(), "{:#?}", d.blocking);
    assert_eq!(d.suppressed.len(), 2, "{d:#?}");
    let glibc = d.suppressed.iter().find(|l| l.contains("DSA-5514-1"));
    assert!(
        glibc.is_some_and(|l| l.contains("suppressed by VEX: not_affected (vulnerable_code_not_in_execute_path: The image has no setuid-root")
            && l.contains("https://vex.example.com/web/vex-2026-001 statement 0")),
        "{:#?}",
        d.suppressed
    );
    let f = &rep.targets[0].findings;
    assert!(f.iter().all(|f| f.suppressed()), "{f:#?}");

    // SARIF keeps the results, marked as suppressed.
    let s = berth_scan::sarif::sarif(&rep);
    let results = s["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results.len(), 2);
    assert!(
        results
            .iter()
            .all(|r| r["suppressions"][0]["status"] == "accepted")
    );

    // A later document says requests is affected: it blocks again; glibc stays suppressed.
    let mut rep = plain.clone();
    let vex = berth_scan::vex::load(&[
        vex_file("web.openvex.json"),
        vex_file("web-later.openvex.json"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    vex.apply(&mut rep);
    let d = policy::evaluate(&rep, &Policy::default(), date(2026, 12, 5));
    assert_eq!(d.suppressed.len(), 1, "{d:#?}");
    assert_eq!(d.blocking.len(), 1, "{d:#?}");
    assert!(
        d.blocking[0].contains("GHSA-j8r2-6x86-q33q") && d.blocking[0].contains("VEX: affected"),
        "{}",
        d.blocking[0]
    );

    // Files in the other order: the timestamps decide, not the order.
    let mut rep2 = plain.clone();
    let vex = berth_scan::vex::load(&[
        vex_file("web-later.openvex.json"),
        vex_file("web.openvex.json"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    vex.apply(&mut rep2);
    assert_eq!(rep2, rep);
}

#[test]
fn vex_products_must_match_the_package_or_image() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layout = Layout::create(tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    debian_image(&layout, "registry.example/shop/web:1.0", true);
    let plain = scan(tmp.path(), None);
    let doc = |product: &str| {
        format!(
            r#"{{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "urn:x", "timestamp": "2026-01-01T00:00:00Z",
            "statements": [{{"vulnerability": {{"name": "CVE-2023-4911"}}, "products": [{product}],
            "status": "fixed"}}]}}"#
        )
    };
    let suppressed = |product: &str| {
        let mut set = berth_scan::vex::VexSet::default();
        set.add_document(&doc(product), "t.json")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut rep = plain.clone();
        set.apply(&mut rep);
        rep.targets[0]
            .findings
            .iter()
            .filter(|f| f.suppressed())
            .count()
    };
    assert_eq!(suppressed(r#"{"@id": "pkg:deb/debian/libc6"}"#), 1);
    assert_eq!(
        suppressed(r#"{"@id": "pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=amd64"}"#),
        1
    );
    assert_eq!(
        suppressed(r#"{"@id": "pkg:deb/debian/libc6@2.36-9%2Bdeb12u3"}"#),
        0,
        "another version"
    );
    assert_eq!(
        suppressed(r#"{"@id": "pkg:deb/debian/libc6?arch=s390x"}"#),
        0,
        "another arch"
    );
    assert_eq!(
        suppressed(r#"{"@id": "pkg:deb/debian/glibc"}"#),
        0,
        "the binary package is named"
    );
    assert_eq!(
        suppressed(r#"{"@id": "pkg:oci/web"}"#),
        1,
        "the whole image"
    );
    assert_eq!(suppressed(r#"{"@id": "pkg:oci/api"}"#), 0, "another image");
    assert_eq!(
        suppressed(r#"{"@id": "pkg:oci/web", "subcomponents": [{"@id": "pkg:deb/debian/curl"}]}"#),
        0,
        "another subcomponent"
    );
    let digest = plain.targets[0].digest.clone().unwrap_or_default();
    let by_digest = format!(
        r#"{{"@id": "pkg:oci/anything@{}"}}"#,
        digest.replace(':', "%3A")
    );
    assert_eq!(suppressed(&by_digest), 1, "the image by digest");
}

#[test]
fn bad_vex_documents_are_refused_with_file_statement_and_fix() {
    let ok_stmt = r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:pypi/x"}], "status": "fixed"}"#;
    let doc = |ctx: &str, stmt: &str| {
        format!(
            r#"{{"@context": "{ctx}", "@id": "urn:d", "timestamp": "2026-01-01T00:00:00Z", "statements": [{ok_stmt}, {stmt}]}}"#
        )
    };
    let ctx = "https://openvex.dev/ns/v0.2.0";
    let err = |text: &str| {
        let mut set = berth_scan::vex::VexSet::default();
        match set.add_document(text, "app.vex.json") {
            Ok(()) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        }
    };
    let e = err("{\"@context\": ");
    assert!(e.starts_with("app.vex.json: not JSON"), "{e}");
    let e = err(&doc("https://cyclonedx.org/ns", ok_stmt));
    assert!(
        e.contains("app.vex.json: @context") && e.contains("https://openvex.dev/ns/v0.2.0"),
        "{e}"
    );
    let e = err(&doc(
        ctx,
        r#"{"vulnerability": {"name": "CVE-2"}, "products": [{"@id": "pkg:pypi/x"}], "status": "not_affectd"}"#,
    ));
    assert!(e.contains("app.vex.json: statements[1].status: \"not_affectd\" is not an OpenVEX status; use not_affected"), "{e}");
    let e = err(&doc(
        ctx,
        r#"{"vulnerability": {"name": "CVE-2"}, "products": [{"@id": "pkg:pypi/x"}], "status": "not_affected"}"#,
    ));
    assert!(
        e.contains("statements[1].status: not_affected needs a justification"),
        "{e}"
    );
    let e = err(&doc(
        ctx,
        r#"{"vulnerability": {"name": "CVE-2"}, "products": [{"@id": "pkg:pypi/x"}], "status": "not_affected", "justification": "trust_me"}"#,
    ));
    assert!(
        e.contains("statements[1].justification: \"trust_me\"")
            && e.contains("component_not_present"),
        "{e}"
    );
    let e = err(&doc(
        ctx,
        r#"{"vulnerability": {}, "products": [{"@id": "pkg:pypi/x"}], "status": "fixed"}"#,
    ));
    assert!(
        e.contains("statements[1].vulnerability.name: missing"),
        "{e}"
    );
    let e = err(&doc(
        ctx,
        r#"{"vulnerability": {"name": "CVE-2"}, "status": "fixed"}"#,
    ));
    assert!(e.contains("statements[1].products: missing"), "{e}");
    let e = err(&doc(
        ctx,
        r#"{"vulnerability": {"name": "CVE-2"}, "products": [{"@id": "pkg:"}], "status": "fixed"}"#,
    ));
    assert!(
        e.contains("statements[1].products[0]: \"pkg:\" is not a valid package URL"),
        "{e}"
    );
    let no_time = format!(r#"{{"@context": "{ctx}", "@id": "urn:d", "statements": [{ok_stmt}]}}"#);
    let e = err(&no_time);
    assert!(e.contains("statements[0].timestamp: missing"), "{e}");

    // A missing file is named too.
    let e = berth_scan::vex::load(&[vex_file("absent.json")])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("absent.json"), "{e}");
}

#[test]
fn policy_vex_paths_are_relative_to_the_policy_file() {
    let p = Policy::parse(
        "vex:\n  - vex/web.openvex.json\n  - /abs/x.json\n",
        "policy.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let paths = p.vex_paths(Path::new("/apps/shop/berth-scan-policy.yaml"));
    assert_eq!(
        paths,
        vec![
            std::path::PathBuf::from("/apps/shop/vex/web.openvex.json"),
            std::path::PathBuf::from("/abs/x.json")
        ]
    );
}

/// A zip archive (stored members) with these members: enough of a jar for the catalogers,
/// which read only `META-INF/maven/…/pom.properties` and nested archives.
fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let le16 = |v: &mut Vec<u8>, x: usize| v.extend_from_slice(&(x as u16).to_le_bytes());
    let le32 = |v: &mut Vec<u8>, x: u64| v.extend_from_slice(&(x as u32).to_le_bytes());
    for (name, data) in members {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let offset = out.len() as u64;
        // Local header: version 2.0, no flags, stored, 1980-01-01 00:00.
        le32(&mut out, 0x0403_4b50);
        for x in [20, 0, 0, 0, 0x21] {
            le16(&mut out, x);
        }
        le32(&mut out, u64::from(crc.sum()));
        le32(&mut out, data.len() as u64);
        le32(&mut out, data.len() as u64);
        le16(&mut out, name.len());
        le16(&mut out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        le32(&mut central, 0x0201_4b50);
        for x in [20, 20, 0, 0, 0, 0x21] {
            le16(&mut central, x);
        }
        le32(&mut central, u64::from(crc.sum()));
        le32(&mut central, data.len() as u64);
        le32(&mut central, data.len() as u64);
        le16(&mut central, name.len());
        for x in [0, 0, 0, 0] {
            le16(&mut central, x);
        }
        le32(&mut central, 0);
        le32(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_size) = (out.len() as u64, central.len() as u64);
    out.extend_from_slice(&central);
    le32(&mut out, 0x0605_4b50);
    for x in [0, 0, members.len(), members.len()] {
        le16(&mut out, x);
    }
    le32(&mut out, cd_size);
    le32(&mut out, cd_offset);
    le16(&mut out, 0);
    out
}

const LOG4J_CORE: &str = "org.apache.logging.log4j:log4j-core";
const LOG4SHELL: &str = "GHSA-jfh8-c2jp-5v3q";

/// A constructed log4j-core jar: only a manifest and the pom.properties Maven writes, at
/// `version`. (Not Apache's jar: the cataloger reads nothing else.)
fn constructed_log4j_core(version: &str) -> Vec<u8> {
    let props = format!(
        "#Created by Apache Maven 3.6.3\nversion={version}\ngroupId=org.apache.logging.log4j\nartifactId=log4j-core\n"
    );
    zip_of(&[
        ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\n\r\n"),
        (
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
            props.as_bytes(),
        ),
    ])
}

/// The files of the Log4Shell target: Debian's real log4j-core 2.19.0 jar (fixed), a
/// constructed log4j-core 2.14.1 jar, a Spring Boot style fat jar holding a constructed
/// 2.12.1, and a jar without Maven coordinates.
fn log4shell_files(debian_jar: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let debian =
        std::fs::read(debian_jar).unwrap_or_else(|e| panic!("{}: {e}", debian_jar.display()));
    let inner = constructed_log4j_core("2.12.1");
    let fat = zip_of(&[
        ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\n\r\n"),
        ("BOOT-INF/lib/log4j-core-2.12.1.jar", &inner),
    ]);
    let bare = zip_of(&[
        ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\n\r\n"),
        ("com/example/Main.class", b"\xca\xfe\xba\xbe"),
    ]);
    vec![
        ("usr/share/java/log4j-core.jar", debian),
        (
            "opt/app/lib/log4j-core-2.14.1.jar",
            constructed_log4j_core("2.14.1"),
        ),
        ("opt/app/app.jar", fat),
        ("opt/app/lib/in-house.jar", bare),
    ]
}

/// What every Log4Shell target must report: the two constructed jars, each with the fix of
/// its release line; Debian's 2.19.0 listed and not reported; the coordinate-less jar named
/// as not scanned.
fn check_log4shell(t: &report::TargetReport, layer: Option<&str>) {
    let core: BTreeSet<(&str, &str)> = t
        .packages
        .iter()
        .filter(|p| p.kind == PackageType::Java && p.name == LOG4J_CORE)
        .map(|p| (p.path.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(
        core,
        BTreeSet::from([
            ("usr/share/java/log4j-core.jar", "2.19.0"),
            ("opt/app/lib/log4j-core-2.14.1.jar", "2.14.1"),
            (
                "opt/app/app.jar!/BOOT-INF/lib/log4j-core-2.12.1.jar",
                "2.12.1"
            ),
        ])
    );
    let found: Vec<(&str, &str, &FixState)> = t
        .findings
        .iter()
        .filter(|f| f.advisory == LOG4SHELL)
        .map(|f| (f.path.as_str(), f.version.as_str(), &f.fix))
        .collect();
    assert_eq!(
        found,
        vec![
            (
                "opt/app/app.jar!/BOOT-INF/lib/log4j-core-2.12.1.jar",
                "2.12.1",
                &FixState::Fixed("2.12.2".into())
            ),
            (
                "opt/app/lib/log4j-core-2.14.1.jar",
                "2.14.1",
                &FixState::Fixed("2.15.0".into())
            ),
        ]
    );
    for f in t.findings.iter().filter(|f| f.advisory == LOG4SHELL) {
        assert_eq!(f.aliases, vec!["CVE-2021-44228".to_string()]);
        assert_eq!(f.ecosystem, "Maven");
        assert_eq!(f.matched_name, LOG4J_CORE);
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.layer.as_deref(), layer);
    }
    assert!(
        t.findings
            .iter()
            .all(|f| !f.path.starts_with("usr/share/java/")),
        "Debian's log4j-core 2.19.0 is fixed: {:?}",
        t.findings
    );
    assert_eq!(t.not_scanned.len(), 1, "{:?}", t.not_scanned);
    assert!(
        t.not_scanned[0].starts_with("1 Java archives not matched")
            && t.not_scanned[0].ends_with(": opt/app/lib/in-house.jar"),
        "{}",
        t.not_scanned[0]
    );
    let blocking = policy::gate_reasons(
        &ScanReport {
            targets: vec![t.clone()],
        },
        &Policy::default(),
    );
    assert!(
        blocking.iter().any(|b| b.contains(LOG4SHELL)),
        "{blocking:?}"
    );
}

/// Log4Shell (GitHub's real advisory) over a root filesystem and over an image layer.
#[test]
fn log4shell_is_reported_for_vulnerable_jars_and_not_for_debians_fixed_one() {
    let Some(debian_jar) = tool("BERTH_TEST_LOG4J_CORE_JAR") else {
        return;
    };
    let files = log4shell_files(&debian_jar);
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (path, data) in &files {
        let to = root.path().join(path);
        std::fs::create_dir_all(to.parent().unwrap_or(root.path()))
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&to, data).unwrap_or_else(|e| panic!("{e}"));
    }
    let rep = report::scan_rootfs(root.path(), &fixture_db(), &Limits::default())
        .unwrap_or_else(|e| panic!("{e}"));
    check_log4shell(&rep.targets[0], None);

    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layout = Layout::create(tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    let entries: Vec<Entry> = files.iter().map(|(p, d)| Entry::File(p, d)).collect();
    let layer = gzip(&tar_of(&entries));
    let layer_digest = Digest::of(&layer).to_string();
    add_image(
        &layout,
        "registry.example/shop/billing:3.1",
        &[(layer, "application/vnd.oci.image.layer.v1.tar+gzip")],
    );
    let rep = scan(tmp.path(), None);
    check_log4shell(&rep.targets[0], Some(&layer_digest));
}

/// The three release lines of the advisory, at their edges, in Maven's order.
#[test]
fn log4shell_ranges_in_maven_order() {
    let db = fixture_db();
    let fix = |v: &str| -> Option<FixState> {
        let mut fixes: Vec<FixState> = db
            .lookup("Maven", LOG4J_CORE)
            .into_iter()
            .filter_map(|(r, a)| {
                osv::evaluate(r, a, Scheme::Maven, v)
                    .unwrap_or_else(|e| panic!("{v}: {e}"))
                    .map(|m| m.fix)
            })
            .collect();
        assert!(fixes.len() <= 1, "{v}: {fixes:?}");
        fixes.pop()
    };
    let fixed = |v: &str| Some(FixState::Fixed(v.to_string()));
    for (v, want) in [
        ("2.0-beta9", fixed("2.3.1")),
        ("2.0-rc1", fixed("2.3.1")),
        ("2.0", fixed("2.3.1")),
        ("2.3", fixed("2.3.1")),
        ("2.3.1", None),
        ("2.3.2", None),
        ("2.4", fixed("2.12.2")),
        ("2.4.0", fixed("2.12.2")),
        ("2.12.1", fixed("2.12.2")),
        ("2.12.2", None),
        ("2.12.4", None),
        ("2.13.0", fixed("2.15.0")),
        ("2.14.1", fixed("2.15.0")),
        ("2.15.0-rc1", fixed("2.15.0")),
        ("2.15.0-SNAPSHOT", fixed("2.15.0")),
        ("2.15", None),
        ("2.15.0", None),
        ("2.15.0.RELEASE", None),
        ("2.17.1", None),
        ("2.19.0", None),
    ] {
        assert_eq!(fix(v), want, "log4j-core {v}");
    }
    // A name is compared exactly: the API jar is not the affected artifact.
    assert!(
        db.lookup("Maven", "org.apache.logging.log4j:log4j-api")
            .is_empty()
    );
}

/// A pom.properties whose version is an unresolved property names no version: the advisory
/// cannot be decided, and the target says so instead of being reported clean (or, ordering
/// the text as a qualifier, vulnerable).
#[test]
fn unresolved_maven_version_is_not_scanned() {
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let jar = root.path().join("opt/app/lib/log4j-core.jar");
    std::fs::create_dir_all(jar.parent().unwrap_or(root.path())).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&jar, constructed_log4j_core("${revision}")).unwrap_or_else(|e| panic!("{e}"));
    let rep = report::scan_rootfs(root.path(), &fixture_db(), &Limits::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let t = &rep.targets[0];
    assert!(t.findings.is_empty(), "{:?}", t.findings);
    assert!(
        t.not_scanned.iter().any(|n| n.contains(LOG4SHELL)
            && n.contains("${revision}")
            && n.contains("unresolved Maven property")),
        "{:?}",
        t.not_scanned
    );
}

/// Spring4Shell (GitHub's real advisory) writes its fix as `5.2.20`, while Spring names the
/// 5.2 releases `5.2.20.RELEASE`: in Maven's order they are equal, so the fixed release is
/// clean and the one before it is not.
#[test]
fn spring4shell_release_qualifier_in_maven_order() {
    let db = fixture_db();
    let fix = |name: &str, v: &str| -> Vec<FixState> {
        db.lookup("Maven", name)
            .into_iter()
            .filter_map(|(r, a)| {
                osv::evaluate(r, a, Scheme::Maven, v)
                    .unwrap_or_else(|e| panic!("{v}: {e}"))
                    .map(|m| m.fix)
            })
            .collect()
    };
    let fixed = |v: &str| vec![FixState::Fixed(v.to_string())];
    let beans = "org.springframework:spring-beans";
    for (v, want) in [
        ("4.3.30.RELEASE", fixed("5.2.20")),
        ("5.2.19.RELEASE", fixed("5.2.20")),
        ("5.2.20.RELEASE", vec![]),
        ("5.2.22.RELEASE", vec![]),
        ("5.3.0", fixed("5.3.18")),
        ("5.3.17", fixed("5.3.18")),
        ("5.3.18", vec![]),
        ("6.0.0", vec![]),
    ] {
        assert_eq!(fix(beans, v), want, "spring-beans {v}");
    }
    assert_eq!(
        fix("org.springframework.boot:spring-boot-starter-web", "2.6.5"),
        fixed("2.6.6")
    );
}
