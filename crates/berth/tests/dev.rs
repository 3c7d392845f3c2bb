//! `berth dev` as a vendor engineer meets it: a real `berth dev --sim` process watching a copy
//! of examples/hello in a temporary directory. Edits of a template are applied and reported
//! object by object (and are in the cluster); a broken template is reported at
//! file:line:column while the loop keeps running; fixing it applies again; a lint error in
//! berth.yaml is reported at its place; the chart's test hooks run after each apply with
//! `--test-on-save`, the edited test being the one that runs; keys piped into stdin (`t`, `q`)
//! run the tests and quit, and a stdin at its end leaves the loop running. Events are read as
//! JSON lines (`-o json`). No timing is asserted: deadlines only keep a broken build from
//! hanging.

use serde_json::Value;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Generous: a cold debug build on a loaded machine is slow.
const DEADLINE: Duration = Duration::from_secs(180);

fn copy_hello(root: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
    let dst = root.join("hello");
    for e in walk(&src) {
        let rel = e.strip_prefix(&src).expect("inside");
        let to = dst.join(rel);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&e, &to).expect("copy");
    }
    dst
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A running `berth dev` and its events.
struct Dev {
    child: Child,
    events: Receiver<Value>,
    stderr: Arc<Mutex<String>>,
    seen: Vec<Value>,
}

impl Dev {
    fn start(app: &Path, extra: &[&str]) -> Dev {
        let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("dev")
            .arg(app)
            .args(["--sim", "-o", "json"])
            .args(extra)
            .env("NO_COLOR", "1")
            .env("HOME", app.parent().expect("temp dir"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("berth dev starts");
        let (tx, rx) = channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON event: {line}: {e}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    return;
                }
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Dev {
            child,
            events: rx,
            stderr,
            seen: Vec::new(),
        }
    }

    /// The next event of `kind` (`applied`, `problems`, ...) for `iteration`.
    fn wait(&mut self, kind: &str, iteration: u64) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    // `stopped` counts the changes handled instead.
                    let n = v.get("iteration").or_else(|| v.get("iterations"));
                    if v["dev"] == kind && n == Some(&Value::from(iteration)) {
                        return v;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no {kind} event for change {iteration}; events: {:#?}\nstderr: {}",
                    self.seen,
                    self.stderr()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "berth dev ended before a {kind} event for change {iteration}; events: {:#?}\nstderr: {}",
                    self.seen,
                    self.stderr()
                ),
            }
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The simulated cluster's kubeconfig (printed on stderr at start).
    fn kubeconfig(&self) -> PathBuf {
        let err = self.stderr();
        let path = err
            .split("--kubeconfig ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no kubeconfig on stderr: {err}"));
        PathBuf::from(path)
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Wait for the process to end by itself; its exit status.
    fn finish(mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("berth dev did not stop; stderr: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A file's write lands in a later modification time than the last one the loop saw.
fn save(path: &Path, text: &str) {
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(path, text).expect("save");
}

/// The Deployment's `spec.replicas` in the simulated cluster.
fn replicas(kubeconfig: &Path) -> Option<i64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let c = berth_deploy::Cluster::connect(&berth_deploy::ConnectOptions {
            kubeconfig: Some(kubeconfig.to_path_buf()),
            context: None,
        })
        .await
        .expect("connect");
        let d = c
            .get(&berth_deploy::object::ObjectRef {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: "default".into(),
                name: "hello".into(),
            })
            .await
            .expect("get");
        d.and_then(|d| d.pointer("/spec/replicas").and_then(Value::as_i64))
    })
}

#[test]
fn saves_are_applied_broken_templates_are_located_and_the_loop_goes_on() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = copy_hello(tmp.path());
    let deployment = app.join("chart/templates/deployment.yaml");
    let original = std::fs::read_to_string(&deployment).expect("read");
    let manifest = app.join("berth.yaml");
    let berth_yaml = std::fs::read_to_string(&manifest).expect("read");
    let mut dev = Dev::start(&app, &["--max-iterations", "5"]);

    let first = dev.wait("applied", 0);
    assert_eq!(first["ok"], true, "{first:#}");
    assert!(
        strings(&first["created"]).contains(&"deployment/hello".to_string()),
        "{first:#}"
    );
    let kubeconfig = dev.kubeconfig();
    assert_eq!(replicas(&kubeconfig), Some(2));

