//! Clever connector: reads the Clever Data API v3.0 or v3.1 with a district
//! token (a bearer token the host holds and adds): the district and its
//! schools, terms, courses, sections (as classes, and their students and
//! teachers as enrollments) and users of every role, in full by
//! `starting_after` paging or as a delta from the events API.
//!
//! Modules:
//!
//! - [`config`]: the settings (base URL and version, page size, the changes
//!   a quick import applies, which Clever fields identify users and classes);
//! - [`fetch`]: one request, its errors as an admin reads them, list bodies;
//! - [`map`]: Clever records as canonical entities;
//! - [`read`]: the connection test, the schools, a page of one kind (full,
//!   or from the events with checkpoints in plugin storage).
//!
//! The host's interfaces come through the SDK's [`homeroom_sdk::env::Env`],
//! so the unit tests run every path natively against a fake Clever.

pub mod config;
pub mod fetch;
pub mod map;
pub mod read;

use homeroom_sdk::env::HostEnv;
use homeroom_sdk::prelude::*;

use config::Config;

struct Clever;

impl Connector for Clever {
    fn test_connection() -> Result<String, PluginError> {
        let mut env = HostEnv;
        let config = Config::from_env(&env)?;
        read::test_connection(&mut env, &config)
    }

    fn list_schools() -> Result<Vec<School>, PluginError> {
        let mut env = HostEnv;
        let config = Config::from_env(&env)?;
        read::list_schools(&mut env, &config)
    }

    fn read(
        kind: EntityKind,
        since: Option<String>,
        cursor: Option<String>,
    ) -> Result<Page, PluginError> {
        let mut env = HostEnv;
        let config = Config::from_env(&env)?;
        read::read(&mut env, &config, kind, since.as_deref(), cursor.as_deref())
    }

    fn export_changes(_changes: Vec<ExportChange>) -> Result<Vec<ExportOutcome>, PluginError> {
        Err(PluginError::Unsupported(
            "the Clever connector only imports: Clever's Data API is read-only".into(),
        ))
    }
}

homeroom_sdk::export_connector!(Clever);

#[cfg(test)]
mod tests;
