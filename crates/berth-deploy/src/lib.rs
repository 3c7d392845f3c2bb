//! Deploy engine: plans, applies (server-side apply), waits for readiness, diagnoses failures,
//! and records revisions of an application in a Kubernetes cluster; install, upgrade, rollback
//! and uninstall that cannot wedge.
//!
//! Pure data and decisions live in their own modules and are tested on JSON fixtures:
//! [`render`] (the renderer seam and plain manifest directories), [`order`], [`hooks`],
//! [`plan`], [`readiness`], [`diagnose`], [`inventory`], [`policy`] and [`lock`]; [`network`]
//! diagnoses a test hook whose connection NetworkPolicies refuse (berth-netpol's evaluator).
//! I/O sits at the edges: [`cluster`] talks to the API server through the `kube` client and
//! [`engine`] drives the operations.

pub mod baseline;
pub mod cluster;
pub mod diagnose;
pub mod engine;
pub mod field_names;
pub mod hooks;
pub mod inventory;
pub mod lock;
pub mod network;
pub mod object;
pub mod order;
pub mod plan;
pub mod policy;
pub mod readiness;
pub mod render;
pub mod test_hooks;

pub use cluster::{Cluster, ClusterError, ConnectOptions};
pub use engine::{
    DeployError, Engine, Event, Mode, Options, Outcome, Progress, Quiet, Release, Report,
};
pub use object::Manifest;
pub use render::RenderError;
