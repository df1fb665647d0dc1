//! The OneRoster provider: the hub's own OneRoster 1.1 and 1.2 REST API,
//! which ed-tech vendors read a district's committed roster through.
//!
//! - `POST /ims/oneroster/token`: OAuth 2.0 client credentials (the client
//!   id and secret in HTTP Basic or in the form), scopes as OneRoster 1.2
//!   names them; or, for 1.1 clients the district made signing ones, each
//!   request signed with OAuth 1.0a (HMAC-SHA1);
//! - `GET /ims/oneroster/v1p1/...` (1.1), `/ims/oneroster/rostering/v1p2/...`
//!   and `/ims/oneroster/gradebook/v1p2/...` (1.2): every collection, single
//!   record and relationship endpoint, with `limit`/`offset`
//!   (`X-Total-Count`, `Link`), `sort`/`orderBy`, `filter`, `fields`, read
//!   from the query string or, as some clients send them, a form body;
//! - `PUT` and `DELETE` of `lineItems/{id}`, `results/{id}` and
//!   `categories/{id}` (201 on create, 200 on update, 204 on delete);
//! - errors as imsx status JSON with the code minor a client acts on.
//!
//! A face over `crate::app::provider` and `crate::app::gradebook`, where the
//! agreement is applied, every read logged and every write kept as a run:
//! this module parses HTTP and writes it, nothing more.
//! The resources service is not held by the hub: its paths answer
//! `unknownobject`.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use serde_json::json;

use crate::app::App;
use crate::app::gradebook::{MAX_WRITE_BYTES, WriteMethod, WriteRequest, Written};
use crate::app::provider::{Answer, Minor, ReadParams, ReadRequest, Refusal, TOKEN_PATH, Vendor};
use crate::model::oneroster::{Service, Version};

/// The provider's routes.
pub fn router() -> Router<App> {
    Router::new()
        .route(TOKEN_PATH, post(token))
        .route("/ims/oneroster/v1p1/{*rest}", any(serve))
        .route("/ims/oneroster/rostering/v1p2/{*rest}", any(serve))
        .route("/ims/oneroster/gradebook/v1p2/{*rest}", any(serve))
        .route("/ims/oneroster/resources/v1p2/{*rest}", any(serve))
}

/// The query parameters of the REST binding.
const QUERY_PARAMETERS: [&str; 6] = ["limit", "offset", "sort", "orderBy", "filter", "fields"];

/// An imsx status answer.
fn refusal(r: &Refusal) -> Response {
    let status = match r.minor {
        Minor::UnknownObject => StatusCode::NOT_FOUND,
        Minor::Unauthorised => StatusCode::UNAUTHORIZED,
        Minor::Forbidden => StatusCode::FORBIDDEN,
        Minor::InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = json!({
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": r.message,
        "imsx_CodeMinor": {"imsx_codeMinorField": [{
            "imsx_codeMinorFieldName": "TargetEndSystem",
            "imsx_codeMinorFieldValue": r.minor.as_str(),
        }]},
    });
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"OneRoster\""),
        );
    }
    response
}

