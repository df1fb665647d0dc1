//! Reading: the connection test, the schools, and one page of one kind.
//!
//! Every kind is a plan of streams read in order: a district-wide resource
//! (`/ws/v1/district/school`, `/ws/v1/district/student`), a resource read
//! school by school (`/ws/v1/school/{id}/term`, `course`, `section`,
//! `staff`), or the guardians PowerQuery (`POST /ws/schema/query/{name}`).
//! A stream is paged by `page` (from 1) and `pagesize`; the page size is
//! bounded by the server's metadata (`/ws/v1/metadata`, `*_max_page_size`)
//! and each stream asks its `/count` first. A stream ends on a short page,
//! never on the count alone: a count that lies (too high or too low) loses
//! nothing and is warned. A page that starts with the record the stream's
//! first or previous page started with is a server ignoring `page`: asked
//! once more, then refused. Enrollments are read with each page of a
//! school's sections: the section's teacher, and its
//! `/ws/v1/section/{id}/section_enrollment`.
//!
//! The cursor handed to the host is [`Cursor`] as JSON: the stream, the
//! schools (read once, when a kind that needs them starts; a long list is
//! kept in plugin storage under `schools.KIND` instead), the page sizes and
//! the stream's progress.
//!
//! Quick reads: the `/ws/v1` resources cannot be filtered by when a record
//! changed, so a quick read reads everything, says so, and the hub applies
//! what differs (records removed in PowerSchool go with the next full
//! import). Nothing here talks to the host but through [`Env`].

use homeroom_sdk::env::Env;
use homeroom_sdk::paging;
use homeroom_sdk::{Entity, EntityKind, Page, PluginError, School};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::config::Config;
use crate::fetch;
use crate::map;

/// Records per page when the metadata does not say (PowerSchool's default).
pub const DEFAULT_PAGE_SIZE: u64 = 100;
/// Pages one stream reads at most: a server that never sends a short page
/// is refused rather than read forever.
const MAX_PAGES: u64 = 100_000;
/// Warnings about single records logged per page; the rest are counted.
const WARNINGS_PER_PAGE: usize = 20;
/// Longest list of school ids a cursor carries itself (the host takes
/// cursors of 4 KiB); a longer one is kept in plugin storage.
const INLINE_SCHOOLS: usize = 1500;

fn schools_key(kind: EntityKind) -> String {
    format!("schools.{}", kind.name())
}

/// What a stream reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The district's one record (`/ws/v1/district`).
    District,
    Schools,
    Terms,
    Courses,
    Sections,
    /// Sections, each with its teacher and section enrollments.
    Enrollments,
    Students,
    Staff,
    Guardians,
}

impl Source {
    fn per_school(self) -> bool {
        matches!(
            self,
            Source::Terms
                | Source::Courses
                | Source::Sections
                | Source::Enrollments
                | Source::Staff
        )
    }

    /// (path under the base, wrapper, record key, extra query, metadata key).
    fn resource(
        self,
        school: &str,
    ) -> (
        String,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ) {
        match self {
            Source::District => ("ws/v1/district".into(), "district", "", "", ""),
            Source::Schools => (
                "ws/v1/district/school".into(),
                "schools",
                "school",
                "",
                "school_max_page_size",
            ),
            Source::Terms => (
                format!("ws/v1/school/{school}/term"),
                "terms",
                "term",
                "",
                "term_max_page_size",
            ),
            Source::Courses => (
                format!("ws/v1/school/{school}/course"),
                "courses",
                "course",
                "",
                "course_max_page_size",
            ),
            Source::Sections | Source::Enrollments => (
                format!("ws/v1/school/{school}/section"),
                "sections",
                "section",
                "",
                "section_max_page_size",
            ),
            Source::Students => (
                "ws/v1/district/student".into(),
                "students",
                "student",
                "&expansions=school_enrollment,contact_info,demographics",
                "student_max_page_size",
            ),
            Source::Staff => (
                format!("ws/v1/school/{school}/staff"),
                "staffs",
                "staff",
                "&expansions=emails,school_affiliations",
                "staff_max_page_size",
            ),
            Source::Guardians => (
                String::new(),
                "record",
                "",
                "",
                "schema_table_query_max_page_size",
            ),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Source::District => "the district",
            Source::Schools => "schools",
            Source::Terms => "terms",
            Source::Courses => "courses",
            Source::Sections => "sections",
            Source::Enrollments => "sections and their enrollments",
            Source::Students => "students",
            Source::Staff => "staff",
            Source::Guardians => "guardians",
        }
    }
}

