//! Exports: queue one to a destination (an Export or Sync integration),
//! queue one to every destination after an import commits, go on with a
//! held export an admin approved, and list what a destination refused (or
//! will be sent again).

use super::views::{ExportState, ExportStatus};
use super::*;
use crate::pipeline::export::ExportOptions;

impl App {
    /// Start an export in the background; returns its run id as soon as
    /// the run exists (operator).
    pub async fn start_export(&self, caller: &Caller, org: &str, id: &str) -> AppResult<String> {
        caller.require(org, Role::Operator)?;
        let row = self.source_row(caller, org, id).await?;
        if !row.config.sync_mode.exports() {
            return Err(AppError::Conflict(format!(
                "`{id}` is an import: set its sync mode to export or sync to send it the hub's data"
            )));
        }
        self.resolve_secrets(org, &row.config).await?;
        let queued = self
            .queue(org, id, "export", "api", &caller.label())
            .await?;
        self.audit(
            caller,
            org,
            "export.start",
            &queued.run_id,
            json!({"destination": id, "queued_behind": !queued.new}),
        )
        .await?;
        Ok(queued.run_id)
    }

    /// Queue an export to each of the organization's destinations: what a
    /// commit starts. One that cannot be queued is logged; the commit stands.
    pub(crate) async fn export_after_commit(&self, org: &str, by: &str) {
        let destinations = match self.engine.destinations(org).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(org = %org, "cannot list the destinations to export to: {e}");
                return;
            }
        };
        for destination in destinations {
            if let Err(e) = self.queue(org, &destination, "export", "commit", by).await {
                tracing::error!(org = %org, destination = %destination, "the export after the commit was not queued: {e}");
            }
        }
    }

    async fn spawn_export(
        &self,
        org: &str,
        id: &str,
        by: &str,
        trigger: &str,
        approved: Option<String>,
    ) -> AppResult<String> {
        let row = self.engine.store().source(org, id).await?;
        let secrets = self.resolve_secrets(org, &row.config).await?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let opts = ExportOptions {
            trigger: trigger.into(),
            by: by.to_string(),
            progress: None,
            on_started: Some(tx),
            secrets: Some(secrets),
            approved,
            run: None,
        };
        let engine = self.engine.clone();
        let (o, d) = (org.to_string(), id.to_string());
        let task = tokio::spawn(async move { engine.export(&o, &d, opts).await });
        let run_id = match rx.await {
            Ok(run_id) => run_id,
            Err(_) => match task.await {
                Ok(Ok(run)) => return Ok(run.id),
                Ok(Err(e)) => return Err(e.into()),
                Err(e) => return Err(AppError::Internal(format!("the export stopped: {e}"))),
            },
        };
        self.watch(org, &run_id, task);
        Ok(run_id)
    }

    /// Approve a held export: it goes on in the background under the same
    /// run (operator). Actions cannot be left out of an export.
    pub(crate) async fn approve_export(
        &self,
        caller: &Caller,
        org: &str,
        run: &crate::store::Run,
        exclude: &[i64],
    ) -> AppResult<String> {
        crate::pipeline::export::approve_whole(!exclude.is_empty())?;
        let id = self
            .spawn_export(
                org,
                &run.source_id,
                &caller.label(),
                &run.trigger,
                Some(run.id.clone()),
            )
            .await?;
        self.audit(
            caller,
            org,
            "export.approve",
            &id,
            json!({"destination": run.source_id}),
        )
        .await?;
        Ok(id)
    }

    /// A destination's entities in one state (`rejected` for what it
    /// refused, with its reasons), newest first.
    pub async fn exports(
        &self,
        caller: &Caller,
        org: &str,
        id: &str,
        state: &str,
        limit: i64,
    ) -> AppResult<Vec<ExportState>> {
        caller.role(org)?;
        let state = match state {
            "rejected" => ExportStatus::Rejected,
            "retry" => ExportStatus::Retry,
            "applied" => ExportStatus::Applied,
            "deleted" => ExportStatus::Deleted,
            other => {
                return Err(AppError::invalid(format!(
                    "`{other}` is not an export state: use rejected, retry, applied or deleted"
                )));
            }
        };
        self.source_row(caller, org, id).await?;
        Ok(self
            .engine
            .store()
            .export_states_in(org, id, state, limit.clamp(1, 1000))
            .await?)
    }
}
