//! One request to a OneRoster server and what its answer means: URLs and
//! their encoding, the plugin error an admin can act on for every transport
//! failure and HTTP status, the collection in a body, and the paging headers
//! (`X-Total-Count`, `Link`) that decide whether another page follows.

use homeroom_sdk::PluginError;
use homeroom_sdk::connector_bindings::homeroom::plugin::http::{
    HttpError, Method, Request, Response,
};
use homeroom_sdk::oneroster::{Service, Version};
use serde_json::Value as Json;

use crate::config::Config;
use crate::env::Env;

/// Percent-encode a query value or path segment (RFC 3986 unreserved kept).
pub use homeroom_sdk::paging::encode;

/// What a request was for, to say so when it fails.
#[derive(Debug, Clone)]
pub struct Purpose<'a> {
    /// The collection (`users`) or record (`lineItems/li1`) asked for.
    pub resource: &'a str,
    pub service: Service,
    pub method: Method,
    /// The offset of the page, for reads.
    pub offset: Option<u64>,
}

impl Purpose<'_> {
    fn doing(&self) -> String {
        let verb = match self.method {
            Method::Get => "reading",
            Method::Put => "writing",
            Method::Delete => "deleting",
            Method::Post => "posting",
            Method::Patch => "patching",
        };
        match self.offset {
            Some(o) => format!("{verb} `{}` at offset {o}", self.resource),
            None => format!("{verb} `{}`", self.resource),
        }
    }

    /// The OAuth 2 scope the request needs (OneRoster's own names).
    pub fn scope(&self, config: &Config) -> String {
        let name = match (self.service, self.method) {
            (_, Method::Put | Method::Post | Method::Patch) => "gradebook.createput",
            (_, Method::Delete) => "gradebook.delete",
            (Service::Gradebook, _) => "gradebook.readonly",
            (Service::Resources, _) => "resource.readonly",
            (Service::Rostering, _) if self.resource.starts_with("demographics") => {
                "roster-demographics.readonly"
            }
            (Service::Rostering, _) => "roster-core.readonly",
        };
        format!("{}{name}", config.version.scope_prefix())
    }
}

/// Send one request; a transport failure becomes the error an admin can act on.
pub fn send(
    env: &mut dyn Env,
    config: &Config,
    purpose: &Purpose,
    url: &str,
    body: Option<Vec<u8>>,
) -> Result<Response, PluginError> {
    let mut headers = vec![("accept".to_string(), "application/json".to_string())];
    if body.is_some() {
        headers.push(("content-type".to_string(), "application/json".to_string()));
    }
    let request = Request {
        method: purpose.method,
        url: url.to_string(),
        headers,
        body,
    };
    env.send(&request)
        .map_err(|e| transport_error(config, purpose, url, e))
}

/// A failure before any HTTP answer came back.
pub fn transport_error(
    config: &Config,
    purpose: &Purpose,
    url: &str,
    error: HttpError,
) -> PluginError {
    let doing = purpose.doing();
    match error {
        HttpError::Connection(m) => PluginError::Unavailable(format!(
            "no usable answer from the OneRoster server at {url} ({doing}): {m}; check the Service URL and that the server is up, then run again"
        )),
        HttpError::Timeout(m) => PluginError::Unavailable(format!(
            "the OneRoster server at {url} did not answer in time ({doing}): {m}; try again later, or lower the Page size"
        )),
        HttpError::Denied(m) => PluginError::Config(format!(
            "the host will not let this connector reach {url} ({doing}): {m}; check the Service URL"
        )),
        HttpError::Invalid(m) => PluginError::Config(format!(
            "`{url}` is not a valid request address ({doing}): {m}; check the Service URL"
        )),
        HttpError::TooLarge(m) => PluginError::InvalidData(format!(
            "the answer from {url} was too large ({doing}): {m}; lower the Page size"
        )),
        HttpError::Auth(m) => {
            let fix = if config.auth.as_deref() == Some("oauth1") {
                "check the OAuth Client ID and Client Secret"
            } else {
                "check the Token URL, the OAuth Client ID and Client Secret, and the Scopes"
            };
            PluginError::Auth(format!(
                "the OAuth token endpoint refused the client ({doing}): {m}; {fix}"
            ))
        }
    }
}

