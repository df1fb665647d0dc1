//! Turning a connection's [`Auth`] into the header a request carries, and the
//! OAuth2 token cache (client credentials, password and refresh-token grants, through the
//! `oauth2` crate; token answers read leniently, [`LenientToken`]). Secrets leave [`Secret`] only here, straight into a header
//! marked sensitive or into the token request; no message built here ever
//! contains one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AccessToken, ClientId, ClientSecret, HttpClientError, RefreshToken, RequestTokenError,
    ResourceOwnerPassword, ResourceOwnerUsername, Scope, StandardRevocableToken, TokenResponse,
    TokenUrl,
};
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::{Auth, HttpError, HttpLimits, Method, oauth1, retry};
use crate::secret::Secret;

/// A cached token is dropped this long before the server says it expires.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

/// What one request adds to its headers.
pub struct Applied {
    /// The header carrying the credential (value marked sensitive).
    pub header: Option<(HeaderName, HeaderValue)>,
    /// The OAuth2 access token it used, so a 401 can drop exactly that one.
    pub token: Option<Secret>,
    /// An API key header sent beside an OAuth2 token (value marked sensitive).
    pub key: Option<(HeaderName, HeaderValue)>,
}

impl Applied {
    /// Nothing: a request to any origin but the service's.
    pub fn nothing() -> Applied {
        Applied {
            header: None,
            token: None,
            key: None,
        }
    }
}

/// A connection's authentication, ready to apply.
pub enum Authenticator {
    None,
    Static(HeaderName, HeaderValue),
    OAuth1 {
        consumer_key: String,
        consumer_secret: Secret,
    },
    OAuth2(Box<TokenSource>),
}

impl Authenticator {
    pub fn new(auth: &Auth, limits: &HttpLimits) -> Result<Authenticator, HttpError> {
        Ok(match auth {
            Auth::None => Authenticator::None,
            Auth::Basic { username, password } => {
                if username.contains(':') {
                    return Err(HttpError::Invalid(
                        "the Basic auth username may not contain `:`: check the Username setting"
                            .into(),
                    ));
                }
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{}", password.expose()));
                Authenticator::Static(
                    AUTHORIZATION,
                    sensitive(
                        &format!("Basic {encoded}"),
                        "the Basic auth username or password",
                    )?,
                )
            }
            Auth::ApiKey { header, key } => {
                let name = api_key_header(header)?;
                Authenticator::Static(name, sensitive(key.expose(), "the API key")?)
            }
            Auth::Bearer { token } => Authenticator::Static(
                AUTHORIZATION,
                sensitive(&format!("Bearer {}", token.expose()), "the bearer token")?,
            ),
            Auth::OAuth1 {
                consumer_key,
                consumer_secret,
            } => Authenticator::OAuth1 {
                consumer_key: consumer_key.clone(),
                consumer_secret: consumer_secret.clone(),
            },
            Auth::OAuth2ClientCredentials {
                token_url,
                client_id,
                client_secret,
                scopes,
            } => Authenticator::OAuth2(Box::new(TokenSource::new(
                token_url,
                client_id,
                Some(client_secret.clone()),
                Grant::ClientCredentials,
                scopes,
                limits,
            )?)),
            Auth::OAuth2RefreshToken {
                token_url,
                client_id,
                client_secret,
                refresh_token,
                scopes,
            } => Authenticator::OAuth2(Box::new(TokenSource::new(
                token_url,
                client_id,
                Some(client_secret.clone()),
                Grant::RefreshToken(refresh_token.clone()),
                scopes,
                limits,
            )?)),
            Auth::OAuth2Password {
                token_url,
                client_id,
                client_secret,
                username,
                password,
                scopes,
                api_key,
            } => {
                let mut source = TokenSource::new(
                    token_url,
                    client_id,
                    client_secret.clone(),
                    Grant::Password(username.clone(), password.clone()),
                    scopes,
                    limits,
                )?;
                if let Some((header, key)) = api_key {
                    source.key = Some((
                        api_key_header(header)?,
                        sensitive(key.expose(), "the API key")?,
                    ));
                }
                Authenticator::OAuth2(Box::new(source))
            }
        })
    }

