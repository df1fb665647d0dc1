//! The job queue: apalis's SQL storage in the hub's own database (its
//! `Jobs` table on SQLite, its `apalis` schema on PostgreSQL), carrying
//! jobs to any number of workers over one database. A job only names what
//! to do (a run, a notification); whether it is still to be done, and that
//! it is done once, is the store's to say (`store::jobs`: a claim on the
//! run, a lease the worker renews). So a job handed twice, or left behind
//! by a worker that died, does no harm: its claim finds the run taken.
//! This module knows nothing of runs or plugins.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_sql::Config;
use apalis_sql::postgres::PostgresStorage;
use apalis_sql::sqlite::SqliteStorage;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// What a worker is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// Take a queued run (an import or an export) and run it.
    Run { run_id: String },
    /// Send a notification from the outbox.
    Notify { id: String },
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the job queue cannot open the database {url}: {why}")]
    Open { url: String, why: String },
    #[error("the job queue's tables could not be brought up to date: {0}")]
    Migrate(String),
    #[error("the job queue: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("a worker stopped: {0}")]
    Worker(String),
}

/// apalis's namespace for Homeroom's jobs.
const NAMESPACE: &str = "homeroom";

/// How a worker polls and tells it is alive.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How often an idle worker looks for a job.
    pub poll: Duration,
    /// How often a worker tells the queue it is alive (PostgreSQL; apalis
    /// keeps 30 seconds on SQLite).
    pub keep_alive: Duration,
    /// When the queue hands again a job whose worker went silent.
    pub orphaned_after: Duration,
}

impl Timing {
    /// Timing to go with a run lease of `lease` seconds: the queue hands a
    /// silent worker's jobs again no sooner than the leases run out.
    pub fn for_lease(lease: f64) -> Timing {
        let lease = Duration::from_secs_f64(lease.max(1.0));
        Timing {
            keep_alive: (lease / 4).max(Duration::from_millis(500)),
            orphaned_after: (lease * 2).max(Duration::from_secs(60)),
            ..Timing::default()
        }
    }
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            poll: Duration::from_millis(250),
            keep_alive: Duration::from_secs(10),
            orphaned_after: Duration::from_secs(120),
        }
    }
}

/// The queue over the hub's database.
#[derive(Clone)]
pub enum Queue {
    Sqlite(SqliteStorage<Job>),
    Postgres(PostgresStorage<Job>),
}

/// What runs a job: an error is logged and the job tried again by the
/// queue (a database that was away); a failed run is not an error.
pub type Handler = Arc<dyn Fn(Job) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

fn config(timing: Timing) -> Config {
    Config::new(NAMESPACE)
        .set_poll_interval(timing.poll)
        .set_keep_alive(timing.keep_alive)
        // One job at a time from the queue per free slot: a job fetched
        // ahead sits locked in a busy worker while another is idle.
        .set_buffer_size(1)
        .set_reenqueue_orphaned_after(timing.orphaned_after)
}

impl Queue {
    /// Open the queue in the database at `url` (the store's), creating
    /// its tables. `name` labels the connections (PostgreSQL's
    /// `application_name`), so an operator sees which worker holds which.
    pub async fn open(url: &str, name: &str, timing: Timing) -> Result<Queue, QueueError> {
        use std::str::FromStr;
        let open_err = |e: sqlx::Error| QueueError::Open {
            url: crate::secret::redact_url(url),
            why: e.to_string(),
        };
        if url.starts_with("sqlite:") {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                .map_err(open_err)?
                .create_if_missing(true)
                // A big commit holds SQLite's one writer for a while.
                .busy_timeout(Duration::from_secs(60))
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await
                .map_err(open_err)?;
            let mut migrator = SqliteStorage::migrations();
            migrator.set_ignore_missing(true);
            migrator
                .run(&pool)
                .await
                .map_err(|e| QueueError::Migrate(e.to_string()))?;
            Ok(Queue::Sqlite(SqliteStorage::new_with_config(
                pool,
                config(timing),
            )))
        } else {
            let options = sqlx::postgres::PgConnectOptions::from_str(url)
                .map_err(open_err)?
                .application_name(name);
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
                .map_err(open_err)?;
            let mut migrator = PostgresStorage::migrations();
            migrator.set_ignore_missing(true);
            migrator
                .run(&pool)
                .await
                .map_err(|e| QueueError::Migrate(e.to_string()))?;
            Ok(Queue::Postgres(PostgresStorage::new_with_config(
                pool,
                config(timing),
            )))
        }
    }

