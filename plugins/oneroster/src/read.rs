//! Reading: the connection test, the list of schools, and one page of one
//! entity kind (full by `limit`/`offset`, or a delta by
//! `filter=dateLastModified>'…'`), mapped to entities by the SDK's
//! [`homeroom_sdk::oneroster`] mapping.
//!
//! The cursor handed to the host is the next offset (`"2000"`), or
//! `"full:2000"` once a server refused the delta filter and the read fell
//! back to the full set, as the WIT contract allows.
//!
//! When the first page's server says its total, the page lists the rest
//! `ahead` (`"one:LIMIT:OFFSET:MARK"`, each a single page), so the host reads
//! several at once; `next` then goes on past the total, in case the total
//! was short. `MARK` names the first page, to catch a server that ignores
//! `offset` on an instance that never saw the first page.
//!
//! Many providers offer rostering only. A 404 or 501 on the first page of a
//! gradebook or resources collection, or of `demographics`, means the server
//! does not offer that kind: the read answers `unsupported` naming the
//! service and the kind ([`fetch::not_offered`]), and the host imports the
//! other kinds and keeps this kind's records. The connection test says which
//! of these the server offers.

use homeroom_sdk::connector_bindings::homeroom::plugin::http::{Method, Response};
use homeroom_sdk::oneroster::{self, Service, Version};
use homeroom_sdk::paging::Offset;
use homeroom_sdk::{Entity, EntityKind, Page, PluginError, School};
use serde_json::Value as Json;

use crate::config::Config;
use crate::env::Env;
use crate::fetch::{self, CollectionError, Link, Purpose};

/// Warnings about single fields logged per page; the rest are counted.
const WARNINGS_PER_PAGE: usize = 20;
/// Pages `list_schools` reads at most (a district has hundreds of schools).
const MAX_SCHOOL_PAGES: usize = 1000;

/// What the previous page of a read looked like, to catch a server that
/// ignores `offset` and sends the same page again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageMark {
    kind: EntityKind,
    since: Option<String>,
    offset: u64,
    first: Option<String>,
    last: Option<String>,
    len: usize,
}

impl PageMark {
    fn of(kind: EntityKind, since: Option<&str>, offset: u64, records: &[Json]) -> PageMark {
        PageMark {
            kind,
            since: since.map(str::to_string),
            offset,
            first: records.first().and_then(oneroster::sourced_id),
            last: records.last().and_then(oneroster::sourced_id),
            len: records.len(),
        }
    }

    /// Whether `next` holds what this page held, at a later offset.
    fn repeats_in(&self, next: &PageMark) -> bool {
        self.kind == next.kind
            && self.since == next.since
            && self.offset < next.offset
            && next.len > 0
            && (self.first.as_ref(), self.last.as_ref(), self.len)
                == (next.first.as_ref(), next.last.as_ref(), next.len)
    }
}

/// One page as the server sent it.
struct RawPage {
    records: Vec<Json>,
    total: Option<u64>,
    link: Link,
}

fn parse_page(
    config: &Config,
    purpose: &Purpose,
    key: &str,
    url: &str,
    response: &Response,
) -> Result<RawPage, PluginError> {
    let doing = match purpose.offset {
        Some(o) => format!("`{}` at offset {o}", purpose.resource),
        None => format!("`{}`", purpose.resource),
    };
    let records = fetch::collection(&response.body, key).map_err(|e| match e {
        CollectionError::NotJson(why) => PluginError::InvalidData(format!(
            "{doing}: the answer of {url} is not valid JSON ({why}); the server sent a broken page (a cut connection or a server error), run again"
        )),
        CollectionError::NoCollection => PluginError::InvalidData(format!(
            "{doing}: the answer of {url} has no `{key}` list, so it is not a OneRoster {} collection",
            config.version.label()
        )),
    })?;
    Ok(RawPage {
        records,
        total: fetch::total_count(response),
        link: fetch::link(response),
    })
}

