//! `berth snapshot create -n NS` and `berth snapshot restore ID -n NS`: app snapshots
//! (berth_ops::snapshot) on the command line.

use std::sync::Arc;

use berth_ops::deploy::Target;
use berth_ops::snapshot::{self as appsnap, AppRestoreInput, AppSnapshotInput, RepoAccess};
use serde_json::json;

use super::{ClusterArgs, CreateArgs, RepoArgs, RestoreArgs, backend, human, short, user_error};
use crate::cmd::deploy::{TermProgress, render_report, runtime};
use crate::exit::{self, BadInput};
use crate::output::{Format, print_structured};

/// The repository, opened, with the location and password the movers get.
fn access(r: &RepoArgs) -> anyhow::Result<RepoAccess> {
    if r.key_file.is_some() {
        return Err(BadInput(
            "app snapshots need a repository password (the mover Jobs get it in a Secret): use BERTH_REPO_PASSWORD or --password-file instead of --key-file".into(),
        )
        .into());
    }
    let password = match &r.password_file {
        Some(p) => super::read_password_file(p)?,
        None => match std::env::var("BERTH_REPO_PASSWORD") {
            Ok(p) if !p.is_empty() => p,
            _ => {
                return Err(BadInput(
                    "no repository password: set BERTH_REPO_PASSWORD or pass --password-file"
                        .into(),
                )
                .into());
            }
        },
    };
    let url = r.repo.clone().unwrap_or_default();
    let secret = berth_snapshot::Secret::Password(password.clone());
    let repo = berth_snapshot::Repository::open(backend(r, false)?, &secret).map_err(user_error)?;
    // A relative directory means nothing to a pod: hand over the absolute path.
    let url = match berth_snapshot::RepoLocation::parse(&url) {
        Ok(berth_snapshot::RepoLocation::Local(p)) => std::fs::canonicalize(&p)
            .map(|p| p.display().to_string())
            .unwrap_or(url),
        _ => url,
    };
    Ok(RepoAccess {
        repo,
        url,
        password,
    })
}

fn target(c: &ClusterArgs) -> Target {
    Target {
        kubeconfig: c.kubeconfig.clone(),
        context: c.context.clone(),
        namespace: c.namespace.clone(),
        timeout: c.timeout,
        cluster: None,
    }
}

/// `berth snapshot create -n NS`.
pub(super) fn create(r: &RepoArgs, a: &CreateArgs) -> anyhow::Result<u8> {
    let access = access(r)?;
    let input = AppSnapshotInput {
        app: a.app.clone(),
        mover_image: a.cluster.mover_image.clone(),
        tags: a.tags.clone(),
    };
    let progress = Arc::new(TermProgress::new(r.output));
    let rep = runtime()?.block_on(appsnap::create(
        &target(&a.cluster),
        &access,
        &input,
        &*progress,
    ));
    progress.finish();
    let rep = rep?;
    if r.output != Format::Table {
        print_structured(&serde_json::to_value(&rep)?, r.output)?;
        return Ok(exit::OK);
    }
    println!(
        "snapshot {} saved: {} {} (revision {}) from namespace {}, {} objects",
        short(&rep.snapshot_id),
        rep.app,
        rep.version,
        rep.revision,
        rep.namespace,
        rep.objects
    );
    for c in &rep.claims {
        println!("  claim {}: {} files, {}", c.name, c.files, human(c.bytes));
    }
    Ok(exit::OK)
}

/// `berth snapshot restore ID -n NS`.
pub(super) fn restore(r: &RepoArgs, a: &RestoreArgs) -> anyhow::Result<u8> {
    if !a.include.is_empty() {
        return Err(BadInput(
            "--include restores single files into a directory: use it with --target DIR, not with -n".into(),
        )
        .into());
    }
    let access = access(r)?;
    let input = AppRestoreInput {
        snapshot: a.id.clone(),
        force: a.force,
        mover_image: a.cluster.mover_image.clone(),
    };
    let progress = Arc::new(TermProgress::new(r.output));
    let cancel = berth_ops::Cancel::new();
    let rep = runtime()?.block_on(appsnap::restore(
        &target(&a.cluster),
        &access,
        &input,
        progress.clone(),
        &cancel,
    ));
    progress.finish();
    let rep = rep?;
    let ok = rep.deploy.ok();
    if r.output != Format::Table {
        print_structured(
            &json!({"snapshot": rep.snapshot_id, "from_namespace": rep.from_namespace,
                "restored_claims": rep.restored_claims, "kept_claims": rep.kept_claims,
                "deploy": rep.deploy}),
            r.output,
        )?;
    } else {
        println!(
            "restored snapshot {} (from namespace {}) into namespace {}: claims {}",
            short(&rep.snapshot_id),
            rep.from_namespace,
            rep.deploy.namespace,
            if rep.restored_claims.is_empty() {
                "none".to_string()
            } else {
                rep.restored_claims.join(", ")
            }
        );
        for k in &rep.kept_claims {
            println!("  claim {k} existed and kept its data");
        }
        print!("{}", render_report(&rep.deploy));
    }
    Ok(if ok { exit::OK } else { exit::FAILURE })
}
