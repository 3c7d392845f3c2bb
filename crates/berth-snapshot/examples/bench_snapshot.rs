//! Side-by-side benchmark: berth-snapshot against restic (the anchor) on the same tree, to a
//! local directory: first backup, a second unchanged backup, a full restore, repository size.
//!
//! Run: `cargo run --release -p berth-snapshot --example bench_snapshot [SOURCE_DIR]`
//! (default `/usr/share/doc`; restic from `BERTH_TEST_RESTIC` or `PATH`, see
//! scripts/setup.d/60-snapshot.sh).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use berth_snapshot::{BackupOptions, InitOptions, LocalBackend, Repository, Secret};

const PASSWORD: &str = "bench-password";

fn dir_size(p: &Path) -> u64 {
    walk(p)
        .iter()
        .filter_map(|f| std::fs::symlink_metadata(f).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    out
}

fn restic(bin: &str, repo: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new(bin)
        .args(["--repo", repo.to_str().unwrap_or_default(), "--quiet"])
        .args(args)
        .env("RESTIC_PASSWORD", PASSWORD)
        .env("RESTIC_CACHE_DIR", repo.with_extension("cache"))
        .output()
        .map_err(|e| format!("running {bin}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "restic {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn timed<T>(f: impl FnOnce() -> Result<T, String>) -> Result<f64, String> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

fn main() -> Result<(), String> {
    let source = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/usr/share/doc".into()),
    );
    let restic_bin = std::env::var("BERTH_TEST_RESTIC").unwrap_or_else(|_| "restic".into());
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let bytes = dir_size(&source);
    let mb = bytes as f64 / 1e6;
    println!(
        "source {} : {:.1} MB, {} entries",
        source.display(),
        mb,
        walk(&source).len()
    );

    // berth
    let brepo = work.path().join("berth-repo");
    let repo = Repository::init(
        Arc::new(LocalBackend::new(&brepo)),
        &Secret::Password(PASSWORD.into()),
        &InitOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    let b1 = timed(|| {
        repo.backup_dir(&source, &BackupOptions::default())
            .map_err(|e| e.to_string())
    })?;
    let mut last = String::new();
    let b2 = timed(|| {
        let s = repo
            .backup_dir(&source, &BackupOptions::default())
            .map_err(|e| e.to_string())?;
        last = s.snapshot_id;
        Ok(())
    })?;
    let b3 = timed(|| {
        repo.restore(&last, &work.path().join("berth-out"))
            .map_err(|e| e.to_string())
    })?;
    let bsize = dir_size(&brepo);

    // restic 0.14 (repository v2, zstd "auto")
    let rrepo = work.path().join("restic-repo");
    restic(&restic_bin, &rrepo, &["init"])?;
    let src = source.to_str().unwrap_or_default();
    let r1 = timed(|| restic(&restic_bin, &rrepo, &["backup", src]))?;
    let r2 = timed(|| restic(&restic_bin, &rrepo, &["backup", src]))?;
    let rout = work.path().join("restic-out");
    let r3 = timed(|| {
        restic(
            &restic_bin,
            &rrepo,
            &[
                "restore",
                "latest",
                "--target",
                rout.to_str().unwrap_or_default(),
            ],
        )
    })?;
    let rsize = dir_size(&rrepo);

    println!(
        "{:<26} {:>10} {:>10} {:>22}",
        "", "berth", "restic", "ratio (restic/berth)"
    );
    for (name, b, r) in [
        ("first backup (s)", b1, r1),
        ("unchanged backup (s)", b2, r2),
        ("restore (s)", b3, r3),
    ] {
        println!("{name:<26} {b:>10.2} {r:>10.2} {:>22.2}", r / b);
    }
    println!(
        "{:<26} {:>10.1} {:>10.1}",
        "first backup (MB/s)",
        mb / b1,
        mb / r1
    );
    println!(
        "{:<26} {:>10.1} {:>10.1}",
        "restore (MB/s)",
        mb / b3,
        mb / r3
    );
    println!(
        "{:<26} {:>10.1} {:>10.1} {:>22.2}",
        "repository (MB)",
        bsize as f64 / 1e6,
        rsize as f64 / 1e6,
        rsize as f64 / bsize as f64
    );
    Ok(())
}
