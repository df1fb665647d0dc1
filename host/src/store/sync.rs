//! The SQL of one import: what each source said last time (link hashes,
//! read once per kind), the current entities of the records that changed,
//! the change set as it is written page by page, and the commit, which
//! applies a run's change set in one transaction, idempotent by run id.
//!
//! The commit is set-based: a handful of `INSERT … SELECT` and `UPDATE`
//! statements the database runs over the change set itself, so no record's
//! data travels back through Rust. Placeholders are written by [`Params`] in
//! each backend's own dialect.

use std::collections::HashMap;

use futures::TryStreamExt;
use serde_json::Value as Json;
use sqlx::Row;

use super::runs::now;
use super::{Backend, Store, StoreError};
use crate::bindings::types::EntityKind;
use crate::model::change::Action;

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
    /// Attribute → [old, new]. An add's diff is its whole data, so it is not
    /// stored: [`Store::changes`] derives it from `after`.
    pub diff: Option<Json>,
    #[serde(skip)]
    pub record_hash: Option<String>,
    pub visible: bool,
    pub excluded: bool,
    /// An add a manual domain of uniqueness matched: the pair it queues
    /// when committed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<DuplicateOf>,
}

/// A change as the reconciler writes it: the JSON already serialised once.
pub struct NewChange {
    pub seq: i64,
    pub kind: EntityKind,
    pub action: Action,
    pub entity_id: String,
    pub source_record_id: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub diff: Option<String>,
    pub record_hash: Option<String>,
    pub visible: bool,
    /// An add a manual domain of uniqueness matched: the pair it queues.
    pub duplicate: Option<DuplicateOf>,
}

/// The existing entity an added record may be the same as, and the domain
/// of uniqueness that found it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DuplicateOf {
    pub entity_id: String,
    pub domain: String,
}

/// A domain key an entity will hold once its change is committed.
pub struct ChangeKey {
    pub seq: i64,
    pub kind: EntityKind,
    pub domain: String,
    pub key: String,
    pub entity_id: String,
}

/// A source record's link, with its entity's current data.
pub struct Current {
    pub entity_id: String,
    pub active: bool,
    pub data: String,
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

/// What the run's report already knows, so the commit skips the statements
/// that would find nothing (each is a pass over the change set).
#[derive(Debug, Clone, Copy, Default)]
pub struct CommitHints {
    pub deletes: bool,
    pub duplicates: bool,
    /// Actions the approval left out.
    pub excluded: u64,
}

fn json_or_null(s: Option<String>) -> Option<Json> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

/// Rows per multi-row INSERT (SQLite allows 32766 parameters).
const INSERT_CHUNK: usize = 500;

/// Placeholders in the backend's dialect, numbered in the order they are
/// written (so binds must follow the text). SQLite gets anonymous `?`:
/// numbered parameters make SQLite look each one up by a linear scan, which
/// turns a 500-row INSERT quadratic.
pub(crate) struct Params {
    backend: Backend,
    n: usize,
}

impl Params {
    pub(crate) fn new(backend: Backend) -> Params {
        Params { backend, n: 0 }
    }

    pub(crate) fn next(&mut self) -> String {
        self.n += 1;
        match self.backend {
            Backend::Sqlite => "?".into(),
            Backend::Postgres => format!("${}", self.n),
        }
    }

    /// `p, p, p` for `n` parameters.
    pub(crate) fn list(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n * 4);
        for i in 0..n {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&self.next());
        }
        s
    }

    /// `(p,p),(p,p)` for `rows` rows of `width` parameters.
    pub(crate) fn rows(&mut self, rows: usize, width: usize) -> String {
        let mut s = String::with_capacity(rows * (width * 4 + 3));
        for i in 0..rows {
            if i > 0 {
                s.push(',');
            }
            s.push('(');
            s.push_str(&self.list(width));
            s.push(')');
        }
        s
    }
}

impl Store {
    pub(crate) fn params(&self) -> Params {
        Params::new(self.backend)
    }

