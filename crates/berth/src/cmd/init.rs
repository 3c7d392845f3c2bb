//! `berth init [DIR]`: a starter application that lints clean.

use anyhow::{Context, bail};
use std::path::PathBuf;

/// Write a starter berth.yaml and a minimal chart that lint clean.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  berth init myapp && berth lint myapp")]
pub struct Args {
    /// Directory to create the application in (created if missing).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Application name (a DNS label); defaults to the directory's name.
    #[arg(long)]
    name: Option<String>,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let name = match args.name {
        Some(n) => n,
        None => {
            let abs = std::path::absolute(&args.dir).context("cannot resolve the directory")?;
            abs.file_name()
                .map(|s| s.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_else(|| "myapp".into())
        }
    };
    let valid = !name.is_empty()
        && name.len() <= 53
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !valid {
        bail!(
            "`{name}` is not a valid application name: use lowercase letters, digits and `-` (at most 53 characters); pass --name"
        );
    }
    let files = berth_spec::starter::files(&name);
    if !args.force {
        let existing: Vec<String> = files
            .iter()
            .filter(|(p, _)| args.dir.join(p).exists())
            .map(|(p, _)| p.clone())
            .collect();
        if !existing.is_empty() {
            bail!(
                "{} already has {}; nothing was written (use --force to overwrite)",
                args.dir.display(),
                existing.join(", ")
            );
        }
    }
    for (rel, contents) in &files {
        let path = args.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    println!("next: berth lint {}", args.dir.display());
    Ok(crate::exit::OK)
}
