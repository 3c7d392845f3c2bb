//! `Chart.yaml`: the chart's metadata, read and validated as Helm does.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A maintainer entry of Chart.yaml.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Maintainer {
    /// Name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Web address.
    pub url: String,
}

/// One entry of `dependencies:` in Chart.yaml (or requirements.yaml for v1 charts).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dependency {
    /// Chart name (replaced by the alias once dependencies are processed, as Helm does).
    pub name: String,
    /// Version range the vendored chart must satisfy.
    pub version: String,
    /// Where the chart comes from (`oci://`, `https://`, `file://`); informational here.
    pub repository: String,
    /// Comma-separated values paths; the first that holds a bool enables or disables it.
    pub condition: String,
    /// Tags under the top-level `tags:` table that enable or disable it.
    pub tags: Vec<String>,
    /// Whether it is enabled (set during dependency processing).
    pub enabled: bool,
    /// `import-values` entries: strings or `{child, parent}` tables.
    pub import_values: Vec<Value>,
    /// Another name for the same chart; each alias is its own copy.
    pub alias: String,
}

/// Chart.yaml.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    /// `apiVersion` (`v1` when absent, as Helm).
    pub api_version: String,
    /// Chart name.
    pub name: String,
    /// Chart version (semver).
    pub version: String,
    /// Range of Kubernetes versions the chart supports.
    pub kube_version: String,
    /// One-line description.
    pub description: String,
    /// `application` (or empty) or `library`.
    pub chart_type: String,
    /// Search keywords.
    pub keywords: Vec<String>,
    /// Project home page.
    pub home: String,
    /// Source code addresses.
    pub sources: Vec<String>,
    /// Declared dependencies; `None` when Chart.yaml has no `dependencies` key.
    pub dependencies: Option<Vec<Dependency>>,
    /// Maintainers.
    pub maintainers: Vec<Maintainer>,
    /// Icon address.
    pub icon: String,
    /// Version of the packaged application.
    pub app_version: String,
    /// Whether the chart is deprecated.
    pub deprecated: bool,
    /// Free-form annotations.
    pub annotations: BTreeMap<String, String>,
    /// v1 leftover (`condition`), kept because `.Chart.Condition` exposes it.
    pub condition: String,
    /// v1 leftover (`tags`), kept because `.Chart.Tags` exposes it.
    pub tags: String,
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(crate::gofmt::format_float_g(n.as_f64().unwrap_or(0.0))),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

struct Reader<'a> {
    map: &'a Map<String, Value>,
    what: &'a str,
}

impl Reader<'_> {
    fn string(&self, key: &str) -> Result<String, String> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(v) => scalar_string(v).ok_or_else(|| {
                format!(
                    "{}{key} must be a string, found {}",
                    self.what,
                    crate::yaml::kind_name(v)
                )
            }),
        }
    }
    fn strings(&self, key: &str) -> Result<Vec<String>, String> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    scalar_string(v)
                        .ok_or_else(|| format!("{}{key} must be a list of strings", self.what))
                })
                .collect(),
            Some(v) => Err(format!(
                "{}{key} must be a list, found {}",
                self.what,
                crate::yaml::kind_name(v)
            )),
        }
    }
    fn bool(&self, key: &str) -> Result<bool, String> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(format!(
                "{}{key} must be true or false, found {}",
                self.what,
                crate::yaml::kind_name(v)
            )),
        }
    }
}

/// Go's `unicode.IsSpace` → space, drop non-printables (Helm's sanitizeString).
fn sanitize(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if c.is_control() {
                None
            } else {
                Some(c)
            }
        })
        .collect()
}

impl Metadata {
    /// Reads Chart.yaml text (and, for v1 charts, merges requirements.yaml's
    /// dependencies in the caller). Errors name the field.
    pub fn parse(text: &str) -> Result<Metadata, String> {
        let doc = crate::yaml::parse_value(text)?;
        let map = match &doc {
            Value::Object(m) => m.clone(),
            Value::Null => Map::new(),
            v => {
                return Err(format!(
                    "Chart.yaml must be a mapping, found {}",
                    crate::yaml::kind_name(v)
                ));
            }
        };
        let r = Reader {
            map: &map,
            what: "",
        };
        let mut md = Metadata {
            api_version: r.string("apiVersion")?,
            name: r.string("name")?,
            version: r.string("version")?,
            kube_version: r.string("kubeVersion")?,
            description: r.string("description")?,
            chart_type: r.string("type")?,
            keywords: r.strings("keywords")?,
            home: r.string("home")?,
            sources: r.strings("sources")?,
            dependencies: None,
            maintainers: Vec::new(),
            icon: r.string("icon")?,
            app_version: r.string("appVersion")?,
            deprecated: r.bool("deprecated")?,
            annotations: BTreeMap::new(),
            condition: r.string("condition")?,
            tags: r.string("tags")?,
        };
        if md.api_version.is_empty() {
            md.api_version = "v1".into();
        }
        md.dependencies = parse_dependencies(map.get("dependencies"))?;
        if let Some(Value::Array(ms)) = map.get("maintainers") {
            for m in ms {
                let Value::Object(mm) = m else {
                    return Err("maintainers entries must be mappings".into());
                };
                let r = Reader {
                    map: mm,
                    what: "maintainers[].",
                };
                md.maintainers.push(Maintainer {
                    name: r.string("name")?,
                    email: r.string("email")?,
                    url: r.string("url")?,
                });
            }
        }
        if let Some(Value::Object(a)) = map.get("annotations") {
            for (k, v) in a {
                let s =
                    scalar_string(v).ok_or_else(|| format!("annotations.{k} must be a string"))?;
                md.annotations.insert(k.clone(), s);
            }
        }
        Ok(md)
    }

