//! rpm's package database, in each of the formats rpm has written: SQLite `rpmdb.sqlite`
//! (rpm ≥ 4.16: RHEL 9, Fedora ≥ 33, Rocky/Alma 9, Amazon Linux 2023), Berkeley DB hash
//! `Packages` (RHEL/CentOS 5–8, Amazon Linux 2) and ndb `Packages.db` (SUSE). Each stores one
//! rpm header per installed package; [`header`] reads the tags berth needs. The format is
//! told by the file's magic bytes, not its name.

pub mod bdb;
pub mod header;
pub mod ndb;
pub mod sqlite;

use super::{Package, PackageType};
use crate::error::{Error, Result};
use header::{Header, tag};

/// The directories rpm keeps its database in (`%_dbpath`: the classic one, and the one of
/// Fedora ≥ 36 and openSUSE, to which `var/lib/rpm` is often a symlink).
pub const DB_DIRS: [&str; 2] = ["var/lib/rpm/", "usr/lib/sysimage/rpm/"];
/// Database file names in those directories.
pub const DB_FILES: [&str; 3] = ["Packages", "Packages.db", "rpmdb.sqlite"];
/// The write-ahead log beside `rpmdb.sqlite` (empty once rpm closed the database cleanly).
pub const WAL_SUFFIX: &str = "-wal";

/// Whether `path` is an rpm database file or the WAL of one.
pub fn is_db(path: &str) -> bool {
    DB_DIRS.iter().any(|d| {
        path.strip_prefix(d)
            .is_some_and(|name| DB_FILES.contains(&name) || name == "rpmdb.sqlite-wal")
    })
}

/// Which format a database file's bytes are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// SQLite 3.
    Sqlite,
    /// Berkeley DB hash.
    BerkeleyDb,
    /// rpm's ndb.
    Ndb,
}

impl Format {
    /// Tell the format from the first bytes.
    pub fn sniff(data: &[u8]) -> Option<Format> {
        if data.starts_with(b"SQLite format 3\0") {
            return Some(Format::Sqlite);
        }
        if data.starts_with(b"RpmP") {
            return Some(Format::Ndb);
        }
        let magic = data.get(12..16)?;
        (magic == [0x61, 0x15, 0x06, 0x00] || magic == [0x00, 0x06, 0x15, 0x61])
            .then_some(Format::BerkeleyDb)
    }

    fn label(self) -> &'static str {
        match self {
            Format::Sqlite => "sqlite",
            Format::BerkeleyDb => "Berkeley DB",
            Format::Ndb => "ndb",
        }
    }
}

/// The header blobs of a database (`wal`: the bytes of `rpmdb.sqlite-wal`, when present).
pub fn header_blobs(
    data: &[u8],
    wal: Option<&[u8]>,
    f: &mut dyn FnMut(&[u8]) -> std::result::Result<(), String>,
) -> std::result::Result<Format, String> {
    let format = Format::sniff(data).ok_or(
        "not an rpm database: neither SQLite, Berkeley DB hash nor ndb by its first bytes",
    )?;
    let r = match format {
        Format::Sqlite => sqlite_blobs(data, wal, f),
        Format::BerkeleyDb => bdb::Db::open(data).and_then(|db| db.values(f)),
        Format::Ndb => ndb::blobs(data, f),
    };
    r.map(|()| format)
        .map_err(|e| format!("rpm database ({}): {e}", format.label()))
}

fn sqlite_blobs(
    data: &[u8],
    wal: Option<&[u8]>,
    f: &mut dyn FnMut(&[u8]) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let db = sqlite::Db::open(data, wal)?;
    let root = db.table_root("Packages")?;
    db.table_rows(root, &mut |rowid, payload| {
        // CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)
        match sqlite::record(payload)?.get(1) {
            Some(sqlite::Value::Blob(b)) => f(b),
            _ => Err(format!("row {rowid} of Packages has no header blob")),
        }
    })
}

