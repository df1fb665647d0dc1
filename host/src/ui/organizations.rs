//! Organizations in the admin UI: the list of the caller's organizations
//! (choose or switch), a new organization (the host's operator, a platform
//! token, only), and an organization's own page (its name, its API tokens).
//! Each organization has its own integrations, records, runs and tokens: the
//! pages here only choose which one the others show.
//!
//! The work is `App::create_organization`, `App::rename_organization` and
//! the token operations, with their role checks; this module reads forms and
//! shows, and keeps what was typed when a save is refused. It never reads
//! the store.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};

use super::layout::{self, Nav, page, when};
use super::pages::{ctx, query};
use super::{Form, UiError, UiResult, html_page, see_other};
use crate::app::views::{IssuedToken, NewOrg, NewToken};
use crate::app::{App, AppError, Role, Session};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/orgs", get(list).post(create))
        .route("/orgs/{org}/organization", get(show).post(rename))
        .route("/orgs/{org}/tokens", post(new_token))
        .route("/orgs/{org}/tokens/{id}/revoke", post(revoke))
}

/// An error the form can show beside what was typed (a refusal of what was
/// entered); anything else is an error page.
fn form_error(e: AppError) -> Result<String, UiError> {
    match e {
        AppError::Invalid(m) | AppError::Conflict(m) | AppError::Forbidden(m) => Ok(m),
        other => Err(UiError(other)),
    }
}

fn refused(markup: Markup) -> Response {
    let mut r = html_page(markup);
    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    r
}

async fn list_page(
    app: &App,
    session: &Session,
    typed: Option<(&NewOrg, &str)>,
) -> UiResult<Markup> {
    let orgs = app.organizations(&session.caller).await?;
    let platform = session.caller.platform;
    let (id, name) = typed
        .map(|(n, _)| (n.id.as_str(), n.name.as_str()))
        .unwrap_or(("", ""));
    Ok(layout::bare(
        "Organizations",
        html! {
            div.panel.orgs {
                h1 { "Choose organization" }
                p.muted { "Each organization (a district) has its own integrations, records, runs and tokens. Signed in as " strong { (session.caller.name) } "." }
                @if orgs.is_empty() {
                    p.empty { "This token holds no role in any organization yet." }
                } @else {
                    ul.orglist {
                        @for o in &orgs {
                            li { a href={ "/orgs/" (o.id) } { (o.name) } " " span.muted { "(" (o.id) ", " (o.role.as_str()) ")" } }
                        }
                    }
                }
            }
            div.panel {
                h2 { "New organization" }
                @if platform {
                    @if let Some((_, e)) = typed { div.callout.bad role="alert" { (e) } }
                    form method="post" action="/orgs" {
                        (layout::csrf_field(&session.csrf))
                        div.field {
                            label for="org_name" { "Name" }
                            input #org_name type="text" name="name" value=(name) placeholder="Springfield Public Schools";
                        }
                        div.field {
                            label for="org_id" { "Id (lowercase letters, digits, - or _; it is in every address)" }
                            input #org_id type="text" name="id" value=(id) placeholder="springfield";
                        }
                        div.buttons { button.primary type="submit" { "Create organization" } }
                    }
                } @else {
                    p.hint { "Only the host's operator (the token printed on first start, or another platform token) creates organizations. You manage the organizations you are an admin of." }
                }
                p { a href="/" { "Back to Homeroom" } }
            }
        },
    ))
}

async fn list(State(app): State<App>, session: Session) -> UiResult {
    Ok(html_page(list_page(&app, &session, None).await?))
}

async fn create(State(app): State<App>, session: Session, form: Form) -> UiResult {
    let new = NewOrg {
        id: form.text("id"),
        name: form.text("name"),
    };
    match app.create_organization(&session.caller, &new).await {
        Ok(org) => Ok(see_other(&format!("/orgs/{}?done=org_created", org.id))),
        Err(e) => {
            let message = form_error(e)?;
            Ok(refused(
                list_page(&app, &session, Some((&new, &message))).await?,
            ))
        }
    }
}

