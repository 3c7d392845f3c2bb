//! Air-gapped `berth install|upgrade|diff|rollback` through the CLI, against Debian's
//! docker-registry with TLS and basic auth (two accounts: `customer` pushes, `reader` pulls)
//! and the simulator, whose kubelet HEADs every image with the pod's pull Secret: an install
//! is ready only if the images were pushed, relocated and pullable with the Secret given.
//!
//! - the bundle alone is the source of the app (no app directory), and the signed files win;
//! - the cluster never gets the push credential unless asked, and anonymous registries get no
//!   Secret;
//! - the registry is recorded in the revision, so a plain upgrade/diff/rollback stays on it.

use assert_cmd::Command;
use berth_oci::transfer::{self, NoProgress, PushItem};
use berth_oci::{Client, ClientConfig, Layout, Reference, generate};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

fn tool(var: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => {
            panic!("{var} is not set: run scripts/test.sh (scripts/setup.d/30-registry.sh sets it)")
        }
    }
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
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

const PUSHER: &str = "customer";
const PUSH_PASSWORD: &str = "cust-Pa55word";
const READER: &str = "reader";
const READ_PASSWORD: &str = "read-0nly-Pa55";

fn bcrypt_hash(p: &str) -> String {
    let out = std::process::Command::new("htpasswd")
        .args(["-nbB", "x", p])
        .output()
        .expect("htpasswd (apache2-utils)");
    let line = String::from_utf8(out.stdout).expect("utf8");
    line.trim().trim_start_matches("x:").to_string()
}

/// docker-registry with TLS from a test CA and htpasswd auth; returns (process, host, ca file).
fn customer_registry(dir: &Path) -> (Kill, String, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let bin = tool("BERTH_TEST_DOCKER_REGISTRY");
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
    let cert = params
        .signed_by(&key, &rcgen::Issuer::new(ca_params, ca_key))
        .expect("cert");
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write");
    std::fs::write(dir.join("tls.crt"), cert.pem()).expect("write");
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).expect("write");
    std::fs::write(
        dir.join("htpasswd"),
        format!(
            "{PUSHER}:{}\n{READER}:{}\n",
            bcrypt_hash(PUSH_PASSWORD),
            bcrypt_hash(READ_PASSWORD)
        ),
    )
    .expect("write");
    let port = free_port();
    let cfg = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {d}/data\nhttp:\n  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {d}/tls.crt\n    key: {d}/tls.key\nauth:\n  htpasswd:\n    realm: test\n    path: {d}/htpasswd\n",
        d = dir.display()
    );
    std::fs::write(dir.join("config.yml"), cfg).expect("write");
    let child = std::process::Command::new(bin)
        .arg("serve")
        .arg(dir.join("config.yml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry");
    wait_port(port);
    (Kill(child), format!("127.0.0.1:{port}"), dir.join("ca.pem"))
}

/// `berth registry serve` (plain HTTP, anonymous); returns (process, host).
fn open_registry(root: &Path) -> (Kill, String) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("berth"))
        .args(["registry", "serve", "--root"])
        .arg(root)
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("berth registry serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("address");
    (Kill(child), line.trim().to_string())
}

fn berth() -> Command {
    let mut c = Command::cargo_bin("berth").expect("berth");
    c.env("NO_COLOR", "1")
        .env("HOME", std::env::temp_dir())
        .env_remove("BERTH_PULL_PASSWORD")
        .env_remove("BERTH_REGISTRY_PASSWORD");
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn hello_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello")
}

/// A copy of examples/hello with its berth.yaml edited by `edit`.
fn hello_copy(to: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let st = std::process::Command::new("cp")
        .arg("-r")
        .arg(hello_dir())
        .arg(to)
        .status()
        .expect("cp");
    assert!(st.success());
    let y = to.join("berth.yaml");
    let text = std::fs::read_to_string(&y).expect("berth.yaml");
    std::fs::write(&y, edit(text)).expect("berth.yaml");
    to.to_path_buf()
}

