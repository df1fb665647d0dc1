//! Outbound HTTP "as the connection": the host side of the plugins' `http`
//! interface.
//!
//! A plugin never holds a credential. It hands the host an
//! [`OutboundRequest`]; the [`ConnectionClient`] of its configured source
//! checks the URL against the source's allowed hosts, drops any header that
//! would carry credentials, adds the connection's authentication (Basic, API
//! key, static bearer, OAuth2 client credentials or password grant with a
//! cached token, or an OAuth 1.0a HMAC-SHA1 signature), waits for the
//! per-connection rate limit (and for a quota a response said was spent,
//! `X-RateLimit-Remaining: 0`, until its `X-RateLimit-Reset`), sends with a timeout, follows redirects itself,
//! retries 429 / 5xx and transport failures with capped exponential backoff
//! (honouring `Retry-After`), and streams the response body under a size cap.
//!
//! Where credentials go. Allowed hosts say where a plugin may send a
//! request; credentials follow a narrower rule, by origin (scheme, host and
//! port, default ports filled in: [`Origin`]):
//!
//! - the connection's credentials (the Basic password, the API key, the
//!   bearer token, the OAuth2 access token, the OAuth 1.0a signature) go
//!   only to the exact origin of the connection's service URL
//!   ([`Connection::service_url`]); a request to any other allowed host (a
//!   CDN the manifest allows, the same host on another port or over plain
//!   http) is sent without them;
//! - the OAuth2 client secret and password go only to the token URL, in the
//!   token request, which follows no redirect;
//! - credentials never travel over plain http to a host other than this
//!   machine (127.0.0.0/8, ::1, `localhost`): a connection whose service
//!   URL or token URL is such an http URL is refused when it is built, with
//!   a message that says to use https;
//! - redirects are followed here, not by the HTTP library: each hop to an
//!   allowed host over http(s), at most [`MAX_REDIRECTS`]. A redirect that
//!   stays on the service's origin keeps the credentials (re-signed for the
//!   new URL under OAuth 1.0a), since that server could have had them
//!   anyway; from the first hop to another origin on, no hop carries any,
//!   even one that comes back to the service's origin.
//!
//! What this module owns: that policy, the token cache, the OAuth 1.0a
//! maths ([`oauth1`]) and the redaction of secrets from everything it
//! reports. What it must not touch: the wasmtime runtime and its bindings
//! (`crate::runtime` calls [`ConnectionClient::send`] and maps [`HttpError`]
//! onto the WIT error), the manifest and grant logic that builds a
//! [`Connection`] (`crate::gallery`), and [`Secret`] itself. Nothing here runs
//! plugin code, and nothing here logs a header, a body or a secret: request
//! lines are traced at debug level as method, host and path, attempt and
//! status.

mod auth;
mod hosts;
pub mod oauth1;
pub mod retry;
pub mod tape;

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{
    CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LOCATION, RETRY_AFTER,
};
use tokio::time::Instant;
use url::Url;

pub use oauth1::{oauth1_signature, verify_oauth1};

use crate::secret::Secret;
use auth::{Applied, Authenticator};
use hosts::HostPattern;
pub use hosts::Origin;

/// The `User-Agent` the host sends unless the plugin sets its own.
pub const USER_AGENT: &str = concat!("homeroom/", env!("CARGO_PKG_VERSION"));

/// Most redirects followed for one request (each to an allowed host).
pub const MAX_REDIRECTS: usize = 5;

/// Headers only the host may set: credentials, and framing that would let a
/// plugin address another virtual host or smuggle a request.
const HOST_OWNED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// Response headers a plugin does not get: session credentials it could
/// never send back anyway.
const HIDDEN_RESPONSE_HEADERS: &[&str] = &["set-cookie", "set-cookie2"];

