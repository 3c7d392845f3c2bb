//! The vendor server's operations over its database and blob store: tokens, keys, apps,
//! channels and releases. Front ends (the HTTP API) only authenticate and translate.

use crate::db::{self, Db, DbError, Param, now_ms};
use crate::model::*;
use crate::store::{Store, StoreError};
use crate::updates;
use berth_oci::digest::Digest;
use ed25519_dalek::SigningKey;
use std::path::Path;
use std::sync::Arc;

/// Why an operation was refused; each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("release gate refused: {}", .0.join("; "))]
    Gate(Vec<String>),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Result of an operation.
pub type SResult<T> = Result<T, ServiceError>;

/// A check a release must pass before it is promoted to a channel. The CVE gate plugs in here.
pub trait ReleaseGate: Send + Sync {
    /// A short name for messages.
    fn name(&self) -> &str;
    /// Reasons to refuse (empty: pass). Runs on a blocking thread: it may read every blob.
    fn check(&self, release: &GateInput) -> Vec<String>;
}

impl<G: ReleaseGate> ReleaseGate for Arc<G> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn check(&self, release: &GateInput) -> Vec<String> {
        (**self).check(release)
    }
}

/// What a gate judges: the release and where to read it.
#[derive(Debug, Clone)]
pub struct GateInput {
    pub app: String,
    pub version: String,
    pub channel: String,
    /// The digest of the release's index.json (a release's identity: it never changes).
    pub index: String,
    /// An OCI image layout of the release (index.json + the store's blobs), as
    /// `berth release build` wrote it.
    pub layout: std::path::PathBuf,
}

/// Who is acting (for authorization and the audit log).
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: String,
    pub name: String,
    pub scope: Scope,
}

/// The shared state of one server process.
#[derive(Clone)]
pub struct Service {
    pub db: Db,
    pub store: Store,
    pub gates: Arc<Vec<Box<dyn ReleaseGate>>>,
    /// Instance reports not written yet (see `customers::PendingInstances`).
    pub(crate) pending: crate::customers::PendingInstances,
    /// Held while a batch of instance reports is written: a reader's flush waits for the one
    /// in flight instead of finding the map already drained and reading before it commits.
    pub(crate) flushing: Arc<tokio::sync::Mutex<()>>,
    /// Reads of the update-check path, trusted for `cache::TTL`.
    pub(crate) caches: Arc<Caches>,
    /// Image trees of releases for the registry endpoint (releases are immutable).
    pub(crate) trees: Arc<crate::registry::TreeCache>,
    /// The vulnerability database behind the CVE gate, also answering exposure questions.
    pub scanner: Option<Arc<crate::scan_gate::ScanGate>>,
    /// Largest support bundle a customer may send, bytes.
    pub max_support_bundle: u64,
}

/// What a channel holds: its policy and its releases, oldest first.
pub type ChannelView = (updates::Policy, Vec<updates::ChannelRelease>);

/// The update-check path's cached reads.
#[derive(Default)]
pub struct Caches {
    /// (app, channel) → policy and releases.
    pub(crate) channels: crate::cache::TtlCache<(String, String), ChannelView>,
    /// license id → (credential hash, the licensee or why it is refused), None when unknown.
    pub(crate) licenses: crate::cache::TtlCache<String, crate::customers::LicenseLookup>,
    /// license id → what the registry endpoint lets it pull.
    pub(crate) registry: crate::cache::TtlCache<String, Arc<crate::registry::View>>,
}

/// Names of apps, channels and customers: lowercase DNS labels, so they are safe in URLs,
/// file names and Kubernetes objects.
pub fn check_name(what: &str, s: &str) -> SResult<()> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ServiceError::Invalid(format!(
            "{what} name {s:?} is not valid: use 1-63 lowercase letters, digits and '-', not starting or ending with '-'"
        )))
    }
}

/// Parse a semver version as releases carry it.
pub fn parse_version(s: &str) -> SResult<semver::Version> {
    semver::Version::parse(s).map_err(|e| {
        ServiceError::Invalid(format!(
            "version {s:?} is not semantic versioning ({e}); use MAJOR.MINOR.PATCH such as 1.2.0"
        ))
    })
}

