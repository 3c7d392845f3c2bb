//! The host objects templates see besides plain maps: `.Files` (a chart's
//! non-template files with Helm's `Get`, `GetBytes`, `Glob`, `Lines`, `AsConfig`,
//! `AsSecrets`) and `.Capabilities` (`KubeVersion`, `APIVersions.Has`, `HelmVersion`).

use berth_template::{MapData, Object, Value};
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Appends `b` in decimal.
fn push_decimal(out: &mut String, b: u8) {
    if b >= 100 {
        out.push(char::from(b'0' + b / 100));
    }
    if b >= 10 {
        out.push(char::from(b'0' + (b / 10) % 10));
    }
    out.push(char::from(b'0' + b % 10));
}

/// `.Files`: path → bytes.
#[derive(Clone, Default)]
pub(crate) struct Files {
    files: Arc<BTreeMap<String, Arc<[u8]>>>,
    /// The `%v` text, once made: charts print a context (which holds `.Files`) through
    /// `toString`, `cat` or `contains` again and again, and the files do not change.
    shown: std::sync::OnceLock<String>,
}

impl Files {
    pub(crate) fn new(files: &[crate::ChartFile]) -> Files {
        Files {
            files: Arc::new(
                files
                    .iter()
                    .map(|f| (f.name.clone(), f.data.clone()))
                    .collect(),
            ),
            shown: Default::default(),
        }
    }

    /// Go's `%v` of the files.
    fn show(&self) -> String {
        let size: usize = self
            .files
            .iter()
            .map(|(k, v)| k.len() + 3 + 4 * v.len())
            .sum();
        let mut out = String::with_capacity(size + 5);
        out.push_str("map[");
        for (i, (k, v)) in self.files.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(k);
            out.push_str(":[");
            for (j, b) in v.iter().enumerate() {
                if j > 0 {
                    out.push(' ');
                }
                push_decimal(&mut out, *b);
            }
            out.push(']');
        }
        out.push(']');
        out
    }

    fn text(&self, name: &str) -> Option<String> {
        self.files
            .get(name)
            .map(|b| berth_template::bytes::from_go_bytes(b).into_owned())
    }
}

fn arg_str(args: &[Value], i: usize) -> Result<String, String> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.to_string()),
        Some(other) => Err(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        )),
        None => Err("wrong number of args: want 1 got 0".into()),
    }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

impl Object for Files {
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let r = match name {
            "Get" => arg_str(args, 0).map(|p| Value::str(self.text(&p).unwrap_or_default())),
            "GetBytes" => arg_str(args, 0).map(|p| {
                Value::list(
                    self.files
                        .get(&p)
                        .map(|b| b.iter().map(|x| Value::Int(i64::from(*x))).collect())
                        .unwrap_or_default(),
                )
            }),
            "Glob" => arg_str(args, 0).map(|pat| {
                let re = glob_regex(&pat)
                    .unwrap_or_else(|| glob_regex("**").unwrap_or_else(|| unreachable!()));
                Value::object(Files {
                    files: Arc::new(
                        self.files
                            .iter()
                            .filter(|(k, _)| re.is_match(k))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    ),
                    shown: Default::default(),
                })
            }),
            "Lines" => arg_str(args, 0).map(|p| match self.text(&p) {
                None => Value::list(Vec::new()),
                Some(s) => {
                    let s = s.strip_suffix('\n').unwrap_or(&s);
                    Value::list(s.split('\n').map(Value::str).collect())
                }
            }),
            "AsConfig" | "AsSecrets" => {
                let secrets = name == "AsSecrets";
                let m: MapData = self
                    .files
                    .iter()
                    .map(|(k, v)| {
                        let val = if secrets {
                            base64(v)
                        } else {
                            String::from_utf8_lossy(v).into_owned()
                        };
                        (basename(k).to_owned(), Value::str(val))
                    })
                    .collect();
                let y = berth_template::yaml::to_yaml(&Value::map(m));
                Ok(Value::str(y.strip_suffix('\n').unwrap_or(&y)))
            }
            _ => return None,
        };
        Some(r)
    }

    fn type_name(&self) -> String {
        "files.Files".into()
    }

    /// Go's `%v` of `map[string][]byte`: `map[a.txt:[104 105] b:[]]`, written straight from the
    /// bytes (the same text as formatting [`Object::underlying`], without a value per byte:
    /// charts print `.Files` through `toString` or `%v`, and a chart's files can be megabytes).
    fn display(&self) -> String {
        self.shown.get_or_init(|| self.show()).clone()
    }

    fn underlying(&self) -> Option<Value> {
        Some(Value::map(
            self.files
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        Value::list(v.iter().map(|b| Value::Int(i64::from(*b))).collect()),
                    )
                })
                .collect(),
        ))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// gobwas/glob with `/` as separator, as a regex: `*` within a segment, `**`
