//! Where the package is and how its files are opened.
//!
//! This module owns finding a OneRoster CSV package in the drop folder (a
//! `manifest.csv` in the folder, in a folder one level down, or in a `.zip`,
//! the newest when there are several, or exactly what the `path` setting
//! names) and opening each of its files as a plain byte stream that starts at
//! a given offset. A zipped file is read straight from the archive, inflated
//! as it streams (stored and deflated entries), so nothing is extracted and
//! memory stays flat whatever the size.
//!
//! It knows nothing of CSV: `rows` parses what it opens.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use homeroom_sdk::PluginError;

/// The name every OneRoster CSV package carries.
pub const MANIFEST: &str = "manifest.csv";

/// One file of the package.
#[derive(Debug, Clone)]
enum Entry {
    File(PathBuf),
    Zipped(ZippedEntry),
}

#[derive(Debug, Clone)]
struct ZippedEntry {
    /// The entry's name inside the archive.
    name: String,
    data_start: u64,
    compressed_size: u64,
    size: u64,
    deflated: bool,
    crc32: u32,
}

/// A package found in the drop folder.
#[derive(Debug, Clone)]
pub struct Package {
    /// How an admin names where it is: `district.zip`, `2024-09-01/`, `the folder`.
    pub label: String,
    /// The archive, when the package is zipped.
    archive: Option<PathBuf>,
    /// Files by lowercase name (`users.csv`).
    files: BTreeMap<String, (String, Entry)>,
    /// Packages that were passed over for this one (several in the folder).
    pub passed_over: Vec<String>,
}

impl Package {
    /// The file's name as the package spells it, when the package has it
    /// (names are matched without regard to case).
    pub fn has(&self, name: &str) -> Option<&str> {
        self.files
            .get(&name.to_ascii_lowercase())
            .map(|(n, _)| n.as_str())
    }

    /// Open a file as a byte stream positioned at `offset` (bytes into the
    /// file, uncompressed). A plain file seeks; a zipped one inflates and
    /// skips, which costs time but no memory.
    pub fn open(&self, name: &str, offset: u64) -> io::Result<Box<dyn Read>> {
        let Some((_, entry)) = self.files.get(&name.to_ascii_lowercase()) else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{name} is not in the package"),
            ));
        };
        match entry {
            Entry::File(path) => {
                let mut file = File::open(path)?;
                if offset > 0 {
                    file.seek(SeekFrom::Start(offset))?;
                }
                Ok(Box::new(file))
            }
            Entry::Zipped(z) => {
                let archive = self
                    .archive
                    .as_ref()
                    .ok_or_else(|| io::Error::other("no archive"))?;
                let mut file = File::open(archive)?;
                file.seek(SeekFrom::Start(z.data_start))?;
                let raw = BufReader::with_capacity(64 * 1024, file.take(z.compressed_size));
                let inflated: Box<dyn Read> = if z.deflated {
                    Box::new(flate2::bufread::DeflateDecoder::new(raw))
                } else {
                    Box::new(raw)
                };
                let mut stream: Box<dyn Read> = Box::new(Checked {
                    inner: inflated,
                    crc: crc32fast::Hasher::new(),
                    read: 0,
                    expected_crc: z.crc32,
                    expected_size: z.size,
                    name: z.name.clone(),
                });
                if offset > 0 {
                    let skipped = io::copy(&mut (&mut stream).take(offset), &mut io::sink())?;
                    if skipped < offset {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("{name} ends before byte {offset}"),
                        ));
                    }
                }
                Ok(stream)
            }
        }
    }
}

/// Checks an inflated zip entry against its size and CRC-32 once it has been
/// read to the end, so a damaged archive fails loudly rather than yielding
/// half a file.
struct Checked {
    inner: Box<dyn Read>,
    crc: crc32fast::Hasher,
    read: u64,
    expected_crc: u32,
    expected_size: u64,
    name: String,
}

