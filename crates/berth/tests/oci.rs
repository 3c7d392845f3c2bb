//! End to end through the CLI: a vendor registry (`berth registry serve`) seeded with
//! generated images named as examples/hello names them, `berth release build` of
//! examples/hello, `berth bundle create|verify|inspect|push` into Debian's docker-registry
//! with TLS + basic auth, skopeo confirming every pushed digest, relocation of the rendered
//! objects to the pushed images, and a delta bundle for an upgrade that changes one image.

use assert_cmd::Command;
use berth_oci::transfer::{self, NoProgress, PushItem};
use berth_oci::{Client, ClientConfig, Layout, Reference, generate};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

#[path = "../../../testing/tool.rs"]
mod tool_rule;
use tool_rule::tool;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_port(port: u16) {
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("nothing listens on {port}");
}

const USER: &str = "customer";
const PASSWORD: &str = "cust-Pa55word";

/// docker-registry with TLS from a test CA and htpasswd auth; returns (process, host, ca file, cert dir).
fn customer_registry(bin: &Path, dir: &Path) -> (Kill, String, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let cert = params
        .signed_by(&key, &rcgen::Issuer::new(ca_params, ca_key))
        .unwrap();
    let certs = dir.join("certs.d");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(certs.join("ca.crt"), ca.pem()).unwrap();
    std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
    std::fs::write(
        dir.join("htpasswd"),
        format!("{USER}:{}\n", bcrypt_hash(PASSWORD)),
    )
    .unwrap();
    let port = free_port();
    let cfg = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {d}/data\nhttp:\n  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {d}/tls.crt\n    key: {d}/tls.key\nauth:\n  htpasswd:\n    realm: test\n    path: {d}/htpasswd\n",
        d = dir.display()
    );
    std::fs::write(dir.join("config.yml"), cfg).unwrap();
    let child = std::process::Command::new(bin)
        .arg("serve")
        .arg(dir.join("config.yml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port);
    (
        Kill(child),
        format!("127.0.0.1:{port}"),
        dir.join("ca.pem"),
        certs,
    )
}

fn bcrypt_hash(p: &str) -> String {
    // htpasswd from apache2-utils (installed with the registry) writes bcrypt entries.
    let out = std::process::Command::new("htpasswd")
        .args(["-nbB", "x", p])
        .output()
        .expect("htpasswd (apache2-utils)");
    let line = String::from_utf8(out.stdout).unwrap();
    line.trim().trim_start_matches("x:").to_string()
}

fn berth() -> Command {
    let mut c = Command::cargo_bin("berth").unwrap();
    c.env("NO_COLOR", "1").env("HOME", std::env::temp_dir());
    c
}

fn hello_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello")
}

fn rendered(web_tag: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: hello, namespace: shop}}
spec:
  template:
    spec:
      containers:
        - name: web
          image: "registry.hello.example/hello/web:{web_tag}"
---
apiVersion: batch/v1
kind: Job
metadata:
  name: hello-migrate
  annotations: {{"helm.sh/hook": "pre-install,pre-upgrade"}}
spec:
  template:
    spec:
      initContainers:
        - name: wait
          image: docker.io/library/busybox:1.36
      containers:
        - name: migrate
          image: "registry.hello.example/hello/migrate:1.0.0"
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: hello-postgresql, namespace: shop}}
spec:
  template:
    spec:
      containers:
        - name: postgresql
          image: "docker.io/library/postgres:16.4"
"#
    )
}

