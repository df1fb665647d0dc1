//! The flow of one export run (DESIGN.md, "The flow of an export"): what
//! the hub holds, compared with what the destination was last given, goes
//! to the destination's connector kind by kind in dependency order, in
//! batches; each change's outcome is kept before the next batch goes.
//!
//! - What is sent is committed data only: entities, never a change set
//!   that is held or awaiting approval (those live in `changes` until
//!   their commit).
//! - An entity is sent as the hub holds it: its id is the hub's, and its
//!   references are turned into the hub's ids of what they point at (a
//!   reference names a source's id; the links say which entity that is).
//!   The destination's ids of those, where earlier outcomes gave them, go
//!   with it (`target-refs`).
//! - The version sent is the hash of that entity as sent: equal to the one
//!   last applied, nothing goes. A change rejected goes again only once the
//!   entity changes; one told to retry goes at the next export. An entity
//!   applied earlier and archived since is deleted at the destination.
//! - A destination's filter rules (its export settings) choose what goes,
//!   read as the sources said it; what stops passing is deleted there, and
//!   what hangs off a record left out stays out with it.
//! - A two-way destination is a source too. What it supplies itself is
//!   never sent back to it, and a reference to such a thing goes under
//!   the destination's own id (a result for the SIS names the SIS's
//!   student id). A reference a destination's record makes by the id it
//!   was given (a coursework's course) names the hub entity it was given
//!   for (`Store::link_entities`).
//! - An export first counts what it would send: the hold rules judge that
//!   count (a preview, shares of updates and deletes), and with nothing to
//!   send the run ends there, without signing in to the destination.
//! - Outcomes are kept per batch in one transaction (`store::exports`), so a
//!   host killed mid-export resumes with the first batch whose outcomes were
//!   not kept; the connector makes a repeated add land on what the first
//!   attempt created (the WIT says so).
//!
//! This module orchestrates; SQL lives in `store::exports`, plugin calls in
//! `runtime`.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde_json::{Map, Value as Json};

use super::{Engine, EngineError, secrets_from_env};
use crate::bindings::export_types::{ExportChange, ExportOutcome, TargetRef};
use crate::bindings::types::{Action, EntityKind};
use crate::capabilities::log::ProgressSink;
use crate::config::SourceConfig;
use crate::gallery::Package;
use crate::gallery::manifest::Direction;
use crate::model::record::Record;
use crate::model::report::RunReport;
use crate::secret::Secret;
use crate::store::exports::{ExportEntity, ExportState, ExportStatus, OutcomeRow};
use crate::store::{Run, RunStatus};

/// Changes per call to the connector.
pub const EXPORT_BATCH: usize = 100;
/// Entities read from the store at a time.
const READ_PAGE: i64 = 1_000;

/// How an export starts.
#[derive(Default)]
pub struct ExportOptions {
    /// `manual`, `schedule`, `commit` (after an import's commit) or `api`.
    pub trigger: String,
    pub by: String,
    pub progress: Option<ProgressSink>,
    /// Told the run's id as soon as the run exists.
    pub on_started: Option<tokio::sync::oneshot::Sender<String>>,
    /// Secret values the caller resolved; none: from the environment.
    pub secrets: Option<BTreeMap<String, Secret>>,
    /// The held export run an admin approved: it goes on under that run,
    /// past the hold.
    pub approved: Option<String>,
    /// A queued run this engine's holder claimed (a worker's job).
    pub run: Option<String>,
}

/// An export is approved whole: an approval that would leave actions out
/// is refused, saying how to leave records out instead.
pub fn approve_whole(leaves_out: bool) -> Result<(), EngineError> {
    if leaves_out {
        return Err(EngineError::Refused(
            "an export is approved whole: change its export settings (kinds, filters) to leave records out".into(),
        ));
    }
    Ok(())
}

/// The kinds a destination takes, in dependency order: those its connector
/// exports, narrowed to the integration's export kinds.
pub fn exported_kinds(package: &Package, config: &SourceConfig) -> Vec<EntityKind> {
    super::kinds_going(package, Direction::Export, &config.export.kinds)
}

impl Engine {
    /// The organization's enabled destinations (Export and Sync
    /// integrations), by id: what a commit exports to.
    pub async fn destinations(&self, org_id: &str) -> Result<Vec<String>, EngineError> {
        Ok(self
            .store
            .sources(org_id)
            .await?
            .into_iter()
            .filter(|s| s.enabled && s.config.sync_mode.exports())
            .map(|s| s.config.id)
            .collect())
    }

