//! Repository behaviour end to end on a local directory backend.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use berth_snapshot::{
    BackupOptions, CheckOptions, ChunkerParams, Error, InitOptions, KdfParams, LocalBackend,
    PruneOptions, Repository, RetentionPolicy, Secret,
};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

const PASSWORD: &str = "correct horse battery staple";

fn opts() -> InitOptions {
    // Small chunks so that test files span many chunks; cheap Argon2 so tests stay fast.
    InitOptions {
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
    }
}

fn init(dir: &Path) -> Repository {
    Repository::init(
        Arc::new(LocalBackend::new(dir)),
        &Secret::Password(PASSWORD.into()),
        &opts(),
    )
    .unwrap()
}

fn open(dir: &Path) -> Repository {
    Repository::open(
        Arc::new(LocalBackend::new(dir)),
        &Secret::Password(PASSWORD.into()),
    )
    .unwrap()
}

fn seed() -> u64 {
    let seed = std::env::var("BERTH_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    println!("seed = {seed} (rerun with BERTH_TEST_SEED={seed})");
    seed
}

/// A tree of nested directories, files from empty to ~300 KB (half text-like), links.
fn gen_tree(root: &Path, rng: &mut StdRng) {
    fs::create_dir_all(root).unwrap();
    let words: Vec<&str> = "alpha beta gamma delta pod volume claim secret config map deploy"
        .split(' ')
        .collect();
    for d in 0..4 {
        let dir = root.join(format!("dir{d}/sub{}", d % 2));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..6 {
            let size = match f {
                0 => 0,
                1 => rng.gen_range(1..100),
                _ => rng.gen_range(1000..300_000),
            };
            let mut data = vec![0u8; size];
            if rng.gen_bool(0.5) {
                rng.fill_bytes(&mut data);
            } else {
                let mut s = String::new();
                while s.len() < size {
                    s.push_str(words[rng.gen_range(0..words.len())]);
                    s.push(' ');
                }
                data.copy_from_slice(&s.as_bytes()[..size]);
            }
            let p = dir.join(format!("file{f}.bin"));
            fs::write(&p, &data).unwrap();
            fs::set_permissions(
                &p,
                fs::Permissions::from_mode(if f == 3 { 0o755 } else { 0o640 }),
            )
            .unwrap();
        }
    }
    // A duplicate file, and links inside the tree.
    fs::copy(root.join("dir1/sub1/file4.bin"), root.join("dir2/copy.bin")).unwrap();
    std::os::unix::fs::symlink("file2.bin", root.join("dir0/sub0/link")).unwrap();
    std::os::unix::fs::symlink("../../dir1", root.join("dir3/sub1/up")).unwrap();
}

/// Path → (kind, mode, contents or link target).
fn tree_listing(root: &Path) -> BTreeMap<String, (char, u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for e in walkdir_like(root) {
        let rel = e.strip_prefix(root).unwrap().to_str().unwrap().to_string();
        let m = fs::symlink_metadata(&e).unwrap();
        let entry = if m.file_type().is_symlink() {
            (
                'l',
                0,
                fs::read_link(&e)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .as_bytes()
                    .to_vec(),
            )
        } else if m.is_dir() {
            ('d', m.permissions().mode() & 0o7777, vec![])
        } else {
            ('f', m.permissions().mode() & 0o7777, fs::read(&e).unwrap())
        };
        out.insert(rel, entry);
    }
    out
}

fn walkdir_like(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

fn files_under(repo_dir: &Path, dir: &str) -> Vec<String> {
    let mut out: Vec<String> = walkdir_like(&repo_dir.join(dir))
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            p.strip_prefix(repo_dir)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn generated_tree_round_trips() {
    let mut rng = StdRng::seed_from_u64(seed());
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    gen_tree(&src, &mut rng);
    let repo = init(&tmp.path().join("repo"));
    let sum = repo.backup_dir(&src, &BackupOptions::default()).unwrap();
    assert!(sum.stats.new_chunks > 20, "{:?}", sum.stats);
    // The duplicate file's chunks were stored once.
    assert!(sum.stats.new_chunks < sum.stats.chunks, "{:?}", sum.stats);

    let repo = open(&tmp.path().join("repo"));
    let out = tmp.path().join("out");
    let r = repo.restore(&sum.snapshot_id[..8], &out).unwrap();
    assert_eq!(r.symlinks, 2);
    assert_eq!(tree_listing(&src), tree_listing(&out));
    let report = repo.check(CheckOptions { read_data: true }).unwrap();
    assert!(report.is_ok() && report.warnings.is_empty(), "{report:?}");
    assert_eq!(report.snapshots, 1);

    // Restoring over existing files is refused.
    assert!(matches!(
        repo.restore(&sum.snapshot_id, &out),
        Err(Error::TargetNotEmpty(_))
    ));
}

#[test]
fn named_streams_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = init(&tmp.path().join("repo"));
    let mut w = repo.writer().unwrap();
    let dump: Vec<u8> = (0..200_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    w.add_stream("objects/deployment/web.yaml", &b"kind: Deployment\n"[..])
        .unwrap();
    w.add_stream("volumes/data/dump.sql", &dump[..]).unwrap();
    assert!(matches!(
        w.add_stream("../evil", &b"x"[..]),
        Err(Error::UnsafePath { .. })
    ));
    let sum = w
        .finish(&BackupOptions {
            tags: vec!["app".into()],
            ..Default::default()
        })
        .unwrap();
    let out = tmp.path().join("out");
    repo.restore(&sum.snapshot_id, &out).unwrap();
    assert_eq!(
        fs::read(out.join("objects/deployment/web.yaml")).unwrap(),
        b"kind: Deployment\n"
    );
    assert_eq!(fs::read(out.join("volumes/data/dump.sql")).unwrap(), dump);
    let list = repo.snapshots().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].snapshot.tags, vec!["app".to_string()]);
}

#[test]
fn second_backup_stores_only_new_chunks() {
    let mut rng = StdRng::seed_from_u64(seed());
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    gen_tree(&src, &mut rng);
    let repo_dir = tmp.path().join("repo");
    let repo = init(&repo_dir);
    let first = repo.backup_dir(&src, &BackupOptions::default()).unwrap();
    let packs_before = files_under(&repo_dir, "packs");
    let contents_before: Vec<Vec<u8>> = packs_before
        .iter()
        .map(|p| fs::read(repo_dir.join(p)).unwrap())
        .collect();

    // Unchanged: nothing new at all, in a new run of a newly opened repository.
    let repo = open(&repo_dir);
    let same = repo.backup_dir(&src, &BackupOptions::default()).unwrap();
    assert_eq!(
        (
            same.stats.new_chunks,
            same.stats.packs,
            same.stats.stored_bytes
        ),
        (0, 0, 0),
        "{:?}",
        same.stats
    );
    assert_eq!(same.stats.chunks, first.stats.chunks);
    // The parent snapshot spared reading every file; reading them all finds nothing new either.
    assert_eq!(
        same.stats.unchanged_files, first.stats.files,
        "{:?}",
        same.stats
    );
    let forced = repo
        .backup_dir(
            &src,
            &BackupOptions {
                read_all: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        (forced.stats.unchanged_files, forced.stats.new_chunks),
        (0, 0),
        "{:?}",
        forced.stats
    );
    assert_eq!(forced.stats.bytes_read, first.stats.bytes_read);

    // Change 100 bytes in the middle of the largest file: only the chunks around it are new.
    let mut largest = (0, src.clone());
    for p in walkdir_like(&src) {
        let m = fs::symlink_metadata(&p).unwrap();
        if m.is_file() && m.len() > largest.0 {
            largest = (m.len(), p);
        }
    }
    let mut data = fs::read(&largest.1).unwrap();
    let mid = data.len() / 2;
    rng.fill_bytes(&mut data[mid..mid + 100]);
    fs::write(&largest.1, &data).unwrap();
    let second = repo.backup_dir(&src, &BackupOptions::default()).unwrap();
    assert!(
        (1..=3).contains(&second.stats.new_chunks),
        "{:?}",
        second.stats
    );
    assert!(second.stats.new_bytes < 4 * 65536, "{:?}", second.stats);
    assert_eq!(second.stats.packs, 1);
    assert_eq!(
        second.stats.unchanged_files,
        first.stats.files - 1,
        "only the changed file is read"
    );
    // Earlier packs are untouched; one pack was added.
    let packs_after = files_under(&repo_dir, "packs");
    assert_eq!(packs_after.len(), packs_before.len() + 1);
    for (p, c) in packs_before.iter().zip(&contents_before) {
        assert_eq!(&fs::read(repo_dir.join(p)).unwrap(), c, "{p} changed");
    }
    let out = tmp.path().join("out");
    repo.restore(&second.snapshot_id, &out).unwrap();
    assert_eq!(tree_listing(&src), tree_listing(&out));
}

#[test]
fn wrong_password_is_refused_and_keys_can_be_added_and_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    let repo = init(&dir);
    let backend = || Arc::new(LocalBackend::new(&dir));
    let wrong = Repository::open(
        backend(),
        &Secret::Password("Correct horse battery staple".into()),
    );
    assert!(matches!(wrong, Err(Error::WrongKey)), "{:?}", wrong.err());
    let key_file = vec![7u8; 32];
    assert!(matches!(
        Repository::open(backend(), &Secret::KeyFile(key_file.clone())),
        Err(Error::WrongKey)
    ));

    let first = repo.list_keys().unwrap();
    assert_eq!(first.len(), 1);
    let kf_id = repo
        .add_key(&Secret::KeyFile(key_file.clone()), KdfParams::default())
        .unwrap();
    let by_file = Repository::open(backend(), &Secret::KeyFile(key_file.clone())).unwrap();
    let sum = by_file
        .backup_dir(
            tmp.path().join("repo").join("keys").as_path(),
            &BackupOptions::default(),
        )
        .unwrap();
    // The password still opens the same data.
    assert_eq!(
        open(&dir).snapshot(&sum.snapshot_id).unwrap().id,
        sum.snapshot_id
    );

    // Rotate: remove the password key; only the key file opens now.
    by_file.remove_key(&first[0]).unwrap();
    assert!(matches!(
        Repository::open(backend(), &Secret::Password(PASSWORD.into())),
        Err(Error::WrongKey)
    ));
    assert!(
        matches!(by_file.remove_key(&kf_id), Err(Error::Invalid(_))),
        "last key removed"
    );
    assert!(
        Repository::init(backend(), &Secret::Password("x".into()), &opts()).is_err(),
        "init twice"
    );
    let none = Repository::open(
        Arc::new(LocalBackend::new(tmp.path().join("nothing"))),
        &Secret::Password("x".into()),
    );
    assert!(matches!(none, Err(Error::NotARepository(_))));
}

#[test]
fn flipped_byte_in_a_pack_is_found_by_check_and_restore() {
    let mut rng = StdRng::seed_from_u64(seed());
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    gen_tree(&src, &mut rng);
    let repo_dir = tmp.path().join("repo");
    let repo = init(&repo_dir);
    let sum = repo.backup_dir(&src, &BackupOptions::default()).unwrap();
    let packs = files_under(&repo_dir, "packs");
    let victim = &packs[0];
    let path = repo_dir.join(victim);
    let mut bytes = fs::read(&path).unwrap();
    let at = rng.gen_range(0..bytes.len() / 2);
    bytes[at] ^= 0x01;
    fs::write(&path, &bytes).unwrap();

    let pack_name = victim.rsplit('/').next().unwrap();
    let report = repo.check(CheckOptions { read_data: true }).unwrap();
    assert!(!report.is_ok());
    assert!(
        report.errors.iter().any(|e| e.contains(pack_name)),
        "{report:?}"
    );
    let err = repo
        .restore(&sum.snapshot_id, &tmp.path().join("out"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { file, .. } if file.contains(pack_name)),
        "{err}"
    );

    // A flipped byte in the header is found even without --read-data.
    let len = bytes.len();
    bytes[at] ^= 0x01;
    bytes[len - 10] ^= 0x80;
    fs::write(&path, &bytes).unwrap();
    let report = repo.check(CheckOptions::default()).unwrap();
    assert!(
        report.errors.iter().any(|e| e.contains(pack_name)),
        "{report:?}"
    );
}

/// Simulates a crash of the second backup while it wrote its newest pack or index file, on a
/// store without atomic writes: that file is cut short and nothing after it was written.
fn crash_case(which: &str, cut_fraction: f64, rng: &mut StdRng) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    gen_tree(&src, rng);
    let repo_dir = tmp.path().join("repo");
    let repo = init(&repo_dir);
    let first = repo.backup_dir(&src, &BackupOptions::default()).unwrap();
    let before = files_under(&repo_dir, which);
    let index_before = files_under(&repo_dir, "index");
    // New data for the second backup.
    let mut extra = vec![0u8; 400_000];
    rng.fill_bytes(&mut extra);
    fs::write(src.join("dir0/new.bin"), &extra).unwrap();
    let second = repo.backup_dir(&src, &BackupOptions::default()).unwrap();
    fs::remove_file(repo_dir.join("snapshots").join(&second.snapshot_id)).unwrap();
    let newest = files_under(&repo_dir, which)
        .into_iter()
        .find(|f| !before.contains(f))
        .unwrap();
    if which == "packs" {
        // The crash hit while the pack was written, so its index file was never written.
        for f in files_under(&repo_dir, "index")
            .into_iter()
            .filter(|f| !index_before.contains(f))
        {
            fs::remove_file(repo_dir.join(f)).unwrap();
        }
    }
    let path = repo_dir.join(&newest);
    let len = fs::metadata(&path).unwrap().len();
    let cut = (len as f64 * cut_fraction) as u64;
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(cut)
        .unwrap();
    println!("{which}: cut {newest} from {len} to {cut} bytes");

    let repo = open(&repo_dir);
    let report = repo.check(CheckOptions { read_data: true }).unwrap();
    assert!(report.is_ok(), "{which} cut at {cut}: {report:?}");
    assert!(!report.warnings.is_empty(), "the leftover is reported");
    let third = repo.backup_dir(&src, &BackupOptions::default()).unwrap();
    let report = repo.check(CheckOptions { read_data: true }).unwrap();
    assert!(report.is_ok(), "{report:?}");
    let out = tmp.path().join("out");
    repo.restore(&third.snapshot_id, &out).unwrap();
    assert_eq!(tree_listing(&src), tree_listing(&out));
    repo.restore(&first.snapshot_id, &tmp.path().join("out1"))
        .unwrap();
}