fn plan(kind: EntityKind, config: &Config) -> Vec<Source> {
    match kind {
        EntityKind::Org => vec![Source::District, Source::Schools],
        EntityKind::AcademicSession => vec![Source::Terms],
        EntityKind::Course => vec![Source::Courses],
        EntityKind::Class => vec![Source::Sections],
        EntityKind::Enrollment => vec![Source::Enrollments],
        EntityKind::User => {
            let mut p = vec![Source::Students, Source::Staff];
            if config.guardians_query.is_some() {
                p.push(Source::Guardians);
            }
            p
        }
        _ => Vec::new(),
    }
}

/// Where a read is: handed to the host as JSON between pages.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Cursor {
    /// The stream of the kind's plan being read.
    pub stage: usize,
    /// The district's school ids, for streams read school by school.
    #[serde(default)]
    pub schools: Vec<String>,
    /// The school ids are in plugin storage (too many for the cursor).
    #[serde(default)]
    pub stored: bool,
    /// The school being read.
    #[serde(default)]
    pub school: usize,
    /// Each stage's page size (the setting bounded by the metadata).
    #[serde(default)]
    pub sizes: Vec<u64>,
    /// The page to ask for next (from 1).
    pub page: u64,
    /// What the stream's `/count` said.
    #[serde(default)]
    pub count: Option<u64>,
    /// Records the stream has sent so far.
    #[serde(default)]
    pub seen: u64,
    /// The first record id of the stream's first page, and of its last page.
    #[serde(default)]
    pub first: Option<String>,
    #[serde(default)]
    pub prev: Option<String>,
}

/// Read one page of `kind`.
pub fn read(
    env: &mut dyn Env,
    config: &Config,
    kind: EntityKind,
    since: Option<&str>,
    cursor: Option<&str>,
) -> Result<Page, PluginError> {
    let plan = plan(kind, config);
    if plan.is_empty() {
        return Ok(Page::new(Vec::new(), None));
    }
    let mut at = match cursor {
        Some(c) => serde_json::from_str::<Cursor>(c).map_err(|_| paging::foreign_cursor(c))?,
        None => {
            if let Some(since) = since {
                env.warn(&format!(
                    "PowerSchool's API cannot list the {} records changed since the last run ({since}), so this quick import reads them all and applies what differs; records removed in PowerSchool are removed by the next full import",
                    kind.name()
                ));
            }
            start(env, config, kind, &plan)?
        }
    };
    if at.stored {
        at.schools = env
            .storage_get(&schools_key(kind))
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| {
                PluginError::InvalidData(
                    "the list of schools this read keeps in the connector's storage is gone; run the import again".into(),
                )
            })?;
    }
    if at.stage >= plan.len() || at.sizes.len() != plan.len() {
        return Err(paging::foreign_cursor(cursor.unwrap_or("")));
    }
    let source = plan[at.stage];
    let mut entities = Vec::new();
    let ended = match source {
        Source::District => {
            let url = format!("{}/ws/v1/district", config.base);
            let body = fetch::get_json(env, &url, "reading the district")?;
            let district = body
                .get("district")
                .filter(|d| d.is_object())
                .ok_or_else(|| fetch::broken(&url, "reading the district", "has no district"))?;
            entities.push(map::district(district));
            true
        }
        _ => {
            let school = at.schools.get(at.school).cloned().unwrap_or_default();
            let records = stream_page(env, config, source, &school, &mut at)?;
            let ended = (records.len() as u64) < at.sizes[at.stage];
            let doing = doing(source, &school);
            let mut warned = 0;
            for record in &records {
                match entities_of(env, config, source, &school, record, &at)? {
                    Ok(mut more) => entities.append(&mut more),
                    Err(why) => skipped(env, &doing, record, &why, &mut warned),
                }
            }
            if warned > WARNINGS_PER_PAGE {
                env.warn(&format!(
                    "{doing}: {} more records skipped on this page",
                    warned - WARNINGS_PER_PAGE
                ));
            }
            if ended {
                tell_count(env, &doing, &at);
            }
            ended
        }
    };
    let next = if ended { advance(&mut at, &plan) } else { true };
    if at.stored {
        at.schools.clear();
    }
    let next = next.then(|| serde_json::to_string(&at).unwrap_or_default());
    Ok(Page::new(entities, next))
}

