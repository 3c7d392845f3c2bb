//! Time the rpm database cataloger against rpm itself, SQLite itself and the decompression
//! floor, side by side: `cargo run --release -p berth-scan --example bench_rpmdb -- DB…`
//! where each DB is an `rpmdb.sqlite`, `Packages` or `Packages.db` file (a `-wal` beside an
//! sqlite file is read too; a `.gz` is decompressed first).
//!
//! Per database: berth's `catalog::rpm::parse_db` (median of 15 runs, the file already in
//! memory), an in-process gunzip of the file gzip-compressed as a layer would carry it (the
//! floor any image scanner pays to get at it), and, when on PATH, `rpm -qa` over a copy of
//! the database (rpm's own reader: the sqlite backend, or bdb_ro for Berkeley DB; not ndb,
//! which Debian's rpm is built without) and
//! `sqlite3 … "SELECT length(blob) FROM Packages"` (SQLite reading every header), each the
//! median of 5 process runs.

use berth_scan::catalog::rpm;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time_cmd(n: usize, mut cmd: impl FnMut() -> Command) -> Option<Duration> {
    let mut out = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let st = cmd()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        if !st.success() {
            return None;
        }
        out.push(t.elapsed());
    }
    Some(median(out))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        return Err("usage: bench_rpmdb DB [DB…]".into());
    }
    println!(
        "| database | format | size | packages | berth parse_db | gunzip floor | rpm -qa | sqlite3 SELECT |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for p in paths {
        let mut data = std::fs::read(&p)?;
        if p.ends_with(".gz") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&data[..]).read_to_end(&mut out)?;
            data = out;
        }
        let wal = std::fs::read(format!("{p}-wal")).ok();
        let format = rpm::Format::sniff(&data).ok_or("not an rpm database")?;
        let mut runs = Vec::new();
        let mut n = 0;
        for _ in 0..15 {
            let t = Instant::now();
            n = rpm::parse_db(&data, wal.as_deref(), &p)?.len();
            runs.push(t.elapsed());
        }
        let ours = median(runs);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&data)?;
        let gz = gz.finish()?;
        let t = Instant::now();
        let mut sink = Vec::with_capacity(data.len());
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut sink)?;
        let floor = t.elapsed();
        // rpm and sqlite3 over a copy in a directory of its own.
        let dir = tempfile::tempdir()?;
        let name = match format {
            rpm::Format::Sqlite => "rpmdb.sqlite",
            rpm::Format::BerkeleyDb => "Packages",
            rpm::Format::Ndb => "Packages.db",
        };
        std::fs::write(dir.path().join(name), &data)?;
        let dbdir = dir.path().to_path_buf();
        let backend = match format {
            rpm::Format::Sqlite => "sqlite",
            rpm::Format::BerkeleyDb => "bdb_ro",
            rpm::Format::Ndb => "ndb",
        };
        // Debian's rpm has no ndb backend (it would read an empty dummy database).
        let rpm_t = (format != rpm::Format::Ndb)
            .then(|| {
                time_cmd(5, || {
                    let mut c = Command::new("rpm");
                    c.arg("--define")
                        .arg(format!("_db_backend {backend}"))
                        .arg("--dbpath")
                        .arg(&dbdir)
                        .args([
                            "-qa",
                            "--qf",
                            "%{NAME} %{EVR} %{ARCH} %{SOURCERPM} %{LICENSE}\n",
                        ]);
                    c
                })
            })
            .flatten();
        let sql_t = (format == rpm::Format::Sqlite)
            .then(|| {
                time_cmd(5, || {
                    let mut c = Command::new("sqlite3");
                    c.arg(Path::new(&dbdir).join(name))
                        .arg("SELECT length(blob) FROM Packages");
                    c
                })
            })
            .flatten();
        println!(
            "| {p} | {format:?} | {:.1} MB | {n} | {} | {} | {} | {} |",
            data.len() as f64 / 1e6,
            ms(ours),
            ms(floor),
            rpm_t.map(ms).unwrap_or_else(|| "n/a".into()),
            sql_t.map(ms).unwrap_or_else(|| "n/a".into()),
        );
    }
    Ok(())
}
