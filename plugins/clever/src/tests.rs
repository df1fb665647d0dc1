//! Native tests of the connector against a fake Clever behind the SDK's
//! `Env`: full reads of every kind, deltas from events with checkpoints,
//! the events window passing, a repeated page, and errors as an admin reads
//! them. The end-to-end tests (tests/tests/clever_connector.rs) run the
//! component in the real host against the mock server.

use std::collections::BTreeMap;

use homeroom_sdk::connector_bindings::homeroom::plugin::http::{HttpError, Request, Response};
use homeroom_sdk::env::Env;
use homeroom_sdk::{Entity, EntityKind, Status, Value};
use serde_json::{Value as Json, json};

use crate::config::Config;
use crate::read;

#[derive(Default)]
struct Fake {
    collections: BTreeMap<String, Vec<Json>>,
    events: Vec<Json>,
    settings: BTreeMap<String, String>,
    storage: BTreeMap<String, Vec<u8>>,
    warnings: Vec<String>,
    urls: Vec<String>,
    /// Answer the next page request with the page before it.
    repeat: usize,
    /// Events at or before this id are gone.
    expired_before: Option<String>,
    status: Option<u16>,
}

fn params(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Fake {
    fn answer(&mut self, url: &str) -> (u16, Json) {
        if let Some(status) = self.status {
            return (status, json!({"message": "invalid token"}));
        }
        let path = url
            .strip_prefix("https://api.clever.com/v3.1/")
            .unwrap_or(url)
            .split('?')
            .next()
            .unwrap_or("")
            .to_string();
        let q = params(url);
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let limit: usize = get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
        let mut after = get("starting_after");
        let (items, all) = if path == "events" {
            let types: Vec<String> = q
                .iter()
                .filter(|(n, _)| n == "record_type")
                .map(|(_, v)| v.clone())
                .collect();
            if get("ending_before").as_deref() == Some("last") {
                let last: Vec<Json> = self.events.last().cloned().into_iter().collect();
                return (
                    200,
                    json!({"data": last.into_iter().map(|e| json!({"data": e})).collect::<Vec<_>>(), "links": []}),
                );
            }
            if let (Some(a), Some(gone)) = (&after, &self.expired_before)
                && a <= gone
            {
                return (404, json!({"message": "starting_after event not found"}));
            }
            let events: Vec<Json> = self
                .events
                .iter()
                .filter(|e| {
                    types.is_empty()
                        || types
                            .iter()
                            .any(|t| e["type"].as_str().unwrap().starts_with(&format!("{t}.")))
                })
                .cloned()
                .collect();
            (events, ())
        } else {
            (self.collections.get(&path).cloned().unwrap_or_default(), ())
        };
        let _ = all;
        if self.repeat > 0 && after.is_some() {
            self.repeat -= 1;
            // Ignore starting_after: the first page again.
            after = None;
        }
        let start = match &after {
            Some(a) => items
                .iter()
                .position(|i| i["id"].as_str().unwrap() > a.as_str())
                .unwrap_or(items.len()),
            None => 0,
        };
        let page: Vec<Json> = items[start..].iter().take(limit).cloned().collect();
        let mut links = vec![json!({"rel": "self", "uri": format!("/v3.1/{path}")})];
        if start + page.len() < items.len() {
            let last = page.last().unwrap()["id"].as_str().unwrap().to_string();
            links.push(json!({"rel": "next", "uri": format!("/v3.1/{path}?limit={limit}&starting_after={last}")}));
        }
        (
            200,
            json!({"data": page.into_iter().map(|r| json!({"data": r})).collect::<Vec<_>>(), "links": links}),
        )
    }
}

impl Env for Fake {
    fn send(&mut self, request: &Request) -> Result<Response, HttpError> {
        self.urls.push(request.url.clone());
        let (status, body) = self.answer(&request.url);
        Ok(Response {
            status,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        })
    }
    fn setting(&self, name: &str) -> Option<String> {
        self.settings.get(name).cloned()
    }
    fn warn(&mut self, message: &str) {
        self.warnings.push(message.to_string());
    }
    fn progress(&mut self, _: u64, _: Option<u64>) {}
    fn storage_get(&self, key: &str) -> Option<Vec<u8>> {
        self.storage.get(key).cloned()
    }
    fn storage_set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        self.storage.insert(key.to_string(), value.to_vec());
        Ok(())
    }
}

