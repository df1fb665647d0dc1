//! Plugin-scoped key-value storage in the database, one scope per
//! (organization, source).

use crate::capabilities::storage::{KeyValue, StorageError, check};

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

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        check(key, Some(value))?;
        sqlx::query(
            "INSERT INTO plugin_kv (scope, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
        )
        .bind(&self.scope)
        .bind(key)
        .bind(value.to_vec())
        .execute(&self.store.pool)
        .await
        .map_err(backend)?;
        Ok(())
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
}
