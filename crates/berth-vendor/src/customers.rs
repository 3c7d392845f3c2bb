//! Customers, their signed licenses, the update checks installs make with them, and the
//! instances those checks report.

use crate::db::{self, Param, now_ms};
use crate::model::*;
use crate::service::{Actor, SResult, Service, ServiceError, check_name, parse_time};
use crate::updates;
use berth_license::{Entitlement, LicenseType, Spec};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// A license-authenticated caller: the customer behind a valid, unrevoked license.
#[derive(Debug, Clone)]
pub struct Licensee {
    pub license_id: String,
    pub customer: String,
    pub app: String,
    pub channels: Vec<String>,
    pub expires_at: Option<i64>,
    /// The customer may send support bundles (`supportBundleUpload`).
    pub support_upload: bool,
}

impl Licensee {
    /// Refuse when the license has expired: updates and downloads stop, the app keeps running.
    pub fn require_current(&self, now: i64) -> SResult<()> {
        match self.expires_at {
            Some(e) if e <= now => Err(ServiceError::Forbidden(format!(
                "the license of {} expired at {}: updates are blocked until the vendor renews it",
                self.customer,
                db::rfc3339(e)
            ))),
            _ => Ok(()),
        }
    }

    /// The channel asked for, which must be one of the customer's.
    pub fn channel<'a>(&'a self, asked: Option<&'a str>) -> SResult<&'a str> {
        let c = asked
            .or(self.channels.first().map(String::as_str))
            .ok_or_else(|| ServiceError::Forbidden("the license names no channel".into()))?;
        if self.channels.iter().any(|x| x == c) {
            Ok(c)
        } else {
            Err(ServiceError::Forbidden(format!(
                "the license of {} does not include channel {c} (it has: {})",
                self.customer,
                self.channels.join(", ")
            )))
        }
    }
}

fn customer_info(r: &sqlx::any::AnyRow) -> CustomerInfo {
    let ents: BTreeMap<String, Entitlement> =
        serde_json::from_str(&db::text(r, "entitlements")).unwrap_or_default();
    CustomerInfo {
        name: db::text(r, "name"),
        app: db::text(r, "app"),
        channels: serde_json::from_str(&db::text(r, "channels")).unwrap_or_default(),
        license_type: db::text(r, "license_type"),
        expires_at: db::opt_int(r, "expires_at").map(db::rfc3339),
        airgap: db::int(r, "airgap") == 1,
        snapshots: db::int(r, "snapshots") == 1,
        support_bundle_upload: db::int(r, "support_upload") == 1,
        revoked: db::opt_int(r, "revoked_at").is_some(),
        entitlements: ents.into_iter().map(|(k, v)| (k, v.to_json())).collect(),
    }
}

/// A license as the update path sees it: its credential hash and its licensee, or why the
/// customer is refused; None when no license has that id.
pub type LicenseLookup = Option<(String, Result<Licensee, String>)>;

/// Instance reports waiting to be written, keyed by instance id. Update checks only touch
/// this map; one transaction a second writes every report received since (the newest per
/// instance). A check is answered without a database write, and a process killed loses at most
/// the last second of "last seen" times, which the next check restores.
pub type PendingInstances = Arc<Mutex<HashMap<String, PendingInstance>>>;

/// One instance's latest report.
#[derive(Debug, Clone)]
pub struct PendingInstance {
    license_id: String,
    customer: String,
    app: String,
    version: String,
    report: InstanceReport,
    seen: i64,
}

/// How often pending instance reports are written.
pub const INSTANCE_FLUSH: std::time::Duration = std::time::Duration::from_secs(1);

const CUSTOMER_COLS: &str = "name, app, channels, license_type, expires_at, airgap, snapshots, support_upload, cluster_id, entitlements, revoked_at";

impl Service {
    async fn check_channels(&self, app: &str, channels: &[String]) -> SResult<()> {
        if channels.is_empty() {
            return Err(ServiceError::Invalid(
                "a customer needs at least one channel (--channel stable)".into(),
            ));
        }
        for c in channels {
            self.channel_policy(app, c).await?;
        }
        Ok(())
    }

