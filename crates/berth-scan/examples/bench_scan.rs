//! The scan benchmark, side by side in one run:
//! `cargo run -p berth-scan --example bench_scan -- WORKDIR [OSV_DIR] [SECDB_FILE…]`.
//!
//! 1. A release-like OCI layout of five images made from this machine's own files (a shared
//!    base with the dpkg database and `usr/lib/x86_64-linux-gnu`, then `usr/lib/jvm`,
//!    `usr/lib/chromium`, `usr/lib/llvm-14`, `usr/bin` + Python + node_modules), written once
//!    into WORKDIR/release (gzip level 1).
//! 2. The decompression floor: `zcat` of every unique layer blob to /dev/null, and an
//!    in-process gunzip of each to nothing.
//! 3. A cold scan (empty layer cache) and a re-scan of the same layers (warm cache).
//! 4. A database build from OSV_DIR (e.g. pypa/advisory-database's `vulns`) and the secdb
//!    files, and matching 10,000 packages against it (`--match-only`: this step alone).

use berth_oci::{Layout, generate, model::Platform};
use berth_scan::catalog::{Catalog, Distro, Package, PackageType};
use berth_scan::image::{LayerCache, Limits};
use berth_scan::osv::VulnDb;
use berth_scan::{report, sources, vulndb};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn layer_of(dirs: &[(&str, &str)]) -> Res<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    b.follow_symlinks(false);
    for (src, dst) in dirs {
        let p = Path::new(src);
        if p.is_dir() {
            b.append_dir_all(dst, p)?;
        } else if p.is_file() {
            b.append_path_with_name(p, dst)?;
        }
    }
    Ok(b.into_inner()?.finish()?)
}

fn build(dir: &Path) -> Res<()> {
    let layout = Layout::create(dir)?;
    let amd = Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: None,
    };
    let t = Instant::now();
    let base = layer_of(&[
        ("/etc/os-release", "etc/os-release"),
        ("/var/lib/dpkg/status", "var/lib/dpkg/status"),
        ("/usr/lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"),
    ])?;
    let apps: [(&str, &[(&str, &str)]); 4] = [
        ("jvm", &[("/usr/lib/jvm", "usr/lib/jvm")]),
        ("chromium", &[("/usr/lib/chromium", "usr/lib/chromium")]),
        ("llvm", &[("/usr/lib/llvm-14", "usr/lib/llvm-14")]),
        (
            "tools",
            &[
                ("/usr/bin", "usr/bin"),
                ("/usr/lib/python3", "usr/lib/python3"),
                ("/usr/lib/node_modules", "usr/lib/node_modules"),
            ],
        ),
    ];
    let d = generate::write_image(&layout, std::slice::from_ref(&base), &amd)?;
    generate::tag(&layout, d, "base")?;
    for (name, dirs) in apps {
        let l = layer_of(dirs)?;
        let d = generate::write_image(&layout, &[base.clone(), l], &amd)?;
        generate::tag(&layout, d, name)?;
    }
    println!(
        "built the release layout in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn blobs(dir: &Path) -> Res<Vec<(PathBuf, u64)>> {
    let layout = Layout::open(dir)?;
    let mut seen = std::collections::BTreeMap::new();
    for img in berth_scan::image::layout_images(&layout)? {
        let m = berth_oci::model::parse_manifest("m", &layout.read_manifest_blob(&img.manifest)?)?;
        for l in m.layers {
            seen.insert(layout.blob_path(&l.digest), l.size);
        }
    }
    Ok(seen.into_iter().collect())
}

fn main() -> Res<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `--match-only`: skip the release (steps 1-3), build the database and match.
    let match_only = args.iter().any(|a| a == "--match-only");
    args.retain(|a| a != "--match-only");
    let work = PathBuf::from(
        args.first()
            .ok_or("usage: bench_scan WORKDIR [OSV_DIR] [SECDB…] [--match-only]")?,
    );
    if !match_only {
        scan_release(&work)?;
    }
    match_packages(&work, &args)
}

