//! Helm hook annotations: `helm.sh/hook` (events), `helm.sh/hook-weight` (order) and
//! `helm.sh/hook-delete-policy` (cleanup). Hooks are not part of a revision's objects: they
//! run around the operation and are never pruned.

use crate::object::Manifest;
use crate::order::kind_rank;

/// The hook annotation.
pub const ANNOTATION_HOOK: &str = "helm.sh/hook";
/// The hook weight annotation (integer, default 0).
pub const ANNOTATION_HOOK_WEIGHT: &str = "helm.sh/hook-weight";
/// The hook delete policy annotation.
pub const ANNOTATION_HOOK_DELETE: &str = "helm.sh/hook-delete-policy";

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookEvent {
    /// Before the objects of a first install.
    PreInstall,
    /// After the objects of a first install are ready.
    PostInstall,
    /// Before an upgrade changes anything.
    PreUpgrade,
    /// After an upgrade is ready.
    PostUpgrade,
    /// Before a rollback.
    PreRollback,
    /// After a rollback.
    PostRollback,
    /// Before uninstall deletes anything.
    PreDelete,
    /// After uninstall.
    PostDelete,
    /// `helm test` hooks (recognised, never run by install/upgrade).
    Test,
}

impl HookEvent {
    fn parse(s: &str) -> Option<HookEvent> {
        Some(match s.trim() {
            "pre-install" => HookEvent::PreInstall,
            "post-install" => HookEvent::PostInstall,
            "pre-upgrade" => HookEvent::PreUpgrade,
            "post-upgrade" => HookEvent::PostUpgrade,
            "pre-rollback" => HookEvent::PreRollback,
            "post-rollback" => HookEvent::PostRollback,
            "pre-delete" => HookEvent::PreDelete,
            "post-delete" => HookEvent::PostDelete,
            "test" | "test-success" => HookEvent::Test,
            _ => return None,
        })
    }

    /// The annotation spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PreInstall => "pre-install",
            HookEvent::PostInstall => "post-install",
            HookEvent::PreUpgrade => "pre-upgrade",
            HookEvent::PostUpgrade => "post-upgrade",
            HookEvent::PreRollback => "pre-rollback",
            HookEvent::PostRollback => "post-rollback",
            HookEvent::PreDelete => "pre-delete",
            HookEvent::PostDelete => "post-delete",
            HookEvent::Test => "test",
        }
    }
}

/// When a hook object is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletePolicy {
    /// Delete the previous copy before creating it again (Helm's default).
    BeforeHookCreation,
    /// Delete after it succeeded.
    HookSucceeded,
    /// Delete after it failed.
    HookFailed,
}

/// One hook object and its annotations.
#[derive(Debug, Clone)]
pub struct Hook {
    /// The events it runs on.
    pub events: Vec<HookEvent>,
    /// Order among hooks of one event (ascending).
    pub weight: i64,
    /// Delete policies (defaults to before-hook-creation).
    pub delete_policies: Vec<DeletePolicy>,
    /// The object.
    pub manifest: Manifest,
}

impl Hook {
    /// Whether the hook has a delete policy.
    pub fn has_policy(&self, p: DeletePolicy) -> bool {
        self.delete_policies.contains(&p)
    }
}

