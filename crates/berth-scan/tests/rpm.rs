//! rpm databases and rpm version order, against real rpm: packages built with Debian's
//! `rpmbuild` and installed with Debian's `rpm` into a temporary root (the sqlite backend),
//! read back by `rpm -qa` as the oracle; a Berkeley DB `Packages` of RHEL 8 and an ndb
//! `Packages.db` of SLE 15 (real databases, tests/data/rpm/README.md), the first also read by
//! `rpm`'s bdb_ro backend; version order against rpm's own `rpm.vercmp` on generated pairs.

use berth_scan::catalog::rpm::{self, RpmInfo};
use berth_scan::catalog::{Distro, Ecosystems, PackageType};
use berth_scan::image::Limits;
use berth_scan::osv::{FixState, VulnDb};
use berth_scan::report;
use berth_scan::version::Scheme;
use berth_scan::version::rpm::rpmvercmp;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../../../testing/tool.rs"]
mod tool_rule;
use tool_rule::tool;

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

fn gunzip(p: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// rpm's tests/rpmvercmp.at cases.
#[test]
fn rpmvercmp_cases_of_rpms_own_suite() {
    let cases = "\
1.0 1.0 0|1.0 2.0 -1|2.0 1.0 1|2.0.1 2.0.1 0|2.0 2.0.1 -1|2.0.1 2.0 1|2.0.1a 2.0.1a 0|\
2.0.1a 2.0.1 1|2.0.1 2.0.1a -1|5.5p1 5.5p1 0|5.5p1 5.5p2 -1|5.5p2 5.5p1 1|5.5p10 5.5p10 0|\
5.5p1 5.5p10 -1|5.5p10 5.5p1 1|10xyz 10.1xyz -1|10.1xyz 10xyz 1|xyz10 xyz10 0|\
xyz10 xyz10.1 -1|xyz10.1 xyz10 1|xyz.4 xyz.4 0|xyz.4 8 -1|8 xyz.4 1|xyz.4 2 -1|2 xyz.4 1|\
5.5p2 5.6p1 -1|5.6p1 5.5p2 1|5.6p1 6.5p1 -1|6.5p1 5.6p1 1|6.0.rc1 6.0 1|6.0 6.0.rc1 -1|\
10b2 10a1 1|10a2 10b2 -1|1.0aa 1.0aa 0|1.0a 1.0aa -1|1.0aa 1.0a 1|10.0001 10.0001 0|\
10.0001 10.1 0|10.1 10.0001 0|10.0001 10.0039 -1|10.0039 10.0001 1|4.999.9 5.0 -1|\
5.0 4.999.9 1|20101121 20101121 0|20101121 20101122 -1|20101122 20101121 1|2_0 2_0 0|\
2.0 2_0 0|2_0 2.0 0|a a 0|a+ a+ 0|a+ a_ 0|a_ a+ 0|+a +a 0|+a _a 0|_a +a 0|+_ +_ 0|_+ +_ 0|\
_+ _ 0|+ _ 0|_ + 0|1.0~rc1 1.0~rc1 0|1.0~rc1 1.0 -1|1.0 1.0~rc1 1|1.0~rc1 1.0~rc2 -1|\
1.0~rc2 1.0~rc1 1|1.0~rc1~git123 1.0~rc1~git123 0|1.0~rc1~git123 1.0~rc1 -1|\
1.0~rc1 1.0~rc1~git123 1|1.0^ 1.0^ 0|1.0^ 1.0 1|1.0 1.0^ -1|1.0^git1 1.0^git1 0|\
1.0^git1 1.0 1|1.0 1.0^git1 -1|1.0^git1 1.0^git2 -1|1.0^git2 1.0^git1 1|1.0^git1 1.01 -1|\
1.01 1.0^git1 1|1.0^20160101 1.0^20160101 0|1.0^20160101 1.0.1 -1|1.0.1 1.0^20160101 1|\
1.0^20160101^git1 1.0^20160101^git1 0|1.0^20160102 1.0^20160101^git1 1|\
1.0^20160101^git1 1.0^20160102 -1|1.0~rc1^git1 1.0~rc1^git1 0|1.0~rc1^git1 1.0~rc1 1|\
1.0~rc1 1.0~rc1^git1 -1|1.0^git1~pre 1.0^git1~pre 0|1.0^git1 1.0^git1~pre 1|\
1.0^git1~pre 1.0^git1 -1";
    for case in cases.split('|') {
        let f: Vec<&str> = case.split(' ').collect();
        let want = match f[2] {
            "0" => Ordering::Equal,
            "1" => Ordering::Greater,
            _ => Ordering::Less,
        };
        assert_eq!(rpmvercmp(f[0], f[1]), want, "{} vs {}", f[0], f[1]);
    }
}

#[test]
fn evr_order_epochs_and_missing_releases() {
    let c = |a, b| Scheme::Rpm.compare(a, b).unwrap();
    assert_eq!(c("1:1.0-1", "2.0-1"), Ordering::Greater, "epoch first");
    assert_eq!(
        c("0:2.34-60.el9", "2.34-60.el9"),
        Ordering::Equal,
        "epoch 0 = none"
    );
    assert_eq!(c("2.34-60.el9", "2.34-60.el9_2.7"), Ordering::Less);
    assert_eq!(c("2.34-60.el9_2.7", "2.34-60.el9_2.10"), Ordering::Less);
    assert_eq!(
        c("1.0", "1.0-5"),
        Ordering::Less,
        "no release: empty, as rpm.vercmp"
    );
    assert_eq!(c("1.9.5p2-10.el9_6.1", "1.9.5p2-9.el9"), Ordering::Greater);
    assert!(Scheme::Rpm.compare("", "1").is_err());
    assert!(Scheme::Rpm.compare("a:1", "1").is_err());
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

fn gen_part(r: &mut Rng) -> String {
    let n = 1 + r.next() % 4;
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push_str(r.pick(&[".", ".", "_", "+", "~", "^", ""]));
        }
        s.push_str(r.pick(&[
            "0", "1", "2", "10", "01", "007", "9", "rc1", "a", "b", "git", "el9", "el9_2", "p1",
            "Z",
        ]));
    }
    s
}

