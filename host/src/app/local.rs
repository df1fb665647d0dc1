//! The command line on the hub's own machine. Whoever can open the database
//! is its operator, so these operations take no token and check no role;
//! otherwise they are the same operations the API and the UI reach through
//! `App`, on the same engine. They answer with the records the store keeps
//! (runs, change rows, duplicate pairs), re-exported here, which the CLI
//! prints as they are (its `--json` output is those records).

use super::error::AppResult;
use crate::config::{DistrictConfig, OrgSettings, Schedule};
use crate::gallery::grant::repointed_secrets;
use crate::pipeline::export::ExportOptions;
use crate::pipeline::{ActionRef, Engine, ImportOptions};
pub use crate::store::jobs::{LiveRun, Notification};
pub use crate::store::sync::{ChangeRow, CommitOutcome};
pub use crate::store::{
    DEFAULT_URL as DEFAULT_DB, Duplicate, EntityRow, Resolution, Run, RunStatus, SourceRow,
};

/// The operator's side of the application, for the command line.
pub struct Local {
    engine: Engine,
    /// The hub's key, for what a file makes that is kept sealed (a vendor
    /// client that signs its requests).
    secrets: Option<super::secrets::SecretBox>,
}

impl Local {
    pub fn new(engine: Engine) -> Local {
        Local {
            engine,
            secrets: None,
        }
    }

    pub fn with_secrets(mut self, secrets: super::secrets::SecretBox) -> Local {
        self.secrets = Some(secrets);
        self
    }