impl Read for Checked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.crc.update(&buf[..n]);
            self.read += n as u64;
            if self.read > self.expected_size {
                return Err(damaged(
                    &self.name,
                    "it holds more data than its header says",
                ));
            }
        } else if !buf.is_empty() {
            if self.read != self.expected_size {
                return Err(damaged(&self.name, "it ends early"));
            }
            if self.crc.clone().finalize() != self.expected_crc {
                return Err(damaged(&self.name, "its checksum does not match"));
            }
        }
        Ok(n)
    }
}

fn damaged(name: &str, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{name} in the zip is damaged ({why}): upload the package again"),
    )
}

fn config(message: String) -> PluginError {
    PluginError::Config(message)
}

/// Check the `path` setting: a relative path inside the drop folder.
fn checked_sub_path(path: &str) -> Result<PathBuf, PluginError> {
    let p = Path::new(path.trim());
    let mut out = PathBuf::new();
    for component in p.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => {
                return Err(config(format!(
                    "the setting `path` (`{path}`) must name a folder or a .zip inside the drop folder, without `..` or a leading `/`"
                )));
            }
        }
    }
    Ok(out)
}

fn is_zip(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The manifest in a folder, whatever the case of its name.
fn manifest_in(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_file() && file_name(p).eq_ignore_ascii_case(MANIFEST))
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Find the package. `root` is the drop folder (`/drop` in the sandbox);
/// `sub_path` is the `path` setting.
pub fn find(root: &Path, sub_path: Option<&str>) -> Result<Package, PluginError> {
    if !root.is_dir() {
        return Err(config(
            "this source has no readable drop folder: set the source's folder to where the OneRoster CSV export lands".into(),
        ));
    }
    let (start, named) = match sub_path.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => (root.join(checked_sub_path(p)?), Some(p)),
        None => (root.to_path_buf(), None),
    };
    if let Some(p) = named {
        if !start.exists() {
            return Err(config(format!(
                "the setting `path` names `{p}`, which is not in the drop folder: check the name (it is case-sensitive) or leave `path` empty to use the newest package"
            )));
        }
        if start.is_file() {
            if is_zip(&start) {
                return open_zip(&start, Vec::new());
            }
            if file_name(&start).eq_ignore_ascii_case(MANIFEST) {
                let dir = start.parent().unwrap_or(root);
                return open_dir(dir, format!("{}/", parent_label(p)), Vec::new());
            }
            return Err(config(format!(
                "the setting `path` names `{p}`, which is neither a folder nor a .zip file"
            )));
        }
    }
    let here_label = match named {
        Some(p) => format!("{}/", p.trim_end_matches('/')),
        None => "the drop folder".to_string(),
    };
    if manifest_in(&start).is_some() {
        return open_dir(&start, here_label, Vec::new());
    }
    // Candidates one level down: folders holding a manifest, and zips.
    let mut candidates: Vec<(SystemTime, String, PathBuf, bool)> = Vec::new();
    let entries = std::fs::read_dir(&start)
        .map_err(|e| config(format!("the drop folder cannot be listed: {e}")))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = file_name(&path);
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if let Some(manifest) = manifest_in(&path) {
                candidates.push((modified(&manifest), name, path, false));
            }
        } else if path.is_file() && is_zip(&path) {
            candidates.push((modified(&path), name, path, true));
        }
    }
    candidates.sort();
    let Some((_, name, path, zipped)) = candidates.pop() else {
        return Err(config(format!(
            "no manifest.csv in {here_label} or one level down, and no .zip: export a OneRoster CSV package (manifest.csv, orgs.csv, users.csv, ...) into it"
        )));
    };
    let passed_over: Vec<String> = candidates.into_iter().rev().map(|(_, n, _, _)| n).collect();
    if zipped {
        open_zip(&path, passed_over)
    } else {
        let label = match named {
            Some(p) => format!("{}/{name}/", p.trim_end_matches('/')),
            None => format!("{name}/"),
        };
        open_dir(&path, label, passed_over)
    }
}