/// Differential: our EVR order must equal rpm's own `rpm.vercmp` (Lua, lib/rpmvercmp.c) on
/// seeded generated pairs (one `rpm --eval` for all of them).
#[test]
fn rpm_order_matches_rpm_vercmp() {
    let Some(rpm_bin) = tool("BERTH_TEST_RPM") else {
        return;
    };
    let seed = std::env::var("BERTH_SCAN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_4242_u64);
    println!("seed {seed} (set BERTH_SCAN_SEED to reproduce)");
    let mut r = Rng(seed);
    let mut pairs = Vec::new();
    for _ in 0..400 {
        let evr = |r: &mut Rng| {
            let mut s = String::new();
            if r.next().is_multiple_of(4) {
                s.push_str(r.pick(&["0:", "1:", "2:"]));
            }
            s.push_str(&gen_part(r));
            if !r.next().is_multiple_of(5) {
                s.push('-');
                s.push_str(&gen_part(r));
            }
            s
        };
        let (a, b) = (evr(&mut r), evr(&mut r));
        pairs.push((a, b));
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs");
    std::fs::write(
        &input,
        pairs
            .iter()
            .map(|(a, b)| format!("{a} {b}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let lua = format!(
        "%{{lua: for l in io.lines('{}') do local a, b = l:match('(%S+) (%S+)'); print(rpm.vercmp(a, b) .. '\\n') end}}",
        input.display()
    );
    let out = Command::new(rpm_bin)
        .arg("--eval")
        .arg(lua)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<i32> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(theirs.len(), pairs.len());
    for ((a, b), t) in pairs.iter().zip(theirs) {
        let ours = Scheme::Rpm.compare(a, b).unwrap();
        assert_eq!(ours, t.cmp(&0), "{a} vs {b} (seed {seed})");
    }
}

/// (name, EVR, arch, source name, license) as `rpm -qa` prints them.
type Row = (String, String, String, String, String);

fn oracle_rows(rpm_bin: &Path, args: &[&str]) -> BTreeSet<Row> {
    let out = Command::new(rpm_bin)
        .args(args)
        .args([
            "-qa",
            "--qf",
            "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{LICENSE}\\n",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("gpg-pubkey\t"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let evr = match f[1] {
                "(none)" | "0" => format!("{}-{}", f[2], f[3]),
                e => format!("{e}:{}-{}", f[2], f[3]),
            };
            let src = f[5].rsplitn(3, '-').nth(2).unwrap_or("").to_string();
            (f[0].into(), evr, f[4].into(), src, f[6].into())
        })
        .collect()
}

fn our_rows(pkgs: &[berth_scan::catalog::Package]) -> BTreeSet<Row> {
    pkgs.iter()
        .map(|p| {
            assert_eq!(p.kind, PackageType::Rpm);
            (
                p.name.clone(),
                p.version.clone(),
                p.arch.clone().unwrap_or_default(),
                p.source_name.clone().unwrap_or_default(),
                p.license.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// A spec whose main package and `subs` subpackages are empty, plus one package with
/// `files` files (its header outgrows an SQLite page: an overflow chain).
fn spec(
    name: &str,
    epoch: Option<u32>,
    version: &str,
    release: &str,
    license: &str,
    subs: &[String],
    files: usize,
) -> String {
    let mut s = format!(
        "Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: berth test package\nLicense: {license}\nBuildArch: noarch\n"
    );
    if let Some(e) = epoch {
        s.push_str(&format!("Epoch: {e}\n"));
    }
    s.push_str("%description\nberth test package\n");
    for sub in subs {
        s.push_str(&format!(
            "%package {sub}\nSummary: {sub}\n%description {sub}\n{sub}\n"
        ));
    }
    s.push_str("%install\nmkdir -p %{buildroot}/usr/share/berth-test\n");
    if files > 0 {
        s.push_str(&format!(
            "for i in $(seq 1 {files}); do echo $i > %{{buildroot}}/usr/share/berth-test/{name}-data-file-with-a-long-name-$i; done\n"
        ));
    }
    s.push_str("%files\n");
    if files > 0 {
        s.push_str("/usr/share/berth-test\n");
    }
    for sub in subs {
        s.push_str(&format!("%files {sub}\n"));
    }
    s
}

/// Build the specs and install every package into `root` (database under `dbpath`).
fn install(
    rpmbuild: &Path,
    rpm_bin: &Path,
    work: &Path,
    root: &Path,
    dbpath: &str,
    specs: &[String],
) {
    let top = work.join("top");
    for (i, s) in specs.iter().enumerate() {
        let f = work.join(format!("p{i}.spec"));
        std::fs::write(&f, s).unwrap();
        let out = Command::new(rpmbuild)
            .arg("-bb")
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rpmbuild: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rpms: Vec<PathBuf> = walkdir(&top.join("RPMS"));
    let base = ["--root", root.to_str().unwrap(), "--dbpath", dbpath];
    let st = Command::new(rpm_bin)
        .args(base)
        .arg("--initdb")
        .status()
        .unwrap();
    assert!(st.success());
    let out = Command::new(rpm_bin)
        .args(base)
        .args([
            "-i",
            "--justdb",
            "--nodeps",
            "--ignorearch",
            "--ignoreos",
            "--nosignature",
        ])
        .args(&rpms)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rpm -i: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn walkdir(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else if p.extension().is_some_and(|x| x == "rpm") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The test system: glibc 2.34-60.el9 (vulnerable to ALSA-2023:5453, fixed in
/// 2.34-60.el9_2.7) with two subpackages, openssl with an epoch, and 120 more packages so
/// the Packages table spans interior b-tree pages.
fn test_specs() -> Vec<String> {
    let many: Vec<String> = (0..120).map(|i| format!("extra{i:03}")).collect();
    vec![
        spec(
            "glibc",
            None,
            "2.34",
            "60.el9",
            "LGPLv2+ and GPLv2+",
            &["common".into(), "minimal-langpack".into()],
            0,
        ),
        spec(
            "openssl",
            Some(1),
            "3.0.7",
            "24.el9",
            "ASL 2.0",
            &["libs".into()],
            0,
        ),
        spec(
            "filler",
            None,
            "1.0^git20240101",
            "1.el9",
            "MIT",
            &many,
            400,
        ),
    ]
}

#[test]
fn sqlite_rpmdb_written_by_rpm_reads_as_rpm_reads_it() {
    let (Some(rpm_bin), Some(rpmbuild)) = (tool("BERTH_TEST_RPM"), tool("BERTH_TEST_RPMBUILD"))
    else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    install(
        &rpmbuild,
        &rpm_bin,
        work.path(),
        &root,
        "/var/lib/rpm",
        &test_specs(),
    );
    let db = root.join("var/lib/rpm/rpmdb.sqlite");
    let bytes = std::fs::read(&db).unwrap();
    let wal = std::fs::read(root.join("var/lib/rpm/rpmdb.sqlite-wal")).ok();
    let pkgs = rpm::parse_db(&bytes, wal.as_deref(), "var/lib/rpm/rpmdb.sqlite").unwrap();
    let theirs = oracle_rows(
        &rpm_bin,
        &["--root", root.to_str().unwrap(), "--dbpath", "/var/lib/rpm"],
    );
    assert_eq!(theirs.len(), 3 + 2 + 121, "{theirs:?}");
    assert_eq!(our_rows(&pkgs), theirs);
    let ssl = pkgs.iter().find(|p| p.name == "openssl-libs").unwrap();
    assert_eq!(ssl.version, "1:3.0.7-24.el9");
    assert_eq!(ssl.source_name.as_deref(), Some("openssl"));
    assert_eq!(ssl.source_version, None, "same EVR as the binary");
    assert_eq!(ssl.license.as_deref(), Some("ASL 2.0"));
    assert_eq!(ssl.arch.as_deref(), Some("noarch"));

    // A scan of the root on AlmaLinux 9: the glibc packages have ALSA-2023:5453, whose CVEs
    // AlmaLinux lists only as `related`.
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "ID=\"almalinux\"\nVERSION_ID=\"9.2\"\n",
    )
    .unwrap();
    let osv = VulnDb::load_dir(&data("osv")).unwrap();
    let rep = report::scan_rootfs(&root, &osv, &Limits::default()).unwrap();
    let t = &rep.targets[0];
    assert!(t.not_scanned.is_empty(), "{:?}", t.not_scanned);
    let hit: BTreeSet<&str> = t.findings.iter().map(|f| f.package.as_str()).collect();
    assert_eq!(
        hit,
        BTreeSet::from(["glibc", "glibc-common", "glibc-minimal-langpack"])
    );
    for f in &t.findings {
        assert_eq!(f.advisory, "ALSA-2023:5453");
        assert_eq!(f.ecosystem, "AlmaLinux:9");
        assert_eq!(f.fix, FixState::Fixed("2.34-60.el9_2.7".into()));
        assert!(
            f.aliases.contains(&"CVE-2023-4911".to_string()),
            "{:?}",
            f.aliases
        );
    }
    // The SBOM names them as rpm purls with the distro.
    let cdx = berth_scan::sbom::cyclonedx(t, true);
    let purls: Vec<&str> = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    assert!(
        purls.contains(
            &"pkg:rpm/almalinux/openssl-libs@3.0.7-24.el9?arch=noarch&distro=almalinux-9.2&epoch=1"
        ),
        "{purls:?}"
    );

    // The same database on Fedora: no advisory data berth matches, said so (never clean).
    std::fs::write(root.join("etc/os-release"), "ID=fedora\nVERSION_ID=40\n").unwrap();
    let rep = report::scan_rootfs(&root, &osv, &Limits::default()).unwrap();
    let ns = &rep.targets[0].not_scanned;
    assert!(
        ns.iter()
            .any(|n| n.contains("OS packages not matched") && n.contains("fedora")),
        "{ns:?}"
    );
}

/// rpm ≥ 4.16 keeps the sqlite database in WAL mode: a copy taken while a writer has the
/// database open has committed pages only in `rpmdb.sqlite-wal`. They are read as SQLite
/// reads them (here: rows deleted in the WAL are gone; without the WAL they are back).
#[test]
fn sqlite_rpmdb_with_an_uncheckpointed_wal() {
    let (Some(rpm_bin), Some(rpmbuild), Some(sqlite3)) = (
        tool("BERTH_TEST_RPM"),
        tool("BERTH_TEST_RPMBUILD"),
        tool("BERTH_TEST_SQLITE3"),
    ) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    install(
        &rpmbuild,
        &rpm_bin,
        work.path(),
        &root,
        "/usr/lib/sysimage/rpm",
        &test_specs()[..2],
    );
    let dir = root.join("usr/lib/sysimage/rpm");
    let snap = work.path().join("snap");
    std::fs::create_dir(&snap).unwrap();
    let script = format!(
        "PRAGMA journal_mode=WAL;\nPRAGMA wal_autocheckpoint=0;\nDELETE FROM Packages WHERE hnum IN (SELECT hnum FROM Name WHERE key LIKE 'glibc%');\n.system cp {0}/rpmdb.sqlite {0}/rpmdb.sqlite-wal {1}/\n",
        dir.display(),
        snap.display()
    );
    let out = Command::new(&sqlite3)
        .arg(dir.join("rpmdb.sqlite"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(script.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    let main = std::fs::read(snap.join("rpmdb.sqlite")).unwrap();
    let wal = std::fs::read(snap.join("rpmdb.sqlite-wal")).unwrap();
    assert!(!wal.is_empty(), "the copy has a live WAL");
    let names = |w: Option<&[u8]>| -> BTreeSet<String> {
        rpm::parse_db(&main, w, "rpmdb.sqlite")
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect()
    };
    assert_eq!(
        names(Some(&wal)),
        BTreeSet::from(["openssl".into(), "openssl-libs".into()])
    );
    assert_eq!(
        names(None).len(),
        5,
        "the main file alone is the state before the delete"
    );
    // sqlite3 itself agrees on what the copy holds.
    let out = Command::new(&sqlite3)
        .arg(snap.join("rpmdb.sqlite"))
        .arg("SELECT count(*) FROM Packages")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
}

/// A RHEL 8 Berkeley DB `Packages` (one package, its header on overflow pages), read as
/// rpm's bdb_ro backend reads it.
#[test]
fn berkeley_db_packages_of_rhel8() {
    let bytes = std::fs::read(data("rpm/libuuid-Packages")).unwrap();
    assert_eq!(rpm::Format::sniff(&bytes), Some(rpm::Format::BerkeleyDb));
    let pkgs = rpm::parse_db(&bytes, None, "var/lib/rpm/Packages").unwrap();
    assert_eq!(pkgs.len(), 1);
    let p = &pkgs[0];
    assert_eq!(
        (
            p.name.as_str(),
            p.version.as_str(),
            p.arch.as_deref(),
            p.source_name.as_deref(),
            p.license.as_deref()
        ),
        (
            "libuuid",
            "2.32.1-42.el8_8",
            Some("x86_64"),
            Some("util-linux"),
            Some("BSD")
        )
    );
    let Some(rpm_bin) = tool("BERTH_TEST_RPM") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(data("rpm/libuuid-Packages"), dir.path().join("Packages")).unwrap();
    let theirs = oracle_rows(
        &rpm_bin,
        &[
            "--define",
            "_db_backend bdb_ro",
            "--dbpath",
            dir.path().to_str().unwrap(),
        ],
    );
    assert_eq!(our_rows(&pkgs), theirs);
}

/// SLE 15 SP3's ndb `Packages.db` (the BCI base image): the 35 packages `rpm -qa` listed in
/// that image (tests/data/rpm/README.md), spot-checked.
#[test]
fn ndb_packages_of_sle15() {
    let bytes = gunzip(&data("rpm/sle15-bci-Packages.db.gz"));
    assert_eq!(rpm::Format::sniff(&bytes), Some(rpm::Format::Ndb));
    let pkgs = rpm::parse_db(&bytes, None, "var/lib/rpm/Packages.db").unwrap();
    assert_eq!(pkgs.len(), 35);
    let get = |n: &str| {
        pkgs.iter()
            .find(|p| p.name == n)
            .unwrap_or_else(|| panic!("{n}"))
    };
    let g = get("libgcc_s1");
    assert_eq!(g.version, "11.2.1+git610-1.3.9");
    assert_eq!(g.source_name.as_deref(), Some("gcc11"));
    assert_eq!(
        g.license.as_deref(),
        Some("GPL-3.0-or-later WITH GCC-exception-3.1")
    );
    assert_eq!(
        get("libreadline7").source_version.as_deref(),
        Some("4.4-19.6.1")
    );
    assert_eq!(get("sles-release").version, "15.3-55.4.1");
    assert_eq!(
        get("ca-certificates-mozilla-prebuilt").arch.as_deref(),
        Some("noarch")
    );
    // SLES matches against every SUSE product/module ecosystem of its service pack.
    let d = Distro {
        id: "sles".into(),
        version_id: "15.3".into(),
    };
    let fam = d.osv_ecosystems().unwrap();
    assert!(fam.matches("SUSE:Linux Enterprise Module for Basesystem 15 SP3"));
    assert!(fam.matches("SUSE:Linux Enterprise Server 15 SP3"));
    assert!(!fam.matches("SUSE:Linux Enterprise Server 15 SP4"));
    assert!(!fam.matches("openSUSE:Leap 15.3"));
}

/// RHEL's advisories come per repository stream (`Red Hat:enterprise_linux:9::baseos`,
/// `::appstream`): a record naming a package in two of them is one finding; CentOS is matched
/// against RHEL's data; EUS streams and other majors are not.
#[test]
fn red_hat_streams_are_one_family() {
    let d = Distro {
        id: "rhel".into(),
        version_id: "9.4".into(),
    };
    let fam = d.osv_ecosystems().unwrap();
    assert!(matches!(fam, Ecosystems::Family { .. }));
    for e in [
        "Red Hat:enterprise_linux:9::baseos",
        "Red Hat:enterprise_linux:9::appstream",
        "Red Hat:enterprise_linux:9",
    ] {
        assert!(fam.matches(e), "{e}");
    }
    for e in [
        "Red Hat:enterprise_linux:8::baseos",
        "Red Hat:rhel_eus:9.2::appstream",
        "Red Hat:enterprise_linux:90::x",
    ] {
        assert!(!fam.matches(e), "{e}");
    }
    let centos = Distro {
        id: "centos".into(),
        version_id: "9".into(),
    };
    assert_eq!(centos.osv_ecosystems(), Some(fam));
    // One record, two streams, one finding.
    let mut db = VulnDb::new();
    db.add_json(
        br#"{"id": "RHSA-2023:5455", "upstream": ["CVE-2023-4911"],
             "affected": [
               {"package": {"ecosystem": "Red Hat:enterprise_linux:9::baseos", "name": "glibc"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0:2.34-60.el9_2.7"}]}]},
               {"package": {"ecosystem": "Red Hat:enterprise_linux:9::appstream", "name": "glibc"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0:2.34-60.el9_2.7"}]}]}]}"#,
        "rhsa",
    )
    .unwrap();
    let mut fs = berth_scan::files::FileSet::default();
    fs.insert(
        "etc/os-release",
        b"ID=rhel\nVERSION_ID=9.2\n".to_vec(),
        None,
    );
    let cat = berth_scan::catalog::Catalog {
        distro: berth_scan::catalog::detect_distro(&fs),
        packages: vec![berth_scan::catalog::Package {
            kind: PackageType::Rpm,
            name: "glibc".into(),
            version: "2.34-60.el9".into(),
            arch: Some("x86_64".into()),
            source_name: Some("glibc".into()),
            source_version: None,
            license: None,
            path: "var/lib/rpm/rpmdb.sqlite".into(),
            layer: None,
        }],
        not_scanned: vec![],
    };
    // Without any Red Hat data in the database, nothing could match: said so.
    let empty = report::match_catalog("ubi9", None, cat.clone(), &VulnDb::new());
    assert!(
        empty
            .not_scanned
            .iter()
            .any(|n| n.contains("Red Hat:enterprise_linux:9::*")),
        "{:?}",
        empty.not_scanned
    );
    let t = report::match_catalog("ubi9", None, cat, &db);
    assert!(t.not_scanned.is_empty(), "{:?}", t.not_scanned);
    assert_eq!(t.findings.len(), 1, "{:?}", t.findings);
    assert_eq!(
        t.findings[0].fix,
        FixState::Fixed("0:2.34-60.el9_2.7".into())
    );
    assert_eq!(t.findings[0].aliases, vec!["CVE-2023-4911".to_string()]);
}

/// Every header blob of the real databases parses, and SOURCERPM splits as rpm names it.
#[test]
fn headers_of_real_databases() {
    let bytes = gunzip(&data("rpm/sle15-bci-Packages.db.gz"));
    let mut n = 0;
    rpm::header_blobs(&bytes, None, &mut |b| {
        let info = RpmInfo::from_blob(b).map_err(|e| e.to_string())?;
        let h = rpm::header::Header::parse(b).map_err(|e| e.to_string())?;
        h.validate_all().map_err(|e| e.to_string())?;
        let (sn, _) = info.source().ok_or("no source")?;
        assert!(
            info.source_rpm
                .as_deref()
                .unwrap()
                .starts_with(&format!("{sn}-"))
        );
        n += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(n, 35);
}

/// Through an image: the database is kept from its layer (with its empty WAL), read, and
/// matched; a later layer deleting it (a whiteout) leaves no rpm packages.
#[test]
fn rpm_database_in_an_image_layer() {
    let db = gunzip(&data("rpm/rpmdb.sqlite.gz"));
    let dir = tempfile::tempdir().unwrap();
    let layout = berth_oci::Layout::create(dir.path()).unwrap();
    berth_scan::image::write_files_image(
        &layout,
        &[
            (
                "etc/os-release",
                b"ID=\"almalinux\"\nVERSION_ID=\"9.1\"\n".as_slice(),
            ),
            ("usr/lib/sysimage/rpm/rpmdb.sqlite", &db),
            ("usr/lib/sysimage/rpm/rpmdb.sqlite-wal", b""),
        ],
        "alma",
    )
    .unwrap();
    let osv = VulnDb::load_dir(&data("osv")).unwrap();
    let rep = report::scan_layout(dir.path(), &osv, None, &Limits::default()).unwrap();
    let t = &rep.targets[0];
    assert!(t.not_scanned.is_empty(), "{:?}", t.not_scanned);
    let names: BTreeSet<&str> = t.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["glibc", "glibc-common", "openssl", "openssl-libs"])
    );
    assert!(
        t.packages
            .iter()
            .all(|p| p.layer.is_some() && p.path == "usr/lib/sysimage/rpm/rpmdb.sqlite")
    );
    let hit: BTreeSet<&str> = t.findings.iter().map(|f| f.package.as_str()).collect();
    assert_eq!(hit, BTreeSet::from(["glibc", "glibc-common"]));
    // A damaged database is a not-scanned line naming it, never a clean target.
    let mut bad = db.clone();
    bad.truncate(5000);
    let dir = tempfile::tempdir().unwrap();
    let layout = berth_oci::Layout::create(dir.path()).unwrap();
    berth_scan::image::write_files_image(&layout, &[("var/lib/rpm/rpmdb.sqlite", &bad)], "bad")
        .unwrap();
    let rep = report::scan_layout(dir.path(), &osv, None, &Limits::default()).unwrap();
    let ns = &rep.targets[0].not_scanned;
    assert!(
        ns.iter()
            .any(|n| n.contains("var/lib/rpm/rpmdb.sqlite") && n.contains("sqlite")),
        "{ns:?}"
    );
}
