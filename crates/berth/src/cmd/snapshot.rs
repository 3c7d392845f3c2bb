//! `berth snapshot …`: the snapshot repository (berth-snapshot) on the command line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use berth_snapshot as snap;
use serde_json::json;

use crate::cmd::deploy::parse_duration;
use crate::exit::{self, BadInput};

mod app;
use crate::output::{Format, print_structured};

const REPO_HELP: &str = "Repository: a directory (local disk, NFS or SAN mount), \
s3://bucket/prefix?endpoint=URL&region=R (credentials from AWS_ACCESS_KEY_ID and \
AWS_SECRET_ACCESS_KEY) or sftp://user@host:port/path (--sftp-identity KEY or \
BERTH_SFTP_PASSWORD; the host key is checked against ~/.ssh/known_hosts, --sftp-known-hosts or \
--sftp-host-key-fingerprint). The password comes from BERTH_REPO_PASSWORD or --password-file; a key \
file opens it with --key-file.";

/// Snapshots of directories into a deduplicated, encrypted repository.
#[derive(clap::Args)]
#[command(
    long_about = REPO_HELP,
    after_help = "Example:\n  berth snapshot init --repo /mnt/backups/hello\n  \
berth snapshot create --repo /mnt/backups/hello --path /srv/data\n  \
berth snapshot list --repo /mnt/backups/hello\n\n\
The password comes from BERTH_REPO_PASSWORD (or --password-file, or --key-file)."
)]
pub struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    #[command(subcommand)]
    command: SnapshotCommand,
}

/// Where the repository is and what opens it (every subcommand takes these).
#[derive(clap::Args)]
pub(crate) struct RepoArgs {
    /// The repository: a directory or s3://bucket/prefix?endpoint=…&region=….
    #[arg(long, env = "BERTH_REPO", global = true)]
    repo: Option<String>,
    /// A file whose first line is the repository password (instead of BERTH_REPO_PASSWORD).
    #[arg(long, global = true, conflicts_with = "key_file")]
    password_file: Option<PathBuf>,
    /// A key file that opens the repository (`init` creates it when it does not exist).
    #[arg(long, global = true)]
    key_file: Option<PathBuf>,
    /// SFTP: log in with this OpenSSH private key (passphrase from BERTH_SFTP_KEY_PASSPHRASE);
    /// without it, the password comes from BERTH_SFTP_PASSWORD or --sftp-password-file.
    #[arg(long, global = true)]
    sftp_identity: Option<PathBuf>,
    /// SFTP: a file whose first line is the login password.
    #[arg(long, global = true, conflicts_with = "sftp_identity")]
    sftp_password_file: Option<PathBuf>,
    /// SFTP: check the server's host key against this known_hosts file (default
    /// ~/.ssh/known_hosts).
    #[arg(long, global = true)]
    sftp_known_hosts: Option<PathBuf>,
    /// SFTP: trust exactly this host key fingerprint (`SHA256:…`, as `ssh-keygen -lf` prints).
    #[arg(long, global = true, conflicts_with = "sftp_known_hosts")]
    sftp_host_key_fingerprint: Option<String>,
    /// Keep retrying a network store's transient errors this long (e.g. 30s, 5m).
    #[arg(long, global = true, default_value = "2m", value_parser = parse_duration)]
    retry_for: Duration,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value = "table")]
    output: Format,
}

