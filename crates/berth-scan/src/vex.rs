//! OpenVEX v0.2.0 documents: a vendor's statements that a finding does (not) apply to a
//! product. A `not_affected` or `fixed` statement suppresses the finding; the report keeps
//! it, marked with the statement. Format and matching rules: `docs/formats/scan.md` §5.

use crate::error::{Error, Result};
use crate::report::ScanReport;
use crate::sbom;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// The largest VEX document read (they are small; this refuses a mistaken file).
pub const MAX_VEX_BYTES: u64 = 16 << 20;

/// The status a statement gives a vulnerability in its products.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VexStatus {
    /// The product is not affected (with a justification or an impact statement).
    NotAffected,
    /// The product is affected.
    Affected,
    /// These product versions contain the fix.
    Fixed,
    /// Not known yet.
    UnderInvestigation,
}

impl VexStatus {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "not_affected" => Self::NotAffected,
            "affected" => Self::Affected,
            "fixed" => Self::Fixed,
            "under_investigation" => Self::UnderInvestigation,
            _ => return None,
        })
    }

    /// The OpenVEX label.
    pub fn label(self) -> &'static str {
        match self {
            Self::NotAffected => "not_affected",
            Self::Affected => "affected",
            Self::Fixed => "fixed",
            Self::UnderInvestigation => "under_investigation",
        }
    }

    /// Whether a finding with this status is suppressed (it does not block).
    pub fn suppresses(self) -> bool {
        matches!(self, Self::NotAffected | Self::Fixed)
    }
}

/// The justification labels of OpenVEX v0.2.0 (`not_affected` only).
pub const JUSTIFICATIONS: [&str; 5] = [
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

/// The statement that applies to a finding, as the report carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexNote {
    /// Status.
    pub status: VexStatus,
    /// Justification label (`not_affected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// Free-text impact statement (`not_affected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact_statement: Option<String>,
    /// Action statement (`affected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_statement: Option<String>,
    /// The document's `@id`.
    pub document: String,
    /// The file it was read from.
    pub file: String,
    /// Index of the statement in the document's `statements`.
    pub statement: usize,
    /// The statement's timestamp (its own, else the document's), RFC 3339.
    pub timestamp: String,
}

impl VexNote {
    /// One line: `not_affected (vulnerable_code_not_present: …) by DOC statement N`.
    pub fn describe(&self) -> String {
        let why: Vec<&str> = [&self.justification, &self.impact_statement]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(" ({})", why.join(": "))
        };
        format!(
            "{}{why}, VEX {} statement {}",
            self.status.label(),
            self.document,
            self.statement
        )
    }
}

/// One parsed statement.
#[derive(Clone, Debug)]
struct Statement {
    ids: Vec<String>,
    products: Vec<Product>,
    note: VexNote,
    at: Timestamp,
}

#[derive(Clone, Debug)]
struct Product {
    purls: Vec<Purl>,
    subcomponents: Vec<Vec<Purl>>,
}

/// Every statement of the documents given, in load order.
#[derive(Clone, Debug, Default)]
pub struct VexSet {
    statements: Vec<Statement>,
}

