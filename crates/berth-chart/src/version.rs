//! Versions and version ranges as Helm reads them (Masterminds semver v3), used to match
//! vendored subcharts to `dependencies:` and to check `kubeVersion`. The implementation is
//! shared with Sprig's `semverCompare` in berth-template, so charts and templates agree.

pub use berth_template::semver::{Version, is_compatible_range};

#[cfg(test)]
mod tests {
    use super::is_compatible_range as ok;

    #[test]
    fn ranges() {
        assert!(ok("1.2.3", "1.2.3"));
        assert!(!ok("1.2.3", "1.2.4"));
        assert!(ok("^1.2.0", "1.9.0"));
        assert!(!ok("^1.2.0", "2.0.0"));
        assert!(ok("~1.2.0", "1.2.9"));
        assert!(!ok("~1.2.0", "1.3.0"));
        assert!(ok("1.x", "1.7.2"));
        assert!(ok("*", "3.0.0"));
        assert!(ok(">=1.20.0-0", "v1.28.3-gke.100"));
        assert!(!ok(">=1.20", "v1.28.3-gke.100"));
        assert!(ok(">= 1.19.0 < 1.40.0", "1.36.0"));
        assert!(!ok(">=1.19, <1.30", "1.36.0"));
        assert!(ok("<1.0 || >=2", "2.1.0"));
        assert!(ok("1.0 - 2.0", "1.5.0"));
        assert!(ok("1.0 - 2.0", "2.0.1"));
        assert!(!ok("1.0 - 2.0", "2.1.0"));
        assert!(ok("^0.2.3", "0.2.9"));
        assert!(!ok("^0.2.3", "0.3.0"));
        assert!(!ok("garbage", "1.0.0"));
        assert!(!ok("1.0.0", "not-a-version"));
    }
}
