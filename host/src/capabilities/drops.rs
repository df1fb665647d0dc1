//! File-drop folders: where a file connector may read. The operator names a
//! drop root; each organization has a folder of its own below it
//! (`<root>/<organization id>`), and a source's folder must lie inside its
//! organization's. A relative folder is taken from there; an absolute path
//! outside it, a `..`, or a link that leads out is refused, at save and
//! again at each run (a link may be made later).
//!
//! It owns that rule and nothing else: the sandbox preopens the folder this
//! returns, read-only, as `/drop`, and cap-std keeps the plugin inside it.

use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DropError {
    #[error(
        "`{0}` cannot name a drop folder (an organization id with a path separator, `.` or `..`)"
    )]
    BadOrganization(String),
    #[error(
        "the folder `{folder}` is outside this organization's drop folder {org_dir}: put the files in a folder there and give its name (`sis`, say), or a path inside it"
    )]
    Outside { folder: String, org_dir: String },
    #[error(
        "the folder `{folder}` is not in this organization's drop folder {org_dir}: put the files there first"
    )]
    Missing { folder: String, org_dir: String },
    #[error("the drop folder {path} cannot be made or read: {why}")]
    Io { path: String, why: String },
}

/// The operator's drop root.
#[derive(Debug, Clone)]
pub struct DropRoot {
    root: PathBuf,
}

impl DropRoot {
    pub fn new(root: impl Into<PathBuf>) -> DropRoot {
        DropRoot { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The organization's own drop folder, made if it is not there yet.
    pub fn org_dir(&self, org_id: &str) -> Result<PathBuf, DropError> {
        let mut parts = Path::new(org_id).components();
        let one_part = matches!(parts.next(), Some(Component::Normal(_))) && parts.next().is_none();
        if !one_part || org_id.contains(['/', '\\', '\0']) {
            return Err(DropError::BadOrganization(org_id.to_string()));
        }
        let dir = self.root.join(org_id);
        let io = |e: std::io::Error| DropError::Io {
            path: dir.display().to_string(),
            why: e.to_string(),
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        dir.canonicalize().map_err(io)
    }

    /// The folder a source of `org_id` reads, checked. `must_exist`: at a
    /// run the folder must be there; at save it may come later, and is
    /// checked by its path alone until then.
    pub fn folder(
        &self,
        org_id: &str,
        folder: &str,
        must_exist: bool,
    ) -> Result<PathBuf, DropError> {
        let org_dir = self.org_dir(org_id)?;
        let shown = || org_dir.display().to_string();
        let outside = || DropError::Outside {
            folder: folder.to_string(),
            org_dir: shown(),
        };
        let path = Path::new(folder.trim());
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(outside());
        }
        let full = if path.is_absolute() {
            path.to_path_buf()
        } else {
            org_dir.join(path)
        };
        match full.canonicalize() {
            // Where it really is, links followed.
            Ok(real) if real.starts_with(&org_dir) => Ok(real),
            Ok(_) => Err(outside()),
            Err(_) if must_exist => Err(DropError::Missing {
                folder: folder.to_string(),
                org_dir: shown(),
            }),
            Err(_) if full.starts_with(&org_dir) => Ok(full),
            Err(_) => Err(outside()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_stay_inside_their_organization() {
        let tmp = tempfile::tempdir().unwrap();
        let drops = DropRoot::new(tmp.path().join("drops"));
        let mine = drops.org_dir("north").unwrap();
        let theirs = drops.org_dir("south").unwrap();
        std::fs::create_dir_all(mine.join("sis")).unwrap();
        std::fs::create_dir_all(theirs.join("sis")).unwrap();

        assert_eq!(
            drops.folder("north", "sis", true).unwrap(),
            mine.join("sis")
        );
        let absolute = mine.join("sis").display().to_string();
        assert!(drops.folder("north", &absolute, true).is_ok());
        assert!(
            drops.folder("north", "later", false).is_ok(),
            "may come later"
        );
        for bad in [
            theirs.join("sis").display().to_string(),
            "/etc".to_string(),
            "../south/sis".to_string(),
            "sis/../../south/sis".to_string(),
        ] {
            let e = drops.folder("north", &bad, false).unwrap_err();
            assert!(matches!(e, DropError::Outside { .. }), "{bad}: {e}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(theirs.join("sis"), mine.join("link")).unwrap();
            let e = drops.folder("north", "link", true).unwrap_err();
            assert!(matches!(e, DropError::Outside { .. }), "{e}");
        }
        assert!(matches!(
            drops.folder("north", "later", true),
            Err(DropError::Missing { .. })
        ));
        for org in ["..", "a/b", "."] {
            assert!(matches!(
                drops.org_dir(org),
                Err(DropError::BadOrganization(_))
            ));
        }
    }
}
