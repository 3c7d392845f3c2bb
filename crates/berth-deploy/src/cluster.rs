//! The cluster edge: a kube client (kubeconfig, in-cluster, `--context`), cached discovery per
//! group-version, and the few calls the engine needs on arbitrary kinds. Errors from the API
//! server are turned into messages that name the object, the server's words and the fix.

use crate::object::{FIELD_MANAGER, ObjectRef, object_ref};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersion};
use kube::discovery::Scope;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How to reach the cluster.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// A kubeconfig file (default: `$KUBECONFIG`, `~/.kube/config`, then in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// A kubeconfig context.
    pub context: Option<String>,
}

/// Errors talking to the cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Client configuration failed.
    #[error(
        "cannot configure the Kubernetes client: {0}; check --kubeconfig/--context or $KUBECONFIG"
    )]
    Config(String),
    /// The kind is not served by the cluster.
    #[error(
        "the cluster does not serve kind {kind} in {api_version} ({object}{source_file}); install its CustomResourceDefinition first or check apiVersion"
    )]
    UnknownKind {
        /// apiVersion.
        api_version: String,
        /// kind.
        kind: String,
        /// The object.
        object: String,
        /// ", from FILE" or empty.
        source_file: String,
    },
    /// The server said no.
    #[error("{verb} {object}{source_file}: {message}{hint}")]
    Api {
        /// What berth tried.
        verb: &'static str,
        /// The object.
        object: String,
        /// ", from FILE" or empty.
        source_file: String,
        /// The server's message.
        message: String,
        /// HTTP status.
        code: u16,
        /// The server's reason (e.g. `Invalid`, `Forbidden`, `Conflict`).
        reason: String,
        /// The fix.
        hint: String,
    },
    /// Transport failure.
    #[error(
        "cannot reach the Kubernetes API server: {0}; check the cluster address in your kubeconfig and that the server is up"
    )]
    Transport(String),
    /// This run lost its operation lock; nothing more is written.
    #[error("{0}")]
    LockLost(Box<crate::lock::LostLock>),
}

impl ClusterError {
    /// HTTP status for API errors (0 otherwise).
    pub fn code(&self) -> u16 {
        match self {
            ClusterError::Api { code, .. } => *code,
            _ => 0,
        }
    }
}

/// Kind -> (resource, namespaced) for one apiVersion.
type KindsOfVersion = HashMap<String, (ApiResource, bool)>;

/// A connected cluster.
pub struct Cluster {
    client: kube::Client,
    // (apiVersion) -> kind -> (resource, namespaced)
    resources: Mutex<HashMap<String, KindsOfVersion>>,
    // the operation lock this process holds; every write is checked against it
    watch: Mutex<Option<Arc<crate::lock::LockWatch>>>,
    faults: Faults,
    // the server's gitVersion, asked once per connection
    git_version: tokio::sync::OnceCell<String>,
}

/// Fault injection for crash tests, read from the environment once per connection:
/// `BERTH_TEST_EXIT_AT_WRITE=N` ends the process (exit 137, as after SIGKILL) just before its
/// Nth write to the cluster; `BERTH_TEST_STOP_AT_WRITE=N[,M…]` stops it there with SIGSTOP
/// (a test resumes it with SIGCONT). Writes are counted in the order they are sent (the lock's
/// renewals excepted); unset, nothing happens.
#[derive(Default)]
struct Faults {
    exit_at: Option<u64>,
    stop_at: Vec<u64>,
    writes: AtomicU64,
}

impl Faults {
    fn from_env() -> Faults {
        let read = |k: &str| -> Vec<u64> {
            std::env::var(k)
                .unwrap_or_default()
                .split(',')
                .filter_map(|v| v.trim().parse().ok())
                .collect()
        };
        Faults {
            exit_at: read("BERTH_TEST_EXIT_AT_WRITE").first().copied(),
            stop_at: read("BERTH_TEST_STOP_AT_WRITE"),
            writes: AtomicU64::new(0),
        }
    }

    fn before_write(&self) {
        if self.exit_at.is_none() && self.stop_at.is_empty() {
            return;
        }
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if self.exit_at == Some(n) {
            std::process::exit(137);
        }
        if self.stop_at.contains(&n) {
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
        }
    }
}