#[test]
fn crash_leaves_a_repository_that_checks_and_backs_up() {
    let mut rng = StdRng::seed_from_u64(seed());
    for fraction in [0.0, 0.01, 0.5, 0.999] {
        crash_case("packs", fraction, &mut rng);
        crash_case("index", fraction, &mut rng);
    }
}

#[test]
fn restore_does_not_create_links_out_of_the_target() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("a")).unwrap();
    fs::write(src.join("a/file"), b"data").unwrap();
    std::os::unix::fs::symlink("../../../etc/passwd", src.join("a/escape")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", src.join("a/absolute")).unwrap();
    std::os::unix::fs::symlink("file", src.join("a/inside")).unwrap();
    let repo = init(&tmp.path().join("repo"));
    let sum = repo.backup_dir(&src, &BackupOptions::default()).unwrap();
    let out = tmp.path().join("out");
    let r = repo.restore(&sum.snapshot_id, &out).unwrap();
    assert_eq!(
        r.refused_links,
        vec![
            "a/absolute -> /etc/passwd",
            "a/escape -> ../../../etc/passwd"
        ]
    );
    assert!(fs::symlink_metadata(out.join("a/escape")).is_err());
    assert!(fs::symlink_metadata(out.join("a/absolute")).is_err());
    assert_eq!(fs::read(out.join("a/inside")).unwrap(), b"data");
}