    /// Whether the connection has credentials at all.
    pub fn has_credentials(&self) -> bool {
        !matches!(self, Authenticator::None)
    }

    /// The header for one request of `method url` (the caller has checked
    /// that `url` is the service's origin). OAuth 1.0a signs each request
    /// afresh (new nonce and timestamp, the URL of this very hop); OAuth2
    /// uses the cached token or fetches one.
    pub async fn apply(
        &self,
        method: Method,
        url: &Url,
        form_params: &[(String, String)],
        token_fetches: &AtomicU64,
    ) -> Result<Applied, HttpError> {
        match self {
            Authenticator::None => Ok(Applied::nothing()),
            Authenticator::Static(name, value) => Ok(Applied {
                header: Some((name.clone(), value.clone())),
                token: None,
                key: None,
            }),
            Authenticator::OAuth1 {
                consumer_key,
                consumer_secret,
            } => {
                let value = oauth1::authorization_header(
                    method.as_str(),
                    url,
                    form_params,
                    consumer_key,
                    consumer_secret.expose(),
                    &oauth1::new_nonce(),
                    oauth1::unix_now(),
                );
                Ok(Applied {
                    header: Some((
                        AUTHORIZATION,
                        sensitive(&value, "the OAuth 1.0a consumer key")?,
                    )),
                    token: None,
                    key: None,
                })
            }
            Authenticator::OAuth2(source) => {
                let token = source.token(token_fetches).await?;
                let value = sensitive(
                    &format!("Bearer {}", token.expose()),
                    "the access token from the token endpoint",
                )?;
                Ok(Applied {
                    header: Some((AUTHORIZATION, value)),
                    token: Some(token),
                    key: source.key.clone(),
                })
            }
        }
    }

    /// A 401 came back for a request sent with `token`: forget it, unless
    /// another request already replaced it. True when a fresh token is worth
    /// trying (OAuth2 only).
    pub async fn rejected(&self, token: &Secret) -> bool {
        match self {
            Authenticator::OAuth2(source) => {
                source.forget(token).await;
                true
            }
            _ => false,
        }
    }

    /// The name of the API-key header, which plugins may not set.
    pub fn api_key_header(&self) -> Option<&HeaderName> {
        match self {
            Authenticator::Static(name, _) if name != AUTHORIZATION => Some(name),
            Authenticator::OAuth2(source) => source.key.as_ref().map(|(name, _)| name),
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Authenticator::None => "none",
            Authenticator::Static(name, _) if name == AUTHORIZATION => "static authorization",
            Authenticator::Static(..) => "api key",
            Authenticator::OAuth1 { .. } => "oauth1",
            Authenticator::OAuth2(_) => "oauth2",
        }
    }
}

fn api_key_header(header: &str) -> Result<HeaderName, HttpError> {
    HeaderName::from_bytes(header.trim().as_bytes())
        .map_err(|_| HttpError::Invalid(format!("`{header}` is not a valid HTTP header name for the API key: check the API key header setting")))
}

/// A header value marked sensitive (hyper keeps it out of its own debug
/// output). A value that is not a valid header (a newline in a pasted secret)
/// is reported without the value.
fn sensitive(value: &str, what: &str) -> Result<HeaderValue, HttpError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        HttpError::Invalid(format!("{what} contains characters that cannot go in an HTTP header (a line break or control character?): re-enter it"))
    })?;
    v.set_sensitive(true);
    Ok(v)
}

struct CachedToken {
    access: Secret,
    /// When to stop using it; `None`: until a 401.
    refresh_at: Option<Instant>,
}

/// An OAuth2 token endpoint and the one token cached for it.
/// How a token is asked for.
enum Grant {
    ClientCredentials,
    /// The resource owner's username and password.
    Password(String, Secret),
    /// A long-lived refresh token an admin obtained once by signing in (as
    /// Google hands a district for Classroom).
    RefreshToken(Secret),
}

