//! Chart dependencies from repositories (docs/formats/chart-cache.md), with the real binary:
//! an `https://`-style chart repository served on 127.0.0.1 by a small HTTP server in this
//! test (index.yaml and archives packed here), and an `oci://` repository on `berth registry
//! serve` holding charts in Helm's OCI layout (config `application/vnd.cncf.helm.config.v1+json`,
//! one `application/vnd.cncf.helm.chart.content.v1.tar+gzip` layer), pushed with berth's
//! registry client. Renders with resolved dependencies are compared with the same chart
//! vendored, and with Helm v4's render (`BERTH_TEST_HELM_PYTHON`).

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

#[path = "../../../testing/tool.rs"]
mod tool_rule;
use tool_rule::tool;

fn berth() -> Command {
    Command::cargo_bin("berth").expect("berth binary")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A `.tgz` of chart `name` `version` whose ConfigMap says which version rendered it.
fn chart_tgz(name: &str, version: &str) -> Vec<u8> {
    chart_tgz_with(name, version, "")
}

/// [`chart_tgz`] with `more` appended to its Chart.yaml (e.g. a `dependencies:` list).
fn chart_tgz_with(name: &str, version: &str, more: &str) -> Vec<u8> {
    let files = [
        (
            "Chart.yaml",
            format!("apiVersion: v2\nname: {name}\nversion: {version}\n{more}"),
        ),
        ("values.yaml", "greeting: hello\n".to_string()),
        (
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\ndata:\n  version: {{ .Chart.Version | quote }}\n  greeting: {{ .Values.greeting | quote }}\n".to_string(),
        ),
    ];
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        tar.append_data(&mut h, format!("{name}/{path}"), text.as_bytes())
            .expect("tar entry");
    }
    tar.into_inner().expect("tar").finish().expect("gzip")
}

fn sha256(b: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(b))
}

/// A tiny HTTP/1.1 file server on 127.0.0.1 (one request per connection); stops on drop.
struct Server {
    url: String,
    files: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    /// Extra header lines per path (e.g. `Link: <…>; rel="next"`).
    headers: Arc<Mutex<BTreeMap<String, String>>>,
    /// Every requested path (with its query), in order.
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Server {
    fn start() -> Server {
        Server::start_with(None)
    }

    /// With `login` (user, password), every request must carry it as HTTP basic auth.
    fn start_with(login: Option<(&str, &str)>) -> Server {
        use base64::Engine as _;
        let want = login.map(|(u, p)| {
            format!(
                "authorization: basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
            .to_lowercase()
        });
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", l.local_addr().expect("addr"));
        let files: Arc<Mutex<BTreeMap<String, Vec<u8>>>> = Arc::default();
        let headers: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (f, s, hd, rq) = (
            files.clone(),
            stop.clone(),
            headers.clone(),
            requests.clone(),
        );
        std::thread::spawn(move || {
            for conn in l.incoming() {
                if s.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(mut c) = conn else { continue };
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&req);
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                rq.lock().expect("requests").push(path.clone());
                let extra = hd.lock().expect("headers").get(&path).cloned();
                let extra = extra.map(|h| format!("{h}\r\n")).unwrap_or_default();
                let authorized = want
                    .as_ref()
                    .is_none_or(|w| line.lines().any(|l| l.trim().to_lowercase() == *w));
                if !authorized {
                    let _ = c.write_all(
                        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"charts\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    continue;
                }
                let body = f.lock().expect("files").get(&path).cloned();
                let _ = match body {
                    Some(b) => c
                        .write_all(
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
                                b.len()
                            )
                            .as_bytes(),
                        )
                        .and_then(|_| c.write_all(&b)),
                    None => c.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    ),
                };
            }
        });
        Server {
            url,
            files,
            headers,
            requests,
            stop,
        }
    }

    fn put(&self, path: &str, body: Vec<u8>) {
        self.files
            .lock()
            .expect("files")
            .insert(path.to_string(), body);
    }
}

