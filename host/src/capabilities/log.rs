//! Plugin log lines, captured stdout and stderr, and progress.
//!
//! Everything a plugin says goes through [`one_line`] before anyone sees it:
//! ANSI escape sequences, carriage returns, line feeds and every other C0 or
//! C1 control character are taken out, and the line is cut to the plugin's
//! message cap with "…". A plugin cannot paint the admin's terminal, fake a
//! line of the host's own output, or fill a report with one message.
//!
//! The lines of one run (its log interface and its stdout/stderr) go into one
//! [`PluginLog`], which keeps what a failure report shows: the run's first
//! lines, its last lines, and a count of those in between ("… 1,234,567 more
//! lines not kept"). Lines are forwarded to `tracing` under the plugin's name
//! up to a number per call and per run ([`LogCaps`]); past those they are
//! counted, and the count and the last lines of the call (or of the run, when
//! the run's allowance is spent) are traced when the call (or the run) ends.
//! So a plugin that logs in a loop costs the host a bounded amount of memory
//! and log output, whatever it writes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// How many of a run's first lines its log keeps.
pub const FIRST_LINES: usize = 5;
/// How many of a run's last lines its log keeps (a failure report shows
/// the first, a count of the lines between, and these).
pub const RECENT_LINES: usize = 20;
/// Longest message a plugin may say (an error, a warning, a log line) when
/// its manifest asks for nothing else, in bytes.
pub const MESSAGE_BYTES: usize = 2_000;
/// Lines of a call past its allowance that are traced when the call ends.
const TAIL_LINES: usize = 10;
/// Warnings kept for the run report per instance, between two takes.
const KEEP_WARNINGS: usize = 200;

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

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Which of a plugin's output streams a captured line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// How much of a plugin's talk the host keeps and traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogCaps {
    /// Longest line (log line, output line, warning), in bytes.
    pub line_bytes: usize,
    /// Lines traced per call; the rest of the call is counted.
    pub per_call: u64,
    /// Lines traced per run; the rest of the run is counted.
    pub per_run: u64,
}

impl Default for LogCaps {
    fn default() -> Self {
        LogCaps {
            line_bytes: MESSAGE_BYTES,
            per_call: 200,
            per_run: 5_000,
        }
    }
}

/// `text` as one line an admin may be shown: ANSI escape sequences (CSI,
/// OSC and the other ECMA-48 forms, in 7-bit and 8-bit spellings) and every
/// other C0 or C1 control character removed, line breaks and tabs turned to
/// one space, bidirectional overrides removed, and cut at a character
/// boundary to at most `max_bytes` bytes, "…" included, when it is longer.
pub fn one_line(text: &str, max_bytes: usize) -> String {
    let max_bytes = max_bytes.max('…'.len_utf8());
    let mut out = String::with_capacity(text.len().min(max_bytes));
    let mut chars = text.chars().peekable();
    let mut cut = false;
    while let Some(c) = chars.next() {
        let c = match c {
            '\u{1b}' => {
                skip_escape(&mut chars);
                continue;
            }
            '\u{9b}' => {
                skip_csi(&mut chars);
                continue;
            }
            // DCS, SOS, OSC, PM, APC: strings up to a terminator.
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => {
                skip_string(&mut chars);
                continue;
            }
            '\r' | '\n' | '\t' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                if out.is_empty() || out.ends_with(' ') {
                    continue;
                }
                ' '
            }
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                continue;
            }
            c if c.is_control() => continue,
            c => c,
        };
        if out.len() + c.len_utf8() > max_bytes {
            cut = true;
            break;
        }
        out.push(c);
    }
    if cut {
        while out.len() + '…'.len_utf8() > max_bytes {
            out.pop();
        }
        out.truncate(out.trim_end().len());
        out.push('…');
    } else {
        out.truncate(out.trim_end().len());
    }
    out
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// After ESC: the rest of the sequence it starts.
fn skip_escape(chars: &mut Chars<'_>) {
    match chars.peek().copied() {
        Some('[') => {
            chars.next();
            skip_csi(chars);
        }
        Some(']' | 'P' | 'X' | '^' | '_') => {
            chars.next();
            skip_string(chars);
        }
        // nF: intermediates, then one final byte.
        Some('\u{20}'..='\u{2f}') => {
            while chars
                .next_if(|c| ('\u{20}'..='\u{2f}').contains(c))
                .is_some()
            {}
            chars.next_if(|c| ('\u{30}'..='\u{7e}').contains(c));
        }
        // Fp, Fe, Fs: one byte.
        Some('\u{30}'..='\u{7e}') => {
            chars.next();
        }
        _ => {}
    }
}