    /// Create a customer of an app.
    pub async fn create_customer(&self, actor: &Actor, c: &NewCustomer) -> SResult<()> {
        check_name("customer", &c.name)?;
        self.check_channels(&c.app, &c.channels).await?;
        LicenseType::parse(&c.license_type).ok_or_else(|| {
            ServiceError::Invalid(format!(
                "license type {:?} is not dev, trial or paid",
                c.license_type
            ))
        })?;
        let expires = c
            .expires_at
            .as_deref()
            .map(|s| parse_time("expires", s))
            .transpose()?;
        let mut ents = BTreeMap::new();
        for a in &c.entitlements {
            let (k, v) = Entitlement::parse_assignment(a)
                .map_err(|e| ServiceError::Invalid(e.to_string()))?;
            ents.insert(k, v);
        }
        let channels = serde_json::to_string(&c.channels).unwrap_or_default();
        let ents = serde_json::to_string(&ents).unwrap_or_default();
        let r = self
            .db
            .exec(
                &format!("INSERT INTO customers ({CUSTOMER_COLS}, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11)"),
                &[
                    Param::Text(&c.name),
                    Param::Text(&c.app),
                    Param::Text(&channels),
                    Param::Text(&c.license_type),
                    Param::OptInt(expires),
                    Param::Int(c.airgap as i64),
                    Param::Int(c.snapshots as i64),
                    Param::Int(c.support_bundle_upload as i64),
                    Param::OptText(c.cluster_id.as_deref()),
                    Param::Text(&ents),
                    Param::Int(now_ms()),
                ],
            )
            .await;
        match r {
            Err(e) if db::is_conflict(&e) => {
                return Err(ServiceError::Conflict(format!(
                    "customer {} exists already",
                    c.name
                )));
            }
            r => r?,
        };
        self.audit(&actor.name, "customer.create", &c.name).await
    }

    /// Every customer, optionally of one app.
    pub async fn customers(&self, app: Option<&str>) -> SResult<Vec<CustomerInfo>> {
        let rows = self
            .db
            .rows(
                &format!("SELECT {CUSTOMER_COLS} FROM customers WHERE ($1 = '' OR app = $1) ORDER BY name"),
                &[Param::Text(app.unwrap_or(""))],
            )
            .await?;
        Ok(rows.iter().map(customer_info).collect())
    }

    /// One customer, or NotFound.
    pub async fn customer(&self, name: &str) -> SResult<CustomerInfo> {
        Ok(customer_info(&self.customer_row(name).await?))
    }

    async fn customer_row(&self, name: &str) -> SResult<sqlx::any::AnyRow> {
        check_name("customer", name)?;
        self.db
            .row(
                &format!("SELECT {CUSTOMER_COLS} FROM customers WHERE name = $1"),
                &[Param::Text(name)],
            )
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no customer {name}")))
    }

    /// A customer as its license would authenticate (revoked: Forbidden), and whether
    /// air-gap bundles are allowed.
    pub(crate) async fn customer_licensee(&self, name: &str) -> SResult<(Licensee, bool)> {
        let c = self.customer_row(name).await?;
        if db::opt_int(&c, "revoked_at").is_some() {
            return Err(ServiceError::Forbidden(format!(
                "customer {name} is revoked"
            )));
        }
        let info = customer_info(&c);
        Ok((
            Licensee {
                license_id: String::new(),
                customer: info.name,
                app: info.app,
                channels: info.channels,
                expires_at: db::opt_int(&c, "expires_at"),
                support_upload: info.support_bundle_upload,
            },
            info.airgap,
        ))
    }