impl Server {
    /// [`put`](Self::put) with one extra header line on the answer.
    fn put_with_header(&self, path: &str, body: Vec<u8>, header: &str) {
        self.put(path, body);
        self.headers
            .lock()
            .expect("headers")
            .insert(path.to_string(), header.to_string());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

/// A repository offering `sub` 1.1.0, 1.2.0, 1.4.2, 1.5.0-rc.1 and 2.0.0 (one archive by an
/// absolute URL, the others relative); `bad_digest` gives 1.4.2 a wrong digest.
fn serve_repo(bad_digest: bool) -> Server {
    let s = Server::start();
    let mut index = String::from("apiVersion: v1\nentries:\n  sub:\n");
    for v in ["1.1.0", "1.2.0", "1.4.2", "1.5.0-rc.1", "2.0.0"] {
        let tgz = chart_tgz("sub", v);
        let mut digest = sha256(&tgz);
        if bad_digest && v == "1.4.2" {
            digest = sha256(b"something else");
        }
        let url = if v == "1.4.2" {
            format!("{}/dl/sub-{v}.tgz", s.url)
        } else {
            format!("charts/sub-{v}.tgz")
        };
        let path = if v == "1.4.2" {
            format!("/dl/sub-{v}.tgz")
        } else {
            format!("/charts/sub-{v}.tgz")
        };
        s.put(&path, tgz);
        index.push_str(&format!(
            "  - apiVersion: v2\n    name: sub\n    version: {v}\n    digest: {digest}\n    urls:\n    - {url}\n"
        ));
    }
    index.push_str("generated: \"2026-01-01T00:00:00Z\"\n");
    s.put("/index.yaml", index.into_bytes());
    s
}

/// An app whose chart `web` depends on `sub` `constraint` from `repository`.
fn app(dir: &Path, repository: &str, constraint: &str) -> PathBuf {
    let chart = dir.join("app/chart");
    std::fs::create_dir_all(chart.join("templates")).expect("mkdir");
    std::fs::write(
        chart.join("Chart.yaml"),
        format!(
            "apiVersion: v2\nname: web\nversion: 0.1.0\ndependencies:\n- name: sub\n  version: \"{constraint}\"\n  repository: {repository}\n"
        ),
    )
    .expect("Chart.yaml");
    std::fs::write(chart.join("values.yaml"), "sub:\n  greeting: from-parent\n").expect("values");
    std::fs::write(
        chart.join("templates/svc.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  ports:\n  - port: 80\n",
    )
    .expect("template");
    std::fs::write(
        dir.join("app/berth.yaml"),
        "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: web\n  version: 0.1.0\nspec:\n  components:\n  - name: web\n    chart: {path: chart}\n",
    )
    .expect("berth.yaml");
    dir.join("app")
}

fn template(chart: &Path, cache: &Path, extra: &[&str]) -> std::process::Output {
    berth()
        .arg("template")
        .arg(chart)
        .arg("rel")
        .arg("--chart-cache")
        .arg(cache)
        .args(extra)
        .output()
        .expect("run berth")
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "berth failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn https_dependency_caret_picks_the_highest_1x_and_offline_reads_the_cache() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cache = tmp.path().join("cache");
    let server = serve_repo(false);
    let app = app(tmp.path(), &server.url, "^1.2.0");
    let chart = app.join("chart");

    let lint = berth()
        .arg("lint")
        .arg(&app)
        .arg("--chart-cache")
        .arg(&cache)
        .output()
        .expect("lint");
    assert!(
        lint.status.success(),
        "lint resolves the dependency: {}",
        String::from_utf8_lossy(&lint.stdout)
    );

    let online = ok(&template(&chart, &cache, &[]));
    assert!(
        online.contains("version: \"1.4.2\"") && online.contains("greeting: \"from-parent\""),
        "^1.2.0 is 1.4.2 (not 2.0.0, not the 1.5.0 prerelease): {online}"
    );
    assert!(!chart.join("charts").exists(), "rendering vendors nothing");

    drop(server); // the repository is gone: only the cache is left
    let offline = ok(&template(&chart, &cache, &["--offline"]));
    assert_eq!(offline, online, "the cache renders the same chart");
    let lint = berth()
        .arg("lint")
        .arg(&app)
        .args(["--offline", "--chart-cache"])
        .arg(&cache)
        .output()
        .expect("lint");
    assert!(lint.status.success(), "offline lint: {}", ok(&lint));

    let empty = tmp.path().join("empty-cache");
    let miss = template(&chart, &empty, &["--offline"]);
    assert!(!miss.status.success(), "an empty cache cannot resolve it");
    let err = String::from_utf8_lossy(&miss.stderr);
    assert!(
        err.contains("dependency sub")
            && err.contains("127.0.0.1")
            && err.contains("berth chart dependency update"),
        "the error names the dependency, its repository and the command: {err}"
    );
    let lint = berth()
        .arg("lint")
        .arg(&app)
        .args(["--offline", "--chart-cache"])
        .arg(&empty)
        .output()
        .expect("lint");
    let text = String::from_utf8_lossy(&lint.stdout);
    assert!(
        !lint.status.success() && text.contains("chart-dependency"),
        "offline lint with an empty cache reports the dependency: {text}"
    );
}

#[test]
fn digest_mismatch_is_refused_naming_both_digests() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let server = serve_repo(true);
    let out = berth()
        .args(["chart", "pull", &format!("{}/sub", server.url)])
        .args(["--version", "^1.2.0", "--chart-cache"])
        .arg(tmp.path().join("cache"))
        .arg("-d")
        .arg(tmp.path())
        .output()
        .expect("pull");
    assert!(!out.status.success(), "a tampered archive is refused");
    let err = String::from_utf8_lossy(&out.stderr);
    let good = sha256(&chart_tgz("sub", "1.4.2"));
    let bad = sha256(b"something else");
    assert!(
        err.contains(&good) && err.contains(&bad),
        "both digests are named: {err}"
    );
    assert!(
        !tmp.path().join("sub-1.4.2.tgz").exists(),
        "nothing written"
    );

    // The untampered versions still pull; an exact version wins over newer ones.
    let out = berth()
        .args(["chart", "pull", &format!("{}/sub", server.url)])
        .args(["--version", "1.2.0", "--chart-cache"])
        .arg(tmp.path().join("cache"))
        .arg("-d")
        .arg(tmp.path())
        .output()
        .expect("pull");
    ok(&out);
    assert_eq!(
        std::fs::read(tmp.path().join("sub-1.2.0.tgz")).expect("pulled"),
        chart_tgz("sub", "1.2.0")
    );
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Pushes `tgz` as chart `name` `version` in Helm's OCI layout (plain HTTP).
fn push_oci_chart(registry: &str, repo: &str, version: &str, tgz: &[u8], dir: &Path) {
    let cfg = berth_oci::ClientConfig {
        insecure: true,
        ..Default::default()
    };
    push_oci_chart_with(cfg, registry, repo, version, tgz, dir);
}

fn push_oci_chart_with(
    cfg: berth_oci::ClientConfig,
    registry: &str,
    repo: &str,
    version: &str,
    tgz: &[u8],
    dir: &Path,
) {
    use berth_oci::{Client, Digest};
    berth_oci::client::install_crypto_provider();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let client = Client::new(cfg).expect("client");
    let config = format!(r#"{{"name":"sub","version":"{version}","apiVersion":"v2"}}"#);
    let mut blobs = Vec::new();
    for (i, b) in [config.as_bytes(), tgz].into_iter().enumerate() {
        let p = dir.join(format!("blob-{version}-{i}"));
        std::fs::write(&p, b).expect("blob file");
        blobs.push((Digest::of(b), p, b.len()));
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": if repo.ends_with("/image") {
                        "application/vnd.oci.image.config.v1+json"
                    } else {
                        "application/vnd.cncf.helm.config.v1+json"
                    },
                   "digest": blobs[0].0.to_string(), "size": blobs[0].2},
        "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                    "digest": blobs[1].0.to_string(), "size": blobs[1].2}],
        "annotations": {"org.opencontainers.image.title": "sub",
                        "org.opencontainers.image.version": version}
    });
    rt.block_on(async {
        for (d, p, _) in &blobs {
            client
                .upload_blob(registry, repo, d, p, &|_| {})
                .await
                .expect("upload blob");
        }
        client
            .put_manifest(
                registry,
                repo,
                &version.replace('+', "_"),
                "application/vnd.oci.image.manifest.v1+json",
                serde_json::to_vec(&manifest).expect("json").as_slice(),
            )
            .await
            .expect("put manifest");
    });
}

/// `berth registry serve` on a free port with its store at `root`: the server (killed when
/// dropped) and its `127.0.0.1:PORT`.
fn serve_registry(root: &Path) -> (Kill, String) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("berth"))
        .args(["registry", "serve", "--root"])
        .arg(root)
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("registry");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port");
    (Kill(child), line.trim().to_string())
}