/// How to reach and authenticate one source.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// `host`, `host:port` or `*.example.org` (optionally `:port`), matched
    /// case-insensitively against the URL's host, and its port when given.
    pub allowed_hosts: Vec<String>,
    /// The service the credentials belong to: requests to the exact origin
    /// of this URL (scheme, host, port) carry them, requests to any other
    /// allowed host do not. Required when `auth` is not [`Auth::None`];
    /// https, or plain http to this machine only.
    pub service_url: Option<String>,
    pub auth: Auth,
    pub limits: HttpLimits,
}

/// The authentication the host adds to every request of a connection.
/// `Debug` shows no secret: every secret is a [`Secret`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Basic {
        username: String,
        password: Secret,
    },
    ApiKey {
        header: String,
        key: Secret,
    },
    Bearer {
        token: Secret,
    },
    OAuth2ClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: Secret,
        scopes: Vec<String>,
    },
    /// A refresh token exchanged for access tokens (Google's sign-in).
    OAuth2RefreshToken {
        token_url: String,
        client_id: String,
        client_secret: Secret,
        refresh_token: Secret,
        scopes: Vec<String>,
    },
    /// The resource owner password grant (xPress Roster). Some providers
    /// also want an API key header on every request to the service beside
    /// the bearer token: `api_key` is that header's name and the key.
    OAuth2Password {
        token_url: String,
        client_id: String,
        client_secret: Option<Secret>,
        username: String,
        password: Secret,
        scopes: Vec<String>,
        api_key: Option<(String, Secret)>,
    },
    /// OAuth 1.0a HMAC-SHA1, two-legged, as OneRoster 1.1 uses it.
    OAuth1 {
        consumer_key: String,
        consumer_secret: Secret,
    },
}

/// Time, size, retry and rate limits of one connection.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpLimits {
    /// Whole-request timeout per attempt: connect, send, and read the body.
    pub timeout: Duration,
    /// Largest response body accepted, in bytes.
    pub max_response_bytes: u64,
    /// Retries after the first attempt (so `max_retries + 1` attempts at most).
    pub max_retries: u32,
    pub initial_backoff: Duration,
    /// Cap on any wait between attempts, `Retry-After` included.
    pub max_backoff: Duration,
    /// Requests per second this connection may send (attempts and retries
    /// included); `None`: no limit.
    pub requests_per_second: Option<f64>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            timeout: Duration::from_secs(30),
            max_response_bytes: 64 * 1024 * 1024,
            max_retries: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            requests_per_second: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// GET, PUT and DELETE: sending them twice does no more than once.
    pub fn is_idempotent(self) -> bool {
        matches!(self, Method::Get | Method::Put | Method::Delete)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Method> for reqwest::Method {
    fn from(m: Method) -> Self {
        match m {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        }
    }
}

/// What a plugin asks the host to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// What the plugin gets back: any status, 4xx and 5xx included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a request was not answered. Each message is a whole sentence for an
/// admin, never contains a secret, and is what `Display` prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The URL's host (or scheme, or a redirect) is not allowed; nothing was sent.
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    Timeout(String),
    /// The response body passed the connection's size cap.
    #[error("{0}")]
    TooLarge(String),
    /// The server could not be reached, or the exchange broke off.
    #[error("{0}")]
    Connection(String),
    /// The credentials were refused by the token endpoint, or are unusable.
    #[error("{0}")]
    Auth(String),
    /// The request or the connection's configuration is malformed.
    #[error("{0}")]
    Invalid(String),
}

impl HttpError {
    pub fn message(&self) -> &str {
        match self {
            HttpError::Denied(m)
            | HttpError::Timeout(m)
            | HttpError::TooLarge(m)
            | HttpError::Connection(m)
            | HttpError::Auth(m)
            | HttpError::Invalid(m) => m,
        }
    }

