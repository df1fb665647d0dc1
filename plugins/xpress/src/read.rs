//! Reading: the connection test, the schools, and one page of one kind, in
//! full (each of the kind's collections paged by `navigationPage`) or as
//! the changes since each collection's `changesSinceMarker`.
//!
//! Cursors handed to the host: `f|COLLECTION|PAGE|FIRST` for a full read
//! and `d|COLLECTION|PAGE|FIRST|MARKER` for a delta, where FIRST is the
//! first refId of the page before (a page that starts with it again is the
//! provider repeating itself: asked once more, then refused) and MARKER the
//! marker the delta reads from (empty: look it up).
//!
//! Where a delta starts: the first page of every collection a full read or
//! a delta reads keeps the `changesSinceMarker` its answer carries, with
//! the answer's `Date` (the sandbox clock is frozen), as [`Checkpoints`]
//! in plugin storage (`marker.KIND.COLLECTION`). A delta starts from the
//! first checkpoint at or after the host's `since` (less [`CLOCK_SLACK`]):
//! the one the last committed run took as it began. With none (the provider
//! sends no marker: it offers no changes since), or when the provider
//! refuses a marker (400, 404 or 410), the delta reads everything instead
//! and says so. Deletions are not in xPress's changes: they come with the
//! next full import.

use homeroom_sdk::delta::{Checkpoints, unix_seconds};
use homeroom_sdk::env::Env;
use homeroom_sdk::paging::{self, PageNumber};
use homeroom_sdk::{Entity, EntityKind, Page, PluginError, School};
use serde_json::Value as Json;

use crate::config::Config;
use crate::fetch::{self, Answer};
use crate::map::{self, Collection};

/// How far the host's clock and the provider's may disagree, in seconds.
pub const CLOCK_SLACK: i64 = 5;
/// Warnings about single records logged per page; the rest are counted.
const WARNINGS_PER_PAGE: usize = 20;
/// Pages a list of every school or district reads at most.
const MAX_LIST_PAGES: u64 = 1000;

fn storage_key(kind: EntityKind, collection: Collection) -> String {
    format!("marker.{}.{}", kind.name(), collection.path())
}

use homeroom_sdk::paging::empty_page;

fn bad_cursor(cursor: &str) -> PluginError {
    PluginError::InvalidData(format!(
        "the paging cursor {cursor} is not one this connector wrote; run the import again"
    ))
}

/// Where one read call stands.
struct At {
    collection: Collection,
    page: u64,
    /// The first refId of the page before (empty on page 1).
    first: String,
    /// Some: a delta from this marker (empty: look it up).
    marker: Option<String>,
}

fn parse(cursor: &str, kind: EntityKind) -> Result<At, PluginError> {
    let parts: Vec<&str> = cursor.splitn(5, '|').collect();
    let delta = match parts.first() {
        Some(&"f") if parts.len() == 4 => false,
        Some(&"d") if parts.len() == 5 => true,
        _ => return Err(bad_cursor(cursor)),
    };
    let collection = Collection::from_path(parts[1])
        .filter(|c| map::collections(kind).contains(c))
        .ok_or_else(|| bad_cursor(cursor))?;
    let page = parts[2]
        .parse::<u64>()
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| bad_cursor(cursor))?;
    Ok(At {
        collection,
        page,
        first: parts[3].to_string(),
        marker: delta.then(|| parts[4].to_string()),
    })
}

fn cursor(at: &At) -> String {
    match &at.marker {
        None => format!("f|{}|{}|{}", at.collection.path(), at.page, at.first),
        Some(m) => format!("d|{}|{}|{}|{m}", at.collection.path(), at.page, at.first),
    }
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
    let start = |marker| At {
        collection: collections[0],
        page: 1,
        first: String::new(),
        marker,
    };
    let mut at = match (since, cursor) {
        (_, Some(c)) => parse(c, kind)?,
        (None, None) => start(None),
        (Some(_), None) => start(Some(String::new())),
    };
    if at.marker.as_deref() == Some("") {
        let found = since.and_then(|s| marker_for(env, kind, at.collection, s));
        match found {
            Some(m) => at.marker = Some(m),
            None => {
                return fall_back(
                    env,
                    config,
                    kind,
                    &format!(
                        "the provider gave no change marker for {} when the last committed run read it (it may offer no changes since)",
                        at.collection.path()
                    ),
                );
            }
        }
    }
    page(env, config, kind, at)
}

