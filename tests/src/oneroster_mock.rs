//! A mock OneRoster 1.1 / 1.2 REST provider for tests, written from the
//! 1EdTech OpenAPI documents (rostering, gradebook) and the 1.1 binding: real
//! HTTP on 127.0.0.1 (axum), any port.
//!
//! It serves a [`Dataset`] under both versions' base paths
//! (`/ims/oneroster/v1p1`, `/ims/oneroster/rostering/v1p2`,
//! `/ims/oneroster/gradebook/v1p2`) with `limit`/`offset` paging, the
//! `X-Total-Count` and `Link` headers, the `filter` grammar, `sort`/`orderBy`
//! and `fields`; single records; and grade writes (`PUT`/`DELETE` of line
//! items and results, checked against the schema).
//!
//! Auth as the specifications ask: an OAuth 2 client-credentials token
//! endpoint (`POST /token`, client authentication by HTTP Basic or form
//! fields, scopes checked per request) for both versions, and OAuth 1.0a
//! HMAC-SHA1 signatures (two-legged, RFC 5849, timestamp window and nonce
//! replay checked) for 1.1.
//!
//! Faults are switched at runtime through the [`MockOneRoster`] handle: 429
//! with `Retry-After`, 500, slow pages, a body cut off mid-way, malformed
//! JSON, a page that repeats (offset ignored once), an `X-Total-Count` that
//! lies. The handle also counts requests and edits the dataset (add, update,
//! mark `tobedeleted`, each with a fresh `dateLastModified`) for delta tests.
//!
//! It can play a provider that offers less, as many SIS providers do
//! (rostering only): [`MockOneRoster::offer_only`] (or
//! [`MockConfig::services`]) leaves services out, and
//! [`MockOneRoster::offer_demographics`] (or [`MockConfig::demographics`])
//! leaves `/demographics` out. Every collection left out answers 404 with the
//! imsx status body the specifications give (`imsx_codeMajor` failure,
//! `imsx_severity` error, an `imsx_description`, code minor `unknownobject`),
//! before credentials are looked at, under both versions' base paths.

pub mod dataset;
pub mod filter;
pub mod oauth;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value as Json, json};

pub use dataset::Dataset;
use dataset::{present, write_schema};
use filter::Filter;

/// The OneRoster version of a request (by its base path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V1p1,
    V1p2,
}

impl Version {
    pub fn base_path(self, service: Service) -> &'static str {
        match (self, service) {
            (Version::V1p1, _) => "/ims/oneroster/v1p1",
            (Version::V1p2, Service::Rostering) => "/ims/oneroster/rostering/v1p2",
            (Version::V1p2, Service::Gradebook) => "/ims/oneroster/gradebook/v1p2",
            (Version::V1p2, Service::Resources) => "/ims/oneroster/resources/v1p2",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Version::V1p1 => "1.1",
            Version::V1p2 => "1.2",
        }
    }

    fn scope_prefix(self) -> &'static str {
        match self {
            Version::V1p1 => "https://purl.imsglobal.org/spec/or/v1p1/scope/",
            Version::V1p2 => "https://purl.imsglobal.org/spec/or/v1p2/scope/",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Rostering,
    Gradebook,
    Resources,
}

impl Service {
    /// Every service, what the default configuration offers.
    pub const ALL: [Service; 3] = [Service::Rostering, Service::Gradebook, Service::Resources];

    /// The service's name in the specifications (`rostering`).
    pub fn name(self) -> &'static str {
        match self {
            Service::Rostering => "rostering",
            Service::Gradebook => "gradebook",
            Service::Resources => "resources",
        }
    }
}

/// The client id and secret the default configuration registers.
pub const CLIENT_ID: &str = "homeroom-test-client";
pub const CLIENT_SECRET: &str = "homeroom-test-secret";

/// Every scope name of both versions (what the default client may ask for).
pub fn all_scopes() -> Vec<String> {
    let names = [
        "roster.readonly",
        "roster-core.readonly",
        "roster-demographics.readonly",
        "resource.readonly",
        "gradebook.readonly",
        "gradebook-core.readonly",
        "gradebook.createput",
        "gradebook.delete",
    ];
    [Version::V1p1, Version::V1p2]
        .iter()
        .flat_map(|v| {
            names
                .iter()
                .map(move |n| format!("{}{n}", v.scope_prefix()))
        })
        .collect()
}

