//! Runs: queue an import (a worker runs it, `jobs`; a commit exports to
//! the destinations, `exports`), its live progress, list and read runs,
//! their change sets, approval, exclusions and discard.

use super::*;
use crate::model::record::vendor_source;

/// A run going on a task of this process (an approved export).
type RunTask = tokio::task::JoinHandle<Result<Run, crate::pipeline::EngineError>>;

impl App {
    /// Start an import in the background; returns its run id as soon as
    /// the run exists.
    pub async fn start_run(
        &self,
        caller: &Caller,
        org: &str,
        id: &str,
        mode: Option<&str>,
    ) -> AppResult<String> {
        caller.require(org, Role::Operator)?;
        let row = self.source_row(caller, org, id).await?;
        let mode = match mode.unwrap_or("full") {
            "full" | "" => Mode::Full,
            "quick" => Mode::Quick,
            other => {
                return Err(AppError::invalid(format!(
                    "{other} is not a mode: use full or quick"
                )));
            }
        };
        if !row.enabled {
            return Err(AppError::Conflict(format!(
                "{} is not enabled: finish its setup or enable it, then run it",
                row.config.name.as_deref().unwrap_or(id)
            )));
        }
        if !row.config.sync_mode.imports() {
            // Running an export integration is sending it the hub's data.
            return self.start_export(caller, org, id).await;
        }
        // Refused now rather than in the worker: secrets this host lacks.
        self.resolve_secrets(org, &row.config).await?;
        let queued = self
            .queue(org, id, mode.as_str(), "api", &caller.label())
            .await?;
        self.audit(
            caller,
            org,
            "run.start",
            &queued.run_id,
            json!({"source": id, "mode": mode.as_str(), "queued_behind": !queued.new}),
        )
        .await?;
        Ok(queued.run_id)
    }

    /// When the import's task ends: forget its progress, and if it stopped
    /// without finishing its run (a panic, an error past the run's start),
    /// mark the run failed with why.
    pub(super) fn watch(&self, org: &str, run_id: &str, task: RunTask) {
        let app = self.clone();
        let (org, run_id) = (org.to_string(), run_id.to_string());
        tokio::spawn(async move {
            let outcome = task.await;
            if let Ok(mut map) = app.progress.lock() {
                map.remove(&run_id);
            }
            let why = match outcome {
                Ok(Ok(run)) => {
                    // A commit goes on to the destinations.
                    if run.status == RunStatus::Committed && run.mode != "export" {
                        app.export_after_commit(&org, &run.triggered_by).await;
                    }
                    return;
                }
                Ok(Err(e)) => format!("the run stopped: {e}"),
                Err(e) => {
                    format!("the run stopped unexpectedly ({e}); the server log has the details")
                }
            };
            tracing::error!(run = %run_id, "{why}");
            let store = app.engine.store();
            if let Ok(Some(run)) = store.org_run(&org, &run_id).await
                && run.status == RunStatus::Running
            {
                let mut report = run.report.clone();
                report.failure = Some(why);
                if let Err(e) = store
                    .finish_run(&run_id, RunStatus::Failed, None, &report)
                    .await
                {
                    tracing::error!(run = %run_id, "cannot mark the run failed: {e}");
                }
            }
        });
    }

    /// Each integration's name by its id (its id when it has none), and
    /// each vendor client's, whose gradebook writes are runs of their own.
    pub(super) async fn source_names(&self, org: &str) -> AppResult<HashMap<String, String>> {
        let store = self.engine.store();
        let mut names: HashMap<String, String> = store
            .sources(org)
            .await?
            .into_iter()
            .map(|s| {
                let name = s.config.name.clone().unwrap_or_else(|| s.config.id.clone());
                (s.config.id, name)
            })
            .collect();
        for client in store.vendor_clients(org).await? {
            names.insert(
                vendor_source(&client.id),
                format!("{} (vendor writes)", client.name),
            );
        }
        Ok(names)
    }

    pub fn progress_of(&self, run_id: &str) -> Option<Progress> {
        let map = self.progress.lock().ok()?;
        let cell = map.get(run_id)?;
        let p = cell.lock().ok()?.clone();
        Some(p)
    }

    pub async fn runs(
        &self,
        caller: &Caller,
        org: &str,
        source: Option<&str>,
        limit: i64,
    ) -> AppResult<Vec<RunSummary>> {
        caller.role(org)?;
        let names = self.source_names(org).await?;
        Ok(self
            .engine
            .store()
            .runs(org, source, limit.clamp(1, 500))
            .await?
            .iter()
            .map(|r| {
                let mut s = RunSummary::from(r);
                s.source_name = names.get(&r.source_id).cloned();
                s
            })
            .collect())
    }