    /// Hand a job to whichever worker is free first.
    pub async fn push(&self, job: Job) -> Result<(), QueueError> {
        match self.clone() {
            Queue::Sqlite(mut s) => {
                s.push(job).await?;
            }
            Queue::Postgres(mut s) => {
                s.push(job).await?;
            }
        }
        Ok(())
    }

    /// Jobs no worker has taken yet.
    pub async fn waiting(&self) -> Result<i64, QueueError> {
        let n =
            match self {
                Queue::Sqlite(s) => {
                    sqlx::query_scalar::<_, i64>(
                        "SELECT COUNT(*) FROM Jobs WHERE job_type = ?1 AND status = 'Pending'",
                    )
                    .bind(NAMESPACE)
                    .fetch_one(s.pool())
                    .await?
                }
                Queue::Postgres(s) => sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM apalis.jobs WHERE job_type = $1 AND status = 'Pending'",
                )
                .bind(NAMESPACE)
                .fetch_one(s.pool())
                .await?,
            };
        Ok(n)
    }

    /// The workers the queue has heard from, newest first, with when
    /// (unix seconds).
    pub async fn workers(&self) -> Result<Vec<(String, i64)>, QueueError> {
        let rows = match self {
            Queue::Sqlite(s) => {
                sqlx::query_as::<_, (String, i64)>(
                    "SELECT id, last_seen FROM Workers WHERE worker_type = ?1 ORDER BY last_seen DESC LIMIT 100",
                )
                .bind(NAMESPACE)
                .fetch_all(s.pool())
                .await?
            }
            Queue::Postgres(s) => {
                sqlx::query_as::<_, (String, i64)>(
                    "SELECT id, CAST(EXTRACT(EPOCH FROM last_seen) AS BIGINT) FROM apalis.workers WHERE worker_type = $1 ORDER BY last_seen DESC LIMIT 100",
                )
                .bind(NAMESPACE)
                .fetch_all(s.pool())
                .await?
            }
        };
        Ok(rows)
    }

    /// Run a worker named `worker_id` taking up to `concurrency` jobs at
    /// once, each through `handler`, until `shutdown` resolves.
    pub async fn work(
        &self,
        worker_id: &str,
        concurrency: usize,
        handler: Handler,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), QueueError> {
        let signal = async move {
            shutdown.await;
            Ok(())
        };
        let monitor = match self.clone() {
            Queue::Sqlite(s) => Monitor::new().register(
                WorkerBuilder::new(worker_id)
                    .concurrency(concurrency.max(1))
                    .data(handler)
                    .backend(s)
                    .build_fn(handle),
            ),
            Queue::Postgres(s) => Monitor::new().register(
                WorkerBuilder::new(worker_id)
                    .concurrency(concurrency.max(1))
                    .data(handler)
                    .backend(s)
                    .build_fn(handle),
            ),
        };
        monitor
            .shutdown_timeout(Duration::from_secs(30))
            .run_with_signal(signal)
            .await
            .map_err(|e| QueueError::Worker(e.to_string()))
    }
}

/// One job through the handler; a panic in it is an error of the job,
/// never the end of the worker.
async fn handle(job: Job, handler: Data<Handler>) -> Result<(), BoxDynError> {
    use futures::FutureExt;
    let f: &Handler = &handler;
    let run = f(job);
    match std::panic::AssertUnwindSafe(run).catch_unwind().await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err("the job panicked; the worker's log has where".into()),
    }
}