async fn show_page(
    app: &App,
    session: Session,
    org: &str,
    flash: Option<&str>,
    typed_name: Option<(&str, &str)>,
    issued: Option<&IssuedToken>,
    token_error: Option<(&str, &str)>,
) -> UiResult<Markup> {
    let ctx = ctx(app, session, org).await?;
    let admin = ctx.can(Role::Admin);
    let tokens = if admin {
        app.tokens(&ctx.session.caller, org).await?
    } else {
        Vec::new()
    };
    let base = ctx.base();
    let name_value = typed_name.map(|(n, _)| n).unwrap_or(&ctx.org.name);
    let body = html! {
        div.pagehead { div { h1 { "Organization" } p.lead { "This organization's name and the API tokens that reach it. Its integrations, records and runs are its own." } } }
        form.panel method="post" action={ (base) "/organization" } {
            (ctx.csrf())
            h2 { "Name" }
            @if let Some((_, e)) = typed_name { div.callout.bad role="alert" { (e) } }
            div.field { label for="org_name" { "Name (headings and reports show it)" }
                input #org_name type="text" name="name" value=(name_value) disabled[!admin]; }
            p.hint { "Id: " code { (ctx.org.id) } " (it does not change)." }
            @if admin { div.buttons { button type="submit" { "Save name" } } }
        }
        @if admin {
            div.panel {
                h2 { "API tokens" }
                @if let Some(t) = issued {
                    div.callout.ok role="status" {
                        strong { "Token “" (t.name) "” (" (t.role.as_str()) ") was made. Copy it now: it is shown this once." }
                        pre.token { code #issued-token { (t.token) } }
                    }
                }
                @if tokens.is_empty() { p.empty { "No token of this organization yet." } } @else {
                    div.tablewrap { table {
                        thead { tr { th { "Name" } th { "Role" } th { "Made by" } th { "Made" } th {} } }
                        tbody { @for t in &tokens { tr {
                            td { (t.name) } td { (t.role) } td { (t.created_by) } td { (when(&t.created_at)) }
                            td { @if t.id == ctx.session.caller.token_id { span.muted { "(yours)" } } @else {
                                form method="post" action={ (base) "/tokens/" (t.id) "/revoke" } data-confirm="Revoke this token? Whoever uses it is signed out." {
                                    (ctx.csrf()) button.link type="submit" { "Revoke" } } } }
                        } } }
                    } }
                }
                h3 { "New token" }
                @if let Some((_, e)) = token_error { div.callout.bad role="alert" { (e) } }
                form method="post" action={ (base) "/tokens" } {
                    (ctx.csrf())
                    div.row {
                        div.field { label for="token_name" { "Name (the person or system that will use it)" }
                            input #token_name type="text" name="name" value=(token_error.map(|(n, _)| n).unwrap_or("")); }
                        div.field { label for="token_role" { "Role" }
                            select #token_role name="role" {
                                option value="viewer" { "viewer: reads everything, changes nothing" }
                                option value="operator" { "operator: also runs and approves" }
                                option value="admin" { "admin: also configures and manages tokens" }
                            }
                        }
                    }
                    div.buttons { button type="submit" { "Make token" } }
                }
            }
        }
    };
    Ok(page(&ctx, Nav::Organization, "Organization", flash, body))
}

async fn show(
    State(app): State<App>,
    session: Session,
    Path(org): Path<String>,
    RawQuery(q): RawQuery,
) -> UiResult {
    let q = query(q);
    Ok(html_page(
        show_page(&app, session, &org, q.get("done"), None, None, None).await?,
    ))
}

async fn rename(
    State(app): State<App>,
    session: Session,
    Path(org): Path<String>,
    form: Form,
) -> UiResult {
    let name = form.text("name");
    match app.rename_organization(&session.caller, &org, &name).await {
        Ok(_) => Ok(see_other(&format!("/orgs/{org}/organization?done=saved"))),
        Err(e) => {
            let message = form_error(e)?;
            Ok(refused(
                show_page(
                    &app,
                    session,
                    &org,
                    None,
                    Some((&name, &message)),
                    None,
                    None,
                )
                .await?,
            ))
        }
    }
}

async fn new_token(
    State(app): State<App>,
    session: Session,
    Path(org): Path<String>,
    form: Form,
) -> UiResult {
    let name = form.text("name");
    let Some(role) = Role::parse(&form.text("role")) else {
        return Err(AppError::invalid("choose a role: viewer, operator or admin").into());
    };
    let new = NewToken {
        name: name.clone(),
        role,
    };
    match app.create_token(&session.caller, &org, &new).await {
        Ok(issued) => Ok(html_page(
            show_page(&app, session, &org, None, None, Some(&issued), None).await?,
        )),
        Err(e) => {
            let message = form_error(e)?;
            Ok(refused(
                show_page(
                    &app,
                    session,
                    &org,
                    None,
                    None,
                    None,
                    Some((&name, &message)),
                )
                .await?,
            ))
        }
    }
}

async fn revoke(
    State(app): State<App>,
    session: Session,
    Path((org, id)): Path<(String, String)>,
) -> UiResult {
    app.revoke_token(&session.caller, &org, &id).await?;
    Ok(see_other(&format!("/orgs/{org}/organization?done=token_revoked")).into_response())
}