impl VexSet {
    /// Whether no statement was loaded.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Number of statements.
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// Read and add one document file.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.len() > MAX_VEX_BYTES {
            return Err(Error::TooLarge {
                what: format!("VEX document {}", path.display()),
                limit: MAX_VEX_BYTES,
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        self.add_document(&text, &path.display().to_string())
    }

    /// Parse and add one document's text; `origin` names it in errors.
    pub fn add_document(&mut self, text: &str, origin: &str) -> Result<()> {
        let doc: Value = serde_json::from_str(text).map_err(|e| {
            Error::invalid(
                origin,
                format!("not JSON ({e}); an OpenVEX document is one JSON object"),
            )
        })?;
        let ctx = doc.get("@context").and_then(Value::as_str).unwrap_or("");
        if !ctx.starts_with("https://openvex.dev/ns") {
            return Err(Error::invalid(
                format!("{origin}: @context"),
                format!(
                    "{ctx:?} is not an OpenVEX context; an OpenVEX document starts with \"@context\": \"https://openvex.dev/ns/v0.2.0\""
                ),
            ));
        }
        let id = str_field(&doc, "@id").ok_or_else(|| {
            Error::invalid(
                format!("{origin}: @id"),
                "missing; every OpenVEX document names itself with an IRI in @id",
            )
        })?;
        let doc_at = match str_field(&doc, "timestamp") {
            Some(t) => Some(parse_time(&t, &format!("{origin}: timestamp"))?),
            None => None,
        };
        let stmts = doc
            .get("statements")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                Error::invalid(
                    format!("{origin}: statements"),
                    "missing or not a list; give the statements as a JSON array",
                )
            })?;
        for (i, s) in stmts.iter().enumerate() {
            let st = parse_statement(s, origin, &id, i, doc_at)?;
            self.statements.push(st);
        }
        Ok(())
    }

    /// Mark every finding of the report that a statement covers with the latest such
    /// statement (by timestamp; on a tie, the one loaded last).
    pub fn apply(&self, report: &mut ScanReport) {
        for t in &mut report.targets {
            let image = ImageId::of(&t.name, t.digest.as_deref());
            for f in &mut t.findings {
                let Some(pkg) = t
                    .packages
                    .iter()
                    .find(|p| p.name == f.package && p.version == f.version && p.path == f.path)
                else {
                    continue;
                };
                let purl = Purl::parse(&sbom::purl(pkg, t.distro.as_ref()));
                let Some(purl) = purl else { continue };
                let best = self
                    .statements
                    .iter()
                    .filter(|s| s.ids.iter().any(|id| f.ids().any(|fid| fid == id)))
                    .filter(|s| s.products.iter().any(|p| p.covers(&purl, &image)))
                    .max_by_key(|s| s.at);
                f.vex = best.map(|s| s.note.clone());
            }
        }
    }
}

/// Load every document of `paths` (in order: on equal timestamps the later file wins).
pub fn load(paths: &[std::path::PathBuf]) -> Result<VexSet> {
    let mut set = VexSet::default();
    for p in paths {
        set.add_file(p)?;
    }
    Ok(set)
}

