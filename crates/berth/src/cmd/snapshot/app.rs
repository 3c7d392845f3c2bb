//! `berth snapshot create -n NS` and `berth snapshot restore ID -n NS`: app snapshots
//! (berth_ops::snapshot) on the command line.

use std::sync::Arc;

use berth_ops::deploy::Target;
use berth_ops::snapshot::{self as appsnap, AppRestoreInput, AppSnapshotInput, RepoAccess};
use serde_json::json;

use super::{
    ClusterArgs, CreateArgs, RepoArgs, RestoreArgs, ScheduleArgs, ScheduledArgs, UnscheduleArgs,
    backend, human, short, user_error,
};
use crate::cmd::deploy::{TermProgress, render_report, runtime};
use crate::exit::{self, BadInput};
use crate::output::{Format, print_structured};
use berth_ops::snapshot::schedule::{
    self as sched, ScheduleInfo, ScheduleInput, ScheduledRunInput,
};

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
    RepoAccess::for_movers(&url, password, || {
        berth_snapshot::Repository::open(backend(r, false)?, &secret).map_err(user_error)
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
        volume_snapshot_classes: Default::default(),
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
        let how = match (&c.volume_snapshot_class, &c.live_reason) {
            (Some(class), _) => format!("crash-consistent (VolumeSnapshotClass {class})"),
            (None, Some(why)) => format!("copied live: {why}"),
            (None, None) => "copied live".to_string(),
        };
        println!(
            "  claim {}: {} files, {}, {how}",
            c.name,
            c.files,
            human(c.bytes)
        );
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

fn retention(last: u32, daily: u32, weekly: u32, monthly: u32) -> berth_snapshot::RetentionPolicy {
    berth_snapshot::RetentionPolicy {
        keep_last: last,
        keep_daily: daily,
        keep_weekly: weekly,
        keep_monthly: monthly,
    }
}

/// The namespace, which schedules need (the app's).
fn namespace(c: &ClusterArgs) -> anyhow::Result<()> {
    if c.namespace.is_none() {
        return Err(BadInput(
            "no namespace: pass -n with the namespace of the installed app".into(),
        )
        .into());
    }
    Ok(())
}

fn print_schedule(s: &ScheduleInfo) {
    println!(
        "snapshot schedule of {} in namespace {}: {}",
        s.app, s.namespace, s.cron
    );
    println!("  repository   {}", s.repo);
    println!(
        "  retention    {}",
        if s.retention.is_empty() {
            "none (every snapshot is kept)"
        } else {
            &s.retention
        }
    );
    println!("  mover image  {}", s.mover_image);
    println!(
        "  last run     {}{}",
        s.last_schedule_time.as_deref().unwrap_or("never"),
        if s.active > 0 { " (running)" } else { "" }
    );
    println!(
        "  last success {}",
        s.last_successful_time.as_deref().unwrap_or("never")
    );
    println!("  objects      {}", s.objects.join(", "));
}

/// `berth snapshot schedule -n NS …`.
pub(super) fn schedule(r: &RepoArgs, a: &ScheduleArgs) -> anyhow::Result<u8> {
    namespace(&a.cluster)?;
    if a.remove {
        return unschedule(
            r,
            &UnscheduleArgs {
                app: a.app.clone(),
                cluster: a.cluster.clone(),
            },
        );
    }
    let t = target(&a.cluster);
    let Some(cron) = &a.cron else {
        let info = runtime()?.block_on(sched::show(&t, a.app.as_deref()))?;
        if r.output != Format::Table {
            print_structured(&serde_json::to_value(&info)?, r.output)?;
            return Ok(exit::OK);
        }
        match info {
            Some(s) => print_schedule(&s),
            None => println!(
                "no snapshot schedule in namespace {}; add one with --repo … --cron \"0 3 * * *\" --keep-daily 7",
                a.cluster.namespace.as_deref().unwrap_or_default()
            ),
        }
        return Ok(exit::OK);
    };
    // Before the repository is opened: a typo in the schedule needs no password.
    sched::validate_cron(cron).map_err(BadInput)?;
    let access = access(r)?;
    let input = ScheduleInput {
        app: a.app.clone(),
        cron: cron.clone(),
        retention: retention(a.keep_last, a.keep_daily, a.keep_weekly, a.keep_monthly),
        mover_image: a.cluster.mover_image.clone(),
    };
    let progress = Arc::new(TermProgress::new(r.output));
    let info = runtime()?.block_on(sched::schedule(&t, &access, &input, &*progress));
    progress.finish();
    let info = info?;
    if r.output != Format::Table {
        print_structured(&serde_json::to_value(&info)?, r.output)?;
    } else {
        print_schedule(&info);
    }
    Ok(exit::OK)
}

/// `berth snapshot unschedule -n NS`.
pub(super) fn unschedule(r: &RepoArgs, a: &UnscheduleArgs) -> anyhow::Result<u8> {
    namespace(&a.cluster)?;
    let gone = runtime()?.block_on(sched::unschedule(&target(&a.cluster), a.app.as_deref()))?;
    if r.output != Format::Table {
        print_structured(&json!({"deleted": gone}), r.output)?;
    } else {
        println!("deleted {}", gone.join(", "));
    }
    Ok(exit::OK)
}

/// `berth snapshot mover scheduled`: what the schedule's CronJob runs, in the cluster.
pub(super) fn scheduled_run(r: &RepoArgs, a: &ScheduledArgs) -> anyhow::Result<u8> {
    let access = access(r)?;
    let t = Target {
        namespace: Some(a.namespace.clone()),
        timeout: a.timeout,
        ..Target::default()
    };
    let input = ScheduledRunInput {
        app: a.app.clone(),
        mover_image: a.mover_image.clone(),
        retention: a.keep.policy(),
        grace: a.grace,
        volume_snapshot_classes: a.volume_snapshot_class.iter().cloned().collect(),
    };
    let progress = Arc::new(TermProgress::new(Format::Table));
    let rep = runtime()?.block_on(sched::run(&t, &access, &input, progress.clone()));
    progress.finish();
    let rep = rep?;
    println!(
        "snapshot {} saved: {} {} (revision {}) from namespace {}; kept {} snapshots of it, forgot {}, deleted {} packs",
        short(&rep.snapshot.snapshot_id),
        rep.snapshot.app,
        rep.snapshot.version,
        rep.snapshot.revision,
        rep.snapshot.namespace,
        rep.kept,
        rep.forgotten.len(),
        rep.deleted_packs
    );
    Ok(exit::OK)
}
