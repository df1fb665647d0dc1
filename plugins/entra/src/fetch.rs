//! One request to Microsoft Graph and what its answer means: the plugin
//! error an admin can act on for every transport failure and HTTP status
//! (Graph's `{"error": {"code", "message"}}` quoted), and OData pages read
//! by the SDK's [`paging::OData`]. Retries of 429 (with `Retry-After`) and
//! 5xx are the host's; so is the token.

use homeroom_sdk::PluginError;
use homeroom_sdk::connector_bindings::homeroom::plugin::http::{
    HttpError, Method, Request, Response,
};
use homeroom_sdk::delta::http_date_seconds;
use homeroom_sdk::env::Env;
use homeroom_sdk::http::header;
use homeroom_sdk::paging::OData;
use serde_json::Value as Json;

/// GET `url`; `doing` says what for.
pub fn get(env: &mut dyn Env, url: &str, doing: &str) -> Result<Response, PluginError> {
    let request = Request {
        method: Method::Get,
        url: url.to_string(),
        headers: vec![("accept".into(), "application/json".into())],
        body: None,
    };
    env.send(&request).map_err(|e| match e {
        HttpError::Connection(m) | HttpError::Timeout(m) => PluginError::Unavailable(format!(
            "no usable answer from Microsoft Graph at {url} ({doing}): {m}; check the Graph URL, then run again"
        )),
        HttpError::Denied(m) | HttpError::Invalid(m) => PluginError::Config(format!(
            "`{url}` cannot be reached ({doing}): {m}; check the Graph URL"
        )),
        HttpError::TooLarge(m) => PluginError::InvalidData(format!(
            "the answer from {url} was too large ({doing}): {m}; lower the Page size"
        )),
        HttpError::Auth(m) => PluginError::Auth(format!(
            "the host could not get a token from the Token URL ({doing}): {m}; check the Token URL's tenant id, the Application (client) ID and the Client secret"
        )),
    })
}

/// What Graph said about an error (`error.code: error.message`), cut short.
pub fn says(body: &[u8]) -> Option<String> {
    let json: Json = serde_json::from_slice(body).ok()?;
    let error = json.get("error")?;
    let text = |k: &str| error.get(k).and_then(Json::as_str).unwrap_or("").trim();
    let said = match (text("code"), text("message")) {
        ("", "") => return None,
        (code, "") | ("", code) => code.to_string(),
        (code, message) => format!("{code}: {message}"),
    };
    Some(said.chars().take(200).collect())
}

/// The error for a non-2xx answer.
pub fn status_error(url: &str, doing: &str, response: &Response) -> PluginError {
    let path = url.split('?').next().unwrap_or(url);
    let status = response.status;
    let said = says(&response.body)
        .map(|s| format!(" (Graph says: {s})"))
        .unwrap_or_default();
    match status {
        401 => PluginError::Auth(format!(
            "{path} refused the token (401) {doing}{said}: check the Token URL's tenant id and the client secret, which may have expired"
        )),
        403 => PluginError::Auth(format!(
            "{path} refused access (403) {doing}{said}: grant the app registration the User.Read.All application permission and an admin's consent"
        )),
        404 => PluginError::Config(format!(
            "{path} was not found (404) {doing}{said}: check the Graph URL"
        )),
        429 => PluginError::RateLimited(format!(
            "{path} kept answering 429 Too Many Requests {doing}, after the host waited as Graph asked{said}; run again later"
        )),
        500..=599 => PluginError::Unavailable(format!(
            "{path} answered {status} {doing}, after the host's retries{said}: Microsoft Graph is failing; run again later"
        )),
        _ => PluginError::InvalidData(format!(
            "{path} answered an unexpected HTTP {status} {doing}{said}"
        )),
    }
}

/// GET one page, with when Graph served it (its `Date` header: the
/// sandbox's own clock is frozen). `Ok(Err(response))` for a non-2xx
/// answer, for the caller to decide what it means.
pub fn page(
    env: &mut dyn Env,
    url: &str,
    doing: &str,
) -> Result<Result<(OData, Option<i64>), Response>, PluginError> {
    let response = get(env, url, doing)?;
    if !(200..300).contains(&response.status) {
        return Ok(Err(response));
    }
    let at = header(&response, "date").and_then(http_date_seconds);
    OData::from_body(&response.body).map(|odata| Ok((odata, at))).map_err(|why| {
        PluginError::InvalidData(format!(
            "{doing}: the answer of {} {why}; Graph sent a broken page (a cut connection or a server error), run again",
            url.split('?').next().unwrap_or(url)
        ))
    })
}
