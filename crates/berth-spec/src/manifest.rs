//! The types of `berth.yaml`: the application manifest a vendor writes beside its chart.
//!
//! These types are the single source of truth: the JSON Schema (`berth schema`) is generated
//! from them, and `berth lint` checks documents against that schema before the semantic checks.
//! Field-by-field documentation with examples: `docs/formats/berth-yaml.md`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API version of this format.
pub const API_VERSION: &str = "berth.dev/v1alpha1";

/// `apiVersion` of a berth manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ApiVersion {
    /// The first version of the format.
    #[serde(rename = "berth.dev/v1alpha1")]
    V1Alpha1,
}

/// `kind` of a berth manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Kind {
    /// A vendor application.
    Application,
}

/// A vendor's application: what to install, how customers configure it, and the rules
/// for upgrading it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "berth Application manifest (berth.yaml)")]
pub struct Application {
    /// Always `berth.dev/v1alpha1`.
    pub api_version: ApiVersion,
    /// Always `Application`.
    pub kind: Kind,
    /// Name, title and vendor of the application.
    pub metadata: Metadata,
    /// Components, configuration screen, images, compatibility, upgrade rules and checks.
    #[serde(default)]
    pub spec: AppSpec,
}

/// Identity of the application.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    /// Application name: a DNS label (lowercase letters, digits and `-`, at most 63 characters).
    pub name: String,
    /// The application's version (semver). `berth release build --version` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Human-readable name shown to customers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The vendor's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// A short description shown to customers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Path (relative to berth.yaml) of an icon file (PNG or SVG).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
}

/// Everything berth needs to install, configure, upgrade and check the application.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppSpec {
    /// The pieces that are installed, in order of their `weight`.
    #[serde(default)]
    pub components: Vec<Component>,
    /// The customer-facing settings screen: groups of config items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<ConfigGroup>,
    /// Extra images not visible in rendered manifests (used only by hooks or checks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Which clusters the application supports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<Compatibility>,
    /// Which installed versions may upgrade to this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrades: Option<UpgradePolicy>,
    /// Troubleshoot specs shipped with the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Checks>,
    /// What app snapshots (`berth snapshot create -n`) run around the copy of the volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotSpec>,
}

/// App snapshots: hooks run before and after the volumes are copied.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnapshotSpec {
    /// Hooks run before (`pre`) and after (`post`) the copy.
    #[serde(default)]
    pub hooks: SnapshotHooks,
}

/// The hooks of an app snapshot, each list run in order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnapshotHooks {
    /// Run before the volumes are copied (a dump to a file on a volume, a checkpoint); a
    /// failure stops the snapshot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre: Vec<SnapshotHook>,
    /// Run after the copy, also when it failed (resume what a pre hook paused).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post: Vec<SnapshotHook>,
}

/// One hook: a Job or an exec in a pod (exactly one of `job` and `exec`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnapshotHook {
    /// Hook name: a DNS label, unique among the pre and among the post hooks.
    pub name: String,
    /// A Job run to completion in the app's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<HookJob>,
    /// A command run in a container of a running, ready pod (`pods/exec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<HookExec>,
    /// How long the hook may run, in seconds (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
}

/// A hook Job: one container, run once (`backoffLimit: 0`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HookJob {
    /// The container image (list it in `spec.images` so releases and bundles carry it).
    pub image: String,
    /// The command (the image's entrypoint is replaced).
    pub command: Vec<String>,
    /// Arguments after the command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// PersistentVolumeClaims of the app mounted into the container (read-write).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<HookMount>,
}

/// A claim mounted into a hook Job's container.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HookMount {
    /// The claim's name in the app's namespace.
    pub claim: String,
    /// Where it is mounted (an absolute path).
    pub mount_path: String,
}

/// An exec hook: a command in a container of the pods a selector picks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HookExec {
    /// Labels the pod must carry.
    pub selector: std::collections::BTreeMap<String, String>,
    /// The container (default: the pod's first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The command.
    pub command: Vec<String>,
}

/// One installable piece: a Helm chart or a directory of plain manifests.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Component {
    /// Component name: a DNS label, unique within the application.
    pub name: String,
    /// A Helm chart (exactly one of `chart` and `manifests`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<ChartSource>,
    /// A directory of plain Kubernetes manifests (exactly one of `chart` and `manifests`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifests: Option<ManifestSource>,
    /// Helm release name; defaults to the component name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_name: Option<String>,
    /// Target namespace; defaults to the namespace given at install time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Install order: lower weights install first (default 0).
    #[serde(default)]
    pub weight: i32,
    /// A template (Go template syntax, `.Config.<item>` holds config values) that renders the
    /// chart's values as YAML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<String>,
    /// Install this component only when the condition over config items holds,
    /// e.g. `database == "embedded"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// What the component exposes outside the cluster; berth generates the Ingress, HTTPRoute,
    /// Route or VirtualService the cluster's controller accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose: Option<Expose>,
}