    fn map_message(self, f: impl FnOnce(String) -> String) -> HttpError {
        match self {
            HttpError::Denied(m) => HttpError::Denied(f(m)),
            HttpError::Timeout(m) => HttpError::Timeout(f(m)),
            HttpError::TooLarge(m) => HttpError::TooLarge(f(m)),
            HttpError::Connection(m) => HttpError::Connection(f(m)),
            HttpError::Auth(m) => HttpError::Auth(f(m)),
            HttpError::Invalid(m) => HttpError::Invalid(f(m)),
        }
    }
}

/// Counters of one [`ConnectionClient`], since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpStats {
    /// Requests put on the wire (first sends, redirects followed, retries
    /// and re-sends after a token refresh); token requests are not counted
    /// here.
    pub requests_sent: u64,
    /// Attempts that were retries after a 429, a 5xx or a transport failure.
    pub retries: u64,
    /// Requests made to the OAuth2 token endpoint.
    pub token_fetches: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests_sent: AtomicU64,
    retries: AtomicU64,
    token_fetches: AtomicU64,
}

/// One configured source's way out: cheap to clone (shared state), safe to
/// use from many tasks at once. OAuth2 tokens are cached per client.
#[derive(Clone)]
pub struct ConnectionClient {
    inner: Arc<Inner>,
}

struct Inner {
    patterns: Vec<HostPattern>,
    /// The one origin the connection's credentials go to (`None` without
    /// credentials).
    service: Option<Origin>,
    client: reqwest::Client,
    auth: Authenticator,
    limits: HttpLimits,
    limiter: Option<retry::RateLimiter>,
    /// Set when a response says the server's quota is spent.
    quota: retry::QuotaPause,
    /// Every secret value (and its encodings) to strike from messages.
    secrets: Vec<String>,
    counters: Counters,
    /// Answers recorded, or replayed instead of sent (a vendor's harness).
    tape: Option<tape::Tape>,
}

impl fmt::Debug for ConnectionClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionClient")
            .field(
                "allowed_hosts",
                &self
                    .inner
                    .patterns
                    .iter()
                    .map(HostPattern::as_str)
                    .collect::<Vec<_>>(),
            )
            .field(
                "credentials_to",
                &self.inner.service.as_ref().map(Origin::to_string),
            )
            .field("auth", &self.inner.auth.kind())
            .field("limits", &self.inner.limits)
            .field("stats", &self.stats())
            .finish()
    }
}

/// One attempt's answer, after the redirects it went along.
struct Exchanged {
    response: reqwest::Response,
    /// The OAuth2 access token the last hop carried, if any.
    token: Option<Secret>,
}

