//! Kill trials for the snapshot repository: `berth snapshot create` and `berth snapshot prune`
//! (the real binary, on a directory repository) are ended at seeded random points, then
//! `check` must pass (leftovers are warnings, never errors) and the next run must complete;
//! the newest snapshot must restore to exactly what was backed up.
//!
//! Two kinds of kill, interleaved: most runs end themselves just before their Nth change to
//! the store (`BERTH_TEST_SNAPSHOT_EXIT_AT=N`, exit 137 as after SIGKILL; with
//! `BERTH_TEST_SNAPSHOT_TORN=1` a pack or index file is left half written under its final
//! name, as on a store without atomic writes), so every write point is reached; every third
//! run gets a real SIGKILL at a random time instead, for the points in between.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const PASSWORD: &str = "crash trials";
const BACKUP_TRIALS: u64 = 12;
const PRUNE_TRIALS: u64 = 8;

/// xorshift64, seeded from the clock unless BERTH_TEST_SEED is set; the seed is printed.
struct Rng(u64);
impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("BERTH_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(5)
                    | 1
            });
        println!("seed = {seed} (rerun with BERTH_TEST_SEED={seed})");
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Trial {
    dir: tempfile::TempDir,
}

impl Trial {
    fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }
    fn src(&self) -> PathBuf {
        self.dir.path().join("src")
    }
    fn berth(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
        c.arg("snapshot")
            .args(args)
            .arg("--repo")
            .arg(self.repo())
            .env("BERTH_REPO_PASSWORD", PASSWORD)
            .env_remove("BERTH_REPO")
            .env_remove("BERTH_TEST_SNAPSHOT_EXIT_AT")
            .env_remove("BERTH_TEST_SNAPSHOT_TORN");
        c
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.berth(args).output().expect("run berth");
        assert!(o.status.success(), "berth snapshot {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    }
    fn create_args(&self) -> Vec<String> {
        vec![
            "create".into(),
            "--path".into(),
            self.src().display().to_string(),
            "-o".into(),
            "json".into(),
        ]
    }

    /// Runs `args` and ends it: at change `n` (torn or not) or by SIGKILL after `kill_ms`.
    fn interrupted(&self, args: &[String], how: Kill) -> Output {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = self.berth(&args);
        match how {
            Kill::At { n, torn } => {
                cmd.env("BERTH_TEST_SNAPSHOT_EXIT_AT", n.to_string());
                if torn {
                    cmd.env("BERTH_TEST_SNAPSHOT_TORN", "1");
                }
                cmd.output().expect("run berth")
            }
            Kill::After(ms) => {
                let mut child = cmd
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("start berth");
                std::thread::sleep(Duration::from_millis(ms));
                let _ = child.kill();
                child.wait_with_output().expect("wait")
            }
        }
    }

    /// `check` passes: no error (exit 0, or 4 for leftovers of the killed run).
    fn assert_checks(&self, context: &str) {
        let o = self
            .berth(&["check", "-o", "json"])
            .output()
            .expect("run check");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{context}: check output {e}: {}", text(&o)));
        assert!(
            matches!(o.status.code(), Some(0 | 4)) && v["ok"] == true,
            "{context}: check found errors: {v}"
        );
    }

    fn latest(&self) -> String {
        let v: serde_json::Value =
            serde_json::from_str(&self.ok(&["list", "-o", "json"])).expect("json");
        v.as_array()
            .and_then(|a| a.last())
            .and_then(|s| s["id"].as_str())
            .expect("a snapshot")
            .to_string()
    }

    fn assert_latest_restores_src(&self, context: &str) {
        let out = self.dir.path().join("out");
        let _ = std::fs::remove_dir_all(&out);
        self.ok(&[
            "restore",
            &self.latest(),
            "--target",
            out.to_str().expect("utf8"),
        ]);
        assert!(
            listing(&self.src()) == listing(&out),
            "{context}: the newest snapshot does not restore the source"
        );
    }
}

#[derive(Debug, Clone, Copy)]
enum Kill {
    At { n: u64, torn: bool },
    After(u64),
}

fn pick_kill(rng: &mut Rng, trial: u64, points: u64, max_ms: u64) -> Kill {
    if trial % 3 == 2 {
        Kill::After(5 + rng.below(max_ms))
    } else {
        Kill::At {
            n: 1 + rng.below(points),
            torn: rng.below(2) == 0,
        }
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn listing(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).expect("under").display().to_string();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}

/// Rewrites `count` random files of the source (about 0.1–1.1 MB of random bytes each), so
/// each backup has new chunks for several packs.
fn churn(src: &Path, rng: &mut Rng, count: u64) {
    for _ in 0..count {
        let dir = src.join(format!("d{}", rng.below(4)));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let n = 100_000 + rng.below(1_000_000) as usize;
        let mut data = Vec::with_capacity(n + 8);
        while data.len() < n {
            data.extend_from_slice(&rng.next().to_le_bytes());
        }
        std::fs::write(dir.join(format!("f{}", rng.below(24))), &data).expect("write");
    }
}

fn new_trial(rng: &mut Rng) -> Trial {
    let t = Trial {
        dir: tempfile::tempdir().expect("tmp"),
    };
    churn(&t.src(), rng, 24);
    t.ok(&["init", "--kdf-memory-mib", "1"]);
    t
}

#[test]
fn killed_backups_leave_a_repository_that_checks_and_backs_up() {
    let mut rng = Rng::new();
    let t = new_trial(&mut rng);
    t.ok(&["create", "--path", t.src().to_str().expect("utf8")]);
    let mut killed = 0;
    for trial in 0..BACKUP_TRIALS {
        let n = 1 + rng.below(8);
        churn(&t.src(), &mut rng, n);
        // A backup here writes a pack or two, an index and the snapshot.
        let how = pick_kill(&mut rng, trial, 4, 700);
        let o = t.interrupted(&t.create_args(), how);
        let context = format!("trial {trial} ({how:?})");
        if !o.status.success() {
            killed += 1;
        }
        t.assert_checks(&context);
        if trial % 4 == 3 {
            // The next backup completes and holds exactly the source.
            t.ok(&["create", "--path", t.src().to_str().expect("utf8")]);
            t.assert_latest_restores_src(&context);
        }
    }
    println!("{killed} of {BACKUP_TRIALS} backups were killed before they finished");
    assert!(
        killed > BACKUP_TRIALS / 3,
        "the trials must actually interrupt backups"
    );
    t.ok(&["create", "--path", t.src().to_str().expect("utf8")]);
    t.assert_latest_restores_src("after the trials");
    let o = t
        .berth(&["check", "--read-data", "-o", "json"])
        .output()
        .expect("check");
    assert!(matches!(o.status.code(), Some(0 | 4)), "{}", text(&o));
}

#[test]
fn killed_prunes_leave_a_repository_that_checks_and_prunes() {
    let mut rng = Rng::new();
    let t = new_trial(&mut rng);
    let mut killed = 0;
    for trial in 0..PRUNE_TRIALS {
        // Something to prune every time: new snapshots of wholly new content (so the packs
        // of forgotten ones hold nothing used), all but the newest forgotten.
        for _ in 0..2 {
            let _ = std::fs::remove_dir_all(t.src());
            churn(&t.src(), &mut rng, 4);
            t.ok(&["create", "--path", t.src().to_str().expect("utf8")]);
        }
        t.ok(&["forget", "--keep-last", "1"]);
        // Phase 1 (condemn) then phase 2 (delete) with no grace; kill one of them.
        let prune: Vec<String> = ["prune", "--grace", "0s"].map(String::from).to_vec();
        let kill_second = rng.below(2) == 0;
        if kill_second {
            t.ok(&["prune", "--grace", "0s"]);
        }
        // Phase 1 makes one change (the record); phase 2 at least four (the new index, the
        // old index files, the packs, the record). A small prune takes tens of milliseconds.
        let how = pick_kill(&mut rng, trial, if kill_second { 4 } else { 1 }, 40);
        let o = t.interrupted(&prune, how);
        let context = format!(
            "prune trial {trial} (phase {}, {how:?})",
            1 + kill_second as u8
        );
        if !o.status.success() {
            killed += 1;
        }
        t.assert_checks(&context);
        t.assert_latest_restores_src(&context);
        // The next prune completes, and so does the next backup.
        t.ok(&["prune", "--grace", "0s"]);
        t.assert_checks(&context);
        t.assert_latest_restores_src(&context);
    }
    println!("{killed} of {PRUNE_TRIALS} prunes were killed before they finished");
    assert!(
        killed > PRUNE_TRIALS / 3,
        "the trials must actually interrupt prunes"
    );
    t.ok(&["prune", "--grace", "0s"]);
    t.ok(&["prune", "--grace", "0s"]);
    let o = t
        .berth(&["check", "--read-data", "-o", "json"])
        .output()
        .expect("check");
    assert_eq!(o.status.code(), Some(0), "nothing left over: {}", text(&o));
}