/// A registered OAuth client: its secret and the scopes it may be granted.
/// With OAuth 1.0a the client id is the consumer key.
#[derive(Debug, Clone)]
pub struct MockClient {
    pub id: String,
    pub secret: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct MockConfig {
    pub clients: Vec<MockClient>,
    /// The most records one page holds, whatever `limit` asks.
    pub max_limit: u64,
    pub total_header: bool,
    pub link_header: bool,
    /// Whether `filter` is understood (without it, a filter is refused with 400).
    pub filter: bool,
    pub token_lifetime: Duration,
    /// OneRoster 1.2 allows OAuth 2 only; this lets 1.2 paths take OAuth 1.0a too.
    pub oauth1_on_v1p2: bool,
    /// How far an OAuth 1.0a timestamp may be from the server's clock.
    pub oauth1_window: Duration,
    /// The services offered (all by default). The collections of the others
    /// answer 404, as a provider's that does not offer them: `vec![Rostering]`
    /// plays a rostering-only provider.
    pub services: Vec<Service>,
    /// Whether `/demographics` is served (a rostering collection many
    /// servers leave out); false answers it 404.
    pub demographics: bool,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            clients: vec![MockClient {
                id: CLIENT_ID.into(),
                secret: CLIENT_SECRET.into(),
                scopes: all_scopes(),
            }],
            max_limit: 10_000,
            total_header: true,
            link_header: true,
            filter: true,
            token_lifetime: Duration::from_secs(3600),
            oauth1_on_v1p2: false,
            oauth1_window: Duration::from_secs(300),
            services: Service::ALL.to_vec(),
            demographics: true,
        }
    }
}

/// How a request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthSeen {
    None,
    Bearer,
    OAuth1,
}

/// One request the mock answered.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    /// The raw (encoded) query.
    pub query: String,
    pub auth: AuthSeen,
    pub status: u16,
}

