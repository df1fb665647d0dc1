//! OneRoster REST connector: reads any OneRoster 1.1 or 1.2 provider (orgs,
//! academic sessions, courses, classes, users, enrollments, demographics and
//! the gradebook) in full or by delta, and writes grades back. A provider
//! that offers rostering only is normal: the kinds it does not offer are
//! `unsupported` on their first page, and the connection test lists the
//! services found.
//!
//! The host holds the credentials and signs every request (OAuth 2.0 client
//! credentials or OAuth 1.0a, per the source's `auth` setting); this crate
//! only builds URLs, reads answers and maps records. Modules:
//!
//! - [`config`]: the settings (Service URL reduced to the server root,
//!   version, page size);
//! - [`fetch`]: one request, its errors as an admin reads them, and paging;
//! - [`read`]: the connection test, the schools, a page of one kind;
//! - [`apply`]: grade write-back;
//! - [`env`]: the host interfaces behind a trait, so tests run natively.
//!
//! The JSON → entity mapping itself lives in the SDK
//! ([`homeroom_sdk::oneroster`]), shared with the CSV connector.

pub mod apply;
pub mod config;
pub mod env;
pub mod fetch;
pub mod read;

use std::sync::Mutex;

use homeroom_sdk::prelude::*;

use config::Config;
use env::HostEnv;
use read::PageMark;

/// The previous page this instance read, to catch a server that repeats one.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
static LAST_PAGE: Mutex<Option<PageMark>> = Mutex::new(None);

struct OneRoster;

impl Connector for OneRoster {
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
        if cursor.is_none() {
            for note in &config.notes {
                log::info(note);
            }
        }
        let mut memory = LAST_PAGE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        read::read(
            &mut env,
            &config,
            kind,
            since.as_deref(),
            cursor.as_deref(),
            &mut memory,
        )
    }

    fn export_changes(changes: Vec<ExportChange>) -> Result<Vec<ExportOutcome>, PluginError> {
        let mut env = HostEnv;
        let config = Config::from_env(&env)?;
        Ok(apply::export(&mut env, &config, changes))
    }
}

homeroom_sdk::export_connector!(OneRoster);

#[cfg(test)]
mod tests;
