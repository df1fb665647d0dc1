//! A connector instance for one run: test the connection, list schools, read
//! pages, export changes (0.1.0 connectors `apply` them, through `compat`). Every page is checked at the boundary before the
//! pipeline sees it (`validate::page`, with the plugin's value cap and the
//! attribute-name rule); what the plugin says back (its connection message,
//! its outcomes' errors) is made printable and cut to its message cap.

use std::sync::Arc;

use super::bindings::connector::Connector;
use super::bindings::export_types::{ExportChange, ExportOutcome};
use super::bindings::types::{EntityKind, Page, School};
use super::bindings::v0_1_0::connector::Connector as ConnectorV1;
use super::compat;
use super::error::{Failure, PluginCallError};
use super::slots::Slot;
use super::state::{Sandbox, SessionOptions, plugin_call};
use super::{LoadedPlugin, Pre, Runtime, validate};

pub struct ConnectorSession {
    sandbox: Sandbox,
    instance: Instance,
}

/// An instance by the API version it speaks.
enum Instance {
    V2(Connector),
    V1(ConnectorV1),
}

/// Call `$method` on the instance's connector-api, whichever its version,
/// where both versions' calls take and give the same types.
macro_rules! connector_call {
    ($self:ident, $call:expr, |$store:ident, $api:ident| $body:expr) => {
        match &$self.instance {
            Instance::V2(i) => {
                let $api = i.homeroom_plugin_connector_api();
                plugin_call!($self.sandbox, $call, |$store| $body)
            }
            Instance::V1(i) => {
                let $api = i.homeroom_plugin_connector_api();
                plugin_call!($self.sandbox, $call, |$store| $body)
            }
        }
    };
}

/// Starts more instances of a connector with the grants of the first: the
/// same settings, storage and folder, and the same connection (one token,
/// one rate limit). A read uses them for the pages a connector lists ahead.
/// They report no progress: the first instance does.
#[derive(Clone)]
pub struct ConnectorFactory {
    runtime: Arc<Runtime>,
    plugin: Arc<LoadedPlugin>,
    options: SessionOptions,
}

impl ConnectorFactory {
    pub fn new(
        runtime: Arc<Runtime>,
        plugin: Arc<LoadedPlugin>,
        mut options: SessionOptions,
    ) -> ConnectorFactory {
        options.progress = None;
        ConnectorFactory {
            runtime,
            plugin,
            options,
        }
    }

    pub async fn start(&self) -> Result<ConnectorSession, PluginCallError> {
        ConnectorSession::start(&self.runtime, self.plugin.clone(), self.options.clone()).await
    }

    /// Whether another run waits for a slot (an extra instance should go).
    pub fn slot_wanted(&self) -> bool {
        self.runtime.slots.wanted()
    }

    /// One more instance only if a slot is free and no other run waits for
    /// one (the instances that read pages ahead are extras); none otherwise.
    pub async fn try_start(&self) -> Option<Result<ConnectorSession, PluginCallError>> {
        let slot = self.runtime.slots.try_acquire(&self.options.owner)?;
        Some(
            ConnectorSession::start_in(
                &self.runtime,
                self.plugin.clone(),
                self.options.clone(),
                Some(slot),
            )
            .await,
        )
    }
}

impl ConnectorSession {
    pub async fn start(
        runtime: &Runtime,
        plugin: Arc<LoadedPlugin>,
        options: SessionOptions,
    ) -> Result<ConnectorSession, PluginCallError> {
        Self::start_in(runtime, plugin, options, None).await
    }

    /// Start in `slot`, or in one taken in turn when none is given.
    async fn start_in(
        runtime: &Runtime,
        plugin: Arc<LoadedPlugin>,
        options: SessionOptions,
        slot: Option<Slot>,
    ) -> Result<ConnectorSession, PluginCallError> {
        let pre = match &plugin.pre {
            Pre::Connector(pre) => Ok(pre.clone()),
            Pre::ConnectorV1(pre) => Err(pre.clone()),
            Pre::Rule(_) | Pre::RuleV1(_) => {
                return Err(PluginCallError {
                    plugin: plugin.package.id().to_string(),
                    call: "start".into(),
                    failure: Failure::Instantiate("this plugin is a rule, not a connector".into()),
                    recent_log: Vec::new(),
                });
            }
        };
        let mut sandbox = match slot {
            Some(slot) => Sandbox::with_slot(runtime, plugin, options, slot).await?,
            None => Sandbox::new(runtime, plugin, options).await?,
        };
        let instance = match pre {
            Ok(pre) => Instance::V2(plugin_call!(sandbox, "start".to_string(), |store| pre
                .instantiate_async(store))?),
            Err(pre) => Instance::V1(plugin_call!(sandbox, "start".to_string(), |store| pre
                .instantiate_async(store))?),
        };
        Ok(ConnectorSession { sandbox, instance })
    }

