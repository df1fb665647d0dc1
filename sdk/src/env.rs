//! What a connector needs from its surroundings, behind a trait: HTTP as the
//! connection, its settings, warnings and progress, and its small key-value
//! storage. In the component these are the host interfaces ([`HostEnv`]); a
//! connector's unit tests put a fake server behind the same trait, so every
//! path of the connector runs natively.

use crate::connector_bindings::homeroom::plugin::http::{
    self as host, HttpError, Request, Response,
};

pub trait Env {
    /// Send a request as the connection (the host adds the credentials).
    fn send(&mut self, request: &Request) -> Result<Response, HttpError>;
    /// A non-secret setting, none when empty.
    fn setting(&self, name: &str) -> Option<String>;
    fn warn(&mut self, message: &str);
    fn progress(&mut self, done: u64, total: Option<u64>);
    /// What is stored under `key` for this source, kept across runs.
    fn storage_get(&self, key: &str) -> Option<Vec<u8>>;
    /// Refused past the plugin's quota, with the host's reason.
    fn storage_set(&mut self, key: &str, value: &[u8]) -> Result<(), String>;
}

/// The host interfaces of the `connector` world.
pub struct HostEnv;

impl Env for HostEnv {
    fn send(&mut self, request: &Request) -> Result<Response, HttpError> {
        host::send(request)
    }

    fn setting(&self, name: &str) -> Option<String> {
        crate::settings::get(name)
    }

    fn warn(&mut self, message: &str) {
        crate::log::warn(message);
    }

    fn progress(&mut self, done: u64, total: Option<u64>) {
        crate::log::progress(done, total);
    }

    fn storage_get(&self, key: &str) -> Option<Vec<u8>> {
        crate::storage::get(key)
    }

    fn storage_set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        crate::storage::set(key, value)
    }
}
