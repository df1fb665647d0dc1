//! The rows `homeroom serve` keeps beside the engine's: API tokens (hashed)
//! and their roles per organization, admin UI sessions, the audit log,
//! secret values entered through the API (already encrypted by the caller),
//! where each source stands in the activation wizard, and the few queries the
//! admin screens need (filtered entity lists, exclusions, source removal).
//! It never sees a token or a secret in clear, and knows nothing of HTTP.

use serde::Serialize;
use serde_json::Value as Json;
use sqlx::Row;

use super::entities::EntityRow;
use super::runs::now;
use super::{Backend, Store, StoreError};

/// A token as the API knows its caller: never its value or hash.
#[derive(Debug, Clone, Serialize)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    /// May create organizations.
    pub platform: bool,
    /// (organization, role) pairs.
    pub roles: Vec<(String, String)>,
}

/// A token as an organization's admin lists it.
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    pub id: String,
    pub at: String,
    pub actor_id: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: Json,
}

/// One encrypted secret value.
pub struct SealedSecret {
    pub name: String,
    pub nonce: String,
    pub ciphertext: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SetupRow {
    pub created_by: String,
    pub created_at: String,
    pub terms_accepted_by: Option<String>,
    pub terms_accepted_at: Option<String>,
    pub finished_at: Option<String>,
}

/// A filter on one attribute's value (`role` in `student`).
pub struct AttrFilter<'a> {
    pub attribute: &'a str,
    pub values: &'a [&'a str],
}

fn entity_from_row(r: &sqlx::any::AnyRow) -> Result<EntityRow, StoreError> {
    let data: String = r.try_get("data")?;
    Ok(EntityRow {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        active: r.try_get::<i64, _>("active")? != 0,
        data: serde_json::from_str::<Json>(&data)
            .ok()
            .and_then(|j| j.as_object().cloned())
            .unwrap_or_default(),
    })
}

impl Store {
    /// Whether any API token exists (none: first start).
    pub async fn any_token(&self) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM api_tokens")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Keep a new token by its hash, with its roles.
    pub async fn insert_token(
        &self,
        id: &str,
        name: &str,
        token_hash: &str,
        platform: bool,
        created_by: &str,
        roles: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, name, token_hash, platform, created_by, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        )
        .bind(id)
        .bind(name)
        .bind(token_hash)
        .bind(platform as i64)
        .bind(created_by)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        for (org, role) in roles {
            sqlx::query("INSERT INTO api_token_roles (token_id, org_id, role) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(*org)
                .bind(*role)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Give a token a role in an organization (replacing the one it had).
    pub async fn grant_role(
        &self,
        token_id: &str,
        org_id: &str,
        role: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_token_roles (token_id, org_id, role) VALUES ($1, $2, $3) \
             ON CONFLICT (token_id, org_id) DO UPDATE SET role = excluded.role",
        )
        .bind(token_id)
        .bind(org_id)
        .bind(role)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The live token with this hash.
    pub async fn token_by_hash(&self, token_hash: &str) -> Result<Option<TokenRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, platform FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => self.token_row(&r).await.map(Some),
            None => Ok(None),
        }
    }