/// across segments, `?`, `[ab]`/`[!ab]`/`[a-z]`, `{a,b}`, `\` escapes.
/// `None` for an invalid pattern (Helm then matches everything).
pub(crate) fn glob_regex(pat: &str) -> Option<regex::Regex> {
    let chars: Vec<char> = pat.chars().collect();
    let mut re = String::from("^");
    let mut i = 0;
    let mut depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' => {
                if chars.get(i + 1) == Some(&'*') {
                    re.push_str(".*");
                    i += 1;
                } else {
                    re.push_str("[^/]*");
                }
            }
            '?' => re.push_str("[^/]"),
            '[' => {
                let mut j = i + 1;
                let mut class = String::from("[");
                if matches!(chars.get(j), Some('!') | Some('^')) {
                    class.push('^');
                    j += 1;
                }
                let start = j;
                while j < chars.len() && (chars[j] != ']' || j == start) {
                    let ch = chars[j];
                    if matches!(ch, '\\' | '[' | ']' | '&' | '~' | '^') {
                        class.push('\\');
                    }
                    class.push(ch);
                    j += 1;
                }
                if j >= chars.len() {
                    return None;
                }
                class.push(']');
                re.push_str(&class);
                i = j;
            }
            '{' => {
                depth += 1;
                re.push_str("(?:");
            }
            '}' if depth > 0 => {
                depth -= 1;
                re.push(')');
            }
            ',' if depth > 0 => re.push('|'),
            '\\' => {
                i += 1;
                let n = *chars.get(i)?;
                re.push_str(&regex::escape(&n.to_string()));
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
        i += 1;
    }
    if depth != 0 {
        return None;
    }
    re.push('$');
    regex::Regex::new(&re).ok()
}

/// `.Capabilities.KubeVersion`.
#[derive(Clone)]
pub(crate) struct KubeVersion {
    pub version: String,
    pub normalized: String,
    pub major: String,
    pub minor: String,
}

