//! PowerSchool SIS connector: reads the PowerSchool API with plugin OAuth
//! (the district installs a plugin that grants data access; the host does
//! the client-credentials grant at `/oauth/access_token` with the plugin's
//! client id and secret, and adds the token): the district, schools, terms,
//! courses, sections (as classes), section enrollments, students, staff, and
//! guardians through a PowerQuery. Paged by `page` / `pagesize`, the size
//! bounded by the server's metadata, each resource's `/count` first.
//!
//! Modules:
//!
//! - [`config`]: the settings (the server, page size, guardians
//!   PowerQuery, the organization mapping);
//! - [`fetch`]: one request, its errors as an admin reads them, collection
//!   bodies (a collection of one as an object), counts;
//! - [`map`]: PowerSchool records as canonical entities;
//! - [`read`]: the connection test, the schools, a page of one kind;
//! - [`export`]: students created and updated in PowerSchool (username,
//!   password and school enrollment never changed after creation), parents
//!   on their children's records.
//!
//! The host's interfaces come through the SDK's [`homeroom_sdk::env::Env`],
//! so the unit tests run every path natively against a fake PowerSchool.

pub mod config;
pub mod export;
pub mod fetch;
pub mod map;
pub mod read;

use homeroom_sdk::env::HostEnv;
use homeroom_sdk::prelude::*;

use config::Config;

struct PowerSchool;

impl Connector for PowerSchool {
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

    fn export_changes(changes: Vec<ExportChange>) -> Result<Vec<ExportOutcome>, PluginError> {
        let mut env = HostEnv;
        let config = Config::from_env(&env)?;
        export::export(&mut env, &config, &changes)
    }
}

homeroom_sdk::export_connector!(PowerSchool);

#[cfg(test)]
mod tests;
