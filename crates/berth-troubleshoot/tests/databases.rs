//! postgres / mysql / redis collectors against real servers, started here on free 127.0.0.1
//! ports in temporary directories (binaries from BERTH_TEST_POSTGRES_BIN, BERTH_TEST_MARIADB,
//! BERTH_TEST_REDIS, set by scripts/setup.d/40-databases.sh).

use berth_troubleshoot::collect::db;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../../../testing/tool.rs"]
mod tool_rule;
use tool_rule::tool;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_port(port: u16, child: &mut Child, log: &Path) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!(
                "server exited with {st}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "server did not listen on {port}: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A server process (and its process group) stopped on drop.
struct Server {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let pg = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGTERM);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn spawn(cmd: &mut Command, log: &Path) -> Child {
    let f = std::fs::File::create(log).unwrap();
    cmd.stdout(Stdio::from(f.try_clone().unwrap()))
        .stderr(Stdio::from(f))
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
}

fn run_ok(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn postgres(bin: &Path) -> (Server, u16) {
    let dir = tempfile::Builder::new()
        .prefix("berth-pg-")
        .tempdir()
        .unwrap();
    let user = nix::unistd::User::from_name("postgres")
        .unwrap()
        .expect("a postgres system user (Debian's postgresql package creates it)");
    std::fs::write(dir.path().join("pw"), "s3cret-pg\n").unwrap();
    for p in [dir.path().to_path_buf(), dir.path().join("pw")] {
        nix::unistd::chown(&p, Some(user.uid), Some(user.gid)).unwrap();
    }
    let data = dir.path().join("data");
    run_ok(
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=scram-sha-256"])
            .arg(format!("--pwfile={}", dir.path().join("pw").display())),
    );
    let port = free_port();
    let log = dir.path().join("server.log");
    let mut child = spawn(
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args([
                "-p",
                &port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-k",
            ])
            .arg(dir.path()),
        &log,
    );
    wait_port(port, &mut child, &log);
    (Server { child, _dir: dir }, port)
}

/// A server may listen before it accepts sessions ("the database system is starting up").
async fn until_connected(kind: &str, uri: &str) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let v = db::check(kind, uri).await;
        if v["isConnected"] == true || t.elapsed() > Duration::from_secs(60) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn postgres_connectivity_and_version() {
    let Some(bin) = tool("BERTH_TEST_POSTGRES_BIN") else {
        return;
    };
    let (_server, port) = postgres(&bin);
    let uri = format!("postgresql://postgres:s3cret-pg@127.0.0.1:{port}/postgres?sslmode=disable");
    let ok = until_connected("postgres", &uri).await;
    assert_eq!(ok["isConnected"], true, "{ok}");
    let v = ok["version"].as_str().unwrap();
    assert!(
        v.split('.').next().unwrap().parse::<u32>().unwrap() >= 10,
        "{v}"
    );
    let bad = db::check(
        "postgres",
        &format!("postgresql://postgres:wrong-pw@127.0.0.1:{port}/postgres?sslmode=disable"),
    )
    .await;
    assert_eq!(bad["isConnected"], false, "{bad}");
    let e = bad["error"].as_str().unwrap();
    assert!(e.contains("password"), "{e}");
    assert!(
        !e.contains("wrong-pw"),
        "the password leaked into the error: {e}"
    );
}

#[tokio::test]
async fn mysql_connectivity_and_version_against_mariadb() {
    let Some(mariadbd) = tool("BERTH_TEST_MARIADB") else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("berth-mysql-")
        .tempdir()
        .unwrap();
    let data = dir.path().join("data");
    run_ok(
        Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args([
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ]),
    );
    let port = free_port();
    let sock = dir.path().join("sock");
    let log = dir.path().join("server.log");
    let mut child = spawn(
        Command::new(&mariadbd)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", sock.display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .args([
                &format!("--port={port}"),
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-log-bin",
            ]),
        &log,
    );
    wait_port(port, &mut child, &log);
    let keep = dir.path().to_path_buf();
    let _server = Server { child, _dir: dir };
    run_ok(
        Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", sock.display()))
            .args(["-u", "root", "-e"])
            .arg("CREATE USER 'berth'@'%' IDENTIFIED BY 's3cret-my'; GRANT ALL ON *.* TO 'berth'@'%';"),
    );
    let _ = keep;
    let ok = until_connected(
        "mysql",
        &format!("berth:s3cret-my@tcp(127.0.0.1:{port})/mysql"),
    )
    .await;
    assert_eq!(ok["isConnected"], true, "{ok}");
    assert!(ok["version"].as_str().unwrap().starts_with("10."), "{ok}");
    let bad = db::check("mysql", &format!("mysql://berth:nope@127.0.0.1:{port}/")).await;
    assert_eq!(bad["isConnected"], false, "{bad}");
    assert!(
        bad["error"].as_str().unwrap().contains("Access denied"),
        "{bad}"
    );
}

#[tokio::test]
async fn redis_connectivity_and_version() {
    let Some(redis) = tool("BERTH_TEST_REDIS") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("server.log");
    let mut child = spawn(
        Command::new(&redis)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--requirepass",
                "s3cret-rd",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
            ])
            .arg(dir.path()),
        &log,
    );
    wait_port(port, &mut child, &log);
    let _server = Server { child, _dir: dir };
    let ok = db::check("redis", &format!("redis://:s3cret-rd@127.0.0.1:{port}")).await;
    assert_eq!(ok["isConnected"], true, "{ok}");
    assert!(ok["version"].as_str().unwrap().contains('.'), "{ok}");
    let bad = db::check("redis", &format!("redis://:wrong@127.0.0.1:{port}")).await;
    assert_eq!(bad["isConnected"], false, "{bad}");
    let noauth = db::check("redis", &format!("redis://127.0.0.1:{port}")).await;
    assert_eq!(noauth["isConnected"], false, "{noauth}");
    assert!(
        noauth["error"].as_str().unwrap().contains("NOAUTH"),
        "{noauth}"
    );
}
