//! The run side of the job queue: runs waiting for a worker (`queued`), the
//! lease a worker holds on the run it reads, the successor queued for a run
//! whose worker died, schedule due times advanced by compare-and-set, and
//! the notification outbox. The queue that carries jobs to workers is
//! apalis's (`crate::queue`); what a job means, and that it runs once, is
//! decided here, in the hub's own rows.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, now};
use crate::model::report::RunReport;

/// What queueing a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub run_id: String,
    /// False when a run of the source already waited: the new one was
    /// folded into it.
    pub new: bool,
}

/// A run to queue.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub org_id: &'a str,
    pub source_id: &'a str,
    pub mode: &'a str,
    pub trigger: &'a str,
    pub by: &'a str,
    /// Schedule runs: the time it came due.
    pub due_at: Option<&'a str>,
}

/// What a worker's claim of a queued run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The run is this worker's, under a lease.
    Claimed,
    /// Another run of the same source is going; the run waits its turn.
    Busy,
    /// The run is no longer queued (another worker took it, or it ended).
    Gone,
}

/// A run whose worker stopped renewing its lease, and what replaced it.
#[derive(Debug, Clone)]
pub struct Abandoned {
    pub run_id: String,
    pub org_id: String,
    pub source_id: String,
    pub worker_id: Option<String>,
    /// The run queued to read the source again (none after the last attempt).
    pub successor: Option<String>,
}

/// A run in the queue or under a lease: what the jobs view lists.
#[derive(Debug, Clone, Serialize)]
pub struct LiveRun {
    pub run_id: String,
    pub org_id: String,
    pub source_id: String,
    pub status: String,
    pub trigger: String,
    pub worker_id: Option<String>,
    pub lease_until: Option<String>,
    pub due_at: Option<String>,
    pub since: String,
    pub attempt: i64,
    pub coalesced: i64,
}

/// A source with a schedule, and its organization's settings.
#[derive(Debug, Clone)]
pub struct ScheduledSource {
    pub org_id: String,
    pub org_settings: String,
    pub config: crate::config::SourceConfig,
    /// The schedule the stored due time was computed from, and that time.
    pub state: Option<(String, Option<String>, Option<String>)>,
}

/// One notification in the outbox.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub id: String,
    pub org_id: String,
    pub event: String,
    pub subject: String,
    pub body: String,
    pub payload: String,
    pub created_at: String,
    pub webhook_state: String,
    pub email_state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

const NOTIFICATION_COLUMNS: &str = "id, org_id, event, subject, body, payload, created_at, webhook_state, email_state, attempts, last_error";

fn notification_from_row(r: &sqlx::any::AnyRow) -> Result<Notification, StoreError> {
    Ok(Notification {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        event: r.try_get("event")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        payload: r.try_get("payload")?,
        created_at: r.try_get("created_at")?,
        webhook_state: r.try_get("webhook_state")?,
        email_state: r.try_get("email_state")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
    })
}

/// How old a running run without a lease must be before it counts as
/// abandoned.
const UNLEASED_GRACE_SECS: f64 = 600.0;

/// An instant `secs` from now, in the form every timestamp is stored in.
pub fn after(secs: f64) -> String {
    let at = chrono::Utc::now() + chrono::Duration::milliseconds((secs * 1000.0) as i64);
    super::runs::stored_time(at)
}

/// Queue a run in a transaction: a new row, or (when one of the source
/// already waits) one more due time folded into the waiting one.
async fn queue_in<'c, E>(exec: E, run: &NewRun<'_>) -> Result<Queued, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let id = uuid::Uuid::now_v7().to_string();
    let now = now();
    let row = sqlx::query(
        "INSERT INTO runs (id, org_id, source_id, mode, trigger_kind, triggered_by, status, started_at, report, queued_at, due_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, '{}', $7, $8) \
         ON CONFLICT (org_id, source_id) WHERE status = 'queued' DO UPDATE SET coalesced = runs.coalesced + 1 \
         RETURNING id",
    )
    .bind(&id)
    .bind(run.org_id)
    .bind(run.source_id)
    .bind(run.mode)
    .bind(run.trigger)
    .bind(run.by)
    .bind(&now)
    .bind(run.due_at)
    .fetch_one(exec)
    .await?;
    let run_id: String = row.try_get("id")?;
    Ok(Queued {
        new: run_id == id,
        run_id,
    })
}

