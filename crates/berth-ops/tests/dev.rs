//! The dev loop's commands, sent through `DevInput::commands` while it runs against the
//! in-process Kubernetes simulator on a copy of examples/hello: `t` runs the chart's test
//! hooks, `p` the preflight checks, `r` re-applies with no file change (undoing a change made
//! to the cluster by hand), `?` shows the keys, unknown input names them, `q` ends the loop;
//! once the command input is closed the loop goes on watching files. No timing is asserted:
//! the deadline only keeps a broken build from hanging.

use berth_kube_sim::{SimOptions, Simulator};
use berth_ops::deploy::Target;
use berth_ops::dev::{DevCommand, DevCommands, DevEvent, DevInput, DevSummary};
use berth_ops::troubleshoot::KubeTarget;
use berth_ops::{Cancel, Event};
use serde_json::Value;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// Generous: a debug build on a loaded machine is slow.
const DEADLINE: Duration = Duration::from_secs(60);

const NAMESPACE: &str = "hello";

/// A test hook that passes on the simulator (it asks the app's Service).
const TEST_HOOK: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hello-test\n  annotations:\n    helm.sh/hook: test\nspec:\n  restartPolicy: Never\n  containers:\n    - name: test\n      image: docker.io/library/busybox:1.36\n      command: [wget, -qO-, http://hello/]\n";

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for e in std::fs::read_dir(src).expect("read_dir").flatten() {
        let to = dst.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).expect("copy");
        }
    }
}

/// examples/hello with a test hook, in `root`.
fn hello_with_test(root: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
    let app = root.join("hello");
    copy_dir(&src, &app);
    std::fs::write(app.join("chart/templates/test.yaml"), TEST_HOOK).expect("test hook");
    app
}

/// Run `test` on a runtime on a thread with a main thread's stack: a debug build's loop
/// (install inside a change inside the loop) goes deeper than a test thread's 2 MiB.
fn on_main_sized_stack<F: Future<Output = ()>>(test: impl FnOnce() -> F + Send + 'static) {
    let thread = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_stack_size(8 << 20)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(test());
        })
        .expect("thread");
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

/// The loop to run (next to its driver, on one task, as `berth dev` runs it).
struct Runner {
    target: Target,
    input: DevInput,
    sink: std::sync::Arc<dyn berth_ops::Sink>,
}

impl Runner {
    /// The loop's result (the driver next to it has the deadlines).
    async fn run(self) -> DevSummary {
        let cancel = Cancel::new();
        berth_ops::dev::run(&self.target, &self.input, self.sink, &cancel)
            .await
            .expect("the loop's result")
    }
}

/// A dev loop's fresh simulator, its command sender and its events.
struct Loop {
    _sim: Simulator,
    _dir: tempfile::TempDir,
    app: PathBuf,
    kubeconfig: PathBuf,
    send: UnboundedSender<DevCommand>,
    events: UnboundedReceiver<Event>,
    seen: Vec<DevEvent>,
}

impl Loop {
    async fn start(max_iterations: Option<u32>, break_it: bool) -> (Runner, Loop) {
        let dir = tempfile::tempdir().expect("tempdir");
        let sim = Simulator::start(SimOptions::default())
            .await
            .expect("simulator");
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        let app = hello_with_test(dir.path());
        if break_it {
            let manifest = app.join("berth.yaml");
            let text = std::fs::read_to_string(&manifest).expect("read");
            let broken = text.replace("  version: 1.0.0", "  version: 1.0.0\n  verison: 1.0.1");
            assert_ne!(broken, text, "berth.yaml holds the version line");
            std::fs::write(&manifest, broken).expect("write");
        }
        let target = Target {
            kubeconfig: Some(kubeconfig.clone()),
            namespace: Some(NAMESPACE.into()),
            timeout: Duration::from_secs(120),
            ..Target::default()
        };
        let (send, commands) = DevCommands::channel();
        let input = DevInput {
            app_dir: app.clone(),
            max_iterations,
            preflight: Some(KubeTarget {
                kubeconfig: Some(kubeconfig.clone()),
                context: None,
                namespace: Some(NAMESPACE.into()),
            }),
            commands: Some(commands),
            ..DevInput::default()
        };
        let (sink, events) = berth_ops::channel();
        let runner = Runner {
            target,
            input,
            sink,
        };
        let dev = Loop {
            _sim: sim,
            _dir: dir,
            app,
            kubeconfig,
            send,
            events,
            seen: Vec::new(),
        };
        (runner, dev)
    }

