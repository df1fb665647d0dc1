//! Runs, organizations and configured sources: the rows an admin lists and
//! the history a run leaves.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError};
use crate::config::SourceConfig;
use crate::model::report::RunReport;

pub fn now() -> String {
    stored_time(chrono::Utc::now())
}

/// An instant in the form every timestamp is stored in (RFC 3339 in UTC, to
/// the millisecond): such strings order as their instants do.
pub fn stored_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting for a worker.
    Queued,
    Running,
    /// Waiting because a hold threshold was passed.
    Held,
    /// Waiting because the source previews every run.
    AwaitingApproval,
    Committed,
    Discarded,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Held => "held",
            RunStatus::AwaitingApproval => "awaiting_approval",
            RunStatus::Committed => "committed",
            RunStatus::Discarded => "discarded",
            RunStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Result<RunStatus, StoreError> {
        Ok(match s {
            "queued" => RunStatus::Queued,
            "running" => RunStatus::Running,
            "held" => RunStatus::Held,
            "awaiting_approval" => RunStatus::AwaitingApproval,
            "committed" => RunStatus::Committed,
            "discarded" => RunStatus::Discarded,
            "failed" => RunStatus::Failed,
            other => return Err(StoreError::Corrupt(format!("unknown run status `{other}`"))),
        })
    }

    pub fn is_waiting(self) -> bool {
        matches!(self, RunStatus::Held | RunStatus::AwaitingApproval)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub id: String,
    pub org_id: String,
    pub source_id: String,
    pub mode: String,
    pub trigger: String,
    pub triggered_by: String,
    pub status: RunStatus,
    pub hold_reason: Option<String>,
    pub since: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub committed_at: Option<String>,
    pub report: RunReport,
    /// The worker (or process) that ran it, or runs it.
    pub worker_id: Option<String>,
    /// Schedule runs: when it came due.
    pub due_at: Option<String>,
    /// 1, or more for a run that reads again after its worker died.
    pub attempt: i64,
    /// The abandoned run this one reads again.
    pub retry_of: Option<String>,
    /// Due times folded into this run while it waited.
    pub coalesced: i64,
    /// Failed because its worker's lease ran out (a successor may read
    /// the source again).
    pub abandoned: bool,
}

const RUN_COLUMNS: &str = "id, org_id, source_id, mode, trigger_kind, triggered_by, status, hold_reason, since, started_at, finished_at, committed_at, report";
/// What a run's row says beside: who runs it, and as which job.
const READ_COLUMNS: &str = "id, org_id, source_id, mode, trigger_kind, triggered_by, status, hold_reason, since, started_at, finished_at, committed_at, report, worker_id, due_at, attempt, retry_of, coalesced, abandoned";

