//! The REST API under /api/v1: thin handlers that take JSON, call the
//! application layer (`crate::app`) and answer JSON. Each handler carries its
//! OpenAPI description, from which /api/v1/openapi.json is generated.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody};
use crate::app::review::{ActionFilter, RoleCount, SelectFiltered, Selected};
use crate::app::views::*;
use crate::app::{App, Caller, EntityQuery};

/// A JSON body whose rejection is a JSON error a person can act on.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(ApiError::bad(format!(
                "the request body is not what this route takes: {}; the OpenAPI document at /api/v1/openapi.json describes it",
                e.body_text()
            ))),
        }
    }
}

/// An optional JSON body: none when the request has no body.
pub struct OptBody<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                ApiError::bad(format!(
                    "the request body cannot be read: {}",
                    e.body_text()
                ))
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptBody(None));
        }
        serde_json::from_slice(&bytes).map(|v| OptBody(Some(v))).map_err(|e| {
            ApiError::bad(format!(
                "the request body is not what this route takes: {e}; the OpenAPI document at /api/v1/openapi.json describes it"
            ))
        })
    }
}

/// Query parameters whose rejection is a JSON error.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(Params(v)),
            Err(e) => Err(ApiError::bad(format!(
                "the query parameters are not what this route takes: {}",
                e.body_text()
            ))),
        }
    }
}

/// Path parameters whose rejection is a JSON error.
pub struct Ids<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Ids<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(Ids(v)),
            Err(e) => Err(ApiError::bad(format!("bad path: {}", e.body_text()))),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct GalleryQuery {
    /// Search name, vendor and description.
    pub q: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RunsQuery {
    /// Only runs of this source.
    pub source: Option<String>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ActionsQuery {
    /// An entity kind (user, org, class, ...).
    pub kind: Option<String>,
    /// add, update or delete.
    pub action: Option<String>,
    /// student, teacher, contact or admin: users of that role.
    pub role: Option<String>,
    /// The source's id of a school: records that refer to it.
    pub school: Option<String>,
    /// Words each of which a record must contain ("first last" finds a name).
    pub q: Option<String>,
    pub offset: Option<i64>,
    /// Default 100, at most 500.
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EntitiesQuery {
    /// school, student, teacher, contact, admin, calendar, or an entity
    /// kind (org, user, class, course, enrollment, academic-session, ...).
    pub kind: String,
    /// Text the record contains.
    pub q: Option<String>,
    /// Include archived (deleted) records.
    #[serde(default)]
    pub archived: bool,
    pub offset: Option<i64>,
    /// Default 50, at most 500.
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DuplicatesQuery {
    /// open (the default) or all.
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    pub offset: Option<i64>,
    /// Default 100, at most 500.
    pub limit: Option<i64>,
}

// ---- who, organizations, gallery ---------------------------------------

/// The caller: its name and its role in each organization.
#[utoipa::path(get, path = "/api/v1/me", tag = "organizations",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(State(app): State<App>, caller: Caller) -> ApiResult<Json<Me>> {
    Ok(Json(Me {
        organizations: app.organizations(&caller).await?,
        token_id: caller.token_id,
        name: caller.name,
        platform: caller.platform,
    }))
}

/// Organizations the caller holds a role in.
#[utoipa::path(get, path = "/api/v1/organizations", tag = "organizations",
    responses((status = 200, body = Vec<OrgInfo>), (status = 401, body = ErrorBody)))]
async fn list_orgs(State(app): State<App>, caller: Caller) -> ApiResult<Json<Vec<OrgInfo>>> {
    Ok(Json(app.organizations(&caller).await?))
}

/// Create an organization (platform tokens only); the caller becomes its admin.
#[utoipa::path(post, path = "/api/v1/organizations", tag = "organizations", request_body = NewOrg,
    responses((status = 201, body = OrgInfo), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_org(
    State(app): State<App>,
    caller: Caller,
    Body(new): Body<NewOrg>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_organization(&caller, &new).await?),
    ))
}

/// One organization and the caller's role in it.
#[utoipa::path(get, path = "/api/v1/organizations/{org}", tag = "organizations",
    params(("org" = String, Path)),
    responses((status = 200, body = OrgInfo), (status = 404, body = ErrorBody)))]