/// A kind's first cursor: its page sizes from the metadata, and the
/// schools when a stream needs them.
fn start(
    env: &mut dyn Env,
    config: &Config,
    kind: EntityKind,
    plan: &[Source],
) -> Result<Cursor, PluginError> {
    let url = format!("{}/ws/v1/metadata", config.base);
    let metadata = fetch::get_json(env, &url, "reading the server's metadata")?;
    let metadata = metadata.get("metadata").unwrap_or(&metadata);
    let sizes = plan
        .iter()
        .map(|s| page_size(config, metadata, s.resource("").4))
        .collect();
    let mut at = Cursor {
        sizes,
        page: 1,
        ..Cursor::default()
    };
    if plan.iter().any(|s| s.per_school()) {
        at.schools = schools(env, config, metadata)?
            .iter()
            .filter_map(|s| fetch::scalar(s, "id"))
            .collect();
        let list = serde_json::to_vec(&at.schools).unwrap_or_default();
        if list.len() > INLINE_SCHOOLS {
            env.storage_set(&schools_key(kind), &list).map_err(|why| {
                PluginError::Unavailable(format!(
                    "the district's {} schools are more than a read's cursor carries, and the connector's storage refused their list ({why}); ask the operator to raise the PowerSchool connector's storage quota",
                    at.schools.len()
                ))
            })?;
            at.stored = true;
        }
    }
    skip_empty(&mut at, plan);
    Ok(at)
}

/// The page size for a resource: the setting, bounded by the metadata's
/// `*_max_page_size` (none or 0 there: the setting, else 100).
fn page_size(config: &Config, metadata: &Json, key: &str) -> u64 {
    let max = metadata.get(key).and_then(fetch::number).filter(|&n| n > 0);
    match (config.page_size, max) {
        (Some(asked), Some(max)) => asked.min(max),
        (Some(asked), None) => asked,
        (None, Some(max)) => max,
        (None, None) => DEFAULT_PAGE_SIZE,
    }
}

/// Move past a stream that has ended: the next school, else the next stage.
/// False when the plan is done.
fn advance(at: &mut Cursor, plan: &[Source]) -> bool {
    at.page = 1;
    at.count = None;
    at.seen = 0;
    at.first = None;
    at.prev = None;
    if plan[at.stage].per_school() && at.school + 1 < at.schools.len() {
        at.school += 1;
        return true;
    }
    at.stage += 1;
    at.school = 0;
    skip_empty(at, plan);
    at.stage < plan.len()
}

/// Per-school stages of a district without schools read nothing.
fn skip_empty(at: &mut Cursor, plan: &[Source]) {
    while at.stage < plan.len() && plan[at.stage].per_school() && at.schools.is_empty() {
        at.stage += 1;
    }
}

fn doing(source: Source, school: &str) -> String {
    if source.per_school() {
        format!("reading the {} of school {school}", source.name())
    } else {
        format!("reading {}", source.name())
    }
}