impl KubeVersion {
    /// Kubernetes' `ParseGeneric` as Helm's `ParseKubeVersion` uses it.
    pub(crate) fn parse(v: &str) -> Result<KubeVersion, String> {
        let bare = v.strip_prefix('v').unwrap_or(v);
        let end = bare
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(bare.len());
        let comps: Vec<&str> = bare[..end].split('.').collect();
        let rest = &bare[end..];
        let ok = comps.len() >= 2
            && comps.iter().all(|c| !c.is_empty())
            && (rest.is_empty() || rest.starts_with(['-', '+']));
        if !ok {
            return Err(format!(
                "invalid kube version {v:?}: expected MAJOR.MINOR[.PATCH], e.g. 1.30.2"
            ));
        }
        let nums: Vec<u64> = comps
            .iter()
            .map(|c| {
                c.parse::<u64>()
                    .map_err(|_| format!("invalid kube version {v:?}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(KubeVersion {
            version: if v.starts_with('v') {
                v.to_owned()
            } else {
                format!("v{v}")
            },
            normalized: format!(
                "v{}",
                nums.iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(".")
            ),
            major: nums[0].to_string(),
            minor: nums[1].to_string(),
        })
    }
}

impl Object for KubeVersion {
    fn field(&self, name: &str) -> Option<Value> {
        Some(Value::str(match name {
            "Version" | "GitVersion" => &self.version,
            "Major" => &self.major,
            "Minor" => &self.minor,
            "String" => &self.normalized,
            _ => return None,
        }))
    }
    fn call_method(&self, _name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    fn type_name(&self) -> String {
        "common.KubeVersion".into()
    }
    /// `%v`, `quote`, `printf`: Go formats the struct value, since `String()` has a
    /// pointer receiver (`{{ .Capabilities.KubeVersion }}` alone prints the normalized form).
    fn display(&self) -> String {
        format!(
            "{{{} {} {} {}}}",
            self.version, self.normalized, self.major, self.minor
        )
    }
    /// `{{ .Capabilities.KubeVersion }}` alone: Go calls the pointer-receiver `String()`,
    /// which prints the normalized version (`v1.28.3` for `v1.28.3-gke.100`).
    fn print_text(&self) -> String {
        self.normalized.clone()
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"Version": self.version, "Major": self.major, "Minor": self.minor})
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `.Capabilities.APIVersions`.
#[derive(Clone)]
pub(crate) struct ApiVersions(pub Vec<String>);

impl Object for ApiVersions {
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match name {
            "Has" => Some(arg_str(args, 0).map(|a| Value::Bool(self.0.contains(&a)))),
            _ => None,
        }
    }
    fn type_name(&self) -> String {
        "common.VersionSet".into()
    }
    fn underlying(&self) -> Option<Value> {
        Some(Value::list(self.0.iter().map(Value::str).collect()))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `.Capabilities.HelmVersion` as the Helm 4.2 library reports it.
#[derive(Clone)]
pub(crate) struct HelmVersion;

impl Object for HelmVersion {
    fn field(&self, name: &str) -> Option<Value> {
        Some(Value::str(match name {
            "Version" => "v4.2",
            "GitCommit" | "GitTreeState" => "",
            "GoVersion" => "go1.26.6",
            "KubeClientVersion" => "v1.36",
            _ => return None,
        }))
    }
    fn call_method(&self, _name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    fn type_name(&self) -> String {
        "version.BuildInfo".into()
    }
    fn display(&self) -> String {
        "{v4.2   go1.26.6 v1.36}".into()
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"version": "v4.2", "go_version": "go1.26.6", "kube_client_version": "v1.36"})
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The API versions Helm 4.2's `DefaultCapabilities` reports (observed with the SDK).
pub(crate) const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha2",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// `.Capabilities`.
#[derive(Clone)]
pub(crate) struct Capabilities {
    pub kube: KubeVersion,
    pub apis: ApiVersions,
}

impl Object for Capabilities {
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "KubeVersion" => Some(Value::object(self.kube.clone())),
            "APIVersions" => Some(Value::object(self.apis.clone())),
            "HelmVersion" => Some(Value::object(HelmVersion)),
            _ => None,
        }
    }
    fn call_method(&self, _name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    fn type_name(&self) -> String {
        "*common.Capabilities".into()
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "KubeVersion": self.kube.to_json(),
            "APIVersions": self.apis.0,
            "HelmVersion": HelmVersion.to_json(),
        })
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gobwas_like_globs() {
        let m = |p: &str, s: &str| glob_regex(p).map(|r| r.is_match(s));
        assert_eq!(m("*.txt", "a.txt"), Some(true));
        assert_eq!(m("*.txt", "d/a.txt"), Some(false));
        assert_eq!(m("**.txt", "d/a.txt"), Some(true));
        assert_eq!(m("files/{a,b}.conf", "files/b.conf"), Some(true));
        assert_eq!(m("[ab].x", "b.x"), Some(true));
        assert_eq!(m("[!ab].x", "b.x"), Some(false));
        assert_eq!(m("[", "x"), None);
    }

    #[test]
    fn kube_versions() {
        let k = KubeVersion::parse("1.28.3-gke.100").unwrap();
        assert_eq!(
            (k.version.as_str(), k.normalized.as_str(), k.minor.as_str()),
            ("v1.28.3-gke.100", "v1.28.3", "28")
        );
        let k = KubeVersion::parse("v1.28").unwrap();
        assert_eq!(
            (k.version.as_str(), k.normalized.as_str()),
            ("v1.28", "v1.28")
        );
        assert!(KubeVersion::parse("one").is_err());
        assert!(KubeVersion::parse("1").is_err());
    }

    #[test]
    fn files_print_as_the_map_of_byte_lists_they_wrap() {
        let f = Files::new(&[
            crate::ChartFile {
                name: "b/z.bin".into(),
                data: [0u8, 9, 10, 99, 100, 255].as_slice().into(),
            },
            crate::ChartFile {
                name: "a.txt".into(),
                data: b"hi".as_slice().into(),
            },
            crate::ChartFile {
                name: "empty".into(),
                data: b"".as_slice().into(),
            },
        ]);
        let direct = f.display();
        assert_eq!(
            direct,
            "map[a.txt:[104 105] b/z.bin:[0 9 10 99 100 255] empty:[]]"
        );
        assert_eq!(direct, f.underlying().unwrap().to_string());
    }

    #[test]
    fn files_methods() {
        let f = Files::new(&[
            crate::ChartFile {
                name: "conf/a.txt".into(),
                data: b"x\ny\n".as_slice().into(),
            },
            crate::ChartFile {
                name: "conf/b.bin".into(),
                data: b"hi".as_slice().into(),
            },
        ]);
        let call = |m: &str, a: &[Value]| f.call_method(m, a).unwrap().unwrap();
        assert_eq!(
            call("Get", &[Value::str("conf/a.txt")]).as_str(),
            Some("x\ny\n")
        );
        assert_eq!(
            call("Get", &[Value::str("./conf/a.txt")]).as_str(),
            Some("")
        );
        assert_eq!(
            call("Lines", &[Value::str("conf/a.txt")])
                .as_list()
                .map(|l| l.len()),
            Some(2)
        );
        let g = call("Glob", &[Value::str("conf/*.bin")]);
        let Value::Object(o) = g else {
            panic!("Glob returns Files")
        };
        let secrets = o.call_method("AsSecrets", &[]).unwrap().unwrap();
        assert_eq!(secrets.as_str(), Some("b.bin: aGk="));
    }
}