/// GET one page; `Err(Ok(response))` hands back a non-2xx answer so the
/// caller may decide what it means.
fn get_page(
    env: &mut dyn Env,
    config: &Config,
    purpose: &Purpose,
    key: &str,
    url: &str,
) -> Result<Result<RawPage, Response>, PluginError> {
    let response = fetch::send(env, config, purpose, url, None)?;
    if !(200..300).contains(&response.status) {
        return Ok(Err(response));
    }
    parse_page(config, purpose, key, url, &response).map(Ok)
}

/// Most pages one first page lists ahead; the read pages on by `next` past them.
const MAX_AHEAD: u64 = 5000;

/// Where a cursor points.
struct Position {
    /// The read fell back to the full set.
    full: bool,
    offset: u64,
    limit: u64,
    /// A page listed ahead: read it alone; the first page's mark.
    single: Option<u64>,
}

fn parse_cursor(cursor: Option<&str>, limit: u64) -> Result<Position, PluginError> {
    let bad = |c: &str| {
        PluginError::InvalidData(format!(
            "the paging cursor `{c}` is not one this connector wrote"
        ))
    };
    let (full, rest) = match cursor {
        Some(c) => match c.strip_prefix("full:") {
            Some(rest) => (true, Some(rest)),
            None => (false, Some(c)),
        },
        None => (false, None),
    };
    if let Some(one) = rest.and_then(|r| r.strip_prefix("one:")) {
        let mut parts = one.split(':').map(str::parse::<u64>);
        return match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(Ok(limit)), Some(Ok(offset)), Some(Ok(mark)), None) if limit > 0 => {
                Ok(Position {
                    full,
                    offset,
                    limit,
                    single: Some(mark),
                })
            }
            _ => Err(bad(cursor.unwrap_or_default())),
        };
    }
    let o = Offset::from_cursor(rest, limit)?;
    Ok(Position {
        full,
        offset: o.offset,
        limit: o.limit,
        single: None,
    })
}

impl PageMark {
    /// A short name of the page's contents, carried in the cursors listed
    /// ahead of it.
    fn digest(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        (&self.first, &self.last, self.len).hash(&mut h);
        h.finish()
    }
}

/// The filter of a delta read.
pub fn delta_filter(since: &str) -> String {
    format!("dateLastModified>'{}'", since.replace('\'', ""))
}