    /// Every link a source has for one kind: (record id, hash, active).
    /// Links come 10,000 to a row, packed by the database (length-prefixed,
    /// so any id survives): one row per link would cost a hand-over between
    /// the driver's thread and this one per link.
    pub async fn for_each_link(
        &self,
        org_id: &str,
        source_id: &str,
        kind: &str,
        mut f: impl FnMut(&str, &str, bool),
    ) -> Result<u64, StoreError> {
        let (agg, active) = match self.backend {
            Backend::Sqlite => ("group_concat", "active"),
            Backend::Postgres => ("string_agg", "CAST(active AS TEXT)"),
        };
        let mut p = self.params();
        let sql = format!(
            "SELECT {agg}(length(source_record_id) || ':' || source_record_id || length(hash) || ':' || hash || {active}, '') AS batch, \
             max(source_record_id) AS last, count(*) AS n FROM \
             (SELECT source_record_id, hash, active FROM entity_links WHERE org_id = {} AND source_id = {} AND kind = {} AND source_record_id > {} \
              ORDER BY source_record_id LIMIT 10000) t",
            p.next(),
            p.next(),
            p.next(),
            p.next()
        );
        let mut after = String::new();
        let mut total = 0u64;
        loop {
            let row = sqlx::query(&sql)
                .bind(org_id)
                .bind(source_id)
                .bind(kind)
                .bind(&after)
                .fetch_one(&self.pool)
                .await?;
            let n: i64 = row.try_get("n")?;
            if n == 0 {
                return Ok(total);
            }
            let batch: String = row.try_get("batch")?;
            after = row.try_get("last")?;
            let mut rest = batch.as_str();
            while !rest.is_empty() {
                let (id, tail) = take_prefixed(rest)?;
                let (hash, tail) = take_prefixed(tail)?;
                let mut chars = tail.chars();
                let active = chars.next() == Some('1');
                rest = chars.as_str();
                f(id, hash, active);
                total += 1;
            }
        }
    }

    /// Rows of `select` (columns of `entity_links l`, and of what it joins)
    /// for these records of a source and kind, 500 record ids to a query.
    async fn for_each_link_of(
        &self,
        select: &str,
        (org_id, source_id, kind): (&str, &str, &str),
        record_ids: &[&str],
        mut f: impl FnMut(&sqlx::any::AnyRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for chunk in record_ids.chunks(INSERT_CHUNK) {
            let mut p = self.params();
            let sql = format!(
                "{select} WHERE l.org_id = {} AND l.source_id = {} AND l.kind = {} AND l.source_record_id IN ({})",
                p.next(),
                p.next(),
                p.next(),
                p.list(chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(org_id).bind(source_id).bind(kind);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                f(&r)?;
            }
        }
        Ok(())
    }

    /// The links of these records only: (record id, hash, active). A delta
    /// run asks per page for the few records it got, instead of reading every
    /// link of the kind.
    pub async fn link_states(
        &self,
        org_id: &str,
        source_id: &str,
        kind: &str,
        record_ids: &[&str],
        mut f: impl FnMut(&str, &str, bool),
    ) -> Result<(), StoreError> {
        self.for_each_link_of(
            "SELECT l.source_record_id, l.hash, l.active FROM entity_links l",
            (org_id, source_id, kind),
            record_ids,
            |r| {
                f(r.try_get(0)?, r.try_get(1)?, r.try_get::<i64, _>(2)? != 0);
                Ok(())
            },
        )
        .await
    }

    /// How many records of a kind a source feeds now.
    pub async fn count_active_links(
        &self,
        org_id: &str,
        source_id: &str,
        kind: &str,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) FROM entity_links WHERE org_id = $1 AND source_id = $2 AND kind = $3 AND active = 1",
        )
        .bind(org_id)
        .bind(source_id)
        .bind(kind)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        Ok(n.max(0) as u64)
    }

