//! `berth sbom`, `berth scan`, `berth vulndb`: wiring of the `berth-scan` library (package
//! finding, the signed vulnerability database, matching, the release policy).

use crate::cmd::oci::RegistryFlags;
use crate::exit::{self, BadInput};
use anyhow::{Context, Result};
use berth_oci::{Client, Reference, keys};
use berth_scan::image::{LayerCache, Limits};
use berth_scan::osv::{FixState, VulnDb};
use berth_scan::policy::{self, Policy};
use berth_scan::report::{self, ScanReport, TargetReport};
use berth_scan::vex::VexSet;
use berth_scan::{sarif, sbom, sources, vulndb};
use std::path::{Path, PathBuf};

/// SBOM formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SbomFormat {
    /// One line per package.
    Table,
    /// CycloneDX 1.6 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
}

/// List the packages of images, releases, OCI layouts or root filesystems.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
berth sbom hello-1.0.0.release   # every image of a release\n  \
berth sbom 127.0.0.1:5000/web:1.0 --insecure -o cyclonedx\n  \
berth sbom ./rootfs -o spdx\n  \
berth sbom hello-1.0.0.release -o spdx --out-dir sboms/")]
pub struct SbomArgs {
    /// An image reference, a release directory, an OCI layout, or a root filesystem directory.
    target: String,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    output: SbomFormat,
    /// Write one document per image into this directory (needed for several images with
    /// -o cyclonedx|spdx).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryFlags,
}

/// Scan output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanFormat {
    /// One line per finding, then the policy decision.
    Table,
    /// The whole report and the decision, as JSON.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// CycloneDX 1.6 with `vulnerabilities` (one document per image: a JSON array when several).
    Cyclonedx,
}

/// How to load the signed vulnerability database.
#[derive(clap::Args, Clone, Debug)]
pub struct DbFlags {
    /// The vulnerability database (`berth vulndb build` or `berth vulndb pull`).
    #[arg(long, value_name = "FILE")]
    pub db: PathBuf,
    /// The vendor public key the database must be signed with.
    #[arg(long, value_name = "FILE", env = "BERTH_VULNDB_KEY")]
    pub db_key: PathBuf,
    /// Warn when the database is older than this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub max_db_age: i64,
}

impl DbFlags {
    /// Verify and load the database; warn on stderr when it is old.
    pub fn load(&self) -> Result<VulnDb> {
        let key = keys::read_verifying_key(&self.db_key)
            .map_err(|e| BadInput(format!("--db-key: {e}")))?;
        let (header, db) =
            vulndb::open(&self.db, &key).map_err(|e| BadInput(format!("--db: {e}")))?;
        let age = header
            .age_days(jiff::Timestamp::now())
            .map_err(|e| BadInput(format!("--db: {e}")))?;
        if age > self.max_db_age {
            eprintln!(
                "warning: vulnerability database {} is {age} days old (built {}), older than --max-db-age {}; \
                 findings published since are missed: fetch a fresh one (berth vulndb pull)",
                self.db.display(),
                header.built,
                self.max_db_age
            );
        }
        Ok(db)
    }
}

/// Find known vulnerabilities in images, releases, root filesystems or a running app.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
berth scan hello-1.0.0.release --db vuln.db --db-key vendor.pub\n  \
berth scan 127.0.0.1:5000/web:1.0 --insecure --db vuln.db \\\n    \
--db-key vendor.pub -o sarif\n  \
berth scan -n hello --db vuln.db --db-key vendor.pub   # what the app runs\n\n\
Exit: 0 when the policy passes, 1 when a finding blocks (the table says which), 2 for bad\n\
input (a corrupt or unsigned database, a bad policy), 5 when nothing runs in the namespace.")]
pub struct ScanArgs {
    /// An image reference, a release directory, an OCI layout, or a root filesystem directory.
    #[arg(required_unless_present = "namespace", conflicts_with = "namespace")]
    target: Option<String>,
    /// Scan the images the pods of this namespace run.
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Path to the kubeconfig (with -n).
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context (with -n).
    #[arg(long)]
    context: Option<String>,
    #[command(flatten)]
    db: DbFlags,
    /// The policy (YAML, docs/formats/scan.md §3; default: every fixable finding blocks).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// An OpenVEX document whose not_affected/fixed statements suppress findings
    /// (repeatable; added to the policy's `vex:` files).
    #[arg(long, value_name = "FILE")]
    vex: Vec<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    output: ScanFormat,
    #[command(flatten)]
    registry: RegistryFlags,
}

