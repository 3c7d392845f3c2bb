//! One module per command (or command group); each wires one library.

pub mod airgap;
pub mod cluster;
pub mod completions;
pub mod demo;
pub mod demo_airgap;
pub mod demo_vendor;
pub mod deploy;
pub mod init;
pub mod lint;
pub mod oci;
pub mod schema;
pub mod snapshot;
pub mod template;
pub mod troubleshoot;
pub mod vendor;
