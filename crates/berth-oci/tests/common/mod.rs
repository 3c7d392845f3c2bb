//! Test harness: real registries (Debian's docker-registry, plain and TLS + htpasswd),
//! skopeo as the independent client, and generated images.
#![allow(dead_code)]

use berth_oci::Layout;
use berth_oci::generate;
use berth_oci::model::{Descriptor, Platform};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../../../../testing/tool.rs"]
mod tool_rule;
/// A test tool from `BERTH_TEST_<NAME>`: a missing one fails (see testing/tool.rs).
#[allow(unused_imports)] // each test binary uses some of the helpers
pub use tool_rule::{program_on_path, tool};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_port(port: u16) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on 127.0.0.1:{port} after 20 s");
}

/// A test CA and a server certificate for 127.0.0.1 / localhost.
pub struct Tls {
    pub ca_pem: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// A directory skopeo accepts as --cert-dir (holds ca.crt).
    pub cert_dir: PathBuf,
}

pub fn make_tls(dir: &Path) -> Tls {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "berth test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let cert_dir = dir.join("certs.d");
    std::fs::create_dir_all(&cert_dir).unwrap();
    let t = Tls {
        ca_pem: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        cert_dir,
    };
    std::fs::write(&t.ca_pem, ca.pem()).unwrap();
    std::fs::write(t.cert_dir.join("ca.crt"), ca.pem()).unwrap();
    std::fs::write(&t.cert, cert.pem()).unwrap();
    std::fs::write(&t.key, key.serialize_pem()).unwrap();
    t
}

pub const USER: &str = "vendor";
pub const PASSWORD: &str = "s3cret-Pa55";

pub fn write_htpasswd(path: &Path) {
    let h = bcrypt::hash(PASSWORD, 5).unwrap();
    std::fs::write(path, format!("{USER}:{h}\n")).unwrap();
}

/// A docker-registry process; killed on drop.
pub struct Registry {
    pub host: String,
    pub tls: Option<Tls>,
    pub child: Child,
    pub dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// Start Debian's docker-registry; `secure` = TLS from a test CA + htpasswd auth.
    pub fn start(bin: &Path, secure: bool) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let tls = secure.then(|| make_tls(dir.path()));
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some(t) = &tls {
            cfg.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                t.cert.display(),
                t.key.display()
            ));
            let ht = dir.path().join("htpasswd");
            write_htpasswd(&ht);
            cfg.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                ht.display()
            ));
        }
        let cfg_path = dir.path().join("config.yml");
        std::fs::write(&cfg_path, cfg).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&cfg_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        wait_port(port);
        Registry {
            host: format!("127.0.0.1:{port}"),
            tls,
            child,
            dir,
        }
    }

    /// A client configured for this registry (CA and credentials when secure).
    pub fn client(&self) -> berth_oci::Client {
        berth_oci::Client::new(self.client_config()).unwrap()
    }

    pub fn client_config(&self) -> berth_oci::ClientConfig {
        let mut c = berth_oci::ClientConfig {
            docker_config: Some(self.dir.path().join("no-docker-config.json")),
            ..Default::default()
        };
        match &self.tls {
            Some(t) => {
                c.ca_file = Some(t.ca_pem.clone());
                c.credentials = Some(berth_oci::auth::Credentials {
                    username: USER.into(),
                    password: PASSWORD.into(),
                });
            }
            None => c.insecure = true,
        }
        c
    }

    /// skopeo flags to talk to this registry as source (`src`) or destination (`dest`).
    pub fn skopeo_flags(&self, side: &str) -> Vec<String> {
        match &self.tls {
            Some(t) => vec![
                format!("--{side}cert-dir={}", t.cert_dir.display()),
                format!("--{side}creds={USER}:{PASSWORD}"),
            ],
            None => vec![format!("--{side}tls-verify=false")],
        }
    }
}

