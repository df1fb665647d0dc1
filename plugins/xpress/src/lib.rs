//! xPress Roster connector: reads an A4L xPress Roster provider (the SIF
//! xPress REST API) as the host signs in to it (the OAuth 2.0 password grant
//! and the API key are the host's; this crate never sees a secret): the
//! district and its schools (xLeas, xSchools), terms (xCalendars'
//! sessions), courses (xCourses), classes and their enrollments (xRosters),
//! and staff, students and contacts (xStaffs, xStudents, xContacts), in
//! full by `navigationPage` or as the changes since a `changesSinceMarker`.
//!
//! Modules:
//!
//! - [`config`]: the settings (the Service Base URL, the page size);
//! - [`fetch`]: one request with its paging headers, its errors as an admin
//!   reads them, and the records of an xPress collection body;
//! - [`map`]: xPress objects as canonical entities;
//! - [`read`]: the connection test, the schools, a page of one kind.
//!
//! It must not write anything to the provider (xPress Roster is read here
//! only) or keep anything but change markers in plugin storage.

pub mod config;
pub mod fetch;
pub mod map;
pub mod read;

use homeroom_sdk::env::HostEnv;
use homeroom_sdk::prelude::*;

use config::Config;

struct XPress;

impl Connector for XPress {
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
            "the xPress Roster connector only imports: xPress Roster is read-only here".into(),
        ))
    }
}

homeroom_sdk::export_connector!(XPress);

#[cfg(test)]
mod tests;