/// The marker the last committed run took for `collection` as it began.
fn marker_for(
    env: &dyn Env,
    kind: EntityKind,
    collection: Collection,
    since: &str,
) -> Option<String> {
    let since = unix_seconds(since)? - CLOCK_SLACK;
    let marks = Checkpoints::from_bytes(env.storage_get(&storage_key(kind, collection)).as_deref());
    marks.first_at_or_after(since).map(|m| m.position.clone())
}

/// A delta that cannot be read from markers: everything instead.
fn fall_back(
    env: &mut dyn Env,
    config: &Config,
    kind: EntityKind,
    why: &str,
) -> Result<Page, PluginError> {
    env.warn(&format!(
        "{why}; reading all {} instead (a full resync: records deleted since then are removed by the next full import)",
        kind.name()
    ));
    let at = At {
        collection: map::collections(kind)[0],
        page: 1,
        first: String::new(),
        marker: None,
    };
    page(env, config, kind, at)
}

fn keep(env: &mut dyn Env, kind: EntityKind, collection: Collection, answer: &Answer) {
    let (Some(marker), Some(date)) = (&answer.marker, answer.date) else {
        return;
    };
    let key = storage_key(kind, collection);
    let mut marks = Checkpoints::from_bytes(env.storage_get(&key).as_deref());
    marks.record(marker.clone(), date);
    if let Err(why) = env.storage_set(&key, &marks.to_bytes()) {
        env.warn(&format!(
            "the change marker of {} could not be kept ({why}); the next quick import of {} may read everything",
            collection.path(),
            kind.name()
        ));
    }
}

fn page(env: &mut dyn Env, config: &Config, kind: EntityKind, at: At) -> Result<Page, PluginError> {
    let path = at.collection.path();
    let mut url = format!("{}/{path}", config.base);
    if let Some(marker) = &at.marker {
        url.push_str("?changesSinceMarker=");
        url.push_str(&paging::encode(marker));
    }
    let doing = match &at.marker {
        None => format!("reading {path} page {}", at.page),
        Some(_) => format!("reading the changes to {path}, page {}", at.page),
    };
    let mut answer = None;
    for attempt in 0..2 {
        let response = fetch::get_page(env, &url, at.page, config.page_size, &doing)?;
        if at.marker.is_some() && at.page == 1 && matches!(response.status, 400 | 404 | 410) {
            let said = fetch::says(&response.body)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            return fall_back(
                env,
                config,
                kind,
                &format!(
                    "the provider no longer takes the change marker of {path} (HTTP {}{said})",
                    response.status
                ),
            );
        }
        let got = fetch::answer(&url, &doing, &response)?;
        let repeats = !at.first.is_empty()
            && got.records.first().and_then(map::ref_id).as_deref() == Some(at.first.as_str());
        if !repeats {
            answer = Some(got);
            break;
        }
        if attempt == 0 {
            env.warn(&format!(
                "{doing}: the provider sent the page before again; asking once more"
            ));
        }
    }
    let Some(answer) = answer else {
        return Err(PluginError::InvalidData(format!(
            "{doing}: the provider sent the page before again, twice; it ignores navigationPage, so the read cannot page through {path}. Ask the provider to check its paging"
        )));
    };
    if at.page == 1 {
        keep(env, kind, at.collection, &answer);
    }
    let leas = if at.collection == Collection::Contacts {
        leas(env, config)?
    } else {
        Vec::new()
    };
    let mut entities: Vec<Entity> = Vec::new();
    let mut skipped = 0usize;
    for record in &answer.records {
        match map::entities(kind, at.collection, record, &leas) {
            Ok(mapped) => entities.extend(mapped),
            Err(why) => {
                skipped += 1;
                if skipped <= WARNINGS_PER_PAGE {
                    env.warn(&format!(
                        "{doing}: a record skipped: {why}: {}",
                        homeroom_sdk::oneroster::describe(record)
                    ));
                }
            }
        }
    }
    if skipped > WARNINGS_PER_PAGE {
        env.warn(&format!(
            "{doing}: {} more records skipped on this page",
            skipped - WARNINGS_PER_PAGE
        ));
    }
    let numbered = PageNumber {
        page: at.page,
        size: config.page_size,
    };
    let received = answer.records.len() as u64;
    let next = match numbered.next(received, answer.served, answer.last_page) {
        Some(n) => Some(At {
            collection: at.collection,
            page: n,
            first: answer
                .records
                .first()
                .and_then(map::ref_id)
                .unwrap_or_default(),
            marker: at.marker.clone(),
        }),
        None => following(kind, at.collection).map(|c| At {
            collection: c,
            page: 1,
            first: String::new(),
            marker: at.marker.as_ref().map(|_| String::new()),
        }),
    };
    Ok(Page {
        entities,
        next: next.as_ref().map(cursor),
        total: None,
        ahead: Vec::new(),
    })
}

