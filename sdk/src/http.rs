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

/// Map an HTTP status to the plugin error an admin can act on; a 401 names
/// the credentials of the auth kind the host signs in with (the setting
/// `auth`, which the host always fills in).
pub fn check_status(url: &str, response: &Response) -> Result<(), PluginError> {
    status_for(
        url,
        response.status,
        crate::settings::get("auth").as_deref(),
    )
}

/// What an admin checks when the source refuses the credentials of the
/// auth kind `auth` (its manifest name, `api-key`).
pub fn credentials_hint(auth: Option<&str>) -> &'static str {
    match auth {
        Some("api-key") => "check the API key",
        Some("bearer") => "check the token",
        Some("basic") => "check the username and password",
        Some("oauth2-client-credentials") => "check the client id and secret",
        Some("oauth2-refresh-token") => "check the client id and secret, and the refresh token",
        Some("oauth2-password") => "check the username and password, and the client id",
        Some("oauth1") => "check the consumer key (client id) and secret",
        _ => {
            "the connector sends no credentials: its manifest needs an auth line (see the SDK's REFERENCE.md)"
        }
    }
}

/// [`check_status`] for a status and an auth kind given.
pub fn status_for(url: &str, status: u16, auth: Option<&str>) -> Result<(), PluginError> {
    let path = url.split('?').next().unwrap_or(url);
    match status {
        200..=299 => Ok(()),
        401 => Err(PluginError::Auth(format!(
            "{path} refused the credentials (401): {}",
            credentials_hint(auth)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_credentials_of_the_auth_kind() {
        let said = |auth| match status_for("https://sis/x?y=1", 401, auth) {
            Err(PluginError::Auth(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            said(Some("api-key")),
            "https://sis/x refused the credentials (401): check the API key"
        );
        assert!(
            said(Some("oauth2-client-credentials")).ends_with("check the client id and secret")
        );
        assert!(said(None).contains("its manifest needs an auth line"));
        assert!(status_for("https://sis/x", 204, None).is_ok());
    }
}