impl LoggedRequest {
    /// A query parameter, decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        oauth::query_pairs(&self.query)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

#[derive(Debug, Default)]
struct Faults {
    too_many: u32,
    retry_after_secs: u64,
    server_errors: u32,
    slow: Duration,
    truncated: u32,
    malformed: u32,
    repeat_once: bool,
    total_lie: i64,
}

struct Token {
    scopes: Vec<String>,
    expires: Instant,
}

struct State {
    dataset: Dataset,
    config: MockConfig,
    faults: Faults,
    tokens: HashMap<String, Token>,
    nonces: HashSet<(String, i64, String)>,
    log: Vec<LoggedRequest>,
    token_requests: u64,
    last_stamp: chrono::DateTime<Utc>,
    /// API requests being answered now, and the most there ever were.
    in_flight: usize,
    most_in_flight: usize,
}

impl State {
    /// A fresh `dateLastModified`, later than every earlier one.
    fn stamp(&mut self) -> String {
        let now = Utc::now().max(self.last_stamp + chrono::Duration::milliseconds(1));
        self.last_stamp = now;
        now.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

/// A running mock server. Dropping it stops the server.
pub struct MockOneRoster {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for MockOneRoster {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl MockOneRoster {
    /// Serve `dataset` with the default configuration.
    pub async fn start(dataset: Dataset) -> anyhow::Result<MockOneRoster> {
        MockOneRoster::start_with(dataset, MockConfig::default()).await
    }

    pub async fn start_with(dataset: Dataset, config: MockConfig) -> anyhow::Result<MockOneRoster> {
        let state = Arc::new(Mutex::new(State {
            dataset,
            config,
            faults: Faults::default(),
            tokens: HashMap::new(),
            nonces: HashSet::new(),
            log: Vec::new(),
            token_requests: 0,
            last_stamp: Utc::now(),
            in_flight: 0,
            most_in_flight: 0,
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { handle(state, addr, method, uri, headers, body).await }
            },
        );
        let tx = crate::support::serve_until_shutdown(listener, app);
        Ok(MockOneRoster {
            addr,
            state,
            shutdown: Some(tx),
        })
    }

    /// `http://127.0.0.1:PORT`: the server root, the Service URL to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url())
    }

    /// The rostering base URL of a version.
    pub fn service_url(&self, version: Version) -> String {
        format!(
            "{}{}",
            self.base_url(),
            version.base_path(Service::Rostering)
        )
    }

    // --- counts ---------------------------------------------------------

    /// Requests to the OneRoster API (the token endpoint not counted).
    pub fn requests(&self) -> u64 {
        lock(&self.state).log.len() as u64
    }

    /// Requests to one collection (`users`, `lineItems`, ...).
    pub fn requests_to(&self, collection: &str) -> u64 {
        lock(&self.state)
            .log
            .iter()
            .filter(|r| collection_of(&r.path).as_deref() == Some(collection))
            .count() as u64
    }

    /// The most API requests the server was answering at one time.
    pub fn most_in_flight(&self) -> usize {
        lock(&self.state).most_in_flight
    }

    pub fn token_requests(&self) -> u64 {
        lock(&self.state).token_requests
    }

    /// Every API request answered so far, oldest first.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        lock(&self.state).log.clone()
    }

    // --- faults ---------------------------------------------------------

    /// The next `n` API requests get 429 Too Many Requests with `Retry-After`.
    pub fn fail_with_429(&self, n: u32, retry_after_secs: u64) {
        let mut s = lock(&self.state);
        s.faults.too_many = n;
        s.faults.retry_after_secs = retry_after_secs;
    }

    /// The next `n` API requests get 500.
    pub fn fail_with_500(&self, n: u32) {
        lock(&self.state).faults.server_errors = n;
    }

    /// Every page waits this long before it is answered.
    pub fn slow_pages(&self, delay: Duration) {
        lock(&self.state).faults.slow = delay;
    }

    /// The next `n` pages are cut off half-way (the connection drops
    /// mid-body, the `Content-Length` promised more).
    pub fn truncate_bodies(&self, n: u32) {
        lock(&self.state).faults.truncated = n;
    }

    /// The next `n` pages answer 200 with a body that is not JSON.
    pub fn malformed_json(&self, n: u32) {
        lock(&self.state).faults.malformed = n;
    }

    /// The next page asked for at an offset past 0 is the first page instead.
    pub fn repeat_page_once(&self) {
        lock(&self.state).faults.repeat_once = true;
    }

    /// `X-Total-Count` says this many more (or fewer) records than there are.
    pub fn lie_about_total(&self, by: i64) {
        lock(&self.state).faults.total_lie = by;
    }

    pub fn clear_faults(&self) {
        lock(&self.state).faults = Faults::default();
    }

    /// Change the configuration of the running server.
    pub fn configure(&self, change: impl FnOnce(&mut MockConfig)) {
        change(&mut lock(&self.state).config);
    }

    /// Offer only these services from now on: the collections of the others
    /// (under both versions' base paths) answer 404 with an imsx status
    /// body. `offer_only(&[Service::Rostering])` plays a rostering-only
    /// provider; `offer_only(&Service::ALL)` offers everything again. Not
    /// undone by [`MockOneRoster::clear_faults`].
    pub fn offer_only(&self, services: &[Service]) {
        lock(&self.state).config.services = services.to_vec();
    }

    /// Serve `/demographics` (true, the default) or answer it 404 (false),
    /// as servers that do not offer demographics do. Not undone by
    /// [`MockOneRoster::clear_faults`].
    pub fn offer_demographics(&self, offered: bool) {
        lock(&self.state).config.demographics = offered;
    }

    /// Forget every token issued (as a server restart would).
    pub fn revoke_tokens(&self) {
        lock(&self.state).tokens.clear();
    }

    // --- data -----------------------------------------------------------

    /// Add a record, stamped with a fresh `dateLastModified`.
    pub fn add(&self, collection: &str, mut record: Json) -> String {
        let mut s = lock(&self.state);
        let stamp = s.stamp();
        if let Some(o) = record.as_object_mut() {
            o.insert("dateLastModified".into(), json!(stamp));
        }
        s.dataset.insert(collection, record);
        stamp
    }

    /// Change a record and give it a fresh `dateLastModified`; false when
    /// there is no such record.
    pub fn update(
        &self,
        collection: &str,
        id: &str,
        change: impl FnOnce(&mut Map<String, Json>),
    ) -> bool {
        let mut s = lock(&self.state);
        let stamp = s.stamp();
        s.dataset.update(collection, id, |record| {
            change(record);
            record.insert("dateLastModified".into(), json!(stamp));
        })
    }

    /// Mark a record `tobedeleted` (how a delta reports a deletion).
    pub fn mark_deleted(&self, collection: &str, id: &str) -> bool {
        self.update(collection, id, |r| {
            r.insert("status".into(), json!("tobedeleted"));
        })
    }

    /// The stored records of a collection (1.2 shape, no hrefs).
    pub fn records(&self, collection: &str) -> Vec<Json> {
        lock(&self.state).dataset.records(collection)
    }

    pub fn record(&self, collection: &str, id: &str) -> Option<Json> {
        lock(&self.state).dataset.get(collection, id)
    }
}

/// The collection a logged API path names (`/ims/oneroster/v1p1/users/u1` → `users`).
fn collection_of(path: &str) -> Option<String> {
    let (_, _, rest) = route(path)?;
    rest.split('/').next().map(str::to_string)
}

/// Split an API path into version, service and what follows the base path.
fn route(path: &str) -> Option<(Version, Service, &str)> {
    for (version, service) in [
        (Version::V1p1, Service::Rostering),
        (Version::V1p2, Service::Rostering),
        (Version::V1p2, Service::Gradebook),
        (Version::V1p2, Service::Resources),
    ] {
        if let Some(rest) = path.strip_prefix(version.base_path(service))
            && let Some(rest) = rest.strip_prefix('/')
        {
            return Some((version, service, rest.trim_end_matches('/')));
        }
    }
    None
}

/// Where a collection lives and what it serves.
struct Collection {
    /// The stored collection the records come from.
    source: &'static str,
    /// The key of the list in the answer.
    key: &'static str,
    single: &'static str,
    service: Service,
    /// A restriction of the stored records (schools are orgs of type
    /// school): a record is served when one of these (field, value) holds.
    only: &'static [(&'static str, &'static str)],
}

impl Collection {
    fn serves(&self, record: &Json) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|(f, v)| filter::lookup(record, f).iter().any(|x| x == v))
    }
}

fn collection(name: &str) -> Option<Collection> {
    use Service::*;
    let c = |source, key, single, service, only| Collection {
        source,
        key,
        single,
        service,
        only,
    };
    Some(match name {
        "orgs" => c("orgs", "orgs", "org", Rostering, &[]),
        "schools" => c("orgs", "orgs", "org", Rostering, &[("type", "school")]),
        "academicSessions" => c(
            "academicSessions",
            "academicSessions",
            "academicSession",
            Rostering,
            &[],
        ),
        "terms" => c(
            "academicSessions",
            "academicSessions",
            "academicSession",
            Rostering,
            &[("type", "term")],
        ),
        "gradingPeriods" => c(
            "academicSessions",
            "academicSessions",
            "academicSession",
            Rostering,
            &[("type", "gradingPeriod")],
        ),
        "courses" => c("courses", "courses", "course", Rostering, &[]),
        "classes" => c("classes", "classes", "class", Rostering, &[]),
        "users" => c("users", "users", "user", Rostering, &[]),
        "students" => c(
            "users",
            "users",
            "user",
            Rostering,
            &[("roles.role", "student"), ("role", "student")],
        ),
        "teachers" => c(
            "users",
            "users",
            "user",
            Rostering,
            &[("roles.role", "teacher"), ("role", "teacher")],
        ),
        "enrollments" => c("enrollments", "enrollments", "enrollment", Rostering, &[]),
        "demographics" => c(
            "demographics",
            "demographics",
            "demographics",
            Rostering,
            &[],
        ),
        "categories" => c("categories", "categories", "category", Gradebook, &[]),
        "lineItems" => c("lineItems", "lineItems", "lineItem", Gradebook, &[]),
        "results" => c("results", "results", "result", Gradebook, &[]),
        "scoreScales" => c("scoreScales", "scoreScales", "scoreScale", Gradebook, &[]),
        "resources" => c("resources", "resources", "resource", Resources, &[]),
        _ => return None,
    })
}

/// The imsx status body of an error.
fn imsx(status: StatusCode, minor: &str, description: &str) -> Response {
    let body = json!({
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {"imsx_codeMinorField": [
            {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": minor}
        ]}
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": error, "error_description": description}).to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"oneroster\""),
        );
    }
    r
}

async fn handle(
    state: Arc<Mutex<State>>,
    addr: SocketAddr,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    if path == "/token" {
        return token(&state, &method, &headers, &body);
    }
    let query = uri.query().unwrap_or_default().to_string();
    {
        let mut s = lock(&state);
        s.in_flight += 1;
        s.most_in_flight = s.most_in_flight.max(s.in_flight);
    }
    let (response, auth, slow) = api(&state, addr, &method, &path, &query, &headers, &body);
    lock(&state).log.push(LoggedRequest {
        method: method.to_string(),
        path,
        query,
        auth,
        status: response.status().as_u16(),
    });
    if !slow.is_zero() {
        tokio::time::sleep(slow).await;
    }
    lock(&state).in_flight -= 1;
    response
}

/// `POST /token`: OAuth 2 client credentials (RFC 6749 section 4.4).
fn token(state: &Mutex<State>, method: &Method, headers: &HeaderMap, body: &[u8]) -> Response {
    let mut s = lock(state);
    s.token_requests += 1;
    if method != Method::POST {
        return oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "POST the token request",
        );
    }
    let form: BTreeMap<String, String> = oauth::query_pairs(&String::from_utf8_lossy(body))
        .into_iter()
        .collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only grant_type=client_credentials is supported",
        );
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(oauth::basic_credentials);
    let (id, secret) = match basic {
        Some(pair) => pair,
        None => match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone()),
            _ => {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "no client credentials",
                );
            }
        },
    };
    let Some(client) = s
        .config
        .clients
        .iter()
        .find(|c| c.id == id && c.secret == secret)
        .cloned()
    else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    };
    let scopes: Vec<String> = match form.get("scope").filter(|s| !s.trim().is_empty()) {
        Some(asked) => {
            let asked: Vec<String> = asked.split_whitespace().map(str::to_string).collect();
            if let Some(bad) = asked.iter().find(|a| !client.scopes.contains(a)) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    &format!("the client may not have the scope {bad}"),
                );
            }
            asked
        }
        None => client.scopes.clone(),
    };
    let token: String = {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        (0..32)
            .map(|_| format!("{:x}", rng.gen_range(0..16u8)))
            .collect()
    };
    let lifetime = s.config.token_lifetime;
    s.tokens.insert(
        token.clone(),
        Token {
            scopes: scopes.clone(),
            expires: Instant::now() + lifetime,
        },
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": lifetime.as_secs(),
            "scope": scopes.join(" "),
        })
        .to_string(),
    )
        .into_response()
}

