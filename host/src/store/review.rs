//! The review of a run's change set as an admin narrows it: a page of the
//! actions a filter shows (kind, action, role, school, words of text), how
//! many it shows and how many of those are left out, leaving out (or putting
//! back) everything a filter shows in one statement, and the users of a run
//! counted by role and action.
//!
//! Every filter runs in the database, on SQLite and PostgreSQL alike: a run
//! can hold 300,000 actions, and none of them travels to Rust to be
//! filtered. It reads and marks the `changes` table only; writing a change
//! set and committing it are `sync.rs`'s.

use sqlx::Row;

use super::sync::{ChangeRow, Params, change_row};
use super::{Backend, Store, StoreError};

/// What an admin narrows a run's actions to. Every part is optional; the
/// parts that are set must all hold.
#[derive(Debug, Clone, Default)]
pub struct ChangeFilter {
    /// An entity kind (`user`, `org`, `class`, ...).
    pub kind: Option<String>,
    /// add, update or delete.
    pub action: Option<String>,
    /// Values of a user's `role` attribute, one of which it must hold.
    pub roles: Option<Vec<String>>,
    /// The source's id of a school (an org) the record refers to.
    pub school: Option<String>,
    /// Words each of which the record's data or its source id must contain
    /// (case aside), so "ada lovelace" finds a given and a family name.
    pub words: Vec<String>,
}

/// Users of a run by role value and action: (role, action, count).
pub type RoleCounts = Vec<(Option<String>, String, i64)>;

/// A pattern that finds `word` anywhere, its `%`, `_` and `\` taken
/// literally (with `ESCAPE '\'`).
pub(super) fn contains(word: &str) -> String {
    let mut p = String::from("%");
    for c in word.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Store {
    /// The action's data as JSON text: what it brings, or what it removes.
    const DATA: &'static str = "COALESCE(after_data, before_data)";

    /// The `role` value of an action's data, in the backend's JSON dialect.
    fn role_expr(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("json_extract({}, '$.role.v')", Self::DATA),
            Backend::Postgres => format!("(CAST({} AS jsonb) -> 'role' ->> 'v')", Self::DATA),
        }
    }

    /// The WHERE clause of a filter over one run's visible actions, and its
    /// binds in the order the placeholders are written.
    fn review_clause(
        &self,
        p: &mut Params,
        run_id: &str,
        f: &ChangeFilter,
    ) -> (String, Vec<String>) {
        let mut binds = vec![run_id.to_string()];
        let mut sql = format!("run_id = {} AND visible = 1", p.next());
        if let Some(kind) = &f.kind {
            sql.push_str(&format!(" AND kind = {}", p.next()));
            binds.push(kind.clone());
        }
        if let Some(action) = &f.action {
            sql.push_str(&format!(" AND action = {}", p.next()));
            binds.push(action.clone());
        }
        if let Some(roles) = &f.roles {
            if roles.is_empty() {
                sql.push_str(" AND 1 = 0");
            } else {
                sql.push_str(&format!(
                    " AND kind = 'user' AND {} IN ({})",
                    self.role_expr(),
                    p.list(roles.len())
                ));
                binds.extend(roles.iter().cloned());
            }
        }
        if let Some(school) = &f.school {
            // A reference to the org anywhere in the record's values: a
            // user's orgs, a class's school, an enrollment's school.
            let clause = match self.backend {
                Backend::Sqlite => format!(
                    " AND EXISTS (SELECT 1 FROM json_each({}) a, json_tree(a.value, '$.v') t \
                     WHERE t.type = 'object' AND json_extract(t.value, '$.kind') = 'org' \
                     AND json_extract(t.value, '$.id') = {})",
                    Self::DATA,
                    p.next()
                ),
                Backend::Postgres => format!(
                    " AND jsonb_path_exists(CAST({} AS jsonb), \
                     '$.*.v ? (@.kind == \"org\" && @.id == $id)', \
                     jsonb_build_object('id', CAST({} AS TEXT)))",
                    Self::DATA,
                    p.next()
                ),
            };
            sql.push_str(&clause);
            binds.push(school.clone());
        }
        for word in &f.words {
            sql.push_str(&format!(
                " AND LOWER(COALESCE({}, '') || ' ' || source_record_id) LIKE {} ESCAPE '\\'",
                Self::DATA,
                p.next()
            ));
            binds.push(contains(word));
        }
        (sql, binds)
    }

    /// A page of the visible actions a filter shows, in the run's order.
    pub async fn review_changes(
        &self,
        run_id: &str,
        f: &ChangeFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<ChangeRow>, StoreError> {
        let mut p = self.params();
        let (clause, binds) = self.review_clause(&mut p, run_id, f);
        let sql = format!(
            "SELECT seq, kind, action, entity_id, source_record_id, before_data, after_data, diff, visible, excluded, duplicate_of, duplicate_domain \
             FROM changes WHERE {clause} ORDER BY seq LIMIT {} OFFSET {}",
            p.next(),
            p.next()
        );
        let mut q = sqlx::query(&sql);
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.bind(limit).bind(offset).fetch_all(&self.pool).await?;
        rows.iter().map(change_row).collect()
    }

    /// How many visible actions a filter shows, and how many of those are
    /// left out.
    pub async fn review_count(
        &self,
        run_id: &str,
        f: &ChangeFilter,
    ) -> Result<(i64, i64), StoreError> {
        let mut p = self.params();
        let (clause, binds) = self.review_clause(&mut p, run_id, f);
        let sql = format!(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(excluded), 0) AS BIGINT) AS x FROM changes WHERE {clause}"
        );
        let mut q = sqlx::query(&sql);
        for b in binds {
            q = q.bind(b);
        }
        let row = q.fetch_one(&self.pool).await?;
        Ok((row.try_get("n")?, row.try_get("x")?))
    }

    /// Leave out (or put back) every visible action a filter shows, while
    /// the run waits; returns how many actions the filter showed (0 when
    /// the run no longer waits).
    pub async fn review_set_excluded(
        &self,
        run_id: &str,
        f: &ChangeFilter,
        excluded: bool,
    ) -> Result<u64, StoreError> {
        let mut p = self.params();
        let flag = p.next();
        let (clause, binds) = self.review_clause(&mut p, run_id, f);
        let sql = format!(
            "UPDATE changes SET excluded = {flag} WHERE {clause} \
             AND EXISTS (SELECT 1 FROM runs WHERE id = {} AND status IN ('held', 'awaiting_approval'))",
            p.next()
        );
        let mut q = sqlx::query(&sql).bind(excluded as i64);
        for b in binds {
            q = q.bind(b);
        }
        Ok(q.bind(run_id).execute(&self.pool).await?.rows_affected())
    }

    /// The visible user actions of a run by role value and action.
    pub async fn review_roles(&self, run_id: &str) -> Result<RoleCounts, StoreError> {
        let mut p = self.params();
        let sql = format!(
            "SELECT {} AS role, action, COUNT(*) AS n FROM changes \
             WHERE run_id = {} AND visible = 1 AND kind = 'user' GROUP BY 1, action",
            self.role_expr(),
            p.next()
        );
        let rows = sqlx::query(&sql).bind(run_id).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok((r.try_get("role")?, r.try_get("action")?, r.try_get("n")?)))
            .collect()
    }

    /// The schools (orgs whose type is school) a run's records may refer
    /// to: those it adds or changes and those its source has brought
    /// before, as (source id, name), for a filter's choice.
    pub async fn review_schools(&self, run_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let attr = |data: &str, name: &str| match self.backend {
            Backend::Sqlite => format!("json_extract({data}, '$.{name}.v')"),
            Backend::Postgres => format!("(CAST({data} AS jsonb) -> '{name}' ->> 'v')"),
        };
        let mut p = self.params();
        let sql = format!(
            "SELECT source_record_id, name FROM ( \
               SELECT source_record_id, {} AS name FROM changes \
               WHERE run_id = {} AND kind = 'org' AND {} = 'school' \
               UNION \
               SELECT l.source_record_id, {} AS name FROM entity_links l \
               JOIN entities e ON e.id = l.entity_id \
               JOIN runs r ON r.org_id = l.org_id AND r.source_id = l.source_id \
               WHERE r.id = {} AND l.kind = 'org' AND l.active = 1 AND {} = 'school' \
             ) s ORDER BY name, source_record_id",
            attr(Self::DATA, "name"),
            p.next(),
            attr(Self::DATA, "type"),
            attr("e.data", "name"),
            p.next(),
            attr("e.data", "type"),
        );
        let rows = sqlx::query(&sql)
            .bind(run_id)
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        let mut out: Vec<(String, String)> = Vec::new();
        for r in &rows {
            let id: String = r.try_get("source_record_id")?;
            let name: Option<String> = r.try_get("name")?;
            // A school both in the run and brought before is listed once.
            if !out.iter().any(|(i, _)| *i == id) {
                out.push((id.clone(), name.unwrap_or(id)));
            }
        }
        Ok(out)
    }
}