    /// Export to one destination (an Export or Sync integration) what the
    /// hub holds and it does not have yet.
    pub async fn export(
        &self,
        org_id: &str,
        destination_id: &str,
        mut opts: ExportOptions,
    ) -> Result<Run, EngineError> {
        let source = self.store.source(org_id, destination_id).await?;
        let config = source.config;
        if !config.sync_mode.exports() {
            return Err(EngineError::Refused(format!(
                "`{destination_id}` is an import: set its sync mode to export or sync to send it the hub's data"
            )));
        }
        if !source.enabled {
            return Err(EngineError::Refused(format!(
                "`{destination_id}` is disabled; enable it first"
            )));
        }
        let (package, _) = self.package_for(&config)?;
        let kinds = exported_kinds(&package, &config);
        if kinds.is_empty() {
            return Err(EngineError::Refused(format!(
                "`{destination_id}` exports nothing: its connector `{}` exports no kind its export settings name",
                package.manifest.id
            )));
        }
        let secrets = match opts.secrets.take() {
            Some(s) => s,
            None => secrets_from_env(&config)?,
        };
        let links = self
            .store
            .link_entities(org_id, &EntityKind::ALL.map(|k| k.cli_name()))
            .await?;
        let run_id = match &opts.approved {
            Some(held) => {
                let run = self.store.run(held).await?;
                if run.mode != "export" || run.source_id != destination_id {
                    return Err(EngineError::Refused(format!(
                        "run {held} is not an export to `{destination_id}`"
                    )));
                }
                if !self.store.resume_held_run(held).await? {
                    return Err(EngineError::Refused(format!(
                        "run {held} is {}; only a held export can be approved",
                        run.status.as_str()
                    )));
                }
                held.clone()
            }
            None => match opts.run.take() {
                Some(claimed) => claimed,
                None => {
                    self.store
                        .create_run(
                            org_id,
                            destination_id,
                            "export",
                            &opts.trigger,
                            &opts.by,
                            None,
                        )
                        .await?
                }
            },
        };
        let _lease = self.lease_run(&run_id, &mut opts.progress).await?;
        if let Some(tx) = opts.on_started.take() {
            let _ = tx.send(run_id.clone());
        }
        let mut report = RunReport::default();
        let status = match self
            .export_stages(
                org_id,
                destination_id,
                &run_id,
                &config,
                &kinds,
                &links,
                &secrets,
                &mut opts,
                &mut report,
            )
            .await
        {
            Ok(Some(reason)) => {
                self.store
                    .finish_run(&run_id, RunStatus::Held, Some(&reason), &report)
                    .await?;
                tracing::info!(run = %run_id, destination = %destination_id, "export held: {reason}");
                return Ok(self.store.run(&run_id).await?);
            }
            Ok(None) => RunStatus::Committed,
            Err(e) => {
                // Whatever stopped it, the run says so: none is left running.
                report.failure = Some(format!("{e}"));
                RunStatus::Failed
            }
        };
        self.store
            .finish_run(&run_id, status, None, &report)
            .await?;
        tracing::info!(run = %run_id, destination = %destination_id, status = status.as_str(), "export finished");
        Ok(self.store.run(&run_id).await?)
    }
}