    // 1: a template edit is applied; only the changed object is updated.
    let edited = original.replace("replicas: {{ .Values.replicaCount }}", "replicas: 3");
    assert_ne!(edited, original, "the template holds the replicas line");
    save(&deployment, &edited);
    let changed = dev.wait("changed", 1);
    assert_eq!(
        strings(&changed["files"]),
        [deployment.display().to_string()]
    );
    let one = dev.wait("applied", 1);
    assert_eq!(one["ok"], true, "{one:#}");
    assert_eq!(
        strings(&one["updated"]),
        ["deployment/hello (.spec.replicas)"],
        "{one:#}"
    );
    assert!(strings(&one["created"]).is_empty(), "{one:#}");
    assert!(one["unchanged"].as_u64().unwrap_or(0) > 0, "{one:#}");
    assert_eq!(replicas(&kubeconfig), Some(3));

    // 2: a broken template is reported at file:line:column; nothing is applied.
    save(
        &deployment,
        &original.replace(
            "replicas: {{ .Values.replicaCount }}",
            "replicas: {{ .Values.replicaCount.nope }}",
        ),
    );
    let broken = dev.wait("problems", 2);
    let text = strings(&broken["problems"]).join("\n");
    assert!(
        text.contains(&format!("{}:8:", deployment.display())),
        "the problem names the template file and line: {text}"
    );
    assert!(dev.running(), "the loop goes on after a broken template");
    assert_eq!(replicas(&kubeconfig), Some(3), "nothing was applied");

    // 3: fixing it applies again.
    save(&deployment, &original);
    let fixed = dev.wait("applied", 3);
    assert_eq!(fixed["ok"], true, "{fixed:#}");
    assert_eq!(
        strings(&fixed["updated"]),
        ["deployment/hello (.spec.replicas)"]
    );
    assert_eq!(replicas(&kubeconfig), Some(2));

    // 4: a lint error in berth.yaml is reported at its line and column.
    save(
        &manifest,
        &berth_yaml.replace("  version: 1.0.0", "  version: 1.0.0\n  verison: 1.0.1"),
    );
    let lint = dev.wait("problems", 4);
    let text = strings(&lint["problems"]).join("\n");
    assert!(
        text.contains(&format!("{}:9:3", manifest.display())) && text.contains("verison"),
        "the lint error names berth.yaml:9:3 and the field: {text}"
    );

    // 5: fixed: nothing to change, and the loop stops after its 5 changes.
    save(&manifest, &berth_yaml);
    let last = dev.wait("applied", 5);
    assert_eq!(last["ok"], true, "{last:#}");
    assert_eq!(last["outcome"], "unchanged", "{last:#}");
    let stopped = dev.wait("stopped", 5);
    assert_eq!(stopped["reason"], "max iterations");
    assert!(dev.finish().success());
}

#[test]
fn test_hooks_run_after_each_save_and_the_edited_test_is_the_one_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = copy_hello(tmp.path());
    let test = app.join("chart/templates/test.yaml");
    let passing = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hello-test\n  annotations:\n    helm.sh/hook: test\nspec:\n  restartPolicy: Never\n  containers:\n    - name: test\n      image: docker.io/library/busybox:1.36\n      command: [wget, -qO-, http://hello/]\n";
    std::fs::write(&test, passing).expect("test hook");
    let mut dev = Dev::start(&app, &["--max-iterations", "1", "--test-on-save"]);
    let first = dev.wait("applied", 0);
    assert_eq!(first["ok"], true, "{first:#}");
    let tests = dev.wait("tests", 0);
    assert_eq!(tests["passed"], true, "{tests:#}");
    assert!(
        strings(&tests["lines"])
            .iter()
            .any(|l| l.contains("pod/hello-test") && l.contains("passed")),
        "{tests:#}"
    );

    // Only the test changes: no object of the app changes, and the edited (failing) test runs.
    save(
        &test,
        &passing.replace(
            "    helm.sh/hook: test\n",
            "    helm.sh/hook: test\n    sim.berth.dev/fail: job-failed\n    sim.berth.dev/log: \"GET http://hello/ returned 500\"\n",
        ),
    );
    let one = dev.wait("applied", 1);
    assert_eq!(one["ok"], true, "{one:#}");
    let tests = dev.wait("tests", 1);
    assert_eq!(tests["passed"], false, "{tests:#}");
    assert!(
        strings(&tests["lines"])
            .iter()
            .any(|l| l.contains("pod/hello-test") && l.contains("failed")),
        "{tests:#}"
    );
    assert!(dev.finish().success());
}

