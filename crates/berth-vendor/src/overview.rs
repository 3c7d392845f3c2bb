//! Reads for front ends that show more than the API lists (the vendor's portal): when each
//! release was pushed and promoted, a release's kept scan judged by the server's policy, the
//! licenses issued to a customer, one customer, and a token by its id. Nothing here changes
//! anything, and nothing here is on the update-check path.

use crate::db::{self, Param};
use crate::model::Scope;
use crate::service::{Actor, SResult, Service, ServiceError};
use berth_scan::report::ScanReport;
use std::sync::Arc;

/// A release as stored: what the API's release list has, plus its index and push time.
#[derive(Debug, Clone)]
pub struct ReleaseRecord {
    pub version: String,
    /// The digest of the release's index.json.
    pub index_digest: String,
    pub notes: String,
    pub required: bool,
    /// When it was pushed, unix milliseconds.
    pub pushed_at: i64,
    /// Its end-of-life date, unix milliseconds.
    pub eol_at: Option<i64>,
}

/// An app with how many releases and customers it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCounts {
    pub name: String,
    pub releases: usize,
    pub customers: usize,
}

/// One promotion: a release on a channel since a time (unix milliseconds).
#[derive(Debug, Clone)]
pub struct Promotion {
    pub channel: String,
    pub version: String,
    pub promoted_at: i64,
}

/// A release's scan as this server can tell it.
#[derive(Debug, Clone)]
pub enum ScanState {
    /// The server has no vulnerability database (`--scan-db`).
    NoScanner,
    /// No scan of this release is kept yet (promoting it makes one).
    NotScanned,
    /// The kept scan, VEX applied, and what in it blocks a promotion.
    Scanned {
        report: Arc<ScanReport>,
        blocking: Vec<String>,
    },
}

/// A license issued to a customer (its credential is kept only as a hash).
#[derive(Debug, Clone)]
pub struct LicenseRecord {
    pub id: String,
    /// Unix milliseconds.
    pub issued_at: i64,
}

impl Service {
    /// The live (unrevoked) token with this id, as the actor it authenticates.
    pub async fn actor_by_id(&self, id: &str) -> SResult<Option<Actor>> {
        let row = self
            .db
            .row(
                "SELECT id, name, scope FROM tokens WHERE id = $1 AND revoked_at IS NULL",
                &[Param::Text(id)],
            )
            .await?;
        Ok(row.map(|r| Actor {
            id: db::text(&r, "id"),
            name: db::text(&r, "name"),
            scope: Scope::parse(&db::text(&r, "scope")).unwrap_or(Scope::ReadOnly),
        }))
    }

    /// Every app with its release and customer counts, counted by the database.
    pub async fn app_counts(&self) -> SResult<Vec<AppCounts>> {
        let counts = |sql: &'static str| {
            let db = self.db.clone();
            async move {
                let rows = db.rows(sql, &[]).await?;
                SResult::Ok(
                    rows.iter()
                        .map(|r| (db::text(r, "app"), db::int(r, "n").max(0) as usize))
                        .collect::<std::collections::HashMap<_, _>>(),
                )
            }
        };
        let releases = counts("SELECT app, COUNT(*) AS n FROM releases GROUP BY app").await?;
        let customers = counts("SELECT app, COUNT(*) AS n FROM customers GROUP BY app").await?;
        Ok(self
            .apps()
            .await?
            .into_iter()
            .map(|name| AppCounts {
                releases: releases.get(&name).copied().unwrap_or(0),
                customers: customers.get(&name).copied().unwrap_or(0),
                name,
            })
            .collect())
    }

    /// Every release of an app as stored (any order; NotFound for an unknown app).
    pub async fn release_records(&self, app: &str) -> SResult<Vec<ReleaseRecord>> {
        self.require_app(app).await?;
        let rows = self
            .db
            .rows(
                "SELECT version, index_digest, notes, required, created_at, eol_at FROM releases WHERE app = $1",
                &[Param::Text(app)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| ReleaseRecord {
                version: db::text(r, "version"),
                index_digest: db::text(r, "index_digest"),
                notes: db::text(r, "notes"),
                required: db::int(r, "required") == 1,
                pushed_at: db::int(r, "created_at"),
                eol_at: db::opt_int(r, "eol_at"),
            })
            .collect())
    }

    /// One release as stored, or NotFound.
    pub async fn release_record(&self, app: &str, version: &str) -> SResult<ReleaseRecord> {
        self.require_app(app).await?;
        let row = self
            .db
            .row(
                "SELECT version, index_digest, notes, required, created_at, eol_at FROM releases WHERE app = $1 AND version = $2",
                &[Param::Text(app), Param::Text(version)],
            )
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("app {app} has no release {version}")))?;
        Ok(ReleaseRecord {
            version: db::text(&row, "version"),
            index_digest: db::text(&row, "index_digest"),
            notes: db::text(&row, "notes"),
            required: db::int(&row, "required") == 1,
            pushed_at: db::int(&row, "created_at"),
            eol_at: db::opt_int(&row, "eol_at"),
        })
    }

    /// Every promotion of an app's releases.
    pub async fn promotions(&self, app: &str) -> SResult<Vec<Promotion>> {
        let rows = self
            .db
            .rows(
                "SELECT channel, version, promoted_at FROM channel_releases WHERE app = $1",
                &[Param::Text(app)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Promotion {
                channel: db::text(r, "channel"),
                version: db::text(r, "version"),
                promoted_at: db::int(r, "promoted_at"),
            })
            .collect())
    }

    /// The kept scan of a release (by its index digest), judged by the server's policy. Never
    /// scans: a release without a kept scan is [`ScanState::NotScanned`].
    pub async fn kept_scan(&self, index: &str) -> SResult<ScanState> {
        let Some(scanner) = self.scanner.clone() else {
            return Ok(ScanState::NoScanner);
        };
        if !self.load_scan(&scanner, index).await? {
            return Ok(ScanState::NotScanned);
        }
        Ok(match scanner.scanned(index) {
            Some(report) => ScanState::Scanned {
                blocking: scanner.blocking(&report),
                report,
            },
            None => ScanState::NotScanned,
        })
    }

    /// The licenses issued to a customer, newest first.
    pub async fn licenses_of(&self, customer: &str) -> SResult<Vec<LicenseRecord>> {
        let rows = self
            .db
            .rows(
                "SELECT id, issued_at FROM licenses WHERE customer = $1 ORDER BY issued_at DESC, id DESC",
                &[Param::Text(customer)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| LicenseRecord {
                id: db::text(r, "id"),
                issued_at: db::int(r, "issued_at"),
            })
            .collect())
    }
}
