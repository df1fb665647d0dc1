//! The SQL of one import: staging pages, reading them back beside what each
//! source said last time, writing the change set, and the commit, which
//! applies a run's change set in one transaction, idempotent by run id.

use std::collections::HashMap;

use serde_json::Value as Json;
use sqlx::Row;

use super::runs::now;
use super::{Store, StoreError};

/// One staged record.
pub struct Staged {
    pub kind: String,
    pub source_record_id: String,
    pub deleted: bool,
    pub hash: String,
    pub data: String,
}

/// A staged record beside its source's link, if it has one.
pub struct StagedWithLink {
    pub source_record_id: String,
    pub deleted: bool,
    pub hash: String,
    pub data: String,
    pub link: Option<Link>,
}

#[derive(Clone)]
pub struct Link {
    pub entity_id: String,
    pub hash: String,
    pub active: bool,
}

/// One action of a change set.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChangeRow {
    pub seq: i64,
    pub kind: String,
    pub action: String,
    pub entity_id: String,
    pub source_record_id: String,
    pub before: Option<Json>,
    pub after: Option<Json>,
    pub diff: Option<Json>,
    #[serde(skip)]
    pub record_hash: Option<String>,
    #[serde(skip)]
    pub record_data: Option<String>,
    pub visible: bool,
    pub excluded: bool,
}

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    Applied {
        applied: u64,
        excluded: u64,
    },
    /// The run was committed before (a retry): nothing was applied twice.
    AlreadyCommitted,
}

fn json_or_null(s: Option<String>) -> Option<Json> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

/// Rows per multi-row INSERT (SQLite allows 32766 parameters).
const INSERT_CHUNK: usize = 500;

