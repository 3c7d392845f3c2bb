//! Support bundles customers send with their license (`berth support-bundle --upload`, the
//! console's "Send to vendor"), and the vendor's list and download of them
//! (docs/formats/vendor-server.md, "Support bundles from customers").
//!
//! The license names the customer; the file name the customer gives is kept only to show it,
//! cleaned by [`clean_name`]. The bytes are streamed to the store under the server's own id
//! ([`crate::store::Store::put_support_bundle`]) and the row is written after them, so a cut
//! upload is never listed.

use crate::customers::Licensee;
use crate::db::{self, Param, now_ms};
use crate::model::SupportBundleInfo;
use crate::service::{Actor, SResult, Service, ServiceError};
use crate::store::SupportBody;
use futures::Stream;

/// Default largest support bundle (`--max-support-bundle-mib 512`).
pub const DEFAULT_MAX_SUPPORT_BUNDLE: u64 = 512 * 1024 * 1024;

/// Longest file name kept (before `.tar.gz` is added).
const MAX_NAME: usize = 100;

/// The file name a customer gave, made safe to show and to suggest as a file name anywhere:
/// its last path component (after `/` or `\`), every byte outside `A-Za-z0-9._-` replaced by
/// `_`, leading dots removed, at most 100 characters, ending in `.tar.gz`;
/// `support-bundle.tar.gz` when nothing is left.
pub fn clean_name(given: &str) -> String {
    let last = given.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut s: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    s = s.trim_start_matches('.').to_string();
    if s.len() > MAX_NAME {
        s.truncate(MAX_NAME);
    }
    let stem = s
        .strip_suffix(".tar.gz")
        .or_else(|| s.strip_suffix(".tgz"))
        .unwrap_or(&s)
        .trim_end_matches('.');
    if stem.is_empty() || stem.chars().all(|c| c == '_') {
        return "support-bundle.tar.gz".into();
    }
    format!("{stem}.tar.gz")
}

/// Whether `id` has the form of the server's ids (a UUID), so that it can never name a path.
fn check_id(id: &str) -> SResult<()> {
    match uuid::Uuid::parse_str(id) {
        Ok(u) if u.hyphenated().to_string() == id => Ok(()),
        _ => Err(ServiceError::Invalid(format!(
            "{id:?} is not a support bundle id (see `berth vendor support-bundles list`)"
        ))),
    }
}

fn info(r: &sqlx::any::AnyRow) -> SupportBundleInfo {
    SupportBundleInfo {
        id: db::text(r, "id"),
        customer: db::text(r, "customer"),
        app: db::text(r, "app"),
        license_id: db::text(r, "license_id"),
        name: db::text(r, "name"),
        size: db::int(r, "size").max(0) as u64,
        sha256: db::text(r, "sha256"),
        received_at: db::rfc3339(db::int(r, "received_at")),
    }
}

const COLS: &str = "id, customer, app, license_id, name, size, sha256, received_at";