    fn operator() -> super::vendors::Who<'static> {
        super::vendors::Who {
            token: "operator",
            label: "operator (homeroom apply)",
        }
    }

    /// Apply a district's configuration file: its organization, sources and
    /// vendors (a vendor client made prints its secret once).
    /// A secret stored through the UI or the API whose destination the file
    /// changes (a new token URL, say) is cleared, as a save there clears
    /// it, and the audit log says so; the sentences are returned.
    pub async fn apply(&self, config: &DistrictConfig) -> AppResult<Vec<String>> {
        let org = &config.organization.id;
        let store = self.engine.store();
        let mut cleared = Vec::new();
        // Nothing is cleared for a file that will not apply.
        for source in &config.sources {
            source
                .validate()
                .map_err(crate::pipeline::EngineError::from)?;
            self.engine.package_for(source)?;
        }
        for source in &config.sources {
            let Ok(before) = store.source(org, &source.id).await else {
                continue;
            };
            let (package, _) = self.engine.package_for(source)?;
            let sealed = store.sealed_secrets(org, &source.id).await?;
            for r in repointed_secrets(&package.manifest, &before.config.settings, &source.settings)
            {
                if !sealed.iter().any(|s| s.name == r.secret) {
                    continue;
                }
                store.delete_secret(org, &source.id, &r.secret).await?;
                let sentence = format!("source `{}`: {}", source.id, r.sentence());
                store
                    .audit(
                        org,
                        "operator",
                        "homeroom apply",
                        "source.secrets_cleared",
                        &source.id,
                        &serde_json::json!({"cleared": [r.sentence()]}),
                    )
                    .await?;
                cleared.push(sentence);
            }
        }
        let who = Local::operator();
        let secrets = self.secrets.as_ref();
        // Nothing applies from a file whose vendors would be refused.
        super::vendors::apply_vendors(store, secrets, org, &config.vendors, &who, true).await?;
        self.engine.apply_config(config).await?;
        let told = super::vendors::apply_vendors(store, secrets, org, &config.vendors, &who, false)
            .await?;
        cleared.extend(told);
        Ok(cleared)
    }

    /// The organization's configuration as a file `apply` takes back.
    pub async fn export(&self, org: &str) -> AppResult<DistrictConfig> {
        let mut config = self.engine.export_config(org).await?;
        config.vendors = super::vendors::exported_vendors(self.engine.store(), org).await?;
        Ok(config)
    }

    /// Every organization: (id, name).
    pub async fn organizations(&self) -> AppResult<Vec<(String, String)>> {
        Ok(self.engine.store().organizations().await?)
    }

    /// The organizations with a source (or destination) of this id.
    pub async fn organizations_with_source(&self, source: &str) -> AppResult<Vec<String>> {
        let store = self.engine.store();
        let mut out = Vec::new();
        for (org, _) in store.organizations().await? {
            if store
                .sources(&org)
                .await?
                .iter()
                .any(|s| s.config.id == source)
            {
                out.push(org);
            }
        }
        Ok(out)
    }

    /// Each source with its newest run, if it has one.
    pub async fn sources(&self, org: &str) -> AppResult<Vec<(SourceRow, Option<Run>)>> {
        let store = self.engine.store();
        let mut out = Vec::new();
        for source in store.sources(org).await? {
            let last = store
                .runs(org, Some(&source.config.id), 1)
                .await?
                .into_iter()
                .next();
            out.push((source, last));
        }
        Ok(out)
    }

    pub async fn import(&self, org: &str, source: &str, opts: ImportOptions) -> AppResult<Run> {
        Ok(self.engine.import(org, source, opts).await?)
    }

    /// Export to one destination what it does not have yet.
    pub async fn export_to(
        &self,
        org: &str,
        destination: &str,
        opts: ExportOptions,
    ) -> AppResult<Run> {
        Ok(self.engine.export(org, destination, opts).await?)
    }

    /// After a commit: export to each of the organization's destinations
    /// (secrets from the environment, as the configuration file names
    /// them). One that cannot start is a failed export of its own, not a
    /// failed import.
    pub async fn export_after_commit(
        &self,
        org: &str,
        by: &str,
    ) -> AppResult<Vec<Result<Run, String>>> {
        let mut out = Vec::new();
        for destination in self.engine.destinations(org).await? {
            let opts = ExportOptions {
                trigger: "commit".into(),
                by: by.to_string(),
                ..Default::default()
            };
            out.push(
                self.engine
                    .export(org, &destination, opts)
                    .await
                    .map_err(|e| format!("`{destination}`: {e}")),
            );
        }
        Ok(out)
    }

    /// Runs, newest first.
    pub async fn runs(&self, org: &str, source: Option<&str>, limit: i64) -> AppResult<Vec<Run>> {
        Ok(self.engine.store().runs(org, source, limit).await?)
    }

    pub async fn run(&self, id: &str) -> AppResult<Run> {
        Ok(self.engine.store().run(id).await?)
    }

    /// A run's whole change set, in order.
    pub async fn changes(&self, id: &str) -> AppResult<Vec<ChangeRow>> {
        Ok(self
            .engine
            .store()
            .changes(id, None, None, 0, 100_000)
            .await?)
    }

    pub async fn approve(
        &self,
        id: &str,
        exclude: &[ActionRef],
    ) -> AppResult<(Run, CommitOutcome)> {
        let held = self.engine.store().run(id).await?;
        if held.mode == "export" {
            crate::pipeline::export::approve_whole(!exclude.is_empty())?;
            let opts = ExportOptions {
                trigger: held.trigger.clone(),
                by: std::env::var("USER").unwrap_or_else(|_| "cli".into()),
                approved: Some(held.id.clone()),
                ..Default::default()
            };
            let run = self
                .engine
                .export(&held.org_id, &held.source_id, opts)
                .await?;
            let applied = run.report.total(|c| c.add + c.update + c.delete);
            return Ok((
                run,
                CommitOutcome::Applied {
                    applied,
                    excluded: 0,
                },
            ));
        }
        Ok(self.engine.approve(id, exclude).await?)
    }

    pub async fn discard(&self, id: &str) -> AppResult<Run> {
        Ok(self.engine.discard(id).await?)
    }

    /// The open duplicate pairs.
    pub async fn duplicates(&self, org: &str) -> AppResult<Vec<Duplicate>> {
        Ok(self.engine.store().duplicates(org, true).await?)
    }

    pub async fn resolve(
        &self,
        org: &str,
        id: &str,
        swap: bool,
        copy: &[String],
        resolution: Resolution,
    ) -> AppResult<Duplicate> {
        Ok(self
            .engine
            .store()
            .resolve_duplicate(org, id, swap, copy, resolution, "cli")
            .await?)
    }

    /// Runs waiting for a worker and running, with their worker.
    pub async fn jobs(&self, org: &str) -> AppResult<Vec<LiveRun>> {
        Ok(self.engine.store().live_runs(Some(org)).await?)
    }

    /// Change a source's schedule (`change` gets the one it has) and save
    /// it; the schedule saved, and when it next runs in the organization's
    /// time zone.
    pub async fn set_schedule(
        &self,
        org: &str,
        source: &str,
        change: impl FnOnce(Option<Schedule>) -> Option<Schedule>,
    ) -> AppResult<(Option<Schedule>, Option<String>)> {
        let store = self.engine.store();
        let mut row = store.source(org, source).await?;
        let before = row.config.schedule.clone();
        row.config.schedule = change(before.clone());
        if row.config.schedule != before {
            if let Some(s) = &row.config.schedule {
                s.check()?;
            }
            row.config
                .validate()
                .map_err(crate::pipeline::EngineError::from)?;
            store.upsert_source(org, &row.config).await?;
            store
                .audit(
                    org,
                    "operator",
                    "homeroom schedule",
                    "source.schedule",
                    source,
                    &serde_json::to_value(&row.config.schedule).unwrap_or_default(),
                )
                .await?;
        }
        let tz = OrgSettings::parse(&store.org_settings(org).await?).tz();
        let next = row
            .config
            .schedule
            .as_ref()
            .and_then(|s| s.next_run_text(tz, chrono::Utc::now()));
        Ok((row.config.schedule, next))
    }

    /// The organization's notifications, newest first.
    pub async fn notifications(&self, org: &str) -> AppResult<Vec<Notification>> {
        Ok(self.engine.store().notifications(org, 50).await?)
    }
}
