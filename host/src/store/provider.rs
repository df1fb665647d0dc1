//! The OneRoster provider's rows: vendor clients (secrets by hash), their
//! access tokens, data-sharing agreements, the read log, and purges of a
//! person's data; and the reads the provider serves from: committed, active
//! entities a page at a time in id order, with the time each last changed,
//! and the hub ids that a page's references name.
//!
//! It decides nothing: which records and attributes a vendor may see is the
//! application layer's (`app::provider`), which hands this module ids and
//! rows.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;

use super::runs::now;
use super::sync::Params;
use super::{Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct VendorClientRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    #[serde(skip)]
    pub secret_hash: String,
    pub scopes: Vec<String>,
    pub created_by: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AgreementRow {
    pub client_id: String,
    pub org_id: String,
    /// JSON: what the application layer keeps of the agreement's terms.
    pub terms: String,
    pub expires_on: String,
    pub granted_by: String,
    pub granted_at: String,
}

/// A committed entity as the provider serves it.
#[derive(Debug, Clone)]
pub struct ServedEntity {
    pub id: String,
    pub kind: String,
    /// JSON: attribute → {"v": value, "s": source}.
    pub data: String,
    /// When the hub last changed it (its last commit), RFC 3339.
    pub modified: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReadRow {
    pub id: String,
    pub client_id: String,
    pub at: String,
    pub endpoint: String,
    pub query: String,
    pub served: i64,
    pub status: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PurgeRow {
    pub id: String,
    pub entity_id: String,
    pub kind: String,
    pub reason: String,
    pub purged_by: String,
    pub purged_at: String,
    pub removed: serde_json::Value,
}

fn client_from_row(r: &sqlx::any::AnyRow) -> Result<VendorClientRow, StoreError> {
    let scopes: String = r.try_get("scopes")?;
    Ok(VendorClientRow {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        name: r.try_get("name")?,
        secret_hash: r.try_get("secret_hash")?,
        scopes: serde_json::from_str(&scopes)
            .map_err(|e| StoreError::Corrupt(format!("vendor client scopes: {e}")))?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

fn served_from_row(r: &sqlx::any::AnyRow) -> Result<ServedEntity, StoreError> {
    Ok(ServedEntity {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        data: r.try_get("data")?,
        modified: r.try_get("modified")?,
    })
}

const SERVED_COLUMNS: &str = "e.id, e.kind, e.data, r.committed_at AS modified \
     FROM entities e LEFT JOIN runs r ON r.id = e.updated_run";

/// Rows per statement when a list of ids is bound.
const ID_CHUNK: usize = 500;

impl Store {
    pub async fn insert_vendor_client(&self, row: &VendorClientRow) -> Result<(), StoreError> {
        let scopes =
            serde_json::to_string(&row.scopes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO vendor_clients (id, org_id, name, secret_hash, scopes, created_by, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
        )
        .bind(&row.id)
        .bind(&row.org_id)
        .bind(&row.name)
        .bind(&row.secret_hash)
        .bind(scopes)
        .bind(&row.created_by)
        .bind(&row.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An organization's vendor clients, revoked ones included, newest first.
    pub async fn vendor_clients(&self, org_id: &str) -> Result<Vec<VendorClientRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, org_id, name, secret_hash, scopes, created_by, created_at, revoked_at \
             FROM vendor_clients WHERE org_id = $1 ORDER BY created_at DESC, id",
        )
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(client_from_row).collect()
    }

    pub async fn vendor_client(&self, id: &str) -> Result<Option<VendorClientRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, org_id, name, secret_hash, scopes, created_by, created_at, revoked_at \
             FROM vendor_clients WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    /// Revoke a client: its tokens stop at once. False: no such live client.
    pub async fn revoke_vendor_client(&self, org_id: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE vendor_clients SET revoked_at = $1 WHERE org_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(org_id)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        sqlx::query("DELETE FROM vendor_tokens WHERE client_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done)
    }

    pub async fn insert_vendor_token(
        &self,
        token_hash: &str,
        client_id: &str,
        scopes: &[String],
        expires_at: &str,
    ) -> Result<(), StoreError> {
        let scopes =
            serde_json::to_string(scopes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // Tokens past their time go as new ones come.
        sqlx::query("DELETE FROM vendor_tokens WHERE expires_at < $1")
            .bind(now())
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO vendor_tokens (token_hash, client_id, scopes, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(client_id)
        .bind(scopes)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The live client and the scopes of an unexpired token.
    pub async fn vendor_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(VendorClientRow, Vec<String>)>, StoreError> {
        let row = sqlx::query(
            "SELECT t.client_id, t.scopes AS token_scopes FROM vendor_tokens t \
             WHERE t.token_hash = $1 AND t.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let client_id: String = row.try_get("client_id")?;
        let scopes: String = row.try_get("token_scopes")?;
        let scopes: Vec<String> = serde_json::from_str(&scopes)
            .map_err(|e| StoreError::Corrupt(format!("vendor token scopes: {e}")))?;
        match self.vendor_client(&client_id).await? {
            Some(client) if client.revoked_at.is_none() => Ok(Some((client, scopes))),
            _ => Ok(None),
        }
    }

    pub async fn put_agreement(&self, row: &AgreementRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO vendor_agreements (client_id, org_id, terms, expires_on, granted_by, granted_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (client_id) DO UPDATE SET \
             terms = excluded.terms, expires_on = excluded.expires_on, \
             granted_by = excluded.granted_by, granted_at = excluded.granted_at",
        )
        .bind(&row.client_id)
        .bind(&row.org_id)
        .bind(&row.terms)
        .bind(&row.expires_on)
        .bind(&row.granted_by)
        .bind(&row.granted_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn agreement(&self, client_id: &str) -> Result<Option<AgreementRow>, StoreError> {
        let row = sqlx::query(
            "SELECT client_id, org_id, terms, expires_on, granted_by, granted_at \
             FROM vendor_agreements WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(AgreementRow {
                client_id: r.try_get("client_id")?,
                org_id: r.try_get("org_id")?,
                terms: r.try_get("terms")?,
                expires_on: r.try_get("expires_on")?,
                granted_by: r.try_get("granted_by")?,
                granted_at: r.try_get("granted_at")?,
            })
        })
        .transpose()
    }

    /// Revoke an agreement. False: there was none.
    pub async fn delete_agreement(
        &self,
        org_id: &str,
        client_id: &str,
    ) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("DELETE FROM vendor_agreements WHERE org_id = $1 AND client_id = $2")
                .bind(org_id)
                .bind(client_id)
                .execute(&self.pool)
                .await?
                .rows_affected()
                > 0,
        )
    }

    /// Active entities of a kind after `after` in id order, at most `limit`.
    pub async fn served_page(
        &self,
        org_id: &str,
        kind: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ServedEntity>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SERVED_COLUMNS} WHERE e.org_id = $1 AND e.kind = $2 AND e.active = 1 AND e.id > $3 \
             ORDER BY e.id LIMIT $4"
        ))
        .bind(org_id)
        .bind(kind)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(served_from_row).collect()
    }

    /// The active entities of these ids (any kind), in no particular order.
    pub async fn served_by_ids(
        &self,
        org_id: &str,
        ids: &[String],
    ) -> Result<Vec<ServedEntity>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ID_CHUNK) {
            let mut p = Params::new(self.backend);
            let org = p.next();
            let list = p.list(chunk.len());
            // The organization and the state are asked in the select list,
            // not the WHERE: given both there, SQLite's planner read every
            // entity of the organization by its kind index for a long id
            // list (0.15 s a statement at 340k entities) instead of
            // seeking each id.
            let sql = format!(
                "SELECT e.id, e.kind, e.data, r.committed_at AS modified, \
                 CASE WHEN e.org_id = {org} AND e.active = 1 THEN 'yes' ELSE 'no' END AS served \
                 FROM entities e LEFT JOIN runs r ON r.id = e.updated_run WHERE e.id IN ({list})"
            );
            let mut q = sqlx::query(&sql).bind(org_id);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                if r.try_get::<String, _>("served")? == "yes" {
                    out.push(served_from_row(&r)?);
                }
            }
        }
        Ok(out)
    }

    /// The hub's entity for each (source, kind, the source's id) asked that
    /// it has a link for.
    pub async fn entities_of_links(
        &self,
        org_id: &str,
        links: &[(String, String, String)],
    ) -> Result<HashMap<(String, String, String), String>, StoreError> {
        let mut groups: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
        for (source, kind, id) in links {
            groups
                .entry((source.as_str(), kind.as_str()))
                .or_default()
                .push(id.as_str());
        }
        let mut out = HashMap::new();
        for ((source, kind), ids) in groups {
            for chunk in ids.chunks(ID_CHUNK) {
                let mut p = Params::new(self.backend);
                let (o, s, k) = (p.next(), p.next(), p.next());
                let list = p.list(chunk.len());
                let sql = format!(
                    "SELECT source_record_id, entity_id FROM entity_links \
                     WHERE org_id = {o} AND source_id = {s} AND kind = {k} AND source_record_id IN ({list})"
                );
                let mut q = sqlx::query(&sql).bind(org_id).bind(source).bind(kind);
                for id in chunk {
                    q = q.bind(*id);
                }
                for r in q.fetch_all(&self.pool).await? {
                    out.insert(
                        (
                            source.to_string(),
                            kind.to_string(),
                            r.try_get("source_record_id")?,
                        ),
                        r.try_get("entity_id")?,
                    );
                }
            }
        }
        Ok(out)
    }

    /// The organization and kind of the entity of an id, in any
    /// organization: the hub's ids are one space.
    pub async fn entity_home(&self, id: &str) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query("SELECT org_id, kind FROM entities WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("org_id")?, r.try_get("kind")?)))
            .transpose()
    }

    /// The (source, the source's id) of every live link of an entity.
    pub async fn links_of_entity(
        &self,
        org_id: &str,
        entity_id: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT source_id, kind, source_record_id FROM entity_links WHERE org_id = $1 AND entity_id = $2",
        )
        .bind(org_id)
        .bind(entity_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("source_id")?,
                    r.try_get("kind")?,
                    r.try_get("source_record_id")?,
                ))
            })
            .collect()
    }

    /// The person (user entity) each demographics entity is of: the user
    /// its source gives the same id.
    pub async fn subjects_of_demographics(
        &self,
        org_id: &str,
        ids: &[String],
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(ID_CHUNK) {
            let mut p = Params::new(self.backend);
            let o = p.next();
            let list = p.list(chunk.len());
            let sql = format!(
                "SELECT d.entity_id AS demo, u.entity_id AS person FROM entity_links d \
                 JOIN entity_links u ON u.org_id = d.org_id AND u.source_id = d.source_id \
                 AND u.kind = 'user' AND u.source_record_id = d.source_record_id \
                 WHERE d.org_id = {o} AND d.kind = 'demographics' AND d.entity_id IN ({list})"
            );
            let mut q = sqlx::query(&sql).bind(org_id);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.insert(r.try_get("demo")?, r.try_get("person")?);
            }
        }
        Ok(out)
    }

    /// The demographics entities of a person.
    pub async fn demographics_of(
        &self,
        org_id: &str,
        person: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT d.entity_id FROM entity_links u JOIN entity_links d \
             ON d.org_id = u.org_id AND d.source_id = u.source_id AND d.kind = 'demographics' \
             AND d.source_record_id = u.source_record_id \
             WHERE u.org_id = $1 AND u.kind = 'user' AND u.entity_id = $2",
        )
        .bind(org_id)
        .bind(person)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("entity_id")?)).collect()
    }

    /// A token that changes whenever what the provider serves of an
    /// organization may have: a commit or a purge.
    pub async fn served_version(&self, org_id: &str) -> Result<String, StoreError> {
        let r = sqlx::query(
            "SELECT (SELECT MAX(committed_at) FROM runs WHERE org_id = $1) AS committed, \
             (SELECT COUNT(*) FROM purges WHERE org_id = $1) AS purged",
        )
        .bind(org_id)
        .fetch_one(&self.pool)
        .await?;
        let committed: Option<String> = r.try_get("committed")?;
        let purged: i64 = r.try_get("purged")?;
        Ok(format!("{}#{purged}", committed.unwrap_or_default()))
    }

    /// Whether a signed request's nonce is new for its client (and keep it);
    /// nonces seen before `forget_before` (unix seconds) are cleared first.
    /// One database, so a request replayed to another host is caught too.
    pub async fn first_use_of_nonce(
        &self,
        client_id: &str,
        nonce: &str,
        now: i64,
        forget_before: i64,
    ) -> Result<bool, StoreError> {
        sqlx::query("DELETE FROM vendor_nonces WHERE seen_at < $1")
            .bind(forget_before)
            .execute(&self.pool)
            .await?;
        let kept = sqlx::query(
            "INSERT INTO vendor_nonces (client_id, nonce, seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id, nonce) DO NOTHING",
        )
        .bind(client_id)
        .bind(nonce)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(kept == 1)
    }

    /// Keep one read of the log, with the people it served.
    #[allow(clippy::too_many_arguments)]
    pub async fn log_read(
        &self,
        org_id: &str,
        client_id: &str,
        endpoint: &str,
        query: &str,
        served: i64,
        status: i64,
        people: &[String],
    ) -> Result<String, StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO vendor_reads (id, org_id, client_id, at, endpoint, query, served, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(org_id)
        .bind(client_id)
        .bind(now())
        .bind(endpoint)
        .bind(query)
        .bind(served)
        .bind(status)
        .execute(&mut *tx)
        .await?;
        let mut people: Vec<&String> = people.iter().collect();
        people.sort();
        people.dedup();
        for chunk in people.chunks(ID_CHUNK) {
            let mut p = Params::new(self.backend);
            let rows = p.rows(chunk.len(), 2);
            let sql = format!("INSERT INTO vendor_read_people (read_id, entity_id) VALUES {rows}");
            let mut q = sqlx::query(&sql);
            for person in chunk {
                q = q.bind(&id).bind(*person);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// The reads of a client (all clients: none), newest first.
    pub async fn vendor_reads(
        &self,
        org_id: &str,
        client_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ReadRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, client_id, at, endpoint, query, served, status FROM vendor_reads \
             WHERE org_id = $1 AND (CAST($2 AS TEXT) IS NULL OR client_id = CAST($2 AS TEXT)) \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(org_id)
        .bind(client_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_from_row).collect()
    }

    /// The reads that served a person, newest first.
    pub async fn reads_of_person(
        &self,
        org_id: &str,
        entity_id: &str,
        limit: i64,
    ) -> Result<Vec<ReadRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, r.client_id, r.at, r.endpoint, r.query, r.served, r.status \
             FROM vendor_read_people p JOIN vendor_reads r ON r.id = p.read_id \
             WHERE p.entity_id = $1 AND r.org_id = $2 ORDER BY r.id DESC LIMIT $3",
        )
        .bind(entity_id)
        .bind(org_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_from_row).collect()
    }

    /// Entities of these kinds whose data names `id` somewhere (candidates
    /// for a purge's cascade; the caller reads each one to be sure).
    pub async fn entities_naming(
        &self,
        org_id: &str,
        kinds: &[&str],
        id: &str,
    ) -> Result<Vec<ServedEntity>, StoreError> {
        let needle = format!("%\"id\":{}%", serde_json::Value::String(id.to_string()));
        let mut out = Vec::new();
        for kind in kinds {
            let rows = sqlx::query(&format!(
                "SELECT {SERVED_COLUMNS} WHERE e.org_id = $1 AND e.kind = $2 AND e.data LIKE $3"
            ))
            .bind(org_id)
            .bind(*kind)
            .bind(&needle)
            .fetch_all(&self.pool)
            .await?;
            for r in rows {
                out.push(served_from_row(&r)?);
            }
        }
        Ok(out)
    }

    /// Remove entities and everything the hub keeps of them (links, keys,
    /// history, changes, duplicate pairs, export state), and keep the
    /// record of the purge, in one transaction.
    pub async fn purge_entities(
        &self,
        purge: &PurgeRow,
        org_id: &str,
        ids: &[String],
    ) -> Result<serde_json::Value, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut removed = serde_json::Map::new();
        let statements: &[(&str, &str)] = &[
            (
                "entities",
                "DELETE FROM entities WHERE org_id = {o} AND id IN ({l})",
            ),
            (
                "entity_links",
                "DELETE FROM entity_links WHERE org_id = {o} AND entity_id IN ({l})",
            ),
            (
                "entity_keys",
                "DELETE FROM entity_keys WHERE org_id = {o} AND entity_id IN ({l})",
            ),
            (
                "entity_history",
                "DELETE FROM entity_history WHERE entity_id IN ({l})",
            ),
            (
                "changes",
                "DELETE FROM changes WHERE run_id IN (SELECT id FROM runs WHERE org_id = {o}) AND entity_id IN ({l})",
            ),
            (
                "change_keys",
                "DELETE FROM change_keys WHERE run_id IN (SELECT id FROM runs WHERE org_id = {o}) AND entity_id IN ({l})",
            ),
            (
                "duplicates",
                "DELETE FROM duplicates WHERE org_id = {o} AND (primary_entity IN ({l}) OR secondary_entity IN ({l2}))",
            ),
            (
                "export_state",
                "DELETE FROM export_state WHERE org_id = {o} AND entity_id IN ({l})",
            ),
        ];
        for (table, template) in statements {
            let mut n = 0u64;
            for chunk in ids.chunks(ID_CHUNK) {
                // Placeholders in text order: the organization (where the
                // table has one), the ids, the ids again.
                let mut p = Params::new(self.backend);
                let by_org = template.contains("{o}");
                let o = if by_org { p.next() } else { String::new() };
                let l = p.list(chunk.len());
                let twice = template.contains("{l2}");
                let l2 = if twice {
                    p.list(chunk.len())
                } else {
                    String::new()
                };
                let sql = template
                    .replace("{o}", &o)
                    .replace("{l2}", &l2)
                    .replace("{l}", &l);
                let mut q = sqlx::query(&sql);
                if by_org {
                    q = q.bind(org_id);
                }
                for id in chunk {
                    q = q.bind(id);
                }
                if twice {
                    for id in chunk {
                        q = q.bind(id);
                    }
                }
                n += q.execute(&mut *tx).await?.rows_affected();
            }
            removed.insert((*table).to_string(), serde_json::json!(n));
        }
        let removed = serde_json::Value::Object(removed);
        sqlx::query(
            "INSERT INTO purges (id, org_id, entity_id, kind, reason, purged_by, purged_at, removed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&purge.id)
        .bind(org_id)
        .bind(&purge.entity_id)
        .bind(&purge.kind)
        .bind(&purge.reason)
        .bind(&purge.purged_by)
        .bind(&purge.purged_at)
        .bind(removed.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(removed)
    }

    pub async fn purges(&self, org_id: &str) -> Result<Vec<PurgeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, entity_id, kind, reason, purged_by, purged_at, removed FROM purges \
             WHERE org_id = $1 ORDER BY purged_at DESC, id",
        )
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let removed: String = r.try_get("removed")?;
                Ok(PurgeRow {
                    id: r.try_get("id")?,
                    entity_id: r.try_get("entity_id")?,
                    kind: r.try_get("kind")?,
                    reason: r.try_get("reason")?,
                    purged_by: r.try_get("purged_by")?,
                    purged_at: r.try_get("purged_at")?,
                    removed: serde_json::from_str(&removed).unwrap_or_default(),
                })
            })
            .collect()
    }
}

fn read_from_row(r: &sqlx::any::AnyRow) -> Result<ReadRow, StoreError> {
    Ok(ReadRow {
        id: r.try_get("id")?,
        client_id: r.try_get("client_id")?,
        at: r.try_get("at")?,
        endpoint: r.try_get("endpoint")?,
        query: r.try_get("query")?,
        served: r.try_get("served")?,
        status: r.try_get("status")?,
    })
}