fn following(kind: EntityKind, collection: Collection) -> Option<Collection> {
    let all = map::collections(kind);
    let at = all.iter().position(|c| *c == collection)?;
    all.get(at + 1).copied()
}

/// Every record of a small collection (xSchools, xLeas), all pages.
fn list_all(
    env: &mut dyn Env,
    config: &Config,
    collection: Collection,
    doing: &str,
) -> Result<(Vec<Json>, Option<String>), PluginError> {
    let url = format!("{}/{}", config.base, collection.path());
    let mut all = Vec::new();
    let mut marker = None;
    let mut numbered = PageNumber {
        page: 1,
        size: config.page_size,
    };
    let mut first = String::new();
    while numbered.page <= MAX_LIST_PAGES {
        let response = fetch::get_page(env, &url, numbered.page, numbered.size, doing)?;
        let answer = fetch::answer(&url, doing, &response)?;
        let head = answer
            .records
            .first()
            .and_then(map::ref_id)
            .unwrap_or_default();
        if numbered.page > 1 && !head.is_empty() && head == first {
            return Err(PluginError::InvalidData(format!(
                "{doing}: the provider sent the page before again; it ignores navigationPage. Ask the provider to check its paging"
            )));
        }
        if numbered.page == 1 {
            marker = answer.marker.clone();
        }
        first = head;
        let received = answer.records.len() as u64;
        all.extend(answer.records);
        match numbered.next(received, answer.served, answer.last_page) {
            Some(n) => numbered.page = n,
            None => return Ok((all, marker)),
        }
    }
    Err(PluginError::InvalidData(format!(
        "{doing}: more than {MAX_LIST_PAGES} pages; the provider's paging does not end"
    )))
}

/// The district's refIds (a contact's orgs).
fn leas(env: &mut dyn Env, config: &Config) -> Result<Vec<String>, PluginError> {
    let (records, _) = list_all(
        env,
        config,
        Collection::Leas,
        "listing the districts (xLeas)",
    )?;
    Ok(records.iter().filter_map(map::ref_id).collect())
}

/// Every school the provider shares (xSchools, all pages).
pub fn list_schools(env: &mut dyn Env, config: &Config) -> Result<Vec<School>, PluginError> {
    let (records, _) = list_all(
        env,
        config,
        Collection::Schools,
        "listing schools (xSchools)",
    )?;
    let mut schools = Vec::new();
    for record in &records {
        let Some(id) = map::ref_id(record) else {
            env.warn(&format!(
                "a school without refId skipped: {}",
                homeroom_sdk::oneroster::describe(record)
            ));
            continue;
        };
        schools.push(School {
            name: homeroom_sdk::json::text(record, "schoolName").unwrap_or_else(|| id.clone()),
            identifier: homeroom_sdk::json::text(record, "localId"),
            source_id: id,
        });
    }
    Ok(schools)
}

/// The districts, then the schools, and whether the provider gives change
/// markers (quick imports need them).
pub fn test_connection(env: &mut dyn Env, config: &Config) -> Result<String, PluginError> {
    let doing = "reading the districts (xLeas)";
    let (leas, marker) = list_all(env, config, Collection::Leas, doing).map_err(|e| match e {
        PluginError::InvalidData(m) => PluginError::Config(format!(
            "{m}; {} answered, but not as an xPress Roster provider: check the Service Base URL",
            config.base
        )),
        other => other,
    })?;
    let names: Vec<String> = leas
        .iter()
        .filter_map(|l| homeroom_sdk::json::text(l, "leaName"))
        .collect();
    let district = if names.is_empty() {
        "no district".to_string()
    } else {
        names.join(", ")
    };
    let schools = list_schools(env, config)?;
    let changes = if marker.is_some() {
        "changes since: available for quick imports"
    } else {
        "changes since: not offered, so quick imports read everything"
    };
    Ok(format!(
        "xPress Roster at {}: {district}, {} school{}; {changes}",
        config.base,
        schools.len(),
        if schools.len() == 1 { "" } else { "s" }
    ))
}
