//! Plugin-scoped key-value storage. Each plugin instance sees only the keys of
//! its own (organization, source) scope; the host decides the scope, the plugin
//! cannot name another. Keys and values are capped in size, and a scope in
//! count of keys and total bytes of values ([`Quota`]): a write that would
//! take the scope past its quota is refused and the scope is left as it was,
//! so a plugin that writes in a loop cannot grow the shared database.

use std::collections::HashMap;
use std::sync::Mutex;

/// Largest key a plugin may use, in bytes.
pub const MAX_KEY: usize = 256;
/// Largest value a plugin may store, in bytes.
pub const MAX_VALUE: usize = 1024 * 1024;

/// What one plugin may keep for one source: keys, and bytes of values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub keys: u64,
    pub bytes: u64,
}

impl Quota {
    /// A plugin's quota when its manifest asks for nothing else.
    pub const DEFAULT: Quota = Quota {
        keys: 10_000,
        bytes: 64 * 1024 * 1024,
    };
}

impl Default for Quota {
    fn default() -> Self {
        Quota::DEFAULT
    }
}

/// What a scope holds: keys, and bytes of values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub keys: u64,
    pub bytes: u64,
}

/// A size for a message: `1 MiB`, `64 KiB`, `512 bytes`.
pub fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    const GIB: u64 = 1024 * MIB;
    match bytes {
        b if b >= GIB && b % GIB == 0 => format!("{} GiB", b / GIB),
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= MIB => format!("{:.1} MiB", b as f64 / MIB as f64),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b if b >= KIB => format!("{:.1} KiB", b as f64 / KIB as f64),
        b => format!("{b} bytes"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("plugin storage key is {0} bytes; the limit is {MAX_KEY}")]
    KeyTooLarge(usize),
    #[error("plugin storage value is {0} bytes; the limit is {MAX_VALUE}")]
    ValueTooLarge(usize),
    #[error(
        "the plugin's storage for this source already holds {quota} keys, its quota: a new key is refused (the plugin's manifest may ask for more under [needs] storage_keys, up to the operator's maximum)"
    )]
    TooManyKeys { quota: u64 },
    #[error(
        "a value of {} would take the plugin's storage for this source to {}, past its quota of {} (the plugin's manifest may ask for more under [needs] storage_bytes, up to the operator's maximum)",
        size(*value),
        size(*total),
        size(*quota)
    )]
    TooManyBytes { value: u64, total: u64, quota: u64 },
    #[error("plugin storage is unavailable: {0}")]
    Backend(String),
}

impl StorageError {
    /// Why a write of `value` bytes is past `quota`, given what the scope
    /// holds without the key written (`others`); `None` when it is not.
    pub fn past_quota(others: Usage, value: usize, quota: Quota) -> Option<StorageError> {
        let value = value as u64;
        if others.keys >= quota.keys {
            return Some(StorageError::TooManyKeys { quota: quota.keys });
        }
        let total = others.bytes.saturating_add(value);
        (total > quota.bytes).then_some(StorageError::TooManyBytes {
            value,
            total,
            quota: quota.bytes,
        })
    }
}

/// Where a plugin's key-value pairs live: the database for configured sources,
/// memory for `homeroom plugin run`.
#[async_trait::async_trait]
pub trait KeyValue: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Store `value` under `key`, unless that takes the scope past `quota`
    /// (keys, and bytes of values, counting the new value instead of the one
    /// it replaces): then nothing changes and the error says why.
    async fn set(&self, key: &str, value: &[u8], quota: Quota) -> Result<(), StorageError>;
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
    /// What the scope holds now.
    async fn usage(&self) -> Result<Usage, StorageError>;
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
    map: Mutex<Pairs>,
}

#[derive(Default)]
struct Pairs {
    map: HashMap<String, Vec<u8>>,
    /// Bytes of the values in `map`.
    bytes: u64,
}

impl MemoryKeyValue {
    fn pairs(&self) -> Result<std::sync::MutexGuard<'_, Pairs>, StorageError> {
        self.map
            .lock()
            .map_err(|e| StorageError::Backend(e.to_string()))
    }
}

#[async_trait::async_trait]
impl KeyValue for MemoryKeyValue {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.pairs()?.map.get(key).cloned())
    }

    async fn set(&self, key: &str, value: &[u8], quota: Quota) -> Result<(), StorageError> {
        check(key, Some(value))?;
        let mut pairs = self.pairs()?;
        let old = pairs.map.get(key).map(|v| v.len() as u64);
        let others = Usage {
            keys: pairs.map.len() as u64 - u64::from(old.is_some()),
            bytes: pairs.bytes - old.unwrap_or(0),
        };
        if let Some(refused) = StorageError::past_quota(others, value.len(), quota) {
            return Err(refused);
        }
        pairs.bytes = others.bytes + value.len() as u64;
        pairs.map.insert(key.to_string(), value.to_vec());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let mut pairs = self.pairs()?;
        if let Some(old) = pairs.map.remove(key) {
            pairs.bytes -= old.len() as u64;
        }
        Ok(())
    }

    async fn usage(&self) -> Result<Usage, StorageError> {
        let pairs = self.pairs()?;
        Ok(Usage {
            keys: pairs.map.len() as u64,
            bytes: pairs.bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_storage_keeps_to_its_quota() {
        let kv = MemoryKeyValue::default();
        let quota = Quota { keys: 3, bytes: 10 };
        kv.set("a", b"1234", quota).await.unwrap();
        kv.set("b", b"1234", quota).await.unwrap();
        let err = kv.set("c", b"123", quota).await.unwrap_err();
        assert!(
            matches!(err, StorageError::TooManyBytes { total: 11, .. }),
            "{err}"
        );
        // Replacing a value counts the new one instead of the old.
        kv.set("b", b"123456", quota).await.unwrap();
        kv.set("c", b"", quota).await.unwrap();
        let err = kv.set("d", b"", quota).await.unwrap_err();
        assert!(
            matches!(err, StorageError::TooManyKeys { quota: 3 }),
            "{err}"
        );
        assert_eq!(kv.usage().await.unwrap(), Usage { keys: 3, bytes: 10 });
        kv.delete("a").await.unwrap();
        assert_eq!(kv.usage().await.unwrap(), Usage { keys: 2, bytes: 6 });
    }

    #[test]
    fn sizes_read_as_an_admin_writes_them() {
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(64 * 1024), "64 KiB");
        assert_eq!(size(64 * 1024 * 1024), "64 MiB");
        assert_eq!(size(1_500_000), "1.4 MiB");
    }
}
