//! The source's settings, read once per call: where the PowerSchool server
//! is, the page size asked for (the server's metadata bounds it, see
//! [`crate::read`]), the PowerQuery that lists guardians, and the
//! organization mapping the wizard's extra step fills (PowerSchool school
//! numbers to the district's school identifiers). The token URL, client id
//! and secret are the host's (it does the client-credentials grant); nothing
//! here sends a request.

use std::collections::BTreeMap;

use homeroom_sdk::PluginError;
use homeroom_sdk::env::Env;
use homeroom_sdk::settings;

/// The most any page size setting may ask for; the server's metadata says
/// what it really serves (often 100).
pub const MAX_PAGE_SIZE: u64 = 10_000;
/// The PowerQuery the Homeroom plugin for PowerSchool installs.
pub const GUARDIANS_QUERY: &str = "com.homeroom.roster.guardians";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `https://district.powerschool.com`, no trailing `/`.
    pub base: String,
    /// Records asked for per page; none: the most the metadata allows.
    pub page_size: Option<u64>,
    /// The named PowerQuery of guardians; none: guardians are not read.
    pub guardians_query: Option<String>,
    /// PowerSchool school number -> the district's school identifier.
    pub organizations: BTreeMap<String, String>,
}

impl Config {
    pub fn from_env(env: &dyn Env) -> Result<Config, PluginError> {
        Config::from_settings(|name| env.setting(name))
    }

    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<Config, PluginError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let url = get("service_url").ok_or_else(|| {
            PluginError::Config(
                "the PowerSchool URL is empty: enter the server's address, such as https://yourdistrict.powerschool.com".into(),
            )
        })?;
        let base = settings::service_root(
            &url,
            &["/ws/v1", "/ws"],
            "PowerSchool URL",
            "https://yourdistrict.powerschool.com",
        )?;
        let page_size = match get("page_size") {
            None => None,
            Some(v) => Some(settings::page_size(Some(&v), MAX_PAGE_SIZE, MAX_PAGE_SIZE)?),
        };
        let guardians_query = match get("guardians_query") {
            None => Some(GUARDIANS_QUERY.to_string()),
            Some(q) if q.trim() == "off" => None,
            Some(q) => {
                let q = q.trim().to_string();
                if !q
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                {
                    return Err(PluginError::Config(format!(
                        "the Guardians PowerQuery \"{q}\" is not a PowerQuery name (letters, digits, dots, dashes and underscores, such as {GUARDIANS_QUERY}); enter the name from the plugin's named queries, or off"
                    )));
                }
                Some(q)
            }
        };
        let organizations = match get("organization_map") {
            None => BTreeMap::new(),
            Some(text) => organizations(&text)?,
        };
        Ok(Config {
            base,
            page_size,
            guardians_query,
            organizations,
        })
    }
}

/// `100 = MS-1, 200 = HS-1`: each PowerSchool school number and the
/// district's identifier of the same school.
fn organizations(text: &str) -> Result<BTreeMap<String, String>, PluginError> {
    let mut map = BTreeMap::new();
    for pair in text
        .split([',', ';', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let bad = || {
            PluginError::Config(format!(
                "the Organization mapping entry \"{pair}\" is not SCHOOL NUMBER = DISTRICT SCHOOL ID (such as 100 = MS-1); fix it in the source's Delivery Config"
            ))
        };
        let (number, id) = pair.split_once('=').ok_or_else(bad)?;
        let (number, id) = (number.trim(), id.trim());
        if number.is_empty() || id.is_empty() {
            return Err(bad());
        }
        if map.insert(number.to_string(), id.to_string()).is_some() {
            return Err(PluginError::Config(format!(
                "the Organization mapping names PowerSchool school {number} twice; keep one entry for it"
            )));
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, PluginError> {
        Config::from_settings(settings::from_pairs(pairs))
    }

    #[test]
    fn settings_are_read_and_bad_ones_say_what_to_enter() {
        let c = config(&[("service_url", "https://ps.example.org/ws/v1/")]).unwrap();
        assert_eq!(c.base, "https://ps.example.org");
        assert_eq!(c.page_size, None);
        assert_eq!(c.guardians_query.as_deref(), Some(GUARDIANS_QUERY));
        let c = config(&[
            ("service_url", "http://127.0.0.1:9"),
            ("page_size", "50"),
            ("guardians_query", "off"),
            ("organization_map", "100 = MS-1; 200=HS-1"),
        ])
        .unwrap();
        assert_eq!(c.page_size, Some(50));
        assert_eq!(c.guardians_query, None);
        assert_eq!(c.organizations["100"], "MS-1");
        assert_eq!(c.organizations["200"], "HS-1");
        let msg = |r: Result<Config, PluginError>| r.unwrap_err().message().to_string();
        assert!(msg(config(&[])).contains("PowerSchool URL is empty"));
        assert!(msg(config(&[("service_url", "ps.example.org")])).contains("not a web address"));
        let url = ("service_url", "https://ps.example.org");
        assert!(msg(config(&[url, ("page_size", "0")])).contains("1 to 10000"));
        assert!(
            msg(config(&[url, ("guardians_query", "drop table")]))
                .contains("not a PowerQuery name")
        );
        assert!(
            msg(config(&[url, ("organization_map", "100")]))
                .contains("SCHOOL NUMBER = DISTRICT SCHOOL ID")
        );
        assert!(msg(config(&[url, ("organization_map", "1=a,1=b")])).contains("twice"));
    }
}