#[test]
fn oci_dependency_pulls_and_renders_as_vendored() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (_reg, registry) = serve_registry(&tmp.path().join("reg"));
    for v in ["1.0.0", "1.3.0+build.7", "2.1.0"] {
        push_oci_chart(&registry, "charts/sub", v, &chart_tgz("sub", v), tmp.path());
    }
    let cache = tmp.path().join("cache");
    let out = berth()
        .args(["chart", "pull", &format!("oci://{registry}/charts/sub")])
        .args(["--version", "^1", "--insecure", "--chart-cache"])
        .arg(&cache)
        .arg("-d")
        .arg(tmp.path().join("pulled"))
        .output()
        .expect("pull");
    ok(&out);
    assert_eq!(
        std::fs::read(tmp.path().join("pulled/sub-1.3.0+build.7.tgz")).expect("pulled archive"),
        chart_tgz("sub", "1.3.0+build.7"),
        "the tag 1.3.0_build.7 is version 1.3.0+build.7, the highest 1.x"
    );

    // An image that is not a chart is refused, naming the media type it has.
    push_oci_chart(
        &registry,
        "charts/image",
        "1.0.0",
        &chart_tgz("image", "1.0.0"),
        tmp.path(),
    );
    let out = berth()
        .args(["chart", "pull", &format!("oci://{registry}/charts/image")])
        .args(["--insecure", "--chart-cache"])
        .arg(&cache)
        .arg("-d")
        .arg(tmp.path().join("pulled"))
        .output()
        .expect("pull");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("is not a Helm chart")
            && err.contains("application/vnd.oci.image.config.v1+json"),
        "{err}"
    );

    let app = app(tmp.path(), &format!("oci://{registry}/charts"), "~1.3.0");
    let chart = app.join("chart");
    let resolved = ok(&template(&chart, &cache, &["--insecure"]));
    assert!(
        resolved.contains("version: \"1.3.0+build.7\""),
        "{resolved}"
    );

    // The same chart with the archive vendored renders byte for byte the same.
    std::fs::create_dir_all(chart.join("charts")).expect("mkdir");
    std::fs::copy(
        tmp.path().join("pulled/sub-1.3.0+build.7.tgz"),
        chart.join("charts/sub-1.3.0+build.7.tgz"),
    )
    .expect("vendor");
    let vendored = ok(&template(
        &chart,
        &tmp.path().join("unused-cache"),
        &["--offline"],
    ));
    assert_eq!(resolved, vendored);
    assert_same_as_helm(&chart, &resolved);
}