    /// Renew, change channels, revoke or reinstate.
    pub async fn change_customer(
        &self,
        actor: &Actor,
        name: &str,
        c: &CustomerChange,
    ) -> SResult<CustomerInfo> {
        let row = self.customer_row(name).await?;
        let app = db::text(&row, "app");
        if let Some(e) = &c.expires_at {
            let ms = parse_time("expires", e)?;
            self.db
                .exec(
                    "UPDATE customers SET expires_at = $1 WHERE name = $2",
                    &[Param::Int(ms), Param::Text(name)],
                )
                .await?;
        }
        if let Some(chs) = &c.channels {
            self.check_channels(&app, chs).await?;
            let j = serde_json::to_string(chs).unwrap_or_default();
            self.db
                .exec(
                    "UPDATE customers SET channels = $1 WHERE name = $2",
                    &[Param::Text(&j), Param::Text(name)],
                )
                .await?;
        }
        if let Some(rv) = c.revoked {
            self.db
                .exec(
                    "UPDATE customers SET revoked_at = $1 WHERE name = $2",
                    &[Param::OptInt(rv.then(now_ms)), Param::Text(name)],
                )
                .await?;
        }
        self.audit(
            &actor.name,
            "customer.change",
            &format!("{name}: {}", serde_json::to_string(c).unwrap_or_default()),
        )
        .await?;
        Ok(customer_info(&self.customer_row(name).await?))
    }

