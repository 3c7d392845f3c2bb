//! An SFTP server as a [`Backend`], in pure Rust (russh + russh-sftp): key or password
//! authentication, and the server's host key checked against a known_hosts file or a given
//! SHA-256 fingerprint before any secret is sent.
//!
//! Writes go to `tmp/<random>` and are renamed into place, so a file is complete under its
//! final name or absent. A dropped connection is reported as transient; the next operation
//! connects again (the retry wrapper asks again).

use std::collections::HashSet;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use rand::RngCore;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey};
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::client::rawsession::Limits;
use russh_sftp::client::{RawSftpSession, SftpSession};
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};
use tokio::io::AsyncWriteExt;

use crate::backend::{Backend, FileInfo};
use crate::retry::transient;

/// `sftp://user@host:port/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SftpLocation {
    /// Login name.
    pub user: String,
    /// Host name or address.
    pub host: String,
    /// Port (22 by default).
    pub port: u16,
    /// Repository directory on the server (absolute, or relative to the login directory).
    pub path: String,
}

/// How berth logs in.
#[derive(Clone)]
pub enum SftpAuth {
    /// A password (from `BERTH_SFTP_PASSWORD` or a file; never from the URL).
    Password(String),
    /// An OpenSSH private key file, with its passphrase if it has one.
    Key {
        /// The key file.
        path: PathBuf,
        /// Its passphrase.
        passphrase: Option<String>,
    },
}

impl std::fmt::Debug for SftpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SftpAuth::Password(_) => f.write_str("Password(…)"),
            SftpAuth::Key { path, .. } => write!(f, "Key({})", path.display()),
        }
    }
}

/// How the server's host key is checked (there is no "accept anything").
#[derive(Debug, Clone)]
pub enum HostKeyCheck {
    /// A known_hosts file (OpenSSH format; `[host]:port` entries for other ports).
    KnownHosts(PathBuf),
    /// The SHA-256 fingerprint as `ssh-keygen -lf` prints it: `SHA256:…`.
    Fingerprint(String),
}

/// Authentication and host-key checking.
#[derive(Debug, Clone)]
pub struct SftpOptions {
    /// How to log in.
    pub auth: SftpAuth,
    /// How to trust the server.
    pub host_key: HostKeyCheck,
}

/// Checks the host key; remembers why it refused one, for the error message.
struct Checker {
    host: String,
    port: u16,
    check: HostKeyCheck,
    refused: Arc<Mutex<Option<String>>>,
}

impl russh::client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            *lock(&self.refused) =
                Some("the server offered a certificate; berth checks plain host keys".into());
            return Ok(false);
        };
        let verdict = self.verdict(key);
        if let Err(why) = &verdict {
            *lock(&self.refused) = Some(why.clone());
        }
        Ok(verdict.is_ok())
    }
}