/// The vulnerability database: build, inspect.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
berth vulndb build --osv osv/ --debian-tracker debian.json --key vendor.key \\\n    \
--out vuln.db\n  \
berth vulndb inspect vuln.db --db-key vendor.pub")]
pub struct VulndbArgs {
    #[command(subcommand)]
    cmd: VulndbCmd,
}

#[derive(clap::Subcommand)]
enum VulndbCmd {
    /// Build a signed database from public advisory data (docs/formats/vulndb.md).
    #[command(after_help = "Example:\n  \
berth vulndb build --osv osv/ --debian-tracker debian.json \\\n    \
--alpine-secdb v3.19-main.json --key vendor.key --out vuln.db")]
    Build(VulndbBuild),
    /// Verify a database and print its header.
    #[command(after_help = "Example:\n  berth vulndb inspect vuln.db --db-key vendor.pub")]
    Inspect(VulndbInspect),
    /// Push a database to a registry as an OCI artifact.
    #[command(
        after_help = "Example:\n  berth vulndb push vuln.db 127.0.0.1:5000/berth/vulndb:latest --insecure"
    )]
    Push(VulndbPush),
    /// Pull a database artifact and verify it with the vendor's key before keeping it.
    #[command(after_help = "Example:\n  \
berth vulndb pull 127.0.0.1:5000/berth/vulndb:latest --insecure \\\n    \
--db-key vendor.pub --out vuln.db")]
    Pull(VulndbPull),
}

#[derive(clap::Args)]
struct VulndbPush {
    /// The database file.
    file: PathBuf,
    /// Where to push it (registry/repository:tag).
    reference: String,
    #[command(flatten)]
    registry: RegistryFlags,
}

#[derive(clap::Args)]
struct VulndbPull {
    /// The artifact (registry/repository:tag or @digest).
    reference: String,
    /// Output file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// The vendor public key the database must be signed with.
    #[arg(long, value_name = "FILE", env = "BERTH_VULNDB_KEY")]
    db_key: PathBuf,
    #[command(flatten)]
    registry: RegistryFlags,
}

