//! Reading: the connection test, the schools, and one page of one kind, in
//! full (the kind's collections paged by `starting_after`) or as a delta
//! from the events API.
//!
//! Cursors handed to the host: `COLLECTION:AFTER` for a full read (the
//! collection being read and the last id seen, empty at its start),
//! `ev:AFTER` for a delta (the last event id seen), and `full:COLLECTION:AFTER`
//! for a delta that had to read everything.
//!
//! Where a delta starts: each kind keeps [`Checkpoints`] in plugin storage
//! (`events.KIND`): the newest event when a full read began, and the last
//! event of every delta page, each with its time. A delta starts after the
//! latest checkpoint at or before the host's `since` (less
//! [`CLOCK_SLACK`]), so a run that read events but was never committed does
//! not make the next one skip them. With no such checkpoint, or when Clever
//! no longer keeps the events after it (a 404 or 400 on `starting_after`),
//! the delta reads everything instead and says so: deletions since then come
//! with the next full import.
//!
//! A page that does not start after the id it was asked to start after is a
//! server repeating itself: asked once more, then refused.

use homeroom_sdk::delta::{Checkpoints, unix_seconds};
use homeroom_sdk::env::Env;
use homeroom_sdk::{Entity, EntityKind, Page, PluginError, School};
use serde_json::Value as Json;

use crate::config::Config;
use crate::fetch::{self, List, Refused};
use crate::map::{self, Collection};

/// How far the host's clock and Clever's may disagree; a delta starts this
/// much earlier than `since` says (events read twice are harmless).
pub const CLOCK_SLACK: i64 = 5;
/// Warnings about single records logged per page; the rest are counted.
const WARNINGS_PER_PAGE: usize = 20;
/// Pages `list_schools` reads at most.
const MAX_SCHOOL_PAGES: usize = 1000;

fn storage_key(kind: EntityKind) -> String {
    format!("events.{}", kind.name())
}

use homeroom_sdk::paging::empty_page;

fn bad_cursor(cursor: &str) -> PluginError {
    PluginError::InvalidData(format!(
        "the paging cursor `{cursor}` is not one this connector wrote"
    ))
}

/// Read one page of `kind`.
pub fn read(
    env: &mut dyn Env,
    config: &Config,
    kind: EntityKind,
    since: Option<&str>,
    cursor: Option<&str>,
) -> Result<Page, PluginError> {
    let collections = map::collections(kind);
    if collections.is_empty() {
        return Ok(empty_page());
    }
    match (since, cursor) {
        (_, Some(c)) if c.starts_with("ev:") => {
            delta_page(env, config, kind, &c[3..], false)?.map_err(PluginError::InvalidData)
        }
        (_, Some(c)) => {
            let (fallback, rest) = match c.strip_prefix("full:") {
                Some(rest) => (true, rest),
                None => (false, c),
            };
            let (path, after) = rest.split_once(':').ok_or_else(|| bad_cursor(c))?;
            let collection = Collection::from_path(path)
                .filter(|col| collections.contains(col))
                .ok_or_else(|| bad_cursor(c))?;
            full_page(env, config, kind, collection, after, fallback)
        }
        (None, None) => {
            baseline(env, config, kind);
            full_page(env, config, kind, collections[0], "", false)
        }
        (Some(since), None) => {
            let start = unix_seconds(since).map(|s| s - CLOCK_SLACK);
            let marks = Checkpoints::from_bytes(env.storage_get(&storage_key(kind)).as_deref());
            match start.and_then(|s| marks.at_or_before(s)) {
                Some(mark) => {
                    let position = mark.position.clone();
                    match delta_page(env, config, kind, &position, true)? {
                        Ok(page) => Ok(page),
                        Err(expired) => fall_back(env, config, kind, &expired),
                    }
                }
                None => fall_back(
                    env,
                    config,
                    kind,
                    &format!(
                        "no Clever event was recorded for {} at or before the last committed run ({since})",
                        kind.name()
                    ),
                ),
            }
        }
    }
}

