//! One module per command (or command group); each wires one library.

pub mod completions;
pub mod cluster;
