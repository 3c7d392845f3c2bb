//! Kept release scans: the `release_scans` table holds each release's berth-scan report (as
//! made, before VEX) per scanner key, so the CVE gate and exposure questions read a scan
//! made once, by any server on the database, instead of rescanning after every restart
//! (docs/formats/vendor-server.md, "Kept scans").

use crate::db::{self, Param, now_ms};
use crate::scan_gate::ScanGate;
use crate::service::{SResult, Service, ServiceError};
use berth_scan::report::ScanReport;
use std::sync::Arc;

impl Service {
    /// The kept scan of `index` for this scanner, put in the scanner's memory; false when
    /// the database has none (or one it cannot read, which is then made again).
    pub(crate) async fn load_scan(&self, scanner: &ScanGate, index: &str) -> SResult<bool> {
        if scanner.scanned(index).is_some() {
            return Ok(true);
        }
        let Some(row) = self
            .db
            .row(
                "SELECT report FROM release_scans WHERE index_digest = $1 AND scanner = $2",
                &[Param::Text(index), Param::Text(scanner.key())],
            )
            .await?
        else {
            return Ok(false);
        };
        match serde_json::from_str::<ScanReport>(&db::text(&row, "report")) {
            Ok(raw) => {
                scanner.remember(index, raw);
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(index, error = %e, "a kept release scan does not read; scanning again");
                Ok(false)
            }
        }
    }

    /// Write the scan of `index` the scanner made, when it has one the database lacks. Rows
    /// of other scanner keys for the release (an older database) are dropped; a row another
    /// server wrote first is kept (same inputs, same report).
    pub(crate) async fn save_scan(&self, scanner: &ScanGate, index: &str) -> SResult<()> {
        let Some(raw) = scanner.unsaved(index) else {
            return Ok(());
        };
        let json = serde_json::to_string(&*raw)
            .map_err(|e| ServiceError::Invalid(format!("a release scan does not encode: {e}")))?;
        let mut tx = db::ctx("starting to keep a scan", self.db.pool().begin().await)?;
        let key = scanner.key().to_string();
        let now = now_ms();
        db::ctx(
            "dropping older scans",
            db::bind_all(
                sqlx::query("DELETE FROM release_scans WHERE index_digest = $1 AND scanner <> $2"),
                &[Param::Text(index), Param::Text(&key)],
            )
            .execute(&mut *tx)
            .await,
        )?;
        db::ctx(
            "keeping a release scan",
            db::bind_all(
                sqlx::query(
                    "INSERT INTO release_scans (index_digest, scanner, scanned_at, report) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                ),
                &[
                    Param::Text(index),
                    Param::Text(&key),
                    Param::Int(now),
                    Param::Text(&json),
                ],
            )
            .execute(&mut *tx)
            .await,
        )?;
        db::ctx("committing a kept scan", tx.commit().await)?;
        scanner.mark_saved(index);
        Ok(())
    }

    /// The scan of the release whose index is `index`, VEX applied: from memory, else the
    /// database, else made now (on a blocking thread) and kept.
    pub(crate) async fn release_scan(
        &self,
        scanner: &Arc<ScanGate>,
        index: &str,
    ) -> SResult<Arc<ScanReport>> {
        if self.load_scan(scanner, index).await?
            && let Some(r) = scanner.scanned(index)
        {
            return Ok(r);
        }
        let view = self
            .store
            .layout_view(&crate::service::digest(index)?)
            .await?;
        let (s, i) = (scanner.clone(), index.to_string());
        let report = tokio::task::spawn_blocking(move || {
            let _keep = &view;
            s.scan(&i, view.path())
        })
        .await
        .map_err(|e| ServiceError::Invalid(format!("scanning a release failed: {e}")))?
        .map_err(ServiceError::Invalid)?;
        self.save_scan(scanner, index).await?;
        Ok(report)
    }
}