fn form_pairs(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// `POST /ims/oneroster/token`.
async fn token(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let oauth_error = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            Json(json!({"error": error, "error_description": description})),
        )
            .into_response()
    };
    let pairs = form_pairs(&String::from_utf8_lossy(&body));
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if get("grant_type").as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "this hub issues tokens for grant_type=client_credentials only",
        );
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            // RFC 6749 §2.3.1: both are form-encoded inside Basic.
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    let Some((id, secret)) = basic.or_else(|| Some((get("client_id")?, get("client_secret")?)))
    else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "send the client id and secret in HTTP Basic authentication (or as client_id and client_secret in the form)",
        );
    };
    match app
        .vendor_token(&id, &secret, get("scope").as_deref())
        .await
    {
        Ok(t) => {
            let mut response = Json(json!({
                "access_token": t.access_token,
                "token_type": t.token_type,
                "expires_in": t.expires_in,
                "scope": t.scope,
            }))
            .into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(r) => {
            let status = match r.error {
                "invalid_client" => StatusCode::UNAUTHORIZED,
                "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            };
            oauth_error(status, r.error, &r.description)
        }
    }
}

/// Where `href`s start: the scheme and host the client called.
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// A GET of the provider.
async fn serve(State(app): State<App>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let write = match parts.method {
        axum::http::Method::GET => None,
        axum::http::Method::PUT => Some(WriteMethod::Put),
        axum::http::Method::DELETE => Some(WriteMethod::Delete),
        ref other => {
            return refusal(&Refusal {
                minor: Minor::UnknownObject,
                message: format!(
                    "{other} is not served here: the provider answers GET, and PUT and DELETE of line items, results and categories"
                ),
            });
        }
    };
    let path = parts.uri.path().to_string();
    let (version, service, rest) = match [
        ("/ims/oneroster/v1p1/", Version::V1p1, Service::Rostering),
        (
            "/ims/oneroster/rostering/v1p2/",
            Version::V1p2,
            Service::Rostering,
        ),
        (
            "/ims/oneroster/gradebook/v1p2/",
            Version::V1p2,
            Service::Gradebook,
        ),
        (
            "/ims/oneroster/resources/v1p2/",
            Version::V1p2,
            Service::Resources,
        ),
    ]
    .into_iter()
    .find_map(|(base, v, s)| path.strip_prefix(base).map(|rest| (v, s, rest.to_string())))
    {
        Some(found) => found,
        None => {
            return refusal(&Refusal {
                minor: Minor::UnknownObject,
                message: format!("there is no endpoint {path} here"),
            });
        }
    };
    let segments: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    // Parameters from the query string, and from a form body as some
    // clients send them with a GET (the query string wins).
    let query = parts.uri.query().unwrap_or_default().to_string();
    let mut pairs = form_pairs(&query);
    let mut form = Vec::new();
    let mut written = Vec::new();
    if write.is_some() {
        match axum::body::to_bytes(body, MAX_WRITE_BYTES).await {
            Ok(bytes) => written = bytes.to_vec(),
            Err(_) => {
                return refusal(&Refusal {
                    minor: Minor::InvalidData,
                    message: format!(
                        "the body is over {} KiB, or was cut off: send one record per request",
                        MAX_WRITE_BYTES / 1024
                    ),
                });
            }
        }
    } else if is_form(&parts.headers)
        && let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await
    {
        form = form_pairs(&String::from_utf8_lossy(&bytes));
        pairs.extend(form.iter().cloned());
    }
    let origin = origin(&parts.headers);
    let vendor = match authenticate(&app, &parts, &origin, &path, &query, &form).await {
        Ok(v) => v,
        Err(r) => return refusal(&r),
    };
    if let Some(method) = write {
        let request = WriteRequest {
            method,
            version,
            service,
            segments,
            body: written,
            origin,
            endpoint: path,
        };
        return match app.vendor_write(&vendor, &request).await {
            Err(r) => refusal(&r),
            Ok(Written::Deleted) => StatusCode::NO_CONTENT.into_response(),
            Ok(Written::Created { envelope, record }) => {
                (StatusCode::CREATED, Json(json!({ envelope: record }))).into_response()
            }
            Ok(Written::Updated { envelope, record }) => {
                Json(json!({ envelope: record })).into_response()
            }
        };
    }
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let params = ReadParams {
        limit: get("limit"),
        offset: get("offset"),
        sort: get("sort"),
        order_by: get("orderBy"),
        filter: get("filter"),
        fields: get("fields"),
    };
    let request = ReadRequest {
        version,
        service,
        segments,
        params: params.clone(),
        origin: origin.clone(),
        endpoint: path.clone(),
        // Only the query parameters the binding defines are logged: a
        // client that sends its token or secret along is not written down.
        query: pairs
            .iter()
            .filter(|(k, _)| QUERY_PARAMETERS.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&"),
    };
    match app.vendor_read(&vendor, &request).await {
        Err(r) => refusal(&r),
        Ok(Answer::One { envelope, record }) => Json(json!({ envelope: record })).into_response(),
        Ok(Answer::List {
            envelope,
            records,
            total,
            offset,
            limit,
        }) => {
            let mut response = Json(json!({ envelope: records })).into_response();
            let h = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
                h.insert("x-total-count", v);
            }
            let link = links(&origin, &path, &pairs, total, offset, limit);
            if let Ok(v) = HeaderValue::from_str(&link) {
                h.insert(header::LINK, v);
            }
            response
        }
    }
}

/// The vendor a request comes from: a bearer token, or (OneRoster 1.1)
/// an OAuth 1.0a signature over the request as the client called it.
async fn authenticate(
    app: &App,
    parts: &axum::http::request::Parts,
    origin: &str,
    path: &str,
    query: &str,
    form: &[(String, String)],
) -> Result<Vendor, Refusal> {
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some(token) = authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("bearer "))
    {
        app.vendor(token).await
    } else if authorization.starts_with("OAuth ") {
        let called = if query.is_empty() {
            format!("{origin}{path}")
        } else {
            format!("{origin}{path}?{query}")
        };
        match url::Url::parse(&called) {
            Ok(url) => {
                app.vendor_signed(parts.method.as_str(), &url, form, authorization)
                    .await
            }
            Err(_) => Err(Refusal {
                minor: Minor::Unauthorised,
                message: "the request's URL cannot be read to check its signature".into(),
            }),
        }
    } else {
        Err(Refusal {
            minor: Minor::Unauthorised,
            message: format!(
                "send an access token as Authorization: Bearer <token> (ask for one at {TOKEN_PATH} with the client credentials the district gave you), or sign the request with OAuth 1.0a"
            ),
        })
    }
}

/// The `Link` header: first, prev, next and last pages of the same query.
fn links(
    origin: &str,
    path: &str,
    pairs: &[(String, String)],
    total: usize,
    offset: usize,
    limit: usize,
) -> String {
    let url = |offset: usize| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            if k != "limit" && k != "offset" && QUERY_PARAMETERS.contains(&k.as_str()) {
                s.append_pair(k, v);
            }
        }
        s.append_pair("limit", &limit.to_string());
        s.append_pair("offset", &offset.to_string());
        format!("{origin}{path}?{}", s.finish())
    };
    let last = if total == 0 {
        0
    } else {
        (total - 1) / limit * limit
    };
    let mut out = vec![format!("<{}>; rel=\"first\"", url(0))];
    if offset > 0 {
        out.push(format!(
            "<{}>; rel=\"prev\"",
            url(offset.saturating_sub(limit))
        ));
    }
    if offset + limit < total {
        out.push(format!("<{}>; rel=\"next\"", url(offset + limit)));
    }
    out.push(format!("<{}>; rel=\"last\"", url(last)));
    out.join(", ")
}
