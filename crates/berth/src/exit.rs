//! berth's exit codes: one table for every command (printed by `berth --help`, listed in the
//! README), and the one place that maps an error to its code.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | the operation failed: a deploy that failed or rolled back, no reachable cluster, lint errors |
//! | 2 | usage or input error: bad flags or arguments, a file given that is missing or invalid |
//! | 3 | a check failed (preflight, analyze, support-bundle analysis) |
//! | 4 | a check warned and none failed |
//! | 5 | the app is not installed in that namespace |

/// Success: nothing to report.
pub const OK: u8 = 0;
/// The command ran and found problems, or the operation failed.
pub const FAILURE: u8 = 1;
/// Usage or input error: bad flags or arguments, a given file missing or invalid.
pub const USAGE: u8 = 2;
/// A check failed (troubleshoot's code).
pub const CHECK_FAILED: u8 = 3;
/// A check warned and none failed (troubleshoot's code).
pub const CHECK_WARNED: u8 = 4;
/// The app is not installed in the namespace.
pub const NOT_INSTALLED: u8 = 5;

/// The table as `berth --help` prints it (a macro so `concat!` can place it in clap's help).
macro_rules! table {
    () => {
        "Exit codes (every command):\n  \
0  success\n  \
1  the operation failed (a deploy failed or rolled back, no reachable cluster, lint errors)\n  \
2  usage or input error (bad flags or arguments; a values, config, spec or other file given\n     \
is missing or invalid)\n  \
3  a check failed (preflight, analyze, support-bundle)\n  \
4  a check warned and none failed\n  \
5  the app is not installed in that namespace"
    };
}
pub(crate) use table;

/// An input problem that is the user's to fix (exit code 2): a file that is missing or invalid,
/// a value out of range. The message names the file and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// The app has no revision in the namespace (exit code 5); the message says where it is
/// installed instead, when it is elsewhere.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotInstalled(pub String);

/// The exit code for an error that reached `main`.
pub fn code_for(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.downcast_ref::<BadInput>().is_some() {
            return USAGE;
        }
        if cause.downcast_ref::<NotInstalled>().is_some() {
            return NOT_INSTALLED;
        }
        if let Some(o) = cause.downcast_ref::<berth_ops::Error>() {
            return match o.class() {
                berth_ops::ErrorClass::BadInput => USAGE,
                berth_ops::ErrorClass::NotInstalled => NOT_INSTALLED,
                berth_ops::ErrorClass::Failed => FAILURE,
            };
        }
        if let Some(d) = cause.downcast_ref::<berth_deploy::engine::DeployError>() {
            use berth_deploy::engine::DeployError as D;
            return match d {
                D::NotInstalled { .. } => NOT_INSTALLED,
                D::Invalid(_)
                | D::Refused(_)
                | D::AlreadyInstalled { .. }
                | D::BadRevision { .. } => USAGE,
                _ => FAILURE,
            };
        }
    }
    FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_the_table() {
        let not_installed = anyhow::Error::from(berth_deploy::engine::DeployError::NotInstalled {
            app: "hello".into(),
            namespace: "hello".into(),
        });
        assert_eq!(code_for(&not_installed), NOT_INSTALLED);
        let bad = anyhow::Error::from(BadInput("values.yaml: no such file".into()))
            .context("reading the config");
        assert_eq!(code_for(&bad), USAGE, "found through the context chain");
        assert_eq!(code_for(&anyhow::anyhow!("connection refused")), FAILURE);
        let ops = anyhow::Error::from(berth_ops::Error::Deploy(
            berth_deploy::engine::DeployError::Invalid(vec!["bad".into()]),
        ));
        assert_eq!(code_for(&ops), USAGE, "an operation's class decides");
        let ops = anyhow::Error::from(berth_ops::Error::NotInstalled("hello".into()));
        assert_eq!(code_for(&ops), NOT_INSTALLED);
    }
}
