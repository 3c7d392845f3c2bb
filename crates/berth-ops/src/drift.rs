//! `berth drift`: what changed in the cluster (and this host) since the app last worked — the
//! live state compared with the baseline of its last good revision (docs/formats/baseline.md).

use crate::deploy::Target;
use crate::error::{Error, Result};
use crate::progress::Discard;
use berth_deploy::Cluster;
use berth_deploy::baseline::Drift;
use std::sync::Arc;

/// The drift of one installed app.
pub struct AppDrift {
    pub app: String,
    pub namespace: String,
    pub drift: Drift,
}

/// Compare the app (the only one in the namespace when `app` is None) with the baseline of
/// its last good revision; `host` adds this host's facts.
pub async fn drift(target: &Target, app: Option<&str>, host: bool) -> Result<AppDrift> {
    let (cluster, ns) = target.connect().await?;
    let app = match app {
        Some(a) => a.to_string(),
        None => only_app(&cluster, &ns).await?,
    };
    let engine = target.engine(cluster.clone(), &ns, Arc::new(Discard), |_| {});
    let history = engine.revisions(&app).await?;
    if history.is_empty() {
        return Err(Error::NotInstalled(format!(
            "{app} is not installed in namespace {ns}; install it with `berth install`"
        )));
    }
    let Some(drift) = berth_deploy::baseline::drift(&cluster, &history, host).await else {
        return Err(Error::Failed(format!(
            "no revision of {app} in namespace {ns} carries a baseline (it was installed by a berth without baselines); the next `berth upgrade` records one"
        )));
    };
    Ok(AppDrift {
        app,
        namespace: ns,
        drift,
    })
}

/// The one app installed in `ns` (by its revision records).
async fn only_app(cluster: &Cluster, ns: &str) -> Result<String> {
    let selector = format!("{}=revision", berth_deploy::object::LABEL_KIND);
    let apps: std::collections::BTreeSet<String> = cluster
        .list("v1", "Secret", ns, Some(&selector))
        .await?
        .iter()
        .filter_map(|s| berth_deploy::object::label(s, berth_deploy::object::LABEL_APP))
        .map(str::to_string)
        .collect();
    match apps.len() {
        1 => Ok(apps.into_iter().next().unwrap_or_default()),
        0 => Err(Error::NotInstalled(format!(
            "no app is installed in namespace {ns}; pass -n with the app's namespace"
        ))),
        _ => Err(Error::BadInput(format!(
            "several apps are installed in namespace {ns} ({}); name one: berth drift APP -n {ns}",
            apps.into_iter().collect::<Vec<_>>().join(", ")
        ))),
    }
}
