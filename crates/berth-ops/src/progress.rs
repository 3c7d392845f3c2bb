//! Progress of an operation: a stream of typed [`Event`]s delivered to a [`Sink`] (the CLI
//! draws bars from them, the console pushes them to the page as server-sent events), and the
//! [`Cancel`] flag a caller sets to stop an operation at its next safe point.

use berth_deploy::engine::Event as DeployEvent;
use serde::Serialize;
use std::sync::Arc;

/// A step of an operation. Steps start and finish in the order an operation takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Read berth.yaml and the config input.
    Resolve,
    /// Connect to the cluster and read the app's revisions.
    Connect,
    /// Check a bundle's signature and digests and extract its app files.
    VerifyBundle,
    /// Render the app's components into objects.
    Render,
    /// Check the upgrade policy (minimum version, required releases, Kubernetes).
    Policy,
    /// Push a bundle's images into the customer's registry.
    PushImages,
    /// Compute what would change.
    Plan,
    /// The deploy engine runs (install, upgrade, rollback, uninstall).
    Deploy,
    /// Read specs (troubleshoot).
    LoadSpecs,
    /// Run collectors.
    Collect,
    /// Run analyzers.
    Analyze,
    /// Write the support bundle archive.
    Pack,
}

/// One progress event of an operation. Serialized as `{"type": "...", ...}`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Event {
    /// A step started.
    StepStarted {
        /// The step.
        step: Step,
    },
    /// A step finished (`ok` false when it failed; the operation's error says why).
    StepFinished {
        /// The step.
        step: Step,
        /// Whether it succeeded.
        ok: bool,
    },
    /// The deploy engine's own progress: its phases, each object applied, pruned or deleted,
    /// readiness (`ready/total` and what is waited on, hooks included), and notes.
    Deploy {
        /// The engine's event.
        event: DeployEvent,
    },
    /// An image starts being pushed; `bytes` of blobs will be considered.
    ImageStarted {
        /// The target reference.
        image: String,
        /// Bytes of the image's blobs.
        bytes: u64,
    },
    /// More bytes of an image were pushed (or found present).
    BytesPushed {
        /// The target reference.
        image: String,
        /// Bytes handled since the last event.
        bytes: u64,
    },
    /// An image is in the registry.
    ImageDone {
        /// The target reference.
        image: String,
    },
    /// The images were relocated to the customer's registry: what was pushed or reused.
    Relocated {
        /// A one-line summary (images, registry, pull Secret).
        summary: String,
    },
    /// What a component's `expose` will create: the flavour found in the cluster (or chosen
    /// in config), why, the objects, and notes (`web: traefik (default IngressClass ...) →
    /// Ingress/web`).
    Exposed {
        /// One line per component, notes indented below.
        summary: String,
    },
    /// A collector started (it got one of the concurrent slots).
    CollectorStarted {
        /// `<type>` or `<type>/<name>`.
        title: String,
        /// Host collector (else cluster).
        host: bool,
    },
    /// A collector ended (excluded and unsupported ones too).
    CollectorFinished {
        /// `<type>` or `<type>/<name>`.
        title: String,
        /// Host collector (else cluster).
        host: bool,
        /// `ok`, `error`, `timeout`, `skipped`, `excluded`...
        status: String,
        /// The error, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A problem in a troubleshoot spec (`error` problems fail the operation).
    SpecProblem {
        /// `error` or `notice`.
        severity: String,
        /// What and where.
        message: String,
    },
    /// Something the user should know that does not stop the operation.
    Warning {
        /// The warning.
        message: String,
    },
    /// Information (which specs were found, what was skipped).
    Note {
        /// The note.
        message: String,
    },
    /// The dev loop's own progress: changes seen, problems, what each change applied.
    Dev {
        /// The loop's event.
        event: crate::dev::DevEvent,
    },
}

/// Receives an operation's events. Called from the operation's task: keep it quick (draw,
/// or hand the event to a channel).
pub trait Sink: Send + Sync {
    /// One event.
    fn event(&self, e: Event);
}

/// Ignores every event.
pub struct Discard;
impl Sink for Discard {
    fn event(&self, _: Event) {}
}