    /// Active links of a source and kind, streamed: (record id, entity id).
    pub async fn for_each_active_link(
        &self,
        org_id: &str,
        source_id: &str,
        kind: &str,
        mut f: impl FnMut(&str, &str),
    ) -> Result<(), StoreError> {
        let mut p = self.params();
        let sql = format!(
            "SELECT source_record_id, entity_id FROM entity_links WHERE org_id = {} AND source_id = {} AND kind = {} AND active = 1",
            p.next(),
            p.next(),
            p.next()
        );
        let mut rows = sqlx::query(&sql)
            .bind(org_id)
            .bind(source_id)
            .bind(kind)
            .fetch(&self.pool);
        while let Some(r) = rows.try_next().await? {
            f(r.try_get(0)?, r.try_get(1)?);
        }
        Ok(())
    }

    /// The links of these records of a source, each with its entity's data.
    pub async fn links_with_entities(
        &self,
        org_id: &str,
        source_id: &str,
        kind: &str,
        record_ids: &[&str],
    ) -> Result<HashMap<String, Current>, StoreError> {
        let mut out = HashMap::with_capacity(record_ids.len());
        self.for_each_link_of(
            "SELECT l.source_record_id, l.entity_id, l.active, e.data FROM entity_links l JOIN entities e ON e.id = l.entity_id",
            (org_id, source_id, kind),
            record_ids,
            |r| {
                out.insert(
                    r.try_get(0)?,
                    Current {
                        entity_id: r.try_get(1)?,
                        active: r.try_get::<i64, _>(2)? != 0,
                        data: r.try_get(3)?,
                    },
                );
                Ok(())
            },
        )
        .await?;
        Ok(out)
    }

    /// Active enrollments of a source with their entity's data:
    /// (record id, entity id, data), for the cascade of deleted users and classes.
    pub async fn active_enrollments(
        &self,
        org_id: &str,
        source_id: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut p = self.params();
        let sql = format!(
            "SELECT l.source_record_id, l.entity_id, e.data FROM entity_links l JOIN entities e ON e.id = l.entity_id \
             WHERE l.org_id = {} AND l.source_id = {} AND l.kind = 'enrollment' AND l.active = 1",
            p.next(),
            p.next()
        );
        let mut rows = sqlx::query(&sql)
            .bind(org_id)
            .bind(source_id)
            .fetch(&self.pool);
        let mut out = Vec::new();
        while let Some(r) = rows.try_next().await? {
            out.push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
        }
        Ok(out)
    }

    /// Current data of entities, by id.
    pub async fn entity_data(&self, ids: &[&str]) -> Result<HashMap<String, String>, StoreError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(INSERT_CHUNK) {
            let mut p = self.params();
            let sql = format!(
                "SELECT id, data FROM entities WHERE id IN ({})",
                p.list(chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.insert(r.try_get(0)?, r.try_get(1)?);
            }
        }
        Ok(out)
    }

    /// The data entities have in a run's change set so far (the last change
    /// of each wins), with the record that gave it: what a record merging
    /// into an entity of this same run merges with.
    pub async fn run_entity_data(
        &self,
        run_id: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, (String, String)>, StoreError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(INSERT_CHUNK) {
            let mut p = self.params();
            let sql = format!(
                "SELECT entity_id, after_data, source_record_id FROM changes \
                 WHERE run_id = {} AND after_data IS NOT NULL AND entity_id IN ({}) ORDER BY seq",
                p.next(),
                p.list(chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(run_id);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.insert(r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?));
            }
        }
        Ok(out)
    }

