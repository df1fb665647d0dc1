//! Reading: the connection test, and one page of users, in full (`/users`,
//! or `/education/users`, paged by `@odata.nextLink`) or as a delta round
//! from a kept `deltaLink`; with education data on, the schools too
//! (`/education/schools`, always in full).
//!
//! Cursors handed to the host: `list:URL` for the next page of a full read,
//! `delta:AT:URL` for the next page of a delta round that began at `AT`
//! (seconds); the URLs are Graph's own links, followed as given.
//!
//! Where a delta starts: plugin storage keeps [`Checkpoints`] under
//! `delta.user`, deltaLinks each with the time its round began (Graph's
//! `Date` header: the sandbox's clock is frozen): a full read first asks Graph for a deltaLink for now
//! (`$deltatoken=latest`), and every delta round that ends keeps the
//! deltaLink of its last page. A quick read starts from the first checkpoint
//! taken at or after the host's `since` (the start of the last committed
//! run, less [`CLOCK_SLACK`]): the one that run took, so a later run that
//! read but never committed does not make the next one skip changes. With none, or when Graph no longer keeps
//! the token (410 Gone, `syncStateNotFound`), it reads every user instead and
//! says so. Nothing here talks to the host but through [`Env`].

use homeroom_sdk::delta::{Checkpoints, unix_seconds};
use homeroom_sdk::env::Env;
use homeroom_sdk::paging::OData;
use homeroom_sdk::{Entity, EntityKind, Page, PluginError};
use serde_json::Value as Json;

use crate::config::Config;
use crate::{fetch, map};

/// How far the host's clock and Graph's may disagree; a checkpoint
/// this much older than `since` still counts (an older one reads more).
pub const CLOCK_SLACK: i64 = 5;
/// Where the checkpoints are kept.
pub const STORAGE_KEY: &str = "delta.user";
/// Warnings about single records logged per page; the rest are counted.
const WARNINGS_PER_PAGE: usize = 20;

fn page(entities: Vec<Entity>, next: Option<String>) -> Page {
    Page {
        entities,
        next,
        total: None,
        ahead: Vec::new(),
    }
}

/// Read one page of `kind` (users only; every other kind is empty).
pub fn read(
    env: &mut dyn Env,
    config: &Config,
    kind: EntityKind,
    since: Option<&str>,
    cursor: Option<&str>,
) -> Result<Page, PluginError> {
    if kind == EntityKind::Org && config.education {
        // A handful of schools: read in full, quick or not.
        let url = cursor
            .and_then(|c| c.strip_prefix("list:"))
            .map(str::to_string)
            .unwrap_or_else(|| config.schools_url());
        return list_page(env, &url, "reading education schools", map::school);
    }
    if kind != EntityKind::User {
        return Ok(page(Vec::new(), None));
    }
    let bad = |c: &str| {
        PluginError::InvalidData(format!(
            "the paging cursor `{c}` is not one this connector wrote"
        ))
    };
    match (since, cursor) {
        (_, Some(c)) => {
            if let Some(url) = c.strip_prefix("list:") {
                list_page(env, url, "reading users", map::user)
            } else {
                let (at, url) = c
                    .strip_prefix("delta:")
                    .and_then(|rest| rest.split_once(':'))
                    .ok_or_else(|| bad(c))?;
                let at = match at {
                    "" => None,
                    at => Some(at.parse().map_err(|_| bad(c))?),
                };
                delta_page(env, at, url, false)?.map_err(PluginError::InvalidData)
            }
        }
        (None, None) => full(env, config, None),
        (Some(since), None) => {
            let start = unix_seconds(since).map(|s| s - CLOCK_SLACK);
            let marks = Checkpoints::from_bytes(env.storage_get(STORAGE_KEY).as_deref());
            let Some(link) = start
                .and_then(|s| marks.first_at_or_after(s))
                .map(|m| m.position.clone())
            else {
                let why =
                    format!("no Graph deltaLink was kept by the last committed run ({since})");
                return full(env, config, Some(&why));
            };
            match delta_page(env, None, &link, true)? {
                Ok(page) => Ok(page),
                Err(expired) => full(env, config, Some(&expired)),
            }
        }
    }
}

/// A full read: a deltaLink for now kept first, then the first page of
/// users. `why`, for a quick read that cannot be one, is warned.
fn full(env: &mut dyn Env, config: &Config, why: Option<&str>) -> Result<Page, PluginError> {
    if let Some(why) = why {
        env.warn(&format!(
            "{why}; reading every user instead (accounts removed from the directory since then are removed by the next full import)"
        ));
    }
    let url = config.delta_url(true);
    match fetch::page(env, &url, "asking Graph for a deltaLink") {
        Ok(Ok((
            OData {
                delta: Some(link), ..
            },
            at,
        ))) => keep(env, &link, at),
        Ok(Ok(_)) => env.warn(
            "Graph answered the latest-deltaLink request without a deltaLink; the next quick import reads every user",
        ),
        Ok(Err(refused)) => env.warn(&format!(
            "{}; the next quick import reads every user",
            fetch::status_error(&url, "asking for a deltaLink", &refused).message()
        )),
        Err(e) => env.warn(&format!(
            "{}; the next quick import reads every user",
            e.message()
        )),
    }
    list_page(env, &config.users_url(), "reading users", map::user)
}

