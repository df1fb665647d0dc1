//! The flow of one import run (DESIGN.md): read pages from the connector,
//! stage them, run the per-record stages and the district's rule components,
//! reconcile into a change set, hold or commit; and what ends a waiting
//! run, approval or discard. `Engine` is what the application layer
//! (`crate::app`) calls. This module orchestrates; SQL lives in `store`,
//! plugin execution in `runtime`, the merge and identity logic in
//! `reconcile`, and the checks of a caller's role in `app`.

mod error;
pub mod export;
pub mod lease;
mod rules;
pub mod stages;
mod unchanged;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::bindings::types::EntityKind;
use crate::capabilities::drops::DropRoot;
use crate::capabilities::http::{ConnectionClient, HttpLimits};
use crate::capabilities::log::{Origin, ProgressSink};
use crate::config::{Approval, SourceConfig, SyncMode};
use crate::gallery::grant::grant;
use crate::gallery::manifest::Direction;
use crate::gallery::{Gallery, Package};
use crate::model::change::Action;
use crate::model::record::{self, Record};
use crate::model::report::RunReport;
use crate::reconcile::Reconciler;
use crate::reconcile::merge::Masters;
use crate::runtime::{
    ConnectorFactory, ConnectorSession, PageReader, Runtime, SessionOptions, WaitSink,
};
use crate::secret::Secret;
use crate::store::sync::{CommitHints, CommitOutcome, KeyDomain};
use crate::store::{DbKeyValue, Run, RunStatus, Store};
pub use error::{EngineError, ReadFailure, RunError};
use stages::{Outcome, Stages};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Everything the source has; in bulk mode absence means delete.
    Full,
    /// Only what changed since the last committed run.
    Quick,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Quick => "quick",
        }
    }
}

pub struct ImportOptions {
    pub mode: Mode,
    /// `manual`, `schedule` or `api`.
    pub trigger: String,
    /// Who started it (a user, or the schedule).
    pub by: String,
    /// Commit without approval (unless a hold threshold is passed); none: the source's setting.
    pub auto_commit: Option<bool>,
    /// Told `(done, Some(total))` by the connector, of what it reads now,
    /// when the source says its total; `(read, None)` by the engine, every
    /// record read so far.
    pub progress: Option<ProgressSink>,
    /// Told why the run waits for a plugin slot (another organization's
    /// runs hold them all), and when it goes on.
    pub waiting: Option<WaitSink>,
    /// Told the run's id as soon as the run exists, so a caller (the API)
    /// can answer with it while the import goes on.
    pub on_started: Option<tokio::sync::oneshot::Sender<String>>,
    /// Secret values the caller resolved (the API keeps them encrypted);
    /// none: read from the environment variables the configuration names.
    pub secrets: Option<BTreeMap<String, Secret>>,
    /// A queued run this engine's holder claimed (a worker's job): the
    /// import runs under it. None: the import makes its run.
    pub run: Option<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            mode: Mode::Full,
            trigger: "manual".into(),
            by: "cli".into(),
            auto_commit: None,
            progress: None,
            waiting: None,
            on_started: None,
            secrets: None,
            run: None,
        }
    }
}

/// The import engine: everything a run needs, shared by the CLI, the API and
/// the scheduler.
#[derive(Clone)]
pub struct Engine {
    store: Store,
    pub runtime: Arc<Runtime>,
    pub gallery: Arc<Gallery>,
    pub http_limits: HttpLimits,
    /// Pages of one read in flight at once, each on its own connector
    /// instance, when the connector lists pages ahead (a OneRoster server
    /// that says its total). 1 reads one page after another.
    pub read_concurrency: usize,
    /// Where file sources may read (none: wherever their folder says).
    drops: Option<DropRoot>,
    /// Who holds the leases of the runs this engine runs.
    pub holder: lease::Holder,
}

/// Pages in flight by default: enough to hide a SIS's latency per page,
/// few enough not to crowd it.
pub const READ_CONCURRENCY: usize = 4;

/// One action of a change set an admin may leave out of an approval:
/// `12` (its number), `delete:ID` or `user:delete:ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionRef {
    Seq(i64),
    Record {
        kind: Option<String>,
        action: Action,
        record: String,
    },
}

impl std::str::FromStr for ActionRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(n) = s.parse() {
            return Ok(ActionRef::Seq(n));
        }
        let parts: Vec<&str> = s.splitn(3, ':').collect();
        let (kind, action, record) = match parts.as_slice() {
            [action, record] => (None, *action, *record),
            [kind, action, record] => (Some(kind.to_string()), *action, *record),
            _ => (None, "", ""),
        };
        match Action::parse(action) {
            Some(action) => Ok(ActionRef::Record {
                kind,
                action,
                record: record.to_string(),
            }),
            None => Err(format!(
                "`{s}` names no action: use its number, ACTION:RECORD_ID or KIND:ACTION:RECORD_ID (action is add, update or delete)"
            )),
        }
    }
}

/// Resolve a source's secrets from the environment variables its configuration names.
pub fn secrets_from_env(config: &SourceConfig) -> Result<BTreeMap<String, Secret>, EngineError> {
    let mut out = BTreeMap::new();
    for (name, var) in &config.secrets {
        let value = std::env::var(var).map_err(|_| {
            EngineError::Setup(format!(
                "source `{}`: the secret `{name}` is read from the environment variable {var}, which is not set",
                config.id
            ))
        })?;
        out.insert(name.clone(), Secret::new(value));
    }
    Ok(out)
}

impl Engine {
    pub fn new(store: Store, runtime: Arc<Runtime>, gallery: Arc<Gallery>) -> Engine {
        Engine {
            store,
            runtime,
            gallery,
            http_limits: HttpLimits::default(),
            read_concurrency: READ_CONCURRENCY,
            drops: None,
            holder: lease::Holder::this_process("host"),
        }
    }

    /// The runs this engine runs are leased by `holder`.
    pub fn with_holder(mut self, holder: lease::Holder) -> Engine {
        self.holder = holder;
        self
    }

