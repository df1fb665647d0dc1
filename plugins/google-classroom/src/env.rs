//! What the connector needs from its surroundings: HTTP as the connection,
//! its settings, warnings, and its small key-value storage (the cache of
//! student emails, the course list and topics of a read, the district-wide
//! categories and the courses still to get their topics). In the component
//! these are the host interfaces ([`HostEnv`]); the unit tests put a fake
//! Classroom behind the same trait, so every path of the connector runs
//! natively.

use homeroom_sdk::connector_bindings::homeroom::plugin::http::{
    self as host, HttpError, Request, Response,
};

pub trait Env {
    /// Send a request as the connection (the host adds the bearer token).
    fn send(&mut self, request: &Request) -> Result<Response, HttpError>;
    /// A non-secret setting, none when empty.
    fn setting(&self, name: &str) -> Option<String>;
    fn warn(&mut self, message: &str);
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
        homeroom_sdk::settings::get(name)
    }

    fn warn(&mut self, message: &str) {
        homeroom_sdk::log::warn(message);
    }

    fn storage_get(&self, key: &str) -> Option<Vec<u8>> {
        homeroom_sdk::storage::get(key)
    }

    fn storage_set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        homeroom_sdk::storage::set(key, value)
    }
}
