//! What a plugin's store holds, and the host side of every interface the
//! worlds import. Each call into the plugin goes through `plugin_call!`,
//! which sets the deadline (and fuel for rules) and turns any trap into a
//! [`PluginCallError`] in the admin's words; a store that trapped is never
//! used again. Every failure passes [`Sandbox::failed`], which makes what the
//! plugin said printable and cuts it to the plugin's message cap.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, StoreContextMut, Trap, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{http, log, settings, storage, types};
use super::error::{Failure, PluginCallError};
use super::slots::{Owner, Slot};
use super::{Caps, Limits, LoadedPlugin, Runtime, validate};
use crate::capabilities::http::{ConnectionClient, HttpError, Method, OutboundRequest};
use crate::capabilities::log::{Level, LogCaps, PluginLog, ProgressSink, RECENT_LINES, one_line};
use crate::capabilities::sandbox::wasi_context;
use crate::capabilities::storage::{KeyValue, MemoryKeyValue, Quota};

/// Bytes a plugin may hand the host in one call (a page, a log line, a
/// value to store): wasmtime's "hostcall fuel", set so the message that
/// names it can say how much.
const HOSTCALL_BYTES: usize = 128 * 1024 * 1024;

/// What a run grants the plugin it starts.
#[derive(Clone, Default)]
pub struct SessionOptions {
    /// Non-secret settings the plugin may read.
    pub settings: BTreeMap<String, String>,
    /// The connection its HTTP requests go out as (connectors only).
    pub http: Option<Arc<ConnectionClient>>,
    /// Its scoped key-value storage (memory when none).
    pub storage: Option<Arc<dyn KeyValue>>,
    /// The file-drop folder it may read (file connectors only).
    pub drop_dir: Option<PathBuf>,
    pub progress: Option<ProgressSink>,
    /// Whose instance it is, for the fair share of instance slots (none:
    /// the operator's).
    pub owner: Owner,
    /// Told why the instance waits for a slot, and `None` once it has one.
    pub waiting: Option<WaitSink>,
}

/// Told why an instance waits for a slot (`Some`), and when it has one (`None`).
pub type WaitSink = Arc<dyn Fn(Option<String>) + Send + Sync>;

/// Memory limit that remembers it was hit, so a trap can be reported as
/// out-of-memory rather than a mystery crash.
pub(crate) struct MemoryLimiter {
    limit: usize,
    pub(crate) hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    /// Its log interface and its captured stdout and stderr.
    log: PluginLog,
    settings: BTreeMap<String, String>,
    http: Option<Arc<ConnectionClient>>,
    storage: Arc<dyn KeyValue>,
    quota: Quota,
    /// Storage writes refused since the warnings were last taken.
    storage_refused: u64,
    /// When the current call must end.
    deadline: Instant,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for PluginState {}

impl super::bindings::export_types::Host for PluginState {}

impl log::Host for PluginState {
    async fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Trace => Level::Trace,
            log::Level::Debug => Level::Debug,
            log::Level::Info => Level::Info,
            log::Level::Warn => Level::Warn,
            log::Level::Error => Level::Error,
        };
        self.log.from_plugin(level, &message);
    }

    async fn progress(&mut self, done: u64, total: Option<u64>) {
        self.log.progress(done, total);
    }
}

impl settings::Host for PluginState {
    async fn get(&mut self, name: String) -> Option<String> {
        self.settings.get(&name).cloned()
    }

    async fn all(&mut self) -> Vec<(String, String)> {
        self.settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl storage::Host for PluginState {
    async fn get(&mut self, key: String) -> Option<Vec<u8>> {
        match self.storage.get(&key).await {
            Ok(v) => v,
            Err(e) => {
                self.log
                    .log(Level::Warn, &format!("host: storage get failed: {e}"));
                None
            }
        }
    }

    /// A refusal goes back to the plugin (0.2.0's `set` returns it) and,
    /// the first of each page, into the run report as a warning (the rest
    /// are counted there) and a line of the host's log.
    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        match self.storage.set(&key, &value, self.quota).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let why = format!("the host refused to store `{}`: {e}", validate::short(&key));
                self.storage_refused += 1;
                if self.storage_refused == 1 {
                    self.log.host_warning(&why);
                }
                Err(why)
            }
        }
    }

    async fn delete(&mut self, key: String) {
        if let Err(e) = self.storage.delete(&key).await {
            self.log
                .log(Level::Warn, &format!("host: storage delete failed: {e}"));
        }
    }
}

