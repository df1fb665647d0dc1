//! `POST /token`: Google's OAuth 2.0 token endpoint for the refresh-token
//! grant (RFC 6749 section 6), answering errors as `oauth2.googleapis.com`
//! does (`invalid_grant` 400, `invalid_client` 401, `invalid_request` 400,
//! `unsupported_grant_type` 400, `invalid_scope` 400).

use std::collections::BTreeMap;
use std::time::Instant;

use axum::http::{HeaderMap, Method, header};
use base64::Engine;
use serde_json::json;

use super::wire::Answer;
use super::{State, Token};

fn oauth_error(status: u16, error: &str, description: &str) -> Answer {
    let mut a = Answer::json(
        status,
        &json!({"error": error, "error_description": description}),
        true,
    );
    a.headers.push(("Cache-Control".into(), "no-store".into()));
    a
}

/// Client credentials from `Authorization: Basic` (RFC 6749 section 2.3.1).
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (id, secret) = raw.split_once(':')?;
    let dec = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((dec(id), dec(secret)))
}

pub(crate) fn token(s: &mut State, method: &Method, headers: &HeaderMap, body: &[u8]) -> Answer {
    s.token_requests += 1;
    if method != Method::POST {
        return oauth_error(405, "invalid_request", "The token endpoint takes POST.");
    }
    let mut form: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        form.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    if grant != "refresh_token" {
        return oauth_error(
            400,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {grant}"),
        );
    }
    let (id, secret) = match basic(headers) {
        Some(pair) => pair,
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    if id.is_empty() {
        return oauth_error(
            400,
            "invalid_request",
            "Could not determine client ID from request.",
        );
    }
    if id != s.config.client_id {
        return oauth_error(401, "invalid_client", "The OAuth client was not found.");
    }
    if secret != s.config.client_secret {
        return oauth_error(401, "invalid_client", "Unauthorized");
    }
    let Some(refresh) = form.get("refresh_token").filter(|r| !r.is_empty()) else {
        return oauth_error(
            400,
            "invalid_request",
            "Missing required parameter: refresh_token",
        );
    };
    if *refresh != s.config.refresh_token {
        return oauth_error(400, "invalid_grant", "Bad Request");
    }
    if s.refresh_revoked {
        return oauth_error(400, "invalid_grant", "Token has been expired or revoked.");
    }
    // `scope` may narrow the grant, never widen it.
    let scopes: Vec<String> = match form.get("scope").filter(|v| !v.trim().is_empty()) {
        None => s.config.scopes.clone(),
        Some(asked) => {
            let asked: Vec<String> = asked.split_whitespace().map(str::to_string).collect();
            let invalid: Vec<&String> = asked
                .iter()
                .filter(|a| !s.config.scopes.contains(a))
                .collect();
            if !invalid.is_empty() {
                return oauth_error(
                    400,
                    "invalid_scope",
                    &format!(
                        "Some requested scopes were invalid. {{invalid=[{}]}}",
                        invalid
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
            asked
        }
    };
    let access = format!("ya29.mock-{}", s.random_text(48));
    let lifetime = s.config.token_lifetime;
    s.tokens.insert(
        access.clone(),
        Token {
            scopes: scopes.clone(),
            expires: Instant::now() + lifetime,
        },
    );
    let mut a = Answer::json(
        200,
        &json!({
            "access_token": access,
            "expires_in": lifetime.as_secs(),
            "scope": scopes.join(" "),
            "token_type": "Bearer",
        }),
        true,
    );
    a.headers.push(("Cache-Control".into(), "no-store".into()));
    a
}
