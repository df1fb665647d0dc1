//! Failures of a plugin call, as an admin reads them: which plugin, which
//! call, what happened, what to do, and the plugin's last words.

use std::fmt;
use std::time::Duration;

use super::bindings::types::PluginError;

#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The call ran past its wall-clock limit (a loop, a hang).
    Timeout(Duration),
    /// The plugin tried to grow its memory past the limit.
    OutOfMemory { limit_bytes: usize },
    /// A rule used up its compute budget for one batch.
    OutOfFuel { budget: u64 },
    /// The plugin trapped: a panic, an abort, a stack that ran out, an
    /// access outside its memory. What happened, in the admin's words
    /// ("it ran out of stack (deep recursion)"); wasmtime's own words go to
    /// the host's log.
    Trap(String),
    /// The plugin returned an error of its own (bad settings, refused credentials...).
    Plugin { kind: &'static str, message: String },
    /// The plugin returned data the host will not accept.
    InvalidData(String),
    /// The plugin could not be started.
    Instantiate(String),
    /// An earlier call of this run trapped; its store was discarded.
    Discarded,
}

impl Failure {
    pub fn from_plugin_error(e: PluginError) -> Failure {
        let (kind, message) = match e {
            PluginError::Config(m) => ("configuration", m),
            PluginError::Auth(m) => ("authentication", m),
            PluginError::Unavailable(m) => ("unavailable", m),
            PluginError::RateLimited(m) => ("rate limited", m),
            PluginError::InvalidData(m) => ("invalid data", m),
            PluginError::Unsupported(m) => ("unsupported", m),
        };
        Failure::Plugin { kind, message }
    }

    /// The plugin's message when it said it does not do what was asked
    /// (`unsupported`): a source that does not offer a kind, say.
    pub fn unsupported(&self) -> Option<&str> {
        match self {
            Failure::Plugin {
                kind: "unsupported",
                message,
            } => Some(message),
            _ => None,
        }
    }

    /// True when the plugin itself broke (as opposed to reporting a problem).
    pub fn is_crash(&self) -> bool {
        matches!(
            self,
            Failure::Timeout(_)
                | Failure::OutOfMemory { .. }
                | Failure::OutOfFuel { .. }
                | Failure::Trap(_)
        )
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout(limit) => write!(
                f,
                "it ran past its time limit of {:.0?} and was stopped; if the source is just slow, raise the limit, otherwise report the hang to the plugin's vendor",
                limit
            ),
            Failure::OutOfMemory { limit_bytes } => write!(
                f,
                "it tried to use more than its memory limit of {} MiB and was stopped; report it to the plugin's vendor",
                limit_bytes / (1024 * 1024)
            ),
            Failure::OutOfFuel { budget } => write!(
                f,
                "it used up its compute budget of {budget} instructions for one batch and was stopped; simplify the rule or raise its budget"
            ),
            Failure::Trap(msg) => write!(f, "{msg}; report it to the plugin's vendor"),
            Failure::Plugin { kind, message } => write!(f, "{kind} error: {message}"),
            Failure::InvalidData(msg) => write!(
                f,
                "it returned data the host refuses: {msg}; nothing from this call was used"
            ),
            Failure::Instantiate(msg) => write!(f, "it could not be started: {msg}"),
            Failure::Discarded => write!(
                f,
                "an earlier call of this run crashed and its sandbox was discarded; start a new run"
            ),
        }
    }
}

/// A failed plugin call, with the context an admin needs.
#[derive(Debug, Clone, thiserror::Error)]
pub struct PluginCallError {
    pub plugin: String,
    pub call: String,
    pub failure: Failure,
    /// The plugin's last log lines and captured output, oldest first.
    pub recent_log: Vec<String>,
}

impl fmt::Display for PluginCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plugin `{}` failed in {}: {}",
            self.plugin, self.call, self.failure
        )?;
        if !self.recent_log.is_empty() {
            write!(f, "\n  last plugin output:")?;
            for line in &self.recent_log {
                write!(f, "\n    {line}")?;
            }
        }
        Ok(())
    }
}