impl http::Host for PluginState {
    async fn send(&mut self, request: http::Request) -> Result<http::Response, http::HttpError> {
        let Some(client) = self.http.clone() else {
            return Err(http::HttpError::Denied(
                "this plugin has no outbound connection configured".into(),
            ));
        };
        let method = match request.method {
            http::Method::Get => Method::Get,
            http::Method::Post => Method::Post,
            http::Method::Put => Method::Put,
            http::Method::Patch => Method::Patch,
            http::Method::Delete => Method::Delete,
        };
        let outbound = OutboundRequest {
            method,
            url: request.url,
            headers: request.headers,
            body: request.body,
        };
        match client.send(outbound).await {
            Ok(r) => Ok(http::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(e) => {
                let message = e.to_string();
                self.log.log(Level::Warn, &format!("host: http: {message}"));
                Err(match e {
                    HttpError::Denied(_) => http::HttpError::Denied(message),
                    HttpError::Timeout(_) => http::HttpError::Timeout(message),
                    HttpError::TooLarge(_) => http::HttpError::TooLarge(message),
                    HttpError::Connection(_) => http::HttpError::Connection(message),
                    HttpError::Auth(_) => http::HttpError::Auth(message),
                    HttpError::Invalid(_) => http::HttpError::Invalid(message),
                })
            }
        }
    }
}

/// Call into the plugin under the limits: arm the deadline (and fuel), run
/// `$body` with the store bound to `$store`, and turn a trap or a hung host
/// call into a [`PluginCallError`]. A store that trapped is never used again.
macro_rules! plugin_call {
    ($sandbox:expr, $call:expr, |$store:ident| $body:expr) => {{
        let call: String = $call;
        $sandbox.arm(&call)?;
        let grace = $sandbox.timeout() + std::time::Duration::from_secs(5);
        let outcome = {
            let $store = $sandbox.store_mut(&call)?;
            tokio::time::timeout(grace, $body).await
        };
        $sandbox.end_call();
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err($sandbox.trapped(&call, error)),
            Err(_elapsed) => {
                let failure = $crate::runtime::Failure::Timeout($sandbox.timeout());
                let err = $sandbox.failed(&call, failure);
                Err(err)
            }
        }
    }};
}
pub(crate) use plugin_call;

/// One plugin instance's store, alive for one run.
pub(crate) struct Sandbox {
    pub(crate) plugin: Arc<LoadedPlugin>,
    store: Option<Store<PluginState>>,
    limits: Limits,
    /// What this plugin may keep and say: its manifest's needs within the
    /// operator's maximum.
    caps: Caps,
    fuel: bool,
    /// The instance slot it holds while it lives.
    _slot: Slot,
}

impl Sandbox {
    pub(crate) async fn new(
        runtime: &Runtime,
        plugin: Arc<LoadedPlugin>,
        options: SessionOptions,
    ) -> Result<Sandbox, PluginCallError> {
        let waiting = options.waiting.clone();
        let slot = runtime
            .slots
            .acquire(&options.owner, |busy| {
                if let Some(sink) = &waiting {
                    sink(Some(busy.to_string()));
                }
            })
            .await;
        if let Some(sink) = &waiting {
            sink(None);
        }
        Self::with_slot(runtime, plugin, options, slot).await
    }