#[test]
fn forget_and_two_phase_prune_keep_what_snapshots_use() {
    let mut rng = StdRng::seed_from_u64(seed());
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("repo");
    let repo = init(&repo_dir);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    gen_tree(&a, &mut rng);
    gen_tree(&b, &mut rng);
    let t0: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let at = |days: i64| BackupOptions {
        time: Some(t0 + jiff::SignedDuration::from_hours(24 * days)),
        ..Default::default()
    };
    repo.backup_dir(&a, &at(0)).unwrap();
    let kept = repo.backup_dir(&b, &at(1)).unwrap();
    let grace = PruneOptions {
        grace: Duration::ZERO,
    };

    assert!(
        repo.forget(&RetentionPolicy::default(), false).is_err(),
        "empty policy refused"
    );
    let f = repo
        .forget(
            &RetentionPolicy {
                keep_last: 1,
                ..Default::default()
            },
            false,
        )
        .unwrap();
    assert_eq!(
        (f.keep.clone(), f.remove.len()),
        (vec![kept.snapshot_id.clone()], 1)
    );

    // Phase 1 condemns and deletes nothing.
    let packs = files_under(&repo_dir, "packs").len();
    let r1 = repo.prune(grace).unwrap();
    assert!(r1.condemned > 0 && r1.deleted_packs == 0, "{r1:?}");
    assert_eq!(files_under(&repo_dir, "packs").len(), packs);

    // A backup of `a` now stores its chunks again rather than reuse condemned packs.
    let again = repo.backup_dir(&a, &at(2)).unwrap();
    assert!(again.stats.new_chunks > 0, "{:?}", again.stats);

    // Phase 2 deletes the condemned packs; both snapshots still restore.
    let r2 = repo.prune(grace).unwrap();
    assert_eq!(r2.deleted_packs, r1.condemned, "{r2:?}");
    let report = repo.check(CheckOptions { read_data: true }).unwrap();
    assert!(report.is_ok() && report.warnings.is_empty(), "{report:?}");
    repo.restore(&again.snapshot_id, &tmp.path().join("ra"))
        .unwrap();
    repo.restore(&kept.snapshot_id, &tmp.path().join("rb"))
        .unwrap();
    assert_eq!(tree_listing(&a), tree_listing(&tmp.path().join("ra")));
    assert_eq!(tree_listing(&b), tree_listing(&tmp.path().join("rb")));
    assert_eq!(
        repo.prune(grace).unwrap(),
        Default::default(),
        "nothing left to prune"
    );
}