impl Grant {
    fn label(&self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client credentials",
            Grant::Password(..) => "password",
            Grant::RefreshToken(_) => "refresh token",
        }
    }
}

pub struct TokenSource {
    token_url: TokenUrl,
    /// The token URL without its query, for messages.
    shown_url: String,
    client_id: String,
    client_secret: Option<Secret>,
    grant: Grant,
    scopes: Vec<String>,
    /// The client the `oauth2` crate sends with: follows no redirects.
    http: reqwest::Client,
    limits: HttpLimits,
    cache: Mutex<Option<CachedToken>>,
    /// An API key header sent with the token on every service request.
    key: Option<(HeaderName, HeaderValue)>,
}

impl TokenSource {
    fn new(
        token_url: &str,
        client_id: &str,
        client_secret: Option<Secret>,
        grant: Grant,
        scopes: &[String],
        limits: &HttpLimits,
    ) -> Result<TokenSource, HttpError> {
        let parsed = Url::parse(token_url.trim()).map_err(|e| {
            HttpError::Invalid(format!("the OAuth token URL `{token_url}` is not a valid URL ({e}): check the Token URL setting"))
        })?;
        let Some(origin) = super::hosts::Origin::of(&parsed) else {
            return Err(HttpError::Invalid(format!(
                "the OAuth token URL `{token_url}` must be an http or https URL: check the Token URL setting"
            )));
        };
        if !origin.is_secure_channel() {
            return Err(HttpError::Invalid(format!(
                "the OAuth token URL `{}` is plain http, and the host sends the client secret and password over https only \
                 (plain http only to this machine): use an https:// Token URL",
                truncate(token_url.trim(), 200)
            )));
        }
        let shown_url = format!(
            "{}://{}{}",
            parsed.scheme(),
            super::hosts::display_host(&parsed),
            parsed.path()
        );
        if client_id.trim().is_empty() {
            return Err(HttpError::Invalid(
                "the OAuth Client ID is empty: fill it in the source settings".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(limits.timeout)
            .user_agent(super::USER_AGENT)
            .build()
            .map_err(|e| {
                HttpError::Invalid(format!(
                    "could not build the HTTP client for the token endpoint: {}",
                    super::chain(&e)
                ))
            })?;
        Ok(TokenSource {
            token_url: TokenUrl::from_url(parsed),
            shown_url,
            client_id: client_id.trim().to_string(),
            client_secret,
            grant,
            scopes: scopes.to_vec(),
            http,
            limits: limits.clone(),
            cache: Mutex::new(None),
            key: None,
        })
    }

    /// The cached token if it is still good, else a new one. Holding the
    /// lock across the fetch makes concurrent callers share one fetch.
    async fn token(&self, fetches: &AtomicU64) -> Result<Secret, HttpError> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            && cached.refresh_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(cached.access.clone());
        }
        *cache = None;
        let fresh = self.fetch(fetches).await?;
        let access = fresh.access.clone();
        *cache = Some(fresh);
        Ok(access)
    }

    async fn forget(&self, token: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| &c.access == token) {
            *cache = None;
        }
    }

    /// Ask the token endpoint, retrying only when it could not be reached.
    async fn fetch(&self, fetches: &AtomicU64) -> Result<CachedToken, HttpError> {
        let mut retry = 0;
        loop {
            fetches.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(token_url = %self.shown_url, attempt = retry + 1, "fetching an OAuth2 access token");
            match self.request().await {
                Ok(token) => return Ok(token),
                Err(Fetch::Unreachable(error)) if retry < self.limits.max_retries => {
                    tracing::debug!(token_url = %self.shown_url, attempt = retry + 1, "token endpoint unreachable; retrying");
                    tokio::time::sleep(retry::backoff(&self.limits, retry)).await;
                    retry += 1;
                    drop(error);
                }
                Err(Fetch::Unreachable(error) | Fetch::Refused(error)) => return Err(error),
            }
        }
    }

