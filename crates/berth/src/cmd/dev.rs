//! `berth dev [APP_DIR]`: the vendor's inner loop (berth-ops' `dev`) on an in-process
//! simulated cluster or a real one; this module parses the flags and prints the events.

use crate::cmd::deploy::parse_duration;
use crate::output::{self, Format};
use anyhow::{Context as _, Result};
use berth_ops::dev::{Applied, DevCommand, DevCommands, DevEvent, DevInput};
use berth_ops::{Cancel, Event};
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Watch the app and apply every save to a cluster: lint, render, diff, apply, wait, report.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Each save of berth.yaml, a chart file (templates, values, subcharts), a \
check or the --config file is linted, rendered, diffed against the cluster and applied \
(only the objects that changed), then waited on until ready. Each change prints the objects \
created, updated and pruned, any diagnosis, and the time from the save to applied and \
ready. Problems are shown at file:line:column and the loop goes on. Ctrl-C stops.\n\n\
Keys act while the loop runs (on a terminal a key alone; from a pipe one a line): t runs the chart's test hooks \
against what is applied, p runs the preflight checks, r renders and applies again with no \
file change (after changing the cluster by hand), q quits, ? shows the keys. Input that is \
closed (</dev/null) or turned off with --no-keys leaves only the files and Ctrl-C.\n\n\
Examples:\n  berth dev examples/hello          # on an in-process simulated cluster\n  \
berth dev . --config dev.yaml --test-on-save\n  \
berth dev . --kubeconfig ~/.kube/kind.yaml -n hello\n  \
berth dev . --max-iterations 3 -o json   # one JSON event per line\n  \
berth dev . --no-keys                  # stdin and the terminal left alone"
)]
pub struct Args {
    /// The app directory (holding berth.yaml).
    #[arg(default_value = ".")]
    app_dir: PathBuf,
    /// Config values: a YAML mapping of config item names to values (re-read on each save).
    #[arg(long, short = 'f', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Use an in-process simulated cluster (the default without --kubeconfig).
    #[arg(long, conflicts_with_all = ["kubeconfig", "context"])]
    sim: bool,
    /// The simulated cluster's profile: a built-in name (default, k3s, eks, gke, openshift,
    /// rke2, bare, k8s-1.NN) or a profile file (docs/formats/sim-profile.md).
    #[arg(long, value_name = "NAME|FILE", default_value = "default", conflicts_with_all = ["kubeconfig", "context"])]
    sim_profile: String,
    /// How many times faster than real time the app's own durations pass in the simulated
    /// cluster (probe delays; Job pods run 1 s divided by it unless the profile says how
    /// long). 1 = as `berth cluster sim` runs them.
    #[arg(long, value_name = "N", default_value_t = berth_ops::dev::DEV_SIM_SPEED, conflicts_with_all = ["kubeconfig", "context"])]
    sim_speed: f64,
    /// Use the cluster of this kubeconfig instead of a simulated one.
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context (with --kubeconfig).
    #[arg(long)]
    context: Option<String>,
    /// Namespace of the app. Default: the kubeconfig context's, else `default`.
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Run the chart's test hooks (helm.sh/hook: test) after each successful apply.
    #[arg(long)]
    test_on_save: bool,
    /// Read no keys from stdin, leaving it and the terminal's settings alone (a terminal
    /// the process is in the background of is never read).
    #[arg(long)]
    no_keys: bool,
    /// Stop after this many changes were handled (the first install is not counted; a
    /// re-apply by key counts).
    #[arg(long, value_name = "N")]
    max_iterations: Option<u32>,
    /// Stop once no file changed for this long (30s, 5m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    exit_after_idle: Option<Duration>,
    #[command(flatten)]
    post: crate::cmd::chart::PostRenderFlags,
    /// How long to wait for readiness of each change (30s, 5m).
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    timeout: Duration,
    /// Output: table (lines for people) or json (one event per line).
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    output: Format,
}

pub fn run(args: Args) -> Result<u8> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(dev(args))
}

