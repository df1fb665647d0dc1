//! The import side of the two-way sync: what teachers make in Classroom
//! comes back to the hub. The coursework of the courses this connector
//! made (the owner's courses carrying a `d:homeroom-` alias,
//! [`courses::hub_courses`]) is read as line items, and every student
//! submission with an assigned grade as a result. References name the
//! target ids this connector gave the things the hub exported, so the host
//! knows which hub entity each is: a line item's `class` is the course id,
//! a result's `student` the student's email (lowercased, as a user's
//! target id is), and a line item under a topic has a `category`:
//! `topic:<name>` when the topic's name is one of the district-wide
//! categories the topics module keeps, else `<courseId>:<topicId>`.
//!
//! Paging: the course list is made once per read (on its first page) and
//! kept in plugin storage (`read-courses:<kind>`); the cursor is `<course
//! index>:<course id>:<page token>`, and one page gathers records from as
//! many courses and list pages as it takes to reach [`PAGE_RECORDS`], at
//! most [`PAGE_REQUESTS`] requests. The topics of a course are listed (in
//! batches) once per read, when a page first meets coursework of it under
//! a topic; those of the course the next page goes on with are kept under
//! [`TOPICS_KEY`]. Students' emails come from `userProfiles.get` (in
//! batches), cached in plugin storage under `email:<user id>`. Classroom
//! has no changed-since filter for these lists, so a delta read reads
//! everything.

use std::collections::{BTreeSet, HashMap};

use homeroom_sdk::{Entity, EntityKind, Page, PluginError, Value};
use serde_json::Value as Json;

use crate::batch;
use crate::client::{self, Call, seg};
use crate::config::Config;
use crate::courses::{self, ListError, next_token};
use crate::env::Env;
use crate::errors::Failure;
use crate::topics::{self, Topic, district_target, topic_name};

/// A page ends once it holds this many records (or more: one list page
/// of at most [`LIST_PAGE`] over it).
pub const PAGE_RECORDS: usize = 200;
/// Most list requests one page makes.
pub const PAGE_REQUESTS: usize = 10;
/// `pageSize` of coursework and submission lists.
pub const LIST_PAGE: usize = 100;

/// Storage key of the topics of the course a line-item read goes on with:
/// JSON `{"course": id, "topics": {topic id: name}}`.
pub const TOPICS_KEY: &str = "read-topics:line-item";

/// Topic names by course, then by topic id.
type CourseTopics = HashMap<String, HashMap<String, String>>;

/// Where a read goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub index: usize,
    pub course: String,
    pub token: Option<String>,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!(
            "{}:{}:{}",
            self.index,
            self.course,
            self.token.as_deref().unwrap_or("")
        )
    }

    pub fn parse(text: &str) -> Result<Cursor, PluginError> {
        let bad = || {
            PluginError::InvalidData(format!(
                "the paging cursor `{text}` is not one this connector made"
            ))
        };
        let mut parts = text.splitn(3, ':');
        let index = parts.next().and_then(|i| i.parse().ok()).ok_or_else(bad)?;
        let course = parts.next().ok_or_else(bad)?.to_string();
        let token = parts.next().ok_or_else(bad)?.to_string();
        Ok(Cursor {
            index,
            course,
            token: (!token.is_empty()).then_some(token),
        })
    }
}

