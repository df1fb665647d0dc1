//! Runs as jobs: queue a run (by hand, on schedule, after a commit), run a
//! job a worker was handed, and the worker's periodic duties (`tick`): run
//! what came due on a schedule, fail and queue again the runs whose worker
//! died, hand again what no worker took, tell of schedules about to expire,
//! and send the notifications and the daily digests.
//!
//! The queue (`crate::queue`) only carries job names; the store decides
//! that a run is taken once (a claim), held under a lease, and committed
//! once (the commit claims the run). Without a queue (an `App` built for
//! tests, or one process alone) a queued run is taken on a task right away.

use std::sync::{Arc, Mutex};

use super::*;
use crate::config::OrgSettings;
use crate::pipeline::export::ExportOptions;
use crate::queue::Job;
use crate::store::jobs::{Claim, NewRun, Queued, after};
pub use crate::store::jobs::{LiveRun, Notification};

/// Runs of one source in all: the first and the ones that read again after
/// a worker died.
pub const RUN_ATTEMPTS: i64 = 3;

/// A queued run not taken for this long is handed to the queue again.
const HAND_AGAIN_SECS: f64 = 20.0;

/// What the jobs view shows: runs waiting and running, with their worker,
/// the queue's jobs not yet taken and the workers it heard from.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct JobsView {
    #[schema(value_type = Vec<Object>)]
    pub runs: Vec<LiveRun>,
    /// Jobs in the queue no worker has taken yet (every organization's).
    pub waiting_jobs: Option<i64>,
    /// Workers the queue heard from, and when (unix seconds).
    pub workers: Vec<WorkerSeen>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct WorkerSeen {
    pub id: String,
    pub last_seen: i64,
}

impl App {
    /// Queue a run of a source; a run of it that already waits takes this
    /// one in. Hands a new run to the queue.
    pub(crate) async fn queue(
        &self,
        org: &str,
        source: &str,
        mode: &str,
        trigger: &str,
        by: &str,
    ) -> AppResult<Queued> {
        let queued = self
            .engine
            .store()
            .queue_run(&NewRun {
                org_id: org,
                source_id: source,
                mode,
                trigger,
                by,
                due_at: None,
            })
            .await?;
        if queued.new {
            self.hand(&queued.run_id).await;
        }
        Ok(queued)
    }

    /// Hand a queued run to a worker: the queue's, or a task of this
    /// process when there is no queue. A hand that fails is logged; the
    /// run waits, and a worker hands it again (`tick`).
    pub(crate) async fn hand(&self, run_id: &str) {
        match &self.queue {
            Some(queue) => {
                if let Err(e) = queue
                    .push(Job::Run {
                        run_id: run_id.to_string(),
                    })
                    .await
                {
                    tracing::error!(run = %run_id, "cannot hand the run to the queue: {e}");
                }
            }
            None => {
                let app = self.clone();
                let run_id = run_id.to_string();
                let job = app.run_job(Job::Run { run_id });
                tokio::spawn(async move {
                    if let Err(e) = job.await {
                        tracing::error!("{e}");
                    }
                });
            }
        }
    }

