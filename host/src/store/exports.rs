//! What each destination holds of the hub (`export_state`): per destination
//! and entity, the destination's id, the hash of the version it last
//! applied, and the last outcome with its reason. The export flow reads it
//! whole at the start of a run and writes each batch's outcomes in one
//! transaction, so an export stopped at any point resumes from the last
//! batch whose outcomes were kept.
//!
//! Also the reads an export needs of the entities: every entity of a kind
//! in id order, a page at a time, and the links that turn a reference (a
//! source's id for a record) into the hub's entity id.

use std::collections::HashMap;

use sqlx::Row;

use super::runs::now;
use super::{Store, StoreError};

/// The last outcome for an entity at a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportStatus {
    Applied,
    Rejected,
    Retry,
    /// Deleted at the destination (or never there, and gone from the hub).
    Deleted,
}

impl ExportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportStatus::Applied => "applied",
            ExportStatus::Rejected => "rejected",
            ExportStatus::Retry => "retry",
            ExportStatus::Deleted => "deleted",
        }
    }

    fn parse(s: &str) -> Result<ExportStatus, StoreError> {
        Ok(match s {
            "applied" => ExportStatus::Applied,
            "rejected" => ExportStatus::Rejected,
            "retry" => ExportStatus::Retry,
            "deleted" => ExportStatus::Deleted,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "export state `{other}` is not one the host writes"
                )));
            }
        })
    }
}

/// One entity's row at one destination.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportState {
    pub entity_id: String,
    pub kind: String,
    pub target_id: Option<String>,
    /// The hash of the version last applied.
    pub hash: Option<String>,
    /// The hash of the version the last outcome answered.
    pub sent_hash: Option<String>,
    pub state: ExportStatus,
    pub message: Option<String>,
    pub run_id: String,
    pub updated_at: String,
}

/// An outcome to keep.
#[derive(Debug, Clone)]
pub struct OutcomeRow {
    pub entity_id: String,
    pub kind: String,
    pub state: ExportStatus,
    /// For `applied`, the destination's id; otherwise the one kept stays.
    pub target_id: Option<String>,
    /// The hash of the version sent.
    pub hash: String,
    pub message: Option<String>,
}

/// An entity as an export reads it.
#[derive(Debug, Clone)]
pub struct ExportEntity {
    pub id: String,
    pub active: bool,
    /// attribute → {"v": value, "s": source}
    pub data: String,
}

const STATE_COLUMNS: &str =
    "entity_id, kind, target_id, hash, sent_hash, state, message, run_id, updated_at";

fn state_from_row(r: &sqlx::any::AnyRow) -> Result<ExportState, StoreError> {
    Ok(ExportState {
        entity_id: r.try_get("entity_id")?,
        kind: r.try_get("kind")?,
        target_id: r.try_get("target_id")?,
        hash: r.try_get("hash")?,
        sent_hash: r.try_get("sent_hash")?,
        state: ExportStatus::parse(&r.try_get::<String, _>("state")?)?,
        message: r.try_get("message")?,
        run_id: r.try_get("run_id")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// Every row of a destination, by entity id.
    pub async fn export_states(
        &self,
        org_id: &str,
        destination_id: &str,
    ) -> Result<HashMap<String, ExportState>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {STATE_COLUMNS} FROM export_state WHERE org_id = $1 AND destination_id = $2"
        ))
        .bind(org_id)
        .bind(destination_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| state_from_row(r).map(|s| (s.entity_id.clone(), s)))
            .collect()
    }

    /// A destination's rows in one state (the rejected ones, for the
    /// admin), newest first.
    pub async fn export_states_in(
        &self,
        org_id: &str,
        destination_id: &str,
        state: ExportStatus,
        limit: i64,
    ) -> Result<Vec<ExportState>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {STATE_COLUMNS} FROM export_state WHERE org_id = $1 AND destination_id = $2 AND state = $3 \
             ORDER BY updated_at DESC, entity_id LIMIT $4"
        ))
        .bind(org_id)
        .bind(destination_id)
        .bind(state.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(state_from_row).collect()
    }

    /// Keep a batch's outcomes, all or none.
    pub async fn record_export_outcomes(
        &self,
        org_id: &str,
        destination_id: &str,
        run_id: &str,
        outcomes: &[OutcomeRow],
    ) -> Result<(), StoreError> {
        let at = now();
        let mut tx = self.pool.begin().await?;
        for o in outcomes {
            let applied = o.state == ExportStatus::Applied || o.state == ExportStatus::Deleted;
            sqlx::query(
                "INSERT INTO export_state (org_id, destination_id, entity_id, kind, target_id, hash, sent_hash, state, message, run_id, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (org_id, destination_id, entity_id) DO UPDATE SET \
                   target_id = COALESCE(excluded.target_id, export_state.target_id), \
                   hash = COALESCE(excluded.hash, export_state.hash), \
                   sent_hash = excluded.sent_hash, state = excluded.state, message = excluded.message, \
                   run_id = excluded.run_id, updated_at = excluded.updated_at",
            )
            .bind(org_id)
            .bind(destination_id)
            .bind(&o.entity_id)
            .bind(&o.kind)
            .bind(o.target_id.as_deref())
            .bind(applied.then_some(o.hash.as_str()))
            .bind(&o.hash)
            .bind(o.state.as_str())
            .bind(o.message.as_deref())
            .bind(run_id)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Entities of a kind after `after` in id order, active or not, at most
    /// `limit`: an export walks a kind with these, a page at a time.
    pub async fn export_entities(
        &self,
        org_id: &str,
        kind: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ExportEntity>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, active, data FROM entities WHERE org_id = $1 AND kind = $2 AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(org_id)
        .bind(kind)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ExportEntity {
                    id: r.try_get("id")?,
                    active: r.try_get::<i64, _>("active")? != 0,
                    data: r.try_get("data")?,
                })
            })
            .collect()
    }

    /// Every link of an organization of the given kinds: (source, kind,
    /// the source's id) → the hub's entity id, to turn references into
    /// entity ids.
    ///
    /// A destination's own id for what the hub gave it counts as a link of
    /// that destination: a two-way destination's records refer to the
    /// courses and people it was sent by its ids for them (a Classroom
    /// coursework names its course's id), and those name the hub's
    /// entities as surely as a source's ids do. A source's own link wins
    /// where both name the same id.
    pub async fn link_entities(
        &self,
        org_id: &str,
        kinds: &[&str],
    ) -> Result<HashMap<(String, String, String), String>, StoreError> {
        let mut map = HashMap::new();
        let given = sqlx::query(
            "SELECT destination_id, kind, target_id, entity_id FROM export_state \
             WHERE org_id = $1 AND target_id IS NOT NULL AND state IN ('applied', 'retry', 'rejected')",
        )
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?;
        for r in given {
            let kind: String = r.try_get("kind")?;
            if kinds.contains(&kind.as_str()) {
                map.insert(
                    (r.try_get("destination_id")?, kind, r.try_get("target_id")?),
                    r.try_get("entity_id")?,
                );
            }
        }
        for kind in kinds {
            let rows = sqlx::query(
                "SELECT source_id, source_record_id, entity_id FROM entity_links WHERE org_id = $1 AND kind = $2",
            )
            .bind(org_id)
            .bind(*kind)
            .fetch_all(&self.pool)
            .await?;
            for r in rows {
                map.insert(
                    (
                        r.try_get("source_id")?,
                        kind.to_string(),
                        r.try_get("source_record_id")?,
                    ),
                    r.try_get("entity_id")?,
                );
            }
        }
        Ok(map)
    }
}