/// One page of line items or results.
pub fn read(
    env: &mut dyn Env,
    config: &Config,
    kind: EntityKind,
    cursor: Option<&str>,
) -> Result<Page, PluginError> {
    if !matches!(kind, EntityKind::LineItem | EntityKind::Result) {
        return Err(PluginError::Unsupported(format!(
            "Google Classroom is read for line items (coursework) and results (assigned grades) only, not {} records: the hub sends it the roster",
            kind.name()
        )));
    }
    let key = format!("read-courses:{}", kind.name());
    let (courses, mut at) = match cursor {
        None => {
            let courses = hub_courses(env, config)?;
            if let Err(why) = env.storage_set(&key, courses.join("\n").as_bytes()) {
                env.warn(&format!(
                    "the course list of this read could not be kept ({why}): each page lists the courses again"
                ));
            }
            let first = Cursor {
                index: 0,
                course: courses.first().cloned().unwrap_or_default(),
                token: None,
            };
            (courses, first)
        }
        Some(text) => {
            let mut cursor = Cursor::parse(text)?;
            let courses = match env
                .storage_get(&key)
                .and_then(|v| String::from_utf8(v).ok())
            {
                Some(list) => list
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
                None => hub_courses(env, config)?,
            };
            // The list may have been made again: find the course by id.
            if courses.get(cursor.index) != Some(&cursor.course) {
                match courses.iter().position(|c| *c == cursor.course) {
                    Some(i) => cursor.index = i,
                    None => cursor.token = None,
                }
            }
            (courses, cursor)
        }
    };

    // The course this page goes on with in the middle (its topics may be
    // kept by the page before).
    let resumed = at.token.is_some().then(|| at.course.clone());
    let mut items: Vec<Json> = Vec::new();
    let mut requests = 0;
    while at.index < courses.len() && items.len() < PAGE_RECORDS && requests < PAGE_REQUESTS {
        let course = &courses[at.index];
        requests += 1;
        let (list, key) = match kind {
            EntityKind::LineItem => ("courseWork", "courseWork"),
            _ => ("courseWork/-/studentSubmissions", "studentSubmissions"),
        };
        let mut path = format!("/v1/courses/{}/{list}?pageSize={LIST_PAGE}", seg(course));
        if let Some(t) = &at.token {
            path.push_str(&format!("&pageToken={}", client::query(t)));
        }
        let doing = format!("reading the {} of course {course}", what(kind));
        let reply = client::send(env, config, &Call::get(path), &doing)
            .map_err(Failure::into_plugin_error)?;
        let next = if reply.ok() {
            let page = reply.json();
            items.extend(
                page.get(key)
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
            next_token(&page)
        } else {
            let error = reply.error();
            if error.code == 404 || (error.code == 403 && !error.is_scope()) {
                // Deleted in Classroom, or no longer the owner's.
                env.warn(&format!(
                    "course {course} was left out of this read: {}",
                    error.brief()
                ));
                None
            } else {
                return Err(error.plugin_error(&doing));
            }
        };
        match next {
            Some(token) => at.token = Some(token),
            None => {
                at.index += 1;
                at.token = None;
                at.course = courses.get(at.index).cloned().unwrap_or_default();
            }
        }
    }

    let entities = match kind {
        EntityKind::LineItem => {
            let topics = course_topics(env, config, &items, resumed.as_deref())?;
            keep_topics(env, &topics, &at);
            let district: BTreeSet<String> = topics::load_district(env).into_values().collect();
            items
                .iter()
                .filter_map(|w| {
                    let e = line_item(w)?;
                    Some(match category_of(w, &topics, &district) {
                        Some(target) => e.with_ref("category", EntityKind::Category, target),
                        None => e,
                    })
                })
                .collect()
        }
        _ => results(env, config, &items)?,
    };
    let next = (at.index < courses.len()).then(|| at.encode());
    Ok(Page {
        entities,
        next,
        total: None,
        ahead: Vec::new(),
    })
}

fn what(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::LineItem => "coursework",
        _ => "student submissions",
    }
}

/// The courses this connector made, every state; a read fails with why
/// they could not be listed.
fn hub_courses(env: &mut dyn Env, config: &Config) -> Result<Vec<String>, PluginError> {
    courses::hub_courses(env, config, &[]).map_err(|e| match e {
        ListError::Answered { error, .. } if error.code == 404 => {
            PluginError::Config(courses::unknown_owner(config, &error))
        }
        e => e.plugin_error(),
    })
}

/// The topic names of the courses of `items` that have coursework under a
/// topic, and of the course the page `resumed` in the middle of: that one
/// as the page before kept it, the others listed (in batches).
fn course_topics(
    env: &mut dyn Env,
    config: &Config,
    items: &[Json],
    resumed: Option<&str>,
) -> Result<CourseTopics, PluginError> {
    let mut needed: Vec<String> = Vec::new();
    for w in items {
        let course = text(w, "courseId");
        if !course.is_empty()
            && !text(w, "topicId").is_empty()
            && !needed.iter().any(|c| c == course)
        {
            needed.push(course.to_string());
        }
    }
    let mut out = CourseTopics::new();
    if let Some(course) = resumed
        && let Some(kept) = kept_topics(env, course)
    {
        out.insert(course.to_string(), kept);
    }
    let missing: Vec<String> = needed
        .into_iter()
        .filter(|c| !out.contains_key(c))
        .collect();
    if missing.is_empty() {
        return Ok(out);
    }
    let mut listed = topics::list_many(env, config, &missing);
    for course in missing {
        let names = match listed.remove(&course) {
            Some(Ok(list)) => list.into_iter().collect(),
            // Deleted in Classroom, or no longer the owner's: the
            // categories are named by topic id.
            Some(Err(ListError::Answered { error, .. }))
                if error.code == 404 || (error.code == 403 && !error.is_scope()) =>
            {
                HashMap::new()
            }
            Some(Err(e)) => return Err(e.plugin_error()),
            None => HashMap::new(),
        };
        out.insert(course, names);
    }
    Ok(out)
}

