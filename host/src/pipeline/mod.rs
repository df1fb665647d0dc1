//! The flow of one import run (DESIGN.md): read pages from the connector,
//! stage them, run the per-record stages and the district's rule components,
//! reconcile into a change set, hold or commit. Approval, discard and the
//! duplicates queue live here too, as the operations an admin performs on a
//! run. This module orchestrates; SQL lives in `store`, plugin execution in
//! `runtime`, and the merge and identity logic in `reconcile`.

pub mod record;
pub mod report;
mod rules;
pub mod stages;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::capabilities::http::{ConnectionClient, HttpLimits};
use crate::capabilities::log::ProgressSink;
use crate::config::SourceConfig;
use crate::gallery::grant::grant;
use crate::gallery::manifest::Direction;
use crate::gallery::{Gallery, Package};
use crate::reconcile::Reconciler;
use crate::reconcile::merge::Masters;
use crate::runtime::bindings::types::EntityKind;
use crate::runtime::{ConnectorFactory, ConnectorSession, PageReader, Runtime, SessionOptions};
use crate::secret::Secret;
use crate::store::sync::{CommitHints, CommitOutcome, KeyDomain};
use crate::store::{DbKeyValue, Run, RunStatus, Store, StoreError};
use record::Record;
use report::RunReport;
use stages::{Outcome, Stages};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Setup(String),
    #[error("{0}")]
    Refused(String),
}

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
    pub progress: Option<ProgressSink>,
    /// Told the run's id as soon as the run exists, so a caller (the API)
    /// can answer with it while the import goes on.
    pub on_started: Option<tokio::sync::oneshot::Sender<String>>,
    /// Secret values the caller resolved (the API keeps them encrypted);
    /// none: read from the environment variables the configuration names.
    pub secrets: Option<BTreeMap<String, Secret>>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            mode: Mode::Full,
            trigger: "manual".into(),
            by: "cli".into(),
            auto_commit: None,
            progress: None,
            on_started: None,
            secrets: None,
        }
    }
}