async fn get_org(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
) -> ApiResult<Json<OrgInfo>> {
    Ok(Json(app.organization(&caller, &org).await?))
}

/// Rename an organization (its admins only).
#[utoipa::path(put, path = "/api/v1/organizations/{org}", tag = "organizations",
    params(("org" = String, Path)), request_body = OrgRename,
    responses((status = 200, body = OrgInfo), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn rename_org(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
    Body(new): Body<OrgRename>,
) -> ApiResult<Json<OrgInfo>> {
    Ok(Json(
        app.rename_organization(&caller, &org, &new.name).await?,
    ))
}

/// Overview counts: schools, teachers, students, classes, runs waiting, duplicates.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/overview", tag = "organizations",
    params(("org" = String, Path)),
    responses((status = 200, body = Overview), (status = 404, body = ErrorBody)))]
async fn overview(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
) -> ApiResult<Json<Overview>> {
    Ok(Json(app.overview(&caller, &org).await?))
}

/// The audit log, newest first (admin).
#[utoipa::path(get, path = "/api/v1/organizations/{org}/audit", tag = "organizations",
    params(("org" = String, Path), PageQuery),
    responses((status = 200, body = Vec<AuditView>), (status = 403, body = ErrorBody)))]
async fn audit(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
    Params(p): Params<PageQuery>,
) -> ApiResult<Json<Vec<AuditView>>> {
    Ok(Json(
        app.audit_log(&caller, &org, p.offset.unwrap_or(0), p.limit.unwrap_or(100))
            .await?,
    ))
}

/// The organization's tokens (admin); never their values.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/tokens", tag = "organizations",
    params(("org" = String, Path)),
    responses((status = 200, body = Vec<TokenView>), (status = 403, body = ErrorBody)))]
async fn list_tokens(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
) -> ApiResult<Json<Vec<TokenView>>> {
    Ok(Json(app.tokens(&caller, &org).await?))
}

/// Make a token with a role in the organization (admin). Its value is in
/// this answer only.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/tokens", tag = "organizations",
    params(("org" = String, Path)), request_body = NewToken,
    responses((status = 201, body = IssuedToken), (status = 403, body = ErrorBody)))]
async fn create_token(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
    Body(new): Body<NewToken>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_token(&caller, &org, &new).await?),
    ))
}

/// Revoke a token's role in the organization (admin).
#[utoipa::path(delete, path = "/api/v1/organizations/{org}/tokens/{id}", tag = "organizations",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
) -> ApiResult<StatusCode> {
    app.revoke_token(&caller, &org, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The gallery: every app that can be activated.
#[utoipa::path(get, path = "/api/v1/gallery", tag = "gallery", params(GalleryQuery),
    responses((status = 200, body = Vec<GalleryEntry>), (status = 401, body = ErrorBody)))]
async fn gallery(
    State(app): State<App>,
    _caller: Caller,
    Params(q): Params<GalleryQuery>,
) -> Json<Vec<GalleryEntry>> {
    Json(app.gallery(q.q.as_deref()))
}

/// One app of the gallery, with its settings schema.
#[utoipa::path(get, path = "/api/v1/gallery/{app}", tag = "gallery", params(("app" = String, Path)),
    responses((status = 200, body = GalleryEntry), (status = 404, body = ErrorBody)))]
async fn gallery_entry(
    State(app): State<App>,
    _caller: Caller,
    Ids(id): Ids<String>,
) -> ApiResult<Json<GalleryEntry>> {
    Ok(Json(app.gallery_entry(&id)?))
}

// ---- sources (integrations) --------------------------------------------

/// The integrations: type, name, source, target, state, last run.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/sources", tag = "sources",
    params(("org" = String, Path)),
    responses((status = 200, body = Vec<SourceSummary>), (status = 404, body = ErrorBody)))]
async fn list_sources(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
) -> ApiResult<Json<Vec<SourceSummary>>> {
    Ok(Json(app.sources(&caller, &org).await?))
}

/// Activate a gallery app: a new source, disabled until its setup is finished (admin).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/sources", tag = "sources",
    params(("org" = String, Path)), request_body = Activate,
    responses((status = 201, body = SourceView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn activate(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
    Body(req): Body<Activate>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(app.activate(&caller, &org, &req).await?),
    ))
}