/// What the server said about an error, from an imsx status body or an
/// OAuth error body, cut short.
pub fn server_says(body: &[u8]) -> Option<String> {
    let json: Json = serde_json::from_slice(body).ok()?;
    let pick = |j: &Json| -> Option<String> {
        ["imsx_description", "error_description", "error", "message"]
            .iter()
            .find_map(|k| j.get(*k).and_then(Json::as_str))
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
    };
    let text = pick(&json).or_else(|| json.as_object()?.values().find_map(pick))?;
    Some(if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text
    })
}

/// The error for a non-2xx answer.
pub fn status_error(
    config: &Config,
    purpose: &Purpose,
    url: &str,
    response: &Response,
) -> PluginError {
    let status = response.status;
    let doing = purpose.doing();
    let path = url.split('?').next().unwrap_or(url);
    let said = server_says(&response.body)
        .map(|s| format!(" (the server says: {s})"))
        .unwrap_or_default();
    let version = config.version.label();
    match status {
        401 => {
            let mut fix = "check the OAuth Client ID and Client Secret".to_string();
            if config.version == Version::V1p2 && config.auth.as_deref() == Some("oauth1") {
                fix.push_str(
                    "; OneRoster 1.2 servers expect OAuth 2.0: set Auth to oauth2-client-credentials and fill the Token URL",
                );
            }
            PluginError::Auth(format!(
                "{path} refused the credentials (401) {doing}{said}: {fix}"
            ))
        }
        403 => PluginError::Auth(format!(
            "{path} refused access (403) {doing}{said}: the OAuth client lacks the scope {}; ask the SIS administrator to grant it and add it to Scopes",
            purpose.scope(config)
        )),
        404 => {
            let base = config.version.base_path(purpose.service);
            let service = match purpose.service {
                Service::Gradebook => ", or the server does not offer the gradebook service",
                Service::Resources => ", or the server does not offer the resources service",
                Service::Rostering => "",
            };
            PluginError::Config(format!(
                "{path} was not found (404) {doing}{said}: wrong Service URL or wrong version (tried the OneRoster {version} path {base}){service}; check the Service URL and the Version"
            ))
        }
        429 => PluginError::RateLimited(format!(
            "{path} kept answering 429 Too Many Requests {doing}, after the host's retries{said}; run again later or lower the Page size"
        )),
        500..=599 => PluginError::Unavailable(format!(
            "{path} answered {status} {doing}, after the host's retries{said}: the OneRoster server is failing; run again later"
        )),
        400 | 422 => PluginError::InvalidData(format!(
            "{path} refused the request ({status}) {doing}{said}"
        )),
        _ => PluginError::InvalidData(format!(
            "{path} answered an unexpected HTTP {status} {doing}{said}"
        )),
    }
}

/// The part of a OneRoster server a collection belongs to that a server may
/// leave out, as an admin reads it: the gradebook and resources services,
/// and demographics (a rostering collection many servers do not serve).
/// None for the core rostering collections, which every OneRoster server
/// serves: a 404 there is a wrong Service URL or Version.
pub fn optional_part(service: Service, resource: &str) -> Option<&'static str> {
    match service {
        Service::Gradebook => Some("the gradebook service"),
        Service::Resources => Some("the resources service"),
        Service::Rostering if resource.starts_with("demographics") => Some("demographics"),
        Service::Rostering => None,
    }
}

/// Whether a status means "there is no such collection here" (404 Not
/// Found, 501 Not Implemented).
pub fn is_absent(status: u16) -> bool {
    matches!(status, 404 | 501)
}

