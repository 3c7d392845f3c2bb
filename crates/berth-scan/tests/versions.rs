//! Version order per scheme, as table tests from each project's own suite, plus
//! differential tests against this machine's `dpkg --compare-versions`, `packaging` and
//! Maven's own `ComparableVersion`.

use berth_scan::version::Scheme;
use berth_scan::version::apk;
use berth_scan::version::deb::DebVersion;
use berth_scan::version::go::GoVersion;
use berth_scan::version::maven::MavenVersion;
use berth_scan::version::pep440::Pep440;
use std::cmp::Ordering;

#[path = "../../../testing/tool.rs"]
mod tool_rule;
use tool_rule::tool;

fn deb(a: &str, b: &str) -> Ordering {
    Scheme::Deb
        .compare(a, b)
        .unwrap_or_else(|e| panic!("{a} vs {b}: {e}"))
}

/// dpkg's lib/dpkg/t/t-version.c: compare and parse cases (objects written as strings).
#[test]
fn dpkg_t_version_compare_cases() {
    let cases: &[(&str, &str, Ordering)] = &[
        ("1:1-1", "2:1-1", Ordering::Less), // epoch 1 vs 2 differ
        ("1-1", "2-1", Ordering::Less),
        ("1-1", "1-2", Ordering::Less),
        ("0-0", "0-0", Ordering::Equal),
        ("0-00", "00-0", Ordering::Equal),
        ("1:2-3", "1:2-3", Ordering::Equal),
        ("0:0-0", "1:0-0", Ordering::Less),
        ("1:0-0", "0:0-0", Ordering::Greater),
        // t-version.c compares "a" vs "b" upstream objects directly; as strings an
        // upstream must start with a digit, so the letter difference follows one.
        ("0a-0", "0b-0", Ordering::Less),
        ("0b-0", "0a-0", Ordering::Greater),
        ("0-a", "0-b", Ordering::Less),
        ("0-b", "0-a", Ordering::Greater),
    ];
    for (a, b, want) in cases {
        assert_eq!(deb(a, b), *want, "{a} vs {b}");
        assert_eq!(deb(b, a), want.reverse(), "{b} vs {a}");
    }
}

#[test]
fn dpkg_t_version_parse_cases() {
    let same: &[(&str, &str)] = &[
        ("0", "0:0-"),
        ("0", "0:0"),
        ("0:0-0", "0-0"),
        ("0:0.0-0.0", "0.0-0.0"),
        ("1:0", "1:0-"),
        ("5:1", "5:1"),
        ("0:0-0-0", "0-0-0"),
        ("0:0-0-0-0", "0-0-0-0"),
        ("0:0:0-0", "0:0:0-0"),
        ("0:0:0:0-0", "0:0:0:0-0"),
        ("0:0:0-0-0", "0:0:0-0-0"),
        ("0:0-0:0-0", "0:0-0:0-0"),
        ("0:09azAZ.-+~:-0", "0:09azAZ.-+~:-0"),
        ("0:0-azAZ09.+~", "0:0-azAZ09.+~"),
        ("  \t0:0-1", "0:0-1"),
        ("0:0-1\t  ", "0:0-1"),
        ("\t  0:0-1  \t", "0:0-1"),
    ];
    for (a, b) in same {
        assert_eq!(deb(a, b), Ordering::Equal, "{a:?} = {b:?}");
    }
    let p = DebVersion::parse("0:0-0-0").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (p.epoch, p.upstream.as_str(), p.revision.as_str()),
        (0, "0-0", "0")
    );
    let p = DebVersion::parse("0:0:0-0").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((p.upstream.as_str(), p.revision.as_str()), ("0:0", "0"));
    let bad = [
        "",
        "  ",
        "0:",
        "0:0 0-1",
        "-1:0-1",
        "999999999999999999999999:0-1",
        "a:0-0",
        "A:0-0",
        "-0",
        "0:-0",
        "0:abc3-0",
        "0:0-0:0",
    ];
    for b in bad {
        assert!(DebVersion::parse(b).is_err(), "{b:?} must be refused");
    }
    for c in "!#@$%&/|\\<>()[]{};,_=*^'".chars() {
        let v = format!("0:0{c}-0");
        assert!(
            DebVersion::parse(&v).is_err(),
            "{v:?} has an invalid upstream char"
        );
    }
    for c in "!#@$%&/|\\<>()[]{}:;,_=*^'".chars() {
        let v = format!("0:0-0{c}");
        assert!(
            DebVersion::parse(&v).is_err(),
            "{v:?} has an invalid revision char"
        );
    }
}

