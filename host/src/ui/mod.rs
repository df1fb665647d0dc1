//! The admin UI: server-rendered HTML (maud), no JavaScript build step, one
//! small script for live run progress. It owns the pages (gallery, the
//! activation wizard, integrations, runs with their previews and approval,
//! records, duplicates, audit log), sign-in with an API token kept in an
//! HttpOnly SameSite=Strict session cookie, and CSRF protection: every POST
//! carries the session's CSRF token, checked here before any handler runs.
//!
//! Every operation goes through `crate::app::App`, the same code and the same
//! role checks as the REST API; the UI never reads the store or the engine. Values from source systems are escaped by
//! maud, which escapes everything it interpolates.

mod layout;
mod organizations;
mod pages;
mod settings;
mod vendors;
mod wizard;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};

use crate::app::{self, App, AppError, Session};

const SESSION_COOKIE: &str = "homeroom_session";
const LOGIN_COOKIE: &str = "homeroom_login";
/// How long a sign-in lasts.
const SESSION_HOURS: i64 = 12;
/// The largest form the UI takes.
const MAX_FORM: usize = 1024 * 1024;

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

async fn load_session(app: &App, headers: &HeaderMap) -> Result<Option<Session>, AppError> {
    match cookie(headers, SESSION_COOKIE) {
        Some(id) => app.session(&id).await,
        None => Ok(None),
    }
}

/// A page request's signed-in session; without one, the sign-in page.
impl FromRequestParts<App> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Session, Response> {
        if let Some(s) = parts.extensions.get::<Session>() {
            return Ok(s.clone());
        }
        match load_session(app, &parts.headers).await {
            Ok(Some(s)) => Ok(s),
            Ok(None) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let target = format!(
                    "/login?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                Err(Redirect::to(&target).into_response())
            }
            Err(e) => Err(UiError(e).into_response()),
        }
    }
}

/// A submitted form: every field, in order (repeated names kept).
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A field's value, trimmed; empty when absent.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_string()
    }

    pub fn opt(&self, name: &str) -> Option<String> {
        let t = self.text(name);
        (!t.is_empty()).then_some(t)
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Whether a checkbox was checked.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, _: &S) -> Result<Form, Response> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_FORM)
            .await
            .map_err(|_| {
                UiError(AppError::invalid("the form is too large to take")).into_response()
            })?;
        Ok(Form(
            url::form_urlencoded::parse(&bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

/// An error shown as a page.
pub struct UiError(pub AppError);

impl<E: Into<AppError>> From<E> for UiError {
    fn from(e: E) -> UiError {
        UiError(e.into())
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let status = crate::web::status(&self.0);
        let title = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::CONFLICT => "Not possible now",
            StatusCode::UNPROCESSABLE_ENTITY => "Check what you entered",
            _ => "Something went wrong",
        };
        let body = layout::bare(
            title,
            html! {
                div.panel {
                    h1 { (title) }
                    p.error-message { (layout::admin_message(&self.0.to_string())) }
                    p { a href="/" { "Back to Homeroom" } }
                }
            },
        );
        (status, Html(body.into_string())).into_response()
    }
}

pub type UiResult<T = Response> = Result<T, UiError>;

pub fn html_page(markup: Markup) -> Response {
    Html(markup.into_string()).into_response()
}

/// Redirect after a POST (303: the browser follows with GET).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

fn forbidden_form() -> Response {
    let body = layout::bare(
        "Form expired",
        html! {
            div.panel {
                h1 { "This form has expired" }
                p { "The form was not sent from this page, or your session changed since it was shown. Go back, reload the page and try again." }
                p { a href="/" { "Home" } }
            }
        },
    );
    (StatusCode::FORBIDDEN, Html(body.into_string())).into_response()
}

/// Every POST to the UI must carry the CSRF token of its session (or, for
/// the sign-in form, the one in its pre-session cookie).
async fn csrf_guard(State(app): State<App>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let expected = if parts.uri.path() == "/login" {
        cookie(&parts.headers, LOGIN_COOKIE)
    } else {
        match load_session(&app, &parts.headers).await {
            Ok(Some(session)) => {
                let csrf = session.csrf.clone();
                parts.extensions.insert(session);
                Some(csrf)
            }
            Ok(None) => return see_other("/login"),
            Err(e) => return UiError(e).into_response(),
        }
    };
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM).await else {
        return UiError(AppError::invalid("the form is too large to take")).into_response();
    };
    let sent = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned());
    match (expected, sent) {
        (Some(e), Some(s)) if !e.is_empty() && app::same(&e, &s) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        _ => forbidden_form(),
    }
}