fn district() -> Fake {
    let mut f = Fake::default();
    f.collections.insert(
        "districts".into(),
        vec![json!({"id": "d1", "name": "Maplewood"})],
    );
    f.collections.insert(
        "schools".into(),
        vec![
            json!({"id": "s1", "name": "North", "district": "d1", "school_number": "101"}),
            json!({"id": "s2", "name": "South", "district": "d1", "sis_id": "S-2"}),
        ],
    );
    f.collections.insert("terms".into(), vec![json!({"id": "t1", "name": "Fall", "start_date": "2024-08-01T00:00:00.000Z", "end_date": "2024-12-20", "district": "d1"})]);
    f.collections.insert(
        "courses".into(),
        vec![json!({"id": "c1", "name": "Algebra", "number": "MA1", "district": "d1"})],
    );
    f.collections.insert(
        "sections".into(),
        vec![
            json!({"id": "x1", "name": "Algebra 1", "sis_id": "SEC-1", "course": "c1", "school": "s1", "term_id": "t1",
                   "grade": "9", "subject": "math", "period": "2", "teacher": "u3", "teachers": ["u3", "u4"], "students": ["u1", "u2"]}),
            json!({"id": "x2", "name": "Algebra 2", "course": "c1", "school": "s1", "teacher": "u3", "teachers": ["u3"], "students": ["u1"]}),
        ],
    );
    f.collections.insert(
        "users".into(),
        vec![
            json!({"id": "u1", "email": "ann@x.org", "name": {"first": "Ann", "last": "Lee"},
                   "roles": {"student": {"student_number": "1001", "sis_id": "SIS-1", "state_id": "ST1", "grade": "Kindergarten",
                                          "school": "s1", "schools": ["s1"], "credentials": {"district_username": "alee"}}}}),
            json!({"id": "u2", "email": "bo@x.org", "name": {"first": "Bo", "last": "Ng"},
                   "roles": {"student": {"student_number": "1002", "sis_id": "SIS-2", "school": "s1"}}}),
            json!({"id": "u3", "email": "cy@x.org", "name": {"first": "Cy", "last": "Ray"},
                   "roles": {"teacher": {"teacher_number": "T3", "sis_id": "TS-3", "school": "s1", "schools": ["s1", "s2"]},
                             "staff": {"staff_id": "ST-3"}}}),
            json!({"id": "u4", "email": "di@x.org", "name": {"first": "Di", "last": "Fox"},
                   "roles": {"teacher": {"teacher_number": "T4", "sis_id": "TS-4", "school": "s1"}}}),
            json!({"id": "u5", "email": "ed@x.org", "name": {"first": "Ed", "last": "Lee"},
                   "roles": {"contact": {"phone": "555", "student_relationships": [{"student": "u1", "relationship": "Parent", "type": "Parent/Guardian"}]}}}),
        ],
    );
    f.settings.insert("page_size".into(), "2".into());
    f
}

fn read_all(
    f: &mut Fake,
    kind: EntityKind,
    since: Option<&str>,
) -> Result<Vec<Entity>, homeroom_sdk::PluginError> {
    let config = Config::from_env(f)?;
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let page = read::read(f, &config, kind, since, cursor.as_deref())?;
        all.extend(page.entities);
        match page.next {
            Some(n) => cursor = Some(n),
            None => return Ok(all),
        }
    }
    panic!("the read does not end");
}

fn ids(entities: &[Entity]) -> Vec<&str> {
    entities.iter().map(|e| e.source_id.as_str()).collect()
}