/// Parse an RFC 3339 time or a date (midnight UTC) into unix milliseconds.
pub fn parse_time(what: &str, s: &str) -> SResult<i64> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>()
        && let Ok(z) = d.to_zoned(jiff::tz::TimeZone::UTC)
    {
        return Ok(z.timestamp().as_millisecond());
    }
    Err(ServiceError::Invalid(format!(
        "{what} {s:?} is not a date: use YYYY-MM-DD or RFC 3339 (2027-12-31T00:00:00Z)"
    )))
}

/// The default channels every app starts with.
pub const DEFAULT_CHANNELS: [&str; 3] = ["stable", "beta", "unstable"];

/// Largest index.json or manifest the server reads.
const MAX_JSON_BLOB: u64 = 4 * 1024 * 1024;

impl Service {
    /// Open the service: migrate, make sure a signing key exists, and on an empty database
    /// create the first admin token, written to `data_dir/admin-token` (mode 0600).
    pub async fn start(
        db: Db,
        store: Store,
        data_dir: &Path,
    ) -> SResult<(Service, Option<String>)> {
        db.migrate().await?;
        let svc = Service {
            db,
            store,
            gates: Arc::new(vec![]),
            pending: Default::default(),
            flushing: Default::default(),
            caches: Default::default(),
            trees: Default::default(),
            scanner: None,
            max_support_bundle: crate::support::DEFAULT_MAX_SUPPORT_BUNDLE,
        };
        svc.ensure_signing_key().await?;
        svc.spawn_instance_flusher();
        let first = svc.first_admin_token(data_dir).await?;
        Ok((svc, first))
    }

    async fn first_admin_token(&self, data_dir: &Path) -> SResult<Option<String>> {
        let any = self.db.row("SELECT id FROM tokens LIMIT 1", &[]).await?;
        if any.is_some() {
            return Ok(None);
        }
        let created = self.create_token_raw("initial admin", Scope::Admin).await?;
        let path = data_dir.join("admin-token");
        write_private(&path, format!("{}\n", created.token).as_bytes())
            .map_err(|e| ServiceError::Invalid(format!("cannot write {}: {e}", path.display())))?;
        self.audit("server", "token.create", "initial admin token")
            .await?;
        Ok(Some(path.display().to_string()))
    }

    async fn ensure_signing_key(&self) -> SResult<()> {
        if self
            .db
            .row("SELECT id FROM signing_keys WHERE active = 1", &[])
            .await?
            .is_none()
        {
            self.add_signing_key().await?;
        }
        Ok(())
    }

