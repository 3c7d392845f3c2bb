//! The registry client against Debian's docker-registry (plain, and TLS + htpasswd), with
//! skopeo as the independent judge of what berth pushed and as the source of what it pulls.

mod common;

use berth_oci::transfer::{self, NoProgress, PushItem};
use berth_oci::{Client, Error, Layout, Reference};
use common::*;

fn push_all(
    client: &Client,
    imgs: &Images,
    host: &str,
    prefix: &str,
) -> berth_oci::transfer::Stats {
    let items: Vec<PushItem> = [
        ("app", &imgs.app),
        ("worker", &imgs.worker),
        ("multi", &imgs.multi),
    ]
    .iter()
    .map(|(n, d)| {
        let mut d = (*d).clone();
        d.annotations.clear();
        PushItem {
            descriptor: d,
            target: Reference::parse(&format!("{host}/{prefix}/{n}:1.0")).unwrap(),
        }
    })
    .collect();
    rt().block_on(transfer::push_images(
        client,
        &imgs.layout,
        &items,
        &NoProgress,
    ))
    .unwrap()
}

fn inspect_digest(skopeo_bin: &std::path::Path, reg: &Registry, image: &str) -> String {
    let mut args = vec!["inspect".to_string(), "--raw".to_string()];
    args.extend(reg.skopeo_flags(""));
    args.push(format!("docker://{}/{image}", reg.host));
    let raw = skopeo(skopeo_bin, &args);
    berth_oci::Digest::of(raw.as_bytes()).to_string()
}

fn roundtrip(secure: bool) {
    let (Some(reg_bin), Some(sk)) = (
        tool("BERTH_TEST_DOCKER_REGISTRY"),
        tool("BERTH_TEST_SKOPEO"),
    ) else {
        return;
    };
    let reg = Registry::start(&reg_bin, secure);
    let work = tempfile::tempdir().unwrap();
    let imgs = make_images(&work.path().join("src"), 10, 300_000);
    let mut cfg = reg.client_config();
    // Small chunks so the chunked (PATCH) upload path runs too.
    cfg.chunk_size = 64 * 1024;
    // Plain: fixed-size chunks; TLS: one streamed PATCH per big blob.
    cfg.chunked_uploads = !secure;
    let client = Client::new(cfg).unwrap();
    let stats = push_all(&client, &imgs, &reg.host, "vendor");
    assert!(stats.blobs_transferred >= 6, "{stats:?}");
    assert!(
        stats.blobs_mounted + stats.blobs_skipped >= 2,
        "shared base layer was re-uploaded: {stats:?}"
    );

    // skopeo sees exactly the digests berth pushed, including the multi-arch index.
    assert_eq!(
        inspect_digest(&sk, &reg, "vendor/app:1.0"),
        imgs.app.digest.to_string()
    );
    assert_eq!(
        inspect_digest(&sk, &reg, "vendor/worker:1.0"),
        imgs.worker.digest.to_string()
    );
    assert_eq!(
        inspect_digest(&sk, &reg, "vendor/multi:1.0"),
        imgs.multi.digest.to_string()
    );
    // skopeo can pull the whole image (it verifies every blob digest itself).
    let mut args = vec!["copy".to_string(), "--quiet".to_string()];
    args.extend(reg.skopeo_flags("src-"));
    args.push(format!("docker://{}/vendor/app:1.0", reg.host));
    args.push(format!(
        "oci:{}:app",
        work.path().join("skopeo-out").display()
    ));
    skopeo(&sk, &args);
    let copied = Layout::open(work.path().join("skopeo-out")).unwrap();
    assert!(copied.has_blob(&imgs.base_layer));

    // Re-push: nothing moves, every image is skipped by its tag's digest.
    let again = push_all(&client, &imgs, &reg.host, "vendor");
    assert_eq!(again.images_skipped, 3, "{again:?}");
    assert_eq!(again.blobs_transferred, 0);

    // Pull back with a platform filter: the amd64 manifest of the index, digest kept.
    let dest = Layout::create(work.path().join("pulled")).unwrap();
    let refs = vec![
        Reference::parse(&format!("{}/vendor/multi:1.0", reg.host)).unwrap(),
        Reference::parse(&format!("{}/vendor/app@{}", reg.host, imgs.app.digest)).unwrap(),
    ];
    let (pulled, _) = rt()
        .block_on(transfer::pull_images(
            &client,
            &refs,
            &dest,
            &[linux("amd64")],
            &NoProgress,
        ))
        .unwrap();
    assert_eq!(pulled[0].descriptor.digest, imgs.multi_amd64.digest);
    assert_eq!(pulled[1].descriptor.digest, imgs.app.digest);
    assert!(dest.has_blob(&imgs.base_layer));
    let idx = dest.read_index().unwrap();
    assert_eq!(idx.manifests.len(), 2);
    // Unknown platform: a clear error listing what exists.
    let e = rt()
        .block_on(transfer::pull_images(
            &client,
            &refs[..1],
            &dest,
            &[linux("s390x")],
            &NoProgress,
        ))
        .unwrap_err();
    assert!(matches!(e, Error::NoPlatform { .. }), "{e}");
    assert!(e.to_string().contains("linux/arm64"), "{e}");
    // Tags list.
    let tags = rt()
        .block_on(client.list_tags(&reg.host, "vendor/app"))
        .unwrap();
    assert_eq!(tags, vec!["1.0".to_string()]);
}

