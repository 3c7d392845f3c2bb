//! `berth lint`: read `berth.yaml` and every file it references, and report every problem at
//! once with file, line and column, what was expected, and how to fix it.

use crate::manifest::{Application, ItemType, SnapshotSpec};
use crate::problem::{Problem, Severity, did_you_mean};
use crate::schema_check;
use crate::when;
use crate::yaml::{self, Limits, Node, NodeKind, PathSeg, Pos, path_string};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// File names berth looks for in an application directory, in order.
pub const MANIFEST_NAMES: [&str; 2] = ["berth.yaml", "berth.yml"];

/// The outcome of linting one application.
#[derive(Debug, Clone)]
pub struct LintReport {
    /// The manifest file.
    pub file: PathBuf,
    /// Every problem found, errors first, then by file and position.
    pub problems: Vec<Problem>,
    /// The manifest, when it could be read (possibly with problems).
    pub app: Option<Application>,
}

impl LintReport {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count()
    }
}

/// Why an application could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The manifest has errors.
    #[error("{} has {} problem(s); run `berth lint {}` to see them:\n{}", .file.display(), .problems.len(), .dir.display(), .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The application directory.
        dir: PathBuf,
        /// The manifest file.
        file: PathBuf,
        /// The errors.
        problems: Vec<Problem>,
    },
}

/// An application read from its directory.
#[derive(Debug, Clone)]
pub struct LoadedApp {
    /// The directory holding berth.yaml; relative paths in the manifest start here.
    pub dir: PathBuf,
    /// The manifest.
    pub app: Application,
}

impl LoadedApp {
    /// Resolve a path written in the manifest.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
}

/// Load an application for use by an engine: lint it, and refuse it if it has errors.
pub fn load(dir: &Path) -> Result<LoadedApp, LoadError> {
    let report = lint_dir(dir);
    let errors: Vec<Problem> = report
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .cloned()
        .collect();
    match report.app {
        Some(app) if errors.is_empty() => Ok(LoadedApp {
            dir: dir.to_path_buf(),
            app,
        }),
        _ => Err(LoadError::Invalid {
            dir: dir.to_path_buf(),
            file: report.file,
            problems: errors,
        }),
    }
}

/// Lint the application in `dir` (or the manifest file `dir` itself).
pub fn lint_dir(dir: &Path) -> LintReport {
    let (dir, file) = if dir.is_file() {
        (
            dir.parent().unwrap_or(Path::new(".")).to_path_buf(),
            dir.to_path_buf(),
        )
    } else {
        let found = MANIFEST_NAMES
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file());
        match found {
            Some(f) => (dir.to_path_buf(), f),
            None => {
                let file = dir.join(MANIFEST_NAMES[0]);
                return LintReport {
                    problems: vec![Problem {
                        severity: Severity::Error,
                        code: "missing-manifest",
                        file: file.clone(),
                        pos: None,
                        field: String::new(),
                        message: format!("no berth.yaml in {}", dir.display()),
                        help: Some(format!("create one with `berth init {}`", dir.display())),
                    }],
                    file,
                    app: None,
                };
            }
        }
    };
    match std::fs::read(&file) {
        Ok(bytes) => lint_bytes(&bytes, &file, &dir),
        Err(e) => LintReport {
            problems: vec![Problem {
                severity: Severity::Error,
                code: "unreadable",
                file: file.clone(),
                pos: None,
                field: String::new(),
                message: format!("cannot read the file: {e}"),
                help: Some("check the path and its permissions".into()),
            }],
            file,
            app: None,
        },
    }
}

/// Lint manifest bytes; `dir` resolves the files the manifest references.
pub fn lint_bytes(bytes: &[u8], file: &Path, dir: &Path) -> LintReport {
    let mut ctx = Ctx {
        file: file.to_path_buf(),
        problems: Vec::new(),
        source: String::from_utf8_lossy(bytes).into_owned(),
    };
    let docs = match yaml::parse_bytes(bytes, &Limits::default()) {
        Ok(d) => d,
        Err(e) => {
            ctx.error(
                e.pos(),
                "",
                "invalid-yaml",
                strip_pos(&e),
                Some(yaml_help(&e)),
            );
            return ctx.finish(None);
        }
    };
    let root = match docs.len() {
        0 => {
            ctx.error(
                Some(Pos { line: 1, column: 1 }),
                "",
                "empty",
                "the file is empty".into(),
                Some("start from `berth init`".into()),
            );
            return ctx.finish(None);
        }
        1 => &docs[0],
        _ => {
            ctx.error(
                Some(docs[1].pos),
                "",
                "multiple-documents",
                "berth.yaml must hold exactly one YAML document".into(),
                Some("remove the `---` separator and the second document".into()),
            );
            &docs[0]
        }
    };
    // Generating the schema walks every type; do it once per process.
    static SCHEMA: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    let schema = SCHEMA.get_or_init(Application::json_schema);
    let issues = schema_check::check(root, schema);
    let blocking = issues.iter().any(|i| !i.droppable);
    for i in &issues {
        ctx.error(
            Some(i.pos),
            &path_string(&i.path),
            i.code,
            i.message.clone(),
            i.help.clone(),
        );
    }
    // Drop the offending parts so the rest can still be checked for meaning.
    let mut json = root.to_json();
    for i in &issues {
        if let Some(r) = &i.replacement {
            replace_path(&mut json, &i.path, r.clone());
        } else if i.droppable {
            remove_path(&mut json, &i.path);
        }
    }
    let app: Option<Application> = if blocking && issues.iter().any(|i| i.path.len() <= 1) {
        None
    } else {
        serde_json::from_value(json).ok()
    };
    if let Some(app) = &app {
        semantic(app, root, dir, &mut ctx);
    }
    ctx.finish(app)
}

fn strip_pos(e: &yaml::YamlError) -> String {
    let s = e.to_string();
    match e.pos() {
        Some(p) => s.strip_prefix(&format!("{p}: ")).unwrap_or(&s).to_string(),
        None => s,
    }
}