#[derive(clap::Subcommand)]
enum SnapshotCommand {
    /// Create a repository with one key.
    #[command(
        after_help = "Example:\n  BERTH_REPO_PASSWORD=s3cret berth snapshot init --repo /mnt/backups/hello"
    )]
    Init(InitArgs),
    /// Back up a directory, or an installed app (objects, revision, volume data), as a new snapshot.
    #[command(
        after_help = "Example:\n  berth snapshot create --repo /mnt/backups/hello --path /srv/data --tag nightly\n  \
berth snapshot create --repo /mnt/backups/hello -n hello\n\n\
With -n, a mover Job of berth's own image (--mover-image) reads each PersistentVolumeClaim \
and writes to the repository itself: the repository must be reachable from the cluster's pods, \
and its password is handed to them in a Secret deleted afterwards. Where a claim's CSI driver \
has a VolumeSnapshotClass, every claim gets a VolumeSnapshot first (after the pre hooks) and \
the mover reads a temporary claim made from it: a crash-consistent copy; the others are \
copied live, and the output and the snapshot say which. Secrets of the app are \
stored encrypted, like everything in the repository."
    )]
    Create(CreateArgs),
    /// List snapshots, oldest first.
    #[command(after_help = "Example:\n  berth snapshot list --repo /mnt/backups/hello -o json")]
    List,
    /// Show one snapshot and its items.
    #[command(after_help = "Example:\n  berth snapshot show 1a2b3c4d --repo /mnt/backups/hello")]
    Show(ShowArgs),
    /// Restore a snapshot (or some of its paths) into an empty directory, or an app snapshot
    /// into a namespace.
    #[command(
        after_help = "Example:\n  berth snapshot restore 1a2b3c4d --repo /backups/hello \\\n    --target /srv/restored --include etc/app.conf\n  \
berth snapshot restore 1a2b3c4d --repo /backups/hello -n hello-restored\n\n\
With -n, the claims are created and filled by mover Jobs, the objects installed with their \
namespace rewritten, readiness waited for and a revision recorded (`berth status APP -n NS`). \
A namespace where the app is installed is refused unless --force."
    )]
    Restore(RestoreArgs),
    /// Delete the snapshots a retention policy does not keep (then `prune` frees their data).
    #[command(
        after_help = "Example:\n  berth snapshot forget --repo /mnt/backups/hello --keep-daily 7 --keep-weekly 4"
    )]
    Forget(ForgetArgs),
    /// Free data no snapshot uses, in two phases that are safe beside running backups.
    #[command(after_help = "Example:\n  berth snapshot prune --repo /mnt/backups/hello")]
    Prune(PruneArgs),
    /// Verify the repository: indexes, packs, snapshots (and every byte with --read-data).
    #[command(
        after_help = "Example:\n  berth snapshot check --repo /mnt/backups/hello --read-data\n\n\
Exit codes: 0 no problem, 3 errors found (a snapshot cannot be fully restored), 4 only \
leftovers of interrupted runs (prune removes them)."
    )]
    Check(CheckArgs),
    /// Snapshot an installed app on a schedule: a CronJob in its namespace, with retention.
    #[command(
        after_help = "Example:\n  berth snapshot schedule -n hello --repo /mnt/backups/hello \\\n    --cron \"0 3 * * *\" --keep-daily 7 --keep-weekly 4\n  \
berth snapshot schedule -n hello --list\n  \
berth snapshot schedule -n hello --remove\n\n\
Installs secret, serviceaccount, role, rolebinding and cronjob berth-snapshot-APP in the \
app's namespace (docs/formats/snapshot.md, section 14): each run takes an app snapshot as \
`create -n` does, then forgets this app's snapshots the --keep-* rules do not keep and prunes. \
The repository must be reachable from the cluster's pods; its location and password are in \
the Secret. Running it again replaces the schedule. Without --cron it shows the schedule."
    )]
    Schedule(ScheduleArgs),
    /// Remove an app's snapshot schedule (its CronJob, Secret, ServiceAccount and Role).
    #[command(after_help = "Example:\n  berth snapshot unschedule -n hello")]
    Unschedule(UnscheduleArgs),
    /// The mover, run inside a Job of berth's image by `create -n` and `restore -n`.
    #[command(
        hide = true,
        after_help = "Example (what a mover Job runs):\n  berth snapshot mover backup --source /berth/volume --run 0a1b --claim data"
    )]
    Mover(MoverArgs),
    /// Keys that open the repository: add, remove, list (rotate = add, then remove the old).
    #[command(
        after_help = "Example:\n  berth snapshot key add --repo /mnt/backups/hello --new-password-file new.txt"
    )]
    Key(KeyArgs),
}

#[derive(clap::Args)]
struct InitArgs {
    /// Argon2id memory for password keys, in MiB.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    kdf_memory_mib: u32,
}

/// The cluster of an app snapshot or restore.
#[derive(clap::Args, Clone)]
pub(crate) struct ClusterArgs {
    /// The app's namespace: back up (create) or restore into (restore) an installed app
    /// instead of a directory.
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Path to the kubeconfig (default: $KUBECONFIG, ~/.kube/config, then in-cluster config).
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use.
    #[arg(long)]
    context: Option<String>,
    /// How long to wait for the mover Jobs, claims and readiness (30s, 5m, 1h).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    timeout: Duration,
    /// The mover image (berth's own; `berth release build` adds it to every release).
    #[arg(long, default_value_t = berth_ops::snapshot::default_mover_image())]
    mover_image: String,
}

