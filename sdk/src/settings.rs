//! The source's non-secret settings. Secrets never reach a plugin: the host
//! uses them to sign requests made through [`crate::http`].

use crate::wit::settings as host;
use crate::wit::types::PluginError;

/// A setting's value, or none when the admin left it empty.
pub fn get(name: &str) -> Option<String> {
    host::get(name).filter(|v| !v.trim().is_empty())
}

/// A setting the plugin cannot work without: a config error naming it otherwise.
pub fn required(name: &str) -> Result<String, PluginError> {
    get(name).ok_or_else(|| {
        PluginError::Config(format!(
            "the setting `{name}` is empty: fill it in the source's Delivery Config"
        ))
    })
}

/// A whole-number setting with a default; a config error when it is not a number.
pub fn number(name: &str, default: u64) -> Result<u64, PluginError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            PluginError::Config(format!(
                "the setting `{name}` must be a whole number, not `{v}`"
            ))
        }),
    }
}

pub fn all() -> Vec<(String, String)> {
    host::all()
}