/// Read one page of `kind`.
pub fn read(
    env: &mut dyn Env,
    config: &Config,
    kind: EntityKind,
    since: Option<&str>,
    cursor: Option<&str>,
    memory: &mut Option<PageMark>,
) -> Result<Page, PluginError> {
    let Some(endpoint) = oneroster::endpoint(kind) else {
        // Agents come inside users' `agents` attribute; OneRoster has no
        // collection of them.
        return Ok(Page {
            entities: Vec::new(),
            next: None,
            total: Some(0),
            ahead: Vec::new(),
        });
    };
    let position = parse_cursor(cursor, config.page_size)?;
    let mut full = position.full;
    let (offset, limit) = (position.offset, position.limit);
    let purpose = Purpose {
        resource: endpoint.path,
        service: endpoint.service,
        method: Method::Get,
        offset: Some(offset),
    };
    // A 404 or 501 on the first page of an optional part of the server
    // (gradebook, resources, demographics) says the source does not offer
    // the kind; on a later page the collection was there, so it stays an
    // error.
    let first = cursor.is_none();
    let refused = |url: &str, response: &Response| {
        first
            .then(|| fetch::not_offered(&purpose, url, response))
            .flatten()
            .unwrap_or_else(|| fetch::status_error(config, &purpose, url, response))
    };
    let filter = since.filter(|_| !full).map(delta_filter);
    let url = fetch::collection_url(
        config,
        endpoint.service,
        endpoint.path,
        limit,
        offset,
        filter.as_deref(),
    );
    let mut page = match get_page(env, config, &purpose, endpoint.path, &url)? {
        Ok(page) => page,
        Err(response) if response.status == 400 && filter.is_some() && offset == 0 => {
            env.warn(&format!(
                "`{}`: the server refused the delta filter {} (400{}); reading the full set instead",
                endpoint.path,
                filter.as_deref().unwrap_or_default(),
                fetch::server_says(&response.body).map(|s| format!(": {s}")).unwrap_or_default()
            ));
            full = true;
            let url =
                fetch::collection_url(config, endpoint.service, endpoint.path, limit, offset, None);
            match get_page(env, config, &purpose, endpoint.path, &url)? {
                Ok(page) => page,
                Err(response) => return Err(refused(&url, &response)),
            }
        }
        Err(response) => return Err(refused(&url, &response)),
    };

    let since_key = since.filter(|_| !full);
    let mark = PageMark::of(kind, since_key, offset, &page.records);
    let repeats_first =
        |m: &PageMark| position.single == Some(m.digest()) && offset > 0 && m.len > 0;
    if memory.as_ref().is_some_and(|m| m.repeats_in(&mark)) || repeats_first(&mark) {
        env.warn(&format!(
            "`{}` at offset {offset}: the server sent the records of the previous page again; asking once more",
            endpoint.path
        ));
        page = match get_page(env, config, &purpose, endpoint.path, &url)? {
            Ok(page) => page,
            Err(response) => return Err(refused(&url, &response)),
        };
        let again = PageMark::of(kind, since_key, offset, &page.records);
        if memory.as_ref().is_some_and(|m| m.repeats_in(&again)) || repeats_first(&again) {
            return Err(PluginError::InvalidData(format!(
                "`{}` at offset {offset}: the server sent the same records as at offset {} twice; it ignores `offset`, so the read cannot page through it",
                endpoint.path,
                memory.as_ref().map(|m| m.offset).unwrap_or_default()
            )));
        }
    }
    *memory = Some(PageMark::of(kind, since_key, offset, &page.records));

    let received = page.records.len() as u64;
    // Mapped record by record, each parsed record freed as it goes: an
    // instance's memory holds one page once, not twice.
    let entities = map_records(
        env,
        kind,
        endpoint.path,
        offset,
        std::mem::take(&mut page.records),
    )?;
    let prefix = if full { "full:" } else { "" };
    let (next, ahead) = match (position.single, page.total) {
        (Some(_), _) => (None, Vec::new()),
        // The first page of a server that says its total: the rest can be
        // read at once, in strides of what this page held (a server may cap
        // `limit`).
        (None, Some(total))
            if cursor.is_none()
                && received > 0
                && total > received
                && page.link != Link::NoNext =>
        {
            let digest = memory.as_ref().map_or(0, PageMark::digest);
            let pages = (total - received).div_ceil(received).min(MAX_AHEAD);
            let ahead = (1..=pages)
                .map(|i| format!("{prefix}one:{received}:{}:{digest}", i * received))
                .collect();
            (Some(format!("{prefix}{}", (pages + 1) * received)), ahead)
        }
        _ => (
            fetch::next_offset(offset, limit, received, page.total, page.link)
                .map(|n| format!("{prefix}{n}")),
            Vec::new(),
        ),
    };
    if received > 0 {
        env.progress(offset + received, page.total);
    }
    Ok(Page {
        entities,
        next,
        total: page.total,
        ahead,
    })
}

