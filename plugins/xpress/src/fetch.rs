//! One request to the xPress provider and what its answer means: the
//! paging headers a request carries (`navigationPage`, counted from 1, and
//! `navigationPageSize`) and the ones an answer may carry
//! (`navigationLastPage`, `navigationPageSize`, `changesSinceMarker`,
//! `Date`); the plugin error an admin can act on for every transport
//! failure and HTTP status; the records of a collection body
//! (`{"xStudents": {"xStudent": [...]}}`, a lone object for a list of one,
//! 204 or an empty body for none). Retries of 429 and 5xx are the host's.

use homeroom_sdk::PluginError;
use homeroom_sdk::connector_bindings::homeroom::plugin::http::Response;
use homeroom_sdk::delta::http_date_seconds;
use homeroom_sdk::env::{self, Env, Vendor};
use homeroom_sdk::http::header;
use homeroom_sdk::json;
use serde_json::Value as Json;

/// How the errors name the provider.
pub const XPRESS: Vendor = Vendor {
    name: "the xPress Roster provider",
    url_setting: "Service Base URL",
    credential: "sign-in",
    credentials: "check the OAuth Token URL, OAuth Client ID, OAuth Client Secret, Username, Password and API Key against the provider's credentials sheet",
    forbidden: "the provider has not given these credentials this data; ask the provider to grant it",
    not_found: " (the part before /xLeas)",
};

/// One page of a collection as the provider answered it.
#[derive(Debug)]
pub struct Answer {
    pub records: Vec<Json>,
    /// `navigationLastPage`, when said.
    pub last_page: Option<u64>,
    /// `navigationPageSize` as served, when said.
    pub served: Option<u64>,
    /// `changesSinceMarker`: where the changes stand now, when said.
    pub marker: Option<String>,
    /// The answer's `Date`, in seconds since 1970.
    pub date: Option<i64>,
}

fn number(response: &Response, name: &str) -> Option<u64> {
    header(response, name).and_then(|v| v.trim().parse().ok())
}

/// GET page `page` of `url` (pages counted from 1); `doing` says what for.
/// Any status comes back: the caller decides what a refusal means.
pub fn get_page(
    env: &mut dyn Env,
    url: &str,
    page: u64,
    size: u64,
    doing: &str,
) -> Result<Response, PluginError> {
    let headers = [
        ("navigationPage", page.to_string()),
        ("navigationPageSize", size.to_string()),
    ];
    env::get_with(env, url, &headers, doing, &XPRESS)
}

/// A 2xx answer's records and paging headers; the error an admin reads for
/// any other.
pub fn answer(url: &str, doing: &str, response: &Response) -> Result<Answer, PluginError> {
    if !(200..300).contains(&response.status) {
        return Err(status_error(url, doing, response));
    }
    Ok(Answer {
        records: records(url, doing, response)?,
        last_page: number(response, "navigationLastPage"),
        served: number(response, "navigationPageSize"),
        marker: header(response, "changesSinceMarker")
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string),
        date: header(response, "date").and_then(http_date_seconds),
    })
}

/// What the provider said about an error, cut short.
pub fn says(body: &[u8]) -> Option<String> {
    let json: Json = serde_json::from_slice(body).ok()?;
    let text = ["message", "error_description", "error"]
        .iter()
        .find_map(|k| json::text(&json, k))
        .or_else(|| json::text_at(&json, &["error", "message"]))?;
    Some(text.chars().take(200).collect())
}

/// The error for a non-2xx answer.
pub fn status_error(url: &str, doing: &str, response: &Response) -> PluginError {
    env::status_error(url, doing, response.status, says(&response.body), &XPRESS)
}

/// The records of a collection body: `{"xStudents": {"xStudent": [..]}}`.
pub fn records(url: &str, doing: &str, response: &Response) -> Result<Vec<Json>, PluginError> {
    if response.status == 204 || response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let broken = |why: String| {
        PluginError::InvalidData(format!(
            "{doing}: the answer of {url} {why}; the provider sent a broken page (a cut connection or a server error), run again"
        ))
    };
    let body: Json = serde_json::from_slice(&response.body)
        .map_err(|e| broken(format!("is not valid JSON ({e})")))?;
    let Some((_, inner)) = body.as_object().and_then(|o| o.iter().next()) else {
        return Err(broken("is not an xPress collection".into()));
    };
    let list = match inner {
        Json::Null => return Ok(Vec::new()),
        Json::Object(o) => match o.iter().next() {
            None => return Ok(Vec::new()),
            Some((_, items)) => json::items(items, &[]),
        },
        _ => return Err(broken("is not an xPress collection".into())),
    };
    Ok(list.into_iter().cloned().collect())
}
