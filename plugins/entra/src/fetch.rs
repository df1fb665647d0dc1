//! One request to Microsoft Graph and what its answer means: the plugin
//! error an admin can act on for every transport failure and HTTP status
//! (Graph's `{"error": {"code", "message"}}` quoted), and OData pages read
//! by the SDK's [`paging::OData`]. Retries of 429 (with `Retry-After`) and
//! 5xx are the host's; so is the token.

use homeroom_sdk::PluginError;
use homeroom_sdk::connector_bindings::homeroom::plugin::http::Response;
use homeroom_sdk::delta::http_date_seconds;
use homeroom_sdk::env::{self, Env, Vendor};
use homeroom_sdk::http::header;
use homeroom_sdk::paging::OData;
use serde_json::Value as Json;

/// How the errors name Graph.
pub const GRAPH: Vendor = Vendor {
    name: "Microsoft Graph",
    url_setting: "Graph URL",
    credential: "token",
    credentials: "check the Token URL's tenant id, the Application (client) ID and the Client secret, which may have expired",
    forbidden: "grant the app registration the User.Read.All application permission and an admin's consent",
    not_found: "",
};

/// GET `url`; `doing` says what for.
pub fn get(env: &mut dyn Env, url: &str, doing: &str) -> Result<Response, PluginError> {
    env::get(env, url, doing, &GRAPH)
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
    env::status_error(url, doing, response.status, says(&response.body), &GRAPH)
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
