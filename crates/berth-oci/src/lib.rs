//! OCI images and air-gap bundles: image layouts, the registry client (pull/push), release
//! building, signed bundles with deltas, relocation of image references, and a small
//! registry server.
//!
//! - [`layout`]: OCI image layout on disk (the format of a release).
//! - [`client`] + [`transfer`]: the distribution API client and whole-image pull/push.
//! - [`release`]: images collected from rendered objects, written with the app into a layout.
//! - [`bundle`]: one signed file carrying a release (or the delta from an older one).
//! - [`relocate`]: the deterministic mapping of image references to a customer registry.
//! - [`paging`]: following a registry's tag-list pages safely.
//! - [`server`]: `berth registry serve`.

pub mod auth;
pub mod bundle;
pub mod chartrepo;
pub mod client;
pub mod digest;
pub mod error;
pub mod executable_image;
pub mod generate;
pub mod keys;
pub mod layout;
pub mod model;
pub mod paging;
pub mod reference;
pub mod release;
pub mod relocate;
pub mod server;
pub mod transfer;

pub use client::{Client, ClientConfig};
pub use digest::Digest;
pub use error::{Error, Result};
pub use layout::Layout;
pub use reference::Reference;
