//! Preflight checks and support bundles: reads troubleshoot.sh/v1beta2 specs, runs host and cluster collectors concurrently, redacts secrets, and analyses the results.
pub mod bundle;
pub mod spec;
pub mod analyze;
pub mod when;
pub mod collect;
pub mod run;
pub mod redact;