#[test]
fn hello_release_bundle_push_relocate_and_delta() {
    let (Some(reg_bin), Some(sk)) = (
        tool("BERTH_TEST_DOCKER_REGISTRY"),
        tool("BERTH_TEST_SKOPEO"),
    ) else {
        return;
    };
    let w = tempfile::tempdir().unwrap();
    let p = |s: &str| w.path().join(s);

    // Vendor registry: `berth registry serve`, port printed on stdout.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("berth"))
        .args(["registry", "serve", "--root"])
        .arg(p("vendor-reg"))
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _vendor_proc = Kill(child);
    let vendor = line.trim().to_string();

    // Seed it with generated images under hello's names (web 1.0.0 and 1.1.0 differ in one layer).
    berth_oci::client::install_crypto_provider();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let src = Layout::create(p("seed")).unwrap();
    let amd = berth_oci::model::Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: None,
    };
    let base = generate::random_layer(1, 300_000).unwrap();
    let mut items = Vec::new();
    for (i, name) in [
        "hello/web:1.0.0",
        "hello/web:1.1.0",
        "hello/migrate:1.0.0",
        "library/postgres:16.4",
        "library/busybox:1.36",
    ]
    .iter()
    .enumerate()
    {
        let d = generate::write_image(
            &src,
            &[
                base.clone(),
                generate::random_layer(10 + i as u64, 60_000).unwrap(),
            ],
            &amd,
        )
        .unwrap();
        let mut d = d;
        d.platform = None;
        items.push(PushItem {
            descriptor: d,
            target: Reference::parse(&format!("{vendor}/{name}")).unwrap(),
        });
    }
    let vc = Client::new(ClientConfig {
        insecure: true,
        ..Default::default()
    })
    .unwrap();
    rt.block_on(transfer::push_images(&vc, &src, &items, &NoProgress))
        .unwrap();
    let web2_digest = items[1].descriptor.digest.clone();

    std::fs::write(p("rendered-1.yaml"), rendered("1.0.0")).unwrap();
    std::fs::write(p("rendered-2.yaml"), rendered("1.1.0")).unwrap();
    berth()
        .args(["keys", "generate", "--out"])
        .arg(p("vendor"))
        .assert()
        .success();
    let mirrors = [
        "--insecure".to_string(),
        format!("--mirror=registry.hello.example={vendor}"),
        format!("--mirror=docker.io={vendor}"),
    ];
    // Dry run lists the images.
    let out = berth()
        .args(["release", "build"])
        .arg(hello_dir())
        .args(["--version", "1.0.0", "--dry-run", "--manifests"])
        .arg(p("rendered-1.yaml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("registry.hello.example/hello/migrate:1.0.0")
            && text.contains("registry.berth.dev/berth/mover:")
            && text.contains("berth snapshot (mover)")
            && text.contains("5 image(s)"),
        "{text}"
    );
    // 1.0.0 renders the chart itself (every config branch); 1.1.0 comes from pre-rendered objects.
    for (v, rendered) in [("1.0.0", None), ("1.1.0", Some("rendered-2.yaml"))] {
        let mut c = berth();
        c.args(["release", "build"])
            .arg(hello_dir())
            .args(["--version", v, "--quiet"]);
        if let Some(r) = rendered {
            c.arg("--manifests").arg(p(r));
        }
        c.arg("--out")
            .arg(p(&format!("hello-{v}.release")))
            .args(&mirrors)
            .assert()
            .success();
    }
    let key = p("vendor.key");
    let pubkey = p("vendor.pub");
    berth()
        .args(["bundle", "create", "--release"])
        .arg(p("hello-1.0.0.release"))
        .arg("--key")
        .arg(&key)
        .arg("--out")
        .arg(p("hello-1.0.0.bundle"))
        .assert()
        .success();
    berth()
        .args(["bundle", "create", "--release"])
        .arg(p("hello-1.1.0.release"))
        .arg("--key")
        .arg(&key)
        .arg("--since")
        .arg(p("hello-1.0.0.bundle"))
        .arg("--out")
        .arg(p("hello-1.1.0-delta.bundle"))
        .assert()
        .success();
    let full = std::fs::metadata(p("hello-1.0.0.bundle")).unwrap().len();
    let delta = std::fs::metadata(p("hello-1.1.0-delta.bundle"))
        .unwrap()
        .len();
    assert!(
        delta < 60_000 + 60_000,
        "delta bundle {delta} bytes for one changed 60 kB layer"
    );
    assert!(delta * 4 < full, "delta {delta} vs full {full}");
    berth()
        .args(["bundle", "verify"])
        .arg(p("hello-1.0.0.bundle"))
        .arg("--pubkey")
        .arg(&pubkey)
        .args(["--app", "hello"])
        .assert()
        .success();
    // Another app name is refused.
    let out = berth()
        .args(["bundle", "verify"])
        .arg(p("hello-1.0.0.bundle"))
        .arg("--pubkey")
        .arg(&pubkey)
        .args(["--app", "billing"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not \"billing\""));
    let out = berth()
        .args(["bundle", "inspect", "-o", "json"])
        .arg(p("hello-1.0.0.bundle"))
        .arg("--pubkey")
        .arg(&pubkey)
        .output()
        .unwrap();
    let ins: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // hello's four images and berth's own mover image.
    assert_eq!(ins["images"].as_array().unwrap().len(), 5);
    assert!(
        ins["sum_of_images"].as_u64().unwrap()
            >= ins["unique_bytes"].as_u64().unwrap() + 3 * 300_000
    );

    // Customer registry: docker-registry with TLS + auth.
    let cdir = p("customer");
    std::fs::create_dir_all(&cdir).unwrap();
    let (_cust, chost, ca, certdir) = customer_registry(&reg_bin, &cdir);
    let target = format!("{chost}/apps");
    let push = |file: &Path, extra: &[&str]| {
        let mut c = berth();
        c.args(["bundle", "push"])
            .arg(file)
            .arg("--pubkey")
            .arg(&pubkey)
            .args(["--registry", &target, "--username", USER, "--ca-file"])
            .arg(&ca)
            .args(extra);
        c.env("BERTH_REGISTRY_PASSWORD", PASSWORD);
        c.output().unwrap()
    };
    // Without credentials: refused with a clear message.
    let mut c = berth();
    let out = c
        .args(["bundle", "push"])
        .arg(p("hello-1.0.0.bundle"))
        .arg("--pubkey")
        .arg(&pubkey)
        .args(["--registry", &target, "--ca-file"])
        .arg(&ca)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("authentication"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = push(&p("hello-1.0.0.bundle"), &["-o", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pushed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(pushed["blobsUploaded"].as_u64().unwrap() >= 5);
    // skopeo confirms every digest.
    let rel = berth_oci::release::Release::open(&p("hello-1.0.0.release")).unwrap();
    let t = berth_oci::relocate::Target::parse(&target).unwrap();
    for (src_ref, d) in &rel.images {
        let to = t.map(src_ref);
        let out = std::process::Command::new(&sk)
            .args([
                "inspect",
                "--raw",
                &format!("--cert-dir={}", certdir.display()),
                &format!("--creds={USER}:{PASSWORD}"),
            ])
            .arg(format!("docker://{}", to))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(berth_oci::Digest::of(&out.stdout), d.digest, "{to}");
    }
    // Re-push: nothing to upload.
    let out = push(&p("hello-1.0.0.bundle"), &["-o", "json"]);
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["blobsUploaded"], 0);
    assert_eq!(again["imagesUpToDate"], 5);
    // Relocation of the rendered objects points at images that exist, by digest.
    let mut objects: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&rendered("1.0.0")).unwrap();
    let mapping = rel.mapping(&t).with_pull_secret("hello-registry");
    let rep = berth_oci::relocate::relocate_objects(&mut objects, &mapping).unwrap();
    assert_eq!(rep.rewritten, 4);
    let cc = Client::new(ClientConfig {
        ca_file: Some(ca.clone()),
        credentials: Some(berth_oci::auth::Credentials {
            username: USER.into(),
            password: PASSWORD.into(),
        }),
        ..Default::default()
    })
    .unwrap();
    for u in berth_oci::relocate::collect_images(&objects) {
        let r = Reference::parse(&u.image).unwrap();
        assert_eq!(r.registry, chost);
        let d = r.digest.clone().expect("relocated by digest");
        assert_eq!(
            rt.block_on(cc.head_manifest(&r.registry, &r.repository, d.as_str()))
                .unwrap(),
            Some(d)
        );
    }
    // Upgrade by delta: needs its base, then pushes only the changed image.
    let out = push(&p("hello-1.1.0-delta.bundle"), &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--base"));
    let out = push(
        &p("hello-1.1.0-delta.bundle"),
        &[
            "--base",
            p("hello-1.0.0.bundle").to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let up: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Everything but web 1.1.0, the mover image included (the same executable built both).
    assert_eq!(up["imagesUpToDate"], 4, "{up}");
    let out = std::process::Command::new(&sk)
        .args([
            "inspect",
            "--raw",
            &format!("--cert-dir={}", certdir.display()),
            &format!("--creds={USER}:{PASSWORD}"),
        ])
        .arg(format!("docker://{chost}/apps/hello/web:1.1.0"))
        .output()
        .unwrap();
    assert_eq!(berth_oci::Digest::of(&out.stdout), web2_digest);

    // Air-gapped install: the simulated kubelet pulls only from the customer registry (a real
    // HEAD of every manifest with the pull secret), so the install is ready only if every image
    // was pushed and relocated by digest.
    let sim = rt.block_on(async {
        let mut profile = berth_kube_sim::Profile::default();
        profile
            .registries
            .push(berth_kube_sim::profile::RegistryProfile {
                host: chost.clone(),
                insecure: false,
                insecure_skip_tls_verify: true,
            });
        berth_kube_sim::Simulator::start(berth_kube_sim::SimOptions {
            profile,
            registry_check: true,
            ..Default::default()
        })
        .await
        .unwrap()
    });
    let kubeconfig = p("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).unwrap();
    let install = |extra: &[&str]| {
        let mut c = berth();
        // The bundle alone is the source of the app; the test registry has a single account,
        // so the push credential is explicitly allowed into the cluster.
        c.arg("install")
            .arg("--pull-with-push-credentials")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["-n", "hello", "--timeout", "90s", "--registry", &target])
            .args(["--username", USER, "--ca-file"])
            .arg(&ca)
            .args(extra);
        c.env("BERTH_REGISTRY_PASSWORD", PASSWORD);
        c.output().unwrap()
    };
    // A bundle without --pubkey is refused by the argument parser (exit 2).
    let out = install(&["--airgap-bundle", p("hello-1.0.0.bundle").to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = install(&[
        "--airgap-bundle",
        p("hello-1.0.0.bundle").to_str().unwrap(),
        "--pubkey",
        pubkey.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let kc = rt.block_on(async {
        let cfg = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
        kube::Client::try_from(cfg).unwrap()
    });
    let deploys: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        kc.clone(),
        "hello",
        &kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "apps",
            "v1",
            "Deployment",
        )),
    );
    let web = rt.block_on(deploys.get("hello")).unwrap();
    let spec = &web.data["spec"]["template"]["spec"];
    let image = spec["containers"][0]["image"].as_str().unwrap();
    assert!(
        image.starts_with(&format!("{chost}/apps/hello/web@sha256:")),
        "{image}"
    );
    assert_eq!(spec["imagePullSecrets"][0]["name"], "berth-registry");
    rt.block_on(sim.shutdown());
}

/// Off loopback `berth registry serve` refuses to start without users (or `--insecure-open`),
/// and refuses passwords over plain HTTP (or `--insecure`), before binding anything.
#[test]
fn registry_serve_refuses_open_or_cleartext_exposure() {
    let w = tempfile::tempdir().unwrap();
    let ht = w.path().join("htpasswd");
    std::fs::write(
        &ht,
        "u:$2y$05$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZa\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("berth"))
            .args(["registry", "serve", "--root"])
            .arg(w.path().join("reg"))
            .args(["--addr", "0.0.0.0:0"])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("without authentication") && err.contains("--insecure-open"),
        "{err}"
    );
    let out = run(&["--htpasswd", ht.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("plain HTTP") && err.contains("--tls-cert"),
        "{err}"
    );
    assert!(
        !w.path().join("reg").exists(),
        "storage created before the refusal"
    );
}

/// A release whose berth.yaml names a chart the release does not hold (as a chart folder
/// linked from outside the app used to produce) is not signed into a bundle.
#[test]
fn bundle_create_refuses_a_release_that_lacks_its_chart() {
    use berth_oci::release::{self, ReleaseMeta};
    let tmp = tempfile::tempdir().unwrap();
    let manifest = "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: demo\n  version: 1.0.0\nspec:\n  components:\n    - name: web\n      chart:\n        path: chart\n";
    let meta = ReleaseMeta {
        format: 1,
        app: "demo".into(),
        version: "1.0.0".into(),
        images: Vec::new(),
    };
    for (name, files, ok) in [
        (
            "only-manifest",
            vec![("berth.yaml".to_string(), manifest.as_bytes().to_vec())],
            false,
        ),
        (
            "complete",
            vec![
                ("berth.yaml".to_string(), manifest.as_bytes().to_vec()),
                ("chart/Chart.yaml".to_string(), b"apiVersion: v2\n".to_vec()),
            ],
            true,
        ),
    ] {
        let rel = tmp.path().join(format!("{name}.release"));
        let layout = Layout::create(&rel).unwrap();
        release::write_app_entry(&layout, &meta, &files).unwrap();
        berth()
            .args(["keys", "generate", "--out"])
            .arg(tmp.path().join(name))
            .assert()
            .success();
        let out = tmp.path().join(format!("{name}.bundle"));
        let r = berth()
            .args(["bundle", "create", "--release"])
            .arg(&rel)
            .arg("--key")
            .arg(tmp.path().join(format!("{name}.key")))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&r.stderr);
        if ok {
            assert!(r.status.success(), "{err}");
        } else {
            assert!(!r.status.success() && !out.exists(), "{err}");
            assert!(
                err.contains("spec.components[0].chart.path") && err.contains("not signing"),
                "{err}"
            );
        }
    }
}

/// `berth release build` carries berth's own mover image, made from the running executable
/// with the libraries the dynamic loader needs: unpacked, it runs on its own.
#[test]
fn a_release_carries_a_mover_image_that_runs_on_its_own() {
    let w = tempfile::tempdir().unwrap();
    let p = |s: &str| w.path().join(s);
    // An app without images: the mover is the release's only image, and no registry is needed.
    let app = p("app");
    std::fs::create_dir_all(app.join("manifests")).unwrap();
    std::fs::write(
        app.join("berth.yaml"),
        "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: plain\n  version: 1.0.0\nspec:\n  components:\n    - name: main\n      manifests:\n        path: manifests\n",
    )
    .unwrap();
    std::fs::write(
        app.join("manifests/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n",
    )
    .unwrap();
    let build = |version: &str, out: &str, extra: &[&str]| {
        berth()
            .args(["release", "build"])
            .arg(&app)
            .args(["--version", version, "--quiet", "--out"])
            .arg(p(out))
            .args(extra)
            .assert()
            .success();
    };
    build("1.0.0", "r.release", &[]);
    let rel = berth_oci::release::Release::open(&p("r.release")).unwrap();
    let (src, desc) = rel
        .images
        .iter()
        .find(|(r, _)| r.repository == "berth/mover")
        .expect("the release holds the mover image");
    assert_eq!(src.registry, "registry.berth.dev");
    assert_eq!(src.tag.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    let layout = Layout::open(p("r.release")).unwrap();
    let m: serde_json::Value =
        serde_json::from_slice(&layout.read_blob(&desc.digest).unwrap()).unwrap();
    let config: serde_json::Value = serde_json::from_slice(
        &layout
            .read_blob(&berth_oci::Digest::parse(m["config"]["digest"].as_str().unwrap()).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/berth"])
    );
    assert_eq!(config["os"], "linux");
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    let blob = layout
        .read_blob(&berth_oci::Digest::parse(layers[0]["digest"].as_str().unwrap()).unwrap())
        .unwrap();
    let root = p("rootfs");
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&blob[..]), &mut raw).unwrap();
    assert_eq!(
        config["rootfs"]["diff_ids"][0].as_str().unwrap(),
        berth_oci::Digest::of(&raw).to_string(),
        "diff_id is the uncompressed tar's digest"
    );
    tar::Archive::new(&raw[..]).unpack(&root).unwrap();
    // Nothing of the build machine but the executable and what the loader resolves for it.
    let exe = root.join("berth");
    let interp = std::fs::read_dir(root.join("lib64"))
        .ok()
        .and_then(|mut d| d.next())
        .map(|e| e.unwrap().path());
    let out = match interp {
        // Dynamically linked: run it with the image's own loader and libraries only.
        Some(ld) => {
            let mut dirs: Vec<String> = Vec::new();
            for e in walk(&root) {
                if e.file_name().unwrap().to_string_lossy().contains(".so") {
                    let d = e.parent().unwrap().display().to_string();
                    if !dirs.contains(&d) {
                        dirs.push(d);
                    }
                }
            }
            std::process::Command::new(&ld)
                .arg("--inhibit-cache")
                .arg("--library-path")
                .arg(dirs.join(":"))
                .arg(&exe)
                .arg("--version")
                .env_clear()
                .output()
                .unwrap()
        }
        None => std::process::Command::new(&exe)
            .arg("--version")
            .env_clear()
            .output()
            .unwrap(),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The same executable makes the same image: a second release shares its digests.
    build("1.0.1", "r2.release", &[]);
    let rel2 = berth_oci::release::Release::open(&p("r2.release")).unwrap();
    assert!(
        rel2.images
            .iter()
            .any(|(r, d)| r.repository == "berth/mover" && d.digest == desc.digest)
    );
    // --no-mover-image leaves it out.
    build("1.0.2", "r3.release", &["--no-mover-image"]);
    let rel3 = berth_oci::release::Release::open(&p("r3.release")).unwrap();
    assert!(rel3.images.is_empty(), "{:?}", rel3.images);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
