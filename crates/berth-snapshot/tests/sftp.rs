//! The SFTP store against a real OpenSSH server (a throwaway `sshd` from `$BERTH_TEST_SSHD`,
//! scripts/setup.d/60-snapshot.sh, on a free 127.0.0.1 port): ranged reads return exactly the
//! bytes asked whatever their size and alignment, from several threads at once, and fail past
//! the end of a file; a repository restores over SFTP, an intact chunk of a cut-short pack too.

#[path = "../../../testing/tool.rs"]
mod tool;

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_snapshot::{
    Backend, BackupOptions, ChunkerParams, Error, HostKeyCheck, InitOptions, KdfParams, Repository,
    RestoreOptions, Secret, SftpAuth, SftpBackend, SftpLocation, SftpOptions,
};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

/// A throwaway sshd; killed on drop.
struct Sshd {
    dir: PathBuf,
    port: u16,
    child: Child,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(c: &mut Command) {
    let o = c.output().expect("run a tool");
    assert!(o.status.success(), "{c:?}: {o:?}");
}

impl Sshd {
    fn start(bin: &Path, dir: &Path) -> Sshd {
        fs::create_dir_all(dir).unwrap();
        let _ = fs::create_dir_all("/run/sshd");
        for k in ["host_key", "client_key"] {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.join(k)));
        }
        fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        fs::write(
            dir.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\n",
                dir.join("host_key").display(),
                dir.join("sshd.pid").display(),
                dir.join("authorized_keys").display(),
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("-D")
            .arg("-f")
            .arg(dir.join("sshd_config"))
            .arg("-E")
            .arg(dir.join("sshd.log"))
            .spawn()
            .expect("start sshd");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        let pubkey = fs::read_to_string(dir.join("host_key.pub")).unwrap();
        let mut parts = pubkey.split_whitespace();
        let (alg, key) = (parts.next().unwrap(), parts.next().unwrap());
        fs::write(
            dir.join("known_hosts"),
            format!("[127.0.0.1]:{port} {alg} {key}\n"),
        )
        .unwrap();
        Sshd {
            dir: dir.to_path_buf(),
            port,
            child,
        }
    }

    /// A backend for the directory `path` on this server.
    fn backend(&self, path: &Path) -> Arc<SftpBackend> {
        let user = Command::new("id").arg("-un").output().unwrap().stdout;
        let loc = SftpLocation {
            user: String::from_utf8_lossy(&user).trim().to_string(),
            host: "127.0.0.1".into(),
            port: self.port,
            path: path.display().to_string(),
        };
        let opts = SftpOptions {
            auth: SftpAuth::Key {
                path: self.dir.join("client_key"),
                passphrase: None,
            },
            host_key: HostKeyCheck::KnownHosts(self.dir.join("known_hosts")),
        };
        Arc::new(SftpBackend::new(loc, opts).unwrap())
    }
}