    /// Do one job. An error is the queue's to try again (the database was
    /// away); a run that failed is not an error.
    /// (Boxed: a run's end hands the source's next run, which may be
    /// run here, so the future names itself.)
    pub fn run_job(&self, job: Job) -> futures::future::BoxFuture<'static, Result<(), String>> {
        let app = self.clone();
        Box::pin(async move {
            match job {
                Job::Run { run_id } => app
                    .run_queued(&run_id)
                    .await
                    .map_err(|e| format!("run {run_id}: {e}")),
                Job::Notify { id } => app
                    .send_notification(&id)
                    .await
                    .map_err(|e| format!("notification {id}: {e}")),
            }
        })
    }

    /// Take a queued run and run it to its end (held, awaiting approval,
    /// committed or failed), then what follows: exports after a commit,
    /// notifications, and the source's next waiting run.
    async fn run_queued(&self, run_id: &str) -> AppResult<()> {
        let store = self.engine.store();
        let holder = &self.engine.holder;
        match store
            .claim_run(run_id, &holder.id, &after(holder.secs))
            .await?
        {
            Claim::Claimed => {}
            // Its turn comes when the source's run ends; or it is gone.
            Claim::Busy | Claim::Gone => return Ok(()),
        }
        let run = store.run(run_id).await?;
        let (org, source) = (run.org_id.clone(), run.source_id.clone());
        tracing::info!(run = %run_id, org = %org, source = %source, trigger = %run.trigger, worker = %holder.id, "run taken");
        let ended = self.execute(&run).await;
        if let Err(why) = ended {
            let mut report = store.run(run_id).await?.report;
            report.failure = Some(why.clone());
            store
                .finish_run(run_id, RunStatus::Failed, None, &report)
                .await?;
            tracing::error!(run = %run_id, "the run failed: {why}");
        }
        let run = store.run(run_id).await?;
        if let Ok(mut map) = self.progress.lock() {
            map.remove(run_id);
        }
        if run.status == RunStatus::Committed && run.mode != "export" {
            self.export_after_commit(&org, &run.triggered_by).await;
        }
        // An abandoned run is the reaper's to tell of, once no successor
        // is left to read it again.
        if !run.abandoned {
            self.notify_run(&run).await;
        }
        if let Some(next) = store.queued_run(&org, &source).await? {
            self.hand(&next).await;
        }
        Ok(())
    }

    /// The import or export of a claimed run. An error that kept it from
    /// starting is the run's failure.
    async fn execute(&self, run: &Run) -> Result<(), String> {
        let store = self.engine.store();
        let row = store
            .source(&run.org_id, &run.source_id)
            .await
            .map_err(|e| e.to_string())?;
        let secrets = self
            .resolve_secrets(&run.org_id, &row.config)
            .await
            .map_err(|e| e.to_string())?;
        let cell = Arc::new(Mutex::new(Progress::default()));
        if let Ok(mut map) = self.progress.lock() {
            map.insert(run.id.clone(), cell.clone());
        }
        let progress: crate::capabilities::log::ProgressSink = {
            let cell = cell.clone();
            Arc::new(move |done, total| {
                if let Ok(mut p) = cell.lock() {
                    // The source says how far it is in what it reads now,
                    // with its total; the host counts every record read,
                    // without one.
                    match total {
                        Some(_) => {
                            p.done = done;
                            p.total = total;
                        }
                        None => {
                            p.read = done;
                            if p.total.is_none() {
                                p.done = done;
                            }
                        }
                    }
                }
            })
        };
        if run.mode == "export" {
            let opts = ExportOptions {
                trigger: run.trigger.clone(),
                by: run.triggered_by.clone(),
                progress: Some(progress),
                on_started: None,
                secrets: Some(secrets),
                approved: None,
                run: Some(run.id.clone()),
            };
            self.engine
                .export(&run.org_id, &run.source_id, opts)
                .await
                .map_err(|e| e.to_string())?;
        } else {
            let waiting = cell.clone();
            let opts = ImportOptions {
                mode: if run.mode == "quick" {
                    Mode::Quick
                } else {
                    Mode::Full
                },
                trigger: run.trigger.clone(),
                by: run.triggered_by.clone(),
                auto_commit: None,
                progress: Some(progress),
                waiting: Some(Arc::new(move |why| {
                    if let Ok(mut p) = waiting.lock() {
                        p.waiting = why;
                    }
                })),
                on_started: None,
                secrets: Some(secrets),
                run: Some(run.id.clone()),
            };
            self.engine
                .import(&run.org_id, &run.source_id, opts)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// A worker's periodic duties, at `now` (the schedules' clock; a test
    /// clock may run fast).
    pub async fn tick(&self, now: chrono::DateTime<chrono::Utc>) -> AppResult<()> {
        self.run_schedules(now).await?;
        let store = self.engine.store();
        for a in store.reap_abandoned(RUN_ATTEMPTS).await? {
            tracing::warn!(run = %a.run_id, org = %a.org_id, source = %a.source_id, worker = a.worker_id.as_deref().unwrap_or("-"), successor = a.successor.as_deref().unwrap_or("-"), "a run's lease ran out: failed as abandoned");
            match &a.successor {
                Some(next) => self.hand(next).await,
                None => {
                    if let Ok(run) = store.run(&a.run_id).await {
                        self.notify_run(&run).await;
                    }
                }
            }
        }
        for run_id in store.stale_queued(&after(-HAND_AGAIN_SECS)).await? {
            self.hand(&run_id).await;
        }
        self.send_due_notifications().await?;
        self.send_digests(now).await?;
        Ok(())
    }

    /// Queue the runs whose schedule came due; note schedules about to expire.
    async fn run_schedules(&self, now: chrono::DateTime<chrono::Utc>) -> AppResult<()> {
        let store = self.engine.store();
        let stamp = |t: chrono::DateTime<chrono::Utc>| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        for s in store.scheduled_sources().await? {
            let Some(schedule) = &s.config.schedule else {
                continue;
            };
            let settings = OrgSettings::parse(&s.org_settings);
            let tz = settings.tz();
            let key = format!(
                "{}@{}",
                serde_json::to_string(schedule).unwrap_or_default(),
                tz.name()
            );
            let (next_due, noticed) = match &s.state {
                Some((k, next, noticed)) if *k == key => (next.clone(), noticed.clone()),
                _ => {
                    let next = schedule.next_due(tz, now).map(stamp);
                    store
                        .init_schedule(&s.org_id, &s.config.id, &key, next.as_deref())
                        .await?;
                    continue;
                }
            };
            if let Some(due) = next_due
                && due <= stamp(now)
            {
                let next = schedule.next_due(tz, now).map(stamp);
                let mode = if schedule.quick() { "quick" } else { "full" };
                let run = NewRun {
                    org_id: &s.org_id,
                    source_id: &s.config.id,
                    mode: if s.config.sync_mode.imports() {
                        mode
                    } else {
                        "export"
                    },
                    trigger: "schedule",
                    by: "schedule",
                    due_at: Some(&due),
                };
                if let Some(q) = store
                    .advance_schedule(&run, &key, &due, next.as_deref())
                    .await?
                {
                    tracing::info!(org = %s.org_id, source = %s.config.id, due = %due, run = %q.run_id, folded = !q.new, "a schedule came due");
                    if q.new {
                        self.hand(&q.run_id).await;
                    }
                }
            }
            self.notice_expiry(&s.org_id, &s.config, &settings, now, noticed.as_deref())
                .await?;
        }
        Ok(())
    }

    /// Who runs what and what waits: an organization's runs in the queue
    /// and under a lease (all organizations' for a platform token), with
    /// the queue's count of jobs not taken and its workers.
    pub async fn jobs(&self, caller: &Caller, org: &str) -> AppResult<JobsView> {
        caller.role(org)?;
        let runs = self.engine.store().live_runs(Some(org)).await?;
        let (waiting_jobs, workers) = match &self.queue {
            Some(q) => (
                q.waiting().await.ok(),
                q.workers()
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(id, last_seen)| WorkerSeen { id, last_seen })
                    .collect(),
            ),
            None => (None, Vec::new()),
        };
        Ok(JobsView {
            runs,
            waiting_jobs,
            workers,
        })
    }
}