fn from_kube(
    e: kube::Error,
    verb: &'static str,
    r: Option<&ObjectRef>,
    source: &str,
) -> ClusterError {
    let object = r.map(|r| r.to_string()).unwrap_or_default();
    let source_file = if source.is_empty() {
        String::new()
    } else {
        format!(", from {source}")
    };
    match e {
        kube::Error::Api(s) => {
            let admission = crate::diagnose::admission_hint(&s.message).or_else(|| {
                r.and_then(|r| {
                    crate::diagnose::unknown_field_hint(&s.message, &r.api_version, &r.kind)
                })
            });
            let hint = match s.code {
                _ if admission.is_some() => admission.unwrap_or_default(),
                403 => {
                    let what = r
                        .map(|r| {
                            let res = format!("{}s", r.kind.to_lowercase());
                            let g = if r.group().is_empty() { String::new() } else { format!(".{}", r.group()) };
                            if r.namespace.is_empty() {
                                format!(" (missing permission: {} {res}{g}, cluster-wide)", verb_rbac(verb))
                            } else {
                                format!(" (missing permission: {} {res}{g} in namespace {})", verb_rbac(verb), r.namespace)
                            }
                        })
                        .unwrap_or_default();
                    format!("{what}; ask a cluster admin for that permission, or install into a namespace you may write")
                }
                409 if s.reason == "Conflict" && s.message.contains("conflict") => {
                    "; another field manager owns these fields: re-run with --force-conflicts to take them over".into()
                }
                422 => "; fix the object in its source file".into(),
                _ => String::new(),
            };
            ClusterError::Api {
                verb,
                object,
                source_file,
                message: s.message.clone(),
                code: s.code,
                reason: s.reason.clone(),
                hint,
            }
        }
        other => ClusterError::Transport(other.to_string()),
    }
}

fn verb_rbac(verb: &str) -> &'static str {
    match verb {
        "apply" => "patch",
        "get" => "get",
        "list" => "list",
        "delete" => "delete",
        "create" => "create",
        _ => "update",
    }
}