async fn dev(args: Args) -> Result<u8> {
    // The simulated cluster lives as long as this process; its kubeconfig (for kubectl and
    // the preflight checks) in a temporary directory removed at exit.
    let work = tempfile::tempdir().context("cannot create a temporary directory")?;
    let mut sim = None;
    let kubeconfig = match &args.kubeconfig {
        Some(k) => k.clone(),
        None => {
            let profile = berth_kube_sim::Profile::resolve(&args.sim_profile)
                .with_context(|| format!("--sim-profile {}", args.sim_profile))?;
            let s = berth_kube_sim::Simulator::start(berth_kube_sim::SimOptions {
                profile: profile.sped_up(args.sim_speed),
                ..Default::default()
            })
            .await
            .context("cannot start the simulated cluster")?;
            let k = work.path().join("kubeconfig");
            s.write_kubeconfig(&k)?;
            eprintln!(
                "simulated cluster at {}; try: kubectl --kubeconfig {} get pods -A",
                s.url(),
                k.display()
            );
            sim = Some(s);
            k
        }
    };
    let context = args.context.clone();
    let target = berth_ops::deploy::Target {
        kubeconfig: Some(kubeconfig.clone()),
        context: context.clone(),
        namespace: args.namespace.clone(),
        timeout: args.timeout,
        cluster: None,
    };
    let input = DevInput {
        app_dir: args.app_dir.clone(),
        config_file: args.config.clone(),
        test_on_save: args.test_on_save,
        max_iterations: args.max_iterations,
        exit_after_idle: args.exit_after_idle,
        preflight: Some(berth_ops::troubleshoot::KubeTarget {
            kubeconfig: Some(kubeconfig),
            context,
            namespace: args.namespace.clone(),
        }),
        post_renderer: args.post.get(),
        ..DevInput::default()
    };
    // Held until the loop ends: dropping it gives the terminal its line mode back.
    let (commands, key_mode) = if args.no_keys {
        (None, None)
    } else {
        read_keys()
    };
    let input = DevInput { commands, ..input };
    let enter = if key_mode.is_some() {
        ""
    } else {
        " (then Enter)"
    };
    let format = args.output;
    let sink: Arc<dyn berth_ops::Sink> = Arc::new(move |e: Event| print_event(e, format, enter));
    let cancel = Cancel::new();
    let stop = cancel.clone();
    let on_ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    let res = berth_ops::dev::run(&target, &input, sink, &cancel).await;
    drop(key_mode);
    on_ctrl_c.abort();
    if let Some(s) = sim {
        s.shutdown().await;
    }
    res?;
    Ok(crate::exit::OK)
}

/// Commands from stdin: single keys on a terminal (in the foreground), else lines. A thread
/// of its own, not the runtime's blocking pool: a read that never returns must not hold up
/// the exit. At the end of input (</dev/null) the thread ends and the loop goes on without
/// keys. A terminal of a background job is not read (reading it would stop the process).
fn read_keys() -> (Option<DevCommands>, Option<KeyMode>) {
    let stdin = std::io::stdin();
    let mode = if !stdin.is_terminal() {
        None
    } else if KeyMode::in_foreground() {
        KeyMode::enter()
    } else {
        return (None, None);
    };
    let (tx, commands) = DevCommands::channel();
    let single = mode.is_some();
    std::thread::spawn(move || {
        let mut line = String::new();
        for b in std::io::stdin().lock().bytes() {
            let Ok(b) = b else { return };
            let input = match (single, b) {
                (true, b) if b.is_ascii_graphic() => (b as char).to_string(),
                // Enter, spaces and control keys (ESC of an arrow key) name nothing.
                (true, _) => continue,
                (false, b'\n') => std::mem::take(&mut line),
                (false, b) => {
                    line.push(b as char);
                    continue;
                }
            };
            if let Some(c) = DevCommand::parse(&input)
                && tx.send(c).is_err()
            {
                return;
            }
        }
        // A last line without a newline before the end of input.
        if let Some(c) = DevCommand::parse(&line) {
            let _ = tx.send(c);
        }
    });
    (Some(commands), mode)
}

/// A terminal taking single keys: line editing and echo off, signals (Ctrl-C) and output
/// processing kept, so printed lines look as before. The settings are restored on drop.
struct KeyMode(nix::sys::termios::Termios);

impl KeyMode {
    /// Whether this process is the terminal's foreground job.
    fn in_foreground() -> bool {
        let stdin = std::io::stdin();
        nix::unistd::tcgetpgrp(&stdin).is_ok_and(|g| g == nix::unistd::getpgrp())
    }

    /// Turn line mode off; `None` (lines, then Enter) where the terminal refuses.
    fn enter() -> Option<KeyMode> {
        use nix::sys::termios::{
            LocalFlags, SetArg, SpecialCharacterIndices, tcgetattr, tcsetattr,
        };
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok()?;
        let mut keys = saved.clone();
        keys.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO);
        keys.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        keys.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        tcsetattr(&stdin, SetArg::TCSANOW, &keys).ok()?;
        Some(KeyMode(saved))
    }
}

impl Drop for KeyMode {
    fn drop(&mut self) {
        let stdin = std::io::stdin();
        let _ = nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &self.0);
    }
}