fn yaml_help(e: &yaml::YamlError) -> String {
    match e {
        yaml::YamlError::Syntax { .. } => {
            "check indentation (spaces, not tabs), closing brackets and quotes near this position"
                .into()
        }
        yaml::YamlError::NotUtf8 { .. } => "save the file as UTF-8 text".into(),
        yaml::YamlError::TooLarge { .. } => {
            "berth.yaml should be small; move data into referenced files".into()
        }
        yaml::YamlError::Budget { .. } => {
            "write the repeated values out instead of nesting aliases".into()
        }
    }
}

/// The JSON node at `path`, if it exists.
fn node_mut<'a>(
    json: &'a mut serde_json::Value,
    path: &[PathSeg],
) -> Option<&'a mut serde_json::Value> {
    let mut cur = json;
    for seg in path {
        cur = match (seg, cur) {
            (PathSeg::Key(k), serde_json::Value::Object(m)) => m.get_mut(k)?,
            (PathSeg::Index(i), serde_json::Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn replace_path(json: &mut serde_json::Value, path: &[PathSeg], value: serde_json::Value) {
    if let Some(node) = node_mut(json, path) {
        *node = value;
    }
}

fn remove_path(json: &mut serde_json::Value, path: &[PathSeg]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    match (last, node_mut(json, parents)) {
        (PathSeg::Key(k), Some(serde_json::Value::Object(m))) => {
            m.shift_remove(k);
        }
        (PathSeg::Index(i), Some(serde_json::Value::Array(a))) => {
            // Keep indexes stable for later removals: replace rather than shift.
            if let Some(v) = a.get_mut(*i) {
                *v = serde_json::Value::Null;
            }
        }
        _ => {}
    }
}

struct Ctx {
    file: PathBuf,
    problems: Vec<Problem>,
    /// The manifest's text, to place positions inside quoted scalars.
    source: String,
}

impl Ctx {
    fn push(
        &mut self,
        severity: Severity,
        pos: Option<Pos>,
        field: &str,
        code: &'static str,
        message: String,
        help: Option<String>,
    ) {
        self.problems.push(Problem {
            severity,
            code,
            file: self.file.clone(),
            pos,
            field: field.to_string(),
            message,
            help,
        });
    }
    fn error(
        &mut self,
        pos: Option<Pos>,
        field: &str,
        code: &'static str,
        message: String,
        help: Option<String>,
    ) {
        self.push(Severity::Error, pos, field, code, message, help);
    }
    fn warn(
        &mut self,
        pos: Option<Pos>,
        field: &str,
        code: &'static str,
        message: String,
        help: Option<String>,
    ) {
        self.push(Severity::Warning, pos, field, code, message, help);
    }
    fn finish(mut self, app: Option<Application>) -> LintReport {
        self.problems.sort_by(|a, b| {
            (a.file.clone(), a.pos, a.severity).cmp(&(b.file.clone(), b.pos, b.severity))
        });
        self.problems.dedup();
        LintReport {
            file: self.file,
            problems: self.problems,
            app,
        }
    }
}

/// Paths into the manifest, built the way the schema check builds them.
fn p(parts: &[&dyn PathPart]) -> Vec<PathSeg> {
    parts.iter().map(|x| x.seg()).collect()
}

trait PathPart {
    fn seg(&self) -> PathSeg;
}
impl PathPart for &str {
    fn seg(&self) -> PathSeg {
        PathSeg::Key((*self).to_string())
    }
}
impl PathPart for usize {
    fn seg(&self) -> PathSeg {
        PathSeg::Index(*self)
    }
}

/// Position of the node at `path`, or of its nearest existing parent.
fn pos_at(root: &Node, path: &[PathSeg]) -> Option<Pos> {
    (0..=path.len())
        .rev()
        .find_map(|n| root.at(&path[..n]).map(|n| n.pos))
}

/// The position inside a one-line scalar of a character offset (for `when` errors); a quoted
/// scalar's text starts one column after its opening quote.
fn pos_in_scalar(root: &Node, path: &[PathSeg], offset: usize, source: &str) -> Option<Pos> {
    let node = root.at(path)?;
    match &node.kind {
        NodeKind::Str(s) if !s.contains('\n') => {
            let quoted = source
                .lines()
                .nth(node.pos.line.saturating_sub(1))
                .and_then(|l| l.chars().nth(node.pos.column.saturating_sub(1)))
                .is_some_and(|c| c == '"' || c == '\'');
            Some(Pos {
                line: node.pos.line,
                column: node.pos.column + offset + usize::from(quoted),
            })
        }
        _ => Some(node.pos),
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn dns_help(s: &str) -> String {
    let fixed: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .chars()
        .take(63)
        .collect();
    if fixed.is_empty() {
        "use lowercase letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters".into()
    } else {
        format!("use lowercase letters, digits and `-` (at most 63 characters), e.g. `{fixed}`")
    }
}

/// A plausible container image reference: `[registry/]repo[:tag][@sha256:...]`.
pub fn is_image_ref(s: &str) -> bool {
    let re = regex::Regex::new(
        r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$",
    );
    re.is_ok_and(|r| r.is_match(s))
}

fn semantic(app: &Application, root: &Node, dir: &Path, ctx: &mut Ctx) {
    // metadata
    let name_path = p(&[&"metadata", &"name"]);
    if !is_dns_label(&app.metadata.name) {
        ctx.error(
            pos_at(root, &name_path),
            "metadata.name",
            "invalid-name",
            format!(
                "application name `{}` is not a DNS label",
                app.metadata.name
            ),
            Some(dns_help(&app.metadata.name)),
        );
    }
    if let Some(v) = &app.metadata.version
        && semver::Version::parse(v).is_err()
    {
        ctx.error(
            pos_at(root, &p(&[&"metadata", &"version"])),
            "metadata.version",
            "invalid-version",
            format!("`{v}` is not a semantic version"),
            Some("write MAJOR.MINOR.PATCH, e.g. `1.4.0`".into()),
        );
    }
    if let Some(icon) = &app.metadata.icon {
        check_file(ctx, root, dir, &p(&[&"metadata", &"icon"]), icon, false);
    }

    // components
    if app.spec.components.is_empty() {
        ctx.warn(
            pos_at(root, &p(&[&"spec"])),
            "spec.components",
            "no-components",
            "the application has no components, so installing it does nothing".into(),
            Some("add a component with a `chart:` or `manifests:` source".into()),
        );
    }
    let item_names: Vec<&str> = app.config_items().map(|(_, i)| i.name.as_str()).collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (ci, c) in app.spec.components.iter().enumerate() {
        let base = p(&[&"spec", &"components", &ci]);
        let field = |f: &str| format!("spec.components[{ci}].{f}");
        let at = |f: &str| {
            let mut v = base.clone();
            v.push(PathSeg::Key(f.into()));
            v
        };
        if !is_dns_label(&c.name) {
            ctx.error(
                pos_at(root, &at("name")),
                &field("name"),
                "invalid-name",
                format!("component name `{}` is not a DNS label", c.name),
                Some(dns_help(&c.name)),
            );
        }
        if let Some(first) = seen.insert(c.name.as_str(), ci) {
            ctx.error(
                pos_at(root, &at("name")),
                &field("name"),
                "duplicate-name",
                format!(
                    "component name `{}` is already used by spec.components[{first}]",
                    c.name
                ),
                Some("give every component its own name".into()),
            );
        }
        match (&c.chart, &c.manifests) {
            (None, None) => ctx.error(pos_at(root, &base), &format!("spec.components[{ci}]"), "missing-source",
                format!("component `{}` has neither `chart` nor `manifests`", c.name),
                Some("add `chart: {path: ...}` or `manifests: {path: ...}`".into())),
            (Some(_), Some(_)) => ctx.error(pos_at(root, &at("manifests")), &field("manifests"), "conflicting-source",
                format!("component `{}` has both `chart` and `manifests`", c.name),
                Some("a component is one chart or one manifest directory; split it into two components".into())),
            _ => {}
        }
        if let Some(ch) = &c.chart {
            let cp = at("chart");
            match (&ch.path, &ch.repo) {
                (Some(path), None) => {
                    let mut pp = cp.clone();
                    pp.push(PathSeg::Key("path".into()));
                    let full = dir.join(path);
                    if check_file(ctx, root, dir, &pp, path, true) {
                        if full.is_dir() && !full.join("Chart.yaml").is_file() {
                            ctx.error(pos_at(root, &pp), &field("chart.path"), "not-a-chart",
                                format!("`{path}` is a directory without Chart.yaml"),
                                Some("point at a Helm chart directory (one holding Chart.yaml) or a packaged .tgz".into()));
                        } else if full.is_file()
                            && !path.ends_with(".tgz")
                            && !path.ends_with(".tar.gz")
                        {
                            ctx.error(
                                pos_at(root, &pp),
                                &field("chart.path"),
                                "not-a-chart",
                                format!("`{path}` is a file but not a .tgz chart archive"),
                                Some("use the chart directory or a `helm package` .tgz".into()),
                            );
                        }
                    }
                    for extra in ["version", "name"] {
                        let v = if extra == "version" {
                            &ch.version
                        } else {
                            &ch.name
                        };
                        if v.is_some() {
                            ctx.warn(
                                pos_at(
                                    root,
                                    &[cp.clone(), vec![PathSeg::Key(extra.into())]].concat(),
                                ),
                                &field(&format!("chart.{extra}")),
                                "ignored-field",
                                format!("`{extra}` is ignored for a local chart `path`"),
                                Some(format!("remove `{extra}`")),
                            );
                        }
                    }
                }
                (None, Some(repo)) => {
                    let rp = [cp.clone(), vec![PathSeg::Key("repo".into())]].concat();
                    if !(repo.starts_with("oci://") || repo.starts_with("https://")) {
                        ctx.error(pos_at(root, &rp), &field("chart.repo"), "invalid-repo",
                            format!("chart repository `{repo}` must start with oci:// or https://"),
                            Some("e.g. `oci://registry.example.com/charts/myapp` or `https://charts.example.com`".into()));
                    }
                    match &ch.version {
                        None => ctx.error(
                            pos_at(root, &cp),
                            &field("chart"),
                            "missing-field",
                            "a remote chart needs an exact `version`".into(),
                            Some("add `version: 1.2.3`".into()),
                        ),
                        Some(v) if semver::Version::parse(v.trim_start_matches('v')).is_err() => {
                            ctx.error(
                                pos_at(
                                    root,
                                    &[cp.clone(), vec![PathSeg::Key("version".into())]].concat(),
                                ),
                                &field("chart.version"),
                                "invalid-version",
                                format!("chart version `{v}` is not an exact semantic version"),
                                Some("pin an exact version, e.g. `1.2.3`".into()),
                            )
                        }
                        _ => {}
                    }
                    if repo.starts_with("https://") && ch.name.is_none() {
                        ctx.error(
                            pos_at(root, &cp),
                            &field("chart"),
                            "missing-field",
                            "a chart from an https:// repository needs its `name`".into(),
                            Some("add `name: <chart name in the repository index>`".into()),
                        );
                    }
                }
                (None, None) => ctx.error(
                    pos_at(root, &cp),
                    &field("chart"),
                    "missing-source",
                    "the chart has neither `path` nor `repo`".into(),
                    Some("add `path: charts/myapp` or `repo: oci://...` with `version:`".into()),
                ),
                (Some(_), Some(_)) => ctx.error(
                    pos_at(root, &cp),
                    &field("chart"),
                    "conflicting-source",
                    "the chart has both `path` and `repo`".into(),
                    Some("keep one of them".into()),
                ),
            }
            if let Some(pr) = &ch.post_renderer {
                let pp = [cp.clone(), vec![PathSeg::Key("postRenderer".into())]].concat();
                check_post_renderer(pr, &c.name, root, dir, &pp, ctx);
            }
        }
        if let Some(m) = &c.manifests {
            let mp = [at("manifests"), vec![PathSeg::Key("path".into())]].concat();
            if check_file(ctx, root, dir, &mp, &m.path, true) && !dir.join(&m.path).is_dir() {
                ctx.error(
                    pos_at(root, &mp),
                    &field("manifests.path"),
                    "not-a-directory",
                    format!("`{}` is not a directory", m.path),
                    Some("point at a directory of YAML manifests".into()),
                );
            }
        }
        if let Some(ns) = &c.namespace
            && !is_dns_label(ns)
        {
            ctx.error(
                pos_at(root, &at("namespace")),
                &field("namespace"),
                "invalid-name",
                format!("namespace `{ns}` is not a DNS label"),
                Some(dns_help(ns)),
            );
        }
        if let Some(rn) = &c.release_name
            && (!is_dns_label(rn) || rn.len() > 53)
        {
            ctx.error(pos_at(root, &at("releaseName")), &field("releaseName"), "invalid-name",
                format!("release name `{rn}` must be a DNS label of at most 53 characters (Helm's limit)"),
                Some(dns_help(rn)));
        }
        if c.values.is_some() && c.chart.is_none() {
            ctx.warn(
                pos_at(root, &at("values")),
                &field("values"),
                "ignored-field",
                "`values` only applies to chart components".into(),
                Some("remove it, or make the component a chart".into()),
            );
        }
        if let Some(e) = &c.expose {
            check_expose(ctx, root, &at("expose"), &field("expose"), e, &item_names);
        }
        if let Some(w) = &c.when {
            check_when(ctx, root, &at("when"), &field("when"), w, &item_names);
        }
    }

    // config
    let mut groups: HashMap<&str, usize> = HashMap::new();
    let mut items: HashMap<&str, (usize, usize)> = HashMap::new();
    for (gi, g) in app.spec.config.iter().enumerate() {
        let gp = p(&[&"spec", &"config", &gi]);
        if let Some(first) = groups.insert(g.name.as_str(), gi) {
            ctx.error(
                pos_at(
                    root,
                    &[gp.clone(), vec![PathSeg::Key("name".into())]].concat(),
                ),
                &format!("spec.config[{gi}].name"),
                "duplicate-name",
                format!(
                    "config group `{}` is already defined at spec.config[{first}]",
                    g.name
                ),
                Some("give every group its own name".into()),
            );
        }
        if let Some(w) = &g.when {
            check_when(
                ctx,
                root,
                &[gp.clone(), vec![PathSeg::Key("when".into())]].concat(),
                &format!("spec.config[{gi}].when"),
                w,
                &item_names,
            );
        }
        for (ii, it) in g.items.iter().enumerate() {
            let ip = [
                gp.clone(),
                vec![PathSeg::Key("items".into()), PathSeg::Index(ii)],
            ]
            .concat();
            let at = |f: &str| [ip.clone(), vec![PathSeg::Key(f.into())]].concat();
            let field = |f: &str| format!("spec.config[{gi}].items[{ii}].{f}");
            if let Some((fg, fi)) = items.insert(it.name.as_str(), (gi, ii)) {
                ctx.error(
                    pos_at(root, &at("name")),
                    &field("name"),
                    "duplicate-name",
                    format!(
                        "config item `{}` is already defined at spec.config[{fg}].items[{fi}]",
                        it.name
                    ),
                    Some("item names are shared by all groups; rename one of them".into()),
                );
            }
            if !it
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
                || it.name.starts_with(|c: char| c.is_ascii_digit())
            {
                ctx.error(pos_at(root, &at("name")), &field("name"), "invalid-name",
                    format!("config item name `{}` cannot be used in templates", it.name),
                    Some("use letters, digits and `_`, starting with a letter (templates read `.Config.<name>`)".into()));
            }
            if it.item_type == ItemType::Select {
                if it.options.is_empty() {
                    ctx.error(
                        pos_at(root, &ip),
                        &format!("spec.config[{gi}].items[{ii}]"),
                        "missing-options",
                        format!("select item `{}` has no `options`", it.name),
                        Some("add `options:` with a `value:` for each choice".into()),
                    );
                }
                if let Some(crate::manifest::ScalarValue::String(d)) = &it.default
                    && !it.options.is_empty()
                    && !it.options.iter().any(|o| &o.value == d)
                {
                    let vals: Vec<&str> = it.options.iter().map(|o| o.value.as_str()).collect();
                    ctx.error(
                        pos_at(root, &at("default")),
                        &field("default"),
                        "invalid-default",
                        format!(
                            "default `{d}` is not one of the options ({})",
                            vals.join(", ")
                        ),
                        did_you_mean(d, vals.iter().copied())
                            .map(|c| format!("did you mean `{c}`?")),
                    );
                }
            } else if !it.options.is_empty() {
                ctx.warn(
                    pos_at(root, &at("options")),
                    &field("options"),
                    "ignored-field",
                    "`options` only applies to `type: select`".into(),
                    Some("remove it or set `type: select`".into()),
                );
            }
            if let Some(d) = &it.default {
                use crate::manifest::ScalarValue as S;
                let ok = matches!(
                    (it.item_type, d),
                    (ItemType::Bool, S::Bool(_))
                        | (ItemType::Number, S::Number(_))
                        | (
                            ItemType::Text
                                | ItemType::Textarea
                                | ItemType::Password
                                | ItemType::Select
                                | ItemType::File,
                            S::String(_)
                        )
                        | (ItemType::Text | ItemType::Textarea, S::Number(_))
                );
                if !ok {
                    ctx.error(
                        pos_at(root, &at("default")),
                        &field("default"),
                        "wrong-type",
                        format!(
                            "default of a `{}` item must be {}",
                            format!("{:?}", it.item_type).to_lowercase(),
                            match it.item_type {
                                ItemType::Bool => "true or false",
                                ItemType::Number => "a number",
                                _ => "text",
                            }
                        ),
                        Some("change the default or the item's `type`".into()),
                    );
                }
                if it.item_type == ItemType::Password {
                    ctx.warn(
                        pos_at(root, &at("default")),
                        &field("default"),
                        "password-default",
                        "a password with a fixed default is the same at every customer".into(),
                        Some("use `generated: {type: password}` to make one per install".into()),
                    );
                }
            }
            if it.generated.is_some()
                && !matches!(it.item_type, ItemType::Text | ItemType::Password)
            {
                ctx.error(
                    pos_at(root, &at("generated")),
                    &field("generated"),
                    "invalid-generated",
                    "generated values are text; use them on `text` or `password` items".into(),
                    None,
                );
            }
            if let Some(v) = &it.validation {
                let vp = at("validation");
                if let Some(re) = &v.regex
                    && let Err(e) = regex::Regex::new(re)
                {
                    let first = e
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .trim()
                        .to_string();
                    ctx.error(
                        pos_at(
                            root,
                            &[vp.clone(), vec![PathSeg::Key("regex".into())]].concat(),
                        ),
                        &field("validation.regex"),
                        "invalid-regex",
                        format!("invalid regular expression `{re}`: {first}"),
                        Some(
                            "fix the pattern (Rust/RE2 syntax: no look-around or back-references)"
                                .into(),
                        ),
                    );
                }
                if v.regex.is_none() && v.message.is_some() {
                    ctx.warn(
                        pos_at(root, &vp),
                        &field("validation.message"),
                        "ignored-field",
                        "`message` is shown only when `regex` fails, and there is no `regex`"
                            .into(),
                        None,
                    );
                }
                if let (Some(a), Some(b)) = (v.min, v.max)
                    && a > b
                {
                    ctx.error(
                        pos_at(root, &vp),
                        &field("validation"),
                        "invalid-range",
                        format!("`min` ({a}) is greater than `max` ({b})"),
                        Some("swap them".into()),
                    );
                }
                if let (Some(a), Some(b)) = (v.min_length, v.max_length)
                    && a > b
                {
                    ctx.error(
                        pos_at(root, &vp),
                        &field("validation"),
                        "invalid-range",
                        format!("`minLength` ({a}) is greater than `maxLength` ({b})"),
                        Some("swap them".into()),
                    );
                }
                if (v.min.is_some() || v.max.is_some()) && it.item_type != ItemType::Number {
                    ctx.warn(
                        pos_at(root, &vp),
                        &field("validation"),
                        "ignored-field",
                        "`min`/`max` only apply to `type: number`".into(),
                        Some("use `minLength`/`maxLength` for text".into()),
                    );
                }
            }
            if let Some(w) = &it.when {
                check_when(ctx, root, &at("when"), &field("when"), w, &item_names);
            }
        }
    }
    check_cycles(app, root, ctx);

    // images
    for (i, img) in app.spec.images.iter().enumerate() {
        if !is_image_ref(img) {
            ctx.error(pos_at(root, &p(&[&"spec", &"images", &i])), &format!("spec.images[{i}]"), "invalid-image",
                format!("`{img}` is not a valid image reference"),
                Some("write `[registry/]repository[:tag][@sha256:digest]`, e.g. `docker.io/library/busybox:1.36`".into()));
        }
    }

    // compatibility
    if let Some(c) = &app.spec.compatibility
        && let Some(k) = &c.kubernetes
        && semver::VersionReq::parse(k).is_err()
    {
        ctx.error(
            pos_at(root, &p(&[&"spec", &"compatibility", &"kubernetes"])),
            "spec.compatibility.kubernetes",
            "invalid-range",
            format!("`{k}` is not a semver range"),
            Some("e.g. `>=1.27.0, <1.35.0`".into()),
        );
    }

    // upgrades
    if let Some(u) = &app.spec.upgrades {
        let current = app
            .metadata
            .version
            .as_deref()
            .and_then(|v| semver::Version::parse(v).ok());
        if let Some(m) = &u.minimum_version {
            let mp = p(&[&"spec", &"upgrades", &"minimumVersion"]);
            match semver::Version::parse(m) {
                Err(_) => ctx.error(
                    pos_at(root, &mp),
                    "spec.upgrades.minimumVersion",
                    "invalid-version",
                    format!("`{m}` is not a semantic version"),
                    Some("write MAJOR.MINOR.PATCH, e.g. `1.0.0`".into()),
                ),
                Ok(mv) => {
                    if current.as_ref().is_some_and(|c| &mv > c) {
                        ctx.error(
                            pos_at(root, &mp),
                            "spec.upgrades.minimumVersion",
                            "invalid-version",
                            format!(
                                "minimumVersion {m} is newer than this version {}",
                                app.metadata.version.as_deref().unwrap_or("")
                            ),
                            Some("it must be at most metadata.version".into()),
                        );
                    }
                }
            }
        }
        for (i, r) in u.required.iter().enumerate() {
            let rp = p(&[&"spec", &"upgrades", &"required", &i]);
            match semver::Version::parse(r) {
                Err(_) => ctx.error(
                    pos_at(root, &rp),
                    &format!("spec.upgrades.required[{i}]"),
                    "invalid-version",
                    format!("`{r}` is not a semantic version"),
                    Some("write MAJOR.MINOR.PATCH".into()),
                ),
                Ok(rv) => {
                    if current.as_ref().is_some_and(|c| &rv >= c) {
                        ctx.error(
                            pos_at(root, &rp),
                            &format!("spec.upgrades.required[{i}]"),
                            "invalid-version",
                            format!("required release {r} is not older than this version"),
                            Some("list only earlier releases that may not be skipped".into()),
                        );
                    }
                }
            }
        }
    }

    if let Some(sn) = &app.spec.snapshot {
        check_snapshot_hooks(sn, root, ctx);
    }

    // checks
    if let Some(ch) = &app.spec.checks {
        let lists: [(&str, &Vec<String>, &[&str]); 4] = [
            ("preflights", &ch.preflights, &["Preflight"]),
            ("hostPreflights", &ch.host_preflights, &["HostPreflight"]),
            ("supportBundles", &ch.support_bundles, &["SupportBundle"]),
            ("redactors", &ch.redactors, &["Redactor"]),
        ];
        for (key, files, kinds) in lists {
            for (i, f) in files.iter().enumerate() {
                let fp = p(&[&"spec", &"checks", &key, &i]);
                if check_file(ctx, root, dir, &fp, f, false) {
                    check_troubleshoot_file(ctx, &dir.join(f), kinds);
                }
            }
        }
    }
}

/// `spec.snapshot.hooks`: names, exactly one of job and exec, a job's image, command and
/// mounts, an exec hook's selector, container and command.
fn check_snapshot_hooks(sn: &SnapshotSpec, root: &Node, ctx: &mut Ctx) {
    for (phase, hooks) in [("pre", &sn.hooks.pre), ("post", &sn.hooks.post)] {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, h) in hooks.iter().enumerate() {
            let at = |f: &[&str]| {
                let mut v = p(&[&"spec", &"snapshot", &"hooks", &phase, &i]);
                v.extend(f.iter().map(|k| PathSeg::Key((*k).into())));
                v
            };
            let field = |f: &str| {
                let base = format!("spec.snapshot.hooks.{phase}[{i}]");
                if f.is_empty() {
                    base
                } else {
                    format!("{base}.{f}")
                }
            };
            if !is_dns_label(&h.name) {
                ctx.error(
                    pos_at(root, &at(&["name"])),
                    &field("name"),
                    "invalid-name",
                    format!("hook name `{}` is not a DNS label", h.name),
                    Some(dns_help(&h.name)),
                );
            }
            if let Some(first) = seen.insert(h.name.as_str(), i) {
                ctx.error(
                    pos_at(root, &at(&["name"])),
                    &field("name"),
                    "duplicate-name",
                    format!("{phase} hook `{}` is also hook {first}", h.name),
                    Some("give each hook its own name".into()),
                );
            }
            if let Some(s) = h.timeout_seconds
                && s == 0
            {
                ctx.error(
                    pos_at(root, &at(&["timeoutSeconds"])),
                    &field("timeoutSeconds"),
                    "out-of-range",
                    "timeoutSeconds is 0".into(),
                    Some("give the seconds the hook may run, e.g. 600 (the default)".into()),
                );
            }
            match (&h.job, &h.exec) {
                (Some(_), Some(_)) | (None, None) => ctx.error(
                    pos_at(root, &at(&[])),
                    &field(""),
                    "invalid-hook",
                    format!(
                        "{phase} hook `{}` needs exactly one of `job` and `exec`",
                        h.name
                    ),
                    Some("write `job: {image: …, command: [...]}`".into()),
                ),
                (None, Some(e)) => check_exec_hook(e, phase, &h.name, root, &at, &field, ctx),
                (Some(j), None) => {
                    if !is_image_ref(&j.image) {
                        ctx.error(
                            pos_at(root, &at(&["job", "image"])),
                            &field("job.image"),
                            "invalid-image",
                            format!("`{}` is not an image reference", j.image),
                            Some("write registry/repository:tag, e.g. `postgres:16`".into()),
                        );
                    }
                    if j.command.is_empty() || j.command[0].trim().is_empty() {
                        ctx.error(
                            pos_at(root, &at(&["job", "command"])),
                            &field("job.command"),
                            "invalid-hook",
                            format!("{phase} hook `{}`: the command is empty", h.name),
                            Some("give the program and its arguments, e.g. [pg_dump, -f, /data/dump.sql]".into()),
                        );
                    }
                    for (m, mount) in j.mounts.iter().enumerate() {
                        let mf = |f: &str| format!("job.mounts[{m}].{f}");
                        let mut mp = at(&["job", "mounts"]);
                        mp.push(PathSeg::Index(m));
                        if !mount.mount_path.starts_with('/') {
                            let mut pp = mp.clone();
                            pp.push(PathSeg::Key("mountPath".into()));
                            ctx.error(
                                pos_at(root, &pp),
                                &field(&mf("mountPath")),
                                "invalid-value",
                                format!("mountPath `{}` is not absolute", mount.mount_path),
                                Some("write an absolute path, e.g. /data".into()),
                            );
                        }
                        if mount.claim.is_empty() {
                            let mut cp = mp.clone();
                            cp.push(PathSeg::Key("claim".into()));
                            ctx.error(
                                pos_at(root, &cp),
                                &field(&mf("claim")),
                                "missing-field",
                                "the mount names no claim".into(),
                                Some(
                                    "give the PersistentVolumeClaim's name in the app's namespace"
                                        .into(),
                                ),
                            );
                        }
                    }
                }
            }
        }
    }
}

/// An exec hook: a selector of at least one valid label, a DNS-label container when given,
/// a command.
fn check_exec_hook(
    e: &crate::manifest::HookExec,
    phase: &str,
    name: &str,
    root: &Node,
    at: &dyn Fn(&[&str]) -> Vec<PathSeg>,
    field: &dyn Fn(&str) -> String,
    ctx: &mut Ctx,
) {
    if e.selector.is_empty() {
        ctx.error(
            pos_at(root, &at(&["exec", "selector"])),
            &field("exec.selector"),
            "invalid-hook",
            format!("{phase} hook `{name}`: the selector names no label"),
            Some("give the labels of the pod to run in, e.g. `selector: {app.kubernetes.io/name: postgresql}`".into()),
        );
    }
    for (k, v) in &e.selector {
        if !is_label_key(k) || !is_label_value(v) {
            ctx.error(
                pos_at(root, &at(&["exec", "selector"])),
                &field("exec.selector"),
                "invalid-hook",
                format!("{phase} hook `{name}`: `{k}: {v}` is not a valid label"),
                Some("label keys are `[prefix/]name` and values at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit".into()),
            );
        }
    }
    if let Some(c) = &e.container
        && !is_dns_label(c)
    {
        ctx.error(
            pos_at(root, &at(&["exec", "container"])),
            &field("exec.container"),
            "invalid-hook",
            format!("{phase} hook `{name}`: container `{c}` is not a DNS label"),
            Some(dns_help(c)),
        );
    }
    if e.command.is_empty() || e.command[0].trim().is_empty() {
        ctx.error(
            pos_at(root, &at(&["exec", "command"])),
            &field("exec.command"),
            "invalid-hook",
            format!("{phase} hook `{name}`: the command is empty"),
            Some("give the program and its arguments, e.g. [sh, -c, \"pg_dump -f /data/dump.sql app\"]".into()),
        );
    }
}

/// A post-renderer's program must exist: a file below the app directory when the command
/// holds a `/`, else a name found on PATH.
fn check_post_renderer(
    pr: &crate::manifest::PostRenderer,
    component: &str,
    root: &Node,
    dir: &Path,
    at: &[PathSeg],
    ctx: &mut Ctx,
) {
    let cmd = [at.to_vec(), vec![PathSeg::Key("command".into())]].concat();
    if pr.command.trim().is_empty() {
        ctx.error(
            pos_at(root, &cmd),
            &path_string(&cmd),
            "missing-field",
            format!("component `{component}`: the post-renderer's command is empty"),
            Some("name a program: a path relative to berth.yaml or a name on PATH".into()),
        );
        return;
    }
    if pr.command.contains('/') {
        check_file(ctx, root, dir, &cmd, &pr.command, false);
        return;
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(&pr.command).is_file()))
        .unwrap_or(false);
    if !on_path {
        ctx.error(
            pos_at(root, &cmd),
            &path_string(&cmd),
            "missing-file",
            format!(
                "component `{component}`: post-renderer `{}` is not on PATH",
                pr.command
            ),
            Some("install the program, or ship it in the app and write its path (`scripts/post-render.sh`)".into()),
        );
    }
}

/// A label value: empty, or at most 63 letters, digits, `-`, `_`, `.` starting and ending
/// with a letter or digit.
fn is_label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric())
}

/// A label key: `[prefix/]name`, the prefix a DNS subdomain, the name a non-empty label value.
fn is_label_key(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    let prefix_ok =
        prefix.is_none_or(|p| !p.is_empty() && p.len() <= 253 && p.split('.').all(is_dns_label));
    prefix_ok && !name.is_empty() && is_label_value(name)
}

fn check_file(
    ctx: &mut Ctx,
    root: &Node,
    dir: &Path,
    path: &[PathSeg],
    rel: &str,
    allow_dir: bool,
) -> bool {
    let field = path_string(path);
    if Path::new(rel).is_absolute()
        || Path::new(rel)
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        ctx.error(
            pos_at(root, path),
            &field,
            "path-outside-app",
            format!("`{rel}` points outside the application directory"),
            Some("use a path relative to berth.yaml, inside its directory".into()),
        );
        return false;
    }
    let full = dir.join(rel);
    let exists = if allow_dir {
        full.exists()
    } else {
        full.is_file()
    };
    if !exists {
        let hint = std::fs::read_dir(full.parent().unwrap_or(dir))
            .ok()
            .and_then(|rd| {
                let names: Vec<String> = rd
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                let base = full.file_name()?.to_string_lossy().into_owned();
                did_you_mean(&base, names.iter().map(String::as_str)).map(|s| s.to_string())
            });
        ctx.error(
            pos_at(root, path),
            &field,
            "missing-file",
            format!("`{rel}` does not exist (looked in {})", dir.display()),
            Some(match hint {
                Some(h) => format!("did you mean `{h}`?"),
                None => "create the file or fix the path".into(),
            }),
        );
        return false;
    }
    // The manifest may not reach outside the app through a link, at the path itself or
    // anywhere inside a referenced directory: a release holds only the app's own files.
    let leaving = links_leaving_app(dir, &full);
    for (link, target) in leaving.iter().take(5) {
        let shown = link.strip_prefix(dir).unwrap_or(link);
        ctx.error(
            pos_at(root, path),
            &field,
            "link-outside-app",
            format!(
                "`{}` is a link to {} outside the application directory",
                shown.display(),
                target.display()
            ),
            Some("copy the files into the application directory instead of linking to them".into()),
        );
    }
    leaving.is_empty()
}

