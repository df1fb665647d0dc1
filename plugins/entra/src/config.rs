//! The source's settings, read once per call: where Microsoft Graph is (the
//! `/v1.0` base added), the page size, and whether to read the education
//! users and schools. The token URL, client id and
//! secret are the host's (it does the client-credentials grant); nothing
//! here sends a request.

use homeroom_sdk::PluginError;
use homeroom_sdk::env::Env;
use homeroom_sdk::settings;

/// Largest `$top` Graph serves for users.
pub const MAX_PAGE_SIZE: u64 = 999;

/// The user properties asked for (`$select`): all the mapping reads.
pub const SELECT: &str = "id,userPrincipalName,mail,givenName,surname,displayName,accountEnabled,employeeId,onPremisesSamAccountName";
/// The education user properties asked for (`$select`).
pub const EDUCATION_SELECT: &str = "id,userPrincipalName,mail,givenName,surname,displayName,accountEnabled,primaryRole,externalId,student,teacher";
/// The education school properties asked for (`$select`).
pub const SCHOOL_SELECT: &str = "id,displayName,schoolNumber,externalId";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `https://graph.microsoft.com/v1.0`.
    pub base: String,
    pub page_size: u64,
    /// Read the tenant's education users and schools (School Data Sync)
    /// instead of its directory users.
    pub education: bool,
}

impl Config {
    pub fn from_env(env: &dyn Env) -> Result<Config, PluginError> {
        Config::from_settings(|name| env.setting(name))
    }

    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<Config, PluginError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let url = get("service_url").unwrap_or_else(|| "https://graph.microsoft.com".into());
        let root = settings::service_root(
            &url,
            &["/v1.0", "/beta"],
            "Graph URL",
            "https://graph.microsoft.com",
        )?;
        let page_size =
            settings::page_size(get("page_size").as_deref(), MAX_PAGE_SIZE, MAX_PAGE_SIZE)?;
        let education = match get("education").as_deref().map(str::trim) {
            None | Some("off") => false,
            Some("on") => true,
            Some(other) => {
                return Err(PluginError::Config(format!(
                    "Education data `{other}` is not one of: off, on; pick one in the Delivery Config"
                )));
            }
        };
        Ok(Config {
            base: format!("{root}/v1.0"),
            page_size,
            education,
        })
    }

    /// The users collection and its `$select`.
    fn users(&self) -> (&'static str, &'static str) {
        if self.education {
            ("education/users", EDUCATION_SELECT)
        } else {
            ("users", SELECT)
        }
    }

    /// The first page of the users list.
    pub fn users_url(&self) -> String {
        let (path, select) = self.users();
        format!(
            "{}/{path}?$select={select}&$top={}",
            self.base, self.page_size
        )
    }

    /// The first page of the education schools.
    pub fn schools_url(&self) -> String {
        format!(
            "{}/education/schools?$select={SCHOOL_SELECT}&$top={}",
            self.base, self.page_size
        )
    }

    /// A delta round's start: from nothing, or (`latest`) a deltaLink for
    /// now without reading the users.
    pub fn delta_url(&self, latest: bool) -> String {
        let (path, select) = self.users();
        let url = format!("{}/{path}/delta?$select={select}", self.base);
        if latest {
            format!("{url}&$deltatoken=latest")
        } else {
            url
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, PluginError> {
        Config::from_settings(homeroom_sdk::settings::from_pairs(pairs))
    }

    #[test]
    fn the_graph_url_takes_the_version_and_bad_settings_say_what_to_enter() {
        let c = config(&[]).unwrap();
        assert_eq!(c.base, "https://graph.microsoft.com/v1.0");
        assert_eq!(c.page_size, 999);
        assert!(c.users_url().contains("$top=999") && c.users_url().contains("employeeId"));
        let c = config(&[
            ("service_url", "http://127.0.0.1:9/v1.0/"),
            ("page_size", "5"),
        ])
        .unwrap();
        assert_eq!(c.base, "http://127.0.0.1:9/v1.0");
        assert!(c.delta_url(true).ends_with("&$deltatoken=latest"));
        let c = config(&[("education", "on")]).unwrap();
        assert!(
            c.delta_url(false)
                .contains("/education/users/delta?$select=id,")
        );
        assert!(c.schools_url().contains("/education/schools?"));
        let msg = |r: Result<Config, PluginError>| r.unwrap_err().message().to_string();
        assert!(msg(config(&[("page_size", "1000")])).contains("1 to 999"));
        assert!(msg(config(&[("education", "yes")])).contains("off, on"));
        assert!(
            msg(config(&[("service_url", "graph.microsoft.com")])).contains("not a web address")
        );
    }
}
