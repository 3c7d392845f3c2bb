//! The README's five-minute tour, run as printed: every command of its `sh` blocks, in order,
//! through bash, from a fresh folder holding a copy of `examples/` (as a clone of the
//! repository does), against a simulated cluster and local registries this test starts.
//!
//! The commands are read from README.md, not copied here, so the test follows the README when
//! it changes. What the test provides, as the README says a user would:
//! - `~/.kube/config` points at a simulated cluster (`berth cluster sim --kubeconfig
//!   ~/.kube/config`); HOME is a temporary folder.
//! - The vendor's mirror at `127.0.0.1:5000` is a `berth registry serve` on a free port,
//!   seeded with generated images under the names examples/hello runs.
//! - The customer's registry `registry.corp:5000` is a second `berth registry serve` on a free
//!   port. It speaks plain HTTP, so `--insecure` is added to the lines that name it (a real
//!   customer registry has TLS).

use berth_oci::model::Platform;
use berth_oci::transfer::{self, NoProgress, PushItem};
use berth_oci::{Client, ClientConfig, Layout, Reference, generate};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The images examples/hello runs, as its chart names them.
const IMAGES: [&str; 4] = [
    "registry.hello.example/hello/web:1.0.0",
    "registry.hello.example/hello/migrate:1.0.0",
    "docker.io/library/postgres:16.4",
    "docker.io/library/busybox:1.36",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The commands of the README's tour: its `sh` blocks, `\` continuations joined.
fn tour_commands(readme: &str) -> Vec<String> {
    let start = readme
        .find("## A five-minute tour")
        .expect("README has a five-minute tour");
    let section = &readme[start..];
    let section = match section[3..].find("\n## ") {
        Some(end) => &section[..end + 3],
        None => section,
    };
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in section.lines() {
        if line.trim_start().starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        if !in_sh || line.trim().is_empty() {
            continue;
        }
        match line.trim_end().strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(line);
                out.push(std::mem::take(&mut pending));
            }
        }
    }
    out
}

struct Server(Child, String);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn registry(root: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["registry", "serve", "--addr", "127.0.0.1:0", "--root"])
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("berth registry serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("address line");
    let addr = line.trim().to_string();
    assert!(!addr.is_empty(), "berth registry serve printed no address");
    Server(child, addr)
}

/// Push small generated images under examples/hello's names (repository paths kept, as
/// `--mirror HOST=MIRROR` expects) into the mirror.
async fn seed(mirror: &str, dir: &Path) {
    berth_oci::client::install_crypto_provider();
    let layout = Layout::create(dir.join("seed")).expect("layout");
    let amd64 = Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: None,
    };
    let base = generate::random_layer(1, 64 << 10).expect("layer");
    let mut items = Vec::new();
    for (i, img) in IMAGES.iter().enumerate() {
        let own = generate::random_layer(10 + i as u64, 16 << 10).expect("layer");
        let mut d = generate::write_image(&layout, &[base.clone(), own], &amd64).expect("image");
        d.platform = None;
        let path = img.split_once('/').map_or(*img, |(_, rest)| rest);
        items.push(PushItem {
            descriptor: d,
            target: Reference::parse(&format!("{mirror}/{path}")).expect("reference"),
        });
    }
    let client = Client::new(ClientConfig {
        insecure: true,
        ..Default::default()
    })
    .expect("client");
    transfer::push_images(&client, &layout, &items, &NoProgress)
        .await
        .expect("seed the mirror");
}

fn copy_dir(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.expect("walk");
        let rel = e.path().strip_prefix(from).expect("prefix");
        let dst = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dst).expect("mkdir");
        } else {
            std::fs::copy(e.path(), &dst).expect("copy");
        }
    }
}

#[test]
fn tour_commands_are_read_from_the_readme() {
    let readme = "x\n## A five-minute tour\n```sh\nberth a \\\n    --b c   # note\n\nberth d\n```\n```text\nnot run\n```\n## Layout\n```sh\nberth e\n```\n";
    assert_eq!(
        tour_commands(readme),
        ["berth a     --b c   # note", "berth d"]
    );
}

#[test]
fn the_readme_tour_runs_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let commands = tour_commands(&readme);
    assert!(
        commands.len() >= 15,
        "the tour has {} commands",
        commands.len()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt
        .block_on(berth_kube_sim::Simulator::start(
            berth_kube_sim::SimOptions::default(),
        ))
        .expect("simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("clone");
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".kube")).expect("home");
    copy_dir(&root().join("examples"), &work.join("examples"));
    sim.write_kubeconfig(&home.join(".kube/config"))
        .expect("kubeconfig");
    let mirror = registry(&dir.path().join("mirror"));
    let customer = registry(&dir.path().join("customer"));
    rt.block_on(seed(&mirror.1, dir.path()));

    let bin_dir = Path::new(env!("CARGO_BIN_EXE_berth"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    for printed in &commands {
        let mut cmd = printed
            .replace("127.0.0.1:5000", &mirror.1)
            .replace("registry.corp:5000", &customer.1);
        if printed.contains("registry.corp:5000") && !printed.contains("--insecure") {
            // Before a trailing comment, so the flag is not commented out.
            cmd = match cmd.find("   #") {
                Some(i) => format!("{} --insecure{}", &cmd[..i], &cmd[i..]),
                None => format!("{cmd} --insecure"),
            };
        }
        let out = Command::new("bash")
            .args(["-c", &format!("set -eo pipefail; {cmd}")])
            .current_dir(&work)
            .env("PATH", &path)
            .env("HOME", &home)
            .env_remove("KUBECONFIG")
            .env("NO_COLOR", "1")
            .env("BERTH_REGISTRY_PASSWORD", "tour-password")
            .stdin(Stdio::null())
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "README tour command failed (exit {:?}):\n  {printed}\nran as:\n  {cmd}\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(sim);
}