impl Store {
    /// The data of records a run's actions refer to, by (kind, source id):
    /// from the run's own change set first, then from what its source
    /// brought before. For naming a page's references (at most a few
    /// hundred), never for filtering.
    pub async fn review_referenced(
        &self,
        run_id: &str,
        refs: &[(String, String)],
    ) -> Result<std::collections::HashMap<(String, String), String>, StoreError> {
        let mut out = std::collections::HashMap::new();
        for chunk in refs.chunks(200) {
            let ids: Vec<&str> = chunk.iter().map(|(_, id)| id.as_str()).collect();
            let mut p = self.params();
            let in_run = format!(
                "SELECT kind, source_record_id, {} AS data FROM changes WHERE run_id = {} AND source_record_id IN ({})",
                Self::DATA,
                p.next(),
                p.list(ids.len())
            );
            let mut p = self.params();
            let before = format!(
                "SELECT l.kind, l.source_record_id, e.data FROM entity_links l \
                 JOIN entities e ON e.id = l.entity_id \
                 JOIN runs r ON r.org_id = l.org_id AND r.source_id = l.source_id \
                 WHERE r.id = {} AND l.source_record_id IN ({})",
                p.next(),
                p.list(ids.len())
            );
            for sql in [in_run, before] {
                let mut q = sqlx::query(&sql).bind(run_id);
                for id in &ids {
                    q = q.bind(*id);
                }
                for r in q.fetch_all(&self.pool).await? {
                    let key = (r.try_get("kind")?, r.try_get("source_record_id")?);
                    let data: Option<String> = r.try_get("data")?;
                    if let Some(d) = data
                        && chunk.contains(&key)
                    {
                        out.entry(key).or_insert(d);
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::contains;

    #[test]
    fn a_word_is_found_literally() {
        assert_eq!(contains("Ada"), "%ada%");
        assert_eq!(contains("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