/// A source with every wizard step's configuration; secret values never appear.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/sources/{id}", tag = "sources",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = SourceView), (status = 404, body = ErrorBody)))]
async fn get_source(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
) -> ApiResult<Json<SourceView>> {
    Ok(Json(app.source(&caller, &org, &id).await?))
}

/// Delete a source with its secrets; its runs and records stay as history (admin).
#[utoipa::path(delete, path = "/api/v1/organizations/{org}/sources/{id}", tag = "sources",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_source(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
) -> ApiResult<StatusCode> {
    app.delete_source(&caller, &org, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Step 1, Delivery Config: settings, secrets (write-only), folder, Advanced Settings (admin).
#[utoipa::path(put, path = "/api/v1/organizations/{org}/sources/{id}/delivery", tag = "sources",
    params(("org" = String, Path), ("id" = String, Path)), request_body = Delivery,
    responses((status = 200, body = SourceView), (status = 422, body = ErrorBody)))]
async fn put_delivery(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
    Body(d): Body<Delivery>,
) -> ApiResult<Json<SourceView>> {
    Ok(Json(app.delivery(&caller, &org, &id, d).await?))
}

/// Test Connection with the saved Delivery Config (admin).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/sources/{id}/test-connection", tag = "sources",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = TestResult), (status = 403, body = ErrorBody)))]
async fn test_connection(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
) -> ApiResult<Json<TestResult>> {
    Ok(Json(app.test_connection(&caller, &org, &id).await?))
}

/// Step 2, Terms of Use (admin).
#[utoipa::path(put, path = "/api/v1/organizations/{org}/sources/{id}/terms", tag = "sources",
    params(("org" = String, Path), ("id" = String, Path)), request_body = Terms,
    responses((status = 200, body = SourceView), (status = 422, body = ErrorBody)))]
async fn put_terms(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
    Body(t): Body<Terms>,
) -> ApiResult<Json<SourceView>> {
    Ok(Json(
        app.accept_terms(&caller, &org, &id, t.accepted).await?,
    ))
}

/// The schools the source offers, each with whether it is mapped (admin).
#[utoipa::path(get, path = "/api/v1/organizations/{org}/sources/{id}/schools", tag = "sources",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Vec<SchoolView>), (status = 502, body = ErrorBody)))]
async fn list_schools(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
) -> ApiResult<Json<Vec<SchoolView>>> {
    Ok(Json(app.schools(&caller, &org, &id).await?))
}

/// Step 3, Schools Mapping: `{"mode": "all"}` (Auto Mapping) or
/// `{"mode": "selected", "selected": [source school ids]}` (admin).
#[utoipa::path(put, path = "/api/v1/organizations/{org}/sources/{id}/schools", tag = "sources",
    params(("org" = String, Path), ("id" = String, Path)), request_body = Object,
    responses((status = 200, body = SourceView), (status = 422, body = ErrorBody)))]
async fn put_schools(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
    Body(v): Body<crate::config::SchoolsMapping>,
) -> ApiResult<Json<SourceView>> {
    let detail = serde_json::to_value(&v).unwrap_or_default();
    Ok(Json(
        app.update_source(&caller, &org, &id, "schools", detail, move |c, _| {
            c.schools = v;
            Ok(())
        })
        .await?,
    ))
}

macro_rules! list_step {
    ($fn:ident, $path:literal, $step:literal, $field:ident, $ty:ty, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(put, path = $path, tag = "sources",
            params(("org" = String, Path), ("id" = String, Path)), request_body = Vec<Object>,
            responses((status = 200, body = SourceView), (status = 422, body = ErrorBody)))]
        async fn $fn(
            State(app): State<App>,
            caller: Caller,
            Ids((org, id)): Ids<(String, String)>,
            Body(v): Body<$ty>,
        ) -> ApiResult<Json<SourceView>> {
            let detail = serde_json::to_value(&v).unwrap_or_default();
            Ok(Json(
                app.update_source(&caller, &org, &id, $step, detail, move |c, _| {
                    c.$field = v;
                    Ok(())
                })
                .await?,
            ))
        }
    };
}