    async fn add_signing_key(&self) -> SResult<String> {
        use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
        use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
        let sk = SigningKey::generate(&mut rand::rngs::OsRng);
        let id = berth_license::key_id(&sk.verifying_key());
        let private = sk
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| ServiceError::Invalid(format!("key encoding: {e}")))?;
        let public = sk
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| ServiceError::Invalid(format!("key encoding: {e}")))?;
        self.db
            .exec(
                "INSERT INTO signing_keys (id, private_pem, public_pem, created_at, active) VALUES ($1, $2, $3, $4, 1)",
                &[
                    Param::Text(&id),
                    Param::Text(private.as_str()),
                    Param::Text(&public),
                    Param::Int(now_ms()),
                ],
            )
            .await?;
        Ok(id)
    }

    /// The key new licenses are signed with (the newest active one).
    pub async fn signing_key(&self) -> SResult<SigningKey> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let row = self
            .db
            .row(
                "SELECT private_pem FROM signing_keys WHERE active = 1 ORDER BY created_at DESC LIMIT 1",
                &[],
            )
            .await?
            .ok_or_else(|| ServiceError::NotFound("no active signing key".into()))?;
        SigningKey::from_pkcs8_pem(&db::text(&row, "private_pem"))
            .map_err(|e| ServiceError::Invalid(format!("stored signing key unreadable: {e}")))
    }

    /// Rotate: a new key signs from now on; old keys stay listed so old licenses verify.
    pub async fn rotate_key(&self, actor: &Actor) -> SResult<String> {
        let id = self.add_signing_key().await?;
        self.db
            .exec(
                "UPDATE signing_keys SET active = 0 WHERE id <> $1",
                &[Param::Text(&id)],
            )
            .await?;
        self.audit(&actor.name, "key.rotate", &id).await?;
        Ok(id)
    }

    /// Every public key, newest first.
    pub async fn keys(&self) -> SResult<Vec<KeyInfo>> {
        let rows = self
            .db
            .rows(
                "SELECT id, public_pem, active FROM signing_keys ORDER BY created_at DESC",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| KeyInfo {
                key_id: db::text(r, "id"),
                public_pem: db::text(r, "public_pem"),
                active: db::int(r, "active") == 1,
            })
            .collect())
    }

    /// Write an audit record (every change writes one, so cached reads are dropped here).
    pub async fn audit(&self, actor: &str, action: &str, detail: &str) -> SResult<()> {
        self.invalidate();
        self.audit_read(actor, action, detail).await
    }

    /// Write an audit record of something that changed none of the cached reads (a support
    /// bundle received or downloaded).
    pub async fn audit_read(&self, actor: &str, action: &str, detail: &str) -> SResult<()> {
        self.db
            .exec(
                "INSERT INTO audit (id, at, actor, action, detail) VALUES ($1, $2, $3, $4, $5)",
                &[
                    Param::Text(&uuid::Uuid::now_v7().to_string()),
                    Param::Int(now_ms()),
                    Param::Text(actor),
                    Param::Text(action),
                    Param::Text(detail),
                ],
            )
            .await?;
        Ok(())
    }

    /// The audit log, newest first.
    pub async fn audit_log(&self, limit: i64) -> SResult<Vec<AuditRecord>> {
        let rows = self
            .db
            .rows(
                "SELECT at, actor, action, detail FROM audit ORDER BY at DESC, id DESC LIMIT $1",
                &[Param::Int(limit)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| AuditRecord {
                at: db::rfc3339(db::int(r, "at")),
                actor: db::text(r, "actor"),
                action: db::text(r, "action"),
                detail: db::text(r, "detail"),
            })
            .collect())
    }

    // ---- tokens -------------------------------------------------------------------------

    async fn create_token_raw(&self, name: &str, scope: Scope) -> SResult<CreatedToken> {
        let mut b = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
        let token = format!("bvt_{}", hex::encode(b));
        let id = uuid::Uuid::now_v7().to_string();
        self.db
            .exec(
                "INSERT INTO tokens (id, hash, scope, name, created_at) VALUES ($1, $2, $3, $4, $5)",
                &[
                    Param::Text(&id),
                    Param::Text(&berth_license::credential_hash(&token)),
                    Param::Text(scope.as_str()),
                    Param::Text(name),
                    Param::Int(now_ms()),
                ],
            )
            .await?;
        Ok(CreatedToken { id, token })
    }

    /// Create a token (the secret is returned once, stored hashed).
    pub async fn create_token(&self, actor: &Actor, t: &NewToken) -> SResult<CreatedToken> {
        if t.name.is_empty() || t.name.len() > 100 {
            return Err(ServiceError::Invalid("token name: 1-100 characters".into()));
        }
        let c = self.create_token_raw(&t.name, t.scope).await?;
        self.audit(
            &actor.name,
            "token.create",
            &format!("{} ({}) scope {}", t.name, c.id, t.scope.as_str()),
        )
        .await?;
        Ok(c)
    }

    /// Revoke a token.
    pub async fn revoke_token(&self, actor: &Actor, id: &str) -> SResult<()> {
        let n = self
            .db
            .exec(
                "UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                &[Param::Int(now_ms()), Param::Text(id)],
            )
            .await?;
        if n == 0 {
            return Err(ServiceError::NotFound(format!("no active token {id}")));
        }
        self.audit(&actor.name, "token.revoke", id).await
    }

    /// Every token (never the secrets).
    pub async fn tokens(&self) -> SResult<Vec<TokenInfo>> {
        let rows = self
            .db
            .rows(
                "SELECT id, name, scope, created_at, revoked_at FROM tokens ORDER BY created_at",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| TokenInfo {
                id: db::text(r, "id"),
                name: db::text(r, "name"),
                scope: Scope::parse(&db::text(r, "scope")).unwrap_or(Scope::ReadOnly),
                created_at: db::rfc3339(db::int(r, "created_at")),
                revoked: db::opt_int(r, "revoked_at").is_some(),
            })
            .collect())
    }

    /// Who a bearer token belongs to, if it is valid and not revoked.
    pub async fn authenticate(&self, token: &str) -> SResult<Option<Actor>> {
        if !token.starts_with("bvt_") || token.len() != 68 {
            return Ok(None);
        }
        let row = self
            .db
            .row(
                "SELECT id, name, scope FROM tokens WHERE hash = $1 AND revoked_at IS NULL",
                &[Param::Text(&berth_license::credential_hash(token))],
            )
            .await?;
        Ok(row.map(|r| Actor {
            id: db::text(&r, "id"),
            name: db::text(&r, "name"),
            scope: Scope::parse(&db::text(&r, "scope")).unwrap_or(Scope::ReadOnly),
        }))
    }

    // ---- apps and channels ----------------------------------------------------------------

    /// Create an app with the default channels.
    pub async fn create_app(&self, actor: &Actor, name: &str) -> SResult<()> {
        check_name("app", name)?;
        let r = self
            .db
            .exec(
                "INSERT INTO apps (name, created_at) VALUES ($1, $2)",
                &[Param::Text(name), Param::Int(now_ms())],
            )
            .await;
        match r {
            Err(e) if db::is_conflict(&e) => {
                return Err(ServiceError::Conflict(format!("app {name} exists already")));
            }
            r => r?,
        };
        for ch in DEFAULT_CHANNELS {
            self.insert_channel(name, ch, None).await?;
        }
        self.audit(&actor.name, "app.create", name).await
    }

    /// Every app.
    pub async fn apps(&self) -> SResult<Vec<String>> {
        let rows = self
            .db
            .rows("SELECT name FROM apps ORDER BY name", &[])
            .await?;
        Ok(rows.iter().map(|r| db::text(r, "name")).collect())
    }

    /// NotFound unless the app exists (Invalid for a name that cannot be one).
    pub async fn require_app(&self, app: &str) -> SResult<()> {
        check_name("app", app)?;
        self.db
            .row("SELECT name FROM apps WHERE name = $1", &[Param::Text(app)])
            .await?
            .map(|_| ())
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "no app {app}; create it with `berth vendor app create {app}`"
                ))
            })
    }

    async fn insert_channel(&self, app: &str, name: &str, keep: Option<u64>) -> SResult<()> {
        let r = self
            .db
            .exec(
                "INSERT INTO channels (app, name, keep_minors, created_at) VALUES ($1, $2, $3, $4)",
                &[
                    Param::Text(app),
                    Param::Text(name),
                    Param::OptInt(keep.map(|k| k as i64)),
                    Param::Int(now_ms()),
                ],
            )
            .await;
        match r {
            Err(e) if db::is_conflict(&e) => Err(ServiceError::Conflict(format!(
                "channel {name} of app {app} exists already"
            ))),
            r => r.map(|_| ()).map_err(Into::into),
        }
    }

    /// Create a channel.
    pub async fn create_channel(&self, actor: &Actor, app: &str, c: &NewChannel) -> SResult<()> {
        self.require_app(app).await?;
        check_name("channel", &c.name)?;
        if c.keep_minors == Some(0) {
            return Err(ServiceError::Invalid(
                "keepMinors must be at least 1 (or absent for no limit)".into(),
            ));
        }
        self.insert_channel(app, &c.name, c.keep_minors).await?;
        self.audit(&actor.name, "channel.create", &format!("{app}/{}", c.name))
            .await
    }

    /// The policy of a channel, or NotFound.
    pub async fn channel_policy(&self, app: &str, channel: &str) -> SResult<updates::Policy> {
        let row = self
            .db
            .row(
                "SELECT keep_minors FROM channels WHERE app = $1 AND name = $2",
                &[Param::Text(app), Param::Text(channel)],
            )
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("app {app} has no channel {channel}")))?;
        Ok(updates::Policy {
            keep_minors: db::opt_int(&row, "keep_minors").map(|k| k as u64),
        })
    }

    /// Forget cached reads after a change made through this process.
    pub fn invalidate(&self) {
        self.caches.channels.clear();
        self.caches.licenses.clear();
        self.caches.registry.clear();
    }

    /// A channel's policy and releases, cached for the update-check path.
    pub async fn channel_view(&self, app: &str, channel: &str) -> SResult<ChannelView> {
        let key = (app.to_string(), channel.to_string());
        self.caches
            .channels
            .get_or_load(&key, async {
                Ok::<_, ServiceError>((
                    self.channel_policy(app, channel).await?,
                    self.channel_releases(app, channel).await?,
                ))
            })
            .await
    }

    /// The releases of a channel, oldest first.
    pub async fn channel_releases(
        &self,
        app: &str,
        channel: &str,
    ) -> SResult<Vec<updates::ChannelRelease>> {
        let rows = self
            .db
            .rows(
                "SELECT r.version, r.required, r.notes, r.eol_at FROM channel_releases c
                 JOIN releases r ON r.app = c.app AND r.version = c.version
                 WHERE c.app = $1 AND c.channel = $2",
                &[Param::Text(app), Param::Text(channel)],
            )
            .await?;
        let mut out: Vec<updates::ChannelRelease> = rows.iter().filter_map(release_row).collect();
        updates::sort(&mut out);
        Ok(out)
    }

    /// A release as a customer or vendor sees it on a channel.
    pub fn release_info(
        r: &updates::ChannelRelease,
        all: &[updates::ChannelRelease],
        policy: updates::Policy,
        now: i64,
    ) -> ReleaseInfo {
        ReleaseInfo {
            version: r.version.to_string(),
            required: r.required,
            notes: r.notes.clone(),
            eol_at: r.eol_at.map(db::rfc3339),
            eol: updates::eol(r, all, policy, now).map(|e| e.describe()),
        }
    }

    /// Every channel of an app with its releases.
    pub async fn channels(&self, app: &str) -> SResult<Vec<ChannelInfo>> {
        self.require_app(app).await?;
        let rows = self
            .db
            .rows(
                "SELECT name FROM channels WHERE app = $1 ORDER BY created_at, name",
                &[Param::Text(app)],
            )
            .await?;
        let now = now_ms();
        let mut out = vec![];
        for r in rows {
            let name = db::text(&r, "name");
            let policy = self.channel_policy(app, &name).await?;
            let rels = self.channel_releases(app, &name).await?;
            out.push(ChannelInfo {
                releases: rels
                    .iter()
                    .map(|x| Self::release_info(x, &rels, policy, now))
                    .collect(),
                name,
                keep_minors: policy.keep_minors,
            });
        }
        Ok(out)
    }

    // ---- releases -------------------------------------------------------------------------

    /// Finish a release push: every blob must be stored, the index must describe this app and
    /// version. Pushing the same release again is a no-op; a different one under the same
    /// version is refused (releases are immutable).
    pub async fn create_release(&self, actor: &Actor, app: &str, r: &NewRelease) -> SResult<bool> {
        self.require_app(app).await?;
        parse_version(&r.version)?;
        let eol_at = r
            .eol_at
            .as_deref()
            .map(|s| parse_time("eolAt", s))
            .transpose()?;
        if r.notes.len() > 64 * 1024 {
            return Err(ServiceError::Invalid(
                "release notes: at most 64 KiB".into(),
            ));
        }
        let index = digest(&r.index_digest)?;
        self.check_blobs_present(r).await?;
        self.check_index(app, &r.version, &index, r).await?;
        if let Some(existing) = self
            .db
            .row(
                "SELECT index_digest FROM releases WHERE app = $1 AND version = $2",
                &[Param::Text(app), Param::Text(&r.version)],
            )
            .await?
        {
            return if db::text(&existing, "index_digest") == r.index_digest {
                Ok(false)
            } else {
                Err(ServiceError::Conflict(format!(
                    "release {app} {} exists with other content; releases are immutable: push it as a new version",
                    r.version
                )))
            };
        }
        self.insert_release(app, r, eol_at).await?;
        self.audit(&actor.name, "release.push", &format!("{app} {}", r.version))
            .await?;
        Ok(true)
    }

    async fn check_blobs_present(&self, r: &NewRelease) -> SResult<()> {
        if r.blobs.len() > 100_000 {
            return Err(ServiceError::Invalid(
                "a release holds at most 100000 blobs".into(),
            ));
        }
        let mut missing = vec![];
        for b in &r.blobs {
            let d = digest(&b.digest)?;
            match self.store.size(&d).await {
                Some(s) if s == b.size => {}
                Some(s) => {
                    return Err(ServiceError::Invalid(format!(
                        "blob {} is stored with {s} bytes, the release says {}",
                        b.digest, b.size
                    )));
                }
                None => missing.push(b.digest.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(ServiceError::Invalid(format!(
                "{} blob(s) of the release are not uploaded yet (first: {}); push again to resume",
                missing.len(),
                missing[0]
            )));
        }
        if !r.blobs.iter().any(|b| b.digest == r.index_digest) {
            return Err(ServiceError::Invalid(
                "the blob list must include the index itself".into(),
            ));
        }
        Ok(())
    }

    async fn read_json(&self, d: &Digest, what: &str) -> SResult<serde_json::Value> {
        let bytes = self
            .store
            .read_small(d, MAX_JSON_BLOB)
            .await
            .ok_or_else(|| ServiceError::Invalid(format!("{what} {d} is missing or too large")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ServiceError::Invalid(format!("{what} {d} is not JSON: {e}")))
    }

    /// The index must list only blobs of the release, and its app entry must name this app
    /// and version (a release of another app cannot be pushed under this one's name).
    async fn check_index(
        &self,
        app: &str,
        version: &str,
        index: &Digest,
        r: &NewRelease,
    ) -> SResult<()> {
        let idx = self.read_json(index, "index").await?;
        let listed: std::collections::HashSet<&str> =
            r.blobs.iter().map(|b| b.digest.as_str()).collect();
        let manifests = idx["manifests"].as_array().cloned().unwrap_or_default();
        let mut app_entry = None;
        for m in &manifests {
            let d = m["digest"].as_str().unwrap_or("");
            if !listed.contains(d) {
                return Err(ServiceError::Invalid(format!(
                    "the index refers to {d}, which is not in the release's blob list"
                )));
            }
            if m["annotations"]["dev.berth.kind"] == "app" {
                app_entry = Some(digest(d)?);
            }
        }
        let entry = app_entry.ok_or_else(|| {
            ServiceError::Invalid(
                "the index has no app entry: push a directory made by `berth release build`".into(),
            )
        })?;
        let manifest = self.read_json(&entry, "app manifest").await?;
        let config = digest(manifest["config"]["digest"].as_str().unwrap_or(""))?;
        let meta = self.read_json(&config, "release metadata").await?;
        let (m_app, m_ver) = (
            meta["app"].as_str().unwrap_or(""),
            meta["version"].as_str().unwrap_or(""),
        );
        if m_app != app || m_ver != version {
            return Err(ServiceError::Invalid(format!(
                "the release holds {m_app} {m_ver}, but was pushed as {app} {version}"
            )));
        }
        Ok(())
    }

    async fn insert_release(&self, app: &str, r: &NewRelease, eol_at: Option<i64>) -> SResult<()> {
        let mut tx = db::ctx("starting a release", self.db.pool().begin().await)?;
        let ins = db::bind_all(
            sqlx::query(
                "INSERT INTO releases (app, version, index_digest, notes, required, eol_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            ),
            &[
                Param::Text(app),
                Param::Text(&r.version),
                Param::Text(&r.index_digest),
                Param::Text(&r.notes),
                Param::Int(r.required as i64),
                Param::OptInt(eol_at),
                Param::Int(now_ms()),
            ],
        );
        match db::ctx("inserting a release", ins.execute(&mut *tx).await) {
            Err(e) if db::is_conflict(&e) => {
                return Err(ServiceError::Conflict(format!(
                    "release {app} {} was pushed concurrently; push again to check it",
                    r.version
                )));
            }
            r => r?,
        };
        for b in &r.blobs {
            let q = db::bind_all(
                sqlx::query(
                    "INSERT INTO release_blobs (app, version, digest, size) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                ),
                &[
                    Param::Text(app),
                    Param::Text(&r.version),
                    Param::Text(&b.digest),
                    Param::Int(b.size as i64),
                ],
            );
            db::ctx("recording release blobs", q.execute(&mut *tx).await)?;
        }
        db::ctx("committing a release", tx.commit().await)?;
        Ok(())
    }

    /// Every release of an app (not only those on channels), oldest first.
    pub async fn releases(&self, app: &str) -> SResult<Vec<ReleaseInfo>> {
        self.require_app(app).await?;
        let rows = self
            .db
            .rows(
                "SELECT version, required, notes, eol_at FROM releases WHERE app = $1",
                &[Param::Text(app)],
            )
            .await?;
        let mut rels: Vec<updates::ChannelRelease> = rows.iter().filter_map(release_row).collect();
        updates::sort(&mut rels);
        let now = now_ms();
        Ok(rels
            .iter()
            .map(|r| Self::release_info(r, &rels, updates::Policy::default(), now))
            .collect())
    }

    /// Every gate's reasons to refuse promoting a release (empty: promote). The gates read the
    /// release through a temporary OCI layout whose blobs are the store's own.
    async fn run_gates(&self, app: &str, version: &str, channel: &str) -> SResult<Vec<String>> {
        if self.gates.is_empty() {
            return Ok(vec![]);
        }
        let row = self
            .db
            .row(
                "SELECT index_digest FROM releases WHERE app = $1 AND version = $2",
                &[Param::Text(app), Param::Text(version)],
            )
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no release {app} {version}")))?;
        let index = digest(&db::text(&row, "index_digest"))?;
        // The CVE gate reads a scan kept by any server on this database instead of making one.
        if let Some(scanner) = &self.scanner {
            self.load_scan(scanner, index.as_str()).await?;
        }
        let view = self.store.layout_view(&index).await?;
        let input = GateInput {
            index: index.to_string(),
            app: app.into(),
            version: version.into(),
            channel: channel.into(),
            layout: view.path().to_path_buf(),
        };
        let gates = self.gates.clone();
        let reasons = tokio::task::spawn_blocking(move || {
            let _keep = view;
            gates
                .iter()
                .flat_map(|g| {
                    g.check(&input)
                        .into_iter()
                        .map(move |r| format!("{}: {r}", g.name()))
                })
                .collect::<Vec<String>>()
        })
        .await
        .map_err(|e| ServiceError::Invalid(format!("a release gate failed: {e}")))?;
        if let Some(scanner) = &self.scanner {
            self.save_scan(scanner, index.as_str()).await?;
        }
        Ok(reasons)
    }

    /// Add a release to a channel after the gates pass. Promoting twice is one promotion.
    pub async fn promote(
        &self,
        actor: &Actor,
        app: &str,
        channel: &str,
        version: &str,
    ) -> SResult<bool> {
        self.require_app(app).await?;
        self.channel_policy(app, channel).await?;
        if self
            .db
            .row(
                "SELECT version FROM releases WHERE app = $1 AND version = $2",
                &[Param::Text(app), Param::Text(version)],
            )
            .await?
            .is_none()
        {
            return Err(ServiceError::NotFound(format!(
                "no release {app} {version}; push it first with `berth vendor release push`"
            )));
        }
        let reasons = self.run_gates(app, version, channel).await?;
        if !reasons.is_empty() {
            return Err(ServiceError::Gate(reasons));
        }
        let n = self
            .db
            .exec(
                "INSERT INTO channel_releases (app, channel, version, promoted_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[
                    Param::Text(app),
                    Param::Text(channel),
                    Param::Text(version),
                    Param::Int(now_ms()),
                ],
            )
            .await?;
        if n > 0 {
            self.audit(
                &actor.name,
                "release.promote",
                &format!("{app} {version} -> {channel}"),
            )
            .await?;
        }
        Ok(n > 0)
    }
}

/// A release row (version, required, notes, eol_at); None when its version does not parse.
fn release_row(r: &sqlx::any::AnyRow) -> Option<updates::ChannelRelease> {
    Some(updates::ChannelRelease {
        version: semver::Version::parse(&db::text(r, "version")).ok()?,
        required: db::int(r, "required") == 1,
        notes: db::text(r, "notes"),
        eol_at: db::opt_int(r, "eol_at"),
    })
}

/// Parse a digest from a request.
pub fn digest(s: &str) -> SResult<Digest> {
    Digest::parse(s).map_err(|_| {
        ServiceError::Invalid(format!("{s:?} is not a digest (sha256:<64 lowercase hex>)"))
    })
}

/// Write a file only its owner can read.
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()
}
