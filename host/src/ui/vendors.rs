//! The Vendors pages: the ed-tech vendors that read the district through
//! the hub's OneRoster API. Their clients (a secret shown once), each
//! client's data-sharing agreement (schools, kinds of record, fields, last
//! day) and its read log; on a person's record, the vendor reads that
//! served them and the purge of their data. The work is `app::provider`;
//! these pages only read forms and show.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use maud::{Markup, html};

use super::layout::{Ctx, Nav, page, when};
use super::pages::{ctx, query};
use super::{Form, UiResult, html_page, see_other};
use crate::app::provider::{AgreementTerms, Scope, TOKEN_PATH};
use crate::app::vendors::{ReadView, VendorClientView};
use crate::app::{App, AppError, EntityQuery, Role, Session};
use crate::model::oneroster::{self, Version};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/orgs/{org}/vendors", get(list).post(create))
        .route("/orgs/{org}/vendors/{id}", get(client))
        .route("/orgs/{org}/vendors/{id}/agreement", post(save_agreement))
        .route(
            "/orgs/{org}/vendors/{id}/agreement/revoke",
            post(revoke_agreement),
        )
        .route("/orgs/{org}/vendors/{id}/revoke", post(revoke))
        .route("/orgs/{org}/records/{id}/purge", post(purge))
}

/// The collections an agreement grants, as the form lists them.
const KINDS: [(&str, &str); 10] = [
    ("orgs", "Schools and the district"),
    ("academicSessions", "Terms and grading periods"),
    ("courses", "Courses"),
    ("classes", "Classes"),
    ("users", "People (students, teachers, contacts, staff)"),
    ("enrollments", "Enrollments"),
    ("demographics", "Demographics"),
    ("categories", "Gradebook categories"),
    ("lineItems", "Assignments (line items)"),
    ("results", "Grades (results)"),
];

fn kind_of(path: &str) -> Option<crate::bindings::types::EntityKind> {
    oneroster::COLLECTIONS
        .iter()
        .find(|c| c.path == path && c.narrow.is_none())
        .map(|c| c.kind)
}

fn reads_table(reads: &[ReadView], names: &dyn Fn(&str) -> String) -> Markup {
    html! {
        @if reads.is_empty() { p.empty { "No reads yet." } } @else {
            div.tablewrap { table {
                thead { tr { th { "When" } th { "Vendor" } th { "Endpoint" } th { "Query" } th { "Served" } th { "Answer" } } }
                tbody { @for r in reads { tr {
                    td { (when(&r.at)) } td { (names(&r.client_id)) } td.mono { small { (r.endpoint) } }
                    td.mono { small { (r.query) } } td { (r.served) }
                    td { @if r.status == 200 { span.badge.ok { "200" } } @else { span.badge.bad { (r.status) } } }
                } } }
            } }
        }
    }
}

fn agreement_line(c: &VendorClientView) -> Markup {
    html! {
        @match &c.agreement {
            None => span.badge.muted { "No agreement: sees nothing" },
            Some(a) => {
                @if a.expired { span.badge.bad { "Ended " (a.terms.expires_on) } }
                @else { span.badge.ok { "Until " (a.terms.expires_on) } }
                " " (if a.terms.all_schools { "every school".to_string() } else { format!("{} school(s)", a.terms.schools.len()) })
                " · " (a.terms.kinds.join(", "))
            }
        }
    }
}

