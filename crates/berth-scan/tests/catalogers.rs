//! Language catalogers over real data on this machine, checked against the ecosystem's own
//! tools: Go build info of Debian's docker-registry and skopeo (Go programs) against the
//! Go toolchain Debian built them with (`Built-Using: golang-1.19 (= …)`), the node_modules
//! tree of the installed npm against `npm ls`, and semver order against npm's own `semver`
//! module on seeded generated pairs.

use berth_scan::catalog::PackageType;
use berth_scan::image::{self, Limits};
use berth_scan::osv::{FixState, VulnDb};
use berth_scan::report;
use berth_scan::version::Scheme;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

#[path = "../../../testing/tool.rs"]
mod tool_rule;
use tool_rule::tool;

/// A data directory a setup script exports (70-scan.sh); where the variable is not set, the
/// path that script would export when it exists; else the tool rule (fail, or skip on opt-in).
fn data_dir(var: &str, default: &str) -> Option<std::path::PathBuf> {
    if std::env::var_os(var).is_none() && Path::new(default).is_dir() {
        return Some(default.into());
    }
    tool(var)
}

fn data_db() -> VulnDb {
    VulnDb::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/osv")).unwrap()
}

/// The upstream Go version Debian built a package with (its Built-Using golang-1.NN entry).
fn built_with_go(package: &str) -> String {
    let out = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Built-Using}", package])
        .output()
        .expect("dpkg-query runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let entry = text
        .split(',')
        .map(str::trim)
        .find(|e| e.starts_with("golang-1."))
        .unwrap_or_else(|| panic!("{package}: no golang in Built-Using: {text}"));
    let v = entry.split("(= ").nth(1).unwrap_or_default();
    v.split('-').next().unwrap_or_default().to_string()
}

