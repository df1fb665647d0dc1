//! A mock Microsoft Graph (v1.0) and Microsoft identity platform token
//! endpoint for tests, written from Microsoft's public documentation: "Get
//! access without a user" (OAuth 2.0 client credentials at
//! `/{tenant}/oauth2/v2.0/token`: a form with `grant_type=client_credentials`,
//! `client_id`, `client_secret` and `scope=https://graph.microsoft.com/.default`,
//! answered `{"token_type": "Bearer", "expires_in": 3599, "access_token"}`),
//! "List users" (`GET /v1.0/users` with `$select` and `$top`, answering
//! `{"@odata.context", "value": [...], "@odata.nextLink"}` with an absolute
//! nextLink carrying `$skiptoken`, none on the last page), "user: delta"
//! (`GET /v1.0/users/delta`: pages by nextLink, the last page of a round with
//! `@odata.deltaLink` carrying `$deltatoken`; `$deltatoken=latest` answers no
//! users and a deltaLink for now; a later call of the deltaLink returns the
//! users changed since, each with its selected properties (the documentation
//! promises "at least the changed properties"), and a removed user as
//! `{"id", "@removed": {"reason": "changed" | "deleted"}}`; a token Graph no
//! longer keeps answers 410 Gone with `syncStateNotFound`), "Paging Microsoft
//! Graph data" (follow the nextLink as given), "List educationUsers",
//! "educationUser: delta" and "List educationSchools" (the same paging;
//! a user's `primaryRole` and `student.studentNumber` /
//! `teacher.teacherNumber`, a school's `schoolNumber`) and "Microsoft Graph
//! throttling guidance" (429 with `Retry-After` seconds). Error bodies are
//! Graph's `{"error": {"code", "message"}}`. Real HTTP on 127.0.0.1 (axum).
//!
//! The handle edits the directory (each edit a change a delta round returns),
//! expires the delta tokens handed out so far, switches faults on (a 429
//! storm, 503s, a body cut off mid-way, malformed JSON, a nextLink that
//! names its own page), and logs every request.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value as Json, json};

use crate::oneroster_mock::oauth::{basic_credentials, query_pairs};

pub const TENANT: &str = "0b5f3c2e-6d1a-4b8e-9f7a-2c4d6e8f0a1b";
pub const CLIENT_ID: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
pub const CLIENT_SECRET: &str = "entra-test-client-secret";
pub const SCOPE: &str = "https://graph.microsoft.com/.default";
const ACCESS_TOKEN: &str = "entra-test-access-token";
/// The tenant's education schools (School Data Sync): id, name, number.
pub const SCHOOLS: [(&str, &str, &str); 2] = [
    ("e5c1-s1", "Springfield Elementary", "SE-101"),
    ("e5c1-s2", "Springfield High", "SH-102"),
];

/// One request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
}

#[derive(Default)]
struct State {
    /// The tenant's users by id.
    users: BTreeMap<String, Json>,
    /// Changed user ids in order; delta token `tN` names the changes from N on.
    changes: Vec<String>,
    /// Tokens below this are no longer kept (410).
    expired_below: usize,
    /// The `$select` last asked of each collection, which its links keep
    /// (Graph keeps it in the token).
    selects: BTreeMap<String, String>,
    too_many: u32,
    retry_after_secs: u64,
    server_errors: u32,
    truncated: u32,
    malformed: u32,
    /// Pages whose nextLink names the page itself.
    repeat: u32,
    token_requests: u64,
    log: Vec<Logged>,
}

