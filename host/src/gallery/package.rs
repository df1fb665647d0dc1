//! Plugin packages: a component, its manifest and (for packages from disk) an
//! Ed25519 signature over both, verified against the keys the operator trusts
//! before the gallery lists the package. Built-in packages are compiled into
//! the binary and need no signature: the binary is what the operator trusts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::manifest::{Manifest, ManifestError};

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// File names inside a package folder.
pub const MANIFEST_FILE: &str = "manifest.toml";
pub const COMPONENT_FILE: &str = "plugin.wasm";
pub const SIGNATURE_FILE: &str = "signature";

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{path}: {why}")]
    Io { path: String, why: String },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(
        "package `{0}` is not signed: its vendor signs it with `homeroom plugin sign`, and the operator adds the vendor's public key as a line of the file HOMEROOM_TRUSTED_KEYS names; for local development, --allow-unsigned"
    )]
    Unsigned(String),
    #[error(
        "package `{0}` has a signature that no trusted key verifies: it was changed after signing (ask its vendor for it again), or its vendor's public key is not a line of the file HOMEROOM_TRUSTED_KEYS names (add it there)"
    )]
    BadSignature(String),
    #[error("no plugin `{0}` in the gallery; `homeroom plugins` lists what there is")]
    NotFound(String),
    #[error("two packages claim the id `{0}`")]
    Duplicate(String),
}

#[derive(Debug, Clone)]
pub enum Origin {
    Builtin,
    Path(PathBuf),
}

#[derive(Debug)]
pub struct Package {
    pub manifest: Manifest,
    pub component: Arc<[u8]>,
    pub origin: Origin,
    /// SHA-256 of manifest and component: names this exact build (compile cache key).
    pub digest: [u8; 32],
}

fn digest(manifest_text: &[u8], component: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(Sha256::digest(manifest_text));
    h.update(Sha256::digest(component));
    h.finalize().into()
}

fn read(path: &Path) -> Result<Vec<u8>, PackageError> {
    std::fs::read(path).map_err(|e| PackageError::Io {
        path: path.display().to_string(),
        why: e.to_string(),
    })
}

impl Package {
    pub fn from_parts(
        manifest_text: &str,
        component: Vec<u8>,
        origin: Origin,
    ) -> Result<Package, PackageError> {
        let manifest = Manifest::parse(manifest_text)?;
        Ok(Package {
            digest: digest(manifest_text.as_bytes(), &component),
            manifest,
            component: component.into(),
            origin,
        })
    }

    /// Load a package folder. With `trusted` keys the signature must verify
    /// against one of them; with none (local development) it is not checked.
    pub fn from_dir(dir: &Path, trusted: Option<&[VerifyingKey]>) -> Result<Package, PackageError> {
        let manifest_bytes = read(&dir.join(MANIFEST_FILE))?;
        let manifest_text = String::from_utf8(manifest_bytes).map_err(|_| PackageError::Io {
            path: dir.join(MANIFEST_FILE).display().to_string(),
            why: "not UTF-8 text".into(),
        })?;
        let component = read(&dir.join(COMPONENT_FILE))?;
        let package =
            Package::from_parts(&manifest_text, component, Origin::Path(dir.to_path_buf()))?;
        if let Some(keys) = trusted {
            let sig_path = dir.join(SIGNATURE_FILE);
            if !sig_path.exists() {
                return Err(PackageError::Unsigned(package.manifest.id.clone()));
            }
            let sig_hex = String::from_utf8_lossy(&read(&sig_path)?)
                .trim()
                .to_string();
            let sig = hex::decode(&sig_hex)
                .ok()
                .and_then(|b| Signature::from_slice(&b).ok())
                .ok_or_else(|| PackageError::BadSignature(package.manifest.id.clone()))?;
            if !keys.iter().any(|k| k.verify(&package.digest, &sig).is_ok()) {
                return Err(PackageError::BadSignature(package.manifest.id.clone()));
            }
        }
        Ok(package)
    }

    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    /// `settings` with the defaults of the listing `requested` names (say
    /// `lumen-touch`) filled in under what was set; the plugin's own id has none.
    pub fn settings_for(
        &self,
        requested: &str,
        settings: &std::collections::BTreeMap<String, String>,
    ) -> std::collections::BTreeMap<String, String> {
        let mut out = settings.clone();
        if let Some(listing) = self.manifest.listings.iter().find(|l| l.id == requested) {
            for (k, v) in &listing.defaults {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        out
    }
}

/// Sign a package folder in place, writing its `signature` file.
pub fn sign_dir(dir: &Path, key: &SigningKey) -> Result<(), PackageError> {
    let package = Package::from_dir(dir, None)?;
    let sig = key.sign(&package.digest);
    let path = dir.join(SIGNATURE_FILE);
    std::fs::write(&path, hex::encode(sig.to_bytes())).map_err(|e| PackageError::Io {
        path: path.display().to_string(),
        why: e.to_string(),
    })
}

/// The plugins this host offers.
#[derive(Debug, Default)]
pub struct Gallery {
    packages: Vec<Arc<Package>>,
}

impl Gallery {
    /// The plugins compiled into this binary.
    pub fn builtin() -> Result<Gallery, PackageError> {
        let mut gallery = Gallery::default();
        for (manifest, component) in BUILTIN_PLUGINS {
            gallery.add(Package::from_parts(
                manifest,
                component.to_vec(),
                Origin::Builtin,
            )?)?;
        }
        Ok(gallery)
    }

    pub fn add(&mut self, package: Package) -> Result<Arc<Package>, PackageError> {
        if self.find(package.id()).is_some() {
            return Err(PackageError::Duplicate(package.id().to_string()));
        }
        let package = Arc::new(package);
        self.packages.push(package.clone());
        Ok(package)
    }

    pub fn find(&self, id: &str) -> Option<&Arc<Package>> {
        self.packages.iter().find(|p| p.id() == id)
    }

    /// A package by plugin id or by one of its listing ids (`lumen-touch`).
    pub fn get(&self, id: &str) -> Result<&Arc<Package>, PackageError> {
        self.find(id)
            .or_else(|| {
                self.packages
                    .iter()
                    .find(|p| p.manifest.listings.iter().any(|l| l.id == id))
            })
            .ok_or_else(|| PackageError::NotFound(id.to_string()))
    }

    pub fn packages(&self) -> &[Arc<Package>] {
        &self.packages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_gallery_loads() {
        let g = Gallery::builtin().unwrap();
        let rule = g.get("grade-filter").unwrap();
        assert!(rule.manifest.kind.is_rule());
        assert!(rule.component.starts_with(b"\0asm"), "a WebAssembly binary");
    }
}
