//! Time Maven version order against Maven's own `ComparableVersion`, side by side:
//! `cargo run --release -p berth-scan --example bench_versions -- [PAIRS] [SEED]` with
//! `BERTH_TEST_MAVEN_ARTIFACT_JAR` (scripts/setup.d/70-scan.sh) and a JDK's `java` on PATH
//! (the Java side is a single-file source program, which needs the JDK's compiler).
//!
//! Both sides read the same generated pairs (default 100,000, seeded) and, per pair, parse
//! both versions and compare them, as matching an advisory does; each side reports the
//! median of 7 timed passes after 3 warm-up passes (the JVM's JIT needs them), in-process,
//! start-up excluded. The two must agree on every pair, or the run stops.

use berth_scan::version::Scheme;
use std::cmp::Ordering;
use std::io::Write;
use std::time::{Duration, Instant};

const JAVA: &str = r#"
import org.apache.maven.artifact.versioning.ComparableVersion;
import java.nio.file.*;
import java.util.*;

public class BenchMaven {
    public static void main(String[] args) throws Exception {
        List<String> lines = Files.readAllLines(Paths.get(args[0]));
        String[] a = new String[lines.size()], b = new String[lines.size()];
        for (int i = 0; i < a.length; i++) {
            String[] f = lines.get(i).split(" ");
            a[i] = f[0];
            b[i] = f[1];
        }
        long[] times = new long[7];
        long sum = 0;
        for (int pass = 0; pass < 10; pass++) {
            long t = System.nanoTime();
            sum = 0;
            for (int i = 0; i < a.length; i++) {
                sum += Integer.signum(new ComparableVersion(a[i]).compareTo(new ComparableVersion(b[i])));
            }
            if (pass >= 3) times[pass - 3] = System.nanoTime() - t;
        }
        Arrays.sort(times);
        System.out.println(times[3] + " " + sum);
    }
}
"#;

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

/// Versions shaped like Maven Central's: release numbers, qualifiers, build numbers.
fn version(r: &mut Rng) -> String {
    let mut v = r.pick(&["1", "2", "3", "5", "10", "2021"]).to_string();
    for _ in 0..(1 + r.next() % 3) {
        v.push('.');
        v.push_str(r.pick(&["0", "1", "2", "9", "12", "15", "100"]));
    }
    if r.next().is_multiple_of(3) {
        v.push_str(r.pick(&[
            "-SNAPSHOT",
            "-beta9",
            "-rc1",
            "-RC2",
            ".Final",
            ".RELEASE",
            "-alpha-1",
            "-M3",
            "-jre",
            "-android",
            "-sp1",
        ]));
    }
    v
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let seed: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6265_6e63);
    let jar = std::env::var("BERTH_TEST_MAVEN_ARTIFACT_JAR")
        .unwrap_or_else(|_| "/usr/share/java/maven3-artifact.jar".into());
    println!("{n} pairs, seed {seed}");
    let mut r = Rng(seed);
    let pairs: Vec<(String, String)> = (0..n).map(|_| (version(&mut r), version(&mut r))).collect();

    let mut times = Vec::new();
    let mut sum = 0i64;
    for pass in 0..10 {
        let t = Instant::now();
        sum = 0;
        for (a, b) in &pairs {
            sum += match Scheme::Maven.compare(a, b) {
                Ok(Ordering::Less) => -1,
                Ok(Ordering::Equal) => 0,
                Ok(Ordering::Greater) => 1,
                Err(e) => panic!("{e}"),
            };
        }
        if pass >= 3 {
            times.push(t.elapsed());
        }
    }
    let ours = median(times);

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let src = dir.path().join("BenchMaven.java");
    std::fs::write(&src, JAVA).unwrap_or_else(|e| panic!("{e}"));
    let input = dir.path().join("pairs.txt");
    let mut f = std::fs::File::create(&input).unwrap_or_else(|e| panic!("{e}"));
    for (a, b) in &pairs {
        writeln!(f, "{a} {b}").unwrap_or_else(|e| panic!("{e}"));
    }
    drop(f);
    let out = std::process::Command::new("java")
        .arg("-cp")
        .arg(&jar)
        .arg(&src)
        .arg(&input)
        .output()
        .unwrap_or_else(|e| panic!("java: {e}"));
    assert!(
        out.status.success(),
        "java: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut f = text.split_whitespace();
    let theirs_ns: u64 = f.next().and_then(|s| s.parse().ok()).unwrap_or_default();
    let theirs_sum: i64 = f.next().and_then(|s| s.parse().ok()).unwrap_or_default();
    assert_eq!(sum, theirs_sum, "berth and ComparableVersion disagree");
    let theirs = Duration::from_nanos(theirs_ns);
    let per = |d: Duration| d.as_nanos() as f64 / n as f64;
    println!(
        "berth {:.1} ms ({:.0} ns/pair), ComparableVersion {:.1} ms ({:.0} ns/pair), ratio {:.2}",
        ours.as_secs_f64() * 1e3,
        per(ours),
        theirs.as_secs_f64() * 1e3,
        per(theirs),
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
}