    fn send(&self, line: &str) {
        let c = DevCommand::parse(line).expect("a command");
        self.send.send(c).expect("the loop takes commands");
    }

    /// The next dev event `want` accepts (events before it are kept in `seen`).
    async fn next(&mut self, what: &str, want: impl Fn(&DevEvent) -> bool) -> DevEvent {
        let found = tokio::time::timeout(DEADLINE, async {
            loop {
                match self.events.recv().await {
                    Some(Event::Dev { event }) => {
                        self.seen.push(event.clone());
                        if want(&event) {
                            return Some(event);
                        }
                    }
                    Some(_) => {}
                    None => return None,
                }
            }
        })
        .await;
        match found {
            Ok(Some(e)) => e,
            Ok(None) => panic!("the loop ended before {what}; events: {:#?}", self.seen),
            Err(_) => panic!("no {what}; events: {:#?}", self.seen),
        }
    }
}

async fn connect(kubeconfig: &Path) -> berth_deploy::Cluster {
    berth_deploy::Cluster::connect(&berth_deploy::ConnectOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        context: None,
    })
    .await
    .expect("connect")
}

fn deployment_ref() -> berth_deploy::object::ObjectRef {
    berth_deploy::object::ObjectRef {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: NAMESPACE.into(),
        name: "hello".into(),
    }
}

async fn replicas(kubeconfig: &Path) -> Option<i64> {
    let d = connect(kubeconfig)
        .await
        .get(&deployment_ref())
        .await
        .expect("get");
    d.and_then(|d| d.pointer("/spec/replicas").and_then(Value::as_i64))
}

/// Scale the Deployment by hand, as `kubectl scale` would.
async fn scale_by_hand(kubeconfig: &Path, n: i64) {
    let c = connect(kubeconfig).await;
    let mut d = c
        .get(&deployment_ref())
        .await
        .expect("get")
        .expect("the Deployment exists");
    d["spec"]["replicas"] = Value::from(n);
    c.replace(&d).await.expect("replace");
}

