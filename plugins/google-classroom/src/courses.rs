//! Classes out as Classroom courses.
//!
//! A class is created as a course carrying the domain alias
//! `d:homeroom-<hub id>` ([`alias_for`]), so the course can always be found
//! again by the hub's id: an add that Classroom answers 409
//! `ALREADY_EXISTS` was created by an earlier attempt whose outcome never
//! reached the host, and is answered with that course's id after a GET by
//! the alias, never created twice. Before creating, a course of the owner
//! with the same name and section is taken instead (it gets the alias),
//! unless it already carries the alias of another class, is archived, or,
//! when the class has term dates, was created or last updated more than 30
//! days outside them (last year's "Algebra I" is not this year's).
//!
//! An update patches name and section (`updateMask`); a course deleted in
//! Classroom since is created again. Classroom cannot delete an active
//! course (and deleting would lose its coursework and grades), so a class
//! that goes is archived: `courseState` `ARCHIVED`, which teachers and
//! students still see read-only.
//!
//! A course this connector adds (created, taken, or found by its alias)
//! also gets a topic for each district-wide category kept by the topics
//! module ([`topics::add_district_topics`], in batch requests, once for all
//! the courses of an export batch): a class exported in a later run than
//! its district's categories has their topics too. A topic that cannot be
//! added does not fail the course: it is warned about (and tried again at
//! the next export where Classroom only asked to wait).
//!
//! [`hub_courses`] lists the courses this connector made (the owner's
//! courses carrying a `d:homeroom-` alias), for the read side and for the
//! district-wide topics.
//!
//! Calls are sent one by one (each depends on the last); courses are few.

use homeroom_sdk::{Action, Entity, ExportChange, PluginError};
use serde_json::{Value as Json, json};

use crate::batch;
use crate::client::{self, Call, Reply, seg};
use crate::config::Config;
use crate::env::Env;
use crate::errors::{ApiError, Failure};
use crate::topics;

/// What every alias this connector makes starts with.
pub const ALIAS_PREFIX: &str = "d:homeroom-";

/// Classroom's longest alias.
const MAX_ALIAS: usize = 256;

/// How far (days) a course's creation or update may lie outside the
/// class's term and still be taken for it.
pub const MATCH_DAYS: i64 = 30;

/// The alias of the course of a hub class: `d:homeroom-` and the hub id,
/// letters, digits, `-` and `.` kept, every other byte (`_` included)
/// written `_XX` in hex, so two ids never share an alias. An id too long
/// for Classroom's 256 characters is cut and ends in a hash of the whole.
pub fn alias_for(source_id: &str) -> String {
    let mut name = String::new();
    for b in source_id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' {
            name.push(b as char);
        } else {
            name.push_str(&format!("_{b:02X}"));
        }
    }
    let room = MAX_ALIAS - ALIAS_PREFIX.len();
    if name.len() > room {
        let hash = fnv1a(source_id.as_bytes());
        name.truncate(room - 17);
        name.push_str(&format!("-{hash:016x}"));
    }
    format!("{ALIAS_PREFIX}{name}")
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// A course of the owner, as listed.
#[derive(Debug, Clone)]
struct Course {
    id: String,
    name: String,
    section: String,
    state: String,
    creation_time: String,
    update_time: String,
    /// Its aliases, once read (or once this connector made it).
    aliases: Option<Vec<String>>,
}

impl Course {
    fn from_json(j: &Json) -> Option<Course> {
        let text = |k: &str| j.get(k).and_then(Json::as_str).unwrap_or("").to_string();
        let id = text("id");
        if id.is_empty() {
            return None;
        }
        Some(Course {
            id,
            name: text("name"),
            section: text("section"),
            state: text("courseState"),
            creation_time: text("creationTime"),
            update_time: text("updateTime"),
            aliases: None,
        })
    }
}

/// What one export batch knows of the owner's courses.
struct Owned {
    /// Read on the first add that needs it; the failure, if the list could
    /// not be read, for every add of the batch.
    courses: Option<Result<Vec<Course>, Failure>>,
    /// The courses the adds of this batch answered, which get the
    /// district-wide topics.
    added: Vec<String>,
}