#[derive(clap::Args)]
struct VulndbBuild {
    /// OSV records: a directory tree of *.json/*.yaml, or an osv.dev all.zip; repeatable.
    #[arg(long, value_name = "DIR|ZIP")]
    osv: Vec<PathBuf>,
    /// The Debian Security Tracker JSON; repeatable.
    #[arg(long, value_name = "FILE")]
    debian_tracker: Vec<PathBuf>,
    /// An Alpine secdb file (JSON or YAML); repeatable.
    #[arg(long, value_name = "FILE")]
    alpine_secdb: Vec<PathBuf>,
    /// The vendor signing key (`berth keys generate`).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Output file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(clap::Args)]
struct VulndbInspect {
    /// The database file.
    file: PathBuf,
    /// The vendor public key it must be signed with.
    #[arg(long, value_name = "FILE", env = "BERTH_VULNDB_KEY")]
    db_key: PathBuf,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    berth_oci::client::install_crypto_provider();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// A scan's warnings go to stderr, like the command's other messages.
struct Warnings;

impl berth_ops::Sink for Warnings {
    fn event(&self, e: berth_ops::Event) {
        if let berth_ops::Event::Warning { message } = e {
            eprintln!("warning: {message}");
        }
    }
}

/// `berth_ops::scan::scan_target` on a runtime of its own.
fn scan_target(target: &str, db: &VulnDb, registry: &RegistryFlags) -> Result<ScanReport> {
    let config = registry.config()?;
    Ok(runtime()?.block_on(berth_ops::scan::scan_target(target, db, config))?)
}

/// Run `berth sbom`.
pub fn run_sbom(a: SbomArgs) -> Result<u8> {
    let rep = scan_target(&a.target, &VulnDb::new(), &a.registry)?;
    let created = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let docs: Vec<(String, serde_json::Value)> = rep
        .targets
        .iter()
        .map(|t| {
            let doc = match a.output {
                SbomFormat::Spdx => sbom::spdx(t, &created),
                _ => sbom::cyclonedx(t, false),
            };
            (file_name(t), doc)
        })
        .collect();
    if a.output == SbomFormat::Table && a.out_dir.is_none() {
        for t in &rep.targets {
            print_packages(t);
        }
        return Ok(exit::OK);
    }
    match &a.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let ext = if a.output == SbomFormat::Spdx {
                "spdx.json"
            } else {
                "cdx.json"
            };
            for (name, doc) in docs {
                let p = dir.join(format!("{name}.{ext}"));
                std::fs::write(&p, serde_json::to_vec_pretty(&doc)?)
                    .with_context(|| format!("writing {}", p.display()))?;
                eprintln!("wrote {}", p.display());
            }
        }
        None if docs.len() == 1 => println!("{}", serde_json::to_string_pretty(&docs[0].1)?),
        None => {
            return Err(BadInput(format!(
                "{} holds {} images; give --out-dir DIR for one document per image",
                a.target,
                docs.len()
            ))
            .into());
        }
    }
    Ok(exit::OK)
}

