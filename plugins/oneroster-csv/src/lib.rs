//! # OneRoster CSV connector
//!
//! Reads a OneRoster 1.1 or 1.2 CSV package that a SIS exports to a drop
//! folder (an SFTP folder the host preopens read-only at `/drop`): the files
//! themselves, a package one folder down, or a `.zip` of it, the newest when
//! there are several. The `path` setting names one instead.
//!
//! Each read pages through one file (`users.csv` for users, ...) a page of
//! `page_size` rows at a time; the cursor is the byte offset and line where
//! the next page starts, and the open reader is kept between pages, so memory
//! stays flat however large the district. `manifest.csv` says per file
//! whether it is `bulk`, `delta` (its rows, deletions as `tobedeleted`, are
//! returned whether or not the host asked for a delta) or `absent` (nothing
//! to read). Rows become entities through `homeroom_sdk::oneroster`, the same
//! mapping the REST connector uses, so a user reads the same from either.
//! OneRoster has no collection of user agents: they are users' `agents`, and
//! a read of `user-agent` is empty, as with the REST connector.
//!
//! A bad row (a wrong number of fields, no `sourcedId`, a date that is data,
//! like `startDate`, and is not a date) is logged with its file and line and
//! skipped; each file's read ends with a line counting what was read and
//! skipped, a line counting rows whose `dateLastModified` (only metadata) is
//! not a date and was read as unknown, and the references that point at
//! nothing in the package (orphans). A header without a column the version
//! requires fails the read with a message naming the file, the column and
//! the columns expected; a misspelled column name (`famillyName`) is read as
//! the column it plainly means, with a warning.
//!
//! Modules: `package` finds and opens the package (folder or zip),
//! `manifest` reads `manifest.csv`, `schema` knows each file's columns,
//! `rows` reads a file row by row from any position, `convert` turns a row
//! into an entity, `refs` finds orphans, `session` answers the host's calls.
//! Only this file calls the host.
// Natively (outside its tests) nothing reaches the modules: the entry
// points are the component's, built for wasm32 only.
#![cfg_attr(not(any(target_arch = "wasm32", test)), allow(dead_code))]

mod convert;
mod manifest;
mod package;
mod refs;
mod rows;
mod schema;
mod session;

use std::cell::RefCell;
use std::path::PathBuf;

use homeroom_sdk::prelude::*;

use session::{Line, Log, Session, Settings};

/// Where the host preopens the source's folder.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
const DROP_DIR: &str = "/drop";

thread_local! {
    /// The instance's session: a store lives for one run, so this does too.
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

// The host glue below runs only in the component (the export is made for
// wasm32 only); native tests drive `Session` directly.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn settings() -> Result<Settings, PluginError> {
    let page_size = settings::number("page_size", session::DEFAULT_PAGE_SIZE)?;
    Settings::checked(settings::get("path"), page_size)
}

/// Run `f` on the session (made on the first call) and send what it logged.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn with_session<T>(
    f: impl FnOnce(&mut Session, &mut Log) -> Result<T, PluginError>,
) -> Result<T, PluginError> {
    let settings = settings()?;
    let mut log = Log::default();
    let out = SESSION.with(|cell| {
        let mut slot = cell.borrow_mut();
        let session = slot.get_or_insert_with(|| Session::new(PathBuf::from(DROP_DIR), settings));
        f(session, &mut log)
    });
    for line in log.lines {
        match line {
            Line::Info(text) => log::info(&text),
            Line::Warn(text) => log::warn(&text),
        }
    }
    if let Some(done) = log.progress {
        log::progress(done, None);
    }
    out
}

struct OneRosterCsv;

impl Connector for OneRosterCsv {
    fn test_connection() -> Result<String, PluginError> {
        with_session(|s, log| s.test_connection(log))
    }

    fn list_schools() -> Result<Vec<School>, PluginError> {
        with_session(|s, log| s.list_schools(log))
    }

    fn read(
        kind: EntityKind,
        since: Option<String>,
        cursor: Option<String>,
    ) -> Result<Page, PluginError> {
        with_session(|s, log| s.read(kind, since.as_deref(), cursor.as_deref(), log))
    }

    fn export_changes(_changes: Vec<ExportChange>) -> Result<Vec<ExportOutcome>, PluginError> {
        Err(PluginError::Unsupported(
            "the OneRoster CSV connector only imports: a CSV drop folder cannot take changes back"
                .into(),
        ))
    }
}

homeroom_sdk::export_connector!(OneRosterCsv);

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests;
