//! berth's operations — install, upgrade, diff, rollback, uninstall, status, history (with
//! revision diffs), the air-gapped install and upgrade from a signed bundle, preflight,
//! support bundle and analysis — with typed inputs, a stream of typed progress events and
//! typed results. Every front end (the CLI, the admin console, the vendor server) is a thin
//! caller of this crate: none holds an operation another would have to copy.
//!
//! * Inputs: [`deploy::Target`] (cluster and namespace), [`deploy::ApplyInput`] (app
//!   directory or [`airgap::AirgapInput`], [`prepare::ConfigInput`], engine settings),
//!   [`troubleshoot::PreflightInput`], [`troubleshoot::SupportBundleInput`],
//!   [`troubleshoot::AnalyzeInput`]; on the vendor's side [`release::BuildInput`] and, for
//!   pushing a bundle into a registry, [`airgap::PushInput`].
//! * Progress: [`Event`]s handed to a [`Sink`] (a trait object; closures, tokio `mpsc` and
//!   `broadcast` senders are sinks; [`channel`] makes one). Deploy operations take an
//!   `Arc<dyn Sink>` (the engine keeps it), the others `&dyn Sink`. Operations that change
//!   things take a [`Cancel`] flag.
//! * The vendor's dev loop, [`dev::run`]: install, then apply every save of the app's files,
//!   reporting each change as [`dev::DevEvent`]s.
//! * Results: the deploy engine's `Report`, `Plan`, `StatusReport`, `HistoryEntry`;
//!   [`troubleshoot::PreflightReport`], [`troubleshoot::SupportBundleReport`],
//!   [`troubleshoot::AnalyzeReport`]. Errors: [`Error`], whose [`Error::class`] a front end
//!   maps to its exit codes or HTTP statuses.

pub mod airgap;
pub mod charts;
pub mod deploy;
pub mod dev;
pub mod drift;
pub mod error;
pub mod online;
pub mod prepare;
pub mod progress;
pub mod release;
pub mod scan;
pub mod snapshot;
pub mod troubleshoot;

pub use error::{Error, ErrorClass, Result};
pub use progress::{Cancel, Discard, Event, Recorder, Sink, Step, channel};