impl Store {
    /// Queue a run of a source for a worker; one already waiting takes it
    /// in instead (one run of a source at a time, none stacked).
    pub async fn queue_run(&self, run: &NewRun<'_>) -> Result<Queued, StoreError> {
        queue_in(&self.pool, run).await
    }

    /// Take a queued run under a lease until `lease_until`, unless another
    /// run of its source is going.
    pub async fn claim_run(
        &self,
        run_id: &str,
        worker_id: &str,
        lease_until: &str,
    ) -> Result<Claim, StoreError> {
        let n = sqlx::query(
            "UPDATE runs SET status = 'running', worker_id = $1, lease_until = $2, started_at = $3 \
             WHERE id = $4 AND status = 'queued' AND NOT EXISTS \
             (SELECT 1 FROM runs r WHERE r.org_id = runs.org_id AND r.source_id = runs.source_id AND r.status = 'running')",
        )
        .bind(worker_id)
        .bind(lease_until)
        .bind(now())
        .bind(run_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n == 1 {
            return Ok(Claim::Claimed);
        }
        let row = sqlx::query("SELECT status FROM runs WHERE id = $1")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) if r.try_get::<String, _>("status")? == "queued" => Claim::Busy,
            _ => Claim::Gone,
        })
    }

    /// Put a worker's lease on a run it started itself (the command line,
    /// an approved export).
    pub async fn take_lease(
        &self,
        run_id: &str,
        worker_id: &str,
        lease_until: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE runs SET worker_id = $1, lease_until = $2 WHERE id = $3 AND status = 'running'",
        )
        .bind(worker_id)
        .bind(lease_until)
        .bind(run_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Renew a worker's lease on its run, with the run's progress. False
    /// when the lease is no longer its own (the run ended, or was
    /// abandoned and taken over): the worker must stop.
    pub async fn renew_lease(
        &self,
        run_id: &str,
        worker_id: &str,
        lease_until: &str,
        progress: Option<(u64, Option<u64>)>,
    ) -> Result<bool, StoreError> {
        let (done, total) = match progress {
            Some((d, t)) => (Some(d as i64), t.map(|t| t as i64)),
            None => (None, None),
        };
        let n = sqlx::query(
            "UPDATE runs SET lease_until = $1, progress_done = COALESCE($2, progress_done), progress_total = COALESCE($3, progress_total) \
             WHERE id = $4 AND worker_id = $5 AND status = 'running'",
        )
        .bind(lease_until)
        .bind(done)
        .bind(total)
        .bind(run_id)
        .bind(worker_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// A run's progress as its worker last wrote it (records read, total).
    pub async fn stored_progress(
        &self,
        run_id: &str,
    ) -> Result<Option<(u64, Option<u64>)>, StoreError> {
        let row = sqlx::query(
            "SELECT progress_done, progress_total FROM runs WHERE id = $1 AND status = 'running'",
        )
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let done: Option<i64> = row.try_get("progress_done")?;
        let total: Option<i64> = row.try_get("progress_total")?;
        Ok(Some((
            done.unwrap_or(0).max(0) as u64,
            total.map(|t| t.max(0) as u64),
        )))
    }

    /// Fail every running run whose lease ran out (its worker died or
    /// stopped answering) and queue a successor that reads the source
    /// again, up to `attempts` in all. The fail and the successor are one
    /// transaction, and a run that committed in the meantime is left alone:
    /// its commit claimed it first.
    pub async fn reap_abandoned(&self, attempts: i64) -> Result<Vec<Abandoned>, StoreError> {
        let now = now();
        // A run without a lease is one its process is about to lease (it
        // made the run a moment ago), or one left by a version of Homeroom
        // before leases: only the second is old.
        let unleased = after(-UNLEASED_GRACE_SECS);
        let rows = sqlx::query(
            "SELECT id, org_id, source_id, mode, trigger_kind, triggered_by, worker_id, lease_until, due_at, attempt, report FROM runs \
             WHERE status = 'running' AND (lease_until < $1 OR (lease_until IS NULL AND started_at < $2)) ORDER BY started_at LIMIT 100",
        )
        .bind(&now)
        .bind(&unleased)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let id: String = r.try_get("id")?;
            let org_id: String = r.try_get("org_id")?;
            let source_id: String = r.try_get("source_id")?;
            let worker_id: Option<String> = r.try_get("worker_id")?;
            let attempt: i64 = r.try_get("attempt")?;
            let mode: String = r.try_get("mode")?;
            let trigger: String = r.try_get("trigger_kind")?;
            let by: String = r.try_get("triggered_by")?;
            let due_at: Option<String> = r.try_get("due_at")?;
            let mut report: RunReport =
                serde_json::from_str(&r.try_get::<String, _>("report")?).unwrap_or_default();
            let again = attempt < attempts;
            report.failure = Some(format!(
                "the worker running it ({}) stopped answering, so its lease ran out; {}",
                worker_id
                    .as_deref()
                    .unwrap_or("an earlier version of Homeroom"),
                if again {
                    "nothing of it was committed, and a new run reads the source again"
                } else {
                    "nothing of it was committed; this was its last attempt, so start it again by hand once the workers are healthy"
                }
            ));
            let json =
                serde_json::to_string(&report).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let mut tx = self.pool.begin().await?;
            let n = sqlx::query(
                "UPDATE runs SET status = 'failed', abandoned = 1, finished_at = $1, report = $2 \
                 WHERE id = $3 AND status = 'running' AND (lease_until < $1 OR (lease_until IS NULL AND started_at < $4))",
            )
            .bind(&now)
            .bind(json)
            .bind(&id)
            .bind(&unleased)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                tx.rollback().await?;
                continue;
            }
            let successor = if again {
                let q = queue_in(
                    &mut *tx,
                    &NewRun {
                        org_id: &org_id,
                        source_id: &source_id,
                        mode: &mode,
                        trigger: &trigger,
                        by: &by,
                        due_at: due_at.as_deref(),
                    },
                )
                .await?;
                if q.new {
                    sqlx::query("UPDATE runs SET attempt = $1, retry_of = $2 WHERE id = $3")
                        .bind(attempt + 1)
                        .bind(&id)
                        .bind(&q.run_id)
                        .execute(&mut *tx)
                        .await?;
                }
                Some(q.run_id)
            } else {
                None
            };
            tx.commit().await?;
            self.clear_changes(&id).await?;
            out.push(Abandoned {
                run_id: id,
                org_id,
                source_id,
                worker_id,
                successor,
            });
        }
        Ok(out)
    }

    /// Queued runs whose job was last handed to the queue before `before`
    /// (the process that queued them died first, or their turn came while
    /// another run of the source went): hand them again. Marks them handed.
    pub async fn stale_queued(&self, before: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM runs WHERE status = 'queued' AND (queued_at IS NULL OR queued_at < $1) ORDER BY started_at LIMIT 200",
        )
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let id: String = r.try_get("id")?;
            let n = sqlx::query(
                "UPDATE runs SET queued_at = $1 WHERE id = $2 AND status = 'queued' AND (queued_at IS NULL OR queued_at < $3)",
            )
            .bind(now())
            .bind(&id)
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected();
            if n == 1 {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// The queued run of a source, if one waits.
    pub async fn queued_run(
        &self,
        org_id: &str,
        source_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM runs WHERE org_id = $1 AND source_id = $2 AND status = 'queued'",
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

    /// Runs waiting for a worker or under a lease, of one organization or
    /// of all: who runs what, and what waits.
    pub async fn live_runs(&self, org_id: Option<&str>) -> Result<Vec<LiveRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, org_id, source_id, status, trigger_kind, worker_id, lease_until, due_at, started_at, attempt, coalesced FROM runs \
             WHERE status IN ('queued', 'running') AND (CAST($1 AS TEXT) IS NULL OR org_id = CAST($1 AS TEXT)) ORDER BY started_at LIMIT 500",
        )
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LiveRun {
                    run_id: r.try_get("id")?,
                    org_id: r.try_get("org_id")?,
                    source_id: r.try_get("source_id")?,
                    status: r.try_get("status")?,
                    trigger: r.try_get("trigger_kind")?,
                    worker_id: r.try_get("worker_id")?,
                    lease_until: r.try_get("lease_until")?,
                    due_at: r.try_get("due_at")?,
                    since: r.try_get("started_at")?,
                    attempt: r.try_get("attempt")?,
                    coalesced: r.try_get("coalesced")?,
                })
            })
            .collect()
    }

    /// Every enabled source with a schedule, with its organization's
    /// settings and its stored due time.
    pub async fn scheduled_sources(&self) -> Result<Vec<ScheduledSource>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.org_id, s.config, o.settings, st.schedule AS st_schedule, st.next_due, st.expiry_noticed FROM sources s \
             JOIN organizations o ON o.id = s.org_id \
             LEFT JOIN schedule_state st ON st.org_id = s.org_id AND st.source_id = s.id \
             WHERE s.enabled = 1 ORDER BY s.org_id, s.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let config: crate::config::SourceConfig =
                serde_json::from_str(&r.try_get::<String, _>("config")?)
                    .map_err(|e| StoreError::Corrupt(format!("source config: {e}")))?;
            if config.schedule.is_none() {
                continue;
            }
            let st: Option<String> = r.try_get("st_schedule")?;
            out.push(ScheduledSource {
                org_id: r.try_get("org_id")?,
                org_settings: r.try_get("settings")?,
                config,
                state: match st {
                    Some(s) => Some((s, r.try_get("next_due")?, r.try_get("expiry_noticed")?)),
                    None => None,
                },
            });
        }
        Ok(out)
    }

    /// Store a source's next due time for a schedule it was computed from,
    /// when there is none yet or the schedule changed.
    pub async fn init_schedule(
        &self,
        org_id: &str,
        source_id: &str,
        schedule: &str,
        next_due: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO schedule_state (org_id, source_id, schedule, next_due) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, source_id) DO UPDATE SET schedule = excluded.schedule, next_due = excluded.next_due, expiry_noticed = NULL \
             WHERE schedule_state.schedule <> excluded.schedule",
        )
        .bind(org_id)
        .bind(source_id)
        .bind(schedule)
        .bind(next_due)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A due time came: move the source's next due time on from `due` to
    /// `next` and queue its run, in one transaction, only if no other worker
    /// did first. The run queued (or the waiting run it was folded into).
    pub async fn advance_schedule(
        &self,
        run: &NewRun<'_>,
        schedule: &str,
        due: &str,
        next: Option<&str>,
    ) -> Result<Option<Queued>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE schedule_state SET next_due = $1 WHERE org_id = $2 AND source_id = $3 AND schedule = $4 AND next_due = $5",
        )
        .bind(next)
        .bind(run.org_id)
        .bind(run.source_id)
        .bind(schedule)
        .bind(due)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let queued = queue_in(&mut *tx, run).await?;
        tx.commit().await?;
        Ok(Some(queued))
    }

    /// Note that a schedule's coming expiry was told, once per expiry date.
    /// Whether this call was the first to note it.
    pub async fn note_expiry(
        &self,
        org_id: &str,
        source_id: &str,
        expires: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE schedule_state SET expiry_noticed = $1 WHERE org_id = $2 AND source_id = $3 AND (expiry_noticed IS NULL OR expiry_noticed <> $1)",
        )
        .bind(expires)
        .bind(org_id)
        .bind(source_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// An organization's settings (JSON).
    pub async fn org_settings(&self, org_id: &str) -> Result<String, StoreError> {
        let row = sqlx::query("SELECT settings FROM organizations WHERE id = $1")
            .bind(org_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no organization `{org_id}`")))?;
        Ok(row.try_get("settings")?)
    }

    pub async fn set_org_settings(&self, org_id: &str, settings: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE organizations SET settings = $1 WHERE id = $2")
            .bind(settings)
            .bind(org_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Put a notification in the outbox, once per `dedupe` key. Its id when
    /// it is new.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_notification(
        &self,
        org_id: &str,
        event: &str,
        dedupe: &str,
        subject: &str,
        body: &str,
        payload: &str,
        webhook_state: &str,
        email_state: &str,
    ) -> Result<Option<String>, StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = now();
        let n = sqlx::query(
            "INSERT INTO notifications (id, org_id, event, dedupe, subject, body, payload, created_at, webhook_state, email_state, next_try) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $8) ON CONFLICT (dedupe) DO NOTHING",
        )
        .bind(&id)
        .bind(org_id)
        .bind(event)
        .bind(dedupe)
        .bind(subject)
        .bind(body)
        .bind(payload)
        .bind(&now)
        .bind(webhook_state)
        .bind(email_state)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok((n == 1).then_some(id))
    }

    /// Take a notification to send for `secs` (none: another worker has it,
    /// or nothing of it is left to send).
    pub async fn claim_notification(
        &self,
        id: &str,
        secs: f64,
    ) -> Result<Option<Notification>, StoreError> {
        let now = now();
        let n = sqlx::query(
            "UPDATE notifications SET claim_until = $1 WHERE id = $2 AND (claim_until IS NULL OR claim_until < $3) \
             AND (webhook_state = 'pending' OR email_state = 'pending')",
        )
        .bind(after(secs))
        .bind(id)
        .bind(&now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1"
        ))
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        notification_from_row(&row).map(Some)
    }

    /// Record what sending did: each channel's state, and when to try the
    /// rest again (none: nothing is left).
    pub async fn notification_tried(
        &self,
        id: &str,
        webhook_state: &str,
        email_state: &str,
        error: Option<&str>,
        retry_in: Option<f64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE notifications SET webhook_state = $1, email_state = $2, last_error = COALESCE($3, last_error), \
             attempts = attempts + 1, next_try = $4, claim_until = NULL WHERE id = $5",
        )
        .bind(webhook_state)
        .bind(email_state)
        .bind(error)
        .bind(after(retry_in.unwrap_or(0.0)))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Notifications with something left to send whose time to try came.
    pub async fn due_notifications(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM notifications WHERE (webhook_state = 'pending' OR email_state = 'pending') \
             AND next_try <= $1 AND (claim_until IS NULL OR claim_until < $1) ORDER BY next_try LIMIT 100",
        )
        .bind(now())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("id")?))
            .collect()
    }

    /// An organization's notifications, newest first.
    pub async fn notifications(
        &self,
        org_id: &str,
        limit: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE org_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(org_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(notification_from_row).collect()
    }

    /// Take the organization's daily digest if its time came and no other
    /// worker took it: the emails kept for it since the last one, marked
    /// sent in the same transaction. Empty when there is nothing to send.
    pub async fn take_digest(
        &self,
        org_id: &str,
        due: &str,
    ) -> Result<Option<Vec<Notification>>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "INSERT INTO digests (org_id, last_sent) VALUES ($1, $2) \
             ON CONFLICT (org_id) DO UPDATE SET last_sent = excluded.last_sent WHERE digests.last_sent < excluded.last_sent",
        )
        .bind(org_id)
        .bind(due)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let rows = sqlx::query(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE org_id = $1 AND email_state = 'digest' ORDER BY created_at"
        ))
        .bind(org_id)
        .fetch_all(&mut *tx)
        .await?;
        let list = rows
            .iter()
            .map(notification_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        sqlx::query(
            "UPDATE notifications SET email_state = 'sent' WHERE org_id = $1 AND email_state = 'digest'",
        )
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(list))
    }

    /// Put a digest's notifications back for the next digest (it could not
    /// be sent).
    pub async fn return_to_digest(&self, ids: &[String]) -> Result<(), StoreError> {
        for id in ids {
            sqlx::query("UPDATE notifications SET email_state = 'digest' WHERE id = $1")
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

impl Store {
    /// Every organization with its name and settings (JSON).
    pub async fn organizations_with_settings(
        &self,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, name, settings FROM organizations ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("name")?, r.try_get("settings")?)))
            .collect()
    }
}
