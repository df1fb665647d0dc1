//! Microsoft Entra ID connector: reads the tenant's users through Microsoft
//! Graph v1.0 with app-only access (the host does the OAuth 2.0 client
//! credentials grant and adds the token), as a second source beside a SIS:
//! the directory supplies emails and usernames, matched to the SIS's people
//! by employee id. Full reads page `/users` by `@odata.nextLink`; quick reads
//! call the `deltaLink` kept in plugin storage.
//!
//! Modules:
//!
//! - [`config`]: the settings (the Graph URL, the page size);
//! - [`fetch`]: one request, its errors as an admin reads them, OData pages;
//! - [`map`]: Graph users as canonical users;
//! - [`read`]: the connection test and a page of users (full, or from a
//!   deltaLink with checkpoints in plugin storage).
//!
//! The host's interfaces come through the SDK's [`homeroom_sdk::env::Env`],
//! so the unit tests run every path natively against a fake Graph.

pub mod config;
pub mod fetch;
pub mod map;
pub mod read;

use homeroom_sdk::env::HostEnv;
use homeroom_sdk::prelude::*;

use config::Config;

struct Entra;

impl Connector for Entra {
    fn test_connection() -> Result<String, PluginError> {
        let mut env = HostEnv;
        let config = Config::from_env(&env)?;
        read::test_connection(&mut env, &config)
    }

    fn list_schools() -> Result<Vec<School>, PluginError> {
        // Users only: the SIS names the schools.
        Ok(Vec::new())
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
            "the Entra ID connector only imports: Homeroom does not write to the directory".into(),
        ))
    }
}

homeroom_sdk::export_connector!(Entra);

#[cfg(test)]
mod tests;
