//! The WebAssembly runtime: one wasmtime `Engine` per kind of plugin (rules
//! are metered with fuel, connectors are not), components compiled once and
//! instantiated from an `InstancePre`, a fresh `Store` per run with a memory
//! limit and an epoch deadline, and a semaphore bounding live instances.
//!
//! It owns plugin execution and the boundary checks on what plugins return.
//! It does not decide what a plugin may do (that is `gallery::grant`), nor
//! implement the capabilities (that is `capabilities`), nor touch storage.

use crate::bindings;
mod connector;
mod error;
mod rule;
mod state;
mod validate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::Semaphore;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

pub use bindings::rule::exports::homeroom::plugin::rule_api::Verdict;
pub use connector::{ConnectorFactory, ConnectorSession, PageReader, ReadError};
pub use error::{Failure, PluginCallError};
pub use rule::{RuleSession, wire};
pub use state::SessionOptions;

use crate::gallery::{Package, PluginKind};
use state::PluginState;

/// How often the epoch advances; deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Resource limits for one plugin store.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Linear memory a store may grow to.
    pub memory_bytes: usize,
    /// Wall-clock time one call may take, host calls included.
    pub call_timeout: Duration,
    /// Fuel per rule batch (about one unit per WebAssembly instruction).
    pub rule_fuel: u64,
    /// Plugin instances alive at once in this process.
    pub max_instances: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 256 * 1024 * 1024,
            call_timeout: Duration::from_secs(120),
            rule_fuel: 2_000_000_000,
            max_instances: 16,
        }
    }
}

/// A compiled plugin, ready to instantiate many times.
pub struct LoadedPlugin {
    pub package: Arc<Package>,
    pre: Pre,
}

enum Pre {
    Connector(bindings::connector::ConnectorPre<PluginState>),
    Rule(bindings::rule::RulePre<PluginState>),
}

pub struct Runtime {
    connector_engine: Engine,
    rule_engine: Engine,
    connector_linker: Linker<PluginState>,
    rule_linker: Linker<PluginState>,
    pub(crate) limits: Limits,
    pub(crate) permits: Arc<Semaphore>,
    compiled: Mutex<HashMap<[u8; 32], Arc<LoadedPlugin>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("plugin `{plugin}` is not a valid WebAssembly component: {why}")]
    Compile { plugin: String, why: String },
    #[error("plugin `{plugin}` does not fit this host: {why}")]
    Link { plugin: String, why: String },
    #[error(
        "plugin `{plugin}` was built for {found}, which this host does not support (it supports homeroom:plugin@{supported}): ask the vendor for a build against {supported}"
    )]
    WorldVersion {
        plugin: String,
        found: String,
        supported: &'static str,
    },
}

fn engine(fuel: bool) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.consume_fuel(fuel);
    config.max_wasm_stack(1024 * 1024);
    if let Some(cache) = compile_cache() {
        config.cache(Some(cache));
    }
    Engine::new(&config)
}

/// Compiled plugins are cached on disk (keyed by the component's bytes and
/// the engine's settings), so a CLI command or a restart does not compile a
/// plugin again. `HOMEROOM_CACHE_DIR` moves it; `off` turns it off. Without
/// a usable cache the host compiles in memory and says so once.
fn compile_cache() -> Option<wasmtime::Cache> {
    let dir = match std::env::var("HOMEROOM_CACHE_DIR") {
        Ok(d) if d == "off" => return None,
        Ok(d) => std::path::PathBuf::from(d),
        Err(_) => {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .map(std::path::PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache"))
                })?;
            base.join("homeroom").join("wasmtime")
        }
    };
    let mut config = wasmtime::CacheConfig::new();
    config.with_directory(&dir);
    match wasmtime::Cache::new(config) {
        Ok(cache) => Some(cache),
        Err(e) => {
            tracing::warn!(
                "plugin compile cache at {} is unusable ({e:#}); compiling in memory",
                dir.display()
            );
            None
        }
    }
}

