//! Which releases an install may move to: semver order on a channel, required releases that
//! an upgrade may not skip, and end of life (explicit dates or "the newest N minors").
//!
//! Pure decisions over data the server reads from its database.

use semver::Version;
use std::cmp::Ordering;

/// A release as it sits on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRelease {
    pub version: Version,
    pub required: bool,
    pub notes: String,
    /// Explicit end of life, unix milliseconds.
    pub eol_at: Option<i64>,
}

/// A channel's end-of-life policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Support only the newest N minor versions (major.minor pairs) of the channel.
    pub keep_minors: Option<u64>,
}

/// Why a release is past its end of life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eol {
    /// Its explicit end-of-life date has passed.
    Date(i64),
    /// It is older than the newest N minors the channel supports.
    OutsideNewestMinors(u64),
}

impl Eol {
    /// Words for a customer.
    pub fn describe(&self) -> String {
        match self {
            Eol::Date(ms) => format!(
                "end of life since {}",
                jiff::Timestamp::from_millisecond(*ms)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|_| ms.to_string())
            ),
            Eol::OutsideNewestMinors(n) => {
                format!("end of life: the channel supports only its newest {n} minor versions")
            }
        }
    }
}

/// Semver precedence (build metadata ignored), as channels order releases.
pub fn precedence(a: &Version, b: &Version) -> Ordering {
    a.cmp_precedence(b)
}

/// Sort a channel's releases oldest first.
pub fn sort(releases: &mut [ChannelRelease]) {
    releases.sort_by(|a, b| precedence(&a.version, &b.version));
}

/// Whether `r` is past its end of life on a channel holding `all` under `policy` at `now_ms`.
pub fn eol(r: &ChannelRelease, all: &[ChannelRelease], policy: Policy, now_ms: i64) -> Option<Eol> {
    if let Some(at) = r.eol_at
        && at <= now_ms
    {
        return Some(Eol::Date(at));
    }
    let n = policy.keep_minors?;
    let mut minors: Vec<(u64, u64)> = all
        .iter()
        .map(|x| (x.version.major, x.version.minor))
        .collect();
    minors.sort_unstable();
    minors.dedup();
    let kept = &minors[minors.len().saturating_sub(n as usize)..];
    (!kept.contains(&(r.version.major, r.version.minor))).then_some(Eol::OutsideNewestMinors(n))
}

/// Where an install wants to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The newest release of the channel.
    Latest,
    /// One version.
    Exact(Version),
}

/// The answer to "what is newer, and how do I get there".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Releases newer than the current one, oldest first.
    pub newer: Vec<ChannelRelease>,
    /// The versions to install in order to reach the target (required ones, then the target).
    pub path: Vec<Version>,
    /// The current version's end of life, when it is past it.
    pub current_eol: Option<Eol>,
}

/// Why no plan can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("version {0} is not on this channel; `berth updates` lists what is")]
    NotOnChannel(Version),
    #[error(
        "version {target} is older than the installed {current}; use `berth rollback` to go back"
    )]
    Downgrade { target: Version, current: Version },
    #[error(
        "version {version} cannot be installed: {reason}; pick a supported version (`berth updates`)"
    )]
    EndOfLife { version: Version, reason: String },
    #[error("the channel has no releases yet")]
    Empty,
}