/// A collection path as words (`lineItems` → `line items`).
pub fn words(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push(' ');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The answer to a 404 or 501 on the first page of a collection of an
/// optional part of the server ([`optional_part`]): the source does not
/// offer the kind, which is normal (many providers offer rostering only).
/// `Unsupported`, so the host imports the other kinds, keeps this kind's
/// records and shows the message as a warning; none for a core rostering
/// collection or another status, which stay errors ([`status_error`]).
pub fn not_offered(purpose: &Purpose, url: &str, response: &Response) -> Option<PluginError> {
    if !is_absent(response.status) {
        return None;
    }
    let part = optional_part(purpose.service, purpose.resource)?;
    let path = url.split('?').next().unwrap_or(url);
    let said = server_says(&response.body)
        .map(|s| format!("; the server says: {s}"))
        .unwrap_or_default();
    Some(PluginError::Unsupported(format!(
        "the server does not offer {part} (HTTP {} on {path}{said}); {} are not imported. If it should, check the Service URL and the Version",
        response.status,
        words(purpose.resource)
    )))
}

/// A response header (case-insensitive name), all values joined by `, `.
pub fn header(response: &Response, name: &str) -> Option<String> {
    let values: Vec<&str> = response
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// `X-Total-Count`, when the server sends a number.
pub fn total_count(response: &Response) -> Option<u64> {
    header(response, "x-total-count")?.trim().parse().ok()
}

/// What a `Link` header says about the next page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// No `Link` header.
    Absent,
    /// Links, but none with `rel="next"`: this is the last page.
    NoNext,
    Next,
}

/// Read the `Link` header (RFC 8288): `<url>; rel="next", <url>; rel="last"`.
pub fn link(response: &Response) -> Link {
    let Some(value) = header(response, "link") else {
        return Link::Absent;
    };
    let mut rest = value.as_str();
    let mut any = false;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        any = true;
        let after = &rest[open + close + 1..];
        let params_end = after.find('<').unwrap_or(after.len());
        let params = &after[..params_end];
        for param in params.split(';') {
            let Some((key, val)) = param.split_once('=') else {
                continue;
            };
            if key.trim().eq_ignore_ascii_case("rel")
                && val
                    .trim_matches(|c: char| c.is_whitespace() || c == ',' || c == '"')
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
            {
                return Link::Next;
            }
        }
        rest = after;
    }
    if any { Link::NoNext } else { Link::Absent }
}

/// The offset of the page after one that started at `offset`, asked for
/// `limit` and brought `received` records; none when the read is over.
///
/// An empty page always ends the read. A `Link` header decides when there
/// is one. Without it a full page goes on (servers may lie low in
/// `X-Total-Count`), and a short page goes on only when `X-Total-Count` says
/// there is more (servers may cap `limit` below what was asked). Offsets only
/// grow, so a read always ends.
pub fn next_offset(
    offset: u64,
    limit: u64,
    received: u64,
    total: Option<u64>,
    link: Link,
) -> Option<u64> {
    if received == 0 {
        return None;
    }
    let next = offset.saturating_add(received);
    let more = match link {
        Link::Next => true,
        Link::NoNext => false,
        Link::Absent => received >= limit || total.is_some_and(|t| next < t),
    };
    more.then_some(next)
}

