//! Side-by-side benchmark: berth-snapshot against restic 0.14 (the anchor) on the same data,
//! to the same stores, in one run: a local directory, S3 (SeaweedFS `weed mini`) and SFTP
//! (a throwaway OpenSSH sshd), both on 127.0.0.1. Per store and tool: first backup (MB/s), a
//! backup after 10% of the files changed, a full restore (MB/s), repository size, and the
//! peak memory of each step (each step is its own process, measured by `/usr/bin/time`).
//!
//! Run: `cargo run --release -p berth-snapshot --example bench_snapshot -- [--stores
//! local,s3,sftp] [--pgbench-scale N] [--no-usr-share] [DIR…]`
//!
//! Data (issue 12): a PostgreSQL data directory after `pgbench -i -s N` (default 50; binaries
//! from `BERTH_TEST_POSTGRES_BIN`; the server is stopped before the backup) plus a copy of
//! `/usr/share`, or the directories given. Tools: `BERTH_TEST_RESTIC`, `BERTH_TEST_WEED`,
//! `BERTH_TEST_SSHD` (scripts/setup.d/60-snapshot.sh). `BENCH_WORK` names the scratch directory
//! (default: a temporary one; it needs about 4× the data's size).
//!
//! Internal: `bench_snapshot --step init|backup|restore URL ARG` runs one berth step.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_snapshot::{
    BackendOptions, BackupOptions, HostKeyCheck, InitOptions, RepoLocation, Repository,
    S3Credentials, Secret, SftpAuth, SftpOptions, open_backend,
};

const PASSWORD: &str = "bench-password";
const ACCESS: &str = "benchkey";
const SECRET_KEY: &str = "bench-secret-123";

type R<T> = Result<T, String>;

fn main() -> R<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--step") {
        return step(&args[1..]);
    }
    let mut stores = vec!["local".to_string(), "s3".into(), "sftp".into()];
    let mut scale = 50u32;
    let mut usr_share = true;
    let mut dirs = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--stores" => {
                stores = it
                    .next()
                    .ok_or("--stores needs a list")?
                    .split(',')
                    .map(str::to_string)
                    .collect()
            }
            "--pgbench-scale" => {
                scale = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--pgbench-scale needs a number")?
            }
            "--no-usr-share" => usr_share = false,
            d => dirs.push(PathBuf::from(d)),
        }
    }
    let tmp;
    let work = match std::env::var_os("BENCH_WORK") {
        Some(w) => PathBuf::from(w),
        None => {
            tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
            tmp.path().to_path_buf()
        }
    };
    let src = work.join("src");
    std::fs::create_dir_all(&src).map_err(|e| e.to_string())?;
    if dirs.is_empty() {
        if scale > 0 {
            pgbench_data(&work, &src.join("pgdata"), scale)?;
        }
        if usr_share {
            sh(Command::new("cp")
                .args(["-a", "/usr/share"])
                .arg(src.join("share")))?;
        }
    } else {
        for d in &dirs {
            sh(Command::new("cp").arg("-a").arg(d).arg(&src))?;
        }
    }
    let dropped = drop_escaping_links(&src)?;
    if dropped > 0 {
        println!(
            "removed {dropped} symbolic links pointing outside the tree from the copy (berth restores no link that leaves its target, restic does; the restore check would differ)"
        );
    }
    let (bytes, files) = tree_size(&src);
    println!(
        "data: {:.1} MB in {files} files ({})",
        bytes as f64 / 1e6,
        if dirs.is_empty() {
            format!("pgbench -i -s {scale} data directory + copy of /usr/share")
        } else {
            "given directories".into()
        }
    );
    let mut rows = Vec::new();
    for store in &stores {
        let s = Store::start(store, &work)?;
        let pristine = work.join("pristine");
        // Each tool gets the same source state: the change step is replayed from a copy.
        let _ = std::fs::remove_dir_all(&pristine);
        sh(Command::new("cp").arg("-a").arg(&src).arg(&pristine))?;
        for tool in ["berth", "restic"] {
            let _ = std::fs::remove_dir_all(&src);
            sh(Command::new("cp").arg("-a").arg(&pristine).arg(&src))?;
            let row = run_tool(tool, &s, &work, &src, bytes)?;
            println!("{store:<6} {tool:<7} {}", row.line());
            rows.push((store.clone(), tool, row));
            s.clear(&work)?;
        }
        let _ = std::fs::remove_dir_all(&pristine);
    }
    println!();
    println!(
        "| store | tool | first backup MB/s | 10%-changed backup s | restore MB/s | repository MB | peak RSS MB (backup / restore) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (store, tool, r) in &rows {
        println!(
            "| {store} | {tool} | {:.1} | {:.2} | {:.1} | {:.1} | {:.0} / {:.0} |",
            bytes as f64 / 1e6 / r.first,
            r.incr,
            bytes as f64 / 1e6 / r.restore,
            r.repo_bytes as f64 / 1e6,
            r.first_rss_kb.max(r.incr_rss_kb) as f64 / 1024.0,
            r.restore_rss_kb as f64 / 1024.0
        );
    }
    for store in &stores {
        let get = |t: &str| {
            rows.iter()
                .find(|(s, tl, _)| s == store && *tl == t)
                .map(|x| &x.2)
        };
        if let (Some(b), Some(r)) = (get("berth"), get("restic")) {
            println!(
                "{store}: berth/restic throughput: first backup {:.2}x, 10%-changed {:.2}x, restore {:.2}x; repository {:.3} of restic's",
                r.first / b.first,
                r.incr / b.incr,
                r.restore / b.restore,
                b.repo_bytes as f64 / r.repo_bytes as f64
            );
        }
    }
    Ok(())
}