fn parent_label(p: &str) -> String {
    let parent = Path::new(p)
        .parent()
        .map(|x| x.display().to_string())
        .unwrap_or_default();
    if parent.is_empty() {
        ".".into()
    } else {
        parent
    }
}

fn open_dir(dir: &Path, label: String, passed_over: Vec<String>) -> Result<Package, PluginError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| config(format!("{label} cannot be listed: {e}")))?;
    let mut files = BTreeMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_file() {
            let name = file_name(&path);
            files.insert(name.to_ascii_lowercase(), (name, Entry::File(path)));
        }
    }
    Ok(Package {
        label,
        archive: None,
        files,
        passed_over,
    })
}

fn open_zip(path: &Path, passed_over: Vec<String>) -> Result<Package, PluginError> {
    let label = file_name(path);
    let bad = |why: String| {
        PluginError::InvalidData(format!(
            "{label} cannot be read as a zip archive ({why}): upload the package again"
        ))
    };
    let file = File::open(path).map_err(|e| config(format!("{label} cannot be opened: {e}")))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| bad(e.to_string()))?;
    // The manifest sits at the root of the archive or one folder down.
    let mut prefix = None;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|e| bad(e.to_string()))?;
        let name = entry
            .name()
            .map_err(|e| bad(e.to_string()))?
            .replace('\\', "/");
        let parts: Vec<&str> = name.split('/').collect();
        let last = parts.last().copied().unwrap_or_default();
        if !last.eq_ignore_ascii_case(MANIFEST) || parts.len() > 2 || name.starts_with("__MACOSX/")
        {
            continue;
        }
        let here = if parts.len() == 2 {
            format!("{}/", parts[0])
        } else {
            String::new()
        };
        // Prefer the root over a folder.
        if prefix
            .as_ref()
            .is_none_or(|p: &String| here.len() < p.len())
        {
            prefix = Some(here);
        }
    }
    let Some(prefix) = prefix else {
        return Err(config(format!(
            "{label} has no manifest.csv at its root or one folder down: zip the OneRoster CSV files themselves (manifest.csv, orgs.csv, users.csv, ...)"
        )));
    };
    let mut files = BTreeMap::new();
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|e| bad(e.to_string()))?;
        if entry.is_dir() {
            continue;
        }
        let full = entry
            .name()
            .map_err(|e| bad(e.to_string()))?
            .replace('\\', "/");
        let Some(name) = full.strip_prefix(&prefix) else {
            continue;
        };
        if name.contains('/') || name.is_empty() {
            continue;
        }
        if entry.encrypted() {
            return Err(PluginError::InvalidData(format!(
                "{name} in {label} is encrypted: export the package without a password"
            )));
        }
        let method = entry.compression();
        // By value, so it holds whichever of the zip crate's features are on.
        let deflated = match method {
            m if m == zip::CompressionMethod::STORE => false,
            m if m == zip::CompressionMethod::DEFLATE => true,
            other => {
                return Err(PluginError::InvalidData(format!(
                    "{name} in {label} is compressed with {other:?}, which this connector cannot read: zip the package with standard (Deflate) compression"
                )));
            }
        };
        let data_start = entry
            .data_start()
            .ok_or_else(|| bad(format!("the start of {name} is unknown")))?;
        let zipped = ZippedEntry {
            name: full.clone(),
            data_start,
            compressed_size: entry.compressed_size(),
            size: entry.size(),
            deflated,
            crc32: entry.crc32(),
        };
        files.insert(
            name.to_ascii_lowercase(),
            (name.to_string(), Entry::Zipped(zipped)),
        );
    }
    let label = if prefix.is_empty() {
        label
    } else {
        format!("{label} ({prefix})")
    };
    Ok(Package {
        label,
        archive: Some(path.to_path_buf()),
        files,
        passed_over,
    })
}