pub struct MockGraph {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// A directory user as Graph returns it with the connector's `$select`.
pub fn user(id: &str, given: &str, surname: &str, upn: &str, employee_id: Option<&str>) -> Json {
    json!({"id": id, "userPrincipalName": upn, "mail": upn, "givenName": given,
        "surname": surname, "displayName": format!("{given} {surname}"),
        "accountEnabled": true, "employeeId": employee_id,
        "onPremisesSamAccountName": upn.split('@').next()})
}

impl MockGraph {
    pub async fn start(users: Vec<Json>) -> anyhow::Result<MockGraph> {
        let state = Arc::new(Mutex::new(State {
            users: users
                .into_iter()
                .map(|u| (u["id"].as_str().unwrap_or_default().to_string(), u))
                .collect(),
            ..Default::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { handle(&state, addr, &method, &uri, &headers, &body) }
            },
        );
        let tx = crate::support::serve_until_shutdown(listener, app);
        Ok(MockGraph {
            addr,
            state,
            _shutdown: tx,
        })
    }

    /// The Graph URL to configure (`http://127.0.0.1:PORT`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The tenant's token endpoint.
    pub fn token_url(&self) -> String {
        format!("http://{}/{TENANT}/oauth2/v2.0/token", self.addr)
    }

    pub fn requests(&self) -> Vec<Logged> {
        lock(&self.state).log.clone()
    }

    pub fn token_requests(&self) -> u64 {
        lock(&self.state).token_requests
    }

    /// Change a user (a change the next delta round returns).
    pub fn update(&self, id: &str, change: impl FnOnce(&mut Json)) {
        let mut s = lock(&self.state);
        if let Some(u) = s.users.get_mut(id) {
            change(u);
            s.changes.push(id.to_string());
        }
    }

    /// Delete a user (a delta round returns it as `@removed`).
    pub fn delete(&self, id: &str) {
        let mut s = lock(&self.state);
        if s.users.remove(id).is_some() {
            s.changes.push(id.to_string());
        }
    }

    /// Graph no longer keeps any delta token handed out so far.
    pub fn expire_tokens(&self) {
        let mut s = lock(&self.state);
        s.expired_below = s.changes.len() + 1;
    }

    pub fn fail_with_503(&self, n: u32) {
        lock(&self.state).server_errors = n;
    }

    pub fn truncate_bodies(&self, n: u32) {
        lock(&self.state).truncated = n;
    }

    pub fn malformed_json(&self, n: u32) {
        lock(&self.state).malformed = n;
    }

    /// The next `n` pages with a nextLink name themselves as the next page.
    pub fn repeat_pages(&self, n: u32) {
        lock(&self.state).repeat = n;
    }

    pub fn fail_with_429(&self, n: u32, retry_after_secs: u64) {
        let mut s = lock(&self.state);
        s.too_many = n;
        s.retry_after_secs = retry_after_secs;
    }
}

/// A JSON answer with Graph's `Date` header (RFC 9110 IMF-fixdate).
fn respond(status: StatusCode, body: Json) -> Response {
    let mut r = respond_raw(body.to_string());
    *r.status_mut() = status;
    r
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    respond(status, json!({"error": {"code": code, "message": message}}))
}

fn handle(
    state: &Mutex<State>,
    addr: SocketAddr,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let mut s = lock(state);
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let response = if path == format!("/{TENANT}/oauth2/v2.0/token") {
        token(&mut s, method, headers, body)
    } else {
        api(&mut s, addr, &path, &query, headers)
    };
    s.log.push(Logged {
        method: method.to_string(),
        path,
        query,
        status: response.status().as_u16(),
    });
    response
}

/// The client-credentials grant; the client authenticates in the form or
/// by HTTP Basic (RFC 6749 section 2.3.1, which Microsoft accepts too).
fn token(s: &mut State, method: &Method, headers: &HeaderMap, body: &[u8]) -> Response {
    s.token_requests += 1;
    let form: BTreeMap<String, String> = query_pairs(&String::from_utf8_lossy(body))
        .into_iter()
        .collect();
    let field = |k: &str| form.get(k).map(String::as_str);
    let error = |code: &str, text: &str| {
        respond(
            StatusCode::BAD_REQUEST,
            json!({"error": code, "error_description": text}),
        )
    };
    if method != Method::POST || field("grant_type") != Some("client_credentials") {
        return error(
            "unsupported_grant_type",
            "AADSTS70003: POST grant_type=client_credentials",
        );
    }
    let client = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials)
        .or_else(|| Some((field("client_id")?.into(), field("client_secret")?.into())));
    if client != Some((CLIENT_ID.into(), CLIENT_SECRET.into())) {
        return respond(
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}),
        );
    }
    if field("scope") != Some(SCOPE) {
        return error(
            "invalid_scope",
            "AADSTS1002012: the scope must be https://graph.microsoft.com/.default",
        );
    }
    respond(
        StatusCode::OK,
        json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": ACCESS_TOKEN}),
    )
}

