//! Retention policy for `forget`: which snapshots to keep (pure, format section 10).

use std::collections::HashSet;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// How many snapshots to keep per rule; a snapshot kept by any rule stays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Keep the n newest snapshots.
    pub keep_last: u32,
    /// Keep the newest snapshot of each of the n most recent UTC days with snapshots.
    pub keep_daily: u32,
    /// Same per ISO week.
    pub keep_weekly: u32,
    /// Same per calendar month.
    pub keep_monthly: u32,
}

impl RetentionPolicy {
    /// True when no rule is set (forget refuses such a policy: it would delete everything).
    pub fn is_empty(&self) -> bool {
        *self == RetentionPolicy::default()
    }
}

/// Returns, for each `(id, time)`, whether to keep it. Order of the input does not matter.
pub fn apply(snapshots: &[(String, Timestamp)], policy: &RetentionPolicy) -> Vec<(String, bool)> {
    let mut order: Vec<usize> = (0..snapshots.len()).collect();
    // Newest first; ties broken by id so the result is deterministic.
    order.sort_by(|&a, &b| {
        snapshots[b]
            .1
            .cmp(&snapshots[a].1)
            .then_with(|| snapshots[a].0.cmp(&snapshots[b].0))
    });
    let mut keep = vec![false; snapshots.len()];
    for &i in order.iter().take(policy.keep_last as usize) {
        keep[i] = true;
    }
    type Bucket = fn(Timestamp) -> (i32, i32, i32);
    let rules: [(u32, Bucket); 3] = [
        (policy.keep_daily, |t| {
            let d = t.to_zoned(TimeZone::UTC).date();
            (
                i32::from(d.year()),
                i32::from(d.month()),
                i32::from(d.day()),
            )
        }),
        (policy.keep_weekly, |t| {
            let w = t.to_zoned(TimeZone::UTC).date().iso_week_date();
            (i32::from(w.year()), i32::from(w.week()), 0)
        }),
        (policy.keep_monthly, |t| {
            let d = t.to_zoned(TimeZone::UTC).date();
            (i32::from(d.year()), i32::from(d.month()), 0)
        }),
    ];
    for (count, bucket) in rules {
        let mut seen = HashSet::new();
        for &i in &order {
            if seen.len() >= count as usize {
                break;
            }
            if seen.insert(bucket(snapshots[i].1)) {
                keep[i] = true;
            }
        }
    }
    snapshots
        .iter()
        .zip(keep)
        .map(|((id, _), k)| (id.clone(), k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snaps(times: &[&str]) -> Vec<(String, Timestamp)> {
        times
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("s{i}"), t.parse().unwrap()))
            .collect()
    }

    fn kept(s: &[(String, Timestamp)], p: RetentionPolicy) -> Vec<String> {
        apply(s, &p)
            .into_iter()
            .filter(|(_, k)| *k)
            .map(|(id, _)| id)
            .collect()
    }

    #[test]
    fn keep_last_keeps_the_newest_whatever_the_input_order() {
        let s = snaps(&[
            "2026-01-03T00:00:00Z",
            "2026-01-01T00:00:00Z",
            "2026-01-02T00:00:00Z",
        ]);
        assert_eq!(
            kept(
                &s,
                RetentionPolicy {
                    keep_last: 2,
                    ..Default::default()
                }
            ),
            vec!["s0", "s2"]
        );
    }

    #[test]
    fn keep_daily_keeps_the_newest_of_each_day() {
        let s = snaps(&[
            "2026-01-01T01:00:00Z",
            "2026-01-01T23:00:00Z",
            "2026-01-02T05:00:00Z",
            "2026-01-02T06:00:00Z",
            "2026-01-04T06:00:00Z",
        ]);
        assert_eq!(
            kept(
                &s,
                RetentionPolicy {
                    keep_daily: 2,
                    ..Default::default()
                }
            ),
            vec!["s3", "s4"]
        );
        assert_eq!(
            kept(
                &s,
                RetentionPolicy {
                    keep_daily: 9,
                    ..Default::default()
                }
            ),
            vec!["s1", "s3", "s4"]
        );
    }

    #[test]
    fn keep_weekly_uses_iso_weeks() {
        // 2026-01-04 is a Sunday (ISO week 1), 2026-01-05 a Monday (week 2).
        let s = snaps(&[
            "2025-12-29T00:00:00Z",
            "2026-01-04T00:00:00Z",
            "2026-01-05T00:00:00Z",
        ]);
        assert_eq!(
            kept(
                &s,
                RetentionPolicy {
                    keep_weekly: 2,
                    ..Default::default()
                }
            ),
            vec!["s1", "s2"]
        );
        assert_eq!(
            kept(
                &s,
                RetentionPolicy {
                    keep_weekly: 1,
                    ..Default::default()
                }
            ),
            vec!["s2"]
        );
    }

    #[test]
    fn keep_monthly_and_union_of_rules() {
        let s = snaps(&[
            "2025-11-30T00:00:00Z",
            "2025-12-01T00:00:00Z",
            "2025-12-31T00:00:00Z",
            "2026-01-15T00:00:00Z",
        ]);
        assert_eq!(
            kept(
                &s,
                RetentionPolicy {
                    keep_monthly: 2,
                    ..Default::default()
                }
            ),
            vec!["s2", "s3"]
        );
        let p = RetentionPolicy {
            keep_monthly: 2,
            keep_last: 1,
            keep_daily: 0,
            keep_weekly: 0,
        };
        assert_eq!(kept(&s, p), vec!["s2", "s3"]);
        let p = RetentionPolicy {
            keep_monthly: 3,
            ..Default::default()
        };
        assert_eq!(kept(&s, p), vec!["s0", "s2", "s3"]);
    }

    #[test]
    fn empty_policy_keeps_nothing_and_says_so() {
        let s = snaps(&["2026-01-01T00:00:00Z"]);
        assert!(RetentionPolicy::default().is_empty());
        assert!(kept(&s, RetentionPolicy::default()).is_empty());
    }
}