/// A delta that cannot be read from the events: everything instead.
fn fall_back(
    env: &mut dyn Env,
    config: &Config,
    kind: EntityKind,
    why: &str,
) -> Result<Page, PluginError> {
    env.warn(&format!(
        "{why}; reading all {} instead (a full resync: records deleted in Clever since then are removed by the next full import)",
        kind.name()
    ));
    baseline(env, config, kind);
    full_page(env, config, kind, map::collections(kind)[0], "", true)
}

/// Where the events stand as a full read begins, kept for the next delta.
/// A failure only costs the next quick import a full read, so it warns.
fn baseline(env: &mut dyn Env, config: &Config, kind: EntityKind) {
    let url = format!("{}/events?limit=1&ending_before=last", config.base);
    let doing = "finding the newest Clever event";
    let latest = fetch::get(env, &url, doing).and_then(|response| {
        if !(200..300).contains(&response.status) {
            return Err(fetch::status_error(&url, doing, &response));
        }
        fetch::list(&url, doing, &response)
    });
    let (position, at) = match latest {
        Ok(list) => match list.records.last() {
            Some(event) => match (
                map::id(event),
                map::text(event, "created").and_then(|t| unix_seconds(&t)),
            ) {
                (Some(id), Some(at)) => (id, at),
                _ => {
                    env.warn("the newest Clever event has no id or time; the next quick import reads everything");
                    return;
                }
            },
            // No events yet: the next delta starts at the beginning.
            None => (String::new(), 0),
        },
        Err(e) => {
            env.warn(&format!(
                "{}; the next quick import of {} reads everything",
                e.message(),
                kind.name()
            ));
            return;
        }
    };
    keep(env, kind, &position, at);
}

fn keep(env: &mut dyn Env, kind: EntityKind, position: &str, at: i64) {
    let key = storage_key(kind);
    let mut marks = Checkpoints::from_bytes(env.storage_get(&key).as_deref());
    marks.record(position, at);
    if let Err(why) = env.storage_set(&key, &marks.to_bytes()) {
        env.warn(&format!(
            "the position in Clever's events could not be kept ({why}); the next quick import of {} may read everything",
            kind.name()
        ));
    }
}

/// GET one page and read it, asking once more when it repeats what came
/// before `after`.
fn get_list(
    env: &mut dyn Env,
    url: &str,
    doing: &str,
    after: &str,
) -> Result<Result<List, Refused>, PluginError> {
    for attempt in 0..2 {
        let response = fetch::get(env, url, doing)?;
        if !(200..300).contains(&response.status) {
            return Ok(Err(Refused(response)));
        }
        let list = fetch::list(url, doing, &response)?;
        let repeats = !after.is_empty()
            && list
                .records
                .first()
                .and_then(map::id)
                .is_some_and(|first| first.as_str() <= after);
        if !repeats {
            return Ok(Ok(list));
        }
        if attempt == 0 {
            env.warn(&format!(
                "{doing}: Clever sent records from before `{after}` again; asking once more"
            ));
        }
    }
    Err(PluginError::InvalidData(format!(
        "{doing}: Clever sent records from before `{after}` twice; it ignores `starting_after`, so the read cannot page through it"
    )))
}

fn full_page(
    env: &mut dyn Env,
    config: &Config,
    kind: EntityKind,
    collection: Collection,
    after: &str,
    fallback: bool,
) -> Result<Page, PluginError> {
    let path = collection.path();
    let doing = if after.is_empty() {
        format!("reading {path}")
    } else {
        format!("reading {path} after {after}")
    };
    let url = fetch::page_url(&config.base, path, config.page_size, Some(after));
    let list = match get_list(env, &url, &doing, after)? {
        Ok(list) => list,
        Err(Refused(response)) => {
            return Err(fetch::status_error(&url, &doing, &response));
        }
    };
    let mut entities = Vec::new();
    let mut warnings = Warnings::default();
    for record in &list.records {
        match map::entities(config, kind, collection, record) {
            Ok(mapped) => entities.extend(mapped),
            Err(why) => warnings.warn(
                env,
                &format!("{doing}: a record skipped: {why}: {}", describe(record)),
            ),
        }
    }
    warnings.finish(env, &doing);
    let prefix = if fallback { "full:" } else { "" };
    let next = match continues(&list, config) {
        Some(after) => Some(format!("{prefix}{path}:{after}")),
        None => following(kind, collection).map(|c| format!("{prefix}{}:", c.path())),
    };
    Ok(Page {
        entities,
        next,
        total: None,
        ahead: Vec::new(),
    })
}

