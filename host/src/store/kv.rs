//! Plugin-scoped key-value storage in the database, one scope per
//! (organization, source), held to the plugin's quota: a write goes in only
//! when the scope, counted without the key written, has room for it, checked
//! in the same statement that writes it.

use crate::capabilities::storage::{KeyValue, Quota, StorageError, Usage, check};

use super::Store;

pub struct DbKeyValue {
    store: Store,
    scope: String,
}

impl DbKeyValue {
    pub fn new(store: Store, org_id: &str, source_id: &str) -> DbKeyValue {
        DbKeyValue {
            store,
            scope: format!("{org_id}/{source_id}"),
        }
    }
}

impl DbKeyValue {
    /// Every key and value of the scope, in key order: what the plugin
    /// would find in its storage.
    pub async fn entries(&self) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        sqlx::query_as("SELECT key, value FROM plugin_kv WHERE scope = $1 ORDER BY key")
            .bind(&self.scope)
            .fetch_all(&self.store.pool)
            .await
            .map_err(backend)
    }

    /// What the scope holds besides `key`.
    async fn others(&self, key: &str) -> Result<Usage, StorageError> {
        let (keys, bytes): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(value)), 0) FROM plugin_kv \
             WHERE scope = $1 AND key <> $2",
        )
        .bind(&self.scope)
        .bind(key)
        .fetch_one(&self.store.pool)
        .await
        .map_err(backend)?;
        Ok(Usage {
            keys: keys.max(0) as u64,
            bytes: bytes.max(0) as u64,
        })
    }
}

fn backend(e: sqlx::Error) -> StorageError {
    StorageError::Backend(e.to_string())
}

#[async_trait::async_trait]
impl KeyValue for DbKeyValue {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let row: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT value FROM plugin_kv WHERE scope = $1 AND key = $2")
                .bind(&self.scope)
                .bind(key)
                .fetch_optional(&self.store.pool)
                .await
                .map_err(backend)?;
        Ok(row.map(|r| r.0))
    }

    async fn set(&self, key: &str, value: &[u8], quota: Quota) -> Result<(), StorageError> {
        check(key, Some(value))?;
        // A scope that is full refuses before the value travels; the write
        // checks again, in the statement that writes.
        let others = self.others(key).await?;
        if let Some(refused) = StorageError::past_quota(others, value.len(), quota) {
            return Err(refused);
        }
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let written = sqlx::query(
            "INSERT INTO plugin_kv (scope, key, value) SELECT $1, $2, $3 \
             WHERE (SELECT COUNT(*) FROM plugin_kv WHERE scope = $1 AND key <> $2) < $4 \
             AND (SELECT COALESCE(SUM(LENGTH(value)), 0) FROM plugin_kv \
                  WHERE scope = $1 AND key <> $2) + $5 <= $6 \
             ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
        )
        .bind(&self.scope)
        .bind(key)
        .bind(value.to_vec())
        .bind(as_i64(quota.keys))
        .bind(value.len() as i64)
        .bind(as_i64(quota.bytes))
        .execute(&self.store.pool)
        .await
        .map_err(backend)?;
        if written.rows_affected() > 0 {
            return Ok(());
        }
        // Refused: say which part of the quota it would pass.
        let others = self.others(key).await?;
        Err(StorageError::past_quota(others, value.len(), quota)
            .unwrap_or_else(|| StorageError::Backend("the write was refused; try again".into())))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM plugin_kv WHERE scope = $1 AND key = $2")
            .bind(&self.scope)
            .bind(key)
            .execute(&self.store.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn usage(&self) -> Result<Usage, StorageError> {
        let (keys, bytes): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(value)), 0) FROM plugin_kv WHERE scope = $1",
        )
        .bind(&self.scope)
        .fetch_one(&self.store.pool)
        .await
        .map_err(backend)?;
        Ok(Usage {
            keys: keys.max(0) as u64,
            bytes: bytes.max(0) as u64,
        })
    }
}
