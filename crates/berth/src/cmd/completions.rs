//! `berth completions bash|zsh|fish`.

use clap_complete::Shell;

/// Print shell completions for berth.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  berth completions bash > /etc/bash_completion.d/berth")]
pub struct Args {
    /// The shell to generate completions for.
    shell: Shell,
}

pub fn run(args: Args, mut cmd: clap::Command) -> anyhow::Result<u8> {
    clap_complete::generate(args.shell, &mut cmd, "berth", &mut std::io::stdout());
    Ok(crate::exit::OK)
}
