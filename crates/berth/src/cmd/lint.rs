//! `berth lint [DIR]`: every problem in berth.yaml and the files it references, at once.

use crate::output;
use berth_spec::{LintReport, Problem, Severity};
use std::path::PathBuf;

/// Check berth.yaml and every file it references; report all problems at once.
#[derive(clap::Args)]
#[command(
    after_help = "Exit codes: 0 no errors (warnings allowed), 1 errors found, 2 usage error.\n\n\
Examples:\n  berth lint examples/hello\n  berth lint examples/hello --kube 1.32  # APIs removed in 1.32\n  berth lint myapp -o json | jq '.problems[] | .message'"
)]
pub struct Args {
    /// Application directory (holding berth.yaml), or the manifest file itself.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = output::Format::Table)]
    output: output::Format,
    /// Treat warnings as errors.
    #[arg(long)]
    strict: bool,
    /// List every rendered object whose apiVersion this Kubernetes release (1.NN) no longer
    /// serves (error) or has deprecated (warning), with the replacement.
    #[arg(long, value_name = "VERSION")]
    kube: Option<String>,
    #[command(flatten)]
    charts: crate::cmd::chart::ChartCacheFlags,
    #[command(flatten)]
    registry: crate::cmd::oci::RegistryFlags,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let mut report = berth_spec::lint_dir(&args.dir);
    // Once the manifest is clean, render its charts with the default config so template
    // errors show up here rather than at install time.
    if report.errors() == 0
        && let Some(app) = report.app.clone()
    {
        let dir = report
            .file
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let loaded = berth_spec::LoadedApp { dir, app };
        // Remote chart dependencies into the cache first (online), so the renders find them.
        let fetch = args.charts.fetch(&args.registry)?;
        report
            .problems
            .extend(
                crate::cmd::deploy::runtime()?.block_on(berth_ops::charts::lint_dependencies(
                    &loaded.dir,
                    &report.file,
                    &fetch,
                )),
            );
        let cache = Some(fetch.cache.root());
        report
            .problems
            .extend(berth_render::lint_render_with(&loaded, &report.file, cache));
        if let Some(kube) = &args.kube {
            report.problems.extend(
                berth_render::lint_api_versions_with(&loaded, kube, cache)
                    .map_err(crate::exit::BadInput)?,
            );
        }
    }
    let errors = report.errors();
    let warnings = report.problems.len() - errors;
    match args.output {
        output::Format::Json | output::Format::Yaml => {
            let doc = serde_json::json!({
                "file": report.file,
                "errors": errors,
                "warnings": warnings,
                "problems": report.problems,
            });
            output::print_structured(&doc, args.output)?;
        }
        output::Format::Table => print_human(&report),
    }
    let failed = errors > 0 || (args.strict && warnings > 0);
    Ok(if failed {
        crate::exit::FAILURE
    } else {
        crate::exit::OK
    })
}

fn print_human(report: &LintReport) {
    let color = output::color_stdout();
    let mut sources: std::collections::HashMap<PathBuf, Vec<String>> = Default::default();
    for p in &report.problems {
        let lines = sources.entry(p.file.clone()).or_insert_with(|| {
            std::fs::read(&p.file)
                .map(|b| {
                    String::from_utf8_lossy(&b)
                        .lines()
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        });
        println!("{}", render_problem(p, lines, color));
    }
    let errors = report.errors();
    let warnings = report.problems.len() - errors;
    if report.problems.is_empty() {
        println!("{}: ok, no problems found", report.file.display());
    } else {
        println!(
            "{}: {errors} error(s), {warnings} warning(s)",
            report.file.display()
        );
    }
}

/// One problem the way compilers print them: header, location, source line, caret, help.
pub fn render_problem(p: &Problem, lines: &[String], color: bool) -> String {
    let (sev, paint): (&str, fn(&str) -> console::StyledObject<&str>) = match p.severity {
        Severity::Error => ("error", |s| console::style(s).red().bold()),
        Severity::Warning => ("warning", |s| console::style(s).yellow().bold()),
    };
    let head = format!("{sev}[{}]", p.code);
    let head = if color {
        paint(&head).force_styling(true).to_string()
    } else {
        head
    };
    let mut out = format!("{head}: {}\n", p.message);
    match p.pos {
        Some(pos) => {
            out.push_str(&format!(
                "  --> {}:{}:{}\n",
                p.file.display(),
                pos.line,
                pos.column
            ));
            if let Some(line) = lines.get(pos.line.saturating_sub(1)) {
                let num = pos.line.to_string();
                let pad = " ".repeat(num.len());
                let line: String = line.chars().take(160).collect();
                let caret_pad: String = line
                    .chars()
                    .take(pos.column.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                out.push_str(&format!("{pad} |\n{num} | {line}\n{pad} | {caret_pad}^\n"));
            }
        }
        None => out.push_str(&format!("  --> {}\n", p.file.display())),
    }
    if let Some(help) = &p.help {
        out.push_str(&format!("  help: {help}\n"));
    }
    out
}