#[test]
fn go_binaries_from_debian_packages() {
    let (Some(reg), Some(sk)) = (
        tool("BERTH_TEST_DOCKER_REGISTRY"),
        tool("BERTH_TEST_SKOPEO"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("usr/bin");
    std::fs::create_dir_all(&bin).unwrap();
    for b in [&reg, &sk] {
        std::fs::copy(b, bin.join(b.file_name().unwrap())).unwrap();
    }
    let rep = report::scan_rootfs(dir.path(), &data_db(), &Limits::default()).unwrap();
    let t = &rep.targets[0];
    assert!(t.not_scanned.is_empty(), "{:?}", t.not_scanned);
    for (b, pkg) in [(&reg, "docker-registry"), (&sk, "skopeo")] {
        let path = format!("usr/bin/{}", b.file_name().unwrap().to_string_lossy());
        let stdlib = t
            .packages
            .iter()
            .find(|p| p.kind == PackageType::Go && p.name == "stdlib" && p.path == path)
            .unwrap_or_else(|| panic!("{path}: {:?}", t.packages));
        assert_eq!(stdlib.version, built_with_go(pkg), "{path}");
        // Go 1.19.8 is below the 1.19.11 fix of GO-2023-1878 (net/http Host header).
        if stdlib.version.starts_with("1.19.") {
            let f = t
                .findings
                .iter()
                .find(|f| f.path == path && f.advisory == "GO-2023-1878")
                .unwrap();
            assert_eq!(f.fix, FixState::Fixed("1.19.11".into()));
            assert_eq!(f.aliases, vec!["CVE-2023-29406".to_string()]);
        }
    }
    // The same binary through an image layer (streamed, only the build info kept).
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    let data = std::fs::read(&sk).unwrap();
    h.set_size(data.len() as u64);
    h.set_mode(0o755);
    b.append_data(&mut h, "usr/bin/skopeo", &data[..]).unwrap();
    let mut h2 = tar::Header::new_gnu();
    h2.set_size(data.len() as u64);
    h2.set_mode(0o644); // not executable: not looked into
    b.append_data(&mut h2, "usr/share/skopeo.bin", &data[..])
        .unwrap();
    let delta =
        image::read_layer(&b.into_inner().unwrap()[..], "layer", &Limits::default()).unwrap();
    let kept = &delta.files["usr/bin/skopeo"];
    assert!(
        kept.len() < 4096,
        "only the build info is kept, {} bytes",
        kept.len()
    );
    assert!(!delta.files.contains_key("usr/share/skopeo.bin"));
    // A later layer overwriting the binary with a non-Go executable hides it.
    let mut b = tar::Builder::new(Vec::new());
    let elf = [b"\x7fELF".as_slice(), &[0u8; 300_000]].concat();
    let mut h = tar::Header::new_gnu();
    h.set_size(elf.len() as u64);
    h.set_mode(0o755);
    b.append_data(&mut h, "usr/bin/skopeo", &elf[..]).unwrap();
    let upper =
        image::read_layer(&b.into_inner().unwrap()[..], "upper", &Limits::default()).unwrap();
    assert_eq!(upper.replaced, vec!["usr/bin/skopeo".to_string()]);
}

#[test]
fn npm_node_modules_equal_npm_ls() {
    let Some(npm) = data_dir("BERTH_TEST_NPM_DIR", "/usr/lib/node_modules/npm") else {
        return;
    };
    let out = std::process::Command::new("npm")
        .args(["ls", "--all", "--json"])
        .current_dir(&npm)
        .output()
        .expect("npm runs");
    let tree: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut theirs = BTreeSet::new();
    let mut stack = vec![&tree];
    while let Some(n) = stack.pop() {
        if let Some(deps) = n.get("dependencies").and_then(|d| d.as_object()) {
            for (name, d) in deps {
                if let Some(v) = d.get("version").and_then(|v| v.as_str()) {
                    theirs.insert((name.clone(), v.to_string()));
                }
                stack.push(d);
            }
        }
    }
    let rep = report::scan_rootfs(&npm, &VulnDb::new(), &Limits::default()).unwrap();
    let t = &rep.targets[0];
    let ours: BTreeSet<(String, String)> = t
        .packages
        .iter()
        .filter(|p| p.kind == PackageType::Npm)
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    assert!(theirs.len() > 100, "npm ls lists {}", theirs.len());
    let missing: Vec<_> = theirs.difference(&ours).collect();
    let extra: Vec<_> = ours.difference(&theirs).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}\nextra {extra:?}"
    );
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

fn gen_semver(r: &mut Rng) -> String {
    let n = |r: &mut Rng| (r.next() % 4).to_string();
    let mut v = format!("{}.{}.{}", n(r), n(r), n(r));
    if r.next().is_multiple_of(2) {
        let ids: Vec<String> = (0..1 + r.next() % 3)
            .map(|_| {
                r.pick(&["alpha", "beta", "rc", "0", "1", "11", "2", "x-y", "a1"])
                    .to_string()
            })
            .collect();
        v.push('-');
        v.push_str(&ids.join("."));
    }
    if r.next().is_multiple_of(5) {
        v.push_str("+build.1");
    }
    v
}

/// semver.org §11's precedence example, in order.
#[test]
fn semver_spec_precedence_example() {
    let order = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
    ];
    for w in order.windows(2) {
        assert_eq!(
            Scheme::Semver.compare(w[0], w[1]).unwrap(),
            std::cmp::Ordering::Less,
            "{w:?}"
        );
    }
    assert_eq!(
        Scheme::Semver.compare("1.0.0+a", "1.0.0+b").unwrap(),
        std::cmp::Ordering::Equal
    );
    assert_eq!(
        Scheme::Semver.compare("v1.2.3", "1.2.3").unwrap(),
        std::cmp::Ordering::Equal
    );
    // Go pseudo-versions order by their timestamp and sit below the next release.
    let p1 = "v0.0.0-20210101000000-abcdefabcdef";
    let p2 = "v0.0.0-20220101000000-abcdefabcdef";
    assert_eq!(
        Scheme::Semver.compare(p1, p2).unwrap(),
        std::cmp::Ordering::Less
    );
    assert_eq!(
        Scheme::Semver.compare(p2, "0.0.1").unwrap(),
        std::cmp::Ordering::Less
    );
    assert!(Scheme::Semver.compare("1.x", "1.0.0").is_err());
}