    /// A store for an instance that already holds its slot.
    pub(crate) async fn with_slot(
        runtime: &Runtime,
        plugin: Arc<LoadedPlugin>,
        options: SessionOptions,
        slot: Slot,
    ) -> Result<Sandbox, PluginCallError> {
        let id = plugin.package.id().to_string();
        let fail = |failure| PluginCallError {
            plugin: id.clone(),
            call: "start".into(),
            failure,
            recent_log: Vec::new(),
        };
        let (caps, notes) =
            Caps::granted(&plugin.package.manifest.needs, &runtime.limits.plugin_max);
        for note in notes {
            tracing::warn!(plugin = id.as_str(), "{note}");
        }
        let log = PluginLog::with_caps(
            id.clone(),
            options.progress,
            LogCaps {
                line_bytes: caps.message_bytes,
                per_call: runtime.limits.log_lines_per_call,
                per_run: runtime.limits.log_lines_per_run,
            },
        );
        let wasi = wasi_context(options.drop_dir.as_deref(), &log)
            .map_err(|e| fail(Failure::Instantiate(e)))?;
        let kind = plugin.package.manifest.kind;
        let state = PluginState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                limit: runtime.limits.memory_bytes,
                hit: false,
            },
            log,
            settings: options.settings,
            http: options.http,
            storage: options
                .storage
                .unwrap_or_else(|| Arc::new(MemoryKeyValue::default())),
            quota: caps.quota(),
            storage_refused: 0,
            deadline: Instant::now() + runtime.limits.call_timeout,
        };
        let mut store = Store::new(runtime.engine_for(kind), state);
        store.limiter(|s| &mut s.limiter);
        store.set_hostcall_fuel(HOSTCALL_BYTES);
        // Yield to the executor every tick so a busy plugin never starves the
        // host; trap once the call's deadline has passed.
        store.epoch_deadline_callback(|ctx: StoreContextMut<'_, PluginState>| {
            if Instant::now() >= ctx.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.set_epoch_deadline(1);
        let fuel = kind.is_rule();
        if fuel {
            store
                .set_fuel(runtime.limits.rule_fuel)
                .map_err(|e| fail(Failure::Instantiate(e.to_string())))?;
        }
        Ok(Sandbox {
            plugin,
            store: Some(store),
            limits: runtime.limits.clone(),
            caps,
            fuel,
            _slot: slot,
        })
    }

    pub(crate) fn plugin_id(&self) -> &str {
        self.plugin.package.id()
    }

    pub(crate) fn timeout(&self) -> std::time::Duration {
        self.limits.call_timeout
    }

    pub(crate) fn caps(&self) -> &Caps {
        &self.caps
    }

    /// What the plugin said, as one printable line within its message cap.
    pub(crate) fn said(&self, text: &str) -> String {
        one_line(text, self.caps.message_bytes)
    }

    /// A warning of the host's about this run, for the run report.
    pub(crate) fn host_warning(&self, message: &str) {
        if let Some(store) = self.store.as_ref() {
            store.data().log.host_warning(message);
        }
    }

    /// A call ended (whatever its outcome): its log is settled.
    pub(crate) fn end_call(&mut self) {
        if let Some(store) = self.store.as_ref() {
            store.data().log.end_call();
        }
    }

    pub(crate) fn store_mut(
        &mut self,
        call: &str,
    ) -> Result<&mut Store<PluginState>, PluginCallError> {
        let plugin = self.plugin_id().to_string();
        self.store.as_mut().ok_or_else(|| PluginCallError {
            plugin,
            call: call.to_string(),
            failure: Failure::Discarded,
            recent_log: Vec::new(),
        })
    }

    /// Arm the limits for a new call.
    pub(crate) fn arm(&mut self, call: &str) -> Result<(), PluginCallError> {
        let timeout = self.limits.call_timeout;
        let fuel = self.fuel.then_some(self.limits.rule_fuel);
        let store = self.store_mut(call)?;
        store.data_mut().deadline = Instant::now() + timeout;
        store.set_epoch_deadline(1);
        if let Some(fuel) = fuel {
            store.set_fuel(fuel).ok();
        }
        Ok(())
    }

    /// The error for a call that failed in the host's view; traps discard
    /// the store. What the plugin said in it is made printable and cut.
    pub(crate) fn failed(&mut self, call: &str, failure: Failure) -> PluginCallError {
        let max = self.caps.message_bytes;
        let failure = match failure {
            Failure::Plugin { kind, message } => Failure::Plugin {
                kind,
                message: one_line(&message, max),
            },
            Failure::Trap(message) => Failure::Trap(one_line(&message, max)),
            // The host's words around the plugin's: room for both.
            Failure::InvalidData(message) => {
                Failure::InvalidData(one_line(&message, max.saturating_mul(2)))
            }
            other => other,
        };
        let recent_log = self.recent_log();
        if failure.is_crash() {
            self.store = None;
        }
        PluginCallError {
            plugin: self.plugin_id().to_string(),
            call: call.to_string(),
            failure,
            recent_log,
        }
    }

    /// Classify an error from wasmtime, in the admin's words; wasmtime's
    /// own go to the host's log for the vendor.
    pub(crate) fn trapped(&mut self, call: &str, error: wasmtime::Error) -> PluginCallError {
        let oom = self.store.as_ref().is_some_and(|s| s.data().limiter.hit);
        tracing::warn!(
            plugin = self.plugin_id(),
            call,
            "the plugin stopped in the sandbox: {}",
            one_line(&format!("{error:#}"), 4_000)
        );
        let failure = match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Failure::Timeout(self.limits.call_timeout),
            Some(Trap::OutOfFuel) => Failure::OutOfFuel {
                budget: self.limits.rule_fuel,
            },
            _ if oom => Failure::OutOfMemory {
                limit_bytes: self.limits.memory_bytes,
            },
            Some(trap) => Failure::Trap(
                self.panic_message()
                    .unwrap_or_else(|| trap_words(*trap, &error)),
            ),
            None => Failure::Trap(error_words(&error)),
        };
        let err = self.failed(call, failure);
        // A trap always discards the store, whatever its kind.
        self.store = None;
        err
    }

    /// A Rust panic prints `thread '…' panicked at FILE:LINE:COL:` and then
    /// the message on the following lines.
    fn panic_message(&self) -> Option<String> {
        let store = self.store.as_ref()?;
        let lines = store.data().log.output_lines(RECENT_LINES);
        let at = lines.iter().rposition(|l| l.contains("panicked at"))?;
        let place = lines[at]
            .split("panicked at")
            .nth(1)
            .unwrap_or("")
            .trim()
            .trim_end_matches(':');
        let message: Vec<&str> = lines[at + 1..]
            .iter()
            .map(|l| l.trim())
            .take_while(|l| !l.starts_with("note:"))
            .collect();
        Some(format!("it panicked at {place}: {}", message.join(" ")))
    }

    /// What the plugin warned of since the last take (none once its store
    /// is gone), and how many more warnings were not kept.
    pub(crate) fn take_warnings(&mut self) -> (Vec<crate::capabilities::log::Warning>, u64) {
        let Some(store) = self.store.as_mut() else {
            return (Vec::new(), 0);
        };
        let state = store.data_mut();
        let refused = std::mem::take(&mut state.storage_refused);
        if refused > 1 {
            state.log.host_warning(&format!(
                "the host refused {} more storage writes after that one",
                refused - 1
            ));
        }
        state.log.take_warnings()
    }

    /// The run's log as the failure report shows it: its first lines, how
    /// many were not kept, its last lines (log interface, stdout, stderr).
    fn recent_log(&self) -> Vec<String> {
        match self.store.as_ref() {
            Some(store) => store.data().log.recent(),
            None => Vec::new(),
        }
    }
}

