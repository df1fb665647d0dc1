//! The REST API's routes for what vendors read: vendor clients of the
//! OneRoster provider, their data-sharing agreements, the read log (per
//! client and per person) and purges of a person's data. Thin handlers over
//! `crate::app::provider`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, ErrorBody};
use super::routes::{Body, Ids, Params};
use crate::app::provider::AgreementTerms;
use crate::app::vendors::{AgreementView, NewVendorClient, PurgeView, ReadView, VendorClientView};
use crate::app::{App, Caller};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVendor {
    /// What the district calls it (the product it is for).
    pub name: String,
    /// The scopes it may ask for (short names or URIs); none: all of them.
    pub scopes: Option<Vec<String>>,
    /// It signs requests with OAuth 1.0a (a OneRoster 1.1 client). Its
    /// secret is then kept sealed as well as hashed.
    #[serde(default)]
    pub oauth1: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// Why (the request it answers): the purge record keeps it.
    pub reason: String,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReadsQuery {
    /// Default 100, at most 10000.
    pub limit: Option<i64>,
}

/// The organization's vendor clients, with their agreements (viewer).
#[utoipa::path(get, path = "/api/v1/organizations/{org}/vendors", tag = "vendors",
    params(("org" = String, Path)),
    responses((status = 200, body = Vec<VendorClientView>), (status = 404, body = ErrorBody)))]
async fn list_vendors(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
) -> ApiResult<Json<Vec<VendorClientView>>> {
    Ok(Json(app.vendor_clients(&caller, &org).await?))
}

/// Make a vendor client (admin). Its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/vendors", tag = "vendors",
    params(("org" = String, Path)), request_body = NewVendor,
    responses((status = 201, body = NewVendorClient), (status = 422, body = ErrorBody)))]
async fn create_vendor(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
    Body(new): Body<NewVendor>,
) -> ApiResult<impl IntoResponse> {
    let made = app
        .create_vendor_client(&caller, &org, &new.name, new.scopes, new.oauth1)
        .await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// Revoke a vendor client (admin): its tokens stop at once.
#[utoipa::path(delete, path = "/api/v1/organizations/{org}/vendors/{client}", tag = "vendors",
    params(("org" = String, Path), ("client" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_vendor(
    State(app): State<App>,
    caller: Caller,
    Ids((org, client)): Ids<(String, String)>,
) -> ApiResult<StatusCode> {
    app.revoke_vendor_client(&caller, &org, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Grant or change a client's data-sharing agreement (admin).
#[utoipa::path(put, path = "/api/v1/organizations/{org}/vendors/{client}/agreement", tag = "vendors",
    params(("org" = String, Path), ("client" = String, Path)), request_body = AgreementTerms,
    responses((status = 200, body = AgreementView), (status = 422, body = ErrorBody)))]
async fn put_agreement(
    State(app): State<App>,
    caller: Caller,
    Ids((org, client)): Ids<(String, String)>,
    Body(terms): Body<AgreementTerms>,
) -> ApiResult<Json<AgreementView>> {
    Ok(Json(
        app.grant_agreement(&caller, &org, &client, terms).await?,
    ))
}

/// Revoke a client's agreement (admin): it sees nothing from now on.
#[utoipa::path(delete, path = "/api/v1/organizations/{org}/vendors/{client}/agreement", tag = "vendors",
    params(("org" = String, Path), ("client" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_agreement(
    State(app): State<App>,
    caller: Caller,
    Ids((org, client)): Ids<(String, String)>,
) -> ApiResult<StatusCode> {
    app.revoke_agreement(&caller, &org, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One client's reads, newest first (viewer).
#[utoipa::path(get, path = "/api/v1/organizations/{org}/vendors/{client}/reads", tag = "vendors",
    params(("org" = String, Path), ("client" = String, Path), ReadsQuery),
    responses((status = 200, body = Vec<ReadView>), (status = 404, body = ErrorBody)))]
async fn client_reads(
    State(app): State<App>,
    caller: Caller,
    Ids((org, client)): Ids<(String, String)>,
    Params(q): Params<ReadsQuery>,
) -> ApiResult<Json<Vec<ReadView>>> {
    Ok(Json(
        app.vendor_reads(&caller, &org, Some(&client), q.limit.unwrap_or(100))
            .await?,
    ))
}

/// Every vendor read, newest first (viewer).
#[utoipa::path(get, path = "/api/v1/organizations/{org}/reads", tag = "vendors",
    params(("org" = String, Path), ReadsQuery),
    responses((status = 200, body = Vec<ReadView>), (status = 404, body = ErrorBody)))]
async fn all_reads(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
    Params(q): Params<ReadsQuery>,
) -> ApiResult<Json<Vec<ReadView>>> {
    Ok(Json(
        app.vendor_reads(&caller, &org, None, q.limit.unwrap_or(100))
            .await?,
    ))
}

/// The vendor reads that served a person, newest first (viewer).
#[utoipa::path(get, path = "/api/v1/organizations/{org}/entities/{id}/reads", tag = "vendors",
    params(("org" = String, Path), ("id" = String, Path), ReadsQuery),
    responses((status = 200, body = Vec<ReadView>), (status = 404, body = ErrorBody)))]
async fn person_reads(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
    Params(q): Params<ReadsQuery>,
) -> ApiResult<Json<Vec<ReadView>>> {
    Ok(Json(
        app.reads_of_person(&caller, &org, &id, q.limit.unwrap_or(100))
            .await?,
    ))
}

/// Purge a person's data across the hub (admin), leaving a record of it.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/entities/{id}/purge", tag = "vendors",
    params(("org" = String, Path), ("id" = String, Path)), request_body = PurgeRequest,
    responses((status = 200, body = PurgeView), (status = 404, body = ErrorBody)))]
async fn purge(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
    Body(p): Body<PurgeRequest>,
) -> ApiResult<Json<PurgeView>> {
    Ok(Json(app.purge_person(&caller, &org, &id, &p.reason).await?))
}

/// The purges of the organization, newest first (viewer).
#[utoipa::path(get, path = "/api/v1/organizations/{org}/purges", tag = "vendors",
    params(("org" = String, Path)),
    responses((status = 200, body = Vec<PurgeView>), (status = 404, body = ErrorBody)))]
async fn purges(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
) -> ApiResult<Json<Vec<PurgeView>>> {
    Ok(Json(app.purges(&caller, &org).await?))
}

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_vendors, create_vendor))
        .routes(routes!(revoke_vendor))
        .routes(routes!(put_agreement, delete_agreement))
        .routes(routes!(client_reads))
        .routes(routes!(all_reads))
        .routes(routes!(person_reads))
        .routes(routes!(purge))
        .routes(routes!(purges))
}