fn str_field(v: &Value, k: &str) -> Option<String> {
    v.get(k)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

fn parse_time(t: &str, what: &str) -> Result<Timestamp> {
    t.parse().map_err(|e| {
        Error::invalid(
            what,
            format!("{t:?} is not an RFC 3339 timestamp ({e}); write e.g. 2026-01-31T12:00:00Z"),
        )
    })
}

fn parse_statement(
    s: &Value,
    origin: &str,
    doc_id: &str,
    i: usize,
    doc_at: Option<Timestamp>,
) -> Result<Statement> {
    let place = |f: &str| format!("{origin}: statements[{i}].{f}");
    let vuln = s.get("vulnerability").ok_or_else(|| {
        Error::invalid(
            place("vulnerability"),
            "missing; name the vulnerability: {\"name\": \"CVE-…\"}",
        )
    })?;
    let name = str_field(vuln, "name").ok_or_else(|| {
        Error::invalid(
            place("vulnerability.name"),
            "missing; the vulnerability's main identifier (CVE-…, GHSA-…) is required",
        )
    })?;
    let mut ids = vec![name];
    ids.extend(str_field(vuln, "@id").and_then(|iri| {
        // An IRI like https://nvd.nist.gov/vuln/detail/CVE-… names the ID in its last segment.
        iri.rsplit('/').next().map(String::from)
    }));
    if let Some(a) = vuln.get("aliases").and_then(Value::as_array) {
        ids.extend(a.iter().filter_map(Value::as_str).map(String::from));
    }
    let status_s = str_field(s, "status").unwrap_or_default();
    let status = VexStatus::parse(&status_s).ok_or_else(|| {
        Error::invalid(
            place("status"),
            format!(
                "{status_s:?} is not an OpenVEX status; use not_affected, affected, fixed or under_investigation"
            ),
        )
    })?;
    let justification = str_field(s, "justification");
    let impact_statement = str_field(s, "impact_statement");
    let action_statement = str_field(s, "action_statement");
    if let Some(j) = &justification
        && !JUSTIFICATIONS.contains(&j.as_str())
    {
        return Err(Error::invalid(
            place("justification"),
            format!(
                "{j:?} is not an OpenVEX justification; use one of {}",
                JUSTIFICATIONS.join(", ")
            ),
        ));
    }
    if status == VexStatus::NotAffected && justification.is_none() && impact_statement.is_none() {
        return Err(Error::invalid(
            place("status"),
            "not_affected needs a justification (e.g. vulnerable_code_not_present) or an impact_statement saying why; add one",
        ));
    }
    let at = match str_field(s, "timestamp") {
        Some(t) => parse_time(&t, &place("timestamp"))?,
        None => doc_at.ok_or_else(|| {
            Error::invalid(
                place("timestamp"),
                "missing here and in the document; statements are ordered by time, give the document a timestamp",
            )
        })?,
    };
    let products = parse_products(s, &place("products"))?;
    Ok(Statement {
        ids,
        products,
        at,
        note: VexNote {
            status,
            justification,
            impact_statement,
            action_statement,
            document: doc_id.to_string(),
            file: origin.to_string(),
            statement: i,
            timestamp: at.to_string(),
        },
    })
}

fn parse_products(s: &Value, place: &str) -> Result<Vec<Product>> {
    let list = s
        .get("products")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| {
            Error::invalid(
                place,
                "missing or empty; list the products the statement is about, e.g. [{\"@id\": \"pkg:pypi/jinja2@3.1.2\"}]",
            )
        })?;
    let mut out = Vec::new();
    for (n, p) in list.iter().enumerate() {
        let purls = component_purls(p, &format!("{place}[{n}]"))?;
        let mut subcomponents = Vec::new();
        if let Some(subs) = p.get("subcomponents").and_then(Value::as_array) {
            for (k, c) in subs.iter().enumerate() {
                subcomponents.push(component_purls(
                    c,
                    &format!("{place}[{n}].subcomponents[{k}]"),
                )?);
            }
        }
        out.push(Product {
            purls,
            subcomponents,
        });
    }
    Ok(out)
}

/// The purls naming a component: its `@id` when that is a purl, and `identifiers.purl`.
fn component_purls(c: &Value, place: &str) -> Result<Vec<Purl>> {
    let mut out = Vec::new();
    let cands = [
        str_field(c, "@id"),
        c.get("identifiers").and_then(|i| str_field(i, "purl")),
    ];
    for s in cands.into_iter().flatten() {
        if s.starts_with("pkg:") {
            out.push(Purl::parse(&s).ok_or_else(|| {
                Error::invalid(
                    place,
                    format!("{s:?} is not a valid package URL (pkg:TYPE/NAME@VERSION)"),
                )
            })?);
        }
    }
    Ok(out)
}

impl Product {
    /// Whether this product (and its subcomponents) covers `pkg` of image `image`.
    fn covers(&self, pkg: &Purl, image: &ImageId) -> bool {
        if self.purls.iter().any(|p| p.covers(pkg)) {
            return true;
        }
        let is_image = self.purls.iter().any(|p| image.is(p));
        is_image
            && (self.subcomponents.is_empty()
                || self
                    .subcomponents
                    .iter()
                    .any(|c| c.iter().any(|p| p.covers(pkg))))
    }
}

/// The image a target is, as an OCI purl would name it.
struct ImageId {
    name: String,
    digest: Option<String>,
}

impl ImageId {
    fn of(target: &str, digest: Option<&str>) -> Self {
        let repo = target.split('@').next().unwrap_or(target);
        let last = repo.rsplit('/').next().unwrap_or(repo);
        let name = last.split(':').next().unwrap_or(last).to_ascii_lowercase();
        ImageId {
            name,
            digest: digest.map(String::from),
        }
    }