fn set_cookie(name: &str, value: &str, max_age: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Only local paths are followed after sign-in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".into(),
    }
}

fn login_form(error: Option<&str>, next: Option<&str>) -> Response {
    let login_csrf = app::random_id();
    let body = layout::bare(
        "Sign in",
        html! {
            div.panel {
                h1 { "Sign in" }
                p.muted { "Enter your Homeroom API token. The first start of " code { "homeroom serve" } " printed an admin token; an organization's admins make tokens for others." }
                @if let Some(e) = error {
                    div.callout.bad role="alert" { (e) }
                }
                form method="post" action="/login" {
                    (layout::csrf_field(&login_csrf))
                    @if let Some(n) = next { input type="hidden" name="next" value=(n); }
                    div.field {
                        label for="token" { "API token" }
                        input #token type="password" name="token" autocomplete="off" required autofocus;
                    }
                    div.buttons { button.primary type="submit" { "Sign in" } }
                }
            }
        },
    );
    let mut response = html_page(body);
    if error.is_some() {
        *response.status_mut() = StatusCode::UNAUTHORIZED;
    }
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, &login_csrf, 1800),
    );
    response
}

async fn login_get(axum::extract::RawQuery(q): axum::extract::RawQuery) -> Response {
    let next = q.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "next")
            .map(|(_, v)| v.into_owned())
    });
    login_form(None, Some(&safe_next(next.as_deref())))
}

async fn login_post(State(app): State<App>, form: Form) -> Response {
    let next = safe_next(form.get("next"));
    let token = form.text("token");
    let id = match app.sign_in(&token, SESSION_HOURS).await {
        Ok((id, _)) => id,
        Err(AppError::Unauthorized(_)) => {
            return login_form(
                Some("That token is not known or was revoked. Check it and try again."),
                Some(&next),
            );
        }
        Err(e) => return UiError(e).into_response(),
    };
    let mut response = see_other(&next);
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &id, SESSION_HOURS * 3600),
    );
    h.append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", 0));
    response
}

async fn logout(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = app.sign_out(&id).await {
            tracing::warn!("sign-out: {e}");
        }
    }
    let mut response = see_other("/login");
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0));
    response
}

/// `/`: the first organization of the signed-in caller.
async fn home(State(app): State<App>, session: Session) -> UiResult {
    let orgs = app.organizations(&session.caller).await?;
    match orgs.first() {
        // More than one: choose (the platform operator may also make one).
        Some(_) if orgs.len() > 1 => Ok(see_other("/orgs")),
        Some(o) => Ok(see_other(&format!("/orgs/{}", o.id))),
        None => Ok(html_page(layout::bare(
            "No organization",
            html! { div.panel { h1 { "No organization" } p { "This token holds no role in any organization. Ask an admin to grant one." } } },
        ))),
    }
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        layout::CSS,
    )
}

async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        layout::JS,
    )
}

/// The UI's routes, with the CSRF check in front of every POST.
pub fn router(app: App) -> Router<App> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_get).post(login_post))
        .route("/logout", post(logout))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .merge(pages::routes())
        .merge(wizard::routes())
        .merge(settings::routes())
        .merge(vendors::routes())
        .merge(organizations::routes())
        .layer(axum::middleware::from_fn_with_state(app, csrf_guard))
}
