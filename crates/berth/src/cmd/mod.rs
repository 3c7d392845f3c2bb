//! One module per command (or command group); each wires one library.

pub mod airgap;
pub mod chart;
pub mod cluster;
pub mod completions;
pub mod console;
pub mod demo;
pub mod demo_airgap;
pub mod demo_drift;
pub mod demo_scan;
pub mod demo_snapshot;
pub mod demo_vendor;
pub mod deploy;
pub mod dev;
pub mod drift;
pub mod init;
pub mod lint;
pub mod matrix;
pub mod oci;
pub mod online;
pub mod scan;
pub mod schema;
pub mod snapshot;
pub mod template;
pub mod troubleshoot;
pub mod vendor;