    /// Helm's `Metadata.Validate` (after sanitizing strings as Helm does).
    pub fn validate(&mut self) -> Result<(), String> {
        self.name = sanitize(&self.name);
        self.description = sanitize(&self.description);
        self.app_version = sanitize(&self.app_version);
        self.kube_version = sanitize(&self.kube_version);
        if self.name.is_empty() {
            return Err("chart.metadata.name is required".into());
        }
        if self.name == "." || self.name == ".." || self.name.contains('/') {
            return Err(format!(
                "chart.metadata.name {:?} is not allowed",
                self.name
            ));
        }
        if self.version.is_empty() {
            return Err("chart.metadata.version is required".into());
        }
        if crate::version::Version::parse(&self.version).is_none() {
            return Err(format!(
                "chart.metadata.version {:?} is invalid",
                self.version
            ));
        }
        if !matches!(self.chart_type.as_str(), "" | "application" | "library") {
            return Err("chart.metadata.type must be application or library".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for d in self.dependencies.iter_mut().flatten() {
            d.name = sanitize(&d.name);
            d.version = sanitize(&d.version);
            d.condition = sanitize(&d.condition);
            if !d.alias.is_empty()
                && !d
                    .alias
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(format!(
                    "dependency {:?} has disallowed characters in the alias",
                    d.name
                ));
            }
            let key = if d.alias.is_empty() {
                &d.name
            } else {
                &d.alias
            };
            if !seen.insert(key.clone()) {
                return Err(format!(
                    "more than one dependency with name or alias {key:?}"
                ));
            }
        }
        Ok(())
    }

    /// True for `type: library` (case-insensitive, as Helm).
    pub fn is_library(&self) -> bool {
        self.chart_type.eq_ignore_ascii_case("library")
    }

    /// `.Chart` as templates see it: Go field names as keys.
    pub fn to_template_map(&self, is_root: bool) -> Value {
        let strs =
            |v: &[String]| Value::Array(v.iter().map(|s| Value::String(s.clone())).collect());
        let mut m = Map::new();
        m.insert("Name".into(), self.name.clone().into());
        m.insert("Home".into(), self.home.clone().into());
        m.insert("Sources".into(), strs(&self.sources));
        m.insert("Version".into(), self.version.clone().into());
        m.insert("Description".into(), self.description.clone().into());
        m.insert("Keywords".into(), strs(&self.keywords));
        m.insert(
            "Maintainers".into(),
            Value::Array(
                self.maintainers
                    .iter()
                    .map(|x| serde_json::json!({"Name": x.name, "Email": x.email, "URL": x.url}))
                    .collect(),
            ),
        );
        m.insert("Icon".into(), self.icon.clone().into());
        m.insert("APIVersion".into(), self.api_version.clone().into());
        m.insert("Condition".into(), self.condition.clone().into());
        m.insert("Tags".into(), self.tags.clone().into());
        m.insert("AppVersion".into(), self.app_version.clone().into());
        m.insert("Deprecated".into(), self.deprecated.into());
        m.insert(
            "Annotations".into(),
            Value::Object(
                self.annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        );
        m.insert("KubeVersion".into(), self.kube_version.clone().into());
        m.insert(
            "Dependencies".into(),
            Value::Array(
                self.dependencies
                    .iter()
                    .flatten()
                    .map(|d| {
                        serde_json::json!({
                            "Name": d.name, "Version": d.version, "Repository": d.repository,
                            "Condition": d.condition, "Tags": d.tags, "Enabled": d.enabled,
                            "ImportValues": d.import_values, "Alias": d.alias,
                        })
                    })
                    .collect(),
            ),
        );
        m.insert("Type".into(), self.chart_type.clone().into());
        m.insert("IsRoot".into(), is_root.into());
        Value::Object(m)
    }
}

/// Reads a `dependencies:` list (Chart.yaml or requirements.yaml).
pub(crate) fn parse_dependencies(v: Option<&Value>) -> Result<Option<Vec<Dependency>>, String> {
    let list = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(v) => {
            return Err(format!(
                "dependencies must be a list, found {}",
                crate::yaml::kind_name(v)
            ));
        }
    };
    let mut out = Vec::new();
    for d in list {
        let Value::Object(dm) = d else {
            return Err("dependencies must not contain empty or null nodes".into());
        };
        let r = Reader {
            map: dm,
            what: "dependencies[].",
        };
        let import_values = match dm.get("import-values") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err("dependencies[].import-values must be a list".into()),
        };
        out.push(Dependency {
            name: r.string("name")?,
            version: r.string("version")?,
            repository: r.string("repository")?,
            condition: r.string("condition")?,
            tags: r.strings("tags")?,
            enabled: r.bool("enabled")?,
            import_values,
            alias: r.string("alias")?,
        });
    }
    Ok(Some(out))
}