/// Everything an air-gapped customer has: signed bundles, the vendor key, a registry, a cluster.
struct Site {
    w: tempfile::TempDir,
    _vendor: Kill,
    _registry: Kill,
    /// host:port of the customer registry.
    host: String,
    ca: PathBuf,
    pubkey: PathBuf,
    kubeconfig: PathBuf,
    rt: tokio::runtime::Runtime,
    sim: Option<berth_kube_sim::Simulator>,
}

impl Site {
    fn p(&self, s: &str) -> PathBuf {
        self.w.path().join(s)
    }

    /// Build a release of `app_dir` and sign it into `<name>.bundle`.
    fn bundle(&self, app_dir: &Path, version: &str, name: &str, mirrors: &[String]) -> PathBuf {
        let out = berth()
            .args(["release", "build"])
            .arg(app_dir)
            .args(["--version", version, "--quiet", "--out"])
            .arg(self.p(&format!("{name}.release")))
            .args(mirrors)
            .output()
            .expect("release build");
        assert!(out.status.success(), "{}", text(&out));
        let bundle = self.p(&format!("{name}.bundle"));
        let out = berth()
            .args(["bundle", "create", "--release"])
            .arg(self.p(&format!("{name}.release")))
            .arg("--key")
            .arg(self.p("vendor.key"))
            .arg("--out")
            .arg(&bundle)
            .output()
            .expect("bundle create");
        assert!(out.status.success(), "{}", text(&out));
        bundle
    }

    /// `berth <cmd>` against the cluster and the customer registry's CA.
    fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut c = berth();
        c.args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--timeout", "90s"]);
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().expect("berth runs")
    }

    /// Air-gap flags for `registry` (host/prefix) of the TLS registry.
    fn airgap<'a>(&'a self, bundle: &'a Path, registry: &'a str) -> Vec<String> {
        vec![
            "--airgap-bundle".into(),
            bundle.display().to_string(),
            "--pubkey".into(),
            self.pubkey.display().to_string(),
            "--registry".into(),
            registry.to_string(),
            "--ca-file".into(),
            self.ca.display().to_string(),
        ]
    }

    fn kube(&self) -> kube::Client {
        self.rt.block_on(async {
            let cfg = kube::Config::from_custom_kubeconfig(
                kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("kubeconfig"),
                &Default::default(),
            )
            .await
            .expect("config");
            kube::Client::try_from(cfg).expect("client")
        })
    }

    /// The live object `kind/name` in `ns`, if any.
    fn get(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> Option<serde_json::Value> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
            self.kube(),
            ns,
            &kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
                group, version, kind,
            )),
        );
        self.rt
            .block_on(api.get_opt(name))
            .expect("get")
            .map(|o| serde_json::to_value(o).expect("json"))
    }

    /// Whether `repo:tag` exists in the customer registry under `prefix`.
    fn pushed(&self, prefix: &str, repo_tag: &str) -> bool {
        let client = Client::new(ClientConfig {
            ca_file: Some(self.ca.clone()),
            credentials: Some(berth_oci::auth::Credentials {
                username: PUSHER.into(),
                password: PUSH_PASSWORD.into(),
            }),
            ..Default::default()
        })
        .expect("client");
        let (repo, tag) = repo_tag.split_once(':').expect("repo:tag");
        self.rt
            .block_on(client.head_manifest(&self.host, &format!("{prefix}/{repo}"), tag))
            .expect("HEAD")
            .is_some()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(sim) = self.sim.take() {
            self.rt.block_on(sim.shutdown());
        }
    }
}