impl Service {
    /// Receive a support bundle from a licensee: refused (before a byte is stored) when the
    /// customer may not upload or `declared` (the Content-Length) is over the limit; streamed
    /// to the store under a new id; listed once stored.
    pub async fn receive_support_bundle<S, E>(
        &self,
        who: &Licensee,
        name: Option<&str>,
        declared: Option<u64>,
        body: S,
    ) -> SResult<SupportBundleInfo>
    where
        S: Stream<Item = Result<bytes::Bytes, E>>,
        E: std::fmt::Display,
    {
        if !who.support_upload {
            return Err(ServiceError::Forbidden(format!(
                "the license of {} does not include support bundle uploads; send the bundle to the vendor another way, or ask for a license with supportBundleUpload",
                who.customer
            )));
        }
        let limit = self.max_support_bundle;
        if let Some(n) = declared
            && n > limit
        {
            return Err(ServiceError::Store(
                crate::store::StoreError::BundleTooLarge { limit },
            ));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let name = clean_name(name.unwrap_or_default());
        let (size, sha256) = self.store.put_support_bundle(&id, body, limit).await?;
        let now = now_ms();
        self.db
            .exec(
                &format!(
                    "INSERT INTO support_bundles ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ),
                &[
                    Param::Text(&id),
                    Param::Text(&who.customer),
                    Param::Text(&who.app),
                    Param::Text(&who.license_id),
                    Param::Text(&name),
                    Param::Int(size as i64),
                    Param::Text(&sha256),
                    Param::Int(now),
                ],
            )
            .await?;
        self.audit_read(
            &format!("license:{}", who.license_id),
            "support-bundle.upload",
            &format!("{} {} {id} {name} ({size} bytes)", who.customer, who.app),
        )
        .await?;
        Ok(SupportBundleInfo {
            id,
            customer: who.customer.clone(),
            app: who.app.clone(),
            license_id: who.license_id.clone(),
            name,
            size,
            sha256,
            received_at: db::rfc3339(now),
        })
    }

    /// Support bundles received, newest first; of one customer and/or app when given.
    pub async fn support_bundles(
        &self,
        customer: Option<&str>,
        app: Option<&str>,
    ) -> SResult<Vec<SupportBundleInfo>> {
        let rows = self
            .db
            .rows(
                &format!(
                    "SELECT {COLS} FROM support_bundles WHERE ($1 = '' OR customer = $1) AND ($2 = '' OR app = $2) ORDER BY received_at DESC, id DESC"
                ),
                &[
                    Param::Text(customer.unwrap_or("")),
                    Param::Text(app.unwrap_or("")),
                ],
            )
            .await?;
        Ok(rows.iter().map(info).collect())
    }

    /// One support bundle and its bytes, for the vendor (recorded in the audit log).
    pub async fn support_bundle(
        &self,
        actor: &Actor,
        id: &str,
    ) -> SResult<(SupportBundleInfo, SupportBody)> {
        check_id(id)?;
        let row = self
            .db
            .row(
                &format!("SELECT {COLS} FROM support_bundles WHERE id = $1"),
                &[Param::Text(id)],
            )
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no support bundle {id}")))?;
        let b = info(&row);
        let body = self.store.open_support_bundle(id).await?.ok_or_else(|| {
            tracing::error!(id, "a listed support bundle is missing from the store");
            ServiceError::NotFound(format!(
                "support bundle {id} is listed but its bytes are missing from the store"
            ))
        })?;
        self.audit_read(
            &actor.name,
            "support-bundle.download",
            &format!("{} {} {id}", b.customer, b.app),
        )
        .await?;
        Ok((b, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_to_one_safe_file_name() {
        for (given, want) in [
            (
                "support-bundle-2026-12-05T04_00_00.tar.gz",
                "support-bundle-2026-12-05T04_00_00.tar.gz",
            ),
            ("../../etc/passwd", "passwd.tar.gz"),
            ("..\\..\\windows\\system32\\x.tgz", "x.tar.gz"),
            ("/abs/path/b.tar.gz", "b.tar.gz"),
            ("..", "support-bundle.tar.gz"),
            ("", "support-bundle.tar.gz"),
            (".hidden.tar.gz", "hidden.tar.gz"),
            ("a\nb\r\0c\".tar.gz", "a_b__c_.tar.gz"),
            ("bündel;rm -rf.tar.gz", "b_ndel_rm_-rf.tar.gz"),
            ("%2e%2e%2f", "_2e_2e_2f.tar.gz"),
            ("\u{202e}zg.rat.exe", "_zg.rat.exe.tar.gz"),
            ("   ", "support-bundle.tar.gz"),
        ] {
            assert_eq!(clean_name(given), want, "{given:?}");
        }
        let long = "x".repeat(5000);
        let c = clean_name(&long);
        assert!(c.len() <= MAX_NAME + ".tar.gz".len(), "{c}");
        assert!(c.ends_with(".tar.gz"));
    }

    #[test]
    fn only_uuids_are_ids() {
        assert!(check_id("0193a5e2-7c1b-7d4e-9a51-2b6f0c1d2e3f").is_ok());
        for bad in [
            "../x",
            "0193a5e2-7c1b-7d4e-9a51-2b6f0c1d2e3f/../../x",
            "",
            "0193A5E2-7C1B-7D4E-9A51-2B6F0C1D2E3F",
            "0193a5e27c1b7d4e9a512b6f0c1d2e3f",
        ] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