#[test]
fn plain_registry_push_pull_and_skopeo_agrees() {
    roundtrip(false);
}

#[test]
fn tls_auth_registry_push_pull_and_skopeo_agrees() {
    roundtrip(true);
}

#[test]
fn tls_auth_failures_are_explained() {
    let Some(reg_bin) = tool("BERTH_TEST_DOCKER_REGISTRY") else {
        return;
    };
    let reg = Registry::start(&reg_bin, true);
    let host = reg.host.clone();
    // No CA given: the certificate is not trusted, and the message says what to pass.
    let mut cfg = reg.client_config();
    cfg.ca_file = None;
    cfg.retries = 0;
    let e = rt()
        .block_on(Client::new(cfg).unwrap().ping(&host))
        .unwrap_err()
        .to_string();
    assert!(e.contains("--ca-file"), "{e}");
    // Wrong password: an auth error naming the fix, and the password is not echoed.
    let mut cfg = reg.client_config();
    cfg.credentials = Some(berth_oci::auth::Credentials {
        username: USER.into(),
        password: "wrong-pass-xyz".into(),
    });
    let e = rt()
        .block_on(Client::new(cfg).unwrap().ping(&host))
        .unwrap_err();
    assert!(matches!(e, Error::Auth { .. }), "{e}");
    assert!(!e.to_string().contains("wrong-pass-xyz"));
    // No credentials at all.
    let mut cfg = reg.client_config();
    cfg.credentials = None;
    let e = rt()
        .block_on(Client::new(cfg).unwrap().ping(&host))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no credentials"), "{e}");
    // Credentials from a Docker config file work.
    let dc = reg.dir.path().join("docker-config.json");
    let auth = base64_encode(&format!("{USER}:{PASSWORD}"));
    std::fs::write(
        &dc,
        format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
    let mut cfg = reg.client_config();
    cfg.credentials = None;
    cfg.docker_config = Some(dc);
    rt().block_on(Client::new(cfg).unwrap().ping(&host))
        .unwrap();
    // Plain HTTP against a TLS registry: told to drop --insecure.
    let mut cfg = reg.client_config();
    cfg.insecure = true;
    cfg.retries = 0;
    let r = rt().block_on(Client::new(cfg).unwrap().ping(&host));
    assert!(r.is_err());
}

fn base64_encode(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn berth_pulls_what_skopeo_pushed() {
    let (Some(reg_bin), Some(sk)) = (
        tool("BERTH_TEST_DOCKER_REGISTRY"),
        tool("BERTH_TEST_SKOPEO"),
    ) else {
        return;
    };
    let reg = Registry::start(&reg_bin, false);
    let work = tempfile::tempdir().unwrap();
    let imgs = make_images(&work.path().join("src"), 40, 100_000);
    for name in ["app", "multi"] {
        let mut args = vec![
            "copy".to_string(),
            "--quiet".to_string(),
            "--all".to_string(),
            "--preserve-digests".to_string(),
        ];
        args.extend(reg.skopeo_flags("dest-"));
        args.push(format!("oci:{}:{name}", imgs.layout.root().display()));
        args.push(format!("docker://{}/skopeo/{name}:v1", reg.host));
        skopeo(&sk, &args);
    }
    let client = reg.client();
    let dest = Layout::create(work.path().join("pulled")).unwrap();
    let refs = vec![
        Reference::parse(&format!("{}/skopeo/app:v1", reg.host)).unwrap(),
        Reference::parse(&format!("{}/skopeo/multi:v1", reg.host)).unwrap(),
    ];
    let (pulled, stats) = rt()
        .block_on(transfer::pull_images(
            &client,
            &refs,
            &dest,
            &[],
            &NoProgress,
        ))
        .unwrap();
    assert_eq!(pulled[0].descriptor.digest, imgs.app.digest);
    assert_eq!(pulled[1].descriptor.digest, imgs.multi.digest);
    // Every blob of both images, the shared base once.
    for p in &pulled {
        for d in dest.reachable(&p.descriptor).unwrap() {
            assert_eq!(dest.read_blob(&d.digest).unwrap().len() as u64, d.size);
        }
    }
    assert!(stats.blobs_transferred >= 6, "{stats:?}");
}

/// A TCP proxy that cuts the connection once, 200 kB into the first PATCH body it sees.
fn cutting_proxy(upstream: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let cut = std::sync::Arc::new(AtomicBool::new(false));
    let cut2 = cut.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { continue };
            let Ok(mut server) = std::net::TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Both);
            });
            let cut = cut2.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                let mut patch_bytes: Option<usize> = None;
                loop {
                    let n = match client.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if patch_bytes.is_none()
                        && !cut.load(Ordering::SeqCst)
                        && buf[..n].windows(6).any(|w| w == b"PATCH ")
                    {
                        patch_bytes = Some(0);
                    }
                    if let Some(b) = patch_bytes.as_mut() {
                        *b += n;
                        if *b > 200_000 {
                            cut.store(true, Ordering::SeqCst);
                            let _ = server.shutdown(std::net::Shutdown::Both);
                            let _ = client.shutdown(std::net::Shutdown::Both);
                            break;
                        }
                    }
                    if server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = server.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (addr, cut)
}