/// Differential: our order equals npm's own `semver` module on seeded generated pairs.
#[test]
fn semver_matches_npm_semver() {
    let Some(npm) = data_dir("BERTH_TEST_NPM_DIR", "/usr/lib/node_modules/npm") else {
        return;
    };
    let module = npm.join("node_modules/semver").display().to_string();
    let seed = std::env::var("BERTH_SCAN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5e3e_2026_u64);
    println!("seed {seed} (set BERTH_SCAN_SEED to reproduce)");
    let mut r = Rng(seed);
    let pairs: Vec<(String, String)> = (0..2000)
        .map(|_| (gen_semver(&mut r), gen_semver(&mut r)))
        .collect();
    let script = format!(
        "const s=require('{module}');const lines=require('fs').readFileSync(0,'utf8').trim().split('\\n');\
         console.log(lines.map(l=>{{const [a,b]=l.split(' ');return s.compareBuild(a,b)===0?0:s.compare(a,b)}}).join('\\n'))"
    );
    let mut child = std::process::Command::new("node")
        .args(["-e", &script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    let input: String = pairs.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let theirs: Vec<i32> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(theirs.len(), pairs.len());
    for ((a, b), t) in pairs.iter().zip(theirs) {
        let ours = Scheme::Semver.compare(a, b).unwrap() as i32;
        assert_eq!(ours, t, "{a} vs {b} (seed {seed})");
    }
}

/// This workspace's own Cargo.lock against `cargo metadata` (the resolve cargo itself reads).
#[test]
fn cargo_lock_equals_cargo_metadata() {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .current_dir(&ws)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let theirs: BTreeSet<(String, String)> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["source"].is_null())
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let data = std::fs::read(ws.join("Cargo.lock")).unwrap();
    let pkgs = berth_scan::catalog::lang::cargo_lock(&data, "Cargo.lock").unwrap();
    let ours: BTreeSet<(String, String)> = pkgs
        .iter()
        .filter(|p| p.source_name.is_some())
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    assert!(theirs.len() > 100);
    assert_eq!(ours, theirs);
    // Workspace members have no source and are not matched against crates.io.
    assert!(
        pkgs.iter()
            .any(|p| p.name == "berth-scan" && p.source_name.is_none())
    );
}

/// Debian's real jars (/usr/share/java, from the maven packages): our coordinates equal
/// those Python's zipfile reads from each pom.properties, Debian's Maven repository layout
/// (maven-repo/GROUP/ARTIFACT/VERSION/ links to the jar) agrees, and a jar nested in a jar
/// (Spring Boot style) is found.
#[test]
fn java_archives_from_debian_packages() {
    let Some(repo) = data_dir("BERTH_TEST_JAVA_DIR", "/usr/share/java") else {
        return;
    };
    let repo = repo.as_path();
    let script = "import sys,zipfile,os\nfor root,_,fs in os.walk(sys.argv[1]):\n for f in fs:\n  p=os.path.join(root,f)\n  if not f.endswith('.jar') or os.path.islink(p): continue\n  z=zipfile.ZipFile(p)\n  found=False\n  for n in z.namelist():\n   if n.startswith('META-INF/maven/') and n.endswith('/pom.properties'):\n    d={}\n    for l in z.read(n).decode('utf8','replace').splitlines():\n     l=l.strip()\n     if l.startswith('#') or '=' not in l: continue\n     k,v=l.split('=',1); d[k.strip()]=v.strip()\n    if all(k in d for k in ('groupId','artifactId','version')): print(d['groupId']+':'+d['artifactId'], d['version'], os.path.relpath(p,sys.argv[1])); found=True\n  if not found and not any(n.lower().endswith(('.jar','.war','.ear')) for n in z.namelist()): print('?', os.path.relpath(p,sys.argv[1]))\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(repo)
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    // Library jars without coordinates (no complete pom.properties, no nested archive).
    let bare: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("? ")).collect();
    let theirs: BTreeSet<(String, String, String)> = text
        .lines()
        .filter(|l| !l.starts_with("? "))
        .filter_map(|l| {
            let mut f = l.split(' ');
            Some((
                f.next()?.to_string(),
                f.next()?.to_string(),
                f.next()?.to_string(),
            ))
        })
        .collect();
    assert!(theirs.len() > 20, "{}", theirs.len());
    let rep = report::scan_rootfs(repo, &VulnDb::new(), &Limits::default()).unwrap();
    let t = &rep.targets[0];
    let ours: BTreeSet<(String, String, String)> = t
        .packages
        .iter()
        .filter(|p| p.kind == PackageType::Java)
        .map(|p| (p.name.clone(), p.version.clone(), p.path.clone()))
        .collect();
    assert_eq!(ours, theirs);
    // maven-repo/org/apache/maven/maven-core/3.8.7/maven-core-3.8.7.jar -> java/maven3-core.jar
    let link = std::fs::read_link(
        "/usr/share/maven-repo/org/apache/maven/maven-core/3.8.7/maven-core-3.8.7.jar",
    )
    .unwrap();
    let file = link.file_name().unwrap().to_string_lossy().into_owned();
    let core = ours
        .iter()
        .find(|(n, _, p)| n == "org.apache.maven:maven-core" && *p == file)
        .unwrap_or_else(|| panic!("{file}: {ours:?}"));
    assert_eq!(core.1, "3.8.7");
    // Matched now (no "listed but not matched" line); the jars without coordinates are
    // counted in one line instead.
    let notes: Vec<&String> = t
        .not_scanned
        .iter()
        .filter(|n| n.contains("Java archives not matched"))
        .collect();
    assert!(!bare.is_empty(), "Debian ships jars without pom.properties");
    assert_eq!(notes.len(), 1, "{:?}", t.not_scanned);
    assert!(
        notes[0].starts_with(&format!("{} Java archives not matched", bare.len())),
        "{} bare jars: {}",
        bare.len(),
        notes[0]
    );

    // Nested: a fat jar holding commons-lang3 under BOOT-INF/lib.
    let inner = std::fs::canonicalize(
        "/usr/share/maven-repo/org/apache/commons/commons-lang3/3.12.0/commons-lang3-3.12.0.jar",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fat = dir.path().join("app/app.jar");
    std::fs::create_dir_all(fat.parent().unwrap()).unwrap();
    let st = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED)\nz.write(sys.argv[2],'BOOT-INF/lib/commons-lang3-3.12.0.jar')\nz.writestr('META-INF/MANIFEST.MF','Manifest-Version: 1.0\\n')\nz.close()",
        ])
        .arg(&fat)
        .arg(&inner)
        .status()
        .unwrap();
    assert!(st.success());
    let rep = report::scan_rootfs(dir.path(), &VulnDb::new(), &Limits::default()).unwrap();
    let p = &rep.targets[0].packages;
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].name, "org.apache.commons:commons-lang3");
    assert_eq!(p[0].version, "3.12.0");
    assert_eq!(
        p[0].path,
        "app/app.jar!/BOOT-INF/lib/commons-lang3-3.12.0.jar"
    );
    let purl = berth_scan::sbom::purl(&p[0], None);
    assert_eq!(purl, "pkg:maven/org.apache.commons/commons-lang3@3.12.0");
}