/// The scopes that each allow a request (any one is enough).
fn scopes_for(
    version: Version,
    service: Service,
    method: &Method,
    collection: &str,
) -> Vec<String> {
    let names: &[&str] = match (service, method) {
        (_, &Method::PUT) | (_, &Method::POST) => &["gradebook.createput"],
        (_, &Method::DELETE) => &["gradebook.delete"],
        (Service::Gradebook, _) => &["gradebook.readonly", "gradebook-core.readonly"],
        (Service::Resources, _) => &["resource.readonly"],
        (Service::Rostering, _) if collection == "demographics" => {
            &["roster-demographics.readonly"]
        }
        (Service::Rostering, _) => &["roster.readonly", "roster-core.readonly"],
    };
    names
        .iter()
        .map(|n| format!("{}{n}", version.scope_prefix()))
        .collect()
}

/// Check a request's credentials: who it is, or the answer that refuses it.
#[allow(clippy::too_many_arguments)]
fn authenticate(
    s: &mut State,
    addr: SocketAddr,
    version: Version,
    needed: &[String],
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
) -> Result<AuthSeen, Box<(AuthSeen, Response)>> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let unauthorized = |seen, why: &str| {
        let mut r = imsx(StatusCode::UNAUTHORIZED, "unauthorisedrequest", why);
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"oneroster\""),
        );
        Box::new((seen, r))
    };
    let bearer = authorization.and_then(|a| {
        a.strip_prefix("Bearer ")
            .or_else(|| a.strip_prefix("bearer "))
    });
    if let Some(token) = bearer {
        let Some(t) = s.tokens.get(token.trim()) else {
            return Err(unauthorized(AuthSeen::Bearer, "unknown access token"));
        };
        if t.expires <= Instant::now() {
            return Err(unauthorized(
                AuthSeen::Bearer,
                "the access token has expired",
            ));
        }
        if !needed.iter().any(|n| t.scopes.contains(n)) {
            return Err(Box::new((
                AuthSeen::Bearer,
                imsx(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    &format!(
                        "the token lacks the scope for this request: one of {}",
                        needed.join(", ")
                    ),
                ),
            )));
        }
        return Ok(AuthSeen::Bearer);
    }
    let signed = authorization
        .is_some_and(|a| a.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("oauth ")))
        || query.contains("oauth_signature=");
    if !signed {
        return Err(unauthorized(
            AuthSeen::None,
            "no credentials: send a bearer token or an OAuth 1.0a signature",
        ));
    }
    if version == Version::V1p2 && !s.config.oauth1_on_v1p2 {
        return Err(unauthorized(
            AuthSeen::OAuth1,
            "OneRoster 1.2 takes OAuth 2 bearer tokens, not OAuth 1.0a signatures",
        ));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| addr.to_string());
    let form_body = None;
    let request = oauth::SignedRequest {
        method: method.as_str(),
        scheme: "http",
        host: &host,
        path,
        query,
        authorization,
        form_body,
    };
    let clients = s.config.clients.clone();
    let verified = oauth::verify(&request, |key| {
        clients
            .iter()
            .find(|c| c.id == key)
            .map(|c| c.secret.clone())
    })
    .map_err(|why| unauthorized(AuthSeen::OAuth1, &format!("OAuth 1.0a: {why}")))?;
    let skew = (Utc::now().timestamp() - verified.timestamp).unsigned_abs();
    if skew > s.config.oauth1_window.as_secs() {
        return Err(unauthorized(
            AuthSeen::OAuth1,
            &format!("OAuth 1.0a: oauth_timestamp is {skew} s away from the server's clock"),
        ));
    }
    if !s
        .nonces
        .insert((verified.consumer_key, verified.timestamp, verified.nonce))
    {
        return Err(unauthorized(
            AuthSeen::OAuth1,
            "OAuth 1.0a: this nonce was used already (a replay)",
        ));
    }
    Ok(AuthSeen::OAuth1)
}