impl Engine {
    /// The run itself: the hold check (unless approved), then every kind.
    /// `Some(reason)`: held, nothing sent, `report` is the preview.
    #[allow(clippy::too_many_arguments)]
    async fn export_stages(
        &self,
        org_id: &str,
        destination_id: &str,
        run_id: &str,
        config: &SourceConfig,
        kinds: &[EntityKind],
        links: &HashMap<(String, String, String), String>,
        secrets: &BTreeMap<String, Secret>,
        opts: &mut ExportOptions,
        report: &mut RunReport,
    ) -> Result<Option<String>, EngineError> {
        let started = Instant::now();
        if opts.approved.is_none() {
            // The same hold rules as an import: a preview, or shares of
            // updates and deletes past the thresholds, wait for an admin
            // before anything goes.
            let mut preview = RunReport::default();
            let mut dry = self
                .export_run(
                    org_id,
                    destination_id,
                    run_id,
                    config,
                    kinds,
                    links,
                    &mut preview,
                )
                .await?;
            for kind in kinds {
                dry.count(*kind).await?;
            }
            let reason = if config.advanced.approval() == crate::config::Approval::Always {
                None
            } else if config.advanced.approval() == crate::config::Approval::Review {
                Some("this integration previews every export: approve it to send it".to_string())
            } else {
                super::hold_reason(config, &preview)
            };
            let sends = preview.total(|c| c.add + c.update + c.delete) > 0;
            if !sends {
                // Nothing differs: the count is the run; the destination is
                // not even signed in to.
                *report = preview;
                report
                    .timings
                    .insert("export".into(), started.elapsed().as_secs_f64());
                return Ok(None);
            }
            if let Some(reason) = reason {
                *report = preview;
                return Ok(Some(reason));
            }
        }
        let (mut session, _) = self
            .connect(org_id, config, secrets, opts.progress.clone())
            .await?;
        let mut export = self
            .export_run(org_id, destination_id, run_id, config, kinds, links, report)
            .await?;
        export.progress = opts.progress.clone();
        let mut failure = None;
        for kind in kinds {
            let outcome = export.kind(&mut session, *kind).await;
            // What the connector warned of, under the kind it was exporting.
            let (warnings, more) = session.take_warnings();
            for w in warnings {
                export.report.warn(*kind, "", w.text);
            }
            export.report.warnings_total += more;
            if let Err(e) = outcome {
                failure = Some(e);
                break;
            }
        }
        report
            .timings
            .insert("export".into(), started.elapsed().as_secs_f64());
        match failure {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    /// An export of `kinds` to a destination, from what the store holds now.
    #[allow(clippy::too_many_arguments)]
    async fn export_run<'a>(
        &'a self,
        org_id: &'a str,
        destination_id: &'a str,
        run_id: &'a str,
        config: &SourceConfig,
        kinds: &[EntityKind],
        links: &'a HashMap<(String, String, String), String>,
        report: &'a mut RunReport,
    ) -> Result<Export<'a>, EngineError> {
        // What the destination itself supplies (a two-way destination is a
        // source too): entity → its own id for it.
        let own = links
            .iter()
            .filter(|((source, _, _), _)| source == destination_id)
            .map(|((_, _, id), entity)| (entity.clone(), id.clone()))
            .collect();
        Ok(Export {
            engine: self,
            org_id,
            destination_id,
            run_id,
            states: self.store.export_states(org_id, destination_id).await?,
            links,
            own,
            kinds: kinds.to_vec(),
            filters: config.export.filters.clone(),
            left_out: Default::default(),
            report,
            progress: None,
            done: 0,
        })
    }
}

/// One export run under way.
struct Export<'a> {
    engine: &'a Engine,
    org_id: &'a str,
    destination_id: &'a str,
    run_id: &'a str,
    /// What the destination holds, by hub entity id; kept up to date as
    /// outcomes come, so a kind's references find their parents' ids.
    states: HashMap<String, ExportState>,
    /// (source, kind, the source's id) → hub entity id.
    links: &'a HashMap<(String, String, String), String>,
    /// Hub entity id → the destination's id for it, for what the
    /// destination supplies itself. Such an entity is never sent back to
    /// it, and references to it go under that id.
    own: HashMap<String, String>,
    /// The kinds this export sends.
    kinds: Vec<EntityKind>,
    /// The destination's filter rules.
    filters: Vec<crate::config::Filter>,
    /// Entities its filters leave out (hub ids), so what hangs off them
    /// stays out too.
    left_out: std::collections::HashSet<String>,
    report: &'a mut RunReport,
    progress: Option<ProgressSink>,
    done: u64,
}

/// A change ready to go, with what to keep when its outcome comes.
struct Pending {
    change: ExportChange,
    hash: String,
    /// Why it cannot go yet: something it refers to, of a kind this export
    /// sends, is not at the destination (refused, or to be sent again).
    waits: Option<String>,
}