    /// Make (or take up) a run's id, lease it to this engine's holder, and
    /// keep the lease renewed with the run's progress while it lives.
    async fn lease_run(
        &self,
        run_id: &str,
        progress: &mut Option<ProgressSink>,
    ) -> Result<lease::Lease, EngineError> {
        self.store
            .take_lease(
                run_id,
                &self.holder.id,
                &crate::store::jobs::after(self.holder.secs),
            )
            .await?;
        let cell: lease::ProgressCell = Default::default();
        let seen = cell.clone();
        let inner = progress.take();
        *progress = Some(Arc::new(move |done, total| {
            if let Ok(mut p) = seen.lock() {
                // The source's count of what it reads now, with its total,
                // stands over the host's count without one.
                if total.is_some() || p.is_none_or(|(_, t)| t.is_none()) {
                    *p = Some((done, total));
                }
            }
            if let Some(inner) = &inner {
                inner(done, total);
            }
        }));
        Ok(lease::Lease::keep(&self.store, run_id, &self.holder, cell))
    }

    /// File sources read only below `root`, each organization in a folder
    /// of its own (`capabilities::drops`). Without one (the operator's own
    /// command line), a file source reads the folder its configuration names.
    pub fn with_drop_root(mut self, root: DropRoot) -> Engine {
        self.drops = Some(root);
        self
    }

    pub fn drop_root(&self) -> Option<&DropRoot> {
        self.drops.as_ref()
    }

    /// The folder a file source reads, inside its organization's drop
    /// folder when there is a drop root.
    fn drop_folder(
        &self,
        org_id: &str,
        config: &SourceConfig,
        folder: &str,
        must_exist: bool,
    ) -> Result<std::path::PathBuf, EngineError> {
        match &self.drops {
            None => Ok(std::path::PathBuf::from(folder)),
            Some(drops) => {
                drops
                    .folder(org_id, folder, must_exist)
                    .map_err(|error| EngineError::Drop {
                        source_id: config.id.clone(),
                        error,
                    })
            }
        }
    }

    /// The engine over the database `db_url` names (migrated on open), with
    /// the runtime's default limits.
    pub async fn open(db_url: &str, gallery: Gallery) -> Result<Engine, EngineError> {
        let store = Store::open(db_url).await?;
        let runtime = Runtime::new(crate::runtime::Limits::default())
            .map_err(|e| EngineError::Setup(format!("the plugin runtime cannot start: {e:#}")))?;
        Ok(Engine::new(store, runtime, Arc::new(gallery)))
    }

    /// The engine's database. The application layer (`crate::app`) and the
    /// test suite use it; no face does.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Apply a district's configuration file: the organization and every
    /// source in it, each checked against its plugin's manifest first.
    pub async fn apply_config(
        &self,
        config: &crate::config::DistrictConfig,
    ) -> Result<(), EngineError> {
        for source in &config.sources {
            source.validate()?;
            let (package, _) = self.package_for(source)?;
            for name in source.settings.keys().chain(source.secrets.keys()) {
                if package.manifest.setting(name).is_none() && name != "auth" {
                    return Err(EngineError::Setup(format!(
                        "source `{}`: plugin `{}` has no setting `{name}`",
                        source.id, package.manifest.id
                    )));
                }
            }
            for (name, value) in &source.settings {
                if let Some(spec) = package.manifest.setting(name)
                    && !spec.secret
                    && !value.trim().is_empty()
                {
                    // Said by the setting's label, as the form shows it.
                    crate::gallery::grant::check_value(&package.manifest.id, spec, value).map_err(
                        |e| match e {
                            crate::gallery::grant::GrantError::InvalidSetting { why, .. } => {
                                EngineError::Setup(format!(
                                    "{}: “{}” is not accepted: {why}",
                                    spec.label,
                                    value.trim()
                                ))
                            }
                            other => EngineError::Setup(format!("source `{}`: {other}", source.id)),
                        },
                    )?;
                }
            }
            for name in source.settings.keys() {
                if package.manifest.is_secret(name) {
                    return Err(EngineError::Setup(format!(
                        "source `{}`: `{name}` is a secret; put the name of the environment variable that holds it under `secrets`, never the value",
                        source.id
                    )));
                }
            }
            for rule in &source.rules {
                self.gallery
                    .get(&rule.plugin)
                    .map_err(|e| EngineError::Setup(format!("source `{}`: {e}", source.id)))?;
            }
            if let (true, Some(folder)) = (package.manifest.files, &source.folder) {
                self.drop_folder(&config.organization.id, source, folder, false)?;
            }
        }
        let org = &config.organization;
        if let Some(tz) = &org.time_zone {
            crate::config::OrgSettings::check_time_zone(tz)
                .map_err(|e| EngineError::Setup(format!("organization `{}`: {e}", org.id)))?;
        }
        if let Some(n) = &org.notifications {
            n.check()
                .map_err(|e| EngineError::Setup(format!("organization `{}`: {e}", org.id)))?;
        }
        self.store.upsert_organization(&org.id, &org.name).await?;
        if org.time_zone.is_some() || org.notifications.is_some() {
            let mut settings =
                crate::config::OrgSettings::parse(&self.store.org_settings(&org.id).await?);
            if let Some(tz) = &org.time_zone {
                settings.time_zone = Some(tz.clone());
            }
            if let Some(n) = &org.notifications {
                settings.notifications = n.clone();
            }
            let json = serde_json::to_string(&settings)
                .map_err(|e| EngineError::Setup(format!("organization settings: {e}")))?;
            self.store.set_org_settings(&org.id, &json).await?;
        }
        for source in &config.sources {
            self.store
                .upsert_source(&config.organization.id, source)
                .await?;
        }
        Ok(())
    }

    /// The organization's configuration as a file `apply_config` takes back.
    pub async fn export_config(
        &self,
        org_id: &str,
    ) -> Result<crate::config::DistrictConfig, EngineError> {
        let (_, name) = self
            .store
            .organizations()
            .await?
            .into_iter()
            .find(|(id, _)| id == org_id)
            .ok_or_else(|| EngineError::Setup(format!("no organization `{org_id}`")))?;
        let sources = self
            .store
            .sources(org_id)
            .await?
            .into_iter()
            .map(|s| s.config)
            .collect();
        let settings = crate::config::OrgSettings::parse(&self.store.org_settings(org_id).await?);
        let notifications = settings.notifications;
        Ok(crate::config::DistrictConfig {
            organization: crate::config::Organization {
                id: org_id.to_string(),
                name,
                time_zone: settings.time_zone,
                notifications: (notifications != Default::default()).then_some(notifications),
            },
            sources,
            vendors: Vec::new(),
        })
    }

    pub fn package_for(
        &self,
        config: &SourceConfig,
    ) -> Result<(Arc<Package>, BTreeMap<String, String>), EngineError> {
        let package = self.gallery.get(&config.plugin)?.clone();
        let settings = package.settings_for(&config.plugin, &config.settings);
        Ok((package, settings))
    }

