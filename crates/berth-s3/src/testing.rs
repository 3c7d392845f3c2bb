//! A throwaway SeaweedFS S3 server (`weed mini`) for tests: every port it opens is a free one
//! on 127.0.0.1, its data lives in a temporary directory, and it is killed when dropped.
//! The binary comes from `BERTH_TEST_WEED` (scripts/setup.d/55-seaweedfs.sh installs it).

use crate::{Client, Credentials, Location};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Access key of the test identity.
pub const ACCESS_KEY: &str = "berthtest";
/// Secret key of the test identity.
pub const SECRET_KEY: &str = "berthtest-secret-0123";

/// A running `weed mini`.
pub struct Seaweed {
    child: Child,
    bin: PathBuf,
    args: Vec<String>,
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT` of the S3 API.
    pub endpoint: String,
}

/// Where the `weed` binary is: `BERTH_TEST_WEED`, or an error saying how to get it.
pub fn weed_binary() -> Result<PathBuf, String> {
    match std::env::var_os("BERTH_TEST_WEED") {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => Err("BERTH_TEST_WEED is not set: run scripts/setup.d/55-seaweedfs.sh".into()),
    }
}

/// `n` distinct free ports on 127.0.0.1 (each held until all are chosen, so none repeats).
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("a bound port").port())
        .collect()
}

/// How many times [`Seaweed::start`] tries: a port chosen free can be taken by another
/// process before the server binds it, which the server reports and exits.
const START_ATTEMPTS: usize = 4;

impl Seaweed {
    /// Starts a server and waits until its S3 API answers; on fresh ports again when one of
    /// the chosen ports was taken meanwhile.
    pub fn start() -> Result<Seaweed, String> {
        let mut attempt = 1;
        loop {
            match Seaweed::start_once() {
                Err(e) if attempt < START_ATTEMPTS && e.contains("is not available") => {
                    eprintln!("weed mini: a chosen port was taken, trying other ports: {e}");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn start_once() -> Result<Seaweed, String> {
        let bin = weed_binary()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
        let config = dir.path().join("s3.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"identities":[{{"name":"tester","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .map_err(|e| e.to_string())?;
        let flags = [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port.grpc",
            "admin.port",
            "admin.port.grpc",
            "s3.port.iceberg",
            "s3.port.lance",
        ];
        let ports = free_ports(flags.len() + 1);
        let s3_port = ports[0];
        let mut args = vec![
            "mini".to_string(),
            format!("-dir={}", data.display()),
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            "-admin.ui=false".into(),
            "-webdav=false".into(),
            format!("-s3.config={}", config.display()),
            format!("-s3.port={s3_port}"),
            // A fixed volume count and size: left to itself, `weed mini` sizes both from the
            // disk's free space, and on a nearly full disk it has no writable volume and
            // answers every PUT with HTTP 500.
            "-volume.max=8".into(),
            "-master.volumeSizeLimitMB=64".into(),
        ];
        for (flag, port) in flags.iter().zip(&ports[1..]) {
            args.push(format!("-{flag}={port}"));
        }
        let child = spawn(&bin, &args, dir.path())?;
        let mut w = Seaweed {
            child,
            bin,
            args,
            dir,
            endpoint: format!("http://127.0.0.1:{s3_port}"),
        };
        w.wait_ready()?;
        Ok(w)
    }

    /// Starts the server again after [`Seaweed::kill`], on the same ports and data.
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        self.child = spawn(&self.bin, &self.args, self.dir.path())?;
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Err(format!("weed mini exited ({st}): {}", self.log()));
            }
            if std::net::TcpStream::connect(self.endpoint.trim_start_matches("http://")).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!("weed mini did not answer in 60 s: {}", self.log()))
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
    }

    /// The credentials of the test identity.
    pub fn credentials(&self) -> Credentials {
        Credentials {
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
            session_token: None,
        }
    }

    /// `s3://bucket/prefix?endpoint=…&region=us-east-1` on this server.
    pub fn url(&self, bucket: &str, prefix: &str) -> String {
        format!(
            "s3://{bucket}/{prefix}?endpoint={}&region=us-east-1",
            self.endpoint
        )
    }

    /// A client for `bucket/prefix`, with the bucket created (retried: right after start the
    /// filer may still refuse).
    pub async fn client(&self, bucket: &str, prefix: &str) -> Result<Client, String> {
        let loc = Location::parse(&self.url(bucket, prefix)).map_err(|e| e.to_string())?;
        let c = Client::new(loc, self.credentials()).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match c.ensure_bucket().await {
                Ok(()) => return Ok(c),
                Err(e) if Instant::now() > deadline => return Err(e.to_string()),
                Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
    }

    /// Stops the server (SIGKILL). For tests of a store that goes away.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `weed` with `args`, its log appended to `dir/weed.log`.
fn spawn(bin: &Path, args: &[String], dir: &Path) -> Result<Child, String> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("weed.log"))
        .map_err(|e| e.to_string())?;
    Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        self.kill();
    }
}