/// Helm v4 renders `chart` (its dependencies vendored) as berth printed `berth_out`.
fn assert_same_as_helm(chart: &Path, berth_out: &str) {
    let Some(python) = tool("BERTH_TEST_HELM_PYTHON") else {
        return;
    };
    let oracle = std::process::Command::new(python)
        .arg(root().join("scripts/helm_oracle.py"))
        .arg(chart)
        .args(["--name", "rel", "--namespace", "default"])
        .output()
        .expect("run oracle");
    let v: serde_json::Value = serde_json::from_slice(&oracle.stdout).expect("oracle JSON");
    let manifest = v["manifest"]
        .as_str()
        .unwrap_or_else(|| panic!("helm: {v}"));
    let want = format!("{}\n", manifest.trim());
    assert!(
        berth_out.starts_with(&want),
        "berth differs from helm:\n--- helm\n{want}\n--- berth\n{berth_out}"
    );
}

#[test]
fn dependency_update_writes_helm_lock_and_helm_renders_the_same() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cache = tmp.path().join("cache");
    let server = serve_repo(false);
    let app = app(tmp.path(), &server.url, ">=1.1.0 <1.3.0");
    let chart = app.join("chart");
    let out = berth()
        .args(["chart", "dependency", "update"])
        .arg(&chart)
        .arg("--chart-cache")
        .arg(&cache)
        .output()
        .expect("update");
    ok(&out);
    let lock = std::fs::read_to_string(chart.join("Chart.lock")).expect("Chart.lock");
    assert!(
        lock.contains("version: \"1.2.0\"") && lock.contains("digest: sha256:"),
        "{lock}"
    );
    assert!(chart.join("charts/sub-1.2.0.tgz").is_file());
    // The lock pins 1.2.0: rendering from the cache alone (charts/ removed) keeps it.
    let vendored = ok(&template(&chart, &cache, &["--offline"]));
    std::fs::remove_dir_all(chart.join("charts")).expect("rm charts");
    let from_cache = ok(&template(&chart, &cache, &["--offline"]));
    assert_eq!(from_cache, vendored);
    assert!(from_cache.contains("version: \"1.2.0\""), "{from_cache}");

    // A constraint the lock no longer meets: the lock is out of sync, and says what to run.
    let yaml = std::fs::read_to_string(chart.join("Chart.yaml")).expect("Chart.yaml");
    std::fs::write(
        chart.join("Chart.yaml"),
        yaml.replace(">=1.1.0 <1.3.0", "^1.4.0"),
    )
    .expect("Chart.yaml");
    let stale = template(&chart, &cache, &["--offline"]);
    let err = String::from_utf8_lossy(&stale.stderr);
    assert!(
        !stale.status.success()
            && err.contains("Chart.lock is out of sync")
            && err.contains("berth chart dependency update"),
        "{err}"
    );
    std::fs::write(chart.join("Chart.yaml"), &yaml).expect("Chart.yaml");

    // `build` honours the lock: the same archive comes back.
    let out = berth()
        .args(["chart", "dependency", "build", "--offline"])
        .arg(&chart)
        .arg("--chart-cache")
        .arg(&cache)
        .output()
        .expect("build");
    ok(&out);
    assert_eq!(
        std::fs::read(chart.join("charts/sub-1.2.0.tgz")).expect("archive"),
        chart_tgz("sub", "1.2.0")
    );

    // berth's render from the cache is Helm's render of the vendored chart.
    assert_same_as_helm(&chart, &from_cache);
}

#[test]
fn release_build_carries_resolved_dependencies_vendored() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cache = tmp.path().join("cache");
    let server = serve_repo(false);
    let app = app(tmp.path(), &server.url, "^1.2.0");
    let build = |cache: &Path, out: &str, offline: bool| {
        let mut c = berth();
        c.args(["release", "build"])
            .arg(&app)
            .args(["--no-mover-image", "--quiet", "--out"])
            .arg(tmp.path().join(out))
            .arg("--chart-cache")
            .arg(cache);
        if offline {
            c.arg("--offline");
        }
        c.output().expect("release build")
    };
    ok(&build(&cache, "online.release", false));
    drop(server);
    ok(&build(&cache, "offline.release", true));
    for out in ["online.release", "offline.release"] {
        let rel = berth_oci::release::Release::open(&tmp.path().join(out)).expect("release");
        let archive = rel
            .read_file("chart/charts/sub-1.4.2.tgz")
            .expect("read")
            .unwrap_or_else(|| panic!("{out} carries the dependency"));
        assert_eq!(archive, chart_tgz("sub", "1.4.2"));
    }
    let miss = build(&tmp.path().join("empty"), "miss.release", true);
    let err = String::from_utf8_lossy(&miss.stderr);
    assert!(
        !miss.status.success()
            && err.contains("dependency sub")
            && err.contains("is not in the chart cache"),
        "{err}"
    );
}