/// One page of a stream (its `/count` first), checked for a repeat.
fn stream_page(
    env: &mut dyn Env,
    config: &Config,
    source: Source,
    school: &str,
    at: &mut Cursor,
) -> Result<Vec<Json>, PluginError> {
    let size = at.sizes[at.stage];
    let doing = doing(source, school);
    let (path, outer, inner, extra, _) = source.resource(school);
    let query = match (source, &config.guardians_query) {
        (Source::Guardians, Some(q)) => Some(format!("{}/ws/schema/query/{q}", config.base)),
        _ => None,
    };
    let base = query
        .clone()
        .unwrap_or_else(|| format!("{}/{path}", config.base));
    if at.page == 1 {
        let url = format!("{base}/count");
        let body = match &query {
            Some(_) => {
                let response = fetch::post(env, &url, &json!({}), &doing)?;
                fetch::json(&url, &doing, &response)?
            }
            None => fetch::get_json(env, &url, &doing)?,
        };
        at.count =
            Some(fetch::count(&body).ok_or_else(|| fetch::broken(&url, &doing, "has no count"))?);
    }
    if at.page > MAX_PAGES {
        return Err(PluginError::InvalidData(format!(
            "{doing}: PowerSchool kept sending full pages past page {MAX_PAGES}, so the read would never end; run again later"
        )));
    }
    let url = format!("{base}?page={}&pagesize={size}{extra}", at.page);
    let mut asked = 0;
    loop {
        asked += 1;
        let body = match &query {
            Some(_) => {
                let response = fetch::post(env, &url, &json!({}), &doing)?;
                fetch::json(&url, &doing, &response)?
            }
            None => fetch::get_json(env, &url, &doing)?,
        };
        let records = if inner.is_empty() {
            fetch::one_or_many(body.get(outer)).ok_or_else(|| {
                fetch::broken(
                    &url,
                    &doing,
                    &format!("has {outer} that is neither a record nor a list"),
                )
            })?
        } else {
            fetch::records(&body, outer, inner).map_err(|why| fetch::broken(&url, &doing, &why))?
        };
        let head = records.first().and_then(|r| record_id(source, r));
        let repeated = at.page > 1 && head.is_some() && (head == at.first || head == at.prev);
        if !repeated {
            if at.page == 1 {
                at.first = head.clone();
            }
            at.prev = head;
            at.page += 1;
            at.seen += records.len() as u64;
            return Ok(records);
        }
        if asked >= 2 {
            return Err(PluginError::InvalidData(format!(
                "{doing}: PowerSchool answered page {} with records of an earlier page, twice, so it seems to ignore the page parameter; run again later",
                at.page
            )));
        }
    }
}

fn record_id(source: Source, record: &Json) -> Option<String> {
    match source {
        Source::Guardians => fetch::scalar(record, "guardian_id"),
        _ => fetch::scalar(record, "id"),
    }
}

/// A stream that ended with other than its count says so.
fn tell_count(env: &mut dyn Env, doing: &str, at: &Cursor) {
    if let Some(count) = at.count.filter(|&c| c != at.seen) {
        env.warn(&format!(
            "{doing}: PowerSchool's count said {count} but {} came; every page was read to the last, so nothing is missing",
            at.seen
        ));
    }
}

/// The entities of one record: `Ok(Err(why))` for a record that cannot be
/// read (skipped and warned), `Err` for a request that failed (the read
/// fails: a section whose enrollments did not come must not look empty).
fn entities_of(
    env: &mut dyn Env,
    config: &Config,
    source: Source,
    school: &str,
    record: &Json,
    at: &Cursor,
) -> Result<Result<Vec<Entity>, String>, PluginError> {
    if !record.is_object() {
        return Ok(Err("the record is not a JSON object".into()));
    }
    let one = |e: Result<Entity, String>| e.map(|e| vec![e]);
    Ok(match source {
        Source::District => Ok(vec![map::district(record)]),
        Source::Schools => one(map::school(record, &config.organizations)),
        Source::Terms => one(map::term(record, school)),
        Source::Courses => one(map::course(record, school)),
        Source::Sections => one(map::section(record, school)),
        Source::Students => one(map::student(record)),
        Source::Guardians => one(map::guardian(record)),
        Source::Staff => {
            // A member of several schools is listed by each: sent once, with
            // the first school of theirs this read has.
            let home = map::affiliations(record)
                .into_iter()
                .find(|s| at.schools.contains(s));
            if home.as_deref().is_some_and(|h| h != school) {
                Ok(Vec::new())
            } else {
                one(map::staff(record, school))
            }
        }
        Source::Enrollments => match fetch::scalar(record, "id") {
            None => Err("the section has no id".into()),
            Some(class) => Ok(enrollments(
                env,
                config,
                record,
                &class,
                school,
                at.sizes[at.stage],
            )?),
        },
    })
}