fn api(s: &mut State, addr: SocketAddr, path: &str, query: &str, headers: &HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(ACCESS_TOKEN) {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty or invalid.",
        );
    }
    if s.too_many > 0 {
        s.too_many -= 1;
        let mut r = graph_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests, please try again later.",
        );
        r.headers_mut().insert(
            header::RETRY_AFTER,
            s.retry_after_secs.to_string().parse().expect("header"),
        );
        return r;
    }
    if s.server_errors > 0 {
        s.server_errors -= 1;
        return graph_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "The service is temporarily unavailable.",
        );
    }
    let params: BTreeMap<String, String> = query_pairs(query).into_iter().collect();
    let param = |k: &str| params.get(k).map(String::as_str);
    let collection = path
        .strip_prefix("/v1.0/")
        .unwrap_or_default()
        .trim_end_matches("/delta")
        .to_string();
    if let Some(sel) = param("$select") {
        s.selects.insert(collection.clone(), sel.to_string());
    }
    let sel = s
        .selects
        .get(&collection)
        .cloned()
        .unwrap_or_else(|| "id".into());
    let select: Vec<&str> = sel.split(',').collect();
    // An education user's student or teacher number is its employeeId.
    let shown = |u: &Json| -> Json {
        let mut out = serde_json::Map::new();
        for key in &select {
            let value = match *key {
                "student" | "teacher" if u["primaryRole"] == *key => {
                    json!({format!("{key}Number"): u["employeeId"]})
                }
                key => u.get(key).cloned().unwrap_or(Json::Null),
            };
            out.insert(key.to_string(), value);
        }
        Json::Object(out)
    };
    let root = format!("http://{addr}/v1.0");
    let top: usize = param("$top")
        .and_then(|t| t.parse().ok())
        .unwrap_or(100)
        .min(999);
    let skip: usize = param("$skiptoken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let (items, link_of): (Vec<Json>, String) = match path {
        "/v1.0/users" | "/v1.0/education/users" => (
            s.users.values().map(shown).collect(),
            format!("{root}/{collection}?$select={sel}&$top={top}"),
        ),
        "/v1.0/education/schools" => (
            SCHOOLS.iter().map(|(id, name, number)| {
                json!({"id": id, "displayName": name, "schoolNumber": number, "externalId": number})
            }).collect(),
            format!("{root}/education/schools?$select={sel}&$top={top}"),
        ),
        "/v1.0/users/delta" | "/v1.0/education/users/delta" => {
            let from = match param("$deltatoken") {
                None => 0,
                Some("latest") => s.changes.len(),
                Some(t) => match t.strip_prefix('t').and_then(|n| n.parse::<usize>().ok()) {
                    Some(n) if n >= s.expired_below && n <= s.changes.len() => n,
                    _ => {
                        return graph_error(
                            StatusCode::GONE,
                            "syncStateNotFound",
                            "The sync state generation is not found. Resync required.",
                        );
                    }
                },
            };
            let items: Vec<Json> = if param("$deltatoken").is_none() {
                s.users.values().map(shown).collect()
            } else {
                let mut ids: Vec<&String> = Vec::new();
                for id in &s.changes[from..] {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                ids.into_iter()
                    .map(|id| match s.users.get(id) {
                        Some(u) => shown(u),
                        None => json!({"id": id, "@removed": {"reason": "deleted"}}),
                    })
                    .collect()
            };
            let token = param("$deltatoken")
                .map(|t| format!("&$deltatoken={t}"))
                .unwrap_or_default();
            (
                items,
                format!("{root}/users/delta?$select={sel}&$top={top}{token}"),
            )
        }
        _ => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("Resource not found for the segment '{path}'."),
            );
        }
    };
    let page: Vec<Json> = items.iter().skip(skip).take(top).cloned().collect();
    let mut body = json!({"@odata.context": format!("{root}/$metadata#users"), "value": page});
    if skip + top < items.len() && s.repeat > 0 {
        s.repeat -= 1;
        body["@odata.nextLink"] = json!(format!("http://{addr}{path}?{query}"));
    } else if skip + top < items.len() {
        body["@odata.nextLink"] = json!(format!("{link_of}&$skiptoken={}", skip + top));
    } else if path.ends_with("/delta") {
        body["@odata.deltaLink"] = json!(format!(
            "{root}/{collection}/delta?$deltatoken=t{}",
            s.changes.len()
        ));
    }
    if s.malformed > 0 {
        s.malformed -= 1;
        return respond_raw("{\"value\": [{'id': broken".into());
    }
    if s.truncated > 0 {
        s.truncated -= 1;
        return crate::support::cut_off(json_builder(), body.to_string()).unwrap_or_else(|e| {
            graph_error(StatusCode::INTERNAL_SERVER_ERROR, "mock", &e.to_string())
        });
    }
    respond(StatusCode::OK, body)
}

fn json_builder() -> axum::http::response::Builder {
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::DATE, date)
}

fn respond_raw(body: String) -> Response {
    json_builder()
        .body(Body::from(body))
        .unwrap_or_else(|e| graph_error(StatusCode::INTERNAL_SERVER_ERROR, "mock", &e.to_string()))
}