/// What berth keeps of one header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RpmInfo {
    /// NAME.
    pub name: String,
    /// EPOCH, when the header has one.
    pub epoch: Option<u64>,
    /// VERSION.
    pub version: String,
    /// RELEASE.
    pub release: String,
    /// ARCH (absent for gpg-pubkey entries).
    pub arch: Option<String>,
    /// SOURCERPM.
    pub source_rpm: Option<String>,
    /// LICENSE.
    pub license: Option<String>,
    /// VENDOR.
    pub vendor: Option<String>,
    /// MODULARITYLABEL.
    pub modularity_label: Option<String>,
}

impl RpmInfo {
    /// Read the tags of a header blob.
    pub fn from_blob(blob: &[u8]) -> std::result::Result<RpmInfo, header::HeaderError> {
        let h = Header::parse(blob)?;
        let s = |t| h.string(t).map(|o| o.map(str::to_string));
        let need = |t, what: &str| -> std::result::Result<String, header::HeaderError> {
            s(t)?
                .filter(|v| !v.is_empty())
                .ok_or_else(|| header::HeaderError(format!("header has no {what} (tag {t})")))
        };
        Ok(RpmInfo {
            name: need(tag::NAME, "NAME")?,
            epoch: h.int(tag::EPOCH)?,
            version: need(tag::VERSION, "VERSION")?,
            release: need(tag::RELEASE, "RELEASE")?,
            arch: s(tag::ARCH)?,
            source_rpm: s(tag::SOURCERPM)?,
            license: s(tag::LICENSE)?,
            vendor: s(tag::VENDOR)?,
            modularity_label: s(tag::MODULARITYLABEL)?.filter(|m| !m.is_empty()),
        })
    }

    /// `[E:]V-R`, the epoch shown only when it is not 0 (what `rpm -q --qf %{EVR}` prints).
    pub fn evr(&self) -> String {
        evr(self.epoch, &self.version, &self.release)
    }

    /// The source package's name and EVR from SOURCERPM (`name-version-release.src.rpm`;
    /// the epoch is the binary package's, as rpm does not record one for the source).
    pub fn source(&self) -> Option<(String, String)> {
        let s = self.source_rpm.as_deref()?;
        let stem = s
            .strip_suffix(".src.rpm")
            .or_else(|| s.strip_suffix(".nosrc.rpm"))?;
        let (rest, release) = stem.rsplit_once('-')?;
        let (name, version) = rest.rsplit_once('-')?;
        if name.is_empty() || version.is_empty() || release.is_empty() {
            return None;
        }
        Some((name.to_string(), evr(self.epoch, version, release)))
    }
}

fn evr(epoch: Option<u64>, version: &str, release: &str) -> String {
    match epoch {
        Some(e) if e != 0 => format!("{e}:{version}-{release}"),
        _ => format!("{version}-{release}"),
    }
}

/// The packages of an rpm database file (`wal`: its `-wal` file's bytes, when present).
/// `gpg-pubkey` entries (imported signing keys, not software) are left out.
pub fn parse_db(data: &[u8], wal: Option<&[u8]>, path: &str) -> Result<Vec<Package>> {
    let mut out = Vec::new();
    let mut n = 0usize;
    header_blobs(data, wal, &mut |blob| {
        n += 1;
        let info = RpmInfo::from_blob(blob).map_err(|e| format!("package {n}: {e}"))?;
        if info.name == "gpg-pubkey" {
            return Ok(());
        }
        let version = info.evr();
        let (source_name, source_version) = match info.source() {
            Some((sn, sv)) => {
                let sv = (sv != version).then_some(sv);
                (Some(sn), sv)
            }
            None => (None, None),
        };
        out.push(Package {
            kind: PackageType::Rpm,
            name: info.name,
            version,
            arch: info.arch,
            source_name,
            source_version,
            license: info.license.filter(|l| !l.is_empty()),
            path: path.to_string(),
            layer: None,
        });
        Ok(())
    })
    .map_err(|e| Error::invalid(path, e))?;
    Ok(out)
}