/// The links at or below `path` whose target lies outside `app`, with where they lead. Links that stay inside the app are followed, once per directory.
pub fn links_leaving_app(app: &Path, path: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let Ok(root) = app.canonicalize() else {
        return out;
    };
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let real = if meta.file_type().is_symlink() {
            match p.canonicalize() {
                Ok(r) if r.starts_with(&root) => r,
                Ok(r) => {
                    out.push((p, r));
                    continue;
                }
                // A dangling link: loading the chart or manifests reports it.
                Err(_) => continue,
            }
        } else {
            p.clone()
        };
        if real.is_dir()
            && seen.insert(real.canonicalize().unwrap_or(real.clone()))
            && let Ok(rd) = std::fs::read_dir(&p)
        {
            let mut children: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            children.sort();
            stack.extend(children.into_iter().rev());
        }
    }
    out.sort();
    out
}

fn check_troubleshoot_file(ctx: &mut Ctx, path: &Path, kinds: &[&str]) {
    let saved = std::mem::replace(&mut ctx.file, path.to_path_buf());
    match std::fs::read(path) {
        Err(e) => ctx.error(
            None,
            "",
            "unreadable",
            format!("cannot read the file: {e}"),
            None,
        ),
        Ok(bytes) => match yaml::parse_bytes(&bytes, &Limits::default()) {
            Err(e) => ctx.error(
                e.pos(),
                "",
                "invalid-yaml",
                strip_pos(&e),
                Some(yaml_help(&e)),
            ),
            Ok(docs) => {
                if docs.is_empty() {
                    ctx.error(
                        Some(Pos { line: 1, column: 1 }),
                        "",
                        "empty",
                        "the file is empty".into(),
                        None,
                    );
                }
                for d in &docs {
                    let api = d.get("apiVersion").and_then(|n| match &n.kind {
                        NodeKind::Str(s) => Some(s.as_str()),
                        _ => None,
                    });
                    let kind = d.get("kind").and_then(|n| match &n.kind {
                        NodeKind::Str(s) => Some(s.as_str()),
                        _ => None,
                    });
                    match api {
                        Some("troubleshoot.sh/v1beta2") | Some("troubleshoot.sh/v1beta3") => {}
                        other => ctx.error(
                            Some(d.get("apiVersion").map_or(d.pos, |n| n.pos)),
                            "apiVersion",
                            "invalid-check",
                            format!(
                                "expected apiVersion troubleshoot.sh/v1beta2, found {}",
                                other.map_or("nothing".to_string(), |s| format!("`{s}`"))
                            ),
                            Some("checks are troubleshoot.sh/v1beta2 specs".into()),
                        ),
                    }
                    match kind {
                        Some(k) if kinds.contains(&k) => {}
                        other => ctx.error(
                            Some(d.get("kind").map_or(d.pos, |n| n.pos)),
                            "kind",
                            "invalid-check",
                            format!(
                                "expected kind {}, found {}",
                                kinds.join(" or "),
                                other.map_or("nothing".to_string(), |s| format!("`{s}`"))
                            ),
                            Some("list the file under the matching key of spec.checks".into()),
                        ),
                    }
                }
            }
        },
    }
    ctx.file = saved;
}