impl Store {
    /// Stage a page. A record staged twice in one run (a page the source
    /// repeated) keeps its last version: it is never counted twice.
    pub async fn stage(&self, run_id: &str, records: &[Staged]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for chunk in records.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO staged (run_id, kind, source_record_id, deleted, hash, data) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 6;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${},${},${},${},${},${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6
                ));
            }
            sql.push_str(" ON CONFLICT (run_id, kind, source_record_id) DO UPDATE SET deleted = excluded.deleted, hash = excluded.hash, data = excluded.data");
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(run_id)
                    .bind(&r.kind)
                    .bind(&r.source_record_id)
                    .bind(r.deleted as i64)
                    .bind(&r.hash)
                    .bind(&r.data);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Staged records of one kind after `after` (keyset paging), each with
    /// the link its source already has.
    pub async fn staged_with_links(
        &self,
        org_id: &str,
        source_id: &str,
        run_id: &str,
        kind: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<StagedWithLink>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.source_record_id, s.deleted, s.hash, s.data, l.entity_id, l.hash AS link_hash, l.active \
             FROM staged s LEFT JOIN entity_links l ON l.org_id = $1 AND l.source_id = $2 AND l.kind = s.kind AND l.source_record_id = s.source_record_id \
             WHERE s.run_id = $3 AND s.kind = $4 AND s.source_record_id > $5 ORDER BY s.source_record_id LIMIT $6",
        )
        .bind(org_id)
        .bind(source_id)
        .bind(run_id)
        .bind(kind)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let entity_id: Option<String> = r.try_get("entity_id")?;
                let link = match entity_id {
                    Some(entity_id) => Some(Link {
                        entity_id,
                        hash: r.try_get("link_hash")?,
                        active: r.try_get::<i64, _>("active")? != 0,
                    }),
                    None => None,
                };
                Ok(StagedWithLink {
                    source_record_id: r.try_get("source_record_id")?,
                    deleted: r.try_get::<i64, _>("deleted")? != 0,
                    hash: r.try_get("hash")?,
                    data: r.try_get("data")?,
                    link,
                })
            })
            .collect()
    }

    /// Active links of a source and kind that this run did not stage: in a
    /// bulk run, what the source no longer has.
    pub async fn absent_links(
        &self,
        org_id: &str,
        source_id: &str,
        run_id: &str,
        kind: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT l.source_record_id, l.entity_id FROM entity_links l \
             WHERE l.org_id = $1 AND l.source_id = $2 AND l.kind = $3 AND l.active = 1 \
             AND NOT EXISTS (SELECT 1 FROM staged s WHERE s.run_id = $4 AND s.kind = l.kind AND s.source_record_id = l.source_record_id) \
             ORDER BY l.source_record_id",
        )
        .bind(org_id)
        .bind(source_id)
        .bind(kind)
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("source_record_id")?, r.try_get("entity_id")?)))
            .collect()
    }

    /// Active links of a source and kind with what the source said: (record id, entity id, data).
    pub async fn active_links(
        &self,
        org_id: &str,
        source_id: &str,
        kind: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT source_record_id, entity_id, data FROM entity_links WHERE org_id = $1 AND source_id = $2 AND kind = $3 AND active = 1",
        )
        .bind(org_id)
        .bind(source_id)
        .bind(kind)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("source_record_id")?,
                    r.try_get("entity_id")?,
                    r.try_get("data")?,
                ))
            })
            .collect()
    }

    pub async fn count_active_links(
        &self,
        org_id: &str,
        source_id: &str,
        kind: &str,
    ) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM entity_links WHERE org_id = $1 AND source_id = $2 AND kind = $3 AND active = 1")
            .bind(org_id)
            .bind(source_id)
            .bind(kind)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")? as u64)
    }

    /// Current data of entities, by id.
    pub async fn entity_data(&self, ids: &[String]) -> Result<HashMap<String, String>, StoreError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(INSERT_CHUNK) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, data FROM entities WHERE id IN ({})",
                placeholders.join(",")
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.insert(r.try_get("id")?, r.try_get("data")?);
            }
        }
        Ok(out)
    }

    /// Whether any entity of this kind has a domain key yet.
    pub async fn has_keys(&self, org_id: &str, kind: &str) -> Result<bool, StoreError> {
        let row =
            sqlx::query("SELECT 1 AS one FROM entity_keys WHERE org_id = $1 AND kind = $2 LIMIT 1")
                .bind(org_id)
                .bind(kind)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    /// For each key, the first active entity holding it in a domain that
    /// `source_id` does not feed yet.
    pub async fn find_by_keys(
        &self,
        org_id: &str,
        kind: &str,
        domain: &str,
        keys: &[String],
        source_id: &str,
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut out: HashMap<String, String> = HashMap::new();
        for chunk in keys.chunks(INSERT_CHUNK) {
            let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 5)).collect();
            let sql = format!(
                "SELECT k.key, k.entity_id FROM entity_keys k JOIN entities e ON e.id = k.entity_id AND e.active = 1 \
                 WHERE k.org_id = $1 AND k.kind = $2 AND k.domain = $3 AND k.key IN ({}) \
                 AND NOT EXISTS (SELECT 1 FROM entity_links l WHERE l.entity_id = k.entity_id AND l.source_id = $4 AND l.active = 1) \
                 ORDER BY k.entity_id",
                list.join(",")
            );
            let mut q = sqlx::query(&sql)
                .bind(org_id)
                .bind(kind)
                .bind(domain)
                .bind(source_id);
            for k in chunk {
                q = q.bind(k);
            }
            for r in q.fetch_all(&self.pool).await? {
                let key: String = r.try_get("key")?;
                let entity: String = r.try_get("entity_id")?;
                out.entry(key).or_insert(entity);
            }
        }
        Ok(out)
    }

    pub async fn insert_changes(
        &self,
        run_id: &str,
        changes: &[ChangeRow],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for chunk in changes.chunks(INSERT_CHUNK / 2) {
            let mut sql = String::from(
                "INSERT INTO changes (run_id, seq, kind, action, entity_id, source_record_id, before_data, after_data, diff, record_hash, record_data, visible, excluded) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 13;
                if i > 0 {
                    sql.push(',');
                }
                let ps: Vec<String> = (1..=13).map(|j| format!("${}", b + j)).collect();
                sql.push_str(&format!("({})", ps.join(",")));
            }
            let mut q = sqlx::query(&sql);
            for c in chunk {
                q = q
                    .bind(run_id)
                    .bind(c.seq)
                    .bind(&c.kind)
                    .bind(&c.action)
                    .bind(&c.entity_id)
                    .bind(&c.source_record_id)
                    .bind(c.before.as_ref().map(|j| j.to_string()))
                    .bind(c.after.as_ref().map(|j| j.to_string()))
                    .bind(c.diff.as_ref().map(|j| j.to_string()))
                    .bind(c.record_hash.clone())
                    .bind(c.record_data.clone())
                    .bind(c.visible as i64)
                    .bind(c.excluded as i64);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn clear_staged(&self, run_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM staged WHERE run_id = $1")
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The visible actions of a run's change set, optionally of one kind and action.
    pub async fn changes(
        &self,
        run_id: &str,
        kind: Option<&str>,
        action: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<ChangeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, kind, action, entity_id, source_record_id, before_data, after_data, diff, visible, excluded FROM changes \
             WHERE run_id = $1 AND visible = 1 AND (CAST($2 AS TEXT) IS NULL OR kind = CAST($2 AS TEXT)) AND (CAST($3 AS TEXT) IS NULL OR action = CAST($3 AS TEXT)) \
             ORDER BY seq LIMIT $4 OFFSET $5",
        )
        .bind(run_id)
        .bind(kind)
        .bind(action)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ChangeRow {
                    seq: r.try_get("seq")?,
                    kind: r.try_get("kind")?,
                    action: r.try_get("action")?,
                    entity_id: r.try_get("entity_id")?,
                    source_record_id: r.try_get("source_record_id")?,
                    before: json_or_null(r.try_get("before_data")?),
                    after: json_or_null(r.try_get("after_data")?),
                    diff: json_or_null(r.try_get("diff")?),
                    record_hash: None,
                    record_data: None,
                    visible: r.try_get::<i64, _>("visible")? != 0,
                    excluded: r.try_get::<i64, _>("excluded")? != 0,
                })
            })
            .collect()
    }

    /// Mark actions of a waiting run as excluded; returns how many matched.
    pub async fn exclude_changes(&self, run_id: &str, seqs: &[i64]) -> Result<u64, StoreError> {
        let mut n = 0;
        for seq in seqs {
            n += sqlx::query(
                "UPDATE changes SET excluded = 1 WHERE run_id = $1 AND seq = $2 AND visible = 1",
            )
            .bind(run_id)
            .bind(*seq)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(n)
    }

    /// Find actions by `kind:action:source_record_id` or `action:source_record_id`.
    pub async fn find_change_seqs(
        &self,
        run_id: &str,
        kind: Option<&str>,
        action: &str,
        record: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq FROM changes WHERE run_id = $1 AND action = $2 AND source_record_id = $3 AND visible = 1 AND (CAST($4 AS TEXT) IS NULL OR kind = CAST($4 AS TEXT))",
        )
        .bind(run_id)
        .bind(action)
        .bind(record)
        .bind(kind)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("seq")?)).collect()
    }

    /// Apply a run's change set (all but excluded actions) in one
    /// transaction. Idempotent by run id: a retry after a crash or a second
    /// approval applies nothing twice. Changes are applied a chunk at a time
    /// with multi-row statements, so a first import of millions of records
    /// costs a few statements per thousand records.
    pub async fn commit_run(
        &self,
        org_id: &str,
        source_id: &str,
        run_id: &str,
        key_domains: &[KeyDomain],
    ) -> Result<CommitOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = now();
        let claimed = sqlx::query(
            "UPDATE runs SET status = 'committed', committed_at = $1 WHERE id = $2 AND status IN ('running', 'held', 'awaiting_approval')",
        )
        .bind(&now)
        .bind(run_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            tx.rollback().await?;
            let run = self.run(run_id).await?;
            return match run.status {
                super::RunStatus::Committed => Ok(CommitOutcome::AlreadyCommitted),
                other => Err(StoreError::Conflict(format!(
                    "run {run_id} is {}, so it cannot be committed",
                    other.as_str()
                ))),
            };
        }
        let excluded: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM changes WHERE run_id = $1 AND excluded = 1")
                .bind(run_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        let mut applied = 0u64;
        let mut after_seq = -1i64;
        loop {
            let rows = sqlx::query(
                "SELECT seq, kind, action, entity_id, source_record_id, after_data, diff, record_hash, record_data, visible FROM changes \
                 WHERE run_id = $1 AND excluded = 0 AND seq > $2 ORDER BY seq LIMIT 1000",
            )
            .bind(run_id)
            .bind(after_seq)
            .fetch_all(&mut *tx)
            .await?;
            if rows.is_empty() {
                break;
            }
            let mut chunk = Vec::with_capacity(rows.len());
            for r in &rows {
                chunk.push(Applied {
                    seq: r.try_get("seq")?,
                    kind: r.try_get("kind")?,
                    action: r.try_get("action")?,
                    entity_id: r.try_get("entity_id")?,
                    record_id: r.try_get("source_record_id")?,
                    after: r.try_get("after_data")?,
                    diff: r.try_get("diff")?,
                    record_hash: r.try_get("record_hash")?,
                    record_data: r.try_get("record_data")?,
                    visible: r.try_get::<i64, _>("visible")? != 0,
                });
            }
            after_seq = chunk.last().map(|c| c.seq).unwrap_or(after_seq);
            applied += apply_chunk(
                &mut tx,
                org_id,
                source_id,
                run_id,
                &now,
                &chunk,
                key_domains,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(CommitOutcome::Applied {
            applied,
            excluded: excluded as u64,
        })
    }

    pub async fn discard_run(&self, run_id: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE runs SET status = 'discarded', finished_at = $1 WHERE id = $2 AND status IN ('held', 'awaiting_approval')")
            .bind(now())
            .bind(run_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }
}

/// A domain of uniqueness whose keys are kept for an entity kind.
#[derive(Debug, Clone)]
pub struct KeyDomain {
    pub kind: String,
    pub name: String,
    pub attributes: Vec<String>,
}

/// Normalise one value of a domain key: case, spacing.
pub fn key_part(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The key of an entity's data in a domain, when every attribute has a value.
pub fn domain_key(
    data: &Json,
    attributes: &[String],
    value_of: impl Fn(&Json, &str) -> Option<String>,
) -> Option<String> {
    let mut parts = Vec::with_capacity(attributes.len());
    for a in attributes {
        let v = value_of(data, a)?;
        if v.trim().is_empty() {
            return None;
        }
        parts.push(key_part(&v));
    }
    Some(parts.join("\u{1f}"))
}

/// One change as the commit reads it back.
struct Applied {
    seq: i64,
    kind: String,
    action: String,
    entity_id: String,
    record_id: String,
    after: Option<String>,
    diff: Option<String>,
    record_hash: Option<String>,
    record_data: Option<String>,
    visible: bool,
}

/// `($1,$2,...),(...)` for `rows` rows of `width` parameters.
fn values_list(rows: usize, width: usize) -> String {
    let mut sql = String::with_capacity(rows * width * 5);
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for j in 0..width {
            if j > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("${}", i * width + j + 1));
        }
        sql.push(')');
    }
    sql
}

/// Apply one chunk of a change set inside the commit's transaction.
async fn apply_chunk(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: &str,
    source_id: &str,
    run_id: &str,
    now: &str,
    chunk: &[Applied],
    key_domains: &[KeyDomain],
) -> Result<u64, StoreError> {
    let upserts: Vec<&Applied> = chunk
        .iter()
        .filter(|c| c.action == "add" || c.action == "update")
        .collect();
    if let Some(bad) = chunk
        .iter()
        .find(|c| !matches!(c.action.as_str(), "add" | "update" | "delete"))
    {
        return Err(StoreError::Corrupt(format!(
            "unknown change action `{}`",
            bad.action
        )));
    }
    // A chunk never holds one entity twice except through two links (a merge);
    // upsert entities one statement per distinct id, the last version winning.
    let mut entities: Vec<&Applied> = Vec::new();
    for c in &upserts {
        match entities.iter().position(|e| e.entity_id == c.entity_id) {
            Some(i) => entities[i] = c,
            None => entities.push(c),
        }
    }
    for part in entities.chunks(400) {
        let sql = format!(
            "INSERT INTO entities (id, org_id, kind, active, data, created_run, updated_run) VALUES {} \
             ON CONFLICT (id) DO UPDATE SET active = 1, data = excluded.data, updated_run = excluded.updated_run",
            values_list(part.len(), 7)
        );
        let mut q = sqlx::query(&sql);
        for c in part {
            q = q
                .bind(&c.entity_id)
                .bind(org_id)
                .bind(&c.kind)
                .bind(1i64)
                .bind(c.after.clone().unwrap_or_else(|| "{}".into()))
                .bind(run_id)
                .bind(run_id);
        }
        q.execute(&mut **tx).await?;
    }
    for part in upserts.chunks(400) {
        let sql = format!(
            "INSERT INTO entity_links (org_id, source_id, kind, source_record_id, entity_id, hash, data, active) VALUES {} \
             ON CONFLICT (org_id, source_id, kind, source_record_id) DO UPDATE SET entity_id = excluded.entity_id, hash = excluded.hash, data = excluded.data, active = 1",
            values_list(part.len(), 8)
        );
        let mut q = sqlx::query(&sql);
        for c in part {
            q = q
                .bind(org_id)
                .bind(source_id)
                .bind(&c.kind)
                .bind(&c.record_id)
                .bind(&c.entity_id)
                .bind(c.record_hash.clone().unwrap_or_default())
                .bind(c.record_data.clone().unwrap_or_else(|| "{}".into()))
                .bind(1i64);
        }
        q.execute(&mut **tx).await?;
    }
    // Domain keys of what changed visibly.
    let keyed: Vec<&&Applied> = entities
        .iter()
        .filter(|c| c.visible && key_domains.iter().any(|d| d.kind == c.kind))
        .collect();
    let mut keys: Vec<(String, String, String, String)> = Vec::new();
    for c in &keyed {
        let data: Json = serde_json::from_str(c.after.as_deref().unwrap_or("{}"))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        for d in key_domains.iter().filter(|d| d.kind == c.kind) {
            let key = domain_key(&data, &d.attributes, |d, a| {
                d.get(a)
                    .and_then(|v| v.get("v"))
                    .map(crate::pipeline::record::json_text)
            });
            if let Some(key) = key {
                keys.push((c.kind.clone(), d.name.clone(), key, c.entity_id.clone()));
            }
        }
    }
    for part in keyed.chunks(500) {
        let sql = format!(
            "DELETE FROM entity_keys WHERE entity_id IN ({})",
            (1..=part.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let mut q = sqlx::query(&sql);
        for c in part {
            q = q.bind(&c.entity_id);
        }
        q.execute(&mut **tx).await?;
    }
    for part in keys.chunks(500) {
        let sql = format!(
            "INSERT INTO entity_keys (org_id, kind, domain, key, entity_id) VALUES {} ON CONFLICT DO NOTHING",
            values_list(part.len(), 5)
        );
        let mut q = sqlx::query(&sql);
        for (kind, domain, key, entity) in part {
            q = q
                .bind(org_id)
                .bind(kind)
                .bind(domain)
                .bind(key)
                .bind(entity);
        }
        q.execute(&mut **tx).await?;
    }
    // Pairs a manual domain found.
    for c in &upserts {
        let Some(dup) = c
            .diff
            .as_deref()
            .filter(|d| d.contains("duplicate_of"))
            .and_then(|d| serde_json::from_str::<Json>(d).ok())
        else {
            continue;
        };
        if let (Some(primary), Some(domain)) = (
            dup.get("duplicate_of").and_then(Json::as_str),
            dup.get("domain").and_then(Json::as_str),
        ) {
            sqlx::query(
                "INSERT INTO duplicates (id, org_id, kind, domain, primary_entity, secondary_entity, status, run_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(org_id)
            .bind(&c.kind)
            .bind(domain)
            .bind(primary)
            .bind(&c.entity_id)
            .bind(run_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
    }
    for c in chunk.iter().filter(|c| c.action == "delete") {
        sqlx::query("UPDATE entity_links SET active = 0 WHERE org_id = $1 AND source_id = $2 AND kind = $3 AND source_record_id = $4")
            .bind(org_id)
            .bind(source_id)
            .bind(&c.kind)
            .bind(&c.record_id)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "UPDATE entities SET active = 0, updated_run = $1 WHERE id = $2 \
             AND NOT EXISTS (SELECT 1 FROM entity_links l WHERE l.entity_id = $2 AND l.active = 1)",
        )
        .bind(run_id)
        .bind(&c.entity_id)
        .execute(&mut **tx)
        .await?;
    }
    let visible: Vec<&Applied> = chunk.iter().filter(|c| c.visible).collect();
    for part in visible.chunks(500) {
        let sql = format!(
            "INSERT INTO entity_history (entity_id, run_id, seq, action, diff, at) VALUES {}",
            values_list(part.len(), 6)
        );
        let mut q = sqlx::query(&sql);
        for c in part {
            q = q
                .bind(&c.entity_id)
                .bind(run_id)
                .bind(c.seq)
                .bind(&c.action)
                .bind(c.diff.clone())
                .bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(visible.len() as u64)
}