/// Map a page's records; a record that cannot be mapped is skipped with a
/// warning naming it, but a page of which no record maps is refused.
fn map_records(
    env: &mut dyn Env,
    kind: EntityKind,
    path: &str,
    offset: u64,
    records: Vec<Json>,
) -> Result<Vec<Entity>, PluginError> {
    let mut entities = Vec::with_capacity(records.len());
    let mut warnings = 0usize;
    let mut skipped = 0usize;
    for (i, record) in records.into_iter().enumerate() {
        match oneroster::entity_from_json(kind, &record) {
            Ok(mapped) => {
                for w in &mapped.warnings {
                    if warnings < WARNINGS_PER_PAGE {
                        env.warn(&format!("`{path}` at offset {offset}: {w}"));
                    }
                    warnings += 1;
                }
                entities.push(mapped.entity);
            }
            Err(e) => {
                skipped += 1;
                env.warn(&format!(
                    "`{path}` at offset {offset}: record {} skipped: {e}: {}",
                    offset + i as u64,
                    oneroster::describe(&record)
                ));
            }
        }
    }
    if warnings > WARNINGS_PER_PAGE {
        env.warn(&format!(
            "`{path}` at offset {offset}: {} more field warnings on this page",
            warnings - WARNINGS_PER_PAGE
        ));
    }
    if skipped > 0 && entities.is_empty() {
        return Err(PluginError::InvalidData(format!(
            "`{path}` at offset {offset}: none of the {skipped} records has a sourcedId, so this is not a OneRoster collection"
        )));
    }
    Ok(entities)
}

/// Every school the server knows (`GET schools`, all pages), for the
/// schools-mapping step. Schools marked `tobedeleted` are left out.
pub fn list_schools(env: &mut dyn Env, config: &Config) -> Result<Vec<School>, PluginError> {
    let limit = config.page_size;
    let mut offset = 0;
    let mut schools: Vec<School> = Vec::new();
    let mut previous_first: Option<String> = None;
    for _ in 0..MAX_SCHOOL_PAGES {
        let purpose = Purpose {
            resource: "schools",
            service: Service::Rostering,
            method: Method::Get,
            offset: Some(offset),
        };
        let url = fetch::collection_url(config, Service::Rostering, "schools", limit, offset, None);
        let page = match get_page(env, config, &purpose, "orgs", &url)? {
            Ok(page) => page,
            Err(response) => return Err(fetch::status_error(config, &purpose, &url, &response)),
        };
        let first = page.records.first().and_then(oneroster::sourced_id);
        if offset > 0 && first.is_some() && first == previous_first {
            return Err(PluginError::InvalidData(format!(
                "`schools` at offset {offset}: the server sent the previous page again; it ignores `offset`"
            )));
        }
        previous_first = first;
        for record in &page.records {
            let Some(id) = oneroster::sourced_id(record) else {
                env.warn(&format!(
                    "`schools` at offset {offset}: a school without sourcedId skipped: {}",
                    oneroster::describe(record)
                ));
                continue;
            };
            if record
                .get("status")
                .and_then(Json::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("tobedeleted"))
            {
                continue;
            }
            if schools.iter().any(|s| s.source_id == id) {
                continue;
            }
            let text = |key: &str| homeroom_sdk::json::text(record, key);
            schools.push(School {
                name: text("name").unwrap_or_else(|| id.clone()),
                identifier: text("identifier"),
                source_id: id,
            });
        }
        match fetch::next_offset(
            offset,
            limit,
            page.records.len() as u64,
            page.total,
            page.link,
        ) {
            Some(next) => offset = next,
            None => return Ok(schools),
        }
    }
    Err(PluginError::InvalidData(format!(
        "`schools`: more than {MAX_SCHOOL_PAGES} pages of schools; the server's paging does not end"
    )))
}

/// What one cheap read of an optional part of the server said.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Probe {
    Offered,
    NotOffered,
    /// Offered, but the credentials lack the scope (named).
    NotGranted(String),
    /// Neither: why not.
    Unknown(String),
}

/// The optional parts of a server a connection test looks for: a name, the
/// service, and one collection of it to read.
const PROBES: [(&str, Service, &str); 3] = [
    ("gradebook", Service::Gradebook, "categories"),
    ("resources", Service::Resources, "resources"),
    ("demographics", Service::Rostering, "demographics"),
];

