//! `berth snapshot` against a real OpenSSH server: a throwaway `sshd` (`$BERTH_TEST_SSHD`,
//! scripts/setup.d/60-snapshot.sh) on a free 127.0.0.1 port with its own host key and
//! authorized key, the `internal-sftp` subsystem. Key login with the host key checked against
//! a known_hosts file or a fingerprint; wrong host keys and a refused password are errors that
//! say why; the server killed mid-backup leaves a repository that checks and backs up.

#[path = "../../../testing/tool.rs"]
mod tool;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "sftp repo password";

struct Sshd {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    password_auth: bool,
}

fn run(cmd: &mut Command) -> Output {
    let o = cmd.output().expect("run a tool");
    assert!(o.status.success(), "{cmd:?}: {}", text(&o));
    o
}

fn user() -> String {
    let o = run(Command::new("id").arg("-un"));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

impl Sshd {
    fn start(bin: PathBuf, dir: &Path, password_auth: bool) -> Sshd {
        std::fs::create_dir_all(dir).expect("mkdir");
        // sshd's privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        for k in ["host_key", "client_key"] {
            if !dir.join(k).exists() {
                run(Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                    .arg(dir.join(k)));
            }
        }
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).expect("copy");
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let mut s = Sshd {
            bin,
            dir: dir.to_path_buf(),
            port,
            child: None,
            password_auth,
        };
        s.run();
        s
    }

    fn run(&mut self) {
        let d = &self.dir;
        let yes_no = if self.password_auth { "yes" } else { "no" };
        let root_login = if self.password_auth {
            "yes"
        } else {
            "prohibit-password"
        };
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
PubkeyAuthentication yes\nPasswordAuthentication {yes_no}\nKbdInteractiveAuthentication no\n\
PermitRootLogin {root_login}\nStrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\n",
                self.port,
                d.join("host_key").display(),
                d.join("sshd.pid").display(),
                d.join("authorized_keys").display(),
            ),
        )
        .expect("sshd_config");
        let child = Command::new(&self.bin)
            .arg("-D")
            .arg("-f")
            .arg(d.join("sshd_config"))
            .arg("-E")
            .arg(d.join("sshd.log"))
            .spawn()
            .expect("start sshd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not listen; see {}",
                d.join("sshd.log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the listener and the per-connection processes it forked (all started here).
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = c.id();
            for child in children_of(pid) {
                let _ = Command::new("kill")
                    .args(["-9", &child.to_string()])
                    .status();
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn known_hosts(&self) -> PathBuf {
        let pubkey = std::fs::read_to_string(self.dir.join("host_key.pub")).expect("pub");
        let mut parts = pubkey.split_whitespace();
        let (alg, key) = (parts.next().expect("alg"), parts.next().expect("key"));
        let path = self.dir.join("known_hosts");
        std::fs::write(&path, format!("[127.0.0.1]:{} {alg} {key}\n", self.port))
            .expect("known_hosts");
        path
    }

    fn fingerprint(&self) -> String {
        let o = run(Command::new("ssh-keygen")
            .arg("-lf")
            .arg(self.dir.join("host_key.pub")));
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .nth(1)
            .expect("fingerprint")
            .to_string()
    }

    fn repo(&self, path: &Path) -> String {
        format!(
            "sftp://{}@127.0.0.1:{}{}",
            user(),
            self.port,
            path.display()
        )
    }
}

/// Processes whose parent is `pid` (from /proc), and their children.
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, r)| r.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.extend(children_of(p));
            out.push(p);
        }
    }
    out
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