/// docker-registry drops an upload whose request broke, so berth starts it again.
#[test]
fn interrupted_upload_recovers_docker_registry() {
    let (Some(reg_bin), Some(sk)) = (
        tool("BERTH_TEST_DOCKER_REGISTRY"),
        tool("BERTH_TEST_SKOPEO"),
    ) else {
        return;
    };
    let reg = Registry::start(&reg_bin, false);
    let (proxy, cut) = cutting_proxy(reg.host.clone());
    let work = tempfile::tempdir().unwrap();
    let imgs = make_images(&work.path().join("src"), 90, 1_500_000);
    let mut cfg = reg.client_config();
    cfg.chunk_size = 256 * 1024;
    cfg.parallelism = 1;
    let client = Client::new(cfg).unwrap();
    let mut d = imgs.app.clone();
    d.annotations.clear();
    let item = PushItem {
        descriptor: d,
        target: Reference::parse(&format!("{proxy}/cut/app:1")).unwrap(),
    };
    rt().block_on(transfer::push_images(
        &client,
        &imgs.layout,
        &[item],
        &NoProgress,
    ))
    .unwrap();
    assert!(
        cut.load(std::sync::atomic::Ordering::SeqCst),
        "the proxy never cut an upload"
    );
    // The registry holds exactly the image (skopeo reads it directly, not through the proxy).
    assert_eq!(
        inspect_digest(&sk, &reg, "cut/app:1"),
        imgs.app.digest.to_string()
    );
    let mut args = vec!["copy".to_string(), "--quiet".to_string()];
    args.extend(reg.skopeo_flags("src-"));
    args.push(format!("docker://{}/cut/app:1", reg.host));
    args.push(format!("oci:{}:app", work.path().join("check").display()));
    skopeo(&sk, &args);
}

/// berth's registry keeps what arrived, so the upload resumes from the confirmed offset.
#[test]
fn interrupted_upload_resumes_on_berth_registry() {
    let rt = rt();
    let work = tempfile::tempdir().unwrap();
    let srv = rt
        .block_on(berth_oci::server::start(
            berth_oci::server::ServerConfig::new(
                work.path().join("root"),
                "127.0.0.1:0".parse().unwrap(),
            ),
        ))
        .unwrap();
    let (proxy, cut) = cutting_proxy(srv.addr.to_string());
    let imgs = make_images(&work.path().join("src"), 95, 1_500_000);
    let cfg = berth_oci::ClientConfig {
        insecure: true,
        chunk_size: 256 * 1024,
        parallelism: 1,
        docker_config: Some(work.path().join("none.json")),
        ..Default::default()
    };
    let client = Client::new(cfg).unwrap();
    let mut d = imgs.app.clone();
    d.annotations.clear();
    let item = PushItem {
        descriptor: d,
        target: Reference::parse(&format!("{proxy}/cut/app:1")).unwrap(),
    };
    rt.block_on(transfer::push_images(
        &client,
        &imgs.layout,
        &[item],
        &NoProgress,
    ))
    .unwrap();
    assert!(
        cut.load(std::sync::atomic::Ordering::SeqCst),
        "the proxy never cut an upload"
    );
    // Pull back directly and compare every blob.
    let dest = Layout::create(work.path().join("back")).unwrap();
    let r = Reference::parse(&format!("{}/cut/app:1", srv.addr)).unwrap();
    let (p, _) = rt
        .block_on(transfer::pull_images(
            &client,
            &[r],
            &dest,
            &[],
            &NoProgress,
        ))
        .unwrap();
    assert_eq!(p[0].descriptor.digest, imgs.app.digest);
    assert!(dest.has_blob(&imgs.base_layer));
    // The interrupted upload itself was continued and completed.
    let left = std::fs::read_dir(work.path().join("root/uploads"))
        .unwrap()
        .count();
    // A restart would have left the first, broken upload behind.
    assert_eq!(
        left, 0,
        "{left} uploads left over: the upload was restarted, not resumed"
    );
    rt.block_on(srv.shutdown());
}