/// The topics kept for `course` by the page before.
fn kept_topics(env: &dyn Env, course: &str) -> Option<HashMap<String, String>> {
    let kept: Json = serde_json::from_slice(&env.storage_get(TOPICS_KEY)?).ok()?;
    if kept.get("course").and_then(Json::as_str) != Some(course) {
        return None;
    }
    Some(
        kept.get("topics")?
            .as_object()?
            .iter()
            .filter_map(|(id, n)| n.as_str().map(|n| (id.clone(), n.to_string())))
            .collect(),
    )
}

/// Keep the topics of the course the next page goes on with in the middle
/// of (nothing, when they were not listed, so no earlier read's are taken).
fn keep_topics(env: &mut dyn Env, topics: &CourseTopics, at: &Cursor) {
    if at.token.is_none() {
        return;
    }
    let kept = match topics.get(&at.course) {
        Some(names) => serde_json::json!({"course": at.course, "topics": names}),
        None => serde_json::json!({}),
    };
    if let Err(why) = env.storage_set(TOPICS_KEY, kept.to_string().as_bytes()) {
        env.warn(&format!(
            "the topics of course {} could not be kept for the next page ({why}): it lists them again",
            at.course
        ));
    }
}

/// The category target id of a coursework under a topic.
fn category_of(work: &Json, topics: &CourseTopics, district: &BTreeSet<String>) -> Option<String> {
    let (course, topic) = (text(work, "courseId"), text(work, "topicId"));
    if course.is_empty() || topic.is_empty() {
        return None;
    }
    let name = topics
        .get(course)
        .and_then(|t| t.get(topic))
        .map(|n| topic_name(n));
    Some(match name {
        Some(name) if district.contains(&name) => district_target(&name),
        _ => Topic {
            course: course.to_string(),
            id: topic.to_string(),
        }
        .target(),
    })
}

fn text<'a>(j: &'a Json, name: &str) -> &'a str {
    j.get(name).and_then(Json::as_str).unwrap_or("")
}

/// A courseWork as a line item.
pub fn line_item(work: &Json) -> Option<Entity> {
    let id = text(work, "id");
    if id.is_empty() {
        return None;
    }
    // A draft is no assignment yet: it comes once it is published.
    let state = text(work, "state");
    if state == "DRAFT" {
        return None;
    }
    let mut e = Entity::new(EntityKind::LineItem, id)
        .with_text("title", text(work, "title"))
        .with_text("description", text(work, "description"))
        .with_ref("class", EntityKind::Class, text(work, "courseId"));
    if state == "DELETED" {
        e.status = homeroom_sdk::Status::ToBeDeleted;
    }
    if let Some(max) = work.get("maxPoints").and_then(Json::as_f64) {
        e = e.with("resultValueMax", Value::Number(max));
    }
    let assigned = [text(work, "scheduledTime"), text(work, "creationTime")]
        .into_iter()
        .find(|t| !t.is_empty());
    if let Some(at) = assigned {
        e = e.with("assignDate", Value::DateTime(at.to_string()));
    }
    if let Some(due) = due_date(work) {
        e = e.with("dueDate", Value::DateTime(due));
    }
    let updated = text(work, "updateTime");
    if !updated.is_empty() {
        e.date_last_modified = Some(updated.to_string());
    }
    Some(e)
}

/// `dueDate` and `dueTime` (UTC) as RFC 3339.
fn due_date(work: &Json) -> Option<String> {
    let date = work.get("dueDate")?;
    let num = |j: Option<&Json>, k: &str| j.and_then(|j| j.get(k)).and_then(Json::as_i64);
    let (y, m, d) = (
        num(Some(date), "year")?,
        num(Some(date), "month")?,
        num(Some(date), "day")?,
    );
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let time = work.get("dueTime");
    let h = num(time, "hours").unwrap_or(0).clamp(0, 23);
    let min = num(time, "minutes").unwrap_or(0).clamp(0, 59);
    let s = num(time, "seconds").unwrap_or(0).clamp(0, 59);
    Some(format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}Z"))
}

/// The graded submissions as results, students by email.
fn results(
    env: &mut dyn Env,
    config: &Config,
    submissions: &[Json],
) -> Result<Vec<Entity>, PluginError> {
    let graded: Vec<&Json> = submissions
        .iter()
        .filter(|s| s.get("assignedGrade").and_then(Json::as_f64).is_some())
        .filter(|s| !text(s, "id").is_empty() && !text(s, "userId").is_empty())
        .collect();
    let users: Vec<&str> = graded.iter().map(|s| text(s, "userId")).collect();
    let emails = emails(env, config, &users)?;
    let mut out = Vec::new();
    let mut unknown = 0;
    for s in graded {
        let Some(email) = emails.get(text(s, "userId")) else {
            unknown += 1;
            continue;
        };
        let mut e = Entity::new(EntityKind::Result, text(s, "id"))
            .with_ref("lineItem", EntityKind::LineItem, text(s, "courseWorkId"))
            .with_ref("student", EntityKind::User, email.clone())
            .with_ref("class", EntityKind::Class, text(s, "courseId"))
            .with_text("scoreStatus", "fully graded");
        if let Some(score) = s.get("assignedGrade").and_then(Json::as_f64) {
            e = e.with("score", Value::Number(score));
        }
        let updated = text(s, "updateTime");
        if let Some(day) = updated.get(..10) {
            e = e.with("scoreDate", Value::Date(day.to_string()));
            e.date_last_modified = Some(updated.to_string());
        }
        out.push(e);
    }
    if unknown > 0 {
        env.warn(&format!(
            "{unknown} graded submission(s) were left out: Classroom did not give their students' emails (the refresh token needs the classroom.profile.emails scope, and the students must be in the directory)"
        ));
    }
    Ok(out)
}

