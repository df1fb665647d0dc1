//! The admin UI's pages outside the wizard: overview, gallery,
//! integrations, runs (live progress, report, action lists with approval),
//! records, duplicates and the audit log.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use maud::{Markup, html};
use serde_json::Value as Json;

use super::layout::{self, Ctx, Nav, action_label, kind_label, page, status_badge, when};
use super::{Form, UiResult, html_page, see_other};
use crate::app::AppError;
use crate::app::Role;
use crate::app::Session;
use crate::app::review::{ActionFilter, Selection};
use crate::app::views::{Activate, Exclusions, Resolve, RunSummary};
use crate::app::{App, EntityQuery};
use crate::model::change::Action;

/// Query-string fields.
pub fn query(q: Option<String>) -> Form {
    Form(
        q.map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default(),
    )
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The references in a value: `(kind, source id)` of a reference or a list of them.
fn refs(v: &Json) -> Vec<(String, String)> {
    let one = |r: &Json| {
        Some((
            r.get("kind")?.as_str()?.to_string(),
            r.get("id")?.as_str()?.to_string(),
        ))
    };
    match v {
        Json::Object(_) => one(v).into_iter().collect(),
        Json::Array(items) => {
            let all: Vec<_> = items.iter().filter_map(one).collect();
            if all.len() == items.len() {
                all
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

/// A value, with references to schools shown by name.
fn value_with_orgs(v: &Json, orgs: &std::collections::HashMap<String, (String, String)>) -> String {
    let r = refs(v);
    if !r.is_empty() && r.iter().all(|(k, _)| k == "org") {
        return r
            .iter()
            .map(|(_, id)| {
                orgs.get(id)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_else(|| id.clone())
            })
            .collect::<Vec<_>>()
            .join(", ");
    }
    layout::value_text(v)
}

/// The page context: the organization (404 when the caller has no role in it).
pub async fn ctx(app: &App, session: Session, org: &str) -> UiResult<Ctx> {
    let orgs = app.organizations(&session.caller).await?;
    let org = orgs
        .iter()
        .find(|o| o.id == org)
        .cloned()
        .ok_or_else(|| AppError::NotFound(format!("no organization `{org}`")))?;
    Ok(Ctx { session, org, orgs })
}

pub fn routes() -> Router<App> {
    Router::new()
        .route("/orgs/{org}", get(overview))
        .route("/orgs/{org}/gallery", get(gallery))
        .route("/orgs/{org}/gallery/{app}/activate", post(activate))
        .route("/orgs/{org}/integrations", get(integrations))
        .route("/orgs/{org}/sources/{id}/run", post(run_source))
        .route("/orgs/{org}/sources/{id}/rejected", get(rejected))
        .route("/orgs/{org}/sources/{id}/enable", post(enable))
        .route("/orgs/{org}/sources/{id}/disable", post(disable))
        .route(
            "/orgs/{org}/sources/{id}/delete",
            get(delete_confirm).post(delete),
        )
        .route("/orgs/{org}/runs", get(runs))
        .route("/orgs/{org}/runs/{run}", get(run_page))
        .route("/orgs/{org}/runs/{run}/progress", get(run_progress))
        .route(
            "/orgs/{org}/runs/{run}/actions",
            get(actions_page).post(actions_post),
        )
        .route("/orgs/{org}/runs/{run}/approve", post(approve))
        .route("/orgs/{org}/runs/{run}/discard", post(discard))
        .route("/orgs/{org}/records", get(records))
        .route("/orgs/{org}/records/{id}", get(record))
        .route("/orgs/{org}/duplicates", get(duplicates))
        .route("/orgs/{org}/duplicates/{id}", get(duplicate).post(resolve))
        .route("/orgs/{org}/audit", get(audit))
}

fn runs_table(ctx: &Ctx, runs: &[RunSummary]) -> Markup {
    let base = ctx.base();
    html! {
        @if runs.is_empty() {
            div.tablewrap { p.empty { "No runs yet. Start one from " a href={ (base) "/integrations" } { "Integrations" } "." } }
        } @else {
            div.tablewrap {
                table {
                    thead { tr {
                        th { "Started" } th { "Source" } th { "Mode" } th { "Status" }
                        th.num { "Changes" } th.num { "Warnings" } th.num { "Errors" } th { "By" } th { "Worker" }
                    } }
                    tbody {
                        @for r in runs {
                            tr {
                                td { a href={ (base) "/runs/" (r.id) } { (when(&r.started_at)) } }
                                td { (r.source_name.as_deref().unwrap_or(&r.source_id)) br; span.muted.mono { (r.source_id) } }
                                td { (r.mode) " · " (r.trigger) }
                                td { (status_badge(&r.status)) }
                                td.num { (r.changes) }
                                td.num { (r.warnings) }
                                td.num { (r.errors) }
                                td.muted { (r.triggered_by) @if let Some(due) = &r.due_at { br; "due " (when(due)) } }
                                td.muted {
                                    @match (&r.worker_id, r.status.as_str()) {
                                        (_, "queued") => { "waiting" @if r.coalesced > 0 { " (" (r.coalesced + 1) " due times)" } }
                                        (Some(w), _) => { code { (w) } }
                                        (None, _) => { "—" }
                                    }
                                    @if r.attempt > 1 { br; "attempt " (r.attempt) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn overview(
    State(app): State<App>,
    session: Session,
    Path(org): Path<String>,
    RawQuery(q): RawQuery,
) -> UiResult {
    let q = query(q);
    let ctx = ctx(&app, session, &org).await?;
    let o = app.overview(&ctx.session.caller, &org).await?;
    let base = ctx.base();
    let stat = |n: i64, label: &str, kind: &str| {
        html! { a.stat href={ (base) "/records?kind=" (kind) } { span.n { (n) } span.l { (label) } } }
    };
    let body = html! {
        div.pagehead {
            div { h1 { "Overview" } p.lead { (o.organization.name) } }
            div.actions {
                a.button href={ (base) "/gallery" } { "Add an app" }
                a.button.primary href={ (base) "/integrations" } { "Integrations" }
            }
        }
        @if o.waiting_runs > 0 {
            div.callout.warn { strong { (o.waiting_runs) " run(s) wait for approval." } "Review them in " a href={ (base) "/runs" } { "Runs" } "; nothing of a waiting run is visible until it is approved." }
        }
        @if o.open_duplicates > 0 {
            div.callout.info { strong { (o.open_duplicates) " possible duplicate(s) to resolve." } a href={ (base) "/duplicates" } { "Review duplicates" } }
        }
        @if o.sources == 0 {
            div.callout.info { strong { "No integration yet." } "Open the " a href={ (base) "/gallery" } { "gallery" } ", activate your SIS app and follow the setup steps." }
        }
        div.stats {
            (stat(o.schools, "Schools", "school"))
            (stat(o.teachers, "Teachers", "teacher"))
            (stat(o.students, "Students", "student"))
            (stat(o.contacts, "Contacts", "contact"))
            (stat(o.classes, "Classes", "class"))
            (stat(o.enrollments, "Enrollments", "enrollment"))
        }
        h2 { "Recent runs" }
        (runs_table(&ctx, &o.recent_runs))
        @if !o.kinds.is_empty() {
            h2 { "Records by kind" }
            div.tablewrap { table {
                thead { tr { th { "Kind" } th.num { "Active records" } } }
                tbody { @for k in &o.kinds {
                    tr { td { a href={ (base) "/records?kind=" (k.kind) } { (kind_label(&k.kind)) } } td.num { (k.count) } }
                } }
            } }
        }
    };
    Ok(html_page(page(
        &ctx,
        Nav::Overview,
        "Overview",
        q.get("done"),
        body,
    )))
}

async fn gallery(
    State(app): State<App>,
    session: Session,
    Path(org): Path<String>,
    RawQuery(q): RawQuery,
) -> UiResult {
    let q = query(q);
    let ctx = ctx(&app, session, &org).await?;
    let search = q.text("q");
    let entries = app.gallery(Some(&search));
    let active = app.sources(&ctx.session.caller, &org).await?;
    let base = ctx.base();
    let admin = ctx.can(Role::Admin);
    let body = html! {
        div.pagehead {
            div { h1 { "Application gallery" } p.lead { "Activate an app to connect a system to Homeroom, then follow its setup steps." } }
        }
        form.search method="get" role="search" {
            input #q type="search" name="q" value=(search) placeholder="Search apps by name, vendor or what they sync" aria-label="Search the gallery";
            button type="submit" { "Search" }
        }
        @if entries.is_empty() {
            div.panel { p.empty { "No app matches “" (search) "”." } }
        }
        ul.cards {
            @for e in &entries {
                li.card {
                    h2 { (e.name) }
                    p.meta { (e.vendor) " · v" (e.version) }
                    p.desc { (e.description) }
                    ul.chips aria-label="What it syncs" {
                        @for k in &e.entities { li { (k.kind) } }
                    }
                    @if e.allowed_hosts.is_empty() {
                        p.meta.hosts { "Reaches no host on the network." }
                    } @else {
                        p.meta.hosts { "May reach:" }
                        ul.hosts aria-label={ "Hosts " (e.name) " may reach" } {
                            @for h in &e.allowed_hosts {
                                li {
                                    @if let Some(label) = &h.setting_label { "the host of the " (label) } @else { code { (h.pattern) } }
                                    @if h.credentials { " · gets the credentials (at that exact address, over https)" } @else { " · no credentials" }
                                }
                            }
                        }
                    }
                    @let mine: Vec<_> = active.iter().filter(|s| s.app == e.id).collect();
                    @if !mine.is_empty() {
                        p.active {
                            span.badge.ok { "Active" } " as "
                            @for (i, s) in mine.iter().enumerate() {
                                @if i > 0 { ", " }
                                a href={ (base) "/sources/" (s.id) "/setup/delivery" } { (s.name) }
                            }
                        }
                    }
                    @if admin && mine.is_empty() {
                        form method="post" action={ (base) "/gallery/" (e.id) "/activate" } {
                            (ctx.csrf())
                            button.primary type="submit" aria-label={ "Activate " (e.name) } { "Activate" }
                        }
                    } @else if admin {
                        form.another method="post" action={ (base) "/gallery/" (e.id) "/activate" } {
                            (ctx.csrf())
                            label for={ "name-" (e.id) } { "A second one, named apart" }
                            input id={ "name-" (e.id) } name="name" required placeholder={ (e.name) " (second district feed)" };
                            button type="submit" aria-label={ "Add another " (e.name) } { "Add another" }
                        }
                    } @else {
                        p.muted { small { "An admin activates apps." } }
                    }
                }
            }
        }
    };
    Ok(html_page(page(&ctx, Nav::Gallery, "Gallery", None, body)))
}

async fn activate(
    State(app): State<App>,
    session: Session,
    Path((org, id)): Path<(String, String)>,
    form: Form,
) -> UiResult {
    let view = app
        .activate(
            &session.caller,
            &org,
            &Activate {
                app: id,
                id: None,
                name: form.opt("name"),
            },
        )
        .await?;
    Ok(see_other(&format!(
        "/orgs/{org}/sources/{}/setup/delivery?done=activated",
        view.summary.id
    )))
}

async fn integrations(
    State(app): State<App>,
    session: Session,
    Path(org): Path<String>,
    RawQuery(q): RawQuery,
) -> UiResult {
    let q = query(q);
    let ctx = ctx(&app, session, &org).await?;
    let sources = app.sources(&ctx.session.caller, &org).await?;
    let base = ctx.base();
    let admin = ctx.can(Role::Admin);
    let operator = ctx.can(Role::Operator);
    let body = html! {
        div.pagehead {
            div { h1 { "Integrations" } p.lead { "Each integration brings one system's data into Homeroom, sends the hub's data to an app, or both." } }
            @if admin { div.actions { a.button.primary href={ (base) "/gallery" } { "+ New from the gallery" } } }
        }
        @if sources.is_empty() {
            div.panel { p.empty { "No integration yet. " a href={ (base) "/gallery" } { "Open the gallery" } " to add one." } }
        } @else {
            div.tablewrap { table {
                thead { tr { th { "Type" } th { "Name" } th { "Source" } th { "Target" } th { "State" } th { "Last run" } th.num { span hidden { "Actions" } } } }
                tbody {
                    @for s in &sources {
                        tr {
                            td { (sync_mode_label(&s.kind)) }
                            td {
                                @if admin { a href={ (base) "/sources/" (s.id) "/setup/delivery" } { (s.name) } } @else { (s.name) }
                                br; small.muted.mono { (s.id) }
                            }
                            // An export's (and a 2-way sync's) source is the hub.
                            td { @if s.kind == "import" { (s.app_name) } @else { "Homeroom" } }
                            td { (s.target) }
                            td { (status_badge(&s.state)) }
                            td {
                                @if let Some(r) = &s.last_run {
                                    a href={ (base) "/runs/" (r.id) } { (status_badge(&r.status)) } br;
                                    small.muted { (when(&r.started_at)) }
                                } @else { span.muted { "Never" } }
                            }
                            td.actions {
                                @if operator && s.state == "enabled" {
                                    form method="post" action={ (base) "/sources/" (s.id) "/run" } {
                                        (ctx.csrf())
                                        input type="hidden" name="mode" value="full";
                                        @let verb = run_label(&s.kind);
                                        button.small.primary type="submit" aria-label={ (verb) " of " (s.name) } { (verb) }
                                    }
                                    " "
                                }
                                @if admin {
                                    a.button.small href={ (base) "/sources/" (s.id) "/setup/delivery" } aria-label={ "Edit " (s.name) } { "Edit" }
                                    " "
                                    @if s.state == "enabled" {
                                        form method="post" action={ (base) "/sources/" (s.id) "/disable" } {
                                            (ctx.csrf())
                                            button.small type="submit" aria-label={ "Disable " (s.name) } { "Disable" }
                                        }
                                    } @else if s.state == "disabled" {
                                        form method="post" action={ (base) "/sources/" (s.id) "/enable" } {
                                            (ctx.csrf())
                                            button.small type="submit" aria-label={ "Enable " (s.name) } { "Enable" }
                                        }
                                    }
                                    " "
                                    a.button.small href={ (base) "/sources/" (s.id) "/delete" } aria-label={ "Delete " (s.name) } { "Delete" }
                                }
                            }
                        }
                    }
                }
            } }
        }
    };
    Ok(html_page(page(
        &ctx,
        Nav::Integrations,
        "Integrations",
        q.get("done"),
        body,
    )))
}

async fn run_source(
    State(app): State<App>,
    session: Session,
    Path((org, id)): Path<(String, String)>,
    form: Form,
) -> UiResult {
    let mode = form.opt("mode");
    let run = app
        .start_run(&session.caller, &org, &id, mode.as_deref())
        .await?;
    Ok(see_other(&format!("/orgs/{org}/runs/{run}")))
}

async fn enable(
    State(app): State<App>,
    session: Session,
    Path((org, id)): Path<(String, String)>,
) -> UiResult {
    app.set_enabled(&session.caller, &org, &id, true).await?;
    Ok(see_other(&format!("/orgs/{org}/integrations?done=enabled")))
}

async fn disable(
    State(app): State<App>,
    session: Session,
    Path((org, id)): Path<(String, String)>,
) -> UiResult {
    app.set_enabled(&session.caller, &org, &id, false).await?;
    Ok(see_other(&format!(
        "/orgs/{org}/integrations?done=disabled"
    )))
}

async fn delete_confirm(
    State(app): State<App>,
    session: Session,
    Path((org, id)): Path<(String, String)>,
) -> UiResult {
    let ctx = ctx(&app, session, &org).await?;
    ctx.session.caller.require(&org, Role::Admin)?;
    let s = app.source(&ctx.session.caller, &org, &id).await?;
    let base = ctx.base();
    let body = html! {
        p.crumbs { a href={ (base) "/integrations" } { "Integrations" } " / " (s.summary.name) }
        div.panel {
            h1 { "Delete " (s.summary.name) "?" }
            p { "The integration, its settings and its stored secrets are removed. Its runs and the records it brought stay as history; records are not deleted." }
            form method="post" {
                (ctx.csrf())
                div.buttons {
                    button.danger type="submit" { "Delete integration" }
                    a.button href={ (base) "/integrations" } { "Cancel" }
                }
            }
        }
    };
    Ok(html_page(page(
        &ctx,
        Nav::Integrations,
        "Delete integration",
        None,
        body,
    )))
}

async fn delete(
    State(app): State<App>,
    session: Session,
    Path((org, id)): Path<(String, String)>,
) -> UiResult {
    app.delete_source(&session.caller, &org, &id).await?;
    Ok(see_other(&format!("/orgs/{org}/integrations?done=deleted")))
}

async fn runs(
    State(app): State<App>,
    session: Session,
    Path(org): Path<String>,
    RawQuery(q): RawQuery,
) -> UiResult {
    let q = query(q);
    let ctx = ctx(&app, session, &org).await?;
    let source = q.opt("source");
    let list = app
        .runs(&ctx.session.caller, &org, source.as_deref(), 200)
        .await?;
    let sources = app.sources(&ctx.session.caller, &org).await?;
    let body = html! {
        div.pagehead { div { h1 { "Runs" } p.lead { "Every import, newest first: who or what started it, its changes, warnings and errors." } } }
        form.search method="get" {
            select #source name="source" aria-label="Show runs of" {
                option value="" { "All sources" }
                @for s in &sources {
                    option value=(s.id) selected[source.as_deref() == Some(s.id.as_str())] { (s.name) }
                }
            }
            button type="submit" { "Show" }
        }
        (runs_table(&ctx, &list))
    };
    Ok(html_page(page(
        &ctx,
        Nav::Runs,
        "Runs",
        q.get("done"),
        body,
    )))
}

async fn run_progress(
    State(app): State<App>,
    session: Session,
    Path((org, run)): Path<(String, String)>,
) -> UiResult {
    let view = app.run(&session.caller, &org, &run).await?;
    let p = view.progress.unwrap_or_default();
    Ok(axum::Json(serde_json::json!({
        "status": view.summary.status, "done": p.done, "total": p.total, "read": p.read, "waiting": p.waiting,
    }))
    .into_response())
}

async fn run_page(
    State(app): State<App>,
    session: Session,
    Path((org, run_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> UiResult {
    let q = query(q);
    let ctx = ctx(&app, session, &org).await?;
    let run = app.run(&ctx.session.caller, &org, &run_id).await?;
    let s = &run.summary;
    let all_issues = q.get("issues") == Some("all");
    let shown = if all_issues { 1000 } else { 20 };
    let base = ctx.base();
    let running = s.status == "running" || s.status == "queued";
    let waiting = run.waiting;
    let excluded = app
        .excluded_actions(&ctx.session.caller, &org, &run_id)
        .await?;
    // An export's issues name the hub's records; an import's, the source's.
    let export = s.mode == "export";
    let roles = if !export && run.report.counts.contains_key("user") {
        app.role_split(&ctx.session.caller, &org, &run_id).await?
    } else {
        Vec::new()
    };
    let mut issue_links = std::collections::HashMap::new();
    for i in run
        .report
        .errors
        .iter()
        .take(shown)
        .chain(run.report.warnings.iter().take(shown))
    {
        if export {
            if !i.source_id.is_empty() {
                issue_links.insert((i.kind.clone(), i.source_id.clone()), i.source_id.clone());
            }
            continue;
        }
        if let Ok(Some(e)) = app
            .record_of(
                &ctx.session.caller,
                &org,
                &s.source_id,
                &i.kind,
                &i.source_id,
            )
            .await
        {
            issue_links.insert((i.kind.clone(), i.source_id.clone()), e.id);
        }
    }
    let skipped_kind = q.get("skipped").filter(|k| !k.is_empty());
    let skips: Vec<&crate::model::report::Issue> = run
        .report
        .skips
        .iter()
        .filter(|i| skipped_kind.is_none_or(|k| i.kind == k))
        .collect();
    let issue_row = |i: &crate::model::report::Issue| {
        html! {
            tr {
                td { (i.kind) }
                td.mono {
                    @if let Some(id) = issue_links.get(&(i.kind.clone(), i.source_id.clone())) {
                        a href={ (base) "/records/" (id) } { (i.source_id) }
                    } @else { (i.source_id) }
                }
                td { (layout::admin_message(&i.message)) }
            }
        }
    };
    let body = html! {
        p.crumbs { a href={ (base) "/runs" } { "Runs" } " / " (s.id) }
        div.pagehead {
            div {
                h1 { @if export { "Export to " } @else { "Import from " } (s.source_name.as_deref().unwrap_or(&s.source_id)) " " (status_badge(&s.status)) }
                p.lead { (s.mode) " run, " (s.trigger) ", started by " (s.triggered_by) }
            }
            @if waiting && ctx.can(Role::Operator) {
                div.actions {
                    form method="post" action={ (base) "/runs/" (s.id) "/discard" } {
                        (ctx.csrf())
                        button.danger type="submit" data-confirm="Discard this run? Nothing of it will be applied." { "Discard" }
                    }
                    form method="post" action={ (base) "/runs/" (s.id) "/approve" } {
                        (ctx.csrf())
                        button.primary type="submit" { "Approve" @if excluded > 0 { " (" (excluded) " left out)" } }
                    }
                }
            }
        }
        @if running {
            div.panel.progress data-progress-url={ (base) "/runs/" (s.id) "/progress" } {
                @let p = run.progress.clone().unwrap_or_default();
                @if s.status == "queued" {
                    strong { "Waiting for a worker to take it" }
                    @if s.coalesced > 0 { " (" (s.coalesced + 1) " starts or due times folded into this run)" }
                } @else if let Some(why) = &p.waiting { strong { "Waiting: " (why) } } @else { strong { "Reading from the source…" } @if let Some(w) = &s.worker_id { " " span.muted { "on " code { (w) } } } }
                @if s.attempt > 1 { p.hint { "Attempt " (s.attempt) ": the worker of an earlier run of it stopped answering, so this one reads the source again." } }
                @if let Some(total) = p.total {
                    progress max=(total) value=(p.done) {}
                    @if total > 0 { " " span data-progress-share { (p.done.min(total)) " of " (total) " records of what it reads now (" (p.done.min(total) * 100 / total) "%)" @if p.read > 0 { ", " (p.read) " records read in all" } } }
                } @else { progress {} }
                span.muted data-progress-text { "This page follows the run; it shows the report when the run is over." }
                noscript { a href={ (base) "/runs/" (s.id) } { "Reload to see where it stands" } }
            }
        }
        @if let Some(f) = &s.failure {
            div.callout.bad role="alert" { strong { "The run failed; nothing was committed." } " " (layout::admin_message(f)) }
        }
        @if let (Some(h), "held") = (&s.hold_reason, s.status.as_str()) {
            div.callout.warn { strong { "Held: the changes pass this source's hold threshold." } (h) }
        }
        @if waiting && export {
            div.callout.info {
                strong { "This export waits for your approval." }
                "The report below counts what it would send. Approve sends it; Discard sends nothing. To leave records out, change the integration's export kinds or filters, then export again."
            }
        } @else if waiting {
            div.callout.info {
                strong { "This run waits for your approval." }
                "Open a count to review its actions. Uncheck an action to leave it out; Approve applies the rest. Nothing is visible to anyone until then."
            }
        }
        div.panel {
            dl.facts {
                dt { "Started" } dd { (when(&s.started_at)) }
                @if let Some(f) = &s.finished_at { dt { "Finished" } dd { (when(f)) " (" (layout::duration(&s.started_at, Some(f))) ")" } }
                @if let Some(c) = &s.committed_at { dt { "Committed" } dd { (when(c)) } }
                dt { "Changes" } dd { (s.changes) @if excluded > 0 { " · " (excluded) " left out" } }
                dt { @if export { "Warnings / rejected" } @else { "Warnings / errors" } } dd { (s.warnings) " / " (s.errors) }
                @if run.report.duplicates > 0 { dt { "Duplicates queued" } dd { a href={ (base) "/duplicates" } { (run.report.duplicates) } } }
                @if let Some(same) = &run.report.same_input_as {
                    dt { "Input" }
                    dd { "The same files as " a href={ (base) "/runs/" (same) } { "an earlier committed run" } ", byte for byte, with the same settings and rules: nothing was read again, and every record is unchanged." }
                }
                @if !run.report.not_offered.is_empty() {
                    dt { "Not offered by the source" }
                    dd { (run.report.not_offered.keys().map(|k| kind_label(k)).collect::<Vec<_>>().join(", ")) }
                }
                @if let Some(m) = &run.report.schools {
                    dt { "Schools mapped" }
                    dd { (m.matched.len()) " of " (m.matched.len() + m.unmatched.len())
                        @if !m.unmatched.is_empty() { " · not matched: " (m.unmatched.join(", ")) } }
                }
            }
        }
        @if export && !run.report.counts.is_empty() {
            h2 { "Report" }
            p.help { "What the destination was sent, kind by kind, and what became of it. Rejected changes go again once the record changes; those to retry go at the next export." }
            div.tablewrap { table {
                thead { tr {
                    th { "Kind" } th.num { "Added" } th.num { "Updated" } th.num { "Deleted" } th.num { "Unchanged" } th.num { "To retry" } th.num { "Rejected" }
                } }
                tbody {
                    @for (kind, c) in &run.report.counts {
                        tr {
                            td { (kind_label(kind)) }
                            td.num { (c.add) } td.num { (c.update) } td.num { (c.delete) } td.num { (c.unchanged) }
                            td.num { (c.retry) }
                            td.num {
                                @if c.errors > 0 {
                                    a.count-link href="#errors" aria-label={ (c.errors) " " (kind) " changes rejected" } { (c.errors) }
                                } @else { span.muted { "0" } }
                            }
                        }
                    }
                }
            } }
            p { a href={ (base) "/sources/" (s.source_id) "/rejected" } { "Everything " (s.source_id) " refuses now" } }
        }
        @if !export && !run.report.counts.is_empty() {
            h2 { "Report" }
            div.tablewrap { table {
                thead { tr {
                    th { "Kind" } th.num { "Read" } th.num { "Skipped" } th.num { "Add" } th.num { "Update" } th.num { "Delete" } th.num { "Unchanged" } th.num { "Errors" }
                } }
                tbody {
                    @for (kind, c) in &run.report.counts {
                        tr {
                            td { (kind_label(kind)) }
                            td.num { (c.read) }
                            td.num {
                                @if c.skipped > 0 {
                                    a.count-link href={ (base) "/runs/" (s.id) "?skipped=" (enc(kind)) "#skipped" }
                                        aria-label={ (c.skipped) " " (kind) " records left out" } { (c.skipped) }
                                } @else { span.muted { "0" } }
                            }
                            @for action in Action::ALL {
                                @let n = match action { Action::Add => c.add, Action::Update => c.update, Action::Delete => c.delete };
                                @let action = action.as_str();
                                td.num {
                                    @if n > 0 {
                                        a.count-link href={ (base) "/runs/" (s.id) "/actions?kind=" (enc(kind)) "&action=" (action) }
                                            aria-label={ (n) " " (action) " actions of " (kind) } { (n) }
                                    } @else { span.muted { "0" } }
                                }
                            }
                            td.num { (c.unchanged) } td.num { (c.errors) }
                        }
                    }
                }
            } }
        }
        @if !roles.is_empty() {
            h2 #roles { "Users by role" }
            p.help { "The users of this run, split by role. Open a count to review those actions, search them, and leave them out or keep them all at once." }
            div.tablewrap { table.roles {
                thead { tr { th { "Role" } th.num { "Add" } th.num { "Update" } th.num { "Delete" } } }
                tbody {
                    @for r in &roles {
                        tr {
                            td { (r.label[..1].to_uppercase()) (r.label[1..]) }
                            @for (action, n) in [("add", r.add), ("update", r.update), ("delete", r.delete)] {
                                td.num {
                                    @if n > 0 && r.role != "other" {
                                        a.count-link href={ (base) "/runs/" (s.id) "/actions?kind=user&role=" (r.role) "&action=" (action) }
                                            aria-label={ (n) " " (action) " actions of " (r.label) } { (n) }
                                    } @else if n > 0 { (n) } @else { span.muted { "0" } }
                                }
                            }
                        }
                    }
                }
            } }
        }
        @if !run.report.errors.is_empty() {
            h2 #errors { @if export { "Rejected by the destination (" } @else { "Errors (" } (run.report.errors_total) ")" }
            div.tablewrap { table {
                thead { tr { th { "Kind" } th { "Record" } th { "Message" } } }
                tbody { @for i in run.report.errors.iter().take(shown) { (issue_row(i)) } }
            } }
            @if !all_issues && run.report.errors.len() > shown {
                p { a href={ (base) "/runs/" (s.id) "?issues=all#errors" } { "Show all " (run.report.errors.len()) " kept errors" } }
            }
        }
        @if !run.report.skips.is_empty() {
            h2 #skipped { "Left out (" (run.report.skips_total) ")" }
            p.help { "Records this run did not import, each with why: schools mapping, data requirements, filter rules, rules, references to records the source did not send, ids sent twice." }
            @if let Some(kind) = skipped_kind {
                p { "Only " (kind_label(kind)) " records. " a href={ (base) "/runs/" (s.id) "#skipped" } { "Show every kind" } }
            }
            div.tablewrap { table {
                thead { tr { th { "Kind" } th { "Record" } th { "Why" } } }
                tbody { @for i in skips.iter().take(shown) { (issue_row(i)) } }
            } }
            @if !all_issues && skips.len() > shown {
                p { a href={ (base) "/runs/" (s.id) "?issues=all" (skipped_kind.map(|k| format!("&skipped={}", enc(k))).unwrap_or_default()) "#skipped" } { "Show all " (skips.len()) " kept" } }
            }
        }
        @if !run.report.warnings.is_empty() {
            h2 #warnings { "Warnings (" (run.report.warnings_total) ")" }
            div.tablewrap { table {
                thead { tr { th { "Kind" } th { "Record" } th { "Message" } } }
                tbody { @for i in run.report.warnings.iter().take(shown) { (issue_row(i)) } }
            } }
            @if !all_issues && run.report.warnings.len() > shown {
                p { a href={ (base) "/runs/" (s.id) "?issues=all#warnings" } { "Show all " (run.report.warnings.len()) " kept warnings" } }
            }
        }
    };
    Ok(html_page(page(&ctx, Nav::Runs, "Run", q.get("done"), body)))
}

const ACTIONS_PAGE: i64 = 100;

/// The filter of an action list, from its query string or its form.
fn action_filter(q: &Form) -> ActionFilter {
    ActionFilter {
        kind: q.opt("kind"),
        action: q.opt("action"),
        role: q.opt("role"),
        school: q.opt("school"),
        q: q.opt("q"),
    }
}

/// The query string of a filter (no leading `?`).
fn filter_query(f: &ActionFilter) -> String {
    [
        ("kind", &f.kind),
        ("action", &f.action),
        ("role", &f.role),
        ("school", &f.school),
        ("q", &f.q),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", enc(v.as_deref().unwrap_or(""))))
    .collect::<Vec<_>>()
    .join("&")
}

/// The roles a user list can be narrowed to: (value, label).
const ROLE_CHOICES: &[(&str, &str)] = &[
    ("student", "Students"),
    ("teacher", "Teachers"),
    ("contact", "Contacts"),
    ("admin", "Admins"),
];

async fn actions_page(
    State(app): State<App>,
    session: Session,
    Path((org, run_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> UiResult {
    let q = query(q);
    let ctx = ctx(&app, session, &org).await?;
    let filter = action_filter(&q);
    let offset = q.text("offset").parse::<i64>().unwrap_or(0).max(0);
    let run = app.run(&ctx.session.caller, &org, &run_id).await?;
    let list = app
        .review_actions(
            &ctx.session.caller,
            &org,
            &run_id,
            &filter,
            offset,
            ACTIONS_PAGE,
        )
        .await?;
    let schools = app
        .review_schools(&ctx.session.caller, &org, &run_id)
        .await?;
    let kinds: Vec<String> = run.report.counts.keys().cloned().collect();
    let base = ctx.base();
    let editable = run.waiting && ctx.can(Role::Operator);
    let committed = run.summary.status == "committed";
    let role_label = filter.role.as_deref().and_then(|r| {
        ROLE_CHOICES
            .iter()
            .find(|(v, _)| *v == r)
            .map(|(_, l)| l.to_string())
    });
    let title = format!(
        "{} of {}",
        action_label(filter.action.as_deref().unwrap_or("")),
        role_label.unwrap_or_else(|| filter
            .kind
            .as_deref()
            .map(kind_label)
            .unwrap_or_else(|| "all kinds".into()))
    );
    let fq = filter_query(&filter);
    let here = format!("{base}/runs/{run_id}/actions?{fq}");
    let narrowed = !filter.is_empty();
    let run_name = run
        .summary
        .source_name
        .clone()
        .unwrap_or_else(|| run.summary.source_id.clone());
    let body = html! {
        p.crumbs { a href={ (base) "/runs" } { "Runs" } " / " a href={ (base) "/runs/" (run_id) } { "Import from " (run_name) } " / " (title) }
        div.pagehead {
            div {
                h1 { (title) }
                p.lead { span #shown-count { (list.total) } " action(s) shown" @if list.excluded > 0 { ", " (list.excluded) " of them left out" } ". "
                    @if editable { "Narrow the list, then leave out or keep what it shows, or uncheck single actions; approve applies the rest." }
                    @else if committed { "This run is committed; unchecked actions were left out." }
                }
            }
        }
        form.search.filters method="get" action={ (base) "/runs/" (run_id) "/actions" } {
            label { "Kind "
                select name="kind" {
                    option value="" { "Any kind" }
                    @for k in &kinds { option value=(k) selected[filter.kind.as_deref() == Some(k.as_str())] { (kind_label(k)) } }
                }
            }
            label { "Action "
                select name="action" {
                    option value="" { "Any action" }
                    @for a in Action::ALL { option value=(a.as_str()) selected[filter.action.as_deref() == Some(a.as_str())] { (action_label(a.as_str())) } }
                }
            }
            label { "Role "
                select name="role" {
                    option value="" { "Any role" }
                    @for (v, l) in ROLE_CHOICES { option value=(v) selected[filter.role.as_deref() == Some(*v)] { (l) } }
                }
            }
            label { "School "
                select name="school" {
                    option value="" { "Any school" }
                    @for (id, name) in &schools { option value=(id) selected[filter.school.as_deref() == Some(id.as_str())] { (name) " (" (id) ")" } }
                }
            }
            label { "Search "
                input type="search" name="q" value=[filter.q.as_deref()] placeholder="Name, email, id…";
            }
            button type="submit" { "Filter" }
            @if narrowed { a href={ (base) "/runs/" (run_id) "/actions" } { "Clear" } }
        }
        @if editable && list.total > 0 {
            form.selectall method="post" {
                (ctx.csrf())
                @for (k, v) in [("kind", &filter.kind), ("action", &filter.action), ("role", &filter.role), ("school", &filter.school), ("q", &filter.q)] {
                    input type="hidden" name=(k) value=[v.as_deref()];
                }
                div.buttons {
                    button type="submit" name="go" value="exclude_all" { "Leave out all " (list.total) " shown" }
                    button type="submit" name="go" value="include_all" { "Keep all " (list.total) " shown" }
                    @if narrowed { button type="submit" name="go" value="only" { "Apply only these " (list.total) }}
                }
            }
        }
        form method="post" {
            (ctx.csrf())
            @for (k, v) in [("kind", &filter.kind), ("action", &filter.action), ("role", &filter.role), ("school", &filter.school), ("q", &filter.q)] {
                input type="hidden" name=(k) value=[v.as_deref()];
            }
            input type="hidden" name="offset" value=(offset);
            div.tablewrap { table {
                thead { tr { th { "Apply" } th { "Record" } th { "Source · identifier" } th { "Action" } th { "Changes" } } }
                tbody {
                    @if list.actions.is_empty() { tr { td colspan="5" { p.empty { "No actions." } } } }
                    @for a in &list.actions {
                        @let label = if a.label.trim().is_empty() { a.source_record_id.clone() } else { a.label.clone() };
                        tr.excluded[a.excluded] {
                            td {
                                input type="hidden" name="shown" value=(a.seq);
                                input type="checkbox" name="keep" value=(a.seq) id={ "keep-" (a.seq) }
                                    checked[!a.excluded] disabled[!editable]
                                    aria-label={ "Apply " (a.action) " of " (label) " (" (a.source_record_id) ")" };
                            }
                            td {
                                label for={ "keep-" (a.seq) } {
                                    @if a.action != "add" || committed {
                                        a href={ (base) "/records/" (a.entity_id) } { (label) }
                                    } @else {
                                        (label)
                                    }
                                }
                            }
                            td { (run_name) " · " span.mono { (a.source_record_id) } }
                            td { (a.action) @if a.excluded { " " span.badge.muted { "left out" } } }
                            td {
                                @if a.action == "delete" {
                                    span.muted { "Archived; it may come back if its source sends it again." }
                                } @else if a.action == "add" {
                                    @let values = a.after.as_ref().and_then(Json::as_object);
                                    @let brief: Vec<String> = ["role", "email", "grades", "type", "classCode", "identifier"].iter()
                                        .filter_map(|k| values.and_then(|v| v.get(*k)).and_then(|c| c.get("v")).map(layout::value_text))
                                        .filter(|t| !t.is_empty()).collect();
                                    span { (brief.join(" · ")) }
                                    @if let Some(d) = &a.diff {
                                        details { summary { "All values (" (d.as_object().map(|o| o.len()).unwrap_or(0)) ")" } (layout::diff_list(d)) }
                                    }
                                } @else if let Some(d) = &a.diff { (layout::diff_list(d)) }
                            }
                        }
                    }
                }
            } }
            (layout::pager(|o| format!("{here}&offset={o}"), offset, list.limit, list.total))
            @if editable {
                div.buttons {
                    button type="submit" name="go" value="save" { "Save selection" }
                    button.primary type="submit" name="go" value="approve" { "Approve run" }
                    span.spacer {}
                    a href={ (base) "/runs/" (run_id) } { "Back to the run" }
                }
            }
        }
    };
    Ok(html_page(page(
        &ctx,
        Nav::Runs,
        &title,
        q.get("done"),
        body,
    )))
}

async fn actions_post(
    State(app): State<App>,
    session: Session,
    Path((org, run_id)): Path<(String, String)>,
    form: Form,
) -> UiResult {
    let filter = action_filter(&form);
    let back = |done: &str, offset: i64| {
        see_other(&format!(
            "/orgs/{org}/runs/{run_id}/actions?{}&offset={offset}&done={done}",
            filter_query(&filter)
        ))
    };
    let select = match form.get("go") {
        Some("exclude_all") => Some(Selection::Exclude),
        Some("include_all") => Some(Selection::Include),
        Some("only") => Some(Selection::Only),
        _ => None,
    };
    if let Some(select) = select {
        app.select_filtered(&session.caller, &org, &run_id, &filter, select)
            .await?;
        return Ok(back("selection", 0));
    }
    let parse = |v: Vec<String>| -> Result<Vec<i64>, AppError> {
        v.iter()
            .map(|s| {
                s.parse::<i64>()
                    .map_err(|_| AppError::invalid(format!("{s} is not an action number")))
            })
            .collect()
    };
    let shown = parse(form.all("shown"))?;
    let keep = parse(form.all("keep"))?;
    let x = Exclusions {
        exclude: shown
            .iter()
            .copied()
            .filter(|s| !keep.contains(s))
            .collect(),
        include: shown.iter().copied().filter(|s| keep.contains(s)).collect(),
    };
    app.set_exclusions(&session.caller, &org, &run_id, &x)
        .await?;
    if form.get("go") == Some("approve") {
        app.approve(&session.caller, &org, &run_id, &[]).await?;
        return Ok(see_other(&format!(
            "/orgs/{org}/runs/{run_id}?done=approved"
        )));
    }
    Ok(back(
        "selection",
        form.text("offset").parse::<i64>().unwrap_or(0),
    ))
}

async fn approve(
    State(app): State<App>,
    session: Session,
    Path((org, run_id)): Path<(String, String)>,
) -> UiResult {
    app.approve(&session.caller, &org, &run_id, &[]).await?;
    Ok(see_other(&format!(
        "/orgs/{org}/runs/{run_id}?done=approved"
    )))
}

async fn discard(
    State(app): State<App>,
    session: Session,
    Path((org, run_id)): Path<(String, String)>,
) -> UiResult {
    app.discard(&session.caller, &org, &run_id).await?;
    Ok(see_other(&format!(
        "/orgs/{org}/runs/{run_id}?done=discarded"
    )))
}

/// The tabs of the records page: (list kind, label, columns).
const RECORD_TABS: &[(&str, &str, &[&str])] = &[
    ("school", "Schools", &["identifier", "type"]),
    ("teacher", "Teachers", &["email", "username", "orgs"]),
    ("student", "Students", &["email", "grades", "orgs"]),
    ("class", "Classes", &["classCode", "school", "course"]),
    ("course", "Courses", &["courseCode", "org"]),
    ("contact", "Contacts", &["email", "role"]),
    ("enrollment", "Enrollments", &["role", "class"]),
    (
        "academic-session",
        "Sessions",
        &["type", "startDate", "endDate"],
    ),
];

async fn records(
    State(app): State<App>,
    session: Session,
    Path(org): Path<String>,
    RawQuery(q): RawQuery,
) -> UiResult {
    let q = query(q);
    let ctx = ctx(&app, session, &org).await?;
    let kind = q.opt("kind").unwrap_or_else(|| "student".into());
    let search = q.text("q");
    let archived = q.has("archived");
    let offset = q.text("offset").parse::<i64>().unwrap_or(0).max(0);
    let limit = 50;
    let list = app
        .entities(
            &ctx.session.caller,
            &org,
            &EntityQuery {
                kind: kind.clone(),
                q: Some(search.clone()),
                archived,
                offset,
                limit,
            },
        )
        .await?;
    let columns: &[&str] = RECORD_TABS
        .iter()
        .find(|t| t.0 == kind)
        .map(|t| t.2)
        .unwrap_or(&["sourcedId"]);
    let base = ctx.base();
    let orgs = app
        .org_names(&ctx.session.caller, &org)
        .await
        .unwrap_or_default();
    let here = format!(
        "{base}/records?kind={}&q={}{}",
        enc(&kind),
        enc(&search),
        if archived { "&archived=1" } else { "" }
    );
    let title = RECORD_TABS
        .iter()
        .find(|t| t.0 == kind)
        .map(|t| t.1.to_string())
        .unwrap_or_else(|| kind_label(&kind));
    let body = html! {
        div.pagehead { div { h1 { "Records" } p.lead { "What Homeroom holds after approval, from every source." } } }
        nav.tabs aria-label="Kinds of record" {
            @for (k, label, _) in RECORD_TABS {
                a href={ (base) "/records?kind=" (k) } aria-current=[(*k == kind).then_some("page")] { (label) }
            }
        }
        form.search method="get" {
            input type="hidden" name="kind" value=(kind);
            input type="search" name="q" value=(search) aria-label={ "Search " (title) } placeholder={ "Search " (title.to_lowercase()) };
            label.check style="margin:0;align-self:center" { input type="checkbox" name="archived" value="1" checked[archived]; span { "Archived too" } }
            button type="submit" { "Filter" }
        }
        div.tablewrap { table {
            thead { tr { th { "Name" } th { "Source · identifier" } @for c in columns { th { (c) } } th { "State" } } }
            tbody {
                @if list.entities.is_empty() { tr { td colspan=(columns.len() + 3) { p.empty { "No records." } } } }
                @for e in &list.entities {
                    tr {
                        td { a href={ (base) "/records/" (e.id) } { (if e.label.is_empty() { e.id.as_str() } else { e.label.as_str() }) } }
                        td.sources {
                            @for (i, s) in e.sources.iter().enumerate() {
                                @if i > 0 { br; }
                                (s.source_name) " · " span.mono { (s.source_record_id) }
                            }
                        }
                        @for c in columns { td { (e.values.get(*c).map(|v| value_with_orgs(v, &orgs)).unwrap_or_default()) } }
                        td { @if e.active { span.badge.ok { "Active" } } @else { span.badge.muted { "Archived" } } }
                    }
                }
            }
        } }
        (layout::pager(|o| format!("{here}&offset={o}"), offset, limit, list.total))
        p.muted { (list.total) " record(s)" }
    };
    Ok(html_page(page(&ctx, Nav::Records, &title, None, body)))
}

async fn record(
    State(app): State<App>,
    session: Session,
    Path((org, id)): Path<(String, String)>,
) -> UiResult {
    let ctx = ctx(&app, session, &org).await?;
    let e = app.entity(&ctx.session.caller, &org, &id).await?;
    let base = ctx.base();
    // References resolved to the records they point at, where known.
    let mut targets = std::collections::HashMap::new();
    for a in &e.attributes {
        let Some(source) = &a.source else { continue };
        for (kind, rid) in refs(&a.value).into_iter().take(50) {
            if let Ok(Some(t)) = app
                .record_of(&ctx.session.caller, &org, source, &kind, &rid)
                .await
            {
                targets.insert((kind, rid), (t.id, t.label));
            }
        }
    }
    let vendors = if e.entity.kind == "user" {
        Some(super::vendors::person_panel(&app, &ctx, &org, &id).await?)
    } else {
        None
    };
    let label = if e.entity.label.is_empty() {
        e.entity.id.clone()
    } else {
        e.entity.label.clone()
    };
    let body = html! {
        p.crumbs { a href={ (base) "/records?kind=" (e.entity.kind) } { (kind_label(&e.entity.kind)) } " / " (label) }
        div.pagehead {
            div {
                h1 { (label) " " @if e.entity.active { span.badge.ok { "Active" } } @else { span.badge.muted { "Archived" } } }
                p.lead.mono { (e.entity.kind) " · " (e.entity.id) }
            }
        }
        h2 { "Values" }
        div.tablewrap { table {
            thead { tr { th { "Attribute" } th { "Value" } th { "From source" } } }
            tbody {
                @for a in &e.attributes {
                    tr {
                        td.mono { (a.name) }
                        td {
                            @let r = refs(&a.value);
                            @if r.is_empty() { (layout::value_text(&a.value)) }
                            @else {
                                @for (i, key) in r.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    @if let Some((tid, label)) = targets.get(key) {
                                        a href={ (base) "/records/" (tid) } { (if label.is_empty() { &key.1 } else { label }) }
                                    } @else { span.muted { (key.0) ":" (key.1) } }
                                }
                            }
                        }
                        td { (a.source.as_deref().unwrap_or("")) }
                    }
                }
            }
        } }
        h2 { "Source records" }
        div.tablewrap { table {
            thead { tr { th { "Source" } th { "Record id in the source" } th { "State" } } }
            tbody {
                @if e.sources.is_empty() { tr { td colspan="3" { p.empty { "No source feeds this record now." } } } }
                @for l in &e.sources {
                    tr { td { (l.source_id) } td.mono { (l.source_record_id) } td { @if l.active { span.badge.ok { "Active" } } @else { span.badge.muted { "Archived" } } } }
                }
            }
        } }
        @if let Some(v) = &vendors { (v) }
        h2 { "Sync history" }
        div.tablewrap { table {
            thead { tr { th { "When" } th { "Run" } th { "Action" } th { "Changes" } } }
            tbody {
                @if e.history.is_empty() { tr { td colspan="4" { p.empty { "No history." } } } }
                @for h in e.history.iter().rev() {
                    tr {
                        td { (when(&h.at)) }
                        td.mono {
                            @if let Some(who) = h.run_id.strip_prefix("resolve:") { "duplicate resolved by " (who) }
                            @else { a href={ (base) "/runs/" (h.run_id) } { small { (h.run_id) } } }
                        }
                        td { (h.action) }
                        td { @if let Some(d) = &h.diff { (layout::diff_list(d)) } }
                    }
                }
            }
        } }
    };
    Ok(html_page(page(&ctx, Nav::Records, &label, None, body)))
}

async fn duplicates(
    State(app): State<App>,
    session: Session,
    Path(org): Path<String>,
    RawQuery(q): RawQuery,
) -> UiResult {
    let q = query(q);
    let ctx = ctx(&app, session, &org).await?;
    let all = q.get("status") == Some("all");
    let list = app.duplicates(&ctx.session.caller, &org, !all).await?;
    let base = ctx.base();
    let body = html! {
        div.pagehead { div { h1 { "Duplicates" } p.lead { "Pairs a manual domain of uniqueness matched. Choose the primary record, take fields from the other, then delete, ignore or keep it as new." } } }
        nav.tabs {
            a href={ (base) "/duplicates" } aria-current=[(!all).then_some("page")] { "Open" }
            a href={ (base) "/duplicates?status=all" } aria-current=[all.then_some("page")] { "All" }
        }
        div.tablewrap { table {
            thead { tr { th { "Kind" } th { "Matched by" } th { "Primary" } th { "Secondary" } th { "Status" } th {} } }
            tbody {
                @if list.is_empty() { tr { td colspan="6" { p.empty { "No duplicates to resolve." } } } }
                @for d in &list {
                    tr {
                        td { (d.kind) } td.mono { (d.domain) }
                        td { (d.primary.label) } td { (d.secondary.label) }
                        td { (status_badge(&d.status)) }
                        td.actions { a.button.small href={ (base) "/duplicates/" (d.id) } { @if d.status == "open" { "Resolve" } @else { "View" } } }
                    }
                }
            }
        } }
    };
    Ok(html_page(page(
        &ctx,
        Nav::Duplicates,
        "Duplicates",
        q.get("done"),
        body,
    )))
}

async fn duplicate(
    State(app): State<App>,
    session: Session,
    Path((org, id)): Path<(String, String)>,
) -> UiResult {
    let ctx = ctx(&app, session, &org).await?;
    let d = app
        .duplicates(&ctx.session.caller, &org, false)
        .await?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| AppError::NotFound(format!("no duplicate pair `{id}`")))?;
    let base = ctx.base();
    let open = d.status == "open" && ctx.can(Role::Operator);
    let mut attrs: Vec<&String> = d
        .primary
        .values
        .keys()
        .chain(d.secondary.values.keys())
        .collect();
    attrs.sort();
    attrs.dedup();
    let body = html! {
        p.crumbs { a href={ (base) "/duplicates" } { "Duplicates" } " / " (d.primary.label) }
        div.pagehead { div { h1 { "Possible duplicate " (status_badge(&d.status)) } p.lead { (d.kind) " records matched by " span.mono { (d.domain) } } } }
        form method="post" {
            (ctx.csrf())
            div.tablewrap { table {
                thead { tr {
                    th { "Attribute" }
                    th { label.check { input type="radio" name="primary" value="listed" checked disabled[!open]; span { "Record A is primary" } } a href={ (base) "/records/" (d.primary.id) } { "Open A" } }
                    th { label.check { input type="radio" name="primary" value="other" disabled[!open]; span { "Record B is primary" } } a href={ (base) "/records/" (d.secondary.id) } { "Open B" } }
                    th { "Take the other's value" }
                } }
                tbody {
                    @for a in &attrs {
                        @let pa = d.primary.values.get(*a).map(layout::value_text).unwrap_or_default();
                        @let pb = d.secondary.values.get(*a).map(layout::value_text).unwrap_or_default();
                        tr {
                            td.mono { (a) }
                            td { (pa) }
                            td { (pb) }
                            td { @if pa != pb && open {
                                label.check { input type="checkbox" name="copy" value=(a); span { "Copy into the primary" } }
                            } }
                        }
                    }
                }
            } }
            @if open {
                div.buttons {
                    button.danger type="submit" name="resolution" value="delete" { "Delete the secondary" }
                    button type="submit" name="resolution" value="ignore" { "Ignore" }
                    button.primary type="submit" name="resolution" value="keep-as-new" { "Create as new" }
                }
                p.muted { small { "Delete archives the secondary (its source may bring it back). Ignore keeps both and never asks again. Create as new keeps the secondary as a separate record." } }
            }
        }
    };
    Ok(html_page(page(
        &ctx,
        Nav::Duplicates,
        "Duplicate",
        None,
        body,
    )))
}

async fn resolve(
    State(app): State<App>,
    session: Session,
    Path((org, id)): Path<(String, String)>,
    form: Form,
) -> UiResult {
    let r = Resolve {
        resolution: form.text("resolution"),
        swap: form.get("primary") == Some("other"),
        copy: form.all("copy"),
    };
    app.resolve(&session.caller, &org, &id, &r).await?;
    Ok(see_other(&format!("/orgs/{org}/duplicates?done=resolved")))
}

async fn audit(
    State(app): State<App>,
    session: Session,
    Path(org): Path<String>,
    RawQuery(q): RawQuery,
) -> UiResult {
    let q = query(q);
    let ctx = ctx(&app, session, &org).await?;
    let offset = q.text("offset").parse::<i64>().unwrap_or(0).max(0);
    let rows = app
        .audit_log(&ctx.session.caller, &org, offset, 100)
        .await?;
    let base = ctx.base();
    let body = html! {
        div.pagehead { div { h1 { "Audit log" } p.lead { "Every change made through the UI or the API: who, what, when. Secret values are never recorded." } } }
        div.tablewrap { table {
            thead { tr { th { "When" } th { "Who" } th { "What" } th { "On" } th { "Detail" } } }
            tbody {
                @if rows.is_empty() { tr { td colspan="5" { p.empty { "Nothing yet." } } } }
                @for a in &rows {
                    tr {
                        td { (when(&a.at)) } td { (a.actor) } td.mono { (a.action) } td.mono { (a.target) }
                        td.mono { small { (a.detail.to_string()) } }
                    }
                }
            }
        } }
        @if rows.len() == 100 { p { a href={ (base) "/audit?offset=" (offset + 100) } { "Older entries →" } } }
    };
    Ok(html_page(page(&ctx, Nav::Audit, "Audit log", None, body)))
}

/// What an integration's sync mode is called in the list.
fn sync_mode_label(mode: &str) -> &'static str {
    match mode {
        "export" => "Export",
        "sync" => "2-way sync",
        _ => "Import",
    }
}

/// What running an integration does, by its sync mode.
fn run_label(mode: &str) -> &'static str {
    match mode {
        "export" => "Run export",
        "sync" => "Run sync",
        _ => "Run import",
    }
}

/// What a destination refuses now, each record with the destination's reason.
async fn rejected(
    State(app): State<App>,
    session: Session,
    Path((org, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> UiResult {
    let q = query(q);
    let ctx = ctx(&app, session, &org).await?;
    let rows = app
        .exports(&ctx.session.caller, &org, &id, "rejected", 500)
        .await?;
    let base = ctx.base();
    let body = html! {
        p.crumbs { a href={ (base) "/integrations" } { "Integrations" } " / " (id) }
        div.pagehead { div {
            h1 { "Refused by " (id) }
            p.lead { "Records this destination rejected at its last try, with its reason. Each goes again once it changes in the hub." }
        } }
        @if rows.is_empty() {
            div.panel { p.empty { "Nothing: the destination took everything it was sent." } }
        } @else {
            div.tablewrap { table {
                thead { tr { th { "Kind" } th { "Record" } th { "Reason" } th { "Run" } } }
                tbody { @for r in &rows {
                    tr {
                        td { (kind_label(&r.kind)) }
                        td.mono { a href={ (base) "/records/" (r.entity_id) } { (r.entity_id) } }
                        td { (r.message.as_deref().unwrap_or("")) }
                        td.mono { a href={ (base) "/runs/" (r.run_id) } { (r.run_id) } }
                    }
                } }
            } }
        }
    };
    Ok(html_page(page(
        &ctx,
        Nav::Integrations,
        "Refused",
        q.get("done"),
        body,
    )))
}