/// Steps 1-3: the release, the decompression floor, a cold scan and a re-scan.
fn scan_release(work: &Path) -> Res<()> {
    let rel = work.join("release");
    if !rel.join("index.json").is_file() {
        build(&rel)?;
    }
    let blobs = blobs(&rel)?;
    let total: u64 = blobs.iter().map(|(_, s)| s).sum();
    println!(
        "release: 5 images, {} unique layers, {:.2} GiB compressed",
        blobs.len(),
        total as f64 / (1u64 << 30) as f64
    );

    let t = Instant::now();
    for (p, _) in &blobs {
        let st = std::process::Command::new("zcat")
            .stdin(std::fs::File::open(p)?)
            .stdout(std::process::Stdio::null())
            .status()?;
        if !st.success() {
            return Err(format!("zcat {}", p.display()).into());
        }
    }
    let zcat = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut buf = vec![0u8; 256 << 10];
    for (p, _) in &blobs {
        let mut d =
            flate2::read::MultiGzDecoder::new(std::io::BufReader::new(std::fs::File::open(p)?));
        while d.read(&mut buf)? > 0 {}
    }
    let gunzip = t.elapsed().as_secs_f64();

    let db = VulnDb::new();
    let cache = LayerCache::new();
    let limits = Limits::default();
    let t = Instant::now();
    let rep = report::scan_layout(&rel, &db, Some(&cache), &limits)?;
    let cold = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let rep2 = report::scan_layout(&rel, &db, Some(&cache), &limits)?;
    let warm = t.elapsed().as_secs_f64();
    assert_eq!(rep, rep2);
    let pkgs: usize = rep.targets.iter().map(|t| t.packages.len()).sum();
    println!("| step | time | vs zcat floor |");
    println!("|---|---|---|");
    println!("| zcat of every layer to /dev/null (floor) | {zcat:.2} s | 1.00x |");
    println!(
        "| in-process gunzip of every layer | {gunzip:.2} s | {:.2}x |",
        gunzip / zcat
    );
    println!(
        "| cold scan, 5 images ({pkgs} packages) | {cold:.2} s | {:.2}x |",
        cold / zcat
    );
    println!("| re-scan, layers known | {:.1} ms | |", warm * 1000.0);
    for t in &rep.targets {
        let kinds: std::collections::BTreeMap<String, usize> =
            t.packages.iter().fold(Default::default(), |mut m, p| {
                *m.entry(format!("{:?}", p.kind)).or_default() += 1;
                m
            });
        println!(
            "  {}: {kinds:?}, not scanned {}",
            t.name,
            t.not_scanned.len()
        );
    }

    Ok(())
}

/// Step 4: the database build from OSV_DIR and the secdb files, and matching 10,000 packages.
fn match_packages(work: &Path, args: &[String]) -> Res<()> {
    let Some(osv_dir) = args.get(1) else {
        return Ok(());
    };
    let t = Instant::now();
    let osv = sources::osv_path(Path::new(osv_dir))?;
    let mut native = Vec::new();
    for f in &args[2..] {
        native.extend(sources::alpine_secdb(&std::fs::read(f)?, f)?);
    }
    let n_in = osv.len() + native.len();
    let records = vulndb::merge(osv, native);
    let key = berth_oci::keys::SigningKey::from_bytes(&[7; 32]);
    let out = work.join("vuln.db");
    let h = vulndb::write(&out, &records, vec![], &key, jiff::Timestamp::now())?;
    let build_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (_, db) = vulndb::open(&out, &key.verifying_key())?;
    let open_s = t.elapsed().as_secs_f64();
    println!(
        "| database build: {n_in} input records → {} records, {} bytes | {build_s:.2} s | |",
        h.records, h.payload_size
    );
    println!("| database open (verify + load) | {open_s:.2} s | |");

    // 10,000 packages: every PyPI name the database knows, at a low version, repeated.
    let mut names: Vec<String> = records
        .iter()
        .flat_map(|r| r.affected.iter())
        .filter_map(|a| a.package.as_ref())
        .filter(|p| p.ecosystem == "PyPI")
        .map(|p| p.name.clone())
        .collect();
    names.sort();
    names.dedup();
    let packages: Vec<Package> = (0..10_000)
        .map(|i| Package {
            kind: PackageType::Python,
            name: names
                .get(i % names.len().max(1))
                .cloned()
                .unwrap_or_default(),
            version: format!("0.{}.{}", i % 7, i % 3),
            arch: None,
            source_name: None,
            source_version: None,
            license: None,
            path: format!("site-packages/p{i}.dist-info/METADATA"),
            layer: None,
        })
        .collect();
    let cat = Catalog {
        distro: Some(Distro {
            id: "debian".into(),
            version_id: "12".into(),
        }),
        packages,
        not_scanned: Vec::new(),
    };
    let t = Instant::now();
    let r = report::match_catalog("bench", None, cat, &db);
    let m = t.elapsed().as_secs_f64();
    println!(
        "| matching 10,000 packages ({} names) | {:.3} s | {} findings |",
        names.len(),
        m,
        r.findings.len()
    );
    std::io::stdout().flush()?;
    Ok(())
}