/// Answer an API request: the response, how it authenticated, and how long
/// to wait before sending it (slow pages).
fn api(
    state: &Mutex<State>,
    addr: SocketAddr,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (Response, AuthSeen, Duration) {
    let mut s = lock(state);
    let none = Duration::ZERO;
    if s.faults.too_many > 0 {
        s.faults.too_many -= 1;
        let mut r = imsx(StatusCode::TOO_MANY_REQUESTS, "server_busy", "slow down");
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(s.faults.retry_after_secs),
        );
        return (r, AuthSeen::None, none);
    }
    if s.faults.server_errors > 0 {
        s.faults.server_errors -= 1;
        return (
            imsx(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_server_error",
                "the mock failed on purpose",
            ),
            AuthSeen::None,
            none,
        );
    }
    let Some((version, service, rest)) = route(path) else {
        return (
            imsx(
                StatusCode::NOT_FOUND,
                "unknownobject",
                &format!("no OneRoster service at {path}"),
            ),
            AuthSeen::None,
            none,
        );
    };
    let mut parts = rest.splitn(2, '/');
    let name = parts.next().unwrap_or_default();
    let id = parts.next();
    let Some(coll) = collection(name).filter(|c| version == Version::V1p1 || c.service == service)
    else {
        return (
            imsx(
                StatusCode::NOT_FOUND,
                "unknownobject",
                &format!(
                    "`{name}` is not a collection of the OneRoster {} {service:?} service",
                    version.label()
                ),
            ),
            AuthSeen::None,
            none,
        );
    };
    if !s.config.services.contains(&coll.service) {
        return (
            imsx(
                StatusCode::NOT_FOUND,
                "unknownobject",
                &format!(
                    "this server does not offer the OneRoster {} {} service (no `{name}`)",
                    version.label(),
                    coll.service.name()
                ),
            ),
            AuthSeen::None,
            none,
        );
    }
    if coll.source == "demographics" && !s.config.demographics {
        return (
            imsx(
                StatusCode::NOT_FOUND,
                "unknownobject",
                "this server does not offer demographics",
            ),
            AuthSeen::None,
            none,
        );
    }
    let needed = scopes_for(version, coll.service, method, coll.source);
    let auth = match authenticate(&mut s, addr, version, &needed, method, path, query, headers) {
        Ok(seen) => seen,
        Err(refusal) => {
            let (seen, response) = *refusal;
            return (response, seen, none);
        }
    };
    let root = format!("http://{addr}");
    let response = match (method, id) {
        (&Method::GET, None) => return page(&mut s, version, &coll, query, &root, path, auth),
        (&Method::GET, Some(id)) => match find(&s.dataset, &coll, id) {
            Some(record) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                json!({ coll.single: present(record, coll.source, version, &root) }).to_string(),
            )
                .into_response(),
            None => imsx(
                StatusCode::NOT_FOUND,
                "unknownobject",
                &format!("no {} `{id}`", coll.single),
            ),
        },
        (&Method::PUT, Some(id)) => put(&mut s, version, &coll, id, body),
        (&Method::DELETE, Some(id)) if write_schema(coll.source, version).is_some() => {
            let stamp = s.stamp();
            let found = s.dataset.update(coll.source, id, |record| {
                record.insert("status".into(), json!("tobedeleted"));
                record.insert("dateLastModified".into(), json!(stamp));
            });
            match found {
                true => StatusCode::NO_CONTENT.into_response(),
                false => imsx(
                    StatusCode::NOT_FOUND,
                    "unknownobject",
                    &format!("no {} `{id}`", coll.single),
                ),
            }
        }
        _ => imsx(
            StatusCode::METHOD_NOT_ALLOWED,
            "unsupported",
            &format!("{method} is not supported on {path}"),
        ),
    };
    (response, auth, none)
}

