//! The vendor's inner loop (`berth dev`): install the app, then watch every file it uses
//! (berth.yaml, charts with their templates, values and subcharts, manifests, checks, the
//! config file) and, on each save, lint, render, diff against the cluster, apply only the
//! changed objects, wait for readiness and report the object-level diff, any diagnosis and
//! the time from the save to "applied and ready". Problems are reported at file:line:column
//! and the loop goes on. Optionally the chart's test hooks run after each successful apply,
//! and the preflight checks whenever their files change. While it runs, [`DevCommand`]s sent
//! through [`DevCommands`] (keys in `berth dev`) run the tests or preflight now, re-apply
//! with no file change, or quit.
//!
//! Every step is the operation the other front ends call ([`crate::deploy::install`],
//! [`crate::deploy::upgrade`], [`crate::troubleshoot::preflight`]) over one cluster
//! connection kept for the whole session; the loop only decides when to run them.

mod watch;

use crate::deploy::{ApplyInput, Target};
use crate::error::{Error, Result};
use crate::prepare::ConfigInput;
use crate::progress::{Cancel, Event, Sink};
use berth_deploy::engine::{Outcome, Report};
use berth_deploy::plan::Action;
use berth_deploy::test_hooks::{TestOutcome, run_test, test_hooks};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use watch::Watch;

/// What `berth dev` watches and how it stops.
#[derive(Debug, Clone)]
pub struct DevInput {
    /// The app directory (holding berth.yaml).
    pub app_dir: PathBuf,
    /// The customer's config file (YAML mapping of config items), re-read on each change.
    pub config_file: Option<PathBuf>,
    /// Run the chart's test hooks after each successful apply.
    pub test_on_save: bool,
    /// Stop after this many changes were handled (the first install is not counted).
    pub max_iterations: Option<u32>,
    /// Stop once no file changed for this long.
    pub exit_after_idle: Option<Duration>,
    /// How often the files are checked.
    pub poll: Duration,
    /// A change is handled once the files were quiet this long (an editor saving several
    /// files, or writing one in pieces, makes one change).
    pub debounce: Duration,
    /// End a readiness wait once a diagnosis has held this long.
    pub fail_fast: Duration,
    /// The cluster preflight checks run against when their files change (they read it
    /// through a kubeconfig); `None` leaves preflight out.
    pub preflight: Option<crate::troubleshoot::KubeTarget>,
    /// A post-renderer (program, arguments) run on every chart component's manifests.
    pub post_renderer: Option<(PathBuf, Vec<String>)>,
    /// Requests made while the loop runs (keys on a terminal); `None` takes none. Once every
    /// sender is gone the loop goes on watching files.
    pub commands: Option<DevCommands>,
}

impl Default for DevInput {
    fn default() -> DevInput {
        DevInput {
            app_dir: PathBuf::from("."),
            config_file: None,
            test_on_save: false,
            max_iterations: None,
            exit_after_idle: None,
            poll: Duration::from_millis(25),
            debounce: Duration::from_millis(50),
            fail_fast: Duration::from_secs(3),
            preflight: None,
            post_renderer: None,
            commands: None,
        }
    }
}

/// A request to the running loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevCommand {
    /// Run the chart's test hooks now, against what is applied.
    Test,
    /// Run the preflight checks now.
    Preflight,
    /// Render and apply now, with no file change, taking over fields another field manager
    /// owns (after the cluster was changed by hand).
    Reapply,
    /// Stop the loop (as a cancel does).
    Quit,
    /// Show the keys.
    Help,
    /// Input that names no command (as typed, trimmed).
    Unknown(String),
}

/// The keys of [`DevCommand::parse`] and what each does, in the order they are shown.
/// How many times faster than a real cluster the app's own clock runs in the simulated
/// cluster `berth dev` starts (`berth_kube_sim::Profile::sped_up`): probe delays and Job
/// durations are the app's, not what a save is checked for, and a developer waits for each
/// save.
pub const DEV_SIM_SPEED: f64 = 1000.0;

pub const KEYS: [(&str, &str); 5] = [
    ("t", "run the test hooks"),
    ("p", "run preflight"),
    ("r", "re-apply"),
    ("q", "quit"),
    ("?", "show the keys"),
];