    async fn request(&self) -> Result<CachedToken, Fetch> {
        let client = TokenClient::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(self.token_url.clone());
        let client = match &self.client_secret {
            Some(secret) => {
                client.set_client_secret(ClientSecret::new(secret.expose().to_string()))
            }
            None => client,
        };
        let scopes = self
            .scopes
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| Scope::new(s.trim().to_string()));
        let started = Instant::now();
        let result = match &self.grant {
            Grant::ClientCredentials => {
                client
                    .exchange_client_credentials()
                    .add_scopes(scopes)
                    .request_async(&self.http)
                    .await
            }
            Grant::RefreshToken(refresh) => {
                let refresh = RefreshToken::new(refresh.expose().to_string());
                client
                    .exchange_refresh_token(&refresh)
                    .add_scopes(scopes)
                    .request_async(&self.http)
                    .await
            }
            Grant::Password(username, password) => {
                let username = ResourceOwnerUsername::new(username.clone());
                let password = ResourceOwnerPassword::new(password.expose().to_string());
                client
                    .exchange_password(&username, &password)
                    .add_scopes(scopes)
                    .request_async(&self.http)
                    .await
            }
        };
        let response = result.map_err(|e| self.explain(e))?;
        let access = response.access_token().secret();
        if access.is_empty() {
            return Err(Fetch::Refused(HttpError::Auth(format!(
                "the token endpoint {} returned an empty access token: check the OAuth settings with the source's administrator",
                self.shown_url
            ))));
        }
        let refresh_at = response.expires_in().map(|lifetime| {
            // Keep a margin, but never less than half the lifetime of a short-lived token.
            let margin = EXPIRY_MARGIN.min(lifetime / 2);
            started + lifetime - margin
        });
        tracing::debug!(token_url = %self.shown_url, expires_in = ?response.expires_in(), "OAuth2 access token received");
        Ok(CachedToken {
            access: Secret::new(access.clone()),
            refresh_at,
        })
    }

    /// An admin-readable reason a token request failed, with no secret in it.
    fn explain(
        &self,
        error: RequestTokenError<HttpClientError<reqwest::Error>, BasicErrorResponse>,
    ) -> Fetch {
        let url = &self.shown_url;
        match error {
            RequestTokenError::ServerResponse(response) => {
                let said = match response.error_description() {
                    Some(d) if !d.trim().is_empty() => {
                        format!("; the server said: {}", truncate(d.trim(), 200))
                    }
                    _ => String::new(),
                };
                let detail = format!(" (token URL {url}{said})");
                let message = match response.error() {
                    BasicErrorResponseType::InvalidClient
                    | BasicErrorResponseType::UnauthorizedClient => format!(
                        "the token endpoint refused the client id/secret: check the OAuth Client ID and Client Secret{detail}"
                    ),
                    BasicErrorResponseType::InvalidGrant
                        if matches!(self.grant, Grant::Password(..)) =>
                    {
                        format!(
                            "the token endpoint refused the username/password: check the OAuth Username and Password{detail}"
                        )
                    }
                    BasicErrorResponseType::InvalidGrant
                        if matches!(self.grant, Grant::RefreshToken(_)) =>
                    {
                        format!(
                            "the token endpoint refused the refresh token (expired, revoked, or issued to another client): sign in again and enter the new Refresh Token{detail}"
                        )
                    }
                    BasicErrorResponseType::InvalidScope => format!(
                        "the token endpoint refused the requested scopes ({}): check the Scopes setting{detail}",
                        self.scopes.join(" ")
                    ),
                    BasicErrorResponseType::UnsupportedGrantType => format!(
                        "the token endpoint does not support the {} grant: check the auth kind chosen for this source{detail}",
                        self.grant.label()
                    ),
                    other => format!(
                        "the token endpoint refused the token request with `{}`: check the Token URL, Client ID and Client Secret{detail}",
                        other.as_ref()
                    ),
                };
                Fetch::Refused(HttpError::Auth(message))
            }
            RequestTokenError::Request(HttpClientError::Reqwest(e)) => {
                let timed_out = e.is_timeout();
                let reason = super::chain(&e.without_url());
                if timed_out {
                    Fetch::Unreachable(HttpError::Timeout(format!(
                        "the token endpoint {url} did not answer within {:?}: {reason}",
                        self.limits.timeout
                    )))
                } else {
                    Fetch::Unreachable(HttpError::Connection(format!(
                        "could not reach the token endpoint {url}: {reason}"
                    )))
                }
            }
            RequestTokenError::Request(other) => Fetch::Refused(HttpError::Connection(format!(
                "could not send the token request to {url}: {}",
                super::chain(&other)
            ))),
            RequestTokenError::Parse(..) | RequestTokenError::Other(_) => {
                Fetch::Refused(HttpError::Auth(format!(
                    "the token endpoint {url} did not answer with an OAuth2 token (a refusal without a standard error, \
                 or not a token endpoint): check the Token URL, Client ID and Client Secret"
                )))
            }
        }
    }
}