fn find(dataset: &Dataset, coll: &Collection, id: &str) -> Option<Json> {
    dataset.get(coll.source, id).filter(|r| coll.serves(r))
}

fn put(s: &mut State, version: Version, coll: &Collection, id: &str, body: &[u8]) -> Response {
    let Some(schema) = write_schema(coll.source, version) else {
        return imsx(
            StatusCode::METHOD_NOT_ALLOWED,
            "unsupported",
            &format!("{} records cannot be written", coll.single),
        );
    };
    let Ok(json) = serde_json::from_slice::<Json>(body) else {
        return imsx(
            StatusCode::BAD_REQUEST,
            "invaliddata",
            "the body is not JSON",
        );
    };
    let Some(record) = json
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get(coll.single))
    else {
        return imsx(
            StatusCode::BAD_REQUEST,
            "invaliddata",
            &format!("the body must be {{\"{}\": {{...}}}}", coll.single),
        );
    };
    if let Err(why) = schema.check(record) {
        return imsx(StatusCode::UNPROCESSABLE_ENTITY, "invaliddata", &why);
    }
    if record
        .get("sourcedId")
        .and_then(Json::as_str)
        .is_some_and(|s| s != id)
    {
        return imsx(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invaliddata",
            "the sourcedId in the body is not the one in the path",
        );
    }
    let mut stored = record.clone();
    let stamp = s.stamp();
    if let Some(o) = stored.as_object_mut() {
        o.insert("sourcedId".into(), json!(id));
        o.entry("status").or_insert_with(|| json!("active"));
        o.insert("dateLastModified".into(), json!(stamp));
        // Keep references as stored records hold them (no href).
        for (key, _) in schema.refs {
            if let Some(Json::Object(r)) = o.get_mut(*key) {
                r.remove("href");
            }
        }
    }
    let mut replacing = Some(stored);
    let replaced = s.dataset.update(coll.source, id, |existing| {
        if let Some(Json::Object(o)) = replacing.take() {
            *existing = o;
        }
    });
    if let (false, Some(stored)) = (replaced, replacing) {
        s.dataset.insert(coll.source, stored);
    }
    StatusCode::CREATED.into_response()
}