list_step!(
    put_mapping,
    "/api/v1/organizations/{org}/sources/{id}/mapping",
    "mapping",
    mapping,
    Vec<crate::config::AttributeMapping>,
    "Step 4, Attributes Mapping: `[{kind, target, fn, ...}]` (admin)."
);
list_step!(
    put_requirements,
    "/api/v1/organizations/{org}/sources/{id}/requirements",
    "requirements",
    requirements,
    Vec<crate::config::Requirement>,
    "Step 5, Data Requirements: `[{kind, attribute, action: report|skip}]` (admin)."
);
list_step!(
    put_filters,
    "/api/v1/organizations/{org}/sources/{id}/filters",
    "filters",
    filters,
    Vec<crate::config::Filter>,
    "Step 6, Filter Rules: `[{kind, template, ...}]`, templates or custom conditions (admin)."
);
list_step!(
    put_rules,
    "/api/v1/organizations/{org}/sources/{id}/rules",
    "rules",
    rules,
    Vec<crate::config::RuleRef>,
    "Step 6, rule components attached to the source: `[{plugin, settings}]` (admin)."
);
list_step!(
    put_domains,
    "/api/v1/organizations/{org}/sources/{id}/domains",
    "domains",
    domains,
    Vec<crate::config::Domain>,
    "Step 7, Domains of Uniqueness in priority order: `[{kind, attributes, mode}]` (admin)."
);
list_step!(
    put_master_fields,
    "/api/v1/organizations/{org}/sources/{id}/master-fields",
    "master_fields",
    master_fields,
    Vec<crate::config::MasterField>,
    "Step 8, Master Fields: `[{kind, attribute, source}]` (admin)."
);

/// Step 9, Sync Schedule: `{every: hour|day|week, at, weekday, expires, mode}` or null (admin).
#[utoipa::path(put, path = "/api/v1/organizations/{org}/sources/{id}/schedule", tag = "sources",
    params(("org" = String, Path), ("id" = String, Path)), request_body = Object,
    responses((status = 200, body = SourceView), (status = 422, body = ErrorBody)))]
async fn put_schedule(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
    Body(v): Body<Option<crate::config::Schedule>>,
) -> ApiResult<Json<SourceView>> {
    if let Some(s) = &v {
        app.check_schedule(&caller, &org, s).await?;
    }
    let detail = serde_json::to_value(&v).unwrap_or_default();
    Ok(Json(
        app.update_source(&caller, &org, &id, "schedule", detail, move |c, _| {
            c.schedule = v;
            Ok(())
        })
        .await?,
    ))
}

/// Export settings of an Export or Sync integration: `{kinds, filters}`:
/// the kinds sent (empty: all its connector exports) and filter rules
/// (the import's templates and conditions) a record must pass to go
/// (admin).
#[utoipa::path(put, path = "/api/v1/organizations/{org}/sources/{id}/export", tag = "sources",
    params(("org" = String, Path), ("id" = String, Path)), request_body = Object,
    responses((status = 200, body = SourceView), (status = 422, body = ErrorBody)))]
async fn put_export(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
    Body(v): Body<crate::config::ExportSettings>,
) -> ApiResult<Json<SourceView>> {
    let detail = serde_json::to_value(&v).unwrap_or_default();
    Ok(Json(
        app.update_source(&caller, &org, &id, "export", detail, move |c, _| {
            c.export = v;
            Ok(())
        })
        .await?,
    ))
}

/// Step 10, Done: check the setup is complete and enable the source (admin).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/sources/{id}/finish", tag = "sources",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = SourceView), (status = 422, body = ErrorBody)))]
async fn finish(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
) -> ApiResult<Json<SourceView>> {
    Ok(Json(app.finish(&caller, &org, &id).await?))
}

/// Enable a source (admin).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/sources/{id}/enable", tag = "sources",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = SourceView), (status = 422, body = ErrorBody)))]
async fn enable(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
) -> ApiResult<Json<SourceView>> {
    Ok(Json(app.set_enabled(&caller, &org, &id, true).await?))
}

/// Disable a source: it runs no more until enabled (admin).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/sources/{id}/disable", tag = "sources",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = SourceView), (status = 403, body = ErrorBody)))]
async fn disable(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
) -> ApiResult<Json<SourceView>> {
    Ok(Json(app.set_enabled(&caller, &org, &id, false).await?))
}