    /// Issue a signed license for a customer (a new license id and credential each time).
    pub async fn issue_license(
        &self,
        actor: &Actor,
        name: &str,
        vendor_url: &str,
    ) -> SResult<String> {
        let row = self.customer_row(name).await?;
        let info = customer_info(&row);
        if info.revoked {
            return Err(ServiceError::Forbidden(format!(
                "customer {name} is revoked; reinstate it before issuing a license"
            )));
        }
        let (credential, hash) = berth_license::new_credential();
        let ents: BTreeMap<String, Entitlement> =
            serde_json::from_str(&db::text(&row, "entitlements")).unwrap_or_default();
        let spec = Spec {
            license_id: uuid::Uuid::now_v7().to_string(),
            app: info.app.clone(),
            customer: name.to_string(),
            vendor_url: vendor_url.to_string(),
            channels: info.channels.clone(),
            license_type: LicenseType::parse(&info.license_type).unwrap_or(LicenseType::Paid),
            issued_at: jiff::Timestamp::now(),
            expires_at: db::opt_int(&row, "expires_at")
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()),
            airgap: info.airgap,
            snapshots: info.snapshots,
            support_bundle_upload: db::int(&row, "support_upload") == 1,
            cluster_id: db::opt_text(&row, "cluster_id"),
            entitlements: ents,
            credential,
        };
        let lic = berth_license::sign(spec, &self.signing_key().await?);
        let doc = lic.masked().to_yaml();
        self.db
            .exec(
                "INSERT INTO licenses (id, customer, credential_hash, issued_at, document) VALUES ($1, $2, $3, $4, $5)",
                &[
                    Param::Text(&lic.spec.license_id),
                    Param::Text(name),
                    Param::Text(&hash),
                    Param::Int(now_ms()),
                    Param::Text(&doc),
                ],
            )
            .await?;
        self.audit(
            &actor.name,
            "license.issue",
            &format!("{name} {}", lic.spec.license_id),
        )
        .await?;
        Ok(lic.to_yaml())
    }

    /// The customer behind a license bearer token, or None when it is not valid. A revoked
    /// customer is Forbidden (with the reason), never confused with a bad credential.
    pub async fn authenticate_license(&self, bearer: &str) -> SResult<Option<Licensee>> {
        let Some((id, cred)) = berth_license::parse_bearer(bearer) else {
            return Ok(None);
        };
        let lookup = self
            .caches
            .licenses
            .get_or_load(&id.to_string(), self.lookup_license(id))
            .await?;
        let given = berth_license::credential_hash(cred);
        let Some((hash, who)) = lookup else {
            // The same work as a wrong credential: no oracle for which ids exist.
            let _ = constant_eq(&given, &"0".repeat(64));
            return Ok(None);
        };
        if !constant_eq(&given, &hash) {
            return Ok(None);
        }
        who.map(Some).map_err(ServiceError::Forbidden)
    }

    async fn lookup_license(&self, id: &str) -> SResult<LicenseLookup> {
        let Some(row) = self
            .db
            .row(
                "SELECT customer, credential_hash FROM licenses WHERE id = $1",
                &[Param::Text(id)],
            )
            .await?
        else {
            return Ok(None);
        };
        let c = self.customer_row(&db::text(&row, "customer")).await?;
        let hash = db::text(&row, "credential_hash");
        if db::opt_int(&c, "revoked_at").is_some() {
            return Ok(Some((
                hash,
                Err("this license was revoked by the vendor".into()),
            )));
        }
        let info = customer_info(&c);
        Ok(Some((
            hash,
            Ok(Licensee {
                license_id: id.to_string(),
                customer: info.name,
                app: info.app,
                channels: info.channels,
                expires_at: db::opt_int(&c, "expires_at"),
                support_upload: info.support_bundle_upload,
            }),
        )))
    }

    /// An update check: plan the path and record the instance.
    pub async fn check_updates(&self, who: &Licensee, q: &UpdateCheck) -> SResult<UpdateAnswer> {
        let now = now_ms();
        let channel = who.channel(q.channel.as_deref())?.to_string();
        self.record_instance(who, q).await?;
        let current = q
            .current_version
            .as_deref()
            .map(crate::service::parse_version)
            .transpose()?;
        let target = match &q.target_version {
            Some(v) => updates::Target::Exact(crate::service::parse_version(v)?),
            None => updates::Target::Latest,
        };
        let (policy, rels) = self.channel_view(&who.app, &channel).await?;
        let (newer, path, current_eol, refused) =
            match updates::plan(current.as_ref(), &target, &rels, policy, now) {
                Ok(p) => (p.newer, p.path, p.current_eol, None),
                Err(e) => {
                    let newer = rels
                        .iter()
                        .filter(|r| {
                            current
                                .as_ref()
                                .is_none_or(|c| updates::precedence(&r.version, c).is_gt())
                        })
                        .cloned()
                        .collect();
                    (newer, vec![], None, Some(e.to_string()))
                }
            };
        let refused = refused.or_else(|| who.require_current(now).err().map(|e| e.to_string()));
        let path = if refused.is_some() { vec![] } else { path };
        Ok(UpdateAnswer {
            app: who.app.clone(),
            channel,
            newer: newer
                .iter()
                .map(|r| Service::release_info(r, &rels, policy, now))
                .collect(),
            path: path.iter().map(|v| v.to_string()).collect(),
            current_eol: current_eol.map(|e| e.describe()),
            refused,
        })
    }

    async fn record_instance(&self, who: &Licensee, q: &UpdateCheck) -> SResult<()> {
        let i = &q.instance;
        if i.cluster_id.is_empty() || i.cluster_id.len() > 128 {
            return Err(ServiceError::Invalid(
                "instance.clusterId: the UID of the kube-system namespace (1-128 characters)"
                    .into(),
            ));
        }
        for (f, v) in [
            ("kubeVersion", &i.kube_version),
            ("distribution", &i.distribution),
            ("ready", &i.ready),
            ("berthVersion", &i.berth_version),
        ] {
            if v.len() > 256 {
                return Err(ServiceError::Invalid(format!(
                    "instance.{f}: at most 256 characters"
                )));
            }
        }
        let id = berth_license::credential_hash(&format!("{}\n{}", who.customer, i.cluster_id));
        let p = PendingInstance {
            license_id: who.license_id.clone(),
            customer: who.customer.clone(),
            app: who.app.clone(),
            version: q.current_version.clone().unwrap_or_default(),
            report: i.clone(),
            seen: now_ms(),
        };
        if let Ok(mut m) = self.pending.lock() {
            // Bounded: past this, reports wait for the next flush to make room.
            if m.len() < 200_000 || m.contains_key(&id) {
                m.insert(id, p);
            }
        }
        Ok(())
    }

    /// Start the task that writes pending instance reports every [`INSTANCE_FLUSH`].
    pub(crate) fn spawn_instance_flusher(&self) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(INSTANCE_FLUSH);
            loop {
                tick.tick().await;
                if let Err(e) = me.flush_instances().await {
                    tracing::warn!(error = %e, "instance reports not written yet; retrying");
                }
            }
        });
    }

    /// Write every pending instance report in one transaction; on failure they stay pending.
    pub async fn flush_instances(&self) -> SResult<usize> {
        let _one_at_a_time = self.flushing.lock().await;
        let batch: Vec<(String, PendingInstance)> = match self.pending.lock() {
            Ok(mut m) => m.drain().collect(),
            Err(_) => return Ok(0),
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let n = batch.len();
        if let Err(e) = self.write_instances(&batch).await {
            if let Ok(mut m) = self.pending.lock() {
                for (id, p) in batch {
                    // a newer report received meanwhile wins
                    m.entry(id).or_insert(p);
                }
            }
            return Err(e);
        }
        Ok(n)
    }

    async fn write_instances(&self, batch: &[(String, PendingInstance)]) -> SResult<()> {
        let mut tx = db::ctx("starting an instance batch", self.db.pool().begin().await)?;
        for (id, p) in batch {
            let r = &p.report;
            let q = db::bind_all(
                sqlx::query(
                    "INSERT INTO instances (id, license_id, customer, app, app_version, kube_version, distribution, ready, berth_version, first_seen, last_seen)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
                     ON CONFLICT (id) DO UPDATE SET license_id = $2, app_version = $5, kube_version = $6, distribution = $7, ready = $8, berth_version = $9, last_seen = $10",
                ),
                &[
                    Param::Text(id),
                    Param::Text(&p.license_id),
                    Param::Text(&p.customer),
                    Param::Text(&p.app),
                    Param::Text(&p.version),
                    Param::Text(&r.kube_version),
                    Param::Text(&r.distribution),
                    Param::Text(&r.ready),
                    Param::Text(&r.berth_version),
                    Param::Int(p.seen),
                ],
            );
            db::ctx("recording an instance", q.execute(&mut *tx).await)?;
        }
        db::ctx("committing instances", tx.commit().await)?;
        Ok(())
    }

    /// Who runs what: every instance of an app, how far behind and whether past end of life.
    pub async fn instances(&self, app: &str) -> SResult<Vec<InstanceInfo>> {
        Ok(self.instance_page(app, 0, i64::MAX).await?.rows)
    }

    /// One page of [`Service::instances`] (`limit` rows from `offset`, in the same order),
    /// with the count of every instance and of those past end of life.
    pub async fn instance_page(&self, app: &str, offset: i64, limit: i64) -> SResult<InstancePage> {
        self.flush_instances().await?;
        let now = now_ms();
        let mut judge = Judge::default();
        let groups = self
            .db
            .rows(
                "SELECT c.channels, i.app_version, COUNT(*) AS n
                 FROM instances i JOIN customers c ON c.name = i.customer WHERE i.app = $1
                 GROUP BY c.channels, i.app_version",
                &[Param::Text(app)],
            )
            .await?;
        let (mut total, mut past_eol) = (0, 0);
        for g in &groups {
            let n = db::int(g, "n") as u64;
            total += n;
            let (_, eol) = judge
                .judge(
                    self,
                    app,
                    &db::text(g, "channels"),
                    &db::text(g, "app_version"),
                    now,
                )
                .await?;
            if eol.is_some() {
                past_eol += n;
            }
        }
        let rows = self
            .db
            .rows(
                "SELECT i.customer, i.app, i.id, i.app_version, i.kube_version, i.distribution, i.ready, i.berth_version, i.last_seen, c.channels
                 FROM instances i JOIN customers c ON c.name = i.customer WHERE i.app = $1 ORDER BY i.customer, i.last_seen DESC, i.id
                 LIMIT $2 OFFSET $3",
                &[Param::Text(app), Param::Int(limit), Param::Int(offset)],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let version = db::text(&r, "app_version");
            let (behind, eol) = judge
                .judge(self, app, &db::text(&r, "channels"), &version, now)
                .await?;
            out.push(InstanceInfo {
                customer: db::text(&r, "customer"),
                app: db::text(&r, "app"),
                cluster_id: db::text(&r, "id")[..16].to_string(),
                app_version: version,
                kube_version: db::text(&r, "kube_version"),
                distribution: db::text(&r, "distribution"),
                ready: db::text(&r, "ready"),
                berth_version: db::text(&r, "berth_version"),
                last_seen: db::rfc3339(db::int(&r, "last_seen")),
                behind,
                eol,
            });
        }
        Ok(InstancePage {
            total,
            past_eol,
            rows: out,
        })
    }

    /// The index digest of a release the licensee may download (on one of its channels, not
    /// past end of life, license current), or a refusal that says which rule stopped it.
    pub async fn licensed_release(&self, who: &Licensee, version: &str) -> SResult<String> {
        who.require_current(now_ms())?;
        let v = crate::service::parse_version(version)?;
        let now = now_ms();
        for ch in &who.channels {
            let (policy, rels) = self.channel_view(&who.app, ch).await?;
            if let Some(r) = rels
                .iter()
                .find(|r| updates::precedence(&r.version, &v).is_eq())
            {
                if let Some(e) = updates::eol(r, &rels, policy, now) {
                    return Err(ServiceError::Forbidden(format!(
                        "{} {version}: {}",
                        who.app,
                        e.describe()
                    )));
                }
                let row = self
                    .db
                    .row(
                        "SELECT index_digest FROM releases WHERE app = $1 AND version = $2",
                        &[Param::Text(&who.app), Param::Text(&r.version.to_string())],
                    )
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(format!("no release {version}")))?;
                return Ok(db::text(&row, "index_digest"));
            }
        }
        Err(ServiceError::NotFound(format!(
            "{} {version} is not on the license's channels ({})",
            who.app,
            who.channels.join(", ")
        )))
    }

    /// Whether a blob belongs to a release version (so a licensee can fetch only its blobs).
    pub async fn release_has_blob(&self, app: &str, version: &str, digest: &str) -> SResult<bool> {
        Ok(self
            .db
            .row(
                "SELECT size FROM release_blobs WHERE app = $1 AND version = $2 AND digest = $3",
                &[Param::Text(app), Param::Text(version), Param::Text(digest)],
            )
            .await?
            .is_some())
    }
}