struct Row {
    first: f64,
    first_rss_kb: u64,
    incr: f64,
    incr_rss_kb: u64,
    restore: f64,
    restore_rss_kb: u64,
    repo_bytes: u64,
}

impl Row {
    fn line(&self) -> String {
        format!(
            "first {:.2} s, 10%-changed {:.2} s, restore {:.2} s, repo {:.1} MB, peak {} / {} / {} MB",
            self.first,
            self.incr,
            self.restore,
            self.repo_bytes as f64 / 1e6,
            self.first_rss_kb / 1024,
            self.incr_rss_kb / 1024,
            self.restore_rss_kb / 1024
        )
    }
}

fn run_tool(tool: &str, s: &Store, work: &Path, src: &Path, _bytes: u64) -> R<Row> {
    let out = work.join("restored");
    let _ = std::fs::remove_dir_all(&out);
    let src_s = src.display().to_string();
    let out_s = out.display().to_string();
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let berth = |a: &[&str]| {
        let mut c = Command::new(&me);
        c.arg("--step").args(a);
        s.env(&mut c);
        c
    };
    let restic = |a: &[&str]| {
        let bin = std::env::var("BERTH_TEST_RESTIC").unwrap_or_else(|_| "restic".into());
        let mut c = Command::new(bin);
        c.args(["--repo", &s.restic_url, "--quiet"])
            .args(&s.restic_args)
            .args(a)
            .env("RESTIC_PASSWORD", PASSWORD)
            .env("RESTIC_CACHE_DIR", work.join("restic-cache"));
        s.env(&mut c);
        c
    };
    let cmd = |a: &[&str]| if tool == "berth" { berth(a) } else { restic(a) };
    match tool {
        "berth" => timed(berth(&["init", &s.berth_url]))?,
        _ => timed(restic(&["init"]))?,
    };
    let backup = if tool == "berth" {
        vec!["backup".to_string(), s.berth_url.clone(), src_s.clone()]
    } else {
        vec!["backup".to_string(), src_s.clone()]
    };
    let b: Vec<&str> = backup.iter().map(String::as_str).collect();
    let (first, first_rss_kb) = timed(cmd(&b))?;
    change_ten_percent(src)?;
    let (incr, incr_rss_kb) = timed(cmd(&b))?;
    let (restore, restore_rss_kb) = if tool == "berth" {
        timed(berth(&["restore", &s.berth_url, &out_s]))?
    } else {
        timed(restic(&["restore", "latest", "--target", &out_s]))?
    };
    // The restore must hold what was backed up (restic puts the absolute path below target).
    let restored = if tool == "berth" {
        out.clone()
    } else {
        out.join(src.strip_prefix("/").unwrap_or(src))
    };
    let diff = Command::new("diff")
        .args(["-rq", "--no-dereference"])
        .arg(src)
        .arg(&restored)
        .output()
        .map_err(|e| e.to_string())?;
    if !diff.status.success() {
        return Err(format!(
            "{tool} restore differs from the source: {}",
            String::from_utf8_lossy(&diff.stdout)
                .lines()
                .take(5)
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    let _ = std::fs::remove_dir_all(&out);
    Ok(Row {
        first,
        first_rss_kb,
        incr,
        incr_rss_kb,
        restore,
        restore_rss_kb,
        repo_bytes: s.repo_size(work),
    })
}

/// Runs a step under `/usr/bin/time`; returns (wall seconds, max RSS in KiB).
fn timed(c: Command) -> R<(f64, u64)> {
    let rss_file = std::env::temp_dir().join(format!("bench-rss-{}", std::process::id()));
    let mut t = Command::new("/usr/bin/time");
    t.arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss_file)
        .arg(c.get_program());
    t.args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => t.env(k, v),
            None => t.env_remove(k),
        };
    }
    let start = Instant::now();
    let out = t
        .output()
        .map_err(|e| format!("running {:?}: {e}", c.get_program()))?;
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "{:?} {:?} failed: {}",
            c.get_program(),
            c.get_args().collect::<Vec<_>>(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let rss = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(0);
    let _ = std::fs::remove_file(&rss_file);
    Ok((secs, rss))
}

/// Every 10th file (sorted by path): a 4 KiB block overwritten in the middle (as a database
/// page update) and the modification time moved on.
fn change_ten_percent(src: &Path) -> R<()> {
    use std::io::{Seek, SeekFrom, Write};
    let mut files = Vec::new();
    for e in walkdir::WalkDir::new(src).sort_by_file_name() {
        let e = e.map_err(|e| e.to_string())?;
        if e.file_type().is_file() {
            files.push(e.into_path());
        }
    }
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for f in files.iter().step_by(10) {
        let len = std::fs::metadata(f).map_err(|e| e.to_string())?.len();
        let mut fh = std::fs::OpenOptions::new()
            .write(true)
            .open(f)
            .map_err(|e| format!("{}: {e}", f.display()))?;
        let mut block = vec![0u8; 4096];
        for b in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
        }
        fh.seek(SeekFrom::Start(len / 2))
            .map_err(|e| e.to_string())?;
        fh.write_all(&block).map_err(|e| e.to_string())?;
        fh.set_modified(std::time::SystemTime::now())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Removes links whose target is absolute or climbs above `root`; returns how many.
fn drop_escaping_links(root: &Path) -> R<u64> {
    let mut n = 0;
    for e in walkdir::WalkDir::new(root) {
        let e = e.map_err(|e| e.to_string())?;
        if !e.file_type().is_symlink() {
            continue;
        }
        let target = std::fs::read_link(e.path()).map_err(|e| e.to_string())?;
        let rel = e.path().strip_prefix(root).map_err(|e| e.to_string())?;
        let mut depth = rel.components().count() as i64 - 1;
        let mut escapes = target.is_absolute();
        for c in target.components() {
            match c {
                std::path::Component::ParentDir => depth -= 1,
                std::path::Component::Normal(_) => depth += 1,
                _ => {}
            }
            escapes |= depth < 0;
        }
        if escapes {
            std::fs::remove_file(e.path()).map_err(|e| e.to_string())?;
            n += 1;
        }
    }
    Ok(n)
}

fn tree_size(p: &Path) -> (u64, u64) {
    let (mut bytes, mut files) = (0, 0);
    for e in walkdir::WalkDir::new(p).into_iter().flatten() {
        if e.file_type().is_file() {
            bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
            files += 1;
        }
    }
    (bytes, files)
}

fn sh(c: &mut Command) -> R<()> {
    let out = c.output().map_err(|e| format!("{c:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{c:?}: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

fn free_ports(n: usize) -> Vec<u16> {
    let ls: Vec<TcpListener> = (0..n)
        .filter_map(|_| TcpListener::bind("127.0.0.1:0").ok())
        .collect();
    ls.iter()
        .filter_map(|l| l.local_addr().ok().map(|a| a.port()))
        .collect()
}

fn wait_port(port: u16, what: &str) -> R<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{what} did not open port {port}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Initialises a PostgreSQL cluster, runs `pgbench -i -s scale`, stops it: `dir` is the data.
/// As root, the server's programs run as the `postgres` user (`initdb` refuses root).
fn pgbench_data(work: &Path, dir: &Path, scale: u32) -> R<()> {
    let bin = PathBuf::from(
        std::env::var("BERTH_TEST_POSTGRES_BIN")
            .map_err(|_| "BERTH_TEST_POSTGRES_BIN is not set")?,
    );
    let root = id(&[]) == "0";
    let pg = |prog: &str| {
        if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin.join(prog));
            c
        } else {
            Command::new(bin.join(prog))
        }
    };
    let port = free_ports(1).first().copied().ok_or("no free port")?;
    let sock = work.join("pgsock");
    let log = work.join("pg.log");
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&sock).map_err(|e| e.to_string())?;
    std::fs::write(&log, "").map_err(|e| e.to_string())?;
    if root {
        let uid: u32 = id(&["-u", "postgres"])
            .parse()
            .map_err(|_| "no postgres user to run the server as")?;
        for p in [dir, &sock, &log] {
            std::os::unix::fs::chown(p, Some(uid), None)
                .map_err(|e| format!("{}: {e}", p.display()))?;
        }
    }
    sh(pg("initdb")
        .args(["-A", "trust", "-U", "postgres", "-D"])
        .arg(dir))?;
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1",
        sock.display()
    );
    sh(pg("pg_ctl")
        .args(["-D"])
        .arg(dir)
        .args(["-o", &opts, "-l"])
        .arg(&log)
        .args(["-w", "start"]))?;
    let started = Instant::now();
    let r = sh(pg("pgbench")
        .args([
            "-i",
            "-s",
            &scale.to_string(),
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .args(["-U", "postgres", "postgres"]));
    println!(
        "pgbench -i -s {scale}: {:.0} s",
        started.elapsed().as_secs_f64()
    );
    sh(pg("pg_ctl")
        .args(["-D"])
        .arg(dir)
        .args(["-m", "fast", "-w", "stop"]))?;
    r
}

/// `id ARGS`, trimmed (empty when it fails).
fn id(args: &[&str]) -> String {
    Command::new("id")
        .args(if args.is_empty() { &["-u"][..] } else { args })
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// A store under test, with its server (if any) and how each tool addresses it.
struct Store {
    kind: String,
    berth_url: String,
    restic_url: String,
    restic_args: Vec<String>,
    env: Vec<(String, String)>,
    server: Option<Child>,
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Store {
    fn start(kind: &str, work: &Path) -> R<Store> {
        match kind {
            "local" => Ok(Store {
                kind: kind.into(),
                berth_url: work.join("repo-berth").display().to_string(),
                restic_url: work.join("repo-restic").display().to_string(),
                restic_args: vec![],
                env: vec![],
                server: None,
            }),
            "s3" => Self::weed(work),
            "sftp" => Self::sshd(work),
            other => Err(format!("unknown store {other}; use local, s3 or sftp")),
        }
    }

    fn weed(work: &Path) -> R<Store> {
        let bin = std::env::var("BERTH_TEST_WEED").map_err(|_| "BERTH_TEST_WEED is not set")?;
        let dir = work.join("weed");
        std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
        std::fs::write(
            dir.join("s3.json"),
            format!(
                r#"{{"identities":[{{"name":"b","credentials":[{{"accessKey":"{ACCESS}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .map_err(|e| e.to_string())?;
        let p = free_ports(10);
        let names = [
            "s3.port",
            "s3.port.grpc",
            "master.port",
            "master.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "admin.port",
            "admin.port.grpc",
        ];
        let mut c = Command::new(bin);
        c.arg("mini")
            .arg(format!("-dir={}", dir.join("data").display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-webdav=false",
                "-admin.ui=false",
            ])
            .args([
                "-master.telemetry=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
            ])
            .arg(format!("-s3.config={}", dir.join("s3.json").display()));
        for (n, port) in names.iter().zip(&p) {
            c.arg(format!("-{n}={port}"));
        }
        let log = std::fs::File::create(dir.join("weed.log")).map_err(|e| e.to_string())?;
        let child = c
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| e.to_string())?;
        wait_port(p[0], "weed mini")?;
        std::thread::sleep(Duration::from_secs(3));
        let ep = format!("http://127.0.0.1:{}", p[0]);
        Ok(Store {
            kind: "s3".into(),
            berth_url: format!("s3://bench-berth/repo?endpoint={ep}"),
            restic_url: format!("s3:{ep}/bench-restic/repo"),
            restic_args: vec![],
            env: vec![
                ("AWS_ACCESS_KEY_ID".into(), ACCESS.into()),
                ("AWS_SECRET_ACCESS_KEY".into(), SECRET_KEY.into()),
            ],
            server: Some(child),
        })
    }

    fn sshd(work: &Path) -> R<Store> {
        let bin = std::env::var("BERTH_TEST_SSHD").map_err(|_| "BERTH_TEST_SSHD is not set")?;
        let d = work.join("sshd");
        std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
        let _ = std::fs::create_dir_all("/run/sshd");
        for k in ["host_key", "client_key"] {
            let _ = std::fs::remove_file(d.join(k));
            let _ = std::fs::remove_file(d.join(format!("{k}.pub")));
            sh(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(k)))?;
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys"))
            .map_err(|e| e.to_string())?;
        let port = free_ports(1).first().copied().ok_or("no free port")?;
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
PubkeyAuthentication yes\nPasswordAuthentication no\nPermitRootLogin prohibit-password\n\
StrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\n",
                d.join("host_key").display(),
                d.join("sshd.pid").display(),
                d.join("authorized_keys").display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .arg("-D")
            .arg("-f")
            .arg(d.join("sshd_config"))
            .arg("-E")
            .arg(d.join("sshd.log"))
            .spawn()
            .map_err(|e| e.to_string())?;
        wait_port(port, "sshd")?;
        let pubkey = std::fs::read_to_string(d.join("host_key.pub")).map_err(|e| e.to_string())?;
        let mut parts = pubkey.split_whitespace();
        let (alg, key) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let kh = d.join("known_hosts");
        std::fs::write(&kh, format!("[127.0.0.1]:{port} {alg} {key}\n"))
            .map_err(|e| e.to_string())?;
        let user = String::from_utf8_lossy(
            &Command::new("id")
                .arg("-un")
                .output()
                .map_err(|e| e.to_string())?
                .stdout,
        )
        .trim()
        .to_string();
        let sftp_cmd = format!(
            "ssh -p {port} -i {} -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o BatchMode=yes {user}@127.0.0.1 -s sftp",
            d.join("client_key").display(),
            kh.display()
        );
        Ok(Store {
            kind: "sftp".into(),
            berth_url: format!(
                "sftp://{user}@127.0.0.1:{port}{}",
                work.join("remote-berth").display()
            ),
            restic_url: format!(
                "sftp:{user}@127.0.0.1:{}",
                work.join("remote-restic").display()
            ),
            restic_args: vec!["-o".into(), format!("sftp.command={sftp_cmd}")],
            env: vec![
                (
                    "BENCH_SFTP_IDENTITY".into(),
                    d.join("client_key").display().to_string(),
                ),
                ("BENCH_SFTP_KNOWN_HOSTS".into(), kh.display().to_string()),
            ],
            server: Some(child),
        })
    }

    fn env(&self, c: &mut Command) {
        for (k, v) in &self.env {
            c.env(k, v);
        }
    }

    /// Bytes the repository takes: the directory (local, SFTP on this host) or the bucket's
    /// objects as listed through berth's own S3 client.
    fn repo_size(&self, work: &Path) -> u64 {
        match self.kind.as_str() {
            "local" => {
                tree_size(&work.join("repo-berth")).0 + tree_size(&work.join("repo-restic")).0
            }
            "sftp" => {
                tree_size(&work.join("remote-berth")).0 + tree_size(&work.join("remote-restic")).0
            }
            _ => {
                s3_size(&self.berth_url)
                    + s3_size(&format!(
                        "s3://bench-restic/repo?endpoint={}",
                        self.restic_url
                            .trim_start_matches("s3:")
                            .trim_end_matches("/bench-restic/repo")
                    ))
            }
        }
    }

    /// Removes both tools' repositories (between tools, one is always empty).
    fn clear(&self, work: &Path) -> R<()> {
        for d in [
            "repo-berth",
            "repo-restic",
            "remote-berth",
            "remote-restic",
            "restic-cache",
        ] {
            let _ = std::fs::remove_dir_all(work.join(d));
        }
        if self.kind == "s3" {
            for url in [
                self.berth_url.clone(),
                format!(
                    "s3://bench-restic/repo?endpoint={}",
                    self.restic_url
                        .trim_start_matches("s3:")
                        .trim_end_matches("/bench-restic/repo")
                ),
            ] {
                let b = s3_backend(&url)?;
                for dir in [
                    "config",
                    "keys",
                    "packs",
                    "index",
                    "snapshots",
                    "data",
                    "locks",
                    "pending",
                    "tmp",
                ] {
                    for f in b.list(dir).unwrap_or_default() {
                        let _ = b.remove(&f.name);
                    }
                }
                let _ = b.remove("config");
            }
        }
        Ok(())
    }
}

fn s3_backend(url: &str) -> R<Arc<dyn berth_snapshot::Backend>> {
    let loc = RepoLocation::parse(url).map_err(|e| e.to_string())?;
    open_backend(&loc, &backend_options(), false).map_err(|e| e.to_string())
}

fn s3_size(url: &str) -> u64 {
    let Ok(b) = s3_backend(url) else { return 0 };
    ["config", "keys", "packs", "index", "snapshots", "data"]
        .iter()
        .flat_map(|d| b.list(d).unwrap_or_default())
        .map(|f| f.size)
        .sum()
}

fn backend_options() -> BackendOptions {
    let sftp = std::env::var("BENCH_SFTP_IDENTITY")
        .ok()
        .map(|k| SftpOptions {
            auth: SftpAuth::Key {
                path: k.into(),
                passphrase: None,
            },
            host_key: HostKeyCheck::KnownHosts(
                std::env::var("BENCH_SFTP_KNOWN_HOSTS")
                    .unwrap_or_default()
                    .into(),
            ),
        });
    BackendOptions {
        s3: Some(S3Credentials {
            access_key: std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| ACCESS.into()),
            secret_key: std::env::var("AWS_SECRET_ACCESS_KEY")
                .unwrap_or_else(|_| SECRET_KEY.into()),
            session_token: None,
        }),
        sftp,
        retry_budget: None,
    }
}

/// One berth step in its own process (so its peak memory is its own).
fn step(args: &[String]) -> R<()> {
    let (what, url) = match args {
        [w, u, ..] => (w.as_str(), u.as_str()),
        _ => return Err("--step needs a step and a repository URL".into()),
    };
    let loc = RepoLocation::parse(url).map_err(|e| e.to_string())?;
    let backend =
        open_backend(&loc, &backend_options(), what == "init").map_err(|e| e.to_string())?;
    let secret = Secret::Password(PASSWORD.into());
    match (what, args.get(2)) {
        ("init", _) => {
            Repository::init(backend, &secret, &InitOptions::default())
                .map_err(|e| e.to_string())?;
        }
        ("backup", Some(dir)) => {
            let repo = Repository::open(backend, &secret).map_err(|e| e.to_string())?;
            repo.backup_dir(Path::new(dir), &BackupOptions::default())
                .map_err(|e| e.to_string())?;
        }
        ("restore", Some(target)) => {
            let repo = Repository::open(backend, &secret).map_err(|e| e.to_string())?;
            let last = repo
                .snapshots()
                .map_err(|e| e.to_string())?
                .pop()
                .ok_or("no snapshot")?;
            repo.restore(&last.id, Path::new(target))
                .map_err(|e| e.to_string())?;
        }
        _ => return Err(format!("unknown step {args:?}")),
    }
    Ok(())
}