/// The emails of Classroom user ids: from storage, else `userProfiles.get`
/// in batches (and kept). Users without one are left out of the map.
fn emails(
    env: &mut dyn Env,
    config: &Config,
    users: &[&str],
) -> Result<HashMap<String, String>, PluginError> {
    let mut known = HashMap::new();
    let mut missing: Vec<String> = Vec::new();
    for &user in users {
        if known.contains_key(user) || missing.iter().any(|m| m == user) {
            continue;
        }
        match env
            .storage_get(&format!("email:{user}"))
            .and_then(|v| String::from_utf8(v).ok())
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
        {
            Some(email) => {
                known.insert(user.to_string(), email);
            }
            None => missing.push(user.to_string()),
        }
    }
    let calls: Vec<Call> = missing
        .iter()
        .map(|u| Call::get(format!("/v1/userProfiles/{}", seg(u))))
        .collect();
    let replies = batch::run(env, config, &calls, "reading students' profiles");
    let mut refused = None;
    for (user, reply) in missing.iter().zip(replies) {
        let reply = reply.map_err(Failure::into_plugin_error)?;
        if !reply.ok() {
            let error = reply.error();
            if error.code == 401 || error.is_scope() || error.is_transient() {
                return Err(error.plugin_error("reading students' profiles"));
            }
            refused.get_or_insert_with(|| error.brief());
            continue;
        }
        let Some(email) = reply
            .text("emailAddress")
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
        else {
            continue;
        };
        if let Err(why) = env.storage_set(&format!("email:{user}"), email.as_bytes()) {
            refused.get_or_insert(format!("the email could not be kept: {why}"));
        }
        known.insert(user.clone(), email);
    }
    if let Some(why) = refused {
        env.warn(&format!("some students' profiles could not be read: {why}"));
    }
    Ok(known)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cursors_round_trip() {
        let c = Cursor {
            index: 3,
            course: "123".into(),
            token: Some("abc:def".into()),
        };
        assert_eq!(Cursor::parse(&c.encode()).unwrap(), c);
        let c = Cursor {
            index: 0,
            course: "9".into(),
            token: None,
        };
        assert_eq!(Cursor::parse(&c.encode()).unwrap(), c);
        assert!(Cursor::parse("x").is_err());
        assert!(Cursor::parse("1:2").is_err());
    }

    #[test]
    fn coursework_becomes_a_line_item() {
        let e = line_item(&json!({
            "courseId": "c1", "id": "w1", "title": "Essay", "description": "500 words",
            "state": "PUBLISHED", "maxPoints": 20, "creationTime": "2024-09-01T10:00:00Z",
            "updateTime": "2024-09-02T10:00:00Z",
            "dueDate": {"year": 2024, "month": 9, "day": 9}, "dueTime": {"hours": 23, "minutes": 59}
        }))
        .unwrap();
        assert_eq!(e.source_id, "w1");
        assert_eq!(e.text("title"), Some("Essay"));
        assert_eq!(e.text("dueDate"), Some("2024-09-09T23:59:00Z"));
        assert_eq!(e.text("assignDate"), Some("2024-09-01T10:00:00Z"));
        assert!(matches!(e.get("resultValueMax"), Some(Value::Number(n)) if *n == 20.0));
        assert!(
            matches!(e.get("class"), Some(Value::Reference(r)) if r.kind == EntityKind::Class && r.source_id == "c1")
        );
        assert_eq!(
            e.date_last_modified.as_deref(),
            Some("2024-09-02T10:00:00Z")
        );
        assert!(line_item(&json!({"title": "no id"})).is_none());
        assert!(
            e.get("status").is_none(),
            "the state is the record's status, not an attribute"
        );
        assert!(line_item(&json!({"id": "w2", "state": "DRAFT"})).is_none());
        let gone = line_item(&json!({"id": "w3", "state": "DELETED"})).unwrap();
        assert_eq!(gone.status, homeroom_sdk::Status::ToBeDeleted);
    }
}