    /// Start a connector session for a configured source.
    pub async fn connect(
        &self,
        org_id: &str,
        config: &SourceConfig,
        secrets: &BTreeMap<String, Secret>,
        progress: Option<ProgressSink>,
    ) -> Result<(ConnectorSession, Arc<Package>), EngineError> {
        let (session, package, _) = self
            .connect_reader(org_id, config, secrets, progress, None)
            .await?;
        Ok((session, package))
    }

    /// Start a connector session, and a factory of more instances like it
    /// for the pages a read lists ahead.
    async fn connect_reader(
        &self,
        org_id: &str,
        config: &SourceConfig,
        secrets: &BTreeMap<String, Secret>,
        progress: Option<ProgressSink>,
        waiting: Option<WaitSink>,
    ) -> Result<(ConnectorSession, Arc<Package>, ConnectorFactory), EngineError> {
        let (package, settings) = self.package_for(config)?;
        let granted = grant(
            &package.manifest,
            &settings,
            secrets,
            self.http_limits.clone(),
        )?;
        let http = match granted.connection {
            Some(c) => Some(Arc::new(ConnectionClient::new(c)?)),
            None => None,
        };
        let loaded = self.runtime.load(&package)?;
        let drop_dir = if package.manifest.files {
            let folder = config.folder.as_deref().ok_or_else(|| {
                EngineError::Setup(format!(
                    "source `{}` reads files: set its folder",
                    config.id
                ))
            })?;
            Some(self.drop_folder(org_id, config, folder, true)?)
        } else {
            None
        };
        let options = SessionOptions {
            settings: granted.settings,
            http,
            storage: Some(Arc::new(DbKeyValue::new(
                self.store.clone(),
                org_id,
                &config.id,
            ))),
            drop_dir,
            progress,
            owner: Some(org_id.to_string()),
            waiting,
        };
        let factory = ConnectorFactory::new(self.runtime.clone(), loaded.clone(), options.clone());
        let session = ConnectorSession::start(&self.runtime, loaded, options).await?;
        Ok((session, package, factory))
    }