async fn list_page(
    app: &App,
    ctx: &Ctx,
    org: &str,
    done: Option<&str>,
    fresh: Option<Markup>,
) -> UiResult {
    let clients = app.vendor_clients(&ctx.session.caller, org).await?;
    let reads = app.vendor_reads(&ctx.session.caller, org, None, 50).await?;
    let purges = app.purges(&ctx.session.caller, org).await?;
    let admin = ctx.can(Role::Admin);
    let name_of = |id: &str| {
        clients
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let base = ctx.base();
    let body = html! {
        div.pagehead { div { h1 { "Vendors" } p.lead { "Ed-tech vendors read the district's approved roster through the hub's own OneRoster API, each under a data-sharing agreement: the schools, kinds of record and fields it sees, until its last day. Every read is logged." } } }
        @if let Some(f) = fresh { (f) }
        div.panel {
            h2 { "For the vendor" }
            p { "Token URL (OAuth 2.0 client credentials): " code { (TOKEN_PATH) } }
            p { "OneRoster 1.2: " code { "/ims/oneroster/rostering/v1p2" } " and " code { "/ims/oneroster/gradebook/v1p2" } " · OneRoster 1.1: " code { "/ims/oneroster/v1p1" } }
        }
        div.panel {
            h2 { "Clients" }
            @if clients.is_empty() { p.empty { "No vendor reads this district yet." } } @else {
                div.tablewrap { table {
                    thead { tr { th { "Vendor" } th { "Client id" } th { "Agreement" } th { "State" } } }
                    tbody { @for c in &clients { tr {
                        td { a href={ (base) "/vendors/" (c.id) } { (c.name) } }
                        td.mono { small { (c.id) } }
                        td { (agreement_line(c)) }
                        td { @if c.revoked_at.is_some() { span.badge.muted { "Revoked" } } @else { span.badge.ok { "Live" } } }
                    } } }
                } }
            }
        }
        @if admin {
            form.panel method="post" action={ (base) "/vendors" } {
                (ctx.csrf())
                h2 { "Add a vendor client" }
                div.field { label for="name" { "Vendor or product" } input #name name="name" type="text" maxlength="120" placeholder="Lumen Touch gradebook"; }
                fieldset { legend { "Scopes it may ask for" }
                    @for s in Scope::ALL { label.check { input type="checkbox" name="scope" value=(s.name()) checked; span { code { (s.name()) } } } }
                }
                label.check { input type="checkbox" name="oauth1" value="1"; span { "It signs its requests with OAuth 1.0a (a OneRoster 1.1 client)" } }
                div.buttons { button type="submit" { "Make the client" } }
                p.hint { "The client sees nothing until you grant it an agreement on its page." }
            }
        }
        div.panel { h2 { "Recent reads" } (reads_table(&reads, &name_of)) }
        div.panel {
            h2 { "Purges" }
            p.hint { "A person's data is purged from their record page. The record of a purge keeps nothing of them but the hub's id." }
            @if purges.is_empty() { p.empty { "None." } } @else {
                div.tablewrap { table {
                    thead { tr { th { "When" } th { "Record" } th { "By" } th { "Why" } th { "Removed" } } }
                    tbody { @for p in &purges { tr {
                        td { (when(&p.purged_at)) } td.mono { small { (p.entity_id) } } td { (p.purged_by) } td { (p.reason) }
                        td { small { (p.removed.get("entities").and_then(|n| n.as_u64()).unwrap_or(0)) " records" } }
                    } } }
                } }
            }
        }
    };
    Ok(html_page(page(ctx, Nav::Vendors, "Vendors", done, body)))
}

async fn list(
    State(app): State<App>,
    session: Session,
    Path(org): Path<String>,
    RawQuery(q): RawQuery,
) -> UiResult {
    let q = query(q);
    let ctx = ctx(&app, session, &org).await?;
    list_page(&app, &ctx, &org, q.get("done"), None).await
}

/// Make a client and show its secret on the answer itself: it is never in
/// a URL and never shown again.
async fn create(
    State(app): State<App>,
    session: Session,
    Path(org): Path<String>,
    form: Form,
) -> UiResult {
    let ctx = ctx(&app, session, &org).await?;
    let scopes = form.all("scope");
    let made = app
        .create_vendor_client(
            &ctx.session.caller,
            &org,
            &form.text("name"),
            Some(scopes),
            form.opt("oauth1").is_some(),
        )
        .await?;
    let fresh = html! {
        div.panel.notice role="status" {
            h2 { "Client made for " (made.client.name) }
            p { "Give the vendor these now: the secret is shown this once, and the hub keeps only its hash." }
            div.field { label for="client_id" { "Client id" } input #client_id type="text" readonly value=(made.client.id); }
            div.field { label for="client_secret" { "Client secret" } input #client_secret type="text" readonly value=(made.client_secret); }
            p { a href={ (ctx.base()) "/vendors/" (made.client.id) } { "Grant its data-sharing agreement" } }
        }
    };
    list_page(&app, &ctx, &org, None, Some(fresh)).await
}

async fn client(
    State(app): State<App>,
    session: Session,
    Path((org, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> UiResult {
    let q = query(q);
    let ctx = ctx(&app, session, &org).await?;
    let clients = app.vendor_clients(&ctx.session.caller, &org).await?;
    let c = clients
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| AppError::NotFound(format!("no vendor client {id}")))?;
    let reads = app
        .vendor_reads(&ctx.session.caller, &org, Some(&id), 200)
        .await?;
    let schools = app
        .entities(
            &ctx.session.caller,
            &org,
            &EntityQuery {
                kind: "schools".into(),
                limit: 500,
                ..Default::default()
            },
        )
        .await?;
    let admin = ctx.can(Role::Admin) && c.revoked_at.is_none();
    let terms = c.agreement.as_ref().map(|a| a.terms.clone());
    let granted = |k: &str| {
        terms
            .as_ref()
            .is_some_and(|t| t.kinds.iter().any(|x| x == k))
    };
    let fields_of = |k: &str| -> String {
        terms
            .as_ref()
            .and_then(|t| t.attributes.get(k))
            .map(|f| {
                f.iter()
                    .filter(|f| !oneroster::ALWAYS.contains(&f.as_str()))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let base = ctx.base();
    let name = c.name.clone();
    let body = html! {
        p.crumbs { a href={ (base) "/vendors" } { "Vendors" } " / " (c.name) }
        div.pagehead { div {
            h1 { (c.name) " " @if c.revoked_at.is_some() { span.badge.muted { "Revoked" } } }
            p.lead.mono { (c.id) " · scopes " (c.scopes.join(" ")) }
        } }
        div.panel { h2 { "Data-sharing agreement" } p { (agreement_line(c)) } }
        @if admin {
            form.panel method="post" action={ (base) "/vendors/" (c.id) "/agreement" } {
                (ctx.csrf())
                h2 { @if c.agreement.is_some() { "Change the agreement" } @else { "Grant an agreement" } }
                fieldset { legend { "Schools it sees" }
                    label.check { input type="checkbox" name="all_schools" value="1" checked[terms.as_ref().is_some_and(|t| t.all_schools)]; span { "Every school" } }
                    @for s in &schools.entities {
                        label.check { input type="checkbox" name="school" value=(s.id) checked[terms.as_ref().is_some_and(|t| t.schools.contains(&s.id))]; span { (s.label) } }
                    }
                }
                fieldset { legend { "Kinds of record and the fields it sees (empty: every field; sourcedId, status and dateLastModified always)" }
                    @for (k, label) in KINDS {
                        div.row {
                            label.check { input type="checkbox" name="kind" value=(k) checked[granted(k)]; span { (label) } }
                            @if let Some(kind) = kind_of(k) {
                                div.field { label for={ "fields-" (k) } { "Fields of " (k) }
                                    input id={ "fields-" (k) } type="text" name={ "fields." (k) } value=(fields_of(k))
                                        placeholder=(oneroster::fields(kind, Version::V1p2).iter().skip(3).take(6).cloned().collect::<Vec<_>>().join(", ")); }
                            }
                        }
                    }
                }
                div.field { label for="expires_on" { "Last day it holds" }
                    input #expires_on type="date" name="expires_on" value=(terms.as_ref().map(|t| t.expires_on.clone()).unwrap_or_default()); }
                div.buttons { button type="submit" { "Save the agreement" } }
            }
            div.buttons {
                @if c.agreement.is_some() {
                    form method="post" action={ (base) "/vendors/" (c.id) "/agreement/revoke" } { (ctx.csrf()) button.danger type="submit" { "Revoke the agreement" } }
                }
                form method="post" action={ (base) "/vendors/" (c.id) "/revoke" } { (ctx.csrf()) button.danger type="submit" { "Revoke the client" } }
            }
        }
        div.panel { h2 { "Reads" } (reads_table(&reads, &|_| name.clone())) }
    };
    Ok(html_page(page(
        &ctx,
        Nav::Vendors,
        &c.name,
        q.get("done"),
        body,
    )))
}

async fn save_agreement(
    State(app): State<App>,
    session: Session,
    Path((org, id)): Path<(String, String)>,
    form: Form,
) -> UiResult {
    let kinds = form.all("kind");
    let attributes = kinds
        .iter()
        .filter_map(|k| {
            let list: Vec<String> = form
                .text(&format!("fields.{k}"))
                .split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect();
            (!list.is_empty()).then(|| (k.clone(), list))
        })
        .collect();
    let terms = AgreementTerms {
        all_schools: form.opt("all_schools").is_some(),
        schools: form.all("school"),
        kinds,
        attributes,
        expires_on: form.text("expires_on"),
    };
    app.grant_agreement(&session.caller, &org, &id, terms)
        .await?;
    Ok(see_other(&format!("/orgs/{org}/vendors/{id}?done=saved")))
}

async fn revoke_agreement(
    State(app): State<App>,
    session: Session,
    Path((org, id)): Path<(String, String)>,
) -> UiResult {
    app.revoke_agreement(&session.caller, &org, &id).await?;
    Ok(see_other(&format!("/orgs/{org}/vendors/{id}?done=revoked")))
}

async fn revoke(
    State(app): State<App>,
    session: Session,
    Path((org, id)): Path<(String, String)>,
) -> UiResult {
    app.revoke_vendor_client(&session.caller, &org, &id).await?;
    Ok(see_other(&format!("/orgs/{org}/vendors?done=revoked")))
}

async fn purge(
    State(app): State<App>,
    session: Session,
    Path((org, id)): Path<(String, String)>,
    form: Form,
) -> UiResult {
    app.purge_person(&session.caller, &org, &id, &form.text("reason"))
        .await?;
    Ok(see_other(&format!("/orgs/{org}/vendors?done=purged")))
}

/// What a person's record page shows of vendors: the reads that served
/// them and, for an admin, the purge of their data.
pub async fn person_panel(app: &App, ctx: &Ctx, org: &str, id: &str) -> UiResult<Markup> {
    let reads = app
        .reads_of_person(&ctx.session.caller, org, id, 100)
        .await?;
    let clients = app.vendor_clients(&ctx.session.caller, org).await?;
    let name_of = |c: &str| {
        clients
            .iter()
            .find(|x| x.id == c)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| c.to_string())
    };
    Ok(html! {
        h2 { "Vendor reads of this person" }
        (reads_table(&reads, &name_of))
        @if ctx.can(Role::Admin) {
            form.panel method="post" action={ (ctx.base()) "/records/" (id) "/purge" } {
                (ctx.csrf())
                h2 { "Purge this person's data" }
                p.hint { "Removes the person, their demographics, enrollments and grades, and everything the hub keeps of them (history, past runs' changes, what was sent to destinations), leaving only a record that they were purged, by whom, when and why. Remove them from the source system too, or its next run brings them back." }
                div.field { label for="reason" { "Why (the request this answers)" } input #reason name="reason" type="text" maxlength="500"; }
                div.buttons { button.danger type="submit" { "Purge" } }
            }
        }
    })
}