/// One event: a JSON line with `-o json`, else lines for people (results on stdout, the
/// engine's notes and warnings on stderr).
/// `enter` follows the keys where each must be followed by Enter.
fn print_event(e: Event, format: Format, enter: &str) {
    if format != Format::Table {
        if let Event::Dev { event } = &e
            && let Ok(line) = serde_json::to_string(event)
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
        return;
    }
    match e {
        Event::Dev { event } => {
            let text = human(&event, enter);
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{text}");
            let _ = out.flush();
        }
        Event::Warning { message } => eprintln!("warning: {message}"),
        Event::Deploy {
            event: berth_deploy::engine::Event::Note(n),
        } => eprintln!("note: {n}"),
        _ => {}
    }
}

/// The lines of one dev event.
fn human(e: &DevEvent, enter: &str) -> String {
    let color = output::color_stdout();
    let paint = |s: &str, ok: bool| {
        if !color {
            return s.to_string();
        }
        let st = console::style(s).bold().force_styling(true);
        if ok { st.green() } else { st.red() }.to_string()
    };
    match e {
        DevEvent::Watching { app_dir, files } => format!(
            "watching {} files of {} (Ctrl-C stops)\n",
            files,
            app_dir.display()
        ),
        DevEvent::Changed { iteration, files } => {
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            format!("\n[{iteration}] changed: {}\n", names.join(", "))
        }
        DevEvent::Problems {
            iteration,
            problems,
        } => {
            let mut s = format!(
                "[{iteration}] {} nothing applied; fix and save again:\n",
                paint("problems:", false)
            );
            for p in problems {
                s.push_str(&format!("  {}\n", p.replace('\n', "\n  ")));
            }
            s
        }
        DevEvent::Applied(a) => applied(a, &paint),
        DevEvent::Tests {
            iteration,
            passed,
            lines,
        } => {
            let head = if *passed {
                "tests passed"
            } else {
                "tests failed"
            };
            let mut s = format!("[{iteration}] {}\n", paint(head, *passed));
            for l in lines {
                s.push_str(&format!("  {l}\n"));
            }
            s
        }
        DevEvent::Preflight {
            iteration,
            verdict,
            lines,
        } => {
            let mut s = format!(
                "[{iteration}] preflight: {}\n",
                paint(verdict, verdict == "pass")
            );
            for l in lines {
                s.push_str(&format!("  {l}\n"));
            }
            s
        }
        DevEvent::Keys { keys } => {
            let list: Vec<String> = keys
                .iter()
                .map(|k| format!("{} {}", k.key, k.action))
                .collect();
            format!("keys{enter}: {}\n", list.join(", "))
        }
        DevEvent::Command { iteration, command } => {
            let what = match command.as_str() {
                "test" => "running the test hooks",
                "preflight" => "running preflight",
                "reapply" => "re-applying with no file change",
                other => other,
            };
            format!("\n[{iteration}] {what}\n")
        }
        DevEvent::UnknownKey { input, keys } => {
            format!("unknown key {input:?}; keys: {}{enter}\n", keys.join(" "))
        }
        DevEvent::Stopped { iterations, reason } => {
            format!("stopped ({reason}) after {iterations} change(s)\n")
        }
    }
}

fn applied(a: &Applied, paint: &dyn Fn(&str, bool) -> String) -> String {
    let head = if a.ok {
        if a.created.is_empty() && a.updated.is_empty() && a.pruned.is_empty() {
            "nothing to change".to_string()
        } else {
            "applied and ready".to_string()
        }
    } else {
        serde_json::to_value(a.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let secs = a.since_write.unwrap_or(a.seconds);
    let rev = a
        .revision
        .map(|r| format!(", revision {r}"))
        .unwrap_or_default();
    let mut s = format!(
        "[{}] {} in {:.0} ms{rev}: {} created, {} updated, {} pruned, {} unchanged\n",
        a.iteration,
        paint(&head, a.ok),
        secs * 1000.0,
        a.created.len(),
        a.updated.len(),
        a.pruned.len(),
        a.unchanged
    );
    for (what, names) in [
        ("created", &a.created),
        ("updated", &a.updated),
        ("pruned", &a.pruned),
    ] {
        for n in names {
            s.push_str(&format!("  {what} {n}\n"));
        }
    }
    if let Some(e) = &a.error {
        s.push_str(&format!("  error: {}\n", e.replace('\n', "\n  ")));
    }
    for d in &a.diagnoses {
        s.push_str(&format!("  diagnosis: {d}\n"));
    }
    s
}
