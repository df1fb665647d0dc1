//! The organization's settings page: its time zone (schedules and digests
//! keep it) and where notifications go (a signed webhook, email now or in
//! a daily digest), with the notifications sent so far. The work is
//! `App::set_org_settings`; this page only reads the form and shows.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use maud::html;

use super::layout::{Nav, page, when};
use super::pages::{ctx, query};
use super::{Form, UiResult, html_page, see_other};
use crate::app::{App, OrgSettingsUpdate, Role, Session};
use crate::config::Notifications;

pub fn routes() -> Router<App> {
    Router::new().route("/orgs/{org}/settings", get(settings).post(save))
}

async fn settings(
    State(app): State<App>,
    session: Session,
    Path(org): Path<String>,
    RawQuery(q): RawQuery,
) -> UiResult {
    let q = query(q);
    let ctx = ctx(&app, session, &org).await?;
    let s = app.org_settings(&ctx.session.caller, &org).await?;
    let log = app.notification_log(&ctx.session.caller, &org, 50).await?;
    let jobs = app.jobs(&ctx.session.caller, &org).await?;
    let n = &s.notifications;
    let admin = ctx.can(Role::Admin);
    let body = html! {
        div.pagehead { div { h1 { "Settings" } p.lead { "The district's time zone, and who hears of held and failed runs, refused exports and schedules about to expire." } } }
        form.panel method="post" {
            (ctx.csrf())
            h2 { "Time zone" }
            div.field { label for="time_zone" { "Time zone (schedules run at their times here)" }
                input #time_zone type="text" name="time_zone" value=(s.time_zone) placeholder="America/Chicago" disabled[!admin]; }
            h2 { "Notifications" }
            div.field { label for="webhook_url" { "Webhook URL (each notice is POSTed here as JSON, signed)" }
                input #webhook_url name="webhook_url" type="url" value=(n.webhook_url.as_deref().unwrap_or("")) placeholder="https://hooks.district.org/homeroom" disabled[!admin]; }
            div.field { label for="webhook_secret" { "Webhook signing secret " @if s.webhook_secret_set { "(set; type a new one to replace it)" } @else { "(not set)" } }
                input #webhook_secret name="webhook_secret" type="password" autocomplete="off" disabled[!admin]; }
            div.field { label for="email" { "Email to (one address per line)" }
                textarea #email name="email" rows="3" disabled[!admin] { (n.email.join("\n")) } }
            @if !s.email_relay {
                p.hint { "This host has no SMTP relay: mail waits until the operator starts it with --smtp-url." }
            }
            label.check { input type="checkbox" name="digest" value="1" checked[n.digest] disabled[!admin]; span { "One daily digest instead of a message per event" } }
            div.row {
                div.field { label for="digest_at" { "Digest at (HH:MM)" } input #digest_at type="time" name="digest_at" value=(n.digest_at.as_deref().unwrap_or("07:00")) disabled[!admin]; }
                div.field { label for="expiry_warning_days" { "Tell of a schedule's expiry, days ahead" } input #expiry_warning_days type="number" min="0" max="90" name="expiry_warning_days" value=(n.expiry_warning_days.unwrap_or(7)) disabled[!admin]; }
            }
            @if admin { div.buttons { button type="submit" { "Save" } } }
        }
        div.panel {
            h2 { "Workers" }
            @if jobs.waiting_jobs.is_none() {
                p.hint { "This process runs each run itself as it is started." }
            } @else if jobs.workers.is_empty() {
                p.hint { "No worker has been seen on this database: scheduled and started runs wait until one runs (homeroom serve runs one; homeroom worker runs more)." }
            } @else {
                ul { @for w in &jobs.workers { li { code { (w.id) } " · last seen " (chrono::DateTime::from_timestamp(w.last_seen, 0).map(|t| t.to_rfc3339()).unwrap_or_default()) } } }
            }
            @if let Some(n) = jobs.waiting_jobs { p { (n) " job(s) in the queue not taken yet." } }
        }
        div.panel {
            h2 { "Notifications sent" }
            @if log.is_empty() { p.empty { "None yet." } } @else {
                div.tablewrap { table {
                    thead { tr { th { "When" } th { "Event" } th { "Subject" } th { "Webhook" } th { "Email" } } }
                    tbody { @for x in &log { tr {
                        td { (when(&x.created_at)) } td { code { (x.event) } } td { (x.subject) @if let Some(e) = &x.last_error { br; span.muted { (e) } } }
                        td { (x.webhook_state) } td { (x.email_state) }
                    } } }
                } }
            }
        }
    };
    Ok(html_page(page(
        &ctx,
        Nav::Settings,
        "Settings",
        q.get("done"),
        body,
    )))
}

async fn save(
    State(app): State<App>,
    session: Session,
    Path(org): Path<String>,
    form: Form,
) -> UiResult {
    let days = match form.opt("expiry_warning_days") {
        None => None,
        Some(d) => Some(d.trim().parse::<u32>().map_err(|_| {
            crate::app::AppError::invalid(format!("`{d}` is not a number of days: use 0 to 90"))
        })?),
    };
    let update = OrgSettingsUpdate {
        time_zone: form.opt("time_zone"),
        notifications: Some(Notifications {
            webhook_url: form.opt("webhook_url"),
            webhook_secret: None,
            email: form
                .text("email")
                .split(['\n', ',', ';'])
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            digest: form.opt("digest").is_some(),
            digest_at: form.opt("digest_at"),
            expiry_warning_days: days,
        }),
        webhook_secret: form.opt("webhook_secret"),
    };
    app.set_org_settings(&session.caller, &org, update).await?;
    Ok(see_other(&format!("/orgs/{org}/settings?done=saved")))
}