/// A section's teacher and its students' enrollments, every page of them.
fn enrollments(
    env: &mut dyn Env,
    config: &Config,
    section: &Json,
    class: &str,
    school: &str,
    size: u64,
) -> Result<Vec<Entity>, PluginError> {
    let mut out: Vec<Entity> = map::teacher_enrollment(section, school)
        .into_iter()
        .collect();
    let doing = format!("reading the enrollments of section {class}");
    let base = format!("{}/ws/v1/section/{class}/section_enrollment", config.base);
    let (mut first, mut prev): (Option<String>, Option<String>) = (None, None);
    for number in 1..=MAX_PAGES {
        let url = format!("{base}?page={number}&pagesize={size}");
        let mut asked = 0;
        let records = loop {
            asked += 1;
            let body = fetch::get_json(env, &url, &doing)?;
            let records = fetch::records(&body, "section_enrollments", "section_enrollment")
                .map_err(|why| fetch::broken(&url, &doing, &why))?;
            let head = records.first().and_then(|r| fetch::scalar(r, "id"));
            if number == 1 || head.is_none() || (head != first && head != prev) {
                if number == 1 {
                    first = head.clone();
                }
                prev = head;
                break records;
            }
            if asked >= 2 {
                return Err(PluginError::InvalidData(format!(
                    "{doing}: PowerSchool answered page {number} with records of an earlier page, twice, so it seems to ignore the page parameter; run again later"
                )));
            }
        };
        let mut warned = 0;
        for r in &records {
            match map::student_enrollment(r, class, school) {
                Ok(e) => out.extend(e),
                Err(why) => skipped(env, &doing, r, &why, &mut warned),
            }
        }
        if (records.len() as u64) < size {
            return Ok(out);
        }
    }
    Err(PluginError::InvalidData(format!(
        "{doing}: PowerSchool kept sending full pages past page {MAX_PAGES}; run again later"
    )))
}

fn skipped(env: &mut dyn Env, doing: &str, record: &Json, why: &str, warned: &mut usize) {
    *warned += 1;
    if *warned <= WARNINGS_PER_PAGE {
        let id = fetch::scalar(record, "id")
            .or_else(|| fetch::scalar(record, "guardian_id"))
            .unwrap_or_else(|| "without an id".into());
        env.warn(&format!("{doing}: the record {id} was skipped: {why}"));
    }
}

/// Every school of the district (all pages).
fn schools(env: &mut dyn Env, config: &Config, metadata: &Json) -> Result<Vec<Json>, PluginError> {
    let mut at = Cursor {
        sizes: vec![page_size(config, metadata, "school_max_page_size")],
        page: 1,
        ..Cursor::default()
    };
    let mut all = Vec::new();
    loop {
        let records = stream_page(env, config, Source::Schools, "", &mut at)?;
        let ended = (records.len() as u64) < at.sizes[0];
        all.extend(records);
        if ended {
            tell_count(env, "reading schools", &at);
            return Ok(all);
        }
    }
}

/// The schools, for the wizard's schools step.
pub fn list_schools(env: &mut dyn Env, config: &Config) -> Result<Vec<School>, PluginError> {
    let url = format!("{}/ws/v1/metadata", config.base);
    let metadata = fetch::get_json(env, &url, "reading the server's metadata")?;
    let metadata = metadata.get("metadata").unwrap_or(&metadata).clone();
    let mut out = Vec::new();
    for record in schools(env, config, &metadata)? {
        match map::school(&record, &config.organizations) {
            Ok(e) => out.push(School {
                name: e.text("name").unwrap_or(&e.source_id).to_string(),
                identifier: e.text("identifier").map(str::to_string),
                source_id: e.source_id.clone(),
            }),
            Err(why) => skipped(env, "listing schools", &record, &why, &mut 0),
        }
    }
    Ok(out)
}

/// The connection test: the metadata, the district and its schools.
pub fn test_connection(env: &mut dyn Env, config: &Config) -> Result<String, PluginError> {
    let doing = "testing the connection";
    let url = format!("{}/ws/v1/metadata", config.base);
    let body = fetch::get_json(env, &url, doing)?;
    let metadata = body.get("metadata").unwrap_or(&body);
    let version = fetch::scalar(metadata, "powerschool_version")
        .map(|v| format!("PowerSchool {v}"))
        .unwrap_or_else(|| "PowerSchool".into());
    let url = format!("{}/ws/v1/district", config.base);
    let district = fetch::get_json(env, &url, doing)?;
    let name = district
        .get("district")
        .and_then(|d| fetch::scalar(d, "name"))
        .unwrap_or_else(|| "the district".into());
    let url = format!("{}/ws/v1/district/school/count", config.base);
    let schools = fetch::count(&fetch::get_json(env, &url, doing)?)
        .ok_or_else(|| fetch::broken(&url, doing, "has no count"))?;
    let students = page_size(config, metadata, "student_max_page_size");
    Ok(format!(
        "{version} at {}: {name}, {schools} schools; students read {students} a page",
        config.base
    ))
}