    pub async fn token_by_id(&self, id: &str) -> Result<Option<TokenRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, platform FROM api_tokens WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => self.token_row(&r).await.map(Some),
            None => Ok(None),
        }
    }

    async fn token_row(&self, r: &sqlx::any::AnyRow) -> Result<TokenRow, StoreError> {
        let id: String = r.try_get("id")?;
        let roles = sqlx::query(
            "SELECT org_id, role FROM api_token_roles WHERE token_id = $1 ORDER BY org_id",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("org_id")?, r.try_get("role")?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(TokenRow {
            id,
            name: r.try_get("name")?,
            platform: r.try_get::<i64, _>("platform")? != 0,
            roles,
        })
    }

    /// The live tokens holding a role in an organization.
    pub async fn tokens(&self, org_id: &str) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.id, t.name, r.role, t.created_by, t.created_at FROM api_tokens t JOIN api_token_roles r ON r.token_id = t.id \
             WHERE r.org_id = $1 AND t.revoked_at IS NULL ORDER BY t.created_at, t.id",
        )
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    role: r.try_get("role")?,
                    created_by: r.try_get("created_by")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Take a token's role in an organization away; a token left with no
    /// role (and no platform right) is revoked, and its UI sessions end.
    /// Returns whether the token had a role there.
    pub async fn revoke_token(&self, org_id: &str, token_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("DELETE FROM api_token_roles WHERE token_id = $1 AND org_id = $2")
            .bind(token_id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n > 0 {
            let left = sqlx::query("SELECT COUNT(*) AS n FROM api_token_roles WHERE token_id = $1")
                .bind(token_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get::<i64, _>("n")?;
            if left == 0 {
                sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND platform = 0")
                    .bind(now())
                    .bind(token_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM ui_sessions WHERE token_id = $1")
                    .bind(token_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    pub async fn create_session(
        &self,
        id_hash: &str,
        token_id: &str,
        csrf: &str,
        expires_at: &str,
    ) -> Result<(), StoreError> {
        // Old sessions go when new ones come.
        sqlx::query("DELETE FROM ui_sessions WHERE expires_at < $1")
            .bind(now())
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO ui_sessions (id_hash, token_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_hash)
        .bind(token_id)
        .bind(csrf)
        .bind(now())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// (token id, CSRF token) of a live session.
    pub async fn session(&self, id_hash: &str) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT token_id, csrf FROM ui_sessions WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash)
        .bind(now())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some((r.try_get("token_id")?, r.try_get("csrf")?))),
            None => Ok(None),
        }
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM ui_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn audit(
        &self,
        org_id: &str,
        actor_id: &str,
        actor: &str,
        action: &str,
        target: &str,
        detail: &Json,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (id, org_id, at, actor_id, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(org_id)
        .bind(now())
        .bind(actor_id)
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(detail.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The audit log, newest first.
    pub async fn audit_log(
        &self,
        org_id: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor_id, actor, action, target, detail FROM audit_log WHERE org_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
        )
        .bind(org_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(AuditRow {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    actor_id: r.try_get("actor_id")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    detail: serde_json::from_str(&detail).unwrap_or(Json::Null),
                })
            })
            .collect()
    }

    pub async fn put_secret(
        &self,
        org_id: &str,
        source_id: &str,
        sealed: &SealedSecret,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO source_secrets (org_id, source_id, name, nonce, ciphertext, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (org_id, source_id, name) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at",
        )
        .bind(org_id)
        .bind(source_id)
        .bind(&sealed.name)
        .bind(&sealed.nonce)
        .bind(&sealed.ciphertext)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_secret(
        &self,
        org_id: &str,
        source_id: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM source_secrets WHERE org_id = $1 AND source_id = $2 AND name = $3",
        )
        .bind(org_id)
        .bind(source_id)
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The sealed secret values of a source.
    pub async fn sealed_secrets(
        &self,
        org_id: &str,
        source_id: &str,
    ) -> Result<Vec<SealedSecret>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, nonce, ciphertext FROM source_secrets WHERE org_id = $1 AND source_id = $2 ORDER BY name",
        )
        .bind(org_id)
        .bind(source_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SealedSecret {
                    name: r.try_get("name")?,
                    nonce: r.try_get("nonce")?,
                    ciphertext: r.try_get("ciphertext")?,
                })
            })
            .collect()
    }

    pub async fn create_setup(
        &self,
        org_id: &str,
        source_id: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO source_setup (org_id, source_id, created_by, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, source_id) DO NOTHING",
        )
        .bind(org_id)
        .bind(source_id)
        .bind(by)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Where a source stands in the wizard; none for a source made from a
    /// configuration file.
    pub async fn setup(
        &self,
        org_id: &str,
        source_id: &str,
    ) -> Result<Option<SetupRow>, StoreError> {
        let row = sqlx::query(
            "SELECT created_by, created_at, terms_accepted_by, terms_accepted_at, finished_at FROM source_setup WHERE org_id = $1 AND source_id = $2",
        )
        .bind(org_id)
        .bind(source_id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some(SetupRow {
                created_by: r.try_get("created_by")?,
                created_at: r.try_get("created_at")?,
                terms_accepted_by: r.try_get("terms_accepted_by")?,
                terms_accepted_at: r.try_get("terms_accepted_at")?,
                finished_at: r.try_get("finished_at")?,
            })),
            None => Ok(None),
        }
    }

    pub async fn accept_terms(
        &self,
        org_id: &str,
        source_id: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        self.create_setup(org_id, source_id, by).await?;
        sqlx::query(
            "UPDATE source_setup SET terms_accepted_by = $1, terms_accepted_at = $2 WHERE org_id = $3 AND source_id = $4",
        )
        .bind(by)
        .bind(now())
        .bind(org_id)
        .bind(source_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn finish_setup(
        &self,
        org_id: &str,
        source_id: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        self.create_setup(org_id, source_id, by).await?;
        sqlx::query(
            "UPDATE source_setup SET finished_at = $1 WHERE org_id = $2 AND source_id = $3",
        )
        .bind(now())
        .bind(org_id)
        .bind(source_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Remove a configured source with its secrets, wizard state and plugin
    /// storage. Its runs, and the entities it fed, stay as history.
    pub async fn delete_source(&self, org_id: &str, source_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("DELETE FROM sources WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(source_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM source_secrets WHERE org_id = $1 AND source_id = $2")
            .bind(org_id)
            .bind(source_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM source_setup WHERE org_id = $1 AND source_id = $2")
            .bind(org_id)
            .bind(source_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM plugin_kv WHERE scope = $1")
            .bind(format!("{org_id}/{source_id}"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// The id of a run of this source that is still reading, if any.
    pub async fn running_run(
        &self,
        org_id: &str,
        source_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM runs WHERE org_id = $1 AND source_id = $2 AND status = 'running' ORDER BY started_at DESC LIMIT 1",
        )
        .bind(org_id)
        .bind(source_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("id")?),
            None => None,
        })
    }

    /// Mark one action of a waiting run as left out (or back in).
    pub async fn set_change_excluded(
        &self,
        run_id: &str,
        seq: i64,
        excluded: bool,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE changes SET excluded = $1 WHERE run_id = $2 AND seq = $3 AND visible = 1 \
             AND EXISTS (SELECT 1 FROM runs WHERE id = $2 AND status IN ('held', 'awaiting_approval'))",
        )
        .bind(excluded as i64)
        .bind(run_id)
        .bind(seq)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// How many visible actions of a run match a kind and action.
    pub async fn count_changes(
        &self,
        run_id: &str,
        kind: Option<&str>,
        action: Option<&str>,
    ) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(excluded), 0) AS BIGINT) AS x FROM changes WHERE run_id = $1 AND visible = 1 \
             AND (CAST($2 AS TEXT) IS NULL OR kind = CAST($2 AS TEXT)) AND (CAST($3 AS TEXT) IS NULL OR action = CAST($3 AS TEXT))",
        )
        .bind(run_id)
        .bind(kind)
        .bind(action)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("n")?, row.try_get("x")?))
    }

    #[allow(clippy::too_many_arguments)]
    /// Entities of a kind for the admin's lists: active (or archived too),
    /// optionally with one attribute among some values, optionally whose
    /// data contains `search`. Returns the page and the count of all matches.
    pub async fn entities_filtered(
        &self,
        org_id: &str,
        kind: &str,
        filter: Option<AttrFilter<'_>>,
        search: Option<&str>,
        include_archived: bool,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<EntityRow>, i64), StoreError> {
        let mut clause = String::from(
            "org_id = $1 AND kind = $2 AND ($3 = 1 OR active = 1) AND (CAST($4 AS TEXT) IS NULL OR LOWER(data) LIKE CAST($4 AS TEXT))",
        );
        let mut binds: Vec<String> = Vec::new();
        if let Some(f) = &filter {
            if !f
                .attribute
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(StoreError::Conflict(format!(
                    "`{}` is not an attribute name",
                    f.attribute
                )));
            }
            let value = match self.backend {
                Backend::Sqlite => "json_extract(data, $5)".to_string(),
                Backend::Postgres => {
                    "(CAST(data AS jsonb) -> CAST($5 AS TEXT) ->> 'v')".to_string()
                }
            };
            binds.push(match self.backend {
                Backend::Sqlite => format!("$.{}.v", f.attribute),
                Backend::Postgres => f.attribute.to_string(),
            });
            let mut placeholders = Vec::new();
            for v in f.values {
                binds.push(v.to_string());
                placeholders.push(format!("${}", 5 + binds.len() - 1));
            }
            if placeholders.is_empty() {
                placeholders.push("NULL".into());
            }
            clause.push_str(&format!(" AND {value} IN ({})", placeholders.join(", ")));
        }
        // Each word on its own, so "first last" finds a given and a family name.
        for word in search.unwrap_or("").split_whitespace().take(8) {
            binds.push(super::review::contains(word));
            clause.push_str(&format!(
                " AND LOWER(data) LIKE ${} ESCAPE '\\'",
                5 + binds.len() - 1
            ));
        }
        let pattern: Option<String> = None;
        let n = 5 + binds.len();
        let list_sql = format!(
            "SELECT id, kind, active, data FROM entities WHERE {clause} ORDER BY id LIMIT ${n} OFFSET ${}",
            n + 1
        );
        let count_sql = format!("SELECT COUNT(*) AS n FROM entities WHERE {clause}");
        let mut list = sqlx::query(&list_sql)
            .bind(org_id)
            .bind(kind)
            .bind(include_archived as i64)
            .bind(pattern.clone());
        let mut count = sqlx::query(&count_sql)
            .bind(org_id)
            .bind(kind)
            .bind(include_archived as i64)
            .bind(pattern);
        for b in &binds {
            list = list.bind(b.clone());
            count = count.bind(b.clone());
        }
        let rows = list.bind(limit).bind(offset).fetch_all(&self.pool).await?;
        let total: i64 = count.fetch_one(&self.pool).await?.try_get("n")?;
        Ok((
            rows.iter().map(entity_from_row).collect::<Result<_, _>>()?,
            total,
        ))
    }

    /// Runs of an organization waiting for an admin.
    pub async fn waiting_runs(&self, org_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM runs WHERE org_id = $1 AND status IN ('held', 'awaiting_approval')",
        )
        .bind(org_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }
}