#[test]
fn missing_index_is_reported_by_check_and_rebuilt_from_pack_headers_by_prune() {
    let mut rng = StdRng::seed_from_u64(seed());
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    gen_tree(&src, &mut rng);
    let repo_dir = tmp.path().join("repo");
    let repo = init(&repo_dir);
    let sum = repo.backup_dir(&src, &BackupOptions::default()).unwrap();
    for f in files_under(&repo_dir, "index") {
        fs::remove_file(repo_dir.join(f)).unwrap();
    }
    let report = repo.check(CheckOptions::default()).unwrap();
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.contains("in no readable index")),
        "{report:?}"
    );
    assert!(
        repo.restore(&sum.snapshot_id, &tmp.path().join("broken"))
            .is_err()
    );

    let r = repo
        .prune(PruneOptions {
            grace: Duration::ZERO,
        })
        .unwrap();
    assert_eq!(r.deleted_packs, 0, "{r:?}");
    let report = repo.check(CheckOptions { read_data: true }).unwrap();
    assert!(report.is_ok() && report.warnings.is_empty(), "{report:?}");
    let out = tmp.path().join("out");
    repo.restore(&sum.snapshot_id, &out).unwrap();
    assert_eq!(tree_listing(&src), tree_listing(&out));
}

#[test]
fn two_clients_back_up_into_one_repository_at_once() {
    let mut rng = StdRng::seed_from_u64(seed());
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    gen_tree(&a, &mut rng);
    gen_tree(&b, &mut rng);
    // Shared content: both clients store these chunks, possibly both at once.
    fs::copy(a.join("dir1/sub1/file4.bin"), b.join("shared.bin")).unwrap();
    let repo_dir = tmp.path().join("repo");
    init(&repo_dir);
    let ids: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = [&a, &b]
            .into_iter()
            .map(|src| {
                let repo_dir = &repo_dir;
                s.spawn(move || {
                    open(repo_dir)
                        .backup_dir(src, &BackupOptions::default())
                        .unwrap()
                        .snapshot_id
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let repo = open(&repo_dir);
    let report = repo.check(CheckOptions { read_data: true }).unwrap();
    assert!(report.is_ok() && report.warnings.is_empty(), "{report:?}");
    for (id, src) in ids.iter().zip([&a, &b]) {
        let out = tmp.path().join(format!("out-{id}"));
        repo.restore(id, &out).unwrap();
        assert_eq!(tree_listing(src), tree_listing(&out));
    }
}

#[test]
fn a_lost_pack_is_reported_and_the_next_backup_stores_its_chunks_again() {
    let mut rng = StdRng::seed_from_u64(seed());
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    gen_tree(&src, &mut rng);
    let repo_dir = tmp.path().join("repo");
    let repo = init(&repo_dir);
    let first = repo.backup_dir(&src, &BackupOptions::default()).unwrap();
    let lost = files_under(&repo_dir, "packs").remove(0);
    fs::remove_file(repo_dir.join(&lost)).unwrap();
    let report = repo.check(CheckOptions::default()).unwrap();
    let name = lost.rsplit('/').next().unwrap();
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.contains(name) && e.contains("missing")),
        "{report:?}"
    );

    let second = repo.backup_dir(&src, &BackupOptions::default()).unwrap();
    assert!(second.stats.new_chunks > 0, "{:?}", second.stats);
    let out = tmp.path().join("out");
    repo.restore(&second.snapshot_id, &out).unwrap();
    assert_eq!(tree_listing(&src), tree_listing(&out));
    // The new copies heal the first snapshot too.
    let report = repo.check(CheckOptions { read_data: true }).unwrap();
    assert!(report.is_ok(), "{report:?}");
    let old = tmp.path().join("old");
    repo.restore(&first.snapshot_id, &old).unwrap();
    assert_eq!(tree_listing(&src), tree_listing(&old));
}

#[test]
fn an_intact_chunk_of_a_truncated_pack_still_restores() {
    // Restore reads packs through read-ahead windows; a window that runs past the end of a
    // cut-short pack must not make the intact chunks before the cut unreadable.
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("repo");
    let repo = init(&repo_dir);
    let mut w = repo.writer().unwrap();
    w.add_stream("a", &b"first, small"[..]).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let mut big = vec![0u8; 400_000];
    rng.fill_bytes(&mut big);
    w.add_stream("b", &big[..]).unwrap();
    let sum = w.finish(&BackupOptions::default()).unwrap();
    let packs = files_under(&repo_dir, "packs");
    assert_eq!(packs.len(), 1, "{packs:?}");
    let path = repo_dir.join(&packs[0]);
    let len = fs::metadata(&path).unwrap().len();
    let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);

    let out = tmp.path().join("out-a");
    let opts = berth_snapshot::RestoreOptions {
        include: vec!["a".into()],
        root: None,
    };
    repo.restore_with(&sum.snapshot_id, &out, &opts).unwrap();
    assert_eq!(fs::read(out.join("a")).unwrap(), b"first, small");
    let err = repo
        .restore(&sum.snapshot_id, &tmp.path().join("out-all"))
        .unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
}

#[test]
fn chunks_repeated_within_and_across_files_restore_with_every_file_mode_and_time() {
    // Restore reads each pack once and writes every chunk to each place it occurs: a chunk
    // repeated inside one file, the same file twice, files of chunks from two packs, and
    // read-only and empty files, with their times.
    let mut rng = StdRng::seed_from_u64(seed());
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("d")).unwrap();
    let mut block = vec![0u8; 150_000];
    rng.fill_bytes(&mut block);
    let repeated: Vec<u8> = block
        .iter()
        .copied()
        .cycle()
        .take(5 * block.len())
        .collect();
    let write = |name: &str, data: &[u8], mode: u32, secs: u64| {
        let p = src.join(name);
        if p.exists() {
            fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        }
        fs::write(&p, data).unwrap();
        let f = fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    };
    write("d/repeated.bin", &repeated, 0o444, 1_000_000_000);
    write("twin.bin", &repeated, 0o600, 1_100_000_000);
    write("empty", b"", 0o400, 1_200_000_000);
    let repo_dir = tmp.path().join("repo");
    let repo = init(&repo_dir);
    let first = repo.backup_dir(&src, &BackupOptions::default()).unwrap();
    assert!(
        first.stats.new_chunks * 2 < first.stats.chunks,
        "the repeated block should dedupe: {:?}",
        first.stats
    );
    // A second pack: part of the twin changes, the rest of it stays in the first pack.
    let mut changed = repeated.clone();
    rng.fill_bytes(&mut changed[400_000..420_000]);
    write("twin.bin", &changed, 0o640, 1_300_000_000);
    let second = repo.backup_dir(&src, &BackupOptions::default()).unwrap();
    assert_eq!(files_under(&repo_dir, "packs").len(), 2);

    for (snap, twin) in [
        (&first.snapshot_id, &repeated),
        (&second.snapshot_id, &changed),
    ] {
        let out = tmp.path().join(format!("out-{snap}"));
        let r = repo.restore(snap, &out).unwrap();
        assert_eq!(r.files, 3);
        assert_eq!(r.bytes, (repeated.len() + twin.len()) as u64);
        assert_eq!(&fs::read(out.join("d/repeated.bin")).unwrap(), &repeated);
        assert_eq!(&fs::read(out.join("twin.bin")).unwrap(), twin);
        assert_eq!(fs::read(out.join("empty")).unwrap(), b"");
        for name in ["d/repeated.bin", "twin.bin", "empty"] {
            let (want, got) = (
                fs::metadata(src.join(name)).unwrap(),
                fs::metadata(out.join(name)).unwrap(),
            );
            if snap == &second.snapshot_id || name != "twin.bin" {
                assert_eq!(
                    want.permissions().mode() & 0o7777,
                    got.permissions().mode() & 0o7777,
                    "{name}"
                );
                assert_eq!(want.modified().unwrap(), got.modified().unwrap(), "{name}");
            }
        }
    }
}