/// Well-known Debian orderings: tildes, epochs, security-update suffixes.
#[test]
fn dpkg_tilde_epoch_and_backport_order() {
    let ascending = [
        "1.0~~", "1.0~~a", "1.0~", "1.0~rc1", "1.0", "1.0-0.1", "1.0-1", "1.0a", "1.0+b1", "1.0.1",
        "1:0.9",
    ];
    for w in ascending.windows(2) {
        assert_eq!(deb(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
        assert_eq!(deb(w[1], w[0]), Ordering::Greater, "{} > {}", w[1], w[0]);
    }
    assert_eq!(deb("2.36-9+deb12u1", "2.36-9+deb12u3"), Ordering::Less);
    assert_eq!(deb("2.36-9+deb12u10", "2.36-9+deb12u3"), Ordering::Greater);
    assert_eq!(deb("3.0.11-1~deb12u2", "3.0.11-1"), Ordering::Less);
    assert_eq!(deb("1.0", "1.0-0"), Ordering::Equal);
}

/// A small seeded generator (xorshift), so failures reproduce from the printed seed.
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

fn gen_deb(r: &mut Rng) -> String {
    let parts = [
        "0", "1", "2", "10", "01", "a", "b", "~", "~~", "+", ".", "rc", "deb12u", "+b",
    ];
    let mut up = String::from(r.pick(&["0", "1", "2", "10", "9"]));
    for _ in 0..(r.next() % 4) {
        up.push_str(r.pick(&parts));
    }
    let mut v = String::new();
    if r.next().is_multiple_of(4) {
        v.push_str(r.pick(&["1:", "2:", "0:"]));
    }
    v.push_str(&up);
    if r.next().is_multiple_of(2) {
        v.push('-');
        v.push_str(r.pick(&["1", "0", "2", "1~deb12u1", "9+deb12u3", "1+b1", "0.1"]));
    }
    v
}

/// Differential: our order must equal `dpkg --compare-versions` on generated pairs.
#[test]
fn dpkg_matches_dpkg_compare_versions() {
    let seed = std::env::var("BERTH_SCAN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_u64);
    println!("seed {seed} (set BERTH_SCAN_SEED to reproduce)");
    let mut r = Rng(seed);
    for _ in 0..150 {
        let (a, b) = (gen_deb(&mut r), gen_deb(&mut r));
        let ours = deb(&a, &b);
        let lt = std::process::Command::new("dpkg")
            .args(["--compare-versions", &a, "lt", &b])
            .status()
            .unwrap_or_else(|e| panic!("dpkg must be installed for this test: {e}"));
        let eq = std::process::Command::new("dpkg")
            .args(["--compare-versions", &a, "eq", &b])
            .status()
            .unwrap_or_else(|e| panic!("dpkg: {e}"));
        let theirs = if lt.success() {
            Ordering::Less
        } else if eq.success() {
            Ordering::Equal
        } else {
            Ordering::Greater
        };
        assert_eq!(ours, theirs, "{a} vs {b} (seed {seed})");
    }
}

/// Cases from apk-tools' test/version.data (a selection plus its edge cases at the end).
const APK_CASES: &str = "\
2.34 > 0.1.0_alpha
23_foo > 4_beta
1.0 < 1.0bc
0.1.0_alpha = 0.1.0_alpha
0.1.0_alpha < 0.1.3_alpha
0.1.0_alpha2 > 0.1.0_alpha
0.1.0_alpha < 2.2.39-r1
2.2.39-r1 > 1.0.4-r3
1.0.4-r3 < 1.0.4-r4
1.1 > 1.1_alpha1
1.2.1 > 1.2
1.2 < 1.3_alpha
1.3_alpha < 1.3_alpha2
0.7.0 < 0.8_beta1
3.10.18-r1 > 2.3.0b-r1
2.3.0b-r1 < 2.3.0b-r2
0.12.3 > 0.12
0.12 < 0.13_beta1
1.2.11 < 1.2.12.1
1.2.12.1 < 1.2.13
0.2.0-r1 = 0.2.0-r1
0.2.0-r1 < 3.1_p16
3.1_p16 < 3.1_p17
1.06-r6 < 006
006 > 1.0.0
1.2.2-r1 > 1.2.2
9.3.4-r2 > 9.3.4
2.59 < 20050718-r1
3.9.8-r5 > 2.01.01_alpha10
2.01.01_alpha10 > 0.94
1.0 > 0.99.3.20040818
1.39 > 1.00_beta2
2.8.9-r1 > 2.8.9
1.02 < 1.03-r1
4.2.52_p2-r1 < 4.2.52_p4-r2
1.0.5 < 8
2.18.3-r10 > 1.05-r18
20060720 > 3.0.20060720
2.1.9.200602141850 > 1.6
2.5.1-r8 < 2.5.1a-r1
1.3.5-r10 > 1.3.5-r8
20040401 > 2.0.0_rc3-r1
0.9.16-r1 < 3.9_pre20060124
3.9_pre20060124 > 0.01
1.1.7 < 6b-r7
0.10.0 < 0.10.1_rc1
1.1a < 1.3a
1.0-r1 > 0.15.1b
0.15.1b-r2 > 0.15.1b
22.7.3-r1 > 22.7
2.1_pre20 < 2.1_pre26
2.10.1 > 02.08.01b
3.81 > 1.6d
1.6d > 1.2.07.8
1.2.07.8 < 1.2.12.04
0.1_pre20060810 < 0.1_pre20060817
3.3.17 > 0.59s-r11
0.20070118 < 0.20070207_rc1
4.5_p1-r1 > 4.5_p1
0.9.8c-r1 < 0.9.8d
2.2.3-r2 < 013
1.7 < 1.7b
1.8.5 < 1.8.5_p2
0.98 < 1.00
2.9.11_pre20051101-r3 > 2.9.11_pre20051101
1.6.8_p12-r1 > 1.6.8_p9-r2
0.9.28-r2 < 0.9.28.1
0.9.28.1 < 087-r1
20040406-r1 > 2.12r-r4
2.12r-r4 < 2.12r-r5
7.0.17 < 7.0.174
1.3-r0 < 1.3.1-r0
1.3_pre1-r1 < 1.3.2
1.0_p10-r0 > 1.0_p9-r0
0.1.0_alpha_pre2 < 0.1.0_alpha
1.0.0_pre20191002222144-r0 < 1.0.0_pre20210530193627-r0
";

#[test]
fn apk_version_data_cases() {
    let mut n = 0;
    for line in APK_CASES.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [a, op, b] = f[..] else {
            panic!("bad case line {line:?}")
        };
        let want = match op {
            "<" => Ordering::Less,
            ">" => Ordering::Greater,
            _ => Ordering::Equal,
        };
        assert_eq!(apk::compare(a, b), want, "{line}");
        assert_eq!(apk::compare(b, a), want.reverse(), "reversed: {line}");
        n += 1;
    }
    assert!(n > 70);
}

#[test]
fn apk_validate_refuses_garbage() {
    for ok in [
        "1.0",
        "1.2.3-r4",
        "3.1.4-r0",
        "1.0_p10-r0",
        "2.5.1a-r1",
        "1.36.1-r20",
    ] {
        assert!(apk::validate(ok).is_ok(), "{ok}");
    }
    for bad in ["", "abc", "1.0-x", "1.0_foo", "1..0bc-"] {
        assert!(apk::validate(bad).is_err(), "{bad:?}");
    }
}

/// packaging's tests/test_version.py: its VERSIONS list is in ascending order.
#[test]
fn pep440_packaging_order() {
    let ascending = [
        "1.0.dev456",
        "1.0a1",
        "1.0a2.dev456",
        "1.0a12.dev456",
        "1.0a12",
        "1.0b1.dev456",
        "1.0b2",
        "1.0b2.post345.dev456",
        "1.0b2.post345",
        "1.0b2-346",
        "1.0c1.dev456",
        "1.0c1",
        "1.0rc2",
        "1.0c3",
        "1.0",
        "1.0.post456.dev34",
        "1.0.post456",
        "1.1.dev1",
        "1.2+123abc",
        "1.2+123abc456",
        "1.2+abc",
        "1.2+abc123",
        "1.2+abc123def",
        "1.2+1234.abc",
        "1.2+123456",
        "1.2.r32+123456",
        "1.2.rev33+123456",
        "1!1.0.dev456",
        "1!1.0a1",
        "1!1.0",
        "1!1.0.post456",
        "1!1.2.rev33+123456",
    ];
    for w in ascending.windows(2) {
        let (a, b) = (Pep440::parse(w[0]), Pep440::parse(w[1]));
        let (a, b) = (
            a.unwrap_or_else(|e| panic!("{e}")),
            b.unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(a < b, "{} < {}", w[0], w[1]);
    }
    let eq = |a: &str, b: &str| {
        Scheme::Pep440
            .compare(a, b)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(eq("1.0", "1.0.0"), Ordering::Equal);
    assert_eq!(eq("1.0alpha1", "1.0a1"), Ordering::Equal);
    assert_eq!(eq("1.0-1", "1.0.post1"), Ordering::Equal);
    assert_eq!(eq("1!0.1", "2.0"), Ordering::Greater);
    assert_eq!(eq("v2.31.0", "2.31"), Ordering::Equal);
    assert!(Pep440::parse("not-a-version").is_err());
    assert!(Pep440::parse("1.0+").is_err());
}

fn gen_pep440(r: &mut Rng) -> String {
    let mut v = String::new();
    if r.next().is_multiple_of(8) {
        v.push_str(r.pick(&["1!", "2!", "0!"]));
    }
    v.push_str(r.pick(&["0", "1", "2", "10"]));
    for _ in 0..(r.next() % 3) {
        v.push('.');
        v.push_str(r.pick(&["0", "1", "2", "10", "00"]));
    }
    if r.next().is_multiple_of(3) {
        v.push_str(r.pick(&["a", "b", "rc", "alpha", "c", "-pre", ".beta"]));
        v.push_str(r.pick(&["", "0", "1", "2", "10"]));
    }
    if r.next().is_multiple_of(4) {
        v.push_str(r.pick(&[".post", "-", ".rev", "post", "-r"]));
        v.push_str(r.pick(&["1", "2", "0"]));
    }
    if r.next().is_multiple_of(4) {
        v.push_str(r.pick(&[".dev", "dev", "-dev"]));
        v.push_str(r.pick(&["", "0", "3"]));
    }
    if r.next().is_multiple_of(5) {
        v.push('+');
        v.push_str(r.pick(&["1", "abc", "1.abc", "abc.1", "ubuntu-2", "10"]));
    }
    v
}

/// Differential: our PEP 440 order equals `packaging`'s (the copy pip vendors, present
/// wherever pip is) on generated pairs.
#[test]
fn pep440_matches_packaging() {
    let seed = std::env::var("BERTH_SCAN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xfeed_beef_u64);
    println!("seed {seed} (set BERTH_SCAN_SEED to reproduce)");
    let mut r = Rng(seed);
    let pairs: Vec<(String, String)> = (0..400)
        .map(|_| (gen_pep440(&mut r), gen_pep440(&mut r)))
        .collect();
    let input: String = pairs.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
    let script = "import sys\ntry:\n from packaging.version import Version\nexcept ImportError:\n from pip._vendor.packaging.version import Version\nfor l in sys.stdin:\n a,b=l.split()\n x,y=Version(a),Version(b)\n print(-1 if x<y else (0 if x==y else 1))\n";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 with pip must be installed for this test: {e}"));
    use std::io::Write;
    child
        .stdin
        .take()
        .map(|mut s| s.write_all(input.as_bytes()))
        .transpose()
        .unwrap_or_else(|e| panic!("{e}"));
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(theirs.len(), pairs.len());
    for ((a, b), t) in pairs.iter().zip(&theirs) {
        let ours = match Scheme::Pep440
            .compare(a, b)
            .unwrap_or_else(|e| panic!("{e}"))
        {
            Ordering::Less => "-1",
            Ordering::Equal => "0",
            Ordering::Greater => "1",
        };
        assert_eq!(ours, t, "{a} vs {b} (seed {seed})");
    }
}

fn maven(a: &str, b: &str) -> Ordering {
    Scheme::Maven
        .compare(a, b)
        .unwrap_or_else(|e| panic!("{a} vs {b}: {e}"))
}

/// Maven's own ComparableVersionTest (maven-3.8.7), kept as data in tests/data/maven.
#[test]
fn maven_comparable_version_test_cases() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/maven/ComparableVersionTest.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut pairs = 0;
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let mut f = line.split_whitespace();
        let op = f.next().unwrap_or_default();
        let vs: Vec<&str> = f.collect();
        let want = match op {
            "<" => Ordering::Less,
            "=" => Ordering::Equal,
            _ => panic!("{}: bad line {line:?}", path.display()),
        };
        for i in 0..vs.len() {
            for j in i + 1..vs.len() {
                assert_eq!(maven(vs[i], vs[j]), want, "{} vs {}", vs[i], vs[j]);
                assert_eq!(
                    maven(vs[j], vs[i]),
                    want.reverse(),
                    "{} vs {}",
                    vs[j],
                    vs[i]
                );
                pairs += 1;
            }
        }
    }
    assert!(pairs > 900, "{pairs} pairs read");
}

/// The orders that decide Log4Shell and other real Maven advisories, and what is refused.
#[test]
fn maven_release_lines_and_refusals() {
    let ascending = [
        "2.0-alpha1",
        "2.0-beta9",
        "2.0-rc1",
        "2.0",
        "2.3.1",
        "2.4",
        "2.12.1",
        "2.12.2",
        "2.13.0",
        "2.14.1",
        "2.15.0-SNAPSHOT",
        "2.15.0",
        "2.15.0.Final-sp1",
        "2.15.1",
        "2.19.0",
    ];
    for w in ascending.windows(2) {
        assert_eq!(maven(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
    }
    assert_eq!(maven("5.3.18.RELEASE", "5.3.18"), Ordering::Equal);
    assert_eq!(maven("2.15", "2.15.0.0"), Ordering::Equal);
    for bad in [
        "",
        "1.0 beta",
        "1.0\t",
        "1.0-b\u{e9}ta",
        "\u{663}.1",
        "${revision}",
        "2.14.${patch}",
    ] {
        let e = MavenVersion::parse(bad).expect_err(bad);
        assert!(e.to_string().contains("maven"), "{e}");
    }
}

/// Pieces of generated Maven versions: numbers (long ones too), every known qualifier and
/// its aliases in mixed case, unknown qualifiers, and separators (or none: a transition).
fn gen_maven(r: &mut Rng) -> String {
    let nums = [
        "0",
        "1",
        "2",
        "10",
        "01",
        "00",
        "007",
        "123456789012",
        "99999999999999999999",
    ];
    let quals = [
        "alpha",
        "a",
        "b",
        "beta",
        "m",
        "milestone",
        "rc",
        "cr",
        "RC",
        "snapshot",
        "SNAPSHOT",
        "ga",
        "GA",
        "final",
        "Final",
        "release",
        "sp",
        "SP",
        "foo",
        "x",
        "abc",
        "z",
    ];
    let seps = [".", "-", "", ".", "-"];
    let mut v = String::from(if r.next().is_multiple_of(8) {
        r.pick(&quals)
    } else {
        r.pick(&nums)
    });
    for _ in 0..(r.next() % 6) {
        v.push_str(r.pick(&seps));
        v.push_str(if r.next().is_multiple_of(2) {
            r.pick(&nums)
        } else {
            r.pick(&quals)
        });
    }
    if r.next().is_multiple_of(10) {
        v.push_str(r.pick(&[".", "-", "--", ".."]));
    }
    v
}

/// Differential: our order equals Maven's own ComparableVersion (Debian's maven-artifact
/// jar, whose `main` prints the order of each version with the next) on seeded pairs. One
/// JVM run compares them all.
#[test]
fn maven_matches_comparable_version() {
    let (Some(java), Some(jar)) = (
        tool("BERTH_TEST_JAVA"),
        tool("BERTH_TEST_MAVEN_ARTIFACT_JAR"),
    ) else {
        return;
    };
    let seed = std::env::var("BERTH_SCAN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6d61_7665_u64);
    println!("seed {seed} (set BERTH_SCAN_SEED to reproduce)");
    let mut r = Rng(seed);
    // Every fourth version is a spelling of the one before it that Maven may read as equal
    // (padding, release qualifiers, case), so equality and normalisation are exercised too.
    let mut versions: Vec<String> = Vec::new();
    for _ in 0..3000 {
        let v = match versions.last() {
            Some(prev) if r.next().is_multiple_of(4) => {
                let suffix = r.pick(&[".0", "-0", "-ga", ".final", "-RELEASE", ".0.0", "-", "."]);
                if r.next().is_multiple_of(3) {
                    prev.to_ascii_uppercase()
                } else {
                    format!("{prev}{suffix}")
                }
            }
            _ => gen_maven(&mut r),
        };
        versions.push(v);
    }
    let out = std::process::Command::new(&java)
        .arg("-cp")
        .arg(&jar)
        .arg("org.apache.maven.artifact.versioning.ComparableVersion")
        .args(&versions)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", java.display()));
    assert!(
        out.status.success(),
        "ComparableVersion: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "   A < B" (or == or >) for each version and the next, in order.
    let theirs: Vec<(String, String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("   "))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [a, op, b] => Some((a.to_string(), op.to_string(), b.to_string())),
                _ => None,
            }
        })
        .collect();
    assert_eq!(theirs.len(), versions.len() - 1, "one line per pair");
    for op in ["<", "==", ">"] {
        let n = theirs.iter().filter(|t| t.1 == op).count();
        assert!(
            n > 50,
            "only {n} pairs compare {op}: the generator needs more variety"
        );
    }
    let mut differ = Vec::new();
    for (w, (a, op, b)) in versions.windows(2).zip(&theirs) {
        assert_eq!((&w[0], &w[1]), (a, b), "output out of step");
        let want = match op.as_str() {
            "<" => Ordering::Less,
            "==" => Ordering::Equal,
            ">" => Ordering::Greater,
            _ => panic!("unknown operator in {a} {op} {b}"),
        };
        if maven(a, b) != want {
            differ.push(format!("{a} {op} {b}"));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} pairs differ from ComparableVersion (seed {seed}): {:?}",
        differ.len(),
        theirs.len(),
        &differ[..differ.len().min(20)]
    );
}

fn go(a: &str, b: &str) -> Ordering {
    Scheme::Go
        .compare(a, b)
        .unwrap_or_else(|e| panic!("{a} vs {b}: {e}"))
}

/// Go's module version rules, from the golang.org/x/mod/semver and module documentation
/// (cases written here): shorthands, build metadata ignored, strictness, big numbers.
#[test]
fn go_semver_rules() {
    let ascending = [
        "v0.0.0",
        "v0.1.0-alpha",
        "v0.1.0",
        "v1.0.0-alpha",
        "v1.0.0-alpha.1",
        "v1.0.0-alpha.beta",
        "v1.0.0-beta",
        "v1.0.0-beta.2",
        "v1.0.0-beta.11",
        "v1.0.0-rc.1",
        "v1.0.0",
        "v1.2.0",
        "v1.10.0",
        "v2.0.0+incompatible",
        "v2.0.1",
        "v99999999999999999999.0.0",
    ];
    for w in ascending.windows(2) {
        assert_eq!(go(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
        assert_eq!(go(w[1], w[0]), Ordering::Greater, "{} > {}", w[1], w[0]);
    }
    for (a, b) in [
        ("v1", "v1.0.0"),
        ("v1.2", "v1.2.0"),
        ("v2.0.0+incompatible", "v2.0.0"),
        ("v1.0.0+a", "v1.0.0+b"),
        // OSV's Go records write versions without the `v`.
        ("1.20.6", "v1.20.6"),
        ("1.20.0-0", "v1.20.0-0"),
    ] {
        assert_eq!(go(a, b), Ordering::Equal, "{a} = {b}");
    }
    for bad in [
        "",
        "v",
        "v1.2.3.4",
        "v01.2.3",
        "v1.02.3",
        "v1.2.3-01",
        "v1.2-pre",
        "v1+build",
        "v1.2.3-",
        "v1.2.3-a..b",
        "v1.2.3+",
        "v1.2.3-a_b",
        "(devel)",
        "go1.21",
    ] {
        let e = GoVersion::parse(bad).expect_err(bad);
        assert!(e.to_string().contains("invalid go version"), "{e}");
    }
}

/// Pseudo-versions (go.dev/ref/mod#pseudo-versions) sit where the module reference says:
/// below the next tag, above the tag they follow, ordered by commit time.
#[test]
fn go_pseudo_versions_order_against_tags() {
    let ascending = [
        "v0.0.0-20190101000000-aaaaaaaaaaaa",
        "v0.0.0-20191109021931-daa7c04131f5",
        "v0.0.0",
        "v1.2.3-pre",
        "v1.2.3-pre.0.20191109021931-daa7c04131f5",
        "v1.2.3-pre.1",
        "v1.2.3",
        "v1.2.4-0.20191109021931-daa7c04131f5",
        "v1.2.4-0.20200101000000-0123456789ab",
        "v1.2.4-alpha",
        "v1.2.4",
        "v2.0.0-20180101000000-abcdefabcdef+incompatible",
        "v2.0.0",
    ];
    for w in ascending.windows(2) {
        assert_eq!(go(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
    }
    let pseudo = |v: &str| {
        GoVersion::parse(v)
            .unwrap_or_else(|e| panic!("{e}"))
            .pseudo()
            .map(|(t, r)| (t.to_string(), r.to_string()))
    };
    let want = Some(("20191109021931".to_string(), "daa7c04131f5".to_string()));
    assert_eq!(pseudo("v0.0.0-20191109021931-daa7c04131f5"), want);
    assert_eq!(pseudo("v1.2.3-pre.0.20191109021931-daa7c04131f5"), want);
    assert_eq!(pseudo("v1.2.4-0.20191109021931-daa7c04131f5"), want);
    assert_eq!(
        pseudo("v1.2.4-0.20191109021931-daa7c04131f5+incompatible"),
        want
    );
    for tagged in [
        "v1.2.3",
        "v1.2.3-pre",
        "v1.2.0-20191109021931-daa7c04131f5",
        "v1.2.4-1.20191109021931-daa7c04131f5",
        "v1.2.4-0.2019110902193-daa7c04131f5",
    ] {
        assert_eq!(pseudo(tagged), None, "{tagged} is not a pseudo-version");
    }
}

/// golang.org/x/mod's own semver table (tests/data/go): the order its TestCompare checks
/// over every pair, and the inputs Go calls invalid (berth refuses those).
#[test]
fn go_x_mod_semver_table() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/go/semver_test.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut valid = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (input, canonical) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("{}: bad line {line:?}", path.display()));
        if canonical == "-" {
            assert!(GoVersion::parse(input).is_err(), "{input} is invalid in Go");
        } else {
            assert_eq!(
                go(input, canonical),
                Ordering::Equal,
                "{input} = {canonical}"
            );
            valid.push((input, canonical));
        }
    }
    assert!(valid.len() > 20, "{} valid versions", valid.len());
    for (i, (a, ca)) in valid.iter().enumerate() {
        for (j, (b, cb)) in valid.iter().enumerate() {
            let want = if ca == cb { Ordering::Equal } else { i.cmp(&j) };
            assert_eq!(go(a, b), want, "{a} vs {b}");
        }
    }
    // Numbers compare as numbers, shorthands included.
    assert_eq!(go("v1.19", "v1.2"), Ordering::Greater);
    assert_eq!(go("v2", "v1.99.99"), Ordering::Greater);
}

/// Go toolchain names become the `stdlib` versions the Go vulnerability database writes.
#[test]
fn go_toolchain_names_in_semver_form() {
    use berth_scan::version::go::toolchain_semver;
    for (name, want) in [
        ("go1.21.5", Some("1.21.5")),
        ("go1.20", Some("1.20.0")),
        ("go1", Some("1.0.0")),
        ("go1.21rc2", Some("1.21.0-rc.2")),
        ("go1.9beta1", Some("1.9.0-beta.1")),
        ("go1.20.1 X:boringcrypto", Some("1.20.1")),
        ("devel go1.23-1a2b3c4 Tue Jan 2 2024", None),
        ("go1.21.x", None),
        ("go1.22.5-1", Some("1.22.5")),
        ("gccgo", None),
    ] {
        assert_eq!(toolchain_semver(name).as_deref(), want, "{name}");
    }
    // 1.21rc2 is below the 1.21.0 release, so an advisory fixed in 1.21.0 applies to it.
    assert_eq!(go("1.21.0-rc.2", "1.21.0"), Ordering::Less);
}