// ---- runs ----------------------------------------------------------------

/// Start an import (operator): answers at once with the run id; the run
/// goes on in the background.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/sources/{id}/runs", tag = "runs",
    params(("org" = String, Path), ("id" = String, Path)), request_body = StartRun,
    responses((status = 202, body = RunStarted), (status = 409, body = ErrorBody)))]
async fn start_run(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
    OptBody(body): OptBody<StartRun>,
) -> ApiResult<impl IntoResponse> {
    let mode = body.and_then(|b| b.mode);
    let run_id = app.start_run(&caller, &org, &id, mode.as_deref()).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RunStarted {
            url: format!("/api/v1/organizations/{org}/runs/{run_id}"),
            run_id,
        }),
    ))
}

/// Start an export to a destination (operator): an Export or Sync
/// integration is sent what the hub holds and it does not have yet.
/// Answers at once with the run id; the export goes on in the background.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/sources/{id}/exports", tag = "runs",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 202, body = RunStarted), (status = 409, body = ErrorBody)))]
async fn start_export(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let run_id = app.start_export(&caller, &org, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RunStarted {
            url: format!("/api/v1/organizations/{org}/runs/{run_id}"),
            run_id,
        }),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct ExportsQuery {
    /// rejected (the default), retry, applied or deleted.
    state: Option<String>,
    limit: Option<i64>,
}

/// What a destination holds of the hub in one state: by default what it
/// rejected, with its reasons, newest first.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/sources/{id}/exports", tag = "runs",
    params(("org" = String, Path), ("id" = String, Path), ExportsQuery),
    responses((status = 200, body = Vec<serde_json::Value>), (status = 404, body = ErrorBody)))]
async fn list_exports(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
    Query(q): Query<ExportsQuery>,
) -> ApiResult<Json<Vec<crate::app::views::ExportState>>> {
    let state = q.state.as_deref().unwrap_or("rejected");
    Ok(Json(
        app.exports(&caller, &org, &id, state, q.limit.unwrap_or(100))
            .await?,
    ))
}

/// Who runs what: the organization's runs waiting for a worker and running
/// (with the worker), the queue's jobs not yet taken, and its workers.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/jobs", tag = "runs",
    params(("org" = String, Path)),
    responses((status = 200, body = crate::app::jobs::JobsView), (status = 404, body = ErrorBody)))]
async fn jobs(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
) -> ApiResult<Json<crate::app::jobs::JobsView>> {
    Ok(Json(app.jobs(&caller, &org).await?))
}

/// The organization's settings: its time zone (schedules and digests keep
/// it) and where notifications go.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/settings", tag = "organizations",
    params(("org" = String, Path)),
    responses((status = 200, body = crate::app::OrgSettingsView), (status = 404, body = ErrorBody)))]
async fn get_settings(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
) -> ApiResult<Json<crate::app::OrgSettingsView>> {
    Ok(Json(app.org_settings(&caller, &org).await?))
}

/// Save the organization's settings: `{time_zone, notifications:
/// {webhook_url, email, digest, digest_at, expiry_warning_days},
/// webhook_secret}`; each part left out stays (admin). The webhook secret
/// is kept sealed and never returned.
#[utoipa::path(put, path = "/api/v1/organizations/{org}/settings", tag = "organizations",
    params(("org" = String, Path)), request_body = Object,
    responses((status = 200, body = crate::app::OrgSettingsView), (status = 422, body = ErrorBody)))]
async fn put_settings(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
    Body(update): Body<crate::app::OrgSettingsUpdate>,
) -> ApiResult<Json<crate::app::OrgSettingsView>> {
    Ok(Json(app.set_org_settings(&caller, &org, update).await?))
}

/// The notifications sent (or to send), newest first, with each channel's state.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/notifications", tag = "organizations",
    params(("org" = String, Path)),
    responses((status = 200, body = Vec<Object>), (status = 404, body = ErrorBody)))]
async fn notifications(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
) -> ApiResult<Json<Vec<crate::app::jobs::Notification>>> {
    Ok(Json(app.notification_log(&caller, &org, 100).await?))
}

/// History of runs, newest first.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/runs", tag = "runs",
    params(("org" = String, Path), RunsQuery),
    responses((status = 200, body = Vec<RunSummary>), (status = 404, body = ErrorBody)))]