#[derive(clap::Args)]
pub(crate) struct CreateArgs {
    /// The directory to back up (or -n NAMESPACE for an installed app).
    #[arg(
        long,
        required_unless_present = "namespace",
        conflicts_with = "namespace"
    )]
    path: Option<PathBuf>,
    /// With -n: the app to back up when the namespace holds several.
    #[arg(long, requires = "namespace")]
    app: Option<String>,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// A tag recorded in the snapshot (repeatable).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Read every file, even those unchanged since the previous snapshot of the same path.
    #[arg(long)]
    read_all: bool,
}

#[derive(clap::Args)]
pub(crate) struct ScheduleArgs {
    /// With -n: the app, when the namespace holds several.
    #[arg(long)]
    app: Option<String>,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// When to run, as a CronJob schedule: minute hour day-of-month month day-of-week.
    #[arg(long, conflicts_with_all = ["remove", "list"])]
    cron: Option<String>,
    /// Retention after each run: keep the n newest snapshots of the app.
    #[arg(long, default_value_t = 0, requires = "cron")]
    keep_last: u32,
    /// Keep the newest snapshot of each of the n most recent days (UTC).
    #[arg(long, default_value_t = 0, requires = "cron")]
    keep_daily: u32,
    /// Keep the newest snapshot of each of the n most recent ISO weeks.
    #[arg(long, default_value_t = 0, requires = "cron")]
    keep_weekly: u32,
    /// Keep the newest snapshot of each of the n most recent months.
    #[arg(long, default_value_t = 0, requires = "cron")]
    keep_monthly: u32,
    /// Remove the schedule (as `berth snapshot unschedule`).
    #[arg(long, conflicts_with = "list")]
    remove: bool,
    /// Show the current schedule (the default without --cron).
    #[arg(long)]
    list: bool,
}

#[derive(clap::Args)]
pub(crate) struct UnscheduleArgs {
    /// The app, when the namespace holds schedules of several.
    #[arg(long)]
    app: Option<String>,
    #[command(flatten)]
    cluster: ClusterArgs,
}

#[derive(clap::Args)]
struct ShowArgs {
    /// Snapshot id or unique prefix.
    id: String,
}

#[derive(clap::Args)]
pub(crate) struct RestoreArgs {
    /// Snapshot id or unique prefix.
    id: String,
    /// Empty or absent directory to restore into (or -n NAMESPACE for an app snapshot).
    #[arg(
        long,
        required_unless_present = "namespace",
        conflicts_with = "namespace"
    )]
    target: Option<PathBuf>,
    /// With -n: restore over an app installed there (objects re-applied; claims that exist
    /// keep their data).
    #[arg(long, requires = "namespace")]
    force: bool,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Restore only this item path (a file, or a directory and all below it); repeatable.
    #[arg(long)]
    include: Vec<String>,
}

/// A retention policy's flags (`forget`, and the scheduled run's retention).
#[derive(clap::Args)]
pub(crate) struct KeepArgs {
    /// Keep the n newest snapshots.
    #[arg(long, default_value_t = 0)]
    keep_last: u32,
    /// Keep the newest snapshot of each of the n most recent days (UTC).
    #[arg(long, default_value_t = 0)]
    keep_daily: u32,
    /// Keep the newest snapshot of each of the n most recent ISO weeks.
    #[arg(long, default_value_t = 0)]
    keep_weekly: u32,
    /// Keep the newest snapshot of each of the n most recent months.
    #[arg(long, default_value_t = 0)]
    keep_monthly: u32,
}

impl KeepArgs {
    pub(crate) fn policy(&self) -> snap::RetentionPolicy {
        snap::RetentionPolicy {
            keep_last: self.keep_last,
            keep_daily: self.keep_daily,
            keep_weekly: self.keep_weekly,
            keep_monthly: self.keep_monthly,
        }
    }
}

#[derive(clap::Args)]
struct ForgetArgs {
    #[command(flatten)]
    keep: KeepArgs,
    /// Only print what would be removed.
    #[arg(long)]
    dry_run: bool,
}

#[derive(clap::Args)]
struct PruneArgs {
    /// How long condemned data waits before deletion; longer than any backup runs.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    grace: Duration,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Also decrypt every chunk and verify its hash (reads the whole repository).
    #[arg(long)]
    read_data: bool,
}

#[derive(clap::Args)]
struct MoverArgs {
    #[command(subcommand)]
    command: MoverCommand,
}