impl Runtime {
    pub fn new(limits: Limits) -> wasmtime::Result<Arc<Runtime>> {
        let connector_engine = engine(false)?;
        let rule_engine = engine(true)?;

        let mut connector_linker = Linker::new(&connector_engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut connector_linker)?;
        bindings::connector::Connector::add_to_linker::<_, HasSelf<_>>(
            &mut connector_linker,
            |s| s,
        )?;

        let mut rule_linker = Linker::new(&rule_engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut rule_linker)?;
        bindings::rule::Rule::add_to_linker::<_, HasSelf<_>>(&mut rule_linker, |s| s)?;

        let runtime = Arc::new(Runtime {
            connector_engine,
            rule_engine,
            connector_linker,
            rule_linker,
            permits: Arc::new(Semaphore::new(limits.max_instances)),
            limits,
            compiled: Mutex::new(HashMap::new()),
        });
        start_epoch_ticker(Arc::downgrade(&runtime));
        Ok(runtime)
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub(crate) fn engine_for(&self, kind: PluginKind) -> &Engine {
        if kind.is_rule() {
            &self.rule_engine
        } else {
            &self.connector_engine
        }
    }

    /// Compile a package (once per exact build) and pre-link it.
    pub fn load(&self, package: &Arc<Package>) -> Result<Arc<LoadedPlugin>, LoadError> {
        if let Some(loaded) = self
            .compiled
            .lock()
            .ok()
            .and_then(|c| c.get(&package.digest).cloned())
        {
            return Ok(loaded);
        }
        let plugin = package.id().to_string();
        let kind = package.manifest.kind;
        let engine = self.engine_for(kind);
        let component =
            Component::new(engine, &package.component).map_err(|e| LoadError::Compile {
                plugin: plugin.clone(),
                why: format!("{e:#}"),
            })?;
        check_world_version(&plugin, engine, &component, kind)?;
        let link = |e: wasmtime::Error| LoadError::Link {
            plugin: plugin.clone(),
            why: format!("{e:#}"),
        };
        let pre = if kind.is_rule() {
            let pre = self.rule_linker.instantiate_pre(&component).map_err(link)?;
            Pre::Rule(bindings::rule::RulePre::new(pre).map_err(link)?)
        } else {
            let pre = self
                .connector_linker
                .instantiate_pre(&component)
                .map_err(link)?;
            Pre::Connector(bindings::connector::ConnectorPre::new(pre).map_err(link)?)
        };
        let loaded = Arc::new(LoadedPlugin {
            package: package.clone(),
            pre,
        });
        if let Ok(mut cache) = self.compiled.lock() {
            cache.insert(package.digest, loaded.clone());
        }
        Ok(loaded)
    }
}

/// Refuse a component whose exports name another `homeroom:plugin` version,
/// with a message that says which it was built for.
fn check_world_version(
    plugin: &str,
    engine: &Engine,
    component: &Component,
    kind: PluginKind,
) -> Result<(), LoadError> {
    let wanted = if kind.is_rule() { "rule" } else { "connector" };
    let ty = component.component_type();
    let mut found = None;
    for (name, _) in ty.exports(engine) {
        if let Some(rest) = name.strip_prefix("homeroom:plugin/") {
            if rest == format!("{wanted}-api@{}", bindings::WORLD_VERSION) {
                return Ok(());
            }
            found = Some(format!("homeroom:plugin/{rest}"));
        }
    }
    Err(LoadError::WorldVersion {
        plugin: plugin.to_string(),
        found: found.unwrap_or_else(|| format!("no homeroom:plugin {wanted} export")),
        supported: bindings::WORLD_VERSION,
    })
}

/// Advance both engines' epochs every tick while the runtime lives.
fn start_epoch_ticker(runtime: Weak<Runtime>) {
    std::thread::Builder::new()
        .name("homeroom-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match runtime.upgrade() {
                    Some(rt) => {
                        rt.connector_engine.increment_epoch();
                        rt.rule_engine.increment_epoch();
                    }
                    None => return,
                }
            }
        })
        .ok();
}