/// After CSI: parameters and intermediates, then the final byte.
fn skip_csi(chars: &mut Chars<'_>) {
    while chars
        .next_if(|c| ('\u{20}'..='\u{3f}').contains(c))
        .is_some()
    {}
    chars.next_if(|c| ('\u{40}'..='\u{7e}').contains(c));
}

/// A control string: up to BEL or ST (ESC \ or 0x9C), terminator included.
fn skip_string(chars: &mut Chars<'_>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{07}' | '\u{9c}' => return,
            '\u{1b}' => {
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {}
        }
    }
}

/// `n` with thousands separators: 1,234,567.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// The line that stands for the lines a log did not keep.
fn not_kept(n: u64) -> String {
    let lines = if n == 1 { "line" } else { "lines" };
    format!("… {} more {lines} not kept", thousands(n))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Log(Level),
    Output(Stream),
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Log(level) => level.label(),
            Source::Output(stream) => stream.label(),
        }
    }

    /// The level it is traced at: stderr as a warning, stdout as info.
    fn level(self) -> Level {
        match self {
            Source::Log(level) => level,
            Source::Output(Stream::Stdout) => Level::Info,
            Source::Output(Stream::Stderr) => Level::Warn,
        }
    }
}

struct Entry {
    source: Source,
    /// Already cleaned and cut.
    text: String,
    traced: bool,
    /// The call it was said in.
    call: u64,
}

impl Entry {
    fn line(&self) -> String {
        format!("{}: {}", self.source.label(), self.text)
    }
}

/// Who gave a warning kept for the run report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The plugin said it (a date it could not read).
    Plugin,
    /// The host said it about the plugin (a storage write refused).
    Host,
}

/// A warning kept for the run report, one line, within the message cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub origin: Origin,
    pub text: String,
}

struct Book {
    plugin: String,
    caps: LogCaps,
    first: Vec<Entry>,
    recent: VecDeque<Entry>,
    /// Lines of the run.
    total: u64,
    /// The current call, counted from 0.
    call: u64,
    call_traced: u64,
    /// Lines of this call not traced.
    call_untraced: u64,
    run_traced: u64,
    /// Lines not traced and not yet counted in a traced summary.
    pending: u64,
    /// Whether the run's allowance was said to be spent.
    run_spent_said: bool,
    /// Bytes of stdout and stderr after their last line break.
    partial: [Vec<u8>; 2],
    warnings: Vec<Warning>,
    warnings_dropped: u64,
}

fn trace(plugin: &str, level: Level, text: &str) {
    match level {
        Level::Trace => tracing::trace!(plugin, "{text}"),
        Level::Debug => tracing::debug!(plugin, "{text}"),
        Level::Info => tracing::info!(plugin, "{text}"),
        Level::Warn => tracing::warn!(plugin, "{text}"),
        Level::Error => tracing::error!(plugin, "{text}"),
    }
}

fn trace_output(plugin: &str, stream: Stream, level: Level, text: &str) {
    let stream = stream.label();
    match level {
        Level::Warn | Level::Error => tracing::warn!(plugin, stream, "{text}"),
        _ => tracing::info!(plugin, stream, "{text}"),
    }
}

impl Book {
    fn trace_entry(&self, e: &Entry) {
        match e.source {
            Source::Log(level) => trace(&self.plugin, level, &e.text),
            Source::Output(stream) => trace_output(&self.plugin, stream, e.source.level(), &e.text),
        }
    }

    /// A line said: traced within the allowances, kept first or last.
    fn push(&mut self, source: Source, text: &str) {
        let text = one_line(text, self.caps.line_bytes);
        if text.is_empty() && matches!(source, Source::Output(_)) {
            return;
        }
        self.total += 1;
        let mut entry = Entry {
            source,
            text,
            traced: false,
            call: self.call,
        };
        if self.call_traced < self.caps.per_call && self.run_traced < self.caps.per_run {
            self.trace_entry(&entry);
            entry.traced = true;
            self.call_traced += 1;
            self.run_traced += 1;
        } else {
            if self.run_traced >= self.caps.per_run && !self.run_spent_said {
                self.run_spent_said = true;
                tracing::warn!(
                    plugin = self.plugin.as_str(),
                    "the plugin has said {} lines in this run: the rest are counted and its last lines shown when the run ends",
                    thousands(self.caps.per_run)
                );
            }
            self.call_untraced += 1;
            self.pending += 1;
        }
        if self.first.len() < FIRST_LINES {
            self.first.push(entry);
            return;
        }
        if self.recent.len() == RECENT_LINES {
            self.recent.pop_front();
        }
        self.recent.push_back(entry);
    }