    /// `pkg:oci/NAME@sha256:…`: the digest decides; without a version, the name does.
    fn is(&self, p: &Purl) -> bool {
        if p.ty != "oci" {
            return false;
        }
        match &p.version {
            Some(v) => self.digest.as_deref() == Some(v.as_str()),
            None => p.name.eq_ignore_ascii_case(&self.name),
        }
    }
}

/// A parsed package URL (components percent-decoded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purl {
    /// Type, lowercase (`deb`, `pypi`, `npm`, `oci`, …).
    pub ty: String,
    /// Namespace segments joined by `/` (may be empty).
    pub namespace: String,
    /// Name (PEP 503 normalised for `pypi`).
    pub name: String,
    /// Version, when given.
    pub version: Option<String>,
    /// Qualifiers, sorted.
    pub qualifiers: Vec<(String, String)>,
}

impl Purl {
    /// Parse `pkg:type/namespace/name@version?qualifiers#subpath`.
    pub fn parse(s: &str) -> Option<Purl> {
        let rest = s.strip_prefix("pkg:")?.trim_start_matches('/');
        let rest = rest.split('#').next().unwrap_or(rest);
        let (rest, q) = match rest.split_once('?') {
            Some((r, q)) => (r, q),
            None => (rest, ""),
        };
        let (ty, path) = rest.split_once('/')?;
        let last_slash = path.rfind('/').map_or(0, |i| i + 1);
        let (path, version) = match path.rfind('@') {
            Some(at) if at >= last_slash && at > 0 => (&path[..at], Some(decode(&path[at + 1..]))),
            _ => (path, None),
        };
        let path = path.trim_end_matches('/');
        let (namespace, name) = match path.rsplit_once('/') {
            Some((ns, n)) => (ns, n),
            None => ("", path),
        };
        let ty = ty.to_ascii_lowercase();
        let mut name = decode(name);
        if ty == "pypi" {
            name = crate::catalog::python::normalize(&name);
        }
        if name.is_empty() || ty.is_empty() {
            return None;
        }
        let mut qualifiers: Vec<(String, String)> = q
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_ascii_lowercase(), decode(v)))
            .collect();
        qualifiers.sort();
        Some(Purl {
            ty,
            namespace: namespace
                .split('/')
                .map(decode)
                .collect::<Vec<_>>()
                .join("/"),
            name,
            version: version.filter(|v| !v.is_empty()),
            qualifiers,
        })
    }

    /// Whether this (statement) purl names `pkg`: type, namespace and name equal; the
    /// version and each qualifier, when given here, equal too.
    pub fn covers(&self, pkg: &Purl) -> bool {
        self.ty == pkg.ty
            && self.namespace == pkg.namespace
            && self.name == pkg.name
            && self
                .version
                .as_ref()
                .is_none_or(|v| pkg.version.as_ref() == Some(v))
            && self
                .qualifiers
                .iter()
                .all(|q| pkg.qualifiers.iter().any(|p| p == q))
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The CycloneDX `analysis.justification` for an OpenVEX justification, where one
/// corresponds (CycloneDX 1.6 `impactAnalysisJustification`).
pub fn cyclonedx_justification(j: &str) -> Option<&'static str> {
    Some(match j {
        "component_not_present" => "requires_dependency",
        "vulnerable_code_not_present" => "code_not_present",
        "vulnerable_code_not_in_execute_path" => "code_not_reachable",
        "inline_mitigations_already_exist" => "protected_by_mitigating_control",
        // No CycloneDX label says "cannot be controlled by an adversary": the detail says it.
        _ => return None,
    })
}

/// The CycloneDX `analysis.state` for a status.
pub fn cyclonedx_state(s: VexStatus) -> &'static str {
    match s {
        VexStatus::NotAffected => "not_affected",
        VexStatus::Fixed => "resolved",
        VexStatus::Affected => "exploitable",
        VexStatus::UnderInvestigation => "in_triage",
    }
}
