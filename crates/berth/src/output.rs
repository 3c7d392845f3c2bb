//! Terminal output conventions: results on stdout, progress and errors on stderr,
//! colour only on a terminal and never with `NO_COLOR`.

use std::io::IsTerminal;

/// Whether stderr may carry colour.
pub fn color_stderr() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Whether stdout may carry colour.
pub fn color_stdout() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Print an error with its whole context chain on stderr.
pub fn error(e: &anyhow::Error) {
    let head = if color_stderr() {
        console::style("error:")
            .red()
            .bold()
            .force_styling(true)
            .to_string()
    } else {
        "error:".to_string()
    };
    eprintln!("{head} {e}");
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

/// Output formats shared by commands (`-o/--output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable text and tables.
    Table,
    /// JSON, for machines.
    Json,
    /// YAML.
    Yaml,
}

/// Print a structured document as JSON or YAML on stdout.
pub fn print_structured(doc: &serde_json::Value, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Yaml => print!("{}", serde_saphyr::to_string(doc)?),
        _ => println!("{}", serde_json::to_string_pretty(doc)?),
    }
    Ok(())
}