fn check_when(
    ctx: &mut Ctx,
    root: &Node,
    path: &[PathSeg],
    field: &str,
    src: &str,
    items: &[&str],
) {
    match when::parse(src) {
        Err(e) => ctx.error(
            pos_in_scalar(root, path, e.offset, &ctx.source),
            field,
            "invalid-when",
            format!("invalid condition `{src}`: {}", e.message),
            Some("conditions look like `database == \"external\" && tls`".into()),
        ),
        Ok(expr) => {
            for name in expr.items() {
                if !items.contains(&name) {
                    let help = match did_you_mean(name, items.iter().copied()) {
                        Some(c) => format!("did you mean `{c}`?"),
                        None if items.is_empty() => {
                            "there are no config items; define one under spec.config".into()
                        }
                        None => format!(
                            "known items: {}; quote literal text: \"{name}\"",
                            items.join(", ")
                        ),
                    };
                    ctx.error(
                        root.at(path).map(|n| n.pos),
                        field,
                        "unknown-item",
                        format!("condition `{src}` refers to unknown config item `{name}`"),
                        Some(help),
                    );
                }
            }
        }
    }
}

/// Report items whose visibility depends on itself through `when` conditions.
fn check_cycles(app: &Application, root: &Node, ctx: &mut Ctx) {
    let mut deps: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut where_: HashMap<&str, Vec<PathSeg>> = HashMap::new();
    for (gi, g) in app.spec.config.iter().enumerate() {
        let gdeps: Vec<String> = g
            .when
            .as_deref()
            .and_then(|w| when::parse(w).ok())
            .map(|e| e.items().into_iter().map(String::from).collect())
            .unwrap_or_default();
        for (ii, it) in g.items.iter().enumerate() {
            let mut d = gdeps.clone();
            if let Some(e) = it.when.as_deref().and_then(|w| when::parse(w).ok()) {
                d.extend(e.items().into_iter().map(String::from));
            }
            deps.insert(&it.name, d);
            let mut path = p(&[&"spec", &"config", &gi, &"items", &ii]);
            path.push(PathSeg::Key(
                if it.when.is_some() { "when" } else { "name" }.into(),
            ));
            where_.insert(&it.name, path);
        }
    }
    let mut reported: Vec<Vec<String>> = Vec::new();
    for start in deps.keys() {
        // Depth-first search for a path back to `start`.
        let mut stack: Vec<(String, Vec<String>)> =
            vec![(start.to_string(), vec![start.to_string()])];
        let mut visited: Vec<String> = Vec::new();
        while let Some((node, trail)) = stack.pop() {
            for next in deps.get(node.as_str()).into_iter().flatten() {
                if next == start {
                    let mut cycle = trail.clone();
                    cycle.push(start.to_string());
                    let mut key = trail.clone();
                    key.sort();
                    if !reported.contains(&key) {
                        reported.push(key);
                        let path = &where_[start];
                        ctx.error(
                            pos_at(root, path),
                            &path_string(path),
                            "circular-when",
                            format!("circular `when`: {}", cycle.join(" → ")),
                            Some(
                                "an item cannot be shown depending on itself; break the chain"
                                    .into(),
                            ),
                        );
                    }
                } else if !visited.contains(next) && trail.len() < 64 {
                    visited.push(next.clone());
                    let mut t = trail.clone();
                    t.push(next.clone());
                    stack.push((next.clone(), t));
                }
            }
        }
    }
}

