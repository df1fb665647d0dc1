//! The WebAssembly runtime: one wasmtime `Engine` per kind of plugin (rules
//! are metered with fuel, connectors are not), components compiled once and
//! instantiated from an `InstancePre`, a fresh `Store` per run with a memory
//! limit and an epoch deadline, and a semaphore bounding live instances.
//!
//! It owns plugin execution and the boundary checks on what plugins return.
//! It does not decide what a plugin may do (that is `gallery::grant`), nor
//! implement the capabilities (that is `capabilities`), nor touch storage.

use crate::bindings;
mod compat;
mod connector;
mod error;
mod rule;
pub mod slots;
mod state;
pub mod validate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

pub use bindings::rule::exports::homeroom::plugin::rule_api::Verdict;
pub use connector::{ConnectorFactory, ConnectorSession, PageReader, ReadError};
pub use error::{Failure, PluginCallError};
pub use rule::{RuleSession, wire};
pub use slots::{Busy, Owner, Slot, Slots};
pub use state::{SessionOptions, WaitSink};

use crate::capabilities::storage::Quota;
use crate::gallery::manifest::Needs;
use crate::gallery::{Package, PluginKind};
use state::PluginState;

/// How often the epoch advances; deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Resource limits for one plugin store, and the operator's maxima for what
/// a plugin may keep and say.
///
/// `Limits::default()` is [`Limits::builtin`] with the operator's
/// environment variables applied: `HOMEROOM_PLUGIN_MAX_STORAGE_KEYS`,
/// `HOMEROOM_PLUGIN_MAX_STORAGE_BYTES`, `HOMEROOM_PLUGIN_MAX_VALUE_BYTES`,
/// `HOMEROOM_PLUGIN_MAX_REASON_BYTES`, `HOMEROOM_PLUGIN_MAX_MESSAGE_BYTES`
/// (the fields of [`Limits::plugin_max`]; sizes in bytes, or with `KiB`,
/// `MiB` or `GiB`), `HOMEROOM_PLUGIN_LOG_LINES_PER_CALL` and
/// `HOMEROOM_PLUGIN_LOG_LINES_PER_RUN`.
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
    /// The most any plugin gets, whatever its manifest's `[needs]` ask:
    /// a plugin gets [`Caps::DEFAULT`], or what it asks for, within these.
    pub plugin_max: Caps,
    /// Plugin log and output lines the host's log shows per call, and per
    /// run; past them lines are counted (the count and the last lines are
    /// shown when the call or the run ends).
    pub log_lines_per_call: u64,
    pub log_lines_per_run: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::builtin().with_env()
    }
}

/// What a plugin may keep and say, per plugin and source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Keys in its storage for one source.
    pub storage_keys: u64,
    /// Bytes of values in its storage for one source.
    pub storage_bytes: u64,
    /// Bytes of one attribute value it returns (a list's items together).
    pub value_bytes: usize,
    /// Bytes of one reason a rule gives for a record it leaves out.
    pub reason_bytes: usize,
    /// Bytes of one message: an error, a warning, a log or output line.
    pub message_bytes: usize,
}

impl Caps {
    /// What a plugin gets when its manifest asks for nothing.
    pub const DEFAULT: Caps = Caps {
        storage_keys: Quota::DEFAULT.keys,
        storage_bytes: Quota::DEFAULT.bytes,
        value_bytes: validate::VALUE_BYTES,
        reason_bytes: 1024,
        message_bytes: crate::capabilities::log::MESSAGE_BYTES,
    };

    /// The most a manifest may ask for, unless the operator says otherwise.
    pub const MAXIMUM: Caps = Caps {
        storage_keys: 100_000,
        storage_bytes: 512 * 1024 * 1024,
        value_bytes: 1024 * 1024,
        reason_bytes: 16 * 1024,
        message_bytes: 16 * 1024,
    };

