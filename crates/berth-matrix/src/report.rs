//! Results of a matrix run and the three reports written from them: JSON (the results as
//! they are), JUnit XML (one testsuite per cell, one testcase per step, for CI systems) and a
//! self-contained HTML grid (no script, no external asset: versions down, distributions ×
//! online/air-gapped across, each cell coloured and linking to its log and diagnosis).
//! The formats are documented in docs/formats/matrix-report.md.

use crate::plan::Cell;
use serde::Serialize;
use std::fmt::Write as _;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// Reached its goal.
    Passed,
    /// Did not.
    Failed,
    /// Not run (an earlier step failed, or nothing to do).
    Skipped,
}

/// One step of a cell.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    /// `cluster`, `preflight`, `install`, `readiness`, `upgrade`, `test`, `support-bundle`,
    /// `uninstall`.
    pub step: String,
    /// Outcome.
    pub status: StepStatus,
    /// Wall time.
    pub seconds: f64,
    /// What happened, in one or a few lines.
    pub detail: String,
}

/// berth's diagnosis of a failed cell.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CellDiagnosis {
    /// The object concerned (`deployment/web in namespace hello`), if one is.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub object: String,
    /// What went wrong.
    pub cause: String,
    /// What to do.
    pub fix: String,
}

/// One cell's result.
#[derive(Debug, Clone, Serialize)]
pub struct CellResult {
    /// The cell.
    pub cell: Cell,
    /// `1.32-k3s-airgapped`.
    pub id: String,
    /// Every step passed or was skipped for want of work.
    pub passed: bool,
    /// The first step that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<String>,
    /// berth's diagnosis of the failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<CellDiagnosis>,
    /// The Kubernetes version string the cluster reported.
    pub server_version: String,
    /// Steps in order.
    pub steps: Vec<StepResult>,
    /// Wall time of the cell.
    pub seconds: f64,
    /// The cell's log, relative to the report directory.
    pub log: String,
    /// The cell's support bundle, relative to the report directory, when one was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub support_bundle: Option<String>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct MatrixReport {
    /// App name.
    pub app: String,
    /// Version tested.
    pub version: String,
    /// Version upgraded from, when `--upgrade-from` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade_from: Option<String>,
    /// Cells run at once.
    pub jobs: usize,
    /// Wall time of the run (staging included).
    pub seconds: f64,
    /// Cells in plan order.
    pub cells: Vec<CellResult>,
}

impl MatrixReport {
    /// Cells that failed.
    pub fn failed(&self) -> usize {
        self.cells.iter().filter(|c| !c.passed).count()
    }
}

