//! The application layer: every operation an admin, an operator, a viewer,
//! the command line or a worker performs. Each checks the
//! caller's role in the organization first (404 when it has none, 403 when
//! too low), does the work through the engine and the store, and writes an
//! audit row for every change. The REST API, the admin UI and the CLI are
//! faces over it: they parse, call an operation and show its answer, and
//! none of them reaches the store or the engine itself.
//!
//! Nothing here knows about HTTP, JSON bodies, HTML or a terminal; errors
//! are `AppError`, which each face shows in its own way.

mod auth;
mod error;
mod exports;
pub mod gradebook;
pub mod jobs;
pub mod kit;
pub mod local;
mod notifications;
mod organizations;
pub mod provider;
mod records;
pub mod review;
mod runs;
pub mod secrets;
mod sources;
pub mod vendors;
pub mod views;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::{Value as Json, json};

pub use auth::{Caller, Role, Session, hash_token, issue_token, random_id, same};
pub use error::{AppError, AppResult};
pub use notifications::{OrgSettingsUpdate, OrgSettingsView};
pub use organizations::SAMPLE_FOLDER;
use secrets::SecretBox;
use views::*;

use crate::bindings::types::EntityKind;
use crate::config::{DistrictConfig, Organization, SchoolsMode, SourceConfig};
use crate::gallery::Package;
use crate::model::kinds::{ADMIN_KINDS, admin_kind};
use crate::pipeline::{ActionRef, Engine, ImportOptions, Mode};
use crate::secret::Secret;
use crate::store::sync::CommitOutcome;
use crate::store::{AttrFilter, Run, RunStatus, SourceRow};

/// The organization a first start makes, so there is something to open.
pub const DEMO_ORG: (&str, &str) = ("demo", "Demo District");

/// The application: the engine, the key that seals secrets, and the live
/// progress of the runs this process reads. Cheap to clone.
#[derive(Clone)]
pub struct App(Arc<AppInner>);

/// What an `App` holds; its fields are the application layer's own.
pub struct AppInner {
    engine: Engine,
    secrets: SecretBox,
    /// Live progress of the runs this process is reading, by run id.
    progress: Mutex<HashMap<String, Arc<Mutex<Progress>>>>,
    /// The job queue workers take runs from; none: this process runs each
    /// queued run itself, right away.
    queue: Option<crate::queue::Queue>,
    /// The operator's SMTP relay for notifications.
    relay: Option<crate::notify::Relay>,
    /// For webhooks.
    http: reqwest::Client,
    /// The OneRoster provider's recent list queries.
    provider_cache: Mutex<provider::ListCache>,
    /// Vendors' writes, one at a time: each is a run of its own.
    vendor_writes: tokio::sync::Mutex<()>,
}

impl std::ops::Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// A file the operator keeps with the database: beside the SQLite file, or
/// in the working directory for any other database.
pub fn beside_database(db_url: &str, name: &str) -> std::path::PathBuf {
    use std::path::PathBuf;
    let file = db_url
        .strip_prefix("sqlite://")
        .or_else(|| db_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest).to_string());
    match file {
        Some(f) if !f.is_empty() && f != ":memory:" => match PathBuf::from(f).parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join(name),
            _ => PathBuf::from(name),
        },
        _ => PathBuf::from(name),
    }
}

/// An attribute and the values it may have.
pub type ValueFilter = (&'static str, &'static [&'static str]);

/// What a list's kind means: (entity kind, attribute filter). An admin
/// kind (`students`, `calendar`) or an entity kind.
pub fn list_kind(kind: &str) -> AppResult<(&'static str, Option<ValueFilter>)> {
    if let Some(k) = admin_kind(kind) {
        return Ok((k.entity.cli_name(), k.narrow));
    }
    EntityKind::ALL
        .into_iter()
        .map(EntityKind::cli_name)
        .find(|k| *k == kind)
        .map(|k| (k, None))
        .ok_or_else(|| {
            AppError::invalid(format!(
                "`{kind}` is not a kind of record: use {} or an entity kind ({})",
                ADMIN_KINDS
                    .iter()
                    .map(|k| k.name)
                    .collect::<Vec<_>>()
                    .join(", "),
                EntityKind::ALL.map(|k| k.cli_name()).join(", ")
            ))
        })
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Query of an entity list.
#[derive(Debug, Clone, Default)]
pub struct EntityQuery {
    pub kind: String,
    pub q: Option<String>,
    pub archived: bool,
    pub offset: i64,
    pub limit: i64,
}

impl App {
    pub fn new(engine: Engine, secrets: SecretBox) -> App {
        App::with_jobs(engine, secrets, None, None)
    }

    /// The application with a job queue for its runs and an SMTP relay for
    /// its notifications.
    pub fn with_jobs(
        engine: Engine,
        secrets: SecretBox,
        queue: Option<crate::queue::Queue>,
        relay: Option<crate::notify::Relay>,
    ) -> App {
        App(Arc::new(AppInner {
            engine,
            secrets,
            progress: Mutex::new(HashMap::new()),
            queue,
            relay,
            http: reqwest::Client::new(),
            provider_cache: Mutex::new(provider::ListCache::default()),
            vendor_writes: tokio::sync::Mutex::new(()),
        }))
    }

    /// Who holds the leases of the runs this process runs.
    pub fn worker_id(&self) -> &str {
        &self.engine.holder.id
    }

    pub async fn audit(
        &self,
        caller: &Caller,
        org: &str,
        action: &str,
        target: &str,
        detail: Json,
    ) -> AppResult<()> {
        self.engine
            .store()
            .audit(
                org,
                &caller.token_id,
                &caller.label(),
                action,
                target,
                &detail,
            )
            .await?;
        Ok(())
    }
}