/// `expose`: literal values checked now, templated ones for the config items they read (the
/// rest is checked once rendered, by berth-render).
fn check_expose(
    ctx: &mut Ctx,
    root: &Node,
    path: &[PathSeg],
    field: &str,
    e: &crate::manifest::Expose,
    items: &[&str],
) {
    use crate::expose as x;
    use crate::manifest::ScalarValue;
    let scalar = |v: &ScalarValue| match v {
        ScalarValue::String(s) => s.clone(),
        ScalarValue::Number(n) => n.to_string(),
        ScalarValue::Bool(b) => b.to_string(),
    };
    let tls = e.tls.as_ref();
    let fields: Vec<(&str, Option<String>)> = vec![
        ("service", Some(e.service.clone())),
        ("port", Some(scalar(&e.port))),
        ("host", e.host.clone()),
        ("path", e.path.clone()),
        ("flavour", e.flavour.clone()),
        ("className", e.class_name.clone()),
        ("internal", e.internal.as_ref().map(scalar)),
        (
            "tls.enabled",
            tls.and_then(|t| t.enabled.as_ref()).map(scalar),
        ),
        ("tls.secretName", tls.and_then(|t| t.secret_name.clone())),
        ("tls.termination", tls.and_then(|t| t.termination.clone())),
    ];
    for (name, value) in fields {
        let Some(value) = value else { continue };
        let mut at = path.to_vec();
        at.extend(name.split('.').map(|k| PathSeg::Key(k.into())));
        let f = format!("{field}.{name}");
        if x::is_template(&value) {
            for item in x::config_refs(&value) {
                if !items.contains(&item) {
                    let help = match crate::problem::did_you_mean(item, items.iter().copied()) {
                        Some(m) => format!("did you mean `.Config.{m}`?"),
                        None => "add the item to spec.config, or use one that exists".into(),
                    };
                    ctx.error(
                        pos_at(root, &at),
                        &f,
                        "unknown-item",
                        format!("`{name}` reads `.Config.{item}`, which is not a config item"),
                        Some(help),
                    );
                }
            }
            continue;
        }
        let checked = match name {
            "service" => x::service(&value),
            "port" if matches!(e.port, ScalarValue::Bool(_)) => x::port("true").map(|_| ()),
            "port" => x::port(&value).map(|_| ()),
            "host" => x::host(&value),
            "path" => x::path(&value),
            "flavour" => x::flavour(&value),
            "className" => x::class_name(&value),
            "internal" | "tls.enabled" => x::boolean(name, &value).map(|_| ()),
            "tls.termination" => x::termination(&value),
            _ => Ok(()),
        };
        if let Err(b) = checked {
            ctx.error(pos_at(root, &at), &f, b.code, b.message, Some(b.help));
        }
    }
    let passthrough = tls.and_then(|t| t.termination.as_deref()) == Some("passthrough");
    if passthrough
        && e.path
            .as_deref()
            .is_some_and(|p| p != "/" && !x::is_template(p))
    {
        let mut at = path.to_vec();
        at.push(PathSeg::Key("path".into()));
        ctx.error(
            pos_at(root, &at),
            &format!("{field}.path"),
            "invalid-expose",
            "TLS passthrough routes by host name only, so `path` must be `/`".into(),
            Some("remove `path`, or use `termination: edge`".into()),
        );
    }
}
