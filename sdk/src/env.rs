//! What a connector needs from its surroundings, behind a trait: HTTP as the
//! connection, its settings, warnings and progress, and its small key-value
//! storage. In the component these are the host interfaces ([`HostEnv`]); a
//! connector's unit tests put a fake server behind the same trait, so every
//! path of the connector runs natively.

use crate::connector_bindings::homeroom::plugin::http::{
    self as host, HttpError, Method, Request, Response,
};
use crate::wit::types::PluginError;

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

/// How a connector's errors name its source and what an admin checks, for
/// [`get`] and [`status_error`].
pub struct Vendor<'a> {
    /// `Clever`, `Microsoft Graph`.
    pub name: &'a str,
    /// The setting that says where it is (`Service URL`).
    pub url_setting: &'a str,
    /// What the host authenticates with (`District token`), named on a 401.
    pub credential: &'a str,
    /// What to check when the host cannot authenticate, or on a 401.
    pub credentials: &'a str,
    /// What to do on a 403.
    pub forbidden: &'a str,
    /// What to check on a 404 beside the URL setting (may be empty).
    pub not_found: &'a str,
}

/// GET `url` as JSON; `doing` says what for (`reading sections after 5f…`).
/// Every transport failure comes back as the error an admin can act on.
pub fn get(
    env: &mut dyn Env,
    url: &str,
    doing: &str,
    vendor: &Vendor,
) -> Result<Response, PluginError> {
    get_with(env, url, &[], doing, vendor)
}

/// [`get`] with request headers of the source's own (xPress Roster's
/// `navigationPage` and `navigationPageSize`).
pub fn get_with(
    env: &mut dyn Env,
    url: &str,
    headers: &[(&str, String)],
    doing: &str,
    vendor: &Vendor,
) -> Result<Response, PluginError> {
    let mut all = vec![("accept".to_string(), "application/json".to_string())];
    all.extend(headers.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let request = Request {
        method: Method::Get,
        url: url.to_string(),
        headers: all,
        body: None,
    };
    send(env, &request, doing, vendor)
}

/// `method` `url` with a JSON `body` (a PowerSchool PowerQuery, a write);
/// its failures come back as [`get`]'s do.
pub fn send_json(
    env: &mut dyn Env,
    method: Method,
    url: &str,
    body: &serde_json::Value,
    doing: &str,
    vendor: &Vendor,
) -> Result<Response, PluginError> {
    let request = Request {
        method,
        url: url.to_string(),
        headers: vec![
            ("accept".into(), "application/json".into()),
            ("content-type".into(), "application/json".into()),
        ],
        body: Some(body.to_string().into_bytes()),
    };
    send(env, &request, doing, vendor)
}

fn send(
    env: &mut dyn Env,
    request: &Request,
    doing: &str,
    vendor: &Vendor,
) -> Result<Response, PluginError> {
    let url = request.url.as_str();
    let (name, setting) = (vendor.name, vendor.url_setting);
    env.send(request).map_err(|e| match e {
        HttpError::Connection(m) => PluginError::Unavailable(format!(
            "no usable answer from {name} at {url} ({doing}): {m}; check the {setting}, then run again"
        )),
        HttpError::Timeout(m) => PluginError::Unavailable(format!(
            "{name} did not answer in time at {url} ({doing}): {m}; try again later, or lower the Page size"
        )),
        HttpError::Denied(m) | HttpError::Invalid(m) => PluginError::Config(format!(
            "`{url}` cannot be reached ({doing}): {m}; check the {setting}"
        )),
        HttpError::TooLarge(m) => PluginError::InvalidData(format!(
            "the answer from {url} was too large ({doing}): {m}; lower the Page size"
        )),
        HttpError::Auth(m) => PluginError::Auth(format!(
            "the host could not authenticate to {name} ({doing}): {m}; {}",
            vendor.credentials
        )),
    })
}

/// The error for a non-2xx answer (after the host's retries of 429 and
/// 5xx); `said` is what the source's error body said.
pub fn status_error(
    url: &str,
    doing: &str,
    status: u16,
    said: Option<String>,
    vendor: &Vendor,
) -> PluginError {
    let path = url.split('?').next().unwrap_or(url);
    let name = vendor.name;
    let said = said
        .map(|s| format!(" ({name} says: {s})"))
        .unwrap_or_default();
    match status {
        401 => PluginError::Auth(format!(
            "{path} refused the {} (401) {doing}{said}: {}",
            vendor.credential, vendor.credentials
        )),
        403 => PluginError::Auth(format!(
            "{path} refused access (403) {doing}{said}: {}",
            vendor.forbidden
        )),
        404 => PluginError::Config(format!(
            "{path} was not found (404) {doing}{said}: check the {}{}",
            vendor.url_setting, vendor.not_found
        )),
        429 => PluginError::RateLimited(format!(
            "{path} kept answering 429 Too Many Requests {doing}, after the host waited as {name} asked{said}; run again later"
        )),
        500..=599 => PluginError::Unavailable(format!(
            "{path} answered {status} {doing}, after the host's retries{said}: {name} is failing; run again later"
        )),
        _ => PluginError::InvalidData(format!(
            "{path} answered an unexpected HTTP {status} {doing}{said}"
        )),
    }
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