    /// A run of the organization; 404 for any other.
    pub async fn run_row(&self, caller: &Caller, org: &str, run_id: &str) -> AppResult<Run> {
        caller.role(org)?;
        self.engine
            .store()
            .org_run(org, run_id)
            .await?
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "there is no run {run_id} in this organization: open Runs to see its runs"
                ))
            })
    }

    /// How many of a run's actions an admin left out of its approval.
    pub async fn excluded_actions(
        &self,
        caller: &Caller,
        org: &str,
        run_id: &str,
    ) -> AppResult<i64> {
        let run = self.run_row(caller, org, run_id).await?;
        Ok(self
            .engine
            .store()
            .count_changes(&run.id, None, None)
            .await?
            .1)
    }

    pub async fn run(&self, caller: &Caller, org: &str, run_id: &str) -> AppResult<RunView> {
        let run = self.run_row(caller, org, run_id).await?;
        let mut summary = RunSummary::from(&run);
        summary.source_name = self.source_names(org).await?.remove(&run.source_id);
        Ok(RunView {
            summary,
            progress: match run.status {
                RunStatus::Running => Some(match self.progress_of(run_id) {
                    Some(p) => p,
                    // Another process's worker runs it: what it last wrote.
                    None => match self.engine.store().stored_progress(run_id).await? {
                        Some((done, total)) => Progress {
                            done,
                            total,
                            read: done,
                            waiting: None,
                        },
                        None => Progress::default(),
                    },
                }),
                _ => None,
            },
            waiting: run.status.is_waiting(),
            report: run.report,
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn actions(
        &self,
        caller: &Caller,
        org: &str,
        run_id: &str,
        kind: Option<&str>,
        action: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> AppResult<ActionPage> {
        let filter = super::review::ActionFilter {
            kind: kind.map(str::to_string),
            action: action.map(str::to_string),
            ..Default::default()
        };
        self.review_actions(caller, org, run_id, &filter, offset, limit)
            .await
    }

    /// Leave actions of a waiting run out of its approval, or put them back.
    pub async fn set_exclusions(
        &self,
        caller: &Caller,
        org: &str,
        run_id: &str,
        x: &Exclusions,
    ) -> AppResult<()> {
        self.waiting_row(caller, org, run_id).await?;
        for (seqs, excluded) in [(&x.exclude, true), (&x.include, false)] {
            for seq in seqs {
                if !self
                    .engine
                    .store()
                    .set_change_excluded(run_id, *seq, excluded)
                    .await?
                {
                    return Err(AppError::invalid(format!(
                        "{seq} is not an action of run {run_id}"
                    )));
                }
            }
        }
        self.audit(
            caller,
            org,
            "run.exclusions",
            run_id,
            json!({"exclude": x.exclude, "include": x.include}),
        )
        .await
    }

    pub async fn approve(
        &self,
        caller: &Caller,
        org: &str,
        run_id: &str,
        exclude: &[i64],
    ) -> AppResult<Approved> {
        caller.require(org, Role::Operator)?;
        let held = self.run_row(caller, org, run_id).await?;
        if held.mode == "export" {
            self.approve_export(caller, org, &held, exclude).await?;
            let run = self.engine.store().run(run_id).await?;
            return Ok(Approved {
                applied: 0,
                excluded: 0,
                already_committed: false,
                run: RunSummary::from(&run),
            });
        }
        let refs: Vec<ActionRef> = exclude.iter().map(|s| ActionRef::Seq(*s)).collect();
        let (run, outcome) = self.engine.approve(run_id, &refs).await?;
        let (applied, excluded, already) = match outcome {
            CommitOutcome::Applied { applied, excluded } => (applied, excluded, false),
            CommitOutcome::AlreadyCommitted => (0, 0, true),
        };
        // Left out in all: by this approval's list and by the admin's
        // unchecking before it.
        let excluded = if already {
            excluded
        } else {
            excluded.max(self.excluded_actions(caller, org, run_id).await?.max(0) as u64)
        };
        self.audit(
            caller,
            org,
            "run.approve",
            run_id,
            json!({"exclude": exclude, "applied": applied, "excluded": excluded}),
        )
        .await?;
        if !already {
            self.export_after_commit(org, &caller.label()).await;
        }
        Ok(Approved {
            run: RunSummary::from(&run),
            applied,
            excluded,
            already_committed: already,
        })
    }

    pub async fn discard(&self, caller: &Caller, org: &str, run_id: &str) -> AppResult<RunSummary> {
        caller.require(org, Role::Operator)?;
        self.run_row(caller, org, run_id).await?;
        let run = self.engine.discard(run_id).await?;
        self.audit(caller, org, "run.discard", run_id, json!({}))
            .await?;
        Ok(RunSummary::from(&run))
    }
}