/// Export one batch of class changes; one result per change, in order.
pub fn export(
    env: &mut dyn Env,
    config: &Config,
    changes: &[ExportChange],
) -> Vec<Result<String, Failure>> {
    let mut owned = Owned {
        courses: None,
        added: Vec::new(),
    };
    let results = changes
        .iter()
        .map(|change| match change.action {
            Action::Add => add(env, config, &mut owned, &change.entity),
            Action::Update => match &change.target_id {
                Some(id) => update(env, config, &mut owned, id, &change.entity),
                None => add(env, config, &mut owned, &change.entity),
            },
            Action::Delete => archive(env, config, change),
        })
        .collect();
    topics::add_district_topics(env, config, &owned.added);
    results
}

/// The name and section a class gives its course.
fn name_and_section(entity: &Entity) -> Result<(String, String), Failure> {
    let name = entity.text("title").unwrap_or("").trim().to_string();
    if name.is_empty() {
        return Err(Failure::Refused(format!(
            "class {} has no title, and a Classroom course needs a name",
            entity.source_id
        )));
    }
    let section = entity.text("classCode").unwrap_or("").trim().to_string();
    Ok((name, section))
}

/// Add a class's course (created, taken, or an earlier attempt's), and
/// note it for the district-wide topics.
fn add(
    env: &mut dyn Env,
    config: &Config,
    owned: &mut Owned,
    entity: &Entity,
) -> Result<String, Failure> {
    let id = add_course(env, config, owned, entity)?;
    if !owned.added.contains(&id) {
        owned.added.push(id.clone());
    }
    Ok(id)
}

fn add_course(
    env: &mut dyn Env,
    config: &Config,
    owned: &mut Owned,
    entity: &Entity,
) -> Result<String, Failure> {
    let (name, section) = name_and_section(entity)?;
    let alias = alias_for(&entity.source_id);
    if let Some(id) = take_existing(env, config, owned, entity, &name, &section, &alias)? {
        return Ok(id);
    }
    let doing = format!("creating the course `{name}`");
    let mut body = json!({
        "id": alias,
        "name": name,
        "ownerId": config.owner,
        "courseState": "ACTIVE",
    });
    if !section.is_empty() {
        body["section"] = json!(section);
    }
    let reply = client::send(env, config, &Call::post("/v1/courses", body), &doing)?;
    match reply.status {
        200..=299 => {
            let mut course = Course::from_json(&reply.json()).ok_or_else(|| {
                Failure::Later(format!(
                    "Classroom answered {doing} without the course's id"
                ))
            })?;
            course.aliases = Some(vec![alias]);
            let id = course.id.clone();
            if let Some(Ok(list)) = &mut owned.courses {
                list.push(course);
            }
            Ok(id)
        }
        // The alias is taken: an earlier attempt made the course.
        409 => by_alias(env, config, &alias, &doing),
        404 => Err(Failure::Config(format!(
            "Classroom does not know the Course owner `{}` ({}): enter the email of a Workspace user who may own courses, or me",
            config.owner,
            reply.error().brief()
        ))),
        400 if reply.error().message.contains("@UserCannotOwnCourse") => {
            Err(Failure::Config(format!(
                "the Course owner `{}` may not own Classroom courses ({}): choose a teacher the Workspace lets create courses",
                config.owner,
                reply.error().brief()
            )))
        }
        _ => Err(reply.error().failure(&doing)),
    }
}

/// The course an alias names, by a GET.
fn by_alias(
    env: &mut dyn Env,
    config: &Config,
    alias: &str,
    doing: &str,
) -> Result<String, Failure> {
    let path = format!("/v1/courses/{}", seg(alias));
    let course = client::get_json(env, config, &path, doing)?;
    course
        .get("id")
        .and_then(Json::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            Failure::Later(format!(
                "Classroom answered the course of alias {alias} without its id"
            ))
        })
}