/// Run skopeo; panics with its stderr on failure; returns stdout.
pub fn skopeo(bin: &Path, args: &[String]) -> String {
    let out = Command::new(bin)
        .args(args)
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn skopeo_fails(bin: &Path, args: &[String]) -> String {
    let out = Command::new(bin)
        .args(args)
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("run skopeo");
    assert!(
        !out.status.success(),
        "skopeo {args:?} unexpectedly succeeded"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn linux(arch: &str) -> Platform {
    Platform {
        os: "linux".into(),
        architecture: arch.into(),
        variant: None,
    }
}

/// A set of generated images in a layout: `base` shared by `app` and `worker`, and a
/// multi-arch `multi` index (amd64 + arm64, sharing the base layer).
pub struct Images {
    pub layout: Layout,
    pub app: Descriptor,
    pub worker: Descriptor,
    pub multi: Descriptor,
    pub multi_amd64: Descriptor,
    pub base_layer: berth_oci::Digest,
}

pub fn make_images(dir: &Path, seed: u64, layer_size: usize) -> Images {
    let layout = Layout::create(dir).unwrap();
    let base = generate::random_layer(seed, layer_size).unwrap();
    let base_layer = berth_oci::Digest::of(&base);
    let amd = linux("amd64");
    let app = generate::write_image(
        &layout,
        &[
            base.clone(),
            generate::random_layer(seed + 1, layer_size / 2).unwrap(),
        ],
        &amd,
    )
    .unwrap();
    let worker = generate::write_image(
        &layout,
        &[
            base.clone(),
            generate::random_layer(seed + 2, 4096).unwrap(),
        ],
        &amd,
    )
    .unwrap();
    let m1 = generate::write_image(
        &layout,
        &[
            base.clone(),
            generate::random_layer(seed + 3, 2048).unwrap(),
        ],
        &amd,
    )
    .unwrap();
    let m2 = generate::write_image(
        &layout,
        &[generate::random_layer(seed + 4, 2048).unwrap()],
        &linux("arm64"),
    )
    .unwrap();
    let multi = generate::write_index(&layout, &[m1.clone(), m2]).unwrap();
    let app = generate::tag(&layout, app, "app").unwrap();
    let worker = generate::tag(&layout, worker, "worker").unwrap();
    let multi = generate::tag(&layout, multi, "multi").unwrap();
    Images {
        layout,
        app,
        worker,
        multi,
        multi_amd64: m1,
        base_layer,
    }
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A release layout built locally (no registry): the generated images under source names
/// `ghcr.io/acme/{app,worker,multi}:<version>` plus app files. `changed_seed` alters the
/// app image's top layer, to make a new version that differs in one image.
pub fn make_release(
    dir: &Path,
    app: &str,
    version: &str,
    changed_seed: u64,
) -> berth_oci::release::ReleaseMeta {
    use berth_oci::model;
    use berth_oci::release::{ReleaseImage, ReleaseMeta};
    let layout = Layout::create(dir).unwrap();
    let base = generate::random_layer(1, 200_000).unwrap();
    let amd = linux("amd64");
    let app_img = generate::write_image(
        &layout,
        &[
            base.clone(),
            generate::random_layer(changed_seed, 50_000).unwrap(),
        ],
        &amd,
    )
    .unwrap();
    let worker = generate::write_image(
        &layout,
        &[base.clone(), generate::random_layer(3, 30_000).unwrap()],
        &amd,
    )
    .unwrap();
    let m1 = generate::write_image(&layout, std::slice::from_ref(&base), &amd).unwrap();
    let m2 = generate::write_image(
        &layout,
        &[generate::random_layer(4, 10_000).unwrap()],
        &linux("arm64"),
    )
    .unwrap();
    let multi = generate::write_index(&layout, &[m1, m2]).unwrap();
    let mut images = Vec::new();
    for (name, mut d) in [("app", app_img), ("worker", worker), ("multi", multi)] {
        let src = Reference::parse(&format!("ghcr.io/acme/{name}:1.0"))
            .unwrap()
            .to_string();
        d.platform = None;
        d.annotations
            .insert(model::ANNOTATION_SOURCE.into(), src.clone());
        d.annotations
            .insert(model::ANNOTATION_REF_NAME.into(), src.clone());
        d.annotations
            .insert(model::ANNOTATION_KIND.into(), "image".into());
        layout.add_entry(d.clone()).unwrap();
        images.push(ReleaseImage {
            source: src,
            digest: d.digest.clone(),
            media_type: d.media_type.clone(),
        });
    }
    let meta = ReleaseMeta {
        format: 1,
        app: app.into(),
        version: version.into(),
        images,
    };
    let files = vec![
        (
            "berth.yaml".to_string(),
            format!(
                "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: {app}\n"
            )
            .into_bytes(),
        ),
        (
            "manifests/deploy.yaml".to_string(),
            b"kind: Deployment\n".repeat(200),
        ),
    ];
    berth_oci::release::write_app_entry(&layout, &meta, &files).unwrap();
    meta
}

use berth_oci::Reference;