    /// What a plugin whose manifest states `needs` gets under the operator's
    /// `max`: what it asks for or the default, never past `max`. Each need
    /// past `max` is named in the notes.
    pub fn granted(needs: &Needs, max: &Caps) -> (Caps, Vec<String>) {
        let mut notes = Vec::new();
        let mut pick = |name: &str, asked: Option<u64>, default: u64, max: u64| -> u64 {
            let want = asked.unwrap_or(default);
            if want > max {
                if asked.is_some() {
                    notes.push(format!(
                        "its manifest asks for {name} = {want}, past the operator's maximum of {max}: it gets {max}"
                    ));
                }
                max
            } else {
                want
            }
        };
        let d = Caps::DEFAULT;
        let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let caps = Caps {
            storage_keys: pick(
                "storage_keys",
                needs.storage_keys,
                d.storage_keys,
                max.storage_keys,
            ),
            storage_bytes: pick(
                "storage_bytes",
                needs.storage_bytes,
                d.storage_bytes,
                max.storage_bytes,
            ),
            value_bytes: to_usize(pick(
                "value_bytes",
                needs.value_bytes,
                d.value_bytes as u64,
                max.value_bytes as u64,
            )),
            reason_bytes: to_usize(pick(
                "reason_bytes",
                needs.reason_bytes,
                d.reason_bytes as u64,
                max.reason_bytes as u64,
            )),
            message_bytes: to_usize(pick(
                "message_bytes",
                needs.message_bytes,
                d.message_bytes as u64,
                max.message_bytes as u64,
            )),
        };
        (caps, notes)
    }

    /// Its storage part.
    pub fn quota(&self) -> Quota {
        Quota {
            keys: self.storage_keys,
            bytes: self.storage_bytes,
        }
    }
}

impl Limits {
    /// The built-in limits, without the environment's.
    pub fn builtin() -> Limits {
        Limits {
            memory_bytes: 256 * 1024 * 1024,
            call_timeout: Duration::from_secs(120),
            rule_fuel: 2_000_000_000,
            max_instances: 16,
            plugin_max: Caps::MAXIMUM,
            log_lines_per_call: 200,
            log_lines_per_run: 5_000,
        }
    }

    /// These limits with the operator's environment variables applied (see
    /// [`Limits`]); a variable that does not read as a number is said and
    /// left out.
    pub fn with_env(self) -> Limits {
        self.with_vars(|name| std::env::var(name).ok())
    }

    fn with_vars(mut self, var: impl Fn(&str) -> Option<String>) -> Limits {
        let read = |name: &str, current: u64| -> u64 {
            let Some(text) = var(name) else {
                return current;
            };
            match parse_amount(&text) {
                Some(n) => n,
                None => {
                    tracing::warn!(
                        "{name}={text:?} is not a number (a count, or bytes with KiB, MiB or GiB): using {current}"
                    );
                    current
                }
            }
        };
        let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let m = &mut self.plugin_max;
        m.storage_keys = read("HOMEROOM_PLUGIN_MAX_STORAGE_KEYS", m.storage_keys);
        m.storage_bytes = read("HOMEROOM_PLUGIN_MAX_STORAGE_BYTES", m.storage_bytes);
        m.value_bytes = to_usize(read(
            "HOMEROOM_PLUGIN_MAX_VALUE_BYTES",
            m.value_bytes as u64,
        ));
        m.reason_bytes = to_usize(read(
            "HOMEROOM_PLUGIN_MAX_REASON_BYTES",
            m.reason_bytes as u64,
        ));
        m.message_bytes = to_usize(read(
            "HOMEROOM_PLUGIN_MAX_MESSAGE_BYTES",
            m.message_bytes as u64,
        ));
        self.log_lines_per_call = read(
            "HOMEROOM_PLUGIN_LOG_LINES_PER_CALL",
            self.log_lines_per_call,
        );
        self.log_lines_per_run = read("HOMEROOM_PLUGIN_LOG_LINES_PER_RUN", self.log_lines_per_run);
        self
    }
}