impl Cluster {
    /// Connect with a kubeconfig (or in-cluster config when none is found).
    pub async fn connect(opts: &ConnectOptions) -> Result<Cluster, ClusterError> {
        let kopts = kube::config::KubeConfigOptions {
            context: opts.context.clone(),
            ..Default::default()
        };
        // Which cluster, for messages: kubeconfig file, context, then the server's URL.
        let mut context = opts.context.clone();
        let config = match &opts.kubeconfig {
            Some(path) => {
                // Read the file here: kube's own error quotes the path twice ('"…"').
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ClusterError::Config(format!("cannot read {}: {e}", path.display()))
                })?;
                let kc = kube::config::Kubeconfig::from_yaml(&text)
                    .map_err(|e| ClusterError::Config(format!("{}: {e}", path.display())))?;
                context = context.or_else(|| kc.current_context.clone());
                kube::Config::from_custom_kubeconfig(kc, &kopts)
                    .await
                    .map_err(|e| ClusterError::Config(format!("{}: {e}", path.display())))?
            }
            None if opts.context.is_some() => kube::Config::from_kubeconfig(&kopts)
                .await
                .map_err(|e| ClusterError::Config(e.to_string()))?,
            None => kube::Config::infer()
                .await
                .map_err(|e| ClusterError::Config(e.to_string()))?,
        };
        let server = config.cluster_url.to_string();
        let client =
            kube::Client::try_from(config).map_err(|e| ClusterError::Config(e.to_string()))?;
        // Ask once who is there, so an unreachable server is named with its URL and context
        // rather than surfacing later as a bare "client error (Connect)".
        let asked = client.apiserver_version().await;
        if let Err(e @ (kube::Error::HyperError(_) | kube::Error::Service(_))) = &asked {
            let kubeconfig = opts
                .kubeconfig
                .as_ref()
                .map(|p| format!(", kubeconfig {}", p.display()))
                .unwrap_or_default();
            let context = context.map_or_else(
                || "the current context".to_string(),
                |c| format!("context {c}"),
            );
            return Err(ClusterError::Transport(format!(
                "{server} ({context}{kubeconfig}): {e}"
            )));
        }
        let cluster = Cluster::from_client(client);
        if let Ok(info) = asked {
            let _ = cluster.git_version.set(info.git_version);
        }
        Ok(cluster)
    }

    /// Wrap an existing client.
    pub fn from_client(client: kube::Client) -> Cluster {
        Cluster {
            client,
            resources: Mutex::new(HashMap::new()),
            watch: Mutex::new(None),
            faults: Faults::from_env(),
            git_version: tokio::sync::OnceCell::new(),
        }
    }

    /// Check every later write against this lock (None: stop checking).
    pub fn set_lock_watch(&self, watch: Option<Arc<crate::lock::LockWatch>>) {
        if let Ok(mut w) = self.watch.lock() {
            *w = watch;
        }
    }

    /// Before every write: the fault-injection hook, then the lock.
    async fn before_write(&self, r: &ObjectRef) -> Result<(), ClusterError> {
        self.faults.before_write();
        let watch = self.watch.lock().ok().and_then(|w| w.clone());
        if let Some(w) = watch {
            w.check(self, r)
                .await
                .map_err(|l| ClusterError::LockLost(Box::new(l)))?;
        }
        Ok(())
    }

    /// The underlying client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The server's version as `major.minor.patch` (e.g. `1.32.0`).
    pub async fn server_version(&self) -> Result<String, ClusterError> {
        let git = self.git_version().await?;
        let v = git.trim_start_matches('v');
        let core = v.split(['-', '+']).next().unwrap_or(v);
        Ok(core.to_string())
    }

    /// The server's `gitVersion` as `/version` reports it (e.g. `v1.30.2`): what Helm shows
    /// templates as `.Capabilities.KubeVersion`. Asked once per connection.
    pub async fn git_version(&self) -> Result<String, ClusterError> {
        self.git_version
            .get_or_try_init(|| async {
                self.client
                    .apiserver_version()
                    .await
                    .map(|info| info.git_version)
                    .map_err(|e| from_kube(e, "get", None, ""))
            })
            .await
            .cloned()
    }

    /// Every served `group/version` and `group/version/Kind` (core: `v1`, `v1/Pod`), from
    /// discovery, as Helm fills `.Capabilities.APIVersions` on install and upgrade.
    pub async fn api_versions(&self) -> Result<Vec<String>, ClusterError> {
        let discovery = kube::discovery::Discovery::new(self.client.clone())
            .run()
            .await
            .map_err(|e| from_kube(e, "list", None, ""))?;
        let mut out = Vec::new();
        for group in discovery.groups() {
            for version in group.versions() {
                let gv = if group.name().is_empty() {
                    version.to_string()
                } else {
                    format!("{}/{version}", group.name())
                };
                for (ar, _) in group.versioned_resources(version) {
                    out.push(format!("{gv}/{}", ar.kind));
                }
                out.push(gv);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Helm's `lookup`: the object when `name` is given (an empty map when absent), else the
    /// list (`{apiVersion, kind: <Kind>List, metadata, items}`); `namespace` is ignored for
    /// cluster-scoped kinds and means every namespace when empty.
    pub async fn lookup(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ClusterError> {
        let namespaced = self
            .is_namespaced(api_version, kind)
            .await?
            .ok_or_else(|| ClusterError::UnknownKind {
                api_version: api_version.into(),
                kind: kind.into(),
                object: format!("lookup {api_version} {kind}"),
                source_file: String::new(),
            })?;
        let namespace = if namespaced { namespace } else { "" };
        if !name.is_empty() {
            let r = ObjectRef {
                api_version: api_version.into(),
                kind: kind.into(),
                namespace: namespace.into(),
                name: name.into(),
            };
            return Ok(self
                .get(&r)
                .await?
                .unwrap_or_else(|| Value::Object(Default::default())));
        }
        let items = self.list(api_version, kind, namespace, None).await?;
        Ok(serde_json::json!({
            "apiVersion": api_version,
            "kind": format!("{kind}List"),
            "metadata": {},
            "items": items,
        }))
    }

    /// [`Cluster::lookup`] as a synchronous backend for the template engine, which runs
    /// inside this (multi-threaded) tokio runtime.
    pub fn template_lookup(self: &Arc<Self>) -> berth_chart::ClusterLookup {
        let cluster = self.clone();
        berth_chart::ClusterLookup(Arc::new(move |av: &str, k: &str, ns: &str, n: &str| {
            let handle = tokio::runtime::Handle::try_current()
                .map_err(|_| "lookup needs the tokio runtime".to_string())?;
            if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
                return Err("lookup needs a multi-threaded tokio runtime".into());
            }
            tokio::task::block_in_place(|| {
                handle.block_on(async {
                    cluster
                        .lookup(av, k, ns, n)
                        .await
                        .map_err(|e| e.to_string())
                })
            })
        }))
    }

    /// Resolve a kind: its resource and whether it is namespaced. Cached; a miss refreshes the
    /// group-version once (a CRD may have just become Established).
    pub async fn resolve(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<(ApiResource, bool)>, ClusterError> {
        if let Some(hit) = self.cached(api_version, kind) {
            return Ok(Some(hit));
        }
        let gv: GroupVersion = api_version
            .parse()
            .map_err(|_| ClusterError::Config(format!("bad apiVersion {api_version:?}")))?;
        let group = match kube::discovery::pinned_group(&self.client, &gv).await {
            Ok(g) => g,
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(None),
            Err(e) => return Err(from_kube(e, "get", None, "")),
        };
        let mut kinds = HashMap::new();
        for (ar, caps) in group.versioned_resources(&gv.version) {
            let namespaced = matches!(caps.scope, Scope::Namespaced);
            kinds.insert(ar.kind.clone(), (ar, namespaced));
        }
        let hit = kinds.get(kind).cloned();
        if let Ok(mut m) = self.resources.lock() {
            m.insert(api_version.to_string(), kinds);
        }
        Ok(hit)
    }

    fn cached(&self, api_version: &str, kind: &str) -> Option<(ApiResource, bool)> {
        self.resources
            .lock()
            .ok()?
            .get(api_version)?
            .get(kind)
            .cloned()
    }

    /// Forget cached discovery (after CRDs change).
    pub fn invalidate(&self, api_version: &str) {
        if let Ok(mut m) = self.resources.lock() {
            m.remove(api_version);
        }
    }

    async fn api(
        &self,
        r: &ObjectRef,
        source: &str,
    ) -> Result<(Api<DynamicObject>, bool), ClusterError> {
        let Some((ar, namespaced)) = self.resolve(&r.api_version, &r.kind).await? else {
            self.invalidate(&r.api_version);
            return Err(ClusterError::UnknownKind {
                api_version: r.api_version.clone(),
                kind: r.kind.clone(),
                object: r.to_string(),
                source_file: if source.is_empty() {
                    String::new()
                } else {
                    format!(", from {source}")
                },
            });
        };
        let api = if namespaced && !r.namespace.is_empty() {
            Api::namespaced_with(self.client.clone(), &r.namespace, &ar)
        } else {
            Api::all_with(self.client.clone(), &ar)
        };
        Ok((api, namespaced))
    }

    /// Whether a kind is namespaced (None: unknown kind).
    pub async fn is_namespaced(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<bool>, ClusterError> {
        Ok(self.resolve(api_version, kind).await?.map(|(_, n)| n))
    }

    /// Server-side apply with field manager `berth`; returns the live object.
    pub async fn apply(
        &self,
        obj: &Value,
        source: &str,
        force: bool,
    ) -> Result<Value, ClusterError> {
        let r = object_ref(obj);
        self.before_write(&r).await?;
        let (api, _) = self.api(&r, source).await?;
        let mut pp = PatchParams::apply(FIELD_MANAGER);
        if force {
            pp = pp.force();
        }
        let out = api
            .patch(&r.name, &pp, &Patch::Apply(obj))
            .await
            .map_err(|e| from_kube(e, "apply", Some(&r), source))?;
        serde_json::to_value(out).map_err(|e| ClusterError::Transport(e.to_string()))
    }

    /// Server-side dry-run apply: the server validates the object without storing it.
    pub async fn apply_dry_run(
        &self,
        obj: &Value,
        source: &str,
        force: bool,
    ) -> Result<Value, ClusterError> {
        let r = object_ref(obj);
        let (api, _) = self.api(&r, source).await?;
        let mut pp = PatchParams::apply(FIELD_MANAGER).dry_run();
        if force {
            pp = pp.force();
        }
        let out = api
            .patch(&r.name, &pp, &Patch::Apply(obj))
            .await
            .map_err(|e| from_kube(e, "apply", Some(&r), source))?;
        serde_json::to_value(out).map_err(|e| ClusterError::Transport(e.to_string()))
    }

    /// Get an object; `None` when absent (or its kind is not served).
    pub async fn get(&self, r: &ObjectRef) -> Result<Option<Value>, ClusterError> {
        let (api, _) = match self.api(r, "").await {
            Ok(a) => a,
            Err(ClusterError::UnknownKind { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        match api.get_opt(&r.name).await {
            Ok(Some(o)) => Ok(Some(
                serde_json::to_value(o).map_err(|e| ClusterError::Transport(e.to_string()))?,
            )),
            Ok(None) => Ok(None),
            Err(e) => Err(from_kube(e, "get", Some(r), "")),
        }
    }

    /// List objects of a kind (all namespaces when `namespace` is empty and the kind is namespaced).
    pub async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        labels: Option<&str>,
    ) -> Result<Vec<Value>, ClusterError> {
        let r = ObjectRef {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: String::new(),
        };
        let (api, _) = match self.api(&r, "").await {
            Ok(a) => a,
            Err(ClusterError::UnknownKind { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut lp = ListParams::default();
        if let Some(l) = labels {
            lp = lp.labels(l);
        }
        let list = api
            .list(&lp)
            .await
            .map_err(|e| from_kube(e, "list", Some(&r), ""))?;
        let mut out = Vec::with_capacity(list.items.len());
        for mut o in list.items {
            if o.types.is_none() {
                o.types = Some(kube::core::TypeMeta {
                    api_version: api_version.into(),
                    kind: kind.into(),
                });
            }
            out.push(serde_json::to_value(o).map_err(|e| ClusterError::Transport(e.to_string()))?);
        }
        Ok(out)
    }

    /// Delete an object (background propagation); `false` when it was already gone.
    pub async fn delete(&self, r: &ObjectRef) -> Result<bool, ClusterError> {
        self.before_write(r).await?;
        let (api, _) = match self.api(r, "").await {
            Ok(a) => a,
            Err(ClusterError::UnknownKind { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        match api.delete(&r.name, &DeleteParams::background()).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(from_kube(e, "delete", Some(r), "")),
        }
    }

    /// Create an object (not apply): fails with 409 when it exists.
    pub async fn create(&self, obj: &Value) -> Result<Value, ClusterError> {
        let r = object_ref(obj);
        self.before_write(&r).await?;
        let (api, _) = self.api(&r, "").await?;
        let o: DynamicObject = serde_json::from_value(obj.clone())
            .map_err(|e| ClusterError::Transport(e.to_string()))?;
        let out = api
            .create(&Default::default(), &o)
            .await
            .map_err(|e| from_kube(e, "create", Some(&r), ""))?;
        serde_json::to_value(out).map_err(|e| ClusterError::Transport(e.to_string()))
    }

    /// Replace an object (PUT); with `metadata.resourceVersion` set this is a compare-and-swap
    /// (409 when someone else wrote first).
    pub async fn replace(&self, obj: &Value) -> Result<Value, ClusterError> {
        self.before_write(&object_ref(obj)).await?;
        self.replace_unguarded(obj).await
    }

    /// [`Cluster::replace`] without the write checks (the lock renews its own Lease).
    pub(crate) async fn replace_unguarded(&self, obj: &Value) -> Result<Value, ClusterError> {
        let r = object_ref(obj);
        let (api, _) = self.api(&r, "").await?;
        let o: DynamicObject = serde_json::from_value(obj.clone())
            .map_err(|e| ClusterError::Transport(e.to_string()))?;
        let out = api
            .replace(&r.name, &Default::default(), &o)
            .await
            .map_err(|e| from_kube(e, "update", Some(&r), ""))?;
        serde_json::to_value(out).map_err(|e| ClusterError::Transport(e.to_string()))
    }

    /// The last `lines` log lines of a container (previous instance when `previous`).
    pub async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        lines: i64,
        previous: bool,
    ) -> Option<String> {
        let api: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(self.client.clone(), namespace);
        let lp = kube::api::LogParams {
            container: Some(container.to_string()),
            tail_lines: Some(lines),
            previous,
            ..Default::default()
        };
        api.logs(pod, &lp).await.ok()
    }
}