/// Copy the Python lockfile fixtures into a root filesystem at these paths.
fn pylock_root(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (fixture, at) in files {
        let to = dir.path().join(at);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/pylock")
            .join(fixture);
        std::fs::copy(from, to).unwrap();
    }
    dir
}

fn pkgs_at(t: &report::TargetReport, path: &str) -> Vec<String> {
    t.packages
        .iter()
        .filter(|p| p.path == path)
        .inspect(|p| assert_eq!(p.kind, PackageType::Python))
        .map(|p| format!("{} {}", p.name, p.version))
        .collect()
}

#[test]
fn python_lockfiles_list_pinned_index_packages() {
    let root = pylock_root(&[
        ("poetry.lock", "srv/a/poetry.lock"),
        ("uv.lock", "srv/b/uv.lock"),
        ("Pipfile.lock", "srv/c/Pipfile.lock"),
        ("requirements.txt", "srv/d/requirements-prod.txt"),
    ]);
    let rep = report::scan_rootfs(root.path(), &data_db(), &Limits::default()).unwrap();
    let t = &rep.targets[0];
    assert!(t.not_scanned.is_empty(), "{:?}", t.not_scanned);
    // Path (directory) sources and the editable project itself are not index packages;
    // a key named `version` in [package.dependencies] is not the package's.
    assert_eq!(
        pkgs_at(t, "srv/a/poetry.lock"),
        ["Requests 2.30.0", "certifi 2024.2.2", "urllib3 2.0.2"]
    );
    assert_eq!(
        pkgs_at(t, "srv/b/uv.lock"),
        ["certifi 2024.2.2", "jinja2 3.1.2"]
    );
    assert_eq!(
        pkgs_at(t, "srv/c/Pipfile.lock"),
        ["pytest 8.1.1", "requests 2.30.0"]
    );
    // Only name==version pins: options, -e, ranges, wildcards and URLs are skipped;
    // hashes on continuation lines, extras, markers and comments are not part of the pin.
    assert_eq!(
        pkgs_at(t, "srv/d/requirements-prod.txt"),
        ["certifi 2024.2.2", "jinja2 3.1.2", "requests 2.30.0"]
    );
    // Matched as PyPI packages, each named at its lockfile.
    let hits: BTreeSet<&str> = t
        .findings
        .iter()
        .filter(|f| f.advisory == "GHSA-j8r2-6x86-q33q")
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(
        hits,
        BTreeSet::from([
            "srv/a/poetry.lock",
            "srv/c/Pipfile.lock",
            "srv/d/requirements-prod.txt"
        ])
    );
}