#[derive(clap::Subcommand)]
enum MoverCommand {
    /// Back up the mounted claim as a volume snapshot tagged with the run and claim.
    #[command(
        after_help = "Example:\n  berth snapshot mover backup --source /berth/volume --run 0a1b --claim data"
    )]
    Backup {
        /// The claim's mount path.
        #[arg(long)]
        source: PathBuf,
        /// The run id (tags the volume snapshot).
        #[arg(long)]
        run: String,
        /// The claim's name.
        #[arg(long)]
        claim: String,
    },
    /// A scheduled run (the CronJob of `berth snapshot schedule`): snapshot the app from
    /// inside the cluster, then apply the retention to its snapshots and prune.
    #[command(
        after_help = "Example:\n  berth snapshot mover scheduled --namespace hello --app hello \\\n    --mover-image registry.berth.dev/berth/mover:0.1.0 --keep-daily 7"
    )]
    Scheduled(ScheduledArgs),
    /// Restore an app snapshot's volume into the mounted (empty) claim.
    #[command(
        after_help = "Example:\n  berth snapshot mover restore 1a2b3c4d --root volumes/data \\\n    --target /berth/volume --claim data"
    )]
    Restore {
        /// The app snapshot.
        id: String,
        /// The item path of the volume (`volumes/<claim>`).
        #[arg(long)]
        root: String,
        /// The claim's mount path.
        #[arg(long)]
        target: PathBuf,
        /// The claim's name.
        #[arg(long)]
        claim: String,
    },
}

#[derive(clap::Args)]
pub(crate) struct ScheduledArgs {
    /// The app's namespace.
    #[arg(long)]
    namespace: String,
    /// The app.
    #[arg(long)]
    app: String,
    /// The image of the per-claim mover Jobs.
    #[arg(long)]
    mover_image: String,
    #[command(flatten)]
    keep: KeepArgs,
    /// The prune's grace period for condemned data.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    grace: Duration,
    /// How long to wait for the mover Jobs.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    timeout: Duration,
    /// STORAGECLASS=VOLUMESNAPSHOTCLASS: the class for claims of that StorageClass when the
    /// run may not look it up (recorded by `berth snapshot schedule`); repeatable.
    #[arg(long, value_name = "STORAGECLASS=CLASS", value_parser = berth_ops::snapshot::volume_snapshots::parse_hint)]
    volume_snapshot_class: Vec<(String, String)>,
}

#[derive(clap::Args)]
struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(clap::Subcommand)]
enum KeyCommand {
    /// Add a key: a new password (--new-password-file) or key file (--new-key-file).
    #[command(
        after_help = "Example:\n  berth snapshot key add --repo /backups/hello --new-key-file hello.key"
    )]
    Add(KeyAddArgs),
    /// Remove a key by id (the last key cannot be removed).
    #[command(
        after_help = "Example:\n  berth snapshot key remove 0123abcd0123abcd --repo /backups/hello"
    )]
    Remove(KeyRemoveArgs),
    /// List the keys; `*` marks the one that opened the repository.
    #[command(after_help = "Example:\n  berth snapshot key list --repo /mnt/backups/hello")]
    List,
}

#[derive(clap::Args)]
struct KeyAddArgs {
    /// A file whose first line is the new password.
    #[arg(
        long,
        conflicts_with = "new_key_file",
        required_unless_present = "new_key_file"
    )]
    new_password_file: Option<PathBuf>,
    /// A key file for the new key (created with 32 random bytes when it does not exist).
    #[arg(long)]
    new_key_file: Option<PathBuf>,
    /// Argon2id memory for a password key, in MiB.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    kdf_memory_mib: u32,
}

#[derive(clap::Args)]
struct KeyRemoveArgs {
    /// The key id (see `berth snapshot key list`).
    id: String,
}

/// Runs `berth snapshot …`.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let r = &args.repo;
    match args.command {
        SnapshotCommand::Init(a) => init(r, &a),
        SnapshotCommand::Create(a) => create(r, &a),
        SnapshotCommand::List => list(r),
        SnapshotCommand::Show(a) => show(r, &a),
        SnapshotCommand::Restore(a) => restore(r, &a),
        SnapshotCommand::Forget(a) => forget(r, &a),
        SnapshotCommand::Prune(a) => prune(r, &a),
        SnapshotCommand::Check(a) => check(r, &a),
        SnapshotCommand::Schedule(a) => app::schedule(r, &a),
        SnapshotCommand::Unschedule(a) => app::unschedule(r, &a),
        SnapshotCommand::Mover(MoverArgs {
            command: MoverCommand::Scheduled(a),
        }) => app::scheduled_run(r, &a),
        SnapshotCommand::Mover(m) => mover(r, m.command),
        SnapshotCommand::Key(k) => match k.command {
            KeyCommand::Add(a) => key_add(r, &a),
            KeyCommand::Remove(a) => key_remove(r, &a),
            KeyCommand::List => key_list(r),
        },
    }
}