/// The list under `key` in a collection body. `null` reads as empty (some
/// servers send it for an empty collection); anything else is refused.
pub fn collection(body: &[u8], key: &str) -> Result<Vec<Json>, CollectionError> {
    let json: Json =
        serde_json::from_slice(body).map_err(|e| CollectionError::NotJson(e.to_string()))?;
    // Taken out of the parsed body, not copied: a page of 10,000 records is
    // tens of megabytes of parsed JSON.
    let Json::Object(mut object) = json else {
        return Err(CollectionError::NoCollection);
    };
    match object.remove(key) {
        Some(Json::Array(items)) => Ok(items),
        Some(Json::Null) => Ok(Vec::new()),
        _ => Err(CollectionError::NoCollection),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectionError {
    NotJson(String),
    NoCollection,
}

/// A collection URL with paging (and a filter).
pub fn collection_url(
    config: &Config,
    service: Service,
    path: &str,
    limit: u64,
    offset: u64,
    filter: Option<&str>,
) -> String {
    let mut url = format!(
        "{}/{path}?limit={limit}&offset={offset}",
        config.base(service)
    );
    if let Some(filter) = filter {
        url.push_str("&filter=");
        url.push_str(&encode(filter));
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(
            encode("dateLastModified>'2024-08-01T00:00:00.000Z'"),
            "dateLastModified%3E%272024-08-01T00%3A00%3A00.000Z%27"
        );
        assert_eq!(encode("a b/ü"), "a%20b%2F%C3%BC");
    }

    #[test]
    fn link_headers_are_read_per_rfc_8288() {
        let with = |v: &str| link(&response(200, &[("Link", v)], ""));
        assert_eq!(link(&response(200, &[], "")), Link::Absent);
        assert_eq!(
            with(
                r#"<https://x/users?limit=2&offset=2>; rel="next", <https://x/users?limit=2&offset=8>; rel="last""#
            ),
            Link::Next
        );
        assert_eq!(
            with(
                r#"<https://x/users?offset=0>; rel="first", <https://x/users?offset=8>; rel=last"#
            ),
            Link::NoNext
        );
        assert_eq!(with(r#"<https://x/a,b>; rel="prev next""#), Link::Next);
        assert_eq!(with("garbage"), Link::Absent);
    }

    #[test]
    fn paging_goes_on_while_the_server_says_so() {
        // Full pages go on; an empty page always ends.
        assert_eq!(next_offset(0, 100, 100, None, Link::Absent), Some(100));
        assert_eq!(next_offset(100, 100, 0, Some(500), Link::Next), None);
        // A short page ends, unless the total says there is more (a server
        // capping `limit` at 50).
        assert_eq!(next_offset(0, 100, 40, None, Link::Absent), None);
        assert_eq!(next_offset(0, 100, 50, Some(120), Link::Absent), Some(50));
        assert_eq!(next_offset(100, 100, 20, Some(120), Link::Absent), None);
        // A total that lies low does not stop full pages.
        assert_eq!(
            next_offset(100, 100, 100, Some(150), Link::Absent),
            Some(200)
        );
        // Link decides when present.
        assert_eq!(next_offset(0, 100, 50, None, Link::Next), Some(50));
        assert_eq!(next_offset(0, 100, 100, Some(1000), Link::NoNext), None);
    }

    #[test]
    fn collections_are_found_or_refused() {
        assert_eq!(
            collection(br#"{"users": [{"sourcedId": "u1"}]}"#, "users")
                .unwrap()
                .len(),
            1
        );
        assert_eq!(collection(br#"{"users": null}"#, "users").unwrap().len(), 0);
        assert_eq!(
            collection(br#"{"orgs": []}"#, "users"),
            Err(CollectionError::NoCollection)
        );
        assert_eq!(
            collection(br#"[1]"#, "users"),
            Err(CollectionError::NoCollection)
        );
        assert!(matches!(
            collection(br#"{"users": [{"sourcedId": "u1"},"#, "users"),
            Err(CollectionError::NotJson(_))
        ));
    }

    #[test]
    fn server_messages_are_picked_from_imsx_and_oauth_bodies() {
        assert_eq!(
            server_says(br#"{"imsx_codeMajor": "failure", "imsx_description": "bad filter"}"#)
                .as_deref(),
            Some("bad filter")
        );
        assert_eq!(
            server_says(br#"{"imsx_statusInfo": {"imsx_description": "nope"}}"#).as_deref(),
            Some("nope")
        );
        assert_eq!(
            server_says(br#"{"error": "invalid_scope"}"#).as_deref(),
            Some("invalid_scope")
        );
        assert_eq!(server_says(b"<html>"), None);
    }
}