impl Export<'_> {
    /// The next page of a kind's entities in id order, after `after`
    /// (moved on to the page's last id); empty at the end.
    async fn page(&self, kind: &str, after: &mut String) -> Result<Vec<ExportEntity>, EngineError> {
        let page = self
            .engine
            .store
            .export_entities(self.org_id, kind, after, READ_PAGE)
            .await?;
        if let Some(last) = page.last() {
            after.clone_from(&last.id);
        }
        Ok(page)
    }

    /// What an export of `kind` would send, counted and not sent: the
    /// preview the hold rules judge. `existing`: what the destination holds.
    async fn count(&mut self, kind: EntityKind) -> Result<(), EngineError> {
        let name = kind.cli_name();
        let existing = self
            .states
            .values()
            .filter(|s| s.kind == name && s.state == ExportStatus::Applied)
            .count() as u64;
        self.report.kind(kind).existing = existing;
        let mut after = String::new();
        loop {
            let page = self.page(name, &mut after).await?;
            if page.is_empty() {
                break;
            }
            for entity in &page {
                if let Some(p) = self.plan(kind, entity)? {
                    let c = self.report.kind(kind);
                    match p.change.action {
                        Action::Add => c.add += 1,
                        Action::Update => c.update += 1,
                        Action::Delete => c.delete += 1,
                    }
                }
            }
        }
        Ok(())
    }

    async fn kind(
        &mut self,
        session: &mut crate::runtime::ConnectorSession,
        kind: EntityKind,
    ) -> Result<(), EngineError> {
        let name = kind.cli_name();
        let mut after = String::new();
        let mut batch: Vec<Pending> = Vec::with_capacity(EXPORT_BATCH);
        let mut waiting: Vec<Pending> = Vec::new();
        loop {
            let page = self.page(name, &mut after).await?;
            if page.is_empty() {
                break;
            }
            for entity in &page {
                if let Some(pending) = self.plan(kind, entity)? {
                    if pending.waits.is_some() {
                        waiting.push(pending);
                        if waiting.len() == EXPORT_BATCH {
                            self.keep(kind, std::mem::take(&mut waiting), Vec::new())
                                .await?;
                        }
                        continue;
                    }
                    batch.push(pending);
                    if batch.len() == EXPORT_BATCH {
                        self.send(session, kind, std::mem::take(&mut batch)).await?;
                    }
                }
            }
        }
        if !batch.is_empty() {
            self.send(session, kind, batch).await?;
        }
        if !waiting.is_empty() {
            self.keep(kind, waiting, Vec::new()).await?;
        }
        Ok(())
    }

    /// What, if anything, goes for one entity.
    fn plan(
        &mut self,
        kind: EntityKind,
        entity: &ExportEntity,
    ) -> Result<Option<Pending>, EngineError> {
        if self.own.contains_key(&entity.id) && !self.states.contains_key(&entity.id) {
            // It came from this destination: it has it already.
            return Ok(None);
        }
        let record = self.as_sent(kind, entity)?;
        let hash = format!("{:032x}", record.hash());
        let state = self.states.get(&entity.id);
        let applied_here = state.is_some_and(|s| s.state == ExportStatus::Applied);
        let goes = entity.active && self.passes(kind, entity)? && !self.hangs_off_left_out(&record);
        if entity.active && !goes {
            // What hangs off it stays out too (a class's enrollments).
            self.left_out.insert(entity.id.clone());
            if !applied_here {
                self.report.kind(kind).skipped += 1;
            }
        }
        let action = if !goes {
            // Only what the destination has is deleted there.
            if !applied_here {
                return Ok(None);
            }
            Action::Delete
        } else {
            match state {
                None => Action::Add,
                Some(s) => match s.state {
                    ExportStatus::Applied if s.hash.as_deref() == Some(hash.as_str()) => {
                        self.report.kind(kind).unchanged += 1;
                        return Ok(None);
                    }
                    ExportStatus::Rejected if s.sent_hash.as_deref() == Some(hash.as_str()) => {
                        // Refused as it is: not again until it changes.
                        self.report.kind(kind).unchanged += 1;
                        return Ok(None);
                    }
                    ExportStatus::Deleted => Action::Add,
                    _ if s.target_id.is_some() => Action::Update,
                    _ => Action::Add,
                },
            }
        };
        let mut target_refs = Vec::new();
        record.each_reference(|_, kind, id| {
            if let Some(target) = self
                .states
                .get(id)
                .filter(|s| s.state == ExportStatus::Applied)
                .and_then(|s| s.target_id.clone())
                .or_else(|| self.own.get(id).cloned())
                && !target_refs
                    .iter()
                    .any(|t: &TargetRef| t.source_id == id && t.kind == kind)
            {
                target_refs.push(TargetRef {
                    kind,
                    source_id: id.to_string(),
                    target_id: target,
                });
            }
        });
        let waits = (action != Action::Delete)
            .then(|| self.waits_for(kind, &record))
            .flatten();
        Ok(Some(Pending {
            waits,
            change: ExportChange {
                action,
                entity: record.to_entity(),
                target_id: state.and_then(|s| s.target_id.clone()),
                target_refs,
            },
            hash,
        }))
    }

    /// What the entity refers to that this export sends but the
    /// destination does not hold: a result whose line item it refused
    /// waits for that line item rather than going without it.
    fn waits_for(&self, kind: EntityKind, record: &Record) -> Option<String> {
        let mut why = None;
        record.each_reference(|attr, to, id| {
            if why.is_some() || to == kind || !self.kinds.contains(&to) || self.own.contains_key(id)
            {
                return;
            }
            let state = self.states.get(id);
            if state.is_some_and(|s| s.state == ExportStatus::Applied) {
                return;
            }
            let reason = match state {
                Some(s) if s.state == ExportStatus::Rejected => format!(
                    ", which it refused ({})",
                    s.message.as_deref().unwrap_or("no reason given")
                ),
                Some(s) if s.state == ExportStatus::Retry => {
                    ", which goes again at the next export".into()
                }
                _ => ", which the hub has not sent it".into(),
            };
            why = Some(format!(
                "waits for its `{attr}`, {} {id}, to be at the destination{reason}",
                to.cli_name()
            ));
        });
        why
    }

    /// Whether the entity refers to one the filters left out of this
    /// destination.
    fn hangs_off_left_out(&self, record: &Record) -> bool {
        if self.left_out.is_empty() {
            return false;
        }
        let mut out = false;
        record.each_reference(|_, _, id| out |= self.left_out.contains(id));
        out
    }

    /// Whether the destination's filter rules let the entity go. They
    /// read it as its sources said it (a school list names schools by
    /// their sources' ids, as the import's rules do).
    fn passes(&self, kind: EntityKind, entity: &ExportEntity) -> Result<bool, EngineError> {
        let filters: Vec<&crate::config::Filter> = self
            .filters
            .iter()
            .filter(|f| crate::model::kinds::entity_kind_of(&f.kind) == kind.cli_name())
            .collect();
        if filters.is_empty() {
            return Ok(true);
        }
        // `as_sent` read the same data a moment ago: it is readable.
        let data: Map<String, Json> = serde_json::from_str(&entity.data).unwrap_or_default();
        let record = Record {
            kind,
            source_id: entity.id.clone(),
            deleted: false,
            modified: None,
            attrs: data
                .into_iter()
                .filter_map(|(name, cell)| {
                    cell.get("v")
                        .filter(|v| !v.is_null())
                        .cloned()
                        .map(|v| (name, v))
                })
                .collect(),
        };
        for f in filters {
            if !crate::model::record::is_of_kind(&record, &f.kind) {
                continue;
            }
            match super::stages::passes(&record, f) {
                Ok(true) => {}
                Ok(false) => return Ok(false),
                Err(why) => {
                    return Err(EngineError::Refused(format!(
                        "the export filter of {} cannot be judged: {why}; fix the integration's export filters",
                        f.kind
                    )));
                }
            }
        }
        Ok(true)
    }

    /// The entity as a destination is sent it: the hub's id, attributes as
    /// the hub holds them, references by the hub's ids.
    fn as_sent(&self, kind: EntityKind, entity: &ExportEntity) -> Result<Record, EngineError> {
        // Never sent as empty: a record the store cannot read stops the export.
        let data: Map<String, Json> = serde_json::from_str(&entity.data).map_err(|e| {
            crate::store::StoreError::Corrupt(format!(
                "{} record {} has data the hub cannot read ({e}); nothing more was exported: restore the database from a backup or re-import the source",
                kind.cli_name(),
                entity.id
            ))
        })?;
        let mut attrs = BTreeMap::new();
        for (name, cell) in data {
            let source = cell.get("s").and_then(Json::as_str).unwrap_or_default();
            let Some(value) = cell.get("v") else { continue };
            if value.is_null() {
                continue;
            }
            attrs.insert(name, self.hub_ids(source, value));
        }
        Ok(Record {
            kind,
            source_id: entity.id.clone(),
            deleted: !entity.active,
            modified: None,
            attrs,
        })
    }

    /// A value with each reference (a source's id) turned into the hub's
    /// id of the entity it points at; one the hub cannot place is kept as
    /// the source said it.
    fn hub_ids(&self, source: &str, value: &Json) -> Json {
        let one = |r: &Json| -> Json {
            let (Some(kind), Some(id)) = (
                r.get("kind").and_then(Json::as_str),
                r.get("id").and_then(Json::as_str),
            ) else {
                return r.clone();
            };
            match self
                .links
                .get(&(source.to_string(), kind.to_string(), id.to_string()))
            {
                Some(entity) => serde_json::json!({"id": entity, "kind": kind}),
                None => r.clone(),
            }
        };
        match value {
            Json::Object(o) if o.len() == 2 && o.contains_key("kind") => one(value),
            Json::Array(items) if items.iter().all(|i| i.is_object()) && !items.is_empty() => {
                Json::Array(items.iter().map(one).collect())
            }
            other => other.clone(),
        }
    }

    /// Send one batch; keep its outcomes, all or none.
    async fn send(
        &mut self,
        session: &mut crate::runtime::ConnectorSession,
        kind: EntityKind,
        batch: Vec<Pending>,
    ) -> Result<(), EngineError> {
        let changes: Vec<ExportChange> = batch.iter().map(|p| p.change.clone()).collect();
        let outcomes = session.export(&changes).await?;
        self.keep(kind, batch, outcomes).await
    }

    /// Keep the outcomes of a batch, all or none: those the connector gave,
    /// in order, then a retry for each change that waits (not sent).
    async fn keep(
        &mut self,
        kind: EntityKind,
        batch: Vec<Pending>,
        outcomes: Vec<ExportOutcome>,
    ) -> Result<(), EngineError> {
        let mut outcomes = outcomes.into_iter();
        let mut rows = Vec::with_capacity(batch.len());
        for pending in batch {
            let outcome = match &pending.waits {
                Some(why) => ExportOutcome::Retry(why.clone()),
                None => match outcomes.next() {
                    Some(o) => o,
                    None => break,
                },
            };
            let change = &pending.change;
            let id = change.entity.source_id.clone();
            let counts = self.report.kind(kind);
            let (state, target_id, message) = match outcome {
                ExportOutcome::Applied(target) => {
                    match change.action {
                        Action::Add => counts.add += 1,
                        Action::Update => counts.update += 1,
                        Action::Delete => counts.delete += 1,
                    }
                    let state = if change.action == Action::Delete {
                        ExportStatus::Deleted
                    } else {
                        ExportStatus::Applied
                    };
                    (state, Some(target), None)
                }
                ExportOutcome::Rejected(why) => {
                    self.report.error(
                        kind,
                        &id,
                        format!(
                            "{} rejected by the destination: {why}",
                            action_name(change.action)
                        ),
                    );
                    (ExportStatus::Rejected, None, Some(why))
                }
                ExportOutcome::Retry(why) => {
                    counts.retry += 1;
                    self.report.warn(
                        kind,
                        &id,
                        format!(
                            "{} goes again at the next export: {why}",
                            action_name(change.action)
                        ),
                    );
                    (ExportStatus::Retry, None, Some(why))
                }
            };
            rows.push(OutcomeRow {
                entity_id: id,
                kind: kind.cli_name().to_string(),
                state,
                target_id,
                hash: pending.hash,
                message,
            });
        }
        self.engine
            .store
            .record_export_outcomes(self.org_id, self.destination_id, self.run_id, &rows)
            .await?;
        for row in rows {
            let previous = self.states.remove(&row.entity_id);
            let applied = matches!(row.state, ExportStatus::Applied | ExportStatus::Deleted);
            let target_id = row
                .target_id
                .or_else(|| previous.as_ref().and_then(|p| p.target_id.clone()));
            let hash = if applied {
                Some(row.hash.clone())
            } else {
                previous.as_ref().and_then(|p| p.hash.clone())
            };
            self.states.insert(
                row.entity_id.clone(),
                ExportState {
                    entity_id: row.entity_id,
                    kind: row.kind,
                    target_id,
                    hash,
                    sent_hash: Some(row.hash),
                    state: row.state,
                    message: row.message,
                    run_id: self.run_id.to_string(),
                    updated_at: String::new(),
                },
            );
            self.done += 1;
        }
        if let Some(progress) = &self.progress {
            progress(self.done, None);
        }
        Ok(())
    }
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Add => "the add",
        Action::Update => "the update",
        Action::Delete => "the delete",
    }
}