fn key_names(e: &DevEvent) -> Vec<String> {
    match e {
        DevEvent::Keys { keys } => keys.iter().map(|k| k.key.clone()).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn keys_run_tests_and_preflight_reapply_over_a_hand_change_and_quit() {
    on_main_sized_stack(|| async {
        let (runner, dev) = Loop::start(None, false).await;
        let (summary, _dev) = tokio::join!(runner.run(), keys_in_turn(dev));
        assert_eq!(summary.iterations, 1);
        assert!(
            summary.latencies.is_empty(),
            "a re-apply has no save to measure from: {:?}",
            summary.latencies
        );
    });
}

/// Send x, t, p, r (after scaling by hand), ? and q, checking what each did.
async fn keys_in_turn(mut dev: Loop) -> Loop {
    let first = dev
        .next("the first install", |e| matches!(e, DevEvent::Applied(_)))
        .await;
    let DevEvent::Applied(first) = first else {
        unreachable!()
    };
    assert!(first.ok, "{first:?}");
    // The keys are announced once, after the first install.
    let keys = dev
        .next("the keys", |e| matches!(e, DevEvent::Keys { .. }))
        .await;
    assert_eq!(key_names(&keys), ["t", "p", "r", "q", "?"]);

    // Unknown input names the keys.
    dev.send("x");
    let unknown = dev
        .next("the unknown key", |e| {
            matches!(e, DevEvent::UnknownKey { .. })
        })
        .await;
    let DevEvent::UnknownKey { input, keys } = unknown else {
        unreachable!()
    };
    assert_eq!(input, "x");
    assert_eq!(keys, ["t", "p", "r", "q", "?"]);

    // t: the test hooks run against what is applied, with no file change.
    dev.send("t");
    let tests = dev
        .next("the tests", |e| matches!(e, DevEvent::Tests { .. }))
        .await;
    let DevEvent::Tests {
        iteration,
        passed,
        lines,
    } = tests
    else {
        unreachable!()
    };
    assert_eq!(iteration, 0);
    assert!(passed, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("pod/hello-test") && l.contains("passed")),
        "{lines:?}"
    );

    // p: the preflight checks of berth.yaml run now.
    dev.send("p");
    let preflight = dev
        .next("preflight", |e| matches!(e, DevEvent::Preflight { .. }))
        .await;
    let DevEvent::Preflight { verdict, lines, .. } = preflight else {
        unreachable!()
    };
    assert_eq!(verdict, "pass", "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("Default storage class")),
        "{lines:?}"
    );

    // r: a change made by hand is undone by a re-apply with no file change.
    scale_by_hand(&dev.kubeconfig, 5).await;
    assert_eq!(replicas(&dev.kubeconfig).await, Some(5));
    dev.send("r");
    let reapplied = dev
        .next("the re-apply", |e| matches!(e, DevEvent::Applied(_)))
        .await;
    let DevEvent::Applied(reapplied) = reapplied else {
        unreachable!()
    };
    assert!(reapplied.ok, "{reapplied:?}");
    assert_eq!(reapplied.iteration, 1);
    assert_eq!(reapplied.updated, ["deployment/hello (.spec.replicas)"]);
    assert_eq!(replicas(&dev.kubeconfig).await, Some(2));
    assert!(
        dev.seen.iter().any(|e| matches!(e,
            DevEvent::Command { iteration: 1, command } if command == "reapply")),
        "{:#?}",
        dev.seen
    );
    assert!(
        !dev.seen
            .iter()
            .any(|e| matches!(e, DevEvent::Changed { .. })),
        "no file changed: {:#?}",
        dev.seen
    );

    // ?: the keys again.
    dev.send("?");
    let keys = dev
        .next("the keys again", |e| matches!(e, DevEvent::Keys { .. }))
        .await;
    assert_eq!(key_names(&keys), ["t", "p", "r", "q", "?"]);

    // q: the loop ends cleanly.
    dev.send("q");
    let stopped = dev
        .next("the stop", |e| matches!(e, DevEvent::Stopped { .. }))
        .await;
    let DevEvent::Stopped { iterations, reason } = stopped else {
        unreachable!()
    };
    assert_eq!(reason, "quit");
    assert_eq!(iterations, 1);
    dev
}

#[test]
fn t_before_anything_was_applied_says_so() {
    on_main_sized_stack(|| async {
        let (runner, mut dev) = Loop::start(None, true).await;
        let driver = async move {
            let problems = dev
                .next("the problems", |e| matches!(e, DevEvent::Problems { .. }))
                .await;
            let DevEvent::Problems { problems, .. } = problems else {
                unreachable!()
            };
            assert!(
                problems.iter().any(|p| p.contains("verison")),
                "{problems:?}"
            );
            dev.next("the keys", |e| matches!(e, DevEvent::Keys { .. }))
                .await;
            dev.send("t");
            let tests = dev
                .next("the tests", |e| matches!(e, DevEvent::Tests { .. }))
                .await;
            let DevEvent::Tests { passed, lines, .. } = tests else {
                unreachable!()
            };
            assert!(!passed, "{lines:?}");
            assert!(
                lines.iter().any(|l| l.contains("nothing is applied yet")),
                "{lines:?}"
            );
            dev.send("quit");
            dev
        };
        let (summary, _dev) = tokio::join!(runner.run(), driver);
        assert_eq!(summary.iterations, 0);
    });
}

#[test]
fn a_closed_command_input_leaves_the_loop_watching_files() {
    on_main_sized_stack(|| async {
        let (runner, mut dev) = Loop::start(Some(1), false).await;
        let driver = async move {
            let first = dev
                .next("the first install", |e| matches!(e, DevEvent::Applied(_)))
                .await;
            assert!(matches!(first, DevEvent::Applied(a) if a.ok));
            dev.next("the keys", |e| matches!(e, DevEvent::Keys { .. }))
                .await;
            // Every sender gone: as stdin at its end.
            let (closed, _) = DevCommands::channel();
            dev.send = closed;
            // Let the loop see the input end before the save.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let deployment = dev.app.join("chart/templates/deployment.yaml");
            let text = std::fs::read_to_string(&deployment).expect("read");
            let edited = text.replace("replicas: {{ .Values.replicaCount }}", "replicas: 3");
            assert_ne!(edited, text, "the template holds the replicas line");
            std::fs::write(&deployment, edited).expect("save");
            let one = dev
                .next("the saved change", |e| matches!(e, DevEvent::Applied(_)))
                .await;
            let DevEvent::Applied(one) = one else {
                unreachable!()
            };
            assert!(one.ok, "{one:?}");
            assert_eq!(one.iteration, 1);
            assert_eq!(replicas(&dev.kubeconfig).await, Some(3));
            let stopped = dev
                .next("the stop", |e| matches!(e, DevEvent::Stopped { .. }))
                .await;
            assert!(
                matches!(&stopped, DevEvent::Stopped { reason, .. } if reason == "max iterations"),
                "{stopped:?}"
            );
            dev
        };
        let (summary, _dev) = tokio::join!(runner.run(), driver);
        assert_eq!(summary.iterations, 1);
    });
}
