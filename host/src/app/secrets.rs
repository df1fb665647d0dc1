//! Secret values entered through the API or the admin UI (a client secret,
//! a password): sealed with XChaCha20-Poly1305 under the host's key before
//! they reach the database, opened only to start a connector session. The
//! key lives in a file beside the database (or where `--secret-key-file`
//! says), never in the database. Secrets are write-only: nothing here is
//! ever serialised into an answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::secret::Secret;
use crate::store::SealedSecret;

#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    #[error("cannot read the secret key file {path}: {why}")]
    Read { path: String, why: String },
    #[error(
        "the secret key file {path} does not hold a key (64 hex digits); restore it from your backup, or move it away to start with a new key and enter every source's secrets again"
    )]
    Invalid { path: String },
    #[error("cannot create the secret key file {path}: {why}")]
    Create { path: String, why: String },
}

/// The host's key for secret values.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox([redacted])")
    }
}

/// Where the key file goes by default: beside a SQLite database, or in the
/// working directory.
pub fn default_key_path(db_url: &str) -> PathBuf {
    super::beside_database(db_url, "homeroom.key")
}

impl SecretBox {
    pub fn new(key: [u8; 32]) -> SecretBox {
        SecretBox {
            cipher: XChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }

    /// A box with a fresh random key (tests).
    pub fn random() -> SecretBox {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        SecretBox::new(key)
    }

    /// Read the key file, creating it (readable by its owner only) when it
    /// is not there. Returns whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(SecretBox, bool), SecretKeyError> {
        let shown = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim()).map_err(|_| SecretKeyError::Invalid {
                    path: shown.clone(),
                })?;
                let key: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| SecretKeyError::Invalid { path: shown })?;
                Ok((SecretBox::new(key), false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                write_private(path, &format!("{}\n", hex::encode(key))).map_err(|e| {
                    SecretKeyError::Create {
                        path: shown,
                        why: e.to_string(),
                    }
                })?;
                Ok((SecretBox::new(key), true))
            }
            Err(e) => Err(SecretKeyError::Read {
                path: shown,
                why: e.to_string(),
            }),
        }
    }

    /// What binds a sealed value to its place: moved to another source, it
    /// no longer opens.
    fn aad(org_id: &str, source_id: &str, name: &str) -> Vec<u8> {
        format!("homeroom-secret\0{org_id}\0{source_id}\0{name}").into_bytes()
    }

    pub fn seal(&self, org_id: &str, source_id: &str, name: &str, value: &Secret) -> SealedSecret {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = Self::aad(org_id, source_id, name);
        // Encryption with a valid key and nonce cannot fail.
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: value.expose().as_bytes(),
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        SealedSecret {
            name: name.to_string(),
            nonce: hex::encode(nonce),
            ciphertext: hex::encode(ciphertext),
        }
    }

    pub fn open(&self, org_id: &str, source_id: &str, sealed: &SealedSecret) -> Option<Secret> {
        let nonce = hex::decode(&sealed.nonce).ok()?;
        if nonce.len() != 24 {
            return None;
        }
        let ciphertext = hex::decode(&sealed.ciphertext).ok()?;
        let aad = Self::aad(org_id, source_id, &sealed.name);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: &aad,
                },
            )
            .ok()?;
        String::from_utf8(plain).ok().map(Secret::new)
    }

    /// Open every sealed value of a source; one that does not open is an
    /// error that says what to do.
    pub fn open_all(
        &self,
        org_id: &str,
        source_id: &str,
        sealed: &[SealedSecret],
    ) -> Result<BTreeMap<String, Secret>, String> {
        let mut out = BTreeMap::new();
        for s in sealed {
            let value = self.open(org_id, source_id, s).ok_or_else(|| {
                format!(
                    "the stored secret `{}` of source `{source_id}` cannot be decrypted with this host's key file: enter it again in the Delivery Config step",
                    s.name
                )
            })?;
            out.insert(s.name.clone(), value);
        }
        Ok(out)
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_in_place() {
        let b = SecretBox::random();
        let sealed = b.seal("o", "s", "client_secret", &Secret::new("hunter2"));
        assert!(!sealed.ciphertext.contains("hunter2"));
        assert_eq!(b.open("o", "s", &sealed).unwrap().expose(), "hunter2");
        assert!(
            b.open("o", "other", &sealed).is_none(),
            "bound to its source"
        );
        assert!(SecretBox::random().open("o", "s", &sealed).is_none());
    }

    #[test]
    fn key_file_beside_the_database() {
        assert_eq!(
            default_key_path("sqlite:///var/lib/h/homeroom.db"),
            PathBuf::from("/var/lib/h/homeroom.key")
        );
        assert_eq!(
            default_key_path("sqlite://homeroom.db"),
            PathBuf::from("homeroom.key")
        );
        assert_eq!(
            default_key_path("postgres://x@y/z"),
            PathBuf::from("homeroom.key")
        );
    }
}
