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

/// A URL setting as a service's root: a web address (http or https, no
/// query or fragment) without its trailing `/` or any of `suffixes` (the
/// version base paths an admin may paste with it, any case). `label` and
/// `example` name the setting and a right value in the error.
pub fn service_root(
    url: &str,
    suffixes: &[&str],
    label: &str,
    example: &str,
) -> Result<String, PluginError> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://"))
        || url.contains(['?', '#', ' '])
    {
        return Err(PluginError::Config(format!(
            "the {label} `{url}` is not a web address: enter it as {example}"
        )));
    }
    let mut root = url.trim_end_matches('/').to_string();
    for suffix in suffixes {
        if root
            .to_ascii_lowercase()
            .ends_with(&suffix.to_ascii_lowercase())
        {
            root.truncate(root.len() - suffix.len());
        }
    }
    Ok(root)
}

/// The Page size setting: `default` when empty, else a whole number from 1
/// to `max` (the most the source serves).
pub fn page_size(value: Option<&str>, default: u64, max: u64) -> Result<u64, PluginError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                PluginError::Config(format!(
                    "the Page size `{v}` must be a whole number from 1 to {max}"
                ))
            }),
    }
}

/// Settings from `(name, value)` pairs, in the shape a connector's
/// `Config::from_settings` reads them (its unit tests' settings).
pub fn from_pairs<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

pub fn all() -> Vec<(String, String)> {
    host::all()
}