/// A file name for a target's document: its name with path separators replaced.
fn file_name(t: &TargetReport) -> String {
    t.name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn print_packages(t: &TargetReport) {
    let distro = t
        .distro
        .as_ref()
        .map(|d| format!(" ({} {})", d.id, d.version_id))
        .unwrap_or_default();
    println!("{}{distro}: {} packages", t.name, t.packages.len());
    let mut tb = comfy_table::Table::new();
    tb.load_style(comfy_table::presets::NOTHING);
    tb.set_header(["TYPE", "NAME", "VERSION", "SOURCE", "PATH"]);
    for p in &t.packages {
        let kind = serde_json::to_value(p.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        tb.add_row([
            kind,
            p.name.clone(),
            p.version.clone(),
            p.source_name.clone().unwrap_or_default(),
            p.path.clone(),
        ]);
    }
    println!("{tb}");
    for n in &t.not_scanned {
        println!("  not scanned: {n}");
    }
}

/// The VEX documents of a policy (relative to its file) and of `--vex`, loaded.
fn load_vex(policy: &Policy, policy_path: Option<&Path>, extra: &[PathBuf]) -> Result<VexSet> {
    policy
        .load_vex(policy_path, extra)
        .map_err(|e| BadInput(format!("VEX: {e}")).into())
}

fn load_policy(path: Option<&Path>) -> Result<Policy> {
    let Some(p) = path else {
        return Ok(Policy::default());
    };
    let text =
        std::fs::read_to_string(p).map_err(|e| BadInput(format!("policy {}: {e}", p.display())))?;
    Policy::parse(&text, &p.display().to_string()).map_err(|e| BadInput(e.to_string()).into())
}

/// Run `berth scan`.
pub fn run_scan(a: ScanArgs) -> Result<u8> {
    let policy = load_policy(a.policy.as_deref())?;
    let vex = load_vex(&policy, a.policy.as_deref(), &a.vex)?;
    let db = a.db.load()?;
    let mut rep = match (&a.target, &a.namespace) {
        (Some(t), _) => scan_target(t, &db, &a.registry)?,
        (None, Some(ns)) => {
            let target = berth_ops::deploy::Target {
                kubeconfig: a.kubeconfig.clone(),
                context: a.context.clone(),
                namespace: Some(ns.clone()),
                ..Default::default()
            };
            let config = a.registry.config()?;
            runtime()?.block_on(berth_ops::scan::scan_namespace(
                &target, &db, config, &Warnings,
            ))?
        }
        (None, None) => return Err(BadInput("give a target or -n NAMESPACE".into()).into()),
    };
    vex.apply(&mut rep);
    let decision = policy::evaluate(&rep, &policy, policy::today_utc());
    match a.output {
        ScanFormat::Table => print_findings(&rep, &decision),
        ScanFormat::Json => {
            let doc = serde_json::json!({
                "report": rep,
                "decision": {
                    "pass": decision.pass(),
                    "blocking": decision.blocking,
                    "allowed": decision.allowed,
                    "reported": decision.reported,
                    "suppressed": decision.suppressed,
                },
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        ScanFormat::Sarif => println!("{}", serde_json::to_string_pretty(&sarif::sarif(&rep))?),
        ScanFormat::Cyclonedx => {
            let docs: Vec<_> = rep
                .targets
                .iter()
                .map(|t| sbom::cyclonedx(t, true))
                .collect();
            let out = if docs.len() == 1 {
                docs[0].clone()
            } else {
                serde_json::Value::Array(docs)
            };
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
    }
    if a.output != ScanFormat::Table && !decision.pass() {
        for b in &decision.blocking {
            eprintln!("blocking: {b}");
        }
    }
    Ok(if decision.pass() {
        exit::OK
    } else {
        exit::FAILURE
    })
}

fn short_layer(l: &Option<String>) -> String {
    l.as_deref()
        .map(|l| l.trim_start_matches("sha256:").chars().take(12).collect())
        .unwrap_or_default()
}

/// The findings table of every target, then the decision (shared with `release build --gate`).
pub fn print_findings(rep: &ScanReport, decision: &policy::Decision) {
    for t in &rep.targets {
        let distro = t
            .distro
            .as_ref()
            .map(|d| format!(" ({} {})", d.id, d.version_id))
            .unwrap_or_default();
        println!(
            "{}{distro}: {} packages, {} findings",
            t.name,
            t.packages.len(),
            t.findings.len()
        );
        if !t.findings.is_empty() {
            let mut tb = comfy_table::Table::new();
            tb.load_style(comfy_table::presets::NOTHING);
            tb.set_header([
                "PACKAGE",
                "INSTALLED",
                "ADVISORY",
                "ALIASES",
                "SEVERITY",
                "FIXED IN",
                "STATE",
                "LAYER",
                "PATH",
            ]);
            for f in &t.findings {
                let fixed = match &f.fix {
                    FixState::Fixed(v) => v.clone(),
                    _ => String::new(),
                };
                tb.add_row([
                    f.package.clone(),
                    f.version.clone(),
                    f.advisory.clone(),
                    f.aliases.join(","),
                    f.severity.to_string(),
                    fixed,
                    match &f.vex {
                        Some(v) if v.status.suppresses() => format!("vex:{}", v.status.label()),
                        _ => sbom::fix_state_word(&f.fix).to_string(),
                    },
                    short_layer(&f.layer),
                    f.path.clone(),
                ]);
            }
            println!("{tb}");
        }
        for n in &t.not_scanned {
            println!("  not scanned: {n}");
        }
    }
    for a in &decision.allowed {
        println!("allowed: {a}");
    }
    for v in &decision.suppressed {
        println!("suppressed: {v}");
    }
    if decision.pass() {
        println!("policy: pass");
    } else {
        println!("policy: FAIL, {} blocking:", decision.blocking.len());
        for b in &decision.blocking {
            println!("  {b}");
        }
    }
}

/// Run `berth vulndb …`.
pub fn run_vulndb(a: VulndbArgs) -> Result<u8> {
    match a.cmd {
        VulndbCmd::Build(b) => vulndb_build(b),
        VulndbCmd::Inspect(i) => {
            let key = keys::read_verifying_key(&i.db_key).map_err(|e| BadInput(e.to_string()))?;
            let (h, _) = vulndb::open(&i.file, &key).map_err(|e| BadInput(e.to_string()))?;
            println!("{}", serde_json::to_string_pretty(&h)?);
            Ok(exit::OK)
        }
        VulndbCmd::Push(p) => {
            let r = Reference::parse(&p.reference).map_err(|e| BadInput(e.to_string()))?;
            let client = Client::new(p.registry.config()?)?;
            let tmp = tempfile::tempdir().context("creating a temporary directory")?;
            let d = runtime()?
                .block_on(berth_scan::artifact::push(&client, &p.file, &r, tmp.path()))
                .map_err(|e| match e {
                    berth_scan::Error::Invalid { .. } => {
                        anyhow::Error::from(BadInput(e.to_string()))
                    }
                    e => e.into(),
                })?;
            println!("pushed {} to {}@{d}", p.file.display(), p.reference);
            Ok(exit::OK)
        }
        VulndbCmd::Pull(p) => {
            let key = keys::read_verifying_key(&p.db_key).map_err(|e| BadInput(e.to_string()))?;
            let r = Reference::parse(&p.reference).map_err(|e| BadInput(e.to_string()))?;
            let client = Client::new(p.registry.config()?)?;
            let tmp = tempfile::tempdir().context("creating a temporary directory")?;
            let staged = tmp.path().join("vuln.db");
            runtime()?.block_on(berth_scan::artifact::pull(
                &client,
                &r,
                &staged,
                &tmp.path().join("layout"),
            ))?;
            // Only a database that verifies replaces the output file.
            let (h, _) = vulndb::open(&staged, &key)
                .map_err(|e| BadInput(format!("{}: {e}", p.reference)))?;
            let bytes = std::fs::read(&staged).context("reading the pulled database")?;
            berth_oci::layout::write_atomic(&p.out, &bytes)?;
            println!(
                "pulled {} to {}: {} records, built {}, signed by key {}",
                p.reference,
                p.out.display(),
                h.records,
                h.built,
                h.key_id
            );
            Ok(exit::OK)
        }
    }
}

fn base_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn vulndb_build(b: VulndbBuild) -> Result<u8> {
    if b.osv.is_empty() && b.debian_tracker.is_empty() && b.alpine_secdb.is_empty() {
        return Err(BadInput(
            "give at least one of --osv, --debian-tracker, --alpine-secdb".into(),
        )
        .into());
    }
    let key = keys::read_signing_key(&b.key).map_err(|e| BadInput(e.to_string()))?;
    let mut infos = Vec::new();
    let mut osv = Vec::new();
    let mut native = Vec::new();
    let bad = |e: berth_scan::Error| anyhow::Error::from(BadInput(e.to_string()));
    for p in &b.osv {
        let recs = sources::osv_path(p).map_err(bad)?;
        infos.push(vulndb::SourceInfo {
            kind: "osv".into(),
            name: base_name(p),
            records: recs.len() as u64,
        });
        osv.extend(recs);
    }
    let read = |p: &Path| -> Result<Vec<u8>> {
        let meta = std::fs::metadata(p).map_err(|e| BadInput(format!("{}: {e}", p.display())))?;
        if meta.len() > sources::MAX_SOURCE {
            return Err(BadInput(format!(
                "{} is larger than {} bytes",
                p.display(),
                sources::MAX_SOURCE
            ))
            .into());
        }
        std::fs::read(p).with_context(|| format!("reading {}", p.display()))
    };
    for p in &b.debian_tracker {
        let recs = sources::debian_tracker(&read(p)?, &p.display().to_string()).map_err(bad)?;
        infos.push(vulndb::SourceInfo {
            kind: "debian-tracker".into(),
            name: base_name(p),
            records: recs.len() as u64,
        });
        native.extend(recs);
    }
    for p in &b.alpine_secdb {
        let recs = sources::alpine_secdb(&read(p)?, &p.display().to_string()).map_err(bad)?;
        infos.push(vulndb::SourceInfo {
            kind: "alpine-secdb".into(),
            name: base_name(p),
            records: recs.len() as u64,
        });
        native.extend(recs);
    }
    let records = vulndb::merge(osv, native);
    let h = vulndb::write(&b.out, &records, infos, &key, jiff::Timestamp::now())?;
    println!(
        "wrote {}: {} records, {} bytes compressed ({} uncompressed), signed by key {}",
        b.out.display(),
        h.records,
        h.payload_size,
        h.uncompressed_size,
        h.key_id
    );
    Ok(exit::OK)
}

/// `berth release build --gate`: scan the built release before it is kept.
#[derive(clap::Args, Debug, Clone)]
pub struct GateFlags {
    /// Scan the release and refuse it (exit 1, the release moved to OUT.blocked) when the
    /// scan policy fails.
    #[arg(long, requires_all = ["db", "db_key"])]
    pub gate: bool,
    /// The vulnerability database for --gate.
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// The public key the database must be signed with.
    #[arg(long, value_name = "FILE", env = "BERTH_VULNDB_KEY")]
    pub db_key: Option<PathBuf>,
    /// The scan policy (default: berth-scan-policy.yaml beside berth.yaml, else every
    /// fixable finding blocks).
    #[arg(long, value_name = "FILE")]
    pub scan_policy: Option<PathBuf>,
    /// An OpenVEX document for the gate (repeatable; added to the policy's `vex:` files).
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    /// Warn when the database is older than this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub max_db_age: i64,
}

/// The policy file read when none is given: beside berth.yaml.
pub const POLICY_BESIDE_MANIFEST: &str = "berth-scan-policy.yaml";

/// Scan a built release under the gate's policy; print the findings and the decision.
/// Returns whether the release passes.
pub fn gate_release(release: &Path, app_dir: &Path, g: &GateFlags) -> Result<bool> {
    let (Some(db), Some(db_key)) = (&g.db, &g.db_key) else {
        return Err(BadInput("--gate needs --db and --db-key".into()).into());
    };
    let flags = DbFlags {
        db: db.clone(),
        db_key: db_key.clone(),
        max_db_age: g.max_db_age,
    };
    let beside = app_dir.join(POLICY_BESIDE_MANIFEST);
    let policy_path = g
        .scan_policy
        .clone()
        .or_else(|| beside.is_file().then_some(beside));
    let policy = load_policy(policy_path.as_deref())?;
    let vex = load_vex(&policy, policy_path.as_deref(), &g.vex)?;
    let db = flags.load()?;
    let mut rep = report::scan_layout(release, &db, Some(&LayerCache::new()), &Limits::default())
        .with_context(|| format!("scanning release {}", release.display()))?;
    vex.apply(&mut rep);
    let decision = policy::evaluate(&rep, &policy, policy::today_utc());
    if let Some(p) = &policy_path {
        println!("scan policy: {}", p.display());
    }
    print_findings(&rep, &decision);
    Ok(decision.pass())
}

/// Gate a release built at `staging`: on pass it becomes `out`; on failure it is moved to
/// `out.blocked` (for inspection) and `out` is left as it was.
pub fn release_gate_keep(
    staging: &Path,
    out: &Path,
    app_dir: &Path,
    g: &GateFlags,
) -> Result<bool> {
    let pass = gate_release(staging, app_dir, g);
    let target = match &pass {
        Ok(true) => out.to_path_buf(),
        _ => out.with_extension("blocked"),
    };
    if target.exists() {
        std::fs::remove_dir_all(&target)
            .with_context(|| format!("replacing {}", target.display()))?;
    }
    std::fs::rename(staging, &target)
        .with_context(|| format!("moving {} to {}", staging.display(), target.display()))?;
    let pass = pass?;
    if !pass {
        eprintln!(
            "release refused by the scan gate; it was not written to {} (kept for inspection at {})",
            out.display(),
            target.display()
        );
    }
    Ok(pass)
}
