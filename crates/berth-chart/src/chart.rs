//! A loaded chart and how it is loaded: from a directory (honouring `.helmignore`)
//! or a `.tgz` archive, with vendored subcharts under `charts/` (directories and archives).

use crate::archive::{self, Budget, ChartFile, MAX_FILE_SIZE, MAX_SUBCHART_DEPTH};
use crate::error::ChartError;
use crate::filecache::{self, EntryKind};
use crate::ignore::IgnoreRules;
use crate::metadata::Metadata;
use crate::treecache;
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::Arc;

/// A Helm chart in memory.
#[derive(Clone, Debug, Default)]
pub struct Chart {
    /// Chart.yaml.
    pub metadata: Metadata,
    /// values.yaml (numbers as float64, as Helm reads them); shared, as a chart is copied
    /// for every render and the parsed file is kept by text.
    pub values: Arc<Map<String, Value>>,
    /// values.schema.json, when present.
    pub schema: Option<Vec<u8>>,
    /// `templates/**` files.
    pub templates: Vec<ChartFile>,
    /// Every other file (what `.Files` sees), including `crds/`.
    pub files: Vec<ChartFile>,
    /// Subcharts found under `charts/`.
    pub dependencies: Vec<Chart>,
    /// Chart.lock (requirements.lock for `apiVersion: v1`), as written.
    pub lock: Option<Vec<u8>>,
}