impl Checker {
    fn verdict(&self, key: &PublicKey) -> Result<(), String> {
        let fp = key.fingerprint(HashAlg::Sha256).to_string();
        match &self.check {
            HostKeyCheck::Fingerprint(want) if want.trim() == fp => Ok(()),
            HostKeyCheck::Fingerprint(want) => Err(format!(
                "host key of {}:{} is {fp}, not the expected {want}",
                self.host, self.port
            )),
            HostKeyCheck::KnownHosts(path) => {
                match russh::keys::check_known_hosts_path(&self.host, self.port, key, path) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(format!(
                        "host key {fp} of {}:{} is not in {}; add it (ssh-keyscan -p {} {}) after checking the fingerprint, or pass the fingerprint",
                        self.host,
                        self.port,
                        path.display(),
                        self.port,
                        self.host
                    )),
                    Err(e) => Err(format!(
                        "host key {fp} of {}:{} does not match {}: {e} (a changed key: check the server before trusting it)",
                        self.host,
                        self.port,
                        path.display()
                    )),
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Conn {
    // Kept so the SSH session lives as long as the SFTP channels.
    _handle: russh::client::Handle<Checker>,
    sftp: SftpSession,
    /// A second SFTP channel for ranged reads: its requests are sent by berth, so a read
    /// asks for exactly the bytes wanted, all requests at once (the high-level file reader
    /// keeps 16 requests ahead of the reader, which for a 4 MiB range transferred about
    /// twice the bytes asked).
    reads: Arc<RawSftpSession>,
    /// The largest read one request may ask for.
    read_len: u32,
}

/// A repository directory on an SFTP server.
pub struct SftpBackend {
    loc: SftpLocation,
    opts: SftpOptions,
    rt: tokio::runtime::Runtime,
    conn: Mutex<Option<Arc<Conn>>>,
    /// Directories known to exist (created or seen), so writes do not ask again.
    dirs: Mutex<HashSet<String>>,
}

impl SftpBackend {
    /// Connects lazily: nothing is sent until the first operation.
    pub fn new(loc: SftpLocation, opts: SftpOptions) -> io::Result<SftpBackend> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(SftpBackend {
            loc,
            opts,
            rt,
            conn: Mutex::new(None),
            dirs: Mutex::new(HashSet::new()),
        })
    }

    fn full(&self, name: &str) -> String {
        let root = self.loc.path.trim_end_matches('/');
        if root.is_empty() {
            name.to_string()
        } else {
            format!("{root}/{name}")
        }
    }

    async fn connect(&self) -> io::Result<Conn> {
        let refused = Arc::new(Mutex::new(None));
        let checker = Checker {
            host: self.loc.host.clone(),
            port: self.loc.port,
            check: self.opts.host_key.clone(),
            refused: refused.clone(),
        };
        let config = Arc::new(russh::client::Config {
            inactivity_timeout: Some(Duration::from_secs(300)),
            // Requests are small and answered one by one (several threads share the
            // connection): none should wait for the acknowledgement of another.
            nodelay: true,
            ..Default::default()
        });
        let addr = (self.loc.host.as_str(), self.loc.port);
        let mut handle = match russh::client::connect(config, addr, checker).await {
            Ok(h) => h,
            Err(e) => {
                if let Some(why) = lock(&refused).take() {
                    return Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
                }
                return Err(ssh_io_error(&format!("connecting to {}", self.where_()), e));
            }
        };
        let user = self.loc.user.clone();
        let auth = match &self.opts.auth {
            SftpAuth::Password(pw) => handle.authenticate_password(user, pw.clone()).await,
            SftpAuth::Key { path, passphrase } => {
                let key =
                    russh::keys::load_secret_key(path, passphrase.as_deref()).map_err(|e| {
                        io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("SSH key {}: {e}", path.display()),
                        )
                    })?;
                let hash = handle
                    .best_supported_rsa_hash()
                    .await
                    .map_err(|e| ssh_io_error("asking the server's RSA hashes", e))?
                    .flatten();
                handle
                    .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
                    .await
            }
        }
        .map_err(|e| ssh_io_error(&format!("logging in to {}", self.where_()), e))?;
        if !auth.success() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} refused the login of {} ({:?}); check the user, the key or BERTH_SFTP_PASSWORD",
                    self.where_(),
                    self.loc.user,
                    self.opts.auth
                ),
            ));
        }
        let channel = handle
            .channel_open_session()
            .await
            .map_err(|e| ssh_io_error("opening an SSH channel", e))?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(|e| ssh_io_error("starting the sftp subsystem", e))?;
        let sftp = SftpSession::new(channel.into_stream())
            .await
            .map_err(|e| io::Error::new(io::ErrorKind::ConnectionAborted, format!("sftp: {e}")))?;
        sftp.set_timeout(120);
        let (reads, read_len) = self.read_channel(&handle).await?;
        Ok(Conn {
            _handle: handle,
            sftp,
            reads: Arc::new(reads),
            read_len,
        })
    }

    /// Opens the channel for ranged reads; returns it with the read size the server allows
    /// (`limits@openssh.com`, else the 32 KiB every server must accept).
    async fn read_channel(
        &self,
        handle: &russh::client::Handle<Checker>,
    ) -> io::Result<(RawSftpSession, u32)> {
        let sftp_err =
            |e: SftpError| io::Error::new(io::ErrorKind::ConnectionAborted, format!("sftp: {e}"));
        let channel = handle
            .channel_open_session()
            .await
            .map_err(|e| ssh_io_error("opening an SSH channel", e))?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(|e| ssh_io_error("starting the sftp subsystem", e))?;
        let mut raw = RawSftpSession::new(channel.into_stream());
        raw.set_timeout(120);
        let version = raw.init().await.map_err(sftp_err)?;
        let mut read_len = 32 << 10;
        if version
            .extensions
            .get(russh_sftp::extensions::LIMITS)
            .is_some_and(|v| v == "1")
        {
            let limits = Limits::from(raw.limits().await.map_err(sftp_err)?);
            raw.set_limits(limits);
            read_len = limits.read_len.unwrap_or(read_len);
        }
        // A reply carries 13 bytes besides the data and must fit the client's packet limit.
        let read_len = read_len.clamp(1, MAX_READ) as u32;
        Ok((raw, read_len))
    }

    fn where_(&self) -> String {
        format!("{}@{}:{}", self.loc.user, self.loc.host, self.loc.port)
    }

    /// Runs one operation on the (re)connected session; a broken session is dropped.
    fn with<T>(
        &self,
        what: &str,
        op: impl AsyncFnOnce(&SftpSession) -> Result<T, SftpError>,
    ) -> io::Result<T> {
        self.with_conn(what, async |c: &Conn| op(&c.sftp).await)
    }

    /// [`Self::with`] with the whole connection (both channels).
    fn with_conn<T>(
        &self,
        what: &str,
        op: impl AsyncFnOnce(&Conn) -> Result<T, SftpError>,
    ) -> io::Result<T> {
        self.rt.block_on(async {
            let existing = lock(&self.conn).clone();
            let conn = match existing {
                Some(c) => c,
                None => {
                    let c = Arc::new(self.connect().await?);
                    *lock(&self.conn) = Some(c.clone());
                    c
                }
            };
            match op(&conn).await {
                Ok(v) => Ok(v),
                Err(e) => {
                    let err = sftp_io_error(what, &e);
                    if crate::retry::is_transient(&err) {
                        // The session is likely gone: the next attempt connects again.
                        let mut slot = lock(&self.conn);
                        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, &conn)) {
                            *slot = None;
                        }
                    }
                    Err(err)
                }
            }
        })
    }

    /// Creates `dir` and its parents below the root (and the root) when missing.
    fn ensure_dir(&self, dir: &str) -> io::Result<()> {
        if lock(&self.dirs).contains(dir) {
            return Ok(());
        }
        // The root's own ancestors too (mkdir -p), then the directories below it.
        let mut paths = Vec::new();
        let mut cur = if self.loc.path.starts_with('/') {
            "/".to_string()
        } else {
            String::new()
        };
        let parts = self.loc.path.split('/').chain(dir.split('/'));
        for part in parts.filter(|p| !p.is_empty()) {
            cur = if cur.is_empty() {
                part.to_string()
            } else if cur == "/" {
                format!("/{part}")
            } else {
                format!("{cur}/{part}")
            };
            paths.push(cur.clone());
        }
        self.with(&format!("creating {dir}"), async |s| {
            for p in &paths {
                if !s.try_exists(p.as_str()).await? {
                    match s.create_dir(p.as_str()).await {
                        Ok(()) => {}
                        // Another writer made it meanwhile.
                        Err(e) if s.try_exists(p.as_str()).await.unwrap_or(false) => {
                            let _ = e;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            Ok(())
        })?;
        lock(&self.dirs).insert(dir.to_string());
        Ok(())
    }
}

fn ssh_io_error(what: &str, e: russh::Error) -> io::Error {
    let kind = match &e {
        russh::Error::IO(io) => io.kind(),
        _ => io::ErrorKind::ConnectionAborted,
    };
    io::Error::new(kind, format!("{what}: {e}"))
}

fn sftp_io_error(what: &str, e: &SftpError) -> io::Error {
    match e {
        SftpError::Status(s) => match s.status_code {
            StatusCode::NoSuchFile => {
                io::Error::new(io::ErrorKind::NotFound, format!("{what}: {e}"))
            }
            StatusCode::PermissionDenied => {
                io::Error::new(io::ErrorKind::PermissionDenied, format!("{what}: {e}"))
            }
            StatusCode::NoConnection | StatusCode::ConnectionLost => {
                transient(format!("{what}: {e}"))
            }
            _ => io::Error::other(format!("{what}: {e}")),
        },
        // Timeouts, I/O and protocol confusion: the session is not to be trusted any more.
        _ => transient(format!("{what}: {e}")),
    }
}

/// The largest read request berth sends (OpenSSH allows 255 KiB).
const MAX_READ: u64 = 255 << 10;
/// Read requests of one range in flight at once.
const READS_IN_FLIGHT: usize = 32;

/// Reads `n` bytes at `offset` of an open file: all requests sent at once (up to
/// [`READS_IN_FLIGHT`]), each for at most `read_len` bytes; a short answer is asked again for
/// the rest. Returns fewer than `n` bytes only at the end of the file.
async fn read_range(
    s: &RawSftpSession,
    handle: &str,
    offset: u64,
    n: usize,
    read_len: u32,
) -> Result<Vec<u8>, SftpError> {
    let step = read_len.max(1) as usize;
    let mut buf = vec![0u8; n];
    // (start, end) of the parts not read yet after the first round.
    let mut holes = Vec::new();
    let mut replies = futures::stream::iter((0..n).step_by(step).map(|at| {
        let len = step.min(n - at);
        async move {
            (
                at,
                len,
                read_or_eof(s, handle, offset + at as u64, len as u32).await,
            )
        }
    }))
    .buffered(READS_IN_FLIGHT);
    while let Some((at, len, r)) = replies.next().await {
        let data = r?;
        buf[at..at + data.len()].copy_from_slice(&data);
        if data.len() < len {
            holes.push((at + data.len(), at + len));
        }
    }
    drop(replies);
    for (mut at, end) in holes {
        while at < end {
            let len = step.min(end - at);
            let data = read_or_eof(s, handle, offset + at as u64, len as u32).await?;
            if data.is_empty() {
                // The end of the file: whatever follows was not there either.
                buf.truncate(at);
                return Ok(buf);
            }
            buf[at..at + data.len()].copy_from_slice(&data);
            at += data.len();
        }
    }
    Ok(buf)
}

/// One read request; the end of the file reads as no bytes.
async fn read_or_eof(
    s: &RawSftpSession,
    handle: &str,
    offset: u64,
    len: u32,
) -> Result<Vec<u8>, SftpError> {
    match s.read(handle, offset, len).await {
        Ok(d) => Ok(d.data),
        Err(e) if is_status(&e, StatusCode::Eof) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn is_status(e: &SftpError, code: StatusCode) -> bool {
    matches!(e, SftpError::Status(s) if s.status_code == code)
}

impl Backend for SftpBackend {
    fn location(&self) -> String {
        format!("sftp://{}{}", self.where_(), self.loc.path)
    }

    fn write(&self, name: &str, data: &[u8]) -> io::Result<()> {
        self.ensure_dir("tmp")?;
        if let Some((parent, _)) = name.rsplit_once('/') {
            self.ensure_dir(parent)?;
        }
        let mut rnd = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut rnd);
        let tmp = self.full(&format!("tmp/{}", hex::encode(rnd)));
        let dest = self.full(name);
        self.with(&format!("writing {name}"), async |s| {
            let mut f = s
                .open_with_flags(
                    tmp.as_str(),
                    OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE | OpenFlags::EXCLUDE,
                )
                .await?;
            f.write_all(data).await.map_err(SftpError::from)?;
            // fsync@openssh.com where offered; a server without it still wrote the bytes.
            let _ = f.sync_all().await;
            f.shutdown().await.map_err(SftpError::from)?;
            // SFTP v3 rename refuses an existing target: remove it first for `config` and
            // keys; content-named files of the same name hold the same bytes anyway.
            match s.rename(tmp.as_str(), dest.as_str()).await {
                Ok(()) => Ok(()),
                Err(e) if s.try_exists(dest.as_str()).await.unwrap_or(false) => {
                    let _ = e;
                    let _ = s.remove_file(tmp.as_str()).await;
                    Ok(())
                }
                Err(e) => {
                    let _ = s.remove_file(tmp.as_str()).await;
                    Err(e)
                }
            }
        })
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let p = self.full(name);
        self.with(&format!("reading {name}"), async |s| {
            s.read(p.as_str()).await
        })
    }

    fn read_at(&self, name: &str, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let p = self.full(name);
        let n = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "length too large"))?;
        let res = self.with_conn(&format!("reading {name}"), async |c| {
            let handle = c
                .reads
                .open(p.as_str(), OpenFlags::READ, FileAttributes::empty())
                .await?
                .handle;
            let got = read_range(&c.reads, &handle, offset, n, c.read_len).await;
            // The reply to the close is not waited for: the server handles requests in order.
            let reads = c.reads.clone();
            self.rt.spawn(async move {
                let _ = reads.close(handle).await;
            });
            got
        })?;
        if res.len() < n {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{name}: {len} bytes at {offset} asked, the file is shorter"),
            ));
        }
        Ok(res)
    }

    fn size(&self, name: &str) -> io::Result<u64> {
        let p = self.full(name);
        self.with(&format!("reading {name}"), async |s| {
            Ok(s.metadata(p.as_str()).await?.len())
        })
    }

    fn list(&self, dir: &str) -> io::Result<Vec<FileInfo>> {
        let base = self.full(dir);
        let dir = dir.to_string();
        let mut out = self.with(&format!("listing {dir}"), async |s| {
            let mut out = Vec::new();
            let mut stack = vec![(base.clone(), dir.clone())];
            while let Some((path, name)) = stack.pop() {
                let entries = match s.read_dir(path.as_str()).await {
                    Ok(e) => e,
                    Err(e) if is_status(&e, StatusCode::NoSuchFile) => continue,
                    Err(e) => return Err(e),
                };
                for entry in entries {
                    let file = entry.file_name();
                    if file == "." || file == ".." {
                        continue;
                    }
                    let meta = entry.metadata();
                    let child = format!("{name}/{file}");
                    if meta.file_type().is_dir() {
                        stack.push((format!("{path}/{file}"), child));
                    } else if meta.file_type().is_file() {
                        out.push(FileInfo {
                            name: child,
                            size: meta.len(),
                            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                        });
                    }
                }
            }
            Ok(out)
        })?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let p = self.full(name);
        self.with(&format!("removing {name}"), async |s| {
            match s.remove_file(p.as_str()).await {
                Err(e) if is_status(&e, StatusCode::NoSuchFile) => Ok(()),
                r => r,
            }
        })
    }

    fn exists(&self, name: &str) -> io::Result<bool> {
        let p = self.full(name);
        self.with(&format!("reading {name}"), async |s| {
            s.try_exists(p.as_str()).await
        })
    }
}