#[test]
fn hostile_repositories_are_refused() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let server = Server::start();
    // An index over the 32 MiB cap.
    server.put("/big/index.yaml", vec![b'#'; (32 << 20) + 1]);
    // An archive whose entry climbs out of the chart.
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let text = b"apiVersion: v2\nname: evil\nversion: 1.0.0\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(text.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, "evil/Chart.yaml", &text[..])
        .expect("entry");
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    // Written raw: tar refuses to build a `..` path itself.
    h.as_gnu_mut().expect("gnu").name[..13].copy_from_slice(b"evil/../../x\0");
    h.set_cksum();
    tar.append(&h, &b"x"[..]).expect("entry");
    let tgz = tar.into_inner().expect("tar").finish().expect("gzip");
    server.put(
        "/evil/index.yaml",
        format!(
            "apiVersion: v1\nentries:\n  evil:\n  - version: 1.0.0\n    digest: {}\n    urls: [evil-1.0.0.tgz]\n",
            sha256(&tgz)
        )
        .into_bytes(),
    );
    server.put("/evil/evil-1.0.0.tgz", tgz);
    for (reference, want) in [
        (format!("{}/big/chart", server.url), "larger than"),
        (
            format!("{}/evil/evil", server.url),
            "\"evil/../../x\": the path leaves the chart directory",
        ),
    ] {
        let out = berth()
            .args(["chart", "pull", &reference, "--chart-cache"])
            .arg(tmp.path().join("cache"))
            .arg("-d")
            .arg(tmp.path().join("out"))
            .output()
            .expect("pull");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(want),
            "{reference}: {err}"
        );
    }
    assert!(!tmp.path().join("out").exists(), "nothing written");
    assert!(!tmp.path().join("x").exists());
}

const USER: &str = "charts";
const PASSWORD: &str = "chart-Pa55word";

/// Debian's docker-registry on 127.0.0.1 with TLS (a CA made here) and an htpasswd login:
/// (process, host:port, CA file).
fn docker_registry(bin: &Path, dir: &Path) -> (Kill, String, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
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
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("ca.pem");
    std::fs::write(dir.join("tls.crt"), cert.pem()).expect("tls.crt");
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).expect("tls.key");
    let out = std::process::Command::new("htpasswd")
        .args(["-nbB", USER, PASSWORD])
        .output()
        .expect("htpasswd (apache2-utils, installed with the registry)");
    std::fs::write(dir.join("htpasswd"), out.stdout).expect("htpasswd file");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let cfg = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {d}/data\nhttp:\n  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {d}/tls.crt\n    key: {d}/tls.key\nauth:\n  htpasswd:\n    realm: test\n    path: {d}/htpasswd\n",
        d = dir.display()
    );
    std::fs::write(dir.join("config.yml"), cfg).expect("config");
    let child = std::process::Command::new(bin)
        .arg("serve")
        .arg(dir.join("config.yml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry");
    let kill = Kill(child);
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (kill, format!("127.0.0.1:{port}"), dir.join("ca.pem"));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("docker-registry does not listen on {port}");
}

#[test]
fn oci_dependency_from_docker_registry_over_tls_with_a_login() {
    let Some(bin) = tool("BERTH_TEST_DOCKER_REGISTRY") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let (_reg, registry, ca) = docker_registry(&bin, tmp.path());
    let cfg = berth_oci::ClientConfig {
        ca_file: Some(ca.clone()),
        credentials: Some(berth_oci::auth::Credentials {
            username: USER.into(),
            password: PASSWORD.into(),
        }),
        ..Default::default()
    };
    for v in ["0.5.0", "0.6.0-rc.1"] {
        push_oci_chart_with(
            cfg.clone(),
            &registry,
            "team/sub",
            v,
            &chart_tgz("sub", v),
            tmp.path(),
        );
    }
    let app = app(tmp.path(), &format!("oci://{registry}/team"), ">=0.1.0");
    let chart = app.join("chart");
    let cache = tmp.path().join("cache");
    let ca = ca.display().to_string();
    let anonymous = template(&chart, &cache, &["--ca-file", &ca]);
    let err = String::from_utf8_lossy(&anonymous.stderr);
    assert!(
        !anonymous.status.success(),
        "the registry wants a login: {err}"
    );
    assert!(
        err.contains(&registry) && err.contains("requires a login"),
        "the error names the registry and the login: {err}"
    );

    let out = berth()
        .arg("template")
        .arg(&chart)
        .arg("rel")
        .arg("--chart-cache")
        .arg(&cache)
        .args(["--ca-file", &ca, "--username", USER])
        .env("BERTH_REGISTRY_PASSWORD", PASSWORD)
        .output()
        .expect("template");
    let text = ok(&out);
    assert!(
        text.contains("version: \"0.5.0\""),
        "the release, not the prerelease: {text}"
    );
}

#[test]
fn https_repository_with_basic_auth() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(Some(("reader", "r3ad-Pa55")));
    let tgz = chart_tgz("sub", "3.1.4");
    server.put(
        "/index.yaml",
        format!(
            "apiVersion: v1\nentries:\n  sub:\n  - version: 3.1.4\n    digest: {}\n    urls: [sub-3.1.4.tgz]\n",
            sha256(&tgz)
        )
        .into_bytes(),
    );
    server.put("/sub-3.1.4.tgz", tgz.clone());
    let pull = |login: bool| {
        let mut c = berth();
        c.args([
            "chart",
            "pull",
            &format!("{}/sub", server.url),
            "--chart-cache",
        ])
        .arg(tmp.path().join("cache"))
        .arg("-d")
        .arg(tmp.path());
        if login {
            c.args(["--username", "reader"])
                .env("BERTH_REGISTRY_PASSWORD", "r3ad-Pa55");
        }
        c.output().expect("pull")
    };
    let anonymous = pull(false);
    let err = String::from_utf8_lossy(&anonymous.stderr);
    assert!(
        !anonymous.status.success() && err.contains("401") && err.contains("index.yaml"),
        "{err}"
    );
    ok(&pull(true));
    assert_eq!(
        std::fs::read(tmp.path().join("sub-3.1.4.tgz")).expect("pulled"),
        tgz
    );
}