impl Chart {
    /// The chart's name (an alias once dependencies are processed).
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// Loads a chart from a directory or a `.tgz` file.
    pub fn load(path: &Path) -> Result<Chart, ChartError> {
        let root = match filecache::Dir::open(path) {
            Ok(root) => root,
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                return Chart::load_archive_file(path);
            }
            Err(e) => return Err(ChartError::io(path, e)),
        };
        Chart::load_opened(path, root)
    }

    /// Builds the chart of directory `dir` (opened as `root`); a chart built from a walk
    /// the tree cache still vouches for is copied, not built again.
    fn load_opened(dir: &Path, root: filecache::Dir) -> Result<Chart, ChartError> {
        if let Some(c) = treecache::get_chart(dir, &root) {
            return Ok(c);
        }
        let (files, mut budget, serial) = Chart::files_in(dir, root)?;
        let c = Chart::from_files_within(files, &dir.display().to_string(), 0, &mut budget)?;
        if let Some(serial) = serial {
            treecache::set_chart(dir, serial, &c);
        }
        Ok(c)
    }

    fn load_archive_file(path: &Path) -> Result<Chart, ChartError> {
        let meta = std::fs::metadata(path).map_err(|e| ChartError::io(path, e))?;
        if meta.len() > archive::MAX_ARCHIVE_SIZE {
            return Err(ChartError::Archive {
                archive: path.display().to_string(),
                entry: String::new(),
                reason: "archive file is larger than 100 MiB".into(),
            });
        }
        let bytes = std::fs::read(path).map_err(|e| ChartError::io(path, e))?;
        Chart::load_archive(&bytes, &path.display().to_string())
    }

    /// Loads a chart from `.tgz` bytes; `origin` names it in errors.
    pub fn load_archive(bytes: &[u8], origin: &str) -> Result<Chart, ChartError> {
        let mut budget = Budget::default();
        let files = archive::read_archive_within(bytes, origin, &mut budget)?;
        Chart::from_files_within(files, origin, 0, &mut budget)
    }

    /// Loads a chart directory, skipping what `.helmignore` lists.
    pub fn load_dir(dir: &Path) -> Result<Chart, ChartError> {
        let root = filecache::Dir::open(dir).map_err(|e| ChartError::io(dir, e))?;
        Chart::load_opened(dir, root)
    }

    /// The files of a chart directory that [`Chart::load_dir`] reads (`.helmignore`
    /// honoured), named relative to the chart root, and the budget they used.
    pub fn dir_files(dir: &Path) -> Result<(Vec<ChartFile>, Budget), ChartError> {
        let root = filecache::Dir::open(dir).map_err(|e| ChartError::io(dir, e))?;
        Chart::files_in(dir, root).map(|(files, budget, _)| (files, budget))
    }

    /// [`Chart::dir_files`] of `dir`, opened as `root`: kept from the last walk while the
    /// kernel reports no change under it (`treecache`), else walked.
    fn files_in(
        dir: &Path,
        root: filecache::Dir,
    ) -> Result<(Vec<ChartFile>, Budget, Option<u64>), ChartError> {
        if let Some((files, budget, serial)) = treecache::get(dir, &root) {
            return Ok((files, budget, Some(serial)));
        }
        let mut rec = treecache::Recorder::start(dir, &root);
        rec.watch(&root);
        let ignore_path = dir.join(".helmignore");
        let ignore = match root.stat(".helmignore") {
            Ok(st) if st.is_file() => root
                .read(".helmignore", &st, MAX_FILE_SIZE)
                .map_err(|e| ChartError::io(&ignore_path, e))?,
            Ok(_) => {
                return Err(ChartError::io(
                    ignore_path,
                    std::io::Error::other("not a regular file"),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Arc::from(&b""[..]),
            Err(e) => return Err(ChartError::io(ignore_path, e)),
        };
        let parse_err = |message: String| ChartError::Parse {
            chart: dir.display().to_string(),
            file: ".helmignore".into(),
            message,
        };
        let text = std::str::from_utf8(&ignore).map_err(|_| parse_err("not UTF-8 text".into()))?;
        let mut rules = IgnoreRules::parse(text).map_err(parse_err)?;
        rules.add_defaults();
        let mut files = Vec::new();
        let mut budget = Budget::default();
        let origin = dir.display().to_string();
        let mut w = Walk {
            rules: &rules,
            out: &mut files,
            budget: &mut budget,
            origin: &origin,
            rec: &mut rec,
        };
        w.walk(&root, "", 0)?;
        let serial = rec.keep(&files, &budget);
        Ok((files, budget, serial))
    }

    /// Builds a chart from its files (names relative to the chart root), as
    /// Helm's `LoadFiles`: Chart.yaml, values.yaml, values.schema.json,
    /// requirements.yaml, templates/, charts/ and everything else.
    pub fn from_files(
        files: Vec<ChartFile>,
        origin: &str,
        depth: usize,
    ) -> Result<Chart, ChartError> {
        Chart::from_files_within(files, origin, depth, &mut Budget::default())
    }

    /// [`Chart::from_files`], charging nested subchart archives to `budget`, the one
    /// budget of the whole chart tree.
    pub fn from_files_within(
        files: Vec<ChartFile>,
        origin: &str,
        depth: usize,
        budget: &mut Budget,
    ) -> Result<Chart, ChartError> {
        if depth > MAX_SUBCHART_DEPTH {
            return Err(ChartError::Limit {
                chart: origin.into(),
                limit: format!("nesting limit ({MAX_SUBCHART_DEPTH} levels of subcharts)"),
                detail: "subcharts under charts/ nest deeper than that; flatten the dependencies"
                    .into(),
            });
        }
        let Some(chart_yaml) = files.iter().find(|f| f.name == "Chart.yaml") else {
            return Err(ChartError::Metadata {
                chart: origin.into(),
                message: "Chart.yaml file is missing".into(),
            });
        };
        let mut metadata =
            Metadata::parse(text(chart_yaml, origin)?).map_err(|m| ChartError::Parse {
                chart: origin.into(),
                file: "Chart.yaml".into(),
                message: m,
            })?;
        let mut c = Chart::default();
        let mut subcharts: std::collections::BTreeMap<String, Vec<ChartFile>> = Default::default();
        for f in files {
            match f.name.as_str() {
                "Chart.yaml" => {}
                "Chart.lock" => c.lock = Some(f.data.to_vec()),
                "values.yaml" => {
                    c.values =
                        crate::yaml::parse_values_shared(text(&f, origin)?).map_err(|m| {
                            ChartError::Parse {
                                chart: origin.into(),
                                file: "values.yaml".into(),
                                message: m,
                            }
                        })?;
                }
                "values.schema.json" => c.schema = Some(f.data.to_vec()),
                "requirements.yaml" => {
                    let doc = crate::yaml::parse_value(text(&f, origin)?).map_err(|m| {
                        ChartError::Parse {
                            chart: origin.into(),
                            file: "requirements.yaml".into(),
                            message: m,
                        }
                    })?;
                    let deps = crate::metadata::parse_dependencies(doc.get("dependencies"))
                        .map_err(|m| ChartError::Parse {
                            chart: origin.into(),
                            file: "requirements.yaml".into(),
                            message: m,
                        })?;
                    if deps.is_some() {
                        metadata.dependencies = deps;
                    }
                    if metadata.api_version == "v1" {
                        c.files.push(f);
                    }
                }
                "requirements.lock" => {
                    if metadata.api_version == "v1" {
                        c.lock = Some(f.data.to_vec());
                        c.files.push(f);
                    }
                }
                n if n.starts_with("templates/") => c.templates.push(f),
                n if n.starts_with("charts/") => {
                    if n.ends_with(".prov") {
                        c.files.push(f);
                        continue;
                    }
                    let rest = &n["charts/".len()..];
                    let (cname, inner) = match rest.split_once('/') {
                        Some((a, b)) => (a.to_owned(), b.to_owned()),
                        None => (rest.to_owned(), rest.to_owned()),
                    };
                    subcharts.entry(cname).or_default().push(ChartFile {
                        name: inner,
                        data: f.data,
                    });
                }
                _ => c.files.push(f),
            }
        }
        if !matches!(metadata.api_version.as_str(), "v1" | "v2") {
            return Err(ChartError::Metadata {
                chart: origin.into(),
                message: format!(
                    "unsupported chart apiVersion {:?}; berth reads v1 and v2 charts",
                    metadata.api_version
                ),
            });
        }
        metadata.validate().map_err(|m| ChartError::Metadata {
            chart: origin.into(),
            message: m,
        })?;
        c.metadata = metadata;
        let name = c.metadata.name.clone();
        for (n, files) in subcharts {
            if n.starts_with('_') || n.starts_with('.') {
                continue;
            }
            // The whole chain of nested archives, so an error says where it is.
            let sub_origin = if depth == 0 {
                format!("{name}/charts/{n}")
            } else {
                format!("{origin}/charts/{n}")
            };
            let sc = if n.ends_with(".tgz") {
                let Some(f) = files.into_iter().find(|f| f.name == n) else {
                    return Err(ChartError::Archive {
                        archive: sub_origin,
                        entry: String::new(),
                        reason: "a directory named like an archive (.tgz) in charts/".into(),
                    });
                };
                let inner = archive::read_archive_within(&f.data, &sub_origin, budget)?;
                drop(f);
                Chart::from_files_within(inner, &sub_origin, depth + 1, budget)?
            } else {
                // A plain file directly under charts/ (not .tgz) is not a chart: Helm skips it.
                let files: Vec<ChartFile> = files.into_iter().filter(|f| f.name != n).collect();
                if files.is_empty() {
                    continue;
                }
                Chart::from_files_within(files, &sub_origin, depth + 1, budget)?
            };
            c.dependencies.push(sc);
        }
        Ok(c)
    }

    /// The CRD files of this chart and its subcharts, named by full path
    /// (`parent/charts/sub/crds/x.yaml`), as `helm template --include-crds` prints them.
    pub fn crd_files(&self) -> Vec<(String, &ChartFile)> {
        let mut out = Vec::new();
        self.collect_crds(self.name(), &mut out);
        out
    }

    fn collect_crds<'a>(&'a self, prefix: &str, out: &mut Vec<(String, &'a ChartFile)>) {
        for f in &self.files {
            let lower = f.name.to_ascii_lowercase();
            if f.name.starts_with("crds/")
                && (lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json"))
            {
                out.push((format!("{prefix}/{}", f.name), f));
            }
        }
        for d in &self.dependencies {
            d.collect_crds(&format!("{prefix}/charts/{}", d.name()), out);
        }
    }
}

/// A chart file's text, or the error naming it.
fn text<'a>(f: &'a ChartFile, origin: &str) -> Result<&'a str, ChartError> {
    std::str::from_utf8(&f.data).map_err(|_| ChartError::Parse {
        chart: origin.into(),
        file: f.name.clone(),
        message: "not UTF-8 text".into(),
    })
}

/// One walk of a chart directory: what it keeps out, what it has read, and the budget.
struct Walk<'a> {
    rules: &'a IgnoreRules,
    out: &'a mut Vec<ChartFile>,
    budget: &'a mut Budget,
    origin: &'a str,
    rec: &'a mut treecache::Recorder,
}

