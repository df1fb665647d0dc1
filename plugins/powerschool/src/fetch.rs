//! One request to the PowerSchool API and what its answer means: the plugin
//! error an admin can act on for every transport failure and HTTP status
//! (PowerSchool's `{"message", "errors"}` quoted), bodies read as JSON, the
//! records of a collection (`{"schools": {"school": [...]}}`, where a
//! collection of one comes as an object, not a list, and an empty one as
//! nothing at all), PowerQuery records (`{"record": [...]}`) and the
//! `/count` answers. Retries of 429 and 5xx are the host's; so is the token:
//! nothing here retries, holds a credential or decides what a record means.

use homeroom_sdk::PluginError;
use homeroom_sdk::connector_bindings::homeroom::plugin::http::{Method, Response};
use homeroom_sdk::env::{self, Env, Vendor};
use serde_json::Value as Json;

/// How the errors name PowerSchool.
pub const POWERSCHOOL: Vendor = Vendor {
    name: "PowerSchool",
    url_setting: "PowerSchool URL",
    credential: "access token",
    credentials: "check the Client ID and Client Secret on the plugin's page in PowerSchool (System > System Settings > Plugin Management Dashboard), and that the plugin is enabled",
    forbidden: "the plugin's data access does not include this data; add it to the plugin's access request and enable the plugin again",
    not_found: ", and that the plugin that defines the PowerQuery is installed and enabled",
};

/// GET `url`; `doing` says what for (`reading the students of school 2`).
pub fn get(env: &mut dyn Env, url: &str, doing: &str) -> Result<Response, PluginError> {
    env::get(env, url, doing, &POWERSCHOOL)
}

/// POST `body` to `url` (a PowerQuery, a write).
pub fn post(
    env: &mut dyn Env,
    url: &str,
    body: &Json,
    doing: &str,
) -> Result<Response, PluginError> {
    env::send_json(env, Method::Post, url, body, doing, &POWERSCHOOL)
}

/// What PowerSchool said about an error: its `message` and the first of its
/// `errors` (`resource field: code`), cut short.
pub fn says(body: &[u8]) -> Option<String> {
    let json: Json = serde_json::from_slice(body).ok()?;
    let message = ["message", "error_description", "error"]
        .iter()
        .find_map(|k| json.get(*k).and_then(Json::as_str))
        .map(str::trim)
        .unwrap_or("");
    let first = json
        .get("errors")
        .and_then(|e| e.as_array().and_then(|l| l.first()).or(Some(e)))
        .filter(|e| e.is_object())
        .map(|e| {
            ["resource", "field", "code"]
                .iter()
                .filter_map(|k| scalar(e, k))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let said = match (message, first.as_str()) {
        ("", "") => return None,
        (m, "") => m.to_string(),
        ("", f) => f.to_string(),
        (m, f) => format!("{m}: {f}"),
    };
    Some(said.chars().take(200).collect())
}

/// The error for a non-2xx answer.
pub fn status_error(url: &str, doing: &str, response: &Response) -> PluginError {
    env::status_error(
        url,
        doing,
        response.status,
        says(&response.body),
        &POWERSCHOOL,
    )
}

/// A broken body: cut off, not JSON, or not the shape asked for.
pub fn broken(url: &str, doing: &str, why: &str) -> PluginError {
    PluginError::InvalidData(format!(
        "{doing}: the answer of {} {why}; PowerSchool sent a broken page (a cut connection or a server error), run again",
        url.split('?').next().unwrap_or(url)
    ))
}

/// A 2xx answer's body as JSON, or the error that names what went wrong.
pub fn json(url: &str, doing: &str, response: &Response) -> Result<Json, PluginError> {
    if !(200..300).contains(&response.status) {
        return Err(status_error(url, doing, response));
    }
    serde_json::from_slice(&response.body)
        .map_err(|e| broken(url, doing, &format!("is not valid JSON ({e})")))
}

/// GET `url` and read it as JSON.
pub fn get_json(env: &mut dyn Env, url: &str, doing: &str) -> Result<Json, PluginError> {
    let response = get(env, url, doing)?;
    json(url, doing, &response)
}

/// The records of a collection answer: `body[outer][inner]`, a list, or one
/// record as an object (PowerSchool's collection of one); nothing, `null`
/// or `""` where there are none. `Err` says what is wrong with the body.
pub fn records(body: &Json, outer: &str, inner: &str) -> Result<Vec<Json>, String> {
    let Some(wrapper) = body.get(outer) else {
        return Err(format!("has no {outer} list"));
    };
    let list = match wrapper {
        Json::Null => return Ok(Vec::new()),
        Json::String(s) if s.trim().is_empty() => return Ok(Vec::new()),
        Json::Object(w) => w.get(inner),
        _ => return Err(format!("has {outer} that is not a list of records")),
    };
    one_or_many(list)
        .ok_or_else(|| format!("has {outer} whose {inner} is neither a record nor a list"))
}

/// A list, or one record as an object, or nothing.
pub fn one_or_many(value: Option<&Json>) -> Option<Vec<Json>> {
    match value {
        None | Some(Json::Null) => Some(Vec::new()),
        Some(Json::Array(items)) => Some(items.clone()),
        Some(one @ Json::Object(_)) => Some(vec![one.clone()]),
        Some(Json::String(s)) if s.trim().is_empty() => Some(Vec::new()),
        Some(_) => None,
    }
}

/// A `/count` answer: `{"resource": {"count": N}}`, or `{"count": N}` (a
/// PowerQuery's); digits in a string are read too.
pub fn count(body: &Json) -> Option<u64> {
    let at = body.get("resource").unwrap_or(body);
    number(at.get("count")?)
}

/// A whole number, or digits in a string.
pub fn number(value: &Json) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

/// A non-empty field as text: strings trimmed, numbers and booleans written
/// out (PowerSchool sends ids and numbers as either).
pub fn scalar(record: &Json, key: &str) -> Option<String> {
    match record.get(key)? {
        Json::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_collection_of_one_reads_as_a_list_of_one() {
        let many = json!({"schools": {"school": [{"id": 1}, {"id": 2}]}});
        assert_eq!(records(&many, "schools", "school").unwrap().len(), 2);
        let one = json!({"schools": {"school": {"id": 1}}});
        assert_eq!(
            records(&one, "schools", "school").unwrap(),
            vec![json!({"id": 1})]
        );
        for none in [
            json!({"schools": null}),
            json!({"schools": ""}),
            json!({"schools": {"@expansions": "x"}}),
        ] {
            assert!(
                records(&none, "schools", "school").unwrap().is_empty(),
                "{none}"
            );
        }
        assert!(
            records(&json!({"students": {}}), "schools", "school")
                .unwrap_err()
                .contains("no schools list")
        );
        assert!(records(&json!({"schools": {"school": 3}}), "schools", "school").is_err());
        assert_eq!(count(&json!({"resource": {"count": 12}})), Some(12));
        assert_eq!(count(&json!({"count": "7"})), Some(7));
        assert_eq!(scalar(&json!({"id": 5}), "id").as_deref(), Some("5"));
        assert_eq!(
            says(br#"{"message": "Validation Failed", "errors": [{"resource": "student", "field": "name", "code": "missing"}]}"#)
                .as_deref(),
            Some("Validation Failed: student name missing")
        );
    }
}
