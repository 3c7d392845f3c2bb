//! Shared helpers: start a simulator, drive real kubectl with a fresh HOME, raw HTTP calls,
//! and polling with a generous deadline (tests never assert timings).
#![allow(dead_code)]

use berth_kube_sim::{Profile, SimOptions, Simulator};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

#[path = "../../../../testing/tool.rs"]
mod tool_rule;
/// A test tool from `BERTH_TEST_<NAME>`: a missing one fails (see testing/tool.rs).
#[allow(unused_imports)] // each test binary uses some of the helpers
pub use tool_rule::{program_on_path, tool};

pub async fn start() -> Simulator {
    start_with(Profile::default()).await
}

pub async fn start_with(profile: Profile) -> Simulator {
    Simulator::start(SimOptions {
        profile,
        ..SimOptions::default()
    })
    .await
    .expect("simulator starts")
}

/// Real kubectl with its own HOME (no discovery cache shared between tests).
pub struct Kubectl {
    bin: PathBuf,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Kubectl {
    pub fn new(sim: &Simulator) -> Option<Kubectl> {
        let bin = tool("BERTH_TEST_KUBECTL")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).expect("write kubeconfig");
        Some(Kubectl {
            bin,
            dir,
            kubeconfig,
        })
    }

    pub async fn run_stdin(&self, args: &[&str], stdin: Option<&str>) -> Out {
        use tokio::io::AsyncWriteExt;
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.args(args)
            .env("HOME", self.dir.path())
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl runs");
        let mut sin = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            sin.write_all(s.as_bytes()).await.expect("write stdin");
        }
        drop(sin);
        let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .expect("kubectl finished within 120s")
            .expect("kubectl output");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub async fn run(&self, args: &[&str]) -> Out {
        self.run_stdin(args, None).await
    }

    /// Run, expect success, return stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args).await;
        assert_eq!(
            o.code, 0,
            "kubectl {args:?} failed:\n{}\n{}",
            o.stdout, o.stderr
        );
        o.stdout
    }

    pub async fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let o = self.run_stdin(args, Some(stdin)).await;
        assert_eq!(
            o.code, 0,
            "kubectl {args:?} failed:\n{}\n{}",
            o.stdout, o.stderr
        );
        o.stdout
    }

    /// Run, expect failure, return stderr.
    pub async fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args).await;
        assert_ne!(
            o.code, 0,
            "kubectl {args:?} unexpectedly succeeded:\n{}",
            o.stdout
        );
        o.stderr
    }

    pub async fn fails_stdin(&self, args: &[&str], stdin: &str) -> String {
        let o = self.run_stdin(args, Some(stdin)).await;
        assert_ne!(
            o.code, 0,
            "kubectl {args:?} unexpectedly succeeded:\n{}",
            o.stdout
        );
        o.stderr
    }

    pub async fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a).await).expect("kubectl -o json output")
    }
}

/// Raw HTTP against the simulator.
pub struct Http {
    pub base: String,
    pub client: reqwest::Client,
}

impl Http {
    pub fn new(sim: &Simulator) -> Http {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Http {
            base: sim.url(),
            client: reqwest::Client::builder().build().expect("client"),
        }
    }

    pub async fn send(&self, method: &str, path: &str, ct: &str, body: Vec<u8>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let r = self
            .client
            .request(m, format!("{}{}", self.base, path))
            .header("Content-Type", ct)
            .body(body)
            .send()
            .await
            .expect("request");
        let code = r.status().as_u16();
        let text = r.text().await.expect("body");
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, "application/json", vec![]).await
    }

    pub async fn post(&self, path: &str, v: &Value) -> (u16, Value) {
        self.send(
            "POST",
            path,
            "application/json",
            serde_json::to_vec(v).unwrap(),
        )
        .await
    }

    pub async fn put(&self, path: &str, v: &Value) -> (u16, Value) {
        self.send(
            "PUT",
            path,
            "application/json",
            serde_json::to_vec(v).unwrap(),
        )
        .await
    }

    pub async fn apply(&self, path: &str, manager: &str, v: &Value) -> (u16, Value) {
        self.send(
            "PATCH",
            &format!("{path}?fieldManager={manager}"),
            "application/apply-patch+yaml",
            serde_json::to_vec(v).unwrap(),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send("DELETE", path, "application/json", vec![]).await
    }
}

/// Poll `f` until it returns Some, or panic after 60 s with `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