/// An existing course of the owner to take for this class, given the alias.
fn take_existing(
    env: &mut dyn Env,
    config: &Config,
    owned: &mut Owned,
    entity: &Entity,
    name: &str,
    section: &str,
    alias: &str,
) -> Result<Option<String>, Failure> {
    if owned.courses.is_none() {
        owned.courses = Some(list_owned(env, config));
    }
    let term = term_of(entity);
    let candidates: Vec<usize> = match &owned.courses {
        Some(Ok(list)) => list
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name == name && c.section == section)
            .filter(|(_, c)| c.state == "ACTIVE" || c.state == "PROVISIONED")
            .filter(|(_, c)| term.is_none_or(|t| within_term(c, t)))
            .map(|(i, _)| i)
            .collect(),
        Some(Err(failure)) => return Err(failure.clone()),
        None => Vec::new(),
    };
    for i in candidates {
        let aliases = aliases_of(env, config, owned, i)?;
        let Some(Ok(list)) = &mut owned.courses else {
            break;
        };
        let course = &mut list[i];
        if aliases.iter().any(|a| a == alias) {
            return Ok(Some(course.id.clone()));
        }
        if aliases.iter().any(|a| a.starts_with(ALIAS_PREFIX)) {
            // The course of another class of the hub.
            continue;
        }
        let id = course.id.clone();
        let doing = format!("adding the alias {alias} to the course `{name}` ({id})");
        let path = format!("/v1/courses/{}/aliases", seg(&id));
        let reply = client::send(
            env,
            config,
            &Call::post(path, json!({"alias": alias})),
            &doing,
        )?;
        return match reply.status {
            200..=299 => {
                if let Some(a) = &mut course.aliases {
                    a.push(alias.to_string());
                }
                Ok(Some(id))
            }
            // The alias is on a course already (an earlier attempt).
            409 => by_alias(env, config, alias, &doing).map(Some),
            _ => Err(reply.error().failure(&doing)),
        };
    }
    Ok(None)
}

/// The aliases of the owner's course at `i`, read once.
fn aliases_of(
    env: &mut dyn Env,
    config: &Config,
    owned: &mut Owned,
    i: usize,
) -> Result<Vec<String>, Failure> {
    let Some(Ok(list)) = &mut owned.courses else {
        return Ok(Vec::new());
    };
    if let Some(a) = &list[i].aliases {
        return Ok(a.clone());
    }
    let id = list[i].id.clone();
    let doing = format!("reading the aliases of course {id}");
    let mut aliases = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..100 {
        let mut path = format!("/v1/courses/{}/aliases?pageSize=100", seg(&id));
        if let Some(t) = &token {
            path.push_str(&format!("&pageToken={}", client::query(t)));
        }
        let page = client::get_json(env, config, &path, &doing)?;
        for a in page
            .get("aliases")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(a) = a.get("alias").and_then(Json::as_str) {
                aliases.push(a.to_string());
            }
        }
        token = next_token(&page);
        if token.is_none() {
            break;
        }
    }
    list[i].aliases = Some(aliases.clone());
    Ok(aliases)
}