/// Where the page after this one starts, if one follows: the `next` link
/// decides; a body without `links` goes on after a full page. An empty page
/// always ends the read.
fn continues(list: &List, config: &Config) -> Option<String> {
    let last = list.records.last().and_then(map::id)?;
    if list.linked {
        list.next
            .clone()
            .map(|next| if next.is_empty() { last } else { next })
    } else {
        (list.records.len() as u64 >= config.page_size).then_some(last)
    }
}

fn following(kind: EntityKind, collection: Collection) -> Option<Collection> {
    let all = map::collections(kind);
    let at = all.iter().position(|c| *c == collection)?;
    all.get(at + 1).copied()
}

/// The `record_type`s of a kind's events.
fn record_types(kind: EntityKind) -> String {
    map::collections(kind)
        .iter()
        .map(|c| format!("&record_type={}", c.path()))
        .collect()
}

/// One page of events after `after` (empty: from the oldest Clever keeps).
/// `Ok(Err(why))` when this is the delta's first page and Clever no longer
/// keeps the event it starts after: the caller reads everything instead.
fn delta_page(
    env: &mut dyn Env,
    config: &Config,
    kind: EntityKind,
    after: &str,
    first: bool,
) -> Result<Result<Page, String>, PluginError> {
    let url = format!(
        "{}{}",
        fetch::page_url(&config.base, "events", config.page_size, Some(after)),
        record_types(kind)
    );
    let doing = if after.is_empty() {
        format!("reading the {} events", kind.name())
    } else {
        format!("reading the {} events after {after}", kind.name())
    };
    let list = match get_list(env, &url, &doing, after)? {
        Ok(list) => list,
        Err(Refused(response))
            if first && !after.is_empty() && matches!(response.status, 400 | 404 | 410) =>
        {
            let said = fetch::says(&response.body)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            return Ok(Err(format!(
                "Clever no longer keeps the events after {after} (HTTP {}{said}): the events window has passed",
                response.status
            )));
        }
        Err(Refused(response)) => return Err(fetch::status_error(&url, &doing, &response)),
    };
    let mut changes: Vec<Entity> = Vec::new();
    let mut warnings = Warnings::default();
    for event in &list.records {
        match event_entities(config, kind, event) {
            Ok(entities) => {
                for e in entities {
                    // The last event of a record on a page wins.
                    changes.retain(|c| c.source_id != e.source_id);
                    changes.push(e);
                }
            }
            Err(why) => warnings.warn(
                env,
                &format!("{doing}: an event skipped: {why}: {}", describe(event)),
            ),
        }
    }
    warnings.finish(env, &doing);
    if let Some(event) = list.records.last()
        && let (Some(id), Some(at)) = (
            map::id(event),
            map::text(event, "created").and_then(|t| unix_seconds(&t)),
        )
    {
        keep(env, kind, &id, at);
    }
    let next = continues(&list, config).map(|after| format!("ev:{after}"));
    Ok(Ok(Page {
        entities: changes,
        next,
        total: None,
        ahead: Vec::new(),
    }))
}

/// What one event means for `kind`, as the Changes to sync setting allows.
fn event_entities(config: &Config, kind: EntityKind, event: &Json) -> Result<Vec<Entity>, String> {
    let kind_of = map::text(event, "type").ok_or("the event has no type")?;
    let (path, action) = kind_of
        .split_once('.')
        .ok_or_else(|| format!("the event type `{kind_of}` is not COLLECTION.ACTION"))?;
    let Some(collection) =
        Collection::from_path(path).filter(|c| map::collections(kind).contains(c))
    else {
        return Ok(Vec::new());
    };
    let record = event
        .get("data")
        .and_then(|d| d.get("object"))
        .filter(|o| o.is_object())
        .ok_or("the event has no data.object")?;
    let allowed = match action {
        "created" => config.changes.adds,
        "updated" => config.changes.edits,
        "deleted" => config.changes.deletes,
        other => {
            return Err(format!(
                "the event action `{other}` is not created, updated or deleted"
            ));
        }
    };
    let mut out = Vec::new();
    if allowed {
        let now = map::entities(config, kind, collection, record)?;
        if action == "deleted" {
            out.extend(now.into_iter().map(map::deleted));
        } else {
            out.extend(now);
        }
    }
    // An update that takes students or teachers out of a section deletes
    // their enrollments.
    if kind == EntityKind::Enrollment && action == "updated" && config.changes.deletes {
        let before = event
            .get("previous_attributes")
            .cloned()
            .unwrap_or(Json::Null);
        let mut gone = record.clone();
        for key in ["students", "teachers"] {
            gone[key] = Json::from(map::removed(&before, record, key));
        }
        out.extend(map::enrollments(&gone, None)?.into_iter().map(map::deleted));
    }
    Ok(out)
}