impl ConnectionClient {
    /// Check the connection's settings and build its HTTP client. The client
    /// follows no redirect itself: [`ConnectionClient::send`] does, hop by
    /// hop, so that each hop's credentials are decided afresh.
    pub fn new(connection: Connection) -> Result<Self, HttpError> {
        let Connection {
            allowed_hosts,
            service_url,
            auth,
            limits,
        } = connection;
        let patterns = allowed_hosts
            .iter()
            .filter(|h| !h.trim().is_empty())
            .map(|h| HostPattern::parse(h).map_err(HttpError::Invalid))
            .collect::<Result<Vec<_>, _>>()?;
        if limits.timeout.is_zero() {
            return Err(HttpError::Invalid(
                "the HTTP timeout of this connection is zero: set a positive timeout".into(),
            ));
        }
        let limiter = match limits.requests_per_second {
            None => None,
            Some(rate) if rate.is_finite() && rate > 0.0 => Some(retry::RateLimiter::new(rate)),
            Some(rate) => {
                return Err(HttpError::Invalid(format!(
                    "the rate limit of this connection ({rate} requests per second) must be a positive number"
                )));
            }
        };
        let secrets = secret_strings(&auth);
        let authenticator = Authenticator::new(&auth, &limits)?;
        let service = service_origin(service_url.as_deref(), &authenticator)?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(limits.timeout)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| {
                HttpError::Invalid(format!("could not build the HTTP client: {}", chain(&e)))
            })?;
        Ok(ConnectionClient {
            inner: Arc::new(Inner {
                patterns,
                service,
                client,
                auth: authenticator,
                limits,
                limiter,
                quota: retry::QuotaPause::default(),
                secrets,
                counters: Counters::default(),
                tape: None,
            }),
        })
    }

    /// This connection with its answers recorded in, or replayed from, a
    /// folder (`plugin run --record` / `--replay`).
    pub fn with_tape(mut self, tape: tape::Tape) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.tape = Some(tape),
            None => tracing::warn!("a connection already shared cannot take a tape"),
        }
        self
    }

    pub fn stats(&self) -> HttpStats {
        let c = &self.inner.counters;
        HttpStats {
            requests_sent: c.requests_sent.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            token_fetches: c.token_fetches.load(Ordering::Relaxed),
        }
    }

    /// Send a plugin's request as this connection. Any HTTP status comes back
    /// as a response (after retries, for 429 and 5xx); an error means no
    /// usable answer.
    pub async fn send(&self, request: OutboundRequest) -> Result<InboundResponse, HttpError> {
        let tape = self.inner.tape.as_ref();
        if let Some(tape) = tape.filter(|t| t.replays()) {
            // Refused as a sent request would be, then answered offline.
            self.inner
                .check_url(&request.url)
                .map_err(|e| self.inner.scrub(e))?;
            return tape.replay(&request);
        }
        let kept = tape.map(|_| request.clone());
        let answer = self
            .send_checked(request)
            .await
            .map_err(|e| self.inner.scrub(e))?;
        if let (Some(tape), Some(request)) = (tape, kept) {
            tape.record(&request, &answer);
        }
        Ok(answer)
    }

    async fn send_checked(&self, request: OutboundRequest) -> Result<InboundResponse, HttpError> {
        let inner = &*self.inner;
        let url = inner.check_url(&request.url)?;
        let headers = inner.plugin_headers(&request.headers)?;
        let form = match inner.auth {
            Authenticator::OAuth1 { .. } => form_params(&headers, request.body.as_deref()),
            _ => Vec::new(),
        };
        let method = request.method;
        let target = format!("{}{}", hosts::display_host(&url), url.path());
        let limits = &inner.limits;
        let mut retries = 0u32;
        let mut refreshed = false;
        let mut attempt = 0u32;
        // Each pass returns, or uses up a retry, or the one token refresh:
        // at most `max_retries + 2` passes.
        loop {
            attempt += 1;
            let exchanged = inner
                .exchange(
                    method,
                    &url,
                    &headers,
                    request.body.as_deref(),
                    &form,
                    &target,
                    attempt,
                )
                .await;
            let failure = match exchanged {
                Ok(Exchanged { response, token }) => {
                    let status = response.status().as_u16();
                    if status == 401
                        && !refreshed
                        && let Some(token) = &token
                        && inner.auth.rejected(token).await
                    {
                        refreshed = true;
                        tracing::debug!(target = %target, "401 with a cached OAuth2 token: fetching a new one and sending again");
                        continue;
                    }
                    if retry::retryable_status(method, status) && retries < limits.max_retries {
                        let wait = response
                            .headers()
                            .get(RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| retry::retry_after(v, limits.max_backoff))
                            .unwrap_or_else(|| retry::backoff(limits, retries));
                        drop(response);
                        inner
                            .wait_to_retry(&mut retries, wait, &target, &format!("HTTP {status}"))
                            .await;
                        continue;
                    }
                    match read_response(response, limits.max_response_bytes, &target).await {
                        Ok(answer) => return Ok(answer),
                        Err(failure) => failure,
                    }
                }
                Err(failure) => failure,
            };
            if failure.retryable(method) && retries < limits.max_retries {
                let wait = retry::backoff(limits, retries);
                inner
                    .wait_to_retry(&mut retries, wait, &target, failure.label())
                    .await;
                continue;
            }
            return Err(failure.into_error(attempt));
        }
    }
}