impl DevCommand {
    /// The command a line of input names: a key of [`KEYS`] (also `h`) or its word (`test`,
    /// `preflight`, `reapply`, `quit`, `help`), in any case; `None` for a blank line.
    pub fn parse(input: &str) -> Option<DevCommand> {
        let word = input.trim();
        if word.is_empty() {
            return None;
        }
        Some(match word.to_lowercase().as_str() {
            "t" | "test" => DevCommand::Test,
            "p" | "preflight" => DevCommand::Preflight,
            "r" | "reapply" | "re-apply" => DevCommand::Reapply,
            "q" | "quit" => DevCommand::Quit,
            "?" | "h" | "help" => DevCommand::Help,
            _ => DevCommand::Unknown(word.to_string()),
        })
    }
}

/// The receiving end of the loop's commands. It is taken by the first [`run`] given it
/// (clones share it), so [`DevInput`] stays cloneable.
#[derive(Clone)]
pub struct DevCommands(Arc<std::sync::Mutex<Option<UnboundedReceiver<DevCommand>>>>);

impl DevCommands {
    /// A sender for a console, a terminal or a test, and the input for [`DevInput::commands`].
    pub fn channel() -> (UnboundedSender<DevCommand>, DevCommands) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (tx, DevCommands(Arc::new(std::sync::Mutex::new(Some(rx)))))
    }

    fn take(&self) -> Option<UnboundedReceiver<DevCommand>> {
        self.0.lock().ok().and_then(|mut r| r.take())
    }
}

impl std::fmt::Debug for DevCommands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DevCommands")
    }
}

/// One key and what it does (in [`DevEvent::Keys`]).
#[derive(Debug, Clone, Serialize)]
pub struct DevKey {
    /// The key.
    pub key: String,
    /// What it does.
    pub action: String,
}

/// One event of the dev loop (inside [`Event::Dev`]); `iteration` 0 is the first install.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "dev", rename_all = "camelCase")]
pub enum DevEvent {
    /// The files are watched.
    Watching {
        /// The app directory.
        app_dir: PathBuf,
        /// Number of files watched.
        files: usize,
    },
    /// Saved files were seen; the change is being handled.
    Changed {
        /// The change's number.
        iteration: u32,
        /// The files added, changed or removed.
        files: Vec<PathBuf>,
    },
    /// Problems found before anything was applied (lint, config, render), each as
    /// `file:line:column: ...` where the place is known. Nothing was applied; the loop goes on.
    Problems {
        /// The change's number.
        iteration: u32,
        /// The problems, errors first.
        problems: Vec<String>,
    },
    /// The change was applied (or failed while applying, with the diagnosis).
    Applied(Box<Applied>),
    /// The chart's test hooks ran.
    Tests {
        /// The change's number.
        iteration: u32,
        /// Whether every test passed.
        passed: bool,
        /// One line per test.
        lines: Vec<String>,
    },
    /// The keys the loop takes (once after the first install, and on `?`).
    Keys {
        /// Each key and what it does.
        keys: Vec<DevKey>,
    },
    /// A command was taken and is running (`test`, `preflight` or `reapply`).
    Command {
        /// The change it belongs to (a re-apply is a change of its own).
        iteration: u32,
        /// Which.
        command: String,
    },
    /// Input that names no command.
    UnknownKey {
        /// The input, trimmed.
        input: String,
        /// The keys there are.
        keys: Vec<String>,
    },
    /// The preflight checks ran (their files changed, or `p`).
    Preflight {
        /// The change's number.
        iteration: u32,
        /// `pass`, `warn` or `fail`; `none` when no check ran (none named, or preflight off).
        verdict: String,
        /// One line per check.
        lines: Vec<String>,
    },
    /// The loop stopped.
    Stopped {
        /// Changes handled.
        iterations: u32,
        /// Why (`interrupted`, `quit`, `max iterations`, `idle`).
        reason: String,
    },
}

