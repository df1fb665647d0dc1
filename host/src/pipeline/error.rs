//! What can stop the engine: `EngineError` for an operation refused or
//! unable to start, `RunError` for an import run that failed (the run's
//! report keeps its message, causes included), and `ReadFailure` for a
//! connector's read that stopped part-way.

use crate::capabilities::drops::DropError;
use crate::capabilities::http::HttpError;
use crate::config::ConfigError;
use crate::gallery::grant::GrantError;
use crate::gallery::package::PackageError;
use crate::runtime::{LoadError, PluginCallError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The source's configuration does not hold together.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The gallery has no such plugin, or its package will not open.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The source's settings and secrets do not give the plugin what its
    /// manifest needs.
    #[error(transparent)]
    Grant(#[from] GrantError),
    /// The connection the grant describes cannot be set up.
    #[error(transparent)]
    Connection(#[from] HttpError),
    /// The plugin's component will not compile or link.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The plugin failed as it started.
    #[error(transparent)]
    Plugin(#[from] PluginCallError),
    /// A file source's folder is not inside its organization's drop folder.
    #[error("source `{source_id}`: {error}")]
    Drop {
        source_id: String,
        #[source]
        error: DropError,
    },
    /// Anything else that keeps the operation from starting (a missing
    /// secret variable, a folder not set).
    #[error("{0}")]
    Setup(String),
    /// The object's state refuses the operation.
    #[error("{0}")]
    Refused(String),
}

/// Why an import run failed; nothing of it was committed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The run could not start: settings, secrets, plugins, the district's set-up.
    #[error(transparent)]
    Setup(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The connector's read stopped part-way.
    #[error("the read failed, nothing was committed: {0}")]
    Read(#[source] ReadFailure),
    /// A rule component failed on a page.
    #[error("{0}")]
    Rule(#[source] PluginCallError),
    /// More records failed mapping or validation than the source allows.
    #[error(
        "{errors} of {read} records ({:.1}%) failed mapping or validation, more than the {:.1}% this source allows; nothing was committed. The errors name each record and why",
        share * 100.0,
        allowed * 100.0
    )]
    TooManyErrors {
        errors: u64,
        read: u64,
        share: f64,
        allowed: f64,
    },
    /// The run's lease ran out while it read (this process stalled), and
    /// another worker took the run over.
    #[error("the run's lease ran out and another worker took it over")]
    Abandoned,
}

/// Why the connector's reader stopped before the end.
#[derive(Debug, thiserror::Error)]
pub enum ReadFailure {
    #[error(transparent)]
    Plugin(#[from] PluginCallError),
    #[error("no connector instance is left to read with")]
    NoInstance,
    #[error("a page reader stopped: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("the connector's reader stopped before the end")]
    Stopped,
}

impl RunError {
    /// The failure as the run's report keeps it: the message, then each
    /// cause not already in it.
    pub fn report_text(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            let line = c.to_string();
            if !text.contains(&line) {
                text.push_str(": ");
                text.push_str(&line);
            }
            cause = c.source();
        }
        text
    }
}
