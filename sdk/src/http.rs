//! HTTP "as the connection": the host authenticates and checks every request.
//! A plugin never holds a credential, so there is nothing here to configure.

use crate::connector_bindings::homeroom::plugin::http::{
    self as host, HttpError, Method, Request, Response,
};
use crate::wit::types::PluginError;

pub use host::{Method as HttpMethod, Response as HttpResponse};

/// Send a request; transport failures become plugin errors an admin can read.
pub fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Result<Response, PluginError> {
    let request = Request {
        method,
        url: url.to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body,
    };
    host::send(&request).map_err(|e| match e {
        HttpError::Denied(m) => PluginError::Config(m),
        HttpError::Auth(m) => PluginError::Auth(m),
        HttpError::Timeout(m) | HttpError::Connection(m) => PluginError::Unavailable(m),
        HttpError::TooLarge(m) | HttpError::Invalid(m) => PluginError::InvalidData(m),
    })
}

/// GET a JSON document. Non-2xx statuses become the plugin error that fits.
pub fn get_json(url: &str) -> Result<(serde_json::Value, Response), PluginError> {
    let response = send(Method::Get, url, &[("accept", "application/json")], None)?;
    check_status(url, &response)?;
    let value = serde_json::from_slice(&response.body).map_err(|e| {
        PluginError::InvalidData(format!("{url} answered with JSON that cannot be read: {e}"))
    })?;
    Ok((value, response))
}

/// Map an HTTP status to the plugin error an admin can act on.
pub fn check_status(url: &str, response: &Response) -> Result<(), PluginError> {
    let status = response.status;
    let path = url.split('?').next().unwrap_or(url);
    match status {
        200..=299 => Ok(()),
        401 => Err(PluginError::Auth(format!(
            "{path} refused the credentials (401): check the client id and secret"
        ))),
        403 => Err(PluginError::Auth(format!(
            "{path} refused access (403): the credentials lack a scope or permission this read needs"
        ))),
        404 => Err(PluginError::Config(format!(
            "{path} was not found (404): check the Service URL and the API version"
        ))),
        429 => Err(PluginError::RateLimited(format!(
            "{path} kept answering 429 Too Many Requests after the host's retries"
        ))),
        500..=599 => Err(PluginError::Unavailable(format!(
            "{path} answered {status} after the host's retries: the source system is failing"
        ))),
        _ => Err(PluginError::InvalidData(format!(
            "{path} answered an unexpected HTTP {status}"
        ))),
    }
}

/// A response header's value (case-insensitive name).
pub fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