/// A list page's `nextPageToken`.
pub fn next_token(page: &Json) -> Option<String> {
    page.get("nextPageToken")
        .and_then(Json::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// The owner's courses that may be taken for a class (active or
/// provisioned), every page.
fn list_owned(env: &mut dyn Env, config: &Config) -> Result<Vec<Course>, Failure> {
    match owned_courses(env, config, &["ACTIVE", "PROVISIONED"], MAX_LIST_PAGES) {
        Ok(listed) => Ok(listed
            .courses
            .iter()
            .filter_map(Course::from_json)
            .collect()),
        Err(ListError::Answered { error, .. }) if error.code == 404 => {
            Err(Failure::Config(unknown_owner(config, &error)))
        }
        Err(e) => Err(e.failure()),
    }
}

/// Most pages (of 500) of the owner's courses a full listing reads.
pub const MAX_LIST_PAGES: usize = 1000;

/// The owner's courses, as Classroom lists them (newest first).
#[derive(Debug, Clone, Default)]
pub struct Listed {
    /// The courses as Classroom answered them, page after page.
    pub courses: Vec<Json>,
    /// Classroom had more pages than the listing was allowed to read.
    pub more: bool,
}

/// Why the owner's courses could not be listed.
#[derive(Debug, Clone)]
pub enum ListError {
    /// The request did not go through (the host's transport failed, after
    /// its retries).
    Sent(Failure),
    /// Classroom answered with an error; callers word the codes particular
    /// to them (404: an owner Classroom does not know) first.
    Answered {
        error: ApiError,
        /// What was being done, for the message.
        doing: String,
    },
}

impl ListError {
    /// What the error means for a change.
    pub fn failure(self) -> Failure {
        match self {
            ListError::Sent(f) => f,
            ListError::Answered { error, doing } => error.failure(&doing),
        }
    }

    /// The plugin error of a read or a test that got this error.
    pub fn plugin_error(self) -> PluginError {
        match self {
            ListError::Sent(f) => f.into_plugin_error(),
            ListError::Answered { error, doing } => error.plugin_error(&doing),
        }
    }
}

/// The message for a Course owner Classroom does not know (a 404 to the
/// listing of its courses).
pub fn unknown_owner(config: &Config, error: &ApiError) -> String {
    format!(
        "Classroom does not know the Course owner `{}` ({}): enter the email of a Workspace user who may own courses, or me",
        config.owner,
        error.brief()
    )
}

/// The courses the Course owner teaches, in any of `states` (all states
/// when empty), page by page (`pageToken`), at most `max_pages` pages of
/// 500; [`Listed::more`] says whether Classroom had more.
pub fn owned_courses(
    env: &mut dyn Env,
    config: &Config,
    states: &[&str],
    max_pages: usize,
) -> Result<Listed, ListError> {
    let doing = format!("listing the courses of the owner `{}`", config.owner);
    let mut listed = Listed::default();
    let mut token: Option<String> = None;
    for _ in 0..max_pages {
        let mut path = format!("/v1/courses?teacherId={}", client::query(&config.owner));
        for state in states {
            path.push_str(&format!("&courseStates={}", client::query(state)));
        }
        path.push_str("&pageSize=500");
        if let Some(t) = &token {
            path.push_str(&format!("&pageToken={}", client::query(t)));
        }
        let reply = client::send(env, config, &Call::get(path), &doing).map_err(ListError::Sent)?;
        if !reply.ok() {
            return Err(ListError::Answered {
                error: reply.error(),
                doing,
            });
        }
        let page = reply.json();
        if let Some(courses) = page.get("courses").and_then(Json::as_array) {
            listed.courses.extend(courses.iter().cloned());
        }
        token = next_token(&page);
        if token.is_none() {
            break;
        }
    }
    listed.more = token.is_some();
    Ok(listed)
}

/// The owner's courses in any of `states` (all states when empty) that
/// carry an alias this connector made ([`ALIAS_PREFIX`]), newest first (as
/// Classroom lists them); their aliases are read in batch requests. A
/// course deleted between the two is left out.
pub fn hub_courses(
    env: &mut dyn Env,
    config: &Config,
    states: &[&str],
) -> Result<Vec<String>, ListError> {
    let listed = owned_courses(env, config, states, MAX_LIST_PAGES)?;
    let ids: Vec<String> = listed
        .courses
        .iter()
        .filter_map(|c| c.get("id").and_then(Json::as_str))
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect();
    let calls: Vec<Call> = ids
        .iter()
        .map(|id| Call::get(format!("/v1/courses/{}/aliases?pageSize=100", seg(id))))
        .collect();
    let replies = batch::run(
        env,
        config,
        &calls,
        "reading the aliases of the owner's courses",
    );
    let mut ours = Vec::new();
    for (id, reply) in ids.into_iter().zip(replies) {
        let reply = reply.map_err(ListError::Sent)?;
        if !reply.ok() {
            let error = reply.error();
            if error.code == 404 {
                continue;
            }
            return Err(ListError::Answered {
                error,
                doing: format!("reading the aliases of course {id}"),
            });
        }
        let mine = reply
            .json()
            .get("aliases")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.get("alias").and_then(Json::as_str))
            .any(|a| a.starts_with(ALIAS_PREFIX));
        if mine && !ours.contains(&id) {
            ours.push(id);
        }
    }
    Ok(ours)
}

fn update(
    env: &mut dyn Env,
    config: &Config,
    owned: &mut Owned,
    id: &str,
    entity: &Entity,
) -> Result<String, Failure> {
    let (name, section) = name_and_section(entity)?;
    let doing = format!("renaming the course {id} to `{name}`");
    let path = format!("/v1/courses/{}?updateMask=name,section", seg(id));
    let reply = client::send(
        env,
        config,
        &Call::patch(path, json!({"name": name, "section": section})),
        &doing,
    )?;
    match reply.status {
        200..=299 => Ok(reply.text("id").unwrap_or_else(|| id.to_string())),
        // Deleted in Classroom since: the class is still in the hub.
        404 => add(env, config, owned, entity),
        400 if reply.error().message.contains("@CourseNotModifiable") => {
            Err(Failure::Refused(format!(
                "the course {id} is archived in Classroom, which keeps it from changing: restore it in Classroom to let Homeroom update it ({})",
                reply.error().brief()
            )))
        }
        _ => Err(reply.error().failure(&doing)),
    }
}

/// A class that goes: its course is archived (Classroom deletes only
/// archived courses, and deleting would lose the coursework and grades).
fn archive(env: &mut dyn Env, config: &Config, change: &ExportChange) -> Result<String, Failure> {
    let target = change
        .target_id
        .clone()
        .unwrap_or_else(|| alias_for(&change.entity.source_id));
    let doing = format!("archiving the course {target}");
    let path = format!("/v1/courses/{}?updateMask=courseState", seg(&target));
    let reply = client::send(
        env,
        config,
        &Call::patch(path, json!({"courseState": "ARCHIVED"})),
        &doing,
    )?;
    match reply.status {
        200..=299 => Ok(change
            .target_id
            .clone()
            .or_else(|| reply.text("id"))
            .unwrap_or(target)),
        // Gone already (or never made): nothing to archive.
        404 => Ok(target),
        _ => Err(failure_of(&reply, &doing)),
    }
}

fn failure_of(reply: &Reply, doing: &str) -> Failure {
    reply.error().failure(doing)
}

/// The class's term as days since 1970 (start, end), when it has dates.
fn term_of(entity: &Entity) -> Option<(i64, i64)> {
    let day = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| entity.text(n).and_then(day_number))
    };
    let start = day(&["startDate", "termStartDate", "beginDate"]);
    let end = day(&["endDate", "termEndDate"]);
    match (start, end) {
        (Some(s), Some(e)) => Some((s.min(e), s.max(e))),
        (Some(d), None) | (None, Some(d)) => Some((d, d)),
        (None, None) => None,
    }
}