/// A trap in the admin's words (a Rust panic is read from its output first).
fn trap_words(trap: Trap, error: &wasmtime::Error) -> String {
    let words = match trap {
        Trap::StackOverflow => "it ran out of stack (deep recursion)",
        Trap::MemoryOutOfBounds if stack_ran_out(error) => "it ran out of stack (deep recursion)",
        Trap::MemoryOutOfBounds => "it read or wrote outside its memory (a bug in the plugin)",
        Trap::HeapMisaligned => "it made a misaligned memory access (a bug in the plugin)",
        Trap::TableOutOfBounds | Trap::IndirectCallToNull | Trap::BadSignature => {
            "it called a function that is not there (a bug in the plugin)"
        }
        Trap::IntegerOverflow => "an arithmetic overflow (a bug in the plugin)",
        Trap::IntegerDivisionByZero => "it divided by zero (a bug in the plugin)",
        Trap::BadConversionToInteger => {
            "it turned a number into an integer that cannot hold it (a bug in the plugin)"
        }
        Trap::UnreachableCodeReached => "it aborted (a panic or an abort, without a message)",
        Trap::AllocationTooLarge => "it asked for more memory at once than it may have",
        Trap::NullReference | Trap::ArrayOutOfBounds | Trap::CastFailure => {
            "it used an invalid reference (a bug in the plugin)"
        }
        Trap::InvalidChar => "it handed the host text that is not valid Unicode",
        _ => "it broke a rule of the WebAssembly sandbox (a bug in the plugin)",
    };
    words.to_string()
}

/// Whether an access outside memory is a stack that ran out. A Rust (LLVM)
/// plugin keeps its stack at the start of its memory and grows it down, so
/// deep recursion ends in an access just below address zero, which wasmtime
/// reports as outside memory. Told by the fault's address when wasmtime
/// gives it (the last 64 KiB of the 32-bit space), else by the backtrace:
/// at its full length and a few functions calling each other throughout.
fn stack_ran_out(error: &wasmtime::Error) -> bool {
    let below_zero = error.chain().any(|cause| {
        let text = cause.to_string();
        let Some(rest) = text.strip_prefix("memory fault at wasm address 0x") else {
            return false;
        };
        let hex: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
        u64::from_str_radix(&hex, 16).is_ok_and(|at| at >= 0xffff_0000)
    });
    below_zero || recursing(error)
}

/// Whether the backtrace is at least 16 frames of at most a quarter as
/// many functions: a recursion.
fn recursing(error: &wasmtime::Error) -> bool {
    let Some(trace) = error.downcast_ref::<wasmtime::WasmBacktrace>() else {
        return false;
    };
    let frames = trace.frames();
    if frames.len() < 16 {
        return false;
    }
    let functions: std::collections::HashSet<(Option<&str>, u32)> = frames
        .iter()
        .map(|f| (f.module().name(), f.func_index()))
        .collect();
    functions.len() * 4 <= frames.len()
}

/// An error from wasmtime that is not a trap, in the admin's words.
fn error_words(error: &wasmtime::Error) -> String {
    let text = format!("{error:#}");
    if text.contains("fuel allocated for hostcalls has been exhausted") {
        return format!(
            "it handed the host more than {} MiB in one call, more than the host takes (a page or a value far too large)",
            HOSTCALL_BYTES / (1024 * 1024)
        );
    }
    format!(
        "it stopped with an error in the sandbox ({})",
        one_line(&text, 500)
    )
}