    /// Names and identifiers of the schools the district already has.
    async fn known_schools(&self, org_id: &str) -> Result<Vec<String>, EngineError> {
        let orgs = self.store.entities(org_id, "org", None, 0, 100_000).await?;
        let mut out = Vec::new();
        for o in orgs {
            let v = |a: &str| {
                o.data
                    .get(a)
                    .and_then(|c| c.get("v"))
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            if v("type").as_deref() == Some("school") {
                out.extend(v("name"));
                out.extend(v("identifier"));
            }
        }
        Ok(out)
    }

    /// The schools a source's records are mapped against: the district's,
    /// when its schools are mapped automatically.
    async fn schools_to_map(
        &self,
        org_id: &str,
        config: &SourceConfig,
    ) -> Result<Option<Vec<String>>, EngineError> {
        Ok(match config.schools.mode {
            crate::config::SchoolsMode::Auto => Some(self.known_schools(org_id).await?),
            _ => None,
        })
    }

    /// Master fields of the organization: (kind, attribute) → source.
    async fn masters(&self, org_id: &str) -> Result<Masters, EngineError> {
        let mut masters = Masters::new();
        for s in self.store.sources(org_id).await? {
            for m in &s.config.master_fields {
                masters.insert(
                    (
                        crate::model::kinds::entity_kind_of(&m.kind).to_string(),
                        m.attribute.clone(),
                    ),
                    m.source.clone(),
                );
            }
        }
        Ok(masters)
    }

    /// Every domain of uniqueness any source of the organization uses, so an
    /// entity can be found from any of them.
    async fn key_domains(&self, org_id: &str) -> Result<Vec<KeyDomain>, EngineError> {
        let mut out: Vec<KeyDomain> = Vec::new();
        for s in self.store.sources(org_id).await? {
            for kind in EntityKind::ALL {
                for d in s.config.domains_for(kind.cli_name()) {
                    let name = d.attributes.join("+");
                    if !out.iter().any(|k| k.kind == kind && k.name == name) {
                        out.push(KeyDomain {
                            kind,
                            name,
                            attributes: d.attributes,
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// Run an import of one configured source.
    pub async fn import(
        &self,
        org_id: &str,
        source_id: &str,
        mut opts: ImportOptions,
    ) -> Result<Run, EngineError> {
        let source = self.store.source(org_id, source_id).await?;
        let config = source.config;
        if !source.enabled {
            return Err(EngineError::Refused(format!(
                "source `{source_id}` is disabled; enable it first"
            )));
        }
        if !config.sync_mode.imports() {
            return Err(EngineError::Refused(format!(
                "`{source_id}` is an export: nothing is read from it. Export to it (homeroom export {source_id}), or set its sync mode to sync to read back what it owns"
            )));
        }
        let since = match opts.mode {
            Mode::Full => None,
            Mode::Quick => self.store.last_committed_start(org_id, source_id).await?,
        };
        let run_id = match opts.run.take() {
            Some(claimed) => {
                self.store.set_since(&claimed, since.as_deref()).await?;
                claimed
            }
            None => {
                self.store
                    .create_run(
                        org_id,
                        source_id,
                        opts.mode.as_str(),
                        &opts.trigger,
                        &opts.by,
                        since.as_deref(),
                    )
                    .await?
            }
        };
        let mut lease = self.lease_run(&run_id, &mut opts.progress).await?;
        if let Some(tx) = opts.on_started.take() {
            let _ = tx.send(run_id.clone());
        }
        let mut report = RunReport::default();
        let outcome = tokio::select! {
            outcome = self.run_stages(
                org_id,
                &config,
                &run_id,
                since.as_deref(),
                &opts,
                &mut report,
            ) => outcome,
            _ = lease.lost() => Err(RunError::Abandoned),
        };
        if let Err(RunError::Abandoned) = outcome {
            // Its successor reads the source again; this one is the reaper's.
            tracing::warn!(run = %run_id, "the run's lease ran out while it read; stopped");
            return Ok(self.store.run(&run_id).await?);
        }
        if let Err(failure) = outcome {
            return self.fail(&run_id, report, failure.report_text()).await;
        }
        // Hold?
        let approval = match config.advanced.approval {
            Some(choice) => choice,
            // The older pair, with the caller's say on auto-commit.
            None => {
                let auto = opts.auto_commit.unwrap_or(config.advanced.auto_commit);
                if config.advanced.preview || !auto {
                    Approval::Review
                } else {
                    Approval::Threshold
                }
            }
        };
        let hold = match approval {
            Approval::Always => None,
            _ => hold_reason(&config, &report),
        };
        // A first run that changes nothing has nothing to review.
        let first = config.advanced.review_first
            && approval != Approval::Review
            && report.changes() > 0
            && self
                .store
                .last_committed_start(org_id, source_id)
                .await?
                .is_none();
        let (status, reason) = if let Some(reason) = &hold {
            report.hold = Some(reason.clone());
            (RunStatus::Held, hold.clone())
        } else if approval == Approval::Review {
            (RunStatus::AwaitingApproval, None)
        } else if first {
            (
                RunStatus::AwaitingApproval,
                Some("the first import of a new integration waits for review: approve it to commit it; later runs follow the approval setting".to_string()),
            )
        } else {
            (RunStatus::Running, None)
        };
        self.store
            .finish_run(&run_id, status, reason.as_deref(), &report)
            .await?;
        if status == RunStatus::Running {
            self.commit(org_id, &run_id, &mut report, 0).await?;
        }
        Ok(self.store.run(&run_id).await?)
    }

    /// End a run that failed: nothing of it is kept but its report.
    async fn fail(
        &self,
        run_id: &str,
        mut report: RunReport,
        failure: String,
    ) -> Result<Run, EngineError> {
        report.failure = Some(failure);
        self.store.clear_changes(run_id).await?;
        self.store
            .finish_run(run_id, RunStatus::Failed, None, &report)
            .await?;
        Ok(self.store.run(run_id).await?)
    }

    /// Records handed over whole (a vendor's gradebook writes through the
    /// provider API), kept as one run of `config`'s source and committed at
    /// once: the same stages, rules and reconcile as a read, without a
    /// connector, and never held (the writer waits for its answer). The
    /// source needs no configured row: `config` says how its records are
    /// kept. Its ids are the hub's ([`Reconciler::with_given_ids`]); the
    /// caller has checked that none is another entity's. The run's report
    /// says what became of each record.
    pub async fn write_given(
        &self,
        org_id: &str,
        config: &SourceConfig,
        kind: EntityKind,
        records: Vec<Record>,
        trigger: &str,
        by: &str,
    ) -> Result<Run, EngineError> {
        let run_id = self
            .store
            .create_run(org_id, &config.id, Mode::Quick.as_str(), trigger, by, None)
            .await?;
        let mut progress = None;
        let _lease = self.lease_run(&run_id, &mut progress).await?;
        let started = Instant::now();
        let mut report = RunReport::default();
        let outcome = self
            .stage_given(org_id, config, &run_id, kind, records, &mut report, started)
            .await;
        if let Err(failure) = outcome {
            return self.fail(&run_id, report, failure.report_text()).await;
        }
        self.store
            .finish_run(&run_id, RunStatus::Running, None, &report)
            .await?;
        if let Err(e) = self.commit(org_id, &run_id, &mut report, 0).await {
            // No worker reads a vendor's write again: the run ends here,
            // failed, and the writer is told.
            let failure = format!("the commit failed, nothing was kept: {e}");
            self.fail(&run_id, report, failure).await?;
            return Err(e);
        }
        Ok(self.store.run(&run_id).await?)
    }

    #[allow(clippy::too_many_arguments)]
    async fn stage_given(
        &self,
        org_id: &str,
        config: &SourceConfig,
        run_id: &str,
        kind: EntityKind,
        records: Vec<Record>,
        report: &mut RunReport,
        started: Instant,
    ) -> Result<(), RunError> {
        let (tx, pages) = tokio::sync::mpsc::channel(2);
        // Room for both: nothing waits on a reader.
        let _ = tx.try_send(Fetched::Page(records, (Vec::new(), 0)));
        let _ = tx.try_send(Fetched::KindDone);
        drop(tx);
        let reconciler = Reconciler::new(
            &self.store,
            org_id,
            config,
            run_id,
            self.masters(org_id).await?,
            self.key_domains(org_id).await?,
        )
        .for_delta()
        .with_given_ids();
        let mut run = ImportRun {
            stages: Stages::for_source(config, self.schools_to_map(org_id, config).await?),
            rules: rules::RuleChain::start(self, org_id, config).await?,
            refs: None,
            reconciler,
            pages,
            progress: None,
            bulk: false,
            keep_dangling: true,
            done: 0,
            timings: Timings::default(),
        };
        run.read_kind(kind, report).await?;
        run.finish(report, started).await?;
        Ok(())
    }

    /// Read, stage and reconcile every kind the connector imports into the
    /// run's change set. Nothing is committed here.
    async fn run_stages(
        &self,
        org_id: &str,
        config: &SourceConfig,
        run_id: &str,
        since: Option<&str>,
        opts: &ImportOptions,
        report: &mut RunReport,
    ) -> Result<(), RunError> {
        let started = Instant::now();
        let known_schools = self.schools_to_map(org_id, config).await?;
        let masters = self.masters(org_id).await?;
        let domains = self.key_domains(org_id).await?;
        let mut fingerprint = None;
        if since.is_none() {
            let hub = unchanged::Hub {
                known_schools: known_schools.as_deref(),
                masters: &masters,
                domains: &domains,
            };
            fingerprint = self.input_fingerprint(org_id, config, &hub).await?;
            if let Some(fp) = &fingerprint
                && let Some(last) = self.same_input(org_id, &config.id, &fp.digest).await?
            {
                *report = unchanged::unchanged_report(&last);
                report
                    .timings
                    .insert("total".into(), started.elapsed().as_secs_f64());
                return Ok(());
            }
            report.input = fingerprint.as_ref().map(|fp| fp.digest.clone());
        }
        let secrets = match &opts.secrets {
            Some(s) => s.clone(),
            None => secrets_from_env(config)?,
        };
        // Two counts reach the sink: the plugin's, of what it reads now, with
        // the total the source says (some); the engine's, of every record
        // read so far, without one (none). The sink keeps them apart.
        let (session, package, spares) = self
            .connect_reader(
                org_id,
                config,
                &secrets,
                opts.progress.clone(),
                opts.waiting.clone(),
            )
            .await?;
        let kinds = imported_kinds(&package, config, report);
        let mut reconciler = Reconciler::new(&self.store, org_id, config, run_id, masters, domains);
        if since.is_some() {
            reconciler = reconciler.for_delta();
        }
        let mut run = ImportRun {
            stages: Stages::for_source(config, known_schools),
            rules: rules::RuleChain::start(self, org_id, config).await?,
            // Orphan references are only knowable when the run sees everything.
            refs: since.is_none().then(RefCheck::default),
            reconciler,
            // The connector reads ahead on its own task (the other core)
            // while this one maps, reconciles and writes the page before.
            pages: read_ahead(
                session,
                (self.read_concurrency > 1).then_some((spares, self.read_concurrency)),
                kinds.clone(),
                since.map(str::to_string),
            ),
            progress: opts.progress.as_ref(),
            bulk: since.is_none() && config.advanced.bulk_upload,
            keep_dangling: config.advanced.keep_dangling_references,
            done: 0,
            timings: Timings::default(),
        };
        for kind in kinds {
            run.read_kind(kind, report).await?;
        }
        run.finish(report, started).await?;
        // Files changed while they were read (a drop still being written):
        // what was committed is not what the fingerprint says.
        if let Some(fp) = &fingerprint
            && !fp.files_unchanged().await
        {
            report.input = None;
        }
        check_error_share(config, report)
    }

    async fn commit(
        &self,
        org_id: &str,
        run_id: &str,
        report: &mut RunReport,
        excluded: u64,
    ) -> Result<CommitOutcome, EngineError> {
        let run = self.store.run(run_id).await?;
        let started = Instant::now();
        if excluded > 0 {
            // The hub will not hold what this input says: the next run of
            // the same input reads it again.
            report.input = None;
        }
        let mut steps = Vec::new();
        let hints = CommitHints {
            deletes: report.total(|c| c.delete) > 0,
            duplicates: report.duplicates > 0,
            excluded,
        };
        let outcome = self
            .store
            .commit_run(org_id, &run.source_id, run_id, hints, &mut steps)
            .await?;
        report
            .timings
            .insert("commit".into(), started.elapsed().as_secs_f64());
        for (step, seconds) in steps {
            report.timings.insert(format!("commit.{step}"), seconds);
        }
        self.store.save_report(run_id, report).await?;
        Ok(outcome)
    }

    /// Approve a waiting run, leaving out the actions named in `exclude`.
    pub async fn approve(
        &self,
        run_id: &str,
        exclude: &[ActionRef],
    ) -> Result<(Run, CommitOutcome), EngineError> {
        let run = self.store.run(run_id).await?;
        if run.status == RunStatus::Committed {
            return Ok((run, CommitOutcome::AlreadyCommitted));
        }
        if !run.status.is_waiting() {
            return Err(EngineError::Refused(format!(
                "run {run_id} is {}; only a held run or one awaiting approval can be approved",
                run.status.as_str()
            )));
        }
        let mut seqs = Vec::new();
        for x in exclude {
            match x {
                ActionRef::Seq(n) => seqs.push(*n),
                ActionRef::Record {
                    kind,
                    action,
                    record,
                } => {
                    let found = self
                        .store
                        .find_change_seqs(run_id, kind.as_deref(), *action, record)
                        .await?;
                    if found.is_empty() {
                        return Err(EngineError::Refused(format!(
                            "run {run_id} has no {} of `{record}`; `homeroom run {run_id} --actions` lists its actions",
                            action.as_str()
                        )));
                    }
                    seqs.extend(found);
                }
            }
        }
        let matched = self.store.exclude_changes(run_id, &seqs).await?;
        if matched as usize != seqs.len() {
            return Err(EngineError::Refused(format!(
                "{} of the excluded action numbers are not actions of run {run_id}",
                seqs.len() - matched as usize
            )));
        }
        let mut report = run.report.clone();
        let outcome = self
            .commit(&run.org_id, run_id, &mut report, matched)
            .await?;
        Ok((self.store.run(run_id).await?, outcome))
    }

    pub async fn discard(&self, run_id: &str) -> Result<Run, EngineError> {
        if !self.store.discard_run(run_id).await? {
            let run = self.store.run(run_id).await?;
            return Err(EngineError::Refused(format!(
                "run {run_id} is {}; only a waiting run can be discarded",
                run.status.as_str()
            )));
        }
        Ok(self.store.run(run_id).await?)
    }
}

/// The kinds a run reads, in the order they are read (parents first): those
/// the connector imports, narrowed to the source's items to sync. An item
/// the connector does not import is a warning.
fn imported_kinds(
    package: &Package,
    config: &SourceConfig,
    report: &mut RunReport,
) -> Vec<EntityKind> {
    let imports = |k: &EntityKind| goes(package, *k, Direction::Import);
    let chosen = &config.advanced.kinds;
    for name in chosen {
        if let Ok(kind) = EntityKind::from_cli(name)
            && !imports(&kind)
        {
            report.warn(
                kind,
                "",
                format!(
                    "`{name}` is in the source's items to sync, but the connector `{}` does not import it",
                    package.manifest.id
                ),
            );
        }
    }
    let mut kinds = kinds_going(package, Direction::Import, chosen);
    if config.sync_mode == SyncMode::Sync {
        // Two-way: each kind has one master. What goes to the integration
        // is not read back from it (it would come back as new records).
        let exported = export::exported_kinds(package, config);
        for kind in kinds.iter().filter(|k| exported.contains(k)) {
            if chosen.iter().any(|c| c == kind.cli_name()) {
                report.warn(
                    *kind,
                    "",
                    format!(
                        "`{}` is in both the items to sync and the export kinds of this two-way integration; it is exported, not read back. Leave it out of one of them",
                        kind.cli_name()
                    ),
                );
            }
        }
        kinds.retain(|k| !exported.contains(k));
    }
    kinds
}

/// Whether the package's connector takes `kind` in `direction`.
fn goes(package: &Package, kind: EntityKind, direction: Direction) -> bool {
    package
        .manifest
        .entities
        .iter()
        .any(|e| e.kind == kind.cli_name() && e.directions.contains(&direction))
}

/// The kinds the connector takes in `direction`, parents first (the order
/// of `EntityKind::ALL`), narrowed to `chosen` unless it is empty.
pub(crate) fn kinds_going(
    package: &Package,
    direction: Direction,
    chosen: &[String],
) -> Vec<EntityKind> {
    EntityKind::ALL
        .into_iter()
        .filter(|k| goes(package, *k, direction))
        .filter(|k| chosen.is_empty() || chosen.iter().any(|c| c == k.cli_name()))
        .collect()
}

/// Past the share of failed records a source allows, the run fails.
fn check_error_share(config: &SourceConfig, report: &RunReport) -> Result<(), RunError> {
    let read = report.total(|c| c.read);
    let share = if read == 0 {
        0.0
    } else {
        report.errors_total as f64 / read as f64
    };
    if report.errors_total > 0 && share > config.advanced.max_error_share {
        return Err(RunError::TooManyErrors {
            errors: report.errors_total,
            read,
            share,
            allowed: config.advanced.max_error_share,
        });
    }
    Ok(())
}

/// Seconds spent in each part of a run, for its report.
#[derive(Default)]
struct Timings {
    /// Waiting for the connector's next page.
    read: f64,
    /// Stages and rules.
    map: f64,
    /// Reading what the source said last time, per kind.
    links: f64,
    reconcile: f64,
}

/// An import run while it reads: each page goes through the stages, the
/// rules, the orphan check and reconcile, in that order.
struct ImportRun<'a> {
    stages: Stages,
    rules: rules::RuleChain,
    refs: Option<RefCheck>,
    reconciler: Reconciler<'a>,
    pages: tokio::sync::mpsc::Receiver<Fetched>,
    progress: Option<&'a ProgressSink>,
    /// Absence means delete (a full run of a bulk source).
    bulk: bool,
    /// Import records whose required reference points at nothing.
    keep_dangling: bool,
    /// Records read so far.
    done: u64,
    timings: Timings,
}

impl ImportRun<'_> {
    /// Every page of one kind, then what the kind's end decides (deletes by
    /// absence, same-kind references).
    async fn read_kind(
        &mut self,
        kind: EntityKind,
        report: &mut RunReport,
    ) -> Result<(), RunError> {
        if let Some(refs) = self.refs.as_mut() {
            refs.finish_kind(report);
        }
        let clock = Instant::now();
        self.reconciler.begin_kind(kind, report).await?;
        self.timings.links += clock.elapsed().as_secs_f64();
        let mut offered = true;
        loop {
            let clock = Instant::now();
            let fetched = self.pages.recv().await;
            self.timings.read += clock.elapsed().as_secs_f64();
            match fetched {
                Some(Fetched::Page(records, (warnings, more))) => {
                    for w in warnings {
                        let text = match w.origin {
                            Origin::Plugin => format!("the connector says: {}", w.text),
                            Origin::Host => format!("about the connector: {}", w.text),
                        };
                        report.warn(kind, "", text);
                    }
                    report.warnings_total += more;
                    self.page(kind, records, report).await?
                }
                Some(Fetched::KindDone) => break,
                Some(Fetched::NotOffered(why)) => {
                    report.not_offered(kind, why);
                    offered = false;
                    break;
                }
                Some(Fetched::Failed(e)) => return Err(RunError::Read(e)),
                None => return Err(RunError::Read(ReadFailure::Stopped)),
            }
        }
        if let (true, Some(refs)) = (offered, self.refs.as_mut()) {
            refs.read_whole(kind);
        }
        let clock = Instant::now();
        // What a source does not offer is not absent: nothing is deleted.
        self.reconciler
            .end_kind(self.bulk && offered, report)
            .await?;
        self.timings.reconcile += clock.elapsed().as_secs_f64();
        Ok(())
    }

    /// One page: map, transform, check, filter, then reconcile what is kept.
    async fn page(
        &mut self,
        kind: EntityKind,
        records: Vec<Record>,
        report: &mut RunReport,
    ) -> Result<(), RunError> {
        let clock = Instant::now();
        report.kind(kind).read += records.len() as u64;
        self.done += records.len() as u64;
        if let Some(progress) = self.progress {
            progress(self.done, None);
        }
        let mapped = self.map(kind, records, report);
        let mapped = self
            .rules
            .transform(mapped, report)
            .await
            .map_err(RunError::Rule)?;
        let checked = self.check(kind, mapped, report);
        let kept = self
            .rules
            .filter(checked, report)
            .await
            .map_err(RunError::Rule)?;
        let kept = match self.refs.as_mut() {
            Some(refs) => refs.check(kept, self.keep_dangling, report),
            None => kept,
        };
        self.timings.map += clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        self.reconciler.page(kept, report).await?;
        self.timings.reconcile += clock.elapsed().as_secs_f64();
        Ok(())
    }

    /// The stages before the rules: prefix, schools, attribute mapping.
    fn map(
        &mut self,
        kind: EntityKind,
        records: Vec<Record>,
        report: &mut RunReport,
    ) -> Vec<Record> {
        let mut mapped = Vec::with_capacity(records.len());
        for mut r in records {
            match self.stages.map(&mut r) {
                Outcome::Keep => mapped.push(r),
                Outcome::Skip(why) => report.skip(kind, &r.source_id, why),
                Outcome::Error(why) => report.error(kind, &r.source_id, why),
            }
        }
        mapped
    }

    /// The stages after the transforms: requirements and built-in filters.
    fn check(&self, kind: EntityKind, records: Vec<Record>, report: &mut RunReport) -> Vec<Record> {
        let mut checked = Vec::with_capacity(records.len());
        for r in records {
            let mut warnings = Vec::new();
            match self.stages.check(&r, &mut warnings) {
                Outcome::Keep => {
                    for w in warnings {
                        report.warn(kind, &r.source_id, w);
                    }
                    checked.push(r);
                }
                Outcome::Skip(why) => report.skip(kind, &r.source_id, why),
                Outcome::Error(why) => report.error(kind, &r.source_id, why),
            }
        }
        checked
    }

    /// The last kind's references, the change set's last rows, the timings.
    async fn finish(mut self, report: &mut RunReport, started: Instant) -> Result<(), RunError> {
        if let Some(refs) = self.refs.as_mut() {
            refs.finish_kind(report);
        }
        report.schools = self.stages.schools_mapped();
        let clock = Instant::now();
        self.reconciler.finish().await?;
        self.timings.reconcile += clock.elapsed().as_secs_f64();
        let t = &self.timings;
        for (name, seconds) in [
            ("read", t.read),
            ("map", t.map),
            ("links", t.links),
            ("reconcile", t.reconcile),
            ("total", started.elapsed().as_secs_f64()),
        ] {
            report.timings.insert(name.into(), seconds);
        }
        Ok(())
    }
}

/// What a connector warned of while it read a page (a date it could not
/// read, a misspelled column), and how many more warnings it gave past those.
type Warned = (Vec<crate::capabilities::log::Warning>, u64);

/// What the connector's reader task hands over, in order.
enum Fetched {
    /// A page, already in the host's working form, and what the connector
    /// warned of while reading it.
    Page(Vec<Record>, Warned),
    /// The current kind has no more pages.
    KindDone,
    /// The source does not offer the current kind (the plugin's words why).
    NotOffered(String),
    Failed(ReadFailure),
}

/// Read every page of `kinds`, in order, on a task of its own, turning each
/// into records there too; at most two pages wait, so memory stays bounded
/// by the page size. Pages a connector lists ahead are read `width` at a
/// time, on as many instances (each on its own task, so on any core), and
/// still handed on in order.
fn read_ahead(
    session: ConnectorSession,
    spares: Option<(ConnectorFactory, usize)>,
    kinds: Vec<EntityKind>,
    since: Option<String>,
) -> tokio::sync::mpsc::Receiver<Fetched> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tokio::spawn(async move {
        // The instances not reading now; any of them reads the next page.
        let mut idle: Vec<ConnectorSession> = vec![session];
        'kinds: for kind in kinds {
            let mut reader = PageReader::new(kind, since.as_deref());
            let mut first = true;
            loop {
                let Some(mut session) = idle.pop() else {
                    let _ = tx.send(Fetched::Failed(ReadFailure::NoInstance)).await;
                    return;
                };
                let read = session.next_page(&mut reader).await;
                let warned = session.take_warnings();
                idle.push(session);
                let fetched = match read {
                    Ok(Some(page)) => Fetched::Page(
                        page.entities.into_iter().map(Record::from_entity).collect(),
                        warned,
                    ),
                    Ok(None) => break,
                    // The source does not offer the kind at all (a provider of
                    // the rostering service only, say): the run goes on without it.
                    Err(e) if first && e.failure.unsupported().is_some() => {
                        let why = e.failure.unsupported().unwrap_or_default().to_string();
                        if tx.send(Fetched::NotOffered(why)).await.is_err() {
                            return;
                        }
                        continue 'kinds;
                    }
                    Err(e) => Fetched::Failed(e.into()),
                };
                first = false;
                let failed = matches!(fetched, Fetched::Failed(_));
                // The pipeline stopped listening (it failed): stop reading.
                if tx.send(fetched).await.is_err() || failed {
                    return;
                }
                if let Some((factory, width)) = &spares {
                    let ahead = reader.take_ahead();
                    if !ahead.is_empty() {
                        let read = AheadRead {
                            factory,
                            width: *width,
                            kind,
                            since: since.as_deref(),
                        };
                        if let Err(stop) = read.run(ahead, &mut idle, &tx).await {
                            if let Some(e) = stop {
                                let _ = tx.send(Fetched::Failed(e)).await;
                            }
                            return;
                        }
                        // The extra instances go back to the slots between
                        // batches: another organization's run may need one.
                        idle.truncate(1);
                    }
                }
            }
            if tx.send(Fetched::KindDone).await.is_err() {
                return;
            }
        }
    });
    rx
}

/// The pages one page listed ahead, read at once.
struct AheadRead<'a> {
    factory: &'a ConnectorFactory,
    width: usize,
    kind: EntityKind,
    since: Option<&'a str>,
}

type AheadPage = (
    ConnectorSession,
    Result<(Vec<Record>, Warned), crate::runtime::PluginCallError>,
);

impl AheadRead<'_> {
    /// Hand on every page of `cursors` in order; `Err(Some(why))` when a
    /// read failed, `Err(None)` when the pipeline stopped listening.
    async fn run(
        &self,
        cursors: Vec<String>,
        idle: &mut Vec<ConnectorSession>,
        tx: &tokio::sync::mpsc::Sender<Fetched>,
    ) -> Result<(), Option<ReadFailure>> {
        let mut cursors = cursors.into_iter().peekable();
        let mut inflight: std::collections::VecDeque<tokio::task::JoinHandle<AheadPage>> =
            Default::default();
        let stop =
            |inflight: &mut std::collections::VecDeque<tokio::task::JoinHandle<AheadPage>>| {
                for h in inflight.drain(..) {
                    h.abort();
                }
            };
        loop {
            while inflight.len() < self.width && cursors.peek().is_some() {
                // An instance more only while a slot is free and no other
                // run waits: otherwise the pages go at the pace of those held.
                // (With none in flight, the run's own instance is idle.)
                let mut session = match idle.pop() {
                    Some(s) => s,
                    None => match self.factory.try_start().await {
                        Some(Ok(s)) => s,
                        Some(Err(e)) => {
                            stop(&mut inflight);
                            return Err(Some(e.into()));
                        }
                        None => break,
                    },
                };
                let Some(cursor) = cursors.next() else {
                    idle.push(session);
                    break;
                };
                let (kind, since) = (self.kind, self.since.map(str::to_string));
                inflight.push_back(tokio::spawn(async move {
                    let page = session
                        .read_page(kind, since.as_deref(), Some(&cursor))
                        .await
                        .map(|p| p.entities.into_iter().map(Record::from_entity).collect());
                    let warned = session.take_warnings();
                    (session, page.map(|records| (records, warned)))
                }));
            }
            let Some(first) = inflight.pop_front() else {
                return Ok(());
            };
            let (session, page) = match first.await {
                Ok(done) => done,
                Err(e) => {
                    stop(&mut inflight);
                    return Err(Some(e.into()));
                }
            };
            match page {
                Ok((records, warned)) => {
                    // Another run waits for a slot: an extra instance goes
                    // now, at the end of its page (one stays for the run).
                    if self.factory.slot_wanted() && !(idle.is_empty() && inflight.is_empty()) {
                        drop(session);
                    } else {
                        idle.push(session);
                    }
                    if tx.send(Fetched::Page(records, warned)).await.is_err() {
                        stop(&mut inflight);
                        return Err(None);
                    }
                }
                Err(e) => {
                    stop(&mut inflight);
                    return Err(Some(e.into()));
                }
            }
        }
    }
}

/// Orphan references in a full run: a record pointing at an id of a kind
/// this run read, that the run did not have. Kinds are read parents first
/// (orgs, sessions, courses, classes, users, then enrollments), so each
/// reference can be checked as its record arrives. Memory: the ids of the
/// kinds others point at (not enrollments or results).
#[derive(Default)]
struct RefCheck {
    seen: std::collections::HashMap<&'static str, foldhash::HashSet<u128>>,
    /// References to records of the same kind (a student's guardians are users
    /// too, and may come later in the file): checked when the kind ends.
    pending: Vec<PendingRef>,
}

/// A reference between two records of one kind, checked at the kind's end.
struct PendingRef {
    kind: EntityKind,
    record: String,
    attribute: String,
    id: String,
}

fn required(kind: EntityKind, attribute: &str) -> bool {
    crate::model::kinds::REQUIRED_REFERENCES
        .iter()
        .any(|(k, a, _)| *k == kind && *a == attribute)
}

/// Same-kind references kept for the end-of-kind check; past this many the
/// rest are not checked (memory stays bounded on the largest districts).
const PENDING_REFS: usize = 200_000;

impl RefCheck {
    /// The records of a page that may go on: one whose required reference
    /// points at a record of a kind this run read and did not get is left
    /// out (unless `keep_dangling`), named with what it points at; any
    /// other reference to nothing is a warning.
    fn check(
        &mut self,
        records: Vec<Record>,
        keep_dangling: bool,
        report: &mut RunReport,
    ) -> Vec<Record> {
        let mut kept = Vec::with_capacity(records.len());
        for r in records {
            if r.deleted {
                kept.push(r);
                continue;
            }
            if let Some(why) = self.references(&r, keep_dangling, report) {
                report.skip(r.kind, &r.source_id, why);
                continue;
            }
            if !matches!(r.kind, EntityKind::Enrollment | EntityKind::Result) {
                self.seen
                    .entry(r.kind.cli_name())
                    .or_default()
                    .insert(record::id_key(&r.source_id));
            }
            kept.push(r);
        }
        kept
    }

    /// Check a record's references: warn of each that points at nothing,
    /// and say why the record dangles when a required one does (for a list,
    /// when every item does), unless dangling records are kept.
    fn references(
        &mut self,
        r: &Record,
        keep_dangling: bool,
        report: &mut RunReport,
    ) -> Option<String> {
        // The references to nothing, by attribute; nothing is allocated for
        // a record whose references all hold (the common case).
        let mut missing_refs: Vec<(String, Vec<(EntityKind, String)>)> = Vec::new();
        r.each_reference(|attr, kind, id| {
            if kind == r.kind {
                if self.pending.len() < PENDING_REFS {
                    self.pending.push(PendingRef {
                        kind,
                        record: r.source_id.clone(),
                        attribute: attr.to_string(),
                        id: id.to_string(),
                    });
                }
                return;
            }
            let missing = self
                .seen
                .get(kind.cli_name())
                .is_some_and(|ids| !ids.contains(&record::id_key(id)));
            if !missing {
                return;
            }
            match missing_refs.iter_mut().find(|(a, _)| a == attr) {
                Some((_, targets)) => targets.push((kind, id.to_string())),
                None => missing_refs.push((attr.to_string(), vec![(kind, id.to_string())])),
            }
        });
        // Each attribute with a reference to nothing: how many it has in all.
        let counted: Vec<(String, usize, Vec<(EntityKind, String)>)> = missing_refs
            .into_iter()
            .map(|(attr, missing)| {
                let mut total = 0;
                r.each_reference(|a, kind, _| total += (a == attr && kind != r.kind) as usize);
                (attr, total, missing)
            })
            .collect();
        let dangling_attr = counted.iter().find(|(attr, total, missing)| {
            !keep_dangling && missing.len() == *total && required(r.kind, attr)
        });
        if let Some((attr, _, missing)) = dangling_attr {
            // Left out: its other references are not worth a word, and its
            // references to its own kind need no check at the kind's end.
            // (They are the last ones queued: this record's, just now.)
            while self.pending.last().is_some_and(|p| p.record == r.source_id) {
                self.pending.pop();
            }
            let targets: Vec<String> = missing
                .iter()
                .map(|(k, id)| format!("{} `{id}`", k.cli_name()))
                .collect();
            return Some(format!(
                "dangling reference: `{attr}` points at {}, which the source does not have; the record is left out (the source's advanced setting keep_dangling_references imports it anyway)",
                targets.join(", ")
            ));
        }
        for (attr, _, missing) in counted {
            for (kind, id) in missing {
                orphan(report, r.kind, &r.source_id, &attr, kind, &id);
            }
        }
        None
    }

    /// A kind the run read to its end: references to it are checked from
    /// now on, even when none of its records got through.
    fn read_whole(&mut self, kind: EntityKind) {
        if !matches!(kind, EntityKind::Enrollment | EntityKind::Result) {
            self.seen.entry(kind.cli_name()).or_default();
        }
    }

    /// The end of a kind: check the references among its own records.
    fn finish_kind(&mut self, report: &mut RunReport) {
        for p in std::mem::take(&mut self.pending) {
            if !self
                .seen
                .get(p.kind.cli_name())
                .is_some_and(|ids| ids.contains(&record::id_key(&p.id)))
            {
                orphan(report, p.kind, &p.record, &p.attribute, p.kind, &p.id);
            }
        }
    }
}

fn orphan(
    report: &mut RunReport,
    kind: EntityKind,
    record: &str,
    attr: &str,
    ref_kind: EntityKind,
    id: &str,
) {
    report.warn(
        kind,
        record,
        format!(
            "orphan reference: `{attr}` points at {} `{id}`, which the source does not have",
            ref_kind.cli_name()
        ),
    );
}

/// Why a run must wait for an admin, if it must.
pub fn hold_reason(config: &SourceConfig, report: &RunReport) -> Option<String> {
    let t = config.advanced.hold;
    let mut reasons = Vec::new();
    for (kind, c) in &report.counts {
        if c.existing == 0 {
            continue;
        }
        let updated = c.update as f64 / c.existing as f64;
        let deleted = c.delete as f64 / c.existing as f64;
        if updated > t.updated_share {
            reasons.push(format!(
                "{:.0}% of {kind} records updated (threshold {:.0}%)",
                updated * 100.0,
                t.updated_share * 100.0
            ));
        }
        if deleted > t.deleted_share {
            reasons.push(format!(
                "{:.0}% of {kind} records deleted (threshold {:.0}%)",
                deleted * 100.0,
                t.deleted_share * 100.0
            ));
        }
    }
    if let Some(m) = &report.schools {
        for (kind, left_out) in &m.left_out {
            let read = report.counts.get(kind).map_or(0, |c| c.read);
            let share = *left_out as f64 / read.max(1) as f64;
            if share > t.deleted_share {
                let list = |names: &[String]| match names {
                    [] => "none".to_string(),
                    names => names.join(", "),
                };
                reasons.push(format!(
                    "schools mapping left out {:.0}% of {kind} records (threshold {:.0}%): the feed's schools that match a school of the district: {}; that match none: {}. Check the schools' names and identifiers, or map them by hand",
                    share * 100.0,
                    t.deleted_share * 100.0,
                    list(&m.matched),
                    list(&m.unmatched),
                ));
            }
        }
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}
