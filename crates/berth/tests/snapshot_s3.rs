//! `berth snapshot` against a real S3-compatible server: SeaweedFS `weed mini`
//! (`$BERTH_TEST_WEED`, scripts/setup.d/55-seaweedfs.sh) on free 127.0.0.1 ports, with SigV4
//! enforced. Round trip, wrong credentials, and the server killed in the middle of a backup:
//! the repository stays usable (check passes, the next backup completes), and a server that
//! comes back within the retry budget lets the running backup finish.

#[path = "../../../testing/tool.rs"]
mod tool;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use berth_s3::testing::{ACCESS_KEY, SECRET_KEY, Seaweed};
use std::time::{Duration, Instant};

const PASSWORD: &str = "s3 repo password";

/// A throwaway `weed mini` (berth-s3's test server), or None when the tool is missing and
/// skipping is allowed.
fn weed() -> Option<Seaweed> {
    tool::tool("BERTH_TEST_WEED")?;
    Some(Seaweed::start().unwrap_or_else(|e| panic!("{e}")))
}

fn berth(repo: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
    c.arg("snapshot")
        .args(args)
        .args(["--repo", repo])
        .env("BERTH_REPO_PASSWORD", PASSWORD)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("BERTH_REPO")
        .env("NO_COLOR", "1");
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(repo: &str, args: &[&str]) -> String {
    let o = berth(repo, args).output().expect("run berth");
    assert!(o.status.success(), "berth snapshot {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// `init`, retried while the fresh server still refuses bucket creation (a second or two).
fn init(repo: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let o = berth(
            repo,
            &["init", "--kdf-memory-mib", "1", "--retry-for", "5s"],
        )
        .output()
        .expect("run berth");
        if o.status.success() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "init never succeeded: {}",
            text(&o)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Check passes: exit 0, or 4 when only leftovers of the interrupted run are reported.
fn assert_check_passes(repo: &str) {
    let o = berth(repo, &["check", "--read-data", "-o", "json"])
        .output()
        .expect("run berth");
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    assert!(
        matches!(o.status.code(), Some(0 | 4)) && v["ok"] == true,
        "check failed: {v}"
    );
}

fn seed() -> u64 {
    let seed = std::env::var("BERTH_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(11)
                | 1
        });
    println!("seed = {seed} (rerun with BERTH_TEST_SEED={seed})");
    seed
}

/// `files` random files of about `size` bytes each (xorshift from `seed`).
fn gen_tree(root: &Path, seed: u64, files: usize, size: usize) {
    let mut x = seed | 1;
    for i in 0..files {
        let dir = root.join(format!("d{}", i % 4));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let n = size / 2 + (x as usize % size);
        let mut data = Vec::with_capacity(n + 8);
        while data.len() < n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.extend_from_slice(&x.to_le_bytes());
        }
        std::fs::write(dir.join(format!("f{i}")), &data).expect("write");
    }
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

fn latest(repo: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&ok(repo, &["list", "-o", "json"])).expect("json");
    v.as_array()
        .and_then(|a| a.last())
        .and_then(|s| s["id"].as_str())
        .expect("a snapshot")
        .to_string()
}

#[test]
fn a_tree_round_trips_through_s3_and_wrong_credentials_are_refused() {
    let Some(w) = weed() else { return };
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = format!(
        "s3://berth-rt/hello/repo?endpoint={}&region=us-east-1",
        w.endpoint
    );
    init(&repo);
    let src = tmp.path().join("src");
    gen_tree(&src, seed(), 12, 300_000);
    std::fs::write(src.join("small.txt"), "hello").expect("write");
    ok(&repo, &["create", "--path", src.to_str().expect("utf8")]);
    let out = ok(&repo, &["create", "--path", src.to_str().expect("utf8")]);
    assert!(out.contains("13 unchanged"), "{out}");
    assert_check_passes(&repo);
    let target = tmp.path().join("out");
    ok(
        &repo,
        &[
            "restore",
            &latest(&repo),
            "--target",
            target.to_str().expect("utf8"),
        ],
    );
    assert_eq!(listing(&src), listing(&target));
    // The server checks signatures: a wrong secret is refused (and not retried for long).
    let o = berth(&repo, &["list", "--retry-for", "1s"])
        .env("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        .output()
        .expect("run");
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("403") && t.contains("AWS_SECRET_ACCESS_KEY"),
        "{t}"
    );
    assert!(
        !t.contains("not-the-secret"),
        "the secret is not echoed: {t}"
    );
}

/// Starts a backup, kills the server at a seeded moment while it runs.
fn backup_with_server_killed(
    w: &mut Seaweed,
    repo: &str,
    src: &Path,
    seed: u64,
    retry: &str,
) -> Child {
    let child = berth(
        repo,
        &[
            "create",
            "--path",
            src.to_str().expect("utf8"),
            "--retry-for",
            retry,
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start backup");
    let delay = 300 + seed % 1200;
    println!("killing the server {delay} ms into the backup");
    std::thread::sleep(Duration::from_millis(delay));
    w.kill();
    child
}

#[test]
fn the_server_killed_mid_backup_leaves_a_repository_that_checks_and_backs_up() {
    let Some(mut w) = weed() else { return };
    let seed = seed();
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = format!("s3://berth-kill/r?endpoint={}", w.endpoint);
    init(&repo);
    let src = tmp.path().join("src");
    gen_tree(&src, seed, 30, 1_000_000);
    let child = backup_with_server_killed(&mut w, &repo, &src, seed, "2s");
    let o = child.wait_with_output().expect("wait");
    println!("interrupted backup: {} {}", o.status, text(&o));
    w.restart().unwrap_or_else(|e| panic!("{e}"));
    assert_check_passes(&repo);
    ok(&repo, &["create", "--path", src.to_str().expect("utf8")]);
    assert_check_passes(&repo);
    let target = tmp.path().join("out");
    ok(
        &repo,
        &[
            "restore",
            &latest(&repo),
            "--target",
            target.to_str().expect("utf8"),
        ],
    );
    assert_eq!(listing(&src), listing(&target));
}

#[test]
fn a_server_back_within_the_retry_budget_lets_the_backup_finish() {
    let Some(mut w) = weed() else { return };
    let seed = seed();
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = format!("s3://berth-retry/r?endpoint={}", w.endpoint);
    init(&repo);
    let src = tmp.path().join("src");
    gen_tree(&src, seed, 30, 1_000_000);
    let child = backup_with_server_killed(&mut w, &repo, &src, seed, "5m");
    std::thread::sleep(Duration::from_secs(2));
    w.restart().unwrap_or_else(|e| panic!("{e}"));
    let o = child.wait_with_output().expect("wait");
    assert!(
        o.status.success(),
        "the backup retried and finished: {}",
        text(&o)
    );
    assert_check_passes(&repo);
    let target = tmp.path().join("out");
    ok(
        &repo,
        &[
            "restore",
            &latest(&repo),
            "--target",
            target.to_str().expect("utf8"),
        ],
    );
    assert_eq!(listing(&src), listing(&target));
}

/// An app snapshot to S3: the mover Jobs (processes of this binary in the simulator, with
/// nothing but their container's environment) must get the S3 keys from their Secret.
#[test]
fn an_app_snapshot_to_s3_hands_the_keys_to_its_movers_and_restores() {
    use berth_kube_sim::{SimOptions, Simulator};
    let Some(w) = weed() else { return };
    let repo = format!("s3://berth-app/hello?endpoint={}", w.endpoint);
    init(&repo);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt
        .block_on(Simulator::start(SimOptions::default()))
        .expect("simulator");
    sim.set_mover_bin(Some(env!("CARGO_BIN_EXE_berth").into()));
    let tmp = tempfile::tempdir().expect("tmp");
    let kc = tmp.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).expect("kubeconfig");
    let kc = kc.to_str().expect("utf8").to_string();
    let hello = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
    let o = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["install", hello.to_str().expect("utf8"), "-n", "hello"])
        .args(["--timeout", "60s", "--kubeconfig", &kc])
        .output()
        .expect("install");
    assert!(o.status.success(), "{}", text(&o));
    // The claim's volume is the one directory the provisioner made.
    let vols: Vec<_> = std::fs::read_dir(sim.volume_root())
        .expect("volume root")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("pvc-"))
        .collect();
    assert_eq!(vols.len(), 1);
    std::fs::write(vols[0].path().join("PG_VERSION"), "16\n").expect("write");

    let out = ok(
        &repo,
        &["create", "-n", "hello", "--kubeconfig", &kc, "-o", "json"],
    );
    let rep: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(rep["claims"][0]["files"], 1, "{rep}");
    let id = rep["snapshot_id"].as_str().expect("id").to_string();
    let out = ok(
        &repo,
        &[
            "restore",
            &id,
            "-n",
            "hello-2",
            "--kubeconfig",
            &kc,
            "--timeout",
            "60s",
        ],
    );
    assert!(out.contains("data-hello-postgresql-0"), "{out}");
    let restored: Vec<_> = std::fs::read_dir(sim.volume_root())
        .expect("volume root")
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.path() != vols[0].path() && e.file_name().to_string_lossy().starts_with("pvc-")
        })
        .collect();
    assert_eq!(restored.len(), 1);
    assert_eq!(
        std::fs::read_to_string(restored[0].path().join("PG_VERSION")).expect("restored file"),
        "16\n"
    );
    rt.block_on(sim.shutdown());
}
