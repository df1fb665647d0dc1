//! The source's settings, read once per call: where the Classroom API is
//! (the Service URL without a trailing slash), who owns the courses the
//! connector creates, and how many calls go in one batch request.

use homeroom_sdk::PluginError;

use crate::env::Env;

/// Classroom's own limit on the calls of one batch request.
pub const MAX_BATCH_SIZE: usize = 50;

pub const DEFAULT_SERVICE_URL: &str = "https://classroom.googleapis.com";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `https://classroom.googleapis.com`, no trailing slash. API paths
    /// (`/v1/...`) and the batch endpoint (`/batch`) go under it.
    pub root: String,
    /// A user's email, or `me` (the administrator who signed in).
    pub owner: String,
    /// Calls per batch request, 1 to [`MAX_BATCH_SIZE`].
    pub batch_size: usize,
}

impl Config {
    pub fn from_env(env: &dyn Env) -> Result<Config, PluginError> {
        Config::from_settings(|name| env.setting(name))
    }

    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<Config, PluginError> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let url = get("service_url").unwrap_or_else(|| DEFAULT_SERVICE_URL.to_string());
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://"))
            || url.contains(['?', '#', ' '])
        {
            return Err(PluginError::Config(format!(
                "the Service URL `{url}` is not a web address: leave it as {DEFAULT_SERVICE_URL}"
            )));
        }
        let root = url.trim_end_matches('/').to_string();
        let owner = get("owner").unwrap_or_else(|| "me".to_string());
        if owner != "me" && !owner.contains('@') {
            return Err(PluginError::Config(format!(
                "the Course owner `{owner}` is not an email address: enter the Workspace user who owns the courses (teacher@district.org), or me"
            )));
        }
        let batch_size = match get("batch_size") {
            None => MAX_BATCH_SIZE,
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|n| n.fract() == 0.0 && *n >= 1.0 && *n <= MAX_BATCH_SIZE as f64)
                .map(|n| n as usize)
                .ok_or_else(|| {
                    PluginError::Config(format!(
                        "Calls per batch `{v}` must be a whole number from 1 to {MAX_BATCH_SIZE} (Classroom takes at most {MAX_BATCH_SIZE} calls in a batch)"
                    ))
                })?,
        };
        Ok(Config {
            root,
            owner,
            batch_size,
        })
    }

    /// The absolute URL of an API path (`/v1/courses`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.root)
    }

    /// The path of the Service URL itself (`""` for Google), which the
    /// request line of each batch part starts with.
    pub fn path_prefix(&self) -> &str {
        let after_scheme = self.root.split_once("://").map(|(_, r)| r).unwrap_or("");
        match after_scheme.find('/') {
            Some(i) => &after_scheme[i..],
            None => "",
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
    fn defaults_and_limits() {
        let c = config(&[]).unwrap();
        assert_eq!(c.root, DEFAULT_SERVICE_URL);
        assert_eq!(c.owner, "me");
        assert_eq!(c.batch_size, 50);
        assert_eq!(c.path_prefix(), "");
        let c = config(&[
            ("service_url", "http://127.0.0.1:8080/proxy/"),
            ("batch_size", "10"),
            ("owner", "t@d.org"),
        ])
        .unwrap();
        assert_eq!(c.root, "http://127.0.0.1:8080/proxy");
        assert_eq!(c.path_prefix(), "/proxy");
        assert_eq!(c.batch_size, 10);
        let msg = |r: Result<Config, PluginError>| r.unwrap_err().message().to_string();
        assert!(msg(config(&[("batch_size", "51")])).contains("from 1 to 50"));
        assert!(msg(config(&[("batch_size", "0")])).contains("from 1 to 50"));
        assert!(msg(config(&[("service_url", "classroom")])).contains("not a web address"));
        assert!(msg(config(&[("owner", "teacher")])).contains("not an email"));
    }
}