fn seed() -> u64 {
    let seed = std::env::var("BERTH_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    println!("seed = {seed} (rerun with BERTH_TEST_SEED={seed})");
    seed
}

#[test]
fn ranged_reads_return_exactly_the_bytes_asked_and_fail_past_the_end() {
    let Some(bin) = tool::tool("BERTH_TEST_SSHD") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let sshd = Sshd::start(&bin, &tmp.path().join("sshd"));
    let b = sshd.backend(&tmp.path().join("store"));
    let mut rng = StdRng::seed_from_u64(seed());
    // Not a multiple of any request size; OpenSSH answers at most 255 KiB per request.
    let mut data = vec![0u8; 5_000_003];
    rng.fill_bytes(&mut data);
    b.write("packs/ab/file", &data).unwrap();
    assert_eq!(b.read("packs/ab/file").unwrap(), data);
    let n = data.len() as u64;
    let req = 255 * 1024u64;
    let mut cases = vec![
        (0, n),
        (1, n - 1),
        (0, 1),
        (n - 1, 1),
        (req - 1, 2),
        (req, req),
        (req - 7, 3 * req + 11),
        (12_345, 4 << 20),
        (n, 0),
    ];
    for _ in 0..20 {
        let off = rng.gen_range(0..n);
        cases.push((off, rng.gen_range(0..=n - off)));
    }
    // Several threads share the connection, as restore's threads do.
    std::thread::scope(|s| {
        for part in cases.chunks(4) {
            let (b, data) = (&b, &data);
            s.spawn(move || {
                for &(off, len) in part {
                    let got = b.read_at("packs/ab/file", off, len).unwrap();
                    assert!(
                        got == data[off as usize..(off + len) as usize],
                        "{len} bytes at {off}"
                    );
                }
            });
        }
    });
    for (off, len) in [(n - 10, 11), (n, 1), (n + 5, 1), (0, n + 1), (req, n)] {
        let e = b.read_at("packs/ab/file", off, len).unwrap_err();
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::InvalidData,
            "{len} at {off}: {e}"
        );
    }
    assert_eq!(
        b.read_at("packs/ab/absent", 0, 10).unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
}

fn listing(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if p.is_dir() {
                stack.push(p);
                out.insert(rel, vec![]);
            } else {
                out.insert(rel, fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The pack files of a repository directory.
fn packs(store: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![store.join("packs")];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_repository_restores_over_sftp_and_so_does_an_intact_chunk_of_a_cut_short_pack() {
    let Some(bin) = tool::tool("BERTH_TEST_SSHD") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let sshd = Sshd::start(&bin, &tmp.path().join("sshd"));
    let store = tmp.path().join("store");
    let secret = Secret::Password("sftp test".into());
    let init = InitOptions {
        chunker: ChunkerParams {
            min: 4096,
            avg: 16384,
            max: 65536,
        },
        kdf: KdfParams {
            m_cost_kib: 256,
            t_cost: 1,
            p_cost: 1,
        },
    };
    let repo = Repository::init(sshd.backend(&store), &secret, &init).unwrap();
    let mut rng = StdRng::seed_from_u64(seed());
    let src = tmp.path().join("src");
    for d in 0..5 {
        fs::create_dir_all(src.join(format!("d{d}"))).unwrap();
        for f in 0..20 {
            let mut data = vec![0u8; rng.gen_range(0..200_000)];
            rng.fill_bytes(&mut data);
            fs::write(src.join(format!("d{d}/f{f}")), &data).unwrap();
        }
    }
    let sum = repo.backup_dir(&src, &BackupOptions::default()).unwrap();
    let out = tmp.path().join("out");
    repo.restore(&sum.snapshot_id, &out).unwrap();
    assert_eq!(listing(&src), listing(&out));

    // One small stream and a large one in a single pack, cut in the middle: the small one
    // still restores (its read window runs past the end; the exact range is read then).
    let before = packs(&store);
    let mut w = repo.writer().unwrap();
    w.add_stream("a", &b"first, small"[..]).unwrap();
    let mut big = vec![0u8; 400_000];
    rng.fill_bytes(&mut big);
    w.add_stream("b", &big[..]).unwrap();
    let streams = w.finish(&BackupOptions::default()).unwrap();
    let new: Vec<PathBuf> = packs(&store)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    let newest = &new[0];
    let len = fs::metadata(newest).unwrap().len();
    fs::File::options()
        .write(true)
        .open(newest)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let opts = RestoreOptions {
        include: vec!["a".into()],
        root: None,
    };
    let out_a = tmp.path().join("out-a");
    repo.restore_with(&streams.snapshot_id, &out_a, &opts)
        .unwrap();
    assert_eq!(fs::read(out_a.join("a")).unwrap(), b"first, small");
    let err = repo
        .restore(&streams.snapshot_id, &tmp.path().join("out-all"))
        .unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
}
