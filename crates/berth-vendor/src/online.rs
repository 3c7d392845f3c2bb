//! The customer's online path, with the license as the only credential: ask the vendor server
//! what to install or which releases an upgrade must walk, fetch a release's app files into a
//! local release directory (every blob checked against its digest; images stay on the server's
//! registry endpoint), and hand the install the registry and pull credentials. The install
//! itself is the release-directory path of `berth install` (docs/vendor-server.md).

use crate::client::{CResult, Client, ClientError};
use crate::model::{InstanceReport, UpdateAnswer, UpdateCheck};
use berth_license::License;
use std::path::{Path, PathBuf};

/// Name of the Secret an online install writes into the app's namespace: the license file
/// (`license.yaml`, for later `berth updates` and `berth upgrade`) and the entitlements
/// (`entitlements.json`, for the app to read).
pub const LICENSE_SECRET: &str = "berth-license";

/// A license bound to the vendor server it talks to.
#[derive(Debug, Clone)]
pub struct Online {
    pub license: License,
    /// The server's URL (the license's, or `--vendor-url`).
    pub url: String,
    client: Client,
}

/// A release fetched for an install.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub version: String,
    /// The release directory (index.json, the app entry and its files).
    pub release_dir: PathBuf,
}

impl Online {
    /// Talk to `vendor_url`, or to the URL written in the license.
    pub fn new(license: License, vendor_url: Option<&str>) -> CResult<Online> {
        let url = vendor_url
            .map(str::to_string)
            .unwrap_or_else(|| license.spec.vendor_url.clone());
        let client = Client::new(&url, &license.bearer())?;
        Ok(Online {
            license,
            url,
            client,
        })
    }

    /// Where the cluster pulls this app's images: `host[:port]/<app>` of the server's URL
    /// (the registry endpoint serves `<app>/<source repository>`).
    pub fn registry(&self) -> CResult<String> {
        let rest = self
            .url
            .split_once("://")
            .map(|(_, r)| r)
            .unwrap_or(&self.url);
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() || host.contains('@') {
            return Err(ClientError::Release(format!(
                "the vendor URL {:?} has no host[:port] to pull images from",
                self.url
            )));
        }
        Ok(format!("{host}/{}", self.license.spec.app))
    }

    /// The client, authenticated with the license.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The pull credential: user name = license id, password = credential.
    pub fn pull_credential(&self) -> (String, String) {
        (
            self.license.spec.license_id.clone(),
            self.license.spec.credential.clone(),
        )
    }

    /// An update check: what is newer than `current`, the path to `target` (newest when None).
    pub async fn check(
        &self,
        current: Option<&str>,
        target: Option<&str>,
        instance: InstanceReport,
    ) -> CResult<UpdateAnswer> {
        self.client
            .check_updates(&UpdateCheck {
                current_version: current.map(Into::into),
                target_version: target.map(Into::into),
                channel: None,
                instance,
            })
            .await
    }

    /// The version a new install gets: `wanted`, or the newest on the license's channel.
    /// The server refuses an end-of-life or unlicensed version when it is fetched.
    pub async fn install_version(
        &self,
        wanted: Option<&str>,
        instance: InstanceReport,
    ) -> CResult<String> {
        if let Some(v) = wanted {
            return Ok(v.to_string());
        }
        let ans = self.check(None, None, instance).await?;
        if let Some(why) = &ans.refused {
            return Err(ClientError::Release(format!(
                "the vendor server offers no release of {} on channel {}: {why}",
                ans.app, ans.channel
            )));
        }
        ans.path.last().cloned().ok_or_else(|| {
            ClientError::Release(format!(
                "channel {} of {} has no release to install yet",
                ans.channel, ans.app
            ))
        })
    }

    /// Fetch the app part of `version` into `dir/<app>-<version>.release` and check that it is
    /// the release asked for.
    pub async fn fetch(&self, version: &str, dir: &Path) -> CResult<Fetched> {
        let app = &self.license.spec.app;
        let release_dir = dir.join(format!("{app}-{version}.release"));
        self.client.download_app(version, &release_dir).await?;
        let rel = berth_oci::release::Release::open(&release_dir)
            .map_err(|e| ClientError::Release(e.to_string()))?;
        if &rel.meta.app != app || rel.meta.version != version {
            return Err(ClientError::Release(format!(
                "the vendor server sent {} {} when {app} {version} was asked for",
                rel.meta.app, rel.meta.version
            )));
        }
        Ok(Fetched {
            version: version.to_string(),
            release_dir,
        })
    }

    /// What templates see as `.License`.
    pub fn template_context(&self) -> serde_json::Value {
        let s = &self.license.spec;
        serde_json::json!({
            "Entitlements": self.license.entitlements_json(),
            "Customer": s.customer,
            "LicenseID": s.license_id,
            "Channel": self.license.default_channel().unwrap_or_default(),
            "Type": s.license_type.as_str(),
            "ExpiresAt": s.expires_at.map(|t| t.to_string()),
        })
    }
}