#[test]
fn remote_chart_component_lints_and_a_release_carries_it() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (_reg, registry) = serve_registry(&tmp.path().join("reg"));
    push_oci_chart(
        &registry,
        "charts/sub",
        "2.0.1",
        &chart_tgz("sub", "2.0.1"),
        tmp.path(),
    );
    let app = tmp.path().join("remote-app");
    std::fs::create_dir_all(&app).expect("mkdir");
    std::fs::write(
        app.join("berth.yaml"),
        format!(
            "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: remote\n  version: 0.1.0\nspec:\n  components:\n  - name: sub\n    chart: {{repo: oci://{registry}/charts/sub, version: 2.0.1}}\n"
        ),
    )
    .expect("berth.yaml");
    let cache = tmp.path().join("cache");
    let berth_in = |args: &[&str], cache: &Path| {
        berth()
            .args(args)
            .arg("--chart-cache")
            .arg(cache)
            .output()
            .expect("berth")
    };
    let a = app.display().to_string();
    let empty = tmp.path().join("empty");
    let miss = berth_in(&["lint", &a, "--offline"], &empty);
    let text = String::from_utf8_lossy(&miss.stdout);
    assert!(
        !miss.status.success() && text.contains("chart-dependency"),
        "offline with an empty cache: {text}"
    );
    let lint = berth_in(&["lint", &a, "--insecure"], &cache);
    assert!(
        lint.status.success(),
        "lint fetches and renders the remote chart: {}",
        String::from_utf8_lossy(&lint.stdout)
    );
    let out = tmp.path().join("remote.release");
    let build = berth_in(
        &[
            "release",
            "build",
            &a,
            "--no-mover-image",
            "--quiet",
            "--offline",
            "--out",
            &out.display().to_string(),
        ],
        &cache,
    );
    ok(&build);
    let rel = berth_oci::release::Release::open(&out).expect("release");
    assert_eq!(
        rel.read_file("vendored-charts/sub-2.0.1.tgz")
            .expect("read"),
        Some(chart_tgz("sub", "2.0.1")),
        "the release carries the remote chart"
    );
    // The release's app files render with no cache and no registry.
    let files = tmp.path().join("release-files");
    rel.write_app_files(&files).expect("app files");
    let lint = berth_in(&["lint", &files.display().to_string(), "--offline"], &empty);
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );
}

/// A fetched chart that declares a remote dependency of its own without carrying it under
/// its `charts/`: Helm resolves only the top level and renders the subchart without it, so
/// berth does the same (the repository offers the dependency; it is not fetched) and warns,
/// naming the subchart, the dependency and the fix.
#[test]
fn fetched_subchart_lacking_its_own_remote_dependency_renders_as_helm_with_a_warning() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cache = tmp.path().join("cache");
    let server = Server::start();
    let leaf = chart_tgz("leaf", "1.0.0");
    let sub = chart_tgz_with(
        "sub",
        "1.0.0",
        &format!(
            "dependencies:\n- name: leaf\n  version: \"^1.0.0\"\n  repository: {}\n",
            server.url
        ),
    );
    server.put(
        "/index.yaml",
        format!(
            "apiVersion: v1\nentries:\n  sub:\n  - version: 1.0.0\n    digest: {}\n    urls: [sub-1.0.0.tgz]\n  leaf:\n  - version: 1.0.0\n    digest: {}\n    urls: [leaf-1.0.0.tgz]\n",
            sha256(&sub),
            sha256(&leaf)
        )
        .into_bytes(),
    );
    server.put("/sub-1.0.0.tgz", sub);
    server.put("/leaf-1.0.0.tgz", leaf);
    let app = app(tmp.path(), &server.url, "1.0.0");
    let chart = app.join("chart");

    let out = template(&chart, &cache, &[]);
    let text = ok(&out);
    assert!(
        text.contains("name: rel-sub") && !text.contains("rel-leaf"),
        "sub renders, its undeclared-in-charts/ leaf does not: {text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("subchart sub")
            && err.contains("dependency leaf \"^1.0.0\"")
            && err.contains(&server.url)
            && err.contains("vendor it into sub's package"),
        "the warning names the subchart, the dependency and the fix: {err}"
    );
    assert!(
        !std::fs::read_dir(cache.join("blobs/sha256"))
            .expect("cache blobs")
            .flatten()
            .any(|e| std::fs::read(e.path()).ok().as_deref()
                == Some(chart_tgz("leaf", "1.0.0").as_slice())),
        "leaf is not fetched"
    );

    // Vendored by `dependency update` (top level only, as Helm's), Helm renders the same.
    ok(&berth()
        .args(["chart", "dependency", "update"])
        .arg(&chart)
        .arg("--chart-cache")
        .arg(&cache)
        .output()
        .expect("update"));
    assert!(chart.join("charts/sub-1.0.0.tgz").is_file());
    assert!(!chart.join("charts/leaf-1.0.0.tgz").exists());
    let vendored = ok(&template(&chart, &cache, &["--offline"]));
    assert_eq!(vendored, text);
    assert_same_as_helm(&chart, &text);
}

