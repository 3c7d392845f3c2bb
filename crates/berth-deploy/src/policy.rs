//! Upgrade policy checks, run before an upgrade touches anything: no downgrades, the oldest
//! version allowed to upgrade directly, required releases that may not be skipped, and the
//! supported Kubernetes version range. The CLI fills [`UpgradePolicy`] from `berth.yaml`.

use semver::Version;

/// The rules from the app's `upgrades` and `compatibility` sections.
#[derive(Debug, Clone, Default)]
pub struct UpgradePolicy {
    /// Installed versions older than this must first upgrade to an intermediate release.
    pub min_upgrade_from: Option<String>,
    /// Releases that every upgrade path must pass through.
    pub required_releases: Vec<String>,
    /// Supported Kubernetes versions as a semver range, e.g. `>=1.27.0, <1.35.0`.
    pub kubernetes: Option<String>,
}

/// Parse a version leniently: `v1.2`, `1.2`, `1.2.3-rc.1`.
pub fn parse_version(s: &str) -> Option<Version> {
    let t = s.trim().trim_start_matches('v');
    if let Ok(v) = Version::parse(t) {
        return Some(v);
    }
    let mut parts = t.splitn(3, '.');
    let maj = parts.next()?.parse().ok()?;
    let min = parts.next().unwrap_or("0").parse().ok()?;
    Some(Version::new(maj, min, 0))
}

/// Every reason the upgrade from `current` to `target` on a cluster running `kubernetes`
/// must not happen (empty: allowed). All problems are reported at once.
pub fn check_upgrade(
    current: &str,
    target: &str,
    kubernetes: Option<&str>,
    policy: &UpgradePolicy,
) -> Vec<String> {
    let mut out = Vec::new();
    let (cur, tgt) = (parse_version(current), parse_version(target));
    if let (Some(cur), Some(tgt)) = (&cur, &tgt) {
        if tgt < cur {
            out.push(format!(
                "version {target} is older than the installed {current}: downgrades are refused; use `berth rollback` to return to an earlier revision"
            ));
        }
        if let Some(min) = policy.min_upgrade_from.as_deref().and_then(parse_version)
            && cur < &min
            && tgt > cur
        {
            out.push(format!(
                "version {current} cannot upgrade directly to {target}: the oldest version allowed to upgrade directly is {}; upgrade to {} first",
                policy.min_upgrade_from.as_deref().unwrap_or(""),
                policy.min_upgrade_from.as_deref().unwrap_or("")
            ));
        }
        let mut skipped: Vec<(Version, &str)> = policy
            .required_releases
            .iter()
            .filter_map(|r| parse_version(r).map(|v| (v, r.as_str())))
            .filter(|(v, _)| v > cur && v < tgt)
            .collect();
        skipped.sort();
        if let Some((_, first)) = skipped.first() {
            let names: Vec<&str> = skipped.iter().map(|(_, n)| *n).collect();
            out.push(format!(
                "upgrading from {current} to {target} would skip required release{} {}; upgrade to {first} first",
                if names.len() > 1 { "s" } else { "" },
                names.join(", ")
            ));
        }
    } else {
        if cur.is_none() {
            out.push(format!("installed version {current:?} is not a semantic version; cannot check the upgrade policy"));
        }
        if tgt.is_none() {
            out.push(format!(
                "version {target:?} is not a semantic version (expected e.g. 1.2.3)"
            ));
        }
    }
    out.extend(check_kubernetes(kubernetes, policy));
    out
}

/// Whether the cluster's Kubernetes version is in the supported range.
pub fn check_kubernetes(kubernetes: Option<&str>, policy: &UpgradePolicy) -> Vec<String> {
    let mut out = Vec::new();
    let (Some(k), Some(range)) = (
        kubernetes.and_then(parse_version),
        policy.kubernetes.as_deref(),
    ) else {
        return out;
    };
    match semver::VersionReq::parse(range) {
        Ok(req) => {
            // pre-release clusters (1.33.0-rc.1) are matched by their release number
            let plain = Version::new(k.major, k.minor, k.patch);
            if !req.matches(&plain) {
                out.push(format!(
                    "the cluster runs Kubernetes {k}, outside the range this release supports ({range}); use a cluster in that range or a release of the app that supports {}.{}",
                    k.major, k.minor
                ));
            }
        }
        Err(e) => out.push(format!(
            "the app's compatibility.kubernetes range {range:?} is not a semver range: {e}"
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> UpgradePolicy {
        UpgradePolicy {
            min_upgrade_from: Some("1.2.0".into()),
            required_releases: vec!["2.0.0".into(), "3.0.0".into()],
            kubernetes: Some(">=1.28.0, <1.34.0".into()),
        }
    }

    #[test]
    fn allowed_upgrade() {
        assert!(check_upgrade("1.5.0", "2.0.0", Some("1.32.0"), &policy()).is_empty());
        assert!(check_upgrade("2.0.0", "2.9.1", Some("1.33.4"), &policy()).is_empty());
    }

    #[test]
    fn downgrade_and_skips_and_kube_range_all_reported() {
        let p = check_upgrade("1.0.0", "3.1.0", Some("1.34.1"), &policy());
        assert_eq!(p.len(), 3, "{p:#?}");
        assert!(p[0].contains("oldest version allowed to upgrade directly is 1.2.0"));
        assert!(p[1].contains("skip required releases 2.0.0, 3.0.0; upgrade to 2.0.0 first"));
        assert!(p[2].contains("outside the range this release supports (>=1.28.0, <1.34.0)"));
        let p = check_upgrade("2.1.0", "2.0.5", None, &policy());
        assert!(p[0].contains("downgrades are refused"), "{p:?}");
        let p = check_upgrade("2.1.0", "banana", Some("1.27.3"), &policy());
        assert!(p.iter().any(|m| m.contains("not a semantic version")));
        assert!(
            p.iter()
                .any(|m| m.contains("Kubernetes 1.27.3, outside the range"))
        );
    }
}
