//! Homeroom host: the trusted side of the hub. See ARCHITECTURE.md for the map.

pub mod api;
pub mod app;
pub mod bindings;
pub mod capabilities;
pub mod cli;
pub mod config;
pub mod gallery;
pub mod model;
pub mod notify;
pub mod pipeline;
pub mod provider;
pub mod queue;
pub mod reconcile;
pub mod runtime;
pub mod secret;
pub mod serve;
pub mod store;
pub mod ui;
pub mod web;
pub mod worker;

/// Paths the build produced, for the test suite.
#[doc(hidden)]
pub mod testing {
    /// Package folders of the test-only plugins (`tests/plugins/*`).
    pub const TEST_PLUGINS_DIR: &str = env!("HOMEROOM_TEST_PLUGINS");
}