impl<F: Fn(Event) + Send + Sync> Sink for F {
    fn event(&self, e: Event) {
        self(e)
    }
}

impl Sink for tokio::sync::mpsc::UnboundedSender<Event> {
    fn event(&self, e: Event) {
        // A receiver that went away (page closed) does not stop the operation.
        let _ = self.send(e);
    }
}

impl Sink for tokio::sync::broadcast::Sender<Event> {
    fn event(&self, e: Event) {
        let _ = self.send(e);
    }
}

/// A sink that forwards every event to a channel, and the receiving end (a web front end
/// turns it into server-sent events). Sending never blocks the operation.
pub fn channel() -> (Arc<dyn Sink>, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (Arc::new(tx), rx)
}

/// Events collected in memory (tests, and front ends that show them afterwards).
#[derive(Default)]
pub struct Recorder(std::sync::Mutex<Vec<Event>>);

impl Recorder {
    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Sink for Recorder {
    fn event(&self, e: Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push(e);
        }
    }
}

/// Started/finished events around one step.
pub(crate) async fn step<T, E>(
    sink: &dyn Sink,
    step: Step,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    sink.event(Event::StepStarted { step });
    let r = fut.await;
    sink.event(Event::StepFinished {
        step,
        ok: r.is_ok(),
    });
    r
}

/// [`step`] for synchronous work.
pub(crate) fn step_sync<T, E>(
    sink: &dyn Sink,
    step: Step,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    sink.event(Event::StepStarted { step });
    let r = f();
    sink.event(Event::StepFinished {
        step,
        ok: r.is_ok(),
    });
    r
}

/// Hands the deploy engine's events to a sink.
pub(crate) struct DeployProgress(pub Arc<dyn Sink>);

impl berth_deploy::engine::Progress for DeployProgress {
    fn event(&self, event: DeployEvent) {
        self.0.event(Event::Deploy { event });
    }
}

/// Hands image push progress to a sink.
pub(crate) struct PushProgress<'a>(pub &'a dyn Sink);

impl berth_oci::transfer::Progress for PushProgress<'_> {
    fn image_start(&self, image: &str, total: u64) {
        self.0.event(Event::ImageStarted {
            image: image.into(),
            bytes: total,
        });
    }
    fn bytes(&self, image: &str, n: u64) {
        self.0.event(Event::BytesPushed {
            image: image.into(),
            bytes: n,
        });
    }
    fn image_done(&self, image: &str) {
        self.0.event(Event::ImageDone {
            image: image.into(),
        });
    }
}

/// Asks an operation to stop. Deploys stop at their next safe point (between batches, before
/// hooks and prune, while waiting), record the revision as interrupted and release the lock;
/// troubleshoot operations stop between steps. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(tokio_util::sync::CancellationToken);

impl Cancel {
    /// A flag nobody has set.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Ask the operation(s) holding this flag to stop.
    pub fn cancel(&self) {
        self.0.cancel();
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Resolves once [`Cancel::cancel`] is called.
    pub async fn cancelled(&self) {
        self.0.cancelled().await;
    }

    /// `Err(Cancelled)` once cancelled: checked between steps.
    pub(crate) fn check(&self) -> crate::Result<()> {
        if self.is_cancelled() {
            return Err(crate::Error::Cancelled);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_channel_sink_delivers_events_in_order_and_survives_a_closed_receiver() {
        let (sink, mut rx) = channel();
        step_sync(&*sink, Step::Resolve, || Ok::<_, ()>(())).expect("ok");
        sink.event(Event::Warning {
            message: "w".into(),
        });
        let got: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| serde_json::to_string(&e).expect("json"))
            .collect();
        assert_eq!(
            got,
            vec![
                r#"{"type":"stepStarted","step":"resolve"}"#,
                r#"{"type":"stepFinished","step":"resolve","ok":true}"#,
                r#"{"type":"warning","message":"w"}"#,
            ]
        );
        drop(rx);
        // The page went away: the operation goes on.
        sink.event(Event::Note {
            message: "n".into(),
        });
    }
}