/// `10000`, `64MiB`, `64 KiB`, `1 GiB`: a count, or a size in bytes.
fn parse_amount(text: &str) -> Option<u64> {
    let text = text.trim().replace('_', "");
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" | "bytes" => 1,
        "k" | "kib" => 1024,
        "m" | "mib" => 1024 * 1024,
        "g" | "gib" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// A compiled plugin, ready to instantiate many times.
pub struct LoadedPlugin {
    pub package: Arc<Package>,
    pre: Pre,
}

/// A pre-linked component, by what it is and the API version it speaks.
enum Pre {
    Connector(bindings::connector::ConnectorPre<PluginState>),
    Rule(bindings::rule::RulePre<PluginState>),
    /// `homeroom:plugin@0.1.0` (adapted by `compat`).
    ConnectorV1(bindings::v0_1_0::connector::ConnectorPre<PluginState>),
    RuleV1(bindings::v0_1_0::rule::RulePre<PluginState>),
}

pub struct Runtime {
    connector_engine: Engine,
    rule_engine: Engine,
    connector_linker: Linker<PluginState>,
    rule_linker: Linker<PluginState>,
    /// The same, for 0.1.0 components.
    connector_linker_v1: Linker<PluginState>,
    rule_linker_v1: Linker<PluginState>,
    pub(crate) limits: Limits,
    /// Live instances, shared fairly between organizations.
    pub(crate) slots: Arc<Slots>,
    compiled: Mutex<HashMap<[u8; 32], Arc<LoadedPlugin>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("plugin `{plugin}` is not a valid WebAssembly component: {why}")]
    Compile { plugin: String, why: String },
    #[error("plugin `{plugin}` does not fit this host: {why}")]
    Link { plugin: String, why: String },
    #[error(
        "plugin `{plugin}` was built for {found}, which this host does not support (it runs homeroom:plugin@{supported}): ask the vendor for a build against {newest}"
    )]
    WorldVersion {
        plugin: String,
        found: String,
        /// The versions this host runs, listed.
        supported: String,
        newest: &'static str,
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

        let mut connector_linker_v1 = Linker::new(&connector_engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut connector_linker_v1)?;
        bindings::v0_1_0::connector::Connector::add_to_linker::<_, HasSelf<_>>(
            &mut connector_linker_v1,
            |s| s,
        )?;
        let mut rule_linker_v1 = Linker::new(&rule_engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut rule_linker_v1)?;
        bindings::v0_1_0::rule::Rule::add_to_linker::<_, HasSelf<_>>(&mut rule_linker_v1, |s| s)?;

        let runtime = Arc::new(Runtime {
            connector_engine,
            rule_engine,
            connector_linker,
            rule_linker,
            connector_linker_v1,
            rule_linker_v1,
            slots: Slots::new(limits.max_instances),
            limits,
            compiled: Mutex::new(HashMap::new()),
        });
        start_epoch_ticker(Arc::downgrade(&runtime));
        Ok(runtime)
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The instance slots every plugin instance of this runtime takes.
    pub fn slots(&self) -> &Arc<Slots> {
        &self.slots
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
        let version = check_world_version(&plugin, engine, &component, kind)?;
        if version != package.manifest.world_version {
            return Err(LoadError::Link {
                plugin: plugin.clone(),
                why: format!(
                    "its manifest says world_version {}, but the component was built for homeroom:plugin@{version}: set world_version = \"{version}\" in manifest.toml",
                    package.manifest.world_version
                ),
            });
        }
        let link = |e: wasmtime::Error| LoadError::Link {
            plugin: plugin.clone(),
            why: format!("{e:#}"),
        };
        let v1 = version == "0.1.0";
        let linker = match (kind.is_rule(), v1) {
            (true, false) => &self.rule_linker,
            (true, true) => &self.rule_linker_v1,
            (false, false) => &self.connector_linker,
            (false, true) => &self.connector_linker_v1,
        };
        let pre = linker.instantiate_pre(&component).map_err(link)?;
        let pre = match (kind.is_rule(), v1) {
            (true, false) => Pre::Rule(bindings::rule::RulePre::new(pre).map_err(link)?),
            (true, true) => Pre::RuleV1(bindings::v0_1_0::rule::RulePre::new(pre).map_err(link)?),
            (false, false) => {
                Pre::Connector(bindings::connector::ConnectorPre::new(pre).map_err(link)?)
            }
            (false, true) => {
                Pre::ConnectorV1(bindings::v0_1_0::connector::ConnectorPre::new(pre).map_err(link)?)
            }
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

/// The `homeroom:plugin` version a component's exports speak, or a refusal
/// naming the version it was built for and those this host runs.
fn check_world_version(
    plugin: &str,
    engine: &Engine,
    component: &Component,
    kind: PluginKind,
) -> Result<&'static str, LoadError> {
    let wanted = if kind.is_rule() { "rule" } else { "connector" };
    let ty = component.component_type();
    let mut found = None;
    for (name, _) in ty.exports(engine) {
        if let Some(rest) = name.strip_prefix("homeroom:plugin/") {
            let version = rest
                .strip_prefix(&format!("{wanted}-api@"))
                .and_then(|v| bindings::WORLD_VERSIONS.iter().find(|s| **s == v));
            if let Some(version) = version {
                return Ok(version);
            }
            found = Some(format!("homeroom:plugin/{rest}"));
        }
    }
    Err(LoadError::WorldVersion {
        plugin: plugin.to_string(),
        found: found.unwrap_or_else(|| format!("no homeroom:plugin {wanted} export")),
        supported: bindings::WORLD_VERSIONS.join(", "),
        newest: bindings::WORLD_VERSION,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_gets_what_it_needs_within_the_operators_maximum() {
        let max = Caps::MAXIMUM;
        let (caps, notes) = Caps::granted(&Needs::default(), &max);
        assert_eq!(caps, Caps::DEFAULT);
        assert!(notes.is_empty());
        let needs = Needs {
            storage_keys: Some(50_000),
            value_bytes: Some(10 * 1024 * 1024),
            message_bytes: Some(100),
            ..Needs::default()
        };
        let (caps, notes) = Caps::granted(&needs, &max);
        assert_eq!(caps.storage_keys, 50_000);
        assert_eq!(caps.value_bytes, max.value_bytes, "past the maximum");
        assert_eq!(caps.message_bytes, 100, "a plugin may ask for less");
        assert_eq!(caps.storage_bytes, Caps::DEFAULT.storage_bytes);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("value_bytes = 10485760"), "{notes:?}");
        // An operator maximum below a default lowers the default too.
        let low = Caps {
            storage_keys: 10,
            ..max
        };
        assert_eq!(Caps::granted(&Needs::default(), &low).0.storage_keys, 10);
    }

    #[test]
    fn the_operator_sets_maxima_in_the_environment() {
        let vars = |name: &str| match name {
            "HOMEROOM_PLUGIN_MAX_STORAGE_BYTES" => Some("8 MiB".to_string()),
            "HOMEROOM_PLUGIN_MAX_STORAGE_KEYS" => Some("1_000".to_string()),
            "HOMEROOM_PLUGIN_MAX_VALUE_BYTES" => Some("lots".to_string()),
            "HOMEROOM_PLUGIN_LOG_LINES_PER_RUN" => Some("100".to_string()),
            _ => None,
        };
        let limits = Limits::builtin().with_vars(vars);
        assert_eq!(limits.plugin_max.storage_bytes, 8 * 1024 * 1024);
        assert_eq!(limits.plugin_max.storage_keys, 1_000);
        assert_eq!(limits.plugin_max.value_bytes, Caps::MAXIMUM.value_bytes);
        assert_eq!(limits.log_lines_per_run, 100);
        assert_eq!(parse_amount("64KiB"), Some(65_536));
        assert_eq!(parse_amount("2g"), Some(2 << 30));
        assert_eq!(parse_amount("-1"), None);
    }
}