async fn list_runs(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
    Params(q): Params<RunsQuery>,
) -> ApiResult<Json<Vec<RunSummary>>> {
    Ok(Json(
        app.runs(&caller, &org, q.source.as_deref(), q.limit.unwrap_or(50))
            .await?,
    ))
}

/// A run: status, live progress while it reads, then its report.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/runs/{run}", tag = "runs",
    params(("org" = String, Path), ("run" = String, Path)),
    responses((status = 200, body = RunView), (status = 404, body = ErrorBody)))]
async fn get_run(
    State(app): State<App>,
    caller: Caller,
    Ids((org, run)): Ids<(String, String)>,
) -> ApiResult<Json<RunView>> {
    Ok(Json(app.run(&caller, &org, &run).await?))
}

/// A run's actions, by kind and action, a page at a time.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/runs/{run}/actions", tag = "runs",
    params(("org" = String, Path), ("run" = String, Path), ActionsQuery),
    responses((status = 200, body = ActionPage), (status = 404, body = ErrorBody)))]
async fn actions(
    State(app): State<App>,
    caller: Caller,
    Ids((org, run)): Ids<(String, String)>,
    Params(q): Params<ActionsQuery>,
) -> ApiResult<Json<ActionPage>> {
    let filter = ActionFilter {
        kind: q.kind,
        action: q.action,
        role: q.role,
        school: q.school,
        q: q.q,
    };
    Ok(Json(
        app.review_actions(
            &caller,
            &org,
            &run,
            &filter,
            q.offset.unwrap_or(0),
            q.limit.unwrap_or(100),
        )
        .await?,
    ))
}

/// Leave out, put back, or apply only every action a filter shows, at once (operator).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/runs/{run}/selection", tag = "runs",
    params(("org" = String, Path), ("run" = String, Path)), request_body = SelectFiltered,
    responses((status = 200, body = Selected), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn selection(
    State(app): State<App>,
    caller: Caller,
    Ids((org, run)): Ids<(String, String)>,
    Body(b): Body<SelectFiltered>,
) -> ApiResult<Json<Selected>> {
    Ok(Json(
        app.select_filtered(&caller, &org, &run, &b.filter, b.select)
            .await?,
    ))
}

/// A run's users by role (students, teachers, contacts, admins), each by action.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/runs/{run}/roles", tag = "runs",
    params(("org" = String, Path), ("run" = String, Path)),
    responses((status = 200, body = Vec<RoleCount>), (status = 404, body = ErrorBody)))]
async fn roles(
    State(app): State<App>,
    caller: Caller,
    Ids((org, run)): Ids<(String, String)>,
) -> ApiResult<Json<Vec<RoleCount>>> {
    Ok(Json(app.role_split(&caller, &org, &run).await?))
}

/// Leave actions of a waiting run out, or put them back in (operator).
#[utoipa::path(put, path = "/api/v1/organizations/{org}/runs/{run}/exclusions", tag = "runs",
    params(("org" = String, Path), ("run" = String, Path)), request_body = Exclusions,
    responses((status = 204), (status = 409, body = ErrorBody)))]
async fn exclusions(
    State(app): State<App>,
    caller: Caller,
    Ids((org, run)): Ids<(String, String)>,
    Body(x): Body<Exclusions>,
) -> ApiResult<StatusCode> {
    app.set_exclusions(&caller, &org, &run, &x).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Approve a waiting run, all of it or all but the excluded actions (operator).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/runs/{run}/approve", tag = "runs",
    params(("org" = String, Path), ("run" = String, Path)), request_body = Approve,
    responses((status = 200, body = Approved), (status = 409, body = ErrorBody)))]
async fn approve(
    State(app): State<App>,
    caller: Caller,
    Ids((org, run)): Ids<(String, String)>,
    OptBody(body): OptBody<Approve>,
) -> ApiResult<Json<Approved>> {
    let exclude = body.map(|b| b.exclude).unwrap_or_default();
    Ok(Json(app.approve(&caller, &org, &run, &exclude).await?))
}

/// Discard a waiting run: nothing of it is applied (operator).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/runs/{run}/discard", tag = "runs",
    params(("org" = String, Path), ("run" = String, Path)),
    responses((status = 200, body = RunSummary), (status = 409, body = ErrorBody)))]