/// A Service port exposed through whatever the cluster offers (or the admin chooses).
/// Every string may be a Go template over the same data as `values`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expose {
    /// The Service to route to.
    pub service: String,
    /// The Service's port: a number (1-65535) or the port's name.
    pub port: ScalarValue,
    /// The host name clients use (`*.` wildcard allowed); empty: any host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The URL path prefix (default `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// TLS at the edge of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ExposeTls>,
    /// `auto` (default), `none`, or one of the flavours berth generates for
    /// (`nginx`, `traefik`, `gateway-api`, `openshift-route`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flavour: Option<String>,
    /// An IngressClass (Ingress flavours) or a Gateway, `name` or `namespace/name`
    /// (gateway-api) to use instead of the detected one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// An internal (private) load balancer where the flavour has one: `true`/`false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal: Option<ScalarValue>,
    /// Extra annotations on the generated object; they override berth's.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// TLS of an exposed port.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExposeTls {
    /// TLS on or off (`true`/`false`, or a template); on when `secretName` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<ScalarValue>,
    /// A `kubernetes.io/tls` Secret holding the certificate; empty: the controller's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// `edge` (default: the controller terminates TLS) or `passthrough` (the app does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination: Option<String>,
}

/// The flavours `expose.flavour` accepts, besides a template.
pub const EXPOSE_FLAVOURS: &[&str] = &[
    "auto",
    "none",
    "ingress",
    "nginx",
    "f5-nginx",
    "traefik",
    "haproxy",
    "contour",
    "alb",
    "gce",
    "azure-application-gateway",
    "aks-app-routing",
    "gateway-api",
    "openshift-route",
    "istio",
];

/// Where a chart comes from: a local `path` (directory or `.tgz`), or a `repo` with a `version`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChartSource {
    /// A chart directory or `.tgz` file, relative to berth.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A remote chart: `oci://registry/path/chart` or an `https://` chart repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// Chart name within an `https://` repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Exact chart version for a remote chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// A local program that rewrites the chart's rendered manifests at render time (Helm's
    /// post-renderer): the manifests on its stdin, its stdout replaces them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_renderer: Option<PostRenderer>,
}

/// A post-renderer: a program and its arguments.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PostRenderer {
    /// A path relative to berth.yaml (holding a `/`), or a program name looked up on PATH.
    pub command: String,
    /// Its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

impl PostRenderer {
    /// The program to run: a path below `app_dir` when the command holds a `/`, else the
    /// name (looked up on PATH when it runs).
    pub fn program(&self, app_dir: &std::path::Path) -> std::path::PathBuf {
        if self.command.contains('/') {
            app_dir.join(&self.command)
        } else {
            std::path::PathBuf::from(&self.command)
        }
    }
}

/// A directory of plain manifests (`*.yaml`, `*.yml`, `*.json`, multi-document allowed).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ManifestSource {
    /// Directory relative to berth.yaml.
    pub path: String,
}

/// A group of settings on the configuration screen.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigGroup {
    /// Group name (unique).
    pub name: String,
    /// Title shown to customers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Text shown under the title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Show the whole group only when the condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// The settings of this group.
    #[serde(default)]
    pub items: Vec<ConfigItem>,
}

/// The kind of input a config item takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ItemType {
    /// One line of text.
    #[default]
    Text,
    /// Several lines of text.
    Textarea,
    /// A secret: never shown back, never logged.
    Password,
    /// On or off.
    Bool,
    /// A number (see `validation.min` / `validation.max`).
    Number,
    /// One of `options`.
    Select,
    /// The contents of a file the customer uploads.
    File,
}

/// One setting on the configuration screen.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigItem {
    /// Item name, unique across all groups; templates read it as `.Config.<name>`.
    pub name: String,
    /// Label shown to customers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Input type (default `text`).
    #[serde(default, rename = "type")]
    pub item_type: ItemType,
    /// Value used when the customer gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<ScalarValue>,
    /// The customer must give a value (only checked while the item is shown).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// Help text shown beside the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_text: Option<String>,
    /// Not shown to customers (still validated and templated).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
    /// Shown but not editable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub readonly: bool,
    /// Show (and use) this item only when the condition holds, e.g. `database == "external"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Rules the value must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Validation>,
    /// The choices of a `select` item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<SelectOption>,
    /// A value berth generates once at install and keeps across upgrades.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<Generated>,
}