    /// Lines not kept between the first and the last.
    fn dropped(&self) -> u64 {
        self.total - (self.first.len() + self.recent.len()) as u64
    }

    /// Trace the count of untraced lines and the last `TAIL_LINES` of them
    /// (of `call` only, when given); how many lines that traced. Every line
    /// it counts is accounted for, so no later count counts it again.
    fn trace_tail(&mut self, call: Option<u64>) -> u64 {
        let mut tail: Vec<usize> = self
            .recent
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, e)| !e.traced && call.is_none_or(|c| e.call == c))
            .map(|(i, _)| i)
            .take(TAIL_LINES)
            .collect();
        tail.reverse();
        let untraced = match call {
            Some(_) => self.call_untraced,
            None => self.pending,
        };
        let skipped = untraced.saturating_sub(tail.len() as u64);
        if skipped > 0 {
            tracing::warn!(plugin = self.plugin.as_str(), "{}", not_kept(skipped));
        }
        for &i in &tail {
            self.trace_entry(&self.recent[i]);
        }
        for e in self.recent.iter_mut() {
            if call.is_none_or(|c| e.call == c) {
                e.traced = true;
            }
        }
        self.pending -= untraced.min(self.pending);
        tail.len() as u64 + u64::from(skipped > 0)
    }

    fn flush_partial(&mut self) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = std::mem::take(&mut self.partial[stream.index()]);
            if !rest.is_empty() {
                self.push(Source::Output(stream), &String::from_utf8_lossy(&rest));
            }
        }
    }

    fn end_call(&mut self) {
        self.flush_partial();
        if self.call_untraced > 0 && self.run_traced < self.caps.per_run {
            let call = self.call;
            self.run_traced += self.trace_tail(Some(call));
        }
        self.call += 1;
        self.call_traced = 0;
        self.call_untraced = 0;
    }

    fn output(&mut self, stream: Stream, bytes: &[u8]) {
        // A line longer than the cap is kept only as far as `one_line`
        // needs to see that it is too long.
        let keep = self.caps.line_bytes + 4;
        let mut rest = bytes;
        while let Some(at) = rest.iter().position(|b| *b == b'\n') {
            let (line, after) = rest.split_at(at);
            rest = &after[1..];
            let mut partial = std::mem::take(&mut self.partial[stream.index()]);
            let room = keep.saturating_sub(partial.len());
            partial.extend_from_slice(&line[..line.len().min(room)]);
            self.push(Source::Output(stream), &String::from_utf8_lossy(&partial));
        }
        let partial = &mut self.partial[stream.index()];
        let room = keep.saturating_sub(partial.len());
        partial.extend_from_slice(&rest[..rest.len().min(room)]);
    }

    fn report(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.first.iter().map(Entry::line).collect();
        let dropped = self.dropped();
        if dropped > 0 {
            lines.push(not_kept(dropped));
        }
        lines.extend(self.recent.iter().map(Entry::line));
        lines
    }
}

impl Drop for Book {
    /// The run is over: what was counted and not shown, and its last lines.
    fn drop(&mut self) {
        self.flush_partial();
        if self.pending > 0 {
            self.trace_tail(None);
        }
    }
}

/// One run's log: the plugin's log lines and captured output, kept and
/// traced within [`LogCaps`]; the warnings it gave, for the run report;
/// its progress. Clones share the log (the captured output writes into it).
#[derive(Clone)]
pub struct PluginLog {
    book: Arc<Mutex<Book>>,
    progress: Option<ProgressSink>,
}

impl PluginLog {
    pub fn new(plugin: impl Into<String>, progress: Option<ProgressSink>) -> Self {
        PluginLog::with_caps(plugin, progress, LogCaps::default())
    }

