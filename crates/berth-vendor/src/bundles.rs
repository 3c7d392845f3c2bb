//! Signed air-gap bundles of stored releases, built on the server (where the vendor's key is)
//! for one customer: full, or a delta over an older release the customer already has. The
//! bundle is berth-oci's format (docs/formats/bundle.md), signed with the key that signs the
//! customer's licenses, so `vendor.pub` verifies both.

use crate::customers::Licensee;
use crate::db::{self, Param};
use crate::service::{Actor, SResult, Service, ServiceError, digest, parse_version};
use crate::updates;
use serde::{Deserialize, Serialize};

/// What a bundle request asks for.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleRequest {
    /// The release version to bundle.
    pub version: String,
    /// For a delta: the older release the customer has installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// A bundle written to a scratch file, ready to stream (the file is already unlinked).
pub struct BuiltBundle {
    pub file: std::fs::File,
    pub bytes: u64,
    /// `full` or `delta`.
    pub kind: String,
    /// Blobs left out because the base release has them.
    pub blobs_omitted: usize,
}

impl Service {
    /// A bundle for customer `name` (vendor side): the customer must allow air-gap installs.
    pub async fn customer_bundle(
        &self,
        actor: &Actor,
        name: &str,
        req: &BundleRequest,
    ) -> SResult<BuiltBundle> {
        let (who, airgap) = self.customer_licensee(name).await?;
        let b = self.bundle_for(&who, airgap, req).await?;
        self.audit(
            &actor.name,
            "bundle.create",
            &format!(
                "{name} {} {}{}",
                who.app,
                req.version,
                req.since
                    .as_deref()
                    .map(|s| format!(" since {s}"))
                    .unwrap_or_default()
            ),
        )
        .await?;
        Ok(b)
    }

    /// A bundle a license downloads for itself.
    pub async fn license_bundle(
        &self,
        who: &Licensee,
        req: &BundleRequest,
    ) -> SResult<BuiltBundle> {
        let (_, airgap) = self.customer_licensee(&who.customer).await?;
        self.bundle_for(who, airgap, req).await
    }

    async fn bundle_for(
        &self,
        who: &Licensee,
        airgap: bool,
        req: &BundleRequest,
    ) -> SResult<BuiltBundle> {
        if !airgap {
            return Err(ServiceError::Forbidden(format!(
                "customer {} is not licensed for air-gap installs (the vendor sets --airgap)",
                who.customer
            )));
        }
        // The same rules as an online download: current license, licensed channel, not EOL.
        let index = digest(&self.licensed_release(who, &req.version).await?)?;
        let base = match &req.since {
            None => None,
            Some(s) => {
                let (v, t) = (parse_version(s)?, parse_version(&req.version)?);
                if !updates::precedence(&v, &t).is_lt() {
                    return Err(ServiceError::Invalid(format!(
                        "--since {s} must be older than {}",
                        req.version
                    )));
                }
                let row = self
                    .db
                    .row(
                        "SELECT index_digest FROM releases WHERE app = $1 AND version = $2",
                        &[Param::Text(&who.app), Param::Text(&v.to_string())],
                    )
                    .await?
                    .ok_or_else(|| {
                        ServiceError::NotFound(format!(
                            "no release {} {s} to build a delta over",
                            who.app
                        ))
                    })?;
                Some(digest(&db::text(&row, "index_digest"))?)
            }
        };
        let view = self.store.layout_view(&index).await?;
        let base_view = match &base {
            Some(d) => Some(self.store.layout_view(d).await?),
            None => None,
        };
        let scratch = self.store.scratch_dir()?;
        let key = self.signing_key().await?;
        let built = tokio::task::spawn_blocking(move || {
            let out = scratch.path().join("release.bundle");
            let since = base_view
                .as_ref()
                .map(|b| berth_oci::bundle::Base::Release(b.path().to_path_buf()));
            let rep = berth_oci::bundle::create(view.path(), &out, &key, since.as_ref())?;
            // Opened, then unlinked with its directory: the stream holds the only reference.
            let file = std::fs::File::open(&out).map_err(|e| berth_oci::Error::io(&out, e))?;
            Ok::<_, berth_oci::Error>(BuiltBundle {
                file,
                bytes: rep.bytes,
                kind: rep.manifest.kind.clone(),
                blobs_omitted: rep.blobs_omitted,
            })
        })
        .await
        .map_err(|e| ServiceError::Invalid(format!("building the bundle failed: {e}")))?;
        built.map_err(|e| {
            tracing::error!(error = %e, "bundle build failed");
            ServiceError::Store(crate::store::StoreError::Layout {
                op: "build a bundle",
                source: e,
            })
        })
    }
}
