//! Plugin log lines and progress: forwarded to `tracing` under the plugin's
//! name, and the most recent lines kept so a failure report can show what the
//! plugin said last. Lines are truncated so a plugin cannot flood memory.

use std::collections::VecDeque;
use std::sync::Arc;

/// How many recent lines a failure report shows.
pub const RECENT_LINES: usize = 20;
const MAX_LINE: usize = 2_000;

/// Called with (done, total) when a plugin reports progress.
pub type ProgressSink = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Warnings kept for the run report per instance, between two takes.
const KEEP_WARNINGS: usize = 200;

pub struct PluginLog {
    plugin: String,
    recent: VecDeque<String>,
    progress: Option<ProgressSink>,
    /// What the plugin warned of since the host last took its warnings
    /// (a date it could not read, a misspelled column): the run report
    /// shows them to the admin.
    warnings: Vec<String>,
    warnings_dropped: u64,
}

impl PluginLog {
    pub fn new(plugin: impl Into<String>, progress: Option<ProgressSink>) -> Self {
        PluginLog {
            plugin: plugin.into(),
            recent: VecDeque::with_capacity(RECENT_LINES),
            progress,
            warnings: Vec::new(),
            warnings_dropped: 0,
        }
    }

    /// A line the plugin itself logged: warnings are also kept for the run
    /// report (host lines, such as a retry, are logs only).
    pub fn from_plugin(&mut self, level: Level, message: &str) {
        self.log(level, message);
        if level == Level::Warn {
            if self.warnings.len() < KEEP_WARNINGS {
                self.warnings.push(message.chars().take(MAX_LINE).collect());
            } else {
                self.warnings_dropped += 1;
            }
        }
    }

    /// The plugin's warnings since the last take, and how many more there
    /// were past those kept.
    pub fn take_warnings(&mut self) -> (Vec<String>, u64) {
        let dropped = std::mem::take(&mut self.warnings_dropped);
        (std::mem::take(&mut self.warnings), dropped)
    }

    pub fn log(&mut self, level: Level, message: &str) {
        let mut line: String = message.chars().take(MAX_LINE).collect();
        if line.len() < message.len() {
            line.push('…');
        }
        let plugin = &self.plugin;
        match level {
            Level::Trace => tracing::trace!(plugin, "{line}"),
            Level::Debug => tracing::debug!(plugin, "{line}"),
            Level::Info => tracing::info!(plugin, "{line}"),
            Level::Warn => tracing::warn!(plugin, "{line}"),
            Level::Error => tracing::error!(plugin, "{line}"),
        }
        if self.recent.len() == RECENT_LINES {
            self.recent.pop_front();
        }
        self.recent
            .push_back(format!("{level:?}: {line}").to_lowercase_level());
    }

    pub fn progress(&self, done: u64, total: Option<u64>) {
        if let Some(sink) = &self.progress {
            sink(done, total);
        }
    }

    /// The last lines the plugin logged, oldest first.
    pub fn recent(&self) -> Vec<String> {
        self.recent.iter().cloned().collect()
    }
}

trait LowercaseLevel {
    fn to_lowercase_level(self) -> String;
}

impl LowercaseLevel for String {
    /// `Warn: text` reads better as `warn: text`; only the level is lowered.
    fn to_lowercase_level(mut self) -> String {
        if let Some(first) = self.get_mut(0..1) {
            first.make_ascii_lowercase();
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_recent_truncated_lines() {
        let mut log = PluginLog::new("p", None);
        for i in 0..50 {
            log.log(Level::Info, &format!("line {i}"));
        }
        log.log(Level::Warn, &"x".repeat(10_000));
        let recent = log.recent();
        assert_eq!(recent.len(), RECENT_LINES);
        assert_eq!(recent[0], "info: line 31");
        assert!(recent[RECENT_LINES - 1].starts_with("warn: xxx"));
        assert!(recent[RECENT_LINES - 1].chars().count() < 2_100);
    }
}