/// Separate hook objects from regular objects; unknown hook names and bad weights are errors
/// naming the source file.
pub fn split_hooks(objects: Vec<Manifest>) -> Result<(Vec<Manifest>, Vec<Hook>), String> {
    let mut regular = Vec::new();
    let mut hooks = Vec::new();
    for m in objects {
        let Some(spec) = m.annotation(ANNOTATION_HOOK).map(str::to_string) else {
            regular.push(m);
            continue;
        };
        let mut events = Vec::new();
        for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
            events.push(HookEvent::parse(part).ok_or_else(|| {
                format!(
                    "{}: {} has unknown hook {part:?} in {ANNOTATION_HOOK} (expected pre-install, post-install, pre-upgrade, post-upgrade, pre-rollback, post-rollback, pre-delete, post-delete or test)",
                    m.source,
                    m.reference()
                )
            })?);
        }
        let weight = match m.annotation(ANNOTATION_HOOK_WEIGHT) {
            None => 0,
            Some(w) => w.trim().parse().map_err(|_| {
                format!(
                    "{}: {ANNOTATION_HOOK_WEIGHT} of {} must be an integer, found {w:?}",
                    m.source,
                    m.reference()
                )
            })?,
        };
        let mut delete_policies = Vec::new();
        if let Some(p) = m.annotation(ANNOTATION_HOOK_DELETE) {
            for part in p.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                delete_policies.push(match part {
                    "before-hook-creation" => DeletePolicy::BeforeHookCreation,
                    "hook-succeeded" => DeletePolicy::HookSucceeded,
                    "hook-failed" => DeletePolicy::HookFailed,
                    other => {
                        return Err(format!(
                            "{}: {ANNOTATION_HOOK_DELETE} of {} has unknown policy {other:?} (expected before-hook-creation, hook-succeeded or hook-failed)",
                            m.source,
                            m.reference()
                        ));
                    }
                });
            }
        }
        if delete_policies.is_empty() {
            delete_policies.push(DeletePolicy::BeforeHookCreation);
        }
        hooks.push(Hook {
            events,
            weight,
            delete_policies,
            manifest: m,
        });
    }
    Ok((regular, hooks))
}

/// The hooks for one event in run order: weight, then kind, then name (Helm's order).
pub fn hooks_for(hooks: &[Hook], event: HookEvent) -> Vec<&Hook> {
    let mut v: Vec<&Hook> = hooks.iter().filter(|h| h.events.contains(&event)).collect();
    v.sort_by_key(|h| {
        let r = h.manifest.reference();
        (h.weight, kind_rank(&r.kind), r.name)
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hook(name: &str, ev: &str, w: &str, pol: Option<&str>) -> Manifest {
        let mut a = json!({ANNOTATION_HOOK: ev, ANNOTATION_HOOK_WEIGHT: w});
        if let Some(p) = pol {
            a[ANNOTATION_HOOK_DELETE] = json!(p);
        }
        Manifest::new(
            json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":name,"annotations":a}}),
            "h.yaml",
        )
    }

    #[test]
    fn splits_and_orders_hooks_by_weight() {
        let objs = vec![
            hook("b", "pre-install,pre-upgrade", "5", None),
            Manifest::new(
                json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}),
                "c.yaml",
            ),
            hook("a", "pre-upgrade", "-3", Some("hook-succeeded,hook-failed")),
            hook("z", "post-install", "0", None),
        ];
        let (regular, hooks) = split_hooks(objs).unwrap();
        assert_eq!(regular.len(), 1);
        let pre: Vec<_> = hooks_for(&hooks, HookEvent::PreUpgrade)
            .iter()
            .map(|h| h.manifest.reference().name)
            .collect();
        assert_eq!(pre, ["a", "b"]);
        let a = hooks_for(&hooks, HookEvent::PreUpgrade)[0];
        assert!(
            a.has_policy(DeletePolicy::HookSucceeded)
                && !a.has_policy(DeletePolicy::BeforeHookCreation)
        );
        let b = hooks_for(&hooks, HookEvent::PreInstall)[0];
        assert!(b.has_policy(DeletePolicy::BeforeHookCreation));
    }

    #[test]
    fn rejects_unknown_hook_and_policy() {
        assert!(
            split_hooks(vec![hook("x", "pre-instal", "0", None)])
                .unwrap_err()
                .contains("unknown hook")
        );
        assert!(
            split_hooks(vec![hook("x", "pre-install", "0", Some("never"))])
                .unwrap_err()
                .contains("unknown policy")
        );
        assert!(
            split_hooks(vec![hook("x", "pre-install", "a", None)])
                .unwrap_err()
                .contains("integer")
        );
    }
}