/// An `oci://` repository whose tag list comes in pages (OCI distribution spec: `Link:
/// <URL>; rel="next"`), served over HTTP on 127.0.0.1 by this test: Debian's docker-registry
/// (2.8) ignores `?n=` and answers every tag at once, so it cannot show pagination. The
/// version `^1` picks is only on the last page; next links are relative, then absolute; a
/// link to another host and a link back to a page already read are refused.
#[test]
fn oci_tag_list_pages_are_followed_on_the_same_registry_only() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let server = Server::start();
    let registry = server.url.trim_start_matches("http://").to_string();
    let list = "/v2/charts/sub/tags/list";
    let tags = |t: &[&str]| serde_json::json!({"name": "charts/sub", "tags": t}).to_string();
    let link = |to: &str| format!("Link: <{to}>; rel=\"next\"");
    // Page 1 (what berth asks first) -> page 2 (relative link) -> page 3 (absolute link).
    let page2 = format!("{list}?last=1.1.0&n=2");
    let page3 = format!("{list}?last=2.0.0&n=2");
    server.put_with_header(list, tags(&["1.0.0", "1.1.0"]).into_bytes(), &link(&page2));
    server.put_with_header(
        &page2,
        tags(&["1.9.0", "2.0.0"]).into_bytes(),
        &link(&format!("{}{page3}", server.url)),
    );
    server.put(&page3, tags(&["1.10.0"]).into_bytes());
    // The chart behind tag 1.10.0, in Helm's OCI layout.
    let tgz = chart_tgz("sub", "1.10.0");
    let config = br#"{"name":"sub","version":"1.10.0","apiVersion":"v2"}"#.to_vec();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json",
                   "digest": format!("sha256:{}", sha256(&config)), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                    "digest": format!("sha256:{}", sha256(&tgz)), "size": tgz.len()}]
    });
    server.put(
        "/v2/charts/sub/manifests/1.10.0",
        manifest.to_string().into_bytes(),
    );
    server.put(
        &format!("/v2/charts/sub/blobs/sha256:{}", sha256(&config)),
        config,
    );
    server.put(
        &format!("/v2/charts/sub/blobs/sha256:{}", sha256(&tgz)),
        tgz.clone(),
    );
    let pull = || {
        berth()
            .args(["chart", "pull", &format!("oci://{registry}/charts/sub")])
            .args(["--version", "^1", "--insecure", "--chart-cache"])
            .arg(tmp.path().join("cache"))
            .arg("-d")
            .arg(tmp.path().join("pulled"))
            .output()
            .expect("pull")
    };
    ok(&pull());
    assert_eq!(
        std::fs::read(tmp.path().join("pulled/sub-1.10.0.tgz")).expect("pulled"),
        tgz,
        "1.10.0, on the third page, is the highest 1.x"
    );
    let asked = server.requests.lock().expect("requests").clone();
    for p in [list, page2.as_str(), page3.as_str()] {
        assert!(asked.iter().any(|a| a == p), "{p} was read: {asked:?}");
    }

    // The library asks for a page size with `?n=`.
    server.put_with_header(
        &format!("{list}?n=2"),
        tags(&["1.0.0", "1.1.0"]).into_bytes(),
        &link(&page2),
    );
    berth_oci::client::install_crypto_provider();
    let client = berth_oci::Client::new(berth_oci::ClientConfig {
        insecure: true,
        ..Default::default()
    })
    .expect("client");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let all = rt
        .block_on(client.list_tags_paged(&registry, "charts/sub", Some(2)))
        .expect("tags");
    assert_eq!(all, ["1.0.0", "1.1.0", "1.9.0", "2.0.0", "1.10.0"]);
    // A list longer than berth's cap is refused, whatever the pages.
    let many: Vec<String> = (0..=berth_oci::paging::MAX_TAGS)
        .map(|i| format!("0.0.{i}"))
        .collect();
    server.put(
        "/v2/charts/many/tags/list",
        serde_json::json!({"name": "charts/many", "tags": many})
            .to_string()
            .into_bytes(),
    );
    let err = rt
        .block_on(client.list_tags(&registry, "charts/many"))
        .expect_err("too many tags")
        .to_string();
    assert!(
        err.contains(&format!("more than {} tags", berth_oci::paging::MAX_TAGS)),
        "{err}"
    );

    // A next link to another host (the same server under another name) is refused.
    let port = registry.rsplit_once(':').expect("port").1;
    server.put_with_header(
        &page2,
        tags(&["1.9.0", "2.0.0"]).into_bytes(),
        &link(&format!("http://localhost:{port}{page3}")),
    );
    let out = pull();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains(&format!("http://localhost:{port}{page3}"))
            && err.contains("another host"),
        "{err}"
    );
    // A link back to a page already read is a loop.
    server.put_with_header(&page2, tags(&["1.9.0", "2.0.0"]).into_bytes(), &link(list));
    let out = pull();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("already followed") && err.contains(&registry),
        "{err}"
    );
}