impl Walk<'_> {
    fn walk(&mut self, dir: &filecache::Dir, rel: &str, depth: usize) -> Result<(), ChartError> {
        if depth > 64 {
            return Err(ChartError::io(
                dir.path(),
                std::io::Error::other("directories nest too deep (a symlink loop?)"),
            ));
        }
        let entries = dir.list().map_err(|e| ChartError::io(dir.path(), e))?;
        for e in entries.iter() {
            let Some(fname) = e.name.to_str() else {
                continue;
            };
            let name = if rel.is_empty() {
                fname.to_owned()
            } else {
                format!("{rel}/{fname}")
            };
            // Follow symlinks inside a vendor's own chart directory, as Helm does; the
            // entry's own type (from the listing) lets ignored entries go without a stat.
            let listed_dir = e.kind == EntryKind::Dir;
            let symlink = e.kind == EntryKind::Symlink;
            if !symlink && self.rules.ignored(&name, listed_dir) {
                continue;
            }
            let err = |e: std::io::Error| ChartError::io(dir.path().join(fname), e);
            let st = dir.stat(fname).map_err(err)?;
            if st.is_dir() {
                if symlink && self.rules.ignored(&name, true) {
                    continue;
                }
                if symlink {
                    // A watch on this directory does not see the link's target change.
                    self.rec.refuse();
                }
                let sub = dir.sub(fname).map_err(err)?;
                self.rec.watch(&sub);
                self.walk(&sub, &name, depth + 1)?;
                continue;
            }
            if symlink && self.rules.ignored(&name, false) {
                continue;
            }
            if !st.is_file() {
                return Err(err(std::io::Error::other(
                    "not a regular file; remove it or list it in .helmignore",
                )));
            }
            if symlink || st.links() > 1 {
                // A symlink's target, or a file written through another name, changes elsewhere.
                self.rec.refuse();
            }
            let len = st.len();
            if len > MAX_FILE_SIZE {
                return Err(err(std::io::Error::other(format!(
                    "chart file is larger than the maximum file size {MAX_FILE_SIZE} bytes"
                ))));
            }
            self.budget.charge(self.origin, &name, len)?;
            let data = dir.read(fname, &st, MAX_FILE_SIZE).map_err(err)?;
            self.out.push(ChartFile {
                name,
                data: archive::strip_bom(data),
            });
        }
        Ok(())
    }
}
