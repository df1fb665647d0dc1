//! The page frame of the admin UI (header, navigation, flash messages) and
//! small pieces every page uses: status badges, times, values, forms with
//! their CSRF field. Markup is maud's, which escapes every interpolated value
//! unless it is wrapped in `PreEscaped`, which this UI never uses.

use maud::{DOCTYPE, Markup, html};
use serde_json::Value as Json;

use crate::app::Role;
use crate::app::Session;
use crate::app::views::OrgInfo;

/// The organization a page is about, and who looks at it.
pub struct Ctx {
    pub session: Session,
    pub org: OrgInfo,
    pub orgs: Vec<OrgInfo>,
}

impl Ctx {
    pub fn base(&self) -> String {
        format!("/orgs/{}", self.org.id)
    }

    pub fn can(&self, role: Role) -> bool {
        self.org.role >= role
    }

    /// The hidden CSRF field every form carries.
    pub fn csrf(&self) -> Markup {
        csrf_field(&self.session.csrf)
    }
}

pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// Navigation sections.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Gallery,
    Integrations,
    Runs,
    Records,
    Duplicates,
    Vendors,
    Settings,
    Organization,
    Audit,
}

/// Messages a redirect may ask a page to show, by code (never free text
/// from the query string).
pub fn flash(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "saved" => "Saved.",
        "activated" => "The app was activated. Fill in its Delivery Config to connect it.",
        "finished" => {
            "Setup finished: the integration is enabled. Run it when you are ready (an import reads the app, an export sends it the hub's data, a 2-way sync does both)."
        }
        "enabled" => "The integration was enabled.",
        "disabled" => "The integration was disabled: it will not run until enabled again.",
        "deleted" => "The integration was deleted. Its runs and records stay as history.",
        "approved" => "The run was approved: its changes were applied, except those left out.",
        "discarded" => "The run was discarded: nothing of it was applied.",
        "selection" => "Your selection was saved. Approve the run when you are ready.",
        "resolved" => "The duplicate pair was resolved.",
        "started" => "The run is queued: a worker takes it as soon as one is free.",
        "revoked" => "Revoked: the vendor sees nothing through it from now on.",
        "purged" => "The person's data was purged from the hub; the purge is on record below.",
        "org_created" => {
            "The organization was made, and you are its admin. Add its first integration from the Gallery."
        }
        "token_revoked" => "The token was revoked: it signs nobody in from now on.",
        _ => return None,
    })
}

fn head(title: &str, extra: Option<Markup>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Homeroom" }
            link rel="stylesheet" href="/static/app.css";
            script src="/static/app.js" defer {}
            @if let Some(extra) = extra { (extra) }
        }
    }
}

/// A full page inside the organization's frame.
pub fn page(ctx: &Ctx, nav: Nav, title: &str, flash_code: Option<&str>, body: Markup) -> Markup {
    page_with_head(ctx, nav, title, flash_code, None, body)
}

pub fn page_with_head(
    ctx: &Ctx,
    nav: Nav,
    title: &str,
    flash_code: Option<&str>,
    extra_head: Option<Markup>,
    body: Markup,
) -> Markup {
    let base = ctx.base();
    let items: Vec<(Nav, &str, String)> = {
        let mut v = vec![
            (Nav::Overview, "Overview", base.clone()),
            (Nav::Gallery, "Gallery", format!("{base}/gallery")),
            (
                Nav::Integrations,
                "Integrations",
                format!("{base}/integrations"),
            ),
            (Nav::Runs, "Runs", format!("{base}/runs")),
            (Nav::Records, "Records", format!("{base}/records")),
            (Nav::Duplicates, "Duplicates", format!("{base}/duplicates")),
            (Nav::Vendors, "Vendors", format!("{base}/vendors")),
            (Nav::Settings, "Settings", format!("{base}/settings")),
            (
                Nav::Organization,
                "Organization",
                format!("{base}/organization"),
            ),
        ];
        if ctx.can(Role::Admin) {
            v.push((Nav::Audit, "Audit log", format!("{base}/audit")));
        }
        v
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, extra_head))
            body {
                a.skip href="#main" { "Skip to content" }
                header.topbar {
                    a.brand href="/" { span.logo aria-hidden="true" { "H" } "Homeroom" }
                    div.org {
                        @if ctx.orgs.len() > 1 || ctx.session.caller.platform {
                            details.switcher {
                                summary { (ctx.org.name) }
                                ul {
                                    @for o in &ctx.orgs {
                                        li { a href={ "/orgs/" (o.id) } aria-current=[(o.id == ctx.org.id).then_some("true")] { (o.name) } }
                                    }
                                    li.all { a href="/orgs" { "All organizations…" } }
                                }
                            }
                        } @else {
                            span { (ctx.org.name) }
                        }
                    }
                    div.who {
                        span { (ctx.session.caller.name) " · " span.role { (ctx.org.role.as_str()) } }
                        form method="post" action="/logout" {
                            (ctx.csrf())
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                div.shell {
                    nav.side aria-label="Main" {
                        ul {
                            @for (n, label, href) in &items {
                                li { a href=(href) aria-current=[(*n == nav).then_some("page")] { (label) } }
                            }
                        }
                    }
                    main #main {
                        @if let Some(msg) = flash(flash_code) {
                            div.flash role="status" { (msg) }
                        }
                        (body)
                    }
                }
            }
        }
    }
}