/// The import engine: everything a run needs, shared by the CLI, the API and
/// the scheduler.
#[derive(Clone)]
pub struct Engine {
    pub store: Store,
    pub runtime: Arc<Runtime>,
    pub gallery: Arc<Gallery>,
    pub http_limits: HttpLimits,
    /// Pages of one read in flight at once, each on its own connector
    /// instance, when the connector lists pages ahead (a OneRoster server
    /// that says its total). 1 reads one page after another.
    pub read_concurrency: usize,
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
        action: String,
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
        let valid = |a: &str| matches!(a, "add" | "update" | "delete");
        match parts.as_slice() {
            [action, record] if valid(action) => Ok(ActionRef::Record {
                kind: None,
                action: action.to_string(),
                record: record.to_string(),
            }),
            [kind, action, record] if valid(action) => Ok(ActionRef::Record {
                kind: Some(kind.to_string()),
                action: action.to_string(),
                record: record.to_string(),
            }),
            _ => Err(format!(
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
        }
    }

    /// Apply a district's configuration file: the organization and every
    /// source in it, each checked against its plugin's manifest first.
    pub async fn apply_config(
        &self,
        config: &crate::config::DistrictConfig,
    ) -> Result<(), EngineError> {
        for source in &config.sources {
            source
                .validate()
                .map_err(|e| EngineError::Setup(e.to_string()))?;
            let (package, _) = self.package_for(source)?;
            for name in source.settings.keys().chain(source.secrets.keys()) {
                if package.manifest.setting(name).is_none() && name != "auth" {
                    return Err(EngineError::Setup(format!(
                        "source `{}`: plugin `{}` has no setting `{name}`",
                        source.id, package.manifest.id
                    )));
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
        }
        self.store
            .upsert_organization(&config.organization.id, &config.organization.name)
            .await?;
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
        Ok(crate::config::DistrictConfig {
            organization: crate::config::Organization {
                id: org_id.to_string(),
                name,
            },
            sources,
        })
    }

    pub fn package_for(
        &self,
        config: &SourceConfig,
    ) -> Result<(Arc<Package>, BTreeMap<String, String>), EngineError> {
        let package = self
            .gallery
            .get(&config.plugin)
            .map_err(|e| EngineError::Setup(e.to_string()))?
            .clone();
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
            .connect_reader(org_id, config, secrets, progress)
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
    ) -> Result<(ConnectorSession, Arc<Package>, ConnectorFactory), EngineError> {
        let (package, settings) = self.package_for(config)?;
        let granted = grant(
            &package.manifest,
            &settings,
            secrets,
            self.http_limits.clone(),
        )
        .map_err(|e| EngineError::Setup(e.to_string()))?;
        let http = match granted.connection {
            Some(c) => Some(Arc::new(
                ConnectionClient::new(c).map_err(|e| EngineError::Setup(e.to_string()))?,
            )),
            None => None,
        };
        let loaded = self
            .runtime
            .load(&package)
            .map_err(|e| EngineError::Setup(e.to_string()))?;
        let drop_dir = if package.manifest.files {
            Some(
                config
                    .folder
                    .as_ref()
                    .map(std::path::PathBuf::from)
                    .ok_or_else(|| {
                        EngineError::Setup(format!(
                            "source `{}` reads files: set its folder",
                            config.id
                        ))
                    })?,
            )
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
        };
        let factory = ConnectorFactory::new(self.runtime.clone(), loaded.clone(), options.clone());
        let session = ConnectorSession::start(&self.runtime, loaded, options)
            .await
            .map_err(|e| EngineError::Setup(e.to_string()))?;
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

    /// Master fields of the organization: (kind, attribute) → source.
    async fn masters(&self, org_id: &str) -> Result<Masters, EngineError> {
        let mut masters = Masters::new();
        for s in self.store.sources(org_id).await? {
            for m in &s.config.master_fields {
                masters.insert(
                    (
                        record::entity_kind_of(&m.kind).to_string(),
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
                    if !out
                        .iter()
                        .any(|k| k.kind == kind.cli_name() && k.name == name)
                    {
                        out.push(KeyDomain {
                            kind: kind.cli_name().into(),
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
        let since = match opts.mode {
            Mode::Full => None,
            Mode::Quick => self.store.last_committed_start(org_id, source_id).await?,
        };
        let run_id = self
            .store
            .create_run(
                org_id,
                source_id,
                opts.mode.as_str(),
                &opts.trigger,
                &opts.by,
                since.as_deref(),
            )
            .await?;
        if let Some(tx) = opts.on_started.take() {
            let _ = tx.send(run_id.clone());
        }
        let mut report = RunReport::default();
        let outcome = self
            .run_stages(
                org_id,
                &config,
                &run_id,
                since.as_deref(),
                &opts,
                &mut report,
            )
            .await;
        if let Err(failure) = outcome {
            report.failure = Some(failure);
            self.store.clear_changes(&run_id).await?;
            self.store
                .finish_run(&run_id, RunStatus::Failed, None, &report)
                .await?;
            return Ok(self.store.run(&run_id).await?);
        }
        // Hold?
        let hold = hold_reason(&config, &report);
        let auto = opts.auto_commit.unwrap_or(config.advanced.auto_commit);
        let status = if let Some(reason) = &hold {
            report.hold = Some(reason.clone());
            RunStatus::Held
        } else if config.advanced.preview || !auto {
            RunStatus::AwaitingApproval
        } else {
            RunStatus::Running
        };
        self.store
            .finish_run(&run_id, status, hold.as_deref(), &report)
            .await?;
        if status == RunStatus::Running {
            self.commit(org_id, &run_id, &mut report, 0).await?;
        }
        Ok(self.store.run(&run_id).await?)
    }

    async fn run_stages(
        &self,
        org_id: &str,
        config: &SourceConfig,
        run_id: &str,
        since: Option<&str>,
        opts: &ImportOptions,
        report: &mut RunReport,
    ) -> Result<(), String> {
        let started = Instant::now();
        let secrets = match &opts.secrets {
            Some(s) => s.clone(),
            None => secrets_from_env(config).map_err(|e| e.to_string())?,
        };
        // Progress is the engine's to report (records read so far), not the plugin's.
        let (session, package, spares) = self
            .connect_reader(org_id, config, &secrets, None)
            .await
            .map_err(|e| e.to_string())?;
        let mut stages = Stages::new(config);
        if config.schools.mode == crate::config::SchoolsMode::Auto {
            stages.auto_map_schools(
                self.known_schools(org_id)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        // Orphan references are only knowable when the run sees everything.
        let mut refs = (since.is_none()).then(RefCheck::default);
        let mut done = 0u64;
        let mut rules = rules::RuleChain::start(self, config)
            .await
            .map_err(|e| e.to_string())?;
        let kinds: Vec<EntityKind> =
            EntityKind::ALL
                .into_iter()
                .filter(|k| {
                    package.manifest.entities.iter().any(|e| {
                        e.kind == k.cli_name() && e.directions.contains(&Direction::Import)
                    })
                })
                .collect();
        let masters = self.masters(org_id).await.map_err(|e| e.to_string())?;
        let key_domains = self.key_domains(org_id).await.map_err(|e| e.to_string())?;
        let mut reconciler =
            Reconciler::new(&self.store, org_id, config, run_id, masters, key_domains);
        if since.is_some() {
            reconciler = reconciler.for_delta();
        }
        let bulk = since.is_none() && config.advanced.bulk_upload;
        // The connector reads ahead on its own task (the other core) while
        // this one maps, reconciles and writes the page before.
        let mut pages = read_ahead(
            session,
            (self.read_concurrency > 1).then_some((spares, self.read_concurrency)),
            kinds.clone(),
            since.map(str::to_string),
        );
        let (mut waiting, mut mapping, mut reconciling, mut linking) =
            (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for kind in &kinds {
            let name = kind.cli_name();
            if let Some(refs) = refs.as_mut() {
                refs.finish_kind(report);
            }
            let clock = Instant::now();
            reconciler
                .begin_kind(name, report)
                .await
                .map_err(|e| e.to_string())?;
            linking += clock.elapsed().as_secs_f64();
            loop {
                let clock = Instant::now();
                let fetched = pages.recv().await;
                waiting += clock.elapsed().as_secs_f64();
                let records = match fetched {
                    Some(Fetched::Page(records)) => records,
                    Some(Fetched::KindDone) => break,
                    Some(Fetched::Failed(e)) => {
                        return Err(format!("the read failed, nothing was committed: {e}"));
                    }
                    None => {
                        return Err(
                            "the connector's reader stopped before the end; nothing was committed"
                                .into(),
                        );
                    }
                };
                let clock = Instant::now();
                report.kind(name).read += records.len() as u64;
                done += records.len() as u64;
                if let Some(progress) = &opts.progress {
                    progress(done, None);
                }
                let mut mapped = Vec::with_capacity(records.len());
                for mut r in records {
                    match stages.map(&mut r) {
                        Outcome::Keep => mapped.push(r),
                        Outcome::Skip(_) => report.kind(name).skipped += 1,
                        Outcome::Error(why) => report.error(name, &r.source_id, why),
                    }
                }
                let mapped = rules
                    .transform(mapped, report)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut checked = Vec::with_capacity(mapped.len());
                for r in mapped {
                    let mut warnings = Vec::new();
                    match stages.check(&r, &mut warnings) {
                        Outcome::Keep => {
                            for w in warnings {
                                report.warn(name, &r.source_id, w);
                            }
                            checked.push(r);
                        }
                        Outcome::Skip(why) => {
                            report.kind(name).skipped += 1;
                            if why.contains("is missing") {
                                report.warn(name, &r.source_id, why);
                            }
                        }
                        Outcome::Error(why) => report.error(name, &r.source_id, why),
                    }
                }
                let kept = rules
                    .filter(checked, report)
                    .await
                    .map_err(|e| e.to_string())?;
                if let Some(refs) = refs.as_mut() {
                    refs.check(&kept, report);
                }
                mapping += clock.elapsed().as_secs_f64();
                let clock = Instant::now();
                reconciler
                    .page(kept, report)
                    .await
                    .map_err(|e| e.to_string())?;
                reconciling += clock.elapsed().as_secs_f64();
            }
            let clock = Instant::now();
            reconciler
                .end_kind(bulk, report)
                .await
                .map_err(|e| e.to_string())?;
            reconciling += clock.elapsed().as_secs_f64();
        }
        if let Some(refs) = refs.as_mut() {
            refs.finish_kind(report);
        }
        let clock = Instant::now();
        reconciler.finish().await.map_err(|e| e.to_string())?;
        reconciling += clock.elapsed().as_secs_f64();
        for (name, t) in [
            ("read", waiting),
            ("map", mapping),
            ("links", linking),
            ("reconcile", reconciling),
            ("total", started.elapsed().as_secs_f64()),
        ] {
            report.timings.insert(name.into(), t);
        }
        let read = report.total(|c| c.read);
        let share = if read == 0 {
            0.0
        } else {
            report.errors_total as f64 / read as f64
        };
        if report.errors_total > 0 && share > config.advanced.max_error_share {
            return Err(format!(
                "{} of {} records ({:.1}%) failed mapping or validation, more than the {:.1}% this source allows; nothing was committed. The errors name each record and why",
                report.errors_total,
                read,
                share * 100.0,
                config.advanced.max_error_share * 100.0
            ));
        }
        Ok(())
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
        let hints = CommitHints {
            deletes: report.total(|c| c.delete) > 0,
            duplicates: report.duplicates > 0,
            excluded,
        };
        let outcome = self
            .store
            .commit_run(org_id, &run.source_id, run_id, hints)
            .await?;
        report
            .timings
            .insert("commit".into(), started.elapsed().as_secs_f64());
        let json = serde_json::to_string(&*report).unwrap_or_default();
        sqlx::query("UPDATE runs SET report = $1 WHERE id = $2")
            .bind(json)
            .bind(run_id)
            .execute(self.store.pool())
            .await
            .map_err(StoreError::from)?;
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
                        .find_change_seqs(run_id, kind.as_deref(), action, record)
                        .await?;
                    if found.is_empty() {
                        return Err(EngineError::Refused(format!(
                            "run {run_id} has no {action} of `{record}`; `homeroom run {run_id} --actions` lists its actions"
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

/// What the connector's reader task hands over, in order.
enum Fetched {
    /// A page, already in the host's working form.
    Page(Vec<Record>),
    /// The current kind has no more pages.
    KindDone,
    Failed(String),
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
        for kind in kinds {
            let mut reader = PageReader::new(kind, since.as_deref());
            loop {
                let Some(mut session) = idle.pop() else {
                    let _ = tx
                        .send(Fetched::Failed(
                            "no connector instance is left to read with".into(),
                        ))
                        .await;
                    return;
                };
                let read = session.next_page(&mut reader).await;
                idle.push(session);
                let fetched = match read {
                    Ok(Some(page)) => {
                        Fetched::Page(page.entities.into_iter().map(Record::from_entity).collect())
                    }
                    Ok(None) => break,
                    Err(e) => Fetched::Failed(e.to_string()),
                };
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
    Result<Vec<Record>, crate::runtime::PluginCallError>,
);

impl AheadRead<'_> {
    /// Hand on every page of `cursors` in order; `Err(Some(why))` when a
    /// read failed, `Err(None)` when the pipeline stopped listening.
    async fn run(
        &self,
        cursors: Vec<String>,
        idle: &mut Vec<ConnectorSession>,
        tx: &tokio::sync::mpsc::Sender<Fetched>,
    ) -> Result<(), Option<String>> {
        let mut cursors = cursors.into_iter();
        let mut inflight: std::collections::VecDeque<tokio::task::JoinHandle<AheadPage>> =
            Default::default();
        let stop =
            |inflight: &mut std::collections::VecDeque<tokio::task::JoinHandle<AheadPage>>| {
                for h in inflight.drain(..) {
                    h.abort();
                }
            };
        loop {
            while inflight.len() < self.width {
                let Some(cursor) = cursors.next() else { break };
                let mut session = match idle.pop() {
                    Some(s) => s,
                    None => match self.factory.start().await {
                        Ok(s) => s,
                        Err(e) => {
                            stop(&mut inflight);
                            return Err(Some(e.to_string()));
                        }
                    },
                };
                let (kind, since) = (self.kind, self.since.map(str::to_string));
                inflight.push_back(tokio::spawn(async move {
                    let page = session
                        .read_page(kind, since.as_deref(), Some(&cursor))
                        .await
                        .map(|p| p.entities.into_iter().map(Record::from_entity).collect());
                    (session, page)
                }));
            }
            let Some(first) = inflight.pop_front() else {
                return Ok(());
            };
            let (session, page) = match first.await {
                Ok(done) => done,
                Err(e) => {
                    stop(&mut inflight);
                    return Err(Some(format!("a page reader stopped: {e}")));
                }
            };
            match page {
                Ok(records) => {
                    idle.push(session);
                    if tx.send(Fetched::Page(records)).await.is_err() {
                        stop(&mut inflight);
                        return Err(None);
                    }
                }
                Err(e) => {
                    stop(&mut inflight);
                    return Err(Some(e.to_string()));
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
    pending: Vec<(&'static str, String, String, EntityKind, String)>,
}

/// Same-kind references kept for the end-of-kind check; past this many the
/// rest are not checked (memory stays bounded on the largest districts).
const PENDING_REFS: usize = 200_000;

impl RefCheck {
    fn check(&mut self, records: &[Record], report: &mut RunReport) {
        for r in records {
            if r.deleted {
                continue;
            }
            let own = r.kind.cli_name();
            r.each_reference(|attr, kind, id| {
                if kind == r.kind {
                    if self.pending.len() < PENDING_REFS {
                        self.pending.push((
                            own,
                            r.source_id.clone(),
                            attr.to_string(),
                            kind,
                            id.to_string(),
                        ));
                    }
                    return;
                }
                if let Some(ids) = self.seen.get(kind.cli_name()) {
                    if !ids.contains(&record::id_key(id)) {
                        orphan(report, own, &r.source_id, attr, kind, id);
                    }
                }
            });
            if !matches!(r.kind, EntityKind::Enrollment | EntityKind::Result) {
                self.seen
                    .entry(own)
                    .or_default()
                    .insert(record::id_key(&r.source_id));
            }
        }
    }

    /// The end of a kind: check the references among its own records.
    fn finish_kind(&mut self, report: &mut RunReport) {
        for (kind, record, attr, ref_kind, id) in std::mem::take(&mut self.pending) {
            if !self
                .seen
                .get(ref_kind.cli_name())
                .is_some_and(|ids| ids.contains(&record::id_key(&id)))
            {
                orphan(report, kind, &record, &attr, ref_kind, &id);
            }
        }
    }
}

fn orphan(
    report: &mut RunReport,
    kind: &str,
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
    (!reasons.is_empty()).then(|| reasons.join("; "))
}
