//! `manifest.csv`: which OneRoster version the package speaks and, per file,
//! whether it is a full (`bulk`) set, a `delta` of changes, or `absent`.
//!
//! This module owns reading the manifest's `propertyName,value` rows; it does
//! not open the data files.

use std::collections::BTreeMap;
use std::io::Read;

use homeroom_sdk::PluginError;
use homeroom_sdk::oneroster::Version;

/// How a file of the package is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The whole set: what is not in it is gone.
    Bulk,
    /// Changes only, deletions as `tobedeleted`.
    Delta,
    /// Not part of this package.
    Absent,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Bulk => "bulk",
            Mode::Delta => "delta",
            Mode::Absent => "absent",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Manifest {
    /// `oneroster.version`, when the manifest states one the connector knows.
    pub version: Option<Version>,
    /// `oneroster.version` as written, when it is one the connector does not know.
    pub unknown_version: Option<String>,
    pub manifest_version: Option<String>,
    /// `file.<name>` by name (`users`), as stated.
    pub files: BTreeMap<String, Mode>,
    pub source_system: Option<String>,
    /// Problems worth a warning that do not stop the read.
    pub warnings: Vec<String>,
}

impl Manifest {
    /// The stated mode of `users.csv` (by file name), if the manifest states one.
    pub fn mode_of(&self, file: &str) -> Option<Mode> {
        let key = file.strip_suffix(".csv").unwrap_or(file);
        self.files
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, mode)| *mode)
    }
}

/// Read `manifest.csv`. `label` names the package in messages.
pub fn parse(input: impl Read, label: &str) -> Result<Manifest, PluginError> {
    let invalid = |why: String| PluginError::InvalidData(format!("manifest.csv in {label}: {why}"));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let mut manifest = Manifest::default();
    let mut record = csv::ByteRecord::new();
    let mut first = true;
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| invalid(format!("cannot be read: {e}")))?
    {
        let field = |i: usize| {
            let raw = record.get(i).unwrap_or_default();
            let raw = raw.strip_prefix(b"\xef\xbb\xbf".as_slice()).unwrap_or(raw);
            String::from_utf8_lossy(raw).trim().to_string()
        };
        let (name, value) = (field(0), field(1));
        if first {
            first = false;
            if !name.eq_ignore_ascii_case("propertyName") {
                return Err(invalid(format!(
                    "the first line must be the header `propertyName,value`, not `{name},{value}`"
                )));
            }
            continue;
        }
        if name.is_empty() {
            continue;
        }
        let line = reader.position().line().saturating_sub(1);
        if name.eq_ignore_ascii_case("oneroster.version") {
            match Version::parse(&value) {
                Some(v) => manifest.version = Some(v),
                None => manifest.unknown_version = Some(value),
            }
        } else if name.eq_ignore_ascii_case("manifest.version") {
            manifest.manifest_version = Some(value);
        } else if name.eq_ignore_ascii_case("source.systemName") {
            manifest.source_system = Some(value).filter(|v| !v.is_empty());
        } else if let Some(file) = name.strip_prefix("file.") {
            let mode = match value.to_ascii_lowercase().as_str() {
                "bulk" => Mode::Bulk,
                "delta" => Mode::Delta,
                "absent" | "" => Mode::Absent,
                other => {
                    manifest.warnings.push(format!(
                        "manifest.csv line {line}: `{name}` is `{other}`, which is not bulk, delta or absent; the file is read as bulk"
                    ));
                    Mode::Bulk
                }
            };
            manifest.files.insert(file.to_string(), mode);
        }
    }
    if first {
        return Err(invalid("the file is empty".into()));
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_version_and_modes_with_bom_and_crlf() {
        let text = "\u{feff}propertyName,value\r\nmanifest.version,1.0\r\noneroster.version,1.2\r\nfile.users,bulk\r\nfile.enrollments,DELTA\r\nfile.resources,absent\r\nfile.orgs,sometimes\r\n";
        let m = parse(text.as_bytes(), "test").unwrap();
        assert_eq!(m.version, Some(Version::V1p2));
        assert_eq!(m.mode_of("users.csv"), Some(Mode::Bulk));
        assert_eq!(m.mode_of("Enrollments.csv"), Some(Mode::Delta));
        assert_eq!(m.mode_of("resources.csv"), Some(Mode::Absent));
        assert_eq!(m.mode_of("orgs.csv"), Some(Mode::Bulk));
        assert_eq!(m.mode_of("courses.csv"), None);
        assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
        assert!(m.warnings[0].contains("file.orgs"));
    }

    #[test]
    fn refuses_a_file_that_is_not_a_manifest() {
        let err = parse("sourcedId,name\n1,x\n".as_bytes(), "pkg").unwrap_err();
        assert!(err.message().contains("propertyName,value"), "{err:?}");
        assert!(parse("".as_bytes(), "pkg").is_err());
    }
}
