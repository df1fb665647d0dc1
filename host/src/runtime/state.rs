//! What a plugin's store holds, and the host side of every interface the
//! worlds import. Each call into the plugin goes through [`Sandbox::call`],
//! which sets the deadline (and fuel for rules) and turns any trap into a
//! [`PluginCallError`]; a store that trapped is never used again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::OwnedSemaphorePermit;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, StoreContextMut, Trap, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{http, log, settings, storage, types};
use super::error::{Failure, PluginCallError};
use super::{Limits, LoadedPlugin, Runtime};
use crate::capabilities::http::{ConnectionClient, HttpError, Method, OutboundRequest};
use crate::capabilities::log::{Level, PluginLog, ProgressSink, RECENT_LINES};
use crate::capabilities::sandbox::{CapturedOutput, wasi_context};
use crate::capabilities::storage::{KeyValue, MemoryKeyValue};

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
}

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
    output: CapturedOutput,
    log: PluginLog,
    settings: BTreeMap<String, String>,
    http: Option<Arc<ConnectionClient>>,
    storage: Arc<dyn KeyValue>,
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

    async fn set(&mut self, key: String, value: Vec<u8>) {
        if let Err(e) = self.storage.set(&key, &value).await {
            self.log
                .log(Level::Warn, &format!("host: storage set refused: {e}"));
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
    fuel: bool,
    _permit: OwnedSemaphorePermit,
}

impl Sandbox {
    pub(crate) async fn new(
        runtime: &Runtime,
        plugin: Arc<LoadedPlugin>,
        options: SessionOptions,
    ) -> Result<Sandbox, PluginCallError> {
        let id = plugin.package.id().to_string();
        let fail = |failure| PluginCallError {
            plugin: id.clone(),
            call: "start".into(),
            failure,
            recent_log: Vec::new(),
        };
        let permit = runtime
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| fail(Failure::Instantiate(e.to_string())))?;
        let (wasi, output) =
            wasi_context(options.drop_dir.as_deref()).map_err(|e| fail(Failure::Instantiate(e)))?;
        let kind = plugin.package.manifest.kind;
        let state = PluginState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                limit: runtime.limits.memory_bytes,
                hit: false,
            },
            output,
            log: PluginLog::new(id.clone(), options.progress),
            settings: options.settings,
            http: options.http,
            storage: options
                .storage
                .unwrap_or_else(|| Arc::new(MemoryKeyValue::default())),
            deadline: Instant::now() + runtime.limits.call_timeout,
        };
        let mut store = Store::new(runtime.engine_for(kind), state);
        store.limiter(|s| &mut s.limiter);
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
            fuel,
            _permit: permit,
        })
    }

    pub(crate) fn plugin_id(&self) -> &str {
        self.plugin.package.id()
    }

    pub(crate) fn timeout(&self) -> std::time::Duration {
        self.limits.call_timeout
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

    /// The error for a call that failed in the host's view; traps discard the store.
    pub(crate) fn failed(&mut self, call: &str, failure: Failure) -> PluginCallError {
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

    /// Classify an error from wasmtime.
    pub(crate) fn trapped(&mut self, call: &str, error: wasmtime::Error) -> PluginCallError {
        let oom = self.store.as_ref().is_some_and(|s| s.data().limiter.hit);
        let failure = match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Failure::Timeout(self.limits.call_timeout),
            Some(Trap::OutOfFuel) => Failure::OutOfFuel {
                budget: self.limits.rule_fuel,
            },
            _ if oom => Failure::OutOfMemory {
                limit_bytes: self.limits.memory_bytes,
            },
            Some(trap) => Failure::Trap(self.panic_message().unwrap_or_else(|| trap.to_string())),
            None => Failure::Trap(format!("{error:#}")),
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
        let lines = store.data().output.last_lines(RECENT_LINES);
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
        Some(format!("panic at {place}: {}", message.join(" ")))
    }

    /// What the plugin warned of since the last take (none once its store
    /// is gone), and how many more warnings were not kept.
    pub(crate) fn take_warnings(&mut self) -> (Vec<String>, u64) {
        match self.store.as_mut() {
            Some(store) => store.data_mut().log.take_warnings(),
            None => (Vec::new(), 0),
        }
    }

    fn recent_log(&self) -> Vec<String> {
        let Some(store) = self.store.as_ref() else {
            return Vec::new();
        };
        let mut lines = store.data().log.recent();
        lines.extend(store.data().output.last_lines(RECENT_LINES));
        let skip = lines.len().saturating_sub(RECENT_LINES);
        lines.split_off(skip)
    }
}