/// A page of a collection, with its faults.
fn page(
    s: &mut State,
    version: Version,
    coll: &Collection,
    query: &str,
    root: &str,
    path: &str,
    auth: AuthSeen,
) -> (Response, AuthSeen, Duration) {
    let slow = s.faults.slow;
    let params: BTreeMap<String, String> = oauth::query_pairs(query).into_iter().collect();
    let bad = |why: &str, minor: &str| {
        (
            imsx(StatusCode::BAD_REQUEST, minor, why),
            auth,
            Duration::ZERO,
        )
    };
    let number = |name: &str, default: u64| -> Result<u64, String> {
        match params.get(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("`{name}` must be a whole number, not `{v}`")),
        }
    };
    let limit = match number("limit", 100) {
        Ok(0) => return bad("`limit` must be at least 1", "invaliddata"),
        Ok(l) => l.min(s.config.max_limit),
        Err(why) => return bad(&why, "invaliddata"),
    };
    let mut offset = match number("offset", 0) {
        Ok(o) => o,
        Err(why) => return bad(&why, "invaliddata"),
    };
    let filter = match params.get("filter") {
        None => None,
        Some(_) if !s.config.filter => {
            return bad(
                "this server does not support filter",
                "invalid_filter_field",
            );
        }
        Some(text) => match Filter::parse(text) {
            Ok(f) => Some(f),
            Err(why) => return bad(&format!("filter `{text}`: {why}"), "invalid_filter_field"),
        },
    };
    if offset > 0 && s.faults.repeat_once {
        s.faults.repeat_once = false;
        offset = 0;
    }
    // A record is read from its text only when needed: to tell a
    // collection's own (students among users), to decide a filter on more
    // than the fields kept beside it, to present it.
    let stored = s.dataset.stored(coll.source);
    // A filter on the fields kept beside each record's text (a delta's
    // `dateLastModified>…`) is decided on them alone: presenting changes
    // none of them.
    let on_head = filter
        .as_ref()
        .is_some_and(|f| f.fields().all(|x| dataset::Stored::HEAD.contains(&x)));
    let mut head = Map::new();
    let mut kept = |r: &dataset::Stored| match &filter {
        None => true,
        Some(f) => {
            r.fill_head(&mut head);
            f.matches_object(&head)
        }
    };
    // Without a sort, and with no filter or one on those fields, only the
    // page's own records are presented, so reading a large collection page
    // by page stays linear.
    let (total, mut items): (u64, Vec<Json>) =
        if (filter.is_none() || on_head) && !params.contains_key("sort") {
            let mut total = 0u64;
            let mut items = Vec::new();
            for r in stored.iter().filter(|r| kept(r)) {
                // Read once, when the collection's own must be told apart.
                let mut read = None;
                if !coll.only.is_empty() {
                    let record = r.json();
                    if !coll.serves(&record) {
                        continue;
                    }
                    read = Some(record);
                }
                if total >= offset && total < offset + limit {
                    let record = read.unwrap_or_else(|| r.json());
                    items.push(present(record, coll.source, version, root));
                }
                total += 1;
            }
            (total, items)
        } else {
            let mut records: Vec<Json> = stored
                .iter()
                .map(dataset::Stored::json)
                .filter(|r| {
                    coll.serves(r)
                        && filter
                            .as_ref()
                            .is_none_or(|f| !f.rejects_stored(r, dataset::PRESENTED_ONLY))
                })
                .map(|r| present(r, coll.source, version, root))
                .filter(|r| filter.as_ref().is_none_or(|f| f.matches(r)))
                .collect();
            if let Some(field) = params.get("sort") {
                let descending = params
                    .get("orderBy")
                    .is_some_and(|o| o.eq_ignore_ascii_case("desc"));
                filter::sort(&mut records, field, descending);
            }
            let total = records.len() as u64;
            let items = records
                .into_iter()
                .skip(offset as usize)
                .take(limit as usize)
                .collect();
            (total, items)
        };
    if let Some(fields) = params.get("fields") {
        let keep: Vec<&str> = fields.split(',').map(str::trim).collect();
        for item in &mut items {
            if let Some(o) = item.as_object_mut() {
                o.retain(|k, _| keep.contains(&k.as_str()));
            }
        }
    }
    let body = json!({ coll.key: items }).to_string();

    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json");
    if s.config.total_header {
        let claimed = (total as i64 + s.faults.total_lie).max(0);
        builder = builder.header("X-Total-Count", claimed.to_string());
    }
    if s.config.link_header {
        let link = link_header(root, path, &params, offset, limit, total);
        if !link.is_empty() {
            builder = builder.header(header::LINK, link);
        }
    }
    let response = if s.faults.malformed > 0 {
        s.faults.malformed -= 1;
        let key = coll.key;
        builder.body(Body::from(format!("{{\"{key}\": [{{'sourcedId': broken")))
    } else if s.faults.truncated > 0 {
        s.faults.truncated -= 1;
        let bytes = Bytes::from(body);
        let half = bytes.slice(..bytes.len() / 2);
        // Send the headers and half the body, let them reach the client,
        // then drop the connection.
        use futures::StreamExt;
        let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(half) }).chain(
            futures::stream::once(async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(std::io::Error::other(
                    "the mock cut the connection mid-body",
                ))
            }),
        );
        builder
            .header(header::CONTENT_LENGTH, bytes.len())
            .body(Body::from_stream(stream))
    } else {
        builder.body(Body::from(body))
    };
    let response = response.unwrap_or_else(|e| {
        imsx(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            &e.to_string(),
        )
    });
    (response, auth, slow)
}

/// `Link` (RFC 8288) with first, prev, next and last, keeping the query.
fn link_header(
    root: &str,
    path: &str,
    params: &BTreeMap<String, String>,
    offset: u64,
    limit: u64,
    total: u64,
) -> String {
    let url = |at: u64| {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            if k != "offset" && k != "limit" && !k.starts_with("oauth_") {
                pairs.append_pair(k, v);
            }
        }
        pairs.append_pair("limit", &limit.to_string());
        pairs.append_pair("offset", &at.to_string());
        format!("<{root}{path}?{}>", pairs.finish())
    };
    let last = if total == 0 {
        0
    } else {
        (total - 1) / limit * limit
    };
    let mut links = vec![format!("{}; rel=\"first\"", url(0))];
    if offset > 0 {
        links.push(format!(
            "{}; rel=\"prev\"",
            url(offset.saturating_sub(limit))
        ));
    }
    if offset + limit < total {
        links.push(format!("{}; rel=\"next\"", url(offset + limit)));
    }
    links.push(format!("{}; rel=\"last\"", url(last)));
    links.join(", ")
}