/// A page of instances and the counts over all of them.
#[derive(Debug, Clone)]
pub struct InstancePage {
    /// Every instance of the app.
    pub total: u64,
    /// Those running a release past its end of life.
    pub past_eol: u64,
    pub rows: Vec<InstanceInfo>,
}

/// How far behind and whether past end of life, judged once per (channels, version): the
/// instances of an app share a handful of both, and each channel is read once.
#[derive(Default)]
struct Judge {
    views: HashMap<String, crate::service::ChannelView>,
    judged: HashMap<(String, String), (u64, Option<String>)>,
}

impl Judge {
    /// `channels` is the customer's JSON list (the first is the one judged against).
    async fn judge(
        &mut self,
        svc: &Service,
        app: &str,
        channels: &str,
        version: &str,
        now: i64,
    ) -> SResult<(u64, Option<String>)> {
        let key = (channels.to_string(), version.to_string());
        if let Some(known) = self.judged.get(&key) {
            return Ok(known.clone());
        }
        let chs: Vec<String> = serde_json::from_str(channels).unwrap_or_default();
        let mut answer = (0, None);
        if let (Some(ch), Ok(v)) = (chs.first(), semver::Version::parse(version)) {
            if !self.views.contains_key(ch) {
                self.views
                    .insert(ch.clone(), svc.channel_view(app, ch).await?);
            }
            let (policy, rels) = &self.views[ch];
            answer.0 = rels
                .iter()
                .filter(|x| updates::precedence(&x.version, &v).is_gt())
                .count() as u64;
            answer.1 = rels
                .iter()
                .find(|x| updates::precedence(&x.version, &v).is_eq())
                .and_then(|x| updates::eol(x, rels, *policy, now))
                .map(|e| e.describe());
        }
        self.judged.insert(key, answer.clone());
        Ok(answer)
    }
}

/// Compare two hex strings without an early exit.
fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