/// Errors the user fixes (a wrong password, a bad id or path) exit with 2; damage and I/O with 1.
pub(crate) fn user_error(e: snap::Error) -> anyhow::Error {
    use snap::Error as E;
    match e {
        E::WrongKey
        | E::NotARepository(_)
        | E::AlreadyExists(_)
        | E::SnapshotNotFound(_)
        | E::AmbiguousSnapshot(_)
        | E::TargetNotEmpty(_)
        | E::Invalid(_) => BadInput(e.to_string()).into(),
        other => other.into(),
    }
}

pub(crate) fn read_password_file(p: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(p).map_err(|e| {
        BadInput(format!(
            "password file {}: {e}; give a readable file whose first line is the password",
            p.display()
        ))
    })?;
    let line = text.lines().next().unwrap_or_default().to_string();
    if line.is_empty() {
        return Err(BadInput(format!(
            "password file {}: the first line is empty; put the password on it",
            p.display()
        ))
        .into());
    }
    Ok(line)
}

fn read_key_file(p: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(p).map_err(|e| {
        BadInput(format!(
            "key file {}: {e}; give the key file this repository was opened with",
            p.display()
        ))
        .into()
    })
}

/// Writes a new key file of 32 random bytes, readable by its owner only.
fn create_key_file(p: &Path) -> anyhow::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let bytes = snap::Secret::new_key_file();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)
        .with_context(|| format!("creating key file {}", p.display()))?;
    f.write_all(&bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing key file {}", p.display()))?;
    eprintln!(
        "wrote a new key file {}: keep a copy, the repository cannot be opened without it",
        p.display()
    );
    Ok(bytes)
}

/// The secret from --key-file, --password-file or BERTH_REPO_PASSWORD (in that order).
pub(crate) fn secret(r: &RepoArgs, create_key: bool) -> anyhow::Result<snap::Secret> {
    if let Some(k) = &r.key_file {
        if create_key && !k.exists() {
            return Ok(snap::Secret::KeyFile(create_key_file(k)?));
        }
        return Ok(snap::Secret::KeyFile(read_key_file(k)?));
    }
    if let Some(p) = &r.password_file {
        return Ok(snap::Secret::Password(read_password_file(p)?));
    }
    match std::env::var("BERTH_REPO_PASSWORD") {
        Ok(p) if !p.is_empty() => Ok(snap::Secret::Password(p)),
        _ => Err(BadInput(
            "no repository password: set BERTH_REPO_PASSWORD, or pass --password-file or --key-file"
                .into(),
        )
        .into()),
    }
}

pub(crate) fn backend(
    r: &RepoArgs,
    create: bool,
) -> anyhow::Result<std::sync::Arc<dyn snap::Backend>> {
    let Some(url) = r.repo.as_deref() else {
        return Err(BadInput(
            "no repository: pass --repo DIR|s3://bucket/prefix?endpoint=… or set BERTH_REPO".into(),
        )
        .into());
    };
    let loc = snap::RepoLocation::parse(url).map_err(user_error)?;
    // Absent credentials are reported by the S3 store when it is the one asked for.
    let s3 = snap::S3Credentials::from_env().ok();
    let sftp = match &loc {
        snap::RepoLocation::Sftp(_) => Some(sftp_options(r)?),
        _ => None,
    };
    let opts = snap::BackendOptions {
        s3,
        sftp,
        retry_budget: Some(r.retry_for),
    };
    snap::open_backend(&loc, &opts, create).map_err(user_error)
}

/// The SFTP login and host-key check from flags and the environment.
fn sftp_options(r: &RepoArgs) -> anyhow::Result<snap::SftpOptions> {
    let auth = if let Some(k) = &r.sftp_identity {
        snap::SftpAuth::Key {
            path: k.clone(),
            passphrase: std::env::var("BERTH_SFTP_KEY_PASSPHRASE").ok(),
        }
    } else if let Some(p) = &r.sftp_password_file {
        snap::SftpAuth::Password(read_password_file(p)?)
    } else {
        match std::env::var("BERTH_SFTP_PASSWORD") {
            Ok(p) if !p.is_empty() => snap::SftpAuth::Password(p),
            _ => {
                return Err(BadInput(
                    "an sftp:// repository needs a login: --sftp-identity KEY, --sftp-password-file or BERTH_SFTP_PASSWORD".into(),
                )
                .into());
            }
        }
    };
    let host_key = if let Some(fp) = &r.sftp_host_key_fingerprint {
        if !fp.starts_with("SHA256:") {
            return Err(BadInput(format!(
                "--sftp-host-key-fingerprint {fp:?}: expected SHA256:… as `ssh-keygen -lf KEY.pub` prints it"
            ))
            .into());
        }
        snap::HostKeyCheck::Fingerprint(fp.clone())
    } else if let Some(k) = &r.sftp_known_hosts {
        snap::HostKeyCheck::KnownHosts(k.clone())
    } else {
        let home = std::env::var_os("HOME").ok_or_else(|| {
            BadInput(
                "HOME is not set: pass --sftp-known-hosts or --sftp-host-key-fingerprint".into(),
            )
        })?;
        snap::HostKeyCheck::KnownHosts(PathBuf::from(home).join(".ssh/known_hosts"))
    };
    Ok(snap::SftpOptions { auth, host_key })
}

