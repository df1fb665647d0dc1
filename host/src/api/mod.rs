//! The REST API under /api/v1: routes (`routes.rs`) that take JSON, call
//! the application layer (`crate::app`) and answer JSON, the OpenAPI
//! document generated from them, bearer-token callers (`auth.rs`) and
//! errors as JSON (`error.rs`).
//!
//! A face over `crate::app`: it never reaches the store or the engine,
//! never runs plugin code, and holds no operation of its own.

mod auth;
pub mod error;
mod routes;
mod vendors;

use std::sync::Arc;

use axum::extract::Request;
use axum::routing::{any, get};
use axum::{Json, Router};

use crate::app::{App, Caller};
use error::ApiError;

async fn api_not_found(request: Request) -> ApiError {
    ApiError::not_found(format!(
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

/// The REST API's routes and its OpenAPI document.
pub fn router() -> Router<App> {
    let (api, doc) = routes::router().merge(vendors::router()).split_for_parts();
    let doc = Arc::new(document(doc));
    Router::new()
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
}