/// A scalar value in a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ScalarValue {
    /// true / false.
    Bool(bool),
    /// A number.
    Number(f64),
    /// Text.
    String(String),
}

impl ScalarValue {
    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ScalarValue::Bool(b) => serde_json::Value::Bool(*b),
            ScalarValue::Number(n) => {
                if n.fract() == 0.0 && n.abs() < 9.0e15 {
                    serde_json::Value::from(*n as i64)
                } else {
                    serde_json::Number::from_f64(*n)
                        .map_or(serde_json::Value::Null, serde_json::Value::Number)
                }
            }
            ScalarValue::String(s) => serde_json::Value::String(s.clone()),
        }
    }
}

/// Validation rules of a config item.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Validation {
    /// A regular expression the whole value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Message shown when the value does not match `regex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Smallest allowed number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest allowed number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Shortest allowed text, in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    /// Longest allowed text, in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
}

/// One choice of a `select` item.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SelectOption {
    /// The value stored when this choice is made.
    pub value: String,
    /// Label shown to customers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// What kind of value to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GenerateKind {
    /// Letters and digits (default).
    #[default]
    Password,
    /// Lowercase hexadecimal digits.
    Hex,
    /// A random UUID (version 4).
    Uuid,
}

/// A generated value: made once at install, kept across upgrades.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Generated {
    /// What to generate (default `password`).
    #[serde(default, rename = "type")]
    pub kind: GenerateKind,
    /// Length in characters (default 24; ignored for `uuid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
}

/// Kubernetes distributions berth knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    /// Any conformant Kubernetes.
    Generic,
    /// Rancher k3s.
    K3s,
    /// Rancher RKE2.
    Rke2,
    /// Amazon EKS.
    Eks,
    /// Google GKE.
    Gke,
    /// Azure AKS.
    Aks,
    /// Red Hat OpenShift and OKD.
    Openshift,
    /// kind (Kubernetes in Docker).
    Kind,
    /// berth's simulated cluster.
    Simulator,
}

/// Supported clusters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Compatibility {
    /// Supported Kubernetes versions as a semver range, e.g. `>=1.27.0, <1.35.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<String>,
    /// Supported distributions (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distributions: Vec<Distribution>,
}

/// Which installed versions may upgrade directly to this one.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpgradePolicy {
    /// The oldest version that may upgrade directly to this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_version: Option<String>,
    /// Releases that may not be skipped on the way up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
}

/// troubleshoot.sh/v1beta2 specs shipped with the application (paths relative to berth.yaml).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Checks {
    /// `kind: Preflight` files, run before install and upgrade.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preflights: Vec<String>,
    /// `kind: HostPreflight` files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_preflights: Vec<String>,
    /// `kind: SupportBundle` files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub support_bundles: Vec<String>,
    /// `kind: Redactor` files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redactors: Vec<String>,
}

impl Application {
    /// Every local path this manifest references (chart paths, manifest directories, check
    /// files), relative to berth.yaml, with the field that names it
    /// (`spec.components[0].chart.path`): what a release of the app must contain.
    pub fn local_paths(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, c) in self.spec.components.iter().enumerate() {
            if let Some(p) = c.chart.as_ref().and_then(|ch| ch.path.as_ref()) {
                out.push((format!("spec.components[{i}].chart.path"), p.clone()));
            }
            if let Some(m) = &c.manifests {
                out.push((
                    format!("spec.components[{i}].manifests.path"),
                    m.path.clone(),
                ));
            }
        }
        if let Some(ch) = &self.spec.checks {
            for (key, files) in [
                ("preflights", &ch.preflights),
                ("hostPreflights", &ch.host_preflights),
                ("supportBundles", &ch.support_bundles),
                ("redactors", &ch.redactors),
            ] {
                for (i, f) in files.iter().enumerate() {
                    out.push((format!("spec.checks.{key}[{i}]"), f.clone()));
                }
            }
        }
        out
    }

    /// All config items of all groups, in order.
    pub fn config_items(&self) -> impl Iterator<Item = (&ConfigGroup, &ConfigItem)> {
        self.spec
            .config
            .iter()
            .flat_map(|g| g.items.iter().map(move |i| (g, i)))
    }

    /// The JSON Schema of `berth.yaml`.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Application)).unwrap_or_default()
    }
}