/// What one change did in the cluster.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    /// The change's number.
    pub iteration: u32,
    /// Applied and ready (or nothing to change).
    pub ok: bool,
    /// The engine's outcome (`deployed`, `unchanged`, `failed`...).
    pub outcome: Outcome,
    /// The revision written, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
    /// Objects created (`kind/name`).
    pub created: Vec<String>,
    /// Objects updated, each with its changed fields.
    pub updated: Vec<String>,
    /// Objects deleted because they left the app.
    pub pruned: Vec<String>,
    /// Number of objects left as they were.
    pub unchanged: usize,
    /// The failure in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why objects were not ready, and the fix.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<String>,
    /// Seconds from the change being seen to applied and ready.
    pub seconds: f64,
    /// Seconds from the newest write of a changed file to applied and ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_write: Option<f64>,
    /// The engine's seconds per phase (plan, apply, wait, ...): where the time went.
    pub phases: Vec<(String, f64)>,
}

/// What a dev session did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DevSummary {
    /// Changes handled (the first install not counted).
    pub iterations: u32,
    /// Seconds from each applied change's newest write to applied and ready.
    pub latencies: Vec<f64>,
}

/// Run the loop until `cancel`, [`DevCommand::Quit`], `max_iterations` or `exit_after_idle`. Problems with the
/// app are events, not errors: only a cluster that cannot be reached ends the loop early.
pub async fn run(
    target: &Target,
    input: &DevInput,
    sink: Arc<dyn Sink>,
    cancel: &Cancel,
) -> Result<DevSummary> {
    if !input.app_dir.join("berth.yaml").is_file() {
        return Err(Error::BadInput(format!(
            "{} holds no berth.yaml; pass the app directory (e.g. `berth dev examples/hello`) or create one with `berth init`",
            input.app_dir.display()
        )));
    }
    let (cluster, namespace) = target.connect().await?;
    let target = Target {
        cluster: Some(cluster),
        namespace: Some(namespace),
        ..target.clone()
    };
    let mut dev = Session {
        target,
        input: input.clone(),
        sink,
        installed: false,
        app: None,
        summary: DevSummary::default(),
    };
    let mut watch = Watch::new(&input.app_dir, input.config_file.as_deref());
    dev.emit(DevEvent::Watching {
        app_dir: input.app_dir.clone(),
        files: watch.len(),
    });
    let mut commands = input.commands.as_ref().and_then(DevCommands::take);
    dev.change(0, &[], Instant::now(), None, false, cancel)
        .await;
    if commands.is_some() {
        dev.keys();
    }
    let reason = dev.watch_loop(&mut watch, &mut commands, cancel).await;
    dev.emit(DevEvent::Stopped {
        iterations: dev.summary.iterations,
        reason: reason.into(),
    });
    Ok(dev.summary)
}

/// The next command; never resolves once every sender is gone (the loop goes on watching).
async fn next_command(commands: &mut Option<UnboundedReceiver<DevCommand>>) -> DevCommand {
    if let Some(rx) = commands {
        if let Some(c) = rx.recv().await {
            return c;
        }
        *commands = None;
    }
    std::future::pending().await
}

struct Session {
    target: Target,
    input: DevInput,
    sink: Arc<dyn Sink>,
    installed: bool,
    /// The app's name once a deploy reported it (what `t` tests).
    app: Option<String>,
    summary: DevSummary,
}

impl Session {
    fn emit(&self, e: DevEvent) {
        self.sink.event(Event::Dev { event: e });
    }