pub(crate) fn open(r: &RepoArgs) -> anyhow::Result<snap::Repository> {
    let s = secret(r, false)?;
    snap::Repository::open(backend(r, false)?, &s).map_err(user_error)
}

fn kdf(mib: u32) -> snap::KdfParams {
    snap::KdfParams {
        m_cost_kib: mib * 1024,
        ..snap::KdfParams::default()
    }
}

fn init(r: &RepoArgs, a: &InitArgs) -> anyhow::Result<u8> {
    let b = backend(r, true)?;
    let s = secret(r, true)?;
    let opts = snap::InitOptions {
        kdf: kdf(a.kdf_memory_mib),
        ..Default::default()
    };
    let repo = snap::Repository::init(b, &s, &opts).map_err(user_error)?;
    println!("created snapshot repository at {}", repo.location());
    Ok(exit::OK)
}

fn create(r: &RepoArgs, a: &CreateArgs) -> anyhow::Result<u8> {
    let Some(dir) = &a.path else {
        return app::create(r, a);
    };
    let repo = open(r)?;
    if !dir.is_dir() {
        return Err(BadInput(format!(
            "--path {}: not a directory; give the directory to back up",
            dir.display()
        ))
        .into());
    }
    // Absolute, so the next backup of the same directory finds this one as its parent.
    let path =
        std::fs::canonicalize(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let opts = snap::BackupOptions {
        tags: a.tags.clone(),
        read_all: a.read_all,
        ..Default::default()
    };
    let s = repo.backup_dir(&path, &opts).map_err(user_error)?;
    let st = &s.stats;
    if r.output == Format::Table {
        println!("snapshot {} saved", short(&s.snapshot_id));
        println!(
            "  {} files ({} unchanged), {} dirs, {} read, {} new in {} chunks, {} stored in {} packs",
            st.files,
            st.unchanged_files,
            st.dirs,
            human(st.bytes_read),
            human(st.new_bytes),
            st.new_chunks,
            human(st.stored_bytes),
            st.packs
        );
    } else {
        print_structured(
            &json!({"id": s.snapshot_id, "files": st.files, "unchanged_files": st.unchanged_files,
                "dirs": st.dirs, "bytes_read": st.bytes_read, "new_chunks": st.new_chunks,
                "new_bytes": st.new_bytes, "stored_bytes": st.stored_bytes, "packs": st.packs}),
            r.output,
        )?;
    }
    Ok(exit::OK)
}

pub(crate) fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

pub(crate) fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn snapshot_json(s: &snap::SnapshotInfo) -> serde_json::Value {
    let size: u64 = s.snapshot.items.iter().map(|i| i.size).sum();
    json!({"id": s.id, "time": s.snapshot.time.to_string(), "hostname": s.snapshot.hostname,
        "tags": s.snapshot.tags, "paths": s.snapshot.paths, "items": s.snapshot.items.len(),
        "size": size})
}

fn list(r: &RepoArgs) -> anyhow::Result<u8> {
    let repo = open(r)?;
    let snaps = repo.snapshots().map_err(user_error)?;
    if r.output != Format::Table {
        let docs: Vec<_> = snaps.iter().map(snapshot_json).collect();
        print_structured(&json!(docs), r.output)?;
        return Ok(exit::OK);
    }
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::NOTHING);
    t.set_header(["ID", "TIME", "HOST", "TAGS", "PATHS", "SIZE"]);
    for s in &snaps {
        let size: u64 = s.snapshot.items.iter().map(|i| i.size).sum();
        t.add_row([
            short(&s.id).to_string(),
            s.snapshot.time.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            s.snapshot.hostname.clone(),
            s.snapshot.tags.join(","),
            s.snapshot.paths.join(","),
            human(size),
        ]);
    }
    println!("{t}");
    println!("{} snapshots", snaps.len());
    Ok(exit::OK)
}

