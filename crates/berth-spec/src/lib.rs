//! The application manifest, `berth.yaml`: its types, its JSON Schema, reading it with
//! positions, linting it (every problem at once, with file:line:column), the `when`
//! condition language, and validating a customer's config values against it.
//!
//! This crate does no I/O beyond reading files; every engine builds on it.

pub mod config;
pub mod deprecations;
pub mod expose;
pub mod lint;
pub mod manifest;
pub mod problem;
pub mod schema_check;
pub mod starter;
pub mod when;
pub mod yaml;

pub use lint::{LintReport, LoadError, LoadedApp, links_leaving_app, lint_dir, load};
pub use manifest::*;
pub use problem::{Problem, Severity};