    /// Poll files and take commands until a stop condition; returns why it stopped.
    async fn watch_loop(
        &mut self,
        watch: &mut Watch,
        commands: &mut Option<UnboundedReceiver<DevCommand>>,
        cancel: &Cancel,
    ) -> &'static str {
        let mut quiet_since = Instant::now();
        loop {
            if cancel.is_cancelled() {
                return "interrupted";
            }
            if self
                .input
                .max_iterations
                .is_some_and(|m| self.summary.iterations >= m)
            {
                return "max iterations";
            }
            if self
                .input
                .exit_after_idle
                .is_some_and(|d| quiet_since.elapsed() >= d)
            {
                return "idle";
            }
            let command = tokio::select! {
                () = cancel.cancelled() => return "interrupted",
                () = tokio::time::sleep(self.input.poll) => None,
                c = next_command(commands) => Some(c),
            };
            if let Some(c) = command {
                if c == DevCommand::Quit {
                    return "quit";
                }
                self.command(c, watch, cancel).await;
                quiet_since = Instant::now();
                continue;
            }
            let (files, newest) = watch.poll();
            if files.is_empty() {
                continue;
            }
            self.files_changed(watch, files, newest, cancel).await;
            quiet_since = Instant::now();
        }
    }

    /// Handle saved files once they are quiet, then preflight if the checks changed.
    async fn files_changed(
        &mut self,
        watch: &mut Watch,
        mut files: Vec<PathBuf>,
        mut newest: Option<SystemTime>,
        cancel: &Cancel,
    ) {
        let seen = Instant::now();
        // Wait for the files to be quiet: one save of several files is one change.
        loop {
            tokio::time::sleep(self.input.debounce).await;
            let (more, n) = watch.poll();
            if more.is_empty() {
                break;
            }
            files.extend(more);
            newest = newest.max(n);
        }
        files.sort();
        files.dedup();
        self.summary.iterations += 1;
        let n = self.summary.iterations;
        let checks = files.iter().any(|f| watch.preflight_files().contains(f));
        self.change(n, &files, seen, newest, false, cancel).await;
        if checks {
            self.preflight(n, watch.preflight_files()).await;
        }
    }

    /// Do what a command asks (all but quit, which ends the loop).
    async fn command(&mut self, command: DevCommand, watch: &Watch, cancel: &Cancel) {
        let started = |dev: &Session, iteration: u32, name: &str| {
            dev.emit(DevEvent::Command {
                iteration,
                command: name.into(),
            });
        };
        let n = self.summary.iterations;
        match command {
            DevCommand::Test => {
                started(self, n, "test");
                match self.app.clone() {
                    Some(app) => self.tests(n, &app).await,
                    None => self.emit(DevEvent::Tests {
                        iteration: n,
                        passed: false,
                        lines: vec![
                            "nothing is applied yet: fix the problems above and save".into(),
                        ],
                    }),
                }
            }
            DevCommand::Preflight => {
                started(self, n, "preflight");
                if self.input.preflight.is_none() {
                    self.emit(DevEvent::Preflight {
                        iteration: n,
                        verdict: "none".into(),
                        lines: vec!["preflight is off: no cluster was given for the checks".into()],
                    });
                } else {
                    self.preflight(n, watch.preflight_files()).await;
                }
            }
            DevCommand::Reapply => {
                self.summary.iterations += 1;
                started(self, n + 1, "reapply");
                // Asked for after a change by hand: the files win over its field manager.
                self.change(n + 1, &[], Instant::now(), None, true, cancel)
                    .await;
            }
            DevCommand::Help => self.keys(),
            DevCommand::Unknown(input) => self.emit(DevEvent::UnknownKey {
                input,
                keys: KEYS.iter().map(|(k, _)| (*k).to_string()).collect(),
            }),
            DevCommand::Quit => {}
        }
    }

    /// Show the keys.
    fn keys(&self) {
        self.emit(DevEvent::Keys {
            keys: KEYS
                .iter()
                .map(|(key, action)| DevKey {
                    key: (*key).into(),
                    action: (*action).into(),
                })
                .collect(),
        });
    }

    /// Handle one change: lint, then render, diff, apply and wait (one upgrade), then tests.
    /// `force_conflicts` takes over fields another field manager owns (a re-apply).
    async fn change(
        &mut self,
        iteration: u32,
        files: &[PathBuf],
        seen: Instant,
        newest_write: Option<SystemTime>,
        force_conflicts: bool,
        cancel: &Cancel,
    ) {
        if !files.is_empty() {
            self.emit(DevEvent::Changed {
                iteration,
                files: files.to_vec(),
            });
        }
        let app_dir = self.input.app_dir.clone();
        let problems = lint(&app_dir);
        if !problems.is_empty() {
            self.emit(DevEvent::Problems {
                iteration,
                problems,
            });
            return;
        }
        let config = match ConfigInput::from_file(self.input.config_file.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                self.emit(DevEvent::Problems {
                    iteration,
                    problems: vec![e.to_string()],
                });
                return;
            }
        };
        let apply = ApplyInput {
            app_dir: Some(app_dir.clone()),
            config,
            // A developer wants to see the broken state and its diagnosis, and the next save
            // applies over it.
            rollback_on_failure: false,
            fail_fast: Some(self.input.fail_fast),
            // Readiness seen within 25–100 ms, not after a back-off of up to a second.
            wait_poll_max: Some(Duration::from_millis(100)),
            post_renderer: self.input.post_renderer.clone(),
            force_conflicts,
            ..ApplyInput::default()
        };
        let report = match self.deploy(&apply, cancel).await {
            Ok(r) => r,
            Err(e) => {
                self.emit(DevEvent::Problems {
                    iteration,
                    problems: vec![locate_template_error(&e.to_string(), &app_dir)],
                });
                return;
            }
        };
        let since_write = newest_write
            .and_then(|w| SystemTime::now().duration_since(w).ok())
            .map(|d| d.as_secs_f64());
        let applied = applied(
            iteration,
            &report,
            seen.elapsed().as_secs_f64(),
            since_write,
        );
        let ok = applied.ok;
        self.app = Some(report.app.clone());
        if ok {
            self.installed = true;
            // A re-apply has no save to measure from.
            if !files.is_empty() {
                self.summary
                    .latencies
                    .push(since_write.unwrap_or(applied.seconds));
            }
        }
        self.emit(DevEvent::Applied(Box::new(applied)));
        if ok && self.input.test_on_save && !cancel.is_cancelled() {
            self.tests(iteration, &report.app).await;
        }
    }

    /// Install until an install succeeded, then upgrade. An app installed before the session
    /// at another version is upgraded.
    async fn deploy(&mut self, apply: &ApplyInput, cancel: &Cancel) -> Result<Report> {
        if !self.installed {
            match crate::deploy::install(&self.target, apply, self.sink.clone(), cancel).await {
                Err(Error::Deploy(berth_deploy::DeployError::AlreadyInstalled { .. })) => {
                    self.installed = true;
                }
                other => return other,
            }
        }
        crate::deploy::upgrade(&self.target, apply, self.sink.clone(), cancel).await
    }

    /// The test hooks of the app as the files are now, rendered as the deployed revision
    /// was (its generated config values): a hook is no object of the plan, so an edit of a
    /// test alone writes no revision, yet the edited test is the one to run.
    async fn test_objects(&self, app: &str) -> Result<Vec<serde_json::Value>> {
        let (cluster, ns) = self.target.connect().await?;
        let engine = self
            .target
            .engine(cluster, &ns, Arc::new(crate::progress::Discard), |_| {});
        let history = engine.revisions(app).await?;
        let previous = history.last().map(|r| r.config.clone());
        let live = crate::prepare::live_render_options(&engine, &history, true).await?;
        let live = berth_render::AppRenderOptions {
            revision: live.revision - 1,
            post_renderer: self.input.post_renderer.clone(),
            ..live
        };
        let config = ConfigInput::from_file(self.input.config_file.as_deref())?;
        let prepared = crate::prepare::prepare_input(
            &self.input.app_dir,
            &config,
            Some(&ns),
            previous.as_ref(),
            live,
        )?;
        Ok(test_hooks(&prepared.release.objects))
    }

    /// Run the chart's test hooks (after a successful apply, or on `t`).
    async fn tests(&self, iteration: u32, app: &str) {
        let tests = match self.test_objects(app).await {
            Ok(t) => t,
            Err(e) => {
                self.emit(DevEvent::Tests {
                    iteration,
                    passed: false,
                    lines: vec![format!("cannot render the test hooks: {e}")],
                });
                return;
            }
        };
        if tests.is_empty() {
            self.emit(DevEvent::Tests {
                iteration,
                passed: true,
                lines: vec!["the chart has no test hooks (helm.sh/hook: test)".into()],
            });
            return;
        }
        let Ok((cluster, _)) = self.target.connect().await else {
            return;
        };
        let mut lines = Vec::new();
        let mut passed = true;
        for t in &tests {
            let run = run_test(&cluster, t, self.target.timeout, self.input.fail_fast).await;
            let r = &run.object;
            let secs = run.seconds;
            let mut line = match &run.outcome {
                TestOutcome::Passed => format!("test {r} passed ({secs:.2}s)"),
                TestOutcome::Failed => format!("test {r} failed ({secs:.2}s){}", run.logs),
                TestOutcome::TimedOut => {
                    format!("test {r} did not finish in time ({secs:.2}s){}", run.logs)
                }
                TestOutcome::Diagnosed(d) => format!("test {r}: {}; fix: {}", d.cause, d.fix),
                TestOutcome::NotCreated(e) => format!("test {r} could not be created: {e}"),
            };
            // NetworkPolicies that refuse the test's connection: berth's diagnosis.
            if let Some(d) = &run.network {
                line.push_str(&format!("\n  cause: {}\n  fix: {}", d.cause, d.fix));
            }
            lines.push(line);
            passed &= run.passed();
        }
        self.emit(DevEvent::Tests {
            iteration,
            passed,
            lines,
        });
    }

    /// Run the preflight checks of berth.yaml (their files changed, or `p`).
    async fn preflight(&self, iteration: u32, files: &[PathBuf]) {
        let none = |why: &str| DevEvent::Preflight {
            iteration,
            verdict: "none".into(),
            lines: vec![why.into()],
        };
        let Some(kube) = &self.input.preflight else {
            return;
        };
        if files.is_empty() {
            return self.emit(none(
                "berth.yaml names no preflight checks (spec.checks.preflights)",
            ));
        }
        let input = crate::troubleshoot::PreflightInput {
            specs: files.iter().map(|f| f.display().to_string()).collect(),
            kube: kube.clone(),
            limits: Default::default(),
            values_files: Vec::new(),
            set: Vec::new(),
            keep_bundle: None,
        };
        let (verdict, lines) =
            match crate::troubleshoot::preflight(&input, &crate::progress::Discard, &Cancel::new())
                .await
            {
                Ok(r) => (
                    format!("{:?}", r.verdict()).to_lowercase(),
                    r.results
                        .iter()
                        .map(|c| {
                            let o = format!("{:?}", c.outcome).to_lowercase();
                            format!("{o}: {}: {}", c.check, c.message)
                        })
                        .collect(),
                ),
                Err(e) => ("fail".into(), vec![e.to_string()]),
            };
        self.emit(DevEvent::Preflight {
            iteration,
            verdict,
            lines,
        });
    }
}