    /// Whether any entity of this kind has a domain key yet.
    pub async fn has_keys(&self, org_id: &str, kind: &str) -> Result<bool, StoreError> {
        let mut p = self.params();
        let sql = format!(
            "SELECT 1 AS one FROM entity_keys WHERE org_id = {} AND kind = {} LIMIT 1",
            p.next(),
            p.next()
        );
        let row = sqlx::query(&sql)
            .bind(org_id)
            .bind(kind)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// For each key, the first active entity holding it in a domain (of any
    /// source, this one's included: the same person under two ids of one
    /// feed is a duplicate too).
    pub async fn find_by_keys(
        &self,
        org_id: &str,
        kind: &str,
        domain: &str,
        keys: &[&str],
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut out: HashMap<String, String> = HashMap::new();
        for chunk in keys.chunks(INSERT_CHUNK) {
            let mut p = self.params();
            let sql = format!(
                "SELECT k.key, k.entity_id FROM entity_keys k JOIN entities e ON e.id = k.entity_id AND e.active = 1 \
                 WHERE k.org_id = {} AND k.kind = {} AND k.domain = {} \
                 AND k.key IN ({}) ORDER BY k.entity_id",
                p.next(),
                p.next(),
                p.next(),
                p.list(chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(org_id).bind(kind).bind(domain);
            for k in chunk {
                q = q.bind(*k);
            }
            for r in q.fetch_all(&self.pool).await? {
                let key: String = r.try_get(0)?;
                let entity: String = r.try_get(1)?;
                out.entry(key).or_insert(entity);
            }
        }
        Ok(out)
    }

    /// Append actions (and the domain keys they bring) to a run's change set.
    pub async fn insert_changes(
        &self,
        run_id: &str,
        changes: &[NewChange],
        keys: &[ChangeKey],
    ) -> Result<(), StoreError> {
        if changes.is_empty() && keys.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for chunk in changes.chunks(INSERT_CHUNK / 2) {
            let sql = format!(
                "INSERT INTO changes (run_id, seq, kind, action, entity_id, source_record_id, before_data, after_data, diff, record_hash, visible, excluded, duplicate_of, duplicate_domain) VALUES {}",
                self.params().rows(chunk.len(), 14)
            );
            let mut q = sqlx::query(&sql);
            for c in chunk {
                q = q
                    .bind(run_id)
                    .bind(c.seq)
                    .bind(c.kind.cli_name())
                    .bind(c.action.as_str())
                    .bind(&c.entity_id)
                    .bind(&c.source_record_id)
                    .bind(c.before.as_deref())
                    .bind(c.after.as_deref())
                    .bind(c.diff.as_deref())
                    .bind(c.record_hash.as_deref())
                    .bind(c.visible as i64)
                    .bind(0i64)
                    .bind(c.duplicate.as_ref().map(|d| d.entity_id.as_str()))
                    .bind(c.duplicate.as_ref().map(|d| d.domain.as_str()));
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in keys.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO change_keys (run_id, seq, kind, domain, key, entity_id) VALUES {}",
                self.params().rows(chunk.len(), 6)
            );
            let mut q = sqlx::query(&sql);
            for k in chunk {
                q = q
                    .bind(run_id)
                    .bind(k.seq)
                    .bind(k.kind.cli_name())
                    .bind(&k.domain)
                    .bind(&k.key)
                    .bind(&k.entity_id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forget a failed run's partial change set.
    pub async fn clear_changes(&self, run_id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for table in ["changes", "change_keys"] {
            let sql = format!(
                "DELETE FROM {table} WHERE run_id = {}",
                self.params().next()
            );
            sqlx::query(&sql).bind(run_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
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
            "SELECT seq, kind, action, entity_id, source_record_id, before_data, after_data, diff, visible, excluded, duplicate_of, duplicate_domain FROM changes \
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
        rows.iter().map(change_row).collect()
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
        action: Action,
        record: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq FROM changes WHERE run_id = $1 AND action = $2 AND source_record_id = $3 AND visible = 1 AND (CAST($4 AS TEXT) IS NULL OR kind = CAST($4 AS TEXT))",
        )
        .bind(run_id)
        .bind(action.as_str())
        .bind(record)
        .bind(kind)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("seq")?)).collect()
    }

    /// Apply a run's change set (all but excluded actions) in one
    /// transaction. Idempotent by run id: a retry after a crash or a second
    /// approval applies nothing twice. Set-based: each step is one statement
    /// over the change set, run inside the database.
    /// `steps` is told how long each step took (`entities`, `links`, ...,
    /// `transaction` for the commit of the transaction itself).
    pub async fn commit_run(
        &self,
        org_id: &str,
        source_id: &str,
        run_id: &str,
        hints: CommitHints,
        steps: &mut Vec<(&'static str, f64)>,
    ) -> Result<CommitOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let c = Commit {
            org_id,
            source_id,
            run_id,
            now: now(),
            pg: self.backend == Backend::Postgres,
        };
        if !c.claim(&mut tx).await? {
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
        let clock = std::time::Instant::now();
        let mut step = std::time::Instant::now();
        let mut took = |name: &'static str| {
            steps.push((name, step.elapsed().as_secs_f64()));
            step = std::time::Instant::now();
        };
        c.entities(&mut tx).await?;
        took("entities");
        c.links(&mut tx).await?;
        took("links");
        c.keys(&mut tx, hints.excluded).await?;
        took("keys");
        if hints.duplicates {
            c.duplicates(&mut tx).await?;
            took("duplicates");
        }
        if hints.deletes {
            c.deletes(&mut tx).await?;
            took("deletes");
        }
        let applied = c.history(&mut tx).await?;
        took("history");
        tx.commit().await?;
        took("transaction");
        tracing::debug!(
            run_id,
            seconds = clock.elapsed().as_secs_f64(),
            applied,
            "commit applied"
        );
        Ok(CommitOutcome::Applied {
            applied,
            excluded: hints.excluded,
        })
    }

    pub async fn discard_run(&self, run_id: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE runs SET status = 'discarded', finished_at = COALESCE(finished_at, $1) WHERE id = $2 AND status IN ('held', 'awaiting_approval')")
            .bind(now())
            .bind(run_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n > 0 {
            sqlx::query("DELETE FROM change_keys WHERE run_id = $1")
                .bind(run_id)
                .execute(&self.pool)
                .await?;
        }
        Ok(n > 0)
    }
}

/// `LEN:TEXT` (LEN in characters) at the start of `s`: the text and what follows.
fn take_prefixed(s: &str) -> Result<(&str, &str), StoreError> {
    let bad = || StoreError::Corrupt("a packed batch of links does not parse".into());
    let (len, tail) = s.split_once(':').ok_or_else(bad)?;
    let len: usize = len.parse().map_err(|_| bad())?;
    let end = tail
        .char_indices()
        .nth(len)
        .map(|(i, _)| i)
        .unwrap_or(tail.len());
    if tail[..end].chars().count() != len {
        return Err(bad());
    }
    Ok((&tail[..end], &tail[end..]))
}

/// `now`, or a millisecond after `last` when `now` is not later than it
/// (both as `stored_time` writes them).
fn after_last_commit(now: &str, last: Option<&str>) -> String {
    let Some(last) = last else {
        return now.to_string();
    };
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (parse(now), parse(last)) {
        (Some(n), Some(l)) if n <= l => super::runs::stored_time(
            (l + chrono::Duration::milliseconds(1)).with_timezone(&chrono::Utc),
        ),
        _ => now.to_string(),
    }
}

/// One commit of a run's change set: the steps `Store::commit_run` takes in
/// its transaction, in order.
struct Commit<'a> {
    org_id: &'a str,
    source_id: &'a str,
    run_id: &'a str,
    now: String,
    pg: bool,
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

impl Commit<'_> {
    /// Mark the run committed, if it is still waiting or running; false
    /// when another commit (or a discard) came first. Its commit time is
    /// after every earlier commit of the source, even one in the same
    /// millisecond or before a clock stepped back: "the run committed last"
    /// is the one with the latest commit time.
    async fn claim(&self, tx: &mut Tx) -> Result<bool, StoreError> {
        // Commits of one source one at a time (an approval beside a running
        // run's commit), so each reads the other's time: a lock held to the
        // end of the transaction that nothing but another commit of the
        // source waits on (a settings save does not). SQLite serialises
        // every writer already.
        if self.pg {
            sqlx::query("SELECT 1 AS one FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS locked")
                .bind(format!("commit\u{1f}{}\u{1f}{}", self.org_id, self.source_id))
                .fetch_one(&mut **tx)
                .await?;
        }
        let last: Option<String> = sqlx::query_scalar(
            "SELECT MAX(committed_at) FROM runs WHERE org_id = $1 AND source_id = $2 AND status = 'committed'",
        )
        .bind(self.org_id)
        .bind(self.source_id)
        .fetch_one(&mut **tx)
        .await?;
        let committed_at = after_last_commit(&self.now, last.as_deref());
        let claimed = sqlx::query(
            "UPDATE runs SET status = 'committed', committed_at = $1 WHERE id = $2 AND status IN ('running', 'held', 'awaiting_approval')",
        )
        .bind(&committed_at)
        .bind(self.run_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        Ok(claimed > 0)
    }

    async fn entities(&self, tx: &mut Tx) -> Result<(), StoreError> {
        let (org_id, run_id, pg) = (self.org_id, self.run_id, self.pg);
        // Entities: the last version of each wins (two records of a run may
        // merge into one entity).
        let sql = if pg {
            "INSERT INTO entities (id, org_id, kind, active, data, created_run, updated_run) \
             SELECT DISTINCT ON (entity_id) entity_id, $1, kind, 1, after_data, run_id, run_id FROM changes \
             WHERE run_id = $2 AND excluded = 0 AND action IN ('add', 'update') AND after_data IS NOT NULL \
             ORDER BY entity_id, seq DESC \
             ON CONFLICT (id) DO UPDATE SET active = 1, data = excluded.data, updated_run = excluded.updated_run"
        } else {
            "INSERT INTO entities (id, org_id, kind, active, data, created_run, updated_run) \
             SELECT entity_id, ?, kind, 1, after_data, run_id, run_id FROM changes \
             WHERE run_id = ? AND excluded = 0 AND action IN ('add', 'update') AND after_data IS NOT NULL \
             ORDER BY seq \
             ON CONFLICT (id) DO UPDATE SET active = 1, data = excluded.data, updated_run = excluded.updated_run"
        };
        sqlx::query(sql)
            .bind(org_id)
            .bind(run_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn links(&self, tx: &mut Tx) -> Result<(), StoreError> {
        let (org_id, source_id, run_id, pg) = (self.org_id, self.source_id, self.run_id, self.pg);
        // Links: what each source record feeds, and the hash of what it said.
        // In key order: a source's own order is random to the link b-tree,
        // and at millions of links random inserts miss the page cache (L:
        // 28 s in source order, 19 s sorted first). The last version of a
        // record wins.
        let sql = if pg {
            "INSERT INTO entity_links (org_id, source_id, kind, source_record_id, entity_id, hash, active) \
             SELECT DISTINCT ON (kind, source_record_id) $1, $2, kind, source_record_id, entity_id, record_hash, 1 FROM changes \
             WHERE run_id = $3 AND excluded = 0 AND action IN ('add', 'update') \
             ORDER BY kind, source_record_id, seq DESC \
             ON CONFLICT (org_id, source_id, kind, source_record_id) DO UPDATE SET entity_id = excluded.entity_id, hash = excluded.hash, active = 1"
        } else {
            "INSERT INTO entity_links (org_id, source_id, kind, source_record_id, entity_id, hash, active) \
             SELECT ?, ?, kind, source_record_id, entity_id, record_hash, 1 FROM changes \
             WHERE run_id = ? AND excluded = 0 AND action IN ('add', 'update') ORDER BY kind, source_record_id, seq \
             ON CONFLICT (org_id, source_id, kind, source_record_id) DO UPDATE SET entity_id = excluded.entity_id, hash = excluded.hash, active = 1"
        };
        sqlx::query(sql)
            .bind(org_id)
            .bind(source_id)
            .bind(run_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// `excluded`: how many actions an admin left out (none: every key of
    /// the run goes in without a look at the change set).
    async fn keys(&self, tx: &mut Tx, excluded: u64) -> Result<(), StoreError> {
        let (org_id, run_id) = (self.org_id, self.run_id);
        // Domain keys: an entity that changed visibly gets its keys anew. On
        // an organization's first import there is nothing to replace.
        let had_keys = sqlx::query("SELECT 1 AS one FROM entity_keys WHERE org_id = $1 LIMIT 1")
            .bind(org_id)
            .fetch_optional(&mut **tx)
            .await?
            .is_some();
        if had_keys {
            sqlx::query(
                "DELETE FROM entity_keys WHERE entity_id IN (SELECT entity_id FROM changes WHERE run_id = $1 AND excluded = 0 AND visible = 1 AND after_data IS NOT NULL)",
            )
            .bind(run_id)
            .execute(&mut **tx)
            .await?;
        }
        // Without exclusions every key of the run goes in, with no look at the change set.
        // In key order too (keys are emails and names: random to the b-tree).
        sqlx::query(if excluded == 0 {
            "INSERT INTO entity_keys (org_id, kind, domain, key, entity_id) \
             SELECT $1, kind, domain, key, entity_id FROM change_keys WHERE run_id = $2 \
             ORDER BY kind, domain, key, entity_id ON CONFLICT DO NOTHING"
        } else {
            "INSERT INTO entity_keys (org_id, kind, domain, key, entity_id) \
             SELECT $1, k.kind, k.domain, k.key, k.entity_id FROM change_keys k JOIN changes c ON c.run_id = k.run_id AND c.seq = k.seq \
             WHERE k.run_id = $2 AND c.excluded = 0 ORDER BY k.kind, k.domain, k.key, k.entity_id ON CONFLICT DO NOTHING"
        })
        .bind(org_id)
        .bind(run_id)
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM change_keys WHERE run_id = $1")
            .bind(run_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn duplicates(&self, tx: &mut Tx) -> Result<(), StoreError> {
        let (org_id, run_id, now) = (self.org_id, self.run_id, &self.now);
        // Pairs a manual domain found.
        let rows = sqlx::query(
            "SELECT kind, entity_id, duplicate_of, duplicate_domain FROM changes WHERE run_id = $1 AND excluded = 0 AND action = 'add' AND duplicate_of IS NOT NULL",
        )
        .bind(run_id)
        .fetch_all(&mut **tx)
        .await?;
        for r in rows {
            let kind: String = r.try_get(0)?;
            let entity: String = r.try_get(1)?;
            let primary: String = r.try_get(2)?;
            let domain: Option<String> = r.try_get(3)?;
            if let Some(domain) = domain {
                sqlx::query(
                    "INSERT INTO duplicates (id, org_id, kind, domain, primary_entity, secondary_entity, status, run_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8)",
                )
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(org_id)
                .bind(&kind)
                .bind(domain)
                .bind(primary)
                .bind(&entity)
                .bind(run_id)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            }
        }
        Ok(())
    }

    async fn deletes(&self, tx: &mut Tx) -> Result<(), StoreError> {
        let (org_id, source_id, run_id) = (self.org_id, self.source_id, self.run_id);
        // Deletes archive: the link goes inactive, and the entity too once no
        // source feeds it.
        sqlx::query(
            "UPDATE entity_links SET active = 0 WHERE org_id = $1 AND source_id = $2 AND active = 1 \
             AND (kind, source_record_id) IN (SELECT kind, source_record_id FROM changes WHERE run_id = $3 AND excluded = 0 AND action = 'delete')",
        )
        .bind(org_id)
        .bind(source_id)
        .bind(run_id)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE entities SET active = 0, updated_run = $1 \
             WHERE id IN (SELECT entity_id FROM changes WHERE run_id = $2 AND excluded = 0 AND action = 'delete') \
             AND NOT EXISTS (SELECT 1 FROM entity_links l WHERE l.entity_id = entities.id AND l.active = 1)",
        )
        .bind(run_id)
        .bind(run_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The history rows; returns how many actions were applied.
    async fn history(&self, tx: &mut Tx) -> Result<u64, StoreError> {
        let (now, run_id) = (&self.now, self.run_id);
        // History: one row per visible action; an add's diff is read from its change.
        Ok(sqlx::query(
            "INSERT INTO entity_history (entity_id, run_id, seq, action, diff, at) \
             SELECT entity_id, run_id, seq, action, diff, $1 FROM changes WHERE run_id = $2 AND excluded = 0 AND visible = 1",
        )
        .bind(now)
        .bind(run_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
    }
}

/// One action as `Store::changes` selects it (its columns, by name).
pub(super) fn change_row(r: &sqlx::any::AnyRow) -> Result<ChangeRow, StoreError> {
    let action: String = r.try_get("action")?;
    let after = json_or_null(r.try_get("after_data")?);
    let diff = json_or_null(r.try_get("diff")?).or_else(|| added_diff(&action, &after));
    Ok(ChangeRow {
        seq: r.try_get("seq")?,
        kind: r.try_get("kind")?,
        action,
        entity_id: r.try_get("entity_id")?,
        source_record_id: r.try_get("source_record_id")?,
        before: json_or_null(r.try_get("before_data")?),
        after,
        diff,
        record_hash: None,
        visible: r.try_get::<i64, _>("visible")? != 0,
        excluded: r.try_get::<i64, _>("excluded")? != 0,
        duplicate_of: duplicate_of(r.try_get("duplicate_of")?, r.try_get("duplicate_domain")?),
    })
}

/// The pair a change row keeps, when it keeps one.
fn duplicate_of(entity_id: Option<String>, domain: Option<String>) -> Option<DuplicateOf> {
    Some(DuplicateOf {
        entity_id: entity_id?,
        domain: domain?,
    })
}

/// An add's diff: every attribute of its data, from nothing.
pub fn added_diff(action: &str, after: &Option<Json>) -> Option<Json> {
    if action != "add" {
        return None;
    }
    let after = after.as_ref()?.as_object()?;
    Some(Json::Object(crate::model::change::diff(None, after)))
}

/// A domain of uniqueness whose keys are kept for an entity kind.
#[derive(Debug, Clone)]
pub struct KeyDomain {
    pub kind: EntityKind,
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
    attributes: &[String],
    value_of: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let mut parts = Vec::with_capacity(attributes.len());
    for a in attributes {
        let v = value_of(a)?;
        if v.trim().is_empty() {
            return None;
        }
        parts.push(key_part(&v));
    }
    Some(parts.join("\u{1f}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_links_survive_any_id() {
        // Ids with the separator, digits and characters of several bytes.
        let ids = ["a:b", "12:3", "élève-ß", ""];
        let mut packed = String::new();
        for (i, id) in ids.iter().enumerate() {
            let hash = format!("{i:032x}");
            packed.push_str(&format!(
                "{}:{id}{}:{hash}{}",
                id.chars().count(),
                hash.len(),
                i % 2
            ));
        }
        let mut rest = packed.as_str();
        let mut out = Vec::new();
        while !rest.is_empty() {
            let (id, tail) = take_prefixed(rest).expect("id");
            let (hash, tail) = take_prefixed(tail).expect("hash");
            let mut chars = tail.chars();
            out.push((id.to_string(), hash.len(), chars.next() == Some('1')));
            rest = chars.as_str();
        }
        let ids_back: Vec<&str> = out.iter().map(|(id, _, _)| id.as_str()).collect();
        assert_eq!(ids_back, ids);
        assert!(out.iter().all(|(_, h, _)| *h == 32));
        assert_eq!(out[1].2, true);
        assert!(take_prefixed("5:abc").is_err());
        assert!(take_prefixed("x:abc").is_err());
    }

    #[test]
    fn a_commit_comes_after_the_last_even_in_the_same_millisecond() {
        let t = "2026-12-04T21:09:46.123Z";
        assert_eq!(after_last_commit(t, None), t);
        assert_eq!(after_last_commit(t, Some("2026-12-04T21:09:46.122Z")), t);
        assert_eq!(
            after_last_commit(t, Some(t)),
            "2026-12-04T21:09:46.124Z",
            "the same millisecond"
        );
        assert_eq!(
            after_last_commit(t, Some("2026-12-04T21:09:59.999Z")),
            "2026-12-04T21:10:00.000Z",
            "a clock that stepped back"
        );
    }
}
