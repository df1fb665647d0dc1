//! Canonical entities as an admin reads them (lists with filters, a record
//! with provenance and its own history) and the duplicates queue.

use serde::Serialize;
use serde_json::{Map, Value as Json};
use sqlx::Row;

use super::runs::now;
use super::{Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct EntityRow {
    pub id: String,
    pub kind: String,
    pub active: bool,
    /// attribute → {"v": value, "s": source}
    pub data: Map<String, Json>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    pub run_id: String,
    pub seq: i64,
    pub action: String,
    pub diff: Option<Json>,
    pub at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Duplicate {
    pub id: String,
    pub kind: String,
    pub domain: String,
    pub primary: EntityRow,
    pub secondary: EntityRow,
    pub status: String,
    pub run_id: String,
}

/// What happens to the secondary record of a resolved pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resolution {
    /// Archive it (its source may bring it back in a later run).
    Delete,
    /// Leave both; the pair is never queued again.
    Ignore,
    /// Keep it as a separate, new entity.
    KeepAsNew,
}

fn map_of(s: &str) -> Map<String, Json> {
    serde_json::from_str::<Json>(s)
        .ok()
        .and_then(|j| j.as_object().cloned())
        .unwrap_or_default()
}

fn entity_from_row(r: &sqlx::any::AnyRow) -> Result<EntityRow, StoreError> {
    let data: String = r.try_get("data")?;
    Ok(EntityRow {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        active: r.try_get::<i64, _>("active")? != 0,
        data: map_of(&data),
    })
}

impl Store {
    pub async fn entity(&self, org_id: &str, id: &str) -> Result<EntityRow, StoreError> {
        let r = sqlx::query(
            "SELECT id, kind, active, data FROM entities WHERE org_id = $1 AND id = $2",
        )
        .bind(org_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no record `{id}`")))?;
        entity_from_row(&r)
    }

    /// Active entities of a kind, optionally whose data contains `search`.
    pub async fn entities(
        &self,
        org_id: &str,
        kind: &str,
        search: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<EntityRow>, StoreError> {
        let pattern = search.map(|s| format!("%{}%", s.to_lowercase()));
        let rows = sqlx::query(
            "SELECT id, kind, active, data FROM entities WHERE org_id = $1 AND kind = $2 AND active = 1 \
             AND (CAST($3 AS TEXT) IS NULL OR LOWER(data) LIKE CAST($3 AS TEXT)) ORDER BY id LIMIT $4 OFFSET $5",
        )
        .bind(org_id)
        .bind(kind)
        .bind(pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entity_from_row).collect()
    }

    /// Active entities per kind.
    pub async fn entity_counts(&self, org_id: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT kind, COUNT(*) AS n FROM entities WHERE org_id = $1 AND active = 1 GROUP BY kind ORDER BY kind")
            .bind(org_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("kind")?, r.try_get("n")?)))
            .collect()
    }

    /// (source, source record id, active) of each source feeding an entity.
    pub async fn entity_sources(
        &self,
        entity_id: &str,
    ) -> Result<Vec<(String, String, bool)>, StoreError> {
        let rows = sqlx::query("SELECT source_id, source_record_id, active FROM entity_links WHERE entity_id = $1 ORDER BY source_id")
            .bind(entity_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("source_id")?,
                    r.try_get("source_record_id")?,
                    r.try_get::<i64, _>("active")? != 0,
                ))
            })
            .collect()
    }

    /// (entity, source, source record id) of every active link of some
    /// entities (a page of a list), in the order of source.
    pub async fn sources_of(
        &self,
        entity_ids: &[&str],
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut out = Vec::new();
        for chunk in entity_ids.chunks(500) {
            let mut p = self.params();
            let sql = format!(
                "SELECT entity_id, source_id, source_record_id FROM entity_links WHERE active = 1 AND entity_id IN ({}) ORDER BY source_id, source_record_id",
                p.list(chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push((
                    r.try_get("entity_id")?,
                    r.try_get("source_id")?,
                    r.try_get("source_record_id")?,
                ));
            }
        }
        Ok(out)
    }

    pub async fn entity_history(&self, entity_id: &str) -> Result<Vec<HistoryRow>, StoreError> {
        // An add keeps no diff of its own: its change's data is the diff.
        let rows = sqlx::query(
            "SELECT h.run_id, h.seq, h.action, h.diff, h.at, c.after_data FROM entity_history h \
             LEFT JOIN changes c ON h.diff IS NULL AND c.run_id = h.run_id AND c.seq = h.seq \
             WHERE h.entity_id = $1 ORDER BY h.at, h.seq",
        )
        .bind(entity_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let diff: Option<String> = r.try_get("diff")?;
                let action: String = r.try_get("action")?;
                let after: Option<String> = r.try_get("after_data")?;
                let diff = diff
                    .and_then(|d| serde_json::from_str(&d).ok())
                    .or_else(|| {
                        super::sync::added_diff(
                            &action,
                            &after.and_then(|a| serde_json::from_str(&a).ok()),
                        )
                    });
                Ok(HistoryRow {
                    run_id: r.try_get("run_id")?,
                    seq: r.try_get("seq")?,
                    action,
                    diff,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// The entity a source's record feeds.
    pub async fn entity_of(
        &self,
        org_id: &str,
        source_id: &str,
        kind: &str,
        record_id: &str,
    ) -> Result<Option<EntityRow>, StoreError> {
        let row = sqlx::query(
            "SELECT e.id, e.kind, e.active, e.data FROM entity_links l JOIN entities e ON e.id = l.entity_id \
             WHERE l.org_id = $1 AND l.source_id = $2 AND l.kind = $3 AND l.source_record_id = $4",
        )
        .bind(org_id)
        .bind(source_id)
        .bind(kind)
        .bind(record_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(entity_from_row).transpose()
    }

    pub async fn duplicates(
        &self,
        org_id: &str,
        open_only: bool,
    ) -> Result<Vec<Duplicate>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, domain, primary_entity, secondary_entity, status, run_id FROM duplicates \
             WHERE org_id = $1 AND ($2 = 0 OR status = 'open') ORDER BY created_at, id",
        )
        .bind(org_id)
        .bind(open_only as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let primary: String = r.try_get("primary_entity")?;
            let secondary: String = r.try_get("secondary_entity")?;
            out.push(Duplicate {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                domain: r.try_get("domain")?,
                primary: self.entity(org_id, &primary).await?,
                secondary: self.entity(org_id, &secondary).await?,
                status: r.try_get("status")?,
                run_id: r.try_get("run_id")?,
            });
        }
        Ok(out)
    }

    /// Resolve a pair: `swap` makes the listed secondary the primary; fields
    /// in `copy` are copied from the secondary to the primary; then the
    /// secondary is deleted, ignored or kept as new. One transaction.
    pub async fn resolve_duplicate(
        &self,
        org_id: &str,
        dup_id: &str,
        swap: bool,
        copy: &[String],
        resolution: Resolution,
        by: &str,
    ) -> Result<Duplicate, StoreError> {
        let dup = self
            .duplicates(org_id, false)
            .await?
            .into_iter()
            .find(|d| d.id == dup_id)
            .ok_or_else(|| {
                StoreError::NotFound(format!(
                    "no duplicate pair `{dup_id}`; `homeroom duplicates` lists them"
                ))
            })?;
        if dup.status != "open" {
            return Err(StoreError::Conflict(format!(
                "duplicate pair {dup_id} was already resolved ({})",
                dup.status
            )));
        }
        let (mut primary, secondary) = if swap {
            (dup.secondary.clone(), dup.primary.clone())
        } else {
            (dup.primary.clone(), dup.secondary.clone())
        };
        let now = now();
        let run = format!("resolve:{by}");
        let mut tx = self.pool.begin().await?;
        let mut diff = Map::new();
        for field in copy {
            let Some(cell) = secondary.data.get(field) else {
                return Err(StoreError::Conflict(format!(
                    "the secondary record has no `{field}` to copy"
                )));
            };
            let old = primary
                .data
                .get(field)
                .and_then(|c| c.get("v"))
                .cloned()
                .unwrap_or(Json::Null);
            diff.insert(
                field.clone(),
                serde_json::json!([old, cell.get("v").cloned().unwrap_or(Json::Null)]),
            );
            primary.data.insert(field.clone(), cell.clone());
        }
        if !diff.is_empty() {
            sqlx::query("UPDATE entities SET data = $1 WHERE id = $2")
                .bind(Json::Object(primary.data.clone()).to_string())
                .bind(&primary.id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO entity_history (entity_id, run_id, seq, action, diff, at) VALUES ($1, $2, 0, 'update', $3, $4)")
                .bind(&primary.id)
                .bind(&run)
                .bind(Json::Object(diff).to_string())
                .bind(&now)
                .execute(&mut *tx)
                .await?;
        }
        let status = match resolution {
            Resolution::Delete => {
                sqlx::query("UPDATE entities SET active = 0 WHERE id = $1")
                    .bind(&secondary.id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE entity_links SET active = 0 WHERE entity_id = $1")
                    .bind(&secondary.id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM entity_keys WHERE entity_id = $1")
                    .bind(&secondary.id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO entity_history (entity_id, run_id, seq, action, diff, at) VALUES ($1, $2, 0, 'delete', $3, $4)")
                    .bind(&secondary.id)
                    .bind(&run)
                    .bind(serde_json::json!({"duplicate_of": primary.id}).to_string())
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                "deleted"
            }
            Resolution::Ignore => "ignored",
            Resolution::KeepAsNew => "kept",
        };
        sqlx::query("UPDATE duplicates SET status = $1, resolved_at = $2, primary_entity = $3, secondary_entity = $4 WHERE id = $5")
            .bind(status)
            .bind(&now)
            .bind(&primary.id)
            .bind(&secondary.id)
            .bind(dup_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(self
            .duplicates(org_id, false)
            .await?
            .into_iter()
            .find(|d| d.id == dup_id)
            .unwrap_or(dup))
    }
}
