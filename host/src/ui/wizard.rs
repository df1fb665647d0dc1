//! The activation wizard, one step a page, in the order districts know:
//! Delivery Config (with Advanced Settings and Test Connection), Terms of
//! Use, Schools Mapping, Attributes Mapping (Finish allowed from here on),
//! Data Requirements, Filter Rules, Domains of Uniqueness, Master Fields,
//! Sync Schedule, Done. Each step saves through `App` (admin only); list
//! steps add and remove one entry at a time, so nothing typed is lost.
//! Secret inputs never render a stored value.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use maud::{Markup, html};
use serde_json::{Value as Json, json};

use super::layout::{Ctx, Nav, page, status_badge};
use super::pages::{ctx, query};
use super::{Form, UiResult, html_page, see_other};
use crate::app::App;
use crate::app::Role;
use crate::app::Session;
use crate::app::views::{Delivery, SourceView};
use crate::app::{AppError, AppResult};
use crate::config::{
    Advanced, AttributeMapping, BlankValues, Domain, Filter, MasterField, Requirement, Schedule,
    SchoolsMapping, SchoolsMode,
};

pub const STEPS: &[(&str, &str)] = &[
    ("delivery", "Delivery Config"),
    ("terms", "Terms of Use"),
    ("schools", "Schools Mapping"),
    ("attributes", "Attributes Mapping"),
    ("requirements", "Data Requirements"),
    ("filters", "Filter Rules"),
    ("domains", "Domains of Uniqueness"),
    ("master-fields", "Master Fields"),
    ("schedule", "Sync Schedule"),
    ("done", "Done"),
];

/// From this step on, Finish is offered.
const FINISH_FROM: usize = 3;

/// The kinds the wizard's rule steps offer: the admin kinds rules know,
/// then the entity kinds districts write rules for.
fn kinds() -> impl Iterator<Item = &'static str> {
    use crate::bindings::types::EntityKind;
    crate::model::kinds::ADMIN_KINDS
        .iter()
        .filter(|k| k.in_rules)
        .map(|k| k.name)
        .chain(
            [
                EntityKind::Org,
                EntityKind::Course,
                EntityKind::Class,
                EntityKind::User,
                EntityKind::Enrollment,
            ]
            .map(EntityKind::cli_name),
        )
}

const TRANSFORMS: &[(&str, &str)] = &[
    ("copy", "Copy an attribute"),
    ("constant", "A constant value"),
    ("default", "An attribute, or a default when blank"),
    ("concat", "Join attributes"),
    ("template", "A template ({givenName}.{familyName}@…)"),
    ("lower", "Lowercase an attribute"),
    ("upper", "Uppercase an attribute"),
    ("trim", "Trim an attribute"),
    ("regex-replace", "Replace by pattern"),
    ("value-map", "Map values (A=B per line)"),
    ("date-format", "Reformat a date"),
];

const OPS: &[(&str, &str)] = &[
    ("equals", "equals"),
    ("not-equals", "does not equal"),
    ("contains", "contains"),
    ("in", "is one of (comma-separated)"),
    ("matches", "matches the pattern"),
    ("greater", "is greater than"),
    ("less", "is less than"),
    ("is-empty", "is empty"),
    ("is-not-empty", "is not empty"),
];

const TERMS: &str = "By activating this app, the district (the data controller) directs Homeroom to \
read the data of the connected system with the credentials entered here, and to keep it only to \
provide the rostering the district configures. Student records are education records: Homeroom \
stores them in the district's own database, shows them only to tokens the district's admins \
issue, never sells or shares them, and deletes them when the district deletes them. Credentials \
are stored encrypted and are never shown again, nor given to the app's code. The district is \
responsible for having the right to share the data it connects (FERPA, COPPA and state student \
privacy laws) and for the terms of the system it connects.";

pub fn routes() -> Router<App> {
    Router::new().route(
        "/orgs/{org}/sources/{id}/setup/{step}",
        get(step_get).post(step_post),
    )
}

fn step_index(step: &str) -> AppResult<usize> {
    STEPS
        .iter()
        .position(|(s, _)| *s == step)
        .ok_or_else(|| AppError::NotFound(format!("no setup step `{step}`")))
}