fn show(r: &RepoArgs, a: &ShowArgs) -> anyhow::Result<u8> {
    let repo = open(r)?;
    let s = repo.snapshot(&a.id).map_err(user_error)?;
    if r.output != Format::Table {
        let mut doc = snapshot_json(&s);
        doc["entries"] = serde_json::to_value(&s.snapshot.items)?;
        print_structured(&doc, r.output)?;
        return Ok(exit::OK);
    }
    println!("snapshot {}", s.id);
    println!("  time     {}", s.snapshot.time);
    println!("  host     {}", s.snapshot.hostname);
    println!("  paths    {}", s.snapshot.paths.join(", "));
    if !s.snapshot.tags.is_empty() {
        println!("  tags     {}", s.snapshot.tags.join(", "));
    }
    for i in &s.snapshot.items {
        let kind = match i.kind {
            snap::ItemKind::Dir => "dir",
            snap::ItemKind::File => "file",
            snap::ItemKind::Symlink => "link",
            snap::ItemKind::Stream => "stream",
        };
        match &i.target {
            Some(t) => println!("{kind:<6} {:>10} {} -> {t}", "", i.path),
            None => println!("{kind:<6} {:>10} {}", i.size, i.path),
        }
    }
    Ok(exit::OK)
}

fn restore(r: &RepoArgs, a: &RestoreArgs) -> anyhow::Result<u8> {
    let Some(target) = &a.target else {
        return app::restore(r, a);
    };
    let repo = open(r)?;
    let opts = snap::RestoreOptions {
        include: a.include.clone(),
        root: None,
    };
    let s = repo
        .restore_with(&a.id, target, &opts)
        .map_err(user_error)?;
    if r.output != Format::Table {
        print_structured(
            &json!({"files": s.files, "dirs": s.dirs, "symlinks": s.symlinks, "bytes": s.bytes,
                "refused_links": s.refused_links}),
            r.output,
        )?;
    } else {
        println!(
            "restored {} files ({}), {} dirs, {} links into {}",
            s.files,
            human(s.bytes),
            s.dirs,
            s.symlinks,
            target.display()
        );
        for l in &s.refused_links {
            eprintln!("warning: link {l} not created: it points outside the restore target");
        }
    }
    Ok(exit::OK)
}

fn forget(r: &RepoArgs, a: &ForgetArgs) -> anyhow::Result<u8> {
    let policy = a.keep.policy();
    if policy.is_empty() {
        return Err(BadInput(
            "no --keep-last/--keep-daily/--keep-weekly/--keep-monthly given: forget would remove every snapshot".into(),
        )
        .into());
    }
    let repo = open(r)?;
    let res = repo.forget(&policy, a.dry_run).map_err(user_error)?;
    if r.output != Format::Table {
        print_structured(
            &json!({"keep": res.keep, "remove": res.remove, "dry_run": a.dry_run}),
            r.output,
        )?;
        return Ok(exit::OK);
    }
    let verb = if a.dry_run { "would remove" } else { "removed" };
    for id in &res.remove {
        println!("{verb} {}", short(id));
    }
    println!(
        "kept {} snapshots, {verb} {}; run `berth snapshot prune` to free their data",
        res.keep.len(),
        res.remove.len()
    );
    Ok(exit::OK)
}

fn prune(r: &RepoArgs, a: &PruneArgs) -> anyhow::Result<u8> {
    let repo = open(r)?;
    let rep = repo
        .prune(snap::PruneOptions { grace: a.grace })
        .map_err(user_error)?;
    if r.output != Format::Table {
        print_structured(
            &json!({"condemned": rep.condemned, "rescued": rep.rescued,
                "deleted_packs": rep.deleted_packs, "deleted_bytes": rep.deleted_bytes,
                "deleted_tmp": rep.deleted_tmp}),
            r.output,
        )?;
        return Ok(exit::OK);
    }
    println!(
        "condemned {} packs (deleted by a prune after the grace period), rescued {}, deleted {} packs ({}), {} temporary files",
        rep.condemned,
        rep.rescued,
        rep.deleted_packs,
        human(rep.deleted_bytes),
        rep.deleted_tmp
    );
    Ok(exit::OK)
}