fn keep(env: &mut dyn Env, link: &str, at: Option<i64>) {
    let Some(at) = at else {
        env.warn("Graph's answer had no Date header, so the deltaLink cannot be placed in time; the next quick import reads every user");
        return;
    };
    let mut marks = Checkpoints::from_bytes(env.storage_get(STORAGE_KEY).as_deref());
    marks.record(link, at);
    if let Err(why) = env.storage_set(STORAGE_KEY, &marks.to_bytes()) {
        env.warn(&format!(
            "the Graph deltaLink could not be kept ({why}); the next quick import may read every user"
        ));
    }
}

/// A link that names the page it came from: a server repeating itself.
fn onward(url: &str, next: Option<String>, doing: &str) -> Result<Option<String>, PluginError> {
    match next {
        Some(n) if n == url => Err(PluginError::InvalidData(format!(
            "{doing}: Graph's @odata.nextLink names the page it came on, so the read would never end; run again later"
        ))),
        other => Ok(other),
    }
}

type Mapper = fn(&Json) -> Result<Entity, String>;

fn list_page(env: &mut dyn Env, url: &str, doing: &str, map: Mapper) -> Result<Page, PluginError> {
    let (odata, _) = fetch::page(env, url, doing)?
        .map_err(|refused| fetch::status_error(url, doing, &refused))?;
    let entities = records(env, &odata.records, doing, map);
    let next = onward(url, odata.next, doing)?.map(|n| format!("list:{n}"));
    Ok(page(entities, next))
}

/// One page of a delta round begun at `at` (none: when this page is served).
/// `Ok(Err(why))` when this is the round's first page and Graph no longer
/// keeps its token.
fn delta_page(
    env: &mut dyn Env,
    at: Option<i64>,
    url: &str,
    first: bool,
) -> Result<Result<Page, String>, PluginError> {
    let doing = "reading the users changed since the last run";
    let (odata, served) = match fetch::page(env, url, doing)? {
        Ok(page) => page,
        Err(refused) if first && refused.status == 410 => {
            let said = fetch::says(&refused.body)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            return Ok(Err(format!(
                "Graph no longer keeps the changes since the last run (410 Gone{said}): a resync is required"
            )));
        }
        Err(refused) => return Err(fetch::status_error(url, doing, &refused)),
    };
    let at = at.or(served);
    let mut changes: Vec<Entity> = Vec::new();
    for e in records(env, &odata.records, doing, map::user) {
        // The last entry of a user in a round wins.
        changes.retain(|c| c.source_id != e.source_id);
        changes.push(e);
    }
    let next = onward(url, odata.next, doing)?;
    match (&next, odata.delta) {
        (None, Some(link)) => keep(env, &link, at),
        (None, None) => env.warn(
            "Graph ended the delta round without a deltaLink; the next quick import reads every user",
        ),
        _ => {}
    }
    let at = at.map(|a| a.to_string()).unwrap_or_default();
    Ok(Ok(page(changes, next.map(|n| format!("delta:{at}:{n}")))))
}

/// The entities of a page; records that cannot be read are warned and skipped.
fn records(env: &mut dyn Env, records: &[Json], doing: &str, map: Mapper) -> Vec<Entity> {
    let mut out = Vec::with_capacity(records.len());
    let mut skipped = 0;
    for record in records {
        match map(record) {
            Ok(e) => out.push(e),
            Err(why) => {
                skipped += 1;
                if skipped <= WARNINGS_PER_PAGE {
                    let id = map::text(record, "id").unwrap_or_else(|| "without an id".into());
                    env.warn(&format!("{doing}: the record {id} was skipped: {why}"));
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
    out
}

/// The connection test: one user read, and whether delta queries answer.
pub fn test_connection(env: &mut dyn Env, config: &Config) -> Result<String, PluginError> {
    let url = format!("{}/users?$select=id&$top=1", config.base);
    let doing = "testing the connection";
    let (odata, _) = fetch::page(env, &url, doing)?
        .map_err(|refused| fetch::status_error(&url, doing, &refused))?;
    let delta_url = config.delta_url(true);
    let delta = match fetch::page(env, &delta_url, doing) {
        Ok(Ok((OData { delta: Some(_), .. }, _))) => {
            "delta queries: available for quick imports".into()
        }
        Ok(Ok(_)) => "delta queries: no deltaLink, so quick imports read every user".into(),
        Ok(Err(r)) => format!(
            "delta queries: not available (HTTP {}), so quick imports read every user",
            r.status
        ),
        Err(e) => format!("delta queries: could not tell ({})", e.message()),
    };
    Ok(format!(
        "Microsoft Graph at {}: users readable ({}); {delta}",
        config.base,
        if odata.records.is_empty() {
            "none yet"
        } else {
            "at least one"
        }
    ))
}
