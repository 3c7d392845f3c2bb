//! apk's database `lib/apk/db/installed`: blank-line separated records of `X:value`
//! lines (`P` name, `V` version, `A` arch, `o` origin = source package).

use super::{Package, PackageType};
use crate::error::{Error, Result};

/// Parse the installed database.
pub fn parse_installed(data: &[u8], path: &str) -> Result<Vec<Package>> {
    let text = std::str::from_utf8(data)
        .map_err(|e| Error::invalid(path, format!("not UTF-8 text: {e}")))?;
    let mut out = Vec::new();
    let mut cur = Record::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            cur.finish(path, &mut out)?;
            continue;
        }
        if cur.line == 0 {
            cur.line = i + 1;
        }
        let Some((k, v)) = line.split_once(':') else {
            return Err(Error::invalid(
                format!("{path}:{}", i + 1),
                "expected `X:value` (not an apk installed database?)",
            ));
        };
        match k {
            "P" => cur.name = Some(v.to_string()),
            "V" => cur.version = Some(v.to_string()),
            "A" => cur.arch = Some(v.to_string()),
            "o" => cur.origin = Some(v.to_string()),
            _ => {}
        }
    }
    cur.finish(path, &mut out)?;
    Ok(out)
}

#[derive(Default)]
struct Record {
    line: usize,
    name: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    origin: Option<String>,
}

impl Record {
    fn finish(&mut self, path: &str, out: &mut Vec<Package>) -> Result<()> {
        let r = std::mem::take(self);
        if r.line == 0 {
            return Ok(());
        }
        let (Some(name), Some(version)) = (r.name, r.version) else {
            return Err(Error::invalid(
                format!("{path}:{}", r.line),
                "record without a P: (name) or V: (version) line",
            ));
        };
        out.push(Package {
            kind: PackageType::Apk,
            name,
            version,
            arch: r.arch,
            source_name: r.origin,
            source_version: None,
            license: None,
            path: path.to_string(),
            layer: None,
        });
        Ok(())
    }
}