/// Vendor registry seeded with hello's images, the vendor key, a signed bundle of hello
/// 1.0.0, the TLS customer registry and a simulated cluster pulling only from it.
fn site(extra_registry: Option<&str>) -> (Site, PathBuf, Vec<String>) {
    let w = tempfile::tempdir().expect("tempdir");
    let (vendor_proc, vendor) = open_registry(&w.path().join("vendor-reg"));
    berth_oci::client::install_crypto_provider();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let src = Layout::create(w.path().join("seed")).expect("layout");
    let amd = berth_oci::model::Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: None,
    };
    let base = generate::random_layer(1, 100_000).expect("layer");
    let mut items = Vec::new();
    for (i, name) in [
        "hello/web:1.0.0",
        "hello/migrate:1.0.0",
        "library/postgres:16.4",
        "library/busybox:1.36",
    ]
    .iter()
    .enumerate()
    {
        let mut d = generate::write_image(
            &src,
            &[
                base.clone(),
                generate::random_layer(10 + i as u64, 20_000).expect("layer"),
            ],
            &amd,
        )
        .expect("image");
        d.platform = None;
        items.push(PushItem {
            descriptor: d,
            target: Reference::parse(&format!("{vendor}/{name}")).expect("ref"),
        });
    }
    let vc = Client::new(ClientConfig {
        insecure: true,
        ..Default::default()
    })
    .expect("client");
    rt.block_on(transfer::push_images(&vc, &src, &items, &NoProgress))
        .expect("seed");
    let out = berth()
        .args(["keys", "generate", "--out"])
        .arg(w.path().join("vendor"))
        .output()
        .expect("keys");
    assert!(out.status.success(), "{}", text(&out));
    let mirrors = vec![
        "--insecure".to_string(),
        format!("--mirror=registry.hello.example={vendor}"),
        format!("--mirror=docker.io={vendor}"),
    ];
    let cdir = w.path().join("customer");
    std::fs::create_dir_all(&cdir).expect("dir");
    let (registry, host, ca) = customer_registry(&cdir);
    let sim = rt.block_on(async {
        let mut profile = berth_kube_sim::Profile::default();
        profile
            .registries
            .push(berth_kube_sim::profile::RegistryProfile {
                host: host.clone(),
                insecure: false,
                insecure_skip_tls_verify: true,
            });
        if let Some(h) = extra_registry {
            profile
                .registries
                .push(berth_kube_sim::profile::RegistryProfile {
                    host: h.to_string(),
                    insecure: true,
                    insecure_skip_tls_verify: false,
                });
        }
        berth_kube_sim::Simulator::start(berth_kube_sim::SimOptions {
            profile,
            registry_check: true,
            ..Default::default()
        })
        .await
        .expect("simulator")
    });
    let kubeconfig = w.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let s = Site {
        pubkey: w.path().join("vendor.pub"),
        w,
        _vendor: vendor_proc,
        _registry: registry,
        host,
        ca,
        kubeconfig,
        rt,
        sim: Some(sim),
    };
    let bundle = s.bundle(&hello_dir(), "1.0.0", "hello-1.0.0", &mirrors);
    (s, bundle, mirrors)
}

