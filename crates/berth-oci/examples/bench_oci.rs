//! Benchmark: berth's registry client and bundles against `skopeo copy`, side by side in
//! one run, on the same generated images (about 1.1 GiB across images, 0.55 GiB distinct:
//! two base layers shared by six images).
//!
//! Needs BERTH_TEST_DOCKER_REGISTRY and BERTH_TEST_SKOPEO (scripts/setup.d/30-registry.sh).
//! Run: `cargo run --release -p berth-oci --example bench_oci` (BENCH_SCALE=0.25 for a quick run).

use berth_oci::model::{Descriptor, Platform};
use berth_oci::release::{ReleaseImage, ReleaseMeta};
use berth_oci::transfer::{self, NoProgress, PushItem};
use berth_oci::{Client, ClientConfig, Layout, Reference, bundle, generate, model};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn registry(bin: &Path, dir: &Path) -> (Kill, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = format!(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
        dir.join("data").display()
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("config.yml"), cfg).unwrap();
    let child = Command::new(bin)
        .arg("serve")
        .arg(dir.join("config.yml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (Kill(child), format!("127.0.0.1:{port}"))
}

fn skopeo(bin: &Path, args: &[&str]) {
    let out = Command::new(bin)
        .args(args)
        .env("HOME", std::env::temp_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / 1048576.0)
}

fn dir_size(p: &Path) -> u64 {
    walk(p)
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum()
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

fn main() {
    let (Some(reg_bin), Some(sk)) = (
        std::env::var_os("BERTH_TEST_DOCKER_REGISTRY"),
        std::env::var_os("BERTH_TEST_SKOPEO"),
    ) else {
        eprintln!(
            "set BERTH_TEST_DOCKER_REGISTRY and BERTH_TEST_SKOPEO (scripts/setup.d/30-registry.sh)"
        );
        std::process::exit(2);
    };
    let (reg_bin, sk) = (PathBuf::from(reg_bin), PathBuf::from(sk));
    let scale: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let mb = |n: f64| (n * scale * 1_000_000.0) as usize;
    berth_oci::client::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let work = tempfile::tempdir_in(
        std::env::var_os("BENCH_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir),
    )
    .unwrap();
    let w = |s: &str| work.path().join(s);

    // Images: bases A (200 MB) and B (100 MB); six apps with two own layers (30 + 10 MB).
    eprintln!("generating images ...");
    let src = Layout::create(w("src")).unwrap();
    let amd = Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: None,
    };
    let base_a = generate::random_layer(1, mb(200.0)).unwrap();
    let base_b = generate::random_layer(2, mb(100.0)).unwrap();
    let mut images: Vec<(String, Descriptor)> = Vec::new();
    for i in 0..6u64 {
        let base = if i < 3 { &base_a } else { &base_b };
        let layers = vec![
            base.clone(),
            generate::random_layer(100 + i, mb(30.0)).unwrap(),
            generate::random_layer(200 + i, mb(10.0)).unwrap(),
        ];
        let mut d = generate::write_image(&src, &layers, &amd).unwrap();
        d.platform = None;
        images.push((format!("bench/app{i}"), d));
    }
    drop((base_a, base_b));
    let logical: u64 = images
        .iter()
        .map(|(_, d)| {
            src.reachable(d)
                .unwrap()
                .iter()
                .map(|b| b.size)
                .sum::<u64>()
        })
        .sum();
    let distinct = dir_size(&src.root().join("blobs"));

    let (_vendor, vhost) = registry(&reg_bin, &w("vendor-reg"));
    let insecure = ClientConfig {
        insecure: true,
        ..Default::default()
    };
    let client = Client::new(insecure).unwrap();
    let seed: Vec<PushItem> = images
        .iter()
        .map(|(n, d)| PushItem {
            descriptor: d.clone(),
            target: Reference::parse(&format!("{vhost}/{n}:1.0")).unwrap(),
        })
        .collect();
    rt.block_on(transfer::push_images(&client, &src, &seed, &NoProgress))
        .unwrap();
    let refs: Vec<Reference> = seed.iter().map(|s| s.target.clone()).collect();

    // 1. Pull into an OCI layout.
    eprintln!("pull: skopeo ...");
    let t = Instant::now();
    for (n, _) in &images {
        let name = n.rsplit('/').next().unwrap();
        skopeo(
            &sk,
            &[
                "copy",
                "--quiet",
                "--src-tls-verify=false",
                &format!("docker://{vhost}/{n}:1.0"),
                &format!("oci:{}:{name}", w("skopeo-pull").display()),
            ],
        );
    }
    let pull_skopeo = t.elapsed();
    eprintln!("pull: berth ...");
    let t = Instant::now();
    let berth_layout = Layout::create(w("berth-pull")).unwrap();
    rt.block_on(transfer::pull_images(
        &client,
        &refs,
        &berth_layout,
        &[],
        &NoProgress,
    ))
    .unwrap();
    let pull_berth = t.elapsed();

    // 2. Push into an empty registry, image by image for skopeo.
    let (_d1, dest_sk) = registry(&reg_bin, &w("dest-skopeo"));
    let (_d2, dest_b) = registry(&reg_bin, &w("dest-berth"));
    eprintln!("push: skopeo ...");
    let t = Instant::now();
    for (n, _) in &images {
        let name = n.rsplit('/').next().unwrap();
        skopeo(
            &sk,
            &[
                "copy",
                "--quiet",
                "--dest-tls-verify=false",
                &format!("oci:{}:{name}", w("skopeo-pull").display()),
                &format!("docker://{dest_sk}/{n}:1.0"),
            ],
        );
    }
    let push_skopeo = t.elapsed();
    eprintln!("push: berth ...");
    let items: Vec<PushItem> = images
        .iter()
        .map(|(n, d)| PushItem {
            descriptor: d.clone(),
            target: Reference::parse(&format!("{dest_b}/{n}:1.0")).unwrap(),
        })
        .collect();
    let t = Instant::now();
    let stats = rt
        .block_on(transfer::push_images(
            &client,
            &berth_layout,
            &items,
            &NoProgress,
        ))
        .unwrap();
    let push_berth = t.elapsed();
    // 3. Re-push of what is already there.
    let t = Instant::now();
    for (n, _) in &images {
        let name = n.rsplit('/').next().unwrap();
        skopeo(
            &sk,
            &[
                "copy",
                "--quiet",
                "--dest-tls-verify=false",
                &format!("oci:{}:{name}", w("skopeo-pull").display()),
                &format!("docker://{dest_sk}/{n}:1.0"),
            ],
        );
    }
    let repush_skopeo = t.elapsed();
    let t = Instant::now();
    let again = rt
        .block_on(transfer::push_images(
            &client,
            &berth_layout,
            &items,
            &NoProgress,
        ))
        .unwrap();
    let repush_berth = t.elapsed();
    assert_eq!(again.blobs_transferred, 0);

    // 4. Bundle vs per-image archives (skopeo oci-archive, one tar per image).
    eprintln!("archives and bundles ...");
    let mut archives = 0u64;
    for (n, _) in &images {
        let name = n.rsplit('/').next().unwrap();
        let f = w(&format!("{name}.tar"));
        skopeo(
            &sk,
            &[
                "copy",
                "--quiet",
                &format!("oci:{}:{name}", w("skopeo-pull").display()),
                &format!("oci-archive:{}", f.display()),
            ],
        );
        archives += std::fs::metadata(&f).unwrap().len();
        std::fs::remove_file(&f).unwrap();
    }
    let mk_release = |layout: &Layout, version: &str, imgs: &[(String, Descriptor)]| {
        let mut meta_images = Vec::new();
        for (n, d) in imgs {
            let src = Reference::parse(&format!("registry.vendor.example/{n}:1.0"))
                .unwrap()
                .to_string();
            let mut e = d.clone();
            e.annotations
                .insert(model::ANNOTATION_SOURCE.into(), src.clone());
            e.annotations
                .insert(model::ANNOTATION_REF_NAME.into(), src.clone());
            e.annotations
                .insert(model::ANNOTATION_KIND.into(), "image".into());
            layout.add_entry(e).unwrap();
            meta_images.push(ReleaseImage {
                source: src,
                digest: d.digest.clone(),
                media_type: d.media_type.clone(),
            });
        }
        let meta = ReleaseMeta {
            format: 1,
            app: "bench".into(),
            version: version.into(),
            images: meta_images,
        };
        berth_oci::release::write_app_entry(
            layout,
            &meta,
            &[("berth.yaml".into(), b"metadata: {name: bench}\n".to_vec())],
        )
        .unwrap();
    };
    mk_release(&src, "1.0.0", &images);
    let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let t = Instant::now();
    let full = bundle::create(src.root(), &w("bench-1.0.0.bundle"), &key, None).unwrap();
    let bundle_time = t.elapsed();
    let t = Instant::now();
    bundle::verify(
        &w("bench-1.0.0.bundle"),
        &key.verifying_key(),
        &bundle::Expect::default(),
        None,
        None,
    )
    .unwrap();
    let verify_time = t.elapsed();
    // 5. Delta: version 1.1.0 changes app0's 30 MB layer.
    let v2 = Layout::create(w("v2")).unwrap();
    for b in src.list_blobs().unwrap() {
        std::fs::hard_link(src.blob_path(&b), v2.blob_path(&b)).unwrap();
    }
    let changed = generate::random_layer(999, mb(30.0)).unwrap();
    let base_a =
        std::fs::read(src.blob_path(&src.reachable(&images[0].1).unwrap()[2].digest)).unwrap();
    let mut new0 = generate::write_image(
        &v2,
        &[
            base_a,
            changed.clone(),
            generate::random_layer(200, mb(10.0)).unwrap(),
        ],
        &amd,
    )
    .unwrap();
    new0.platform = None;
    let mut imgs2 = images.clone();
    imgs2[0].1 = new0;
    mk_release(&v2, "1.1.0", &imgs2);
    let delta = bundle::create(
        v2.root(),
        &w("bench-1.1.0-delta.bundle"),
        &key,
        Some(&bundle::Base::Release(src.root().to_path_buf())),
    )
    .unwrap();

    println!(
        "\n## berth-oci benchmark (scale {scale}; {} across {} images, {} distinct)\n",
        mib(logical),
        images.len(),
        mib(distinct)
    );
    println!("| operation | berth | skopeo copy | skopeo / berth |");
    println!("|---|---|---|---|");
    let row = |name: &str, b: Duration, s: Duration| {
        println!(
            "| {name} | {} | {} | {:.2}x |",
            secs(b),
            secs(s),
            s.as_secs_f64() / b.as_secs_f64().max(1e-9)
        );
    };
    row("pull 6 images into an OCI layout", pull_berth, pull_skopeo);
    row(
        "push 6 images into an empty registry",
        push_berth,
        push_skopeo,
    );
    row(
        "re-push, everything already present",
        repush_berth,
        repush_skopeo,
    );
    println!();
    println!("| size | bytes |");
    println!("|---|---|");
    println!(
        "| sum of per-image archives (skopeo oci-archive) | {} |",
        mib(archives)
    );
    println!(
        "| berth full bundle (one file, shared layers once) | {} ({:.0}% of the archives) |",
        mib(full.bytes),
        100.0 * full.bytes as f64 / archives as f64
    );
    println!(
        "| berth delta bundle, one image's 30 MB layer changed | {} (changed layers: {}) |",
        mib(delta.bytes),
        mib(changed.len() as u64)
    );
    println!();
    println!(
        "bundle create {} ; bundle verify {} ; push stats: {stats:?}",
        secs(bundle_time),
        secs(verify_time)
    );
}