fn run_from_row(row: &sqlx::any::AnyRow) -> Result<Run, StoreError> {
    let report: String = row.try_get("report")?;
    Ok(Run {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        source_id: row.try_get("source_id")?,
        mode: row.try_get("mode")?,
        trigger: row.try_get("trigger_kind")?,
        triggered_by: row.try_get("triggered_by")?,
        status: RunStatus::parse(&row.try_get::<String, _>("status")?)?,
        hold_reason: row.try_get("hold_reason")?,
        since: row.try_get("since")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        committed_at: row.try_get("committed_at")?,
        report: serde_json::from_str(&report)
            .map_err(|e| StoreError::Corrupt(format!("run report: {e}")))?,
        worker_id: row.try_get("worker_id")?,
        due_at: row.try_get("due_at")?,
        attempt: row.try_get("attempt")?,
        retry_of: row.try_get("retry_of")?,
        coalesced: row.try_get("coalesced")?,
        abandoned: row.try_get::<i64, _>("abandoned")? != 0,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceRow {
    pub org_id: String,
    pub config: SourceConfig,
    pub enabled: bool,
}

impl Store {
    pub async fn upsert_organization(&self, id: &str, name: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name",
        )
        .bind(id)
        .bind(name)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn organizations(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, name FROM organizations ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
            .collect()
    }

    pub async fn upsert_source(
        &self,
        org_id: &str,
        config: &SourceConfig,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(config).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let now = now();
        sqlx::query(
            "INSERT INTO sources (org_id, id, plugin_id, config, enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (org_id, id) DO UPDATE SET plugin_id = excluded.plugin_id, config = excluded.config, enabled = excluded.enabled, updated_at = excluded.updated_at",
        )
        .bind(org_id)
        .bind(&config.id)
        .bind(&config.plugin)
        .bind(json)
        .bind(config.enabled as i64)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn sources(&self, org_id: &str) -> Result<Vec<SourceRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT org_id, config, enabled FROM sources WHERE org_id = $1 ORDER BY id",
        )
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let config: String = r.try_get("config")?;
                Ok(SourceRow {
                    org_id: r.try_get("org_id")?,
                    config: serde_json::from_str(&config)
                        .map_err(|e| StoreError::Corrupt(format!("source config: {e}")))?,
                    enabled: r.try_get::<i64, _>("enabled")? != 0,
                })
            })
            .collect()
    }

    pub async fn source(&self, org_id: &str, id: &str) -> Result<SourceRow, StoreError> {
        self.sources(org_id)
            .await?
            .into_iter()
            .find(|s| s.config.id == id)
            .ok_or_else(|| {
                StoreError::NotFound(format!(
                    "no source `{id}` in organization `{org_id}`; `homeroom sources` lists them"
                ))
            })
    }

    pub async fn create_run(
        &self,
        org_id: &str,
        source_id: &str,
        mode: &str,
        trigger: &str,
        by: &str,
        since: Option<&str>,
    ) -> Result<String, StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query(&format!(
            "INSERT INTO runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, 'running', NULL, $7, $8, NULL, NULL, '{{}}')"
        ))
        .bind(&id)
        .bind(org_id)
        .bind(source_id)
        .bind(mode)
        .bind(trigger)
        .bind(by)
        .bind(since)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    pub async fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        hold_reason: Option<&str>,
        report: &RunReport,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(report).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // Only a run still going ends here: one the reaper failed as
        // abandoned (its lease ran out) keeps that.
        sqlx::query("UPDATE runs SET status = $1, hold_reason = $2, report = $3, finished_at = $4 WHERE id = $5 AND status = 'running'")
            .bind(status.as_str())
            .bind(hold_reason)
            .bind(json)
            .bind(now())
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// What a quick run asks the source for: changes after this instant.
    pub async fn set_since(&self, run_id: &str, since: Option<&str>) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET since = $1 WHERE id = $2")
            .bind(since)
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Take up a held run again (an export approved): running once more,
    /// only if it is still held. Whether it was.
    pub async fn resume_held_run(&self, run_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE runs SET status = 'running', finished_at = NULL, worker_id = NULL, lease_until = $2 WHERE id = $1 AND status IN ('held', 'awaiting_approval')",
        )
        .bind(run_id)
        // A lease until the process that resumes it takes its own.
        .bind(super::jobs::after(120.0))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replace a run's report (a commit adds its timing to it).
    pub async fn save_report(&self, run_id: &str, report: &RunReport) -> Result<(), StoreError> {
        let json = serde_json::to_string(report).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query("UPDATE runs SET report = $1 WHERE id = $2")
            .bind(json)
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn run(&self, run_id: &str) -> Result<Run, StoreError> {
        let row = sqlx::query(&format!("SELECT {READ_COLUMNS} FROM runs WHERE id = $1"))
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| {
                StoreError::NotFound(format!("no run `{run_id}`; `homeroom runs` lists them"))
            })?;
        run_from_row(&row)
    }

    /// A run of an organization; none when it is another organization's.
    pub async fn org_run(&self, org_id: &str, run_id: &str) -> Result<Option<Run>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {READ_COLUMNS} FROM runs WHERE id = $1 AND org_id = $2"
        ))
        .bind(run_id)
        .bind(org_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    pub async fn runs(
        &self,
        org_id: &str,
        source_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Run>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {READ_COLUMNS} FROM runs WHERE org_id = $1 AND (CAST($2 AS TEXT) IS NULL OR source_id = CAST($2 AS TEXT)) ORDER BY started_at DESC, id DESC LIMIT $3"
        ))
        .bind(org_id)
        .bind(source_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    /// The run of a source committed last, if it has one: by when it was
    /// committed, so a held run approved after a later one counts as last.
    pub async fn last_committed_run(
        &self,
        org_id: &str,
        source_id: &str,
    ) -> Result<Option<Run>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {READ_COLUMNS} FROM runs WHERE org_id = $1 AND source_id = $2 AND status = 'committed' ORDER BY committed_at DESC, id DESC LIMIT 1"
        ))
        .bind(org_id)
        .bind(source_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// Whether anything but a run's commit took links of the organization
    /// away at `at` or later: a purge, or a duplicate resolved by deleting
    /// one of the pair. A run of unchanged input is only skipped when not.
    pub async fn links_touched_since(&self, org_id: &str, at: &str) -> Result<bool, StoreError> {
        let (purged,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM purges WHERE org_id = $1 AND purged_at >= $2")
                .bind(org_id)
                .bind(at)
                .fetch_one(&self.pool)
                .await?;
        let (resolved,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM duplicates WHERE org_id = $1 AND status = 'deleted' AND resolved_at >= $2",
        )
        .bind(org_id)
        .bind(at)
        .fetch_one(&self.pool)
        .await?;
        Ok(purged + resolved > 0)
    }

    /// When the last committed run of a source started: a quick run asks the
    /// source for what changed after it.
    pub async fn last_committed_start(
        &self,
        org_id: &str,
        source_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT started_at FROM runs WHERE org_id = $1 AND source_id = $2 AND status = 'committed' ORDER BY started_at DESC LIMIT 1",
        )
        .bind(org_id)
        .bind(source_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("started_at")?),
            None => None,
        })
    }
}