    pub fn with_caps(
        plugin: impl Into<String>,
        progress: Option<ProgressSink>,
        caps: LogCaps,
    ) -> Self {
        PluginLog {
            book: Arc::new(Mutex::new(Book {
                plugin: plugin.into(),
                caps,
                first: Vec::with_capacity(FIRST_LINES),
                recent: VecDeque::with_capacity(RECENT_LINES),
                total: 0,
                call: 0,
                call_traced: 0,
                call_untraced: 0,
                run_traced: 0,
                pending: 0,
                run_spent_said: false,
                partial: [Vec::new(), Vec::new()],
                warnings: Vec::new(),
                warnings_dropped: 0,
            })),
            progress,
        }
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        // A panic while holding the lock leaves a log that is still whole.
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A line the plugin itself logged: warnings are also kept for the run
    /// report (host lines, such as a retry, are logs only).
    pub fn from_plugin(&self, level: Level, message: &str) {
        let mut book = self.book();
        book.push(Source::Log(level), message);
        if level == Level::Warn {
            book.keep_warning(Origin::Plugin, message);
        }
    }

    /// A warning of the host's about this plugin (a storage write refused,
    /// a record sent twice): logged, and kept for the run report.
    pub fn host_warning(&self, message: &str) {
        let mut book = self.book();
        book.push(Source::Log(Level::Warn), &format!("host: {message}"));
        book.keep_warning(Origin::Host, message);
    }

    /// The plugin's warnings since the last take, and how many more there
    /// were past those kept.
    pub fn take_warnings(&self) -> (Vec<Warning>, u64) {
        let mut book = self.book();
        let dropped = std::mem::take(&mut book.warnings_dropped);
        (std::mem::take(&mut book.warnings), dropped)
    }

    /// A line of the host's about this plugin (a retry): logged, not kept
    /// for the run report.
    pub fn log(&self, level: Level, message: &str) {
        self.book().push(Source::Log(level), message);
    }

    /// Bytes the plugin wrote to stdout or stderr.
    pub fn output(&self, stream: Stream, bytes: &[u8]) {
        self.book().output(stream, bytes);
    }

    /// A call into the plugin ended: its partial output lines are lines,
    /// and what it said past its allowance is counted in the host's log
    /// with its last lines.
    pub fn end_call(&self) {
        self.book().end_call();
    }

    pub fn progress(&self, done: u64, total: Option<u64>) {
        if let Some(sink) = &self.progress {
            sink(done, total);
        }
    }

    /// The run's log as a failure report shows it, oldest first: its first
    /// lines, how many were not kept, its last lines.
    pub fn recent(&self) -> Vec<String> {
        self.book().report()
    }

    /// The last `n` lines of stdout and stderr (as cleaned), oldest first:
    /// where a Rust panic says where and why.
    pub fn output_lines(&self, n: usize) -> Vec<String> {
        let book = self.book();
        let mut lines: Vec<String> = book
            .first
            .iter()
            .chain(book.recent.iter())
            .rev()
            .filter(|e| matches!(e.source, Source::Output(_)))
            .take(n)
            .map(|e| e.text.clone())
            .collect();
        lines.reverse();
        lines
    }
}

impl Book {
    fn keep_warning(&mut self, origin: Origin, message: &str) {
        if self.warnings.len() < KEEP_WARNINGS {
            let text = one_line(message, self.caps.line_bytes);
            self.warnings.push(Warning { origin, text });
        } else {
            self.warnings_dropped += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_and_last_lines_and_counts_the_rest() {
        let log = PluginLog::new("p", None);
        for i in 0..50 {
            log.log(Level::Info, &format!("line {i}"));
        }
        log.log(Level::Warn, &"x".repeat(10_000));
        let report = log.recent();
        assert_eq!(report.len(), FIRST_LINES + 1 + RECENT_LINES);
        assert_eq!(report[0], "info: line 0");
        assert_eq!(report[FIRST_LINES - 1], "info: line 4");
        assert_eq!(report[FIRST_LINES], "… 26 more lines not kept");
        assert_eq!(report[FIRST_LINES + 1], "info: line 31");
        let last = &report[report.len() - 1];
        assert!(
            last.starts_with("warn: xxx") && last.ends_with('…'),
            "{last}"
        );
        assert!(
            last.len() <= MESSAGE_BYTES + "warn: ".len(),
            "{}",
            last.len()
        );
    }

    #[test]
    fn a_short_log_is_kept_whole() {
        let log = PluginLog::new("p", None);
        for i in 0..(FIRST_LINES + RECENT_LINES) {
            log.log(Level::Info, &format!("line {i}"));
        }
        let report = log.recent();
        assert_eq!(report.len(), FIRST_LINES + RECENT_LINES);
        assert!(!report.iter().any(|l| l.contains("not kept")));
    }

    #[test]
    fn one_line_takes_out_escapes_and_breaks() {
        let fake = "\u{1b}[31mboom\u{1b}[0m\r\n\u{1b}[32m✔ run succeeded\u{1b}[0m\r\n";
        assert_eq!(one_line(fake, 100), "boom ✔ run succeeded");
        assert_eq!(
            one_line("a\u{1b}]0;title\u{7}b\u{1b}]8;;http://x\u{1b}\\c", 100),
            "abc"
        );
        assert_eq!(one_line("a\u{9b}2Jb\u{7}\u{0}\u{7f}\u{85}c", 100), "ab c");
        assert_eq!(one_line("a\u{1b}(Bb\u{1b}=c\u{1b}", 100), "abc");
        assert_eq!(one_line("evil\u{202e}txt.exe", 100), "eviltxt.exe");
        assert_eq!(one_line("tab\tand  spaces", 100), "tab and  spaces");
        let long = one_line(&"é".repeat(1_000), 11);
        assert_eq!(long, "éééé…");
        assert!(long.len() <= 11);
        assert_eq!(one_line("exactly", 7), "exactly");
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn output_is_cut_into_clean_lines() {
        let log = PluginLog::new("p", None);
        log.output(
            Stream::Stderr,
            b"thread 'main' panicked at src/lib.rs:1:2:\r\nbo",
        );
        log.output(Stream::Stderr, b"om\n\n");
        log.output(Stream::Stdout, b"no line break");
        assert_eq!(
            log.output_lines(10),
            ["thread 'main' panicked at src/lib.rs:1:2:", "boom"]
        );
        log.end_call();
        assert_eq!(log.output_lines(1), ["no line break"]);
        let huge = vec![b'y'; 1_000_000];
        log.output(Stream::Stdout, &huge);
        log.output(Stream::Stdout, b"\n");
        let last = log.output_lines(1).pop().unwrap();
        assert!(last.len() <= MESSAGE_BYTES && last.ends_with('…'));
    }

    /// What `tracing` printed while `f` ran.
    fn traced(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn tracing_gets_the_first_and_last_lines_of_a_flood_and_a_count() {
        let caps = LogCaps {
            line_bytes: 100,
            per_call: 10,
            per_run: 1_000,
        };
        let out = traced(|| {
            let log = PluginLog::with_caps("flooder", None, caps);
            for i in 0..100_000 {
                log.from_plugin(Level::Error, &format!("flood {i}\r\n\u{1b}[32mok"));
            }
            log.end_call();
        });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 10 + 1 + TAIL_LINES, "{out}");
        assert!(lines[0].contains("flood 0 ok"), "{out}");
        assert!(lines[9].contains("flood 9 ok"), "{out}");
        assert!(lines[10].contains("… 99,980 more lines not kept"), "{out}");
        assert!(lines[11].contains("flood 99990 ok"), "{out}");
        assert!(lines[20].contains("flood 99999 ok"), "{out}");
        assert!(!out.contains('\u{1b}') && !out.contains('\r'), "{out}");
    }

    #[test]
    fn tracing_stops_at_the_run_allowance_and_counts_to_the_end() {
        let caps = LogCaps {
            line_bytes: 100,
            per_call: 10,
            per_run: 25,
        };
        let out = traced(|| {
            let log = PluginLog::with_caps("chatty", None, caps);
            for call in 0..100 {
                for i in 0..20 {
                    log.log(Level::Info, &format!("call {call} line {i}"));
                }
                log.end_call();
            }
            drop(log);
        });
        let lines: Vec<&str> = out.lines().collect();
        // Call 0: 10 lines, the count, 10 last lines (22 in all); call 1:
        // 3 lines, then the allowance is spent (said once); at the end of
        // the run, the count and the run's last 10 lines.
        assert!(lines.len() < 50, "{out}");
        assert!(out.contains("the rest are counted"), "{out}");
        let end = lines[lines.len() - TAIL_LINES - 1];
        assert!(end.contains("more lines not kept"), "{out}");
        assert!(lines[lines.len() - 1].contains("call 99 line 19"), "{out}");
    }
}