/// The lint errors of the app, each at file:line:column (warnings do not stop a change).
fn lint(app_dir: &Path) -> Vec<String> {
    let report = berth_spec::lint_dir(app_dir);
    report
        .problems
        .iter()
        .filter(|p| p.severity == berth_spec::Severity::Error)
        .map(ToString::to_string)
        .collect()
}

/// The dev event of an engine report.
fn applied(iteration: u32, report: &Report, seconds: f64, since_write: Option<f64>) -> Applied {
    let mut out = Applied {
        iteration,
        ok: report.ok(),
        outcome: report.outcome,
        revision: report.revision,
        created: Vec::new(),
        updated: Vec::new(),
        pruned: Vec::new(),
        unchanged: 0,
        error: report.error.clone(),
        diagnoses: report
            .diagnoses
            .iter()
            .map(|d| format!("{}: {}; fix: {}", d.object, d.cause, d.fix))
            .collect(),
        seconds,
        since_write,
        phases: report.timings.clone(),
    };
    for s in &report.plan.steps {
        let name = format!("{}/{}", s.object.kind.to_lowercase(), s.object.name);
        match &s.action {
            Action::Create => out.created.push(name),
            Action::Update { changes } => {
                let fields: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
                out.updated.push(format!("{name} ({})", fields.join(", ")));
            }
            Action::Prune => out.pruned.push(name),
            Action::Unchanged | Action::Keep => out.unchanged += 1,
        }
    }
    out
}