impl Inner {
    /// Whether `url` is on the service's origin, the one place the
    /// connection's credentials go.
    fn is_service(&self, url: &Url) -> bool {
        self.service
            .as_ref()
            .is_some_and(|service| Origin::of(url).as_ref() == Some(service))
    }

    /// One attempt: the request, then each redirect it is answered with (to
    /// an allowed host over http or https, at most [`MAX_REDIRECTS`]), all
    /// within the connection's timeout. A hop carries the credentials only
    /// while every hop so far, this one included, is on the service's
    /// origin. 301, 302 and 303 go on as a GET without the body; 307 and 308
    /// keep the method and the body.
    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &self,
        method: Method,
        url: &Url,
        headers: &HeaderMap,
        body: Option<&[u8]>,
        form: &[(String, String)],
        target: &str,
        attempt: u32,
    ) -> Result<Exchanged, Failure> {
        // A spent quota is waited out before the attempt's clock starts.
        self.quota.wait().await;
        let deadline = Instant::now() + self.limits.timeout;
        let mut method = method;
        let mut url = url.clone();
        let mut headers = headers.clone();
        let mut body = body;
        let mut form = form;
        let mut on_service = true;
        let mut hop = 0usize;
        loop {
            on_service = on_service && self.is_service(&url);
            let credentials = on_service && self.auth.has_credentials();
            let applied = if credentials {
                self.auth
                    .apply(method, &url, form, &self.counters.token_fetches)
                    .await
                    .map_err(Failure::Fatal)?
            } else {
                Applied::nothing()
            };
            if let Some(limiter) = &self.limiter {
                limiter.acquire().await;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Failure::Timeout(format!(
                    "{target} did not answer within {:?} (after {hop} redirects)",
                    self.limits.timeout
                )));
            }
            let mut builder = self
                .client
                .request(method.into(), url.clone())
                .headers(headers.clone())
                .timeout(remaining);
            if let Some((name, value)) = applied.header {
                builder = builder.header(name, value);
            }
            if let Some((name, value)) = applied.key {
                builder = builder.header(name, value);
            }
            if let Some(body) = body {
                builder = builder.body(body.to_vec());
            }
            let hop_target = format!("{}{}", hosts::display_host(&url), url.path());
            self.counters.requests_sent.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(method = method.as_str(), target = %hop_target, attempt, hop, credentials, "http request");
            let started = Instant::now();
            let response = builder
                .send()
                .await
                .map_err(|e| Failure::from_reqwest(e, target, self.limits.timeout))?;
            let status = response.status();
            let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
            self.quota
                .observe(header("x-ratelimit-remaining"), header("x-ratelimit-reset"));
            tracing::debug!(
                method = method.as_str(),
                target = %hop_target,
                attempt,
                hop,
                status = status.as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "http response"
            );
            let answer = |response| {
                Ok(Exchanged {
                    response,
                    token: applied.token.clone(),
                })
            };
            let see_other = match status.as_u16() {
                301..=303 => true,
                307 | 308 => false,
                _ => return answer(response),
            };
            // A redirect without a usable Location is the answer itself.
            let Some(next) = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|location| url.join(location.trim()).ok())
            else {
                return answer(response);
            };
            drop(response);
            hop += 1;
            if hop > MAX_REDIRECTS {
                return Err(Failure::Redirects(format!(
                    "{target}: the server redirected more than {MAX_REDIRECTS} times; the host stopped following"
                )));
            }
            if !matches!(next.scheme(), "http" | "https") || !hosts::allowed(&self.patterns, &next)
            {
                return Err(Failure::Denied(format!(
                    "{target}: the server redirected to `{}`, which this plugin's manifest and source settings do not allow; the redirect was not followed",
                    truncate(&hosts::display_host(&next), 200)
                )));
            }
            if !next.username().is_empty() || next.password().is_some() {
                return Err(Failure::Denied(format!(
                    "{target}: the server redirected to a URL with a username or password in it; the redirect was not followed"
                )));
            }
            if see_other {
                method = Method::Get;
                body = None;
                form = &[];
                headers.remove(CONTENT_TYPE);
                headers.remove(CONTENT_ENCODING);
            }
            tracing::debug!(from = %hop_target, to = %hosts::display_host(&next), status = status.as_u16(), "following a redirect");
            url = next;
        }
    }

    fn check_url(&self, raw: &str) -> Result<Url, HttpError> {
        let url = Url::parse(raw.trim()).map_err(|e| {
            HttpError::Invalid(format!("`{}` is not a valid URL: {e}", truncate(raw, 200)))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HttpError::Denied(format!(
                "only http and https URLs may be requested, not `{}:` URLs; nothing was sent",
                truncate(url.scheme(), 40)
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(HttpError::Invalid(
                "a request URL may not carry a username or password: the host adds the connection's credentials; nothing was sent"
                    .into(),
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(HttpError::Invalid(format!(
                "`{}` has no host",
                truncate(raw, 200)
            )));
        }
        if !hosts::allowed(&self.patterns, &url) {
            let allowed = if self.patterns.is_empty() {
                "none".to_string()
            } else {
                self.patterns
                    .iter()
                    .map(HostPattern::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(HttpError::Denied(format!(
                "the plugin asked to reach `{}`, which this plugin's manifest and source settings do not allow \
                 (allowed hosts: {allowed}); nothing was sent. If it is the service's own address, check the \
                 source's Service URL; a connector's vendor lets it reach a host by listing it in the \
                 manifest's allowed_hosts, e.g. allowed_hosts = [\"{{service_url}}\"] for the host of the \
                 service_url setting",
                hosts::display_host(&url)
            )));
        }
        Ok(url)
    }

    /// The plugin's headers, minus those the host owns (dropped, not refused,
    /// so a plugin that sets its own `Authorization` still works).
    fn plugin_headers(&self, given: &[(String, String)]) -> Result<HeaderMap, HttpError> {
        let api_key = self.auth.api_key_header();
        let mut map = HeaderMap::new();
        let mut dropped = Vec::new();
        for (name, value) in given {
            let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                HttpError::Invalid(format!(
                    "`{}` is not a valid HTTP header name",
                    truncate(name, 100)
                ))
            })?;
            if HOST_OWNED_HEADERS.contains(&name.as_str()) || api_key == Some(&name) {
                dropped.push(name.as_str().to_string());
                continue;
            }
            let value = HeaderValue::from_str(value).map_err(|_| {
                HttpError::Invalid(format!(
                    "the value of the `{name}` header is not a valid HTTP header value (line breaks and control characters are not allowed)"
                ))
            })?;
            map.append(name, value);
        }
        if !dropped.is_empty() {
            tracing::debug!(dropped = ?dropped, "dropped request headers only the host may set");
        }
        Ok(map)
    }

    async fn wait_to_retry(&self, retries: &mut u32, wait: Duration, target: &str, why: &str) {
        *retries += 1;
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(target = %target, retry = *retries, wait_ms = wait.as_millis() as u64, why, "retrying");
        tokio::time::sleep(wait).await;
    }

    /// Strike every secret from a message: defence in depth, since no
    /// message is built from a secret in the first place.
    fn scrub(&self, error: HttpError) -> HttpError {
        error.map_message(|mut message| {
            for secret in &self.secrets {
                if message.contains(secret.as_str()) {
                    message = message.replace(secret.as_str(), "[redacted]");
                }
            }
            message
        })
    }
}

/// What went wrong with one attempt.
enum Failure {
    /// Not worth another try: the credentials could not be had or used (an
    /// OAuth2 token endpoint that said no, a secret that cannot go in a
    /// header).
    Fatal(HttpError),
    Denied(String),
    Timeout(String),
    TooLarge(String),
    /// Could not connect: the request never reached the server.
    Connect(String),
    /// Broke off after the request may have reached the server.
    Transport(String),
    /// More redirects than [`MAX_REDIRECTS`].
    Redirects(String),
}

impl Failure {
    fn from_reqwest(error: reqwest::Error, target: &str, timeout: Duration) -> Failure {
        Failure::classify(chain_of(error), target, timeout)
    }

    fn classify(reason: Classified, target: &str, timeout: Duration) -> Failure {
        match reason.kind {
            Kind::Timeout => Failure::Timeout(format!(
                "{target} did not answer within {timeout:?} ({})",
                reason.text
            )),
            Kind::Connect => {
                Failure::Connect(format!("could not connect to {target}: {}", reason.text))
            }
            Kind::Other => Failure::Transport(format!(
                "the exchange with {target} failed: {}",
                reason.text
            )),
        }
    }

    /// Timeouts and broken exchanges are retried for idempotent methods only;
    /// a failed connect never reached the server, so any method is retried.
    fn retryable(&self, method: Method) -> bool {
        match self {
            Failure::Connect(_) => true,
            Failure::Timeout(_) | Failure::Transport(_) => method.is_idempotent(),
            Failure::Fatal(_)
            | Failure::Denied(_)
            | Failure::TooLarge(_)
            | Failure::Redirects(_) => false,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Failure::Fatal(_) => "auth",
            Failure::Denied(_) => "denied",
            Failure::Timeout(_) => "timeout",
            Failure::TooLarge(_) => "too large",
            Failure::Connect(_) => "connect failure",
            Failure::Transport(_) => "transport failure",
            Failure::Redirects(_) => "too many redirects",
        }
    }

    fn into_error(self, attempts: u32) -> HttpError {
        let tries = if attempts > 1 {
            format!(" (after {attempts} attempts)")
        } else {
            String::new()
        };
        match self {
            Failure::Fatal(e) => e,
            Failure::Denied(m) => HttpError::Denied(m),
            Failure::Redirects(m) => HttpError::Connection(m),
            Failure::TooLarge(m) => HttpError::TooLarge(m),
            Failure::Timeout(m) => HttpError::Timeout(format!("{m}{tries}")),
            Failure::Connect(m) | Failure::Transport(m) => {
                HttpError::Connection(format!("{m}{tries}"))
            }
        }
    }
}

enum Kind {
    Timeout,
    Connect,
    Other,
}

/// A reqwest error reduced to its kind and its message chain (no URL).
struct Classified {
    kind: Kind,
    text: String,
}

fn chain_of(error: reqwest::Error) -> Classified {
    let kind = if error.is_timeout() {
        Kind::Timeout
    } else if error.is_connect() {
        Kind::Connect
    } else {
        Kind::Other
    };
    Classified {
        kind,
        text: chain(&error.without_url()),
    }
}

/// Read the body under the cap; headers as the plugin will see them.
async fn read_response(
    mut response: reqwest::Response,
    max: u64,
    target: &str,
) -> Result<InboundResponse, Failure> {
    let status = response.status().as_u16();
    let too_large = |got: String| {
        Failure::TooLarge(format!(
            "the response from {target} (HTTP {status}) is {got}, over this connection's limit of {}; \
             ask for smaller pages or raise the source's response size limit",
            bytes(max)
        ))
    };
    if let Some(length) = response.content_length()
        && length > max
    {
        return Err(too_large(format!(
            "{} by its Content-Length",
            bytes(length)
        )));
    }
    let headers = response
        .headers()
        .iter()
        .filter(|(name, _)| !HIDDEN_RESPONSE_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let capacity = response.content_length().unwrap_or(0).min(1024 * 1024) as usize;
    let mut body = Vec::with_capacity(capacity);
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() as u64 + chunk.len() as u64 > max {
                    return Err(too_large("larger".to_string()));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(error) => {
                let reason = chain_of(error);
                return Err(match reason.kind {
                    Kind::Timeout => Failure::Timeout(format!(
                        "{target} did not finish its response in time ({})",
                        reason.text
                    )),
                    _ => Failure::Transport(format!(
                        "reading the response from {target} failed: {}",
                        reason.text
                    )),
                });
            }
        }
    }
    Ok(InboundResponse {
        status,
        headers,
        body,
    })
}

/// Parameters of an `application/x-www-form-urlencoded` body (OAuth 1.0a
/// signs them); empty for any other body.
fn form_params(headers: &HeaderMap, body: Option<&[u8]>) -> Vec<(String, String)> {
    let is_form = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    match body {
        Some(body) if is_form => url::form_urlencoded::parse(body).into_owned().collect(),
        _ => Vec::new(),
    }
}

/// The origin the connection's credentials go to, checked: one is needed
/// when there are credentials, and it must be https unless it is this
/// machine.
fn service_origin(
    service_url: Option<&str>,
    auth: &Authenticator,
) -> Result<Option<Origin>, HttpError> {
    let service_url = service_url.map(str::trim).filter(|u| !u.is_empty());
    let Some(service_url) = service_url else {
        if auth.has_credentials() {
            return Err(HttpError::Invalid(
                "this connection has credentials but no Service URL to send them to: fill the Service URL setting"
                    .into(),
            ));
        }
        return Ok(None);
    };
    let shown = truncate(service_url, 200);
    let origin = Origin::parse(service_url).ok_or_else(|| {
        HttpError::Invalid(format!(
            "the Service URL `{shown}` is not an http or https URL with a host: check the Service URL setting"
        ))
    })?;
    if auth.has_credentials() && !origin.is_secure_channel() {
        return Err(HttpError::Invalid(format!(
            "the Service URL `{shown}` is plain http, and the host sends this connection's credentials over https only \
             (plain http only to this machine): use an https:// Service URL"
        )));
    }
    Ok(Some(origin))
}

/// Every secret of an auth, and the encodings in which it goes on the wire.
fn secret_strings(auth: &Auth) -> Vec<String> {
    use base64::Engine as _;
    let mut out: Vec<String> = Vec::new();
    let mut add = |s: &Secret| {
        let raw = s.expose();
        // Very short values would strike ordinary words from messages.
        if raw.len() >= 4 {
            out.push(raw.to_string());
            let encoded = oauth1::percent_encode(raw);
            if encoded != raw {
                out.push(encoded);
            }
        }
    };
    match auth {
        Auth::None => {}
        Auth::Basic { username, password } => {
            add(password);
            let basic = base64::engine::general_purpose::STANDARD
                .encode(format!("{username}:{}", password.expose()));
            out.push(basic);
        }
        Auth::ApiKey { key, .. } => add(key),
        Auth::Bearer { token } => add(token),
        Auth::OAuth2ClientCredentials { client_secret, .. } => add(client_secret),
        Auth::OAuth2RefreshToken {
            client_secret,
            refresh_token,
            ..
        } => {
            add(client_secret);
            add(refresh_token);
        }
        Auth::OAuth2Password {
            client_secret,
            password,
            api_key,
            ..
        } => {
            if let Some(s) = client_secret {
                add(s);
            }
            add(password);
            if let Some((_, key)) = api_key {
                add(key);
            }
        }
        Auth::OAuth1 {
            consumer_secret, ..
        } => add(consumer_secret),
    }
    out
}

/// An error and its sources as one line, repeated messages skipped.
pub(crate) fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    let mut depth = 0;
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
        depth += 1;
        if depth >= 16 {
            break;
        }
    }
    parts.join(": ")
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}…")
}

fn bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else {
        format!("{n} bytes")
    }
}
