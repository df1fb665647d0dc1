//! Unchanged input: a full run of a file source whose input is, byte for
//! byte, that of its last committed run reads nothing, and reports that
//! run's records as unchanged.
//!
//! A connector without network access is a function of what the host hands
//! it (the sandbox's clock is frozen and its random stream seeded): the
//! package, its settings, the files of its folder and its plugin storage.
//! What the engine makes of the records depends besides on the source's
//! configuration, the district's rule components, and three things it reads
//! of the hub (the schools it knows, master fields, domains of uniqueness).
//! The host fingerprints all of it, and skips the read only when the last
//! committed run had the same fingerprint, left nothing out at approval, and
//! nothing but a commit has taken links away since (a purge, a duplicate
//! resolved by deleting one). A source whose manifest names any host it may
//! reach is never skipped: the host cannot know what it would be told.
//! (Rules reach no network.)
//!
//! Owns the fingerprint and that decision; reading, reconciling and
//! committing stay in the rest of the pipeline.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::SourceConfig;
use crate::model::report::RunReport;
use crate::reconcile::merge::Masters;
use crate::store::sync::KeyDomain;
use crate::store::{DbKeyValue, Run};

use super::{Engine, EngineError};

/// Bumped when what the host makes of the same input changes, so a new host
/// reads every source once more.
const FORMAT: &str = concat!("homeroom-input/1/", env!("CARGO_PKG_VERSION"));

/// What the engine reads of the hub before a run and hands its stages and
/// reconciler: the schools it maps against, master fields, domains of
/// uniqueness.
pub(super) struct Hub<'a> {
    pub known_schools: Option<&'a [String]>,
    pub masters: &'a Masters,
    pub domains: &'a [KeyDomain],
}

impl Hub<'_> {
    /// Each part as a line, in an order that does not depend on how the
    /// store listed them.
    fn parts(&self) -> Vec<(&'static str, String)> {
        let mut parts: Vec<(&'static str, String)> = Vec::new();
        for school in self.known_schools.unwrap_or_default() {
            parts.push(("school", school.clone()));
        }
        for ((kind, attribute), source) in self.masters {
            parts.push(("master", format!("{kind}.{attribute}={source}")));
        }
        for d in self.domains {
            parts.push((
                "domain",
                format!("{}:{}", d.kind.cli_name(), d.attributes.join("+")),
            ));
        }
        parts.sort();
        parts
    }
}

/// A file source's input as the host fingerprinted it before a full run.
pub(super) struct Fingerprint {
    /// Kept in the run's report (`input`).
    pub digest: String,
    dir: PathBuf,
    files: [u8; 32],
}

impl Fingerprint {
    /// Whether the folder still holds the files fingerprinted: after the
    /// read, a drop still being written when the run began shows here.
    pub async fn files_unchanged(&self) -> bool {
        let dir = self.dir.clone();
        matches!(
            tokio::task::spawn_blocking(move || folder_digest(&dir)).await,
            Ok(Ok(files)) if files == self.files
        )
    }
}