fn check(r: &RepoArgs, a: &CheckArgs) -> anyhow::Result<u8> {
    let repo = open(r)?;
    let rep = repo
        .check(snap::CheckOptions {
            read_data: a.read_data,
        })
        .map_err(user_error)?;
    let code = if !rep.errors.is_empty() {
        exit::CHECK_FAILED
    } else if !rep.warnings.is_empty() {
        exit::CHECK_WARNED
    } else {
        exit::OK
    };
    if r.output != Format::Table {
        print_structured(
            &json!({"ok": rep.is_ok(), "errors": rep.errors, "warnings": rep.warnings,
                "snapshots": rep.snapshots, "packs": rep.packs, "chunks": rep.chunks,
                "read_data": a.read_data}),
            r.output,
        )?;
        return Ok(code);
    }
    for e in &rep.errors {
        println!("error: {e}");
    }
    for w in &rep.warnings {
        println!("warning: {w}");
    }
    println!(
        "{}: {} snapshots, {} packs, {} chunks{}; {} errors, {} warnings",
        if rep.is_ok() { "ok" } else { "damaged" },
        rep.snapshots,
        rep.packs,
        rep.chunks,
        if a.read_data { " (all data read)" } else { "" },
        rep.errors.len(),
        rep.warnings.len()
    );
    Ok(code)
}

/// `berth snapshot mover …`: what runs inside a mover Job (the repository comes from the
/// Job's Secret through BERTH_REPO and BERTH_REPO_PASSWORD).
fn mover(r: &RepoArgs, c: MoverCommand) -> anyhow::Result<u8> {
    let repo = open(r)?;
    match c {
        MoverCommand::Scheduled(a) => return app::scheduled_run(r, &a),
        MoverCommand::Backup { source, run, claim } => {
            if !source.is_dir() {
                return Err(BadInput(format!(
                    "--source {}: not a directory; mount the claim there",
                    source.display()
                ))
                .into());
            }
            let s = berth_ops::snapshot::mover_backup(&repo, &source, &run, &claim)?;
            println!(
                "claim {claim}: volume snapshot {} with {} files, {} read, {} new",
                short(&s.snapshot_id),
                s.stats.files,
                human(s.stats.bytes_read),
                human(s.stats.new_bytes)
            );
        }
        MoverCommand::Restore {
            id,
            root,
            target,
            claim,
        } => {
            let opts = snap::RestoreOptions {
                include: Vec::new(),
                root: Some(root),
            };
            let s = repo.restore_with(&id, &target, &opts).map_err(user_error)?;
            println!(
                "claim {claim}: restored {} files ({}), {} dirs, {} links",
                s.files,
                human(s.bytes),
                s.dirs,
                s.symlinks
            );
        }
    }
    Ok(exit::OK)
}

fn key_add(r: &RepoArgs, a: &KeyAddArgs) -> anyhow::Result<u8> {
    let repo = open(r)?;
    let new = match (&a.new_password_file, &a.new_key_file) {
        (Some(p), _) => snap::Secret::Password(read_password_file(p)?),
        (None, Some(k)) if k.exists() => snap::Secret::KeyFile(read_key_file(k)?),
        (None, Some(k)) => snap::Secret::KeyFile(create_key_file(k)?),
        (None, None) => {
            return Err(BadInput("give --new-password-file or --new-key-file".into()).into());
        }
    };
    let id = repo
        .add_key(&new, kdf(a.kdf_memory_mib))
        .map_err(user_error)?;
    println!("added key {id}");
    Ok(exit::OK)
}

fn key_remove(r: &RepoArgs, a: &KeyRemoveArgs) -> anyhow::Result<u8> {
    let repo = open(r)?;
    repo.remove_key(&a.id).map_err(user_error)?;
    println!("removed key {}", a.id);
    Ok(exit::OK)
}

fn key_list(r: &RepoArgs) -> anyhow::Result<u8> {
    let repo = open(r)?;
    let keys = repo.key_infos().map_err(user_error)?;
    if r.output != Format::Table {
        let docs: Vec<_> = keys
            .iter()
            .map(|k| {
                json!({"id": k.id, "kind": k.kind, "current": k.current,
                    "created": k.created.map(|t| t.to_string())})
            })
            .collect();
        print_structured(&json!(docs), r.output)?;
        return Ok(exit::OK);
    }
    for k in &keys {
        println!(
            "{} {} {:<10} {}",
            if k.current { "*" } else { " " },
            k.id,
            k.kind,
            k.created.map(|t| t.to_string()).unwrap_or_default()
        );
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_bad_ones_say_what_is_expected() {
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86400));
        assert_eq!(parse_duration("1.5m").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("soon").unwrap_err().contains("examples"));
        assert!(parse_duration("5y").is_err());
    }
}