/// A message on the step page: (class, text).
type Notice = Option<(&'static str, String)>;

async fn step_get(
    State(app): State<App>,
    session: Session,
    Path((org, id, step)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
) -> UiResult {
    let q = query(q);
    let ctx = ctx(&app, session, &org).await?;
    let notice = super::layout::flash(q.get("done")).map(|m| ("ok", m.to_string()));
    render(&app, &ctx, &id, &step, notice, StatusCode::OK, None).await
}

/// After a refused save the step shows what was typed, not what is
/// stored, so the admin corrects it instead of typing it again. Secrets
/// are never shown back.
fn keep_typed(view: &mut SourceView, step: &str, form: &Form) {
    match step {
        "delivery" => {
            if let Ok(d) = delivery_from(form, view) {
                let c = &mut view.config;
                if let Some(name) = d.name {
                    c.name = Some(name);
                }
                if let Some(settings) = d.settings {
                    c.settings = settings;
                }
                if let Some(folder) = d.folder {
                    c.folder = Some(folder);
                }
                if let Some(advanced) = d.advanced {
                    c.advanced = advanced;
                }
            }
        }
        "schedule" => {
            if let Ok(s) = schedule_parse(form) {
                view.config.schedule = s;
            }
        }
        _ => {}
    }
}

/// The value typed into a list step's add form (empty on a fresh page).
fn typed_value(typed: Option<&Form>, name: &str) -> String {
    typed.map(|f| f.text(name)).unwrap_or_default()
}

async fn render(
    app: &App,
    ctx: &Ctx,
    id: &str,
    step: &str,
    notice: Notice,
    status: StatusCode,
    typed: Option<&Form>,
) -> UiResult {
    ctx.session.caller.require(&ctx.org.id, Role::Admin)?;
    let idx = step_index(step)?;
    let mut view = app.source(&ctx.session.caller, &ctx.org.id, id).await?;
    if let Some(form) = typed {
        keep_typed(&mut view, step, form);
    }
    let mut notice = notice;
    let content = match step {
        "delivery" => delivery(ctx, &view),
        "terms" => terms(&view),
        "schools" => schools(app, ctx, &view, &mut notice).await,
        "attributes" => attributes(ctx, &view, typed),
        "requirements" => requirements(ctx, &view, typed),
        "filters" => filters(ctx, &view, typed),
        "domains" => domains(ctx, &view, typed),
        "master-fields" => master_fields(app, ctx, &view, typed).await?,
        "schedule" => schedule(&view),
        _ => done(app, ctx, &view).await?,
    };
    let base = ctx.base();
    let s = &view.summary;
    let here = format!("{base}/sources/{}/setup", s.id);
    let list_step = matches!(
        step,
        "attributes" | "requirements" | "filters" | "domains" | "master-fields"
    );
    let body = html! {
        p.crumbs { a href={ (base) "/integrations" } { "Integrations" } " / " (s.name) }
        div.pagehead {
            div {
                h1 { "Set up " (s.name) " " (status_badge(&s.state)) }
                p.lead { (s.app_name) @if let Some(e) = &view.app_entry { " · " (e.vendor) " · v" (e.version) } }
            }
        }
        nav aria-label="Setup steps" {
            ol.steps {
                @for (i, (slug, label)) in STEPS.iter().enumerate() {
                    li { a href={ (here) "/" (slug) } aria-current=[(i == idx).then_some("step")] .done[i < idx] { (label) } }
                }
            }
        }
        @if let Some((class, text)) = &notice {
            div class={ "callout " (class) } role=(if *class == "bad" { "alert" } else { "status" }) { (text) }
        }
        @if list_step {
            (content)
            form method="post" {
                (ctx.csrf())
                (footer(&here, idx, false))
            }
        } @else {
            form method="post" {
                (ctx.csrf())
                (content)
                (footer(&here, idx, step == "delivery"))
            }
        }
    };
    let mut response = html_page(page(ctx, Nav::Integrations, STEPS[idx].1, None, body));
    *response.status_mut() = status;
    Ok(response)
}

fn footer(here: &str, idx: usize, test: bool) -> Markup {
    let last = idx + 1 == STEPS.len();
    html! {
        div.buttons {
            @if last {
                button.primary type="submit" name="go" value="finish" { "Finish" }
            } @else {
                button.primary type="submit" name="go" value="next" { "Save and continue" }
                @if idx >= FINISH_FROM {
                    button type="submit" name="go" value="finish" { "Finish" }
                }
            }
            @if test {
                button type="submit" name="go" value="test" { "Test Connection" }
            }
            span.spacer {}
            @if idx > 0 {
                a href={ (here) "/" (STEPS[idx - 1].0) } { "← Back" }
            }
        }
    }
}

fn field_help(id: &str, help: Option<&str>) -> Markup {
    html! { @if let Some(h) = help { p.help id={ (id) "-help" } { (h) } } }
}

fn pct(share: f64) -> String {
    let v = share * 100.0;
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

fn delivery(ctx: &Ctx, view: &SourceView) -> Markup {
    let c = &view.config;
    let a = &c.advanced;
    let entry = view.app_entry.as_ref();
    let settings = entry.map(|e| e.settings.as_slice()).unwrap_or(&[]);
    let auth = entry.map(|e| e.auth.as_slice()).unwrap_or(&[]);
    let files = entry.is_some_and(|e| e.files);
    let _ = ctx;
    html! {
        div.panel {
            h2 { "Connection" }
            div.field {
                label for="name" { "Name" }
                input #name type="text" name="name" value=(c.name.as_deref().unwrap_or("")) required;
            }
            @if files {
                div.field {
                    label for="folder" { "Folder *" }
                    input #folder type="text" name="folder" value=(c.folder.as_deref().unwrap_or("")) aria-describedby="folder-help" placeholder="sis";
                    p.help #folder-help { "The folder where the files arrive (an SFTP drop, an unpacked zip), inside this organization's drop folder on the server: give its name (" code { "sis" } ") or a path inside it. The app may read it and nothing else." }
                }
            }
            @if entry.is_some_and(|e| e.goes("export")) {
                @let modes: Vec<(&str, &str)> = [
                    ("import", "Import: the app feeds the hub"),
                    ("export", "Export: the hub feeds the app"),
                    ("sync", "2-way Sync: the hub sends the roster, the app sends back what it owns"),
                ].into_iter().filter(|(m, _)| match *m {
                    "import" => entry.is_some_and(|e| e.goes("import")),
                    "sync" => entry.is_some_and(|e| e.goes("import")),
                    _ => true,
                }).collect();
                div.field {
                    label for="sync_mode" { "Sync Mode" }
                    select #sync_mode name="sync_mode" {
                        @for (m, label) in &modes {
                            option value=(m) selected[*m == c.sync_mode.as_str()] { (label) }
                        }
                    }
                }
                @let exported = entry.map(|e| e.kinds_going("export")).unwrap_or_default();
                fieldset {
                    legend { "Sent to the app (export and 2-way sync)" }
                    input type="hidden" name="export_kinds_shown" value="1";
                    @for k in &exported {
                        label.check {
                            input type="checkbox" name="export_kind" value=(k)
                                checked[c.export.kinds.is_empty() || c.export.kinds.iter().any(|x| x == k)];
                            span { (super::layout::kind_label(k)) }
                        }
                    }
                    p.help { "What the hub sends the app. In a 2-way sync, what is sent is never read back: each kind has one master." }
                }
            }
            @if auth.len() > 1 {
                @let current = c.settings.get("auth").cloned()
                    .or_else(|| settings.iter().find(|s| s.name == "auth").and_then(|s| s.default.clone()))
                    .unwrap_or_else(|| auth[0].clone());
                div.field {
                    label for="auth" { "Authentication" }
                    select #auth name="auth" {
                        @for k in auth { option value=(k) selected[*k == current] { (k) } }
                    }
                }
            }
            @for s in settings {
                @let fid = format!("set-{}", s.name);
                div.field {
                    @if s.secret {
                        @let stored = view.secrets_set.contains(&s.name);
                        label for=(fid) { (s.label) @if s.required { " *" } }
                        input id=(fid) type="password" name={ "secret." (s.name) } autocomplete="new-password"
                            placeholder=(if stored { "•••••••• stored: leave empty to keep it" } else { "" })
                            aria-describedby={ (fid) "-help" };
                        p.help id={ (fid) "-help" } {
                            @if stored { "A value is stored and is never shown. Type a new one to replace it. " }
                            @else { "Stored encrypted; never shown again. " }
                            (s.help.as_deref().unwrap_or(""))
                        }
                        @if stored {
                            label.check { input type="checkbox" name={ "clear." (s.name) } value="1"; span { "Remove the stored value" } }
                        }
                    } @else if s.kind == "boolean" {
                        @let on = c.settings.get(&s.name).or(s.default.as_ref()).is_some_and(|v| v == "true");
                        label.check { input id=(fid) type="checkbox" name={ "set." (s.name) } value="true" checked[on]; span { (s.label) } }
                        (field_help(&fid, s.help.as_deref()))
                    } @else if s.kind == "choice" {
                        @let current = c.settings.get(&s.name).cloned().or_else(|| s.default.clone()).unwrap_or_default();
                        label for=(fid) { (s.label) @if s.required { " *" } }
                        select id=(fid) name={ "set." (s.name) } aria-describedby={ (fid) "-help" } {
                            @if !s.required { option value="" { "(default)" } }
                            @for ch in &s.choices { option value=(ch) selected[*ch == current] { (ch) } }
                        }
                        (field_help(&fid, s.help.as_deref()))
                    } @else {
                        label for=(fid) { (s.label) @if s.required { " *" } }
                        input id=(fid) type=(match s.kind.as_str() { "url" => "url", "number" => "number", _ => "text" })
                            name={ "set." (s.name) } value=(c.settings.get(&s.name).map(String::as_str).unwrap_or(""))
                            placeholder=(s.default.as_deref().unwrap_or("")) aria-describedby={ (fid) "-help" };
                        (field_help(&fid, s.help.as_deref()))
                    }
                }
            }
            (allowed_hosts(view))
        }
        details.advanced {
            summary { "Advanced Settings" }
            div {
                @let importable: Vec<&str> = view.app_entry.iter().flat_map(|e| e.entities.iter()).filter(|e| e.directions.iter().any(|d| d == "import")).map(|e| e.kind.as_str()).collect();
                @if !importable.is_empty() {
                    fieldset {
                        legend { "Items to sync" }
                        p.help { "The kinds this source imports. They are read parents first (schools, sessions, courses, classes, users, then enrollments), so users are in before the classes' enrollments. A kind left clear is neither read nor deleted; the gradebook kinds are optional." }
                        div.checks {
                            @for k in &importable {
                                label.check { input type="checkbox" name={ "adv.kind." (k) } value="1" checked[a.kinds.is_empty() || a.kinds.iter().any(|c| c == k)]; span { (k) } }
                            }
                        }
                    }
                }
                label.check { input type="checkbox" name="adv.bulk_upload" value="1" checked[a.bulk_upload];
                    span { "Bulk upload mode" small { "Each full run holds all the data: records missing from it are deleted." } } }
                label.check { input type="checkbox" name="adv.compare_by_domains" value="1" checked[a.compare_by_domains];
                    span { "Compare records by the Domains of Uniqueness" small { "Find the same person twice: under two ids of this source's feed, or from another source (the SIS and the directory, say)." } } }
                fieldset {
                    legend { "Approval" }
                    @let choice = a.approval();
                    @for (value, label, help) in [
                        ("review", "Review every run", "Every run waits for your approval; new data is not available until you accept it."),
                        ("threshold", "Commit unless a hold threshold is passed", "A run that updates or deletes more than the thresholds below waits for you."),
                        ("always", "Always commit", "Every run is applied as it is read, thresholds or not."),
                    ] {
                        label.check { input type="radio" name="adv.approval" value=(value) checked[choice.as_str() == value];
                            span { (label) small { (help) } } }
                    }
                    label.check { input type="checkbox" name="adv.review_first" value="1" checked[a.review_first];
                        span { "Review the first import" small { "The first run of this integration waits for your approval, whatever is chosen above." } } }
                }
                label.check { input type="checkbox" name="adv.ignore_class_name_edits" value="1" checked[a.ignore_class_name_edits];
                    span { "Keep class names as first synced" small { "Later renames in the source are ignored." } } }
                label.check { input type="checkbox" name="adv.keep_dangling_references" value="1" checked[a.keep_dangling_references];
                    span { "Keep records that point at nothing" small { "An enrollment in a class, or a class of a course, the source did not send is imported anyway. Leave clear to leave such records out; the run report names each." } } }
                fieldset {
                    legend { "Sync hold threshold and error limit" }
                    p.help { "A run whose changes pass these shares of any kind waits for approval, and nothing of it is exported until then." }
                    div.row {
                        div.field { label for="hold-updated" { "Updated records (%)" }
                            input #hold-updated type="number" name="adv.hold_updated" min="0" max="100" step="any" value=(pct(a.hold.updated_share)); }
                        div.field { label for="hold-deleted" { "Deleted records (%)" }
                            input #hold-deleted type="number" name="adv.hold_deleted" min="0" max="100" step="any" value=(pct(a.hold.deleted_share)); }
                        div.field { label for="max-error" { "Failed records that fail the run (%)" }
                            input #max-error type="number" name="adv.max_error" min="0" max="100" step="any" value=(pct(a.max_error_share)); }
                    }
                }
                div.field {
                    label for="match-keys" { "Match keys" }
                    textarea #match-keys name="adv.match_keys" aria-describedby="match-keys-help" placeholder="student = email" {
                        (a.match_keys.iter().map(|(k, v)| format!("{k} = {}", v.join(" + "))).collect::<Vec<_>>().join("\n"))
                    }
                    p.help #match-keys-help { "Identify a record from run to run by attributes instead of its id in the source, one kind a line: " code { "student = email" } ", " code { "class = classCode + title" } "." }
                }
                div.row {
                    div.field {
                        label for="prefix" { "SIS ID prefix" }
                        input #prefix type="text" name="adv.sis_id_prefix" value=(a.sis_id_prefix.as_deref().unwrap_or("")) aria-describedby="prefix-help";
                        p.help #prefix-help { "For several sources of the same type: keeps equal SIS ids apart." }
                    }
                    div.field {
                        label for="blank" { "Blank values from the source" }
                        select #blank name="adv.blank_values" {
                            option value="ignore" selected[a.blank_values == BlankValues::Ignore] { "Keep the stored value" }
                            option value="replace" selected[a.blank_values == BlankValues::Replace] { "Clear the stored value" }
                        }
                    }
                }
            }
        }
    }
}

/// The hosts the app may reach, with this source's values filled in, and
/// which of them gets the credentials.
fn allowed_hosts(view: &SourceView) -> Markup {
    let Some(entry) = view.app_entry.as_ref() else {
        return html! {};
    };
    let c = &view.config;
    let value = |name: &str| {
        c.settings.get(name).cloned().or_else(|| {
            entry
                .settings
                .iter()
                .find(|s| s.name == name)
                .and_then(|s| s.default.clone())
        })
    };
    let oauth2 = entry.auth.iter().any(|a| a.starts_with("oauth2"));
    html! {
        div.field.hosts {
            h3 { "Hosts this app may reach" }
            @if entry.allowed_hosts.is_empty() {
                p.help { "None: this app reaches no host on the network." }
            } @else {
                ul.hosts aria-label="Hosts this app may reach" {
                    @for h in &entry.allowed_hosts {
                        li {
                            @if let (Some(name), Some(label)) = (&h.setting, &h.setting_label) {
                                @let host = value(name).and_then(|v| url::Url::parse(&v).ok()).and_then(|u| u.host_str().map(|h| match u.port() { Some(p) => format!("{h}:{p}"), None => h.to_string() }));
                                "the host of the " (label) ": "
                                @if let Some(host) = host { code { (host) } } @else { "not set yet" }
                            } @else {
                                code { (h.pattern) }
                            }
                            @if h.credentials {
                                " · gets the credentials, only at the exact address (scheme, host and port) of the " (h.setting_label.as_deref().unwrap_or("service"))
                            } @else {
                                " · no credentials"
                            }
                        }
                    }
                }
            }
            p.help {
                "Credentials go over https only (plain http only to this machine), and never follow a redirect to another address. "
                @if oauth2 { "With OAuth 2.0 the client secret goes only to the Token URL. " }
                "Changing an address a stored secret is sent to clears that secret: enter it again in the same save."
            }
        }
    }
}

fn percent(form: &Form, name: &str, label: &str) -> AppResult<f64> {
    let t = form.text(name);
    let v: f64 = t
        .parse()
        .map_err(|_| AppError::invalid(format!("{label}: `{t}` is not a number")))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(AppError::invalid(format!(
            "{label} is a percentage from 0 to 100"
        )));
    }
    Ok(v / 100.0)
}

fn delivery_from(form: &Form, view: &SourceView) -> AppResult<Delivery> {
    let entry = view.app_entry.as_ref();
    let mut settings = std::collections::BTreeMap::new();
    let mut secrets = std::collections::BTreeMap::new();
    for s in entry.map(|e| e.settings.as_slice()).unwrap_or(&[]) {
        if s.secret {
            if form.has(&format!("clear.{}", s.name)) {
                secrets.insert(s.name.clone(), None);
            } else {
                secrets.insert(
                    s.name.clone(),
                    Some(form.text(&format!("secret.{}", s.name))),
                );
            }
        } else if s.kind == "boolean" {
            let on = form.has(&format!("set.{}", s.name));
            settings.insert(
                s.name.clone(),
                if on { "true" } else { "false" }.to_string(),
            );
        } else {
            let v = form.text(&format!("set.{}", s.name));
            if !v.is_empty() {
                settings.insert(s.name.clone(), v);
            }
        }
    }
    if let Some(auth) = form.opt("auth") {
        settings.insert("auth".into(), auth);
    }
    let mut advanced = Advanced {
        bulk_upload: form.has("adv.bulk_upload"),
        compare_by_domains: form.has("adv.compare_by_domains"),
        review_first: form.has("adv.review_first"),
        ignore_class_name_edits: form.has("adv.ignore_class_name_edits"),
        keep_dangling_references: form.has("adv.keep_dangling_references"),
        sis_id_prefix: form.opt("adv.sis_id_prefix"),
        blank_values: match form.text("adv.blank_values").as_str() {
            "replace" => BlankValues::Replace,
            _ => BlankValues::Ignore,
        },
        ..view.config.advanced.clone()
    };
    match form.text("adv.approval").as_str() {
        "review" => advanced.set_approval(crate::config::Approval::Review),
        "threshold" => advanced.set_approval(crate::config::Approval::Threshold),
        "always" => advanced.set_approval(crate::config::Approval::Always),
        "" => {}
        other => {
            return Err(AppError::invalid(format!(
                "“{other}” is not an approval choice: review, threshold or always"
            )));
        }
    }
    let importable: Vec<&str> = entry
        .iter()
        .flat_map(|e| e.entities.iter())
        .filter(|e| e.directions.iter().any(|d| d == "import"))
        .map(|e| e.kind.as_str())
        .collect();
    if !importable.is_empty() {
        let chosen: Vec<String> = importable
            .iter()
            .filter(|k| form.has(&format!("adv.kind.{k}")))
            .map(|k| k.to_string())
            .collect();
        if chosen.is_empty() {
            return Err(AppError::invalid("Items to sync: choose at least one kind"));
        }
        // Every kind chosen is the same as none listed: new kinds of a later
        // connector version come in too.
        advanced.kinds = if chosen.len() == importable.len() {
            Vec::new()
        } else {
            chosen
        };
    }
    advanced.hold.updated_share = percent(form, "adv.hold_updated", "Updated records")?;
    advanced.hold.deleted_share = percent(form, "adv.hold_deleted", "Deleted records")?;
    advanced.max_error_share = percent(form, "adv.max_error", "Failed records")?;
    advanced.match_keys = std::collections::BTreeMap::new();
    for line in form.get("adv.match_keys").unwrap_or("").lines() {
        if line.trim().is_empty() {
            continue;
        }
        let (kind, attrs) = line.split_once('=').ok_or_else(|| {
            AppError::invalid(format!(
                "match keys: `{}` is not KIND = ATTRIBUTE + ATTRIBUTE",
                line.trim()
            ))
        })?;
        let attrs: Vec<String> = attrs
            .split('+')
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect();
        if attrs.is_empty() {
            return Err(AppError::invalid(format!(
                "match keys: name the attributes for `{}`",
                kind.trim()
            )));
        }
        advanced.match_keys.insert(kind.trim().to_string(), attrs);
    }
    Ok(Delivery {
        name: Some(form.text("name")),
        settings: Some(settings),
        secrets,
        folder: entry.filter(|e| e.files).map(|_| form.text("folder")),
        advanced: Some(advanced),
        export_kinds: match form.get("export_kinds_shown") {
            None => None,
            Some(_) => {
                let chosen = form.all("export_kind");
                let offered = entry.map_or(0, |e| e.kinds_going("export").len());
                let sends = matches!(form.text("sync_mode").as_str(), "export" | "sync");
                if chosen.is_empty() && offered > 0 && sends {
                    return Err(AppError::invalid(
                        "choose at least one kind to send to the app, or set the sync mode to import",
                    ));
                }
                // Every kind checked: all of them, as the manifest grows.
                Some(if chosen.len() == offered {
                    Vec::new()
                } else {
                    chosen
                })
            }
        },
        sync_mode: match form.text("sync_mode").as_str() {
            "" => None,
            "import" => Some(crate::config::SyncMode::Import),
            "export" => Some(crate::config::SyncMode::Export),
            "sync" => Some(crate::config::SyncMode::Sync),
            other => {
                return Err(AppError::invalid(format!(
                    "`{other}` is not a sync mode: choose import, export or 2-way sync"
                )));
            }
        },
    })
}

fn terms(view: &SourceView) -> Markup {
    let accepted = view
        .setup
        .as_ref()
        .and_then(|s| s.terms_accepted_at.as_deref());
    html! {
        div.panel {
            h2 { "Terms of Use and Privacy" }
            div.terms tabindex="0" { p { (TERMS) } }
            @if let Some(at) = accepted {
                p.muted { "Accepted " (super::layout::when(at)) " by " (view.setup.as_ref().and_then(|s| s.terms_accepted_by.as_deref()).unwrap_or("")) "." }
            }
            label.check { input type="checkbox" name="accept" value="1" checked[accepted.is_some()] required; span { "I accept the Terms of Use and the Privacy Policy on behalf of the district" } }
        }
    }
}

async fn schools(app: &App, ctx: &Ctx, view: &SourceView, notice: &mut Notice) -> Markup {
    let mapping = &view.config.schools;
    let listed = app
        .schools(&ctx.session.caller, &ctx.org.id, &view.summary.id)
        .await;
    let all = mapping.mode == SchoolsMode::All;
    let auto = mapping.mode == SchoolsMode::Auto;
    html! {
        div.panel {
            h2 { "Schools" }
            p.muted { "Only the schools switched on here, and what belongs to them, are synced. Auto Mapping picks, at every run, the schools whose name or identifier matches a school the district already has (every school when it has none yet)." }
            input type="hidden" name="mode_was" value=(match mapping.mode { SchoolsMode::All => "all", SchoolsMode::Auto => "auto", SchoolsMode::Selected => "selected" });
            @match &listed {
                Ok(list) if list.is_empty() => {
                    p { "The source lists no schools; all of its data goes on." }
                }
                Ok(list) => {
                    @if all { div.callout.info { "Every school is synced, including schools the source adds later." } }
                    @if auto { div.callout.info { "Auto Mapping is on: schools are matched by name or identifier at every run. Switch schools on or off below to choose them yourself instead." } }
                    div.tablewrap { table {
                        thead { tr { th { "School" } th { "Identifier" } th { "Sync" } } }
                        tbody {
                            @for s in list {
                                tr {
                                    td { (s.name) br; small.muted.mono { (s.source_id) } }
                                    td { (s.identifier.as_deref().unwrap_or("")) }
                                    td { label.toggle { input type="checkbox" role="switch" name="school" value=(s.source_id) checked[s.mapped]; span.sr-only { "Sync " (s.name) } } }
                                }
                            }
                        }
                    } }
                    @for s in mapping.selected.iter().filter(|id| !list.iter().any(|l| &l.source_id == *id)) {
                        input type="hidden" name="school" value=(s);
                    }
                    div.buttons { button type="submit" name="go" value="auto" { "Auto Mapping" } }
                }
                Err(e) => {
                    @let _ = notice.get_or_insert(("bad", format!("The schools could not be listed: {e}. Check the Delivery Config and Test Connection.")));
                    p { "Mapping now: " strong { @if all { "all schools" } @else if auto { "Auto Mapping" } @else { (mapping.selected.len()) " selected school(s)" } } "." }
                    @for s in &mapping.selected { input type="hidden" name="school" value=(s); }
                }
            }
        }
    }
}

fn remove_button(i: usize) -> Markup {
    html! { button.small.danger type="submit" name="go" value={ "remove-" (i) } aria-label={ "Remove entry " (i + 1) } { "Remove" } }
}

fn kind_select(name: &str, id: &str) -> Markup {
    html! {
        select id=(id) name=(name) {
            @for k in kinds() { option value=(k) { (k) } }
        }
    }
}

fn transform_text(m: &AttributeMapping) -> String {
    let j = serde_json::to_value(&m.transform).unwrap_or(Json::Null);
    let mut parts = Vec::new();
    if let Some(o) = j.as_object() {
        for (k, v) in o {
            if k == "fn" {
                continue;
            }
            parts.push(format!("{k}: {}", super::layout::value_text(v)));
        }
    }
    let f = j.get("fn").and_then(Json::as_str).unwrap_or("");
    format!("{f}({})", parts.join(", "))
}

fn attributes(ctx: &Ctx, view: &SourceView, typed: Option<&Form>) -> Markup {
    let list = &view.config.mapping;
    html! {
        div.panel {
            h2 { "Attributes Mapping" }
            p.muted { "Attributes arrive under their OneRoster names. Add a mapping to compute an attribute from others; the rest go on as they are." }
            form method="post" {
                (ctx.csrf())
                div.tablewrap { table {
                    thead { tr { th { "Kind" } th { "Attribute" } th { "Computed as" } th { "Then" } th {} } }
                    tbody {
                        @if list.is_empty() { tr { td colspan="5" { p.empty { "No mapping: attributes go on as the source names them." } } } }
                        @for (i, m) in list.iter().enumerate() {
                            tr { td { (m.kind) } td.mono { (m.target) } td.mono { (transform_text(m)) }
                                td { (m.then.iter().map(|p| format!("{p:?}").to_lowercase()).collect::<Vec<_>>().join(", ")) }
                                td.actions { (remove_button(i)) } }
                        }
                    }
                } }
            }
        }
        form.panel method="post" {
            (ctx.csrf())
            h3 { "Add a mapping" }
            div.row {
                div.field { label for="m-kind" { "Kind" } (kind_select("m_kind", "m-kind")) }
                div.field { label for="m-target" { "Attribute to set" } input #m-target type="text" name="m_target" value=(typed_value(typed, "m_target")) placeholder="email" required; }
                div.field { label for="m-fn" { "Function" }
                    select #m-fn name="m_fn" { @for (v, l) in TRANSFORMS { option value=(v) { (l) } } } }
            }
            div.row {
                div.field { label for="m-from" { "From attribute(s)" } input #m-from type="text" name="m_from" value=(typed_value(typed, "m_from")) placeholder="givenName (join: givenName, familyName)"; }
                div.field { label for="m-value" { "Value, template or default" } input #m-value type="text" name="m_value" value=(typed_value(typed, "m_value")) placeholder="{givenName}.{familyName}@district.org"; }
                div.field { label for="m-sep" { "Separator (join)" } input #m-sep type="text" name="m_separator" placeholder=" "; }
            }
            div.row {
                div.field { label for="m-pattern" { "Pattern (replace)" } input #m-pattern type="text" name="m_pattern" value=(typed_value(typed, "m_pattern")); }
                div.field { label for="m-repl" { "Replacement (replace)" } input #m-repl type="text" name="m_replacement" value=(typed_value(typed, "m_replacement")); }
                div.field { label for="m-in" { "Date format in / out" } input #m-in type="text" name="m_input" placeholder="%m/%d/%Y"; }
                div.field { label for="m-out" { "Date format out" } input #m-out type="text" name="m_output" placeholder="%Y-%m-%d"; }
            }
            div.field { label for="m-map" { "Value map (one A=B per line)" } textarea #m-map name="m_map" {} }
            fieldset { legend { "Then" }
                @for p in ["lower", "upper", "trim"] { label.check { input type="checkbox" name="m_then" value=(p); span { (p) } } }
            }
            div.buttons { button type="submit" name="go" value="add" { "Add mapping" } }
        }
    }
}

fn mapping_from(form: &Form) -> AppResult<AttributeMapping> {
    let f = form.text("m_fn");
    let from = form.text("m_from");
    let value = form.get("m_value").unwrap_or("").to_string();
    let need = |v: &str, what: &str| -> AppResult<()> {
        if v.trim().is_empty() {
            Err(AppError::invalid(format!("this function needs {what}")))
        } else {
            Ok(())
        }
    };
    let mut j = json!({"kind": form.text("m_kind"), "target": form.text("m_target"), "fn": f,
        "then": form.all("m_then")});
    need(&form.text("m_target"), "the attribute to set")?;
    match f.as_str() {
        "copy" | "lower" | "upper" | "trim" => {
            need(&from, "an attribute to read from")?;
            j["from"] = json!(from);
        }
        "constant" => j["value"] = json!(value),
        "default" => {
            need(&from, "an attribute to read from")?;
            j["from"] = json!(from);
            j["value"] = json!(value);
        }
        "concat" => {
            let list: Vec<String> = from
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            need(&from, "the attributes to join, comma-separated")?;
            j["from"] = json!(list);
            j["separator"] = json!(form.get("m_separator").unwrap_or(""));
        }
        "template" => {
            need(&value, "a template")?;
            j["template"] = json!(value);
        }
        "regex-replace" => {
            need(&from, "an attribute to read from")?;
            need(&form.text("m_pattern"), "a pattern")?;
            j["from"] = json!(from);
            j["pattern"] = json!(form.text("m_pattern"));
            j["replacement"] = json!(form.get("m_replacement").unwrap_or(""));
        }
        "value-map" => {
            need(&from, "an attribute to read from")?;
            let mut map = serde_json::Map::new();
            for line in form.get("m_map").unwrap_or("").lines() {
                if line.trim().is_empty() {
                    continue;
                }
                let (a, b) = line.split_once('=').ok_or_else(|| {
                    AppError::invalid(format!("`{line}` is not A=B: write one mapping per line"))
                })?;
                map.insert(a.trim().to_string(), json!(b.trim()));
            }
            j["from"] = json!(from);
            j["map"] = Json::Object(map);
            if !value.trim().is_empty() {
                j["default"] = json!(value.trim());
            }
        }
        "date-format" => {
            need(&from, "an attribute to read from")?;
            need(&form.text("m_input"), "the input date format")?;
            need(&form.text("m_output"), "the output date format")?;
            j["from"] = json!(from);
            j["input"] = json!(form.text("m_input"));
            j["output"] = json!(form.text("m_output"));
        }
        other => return Err(AppError::invalid(format!("`{other}` is not a function"))),
    }
    serde_json::from_value(j)
        .map_err(|e| AppError::invalid(format!("the mapping is not valid: {e}")))
}

fn requirements(ctx: &Ctx, view: &SourceView, typed: Option<&Form>) -> Markup {
    let list = &view.config.requirements;
    html! {
        div.panel {
            h2 { "Data Requirements" }
            p.muted { "What to do when a record lacks an attribute: report it (keep the record, warn) or skip it (leave the record out, report)." }
            form method="post" {
                (ctx.csrf())
                div.tablewrap { table {
                    thead { tr { th { "Kind" } th { "Attribute" } th { "If missing" } th {} } }
                    tbody {
                        @if list.is_empty() { tr { td colspan="4" { p.empty { "No requirement." } } } }
                        @for (i, r) in list.iter().enumerate() {
                            tr { td { (r.kind) } td.mono { (r.attribute) }
                                td { (match r.action { crate::config::RequirementAction::Report => "Report if missing", crate::config::RequirementAction::Skip => "Skip if missing" }) }
                                td.actions { (remove_button(i)) } }
                        }
                    }
                } }
            }
        }
        form.panel method="post" {
            (ctx.csrf())
            h3 { "Add a requirement" }
            div.row {
                div.field { label for="r-kind" { "Kind" } (kind_select("r_kind", "r-kind")) }
                div.field { label for="r-attr" { "Attribute" } input #r-attr type="text" name="r_attribute" value=(typed_value(typed, "r_attribute")) placeholder="email" required; }
                div.field { label for="r-action" { "If missing" }
                    select #r-action name="r_action" { option value="report" { "Report if missing" } option value="skip" { "Skip if missing" } } }
            }
            div.buttons { button type="submit" name="go" value="add" { "Add requirement" } }
        }
    }
}

fn filter_text(f: &Filter) -> String {
    let j = serde_json::to_value(&f.rule).unwrap_or(Json::Null);
    let t = j.get("template").and_then(Json::as_str).unwrap_or("");
    let mut parts = Vec::new();
    if let Some(o) = j.as_object() {
        for (k, v) in o {
            if k != "template" {
                parts.push(format!("{k}: {}", compact(v)));
            }
        }
    }
    if parts.is_empty() {
        t.to_string()
    } else {
        format!("{t} ({})", parts.join("; "))
    }
}

fn compact(v: &Json) -> String {
    match v {
        Json::Array(items) => items.iter().map(compact).collect::<Vec<_>>().join(", "),
        Json::Object(o) => {
            let a = o.get("attribute").map(compact).unwrap_or_default();
            let op = o.get("op").map(compact).unwrap_or_default();
            let val = o
                .get("value")
                .filter(|v| !v.is_null())
                .map(compact)
                .or_else(|| o.get("values").map(compact))
                .unwrap_or_default();
            format!("{a} {op} {val}").trim().to_string()
        }
        other => super::layout::value_text(other),
    }
}

fn filters(ctx: &Ctx, view: &SourceView, typed: Option<&Form>) -> Markup {
    let list = &view.config.filters;
    html! {
        div.panel {
            h2 { "Filter Rules" }
            p.muted { "Records of a kind that do not pass its filters are left out. Start from a template, or write a custom filter from conditions." }
            form method="post" {
                (ctx.csrf())
                div.tablewrap { table {
                    thead { tr { th { "Kind" } th { "Keeps records that…" } th {} } }
                    tbody {
                        @if list.is_empty() { tr { td colspan="3" { p.empty { "No filter: every record goes on." } } } }
                        @for (i, f) in list.iter().enumerate() {
                            tr { td { (f.kind) } td.mono { (filter_text(f)) } td.actions { (remove_button(i)) } }
                        }
                    }
                } }
            }
        }
        form.panel method="post" {
            (ctx.csrf())
            h3 { "Add a filter" }
            div.row {
                div.field { label for="f-kind" { "Kind" } (kind_select("f_kind", "f-kind")) }
                div.field { label for="f-template" { "Template" }
                    select #f-template name="f_template" {
                        @for (v, l) in [("active-only", "Active records only"), ("has-email", "Has an email address"), ("grade-range", "Grade within a range"), ("school-in-list", "Belongs to listed schools"), ("custom", "Custom conditions")] {
                            option value=(v) selected[typed_value(typed, "f_template") == v] { (l) }
                        }
                    } }
            }
            div.row {
                div.field { label for="f-min" { "Lowest grade (range)" } input #f-min type="text" name="f_min" value=(typed_value(typed, "f_min")) placeholder="KG"; }
                div.field { label for="f-max" { "Highest grade (range)" } input #f-max type="text" name="f_max" value=(typed_value(typed, "f_max")) placeholder="05"; }
                div.field { label for="f-schools" { "School ids (listed schools)" } input #f-schools type="text" name="f_schools" value=(typed_value(typed, "f_schools")) placeholder="s1, s2"; }
            }
            fieldset {
                legend { "Custom conditions" }
                div.field { label for="f-match" { "Keep a record when" }
                    select #f-match name="f_match" { option value="all" { "all conditions hold" } option value="any" { "any condition holds" } } }
                @for n in 1..=3 {
                    div.row {
                        div.field { label for={ "c" (n) "-attr" } { "Attribute " (n) } input id={ "c" (n) "-attr" } type="text" name={ "c" (n) "_attribute" } value=(typed_value(typed, &format!("c{n}_attribute"))); }
                        div.field { label for={ "c" (n) "-op" } { "Condition " (n) }
                            select id={ "c" (n) "-op" } name={ "c" (n) "_op" } { @for (v, l) in OPS { option value=(v) selected[typed_value(typed, &format!("c{n}_op")) == *v] { (l) } } } }
                        div.field { label for={ "c" (n) "-value" } { "Value " (n) } input id={ "c" (n) "-value" } type="text" name={ "c" (n) "_value" } value=(typed_value(typed, &format!("c{n}_value"))); }
                    }
                }
            }
            div.buttons { button type="submit" name="go" value="add" { "Add filter" } }
        }
    }
}

fn filter_from(form: &Form) -> AppResult<Filter> {
    let t = form.text("f_template");
    let mut j = json!({"kind": form.text("f_kind"), "template": t});
    match t.as_str() {
        "active-only" | "has-email" => {}
        "grade-range" => {
            let (min, max) = (form.text("f_min"), form.text("f_max"));
            if min.is_empty() || max.is_empty() {
                return Err(AppError::invalid(
                    "a grade range needs its lowest and highest grade",
                ));
            }
            j["min"] = json!(min);
            j["max"] = json!(max);
        }
        "school-in-list" => {
            let schools: Vec<String> = form
                .text("f_schools")
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if schools.is_empty() {
                return Err(AppError::invalid(
                    "list the school ids to keep, comma-separated",
                ));
            }
            j["schools"] = json!(schools);
        }
        "custom" => {
            let mut conditions = Vec::new();
            for n in 1..=3 {
                let attribute = form.text(&format!("c{n}_attribute"));
                if attribute.is_empty() {
                    continue;
                }
                let op = form.text(&format!("c{n}_op"));
                let value = form.text(&format!("c{n}_value"));
                let mut c = json!({"attribute": attribute, "op": op});
                if op == "in" {
                    c["values"] = json!(
                        value
                            .split(',')
                            .map(|s| s.trim())
                            .filter(|s| !s.is_empty())
                            .collect::<Vec<_>>()
                    );
                } else if !matches!(op.as_str(), "is-empty" | "is-not-empty") {
                    c["value"] = json!(value);
                }
                conditions.push(c);
            }
            if conditions.is_empty() {
                return Err(AppError::invalid(
                    "a custom filter needs at least one condition: fill Attribute 1",
                ));
            }
            let key = if form.text("f_match") == "any" {
                "any"
            } else {
                "all"
            };
            j[key] = json!(conditions);
        }
        other => {
            return Err(AppError::invalid(format!(
                "`{other}` is not a filter template"
            )));
        }
    }
    serde_json::from_value(j)
        .map_err(|e| AppError::invalid(format!("the filter is not valid: {e}")))
}

fn domains(ctx: &Ctx, view: &SourceView, typed: Option<&Form>) -> Markup {
    let list = &view.config.domains;
    html! {
        div.panel {
            h2 { "Domains of Uniqueness" }
            p.muted { "Attributes whose equal values mean the same record, in priority order. Each applies within this source's feed and against every other source, first import included. Unattended domains merge matches; manual ones add the record and queue the pair in Duplicates for you. A new source starts with people matched by first name, last name and email; remove it to match on nothing." }
            form method="post" {
                (ctx.csrf())
                div.tablewrap { table {
                    thead { tr { th { "Priority" } th { "Kind" } th { "Attributes" } th { "Resolution" } th {} } }
                    tbody {
                        @if list.is_empty() { tr { td colspan="5" { p.empty { "None: the default for people applies." } } } }
                        @for (i, d) in list.iter().enumerate() {
                            tr {
                                td { (i + 1) } td { (d.kind) } td.mono { (d.attributes.join(" + ")) }
                                td { (match d.mode { crate::config::DomainMode::Unattended => "Unattended (merge)", crate::config::DomainMode::Manual => "Manual (ask)" }) }
                                td.actions {
                                    @if i > 0 { button.small type="submit" name="go" value={ "up-" (i) } aria-label={ "Move entry " (i + 1) " up" } { "↑" } " " }
                                    @if i + 1 < list.len() { button.small type="submit" name="go" value={ "down-" (i) } aria-label={ "Move entry " (i + 1) " down" } { "↓" } " " }
                                    (remove_button(i))
                                }
                            }
                        }
                    }
                } }
            }
        }
        form.panel method="post" {
            (ctx.csrf())
            h3 { "Add a domain" }
            div.row {
                div.field { label for="d-kind" { "Kind" } (kind_select("d_kind", "d-kind")) }
                div.field { label for="d-attrs" { "Attributes (comma-separated)" }
                    input #d-attrs type="text" name="d_attributes" value=(typed_value(typed, "d_attributes")) list="attr-suggestions" placeholder="givenName, familyName, birthDate" required;
                    datalist #attr-suggestions {
                        @for a in ["givenName, familyName, email", "email", "givenName, familyName, birthDate", "identifier", "username", "phone", "grades"] { option value=(a) {} }
                    } }
                div.field { label for="d-mode" { "Resolution" }
                    select #d-mode name="d_mode" { option value="unattended" { "Unattended: merge" } option value="manual" { "Manual: ask in Duplicates" } } }
            }
            div.buttons { button type="submit" name="go" value="add" { "Add domain" } }
        }
    }
}

async fn master_fields(
    app: &App,
    ctx: &Ctx,
    view: &SourceView,
    typed: Option<&Form>,
) -> AppResult<Markup> {
    let list = &view.config.master_fields;
    let sources = app.sources(&ctx.session.caller, &ctx.org.id).await?;
    Ok(html! {
        div.panel {
            h2 { "Master Fields" }
            p.muted { "Where several sources feed one record, name the source whose value wins for an attribute. Attribute `*` names all of a kind's attributes (\"all fields from the SIS\"). References a source states (enrollments, a class's school, a result's student) never have a master." }
            form method="post" {
                (ctx.csrf())
                div.tablewrap { table {
                    thead { tr { th { "Kind" } th { "Attribute" } th { "Wins" } th {} } }
                    tbody {
                        @if list.is_empty() { tr { td colspan="4" { p.empty { "No master field: the latest value from any source is kept." } } } }
                        @for (i, m) in list.iter().enumerate() {
                            tr { td { (m.kind) } td.mono { (m.attribute) } td { (m.source) } td.actions { (remove_button(i)) } }
                        }
                    }
                } }
            }
        }
        form.panel method="post" {
            (ctx.csrf())
            h3 { "Add a master field" }
            div.row {
                div.field { label for="mf-kind" { "Kind" } (kind_select("mf_kind", "mf-kind")) }
                div.field { label for="mf-attr" { "Attribute" } input #mf-attr type="text" name="mf_attribute" value=(typed_value(typed, "mf_attribute")) placeholder="email, or * for all" required; }
                div.field { label for="mf-source" { "Source that wins" }
                    select #mf-source name="mf_source" { @for s in &sources { option value=(s.id) selected[s.id == view.summary.id] { (s.name) " (" (s.id) ")" } } } }
            }
            div.buttons { button type="submit" name="go" value="add" { "Add master field" } }
        }
    })
}

fn schedule(view: &SourceView) -> Markup {
    let s = view.config.schedule.as_ref();
    let every = s.map(|s| match s.every {
        crate::config::Every::Hour => "hour",
        crate::config::Every::Day => "day",
        crate::config::Every::Week => "week",
    });
    let days = crate::config::WEEKDAYS;
    html! {
        div.panel {
            h2 { "Sync Schedule" }
            fieldset {
                legend { "Run" }
                @for (v, l) in [("", "Only when started by hand"), ("hour", "Every hour"), ("day", "Every day"), ("week", "Every week")] {
                    label.check { input type="radio" name="every" value=(v) checked[every.unwrap_or("") == v]; span { (l) } }
                }
            }
            div.row {
                div.field { label for="at" { "At (HH:MM, " (view.time_zone) ")" } input #at type="time" name="at" value=(s.and_then(|s| s.at.as_deref()).unwrap_or("")); }
                div.field { label for="weekday" { "On (weekly)" }
                    select #weekday name="weekday" {
                        option value="" { "—" }
                        @for d in days { option value=(d) selected[s.and_then(|s| s.weekday.as_deref()) == Some(d)] { (d) } }
                    } }
                div.field { label for="expires" { "Stop after (expiry date)" } input #expires type="date" name="expires" value=(s.and_then(|s| s.expires.as_deref()).unwrap_or("")); }
                div.field { label for="smode" { "Mode" }
                    select #smode name="mode" {
                        option value="full" selected[s.and_then(|s| s.mode.as_deref()) != Some("quick")] { "Full" }
                        option value="quick" selected[s.and_then(|s| s.mode.as_deref()) == Some("quick")] { "Quick (changes only)" }
                    } }
            }
            fieldset {
                legend { "Pause" }
                label.check { input type="checkbox" name="paused" value="1" checked[s.is_some_and(|s| s.paused)]; span { "Paused: nothing runs on schedule" } }
                div.field { label for="resume_on" { "Resume on (a summer pause ends by itself)" } input #resume_on type="date" name="resume_on" value=(s.and_then(|s| s.resume_on.as_deref()).unwrap_or("")); }
            }
            @if let Some(next) = &view.next_run {
                p.hint { "Next run: " (next) }
            }
        }
    }
}

fn schedule_from(form: &Form) -> AppResult<Option<Schedule>> {
    let s = schedule_parse(form)?;
    if let Some(s) = &s {
        s.check().map_err(AppError::from)?;
    }
    Ok(s)
}

/// The schedule the form says, unchecked.
fn schedule_parse(form: &Form) -> AppResult<Option<Schedule>> {
    let every = match form.text("every").as_str() {
        "" => return Ok(None),
        "hour" => crate::config::Every::Hour,
        "day" => crate::config::Every::Day,
        "week" => crate::config::Every::Week,
        other => return Err(AppError::invalid(format!("`{other}` is not a period"))),
    };
    let s = Schedule {
        weekday: form
            .opt("weekday")
            .filter(|_| every == crate::config::Every::Week),
        every,
        at: form.opt("at"),
        expires: form.opt("expires"),
        mode: form.opt("mode"),
        paused: form.opt("paused").is_some(),
        resume_on: form.opt("resume_on"),
    };
    Ok(Some(s))
}

async fn done(app: &App, ctx: &Ctx, view: &SourceView) -> AppResult<Markup> {
    let row = app
        .source_row(&ctx.session.caller, &ctx.org.id, &view.summary.id)
        .await?;
    let missing = app.missing(&ctx.org.id, &row).await?;
    let c = &view.config;
    Ok(html! {
        div.panel {
            h2 { "Review and finish" }
            @if missing.is_empty() {
                div.callout.ok { "Everything required is set. Finish enables the integration; then run an import from Integrations." }
            } @else {
                div.callout.warn { strong { "Still missing:" } ul { @for m in &missing { li { (m) } } } }
            }
            dl.facts {
                dt { "App" } dd { (view.summary.app_name) }
                dt { "Settings" } dd { (c.settings.len()) " set, " (view.secrets_set.len()) " secret(s) stored" }
                dt { "Schools" } dd { @match c.schools.mode { SchoolsMode::All => "All schools", SchoolsMode::Auto => "Auto Mapping (by name or identifier)", SchoolsMode::Selected => { (c.schools.selected.len()) " selected" } } }
                dt { "Attribute mappings" } dd { (c.mapping.len()) }
                dt { "Data requirements" } dd { (c.requirements.len()) }
                dt { "Filter rules" } dd { (c.filters.len()) }
                dt { "Domains of uniqueness" } dd { (c.domains.len()) }
                dt { "Master fields" } dd { (c.master_fields.len()) }
                dt { "Schedule" } dd { @if let Some(s) = &c.schedule { "every " (format!("{:?}", s.every).to_lowercase()) @if let Some(at) = &s.at { " at " (at) } } @else { "by hand" } }
                dt { "Approval" } dd { (match c.advanced.approval() {
                    crate::config::Approval::Review => "every run waits for review",
                    crate::config::Approval::Threshold => "a run commits unless it passes a hold threshold",
                    crate::config::Approval::Always => "every run commits",
                }) @if c.advanced.review_first { "; the first import waits for review" } }
            }
        }
    })
}

/// Index from a `remove-3` / `up-3` button value.
fn index(go: &str, prefix: &str, len: usize) -> Option<usize> {
    go.strip_prefix(prefix)
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n < len)
}

/// Apply an add / remove / move to a list step.
fn edit_list<T>(
    list: &mut Vec<T>,
    go: &str,
    add: impl FnOnce() -> AppResult<T>,
) -> AppResult<bool> {
    if go == "add" {
        list.push(add()?);
        return Ok(true);
    }
    if let Some(i) = index(go, "remove-", list.len()) {
        list.remove(i);
        return Ok(true);
    }
    if let Some(i) = index(go, "up-", list.len()).filter(|i| *i > 0) {
        list.swap(i, i - 1);
        return Ok(true);
    }
    if let Some(i) = index(go, "down-", list.len()).filter(|i| i + 1 < list.len()) {
        list.swap(i, i + 1);
        return Ok(true);
    }
    Ok(false)
}

async fn save_step(
    app: &App,
    ctx: &Ctx,
    id: &str,
    step: &str,
    go: &str,
    form: &Form,
) -> AppResult<String> {
    let caller = &ctx.session.caller;
    let org = &ctx.org.id;
    let view = app.source(caller, org, id).await?;
    let mut message = "saved".to_string();
    macro_rules! list_step {
        ($field:ident, $name:literal, $add:expr) => {{
            let mut list = view.config.$field.clone();
            if edit_list(&mut list, go, $add)? {
                let detail = serde_json::to_value(&list).unwrap_or_default();
                app.update_source(caller, org, id, $name, detail, move |c, _| {
                    c.$field = list;
                    Ok(())
                })
                .await?;
            } else {
                message.clear();
            }
        }};
    }
    match step {
        "delivery" => {
            let d = delivery_from(form, &view)?;
            app.delivery(caller, org, id, d).await?;
        }
        "terms" => {
            app.accept_terms(caller, org, id, form.has("accept"))
                .await?;
        }
        "schools" => {
            let mapping = if go == "auto" {
                SchoolsMapping {
                    mode: SchoolsMode::Auto,
                    selected: Vec::new(),
                }
            } else {
                let mut selected = form.all("school");
                selected.dedup();
                let was = form.text("mode_was");
                let listed = app.schools(caller, org, id).await.ok();
                let every = listed
                    .as_ref()
                    .is_some_and(|l| l.iter().all(|s| selected.contains(&s.source_id)));
                // Unchanged toggles keep "all" or Auto Mapping as they were.
                if (was == "all" || was == "auto") && (every || listed.is_none()) {
                    SchoolsMapping {
                        mode: if was == "auto" {
                            SchoolsMode::Auto
                        } else {
                            SchoolsMode::All
                        },
                        selected: Vec::new(),
                    }
                } else {
                    SchoolsMapping {
                        mode: SchoolsMode::Selected,
                        selected,
                    }
                }
            };
            let detail = serde_json::to_value(&mapping).unwrap_or_default();
            app.update_source(caller, org, id, "schools", detail, move |c, _| {
                c.schools = mapping;
                Ok(())
            })
            .await?;
        }
        "attributes" => list_step!(mapping, "mapping", || mapping_from(form)),
        "requirements" => list_step!(requirements, "requirements", || {
            let action = match form.text("r_action").as_str() {
                "skip" => crate::config::RequirementAction::Skip,
                _ => crate::config::RequirementAction::Report,
            };
            let attribute = form.text("r_attribute");
            if attribute.is_empty() {
                return Err(AppError::invalid("name the attribute that is required"));
            }
            Ok(Requirement {
                kind: form.text("r_kind"),
                attribute,
                action,
            })
        }),
        "filters" => list_step!(filters, "filters", || filter_from(form)),
        "domains" => list_step!(domains, "domains", || {
            let attributes: Vec<String> = form
                .text("d_attributes")
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if attributes.is_empty() {
                return Err(AppError::invalid("a domain needs at least one attribute"));
            }
            Ok(Domain {
                kind: form.text("d_kind"),
                attributes,
                mode: if form.text("d_mode") == "manual" {
                    crate::config::DomainMode::Manual
                } else {
                    crate::config::DomainMode::Unattended
                },
            })
        }),
        "master-fields" => list_step!(master_fields, "master_fields", || {
            let attribute = form.text("mf_attribute");
            if attribute.is_empty() {
                return Err(AppError::invalid("name the attribute"));
            }
            Ok(MasterField {
                kind: form.text("mf_kind"),
                attribute,
                source: form.text("mf_source"),
            })
        }),
        "schedule" => {
            let s = schedule_from(form)?;
            if let Some(s) = &s {
                app.check_schedule(caller, org, s).await?;
            }
            let detail = serde_json::to_value(&s).unwrap_or_default();
            app.update_source(caller, org, id, "schedule", detail, move |c, _| {
                c.schedule = s;
                Ok(())
            })
            .await?;
        }
        _ => message.clear(),
    }
    Ok(message)
}

async fn step_post(
    State(app): State<App>,
    session: Session,
    Path((org, id, step)): Path<(String, String, String)>,
    form: Form,
) -> UiResult {
    let ctx = ctx(&app, session, &org).await?;
    ctx.session.caller.require(&org, Role::Admin)?;
    let idx = step_index(&step)?;
    let go = form.text("go");
    let here = format!("/orgs/{org}/sources/{id}/setup");
    // List steps: the navigation form carries only `go`.
    let saved = save_step(&app, &ctx, &id, &step, &go, &form).await;
    if let Err(e) = saved {
        let status = crate::web::status(&e);
        if matches!(e, AppError::NotFound(_) | AppError::Forbidden(_)) {
            return Err(e.into());
        }
        return render(
            &app,
            &ctx,
            &id,
            &step,
            Some(("bad", e.to_string())),
            status,
            Some(&form),
        )
        .await;
    }
    match go.as_str() {
        "test" => {
            let result = app.test_connection(&ctx.session.caller, &org, &id).await?;
            let notice = if result.ok {
                ("ok", format!("Connection works: {}", result.message))
            } else {
                ("bad", format!("The connection failed: {}", result.message))
            };
            render(&app, &ctx, &id, &step, Some(notice), StatusCode::OK, None).await
        }
        "finish" => match app.finish(&ctx.session.caller, &org, &id).await {
            Ok(_) => Ok(see_other(&format!(
                "/orgs/{org}/integrations?done=finished"
            ))),
            Err(e) => {
                render(
                    &app,
                    &ctx,
                    &id,
                    &step,
                    Some(("bad", e.to_string())),
                    crate::web::status(&e),
                    None,
                )
                .await
            }
        },
        "next" => {
            let next = STEPS.get(idx + 1).map(|s| s.0).unwrap_or("done");
            Ok(see_other(&format!("{here}/{next}")))
        }
        _ => Ok(see_other(&format!("{here}/{step}?done=saved"))),
    }
}