/// Per-page warning budget.
#[derive(Default)]
struct Warnings(usize);

impl Warnings {
    fn warn(&mut self, env: &mut dyn Env, message: &str) {
        if self.0 < WARNINGS_PER_PAGE {
            env.warn(message);
        }
        self.0 += 1;
    }

    fn finish(self, env: &mut dyn Env, doing: &str) {
        if self.0 > WARNINGS_PER_PAGE {
            env.warn(&format!(
                "{doing}: {} more warnings on this page",
                self.0 - WARNINGS_PER_PAGE
            ));
        }
    }
}

fn describe(record: &Json) -> String {
    homeroom_sdk::oneroster::describe(record)
}

/// Every school Clever shares (`GET schools`, all pages).
pub fn list_schools(env: &mut dyn Env, config: &Config) -> Result<Vec<School>, PluginError> {
    let mut schools = Vec::new();
    let mut after = String::new();
    for _ in 0..MAX_SCHOOL_PAGES {
        let doing = "listing schools";
        let url = fetch::page_url(&config.base, "schools", config.page_size, Some(&after));
        let list = match get_list(env, &url, doing, &after)? {
            Ok(list) => list,
            Err(Refused(response)) => return Err(fetch::status_error(&url, doing, &response)),
        };
        for record in &list.records {
            let Some(id) = map::id(record) else {
                env.warn(&format!(
                    "a school without id skipped: {}",
                    describe(record)
                ));
                continue;
            };
            schools.push(School {
                name: map::text(record, "name").unwrap_or_else(|| id.clone()),
                identifier: map::text(record, "school_number")
                    .or_else(|| map::text(record, "sis_id")),
                source_id: id,
            });
        }
        match continues(&list, config) {
            Some(next) => after = next,
            None => return Ok(schools),
        }
    }
    Err(PluginError::InvalidData(format!(
        "`schools`: more than {MAX_SCHOOL_PAGES} pages of schools; Clever's paging does not end"
    )))
}

/// One cheap read of the district, then the schools, then whether the
/// events API answers (quick imports need it).
pub fn test_connection(env: &mut dyn Env, config: &Config) -> Result<String, PluginError> {
    let url = format!("{}/districts", config.base);
    let doing = "reading the district";
    let response = fetch::get(env, &url, doing)?;
    if !(200..300).contains(&response.status) {
        return Err(fetch::status_error(&url, doing, &response));
    }
    let list = fetch::list(&url, doing, &response).map_err(|_| {
        PluginError::Config(format!(
            "{url} answered, but not with a Clever list of districts: check the Service URL and the API version"
        ))
    })?;
    let district = list
        .records
        .first()
        .and_then(|d| map::text(d, "name"))
        .unwrap_or_else(|| "no district".into());
    let schools = list_schools(env, config)?;
    let events_url = format!("{}/events?limit=1", config.base);
    let events = match fetch::get(env, &events_url, "reading events") {
        Ok(r) if (200..300).contains(&r.status) => {
            "events: available for quick imports".to_string()
        }
        Ok(r) => format!(
            "events: not available (HTTP {}), so quick imports read everything",
            r.status
        ),
        Err(e) => format!("events: could not tell ({})", e.message()),
    };
    Ok(format!(
        "Clever v{} at {}: {district}, {} school{}; {events}",
        config.version,
        config.base,
        schools.len(),
        if schools.len() == 1 { "" } else { "s" }
    ))
}
