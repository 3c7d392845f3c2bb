//! `berth vulndb build`, `berth scan` and `berth sbom` through the CLI: real advisory data
//! (crates/berth-scan/tests/data), images made here from this machine's own dpkg database
//! (libc6 set back to a version DSA-5514-1 fixes, and as installed), scanned from an OCI
//! layout and through a registry (`berth registry serve`).

use assert_cmd::Command;
use berth_oci::transfer::{self, NoProgress, PushItem};
use berth_oci::{Client, ClientConfig, Layout, Reference, generate};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

#[path = "../../../testing/tool.rs"]
mod tool_rule;
use tool_rule::tool;

fn berth() -> Command {
    Command::cargo_bin("berth").unwrap()
}

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../berth-scan/tests/data")
        .join(p)
}

/// A gzip'd tar layer with these files.
fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, d) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, p, *d).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

/// The machine's libc6 stanza, its version replaced when `version` is given.
fn libc6_status(version: Option<&str>) -> String {
    let text = std::fs::read_to_string("/var/lib/dpkg/status").expect("a Debian machine");
    let st = text
        .split("\n\n")
        .find(|s| s.starts_with("Package: libc6\n"))
        .expect("libc6 is installed")
        .to_string();
    let st = match version {
        Some(v) => st
            .lines()
            .map(|l| {
                if l.starts_with("Version: ") {
                    format!("Version: {v}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
        None => st,
    };
    st + "\n\n"
}

/// A layout with web:1.0 (old glibc) and web:1.1 (the machine's glibc), tagged by ref name.
fn images(dir: &Path) -> (Layout, Vec<berth_oci::model::Descriptor>) {
    let layout = Layout::create(dir).unwrap();
    let os = std::fs::read("/etc/os-release").unwrap();
    let amd = berth_oci::model::Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: None,
    };
    let base = layer(&[("etc/os-release", &os)]);
    let mut out = Vec::new();
    for (tag, v) in [("web:1.0", Some("2.36-9+deb12u1")), ("web:1.1", None)] {
        let status = libc6_status(v);
        let top = layer(&[("var/lib/dpkg/status", status.as_bytes())]);
        let d = generate::write_image(&layout, &[base.clone(), top], &amd).unwrap();
        out.push(generate::tag(&layout, d, tag).unwrap());
    }
    (layout, out)
}

fn keys(dir: &Path, name: &str) {
    berth()
        .args(["keys", "generate", "--out"])
        .arg(dir.join(name))
        .assert()
        .success();
}

fn build_db(dir: &Path) -> PathBuf {
    keys(dir, "vendor");
    let out = dir.join("vuln.db");
    let o = berth()
        .args(["vulndb", "build", "--osv"])
        .arg(data("osv"))
        .arg("--debian-tracker")
        .arg(data("tracker/debian.json"))
        .arg("--alpine-secdb")
        .arg(data("secdb/v3.10-main.yaml"))
        .arg("--key")
        .arg(dir.join("vendor.key"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn scan(dir: &Path, args: &[&str]) -> std::process::Output {
    berth()
        .arg("scan")
        .args(args)
        .arg("--db")
        .arg(dir.join("vuln.db"))
        .arg("--db-key")
        .arg(dir.join("vendor.pub"))
        .output()
        .unwrap()
}

#[test]
fn scan_layout_reports_every_field_and_exit_codes() {
    let w = tempfile::tempdir().unwrap();
    build_db(w.path());
    let lay = w.path().join("layout");
    let (_, descs) = images(&lay);
    let lay_s = lay.to_str().unwrap();

    let o = scan(w.path(), &[lay_s]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "a fixable finding blocks: {out}");
    let row = out
        .lines()
        .find(|l| l.contains("DSA-5514-1"))
        .unwrap_or_else(|| panic!("{out}"));
    let layer = descs[0].digest.hex()[..12].to_string();
    for want in [
        "libc6",
        "2.36-9+deb12u1",
        "CVE-2023-4911",
        "2.36-9+deb12u3",
        "fixed",
        "var/lib/dpkg/status",
    ] {
        assert!(row.contains(want), "{want} missing in {row}");
    }
    // The layer named is the top layer of web:1.0 (the one that wrote the status file).
    let top = {
        let m = Layout::open(&lay)
            .unwrap()
            .read_manifest_blob(&descs[0].digest)
            .unwrap();
        let m = berth_oci::model::parse_manifest("m", &m).unwrap();
        m.layers[1].digest.hex()[..12].to_string()
    };
    assert!(
        row.contains(&top),
        "layer {top} (not the manifest {layer}) in {row}"
    );
    assert!(
        out.contains("web:1.1 (debian 12): 1 packages, 0 findings"),
        "{out}"
    );
    assert!(out.contains("policy: FAIL, 1 blocking"), "{out}");

    // JSON carries the decision; SARIF the rule.
    let o = scan(w.path(), &[lay_s, "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["decision"]["pass"], false);
    let f = &v["report"]["targets"][0]["findings"][0];
    assert_eq!(f["advisory"], "DSA-5514-1");
    assert_eq!(f["fix"]["state"], "fixed");
    let o = scan(w.path(), &[lay_s, "-o", "sarif"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["runs"][0]["results"][0]["ruleId"], "DSA-5514-1");

    // An allowance with a reason and a future expiry lets it pass, and is reported.
    let pol = w.path().join("policy.yaml");
    std::fs::write(
        &pol,
        "allow:\n  - id: CVE-2023-4911\n    reason: no setuid binaries in this image\n    expires: 2099-01-01\n",
    )
    .unwrap();
    let o = scan(w.path(), &[lay_s, "--policy", pol.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("allowed until 2099-01-01: no setuid binaries"),
        "{out}"
    );

    // A VEX statement (image web, subcomponent libc6) suppresses it; still listed.
    let vex = data("vex/web.openvex.json");
    let o = scan(w.path(), &[lay_s, "--vex", vex.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let row = out
        .lines()
        .find(|l| l.contains("DSA-5514-1"))
        .unwrap_or_default();
    assert!(row.contains("vex:not_affected"), "{out}");
    assert!(
        out.contains("suppressed: ")
            && out.contains("vulnerable_code_not_in_execute_path")
            && out.contains("vex-2026-001 statement 0"),
        "{out}"
    );
    let o = scan(
        w.path(),
        &[lay_s, "--vex", vex.to_str().unwrap(), "-o", "cyclonedx"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let a = &v[0]["vulnerabilities"][0]["analysis"];
    assert_eq!(a["state"], "not_affected", "{v}");
    assert_eq!(a["justification"], "code_not_reachable", "{v}");
    // A bad statement is refused with exit 2, naming the file and the statement.
    let bad = w.path().join("bad.openvex.json");
    let text = std::fs::read_to_string(&vex)
        .unwrap()
        .replace("\"status\": \"not_affected\",\n      \"justification\": \"vulnerable_code_not_in_execute_path\",", "\"status\": \"not_affected\",");
    std::fs::write(&bad, text.replace("\"impact_statement\"", "\"note\"")).unwrap();
    let o = scan(w.path(), &[lay_s, "--vex", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.openvex.json: statements[0].status: not_affected needs a justification"),
        "{err}"
    );

    // Signed by another key, or corrupt: refused with exit 2, nothing scanned.
    keys(w.path(), "other");
    let o = berth()
        .args(["scan", lay_s, "--db"])
        .arg(w.path().join("vuln.db"))
        .arg("--db-key")
        .arg(w.path().join("other.pub"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("signature does not verify"));
    let mut bytes = std::fs::read(w.path().join("vuln.db")).unwrap();
    let n = bytes.len() - 3;
    bytes[n] ^= 0xff;
    std::fs::write(w.path().join("vuln.db"), &bytes).unwrap();
    let o = scan(w.path(), &[lay_s]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("checksum"));
}

#[test]
fn old_database_warns_with_its_age() {
    let w = tempfile::tempdir().unwrap();
    keys(w.path(), "vendor");
    let key = berth_oci::keys::read_signing_key(&w.path().join("vendor.key")).unwrap();
    let built = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 30 + 1);
    let recs = berth_scan::sources::osv_path(&data("osv")).unwrap();
    berth_scan::vulndb::write(&w.path().join("vuln.db"), &recs, vec![], &key, built).unwrap();
    let root = w.path().join("root/etc");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy("/etc/os-release", root.join("os-release")).unwrap();
    let o = scan(w.path(), &[w.path().join("root").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("is 30 days old"), "{err}");
    let o = scan(
        w.path(),
        &[
            w.path().join("root").to_str().unwrap(),
            "--max-db-age",
            "40",
        ],
    );
    assert!(!String::from_utf8_lossy(&o.stderr).contains("days old"));
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `berth registry serve` holding app/web:1.0 (old glibc) and app/web:1.1 (patched).
fn registry_with_images(w: &Path) -> (Kill, String) {
    let (layout, descs) = images(&w.join("layout"));
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("berth"))
        .args(["registry", "serve", "--root"])
        .arg(w.join("reg"))
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _reg = Kill(child);
    let host = line.trim().to_string();
    berth_oci::client::install_crypto_provider();
    let items: Vec<PushItem> = descs
        .iter()
        .chain(descs.get(1))
        .zip(["app/web:1.0", "app/web:1.1", "library/busybox:1.36"])
        .map(|(d, n)| {
            let mut d = d.clone();
            d.annotations.clear();
            PushItem {
                descriptor: d,
                target: Reference::parse(&format!("{host}/{n}")).unwrap(),
            }
        })
        .collect();
    let client = Client::new(ClientConfig {
        insecure: true,
        ..Default::default()
    })
    .unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(transfer::push_images(&client, &layout, &items, &NoProgress))
        .unwrap();

    (_reg, host)
}

#[test]
fn scan_and_sbom_through_a_registry() {
    let w = tempfile::tempdir().unwrap();
    build_db(w.path());
    let (_reg, host) = registry_with_images(w.path());
    let old = format!("{host}/app/web:1.0");
    let o = scan(w.path(), &[&old, "--insecure"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains(&old) && out.contains("DSA-5514-1"), "{out}");
    let o = scan(w.path(), &[&format!("{host}/app/web:1.1"), "--insecure"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    let o = berth()
        .args(["sbom", &old, "--insecure", "-o", "spdx"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["spdxVersion"], "SPDX-2.3");
    assert!(
        v["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "libc6")
    );
    // Several images to stdout need --out-dir.
    let o = berth()
        .args([
            "sbom",
            w.path().join("layout").to_str().unwrap(),
            "-o",
            "cyclonedx",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let out_dir = w.path().join("sboms");
    berth()
        .args([
            "sbom",
            w.path().join("layout").to_str().unwrap(),
            "-o",
            "cyclonedx",
            "--out-dir",
        ])
        .arg(&out_dir)
        .assert()
        .success();
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 2);
}

#[test]
fn release_build_gate_refuses_a_fixable_cve_then_passes_patched() {
    let w = tempfile::tempdir().unwrap();
    build_db(w.path());
    let (_reg, host) = registry_with_images(w.path());
    let hello = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
    let out = w.path().join("hello-1.0.0.release");
    let build = |tag: &str, extra: &[&str]| {
        let m = w.path().join(format!("rendered-{tag}.yaml"));
        std::fs::write(
            &m,
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: {host}/app/web:{tag}\n"
            ),
        )
        .unwrap();
        berth()
            .args(["release", "build"])
            .arg(&hello)
            .args(["--version", "1.0.0", "--insecure", "-q", "--gate"])
            .arg(format!("--mirror=docker.io={host}"))
            .arg("--manifests")
            .arg(&m)
            .arg("--out")
            .arg(&out)
            .arg("--db")
            .arg(w.path().join("vuln.db"))
            .arg("--db-key")
            .arg(w.path().join("vendor.pub"))
            .args(extra)
            .output()
            .unwrap()
    };
    let o = build("1.0", &[]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("DSA-5514-1") && text.contains("policy: FAIL"),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        !out.exists(),
        "a refused release is not written where it would be shipped from"
    );
    assert!(out.with_extension("blocked").join("index.json").is_file());

    // The app's VEX, named by its scan policy (relative to it), lets the gate pass.
    std::fs::create_dir_all(w.path().join("vex")).unwrap();
    std::fs::copy(data("vex/web.openvex.json"), w.path().join("vex/web.json")).unwrap();
    let pol = w.path().join("scan-policy.yaml");
    std::fs::write(&pol, "vex:\n  - vex/web.json\n").unwrap();
    let o = build("1.0", &["--scan-policy", pol.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("suppressed: ") && text.contains("DSA-5514-1"),
        "{text}"
    );
    std::fs::remove_dir_all(&out).unwrap();

    let o = build("1.1", &[]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("policy: pass"), "{text}");
    assert!(out.join("index.json").is_file());
    bundle_carries_the_database(w.path(), &out);
}

/// `bundle create --vulndb`: the database travels signed inside the bundle, comes out with
/// `verify --extract`, and scans the release offline; a changed byte of it is refused.
fn bundle_carries_the_database(w: &Path, release: &Path) {
    let bundle = w.join("hello.bundle");
    let create = |db: &Path| {
        berth()
            .args(["bundle", "create", "--release"])
            .arg(release)
            .arg("--key")
            .arg(w.join("vendor.key"))
            .arg("--vulndb")
            .arg(db)
            .arg("--out")
            .arg(&bundle)
            .output()
            .unwrap()
    };
    // Not a database: refused with the fix, nothing written.
    let o = create(&w.join("vendor.pub"));
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("berth vulndb build"));
    assert!(!bundle.exists());
    let o = create(&w.join("vuln.db"));
    assert!(o.status.success(), "{o:?}");
    let o = berth()
        .args(["bundle", "inspect"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("vulndb:     vuln.db"));
    let site = w.join("site");
    berth()
        .args(["bundle", "verify"])
        .arg(&bundle)
        .arg("--pubkey")
        .arg(w.join("vendor.pub"))
        .arg("--extract")
        .arg(&site)
        .assert()
        .success();
    assert_eq!(
        std::fs::read(site.join("vuln.db")).unwrap(),
        std::fs::read(w.join("vuln.db")).unwrap()
    );
    let o = berth()
        .arg("scan")
        .arg(&site)
        .arg("--db")
        .arg(site.join("vuln.db"))
        .arg("--db-key")
        .arg(w.join("vendor.pub"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    // One changed byte of the carried database fails the bundle's verification.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes
        .windows(8)
        .position(|x| x == b"BERTHVDB")
        .expect("the database is in the bundle");
    bytes[at + 200] ^= 1;
    std::fs::write(&bundle, &bytes).unwrap();
    let o = berth()
        .args(["bundle", "verify"])
        .arg(&bundle)
        .arg("--pubkey")
        .arg(w.join("vendor.pub"))
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("vuln.db"),
        "{o:?}"
    );
}

#[test]
fn vulndb_push_pull_through_a_registry_verifies_the_signature() {
    let w = tempfile::tempdir().unwrap();
    let db = build_db(w.path());
    let (_reg, host) = registry_with_images(w.path());
    let target = format!("{host}/berth/vulndb:latest");
    berth()
        .args(["vulndb", "push"])
        .arg(&db)
        .args([&target, "--insecure"])
        .assert()
        .success();
    let out = w.path().join("pulled.db");
    let o = berth()
        .args(["vulndb", "pull", &target, "--insecure", "--out"])
        .arg(&out)
        .arg("--db-key")
        .arg(w.path().join("vendor.pub"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&db).unwrap());
    // Another vendor's key: refused, nothing written.
    keys(w.path(), "other");
    let out2 = w.path().join("other.db");
    let o = berth()
        .args(["vulndb", "pull", &target, "--insecure", "--out"])
        .arg(&out2)
        .arg("--db-key")
        .arg(w.path().join("other.pub"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("signature does not verify"));
    assert!(!out2.exists());
    // An image is not a database.
    let o = berth()
        .args([
            "vulndb",
            "pull",
            &format!("{host}/app/web:1.0"),
            "--insecure",
            "--out",
        ])
        .arg(&out2)
        .arg("--db-key")
        .arg(w.path().join("vendor.pub"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a berth vulnerability database artifact")
    );
    // Pushing something that is not a database is refused before any upload.
    let o = berth()
        .args(["vulndb", "push"])
        .arg(w.path().join("vendor.pub"))
        .args([&target, "--insecure"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// `berth scan -n NS` against a simulated cluster: the pods' images are pulled (the sim
/// reports a made-up digest, so the tag fallback is taken, with its warning) and scanned.
#[test]
fn scan_namespace_scans_what_the_pods_run() {
    let Some(kubectl) = tool("BERTH_TEST_KUBECTL") else {
        return;
    };
    let w = tempfile::tempdir().unwrap();
    build_db(w.path());
    let (_reg, host) = registry_with_images(w.path());
    let kubeconfig = w.path().join("kubeconfig");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("berth"))
        .args(["cluster", "sim", "--port", "0", "--kubeconfig"])
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _sim = Kill(child);
    // Kept open to the end: the simulator writes to it, and a closed pipe would stop it.
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        if line.unwrap().starts_with("kubeconfig:") {
            break;
        }
    }
    let ns_out = berth()
        .args(["scan", "-n", "empty", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--db")
        .arg(w.path().join("vuln.db"))
        .arg("--db-key")
        .arg(w.path().join("vendor.pub"))
        .output()
        .unwrap();
    assert_eq!(
        ns_out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&ns_out.stderr)
    );
    let pod = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: shop}}\nspec:\n  containers:\n    - name: web\n      image: {host}/app/web:1.0\n"
    );
    let f = w.path().join("pod.yaml");
    std::fs::write(&f, pod).unwrap();
    let out = std::process::Command::new(&kubectl)
        .env("HOME", w.path())
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["apply", "-f"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Wait until the kubelet (simulated) reports the image it runs.
    for _ in 0..200 {
        let o = std::process::Command::new(&kubectl)
            .env("HOME", w.path())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args([
                "get",
                "pod",
                "web",
                "-n",
                "shop",
                "-o",
                "jsonpath={.status.containerStatuses[0].imageID}",
            ])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&o.stdout).contains("@sha256:") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut last = None;
    for _ in 0..100 {
        let o = berth()
            .args(["scan", "-n", "shop", "--insecure", "--kubeconfig"])
            .arg(&kubeconfig)
            .arg("--db")
            .arg(w.path().join("vuln.db"))
            .arg("--db-key")
            .arg(w.path().join("vendor.pub"))
            .output()
            .unwrap();
        if o.status.code() == Some(1) {
            last = Some(o);
            break;
        }
        last = Some(o);
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let o = last.unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("DSA-5514-1") && text.contains(&format!("{host}/app/web")),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The simulator's imageID is a made-up digest: the tag was scanned, and the user told.
    assert!(String::from_utf8_lossy(&o.stderr).contains("the digest the kubelet reported"));
    drop(lines);
}
