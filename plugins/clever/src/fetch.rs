//! One request to the Clever API and what its answer means: the plugin error
//! an admin can act on for every transport failure and HTTP status, and the
//! records and `next` link of a list body (`{"data": [{"data": {...}}],
//! "links": [{"rel": "next", "uri": ...}]}`). Retries of 429 and 5xx, and
//! waiting out Clever's rate limit, are the host's.

use homeroom_sdk::PluginError;
use homeroom_sdk::connector_bindings::homeroom::plugin::http::Response;
use homeroom_sdk::env::{self, Env, Vendor};
use homeroom_sdk::paging;
use serde_json::Value as Json;

/// How the errors name Clever.
pub const CLEVER: Vendor = Vendor {
    name: "Clever",
    url_setting: "Service URL",
    credential: "District token",
    credentials: "check the District token: copy the token again from the Clever dashboard; a district that disconnects the app revokes it",
    forbidden: "the district has not shared this data with the app; ask the district to share it in Clever",
    not_found: " and the Clever API version",
};

/// GET `url`; `doing` says what for (`reading sections after 5f…`).
pub fn get(env: &mut dyn Env, url: &str, doing: &str) -> Result<Response, PluginError> {
    env::get(env, url, doing, &CLEVER)
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
    env::status_error(url, doing, response.status, says(&response.body), &CLEVER)
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