/// Point a template error's place (`CHART/templates/x.yaml:12:7`, named by the chart's name,
/// as Helm names templates) at the file on disk (`APP/chart/templates/x.yaml:12:7`), so an
/// editor or a terminal can jump to it. Places that name no file of a local chart stay.
pub fn locate_template_error(message: &str, app_dir: &Path) -> String {
    let Ok(loaded) = berth_spec::load(app_dir) else {
        return message.to_string();
    };
    let charts: Vec<PathBuf> = loaded
        .app
        .spec
        .components
        .iter()
        .filter_map(|c| c.chart.as_ref().and_then(|ch| ch.path.as_ref()))
        .map(|p| app_dir.join(p))
        .collect();
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some((name_start, name_end)) = next_place(rest) {
        let name = &rest[name_start..name_end];
        let file = name
            .split_once('/')
            .and_then(|(_chart, inner)| charts.iter().map(|c| c.join(inner)).find(|f| f.is_file()));
        out.push_str(&rest[..name_start]);
        match file {
            Some(f) => out.push_str(&f.display().to_string()),
            None => out.push_str(name),
        }
        rest = &rest[name_end..];
    }
    out.push_str(rest);
    out
}

/// The next `NAME:LINE:COL` in `s`: the byte range of NAME (a word holding a `/`).
fn next_place(s: &str) -> Option<(usize, usize)> {
    let digits = |t: &str| t.bytes().take_while(u8::is_ascii_digit).count();
    let mut from = 0;
    while let Some(i) = s[from..].find(':') {
        let i = from + i;
        let tail = &s[i + 1..];
        let d1 = digits(tail);
        if d1 > 0 && tail[d1..].starts_with(':') && digits(&tail[d1 + 1..]) > 0 {
            let start = s[..i]
                .rfind(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '(' | '<'))
                .map_or(0, |j| j + 1);
            if s[start..i].contains('/') {
                return Some((start, i));
            }
        }
        from = i + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_words_name_commands_and_anything_else_is_unknown() {
        let cases = [
            ("t", DevCommand::Test),
            ("TEST\n", DevCommand::Test),
            (" p ", DevCommand::Preflight),
            ("r", DevCommand::Reapply),
            ("re-apply", DevCommand::Reapply),
            ("q", DevCommand::Quit),
            ("Quit", DevCommand::Quit),
            ("?", DevCommand::Help),
            ("h", DevCommand::Help),
            ("tq", DevCommand::Unknown("tq".into())),
            ("x y", DevCommand::Unknown("x y".into())),
        ];
        for (input, want) in cases {
            assert_eq!(DevCommand::parse(input), Some(want), "{input:?}");
        }
        assert_eq!(DevCommand::parse("  \n"), None);
        // Every key shown parses to a command.
        for (key, _) in KEYS {
            let c = DevCommand::parse(key);
            assert!(
                c.is_some_and(|c| !matches!(c, DevCommand::Unknown(_))),
                "{key}"
            );
        }
    }

    #[test]
    fn a_template_error_points_at_the_file_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = dir.path();
        std::fs::write(
            app.join("berth.yaml"),
            "apiVersion: berth.dev/v1alpha1\nkind: Application\nmetadata:\n  name: a\nspec:\n  components:\n    - name: a\n      chart:\n        path: chart\n",
        )
        .expect("write");
        std::fs::create_dir_all(app.join("chart/templates")).expect("mkdir");
        std::fs::write(app.join("chart/templates/web.yaml"), "x").expect("write");
        std::fs::write(
            app.join("chart/Chart.yaml"),
            "apiVersion: v2\nname: hello\nversion: 1.0.0\n",
        )
        .expect("write");
        let msg = "component a: template: hello/templates/web.yaml:3:14: executing \"hello/templates/web.yaml\" at <.Values.y>: nil";
        assert_eq!(
            locate_template_error(msg, app),
            format!(
                "component a: template: {}:3:14: executing \"hello/templates/web.yaml\" at <.Values.y>: nil",
                app.join("chart/templates/web.yaml").display()
            )
        );
        // No such file: the message stays.
        let other = "chart chart: hello/templates/gone.yaml:1:2\n  bad at 10:20:30";
        assert_eq!(locate_template_error(other, app), other);
        assert_eq!(locate_template_error("no place here", app), "no place here");
    }
}
