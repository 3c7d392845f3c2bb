//! Preflight checks and support bundles: reads troubleshoot.sh/v1beta2 specs, runs host and cluster collectors concurrently, redacts secrets, and analyses the results.
pub mod analyze;
pub mod bundle;
pub mod collect;
pub mod redact;
pub mod run;
pub mod spec;
pub mod when;