/// A parent chart depending on a sibling directory (`file://../other`) and on `sub` from the
/// test's repository, written under `root`.
fn parent_with_local_sibling(root: &Path, repository: &str, local: &str) -> PathBuf {
    let parent = root.join("parent");
    let other = root.join("other");
    for d in [&parent, &other] {
        std::fs::create_dir_all(d.join("templates")).expect("mkdir");
    }
    std::fs::write(
        other.join("Chart.yaml"),
        "apiVersion: v2\nname: other\nversion: 0.2.0\n",
    )
    .expect("Chart.yaml");
    std::fs::write(other.join("values.yaml"), "greeting: hi\n").expect("values");
    std::fs::write(other.join("scratch.bak"), "left out\n").expect("scratch");
    std::fs::write(other.join(".helmignore"), "*.bak\n").expect("helmignore");
    std::fs::write(
        other.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-other\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  files: {{ .Files.Glob \"*.bak\" | len | quote }}\n",
    )
    .expect("template");
    std::fs::write(
        parent.join("Chart.yaml"),
        format!(
            "apiVersion: v2\nname: parent\nversion: 0.1.0\ndependencies:\n- name: other\n  version: \">=0.1.0 <1.0.0\"\n  repository: {local}\n- name: sub\n  version: ^1.2.0\n  repository: {repository}\n"
        ),
    )
    .expect("Chart.yaml");
    std::fs::write(
        parent.join("values.yaml"),
        "other:\n  greeting: from-parent\n",
    )
    .expect("values");
    std::fs::write(
        parent.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-parent\n",
    )
    .expect("template");
    parent
}

/// `dependency update` packages a `file://` dependency from its directory into
/// `charts/NAME-VERSION.tgz` and pins its version in Chart.lock, as Helm v4's own
/// `dependency update` does: the same lock (digest included), and Helm renders berth's
/// result as it renders its own. A path that is not a directory, or a chart whose version
/// is outside the constraint, is refused naming the dependency, the path and the fix.
#[test]
fn dependency_update_packages_file_dependencies_as_helm_does() {
    let Some(python) = tool("BERTH_TEST_HELM_PYTHON") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let cache = tmp.path().join("cache");
    let server = serve_repo(false);
    let mine = parent_with_local_sibling(&tmp.path().join("berth"), &server.url, "file://../other");
    let helms = parent_with_local_sibling(&tmp.path().join("helm"), &server.url, "file://../other");
    let update = |chart: &Path| {
        berth()
            .args(["chart", "dependency", "update"])
            .arg(chart)
            .arg("--chart-cache")
            .arg(&cache)
            .output()
            .expect("update")
    };
    ok(&update(&mine));
    let helm = std::process::Command::new(&python)
        .args([
            "-c",
            "import sys, helm_python.registry as r; r.dependency_update(sys.argv[1])",
        ])
        .arg(&helms)
        .output()
        .expect("helm dependency update");
    assert!(
        helm.status.success(),
        "helm: {}",
        String::from_utf8_lossy(&helm.stderr)
    );
    let lock = |chart: &Path| {
        let text = std::fs::read_to_string(chart.join("Chart.lock")).expect("Chart.lock");
        let l = berth_chart::ChartLock::parse(&text, "Chart.lock").expect("lock YAML");
        (l.dependencies, l.digest)
    };
    let (ours, theirs) = (lock(&mine), lock(&helms));
    assert_eq!(
        ours, theirs,
        "berth's Chart.lock is Helm's, digest included"
    );
    assert_eq!(
        (
            ours.0[0].name.as_str(),
            ours.0[0].repository.as_str(),
            ours.0[0].version.as_str()
        ),
        ("other", "file://../other", "0.2.0")
    );
    for c in [&mine, &helms] {
        assert!(c.join("charts/other-0.2.0.tgz").is_file());
        assert!(c.join("charts/sub-1.4.2.tgz").is_file());
    }
    let text = ok(&template(&mine, &cache, &["--offline"]));
    assert!(
        text.contains("greeting: \"from-parent\"") && text.contains("files: \"0\""),
        "the packaged sibling renders with the parent's values, its ignored file left out: {text}"
    );
    assert_same_as_helm(&mine, &text);
    assert_same_as_helm(&helms, &text);

    // A path that is not a chart directory.
    let bad = parent_with_local_sibling(
        &tmp.path().join("missing"),
        &server.url,
        "file://../nothere",
    );
    let out = update(&bad);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("dependency other (repository file://../nothere)")
            && err.contains("nothere is not a directory")
            && err.contains("Chart.yaml"),
        "{err}"
    );
    assert!(!bad.join("Chart.lock").exists(), "no lock is written");
    assert!(!bad.join("charts").exists(), "nothing is fetched");

    // A sibling whose version is outside the constraint.
    let yaml = std::fs::read_to_string(mine.join("Chart.yaml")).expect("Chart.yaml");
    std::fs::write(
        mine.join("Chart.yaml"),
        yaml.replace(">=0.1.0 <1.0.0", "^1.0.0"),
    )
    .expect("Chart.yaml");
    let out = update(&mine);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("is version 0.2.0, outside the constraint \"^1.0.0\"")
            && err.contains("other/Chart.yaml"),
        "{err}"
    );
}
