//! `berth snapshot` through the real binary on a directory repository: round trips, keys,
//! retention, and `check` finding every injected fault (a flipped byte in a pack, a
//! truncated pack, a missing index, a wrong key).

use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const PASSWORD: &str = "correct horse battery staple";

/// xorshift64*, seeded from the clock unless BERTH_TEST_SEED is set; the seed is printed.
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
                    .unwrap_or(7)
                    | 1
            });
        println!("seed = {seed} (rerun with BERTH_TEST_SEED={seed})");
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
    fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    /// `berth snapshot ARGS --repo <repo>` with the password in the environment.
    fn berth(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("berth").expect("berth binary");
        c.arg("snapshot")
            .args(args)
            .arg("--repo")
            .arg(self.repo())
            .env("BERTH_REPO_PASSWORD", PASSWORD)
            .env_remove("BERTH_REPO")
            .env("NO_COLOR", "1");
        c
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.berth(args).output().expect("run berth");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "berth snapshot {args:?} failed: {}{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }
    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).expect("JSON output")
    }
    fn init(&self) {
        self.ok(&["init", "--kdf-memory-mib", "1"]);
    }
    fn files(&self, sub: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.repo().join(sub)];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(e.path());
                }
            }
        }
        out.sort();
        out
    }
}

/// Nested directories of files from empty to ~2 MB, text-like and random, and a link.
fn gen_tree(root: &Path, rng: &mut Rng) {
    for d in 0..3 {
        let dir = root.join(format!("d{d}/sub"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for f in 0..5 {
            let size = match f {
                0 => 0,
                1 => rng.below(100) as usize,
                4 => 1_000_000 + rng.below(1_000_000) as usize,
                _ => rng.below(200_000) as usize,
            };
            let data: Vec<u8> = if rng.below(2) == 0 {
                (0..size).map(|_| rng.next() as u8).collect()
            } else {
                (0..size).map(|i| b"volume claim pod "[i % 17]).collect()
            };
            std::fs::write(dir.join(format!("f{f}.bin")), data).expect("write");
        }
    }
    std::os::unix::fs::symlink("d0/sub/f1.bin", root.join("link")).expect("symlink");
}

fn listing(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .expect("under root")
                .display()
                .to_string();
            let ft = e.file_type().expect("file type");
            if ft.is_symlink() {
                let t = std::fs::read_link(&p).expect("link");
                out.insert(rel, format!("-> {}", t.display()).into_bytes());
            } else if ft.is_dir() {
                out.insert(rel, b"dir".to_vec());
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}

fn code(c: &mut Command) -> (i32, String, String) {
    let out = c.output().expect("run berth");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn a_directory_round_trips_and_the_second_backup_reads_only_changes() {
    let env = Env::new();
    let mut rng = Rng::new();
    let src = env.path("src");
    gen_tree(&src, &mut rng);
    env.init();
    let first = env.json(&["create", "--path", src.to_str().expect("utf8")]);
    assert!(first["new_chunks"].as_u64().expect("count") > 0);
    std::fs::write(src.join("d1/sub/f2.bin"), b"changed").expect("write");
    let second = env.json(&[
        "create",
        "--path",
        src.to_str().expect("utf8"),
        "--tag",
        "two",
    ]);
    assert_eq!(second["files"], first["files"]);
    assert_eq!(
        second["unchanged_files"].as_u64(),
        first["files"].as_u64().map(|n| n - 1),
        "only the changed file is read again"
    );
    let list = env.json(&["list"]);
    let ids: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(list[1]["tags"][0], "two");
    let out = env.path("out");
    env.ok(&[
        "restore",
        &ids[1][..8],
        "--target",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(
        listing(&src),
        listing(&out),
        "restored tree equals the source"
    );
    // One file alone, from the first snapshot: the old content.
    let one = env.path("one");
    env.ok(&[
        "restore",
        ids[0],
        "--target",
        one.to_str().expect("utf8"),
        "--include",
        "d1/sub/f2.bin",
    ]);
    let got = listing(&one);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        ["d1", "d1/sub", "d1/sub/f2.bin"]
    );
    assert_ne!(got["d1/sub/f2.bin"], b"changed");
    let show = env.json(&["show", ids[0]]);
    assert!(
        show["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["path"] == "link" && e["target"] == "d0/sub/f1.bin")
    );
    let check = env.json(&["check", "--read-data"]);
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["errors"].as_array().map(Vec::len), Some(0));
}

#[test]
fn bad_input_exits_2_and_names_the_fix() {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("a"), b"a").expect("write");
    // No repository yet.
    let (c, _, err) = code(&mut env.berth(&["list"]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("berth snapshot init"), "{err}");
    env.init();
    let (c, _, err) = code(&mut env.berth(&["init", "--kdf-memory-mib", "1"]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("already holds"), "{err}");
    // No password.
    let (c, _, err) = code(env.berth(&["list"]).env_remove("BERTH_REPO_PASSWORD"));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("BERTH_REPO_PASSWORD"), "{err}");
    // No repository given.
    let mut no_repo = Command::cargo_bin("berth").expect("berth");
    no_repo
        .args(["snapshot", "list"])
        .env_remove("BERTH_REPO")
        .env("BERTH_REPO_PASSWORD", PASSWORD);
    let (c, _, err) = code(&mut no_repo);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("--repo"), "{err}");
    let id = env.json(&["create", "--path", src.to_str().expect("utf8")])["id"]
        .as_str()
        .expect("id")
        .to_string();
    // Restore into a non-empty directory, an unknown id, a path not in the snapshot.
    let (c, _, err) =
        code(&mut env.berth(&["restore", &id, "--target", src.to_str().expect("utf8")]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("not an empty directory"), "{err}");
    let (c, _, err) = code(&mut env.berth(&["restore", "ffffffff", "--target", "/nonexistent/x"]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("no snapshot with id ffffffff"), "{err}");
    let t = env.path("t");
    let (c, _, err) = code(&mut env.berth(&[
        "restore",
        &id,
        "--target",
        t.to_str().expect("utf8"),
        "--include",
        "nope",
    ]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("no item \"nope\""), "{err}");
    let (c, _, err) = code(&mut env.berth(&["forget"]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("--keep-last"), "{err}");
    let mut bad_url = Command::cargo_bin("berth").expect("berth");
    bad_url
        .args(["snapshot", "list", "--repo", "s3://b/p?endpont=x"])
        .env("BERTH_REPO_PASSWORD", PASSWORD);
    let (c, _, err) = code(&mut bad_url);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("endpont"), "{err}");
}

/// Init, back up a generated tree, return the snapshot id.
fn seeded_repo(env: &Env) -> String {
    let mut rng = Rng::new();
    let src = env.path("src");
    gen_tree(&src, &mut rng);
    env.init();
    env.json(&["create", "--path", src.to_str().expect("utf8")])["id"]
        .as_str()
        .expect("id")
        .to_string()
}

fn check_json(env: &Env, read_data: bool) -> (i32, Value) {
    let mut args = vec!["check", "-o", "json"];
    if read_data {
        args.push("--read-data");
    }
    let (c, out, err) = code(&mut env.berth(&args));
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (c, v)
}

fn errors(v: &Value) -> String {
    v["errors"].to_string()
}

#[test]
fn check_finds_a_flipped_byte_in_a_pack_and_restore_refuses_it() {
    let env = Env::new();
    let id = seeded_repo(&env);
    let packs = env.files("packs");
    assert!(!packs.is_empty());
    let mut rng = Rng::new();
    let pack = &packs[rng.below(packs.len() as u64) as usize];
    let mut bytes = std::fs::read(pack).expect("read pack");
    // A byte inside the blobs (before the header), so only --read-data can see it.
    let header_len = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().expect("4")) as usize;
    let pos = rng.below((bytes.len() - 4 - header_len) as u64) as usize;
    bytes[pos] ^= 0x01;
    std::fs::write(pack, &bytes).expect("write pack");
    let name = pack.file_name().expect("name").to_str().expect("utf8");
    let (c, v) = check_json(&env, true);
    assert_eq!(c, 3, "{v}");
    assert!(errors(&v).contains(name), "names the pack: {v}");
    let out = env.path("out");
    let (c, _, err) =
        code(&mut env.berth(&["restore", &id, "--target", out.to_str().expect("utf8")]));
    assert_eq!(c, 1, "{err}");
    assert!(
        err.contains("fails authentication") || err.contains("does not hash"),
        "{err}"
    );
}

#[test]
fn check_finds_a_truncated_pack() {
    let env = Env::new();
    seeded_repo(&env);
    let packs = env.files("packs");
    let pack = &packs[0];
    let bytes = std::fs::read(pack).expect("read");
    let mut rng = Rng::new();
    let cut = rng.below(bytes.len() as u64) as usize;
    std::fs::write(pack, &bytes[..cut]).expect("truncate");
    let name = pack.file_name().expect("name").to_str().expect("utf8");
    // Without --read-data: the header no longer sits at the end.
    let (c, v) = check_json(&env, false);
    assert_eq!(c, 3, "cut at {cut} of {}: {v}", bytes.len());
    assert!(errors(&v).contains(name), "{v}");
}

#[test]
fn check_finds_a_missing_index_and_prune_rebuilds_it_from_the_packs() {
    let env = Env::new();
    let id = seeded_repo(&env);
    let index = env.files("index");
    assert_eq!(index.len(), 1);
    std::fs::remove_file(&index[0]).expect("remove index");
    let (c, v) = check_json(&env, false);
    assert_eq!(c, 3, "{v}");
    assert!(errors(&v).contains("in no readable index"), "{v}");
    // The packs' own headers rebuild it (the packs are old enough once the grace is 0).
    env.ok(&["prune", "--grace", "0s"]);
    let (c, v) = check_json(&env, true);
    assert_eq!(c, 0, "{v}");
    let out = env.path("out");
    env.ok(&["restore", &id, "--target", out.to_str().expect("utf8")]);
    assert_eq!(listing(&env.path("src")), listing(&out));
}

#[test]
fn a_wrong_password_or_a_damaged_key_file_is_refused() {
    let env = Env::new();
    seeded_repo(&env);
    let (c, _, err) = code(env.berth(&["check"]).env("BERTH_REPO_PASSWORD", "wrong"));
    assert_eq!(c, 2, "{err}");
    assert!(
        err.contains("no key in keys/ opens this repository"),
        "{err}"
    );
    assert!(!err.contains("wrong"), "the password is not echoed: {err}");
    // A flipped byte in the only key file: nothing opens the repository any more.
    let keys = env.files("keys");
    let mut k: Value =
        serde_json::from_slice(&std::fs::read(&keys[0]).expect("key")).expect("json");
    let wrapped = k["wrapped"].as_str().expect("wrapped").to_string();
    let flipped = if wrapped.starts_with('0') { "1" } else { "0" };
    k["wrapped"] = Value::String(format!("{flipped}{}", &wrapped[1..]));
    std::fs::write(&keys[0], serde_json::to_vec(&k).expect("json")).expect("write");
    let (c, _, err) = code(&mut env.berth(&["check"]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("no key in keys/ opens"), "{err}");
}

#[test]
fn keys_are_added_used_and_removed_but_never_the_last() {
    let env = Env::new();
    seeded_repo(&env);
    let key_file = env.path("hello.key");
    let added = env.ok(&[
        "key",
        "add",
        "--new-key-file",
        key_file.to_str().expect("utf8"),
    ]);
    assert!(key_file.exists(), "the key file was created");
    let new_id = added.trim().trim_start_matches("added key ").to_string();
    let keys = env.json(&["key", "list"]);
    assert_eq!(keys.as_array().map(Vec::len), Some(2));
    let old_id = keys
        .as_array()
        .expect("array")
        .iter()
        .find(|k| k["current"] == true)
        .and_then(|k| k["id"].as_str())
        .expect("the password key opened it")
        .to_string();
    assert_ne!(old_id, new_id);
    // Rotate: open with the key file, remove the password key.
    let kf = key_file.to_str().expect("utf8");
    env.ok(&["key", "remove", &old_id, "--key-file", kf]);
    let (c, _, err) = code(&mut env.berth(&["list"]));
    assert_eq!(c, 2, "the removed password no longer opens it: {err}");
    env.ok(&["list", "--key-file", kf]);
    let (c, _, err) = code(&mut env.berth(&["key", "remove", &new_id, "--key-file", kf]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("last key"), "{err}");
    // A password from a file works as the new key.
    let pw = env.path("pw.txt");
    std::fs::write(&pw, "from a file\n").expect("write");
    env.ok(&[
        "key",
        "add",
        "--key-file",
        kf,
        "--new-password-file",
        pw.to_str().expect("utf8"),
        "--kdf-memory-mib",
        "1",
    ]);
    env.ok(&["list", "--password-file", pw.to_str().expect("utf8")]);
}

#[test]
fn forget_and_prune_free_data_and_keep_the_rest_restorable() {
    let env = Env::new();
    let mut rng = Rng::new();
    env.init();
    let src = env.path("src");
    let mut last = String::new();
    for round in 0..3 {
        let _ = std::fs::remove_dir_all(&src);
        gen_tree(&src, &mut rng);
        std::fs::write(src.join("round"), format!("{round}")).expect("write");
        last = env.json(&["create", "--path", src.to_str().expect("utf8")])["id"]
            .as_str()
            .expect("id")
            .to_string();
    }
    let before: u64 = env
        .files("packs")
        .iter()
        .map(|p| p.metadata().map_or(0, |m| m.len()))
        .sum();
    let dry = env.json(&["forget", "--keep-last", "1", "--dry-run"]);
    assert_eq!(dry["remove"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        env.json(&["list"]).as_array().map(Vec::len),
        Some(3),
        "dry run removed nothing"
    );
    env.ok(&["forget", "--keep-last", "1"]);
    assert_eq!(env.json(&["list"]).as_array().map(Vec::len), Some(1));
    // Phase 1 condemns, phase 2 (grace 0) deletes.
    let p1 = env.json(&["prune", "--grace", "0s"]);
    assert!(p1["condemned"].as_u64().expect("n") > 0, "{p1}");
    let p2 = env.json(&["prune", "--grace", "0s"]);
    assert!(p2["deleted_packs"].as_u64().expect("n") > 0, "{p2}");
    let after: u64 = env
        .files("packs")
        .iter()
        .map(|p| p.metadata().map_or(0, |m| m.len()))
        .sum();
    assert!(after < before, "{after} < {before}");
    let (c, v) = check_json(&env, true);
    assert_eq!(c, 0, "{v}");
    let out = env.path("out");
    env.ok(&["restore", &last, "--target", out.to_str().expect("utf8")]);
    assert_eq!(listing(&src), listing(&out));
}
