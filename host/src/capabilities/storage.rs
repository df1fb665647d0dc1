//! Plugin-scoped key-value storage. Each plugin instance sees only the keys of
//! its own (organization, source) scope; the host decides the scope, the plugin
//! cannot name another. Values and keys are capped in size.

use std::collections::HashMap;
use std::sync::Mutex;

/// Largest key a plugin may use, in bytes.
pub const MAX_KEY: usize = 256;
/// Largest value a plugin may store, in bytes.
pub const MAX_VALUE: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("plugin storage key is {0} bytes; the limit is {MAX_KEY}")]
    KeyTooLarge(usize),
    #[error("plugin storage value is {0} bytes; the limit is {MAX_VALUE}")]
    ValueTooLarge(usize),
    #[error("plugin storage is unavailable: {0}")]
    Backend(String),
}

/// Where a plugin's key-value pairs live: the database for configured sources,
/// memory for `homeroom plugin run`.
#[async_trait::async_trait]
pub trait KeyValue: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError>;
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
}

/// Check sizes before any backend sees the pair.
pub fn check(key: &str, value: Option<&[u8]>) -> Result<(), StorageError> {
    if key.len() > MAX_KEY {
        return Err(StorageError::KeyTooLarge(key.len()));
    }
    match value {
        Some(v) if v.len() > MAX_VALUE => Err(StorageError::ValueTooLarge(v.len())),
        _ => Ok(()),
    }
}

/// Storage that lives as long as the process (local plugin runs, tests).
#[derive(Default)]
pub struct MemoryKeyValue {
    map: Mutex<HashMap<String, Vec<u8>>>,
}

#[async_trait::async_trait]
impl KeyValue for MemoryKeyValue {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let map = self
            .map
            .lock()
            .map_err(|e| StorageError::Backend(e.to_string()))?;
        Ok(map.get(key).cloned())
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        check(key, Some(value))?;
        let mut map = self
            .map
            .lock()
            .map_err(|e| StorageError::Backend(e.to_string()))?;
        map.insert(key.to_string(), value.to_vec());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let mut map = self
            .map
            .lock()
            .map_err(|e| StorageError::Backend(e.to_string()))?;
        map.remove(key);
        Ok(())
    }
}