/// Create a NetworkPolicy `default-deny` (all pods, ingress) in the namespace `default`.
fn deny_ingress(kubeconfig: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let c = berth_deploy::Cluster::connect(&berth_deploy::ConnectOptions {
            kubeconfig: Some(kubeconfig.to_path_buf()),
            context: None,
        })
        .await
        .expect("connect");
        c.create(&serde_json::json!({"apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": "default"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}))
            .await
            .expect("create the policy");
    });
}

#[test]
fn a_test_refused_by_a_network_policy_is_diagnosed_with_the_policy_and_the_fix() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = copy_hello(tmp.path());
    let test = app.join("chart/templates/test.yaml");
    let passing = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hello-test\n  annotations:\n    helm.sh/hook: test\nspec:\n  restartPolicy: Never\n  containers:\n    - name: test\n      image: docker.io/library/busybox:1.36\n      command: [wget, -qO-, http://hello/]\n";
    std::fs::write(&test, passing).expect("test hook");
    let mut dev = Dev::start(&app, &["--max-iterations", "1", "--test-on-save"]);
    assert_eq!(dev.wait("applied", 0)["ok"], true);
    let tests = dev.wait("tests", 0);
    assert_eq!(tests["passed"], true, "{tests:#}");

    // The cluster starts denying ingress; the next save runs the test again, with a timeout.
    deny_ingress(&dev.kubeconfig());
    save(
        &test,
        &passing.replace("wget, -qO-", "wget, -T, \"5\", -qO-"),
    );
    assert_eq!(dev.wait("applied", 1)["ok"], true);
    let tests = dev.wait("tests", 1);
    assert_eq!(tests["passed"], false, "{tests:#}");
    let text = strings(&tests["lines"]).join("\n");
    assert!(
        text.contains("wget: download timed out")
            && text.contains("cause: the test pod/hello-test in namespace default cannot connect to Service hello:80")
            && text.contains("isolated by NetworkPolicy default/default-deny"),
        "{text}"
    );
    assert!(
        text.contains("fix: label the test pod app.kubernetes.io/component=test")
            && text.contains("kind: NetworkPolicy"),
        "{text}"
    );
    assert!(dev.finish().success());
}

/// `berth dev APP ARGS --max-iterations 1` with HOME in `home`, for runs that stop at once.
fn dev_refused(app: &Path, home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("dev")
        .arg(app)
        .args(args)
        .args(["--max-iterations", "1"])
        .env("NO_COLOR", "1")
        .env("HOME", home)
        .stdin(Stdio::null())
        .output()
        .expect("berth dev runs")
}

#[test]
fn a_directory_without_berth_yaml_is_refused_with_the_fix() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = dev_refused(tmp.path(), tmp.path(), &["--sim"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("holds no berth.yaml") && err.contains("berth init"),
        "{err}"
    );
}