impl Engine {
    /// The fingerprint of everything a full run of `config` depends on,
    /// when the host can know all of it: none for a source whose manifest
    /// names any host it may reach, or a folder that cannot be read (the run
    /// then reads, and says why it cannot).
    pub(super) async fn input_fingerprint(
        &self,
        org_id: &str,
        config: &SourceConfig,
        hub: &Hub<'_>,
    ) -> Result<Option<Fingerprint>, EngineError> {
        let package = self.gallery.get(&config.plugin)?;
        let offline = package.manifest.files && package.manifest.allowed_hosts.is_empty();
        let Some(folder) = config.folder.as_deref().filter(|_| offline) else {
            return Ok(None);
        };
        let Ok(dir) = self.drop_folder(org_id, config, folder, true) else {
            return Ok(None);
        };
        let read = dir.clone();
        let digest = tokio::task::spawn_blocking(move || folder_digest(&read))
            .await
            .map_err(|e| e.to_string())
            .and_then(|read| read.map_err(|e| e.to_string()));
        let files = match digest {
            Ok(files) => files,
            Err(why) => {
                tracing::debug!(source = %config.id, %why, "the folder was not fingerprinted; the run reads it");
                return Ok(None);
            }
        };
        let mut h = Sha256::new();
        let mut part = |name: &str, bytes: &[u8]| {
            h.update(name.as_bytes());
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        part("format", FORMAT.as_bytes());
        // The package digest covers the manifest, so its setting defaults.
        part("package", &package.digest);
        let config_json = serde_json::to_vec(config).map_err(|e| {
            EngineError::Setup(format!(
                "the source `{}` could not be written out to be fingerprinted: {e}",
                config.id
            ))
        })?;
        part("config", &config_json);
        for r in &config.rules {
            part("rule", &self.gallery.get(&r.plugin)?.digest);
        }
        for (name, value) in hub.parts() {
            part(name, value.as_bytes());
        }
        let storage = DbKeyValue::new(self.store.clone(), org_id, &config.id)
            .entries()
            .await
            .map_err(|e| {
                EngineError::Setup(format!(
                    "the plugin storage of `{}` could not be read: {e}; check that the database is reachable, then run again",
                    config.id
                ))
            })?;
        for (k, v) in storage {
            part("storage-key", k.as_bytes());
            part("storage-value", &v);
        }
        part("files", &files);
        Ok(Some(Fingerprint {
            digest: hex::encode(h.finalize()),
            dir,
            files,
        }))
    }

    /// The last committed run of the source when its input was `fingerprint`
    /// and the hub still holds what it committed: nothing was left out at
    /// approval (such a run keeps no fingerprint) and no link was taken away
    /// since but by a commit.
    pub(super) async fn same_input(
        &self,
        org_id: &str,
        source_id: &str,
        fingerprint: &str,
    ) -> Result<Option<Run>, EngineError> {
        let Some(last) = self.store.last_committed_run(org_id, source_id).await? else {
            return Ok(None);
        };
        if last.report.input.as_deref() != Some(fingerprint) {
            return Ok(None);
        }
        let Some(at) = last.committed_at.as_deref() else {
            return Ok(None);
        };
        if self.store.links_touched_since(org_id, at).await? {
            return Ok(None);
        }
        Ok(Some(last))
    }
}

/// The report of a run that read nothing because its input was `last`'s:
/// the same records, warnings and records left out, every record that went
/// through unchanged, and the counts of what the hub holds after `last`.
pub(super) fn unchanged_report(last: &Run) -> RunReport {
    let mut report = last.report.clone();
    report.timings.clear();
    report.failure = None;
    report.hold = None;
    report.duplicates = 0;
    for c in report.counts.values_mut() {
        c.existing = (c.existing + c.add).saturating_sub(c.delete);
        c.unchanged += c.add + c.update;
        c.add = 0;
        c.update = 0;
        c.delete = 0;
        c.retry = 0;
    }
    report.same_input_as = Some(last.id.clone());
    report
}

/// A folder past this is not fingerprinted (it is hashed before and after
/// each read): its runs read it as they always did.
const MAX_FINGERPRINTED_BYTES: u64 = 8 << 30;

/// SHA-256 over every file below `dir` (its path there, its length, its
/// bytes), in path order; a link is taken as where it points, as the
/// sandbox resolves it inside the folder.
fn folder_digest(dir: &Path) -> std::io::Result<[u8; 32]> {
    let mut files: Vec<(String, PathBuf, bool)> = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            let rel = path
                .strip_prefix(dir)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                todo.push(path);
            } else if kind.is_file() || kind.is_symlink() {
                files.push((rel, path, kind.is_symlink()));
            } else {
                // A pipe or a device would block or never end: no
                // fingerprint, and the run reads as it always did.
                return Err(std::io::Error::other(format!(
                    "{rel} is not a regular file"
                )));
            }
        }
    }
    files.sort();
    let mut total = 0u64;
    for (rel, path, link) in &files {
        if !link {
            total += std::fs::metadata(path)?.len();
        }
        if total > MAX_FINGERPRINTED_BYTES {
            return Err(std::io::Error::other(format!(
                "the folder holds more than {} GiB (at {rel}): too much to read twice a run",
                MAX_FINGERPRINTED_BYTES >> 30
            )));
        }
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for (rel, path, link) in files {
        h.update((rel.len() as u64).to_le_bytes());
        h.update(rel.as_bytes());
        if link {
            let to = std::fs::read_link(&path)?;
            h.update(b"link");
            h.update(to.to_string_lossy().as_bytes());
            continue;
        }
        let mut f = std::fs::File::open(&path)?;
        h.update(f.metadata()?.len().to_le_bytes());
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::folder_digest;

    #[test]
    fn a_folder_digest_changes_with_any_byte_name_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("users.csv"), "sourcedId,givenName\nu1,Ada\n").unwrap();
        std::fs::create_dir(d.join("old")).unwrap();
        std::fs::write(d.join("old/orgs.csv"), "sourcedId\no1\n").unwrap();
        let first = folder_digest(d).unwrap();
        assert_eq!(
            first,
            folder_digest(d).unwrap(),
            "the same folder, the same digest"
        );

        std::fs::write(d.join("users.csv"), "sourcedId,givenName\nu1,Adb\n").unwrap();
        let byte = folder_digest(d).unwrap();
        assert_ne!(first, byte, "one byte changed");

        std::fs::write(d.join("users.csv"), "sourcedId,givenName\nu1,Ada\n").unwrap();
        assert_eq!(first, folder_digest(d).unwrap(), "the byte put back");

        std::fs::rename(d.join("old/orgs.csv"), d.join("old/orgs2.csv")).unwrap();
        assert_ne!(first, folder_digest(d).unwrap(), "a file renamed");
        std::fs::rename(d.join("old/orgs2.csv"), d.join("old/orgs.csv")).unwrap();

        std::fs::write(d.join("extra.csv"), "").unwrap();
        assert_ne!(first, folder_digest(d).unwrap(), "an empty file added");
    }

    #[cfg(unix)]
    #[test]
    fn a_pipe_in_the_folder_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("users.csv"), "sourcedId\nu1\n").unwrap();
        let fifo = dir.path().join("feed");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo {}", fifo.display());
        let err = folder_digest(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("feed is not a regular file"),
            "{err}"
        );
    }
}
