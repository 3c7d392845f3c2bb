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
    /// Oldest supported Kubernetes version (inclusive), e.g. `1.28`.
    pub kubernetes_min: Option<String>,
    /// Newest supported Kubernetes version (inclusive), e.g. `1.33`.
    pub kubernetes_max: Option<String>,
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

fn kube_cmp(cluster: &Version, bound: &str) -> Option<std::cmp::Ordering> {
    let b = parse_version(bound)?;
    // Compare major.minor only when the bound names no patch.
    let has_patch = bound.trim().trim_start_matches('v').split('.').count() >= 3;
    Some(if has_patch {
        cluster.cmp(&b)
    } else {
        (cluster.major, cluster.minor).cmp(&(b.major, b.minor))
    })
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
    let Some(k) = kubernetes.and_then(parse_version) else {
        return out;
    };
    if let Some(min) = &policy.kubernetes_min
        && kube_cmp(&k, min) == Some(std::cmp::Ordering::Less)
    {
        out.push(format!(
            "the cluster runs Kubernetes {k}, older than the oldest supported {min}; upgrade the cluster first"
        ));
    }
    if let Some(max) = &policy.kubernetes_max
        && kube_cmp(&k, max) == Some(std::cmp::Ordering::Greater)
    {
        out.push(format!(
            "the cluster runs Kubernetes {k}, newer than the newest supported {max}; install a release of the app that supports it"
        ));
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
            kubernetes_min: Some("1.28".into()),
            kubernetes_max: Some("1.33".into()),
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
        assert!(p[2].contains("newer than the newest supported 1.33"));
        let p = check_upgrade("2.1.0", "2.0.5", None, &policy());
        assert!(p[0].contains("downgrades are refused"), "{p:?}");
        let p = check_upgrade("2.1.0", "banana", Some("1.27.3"), &policy());
        assert!(p.iter().any(|m| m.contains("not a semantic version")));
        assert!(
            p.iter()
                .any(|m| m.contains("older than the oldest supported 1.28"))
        );
    }
}