#[test]
fn ctrl_c_stops_the_loop_cleanly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = copy_hello(tmp.path());
    let mut dev = Dev::start(&app, &[]);
    let first = dev.wait("applied", 0);
    assert_eq!(first["ok"], true, "{first:#}");
    let ok = Command::new("kill")
        .args(["-INT", &dev.child.id().to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -INT failed");
    let stopped = dev.wait("stopped", 0);
    assert_eq!(stopped["reason"], "interrupted");
    assert!(dev.finish().success());
}

/// Run `berth dev --sim` on `app` with `keys` as its whole stdin (then closed); its exit
/// status, stdout and stderr once it ended by itself.
fn dev_with_keys(app: &Path, keys: &str) -> (std::process::ExitStatus, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.arg("dev").arg(app).arg("--sim");
    with_input(cmd, app, keys)
}

/// Run `cmd` with `input` as its whole stdin; its exit status, stdout and stderr.
fn with_input(
    mut cmd: Command,
    app: &Path,
    input: &str,
) -> (std::process::ExitStatus, String, String) {
    use std::io::Write as _;
    let mut child = cmd
        .env("NO_COLOR", "1")
        .env("HOME", app.parent().expect("temp dir"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("berth dev starts");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write the input");
    drop(stdin);
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = read(Box::new(child.stdout.take().expect("stdout")));
    let err = read(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "berth dev did not stop; stdout: {}\nstderr: {}",
                out.join().unwrap_or_default(),
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status,
        out.join().expect("stdout read"),
        err.join().expect("stderr read"),
    )
}

#[test]
fn keys_piped_into_berth_dev_run_the_test_hooks_and_quit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = copy_hello(tmp.path());
    let passing = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hello-test\n  annotations:\n    helm.sh/hook: test\nspec:\n  restartPolicy: Never\n  containers:\n    - name: test\n      image: docker.io/library/busybox:1.36\n      command: [wget, -qO-, http://hello/]\n";
    std::fs::write(app.join("chart/templates/test.yaml"), passing).expect("test hook");
    // Without --test-on-save: the tests run only because `t` asked.
    let (status, out, err) = dev_with_keys(&app, "t\nq\n");
    assert!(status.success(), "{status}\nstdout: {out}\nstderr: {err}");
    let at = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in stdout: {out}\nstderr: {err}"))
    };
    let installed = at("[0] applied and ready");
    let keys = at("keys (then Enter): t run the test hooks, p run preflight, r re-apply, q quit");
    let passed = at("[0] tests passed\n  test pod/hello-test in namespace default passed");
    let stopped = at("stopped (quit) after 0 change(s)");
    assert!(
        installed < keys && keys < passed && passed < stopped,
        "out of order: {out}"
    );
}

#[test]
fn single_keys_on_a_terminal_run_the_test_hooks_and_quit_and_the_terminal_is_restored() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = copy_hello(tmp.path());
    let passing = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hello-test\n  annotations:\n    helm.sh/hook: test\nspec:\n  restartPolicy: Never\n  containers:\n    - name: test\n      image: docker.io/library/busybox:1.36\n      command: [wget, -qO-, http://hello/]\n";
    std::fs::write(app.join("chart/templates/test.yaml"), passing).expect("test hook");
    // util-linux `script` runs berth dev on a terminal of its own (a pty) and types our
    // input into it: `t` and `q` with no Enter. Then the terminal's settings are printed.
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let shell = format!(
        "{} dev {} --sim; echo \"berth dev exited $?\"; stty -a",
        quote(Path::new(env!("CARGO_BIN_EXE_berth"))),
        quote(&app)
    );
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &shell, "/dev/null"]);
    let (status, out, err) = with_input(cmd, &app, "tq");
    let out = out.replace('\r', "");
    assert!(status.success(), "{status}\nstdout: {out}\nstderr: {err}");
    let at = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in the terminal: {out}\nstderr: {err}"))
    };
    // No Enter is asked for.
    let keys = at("keys: t run the test hooks, p run preflight, r re-apply, q quit");
    let passed = at("[0] tests passed\n  test pod/hello-test in namespace default passed");
    let stopped = at("stopped (quit) after 0 change(s)");
    let exited = at("berth dev exited 0");
    assert!(
        keys < passed && passed < stopped && stopped < exited,
        "{out}"
    );
    // Line editing and echo are back on.
    let settings = &out[exited..];
    let flags: Vec<&str> = settings.split_whitespace().collect();
    assert!(
        flags.contains(&"icanon") && flags.contains(&"echo") && flags.contains(&"isig"),
        "the terminal is left changed: {settings}"
    );
}

#[test]
fn with_stdin_closed_berth_dev_keeps_running_until_idle() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = copy_hello(tmp.path());
    // Dev::start gives the process /dev/null as stdin: at its end at once.
    let mut dev = Dev::start(&app, &["--exit-after-idle", "2s"]);
    assert_eq!(dev.wait("applied", 0)["ok"], true);
    let stopped = dev.wait("stopped", 0);
    assert_eq!(stopped["reason"], "idle", "{stopped:#}");
    assert!(
        dev.seen.iter().any(|e| e["dev"] == "keys"),
        "the keys are announced: {:#?}",
        dev.seen
    );
    assert!(dev.finish().success());
}

#[test]
fn an_unknown_simulator_profile_is_refused_naming_the_flag() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = copy_hello(tmp.path());
    let out = dev_refused(&app, tmp.path(), &["--sim-profile", "no-such-cluster"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("--sim-profile no-such-cluster") && err.contains("no-such-cluster"),
        "{err}"
    );
}