enum Fetch {
    /// Worth another try: the endpoint could not be reached or timed out.
    Unreachable(HttpError),
    /// The endpoint answered no.
    Refused(HttpError),
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}…")
}

/// The `oauth2` crate's basic client, reading token answers leniently.
type TokenClient = oauth2::Client<
    BasicErrorResponse,
    LenientToken,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
>;

/// A token answer (RFC 6749 5.1) as servers really send it: `expires_in`
/// as a number or as digits in a string (PowerSchool's `/oauth/access_token`
/// sends `"expires_in": "2504956"`), `token_type` in any case.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LenientToken {
    access_token: AccessToken,
    #[serde(deserialize_with = "token_type_any_case")]
    token_type: BasicTokenType,
    #[serde(default, deserialize_with = "seconds")]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    #[serde(default, rename = "scope", deserialize_with = "scope_list")]
    scopes: Option<Vec<Scope>>,
}

impl TokenResponse for LenientToken {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }

    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }

    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

fn token_type_any_case<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BasicTokenType, D::Error> {
    let text: String = serde::Deserialize::deserialize(d)?;
    Ok(match text.to_ascii_lowercase().as_str() {
        "bearer" => BasicTokenType::Bearer,
        "mac" => BasicTokenType::Mac,
        _ => BasicTokenType::Extension(text),
    })
}

fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Seconds {
        Number(u64),
        Text(String),
    }
    match <Option<Seconds> as serde::Deserialize>::deserialize(d)? {
        None => Ok(None),
        Some(Seconds::Number(n)) => Ok(Some(n)),
        Some(Seconds::Text(t)) => t
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("expires_in is not a number of seconds")),
    }
}

fn scope_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<Scope>>, D::Error> {
    let text: Option<String> = serde::Deserialize::deserialize(d)?;
    Ok(text.map(|t| {
        t.split_whitespace()
            .map(|s| Scope::new(s.to_string()))
            .collect()
    }))
}

#[cfg(test)]
mod lenient_token_tests {
    use super::*;

    #[test]
    fn expires_in_reads_as_a_number_or_as_digits_in_a_string() {
        let read = |body: &str| serde_json::from_str::<LenientToken>(body).map(|t| t.expires_in());
        assert_eq!(
            read(r#"{"access_token": "a", "token_type": "Bearer", "expires_in": "2504956"}"#)
                .unwrap(),
            Some(Duration::from_secs(2_504_956))
        );
        assert_eq!(
            read(
                r#"{"access_token": "a", "token_type": "bearer", "expires_in": 60, "scope": "x y"}"#
            )
            .unwrap(),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            read(r#"{"access_token": "a", "token_type": "Bearer"}"#).unwrap(),
            None
        );
        assert!(
            read(r#"{"access_token": "a", "token_type": "Bearer", "expires_in": "soon"}"#).is_err()
        );
    }
}