fn sshd() -> Option<PathBuf> {
    tool::tool("BERTH_TEST_SSHD")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn berth(repo: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
    c.arg("snapshot")
        .args(args)
        .args(["--repo", repo])
        .env("BERTH_REPO_PASSWORD", PASSWORD)
        .env_remove("BERTH_REPO")
        .env_remove("BERTH_SFTP_PASSWORD")
        .env("NO_COLOR", "1");
    c
}

/// `berth snapshot ARGS` logging in with the client key, host key from known_hosts.
fn keyed(s: &Sshd, repo: &str, args: &[&str]) -> Command {
    let mut c = berth(repo, args);
    c.arg("--sftp-identity")
        .arg(s.dir.join("client_key"))
        .arg("--sftp-known-hosts")
        .arg(s.known_hosts());
    c
}

fn ok(mut c: Command) -> String {
    let o = c.output().expect("run berth");
    assert!(o.status.success(), "{c:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn gen_tree(root: &Path, seed: u64, files: usize, size: usize) {
    let mut x = seed | 1;
    for i in 0..files {
        let dir = root.join(format!("d{}", i % 3));
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

fn seed() -> u64 {
    let seed = std::env::var("BERTH_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(13)
                | 1
        });
    println!("seed = {seed} (rerun with BERTH_TEST_SEED={seed})");
    seed
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

fn latest(s: &Sshd, repo: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&ok(keyed(s, repo, &["list", "-o", "json"]))).expect("json");
    v.as_array()
        .and_then(|a| a.last())
        .and_then(|x| x["id"].as_str())
        .expect("a snapshot")
        .to_string()
}

fn assert_check_passes(s: &Sshd, repo: &str) {
    let o = keyed(s, repo, &["check", "--read-data", "-o", "json"])
        .output()
        .expect("check");
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    assert!(
        matches!(o.status.code(), Some(0 | 4)) && v["ok"] == true,
        "check failed: {v}"
    );
}

#[test]
fn a_tree_round_trips_over_sftp_with_the_host_key_checked() {
    let Some(bin) = sshd() else { return };
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Sshd::start(bin, &tmp.path().join("sshd"), false);
    let repo = s.repo(&tmp.path().join("remote/hello"));
    ok(keyed(&s, &repo, &["init", "--kdf-memory-mib", "1"]));
    let src = tmp.path().join("src");
    gen_tree(&src, seed(), 10, 400_000);
    ok(keyed(
        &s,
        &repo,
        &["create", "--path", src.to_str().expect("utf8")],
    ));
    let second = ok(keyed(
        &s,
        &repo,
        &["create", "--path", src.to_str().expect("utf8")],
    ));
    assert!(second.contains("10 unchanged"), "{second}");
    assert!(
        tmp.path().join("remote/hello/config").is_file(),
        "the repository is on the server's disk"
    );
    assert_check_passes(&s, &repo);
    let out = tmp.path().join("out");
    ok(keyed(
        &s,
        &repo,
        &[
            "restore",
            &latest(&s, &repo),
            "--target",
            out.to_str().expect("utf8"),
        ],
    ));
    assert_eq!(listing(&src), listing(&out));
    // The fingerprint works as well as known_hosts.
    let mut by_fp = berth(&repo, &["list"]);
    by_fp
        .arg("--sftp-identity")
        .arg(s.dir.join("client_key"))
        .args(["--sftp-host-key-fingerprint", &s.fingerprint()]);
    ok(by_fp);
}

#[test]
fn unknown_or_wrong_host_keys_and_bad_logins_are_refused_with_the_reason() {
    let Some(bin) = sshd() else { return };
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Sshd::start(bin, &tmp.path().join("sshd"), true);
    let repo = s.repo(&tmp.path().join("remote"));
    let fp = s.fingerprint();
    // An empty known_hosts: the key is unknown, berth names it and how to add it.
    let empty = tmp.path().join("empty_known_hosts");
    std::fs::write(&empty, "").expect("write");
    let o = berth(
        &repo,
        &["init", "--kdf-memory-mib", "1", "--retry-for", "1s"],
    )
    .arg("--sftp-identity")
    .arg(s.dir.join("client_key"))
    .arg("--sftp-known-hosts")
    .arg(&empty)
    .output()
    .expect("run");
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains(&fp) && t.contains("is not in"), "{t}");
    // Another host's key under this name: a changed key is refused.
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(tmp.path().join("other")));
    let other = std::fs::read_to_string(tmp.path().join("other.pub")).expect("pub");
    let mut p = other.split_whitespace();
    let changed = tmp.path().join("changed_known_hosts");
    std::fs::write(
        &changed,
        format!(
            "[127.0.0.1]:{} {} {}\n",
            s.port,
            p.next().expect("alg"),
            p.next().expect("key")
        ),
    )
    .expect("write");
    let o = berth(&repo, &["list", "--retry-for", "1s"])
        .arg("--sftp-identity")
        .arg(s.dir.join("client_key"))
        .arg("--sftp-known-hosts")
        .arg(&changed)
        .output()
        .expect("run");
    let t = text(&o);
    assert!(!o.status.success() && t.contains("does not match"), "{t}");
    // A wrong fingerprint.
    let o = berth(&repo, &["list", "--retry-for", "1s"])
        .arg("--sftp-identity")
        .arg(s.dir.join("client_key"))
        .args([
            "--sftp-host-key-fingerprint",
            "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ])
        .output()
        .expect("run");
    let t = text(&o);
    assert!(!o.status.success() && t.contains("not the expected"), "{t}");
    // Password login that the server refuses: the reason, never the password.
    let o = berth(&repo, &["list", "--retry-for", "1s"])
        .env("BERTH_SFTP_PASSWORD", "definitely-not-it")
        .arg("--sftp-known-hosts")
        .arg(s.known_hosts())
        .output()
        .expect("run");
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("refused the login"),
        "{t}"
    );
    assert!(!t.contains("definitely-not-it"), "{t}");
}

#[test]
fn the_server_killed_mid_backup_leaves_a_repository_that_checks_and_backs_up() {
    let Some(bin) = sshd() else { return };
    let seed = seed();
    let tmp = tempfile::tempdir().expect("tmp");
    let mut s = Sshd::start(bin, &tmp.path().join("sshd"), false);
    let repo = s.repo(&tmp.path().join("remote"));
    ok(keyed(&s, &repo, &["init", "--kdf-memory-mib", "1"]));
    let src = tmp.path().join("src");
    gen_tree(&src, seed, 30, 1_000_000);
    let child = keyed(
        &s,
        &repo,
        &[
            "create",
            "--path",
            src.to_str().expect("utf8"),
            "--retry-for",
            "2s",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start backup");
    let delay = 300 + seed % 1200;
    println!("killing sshd {delay} ms into the backup");
    std::thread::sleep(Duration::from_millis(delay));
    s.kill();
    let o = child.wait_with_output().expect("wait");
    println!("interrupted backup: {} {}", o.status, text(&o));
    s.run();
    assert_check_passes(&s, &repo);
    ok(keyed(
        &s,
        &repo,
        &["create", "--path", src.to_str().expect("utf8")],
    ));
    assert_check_passes(&s, &repo);
    let out = tmp.path().join("out");
    ok(keyed(
        &s,
        &repo,
        &[
            "restore",
            &latest(&s, &repo),
            "--target",
            out.to_str().expect("utf8"),
        ],
    ));
    assert_eq!(listing(&src), listing(&out));
}