/// `install -n hello` from `bundle` through the customer registry's `apps/` prefix, pushing
/// as the pusher and giving the cluster the reader's pull credential.
fn install_into_hello(s: &Site, bundle: &Path) {
    let target = format!("{}/apps", s.host);
    let mut args = vec![
        "install".to_string(),
        "-n".into(),
        "hello".into(),
        "--username".into(),
        PUSHER.into(),
        "--pull-username".into(),
        READER.into(),
    ];
    args.extend(s.airgap(bundle, &target));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = s.run(
        &a,
        &[
            ("BERTH_REGISTRY_PASSWORD", PUSH_PASSWORD),
            ("BERTH_PULL_PASSWORD", READ_PASSWORD),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
}

fn deployment_image(s: &Site, ns: &str) -> String {
    let d = s
        .get("apps/v1", "Deployment", ns, "hello")
        .expect("deployment/hello");
    d["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .expect("image")
        .to_string()
}

/// The registry user written into the pull Secret `berth-registry`, if it exists.
fn pull_secret_user(s: &Site, ns: &str) -> Option<String> {
    use base64::Engine as _;
    let sec = s.get("v1", "Secret", ns, "berth-registry")?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let cfg = b64
        .decode(sec["data"][".dockerconfigjson"].as_str().expect("data"))
        .expect("base64");
    let cfg: serde_json::Value = serde_json::from_slice(&cfg).expect("json");
    Some(
        cfg["auths"][s.host.as_str()]["username"]
            .as_str()?
            .to_string(),
    )
}

#[test]
fn bundle_alone_is_the_source_of_an_airgapped_install_and_upgrade() {
    let (s, bundle, mirrors) = site(None);
    let target = format!("{}/apps", s.host);
    let pull = [
        ("BERTH_PULL_PASSWORD", READ_PASSWORD),
        ("BERTH_REGISTRY_PASSWORD", PUSH_PASSWORD),
    ];
    let mut flags = s.airgap(&bundle, &target);
    flags.extend(["--username", PUSHER, "--pull-username", READER].map(String::from));

    // An app directory and a bundle together: a usage error naming --app-dir.
    let mut args = vec![
        "install".to_string(),
        hello_dir().display().to_string(),
        "-n".into(),
        "hello".into(),
    ];
    args.extend(flags.clone());
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = s.run(&a, &pull);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("--app-dir"), "{t}");
    assert!(
        !s.pushed("apps", "hello/web:1.0.0"),
        "nothing is pushed on a usage error"
    );

    // --app-dir (development) renders the local directory and says it is not the signed one.
    let edited = hello_copy(&s.p("hello-edited"), |y| {
        y.replace("default: Hello from berth", "default: Edited")
    });
    let mut args = vec![
        "install".to_string(),
        "--app-dir".into(),
        edited.display().to_string(),
        "-n".into(),
        "dev".into(),
        "--dry-run".into(),
    ];
    args.extend(flags.clone());
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = s.run(&a, &pull);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("NOT the one the vendor signed"), "{t}");

    // The bundle alone, from a directory holding a different berth.yaml: the signed files win.
    let mut args = vec![
        "install".to_string(),
        "-n".into(),
        "hello".into(),
        "-o".into(),
        "json".into(),
    ];
    args.extend(flags.clone());
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = berth();
    c.current_dir(&edited)
        .args(&a)
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(["--timeout", "90s"]);
    for (k, v) in pull {
        c.env(k, v);
    }
    let out = c.output().expect("berth");
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report");
    assert_eq!(report["version"], "1.0.0", "{report}");
    let cm = s
        .get("v1", "ConfigMap", "hello", "hello")
        .expect("configmap/hello");
    assert!(
        cm.to_string().contains("Hello from berth"),
        "signed default expected: {cm}"
    );
    assert!(!cm.to_string().contains("Edited"), "{cm}");
    let image = deployment_image(&s, "hello");
    assert!(
        image.starts_with(&format!("{}/apps/hello/web@sha256:", s.host)),
        "{image}"
    );

    // Upgrades refuse, before pushing, a bundle of another app and a version the policy forbids.
    let billing = hello_copy(&s.p("billing"), |y| {
        y.replacen("  name: hello\n", "  name: billing\n", 1)
    });
    let billing_bundle = s.bundle(&billing, "1.1.0", "billing-1.1.0", &mirrors);
    let old_bundle = s.bundle(&hello_dir(), "0.9.5", "hello-0.9.5", &mirrors);
    for (b, prefix, expect) in [
        (&billing_bundle, "refused-app", "not \"hello\""),
        (&old_bundle, "refused-version", "downgrades are refused"),
    ] {
        let reg = format!("{}/{prefix}", s.host);
        let mut args = vec!["upgrade".to_string(), "-n".into(), "hello".into()];
        args.extend(s.airgap(b, &reg));
        args.extend(["--username", PUSHER, "--pull-username", READER].map(String::from));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = s.run(&a, &pull);
        let t = text(&out);
        assert!(!out.status.success(), "{t}");
        assert!(t.contains(expect), "{t}");
        assert!(
            !s.pushed(prefix, "hello/web:1.0.0"),
            "{prefix}: pushed before refusing"
        );
    }
    // The right bundle upgrades (same version: nothing to change), still from the bundle alone.
    let mut args = vec!["upgrade".to_string(), "-n".into(), "hello".into()];
    args.extend(flags);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = s.run(&a, &pull);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn the_cluster_gets_a_pull_credential_never_the_push_credential() {
    let w2 = tempfile::tempdir().expect("tempdir");
    let (_open, open_host) = open_registry(&w2.path().join("open"));
    let (s, bundle, _) = site(Some(&open_host));
    let target = format!("{}/apps", s.host);
    let base = |ns: &str| -> Vec<String> {
        let mut a = vec![
            "install".to_string(),
            "-n".into(),
            ns.to_string(),
            "--username".into(),
            PUSHER.into(),
        ];
        a.extend(s.airgap(&bundle, &target));
        a
    };
    let push_only = [("BERTH_REGISTRY_PASSWORD", PUSH_PASSWORD)];

    // Only push credentials for a registry that needs credentials to pull: refused, nothing pushed.
    let args = base("a");
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = s.run(&a, &push_only);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("--pull-username") && t.contains("--pull-with-push-credentials"),
        "{t}"
    );
    assert!(!t.contains(PUSH_PASSWORD), "{t}");
    assert!(!s.pushed("apps", "hello/web:1.0.0"));
    assert!(s.get("apps/v1", "Deployment", "a", "hello").is_none());

    // A read-only account: its credential, not the pusher's, is in the cluster, and pods pull.
    let mut args = base("b");
    args.extend(["--pull-username".to_string(), READER.to_string()]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = s.run(
        &a,
        &[
            ("BERTH_REGISTRY_PASSWORD", PUSH_PASSWORD),
            ("BERTH_PULL_PASSWORD", READ_PASSWORD),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(pull_secret_user(&s, "b").as_deref(), Some(READER));
    // --pull-username without a password says where it comes from.
    let mut args = base("c");
    args.extend(["--pull-username".to_string(), READER.to_string()]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = s.run(&a, &push_only);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("BERTH_PULL_PASSWORD"), "{}", text(&out));

    // Explicitly accepted: the push credential goes in.
    let mut args = base("d");
    args.push("--pull-with-push-credentials".into());
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = s.run(&a, &push_only);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(pull_secret_user(&s, "d").as_deref(), Some(PUSHER));

    // A registry that serves anonymous pulls gets no Secret, even with push credentials given.
    let mut args = vec![
        "install".to_string(),
        "-n".into(),
        "e".into(),
        "--username".into(),
        PUSHER.into(),
        "--insecure".into(),
    ];
    args.extend([
        "--airgap-bundle".to_string(),
        bundle.display().to_string(),
        "--pubkey".into(),
        s.pubkey.display().to_string(),
        "--registry".into(),
        format!("{open_host}/apps"),
    ]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = s.run(&a, &push_only);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        s.get("v1", "Secret", "e", "berth-registry").is_none(),
        "{t}"
    );
    let d = s
        .get("apps/v1", "Deployment", "e", "hello")
        .expect("deployment");
    assert!(
        d["spec"]["template"]["spec"]
            .get("imagePullSecrets")
            .is_none(),
        "{d}"
    );
    assert!(deployment_image(&s, "e").starts_with(&format!("{open_host}/apps/hello/web@sha256:")));
}

#[test]
fn an_airgapped_install_stays_on_its_registry_for_later_operations() {
    let (s, bundle, _) = site(None);
    install_into_hello(&s, &bundle);
    let relocated = deployment_image(&s, "hello");
    assert!(
        relocated.starts_with(&format!("{}/apps/", s.host)),
        "{relocated}"
    );
    let hello = hello_dir().display().to_string();

    // A plain diff from the app directory: nothing changes (same private images, same Secret).
    let out = s.run(&["diff", &hello, "-n", "hello"], &[]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("0 to create, 0 to update, 0 to prune"), "{t}");
    // A plain upgrade with a config change: images stay private, the pull Secret is kept, and
    // the kubelet (which pulls only from the customer registry) gets every pod ready.
    let out = s.run(
        &["upgrade", &hello, "-n", "hello", "--set", "replicas=3"],
        &[],
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("upgrade of hello 1.0.0 in namespace hello succeeded (revision 2)"),
        "{t}"
    );
    assert_eq!(deployment_image(&s, "hello"), relocated);
    assert_eq!(pull_secret_user(&s, "hello").as_deref(), Some(READER));
    // A plain re-install with the same config keeps them too.
    let out = s.run(
        &["install", &hello, "-n", "hello", "--set", "replicas=3"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(deployment_image(&s, "hello"), relocated);
    // Rollback to revision 1 stays private (the revision's objects and registry record).
    let out = s.run(&["rollback", "hello", "1", "-n", "hello"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(deployment_image(&s, "hello"), relocated);
    let out = s.run(
        &["upgrade", &hello, "-n", "hello", "--set", "replicas=4"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(deployment_image(&s, "hello"), relocated);
    // --no-relocate is the explicit way back to the vendor's registries.
    let out = s.run(
        &[
            "diff",
            &hello,
            "-n",
            "hello",
            "--no-relocate",
            "--set",
            "replicas=4",
        ],
        &[],
    );
    let t = text(&out);
    assert!(t.contains("registry.hello.example/hello/web:1.0.0"), "{t}");
    // A re-install that fails (the vendor's registry is unreachable from this cluster) rolls
    // back like an upgrade does, to the private images.
    let out = s.run(
        &[
            "install",
            &hello,
            "-n",
            "hello",
            "--no-relocate",
            "--set",
            "replicas=2",
        ],
        &[],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("rolled back automatically"), "{t}");
    assert_eq!(deployment_image(&s, "hello"), relocated);
    // --no-relocate and a registry together are a usage error.
    let out = s.run(
        &[
            "upgrade",
            &hello,
            "-n",
            "hello",
            "--no-relocate",
            "--registry",
            &format!("{}/apps", s.host),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// The release carries berth's mover image; on an air-gapped install a snapshot's movers run
/// its copy from the customer registry (with the revision's pull Secret), since the kubelet
/// here pulls from nowhere else, and a restore into a new namespace does the same.
#[test]
fn an_airgapped_app_snapshots_and_restores_with_the_mover_from_its_registry() {
    let (s, bundle, _) = site(None);
    s.sim
        .as_ref()
        .expect("simulator")
        .set_mover_bin(Some(PathBuf::from(env!("CARGO_BIN_EXE_berth"))));
    install_into_hello(&s, &bundle);
    assert!(
        s.pushed(
            "apps",
            &format!("berth/mover:{}", env!("CARGO_PKG_VERSION"))
        ),
        "the install pushed the release's mover image"
    );
    let repo = s.p("repo").display().to_string();
    let snap = |args: &[&str], cluster: bool| {
        let mut c = berth();
        c.arg("snapshot").args(args).args(["--repo", &repo]);
        if cluster {
            c.arg("--kubeconfig").arg(&s.kubeconfig);
            if !args.contains(&"--timeout") {
                c.args(["--timeout", "90s"]);
            }
        }
        c.env("BERTH_REPO_PASSWORD", "pw-airgap-1")
            .output()
            .expect("berth runs")
    };
    let out = snap(&["init", "--kdf-memory-mib", "8"], false);
    assert!(out.status.success(), "{}", text(&out));
    // A mover image the customer registry does not hold cannot be pulled here: the
    // relocation below is what makes the snapshot work.
    let out = snap(
        &[
            "create",
            "-n",
            "hello",
            "--mover-image",
            "registry.berth.dev/berth/mover:0.0.1",
            "--timeout",
            "10s",
        ],
        true,
    );
    let t = text(&out);
    assert!(
        !out.status.success() && t.contains("its image must be pullable"),
        "{t}"
    );
    let out = snap(&["create", "-n", "hello", "-o", "json"], true);
    assert!(out.status.success(), "{}", text(&out));
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = rep["snapshot_id"].as_str().expect("id").to_string();
    assert!(
        !rep["claims"].as_array().expect("claims").is_empty(),
        "{rep}"
    );
    let out = snap(&["restore", &id, "-n", "hello-restored"], true);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        deployment_image(&s, "hello-restored").starts_with(&format!("{}/apps/", s.host)),
        "the restored app runs the relocated images"
    );
}