/// Plan an install (`current` None) or an upgrade along a channel.
pub fn plan(
    current: Option<&Version>,
    target: &Target,
    releases: &[ChannelRelease],
    policy: Policy,
    now_ms: i64,
) -> Result<Plan, PlanError> {
    let mut rs = releases.to_vec();
    sort(&mut rs);
    let newer: Vec<ChannelRelease> = rs
        .iter()
        .filter(|r| current.is_none_or(|c| precedence(&r.version, c) == Ordering::Greater))
        .cloned()
        .collect();
    let current_eol = current.and_then(|c| {
        rs.iter()
            .find(|r| precedence(&r.version, c) == Ordering::Equal)
            .and_then(|r| eol(r, &rs, policy, now_ms))
    });
    let target_rel = match target {
        Target::Latest => match (newer.last(), current) {
            (Some(r), _) => r.clone(),
            (None, Some(_)) => {
                return Ok(Plan {
                    newer,
                    path: vec![],
                    current_eol,
                });
            }
            (None, None) => return Err(PlanError::Empty),
        },
        Target::Exact(v) => {
            let r = rs
                .iter()
                .find(|r| precedence(&r.version, v) == Ordering::Equal)
                .ok_or_else(|| PlanError::NotOnChannel(v.clone()))?;
            if let Some(c) = current
                && precedence(v, c) == Ordering::Less
            {
                return Err(PlanError::Downgrade {
                    target: v.clone(),
                    current: c.clone(),
                });
            }
            r.clone()
        }
    };
    if let Some(e) = eol(&target_rel, &rs, policy, now_ms) {
        return Err(PlanError::EndOfLife {
            version: target_rel.version.clone(),
            reason: e.describe(),
        });
    }
    let mut path: Vec<Version> = newer
        .iter()
        .filter(|r| r.required && precedence(&r.version, &target_rel.version) == Ordering::Less)
        .map(|r| r.version.clone())
        .collect();
    if current.is_none_or(|c| precedence(&target_rel.version, c) != Ordering::Equal) {
        path.push(target_rel.version.clone());
    }
    if current.is_none() {
        // A new install goes straight to the target; required releases gate upgrades only.
        path.retain(|v| *v == target_rel.version);
    }
    Ok(Plan {
        newer,
        path,
        current_eol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(v: &str, required: bool) -> ChannelRelease {
        ChannelRelease {
            version: Version::parse(v).unwrap(),
            required,
            notes: String::new(),
            eol_at: None,
        }
    }
    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }
    fn versions(p: &[Version]) -> Vec<String> {
        p.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn upgrade_walks_every_required_release_on_the_way() {
        let rs = [
            r("1.0.0", false),
            r("1.1.0", true),
            r("1.2.0", false),
            r("1.3.0", true),
            r("2.0.0", false),
        ];
        let p = plan(
            Some(&v("1.0.0")),
            &Target::Latest,
            &rs,
            Policy::default(),
            0,
        )
        .unwrap();
        assert_eq!(versions(&p.path), ["1.1.0", "1.3.0", "2.0.0"]);
        assert_eq!(p.newer.len(), 4);
        let p = plan(
            Some(&v("1.2.0")),
            &Target::Exact(v("1.3.0")),
            &rs,
            Policy::default(),
            0,
        )
        .unwrap();
        assert_eq!(versions(&p.path), ["1.3.0"]);
    }

    #[test]
    fn install_goes_to_the_newest_and_ignores_build_metadata() {
        let rs = [
            r("1.0.0+build.9", false),
            r("1.0.1-rc.1", false),
            r("1.0.1+b1", true),
        ];
        let p = plan(None, &Target::Latest, &rs, Policy::default(), 0).unwrap();
        assert_eq!(versions(&p.path), ["1.0.1+b1"]);
        let p = plan(
            Some(&v("1.0.1")),
            &Target::Latest,
            &rs,
            Policy::default(),
            0,
        )
        .unwrap();
        assert!(p.path.is_empty(), "1.0.1 == 1.0.1+b1: up to date");
    }

    #[test]
    fn downgrade_unknown_and_empty_are_refused() {
        let rs = [r("1.0.0", false), r("1.1.0", false)];
        assert!(matches!(
            plan(
                Some(&v("1.1.0")),
                &Target::Exact(v("1.0.0")),
                &rs,
                Policy::default(),
                0
            ),
            Err(PlanError::Downgrade { .. })
        ));
        assert!(matches!(
            plan(None, &Target::Exact(v("9.0.0")), &rs, Policy::default(), 0),
            Err(PlanError::NotOnChannel(_))
        ));
        assert_eq!(
            plan(None, &Target::Latest, &[], Policy::default(), 0),
            Err(PlanError::Empty)
        );
    }

    #[test]
    fn end_of_life_by_date_and_by_newest_minors() {
        let mut old = r("1.0.0", false);
        old.eol_at = Some(1_000);
        let rs = [
            old,
            r("1.1.0", false),
            r("1.2.0", false),
            r("1.2.1", false),
            r("2.0.0", false),
        ];
        let keep2 = Policy {
            keep_minors: Some(2),
        };
        assert!(matches!(
            plan(
                None,
                &Target::Exact(v("1.0.0")),
                &rs,
                Policy::default(),
                2_000
            ),
            Err(PlanError::EndOfLife { .. })
        ));
        // before its date it installs
        plan(
            None,
            &Target::Exact(v("1.0.0")),
            &rs,
            Policy::default(),
            500,
        )
        .unwrap();
        // newest 2 minors: 1.2 and 2.0
        let e = plan(None, &Target::Exact(v("1.1.0")), &rs, keep2, 0).unwrap_err();
        assert!(e.to_string().contains("newest 2 minor"), "{e}");
        plan(None, &Target::Exact(v("1.2.0")), &rs, keep2, 0).unwrap();
        let p = plan(Some(&v("1.1.0")), &Target::Latest, &rs, keep2, 0).unwrap();
        assert_eq!(p.current_eol, Some(Eol::OutsideNewestMinors(2)));
        assert_eq!(versions(&p.path), ["2.0.0"]);
    }
}