/// `GET {collection}?limit=1` of a service: whether the server offers it.
fn probe(env: &mut dyn Env, config: &Config, service: Service, collection: &str) -> Probe {
    let purpose = Purpose {
        resource: collection,
        service,
        method: Method::Get,
        offset: None,
    };
    let url = format!("{}/{collection}?limit=1", config.base(service));
    let response = match fetch::send(env, config, &purpose, &url, None) {
        Ok(response) => response,
        Err(e) => {
            let why = match e {
                PluginError::Unavailable(_) => "no answer",
                PluginError::Auth(_) => "the token endpoint refused the client",
                PluginError::InvalidData(_) => "the answer was too large",
                _ => "the request could not be sent",
            };
            return Probe::Unknown(why.to_string());
        }
    };
    match response.status {
        200..=299 => match fetch::collection(&response.body, collection) {
            Ok(_) => Probe::Offered,
            Err(_) => Probe::Unknown(format!(
                "HTTP {} without a `{collection}` list",
                response.status
            )),
        },
        status if fetch::is_absent(status) => Probe::NotOffered,
        401 | 403 => Probe::NotGranted(purpose.scope(config)),
        status => Probe::Unknown(format!("HTTP {status}")),
    }
}

/// One cheap read (`orgs?limit=1`) that says what to fix when it fails, then
/// the schools, to say what was found, then one cheap read of each optional
/// part of the server (gradebook, resources, demographics) to say which the
/// server offers. A missing optional part never fails the test.
pub fn test_connection(env: &mut dyn Env, config: &Config) -> Result<String, PluginError> {
    let purpose = Purpose {
        resource: "orgs",
        service: Service::Rostering,
        method: Method::Get,
        offset: None,
    };
    let url = format!("{}/orgs?limit=1", config.base(Service::Rostering));
    let version = config.version.label();
    let response = fetch::send(env, config, &purpose, &url, None)?;
    if !(200..300).contains(&response.status) {
        return Err(fetch::status_error(config, &purpose, &url, &response));
    }
    let not_oneroster = |what: &str| {
        let other = match config.version {
            Version::V1p1 => "1.2",
            Version::V1p2 => "1.1",
        };
        PluginError::Config(format!(
            "{url} answered, but {what}, so this is not a OneRoster {version} server at that address: check the Service URL, and the Version (try {other})"
        ))
    };
    match fetch::collection(&response.body, "orgs") {
        Ok(_) => {}
        Err(CollectionError::NotJson(_)) => {
            let kind = fetch::header(&response, "content-type")
                .unwrap_or_else(|| "no content type".into());
            return Err(not_oneroster(&format!("not with JSON ({kind})")));
        }
        Err(CollectionError::NoCollection) => {
            return Err(not_oneroster("with JSON that has no `orgs` list"));
        }
    }
    let schools = list_schools(env, config)?;
    let mut message = format!(
        "{}: {} school{}",
        config.describe(),
        schools.len(),
        if schools.len() == 1 { "" } else { "s" }
    );
    let mut offered = vec!["rostering"];
    let mut absent = Vec::new();
    let mut not_granted = Vec::new();
    let mut unknown = Vec::new();
    for (name, service, collection) in PROBES {
        match probe(env, config, service, collection) {
            Probe::Offered => offered.push(name),
            Probe::NotOffered => absent.push(name),
            Probe::NotGranted(scope) => {
                not_granted.push(format!("{name} (needs the scope {scope})"))
            }
            Probe::Unknown(why) => unknown.push(format!("{name} ({why})")),
        }
    }
    message.push_str(&format!("; services: {}", offered.join(", ")));
    if !absent.is_empty() {
        message.push_str(&format!("; not offered: {}", absent.join(", ")));
    }
    if !not_granted.is_empty() {
        message.push_str(&format!(
            "; offered but not granted to these credentials: {}",
            not_granted.join(", ")
        ));
    }
    if !unknown.is_empty() {
        message.push_str(&format!("; could not tell: {}", unknown.join(", ")));
    }
    for note in &config.notes {
        message.push_str(&format!(" (note: {note})"));
    }
    Ok(message)
}