    pub fn plugin_id(&self) -> &str {
        self.sandbox.plugin_id()
    }

    pub async fn test_connection(&mut self) -> Result<String, PluginCallError> {
        let call = "test-connection".to_string();
        let out = connector_call!(self, call.clone(), |store, api| api
            .call_test_connection(store))?;
        match out {
            Ok(message) => Ok(self.sandbox.said(&message)),
            Err(e) => Err(self.sandbox.failed(&call, Failure::from_plugin_error(e))),
        }
    }

    pub async fn list_schools(&mut self) -> Result<Vec<School>, PluginCallError> {
        let call = "list-schools".to_string();
        let out = connector_call!(self, call.clone(), |store, api| api
            .call_list_schools(store))?;
        let schools = out.map_err(|e| self.sandbox.failed(&call, Failure::from_plugin_error(e)))?;
        validate::schools(&schools)
            .map_err(|m| self.sandbox.failed(&call, Failure::InvalidData(m)))?;
        Ok(schools)
    }

    /// Read one page of `kind`. `since` asks for a delta.
    pub async fn read_page(
        &mut self,
        kind: EntityKind,
        since: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<Page, PluginCallError> {
        let call = format!("read({})", validate::kind_name(kind));
        let out = connector_call!(self, call.clone(), |store, api| api
            .call_read(store, kind, since, cursor))?;
        let page = out.map_err(|e| self.sandbox.failed(&call, Failure::from_plugin_error(e)))?;
        let checks = validate::Checks {
            value_bytes: self.sandbox.caps().value_bytes,
            names: true,
        };
        let notes = validate::page(kind, &page, cursor, checks)
            .map_err(|m| self.sandbox.failed(&call, Failure::InvalidData(m)))?;
        for note in notes {
            self.sandbox.host_warning(&note);
        }
        self.tell_breaches(kind, &page);
        Ok(page)
    }

    /// Records of the page that break the data contract
    /// (`model::contract`), told by record: the first few of a page each,
    /// then how many more.
    fn tell_breaches(&self, kind: EntityKind, page: &Page) {
        const TOLD_A_PAGE: usize = 10;
        let partial = self.sandbox.plugin.package.manifest.is_partial(kind);
        let mut breaking = 0usize;
        for e in &page.entities {
            let said = crate::model::contract::breaches(e, partial);
            if said.is_empty() {
                continue;
            }
            breaking += 1;
            if breaking <= TOLD_A_PAGE {
                for s in said {
                    self.sandbox.host_warning(&s);
                }
            }
        }
        if breaking > TOLD_A_PAGE {
            self.sandbox.host_warning(&format!(
                "{} more {} records of this page break the data contract as those above do",
                breaking - TOLD_A_PAGE,
                kind.cli_name()
            ));
        }
    }

    /// What the connector warned of since the last take, for the run
    /// report, and how many more warnings it gave past those kept.
    pub fn take_warnings(&mut self) -> (Vec<crate::capabilities::log::Warning>, u64) {
        self.sandbox.take_warnings()
    }

    /// The next page of a read, or none when the read is over. Refuses a
    /// cursor that comes back, so a read always ends.
    pub async fn next_page(
        &mut self,
        reader: &mut PageReader,
    ) -> Result<Option<Page>, PluginCallError> {
        if let Some(cursor) = reader.ahead.pop_front() {
            // A page listed ahead is read alone: its own cursors are not followed.
            let mut page = self
                .read_page(reader.kind, reader.since.as_deref(), Some(&cursor))
                .await?;
            page.next = None;
            page.ahead.clear();
            return Ok(Some(page));
        }
        if reader.done {
            return Ok(None);
        }
        let page = self
            .read_page(
                reader.kind,
                reader.since.as_deref(),
                reader.cursor.as_deref(),
            )
            .await?;
        match &page.next {
            None => reader.done = true,
            Some(next) => {
                if !reader.seen.insert(next.clone()) {
                    let call = format!("read({})", validate::kind_name(reader.kind));
                    return Err(self.sandbox.failed(
                        &call,
                        Failure::InvalidData(format!(
                            "the paging cursor `{}` came back a second time, so the read would never end",
                            validate::short(next)
                        )),
                    ));
                }
                reader.cursor = Some(next.clone());
            }
        }
        reader.ahead.extend(page.ahead.iter().cloned());
        Ok(Some(page))
    }

    /// Read every page of `kind`, handing each to `on_page`; stops at the first
    /// error. Returns the number of records read.
    pub async fn read_all<E>(
        &mut self,
        kind: EntityKind,
        since: Option<&str>,
        mut on_page: impl FnMut(Page) -> Result<(), E>,
    ) -> Result<u64, ReadError<E>> {
        let mut reader = PageReader::new(kind, since);
        let mut count = 0u64;
        while let Some(page) = self
            .next_page(&mut reader)
            .await
            .map_err(ReadError::Plugin)?
        {
            count += page.entities.len() as u64;
            on_page(page).map_err(ReadError::Sink)?;
        }
        Ok(count)
    }

    /// Export a batch of changes of one kind: one outcome per change, in
    /// order, each reason made printable and cut to the message cap, each
    /// destination id checked as an id is.
    pub async fn export(
        &mut self,
        changes: &[ExportChange],
    ) -> Result<Vec<ExportOutcome>, PluginCallError> {
        let call = format!("export({} changes)", changes.len());
        let out = match &self.instance {
            Instance::V2(i) => {
                let api = i.homeroom_plugin_connector_api();
                plugin_call!(self.sandbox, call.clone(), |store| api
                    .call_export_changes(store, changes))?
            }
            Instance::V1(i) => {
                let api = i.homeroom_plugin_connector_api();
                let changes = compat::changes_for_apply(changes);
                plugin_call!(self.sandbox, call.clone(), |store| api
                    .call_apply(store, &changes))?
                .map(|outcomes| outcomes.into_iter().map(compat::outcome_of_apply).collect())
            }
        };
        let mut outcomes: Vec<ExportOutcome> =
            out.map_err(|e| self.sandbox.failed(&call, Failure::from_plugin_error(e)))?;
        if outcomes.len() != changes.len() {
            return Err(self.sandbox.failed(
                &call,
                Failure::InvalidData(format!(
                    "{} outcomes came back for {} changes",
                    outcomes.len(),
                    changes.len()
                )),
            ));
        }
        for outcome in &mut outcomes {
            match outcome {
                ExportOutcome::Applied(id) => {
                    if let Err(why) = validate::target_id(id) {
                        return Err(self.sandbox.failed(&call, Failure::InvalidData(why)));
                    }
                }
                ExportOutcome::Rejected(why) | ExportOutcome::Retry(why) => {
                    *why = self.sandbox.said(why);
                }
            }
        }
        Ok(outcomes)
    }
}

/// Where a paged read of one kind stands.
pub struct PageReader {
    kind: EntityKind,
    since: Option<String>,
    cursor: Option<String>,
    seen: std::collections::HashSet<String>,
    /// Pages the last page listed ahead, read before its `next`.
    ahead: std::collections::VecDeque<String>,
    done: bool,
}

impl PageReader {
    pub fn new(kind: EntityKind, since: Option<&str>) -> PageReader {
        PageReader {
            kind,
            since: since.map(str::to_string),
            cursor: None,
            seen: Default::default(),
            ahead: Default::default(),
            done: false,
        }
    }

    pub fn kind(&self) -> EntityKind {
        self.kind
    }

    pub fn since(&self) -> Option<&str> {
        self.since.as_deref()
    }

    /// Take the pages listed ahead, to read them elsewhere (at once, on
    /// other instances) instead of one by one through this reader.
    pub fn take_ahead(&mut self) -> Vec<String> {
        self.ahead.drain(..).collect()
    }
}

/// Why [`ConnectorSession::read_all`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError<E> {
    #[error(transparent)]
    Plugin(PluginCallError),
    #[error("the host could not take the page")]
    Sink(E),
}