/// A page outside any organization (sign-in, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, None))
            body.bare {
                main #main {
                    div.brand-big { span.logo aria-hidden="true" { "H" } "Homeroom" }
                    (body)
                }
            }
        }
    }
}

pub fn status_badge(status: &str) -> Markup {
    let (class, label) = match status {
        "queued" => ("info", "Waiting for a worker"),
        "running" => ("info", "Running"),
        "held" => ("warn", "Held"),
        "awaiting_approval" => ("warn", "Awaiting approval"),
        "committed" => ("ok", "Committed"),
        "discarded" => ("muted", "Discarded"),
        "failed" => ("bad", "Failed"),
        "enabled" => ("ok", "Enabled"),
        "disabled" => ("muted", "Disabled"),
        "setup" => ("info", "Setup incomplete"),
        "open" => ("warn", "Open"),
        "deleted" => ("muted", "Deleted"),
        "ignored" => ("muted", "Ignored"),
        "kept" => ("ok", "Kept as new"),
        other => ("muted", other),
    };
    html! { span class={ "badge " (class) } { (label) } }
}

/// An RFC 3339 instant as a person reads it.
pub fn when(ts: &str) -> Markup {
    let shown = chrono::DateTime::parse_from_rfc3339(ts)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|_| ts.to_string());
    html! { time datetime=(ts) { (shown) } }
}

pub fn duration(start: &str, end: Option<&str>) -> String {
    let (Ok(a), Some(Ok(b))) = (
        chrono::DateTime::parse_from_rfc3339(start),
        end.map(chrono::DateTime::parse_from_rfc3339),
    ) else {
        return String::new();
    };
    let secs = (b - a).num_milliseconds() as f64 / 1000.0;
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        format!("{}m {:02}s", (secs / 60.0) as u64, (secs as u64) % 60)
    }
}

/// A message as an admin reads it: no backticks (they mark names for the
/// log and the API), its first sentence up front, and the whole text behind
/// a "Details" disclosure when there is more to it.
pub fn admin_message(text: &str) -> Markup {
    let plain = text.replace('`', "");
    let plain = plain.trim();
    let first = match plain.find(". ") {
        Some(i) => &plain[..=i],
        None => plain,
    };
    let short: String = if first.chars().count() > 200 {
        let cut: String = first.chars().take(200).collect();
        format!("{}…", cut.trim_end())
    } else {
        first.to_string()
    };
    html! {
        span.message { (short) }
        @if short != plain {
            details.detail { summary { "Details" } pre { (plain) } }
        }
    }
}

/// A value of a record as text: references by kind and id, lists joined.
pub fn value_text(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        Json::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(", "),
        Json::Object(o) => match (o.get("kind"), o.get("id")) {
            (Some(Json::String(k)), Some(Json::String(id))) => format!("{k}:{id}"),
            _ => v.to_string(),
        },
        other => other.to_string(),
    }
}

/// A diff `attribute → [old, new]` as a list.
pub fn diff_list(diff: &Json) -> Markup {
    html! {
        @if let Some(map) = diff.as_object() {
            ul.diff {
                @for (attr, change) in map {
                    li {
                        span.attr { (attr) } ": "
                        @let old = change.get(0).map(value_text).unwrap_or_default();
                        @let new = change.get(1).map(value_text).unwrap_or_default();
                        @if !old.is_empty() { del { (old) } " → " }
                        ins { (new) }
                    }
                }
            }
        }
    }
}

/// A friendly name for a kind.
pub fn kind_label(kind: &str) -> String {
    match kind {
        "org" => "Organizations".into(),
        "user" => "Users".into(),
        "class" => "Classes".into(),
        "course" => "Courses".into(),
        "enrollment" => "Enrollments".into(),
        "academic-session" => "Academic sessions".into(),
        "demographics" => "Demographics".into(),
        "category" => "Categories".into(),
        "line-item" => "Line items".into(),
        "result" => "Results".into(),
        other => other.to_string(),
    }
}

pub fn action_label(action: &str) -> &'static str {
    match action {
        "add" => "Adds",
        "update" => "Updates",
        "delete" => "Deletes",
        _ => "Actions",
    }
}

/// Links to pages of a list.
pub fn pager(href: impl Fn(i64) -> String, offset: i64, limit: i64, total: i64) -> Markup {
    let last = offset + limit >= total;
    html! {
        @if total > limit {
            nav.pager aria-label="Pages" {
                @if offset > 0 {
                    a href=(href((offset - limit).max(0))) rel="prev" { "← Previous" }
                }
                span { (offset + 1) "–" ((offset + limit).min(total)) " of " (total) }
                @if !last {
                    a href=(href(offset + limit)) rel="next" { "Next →" }
                }
            }
        }
    }
}

/// The style sheet: plain CSS, no build step.
pub const CSS: &str = include_str!("app.css");
/// The one script: live run progress and confirmations.
pub const JS: &str = include_str!("app.js");
