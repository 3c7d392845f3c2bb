//! A throwaway PostgreSQL server (Debian's binaries from BERTH_TEST_POSTGRES_BIN, installed by
//! scripts/test.sh) on a free 127.0.0.1 port, in its own temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Postgres {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill_all();
    }
}

fn bin() -> PathBuf {
    match std::env::var("BERTH_TEST_POSTGRES_BIN") {
        Ok(v) if !v.is_empty() => PathBuf::from(v),
        _ => panic!(
            "BERTH_TEST_POSTGRES_BIN is not set: run ./scripts/test.sh, which installs PostgreSQL and sets it"
        ),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Postgres {
    /// initdb + postgres as the `postgres` system user (PostgreSQL refuses to run as root).
    pub fn start() -> Postgres {
        let bin = bin();
        let dir = tempfile::Builder::new()
            .prefix("berth-vendor-pg-")
            .tempdir()
            .unwrap();
        let user = nix::unistd::User::from_name("postgres")
            .unwrap()
            .expect("a postgres system user (Debian's postgresql package creates it)");
        std::fs::write(dir.path().join("pw"), "vendor-pw\n").unwrap();
        for p in [dir.path().to_path_buf(), dir.path().join("pw")] {
            nix::unistd::chown(&p, Some(user.uid), Some(user.gid)).unwrap();
        }
        let data = dir.path().join("data");
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=scram-sha-256"])
            .arg(format!("--pwfile={}", dir.path().join("pw").display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let child = spawn(&bin.join("postgres"), &data, dir.path(), port);
        let mut pg = Postgres {
            child,
            port,
            _dir: dir,
        };
        pg.wait_ready();
        pg
    }

    /// SIGKILL to the postmaster and every process it started, then wait until all are gone.
    /// PostgreSQL's backends each call setsid(), so a process-group kill misses them; a
    /// backend that outlives a killed postmaster keeps the shared memory attached, and the
    /// next postmaster refuses to start beside it ("pre-existing shared memory block is still
    /// in use").
    fn kill_all(&mut self) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let postmaster = self.child.id() as i32;
        let mut pids = children_of(postmaster);
        let _ = self.child.kill();
        let _ = self.child.wait();
        pids.extend(children_of(postmaster));
        for &p in &pids {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        let t = Instant::now();
        while pids.iter().any(|&p| alive(p)) && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's log (statements over 50 ms, checkpoints and autovacuum runs are logged).
    #[allow(dead_code)]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("postgres.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let port = self.port;
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("postgres exited ({st}):\n{}", self.log());
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "postgres did not start in 60 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // listening is not accepting sessions yet ("the database system is starting up")
        std::thread::sleep(Duration::from_millis(500));
    }

    /// Stop the server at once (SIGKILL, as a crash) and start it again on the same data
    /// and port; returns when it accepts connections again. (Not every test crate that
    /// includes this module restarts its server.)
    #[allow(dead_code)]
    pub fn restart(&mut self) {
        self.kill_all();
        let dir = self._dir.path();
        self.child = spawn(&bin().join("postgres"), &dir.join("data"), dir, self.port);
        self.wait_ready();
    }

    pub fn url(&self) -> String {
        format!(
            "postgres://postgres:vendor-pw@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }
}

/// The processes whose parent is `pid` (from /proc).
fn children_of(pid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| stat_field(*p, 1).is_some_and(|ppid| ppid == pid.to_string()))
        .collect()
}

/// Running or not yet reaped, but not a zombie (a zombie has let go of its memory).
fn alive(pid: i32) -> bool {
    stat_field(pid, 0).is_some_and(|state| state != "Z")
}

/// Field `i` after the command name in /proc/PID/stat (0 = state, 1 = parent pid).
fn stat_field(pid: i32, i: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(i).map(str::to_string)
}

/// postgres itself as the child (its uid and gid set at exec), not under `runuser`: killing a
/// `runuser` leaves its postgres running, orphaned, after the test's directory is gone.
fn spawn(postgres: &Path, data: &Path, socket_dir: &Path, port: u16) -> Child {
    use std::os::unix::process::CommandExt as _;
    let user = nix::unistd::User::from_name("postgres")
        .unwrap()
        .expect("a postgres system user");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(socket_dir.join("postgres.log"))
        .unwrap();
    Command::new(postgres)
        .uid(user.uid.as_raw())
        .gid(user.gid.as_raw())
        .env("HOME", socket_dir)
        .arg("-D")
        .arg(data)
        .args([
            "-p",
            &port.to_string(),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=200",
            "-c",
            "log_min_duration_statement=50",
            "-c",
            "log_autovacuum_min_duration=0",
            "-c",
            "log_checkpoints=on",
            "-k",
        ])
        .arg(socket_dir)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}