#[test]
fn python_lockfile_pin_of_an_installed_distribution_counts_once() {
    let root = pylock_root(&[("requirements.txt", "app/requirements.txt")]);
    let site = root
        .path()
        .join("app/.venv/lib/python3.11/site-packages/requests-2.30.0.dist-info");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        site.join("METADATA"),
        "Metadata-Version: 2.1\nName: requests\nVersion: 2.30.0\n\nbody\n",
    )
    .unwrap();
    let rep = report::scan_rootfs(root.path(), &data_db(), &Limits::default()).unwrap();
    let t = &rep.targets[0];
    // Both are in the SBOM, with their paths …
    let requests: Vec<&str> = t
        .packages
        .iter()
        .filter(|p| p.name == "requests")
        .map(|p| p.path.as_str())
        .collect();
    assert_eq!(requests.len(), 2, "{requests:?}");
    // … and the advisory is reported once, at the installed copy.
    let hits: Vec<&str> = t
        .findings
        .iter()
        .filter(|f| f.advisory == "GHSA-j8r2-6x86-q33q")
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(
        hits,
        ["app/.venv/lib/python3.11/site-packages/requests-2.30.0.dist-info/METADATA"]
    );
}

#[test]
fn python_lockfile_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Pipfile.lock"), "{ not json").unwrap();
    std::fs::write(
        dir.path().join("poetry.lock"),
        "[[package]]\nname = \"x\"\n\n[metadata]\n",
    )
    .unwrap();
    let rep = report::scan_rootfs(dir.path(), &VulnDb::new(), &Limits::default()).unwrap();
    let ns = &rep.targets[0].not_scanned;
    assert!(
        ns.iter().any(|n| n.starts_with("Pipfile.lock: not JSON")),
        "{ns:?}"
    );
    assert!(
        ns.iter()
            .any(|n| n.starts_with("poetry.lock:1: [[package]] without name or version")),
        "{ns:?}"
    );
}
