//! Small key-value storage scoped to this plugin and this source.

use crate::connector_bindings::homeroom::plugin::storage as host;

pub fn get(key: &str) -> Option<Vec<u8>> {
    host::get(key)
}

pub fn get_string(key: &str) -> Option<String> {
    host::get(key).and_then(|v| String::from_utf8(v).ok())
}

/// Store `value` under `key`; refused, with the host's reason, past this
/// plugin's quota for the source (the manifest's `[needs]`).
pub fn set(key: &str, value: &[u8]) -> Result<(), String> {
    host::set(key, value)
}

pub fn delete(key: &str) {
    host::delete(key)
}
