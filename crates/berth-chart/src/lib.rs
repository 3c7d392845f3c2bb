//! Helm chart loader and renderer: loads charts from directories and .tgz archives,
//! coalesces values as Helm does, renders templates and sorts objects in Helm's install order.
//!
//! The pipeline mirrors `helm template` (Helm v4) step by step so the objects match:
//! [`Chart::load`] (directory with `.helmignore`, or an untrusted `.tgz`), then
//! [`render`]: dependency enablement and `import-values`, values coalescing,
//! values.schema.json validation, template execution through `berth-template`,
//! document splitting, hook separation and install ordering.

mod archive;
mod chart;
mod coalesce;
mod dependencies;
mod error;
mod filecache;
mod gofmt;
mod head;
mod ignore;
mod manifest;
mod metadata;
mod objects;
mod package;
mod postrender;
mod remote;
mod render;
mod schema;
mod strvals;
mod treecache;
mod values;
pub mod version;
mod yaml;

pub use archive::{
    Budget, ChartFile, MAX_ARCHIVE_SIZE, MAX_ENTRIES, MAX_FILE_SIZE, MAX_SUBCHART_DEPTH,
    MAX_TREE_FILES, MAX_TREE_SIZE, read_archive, read_archive_within,
};
pub use chart::Chart;
pub use coalesce::merge_user_values;
pub use error::ChartError;
pub use ignore::IgnoreRules;
pub use manifest::{
    Hook, INSTALL_ORDER, Manifest, head_scan_check, kind_order, show_only, sort_manifests,
    split_manifests,
};
pub use metadata::{Dependency, Maintainer, Metadata};
pub use package::package_dir;
pub use postrender::{PostRenderError, post_render};
pub use remote::{
    CachedChart, ChartCache, ChartLock, LockedDependency, RemoteNeed, attach_from_cache,
    is_remote_repository, lock_digest, pick_version, remote_needs,
};
pub use render::{
    ClusterLookup, DEFAULT_KUBE_VERSION, RenderOptions, Rendered, json_to_value, render,
};
pub use strvals::{SetKind, parse_into as parse_set_into, parse_set};
pub use values::{prepare_values, validate_values};
pub use yaml::{clear_caches, parse_object, parse_values};
