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
        // The output worth a line: not what the failure already says (a
        // denial the host logged, then the plugin returned, is said once),
        // and not Rust's hint to set RUST_BACKTRACE, which a plugin in the
        // sandbox cannot use.
        let failure = self.failure.to_string();
        let worth = |line: &&String| {
            let text = line.trim();
            // A line is `source: text` (`warn: host: http: text` for the
            // host's): the text is what follows the one-word labels.
            let mut said = text;
            for _ in 0..4 {
                if let Some((head, rest)) = said.split_once(": ")
                    && !head.contains(' ')
                {
                    said = rest;
                }
            }
            !text.contains("RUST_BACKTRACE") && !(said.len() > 12 && failure.contains(said.trim()))
        };
        let lines: Vec<&String> = self.recent_log.iter().filter(worth).collect();
        if !lines.is_empty() {
            write!(f, "\n  last plugin output:")?;
            for line in lines {
                write!(f, "\n    {line}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denial_is_said_once_and_the_backtrace_hint_is_left_out() {
        let denial = "https://evil.example/x is not an allowed host of this plugin: add allowed_hosts = [\"{service_url}\"] to its manifest, or check the Service URL";
        let e = PluginCallError {
            plugin: "acme".into(),
            call: "read(user)".into(),
            failure: Failure::Plugin {
                kind: "configuration",
                message: format!("reading users: {denial}"),
            },
            recent_log: vec![
                format!("warn: host: http: {denial}"),
                "stderr: thread 'main' panicked at src/lib.rs:3:5".into(),
                "stderr: note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace".into(),
            ],
        };
        let text = e.to_string();
        assert_eq!(text.matches("is not an allowed host").count(), 1, "{text}");
        assert!(!text.contains("RUST_BACKTRACE"), "{text}");
        assert!(text.contains("panicked at src/lib.rs:3:5"), "{text}");
    }
}