async fn discard(
    State(app): State<App>,
    caller: Caller,
    Ids((org, run)): Ids<(String, String)>,
) -> ApiResult<Json<RunSummary>> {
    Ok(Json(app.discard(&caller, &org, &run).await?))
}

// ---- records and duplicates ----------------------------------------------

/// Records of a kind, with a text filter.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/entities", tag = "records",
    params(("org" = String, Path), EntitiesQuery),
    responses((status = 200, body = EntityPage), (status = 422, body = ErrorBody)))]
async fn entities(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
    Params(q): Params<EntitiesQuery>,
) -> ApiResult<Json<EntityPage>> {
    Ok(Json(
        app.entities(
            &caller,
            &org,
            &EntityQuery {
                kind: q.kind,
                q: q.q,
                archived: q.archived,
                offset: q.offset.unwrap_or(0),
                limit: q.limit.unwrap_or(50),
            },
        )
        .await?,
    ))
}

/// A record: its values, the source of each, its source records and its history.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/entities/{id}", tag = "records",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = EntityDetail), (status = 404, body = ErrorBody)))]
async fn entity(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
) -> ApiResult<Json<EntityDetail>> {
    Ok(Json(app.entity(&caller, &org, &id).await?))
}

/// The duplicates queue.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/duplicates", tag = "records",
    params(("org" = String, Path), DuplicatesQuery),
    responses((status = 200, body = Vec<DuplicateView>), (status = 404, body = ErrorBody)))]
async fn duplicates(
    State(app): State<App>,
    caller: Caller,
    Ids(org): Ids<String>,
    Params(q): Params<DuplicatesQuery>,
) -> ApiResult<Json<Vec<DuplicateView>>> {
    let open = match q.status.as_deref() {
        None | Some("open") => true,
        Some("all") => false,
        Some(other) => {
            return Err(ApiError::bad(format!(
                "`{other}` is not a status filter: use open or all"
            )));
        }
    };
    Ok(Json(app.duplicates(&caller, &org, open).await?))
}

/// Resolve a duplicate pair: choose the primary, copy fields, then delete,
/// ignore or keep the secondary as new (operator).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/duplicates/{id}/resolve", tag = "records",
    params(("org" = String, Path), ("id" = String, Path)), request_body = Resolve,
    responses((status = 200, body = DuplicateView), (status = 409, body = ErrorBody)))]
async fn resolve(
    State(app): State<App>,
    caller: Caller,
    Ids((org, id)): Ids<(String, String)>,
    Body(r): Body<Resolve>,
) -> ApiResult<Json<DuplicateView>> {
    Ok(Json(app.resolve(&caller, &org, &id, &r).await?))
}

/// Every REST route, with its OpenAPI description.
pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list_orgs, create_org))
        .routes(routes!(get_org, rename_org))
        .routes(routes!(overview))
        .routes(routes!(audit))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(gallery))
        .routes(routes!(gallery_entry))
        .routes(routes!(list_sources, activate))
        .routes(routes!(get_source, delete_source))
        .routes(routes!(put_delivery))
        .routes(routes!(test_connection))
        .routes(routes!(put_terms))
        .routes(routes!(list_schools, put_schools))
        .routes(routes!(put_mapping))
        .routes(routes!(put_requirements))
        .routes(routes!(put_filters))
        .routes(routes!(put_rules))
        .routes(routes!(put_domains))
        .routes(routes!(put_master_fields))
        .routes(routes!(put_schedule))
        .routes(routes!(put_export))
        .routes(routes!(finish))
        .routes(routes!(enable))
        .routes(routes!(disable))
        .routes(routes!(start_run))
        .routes(routes!(start_export, list_exports))
        .routes(routes!(list_runs))
        .routes(routes!(jobs))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(notifications))
        .routes(routes!(get_run))
        .routes(routes!(actions))
        .routes(routes!(exclusions))
        .routes(routes!(selection))
        .routes(routes!(roles))
        .routes(routes!(approve))
        .routes(routes!(discard))
        .routes(routes!(entities))
        .routes(routes!(entity))
        .routes(routes!(duplicates))
        .routes(routes!(resolve))
}