fn texts<'a>(e: &'a Entity, name: &str) -> Vec<&'a str> {
    match e.get(name) {
        Some(Value::Texts(t)) => t.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn every_kind_reads_in_full_across_pages() {
    let mut f = district();
    let orgs = read_all(&mut f, EntityKind::Org, None).unwrap();
    assert_eq!(ids(&orgs), ["d1", "s1", "s2"]);
    assert_eq!(orgs[1].text("identifier"), Some("101"));
    assert_eq!(orgs[2].text("identifier"), Some("S-2"));
    let terms = read_all(&mut f, EntityKind::AcademicSession, None).unwrap();
    assert_eq!(
        (terms[0].text("startDate"), terms[0].text("endDate")),
        (Some("2024-08-01"), Some("2024-12-20"))
    );
    let users = read_all(&mut f, EntityKind::User, None).unwrap();
    assert_eq!(ids(&users), ["u1", "u2", "u3", "u4", "u5"]);
    let ann = &users[0];
    assert_eq!(
        ann.text("identifier"),
        Some("1001"),
        "students match by student id by default"
    );
    assert_eq!(
        texts(ann, "userIds"),
        ["clever:u1", "sis:SIS-1", "student_id:1001", "state_id:ST1"]
    );
    assert_eq!(
        (ann.text("role"), ann.text("username")),
        (Some("student"), Some("alee"))
    );
    assert_eq!(texts(ann, "grades"), ["KG"]);
    let cy = &users[2];
    assert_eq!(
        cy.text("identifier"),
        Some("cy@x.org"),
        "teachers match by email by default"
    );
    assert_eq!(texts(cy, "roles"), ["teacher", "administrator"]);
    assert!(matches!(cy.get("orgs"), Some(Value::References(r)) if r.len() == 2));
    let ed = &users[4];
    assert_eq!(ed.text("role"), Some("parent"));
    assert!(matches!(ed.get("agents"), Some(Value::References(r)) if r[0].source_id == "u1"));
    let classes = read_all(&mut f, EntityKind::Class, None).unwrap();
    assert_eq!(classes[0].text("classCode"), Some("Algebra 1"));
    assert_eq!(texts(&classes[0], "grades"), ["09"]);
    let enrollments = read_all(&mut f, EntityKind::Enrollment, None).unwrap();
    assert_eq!(
        ids(&enrollments),
        [
            "x1-student-u1",
            "x1-student-u2",
            "x1-teacher-u3",
            "x1-teacher-u4",
            "x2-student-u1",
            "x2-teacher-u3"
        ]
    );
    assert!(matches!(
        enrollments[2].get("primary"),
        Some(Value::Boolean(true))
    ));
    assert!(matches!(
        enrollments[3].get("primary"),
        Some(Value::Boolean(false))
    ));
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    // Page size 2: three pages of users, each asking after the last id.
    assert!(
        f.urls
            .iter()
            .any(|u| u.ends_with("/users?limit=2&starting_after=u4")),
        "{:?}",
        f.urls
    );
}

#[test]
fn matching_settings_choose_identifiers_and_class_codes() {
    let mut f = district();
    f.settings
        .insert("match_students_by".into(), "sis id".into());
    f.settings
        .insert("match_teachers_by".into(), "clever id".into());
    f.settings
        .insert("match_sections_by".into(), "sis id".into());
    f.settings
        .insert("map_student_id_onto".into(), "sis id".into());
    let users = read_all(&mut f, EntityKind::User, None).unwrap();
    assert_eq!(users[0].text("identifier"), Some("SIS-1"));
    assert_eq!(
        texts(&users[0], "userIds"),
        ["clever:u1", "sis:1001", "clever_sis:SIS-1", "state_id:ST1"]
    );
    assert_eq!(users[3].text("identifier"), Some("u4"));
    let classes = read_all(&mut f, EntityKind::Class, None).unwrap();
    assert_eq!(classes[0].text("classCode"), Some("SEC-1"));
    assert_eq!(
        classes[1].text("classCode"),
        None,
        "a section without sis id has no class code"
    );
}

fn event(id: &str, kind: &str, created: &str, object: Json, previous: Option<Json>) -> Json {
    let mut e = json!({"id": id, "type": kind, "created": created, "data": {"object": object}});
    if let Some(p) = previous {
        e["previous_attributes"] = p;
    }
    e
}

#[test]
fn a_delta_reads_the_events_after_the_last_committed_run() {
    let mut f = district();
    f.events.push(event(
        "e01",
        "users.created",
        "2024-09-01T00:00:00Z",
        json!({"id": "u0"}),
        None,
    ));
    // The full import (began 2024-09-02) keeps the newest event for each kind.
    read_all(&mut f, EntityKind::User, None).unwrap();
    read_all(&mut f, EntityKind::Enrollment, None).unwrap();
    f.events.push(event("e02", "users.updated", "2024-09-03T00:00:00Z",
        json!({"id": "u1", "email": "ann.lee@x.org", "name": {"first": "Ann"}, "roles": {"student": {"student_number": "1001"}}}), None));
    f.events.push(event(
        "e03",
        "users.deleted",
        "2024-09-03T00:01:00Z",
        json!({"id": "u2", "roles": {"student": {}}}),
        None,
    ));
    f.events.push(event("e04", "sections.updated", "2024-09-03T00:02:00Z",
        json!({"id": "x1", "school": "s1", "teacher": "u3", "teachers": ["u3"], "students": ["u1", "u6"]}),
        Some(json!({"students": ["u1", "u2"], "teachers": ["u3", "u4"]}))));
    f.events.push(event("e05", "users.created", "2024-09-03T00:03:00Z",
        json!({"id": "u6", "name": {"first": "Flo"}, "roles": {"student": {"student_number": "1006"}}}), None));
    let since = "2024-09-02T00:00:00Z";
    let users = read_all(&mut f, EntityKind::User, Some(since)).unwrap();
    assert_eq!(ids(&users), ["u1", "u2", "u6"]);
    assert_eq!(users[0].text("email"), Some("ann.lee@x.org"));
    assert_eq!(
        (users[1].status, users[2].status),
        (Status::ToBeDeleted, Status::Active)
    );
    assert!(
        f.urls
            .iter()
            .any(|u| u.contains("events?limit=2&starting_after=e01&record_type=users")),
        "{:?}",
        f.urls
    );
    let enrollments = read_all(&mut f, EntityKind::Enrollment, Some(since)).unwrap();
    let by_status = |s: Status| -> Vec<&str> {
        enrollments
            .iter()
            .filter(|e| e.status == s)
            .map(|e| e.source_id.as_str())
            .collect()
    };
    assert_eq!(
        by_status(Status::Active),
        ["x1-student-u1", "x1-student-u6", "x1-teacher-u3"]
    );
    assert_eq!(
        by_status(Status::ToBeDeleted),
        ["x1-student-u2", "x1-teacher-u4"]
    );

    // That quick run was never committed: the next one, with the same
    // `since`, reads the same events again.
    let again = read_all(&mut f, EntityKind::User, Some(since)).unwrap();
    assert_eq!(ids(&again), ["u1", "u2", "u6"]);
    // Once it is, the next starts after what it read.
    assert!(
        read_all(&mut f, EntityKind::User, Some("2024-09-04T00:00:00Z"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn changes_to_sync_leave_actions_out() {
    let mut f = district();
    f.settings.insert("changes".into(), "adds".into());
    read_all(&mut f, EntityKind::User, None).unwrap();
    f.events.push(event(
        "e02",
        "users.updated",
        "2024-09-03T00:00:00Z",
        json!({"id": "u1", "roles": {"student": {}}}),
        None,
    ));
    f.events.push(event(
        "e03",
        "users.deleted",
        "2024-09-03T00:01:00Z",
        json!({"id": "u2", "roles": {"student": {}}}),
        None,
    ));
    f.events.push(event(
        "e04",
        "users.created",
        "2024-09-03T00:02:00Z",
        json!({"id": "u7", "roles": {"teacher": {}}}),
        None,
    ));
    let users = read_all(&mut f, EntityKind::User, Some("2024-09-02T00:00:00Z")).unwrap();
    assert_eq!(ids(&users), ["u7"]);
}

#[test]
fn a_passed_events_window_reads_everything_and_says_so() {
    let mut f = district();
    f.events.push(event(
        "e01",
        "users.created",
        "2024-09-01T00:00:00Z",
        json!({"id": "u1"}),
        None,
    ));
    read_all(&mut f, EntityKind::User, None).unwrap();
    f.expired_before = Some("e01".into());
    let users = read_all(&mut f, EntityKind::User, Some("2024-10-30T00:00:00Z")).unwrap();
    assert_eq!(users.len(), 5, "a full resync");
    assert!(
        f.warnings
            .iter()
            .any(|w| w.contains("events window has passed") && w.contains("full resync")),
        "{:?}",
        f.warnings
    );

    // Never a full import: no checkpoint, so everything too.
    let mut f = district();
    let users = read_all(&mut f, EntityKind::User, Some("2024-10-30T00:00:00Z")).unwrap();
    assert_eq!(users.len(), 5);
    assert!(
        f.warnings[0].contains("no Clever event was recorded"),
        "{:?}",
        f.warnings
    );
}

#[test]
fn a_repeated_page_is_asked_again_then_refused() {
    let mut f = district();
    f.repeat = 1;
    let users = read_all(&mut f, EntityKind::User, None).unwrap();
    assert_eq!(ids(&users), ["u1", "u2", "u3", "u4", "u5"]);
    assert!(
        f.warnings[0].contains("asking once more"),
        "{:?}",
        f.warnings
    );
    let mut f = district();
    f.repeat = 2;
    let err = read_all(&mut f, EntityKind::User, None).unwrap_err();
    assert!(
        err.message().contains("ignores `starting_after`"),
        "{}",
        err.message()
    );
}

#[test]
fn a_refused_token_says_what_to_do() {
    let mut f = district();
    f.status = Some(401);
    let err = read_all(&mut f, EntityKind::User, None).unwrap_err();
    assert!(matches!(err, homeroom_sdk::PluginError::Auth(_)));
    assert!(
        err.message().contains("copy the token again") && err.message().contains("invalid token"),
        "{}",
        err.message()
    );
}

#[test]
fn broken_bodies_are_refused_with_the_page_named() {
    let response = Response {
        status: 200,
        headers: Vec::new(),
        body: br#"{"data": [{"data": {"id": "#.to_vec(),
    };
    let err = crate::fetch::list(
        "https://api.clever.com/v3.1/users",
        "reading users after u2",
        &response,
    )
    .unwrap_err();
    assert!(
        err.message().contains("reading users after u2")
            && err.message().contains("not valid JSON"),
        "{}",
        err.message()
    );
    let response = Response {
        status: 200,
        headers: Vec::new(),
        body: br#"{"users": []}"#.to_vec(),
    };
    assert!(
        crate::fetch::list("u", "d", &response)
            .unwrap_err()
            .message()
            .contains("no `data` list")
    );
}

#[test]
fn the_connection_test_names_the_district_and_its_schools() {
    let mut f = district();
    let config = Config::from_env(&f).unwrap();
    let said = read::test_connection(&mut f, &config).unwrap();
    assert_eq!(
        said,
        "Clever v3.1 at https://api.clever.com/v3.1: Maplewood, 2 schools; events: available for quick imports"
    );
    let schools = read::list_schools(&mut f, &config).unwrap();
    assert_eq!(schools[0].identifier.as_deref(), Some("101"));
}
