//! The source's settings, read once per call: where the server is (the
//! Service URL reduced to the server root, so each service's base path can be
//! added), which OneRoster version it speaks, and the page size.

use homeroom_sdk::PluginError;
use homeroom_sdk::oneroster::{BASE_PATHS, Service, Version};

use crate::env::Env;

/// Largest page the connector asks for (the host refuses pages over 100 000).
pub const MAX_PAGE_SIZE: u64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub version: Version,
    /// The server root, without a trailing slash and without a base path.
    pub root: String,
    pub page_size: u64,
    /// The auth kind the admin picked, when they picked one.
    pub auth: Option<String>,
    /// Things worth telling the admin about how the settings were read.
    pub notes: Vec<String>,
}

impl Config {
    pub fn from_env(env: &dyn Env) -> Result<Config, PluginError> {
        Config::from_settings(|name| env.setting(name))
    }

    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<Config, PluginError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let mut notes = Vec::new();
        let mut version = match get("version") {
            None => Version::V1p2,
            Some(v) => Version::parse(&v).ok_or_else(|| {
                PluginError::Config(format!("the OneRoster version `{v}` is not one this connector speaks: choose 1.1 or 1.2"))
            })?,
        };
        let url = get("service_url").ok_or_else(|| {
            PluginError::Config(
                "the Service URL is empty: enter the address of the OneRoster server in the Delivery Config".into(),
            )
        })?;
        let url = url.trim();
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://"))
            || url.contains(['?', '#', ' '])
        {
            return Err(PluginError::Config(format!(
                "the Service URL `{url}` is not a web address: enter it as https://sis.example.org (no query, no spaces)"
            )));
        }
        let mut root = url.trim_end_matches('/').to_string();
        let lower_root = root.to_ascii_lowercase();
        if let Some((suffix, suffix_version)) =
            BASE_PATHS.iter().find(|(p, _)| lower_root.ends_with(p))
        {
            root.truncate(root.len() - suffix.len());
            if *suffix_version != version {
                notes.push(format!(
                    "the Service URL ends in {suffix}, so OneRoster {} is used although the Version setting says {}",
                    suffix_version.label(),
                    version.label()
                ));
                version = *suffix_version;
            }
        }
        let page_size = match get("page_size") {
            None => 1000,
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.fract() == 0.0 && *n >= 1.0 && *n <= MAX_PAGE_SIZE as f64)
                .map(|n| n as u64)
                .ok_or_else(|| {
                    PluginError::Config(format!(
                        "the Page size `{v}` must be a whole number from 1 to {MAX_PAGE_SIZE}"
                    ))
                })?,
        };
        Ok(Config {
            version,
            root,
            page_size,
            auth: get("auth"),
            notes,
        })
    }

    /// The base URL of a service (`https://sis/ims/oneroster/rostering/v1p2`).
    pub fn base(&self, service: Service) -> String {
        format!("{}{}", self.root, self.version.base_path(service))
    }

    /// "OneRoster 1.2 at https://…/ims/oneroster/rostering/v1p2".
    pub fn describe(&self) -> String {
        format!(
            "OneRoster {} at {}",
            self.version.label(),
            self.base(Service::Rostering)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, PluginError> {
        Config::from_settings(homeroom_sdk::settings::from_pairs(pairs))
    }

    #[test]
    fn the_service_url_becomes_the_server_root() {
        let c = config(&[("service_url", "https://sis.example.org/")]).unwrap();
        assert_eq!(c.version, Version::V1p2);
        assert_eq!(c.root, "https://sis.example.org");
        assert_eq!(
            c.base(Service::Gradebook),
            "https://sis.example.org/ims/oneroster/gradebook/v1p2"
        );
        assert_eq!(
            c.base(Service::Resources),
            "https://sis.example.org/ims/oneroster/resources/v1p2"
        );
        assert_eq!(c.page_size, 1000);
        assert!(c.notes.is_empty());

        let c = config(&[(
            "service_url",
            "https://sis.example.org/api/ims/oneroster/rostering/v1p2/",
        )])
        .unwrap();
        assert_eq!(c.root, "https://sis.example.org/api");

        let c = config(&[
            ("service_url", "https://sis.example.org/ims/oneroster/v1p1"),
            ("version", "1.1"),
        ])
        .unwrap();
        assert_eq!(
            (c.version, c.root.as_str()),
            (Version::V1p1, "https://sis.example.org")
        );
        assert_eq!(
            c.base(Service::Gradebook),
            "https://sis.example.org/ims/oneroster/v1p1"
        );
    }

    #[test]
    fn a_base_path_in_the_url_decides_the_version() {
        let c = config(&[
            ("service_url", "https://sis.example.org/ims/oneroster/v1p1"),
            ("version", "1.2"),
        ])
        .unwrap();
        assert_eq!(c.version, Version::V1p1);
        assert!(
            c.notes[0].contains("ends in /ims/oneroster/v1p1"),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn bad_settings_say_what_to_fix() {
        let msg = |r: Result<Config, PluginError>| r.unwrap_err().message().to_string();
        assert!(msg(config(&[])).contains("Service URL is empty"));
        assert!(msg(config(&[("service_url", "sis.example.org")])).contains("not a web address"));
        assert!(
            msg(config(&[("service_url", "https://x"), ("version", "2.0")]))
                .contains("choose 1.1 or 1.2")
        );
        assert!(
            msg(config(&[("service_url", "https://x"), ("page_size", "0")])).contains("Page size")
        );
        assert!(
            msg(config(&[
                ("service_url", "https://x"),
                ("page_size", "1.5")
            ]))
            .contains("whole number")
        );
        assert_eq!(
            config(&[("service_url", "https://x"), ("page_size", "250")])
                .unwrap()
                .page_size,
            250
        );
    }
}