/// A course was created and last updated within [`MATCH_DAYS`] of the
/// term (dates inside it are 0 days from it). A date that cannot be read
/// does not match.
fn within_term(course: &Course, (start, end): (i64, i64)) -> bool {
    [&course.creation_time, &course.update_time]
        .iter()
        .all(|stamp| match day_number(stamp) {
            Some(d) => {
                let off = if d < start {
                    start - d
                } else if d > end {
                    d - end
                } else {
                    0
                };
                off <= MATCH_DAYS
            }
            None => false,
        })
}

/// Days since 1970-01-01 of a date or date-time (`YYYY-MM-DD...`).
pub fn day_number(text: &str) -> Option<i64> {
    let date = text.get(..10)?;
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_keep_ids_apart_and_fit() {
        assert_eq!(alias_for("class-1.a"), "d:homeroom-class-1.a");
        assert_eq!(alias_for("a b"), "d:homeroom-a_20b");
        assert_ne!(alias_for("a_20b"), alias_for("a b"));
        assert_eq!(alias_for("é"), "d:homeroom-_C3_A9");
        let long = "x".repeat(400);
        let a = alias_for(&long);
        assert_eq!(a.len(), 256);
        assert_ne!(a, alias_for(&"x".repeat(401)));
    }

    #[test]
    fn day_numbers() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(day_number("2024-03-01T10:00:00Z"), Some(19_783));
        assert_eq!(
            day_number("2025-01-01").unwrap() - day_number("2024-12-01").unwrap(),
            31
        );
        assert_eq!(day_number("2024-13-01"), None);
        assert_eq!(day_number("soon"), None);
    }
}