/// The JSON report.
pub fn json(r: &MatrixReport) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// Escape text for XML and HTML (content and attribute values).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 forbids most control characters even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// The JUnit XML report: one `<testsuite>` per cell (`name` = cell id), one `<testcase>` per
/// step; a failed step carries `<failure message="cause">fix and detail</failure>`.
pub fn junit(r: &MatrixReport) -> String {
    let failures: usize = r.failed();
    let tests: usize = r.cells.iter().map(|c| c.steps.len()).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"berth matrix {} {}\" tests=\"{tests}\" failures=\"{failures}\" time=\"{:.3}\">",
        escape(&r.app),
        escape(&r.version),
        r.seconds
    );
    for c in &r.cells {
        let failed = c
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Failed)
            .count();
        let skipped = c
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Skipped)
            .count();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" skipped=\"{skipped}\" time=\"{:.3}\">",
            escape(&c.id),
            c.steps.len(),
            c.seconds
        );
        for s in &c.steps {
            let _ = write!(
                x,
                "    <testcase classname=\"matrix.{}\" name=\"{}\" time=\"{:.3}\"",
                escape(&c.id),
                escape(&s.step),
                s.seconds
            );
            match s.status {
                StepStatus::Passed => x.push_str("/>\n"),
                StepStatus::Skipped => {
                    let _ = writeln!(
                        x,
                        "><skipped message=\"{}\"/></testcase>",
                        escape(&s.detail)
                    );
                }
                StepStatus::Failed => {
                    let (msg, body) = match (&c.diagnosis, c.failed_step.as_deref()) {
                        (Some(d), Some(f)) if f == s.step => {
                            (d.cause.clone(), format!("fix: {}\n\n{}", d.fix, s.detail))
                        }
                        _ => (
                            s.detail.lines().next().unwrap_or("").to_string(),
                            s.detail.clone(),
                        ),
                    };
                    let _ = writeln!(
                        x,
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                        escape(&msg),
                        escape(&body)
                    );
                }
            }
        }
        let _ = writeln!(x, "    <system-out>log: {}</system-out>", escape(&c.log));
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1b1f23}\
table{border-collapse:collapse}th,td{border:1px solid #c8ccd0;padding:.35rem .6rem;text-align:center}\
td.pass{background:#d4f4dd}td.fail{background:#fbd3d0}td.none{background:#eee}\
a{color:inherit}section.cell{border-top:1px solid #c8ccd0;margin-top:1rem;padding-top:.5rem}\
.pass-t{color:#146c2e}.fail-t{color:#a40e26}pre{white-space:pre-wrap;background:#f6f8fa;padding:.5rem}\
caption{text-align:left;font-weight:bold;padding-bottom:.5rem}";

/// The self-contained HTML grid.
pub fn html(r: &MatrixReport) -> String {
    let mut kubes: Vec<(u32, String)> = r
        .cells
        .iter()
        .map(|c| (c.cell.minor, c.cell.kube.clone()))
        .collect();
    kubes.sort();
    kubes.dedup();
    let mut columns: Vec<(String, bool, Option<String>)> = Vec::new();
    for c in &r.cells {
        let col = (
            c.cell.distribution.clone(),
            c.cell.airgapped,
            c.cell.ingress.clone(),
        );
        if !columns.contains(&col) {
            columns.push(col);
        }
    }
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>berth matrix: {app} {ver}</title><style>{STYLE}</style></head><body>\n\
         <h1>berth matrix: {app} {ver}</h1>\n<p>{n} cells, <span class=\"fail-t\">{f} failed</span>, {jobs} at once, {secs:.1}s{up}</p>\n",
        app = escape(&r.app),
        ver = escape(&r.version),
        n = r.cells.len(),
        f = r.failed(),
        jobs = r.jobs,
        secs = r.seconds,
        up = r
            .upgrade_from
            .as_ref()
            .map(|v| format!("; upgraded from {}", escape(v)))
            .unwrap_or_default(),
    );
    h.push_str("<table><caption>Kubernetes version × distribution (online / air-gapped, ingress flavour)</caption>\n<thead><tr><th scope=\"col\">Kubernetes</th>");
    for (d, a, i) in &columns {
        let _ = write!(
            h,
            "<th scope=\"col\">{}<br>{}{}</th>",
            escape(d),
            if *a { "air-gapped" } else { "online" },
            i.as_ref()
                .map(|i| format!("<br>{}", escape(i)))
                .unwrap_or_default()
        );
    }
    h.push_str("</tr></thead><tbody>\n");
    for (minor, kube) in &kubes {
        let _ = write!(h, "<tr><th scope=\"row\">{}</th>", escape(kube));
        for (d, a, i) in &columns {
            match r.cells.iter().find(|c| {
                c.cell.minor == *minor
                    && &c.cell.distribution == d
                    && c.cell.airgapped == *a
                    && &c.cell.ingress == i
            }) {
                Some(c) if c.passed => {
                    let _ = write!(
                        h,
                        "<td class=\"pass\"><a href=\"#{id}\" title=\"passed in {s:.1}s\">pass</a></td>",
                        id = escape(&c.id),
                        s = c.seconds
                    );
                }
                Some(c) => {
                    let _ = write!(
                        h,
                        "<td class=\"fail\"><a href=\"#{id}\" title=\"{t}\">fail: {step}</a></td>",
                        id = escape(&c.id),
                        t = escape(
                            &c.diagnosis
                                .as_ref()
                                .map(|d| d.cause.clone())
                                .unwrap_or_default()
                        ),
                        step = escape(c.failed_step.as_deref().unwrap_or("?"))
                    );
                }
                None => h.push_str("<td class=\"none\">–</td>"),
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table>\n");
    for c in &r.cells {
        cell_section(&mut h, c);
    }
    h.push_str("</body></html>\n");
    h
}

fn cell_section(h: &mut String, c: &CellResult) {
    let _ = write!(
        h,
        "<section class=\"cell\" id=\"{id}\"><h2><span class=\"{cls}\">{word}</span> {id}</h2>\n<p>Kubernetes {sv}, {secs:.1}s; <a href=\"{log}\">log</a>{sb}</p>\n",
        id = escape(&c.id),
        cls = if c.passed { "pass-t" } else { "fail-t" },
        word = if c.passed { "passed" } else { "failed" },
        sv = escape(&c.server_version),
        secs = c.seconds,
        log = escape(&c.log),
        sb = c
            .support_bundle
            .as_ref()
            .map(|p| format!(", <a href=\"{}\">support bundle</a>", escape(p)))
            .unwrap_or_default(),
    );
    if let Some(d) = &c.diagnosis {
        let _ = writeln!(
            h,
            "<p><strong>Failed step:</strong> {step}</p><p><strong>Cause:</strong> {cause}</p><p><strong>Fix:</strong> {fix}</p>",
            step = escape(c.failed_step.as_deref().unwrap_or("?")),
            cause = escape(&d.cause),
            fix = escape(&d.fix)
        );
    }
    h.push_str("<table><thead><tr><th scope=\"col\">step</th><th scope=\"col\">result</th><th scope=\"col\">seconds</th><th scope=\"col\">detail</th></tr></thead><tbody>\n");
    for s in &c.steps {
        let (cls, word) = match s.status {
            StepStatus::Passed => ("pass", "passed"),
            StepStatus::Failed => ("fail", "failed"),
            StepStatus::Skipped => ("none", "skipped"),
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"{cls}\">{word}</td><td>{:.2}</td><td style=\"text-align:left\"><pre>{}</pre></td></tr>",
            escape(&s.step),
            s.seconds,
            escape(&s.detail)
        );
    }
    h.push_str("</tbody></table></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MatrixReport {
        let cell = |d: &str, a: bool| Cell {
            kube: "1.32".into(),
            minor: 32,
            distribution: d.into(),
            airgapped: a,
            ingress: None,
            kubeconfig: None,
        };
        let step = |n: &str, s: StepStatus| StepResult {
            step: n.into(),
            status: s,
            seconds: 0.5,
            detail: format!("{n} <detail> & \"more\""),
        };
        MatrixReport {
            app: "hello".into(),
            version: "1.0.0".into(),
            upgrade_from: None,
            jobs: 2,
            seconds: 3.0,
            cells: vec![
                CellResult {
                    cell: cell("generic", false),
                    id: "1.32-generic-online".into(),
                    passed: true,
                    failed_step: None,
                    diagnosis: None,
                    server_version: "v1.32.3".into(),
                    steps: vec![step("install", StepStatus::Passed)],
                    seconds: 1.0,
                    log: "cells/1.32-generic-online/log.txt".into(),
                    support_bundle: None,
                },
                CellResult {
                    cell: cell("k3s", true),
                    id: "1.32-k3s-airgapped".into(),
                    passed: false,
                    failed_step: Some("install".into()),
                    diagnosis: Some(CellDiagnosis {
                        object: "deployment/web".into(),
                        cause: "pods <refused>".into(),
                        fix: "set runAsNonRoot".into(),
                    }),
                    server_version: "v1.32.3+k3s1".into(),
                    steps: vec![
                        step("install", StepStatus::Failed),
                        step("uninstall", StepStatus::Skipped),
                    ],
                    seconds: 2.0,
                    log: "cells/1.32-k3s-airgapped/log.txt".into(),
                    support_bundle: Some("cells/1.32-k3s-airgapped/support-bundle.tar.gz".into()),
                },
            ],
        }
    }

    #[test]
    fn junit_counts_and_escapes() {
        let x = junit(&sample());
        assert!(x.contains("tests=\"3\" failures=\"1\""), "{x}");
        assert!(
            x.contains("<failure message=\"pods &lt;refused&gt;\">fix: set runAsNonRoot"),
            "{x}"
        );
        assert!(
            x.contains("<skipped message=\"uninstall &lt;detail&gt; &amp; &quot;more&quot;\"/>")
        );
        assert!(!x.contains("<detail>"));
    }

    #[test]
    fn html_grid_colours_and_links_each_cell() {
        let h = html(&sample());
        assert!(
            h.contains("<td class=\"pass\"><a href=\"#1.32-generic-online\""),
            "{h}"
        );
        assert!(h.contains("<td class=\"fail\"><a href=\"#1.32-k3s-airgapped\" title=\"pods &lt;refused&gt;\">fail: install</a>"), "{h}");
        assert!(h.contains("href=\"cells/1.32-k3s-airgapped/log.txt\""));
        assert!(h.contains("<strong>Fix:</strong> set runAsNonRoot"));
        // Self-contained: nothing loaded from elsewhere.
        assert!(!h.contains("<script") && !h.contains("http://") && !h.contains("https://"));
        assert_eq!(sample().failed(), 1);
        let j: serde_json::Value = serde_json::from_str(&json(&sample())).expect("json");
        assert_eq!(j["cells"][1]["failed_step"], "install");
    }
}
