//! The source's settings, read once per call: where the provider's xPress
//! objects are (the Service Base URL, without a trailing `/` or a pasted
//! `/xLeas`) and the page size (the delivery config's Name is the host's). Nothing here sends a
//! request; the credentials are the host's and never appear here.

use homeroom_sdk::PluginError;
use homeroom_sdk::env::Env;
use homeroom_sdk::settings;

/// Largest page asked for.
pub const MAX_PAGE_SIZE: u64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The base the object paths go under (`https://host/api/requests`).
    pub base: String,
    pub page_size: u64,
}

impl Config {
    pub fn from_env(env: &dyn Env) -> Result<Config, PluginError> {
        Config::from_settings(|name| env.setting(name))
    }

    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<Config, PluginError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let url = get("service_url").ok_or_else(|| {
            PluginError::Config(
                "the Service Base URL is empty: enter the xPress base URL from the provider's credentials sheet".into(),
            )
        })?;
        let base = settings::service_root(
            &url,
            &["/xLeas", "/xLeas.json"],
            "Service Base URL",
            "https://xpress.example.org/api/requests",
        )?;
        Ok(Config {
            base,
            page_size: settings::page_size(get("page_size").as_deref(), 250, MAX_PAGE_SIZE)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, PluginError> {
        Config::from_settings(homeroom_sdk::settings::from_pairs(pairs))
    }

    #[test]
    fn the_base_url_is_cleaned_and_bad_settings_say_what_to_enter() {
        let c = config(&[("service_url", "https://x.example.org/api/requests/xLeas/")]).unwrap();
        assert_eq!(c.base, "https://x.example.org/api/requests");
        assert_eq!(c.page_size, 250);
        let msg = |r: Result<Config, PluginError>| r.unwrap_err().message().to_string();
        assert!(msg(config(&[])).contains("Service Base URL is empty"));
        assert!(msg(config(&[("service_url", "x.example.org")])).contains("not a web address"));
        assert!(
            msg(config(&[("service_url", "https://x"), ("page_size", "0")])).contains("Page size")
        );
    }
}
