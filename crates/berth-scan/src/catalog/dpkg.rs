//! dpkg's database: `var/lib/dpkg/status` (every package) and distroless
//! `var/lib/dpkg/status.d/<name>` (one file per package, same stanza format).

use super::{Package, PackageType};
use crate::error::{Error, Result};

/// Largest field count per stanza before the file is considered garbage.
const MAX_FIELDS: usize = 1000;

/// One stanza: (field, value) in file order, with the line it starts on.
pub(crate) struct Stanza {
    pub line: usize,
    pub fields: Vec<(String, String)>,
}

impl Stanza {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Split a deb822 file into stanzas (blank-line separated; continuation lines start with
/// a space or tab and belong to the previous field).
pub(crate) fn stanzas(text: &str, path: &str) -> Result<Vec<Stanza>> {
    let mut out = Vec::new();
    let mut cur: Option<Stanza> = None;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() {
            out.extend(cur.take());
            continue;
        }
        let st = cur.get_or_insert_with(|| Stanza {
            line: lineno,
            fields: Vec::new(),
        });
        if line.starts_with([' ', '\t']) {
            match st.fields.last_mut() {
                Some((_, v)) => {
                    v.push('\n');
                    v.push_str(line.trim());
                }
                None => {
                    return Err(Error::invalid(
                        format!("{path}:{lineno}"),
                        "continuation line before any field",
                    ));
                }
            }
            continue;
        }
        let (k, v) = line.split_once(':').ok_or_else(|| {
            Error::invalid(
                format!("{path}:{lineno}"),
                "expected `Field: value` (not a dpkg status file?)",
            )
        })?;
        if st.fields.len() >= MAX_FIELDS {
            return Err(Error::invalid(
                format!("{path}:{lineno}"),
                "more than 1000 fields in one stanza",
            ));
        }
        st.fields.push((k.trim().to_string(), v.trim().to_string()));
    }
    out.extend(cur);
    Ok(out)
}

/// Whether a `Status:` value means the package's files are on disk (dpkg-query lists
/// `config-files` too, but those packages have no code left to be vulnerable).
fn is_present(status: &str) -> bool {
    let state = status.split_whitespace().nth(2).unwrap_or("");
    !matches!(state, "not-installed" | "config-files" | "")
}

/// Parse a status file (or a `status.d` entry) into packages.
pub fn parse_status(data: &[u8], path: &str) -> Result<Vec<Package>> {
    let text = std::str::from_utf8(data)
        .map_err(|e| Error::invalid(path, format!("not UTF-8 text: {e}")))?;
    let mut out = Vec::new();
    for st in stanzas(text, path)? {
        let Some(name) = st.get("Package") else {
            return Err(Error::invalid(
                format!("{path}:{}", st.line),
                "stanza has no Package field",
            ));
        };
        // Distroless status.d entries carry no Status field: they are installed.
        if st.get("Status").is_some_and(|s| !is_present(s)) {
            continue;
        }
        let Some(version) = st.get("Version") else {
            return Err(Error::invalid(
                format!("{path}:{}", st.line),
                format!("package {name} has no Version field"),
            ));
        };
        let (source_name, source_version) = match st.get("Source") {
            Some(src) => {
                // `Source: name` or `Source: name (version)` when versions differ.
                let (n, v) = match src.split_once('(') {
                    Some((n, v)) => (n.trim(), Some(v.trim_end_matches(')').trim().to_string())),
                    None => (src.trim(), None),
                };
                (Some(n.to_string()), v)
            }
            None => (None, None),
        };
        out.push(Package {
            kind: PackageType::Deb,
            name: name.to_string(),
            version: version.to_string(),
            arch: st.get("Architecture").map(str::to_string),
            source_name,
            source_version,
            license: None,
            path: path.to_string(),
            layer: None,
        });
    }
    Ok(out)
}
