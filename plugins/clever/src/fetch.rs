//! One request to the Clever API and what its answer means: the plugin error
//! an admin can act on for every transport failure and HTTP status, and the
//! records and `next` link of a list body (`{"data": [{"data": {...}}],
//! "links": [{"rel": "next", "uri": ...}]}`). Retries of 429 and 5xx, and
//! waiting out Clever's rate limit, are the host's.

use homeroom_sdk::PluginError;
use homeroom_sdk::connector_bindings::homeroom::plugin::http::{
    HttpError, Method, Request, Response,
};
use homeroom_sdk::env::Env;
use homeroom_sdk::paging;
use serde_json::Value as Json;

/// GET `url`; `doing` says what for (`reading sections after 5f…`).
pub fn get(env: &mut dyn Env, url: &str, doing: &str) -> Result<Response, PluginError> {
    let request = Request {
        method: Method::Get,
        url: url.to_string(),
        headers: vec![("accept".into(), "application/json".into())],
        body: None,
    };
    env.send(&request).map_err(|e| match e {
        HttpError::Connection(m) => PluginError::Unavailable(format!(
            "no usable answer from Clever at {url} ({doing}): {m}; check the Service URL, then run again"
        )),
        HttpError::Timeout(m) => PluginError::Unavailable(format!(
            "Clever did not answer in time at {url} ({doing}): {m}; try again later, or lower the Page size"
        )),
        HttpError::Denied(m) | HttpError::Invalid(m) => PluginError::Config(format!(
            "`{url}` cannot be reached ({doing}): {m}; check the Service URL"
        )),
        HttpError::TooLarge(m) => PluginError::InvalidData(format!(
            "the answer from {url} was too large ({doing}): {m}; lower the Page size"
        )),
        HttpError::Auth(m) => PluginError::Auth(format!(
            "the host could not authenticate to Clever ({doing}): {m}; check the District token"
        )),
    })
}

/// What Clever said about an error (`{"message": ...}`), cut short.
pub fn says(body: &[u8]) -> Option<String> {
    let json: Json = serde_json::from_slice(body).ok()?;
    let text = ["message", "error"]
        .iter()
        .find_map(|k| json.get(*k).and_then(Json::as_str))?
        .trim();
    (!text.is_empty()).then(|| text.chars().take(200).collect())
}

/// The error for a non-2xx answer.
pub fn status_error(url: &str, doing: &str, response: &Response) -> PluginError {
    let path = url.split('?').next().unwrap_or(url);
    let status = response.status;
    let said = says(&response.body)
        .map(|s| format!(" (Clever says: {s})"))
        .unwrap_or_default();
    match status {
        401 => PluginError::Auth(format!(
            "{path} refused the District token (401) {doing}{said}: copy the token again from the Clever dashboard; a district that disconnects the app revokes it"
        )),
        403 => PluginError::Auth(format!(
            "{path} refused access (403) {doing}{said}: the district has not shared this data with the app; ask the district to share it in Clever"
        )),
        404 => PluginError::Config(format!(
            "{path} was not found (404) {doing}{said}: check the Service URL and the Clever API version"
        )),
        429 => PluginError::RateLimited(format!(
            "{path} kept answering 429 Too Many Requests {doing}, after the host waited as Clever asked{said}; run again later"
        )),
        500..=599 => PluginError::Unavailable(format!(
            "{path} answered {status} {doing}, after the host's retries{said}: Clever is failing; run again later"
        )),
        _ => PluginError::InvalidData(format!(
            "{path} answered an unexpected HTTP {status} {doing}{said}"
        )),
    }
}

/// A list answer: its records (each unwrapped from `{"data": ...}`) and the
/// `next` link's `starting_after` when there is a `next` link (empty when
/// the link has none).
#[derive(Debug)]
pub struct List {
    pub records: Vec<Json>,
    pub next: Option<String>,
    /// Whether the body had a `links` list at all.
    pub linked: bool,
}

/// A non-2xx answer, for the caller to decide what it means.
pub struct Refused(pub Response);

/// Read a list body.
pub fn list(url: &str, doing: &str, response: &Response) -> Result<List, PluginError> {
    let broken = |why: String| {
        PluginError::InvalidData(format!(
            "{doing}: the answer of {url} {why}; Clever sent a broken page (a cut connection or a server error), run again"
        ))
    };
    let mut body: Json = serde_json::from_slice(&response.body)
        .map_err(|e| broken(format!("is not valid JSON ({e})")))?;
    let linked = body.get("links").is_some_and(Json::is_array);
    let next = paging::body_link(&body, "next")
        .map(|uri| paging::query_value(uri, "starting_after").unwrap_or_default());
    let data = match body.get_mut("data").map(Json::take) {
        Some(Json::Array(items)) => items,
        Some(Json::Null) => Vec::new(),
        _ => return Err(broken("has no `data` list".into())),
    };
    let records = data
        .into_iter()
        .map(|mut item| match item.get_mut("data").map(Json::take) {
            Some(record) if record.is_object() => record,
            _ => item,
        })
        .collect();
    Ok(List {
        records,
        next,
        linked,
    })
}

/// A collection URL with paging.
pub fn page_url(base: &str, path: &str, limit: u64, after: Option<&str>) -> String {
    let mut url = format!("{base}/{path}?limit={limit}");
    if let Some(after) = paging::after(after) {
        url.push_str("&starting_after=");
        url.push_str(&paging::encode(after));
    }
    url
}
