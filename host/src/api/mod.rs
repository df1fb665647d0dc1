//! `homeroom serve`: the HTTP face of the hub. It owns the REST API under
//! /api/v1 (with its OpenAPI document), API tokens and roles per
//! organization, the audit log, secret values entered through the API
//! (sealed in `secrets.rs`), runs started in the background with their live
//! progress, and first-start set-up. The admin UI (`crate::ui`) is served
//! beside it and calls the same operations (`app.rs`).
//!
//! It calls the engine, the store and the gallery for everything else: it
//! never runs plugin code itself, never writes SQL, and never changes how an
//! import, an approval or a reconciliation works.

mod app;
pub mod auth;
pub mod error;
pub mod model;
mod routes;
pub mod secrets;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{any, get};
use axum::{Json, Router};

pub use app::{App, EntityQuery, list_kind};
use auth::{Caller, Role};
use error::{ApiError, ApiResult};
use secrets::SecretBox;

use crate::config::{Every, Schedule};
use crate::pipeline::Engine;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// The key that encrypts secrets entered in the UI or the API (created
    /// on first start; back it up with the database). Default: homeroom.key
    /// beside the SQLite database, or in the working directory.
    #[arg(long, env = "HOMEROOM_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
}

/// The organization a first start makes, so there is something to open.
pub const DEMO_ORG: (&str, &str) = ("demo", "Demo District");

async fn health() -> &'static str {
    "ok"
}

async fn api_not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!(
        "no route {} {}; the OpenAPI document at /api/v1/openapi.json lists them",
        request.method(),
        request.uri().path()
    ))
}

/// The OpenAPI document of the routes, with its security scheme.
fn document(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
    doc.info = utoipa::openapi::InfoBuilder::new()
        .title("Homeroom API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "The REST API of Homeroom, the K-12 data-sync hub. Every route but /healthz needs \
             `Authorization: Bearer <token>`. A token holds a role per organization: viewer \
             (reads), operator (also runs, approves, resolves duplicates) or admin (also \
             configures sources and tokens). Objects of an organization the token holds no role \
             in answer 404. Errors are `{\"error\": \"...\"}`.",
        ))
        .build();
    let mut components = doc.components.take().unwrap_or_default();
    components.add_security_scheme(
        "token",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    doc.components = Some(components);
    doc.security = Some(vec![SecurityRequirement::new(
        "token",
        Vec::<String>::new(),
    )]);
    doc
}

/// Headers every answer carries: no sniffing, no framing, no caching of
/// pages that hold district data, and a strict content policy for pages.
async fn security_headers(request: Request, next: Next) -> Response {
    let is_static = request.uri().path().starts_with("/static/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The whole HTTP service: health check, REST API, OpenAPI document, admin UI.
pub fn router(app: App) -> Router {
    let (api, doc) = routes::router().split_for_parts();
    let doc = Arc::new(document(doc));
    Router::new()
        .route("/healthz", get(health))
        .merge(api)
        .route(
            "/api/v1/openapi.json",
            get(move |_caller: Caller| {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .route("/api", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found))
        .merge(crate::ui::router(app.clone()))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(app)
}

/// On an empty database: a demo organization and an admin token (a
/// platform token that may also create organizations). Returns the token
/// in clear, to print once; it is kept only as its hash.
pub async fn first_start(engine: &Engine) -> ApiResult<Option<String>> {
    let store = &engine.store;
    if store.any_token().await? {
        return Ok(None);
    }
    let mut orgs = store.organizations().await?;
    if !orgs.iter().any(|(id, _)| id == DEMO_ORG.0) {
        store.upsert_organization(DEMO_ORG.0, DEMO_ORG.1).await?;
        orgs.push((DEMO_ORG.0.into(), DEMO_ORG.1.into()));
    }
    let roles: Vec<(&str, Role)> = orgs
        .iter()
        .map(|(id, _)| (id.as_str(), Role::Admin))
        .collect();
    let (id, token) = auth::issue_token(store, "first admin", true, "first start", &roles).await?;
    for (org, _) in &orgs {
        store
            .audit(
                org,
                &id,
                "first start",
                "token.create",
                &id,
                &serde_json::json!({"name": "first admin", "role": "admin", "platform": true}),
            )
            .await?;
    }
    Ok(Some(token))
}

/// Check a schedule an admin entered.
pub fn validate_schedule(s: &Schedule) -> ApiResult<()> {
    if let Some(at) = &s.at
        && chrono::NaiveTime::parse_from_str(at, "%H:%M").is_err()
    {
        return Err(ApiError::bad(format!(
            "`{at}` is not a time of day: use HH:MM, such as 02:30"
        )));
    }
    if let Some(day) = &s.weekday {
        const DAYS: [&str; 7] = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ];
        if !DAYS.contains(&day.to_lowercase().as_str()) {
            return Err(ApiError::bad(format!(
                "`{day}` is not a weekday: use monday ... sunday"
            )));
        }
        if s.every != Every::Week {
            return Err(ApiError::bad("a weekday applies to a weekly schedule only"));
        }
    }
    if let Some(expires) = &s.expires
        && chrono::NaiveDate::parse_from_str(expires, "%Y-%m-%d").is_err()
    {
        return Err(ApiError::bad(format!(
            "`{expires}` is not a date: use YYYY-MM-DD"
        )));
    }
    if let Some(mode) = &s.mode
        && !matches!(mode.as_str(), "full" | "quick")
    {
        return Err(ApiError::bad(format!(
            "`{mode}` is not a run mode: use full or quick"
        )));
    }
    Ok(())
}

/// `homeroom serve`.
pub async fn serve(args: ServeArgs, engine: Engine, db_url: &str) -> anyhow::Result<()> {
    let key_path = args
        .secret_key_file
        .clone()
        .unwrap_or_else(|| secrets::default_key_path(db_url));
    let (secret_box, created) = SecretBox::load_or_create(&key_path)?;
    if created {
        eprintln!(
            "created {}: it encrypts the secrets entered in the UI; back it up with the database",
            key_path.display()
        );
    }
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e} (is another homeroom running? pass --bind)",
                args.bind
            )
        })?;
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let token = first_start(&engine)
        .await
        .map_err(|e| anyhow::anyhow!("first start: {e}"))?;
    if let Some(token) = token {
        println!(
            "First start: made the organization `{}` and an admin token. It is shown this once \
             and kept only as a hash, so copy it now:\n\n    {token}\n\nSign in with it in the \
             browser, or send it to the API as `Authorization: Bearer <token>`.\n",
            DEMO_ORG.0
        );
    }
    println!("Homeroom is running: open http://{addr}/");
    let app = App::new(engine, secret_box);
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// Build an `App` for tests and embedders.
pub fn app(engine: Engine, secret_box: SecretBox) -> App {
    App::new(engine, secret_box)
}
